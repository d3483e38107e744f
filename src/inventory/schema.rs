//! The inventory file: telling an inventory from any other file without writing to it, the
//! versioned migrations, and SQLite errors as the crate's error kinds (`docs/cli.md#the-inventory`:
//! a file that is not an inventory, or one written by a newer schema, is exit 2 and never modified;
//! a run that waited too long for another one is exit 3).

use std::fs::File;
use std::io::{ErrorKind as IoKind, Read};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Error, ErrorKind, Result};

/// `PRAGMA application_id` of an inventory ("bkup"): marks the file as ours, so a SQLite file
/// of another application is refused even when its `user_version` happens to be small.
pub(crate) const APPLICATION_ID: i32 = 0x626B_7570;

/// The migrations, in order: migration `n` (1-based) takes `user_version` from `n - 1` to
/// `n`. Append only; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[MIGRATION_1];

/// The schema version this build writes (`PRAGMA user_version`).
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Migration 1: accounts, snapshots, and backup rows as versions valid over a range of their
/// account's successful snapshots (a new version only when something in the row changed).
const MIGRATION_1: &str = "
CREATE TABLE account (
    id       INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,  -- `huawei`, `cf`, ... (ProviderId::as_str)
    name     TEXT NOT NULL,  -- the config account name
    UNIQUE (provider, name)
);

-- One row per recorded listing of one account. Ids only grow (AUTOINCREMENT: never reused
-- after pruning), in the order snapshots were recorded.
CREATE TABLE snapshot (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES account (id),
    taken_at   TEXT NOT NULL,  -- RFC 3339 UTC, 9 fraction digits, so text order is time order
    failure    TEXT,           -- NULL: the listing completed; else why it failed (no rows)
    row_count  INTEGER NOT NULL
);
CREATE INDEX snapshot_by_account ON snapshot (account_id);

-- A backup row as it was over a range of its account's snapshots: it is in every successful
-- snapshot S of the account with first_snapshot <= S.id <= last_snapshot (last_snapshot NULL:
-- it is still in the newest successful one). Failed snapshots have no rows, so they never end
-- a range; a backup that leaves and comes back gets a second version.
CREATE TABLE version (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES account (id),
    first_snapshot  INTEGER NOT NULL,
    last_snapshot   INTEGER,
    backup_id       TEXT NOT NULL,
    occurrence      INTEGER NOT NULL,  -- 0; n for the (n+1)th row with this id in one listing
    name            TEXT,
    status          TEXT NOT NULL,     -- normalised (Status::as_str)
    provider_status TEXT,
    resource_type   TEXT,
    resource_id     TEXT,
    resource_name   TEXT,
    size_bytes,                        -- no type (no conversion): INTEGER, or decimal TEXT above 2^63 - 1
    created_at      TEXT,              -- as printed (vendor fraction digits), or @secs.nanos/digits
    updated_at      TEXT,
    expires_at      TEXT,
    incremental     INTEGER,
    description     TEXT,
    location        TEXT,
    parent_id       TEXT,
    extra           TEXT NOT NULL,     -- compact JSON object
    digest          BLOB NOT NULL      -- 16 bytes of SHA-256 over the columns above (rows.rs)
);
-- The open versions' keys and digests: recording compares a listing with these alone.
CREATE INDEX version_open ON version (account_id, backup_id, occurrence, digest)
    WHERE last_snapshot IS NULL;
-- Versions by where their range ends: loading a snapshot, pruning.
CREATE INDEX version_by_range ON version (account_id, last_snapshot);
";

/// What is at the path before anything is written to it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileState {
    /// No file: a new inventory.
    Missing,
    /// A file of 0 bytes: a new inventory (`docs/cli.md#the-inventory`).
    Empty,
    /// A SQLite file; whether it is an inventory is for [`classify`] to say.
    Sqlite,
}

/// Looks at the file's first bytes only (no SQLite, no write): missing, empty, or SQLite;
/// anything else is not an inventory.
pub(crate) fn check_file(path: &Path) -> Result<FileState> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(FileState::Missing),
        Err(e) => return Err(io_error(path, "cannot read", e)),
    };
    if meta.is_dir() {
        return Err(not_an_inventory(path, "it is a directory"));
    }
    if meta.len() == 0 {
        return Ok(FileState::Empty);
    }
    let mut header = [0u8; 100];
    let mut file = File::open(path).map_err(|e| io_error(path, "cannot read", e))?;
    let mut got = 0;
    while got < header.len() {
        match file.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => return Err(io_error(path, "cannot read", e)),
        }
    }
    if got < header.len() || !header.starts_with(b"SQLite format 3\0") {
        return Err(not_an_inventory(path, "it is not a SQLite database"));
    }
    Ok(FileState::Sqlite)
}

