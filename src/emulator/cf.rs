//! Emulator of the Cloud Foundry side that lists OSMAPI backups
//! (`docs/providers/cf.md#what-the-emulator-imitates` and `docs/emulator.md#fidelity`): the Cloud
//! Controller root (`GET /`), UAA's token endpoint (served under both the `login` and `uaa` links),
//! the CC v3 service-instance list with `page`/`per_page`, and "List Service Instance Backups". The
//! Python `cloudfoundry-client` works against it unchanged.
//!
//! Instances hold backups, hold none (`empty-pg`: its backups call answers 200 with an empty
//! list) or belong to an offering without backups (`logs-rabbitmq`: 422). On later days
//! ([`super::Timeline`]) each instance with a schedule gets a daily backup and drops its oldest.
//!
//! Besides the vendor API, two emulator-only routes under `/_emulator/` let tests expire
//! sessions on demand: `POST /_emulator/revoke?after=N` makes every access token issued so far
//! invalid after N more uses (0 = now; refresh tokens stay valid), and `GET /_emulator/stats`
//! counts the grants served by type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use reqwest::Url;
use serde_json::{json, Value};

use super::faults::Vendor;
use super::{bulk_numbers, fresh, plan, ApiCtx, EmulatorOptions, Rng, Timeline};

/// UAA's `cf` client: public, empty secret.
const CF_CLIENT: &str = "cf";
/// The demo user of `cf-demo` (password grant).
const DEMO_USER: &str = "admin";
const DEMO_PASSWORD: &str = "cf-demo-password";
/// The demo client of `cf-demo-client` (client_credentials grant).
const DEMO_CLIENT_ID: &str = "backups-demo";
const DEMO_CLIENT_SECRET: &str = "cf-demo-client-secret";
/// Access token lifetime: the `cf` client's default in UAA (12 h, minus a second).
const TOKEN_TTL: Duration = Duration::from_secs(43_199);
/// With `--faults`, an access token dies after this many uses (an expiring session): fewer
/// than a demo listing makes, so every listing meets one expiry, and as many as a client's
/// default parallelism, so the calls in flight when it dies can all be retried with the next.
const FAULT_TOKEN_USES: u32 = 8;
/// CC's page size default and maximum.
const DEFAULT_PER_PAGE: usize = 50;
const MAX_PER_PAGE: usize = 5000;

/// Who a token belongs to: the index of a demo account (its user or its client); each sees
/// its own space's instances.
type Principal = usize;

/// The default demo's user `admin` (account `cf-demo`).
const USER: Principal = 0;
/// The default demo's client `backups-demo` (account `cf-demo-client`).
const CLIENT: Principal = 1;

/// How a demo account logs in.
enum Login {
    /// Password grant through the public `cf` client.
    Password { username: String, password: String },
    /// Client credentials grant.
    Client { id: String, secret: String },
}

/// A demo account: its config name, login, and the instances it names in its config.
struct DemoAccount {
    name: String,
    login: Login,
    /// `service_instances` of its config (empty: every visible instance).
    configured: Vec<String>,
}

/// The demo accounts: `cf-demo` (password) and `cf-demo-client` (client credentials, two
/// configured instances), or the generated ones of `accounts` (password and client in turn).
fn demo_accounts(options: &EmulatorOptions) -> Vec<DemoAccount> {
    let Some(numbers) = bulk_numbers(options, Vendor::Cf) else {
        return vec![
            DemoAccount {
                name: "cf-demo".into(),
                login: Login::Password {
                    username: DEMO_USER.into(),
                    password: DEMO_PASSWORD.into(),
                },
                configured: Vec::new(),
            },
            DemoAccount {
                name: "cf-demo-client".into(),
                login: Login::Client {
                    id: DEMO_CLIENT_ID.into(),
                    secret: DEMO_CLIENT_SECRET.into(),
                },
                configured: client_configured_guids(),
            },
        ];
    };
    numbers
        .into_iter()
        .enumerate()
        .map(|(j, k)| DemoAccount {
            name: format!("cf-demo-{k:03}"),
            login: if j % 2 == 0 {
                Login::Password {
                    username: format!("demo-user-{k:03}"),
                    password: format!("cf-demo-password-{k:03}"),
                }
            } else {
                Login::Client {
                    id: format!("backups-demo-{k:03}"),
                    secret: format!("cf-demo-client-secret-{k:03}"),
                }
            },
            configured: Vec::new(),
        })
        .collect()
}

/// The instances of each generated account: name, offering supports backups, `created_at`
/// sent in milliseconds, holds backups.
const BULK_INSTANCES: [(&str, bool, bool, bool); 6] = [
    ("app-db", true, false, true),
    ("cache-redis", true, true, true),
    ("queue-rabbitmq", false, false, false),
    ("search-es", true, false, true),
    ("files-pg", true, false, true),
    ("empty-pg", true, false, false),
];

/// A demo service instance.
struct Instance {
    guid: String,
    name: String,
    owner: Principal,
    space_guid: String,
    plan_guid: String,
    created_at: String,
    /// Whether its offering supports OSMAPI backups (else 422).
    backups_supported: bool,
    /// Backups as `(id, created_at as sent)`, oldest first.
    backups: Vec<(String, i64)>,
    /// The full `/backups` body, serialised once (large `--scale` runs serve it often).
    full_body: Bytes,
}

/// An issued access token.
struct AccessToken {
    principal: Principal,
    expires: Instant,
    /// Uses left before it is rejected (revocation and `--faults`); `None` = unlimited.
    uses_left: Option<u32>,
}

#[derive(Default)]
struct Tokens {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, Principal>,
    grants: HashMap<&'static str, u64>,
}

struct CfState {
    /// `http://127.0.0.1:PORT` (no trailing slash, like CC's links).
    root: String,
    accounts: Vec<DemoAccount>,
    instances: Vec<Instance>,
    by_guid: HashMap<String, usize>,
    tokens: Mutex<Tokens>,
    rng: Mutex<Rng>,
    faults: bool,
}

/// The demo instances: name, owner, offering supports backups, `created_at` sent in
/// milliseconds, holds some of its account's backups. Guids are derived from the names, so the demo
/// config can name them without the router.
const INSTANCES: [(&str, Principal, bool, bool, bool); 11] = [
    ("orders-db", USER, true, false, true),
    ("users-db", USER, true, false, true),
    ("sessions-redis", USER, true, true, true),
    ("logs-rabbitmq", USER, false, false, false),
    ("search-es", USER, true, false, true),
    ("empty-pg", USER, true, false, false),
    ("events-mongo", USER, true, true, true),
    ("billing-mysql", USER, true, false, true),
    ("reports-db", CLIENT, true, false, true),
    ("analytics-db", CLIENT, true, true, true),
    ("scratch-db", CLIENT, true, false, false),
];

/// Backups per demo account when `--scale` is not given.
const DEMO_BACKUPS_USER: usize = 36;
const DEMO_BACKUPS_CLIENT: usize = 12;

