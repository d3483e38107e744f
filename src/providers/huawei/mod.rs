//! Huawei Cloud Backup and Recovery (CBR v3) adapter: `GET /v3/{project_id}/backups`
//! (ListBackups) with AK/SK signing, an IAM token, or an IAM user's password exchanged for a
//! token (`docs/providers/huawei.md`). Offset paging, with the pages after the first fetched in
//! parallel. Without a configured project id, the project is looked up from IAM by the region's
//! name.

mod config;
pub(crate) mod sign;

use config::check_project_id;
pub(crate) use config::{HuaweiAuth, HuaweiBuilder, HuaweiConfig};

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use reqwest::{Method, Url};

use serde::de::MapAccess;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::http::Response;
use crate::model::{
    gib_to_bytes, non_empty, Backup, ExtraBuilder, Field, ProviderId, Status, Timestamp,
};
use crate::secret::{sensitive_header, Secret};

use super::page_size::PageSize;
use super::rows::{self, Capped, Vendor, VendorRow};
use super::token::{Temporary, TokenCache};
use super::{BoxFuture, Capabilities, Cursor, Page, Provider, Run};

/// What this adapter supports.
pub(crate) const CAPABILITIES: Capabilities = Capabilities {
    provider: ProviderId::Huawei,
    auth: &[
        "AK/SK signing (SDK-HMAC-SHA256)",
        "IAM token (X-Auth-Token)",
        "IAM user password -> token",
    ],
    filters: &["status", "since", "until", "name (exact)", "resource (id)"],
    paging: "offset (parallel after the first page), limit 1000 falling back to 100",
    fields: &[
        Field::Id,
        Field::Name,
        Field::Status,
        Field::ProviderStatus,
        Field::ResourceType,
        Field::ResourceId,
        Field::ResourceName,
        Field::SizeBytes,
        Field::CreatedAt,
        Field::UpdatedAt,
        Field::ExpiresAt,
        Field::Incremental,
        Field::Description,
        Field::Location,
        Field::ParentId,
        Field::Extra,
    ],
};

/// The page size asked for first. CBR documents no maximum; if the first page is refused
/// with a 400 about `limit`, the adapter falls back to [`FALLBACK_LIMIT`] for the account.
const PREFERRED_LIMIT: u64 = 1000;
/// The page size the docs' examples use, accepted everywhere.
const FALLBACK_LIMIT: u64 = 100;

/// One Huawei account.
pub(crate) struct Huawei {
    account: String,
    config: HuaweiConfig,
    /// `scheme://host[:port]` of the CBR endpoint: the SDK drops any path, and so do we.
    origin: String,
    /// `host[:port]` as the `Host` header carries it (signed).
    host: String,
    /// The project and the IAM token to use (renewed on 401 for a password login).
    session: TokenCache<Session>,
    /// The page size in force for this account.
    page_size: PageSize,
}

/// What requests of an account carry besides the static credentials.
#[derive(Clone)]
struct Session {
    /// The project id: configured, looked up from IAM, or named by the IAM token.
    project_id: String,
    /// The IAM token (given, or from a password login); `None` with AK/SK signing.
    token: Option<Secret>,
}

impl Huawei {
    /// The adapter for one account.
    pub(crate) fn new(account: String, config: HuaweiConfig) -> Huawei {
        let (origin, host) = origin_and_host(&config.endpoint);
        // Static credentials with a configured project need nothing fetched.
        let session = match (&config.project_id, &config.auth) {
            (Some(project_id), HuaweiAuth::AkSk { .. } | HuaweiAuth::Token(_)) => {
                TokenCache::holding(Session {
                    project_id: project_id.clone(),
                    token: configured_token(&config.auth),
                })
            }
            _ => TokenCache::new(Duration::ZERO),
        };
        Huawei {
            account,
            origin,
            host,
            session,
            page_size: PageSize::new(PREFERRED_LIMIT, FALLBACK_LIMIT),
            config,
        }
    }

    /// The region's name, which is also the name of its IAM project.
    fn region(&self) -> Result<&str> {
        self.config.region.as_deref().ok_or_else(|| {
            Error::config("project_id is not set and no region names the project to look up")
        })
    }

