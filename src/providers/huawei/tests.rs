//! Unit tests of the Huawei adapter: fixtures to exact rows, status table, push-down query,
//! vendor errors, and the page-size fallback against a tiny local server.

use serde_json::json;

use super::*;
use crate::filter::NameGlob;
use crate::http::response;

const SEED: &str = include_str!("../../../fixtures/huawei/list-backups-seed.json");
const EDGE: &str = include_str!("../../../fixtures/huawei/list-backups-edge.json");

fn rows(body: &str) -> Vec<Value> {
    let (_, rows) = parse_page(body.as_bytes(), "hw", 1000).unwrap();
    rows.iter()
        .map(|row| serde_json::to_value(row).unwrap())
        .collect()
}

#[test]
fn seed_example_maps_to_exact_rows() {
    let got = rows(SEED);
    let want = json!([
        {
            "provider": "huawei",
            "account": "hw",
            "id": "b1c4afd9-e7a6-4888-9010-c2bac3aa7910",
            "name": "autobk_b629",
            "status": "available",
            "provider_status": "available",
            "resource_type": "server",
            "resource_id": "1a503932-ee8f-4dd5-8248-8dfb57e584c5",
            "resource_name": "test001-02",
            "size_bytes": 42_949_672_960u64,
            "created_at": "2020-02-21T07:00:54.065135Z",
            "updated_at": "2020-02-21T07:07:25.113761Z",
            "expires_at": "2020-05-21T07:00:54.060493Z",
            "incremental": null,
            "description": null,
            "location": "br-iaas-odin1a",
            "parent_id": null,
            "extra": {
                "provider_id": "0daac4c5-6707-4851-97ba-169e36266b66",
                "checkpoint_id": "1fced58b-2a31-4851-bcbb-96216f83ce99",
                "vault_id": "cca85ea5-00a4-418d-9222-bd83985bc515",
                "image_type": "backup",
                "children": [],
                "extend_info": {
                    "auto_trigger": true,
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
                },
                "project_id": "0605767b5780d5762fc5c0118072a564",
                "replication_records": []
            }
        },
        {
            "provider": "huawei",
            "account": "hw",
            "id": "5606aab5-2dc2-4498-8144-dc848d099af5",
            "name": "autobk_6809",
            "status": "available",
            "provider_status": "available",
            "resource_type": "volume",
            "resource_id": "54f7ccbc-072f-4ec5-a7b7-b24dabdb4539",
            "resource_name": "qsy_000",
            "size_bytes": 42_949_672_960u64,
            "created_at": "2020-02-21T07:00:34.882174Z",
            "updated_at": "2020-02-21T07:09:37.767084Z",
            "expires_at": "2020-03-22T07:00:34.877896Z",
            "incremental": null,
            "description": null,
            "location": "br-iaas-odin1a",
            "parent_id": null,
            "extra": {
                "provider_id": "d1603440-187d-4516-af25-121250c7cc97",
                "checkpoint_id": "f64c351f-769f-4c04-8806-fd90a59e9b12",
                "vault_id": "79bd9daa-884f-4f84-b8fe-235d58cd927d",
                "image_type": "backup",
                "children": [],
                "extend_info": {
                    "auto_trigger": true,
                    "snapshot_id": "e3def9a8-e4b4-4c12-b132-f4ba8ce9a34f",
                    "bootable": true,
                    "progress": 100,
                    "support_lld": true,
                    "encrypted": false,
                    "system_disk": false
                },
                "project_id": "0605767b5780d5762fc5c0118072a564",
                "replication_records": []
            }
        }
    ]);
    assert_eq!(Value::Array(got), want);
}

