//! The contract suite (`docs/architecture.md#test-layers`, the contract row): one set of properties
//! that every provider must keep, checked through the real adapters and the real HTTP client,
//! against the emulator and against small hostile servers started per test.
//!
//! Each test is one property with a loop over [`ProviderId::ALL`]; everything a test needs to
//! know about a vendor (status vocabulary, auth endpoints, what a fair listing looks like) sits
//! in one `match` per concern below, so adding a provider adds one arm to each. Failures are
//! collected across providers and reported together, so one broken adapter does not hide
//! another.

#![cfg(feature = "emulator")]

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use backups::config::{self, Account};
use backups::emulator::{Emulator, EmulatorOptions};
use backups::filter::Filter;
use backups::http::{Http, HttpOptions, RetryPolicy};
use backups::model::{Backup, Field, ProviderId, Status};
use backups::providers::{self, run_all, AccountResult, ListOptions};
use backups::ErrorKind;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The pinned "now" of every emulator here: demo data is dated relative to it.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn emulator(scale: Option<usize>, faults: bool) -> Emulator {
    Emulator::start(EmulatorOptions {
        now: now(),
        scale,
        faults,
        ..Default::default()
    })
    .await
    .expect("emulator starts")
}

/// The client the CLI uses by default.
fn http() -> Http {
    Http::new(HttpOptions::default()).unwrap()
}

/// A client with a small body cap (so a 10 KiB body is "too large") and retries in
/// milliseconds (so 502s are retried without slowing the suite).
fn small_http() -> Http {
    Http::new(HttpOptions {
        max_body: 4096,
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        ..HttpOptions::default()
    })
    .unwrap()
}

fn of(accounts: &[Account], p: ProviderId) -> Vec<Account> {
    accounts
        .iter()
        .filter(|a| a.provider() == p)
        .cloned()
        .collect()
}

async fn list(http: &Http, accounts: &[Account]) -> Vec<AccountResult> {
    run_all(http, accounts, &Filter::default(), &ListOptions::default()).await
}

/// Collects failed expectations across providers, then fails once with all of them.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} failed expectations:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What the suite knows about each vendor.

/// The status table of `docs/model.md#status-stable`, read per vendor: raw value (lower-case) ->
/// normalised status. `None`: the vendor sends no status (Cloud Foundry), every listed backup is
/// available.
fn vocabulary(p: ProviderId) -> Option<&'static [(&'static str, Status)]> {
    use Status::*;
    match p {
        ProviderId::Oracle => Some(&[
            ("completed", Available),
            ("submitted", Creating),
            ("inprogress", Creating),
            ("delete_submitted", Deleting),
            ("deleting", Deleting),
            ("deleted", Deleted),
            ("cancelling", Cancelled),
            ("canceled", Cancelled),
            ("failed", Error),
            ("timeout", Error),
        ]),
        ProviderId::Zcom => Some(&[
            ("available", Available),
            ("creating", Creating),
            ("queued", Creating),
            ("restoring", Restoring),
            ("deleting", Deleting),
            ("deleted", Deleted),
            ("error", Error),
        ]),
        ProviderId::Huawei => Some(&[
            ("available", Available),
            ("protecting", Creating),
            ("waiting_protect", Creating),
            ("restoring", Restoring),
            ("waiting_restore", Restoring),
            ("deleting", Deleting),
            ("waiting_delete", Deleting),
            ("error", Error),
        ]),
        ProviderId::Cf => None,
        ProviderId::Bycloud => Some(&[
            ("available", Available),
            ("active", Available),
            ("completed", Available),
            ("creating", Creating),
            ("restoring", Restoring),
            ("deleting", Deleting),
            ("deleted", Deleted),
            ("error", Error),
            ("failed", Error),
        ]),
    }
}

/// A fair listing body for a request the hostile server gets, or `None` when the path is not
/// one of the vendor's listing calls. Small and well-formed: the hostile cases mutate it.
fn fair_listing(p: ProviderId, path: &str, query: &str) -> Option<Value> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match p {
        ProviderId::Oracle => path.starts_with("/backupservice/v1/backup").then(|| {
            json!({"result": [{
                "name": "/Compute-acme/jack.jones@example.com/cfg/0a1b2c3d",
                "state": "COMPLETED",
                "snapshotSize": "1073741824b",
                "volumeUri": "/storage/volume/Compute-acme/jack.jones@example.com/vol1",
                "description": "nightly"
            }]})
        }),
        ProviderId::Zcom => {
            (segs.len() == 3 && segs[0] == "v2" && segs[2] == "backup").then(|| {
                json!({"backup": [{
                    "id": "5e0c8e2b-59a5-4f4b-8f7b-4a5e6c1f2a3b",
                    "instance_id": "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
                    "backupruns": [{
                        "backuprun_id": "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910",
                        "status": "available",
                        "created_at": "2026-11-22T03:00:00Z",
                        "type": "instance"
                    }]
                }]})
            })
        }
        ProviderId::Huawei => {
            (segs.len() == 3 && segs[0] == "v3" && segs[2] == "backups").then(|| {
                let offset = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("offset="))
                    .and_then(|o| o.parse::<u64>().ok())
                    .unwrap_or(0);
                if offset > 0 {
                    return json!({"backups": [], "count": 1});
                }
                json!({"backups": [{
                "id": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "name": "autobk_1",
                "status": "available",
                "resource_type": "OS::Nova::Server",
                "resource_id": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
                "resource_size": 40,
                "created_at": "2026-11-22T03:00:00.000000",
                "updated_at": "2026-11-22T03:10:00.000000"
            }], "count": 1})
            })
        }
        ProviderId::Cf => {
            const GUID: &str = "0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a";
            match segs.as_slice() {
                ["v3", "service_instances"] => Some(json!({
                    "pagination": {"total_results": 1, "next": null},
                    "resources": [{"guid": GUID, "name": "orders-db"}]
                })),
                ["v3", "service_instances", guid] => {
                    Some(json!({"guid": guid, "name": "orders-db"}))
                }
                ["v3", "service_instances", _, "backups"] => Some(json!({"backups": [
                    {"id": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "created_at": 1_795_000_000}
                ]})),
                _ => None,
            }
        }
        ProviderId::Bycloud => path.starts_with("/v1/backups").then(|| {
            json!({
                "backups": [{
                    "id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                    "name": "nightly",
                    "status": "available",
                    "volume_id": "4d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a",
                    "size": 10,
                    "is_incremental": false,
                    "created_at": "2026-11-22T03:00:00Z",
                    "updated_at": "2026-11-22T03:05:00Z"
                }],
                "meta": {"total": 1, "limit": 100, "marker": null, "has_more": false}
            })
        }),
    }
}

/// Answers the vendor's authentication calls sensibly, pointing any catalog back at `base`;
/// `None` when the request is not an authentication call.
fn auth_answer(
    p: ProviderId,
    base: &str,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Option<Response> {
    match (p, method.as_str(), path) {
        (ProviderId::Oracle, "POST", "/authenticate/") => Some(
            (
                StatusCode::NO_CONTENT,
                [(
                    header::SET_COOKIE,
                    "nimbula=hostile-cookie; Path=/; Max-Age=1800",
                )],
            )
                .into_response(),
        ),
        (ProviderId::Zcom, "POST", "/v2.0/tokens") => {
            let req: Value = serde_json::from_slice(body).unwrap_or_default();
            let tenant = req["auth"]["tenantId"].as_str().unwrap_or("t").to_string();
            Some(
                axum::Json(json!({"access": {
                    "token": {"id": "hostile-token", "expires": "2099-01-01T00:00:00Z"},
                    "serviceCatalog": [{"type": "compute", "name": "Compute Service", "endpoints": [
                        {"region": "tyo1", "publicURL": format!("{base}/v2/{tenant}")}
                    ]}]
                }}))
                .into_response(),
            )
        }
        (ProviderId::Huawei, "POST", "/v3/auth/tokens") => Some(
            (
                StatusCode::CREATED,
                [("x-subject-token", "hostile-iam-token")],
                axum::Json(json!({"token": {"expires_at": "2099-01-01T00:00:00.000000Z"}})),
            )
                .into_response(),
        ),
        (ProviderId::Cf, "GET", "/") => Some(
            axum::Json(json!({"links": {
                "login": {"href": format!("{base}/login")},
                "uaa": {"href": format!("{base}/uaa")}
            }}))
            .into_response(),
        ),
        (ProviderId::Cf, "POST", "/login/oauth/token" | "/uaa/oauth/token") => Some(
            axum::Json(json!({
                "access_token": "hostile-access-token",
                "token_type": "bearer",
                "refresh_token": "hostile-refresh-token",
                "expires_in": 3600
            }))
            .into_response(),
        ),
        _ => None,
    }
}

/// The first backup-like object of a listing body: descends through the vendors' list keys
/// (Z.com's groups hold runs); a body without a list is itself the item (a CF instance).
fn first_item(body: &mut Value) -> Option<&mut Map<String, Value>> {
    const LISTS: [&str; 5] = ["result", "backup", "backupruns", "backups", "resources"];
    let obj = body.as_object_mut()?;
    let key = LISTS.iter().find(|k| {
        obj.get(**k)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    match key {
        Some(k) => first_item(&mut obj.get_mut(*k)?.as_array_mut()?[0]),
        None => Some(obj),
    }
}

/// The placeholder whose bytes are replaced by invalid UTF-8 after serialising.
const NOT_UTF8_MARK: &str = "@@NOT-UTF-8@@";

/// The body with [`NOT_UTF8_MARK`] replaced by bytes that are not UTF-8.
fn with_invalid_utf8(text: &str) -> Vec<u8> {
    match text.split_once(NOT_UTF8_MARK) {
        Some((before, after)) => [before.as_bytes(), b"a\xff\xfez", after.as_bytes()].concat(),
        None => text.as_bytes().to_vec(),
    }
}

// ---------------------------------------------------------------------------------------------
// The hostile server.

/// How a hostile server answers the listing calls.
#[derive(Clone)]
enum Case {
    /// `{"backups": [` (a truncated body).
    MalformedJson,
    /// A gateway's HTML page with status 500 (not retried).
    Html500,
    /// The same with 502 (retried, then failed).
    Html502,
    /// Every vendor's list key holding a string.
    WrongTypes,
    /// A bare `5`.
    BareNumber,
    /// A fair body padded past the client's 4 KiB cap, with a Content-Length.
    TooLarge,
    /// The same, chunked (no Content-Length): the cap must hold while reading.
    TooLargeChunked,
    /// Bytes that are not UTF-8 in the first item's id.
    NotUtf8InMappedString,
    /// Bytes that are not UTF-8 in a top-level key no adapter reads.
    NotUtf8InUnmappedString,
    /// A size of 10^30 (bytes for Oracle, GiB elsewhere).
    HugeSize,
    /// A row count of -1.
    NegativeCount,
    /// A creation time of 1e300.
    HugeTime,
    /// A 302 to `{to}{path}?{query}`.
    Redirect(String),
    /// A 302 to this server's own `/redirected{path}?{query}`.
    RedirectHere,
    /// The authentication POSTs get a 307 (which keeps method and body) to `{to}{path}`;
    /// everything else is fair.
    RedirectLogin(String),
    /// The first listing call gets a 429 with this `Retry-After`, later ones a fair answer.
    Throttle(fn() -> String),
    /// Fair answers (the target of a same-origin redirect uses it too).
    Fair,
    /// A test's own answers (see [`Ask`]); fair ones where it gives none.
    Custom(Handler),
}

/// What a [`Case::Custom`] handler is asked: one request to the server.
struct Ask<'a> {
    p: ProviderId,
    /// This server's base URL.
    base: &'a str,
    method: &'a Method,
    path: &'a str,
    query: &'a str,
    /// The fair listing body for this request, when it is a listing call.
    fair: Option<Value>,
}

/// A test's answer to a request (after a delay), or `None` for the fair one.
type Handler = Arc<dyn Fn(&Ask<'_>) -> Option<(Duration, Response)> + Send + Sync>;

impl std::fmt::Debug for Ask<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}?{}", self.p, self.method, self.path, self.query)
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Case::Custom(_) => "Custom",
            _ => "a built-in case",
        })
    }
}

