//! ByCloud adapter: `GET {endpoint}/v1/backups` ("List backups", docs.bycoded.cloud
//! block-storage/list-backups) with a static Bearer token or `X-Api-Key: <id>:<secret>`.
//!
//! Paging is `limit` + `marker` (the last id of the previous page) while `meta.has_more` is
//! true. The documented `links.*` point at `/v1/instances` (a copy-paste error in the vendor's
//! API), so they are never followed: the next marker comes from `meta.marker`, else the last
//! row's id.

mod config;
pub(crate) use config::{BycloudAuth, BycloudBuilder, BycloudConfig};

use reqwest::header::{HeaderValue, ACCEPT};
use reqwest::{Method, Url};
use serde::de::MapAccess;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::http::Response;
use crate::model::{
    gib_to_bytes, non_empty, Backup, ExtraBuilder, Field, ProviderId, Status, Timestamp,
};

use super::page_size::PageSize;
use super::rows::{self, Capped, Vendor, VendorRow};
use super::{BoxFuture, Capabilities, Cursor, Page, Provider, Run};

/// What this adapter supports.
pub(crate) const CAPABILITIES: Capabilities = Capabilities {
    provider: ProviderId::Bycloud,
    auth: &["bearer token", "api key (X-Api-Key id:secret)"],
    filters: &["status", "name", "volume_id"],
    paging: "limit+marker (100 a page), meta.has_more",
    fields: &[
        Field::Id,
        Field::Name,
        Field::Status,
        Field::ProviderStatus,
        Field::ResourceType,
        Field::ResourceId,
        Field::SizeBytes,
        Field::CreatedAt,
        Field::UpdatedAt,
        Field::Incremental,
        Field::Description,
        Field::Location,
        Field::Extra,
    ],
};

/// The page size asked for. ByCloud documents no maximum; 100 is the common cap of its
/// siblings, and a server that refuses it gets [`DEFAULT_LIMIT`] instead.
const MAX_LIMIT: u64 = 100;

/// ByCloud's documented default page size.
const DEFAULT_LIMIT: u64 = 20;

/// One ByCloud account.
pub(crate) struct Bycloud {
    account: String,
    config: BycloudConfig,
    /// The page size in force: [`MAX_LIMIT`] until the server rejects it on a first page,
    /// then [`DEFAULT_LIMIT`] for the rest of the account's listing.
    page_size: PageSize,
}

impl Bycloud {
    /// The adapter for one account.
    pub(crate) fn new(account: String, config: BycloudConfig) -> Bycloud {
        // The key goes out as `id:secret`: redacted as one, the id with it.
        if let BycloudAuth::ApiKey { id, secret } = &config.auth {
            crate::redact::register(&format!("{id}:{}", secret.expose()));
        }
        Bycloud {
            account,
            config,
            page_size: PageSize::new(MAX_LIMIT, DEFAULT_LIMIT),
        }
    }

    /// `{endpoint}/v1/backups`, keeping any path prefix of the endpoint.
    fn list_url(&self) -> Result<Url> {
        crate::http::join_path(&self.config.endpoint, &["v1", "backups"]).ok_or_else(|| {
            Error::config(format!(
                "endpoint {} cannot take a path",
                self.config.endpoint
            ))
        })
    }

    /// The auth header: the only place the secret is exposed.
    fn auth_header(&self) -> Result<(&'static str, HeaderValue)> {
        let (name, value) = match &self.config.auth {
            BycloudAuth::Bearer(token) => ("authorization", format!("Bearer {}", token.expose())),
            BycloudAuth::ApiKey { id, secret } => {
                ("x-api-key", format!("{id}:{}", secret.expose()))
            }
        };
        // The message names no value: it would be the secret.
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            Error::config("the ByCloud credentials contain characters not allowed in a header")
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }

    /// Builds one `GET /v1/backups` page request.
    fn request(&self, run: &Run<'_>, query: &[(&str, String)]) -> Result<reqwest::RequestBuilder> {
        let mut url = self.list_url()?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let (name, value) = self.auth_header()?;
        Ok(run
            .request(Method::GET, url)
            .header(ACCEPT, "application/json")
            .header(name, value))
    }
}

