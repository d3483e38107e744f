//! The monitoring feeds of `docs/monitoring.md` against real software and real servers: the
//! Prometheus exposition checked by `promtool` (skipped, saying so, where promtool is absent) and
//! read back value for value against the listing; the textfile; the exporter serving scrapes
//! without listing again; the Nagios check's lines and exit codes; the healthchecks.io
//! pings, recorded by a small server.

#![cfg(feature = "emulator")]

mod support;

#[path = "support/exposition.rs"]
mod exposition;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backups::emulator::{Emulator, EmulatorOptions};
use chrono::{DateTime, Utc};
use serde_json::Value;
use support::{backups, run, stderr, stdout, write_private, NOW};

// ----- helpers -----

/// The pinned "now" as a time.
fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

/// promtool: `$PROMTOOL`, else `target/tools/promtool` (where `.ci/run` puts it), else
/// `promtool` on PATH; `None`, with the reason printed, when there is none.
fn promtool() -> Option<PathBuf> {
    let candidates = std::env::var_os("PROMTOOL")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/promtool"),
            PathBuf::from("promtool"),
        ]);
    for c in candidates {
        let ok = Command::new(&c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(c);
        }
    }
    eprintln!(
        "skipped: promtool not found ($PROMTOOL, target/tools/promtool or PATH); \
         .ci/run fetches it from Debian's prometheus package"
    );
    None
}

