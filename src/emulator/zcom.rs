//! Emulator of Z.com's identity (Keystone v2.0) and backup listing (`docs/providers/zcom.md`), on
//! one listener: `POST /v2.0/tokens` in the shape keystoneauth1's v2 `Password` plugin reads, and
//! `GET /v2/{tenant_id}/backup` (plus `/backup/{id}`) answering `{"backup":[group…]}` the way
//! the vendor page shows it: served as `text/html`, pretty-printed, with trailing commas after
//! the `backupruns` of groups holding several runs.
//!
//! The vendor page's response also states a wrong `Content-Length`; hyper always sends the
//! true length, so that quirk is not imitated (the adapter never relies on the header).
//!
//! With `faults`, every other token it issues is dead on arrival, so each listing meets one
//! 401 and has to authenticate again. On later days ([`super::Timeline`]) runs settle, each VM
//! with a schedule gets a daily run, and runs older than three weeks go.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use reqwest::Url;
use serde_json::{json, Value};

use super::faults::Vendor;
use super::{bulk_numbers, fresh, plan, ApiCtx, EmulatorOptions, Rng, Sessions, Timeline};

/// A demo account: how it appears in the config and the tenant behind it.
struct Demo {
    account: &'static str,
    /// `Some(region)`: the config names the region and compute endpoint; `None`: only the
    /// identity endpoint, so the adapter takes the compute URL from the service catalog.
    config_region: Option<&'static str>,
    /// The region of the tenant's catalog entries.
    region: &'static str,
    tenant_id: &'static str,
    tenant_name: &'static str,
    username: &'static str,
    password: &'static str,
}

/// A demo account as served: one of [`DEMOS`], or a generated one of `accounts`.
struct Spec {
    account: String,
    config_region: Option<&'static str>,
    region: &'static str,
    tenant_id: String,
    tenant_name: String,
    username: String,
    password: String,
}

/// The demo accounts: [`DEMOS`], or the generated ones of `accounts` (the region configured
/// and only the identity endpoint in turn).
fn specs(options: &EmulatorOptions) -> Vec<Spec> {
    let Some(numbers) = bulk_numbers(options, Vendor::Zcom) else {
        return DEMOS
            .iter()
            .map(|d| Spec {
                account: d.account.into(),
                config_region: d.config_region,
                region: d.region,
                tenant_id: d.tenant_id.into(),
                tenant_name: d.tenant_name.into(),
                username: d.username.into(),
                password: d.password.into(),
            })
            .collect();
    };
    numbers
        .into_iter()
        .enumerate()
        .map(|(j, k)| {
            let account = format!("zcom-demo-{k:03}");
            Spec {
                tenant_id: Rng::seeded(&format!("{account}/tenant")).hex32(),
                account,
                config_region: (j % 2 == 0).then_some("tyo1"),
                region: "tyo1",
                tenant_name: format!("gnct{k:08}"),
                username: format!("gncu{k:08}"),
                password: format!("zcom-demo-password-{k:03}"),
            }
        })
        .collect()
}

const DEMOS: [Demo; 2] = [
    Demo {
        account: "zcom-demo-tyo",
        config_region: Some("tyo1"),
        region: "tyo1",
        tenant_id: "1864e71d2deb46f6b47526b69c65a45d",
        tenant_name: "gnct12345678",
        username: "gncu12345678",
        password: "zcom-demo-password",
    },
    Demo {
        account: "zcom-demo-catalog",
        config_region: None,
        region: "sin1",
        tenant_id: "7d3c2b1a0f9e4d8c8b7a6f5e4d3c2b1a",
        tenant_name: "gnct87654321",
        username: "gncu87654321",
        password: "zcom-demo-catalog-password",
    },
];

/// Backup runs per demo account unless `scale` says otherwise.
const DEFAULT_RUNS: usize = 30;

/// VMs per demo account (one backup group each).
const INSTANCES: usize = 5;

/// Token lifetime: the vendor's examples show 24 hours.
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The non-success run statuses, in the order `plan()` hands out its special slots.
const SPECIAL_STATUSES: [&str; 6] = [
    "error",
    "creating",
    "queued",
    "restoring",
    "deleting",
    "deleted",
];

