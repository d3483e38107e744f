//! Z.com (ConoHa-style OpenStack) adapter: a Keystone v2.0 token (`POST {identity}/tokens`,
//! or one given in the config), then one unpaged `GET {compute}/{tenant_id}/backup`
//! (`docs/providers/zcom.md`). Each backup group (one VM's automatic-backup subscription) holds
//! backup runs; every run is one row.
//!
//! The vendor serves this JSON as `text/html`, and its documented example carries trailing
//! commas, so the body is parsed strictly first and, only if that fails on syntax, again with
//! trailing commas removed. The content type is never looked at.

mod config;

pub(crate) use config::{ZcomAuth, ZcomBuilder, ZcomConfig};

use std::borrow::Cow;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::de::MapAccess;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::{self, Response};
use crate::model::{
    non_empty, Backup, ExtraBuilder, Field, JsonStrings, ProviderId, Status, Timestamp,
};
use crate::secret::{sensitive_header, Secret};

use super::rows::{self, Capped, Vendor, VendorRow};
use super::token::{Temporary, TokenCache};
use super::{BoxFuture, Capabilities, Cursor, Page, Provider, Run};

/// What this adapter supports.
pub(crate) const CAPABILITIES: Capabilities = Capabilities {
    provider: ProviderId::Zcom,
    auth: &["password (Keystone v2.0 token)", "token"],
    // The API takes no query parameters.
    filters: &[],
    paging: "none (one response)",
    fields: &[
        Field::Id,
        Field::Status,
        Field::ProviderStatus,
        Field::ResourceType,
        Field::ResourceId,
        Field::CreatedAt,
        Field::Location,
        Field::ParentId,
        Field::Extra,
    ],
};

/// A token this close to its `expires` is replaced before use, so a request does not race
/// the expiry.
const TOKEN_MIN_TTL: Duration = Duration::from_secs(60);

/// One Z.com account.
pub(crate) struct Zcom {
    account: String,
    config: ZcomConfig,
    /// The token and compute base in use; it expires at the token's `expires` (a configured
    /// token, or one with an unreadable time, is kept until the server rejects it).
    session: TokenCache<Session>,
}

/// A token and where to use it.
#[derive(Clone)]
struct Session {
    token: Secret,
    /// The compute base including the tenant, without a trailing slash.
    compute: String,
}

impl Zcom {
    /// The adapter for one account.
    pub(crate) fn new(account: String, config: ZcomConfig) -> Zcom {
        Zcom {
            account,
            config,
            session: TokenCache::new(TOKEN_MIN_TTL),
        }
    }

    /// `{compute_endpoint}/{tenant_id}`, when the config gives the compute endpoint; the
    /// tenant id is one percent-encoded path segment.
    fn configured_compute(&self) -> Option<String> {
        self.config.compute_endpoint.as_ref().map(|c| {
            match http::join_path(c, &[self.config.tenant_id.as_str()]) {
                Some(url) => url.as_str().to_string(),
                // The config accepts only http(s) URLs, which always take a path.
                None => c.as_str().to_string(),
            }
        })
    }

    /// `POST {identity}/tokens` with password credentials.
    async fn login(
        &self,
        run: &Run<'_>,
        username: &str,
        password: &Secret,
    ) -> Result<Temporary<Session>> {
        let base = self.config.identity_endpoint.as_str().trim_end_matches('/');
        let url = Url::parse(&format!("{base}/tokens"))
            .map_err(|e| Error::config(format!("identity_endpoint: {e}")))?;
        let body = serde_json::json!({
            "auth": {
                "passwordCredentials": { "username": username, "password": password.expose() },
                "tenantId": self.config.tenant_id,
            }
        })
        .to_string();
        let resp = run
            .send(&self.account, || {
                Ok(run
                    .request(Method::POST, url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "application/json")
                    .body(body.clone()))
            })
            .await?;
        if !resp.is_success() {
            return Err(vendor_error(&resp));
        }
        let tokens: PostTokensResponse = resp.json()?;
        let access = tokens.access;
        if access.token.id.is_empty() {
            return Err(resp.protocol_error("the token response has an empty access.token.id"));
        }
        let compute = match self.configured_compute() {
            Some(c) => c,
            None => self
                .catalog_compute(&access.service_catalog)
                .map_err(|e| e.with_request(&resp.request, Some(resp.status)))?,
        };
        let session = Session {
            token: Secret::new(access.token.id),
            compute,
        };
        // An unreadable expiry is no error: the token is then renewed only after a 401.
        let expires = access
            .token
            .expires
            .as_deref()
            .and_then(Timestamp::parse_vendor);
        Ok(match expires {
            Some(at) => Temporary::expiring_at(session, at.utc(), Utc::now(), Instant::now()),
            None => Temporary::lasting(session),
        })
    }

