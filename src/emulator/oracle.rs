//! Emulator of Oracle Compute Classic's authentication and backup service
//! (`docs/providers/oracle.md`): `POST /authenticate/` hands out a `nimbula` cookie that lives 30
//! minutes, and `GET /backupservice/v1/backup/` answers a bare JSON array, unpaged, with the
//! vendor's quirks (`:443` in `uri`, relative and absolute `volumeUri`, `""` and `null` messages,
//! every `state` spelling, 404 for unknown query parameters, 406 for an unacceptable `Accept`).
//!
//! With `faults`, every other session it issues is dead on arrival, so each listing meets one
//! expired cookie and has to authenticate again. On later days ([`super::Timeline`]) states
//! settle and each volume gets a daily backup; nothing is removed (no backup carries a time).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use reqwest::Url;
use serde_json::{json, Value};

use super::faults::Vendor;
use super::{
    bulk_numbers, fresh, plan, random_hex32, ApiCtx, EmulatorOptions, Rng, Sessions, Timeline,
};

/// The demo account: config name, Compute Classic user, password.
const DEMO: (&str, &str, &str) = (
    "oracle-demo",
    "/Compute-acme/jack.jones@example.com",
    "oracle-demo-password",
);

/// Backups of the demo account unless `scale` says otherwise.
const DEFAULT_BACKUPS: usize = 36;

/// How long a `nimbula` cookie is honoured (the documented `Max-Age`).
const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The volumes of the demo account: name, size in GiB, whether it is a boot volume.
const VOLUMES: [(&str, u64, bool); 6] = [
    ("vol1", 10, false),
    ("vol2", 20, false),
    ("boot-web1", 50, true),
    ("data-db1", 100, false),
    ("logs", 20, false),
    ("archive", 200, false),
];

/// The non-success states, in the order `plan()` hands out its special slots.
const SPECIAL_STATES: [&str; 9] = [
    "FAILED",
    "SUBMITTED",
    "INPROGRESS",
    "TIMEOUT",
    "CANCELLING",
    "CANCELED",
    "DELETE_SUBMITTED",
    "DELETING",
    "DELETED",
];

const MEDIA_TYPE: &str = "application/oracle-compute-v3+json";

/// One backup object, serialised once at start-up.
struct Item {
    name: String,
    configuration: String,
    json: String,
}

/// A Compute Classic user and the backups it can see.
struct User {
    password: String,
    items: Vec<Item>,
}

/// A demo account: config name, Compute Classic user, password.
struct Demo {
    account: String,
    user: String,
    password: String,
}

/// The demo accounts: the default one, or the generated ones of `accounts`.
fn demos(options: &EmulatorOptions) -> Vec<Demo> {
    let Some(numbers) = bulk_numbers(options, Vendor::Oracle) else {
        let (account, user, password) = DEMO;
        return vec![Demo {
            account: account.into(),
            user: user.into(),
            password: password.into(),
        }];
    };
    numbers
        .into_iter()
        .map(|k| Demo {
            account: format!("oracle-demo-{k:03}"),
            user: format!("/Compute-acme{k:03}/demo{k:03}@example.com"),
            password: format!("oracle-demo-password-{k:03}"),
        })
        .collect()
}

struct Api {
    users: HashMap<String, User>,
    /// `nimbula` cookies, by user.
    sessions: Sessions<String>,
}

/// The API's routes.
pub(crate) fn router(ctx: ApiCtx) -> Router {
    let options = &ctx.shared.options;
    let timeline = Timeline::of(options);
    let n = options.scale.unwrap_or(DEFAULT_BACKUPS);
    let users = demos(options)
        .into_iter()
        .map(|d| {
            let items = build_items(&ctx.base, &d.account, &d.user, &timeline, n);
            (
                d.user,
                User {
                    password: d.password,
                    items,
                },
            )
        })
        .collect();
    let api = Arc::new(Api {
        users,
        sessions: Sessions::new(SESSION_LIFETIME, options.faults),
    });
    Router::new()
        .route("/authenticate/", post(authenticate))
        .route("/authenticate", post(authenticate))
        .route("/backupservice/v1/backup", get(list_all))
        .route("/backupservice/v1/backup/", get(list_all))
        .route("/backupservice/v1/backup/{*rest}", get(list_or_get))
        .fallback(|| async { reply(StatusCode::NOT_FOUND, message("Not Found")) })
        .with_state(api)
}

