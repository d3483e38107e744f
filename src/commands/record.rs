//! The inventory in the commands (`docs/cli.md#the-inventory`): which file a run uses, whether it
//! records and whether it compares; recording each account's listing as a snapshot; and the
//! `vanished` findings of `audit`, judged against the newest successful snapshot recorded before
//! this run. The storage itself is [`crate::inventory`].
//!
//! Only whole accounts are recorded: `--record` with a row filter is a usage error, since a
//! filtered snapshot would read as mass deletions next time. With `[inventory] record = true`
//! and a row filter, the run simply does not record (nor compare).

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::audit::{Finding, FindingKind};
use crate::cli::{RecordArgs, Selection};
use crate::config::{Account, InventoryConfig};
use crate::error::{Error, ErrorKind, Outcome, Result};
use crate::inventory::{self, Inventory, Listing, OpenOptions};
use crate::model::{Backup, Status};
use crate::providers::AccountResult;

/// The first row filter of a selection, as its flag (`--limit` is `list`'s): a recorded or
/// compared listing must hold whole accounts.
pub(crate) fn row_filter_flag(sel: &Selection, limit: Option<usize>) -> Option<&'static str> {
    [
        (!sel.statuses.is_empty(), "--status"),
        (sel.since.is_some(), "--since"),
        (sel.until.is_some(), "--until"),
        (sel.name.is_some(), "--name"),
        (sel.resource.is_some(), "--resource"),
        (limit.is_some(), "--limit"),
    ]
    .into_iter()
    .find_map(|(set, flag)| set.then_some(flag))
}

/// Refuses `--record` (and, for `audit`, `--inventory`) with a row filter, before anything
/// else runs.
pub(crate) fn check_flags(args: &RecordArgs, row_filter: Option<&str>, audit: bool) -> Result<()> {
    let Some(filter) = row_filter else {
        return Ok(());
    };
    if args.record {
        return Err(Error::usage(format!(
            "--record records whole accounts and cannot go with {filter} (a filtered snapshot would read as deletions next time)"
        )));
    }
    if audit && args.inventory.is_some() {
        return Err(Error::usage(format!(
            "--inventory compares whole accounts and cannot go with {filter} (filtered rows would read as vanished)"
        )));
    }
    Ok(())
}

/// The inventory file: `--inventory`, else `[inventory] path`, else the default under
/// `$XDG_DATA_HOME` or `~/.local/share`.
pub(crate) fn inventory_path(flag: Option<&PathBuf>, config: &InventoryConfig) -> Result<PathBuf> {
    flag.cloned()
        .or_else(|| config.path.clone())
        .or_else(inventory::default_path)
        .ok_or_else(|| {
            Error::config(
                "no inventory path: give --inventory PATH, set [inventory] path, $XDG_DATA_HOME or $HOME",
            )
        })
}

/// An inventory open for one run of `list`, `audit` or the exporter.
pub(crate) struct Recording {
    inventory: Inventory,
    record: bool,
    compare: bool,
    keep: chrono::Duration,
    /// Whether a write failed: the run stops recording (each try would wait the busy
    /// timeout again) and exits 3.
    broken: bool,
}

/// What recording a listing gave: one error line each, to print after the output.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Failures to write the inventory (exit 3).
    pub(crate) errors: Vec<Error>,
}

impl Recording {
    /// What this run does with the inventory, and the file opened for it (checked before any
    /// listing: a file that is not an inventory is exit 2 and stays untouched). `None` when
    /// the run neither records nor compares. `list` records with `--record` or `[inventory]
    /// record = true`; `audit` (`compares`) also compares whenever it records or is given
    /// `--inventory`. With a row filter only the config asks to record, and nothing is done
    /// (the flags were refused by [`check_flags`]).
    pub(crate) fn open(
        args: &RecordArgs,
        config: &InventoryConfig,
        row_filter: Option<&str>,
        compares: bool,
    ) -> Result<Option<Recording>> {
        check_flags(args, row_filter, compares)?;
        if let (true, false, Some(filter)) = (config.record, args.record, row_filter) {
            // Said, not silent: the operator asked for every run to be recorded.
            eprintln!(
                "backups: warning: not recorded: [inventory] record = true records whole accounts, and {filter} filters rows"
            );
        }
        let record = args.record || (config.record && row_filter.is_none());
        let compare = compares && (record || args.inventory.is_some());
        if !record && !compare {
            return Ok(None);
        }
        let path = inventory_path(args.inventory.as_ref(), config)?;
        if !record && !path.exists() {
            return Err(Error::usage(format!(
                "--inventory {}: no such file (record one with --record)",
                path.display()
            )));
        }
        let inventory = Inventory::open_with(
            &path,
            &OpenOptions {
                read_only: !record,
                ..OpenOptions::default()
            },
        )?;
        Ok(Some(Recording {
            inventory,
            record,
            compare,
            keep: config.keep.unwrap_or(inventory::DEFAULT_KEEP),
            broken: false,
        }))
    }

