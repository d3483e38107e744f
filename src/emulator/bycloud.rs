//! Emulator of ByCloud's `GET /v1/backups` (docs.bycoded.cloud block-storage/list-backups):
//! the vendor's side of the wire, sharing no code with the adapter.
//!
//! It imitates what `docs/providers/bycloud.md#what-the-emulator-imitates` lists: `Authorization:
//! Bearer` or `X-Api-Key: id:secret` (else the vendor's 401 body with a `req-<uuid>`), `limit`
//! (default 20, at most 100) + `marker` paging with `meta {total, limit, marker, has_more}`, the
//! documented `links.*` that wrongly point at `/v1/instances`, the `name` (exact or `prefix*`),
//! `status` (case-insensitive) and `volume_id` filters, `X-RateLimit-*` headers on every response,
//! statuses in mixed case (429s under `--faults` come from the shared fault layer).
//!
//! Backups carry no expiry: on later days ([`super::Timeline`]) each volume's oldest backup
//! goes as a new one arrives (rotation), and on day 1 the first account loses one backup early
//! (not its volume's oldest) and sees another turn to `error`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use reqwest::Url;
use serde_json::{json, Value};

use super::faults::Vendor;
use super::{bulk_numbers, fresh, pick, plan, ApiCtx, EmulatorOptions, Rng, Timeline};

/// Page size when the request gives none (documented).
const DEFAULT_LIMIT: usize = 20;
/// Largest page size accepted; the vendor documents none, so this one is the emulator's.
const MAX_LIMIT: usize = 100;
/// Requests a minute of the middle rate-limit tier (documented tiers: 60/300/1,000).
const RATE_LIMIT: u64 = 300;
/// Backups per demo account when no scale is given.
const DEFAULT_BACKUPS: usize = 40;

/// A demo account: its name, region, credentials.
struct DemoAccount {
    name: String,
    /// Written into the config; `None` = endpoint only (rows then have no `location`).
    region: Option<&'static str>,
    credential: Credential,
}

enum Credential {
    Bearer(String),
    ApiKey(String, String),
}

/// The demo accounts: the two default ones, or the generated ones of `accounts` (bearer
/// token and API key in turn).
fn demo_accounts(options: &EmulatorOptions) -> Vec<DemoAccount> {
    let Some(numbers) = bulk_numbers(options, Vendor::Bycloud) else {
        return vec![
            DemoAccount {
                name: "bycloud-demo-spo".into(),
                region: Some("spo1"),
                credential: Credential::Bearer("bycloud-demo-token-3b7e1f".into()),
            },
            DemoAccount {
                name: "bycloud-demo-key".into(),
                region: None,
                credential: Credential::ApiKey(
                    "BCAKDEMO0001".into(),
                    "bycloud-demo-secret-9c4d2a".into(),
                ),
            },
        ];
    };
    numbers
        .into_iter()
        .enumerate()
        .map(|(j, k)| DemoAccount {
            name: format!("bycloud-demo-{k:03}"),
            region: (j % 2 == 0).then_some("spo1"),
            credential: if j % 2 == 0 {
                Credential::Bearer(format!("bycloud-demo-token-{k:03}"))
            } else {
                Credential::ApiKey(
                    format!("BCAKDEMO{k:04}"),
                    format!("bycloud-demo-secret-{k:03}"),
                )
            },
        })
        .collect()
}

/// The vendor's success values (mixed case, as the API sends them).
const SUCCESS: [&str; 3] = ["available", "ACTIVE", "Completed"];
/// The other values, in the order `plan()` hands out special slots: slot 0 is resource 0's
/// newest backup, which should fail for `audit` to find.
const SPECIALS: [&str; 7] = [
    "error",
    "creating",
    "FAILED",
    "restoring",
    "deleting",
    "deleted",
    "archived", // not in ByCloud's documented set: shows the `unknown` mapping
];

/// Volumes of each demo account: name, size in GiB, team.
const VOLUMES: [(&str, u64, &str); 6] = [
    ("web-01", 20, "frontend"),
    ("web-02", 20, "frontend"),
    ("db-main", 100, "backend"),
    ("db-replica", 100, "backend"),
    ("logs", 50, "platform"),
    ("media-archive", 250, "platform"),
];

/// One stored backup: the fields filters need, and its JSON as served.
struct Row {
    id: String,
    name: String,
    /// Lower-cased: the `status` filter ignores case.
    status: String,
    volume_id: String,
    json: Value,
}

/// One account's backups, newest first, with an id → position index for markers.
struct Dataset {
    rows: Vec<Row>,
    index: HashMap<String, usize>,
}

/// The API's state, built once at router creation.
struct Api {
    base: Url,
    /// Credential (`Bearer` token, or `id:secret`) → dataset.
    tokens: HashMap<String, usize>,
    keys: HashMap<String, usize>,
    data: Vec<Dataset>,
    requests: AtomicU64,
}

