//! The emulator's side of the wire, below the APIs: its own accept loop, so that it can serve
//! HTTPS with a throwaway certificate (`--tls`: HTTP/2 and HTTP/1.1 by ALPN, like the vendors'
//! gateways) and make every byte pay a round trip (`--rtt-ms`), which a delay before each
//! response misses: TCP connects, TLS handshakes and each request of a connection.
//!
//! The round trip is charged where the kernel cannot: half of it on each direction of every
//! chunk of bytes, plus one whole round trip on the first bytes a client sends, since the
//! kernel completed the TCP handshake before `accept()` at no cost. A client then meets one
//! RTT for the connect, one for a TLS 1.3 handshake, and one per request, as on a real link.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::error::{Error, ErrorKind, Result};

/// How the emulator's listeners speak.
#[derive(Clone, Debug, Default)]
pub struct Wire {
    /// Serve HTTPS with a certificate from a throwaway CA made at start (`--tls`).
    pub(crate) tls: bool,
    /// Offer HTTP/1.1 only (no HTTP/2 by ALPN), to compare with servers that lack it.
    pub(crate) http1_only: bool,
    /// Round trip added to every chunk of bytes, half each way (`--rtt-ms`); zero for none.
    pub(crate) rtt: Duration,
}

/// The listeners' shared settings: the TLS acceptor (with the CA's PEM, for clients) and
/// the delay.
pub(super) struct WireState {
    tls: Option<(TlsAcceptor, String)>,
    http1_only: bool,
    rtt: Duration,
}

impl std::fmt::Debug for WireState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireState")
            .field("tls", &self.tls.is_some())
            .field("http1_only", &self.http1_only)
            .field("rtt", &self.rtt)
            .finish()
    }
}

impl WireState {
    /// Makes the throwaway CA and server certificate when `wire.tls` asks for them.
    pub(super) fn new(wire: &Wire) -> Result<Arc<WireState>> {
        let tls = if wire.tls {
            Some(acceptor(wire.http1_only)?)
        } else {
            None
        };
        Ok(Arc::new(WireState {
            tls,
            http1_only: wire.http1_only,
            rtt: wire.rtt,
        }))
    }

    /// The CA certificate (PEM) clients must trust, with `--tls`.
    pub(super) fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|(_, pem)| pem.as_str())
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// A bound listener and how it speaks.
pub(super) struct Listener {
    tcp: TcpListener,
    wire: Arc<WireState>,
}

/// Binds 127.0.0.1:`port` (0 = ephemeral); the URL is `http://` or, with TLS, `https://`.
pub(super) async fn bind(port: u16, wire: &Arc<WireState>) -> Result<(Listener, reqwest::Url)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let tcp = TcpListener::bind(addr).await.map_err(|e| {
        Error::new(
            ErrorKind::Usage,
            format!("emulator: cannot listen on 127.0.0.1:{port}: {e}"),
        )
    })?;
    let local = tcp.local_addr()?;
    let url = reqwest::Url::parse(&format!("{}://{local}/", wire.scheme()))
        .expect("socket address makes a URL");
    Ok((
        Listener {
            tcp,
            wire: wire.clone(),
        },
        url,
    ))
}