/// Runs promtool with `args`, `stdin` as its input; its status and output.
fn run_promtool(promtool: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(promtool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `promtool check metrics` must pass with nothing to say.
fn assert_promtool_accepts(text: &str) {
    let Some(promtool) = promtool() else { return };
    let o = run_promtool(&promtool, &["check", "metrics"], text);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        o.status.success() && said.is_empty(),
        "promtool: {said}\n{text}"
    );
}

/// An emulator in this process (so a test can count the requests it served), with its
/// runtime; the emulator goes first when dropped.
struct Emu {
    emu: Emulator,
    _runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Emu {
    fn start(latency: Duration) -> Emu {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emu = runtime
            .block_on(Emulator::start(EmulatorOptions {
                now: now(),
                latency,
                ..Default::default()
            }))
            .expect("emulator starts");
        Emu {
            emu,
            _runtime: runtime,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Requests the emulator has served so far.
    fn requests(&self) -> u64 {
        self.emu.shared().requests()
    }

    /// A config with the demo accounts and `extra` after them.
    fn config(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        write_private(&path, &format!("{}\n{extra}", self.emu.config_toml()));
        path
    }
}

/// A ByCloud account whose endpoint refuses connections.
fn dead_account() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!(
        "[accounts.dead]\nprovider = \"bycloud\"\nendpoint = \"http://127.0.0.1:{port}/\"\ntoken = \"t\"\n"
    )
}

/// A config holding only a dead account.
fn dead_only(dir: &Path) -> PathBuf {
    let path = dir.join("dead.toml");
    write_private(&path, &dead_account());
    path
}

/// The families of an exposition, by name.
fn families(text: &str) -> BTreeMap<String, exposition::Family> {
    exposition::parse(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .map(|f| (f.name.clone(), f))
        .collect()
}

/// The one value of `family` for `labels` (which must match exactly one series).
fn one(f: &BTreeMap<String, exposition::Family>, family: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&exposition::Sample> = f[family].matching(labels).collect();
    assert_eq!(matching.len(), 1, "{family} {labels:?}: {matching:?}");
    matching[0].value
}

/// Unix seconds to the millisecond, as the exposition writes times.
fn unix(t: &str) -> f64 {
    let t: DateTime<Utc> = t.parse().unwrap();
    t.timestamp_millis() as f64 / 1000.0
}

const FAMILIES: [&str; 11] = [
    "backups_build_info",
    "backups_audit_timestamp_seconds",
    "backups_audit_duration_seconds",
    "backups_account_up",
    "backups_account_last_success_timestamp_seconds",
    "backups_account_max_age_seconds",
    "backups_resource_info",
    "backups_resource_last_available_timestamp_seconds",
    "backups_resource_last_available_size_bytes",
    "backups_resource_backups",
    "backups_findings",
];

const KINDS: [&str; 7] = [
    "account_failed",
    "failed",
    "stale",
    "unknown_age",
    "missing",
    "retention",
    "vanished",
];

// ----- Prometheus text format -----

#[test]
fn promtool_accepts_the_demo_exposition_and_exit_codes_follow_the_audit() {
    let o = run(backups().args(["audit", "--demo", "-o", "prometheus"]));
    assert_eq!(o.status.code(), Some(1), "findings: exit 1; {}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let text = stdout(&o);
    assert_promtool_accepts(&text);
    let names: Vec<String> = families(&text).into_keys().collect();
    let mut want: Vec<String> = FAMILIES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want, "every family, each once");
    // One healthy resource: exit 0.
    let o = run(backups().args([
        "audit",
        "--demo",
        "-o",
        "prometheus",
        "-a",
        "cf-demo-client",
        "--resource",
        "reports-db",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_promtool_accepts(&stdout(&o));
}

#[test]
fn the_exposition_reads_back_to_the_listing_value_for_value() {
    let text = stdout(&run(backups().args([
        "audit",
        "--demo",
        "-o",
        "prometheus",
    ])));
    let f = families(&text);
    let o = run(backups().args(["list", "--demo", "-o", "json"]));
    let rows: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let o = run(backups().args(["audit", "--demo", "-o", "json"]));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let s = |v: &Value, k: &str| v[k].as_str().map(String::from);

    assert_eq!(
        f["backups_build_info"].samples[0].labels,
        [("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]
    );
    let finished = one(&f, "backups_audit_timestamp_seconds", &[]);
    let at = unix(NOW);
    assert!(
        (at..at + 120.0).contains(&finished),
        "the listing finished after the pinned now: {finished}"
    );
    let took = one(&f, "backups_audit_duration_seconds", &[]);
    assert!((0.0..120.0).contains(&took), "{took}");

    // Accounts: each up, listed when the audit finished, under the default max age.
    let accounts: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (s(r, "provider").unwrap(), s(r, "account").unwrap()))
        .collect();
    assert_eq!(accounts.len(), 9);
    for (p, a) in &accounts {
        let pa = [("provider", p.as_str()), ("account", a.as_str())];
        assert_eq!(one(&f, "backups_account_up", &pa), 1.0);
        assert_eq!(
            one(&f, "backups_account_last_success_timestamp_seconds", &pa),
            finished
        );
        assert_eq!(one(&f, "backups_account_max_age_seconds", &pa), 93600.0);
        // Every kind, for every account, as many as the JSON report has.
        for kind in KINDS {
            let n = findings
                .iter()
                .filter(|x| s(x, "account").as_deref() == Some(a) && x["kind"] == kind)
                .count();
            let labels = [pa[0], pa[1], ("kind", kind)];
            assert_eq!(one(&f, "backups_findings", &labels), n as f64, "{a} {kind}");
        }
    }
    assert_eq!(f["backups_findings"].samples.len(), 9 * KINDS.len());

    // Resources: keyed as the audit keys them; each family's value from the rows.
    let mut groups: BTreeMap<(String, String, String), Vec<&Value>> = BTreeMap::new();
    for r in &rows {
        let key = s(r, "resource_id")
            .or_else(|| s(r, "resource_name"))
            .unwrap_or_else(|| "-".into());
        let group = (s(r, "provider").unwrap(), s(r, "account").unwrap(), key);
        groups.entry(group).or_default().push(r);
    }
    for ((p, a, key), backups) in &groups {
        let par = [
            ("provider", p.as_str()),
            ("account", a.as_str()),
            ("resource", key.as_str()),
        ];
        let info: Vec<&exposition::Sample> = f["backups_resource_info"].matching(&par).collect();
        assert_eq!(info.len(), 1, "{par:?}");
        assert_eq!(info[0].value, 1.0);
        let names: BTreeSet<String> = backups
            .iter()
            .filter_map(|b| s(b, "resource_name"))
            .collect();
        let name = info[0].label("resource_name").unwrap();
        assert!(
            names.contains(name) || (names.is_empty() && name.is_empty()),
            "{par:?}: {name:?} of {names:?}"
        );
        let available: Vec<&&Value> = backups
            .iter()
            .filter(|b| b["status"] == "available" && b["created_at"].is_string())
            .collect();
        let newest = available
            .iter()
            .map(|b| unix(b["created_at"].as_str().unwrap()))
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
        let last = one(
            &f,
            "backups_resource_last_available_timestamp_seconds",
            &par,
        );
        assert_eq!(last, newest.unwrap_or(0.0), "{par:?}");
        let sizes: Vec<f64> = available
            .iter()
            .filter(|b| Some(unix(b["created_at"].as_str().unwrap())) == newest)
            .filter_map(|b| b["size_bytes"].as_u64().map(|n| n as f64))
            .collect();
        let size: Vec<f64> = f["backups_resource_last_available_size_bytes"]
            .matching(&par)
            .map(|x| x.value)
            .collect();
        match size.as_slice() {
            [] => assert!(sizes.is_empty(), "{par:?}: a size is known: {sizes:?}"),
            [one] => assert!(sizes.contains(one), "{par:?}: {one} of {sizes:?}"),
            more => panic!("{par:?}: {more:?}"),
        }
        let mut statuses: BTreeMap<String, f64> = BTreeMap::new();
        for b in backups {
            *statuses.entry(s(b, "status").unwrap()).or_default() += 1.0;
        }
        let got: BTreeMap<String, f64> = f["backups_resource_backups"]
            .matching(&par)
            .map(|x| (x.label("status").unwrap().to_string(), x.value))
            .collect();
        assert_eq!(got, statuses, "{par:?}");
    }
    // Beyond the rows: the service instance the provider lists without a backup.
    let empty: Vec<&Value> = findings
        .iter()
        .filter(|x| x["kind"] == "missing" && x["message"] == "no backup of this service instance")
        .collect();
    assert_eq!(empty.len(), 1);
    let par = [
        ("account", empty[0]["account"].as_str().unwrap()),
        ("resource", empty[0]["resource"].as_str().unwrap()),
    ];
    assert_eq!(
        one(
            &f,
            "backups_resource_last_available_timestamp_seconds",
            &par
        ),
        0.0
    );
    assert_eq!(f["backups_resource_backups"].matching(&par).count(), 0);
    assert_eq!(
        f["backups_resource_info"].samples.len(),
        groups.len() + 1,
        "the resources of the rows and the empty service instance, no more"
    );
    assert_eq!(report["summary"]["resources"], groups.len() + 1);

    // No label carries a backup id (one series per backup would be unbounded).
    let ids: BTreeSet<String> = rows.iter().filter_map(|r| s(r, "id")).collect();
    for family in f.values() {
        for sample in &family.samples {
            for (_, v) in &sample.labels {
                assert!(!ids.contains(v), "{} carries backup id {v}", family.name);
            }
        }
    }
}

#[test]
fn the_textfile_is_replaced_whole_with_mode_0644_and_stdout_keeps_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backups.prom");
    std::fs::write(&path, "old\n").unwrap();
    // A umask of 077 would make a plain file 0600: the collector could not read it.
    let o = run(Command::new("sh")
        .args(["-c", "umask 077 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_backups"))
        .args(["audit", "--demo", "-o", "json", "--textfile"])
        .arg(&path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent-home-for-tests")
        .env("BACKUPS_NOW", NOW)
        .stdin(Stdio::null()));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).expect("the usual JSON report");
    assert_eq!(report["summary"]["findings"], 38);
    let text = std::fs::read_to_string(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["backups.prom"], "no temporary file left");
    // The same text as -o prometheus, but for when the listing finished and how long it took.
    let timeless = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| {
                !l.starts_with("backups_audit_") && !l.starts_with("backups_account_last_success")
            })
            .map(String::from)
            .collect()
    };
    let printed = stdout(&run(backups().args([
        "audit",
        "--demo",
        "-o",
        "prometheus",
    ])));
    assert_eq!(timeless(&text), timeless(&printed));
    assert_promtool_accepts(&text);

    // A folder that is not there: the report is still printed, then the error, exit 3.
    let bad = dir.path().join("nope/backups.prom");
    let o = run(backups()
        .args(["audit", "--demo", "-o", "json", "--textfile"])
        .arg(&bad));
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("\"findings\""));
    assert_eq!(
        stderr(&o),
        format!(
            "backups: --textfile {}: cannot write: No such file or directory (os error 2)\n",
            bad.display()
        )
    );
}

#[test]
fn a_failed_account_is_down_with_its_finding_and_findings_with_a_failure_exit_3() {
    let emu = Emu::start(Duration::ZERO);
    let config = emu.config("config.toml", &dead_account());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backups.prom");
    let o = run(backups()
        .args(["audit", "--retries", "0", "-o", "prometheus", "--textfile"])
        .arg(&path)
        .arg("--config")
        .arg(&config));
    assert_eq!(o.status.code(), Some(3), "findings and a failed account: 3");
    let err = stderr(&o);
    assert!(
        err.starts_with("backups: dead: GET /v1/backups: cannot connect"),
        "{err}"
    );
    let text = stdout(&o);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_promtool_accepts(&text);
    let f = families(&text);
    let dead = [("provider", "bycloud"), ("account", "dead")];
    assert_eq!(one(&f, "backups_account_up", &dead), 0.0);
    assert_eq!(
        one(&f, "backups_account_last_success_timestamp_seconds", &dead),
        0.0
    );
    for kind in KINDS {
        let n = if kind == "account_failed" { 1.0 } else { 0.0 };
        assert_eq!(
            one(&f, "backups_findings", &[dead[0], dead[1], ("kind", kind)]),
            n
        );
    }
    assert_eq!(f["backups_resource_info"].matching(&dead).count(), 0);
    assert_eq!(f["backups_account_up"].samples.len(), 10);
}

// ----- exporter -----

/// A `backups exporter` child process, killed on drop.
struct Exporter {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    base: String,
}

impl Exporter {
    fn start(config: &Path, extra: &[&str]) -> Exporter {
        let mut child = backups()
            .args(["exporter", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn exporter");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let base = first.trim().to_string();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "first line is the base URL: {base:?}"
        );
        Exporter {
            child,
            stdout,
            base,
        }
    }

    /// `GET path`: status, content type, body.
    fn get(&self, path: &str) -> (u16, String, String) {
        let host = self.base.trim_start_matches("http://");
        let mut s = TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| l.strip_prefix("content-type: "))
            .unwrap_or_default()
            .to_string();
        (status, content_type, body.to_string())
    }

    /// Scrapes until the first listing is in, within a bound.
    fn wait_for_listing(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, _, body) = self.get("/metrics");
            if body.contains("\nbackups_audit_timestamp_seconds ") {
                return body;
            }
            assert!(Instant::now() < deadline, "no listing within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` (TERM, INT) and waits, within a bound, for the exit.
    fn stop(mut self, signal: &str) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -{signal} {pid}")])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "still running 10 s after SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (status, rest)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_exporter_serves_scrapes_from_its_last_listing_and_never_lists_for_one() {
    // Slow responses, so the first scrape comes before the first listing is in.
    let emu = Emu::start(Duration::from_millis(1500));
    let config = emu.config("config.toml", "");
    let exporter = Exporter::start(&config, &["--interval", "1h", "-a", "bycloud-demo-spo"]);
    let (status, content_type, before) = exporter.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let f = families(&before);
    assert_eq!(
        f.len(),
        FAMILIES.len(),
        "every family before the first listing"
    );
    let series: Vec<&str> = before.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        series,
        [format!(
            "backups_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )
        .as_str()]
    );
    assert_promtool_accepts(&before);

    let listed = exporter.wait_for_listing();
    let served = emu.requests();
    assert!(served > 0);
    let (_, _, again) = exporter.get("/metrics");
    let (_, _, third) = exporter.get("/metrics");
    let (status, content_type, index) = exporter.get("/");
    assert_eq!(emu.requests(), served, "a scrape never reaches the clouds");
    assert_eq!((&again, &third), (&listed, &listed));
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(index.contains("<a href=\"/metrics\">"), "{index}");
    assert_eq!(exporter.get("/nothing").0, 404);
    assert_promtool_accepts(&listed);
    let f = families(&listed);
    let spo = [("provider", "bycloud"), ("account", "bycloud-demo-spo")];
    assert_eq!(one(&f, "backups_account_up", &spo), 1.0);
    assert_eq!(
        f["backups_account_up"].samples.len(),
        1,
        "only the selected account"
    );
    assert!(f["backups_resource_info"].matching(&spo).count() > 0);

    let (status, rest) = exporter.stop("TERM");
    assert_eq!(status.code(), Some(0), "SIGTERM: a clean exit");
    assert_eq!(rest, "", "stdout holds the base URL only");
}

#[test]
fn the_exporter_stops_cleanly_on_sigint_and_shows_a_failed_account_as_down() {
    let emu = Emu::start(Duration::ZERO);
    let config = emu.config("config.toml", &dead_account());
    let exporter = Exporter::start(&config, &["--retries", "0", "-a", "dead,cf-demo-client"]);
    let f = families(&exporter.wait_for_listing());
    let dead = [("provider", "bycloud"), ("account", "dead")];
    assert_eq!(one(&f, "backups_account_up", &dead), 0.0);
    assert_eq!(
        one(
            &f,
            "backups_findings",
            &[dead[0], dead[1], ("kind", "account_failed")]
        ),
        1.0
    );
    let cf = [("provider", "cf"), ("account", "cf-demo-client")];
    assert_eq!(one(&f, "backups_account_up", &cf), 1.0);
    let (status, _) = exporter.stop("INT");
    assert_eq!(status.code(), Some(0), "SIGINT: a clean exit");
}

/// A ByCloud account on a server that accepts connections and never answers (for 60 s).
fn silent_account() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    format!(
        "[accounts.silent]\nprovider = \"bycloud\"\nendpoint = \"http://127.0.0.1:{port}/\"\ntoken = \"t\"\n"
    )
}

/// Each listing is a run of its own: `--deadline` counts from its start. A deadline counted
/// from the exporter's start would fail every account of the second listing at once.
#[test]
fn the_exporter_counts_the_deadline_from_the_start_of_each_listing() {
    let emu = Emu::start(Duration::ZERO);
    let config = emu.config("config.toml", &silent_account());
    let exporter = Exporter::start(
        &config,
        &[
            "--interval",
            "10s",
            "--deadline",
            "2s",
            "-a",
            "silent,cf-demo-client",
        ],
    );
    let stamp = |body: &str| {
        body.lines()
            .find(|l| l.starts_with("backups_audit_timestamp_seconds "))
            .map(str::to_string)
    };
    let first = exporter.wait_for_listing();
    let bound = Instant::now() + Duration::from_secs(60);
    let second = loop {
        let (_, _, body) = exporter.get("/metrics");
        if stamp(&body) != stamp(&first) {
            break body;
        }
        assert!(Instant::now() < bound, "no second listing within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    let silent = [("provider", "bycloud"), ("account", "silent")];
    let cf = [("provider", "cf"), ("account", "cf-demo-client")];
    for body in [&first, &second] {
        let f = families(body);
        assert_eq!(one(&f, "backups_account_up", &silent), 0.0, "{body}");
        assert_eq!(one(&f, "backups_account_up", &cf), 1.0, "{body}");
    }
    let (status, _) = exporter.stop("TERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_exporter_records_each_listing_when_the_inventory_table_says_so() {
    let emu = Emu::start(Duration::ZERO);
    let extra = format!(
        "{}\n[inventory]\nrecord = true\npath = \"inv.db\"\n",
        dead_account()
    );
    let config = emu.config("config.toml", &extra);
    let inv = config.parent().unwrap().join("inv.db");
    let exporter = Exporter::start(&config, &["--retries", "0", "-a", "dead,cf-demo-client"]);
    // A listing is recorded before its figures are served.
    exporter.wait_for_listing();
    let (status, _) = exporter.stop("TERM");
    assert_eq!(status.code(), Some(0));
    let options = backups::inventory::OpenOptions {
        read_only: true,
        ..Default::default()
    };
    let inventory = backups::inventory::Inventory::open_with(&inv, &options).unwrap();
    let cf = inventory
        .snapshots(backups::model::ProviderId::Cf, "cf-demo-client")
        .unwrap();
    assert_eq!(cf.len(), 1);
    assert!(cf[0].is_ok() && cf[0].row_count > 0, "{cf:?}");
    let dead = inventory
        .snapshots(backups::model::ProviderId::Bycloud, "dead")
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        !dead[0].is_ok(),
        "a failed listing is a failed snapshot: {dead:?}"
    );
}

#[test]
fn the_exporter_refuses_an_interval_under_10s_and_a_busy_address() {
    let o = run(backups().args(["exporter", "--demo", "--interval", "5s"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("must be at least 10s"),
        "{}",
        stderr(&o)
    );
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let o = run(backups().args(["exporter", "--demo", "--listen", &addr]));
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).starts_with(&format!("backups: --listen {addr}: cannot listen: ")),
        "{}",
        stderr(&o)
    );
}

// ----- Nagios / Icinga -----

#[test]
fn nagios_prints_the_status_line_perfdata_and_findings_within_4096_bytes() {
    let o = run(backups().args(["audit", "--demo", "-o", "nagios"]));
    assert_eq!(o.status.code(), Some(1), "WARNING");
    assert_eq!(stderr(&o), "");
    let text = stdout(&o);
    assert!(text.len() <= 4096, "{}", text.len());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "BACKUPS WARNING - 38 findings in 60 resources of 9 accounts (12 failed, 19 stale, 6 unknown_age, 1 missing) \
         | resources=60 findings=38 stale=19 failed=12 accounts_failed=0 oldest_available_age=438541s;93600;;0;"
    );
    let shown = lines.len() - 2;
    assert_eq!(
        lines[lines.len() - 1],
        format!("... {} more findings left out", 38 - shown)
    );
    assert!(lines[1].starts_with("stale "), "worst first: {}", lines[1]);
    assert_eq!(text.matches('|').count(), 1);

    let o = run(backups().args(["audit", "--demo", "-o", "nagios", "--crit-age", "7d"]));
    assert_eq!(o.status.code(), Some(2), "CRITICAL");
    assert!(stdout(&o).starts_with(
        "BACKUPS CRITICAL - 1 resource without an available backup younger than 7d; 38 findings in 60 resources"
    ));
    assert!(stdout(&o)
        .lines()
        .next()
        .unwrap()
        .ends_with(";93600;604800;0;"));

    let healthy = ["-a", "cf-demo-client", "--resource", "reports-db"];
    let o = run(backups()
        .args(["audit", "--demo", "-o", "nagios"])
        .args(healthy));
    assert_eq!(o.status.code(), Some(0), "OK");
    assert_eq!(
        stdout(&o),
        "BACKUPS OK - 0 findings in 1 resource of 1 account | resources=1 findings=0 stale=0 failed=0 accounts_failed=0 oldest_available_age=2161s;93600;;0;\n"
    );
    // --warn-age is the stale threshold: 1h makes reports-db (36m old) still fine, 30m not.
    let o = run(backups()
        .args(["audit", "--demo", "-o", "nagios", "--warn-age", "30m"])
        .args(healthy));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(" stale=1 "), "{}", stdout(&o));
    assert!(stdout(&o).contains(";1800;;0;\n"), "{}", stdout(&o));
}

#[test]
fn nagios_is_unknown_when_an_account_failed_and_for_any_usage_or_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(backups()
        .args(["audit", "--retries", "0", "-o", "nagios", "--config"])
        .arg(dead_only(dir.path())));
    assert_eq!(o.status.code(), Some(3), "UNKNOWN");
    assert_eq!(stderr(&o), "", "a check's output is its stdout");
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "BACKUPS UNKNOWN - 1 finding in 0 resources of 1 account; 1 account could not be listed \
         | resources=0 findings=1 stale=0 failed=0 accounts_failed=1 oldest_available_age=U;93600;;0;"
    );
    assert!(
        lines[1].starts_with("account_failed bycloud/dead: could not be listed: dead: GET /v1/backups: cannot connect"),
        "{}",
        lines[1]
    );
    // Findings besides the failure: WARNING outranks UNKNOWN.
    let emu = Emu::start(Duration::ZERO);
    let config = emu.config("config.toml", &dead_account());
    let o = run(backups()
        .args(["audit", "--retries", "0", "-o", "nagios", "--config"])
        .arg(&config));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("BACKUPS WARNING - 39 findings in 60 resources of 10 accounts"));
    assert!(stdout(&o)
        .lines()
        .next()
        .unwrap()
        .contains("; 1 account could not be listed | "));

    // Usage errors, clap's own included, and configuration errors: UNKNOWN on stdout, exit 3.
    let bad = dir.path().join("bad.toml");
    write_private(&bad, "[audit]\nkep = \"daily=7\"\n");
    for (args, line) in [
        (
            vec!["audit", "--demo", "-o", "nagios", "--bogus"],
            "BACKUPS UNKNOWN - unexpected argument '--bogus' found".to_string(),
        ),
        (
            vec!["audit", "--demo", "--output=nagios", "--warn-age", "1d", "--max-age", "2d"],
            "BACKUPS UNKNOWN - the argument '--warn-age <DUR>' cannot be used with '--max-age <DUR>'".to_string(),
        ),
        (
            vec!["audit", "--demo", "-onagios", "--warn-age", "2d", "--crit-age", "1d"],
            "BACKUPS UNKNOWN - --crit-age is shorter than --warn-age".to_string(),
        ),
        (
            vec!["audit", "-o", "nagios", "--config", bad.to_str().unwrap()],
            format!("BACKUPS UNKNOWN - {}: [audit]: key `kep`: unknown key, did you mean `keep`?", bad.display()),
        ),
    ] {
        let o = run(backups().args(&args));
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        assert_eq!(stdout(&o), format!("{line}\n"), "{args:?}");
        assert_eq!(stderr(&o), "", "{args:?}");
    }
    // Outside Nagios mode the same mistakes are usage errors, exit 2.
    let o = run(backups().args(["audit", "--demo", "--bogus"]));
    assert_eq!(o.status.code(), Some(2));
    let o = run(backups().args(["audit", "--demo", "--crit-age", "1d"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "backups: --warn-age and --crit-age go with -o nagios\n"
    );
}

// ----- dead man's switch -----

/// A request the ping recorder saw, with how many requests the emulator had served then.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    body: String,
    emulator_requests: u64,
}

/// A healthchecks.io-style server on 127.0.0.1 that records every request and answers
/// `status`; `counter` is read as each request arrives.
fn recorder(
    status: u16,
    counter: impl Fn() -> u64 + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let counter = Arc::new(counter);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (log, counter) = (log.clone(), counter.clone());
            std::thread::spawn(move || serve_pings(conn, status, &log, &*counter));
        }
    });
    (base, seen)
}