#[test]
fn edge_cases_map_to_exact_rows() {
    let got = rows(EDGE);
    let want = json!([
        {
            "provider": "huawei",
            "account": "hw",
            "id": "0e4c5b2a-1f0d-4d7e-9a53-6b0c1f2e3d4a",
            "name": "manual-db",
            "status": "restoring",
            "provider_status": "WAITING_RESTORE",
            "resource_type": "OS::Ironic::BareMetalServer",
            "resource_id": "7d1c9a52-3b8e-4f61-a2d4-5e6f7a8b9c0d",
            "resource_name": "bms-01",
            "size_bytes": 0,
            "created_at": "2020-02-21T07:07:25.114Z",
            "updated_at": "2020-02-21T07:07:25.5Z",
            "expires_at": null,
            // Top level wins over extend_info.
            "incremental": true,
            "description": null,
            "location": "ap-southeast-1b",
            "parent_id": "b1c4afd9-e7a6-4888-9010-c2bac3aa7910",
            "extra": {
                "image_type": "backup",
                "children": null,
                "extend_info": {
                    "incremental": false,
                    "auto_trigger": null,
                    "bootable": null,
                    "os_images_data": null,
                    "progress": null
                },
                "version": 2
            }
        },
        {
            "provider": "huawei",
            "account": "hw",
            "id": "5f2a8c3e-7b1d-4c9e-8f6a-0d3b2e1c4a5f",
            "name": "autobk_rep1",
            "status": "unknown",
            "provider_status": "frozen",
            "resource_type": "volume",
            "resource_id": "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
            "resource_name": "data-vol",
            "size_bytes": 107_374_182_400u64,
            "created_at": "2020-02-05T10:38:34.209782Z",
            "updated_at": null,
            "expires_at": null,
            // Null at the top level: extend_info decides.
            "incremental": true,
            "description": "copied from cn-north-4",
            "location": "ap-southeast-1a",
            "parent_id": null,
            "extra": {
                "expired_at": "not a time",
                "image_type": "replication",
                "replication_records": [{
                    "id": "r-1",
                    "status": "success",
                    "source_region": "cn-north-4",
                    "destination_region": "ap-southeast-1",
                    "destinatio_vault_id": "79bd9daa-884f-4f84-b8fe-235d58cd927d",
                    "extra_info": {"progress": 100, "fail_code": null, "fail_reason": null, "auto_trigger": true}
                }],
                "extend_info": {"incremental": true, "encrypted": false}
            }
        },
        {
            "provider": "huawei",
            "account": "hw",
            "id": "minimal-row",
            "name": null,
            "status": "unknown",
            "provider_status": null,
            "resource_type": null,
            "resource_id": null,
            "resource_name": null,
            "size_bytes": null,
            "created_at": null,
            "updated_at": null,
            "expires_at": null,
            "incremental": null,
            "description": null,
            "location": null,
            "parent_id": null,
            "extra": {}
        }
    ]);
    assert_eq!(Value::Array(got), want);
}

#[test]
fn absurd_sizes_and_wrong_types_are_errors_not_wraps() {
    let body = json!({"backups": [{"id": "x", "resource_size": u64::MAX / 2}]}).to_string();
    let err = parse_page(body.as_bytes(), "hw", 1000).unwrap_err();
    assert_eq!(
        err,
        "backup x: resource_size 9223372036854775807 GB does not fit in bytes"
    );
    for bad in [
        r#"{"backups": [{"id": "x", "resource_size": -1}]}"#,
        r#"{"backups": [{"id": "x", "resource_size": "40"}]}"#,
        r#"{"backups": [{"id": 7}]}"#,
        r#"{"backups": null}"#,
        r#"{"count": 3}"#,
        r#"{"backups": [{"id": "x", "incremental": "yes"}]}"#,
    ] {
        assert!(parse_page(bad.as_bytes(), "hw", 1000).is_err(), "{bad}");
    }
}

#[test]
fn a_project_id_is_one_path_segment_whatever_it_holds() {
    assert_eq!(
        path_segment("0605767b5780d5762fc5c0118072a564"),
        "0605767b5780d5762fc5c0118072a564"
    );
    assert_eq!(
        path_segment("../../../evil"),
        "%2E%2E%2F%2E%2E%2F%2E%2E%2Fevil"
    );
    assert_eq!(path_segment("x?inject=1#"), "x%3Finject%3D1%23");
    assert_eq!(path_segment("a%2Fb"), "a%252Fb");
}

#[test]
fn status_table_follows_the_spec() {
    let table = [
        ("available", Status::Available),
        ("AVAILABLE", Status::Available),
        ("protecting", Status::Creating),
        ("waiting_protect", Status::Creating),
        ("restoring", Status::Restoring),
        ("Waiting_Restore", Status::Restoring),
        ("deleting", Status::Deleting),
        ("waiting_delete", Status::Deleting),
        ("error", Status::Error),
        ("deleted", Status::Unknown),
        ("", Status::Unknown),
        ("frozen", Status::Unknown),
    ];
    for (raw, want) in table {
        assert_eq!(status(raw), want, "{raw}");
    }
    // Every pushed-down value normalises back to the status it was asked for.
    for wanted in Status::ALL {
        for raw in vendor_statuses(wanted) {
            assert_eq!(status(raw), wanted, "{raw}");
        }
    }
}