const UNAUTHORIZED: &str = "The request you have made requires authentication.";

/// One backup group, serialised once (pretty, with the vendor's trailing comma if any).
struct Group {
    id: String,
    text: String,
}

struct Tenant {
    id: String,
    name: String,
    region: &'static str,
    username: String,
    password: String,
    user_id: String,
    groups: Vec<Group>,
    /// The whole listing body, built once.
    listing: String,
}

struct Api {
    base: Url,
    tenants: Vec<Tenant>,
    /// Tokens, by tenant index.
    tokens: Sessions<usize>,
}

/// The API's routes.
pub(crate) fn router(ctx: ApiCtx) -> Router {
    let options = &ctx.shared.options;
    let timeline = Timeline::of(options);
    let n = options.scale.unwrap_or(DEFAULT_RUNS);
    let tenants = specs(options)
        .into_iter()
        .map(|d| {
            let mut rng = Rng::seeded(&d.account);
            let groups = build_groups(&mut rng, &d.account, &timeline, n);
            let listing = body(groups.iter().map(|g| g.text.as_str()));
            Tenant {
                id: d.tenant_id,
                name: d.tenant_name,
                region: d.region,
                username: d.username,
                password: d.password,
                user_id: rng.hex32(),
                groups,
                listing,
            }
        })
        .collect();
    let api = Arc::new(Api {
        base: ctx.base.clone(),
        tenants,
        tokens: Sessions::new(TOKEN_LIFETIME, options.faults),
    });
    Router::new()
        .route("/v2.0/tokens", post(tokens))
        .route("/v2/{tenant}/backup", get(list))
        .route("/v2/{tenant}/backup/{id}", get(show))
        .fallback(|| async {
            nova_error(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "The resource could not be found.",
            )
        })
        .with_state(api)
}

/// Demo accounts in config form (`docs/emulator.md#demo-accounts`).
pub(crate) fn demo_config(base: &Url, options: &EmulatorOptions) -> String {
    let mut out = String::new();
    for d in &specs(options) {
        out.push_str(&format!("[accounts.{}]\nprovider = \"zcom\"\n", d.account));
        if let Some(region) = d.config_region {
            out.push_str(&format!(
                "region = \"{region}\"\ncompute_endpoint = \"{base}v2\"\n"
            ));
        }
        out.push_str(&format!(
            "identity_endpoint = \"{base}v2.0\"\ntenant_id = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n\n",
            d.tenant_id, d.username, d.password
        ));
    }
    out.trim_end().to_string() + "\n"
}

/// Keystone's error shape.
fn keystone_error(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "code": status.as_u16(), "title": title}})),
    )
        .into_response()
}

/// Nova's error shape: `{"<faultName>": {"message", "code"}}`.
fn nova_error(status: StatusCode, fault: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ fault: {"message": message, "code": status.as_u16()} })),
    )
        .into_response()
}