impl Case {
    fn hostile() -> Vec<(&'static str, Case)> {
        vec![
            ("malformed JSON", Case::MalformedJson),
            ("HTML 500", Case::Html500),
            ("HTML 502", Case::Html502),
            ("wrong types", Case::WrongTypes),
            ("bare 5", Case::BareNumber),
            ("10 KiB > cap", Case::TooLarge),
            ("10 KiB chunked", Case::TooLargeChunked),
            ("bad UTF-8 (mapped)", Case::NotUtf8InMappedString),
            ("bad UTF-8 (unmapped)", Case::NotUtf8InUnmappedString),
            ("size 1e30", Case::HugeSize),
            ("count -1", Case::NegativeCount),
            ("created_at 1e300", Case::HugeTime),
        ]
    }

    /// The error kind and HTTP status an account must fail with.
    fn expected(&self) -> (ErrorKind, u16) {
        match self {
            Case::Html500 => (ErrorKind::Server, 500),
            Case::Html502 => (ErrorKind::Server, 502),
            _ => (ErrorKind::Protocol, 200),
        }
    }

    /// Applies a mutation case to a fair body; `false` when the vendor has no such field.
    fn mutate(&self, body: &mut Value) -> bool {
        match self {
            Case::NotUtf8InUnmappedString => {
                let Some(obj) = body.as_object_mut() else {
                    return false;
                };
                obj.insert("note".into(), json!(NOT_UTF8_MARK));
                true
            }
            Case::NotUtf8InMappedString => {
                let Some(item) = first_item(body) else {
                    return false;
                };
                let Some(key) = ["backuprun_id", "guid", "id", "name"]
                    .into_iter()
                    .find(|k| item.contains_key(*k))
                else {
                    return false;
                };
                item.insert(key.into(), json!(NOT_UTF8_MARK));
                true
            }
            Case::HugeSize => {
                let Some(item) = first_item(body) else {
                    return false;
                };
                if item.contains_key("snapshotSize") {
                    // Oracle sizes are strings with a unit: 10^30 bytes overflows u64.
                    item.insert(
                        "snapshotSize".into(),
                        json!("1000000000000000000000000000000b"),
                    );
                    return true;
                }
                let Some(key) = ["resource_size", "size"]
                    .into_iter()
                    .find(|k| item.contains_key(*k))
                else {
                    return false;
                };
                item.insert(key.into(), json!(1e30));
                true
            }
            Case::NegativeCount => match body.get_mut("count") {
                Some(c) => {
                    *c = json!(-1);
                    true
                }
                None => false,
            },
            Case::HugeTime => {
                let Some(item) = first_item(body) else {
                    return false;
                };
                if !item.contains_key("created_at") {
                    return false;
                }
                item.insert("created_at".into(), json!(1e300));
                true
            }
            _ => true,
        }
    }
}

/// One request a test server saw.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    /// Whether it got a hostile (non-fair) answer.
    hostile: bool,
    /// When it arrived (to order requests across servers; never a timing assertion).
    arrived: std::time::Instant,
}