/// The query parameters for one page: the page size, the marker, and what of the filter
/// ByCloud can apply with identical results.
fn page_query(filter: &Filter, limit: u64, marker: Option<&str>) -> Vec<(&'static str, String)> {
    let mut q = vec![("limit", limit.to_string())];
    if let Some(m) = marker {
        q.push(("marker", m.to_string()));
    }
    if let Some(glob) = &filter.name {
        if let Some(exact) = glob.exact() {
            q.push(("name", exact.to_string()));
        } else if let Some(prefix) = glob.prefix().filter(|p| !p.is_empty()) {
            // `*` alone would match every row; sending it gains nothing.
            q.push(("name", format!("{prefix}*")));
        }
    }
    if let Some(status) = pushed_status(&filter.statuses) {
        q.push(("status", status.to_string()));
    }
    // `--resource` matches resource_id or resource_name; ByCloud gives no resource name, so
    // it is the volume id. Only dashed UUIDs are sent: the parameter is typed `string<uuid>`
    // and a dashless form could be refused instead of matching nothing.
    if let Some(id) = filter.resource_is_uuid().filter(|r| r.len() == 36) {
        q.push(("volume_id", id.to_string()));
    }
    q
}

/// ByCloud status values that normalise to `status` (`docs/providers/bycloud.md#status-values`),
/// lower-case.
fn vendor_statuses(status: Status) -> &'static [&'static str] {
    match status {
        Status::Available => &["available", "active", "completed"],
        Status::Creating => &["creating"],
        Status::Restoring => &["restoring"],
        Status::Deleting => &["deleting"],
        Status::Deleted => &["deleted"],
        Status::Error => &["error", "failed"],
        Status::Cancelled | Status::Unknown => &[],
    }
}

/// The one ByCloud `status` value to send, when the requested statuses stand for exactly one
/// vendor value: the server takes a single value, so `available` (three values) and `error`
/// (two) cannot be pushed down, and `unknown` stands for any other value.
fn pushed_status(statuses: &[Status]) -> Option<&'static str> {
    if statuses.is_empty() || statuses.contains(&Status::Unknown) {
        return None;
    }
    let mut values = statuses.iter().flat_map(|s| vendor_statuses(*s).iter());
    let first = *values.next()?;
    values.all(|v| *v == first).then_some(first)
}

/// Normalises a ByCloud status (`docs/model.md#status-stable`), case-insensitively: the API mixes
/// `ACTIVE`, `available` and `COMPLETED`.
fn status(raw: &str) -> Status {
    match raw.trim().to_ascii_lowercase().as_str() {
        "available" | "active" | "completed" => Status::Available,
        "creating" => Status::Creating,
        "restoring" => Status::Restoring,
        "deleting" => Status::Deleting,
        "deleted" => Status::Deleted,
        "error" | "failed" => Status::Error,
        _ => Status::Unknown,
    }
}

/// `meta` of `GET /v1/backups` (ByCloud "List backups"). `total` and `limit` are not read:
/// the server's numbers decide nothing here. `links` is not read either: it points at
/// `/v1/instances`.
#[derive(Deserialize)]
struct ListMeta {
    /// The last id of this page, the `marker` of the next request.
    marker: Option<String>,
    has_more: Option<bool>,
}

/// One item of `backups[]` in `GET /v1/backups`. Every key but `id` is optional per the docs.
/// Fields not mapped to the model (`crn`, `container`, `has_dependent_backups`,
/// `snapshot_id`, `metadata`, anything new) stay in `rest` and go to `extra`.
#[derive(Default)]
struct BackupItem<'a> {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    status: Option<String>,
    volume_id: Option<String>,
    /// GiB (the docs say neither; `docs/model.md#size-rules-stable-output-form` takes it as GiB).
    size: Option<u64>,
    is_incremental: Option<bool>,
    created_at: Option<String>,
    updated_at: Option<String>,
    rest: ExtraBuilder<'a>,
}

impl<'de> VendorRow<'de> for BackupItem<'de> {
    const EXPECTING: &'static str = "a backup object";
    const REQUIRED: &'static str = "id";

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "id" => self.id = Some(map.next_value()?),
            "name" => self.name = map.next_value()?,
            "description" => self.description = map.next_value()?,
            "status" => self.status = map.next_value()?,
            "volume_id" => self.volume_id = map.next_value()?,
            "size" => self.size = map.next_value()?,
            "is_incremental" => self.is_incremental = map.next_value()?,
            "created_at" => self.created_at = map.next_value()?,
            "updated_at" => self.updated_at = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn complete(&self) -> bool {
        self.id.is_some()
    }

    fn extra(&mut self) -> &mut ExtraBuilder<'de> {
        &mut self.rest
    }
}

