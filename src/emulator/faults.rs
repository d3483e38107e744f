//! `--faults`: misbehaviour injected in front of every API, in each vendor's own shape, so the
//! client's resilience can be proven against it (`docs/cli.md#behaviour-under-faults`):
//! - the first try of every listing request (by method and URI) fails, alternately throttled
//!   (429 with `Retry-After` as delta seconds for Huawei and ByCloud, an HTTP date for Oracle
//!   and Z.com, a Unix epoch for Cloud Foundry, as `text/plain`) and unavailable (503 with an
//!   HTML page, as gateways send); its retry succeeds;
//! - sessions expire in mid-listing: that is decided by the vendor modules, which own their
//!   sessions (Oracle cookies and Z.com tokens: every other one per user is dead on arrival;
//!   IAM tokens after 3 listing calls; UAA tokens after 8 uses), answering with their own 401;
//! - the ByCloud API-key demo account is slow ([`SLOW_DELAY`] per request).
//!
//! Authentication requests are never faulted, and a request never fails twice in a row (the
//! count is per URI, so concurrency cannot stack faults on one request), so a client with the
//! default retry policy lists exactly the rows of a clean run.
//! The demo config gains two accounts under faults: one with bad credentials and one whose
//! server repeats its paging marker (see the ByCloud module).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The bearer token of the demo account whose server repeats its paging marker.
pub(crate) const LOOP_TOKEN: &str = "demo-marker-loop-token";

/// Extra delay per request of the slow demo account.
pub(crate) const SLOW_DELAY: Duration = Duration::from_millis(1000);

/// Which vendor a listener imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vendor {
    /// Oracle Compute Classic.
    Oracle,
    /// Z.com.
    Zcom,
    /// Huawei CBR.
    Huawei,
    /// Cloud Foundry.
    Cf,
    /// ByCloud.
    Bycloud,
}

impl Vendor {
    /// Every vendor, in the order the emulator lists them.
    pub(crate) const ALL: [Vendor; 5] = [
        Vendor::Oracle,
        Vendor::Zcom,
        Vendor::Huawei,
        Vendor::Cf,
        Vendor::Bycloud,
    ];

    /// Its place in [`Vendor::ALL`].
    pub(crate) fn position(self) -> usize {
        self as usize
    }

    /// The provider name the config and the CLI use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Vendor::Oracle => "oracle",
            Vendor::Zcom => "zcom",
            Vendor::Huawei => "huawei",
            Vendor::Cf => "cf",
            Vendor::Bycloud => "bycloud",
        }
    }
}

/// Fault state of one listener.
#[derive(Debug)]
pub(crate) struct Faults {
    vendor: Vendor,
    enabled: bool,
    /// Tries seen per listing URI: odd tries fail, even ones pass.
    tries: Mutex<HashMap<String, u64>>,
    /// Faults served, to alternate 429 and 503.
    faulted: AtomicU64,
}

impl Faults {
    /// Fault state for one vendor's listener.
    pub(crate) fn new(vendor: Vendor, enabled: bool) -> Arc<Faults> {
        Arc::new(Faults {
            vendor,
            enabled,
            tries: Mutex::new(HashMap::new()),
            faulted: AtomicU64::new(0),
        })
    }
}

