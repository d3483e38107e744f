//! The built binary against the emulator: stdout, stderr and exit codes of `list`, `audit`,
//! `accounts` and friends, as a user would run them.

mod support;

use serde_json::Value;
use support::{
    assert_golden, backups, run, stderr, stdout, without_ports, write_private, EmulatorProcess, NOW,
};

const FIELDS: [&str; 18] = [
    "provider",
    "account",
    "id",
    "name",
    "status",
    "provider_status",
    "resource_type",
    "resource_id",
    "resource_name",
    "size_bytes",
    "created_at",
    "updated_at",
    "expires_at",
    "incremental",
    "description",
    "location",
    "parent_id",
    "extra",
];

/// `list --demo -o json` rows, with the emulator's ports normalised so runs compare equal.
fn demo_json(args: &[&str]) -> Vec<Value> {
    let o = run(backups().args(["list", "--demo", "-o", "json"]).args(args));
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v: Value =
        serde_json::from_str(&without_ports(&stdout(&o))).expect("stdout is one JSON document");
    v.as_array().expect("a JSON array").clone()
}

fn field<'a>(row: &'a Value, key: &str) -> &'a Value {
    row.get(key)
        .unwrap_or_else(|| panic!("row has no `{key}`: {row}"))
}

fn str_field(row: &Value, key: &str) -> Option<String> {
    field(row, key).as_str().map(String::from)
}

#[test]
fn demo_json_rows_have_every_key_in_order_from_all_five_providers() {
    let rows = demo_json(&[]);
    assert!(
        rows.len() >= 200,
        "a few hundred demo backups, got {}",
        rows.len()
    );
    for row in &rows {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, FIELDS, "{row}");
        assert!(field(row, "extra").is_object());
        let created = field(row, "created_at");
        if let Some(t) = created.as_str() {
            assert!(t.ends_with('Z') && t.len() >= 20, "RFC 3339 UTC: {t}");
        }
        assert_ne!(
            field(row, "description"),
            &Value::String(String::new()),
            "empty description must be null"
        );
    }
    let mut providers: Vec<String> = rows
        .iter()
        .filter_map(|r| str_field(r, "provider"))
        .collect();
    providers.sort();
    providers.dedup();
    assert_eq!(providers, ["bycloud", "cf", "huawei", "oracle", "zcom"]);
    let mut statuses: Vec<String> = rows.iter().filter_map(|r| str_field(r, "status")).collect();
    statuses.sort();
    statuses.dedup();
    assert_eq!(
        statuses,
        [
            "available",
            "cancelled",
            "creating",
            "deleted",
            "deleting",
            "error",
            "restoring",
            "unknown"
        ],
        "the demo covers every normalised status"
    );
}

#[test]
fn demo_has_daily_series_for_retention_policies_one_with_a_gap() {
    let day = |r: &Value| str_field(r, "created_at").unwrap()[..10].to_string();
    let series = |resource: &str| {
        demo_json(&["--account", "huawei-demo-sg", "--resource", resource])
            .iter()
            .map(day)
            .collect::<Vec<String>>()
    };
    // `--keep daily=7` on 2026-11-23 asks for 2026-11-16 ..= 2026-11-22.
    let week: Vec<String> = (16..=22).map(|d| format!("2026-11-{d}")).collect();
    let complete = series("ecs-erp-app");
    assert_eq!(complete.len(), 36);
    assert_eq!(complete.first().map(String::as_str), Some("2026-11-23"));
    assert_eq!(complete.last().map(String::as_str), Some("2026-10-19"));
    assert!(week.iter().all(|d| complete.contains(d)));
    let gap = series("evs-erp-db");
    assert_eq!(gap.len(), 56);
    assert_eq!(gap.last().map(String::as_str), Some("2026-09-28"));
    let missing: Vec<&String> = week.iter().filter(|d| !gap.contains(d)).collect();
    assert_eq!(missing, ["2026-11-20"]);
}

#[test]
fn list_is_newest_first_with_timeless_rows_last() {
    let rows = demo_json(&[]);
    let times: Vec<Option<String>> = rows.iter().map(|r| str_field(r, "created_at")).collect();
    let first_none = times
        .iter()
        .position(Option::is_none)
        .unwrap_or(times.len());
    assert!(
        times[first_none..].iter().all(Option::is_none),
        "rows without created_at sort last"
    );
    let parsed: Vec<chrono::DateTime<chrono::Utc>> = times[..first_none]
        .iter()
        .map(|t| t.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

#[test]
fn standalone_emulator_config_lists_the_same_rows_as_demo() {
    let emu = EmulatorProcess::start(&[]);
    let o = run(backups()
        .args(["list", "-o", "json", "--config"])
        .arg(&emu.config));
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let from_config: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let demo = demo_json(&[]);
    assert_eq!(from_config.len(), demo.len());
    // Only the listener ports differ (they appear in some vendor fields).
    let strip = |rows: &[Value]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|r| {
                (
                    str_field(r, "account").unwrap(),
                    str_field(r, "id").unwrap(),
                    str_field(r, "status").unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&from_config), strip(&demo));
}

#[test]
fn provider_and_account_selection() {
    let rows = demo_json(&["--provider", "huawei"]);
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| str_field(r, "provider").as_deref() == Some("huawei")));
    let rows = demo_json(&["-p", "huawei,bycloud"]);
    assert!(rows
        .iter()
        .any(|r| str_field(r, "provider").as_deref() == Some("bycloud")));
    assert!(rows.iter().all(|r| matches!(
        str_field(r, "provider").as_deref(),
        Some("huawei" | "bycloud")
    )));
    let all = demo_json(&[]);
    let one = str_field(&all[0], "account").unwrap();
    let rows = demo_json(&["--account", &one]);
    assert_eq!(
        rows.len(),
        all.iter()
            .filter(|r| str_field(r, "account").as_deref() == Some(&one))
            .count()
    );
}

#[test]
fn status_filter_matches_client_side_selection() {
    let all = demo_json(&[]);
    for status in ["error", "available", "creating", "unknown"] {
        let want = all
            .iter()
            .filter(|r| str_field(r, "status").as_deref() == Some(status))
            .count();
        let rows = demo_json(&["--status", status]);
        assert!(want > 0, "demo has {status} rows");
        assert_eq!(rows.len(), want, "--status {status}");
    }
    let two = demo_json(&["--status", "error", "--status", "deleted"]);
    let want = all
        .iter()
        .filter(|r| matches!(str_field(r, "status").as_deref(), Some("error" | "deleted")))
        .count();
    assert_eq!(two.len(), want);
}

#[test]
fn since_and_until_bound_created_at_and_skip_timeless_rows() {
    let now: chrono::DateTime<chrono::Utc> = NOW.parse().unwrap();
    let all = demo_json(&[]);
    let cut = now - chrono::Duration::hours(36);
    let created = |r: &Value| {
        str_field(r, "created_at").map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap())
    };
    let want = all
        .iter()
        .filter(|r| created(r).is_some_and(|t| t >= cut))
        .count();
    let rows = demo_json(&["--since", "36h"]);
    assert!(want > 0);
    assert_eq!(rows.len(), want);
    let until = "2026-11-20T00:00:00Z";
    let cut: chrono::DateTime<chrono::Utc> = until.parse().unwrap();
    let want = all
        .iter()
        .filter(|r| created(r).is_some_and(|t| t <= cut))
        .count();
    assert_eq!(demo_json(&["--until", until]).len(), want);
    assert!(want > 0);
}

#[test]
fn name_glob_and_resource_match_client_side_selection() {
    let all = demo_json(&[]);
    let name = all
        .iter()
        .find_map(|r| str_field(r, "name"))
        .expect("some row has a name");
    let prefix: String = name.chars().take(4).collect();
    let pattern = format!("{prefix}*");
    let want = all
        .iter()
        .filter(|r| str_field(r, "name").is_some_and(|n| n.starts_with(&prefix)))
        .count();
    assert_eq!(demo_json(&["--name", &pattern]).len(), want);
    assert_eq!(
        demo_json(&["--name", &name]).len(),
        all.iter()
            .filter(|r| str_field(r, "name").as_deref() == Some(&name))
            .count()
    );

    let resource = all
        .iter()
        .find_map(|r| str_field(r, "resource_id"))
        .unwrap();
    let want = all
        .iter()
        .filter(|r| {
            str_field(r, "resource_id").as_deref() == Some(&resource)
                || str_field(r, "resource_name").as_deref() == Some(&resource)
        })
        .count();
    assert_eq!(demo_json(&["--resource", &resource]).len(), want);
    let rname = all
        .iter()
        .find_map(|r| str_field(r, "resource_name"))
        .unwrap();
    let want = all
        .iter()
        .filter(|r| {
            str_field(r, "resource_id").as_deref() == Some(&rname)
                || str_field(r, "resource_name").as_deref() == Some(&rname)
        })
        .count();
    assert_eq!(demo_json(&["--resource", &rname]).len(), want);
}

