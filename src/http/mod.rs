//! The one HTTP client every adapter sends through: timeouts, bounded retries with backoff and
//! `Retry-After`, a body size cap, same-origin redirects only, status → [`ErrorKind`](crate::error::ErrorKind), and one
//! log line per request (path only: query strings can carry secrets).
//!
//! One try is made in `attempt.rs`, the retry loop around it lives in `retry.rs`, the capped
//! body reader in `body.rs`, and the JSON reading with its one-line diagnostics in `json.rs`.
//! The reqwest clients are built in `client.rs` (one per trust and proxy setting), whom they
//! trust in `tls.rs`, which proxy they use in `proxy.rs`, and the connections a listing opens
//! are counted in `connections.rs`.

mod attempt;
mod body;
mod client;
mod connections;
mod json;
mod proxy;
mod retry;
mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

pub(crate) use body::peeking;
pub(crate) use client::Transport;
pub(crate) use json::{json_error_message, parse_json, utf8_body};
pub use proxy::ProxyEnv;
pub use retry::RetryPolicy;
pub use tls::{warm_native_roots, CaBundle};

use attempt::kind_for_status;
use json::body_excerpt;

/// Largest response body accepted (`docs/cli.md#bodies`: a body too large fails the account).
const DEFAULT_MAX_BODY: usize = 64 << 20;

/// Settings of the shared client.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Whole-request timeout (connect, headers and body).
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Body size cap in bytes.
    pub max_body: usize,
    /// The proxies of the environment (none by default: tests stay independent of it).
    pub proxy: ProxyEnv,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_body: DEFAULT_MAX_BODY,
            proxy: ProxyEnv::default(),
        }
    }
}

/// The shared client: one connection pool (keep-alive, gzip, HTTP/2 where offered) for every
/// account that connects alike; [`Http::for_transport`] gives an account its own view, with
/// the pool of its trust and proxy settings and its own count of connections opened.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    origins: Arc<connections::Origins>,
    options: HttpOptions,
    clients: Arc<client::Clients>,
    connections: Arc<AtomicU64>,
}

/// A response read in full (up to the size cap). Its `Debug` names the header names and the
/// body's length only: the headers and body may carry credentials (`Set-Cookie`,
/// `X-Subject-Token`, a token response).
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
    /// `METHOD /path` of the request, for error messages.
    pub request: String,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &format_args!("{} bytes", self.body.len()))
            .field("request", &self.request)
            .finish()
    }
}