    /// Finds the project id the SDK's way (`docs/providers/huawei.md#project-id`):
    /// `GET {iam}/v3/projects?name=<region>` with the account's credentials; exactly one project
    /// must answer.
    async fn lookup_project(&self, run: &Run<'_>) -> Result<String> {
        let region = self.region()?;
        let (iam_origin, iam_host) = origin_and_host(&self.config.iam_endpoint);
        let query = [("name".to_string(), region.to_string())];
        let token = configured_token(&self.config.auth);
        let resp = run
            .send(&self.account, || {
                self.request(
                    run,
                    (&iam_origin, &iam_host),
                    ("/v3/projects", &query),
                    None,
                    token.as_ref(),
                )
            })
            .await?;
        if !resp.is_success() {
            return Err(vendor_error(&resp));
        }
        if let Some(trace) = resp.header("X-IAM-Trace-Id") {
            tracing::info!(
                "{}: IAM project lookup, trace id {}",
                self.account,
                crate::text::quote(trace)
            );
        }
        #[derive(Deserialize)]
        struct Projects {
            projects: Vec<Project>,
        }
        #[derive(Deserialize)]
        struct Project {
            id: String,
        }
        let list: Projects = resp.json()?;
        match list.projects.as_slice() {
            [one] => {
                check_project_id(&one.id)
                    .map_err(|m| resp.protocol_error(format!("IAM named a project: {m}")))?;
                Ok(one.id.clone())
            }
            [] => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "IAM has no project named `{region}` for these credentials; set project_id"
                ),
            )),
            many => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "IAM has {} projects named `{region}` for these credentials; set project_id",
                    many.len()
                ),
            )),
        }
    }

    /// A session: the project id (configured, else looked up) with the configured token, or
    /// the token of a password login. `old` is the session it replaces, whose project id
    /// scopes the new token.
    async fn open(&self, run: &Run<'_>, old: Option<Session>) -> Result<Temporary<Session>> {
        let project_id = self.config.project_id.clone().or(old.map(|s| s.project_id));
        let session = match &self.config.auth {
            HuaweiAuth::AkSk { .. } | HuaweiAuth::Token(_) => Session {
                project_id: match project_id {
                    Some(id) => id,
                    None => self.lookup_project(run).await?,
                },
                token: configured_token(&self.config.auth),
            },
            HuaweiAuth::Password {
                user,
                password,
                domain,
            } => {
                let credentials = (user.as_str(), password, domain.as_str());
                self.login(run, credentials, project_id).await?
            }
        };
        // An IAM token lives 24 hours; it is renewed when the server rejects it.
        Ok(Temporary::lasting(session))
    }

    /// POST {iam}/v3/auth/tokens with the IAM user's password, scoped to the project (by id
    /// when known, else by the region's name, and then the token names the project).
    async fn login(
        &self,
        run: &Run<'_>,
        (user, password, domain): (&str, &Secret, &str),
        project_id: Option<String>,
    ) -> Result<Session> {
        let (iam_origin, _) = origin_and_host(&self.config.iam_endpoint);
        let url = parse_url(&format!("{iam_origin}/v3/auth/tokens"))?;
        let body = serde_json::json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user,
                            "password": password.expose(),
                            "domain": { "name": domain },
                        }
                    }
                },
                "scope": { "project": scope(project_id.as_deref(), self.config.region.as_deref()) }
            }
        });
        let body = body.to_string();
        let resp = run
            .send(&self.account, || {
                Ok(run
                    .request(Method::POST, url.clone())
                    .header("Content-Type", "application/json;charset=UTF-8")
                    .body(body.clone()))
            })
            .await?;
        if !resp.is_success() {
            return Err(vendor_error(&resp));
        }
        let token = resp
            .header("X-Subject-Token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| resp.protocol_error("IAM answered without an X-Subject-Token header"))?;
        let project_id = match project_id {
            Some(id) => id,
            None => {
                // Scoped by the region's name: the token names the project it was issued for.
                let body: Value = resp.json()?;
                let id = body["token"]["project"]["id"].as_str().ok_or_else(|| {
                    resp.protocol_error("IAM issued a token without token.project.id")
                })?;
                check_project_id(id).map_err(|m| {
                    resp.protocol_error(format!("IAM issued a token for a project: {m}"))
                })?;
                id.to_string()
            }
        };
        Ok(Session {
            project_id,
            token: Some(Secret::new(token)),
        })
    }

    /// Builds one ListBackups request (signing it when AK/SK are configured). Called once per
    /// try, so the `X-Sdk-Date` is always fresh.
    fn build(
        &self,
        run: &Run<'_>,
        session: &Session,
        query: &[(String, String)],
    ) -> Result<reqwest::RequestBuilder> {
        let project = &session.project_id;
        // One path segment, whatever the id holds (it was checked to be hex; this keeps a
        // server's `../x?y#` from ever becoming another path, query or fragment).
        let path = format!("/v3/{}/backups", path_segment(project));
        self.request(
            run,
            (&self.origin, &self.host),
            (&path, query),
            Some(project),
            session.token.as_ref(),
        )
    }

    /// A GET to `origin` (`host` as signed) with the account's credentials: signed with
    /// AK/SK, or carrying the IAM `token`. `project` is sent (and signed) as `X-Project-Id`.
    fn request(
        &self,
        run: &Run<'_>,
        (origin, host): (&str, &str),
        (path, query): (&str, &[(String, String)]),
        project: Option<&str>,
        token: Option<&Secret>,
    ) -> Result<reqwest::RequestBuilder> {
        match &self.config.auth {
            HuaweiAuth::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                let date = sign::sdk_date(Utc::now());
                let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
                if let Some(p) = project {
                    headers.push(("X-Project-Id", p));
                }
                headers.push((sign::DATE_HEADER, &date));
                if let Some(t) = security_token {
                    headers.push(("X-Security-Token", t.expose()));
                }
                let signed = sign::sign(
                    &sign::Request {
                        method: "GET",
                        host,
                        path,
                        query,
                        headers: &headers,
                        body: b"",
                    },
                    access_key.expose(),
                    secret_key.expose(),
                );
                // The signed canonical query is the wire query: building the URL from the
                // string keeps the encoding the server will re-canonicalise.
                let url = list_url(origin, path, &signed.query)?;
                let mut req = run.request(Method::GET, url);
                for (name, value) in &headers {
                    req = match *name {
                        "X-Security-Token" => req.header(*name, sensitive_header(value)?),
                        _ => req.header(*name, *value),
                    };
                }
                Ok(req.header("Authorization", sensitive_header(&signed.authorization)?))
            }
            HuaweiAuth::Token(_) | HuaweiAuth::Password { .. } => {
                let token = token.ok_or_else(|| {
                    Error::new(ErrorKind::Auth, "no IAM token yet (authentication failed)")
                })?;
                let url = list_url(origin, path, &sign::canonical_query(query))?;
                Ok(run
                    .request(Method::GET, url)
                    .header("Content-Type", "application/json")
                    .header("X-Auth-Token", sensitive_header(token.expose())?))
            }
        }
    }
}