fn instance_guid(name: &str) -> String {
    Rng::seeded(&format!("cf-instance-{name}")).uuid()
}

/// The guids `cf-demo-client` is configured with (its explicit `service_instances`).
fn client_configured_guids() -> Vec<String> {
    vec![instance_guid("reports-db"), instance_guid("analytics-db")]
}

fn cc_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The instances of every account on `timeline`'s day, with their backups: day 0's spread
/// over each account's instances that hold some by `plan()` (dated from the anchor: one a day
/// per instance, the last one stale, the first one's newest recent), then each day after day 0
/// every holder but the stale one gets its daily backup and drops its oldest (rotation).
fn build_instances(
    accounts: &[DemoAccount],
    timeline: &Timeline,
    scale: Option<usize>,
    bulk: bool,
) -> Vec<Instance> {
    let anchor = timeline.anchor();
    let mut out: Vec<Instance> = Vec::new();
    // (instance index, sent in milliseconds) of each account's holders.
    let mut holders: Vec<Vec<(usize, bool)>> = vec![Vec::new(); accounts.len()];
    let table: Vec<(String, Principal, bool, bool, bool)> = if bulk {
        (0..accounts.len())
            .flat_map(|owner| {
                BULK_INSTANCES
                    .iter()
                    .map(move |&(name, supported, millis, holds)| {
                        (name.to_string(), owner, supported, millis, holds)
                    })
            })
            .collect()
    } else {
        INSTANCES
            .iter()
            .map(|&(name, owner, supported, millis, holds)| {
                (name.to_string(), owner, supported, millis, holds)
            })
            .collect()
    };
    for (i, (name, owner, supported, millis, holds)) in table.into_iter().enumerate() {
        // The default demo's guids depend on the name only, so its config can name them.
        let (guid, meta) = if bulk {
            let account = &accounts[owner].name;
            (
                Rng::seeded(&format!("cf-instance-{account}-{name}")).uuid(),
                format!("cf-instance-meta-{account}-{name}"),
            )
        } else {
            (instance_guid(&name), format!("cf-instance-meta-{name}"))
        };
        let mut rng = Rng::seeded(&meta);
        let created = anchor - chrono::Duration::days(120 + i as i64 * 3);
        if holds {
            holders[owner].push((out.len(), millis));
        }
        out.push(Instance {
            guid,
            name,
            owner,
            space_guid: Rng::seeded(&space_seed(accounts, owner, bulk)).uuid(),
            plan_guid: rng.uuid(),
            created_at: cc_time(created),
            backups_supported: supported,
            backups: Vec::new(),
            full_body: Bytes::new(),
        });
    }
    for (owner, account) in accounts.iter().enumerate() {
        let holders = &holders[owner];
        if holders.is_empty() {
            continue;
        }
        let default_n = match (bulk, owner) {
            (false, CLIENT) => DEMO_BACKUPS_CLIENT,
            _ => DEMO_BACKUPS_USER,
        };
        let n = scale.unwrap_or(default_n);
        // Milliseconds below 10^12 (before September 2001) would read as seconds on the
        // client (the unit is told apart by size): a real foundation has no such backups, and
        // a large `--scale` reaches that far back, so those are sent in seconds.
        let sent = |at: DateTime<Utc>, millis: bool| {
            let ms = at.timestamp_millis();
            if millis && ms >= 1_000_000_000_000 {
                ms
            } else {
                at.timestamp()
            }
        };
        let mut rng = Rng::seeded(&account.name);
        for p in plan(&account.name, anchor, n, holders.len(), 0) {
            let (idx, millis) = holders[p.resource];
            out[idx].backups.push((rng.uuid(), sent(p.created, millis)));
        }
        for f in fresh(&account.name, timeline, holders.len()) {
            let mut r = f.rng;
            let (idx, millis) = holders[f.resource];
            let backups = &mut out[idx].backups;
            if let Some(oldest) = (0..backups.len()).min_by_key(|&k| normalise_secs(backups[k].1)) {
                backups.remove(oldest);
            }
            backups.push((r.uuid(), sent(f.created, millis)));
        }
    }
    // scratch-db is visible to the client but not in its configured list: a couple of
    // backups that `cf-demo-client` must not show.
    if !bulk {
        if let Some(scratch) = out.iter_mut().find(|i| i.name == "scratch-db") {
            let mut rng = Rng::seeded("cf-scratch");
            for d in 1..=2 {
                scratch
                    .backups
                    .push((rng.uuid(), (anchor - chrono::Duration::days(d)).timestamp()));
            }
        }
    }
    for inst in &mut out {
        inst.backups.sort_by_key(|(_, at)| normalise_secs(*at));
        inst.full_body = Bytes::from(backups_body(&inst.backups, None).to_string());
    }
    out
}

/// The seed of an account's space guid (the default demo's are fixed by its history).
fn space_seed(accounts: &[DemoAccount], owner: Principal, bulk: bool) -> String {
    if bulk {
        format!("cf-space-{}", accounts[owner].name)
    } else if owner == USER {
        "cf-space-User".into()
    } else {
        "cf-space-Client".into()
    }
}

/// Seconds for ordering, whichever unit a value is in.
fn normalise_secs(at: i64) -> i64 {
    if at.unsigned_abs() >= 1_000_000_000_000 {
        at / 1000
    } else {
        at
    }
}

fn backups_body(backups: &[(String, i64)], limit: Option<usize>) -> Value {
    let n = limit.unwrap_or(backups.len()).min(backups.len());
    let items: Vec<Value> = backups[..n]
        .iter()
        .map(|(id, at)| json!({"id": id, "created_at": at}))
        .collect();
    json!({ "backups": items })
}

/// The API's routes.
pub(crate) fn router(ctx: ApiCtx) -> Router {
    let root = ctx.base.as_str().trim_end_matches('/').to_string();
    let options = &ctx.shared.options;
    let accounts = demo_accounts(options);
    let instances = build_instances(
        &accounts,
        &Timeline::of(options),
        options.scale,
        options.accounts.is_some(),
    );
    let by_guid = instances
        .iter()
        .enumerate()
        .map(|(i, inst)| (inst.guid.clone(), i))
        .collect();
    let state = Arc::new(CfState {
        root,
        accounts,
        instances,
        by_guid,
        tokens: Mutex::new(Tokens::default()),
        rng: Mutex::new(Rng::seeded(&format!("cf-tokens-{}", ctx.base))),
        faults: ctx.shared.options.faults,
    });
    Router::new()
        .route("/", get(root_info))
        .route("/v3", get(v3_root))
        .route("/v3/", get(v3_root))
        .route("/v3/info", get(v3_info))
        .route("/login/oauth/token", post(token))
        .route("/uaa/oauth/token", post(token))
        .route("/v3/service_instances", get(list_instances))
        .route("/v3/service_instances/{guid}", get(get_instance))
        .route("/v3/service_instances/{guid}/backups", get(list_backups))
        .route("/_emulator/revoke", post(revoke))
        .route("/_emulator/stats", get(stats))
        .fallback(not_found_route)
        .with_state(state)
}

