//! `backups exporter`: a long-running server for Prometheus
//! (`docs/monitoring.md#backups-exporter`). It lists the selected accounts at start and then every
//! `--interval` in the background, and serves the latest figures at `GET /metrics` (the families of
//! `audit -o prometheus`) and a short page at `GET /`. A scrape only reads what the last listing
//! left, so Prometheus's scrape interval never multiplies the requests the clouds see. A failed
//! account keeps its last good figures, still ageing ([`Tracker`]). SIGTERM or SIGINT stops it at
//! once, exit 0.

use std::future::{Future, IntoFuture};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use super::context::{write_stdout, Accounts, Context};
use super::record::{self, Recording};
use crate::audit::{Policy, PolicyLayer};
use crate::cli::{ExporterArgs, Selection};
use crate::error::Outcome;
use crate::filter::Filter;
use crate::http::Http;
use crate::monitor::exposition;
use crate::monitor::metrics::{self, Tracker};
use crate::providers::{self, Deadline};

/// What the handlers serve: the latest exposition, swapped whole after each listing.
#[derive(Clone)]
struct Served {
    latest: Arc<RwLock<Arc<String>>>,
    index: Arc<String>,
}

/// Runs `backups exporter` until SIGTERM or SIGINT.
pub(crate) async fn run(ctx: &Context, args: &ExporterArgs) -> anyhow::Result<Outcome> {
    let filter = ctx.filter(&args.selection)?;
    let accounts = ctx.accounts(&args.selection).await?;
    // `[inventory] record = true`: every listing is recorded (`docs/cli.md#the-inventory`), whole
    // accounts only.
    let row_filter = record::row_filter_flag(&args.selection, None);
    let recording = Recording::for_exporter(&accounts.inventory, row_filter)?;
    let http = ctx.http()?;
    let policy = Policy {
        flags: PolicyLayer {
            max_age: args.max_age,
            keep: args.keep,
            expect: args.expect.clone(),
        },
        file: accounts.audit.policy.clone(),
        account_names: accounts.names.clone(),
        resource: filter.resource.clone(),
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // Before the URL is printed: whoever reads it may signal at once.
    let stop = stop_signal()?;
    let before = exposition::to_string(&metrics::before_first_listing());
    let served = Served {
        latest: Arc::new(RwLock::new(Arc::new(before))),
        index: Arc::new(index_page(accounts.list.len(), args.interval)),
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics_page))
        .with_state(served.clone());
    write_stdout(|out| writeln!(out, "http://{addr}"))?;
    let lister = lister(
        ctx,
        (&accounts, recording),
        &http,
        (&filter, &args.selection),
        &policy,
        args.interval,
        &served.latest,
    );
    tokio::select! {
        served = axum::serve(listener, app).into_future() => served.context("serving /metrics")?,
        () = lister => {}
        () = stop => tracing::info!("stopping on a signal"),
    }
    Ok(Outcome::Success)
}

/// Lists the accounts now and then every `interval` (between the starts of two listings;
/// one that takes longer is followed at once by the next), and puts each result in `latest`.
/// Each listing is a run of its own: one limiter shared by its accounts (`--max-requests`),
/// and `--deadline` counted from its start.
async fn lister(
    ctx: &Context,
    (accounts, mut recording): (&Accounts, Option<Recording>),
    http: &Http,
    (filter, selection): (&Filter, &Selection),
    policy: &Policy,
    interval: Duration,
    latest: &RwLock<Arc<String>>,
) {
    // The exporter's clock: `now` (pinned by BACKUPS_NOW in tests) moving on with time.
    let since = Instant::now();
    let clock = || ctx.now + chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
    let base = ctx.list_options(&accounts.defaults);
    let mut tracker = Tracker::new(accounts.list.clone());
    let accounts = &accounts.list;
    loop {
        let started = Instant::now();
        // `--since 7d` means seven days before this listing, not before the start.
        let mut filter = filter.clone();
        let now = clock();
        if let Some(b) = selection.since {
            filter.since = b.resolve(now).or(filter.since);
        }
        if let Some(b) = selection.until {
            filter.until = b.resolve(now).or(filter.until);
        }
        let options = providers::ListOptions {
            deadline: base.deadline.and_then(|d| Deadline::after(d.after)),
            ..base.clone()
        };
        let mut results = providers::run_all(http, accounts, &filter, &options).await;
        let took = started.elapsed();
        let finished = clock();
        // With `[inventory] record = true`, each listing is recorded (`docs/cli.md#the-inventory`),
        // on a blocking thread so that scrapes are answered meanwhile.
        if let Some(rec) = recording.take() {
            let (rec, listed, recorded) = rec
                .record_all_in_background(accounts.to_vec(), results, finished)
                .await;
            (recording, results) = (Some(rec), listed);
            ctx.report_failures(&recorded.errors);
        }
        let (families, failures) = tracker.update(results, policy, finished, took);
        let text = Arc::new(exposition::to_string(&families));
        *latest.write().unwrap_or_else(PoisonError::into_inner) = text;
        tracing::info!(
            "listed {} accounts in {} ms ({} failed)",
            accounts.len(),
            took.as_millis(),
            failures.len()
        );
        ctx.report_failures(&failures);
        tokio::time::sleep_until((started + interval).into()).await;
    }
}

/// `GET /metrics`: the latest exposition, never a new listing.
async fn metrics_page(State(served): State<Served>) -> impl IntoResponse {
    let body = served
        .latest
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    (
        [(header::CONTENT_TYPE, exposition::CONTENT_TYPE)],
        body.as_str().to_owned(),
    )
}

/// `GET /`: a page that links to the metrics.
async fn index(State(served): State<Served>) -> Html<String> {
    Html(served.index.as_str().to_owned())
}

fn index_page(accounts: usize, interval: Duration) -> String {
    let every = crate::duration::human(chrono::Duration::from_std(interval).unwrap_or_default());
    let s = if accounts == 1 { "" } else { "s" };
    format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>backups exporter</title></head>\n\
         <body>\n<h1>backups exporter</h1>\n<p>backups {} lists {accounts} account{s} every {every}.</p>\n\
         <p><a href=\"/metrics\">Metrics</a></p>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// A future that completes on SIGTERM or SIGINT; the handlers are in place when it returns.
fn stop_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