    /// For the exporter: records every listing when `[inventory] record = true` and its
    /// selection has no row filter, else `None`.
    pub(crate) fn for_exporter(
        config: &InventoryConfig,
        row_filter: Option<&str>,
    ) -> Result<Option<Recording>> {
        Recording::open(&RecordArgs::default(), config, row_filter, false)
    }

    /// Records one account's listing as a snapshot taken at `taken_at` (when the listing
    /// finished): its rows, or a failed snapshot with the error's one line. Blocking (SQLite
    /// may wait up to the busy timeout for another run): from async code on the multi-thread
    /// runtime, call it inside `tokio::task::block_in_place`, as [`Recording::record_all`]
    /// does.
    pub(crate) fn record(
        &mut self,
        account: &Account,
        listing: std::result::Result<&[Backup], &Error>,
        taken_at: DateTime<Utc>,
        recorded: &mut Recorded,
    ) {
        if !self.record || self.broken {
            return;
        }
        let failure;
        let listing = match listing {
            Ok(rows) => Listing::Complete(rows),
            Err(e) => {
                failure = e.to_string();
                Listing::Failed(&failure)
            }
        };
        if let Err(e) = self
            .inventory
            .record(account.provider(), &account.name, taken_at, listing)
        {
            self.fail(e, recorded);
        }
    }

    /// Prunes snapshots older than `[inventory] keep` (default 400 days) at `now`, once the
    /// run's recordings are written.
    pub(crate) fn prune(&mut self, now: DateTime<Utc>, recorded: &mut Recorded) {
        if !self.record || self.broken {
            return;
        }
        if let Err(e) = self.inventory.prune(self.keep, now) {
            self.fail(e, recorded);
        }
    }

    /// Records a whole run's results (in the order of `accounts`), all taken at `finished`,
    /// then prunes. The hook for the exporter (`docs/cli.md#exporter`: with `record = true` it
    /// records each listing): call it with the results of `providers::run_all` before handing them
    /// on.
    pub(crate) fn record_all(
        &mut self,
        accounts: &[Account],
        results: &[AccountResult],
        finished: DateTime<Utc>,
    ) -> Recorded {
        tokio::task::block_in_place(|| self.record_all_blocking(accounts, results, finished))
    }

    /// [`Recording::record_all`] on a blocking thread, for a server that must keep
    /// answering meanwhile (the exporter): takes the recording and the results and gives
    /// them back.
    pub(crate) async fn record_all_in_background(
        mut self,
        accounts: Vec<Account>,
        results: Vec<AccountResult>,
        finished: DateTime<Utc>,
    ) -> (Recording, Vec<AccountResult>, Recorded) {
        let task = tokio::task::spawn_blocking(move || {
            let recorded = self.record_all_blocking(&accounts, &results, finished);
            (self, results, recorded)
        });
        match task.await {
            Ok(done) => done,
            Err(e) => match e.try_into_panic() {
                // A bug on that thread is a bug here.
                Ok(panic) => std::panic::resume_unwind(panic),
                // Cancelled: the runtime is shutting down, and this future with it.
                Err(_) => std::future::pending().await,
            },
        }
    }

    fn record_all_blocking(
        &mut self,
        accounts: &[Account],
        results: &[AccountResult],
        finished: DateTime<Utc>,
    ) -> Recorded {
        // Each run tries again: a long-running exporter outlives a busy moment.
        self.broken = false;
        let listings = accounts
            .iter()
            .zip(results)
            .map(|(account, r)| (account, r.result.as_ref().map(Vec::as_slice)));
        self.record_listings(listings, finished)
    }

