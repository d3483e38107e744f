//! Emulator of Huawei Cloud CBR v3 ListBackups and the IAM calls around it, at the listener
//! root as the official SDK addresses it (it keeps only `scheme://host:port` of an endpoint).
//!
//! This is the vendor's side of the wire: it verifies `SDK-HMAC-SHA256` signatures with its
//! own canonicalisation (re-canonicalising the query it received, with the client's declared
//! `SignedHeaders` and the `Host` header as received), checks IAM tokens it issued, and serves
//! rows in the vendor's shape (naive UTC timestamps, GB sizes, `extend_info` extras and nulls,
//! `incremental` at the top level or only in `extend_info`, replication rows, all eight
//! statuses). Nothing here is shared with the adapter.
//!
//! The AK/SK demo account's backups live in two enterprise projects: the default one (`"0"`)
//! and [`ERP_PROJECT`], which holds two daily backup series for retention policies (one
//! complete, one with a day missing); ListBackups honours `enterprise_project_id` (an id, or
//! `all_granted_eps`). On later days ([`super::Timeline`]) backups expire at their
//! `expired_at`, and on day 1 one is deleted early and another starts being deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::Url;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::faults::Vendor;
use super::{
    bulk_numbers, fresh, pick, plan, random_hex32, ApiCtx, EmulatorOptions, Rng, Timeline,
};

/// The AK/SK demo account.
pub(crate) const SG_ACCOUNT: &str = "huawei-demo-sg";
const SG_REGION: &str = "ap-southeast-1";
const SG_PROJECT: &str = "5e1f9a2b7c3d4e6f8a9b0c1d2e3f4a5b";
const SG_AK: &str = "HPUADEMOSG0000000001";
const SG_SK: &str = "demoSkSg0000000000000000000000000000demo";

/// The IAM-password demo account.
pub(crate) const TOKEN_ACCOUNT: &str = "huawei-demo-token";
const TOKEN_REGION: &str = "cn-north-4";
const TOKEN_PROJECT: &str = "8c7b6a5d4e3f2a1b0c9d8e7f6a5b4c3d";
const TOKEN_USER: &str = "demo-iam-user";
const TOKEN_PASSWORD: &str = "demo-iam-password";
const TOKEN_DOMAIN: &str = "huawei-demo-domain";

/// The demo's second enterprise project (the first is the default one, `"0"`): the AK/SK
/// account's ERP servers live there, with their daily policy series.
pub(crate) const ERP_PROJECT: &str = "3b0f7c1e-52a8-4d6b-9e14-8c2f6a0d7e95";

/// The enterprise project of every other backup.
const DEFAULT_PROJECT: &str = "0";

/// A daily backup series of the default demo, for the audit's retention policy: one available
/// backup a day at the same hour, `days` days back from day 0, none on the day `gap` days
/// before day 0, and one more each day after day 0.
struct Series {
    name: &'static str,
    server: bool,
    size_gb: u64,
    days: i64,
    gap: Option<i64>,
}

/// The two series of `huawei-demo-sg`: one complete for five weeks (passes `daily=7` and
/// `weekly=4`), one of eight weeks with no backup three days before day 0 (fails `daily=7`
/// naming that day).
const SERIES: [Series; 2] = [
    Series {
        name: "ecs-erp-app",
        server: true,
        size_gb: 60,
        days: 36,
        gap: None,
    },
    Series {
        name: "evs-erp-db",
        server: false,
        size_gb: 200,
        days: 57,
        gap: Some(3),
    },
];

/// How long before day 0's listing the series' backups run each day.
const SERIES_HOURS_BEFORE: i64 = 8;

/// The CBR status vocabulary (`docs/providers/huawei.md#status-values`): the non-success ones,
/// `error` first so that `plan`'s first special (resource 0's newest backup) is a failure.
const SPECIALS: [&str; 7] = [
    "error",
    "protecting",
    "waiting_protect",
    "restoring",
    "waiting_restore",
    "deleting",
    "waiting_delete",
];
const STATUSES: [&str; 8] = [
    "available",
    "protecting",
    "deleting",
    "restoring",
    "error",
    "waiting_protect",
    "waiting_delete",
    "waiting_restore",
];

/// ListBackups accepts `limit` in 1..=1000, the emulator's choice (CBR documents no maximum).
const MAX_LIMIT: usize = 1000;
/// With faults on, an IAM token is refused after this many list calls (an expiring session).
const FAULT_TOKEN_USES: u64 = 3;

/// The routes: CBR and IAM on one listener, at its root.
pub(crate) fn router(ctx: ApiCtx) -> Router {
    let state = Arc::new(Cbr::new(ctx));
    Router::new()
        .route("/v3/{project_id}/backups", get(list_backups))
        .route("/v3/auth/tokens", post(issue_token))
        .route("/v3/projects", get(list_projects))
        .fallback(unknown_api)
        .method_not_allowed_fallback(unknown_api)
        .with_state(state)
}

