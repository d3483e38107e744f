//! `backups audit`: list every selected account, judge each resource ([`crate::audit`]) and
//! print the findings; the exit code says whether something is wrong. Silent when healthy
//! unless stdout is a terminal, so cron mails only when something is wrong. With an
//! inventory (`--record`, `--inventory`, `[inventory] record = true`) it also reports the
//! backups that vanished early since the last recorded listing ([`record`]).
//!
//! It also feeds the monitoring systems of `docs/monitoring.md` ([`crate::monitor`]): `-o
//! prometheus` and `--textfile PATH` (the Prometheus text format), `-o nagios` (a Monitoring
//! Plugins check, whose exit code is its state and whose errors are UNKNOWN on stdout), and
//! `--ping` (a healthchecks.io dead man's switch around the whole run).

use std::borrow::Cow;
use std::io::Write;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::context::{write_stdout, Accounts, Context};
use super::record::{self, Recorded, Recording};
use crate::audit::{self, Finding, Listing, Policy, PolicyLayer, Report, Summary};
use crate::cli::{AuditArgs, AuditOutput};
use crate::config::Account;
use crate::error::{Error, Outcome};
use crate::filter::Filter;
use crate::http::Http;
use crate::monitor::metrics::{self, AccountView};
use crate::monitor::nagios::{self, State};
use crate::monitor::{exposition, ping, textfile};
use crate::providers::{self, AccountResult};
use crate::redact;
use crate::render::{Format, TerminalSafe};

/// Where the dead man's switch is, once known.
struct Ping {
    url: ping::PingUrl,
    http: Http,
}

/// A completed audit: its exit code and the text report a ping carries.
struct Done {
    outcome: Outcome,
    report: String,
}

/// Runs `backups audit`. With a ping URL, the whole run sits between the start ping and
/// the result ping, errors included (a configuration error is reported as exit 2).
pub(crate) async fn run(ctx: &Context, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let nagios = args.output == Some(AuditOutput::Nagios);
    let mut ping = None;
    let (code, report, result) = match audit(ctx, args, &mut ping).await {
        Ok(done) => (done.outcome.code(), done.report, Ok(done.outcome)),
        Err(e) if super::is_broken_pipe(&e) => (0, String::new(), Err(e)),
        Err(e) if nagios => {
            // In this mode every error is UNKNOWN, on stdout where the monitoring system
            // reads it.
            let text = nagios::unknown(&super::message(&e));
            let outcome = Outcome::from(State::Unknown);
            let written = write_stdout(|out| out.write_all(text.as_bytes()));
            (outcome.code(), text, written.map(|()| outcome))
        }
        Err(e) => (super::outcome_of(&e).code(), super::message(&e), Err(e)),
    };
    if let Some(p) = &ping {
        ping::finish(&p.http, &p.url, code, &report).await;
    }
    result
}

/// The audit itself; `ping` is set as soon as the ping URL is known (the flag at once, the
/// config's `[audit] ping_url` once the config is read), and the start ping sent before
/// listing.
async fn audit(ctx: &Context, args: &AuditArgs, ping: &mut Option<Ping>) -> anyhow::Result<Done> {
    let nagios = args.output == Some(AuditOutput::Nagios);
    check_nagios_flags(args, nagios)?;
    let flag_url = args
        .ping
        .as_deref()
        .map(|url| ping::PingUrl::parse(url, "--ping"))
        .transpose()?;
    let http = ctx.http()?;
    if let Some(url) = flag_url {
        *ping = Some(Ping {
            url,
            http: http.clone(),
        });
    }
    let row_filter = record::row_filter_flag(&args.selection, None);
    record::check_flags(&args.inventory, row_filter, true)?;
    let filter = ctx.filter(&args.selection)?;
    let accounts = ctx.accounts(&args.selection).await?;
    if let (None, Some((secret, _))) = (&ping, &accounts.audit.ping_url) {
        *ping = Some(Ping {
            url: ping::PingUrl::parse(secret.expose(), "[audit] ping_url")?,
            http: http.clone(),
        });
    }
    // Once the config's ping URL is known: an inventory that cannot be used is reported
    // through the ping like any other error.
    let recording = Recording::open(&args.inventory, &accounts.inventory, row_filter, true)?;
    if let Some(p) = ping.as_ref() {
        ping::start(&p.http, &p.url).await;
    }
    let judged = list_and_judge(ctx, args, &http, &accounts, &filter, recording).await;
    let views = account_views(&accounts.list, &judged);
    let exposition = (args.output == Some(AuditOutput::Prometheus) || args.textfile.is_some())
        .then(|| {
            exposition::to_string(&metrics::families(&metrics::Audit {
                finished_at: judged.finished,
                duration: judged.took,
                accounts: &views,
                findings: &judged.findings,
                policy: &judged.policy,
            }))
        });
    // Written before the report, so that in Nagios mode a failure is the check's UNKNOWN
    // rather than a second status line; otherwise it fails the run after the report.
    let textfile = match (&args.textfile, &exposition) {
        (Some(path), Some(text)) => textfile::write_atomic(path, text.as_bytes())
            .with_context(|| format!("--textfile {}: cannot write", path.display())),
        _ => Ok(()),
    };
    let textfile = match textfile {
        Err(e) if nagios => return Err(e),
        other => other,
    };
    let (outcome, report) = print(ctx, args, &judged, &views, exposition.as_deref(), &filter)?;
    let outcome = finish(ctx, judged, outcome, nagios);
    textfile?;
    Ok(Done { outcome, report })
}