    /// The `compute` endpoint of the token's service catalog (in the configured region when
    /// one is set). It already ends in `/{tenant_id}`. The token goes there, so it must be on
    /// the identity endpoint's site over https (`docs/config.md#urls-a-server-names`; see
    /// [`super::check_discovered`]); `compute_endpoint` pins another.
    fn catalog_compute(&self, catalog: &[CatalogService]) -> Result<String> {
        let endpoints: Vec<&CatalogEndpoint> = catalog
            .iter()
            .filter(|s| s.kind.eq_ignore_ascii_case("compute"))
            .flat_map(|s| &s.endpoints)
            .collect();
        let chosen = match &self.config.region {
            Some(r) => endpoints
                .iter()
                .find(|e| e.region.as_deref() == Some(r.as_str())),
            None => endpoints.first(),
        }
        .ok_or_else(|| {
            Error::protocol(
                "the token's service catalog has no compute endpoint (set compute_endpoint)",
            )
        })?;
        let url = Url::parse(&chosen.public_url).map_err(|e| {
            Error::protocol(format!(
                "the catalog's compute publicURL is not a URL ({e}): `{}`",
                crate::text::quote(&crate::providers::builder::without_userinfo(
                    &chosen.public_url
                ))
            ))
        })?;
        super::check_discovered(
            &url,
            &self.config.identity_endpoint,
            "the token's service catalog names the compute endpoint",
            "identity endpoint",
            "compute_endpoint",
        )?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::protocol(
                "the catalog's compute publicURL holds a user name or password",
            ));
        }
        Ok(chosen.public_url.trim_end_matches('/').to_string())
    }

    /// A new session: the configured token, or one from a password login.
    async fn open(&self, run: &Run<'_>) -> Result<Temporary<Session>> {
        match &self.config.auth {
            // A configured token cannot be renewed ([`Provider::renewable`]): on a 401 the
            // server's answer is the error.
            ZcomAuth::Token(token) => Ok(Temporary::lasting(Session {
                token: token.clone(),
                compute: self.configured_compute().ok_or_else(|| {
                    Error::config("compute_endpoint (or region) is required with a token")
                })?,
            })),
            ZcomAuth::Password { username, password } => self.login(run, username, password).await,
        }
    }
}

impl Provider for Zcom {
    fn renewable(&self) -> bool {
        // A configured token cannot be renewed; a password login can.
        matches!(self.config.auth, ZcomAuth::Password { .. })
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn authenticate<'a>(&'a self, run: &'a Run<'a>, renew: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if renew {
                self.session.renew(|_| self.open(run)).await?;
            } else {
                self.session.get(|_| self.open(run)).await?;
            }
            Ok(())
        })
    }

    fn list_page<'a>(
        &'a self,
        run: &'a Run<'a>,
        _cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            // Renews a token near its `expires` before using it.
            let session = self.session.get(|_| self.open(run)).await?;
            let url = Url::parse(&format!("{}/backup", session.compute)).map_err(|e| {
                Error::config(format!("the compute endpoint does not make a URL: {e}"))
            })?;
            let resp = run
                .send(&self.account, || {
                    Ok(run
                        .request(Method::GET, url.clone())
                        .header(ACCEPT, "application/json")
                        .header("X-Auth-Token", sensitive_header(session.token.expose())?))
                })
                .await?;
            if !resp.is_success() {
                return Err(vendor_error(&resp));
            }
            let (account, region) = (self.account.clone(), self.config.region.clone());
            let max_rows = run.options.max_page_rows;
            let mut resp = resp;
            let rows = run
                .decode(&mut resp, &self.account, move |body| {
                    parse_page(body, &account, region.as_deref(), max_rows)
                })
                .await?;
            // No paging: the one response is the whole listing.
            Ok(Page {
                rows,
                next: None,
                total: None,
            })
        })
    }
}