/// The IAM token given in the config, if that is how the account authenticates.
fn configured_token(auth: &HuaweiAuth) -> Option<Secret> {
    match auth {
        HuaweiAuth::Token(t) => Some(t.clone()),
        HuaweiAuth::AkSk { .. } | HuaweiAuth::Password { .. } => None,
    }
}

/// A token's scope: the project by id when known, else by the region's name.
fn scope(project_id: Option<&str>, region: Option<&str>) -> Value {
    match project_id {
        Some(id) => serde_json::json!({ "id": id }),
        None => serde_json::json!({ "name": region }),
    }
}

impl Provider for Huawei {
    fn renewable(&self) -> bool {
        // AK/SK signatures and a given token have no session; an IAM password login does.
        matches!(self.config.auth, HuaweiAuth::Password { .. })
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn authenticate<'a>(&'a self, run: &'a Run<'a>, renew: bool) -> BoxFuture<'a, Result<()>> {
        // Signatures and a given token are static (never renewed): only the project id is
        // looked up, once, when it was not configured.
        Box::pin(async move {
            if renew {
                self.session.renew(|old| self.open(run, old)).await?;
            } else {
                self.session.get(|old| self.open(run, old)).await?;
            }
            Ok(())
        })
    }

    fn total_in_prefix(&self, prefix: &[u8]) -> Option<(u64, u64)> {
        count_first(prefix).map(|count| (count, self.page_size.get()))
    }

    fn list_page<'a>(
        &'a self,
        run: &'a Run<'a>,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            let offset = match cursor {
                None => 0,
                Some(Cursor::Offset(o)) => *o,
                Some(other) => {
                    return Err(Error::new(
                        ErrorKind::Paging,
                        format!("unexpected {other} for offset paging"),
                    ))
                }
            };
            let session = self.session.get(|old| self.open(run, old)).await?;
            let (mut resp, _) = self
                .page_size
                .send(run, &self.account, offset == 0, |limit| {
                    let ep = self.config.enterprise_project_id.as_deref();
                    self.build(run, &session, &page_query(run.filter, ep, limit, offset))
                })
                .await?;
            if !resp.is_success() {
                return Err(vendor_error(&resp));
            }
            let account = self.account.clone();
            let max_rows = run.options.max_page_rows;
            let (count, rows) = run
                .decode(&mut resp, &self.account, move |body| {
                    parse_page(body, &account, max_rows)
                })
                .await?;
            let len = rows.len() as u64;
            // `count` is unreliable (total or page size, unstated): only a hint for fetching
            // the remaining offsets in parallel, given on the first page when it says more
            // rows exist. The loop always ends on an empty page.
            let total = count.filter(|&c| offset == 0 && c > len);
            let next = match (len > 0).then(|| offset.checked_add(len)) {
                None => None,
                Some(Some(o)) => Some(Cursor::Offset(o)),
                Some(None) => {
                    return Err(resp.protocol_error(format!(
                        "offset {offset} plus {len} rows does not fit in 64 bits"
                    )))
                }
            };
            Ok(Page { rows, next, total })
        })
    }
}

