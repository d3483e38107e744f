//! Benchmark of the inventory at 100k rows (the aim: a daily recording of an unchanged
//! inventory grows the file by well under 1 MiB and adds little time). Not a test: it asserts
//! nothing and prints its figures. Run it optimised:
//!
//! ```text
//! cargo test --release --lib inventory::bench -- --ignored --nocapture
//! ```
//!
//! Rows are shaped like Huawei CBR rows (the largest `extra` of the five providers, about
//! 500 bytes of compact JSON), deterministic.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::model::{Status, Timestamp};

const ROWS: usize = 100_000;

/// A uuid-looking id from two numbers.
fn uuid(kind: u64, i: u64) -> String {
    let h = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ kind.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

fn row(i: usize) -> Backup {
    let i64_ = i as i64;
    let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::seconds(i64_ * 37)
        + chrono::Duration::microseconds(i64_ * 7919 % 1_000_000);
    let mut b = Backup::new(
        ProviderId::Huawei,
        "hw-bench",
        uuid(1, i as u64),
        Status::Available,
    );
    b.name = Some(format!("autobk_{:04x}", i % 65536));
    b.provider_status = Some("available".into());
    b.resource_type = Some("server".into());
    b.resource_id = Some(uuid(2, (i / 30) as u64));
    b.resource_name = Some(format!("ecs-{:05}", i / 30));
    b.size_bytes = Some(40 << 30);
    b.created_at = Some(Timestamp::new(created, 6));
    b.updated_at = Some(Timestamp::new(created + chrono::Duration::seconds(391), 6));
    b.expires_at = Some(Timestamp::new(created + chrono::Duration::days(90), 6));
    b.incremental = Some(!i.is_multiple_of(7));
    b.location = Some("ap-southeast-1a".into());
    b.extra = match json!({
        "provider_id": "0daac4c5-6707-4851-97ba-169e36266b66",
        "checkpoint_id": uuid(3, i as u64),
        "vault_id": uuid(4, (i / 5000) as u64),
        "image_type": "backup",
        "project_id": "0605767b5780d5762fc5c0118072a564",
        "enterprise_project_id": "0",
        "children": [],
        "replication_records": [],
        "extend_info": {
            "auto_trigger": true,
            "supported_restore_mode": "backup",
            "contain_system_disk": true,
            "support_lld": true,
            "architecture": "x86_64",
            "system_disk": false,
            "app_consistency": {
                "app_consistency_error_code": "0",
                "app_consistency_status": "0",
                "app_consistency_error_message": "",
                "app_consistency": "0"
            }
        }
    }) {
        serde_json::Value::Object(m) => m.into(),
        _ => unreachable!("an object literal"),
    };
    b
}

/// CPU time of this thread (user + system), from /proc (10 ms ticks): unlike wall time, not
/// inflated when other processes share the cores.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Runs `f`, returning its result, wall time and CPU time.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (wall, cpu0) = (Instant::now(), cpu());
    let out = f();
    (out, wall.elapsed(), cpu() - cpu0)
}

fn size(path: &Path) -> u64 {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    len(path) + len(&path.with_extension("db-wal"))
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1_048_576.0)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
fn record_100k() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let (rows, wall, _) = timed(|| (0..ROWS).map(row).collect::<Vec<Backup>>());
    let extra: usize = rows.iter().map(|b| b.extra.as_json().len()).sum();
    println!(
        "{ROWS} rows built in {} (extra: {} bytes per row on average)",
        ms(wall),
        extra / ROWS
    );
    let day =
        |n: i64| Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap() + chrono::Duration::days(n);
    let mut inv = Inventory::open(&path).unwrap();
    // What closing the last connection does at the end of a run.
    let checkpoint = |inv: &Inventory| {
        timed(|| {
            inv.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .unwrap()
        })
    };
    let record = |inv: &mut Inventory, n: i64, rows: &[Backup]| {
        let (r, wall, cpu) = timed(|| {
            inv.record(
                ProviderId::Huawei,
                "hw-bench",
                day(n),
                Listing::Complete(rows),
            )
            .unwrap()
        });
        let ((), cp_wall, cp_cpu) = checkpoint(inv);
        (r, wall + cp_wall, cpu + cp_cpu)
    };
    println!(
        "| recording | versions added / closed | wall (record + checkpoint) | CPU | file after |"
    );
    println!("|---|---|---|---|---|");
    let mut sizes = Vec::new();
    for n in 0..10 {
        let (r, wall, cpu) = record(&mut inv, n, &rows);
        sizes.push(size(&path));
        println!(
            "| {} ({}) | {} / {} | {} | {} | {} |",
            n + 1,
            if n == 0 { "100k new" } else { "unchanged" },
            r.versions_added,
            r.versions_closed,
            ms(wall),
            ms(cpu),
            mib(*sizes.last().unwrap())
        );
    }
    println!(
        "growth over 9 unchanged recordings: {} bytes in all ({} bytes per recording)",
        sizes[9] - sizes[0],
        (sizes[9] - sizes[0]) / 9
    );
    // A day of churn: 1% of rows change status, ~6% go, 1% are new.
    let mut churned = rows.clone();
    for b in churned.iter_mut().step_by(100) {
        b.status = Status::Deleting;
    }
    churned.retain(|b| !b.id.ends_with('7') || b.status == Status::Deleting);
    let kept = churned.len();
    churned.extend((ROWS..ROWS + ROWS / 100).map(row));
    let before = size(&path);
    let (r, wall, cpu) = record(&mut inv, 10, &churned);
    println!(
        "churn ({} gone, {} new, 1000 changed): {} added / {} closed, {} wall, {} CPU, file +{} bytes",
        ROWS - kept,
        ROWS / 100,
        r.versions_added,
        r.versions_closed,
        ms(wall),
        ms(cpu),
        size(&path) - before
    );
    let snapshots = inv.snapshots(ProviderId::Huawei, "hw-bench").unwrap();
    let (old, wall, cpu) = timed(|| inv.rows(snapshots[0].id).unwrap().unwrap());
    println!(
        "load the first snapshot ({} rows): {} wall, {} CPU",
        old.len(),
        ms(wall),
        ms(cpu)
    );
    let (new, wall, cpu) = timed(|| inv.rows(snapshots[10].id).unwrap().unwrap());
    println!(
        "load the last snapshot ({} rows): {} wall, {} CPU",
        new.len(),
        ms(wall),
        ms(cpu)
    );
    let (changes, wall, cpu) = timed(|| diff(&old, &new, day(10)));
    println!(
        "diff: {} rows, {} wall, {} CPU",
        changes.len(),
        ms(wall),
        ms(cpu)
    );
    let (gone, wall, cpu) = timed(|| vanished(&old, &new, day(10)).len());
    println!("vanished: {gone} rows, {} wall, {} CPU", ms(wall), ms(cpu));
    drop(inv);
    println!("file at the end: {}", mib(size(&path)));
}
