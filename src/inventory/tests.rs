//! The inventory against real files: schema, exact rebuilds across changes and gaps, growth,
//! refusing files that are not inventories without touching them, concurrency, interrupted
//! writes and pruning. The comparisons have their own tests in `compare`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

use super::*;
use crate::model::{Extra, Field, Status, Timestamp};

const HW: ProviderId = ProviderId::Huawei;

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap() + chrono::Duration::days(n)
}

/// A row with every field set, the awkward values included: a size above `i64::MAX`, times
/// with 6 and 0 fraction digits and one past year 9999, nested `extra`.
fn full(id: &str, status: Status) -> Backup {
    let mut b = Backup::new(HW, "hw", id.to_string(), status);
    b.name = Some(format!("autobk_{id}"));
    b.provider_status = Some(status.as_str().to_uppercase());
    b.resource_type = Some("volume".into());
    b.resource_id = Some("vol-1".into());
    b.resource_name = Some("disk one".into());
    b.size_bytes = Some(u64::MAX);
    b.created_at = Timestamp::parse_vendor("2020-02-21T07:00:54.065135");
    b.updated_at = Timestamp::parse_vendor("2020-02-21T07:07:25Z");
    b.expires_at = Timestamp::from_unix(999_999_999_999);
    b.incremental = Some(false);
    b.description = Some("nightly \"full\"\n".into());
    b.location = Some("br-iaas-odin1a".into());
    b.parent_id = Some("p1".into());
    b.extra = Extra::from_json(r#"{"vault_id":"v1","n":1.50,"nested":{"a":[1,null,"x"]}}"#.into())
        .unwrap();
    b
}

/// A row with only the always-present fields.
fn bare(id: &str) -> Backup {
    Backup::new(HW, "hw", id.to_string(), Status::Available)
}

fn sorted(rows: &[Backup]) -> Vec<Backup> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

fn record(inv: &mut Inventory, at: DateTime<Utc>, rows: &[Backup]) -> Recorded {
    inv.record(HW, "hw", at, Listing::Complete(rows)).unwrap()
}

fn count(path: &Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    (dir, path)
}

#[test]
fn creates_the_schema_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/backups/inventory.db");
    let inv = Inventory::open(&path).unwrap();
    assert!(inv.accounts().unwrap().is_empty());
    let raw = Connection::open(&path).unwrap();
    let pragma = |name: &str| -> String {
        raw.pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| match v {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
    };
    assert_eq!(pragma("user_version"), SCHEMA_VERSION.to_string());
    assert_eq!(pragma("application_id"), schema::APPLICATION_ID.to_string());
    assert_eq!(pragma("journal_mode"), "wal");
    let mut stmt = raw
        .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        names,
        [
            "account",
            "snapshot",
            "snapshot_by_account",
            "version",
            "version_by_range",
            "version_open",
        ]
    );
}

#[test]
fn reopening_an_inventory_keeps_it() {
    let (_dir, path) = temp();
    let first = {
        let mut inv = Inventory::open(&path).unwrap();
        record(&mut inv, day(0), &[full("a", Status::Available)]).snapshot
    };
    let before = std::fs::read(&path).unwrap();
    let inv = Inventory::open(&path).unwrap();
    assert_eq!(
        inv.snapshots(HW, "hw").unwrap(),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        inv.rows(first.id).unwrap(),
        Some(vec![full("a", Status::Available)])
    );
    drop(inv);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "opening wrote nothing"
    );
}