    /// Records each account's listing (its rows, or why it failed) as a snapshot taken at
    /// `finished`, then prunes. Blocking, as [`Recording::record`] is.
    pub(crate) fn record_listings<'r>(
        &mut self,
        listings: impl IntoIterator<Item = (&'r Account, std::result::Result<&'r [Backup], &'r Error>)>,
        finished: DateTime<Utc>,
    ) -> Recorded {
        let mut recorded = Recorded::default();
        for (account, listing) in listings {
            self.record(account, listing, finished, &mut recorded);
        }
        self.prune(finished, &mut recorded);
        recorded
    }

    /// `audit`'s comparison and recording of one run: for each listed account, the
    /// `vanished` findings against its newest successful snapshot recorded before this run
    /// (read before this run's snapshot is written), then the snapshot; then the pruning.
    /// `max_age` gives each finding the account's threshold, as the other findings carry it.
    pub(crate) fn audit(
        &mut self,
        accounts: &[Account],
        results: &[AccountResult],
        now: DateTime<Utc>,
        finished: DateTime<Utc>,
        max_age: impl Fn(&Account) -> chrono::Duration,
    ) -> (Vec<Finding>, Recorded) {
        let mut findings = Vec::new();
        let mut recorded = Recorded::default();
        tokio::task::block_in_place(|| {
            for (account, r) in accounts.iter().zip(results) {
                let listing = r.result.as_ref().map(Vec::as_slice);
                if let (true, Ok(rows)) = (self.compare, listing) {
                    match self.vanished(account, rows, now, max_age(account)) {
                        Ok(f) => findings.extend(f),
                        // Reading failed (a damaged or locked file): the run cannot say
                        // what vanished, which is a failure, not silence.
                        Err(e) => recorded.errors.push(e),
                    }
                }
                self.record(account, listing, finished, &mut recorded);
            }
            self.prune(finished, &mut recorded);
        });
        (findings, recorded)
    }

    /// The `vanished` findings of one listed account (`docs/cli.md#audit`): backups `available` in
    /// the newest successful snapshot recorded before this run that are gone from `rows` before
    /// their time. None when the account has no successful snapshot yet.
    fn vanished(
        &self,
        account: &Account,
        rows: &[Backup],
        now: DateTime<Utc>,
        max_age: chrono::Duration,
    ) -> Result<Vec<Finding>> {
        // The newest in recording order, whatever its time: a pinned or skewed clock must
        // not hide the previous run. (One indexed row, however many snapshots there are.)
        let Some(baseline) =
            self.inventory
                .newest_ok_before(account.provider(), &account.name, end_of_time())?
        else {
            return Ok(Vec::new());
        };
        let Some(previous) = self.inventory.rows(baseline.id)? else {
            return Ok(Vec::new());
        };
        Ok(vanished_findings(
            &previous,
            rows,
            baseline.taken_at,
            now,
            max_age,
        ))
    }
}

impl Recording {
    fn fail(&mut self, e: Error, recorded: &mut Recorded) {
        self.broken = true;
        // A write that could not happen is a failure of this run (exit 3), whatever the
        // library calls it: the listing itself was fine.
        let e = if e.outcome() == Outcome::Usage {
            Error::new(ErrorKind::Io, e.to_string())
        } else {
            e
        };
        recorded.errors.push(e);
    }
}