/// Demo accounts in config form (`docs/emulator.md#demo-accounts`).
pub(crate) fn demo_config(base: &Url, options: &EmulatorOptions) -> String {
    let api = base.as_str().trim_end_matches('/');
    let mut out = Vec::new();
    for a in demo_accounts(options) {
        let mut text = format!(
            "[accounts.{}]\nprovider = \"cf\"\napi = \"{api}\"\n",
            a.name
        );
        match &a.login {
            Login::Password { username, password } => text.push_str(&format!(
                "username = \"{username}\"\npassword = \"{password}\"\n"
            )),
            Login::Client { id, secret } => text.push_str(&format!(
                "client_id = \"{id}\"\nclient_secret = \"{secret}\"\n"
            )),
        }
        if !a.configured.is_empty() {
            let guids = a
                .configured
                .iter()
                .map(|g| format!("\"{g}\""))
                .collect::<Vec<_>>()
                .join(", ");
            text.push_str(&format!("service_instances = [{guids}]\n"));
        }
        out.push(text);
    }
    out.join("\n")
}

// ---- responses -------------------------------------------------------------------------

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// A CC v3 error document.
fn cc_error(status: StatusCode, code: u32, title: &str, detail: &str) -> Response {
    json_response(
        status,
        json!({"errors": [{"detail": detail, "title": title, "code": code}]}),
    )
}

/// UAA's OAuth error body.
fn uaa_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn invalid_token() -> Response {
    cc_error(
        StatusCode::UNAUTHORIZED,
        1000,
        "CF-InvalidAuthToken",
        "Invalid Auth Token",
    )
}

fn bad_query(detail: &str) -> Response {
    cc_error(
        StatusCode::BAD_REQUEST,
        10005,
        "CF-BadQueryParameter",
        &format!("The query parameter is invalid: {detail}"),
    )
}

fn instance_not_found() -> Response {
    cc_error(
        StatusCode::NOT_FOUND,
        10010,
        "CF-ResourceNotFound",
        "Service instance not found",
    )
}

async fn not_found_route() -> Response {
    cc_error(
        StatusCode::NOT_FOUND,
        10000,
        "CF-NotFound",
        "Unknown request",
    )
}

// ---- auth ------------------------------------------------------------------------------

/// Why CC refused a request's token.
enum Rejected {
    /// No `Authorization` header.
    NoToken,
    /// Unknown, expired or revoked token, or not a bearer token.
    BadToken,
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        match self {
            Rejected::NoToken => cc_error(
                StatusCode::UNAUTHORIZED,
                10002,
                "CF-NotAuthenticated",
                "Authentication error",
            ),
            Rejected::BadToken => invalid_token(),
        }
    }
}

impl CfState {
    /// The principal behind `Authorization: bearer <token>` (scheme case-insensitive), or the
    /// 401 CC sends.
    fn principal(&self, headers: &HeaderMap) -> Result<Principal, Rejected> {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(Rejected::NoToken);
        };
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Rejected::BadToken);
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let Some(t) = tokens.access.get_mut(token.trim()) else {
            return Err(Rejected::BadToken);
        };
        if Instant::now() >= t.expires {
            return Err(Rejected::BadToken);
        }
        match &mut t.uses_left {
            Some(0) => Err(Rejected::BadToken),
            Some(n) => {
                *n -= 1;
                Ok(t.principal)
            }
            None => Ok(t.principal),
        }
    }

    fn issue(&self, principal: Principal, grant: &'static str) -> Value {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let access = format!("cfemu-{}", rng.hex32());
        let refresh = format!("cfemu-{}-r", rng.hex32());
        let jti = rng.hex32();
        drop(rng);
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.access.insert(
            access.clone(),
            AccessToken {
                principal,
                expires: Instant::now() + TOKEN_TTL,
                uses_left: self.faults.then_some(FAULT_TOKEN_USES),
            },
        );
        tokens.refresh.insert(refresh.clone(), principal);
        *tokens.grants.entry(grant).or_default() += 1;
        let scope = match self.accounts[principal].login {
            Login::Password { .. } => {
                "openid cloud_controller.read cloud_controller.write uaa.user"
            }
            Login::Client { .. } => "cloud_controller.read cloud_controller.admin_read_only",
        };
        json!({
            "access_token": access,
            "token_type": "bearer",
            "id_token": Value::Null,
            "refresh_token": refresh,
            "expires_in": TOKEN_TTL.as_secs(),
            "scope": scope,
            "jti": jti,
        })
    }
}

/// `(id, secret)` from `Authorization: Basic …`.
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(b64.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Standard base64 (with or without padding); the emulator shares no code with the adapter.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// UAA `POST /oauth/token` (form-encoded): password, client_credentials and refresh_token.
async fn token(State(st): State<Arc<CfState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str);
    // The client authenticates with HTTP Basic and/or client_id + client_secret in the body.
    let client = basic_client(&headers).or_else(|| {
        field("client_id").map(|id| (id.to_string(), field("client_secret").unwrap_or("").into()))
    });
    // `None`: the public `cf` client, for users' password grants; `Some(p)`: account p's client.
    let client: Option<Option<Principal>> = match client {
        Some((id, secret)) if id == CF_CLIENT && secret.is_empty() => Some(None),
        Some((id, secret)) => match st.accounts.iter().position(
            |a| matches!(&a.login, Login::Client { id: i, secret: s } if *i == id && *s == secret),
        ) {
            Some(p) => Some(Some(p)),
            None => return uaa_error(StatusCode::UNAUTHORIZED, "unauthorized", "Bad credentials"),
        },
        None => None,
    };
    let Some(client) = client else {
        return uaa_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Full authentication is required to access this resource",
        );
    };
    match field("grant_type") {
        Some("password") => {
            if client.is_some() {
                return uaa_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Unauthorized grant type: password",
                );
            }
            let user = st.accounts.iter().position(|a| {
                matches!(&a.login, Login::Password { username, password }
                    if field("username") == Some(username.as_str())
                        && field("password") == Some(password.as_str()))
            });
            match user {
                Some(p) => json_response(StatusCode::OK, st.issue(p, "password")),
                None => uaa_error(StatusCode::UNAUTHORIZED, "unauthorized", "Bad credentials"),
            }
        }
        Some("client_credentials") => {
            let Some(p) = client else {
                return uaa_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Unauthorized grant type: client_credentials",
                );
            };
            json_response(StatusCode::OK, st.issue(p, "client_credentials"))
        }
        Some("refresh_token") => {
            let owner = {
                let tokens = st.tokens.lock().unwrap_or_else(|e| e.into_inner());
                field("refresh_token").and_then(|r| tokens.refresh.get(r).copied())
            };
            // A refresh token goes back through the client that got it: `cf` for a user's,
            // the account's own client for a client's.
            let same_client = |p: Principal| match client {
                Some(c) => c == p,
                None => matches!(st.accounts[p].login, Login::Password { .. }),
            };
            match owner {
                Some(p) if same_client(p) => {
                    json_response(StatusCode::OK, st.issue(p, "refresh_token"))
                }
                _ => uaa_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "Invalid refresh token (expired)",
                ),
            }
        }
        Some(other) => uaa_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Unsupported grant type: {other}"),
        ),
        None => uaa_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing grant type",
        ),
    }
}