#[test]
fn sort_and_limit() {
    let rows = demo_json(&["--sort", "name", "--limit", "7"]);
    assert_eq!(rows.len(), 7);
    let names: Vec<String> = rows
        .iter()
        .map(|r| str_field(r, "name").expect("named rows first"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let rows = demo_json(&["--sort", "-size", "--limit", "5"]);
    let sizes: Vec<u64> = rows
        .iter()
        .map(|r| field(r, "size_bytes").as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
}

#[test]
fn ndjson_streams_one_object_per_line_and_sorts_when_asked() {
    let all = demo_json(&[]);
    let ids = |rows: &[Value]| {
        let mut v: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    str_field(r, "account").unwrap(),
                    str_field(r, "id").unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    // No sort asked for: streamed as pages arrive, same rows in arrival order.
    let o = run(backups().args(["list", "--demo", "-o", "ndjson"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let streamed: Vec<Value> = without_ports(&stdout(&o))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ids(&streamed), ids(&all));
    // With --sort: exactly the json array's order.
    let o = run(backups().args(["list", "--demo", "-o", "ndjson", "--sort", "created_at"]));
    let sorted: Vec<Value> = without_ports(&stdout(&o))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(sorted == all, "ndjson --sort differs from json");
}

#[test]
fn csv_and_tsv_have_a_header_of_field_names() {
    let o = run(backups().args([
        "list",
        "--demo",
        "-p",
        "huawei",
        "-o",
        "csv",
        "--columns",
        "id,status,size_bytes,extra",
        "--limit",
        "2",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,status,size_bytes,extra"));
    assert_eq!(text.lines().count(), 3);
    // Not a TTY: tsv by default, every field but extra.
    let o = run(backups().args(["list", "--demo", "--limit", "1"]));
    let text = stdout(&o);
    assert_eq!(text.lines().next().unwrap(), FIELDS[..17].join("\t"));
}

#[test]
fn unknown_column_is_a_usage_error_listing_valid_names() {
    let o = run(backups().args(["list", "--demo", "--columns", "id,colour"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "error: invalid value 'colour' for '--columns <a,b,c>'\n  [possible values: {}, age]\n\nFor more information, try '--help'.\n",
            FIELDS.join(", ")
        )
    );
    assert!(o.stdout.is_empty());
    // `age` is a table column: csv and tsv print created_at instead.
    let o = run(backups().args(["list", "--demo", "-o", "csv", "--columns", "id,age"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "backups: --columns: `age` is a table column; csv and tsv print created_at as RFC 3339\n"
    );
    let o = run(backups().args(["list", "--demo", "-o", "json", "--columns", "id"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "backups: --columns applies to table, csv and tsv; json always has every field\n"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    for (args, want) in [
        (
            vec!["--status", "done"],
            "error: invalid value 'done' for '--status <S>'\n  [possible values: available, creating, restoring, deleting, deleted, cancelled, error, unknown]",
        ),
        (
            vec!["--since", "last week"],
            "error: invalid value 'last week' for '--since <T>': not a time (use RFC 3339",
        ),
        (
            vec!["--sort", "colour"],
            "error: invalid value 'colour' for '--sort <KEY>'\n  [possible values: created_at, name, size, status, provider]",
        ),
        (
            vec!["--provider", "huawai"],
            "error: invalid value 'huawai' for '--provider <P>'\n  [possible values: oracle, zcom, huawei, cf, bycloud, all]\n\n  tip: a similar value exists: 'huawei'",
        ),
        (
            vec!["--account", "nope"],
            "backups: --account `nope`: no such account in the demo",
        ),
        (vec!["--name", "[x"], "backups: --name `[x`: invalid glob"),
        (
            vec!["--since", "1h", "--until", "2d"],
            "backups: --since is later than --until: nothing could match\n",
        ),
        (
            vec!["--max-pages", "0"],
            "error: invalid value '0' for '--max-pages <N>'",
        ),
        (
            vec!["--parallel", "0"],
            "error: invalid value '0' for '--parallel <N>'",
        ),
    ] {
        let o = run(backups().args(["list", "--demo"]).args(&args));
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).starts_with(want), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn bad_config_names_file_account_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_private(&path, "[accounts.hw]\nprovider = \"huawei\"\nregion = \"ap-southeast-1\"\nproject_id = \"p\"\naccess_key_env = \"NO_SUCH_AK\"\nsecret_key = \"x\"\n");
    let o = run(backups().args(["list", "--config"]).arg(&path));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: {}: account `hw`: key `access_key_env`: environment variable NO_SUCH_AK is not set\n",
            path.display()
        )
    );
    let o = run(backups().args(["list", "--config", "/nonexistent/config.toml"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("backups: /nonexistent/config.toml: cannot read"),
        "{}",
        stderr(&o)
    );
    // No config at all: a hint, exit 2.
    let o = run(backups().arg("list"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("try `backups list --demo`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_misspelt_config_key_is_named_with_a_suggestion_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    // `region` is missing as well; the misspelling is what gets reported.
    write_private(
        &path,
        "[accounts.spo]\nprovider = \"bycloud\"\nregoin = \"spo1\"\ntoken = \"t\"\n",
    );
    let o = run(backups().args(["accounts", "--config"]).arg(&path));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: {}: account `spo`: key `regoin`: unknown key, did you mean `region`?\n",
            path.display()
        )
    );
}

#[test]
fn environment_accounts_take_the_defaults_a_config_account_would() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    write_private(&empty, "");
    // Z.com from OS_* variables: the compute endpoint comes from OS_REGION_NAME, as it
    // comes from `region` in the file.
    let o = run(backups()
        .env("OS_AUTH_URL", "https://identity.tyo1.cloud.z.com/v2.0")
        .env("OS_USERNAME", "u")
        .env("OS_PASSWORD", "p")
        .env("OS_TENANT_ID", "t")
        .env("OS_REGION_NAME", "tyo1")
        .args(["accounts", "-o", "json", "--config"])
        .arg(&empty));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let accounts: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(str_field(&accounts[0], "name").as_deref(), Some("env-zcom"));
    assert_eq!(
        str_field(&accounts[0], "endpoint").as_deref(),
        Some("https://compute.tyo1.cloud.z.com/v2")
    );
}

#[test]
fn a_config_with_inline_secrets_readable_by_others_gets_a_warning() {
    let emu = EmulatorProcess::start(&[]);
    let path = emu.write_config("open.toml", &emu.config_text());
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let o = run(backups()
        .args(["list", "-p", "bycloud", "-o", "json", "--config"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: warning: {p} holds inline secrets and is readable by others; run `chmod 600 {p}` or use `*_env` keys\n",
            p = path.display()
        )
    );
    // The emulator writes its own config private.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&emu.config).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn partial_failure_exits_3_and_still_prints_the_other_accounts() {
    let emu = EmulatorProcess::start(&[]);
    let text = emu.config_text();
    // Break exactly one account's credentials.
    let broken = text.replacen("token = \"", "token = \"wrong-", 1);
    assert_ne!(broken, text, "the demo config has a token account");
    let path = emu.write_config("broken.toml", &broken);
    let o = run(backups()
        .args(["list", "-o", "json", "--config"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line per failed account: {err}");
    assert!(lines[0].starts_with("backups: "), "{err}");
    assert!(lines[0].contains("HTTP 401"), "{err}");
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let failed = lines[0]
        .trim_start_matches("backups: ")
        .split(':')
        .next()
        .unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| str_field(r, "account").as_deref() != Some(failed)));
    assert!(
        !err.contains("wrong-"),
        "secrets never appear in errors: {err}"
    );
}

#[test]
fn a_closed_pipe_is_success() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    // Each writes more than a pipe holds (the table may not), so the write after the reader
    // has gone fails with EPIPE.
    for (format, start) in [
        ("ndjson", "{\"provider\":"),
        ("json", "["),
        ("csv", "provider,account,"),
        ("tsv", "provider\taccount\t"),
        ("table", "PROVIDER"),
    ] {
        let mut child = backups()
            .args(["list", "--demo", "-o", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is dropped here, like `| head -1`.
        assert!(first.starts_with(start), "{format}: {first}");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{format}");
    }
}

#[test]
fn table_output_is_stable() {
    let o = run(backups().env("COLUMNS", "120").args([
        "list",
        "--demo",
        "-o",
        "table",
        "-p",
        "huawei,bycloud,oracle",
        "--limit",
        "12",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_golden("list-table.txt", &stdout(&o));
    let o = run(backups().env("COLUMNS", "120").args([
        "list", "--demo", "-o", "table", "-p", "oracle", "--limit", "3",
    ]));
    assert_golden("list-table-oracle.txt", &stdout(&o));
    // A narrow terminal: long ids are cut with `…`, every line fits.
    let o = run(backups()
        .env("COLUMNS", "80")
        .args(["list", "--demo", "-o", "table", "--limit", "12"]));
    assert!(
        stdout(&o).lines().all(|l| l.chars().count() <= 80),
        "{}",
        stdout(&o)
    );
    assert_golden("list-table-80.txt", &stdout(&o));
}

#[test]
fn table_columns_show_raw_values_and_providers_fit_the_terminal() {
    // A named field is its raw value: bytes, the whole RFC 3339 time; the id gives way.
    let o = run(backups().env("COLUMNS", "60").args([
        "list",
        "--demo",
        "-o",
        "table",
        "-p",
        "huawei,bycloud",
        "--limit",
        "3",
        "--columns",
        "id,size_bytes,created_at,age",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "ID             SIZE_BYTES   CREATED_AT                   AGE\n\
         49fbcbf0-97b…  21474836480  2026-11-23T11:27:59Z         32m\n\
         6dcda874-be1…  21474836480  2026-11-23T11:26:59Z         33m\n\
         e15d52c0-bff…  42949672960  2026-11-23T11:18:59.299676Z  41m\n"
    );
    let o = run(backups().env("COLUMNS", "80").arg("providers"));
    let text = stdout(&o);
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
}

#[test]
fn accounts_show_sources_never_secrets() {
    let emu = EmulatorProcess::start(&[]);
    let o = run(backups().args(["accounts", "--config"]).arg(&emu.config));
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("inline in config"), "{text}");
    let config = emu.config_text();
    for line in config.lines() {
        if let Some(v) = line
            .split_once("password = ")
            .or_else(|| line.split_once("token = "))
            .map(|(_, v)| v.trim_matches('"'))
        {
            assert!(!text.contains(v), "secret {v} printed");
        }
    }
    let o = run(backups().args(["accounts", "--demo", "-o", "json"]));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 5);
}

#[test]
fn emulator_prints_its_base_url_first_and_writes_a_config() {
    let emu = EmulatorProcess::start(&[]);
    let cfg = emu.config_text();
    for provider in ["oracle", "zcom", "huawei", "cf", "bycloud"] {
        assert!(
            cfg.contains(&format!("provider = \"{provider}\"")),
            "{provider} in config:\n{cfg}"
        );
    }
}

#[test]
fn emulator_day_and_accounts_flags_reach_the_demo_data() {
    // The Huawei backup deleted early on day 1 (it expires on 2026-12-21) is there on day 0.
    const EARLY: &str = "3d0c3669-7005-4003-87fd-f67de199277a";
    let ids = |extra: &[&str]| {
        let emu = EmulatorProcess::start(extra);
        let o = run(backups()
            .args(["list", "-p", "huawei", "-o", "json", "--config"])
            .arg(&emu.config));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        rows.iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let day0 = ids(&[]);
    let day1 = ids(&["--day", "1"]);
    assert!(day0.iter().any(|id| id == EARLY));
    assert!(!day1.iter().any(|id| id == EARLY));
    let emu = EmulatorProcess::start(&["--accounts", "7"]);
    assert_eq!(emu.config_text().matches("[accounts.").count(), 7);
}

#[test]
fn audit_reports_findings_and_exit_codes() {
    // In a pipe: tsv with a header row on stdout, the summary on stderr.
    let o = run(backups().args(["audit", "--demo"]));
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(
        text.lines().next(),
        Some("provider\taccount\tresource\tkind\tmessage\tnewest_good")
    );
    assert!(
        text.lines().all(|l| l.split('\t').count() == 6),
        "six cells a line: {text}"
    );
    assert!(text.contains("\tstale\t"), "{text}");
    assert!(text.contains("\tfailed\t"), "{text}");
    let findings = text.lines().count() - 1;
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("audit: {findings} findings in "))
            && err.ends_with(" accounts\n")
            && err.lines().count() == 1,
        "the summary, alone on stderr: {err}"
    );

    let o = run(backups().args(["audit", "--demo", "-o", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["audited_at"], NOW);
    assert!(v["summary"]["findings"].as_u64().unwrap() > 0);

    // Only available backups, a generous max age, providers with timestamps: healthy, silent.
    let o = run(backups().args([
        "audit",
        "--demo",
        "-p",
        "huawei,bycloud",
        "--status",
        "available",
        "--max-age",
        "30d",
    ]));
    assert_eq!(o.status.code(), Some(0), "stdout: {}", stdout(&o));
    assert_eq!(stdout(&o), "", "silent when healthy, for cron");

    let emu = EmulatorProcess::start(&[]);
    let broken = emu
        .config_text()
        .replacen("token = \"", "token = \"wrong-", 1);
    let path = emu.write_config("broken.toml", &broken);
    let o = run(backups()
        .args([
            "audit",
            "--status",
            "available",
            "--max-age",
            "30d",
            "--config",
        ])
        .arg(&path));
    assert_eq!(
        o.status.code(),
        Some(3),
        "an unreachable account never looks healthy"
    );
    assert!(stdout(&o).contains("\taccount_failed\t"), "{}", stdout(&o));
}

#[test]
fn completions_man_and_version() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = run(backups().args(["completions", shell]));
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("backups"), "{shell}");
    }
    let o = run(backups().arg("man"));
    assert!(
        stdout(&o).starts_with(".ie") || stdout(&o).contains(".TH backups"),
        "{}",
        &stdout(&o)[..80]
    );
    let o = run(backups().arg("--version"));
    assert_eq!(
        stdout(&o),
        format!("backups {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// A string key of one account in a config text (the emulator's demo config).
fn account_value(config: &str, account: &str, key: &str) -> String {
    let header = format!("[accounts.{account}]\n");
    let section = config.split(&header).nth(1).expect("account in config");
    section
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{account} has no {key}"))
        .trim_matches('"')
        .to_string()
}

/// Every secret value in a config text (`password = "…"`, `token = "…"`, …).
fn secrets_in(config: &str) -> Vec<String> {
    config
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .filter(|(k, _)| {
            [
                "password",
                "token",
                "secret_key",
                "access_key",
                "client_secret",
                "api_key_secret",
            ]
            .contains(&k.trim())
        })
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .collect()
}

#[test]
fn under_faults_healthy_accounts_list_exactly_the_rows_of_a_clean_run() {
    let clean = demo_json(&[]);
    let emu = EmulatorProcess::start(&["--faults"]);
    let o = run(backups()
        .args(["list", "-o", "json", "-v", "--config"])
        .arg(&emu.config));
    assert_eq!(o.status.code(), Some(3), "the two broken accounts fail");
    let err = stderr(&o);
    let failures: Vec<&str> = err.lines().filter(|l| l.starts_with("backups: ")).collect();
    assert_eq!(failures.len(), 2, "{err}");
    assert!(
        failures[0].starts_with("backups: bycloud-demo-badcreds: GET /v1/backups: HTTP 401: "),
        "{}",
        failures[0]
    );
    assert_eq!(
        failures[1],
        "backups: bycloud-demo-loop: the server repeated the marker 7d0c3a38-2f4b-4c55-9a61-6b3f0e9d1c2a; stopped instead of looping"
    );
    let rows: Vec<Value> = serde_json::from_str(&without_ports(&stdout(&o))).unwrap();
    let key = |r: &Value| {
        (
            str_field(r, "account").unwrap(),
            str_field(r, "id").unwrap(),
        )
    };
    let looped: Vec<&Value> = rows
        .iter()
        .filter(|r| str_field(r, "account").as_deref() == Some("bycloud-demo-loop"))
        .collect();
    assert!(looped.is_empty(), "a failed account's rows are not printed");
    assert!(
        rows == clean,
        "rows under faults differ from the clean run: {} vs {}",
        rows.len(),
        clean.len()
    );
    let unique: std::collections::HashSet<_> = rows.iter().map(key).collect();
    assert_eq!(unique.len(), rows.len(), "no duplicate rows");
    // The faults really happened: retries and renewals show in the -v log.
    assert!(err.contains("-> 429"), "no 429 in the log");
    assert!(err.contains("-> 503"), "no 503 in the log");
    assert!(
        err.contains("session rejected, authenticating again"),
        "no renewal in the log"
    );
    for secret in secrets_in(&emu.config_text()) {
        assert!(!err.contains(&secret), "secret {secret} in the log");
    }
}

#[test]
fn verbose_logs_show_each_request_and_never_a_secret() {
    let emu = EmulatorProcess::start(&[]);
    let o = run(backups()
        .args(["list", "-vv", "-o", "json", "--config"])
        .arg(&emu.config));
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("huawei-demo-sg: GET /v3/"), "{err}");
    assert!(err.contains("-> 200 in "), "{err}");
    assert!(
        err.contains("oracle-demo: POST /authenticate/ -> 204"),
        "{err}"
    );
    let secrets = secrets_in(&emu.config_text());
    assert!(secrets.len() >= 5, "{secrets:?}");
    for secret in secrets {
        assert!(!err.contains(&secret), "secret {secret} in the log");
        assert!(
            !stdout(&o).contains(&secret),
            "secret {secret} in the output"
        );
    }
}

#[test]
fn providers_table_comes_from_the_adapters() {
    let o = run(backups().args(["providers", "-o", "json"]));
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let arr = v.as_array().unwrap();
    let names: Vec<&str> = arr
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["oracle", "zcom", "huawei", "cf", "bycloud"]);
    for p in arr {
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["provider", "auth", "filters", "paging", "fields"]);
        assert!(!p["auth"].as_array().unwrap().is_empty(), "{p}");
        for f in p["fields"].as_array().unwrap() {
            assert!(FIELDS.contains(&f.as_str().unwrap()), "{f}");
        }
    }
    let huawei = &arr[2];
    assert!(huawei["filters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "status"));
    let o = run(backups().arg("providers"));
    let text = stdout(&o);
    assert!(text.starts_with("PROVIDER  AUTH"), "{text}");
    assert_eq!(text.lines().count(), 6);
}

#[test]
fn accounts_check_tries_each_login() {
    let emu = EmulatorProcess::start(&[]);
    let o = run(backups()
        .args(["accounts", "--check", "--config"])
        .arg(&emu.config));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.lines().next().unwrap().ends_with("CHECK"), "{text}");
    assert_eq!(
        text.lines().skip(1).filter(|l| l.ends_with("ok")).count(),
        text.lines().count() - 1,
        "{text}"
    );
    let broken = emu
        .config_text()
        .replacen("password = \"", "password = \"wrong-", 1);
    let path = emu.write_config("broken.toml", &broken);
    let o = run(backups()
        .args(["accounts", "--check", "--config"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        stdout(&o).lines().filter(|l| l.ends_with("FAILED")).count(),
        1
    );
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("HTTP 401"), "{}", stderr(&o));
}

#[test]
fn credentials_from_the_environment_make_env_accounts() {
    let emu = EmulatorProcess::start(&[]);
    let config = emu.config_text();
    // The ByCloud bearer demo account's token and endpoint, as a user would export them.
    let value = |key: &str| account_value(&config, "bycloud-demo-spo", key);
    let empty = emu.write_config("empty.toml", "");
    let o = run(backups()
        .env("BYCLOUD_TOKEN", value("token"))
        .env("BACKUPS_BYCLOUD_ENDPOINT", value("endpoint"))
        .args(["list", "-o", "json", "--config"])
        .arg(&empty));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| str_field(r, "account").as_deref() == Some("env-bycloud")));
    let o = run(backups()
        .env("BYCLOUD_TOKEN", value("token"))
        .env("BACKUPS_BYCLOUD_ENDPOINT", value("endpoint"))
        .args(["accounts", "--config"])
        .arg(&empty));
    let text = stdout(&o);
    assert!(
        text.contains("env-bycloud")
            && text.contains("token: env $BYCLOUD_TOKEN")
            && text.contains("environment"),
        "{text}"
    );
}

#[test]
fn cf_cli_login_is_reused_and_refreshed() {
    let emu = EmulatorProcess::start(&[]);
    let config = emu.config_text();
    let get = |key: &str| account_value(&config, "cf-demo", key);
    let api = get("api");
    // Log in as the cf CLI would, then write its config.json with a stale access token.
    let body = format!(
        "grant_type=password&username={}&password={}",
        get("username"),
        get("password")
    );
    let token = support::uaa_password_token(&api, &body);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".cf")).unwrap();
    std::fs::write(
        home.path().join(".cf/config.json"),
        serde_json::json!({
            "ConfigVersion": 3,
            "Target": api.trim_end_matches('/'),
            "AccessToken": "bearer not-a-valid-token",
            "RefreshToken": token["refresh_token"],
        })
        .to_string(),
    )
    .unwrap();
    let empty = emu.write_config("empty.toml", "");
    let o = run(backups()
        .env("HOME", home.path())
        .args(["list", "-o", "json", "--config"])
        .arg(&empty));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| str_field(r, "account").as_deref() == Some("env-cf")));
}

#[test]
fn audit_max_age_per_account_unless_the_flag_overrides_it() {
    let emu = EmulatorProcess::start(&[]);
    let args = [
        "audit",
        "-a",
        "bycloud-demo-spo",
        "--status",
        "available",
        "--config",
    ];
    // The demo has a resource whose newest backup is four days old: stale at 26h.
    let o = run(backups().args(args).arg(&emu.config));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("\tstale\tnewest available backup is 4d old (max 26h)"),
        "{}",
        stdout(&o)
    );
    // A weekly account: `audit_max_age = "8d"` makes it healthy.
    let weekly = emu.config_text().replace(
        "[accounts.bycloud-demo-spo]\n",
        "[accounts.bycloud-demo-spo]\naudit_max_age = \"8d\"\n",
    );
    let path = emu.write_config("weekly.toml", &weekly);
    let o = run(backups().args(args).arg(&path));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "");
    // The flag wins over the account's setting.
    let o = run(backups().args(args).arg(&path).args(["--max-age", "26h"]));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn each_command_refuses_the_formats_it_cannot_print() {
    for (args, valid) in [
        (&["accounts", "--demo", "-o", "csv"][..], "table, json"),
        (&["accounts", "--demo", "-o", "ndjson"], "table, json"),
        (&["providers", "-o", "tsv"], "table, json"),
        (
            &["audit", "--demo", "-o", "csv"],
            "table, json, ndjson, tsv, prometheus, nagios",
        ),
    ] {
        let o = run(backups().args(args));
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        let bad = args[args.len() - 1];
        assert!(
            stderr(&o).starts_with(&format!(
                "error: invalid value '{bad}' for '--output <F>'\n  [possible values: {valid}]\n"
            )),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn audit_is_a_table_on_a_terminal_and_with_o_table() {
    let o = run(backups().args(["audit", "--demo", "-o", "table"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("PROVIDER  ACCOUNT  ") && lines[0].ends_with("NEWEST GOOD  MESSAGE"),
        "{text}"
    );
    assert!(!text.contains('\t'), "{text}");
    let summary = lines[lines.len() - 1];
    assert!(
        summary.starts_with(&format!("audit: {} findings in ", lines.len() - 2)),
        "{text}"
    );
    assert_eq!(stderr(&o), "");
    // On a terminal the table is the default, and a healthy audit still shows its summary.
    let Some(mut cmd) = support::on_terminal(&["audit", "--demo"], &[("TERM", "dumb")]) else {
        return;
    };
    let o = run(&mut cmd);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o).replace("\r\n", "\n");
    assert!(text.starts_with("PROVIDER  ACCOUNT  "), "{text}");
    assert!(text.contains("\naudit: "), "{text}");
    let healthy = [
        "audit",
        "--demo",
        "-p",
        "huawei",
        "--status",
        "available",
        "--max-age",
        "30d",
    ];
    let mut cmd = support::on_terminal(&healthy, &[("TERM", "dumb")]).unwrap();
    let o = run(&mut cmd);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.starts_with("audit: 0 findings in ") && text.lines().count() == 1,
        "{text}"
    );
}

#[test]
fn a_healthy_audit_in_a_pipe_prints_nothing_at_all() {
    let o = run(backups().args([
        "audit",
        "--demo",
        "-p",
        "huawei,bycloud",
        "--status",
        "available",
        "--max-age",
        "30d",
    ]));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "");
}

#[test]
fn since_and_until_say_how_many_rows_without_a_time_they_left_out() {
    let all = demo_json(&[]);
    let timeless = |status: Option<&str>| {
        all.iter()
            .filter(|r| field(r, "created_at").is_null())
            .filter(|r| status.is_none_or(|s| str_field(r, "status").as_deref() == Some(s)))
            .count()
    };
    assert!(timeless(None) > 1, "the demo has rows without a time");
    let o = run(backups().args(["list", "--demo", "-o", "json", "--since", "36h"]));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: --since left out {} backups without a creation time\n",
            timeless(None)
        )
    );
    // Rows another filter leaves out are not counted.
    let o = run(backups().args([
        "list",
        "--demo",
        "-o",
        "json",
        "--status",
        "available",
        "--since",
        "2020-01-01",
        "--until",
        "36h",
    ]));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: --since and --until left out {} backups without a creation time\n",
            timeless(Some("available"))
        )
    );
    // Without a time bound nothing is left out, and nothing is said.
    let o = run(backups().args(["list", "--demo", "-o", "json", "-p", "oracle"]));
    assert_eq!(stderr(&o), "");
}

#[test]
fn age_is_a_table_column() {
    let o = run(backups().env("COLUMNS", "120").args([
        "list",
        "--demo",
        "-o",
        "table",
        "-p",
        "huawei",
        "--columns",
        "id,status,age",
        "--limit",
        "2",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "STATUS", "AGE"]);
    for line in lines {
        let age = line.split_whitespace().last().unwrap();
        assert!(
            age.ends_with('m') || age.ends_with('h') || age.ends_with('d'),
            "{line}"
        );
    }
}

#[test]
fn man_prints_one_page_with_every_subcommand_or_one_subcommands_page() {
    let o = run(backups().arg("man"));
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.contains("\n.TH backups 1 "), "{text}");
    for section in [
        "LIST",
        "AUDIT",
        "ACCOUNTS",
        "PROVIDERS",
        "EMULATOR",
        "COMPLETIONS",
        "MAN",
    ] {
        assert!(
            text.contains(&format!("\n.SH \"BACKUPS {section}\"\n")),
            "no section for {section}"
        );
    }
    let list = &text[text.find(".SH \"BACKUPS LIST\"").unwrap()..];
    let list = &list[..list.find(".SH \"BACKUPS AUDIT\"").unwrap()];
    for flag in [
        "\\-\\-provider",
        "\\-\\-sort",
        "\\-\\-columns",
        "\\-\\-max\\-pages",
    ] {
        assert!(list.contains(flag), "{flag} in the list section");
    }
    let o = run(backups().args(["man", "audit"]));
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.contains("\n.TH backups-audit 1 "), "{text}");
    assert!(text.contains("\\-\\-max\\-age"), "{text}");
    assert!(
        text.contains("\\-\\-config"),
        "with the global options: {text}"
    );
    let o = run(backups().args(["man", "lst"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("tip: a similar value exists: 'list'"),
        "{}",
        stderr(&o)
    );
}

/// Whether the text holds an SGR escape.
fn coloured(text: &str) -> bool {
    text.contains("\x1b[")
}

#[test]
fn colour_follows_the_flags_and_no_color_clicolor_force_and_term() {
    let table = [
        "list", "--demo", "-o", "table", "-p", "huawei", "--limit", "3",
    ];
    let piped = |env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = backups();
        cmd.env_remove("NO_COLOR").envs(env.iter().copied());
        let o = run(cmd.args(table).args(extra));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        coloured(&stdout(&o))
    };
    assert!(!piped(&[], &[]), "a pipe gets no colour");
    assert!(piped(&[("CLICOLOR_FORCE", "1")], &[]));
    assert!(!piped(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &[]));
    assert!(piped(&[("NO_COLOR", "1")], &["--color", "always"]));
    assert!(!piped(&[("CLICOLOR_FORCE", "1")], &["--color", "never"]));
    assert!(!piped(&[("CLICOLOR_FORCE", "1")], &["--no-color"]));
    assert!(!piped(&[], &["--color", "always", "--no-color"]));
    let terminal = |env: &[(&str, &str)], extra: &[&str]| {
        let args: Vec<&str> = table.iter().chain(extra).copied().collect();
        let mut cmd = support::on_terminal(&args, env)?;
        let o = run(&mut cmd);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        Some(coloured(&stdout(&o)))
    };
    if terminal(&[("TERM", "xterm")], &[]).is_none() {
        return;
    }
    assert_eq!(terminal(&[("TERM", "xterm")], &[]), Some(true));
    assert_eq!(terminal(&[("TERM", "dumb")], &[]), Some(false));
    assert_eq!(
        terminal(&[("TERM", "xterm"), ("NO_COLOR", "1")], &[]),
        Some(false)
    );
    assert_eq!(terminal(&[("TERM", "xterm")], &["--no-color"]), Some(false));
    assert_eq!(
        terminal(&[("TERM", "dumb")], &["--color", "always"]),
        Some(true)
    );
}

#[test]
fn completion_scripts_offer_the_typed_values() {
    let o = run(backups().args(["completions", "bash"]));
    assert_eq!(o.status.code(), Some(0));
    let script = stdout(&o);
    assert!(
        script.contains("oracle zcom huawei cf bycloud all"),
        "--provider values: {script}"
    );
    assert!(
        script.contains("available creating restoring deleting deleted cancelled error unknown"),
        "--status values"
    );
    let o = run(backups().args(["completions", "zsh"]));
    assert!(
        stdout(&o).contains("ndjson\\:\"One JSON object per line\""),
        "-o values with their help: {}",
        stdout(&o)
    );
    let o = run(backups().args(["completions", "tcsh"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[possible values: bash, elvish, fish, powershell, zsh]"));
}

#[test]
fn dynamic_completion_offers_the_configs_account_names() {
    let emu = EmulatorProcess::start(&[]);
    // The registration script a shell sources.
    let o = run(backups().env("COMPLETE", "bash"));
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("complete "), "{}", stdout(&o));
    let complete = |prefix: &str| {
        let o = run(backups()
            .env("COMPLETE", "fish")
            .env("BACKUPS_CONFIG", &emu.config)
            .args(["--", "backups", "list", "-a", prefix]));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut names: Vec<String> = stdout(&o).lines().map(String::from).collect();
        names.sort();
        names
    };
    let mut want: Vec<String> = emu
        .config_text()
        .lines()
        .filter_map(|l| l.strip_prefix("[accounts.")?.strip_suffix(']'))
        .map(String::from)
        .collect();
    want.sort();
    assert!(want.len() >= 5, "{want:?}");
    assert_eq!(complete(""), want);
    let huawei: Vec<String> = want
        .iter()
        .filter(|n| n.starts_with("huawei"))
        .cloned()
        .collect();
    assert!(!huawei.is_empty());
    assert_eq!(complete("huawei"), huawei);
}

#[test]
fn durations_past_100_years_are_usage_errors_naming_the_flag_or_key() {
    for (args, want) in [
        (
            vec!["audit", "--demo", "--max-age", "15000000w"],
            "error: invalid value '15000000w' for '--max-age <DUR>': longer than 100 years (the most a duration may be)",
        ),
        (
            vec!["list", "--demo", "--since", "99999w"],
            "error: invalid value '99999w' for '--since <T>': an age longer than 100 years (the most a duration may be)",
        ),
        (
            vec!["list", "--demo", "--until", "99999999999999999999d"],
            "error: invalid value '99999999999999999999d' for '--until <T>': an age longer than 100 years",
        ),
        (
            vec!["list", "--demo", "--deadline", "15000000w"],
            "error: invalid value '15000000w' for '--deadline <DUR>': longer than 100 years",
        ),
        (
            vec!["list", "--demo", "--deadline", "0s"],
            "error: invalid value '0s' for '--deadline <DUR>': must be longer than zero",
        ),
        (
            vec!["list", "--demo", "--max-requests", "0"],
            "error: invalid value '0' for '--max-requests <N>'",
        ),
    ] {
        let o = run(backups().args(&args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with(want), "{args:?}: {}", stderr(&o));
    }
    // The longest accepted age is judged, not overflowed: every backup is then fresh, and any
    // failed one is within the window.
    let o = run(backups().args(["audit", "--demo", "--max-age", "36525d"]));
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    // The same from the config.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_private(
        &path,
        "[accounts.bc]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\naudit_max_age = \"15000000w\"\n",
    );
    let o = run(backups().args(["audit", "--config"]).arg(&path));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: {}: account `bc`: key `audit_max_age`: `15000000w`: longer than 100 years (the most a duration may be)\n",
            path.display()
        )
    );
}

#[test]
fn a_url_with_a_password_is_refused_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_private(
        &path,
        "[accounts.bc]\nprovider = \"bycloud\"\nendpoint = \"https://admin:S3CRET-PW@api.example.com/\"\ntoken = \"t\"\n",
    );
    for command in [&["accounts"][..], &["accounts", "-o", "json"], &["list"]] {
        let o = run(backups().args(command).arg("--config").arg(&path));
        assert_eq!(o.status.code(), Some(2), "{command:?}");
        assert_eq!(stdout(&o), "", "{command:?}");
        assert_eq!(
            stderr(&o),
            format!(
                "backups: {}: account `bc`: key `endpoint`: a user name or password in the URL (https://<redacted>@api.example.com/) is not accepted; give credentials in their own keys\n",
                path.display()
            )
        );
    }
}

/// A server on 127.0.0.1 that accepts connections and never answers, for 60 s at most.
fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    });
    port
}

#[test]
fn the_deadline_fails_accounts_still_listing_and_prints_what_finished() {
    let emu = EmulatorProcess::start(&[]);
    let port = silent_server();
    let slow = format!(
        "\n[accounts.slow]\nprovider = \"bycloud\"\nendpoint = \"http://127.0.0.1:{port}\"\ntoken = \"t\"\n"
    );
    let path = emu.write_config("slow.toml", &format!("{}{slow}", emu.config_text()));
    let accounts = ["-a", "bycloud-demo-spo", "-a", "slow"];
    let o = run(backups()
        .args(["list", "-o", "json", "--deadline", "3s", "--config"])
        .arg(&path)
        .args(accounts));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "backups: slow: still listing at the run's deadline (3s); stopped\n"
    );
    let rows: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["account"] == "bycloud-demo-spo"));
    // From the config's [defaults], streaming: the finished account's rows are printed.
    let with_defaults = format!(
        "[defaults]\ndeadline = \"3s\"\n\n{}{slow}",
        emu.config_text()
    );
    let path = emu.write_config("defaults.toml", &with_defaults);
    let o = run(backups()
        .args(["list", "-o", "ndjson", "--config"])
        .arg(&path)
        .args(accounts));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "backups: slow: still listing at the run's deadline (3s); stopped\n"
    );
    assert_eq!(stdout(&o).lines().count(), rows.len());
}

#[test]
fn max_requests_one_lists_the_same_rows() {
    let all = demo_json(&[]);
    let one_at_a_time = demo_json(&["--max-requests", "1"]);
    assert_eq!(all, one_at_a_time);
}

/// The `missing` findings of an `audit -o json` report: (account, resource, message).
fn missing(report: &Value) -> Vec<(Option<String>, String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == "missing")
        .map(|f| {
            (
                str_field(f, "account"),
                str_field(f, "resource").unwrap(),
                str_field(f, "message").unwrap(),
            )
        })
        .collect()
}

/// The messages of the `retention` findings of an `audit -o json` report.
fn retention(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == "retention")
        .map(|f| str_field(f, "message").unwrap())
        .collect()
}

#[test]
fn audit_policy_comes_from_the_flags_the_account_and_the_audit_table() {
    let emu = EmulatorProcess::start(&[]);
    let account = "huawei-demo-sg";
    // A resource the account has, named as the listing names it.
    let listed = run(backups()
        .args(["list", "-o", "json", "-a", account, "--config"])
        .arg(&emu.config));
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let present = str_field(&rows[0], "resource_name").expect("a named resource");
    let text = emu.config_text().replace(
        &format!("[accounts.{account}]\n"),
        &format!("[accounts.{account}]\naudit_expect = [\"{present}\", \"phantom\"]\n"),
    ) + &format!(
        "\n[audit]\nkeep = \"monthly=12\"\nexpect = [\"no-such-volume\", \"{account}:ghost\", \"{present}\"]\n"
    );
    let path = emu.write_config("policy.toml", &text);
    let audit = |extra: &[&str]| {
        let o = run(backups()
            .args(["audit", "-o", "json", "-a", account, "--config"])
            .arg(&path)
            .args(extra));
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let report = audit(&[]);
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        missing(&report),
        [
            (
                some(account),
                "ghost".to_string(),
                "no backup (expected by [audit] expect)".to_string()
            ),
            (
                some(account),
                "phantom".to_string(),
                "no backup (expected by audit_expect)".to_string()
            ),
            (
                None,
                "no-such-volume".to_string(),
                "no backup in any selected account (expected by [audit] expect)".to_string()
            ),
        ]
    );
    let unpinned = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"] == "no-such-volume")
        .unwrap();
    assert!(unpinned["provider"].is_null() && unpinned["account"].is_null());
    assert!(unpinned["max_age_seconds"].is_null());
    // [audit] keep applies to an account without its own.
    let rules = retention(&report);
    assert!(!rules.is_empty(), "the demo is younger than a year");
    assert!(
        rules.iter().all(|m| m.ends_with(" (monthly=12)")),
        "{rules:?}"
    );
    // --keep replaces it whole; --expect adds to the entries, each in its own scope.
    let report = audit(&["--keep", "daily=400", "--expect", "more"]);
    let rules = retention(&report);
    assert!(!rules.is_empty(), "the demo is younger than 400 days");
    assert!(
        rules.iter().all(|m| m.ends_with(" (daily=400)")),
        "{rules:?}"
    );
    let unpinned: Vec<String> = missing(&report)
        .into_iter()
        .filter(|(a, ..)| a.is_none())
        .map(|(_, r, m)| format!("{r}: {m}"))
        .collect();
    assert_eq!(
        unpinned,
        [
            "more: no backup in any selected account (expected by --expect)",
            "no-such-volume: no backup in any selected account (expected by [audit] expect)"
        ]
    );
}

#[test]
fn an_unpinned_expectation_waits_while_an_account_failed() {
    let emu = EmulatorProcess::start(&[]);
    let broken = emu
        .config_text()
        .replacen("token = \"", "token = \"wrong-", 1);
    let path = emu.write_config("broken.toml", &broken);
    let o = run(backups()
        .args(["audit", "-o", "json", "--expect", "no-such-volume"])
        .args(["--expect", "huawei-demo-sg:ghost", "--config"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Pinned to a listed account: reported; unpinned: it may be in the failed one.
    let pinned: Vec<(Option<String>, String, String)> = missing(&report)
        .into_iter()
        .filter(|(_, r, _)| r != "no-such-volume")
        .collect();
    assert!(
        pinned.contains(&(
            Some("huawei-demo-sg".into()),
            "ghost".into(),
            "no backup (expected by --expect)".into()
        )),
        "{pinned:?}"
    );
    assert!(
        !missing(&report)
            .iter()
            .any(|(_, r, _)| r == "no-such-volume"),
        "{report}"
    );
    let failed = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "account_failed")
        .count();
    assert_eq!(failed, 1, "{report}");
}

#[test]
fn a_cf_instance_without_backups_is_missing_and_one_without_backup_support_is_not() {
    let o = run(backups().args(["audit", "--demo", "-o", "json", "-p", "cf"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = demo_json(&["-p", "cf"]);
    let found = missing(&report);
    // The demo has one instance that answers with no backups (and one whose offering has
    // no backups at all, which is skipped).
    assert_eq!(found.len(), 1, "{found:?}");
    let (account, guid, message) = &found[0];
    assert_eq!(account.as_deref(), Some("cf-demo"));
    assert_eq!(message, "no backup of this service instance");
    assert!(
        !listed
            .iter()
            .any(|r| str_field(r, "resource_id").as_deref() == Some(guid.as_str())),
        "{guid} has no rows"
    );
    let f = &report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "missing")
        .unwrap();
    assert_eq!(f["provider"], "cf");
    assert!(f["resource_name"].is_string(), "{f}");
}

#[test]
fn audit_policy_mistakes_are_usage_or_config_errors() {
    let o = run(backups().args(["audit", "--demo", "--keep", "daily=7,hourly=1"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(
            "error: invalid value 'daily=7,hourly=1' for '--keep <RULES>': `hourly`: unknown rule (expected daily, weekly or monthly)\n"
        ),
        "{}",
        stderr(&o)
    );
    let o = run(backups().args(["audit", "--demo", "--expect", ""]));
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_private(
        &path,
        "[audit]\nkep = \"daily=7\"\n\n[accounts.spo]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\n",
    );
    let o = run(backups().args(["audit", "--config"]).arg(&path));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: {}: [audit]: key `kep`: unknown key, did you mean `keep`?\n",
            path.display()
        )
    );
}

#[test]
fn audit_demo_with_keep_and_expect_shows_each_policy_finding() {
    let o = run(backups().args([
        "audit",
        "--demo",
        "--keep",
        "daily=7,weekly=4",
        "--expect",
        "no-such-volume",
    ]));
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    for want in [
        // The daily series with a gap: one day missing in the last seven, every week covered.
        "huawei\thuawei-demo-sg\t5e942e4a-af58-45af-a6f2-367544795310 (evs-erp-db)\tretention\tno available backup on 2026-11-20 (daily=7)\t17b8d621-eced-47fa-8ffd-273393c9524d at 2026-11-23T03:51:51.339771Z (8h ago)",
        // The CF instance whose backups call answers with none.
        "cf\tcf-demo\t206366fd-f8c0-4dd6-a818-ae0a5cd0cf7e (empty-pg)\tmissing\tno backup of this service instance\tnone",
        // Expected, in no selected account: no provider, no account.
        "-\t-\tno-such-volume\tmissing\tno backup in any selected account (expected by --expect)\tnone",
    ] {
        assert!(lines.contains(&want), "{want}\nnot in:\n{text}");
    }
    assert_eq!(
        lines.iter().filter(|l| l.contains("(evs-erp-db)")).count(),
        1,
        "{text}"
    );
    // The complete daily series meets both rules.
    assert!(!text.contains("ecs-erp-app"), "{text}");
    // The unpinned finding comes last.
    assert!(lines[lines.len() - 1].starts_with("-\t-\tno-such-volume\t"));
    assert_eq!(
        stderr(&o),
        "audit: 151 findings in 60 resources of 9 accounts\n"
    );
}

// ---- The inventory: `--record`, `diff`, `vanished` (`docs/cli.md#the-inventory`) ----

/// Day 0 of the demo timeline; day 1 is [`NOW`].
const DAY0: &str = "2026-11-22T12:00:00Z";

/// The two backups deleted early on day 1 (the `vanished` findings of the demo).
const EARLY_HUAWEI: &str = "3d0c3669-7005-4003-87fd-f67de199277a";
const EARLY_BYCLOUD: &str = "9724e757-ebd0-465c-85c6-a6c61ba98d1a";

/// `backups <args> --config CONFIG --inventory INV` with the clock at `now`.
fn with_inventory(
    now: &str,
    config: &std::path::Path,
    inv: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    run(backups()
        .env("BACKUPS_NOW", now)
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--inventory")
        .arg(inv))
}

/// The inventory's snapshots of one account, read through the library.
fn snapshots(
    inv: &std::path::Path,
    provider: backups::model::ProviderId,
    account: &str,
) -> Vec<backups::inventory::Snapshot> {
    let options = backups::inventory::OpenOptions {
        read_only: true,
        ..Default::default()
    };
    backups::inventory::Inventory::open_with(inv, &options)
        .unwrap()
        .snapshots(provider, account)
        .unwrap()
}

/// `audit -o json` findings as (kind, account, backup_id).
fn findings_of(o: &std::process::Output) -> Vec<(String, String, Option<String>)> {
    let report: Value = serde_json::from_slice(&o.stdout).expect("audit -o json");
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["account"].as_str().unwrap_or("-").to_string(),
                f["backup_id"].as_str().map(String::from),
            )
        })
        .collect()
}

#[test]
fn list_record_on_day_0_and_day_1_then_diff_shows_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.db");
    let day0 = EmulatorProcess::start_at(DAY0, &["--day", "0"]);
    let o = with_inventory(
        DAY0,
        &day0.config,
        &inv,
        &["list", "--record", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    drop(day0);
    let day1 = EmulatorProcess::start(&["--day", "1"]);
    let o = with_inventory(NOW, &day1.config, &inv, &["list", "--record"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(stderr(&o), "");

    let o = with_inventory(NOW, &day1.config, &inv, &["diff", "-a", "cf-demo-client"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(
        stdout(&o),
        "change\tfrom_status\tto_status\tearly\tprovider\taccount\tid\tname\tstatus\tprovider_status\tresource_type\tresource_id\tresource_name\tsize_bytes\tcreated_at\tupdated_at\texpires_at\tincremental\tdescription\tlocation\tparent_id\n\
         vanished\tavailable\t\tfalse\tcf\tcf-demo-client\t6acf9095-8ce3-47be-9057-234b7784bda9\t\tavailable\t\tservice_instance\t8a046379-2144-48da-8aa0-38d70cd51bf6\treports-db\t\t2026-11-17T11:19:59Z\t\t\t\t\t\t\n\
         appeared\t\tavailable\t\tcf\tcf-demo-client\tb8dea8da-6cd3-49de-aadf-079053a1d13a\t\tavailable\t\tservice_instance\t8a046379-2144-48da-8aa0-38d70cd51bf6\treports-db\t\t2026-11-23T11:10:59Z\t\t\t\t\t\t\n"
    );

    // Every kind of change, in id order; JSON rows are the diff columns, then the model.
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &["diff", "-a", "zcom-demo-catalog", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let want_keys: Vec<&str> = ["change", "from_status", "to_status", "early"]
        .into_iter()
        .chain(FIELDS)
        .collect();
    assert_eq!(keys, want_keys);
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r["change"].as_str().unwrap(),
                r["from_status"].as_str().unwrap_or("null"),
                r["to_status"].as_str().unwrap_or("null"),
                r["early"],
                r["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "changed creating available null 0850f580f0eaf2932edb6de8c038d97b",
            "changed creating available null 0e16cbecdec00c1de1d05877f86a7238",
            "changed creating available null 16fde38afbc59cf0bccf0aa6c313ef25",
            "appeared null available null 536c6fc605d83d2770741d182aec7cac",
            "vanished deleted null false 57c08c38c2a0bf46c48701a8a6c243a0",
            "changed restoring available null 6ef64652526d9fcf71c4ee7827b8ee8d",
            "changed deleting deleted null a605792e2143bec6a6bb34f6d2821296",
            "appeared null creating null b0ebfd3f191e35dfdfd5c9105c62cd0e",
            "appeared null available null e7249fcc1cad4c75b375b2d78416c029",
            "appeared null available null fda723a9bef341f73a4762b2d5de3226",
        ]
    );

    // The table: change, provider, account, name or id, from → to, early, resource, age.
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &["diff", "-a", "cf-demo-client", "-o", "table"],
    );
    assert_eq!(
        stdout(&o),
        "CHANGE    PROVIDER  ACCOUNT         NAME/ID                               STATUS         EARLY  RESOURCE    AGE\n\
         vanished  cf        cf-demo-client  6acf9095-8ce3-47be-9057-234b7784bda9  available → -  no     reports-db  6d\n\
         appeared  cf        cf-demo-client  b8dea8da-6cd3-49de-aadf-079053a1d13a  - → available  -      reports-db  49m\n"
    );

    // The early deletions are the `early` rows; --from an age before day 0 finds nothing.
    let o = with_inventory(NOW, &day1.config, &inv, &["diff", "-o", "ndjson"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let mut early: Vec<String> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["early"] == Value::Bool(true))
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    early.sort();
    assert_eq!(early, [EARLY_HUAWEI, EARLY_BYCLOUD]);
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &["diff", "-a", "cf-demo-client", "--from", "2d"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "backups: cf-demo-client: no successful snapshot taken at or before 2026-11-21T12:00:00Z to compare with\n"
    );
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &["diff", "-a", "cf-demo-client", "--from", "12h", "-o", "csv"],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
}

#[test]
fn audit_record_on_day_0_then_day_1_reports_exactly_the_two_early_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.db");
    let day0 = EmulatorProcess::start_at(DAY0, &["--day", "0"]);
    let o = with_inventory(
        DAY0,
        &day0.config,
        &inv,
        &["audit", "--record", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(findings_of(&o).iter().all(|f| f.0 != "vanished"));
    drop(day0);
    let day1 = EmulatorProcess::start(&["--day", "1"]);
    // Given --inventory, audit compares without recording.
    let o = with_inventory(NOW, &day1.config, &inv, &["audit", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let vanished: Vec<(String, String, Option<String>)> = findings_of(&o)
        .into_iter()
        .filter(|f| f.0 == "vanished")
        .collect();
    assert_eq!(
        vanished,
        [
            (
                "vanished".to_string(),
                "huawei-demo-sg".to_string(),
                Some(EARLY_HUAWEI.to_string())
            ),
            (
                "vanished".to_string(),
                "bycloud-demo-spo".to_string(),
                Some(EARLY_BYCLOUD.to_string())
            ),
        ]
    );
    assert_eq!(
        snapshots(&inv, backups::model::ProviderId::Huawei, "huawei-demo-sg").len(),
        1,
        "comparing records nothing"
    );
    // In the line format, each names the backup and why it was not due.
    let o = with_inventory(NOW, &day1.config, &inv, &["audit"]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\tvanished\t"))
        .collect();
    assert_eq!(
        lines,
        [
            "huawei\thuawei-demo-sg\t9d03bdd8-74dd-44ff-abcf-5672616a28f0 (ecs-web-02)\tvanished\tbackup 3d0c3669-7005-4003-87fd-f67de199277a (autobk_e417) was available at 2026-11-22T12:00:00Z and is gone, though it expires at 2026-12-20T10:36:59.724488Z\t39c04b85-53a6-422b-8f45-3aa125a359d1 at 2026-11-23T10:53:59.767675Z (1h ago)",
            "bycloud\tbycloud-demo-spo\t22f69b88-1963-4ed2-8221-9a0d23fc61d6\tvanished\tbackup 9724e757-ebd0-465c-85c6-a6c61ba98d1a (db-main-20261120-1049) was available at 2026-11-22T12:00:00Z and is gone, though it was not the oldest available backup of its resource\t383939a9-22b1-4285-a4bb-a19736b3897a at 2026-11-23T10:37:59Z (1h ago)",
        ],
        "{text}"
    );
    // Recording day 1 reports them once more; the next audit compares with day 1.
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &["audit", "--record", "-o", "ndjson"],
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o).matches("\"kind\":\"vanished\"").count(), 2);
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &["audit", "--record", "-o", "ndjson"],
    );
    assert_eq!(stdout(&o).matches("\"kind\":\"vanished\"").count(), 0);
    assert_eq!(
        snapshots(&inv, backups::model::ProviderId::Huawei, "huawei-demo-sg").len(),
        3
    );
}

#[test]
fn record_with_a_row_filter_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.db");
    let cases: [(&[&str], &str); 5] = [
        (&["list", "--record", "--status", "error"], "--status"),
        (&["list", "--record", "--limit", "5"], "--limit"),
        (&["list", "--record", "--since", "2d"], "--since"),
        (&["audit", "--record", "--resource", "vol1"], "--resource"),
        (&["audit", "--name", "web-*"], "--name"),
    ];
    for (args, flag) in cases {
        let o = run(backups()
            .args(args)
            .arg("--demo")
            .arg("--inventory")
            .arg(&inv));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("cannot go with {flag} ")), "{err}");
        assert_eq!(stdout(&o), "");
    }
    assert!(!inv.exists(), "nothing is created");
    // --provider and --account are fine: they select whole accounts.
    let o = run(backups()
        .args(["list", "--demo", "--record", "-p", "cf", "-a", "cf-demo"])
        .arg("--inventory")
        .arg(&inv));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        snapshots(&inv, backups::model::ProviderId::Cf, "cf-demo").len(),
        1
    );
    assert!(snapshots(&inv, backups::model::ProviderId::Cf, "cf-demo-client").is_empty());
}

#[test]
fn a_failed_account_records_a_failed_snapshot_never_read_as_vanished() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.db");
    let sg = ["-a", "huawei-demo-sg", "-o", "json"];
    let day0 = EmulatorProcess::start_at(DAY0, &["--day", "0"]);
    let o = with_inventory(
        DAY0,
        &day0.config,
        &inv,
        &[&["audit", "--record"][..], &sg].concat(),
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    drop(day0);
    let day1 = EmulatorProcess::start(&["--day", "1"]);
    let text = day1.config_text();
    // The first secret key of the demo config is huawei-demo-sg's.
    let broken = text.replacen("secret_key = \"", "secret_key = \"wrong", 1);
    assert_ne!(broken, text);
    let broken = day1.write_config("broken.toml", &broken);
    let o = with_inventory(
        NOW,
        &broken,
        &inv,
        &[&["audit", "--record"][..], &sg].concat(),
    );
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    let kinds: Vec<String> = findings_of(&o).into_iter().map(|f| f.0).collect();
    assert_eq!(kinds, ["account_failed"]);
    let recorded = snapshots(&inv, backups::model::ProviderId::Huawei, "huawei-demo-sg");
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].row_count, 0);
    let failure = recorded[1].failure.as_deref().unwrap_or_default();
    assert!(failure.starts_with("huawei-demo-sg: "), "{failure}");
    assert!(
        !failure.contains("wrong"),
        "no secret in the inventory: {failure}"
    );

    // diff: the newest snapshot failed, so there is nothing to compare (exit 3).
    let o = with_inventory(
        NOW,
        &broken,
        &inv,
        &["diff", "-a", "huawei-demo-sg", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o), "[]\n");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("backups: huawei-demo-sg: the newest snapshot (2026-11-23T12:00:00Z) is of a failed listing, so there is nothing to compare: "),
        "{err}"
    );

    // The next good listing is compared with day 0's, the last one that had rows: exactly
    // the one early deletion, not every backup.
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &[&["audit", "--record"][..], &sg].concat(),
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let vanished: Vec<Option<String>> = findings_of(&o)
        .into_iter()
        .filter(|f| f.0 == "vanished")
        .map(|f| f.2)
        .collect();
    assert_eq!(vanished, [Some(EARLY_HUAWEI.to_string())]);
    let o = with_inventory(
        NOW,
        &day1.config,
        &inv,
        &["diff", "-a", "huawei-demo-sg", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!rows.is_empty() && rows.len() < 20, "{} rows", rows.len());
}

#[test]
fn diff_needs_two_snapshots_and_a_newest_one_that_listed() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.db");
    let emu = EmulatorProcess::start(&[]);
    // cf-demo twice, cf-demo-client and bycloud-demo-key once.
    for accounts in ["cf-demo,cf-demo-client,bycloud-demo-key", "cf-demo"] {
        let o = with_inventory(
            NOW,
            &emu.config,
            &inv,
            &["list", "--record", "-a", accounts],
        );
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    }
    let o = with_inventory(NOW, &emu.config, &inv, &["diff"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: fewer than two snapshots of bycloud-demo-key, cf-demo-client in {}: record another listing to compare\n",
            inv.display()
        )
    );
    // The other account's rows are printed: none, the same data twice.
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "only the header: {}",
        stdout(&o)
    );
    let o = with_inventory(
        NOW,
        &emu.config,
        &inv,
        &["diff", "-p", "cf", "-a", "cf-demo"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A failed newest snapshot of one account: exit 3, which wins over 2.
    let broken = emu.write_config(
        "broken.toml",
        &emu.config_text()
            .replace("cf-demo-password", "wrong-password"),
    );
    let o = with_inventory(NOW, &broken, &inv, &["list", "--record", "-a", "cf-demo"]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    let o = with_inventory(NOW, &emu.config, &inv, &["diff", "-o", "ndjson"]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("backups: fewer than two snapshots of bycloud-demo-key, cf-demo-client"));
    assert!(err.contains("backups: cf-demo: the newest snapshot"));
    assert_eq!(stdout(&o), "");

    // --account names an account of the inventory.
    let o = with_inventory(NOW, &emu.config, &inv, &["diff", "-a", "oracle-demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: --account `oracle-demo`: no snapshots of such an account in {} (recorded: bycloud-demo-key, cf-demo, cf-demo-client)\n",
            inv.display()
        )
    );
}

#[test]
fn diff_without_an_inventory_is_a_usage_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("sub").join("inventory.db");
    let o = run(backups().arg("diff").arg("--inventory").arg(&inv));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: no inventory at {} (record listings with `backups list --record`)\n",
            inv.display()
        )
    );
    assert!(!dir.path().join("sub").exists());
    // The default path is under $XDG_DATA_HOME.
    let o = run(backups().arg("diff").env("XDG_DATA_HOME", dir.path()));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("{}/backups/inventory.db", dir.path().display())),
        "{}",
        stderr(&o)
    );
    // An empty file is an empty inventory.
    std::fs::write(dir.path().join("empty.db"), "").unwrap();
    let o = run(backups()
        .arg("diff")
        .arg("--inventory")
        .arg(dir.path().join("empty.db")));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds no snapshots yet"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(dir.path().join("empty.db")).unwrap(), b"");
}

