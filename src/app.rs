//! What each command does, between the parsed command line and the library: resolve accounts,
//! list, render, and turn outcomes into exit codes. stdout is data, stderr is talk.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::cli::{self, Cli, ColorWhen, Command, Format as CliFormat, GlobalArgs, Selection};
use crate::config::{self, Account};
use crate::error::{Error, ErrorKind, Result};
use crate::filter::{Filter, NameGlob, SortKey};
use crate::http::{Http, HttpOptions, RetryPolicy};
use crate::model::{ProviderId, Status};
use crate::providers::{self, ListOptions};
use crate::render::{self, Format, Options};

/// Runs a parsed command line; returns the exit code for a run that completed.
pub fn run(cli: Cli) -> Result<u8> {
    init_logging(cli.global.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    runtime.block_on(dispatch(cli))
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}

async fn dispatch(cli: Cli) -> Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::List(args) => list(g, args).await,
        Command::Audit(args) => crate::audit::run(g, args).await,
        Command::Accounts(args) => accounts(g, args).await,
        Command::Providers(args) => providers_table(args),
        Command::Emulator(args) => emulator(args).await,
        Command::Completions { shell } => {
            let mut out = io::stdout().lock();
            cli::completions(*shell, &mut out);
            out.flush()?;
            Ok(0)
        }
        Command::Man => {
            let mut out = io::stdout().lock();
            cli::man(&mut out)?;
            out.flush()?;
            Ok(0)
        }
    }
}

/// "Now": the clock, or `BACKUPS_NOW` (RFC 3339) so tests and golden files can pin it.
pub fn now() -> DateTime<Utc> {
    std::env::var("BACKUPS_NOW")
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// The shared client for these global flags.
pub fn http_client(g: &GlobalArgs) -> Result<Http> {
    Http::new(HttpOptions {
        timeout: Duration::from_secs(g.timeout),
        retry: RetryPolicy {
            max_tries: g.retries + 1,
            ..RetryPolicy::default()
        },
        ..HttpOptions::default()
    })
}

/// The accounts to use: the demo emulator's, or the config file's; then narrowed by
/// `--provider` and `--account`. The emulator handle, if any, must outlive the listing.
pub async fn resolve_accounts(
    g: &GlobalArgs,
    sel: &Selection,
) -> Result<(Vec<Account>, Option<EmulatorHandle>)> {
    let (all, emulator, source) = if g.demo {
        let (accounts, emu) = start_demo().await?;
        (accounts, Some(emu), "the demo".to_string())
    } else {
        let env = |k: &str| std::env::var(k).ok();
        let (path, explicit) = config::config_path(g.config.as_deref(), &env).ok_or_else(|| {
            Error::config("no config file: set --config, $BACKUPS_CONFIG or $HOME")
        })?;
        let mut cfg = config::load(&path, explicit, &env)?;
        // Credentials users already have, for providers the config does not cover.
        let configured: Vec<ProviderId> = cfg.accounts.iter().map(Account::provider).collect();
        cfg.accounts
            .extend(config::env_accounts(&configured, &env)?);
        if cfg.accounts.is_empty() {
            return Err(Error::config(format!(
                "no accounts configured in {} (see the README for the format), or try `backups list --demo`",
                path.display()
            )));
        }
        (cfg.accounts, None, path.display().to_string())
    };
    let accounts = select_accounts(all, sel, &source)?;
    Ok((accounts, emulator))
}

#[cfg(feature = "emulator")]
/// Keeps the in-process demo emulator running.
pub type EmulatorHandle = crate::emulator::Emulator;
#[cfg(not(feature = "emulator"))]
/// Built without the emulator: there is never one running.
pub type EmulatorHandle = std::convert::Infallible;

/// Starts the in-process emulator and returns its demo accounts.
#[cfg(feature = "emulator")]
async fn start_demo() -> Result<(Vec<Account>, EmulatorHandle)> {
    let emu = crate::emulator::Emulator::start(crate::emulator::EmulatorOptions {
        now: now(),
        ..Default::default()
    })
    .await?;
    Ok((emu.accounts()?, emu))
}

#[cfg(not(feature = "emulator"))]
async fn start_demo() -> Result<(Vec<Account>, EmulatorHandle)> {
    Err(Error::usage(
        "--demo needs the `emulator` feature (built without it)",
    ))
}

/// Narrows accounts by `--provider` and `--account`; unknown names are usage errors.
fn select_accounts(all: Vec<Account>, sel: &Selection, source: &str) -> Result<Vec<Account>> {
    let mut providers = Vec::new();
    for p in &sel.providers {
        let p = p.trim();
        if p.eq_ignore_ascii_case("all") {
            providers.extend(ProviderId::ALL);
            continue;
        }
        providers.push(ProviderId::parse(p).ok_or_else(|| {
            Error::usage(format!(
                "--provider `{p}`: unknown provider (valid: oracle, zcom, huawei, cf, bycloud, all)"
            ))
        })?);
    }
    for name in &sel.accounts {
        if !all.iter().any(|a| &a.name == name) {
            let known: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
            return Err(Error::usage(format!(
                "--account `{name}`: no such account in {source} (known: {})",
                known.join(", ")
            )));
        }
    }
    let chosen: Vec<Account> = all
        .into_iter()
        .filter(|a| providers.is_empty() || providers.contains(&a.provider()))
        .filter(|a| sel.accounts.is_empty() || sel.accounts.contains(&a.name))
        .collect();
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "no account in {source} matches the selection (--provider {} --account {})",
            display_list(&sel.providers),
            display_list(&sel.accounts)
        )));
    }
    Ok(chosen)
}

