//! Helpers for the integration tests: run the built binary, start a standalone emulator.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The pinned "now" every test uses, so demo data and ages are deterministic.
pub(crate) const NOW: &str = "2026-11-23T12:00:00Z";

/// The built `backups` binary with a clean environment: no config, pinned time, no colour.
pub(crate) fn backups() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backups"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent-home-for-tests")
        .env("BACKUPS_NOW", NOW)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// The built `backups` binary with `args`, its stdout on a pseudo-terminal (util-linux
/// `script`), with the environment of [`backups`] minus `NO_COLOR`, plus `env`. `None`, with
/// the reason printed, when `script` is not installed.
pub(crate) fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> Option<Command> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed, so no terminal to test with");
        return None;
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_backups"))
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let mut cmd = Command::new("script");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent-home-for-tests")
        .env("BACKUPS_NOW", NOW)
        .envs(env.iter().copied())
        .args(["-qefc", &line.join(" "), "/dev/null"])
        .stdin(Stdio::null());
    Some(cmd)
}

/// Runs a command with a time bound, returning its output.
pub(crate) fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn backups");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        stderr.read_to_end(&mut v).unwrap();
        v
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("backups did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// stdout as text.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

/// stderr as text.
pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// A standalone `backups emulator` child process, killed on drop.
pub(crate) struct EmulatorProcess {
    child: Child,
    /// Kept open: the emulator must not see its stdout close.
    _stdout: BufReader<std::process::ChildStdout>,
    /// The base URL it printed.
    pub(crate) base: String,
    /// The config it wrote for its demo accounts.
    pub(crate) config: PathBuf,
    _dir: tempfile::TempDir,
}

impl EmulatorProcess {
    /// Starts `backups emulator --port 0 --write-config <tmp>` plus `extra` flags.
    pub(crate) fn start(extra: &[&str]) -> EmulatorProcess {
        EmulatorProcess::start_at(NOW, extra)
    }

    /// [`EmulatorProcess::start`] with its clock at `now` (`BACKUPS_NOW`): with `--day N`,
    /// the moment of day N's listing, so that day 0 at `now - N days` and day N at `now`
    /// are one timeline.
    pub(crate) fn start_at(now: &str, extra: &[&str]) -> EmulatorProcess {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let mut child = backups()
            .env("BACKUPS_NOW", now)
            .args(["emulator", "--port", "0", "--write-config"])
            .arg(&config)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn emulator");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        let base = first.trim().to_string();
        assert!(
            base.starts_with("http://127.0.0.1:") || base.starts_with("https://127.0.0.1:"),
            "first line is the base URL: {base:?}"
        );
        EmulatorProcess {
            child,
            _stdout: stdout,
            base,
            config,
            _dir: dir,
        }
    }

    /// The written config's text.
    pub(crate) fn config_text(&self) -> String {
        std::fs::read_to_string(&self.config).unwrap()
    }

    /// Writes `text` as a config next to the emulator's and returns its path.
    pub(crate) fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let p = self.config.parent().unwrap().join(name);
        write_private(&p, text);
        p
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of a golden file under tests/golden.
pub(crate) fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with a golden file; `UPDATE_GOLDEN=1` rewrites it instead.
pub(crate) fn assert_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(
        actual,
        want,
        "output differs from {} (UPDATE_GOLDEN=1 to accept)",
        path.display()
    );
}

/// Writes a file readable by its owner only, as a config with secrets should be.
pub(crate) fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Replaces every `127.0.0.1:<port>` with `127.0.0.1:PORT`: two emulators differ only there.
pub(crate) fn without_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i + 10]);
        rest = &rest[i + 10..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(if digits > 0 { "PORT" } else { "" });
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// A UAA password-grant token from the emulator's Cloud Foundry login server, as the cf CLI
/// gets one (client `cf`, empty secret).
pub(crate) fn uaa_password_token(api: &str, form: &str) -> serde_json::Value {
    let url = format!("{}/login/oauth/token", api.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let resp = reqwest::Client::new()
            .post(url)
            .header("authorization", "Basic Y2Y6")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form.to_string())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
    })
}