/// Response of Keystone v2.0 `POST /tokens`.
#[derive(Deserialize)]
struct PostTokensResponse {
    access: TokenAccess,
}

#[derive(Deserialize)]
struct TokenAccess {
    token: TokenInfo,
    #[serde(rename = "serviceCatalog", default)]
    service_catalog: Vec<CatalogService>,
}

#[derive(Deserialize)]
struct TokenInfo {
    id: String,
    expires: Option<String>,
}

#[derive(Deserialize)]
struct CatalogService {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    endpoints: Vec<CatalogEndpoint>,
}

#[derive(Deserialize)]
struct CatalogEndpoint {
    region: Option<String>,
    #[serde(rename = "publicURL")]
    public_url: String,
}

/// One backup group of "List backups" (`GET /v2/{tenant_id}/backup`, whose `backup` lists
/// them): the automatic-backup subscription of one VM. Its runs are read after the group (they
/// need the group's fields), from the raw `backupruns`.
#[derive(Default)]
struct BackupGroup<'a> {
    id: Option<String>,
    instance_id: Option<String>,
    backupruns: Option<&'a RawValue>,
    rest: ExtraBuilder<'a>,
}

impl<'de> VendorRow<'de> for BackupGroup<'de> {
    const EXPECTING: &'static str = "a backup group object";
    const REQUIRED: &'static str = "id";

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "id" => self.id = Some(map.next_value()?),
            "instance_id" => self.instance_id = map.next_value()?,
            "backupruns" => self.backupruns = Some(map.next_value()?),
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

/// One backup run: one backup operation, one row.
#[derive(Default)]
struct BackupRun<'a> {
    backuprun_id: Option<String>,
    status: Option<String>,
    created_at: Option<String>,
    kind: Option<String>,
    volume_id: Option<String>,
    rest: ExtraBuilder<'a>,
}

impl<'de> VendorRow<'de> for BackupRun<'de> {
    const EXPECTING: &'static str = "a backup run object";
    const REQUIRED: &'static str = "backuprun_id";

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "backuprun_id" => self.backuprun_id = Some(map.next_value()?),
            "status" => self.status = map.next_value()?,
            "created_at" => self.created_at = map.next_value()?,
            "type" => self.kind = map.next_value()?,
            "volume_id" => self.volume_id = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn complete(&self) -> bool {
        self.backuprun_id.is_some()
    }

    fn extra(&mut self) -> &mut ExtraBuilder<'de> {
        &mut self.rest
    }
}

/// Parses the list response (the whole listing, one page) and maps every run of every group as
/// it is read, at most `max_rows` runs. Strictly first; only when that fails on JSON syntax,
/// again with trailing commas before `}` and `]` removed (the vendor's documented example has
/// them). A body that is still not JSON reports the strict error; one that is JSON but the
/// wrong shape reports that. The error is a message for a protocol error.
fn parse_page(
    body: &[u8],
    account: &str,
    region: Option<&str>,
    max_rows: usize,
) -> std::result::Result<Vec<Backup>, String> {
    let strict = parse_groups(body, account, region, max_rows);
    let Err(message) = strict else {
        return strict;
    };
    if !is_json(body) {
        if let Cow::Owned(relaxed) = strip_trailing_commas(body) {
            if is_json(&relaxed) {
                return parse_groups(&relaxed, account, region, max_rows);
            }
        }
    }
    Err(message)
}

/// Whether `body` is well-formed JSON text, whatever its shape.
fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// [`parse_page`] without the second chance.
fn parse_groups(
    body: &[u8],
    account: &str,
    region: Option<&str>,
    max_rows: usize,
) -> std::result::Result<Vec<Backup>, String> {
    let mut rows = Capped::new(max_rows, "backup runs");
    rows::rows_in_object(
        body,
        "backup",
        false,
        |Vendor(group): Vendor<BackupGroup<'_>>| {
            // `complete` made sure of it.
            let group_id = group.id.unwrap_or_default();
            // Group-level fields not mapped go under `group`: group and run both may carry
            // `type`, `created_at` and `volume_id` (the detail example), so flat keys would
            // collide.
            let group_extra = if group.rest.is_empty() {
                None
            } else {
                let built = group
                    .rest
                    .build()
                    .map_err(|m| format!("backup group {group_id}: {m}"))?;
                Some(built)
            };
            let runs = match group.backupruns {
                None => return Ok(()),
                Some(raw) if raw.get() == "null" => return Ok(()),
                Some(raw) => raw,
            };
            let group = Group {
                id: &group_id,
                instance_id: group.instance_id.as_deref(),
                extra: group_extra.as_ref(),
            };
            rows::rows_in_array(
                runs.get().as_bytes(),
                |Vendor(run): Vendor<BackupRun<'_>>| {
                    rows.push(to_backup(run, &group, account, region)?)
                },
            )
        },
    )?;
    Ok(rows.into_vec())
}