/// Answers the requests of one connection (keep-alive) until it closes.
fn serve_pings(conn: TcpStream, status: u16, log: &Mutex<Vec<Seen>>, counter: &dyn Fn() -> u64) {
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut parts = request.split(' ');
        log.lock().unwrap().push(Seen {
            method: parts.next().unwrap().to_string(),
            path: parts.next().unwrap().to_string(),
            body: String::from_utf8(body).unwrap(),
            emulator_requests: counter(),
        });
        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nOK");
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn ping_starts_before_listing_and_reports_the_exit_code_with_the_report() {
    let emu = Emu::start(Duration::ZERO);
    let shared = emu.emu.shared().clone();
    let (base, seen) = recorder(200, move || shared.requests());
    let secret = "5e1f9a2b-7c3d-4e6f-8a9b-ping-secret";
    let url = format!("{base}/ping/{secret}");
    let config = emu.config("config.toml", "");
    let o = run(backups()
        .args(["audit", "--ping", &url, "--config"])
        .arg(&config));
    assert_eq!(o.status.code(), Some(1), "the audit's own exit code");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", format!("/ping/{secret}/start").as_str())
    );
    assert_eq!(
        seen[0].emulator_requests, 0,
        "the start ping comes before any listing"
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("POST", format!("/ping/{secret}/1").as_str())
    );
    assert!(seen[1].emulator_requests > 0);
    // The body: the summary line (which tsv mode prints on stderr), then one line per finding.
    let body = &seen[1].body;
    let summary = stderr(&o);
    assert!(
        summary.starts_with("audit: 38 findings in 60 resources of 9 accounts"),
        "{summary}"
    );
    assert_eq!(body.lines().next(), summary.lines().next());
    assert_eq!(body.lines().count(), 39);
    assert!(body.len() <= 10_000);
    assert!(body.contains("\nstale zcom/zcom-demo-tyo "), "{body}");
    for text in [stdout(&o), stderr(&o)] {
        assert!(!text.contains(secret), "the ping URL is a secret");
    }
}