#[test]
fn rebuilds_every_snapshot_exactly_across_changes_and_gaps() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let a = full("a", Status::Available);
    let b = full("b", Status::Creating);
    let b2 = full("b", Status::Available);
    let c = bare("c");
    let mut c2 = bare("c");
    c2.extra = Extra::from_json(r#"{"k":"v"}"#.into()).unwrap();
    let d = full("d", Status::Error);
    let mut a_time = a.clone();
    // Only the fraction digits differ: 54.065135 vs 54.0651350.
    a_time.created_at = Timestamp::parse_vendor("2020-02-21T07:00:54.0651350");
    let listings: Vec<Option<Vec<Backup>>> = vec![
        Some(vec![a.clone(), b.clone(), c.clone()]),
        Some(vec![b2.clone(), a.clone(), d.clone()]), // b changed, c gone, d new
        None,                                         // failed
        Some(vec![a.clone(), c.clone(), b2.clone()]), // c back after a gap, d gone
        Some(vec![]),                                 // an account with no backups
        Some(vec![a_time.clone(), c2.clone(), d.clone()]),
        Some(vec![a_time.clone(), c2.clone(), d.clone()]),
    ];
    let mut ids = Vec::new();
    for (i, listing) in listings.iter().enumerate() {
        let recorded = match listing {
            Some(rows) => record(&mut inv, day(i as i64), rows),
            None => inv
                .record(HW, "hw", day(i as i64), Listing::Failed("HTTP 503"))
                .unwrap(),
        };
        ids.push(recorded.snapshot.id);
    }
    for (id, listing) in ids.iter().zip(&listings) {
        assert_eq!(
            inv.rows(*id).unwrap(),
            listing.as_deref().map(sorted),
            "snapshot {id}"
        );
    }
    let snapshots = inv.snapshots(HW, "hw").unwrap();
    let summary: Vec<(i64, bool, u64)> = snapshots
        .iter()
        .map(|s| (s.id.0, s.is_ok(), s.row_count))
        .collect();
    assert_eq!(
        summary,
        [
            (1, true, 3),
            (2, true, 3),
            (3, false, 0),
            (4, true, 3),
            (5, true, 0),
            (6, true, 3),
            (7, true, 3)
        ]
    );
    assert_eq!(snapshots[2].failure.as_deref(), Some("HTTP 503"));
    assert_eq!(snapshots[0].taken_at, day(0));
    // a, b, c, b2, d, c (again), a_time, c2, d (again).
    assert_eq!(count(&path, "version"), 9);
}

#[test]
fn an_unchanged_listing_adds_no_versions() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let rows: Vec<Backup> = (0..50)
        .map(|i| full(&format!("b{i:03}"), Status::Available))
        .collect();
    let first = record(&mut inv, day(0), &rows);
    assert_eq!((first.versions_added, first.versions_closed), (50, 0));
    let mut shuffled = rows.clone();
    shuffled.reverse();
    for n in 1..5 {
        let again = record(&mut inv, day(n), &shuffled);
        assert_eq!((again.versions_added, again.versions_closed), (0, 0));
    }
    assert_eq!(count(&path, "version"), 50);
    assert_eq!(count(&path, "snapshot"), 5);
    // One change: one version closed, one added.
    shuffled[7].status = Status::Deleting;
    let changed = record(&mut inv, day(6), &shuffled);
    assert_eq!((changed.versions_added, changed.versions_closed), (1, 1));
    assert_eq!(inv.rows(first.snapshot.id).unwrap(), Some(rows.clone()));
    assert_eq!(
        inv.rows(changed.snapshot.id).unwrap(),
        Some(sorted(&shuffled))
    );
}

#[test]
fn a_failed_snapshot_keeps_ranges_and_is_never_an_empty_listing() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let rows = vec![full("a", Status::Available), bare("b")];
    let first = record(&mut inv, day(0), &rows);
    let failed = inv
        .record(
            HW,
            "hw",
            day(1),
            Listing::Failed("hw: GET /v3/p/backups: HTTP 500: boom"),
        )
        .unwrap();
    assert_eq!((failed.versions_added, failed.versions_closed), (0, 0));
    assert_eq!(failed.snapshot.row_count, 0);
    assert_eq!(inv.rows(failed.snapshot.id).unwrap(), None);
    let third = record(&mut inv, day(2), &rows);
    assert_eq!((third.versions_added, third.versions_closed), (0, 0));
    assert_eq!(count(&path, "version"), 2);
    for id in [first.snapshot.id, third.snapshot.id] {
        assert_eq!(inv.rows(id).unwrap(), Some(rows.clone()));
    }
    // The baseline of `vanished` skips the failed snapshot.
    let base = inv.newest_ok_before(HW, "hw", day(2)).unwrap().unwrap();
    assert_eq!(base.id, first.snapshot.id);
}

