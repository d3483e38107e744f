//! One try of a request: build it, send it, refuse a redirect to another origin, read the
//! body, and say whether a failure is worth another try. The retry loop ([`super::retry`])
//! decides whether there is one.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{LOCATION, RETRY_AFTER};
use reqwest::redirect;

use crate::error::{is_retryable_status, Error, ErrorKind, Result};

use super::retry::parse_retry_after;
use super::{body, describe, same_origin, Http, Response};

/// What one try gave: the response or the error, and what the retry loop needs to know.
pub(super) struct Outcome {
    /// The response read in full (any status), or a transport failure.
    pub(crate) result: Result<Response>,
    /// Whether another try may succeed (transport failures, 429, 502-504).
    pub(crate) transient: bool,
    /// The server's `Retry-After`, when it gave one.
    pub(crate) retry_after: Option<Duration>,
    /// `METHOD /path` of the request, for the log.
    pub(crate) what: String,
}

/// Redirects followed for one request, all within its origin.
const MAX_REDIRECTS: usize = 5;

/// Follows redirects only within one origin: reqwest strips `Authorization` on a cross-host
/// redirect but not `X-Auth-Token`, cookies or signatures. A redirect it stops at (another
/// origin, or one hop too many) comes back as a 3xx, which [`attempt`] refuses.
pub(super) fn redirect_policy() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .last()
            .is_some_and(|prev| same_origin(prev, attempt.url()));
        if same && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Makes try number `retry` (0 for the first) of the request `build` makes. An error here is
/// final (a request that cannot be built, a refused redirect); a failure worth retrying comes
/// back in the [`Outcome`].
pub(super) async fn attempt<F>(http: &Http, account: &str, build: &F, retry: u32) -> Result<Outcome>
where
    F: Fn() -> Result<reqwest::RequestBuilder>,
{
    let request = build()?
        .build()
        .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot build request: {e}")))?;
    let what = describe(request.method(), request.url());
    let t0 = Instant::now();
    // The first request to an origin opens its connection alone; the others wait for it
    // (over HTTP/2 they then share it) instead of each paying the handshakes.
    let origin = request.url().origin().ascii_serialization();
    let connect_bound = http.options.timeout.min(Duration::from_secs(10));
    let first = http.origins.before(&origin, connect_bound).await;
    let sent = super::connections::scoped(
        &http.connections,
        first.clone(),
        http.client.execute(request),
    )
    .await;
    if let Some(first) = &first {
        let h2 = sent
            .as_ref()
            .ok()
            .map(|r| r.version() == reqwest::Version::HTTP_2);
        http.origins.after(&origin, first, h2);
    }
    match sent {
        Ok(resp) => received(http, account, resp, what, t0, retry).await,
        Err(e) => Ok(failed(http, account, e, what, t0, retry)),
    }
}

/// The outcome of a response: its body read (within the cap), or the refusal of a redirect.
async fn received(
    http: &Http,
    account: &str,
    resp: reqwest::Response,
    what: String,
    t0: Instant,
    retry: u32,
) -> Result<Outcome> {
    let status = resp.status().as_u16();
    let version = resp.version();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    tracing::info!(
        target: "backups::http",
        "{account}: {what} -> {status} in {} ms ({version:?}, retries {retry})",
        t0.elapsed().as_millis()
    );
    if (300..400).contains(&status) {
        return Err(refused_redirect(&resp, account, &what, status));
    }
    let headers = resp.headers().clone();
    let result = body::read(resp, http.options.max_body, &what)
        .await
        .map(|body| Response {
            status,
            headers,
            body,
            request: what.clone(),
        });
    Ok(Outcome {
        result,
        transient: is_retryable_status(status),
        retry_after,
        what,
    })
}

/// The outcome of a request that got no response: a timeout or a network error, both worth
/// another try.
fn failed(
    http: &Http,
    account: &str,
    e: reqwest::Error,
    what: String,
    t0: Instant,
    retry: u32,
) -> Outcome {
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
            format!("timed out after {} s", http.options.timeout.as_secs_f64())
        }
        _ => transport_message(&e),
    };
    let err = Error::new(kind, message)
        .with_account(account)
        .with_request(&what, None)
        .with_source(e);
    Outcome {
        result: Err(err),
        transient: true,
        retry_after: None,
        what,
    }
}

/// The error for a redirect the policy stopped at: one to another origin (credentials stay
/// home), or one more within the origin after [`MAX_REDIRECTS`] (a loop, most likely).
fn refused_redirect(resp: &reqwest::Response, account: &str, what: &str, status: u16) -> Error {
    let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok());
    let target = location.and_then(|l| resp.url().join(l).ok());
    let error = match target {
        Some(to) if same_origin(resp.url(), &to) => Error::protocol(format!(
            "stopped after {MAX_REDIRECTS} redirects within the origin (the last to {}): the server may be looping",
            crate::text::quote(to.path())
        )),
        _ => {
            // The target's query is left out: it can carry secrets too.
            let to = location.unwrap_or("?").split('?').next().unwrap_or("?");
            Error::new(
                ErrorKind::Insecure,
                format!(
                    "refused to follow a redirect to another origin ({}): credentials stay with the configured endpoint",
                    crate::text::quote(to)
                ),
            )
        }
    };
    error.with_account(account).with_request(what, Some(status))
}

/// The innermost cause of a transport error, without the URL (which may carry a query).
pub(super) fn transport_message(e: &reqwest::Error) -> String {
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

/// Maps an HTTP status to an error kind; the one place this is decided (adapters may refine).
pub(super) fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Auth,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Client,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
