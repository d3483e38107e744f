//! `backups diff`: per account in the inventory, what changed between two recorded listings
//! (`docs/cli.md#diff`): the newest snapshot against the newest successful one taken at or before
//! `--from` (default: the one before the newest). Rows are [`Change`]s: appeared, vanished
//! (with whether it went early) and status changes. Reads the inventory only; never lists
//! and never writes.
//!
//! Accounts come from the inventory, not the config: an account removed from the config
//! still has its history, and `--account` names an account as it was recorded.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::context::{write_stdout, Context};
use super::record;
use crate::cli::{DiffArgs, ProviderChoice};
use crate::error::{Error, Outcome};
use crate::inventory::{self, AccountKey, Change, Inventory, OpenOptions, Snapshot};
use crate::model::ProviderId;
use crate::render::{self, Format, Options};

/// Runs `backups diff`.
pub(crate) fn run(ctx: &Context, args: &DiffArgs) -> anyhow::Result<Outcome> {
    let format = ctx.format_or_default(args.output);
    let from = args
        .from
        .map(|b| {
            b.resolve(ctx.now)
                .ok_or_else(|| Error::usage("--from: too far in the past"))
        })
        .transpose()?;
    let (inv, path) = open_inventory(ctx, args)?;
    let selected = select(
        inv.accounts()?,
        &args.providers,
        &args.accounts,
        &path.display().to_string(),
    )?;
    let mut changes: Vec<Change> = Vec::new();
    let mut too_few: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut failed = false;
    for key in &selected {
        match compare(&inv, key, from)? {
            Compared::Changes(c) => changes.extend(c),
            Compared::TooFew => too_few.push(key.account.clone()),
            Compared::NoBase(line) => notes.push(line),
            Compared::NewestFailed(line) => {
                failed = true;
                notes.push(line);
            }
        }
    }
    let opts = Options {
        format,
        columns: None,
        width: ctx.width,
        color: ctx.color,
        now: ctx.now,
    };
    write_stdout(|out| match format {
        // On a terminal, what csv, tsv and JSON leave raw is escaped, as `list` does; the
        // table cleans its own cells.
        Format::Table => render::render_changes(out, &changes, &opts),
        _ if ctx.stdout_tty => {
            let json = matches!(format, Format::Json | Format::Ndjson);
            let mut safe = render::TerminalSafe::new(out, json);
            render::render_changes(&mut safe, &changes, &opts)
        }
        _ => render::render_changes(out, &changes, &opts),
    })?;
    if changes.is_empty() && format == Format::Table {
        eprintln!("backups: no changes");
    }
    Ok(explain(&too_few, &notes, failed, &path))
}

/// The inventory file `diff` reads (`--inventory`, else the config's), opened read-only; a
/// missing one is a usage error, and nothing is created.
fn open_inventory(ctx: &Context, args: &DiffArgs) -> anyhow::Result<(Inventory, PathBuf)> {
    // With --inventory the config is not needed at all.
    let config = match &args.inventory {
        Some(_) => Default::default(),
        None => ctx.inventory_config()?,
    };
    let path = record::inventory_path(args.inventory.as_ref(), &config)?;
    if !path.exists() {
        return Err(Error::usage(format!(
            "no inventory at {} (record listings with `backups list --record`)",
            path.display()
        ))
        .into());
    }
    let inv = Inventory::open_with(
        &path,
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )?;
    Ok((inv, path))
}

/// One stderr line for the accounts with too few snapshots and one per note, and the exit
/// code they call for: 3 when an account's newest listing failed, else 2 when anything could
/// not be compared.
fn explain(too_few: &[String], notes: &[String], failed: bool, path: &Path) -> Outcome {
    let mut err = std::io::stderr().lock();
    if !too_few.is_empty() {
        let _ = writeln!(
            err,
            "backups: fewer than two snapshots of {} in {}: record another listing to compare",
            too_few.join(", "),
            path.display()
        );
    }
    for line in notes {
        // The failure was recorded as printed, but the file is not ours alone to trust.
        let _ = writeln!(err, "backups: {}", crate::text::line(line));
    }
    if failed {
        Outcome::AccountFailed
    } else if !too_few.is_empty() || !notes.is_empty() {
        Outcome::Usage
    } else {
        Outcome::Success
    }
}

/// What comparing one account gave.
enum Compared {
    /// The changes (possibly none).
    Changes(Vec<Change>),
    /// It has fewer than two snapshots.
    TooFew,
    /// No successful snapshot to compare the newest with (the line says why); exit 2.
    NoBase(String),
    /// The newest snapshot is of a failed listing (the line says so); exit 3.
    NewestFailed(String),
}