struct ServerState {
    p: ProviderId,
    case: Case,
    base: String,
    /// CF has two listing stages: with this set, the instance calls get fair answers and only
    /// `…/backups` is hostile.
    cf_backups_only: bool,
    listings: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    /// Requests being answered right now, and the most at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A test server on 127.0.0.1; stops when dropped.
struct Server {
    base: String,
    state: Arc<ServerState>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(p: ProviderId, case: Case, cf_backups_only: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ServerState {
            p,
            case,
            base: base.clone(),
            cf_backups_only,
            listings: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let router = Router::new().fallback(answer).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Server { base, state, task }
    }

    fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn html(status: StatusCode) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html><head><title>{status}</title></head>\n<body><h1>{status}</h1><hr><center>nginx</center></body></html>\n"
    );
    (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

async fn answer(State(s): State<Arc<ServerState>>, req: Request) -> Response {
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let resp = answer_one(s.clone(), req).await;
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    resp
}

async fn answer_one(s: Arc<ServerState>, req: Request) -> Response {
    let arrived = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let record = |hostile: bool| {
        s.seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            headers: headers.clone(),
            body: body.clone(),
            hostile,
            arrived,
        });
    };
    if let Case::Custom(handler) = &s.case {
        let ask = Ask {
            p: s.p,
            base: &s.base,
            method: &method,
            path: &path,
            query: &query,
            fair: fair_listing(s.p, &path, &query),
        };
        if let Some((delay, resp)) = handler(&ask) {
            record(true);
            tokio::time::sleep(delay).await;
            return resp;
        }
    }
    if let Some(resp) = auth_answer(s.p, &s.base, &method, &path, &body) {
        // Only the calls that carry credentials (CF's `GET /` discovery carries none).
        if let (Case::RedirectLogin(to), &Method::POST) = (&s.case, &method) {
            record(true);
            let location = format!("{to}{path}");
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
        record(false);
        return resp;
    }
    let (fair_path, redirected) = match path.strip_prefix("/redirected") {
        Some(rest) => (rest.to_string(), true),
        None => (path.clone(), false),
    };
    let Some(mut fair) = fair_listing(s.p, &fair_path, &query) else {
        record(false);
        return json_response(StatusCode::NOT_FOUND, b"{}".to_vec());
    };
    let cf_instance_call = s.p == ProviderId::Cf && !fair_path.ends_with("/backups");
    if redirected || (s.cf_backups_only && cf_instance_call) {
        record(false);
        return json_response(StatusCode::OK, fair.to_string().into_bytes());
    }
    let n = s.listings.fetch_add(1, Ordering::SeqCst);
    let hostile = match &s.case {
        Case::Fair | Case::RedirectLogin(_) | Case::Custom(_) => false,
        Case::Throttle(_) => n == 0,
        _ => true,
    };
    record(hostile);
    match &s.case {
        Case::Fair | Case::RedirectLogin(_) | Case::Custom(_) => {
            json_response(StatusCode::OK, fair.to_string().into_bytes())
        }
        Case::Throttle(retry_after) if n == 0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after())],
            "Too Many Requests",
        )
            .into_response(),
        Case::Throttle(_) => json_response(StatusCode::OK, fair.to_string().into_bytes()),
        Case::Redirect(_) | Case::RedirectHere => {
            let to = match &s.case {
                Case::Redirect(to) => to.clone(),
                _ => format!("{}/redirected", s.base),
            };
            let mut location = format!("{to}{path}");
            if !query.is_empty() {
                location = format!("{location}?{query}");
            }
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Case::MalformedJson => json_response(StatusCode::OK, br#"{"backups": ["#.to_vec()),
        Case::Html500 => html(StatusCode::INTERNAL_SERVER_ERROR),
        Case::Html502 => html(StatusCode::BAD_GATEWAY),
        Case::WrongTypes => json_response(
            StatusCode::OK,
            br#"{"backups":"x","backup":"x","result":"x","resources":"x","count":"x","meta":"x"}"#
                .to_vec(),
        ),
        Case::BareNumber => json_response(StatusCode::OK, b"5".to_vec()),
        Case::TooLarge => {
            fair["padding"] = json!("x".repeat(10 << 10));
            json_response(StatusCode::OK, fair.to_string().into_bytes())
        }
        Case::TooLargeChunked => {
            // No Content-Length: the cap must hold while reading.
            fair["padding"] = json!("x".repeat(10 << 10));
            let bytes = fair.to_string().into_bytes();
            let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
                .chunks(1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let body = Body::from_stream(futures_util::stream::iter(chunks));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        mutation => {
            mutation.mutate(&mut fair);
            json_response(StatusCode::OK, with_invalid_utf8(&fair.to_string()))
        }
    }
}

/// The demo config with every API address pointing at `port` instead.
fn config_pointing_at(emu: &Emulator, port: u16) -> String {
    let mut text = emu.config_toml();
    for url in [
        &emu.urls.oracle,
        &emu.urls.zcom,
        &emu.urls.huawei,
        &emu.urls.cf,
        &emu.urls.bycloud,
    ] {
        let from = format!("127.0.0.1:{}", url.port().unwrap());
        text = text.replace(&from, &format!("127.0.0.1:{port}"));
    }
    text
}

fn parse_config(text: &str) -> Vec<Account> {
    config::parse(text, std::path::Path::new("(test)"), &|_| None)
        .expect("the rewritten demo config parses")
        .accounts
}

/// The demo accounts of `p`, pointed at `server`.
fn accounts_at(emu: &Emulator, p: ProviderId, server: &Server) -> Vec<Account> {
    of(&parse_config(&config_pointing_at(emu, server.port())), p)
}

/// Serialised rows with the emulator's ports replaced by the API's name, sorted by id.
fn normalised(emu: &Emulator, rows: &[Backup]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut s = serde_json::to_string(r).unwrap();
            for (name, url) in [
                ("oracle", &emu.urls.oracle),
                ("zcom", &emu.urls.zcom),
                ("huawei", &emu.urls.huawei),
                ("cf", &emu.urls.cf),
                ("bycloud", &emu.urls.bycloud),
            ] {
                s = s.replace(
                    &format!("127.0.0.1:{}", url.port().unwrap()),
                    &format!("<{name}>"),
                );
            }
            s
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// (a) every page is listed.

#[tokio::test]
async fn every_page_is_listed_and_ids_are_unique() {
    // More than one page everywhere that pages: ByCloud pages by 100, Huawei by 1000.
    const N: usize = 1050;
    let emu = emulator(Some(N), false).await;
    let accounts = emu.accounts().unwrap();
    let http = http();
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let mine = of(&accounts, p);
        f.check(!mine.is_empty(), || format!("{p}: no demo account"));
        for r in list(&http, &mine).await {
            match r.result {
                Ok(rows) => {
                    f.check(rows.len() == N, || {
                        format!("{}: {} rows, want {N}", r.account, rows.len())
                    });
                    let ids: HashSet<&str> = rows.iter().map(|b| b.id.as_str()).collect();
                    f.check(ids.len() == rows.len(), || {
                        format!("{}: {} duplicate ids", r.account, rows.len() - ids.len())
                    });
                }
                Err(e) => f.0.push(format!("{}: failed: {e}", r.account)),
            }
        }
    }
    f.assert_none();
}

// ---------------------------------------------------------------------------------------------
// (b) fields are mapped.

/// Fields an adapter maps that the demo data never sends, and why.
const NOT_IN_DEMO: [(ProviderId, &str); 2] = [
    // CBR sets parent_id on replicated backups only; the demo has no replication.
    (ProviderId::Huawei, "parent_id"),
    // OSMAPI documents only `id` and `created_at`; extra holds whatever else a broker adds.
    (ProviderId::Cf, "extra"),
];

#[tokio::test]
async fn fields_are_mapped_as_the_spec_and_capabilities_say() {
    let emu = emulator(None, false).await;
    let accounts = emu.accounts().unwrap();
    let http = http();
    let caps: BTreeMap<ProviderId, providers::Capabilities> = providers::capabilities()
        .into_iter()
        .map(|c| (c.provider, c))
        .collect();
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let fields = caps[&p].fields;
        let mut filled: HashSet<String> = HashSet::new();
        for r in list(&http, &of(&accounts, p)).await {
            let rows = match r.result {
                Ok(rows) => rows,
                Err(e) => {
                    f.0.push(format!("{}: failed: {e}", r.account));
                    continue;
                }
            };
            f.check(!rows.is_empty(), || format!("{}: no rows", r.account));
            for b in &rows {
                let at = format!("{} row {}", r.account, b.id);
                f.check(b.provider == p, || format!("{at}: provider {}", b.provider));
                f.check(b.account == r.account, || {
                    format!("{at}: account {}", b.account)
                });
                f.check(!b.id.is_empty(), || format!("{at}: empty id"));
                let want = match (vocabulary(p), &b.provider_status) {
                    (None, None) => Status::Available,
                    (None, Some(raw)) => {
                        f.0.push(format!(
                            "{at}: provider_status {raw:?} from a vendor without one"
                        ));
                        continue;
                    }
                    (Some(_), None) => Status::Unknown,
                    (Some(table), Some(raw)) => table
                        .iter()
                        .find(|(v, _)| v.eq_ignore_ascii_case(raw.trim()))
                        .map_or(Status::Unknown, |(_, s)| *s),
                };
                f.check(b.status == want, || {
                    format!(
                        "{at}: status {} for {:?}, want {want}",
                        b.status, b.provider_status
                    )
                });
                // Only a backup that has not started yet may lack a time (Z.com sends "" for
                // a queued run).
                if fields.contains(&Field::CreatedAt) && b.status != Status::Creating {
                    f.check(b.created_at.is_some(), || format!("{at}: no created_at"));
                }
                let Value::Object(row) = serde_json::to_value(b).unwrap() else {
                    unreachable!("a row serialises to an object")
                };
                for (key, value) in row {
                    let empty = value.is_null() || value.as_object().is_some_and(Map::is_empty);
                    // `provider` and `account` are always filled (the capabilities omit them).
                    if !empty && !["provider", "account"].contains(&key.as_str()) {
                        f.check(fields.iter().any(|f| f.as_str() == key), || {
                            format!("{at}: {key} is filled but not in the capabilities")
                        });
                        filled.insert(key);
                    }
                }
            }
        }
        for field in fields
            .iter()
            .filter(|f| !NOT_IN_DEMO.contains(&(p, f.as_str())))
        {
            f.check(filled.contains(field.as_str()), || {
                format!("{p}: capabilities list {field}, but no demo row has it")
            });
        }
    }
    f.assert_none();
}

// ---------------------------------------------------------------------------------------------
// (c) faults lose nothing.

#[tokio::test]
async fn under_faults_healthy_accounts_list_exactly_the_rows_of_a_clean_run() {
    let (clean, faulty) = tokio::join!(emulator(None, false), emulator(None, true));
    let http = http();
    let healthy = |a: &Account| !a.name.ends_with("-badcreds") && !a.name.ends_with("-loop");
    let clean_accounts = clean.accounts().unwrap();
    let faulty_accounts: Vec<Account> = faulty
        .accounts()
        .unwrap()
        .into_iter()
        .filter(healthy)
        .collect();
    let want: BTreeMap<String, Vec<String>> = list(&http, &clean_accounts)
        .await
        .into_iter()
        .map(|r| {
            (
                r.account,
                normalised(&clean, &r.result.expect("clean run lists")),
            )
        })
        .collect();
    let got = list(&http, &faulty_accounts).await;
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let mine: Vec<&AccountResult> = got
            .iter()
            .filter(|r| {
                faulty_accounts
                    .iter()
                    .any(|a| a.name == r.account && a.provider() == p)
            })
            .collect();
        f.check(!mine.is_empty(), || {
            format!("{p}: no healthy account under faults")
        });
        for r in mine {
            match &r.result {
                Ok(rows) => {
                    let rows = normalised(&faulty, rows);
                    let want = &want[&r.account];
                    f.check(&rows == want, || {
                        let missing = want.iter().filter(|w| !rows.contains(w)).count();
                        let extra = rows.iter().filter(|g| !want.contains(g)).count();
                        format!(
                            "{}: {} rows under faults, {} clean ({missing} missing, {extra} extra or different)",
                            r.account,
                            rows.len(),
                            want.len()
                        )
                    });
                }
                Err(e) => f.0.push(format!("{}: failed under faults: {e}", r.account)),
            }
        }
    }
    // The faults happened: every listing URI fails once and some sessions expire, so the same
    // listings took more requests than in the clean run.
    let (clean_n, faulty_n) = (clean.shared().requests(), faulty.shared().requests());
    f.check(faulty_n > clean_n, || {
        format!("{faulty_n} requests under faults, {clean_n} clean: no fault was injected")
    });
    f.assert_none();
}

// ---------------------------------------------------------------------------------------------
// (d) bad credentials surface as one clear auth error.

/// The config keys that hold a secret (`docs/config.md#format`).
const SECRET_KEYS: [&str; 5] = [
    "password",
    "secret_key",
    "client_secret",
    "token",
    "api_key_secret",
];

/// The config with every inline secret replaced by a wrong one: (text, wrong secrets, right ones).
fn with_wrong_secrets(text: &str) -> (String, Vec<String>, Vec<String>) {
    let mut out = String::new();
    let mut wrong = Vec::new();
    let mut right = Vec::new();
    let mut account = String::new();
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("[accounts.")
            .and_then(|l| l.strip_suffix(']'))
        {
            account = name.to_string();
        }
        let key = line.split('=').next().unwrap_or("").trim();
        if SECRET_KEYS.contains(&key) && line.contains('=') {
            let value = line.split_once('=').unwrap().1.trim().trim_matches('"');
            right.push(value.to_string());
            let bad = format!("wrong-{account}-{key}-7f3a");
            out.push_str(&format!("{key} = \"{bad}\"\n"));
            wrong.push(bad);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    (out, wrong, right)
}

#[tokio::test]
async fn bad_credentials_fail_with_an_auth_error_naming_account_and_401() {
    let emu = emulator(None, false).await;
    let (text, wrong, right) = with_wrong_secrets(&emu.config_toml());
    let accounts = parse_config(&text);
    let http = http();
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let mine = of(&accounts, p);
        f.check(!mine.is_empty(), || format!("{p}: no demo account"));
        for r in list(&http, &mine).await {
            let Err(e) = &r.result else {
                f.0.push(format!("{}: listed with a wrong secret", r.account));
                continue;
            };
            let line = e.to_string();
            f.check(e.kind == ErrorKind::Auth, || {
                format!("{line}: kind {:?}, want Auth", e.kind)
            });
            f.check(line.starts_with(&format!("{}: ", r.account)), || {
                format!("{line}: does not start with the account")
            });
            f.check(line.contains("HTTP 401"), || format!("{line}: no HTTP 401"));
            f.check(
                e.request
                    .as_deref()
                    .is_some_and(|q| line.contains(q) && !q.contains('?')),
                || format!("{line}: no request path"),
            );
            let leaked: Vec<&String> = wrong
                .iter()
                .chain(&right)
                .filter(|s| line.contains(s.as_str()) || format!("{e:?}").contains(s.as_str()))
                .collect();
            f.check(leaked.is_empty(), || {
                format!("{line}: leaks a secret {leaked:?}")
            });
        }
    }
    f.assert_none();
}

// ---------------------------------------------------------------------------------------------
// (e) hostile servers: every bad body fails the account with one clear line, never a panic.

/// A provider and, for CF, which stage of its listing is hostile.
fn targets() -> Vec<(ProviderId, bool, String)> {
    ProviderId::ALL
        .into_iter()
        .flat_map(|p| {
            let mut t = vec![(p, false, p.to_string())];
            if p == ProviderId::Cf {
                t[0].2 = "cf (instances)".into();
                t.push((p, true, "cf (backups)".into()));
            }
            t
        })
        .collect()
}

#[tokio::test]
async fn hostile_bodies_fail_the_account_with_one_clear_line() {
    let emu = emulator(None, false).await;
    let http = small_http();
    let mut f = Failures::default();
    // case -> target -> outcome, printed as the table the report quotes.
    let mut table: Vec<(String, Vec<String>)> = Vec::new();
    for (label, case) in Case::hostile() {
        let mut row = Vec::new();
        for (p, cf_backups_only, target) in targets() {
            // A mutation the vendor has no field for does not apply.
            let probe_path = match (p, cf_backups_only) {
                (ProviderId::Oracle, _) => "/backupservice/v1/backup/",
                (ProviderId::Zcom, _) => "/v2/t/backup",
                (ProviderId::Huawei, _) => "/v3/p/backups",
                (ProviderId::Cf, false) => "/v3/service_instances",
                (ProviderId::Cf, true) => "/v3/service_instances/g/backups",
                (ProviderId::Bycloud, _) => "/v1/backups",
            };
            let mut probe = fair_listing(p, probe_path, "").unwrap();
            if !case.mutate(&mut probe) {
                row.push("n/a".to_string());
                continue;
            }
            let server = Server::start(p, case.clone(), cf_backups_only).await;
            let accounts = accounts_at(&emu, p, &server);
            let (kind, status) = case.expected();
            let results = list(&http, &accounts).await;
            let hostile_paths: Vec<String> = server
                .seen()
                .into_iter()
                .filter(|s| s.hostile)
                .map(|s| s.path)
                .collect();
            let mut outcome = String::new();
            for r in &results {
                let at = format!("{target} / {label} / {}", r.account);
                let e = match &r.result {
                    Ok(rows) => {
                        f.0.push(format!("{at}: Ok with {} rows", rows.len()));
                        outcome = "ACCEPTED".into();
                        continue;
                    }
                    Err(e) => e,
                };
                let line = e.to_string();
                let names_path = e.request.as_deref().is_some_and(|q| {
                    !q.contains('?')
                        && line.contains(q)
                        && hostile_paths.iter().any(|p| q == format!("GET {p}"))
                });
                f.check(e.kind == kind, || {
                    format!("{at}: kind {:?}, want {kind:?}: {line}", e.kind)
                });
                f.check(line.starts_with(&format!("{}: ", r.account)), || {
                    format!("{at}: does not name the account: {line}")
                });
                f.check(names_path, || {
                    format!("{at}: does not name the hostile request: {line}")
                });
                f.check(line.contains(&format!("HTTP {status}")), || {
                    format!("{at}: does not say HTTP {status}: {line}")
                });
                f.check(!line.contains('\n'), || format!("{at}: more than one line"));
                if outcome.is_empty() {
                    outcome = format!(
                        "{:?} {}",
                        e.kind,
                        e.status.map_or("-".into(), |s| s.to_string())
                    );
                }
            }
            f.check(!hostile_paths.is_empty(), || {
                format!("{target} / {label}: no hostile answer was served")
            });
            row.push(outcome);
        }
        table.push((label.to_string(), row));
    }
    print_table(&table);
    f.assert_none();
}

fn print_table(table: &[(String, Vec<String>)]) {
    let heads: Vec<String> = targets().into_iter().map(|t| t.2).collect();
    let mut out = format!(
        "| case | {} |\n|---|{}\n",
        heads.join(" | "),
        "---|".repeat(heads.len())
    );
    for (label, row) in table {
        out.push_str(&format!("| {label} | {} |\n", row.join(" | ")));
    }
    println!("{out}");
}

// ---------------------------------------------------------------------------------------------
// (f) redirects.

/// Headers that carry a credential or a signature in one of the five APIs.
fn credential_headers(h: &HeaderMap) -> Vec<String> {
    h.keys()
        .map(|k| k.as_str().to_ascii_lowercase())
        .filter(|k| {
            matches!(
                k.as_str(),
                "authorization" | "x-auth-token" | "cookie" | "x-api-key" | "x-security-token"
            ) || k.starts_with("x-sdk-")
        })
        .collect()
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_gets_no_credentials() {
    let emu = emulator(None, false).await;
    let http = small_http();
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let elsewhere = Server::start(p, Case::Fair, false).await;
        let server = Server::start(p, Case::Redirect(elsewhere.base.clone()), false).await;
        for r in list(&http, &accounts_at(&emu, p, &server)).await {
            match &r.result {
                Ok(_) => f.0.push(format!(
                    "{}: followed a redirect to another origin",
                    r.account
                )),
                Err(e) => {
                    let line = e.to_string();
                    f.check(e.kind == ErrorKind::Insecure, || {
                        format!("{line}: kind {:?}", e.kind)
                    });
                    f.check(line.starts_with(&format!("{}: ", r.account)), || {
                        format!("{line}: does not name the account")
                    });
                    f.check(line.contains("HTTP 302"), || format!("{line}: no HTTP 302"));
                }
            }
        }
        for s in elsewhere.seen() {
            let leaked = credential_headers(&s.headers);
            f.check(leaked.is_empty(), || {
                format!(
                    "{p}: {} {} reached the other origin with {leaked:?}",
                    s.method, s.path
                )
            });
        }
        f.check(
            server
                .seen()
                .iter()
                .any(|s| s.hostile && !credential_headers(&s.headers).is_empty()),
            || format!("{p}: the listing carried no credentials, so the test proves nothing"),
        );
    }
    f.assert_none();
}

#[tokio::test]
async fn a_login_redirected_to_another_origin_sends_it_no_credentials() {
    let emu = emulator(None, false).await;
    let (_, _, secrets) = with_wrong_secrets(&emu.config_toml());
    let http = small_http();
    let mut f = Failures::default();
    let mut logins_redirected = 0;
    for p in ProviderId::ALL {
        let elsewhere = Server::start(p, Case::Fair, false).await;
        let server = Server::start(p, Case::RedirectLogin(elsewhere.base.clone()), false).await;
        for r in list(&http, &accounts_at(&emu, p, &server)).await {
            // Static credentials (AK/SK, API keys, bearer tokens) make no login call and list.
            if let Err(e) = &r.result {
                let line = e.to_string();
                f.check(e.kind == ErrorKind::Insecure, || {
                    format!("{line}: kind {:?}", e.kind)
                });
                f.check(line.contains("HTTP 307"), || format!("{line}: no HTTP 307"));
            }
        }
        logins_redirected += server.seen().iter().filter(|s| s.hostile).count();
        for s in elsewhere.seen() {
            let body = String::from_utf8_lossy(&s.body);
            let leaked: Vec<&String> = secrets
                .iter()
                .filter(|x| body.contains(x.as_str()))
                .collect();
            f.0.push(format!(
                "{p}: {} {} reached the other origin (credential headers {:?}, secrets in the body {leaked:?})",
                s.method,
                s.path,
                credential_headers(&s.headers)
            ));
        }
    }
    f.check(logins_redirected > 0, || {
        "no login was redirected: the test proves nothing".into()
    });
    f.assert_none();
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed() {
    let emu = emulator(None, false).await;
    let http = small_http();
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        // The server sends its listing calls to its own `/redirected/…`, which answers fairly.
        let server = Server::start(p, Case::RedirectHere, false).await;
        for r in list(&http, &accounts_at(&emu, p, &server)).await {
            match &r.result {
                Ok(rows) => f.check(!rows.is_empty(), || format!("{}: no rows", r.account)),
                Err(e) => f.0.push(format!(
                    "{}: did not follow a same-origin redirect: {e}",
                    r.account
                )),
            }
        }
        let seen = server.seen();
        f.check(seen.iter().any(|s| s.hostile), || {
            format!("{p}: nothing was redirected")
        });
        f.check(
            seen.iter().any(|s| s.path.starts_with("/redirected/")),
            || format!("{p}: the redirect was not followed"),
        );
    }
    f.assert_none();
}

// ---------------------------------------------------------------------------------------------
// (g) 429 with each Retry-After form.

fn retry_after_seconds() -> String {
    "1".into()
}

fn retry_after_http_date() -> String {
    let at = Utc::now() + chrono::Duration::seconds(1);
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn retry_after_epoch() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (secs + 1).to_string()
}

async fn throttled_then_listed(form: fn() -> String) {
    let emu = emulator(None, false).await;
    let http = http();
    let servers = futures_util::future::join_all(
        ProviderId::ALL.map(|p| Server::start(p, Case::Throttle(form), false)),
    )
    .await;
    let runs = servers.iter().zip(ProviderId::ALL).map(|(server, p)| {
        let accounts = accounts_at(&emu, p, server);
        let http = &http;
        async move { (p, list(http, &accounts).await) }
    });
    let mut f = Failures::default();
    for ((p, results), server) in futures_util::future::join_all(runs)
        .await
        .into_iter()
        .zip(&servers)
    {
        for r in results {
            match &r.result {
                Ok(rows) => f.check(!rows.is_empty(), || format!("{}: no rows", r.account)),
                Err(e) => f.0.push(format!("{}: failed after a 429: {e}", r.account)),
            }
        }
        let seen = server.seen();
        let throttled: Vec<&Seen> = seen.iter().filter(|s| s.hostile).collect();
        f.check(throttled.len() == 1, || {
            format!("{p}: {} throttled answers", throttled.len())
        });
        if let Some(t) = throttled.first() {
            let again = seen
                .iter()
                .filter(|s| s.path == t.path && !s.hostile)
                .count();
            f.check(again >= 1, || format!("{p}: {} was not retried", t.path));
        }
    }
    f.assert_none();
}

#[tokio::test]
async fn a_429_with_retry_after_in_seconds_is_retried() {
    throttled_then_listed(retry_after_seconds).await;
}

#[tokio::test]
async fn a_429_with_retry_after_as_an_http_date_is_retried() {
    throttled_then_listed(retry_after_http_date).await;
}

#[tokio::test]
async fn a_429_with_retry_after_as_a_unix_epoch_is_retried() {
    throttled_then_listed(retry_after_epoch).await;
}

// ---------------------------------------------------------------------------------------------
// (h) hostile numbers, pages, nesting, paths and origins: each fails only its own account, with
// one line, and never the process; a healthy account listed in the same run keeps its rows.

/// A [`Case::Custom`] from a handler.
fn custom(h: impl Fn(&Ask<'_>) -> Option<(Duration, Response)> + Send + Sync + 'static) -> Case {
    Case::Custom(Arc::new(h))
}

/// A JSON answer with status 200, at once.
fn now_json(body: &Value) -> Option<(Duration, Response)> {
    Some((
        Duration::ZERO,
        json_response(StatusCode::OK, body.to_string().into_bytes()),
    ))
}

/// A server answering every listing call with its fair body edited by `edit` (when `edit`
/// applies to it: it says so); everything else fair.
fn edited(edit: fn(&mut Value) -> bool) -> Case {
    custom(move |ask| {
        let mut body = ask.fair.clone()?;
        edit(&mut body).then(|| now_json(&body)).flatten()
    })
}

/// Another provider's accounts, listing fairly from a server of their own: the healthy
/// neighbours of a hostile account.
async fn healthy_neighbours(emu: &Emulator, hostile: ProviderId) -> (Server, Vec<Account>) {
    let q = if hostile == ProviderId::Huawei {
        ProviderId::Bycloud
    } else {
        ProviderId::Huawei
    };
    let server = Server::start(q, Case::Fair, false).await;
    let accounts = accounts_at(emu, q, &server);
    (server, accounts)
}

/// What a hostile account must end with.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Listed, with this many rows.
    Rows(usize),
    /// Failed with this kind and a message containing this text.
    Fails(ErrorKind, &'static str),
}

/// Lists the accounts of `p` at `server` together with healthy neighbours, and checks each
/// hostile account against `expect` and every neighbour for its rows.
async fn hostile_run(
    emu: &Emulator,
    (p, server): (ProviderId, &Server),
    options: &ListOptions,
    expect: Expect,
    f: &mut Failures,
    label: &str,
) {
    let (_fair, neighbours) = healthy_neighbours(emu, p).await;
    let hostile = accounts_at(emu, p, server);
    let mut accounts = hostile.clone();
    accounts.extend(neighbours.iter().cloned());
    let results = run_all(&http(), &accounts, &Filter::default(), options).await;
    for r in &results {
        let at = format!("{p} / {label} / {}", r.account);
        if neighbours.iter().any(|a| a.name == r.account) {
            match &r.result {
                Ok(rows) => f.check(rows.len() == 1, || format!("{at}: {} rows", rows.len())),
                Err(e) => f.0.push(format!("{at}: a healthy neighbour failed: {e}")),
            }
            continue;
        }
        match (&r.result, expect) {
            (Ok(rows), Expect::Rows(n)) => f.check(rows.len() == n, || {
                format!("{at}: {} rows, want {n}", rows.len())
            }),
            (Err(e), Expect::Fails(kind, text)) => {
                let line = e.to_string();
                f.check(e.kind == kind, || {
                    format!("{at}: kind {:?}: {line}", e.kind)
                });
                f.check(line.contains(text), || {
                    format!("{at}: {line:?} lacks {text:?}")
                });
                f.check(line.starts_with(&format!("{}: ", r.account)), || {
                    format!("{at}: does not name the account: {line}")
                });
                f.check(!line.contains('\n') && line.len() < 400, || {
                    format!("{at}: not one short line: {line:?}")
                });
            }
            (Ok(rows), Expect::Fails(..)) => f.0.push(format!("{at}: listed {} rows", rows.len())),
            (Err(e), Expect::Rows(_)) => f.0.push(format!("{at}: failed: {e}")),
        }
    }
    f.check(server.seen().iter().any(|s| s.hostile), || {
        format!("{p} / {label}: no hostile answer was served")
    });
}

/// Sets `key` of the first item (descending through the vendors' lists) when present, or
/// always with `force`.
fn set_in_first(body: &mut Value, key: &str, value: Value, force: bool) -> bool {
    match first_item(body) {
        Some(item) if force || item.contains_key(key) => {
            item.insert(key.into(), value);
            true
        }
        _ => false,
    }
}

#[tokio::test]
async fn server_numbers_never_abort_the_run() {
    let emu = emulator(None, false).await;
    let defaults = ListOptions::default();
    let unlimited = ListOptions {
        max_pages: u64::MAX,
        ..ListOptions::default()
    };
    type Edit = fn(&mut Value) -> bool;
    let cases: Vec<(ProviderId, &str, Edit, &ListOptions, Expect)> = vec![
        // Huawei `count`: the total that once overflowed `pages + count`.
        (
            ProviderId::Huawei,
            "count u64::MAX",
            |b| set_top(b, "count", json!(u64::MAX)),
            &defaults,
            Expect::Fails(
                ErrorKind::Paging,
                "the server reports 18446744073709551615 rows, more than 100000 pages",
            ),
        ),
        (
            ProviderId::Huawei,
            "count u64::MAX, no page limit",
            |b| set_top(b, "count", json!(u64::MAX)),
            &unlimited,
            Expect::Rows(1),
        ),
        (
            ProviderId::Huawei,
            "count 2^63",
            |b| set_top(b, "count", json!(1u64 << 63)),
            &unlimited,
            Expect::Rows(1),
        ),
        (
            ProviderId::Huawei,
            "count 1e300",
            |b| set_top(b, "count", json!(1e300)),
            &defaults,
            Expect::Fails(ErrorKind::Protocol, "`count`: invalid type: floating point"),
        ),
        // Echoes of the request's offset and limit are not read.
        (
            ProviderId::Huawei,
            "offset and limit echoed absurdly",
            |b| set_top(b, "offset", json!(u64::MAX)) && set_top(b, "limit", json!(-1)),
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Huawei,
            "resource_size u64::MAX",
            |b| set_in_first(b, "resource_size", json!(u64::MAX), false),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "resource_size 18446744073709551615 GB does not fit in bytes",
            ),
        ),
        // ByCloud `meta`: only `has_more` and `marker` are read.
        (
            ProviderId::Bycloud,
            "meta.total u64::MAX",
            |b| set_meta(b, "total", json!(u64::MAX)),
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Bycloud,
            "meta.total -1",
            |b| set_meta(b, "total", json!(-1)),
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Bycloud,
            "meta.limit 0",
            |b| set_meta(b, "limit", json!(0)),
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Bycloud,
            "meta.limit 1e300",
            |b| set_meta(b, "limit", json!(1e300)),
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Bycloud,
            "meta.has_more \"yes\"",
            |b| set_meta(b, "has_more", json!("yes")),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "`meta`: invalid type: string \"yes\", expected a boolean",
            ),
        ),
        (
            ProviderId::Bycloud,
            "size u64::MAX",
            |b| set_in_first(b, "size", json!(u64::MAX), false),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "`size` 18446744073709551615 GiB does not fit in 64 bits of bytes",
            ),
        ),
        // CF `pagination` totals are not read; `created_at` integers are times or errors.
        (
            ProviderId::Cf,
            "total_results u64::MAX, total_pages -1",
            |b| match b.get_mut("pagination") {
                Some(p) => {
                    p["total_results"] = json!(u64::MAX);
                    p["total_pages"] = json!(-1);
                    true
                }
                None => false,
            },
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Cf,
            "created_at i64::MAX",
            |b| set_in_first(b, "created_at", json!(i64::MAX), false),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "created_at is out of range: 9223372036854775807",
            ),
        ),
        (
            ProviderId::Cf,
            "created_at i64::MIN",
            |b| set_in_first(b, "created_at", json!(i64::MIN), false),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "created_at is out of range: -9223372036854775808",
            ),
        ),
        (
            ProviderId::Cf,
            "created_at u64::MAX",
            |b| set_in_first(b, "created_at", json!(u64::MAX), false),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "created_at is not an integer Unix time: 18446744073709551615",
            ),
        ),
        (
            ProviderId::Cf,
            "created_at -1",
            |b| set_in_first(b, "created_at", json!(-1), false),
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Cf,
            "created_at 10^12 - 1",
            |b| set_in_first(b, "created_at", json!(999_999_999_999i64), false),
            &defaults,
            Expect::Rows(1),
        ),
        // Oracle sizes: the largest that fits, and one past it.
        (
            ProviderId::Oracle,
            "snapshotSize 2^64-1 b",
            |b| set_in_first(b, "snapshotSize", json!("18446744073709551615b"), false),
            &defaults,
            Expect::Rows(1),
        ),
        (
            ProviderId::Oracle,
            "snapshotSize 2^64 b",
            |b| set_in_first(b, "snapshotSize", json!("18446744073709551616b"), false),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "snapshotSize `18446744073709551616b` is too large",
            ),
        ),
        (
            ProviderId::Oracle,
            "snapshotSize 2^34 G",
            |b| set_in_first(b, "snapshotSize", json!("17179869184G"), false),
            &defaults,
            Expect::Fails(
                ErrorKind::Protocol,
                "snapshotSize `17179869184G` is too large",
            ),
        ),
    ];
    let mut f = Failures::default();
    for (p, label, edit, options, expect) in cases {
        let server = Server::start(p, edited(edit), true).await;
        hostile_run(&emu, (p, &server), options, expect, &mut f, label).await;
    }
    f.assert_none();
}