#[test]
fn ping_url_from_the_config_and_a_nagios_report_as_the_body() {
    let emu = Emu::start(Duration::ZERO);
    let (base, seen) = recorder(200, || 0);
    let config = emu.config("config.toml", "[audit]\nping_url_env = \"HC_PING_URL\"\n");
    let o = run(backups()
        .args(["audit", "-o", "nagios", "--config"])
        .arg(&config)
        .env("HC_PING_URL", format!("{base}/hc/abc")));
    assert_eq!(o.status.code(), Some(1));
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/hc/abc/start", "/hc/abc/1"]);
    assert_eq!(seen[1].body, stdout(&o), "the check's output is the report");
}

#[test]
fn a_failed_ping_is_one_warning_each_and_never_changes_the_exit_code() {
    let (base, seen) = recorder(404, || 0);
    let secret = "hc-secret-7f3a";
    let url = format!("{base}/{secret}");
    let o = run(backups().args(["audit", "--demo", "-o", "json", "--ping", &url]));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "backups: warning: the start ping failed: HTTP 404\n\
         backups: warning: the result ping failed: HTTP 404\n"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert!(!stdout(&o).contains(secret));
    // Nobody listening: the same, after a few tries.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = run(backups().args([
        "audit",
        "--demo",
        "-o",
        "json",
        "--ping",
        &format!("http://127.0.0.1:{port}/x"),
    ]));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.starts_with("backups: warning: the start ping failed: error sending request"),
        "{err}"
    );
}