/// Maps one item (`docs/providers/bycloud.md#fields-and-mapping`). `Err` holds a message for a
/// protocol error.
fn to_backup(
    item: BackupItem<'_>,
    account: &str,
    location: Option<&str>,
) -> std::result::Result<Backup, String> {
    // `complete` made sure of it.
    let id = item.id.unwrap_or_default();
    let time = |field: &str, raw: Option<String>| -> std::result::Result<_, String> {
        raw.map(|s| {
            Timestamp::parse_vendor(&s)
                .ok_or_else(|| format!("backup {id}: `{field}` is not a time: {s:?}"))
        })
        .transpose()
    };
    let created_at = time("created_at", item.created_at)?;
    let updated_at = time("updated_at", item.updated_at)?;
    let size_bytes = item
        .size
        .map(|gib| {
            gib_to_bytes(gib).ok_or_else(|| {
                format!("backup {id}: `size` {gib} GiB does not fit in 64 bits of bytes")
            })
        })
        .transpose()?;
    let status = item.status.as_deref().map_or(Status::Unknown, status);
    let extra = item.rest.build().map_err(|m| format!("backup {id}: {m}"))?;
    Ok(Backup {
        provider: ProviderId::Bycloud,
        account: account.to_string(),
        name: item.name,
        status,
        provider_status: item.status,
        // Every ByCloud backup is a volume backup ("List all volume backups").
        resource_type: Some("volume".to_string()),
        resource_id: item.volume_id,
        resource_name: None, // ByCloud lists no volume name
        size_bytes,
        created_at,
        updated_at,
        expires_at: None, // ByCloud backups do not expire
        incremental: item.is_incremental,
        description: non_empty(item.description),
        location: location.map(str::to_string),
        parent_id: None, // ByCloud names no parent or group
        extra,
        id,
    })
}

/// Parses a 200 page: rows (each mapped as it is read, at most `max_rows`), and the next
/// marker (`meta.marker`, else the last id) while `meta.has_more` says so; without `meta`,
/// while the page is full. The error is a message for a protocol error.
fn parse_page(
    body: &[u8],
    account: &str,
    location: Option<&str>,
    limit: u64,
    max_rows: usize,
) -> std::result::Result<Page, String> {
    let mut rows = Capped::new(max_rows, "rows");
    let mut last_id = None;
    let others = rows::rows_in_object(
        body,
        "backups",
        true,
        |Vendor(item): Vendor<BackupItem<'_>>| {
            last_id.clone_from(&item.id);
            rows.push(to_backup(item, account, location)?)
        },
    )?;
    let full = rows.len() as u64 >= limit;
    let (more, marker) = match rows::other::<Option<ListMeta>>(&others, "meta")?.flatten() {
        Some(meta) => (meta.has_more.unwrap_or(full), meta.marker),
        None => (full, None),
    };
    let next = more
        .then(|| marker.filter(|m| !m.is_empty()).or(last_id))
        .flatten()
        .map(Cursor::Marker);
    Ok(Page {
        rows: rows.into_vec(),
        next,
        total: None, // marker paging: a total cannot be used to fetch pages in parallel
    })
}

/// Error body of every ByCloud call (docs "Errors"):
/// `{"error":{"code":429,"message":"…","details":"…","request_id":"req-…"}}`, read leniently
/// so an odd body still gives what it has.
fn vendor_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let text = |key: &str| {
        error
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let mut out = match (text("message"), text("details")) {
        (Some(m), Some(d)) => format!("{m} ({d})"),
        (Some(m), None) => m.to_string(),
        (None, Some(d)) => d.to_string(),
        // `error` as a bare string is not the documented shape, but it says what is wrong.
        (None, None) => error
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())?
            .to_string(),
    };
    if let Some(id) = text("request_id") {
        out.push_str(&format!(" [request {id}]"));
    }
    Some(out)
}

/// The error for a non-2xx response. ByCloud's `error.code` is the HTTP status again, so the
/// shared status → kind table already classifies it; nothing to refine.
fn vendor_error(resp: &Response) -> Error {
    resp.error(vendor_message(&resp.body))
}

impl Provider for Bycloud {
    fn account(&self) -> &str {
        &self.account
    }