fn filter() -> Filter {
    Filter::default()
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn pushes_down_only_what_gives_identical_results() {
    assert_eq!(
        page_query(&filter(), None, 1000, 0),
        q(&[("limit", "1000"), ("offset", "0")])
    );
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let f = Filter {
        statuses: vec![Status::Creating, Status::Error, Status::Available],
        since: Some(at("2026-11-01T10:00:00.900Z")),
        until: Some(at("2026-11-02T10:00:00.100Z")),
        name: Some(NameGlob::new("db backup").unwrap()),
        resource: Some("550e8400-e29b-41d4-a716-446655440000".into()),
        ..Filter::default()
    };
    assert_eq!(
        page_query(&f, None, 100, 200),
        q(&[
            ("limit", "100"),
            ("offset", "200"),
            ("status", "available"),
            ("status", "error"),
            ("status", "protecting"),
            ("status", "waiting_protect"),
            ("start_time", "2026-11-01T10:00:00Z"),
            ("end_time", "2026-11-02T10:00:01Z"),
            ("name", "db backup"),
            ("resource_id", "550e8400-e29b-41d4-a716-446655440000"),
        ])
    );
    // Whole seconds stay as they are.
    let f = Filter {
        until: Some(at("2026-11-02T10:00:00Z")),
        ..filter()
    };
    assert_eq!(page_query(&f, None, 1, 0)[2].1, "2026-11-02T10:00:00Z");
    // Not pushed: globs, resource names, `unknown`, statuses CBR has no value for.
    for f in [
        Filter {
            name: Some(NameGlob::new("web-*").unwrap()),
            ..filter()
        },
        Filter {
            resource: Some("web-01".into()),
            ..filter()
        },
        Filter {
            statuses: vec![Status::Available, Status::Unknown],
            ..filter()
        },
        Filter {
            statuses: vec![Status::Deleted, Status::Cancelled],
            ..filter()
        },
        Filter {
            statuses: vec![Status::Error, Status::Deleted],
            ..filter()
        },
    ] {
        assert_eq!(page_query(&f, None, 5, 0).len(), 2, "{f:?}");
    }
}

#[test]
fn vendor_errors_become_one_line_and_a_kind() {
    let table: [(u16, &str, &str, ErrorKind); 9] = [
        (
            401,
            r#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"abc123"}"#,
            "APIGW.0301: Incorrect IAM authentication information: verify aksk signature fail (request id abc123)",
            ErrorKind::Auth,
        ),
        (
            401,
            r#"{"error_msg":"Incorrect app authentication information: signature expired","error_code":"APIG.0303"}"#,
            "APIG.0303: Incorrect app authentication information: signature expired",
            ErrorKind::Auth,
        ),
        (
            // The gateway's code decides, whatever the status.
            400,
            r#"{"error_msg":"Incorrect IAM authentication information: decrypt token fail","error_code":"APIGW.0301"}"#,
            "APIGW.0301: Incorrect IAM authentication information: decrypt token fail",
            ErrorKind::Auth,
        ),
        (
            429,
            r#"{"error_msg":"The throttling threshold has been reached","error_code":"APIGW.0308"}"#,
            "APIGW.0308: The throttling threshold has been reached",
            ErrorKind::RateLimited,
        ),
        (
            404,
            r#"{"error_msg":"The API does not exist or has not been published in the environment","error_code":"APIGW.0101"}"#,
            "APIGW.0101: The API does not exist or has not been published in the environment",
            ErrorKind::NotFound,
        ),
        (
            400,
            r#"{"errorCode":"BackupService.7007","errorMsg":"Invalid limit"}"#,
            "BackupService.7007: Invalid limit",
            ErrorKind::Client,
        ),
        (
            403,
            r#"{"code":"CBR.0001","message":"Forbidden project"}"#,
            "CBR.0001: Forbidden project",
            ErrorKind::Forbidden,
        ),
        (
            401,
            r#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
            "401: The username or password is wrong.",
            ErrorKind::Auth,
        ),
        (
            500,
            "<html><body>Internal error</body></html>",
            "an HTML error page",
            ErrorKind::Server,
        ),
    ];
    for (status, body, message, kind) in table {
        let err = vendor_error(&response(status, body));
        assert_eq!(err.message, message, "{body}");
        assert_eq!(err.kind, kind, "{body}");
        assert_eq!(err.status, Some(status));
    }
}

#[test]
fn endpoint_paths_are_dropped_and_ports_kept() {
    let u = |s: &str| Url::parse(s).unwrap();
    assert_eq!(
        origin_and_host(&u(
            "https://cbr.ap-southeast-1.myhuaweicloud.com/v3/ignored"
        )),
        (
            "https://cbr.ap-southeast-1.myhuaweicloud.com".to_string(),
            "cbr.ap-southeast-1.myhuaweicloud.com".to_string()
        )
    );
    assert_eq!(
        origin_and_host(&u("http://127.0.0.1:38517/")),
        (
            "http://127.0.0.1:38517".to_string(),
            "127.0.0.1:38517".to_string()
        )
    );
    assert_eq!(origin_and_host(&u("https://h:443/")).1, "h");
    // The wire query is the signed string, byte for byte.
    let url = list_url(
        "http://127.0.0.1:1",
        "/v3/p/backups",
        "name=a%20b&start_time=2026-11-01T00%3A00%3A00Z",
    )
    .unwrap();
    assert_eq!(
        url.query(),
        Some("name=a%20b&start_time=2026-11-01T00%3A00%3A00Z")
    );
}

/// Against a local server that refuses `limit=1000`, like a deployment with a lower maximum.
#[cfg(feature = "emulator")]
mod against_a_local_server {
    use std::sync::{Arc, Mutex};

    use axum::extract::{RawQuery, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;

    use super::*;
    use crate::http::{Http, HttpOptions};
    use crate::providers::ListOptions;

    fn param(query: &str, key: &str) -> Option<u64> {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    }

    async fn backups(
        State(limits): State<Arc<Mutex<Vec<u64>>>>,
        RawQuery(query): RawQuery,
    ) -> axum::response::Response {
        let query = query.unwrap_or_default();
        let limit = param(&query, "limit").unwrap_or(10);
        let offset = param(&query, "offset").unwrap_or(0);
        limits.lock().unwrap().push(limit);
        if limit > 100 {
            let body = json!({"error_code": "BackupService.7007", "error_msg": "Invalid parameter: limit"});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        let total = 250u64;
        let rows: Vec<Value> = (offset..total.min(offset + limit))
            .map(|i| json!({"id": format!("b{i:04}"), "status": "available"}))
            .collect();
        axum::Json(json!({"backups": rows, "count": total})).into_response()
    }

    #[tokio::test]
    async fn falls_back_to_limit_100_when_1000_is_refused() {
        let limits = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v3/0123456789abcdef0123456789abcdef/backups", get(backups))
            .with_state(limits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = HuaweiConfig {
            region: None,
            endpoint: Url::parse(&format!("http://{addr}/some/path")).unwrap(),
            iam_endpoint: Url::parse(&format!("http://{addr}/")).unwrap(),
            project_id: Some("0123456789abcdef0123456789abcdef".into()),
            auth: HuaweiAuth::Token(Secret::new("t")),
            enterprise_project_id: None,
            transport: Default::default(),
        };
        let hw = Huawei::new("hw".into(), config);
        let http = Http::new(HttpOptions::default()).unwrap();
        let filter = Filter::default();
        let options = ListOptions::default();
        let run = Run::new(&http, &filter, &options);
        let rows = hw.list(&run).await.unwrap();
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let want: Vec<String> = (0..250).map(|i| format!("b{i:04}")).collect();
        assert_eq!(ids, want);
        let mut limits = limits.lock().unwrap().clone();
        assert_eq!(limits.remove(0), 1000, "asks for 1000 first");
        assert!(limits.iter().all(|&l| l == 100), "{limits:?}");
        // 100, 200 and the empty page at 300 (parallel), after the refused first try.
        assert_eq!(limits.len(), 4, "{limits:?}");
    }
}

/// `enterprise_project_id` reaches every page's query, inside the AK/SK signature.
#[cfg(feature = "emulator")]
mod enterprise_projects {
    use std::sync::{Arc, Mutex};

    use axum::extract::{RawQuery, State};
    use axum::http::HeaderMap;
    use axum::routing::get;
    use axum::Router;

    use super::*;
    use crate::http::{Http, HttpOptions};
    use crate::providers::ListOptions;

    /// Each request as received: its raw query, `X-Sdk-Date` and `Authorization`.
    type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

    async fn backups(
        State(seen): State<Seen>,
        headers: HeaderMap,
        RawQuery(query): RawQuery,
    ) -> axum::Json<Value> {
        let query = query.unwrap_or_default();
        let header = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        seen.lock()
            .unwrap()
            .push((query.clone(), header("X-Sdk-Date"), header("Authorization")));
        let offset: u64 = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("offset="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let rows: Vec<Value> = (offset..2500.min(offset + 1000))
            .map(|i| json!({"id": format!("b{i:04}"), "status": "available"}))
            .collect();
        axum::Json(json!({"backups": rows, "count": 2500}))
    }

    #[tokio::test]
    async fn enterprise_project_id_is_sent_and_signed_on_every_page() {
        let seen: Seen = Arc::default();
        let app = Router::new()
            .route("/v3/0123456789abcdef0123456789abcdef/backups", get(backups))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let project = "0123456789abcdef0123456789abcdef";
        let config = HuaweiConfig {
            region: None,
            endpoint: Url::parse(&format!("http://{addr}/")).unwrap(),
            iam_endpoint: Url::parse(&format!("http://{addr}/")).unwrap(),
            project_id: Some(project.into()),
            auth: HuaweiAuth::AkSk {
                access_key: Secret::new("AK1"),
                secret_key: Secret::new("SK1"),
                security_token: None,
            },
            enterprise_project_id: Some("all_granted_eps".into()),
            transport: Default::default(),
        };
        let hw = Huawei::new("hw".into(), config);
        let http = Http::new(HttpOptions::default()).unwrap();
        let (filter, options) = (Filter::default(), ListOptions::default());
        let run = Run::new(&http, &filter, &options);
        assert_eq!(hw.list(&run).await.unwrap().len(), 2500);
        let seen = seen.lock().unwrap().clone();
        // The first page, then 1000, 2000 and the empty page at 3000 in parallel.
        assert_eq!(seen.len(), 4, "{seen:?}");
        for (query, date, authorization) in &seen {
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert!(
                pairs.contains(&("enterprise_project_id".into(), "all_granted_eps".into())),
                "{query}"
            );
            // The server's side of the signature: the same canonical request, the same HMAC.
            let host = addr.to_string();
            let headers = [
                ("Content-Type", "application/json"),
                ("X-Project-Id", project),
                (sign::DATE_HEADER, date.as_str()),
            ];
            let want = sign::sign(
                &sign::Request {
                    method: "GET",
                    host: &host,
                    path: &format!("/v3/{project}/backups"),
                    query: &pairs,
                    headers: &headers,
                    body: b"",
                },
                "AK1",
                "SK1",
            );
            assert_eq!(authorization, &want.authorization, "{query}");
        }
    }

    /// The emulator holds the AK/SK demo account's backups in two enterprise projects and
    /// honours the parameter: each id lists its own, `all_granted_eps` and no key list both.
    #[tokio::test]
    async fn the_emulator_lists_the_enterprise_project_asked_for() {
        use crate::config::Settings;
        use crate::emulator::{huawei::ERP_PROJECT, testing};
        let now = "2026-11-23T12:00:00Z".parse().unwrap();
        let (_emu, accounts) =
            testing::start(crate::model::ProviderId::Huawei, now, None, false).await;
        let account = accounts
            .into_iter()
            .find(|a| a.name == "huawei-demo-sg")
            .unwrap();
        let listed = |ep: Option<&str>| {
            let mut a = account.clone();
            if let Settings::Huawei(c) = &mut a.settings {
                c.enterprise_project_id = ep.map(String::from);
            }
            async move {
                let rows = testing::list_ok(&[a], &Filter::default()).await.remove(0);
                let mut eps: Vec<String> = rows
                    .iter()
                    .map(|r| r.extra.get("enterprise_project_id").to_string())
                    .collect();
                eps.sort();
                eps.dedup();
                (rows.len(), eps)
            }
        };
        let quoted = |s: &str| format!("\"{s}\"");
        let (all, eps) = listed(None).await;
        assert_eq!(eps, vec![quoted("0"), quoted(ERP_PROJECT)]);
        let (granted, eps) = listed(Some("all_granted_eps")).await;
        assert_eq!((granted, eps.len()), (all, 2));
        let (default, eps) = listed(Some("0")).await;
        assert_eq!(eps, vec![quoted("0")]);
        let (erp, eps) = listed(Some(ERP_PROJECT)).await;
        assert_eq!(eps, vec![quoted(ERP_PROJECT)]);
        assert!(default > 0 && erp > 0);
        assert_eq!(default + erp, all);
    }

    #[test]
    fn the_key_takes_ids_and_all_granted_eps_only() {
        use crate::providers::builder::{ConfigBuilder, Value as V};
        let build = |ep: &str| {
            let mut b = HuaweiBuilder::default();
            for (k, v) in [
                ("endpoint", "https://cbr.example.com"),
                ("project_id", "0605767b5780d5762fc5c0118072a564"),
                ("token", "t"),
                ("enterprise_project_id", ep),
            ] {
                b.set(k, V::Text(v.into())).unwrap();
            }
            b.build().map(|c| c.enterprise_project_id)
        };
        for ok in [
            "0",
            "all_granted_eps",
            "b6d8e7a4-4d0e-4d5f-9c8a-0e0e0e0e0e0e",
        ] {
            assert_eq!(build(ok).unwrap().as_deref(), Some(ok));
        }
        let err = build("x&offset=9").unwrap_err();
        assert_eq!(err.key, "enterprise_project_id");
        assert_eq!(
            err.message,
            "`x&offset=9` is not an enterprise project id (0, a UUID) or all_granted_eps"
        );
    }
}

/// Property tests: no body, however broken, panics the parser or lists silently wrong rows.
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::providers::arbitrary::{self, assert_rows_or_protocol_error};

    fn templates() -> [Value; 2] {
        [
            serde_json::from_str(SEED).unwrap(),
            serde_json::from_str(EDGE).unwrap(),
        ]
    }

    fn check(body: &[u8]) {
        let ok = response(200, body);
        let outcome = parse_page(body, "hw", 1000)
            .map(|(_, rows)| rows)
            .map_err(|m| ok.protocol_error(m));
        assert_rows_or_protocol_error(&outcome, ProviderId::Huawei, "hw");
        // The same body as an error response: one line, a kind, never a panic.
        for status in [400, 401, 429, 500] {
            let resp = response(status, body);
            let err = vendor_error(&resp);
            assert_eq!(err.status, Some(status));
            assert!(!err.to_string().contains('\n'));
        }
    }

    arbitrary::parser_properties!(check, templates());

    proptest! {
        #![proptest_config(arbitrary::config())]

        #[test]
        fn vendor_codes_never_panic(message in any::<String>()) {
            let _ = kind_for_code(&message);
        }

        #[test]
        fn signing_never_panics(
            path in any::<String>(),
            query in prop::collection::vec((any::<String>(), any::<String>()), 0..4),
            header in ("[A-Za-z-]{1,12}", any::<String>()),
            keys in (any::<String>(), any::<String>()),
        ) {
            let headers = [(header.0.as_str(), header.1.as_str())];
            let signed = sign::sign(
                &sign::Request {
                    method: "GET",
                    host: "cbr.example:443",
                    path: &path,
                    query: &query,
                    headers: &headers,
                    body: b"",
                },
                &keys.0,
                &keys.1,
            );
            prop_assert!(signed.authorization.starts_with("SDK-HMAC-SHA256 "));
        }
    }
}

#[test]
fn a_count_stated_first_is_read_from_the_first_bytes_only() {
    use super::count_first;
    assert_eq!(
        count_first(br#"{"count":3000,"backups":[{"id""#),
        Some(3000)
    );
    assert_eq!(
        count_first(b"{ \"count\" :\n 12 , \"backups\": ["),
        Some(12)
    );
    for not in [
        &br#"{"backups":[],"count":3000}"#[..],
        br#"{"count":3000}"#,
        br#"{"count":-1,"backups":[]}"#,
        br#"{"count":1e3,"backups":[]}"#,
        br#"{"count":007,"backups":[]}"#,
        br#"{"count":99999999999999999999,"backups":[]}"#,
        br#"{"count":"5","backups":[]}"#,
        br#"{"count":30"#,
        b"",
    ] {
        assert_eq!(count_first(not), None, "{}", String::from_utf8_lossy(not));
    }
}