/// Sets a top-level key of a listing body that has `backups` (Huawei, ByCloud, CF).
fn set_top(body: &mut Value, key: &str, value: Value) -> bool {
    match body.as_object_mut() {
        Some(obj) if obj.contains_key("backups") => {
            obj.insert(key.into(), value);
            true
        }
        _ => false,
    }
}

/// Sets a key of ByCloud's `meta`.
fn set_meta(body: &mut Value, key: &str, value: Value) -> bool {
    match body.get_mut("meta").and_then(Value::as_object_mut) {
        Some(meta) => {
            meta.insert(key.into(), value);
            true
        }
        None => false,
    }
}

#[tokio::test]
async fn a_token_expiring_at_the_ends_of_the_calendar_is_used_not_overflowed() {
    let emu = emulator(None, false).await;
    let mut f = Failures::default();
    for expires in [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "+262143-12-31T23:59:59Z",
    ] {
        let server = Server::start(
            ProviderId::Zcom,
            custom(move |ask| {
                (ask.method == Method::POST && ask.path == "/v2.0/tokens").then(|| {
                    let body = json!({"access": {
                        "token": {"id": "hostile-token", "expires": expires},
                        "serviceCatalog": [{"type": "compute", "endpoints": [
                            {"region": "tyo1", "publicURL": format!("{}/v2/t", ask.base)}
                        ]}]
                    }});
                    now_json(&body)
                })?
            }),
            false,
        )
        .await;
        let options = ListOptions::default();
        hostile_run(
            &emu,
            (ProviderId::Zcom, &server),
            &options,
            Expect::Rows(1),
            &mut f,
            expires,
        )
        .await;
    }
    f.assert_none();
}