// ---- Cloud Controller ------------------------------------------------------------------

/// `GET /`: every link an object with `href` (the Python client crashes on a null link).
async fn root_info(State(st): State<Arc<CfState>>) -> Response {
    let r = &st.root;
    let host = r.trim_start_matches("http://");
    json_response(
        StatusCode::OK,
        json!({"links": {
            "self": {"href": r},
            "bits_service": {"href": format!("{r}/bits")},
            "cloud_controller_v2": {"href": format!("{r}/v2"), "meta": {"version": "2.150.0"}},
            "cloud_controller_v3": {"href": format!("{r}/v3"), "meta": {"version": "3.85.0"}},
            "network_policy_v0": {"href": format!("{r}/networking/v0/external")},
            "network_policy_v1": {"href": format!("{r}/networking/v1/external")},
            "login": {"href": format!("{r}/login")},
            "uaa": {"href": format!("{r}/uaa")},
            "credhub": {"href": format!("{r}/credhub")},
            "routing": {"href": format!("{r}/routing")},
            "logging": {"href": format!("ws://{host}/doppler")},
            "log_cache": {"href": format!("{r}/log-cache")},
            "log_stream": {"href": format!("{r}/log-stream")},
            "app_ssh": {"href": format!("{host}"), "meta": {
                "host_key_fingerprint": "Y411oivJwZCUQnXHq83mdM5SKCK4ftyoSXI31RRe4Zs",
                "oauth_client": "ssh-proxy"}}
        }}),
    )
}

/// `GET /v3`: the v3 root's links.
async fn v3_root(State(st): State<Arc<CfState>>) -> Response {
    let r = &st.root;
    json_response(
        StatusCode::OK,
        json!({"links": {
            "self": {"href": format!("{r}/v3")},
            "service_instances": {"href": format!("{r}/v3/service_instances")},
        }}),
    )
}

/// `GET /v3/info`: platform details.
async fn v3_info(State(st): State<Arc<CfState>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "build": "backups-emulator",
            "cli_version": {"minimum": "", "recommended": ""},
            "custom": {},
            "description": "Cloud Foundry emulator of `backups`",
            "name": "backups-emulator",
            "version": 0,
            "osbapi_version": "2.15",
            "links": {"self": {"href": format!("{}/v3/info", st.root)}, "support": {"href": ""}},
        }),
    )
}

/// Query pairs, in order.
fn query_pairs(q: &Option<String>) -> Vec<(String, String)> {
    q.as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// Parameters of `GET /v3/service_instances` that CC knows; the emulator applies `page`,
/// `per_page`, `names`, `guids`, `space_guids` and `type` and accepts the rest without effect.
const LIST_PARAMS: [&str; 14] = [
    "page",
    "per_page",
    "order_by",
    "names",
    "guids",
    "space_guids",
    "organization_guids",
    "service_plan_guids",
    "service_plan_names",
    "type",
    "label_selector",
    "fields[space]",
    "fields[space.organization]",
    "fields[service_plan]",
];

fn instance_json(root: &str, inst: &Instance) -> Value {
    let self_href = format!("{root}/v3/service_instances/{}", inst.guid);
    json!({
        "guid": inst.guid,
        "created_at": inst.created_at,
        "updated_at": inst.created_at,
        "name": inst.name,
        "tags": [],
        "type": "managed",
        "maintenance_info": {"version": "1.0.0"},
        "upgrade_available": false,
        "dashboard_url": format!("{root}/dashboard/{}", inst.guid),
        "last_operation": {
            "type": "create",
            "state": "succeeded",
            "description": "Operation succeeded",
            "updated_at": inst.created_at,
            "created_at": inst.created_at,
        },
        "relationships": {
            "service_plan": {"data": {"guid": inst.plan_guid}},
            "space": {"data": {"guid": inst.space_guid}},
        },
        "metadata": {"labels": {}, "annotations": {}},
        "links": {
            "self": {"href": self_href},
            "service_plan": {"href": format!("{root}/v3/service_plans/{}", inst.plan_guid)},
            "space": {"href": format!("{root}/v3/spaces/{}", inst.space_guid)},
            "parameters": {"href": format!("{self_href}/parameters")},
            "shared_spaces": {"href": format!("{self_href}/relationships/shared_spaces")},
            "service_credential_bindings": {"href": format!("{root}/v3/service_credential_bindings?service_instance_guids={}", inst.guid)},
            "service_route_bindings": {"href": format!("{root}/v3/service_route_bindings?service_instance_guids={}", inst.guid)},
        },
    })
}

/// `GET /v3/service_instances`: CC v3 paging (`page` from 1, `per_page` 1–5000, default 50).
async fn list_instances(
    State(st): State<Arc<CfState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let principal = match st.principal(&headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let pairs = query_pairs(&q);
    let unknown: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !LIST_PARAMS.contains(k))
        .collect();
    if !unknown.is_empty() {
        let list = |v: &[&str]| {
            v.iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return bad_query(&format!(
            "Unknown query parameter(s): {}. Valid parameters are: {}",
            list(&unknown),
            list(&LIST_PARAMS)
        ));
    }
    let param = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let per_page = match param("per_page").map(str::parse::<usize>) {
        None => DEFAULT_PER_PAGE,
        Some(Ok(n)) if (1..=MAX_PER_PAGE).contains(&n) => n,
        Some(_) => return bad_query("Per page must be between 1 and 5000"),
    };
    let page = match param("page").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return bad_query("Page must be greater than 0"),
    };
    let list_filter = |k: &str| -> Option<Vec<&str>> { param(k).map(|v| v.split(',').collect()) };
    let names = list_filter("names");
    let guids = list_filter("guids");
    let spaces = list_filter("space_guids");
    let kind = param("type");
    let visible: Vec<&Instance> = st
        .instances
        .iter()
        .filter(|i| i.owner == principal)
        .filter(|i| names.as_ref().is_none_or(|n| n.contains(&i.name.as_str())))
        .filter(|i| guids.as_ref().is_none_or(|g| g.contains(&i.guid.as_str())))
        .filter(|i| {
            spaces
                .as_ref()
                .is_none_or(|s| s.contains(&i.space_guid.as_str()))
        })
        .filter(|_| kind.is_none_or(|k| k == "managed"))
        .collect();
    let total = visible.len();
    let total_pages = total.div_ceil(per_page).max(1);
    // Links keep the caller's other parameters (CC does), with page and per_page set.
    let kept: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    let link = |p: usize| {
        let mut u = Url::parse(&format!("{}/v3/service_instances", st.root)).expect("root URL");
        {
            let mut qp = u.query_pairs_mut();
            qp.append_pair("page", &p.to_string());
            qp.append_pair("per_page", &per_page.to_string());
            for (k, v) in &kept {
                qp.append_pair(k, v);
            }
        }
        json!({"href": u.as_str()})
    };
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let resources: Vec<Value> = visible[start..end]
        .iter()
        .map(|i| instance_json(&st.root, i))
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "pagination": {
                "total_results": total,
                "total_pages": total_pages,
                "first": link(1),
                "last": link(total_pages),
                "next": if page < total_pages { link(page + 1) } else { Value::Null },
                "previous": if page > 1 { link(page - 1) } else { Value::Null },
            },
            "resources": resources,
        }),
    )
}