#[test]
fn a_file_that_is_not_an_inventory_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let content = b"these are my notes, not an inventory\n".repeat(10);
    std::fs::write(&path, &content).unwrap();
    for args in [
        &["list", "--demo", "--record"][..],
        &["audit", "--demo"],
        &["diff"],
    ] {
        let o = run(backups().args(args).arg("--inventory").arg(&path));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o),
            format!(
                "backups: {}: not a backups inventory (it is not a SQLite database); left untouched\n",
                path.display()
            )
        );
        assert_eq!(stdout(&o), "");
    }
    assert_eq!(std::fs::read(&path).unwrap(), content);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["notes.db"], "no -wal or -shm beside it");
}

#[test]
fn two_list_record_runs_at_once_both_record() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.db");
    let emu = EmulatorProcess::start(&[]);
    let start = || {
        backups()
            .args(["list", "--record", "-o", "json", "--config"])
            .arg(&emu.config)
            .arg("--inventory")
            .arg(&inv)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    for child in [a, b] {
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        assert!(rows.len() > 300);
    }
    for (provider, account) in [
        (backups::model::ProviderId::Oracle, "oracle-demo"),
        (backups::model::ProviderId::Huawei, "huawei-demo-sg"),
        (backups::model::ProviderId::Bycloud, "bycloud-demo-key"),
    ] {
        let s = snapshots(&inv, provider, account);
        assert_eq!(s.len(), 2, "{account}");
        assert!(s.iter().all(|s| s.is_ok() && s.row_count > 0), "{s:?}");
    }
    let o = with_inventory(NOW, &emu.config, &inv, &["diff"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "no changes: {}", stdout(&o));
}

#[test]
fn the_inventory_table_records_every_whole_listing_and_streams_ndjson() {
    let emu = EmulatorProcess::start(&[]);
    let config = emu.write_config(
        "recording.toml",
        &format!(
            "[inventory]\nrecord = true\npath = \"history/inv.db\"\nkeep = \"30d\"\n\n{}",
            emu.config_text()
        ),
    );
    let inv = config.parent().unwrap().join("history/inv.db");
    let o = run(backups()
        .args(["list", "-o", "ndjson", "-a", "huawei-demo-sg", "--config"])
        .arg(&config));
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let streamed = stdout(&o).lines().count();
    let recorded = snapshots(&inv, backups::model::ProviderId::Huawei, "huawei-demo-sg");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].row_count as usize, streamed);
    // A row filter: the config's record = true is not a request for a filtered snapshot.
    let o = run(backups()
        .args([
            "list",
            "--status",
            "error",
            "-a",
            "huawei-demo-sg",
            "--config",
        ])
        .arg(&config));
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "backups: warning: not recorded: [inventory] record = true records whole accounts, and --status filters rows\n"
    );
    assert_eq!(
        snapshots(&inv, backups::model::ProviderId::Huawei, "huawei-demo-sg").len(),
        1
    );
    // A closed pipe after the first line: the account is still recorded whole.
    let mut child = backups()
        .args(["list", "-o", "ndjson", "-a", "huawei-demo-sg", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with('{'));
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let recorded = snapshots(&inv, backups::model::ProviderId::Huawei, "huawei-demo-sg");
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].row_count as usize, streamed);
    // An unknown key of the table is named with a suggestion.
    let bad = emu.write_config("bad.toml", "[inventory]\nrecrod = true\n");
    let o = run(backups().args(["list", "--config"]).arg(&bad));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: {}: [inventory]: key `recrod`: unknown key, did you mean `record`?\n",
            bad.display()
        )
    );
}
