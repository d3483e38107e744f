//! The one HTTP client every adapter sends through: timeouts, bounded retries with backoff and
//! `Retry-After`, a body size cap, same-origin redirects only, status → [`ErrorKind`], and one
//! log line per request (path only: query strings can carry secrets).

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{redirect, Method, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};

/// Largest response body accepted (spec §7: a body too large fails the account).
pub const DEFAULT_MAX_BODY: usize = 64 << 20;

/// How requests are retried (spec §7): connect errors, timeouts, 429, 502, 503, 504.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (so 1 = no retry).
    pub max_tries: u32,
    /// Delay before the first retry; doubles each time.
    pub base: Duration,
    /// Largest single delay.
    pub max_delay: Duration,
    /// Never start a retry whose delay would end later than this after the first try.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_tries: 4,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0 for the first retry): exponential with "equal
    /// jitter" (half fixed, half random, `jitter` in `[0, 1)`), capped at `max_delay`, or the
    /// server's `Retry-After` when it gave one. Pure, so it is unit-tested.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(after) = retry_after {
            return after;
        }
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_delay);
        let half = exp / 2;
        // `clamp` keeps NaN, and `mul_f64` panics on it.
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        // `mul_f64` rounds through f64: keep the sum within the cap at any magnitude.
        (half + half.mul_f64(jitter)).min(exp)
    }
}

/// Parses `Retry-After`: delta seconds, an HTTP date, or (Cloud Foundry) a Unix epoch in seconds,
/// told apart from a delta by being larger than 10^9. A time in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // A time beyond what a Duration holds (an epoch near u64::MAX seen from a clock near
    // 1970) saturates instead of panicking: the retry budget turns it down either way.
    let until =
        |at: f64| Duration::try_from_secs_f64((at - now_secs).max(0.0)).unwrap_or(Duration::MAX);
    if let Ok(n) = value.parse::<u64>() {
        if n > 1_000_000_000 {
            return Some(until(n as f64));
        }
        return Some(Duration::from_secs(n));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(until(date.timestamp() as f64))
}

/// Settings of the shared client.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Whole-request timeout (connect, headers and body).
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Body size cap in bytes.
    pub max_body: usize,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// The shared client: one connection pool (keep-alive, gzip) for every account.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    options: HttpOptions,
}

/// A response read in full (up to the size cap).
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
    /// `METHOD /path` of the request, for error messages.
    pub request: String,
    /// How many retries it took.
    pub retries: u32,
}