/// Demo accounts in config form (`docs/emulator.md#demo-accounts`).
pub(crate) fn demo_config(base: &Url, options: &EmulatorOptions) -> String {
    demos(options)
        .iter()
        .map(|d| {
            format!(
                "[accounts.{}]\nprovider = \"oracle\"\nendpoint = \"{}\"\nuser = \"{}\"\npassword = \"{}\"\n",
                d.account,
                base.as_str().trim_end_matches('/'),
                d.user,
                d.password
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `{"message": …}` body, the error shape Compute Classic clients read.
fn message(text: &str) -> String {
    json!({ "message": text }).to_string()
}

/// A response with the vendor's media type and a fresh `X-Oracle-Compute-Call-Id`.
fn reply(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    insert_call_id(h);
    r
}

fn insert_call_id(h: &mut HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(&random_hex32()) {
        h.insert("X-Oracle-Compute-Call-Id", v);
    }
}

/// `POST /authenticate/`: 204 with a `nimbula` cookie, or 401.
async fn authenticate(State(api): State<Arc<Api>>, body: Bytes) -> Response {
    let creds: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return reply(StatusCode::BAD_REQUEST, message("Malformed request body")),
    };
    let user = creds.get("user").and_then(Value::as_str).unwrap_or("");
    let password = creds.get("password").and_then(Value::as_str).unwrap_or("");
    let known = api.users.get(user).is_some_and(|u| u.password == password);
    if !known {
        return reply(
            StatusCode::UNAUTHORIZED,
            message("Incorrect username or password"),
        );
    }
    let cookie = api.sessions.issue(user.to_string());
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    insert_call_id(h);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "nimbula={cookie}; Path=/; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    )) {
        h.insert(header::SET_COOKIE, v);
    }
    r
}

/// The user of a live session named by the request's `nimbula` cookie.
fn session_user(api: &Api, headers: &HeaderMap) -> Option<String> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("nimbula="))?;
    api.sessions.owner(cookie)
}

/// Whether an `Accept` header admits a media type this API produces.
fn acceptable(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return true;
    };
    let Ok(accept) = accept.to_str() else {
        return false;
    };
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim();
        [
            MEDIA_TYPE,
            "application/oracle-compute-v3+directory+json",
            "application/json",
            "application/*",
            "*/*",
        ]
        .iter()
        .any(|m| media.eq_ignore_ascii_case(m))
    })
}

async fn list_all(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    list(&api, &headers, query.as_deref(), "/")
}

/// `GET /backupservice/v1/backup/{container}/` lists a container; without the trailing slash
/// the path names one backup object.
async fn list_or_get(
    State(api): State<Arc<Api>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if rest.is_empty() || rest.ends_with('/') {
        return list(&api, &headers, query.as_deref(), &format!("/{rest}"));
    }
    let user = match check(&api, &headers) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let name = format!("/{rest}");
    match api.users[&user].items.iter().find(|i| i.name == name) {
        Some(item) => reply(StatusCode::OK, item.json.clone()),
        None => reply(
            StatusCode::NOT_FOUND,
            message(&format!("Backup {name} does not exist")),
        ),
    }
}

/// The checks every read makes: an acceptable `Accept` (406), a live cookie (401).
fn check(api: &Api, headers: &HeaderMap) -> Result<String, Box<Response>> {
    if !acceptable(headers) {
        return Err(Box::new(reply(
            StatusCode::NOT_ACCEPTABLE,
            message("Not Acceptable: supported media types are application/oracle-compute-v3+json, application/json"),
        )));
    }
    session_user(api, headers).ok_or_else(|| {
        Box::new(reply(
            StatusCode::UNAUTHORIZED,
            message("Authentication required: missing, unknown or expired nimbula cookie"),
        ))
    })
}

fn list(api: &Api, headers: &HeaderMap, query: Option<&str>, container: &str) -> Response {
    let user = match check(api, headers) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let mut configuration = None;
    let mut unknown = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "backupConfigurationName" {
            configuration = Some(v.into_owned());
        } else {
            unknown.push(k.into_owned());
        }
    }
    if !unknown.is_empty() {
        return reply(
            StatusCode::NOT_FOUND,
            message(&format!("Unknown query parameters: {}", unknown.join(", "))),
        );
    }
    let items = &api.users[&user].items;
    let mut body = String::with_capacity(2 + items.iter().map(|i| i.json.len() + 1).sum::<usize>());
    body.push('[');
    let selected = items.iter().filter(|i| {
        i.name.starts_with(container)
            && configuration
                .as_deref()
                .is_none_or(|c| i.configuration == c)
    });
    for (k, item) in selected.enumerate() {
        if k > 0 {
            body.push(',');
        }
        body.push_str(&item.json);
    }
    body.push(']');
    reply(StatusCode::OK, body)
}

