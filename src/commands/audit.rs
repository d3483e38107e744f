//! `backups audit`: list every selected account, judge each resource ([`crate::audit`]) and
//! print the findings; the exit code says whether something is wrong. Silent when healthy
//! unless stdout is a terminal, so cron mails only when something is wrong. With an
//! inventory (`--record`, `--inventory`, `[inventory] record = true`) it also reports the
//! backups that vanished early since the last recorded listing ([`record`]).

use std::io::Write;
use std::time::Instant;

use super::context::{write_stdout, Context};
use super::record::{self, Recorded, Recording};
use crate::audit::{self, Finding, Listing, Policy, PolicyLayer, Report, Summary};
use crate::cli::AuditArgs;
use crate::config::Account;
use crate::error::{Error, Outcome};
use crate::providers::{self, ListOptions};
use crate::render::Format;

/// Runs `backups audit`.
pub async fn run(ctx: &Context, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let row_filter = record::row_filter_flag(&args.selection, None);
    record::check_flags(&args.inventory, row_filter, true)?;
    let filter = ctx.filter(&args.selection)?;
    let format = ctx.format_or_default(args.output);
    let accounts = ctx.accounts(&args.selection).await?;
    let mut recording = Recording::open(&args.inventory, &accounts.inventory, row_filter, true)?;
    let http = ctx.http()?;
    let started = Instant::now();
    let results = providers::run_all(&http, &accounts.list, &filter, &ListOptions::default()).await;
    let finished = ctx.now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
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
            max_age: args.max_age,
            keep: args.keep,
            expect: args.expect.clone(),
        },
        file: accounts.audit.policy.clone(),
        account_names: accounts.names.clone(),
        resource: filter.resource.clone(),
    };
    let (mut findings, mut summary) = audit::assess(listings, &policy, ctx.now);
    // The inventory (spec §10): `vanished` findings, then this run's snapshots.
    let mut recorded = Recorded::default();
    if let Some(rec) = &mut recording {
        let max_age = |a: &Account| policy.max_age(a);
        let (vanished, r) = rec.audit(&accounts.list, &results, ctx.now, finished, max_age);
        audit::add_findings(&mut findings, &mut summary, vanished);
        recorded = r;
    }
    let speak = !findings.is_empty() || ctx.stdout_tty;
    write_stdout(|out| match format {
        Format::Json => audit::write_json(out, &report(ctx, findings, &summary)),
        Format::Ndjson => audit::write_ndjson(out, &findings),
        Format::Table => write_table(out, &findings, &summary, speak),
        _ => write_tsv(out, &findings, &summary, speak),
    })?;
    if speak {
        ctx.note_timeless_left_out(&filter);
    }
    let failures: Vec<Error> = results.into_iter().filter_map(|r| r.result.err()).collect();
    ctx.report_failures(&failures);
    Ok(summary.outcome().max(ctx.report_failures(&recorded.errors)))
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