/// The instance `guid` if `principal` can see it.
fn visible<'a>(st: &'a CfState, principal: Principal, guid: &str) -> Option<&'a Instance> {
    st.by_guid
        .get(guid)
        .map(|&i| &st.instances[i])
        .filter(|i| i.owner == principal)
}

/// `GET /v3/service_instances/{guid}`.
async fn get_instance(
    State(st): State<Arc<CfState>>,
    headers: HeaderMap,
    Path(guid): Path<String>,
) -> Response {
    let principal = match st.principal(&headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    match visible(&st, principal, &guid) {
        Some(inst) => json_response(StatusCode::OK, instance_json(&st.root, inst)),
        None => instance_not_found(),
    }
}

/// OSMAPI "List Service Instance Backups": `{"backups":[{"id","created_at":<int>}]}`, only
/// `limit`, no paging.
async fn list_backups(
    State(st): State<Arc<CfState>>,
    headers: HeaderMap,
    Path(guid): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let principal = match st.principal(&headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut limit = None;
    for (k, v) in query_pairs(&q) {
        match (k.as_str(), v.parse::<usize>()) {
            ("limit", Ok(n)) => limit = Some(n),
            ("limit", Err(_)) => return bad_query("Limit must be a non-negative integer"),
            (other, _) => {
                return bad_query(&format!(
                    "Unknown query parameter(s): '{other}'. Valid parameters are: 'limit'"
                ))
            }
        }
    }
    let Some(inst) = visible(&st, principal, &guid) else {
        return instance_not_found();
    };
    if !inst.backups_supported {
        return cc_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            10008,
            "CF-UnprocessableEntity",
            "The service offering does not support OSMAPI backups",
        );
    }
    let body = match limit {
        None => inst.full_body.clone(),
        Some(n) => Bytes::from(backups_body(&inst.backups, Some(n)).to_string()),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

// ---- emulator control (not CF API) ---------------------------------------------------

/// `POST /_emulator/revoke?after=N`: every access token issued so far is rejected after N
/// more uses (default 0: at once). Refresh tokens stay valid, as after an access-token expiry.
async fn revoke(State(st): State<Arc<CfState>>, RawQuery(q): RawQuery) -> Response {
    let after = query_pairs(&q)
        .into_iter()
        .find(|(k, _)| k == "after")
        .and_then(|(_, v)| v.parse::<u32>().ok())
        .unwrap_or(0);
    let mut tokens = st.tokens.lock().unwrap_or_else(|e| e.into_inner());
    let n = tokens.access.len();
    for t in tokens.access.values_mut() {
        t.uses_left = Some(t.uses_left.map_or(after, |u| u.min(after)));
    }
    json_response(StatusCode::OK, json!({"revoked": n, "after": after}))
}

/// `GET /_emulator/stats`: grants served, by grant type.
async fn stats(State(st): State<Arc<CfState>>) -> Response {
    let tokens = st.tokens.lock().unwrap_or_else(|e| e.into_inner());
    let grants: serde_json::Map<String, Value> = tokens
        .grants
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    json_response(StatusCode::OK, json!({"grants": grants}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Account, Settings};
    use crate::emulator::testing::{self, list_ok};
    use crate::emulator::Emulator;
    use crate::emulator::EmulatorOptions;
    use crate::error::ErrorKind;
    use crate::filter::Filter;
    use crate::http::{Http, HttpOptions};
    use crate::model::{Backup, ProviderId};
    use crate::providers::cf::Cf;
    use crate::providers::cf::{CfAuth, CfConfig};
    use crate::providers::{self, ListOptions, Provider, Run};
    use crate::secret::Secret;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
    }

    async fn start(scale: Option<usize>, faults: bool) -> (Emulator, Vec<Account>) {
        testing::start(ProviderId::Cf, now(), scale, faults).await
    }

    async fn default_emulator() -> (Emulator, Vec<Account>) {
        start(None, false).await
    }

    fn http() -> Http {
        Http::new(HttpOptions::default()).unwrap()
    }

    fn cf_config(account: &Account) -> CfConfig {
        match &account.settings {
            Settings::Cf(c) => c.clone(),
            _ => unreachable!("only cf accounts are kept"),
        }
    }

    /// A JSON body (reqwest is built without its `json` feature).
    fn to_json(body: &[u8]) -> Value {
        serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
    }

    fn guid(name: &str) -> String {
        instance_guid(name)
    }

    #[tokio::test]
    async fn lists_every_backup_of_both_demo_accounts() {
        let (_emu, accounts) = default_emulator().await;
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["cf-demo", "cf-demo-client"]);
        let rows = list_ok(&accounts, &Filter::default()).await;
        assert_eq!(rows[0].len(), DEMO_BACKUPS_USER);
        assert_eq!(rows[1].len(), DEMO_BACKUPS_CLIENT);

        // cf-demo: the instance without backup support (422) and the empty one give no rows,
        // without failing the account; six instances hold the backups.
        let mut per_instance: Vec<(String, usize)> = Vec::new();
        for r in &rows[0] {
            let name = r.resource_name.clone().unwrap();
            match per_instance.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => *c += 1,
                None => per_instance.push((name, 1)),
            }
        }
        assert_eq!(
            per_instance,
            [
                ("orders-db".to_string(), 6),
                ("users-db".to_string(), 6),
                ("sessions-redis".to_string(), 6),
                ("search-es".to_string(), 6),
                ("events-mongo".to_string(), 6),
                ("billing-mysql".to_string(), 6),
            ]
        );

        // cf-demo-client lists only its two configured instances, not scratch-db.
        let mut ids: Vec<String> = rows[1]
            .iter()
            .map(|r| r.resource_id.clone().unwrap())
            .collect();
        ids.dedup();
        assert_eq!(ids, client_configured_guids());
        assert!(rows[1]
            .iter()
            .all(|r| r.resource_name.as_deref() != Some("scratch-db")));
    }

    #[tokio::test]
    async fn maps_rows_exactly_with_seconds_and_milliseconds() {
        let (_emu, accounts) = default_emulator().await;
        let rows = list_ok(&accounts, &Filter::default()).await;
        let first_of = |name: &str| {
            rows[0]
                .iter()
                .find(|r| r.resource_name.as_deref() == Some(name))
                .unwrap()
        };
        // orders-db sends seconds: no fraction.
        let secs = serde_json::to_value(first_of("orders-db")).unwrap();
        assert_eq!(
            secs,
            json!({
                "provider": "cf", "account": "cf-demo", "id": "6079f030-fcf1-4f63-9253-9b1cdc4ee910", "name": null,
                "status": "available", "provider_status": null,
                "resource_type": "service_instance", "resource_id": guid("orders-db"),
                "resource_name": "orders-db", "size_bytes": null,
                "created_at": "2026-11-15T11:10:59Z", "updated_at": null, "expires_at": null,
                "incremental": null, "description": null, "location": null, "parent_id": null,
                "extra": {},
            })
        );
        // sessions-redis sends milliseconds: the fraction is kept.
        let ms = first_of("sessions-redis");
        assert_eq!(
            ms.created_at.unwrap().to_string(),
            "2026-11-15T10:36:59.849Z"
        );
        assert_eq!(
            ms.resource_id.as_deref(),
            Some(guid("sessions-redis").as_str())
        );
        // Every millisecond instance's times carry a fraction (or are whole seconds), and
        // every seconds instance's never do; all within the last few weeks (unit read right).
        for r in &rows[0] {
            let t = r.created_at.unwrap();
            let age = now() - t.utc();
            assert!(
                age > chrono::Duration::zero() && age < chrono::Duration::days(15),
                "{r:?}"
            );
            let millis_instance =
                ["sessions-redis", "events-mongo"].contains(&r.resource_name.as_deref().unwrap());
            if !millis_instance {
                assert!(!t.to_string().contains('.'), "{t}");
            }
        }
        assert!(rows[0]
            .iter()
            .filter(|r| r.resource_name.as_deref() == Some("events-mongo"))
            .any(|r| r.created_at.unwrap().to_string().contains('.')));
    }

    #[tokio::test]
    async fn the_resource_filter_matches_client_side_filtering() {
        // CF pushes no filter down; the shared client-side filter must still select exactly.
        let (_emu, accounts) = default_emulator().await;
        let all = list_ok(&accounts, &Filter::default()).await;
        for resource in ["users-db".to_string(), guid("users-db")] {
            let filter = Filter {
                resource: Some(resource.clone()),
                ..Default::default()
            };
            let got = list_ok(&accounts, &filter).await;
            let want: Vec<&Backup> = all[0].iter().filter(|r| filter.matches(r)).collect();
            assert_eq!(got[0].iter().collect::<Vec<_>>(), want, "{resource}");
            assert_eq!(got[0].len(), 6);
            assert!(got[1].is_empty());
        }
    }

    #[tokio::test]
    async fn scale_sets_the_backups_per_account() {
        let (_emu, accounts) = start(Some(250), false).await;
        let rows = list_ok(&accounts, &Filter::default()).await;
        assert_eq!(rows[0].len(), 250);
        assert_eq!(rows[1].len(), 250);
    }

    #[tokio::test]
    async fn a_large_scale_never_sends_times_the_client_reads_in_the_wrong_unit() {
        // 20,000 backups reach back before 2001, where milliseconds are below 10^12.
        let (_emu, accounts) = start(Some(20_000), false).await;
        for rows in list_ok(&accounts, &Filter::default()).await {
            assert_eq!(rows.len(), 20_000);
            for r in &rows {
                let at = r.created_at.unwrap().utc();
                assert!(at <= now(), "{} at {at}", r.id);
            }
        }
    }

    #[tokio::test]
    async fn the_adapter_follows_next_links_across_pages() {
        let (_emu, accounts) = default_emulator().await;
        let http = http();
        let cf = Cf::new("cf-demo".into(), cf_config(&accounts[0])).with_per_page(3);
        let filter = Filter::default();
        let options = ListOptions::default();
        let run = Run::new(&http, &filter, &options);
        cf.authenticate(&run, false).await.unwrap();
        // 8 instances, 3 a page: 3 pages; every backup found.
        assert_eq!(cf.list(&run).await.unwrap().len(), DEMO_BACKUPS_USER);
    }

    #[tokio::test]
    async fn a_configured_guid_that_does_not_exist_is_skipped() {
        let (_emu, accounts) = default_emulator().await;
        let mut account = accounts[1].clone();
        let Settings::Cf(c) = &mut account.settings else {
            unreachable!()
        };
        // An unknown guid and another principal's instance: both 404, both skipped with a warning.
        c.service_instances = vec![
            "00000000-0000-4000-8000-000000000000".into(),
            guid("orders-db"),
            guid("analytics-db"),
        ];
        let rows = list_ok(&[account], &Filter::default()).await;
        assert!(!rows[0].is_empty());
        assert!(rows[0]
            .iter()
            .all(|r| r.resource_name.as_deref() == Some("analytics-db")));
    }

    #[tokio::test]
    async fn a_bad_password_is_an_auth_error_naming_the_account() {
        let (_emu, accounts) = default_emulator().await;
        let mut account = accounts[0].clone();
        let Settings::Cf(c) = &mut account.settings else {
            unreachable!()
        };
        c.auth = CfAuth::Password {
            username: "admin".into(),
            password: Secret::new("wrong"),
        };
        let result = testing::list(&[account], &Filter::default())
            .await
            .remove(0);
        let e = result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(
            e.to_string(),
            "cf-demo: POST /login/oauth/token: HTTP 401: unauthorized: Bad credentials"
        );
        assert!(!format!("{e:?}").contains("wrong"));
    }

    /// Grants served so far, by type.
    async fn grants(emu: &Emulator) -> Value {
        let url = format!("{}_emulator/stats", emu.urls.cf);
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| to_json(&b))
            .unwrap()["grants"]
            .clone()
    }

    async fn revoke(emu: &Emulator, after: u32) {
        let url = format!("{}_emulator/revoke?after={after}", emu.urls.cf);
        let resp = reqwest::Client::new().post(url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }

    #[tokio::test]
    async fn an_expired_token_is_refreshed_once_and_the_listing_completes() {
        let (emu, accounts) = default_emulator().await;
        let http = http();
        let cf = Cf::new("cf-demo".into(), cf_config(&accounts[0]));
        let filter = Filter::default();
        let options = ListOptions::default();
        let run = Run::new(&http, &filter, &options);
        cf.authenticate(&run, false).await.unwrap();
        // The token dies after three more uses: mid-listing, with backups calls in flight.
        revoke(&emu, 3).await;
        let rows = cf.list(&run).await.unwrap();
        assert_eq!(rows.len(), DEMO_BACKUPS_USER);
        let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), DEMO_BACKUPS_USER, "no duplicates");
        // Concurrent 401s share one renewal, made with the refresh token.
        assert_eq!(
            grants(&emu).await,
            json!({"password": 1, "refresh_token": 1})
        );
    }

    #[tokio::test]
    async fn a_given_token_without_refresh_token_fails_saying_it_expired() {
        let (emu, accounts) = default_emulator().await;
        let http = http();
        // Log in as a script would, then hand the adapter the tokens.
        let form = [
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
        ];
        let token: Value = reqwest::Client::new()
            .post(format!("{}login/oauth/token", emu.urls.cf))
            .header("authorization", "Basic Y2Y6")
            .form(&form)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| to_json(&b))
            .unwrap();
        let access = token["access_token"].as_str().unwrap().to_string();
        let refresh = token["refresh_token"].as_str().unwrap().to_string();
        revoke(&emu, 0).await;
        let mut account = accounts[0].clone();
        let Settings::Cf(c) = &mut account.settings else {
            unreachable!()
        };
        c.auth = CfAuth::Token {
            access_token: Secret::new(access.clone()),
            refresh_token: None,
        };
        let e = providers::run_all(
            &http,
            &[account.clone()],
            &Filter::default(),
            &ListOptions::default(),
        )
        .await
        .remove(0)
        .result
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(
            e.to_string(),
            "cf-demo: the access token was rejected (expired?) and no refresh_token is configured"
        );
        // With its refresh token the same account renews and lists everything.
        let Settings::Cf(c) = &mut account.settings else {
            unreachable!()
        };
        c.auth = CfAuth::Token {
            access_token: Secret::new(access),
            refresh_token: Some(Secret::new(refresh)),
        };
        let rows = list_ok(&[account], &Filter::default()).await;
        assert_eq!(rows[0].len(), DEMO_BACKUPS_USER);
    }

    #[tokio::test]
    async fn lists_completely_under_faults() {
        // --faults: 429s with an epoch Retry-After and tokens that expire after some uses.
        let (emu, accounts) = start(Some(40), true).await;
        let rows = list_ok(&accounts, &Filter::default()).await;
        assert_eq!(rows[0].len(), 40);
        assert_eq!(rows[1].len(), 40);
        // One instance a page: more requests than a token lives for, so it is renewed.
        let http = http();
        let cf = Cf::new("cf-demo".into(), cf_config(&accounts[0])).with_per_page(1);
        let (filter, options) = (Filter::default(), ListOptions::default());
        let run = Run::new(&http, &filter, &options);
        cf.authenticate(&run, false).await.unwrap();
        assert_eq!(cf.list(&run).await.unwrap().len(), 40);
        assert!(grants(&emu).await["refresh_token"].as_u64().unwrap() >= 1);
    }

    // ---- the vendor wire, as other clients see it --------------------------------------

    async fn password_token(emu: &Emulator) -> String {
        let body: Value = reqwest::Client::new()
            .post(format!("{}uaa/oauth/token", emu.urls.cf))
            .header("authorization", "Basic Y2Y6")
            .header("accept", "application/json")
            .body(format!(
                "grant_type=password&username={DEMO_USER}&password={DEMO_PASSWORD}&scope="
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| to_json(&b))
            .unwrap();
        assert_eq!(body["token_type"], "bearer");
        for key in [
            "access_token",
            "refresh_token",
            "expires_in",
            "scope",
            "jti",
        ] {
            assert!(!body[key].is_null(), "{key} in {body}");
        }
        body["access_token"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn the_root_document_links_are_all_objects_with_href() {
        let (emu, _) = default_emulator().await;
        let root: Value = reqwest::get(emu.urls.cf.as_str())
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| to_json(&b))
            .unwrap();
        let links = root["links"].as_object().unwrap();
        for (name, link) in links {
            assert!(link["href"].is_string(), "{name}: {link}");
        }
        assert!(links["cloud_controller_v3"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/v3"));
        assert_eq!(
            links["login"]["href"].as_str().unwrap(),
            format!("{}login", emu.urls.cf)
        );
    }

    #[tokio::test]
    async fn uaa_grants_and_their_errors() {
        let (emu, _) = default_emulator().await;
        let client = reqwest::Client::new();
        let url = format!("{}login/oauth/token", emu.urls.cf);
        let post = |auth: Option<&'static str>, body: String| {
            let mut req = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            async move {
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                (status, resp.bytes().await.map(|b| to_json(&b)).unwrap())
            }
        };
        // Password grant needs the cf client in Basic.
        let (s, b) = post(
            None,
            "grant_type=password&username=admin&password=cf-demo-password".into(),
        )
        .await;
        assert_eq!(s, 401, "{b}");
        let (s, b) = post(
            Some("Basic Y2Y6"),
            "grant_type=password&username=admin&password=nope".into(),
        )
        .await;
        assert_eq!(
            (s, b),
            (
                401,
                json!({"error": "unauthorized", "error_description": "Bad credentials"})
            )
        );
        // client_credentials: in the body, or in HTTP Basic (base64 "backups-demo:cf-demo-client-secret").
        let (s, b) = post(None, format!("grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}")).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = post(
            Some("Basic YmFja3Vwcy1kZW1vOmNmLWRlbW8tY2xpZW50LXNlY3JldA=="),
            "grant_type=client_credentials&scope=".into(),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let refresh = b["refresh_token"].as_str().unwrap().to_string();
        let (s, b) = post(
            None,
            format!("grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret=bad"),
        )
        .await;
        assert_eq!((s, b["error"].as_str()), (401, Some("unauthorized")));
        // refresh_token grant, by the client that got it.
        let (s, b) = post(
            Some("Basic YmFja3Vwcy1kZW1vOmNmLWRlbW8tY2xpZW50LXNlY3JldA=="),
            format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = post(
            Some("Basic Y2Y6"),
            "grant_type=refresh_token&refresh_token=forged".into(),
        )
        .await;
        assert_eq!((s, b["error"].as_str()), (401, Some("invalid_token")));
        let (s, b) = post(Some("Basic Y2Y6"), "grant_type=implicit".into()).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );
    }

    #[tokio::test]
    async fn pages_the_instance_list_with_per_page() {
        let (emu, _) = default_emulator().await;
        let token = password_token(&emu).await;
        let client = reqwest::Client::new();
        // `Bearer` matched case-insensitively.
        let get = |url: String| {
            let req = client
                .get(url)
                .header("authorization", format!("Bearer {token}"));
            async move {
                let resp = req.send().await.unwrap();
                (
                    resp.status().as_u16(),
                    resp.bytes().await.map(|b| to_json(&b)).unwrap(),
                )
            }
        };
        let mut url = format!("{}v3/service_instances?per_page=3", emu.urls.cf);
        let mut names = Vec::new();
        let mut pages = 0;
        loop {
            let (status, body) = get(url.clone()).await;
            assert_eq!(status, 200, "{body}");
            pages += 1;
            assert_eq!(body["pagination"]["total_results"], 8);
            assert_eq!(body["pagination"]["total_pages"], 3);
            for r in body["resources"].as_array().unwrap() {
                assert_eq!(r["type"], "managed");
                assert!(r["relationships"]["space"]["data"]["guid"].is_string());
                names.push(r["name"].as_str().unwrap().to_string());
            }
            match body["pagination"]["next"]["href"].as_str() {
                Some(next) => {
                    assert!(next.starts_with(emu.urls.cf.as_str()), "absolute: {next}");
                    assert!(next.contains("per_page=3"), "keeps per_page: {next}");
                    url = next.to_string();
                }
                None => {
                    assert!(body["pagination"]["next"].is_null());
                    break;
                }
            }
        }
        assert_eq!(pages, 3);
        let want: Vec<&str> = INSTANCES
            .iter()
            .filter(|i| i.1 == USER)
            .map(|i| i.0)
            .collect();
        assert_eq!(names, want);
        // Default page size 50: one page; over 5000: 400 with CC's error document.
        let (_, body) = get(format!("{}v3/service_instances", emu.urls.cf)).await;
        assert_eq!(body["resources"].as_array().unwrap().len(), 8);
        assert!(body["pagination"]["next"].is_null());
        let (status, body) =
            get(format!("{}v3/service_instances?per_page=5001", emu.urls.cf)).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["code"], 10005);
        assert!(body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("must be between 1 and 5000"));
        // names filter.
        let (_, body) = get(format!(
            "{}v3/service_instances?names=users-db,empty-pg",
            emu.urls.cf
        ))
        .await;
        assert_eq!(body["pagination"]["total_results"], 2);
    }

    #[tokio::test]
    async fn backups_endpoint_errors_and_limit() {
        let (emu, _) = default_emulator().await;
        let token = password_token(&emu).await;
        let client = reqwest::Client::new();
        let get = |path: String, auth: String| {
            let req = client
                .get(format!("{}{path}", emu.urls.cf))
                .header("authorization", auth);
            async move {
                let resp = req.send().await.unwrap();
                (
                    resp.status().as_u16(),
                    resp.bytes().await.map(|b| to_json(&b)).unwrap(),
                )
            }
        };
        let bearer = format!("bearer {token}");
        let path = |name: &str| format!("v3/service_instances/{}/backups", guid(name));
        let (s, b) = get(path("orders-db"), bearer.clone()).await;
        assert_eq!(s, 200);
        assert_eq!(b["backups"].as_array().unwrap().len(), 6);
        assert!(b["backups"][0]["created_at"].is_i64());
        let (_, b) = get(format!("{}?limit=2", path("orders-db")), bearer.clone()).await;
        assert_eq!(b["backups"].as_array().unwrap().len(), 2);
        let (s, b) = get(path("empty-pg"), bearer.clone()).await;
        assert_eq!((s, b), (200, json!({"backups": []})));
        let (s, b) = get(path("logs-rabbitmq"), bearer.clone()).await;
        assert_eq!(s, 422);
        assert_eq!(
            b,
            json!({"errors": [{"detail": "The service offering does not support OSMAPI backups",
                "title": "CF-UnprocessableEntity", "code": 10008}]})
        );
        // Another principal's instance, or an unknown guid: 404 CF-ResourceNotFound.
        for p in [
            path("reports-db"),
            "v3/service_instances/nope/backups".to_string(),
        ] {
            let (s, b) = get(p, bearer.clone()).await;
            assert_eq!((s, &b["errors"][0]["code"]), (404, &json!(10010)));
        }
        let (s, b) = get(path("orders-db"), "bearer forged".into()).await;
        assert_eq!(
            (s, b),
            (
                401,
                json!({"errors": [{"detail": "Invalid Auth Token", "title": "CF-InvalidAuthToken", "code": 1000}]})
            )
        );
    }

    #[tokio::test]
    async fn later_days_rotate_backups_and_keep_the_empty_and_unsupported_instances() {
        let emu = Emulator::start(EmulatorOptions {
            now: now() + chrono::Duration::days(2),
            day: 2,
            ..Default::default()
        })
        .await
        .unwrap();
        let accounts: Vec<Account> = emu
            .accounts()
            .unwrap()
            .into_iter()
            .filter(|a| a.provider() == ProviderId::Cf)
            .collect();
        let rows = list_ok(&accounts, &Filter::default()).await;
        // Rotation: each instance keeps six, the stale one (billing-mysql) its old six.
        for name in [
            "orders-db",
            "users-db",
            "sessions-redis",
            "search-es",
            "events-mongo",
        ] {
            let mine: Vec<&Backup> = rows[0]
                .iter()
                .filter(|r| r.resource_name.as_deref() == Some(name))
                .collect();
            assert_eq!(mine.len(), 6, "{name}");
            let newest = mine
                .iter()
                .filter_map(|r| r.created_at)
                .map(|t| t.utc())
                .max();
            assert!(
                newest > Some(now() + chrono::Duration::days(1)),
                "{name}: {newest:?}"
            );
        }
        let token = password_token(&emu).await;
        for (name, want) in [
            ("empty-pg", (200, json!({"backups": []}))),
            (
                "logs-rabbitmq",
                (
                    422,
                    json!({"errors": [{"detail": "The service offering does not support OSMAPI backups",
                        "title": "CF-UnprocessableEntity", "code": 10008}]}),
                ),
            ),
        ] {
            let resp = reqwest::Client::new()
                .get(format!(
                    "{}v3/service_instances/{}/backups",
                    emu.urls.cf,
                    guid(name)
                ))
                .header("authorization", format!("bearer {token}"))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            assert_eq!(
                (status, to_json(&resp.bytes().await.unwrap())),
                want,
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn generated_accounts_each_have_their_own_instances() {
        let emu = Emulator::start(EmulatorOptions {
            now: now(),
            scale: Some(40),
            accounts: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
        let accounts: Vec<Account> = emu
            .accounts()
            .unwrap()
            .into_iter()
            .filter(|a| a.provider() == ProviderId::Cf)
            .collect();
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["cf-demo-004", "cf-demo-009"]);
        assert!(matches!(
            cf_config(&accounts[0]).auth,
            CfAuth::Password { .. }
        ));
        assert!(matches!(
            cf_config(&accounts[1]).auth,
            CfAuth::ClientCredentials { .. }
        ));
        let rows = list_ok(&accounts, &Filter::default()).await;
        for (a, rows) in accounts.iter().zip(&rows) {
            assert_eq!(rows.len(), 40, "{}", a.name);
            let instances: std::collections::BTreeSet<&str> = rows
                .iter()
                .filter_map(|r| r.resource_name.as_deref())
                .collect();
            assert_eq!(
                instances,
                ["app-db", "cache-redis", "files-pg", "search-es"]
                    .into_iter()
                    .collect()
            );
        }
        let guids = |rows: &[Backup]| -> std::collections::BTreeSet<String> {
            rows.iter().filter_map(|r| r.resource_id.clone()).collect()
        };
        assert!(guids(&rows[0]).is_disjoint(&guids(&rows[1])));
    }

    #[test]
    fn the_demo_config_parses() {
        let base = Url::parse("http://127.0.0.1:4000/").unwrap();
        let text = demo_config(&base, &EmulatorOptions::default());
        let cfg = crate::config::parse(&text, std::path::Path::new("(demo)"), &|_| None).unwrap();
        assert_eq!(cfg.accounts.len(), 2);
        let Settings::Cf(c) = &cfg.accounts[1].settings else {
            panic!("cf account")
        };
        assert_eq!(c.service_instances, client_configured_guids());
        assert_eq!(c.api.as_str(), "http://127.0.0.1:4000/");
    }
}