/// `N` when `body` starts `{"count": N,` (whitespace allowed between tokens), as CBR's
/// ListBackups pages do: the total, read before the rows arrive.
fn count_first(body: &[u8]) -> Option<u64> {
    let mut rest = body;
    let mut token = |t: &[u8]| -> Option<()> {
        rest = rest.trim_ascii_start().strip_prefix(t)?;
        Some(())
    };
    token(b"{")?;
    token(b"\"count\"")?;
    token(b":")?;
    let digits = rest.trim_ascii_start();
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = digits[len..].trim_ascii_start();
    if len == 0 || len > 19 || after.first() != Some(&b',') || (digits[0] == b'0' && len > 1) {
        return None;
    }
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

/// Parses and maps one ListBackups page (CBR v3, `GET /v3/{project_id}/backups`): its `count`
/// and its rows, each mapped as it is read, at most `max_rows`. The error is a message for a
/// protocol error.
fn parse_page(
    body: &[u8],
    account: &str,
    max_rows: usize,
) -> std::result::Result<(Option<u64>, Vec<Backup>), String> {
    let mut rows = Capped::new(max_rows, "rows");
    let others = rows::rows_in_object(
        body,
        "backups",
        false,
        |Vendor(row): Vendor<BackupResp<'_>>| rows.push(to_backup(row, account)?),
    )?;
    // Total or page size, depending on the deployment.
    let count = rows::other::<Option<u64>>(&others, "count")?.flatten();
    Ok((count, rows.into_vec()))
}

/// `scheme://host[:port]` and `host[:port]` of an endpoint (its path is dropped, as the SDK
/// does). Default ports are omitted, as the `Host` header omits them.
fn origin_and_host(url: &Url) -> (String, String) {
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => String::new(),
    };
    (format!("{}://{host}", url.scheme()), host)
}