/// `POST /v2.0/tokens` with `passwordCredentials` and `tenantId` or `tenantName`.
async fn tokens(State(api): State<Arc<Api>>, body: Bytes) -> Response {
    let bad = || {
        keystone_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Expecting to find passwordCredentials in auth - the server could not comply with the request since it is either malformed or otherwise incorrect.",
        )
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return bad();
    };
    let auth = &req["auth"];
    let creds = &auth["passwordCredentials"];
    let (Some(username), Some(password)) = (creds["username"].as_str(), creds["password"].as_str())
    else {
        return bad();
    };
    let tenant_id = auth["tenantId"].as_str();
    let tenant_name = auth["tenantName"].as_str();
    // A Z.com API user belongs to one tenant; naming none scopes the token to it
    // (assumption: the vendor documents neither).
    let found = api.tenants.iter().position(|t| {
        t.username == username
            && t.password == password
            && tenant_id.is_none_or(|id| id == t.id)
            && tenant_name.is_none_or(|name| name == t.name)
    });
    let Some(index) = found else {
        return keystone_error(StatusCode::UNAUTHORIZED, "Unauthorized", UNAUTHORIZED);
    };
    let t = &api.tenants[index];
    let id = api.tokens.issue(index);
    // Token times follow the real clock (clients compare them with theirs), not the demo's
    // `now`. `issued_at` has microseconds and no zone, `expires` whole seconds and `Z`.
    let now = Utc::now();
    let expires = now + chrono::Duration::from_std(TOKEN_LIFETIME).unwrap_or_default();
    let base = &api.base;
    (StatusCode::OK, Json(json!({
            "access": {
                "token": {
                    "issued_at": now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                    "expires": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "id": id,
                    "tenant": {
                        "domain_id": "gnc",
                        "description": "v2 tenant",
                        "enabled": true,
                        "id": t.id,
                        "name": t.name
                    },
                    "audit_ids": [format!("{:016x}", fastrand::u64(..))]
                },
                "serviceCatalog": [
                    {
                        "endpoints": [{"region": t.region, "publicURL": format!("{base}v2/{}", t.id)}],
                        "endpoints_links": [],
                        "type": "compute",
                        "name": "Compute Service"
                    },
                    {
                        "endpoints": [{"region": t.region, "publicURL": format!("{base}v2.0")}],
                        "endpoints_links": [],
                        "type": "identity",
                        "name": "Identity Service"
                    }
                ],
                "user": {
                    "username": t.username,
                    "roles_links": [],
                    "id": t.user_id,
                    "roles": [{"name": "_member_"}],
                    "name": t.username
                },
                "metadata": {"is_admin": 0, "roles": []}
            }
        }))).into_response()
}

/// The tenant of a live token for `tenant_id`, or the vendor's refusal.
fn authorize(api: &Api, headers: &HeaderMap, tenant_id: &str) -> Result<usize, Box<Response>> {
    let unauthorized = || {
        Box::new(keystone_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            UNAUTHORIZED,
        ))
    };
    let token = headers
        .get("X-Auth-Token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let tenant = api.tokens.owner(token).ok_or_else(unauthorized)?;
    if api.tenants[tenant].id != tenant_id {
        return Err(Box::new(nova_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            &format!("Tenant {tenant_id} could not be found."),
        )));
    }
    Ok(tenant)
}

/// The vendor serves its JSON as HTML.
fn html_reply(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    r
}

/// `GET /v2/{tenant_id}/backup`.
async fn list(
    State(api): State<Arc<Api>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    match authorize(&api, &headers, &tenant) {
        Ok(t) => html_reply(api.tenants[t].listing.clone()),
        Err(r) => *r,
    }
}

/// `GET /v2/{tenant_id}/backup/{backup_id}`: the same `{"backup":[…]}` shape, one group.
async fn show(
    State(api): State<Arc<Api>>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let t = match authorize(&api, &headers, &tenant) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match api.tenants[t].groups.iter().find(|g| g.id == id) {
        Some(g) => html_reply(body(std::iter::once(g.text.as_str()))),
        None => nova_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            &format!("Backup {id} could not be found."),
        ),
    }
}

/// `{"backup": [groups…]}` laid out like the vendor page (two-space indent).
fn body<'a>(groups: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from("{\n  \"backup\": [\n");
    for (i, g) in groups.enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        for (j, line) in g.lines().enumerate() {
            if j > 0 {
                out.push('\n');
            }
            out.push_str("    ");
            out.push_str(line);
        }
    }
    out.push_str("\n  ]\n}\n");
    out
}

