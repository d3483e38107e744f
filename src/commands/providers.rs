//! `backups providers`: what each provider supports, from the adapters' declared capabilities.

use std::io::Write;

use serde_json::{json, Value};

use super::context::{write_stdout, Context};
use crate::cli::ProvidersArgs;
use crate::error::Outcome;
use crate::model::Field;
use crate::providers::{self, Capabilities};
use crate::render::{self, Format};

/// Runs `backups providers`.
pub(crate) fn run(ctx: &Context, args: &ProvidersArgs) -> anyhow::Result<Outcome> {
    let caps = providers::capabilities();
    write_stdout(|out| match args.output.unwrap_or(Format::Table) {
        Format::Json => write_json(out, &caps),
        _ => write_table(out, &caps, ctx.width),
    })?;
    Ok(Outcome::Success)
}

fn write_json(out: &mut dyn Write, caps: &[Capabilities]) -> std::io::Result<()> {
    let arr: Vec<Value> = caps
        .iter()
        .map(|c| {
            json!({
                "provider": c.provider.as_str(),
                "auth": c.auth,
                "filters": c.filters,
                "paging": c.paging,
                "fields": c.fields,
            })
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &arr)?;
    writeln!(out)
}

fn write_table(
    out: &mut dyn Write,
    caps: &[Capabilities],
    width: Option<u16>,
) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = caps
        .iter()
        .map(|c| {
            vec![
                c.provider.to_string(),
                c.auth.join(", "),
                or_dash(c.filters.join(", ")),
                c.paging.to_string(),
                never_filled(c.fields),
            ]
        })
        .collect();
    let header = [
        "PROVIDER",
        "AUTH",
        "SERVER FILTERS",
        "PAGING",
        "ALWAYS NULL",
    ];
    render::simple_table(out, &header, &rows, width)
}

/// The model fields a provider never fills (`provider` and `account` always are).
fn never_filled(fields: &[Field]) -> String {
    let missing: Vec<&str> = Field::ALL
        .into_iter()
        .filter(|f| ![Field::Provider, Field::Account].contains(f) && !fields.contains(f))
        .map(Field::as_str)
        .collect();
    or_dash(missing.join(", "))
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}