/// A listing body of `n` tiny rows (ids `0`, `1`, …) in the vendor's shape.
fn tiny_rows(p: ProviderId, n: usize) -> String {
    let ids = |key: &str| {
        (0..n)
            .map(|i| format!("{{\"{key}\":\"{i}\"}}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match p {
        ProviderId::Oracle => format!("{{\"result\":[{}]}}", ids("name")),
        ProviderId::Zcom => format!(
            "{{\"backup\":[{{\"id\":\"g\",\"backupruns\":[{}]}}]}}",
            ids("backuprun_id")
        ),
        ProviderId::Huawei => format!("{{\"backups\":[{}],\"count\":{n}}}", ids("id")),
        ProviderId::Cf => format!("{{\"backups\":[{}]}}", ids("id")),
        ProviderId::Bycloud => format!(
            "{{\"backups\":[{}],\"meta\":{{\"has_more\":false}}}}",
            ids("id")
        ),
    }
}

/// A server whose first listing call answers `n` tiny rows (CF: its backups call).
fn many_tiny_rows(n: usize) -> Case {
    custom(move |ask| {
        ask.fair.as_ref()?;
        let first_page = !ask.query.contains("offset=") || ask.query.contains("offset=0");
        let cf_instances = ask.p == ProviderId::Cf && !ask.path.ends_with("/backups");
        (first_page && !cf_instances).then(|| {
            (
                Duration::ZERO,
                json_response(StatusCode::OK, tiny_rows(ask.p, n).into_bytes()),
            )
        })
    })
}

#[tokio::test]
async fn a_page_of_more_rows_than_a_page_may_hold_fails_only_its_account() {
    let emu = emulator(None, false).await;
    let options = ListOptions {
        max_page_rows: 1000,
        ..ListOptions::default()
    };
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let what = if p == ProviderId::Zcom {
            "backup runs"
        } else {
            "rows"
        };
        // Exactly at the cap lists; one more fails.
        let at_cap = Server::start(p, many_tiny_rows(1000), true).await;
        hostile_run(
            &emu,
            (p, &at_cap),
            &options,
            Expect::Rows(1000),
            &mut f,
            "1000 rows",
        )
        .await;
        let over = Server::start(p, many_tiny_rows(1001), true).await;
        let want: &'static str = if what == "rows" {
            "the page holds more than 1000 rows (the most one page may hold); stopped"
        } else {
            "the page holds more than 1000 backup runs (the most one page may hold); stopped"
        };
        hostile_run(
            &emu,
            (p, &over),
            &options,
            Expect::Fails(ErrorKind::Protocol, want),
            &mut f,
            "1001 rows",
        )
        .await;
    }
    f.assert_none();
}