/// `METHOD /path` for logs and errors: never the query string, which can hold secrets.
fn describe(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

/// Whether two URLs share scheme, host and port: credentials may only go to the same origin.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether a URL's host is a loopback address (plain http is allowed there).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether two URLs' hosts are one site (`docs/cli.md#credentials-and-origins`): the same
/// registrable domain by the public suffix list (`login.sys.example.com` and `api.example.com` are;
/// `a.example.co.uk` and `evil.co.uk` are not), the same IP address, or both loopback, which counts
/// as one domain. A host that is itself a public suffix (`github.io`) is one site only with itself.
/// The scheme and port are not compared: callers check the scheme.
pub(crate) fn same_site(a: &Url, b: &Url) -> bool {
    if is_loopback(a) && is_loopback(b) {
        return true;
    }
    match (a.host(), b.host()) {
        (Some(url::Host::Domain(x)), Some(url::Host::Domain(y))) => {
            let x = x.trim_end_matches('.').to_ascii_lowercase();
            let y = y.trim_end_matches('.').to_ascii_lowercase();
            x == y
                || matches!((registrable_domain(&x), registrable_domain(&y)), (Some(p), Some(q)) if p == q)
        }
        (Some(url::Host::Ipv4(x)), Some(url::Host::Ipv4(y))) => x == y,
        (Some(url::Host::Ipv6(x)), Some(url::Host::Ipv6(y))) => x == y,
        _ => false,
    }
}

/// The registrable domain of a (lower-case) host name: its public suffix and one label more.
fn registrable_domain(host: &str) -> Option<&[u8]> {
    use psl::Psl;
    psl::List.domain(host.as_bytes()).map(|d| d.as_bytes())
}

impl Http {
    /// Builds the shared client (for accounts with no `ca_file` and no `http_proxy`).
    pub fn new(options: HttpOptions) -> Result<Http> {
        let clients = Arc::new(client::Clients::default());
        let (client, origins) = clients.get(&options, &Transport::default())?;
        Ok(Http {
            client,
            origins,
            options,
            clients,
            connections: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The client for an account's transport (built on first use, then shared by every
    /// account with the same settings), counting connections from zero.
    pub(crate) fn for_transport(&self, transport: &Transport) -> Result<Http> {
        let (client, origins) = self.clients.get(&self.options, transport)?;
        Ok(Http {
            client,
            origins,
            options: self.options.clone(),
            clients: self.clients.clone(),
            connections: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Connections opened by requests sent through this view so far (TCP connects: with
    /// HTTP/2 the parallel pages of an account share one).
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Starts a request; finish it with headers and pass it to [`Http::send`].
    pub(crate) fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }
}

impl Response {
    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// An error for this (non-2xx) response with the vendor's message, if the adapter could read
    /// one, else a short excerpt of the body; either quoted ([`crate::text::quote`]: redacted,
    /// one line, escaped, capped).
    pub fn error(&self, vendor_message: Option<String>) -> Error {
        let message = match vendor_message {
            Some(m) => crate::text::quote(&m),
            None => body_excerpt(&self.body),
        };
        Error::new(kind_for_status(self.status), message)
            .with_request(&self.request, Some(self.status))
    }

    /// Parses the body as JSON into `T`; a mismatch is a protocol error naming the request,
    /// the status and where in the body it failed.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T> {
        parse_json(&self.body).map_err(|e| self.protocol_error(e))
    }

    /// Decodes the body with `decode`, on a blocking thread when the body is large: every
    /// request of a listing is driven from one task, so parsing big pages there would use one
    /// core while the others idle. Errors become protocol errors naming the request.
    pub(crate) async fn decode<T, F>(&mut self, decode: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&[u8]) -> std::result::Result<T, String> + Send + 'static,
    {
        const OFF_THREAD: usize = 128 << 10;
        let result = if self.body.len() >= OFF_THREAD {
            let body = std::mem::take(&mut self.body);
            tokio::task::spawn_blocking(move || decode(&body))
                .await
                .map_err(|e| format!("decoding the response failed: {e}"))
                .and_then(|r| r)
        } else {
            decode(&self.body)
        };
        result.map_err(|e| self.protocol_error(e))
    }

    /// A protocol error (body does not match the schema) with this response's context. The
    /// message names vendor values, so it is quoted ([`crate::text::quote`]) as a whole.
    pub fn protocol_error(&self, message: impl Into<String>) -> Error {
        Error::protocol(crate::text::quote(&message.into()))
            .with_request(&self.request, Some(self.status))
    }

    /// A header's value as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `base` with `segments` appended to its path (each percent-encoded, an empty last segment
/// replaced) and its query and fragment dropped; `None` for a URL that cannot take a path.
pub(crate) fn join_path(base: &Url, segments: &[&str]) -> Option<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(segments);
    Some(url)
}

#[cfg(test)]
/// A response as a test builds it: `status`, `body`, no headers, for `GET /test`.
pub(crate) fn response(status: u16, body: impl AsRef<[u8]>) -> Response {
    Response {
        status,
        headers: HeaderMap::new(),
        body: body.as_ref().to_vec(),
        request: "GET /test".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_header_value_and_no_body() {
        let mut r = response(200, r#"{"access_token":"tok-in-body"}"#);
        r.headers
            .insert("x-subject-token", "tok-in-header".parse().unwrap());
        let shown = format!("{r:?}");
        assert!(!shown.contains("tok-in"), "{shown}");
        assert!(
            shown.contains("x-subject-token") && shown.contains("30 bytes"),
            "{shown}"
        );
    }

    #[test]
    fn vendor_messages_are_quoted() {
        let r = response(401, "");
        let e = r.error(Some(format!("\x1b[31mno\n{}", "x".repeat(1000))));
        assert!(e.message.starts_with("\\x1b[31mno xxx"), "{}", e.message);
        assert_eq!(e.message.chars().count(), crate::text::QUOTE_CHARS);
    }

    #[test]
    fn origins() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("https://a.example/x"),
            &u("https://a.example:443/y?z")
        ));
        assert!(!same_origin(
            &u("https://a.example/x"),
            &u("http://a.example/x")
        ));
        assert!(!same_origin(
            &u("https://a.example/x"),
            &u("https://b.example/x")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:1/"),
            &u("http://127.0.0.1:2/")
        ));
        assert!(is_loopback(&u("http://127.0.0.1:8080/")));
        assert!(is_loopback(&u("http://[::1]:8080/")));
        assert!(is_loopback(&u("http://localhost/")));
        assert!(!is_loopback(&u("http://10.0.0.1/")));
    }

    #[test]
    fn sites_are_registrable_domains_with_loopback_as_one() {
        let u = |s: &str| Url::parse(s).unwrap();
        let same = |a: &str, b: &str| same_site(&u(a), &u(b));
        assert!(same(
            "https://api.sys.example.com",
            "https://login.sys.example.com"
        ));
        assert!(same(
            "https://api.sys.example.com",
            "https://uaa.example.com:8443/x"
        ));
        assert!(same("https://API.Example.com./", "https://example.com"));
        assert!(same("https://a.example.co.uk", "https://b.a.example.co.uk"));
        assert!(!same("https://a.example.co.uk", "https://evil.co.uk"));
        assert!(!same("https://api.example.com", "https://example.org"));
        assert!(!same(
            "https://api.example.com",
            "https://api.example.com.evil.net"
        ));
        // A public suffix itself: only with itself.
        assert!(!same("https://me.github.io", "https://you.github.io"));
        assert!(same("https://github.io", "https://github.io"));
        assert!(!same("https://co.uk", "https://evil.co.uk"));
        // Loopback is one domain; other addresses only match themselves.
        assert!(same("http://127.0.0.1:1/", "http://localhost:2/"));
        assert!(same("http://[::1]/", "http://127.0.0.2/"));
        assert!(!same("http://127.0.0.1/", "https://example.com/"));
        assert!(same("https://10.0.0.1/", "https://10.0.0.1:8443/"));
        assert!(!same("https://10.0.0.1/", "https://10.0.0.2/"));
        assert!(!same("https://10.0.0.1/", "https://1.0.0.10.in-addr.arpa/"));
    }
}
