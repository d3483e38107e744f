//! The dead man's switch: `--ping URL` or `[audit] ping_url(_env)`, in the healthchecks.io
//! protocol. `GET URL/start` before listing; `POST URL/<exit code>` with the text report
//! (at most [`MAX_BODY`] bytes) after. The service alerts when the job fails, and also when
//! it never runs (a cron job that stopped), which nothing the job prints can catch.
//!
//! The URL is a secret (`docs/security.md#what-is-redacted`): whoever holds it can report success.
//! It is never logged or printed (errors name the flag or key, never the URL), and goes only over
//! https, or plain http to a loopback host. A failed ping is one warning on stderr and never
//! changes the exit code: the audit's result matters more than its delivery.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::http::{is_loopback, Http};
use crate::secret::Secret;

/// The largest report a ping carries (healthchecks.io keeps the first 10,000 bytes).
pub(crate) const MAX_BODY: usize = 10_000;

/// Tries of one ping: a dead man's switch that misses one ping raises a false alarm.
const TRIES: u32 = 3;

/// Time for one try: a ping must not hold up the job for long.
const TRY_TIMEOUT: Duration = Duration::from_secs(10);

/// A checked ping URL. Never printed: `Debug` shows `(redacted)`.
#[derive(Clone, Debug)]
pub(crate) struct PingUrl(Secret);

impl PingUrl {
    /// Checks `url` (from `what`: `--ping` or `[audit] ping_url`): see [`check`]. The error
    /// names `what`, never the URL (a configuration error, exit 2).
    pub(crate) fn parse(url: &str, what: &str) -> Result<PingUrl> {
        let url = check(url).map_err(|why| Error::config(format!("{what}: {why}")))?;
        Ok(PingUrl(Secret::new(url.as_str())))
    }

    /// The URL with `segment` added to its path (the query, if any, is kept: healthchecks.io
    /// slug URLs take `?create=1`).
    fn with(&self, segment: &str) -> Url {
        let mut url = Url::parse(self.0.expose()).expect("checked in parse");
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(segment);
        }
        url
    }
}

/// Whether `url` may be a ping URL: an absolute https URL, or http to a loopback host. The
/// reason it may not never repeats the URL.
pub(crate) fn check(url: &str) -> std::result::Result<Url, &'static str> {
    let parsed = Url::parse(url.trim()).map_err(|_| "not an absolute URL")?;
    if parsed.cannot_be_a_base() || parsed.host().is_none() {
        return Err("not an absolute URL");
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err("plain http is refused for the ping URL (it is a secret); use https, or http to a loopback host"),
        _ => Err("the ping URL must use https"),
    }
}

/// Sends the start signal: `GET URL/start`. A failure is one warning on stderr.
pub(crate) async fn start(http: &Http, url: &PingUrl) {
    let target = url.with("start");
    if let Err(why) = send(|| http.request(reqwest::Method::GET, target.clone())).await {
        warn("start", &why);
    }
}

/// Sends the result: `POST URL/<code>` with `report` (cut to [`MAX_BODY`] bytes) as the
/// body. A failure is one warning on stderr.
pub(crate) async fn finish(http: &Http, url: &PingUrl, code: u8, report: &str) {
    let target = url.with(&code.to_string());
    let body = cut(report, MAX_BODY).to_string();
    let build = || {
        http.request(reqwest::Method::POST, target.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body.clone())
    };
    if let Err(why) = send(build).await {
        warn("result", &why);
    }
}

fn warn(which: &str, why: &str) {
    eprintln!("backups: warning: the {which} ping failed: {why}");
}

/// `report` cut to at most `max` bytes on a character boundary.
fn cut(report: &str, max: usize) -> &str {
    let mut end = report.len().min(max);
    while !report.is_char_boundary(end) {
        end -= 1;
    }
    &report[..end]
}

/// Sends a ping, trying again after a connection failure, a timeout or a 5xx or 429; the
/// error is what went wrong, without the URL.
async fn send(build: impl Fn() -> reqwest::RequestBuilder) -> std::result::Result<(), String> {
    let mut last = String::new();
    for attempt in 0..TRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await;
        }
        match build().timeout(TRY_TIMEOUT).send().await {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let status = resp.status();
                last = format!("HTTP {}", status.as_u16());
                if !(status.is_server_error() || status.as_u16() == 429) {
                    break;
                }
            }
            Err(e) => last = describe(e),
        }
    }
    Err(last)
}

/// A transport error in words: reqwest's message and its causes, without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_and_errors_never_show_the_url() {
        let ok = PingUrl::parse("https://hc-ping.com/5e1f-secret", "--ping").unwrap();
        assert_eq!(format!("{ok:?}"), "PingUrl((redacted))");
        assert_eq!(
            ok.with("start").as_str(),
            "https://hc-ping.com/5e1f-secret/start"
        );
        let slash = PingUrl::parse("https://hc.example/ping/key/job/?create=1", "x").unwrap();
        assert_eq!(
            slash.with("3").as_str(),
            "https://hc.example/ping/key/job/3?create=1"
        );
        assert!(PingUrl::parse("http://127.0.0.1:8000/p", "--ping").is_ok());
        assert!(PingUrl::parse("http://localhost/p", "--ping").is_ok());
        for (url, message) in [
            ("http://hc-ping.com/5e1f-secret", "--ping: plain http is refused for the ping URL (it is a secret); use https, or http to a loopback host"),
            ("ftp://hc-ping.com/5e1f-secret", "--ping: the ping URL must use https"),
            ("hc-ping.com/5e1f-secret", "--ping: not an absolute URL"),
        ] {
            let err = PingUrl::parse(url, "--ping").unwrap_err();
            assert_eq!(err.to_string(), message);
            assert_eq!(err.exit_code(), 2);
            assert!(!format!("{err:?}").contains("5e1f-secret"));
        }
    }

    #[test]
    fn the_report_is_cut_on_a_character_boundary() {
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(cut("aé", 2), "a");
        assert_eq!(cut(&"x".repeat(20_000), MAX_BODY).len(), MAX_BODY);
    }
}