/// The API's routes.
pub(crate) fn router(ctx: ApiCtx) -> Router {
    let options = &ctx.shared.options;
    let timeline = Timeline::of(options);
    let n = options.scale.unwrap_or(DEFAULT_BACKUPS);
    let mut tokens = HashMap::new();
    let mut keys = HashMap::new();
    let mut data = Vec::new();
    for (i, account) in demo_accounts(options).into_iter().enumerate() {
        match account.credential {
            Credential::Bearer(t) => {
                tokens.insert(t, i);
            }
            Credential::ApiKey(id, secret) => {
                keys.insert(format!("{id}:{secret}"), i);
            }
        }
        data.push(dataset(&account.name, &timeline, n, i == 0));
    }
    let api = Arc::new(Api {
        base: ctx.base,

        tokens,
        keys,
        data,
        requests: AtomicU64::new(0),
    });
    Router::new()
        .route("/v1/backups", get(list_backups))
        .route("/v1/instances", get(list_instances))
        .fallback(not_found)
        .with_state(api)
}

/// Demo accounts in config form (`docs/emulator.md#demo-accounts`).
pub(crate) fn demo_config(base: &Url, options: &EmulatorOptions) -> String {
    let mut out = String::new();
    for a in &demo_accounts(options) {
        out.push_str(&format!("[accounts.{}]\nprovider = \"bycloud\"\n", a.name));
        if let Some(region) = a.region {
            out.push_str(&format!("region = \"{region}\"\n"));
        }
        out.push_str(&format!("endpoint = \"{base}\"\n"));
        match &a.credential {
            Credential::Bearer(t) => out.push_str(&format!("token = \"{t}\"\n")),
            Credential::ApiKey(id, secret) => out.push_str(&format!(
                "api_key_id = \"{id}\"\napi_key_secret = \"{secret}\"\n"
            )),
        }
        out.push('\n');
    }
    out
}