/// `--warn-age` and `--crit-age` belong to `-o nagios`, and the critical age is the longer.
fn check_nagios_flags(args: &AuditArgs, nagios: bool) -> Result<(), Error> {
    if !nagios && (args.warn_age.is_some() || args.crit_age.is_some()) {
        return Err(Error::usage("--warn-age and --crit-age go with -o nagios"));
    }
    if let (Some(warn), Some(crit)) = (args.warn_age, args.crit_age) {
        if crit < warn {
            return Err(Error::usage("--crit-age is shorter than --warn-age"));
        }
    }
    Ok(())
}

/// What one audit found: the accounts' listings, the policy they were judged by, the
/// findings (redacted), and what recording them left behind.
struct Judged {
    results: Vec<AccountResult>,
    policy: Policy,
    findings: Vec<Finding>,
    summary: Summary,
    /// When the listing finished (`BACKUPS_NOW` moved on by the time it took).
    finished: DateTime<Utc>,
    took: std::time::Duration,
    recorded: Recorded,
}

/// Lists every selected account, judges what was listed, adds the inventory's `vanished`
/// findings and records this run's snapshots (when `recording`).
async fn list_and_judge(
    ctx: &Context,
    args: &AuditArgs,
    http: &Http,
    accounts: &Accounts,
    filter: &Filter,
    mut recording: Option<Recording>,
) -> Judged {
    let started = Instant::now();
    let options = ctx.list_options(&accounts.defaults);
    let results = providers::run_all(http, &accounts.list, filter, &options).await;
    let took = started.elapsed();
    let finished = ctx.now + chrono::Duration::from_std(took).unwrap_or_default();
    let listings = accounts
        .list
        .iter()
        .zip(&results)
        .map(|(account, r)| Listing {
            account,
            rows: r.result.as_ref().map(Vec::as_slice),
            resources: &r.resources,
        });
    let policy = Policy {
        flags: PolicyLayer {
            // In Nagios mode --warn-age is the stale threshold (it conflicts with --max-age).
            max_age: args.warn_age.or(args.max_age),
            keep: args.keep,
            expect: args.expect.clone(),
        },
        file: accounts.audit.policy.clone(),
        account_names: accounts.names.clone(),
        resource: filter.resource.clone(),
    };
    let (mut findings, mut summary) = audit::assess(listings, &policy, ctx.now);
    // The inventory (`docs/cli.md#the-inventory`): `vanished` findings, then this run's
    // snapshots.
    let mut recorded = Recorded::default();
    if let Some(rec) = &mut recording {
        let max_age = |a: &Account| policy.max_age(a);
        let (vanished, r) = rec.audit(&accounts.list, &results, ctx.now, finished, max_age);
        audit::add_findings(&mut findings, &mut summary, vanished);
        recorded = r;
    }
    // Messages quote vendor text (an account's error, ids): no secret goes out in them, in
    // any format, metrics and pings included.
    for f in &mut findings {
        if let Cow::Owned(clean) = redact::redact(&f.message) {
            f.message = clean;
        }
    }
    Judged {
        results,
        policy,
        findings,
        summary,
        finished,
        took,
        recorded,
    }
}

/// Each account as the metric families and the Nagios perfdata see it.
fn account_views<'a>(accounts: &'a [Account], judged: &'a Judged) -> Vec<AccountView<'a>> {
    accounts
        .iter()
        .zip(&judged.results)
        .map(|(account, r)| AccountView {
            account,
            up: r.result.is_ok(),
            last_success: r.result.is_ok().then_some(judged.finished),
            rows: r.result.as_deref().unwrap_or_default(),
            resources: &r.resources,
        })
        .collect()
}

