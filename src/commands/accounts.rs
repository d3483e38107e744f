//! `backups accounts`: the configured accounts, their provider, endpoint and where each secret
//! comes from (never the secret); with `--check`, whether each can log in.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::context::{write_stdout, Context};
use crate::cli::{AccountsArgs, Selection};
use crate::config::Account;
use crate::error::{Error, Outcome};
use crate::filter::Filter;
use crate::providers::{self, ListOptions};
use crate::render::{self, Format};

/// A `--check` result: `None` when not checked, else the error's text.
type Check = Option<Result<(), String>>;

/// Runs `backups accounts`.
pub(crate) async fn run(ctx: &Context, args: &AccountsArgs) -> anyhow::Result<Outcome> {
    let accounts = ctx.accounts(&Selection::default()).await?;
    let (checks, failures) = if args.check {
        check_all(ctx, &accounts.list, &accounts.defaults).await?
    } else {
        (vec![None; accounts.list.len()], Vec::new())
    };
    write_stdout(|out| match args.output.unwrap_or(Format::Table) {
        Format::Json => write_json(out, &accounts.list, &checks),
        _ => write_table(out, &accounts.list, &checks, args.check),
    })?;
    Ok(ctx.report_failures(&failures))
}

/// Tries each account's login (the first page of its listing), all at once, within one
/// shared limiter and the run's deadline.
async fn check_all(
    ctx: &Context,
    accounts: &[Account],
    defaults: &crate::config::Defaults,
) -> anyhow::Result<(Vec<Check>, Vec<Error>)> {
    let http = ctx.http()?;
    let filter = Filter::default();
    let options = ListOptions {
        max_pages: 1,
        parallel: 1,
        progress: None,
        ..ctx.list_options(defaults)
    };
    let results = providers::check(&http, accounts, &filter, &options).await;
    let mut checks = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for r in results {
        checks.push(Some(r.as_ref().map(|_| ()).map_err(|e| e.to_string())));
        if let Err(e) = r {
            failures.push(e);
        }
    }
    Ok((checks, failures))
}

fn write_json(out: &mut dyn Write, accounts: &[Account], checks: &[Check]) -> std::io::Result<()> {
    let arr: Vec<Value> = accounts
        .iter()
        .zip(checks)
        .map(|(a, check)| {
            let secrets: Map<String, Value> = a
                .secret_sources
                .iter()
                .map(|(k, s)| (k.clone(), Value::String(s.to_string())))
                .collect();
            let mut v = json!({
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
    serde_json::to_writer_pretty(&mut *out, &arr)?;
    writeln!(out)
}

fn write_table(
    out: &mut dyn Write,
    accounts: &[Account],
    checks: &[Check],
    checked: bool,
) -> std::io::Result<()> {
    let mut header = vec!["NAME", "PROVIDER", "ENDPOINT", "SECRETS", "ORIGIN"];
    if checked {
        header.push("CHECK");
    }
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .zip(checks)
        .map(|(a, check)| {
            let secrets: Vec<String> = a
                .secret_sources
                .iter()
                .map(|(k, s)| format!("{k}: {s}"))
                .collect();
            let mut row = vec![
                a.name.clone(),
                a.provider().to_string(),
                a.endpoint(),
                if secrets.is_empty() {
                    "-".to_string()
                } else {
                    secrets.join(", ")
                },
                a.origin.to_string(),
            ];
            if let Some(c) = check {
                row.push(if c.is_ok() { "ok" } else { "FAILED" }.into());
            }
            row
        })
        .collect();
    render::simple_table(out, &header, &rows, None)
}