/// `segment` percent-encoded as one path segment: `/`, `?`, `#`, `%` and `.` included, so
/// `..` cannot climb either.
fn path_segment(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// `origin + path + ?query` as one string, so the query keeps its exact (signed) encoding.
fn list_url(origin: &str, path: &str, query: &str) -> Result<Url> {
    if query.is_empty() {
        parse_url(&format!("{origin}{path}"))
    } else {
        parse_url(&format!("{origin}{path}?{query}"))
    }
}

fn parse_url(s: &str) -> Result<Url> {
    Url::parse(s).map_err(|e| Error::config(format!("invalid Huawei endpoint URL: {e}")))
}

/// The ListBackups query: paging plus the filters CBR applies exactly as the client would.
fn page_query(
    filter: &Filter,
    enterprise_project: Option<&str>,
    limit: u64,
    offset: u64,
) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = vec![
        ("limit".into(), limit.to_string()),
        ("offset".into(), offset.to_string()),
    ];
    if let Some(ep) = enterprise_project {
        q.push(("enterprise_project_id".into(), ep.into()));
    }
    for status in pushed_statuses(&filter.statuses) {
        q.push(("status".into(), status.into()));
    }
    // Widen to whole seconds (the API takes no fraction) so the server never drops a row
    // the client filter keeps.
    if let Some(since) = filter.since {
        let floor = since.with_nanosecond(0).unwrap_or(since);
        q.push(("start_time".into(), api_time(floor)));
    }
    if let Some(until) = filter.until {
        let whole = until.with_nanosecond(0).unwrap_or(until);
        // Checked: at the calendar's last second there is no next one (then the bound stays).
        let ceil = if whole < until {
            whole
                .checked_add_signed(chrono::Duration::seconds(1))
                .unwrap_or(until)
        } else {
            whole
        };
        q.push(("end_time".into(), api_time(ceil)));
    }
    if let Some(name) = filter.name.as_ref().and_then(|g| g.exact()) {
        q.push(("name".into(), name.into()));
    }
    // `--resource` also matches names: only a UUID is surely an id.
    if let Some(id) = filter.resource_is_uuid() {
        q.push(("resource_id".into(), id.into()));
    }
    q
}

fn api_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The CBR statuses that normalise to `status` (`docs/model.md#status-stable`, read backwards).
fn vendor_statuses(status: Status) -> &'static [&'static str] {
    match status {
        Status::Available => &["available"],
        Status::Creating => &["protecting", "waiting_protect"],
        Status::Restoring => &["restoring", "waiting_restore"],
        Status::Deleting => &["deleting", "waiting_delete"],
        Status::Error => &["error"],
        Status::Deleted | Status::Cancelled | Status::Unknown => &[],
    }
}

/// The `status=` values to send, or none when pushing down could change the result: a
/// requested `unknown` matches values the server cannot be asked for, and a status without
/// a CBR value (deleted, cancelled) is left to the client filter.
fn pushed_statuses(wanted: &[Status]) -> Vec<&'static str> {
    if wanted.is_empty() || wanted.iter().any(|s| vendor_statuses(*s).is_empty()) {
        return Vec::new();
    }
    let mut out: Vec<&'static str> = wanted
        .iter()
        .flat_map(|s| vendor_statuses(*s).iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Normalises a CBR status (`docs/providers/huawei.md#status-values`), case-insensitively; anything
/// else is `Unknown`.
fn status(raw: &str) -> Status {
    match raw.trim().to_ascii_lowercase().as_str() {
        "available" => Status::Available,
        "protecting" | "waiting_protect" => Status::Creating,
        "restoring" | "waiting_restore" => Status::Restoring,
        "deleting" | "waiting_delete" => Status::Deleting,
        "error" => Status::Error,
        _ => Status::Unknown,
    }
}

/// One `BackupResp` of ListBackups; every field not mapped stays in `rest` for `extra`.
#[derive(Default)]
struct BackupResp<'a> {
    id: Option<String>,
    name: Option<String>,
    status: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    resource_name: Option<String>,
    /// GB of the protected resource.
    resource_size: Option<u64>,
    created_at: Option<String>,
    updated_at: Option<String>,
    expired_at: Option<String>,
    /// Top level in current API versions; older ones only have `extend_info.incremental`.
    incremental: Option<bool>,
    description: Option<String>,
    resource_az: Option<String>,
    parent_id: Option<String>,
    rest: ExtraBuilder<'a>,
}

impl<'de> VendorRow<'de> for BackupResp<'de> {
    const EXPECTING: &'static str = "a BackupResp object";
    const REQUIRED: &'static str = "id";

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "id" => self.id = Some(map.next_value()?),
            "name" => self.name = map.next_value()?,
            "status" => self.status = map.next_value()?,
            "resource_type" => self.resource_type = map.next_value()?,
            "resource_id" => self.resource_id = map.next_value()?,
            "resource_name" => self.resource_name = map.next_value()?,
            "resource_size" => self.resource_size = map.next_value()?,
            "created_at" => self.created_at = map.next_value()?,
            "updated_at" => self.updated_at = map.next_value()?,
            "expired_at" => self.expired_at = map.next_value()?,
            "incremental" => self.incremental = map.next_value()?,
            "description" => self.description = map.next_value()?,
            "resource_az" => self.resource_az = map.next_value()?,
            "parent_id" => self.parent_id = map.next_value()?,
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