    /// Token and API key are static configuration (no exchange is documented).
    fn authenticate<'a>(&'a self, _run: &'a Run<'a>, _renew: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn renewable(&self) -> bool {
        false // A token or API key is configuration: there is no session to renew.
    }

    fn list_page<'a>(
        &'a self,
        run: &'a Run<'a>,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            let marker = match cursor {
                None => None,
                Some(Cursor::Marker(m)) => Some(m.as_str()),
                Some(other) => {
                    return Err(Error::new(
                        ErrorKind::Paging,
                        format!("ByCloud pages by marker, not by {other}"),
                    ))
                }
            };
            // The maximum page size is undocumented: a server that refuses 100 gets the
            // documented default for the rest of this account.
            let (resp, limit) = self
                .page_size
                .send(run, &self.account, marker.is_none(), |limit| {
                    self.request(run, &page_query(run.filter, limit, marker))
                })
                .await?;
            if !resp.is_success() {
                return Err(vendor_error(&resp));
            }
            let (account, location) = (self.account.clone(), self.config.region.clone());
            let max_rows = run.options.max_page_rows;
            let mut resp = resp;
            run.decode(&mut resp, &self.account, move |body| {
                parse_page(body, &account, location.as_deref(), limit, max_rows)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::NameGlob;
    use crate::http::response;
    use crate::secret::Secret;
    use serde_json::json;

    const SEED: &str = include_str!("../../../fixtures/bycloud/list_backups_seed.json");
    const EDGE: &str = include_str!("../../../fixtures/bycloud/list_backups_edge.json");
    const RATE_LIMITED: &str = include_str!("../../../fixtures/bycloud/error_429.json");
    const UNAUTHORIZED: &str = include_str!("../../../fixtures/bycloud/error_401.json");

    impl Bycloud {
        /// A 200 page as the adapter parses it, with the default row cap.
        fn parse_page(&self, resp: &Response, limit: u64) -> Result<Page> {
            let location = self.config.region.as_deref();
            super::parse_page(&resp.body, &self.account, location, limit, 100_000)
                .map_err(|m| resp.protocol_error(m))
        }
    }

    fn adapter(region: Option<&str>) -> Bycloud {
        Bycloud::new(
            "bc".into(),
            BycloudConfig {
                region: region.map(String::from),
                endpoint: Url::parse("https://api.spo1.mycloud.com").unwrap(),
                auth: BycloudAuth::Bearer(Secret::new("t0ken")),
                transport: Default::default(),
            },
        )
    }

    #[test]
    fn seed_example_maps_to_exact_backup() {
        let page = adapter(Some("spo1"))
            .parse_page(&response(200, SEED), 20)
            .unwrap();
        let mut want = Backup::new(
            ProviderId::Bycloud,
            "bc",
            "550e8400-e29b-41d4-a716-446655440000".into(),
            Status::Available,
        );
        want.name = Some("backup-2024-01-15".into());
        want.provider_status = Some("available".into());
        want.resource_type = Some("volume".into());
        want.resource_id = Some("550e8400-e29b-41d4-a716-446655440001".into());
        want.size_bytes = Some(100 << 30);
        want.created_at = Timestamp::parse_vendor("2024-01-15T10:30:00Z");
        want.updated_at = Timestamp::parse_vendor("2024-01-15T10:30:00Z");
        want.incremental = Some(false);
        want.description = Some("Weekly backup".into());
        want.location = Some("spo1".into());
        want.extra = json!({
            "crn": "crn:spo1:storage:backup:550e8400-e29b-41d4-a716-446655440000",
            "container": "string",
            "has_dependent_backups": true,
            "snapshot_id": "550e8400-e29b-41d4-a716-446655440000",
            "metadata": {"environment": "production", "team": "backend"},
        })
        .as_object()
        .unwrap()
        .clone()
        .into();
        assert_eq!(page.rows, vec![want]);
        // The next page comes from meta.marker, never from links.next (/v1/instances).
        assert_eq!(
            page.next,
            Some(Cursor::Marker(
                "550e8400-e29b-41d4-a716-446655440000".into()
            ))
        );
        assert_eq!(page.total, None);
        assert_eq!(
            serde_json::to_value(&page.rows[0]).unwrap()["created_at"],
            "2024-01-15T10:30:00Z"
        );
    }

    #[test]
    fn edge_page_without_meta_maps_mixed_statuses() {
        let page = adapter(None).parse_page(&response(200, EDGE), 3).unwrap();
        let got: Vec<Value> = page
            .rows
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                json!({
                    "provider": "bycloud", "account": "bc",
                    "id": "0b6f9a52-3c1e-4d3a-9a51-6c1f2d7e8a01", "name": "web-01-nightly",
                    "status": "available", "provider_status": "ACTIVE",
                    "resource_type": "volume",
                    "resource_id": "7d0e4c1a-2b3f-4e5a-8b6c-9d0e1f2a3b4c", "resource_name": null,
                    "size_bytes": 21474836480u64,
                    "created_at": "2024-03-02T01:15:07.250Z", "updated_at": null,
                    "expires_at": null, "incremental": true, "description": null,
                    "location": null, "parent_id": null,
                    "extra": {"metadata": {}, "retention_days": 14}
                }),
                json!({
                    "provider": "bycloud", "account": "bc",
                    "id": "0b6f9a52-3c1e-4d3a-9a51-6c1f2d7e8a02", "name": "db-main-weekly",
                    "status": "error", "provider_status": "FAILED",
                    "resource_type": "volume", "resource_id": null, "resource_name": null,
                    "size_bytes": null, "created_at": null, "updated_at": null,
                    "expires_at": null, "incremental": null, "description": null,
                    "location": null, "parent_id": null, "extra": {}
                }),
                json!({
                    "provider": "bycloud", "account": "bc",
                    "id": "0b6f9a52-3c1e-4d3a-9a51-6c1f2d7e8a03", "name": null,
                    "status": "unknown", "provider_status": "archived",
                    "resource_type": "volume", "resource_id": null, "resource_name": null,
                    "size_bytes": 0, "created_at": "2024-03-01T00:00:00Z",
                    "updated_at": "2024-03-01T00:05:00Z",
                    "expires_at": null, "incremental": false, "description": "Completed by hand",
                    "location": null, "parent_id": null, "extra": {"snapshot_id": null}
                }),
            ]
        );
        // No meta: the page is full (3 of limit 3), so continue after the last id.
        assert_eq!(
            page.next,
            Some(Cursor::Marker(
                "0b6f9a52-3c1e-4d3a-9a51-6c1f2d7e8a03".into()
            ))
        );
        // A short page without meta is the last one.
        assert_eq!(
            adapter(None)
                .parse_page(&response(200, EDGE), 4)
                .unwrap()
                .next,
            None
        );
    }