#[tokio::test]
async fn a_page_over_the_memory_budget_fails_only_its_account() {
    let emu = emulator(None, false).await;
    let options = ListOptions {
        memory_budget: 512 << 10,
        ..ListOptions::default()
    };
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        // About 30 KiB of body, but 2,000 rows of several hundred bytes each once parsed.
        let server = Server::start(p, many_tiny_rows(2000), true).await;
        hostile_run(
            &emu,
            (p, &server),
            &options,
            Expect::Fails(
                ErrorKind::Protocol,
                "more than the memory budget for pages in progress (512 KiB); stopped",
            ),
            &mut f,
            "2000 tiny rows",
        )
        .await;
    }
    f.assert_none();
}

/// The fair body for a Huawei offset page of a listing of `n` rows, one a page, or for a
/// ByCloud marker page of `n` pages of one row each: ids `<prefix><index>`.
fn one_row_pages(ask: &Ask<'_>, n: u64, prefix: &str) -> Option<Value> {
    ask.fair.as_ref()?;
    let arg = |name: &str| {
        ask.query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    match ask.p {
        ProviderId::Huawei => {
            let offset: u64 = arg("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let rows: Vec<Value> = (offset < n)
                .then(|| json!({"id": format!("{prefix}{offset}"), "status": "available"}))
                .into_iter()
                .collect();
            Some(json!({"backups": rows, "count": n}))
        }
        ProviderId::Bycloud => {
            let at: u64 = arg("marker")
                .and_then(|m| m.strip_prefix(prefix).and_then(|i| i.parse::<u64>().ok()))
                .map_or(0, |i| i + 1);
            Some(json!({
                "backups": [{"id": format!("{prefix}{at}"), "status": "available"}],
                "meta": {"has_more": at + 1 < n}
            }))
        }
        _ => None,
    }
}

#[tokio::test]
async fn requests_in_flight_stay_within_the_shared_limit_across_accounts() {
    let emu = emulator(None, false).await;
    // Both Huawei demo accounts, 40 one-row pages each, 8 in parallel each: 16 at once
    // without the shared limit.
    let server = Server::start(
        ProviderId::Huawei,
        custom(|ask| {
            let body = one_row_pages(ask, 40, "r")?;
            Some((
                Duration::from_millis(5),
                json_response(StatusCode::OK, body.to_string().into_bytes()),
            ))
        }),
        false,
    )
    .await;
    let accounts = accounts_at(&emu, ProviderId::Huawei, &server);
    assert_eq!(accounts.len(), 2);
    let options = ListOptions {
        max_requests: 3,
        ..ListOptions::default()
    };
    let results = run_all(&http(), &accounts, &Filter::default(), &options).await;
    for r in &results {
        let rows = r
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", r.account));
        assert_eq!(rows.len(), 40, "{}", r.account);
    }
    let most = server.state.max_in_flight.load(Ordering::SeqCst);
    println!("at most {most} requests in flight at once (limit 3)");
    assert!(most <= 3, "{most} requests were in flight at once");
}

#[tokio::test]
async fn a_small_account_is_not_starved_by_a_large_one() {
    let emu = emulator(None, false).await;
    let delay = Duration::from_millis(5);
    let large = Server::start(
        ProviderId::Huawei,
        custom(move |ask| {
            let body = one_row_pages(ask, 300, "h")?;
            Some((
                delay,
                json_response(StatusCode::OK, body.to_string().into_bytes()),
            ))
        }),
        false,
    )
    .await;
    let small = Server::start(
        ProviderId::Bycloud,
        custom(move |ask| {
            let body = one_row_pages(ask, 6, "b")?;
            Some((
                delay,
                json_response(StatusCode::OK, body.to_string().into_bytes()),
            ))
        }),
        false,
    )
    .await;
    let mut accounts = of(
        &accounts_at(&emu, ProviderId::Huawei, &large),
        ProviderId::Huawei,
    );
    accounts.truncate(1);
    let mut bycloud = accounts_at(&emu, ProviderId::Bycloud, &small);
    bycloud.truncate(1);
    accounts.extend(bycloud);
    let options = ListOptions {
        max_requests: 2,
        ..ListOptions::default()
    };
    let results = run_all(&http(), &accounts, &Filter::default(), &options).await;
    let counts: Vec<usize> = results
        .iter()
        .map(|r| r.result.as_ref().map_or(0, Vec::len))
        .collect();
    assert_eq!(counts, [300, 6]);
    // Requests in the order they arrived: between two of the small account's, the large one
    // got at most a few of its `--parallel` turns, never a run of its 300 pages.
    let mut order: Vec<(std::time::Instant, bool)> = large
        .seen()
        .iter()
        .map(|s| (s.arrived, false))
        .chain(small.seen().iter().map(|s| (s.arrived, true)))
        .collect();
    order.sort();
    let mut longest = 0;
    let mut run = 0;
    let mut started = false;
    for (_, is_small) in &order {
        if *is_small {
            if started {
                longest = longest.max(run);
            }
            started = true;
            run = 0;
        } else {
            run += 1;
        }
    }
    println!("the small account waited behind at most {longest} requests of the large one");
    assert!(
        longest <= 2 * options.parallel,
        "the small account waited behind {longest} requests of the large one"
    );
}

/// The placeholder replaced by a deeply nested value after serialising.
const DEEP_MARK: &str = "@@DEEP@@";

#[tokio::test]
async fn a_value_nested_100000_deep_fails_every_provider_alike() {
    let emu = emulator(None, false).await;
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let deep = deep.clone();
        let case = custom(move |ask| {
            let mut body = ask.fair.clone()?;
            let cf_instances = ask.p == ProviderId::Cf && !ask.path.ends_with("/backups");
            if cf_instances || !set_in_first(&mut body, "deep", json!(DEEP_MARK), true) {
                return None;
            }
            let text = body.to_string().replace(&format!("\"{DEEP_MARK}\""), &deep);
            Some((
                Duration::ZERO,
                json_response(StatusCode::OK, text.into_bytes()),
            ))
        });
        let server = Server::start(p, case, true).await;
        let options = ListOptions::default();
        hostile_run(
            &emu,
            (p, &server),
            &options,
            Expect::Fails(
                ErrorKind::Protocol,
                "field `deep` nests deeper than 64 levels",
            ),
            &mut f,
            "100,000 deep",
        )
        .await;
    }
    f.assert_none();
}

/// The demo Huawei account with AK/SK and no project id: it is looked up from IAM by region.
fn huawei_looking_up_its_project(base: &str) -> Vec<Account> {
    parse_config(&format!(
        "[accounts.hw-lookup]\nprovider = \"huawei\"\nregion = \"ap-southeast-1\"\nendpoint = \"{base}\"\niam_endpoint = \"{base}\"\naccess_key = \"AK\"\nsecret_key = \"SK\"\n\
         [accounts.hw-password]\nprovider = \"huawei\"\nregion = \"ap-southeast-1\"\nendpoint = \"{base}\"\niam_endpoint = \"{base}\"\nuser = \"u\"\npassword = \"p\"\ndomain = \"d\"\n"
    ))
}

#[tokio::test]
async fn a_project_id_from_iam_is_checked_and_never_becomes_another_path() {
    let mut f = Failures::default();
    for id in [
        "../../../evil",
        "x?inject=1#",
        "\u{1b}[2Kok%2F..",
        "0605767b5780d5762fc5c0118072a56",
    ] {
        let server = Server::start(
            ProviderId::Huawei,
            custom(move |ask| match (ask.method.as_str(), ask.path) {
                ("GET", "/v3/projects") => {
                    now_json(&json!({"projects": [{"id": id, "name": "ap-southeast-1"}]}))
                }
                ("POST", "/v3/auth/tokens") => Some((
                    Duration::ZERO,
                    (
                        StatusCode::CREATED,
                        [("x-subject-token", "hostile-iam-token")],
                        axum::Json(json!({"token": {"project": {"id": id}}})),
                    )
                        .into_response(),
                )),
                _ => None,
            }),
            false,
        )
        .await;
        let accounts = huawei_looking_up_its_project(&server.base);
        let results = list(&http(), &accounts).await;
        for r in &results {
            let at = format!("{id:?} / {}", r.account);
            match &r.result {
                Ok(_) => f.0.push(format!("{at}: listed")),
                Err(e) => {
                    let line = e.to_string();
                    f.check(e.kind == ErrorKind::Protocol, || {
                        format!("{at}: {:?}: {line}", e.kind)
                    });
                    f.check(line.contains("is not a project id (32 hex digits)"), || {
                        format!("{at}: {line}")
                    });
                    f.check(!line.contains('\u{1b}'), || {
                        format!("{at}: raw ESC in {line:?}")
                    });
                }
            }
        }
        // Nothing but IAM was asked: no listing under any path the id could make.
        for s in server.seen() {
            f.check(
                s.path.starts_with("/v3/projects") || s.path == "/v3/auth/tokens",
                || format!("{id:?}: a request went to {}", s.path),
            );
        }
    }
    f.assert_none();
}

#[tokio::test]
async fn a_redirect_loop_within_the_origin_is_not_called_another_origin() {
    let emu = emulator(None, false).await;
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        let server = Server::start(
            p,
            custom(|ask| {
                ask.fair.as_ref()?;
                let hop: u32 = ask
                    .query
                    .rsplit("hop=")
                    .next()
                    .and_then(|h| h.parse().ok())
                    .unwrap_or(0);
                let location = format!("{}?hop={}", ask.path, hop + 1);
                Some((
                    Duration::ZERO,
                    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
                ))
            }),
            false,
        )
        .await;
        let options = ListOptions::default();
        hostile_run(
            &emu,
            (p, &server),
            &options,
            Expect::Fails(
                ErrorKind::Protocol,
                "stopped after 5 redirects within the origin",
            ),
            &mut f,
            "redirect loop",
        )
        .await;
        // At least one whole chain: the first try and 5 followed hops (CF's parallel instance
        // calls may be cut short once one of them has failed the account).
        let hops = server.seen().iter().filter(|s| s.hostile).count();
        f.check(hops >= 6, || format!("{p}: {hops} redirects answered"));
    }
    f.assert_none();
}