/// `METHOD /path` for logs and errors: never the query string, which can hold secrets.
pub fn describe(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

/// Whether two URLs share scheme, host and port: credentials may only go to the same origin.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether a URL's host is a loopback address (plain http is allowed there).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Http {
    /// Builds the shared client.
    pub fn new(options: HttpOptions) -> Result<Http> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("backups/", env!("CARGO_PKG_VERSION")))
            // Follow redirects only within one origin: reqwest strips `Authorization` on a
            // cross-host redirect but not `X-Auth-Token`, cookies or signatures.
            .redirect(redirect::Policy::custom(|attempt| {
                let same = attempt
                    .previous()
                    .last()
                    .is_some_and(|prev| same_origin(prev, attempt.url()));
                if same && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the HTTP client: {e}")))?;
        Ok(Http { client, options })
    }

    /// The options in force.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Starts a request; finish it with headers and pass it to [`Http::send`].
    pub fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends the request `build` makes, retrying transient failures per the policy. `build` is
    /// called once per try, so time-stamped signatures are fresh. Any status comes back as a
    /// [`Response`]; only transport failures and exhausted retries are errors.
    pub async fn send<F>(&self, account: &str, build: F) -> Result<Response>
    where
        F: Fn() -> Result<reqwest::RequestBuilder>,
    {
        let policy = &self.options.retry;
        let started = Instant::now();
        let mut retry = 0u32;
        loop {
            let request = build()?
                .build()
                .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot build request: {e}")))?;
            let what = describe(request.method(), request.url());
            let t0 = Instant::now();
            let outcome = self.client.execute(request).await;
            let (transient, retry_after, result) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let transient = is_retryable_status(status);
                    tracing::info!(
                        target: "backups::http",
                        "{account}: {what} -> {status} in {} ms (retries {retry})",
                        t0.elapsed().as_millis()
                    );
                    if (300..400).contains(&status) {
                        let to = resp
                            .headers()
                            .get(reqwest::header::LOCATION)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("?")
                            .split('?')
                            .next()
                            .unwrap_or("?")
                            .to_string();
                        return Err(Error::new(
                            ErrorKind::Insecure,
                            format!("refused to follow a redirect to another origin ({to}): credentials stay with the configured endpoint"),
                        )
                        .with_account(account)
                        .with_request(&what, Some(status)));
                    }
                    let result = self.read(resp, &what, retry).await;
                    (transient, retry_after, result)
                }
                Err(e) => {
                    let kind = if e.is_timeout() {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Network
                    };
                    tracing::info!(
                        target: "backups::http",
                        "{account}: {what} -> {kind:?} in {} ms (retries {retry})",
                        t0.elapsed().as_millis()
                    );
                    let message = match kind {
                        ErrorKind::Timeout => {
                            format!("timed out after {} s", self.options.timeout.as_secs_f64())
                        }
                        _ => transport_message(&e),
                    };
                    let err = Error::new(kind, message)
                        .with_account(account)
                        .with_request(&what, None)
                        .with_source(e);
                    (true, None, Err(err))
                }
            };
            if !transient || retry + 1 >= policy.max_tries {
                return result;
            }
            let delay = policy.delay(retry, retry_after, fastrand::f64());
            if started.elapsed().saturating_add(delay) > policy.budget {
                return result;
            }
            tracing::debug!(target: "backups::http", "{account}: {what}: retrying in {} ms", delay.as_millis());
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// Reads a body up to the size cap.
    async fn read(
        &self,
        mut resp: reqwest::Response,
        what: &str,
        retries: u32,
    ) -> Result<Response> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let max = self.options.max_body;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large(max).with_request(what, Some(status)));
        }
        // Sized from the stated length (a hint, capped) rather than doubled chunk by chunk,
        // which leaves up to half of each buffer unused while 16 pages are in progress.
        const HINT_CAP: u64 = 8 << 20;
        let hint = resp
            .content_length()
            .unwrap_or(0)
            .min(HINT_CAP)
            .min(max as u64);
        let mut body = Vec::with_capacity(hint as usize);
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max {
                        return Err(too_large(max).with_request(what, Some(status)));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    let kind = if e.is_timeout() {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Network
                    };
                    let message = format!(
                        "reading the response body failed: {}",
                        transport_message(&e)
                    );
                    return Err(Error::new(kind, message)
                        .with_request(what, Some(status))
                        .with_source(e));
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body,
            request: what.to_string(),
            retries,
        })
    }
}

fn too_large(max: usize) -> Error {
    // In the largest whole unit: a cap below 1 MiB (tests, a small `--max-body`) is not "0 MiB".
    let cap = if max >= 1 << 20 && max % (1 << 20) == 0 {
        format!("{} MiB", max >> 20)
    } else if max >= 1 << 10 && max % (1 << 10) == 0 {
        format!("{} KiB", max >> 10)
    } else {
        format!("{max} bytes")
    };
    Error::protocol(format!("response body larger than {cap}"))
}

/// The innermost cause of a transport error, without the URL (which may carry a query).
fn transport_message(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if e.is_connect() {
        format!("cannot connect: {text}")
    } else {
        text
    }
}

/// Whether a response with this status is worth trying again (spec §7): throttled, or a
/// gateway that could not reach the service. The retry loop and [`Error::is_temporary`] both
/// ask here.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502..=504)
}