/// Whether a request lists backups (or, for CF, service instances): the requests faults hit.
pub(crate) fn is_listing(vendor: Vendor, method: &axum::http::Method, path: &str) -> bool {
    if method != axum::http::Method::GET {
        return false;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match vendor {
        Vendor::Oracle => path.starts_with("/backupservice/v1/backup"),
        Vendor::Zcom => segs.len() >= 3 && segs[0] == "v2" && segs[2] == "backup",
        Vendor::Huawei => segs.len() == 3 && segs[0] == "v3" && segs[2] == "backups",
        Vendor::Cf => path.starts_with("/v3/service_instances"),
        Vendor::Bycloud => path.starts_with("/v1/backups"),
    }
}

fn throttled(vendor: Vendor) -> Response {
    let now = SystemTime::now();
    match vendor {
        Vendor::Huawei | Vendor::Bycloud => {
            let body = match vendor {
                Vendor::Huawei => serde_json::json!({
                    "error_code": "APIGW.0308",
                    "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 second",
                    "request_id": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
                }),
                _ => serde_json::json!({"error": {
                    "code": 429,
                    "message": "Rate limit exceeded",
                    "details": "Please wait 1 seconds before retrying"
                }}),
            };
            let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Vendor::Cf => {
            // Cloud Controller: Retry-After is the reset time as a Unix epoch, and the JSON
            // errors document comes as text/plain.
            let reset = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs() + 1)
                .unwrap_or(0)
                .to_string();
            let body = serde_json::json!({"errors": [{"code": 10013, "title": "CF-RateLimitExceeded", "detail": "Rate Limit Exceeded"}]});
            let mut r = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            for name in ["retry-after", "x-ratelimit-reset"] {
                if let Ok(v) = HeaderValue::from_str(&reset) {
                    h.insert(name, v);
                }
            }
            h.insert("x-ratelimit-limit", HeaderValue::from_static("20000"));
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            r
        }
        Vendor::Oracle | Vendor::Zcom => {
            let at = chrono::DateTime::<chrono::Utc>::from(now + Duration::from_secs(2));
            let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
            if let Ok(v) = HeaderValue::from_str(&date) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

fn unavailable() -> Response {
    let page = "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>\
                <body><h1>Service Unavailable</h1></body></html>";
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html")],
        Body::from(page),
    )
        .into_response()
}

/// The fault layer: a no-op unless `--faults`.
pub(crate) async fn layer(State(faults): State<Arc<Faults>>, req: Request, next: Next) -> Response {
    if !faults.enabled {
        return next.run(req).await;
    }
    let vendor = faults.vendor;
    if vendor == Vendor::Bycloud && req.headers().contains_key("x-api-key") {
        tokio::time::sleep(SLOW_DELAY).await;
    }
    if !is_listing(vendor, req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    if vendor == Vendor::Bycloud && bearer(req.headers()) == Some(LOOP_TOKEN) {
        return marker_loop(req.uri());
    }
    let first_try = {
        let mut tries = faults.tries.lock().unwrap_or_else(|e| e.into_inner());
        let n = tries
            .entry(format!("{} {}", req.method(), req.uri()))
            .or_insert(0);
        *n += 1;
        *n % 2 == 1
    };
    if first_try {
        return if faults.faulted.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
            throttled(vendor)
        } else {
            unavailable()
        };
    }
    next.run(req).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// A ByCloud listing whose every page names the same marker: a client must stop with an
/// error instead of looping.
fn marker_loop(uri: &axum::http::Uri) -> Response {
    const MARKER: &str = "7d0c3a38-2f4b-4c55-9a61-6b3f0e9d1c2a";
    let page = if uri.query().unwrap_or("").contains("marker=") {
        2
    } else {
        1
    };
    let id = format!("7d0c3a38-2f4b-4c55-9a61-00000000000{page}");
    (
        StatusCode::OK,
        Json(serde_json::json!({
            "backups": [{
                "id": id,
                "crn": format!("crn:spo1:storage:backup:{id}"),
                "name": format!("loop-{page}"),
                "description": "",
                "status": "available",
                "volume_id": "7d0c3a38-2f4b-4c55-9a61-0000000000aa",
                "size": 1,
                "is_incremental": false,
                "created_at": "2026-11-20T00:00:00Z",
                "updated_at": "2026-11-20T00:00:00Z"
            }],
            "meta": {"total": 99, "limit": 20, "marker": MARKER, "has_more": true}
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_recognised_per_vendor() {
        let get = axum::http::Method::GET;
        assert!(is_listing(Vendor::Huawei, &get, "/v3/p1/backups"));
        assert!(!is_listing(Vendor::Huawei, &get, "/v3/projects"));
        assert!(!is_listing(
            Vendor::Huawei,
            &axum::http::Method::POST,
            "/v3/p1/backups"
        ));
        assert!(is_listing(Vendor::Zcom, &get, "/v2/t1/backup"));
        assert!(is_listing(
            Vendor::Oracle,
            &get,
            "/backupservice/v1/backup/"
        ));
        assert!(is_listing(
            Vendor::Cf,
            &get,
            "/v3/service_instances/g/backups"
        ));
        assert!(is_listing(Vendor::Bycloud, &get, "/v1/backups"));
        assert!(!is_listing(Vendor::Cf, &get, "/"));
    }
}