#[test]
fn accounts_are_kept_apart() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let mut other = full("a", Status::Error);
    other.account = "hw-2".into();
    let mut cf = bare("a");
    cf.provider = ProviderId::Cf;
    let s1 = record(&mut inv, day(0), &[full("a", Status::Available)]).snapshot;
    let s2 = inv
        .record(
            HW,
            "hw-2",
            day(0),
            Listing::Complete(std::slice::from_ref(&other)),
        )
        .unwrap()
        .snapshot;
    let s3 = inv
        .record(
            ProviderId::Cf,
            "hw",
            day(0),
            Listing::Complete(std::slice::from_ref(&cf)),
        )
        .unwrap()
        .snapshot;
    // Recording one account never closes another's versions.
    let s4 = record(&mut inv, day(1), &[full("a", Status::Available)]);
    assert_eq!((s4.versions_added, s4.versions_closed), (0, 0));
    assert_eq!(
        inv.rows(s1.id).unwrap(),
        Some(vec![full("a", Status::Available)])
    );
    assert_eq!(inv.rows(s2.id).unwrap(), Some(vec![other]));
    assert_eq!(inv.rows(s3.id).unwrap(), Some(vec![cf]));
    let accounts = inv.accounts().unwrap();
    let got: Vec<(ProviderId, &str)> = accounts
        .iter()
        .map(|a| (a.provider, a.account.as_str()))
        .collect();
    assert_eq!(got, [(ProviderId::Cf, "hw"), (HW, "hw"), (HW, "hw-2")]);
    assert!(inv.snapshots(HW, "nobody").unwrap().is_empty());
    assert_eq!(inv.newest_ok_before(HW, "nobody", day(9)).unwrap(), None);
}

#[test]
fn rows_of_another_account_are_refused() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let mut stray = bare("x");
    stray.account = "other".into();
    let err = inv
        .record(HW, "hw", day(0), Listing::Complete(&[bare("a"), stray]))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot record backup x of huawei/other as a row of huawei/hw",
            path.display()
        )
    );
    assert_eq!(count(&path, "snapshot"), 0);
}

#[test]
fn queries_by_time() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let s0 = record(&mut inv, day(0), &[bare("a")]).snapshot;
    let s1 = record(&mut inv, day(1), &[bare("a")]).snapshot;
    // A failed snapshot is never the baseline.
    inv.record(HW, "hw", day(2), Listing::Failed("x")).unwrap();
    let ids = |s: Option<Snapshot>| s.map(|s| s.id);
    assert_eq!(
        ids(inv.newest_ok_before(HW, "hw", day(1)).unwrap()),
        Some(s0.id)
    );
    assert_eq!(
        ids(inv.newest_ok_before(HW, "hw", day(5)).unwrap()),
        Some(s1.id)
    );
    assert_eq!(ids(inv.newest_ok_before(HW, "hw", day(0)).unwrap()), None);
    assert_eq!(inv.snapshot(s1.id).unwrap(), Some(s1));
    assert_eq!(inv.snapshot(SnapshotId(99)).unwrap(), None);
    let err = inv.rows(SnapshotId(99)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: snapshot 99 is not in the inventory (pruned?)",
            path.display()
        )
    );
}

#[test]
fn a_text_file_is_refused_untouched() {
    let (_dir, path) = temp();
    let cases: [&[u8]; 4] = [
        b"[accounts.hw]\nprovider = \"huawei\"\n",
        b"SQLite format 3\0short",
        &[0u8; 4096],
        b"x",
    ];
    for bytes in cases {
        std::fs::write(&path, bytes).unwrap();
        for read_only in [false, true] {
            let options = OpenOptions {
                read_only,
                ..OpenOptions::default()
            };
            let err = Inventory::open_with(&path, &options).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Config);
            assert_eq!(err.exit_code(), 2);
            assert!(
                err.to_string()
                    .starts_with(&format!("{}: not a backups inventory (", path.display())),
                "{err}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let err = Inventory::open(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not a backups inventory (it is a directory); left untouched",
            dir.path().display()
        )
    );
}