/// What a run's row takes from its group.
struct Group<'g> {
    id: &'g str,
    instance_id: Option<&'g str>,
    /// The group's unmapped fields, when it has any.
    extra: Option<&'g crate::model::Extra>,
}

fn to_backup(
    run: BackupRun<'_>,
    group: &Group<'_>,
    account: &str,
    region: Option<&str>,
) -> std::result::Result<Backup, String> {
    // `complete` made sure of it.
    let run_id = run.backuprun_id.unwrap_or_default();
    if run_id.trim().is_empty() {
        return Err(format!(
            "a backup run of group {} has an empty backuprun_id",
            group.id
        ));
    }
    let created_at = match run.created_at.as_deref().map(str::trim) {
        // The detail example sends "" for a run that has not started.
        None | Some("") => None,
        Some(s) => Some(
            Timestamp::parse_vendor(s)
                .ok_or_else(|| format!("backup run {run_id}: created_at `{s}` is not a time"))?,
        ),
    };
    let mut b = Backup::new(
        ProviderId::Zcom,
        account,
        run_id.clone(),
        run.status.as_deref().map_or(Status::Unknown, status),
    );
    // name: None, runs have no name.
    b.provider_status = run.status;
    b.resource_type = run.kind.as_deref().and_then(resource_type);
    let is_volume = b.resource_type.as_deref() == Some("volume");
    b.resource_id = if is_volume {
        non_empty(run.volume_id.clone())
    } else {
        non_empty(group.instance_id.map(str::to_string))
    };
    // resource_name: None, the API names neither VMs nor volumes.
    // size_bytes: None, Z.com reports no size.
    b.created_at = created_at;
    // updated_at: None, not reported. expires_at: None, runs are deleted after three weeks
    // unless saved as an image, but the API states no date, and a guess is no data.
    // incremental, description: None, not reported.
    // location: the configured region; the API names none (null when only endpoints are set).
    b.location = region.map(str::to_string);
    b.parent_id = non_empty(Some(group.id.to_string()));
    let mut extra = ExtraBuilder::default();
    match group.instance_id {
        Some(id) => extra.text("instance_id", id.to_string()),
        None => extra.null("instance_id"),
    }
    match run.kind {
        Some(kind) => extra.text("type", kind),
        None => extra.null("type"),
    }
    if !is_volume {
        if let Some(v) = run.volume_id {
            extra.text("volume_id", v);
        }
    }
    // A run field of the same name as one above keeps its place and the run's value.
    extra.extend(run.rest);
    if let Some(group_extra) = group.extra {
        extra.json("group", group_extra.to_raw());
    }
    b.extra = extra
        .build()
        .map_err(|m| format!("backup run {run_id}: {m}"))?;
    Ok(b)
}

/// Normalised status for a Z.com run `status` (`docs/providers/zcom.md#status-values`),
/// case-insensitive.
fn status(s: &str) -> Status {
    match s.trim().to_ascii_lowercase().as_str() {
        "available" => Status::Available,
        "creating" | "queued" => Status::Creating,
        "restoring" => Status::Restoring,
        "deleting" => Status::Deleting,
        "deleted" => Status::Deleted,
        "error" => Status::Error,
        _ => Status::Unknown,
    }
}

/// `instance` runs back up a server, `volume` runs a volume; other values stay as sent.
fn resource_type(kind: &str) -> Option<String> {
    let k = kind.trim();
    if k.eq_ignore_ascii_case("instance") {
        Some("server".into())
    } else if k.eq_ignore_ascii_case("volume") {
        Some("volume".into())
    } else {
        non_empty(Some(k.to_string()))
    }
}