/// Maps an HTTP status to an error kind; the one place this is decided (adapters may refine).
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Auth,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Client,
    }
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// An error for this (non-2xx) response with the vendor's message, if the adapter could read
    /// one, else a short excerpt of the body.
    pub fn error(&self, vendor_message: Option<String>) -> Error {
        let message = vendor_message.unwrap_or_else(|| body_excerpt(&self.body));
        Error::new(kind_for_status(self.status), message)
            .with_request(&self.request, Some(self.status))
    }

    /// Parses the body as JSON into `T`; a mismatch is a protocol error naming the request,
    /// the status and where in the body it failed.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        parse_json(&self.body).map_err(|e| self.protocol_error(e))
    }

    /// Decodes the body with `decode`, on a blocking thread when the body is large: every
    /// request of a listing is driven from one task, so parsing big pages there would use one
    /// core while the others idle. Errors become protocol errors naming the request.
    pub async fn decode<T, F>(&mut self, decode: F) -> Result<T>
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

    /// A protocol error (body does not match the schema) with this response's context.
    pub fn protocol_error(&self, message: impl Into<String>) -> Error {
        Error::protocol(message).with_request(&self.request, Some(self.status))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Parses JSON with a message fit for one line: what is wrong and where.
///
/// JSON is UTF-8 (RFC 8259 §8.1), and a body that is not is no vendor's schema. serde_json
/// checks only the strings it keeps, so a bad byte in a field the adapter skips would pass
/// unnoticed: the whole body is checked once instead, then parsed as text (which spares
/// serde_json checking each string again).
pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> std::result::Result<T, String> {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(_) if looks_like_html(body) => return Err("an HTML page instead of JSON".into()),
        Err(e) => {
            return Err(format!(
                "invalid UTF-8 in the response body at byte {}",
                e.valid_up_to()
            ))
        }
    };
    serde_json::from_str(text).map_err(|e| json_error_message(body, &e))
}

/// `base` with `segments` appended to its path (each percent-encoded, an empty last segment
/// replaced) and its query and fragment dropped; `None` for a URL that cannot take a path.
pub fn join_path(base: &Url, segments: &[&str]) -> Option<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(segments);
    Some(url)
}

/// One line saying why `body` is not the JSON expected, from serde_json's error for it.
pub fn json_error_message(body: &[u8], e: &serde_json::Error) -> String {
    let what = if looks_like_html(body) {
        "an HTML page instead of JSON"
    } else if body.iter().all(u8::is_ascii_whitespace) {
        "an empty body instead of JSON"
    } else {
        "unexpected response body"
    };
    format!("{what}: {e}")
}

fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    start.starts_with(b"<!doctype html") || start.starts_with(b"<html") || start.starts_with(b"<")
}