#[test]
fn a_configuration_error_is_pinged_as_exit_2_and_an_insecure_ping_url_is_refused() {
    let (base, seen) = recorder(200, || 0);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    write_private(&bad, "[audit]\nkep = \"daily=7\"\n");
    let o = run(backups()
        .args(["audit", "--ping", &format!("{base}/k"), "--config"])
        .arg(&bad));
    assert_eq!(o.status.code(), Some(2));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "no start: the run stopped before listing");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/k/2")
    );
    assert_eq!(
        seen[0].body,
        format!(
            "{}: [audit]: key `kep`: unknown key, did you mean `keep`?",
            bad.display()
        )
    );
    // Plain http beyond loopback: refused before anything is sent, and never printed.
    let o = run(backups().args(["audit", "--demo", "--ping", "http://hc.example/abc-secret"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "backups: --ping: plain http is refused for the ping URL (it is a secret); use https, or http to a loopback host\n"
    );
    let cfg = dir.path().join("insecure.toml");
    write_private(
        &cfg,
        &format!(
            "[audit]\nping_url = \"http://hc.example/abc-secret\"\n{}",
            dead_account()
        ),
    );
    let o = run(backups().args(["audit", "--config"]).arg(&cfg));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("[audit]: key `ping_url`: plain http is refused"),
        "{err}"
    );
    assert!(!err.contains("abc-secret"), "{err}");
}

// ----- the alert rules -----

#[test]
fn promtool_accepts_the_alert_rules_and_their_unit_tests_pass() {
    let Some(promtool) = promtool() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");
    for args in [
        ["check", "rules", "backups.rules.yml"],
        ["test", "rules", "backups.rules.test.yml"],
    ] {
        let o = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool {args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
}