/// What a SQLite database holds, as far as the inventory is concerned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Contents {
    /// No schema at all (a fresh or empty database): becomes an inventory.
    Blank,
    /// An inventory at this schema version (at most [`SCHEMA_VERSION`]).
    Inventory(u32),
}

/// Reads the marks of an open database (reads only): an inventory of a version this build
/// knows, a blank database, or an error (another application's file, a newer schema).
pub(crate) fn classify(conn: &Connection, path: &Path) -> Result<Contents> {
    // One statement, so one read snapshot: read one by one, the three could straddle another
    // run's commit of the schema and look like nobody's database.
    let (app, version, objects): (i32, i64, i64) = conn
        .query_row(
            "SELECT (SELECT application_id FROM pragma_application_id), \
                    (SELECT user_version FROM pragma_user_version), \
                    (SELECT count(*) FROM sqlite_schema \
                     WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| sqlite_error(path, e))?;
    if app == APPLICATION_ID {
        return match u32::try_from(version) {
            Ok(v) if (1..=SCHEMA_VERSION).contains(&v) => Ok(Contents::Inventory(v)),
            Ok(v) if v > SCHEMA_VERSION => Err(Error::config(format!(
                "{}: written by a newer version of backups (inventory schema {v}; this build \
                 knows up to {SCHEMA_VERSION}); left untouched",
                path.display()
            ))),
            _ => Err(not_an_inventory(
                path,
                &format!("it has an unknown schema version {version}"),
            )),
        };
    }
    if app == 0 && version == 0 && objects == 0 {
        return Ok(Contents::Blank);
    }
    Err(not_an_inventory(
        path,
        "it is a SQLite database of another application",
    ))
}

/// Brings a database that [`classify`] accepted to [`SCHEMA_VERSION`], in one transaction that
/// checks again under the write lock (another run may have created or upgraded it meanwhile).
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    if classify(conn, path)? == Contents::Inventory(SCHEMA_VERSION) {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| sqlite_error(path, e))?;
    let from = match classify(&tx, path)? {
        Contents::Blank => 0,
        Contents::Inventory(v) => v,
    };
    for sql in &MIGRATIONS[from as usize..] {
        tx.execute_batch(sql).map_err(|e| sqlite_error(path, e))?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .and_then(|()| tx.pragma_update(None, "user_version", SCHEMA_VERSION))
        .and_then(|()| tx.commit())
        .map_err(|e| sqlite_error(path, e))
}

/// Opens a connection with the busy timeout set before anything else, so every step waits
/// for another run's write the same way.
pub(crate) fn connect(path: &Path, flags: OpenFlags, busy: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
    conn.busy_timeout(busy).map_err(|e| sqlite_error(path, e))?;
    Ok(conn)
}

/// Switches to WAL mode, waiting up to `busy` for other runs. The switch reads the file
/// (a shared lock) and then needs it alone: two runs opening one new file at once both hold
/// the shared lock, and SQLite answers the second upgrade with "busy" at once instead of
/// calling the busy handler (it would deadlock). So a busy answer is retried here, with a
/// little jitter, until the same timeout every other step waits.
pub(crate) fn wal_mode(conn: &Connection, path: &Path, busy: Duration) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && started.elapsed() < busy =>
            {
                std::thread::sleep(Duration::from_millis(5 + fastrand::u64(0..20)));
            }
            Err(e) => return Err(sqlite_error(path, e)),
        }
    }
}

/// `PATH: not an inventory (why); left untouched` (exit 2).
pub(crate) fn not_an_inventory(path: &Path, why: &str) -> Error {
    Error::config(format!(
        "{}: not a backups inventory ({why}); left untouched",
        path.display()
    ))
}

/// A local I/O failure on the inventory (exit 3).
pub(crate) fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{}: {what}: {e}", path.display())).with_source(e)
}

/// A SQLite error as the crate's error, naming the file: busy (another run kept the write
/// lock past the timeout) and I/O are exit 3; a file SQLite cannot read as a database is
/// exit 2, like any other file that is not an inventory.
pub(crate) fn sqlite_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    let p = path.display();
    let (kind, message) = match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => (
            ErrorKind::Io,
            format!("{p}: the inventory is busy: another run kept it locked past the busy timeout"),
        ),
        Some(C::NotADatabase) => (
            ErrorKind::Config,
            format!("{p}: not a backups inventory (SQLite cannot read it as a database); left untouched"),
        ),
        Some(C::DatabaseCorrupt) => (
            ErrorKind::Config,
            format!("{p}: the inventory is damaged ({e})"),
        ),
        _ => (ErrorKind::Io, format!("{p}: inventory: {e}")),
    };
    Error::new(kind, message).with_source(e)
}