fn display_list(items: &[String]) -> String {
    if items.is_empty() {
        "any".into()
    } else {
        items.join(",")
    }
}

/// Builds the row filter from the selection flags.
pub fn build_filter(sel: &Selection, now: DateTime<Utc>) -> Result<Filter> {
    let mut statuses = Vec::new();
    for s in &sel.statuses {
        let st = Status::parse(s).ok_or_else(|| {
            Error::usage(format!(
                "--status `{s}`: unknown status (valid: {})",
                Status::ALL.map(|s| s.as_str()).join(", ")
            ))
        })?;
        if !statuses.contains(&st) {
            statuses.push(st);
        }
    }
    let since = sel
        .since
        .as_deref()
        .map(|s| parse_time("--since", s, now))
        .transpose()?;
    let until = sel
        .until
        .as_deref()
        .map(|s| parse_time("--until", s, now))
        .transpose()?;
    if let (Some(a), Some(b)) = (since, until) {
        if a > b {
            return Err(Error::usage(
                "--since is later than --until: nothing could match",
            ));
        }
    }
    Ok(Filter {
        statuses,
        since,
        until,
        name: sel.name.as_deref().map(NameGlob::new).transpose()?,
        resource: sel.resource.clone().filter(|r| !r.trim().is_empty()),
    })
}

/// A time bound: RFC 3339, a date (midnight UTC), or an age before `now` (`36h`, `7d`).
pub fn parse_time(flag: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    if let Some(age) = crate::duration::parse(s) {
        return now
            .checked_sub_signed(age)
            .ok_or_else(|| Error::usage(format!("{flag} `{s}`: too far in the past")));
    }
    Err(Error::usage(format!(
        "{flag} `{s}`: not a time (use RFC 3339 like 2024-01-15T10:30:00Z, a date, or an age like 36h, 7d)"
    )))
}

/// Whether to colour stdout: `--no-color`, `NO_COLOR` and pipes turn it off.
fn use_color(g: &GlobalArgs) -> bool {
    if g.no_color {
        return false;
    }
    match g.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    }
}

/// The table width: `COLUMNS`, else the terminal's, else none (no wrapping in a pipe).
fn table_width() -> Option<u16> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
    {
        return Some(n.max(20));
    }
    if io::stdout().is_terminal() {
        return render::terminal_width();
    }
    None
}