/// What becomes of a ByCloud status once the day after it was seen is reached: a backup being
/// created or restored is available again, one being deleted is `deleted`, and a `deleted`
/// record is gone; failures and unknown values stay.
fn settled(status: &'static str) -> Option<&'static str> {
    match status {
        "creating" | "restoring" => Some("available"),
        "deleting" => Some("deleted"),
        "deleted" => None,
        other => Some(other),
    }
}

/// A row's JSON before it is stored.
struct Draft {
    created: DateTime<Utc>,
    volume: usize,
    status: &'static str,
    json: Value,
}

/// The vendor's time format: whole seconds, or milliseconds when the value has them.
fn vendor_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Builds one account's backups of `timeline`'s day, O(n): `plan()` decides resource, time
/// and status slot of day 0 (dated from the anchor), then the days after it: statuses settle,
/// each volume that gets a new daily backup drops its oldest (rotation), and in the `first`
/// account day 1 deletes one available backup early (not its volume's oldest) and turns
/// another one to `error`.
fn dataset(account: &str, timeline: &Timeline, n: usize, first: bool) -> Dataset {
    let mut rng = Rng::seeded(&format!("{account}/bycloud"));
    let volume_ids: Vec<String> = VOLUMES.iter().map(|_| rng.uuid()).collect();
    let planned = plan(account, timeline.anchor(), n, VOLUMES.len(), SPECIALS.len());
    let early = first.then(|| pick(&planned, 2, 2, |_| true)).flatten();
    let broken = first
        .then(|| pick(&planned, 3, 1, |i| Some(i) != early))
        .flatten();
    let mut drafts: Vec<Draft> = Vec::with_capacity(n);
    for (i, p) in planned.iter().enumerate() {
        let (volume, size, team) = VOLUMES[p.resource];
        let day = i / VOLUMES.len();
        let id = rng.uuid();
        let status = match p.special {
            Some(k) => SPECIALS[k % SPECIALS.len()],
            None => SUCCESS[i % SUCCESS.len()],
        };
        // Most times in whole seconds like the docs' example; every fifth with milliseconds.
        let created = if i % 5 == 4 {
            p.created.trunc_subsecs(3)
        } else {
            p.created.trunc_subsecs(0)
        };
        let updated = if status == "creating" {
            created
        } else {
            created + chrono::Duration::seconds(60 + size as i64 * 3)
        };
        // A weekly full backup, incrementals in between; a full one with newer
        // incrementals has dependents.
        let incremental = !day.is_multiple_of(7);
        let description = match (i % 4, incremental) {
            (1, _) => String::new(),
            (_, true) => format!("Nightly incremental backup of {volume}"),
            (_, false) => format!("Weekly full backup of {volume}"),
        };
        let metadata = if i % 6 == 5 {
            json!({})
        } else {
            json!({
                "environment": if team == "platform" { "staging" } else { "production" },
                "team": team,
            })
        };
        let name = format!("{volume}-{}", created.format("%Y%m%d-%H%M"));
        let json = json!({
            "id": id,
            "crn": format!("crn:spo1:storage:backup:{id}"),
            "name": name,
            "description": description,
            "status": status,
            "volume_id": volume_ids[p.resource],
            "size": size,
            "container": "volumebackups-spo1",
            "is_incremental": incremental,
            "has_dependent_backups": !incremental && day > 0,
            "snapshot_id": rng.uuid(),
            "metadata": metadata,
            "created_at": vendor_time(created),
            "updated_at": vendor_time(updated),
        });
        drafts.push(Draft {
            created,
            volume: p.resource,
            status,
            json,
        });
    }
    if timeline.day >= 1 {
        let changed = vendor_time(timeline.during(1));
        let mut kept = Vec::with_capacity(drafts.len());
        for (i, mut d) in drafts.into_iter().enumerate() {
            let next = if Some(i) == early {
                None
            } else if Some(i) == broken {
                Some("error")
            } else {
                settled(d.status)
            };
            match next {
                None => continue,
                Some(s) if s != d.status => {
                    d.status = s;
                    d.json["status"] = json!(s);
                    d.json["updated_at"] = json!(changed);
                }
                Some(_) => {}
            }
            kept.push(d);
        }
        drafts = kept;
    }
    for f in fresh(account, timeline, VOLUMES.len()) {
        let mut r = f.rng;
        let (volume, size, team) = VOLUMES[f.resource];
        // Rotation: the volume's oldest backup goes as the new one arrives.
        if let Some(oldest) = drafts
            .iter()
            .enumerate()
            .filter(|(_, d)| d.volume == f.resource)
            .min_by_key(|(_, d)| d.created)
            .map(|(k, _)| k)
        {
            drafts.remove(oldest);
        }
        let id = r.uuid();
        let created = f.created.trunc_subsecs(0);
        let status = if f.in_progress {
            "creating"
        } else {
            SUCCESS[f.day as usize % SUCCESS.len()]
        };
        let updated = if f.in_progress {
            created
        } else {
            created + chrono::Duration::seconds(60 + size as i64 * 3)
        };
        let incremental = f.day % 7 != 0;
        let name = format!("{volume}-{}", created.format("%Y%m%d-%H%M"));
        let json = json!({
            "id": id,
            "crn": format!("crn:spo1:storage:backup:{id}"),
            "name": name,
            "description": if incremental {
                format!("Nightly incremental backup of {volume}")
            } else {
                format!("Weekly full backup of {volume}")
            },
            "status": status,
            "volume_id": volume_ids[f.resource],
            "size": size,
            "container": "volumebackups-spo1",
            "is_incremental": incremental,
            "has_dependent_backups": false,
            "snapshot_id": r.uuid(),
            "metadata": {
                "environment": if team == "platform" { "staging" } else { "production" },
                "team": team,
            },
            "created_at": vendor_time(created),
            "updated_at": vendor_time(updated),
        });
        drafts.push(Draft {
            created,
            volume: f.resource,
            status,
            json,
        });
    }
    let mut rows: Vec<(DateTime<Utc>, Row)> = drafts
        .into_iter()
        .map(|d| {
            let row = Row {
                id: d.json["id"].as_str().unwrap_or_default().to_string(),
                name: d.json["name"].as_str().unwrap_or_default().to_string(),
                status: d.status.to_ascii_lowercase(),
                volume_id: volume_ids[d.volume].clone(),
                json: d.json,
            };
            (d.created, row)
        })
        .collect();
    // Newest first, as the API lists them.
    rows.sort_by(|(a, ra), (b, rb)| b.cmp(a).then_with(|| ra.id.cmp(&rb.id)));
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    let index = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    Dataset { rows, index }
}

impl Api {
    /// A fresh `req-<uuid>` for error bodies.
    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("req-{}", Rng::seeded(&format!("bycloud-req-{n}")).uuid())
    }

    /// The vendor's error body.
    fn error(&self, status: StatusCode, message: &str, details: Option<&str>) -> Response {
        let mut error = json!({"code": status.as_u16(), "message": message});
        if let Some(d) = details {
            error["details"] = json!(d);
        }
        error["request_id"] = json!(self.request_id());
        (status, Json(json!({ "error": error }))).into_response()
    }

    /// The dataset the request's credentials open, if any.
    fn authorize(&self, headers: &HeaderMap) -> Option<&Dataset> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let by_token = header("authorization")
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .and_then(|(_, token)| self.tokens.get(token.trim()));
        let by_key = || {
            header("x-api-key")
                .filter(|v| v.contains(':'))
                .and_then(|v| self.keys.get(v.trim()))
        };
        by_token.or_else(by_key).map(|&i| &self.data[i])
    }

    /// The vendor's 401.
    fn unauthorized(&self) -> Response {
        self.error(
            StatusCode::UNAUTHORIZED,
            "Authentication required or token invalid",
            None,
        )
    }

    /// `{base}v1/instances?{pairs}`: where the vendor's `links` point (sic).
    fn link(&self, pairs: &[(String, String)]) -> String {
        let mut url = self.base.clone();
        url.set_path("/v1/instances");
        url.query_pairs_mut().extend_pairs(pairs);
        url.to_string()
    }
}

