//! The inventory (`docs/cli.md#the-inventory`): each account's completed listings recorded as
//! snapshots in a SQLite file, so that what is gone can be seen (`backups diff`, the `vanished`
//! finding).
//!
//! Growth, not copies: a backup row is stored as versions, each valid over a range of its
//! account's successful snapshots, and a new version is written only when something in the
//! row changed (or the backup comes back after a gap). Recording an unchanged listing writes
//! one snapshot row. Any recorded snapshot is rebuilt exactly: every model field as it was
//! then (`extra` and the vendor's fraction digits included) and exactly the backups it held.
//!
//! Safety: the file is checked before anything writes to it (a file that is not an
//! inventory, or a newer schema, is refused untouched, exit 2); WAL mode and a busy timeout
//! let two runs share it (the second waits, then fails with exit 3); each snapshot is one
//! transaction, so an interrupted run leaves the previous state.
//!
//! The comparisons ([`diff`], [`vanished`]) are pure functions over rows, in [`compare`].

#[cfg(test)]
mod bench;
pub(crate) mod compare;
mod rows;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

pub(crate) use compare::{diff, resource_key, vanished, Change, ChangeKind};
#[cfg(test)]
pub(crate) use schema::SCHEMA_VERSION;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Backup, ProviderId};
use rows::{Columns, COLUMNS, COLUMN_COUNT};
use schema::{sqlite_error, Contents, FileState};

/// How long a run waits for another run's write before failing (`docs/cli.md#the-inventory`).
pub(crate) const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long snapshots are kept by default (`[inventory] keep = "400d"`).
pub(crate) const DEFAULT_KEEP: chrono::Duration = chrono::Duration::days(400);

/// The default inventory path: `$XDG_DATA_HOME/backups/inventory.db`, else
/// `~/.local/share/backups/inventory.db`; `None` when neither variable is usable.
pub(crate) fn default_path() -> Option<PathBuf> {
    default_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`default_path`] from the two variables' values. A relative `XDG_DATA_HOME` is ignored,
/// as the XDG Base Directory specification says.
pub(crate) fn default_path_from(
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = xdg_data_home.map(PathBuf::from).filter(|d| d.is_absolute()) {
        return Some(dir.join("backups").join("inventory.db"));
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/backups/inventory.db"))
}

/// How to open an inventory.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// How long to wait for another run's write (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub busy_timeout: Duration,
    /// For commands that only read (`diff`, `audit --inventory` without `--record`): a
    /// missing or empty file is an empty inventory in memory (nothing is created), and
    /// [`Inventory::record`] and [`Inventory::prune`] refuse. Otherwise a missing or empty
    /// file becomes a new inventory on disk, its folder created if needed.
    pub read_only: bool,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            read_only: false,
        }
    }
}

/// A snapshot's id: unique in the file, growing in the order snapshots were recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SnapshotId(pub(crate) i64);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An account as the inventory keys it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct AccountKey {
    /// Its provider.
    pub(crate) provider: ProviderId,
    /// The config account name.
    pub(crate) account: String,
}

/// One recorded listing of one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Its id.
    pub(crate) id: SnapshotId,
    /// The account's provider.
    pub(crate) provider: ProviderId,
    /// The account.
    pub(crate) account: String,
    /// When it was taken (as given to [`Inventory::record`]).
    pub(crate) taken_at: DateTime<Utc>,
    /// `None` when the listing completed; else why it failed (a failed snapshot has no rows).
    pub failure: Option<String>,
    /// How many rows it holds (0 when failed).
    pub row_count: u64,
}

impl Snapshot {
    /// Whether the listing completed (the snapshot has rows to compare).
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// What one account's listing gave, for [`Inventory::record`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Listing<'a> {
    /// The listing completed with these rows (all of the account's backups, unfiltered).
    Complete(&'a [Backup]),
    /// The listing failed, with this message; recorded as a failed snapshot with no rows, which
    /// is never read as "everything vanished".
    Failed(&'a str),
}

/// What [`Inventory::record`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The new snapshot.
    pub(crate) snapshot: Snapshot,
    /// Versions written: rows new or changed since the previous successful snapshot.
    pub(crate) versions_added: u64,
    /// Versions closed: rows changed or gone since the previous successful snapshot.
    pub(crate) versions_closed: u64,
}

/// What [`Inventory::prune`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    /// Snapshots removed.
    pub(crate) snapshots: u64,
    /// Versions no kept snapshot holds any more, removed.
    pub(crate) versions: u64,
}