fn format_of(f: Option<CliFormat>) -> Format {
    match f {
        Some(CliFormat::Table) => Format::Table,
        Some(CliFormat::Json) => Format::Json,
        Some(CliFormat::Ndjson) => Format::Ndjson,
        Some(CliFormat::Csv) => Format::Csv,
        Some(CliFormat::Tsv) => Format::Tsv,
        None if io::stdout().is_terminal() => Format::Table,
        None => Format::Tsv,
    }
}

async fn list(g: &GlobalArgs, args: &cli::ListArgs) -> Result<u8> {
    let now = now();
    // Validate every flag before any network traffic.
    let filter = build_filter(&args.selection, now)?;
    let sort = args
        .sort
        .as_deref()
        .map(SortKey::parse)
        .transpose()?
        .unwrap_or(SortKey::DEFAULT);
    let format = format_of(args.output);
    let columns = render::parse_columns(&args.columns, format)?;
    if columns.is_some() && matches!(format, Format::Json | Format::Ndjson) {
        return Err(Error::usage(
            "--columns applies to table, csv and tsv; json always has every field",
        ));
    }
    let (accounts, _emulator) = resolve_accounts(g, &args.selection).await?;
    let http = http_client(g)?;
    let progress = (format == Format::Table && io::stderr().is_terminal())
        .then(|| std::sync::Arc::new(providers::Progress::default()));
    let options = ListOptions {
        max_pages: args.max_pages.get(),
        parallel: usize::from(args.parallel),
        progress: progress.clone(),
    };
    // ndjson with no sort or limit asked for streams rows as pages arrive, in bounded
    // memory; everything else needs all rows first.
    if format == Format::Ndjson && args.sort.is_none() && args.limit.is_none() {
        // A few pages of slack: enough to keep the writer busy, little enough to bound memory.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let writer = std::thread::spawn(move || write_stream(rx));
        let results = providers::run_all_into(&http, &accounts, &filter, &options, Some(tx)).await;
        let failures: Vec<Error> = results.into_iter().filter_map(|r| r.result.err()).collect();
        let written = writer
            .join()
            .map_err(|_| Error::new(ErrorKind::Io, "the output thread failed"))?;
        match written {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(0),
            other => other?,
        }
        report_failures(&failures);
        return Ok(if failures.is_empty() { 0 } else { 3 });
    }
    let ticker = progress
        .clone()
        .map(|p| tokio::spawn(show_progress(p, accounts.len())));
    let results = providers::run_all(&http, &accounts, &filter, &options).await;
    if let Some(t) = ticker {
        t.abort();
        let _ = t.await;
        if progress.is_some_and(|p| p.drawn.load(std::sync::atomic::Ordering::Relaxed)) {
            eprint!("\r\x1b[2K");
        }
    }
    // One vector for all rows, sized once: at 100k rows a copy per account, or the doubling
    // of a growing vector, would hold tens of MiB twice.
    let total: usize = results
        .iter()
        .map(|r| r.result.as_ref().map_or(0, Vec::len))
        .sum();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r.result {
            Ok(v) if rows.is_empty() && v.len() == total => rows = v,
            Ok(v) => {
                rows.reserve_exact(total - rows.len());
                rows.extend(v);
            }
            Err(e) => failures.push(e),
        }
    }
    sort.sort(&mut rows);
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    let opts = Options {
        format,
        columns,
        width: table_width(),
        color: use_color(g),
        now,
    };
    {
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        render::render(&mut out, &rows, &opts)?;
        out.flush()?;
    }
    if rows.is_empty() && format == Format::Table {
        eprintln!("backups: no backups found");
    }
    report_failures(&failures);
    Ok(if failures.is_empty() { 0 } else { 3 })
}