/// What becomes of an Oracle state once the day after it was seen is reached: submitted and
/// running snapshots complete, a cancellation and a deletion complete; failures and final
/// states stay.
fn settled(state: &'static str) -> &'static str {
    match state {
        "SUBMITTED" | "INPROGRESS" => "COMPLETED",
        "CANCELLING" => "CANCELED",
        "DELETE_SUBMITTED" | "DELETING" => "DELETED",
        other => other,
    }
}

/// The demo backups of one user on `timeline`'s day: day 0's `n` of them over [`VOLUMES`],
/// every state at least once (when `n` allows), their states settled once day 1 is reached,
/// and a completed backup per volume and day after day 0 (the current day's first one still
/// running), newest first; serialised once. Nothing is removed: the backups carry no time, so
/// no rotation could be told from an early deletion.
fn build_items(base: &Url, seed: &str, user: &str, timeline: &Timeline, n: usize) -> Vec<Item> {
    let mut rng = Rng::seeded(seed);
    let host = base.host_str().unwrap_or("127.0.0.1");
    let port = base.port_or_known_default().unwrap_or(443);
    // `uri` always spells out the port (`https://api-z999…:443/…` on the vendor page).
    let origin = format!("{}://{host}:{port}", base.scheme());
    // A completed snapshot's `snapshotUri` and `snapshotSize`.
    let snapshot = |rng: &mut Rng, volume: &str, gib: u64| {
        (
            json!(format!(
                "/storage/snapshot{user}/{volume}/{}{}",
                rng.hex32(),
                rng.hex32()
            )),
            json!(format!("{}b", gib << 30)),
        )
    };
    let object = |name: &str,
                  configuration: &str,
                  volume_uri: String,
                  state: &str,
                  (error, detail): (Value, Value),
                  description: Value,
                  bootable: bool,
                  (snapshot_uri, snapshot_size): (Value, Value),
                  tag: String| {
        json!({
            "uri": format!("{origin}/backupservice/v1/backup{name}"),
            "runAsUser": user,
            "name": name,
            "backupConfigurationName": configuration,
            "volumeUri": volume_uri,
            "errorMessage": error,
            "detailedErrorMessage": detail,
            "state": state,
            "description": description,
            "bootable": bootable,
            "shared": false,
            "snapshotUri": snapshot_uri,
            "snapshotSize": snapshot_size,
            "tagId": tag,
        })
    };
    let mut day0: Vec<(String, String, Value)> = Vec::with_capacity(n);
    for (i, p) in plan(
        seed,
        timeline.anchor(),
        n,
        VOLUMES.len(),
        SPECIAL_STATES.len(),
    )
    .into_iter()
    .enumerate()
    {
        let (volume, gib, bootable) = VOLUMES[p.resource];
        // Varies per volume and day, so every volume gets each variant.
        let mix = i / VOLUMES.len() + p.resource;
        let state = p
            .special
            .map_or("COMPLETED", |k| SPECIAL_STATES[k % SPECIAL_STATES.len()]);
        let configuration = format!("{user}/backupConfig-{volume}");
        // Scheduled backups are named `<configuration>/<uuid>`; a few manual ones
        // `<volume>-BACKUP-<n>`, like the vendor page's second example.
        let name = if mix % 5 == 2 {
            format!("{user}/{volume}-BACKUP-{i}")
        } else {
            format!("{configuration}/{}", rng.uuid())
        };
        // Mostly relative (vendor page), sometimes absolute `http://` (juju's fixtures).
        let volume_uri = if mix % 4 == 3 {
            format!("http://{host}:{port}/storage/volume{user}/{volume}")
        } else {
            format!("/storage/volume{user}/{volume}")
        };
        let submitted = state == "SUBMITTED";
        let messages = match state {
            "FAILED" => (
                json!("Snapshot creation failed"),
                json!(format!(
                    "Storage snapshot of {volume} could not be created: the volume is busy"
                )),
            ),
            "TIMEOUT" => (
                json!("Backup timed out"),
                json!("The snapshot did not complete within the allotted time"),
            ),
            // juju's SUBMITTED fixture has null messages; the vendor page has "".
            _ if submitted => (Value::Null, Value::Null),
            _ => (json!(""), json!("")),
        };
        let description = match i % 11 {
            4 => json!(""),
            7 => json!("before kernel upgrade"),
            _ => Value::Null,
        };
        let snap = if submitted {
            (Value::Null, Value::Null)
        } else {
            snapshot(&mut rng, volume, gib)
        };
        let mut v = object(
            &name,
            &configuration,
            volume_uri,
            state,
            messages,
            description,
            bootable,
            snap,
            rng.uuid(),
        );
        if timeline.day >= 1 && settled(state) != state {
            v["state"] = json!(settled(state));
            if submitted {
                // The snapshot now exists; its id comes from the backup's own name.
                let (uri, size) = snapshot(&mut Rng::seeded(&name), volume, gib);
                v["snapshotUri"] = uri;
                v["snapshotSize"] = size;
                v["errorMessage"] = json!("");
                v["detailedErrorMessage"] = json!("");
            }
        }
        day0.push((name, configuration, v));
    }
    let mut items: Vec<Item> = Vec::with_capacity(day0.len());
    // Newest first: the days after day 0, latest day first, then day 0.
    let mut later = fresh(seed, timeline, VOLUMES.len());
    later.sort_by_key(|f| std::cmp::Reverse(f.day));
    for f in later {
        let mut r = f.rng;
        let (volume, gib, bootable) = VOLUMES[f.resource];
        let configuration = format!("{user}/backupConfig-{volume}");
        let name = format!("{configuration}/{}", r.uuid());
        let state = if f.in_progress {
            "INPROGRESS"
        } else {
            "COMPLETED"
        };
        let snap = snapshot(&mut r, volume, gib);
        let v = object(
            &name,
            &configuration,
            format!("/storage/volume{user}/{volume}"),
            state,
            (json!(""), json!("")),
            Value::Null,
            bootable,
            snap,
            r.uuid(),
        );
        items.push(Item {
            name,
            configuration,
            json: v.to_string(),
        });
    }
    items.extend(day0.into_iter().map(|(name, configuration, v)| Item {
        name,
        configuration,
        json: v.to_string(),
    }));
    items
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeZone, Utc};

    use crate::config::{Account, Settings};
    use crate::emulator::Emulator;
    use crate::error::ErrorKind;
    use crate::filter::Filter;
    use crate::model::{Backup, Status};
    use crate::secret::Secret;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
    }

    async fn start(scale: Option<usize>, faults: bool) -> (Emulator, Vec<Account>) {
        crate::emulator::testing::start(crate::model::ProviderId::Oracle, now(), scale, faults)
            .await
    }

    async fn list(accounts: &[Account], filter: &Filter) -> crate::error::Result<Vec<Backup>> {
        let mut results = crate::emulator::testing::list(accounts, filter).await;
        assert_eq!(results.len(), 1);
        results.remove(0)
    }

    use super::*;

    #[tokio::test]
    async fn lists_every_demo_backup_through_the_adapter() {
        let (emu, accounts) = start(None, false).await;
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].name, "oracle-demo");
        let rows = list(&accounts, &Filter::default()).await.unwrap();
        assert_eq!(rows.len(), DEFAULT_BACKUPS);

        // Every state of the vocabulary appears, and maps per `docs/model.md#status-stable`.
        let mut states: BTreeMap<String, Status> = BTreeMap::new();
        for r in &rows {
            states.insert(r.provider_status.clone().unwrap(), r.status);
        }
        let want: BTreeMap<String, Status> = [
            ("CANCELED", Status::Cancelled),
            ("CANCELLING", Status::Cancelled),
            ("COMPLETED", Status::Available),
            ("DELETED", Status::Deleted),
            ("DELETE_SUBMITTED", Status::Deleting),
            ("DELETING", Status::Deleting),
            ("FAILED", Status::Error),
            ("INPROGRESS", Status::Creating),
            ("SUBMITTED", Status::Creating),
            ("TIMEOUT", Status::Error),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(states, want);

        // Both volumeUri forms map to the same object name.
        let uris: Vec<String> = rows
            .iter()
            .filter(|r| r.resource_name.as_deref() == Some("vol1"))
            .map(|r| r.extra.get("volumeUri").as_str().unwrap().to_string())
            .collect();
        assert!(uris.iter().any(|u| u.starts_with("http://")), "{uris:?}");
        assert!(uris.iter().any(|u| u.starts_with("/storage/")), "{uris:?}");
        for r in &rows {
            assert_eq!(
                r.resource_id.as_deref(),
                Some(format!("{}/{}", DEMO.1, r.resource_name.as_deref().unwrap()).as_str())
            );
            assert!(r.id.starts_with(&format!("{}/", DEMO.1)), "{}", r.id);
            assert!(r.extra.get("uri").as_str().unwrap().starts_with(&format!(
                "http://127.0.0.1:{}/backupservice/v1/backup/Compute-acme/",
                emu.urls.oracle.port().unwrap()
            )));
            // SUBMITTED backups have no snapshot yet.
            assert_eq!(
                r.size_bytes.is_none(),
                r.provider_status.as_deref() == Some("SUBMITTED")
            );
            assert_eq!(r.created_at, None);
        }

        // One row exactly: the first planned backup, vol1's newest, which failed.
        let port = emu.urls.oracle.port().unwrap();
        let want = json!({
            "provider": "oracle",
            "account": "oracle-demo",
            "id": "/Compute-acme/jack.jones@example.com/backupConfig-vol1/6e83d3b9-d5df-4cff-81aa-d9db3efa6018",
            "name": "6e83d3b9-d5df-4cff-81aa-d9db3efa6018",
            "status": "error",
            "provider_status": "FAILED",
            "resource_type": "volume",
            "resource_id": "/Compute-acme/jack.jones@example.com/vol1",
            "resource_name": "vol1",
            "size_bytes": 10737418240u64,
            "created_at": null,
            "updated_at": null,
            "expires_at": null,
            "incremental": null,
            "description": null,
            "location": null,
            "parent_id": null,
            "extra": {
                "uri": format!("http://127.0.0.1:{port}/backupservice/v1/backup/Compute-acme/jack.jones@example.com/backupConfig-vol1/6e83d3b9-d5df-4cff-81aa-d9db3efa6018"),
                "runAsUser": "/Compute-acme/jack.jones@example.com",
                "backupConfigurationName": "/Compute-acme/jack.jones@example.com/backupConfig-vol1",
                "volumeUri": "/storage/volume/Compute-acme/jack.jones@example.com/vol1",
                "errorMessage": "Snapshot creation failed",
                "detailedErrorMessage": "Storage snapshot of vol1 could not be created: the volume is busy",
                "bootable": false,
                "shared": false,
                "snapshotUri": "/storage/snapshot/Compute-acme/jack.jones@example.com/vol1/a628c781ef0a9123ec07ef9a37b0b146a08306cfe8db51bbe3cddb4b765cf0b8",
                "tagId": "2c0f1a38-c145-407f-886f-51f0623af3d0"
            }
        });
        assert_eq!(serde_json::to_value(&rows[0]).unwrap(), want);
    }

    #[tokio::test]
    async fn scale_sets_the_exact_count_in_one_response() {
        let (emu, accounts) = start(Some(250), false).await;
        let rows = list(&accounts, &Filter::default()).await.unwrap();
        assert_eq!(rows.len(), 250);
        // auth + one unpaged list.
        assert_eq!(emu.shared().requests(), 2);
    }

    #[tokio::test]
    async fn client_side_filters_match_filtering_the_full_listing() {
        let (_emu, accounts) = start(None, false).await;
        let all = list(&accounts, &Filter::default()).await.unwrap();
        let filters = [
            Filter {
                statuses: vec![Status::Error, Status::Cancelled],
                ..Default::default()
            },
            Filter {
                resource: Some("/Compute-acme/jack.jones@example.com/logs".into()),
                ..Default::default()
            },
            Filter {
                resource: Some("data-db1".into()),
                ..Default::default()
            },
            Filter {
                name: Some(crate::filter::NameGlob::new("vol1-BACKUP-*").unwrap()),
                ..Default::default()
            },
        ];
        for f in filters {
            let got = list(&accounts, &f).await.unwrap();
            let want: Vec<Backup> = all.iter().filter(|r| f.matches(r)).cloned().collect();
            assert!(!want.is_empty(), "{f:?}");
            assert_eq!(got, want, "{f:?}");
        }
    }

    #[tokio::test]
    async fn bad_password_is_an_auth_error_naming_account_path_and_401() {
        let (_emu, mut accounts) = start(None, false).await;
        if let Settings::Oracle(c) = &mut accounts[0].settings {
            c.password = Secret::new("wrong");
        }
        let err = list(&accounts, &Filter::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        assert_eq!(
            err.to_string(),
            "oracle-demo: POST /authenticate/: HTTP 401: Incorrect username or password"
        );
    }

    #[tokio::test]
    async fn renews_an_expired_cookie_once() {
        // With faults every other session is dead on arrival: the listing meets a 401 and
        // must authenticate exactly once more.
        let (emu, accounts) = start(None, true).await;
        let rows = list(&accounts, &Filter::default()).await.unwrap();
        assert_eq!(rows.len(), DEFAULT_BACKUPS);
        // auth, list (the fault layer's 429), list (401: dead on arrival), auth,
        // list (the fault layer's 503: a first try of that URI again), list.
        assert_eq!(emu.shared().requests(), 6);
    }

    /// A raw client, to check the vendor side of the wire.
    struct Raw {
        client: reqwest::Client,
        base: Url,
        cookie: String,
    }

    impl Raw {
        async fn login(emu: &Emulator) -> Raw {
            let client = reqwest::Client::new();
            let base = emu.urls.oracle.clone();
            let resp = client
                .post(base.join("authenticate/").unwrap())
                .header("Content-Type", MEDIA_TYPE)
                .body(json!({"user": DEMO.1, "password": DEMO.2}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 204);
            assert_eq!(resp.headers()["content-type"], "text/plain; charset=UTF-8");
            assert!(resp.headers().contains_key("x-oracle-compute-call-id"));
            let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
            assert!(set.ends_with("; Path=/; Max-Age=1800"), "{set}");
            let cookie = set.split(';').next().unwrap().to_string();
            assert!(resp.bytes().await.unwrap().is_empty());
            Raw {
                client,
                base,
                cookie,
            }
        }

        async fn get(&self, path: &str, accept: &str) -> (u16, Value) {
            let resp = self
                .client
                .get(self.base.join(path).unwrap())
                .header("Cookie", &self.cookie)
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (
                status,
                serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
            )
        }
    }

    #[tokio::test]
    async fn the_vendor_side_of_the_wire() {
        let (emu, _) = start(None, false).await;
        let raw = Raw::login(&emu).await;
        let (s, all) = raw.get("backupservice/v1/backup/", MEDIA_TYPE).await;
        assert_eq!(s, 200);
        let all = all.as_array().unwrap().clone();
        assert_eq!(all.len(), DEFAULT_BACKUPS);
        // Without the trailing slash, and the container path, give the same array.
        let (_, v) = raw.get("backupservice/v1/backup", "application/json").await;
        assert_eq!(v.as_array().unwrap(), &all);
        let (_, v) = raw
            .get(
                "backupservice/v1/backup/Compute-acme/jack.jones@example.com/",
                "*/*",
            )
            .await;
        assert_eq!(v.as_array().unwrap(), &all);
        let (_, v) = raw
            .get("backupservice/v1/backup/Compute-other/x/", MEDIA_TYPE)
            .await;
        assert_eq!(v, json!([]));
        // The one documented filter.
        let (s, v) = raw
            .get(
                "backupservice/v1/backup/?backupConfigurationName=/Compute-acme/jack.jones@example.com/backupConfig-logs",
                MEDIA_TYPE,
            )
            .await;
        assert_eq!(s, 200);
        let v = v.as_array().unwrap();
        assert_eq!(v.len(), 6);
        assert!(v
            .iter()
            .all(|i| i["volumeUri"].as_str().unwrap().ends_with("/logs")));
        // A single object by name.
        let name = all[0]["name"].as_str().unwrap();
        let (s, v) = raw
            .get(&format!("backupservice/v1/backup{name}"), MEDIA_TYPE)
            .await;
        assert_eq!((s, &v), (200, &all[0]));
        // Any other parameter is a 404, as documented.
        let (s, v) = raw
            .get("backupservice/v1/backup/?limit=10", MEDIA_TYPE)
            .await;
        assert_eq!(s, 404);
        assert_eq!(v, json!({"message": "Unknown query parameters: limit"}));
        // An Accept it cannot satisfy is a 406.
        let (s, _) = raw.get("backupservice/v1/backup/", "text/html").await;
        assert_eq!(s, 406);
        // No cookie or a forged one is a 401.
        let forged = Raw {
            cookie: "nimbula=forged".into(),
            ..raw
        };
        let (s, _) = forged.get("backupservice/v1/backup/", MEDIA_TYPE).await;
        assert_eq!(s, 401);
        // The vendor quirks are present in the items.
        assert!(all.iter().any(|i| i["errorMessage"] == json!("")));
        assert!(all.iter().any(|i| i["description"].is_null()));
        assert!(all.iter().any(|i| i["state"] == "SUBMITTED"
            && i["snapshotSize"].is_null()
            && i["snapshotUri"].is_null()));
    }
}