/// Serves `router` on every connection `listener` accepts, each in its own task: a slow TLS
/// handshake never holds up the next accept.
pub(super) fn serve(listener: Listener, router: Router) -> JoinHandle<()> {
    let router = router.layer(axum::middleware::map_request(host_from_authority));
    tokio::spawn(async move {
        loop {
            let tcp = match listener.tcp.accept().await {
                Ok((tcp, _)) => tcp,
                // Out of descriptors or a connection reset before accept: try again shortly
                // rather than end the listener.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            tokio::spawn(connection(tcp, listener.wire.clone(), router.clone()));
        }
    })
}

/// HTTP/2 carries the host in `:authority`, not in a `Host` header; the APIs read `Host` (the
/// Huawei gateway signs it), so it is filled in from the authority, as HTTP/2 gateways do.
async fn host_from_authority(mut req: axum::extract::Request) -> axum::extract::Request {
    use axum::http::{header::HOST, HeaderValue};
    if !req.headers().contains_key(HOST) {
        let authority = req.uri().authority().map(|a| a.as_str().to_string());
        if let Some(value) = authority.and_then(|a| HeaderValue::from_str(&a).ok()) {
            req.headers_mut().insert(HOST, value);
        }
    }
    req
}

/// What a connection is read and written through: the socket, its delayed twin, TLS over
/// either.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One connection: the delay, the TLS handshake, then HTTP/1.1 or HTTP/2 (by ALPN or, over
/// plain TCP, by the client's first bytes).
async fn connection(tcp: TcpStream, wire: Arc<WireState>, router: Router) {
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if wire.rtt.is_zero() {
        Box::new(tcp)
    } else {
        Box::new(delayed(tcp, wire.rtt))
    };
    let io: Box<dyn Io> = match &wire.tls {
        None => io,
        Some((acceptor, _)) => {
            // A client that never finishes its handshake must not hold a task forever.
            let handshake = tokio::time::timeout(Duration::from_secs(30), acceptor.accept(io));
            match handshake.await {
                Ok(Ok(tls)) => Box::new(tls),
                _ => return,
            }
        }
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if wire.http1_only {
        builder = builder.http1_only();
    }
    // The listing's parallel pages of many accounts can share one connection.
    builder.http2().max_concurrent_streams(1024);
    let service = TowerToHyperService::new(router);
    // A client that goes away mid-response is the client's business.
    let _ = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await;
}

/// `config` (the emulator's TOML) with `ca_file = "<ca>"` in every `[accounts.NAME]` table, so
/// each account trusts the throwaway CA written at `ca`.
pub(crate) fn trusting(config: &str, ca: &std::path::Path) -> String {
    let path = ca.display().to_string();
    let quoted = format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::with_capacity(config.len());
    for line in config.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("[accounts.") {
            out.push_str(&format!("ca_file = {quoted}\n"));
        }
    }
    out
}

/// A throwaway CA and a certificate it signs for `localhost`, `127.0.0.1` and `::1`, valid
/// from yesterday for a year (by the real clock: the demo's pinned "now" is for data only);
/// the acceptor offers HTTP/2 and HTTP/1.1 by ALPN, or HTTP/1.1 alone.
fn acceptor(http1_only: bool) -> Result<(TlsAcceptor, String)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let failed = |e: rcgen::Error| {
        Error::new(
            ErrorKind::Io,
            format!("emulator: cannot make a certificate: {e}"),
        )
    };
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    let from = day(today - chrono::Days::new(1));
    let until = day(today + chrono::Days::new(365));

    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.distinguished_name
        .push(DnType::CommonName, "backups emulator throwaway CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (ca.not_before, ca.not_after) = (from, until);
    let ca_key = KeyPair::generate().map_err(failed)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
    let issuer = Issuer::new(ca, ca_key);

    let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    let mut leaf = CertificateParams::new(names).map_err(failed)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "backups emulator");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // OpenSSL's strict mode (Python 3.13's default) wants the authority key id.
    leaf.use_authority_key_identifier_extension = true;
    (leaf.not_before, leaf.not_after) = (from, until);
    let leaf_key = KeyPair::generate().map_err(failed)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(failed)?;

    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_failed =
        |e: rustls::Error| Error::new(ErrorKind::Io, format!("emulator: TLS settings: {e}"));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_failed)?
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .map_err(tls_failed)?;
    config.alpn_protocols = if http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    Ok((TlsAcceptor::from(Arc::new(config)), ca_cert.pem()))
}

/// `tcp` with every chunk of bytes held back half of `rtt` each way, and the first bytes from
/// the client a whole `rtt` more (the connect the kernel answered at once). The server reads
/// and writes the returned end; two pumps move bytes between it and the socket, each keeping
/// order and never limiting bandwidth (bytes in flight are queued, not waited for).
fn delayed(tcp: TcpStream, rtt: Duration) -> tokio::io::DuplexStream {
    const BUFFER: usize = 256 << 10;
    let (server_end, pump_end) = tokio::io::duplex(BUFFER);
    let (from_client, to_client) = tcp.into_split();
    let (from_server, to_server) = tokio::io::split(pump_end);
    let one_way = rtt / 2;
    tokio::spawn(pump(from_client, to_server, one_way, rtt));
    tokio::spawn(pump(from_server, to_client, one_way, Duration::ZERO));
    server_end
}

/// Moves bytes from `from` to `to`, each chunk `delay` after it was read (`first` more for
/// the very first), then passes the end of the stream on.
async fn pump<R, W>(mut from: R, mut to: W, delay: Duration, first: Duration)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Instant, Vec<u8>)>(4096);
    let read = async move {
        let mut buf = vec![0u8; 64 << 10];
        let mut extra = first;
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            let due = Instant::now() + delay + std::mem::take(&mut extra);
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                return Ok(()); // The writer stopped: the other side is gone.
            }
        }
    };
    let write = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            to.write_all(&chunk).await?;
        }
        to.shutdown().await
    };
    // Either side failing ends both: the connection is over.
    let _ = tokio::try_join!(read, write);
}

/// Helpers for tests over TLS.
#[cfg(test)]
pub(crate) mod testing {
    use super::super::{Emulator, EmulatorOptions};
    use super::{trusting, Wire};
    use crate::config::{self, Account};