/// Writes streamed rows as JSON lines until every sender is gone; flushes per page so a
/// reader sees rows as they arrive. Stops reading (and so stops the output) on a write error.
fn write_stream(mut rx: tokio::sync::mpsc::Receiver<Vec<crate::model::Backup>>) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    while let Some(rows) = rx.blocking_recv() {
        for row in &rows {
            render::write_ndjson_row(&mut out, row)?;
        }
        out.flush()?;
    }
    Ok(())
}

/// After a second, a one-line progress display on stderr (a terminal only; the caller checks),
/// redrawn until aborted.
async fn show_progress(p: std::sync::Arc<providers::Progress>, accounts: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spinner = ['|', '/', '-', '\\'];
    p.drawn.store(true, Relaxed);
    for i in 0.. {
        eprint!(
            "\r\x1b[2K{} listing: {} of {accounts} accounts done, {} backups so far",
            spinner[i % spinner.len()],
            p.accounts_done.load(Relaxed),
            p.rows.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
}

/// One stderr line per failed account (spec §6).
pub fn report_failures(failures: &[Error]) {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for f in failures {
        let _ = writeln!(err, "backups: {f}");
    }
}

async fn accounts(g: &GlobalArgs, args: &cli::AccountsArgs) -> Result<u8> {
    let (accounts, _emulator) = resolve_accounts(g, &Selection::default()).await?;
    let json = matches!(args.output, Some(CliFormat::Json | CliFormat::Ndjson));
    let mut failures = Vec::new();
    let mut checks: Vec<Option<std::result::Result<(), String>>> = vec![None; accounts.len()];
    if args.check {
        let http = http_client(g)?;
        let filter = Filter::default();
        let options = ListOptions {
            max_pages: 1,
            parallel: 1,
            progress: None,
        };
        let futures = accounts
            .iter()
            .map(|a| providers::check(&http, a, &filter, &options));
        for (i, r) in futures_util::future::join_all(futures)
            .await
            .into_iter()
            .enumerate()
        {
            checks[i] = Some(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            if let Err(e) = r {
                failures.push(e);
            }
        }
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if json {
        let arr: Vec<serde_json::Value> = accounts
            .iter()
            .zip(&checks)
            .map(|(a, check)| {
                let secrets: serde_json::Map<String, serde_json::Value> = a
                    .secret_sources
                    .iter()
                    .map(|(k, s)| (k.clone(), serde_json::Value::String(s.to_string())))
                    .collect();
                let mut v = serde_json::json!({
                    "name": a.name,
                    "provider": a.provider().as_str(),
                    "endpoint": a.endpoint(),
                    "origin": a.origin.to_string(),
                    "secrets": secrets,
                });
                if let Some(c) = check {
                    v["check"] = match c {
                        Ok(()) => "ok".into(),
                        Err(e) => e.clone().into(),
                    };
                }
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &arr).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        let mut header = vec!["NAME", "PROVIDER", "ENDPOINT", "SECRETS", "ORIGIN"];
        if args.check {
            header.push("CHECK");
        }
        let rows: Vec<Vec<String>> = accounts
            .iter()
            .zip(&checks)
            .map(|(a, check)| {
                let secrets = if a.secret_sources.is_empty() {
                    "-".to_string()
                } else {
                    a.secret_sources
                        .iter()
                        .map(|(k, s)| format!("{k}: {s}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut row = vec![
                    a.name.clone(),
                    a.provider().to_string(),
                    a.endpoint(),
                    secrets,
                    a.origin.to_string(),
                ];
                if let Some(c) = check {
                    row.push(match c {
                        Ok(()) => "ok".into(),
                        Err(_) => "FAILED".into(),
                    });
                }
                row
            })
            .collect();
        render::simple_table(&mut out, &header, &rows, None)?;
    }
    out.flush()?;
    drop(out);
    report_failures(&failures);
    Ok(if failures.is_empty() { 0 } else { 3 })
}

fn providers_table(args: &cli::ProvidersArgs) -> Result<u8> {
    let caps = providers::capabilities();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if matches!(args.output, Some(CliFormat::Json | CliFormat::Ndjson)) {
        let arr: Vec<serde_json::Value> = caps
            .iter()
            .map(|c| {
                serde_json::json!({
                    "provider": c.provider.as_str(),
                    "auth": c.auth,
                    "filters": c.filters,
                    "paging": c.paging,
                    "fields": c.fields,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &arr).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        let rows: Vec<Vec<String>> = caps
            .iter()
            .map(|c| {
                vec![
                    c.provider.to_string(),
                    c.auth.join(", "),
                    if c.filters.is_empty() {
                        "-".into()
                    } else {
                        c.filters.join(", ")
                    },
                    c.paging.to_string(),
                    never_filled(c.fields),
                ]
            })
            .collect();
        render::simple_table(
            &mut out,
            &[
                "PROVIDER",
                "AUTH",
                "SERVER FILTERS",
                "PAGING",
                "ALWAYS NULL",
            ],
            &rows,
            table_width(),
        )?;
    }
    out.flush()?;
    Ok(0)
}

/// The model fields a provider never fills (`provider` and `account` always are).
fn never_filled(fields: &[crate::model::Field]) -> String {
    use crate::model::Field;
    let missing: Vec<&str> = Field::ALL
        .into_iter()
        .filter(|f| ![Field::Provider, Field::Account].contains(f) && !fields.contains(f))
        .map(Field::as_str)
        .collect();
    if missing.is_empty() {
        "-".into()
    } else {
        missing.join(", ")
    }
}

#[cfg(feature = "emulator")]
async fn emulator(args: &cli::EmulatorArgs) -> Result<u8> {
    use crate::emulator::{Emulator, EmulatorOptions};
    let emu = Emulator::start(EmulatorOptions {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        scale: args.scale,
        faults: args.faults,
        now: now(),
        ..Default::default()
    })
    .await?;
    if let Some(path) = &args.write_config {
        write_private(path, &emu.config_toml())
            .map_err(|e| Error::usage(format!("--write-config {}: {e}", path.display())))?;
    }
    // The URLs go to stdout; a reader that takes only the first line (`| head -1`) and
    // closes the pipe must not stop the emulator, so write errors are ignored here.
    let _ = (|| -> io::Result<()> {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        writeln!(out, "{}", emu.base)?;
        writeln!(out, "oracle  {}", emu.urls.oracle)?;
        writeln!(
            out,
            "zcom    {}v2.0 (identity), {}v2 (compute)",
            emu.urls.zcom, emu.urls.zcom
        )?;
        writeln!(out, "huawei  {}", emu.urls.huawei)?;
        writeln!(out, "cf      {}", emu.urls.cf)?;
        writeln!(out, "bycloud {}", emu.urls.bycloud)?;
        out.flush()
    })();
    eprintln!("backups: emulator running; press Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    Ok(0)
}

/// Writes a file only its owner can read: it holds (demo) credentials.
#[cfg(feature = "emulator")]
fn write_private(path: &std::path::Path, text: &str) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(feature = "emulator"))]
async fn emulator(_args: &cli::EmulatorArgs) -> Result<u8> {
    Err(Error::usage(
        "this build has no emulator (the `emulator` feature is off)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds() {
        let now: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_time("--since", "36h", now).unwrap().to_rfc3339(),
            "2026-11-22T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("--since", "7d", now).unwrap().to_rfc3339(),
            "2026-11-16T12:00:00+00:00"
        );
        assert_eq!(
            parse_time("--since", "2026-11-01T01:00:00+01:00", now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("--until", "2026-11-01", now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        let err = parse_time("--since", "yesterday", now).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .starts_with("--since `yesterday`: not a time"),
            "{err}"
        );
    }

    #[test]
    fn unknown_status_lists_valid_ones() {
        let sel = Selection {
            statuses: vec!["failed".into()],
            ..Selection::default()
        };
        let err = build_filter(&sel, Utc::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--status `failed`: unknown status (valid: available, creating, restoring, deleting, deleted, cancelled, error, unknown)"
        );
    }
}