/// Demo accounts in config form (`docs/emulator.md#demo-accounts`); the endpoints are the listener
/// root.
pub(crate) fn demo_config(base: &Url, options: &EmulatorOptions) -> String {
    let mut out = String::new();
    for spec in specs(options) {
        out.push_str(&format!(
            "[accounts.{}]\nprovider = \"huawei\"\nregion = \"{}\"\nendpoint = \"{base}\"\niam_endpoint = \"{base}\"\nproject_id = \"{}\"\n",
            spec.account, spec.region, spec.project_id
        ));
        match &spec.creds {
            Creds::AkSk { ak, sk } => {
                out.push_str(&format!("access_key = \"{ak}\"\nsecret_key = \"{sk}\"\n"))
            }
            Creds::Password {
                user,
                password,
                domain,
            } => out.push_str(&format!(
                "user = \"{user}\"\npassword = \"{password}\"\ndomain = \"{domain}\"\n"
            )),
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// How a tenant authenticates.
enum Creds {
    AkSk {
        ak: String,
        sk: String,
    },
    Password {
        user: String,
        password: String,
        domain: String,
    },
}

/// Who a demo tenant is: its account name, project and credentials.
struct TenantSpec {
    account: String,
    project_id: String,
    region: &'static str,
    creds: Creds,
}

/// The demo tenants: the two default ones, or the generated ones of `accounts` (AK/SK and
/// IAM password in turn).
fn specs(options: &EmulatorOptions) -> Vec<TenantSpec> {
    let Some(numbers) = bulk_numbers(options, Vendor::Huawei) else {
        return vec![
            TenantSpec {
                account: SG_ACCOUNT.into(),
                project_id: SG_PROJECT.into(),
                region: SG_REGION,
                creds: Creds::AkSk {
                    ak: SG_AK.into(),
                    sk: SG_SK.into(),
                },
            },
            TenantSpec {
                account: TOKEN_ACCOUNT.into(),
                project_id: TOKEN_PROJECT.into(),
                region: TOKEN_REGION,
                creds: Creds::Password {
                    user: TOKEN_USER.into(),
                    password: TOKEN_PASSWORD.into(),
                    domain: TOKEN_DOMAIN.into(),
                },
            },
        ];
    };
    numbers
        .into_iter()
        .enumerate()
        .map(|(j, k)| {
            let account = format!("huawei-demo-{k:03}");
            let project_id = Rng::seeded(&format!("{account}/project")).hex32();
            if j % 2 == 0 {
                TenantSpec {
                    account,
                    project_id,
                    region: SG_REGION,
                    creds: Creds::AkSk {
                        ak: format!("HPUADEMO{k:012}"),
                        sk: format!("demoSk{k:06}00000000000000000000000000demo"),
                    },
                }
            } else {
                TenantSpec {
                    account,
                    project_id,
                    region: TOKEN_REGION,
                    creds: Creds::Password {
                        user: format!("demo-iam-user-{k:03}"),
                        password: format!("demo-iam-password-{k:03}"),
                        domain: format!("huawei-demo-domain-{k:03}"),
                    },
                }
            }
        })
        .collect()
}

/// One protected ECS server or EVS volume.
struct Resource {
    id: String,
    name: String,
    server: bool,
    size_gb: u64,
    az: String,
    vault_id: String,
    enterprise_project: &'static str,
    /// Days its policy keeps a backup (`expired_at` = creation + this).
    retention_days: i64,
}

/// One backup, compact: the JSON is rendered per page, so 100 000 rows stay cheap.
struct Row {
    id: String,
    checkpoint_id: String,
    name: String,
    status: &'static str,
    resource: usize,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    expired: Option<DateTime<Utc>>,
    replication: bool,
    incremental: bool,
    /// Current API versions send `incremental` at the top level; older ones only in
    /// `extend_info`.
    incremental_top: bool,
    description: Option<&'static str>,
    snapshot_id: String,
    /// The row's JSON, rendered on first use and kept: pages are then concatenations, so a
    /// 100k-row benchmark measures the client rather than the emulator's serializer.
    json: std::sync::OnceLock<Box<str>>,
}

/// One project (account) with its data, newest first.
struct Tenant {
    project_id: String,
    region: &'static str,
    domain_id: String,
    creds: Creds,
    resources: Vec<Resource>,
    rows: Vec<Row>,
}

/// An issued IAM token.
struct Issued {
    tenant: usize,
    expires: DateTime<Utc>,
    uses: u64,
}

struct Cbr {
    ctx: ApiCtx,
    tenants: Vec<Tenant>,
    tokens: Mutex<HashMap<String, Issued>>,
}

impl Cbr {
    fn new(ctx: ApiCtx) -> Cbr {
        let options = &ctx.shared.options;
        let timeline = Timeline::of(options);
        // The policy series belong to the default demo; `scale` and `accounts` runs keep
        // exactly `scale` backups per account.
        let default_demo = options.scale.is_none() && options.accounts.is_none();
        let tenants = specs(options)
            .into_iter()
            .enumerate()
            .map(|(t, spec)| {
                let default_n = if t == 1 && options.accounts.is_none() {
                    40
                } else {
                    48
                };
                let n = options.scale.unwrap_or(default_n);
                Tenant::build(spec, n, &timeline, t == 0, t == 0 && default_demo)
            })
            .collect();
        Cbr {
            ctx,
            tenants,
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

/// What becomes of a CBR status once the day after it was seen is reached: passing states
/// settle (protection and restoration complete; a deletion completes and the backup is gone),
/// failures stay.
fn settled(status: &'static str) -> Option<&'static str> {
    match status {
        "protecting" | "waiting_protect" | "restoring" | "waiting_restore" => Some("available"),
        "deleting" | "waiting_delete" => None,
        other => Some(other),
    }
}

impl Tenant {
    /// Deterministic demo data of `timeline`'s day (O(n), built once): day 0 dated from the
    /// anchor, then lived through to the day (see [`Timeline`]). `first`: the tenant where
    /// day 1 deletes a backup early and starts deleting another; `series`: with the
    /// enterprise project of [`ERP_PROJECT`] and its policy series.
    fn build(spec: TenantSpec, n: usize, timeline: &Timeline, first: bool, series: bool) -> Tenant {
        let account = spec.account.as_str();
        let region = spec.region;
        let anchor = timeline.anchor();
        let mut rng = Rng::seeded(account);
        let server_vault = rng.uuid();
        let volume_vault = rng.uuid();
        let count = (n / 8).clamp(2, 5000);
        // One volume's policy keeps its backups just long enough that one of them expires
        // during day 1: the oldest one that has an `expired_at` (every fifth row has none).
        let short = 3;
        let short_retention = {
            let oldest_day = n.saturating_sub(1 + short) / count;
            let has_expiry = |day: usize| !(day * count + short).is_multiple_of(5);
            if has_expiry(oldest_day) {
                oldest_day as i64 + 1
            } else {
                oldest_day as i64
            }
        };
        let mut resources: Vec<Resource> = (0..count)
            .map(|r| {
                let server = r % 2 == 0;
                Resource {
                    id: rng.uuid(),
                    name: if server {
                        format!("ecs-web-{:02}", r / 2 + 1)
                    } else {
                        format!("evs-data-{:02}", r / 2 + 1)
                    },
                    server,
                    size_gb: if server {
                        40
                    } else {
                        100 + 10 * (r as u64 % 7)
                    },
                    az: format!("{region}{}", if r % 3 == 2 { 'b' } else { 'a' }),
                    vault_id: if server {
                        server_vault.clone()
                    } else {
                        volume_vault.clone()
                    },
                    enterprise_project: DEFAULT_PROJECT,
                    // The others keep a month.
                    retention_days: if r == short { short_retention } else { 30 },
                }
            })
            .collect();
        let planned = plan(account, anchor, n, count, SPECIALS.len());
        // Rows without `expired_at` (every fifth) never expire: the picks have one.
        let expiring = |i: usize| !i.is_multiple_of(5);
        let early = first
            .then(|| pick(&planned, 2 % count, 2, expiring))
            .flatten();
        let doomed = first
            .then(|| pick(&planned, 4 % count, 1, |i| expiring(i) && Some(i) != early))
            .flatten();
        let day0: Vec<Row> = planned
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let created = p.created + chrono::Duration::microseconds(rng.below(1000) as i64);
                let replication = i % 9 == 4;
                let retention = resources[p.resource].retention_days;
                Row {
                    id: rng.uuid(),
                    checkpoint_id: rng.uuid(),
                    name: if i % 7 == 5 {
                        format!("manual-{}", resources[p.resource].name)
                    } else {
                        format!("autobk_{:04x}", rng.below(0x10000))
                    },
                    status: p
                        .special
                        .map_or("available", |k| SPECIALS[k % SPECIALS.len()]),
                    resource: p.resource,
                    created,
                    // Never after day 0's listing: a recent backup was updated at most up to it.
                    updated: (created
                        + chrono::Duration::seconds(180 + rng.below(2400) as i64)
                        + chrono::Duration::microseconds(rng.below(1_000_000) as i64))
                    .min(anchor),
                    expired: expiring(i).then(|| created + chrono::Duration::days(retention)),
                    replication,
                    // `plan` goes back in time: each resource's oldest backup is the full one.
                    incremental: i + count < n,
                    incremental_top: i % 2 == 0,
                    description: match i % 4 {
                        0 | 3 => Some(""),
                        1 => None,
                        _ => Some("daily policy"),
                    },
                    snapshot_id: rng.uuid(),
                    json: std::sync::OnceLock::new(),
                }
            })
            .collect();
        let mut rows: Vec<Row> = Vec::with_capacity(day0.len() + count * timeline.day as usize);
        for (i, mut row) in day0.into_iter().enumerate() {
            if timeline.day >= 1 {
                if Some(i) == early {
                    continue;
                }
                if Some(i) == doomed {
                    if timeline.day >= 2 {
                        continue;
                    }
                    row.status = "deleting";
                    row.updated = timeline.during(1);
                } else {
                    match settled(row.status) {
                        None => continue,
                        Some(s) if s != row.status => {
                            row.status = s;
                            row.updated = timeline.during(1);
                        }
                        Some(_) => {}
                    }
                }
            }
            rows.push(row);
        }
        for f in fresh(account, timeline, count) {
            let mut r = f.rng;
            let res = &resources[f.resource];
            let created = f.created + chrono::Duration::microseconds(r.below(1000) as i64);
            rows.push(Row {
                id: r.uuid(),
                checkpoint_id: r.uuid(),
                name: format!("autobk_{:04x}", r.below(0x10000)),
                status: if f.in_progress {
                    "protecting"
                } else {
                    "available"
                },
                resource: f.resource,
                created,
                updated: if f.in_progress {
                    created
                } else {
                    created + chrono::Duration::seconds(180 + r.below(2400) as i64)
                },
                expired: Some(created + chrono::Duration::days(res.retention_days)),
                replication: false,
                incremental: true,
                incremental_top: f.day % 2 == 0,
                description: Some("daily policy"),
                snapshot_id: r.uuid(),
                json: std::sync::OnceLock::new(),
            });
        }
        if series {
            let mut erp = Rng::seeded(&format!("{account}/{ERP_PROJECT}"));
            let vault = erp.uuid();
            for (k, s) in SERIES.iter().enumerate() {
                let resource = resources.len();
                resources.push(Resource {
                    id: erp.uuid(),
                    name: s.name.to_string(),
                    server: s.server,
                    size_gb: s.size_gb,
                    az: format!("{region}a"),
                    vault_id: vault.clone(),
                    enterprise_project: ERP_PROJECT,
                    retention_days: 90,
                });
                // Day offsets from day 0: negative before it, up to the timeline's day.
                for d in (1 - s.days)..=i64::from(timeline.day) {
                    if s.gap.is_some_and(|g| d == -g) {
                        continue;
                    }
                    let mut r = Rng::seeded(&format!("{account}/{}/{d}", s.name));
                    let created = anchor + chrono::Duration::days(d)
                        - chrono::Duration::hours(SERIES_HOURS_BEFORE)
                        - chrono::Duration::minutes(k as i64 * 7 + 1)
                        - chrono::Duration::microseconds(r.below(60_000_000) as i64);
                    rows.push(Row {
                        id: r.uuid(),
                        checkpoint_id: r.uuid(),
                        name: format!("autobk_{:04x}", r.below(0x10000)),
                        status: "available",
                        resource,
                        created,
                        updated: created + chrono::Duration::seconds(300 + r.below(600) as i64),
                        expired: Some(created + chrono::Duration::days(90)),
                        replication: false,
                        incremental: d > 1 - s.days,
                        incremental_top: true,
                        description: Some("erp daily policy"),
                        snapshot_id: r.uuid(),
                        json: std::sync::OnceLock::new(),
                    });
                }
            }
        }
        // Retention: what expired by now is gone.
        rows.retain(|r| r.expired.is_none_or(|e| e > timeline.now));
        // Default order: created_at desc (ties by id, so pages are stable).
        rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        let domain_id = rng.hex32();
        Tenant {
            project_id: spec.project_id,
            region,
            domain_id,
            creds: spec.creds,
            resources,
            rows,
        }
    }

    /// A row in the vendor's `BackupResp` shape.
    fn render(&self, row: &Row) -> Value {
        let res = &self.resources[row.resource];
        let mut extend = if res.server {
            json!({
                "auto_trigger": row.name.starts_with("autobk_"),
                "supported_restore_mode": "backup",
                "contain_system_disk": true,
                "support_lld": true,
                "architecture": "x86_64",
                "system_disk": false,
                "app_consistency": {
                    "app_consistency_error_code": "0",
                    "app_consistency_status": "0",
                    "app_consistency_error_message": "",
                    "app_consistency": "0"
                }
            })
        } else {
            json!({
                "auto_trigger": row.name.starts_with("autobk_"),
                "snapshot_id": row.snapshot_id,
                "bootable": null,
                "progress": if row.status == "available" { json!(100) } else { Value::Null },
                "support_lld": true,
                "encrypted": if row.resource.is_multiple_of(3) { Value::Null } else { json!(false) },
                "system_disk": false,
                "os_images_data": null
            })
        };
        if !row.incremental_top {
            extend["incremental"] = json!(row.incremental);
        }
        let mut v = json!({
            "provider_id": if res.server {
                "0daac4c5-6707-4851-97ba-169e36266b66"
            } else {
                "d1603440-187d-4516-af25-121250c7cc97"
            },
            "checkpoint_id": row.checkpoint_id,
            "updated_at": naive(row.updated),
            "vault_id": res.vault_id,
            "id": row.id,
            "resource_az": res.az,
            "image_type": if row.replication { "replication" } else { "backup" },
            "resource_id": res.id,
            "resource_size": res.size_gb,
            "children": [],
            "extend_info": extend,
            "project_id": self.project_id,
            "status": row.status,
            "resource_name": res.name,
            "description": row.description,
            "expired_at": row.expired.map(naive),
            "replication_records": [],
            "name": row.name,
            "created_at": naive(row.created),
            "protected_at": naive(row.created + chrono::Duration::seconds(2)),
            "resource_type": if res.server { "OS::Nova::Server" } else { "OS::Cinder::Volume" },
            "enterprise_project_id": res.enterprise_project,
        });
        if row.incremental_top {
            v["incremental"] = json!(row.incremental);
        }
        if row.replication {
            v["replication_records"] = json!([{
                "id": format!("{}-rep", row.checkpoint_id),
                "created_at": naive(row.created),
                "source_backup_id": row.id,
                "source_region": "cn-north-4",
                "destination_region": self.region,
                "destinatio_vault_id": res.vault_id,
                "status": "success",
                "extra_info": {"progress": 100, "fail_code": null, "fail_reason": null, "auto_trigger": true}
            }]);
        }
        v
    }
}

/// The vendor's timestamp: naive UTC with microseconds.
fn naive(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// A gateway or service error (`error_code` + `error_msg` + `request_id`), small enough to
/// pass around in `Result`s and rendered as the vendor's body.
struct VendorError {
    status: StatusCode,
    code: &'static str,
    msg: String,
}

fn vendor_error(status: StatusCode, code: &'static str, msg: &str) -> VendorError {
    VendorError {
        status,
        code,
        msg: msg.to_string(),
    }
}

impl IntoResponse for VendorError {
    fn into_response(self) -> Response {
        let id = random_hex32();
        let body = json!({"error_msg": self.msg, "error_code": self.code, "request_id": id});
        let mut resp = (self.status, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("X-Request-Id", v);
        }
        resp
    }
}

fn signature_fail() -> VendorError {
    vendor_error(
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
        "Incorrect IAM authentication information: verify aksk signature fail",
    )
}

fn bad_param(msg: &str) -> VendorError {
    vendor_error(StatusCode::BAD_REQUEST, "BackupService.7007", msg)
}

async fn unknown_api() -> VendorError {
    vendor_error(
        StatusCode::NOT_FOUND,
        "APIGW.0101",
        "The API does not exist or has not been published in the environment",
    )
}

/// The server's reading of a query string: `&`-separated pairs, `+` as space, `%XX` decoded.
fn decode_query(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// RFC 3986 unreserved characters stay, every other byte becomes `%XX` (upper case).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the gateway recomputes from the request it received.
fn server_canonical_request(
    method: &Method,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    signed: &[&str],
    body: &[u8],
) -> Option<String> {
    let mut uri: String = path
        .split('/')
        .map(|seg| escape(&percent_encoding::percent_decode_str(seg).decode_utf8_lossy()))
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut pairs = decode_query(raw_query);
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed {
        let values: Vec<&str> = headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .collect();
        if values.is_empty() {
            return None;
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload = match headers
        .get("x-sdk-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(given) => given.to_string(),
        None => hex::encode(Sha256::digest(body)),
    };
    Some(format!(
        "{method}\n{uri}\n{query}\n{canonical_headers}\n{}\n{payload}",
        signed.join(";")
    ))
}

impl Cbr {
    /// Who is calling: a tenant index, or the gateway's 401.
    fn authorize(
        &self,
        method: &Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<usize, VendorError> {
        if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
            return self.check_token(token);
        }
        let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Err(vendor_error(
                StatusCode::UNAUTHORIZED,
                "APIGW.0301",
                "Incorrect IAM authentication information: Authorization header or X-Auth-Token not found",
            ));
        };
        let Some(params) = auth.strip_prefix("SDK-HMAC-SHA256 ") else {
            return Err(signature_fail());
        };
        let mut access = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in params.split(',') {
            match part.trim().split_once('=') {
                Some(("Access", v)) => access = Some(v),
                Some(("SignedHeaders", v)) => signed_headers = Some(v),
                Some(("Signature", v)) => signature = Some(v),
                _ => {}
            }
        }
        let (Some(access), Some(signed_headers), Some(signature)) =
            (access, signed_headers, signature)
        else {
            return Err(signature_fail());
        };
        let Some((tenant, sk)) =
            self.tenants
                .iter()
                .enumerate()
                .find_map(|(i, t)| match &t.creds {
                    Creds::AkSk { ak, sk } if ak == access => Some((i, sk.as_str())),
                    _ => None,
                })
        else {
            return Err(signature_fail());
        };
        let signed: Vec<&str> = signed_headers.split(';').collect();
        if !signed.contains(&"host") || !signed.contains(&"x-sdk-date") {
            return Err(signature_fail());
        }
        let date = headers
            .get("x-sdk-date")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Ok(at) = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ") else {
            return Err(signature_fail());
        };
        // The gateway's own clock decides, never the demo's `now`.
        let server = Utc::now();
        if (server - at.and_utc()).num_seconds().abs() > 15 * 60 {
            return Err(vendor_error(
                StatusCode::UNAUTHORIZED,
                "APIGW.0303",
                &format!(
                    "Incorrect app authentication information: signature expired, signature time:{date},server time:{}",
                    server.format("%Y%m%dT%H%M%SZ")
                ),
            ));
        }
        let Some(canonical) = server_canonical_request(
            method,
            uri.path(),
            uri.query().unwrap_or(""),
            headers,
            &signed,
            body,
        ) else {
            return Err(signature_fail());
        };
        let to_sign = format!(
            "SDK-HMAC-SHA256\n{date}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let Ok(given) = hex::decode(signature) else {
            return Err(signature_fail());
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(sk.as_bytes()).expect("any key length");
        mac.update(to_sign.as_bytes());
        mac.verify_slice(&given).map_err(|_| signature_fail())?;
        Ok(tenant)
    }

    fn check_token(&self, token: &str) -> Result<usize, VendorError> {
        let refused = |why: &str| {
            Err(vendor_error(
                StatusCode::UNAUTHORIZED,
                "APIGW.0301",
                &format!("Incorrect IAM authentication information: {why}"),
            ))
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let Some(issued) = tokens.get_mut(token) else {
            return refused("decrypt token fail");
        };
        issued.uses += 1;
        let worn_out = self.ctx.shared.options.faults && issued.uses > FAULT_TOKEN_USES;
        if issued.expires < Utc::now() || worn_out {
            return refused("the token has expired");
        }
        Ok(issued.tenant)
    }
}

async fn read_body(req: Request) -> (axum::http::request::Parts, Bytes) {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

/// ListBackups: `GET /v3/{project_id}/backups`.
async fn list_backups(
    State(cbr): State<Arc<Cbr>>,
    Path(project_id): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = read_body(req).await;
    let tenant = match cbr.authorize(&parts.method, &parts.uri, &parts.headers, &body) {
        Ok(t) => &cbr.tenants[t],
        Err(e) => return e.into_response(),
    };
    if project_id != tenant.project_id {
        return vendor_error(
            StatusCode::FORBIDDEN,
            "BackupService.0003",
            "The project in the URL does not match the authorized project",
        )
        .into_response();
    }
    match list(tenant, parts.uri.query().unwrap_or("")) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The ListBackups filters a query asks for.
#[derive(Default)]
struct Query {
    limit: Option<usize>,
    offset: usize,
    marker: Option<String>,
    statuses: Vec<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    name: Option<String>,
    resource_id: Option<String>,
    resource_type: Option<String>,
    image_type: Option<String>,
    enterprise_project: Option<String>,
    sort: Option<(String, bool)>,
}

fn parse_query(raw: &str) -> Result<Query, VendorError> {
    let mut q = Query::default();
    let time = |v: &str| {
        NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%SZ")
            .map(|t| t.and_utc())
            .map_err(|_| {
                bad_param(&format!(
                    "Invalid parameter: time {v}, format must be %Y-%m-%dT%H:%M:%SZ"
                ))
            })
    };
    for (k, v) in decode_query(raw) {
        match k.as_str() {
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = Some(n),
                _ => {
                    return Err(bad_param(&format!(
                        "Invalid parameter: limit {v}, must be an integer between 1 and {MAX_LIMIT}"
                    )))
                }
            },
            "offset" => {
                q.offset = v
                    .parse()
                    .map_err(|_| bad_param(&format!("Invalid parameter: offset {v}")))?
            }
            "marker" => q.marker = Some(v),
            "status" => {
                if !STATUSES.contains(&v.as_str()) {
                    return Err(bad_param(&format!("Invalid parameter: status {v}")));
                }
                q.statuses.push(v);
            }
            "start_time" => q.start = Some(time(&v)?),
            "end_time" => q.end = Some(time(&v)?),
            "name" => q.name = Some(v),
            "resource_id" => q.resource_id = Some(v),
            "resource_type" => q.resource_type = Some(v),
            "image_type" => q.image_type = Some(v),
            "enterprise_project_id" => q.enterprise_project = Some(v),
            "sort" => {
                // One key is enough for the demo; the rest of a key list is ignored.
                let first = v.split(',').next().unwrap_or("");
                let (key, dir) = first.split_once(':').unwrap_or((first, "desc"));
                if ![
                    "created_at",
                    "updated_at",
                    "name",
                    "status",
                    "protected_at",
                    "id",
                ]
                .contains(&key)
                    || !["asc", "desc"].contains(&dir)
                {
                    return Err(bad_param(&format!("Invalid parameter: sort {v}")));
                }
                q.sort = Some((key.to_string(), dir == "desc"));
            }
            // Other documented filters (vault_id, own_type, …) are accepted and not applied.
            _ => {}
        }
    }
    Ok(q)
}

fn list(tenant: &Tenant, raw_query: &str) -> Result<String, VendorError> {
    let q = parse_query(raw_query)?;
    let keep = |r: &Row| {
        let res = &tenant.resources[r.resource];
        (q.statuses.is_empty() || q.statuses.iter().any(|s| s == r.status))
            && q.start.is_none_or(|s| r.created >= s)
            && q.end.is_none_or(|e| r.created <= e)
            && q.name.as_ref().is_none_or(|n| *n == r.name)
            && q.resource_id.as_ref().is_none_or(|id| *id == res.id)
            && q.resource_type.as_ref().is_none_or(|t| {
                t == if res.server {
                    "OS::Nova::Server"
                } else {
                    "OS::Cinder::Volume"
                }
            })
            && q.image_type.as_ref().is_none_or(|t| {
                t == if r.replication {
                    "replication"
                } else {
                    "backup"
                }
            })
            // `enterprise_project_id`: an id lists that enterprise project's backups only,
            // `all_granted_eps` those of every enterprise project the user may see. Without
            // it, a user whose permissions are granted on the whole IAM project (every demo
            // user) sees the backups of every enterprise project: the parameter narrows the
            // listing, it is not needed to see it (assumption). (A user granted permissions only
            // per enterprise project must name one or `all_granted_eps`; the demo has none.)
            && q.enterprise_project.as_deref().is_none_or(|ep| {
                ep == "all_granted_eps" || ep == res.enterprise_project
            })
    };
    // Indices of matching rows in the requested order; the data is stored newest first.
    let mut matching: Vec<usize> = (0..tenant.rows.len())
        .filter(|&i| keep(&tenant.rows[i]))
        .collect();
    // (A plain listing still scans every row: O(n) per page is cheap next to the rendering
    // and keeps one code path for every filter combination.)
    if let Some((key, desc)) = &q.sort {
        if !(key == "created_at" && *desc) {
            let rows = &tenant.rows;
            matching.sort_by(|&a, &b| {
                let (a, b) = (&rows[a], &rows[b]);
                let o = match key.as_str() {
                    "created_at" | "protected_at" => a.created.cmp(&b.created),
                    "updated_at" => a.updated.cmp(&b.updated),
                    "name" => a.name.cmp(&b.name),
                    "status" => a.status.cmp(b.status),
                    _ => a.id.cmp(&b.id),
                };
                let o = if *desc { o.reverse() } else { o };
                o.then_with(|| a.id.cmp(&b.id))
            });
        }
    }
    let count = matching.len();
    let mut start = 0;
    if let Some(marker) = &q.marker {
        match matching.iter().position(|&i| tenant.rows[i].id == *marker) {
            Some(p) => start = p + 1,
            None => {
                return Err(bad_param(&format!(
                    "Invalid parameter: marker {marker} not found"
                )))
            }
        }
    }
    let start = start.saturating_add(q.offset).min(count);
    let end = start
        .saturating_add(q.limit.unwrap_or(MAX_LIMIT))
        .min(count);
    let mut body = format!("{{\"count\":{count},\"backups\":[");
    for (k, &i) in matching[start..end].iter().enumerate() {
        let row = &tenant.rows[i];
        if k > 0 {
            body.push(',');
        }
        body.push_str(
            row.json
                .get_or_init(|| tenant.render(row).to_string().into()),
        );
    }
    body.push_str("]}");
    Ok(body)
}

/// IAM `POST /v3/auth/tokens` (password method): 201, token in `X-Subject-Token`.
async fn issue_token(State(cbr): State<Arc<Cbr>>, req: Request) -> Response {
    let nocatalog = req
        .uri()
        .query()
        .is_some_and(|q| q.contains("nocatalog=true"));
    let (_, body) = read_body(req).await;
    let keystone = |status: StatusCode, title: &str, message: &str| {
        (
            status,
            Json(json!({"error": {"code": status.as_u16(), "message": message, "title": title}})),
        )
            .into_response()
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return keystone(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "The request body is not valid JSON.",
        );
    };
    let identity = &v["auth"]["identity"];
    let user = &identity["password"]["user"];
    let uses_password = identity["methods"]
        .as_array()
        .is_some_and(|m| m.iter().any(|x| x == "password"));
    let (Some(name), Some(password), Some(domain)) = (
        user["name"].as_str(),
        user["password"].as_str(),
        user["domain"]["name"].as_str(),
    ) else {
        return keystone(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Invalid auth identity.",
        );
    };
    let found = cbr.tenants.iter().position(|t| {
        matches!(&t.creds, Creds::Password { user: u, password: p, domain: d }
            if uses_password && u == name && p == password && d == domain)
    });
    let Some(tenant) = found else {
        return keystone(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The username or password is wrong.",
        );
    };
    let t = &cbr.tenants[tenant];
    let scope = &v["auth"]["scope"]["project"];
    let scoped = scope["id"].as_str() == Some(t.project_id.as_str())
        || scope["name"].as_str() == Some(t.region);
    if !scoped {
        return keystone(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The project scope is invalid or not authorized.",
        );
    }
    let issued_at = Utc::now();
    let expires = issued_at + chrono::Duration::hours(24);
    // Real tokens are multi-KB opaque strings starting with `MII`.
    let token = format!("MIIDemo{}{}", random_hex32(), random_hex32());
    {
        let mut tokens = cbr.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, t| t.expires > issued_at);
        tokens.insert(
            token.clone(),
            Issued {
                tenant,
                expires,
                uses: 0,
            },
        );
    }
    let stamp = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let domain_json = json!({"id": t.domain_id, "name": domain});
    let mut body = json!({
        "token": {
            "expires_at": stamp(expires),
            "issued_at": stamp(issued_at),
            "methods": ["password"],
            "project": {"id": t.project_id, "name": t.region, "domain": domain_json},
            "user": {"id": Rng::seeded(name).hex32(), "name": name, "domain": domain_json, "password_expires_at": ""},
            "roles": [{"id": "0", "name": "op_gated_cbr"}],
        }
    });
    if !nocatalog {
        body["token"]["catalog"] = json!([{
            "type": "cbr", "name": "cbr", "id": "cbr",
            "endpoints": [{"id": "cbr-public", "interface": "public", "region": t.region, "region_id": t.region, "url": cbr.ctx.base.as_str().trim_end_matches('/')}]
        }]);
    }
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&token) {
        resp.headers_mut().insert("X-Subject-Token", v);
    }
    resp
}

/// IAM `GET /v3/projects?name=<region>`: the caller's projects (how the SDK finds a project
/// id from AK/SK).
async fn list_projects(State(cbr): State<Arc<Cbr>>, req: Request) -> Response {
    let (parts, body) = read_body(req).await;
    let tenant = match cbr.authorize(&parts.method, &parts.uri, &parts.headers, &body) {
        Ok(t) => &cbr.tenants[t],
        Err(e) => return e.into_response(),
    };
    let name = decode_query(parts.uri.query().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v);
    let base = cbr.ctx.base.as_str().trim_end_matches('/');
    let projects: Vec<Value> = [tenant]
        .iter()
        .filter(|t| name.as_deref().is_none_or(|n| n == t.region))
        .map(|t| {
            json!({
                "domain_id": t.domain_id,
                "is_domain": false,
                "parent_id": t.domain_id,
                "name": t.region,
                "description": "",
                "links": {"self": format!("{base}/v3/projects/{}", t.project_id)},
                "id": t.project_id,
                "enabled": true
            })
        })
        .collect();
    let mut resp = Json(json!({
        "projects": projects,
        "links": {"self": format!("{base}/v3/projects"), "previous": null, "next": null}
    }))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&random_hex32()) {
        resp.headers_mut().insert("X-IAM-Trace-Id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::{self, Account};
    use crate::emulator::testing::{self, list_ok};
    use crate::emulator::Emulator;
    use crate::error::ErrorKind;
    use crate::filter::{Filter, NameGlob};
    use crate::model::{Backup, Status};
    use crate::providers::huawei::sign;
    use crate::providers::ListOptions;

    fn fixed_now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    async fn start(scale: Option<usize>, faults: bool) -> (Emulator, Vec<Account>) {
        let (emu, accounts) =
            testing::start(crate::model::ProviderId::Huawei, fixed_now(), scale, faults).await;
        assert_eq!(accounts.len(), 2);
        (emu, accounts)
    }

    #[tokio::test]
    async fn lists_both_demo_accounts_with_vendor_shapes_mapped() {
        let (_emu, accounts) = start(None, false).await;
        let all = list_ok(&accounts, &Filter::default()).await;
        // 48 planned backups and the two policy series (36 days, and 57 days but one).
        assert_eq!(all[0].len(), 48 + 36 + 56);
        assert_eq!(all[1].len(), 40);
        for rows in &all {
            let raw: BTreeSet<&str> = rows
                .iter()
                .filter_map(|r| r.provider_status.as_deref())
                .collect();
            assert_eq!(raw, STATUSES.into_iter().collect(), "all eight statuses");
            assert!(rows.iter().all(|r| r.status != Status::Unknown));
            let types: BTreeSet<&str> = rows
                .iter()
                .filter_map(|r| r.resource_type.as_deref())
                .collect();
            assert_eq!(types, ["server", "volume"].into_iter().collect());
            assert!(rows
                .iter()
                .any(|r| r.extra.get("image_type") == "replication"));
            // `incremental` comes top-level for some rows and only in extend_info for others.
            let in_extend = |r: &&Backup| r.extra.get("extend_info").get("incremental").is_some();
            assert!(rows.iter().any(|r| in_extend(&r)));
            assert!(rows.iter().any(|r| !in_extend(&r)));
            assert!(rows.iter().all(|r| r.incremental.is_some()));
            assert!(rows.iter().any(|r| r.expires_at.is_none()));
            assert!(rows
                .iter()
                .all(|r| r.created_at.unwrap().utc() < fixed_now()));
        }
        // The newest row of the AK/SK account: resource 0's failed backup.
        let newest = &all[0][0];
        let got = serde_json::to_value(newest).unwrap();
        let want = json!({
            "provider": "huawei",
            "account": "huawei-demo-sg",
            "status": "error",
            "provider_status": "error",
            "resource_type": "server",
            "resource_name": "ecs-web-01",
            "size_bytes": 42_949_672_960u64,
            "incremental": true,
            "description": null,
            "location": "ap-southeast-1a",
            "parent_id": null,
        });
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&got[k], v, "{k}");
        }
        let created = newest.created_at.unwrap().to_string();
        assert!(created.starts_with("2026-11-23T07:"), "{created}");
        assert_eq!(
            created.len(),
            "2026-11-23T07:00:00.000000Z".len(),
            "{created}"
        );
        assert_eq!(newest.extra.get("project_id"), SG_PROJECT);
        assert_eq!(newest.extra.get("children"), json!([]));
        assert_eq!(newest.extra.get("extend_info")["architecture"], "x86_64");
    }

    #[tokio::test]
    async fn the_same_data_every_run() {
        let (_a, accounts_a) = start(None, false).await;
        let (_b, accounts_b) = start(None, false).await;
        let a = list_ok(&accounts_a, &Filter::default()).await;
        let b = list_ok(&accounts_b, &Filter::default()).await;
        assert_eq!(a, b);
    }

    #[tokio::test]
    async fn parallel_paging_gives_exactly_the_sequential_rows() {
        let (emu, accounts) = start(Some(2_345), false).await;
        let before = emu.shared().requests();
        let parallel = list_ok(&accounts, &Filter::default()).await;
        let requests = emu.shared().requests() - before;
        let one_at_a_time = ListOptions {
            parallel: 1,
            ..ListOptions::default()
        };
        let sequential = testing::list_with(&accounts, &Filter::default(), &one_at_a_time).await;
        assert_eq!(parallel[0].len(), 2_345);
        assert_eq!(parallel[1].len(), 2_345);
        assert_eq!(
            sequential
                .into_iter()
                .map(Result::unwrap)
                .collect::<Vec<_>>(),
            parallel
        );
        let ids: BTreeSet<&str> = parallel[0].iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), 2_345, "no duplicates");
        // Per account: 3 full-ish pages of 1000 + 1 empty page; plus one IAM token request.
        assert_eq!(requests, 2 * 4 + 1);
    }

    #[tokio::test]
    async fn push_down_filters_equal_client_side_filtering() {
        let (_emu, accounts) = start(Some(300), false).await;
        let all = list_ok(&accounts, &Filter::default()).await;
        let sample = &all[0][17];
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let filters = vec![
            Filter {
                statuses: vec![Status::Creating, Status::Error],
                ..Filter::default()
            },
            Filter {
                statuses: vec![Status::Restoring, Status::Deleting, Status::Available],
                ..Filter::default()
            },
            Filter {
                statuses: vec![Status::Deleted],
                ..Filter::default()
            },
            Filter {
                // Exactly a row's time, with its fraction: floor/ceil must keep it.
                since: Some(sample.created_at.unwrap().utc()),
                until: Some(sample.created_at.unwrap().utc()),
                ..Filter::default()
            },
            Filter {
                since: Some(at("2026-11-10T00:00:00.5Z")),
                until: Some(at("2026-11-20T12:00:00.25Z")),
                ..Filter::default()
            },
            Filter {
                name: Some(NameGlob::new(sample.name.as_deref().unwrap()).unwrap()),
                ..Filter::default()
            },
            Filter {
                name: Some(NameGlob::new("manual-*").unwrap()),
                ..Filter::default()
            },
            Filter {
                resource: sample.resource_id.clone(),
                ..Filter::default()
            },
            Filter {
                resource: sample.resource_name.clone(),
                ..Filter::default()
            },
            Filter {
                statuses: vec![Status::Available],
                since: Some(at("2026-11-01T00:00:00Z")),
                resource: sample.resource_id.clone(),
                ..Filter::default()
            },
        ];
        for filter in filters {
            let pushed = list_ok(&accounts, &filter).await;
            for (acct, rows) in all.iter().enumerate() {
                let local: Vec<Backup> =
                    rows.iter().filter(|r| filter.matches(r)).cloned().collect();
                assert_eq!(pushed[acct], local, "{filter:?}");
            }
        }
        // A filter that matches something, to show the comparison is not vacuous.
        let one = Filter {
            since: Some(sample.created_at.unwrap().utc()),
            until: Some(sample.created_at.unwrap().utc()),
            ..Filter::default()
        };
        assert_eq!(list_ok(&accounts, &one).await[0].len(), 1);
    }

    #[tokio::test]
    async fn server_applies_the_filters_it_is_given() {
        let (emu, _) = start(None, false).await;
        let base = emu.urls.huawei.clone();
        let page = signed_get(
            &base,
            &format!("/v3/{SG_PROJECT}/backups"),
            &[
                ("status", "error"),
                ("status", "waiting_protect"),
                ("limit", "3"),
            ],
        )
        .await;
        assert_eq!(page.0, 200);
        let rows = page.1["backups"].as_array().unwrap();
        assert!(rows.len() <= 3 && !rows.is_empty());
        assert!(rows
            .iter()
            .all(|r| r["status"] == "error" || r["status"] == "waiting_protect"));
        let count = page.1["count"].as_u64().unwrap();
        assert!(count >= 2, "count is the total, not the page size: {count}");
        // Marker paging continues after the given id.
        let first = signed_get(
            &base,
            &format!("/v3/{SG_PROJECT}/backups"),
            &[("limit", "2")],
        )
        .await;
        let marker = first.1["backups"][1]["id"].as_str().unwrap().to_string();
        let by_offset = signed_get(
            &base,
            &format!("/v3/{SG_PROJECT}/backups"),
            &[("limit", "2"), ("offset", "2")],
        )
        .await;
        let by_marker = signed_get(
            &base,
            &format!("/v3/{SG_PROJECT}/backups"),
            &[("limit", "2"), ("marker", &marker)],
        )
        .await;
        assert_eq!(by_offset.1["backups"], by_marker.1["backups"]);
        // Past the end: an empty list, same count.
        let past = signed_get(
            &base,
            &format!("/v3/{SG_PROJECT}/backups"),
            &[("offset", "140")],
        )
        .await;
        assert_eq!(past.1, json!({"count": 140, "backups": []}));
        // limit outside 1..=1000: the service's 400 body.
        for limit in ["0", "1001", "x"] {
            let bad = signed_get(
                &base,
                &format!("/v3/{SG_PROJECT}/backups"),
                &[("limit", limit)],
            )
            .await;
            assert_eq!(bad.0, 400);
            assert_eq!(bad.1["error_code"], "BackupService.7007");
        }
        // A name with a space, sent as %20 (the SDK) and as + (form encoding).
        let spaced = signed_get(
            &base,
            &format!("/v3/{SG_PROJECT}/backups"),
            &[("name", "no such backup")],
        )
        .await;
        assert_eq!(spaced.1["count"], 0);
    }

    #[tokio::test]
    async fn backups_live_in_two_enterprise_projects_and_the_parameter_selects_them() {
        let (emu, _) = start(None, false).await;
        let base = emu.urls.huawei.clone();
        let path = format!("/v3/{SG_PROJECT}/backups");
        let list = |ep: Option<&'static str>| {
            let (base, path) = (base.clone(), path.clone());
            async move {
                let query: Vec<(&str, &str)> = ep
                    .map(|e| ("enterprise_project_id", e))
                    .into_iter()
                    .collect();
                let (status, body) = signed_get(&base, &path, &query).await;
                assert_eq!(status, 200, "{ep:?}: {body}");
                let rows = body["backups"].as_array().unwrap().clone();
                assert_eq!(body["count"].as_u64(), Some(rows.len() as u64));
                rows
            }
        };
        let projects = |rows: &[Value]| -> BTreeSet<String> {
            rows.iter()
                .map(|r| r["enterprise_project_id"].as_str().unwrap().to_string())
                .collect()
        };
        // Without the parameter a project-wide user sees every enterprise project.
        let all = list(None).await;
        assert_eq!(all.len(), 140);
        assert_eq!(
            projects(&all),
            BTreeSet::from(["0".into(), ERP_PROJECT.into()])
        );
        assert_eq!(list(Some("all_granted_eps")).await, all);
        let erp = list(Some(ERP_PROJECT)).await;
        assert_eq!(erp.len(), 36 + 56);
        assert_eq!(projects(&erp), BTreeSet::from([ERP_PROJECT.to_string()]));
        let default = list(Some("0")).await;
        assert_eq!(default.len(), 48);
        assert_eq!(projects(&default), BTreeSet::from(["0".to_string()]));
        assert!(list(Some("00000000-0000-4000-8000-000000000000"))
            .await
            .is_empty());
        // The parameter is signed like any other: changing it after signing is refused.
        let tampered = signed_get_as(
            &base,
            &path,
            &[("enterprise_project_id", "0")],
            SG_SK,
            Utc::now(),
            Some(&format!("enterprise_project_id={ERP_PROJECT}")),
        )
        .await;
        assert_eq!(tampered.0, 401);
        assert_eq!(tampered.1["error_code"], "APIGW.0301");
        // The token account has one enterprise project only.
        let (token, _) = issue_demo_token(&base).await;
        let resp = reqwest::Client::new()
            .get(format!(
                "{base}v3/{TOKEN_PROJECT}/backups?enterprise_project_id={ERP_PROJECT}"
            ))
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(body, json!({"count": 0, "backups": []}));
    }

    #[tokio::test]
    async fn the_policy_series_have_a_backup_every_day_but_one() {
        let (_emu, accounts) = start(None, false).await;
        let rows = list_ok(&accounts, &Filter::default()).await.remove(0);
        let days = |name: &str| -> Vec<String> {
            let mine: Vec<&Backup> = rows
                .iter()
                .filter(|r| r.resource_name.as_deref() == Some(name))
                .collect();
            assert!(mine.iter().all(|r| r.status == Status::Available
                && r.extra.get("enterprise_project_id") == ERP_PROJECT));
            let days: Vec<String> = mine
                .iter()
                .map(|r| r.created_at.unwrap().utc().format("%Y-%m-%d").to_string())
                .collect();
            let unique: BTreeSet<&String> = days.iter().collect();
            assert_eq!(unique.len(), days.len(), "{name}: one a day");
            days
        };
        // The series run eight hours and a few minutes before the listing's time of day:
        // with the pinned 08:00, just before midnight of the day before.
        let date = |d: i64| {
            (fixed_now() - chrono::Duration::days(d + 1))
                .format("%Y-%m-%d")
                .to_string()
        };
        // Newest first, one a day for five weeks.
        let app = days("ecs-erp-app");
        assert_eq!(app, (0..36).map(date).collect::<Vec<_>>());
        // Eight weeks, with no backup three days before.
        let db = days("evs-erp-db");
        let want: Vec<String> = (0..57).filter(|&d| d != 3).map(date).collect();
        assert_eq!(db, want);
        assert_eq!(date(3), "2026-11-19");
        // Every other backup is in the default enterprise project.
        assert!(rows
            .iter()
            .filter(|r| !r.resource_name.as_deref().unwrap().contains("-erp-"))
            .all(|r| r.extra.get("enterprise_project_id") == "0"));
    }

    /// A GET signed like the SDK (its canonical query is the wire query).
    async fn signed_get(base: &Url, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        signed_get_as(base, path, query, SG_SK, Utc::now(), None).await
    }

    async fn signed_get_as(
        base: &Url,
        path: &str,
        query: &[(&str, &str)],
        sk: &str,
        at: DateTime<Utc>,
        raw_query: Option<&str>,
    ) -> (u16, Value) {
        let host = format!("{}:{}", base.host_str().unwrap(), base.port().unwrap());
        let date = sign::sdk_date(at);
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let headers = [("X-Sdk-Date", date.as_str()), ("X-Project-Id", SG_PROJECT)];
        let signed = sign::sign(
            &sign::Request {
                method: "GET",
                host: &host,
                path,
                query: &pairs,
                headers: &headers,
                body: b"",
            },
            SG_AK,
            sk,
        );
        let wire = raw_query.unwrap_or(&signed.query);
        let url = format!("http://{host}{path}?{wire}");
        let resp = reqwest::Client::new()
            .get(url)
            .header("X-Sdk-Date", &date)
            .header("X-Project-Id", SG_PROJECT)
            .header("Authorization", signed.authorization)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (
            status,
            serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn verifies_signatures_like_the_gateway() {
        let (emu, _) = start(None, false).await;
        let base = emu.urls.huawei.clone();
        let path = format!("/v3/{SG_PROJECT}/backups");
        // `+` on the wire is read as a space, as the SDK's server side accepts.
        let plus = signed_get_as(
            &base,
            &path,
            &[("name", "a b")],
            SG_SK,
            Utc::now(),
            Some("name=a+b"),
        )
        .await;
        assert_eq!(plus.0, 200, "{}", plus.1);
        // A wrong secret: 401 APIGW.0301 with a request id.
        let wrong = signed_get_as(&base, &path, &[], "not-the-secret", Utc::now(), None).await;
        assert_eq!(wrong.0, 401);
        assert_eq!(wrong.1["error_code"], "APIGW.0301");
        assert!(wrong.1["request_id"]
            .as_str()
            .is_some_and(|s| s.len() == 32));
        // A query changed after signing.
        let tampered = signed_get_as(
            &base,
            &path,
            &[("limit", "5")],
            SG_SK,
            Utc::now(),
            Some("limit=6"),
        )
        .await;
        assert_eq!(tampered.1["error_code"], "APIGW.0301");
        // Skew beyond 15 minutes of the real clock (not the demo's `now`): APIGW.0303.
        let old = signed_get_as(
            &base,
            &path,
            &[],
            SG_SK,
            Utc::now() - chrono::Duration::minutes(16),
            None,
        )
        .await;
        assert_eq!(old.0, 401);
        assert_eq!(old.1["error_code"], "APIGW.0303");
        assert!(old.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("signature expired"));
        let near = signed_get_as(
            &base,
            &path,
            &[],
            SG_SK,
            Utc::now() - chrono::Duration::minutes(14),
            None,
        )
        .await;
        assert_eq!(near.0, 200);
        // Another project's path: 403 with a vendor body.
        let other = signed_get(&base, &format!("/v3/{TOKEN_PROJECT}/backups"), &[]).await;
        assert_eq!(other.0, 403);
        assert!(other.1["error_code"].is_string());
        // IAM project lookup by region name.
        let projects = signed_get(&base, "/v3/projects", &[("name", SG_REGION)]).await;
        assert_eq!(projects.0, 200);
        assert_eq!(projects.1["projects"][0]["id"], SG_PROJECT);
        let none = signed_get(&base, "/v3/projects", &[("name", "eu-west-0")]).await;
        assert_eq!(none.1["projects"], json!([]));
        // Unsigned, unknown route, wrong method.
        let client = reqwest::Client::new();
        let anon = client
            .get(format!("{base}v3/{SG_PROJECT}/backups"))
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status().as_u16(), 401);
        let unknown = client
            .get(format!("{base}v2/nothing"))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status().as_u16(), 404);
        let body: Value = serde_json::from_slice(&unknown.bytes().await.unwrap()).unwrap();
        assert_eq!(body["error_code"], "APIGW.0101");
        let post = client
            .delete(format!("{base}v3/auth/tokens"))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status().as_u16(), 404);
    }

    #[tokio::test]
    async fn a_wrong_secret_key_is_an_auth_error_naming_account_path_and_status() {
        let (emu, _) = start(None, false).await;
        let toml =
            demo_config(&emu.urls.huawei, &emu.shared().options).replace(SG_SK, "wrong-secret-key");
        let cfg = config::parse(&toml, std::path::Path::new("t.toml"), &|_| None).unwrap();
        let sg: Vec<Account> = cfg
            .accounts
            .into_iter()
            .filter(|a| a.name == SG_ACCOUNT)
            .collect();
        let results = testing::list(&sg, &Filter::default()).await;
        let err = results[0].as_ref().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        let text = err.to_string();
        assert!(text.starts_with(&format!("{SG_ACCOUNT}: GET /v3/{SG_PROJECT}/backups: HTTP 401: APIGW.0301: Incorrect IAM authentication information")), "{text}");
        assert!(!text.contains("wrong-secret-key"));
    }

    #[tokio::test]
    async fn a_wrong_iam_password_is_an_auth_error() {
        let (emu, _) = start(None, false).await;
        let toml =
            demo_config(&emu.urls.huawei, &emu.shared().options).replace(TOKEN_PASSWORD, "nope");
        let cfg = config::parse(&toml, std::path::Path::new("t.toml"), &|_| None).unwrap();
        let acct: Vec<Account> = cfg
            .accounts
            .into_iter()
            .filter(|a| a.name == TOKEN_ACCOUNT)
            .collect();
        let results = testing::list(&acct, &Filter::default()).await;
        let err = results[0].as_ref().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        assert_eq!(
            err.to_string(),
            format!("{TOKEN_ACCOUNT}: POST /v3/auth/tokens: HTTP 401: 401: The username or password is wrong.")
        );
    }

    #[tokio::test]
    async fn a_given_token_works_and_a_forged_one_is_refused() {
        let (emu, _) = start(None, false).await;
        let base = emu.urls.huawei.clone();
        let (token, v) = issue_demo_token(&base).await;
        assert!(v["token"]["expires_at"].as_str().unwrap().ends_with('Z'));
        assert!(v["token"].get("catalog").is_none());
        for (token, ok) in [(token.as_str(), true), ("MIIforged", false)] {
            let toml = format!(
                "[accounts.hw-token]\nprovider = \"huawei\"\nendpoint = \"{base}\"\niam_endpoint = \"{base}\"\nproject_id = \"{TOKEN_PROJECT}\"\ntoken = \"{token}\"\n"
            );
            let results = list_config(&toml).await;
            match &results[0] {
                Ok(rows) => assert!(ok && rows.len() == 40),
                Err(e) => {
                    assert!(!ok, "{e}");
                    assert_eq!(e.kind, ErrorKind::Auth);
                    assert!(e.to_string().contains("HTTP 401: APIGW.0301"), "{e}");
                }
            }
        }
    }

    #[tokio::test]
    async fn without_a_project_id_the_project_is_looked_up_by_region() {
        let (emu, accounts) = start(None, false).await;
        let want = list_ok(&accounts, &Filter::default()).await;
        let base = emu.urls.huawei.clone();
        let common =
            format!("provider = \"huawei\"\nendpoint = \"{base}\"\niam_endpoint = \"{base}\"\n");
        let (token, _) = issue_demo_token(&base).await;
        let toml = format!(
            "[accounts.aksk]\n{common}region = \"{SG_REGION}\"\naccess_key = \"{SG_AK}\"\nsecret_key = \"{SG_SK}\"\n\
             [accounts.password]\n{common}region = \"{TOKEN_REGION}\"\nuser = \"{TOKEN_USER}\"\npassword = \"{TOKEN_PASSWORD}\"\ndomain = \"{TOKEN_DOMAIN}\"\n\
             [accounts.token]\n{common}region = \"{TOKEN_REGION}\"\ntoken = \"{token}\"\n\
             [accounts.elsewhere]\n{common}region = \"eu-west-0\"\naccess_key = \"{SG_AK}\"\nsecret_key = \"{SG_SK}\"\n"
        );
        let before = emu.shared().requests();
        let results = list_config(&toml).await;
        let ids = |rows: &[Backup]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let got: Vec<_> = results.iter().map(|r| r.as_deref().map(ids)).collect();
        assert_eq!(got[0].as_ref().unwrap(), &ids(&want[0]));
        assert_eq!(got[1].as_ref().unwrap(), &ids(&want[1]));
        assert_eq!(got[2].as_ref().unwrap(), &ids(&want[1]));
        let err = results[3].as_ref().unwrap_err();
        assert_eq!(
            err.to_string(),
            "elsewhere: IAM has no project named `eu-west-0` for these credentials; set project_id"
        );
        // A lookup for AK/SK and for the given token, no extra call for the password (its
        // login's token names the project), two pages each (the rows, then the empty page),
        // and the failed lookup: 3 + 3 + 3 + 1.
        assert_eq!(emu.shared().requests() - before, 10);
    }

    /// Lists every account of a config text.
    async fn list_config(toml: &str) -> Vec<crate::error::Result<Vec<Backup>>> {
        let cfg = config::parse(toml, std::path::Path::new("t.toml"), &|_| None).unwrap();
        testing::list(&cfg.accounts, &Filter::default()).await
    }

    /// A password login scoped by region name, as a user would get a token to configure:
    /// the token and the response body.
    async fn issue_demo_token(base: &Url) -> (String, Value) {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": TOKEN_USER, "password": TOKEN_PASSWORD, "domain": {"name": TOKEN_DOMAIN}}}},
            "scope": {"project": {"name": TOKEN_REGION}}}});
        let resp = reqwest::Client::new()
            .post(format!("{base}v3/auth/tokens?nocatalog=true"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let token = resp.headers()["X-Subject-Token"]
            .to_str()
            .unwrap()
            .to_string();
        (
            token,
            serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
        )
    }

    #[tokio::test]
    async fn expiring_tokens_and_throttling_are_survived_without_duplicates() {
        let (emu, accounts) = start(Some(3_500), true).await;
        let all = list_ok(&accounts, &Filter::default()).await;
        assert_eq!(all[0].len(), 3_500);
        assert_eq!(all[1].len(), 3_500);
        let (_quiet, quiet_accounts) = start(Some(3_500), false).await;
        let want = list_ok(&quiet_accounts, &Filter::default()).await;
        assert_eq!(all, want);
        // Without faults: 5 list calls per account and one token request.
        assert!(emu.shared().requests() > 11, "faults cost extra requests");
    }
}