/// The filters of one list request.
struct Query {
    limit: usize,
    marker: Option<String>,
    name: Option<String>,
    status: Option<String>,
    volume_id: Option<String>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Result<Query, (&'static str, String)> {
        let pairs: HashMap<String, String> =
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let get = |k: &str| pairs.get(k).filter(|v| !v.is_empty()).cloned();
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err((
                        "Invalid parameter: limit",
                        format!("limit must be an integer from 1 to {MAX_LIMIT}, got {l}"),
                    ))
                }
            },
        };
        Ok(Query {
            limit,
            marker: get("marker"),
            name: get("name"),
            status: get("status"),
            volume_id: get("volume_id"),
        })
    }

    fn filters(&self) -> bool {
        self.name.is_some() || self.status.is_some() || self.volume_id.is_some()
    }

    fn matches(&self, row: &Row) -> bool {
        let name_ok = match self.name.as_deref() {
            None => true,
            Some(n) => match n.strip_suffix('*') {
                Some(prefix) => row.name.starts_with(prefix),
                None => row.name == n,
            },
        };
        name_ok
            && self
                .status
                .as_deref()
                .is_none_or(|s| row.status.eq_ignore_ascii_case(s))
            && self.volume_id.as_deref().is_none_or(|v| row.volume_id == v)
    }

    /// The query of a link: the same filters, this limit, and `marker`.
    fn link_pairs(&self, marker: Option<&str>) -> Vec<(String, String)> {
        let mut pairs = vec![("limit".to_string(), self.limit.to_string())];
        for (k, v) in [
            ("name", &self.name),
            ("status", &self.status),
            ("volume_id", &self.volume_id),
        ] {
            if let Some(v) = v {
                pairs.push((k.to_string(), v.clone()));
            }
        }
        if let Some(m) = marker {
            pairs.push(("marker".to_string(), m.to_string()));
        }
        pairs
    }
}

/// `GET /v1/backups`.
async fn list_backups(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(data) = api.authorize(&headers) else {
        return api.unauthorized();
    };
    let q = match Query::parse(raw.as_deref()) {
        Ok(q) => q,
        Err((message, details)) => {
            return api.error(StatusCode::BAD_REQUEST, message, Some(&details))
        }
    };
    let start = match q.marker.as_deref() {
        None => 0,
        Some(m) => match data.index.get(m) {
            Some(&i) => i + 1,
            None => {
                return api.error(
                    StatusCode::BAD_REQUEST,
                    "Invalid parameter: marker",
                    Some(&format!("no backup with id {m}")),
                )
            }
        },
    };
    let rows = &data.rows;
    let mut page = Vec::with_capacity(q.limit);
    let mut i = start;
    while i < rows.len() && page.len() < q.limit {
        if q.matches(&rows[i]) {
            page.push(&rows[i]);
        }
        i += 1;
    }
    let has_more = rows[i..].iter().any(|r| q.matches(r));
    let total = if q.filters() {
        rows.iter().filter(|r| q.matches(r)).count()
    } else {
        rows.len()
    };
    let last = page.last().map(|r| r.id.as_str());
    let previous = q.marker.as_ref().map(|_| {
        // The page before this one ends at the marker: walk back `limit` matching rows; its
        // own marker is the matching row before those (none: it was the first page).
        let mut seen = 0;
        let before = rows[..start]
            .iter()
            .rev()
            .filter(|r| q.matches(r))
            .find(|_| {
                seen += 1;
                seen > q.limit
            });
        api.link(&q.link_pairs(before.map(|r| r.id.as_str())))
    });
    let body = json!({
        "backups": page.iter().map(|r| &r.json).collect::<Vec<_>>(),
        "meta": {
            "total": total,
            "limit": q.limit,
            "marker": last,
            "has_more": has_more,
        },
        "links": {
            "self": api.link(&q.link_pairs(q.marker.as_deref())),
            "next": if has_more { Some(api.link(&q.link_pairs(last))) } else { None },
            "previous": previous,
        },
    });
    Json(body).into_response()
}

/// `GET /v1/instances`: where the vendor's `links.next` points. A real ByCloud answers it with
/// compute instances, not backups; a client that follows the link gets a page with no
/// `backups` key, which must not pass for the end of the listing.
async fn list_instances(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    if api.authorize(&headers).is_none() {
        return api.unauthorized();
    }
    Json(json!({
        "instances": [],
        "meta": {"total": 0, "limit": DEFAULT_LIMIT, "marker": null, "has_more": false},
    }))
    .into_response()
}

async fn not_found(State(api): State<Arc<Api>>, uri: Uri) -> Response {
    api.error(
        StatusCode::NOT_FOUND,
        "Resource not found",
        Some(&format!("no route for {}", uri.path())),
    )
}

/// Adds `X-RateLimit-*` to every response, as ByCloud documents. Applied outside the shared
/// fault layer, so the 429s it injects under `--faults` carry them too (remaining 0).
pub(crate) fn with_rate_limit(router: Router) -> Router {
    let window: RateWindow = Arc::new(Mutex::new((0, 0)));
    router.layer(middleware::from_fn_with_state(window, rate_limit))
}

