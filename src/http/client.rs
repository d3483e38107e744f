//! Building the reqwest clients: one per distinct [`Transport`] (trust and proxy settings), so
//! accounts that connect alike share one connection pool, and an account with its own
//! `ca_file` gets a pool of its own. Every client speaks HTTP/2 where the server offers it by
//! ALPN (the parallel pages of an account then share one connection) and HTTP/1.1 elsewhere,
//! takes proxies only from [`ProxyEnv`] (never reqwest's own reading of the environment), and
//! counts the connections it opens ([`super::connections`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

use super::connections::{CountLayer, Origins};
use super::proxy::ProxyEnv;
use super::tls::{client_config, CaBundle};
use super::{attempt, HttpOptions};

/// How an account's connections are made: the CAs it trusts besides the native roots
/// (`ca_file`), and whether its plain-http requests may go through `HTTP_PROXY`
/// (`http_proxy = true`). Accounts with equal transports share a client and its pool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Transport {
    /// `ca_file`: a PEM bundle added to the native roots.
    pub(crate) ca_file: Option<CaBundle>,
    /// `http_proxy`: plain-http requests to non-loopback hosts go through `HTTP_PROXY`
    /// (else `ALL_PROXY`) instead of direct. Off by default: a proxy would read the
    /// credentials.
    pub(crate) http_proxy: bool,
}

/// HTTP/2 flow-control windows. hyper's defaults (2 MiB a stream, 5 MiB a connection) let
/// the server send one connection's worth per round trip: at 50 ms that caps a listing at
/// 100 MB/s, under what sixteen 1000-row pages in parallel need. Windows are credit, not
/// buffers: bytes arrive only as fast as pages are read.
const H2_STREAM_WINDOW: u32 = 8 << 20;
const H2_CONNECTION_WINDOW: u32 = 32 << 20;

/// A client and what it knows of the origins it talks to.
pub(super) type Built = (reqwest::Client, Arc<Origins>);

/// The clients built so far, by transport.
#[derive(Debug, Default)]
pub(super) struct Clients {
    built: Mutex<HashMap<Transport, Built>>,
}

impl Clients {
    /// The client for `transport`, built on first use.
    pub(super) fn get(&self, options: &HttpOptions, transport: &Transport) -> Result<Built> {
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = built.get(transport) {
            return Ok(client.clone());
        }
        let client = (build(options, transport)?, Arc::new(Origins::default()));
        built.insert(transport.clone(), client.clone());
        Ok(client)
    }
}

/// Builds a client: timeouts, keep-alive, gzip, same-origin redirects, our TLS settings and
/// proxy rule, HTTP/2 by ALPN, connection counting.
fn build(options: &HttpOptions, transport: &Transport) -> Result<reqwest::Client> {
    let failed =
        |e: String| Error::new(ErrorKind::Io, format!("cannot start the HTTP client: {e}"));
    let tls = client_config(transport.ca_file.as_ref()).map_err(failed)?;
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(concat!("backups/", env!("CARGO_PKG_VERSION")))
        .redirect(attempt::redirect_policy())
        .use_preconfigured_tls(tls)
        .http2_initial_stream_window_size(H2_STREAM_WINDOW)
        .http2_initial_connection_window_size(H2_CONNECTION_WINDOW)
        .connector_layer(CountLayer)
        // reqwest would read the proxy variables itself, HTTP_PROXY included for loopback.
        .no_proxy();
    if !options.proxy.is_empty() {
        let proxies: ProxyEnv = options.proxy.clone();
        let http_proxy = transport.http_proxy;
        builder = builder.proxy(reqwest::Proxy::custom(move |url| {
            proxies.proxy_for(url, http_proxy).cloned()
        }));
    }
    builder.build().map_err(|e| failed(e.to_string()))
}