/// Removes each `,` that is followed (after whitespace) by `}` or `]`, outside strings.
/// Borrowed when there is none. Only ASCII bytes are touched, so UTF-8 stays intact.
fn strip_trailing_commas(body: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut strings = JsonStrings::default();
    for (i, &b) in body.iter().enumerate() {
        let mut drop = false;
        if !strings.step(b) && b == b',' {
            let next = body[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            drop = matches!(next, Some(b'}' | b']'));
        }
        match (&mut out, drop) {
            (None, true) => out = Some(body[..i].to_vec()),
            (Some(o), false) => o.push(b),
            _ => {}
        }
    }
    out.map_or(Cow::Borrowed(body), Cow::Owned)
}

/// One line from an OpenStack error body: Keystone `{"error":{"message","code","title"}}` or
/// Nova `{"<faultName>":{"message","code"}}`, i.e. any single-key object whose value has a
/// `message`. `None` when the body is neither (the caller shows an excerpt).
fn vendor_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let (key, inner) = obj.iter().next()?;
    let message = inner.get("message")?.as_str()?.trim();
    let name = inner
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(key);
    Some(if message.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {message}")
    })
}

/// The error for a non-2xx response: the OpenStack fault's codes say no more than the status.
fn vendor_error(resp: &Response) -> Error {
    resp.error(vendor_message(&resp.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::http::response;
    use serde_json::json;

    fn parse(body: &[u8], region: Option<&str>) -> Result<Vec<Backup>> {
        let resp = response(200, body);
        parse_page(&resp.body, "zcom-tokyo", region, 100_000).map_err(|m| resp.protocol_error(m))
    }

    fn row(
        id: &str,
        status: &str,
        created: &str,
        kind: &str,
        resource: &str,
        group: &str,
        instance: &str,
    ) -> Value {
        json!({
            "provider": "zcom",
            "account": "zcom-tokyo",
            "id": id,
            "name": null,
            "status": status,
            "provider_status": status,
            "resource_type": if kind == "instance" { "server" } else { "volume" },
            "resource_id": resource,
            "resource_name": null,
            "size_bytes": null,
            "created_at": created,
            "updated_at": null,
            "expires_at": null,
            "incremental": null,
            "description": null,
            "location": "tyo1",
            "parent_id": group,
            "extra": { "instance_id": instance, "type": kind }
        })
    }

    #[test]
    fn maps_the_vendor_page_example_with_its_trailing_commas() {
        let body = include_bytes!("../../../fixtures/zcom/list_backup_seed.json");
        // The fixture really is invalid strict JSON.
        assert!(serde_json::from_slice::<Value>(body).is_err());
        let rows = parse(body, Some("tyo1")).unwrap();
        let (g1, i1) = (
            "9fbcc5eb-aa2b-4d17-a27d-43f11c8c2b17",
            "5da9552d-93fa-4b86-8fe5-2968556017f7",
        );
        let (g2, i2) = (
            "1df1d401-0e64-4f43-8a96-475b4eb55029",
            "a647cd83-ad21-48aa-85e6-4e3ab52d337f",
        );
        let (g3, i3) = (
            "eaf25feb-8255-4cda-912c-ffea8df34e0e",
            "9ed73499-255b-498b-b2b8-4790d2556c4d",
        );
        let want = json!([
            row(
                "58ad1951017444acacc13cee1067f1d0",
                "available",
                "2015-02-28T12:56:29Z",
                "instance",
                i1,
                g1,
                i1
            ),
            row(
                "9ba40be79b474328a42046d47171ca1d",
                "available",
                "2015-02-24T06:11:04Z",
                "volume",
                "5026a03f-01e3-4188-899b-8738538f47db",
                g2,
                i2
            ),
            row(
                "4f9a0f1047ef4a5d9758fa176e8a6ba1",
                "available",
                "2015-02-25T09:22:10Z",
                "instance",
                i2,
                g2,
                i2
            ),
            row(
                "eccb48b720ed469f87f42492b98f39f7",
                "available",
                "2015-02-25T09:28:15Z",
                "instance",
                i2,
                g2,
                i2
            ),
            row(
                "9a61530e82434128a6039974a1c8397e",
                "available",
                "2015-02-12T09:59:15Z",
                "instance",
                i3,
                g3,
                i3
            ),
            row(
                "136918faac024d879acda658d47c290f",
                "restoring",
                "2015-02-12T09:59:33Z",
                "volume",
                "312d5592-445b-4d67-965c-4d2a0e2e02cb",
                g3,
                i3
            ),
        ]);
        assert_eq!(serde_json::to_value(&rows).unwrap(), want);
    }

    #[test]
    fn the_detail_shape_with_empty_times_and_group_fields() {
        // The detail example's quirks: group-level type/created_at/volume_id, "" times and
        // statuses, an unknown type, unknown run fields.
        let body = br#"{"backup":[{"id":"g1","instance_id":"i1","type":"server","created_at":"2015-02-01T00:00:00Z","volume_id":"","backupruns":[
            {"backuprun_id":"r1","status":"","created_at":"","type":"snapshot","volume_id":"v9","progress":40},
            {"backuprun_id":"r2","status":"QUEUED","created_at":"2015-02-02T01:02:03Z","type":"Volume","volume_id":"v1"}
        ]}]}"#;
        let rows = parse(body, None).unwrap();
        let mut r1 = Backup::new(ProviderId::Zcom, "zcom-tokyo", "r1".into(), Status::Unknown);
        r1.provider_status = Some(String::new());
        r1.resource_type = Some("snapshot".into());
        r1.resource_id = Some("i1".into());
        r1.parent_id = Some("g1".into());
        r1.extra = json!({
            "instance_id": "i1",
            "type": "snapshot",
            "volume_id": "v9",
            "progress": 40,
            "group": {"type": "server", "created_at": "2015-02-01T00:00:00Z", "volume_id": ""}
        })
        .as_object()
        .unwrap()
        .clone()
        .into();
        assert_eq!(rows[0], r1);
        assert_eq!(rows[1].status, Status::Creating);
        assert_eq!(rows[1].resource_type.as_deref(), Some("volume"));
        assert_eq!(rows[1].resource_id.as_deref(), Some("v1"));
        assert_eq!(rows[1].location, None);
        assert_eq!(
            rows[1].created_at.map(|t| t.to_string()).as_deref(),
            Some("2015-02-02T01:02:03Z")
        );
    }

    #[test]
    fn statuses_follow_the_spec_table_in_any_case() {
        let table = [
            ("available", Status::Available),
            ("AVAILABLE", Status::Available),
            ("creating", Status::Creating),
            ("queued", Status::Creating),
            ("Queued", Status::Creating),
            ("restoring", Status::Restoring),
            ("deleting", Status::Deleting),
            ("deleted", Status::Deleted),
            ("error", Status::Error),
            ("ERROR", Status::Error),
            ("failed", Status::Unknown),
            ("cancelled", Status::Unknown),
            ("", Status::Unknown),
        ];
        for (s, want) in table {
            assert_eq!(status(s), want, "{s}");
        }
    }

    #[test]
    fn trailing_commas_are_removed_only_outside_strings() {
        let table: [(&[u8], &[u8]); 7] = [
            (br#"{"a":[1,2,],}"#, br#"{"a":[1,2]}"#),
            (b"[1 ,\n ]", b"[1 \n ]"),
            (br#"{"s":"x,}","t":"y,]",}"#, br#"{"s":"x,}","t":"y,]"}"#),
            (br#"{"s":"quote \",}"}"#, br#"{"s":"quote \",}"}"#),
            (br#"{"s":"back\\",}"#, br#"{"s":"back\\"}"#),
            ("{\"é\":\"ü,]\",}".as_bytes(), "{\"é\":\"ü,]\"}".as_bytes()),
            (br#"[1,2]"#, br#"[1,2]"#),
        ];
        for (input, want) in table {
            assert_eq!(
                strip_trailing_commas(input).as_ref(),
                want,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(matches!(strip_trailing_commas(b"[1,2]"), Cow::Borrowed(_)));
        // A comma inside a string value survives a full parse.
        let body = br#"{"backup":[{"id":"g,]","instance_id":"i","backupruns":[{"backuprun_id":"r","status":"available","type":"instance","note":"a,}"},],},]}"#;
        let rows = parse(body, None).unwrap();
        assert_eq!(rows[0].parent_id.as_deref(), Some("g,]"));
        assert_eq!(rows[0].extra.get("note"), json!("a,}"));
    }

    #[test]
    fn bad_bodies_are_protocol_errors_naming_the_request() {
        let table: [(&[u8], &str); 6] = [
            (
                b"<html><body>Maintenance</body></html>",
                "an HTML page instead of JSON",
            ),
            (br#"{"backup":[{"id":"g","backupruns":[{"backuprun_id":7}],}]}"#, "unexpected response body: invalid type: integer `7`"),
            (br#"{"backups":[]}"#, "missing field `backup`"),
            (br#"{"backup":[{"id":"g","backupruns":[{"backuprun_id":"r","created_at":"yesterday"}]}]}"#, "backup run r: created_at `yesterday` is not a time"),
            (br#"{"backup":[{"id":"g","backupruns":[{"backuprun_id":""}]}]}"#, "a backup run of group g has an empty backuprun_id"),
            (b"{\"backup\":[,,", "unexpected response body"),
        ];
        for (body, want) in table {
            let err = parse(body, None).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Protocol);
            let text = err.to_string();
            assert!(text.starts_with("GET /test: HTTP 200: "), "{text}");
            assert!(text.contains(want), "{text} / {want}");
        }
        assert_eq!(parse(br#"{"backup":[]}"#, None).unwrap(), []);
        assert_eq!(
            parse(br#"{"backup":[{"id":"g","backupruns":null}]}"#, None).unwrap(),
            []
        );
    }

    #[test]
    fn openstack_error_bodies_become_one_line() {
        let table: [(u16, &[u8], ErrorKind, &str); 5] = [
            (
                401,
                br#"{"error": {"message": "The request you have made requires authentication.", "code": 401, "title": "Unauthorized"}}"#,
                ErrorKind::Auth,
                "Unauthorized: The request you have made requires authentication.",
            ),
            (
                404,
                br#"{"itemNotFound": {"message": "Backup not found", "code": 404}}"#,
                ErrorKind::NotFound,
                "itemNotFound: Backup not found",
            ),
            (
                400,
                br#"{"badRequest": {"code": 400, "message": "Invalid tenant"}}"#,
                ErrorKind::Client,
                "badRequest: Invalid tenant",
            ),
            (
                500,
                br#"{"a": {"message": "x"}, "b": {}}"#,
                ErrorKind::Server,
                r#"{"a": {"message": "x"}, "b": {}}"#,
            ),
            (503, b"<html>busy</html>", ErrorKind::Server, "an HTML error page"),
        ];
        for (status, body, kind, want) in table {
            let err = vendor_error(&response(status, body));
            assert_eq!(err.kind, kind);
            assert_eq!(err.to_string(), format!("GET /test: HTTP {status}: {want}"));
        }
    }

    fn config(region: Option<&str>, compute: Option<&str>) -> ZcomConfig {
        ZcomConfig {
            region: region.map(str::to_string),
            identity_endpoint: Url::parse("https://identity.tyo1.cloud.z.com/v2.0").unwrap(),
            compute_endpoint: compute.map(|c| Url::parse(c).unwrap()),
            tenant_id: "t1".into(),
            auth: ZcomAuth::Token(Secret::new("tok")),
            transport: Default::default(),
        }
    }

    #[test]
    fn the_compute_endpoint_comes_from_config_or_catalog() {
        let z = Zcom::new(
            "z".into(),
            config(None, Some("https://compute.tyo1.cloud.z.com/v2/")),
        );
        assert_eq!(
            z.configured_compute().as_deref(),
            Some("https://compute.tyo1.cloud.z.com/v2/t1")
        );
        let catalog: Vec<CatalogService> = serde_json::from_value(json!([
            {"type": "identity", "endpoints": [{"region": "tyo1", "publicURL": "https://identity.tyo1.cloud.z.com/v2.0"}]},
            {"type": "compute", "endpoints": [
                {"region": "sin1", "publicURL": "https://compute.sin1.cloud.z.com/v2/t1"},
                {"region": "tyo1", "publicURL": "https://compute.tyo1.cloud.z.com/v2/t1/"}
            ]}
        ]))
        .unwrap();
        let z = Zcom::new("z".into(), config(Some("tyo1"), None));
        assert_eq!(
            z.catalog_compute(&catalog).unwrap(),
            "https://compute.tyo1.cloud.z.com/v2/t1"
        );
        let z = Zcom::new("z".into(), config(None, None));
        assert_eq!(
            z.catalog_compute(&catalog).unwrap(),
            "https://compute.sin1.cloud.z.com/v2/t1"
        );
        let z = Zcom::new("z".into(), config(Some("jpt1"), None));
        assert!(z
            .catalog_compute(&catalog)
            .unwrap_err()
            .message
            .contains("no compute endpoint"));
        // The token never goes to plain http elsewhere, nor to another site.
        let catalog_of = |url: &str| -> Vec<CatalogService> {
            serde_json::from_value(json!([
                {"type": "compute", "endpoints": [{"region": "tyo1", "publicURL": url}]}
            ]))
            .unwrap()
        };
        let z = Zcom::new("z".into(), config(None, None));
        let refused = |url: &str| {
            let e = z.catalog_compute(&catalog_of(url)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Insecure, "{url}");
            e.message
        };
        assert_eq!(
            refused("http://compute.tyo1.cloud.z.com/v2/t1"),
            "the token's service catalog names the compute endpoint http://compute.tyo1.cloud.z.com: credentials go only over https (or plain http to loopback); set `compute_endpoint` to choose the URL"
        );
        assert_eq!(
            refused("https://compute.evil.example/v2/t1"),
            "the token's service catalog names the compute endpoint https://compute.evil.example, which is not on the identity endpoint's domain (identity.tyo1.cloud.z.com); set `compute_endpoint` to trust it"
        );
        refused("http://127.0.0.1:1/v2/t1");
        assert_eq!(
            z.catalog_compute(&catalog_of("https://other.cloud.z.com/v2/t1"))
                .unwrap(),
            "https://other.cloud.z.com/v2/t1"
        );
    }

    #[test]
    fn tokens_are_replaced_before_they_expire() {
        use crate::providers::token::is_usable;
        let (now, instant) = (Utc::now(), Instant::now());
        // Whether a token stating `expires` is used as is (not replaced) now.
        let fresh = |expires: Option<chrono::DateTime<Utc>>| {
            let t = match expires {
                Some(at) => Temporary::expiring_at((), at, now, instant),
                None => Temporary::lasting(()),
            };
            is_usable(t.expiry, instant, TOKEN_MIN_TTL)
        };
        assert!(fresh(None));
        assert!(fresh(Some(now + chrono::Duration::hours(24))));
        assert!(!fresh(Some(now + chrono::Duration::seconds(30))));
        assert!(!fresh(Some(now - chrono::Duration::hours(1))));
    }

    /// Property tests: no body, however broken, panics the parser or lists silently wrong rows.
    mod properties {
        use super::*;
        use crate::providers::arbitrary::{self, assert_rows_or_protocol_error, shaped};
        use proptest::prelude::*;

        /// The vendor's documented example (its trailing commas removed to read it).
        fn listing() -> Value {
            let seed = include_bytes!("../../../fixtures/zcom/list_backup_seed.json");
            serde_json::from_slice(&strip_trailing_commas(seed)).unwrap()
        }

        /// A Keystone v2.0 token response with a compute catalog entry.
        fn token() -> Value {
            json!({"access": {
                "token": {"id": "tok", "expires": "2026-11-24T12:00:00Z"},
                "serviceCatalog": [{"type": "compute", "name": "Compute Service", "endpoints": [
                    {"region": "tyo1", "publicURL": "https://compute.tyo1.cloud.z.com/v2/t1"}
                ]}]
            }})
        }

        fn check(body: &[u8]) {
            let outcome = parse(body, Some("tyo1"));
            assert_rows_or_protocol_error(&outcome, ProviderId::Zcom, "zcom-tokyo");
            let _ = vendor_message(body);
            let _ = strip_trailing_commas(body);
            // The token response: parsed, then its catalog read, with and without a region.
            if let Ok(tokens) = http::parse_json::<PostTokensResponse>(body) {
                for region in [None, Some("tyo1")] {
                    let z = Zcom::new("z".into(), config(region, None));
                    let _ = z.catalog_compute(&tokens.access.service_catalog);
                }
                let _ = tokens
                    .access
                    .token
                    .expires
                    .as_deref()
                    .map(Timestamp::parse_vendor);
            }
        }

        arbitrary::parser_properties!(check, [listing(), token()]);

        proptest! {
            #![proptest_config(arbitrary::config())]

            #[test]
            fn removing_trailing_commas_keeps_valid_json_unchanged(doc in shaped(&listing())) {
                let body = serde_json::to_vec_pretty(&doc).unwrap();
                prop_assert!(matches!(strip_trailing_commas(&body), Cow::Borrowed(_)));
            }
        }
    }
}