    /// Starts an emulator over TLS (HTTP/1.1 only with `http1_only`) and returns it with its
    /// demo accounts trusting its CA (written into the returned directory), leaving out those
    /// that `--faults` adds to fail on purpose.
    pub(crate) async fn start(
        options: EmulatorOptions,
        http1_only: bool,
    ) -> (Emulator, tempfile::TempDir, Vec<Account>) {
        let emu = Emulator::start(EmulatorOptions {
            wire: Wire {
                tls: true,
                http1_only,
                ..options.wire.clone()
            },
            ..options
        })
        .await
        .expect("the emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, emu.ca_pem().expect("a CA with TLS")).unwrap();
        let text = trusting(&emu.config_toml(), &ca);
        let no_env = |_: &str| None;
        let accounts = config::parse(&text, &dir.path().join("config.toml"), &no_env)
            .expect("the config parses")
            .accounts
            .into_iter()
            .filter(|a| !a.name.ends_with("-badcreds") && !a.name.ends_with("-loop"))
            .collect();
        (emu, dir, accounts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Account;
    use crate::emulator::{Emulator, EmulatorOptions};
    use crate::filter::Filter;
    use crate::http::{Http, HttpOptions, Transport};
    use crate::model::ProviderId;
    use crate::providers::{adapter, run_all, ListOptions, Run};

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    /// Every account's ids, sorted, by account name.
    async fn ids(accounts: &[Account]) -> Vec<(String, Vec<String>)> {
        let http = Http::new(HttpOptions::default()).unwrap();
        let results = run_all(&http, accounts, &Filter::default(), &ListOptions::default()).await;
        results
            .into_iter()
            .map(|r| {
                let mut ids: Vec<String> = r
                    .result
                    .unwrap_or_else(|e| panic!("{e}"))
                    .into_iter()
                    .map(|b| b.id)
                    .collect();
                ids.sort();
                (r.account, ids)
            })
            .collect()
    }

    #[tokio::test]
    async fn every_api_lists_over_tls_the_rows_it_lists_over_plain_http() {
        let options = EmulatorOptions {
            now: now(),
            faults: true,
            ..Default::default()
        };
        let (_emu, _dir, accounts) = testing::start(options.clone(), false).await;
        assert!(accounts.iter().all(|a| a.transport().ca_file.is_some()));
        let plain = Emulator::start(options).await.unwrap();
        let plain_accounts: Vec<Account> = plain
            .accounts()
            .unwrap()
            .into_iter()
            .filter(|a| !a.name.ends_with("-badcreds") && !a.name.ends_with("-loop"))
            .collect();
        let over_tls = ids(&accounts).await;
        assert_eq!(over_tls.len(), 9);
        assert_eq!(over_tls, ids(&plain_accounts).await);
    }

    /// Lists one account through its own view of the client; its rows and the connections
    /// it opened.
    async fn list_counting(account: &Account) -> (usize, u64) {
        let http = Http::new(HttpOptions::default())
            .unwrap()
            .for_transport(account.transport())
            .unwrap();
        let (filter, options) = (Filter::default(), ListOptions::default());
        let run = Run::new(&http, &filter, &options);
        let provider = adapter(account);
        provider.authenticate(&run, false).await.unwrap();
        let rows = provider.list(&run).await.unwrap();
        (rows.len(), http.connections())
    }

    fn huawei_aksk(accounts: Vec<Account>) -> Account {
        accounts
            .into_iter()
            .find(|a| a.name == "huawei-demo-sg")
            .expect("the AK/SK demo account")
    }

    #[tokio::test]
    async fn parallel_pages_share_one_http2_connection_and_http1_still_works() {
        let options = EmulatorOptions {
            now: now(),
            scale: Some(6000),
            ..Default::default()
        };
        // Six pages of 1000 and the empty seventh: the last six in parallel.
        let (_emu, _dir, accounts) = testing::start(options.clone(), false).await;
        assert_eq!(list_counting(&huawei_aksk(accounts)).await, (6000, 1));
        // Over HTTP/1.1 a connection carries one request at a time: the parallel pages each
        // need one, so more are opened, and the rows are the same.
        let (_emu, _dir, accounts) = testing::start(options, true).await;
        let (rows, connections) = list_counting(&huawei_aksk(accounts)).await;
        assert_eq!(rows, 6000);
        assert!(connections > 1, "{connections}");
    }

    #[tokio::test]
    async fn without_the_ca_the_emulators_certificate_is_refused() {
        let options = EmulatorOptions {
            now: now(),
            ..Default::default()
        };
        let (_emu, _dir, accounts) = testing::start(options, false).await;
        let mut account = huawei_aksk(accounts);
        if let crate::config::Settings::Huawei(c) = &mut account.settings {
            c.transport = Transport::default();
        }
        assert_eq!(account.provider(), ProviderId::Huawei);
        let http = Http::new(HttpOptions {
            retry: crate::http::RetryPolicy {
                max_tries: 1,
                ..Default::default()
            },
            ..HttpOptions::default()
        })
        .unwrap();
        let results = run_all(
            &http,
            std::slice::from_ref(&account),
            &Filter::default(),
            &ListOptions::default(),
        )
        .await;
        let err = results[0].result.as_ref().unwrap_err().to_string();
        assert!(
            err.starts_with("huawei-demo-sg: GET /v3/")
                && err.ends_with("cannot connect: invalid peer certificate: UnknownIssuer"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn delayed_bytes_keep_their_order_and_the_stream_end() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut io = delayed(tcp, Duration::from_millis(2));
            let mut got = Vec::new();
            io.read_to_end(&mut got).await.unwrap();
            io.write_all(&got).await.unwrap();
            io.shutdown().await.unwrap();
            got.len()
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in sent.chunks(7_000) {
            client.write_all(chunk).await.unwrap();
        }
        client.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(server.await.unwrap(), sent.len());
        assert!(back == sent, "the echo differs");
    }
}