/// Creates a SQLite file with `sql` run in it, closed (so no journal is left).
fn sqlite_file(path: &Path, sql: &str) -> Vec<u8> {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    std::fs::read(path).unwrap()
}

fn siblings(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_sqlite_file_of_another_application_is_refused_untouched() {
    let cases = [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'x');",
        // Our table names, but not our mark.
        "CREATE TABLE account (id INTEGER PRIMARY KEY); PRAGMA user_version = 1;",
        // Another application's mark on an empty database.
        "PRAGMA application_id = 42;",
        // A WAL-mode database of another application.
        "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);",
    ];
    for sql in cases {
        let (_dir, path) = temp();
        let before = sqlite_file(&path, sql);
        let files = siblings(&path);
        for read_only in [false, true] {
            let options = OpenOptions {
                read_only,
                ..OpenOptions::default()
            };
            let err = Inventory::open_with(&path, &options).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Config, "{sql}");
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: not a backups inventory (it is a SQLite database of another \
                     application); left untouched",
                    path.display()
                )
            );
            assert_eq!(std::fs::read(&path).unwrap(), before, "{sql}");
            // Reading a WAL-mode database leaves its (empty) -wal and -shm files, as any
            // reader does; nothing else appears.
            let mut now = siblings(&path);
            if sql.contains("WAL") {
                let wal = path.with_extension("db-wal");
                assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
                now.retain(|f| !f.ends_with("-wal") && !f.ends_with("-shm"));
            }
            assert_eq!(now, files, "{sql}");
        }
    }
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let (_dir, path) = temp();
    {
        let mut inv = Inventory::open(&path).unwrap();
        record(&mut inv, day(0), &[full("a", Status::Available)]);
    }
    {
        let raw = Connection::open(&path).unwrap();
        raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    for read_only in [false, true] {
        let options = OpenOptions {
            read_only,
            ..OpenOptions::default()
        };
        let err = Inventory::open_with(&path, &options).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert_eq!(
            err.to_string(),
            format!(
                "{}: written by a newer version of backups (inventory schema {}; this build \
                 knows up to {SCHEMA_VERSION}); left untouched",
                path.display(),
                SCHEMA_VERSION + 1
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}

#[test]
fn an_empty_file_or_an_empty_database_is_a_new_inventory() {
    let (_dir, path) = temp();
    std::fs::write(&path, b"").unwrap();
    let mut inv = Inventory::open(&path).unwrap();
    record(&mut inv, day(0), &[bare("a")]);
    drop(inv);
    assert_eq!(count(&path, "snapshot"), 1);

    let (_dir, path) = temp();
    sqlite_file(&path, "VACUUM;");
    let mut inv = Inventory::open(&path).unwrap();
    record(&mut inv, day(0), &[bare("a")]);
    assert_eq!(inv.snapshots(HW, "hw").unwrap().len(), 1);
}

#[test]
fn read_only_creates_nothing_and_writes_nothing() {
    let (dir, path) = temp();
    let options = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    let mut inv = Inventory::open_with(&path, &options).unwrap();
    assert!(inv.accounts().unwrap().is_empty());
    assert!(inv.snapshots(HW, "hw").unwrap().is_empty());
    let err = inv
        .record(HW, "hw", day(0), Listing::Complete(&[]))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
    assert_eq!(
        err.to_string(),
        format!("{}: the inventory was opened read-only", path.display())
    );
    assert_eq!(
        inv.prune(DEFAULT_KEEP, day(0)).unwrap_err().kind,
        ErrorKind::Usage
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());

    std::fs::write(&path, b"").unwrap();
    Inventory::open_with(&path, &options).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"");

    let mut inv = Inventory::open(&path).unwrap();
    let s = record(&mut inv, day(0), &[bare("a")]).snapshot;
    drop(inv);
    let inv = Inventory::open_with(&path, &options).unwrap();
    assert_eq!(inv.rows(s.id).unwrap(), Some(vec![bare("a")]));
}

#[test]
fn two_writers_at_once_both_succeed_and_lose_nothing() {
    let (_dir, path) = temp();
    // Both open the same new file at once, too.
    let barrier = std::sync::Barrier::new(2);
    let rows_of = |writer: usize, n: usize| -> Vec<Backup> {
        (0..20)
            .map(|i| {
                let mut b = full(&format!("b{i:02}"), Status::Available);
                // Each writer's listings differ, so interleaving changes versions.
                if i % 4 == writer {
                    b.status = Status::Deleting;
                }
                b.size_bytes = Some((n % 3) as u64);
                b
            })
            .collect()
    };
    let recorded: Vec<Vec<(SnapshotId, Vec<Backup>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|writer| {
                let (path, barrier) = (&path, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let mut inv = Inventory::open(path).unwrap();
                    (0..15)
                        .map(|n| {
                            let rows = rows_of(writer, n);
                            let id = record(&mut inv, day(n as i64), &rows).snapshot.id;
                            (id, rows)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let inv = Inventory::open(&path).unwrap();
    assert_eq!(inv.snapshots(HW, "hw").unwrap().len(), 30);
    for (id, rows) in recorded.iter().flatten() {
        assert_eq!(inv.rows(*id).unwrap(), Some(rows.clone()), "snapshot {id}");
    }
}

#[test]
fn a_writer_blocked_past_the_busy_timeout_fails_with_exit_3() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open_with(
        &path,
        &OpenOptions {
            busy_timeout: Duration::from_millis(50),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    record(&mut inv, day(0), &[bare("a")]);
    let mut other = Connection::open(&path).unwrap();
    let holder = other
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let err = inv
        .record(HW, "hw", day(1), Listing::Complete(&[bare("b")]))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert_eq!(err.exit_code(), 3);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the inventory is busy: another run kept it locked past the busy timeout",
            path.display()
        )
    );
    // Reading goes on meanwhile (WAL), and nothing of the failed run is there.
    assert_eq!(inv.snapshots(HW, "hw").unwrap().len(), 1);
    drop(holder);
    record(&mut inv, day(1), &[bare("b")]);
    assert_eq!(inv.snapshots(HW, "hw").unwrap().len(), 2);
}

#[test]
fn a_dropped_transaction_leaves_the_previous_state() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let rows: Vec<Backup> = (0..100)
        .map(|i| full(&format!("b{i}"), Status::Available))
        .collect();
    let first = record(&mut inv, day(0), &rows).snapshot;
    {
        let tx = inv
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        tx.execute(
            "INSERT INTO snapshot (account_id, taken_at, failure, row_count) VALUES (1, 'x', NULL, 1)",
            [],
        )
        .unwrap();
        let changed: Vec<Backup> = rows
            .iter()
            .map(|b| Backup {
                status: Status::Error,
                ..b.clone()
            })
            .collect();
        let columns: Vec<Columns<'_>> = changed.iter().map(Columns::new).collect();
        assert!(write_versions(&tx, 1, 2, Some(1), &changed, &columns).is_ok());
        // Dropped without commit.
    }
    assert_eq!(
        inv.snapshots(HW, "hw").unwrap(),
        std::slice::from_ref(&first)
    );
    assert_eq!(inv.rows(first.id).unwrap(), Some(sorted(&rows)));
    let next = record(&mut inv, day(1), &rows);
    assert_eq!((next.versions_added, next.versions_closed), (0, 0));
}

/// Env var naming the inventory the child writer of the test below works on.
const CHILD_ENV: &str = "BACKUPS_INVENTORY_TEST_CHILD";

/// Run as a child process by `a_writer_killed_mid_transaction_leaves_the_previous_state`:
/// writes most of a snapshot, says so with a marker file, then waits to be killed. Does
/// nothing in a normal test run.
#[test]
#[ignore = "a helper process of another test"]
fn child_writer_stops_mid_transaction() {
    let Some(path) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let mut inv = Inventory::open(&path).unwrap();
    // A small page cache, so the uncommitted pages spill into the WAL file.
    inv.conn.pragma_update(None, "cache_size", 8).unwrap();
    let rows: Vec<Backup> = (0..2000)
        .map(|i| full(&format!("n{i}"), Status::Available))
        .collect();
    let columns: Vec<Columns<'_>> = rows.iter().map(Columns::new).collect();
    let tx = inv
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.execute(
        "INSERT INTO snapshot (account_id, taken_at, failure, row_count) VALUES (1, '2026-11-09T00:00:00.000000000Z', NULL, 2000)",
        [],
    )
    .unwrap();
    let id = tx.last_insert_rowid();
    assert!(write_versions(&tx, 1, id, Some(1), &rows, &columns).is_ok());
    std::fs::write(path.with_extension("marker"), b"in transaction").unwrap();
    std::thread::sleep(Duration::from_secs(120));
    unreachable!("the parent kills this process");
}

#[test]
fn a_writer_killed_mid_transaction_leaves_the_previous_state() {
    let (_dir, path) = temp();
    let rows: Vec<Backup> = (0..10)
        .map(|i| full(&format!("b{i}"), Status::Available))
        .collect();
    let first = {
        let mut inv = Inventory::open(&path).unwrap();
        record(&mut inv, day(0), &rows).snapshot
    };
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "inventory::tests::child_writer_stops_mid_transaction",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let marker = path.with_extension("marker");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child writer ended early: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child writer never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let wal = std::fs::metadata(path.with_extension("db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        wal > 100_000,
        "uncommitted pages reached the WAL ({wal} bytes)"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let mut inv = Inventory::open(&path).unwrap();
    assert_eq!(
        inv.snapshots(HW, "hw").unwrap(),
        std::slice::from_ref(&first)
    );
    assert_eq!(inv.rows(first.id).unwrap(), Some(sorted(&rows)));
    let next = record(&mut inv, day(1), &rows);
    assert_eq!((next.versions_added, next.versions_closed), (0, 0));
    assert_eq!(count(&path, "version"), 10);
}

#[test]
fn prune_keeps_what_it_keeps_exact() {
    let (_dir, path) = temp();
    let mut inv = Inventory::open(&path).unwrap();
    let mut listings = Vec::new();
    for n in 0..10 {
        // Each day one backup appears and the one from 3 days ago goes; b-keep stays.
        let mut rows: Vec<Backup> = (n.max(3) - 3..=n).map(|k| bare(&format!("b{k}"))).collect();
        rows.push(full("keep", Status::Available));
        if n == 5 {
            inv.record(HW, "hw", day(n), Listing::Failed("x")).unwrap();
            listings.push(None);
            continue;
        }
        record(&mut inv, day(n), &rows);
        listings.push(Some(rows));
    }
    // A quiet account recorded long ago: its newest and newest successful snapshots stay.
    let quiet = inv
        .record(HW, "quiet", day(-500), Listing::Complete(&[]))
        .unwrap()
        .snapshot;
    let quiet_failed = inv
        .record(HW, "quiet", day(-499), Listing::Failed("x"))
        .unwrap()
        .snapshot;
    let versions_before = count(&path, "version");
    let pruned = inv.prune(chrono::Duration::days(3), day(9)).unwrap();
    // Days 0 to 5 go (taken before day 6); b0..b2 lived only then.
    assert_eq!(
        pruned,
        Pruned {
            snapshots: 6,
            versions: 3
        }
    );
    assert_eq!(count(&path, "version"), versions_before - 3);
    let kept = inv.snapshots(HW, "hw").unwrap();
    assert_eq!(
        kept.iter().map(|s| s.taken_at).collect::<Vec<_>>(),
        [day(6), day(7), day(8), day(9)]
    );
    for (s, listing) in kept.iter().zip(&listings[6..]) {
        assert_eq!(inv.rows(s.id).unwrap(), listing.as_deref().map(sorted));
    }
    assert_eq!(inv.snapshots(HW, "quiet").unwrap(), [quiet, quiet_failed]);
    // Again: nothing more to do; recording goes on from the kept state.
    assert_eq!(
        inv.prune(chrono::Duration::days(3), day(9)).unwrap(),
        Pruned::default()
    );
    let next = record(&mut inv, day(10), listings[9].as_ref().unwrap());
    assert_eq!((next.versions_added, next.versions_closed), (0, 0));
    // Keep nothing: the newest snapshot stays, whole.
    inv.prune(chrono::Duration::zero(), day(20)).unwrap();
    let last = inv.snapshots(HW, "hw").unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(
        inv.rows(last[0].id).unwrap(),
        listings[9].as_deref().map(sorted)
    );
    assert_eq!(
        count(&path, "version") as usize,
        listings[9].as_ref().unwrap().len()
    );
}

#[test]
fn default_path_follows_xdg() {
    let p =
        |x: Option<&str>, h: Option<&str>| default_path_from(x.map(Into::into), h.map(Into::into));
    assert_eq!(
        p(Some("/data"), Some("/home/u")),
        Some(PathBuf::from("/data/backups/inventory.db"))
    );
    assert_eq!(
        p(Some("relative"), Some("/home/u")),
        Some(PathBuf::from("/home/u/.local/share/backups/inventory.db"))
    );
    assert_eq!(
        p(None, Some("/home/u")),
        Some(PathBuf::from("/home/u/.local/share/backups/inventory.db"))
    );
    assert_eq!(p(Some(""), Some("")), None);
    assert_eq!(p(None, None), None);
}

/// Property: any sequence of listings (rows drawn from a pool, so rows recur unchanged,
/// change, leave and come back, and ids repeat within a listing), failed ones included,
/// rebuilds exactly, before and after pruning all but the newest.
mod properties {
    use super::*;
    use crate::providers::arbitrary;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z]{0,6}", any::<String>(), Just(String::new())]
    }

    fn time() -> impl Strategy<Value = Timestamp> {
        prop_oneof![
            (
                -62_135_596_800i64..=253_402_300_799,
                0u32..1_000_000_000,
                0u8..=9
            )
                .prop_map(|(secs, nanos, digits)| {
                    let unit = 10u32.pow(9 - u32::from(digits));
                    Timestamp::new(
                        DateTime::from_timestamp(secs, nanos / unit * unit).unwrap(),
                        digits,
                    )
                }),
            // Anything chrono holds, printed digits or not.
            (any::<i32>(), 0u32..1_000_000_000, 0u8..=12).prop_filter_map(
                "in chrono's range",
                |(secs, nanos, digits)| {
                    DateTime::from_timestamp(i64::from(secs) * 4096, nanos)
                        .map(|t| Timestamp::new(t, digits))
                }
            ),
            // Seconds up to 10^12 (year 33658), then milliseconds.
            (-(1i64 << 43)..(1i64 << 43)).prop_filter_map("a unix time", Timestamp::from_unix),
        ]
    }

    fn backup() -> impl Strategy<Value = Backup> {
        let ids = prop::sample::select(vec!["a", "b", "c", "d", "\u{e9}", ""]);
        let texts = (
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
        );
        let others = (
            prop::sample::select(Status::ALL.to_vec()),
            prop::option::of(prop_oneof![any::<u64>(), Just(u64::MAX), Just(0u64)]),
            prop::option::of(time()),
            prop::option::of(time()),
            prop::option::of(time()),
            prop::option::of(any::<bool>()),
            arbitrary::any_json(),
        );
        (ids, texts, others).prop_map(|(id, t, o)| {
            let mut b = Backup::new(HW, "hw", id.to_string(), o.0);
            (b.name, b.provider_status, b.resource_type, b.resource_id) = (t.0, t.1, t.2, t.3);
            (b.resource_name, b.description, b.location, b.parent_id) = (t.4, t.5, t.6, t.7);
            (
                b.size_bytes,
                b.created_at,
                b.updated_at,
                b.expires_at,
                b.incremental,
            ) = (o.1, o.2, o.3, o.4, o.5);
            b.extra = match o.6 {
                serde_json::Value::Object(m) => m.into(),
                other => std::iter::once(("v".to_string(), other))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            };
            b
        })
    }

    /// `b` with one field taken from `other`.
    fn with_field(b: &Backup, other: &Backup, field: Field) -> Backup {
        let mut out = b.clone();
        let o = other.clone();
        match field {
            Field::Provider | Field::Account => {}
            Field::Id => out.id = o.id,
            Field::Name => out.name = o.name,
            Field::Status => out.status = o.status,
            Field::ProviderStatus => out.provider_status = o.provider_status,
            Field::ResourceType => out.resource_type = o.resource_type,
            Field::ResourceId => out.resource_id = o.resource_id,
            Field::ResourceName => out.resource_name = o.resource_name,
            Field::SizeBytes => out.size_bytes = o.size_bytes,
            Field::CreatedAt => out.created_at = o.created_at,
            Field::UpdatedAt => out.updated_at = o.updated_at,
            Field::ExpiresAt => out.expires_at = o.expires_at,
            Field::Incremental => out.incremental = o.incremental,
            Field::Description => out.description = o.description,
            Field::Location => out.location = o.location,
            Field::ParentId => out.parent_id = o.parent_id,
            Field::Extra => out.extra = o.extra,
        }
        out
    }

    /// A pool of rows, and listings as indexes into it (`None`: a failed listing). The pool
    /// holds rows that differ from another in one field only, so that listings change one
    /// field of a backup at a time.
    fn history() -> impl Strategy<Value = (Vec<Backup>, Vec<Option<Vec<usize>>>)> {
        let variants = prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                prop::sample::select(Field::ALL.to_vec()),
            ),
            0..8,
        );
        (prop::collection::vec(backup(), 1..5), variants).prop_flat_map(|(bases, variants)| {
            let mut pool = bases.clone();
            for (base, other, field) in variants {
                pool.push(with_field(base.get(&bases), other.get(&bases), field));
            }
            let n = pool.len();
            let listing = prop::option::weighted(0.85, prop::collection::vec(0..n, 0..7));
            (Just(pool), prop::collection::vec(listing, 1..7))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_recorded_snapshot_rebuilds_exactly((pool, listings) in history()) {
            let mut inv = Inventory::in_memory(Path::new("memory"), false).unwrap();
            let mut recorded = Vec::new();
            for (n, listing) in listings.iter().enumerate() {
                let rows: Option<Vec<Backup>> =
                    listing.as_ref().map(|l| l.iter().map(|&i| pool[i].clone()).collect());
                let at = day(n as i64);
                let r = match &rows {
                    Some(rows) => inv.record(HW, "hw", at, Listing::Complete(rows)).unwrap(),
                    None => inv.record(HW, "hw", at, Listing::Failed("failed")).unwrap(),
                };
                // The same listing twice in a row writes nothing.
                if let Some(rows) = &rows {
                    let again = inv.record(HW, "hw", at, Listing::Complete(rows)).unwrap();
                    prop_assert_eq!((again.versions_added, again.versions_closed), (0, 0));
                    recorded.push((again.snapshot.id, Some(rows.clone())));
                }
                recorded.push((r.snapshot.id, rows));
            }
            for (id, rows) in &recorded {
                prop_assert_eq!(inv.rows(*id).unwrap(), rows.as_deref().map(sorted));
            }
            inv.prune(chrono::Duration::zero(), day(100)).unwrap();
            for s in inv.snapshots(HW, "hw").unwrap() {
                let rows = &recorded.iter().find(|(id, _)| *id == s.id).unwrap().1;
                prop_assert_eq!(inv.rows(s.id).unwrap(), rows.as_deref().map(sorted));
            }
        }
    }
}