/// The last moment the inventory can store: "before this" is "ever".
fn end_of_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The findings for the backups [`inventory::vanished`] finds gone early from `current`,
/// each naming the backup and why it was not due: its `expires_at` is after `now`, or it was
/// not the oldest available backup of its resource in the snapshot taken at `taken_at`.
pub(crate) fn vanished_findings(
    previous: &[Backup],
    current: &[Backup],
    taken_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age: chrono::Duration,
) -> Vec<Finding> {
    let gone = inventory::vanished(previous, current, now);
    if gone.is_empty() {
        return Vec::new();
    }
    // The newest available backup of each resource now, as the other findings show it.
    let mut newest: HashMap<&str, &Backup> = HashMap::new();
    for b in current.iter().filter(|b| b.status == Status::Available) {
        let Some(t) = b.created_at else { continue };
        let slot = newest.entry(inventory::resource_key(b)).or_insert(b);
        if slot.created_at.is_some_and(|s| s.utc() < t.utc()) {
            *slot = b;
        }
    }
    let seen = taken_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    gone.into_iter()
        .map(|b| {
            let resource = inventory::resource_key(b);
            let what = match &b.name {
                Some(name) if *name != b.id => format!("backup {} ({name})", b.id),
                _ => format!("backup {}", b.id),
            };
            let why = match b.expires_at {
                Some(t) => format!("it expires at {t}"),
                None => "it was not the oldest available backup of its resource".to_string(),
            };
            let newest = newest.get(resource).copied();
            let newest_at = newest.and_then(|n| n.created_at);
            Finding {
                provider: Some(b.provider),
                account: Some(b.account.clone()),
                resource: Some(resource.to_string()),
                resource_name: b.resource_name.clone(),
                kind: FindingKind::Vanished,
                message: format!("{what} was available at {seen} and is gone, though {why}"),
                backup_id: Some(b.id.clone()),
                newest_available_id: newest.map(|n| n.id.clone()),
                newest_available_at: newest_at.map(|t| t.to_string()),
                newest_available_age_seconds: newest_at.map(|t| (now - t.utc()).num_seconds()),
                max_age_seconds: Some(max_age.num_seconds()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProviderId, Timestamp};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn backup(id: &str, resource: &str, created: &str, expires: Option<&str>) -> Backup {
        let mut b = Backup::new(ProviderId::Bycloud, "by", id.into(), Status::Available);
        b.resource_id = Some(resource.into());
        b.created_at = Timestamp::parse_vendor(created);
        b.expires_at = expires.and_then(Timestamp::parse_vendor);
        b
    }

    #[test]
    fn a_row_filter_is_named_and_refused_with_record() {
        let sel = Selection {
            statuses: vec![Status::Error],
            ..Selection::default()
        };
        assert_eq!(row_filter_flag(&sel, None), Some("--status"));
        assert_eq!(
            row_filter_flag(&Selection::default(), Some(5)),
            Some("--limit")
        );
        assert_eq!(row_filter_flag(&Selection::default(), None), None);
        let record = RecordArgs {
            record: true,
            inventory: None,
        };
        assert_eq!(
            check_flags(&record, Some("--status"), false)
                .unwrap_err()
                .to_string(),
            "--record records whole accounts and cannot go with --status (a filtered snapshot would read as deletions next time)"
        );
        let compare = RecordArgs {
            record: false,
            inventory: Some("inv.db".into()),
        };
        assert!(check_flags(&compare, Some("--name"), false).is_ok());
        assert_eq!(
            check_flags(&compare, Some("--name"), true)
                .unwrap_err()
                .outcome(),
            Outcome::Usage
        );
    }

    #[test]
    fn the_config_alone_does_not_record_a_filtered_run() {
        let config = InventoryConfig {
            record: true,
            path: Some("/nonexistent/inv.db".into()),
            keep: None,
        };
        let none = Recording::open(&RecordArgs::default(), &config, Some("--status"), true);
        assert!(none.unwrap().is_none());
    }

    #[test]
    fn findings_say_why_a_backup_was_not_due() {
        let previous = [
            backup("old", "vol-1", "2026-11-01T00:00:00Z", None),
            backup("mid", "vol-1", "2026-11-10T00:00:00Z", None),
            backup("kept", "vol-1", "2026-11-20T00:00:00Z", None),
            backup(
                "exp",
                "vol-2",
                "2026-11-15T00:00:00Z",
                Some("2026-12-15T00:00:00Z"),
            ),
        ];
        let current = [previous[2].clone()];
        let now = at("2026-11-23T12:00:00Z");
        let f = vanished_findings(
            &previous,
            &current,
            at("2026-11-22T12:00:00Z"),
            now,
            chrono::Duration::hours(26),
        );
        let lines: Vec<(&str, Option<&str>, &str)> = f
            .iter()
            .map(|f| {
                (
                    f.backup_id.as_deref().unwrap(),
                    f.newest_available_id.as_deref(),
                    f.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "exp",
                    None,
                    "backup exp was available at 2026-11-22T12:00:00Z and is gone, though it expires at 2026-12-15T00:00:00Z"
                ),
                (
                    "mid",
                    Some("kept"),
                    "backup mid was available at 2026-11-22T12:00:00Z and is gone, though it was not the oldest available backup of its resource"
                ),
            ]
        );
        assert!(f.iter().all(|f| f.kind == FindingKind::Vanished));
        assert_eq!(f[1].resource.as_deref(), Some("vol-1"));
        assert_eq!(
            f[1].newest_available_age_seconds,
            Some(3 * 86_400 + 12 * 3600)
        );
    }
}