/// What becomes of a run status once the day after it was seen is reached: queued and running
/// runs complete, a restore completes, a deletion completes (`deleted`), and a `deleted`
/// record is gone; failures stay.
fn settled(status: &'static str) -> Option<&'static str> {
    match status {
        "creating" | "queued" | "restoring" => Some("available"),
        "deleting" => Some("deleted"),
        "deleted" => None,
        other => Some(other),
    }
}

/// How long Z.com keeps a backup run (the vendor deletes runs after three weeks), unless day 0
/// already holds older runs (a large `scale`): then just longer than its oldest.
const RETENTION_DAYS: i64 = 21;

/// The backup groups of one tenant on `timeline`'s day: one per VM, day 0's `n` runs (dated
/// from the anchor) with every status at least once (when `n` allows), one run not yet started
/// (`""` time), one group with the detail example's group-level fields; then the days after
/// day 0: statuses settle, runs older than three weeks go, and each VM but the stale one gets
/// its daily run.
fn build_groups(rng: &mut Rng, seed: &str, timeline: &Timeline, n: usize) -> Vec<Group> {
    let anchor = timeline.anchor();
    let stamp = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let vms: Vec<(String, String, String)> = (0..INSTANCES)
        .map(|_| (rng.uuid(), rng.uuid(), rng.uuid()))
        .collect();
    // Per VM, newest first: (creation time if started, run).
    let mut runs: Vec<Vec<(Option<DateTime<Utc>>, Value)>> = vec![Vec::new(); INSTANCES];
    let mut blank_time_given = false;
    let mut oldest_day0 = anchor;
    let run = |status: &str, created_at: String, id: String, vm: usize, volume: bool| {
        if volume {
            json!({
                "status": status,
                "created_at": created_at,
                "backuprun_id": id,
                "volume_id": vms[vm].2,
                "type": "volume"
            })
        } else {
            json!({
                "status": status,
                "created_at": created_at,
                "backuprun_id": id,
                "type": "instance"
            })
        }
    };
    for (i, p) in plan(seed, anchor, n, INSTANCES, SPECIAL_STATUSES.len())
        .into_iter()
        .enumerate()
    {
        oldest_day0 = oldest_day0.min(p.created);
        let status = p.special.map_or("available", |k| {
            SPECIAL_STATUSES[k % SPECIAL_STATUSES.len()]
        });
        // A queued run has not started: the detail example's "" time.
        let mut created = if status == "queued" && !blank_time_given {
            blank_time_given = true;
            None
        } else {
            Some(p.created)
        };
        let id = rng.hex32();
        // Varies per VM and day, so several VMs get volume runs.
        let volume = (i / INSTANCES + p.resource) % 3 == 1;
        let mut status = Some(status);
        if timeline.day >= 1 {
            status = status.and_then(settled);
            if created.is_none() {
                // The queued run ran during day 1.
                created = Some(timeline.during(1));
            }
        }
        let Some(status) = status else { continue };
        let created_at = created.map(stamp).unwrap_or_default();
        runs[p.resource].push((created, run(status, created_at, id, p.resource, volume)));
    }
    for f in fresh(seed, timeline, INSTANCES) {
        let mut r = f.rng;
        let status = if f.in_progress {
            "creating"
        } else {
            "available"
        };
        let volume = (f.day as usize + f.resource) % 3 == 1;
        // Newest first, like the day-0 runs above.
        runs[f.resource].insert(
            0,
            (
                Some(f.created),
                run(status, stamp(f.created), r.hex32(), f.resource, volume),
            ),
        );
    }
    let retention = RETENTION_DAYS.max((anchor - oldest_day0).num_days() + 1);
    let oldest_kept = timeline.now - chrono::Duration::days(retention);
    let runs: Vec<Vec<Value>> = runs
        .into_iter()
        .map(|vm| {
            vm.into_iter()
                .filter(|(t, _)| t.is_none_or(|t| t >= oldest_kept))
                .map(|(_, v)| v)
                .collect()
        })
        .collect();
    vms.into_iter()
        .zip(runs)
        .enumerate()
        .map(|(k, ((instance_id, id, _), mut runs))| {
            // Oldest first, as on the vendor page.
            runs.reverse();
            let several = runs.len() > 1;
            let mut group = serde_json::Map::new();
            group.insert("instance_id".into(), json!(instance_id));
            group.insert("id".into(), json!(id));
            if k == 2 {
                // The detail example's group-level fields.
                group.insert("type".into(), json!("server"));
                group.insert(
                    "created_at".into(),
                    json!(stamp(anchor - chrono::Duration::days(400))),
                );
            }
            // `backupruns` last, so the vendor's trailing comma goes right after it.
            group.insert("backupruns".into(), Value::Array(runs));
            let mut text = serde_json::to_string_pretty(&Value::Object(group)).unwrap_or_default();
            if several {
                // The vendor page has `],` closing the runs of groups holding several.
                if let Some(at) = text.rfind(']') {
                    text.insert(at + 1, ',');
                }
            }
            Group { id, text }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::config::{Account, Settings};
    use crate::emulator::testing::list;
    use crate::emulator::Emulator;
    use crate::error::ErrorKind;
    use crate::filter::Filter;
    use crate::model::{Backup, Status};
    use crate::providers::zcom::ZcomAuth;
    use crate::secret::Secret;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
    }

    async fn start(scale: Option<usize>, faults: bool) -> (Emulator, Vec<Account>) {
        crate::emulator::testing::start(crate::model::ProviderId::Zcom, now(), scale, faults).await
    }

    #[tokio::test]
    async fn lists_every_demo_run_of_both_accounts() {
        let (_emu, accounts) = start(None, false).await;
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["zcom-demo-tyo", "zcom-demo-catalog"]);
        let results = list(&accounts, &Filter::default()).await;
        let tyo = results[0].as_ref().unwrap();
        let catalog = results[1].as_ref().unwrap();
        assert_eq!(tyo.len(), DEFAULT_RUNS);
        assert_eq!(catalog.len(), DEFAULT_RUNS);
        // The region is configured for one account only.
        assert!(tyo.iter().all(|r| r.location.as_deref() == Some("tyo1")));
        assert!(catalog.iter().all(|r| r.location.is_none()));

        for rows in [tyo, catalog] {
            let mut statuses: BTreeMap<String, Status> = BTreeMap::new();
            for r in rows.iter() {
                statuses.insert(r.provider_status.clone().unwrap(), r.status);
                assert_eq!(r.id.len(), 32, "dashless run id");
                assert!(!r.id.contains('-'));
                let instance = r.extra.get("instance_id");
                let instance = instance.as_str();
                match r.extra.get("type").as_str().unwrap() {
                    "instance" => {
                        assert_eq!(r.resource_type.as_deref(), Some("server"));
                        assert_eq!(r.resource_id.as_deref(), instance);
                    }
                    "volume" => {
                        assert_eq!(r.resource_type.as_deref(), Some("volume"));
                        assert_ne!(r.resource_id.as_deref(), instance);
                    }
                    other => panic!("type {other}"),
                }
            }
            let want: BTreeMap<String, Status> = [
                ("available", Status::Available),
                ("creating", Status::Creating),
                ("deleted", Status::Deleted),
                ("deleting", Status::Deleting),
                ("error", Status::Error),
                ("queued", Status::Creating),
                ("restoring", Status::Restoring),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            assert_eq!(statuses, want);
            assert_eq!(rows.iter().filter(|r| r.created_at.is_none()).count(), 1);
            assert!(rows.iter().any(|r| r.extra.get("group")
                == json!({"type": "server", "created_at": "2023-04-28T12:00:00Z"})));
        }

        // One row exactly: the first planned run of zcom-demo-tyo, its first VM's newest,
        // which failed (it is the last run of the first group: runs are oldest first).
        let failed = tyo.iter().find(|r| r.status == Status::Error).unwrap();
        let got = serde_json::to_value(failed).unwrap();
        let want = json!({
            "provider": "zcom",
            "account": "zcom-demo-tyo",
            "id": "4b413ee8e9f0ffab216050ea520cdc54",
            "name": null,
            "status": "error",
            "provider_status": "error",
            "resource_type": "server",
            "resource_id": "44b9216f-e0d3-4a4b-b950-18776c47efb0",
            "resource_name": null,
            "size_bytes": null,
            "created_at": "2024-06-01T11:10:59Z",
            "updated_at": null,
            "expires_at": null,
            "incremental": null,
            "description": null,
            "location": "tyo1",
            "parent_id": "efe5d9b3-6f80-4805-9247-5595abaecd67",
            "extra": {
                "instance_id": "44b9216f-e0d3-4a4b-b950-18776c47efb0",
                "type": "instance"
            }
        });
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn scale_sets_the_exact_count_in_one_response() {
        let (emu, accounts) = start(Some(1000), false).await;
        let results = list(&accounts[..1], &Filter::default()).await;
        assert_eq!(results[0].as_ref().unwrap().len(), 1000);
        // tokens + one unpaged list.
        assert_eq!(emu.shared().requests(), 2);
    }

    #[tokio::test]
    async fn client_side_filters_match_filtering_the_full_listing() {
        let (_emu, accounts) = start(None, false).await;
        let all = list(&accounts[..1], &Filter::default())
            .await
            .remove(0)
            .unwrap();
        let since = now() - chrono::Duration::days(2);
        let a_volume = all
            .iter()
            .find(|r| r.resource_type.as_deref() == Some("volume"))
            .and_then(|r| r.resource_id.clone())
            .unwrap();
        let filters = [
            Filter {
                statuses: vec![Status::Creating, Status::Restoring],
                ..Default::default()
            },
            Filter {
                since: Some(since),
                ..Default::default()
            },
            Filter {
                resource: Some(a_volume),
                ..Default::default()
            },
        ];
        for f in filters {
            let got = list(&accounts[..1], &f).await.remove(0).unwrap();
            let want: Vec<Backup> = all.iter().filter(|r| f.matches(r)).cloned().collect();
            assert!(!want.is_empty(), "{f:?}");
            assert!(want.len() < all.len(), "{f:?}");
            assert_eq!(got, want, "{f:?}");
        }
    }

    #[tokio::test]
    async fn bad_password_is_an_auth_error_naming_account_path_and_401() {
        let (_emu, mut accounts) = start(None, false).await;
        for a in &mut accounts {
            if let Settings::Zcom(c) = &mut a.settings {
                if let ZcomAuth::Password { password, .. } = &mut c.auth {
                    *password = Secret::new("wrong");
                }
            }
        }
        let results = list(&accounts, &Filter::default()).await;
        for (account, result) in ["zcom-demo-tyo", "zcom-demo-catalog"].iter().zip(results) {
            let err = result.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Auth);
            assert_eq!(
                err.to_string(),
                format!("{account}: POST /v2.0/tokens: HTTP 401: Unauthorized: The request you have made requires authentication.")
            );
        }
    }

    #[tokio::test]
    async fn a_forged_configured_token_is_an_auth_error() {
        let (_emu, mut accounts) = start(None, false).await;
        accounts.truncate(1);
        if let Settings::Zcom(c) = &mut accounts[0].settings {
            c.auth = ZcomAuth::Token(Secret::new("forged"));
        }
        let err = list(&accounts, &Filter::default())
            .await
            .remove(0)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        assert_eq!(
            err.to_string(),
            "zcom-demo-tyo: GET /v2/1864e71d2deb46f6b47526b69c65a45d/backup: HTTP 401: Unauthorized: The request you have made requires authentication."
        );
    }

    #[tokio::test]
    async fn renews_an_expired_token_once() {
        let (emu, accounts) = start(None, true).await;
        for account in accounts {
            let before = emu.shared().requests();
            let rows = list(std::slice::from_ref(&account), &Filter::default())
                .await
                .remove(0)
                .unwrap();
            assert_eq!(rows.len(), DEFAULT_RUNS);
            // tokens, list (the fault layer's 429 or 503), list (401: dead on arrival),
            // tokens, list (the fault layer again: a first try of that URI), list.
            assert_eq!(emu.shared().requests() - before, 6, "{}", account.name);
        }
    }

    async fn raw_token(client: &reqwest::Client, base: &Url, body: Value) -> (u16, Value) {
        let resp = client
            .post(base.join("v2.0/tokens").unwrap())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (
            status,
            serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
        )
    }

    #[tokio::test]
    async fn the_vendor_side_of_the_wire() {
        let (emu, _) = start(None, false).await;
        let base = emu.urls.zcom.clone();
        let client = reqwest::Client::new();
        let d = &DEMOS[0];
        let (s, v) = raw_token(
            &client,
            &base,
            json!({"auth": {"passwordCredentials": {"username": d.username, "password": d.password}, "tenantId": d.tenant_id}}),
        )
        .await;
        assert_eq!(s, 200);
        let access = &v["access"];
        let token = access["token"]["id"].as_str().unwrap().to_string();
        assert_eq!(access["token"]["tenant"]["id"], d.tenant_id);
        let expires = access["token"]["expires"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(expires).unwrap() > Utc::now());
        let issued = access["token"]["issued_at"].as_str().unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(issued, "%Y-%m-%dT%H:%M:%S%.6f").is_ok(),
            "{issued}"
        );
        assert_eq!(issued.rsplit('.').next().unwrap().len(), 6);
        assert_eq!(access["serviceCatalog"][0]["type"], "compute");
        let compute = access["serviceCatalog"][0]["endpoints"][0]["publicURL"]
            .as_str()
            .unwrap();
        assert_eq!(compute, format!("{base}v2/{}", d.tenant_id));
        assert_eq!(access["user"]["username"], d.username);

        // tenantName works too; a wrong tenant or password does not.
        let (s, _) = raw_token(&client, &base, json!({"auth": {"passwordCredentials": {"username": d.username, "password": d.password}, "tenantName": d.tenant_name}})).await;
        assert_eq!(s, 200);
        let (s, v) = raw_token(&client, &base, json!({"auth": {"passwordCredentials": {"username": d.username, "password": d.password}, "tenantId": DEMOS[1].tenant_id}})).await;
        assert_eq!(s, 401);
        assert_eq!(v["error"]["title"], "Unauthorized");
        let (s, v) = raw_token(&client, &base, json!({"auth": {}})).await;
        assert_eq!(s, 400);
        assert_eq!(v["error"]["code"], 400);

        let get = |path: String, token: Option<String>| {
            let client = client.clone();
            let url = Url::parse(&path).unwrap();
            async move {
                let mut req = client.get(url).header("Accept", "application/json");
                if let Some(t) = token {
                    req = req.header("X-Auth-Token", t);
                }
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
                (status, ct, resp.text().await.unwrap())
            }
        };
        let (s, ct, text) = get(format!("{compute}/backup"), Some(token.clone())).await;
        assert_eq!(s, 200);
        assert_eq!(ct, "text/html; charset=UTF-8");
        // Trailing commas like the vendor page: not strict JSON, but fine without them.
        assert!(text.contains("      ],\n    }"), "{text}");
        assert!(serde_json::from_str::<Value>(&text).is_err());
        let relaxed = text.replace("],\n    }", "]\n    }");
        let doc: Value = serde_json::from_str(&relaxed).unwrap();
        let groups = doc["backup"].as_array().unwrap();
        assert_eq!(groups.len(), INSTANCES);
        let runs: Vec<&Value> = groups
            .iter()
            .flat_map(|g| g["backupruns"].as_array().unwrap())
            .collect();
        assert_eq!(runs.len(), DEFAULT_RUNS);
        // volume_id only on volume runs.
        for r in &runs {
            assert_eq!(r.get("volume_id").is_some(), r["type"] == "volume", "{r}");
        }
        assert!(runs.iter().any(|r| r["status"] == "restoring"));

        // One group by id, same shape.
        let gid = groups[1]["id"].as_str().unwrap();
        let (s, _, text) = get(format!("{compute}/backup/{gid}"), Some(token.clone())).await;
        assert_eq!(s, 200);
        let one: Value = serde_json::from_str(&text.replace("],\n    }", "]\n    }")).unwrap();
        assert_eq!(one["backup"][0], groups[1]);

        // Missing or forged token: 401; another tenant: 404 Nova-style.
        let (s, _, text) = get(format!("{compute}/backup"), None).await;
        assert_eq!(s, 401);
        assert!(text.contains("Unauthorized"));
        let (s, _, _) = get(format!("{compute}/backup"), Some("forged".into())).await;
        assert_eq!(s, 401);
        let (s, _, text) = get(
            format!("{base}v2/{}/backup", DEMOS[1].tenant_id),
            Some(token),
        )
        .await;
        assert_eq!(s, 404);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["itemNotFound"]["code"], 404);
    }
}