/// The first line of a body, shortened: for errors when the vendor format is not recognised.
pub fn body_excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "empty response body".to_string();
    }
    if looks_like_html(body) {
        return "an HTML error page".to_string();
    }
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(200).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, None, 0.0), Duration::from_millis(250));
        assert_eq!(p.delay(0, None, 1.0), Duration::from_millis(500));
        assert_eq!(p.delay(1, None, 0.5), Duration::from_millis(750));
        assert_eq!(p.delay(2, None, 0.0), Duration::from_millis(1000));
        assert_eq!(p.delay(10, None, 1.0), Duration::from_secs(10));
        assert_eq!(p.delay(u32::MAX, None, 1.0), Duration::from_secs(10));
    }

    #[test]
    fn retry_after_overrides_backoff() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3)), 0.9),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        // Cloud Foundry: a Unix epoch.
        assert_eq!(
            parse_retry_after("1700000007", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("1600000000", now), Some(Duration::ZERO));
        // HTTP date: 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:25 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let table = [
            (400, ErrorKind::Client),
            (401, ErrorKind::Auth),
            (403, ErrorKind::Forbidden),
            (404, ErrorKind::NotFound),
            (422, ErrorKind::Client),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::Server),
            (503, ErrorKind::Server),
        ];
        for (status, kind) in table {
            assert_eq!(kind_for_status(status), kind, "{status}");
        }
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
    fn body_messages() {
        assert_eq!(body_excerpt(b""), "empty response body");
        assert_eq!(
            body_excerpt(b"<html><body>502</body></html>"),
            "an HTML error page"
        );
        assert_eq!(body_excerpt(b"\n  oops \nmore"), "oops");
        let e = parse_json::<serde_json::Value>(b"<!DOCTYPE html><p>").unwrap_err();
        assert!(e.starts_with("an HTML page instead of JSON"), "{e}");
    }

    #[test]
    fn the_size_cap_is_named_in_a_whole_unit() {
        let msg = |max| too_large(max).message;
        assert_eq!(msg(DEFAULT_MAX_BODY), "response body larger than 64 MiB");
        assert_eq!(msg(4096), "response body larger than 4 KiB");
        assert_eq!(msg(1000), "response body larger than 1000 bytes");
    }

    #[test]
    fn invalid_utf8_anywhere_in_the_body_is_an_error() {
        #[derive(serde::Deserialize, Debug)]
        struct OnlyId {
            #[allow(dead_code)]
            id: String,
        }
        // In a field the target type skips: serde_json alone would accept this.
        let body = b"{\"id\": \"a\", \"note\": \"x\xff\xfe\"}";
        assert!(serde_json::from_slice::<OnlyId>(body).is_ok());
        assert_eq!(
            parse_json::<OnlyId>(body).unwrap_err(),
            "invalid UTF-8 in the response body at byte 22"
        );
        assert!(parse_json::<OnlyId>(br#"{"id": "\u00e9t\u00e9"}"#).is_ok());
    }

    /// Property tests of the pure pieces of the retry policy.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn now() -> impl Strategy<Value = SystemTime> {
            prop_oneof![Just(0u64), 0u64..4_000_000_000]
                .prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
        }

        /// Header values: numbers of every size (deltas, epochs, overflows), HTTP dates, and
        /// anything else.
        fn retry_after() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<u64>().prop_map(|n| n.to_string()),
                prop_oneof![Just(u64::MAX), (u64::MAX - (1 << 40))..=u64::MAX]
                    .prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[0-9]{1,40}",
                "(Mon|Tue|Sun), [0-9]{1,2} (Jan|Nov|Xyz) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|\\+0000|-9999)",
                any::<String>(),
            ]
        }

        fn duration() -> impl Strategy<Value = Duration> {
            prop_oneof![
                (0u64..120_000).prop_map(Duration::from_millis),
                Just(Duration::ZERO),
                Just(Duration::MAX),
                any::<u64>().prop_map(Duration::from_secs),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn parse_retry_after_never_panics(value in retry_after(), now in now()) {
                if let Some(d) = parse_retry_after(&value, now) {
                    // A small delta is taken as is.
                    if let Ok(n) = value.trim().parse::<u64>() {
                        if n <= 1_000_000_000 {
                            prop_assert_eq!(d, Duration::from_secs(n));
                        }
                    }
                }
            }

            #[test]
            fn the_delay_stays_within_its_bounds(
                base in duration(),
                max_delay in duration(),
                retry in any::<u32>(),
                retry_after in prop::option::of(duration()),
                jitter in prop_oneof![0.0..1.0f64, Just(f64::NAN), Just(-1.0), any::<f64>()],
            ) {
                let policy = RetryPolicy { base, max_delay, ..RetryPolicy::default() };
                let d = policy.delay(retry, retry_after, jitter);
                let bound = retry_after.map_or(max_delay, |a| a.max(max_delay));
                prop_assert!(d <= bound, "{d:?} > {bound:?}");
                if let Some(after) = retry_after {
                    prop_assert_eq!(d, after);
                }
            }
        }
    }
}