    #[test]
    fn has_more_decides_and_an_absent_marker_falls_back_to_the_last_id() {
        let body =
            |meta: Value| json!({"backups": [{"id": "a"}, {"id": "b"}], "meta": meta}).to_string();
        let next = |meta: Value| {
            adapter(None)
                .parse_page(&response(200, body(meta)), 100)
                .unwrap()
                .next
        };
        assert_eq!(
            next(json!({"has_more": true, "marker": "m"})),
            Some(Cursor::Marker("m".into()))
        );
        assert_eq!(
            next(json!({"has_more": true})),
            Some(Cursor::Marker("b".into()))
        );
        assert_eq!(
            next(json!({"has_more": true, "marker": ""})),
            Some(Cursor::Marker("b".into()))
        );
        assert_eq!(next(json!({"has_more": false, "marker": "m"})), None);
        // A short page is not a reason to stop while the server says there is more.
        assert_eq!(
            next(json!({"has_more": true, "marker": null})),
            Some(Cursor::Marker("b".into()))
        );
        // An empty body is an empty page.
        let page = adapter(None).parse_page(&response(200, "{}"), 100).unwrap();
        assert!(page.rows.is_empty() && page.next.is_none());
    }

    #[test]
    fn bad_bodies_are_protocol_errors_naming_the_request() {
        let cases = [
            (
                r#"{"backups":[{"id":"x","size":18446744073709551615}]}"#,
                "GET /test: HTTP 200: backup x: `size` 18446744073709551615 GiB does not fit in 64 bits of bytes",
            ),
            (
                r#"{"backups":[{"id":"x","size":"100"}]}"#,
                "GET /test: HTTP 200: unexpected response body: invalid type: string \"100\", expected u64",
            ),
            (
                r#"{"backups":[{"id":"x","size":-1}]}"#,
                "GET /test: HTTP 200: unexpected response body: invalid value: integer `-1`, expected u64",
            ),
            (
                r#"{"backups":[{"id":"x","is_incremental":"yes"}]}"#,
                "GET /test: HTTP 200: unexpected response body: invalid type: string \"yes\", expected a boolean",
            ),
            (
                r#"{"backups":[{"id":7}]}"#,
                "GET /test: HTTP 200: unexpected response body: invalid type: integer `7`, expected a string",
            ),
            (
                r#"{"backups":[{"id":"x","created_at":"last tuesday"}]}"#,
                "GET /test: HTTP 200: backup x: `created_at` is not a time: \"last tuesday\"",
            ),
            (
                r#"{"backups":{},"meta":{}}"#,
                "GET /test: HTTP 200: unexpected response body: invalid type: map, expected a sequence",
            ),
            (
                r#"{"backups":[],"meta":{"has_more":"true"}}"#,
                "GET /test: HTTP 200: unexpected response body: `meta`: invalid type: string \"true\", expected a boolean",
            ),
            (
                "<html><body>Bad gateway</body></html>",
                "GET /test: HTTP 200: an HTML page instead of JSON",
            ),
        ];
        for (body, want) in cases {
            let err = adapter(None)
                .parse_page(&response(200, body), 20)
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::Protocol, "{body}");
            let text = err.to_string();
            assert!(
                text.starts_with(want),
                "{body}\n got: {text}\nwant: {want}…"
            );
        }
        // Invalid UTF-8 never panics.
        let mut bytes = br#"{"backups":[{"id":""#.to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(br#""}]}"#);
        let resp = Response {
            body: bytes,
            ..response(200, "")
        };
        assert_eq!(
            adapter(None).parse_page(&resp, 20).unwrap_err().kind,
            ErrorKind::Protocol
        );
    }

    #[test]
    fn error_bodies_become_one_line_with_the_right_kind() {
        let table = [
            (
                429,
                RATE_LIMITED,
                ErrorKind::RateLimited,
                "GET /test: HTTP 429: Rate limit exceeded (Please wait 30 seconds before retrying)",
            ),
            (
                401,
                UNAUTHORIZED,
                ErrorKind::Auth,
                "GET /test: HTTP 401: Authentication required or token invalid [request req-7c9e6679-7425-40de-944b-e07fc1f90ae7]",
            ),
            (
                403,
                r#"{"error":{"code":403,"message":"Forbidden","details":"missing scope storage:read","request_id":"req-1"}}"#,
                ErrorKind::Forbidden,
                "GET /test: HTTP 403: Forbidden (missing scope storage:read) [request req-1]",
            ),
            (
                500,
                r#"{"error":{"code":"500","details":"db down"}}"#,
                ErrorKind::Server,
                "GET /test: HTTP 500: db down",
            ),
            (
                400,
                r#"{"error":"limit too large"}"#,
                ErrorKind::Client,
                "GET /test: HTTP 400: limit too large",
            ),
            (
                502,
                "<html><h1>502 Bad Gateway</h1></html>",
                ErrorKind::Server,
                "GET /test: HTTP 502: an HTML error page",
            ),
            (
                503,
                r#"{"error":{"code":503,"message":null}}"#,
                ErrorKind::Server,
                r#"GET /test: HTTP 503: {"error":{"code":503,"message":null}}"#,
            ),
            (
                404,
                "",
                ErrorKind::NotFound,
                "GET /test: HTTP 404: empty response body",
            ),
        ];
        for (status, body, kind, want) in table {
            let err = vendor_error(&response(status, body));
            assert_eq!(err.kind, kind, "{status} {body}");
            assert_eq!(err.to_string(), want, "{status} {body}");
        }
    }

    #[test]
    fn status_table_follows_the_spec() {
        let table = [
            ("available", Status::Available),
            ("ACTIVE", Status::Available),
            ("Completed", Status::Available),
            ("COMPLETED", Status::Available),
            ("creating", Status::Creating),
            ("Restoring", Status::Restoring),
            ("DELETING", Status::Deleting),
            ("deleted", Status::Deleted),
            ("error", Status::Error),
            ("FAILED", Status::Error),
            ("archived", Status::Unknown),
            ("", Status::Unknown),
            ("cancelled", Status::Unknown),
        ];
        for (raw, want) in table {
            assert_eq!(status(raw), want, "{raw}");
        }
        // The push-down table agrees with the mapping, value by value.
        for wanted in Status::ALL {
            for v in vendor_statuses(wanted) {
                assert_eq!(status(v), wanted, "{v}");
            }
        }
    }

    #[test]
    fn only_single_vendor_values_are_pushed_down() {
        use Status::*;
        let table: [(&[Status], Option<&str>); 9] = [
            (&[], None),
            (&[Creating], Some("creating")),
            (&[Deleted], Some("deleted")),
            (&[Creating, Cancelled], Some("creating")),
            (&[Available], None),
            (&[Error], None),
            (&[Creating, Restoring], None),
            (&[Creating, Unknown], None),
            (&[Cancelled], None),
        ];
        for (statuses, want) in table {
            assert_eq!(pushed_status(statuses), want, "{statuses:?}");
        }
    }

    #[test]
    fn query_carries_page_and_pushed_filters() {
        let filter = Filter {
            statuses: vec![Status::Restoring],
            name: Some(NameGlob::new("web-*").unwrap()),
            resource: Some("550e8400-e29b-41d4-a716-446655440001".into()),
            ..Filter::default()
        };
        assert_eq!(
            page_query(&filter, 100, Some("m1")),
            vec![
                ("limit", "100".to_string()),
                ("marker", "m1".to_string()),
                ("name", "web-*".to_string()),
                ("status", "restoring".to_string()),
                (
                    "volume_id",
                    "550e8400-e29b-41d4-a716-446655440001".to_string()
                ),
            ]
        );
        let not_pushed = Filter {
            statuses: vec![Status::Available],
            name: Some(NameGlob::new("web-?1").unwrap()),
            resource: Some("vol-web-01".into()),
            ..Filter::default()
        };
        assert_eq!(
            page_query(&not_pushed, 20, None),
            vec![("limit", "20".to_string())]
        );
        let exact = Filter {
            name: Some(NameGlob::new("db-main").unwrap()),
            resource: Some("550e8400e29b41d4a716446655440001".into()),
            ..Filter::default()
        };
        assert_eq!(
            page_query(&exact, 20, None),
            vec![("limit", "20".to_string()), ("name", "db-main".to_string())]
        );
    }

    #[test]
    fn urls_keep_an_endpoint_path_and_debug_hides_secrets() {
        let mut a = adapter(None);
        assert_eq!(
            a.list_url().unwrap().as_str(),
            "https://api.spo1.mycloud.com/v1/backups"
        );
        a.config.endpoint = Url::parse("https://gw.example/bycloud/?x=1").unwrap();
        assert_eq!(
            a.list_url().unwrap().as_str(),
            "https://gw.example/bycloud/v1/backups"
        );
        a.config.auth = BycloudAuth::ApiKey {
            id: "AK1".into(),
            secret: Secret::new("s3cret"),
        };
        let (name, value) = a.auth_header().unwrap();
        assert_eq!(name, "x-api-key");
        assert_eq!(value.to_str().unwrap(), "AK1:s3cret");
        assert!(value.is_sensitive());
        assert!(!format!("{:?}", a.config).contains("s3cret"));
        a.config.auth = BycloudAuth::Bearer(Secret::new("bad\ntoken"));
        let err = a.auth_header().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(!err.to_string().contains("token\n"));
    }

    /// Property tests: no body, however broken, panics the parser or lists silently wrong rows.
    mod properties {
        use super::*;
        use crate::providers::arbitrary::{self, assert_rows_or_protocol_error};

        fn templates() -> [Value; 3] {
            [SEED, EDGE, RATE_LIMITED].map(|t| serde_json::from_str(t).unwrap())
        }

        fn check(body: &[u8]) {
            let resp = Response {
                body: body.to_vec(),
                ..response(200, "")
            };
            let page = adapter(Some("spo1")).parse_page(&resp, 20);
            if let Ok(page) = &page {
                // A next page is asked for by a marker, never by anything else.
                assert!(matches!(page.next, None | Some(Cursor::Marker(_))));
            }
            let outcome = page.map(|p| p.rows);
            assert_rows_or_protocol_error(&outcome, ProviderId::Bycloud, "bc");
            for status in [400, 401, 429, 500] {
                let resp = Response {
                    body: body.to_vec(),
                    ..response(status, "")
                };
                let err = vendor_error(&resp);
                assert!(!err.to_string().contains('\n'));
            }
        }

        arbitrary::parser_properties!(check, templates());
    }
}