/// Maps one `BackupResp` to the model; the error is a message for a protocol error.
fn to_backup(row: BackupResp<'_>, account: &str) -> std::result::Result<Backup, String> {
    // `complete` made sure of it.
    let id = row.id.unwrap_or_default();
    let mut extra = row.rest;
    let incremental = row
        .incremental
        .or_else(|| extend_info_incremental(extra.get("extend_info")?));
    let size_bytes =
        match row.resource_size {
            Some(gib) => Some(gib_to_bytes(gib).ok_or_else(|| {
                format!("backup {id}: resource_size {gib} GB does not fit in bytes")
            })?),
            None => None,
        };
    let status = row.status.as_deref().map_or(Status::Unknown, status);
    let mut time = |key: &'static str, raw: Option<String>| {
        let raw = non_empty(raw)?;
        let parsed = Timestamp::parse_vendor(&raw);
        if parsed.is_none() {
            // Keep what could not be read rather than losing it.
            extra.text(key, raw);
        }
        parsed
    };
    let created_at = time("created_at", row.created_at);
    let updated_at = time("updated_at", row.updated_at);
    let expires_at = time("expired_at", row.expired_at);
    let built = extra.build().map_err(|m| format!("backup {id}: {m}"))?;
    let mut b = Backup::new(ProviderId::Huawei, account, id, status);
    b.name = row.name;
    b.provider_status = row.status;
    b.resource_type = row.resource_type.map(|t| match t.as_str() {
        "OS::Nova::Server" => "server".to_string(),
        "OS::Cinder::Volume" => "volume".to_string(),
        _ => t,
    });
    b.resource_id = row.resource_id;
    b.resource_name = row.resource_name;
    b.size_bytes = size_bytes;
    b.created_at = created_at;
    b.updated_at = updated_at;
    b.expires_at = expires_at;
    b.incremental = incremental;
    b.description = non_empty(row.description);
    b.location = row.resource_az;
    b.parent_id = row.parent_id;
    b.extra = built;
    Ok(b)
}

/// `extend_info.incremental` when it is a boolean. Only that key is read: the rest of the
/// object is skipped, not built into a tree, for every row of an older API version.
fn extend_info_incremental(info: &RawValue) -> Option<bool> {
    #[derive(Deserialize)]
    struct Info {
        incremental: Option<Value>,
    }
    serde_json::from_str::<Info>(info.get())
        .ok()?
        .incremental?
        .as_bool()
}

/// A vendor error body as one line, per the SDK's parse order
/// (`docs/providers/huawei.md#errors-and-rate-limiting`):
/// `error_code`+`error_msg`, `errorCode`+`errorMsg`, `code`+`message`, then the same inside a
/// nested object (`{"error":{…}}`). A `request_id` is appended for support tickets.
fn vendor_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let (code, msg) = code_and_message(obj).or_else(|| {
        obj.values()
            .filter_map(Value::as_object)
            .find_map(code_and_message)
    })?;
    let mut out = match code {
        Some(code) => format!("{code}: {msg}"),
        None => msg,
    };
    if let Some(id) = obj.get("request_id").and_then(Value::as_str) {
        out.push_str(&format!(" (request id {id})"));
    }
    Some(out)
}

fn code_and_message(obj: &Map<String, Value>) -> Option<(Option<String>, String)> {
    let text = |k: &str| match obj.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ]
    .iter()
    .find_map(|(c, m)| {
        let msg = text(m)?;
        Some((text(c), msg))
    })
}

/// The error for a non-2xx response, its kind refined by the vendor code.
fn vendor_error(resp: &Response) -> Error {
    let message = vendor_message(&resp.body);
    let mut err = resp.error(message.clone());
    if let Some(kind) = message.as_deref().and_then(kind_for_code) {
        err.kind = kind;
    }
    err
}

/// Vendor codes that say more than the HTTP status (gateway codes come as `APIGW.` or `APIG.`).
fn kind_for_code(message: &str) -> Option<ErrorKind> {
    let code = message.split(':').next()?.trim();
    let (_, number) = code.split_once('.')?;
    if !matches!(code.split('.').next(), Some("APIGW" | "APIG")) {
        return None;
    }
    match number {
        "0301" | "0303" => Some(ErrorKind::Auth),
        "0308" => Some(ErrorKind::RateLimited),
        "0101" => Some(ErrorKind::NotFound),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