/// Compares an account's newest snapshot with the newest successful one before it taken at
/// or before `from` (any time when `None`). A failed snapshot has no rows, so it is never
/// the older side: comparing with the last listing that has rows says what changed since.
fn compare(
    inv: &Inventory,
    key: &AccountKey,
    from: Option<chrono::DateTime<chrono::Utc>>,
) -> crate::Result<Compared> {
    let snapshots = inv.snapshots(key.provider, &key.account)?;
    let Some((newest, before)) = snapshots.split_last() else {
        return Ok(Compared::TooFew);
    };
    if before.is_empty() {
        return Ok(Compared::TooFew);
    }
    let account = &key.account;
    let at = |s: &Snapshot| {
        s.taken_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    if let Some(failure) = &newest.failure {
        // The failure was recorded as `account: cause`; the line names the account once.
        let cause = failure
            .strip_prefix(&format!("{account}: "))
            .unwrap_or(failure);
        return Ok(Compared::NewestFailed(format!(
            "{account}: the newest snapshot ({}) is of a failed listing, so there is nothing to compare: {cause}",
            at(newest)
        )));
    }
    let base = before
        .iter()
        .rev()
        .filter(|s| s.is_ok())
        .find(|s| from.is_none_or(|t| s.taken_at <= t));
    let Some(base) = base else {
        let line = match from {
            Some(t) => format!(
                "{account}: no successful snapshot taken at or before {} to compare with",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            None => format!(
                "{account}: no successful snapshot before the newest ({}) to compare with",
                at(newest)
            ),
        };
        return Ok(Compared::NoBase(line));
    };
    // Both are successful snapshots, so both have rows.
    let older = inv.rows(base.id)?.unwrap_or_default();
    let newer = inv.rows(newest.id)?.unwrap_or_default();
    Ok(Compared::Changes(inventory::diff(
        &older,
        &newer,
        newest.taken_at,
    )))
}

/// The inventory's accounts narrowed by `--provider` and `--account`. An `--account` the
/// inventory has no snapshot of, an empty inventory and an empty result are usage errors
/// naming `source` (the file).
fn select(
    all: Vec<AccountKey>,
    providers: &[ProviderChoice],
    names: &[String],
    source: &str,
) -> crate::Result<Vec<AccountKey>> {
    if all.is_empty() {
        return Err(Error::usage(format!(
            "{source} holds no snapshots yet (record listings with `backups list --record`)"
        )));
    }
    let only: Vec<ProviderId> = if providers.contains(&ProviderChoice::All) {
        Vec::new()
    } else {
        providers
            .iter()
            .filter_map(|p| match p {
                ProviderChoice::Only(p) => Some(*p),
                ProviderChoice::All => None,
            })
            .collect()
    };
    if let Some(name) = names.iter().find(|n| !all.iter().any(|a| &a.account == *n)) {
        let mut known: Vec<&str> = all.iter().map(|a| a.account.as_str()).collect();
        known.dedup();
        return Err(Error::usage(format!(
            "--account `{name}`: no snapshots of such an account in {source} (recorded: {})",
            known.join(", ")
        )));
    }
    let chosen: Vec<AccountKey> = all
        .into_iter()
        .filter(|a| only.is_empty() || only.contains(&a.provider))
        .filter(|a| names.is_empty() || names.contains(&a.account))
        .collect();
    if chosen.is_empty() {
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "any".to_string()
            } else {
                v.join(",")
            }
        };
        return Err(Error::usage(format!(
            "no account in {source} matches the selection (--provider {} --account {})",
            list(only.iter().map(|p| p.to_string()).collect()),
            list(names.to_vec())
        )));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: ProviderId, a: &str) -> AccountKey {
        AccountKey {
            provider: p,
            account: a.into(),
        }
    }

    #[test]
    fn accounts_are_chosen_from_the_inventory() {
        let all = vec![
            key(ProviderId::Bycloud, "by"),
            key(ProviderId::Cf, "cf"),
            key(ProviderId::Huawei, "hw"),
        ];
        let got = select(
            all.clone(),
            &[ProviderChoice::Only(ProviderId::Cf)],
            &[],
            "inv.db",
        )
        .unwrap();
        assert_eq!(got, [key(ProviderId::Cf, "cf")]);
        let got = select(all.clone(), &[], &["hw".into(), "by".into()], "inv.db").unwrap();
        assert_eq!(
            got,
            [
                key(ProviderId::Bycloud, "by"),
                key(ProviderId::Huawei, "hw")
            ]
        );
        assert_eq!(
            select(all.clone(), &[], &["prod".into()], "inv.db")
                .unwrap_err()
                .to_string(),
            "--account `prod`: no snapshots of such an account in inv.db (recorded: by, cf, hw)"
        );
        assert_eq!(
            select(
                all,
                &[ProviderChoice::Only(ProviderId::Oracle)],
                &["hw".into()],
                "inv.db"
            )
            .unwrap_err()
            .to_string(),
            "no account in inv.db matches the selection (--provider oracle --account hw)"
        );
        assert_eq!(
            select(Vec::new(), &[], &[], "inv.db")
                .unwrap_err()
                .outcome(),
            Outcome::Usage
        );
    }
}