/// An open inventory file.
pub struct Inventory {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
}

impl fmt::Debug for Inventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inventory")
            .field("path", &self.path)
            .finish()
    }
}

const SNAPSHOT_SELECT: &str =
    "SELECT s.id, a.provider, a.name, s.taken_at, s.failure, s.row_count \
     FROM snapshot s JOIN account a ON a.id = s.account_id";

impl Inventory {
    /// Opens the inventory at `path` for recording, creating it when the file is missing or
    /// empty, with the default busy timeout.
    #[cfg(test)]
    pub(crate) fn open(path: &Path) -> Result<Inventory> {
        Inventory::open_with(path, &OpenOptions::default())
    }

    /// Opens the inventory at `path`. A file that is not an inventory, or one written by a
    /// newer schema, is an error of kind `Config` (exit 2) and is not modified: its header
    /// and schema are read through a read-only connection before anything may write (the
    /// switch to WAL mode writes the header). An older schema is migrated.
    pub fn open_with(path: &Path, options: &OpenOptions) -> Result<Inventory> {
        let state = schema::check_file(path)?;
        if state == FileState::Sqlite {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let probe = schema::connect(path, flags, options.busy_timeout)?;
            let contents = schema::classify(&probe, path)?;
            drop(probe);
            if contents == Contents::Blank && options.read_only {
                return Inventory::in_memory(path, true);
            }
        } else if options.read_only {
            return Inventory::in_memory(path, true);
        } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| schema::io_error(dir, "cannot create the inventory's folder", e))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = schema::connect(path, flags, options.busy_timeout)?;
        let err = |e| sqlite_error(path, e);
        // WAL: readers never block the writer, and a killed writer leaves the last commit.
        // A file system without shared memory keeps the rollback journal; still correct.
        schema::wal_mode(&conn, path, options.busy_timeout)?;
        // The WAL of a 100k-row recording is ~100 MiB: give the space back after a checkpoint.
        conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)
            .map_err(err)?;
        conn.pragma_update(None, "cache_size", -16 * 1024)
            .map_err(err)?;
        schema::migrate(&mut conn, path)?;
        Ok(Inventory {
            conn,
            path: path.to_path_buf(),
            read_only: options.read_only,
        })
    }

    /// An empty inventory in memory standing for `path` (nothing is written anywhere).
    fn in_memory(path: &Path, read_only: bool) -> Result<Inventory> {
        let mut conn = Connection::open_in_memory().map_err(|e| sqlite_error(path, e))?;
        schema::migrate(&mut conn, path)?;
        Ok(Inventory {
            conn,
            path: path.to_path_buf(),
            read_only,
        })
    }

    /// Refuses to write through an inventory opened read-only.
    fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::usage(format!(
                "{}: the inventory was opened read-only",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Records one account's listing as a new snapshot, in one transaction, once the listing
    /// is over. `taken_at` should be when it completed. Rows must all belong to the account
    /// (else a `Usage` error, nothing written). Waits up to the busy timeout for another
    /// run's write; past it, an `Io` error (exit 3).
    pub(crate) fn record(
        &mut self,
        provider: ProviderId,
        account: &str,
        taken_at: DateTime<Utc>,
        listing: Listing<'_>,
    ) -> Result<Recorded> {
        self.writable()?;
        let taken = encode_taken_at(taken_at)?;
        let (rows, failure) = match listing {
            Listing::Complete(rows) => (rows, None),
            Listing::Failed(message) => (&[][..], Some(message)),
        };
        if let Some(b) = rows
            .iter()
            .find(|b| b.provider != provider || b.account != account)
        {
            return Err(Error::usage(format!(
                "{}: cannot record backup {} of {}/{} as a row of {provider}/{account}",
                self.path.display(),
                b.id,
                b.provider,
                b.account
            )));
        }
        // Encode before taking the write lock: less time holding it.
        let columns: Vec<Columns<'_>> = rows.iter().map(Columns::new).collect();
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let (account_id, previous_ok) = account_row(&tx, provider, account).map_err(err)?;
        tx.execute(
            "INSERT INTO snapshot (account_id, taken_at, failure, row_count) VALUES (?1, ?2, ?3, ?4)",
            params![account_id, taken, failure, rows.len() as i64],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        let (versions_added, versions_closed) =
            match failure {
                // Open versions stay open: a failed snapshot has no rows, so it ends no range.
                Some(_) => (0, 0),
                None => write_versions(&tx, account_id, id, previous_ok, rows, &columns).map_err(
                    |e| match e {
                        Broken::Sqlite(e) => err(e),
                        Broken::Inconsistent(why) => Error::new(
                            ErrorKind::Io,
                            format!("{}: the inventory is inconsistent: {why}", path.display()),
                        ),
                    },
                )?,
            };
        tx.commit().map_err(err)?;
        Ok(Recorded {
            snapshot: Snapshot {
                id: SnapshotId(id),
                provider,
                account: account.to_string(),
                taken_at,
                failure: failure.map(str::to_string),
                row_count: rows.len() as u64,
            },
            versions_added,
            versions_closed,
        })
    }

    /// The accounts that have snapshots, ordered by provider name, then account. Accounts of
    /// a provider this build does not know (recorded by a newer one) are left out.
    pub(crate) fn accounts(&self) -> Result<Vec<AccountKey>> {
        let err = |e| sqlite_error(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT provider, name FROM account a \
                 WHERE EXISTS (SELECT 1 FROM snapshot s WHERE s.account_id = a.id) \
                 ORDER BY provider, name",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (provider, account) = row.map_err(err)?;
            if let Some(provider) = ProviderId::parse(&provider) {
                out.push(AccountKey { provider, account });
            }
        }
        Ok(out)
    }

    /// An account's snapshots, oldest first (in the order they were recorded).
    pub fn snapshots(&self, provider: ProviderId, account: &str) -> Result<Vec<Snapshot>> {
        self.query_snapshots(
            &format!("{SNAPSHOT_SELECT} WHERE a.provider = ?1 AND a.name = ?2 ORDER BY s.id"),
            params![provider.as_str(), account],
        )
    }

    /// One snapshot by id, if the inventory still holds it.
    pub(crate) fn snapshot(&self, id: SnapshotId) -> Result<Option<Snapshot>> {
        Ok(self
            .query_snapshots(&format!("{SNAPSHOT_SELECT} WHERE s.id = ?1"), params![id.0])?
            .pop())
    }

    /// The account's newest successful snapshot taken strictly before `t` (the baseline of
    /// the `vanished` finding: ask before recording this run's listing).
    pub(crate) fn newest_ok_before(
        &self,
        provider: ProviderId,
        account: &str,
        t: DateTime<Utc>,
    ) -> Result<Option<Snapshot>> {
        let t = encode_taken_at(t)?;
        Ok(self
            .query_snapshots(
                &format!(
                    "{SNAPSHOT_SELECT} WHERE a.provider = ?1 AND a.name = ?2 \
                     AND s.failure IS NULL AND s.taken_at < ?3 ORDER BY s.id DESC LIMIT 1"
                ),
                params![provider.as_str(), account, t],
            )?
            .pop())
    }

    fn query_snapshots(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Snapshot>> {
        let err = |e| sqlite_error(&self.path, e);
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        let mut rows = stmt.query(params).map_err(err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(err)? {
            let id: i64 = r.get(0).map_err(err)?;
            let provider: String = r.get(1).map_err(err)?;
            let taken_at: String = r.get(3).map_err(err)?;
            let row_count: i64 = r.get(5).map_err(err)?;
            let damaged = |what: &str| {
                Error::new(
                    ErrorKind::Io,
                    format!("{}: snapshot {id}: {what}", self.path.display()),
                )
            };
            out.push(Snapshot {
                id: SnapshotId(id),
                provider: ProviderId::parse(&provider).ok_or_else(|| {
                    damaged(&format!("provider `{provider}` is unknown to this build"))
                })?,
                account: r.get(2).map_err(err)?,
                taken_at: decode_taken_at(&taken_at)
                    .ok_or_else(|| damaged(&format!("taken_at `{taken_at}` is not a time")))?,
                failure: r.get(4).map_err(err)?,
                row_count: u64::try_from(row_count).unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// A snapshot's rows exactly as recorded, ordered by backup id (byte order), then the n-th
    /// row with that id in the listing. `None` for a failed snapshot (it has no rows: never
    /// read it as an empty listing). An id the inventory no longer holds is an error.
    pub(crate) fn rows(&self, id: SnapshotId) -> Result<Option<Vec<Backup>>> {
        let err = |e| sqlite_error(&self.path, e);
        // One read transaction: the snapshot and its versions as of one moment.
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        let snapshot = self.snapshot(id)?.ok_or_else(|| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "{}: snapshot {id} is not in the inventory (pruned?)",
                    self.path.display()
                ),
            )
        })?;
        if !snapshot.is_ok() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT backup_id, occurrence, {COLUMNS} FROM version \
             WHERE account_id = (SELECT account_id FROM snapshot WHERE id = ?1) \
             AND last_snapshot IS NULL AND first_snapshot <= ?1 \
             UNION ALL \
             SELECT backup_id, occurrence, {COLUMNS} FROM version \
             WHERE account_id = (SELECT account_id FROM snapshot WHERE id = ?1) \
             AND last_snapshot >= ?1 AND first_snapshot <= ?1"
        );
        let mut stmt = tx.prepare(&sql).map_err(err)?;
        let mut found = stmt.query([id.0]).map_err(err)?;
        let mut out: Vec<(i64, Backup)> = Vec::with_capacity(snapshot.row_count as usize);
        while let Some(r) = found.next().map_err(err)? {
            let backup_id: String = r.get(0).map_err(err)?;
            let occurrence: i64 = r.get(1).map_err(err)?;
            let backup = rows::decode(
                r,
                2,
                snapshot.provider,
                &snapshot.account,
                backup_id.clone(),
            )
            .map_err(|why| {
                Error::new(
                    ErrorKind::Io,
                    format!(
                        "{}: snapshot {id}: backup {backup_id}: {why}",
                        self.path.display()
                    ),
                )
            })?;
            out.push((occurrence, backup));
        }
        drop(found);
        drop(stmt);
        drop(tx);
        out.sort_unstable_by(|a, b| (a.1.id.as_str(), a.0).cmp(&(b.1.id.as_str(), b.0)));
        Ok(Some(out.into_iter().map(|(_, b)| b).collect()))
    }

    /// Removes snapshots taken before `now - keep`, except each account's newest snapshot
    /// and newest successful one (the baselines of `diff` and `vanished`), and the versions
    /// no kept snapshot holds. The kept snapshots still rebuild exactly. One transaction.
    pub(crate) fn prune(&mut self, keep: chrono::Duration, now: DateTime<Utc>) -> Result<Pruned> {
        self.writable()?;
        let cutoff = now
            .checked_sub_signed(keep)
            .filter(|t| (0..=9999).contains(&t.year()))
            .map(|t| encode_taken_at(t).unwrap_or_default());
        let Some(cutoff) = cutoff else {
            // Before year 0: nothing is that old.
            return Ok(Pruned::default());
        };
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Per account: the largest id pruned, which bounds the versions that may go.
        let doomed = "FROM snapshot WHERE taken_at < ?1 \
             AND id NOT IN (SELECT max(id) FROM snapshot GROUP BY account_id) \
             AND id NOT IN (SELECT max(id) FROM snapshot WHERE failure IS NULL GROUP BY account_id)";
        let bounds: Vec<(i64, i64)> = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT account_id, max(id) {doomed} GROUP BY account_id"
                ))
                .map_err(err)?;
            let rows = stmt
                .query_map([&cutoff], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        let snapshots = tx
            .execute(&format!("DELETE {doomed}"), [&cutoff])
            .map_err(err)? as u64;
        let mut versions = 0;
        for (account_id, bound) in bounds {
            // A closed version ends at a successful snapshot of its account (see
            // write_versions); one ending after `bound` ends at a kept one, so only versions
            // ending at or before it can have lost every snapshot that held them.
            versions += tx
                .execute(
                    "DELETE FROM version WHERE account_id = ?1 AND last_snapshot <= ?2 \
                     AND NOT EXISTS (SELECT 1 FROM snapshot s WHERE s.account_id = ?1 \
                     AND s.failure IS NULL \
                     AND s.id BETWEEN version.first_snapshot AND version.last_snapshot)",
                    params![account_id, bound],
                )
                .map_err(err)? as u64;
        }
        tx.commit().map_err(err)?;
        Ok(Pruned {
            snapshots,
            versions,
        })
    }
}

/// The open versions of an account (`?1`): their keys and digests, answered from the index
/// `version_open` alone (a test checks the plan).
const OPEN_VERSIONS: &str = "SELECT id, backup_id, occurrence, digest FROM version \
     WHERE account_id = ?1 AND last_snapshot IS NULL";

/// Why writing versions failed.
enum Broken {
    Sqlite(rusqlite::Error),
    Inconsistent(&'static str),
}

impl From<rusqlite::Error> for Broken {
    fn from(e: rusqlite::Error) -> Broken {
        Broken::Sqlite(e)
    }
}

/// The account's row id (added on its first snapshot) and its newest successful snapshot,
/// the one a new snapshot's versions continue from.
fn account_row(
    tx: &rusqlite::Transaction<'_>,
    provider: ProviderId,
    account: &str,
) -> rusqlite::Result<(i64, Option<i64>)> {
    tx.execute(
        "INSERT OR IGNORE INTO account (provider, name) VALUES (?1, ?2)",
        params![provider.as_str(), account],
    )?;
    let account_id: i64 = tx.query_row(
        "SELECT id FROM account WHERE provider = ?1 AND name = ?2",
        params![provider.as_str(), account],
        |r| r.get(0),
    )?;
    let previous_ok: Option<i64> = tx.query_row(
        "SELECT max(id) FROM snapshot WHERE account_id = ?1 AND failure IS NULL",
        [account_id],
        |r| r.get(0),
    )?;
    Ok((account_id, previous_ok))
}

/// Writes the versions of snapshot `id` (successful) of `account_id`: a row equal to an open
/// version (same backup id and n-th occurrence, same column digest) keeps it open; every other
/// open version is closed at the previous successful snapshot, and every other row becomes
/// a new open version. Returns (versions added, versions closed).
fn write_versions(
    tx: &rusqlite::Transaction<'_>,
    account_id: i64,
    id: i64,
    previous_ok: Option<i64>,
    rows: &[Backup],
    columns: &[Columns<'_>],
) -> std::result::Result<(u64, u64), Broken> {
    let mut occurrences: HashMap<&str, u32> = HashMap::with_capacity(rows.len());
    let mut wanted: HashMap<(&str, u32), usize> = HashMap::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for (i, b) in rows.iter().enumerate() {
        let n = occurrences.entry(b.id.as_str()).or_default();
        wanted.insert((b.id.as_str(), *n), i);
        keys.push(*n);
        *n += 1;
    }
    let mut kept = vec![false; rows.len()];
    let mut close = Vec::new();
    {
        let mut stmt = tx.prepare(OPEN_VERSIONS)?;
        let mut open = stmt.query([account_id])?;
        while let Some(r) = open.next()? {
            let version: i64 = r.get(0)?;
            let backup_id = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            let occurrence = u32::try_from(r.get::<_, i64>(2)?).unwrap_or(u32::MAX);
            let digest = r.get_ref(3)?.as_blob().map_err(rusqlite::Error::from)?;
            match wanted.get(&(backup_id, occurrence)) {
                Some(&i) if !kept[i] && columns[i].digest == digest => kept[i] = true,
                _ => close.push(version),
            }
        }
    }
    if !close.is_empty() {
        // Open versions exist only after a successful snapshot, and pruning keeps the newest
        // successful one, so there is one to close them at.
        let Some(end) = previous_ok else {
            return Err(Broken::Inconsistent(
                "open versions without a successful snapshot",
            ));
        };
        let mut stmt = tx.prepare("UPDATE version SET last_snapshot = ?1 WHERE id = ?2")?;
        for version in &close {
            stmt.execute([end, *version])?;
        }
    }
    let placeholders = vec!["?"; 5 + COLUMN_COUNT].join(", ");
    let mut insert = tx.prepare(&format!(
        "INSERT INTO version (account_id, first_snapshot, backup_id, occurrence, digest, \
         {COLUMNS}) VALUES ({placeholders})"
    ))?;
    let mut added = 0;
    for (i, b) in rows.iter().enumerate().filter(|(i, _)| !kept[*i]) {
        let digest = &columns[i].digest[..];
        let key: [&dyn rusqlite::ToSql; 5] = [&account_id, &id, &b.id, &keys[i], &digest];
        let values = columns[i].params();
        insert.execute(rusqlite::params_from_iter(key.iter().chain(values.iter())))?;
        added += 1;
    }
    Ok((added, close.len() as u64))
}

/// `taken_at` as stored: RFC 3339 UTC with 9 fraction digits, so that text order is time
/// order. Years outside 0..=9999 are refused (they would not sort).
fn encode_taken_at(t: DateTime<Utc>) -> Result<String> {
    if !(0..=9999).contains(&t.year()) {
        return Err(Error::usage(format!(
            "inventory time {t} is outside the years 0 to 9999"
        )));
    }
    Ok(t.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

fn decode_taken_at(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
