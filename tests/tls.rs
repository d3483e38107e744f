//! The built binary over TLS and through proxies: the emulator's throwaway CA (`ca_file`,
//! `SSL_CERT_FILE`), connections per listing in `-vv`, `HTTPS_PROXY` tunnels (loopback
//! included) and `NO_PROXY`, and plain-http credentials that never reach `HTTP_PROXY`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{backups, run, stderr, stdout, EmulatorProcess};

/// A proxy on 127.0.0.1 that records the head of every request it gets. `CONNECT host:port`
/// is tunnelled (to 127.0.0.1 only); any other request is answered 502 without being sent on.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = Proxy::serve(client, &log);
                });
            }
        });
        Proxy { url, seen }
    }

    fn serve(client: TcpStream, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
        client.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut reader = BufReader::new(client.try_clone()?);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        log.lock().unwrap().push(head.clone());
        let mut client = client;
        let target = head
            .strip_prefix("CONNECT ")
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|t| t.starts_with("127.0.0.1:"));
        let Some(target) = target else {
            client.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )?;
            return Ok(());
        };
        let upstream = TcpStream::connect(target)?;
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        // Bytes the reader buffered past the head belong to the tunnel.
        let buffered = reader.buffer().to_vec();
        let (mut up_w, mut up_r) = (upstream.try_clone()?, upstream);
        up_w.write_all(&buffered)?;
        let mut client_w = client.try_clone()?;
        let to_client = std::thread::spawn(move || std::io::copy(&mut up_r, &mut client_w));
        let mut client_r = reader.into_inner();
        let _ = std::io::copy(&mut client_r, &mut up_w);
        let _ = up_w.shutdown(std::net::Shutdown::Write);
        let _ = to_client.join();
        Ok(())
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// The first line of every request head the proxy got.
fn first_lines(seen: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = seen
        .iter()
        .map(|h| h.lines().next().unwrap_or_default().to_string())
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// `host:port` of an `https://host:port/` URL.
fn authority(url: &str) -> String {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// The demo config's `endpoint` of the account `huawei-demo-sg`.
fn huawei_endpoint(config: &str) -> String {
    let table = config
        .split("[accounts.")
        .find(|t| t.starts_with("huawei-demo-sg]"))
        .unwrap();
    let line = table
        .lines()
        .find(|l| l.starts_with("endpoint = "))
        .unwrap();
    line.trim_start_matches("endpoint = ")
        .trim_matches('"')
        .to_string()
}

#[test]
fn the_tls_emulator_writes_its_ca_and_every_account_trusts_it() {
    let emu = EmulatorProcess::start(&["--tls", "--scale", "3000"]);
    assert!(emu.base.starts_with("https://127.0.0.1:"), "{}", emu.base);
    let ca = emu.config.with_file_name("config-ca.pem");
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let config = emu.config_text();
    let tables = config.matches("[accounts.").count();
    assert_eq!(tables, 9);
    assert_eq!(
        config
            .matches(&format!("ca_file = \"{}\"", ca.display()))
            .count(),
        tables
    );
    let out = run(backups()
        .args(["list", "-o", "json", "-vv", "--config"])
        .arg(&emu.config));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let huawei = rows
        .iter()
        .filter(|r| r["account"] == "huawei-demo-sg")
        .count();
    assert_eq!(huawei, 3000);
    // Three pages of 1000 over HTTP/2: one connection.
    assert!(
        err.lines()
            .any(|l| l.ends_with("huawei-demo-sg: 1 connection opened")),
        "{err}"
    );
    // Accounts on one origin share its first connection: five APIs, five connections.
    let opened: u64 = err
        .lines()
        .filter_map(|l| l.strip_suffix(" opened"))
        .filter_map(|l| {
            l.rsplit(": ")
                .next()?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(opened, 5, "{err}");
    assert!(err.contains("huawei-demo-sg: GET /v3/"), "{err}");
    assert!(err.contains("(HTTP/2.0, retries 0)"), "{err}");
}

#[test]
fn tls_needs_write_config_for_its_ca() {
    let out = run(backups().args(["emulator", "--tls"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--write-config"), "{}", stderr(&out));
}

#[test]
fn ssl_cert_file_replaces_the_native_roots() {
    let emu = EmulatorProcess::start(&["--tls"]);
    let ca = emu.config.with_file_name("config-ca.pem");
    // The same accounts without ca_file.
    let bare: String = emu
        .config_text()
        .lines()
        .filter(|l| !l.starts_with("ca_file = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = emu.write_config("bare.toml", &bare);
    let list = || {
        let mut cmd = backups();
        cmd.args([
            "list",
            "-o",
            "tsv",
            "--retries",
            "0",
            "-a",
            "huawei-demo-sg",
            "--config",
        ])
        .arg(&config);
        cmd
    };
    let out = run(&mut list());
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("cannot connect: invalid peer certificate: UnknownIssuer"),
        "{}",
        stderr(&out)
    );
    let out = run(list().env("SSL_CERT_FILE", &ca));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).lines().count() > 1);
}

#[test]
fn a_ca_file_that_cannot_be_read_is_a_config_error() {
    let emu = EmulatorProcess::start(&["--tls"]);
    let text = emu.config_text().replace("config-ca.pem", "missing-ca.pem");
    let config = emu.write_config("missing.toml", &text);
    let out = run(backups().args(["list", "--config"]).arg(&config));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("account `oracle-demo`: key `ca_file`: cannot read ")
            && err.contains("missing-ca.pem: No such file or directory"),
        "{err}"
    );
}

#[test]
fn https_goes_through_the_https_proxy_loopback_included_unless_no_proxy_names_it() {
    let emu = EmulatorProcess::start(&["--tls"]);
    let proxy = Proxy::start();
    let huawei = authority(&huawei_endpoint(&emu.config_text()));
    let list = |no_proxy: &str| {
        let mut cmd = backups();
        cmd.args(["list", "-o", "tsv", "-a", "huawei-demo-sg", "--config"])
            .arg(&emu.config)
            .env("HTTPS_PROXY", &proxy.url)
            .env("NO_PROXY", no_proxy);
        run(&mut cmd)
    };
    let out = list("");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        first_lines(&proxy.seen()),
        vec![format!("CONNECT {huawei} HTTP/1.1")]
    );
    // The tunnel carried TLS: the proxy saw no request inside it.
    assert!(proxy.seen().iter().all(|h| !h.contains("/v3/")));
    let before = proxy.seen().len();
    let out = list("example.com, 127.0.0.1");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(proxy.seen().len(), before, "NO_PROXY sends it direct");
}

#[test]
fn plain_http_credentials_never_reach_http_proxy_unless_the_account_allows_it() {
    let emu = EmulatorProcess::start(&[]);
    let proxy = Proxy::start();
    // Loopback over plain http: direct, whatever HTTP_PROXY and ALL_PROXY say.
    let out = run(backups()
        .args(["list", "-o", "tsv", "--config"])
        .arg(&emu.config)
        .env("HTTP_PROXY", &proxy.url)
        .env("http_proxy", &proxy.url)
        .env("ALL_PROXY", &proxy.url));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("bycloud-demo-spo"));
    assert_eq!(proxy.seen(), Vec::<String>::new());
    // Another host over plain http (allow_insecure_http): direct too, unless the account
    // sets http_proxy = true; then the proxy gets the request, token and all.
    let config = emu.write_config(
        "proxied.toml",
        "[accounts.far]\nprovider = \"bycloud\"\nendpoint = \"http://backups-proxy-test.invalid/\"\n\
         token = \"far-token-123\"\nallow_insecure_http = true\nhttp_proxy = true\n",
    );
    let out = run(backups()
        .args(["list", "-o", "tsv", "--retries", "0", "--config"])
        .arg(&config)
        .env("HTTP_PROXY", &proxy.url));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("far: GET /v1/backups: HTTP 502"),
        "{}",
        stderr(&out)
    );
    let seen = proxy.seen();
    assert_eq!(
        first_lines(&seen),
        vec!["GET http://backups-proxy-test.invalid/v1/backups?limit=100 HTTP/1.1".to_string()]
    );
    assert!(seen[0].contains("far-token-123"));
}

#[test]
fn a_proxy_variable_that_makes_no_sense_is_a_config_error_without_its_value() {
    let emu = EmulatorProcess::start(&[]);
    let out = run(backups()
        .args(["list", "--config"])
        .arg(&emu.config)
        .env("HTTPS_PROXY", "socks5://user:hunter2@proxy:1080"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(
        err.trim_end(),
        "backups: HTTPS_PROXY: proxy scheme `socks5` is not supported (use http:// or https://)"
    );
}