#[tokio::test]
async fn a_next_link_to_another_port_is_refused_naming_the_port() {
    let emu = emulator(None, false).await;
    let elsewhere = Server::start(ProviderId::Cf, Case::Fair, false).await;
    let port = elsewhere.port();
    let server = Server::start(
        ProviderId::Cf,
        custom(move |ask| {
            let mut body = ask.fair.clone()?;
            let page = body.get_mut("pagination")?;
            page["next"] =
                json!({"href": format!("http://127.0.0.1:{port}/v3/service_instances?page=2")});
            now_json(&body)
        }),
        false,
    )
    .await;
    let want = format!(
        "cf-demo: GET /v3/service_instances: HTTP 200: pagination.next points to another origin (http://127.0.0.1:{port}); not sending the token there"
    );
    for r in list(&http(), &accounts_at(&emu, ProviderId::Cf, &server)).await {
        match r.account.as_str() {
            // It lists every instance it can see, so it follows `next`.
            "cf-demo" => {
                let e = r.result.unwrap_err();
                assert_eq!(e.kind, ErrorKind::Insecure);
                assert_eq!(e.to_string(), want);
            }
            // It lists only its configured instances: no instance pages.
            _ => assert!(r.result.is_ok(), "{}: {:?}", r.account, r.result),
        }
    }
    assert!(elsewhere.seen().is_empty(), "the other port was asked");
}