/// Prints the chosen output: the Nagios check, the Prometheus text, or the report. Returns
/// the exit code it calls for and the text report a ping carries.
fn print(
    ctx: &Context,
    args: &AuditArgs,
    judged: &Judged,
    views: &[AccountView<'_>],
    exposition: Option<&str>,
    filter: &Filter,
) -> anyhow::Result<(Outcome, String)> {
    let (findings, summary) = (&judged.findings, &judged.summary);
    let plain = || crate::monitor::text_report(findings, summary, ping::MAX_BODY);
    Ok(match args.output {
        Some(AuditOutput::Nagios) => {
            let policy = &judged.policy;
            let resources: Vec<(&str, Vec<metrics::ResourceFigures>)> = views
                .iter()
                .filter(|v| v.up)
                .map(|v| {
                    let only = policy.resource.as_deref();
                    (
                        v.account.name.as_str(),
                        metrics::resource_figures(v.rows, v.resources, only),
                    )
                })
                .collect();
            let (state, text) = nagios::report(&nagios::Input {
                findings,
                summary,
                resources: &resources,
                now: ctx.now,
                warn_seconds: args
                    .warn_age
                    .map(|w| w.num_seconds())
                    .or_else(|| common_max_age(policy, views)),
                crit: args.crit_age,
            });
            write_stdout(|out| out.write_all(text.as_bytes()))?;
            (Outcome::from(state), text)
        }
        Some(AuditOutput::Prometheus) => {
            let text = exposition.unwrap_or_default();
            write_stdout(|out| out.write_all(text.as_bytes()))?;
            (summary.outcome(), plain())
        }
        output => {
            let format = ctx.format_or_default(match output {
                Some(AuditOutput::Report(f)) => Some(f),
                _ => None,
            });
            write_report(ctx, format, findings, summary, filter)?;
            (summary.outcome(), plain())
        }
    })
}

/// The run's exit code once the output is printed: failed accounts get their stderr lines
/// (not in Nagios mode, where they are finding lines already), and a snapshot that could not
/// be written fails the run (exit 3); a Nagios check keeps a WARNING or CRITICAL it found,
/// and is UNKNOWN rather than OK.
fn finish(ctx: &Context, judged: Judged, outcome: Outcome, nagios: bool) -> Outcome {
    let failures: Vec<Error> = judged
        .results
        .into_iter()
        .filter_map(|r| r.result.err())
        .collect();
    // A check's output is its stdout alone (Icinga keeps stderr too).
    if !nagios {
        ctx.report_failures(&failures);
    }
    let errors = &judged.recorded.errors;
    match (errors.is_empty(), nagios) {
        (true, _) => outcome,
        (false, false) => outcome.max(ctx.report_failures(errors)),
        (false, true) if outcome == Outcome::Success => Outcome::from(State::Unknown),
        (false, true) => outcome,
    }
}

/// The max age every selected account has, in seconds, if they all have the same.
fn common_max_age(policy: &Policy, views: &[AccountView]) -> Option<i64> {
    let mut ages = views
        .iter()
        .map(|v| policy.max_age(v.account).num_seconds());
    let first = ages.next()?;
    ages.all(|a| a == first).then_some(first)
}

/// The report for people and scripts: a table, tsv, JSON or ndjson.
fn write_report(
    ctx: &Context,
    format: Format,
    findings: &[Finding],
    summary: &Summary,
    filter: &Filter,
) -> anyhow::Result<()> {
    let speak = !findings.is_empty() || ctx.stdout_tty;
    write_stdout(|out| {
        // On a terminal, what tsv and JSON leave raw is escaped; the table cleans its cells.
        let json = matches!(format, Format::Json | Format::Ndjson);
        let mut safe;
        let out: &mut dyn Write = if ctx.stdout_tty && format != Format::Table {
            safe = TerminalSafe::new(out, json);
            &mut safe
        } else {
            out
        };
        match format {
            Format::Json => audit::write_json(out, &report(ctx, findings.to_vec(), summary)),
            Format::Ndjson => audit::write_ndjson(out, findings),
            Format::Table => write_table(out, findings, summary, speak),
            _ => write_tsv(out, findings, summary, speak),
        }
    })?;
    if speak {
        ctx.note_timeless_left_out(filter);
    }
    Ok(())
}

fn report(ctx: &Context, findings: Vec<Finding>, summary: &Summary) -> Report {
    Report {
        audited_at: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        findings,
        summary: *summary,
    }
}

/// The table, when there are findings, and the summary line under it.
fn write_table(
    out: &mut dyn Write,
    findings: &[Finding],
    summary: &Summary,
    speak: bool,
) -> std::io::Result<()> {
    if !findings.is_empty() {
        audit::write_table(out, findings)?;
    }
    if speak {
        writeln!(out, "{}", audit::summary_line(summary))?;
    }
    Ok(())
}

/// tsv with a header row, when there are findings; the summary goes to stderr so stdout
/// stays pure tsv.
fn write_tsv(
    out: &mut dyn Write,
    findings: &[Finding],
    summary: &Summary,
    speak: bool,
) -> std::io::Result<()> {
    if !findings.is_empty() {
        audit::write_tsv(out, findings)?;
    }
    if speak {
        out.flush()?;
        eprintln!("{}", audit::summary_line(summary));
    }
    Ok(())
}