/// (minute, requests in it), for `X-RateLimit-Remaining`.
type RateWindow = Arc<Mutex<(i64, u64)>>;

async fn rate_limit(State(window): State<RateWindow>, req: Request, next: Next) -> Response {
    let now = Utc::now().timestamp();
    let minute = now.div_euclid(60);
    let used = {
        let mut w = window.lock().unwrap_or_else(|e| e.into_inner());
        if w.0 != minute {
            *w = (minute, 0);
        }
        w.1 += 1;
        w.1
    };
    let mut resp = next.run(req).await;
    let remaining = if resp.status() == StatusCode::TOO_MANY_REQUESTS {
        0
    } else {
        RATE_LIMIT.saturating_sub(used)
    };
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", RATE_LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", ((minute + 1) * 60).to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Account, Settings};
    use crate::emulator::testing::{self, list, list_ok};
    use crate::emulator::Emulator;
    use crate::error::ErrorKind;
    use crate::filter::{Filter, NameGlob};
    use crate::http::{Http, HttpOptions};
    use crate::model::{Backup, ProviderId, Status};
    use crate::providers::bycloud::BycloudAuth;
    use crate::providers::{run_all, ListOptions};
    use crate::secret::Secret;

    fn now() -> DateTime<Utc> {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn day0() -> Timeline {
        Timeline { now: now(), day: 0 }
    }

    async fn start(scale: Option<usize>, faults: bool) -> (Emulator, Vec<Account>) {
        testing::start(ProviderId::Bycloud, now(), scale, faults).await
    }

    /// Parses a raw emulator body (reqwest is built without its `json` feature).
    trait ToJson {
        fn to_json(&self) -> Value;
    }

    impl ToJson for [u8] {
        fn to_json(&self) -> Value {
            serde_json::from_slice(self).unwrap()
        }
    }

    fn http() -> Http {
        Http::new(HttpOptions::default()).unwrap()
    }

    fn ids(rows: &[Backup]) -> Vec<&str> {
        rows.iter().map(|r| r.id.as_str()).collect()
    }

    #[tokio::test]
    async fn lists_every_backup_across_pages_with_both_auth_styles() {
        let (emu, accounts) = start(Some(250), false).await;
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["bycloud-demo-spo", "bycloud-demo-key"]);
        let before = emu.shared().requests();
        let lists = list_ok(&accounts, &Filter::default()).await;
        // 250 rows at limit 100: three pages per account, and never a request to the
        // `/v1/instances` links (following them would also end the listing at 100 rows).
        assert_eq!(emu.shared().requests() - before, 6);
        for (rows, account) in lists.iter().zip(&accounts) {
            assert_eq!(rows.len(), 250, "{}", account.name);
            let mut unique = ids(rows);
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 250);
            assert!(rows
                .windows(2)
                .all(|w| w[0].created_at.map(|t| t.utc()) >= w[1].created_at.map(|t| t.utc())));
            let mut raw: Vec<&str> = rows
                .iter()
                .filter_map(|r| r.provider_status.as_deref())
                .collect();
            raw.sort();
            raw.dedup();
            assert_eq!(
                raw,
                [
                    "ACTIVE",
                    "Completed",
                    "FAILED",
                    "archived",
                    "available",
                    "creating",
                    "deleted",
                    "deleting",
                    "error",
                    "restoring"
                ]
            );
        }
        let (spo, key) = (&lists[0], &lists[1]);
        assert!(spo.iter().all(|r| r.location.as_deref() == Some("spo1")));
        assert!(key.iter().all(|r| r.location.is_none()));
        assert_ne!(spo[0].id, key[0].id, "each account has its own data");
        assert_eq!(
            serde_json::to_value(&spo[0]).unwrap(),
            json!({
                "provider": "bycloud", "account": "bycloud-demo-spo",
                "id": "6dcda874-be1b-4665-9129-568bf9e99a80", "name": "web-01-20240501-1126",
                "status": "error", "provider_status": "error", "resource_type": "volume",
                "resource_id": "259e8655-e731-480b-ae0d-db55365c3a52", "resource_name": null,
                "size_bytes": 21474836480u64,
                "created_at": "2024-05-01T11:26:59Z", "updated_at": "2024-05-01T11:28:59Z",
                "expires_at": null, "incremental": false,
                "description": "Weekly full backup of web-01", "location": "spo1",
                "parent_id": null,
                "extra": {
                    "crn": "crn:spo1:storage:backup:6dcda874-be1b-4665-9129-568bf9e99a80",
                    "container": "volumebackups-spo1", "has_dependent_backups": false,
                    "snapshot_id": "c70f606c-d801-45f2-8ee4-24e9e4aaeaf8",
                    "metadata": {"environment": "production", "team": "frontend"}
                }
            })
        );
        // Every row against the vendor JSON it came from (times to the digit).
        let vendor = dataset("bycloud-demo-key", &day0(), 250, false);
        let mut fractions = 0;
        for (row, v) in key.iter().zip(&vendor.rows) {
            let v = &v.json;
            let text = |k: &str| v[k].as_str().map(String::from);
            assert_eq!(Some(row.id.clone()), text("id"));
            assert_eq!(row.name, text("name"));
            assert_eq!(row.provider_status, text("status"));
            assert_eq!(row.resource_id, text("volume_id"));
            assert_eq!(row.size_bytes, v["size"].as_u64().map(|g| g << 30));
            assert_eq!(row.created_at.map(|t| t.to_string()), text("created_at"));
            assert_eq!(row.updated_at.map(|t| t.to_string()), text("updated_at"));
            assert_eq!(row.incremental, v["is_incremental"].as_bool());
            assert_eq!(
                row.description,
                text("description").filter(|d| !d.is_empty())
            );
            let mut extra = v.as_object().unwrap().clone();
            for k in [
                "id",
                "name",
                "status",
                "volume_id",
                "size",
                "created_at",
                "updated_at",
                "is_incremental",
                "description",
            ] {
                extra.remove(k);
            }
            assert_eq!(row.extra, extra);
            fractions += usize::from(text("created_at").unwrap().contains('.'));
        }
        assert!(fractions > 0, "some times carry milliseconds");
    }

    #[tokio::test]
    async fn default_demo_has_a_few_dozen_backups_per_account() {
        let (_emu, accounts) = start(None, false).await;
        let lists = list_ok(&accounts, &Filter::default()).await;
        let counts: Vec<usize> = lists.iter().map(Vec::len).collect();
        assert_eq!(counts, [DEFAULT_BACKUPS, DEFAULT_BACKUPS]);
        for rows in &lists {
            for status in [
                Status::Available,
                Status::Creating,
                Status::Restoring,
                Status::Deleting,
                Status::Deleted,
                Status::Error,
                Status::Unknown,
            ] {
                assert!(rows.iter().any(|r| r.status == status), "{status}");
            }
            assert!(rows.iter().any(|r| r.description.is_none()));
            assert!(rows.iter().any(|r| r.incremental == Some(true)));
            assert!(rows.iter().any(|r| r.incremental == Some(false)));
        }
    }

    #[tokio::test]
    async fn pushed_down_filters_give_the_rows_client_filtering_gives() {
        let (emu, accounts) = start(Some(250), false).await;
        let all = list_ok(&accounts, &Filter::default()).await;
        let some_name = all[0][7].name.clone().unwrap();
        let some_volume = all[1][3].resource_id.clone().unwrap();
        let glob = |g: &str| Some(NameGlob::new(g).unwrap());
        // (filter, whether it may match nothing)
        let cases = [
            (
                Filter {
                    name: glob(&some_name),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    name: glob("web-*"),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    name: glob("db-?ain*"),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    statuses: vec![Status::Creating],
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    statuses: vec![Status::Deleted],
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    statuses: vec![Status::Available],
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    statuses: vec![Status::Error],
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    statuses: vec![Status::Unknown],
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    statuses: vec![Status::Restoring, Status::Cancelled],
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    statuses: vec![Status::Cancelled],
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    resource: Some(some_volume.clone()),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    resource: Some("web-01".into()),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    name: glob("db-*"),
                    statuses: vec![Status::Available],
                    resource: Some(some_volume.clone()),
                    ..Filter::default()
                },
                true,
            ),
        ];
        for (filter, may_be_empty) in cases {
            let pushed = list_ok(&accounts, &filter).await;
            let client: Vec<Vec<Backup>> = all
                .iter()
                .map(|rows| rows.iter().filter(|r| filter.matches(r)).cloned().collect())
                .collect();
            assert_eq!(pushed, client, "{filter:?}");
            if !may_be_empty {
                assert!(pushed.iter().any(|rows| !rows.is_empty()), "{filter:?}");
            }
        }
        // The server did filter: a rare status fits one page per account.
        let before = emu.shared().requests();
        let creating = list_ok(
            &accounts,
            &Filter {
                statuses: vec![Status::Creating],
                ..Filter::default()
            },
        )
        .await;
        assert_eq!(emu.shared().requests() - before, 2);
        assert!(creating
            .iter()
            .flatten()
            .all(|r| r.provider_status.as_deref() == Some("creating")));
    }

    #[tokio::test]
    async fn bad_credentials_are_auth_errors_naming_account_request_and_status() {
        let (_emu, mut accounts) = start(None, false).await;
        for a in &mut accounts {
            let Settings::Bycloud(c) = &mut a.settings else {
                unreachable!()
            };
            c.auth = match &c.auth {
                BycloudAuth::Bearer(_) => BycloudAuth::Bearer(Secret::new("wrong-token")),
                BycloudAuth::ApiKey { id, .. } => BycloudAuth::ApiKey {
                    id: id.clone(),
                    secret: Secret::new("wrong-secret"),
                },
            };
        }
        let results = run_all(
            &http(),
            &accounts,
            &Filter::default(),
            &ListOptions::default(),
        )
        .await;
        for r in results {
            let err = r.result.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Auth);
            let text = err.to_string();
            let want = format!(
                "{}: GET /v1/backups: HTTP 401: Authentication required or token invalid [request req-",
                r.account
            );
            assert!(text.starts_with(&want), "{text}");
            assert!(!text.contains("wrong-"), "{text}");
        }
    }

    #[tokio::test]
    async fn speaks_the_vendor_wire_format() {
        let (emu, _) = start(None, false).await;
        let base = &emu.urls.bycloud;
        let client = reqwest::Client::new();
        let get = |path: &str, auth: Option<(&str, &str)>| {
            let mut req = client.get(base.join(path).unwrap());
            if let Some((k, v)) = auth {
                req = req.header(k, v);
            }
            req.send()
        };
        let bearer = Some(("Authorization", "bearer bycloud-demo-token-3b7e1f"));

        let resp = get("v1/backups?limit=5", bearer).await.unwrap();
        assert_eq!(resp.status(), 200);
        for h in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(resp.headers().contains_key(h), "{h}");
        }
        let page: Value = resp.bytes().await.unwrap().to_json();
        let last = page["backups"][4]["id"].as_str().unwrap().to_string();
        assert_eq!(page["backups"].as_array().unwrap().len(), 5);
        assert_eq!(
            page["meta"],
            json!({"total": DEFAULT_BACKUPS, "limit": 5, "marker": last, "has_more": true})
        );
        assert_eq!(page["links"]["self"], format!("{base}v1/instances?limit=5"));
        assert_eq!(
            page["links"]["next"],
            format!("{base}v1/instances?limit=5&marker={last}")
        );
        assert_eq!(page["links"]["previous"], Value::Null);

        let second: Value = get(&format!("v1/backups?limit=5&marker={last}"), bearer)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_json();
        assert_ne!(second["backups"][0]["id"], page["backups"][0]["id"]);
        assert_eq!(
            second["links"]["previous"],
            format!("{base}v1/instances?limit=5")
        );

        // Status filters ignore case; every row carries the documented fields.
        let active: Value = get("v1/backups?status=active&limit=100", bearer)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_json();
        let rows = active["backups"].as_array().unwrap();
        assert!(!rows.is_empty());
        for row in rows {
            assert_eq!(row["status"], "ACTIVE");
            let mut keys: Vec<&str> = row
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "container",
                    "created_at",
                    "crn",
                    "description",
                    "has_dependent_backups",
                    "id",
                    "is_incremental",
                    "metadata",
                    "name",
                    "size",
                    "snapshot_id",
                    "status",
                    "updated_at",
                    "volume_id"
                ]
            );
        }

        let error_of = |status: u16| {
            move |v: Value| {
                assert_eq!(v["error"]["code"], status, "{v}");
                assert!(
                    v["error"]["request_id"]
                        .as_str()
                        .unwrap()
                        .starts_with("req-"),
                    "{v}"
                );
            }
        };
        for (path, auth, status) in [
            ("v1/backups?limit=101", bearer, 400),
            ("v1/backups?limit=0", bearer, 400),
            (
                "v1/backups?marker=00000000-0000-4000-8000-000000000000",
                bearer,
                400,
            ),
            ("v1/backups", None, 401),
            ("v1/backups", Some(("Authorization", "Bearer nope")), 401),
            (
                "v1/backups",
                Some(("X-Api-Key", "bycloud-demo-secret-9c4d2a")),
                401,
            ),
            ("v1/volumes", bearer, 404),
        ] {
            let resp = get(path, auth).await.unwrap();
            assert_eq!(resp.status(), status, "{path}");
            assert!(resp.headers().contains_key("x-ratelimit-limit"), "{path}");
            error_of(status)(resp.bytes().await.unwrap().to_json());
        }
        let key = Some(("X-Api-Key", "BCAKDEMO0001:bycloud-demo-secret-9c4d2a"));
        assert_eq!(get("v1/backups", key).await.unwrap().status(), 200);
        // Where `links.next` leads: no `backups` there.
        let instances: Value = get("v1/instances", key)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_json();
        assert!(instances.get("backups").is_none());
    }

    #[tokio::test]
    async fn throttled_requests_are_retried_after_the_stated_seconds() {
        let (emu, accounts) = start(Some(250), true).await;
        let lists = list_ok(&accounts, &Filter::default()).await;
        assert_eq!(lists.iter().map(Vec::len).collect::<Vec<_>>(), [250, 250]);
        // Six pages, plus at least one 429 retried.
        assert!(emu.shared().requests() >= 7, "{}", emu.shared().requests());
        // The injected 429 carries the rate-limit headers too, as every ByCloud answer does.
        let client = reqwest::Client::new();
        let mut throttled = None;
        for limit in 1..=4 {
            let url = emu.urls.bycloud.join(&format!("v1/backups?limit={limit}"));
            let resp = client
                .get(url.unwrap())
                .header("Authorization", "Bearer bycloud-demo-token-3b7e1f")
                .send()
                .await
                .unwrap();
            if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                throttled = Some(resp);
                break;
            }
        }
        let resp = throttled.expect("a first try of a listing is throttled under faults");
        assert_eq!(resp.headers()["retry-after"], "1");
        assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
        assert_eq!(
            resp.headers()["x-ratelimit-limit"],
            RATE_LIMIT.to_string().as_str()
        );
    }

    /// A one-route `/v1/backups` server answering with `answer(query)`; returns an account
    /// pointing at it and the log of query strings it saw.
    async fn fake_server<F>(answer: F) -> (Account, Arc<Mutex<Vec<String>>>)
    where
        F: Fn(&HashMap<String, String>) -> (StatusCode, Value) + Send + Sync + 'static,
    {
        let answer = Arc::new(answer);
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let app = Router::new().route(
            "/v1/backups",
            get(move |RawQuery(q): RawQuery| {
                let (answer, seen) = (answer.clone(), seen.clone());
                async move {
                    let q = q.unwrap_or_default();
                    seen.lock().unwrap().push(q.clone());
                    let pairs = url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect();
                    let (status, body) = answer(&pairs);
                    (status, Json(body))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let toml = format!(
            "[accounts.bc-fake]\nprovider = \"bycloud\"\nendpoint = \"http://{addr}\"\ntoken = \"t\"\n"
        );
        let cfg = crate::config::parse(&toml, Path::new("(test)"), &|_| None).unwrap();
        (cfg.accounts.into_iter().next().unwrap(), log)
    }

    #[tokio::test]
    async fn a_refused_limit_falls_back_to_20_and_full_pages_continue_without_meta() {
        let ids: Vec<String> = (0..45).map(|i| format!("r{i:02}")).collect();
        let (account, log) = fake_server(move |q| {
            if q.get("limit").map(String::as_str) == Some("100") {
                let body = json!({"error": {"code": 400, "message": "limit too large"}});
                return (StatusCode::BAD_REQUEST, body);
            }
            let limit: usize = q["limit"].parse().unwrap();
            let start = q
                .get("marker")
                .map_or(0, |m| ids.iter().position(|id| id == m).unwrap() + 1);
            let rows: Vec<Value> = ids[start..]
                .iter()
                .take(limit)
                .map(|id| json!({"id": id, "status": "available"}))
                .collect();
            // No `meta`: the client must go on while pages are full.
            (StatusCode::OK, json!({ "backups": rows }))
        })
        .await;
        let rows = list_ok(std::slice::from_ref(&account), &Filter::default()).await;
        assert_eq!(rows[0].len(), 45);
        assert_eq!(
            *log.lock().unwrap(),
            [
                "limit=100",
                "limit=20",
                "limit=20&marker=r19",
                "limit=20&marker=r39"
            ]
        );
    }

    #[tokio::test]
    async fn a_repeated_marker_fails_the_account_instead_of_looping() {
        let (account, log) = fake_server(|q| {
            let id = format!("b-{}", q.get("marker").map_or("first", String::as_str));
            let body = json!({
                "backups": [{"id": id}],
                "meta": {"marker": "same", "has_more": true},
                "links": {"next": "http://127.0.0.1:9/v1/instances?marker=elsewhere"},
            });
            (StatusCode::OK, body)
        })
        .await;
        let err = list(&[account], &Filter::default())
            .await
            .remove(0)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Paging);
        assert_eq!(
            err.to_string(),
            "bc-fake: the server repeated the marker same; stopped instead of looping"
        );
        assert_eq!(*log.lock().unwrap(), ["limit=100", "limit=100&marker=same"]);
    }

    #[test]
    fn demo_config_parses() {
        let base = Url::parse("http://127.0.0.1:4000/").unwrap();
        let cfg = crate::config::parse(
            &demo_config(&base, &EmulatorOptions::default()),
            Path::new("(demo)"),
            &|_| None,
        )
        .unwrap();
        assert_eq!(cfg.accounts.len(), 2);
        let Settings::Bycloud(spo) = &cfg.accounts[0].settings else {
            panic!()
        };
        assert_eq!(spo.region.as_deref(), Some("spo1"));
        assert_eq!(spo.endpoint, base);
        let Settings::Bycloud(key) = &cfg.accounts[1].settings else {
            panic!()
        };
        assert!(key.region.is_none());
        assert!(matches!(key.auth, BycloudAuth::ApiKey { .. }));
    }

    #[test]
    fn data_is_deterministic_and_exactly_scaled() {
        let a = dataset("bycloud-demo-spo", &day0(), 1000, true);
        let b = dataset("bycloud-demo-spo", &day0(), 1000, true);
        assert_eq!(a.rows.len(), 1000);
        assert_eq!(a.index.len(), 1000);
        assert!(a.rows.iter().zip(&b.rows).all(|(x, y)| x.json == y.json));
        assert!(a
            .rows
            .iter()
            .all(|r| r.json["created_at"].as_str().unwrap() < "2024-05-01T12:00:00Z"));
    }
}