#[tokio::test]
async fn a_login_or_compute_url_off_the_configured_site_gets_no_credentials() {
    let emu = emulator(None, false).await;
    let mut f = Failures::default();
    // CF: GET / names a login server on another domain; Z.com: the catalog names a compute
    // endpoint there. Neither is contacted (it does not resolve anyway).
    let cf = Server::start(
        ProviderId::Cf,
        custom(|ask| {
            (ask.method == Method::GET && ask.path == "/").then(|| {
                now_json(&json!({"links": {"login": {"href": "https://login.evil.example"}}}))
            })?
        }),
        false,
    )
    .await;
    let options = ListOptions::default();
    let mut results = run_all(
        &http(),
        &accounts_at(&emu, ProviderId::Cf, &cf),
        &Filter::default(),
        &options,
    )
    .await;
    let zcom = Server::start(
        ProviderId::Zcom,
        custom(|ask| {
            (ask.method == Method::POST && ask.path == "/v2.0/tokens").then(|| {
                now_json(&json!({"access": {
                    "token": {"id": "hostile-token", "expires": "2099-01-01T00:00:00Z"},
                    "serviceCatalog": [{"type": "compute", "endpoints": [
                        {"region": "tyo1", "publicURL": "https://compute.evil.example/v2/t"}
                    ]}]
                }}))
            })?
        }),
        false,
    )
    .await;
    results.extend(
        run_all(
            &http(),
            &accounts_at(&emu, ProviderId::Zcom, &zcom),
            &Filter::default(),
            &options,
        )
        .await,
    );
    let mut refused = 0;
    for r in &results {
        if let Err(e) = &r.result {
            let line = e.to_string();
            f.check(e.kind == ErrorKind::Insecure, || {
                format!("{line}: {:?}", e.kind)
            });
            f.check(
                line.contains("which is not on the API's domain (127.0.0.1); set `uaa` to trust it")
                    || line.contains("which is not on the identity endpoint's domain (127.0.0.1); set `compute_endpoint` to trust it"),
                || format!("{}: {line}", r.account),
            );
            refused += 1;
        }
    }
    // CF's password and client accounts, and Z.com's catalog account (the other has a
    // compute endpoint from its region, so it asks no catalog).
    f.check(refused == 3, || {
        format!("{refused} accounts refused: {results:?}")
    });
    // The CF accounts sent no credentials anywhere: only `GET /` was asked.
    for s in cf.seen() {
        f.check(
            credential_headers(&s.headers).is_empty() && s.body.is_empty(),
            || format!("CF: {} {} carried credentials", s.method, s.path),
        );
    }
    f.assert_none();
}

#[tokio::test]
async fn a_pinned_uaa_is_used_without_asking_the_api_for_one() {
    let emu = emulator(None, false).await;
    let api = Server::start(ProviderId::Cf, Case::Fair, false).await;
    let uaa = Server::start(ProviderId::Cf, Case::Fair, false).await;
    let text = config_pointing_at(&emu, api.port());
    let text = text.replace(
        "provider = \"cf\"\n",
        &format!("provider = \"cf\"\nuaa = \"{}/login\"\n", uaa.base),
    );
    let accounts = of(&parse_config(&text), ProviderId::Cf);
    for r in list(&http(), &accounts).await {
        let rows = r.result.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
    }
    assert!(api
        .seen()
        .iter()
        .all(|s| s.path != "/" && !s.path.contains("oauth")));
    let logins: Vec<String> = uaa
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        logins,
        ["POST /login/oauth/token", "POST /login/oauth/token"]
    );
}

#[tokio::test]
async fn accounts_still_listing_at_the_deadline_fail_and_the_others_are_kept() {
    let emu = emulator(None, false).await;
    let mut f = Failures::default();
    for p in ProviderId::ALL {
        // Every listing call hangs for an hour.
        let server = Server::start(
            p,
            custom(|ask| {
                ask.fair.as_ref()?;
                Some((Duration::from_secs(3600), html(StatusCode::OK)))
            }),
            false,
        )
        .await;
        let options = ListOptions {
            deadline: backups::providers::Deadline::after(Duration::from_millis(1500)),
            ..ListOptions::default()
        };
        hostile_run(
            &emu,
            (p, &server),
            &options,
            Expect::Fails(
                ErrorKind::Timeout,
                "still listing at the run's deadline (1500 ms); stopped",
            ),
            &mut f,
            "hanging",
        )
        .await;
    }
    f.assert_none();
}

// ---------------------------------------------------------------------------------------------
// The remaining pages are asked for while the first one is still arriving.

/// A Huawei ListBackups server of `total` rows (ids `b-00000`, …) that serves at most `cap`
/// rows a page, whatever the limit. Page 0 sends its first bytes (`{"count": total, …` and
/// half its rows), then holds the rest until a request for another offset arrives (at most
/// 5 s): whether one did is `early`.
struct Staggered {
    base: String,
    early: Arc<std::sync::atomic::AtomicBool>,
    offsets: Arc<Mutex<Vec<u64>>>,
    task: JoinHandle<()>,
}

impl Drop for Staggered {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn staggered(total: u64, cap: u64) -> Staggered {
    #[derive(Clone)]
    struct St {
        total: u64,
        cap: u64,
        other: Arc<tokio::sync::Notify>,
        early: Arc<std::sync::atomic::AtomicBool>,
        offsets: Arc<Mutex<Vec<u64>>>,
    }
    fn rows(from: u64, to: u64) -> String {
        (from..to)
            .map(|i| {
                format!(
                    r#"{{"id":"b-{i:05}","status":"available","resource_id":"r-{}"}}"#,
                    i % 7
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }
    async fn page(State(st): State<St>, req: Request) -> Response {
        let query = req.uri().query().unwrap_or("").to_string();
        let param = |k: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse::<u64>().ok())
        };
        let offset = param("offset").unwrap_or(0);
        let limit = param("limit").unwrap_or(1000).min(st.cap);
        st.offsets.lock().unwrap().push(offset);
        let end = offset
            .saturating_add(limit)
            .min(st.total)
            .max(offset.min(st.total));
        let start = offset.min(st.total);
        if offset != 0 {
            st.other.notify_one();
            let body = format!(
                r#"{{"count":{},"backups":[{}]}}"#,
                st.total,
                rows(start, end)
            );
            return json_response(StatusCode::OK, body.into_bytes());
        }
        let half = (end / 2).max(1);
        let head = format!(r#"{{"count":{},"backups":[{}"#, st.total, rows(0, half));
        let tail_rows = rows(half, end);
        let sep = if tail_rows.is_empty() { "" } else { "," };
        let tail = format!("{sep}{tail_rows}]}}");
        let rest = async move {
            let waited = tokio::time::timeout(Duration::from_secs(5), st.other.notified()).await;
            st.early.store(waited.is_ok(), Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(Bytes::from(tail))
        };
        let stream = futures_util::StreamExt::chain(
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(head))]),
            futures_util::stream::once(rest),
        );
        (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(stream),
        )
            .into_response()
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let early = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let offsets = Arc::new(Mutex::new(Vec::new()));
    let st = St {
        total,
        cap,
        other: Arc::new(tokio::sync::Notify::new()),
        early: early.clone(),
        offsets: offsets.clone(),
    };
    let router = Router::new().fallback(page).with_state(st);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Staggered {
        base,
        early,
        offsets,
        task,
    }
}

/// The ids a Huawei account at `base` lists (AK/SK, project id given: no IAM call).
async fn staggered_ids(base: &str) -> Vec<String> {
    let accounts = parse_config(&format!(
        "[accounts.staggered]\nprovider = \"huawei\"\nregion = \"ap-southeast-1\"\nendpoint = \"{base}\"\nproject_id = \"0123456789abcdef0123456789abcdef\"\naccess_key = \"HPUASTAGGERED0000001\"\nsecret_key = \"staggered-secret-key-0000000000000000000\"\n"
    ));
    let results = run_all(
        &http(),
        &accounts,
        &Filter::default(),
        &ListOptions::default(),
    )
    .await;
    let rows = results[0].result.as_ref().expect("the account lists");
    rows.iter().map(|r| r.id.clone()).collect()
}

#[tokio::test]
async fn the_remaining_pages_are_asked_for_while_the_first_is_still_arriving() {
    let server = staggered(3000, 1000).await;
    let ids = staggered_ids(&server.base).await;
    let want: Vec<String> = (0..3000).map(|i| format!("b-{i:05}")).collect();
    assert_eq!(ids, want);
    assert!(
        server.early.load(Ordering::SeqCst),
        "no other page was asked for before the first one ended"
    );
    let mut offsets = server.offsets.lock().unwrap().clone();
    offsets.sort_unstable();
    assert_eq!(offsets, [0, 1000, 2000, 3000]);
}

#[tokio::test]
async fn a_first_page_shorter_than_asked_drops_the_early_pages_and_lists_every_row_once() {
    // The server serves 400 rows a page though 1000 were asked for: the offsets asked for
    // early (1000, 2000, …) would leave gaps, so they are dropped and the listing goes on
    // from the first page's real length.
    let server = staggered(2000, 400).await;
    let ids = staggered_ids(&server.base).await;
    let want: Vec<String> = (0..2000).map(|i| format!("b-{i:05}")).collect();
    assert_eq!(ids, want);
    let offsets = server.offsets.lock().unwrap().clone();
    for o in [400, 800, 1200, 1600, 2000] {
        assert!(
            offsets.contains(&o),
            "offset {o} was never asked for: {offsets:?}"
        );
    }
}
