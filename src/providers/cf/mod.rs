//! Cloud Foundry OSMAPI service-instance backups (`docs/providers/cf.md`).
//!
//! CF has no single list of backups: the adapter enumerates service instances
//! (`GET /v3/service_instances`, paged by `pagination.next.href`) or takes the configured guids,
//! then asks every instance for its backups (`GET /v3/service_instances/{guid}/backups`),
//! several instances at once. Authentication is UAA OAuth2: the token endpoint is discovered
//! from `GET {api}/` (`links.login`, else `links.uaa`) and the access token is sent as
//! `Authorization: bearer <token>`.

mod config;
pub(crate) use config::{CfAuth, CfBuilder, CfConfig};

use std::collections::HashSet;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Method, Url};
use serde::de::MapAccess;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, Response};
use crate::model::{Backup, ExtraBuilder, Field, ProviderId, Status, Timestamp};
use crate::secret::{sensitive_header, Secret};
use crate::text;

use super::rows::{self, Capped, Vendor, VendorRow};
use super::token::{Temporary, TokenCache};
use super::{
    limit, BoxFuture, Capabilities, Cursor, KnownResource, Page, PageGuard, Provider, Run,
};

/// What this adapter supports.
pub(crate) const CAPABILITIES: Capabilities = Capabilities {
    provider: ProviderId::Cf,
    auth: &[
        "UAA password grant (client cf)",
        "UAA client_credentials",
        "bearer token (+ refresh_token)",
    ],
    // The backups call takes only `limit`, which truncates: nothing can be pushed down.
    filters: &[],
    paging: "instances: next links (per_page 5000); backups: one unpaged call per instance, parallel per instance",
    fields: &[
        Field::Id,
        Field::Status,
        Field::ResourceType,
        Field::ResourceId,
        Field::ResourceName,
        Field::CreatedAt,
        Field::Extra,
    ],
};

/// The largest `per_page` Cloud Controller accepts (`docs/providers/cf.md#listing`).
const MAX_PER_PAGE: u32 = 5000;

/// The cf CLI's public UAA client: id `cf`, empty secret (`Basic base64("cf:")`).
const CF_CLIENT_BASIC: &str = "Basic Y2Y6";

/// One Cloud Foundry account.
pub(crate) struct Cf {
    account: String,
    config: CfConfig,
    /// `per_page` for the instance listing; only tests lower it, to page across a few instances.
    per_page: u32,
    /// The token endpoint, discovered once from `GET {api}/`.
    token_url: TokenCache<Url>,
    /// The UAA tokens in hand: kept until the server rejects the access token (UAA's
    /// `expires_in` is not read), then refreshed by [`Provider::authenticate`].
    tokens: TokenCache<Tokens>,
    /// The instances whose backups call answered in the last listing, with their backup
    /// counts: [`Provider::resources`], so `audit` sees instances that have no backups.
    known: std::sync::Mutex<Vec<KnownResource>>,
}

/// The UAA tokens in hand.
#[derive(Clone)]
struct Tokens {
    access: Secret,
    refresh: Option<Secret>,
}

/// A service instance whose backups are listed.
#[derive(Clone, Debug)]
struct Instance {
    guid: String,
    name: Option<String>,
}

impl Cf {
    /// The adapter for one account.
    pub(crate) fn new(account: String, config: CfConfig) -> Cf {
        let tokens = match &config.auth {
            // Given tokens are used as they are until the server rejects them.
            CfAuth::Token {
                access_token,
                refresh_token,
            } => TokenCache::holding(Tokens {
                access: access_token.clone(),
                refresh: refresh_token.clone(),
            }),
            _ => TokenCache::new(Duration::ZERO),
        };
        Cf {
            account,
            config,
            per_page: MAX_PER_PAGE,
            token_url: TokenCache::new(Duration::ZERO),
            tokens,
            known: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The same adapter listing instances `per_page` at a time (tests page with small values).
    #[cfg(all(test, feature = "emulator"))]
    pub(crate) fn with_per_page(mut self, per_page: u32) -> Cf {
        self.per_page = per_page;
        self
    }

    /// `{api}/<segments…>`, each segment percent-encoded (guids come from config or the server).
    fn api_url(&self, segments: &[&str]) -> Url {
        // The config accepts only http(s) URLs, which always take a path.
        http::join_path(&self.config.api, segments).unwrap_or_else(|| self.config.api.clone())
    }

    /// `GET url` with the bearer token. A response whose error is of kind Auth (a 401, or a
    /// vendor code meaning the token was refused) becomes that error, so `with_renewal`
    /// renews; every other status comes back for the caller to judge.
    async fn get(&self, run: &Run<'_>, url: &Url) -> Result<Response> {
        let tokens = self.tokens.get(|_| self.login(run)).await?;
        let bearer = format!("bearer {}", tokens.access.expose());
        let resp = run
            .send(&self.account, || {
                Ok(run
                    .request(Method::GET, url.clone())
                    .header(AUTHORIZATION, sensitive_header(&bearer)?)
                    .header(ACCEPT, "application/json"))
            })
            .await?;
        if !resp.is_success() {
            let e = vendor_error(&resp);
            if e.kind == ErrorKind::Auth {
                return Err(e);
            }
        }
        Ok(resp)
    }

    /// The UAA token endpoint: under the pinned `uaa`, else under the login server `GET {api}/`
    /// names (discovered once), which must be on the API's site.
    async fn discover(&self, run: &Run<'_>) -> Result<Temporary<Url>> {
        if let Some(uaa) = &self.config.uaa {
            let url = http::join_path(uaa, &["oauth", "token"])
                .ok_or_else(|| Error::config(format!("uaa {uaa} cannot take a path")))?;
            return Ok(Temporary::lasting(url));
        }
        let root = self.api_url(&[""]);
        let resp = run
            .send(&self.account, || {
                Ok(run
                    .request(Method::GET, root.clone())
                    .header(ACCEPT, "application/json"))
            })
            .await?;
        if !resp.is_success() {
            return Err(vendor_error(&resp));
        }
        let body: RootInfo = resp.json()?;
        let link = body
            .links
            .login
            .or(body.links.uaa)
            .ok_or_else(|| resp.protocol_error("GET / names no login or uaa link"))?;
        let auth = Url::parse(&link.href).map_err(|e| {
            resp.protocol_error(format!("the login link is not a URL ({e}): {}", link.href))
        })?;
        super::check_discovered(
            &auth,
            &self.config.api,
            "GET / of the API names the login server",
            "API",
            "uaa",
        )
        .map_err(|e| e.with_request(&resp.request, Some(resp.status)))?;
        let url = http::join_path(&auth, &["oauth", "token"]).ok_or_else(|| {
            resp.protocol_error(format!("the login link cannot take a path: {}", link.href))
        })?;
        Ok(Temporary::lasting(url))
    }

    /// `POST {auth}/oauth/token` with one grant: the tokens it returns. UAA may keep the
    /// refresh token as is (and sends none for some grants): then `keep_refresh` stays.
    async fn grant(
        &self,
        run: &Run<'_>,
        grant: Grant<'_>,
        keep_refresh: Option<Secret>,
    ) -> Result<Temporary<Tokens>> {
        let url = self.token_url.get(|_| self.discover(run)).await?;
        let resp = run
            .send(&self.account, || {
                let mut form: Vec<(&str, &str)> = Vec::with_capacity(4);
                let req = run
                    .request(Method::POST, url.clone())
                    .header(ACCEPT, "application/json");
                let req = match &grant {
                    Grant::Password { username, password } => {
                        form.extend([
                            ("grant_type", "password"),
                            ("username", username),
                            ("password", password.expose()),
                        ]);
                        req.header(AUTHORIZATION, sensitive_header(CF_CLIENT_BASIC)?)
                    }
                    Grant::ClientCredentials { id, secret } => {
                        form.extend([
                            ("grant_type", "client_credentials"),
                            ("client_id", id),
                            ("client_secret", secret.expose()),
                        ]);
                        req
                    }
                    Grant::Refresh(token) => {
                        form.extend([
                            ("grant_type", "refresh_token"),
                            ("refresh_token", token.expose()),
                        ]);
                        // A refresh is made by the client that got the token.
                        match &self.config.auth {
                            CfAuth::ClientCredentials {
                                client_id,
                                client_secret,
                            } => {
                                form.extend([
                                    ("client_id", client_id.as_str()),
                                    ("client_secret", client_secret.expose()),
                                ]);
                                req
                            }
                            _ => req.header(AUTHORIZATION, sensitive_header(CF_CLIENT_BASIC)?),
                        }
                    }
                };
                Ok(req.form(&form))
            })
            .await?;
        if !resp.is_success() {
            return Err(vendor_error(&resp));
        }
        let body: TokenResponse = resp.json()?;
        if body.access_token.trim().is_empty() {
            return Err(resp.protocol_error("UAA answered with an empty access_token"));
        }
        let refresh = body
            .refresh_token
            .filter(|r| !r.trim().is_empty())
            .map(Secret::new)
            .or(keep_refresh);
        Ok(Temporary::lasting(Tokens {
            access: Secret::new(body.access_token),
            refresh,
        }))
    }

    /// The grant made from the configured credentials, if they allow one.
    fn original_grant(&self) -> Option<Grant<'_>> {
        match &self.config.auth {
            CfAuth::Password { username, password } => Some(Grant::Password { username, password }),
            CfAuth::ClientCredentials {
                client_id,
                client_secret,
            } => Some(Grant::ClientCredentials {
                id: client_id,
                secret: client_secret,
            }),
            CfAuth::Token { .. } => None,
        }
    }

    /// The first tokens: from the configured credentials. (Given tokens are in the cache from
    /// the start, so this only runs for the grants.)
    async fn login(&self, run: &Run<'_>) -> Result<Temporary<Tokens>> {
        match self.original_grant() {
            Some(grant) => self.grant(run, grant, None).await,
            None => Err(Error::new(ErrorKind::Auth, "not logged in to UAA")),
        }
    }

    /// New tokens after the server rejected `old`: refreshed with its refresh token, else
    /// (or when that fails) a new grant from the configured credentials.
    async fn relogin(&self, run: &Run<'_>, old: Option<Tokens>) -> Result<Temporary<Tokens>> {
        let refresh = old.and_then(|t| t.refresh);
        let refreshed = match &refresh {
            Some(token) => {
                self.grant(run, Grant::Refresh(token), refresh.clone())
                    .await
            }
            None => Err(Error::new(ErrorKind::Auth, "no refresh token")),
        };
        match (refreshed, self.original_grant()) {
            (Ok(tokens), _) => Ok(tokens),
            (Err(e), Some(grant)) => {
                if refresh.is_some() {
                    tracing::info!(
                        "{}: refreshing the UAA token failed ({e}); logging in again",
                        self.account
                    );
                }
                self.grant(run, grant, None).await
            }
            (Err(e), None) if refresh.is_some() => Err(Error::new(
                ErrorKind::Auth,
                format!("the access token was rejected (expired?) and refreshing it failed: {e}"),
            )),
            (Err(_), None) => Err(Error::new(
                ErrorKind::Auth,
                "the access token was rejected (expired?) and no refresh_token is configured",
            )),
        }
    }

    /// Every service instance the user can see, following `pagination.next.href`, each guid
    /// once. A page naming only instances already seen fails the account, as the shared loop
    /// does for backups: a server repeating its pages under new `next` links stops at the
    /// second page, not at `--max-pages`.
    async fn all_instances(&self, run: &Run<'_>) -> Result<Vec<Instance>> {
        let mut url = self.api_url(&["v3", "service_instances"]);
        url.query_pairs_mut()
            .append_pair("per_page", &self.per_page.to_string());
        let mut guard = PageGuard::new(run.options.max_pages);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut first = true;
        loop {
            guard.page(" of service instances")?;
            let resp = run.with_renewal(self, || self.get(run, &url)).await?;
            let mut resp = ok_or_error(resp)?;
            let max_rows = run.options.max_page_rows;
            let (resources, next) = run
                .decode(&mut resp, &self.account, move |body| {
                    parse_instances(body, max_rows)
                })
                .await?;
            let listed = resources.len();
            let before = out.len();
            for r in resources {
                if seen.insert(r.guid.clone()) {
                    out.push(Instance {
                        guid: r.guid,
                        name: r.name,
                    });
                }
            }
            let fresh = out.len() - before;
            let at = if first {
                "the first page".to_string()
            } else {
                format!("the page at {}", Cursor::Url(url.clone()))
            };
            first = false;
            if listed > 0 && fresh == 0 {
                return Err(Error::new(
                    ErrorKind::Paging,
                    format!(
                        "{at} held only service instances already seen; stopped instead of looping"
                    ),
                )
                .with_request(&resp.request, Some(resp.status)));
            }
            if fresh < listed {
                tracing::warn!(
                    "{}: dropped {} service instances repeated across pages (at {at})",
                    self.account,
                    listed - fresh
                );
            }
            let (Some(next), false) = (next, listed == 0) else {
                break;
            };
            let next = Url::parse(&next)
                .or_else(|_| url.join(&next))
                .map_err(|e| resp.protocol_error(format!("pagination.next is not a URL ({e})")))?;
            if !http::same_origin(&next, &self.config.api) {
                return Err(Error::new(
                    ErrorKind::Insecure,
                    format!(
                        "pagination.next points to another origin ({}); not sending the token there",
                        super::origin_text(&next)
                    ),
                )
                .with_request(&resp.request, Some(resp.status)));
            }
            guard.next(Some(&Cursor::Url(url)), &Cursor::Url(next.clone()))?;
            url = next;
        }
        Ok(out)
    }

    /// A configured instance, by guid: `None` (with a warning) when it does not exist.
    async fn configured_instance(&self, run: &Run<'_>, guid: &str) -> Result<Option<Instance>> {
        let url = self.api_url(&["v3", "service_instances", guid]);
        let resp = run.with_renewal(self, || self.get(run, &url)).await?;
        if resp.status == 404 {
            tracing::warn!(
                "{}: service instance {guid} (from service_instances) does not exist or is not visible; skipped",
                self.account
            );
            return Ok(None);
        }
        let resp = ok_or_error(resp)?;
        let body: ServiceInstanceResource = resp.json()?;
        Ok(Some(Instance {
            guid: guid.to_string(),
            name: body.name,
        }))
    }

    /// One instance's backups; `None` (with an info note, shown under `-v`) when its offering
    /// has no OSMAPI backups (404 or 422): that is no failure.
    async fn instance_backups(
        &self,
        run: &Run<'_>,
        instance: &Instance,
    ) -> Result<Option<Vec<Backup>>> {
        // Never `limit`: it truncates with no way to get the rest (`docs/providers/cf.md#listing`).
        let url = self.api_url(&["v3", "service_instances", &instance.guid, "backups"]);
        let resp = run.with_renewal(self, || self.get(run, &url)).await?;
        if matches!(resp.status, 404 | 422) {
            tracing::info!(
                "{}: service instance {} has no OSMAPI backups ({}); skipped",
                self.account,
                text::quote(&instance.guid),
                vendor_message(&resp.body)
                    .map_or_else(|| format!("HTTP {}", resp.status), |m| text::quote(&m))
            );
            return Ok(None);
        }
        let mut resp = ok_or_error(resp)?;
        let (account, of) = (self.account.clone(), instance.clone());
        let max_rows = run.options.max_page_rows;
        run.decode(&mut resp, &self.account, move |body| {
            parse_page(body, &account, &of, max_rows)
        })
        .await
        .map(Some)
    }

    async fn list_all(&self, run: &Run<'_>) -> Result<Vec<Backup>> {
        let parallel = run.options.parallel.max(1);
        let instances: Vec<Instance> = if self.config.service_instances.is_empty() {
            self.all_instances(run).await?
        } else {
            // Configured guids carry no name: look each up (in parallel), skipping missing
            // ones; a guid named twice is looked up once.
            let mut guids: Vec<&str> = Vec::new();
            for guid in &self.config.service_instances {
                if !guids.contains(&guid.as_str()) {
                    guids.push(guid);
                }
            }
            let mut found = Vec::new();
            // Futures are built up front: a stream of closures over borrowed items trips
            // rustc's higher-ranked lifetime check once the whole future must be `Send`.
            let lookups: Vec<_> = guids
                .iter()
                .map(|guid| self.configured_instance(run, guid))
                .collect();
            let mut lookups = stream::iter(lookups).buffered(parallel);
            while let Some(instance) = lookups.next().await {
                found.extend(instance?);
            }
            found
        };
        // Each instance's backups are one page for the memory budget, handed on (into the
        // result) in instance order; a backup id seen before (under another instance) is
        // dropped.
        let mut out = Vec::new();
        let mut ids = HashSet::new();
        let mut repeated = 0usize;
        let calls: Vec<_> = instances
            .iter()
            .map(|instance| async move {
                let slot = run.limiter().page();
                let rows = limit::in_page(slot.clone(), self.instance_backups(run, instance)).await;
                (rows, slot)
            })
            .collect();
        let mut calls = stream::iter(calls).buffered(parallel);
        let mut known = Vec::new();
        // `buffered` answers in the order of `instances`, one answer each.
        for instance in &instances {
            let Some((rows, _slot)) = calls.next().await else {
                break;
            };
            let Some(rows) = rows? else {
                continue;
            };
            // Counted as kept: an instance whose every backup was listed under an earlier
            // one too has none of its own, and the audit then says so.
            let mut kept = 0;
            for row in rows {
                if ids.insert(row.id.clone()) {
                    out.push(row);
                    kept += 1;
                } else {
                    repeated += 1;
                }
            }
            known.push(KnownResource {
                resource_type: Some("service_instance".to_string()),
                resource_id: instance.guid.clone(),
                resource_name: instance.name.clone(),
                backups: kept,
            });
        }
        if repeated > 0 {
            tracing::warn!(
                "{}: dropped {repeated} backups listed under more than one service instance",
                self.account
            );
        }
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = known;
        Ok(out)
    }
}

/// A credential exchange with UAA.
enum Grant<'a> {
    Password {
        username: &'a str,
        password: &'a Secret,
    },
    ClientCredentials {
        id: &'a str,
        secret: &'a Secret,
    },
    Refresh(&'a Secret),
}

/// The response if 2xx, else its CF error.
fn ok_or_error(resp: Response) -> Result<Response> {
    if resp.is_success() {
        Ok(resp)
    } else {
        Err(vendor_error(&resp))
    }
}

/// Response of `GET {api}/` (Cloud Controller root): only the links used to find UAA.
#[derive(Deserialize)]
struct RootInfo {
    links: RootLinks,
}

/// `links` of `GET {api}/`; a link may be null on real foundations (e.g. `credhub`).
#[derive(Deserialize)]
struct RootLinks {
    login: Option<Link>,
    uaa: Option<Link>,
}

/// A `{"href": …}` link.
#[derive(Deserialize)]
struct Link {
    href: String,
}

/// Response of UAA `POST /oauth/token`.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
}

/// `pagination` of a CC v3 list (`GET /v3/service_instances`): only `next` is followed;
/// `total_results` and `total_pages` are not read (the server's numbers decide nothing).
#[derive(Deserialize)]
struct Pagination {
    next: Option<Link>,
}

/// A service instance of `GET /v3/service_instances[/{guid}]`: only what a row shows.
#[derive(Deserialize)]
struct ServiceInstanceResource {
    guid: String,
    name: Option<String>,
}

/// One page of `GET /v3/service_instances` (CC v3 list): its instances, at most `max_rows`,
/// and its `pagination.next.href`. The error is a message for a protocol error.
fn parse_instances(
    body: &[u8],
    max_rows: usize,
) -> std::result::Result<(Vec<ServiceInstanceResource>, Option<String>), String> {
    let mut resources = Capped::new(max_rows, "service instances");
    let others = rows::rows_in_object(body, "resources", true, |r: ServiceInstanceResource| {
        resources.push(r)
    })?;
    let pagination = rows::other::<Option<Pagination>>(&others, "pagination")?.flatten();
    let next = pagination.and_then(|p| p.next).map(|l| l.href);
    Ok((resources.into_vec(), next))
}

/// One entry of `backups` in OSMAPI "List Service Instance Backups"
/// (`GET /v3/service_instances/{guid}/backups`): the vendor documents only `id` and
/// `created_at`.
#[derive(Default)]
struct InstanceBackup<'a> {
    id: Option<String>,
    created_at: Value,
    rest: ExtraBuilder<'a>,
}

impl<'de> VendorRow<'de> for InstanceBackup<'de> {
    const EXPECTING: &'static str = "a backup object";
    const REQUIRED: &'static str = "id";

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "id" => self.id = Some(map.next_value()?),
            "created_at" => self.created_at = map.next_value()?,
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

/// Parses one instance's backups (its whole listing, one page), each mapped as it is read, at
/// most `max_rows`. The error is a message for a protocol error.
fn parse_page(
    body: &[u8],
    account: &str,
    instance: &Instance,
    max_rows: usize,
) -> std::result::Result<Vec<Backup>, String> {
    let mut rows = Capped::new(max_rows, "rows");
    rows::rows_in_object(
        body,
        "backups",
        true,
        |Vendor(item): Vendor<InstanceBackup<'_>>| rows.push(to_backup(item, account, instance)?),
    )?;
    Ok(rows.into_vec())
}

/// Maps one backup of `instance`; the error is a message for a protocol error.
fn to_backup(
    item: InstanceBackup<'_>,
    account: &str,
    instance: &Instance,
) -> std::result::Result<Backup, String> {
    // `complete` made sure of it.
    let id = item.id.unwrap_or_default();
    let created_at =
        created_at(&item.created_at).map_err(|m| format!("backup {id}: created_at {m}"))?;
    let extra = item.rest.build().map_err(|m| format!("backup {id}: {m}"))?;
    // Every listed backup is available: the API has no state field
    // (`docs/providers/cf.md#fields-and-mapping`), so provider_status stays null.
    let mut b = Backup::new(ProviderId::Cf, account, id, Status::Available);
    // name: None, OSMAPI backups have no name.
    b.resource_type = Some("service_instance".to_string());
    b.resource_id = Some(instance.guid.clone());
    b.resource_name = instance.name.clone();
    // size_bytes, updated_at, expires_at, incremental, description: None, not reported.
    b.created_at = created_at;
    // location: None, CF accounts have no region. parent_id: None, no backup hierarchy.
    b.extra = extra;
    Ok(b)
}

/// `created_at`: the unit is undocumented (example `0`). Integers are Unix seconds, or
/// milliseconds from 10^12 on; an RFC 3339 string (like other CC times) and null/missing are
/// accepted too. Anything else is a schema mismatch.
fn created_at(v: &Value) -> std::result::Result<Option<Timestamp>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            let Some(i) = n.as_i64() else {
                return Err(format!("is not an integer Unix time: {n}"));
            };
            Timestamp::from_unix(i)
                .map(Some)
                .ok_or_else(|| format!("is out of range: {i}"))
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Timestamp::parse_vendor(s)
            .map(Some)
            .ok_or_else(|| format!("is not a time: {s:?}")),
        other => Err(format!("has the wrong type: {other}")),
    }
}

/// Error document of CC (`{"errors":[{code,title,detail}]}`) or UAA (`{error, error_description}`).
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<CcError>,
    error: Option<String>,
    error_description: Option<String>,
}

/// One entry of a CC `errors` document.
#[derive(Deserialize)]
struct CcError {
    code: Option<i64>,
    title: Option<String>,
    detail: Option<String>,
}

/// The vendor's message, one line, every `errors` entry shown:
/// `CF-InvalidAuthToken (1000): Invalid Auth Token; CF-…`. The body may be JSON served as
/// `text/plain` (CC's 429), so the content type is not consulted.
fn vendor_message(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    if !parsed.errors.is_empty() {
        let parts: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| {
                let mut s = e.title.clone().unwrap_or_else(|| "error".to_string());
                if let Some(code) = e.code {
                    s.push_str(&format!(" ({code})"));
                }
                if let Some(detail) = e.detail.as_deref().filter(|d| !d.is_empty()) {
                    s.push_str(": ");
                    s.push_str(detail);
                }
                s
            })
            .collect();
        return Some(parts.join("; "));
    }
    let error = parsed.error?;
    Some(match parsed.error_description.filter(|d| !d.is_empty()) {
        Some(d) => format!("{error}: {d}"),
        None => error,
    })
}

/// Refines the kind from the vendor's codes where the HTTP status alone says too little
/// (UAA answers a bad refresh token with 400 or 401 depending on version).
fn refine_kind(body: &[u8], kind: ErrorKind) -> ErrorKind {
    let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) else {
        return kind;
    };
    if let Some(first) = parsed.errors.first() {
        let title = first.title.as_deref().unwrap_or("");
        return match (first.code, title) {
            (Some(1000 | 10002), _) | (_, "CF-InvalidAuthToken" | "CF-NotAuthenticated") => {
                ErrorKind::Auth
            }
            (Some(10003), _) | (_, "CF-NotAuthorized") => ErrorKind::Forbidden,
            (Some(10013 | 10014 | 10016), _)
            | (
                _,
                "CF-RateLimitExceeded"
                | "CF-IPBasedRateLimitExceeded"
                | "CF-ServiceBrokerRateLimitExceeded",
            ) => ErrorKind::RateLimited,
            _ => kind,
        };
    }
    match parsed.error.as_deref() {
        Some("unauthorized" | "invalid_grant" | "invalid_token" | "invalid_client") => {
            ErrorKind::Auth
        }
        _ => kind,
    }
}

/// The error for a non-2xx CF or UAA response.
fn vendor_error(resp: &Response) -> Error {
    let mut e = resp.error(vendor_message(&resp.body));
    e.kind = refine_kind(&resp.body, e.kind);
    e
}

impl Provider for Cf {
    fn account(&self) -> &str {
        &self.account
    }

    fn authenticate<'a>(&'a self, run: &'a Run<'a>, renew: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if renew {
                self.tokens.renew(|old| self.relogin(run, old)).await?;
            } else {
                self.tokens.get(|_| self.login(run)).await?;
            }
            Ok(())
        })
    }

    /// CF is not one paged list ([`Provider::list`] is overridden); a single "page" is the
    /// whole listing, so `backups accounts --check` still exercises every call.
    fn list_page<'a>(
        &'a self,
        run: &'a Run<'a>,
        _cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            Ok(Page {
                rows: self.list_all(run).await?,
                next: None,
                total: None,
            })
        })
    }

    fn list<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Result<Vec<Backup>>> {
        Box::pin(self.list_all(run))
    }

    fn resources(&self) -> Vec<KnownResource> {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response;
    use serde_json::json;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/cf/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn instance() -> Instance {
        Instance {
            guid: "c89b3280-fe8d-4aa0-a42e-44465bb1c61c".into(),
            name: Some("my-managed-instance".into()),
        }
    }

    fn parse(body: &[u8]) -> Result<Vec<Backup>> {
        let resp = response(200, body);
        parse_page(&resp.body, "cf-prod", &instance(), 100_000).map_err(|m| resp.protocol_error(m))
    }

    fn row(id: &str, created_at: Value, extra: Value) -> Value {
        json!({
            "provider": "cf", "account": "cf-prod", "id": id, "name": null,
            "status": "available", "provider_status": null,
            "resource_type": "service_instance",
            "resource_id": "c89b3280-fe8d-4aa0-a42e-44465bb1c61c",
            "resource_name": "my-managed-instance", "size_bytes": null,
            "created_at": created_at, "updated_at": null, "expires_at": null,
            "incremental": null, "description": null, "location": null, "parent_id": null,
            "extra": extra,
        })
    }

    #[test]
    fn maps_the_seed_example() {
        let rows = parse(&fixture("list_backups_seed.json")).unwrap();
        assert_eq!(
            serde_json::to_value(&rows).unwrap(),
            json!([row("string", json!("1970-01-01T00:00:00Z"), json!({}))])
        );
    }

    #[test]
    fn created_at_in_seconds_millis_string_or_missing() {
        let rows = parse(&fixture("list_backups_mixed.json")).unwrap();
        assert_eq!(
            serde_json::to_value(&rows).unwrap(),
            json!([
                row("b-seconds", json!("2023-11-14T22:13:20Z"), json!({})),
                row(
                    "b-millis",
                    json!("2023-11-14T22:13:20.123Z"),
                    json!({"size": 42, "engine": "postgres"})
                ),
                row("b-string", json!("2024-01-15T10:30:00.25Z"), json!({})),
                row("b-missing", Value::Null, json!({})),
                row("b-null", Value::Null, json!({})),
            ])
        );
    }

    #[test]
    fn an_empty_or_missing_backups_list_is_no_rows() {
        assert!(parse(br#"{"backups":[]}"#).unwrap().is_empty());
        assert!(parse(br#"{}"#).unwrap().is_empty());
        assert!(parse(br#"{"backups":null}"#).unwrap().is_empty());
    }

    #[test]
    fn schema_mismatches_are_errors_not_panics() {
        let cases: [&[u8]; 9] = [
            br#"{"backups":[{"id":"a","created_at":1.5}]}"#,
            br#"{"backups":[{"id":"a","created_at":true}]}"#,
            br#"{"backups":[{"id":"a","created_at":"yesterday"}]}"#,
            br#"{"backups":[{"id":"a","created_at":9223372036854775807}]}"#,
            br#"{"backups":[{"id":"a","created_at":18446744073709551615}]}"#,
            br#"{"backups":[{"id":7,"created_at":0}]}"#,
            br#"{"backups":{"id":"a"}}"#,
            b"<html><body>502 Bad Gateway</body></html>",
            b"{\"backups\":[{\"id\":\"\xff\xfe\"}]}",
        ];
        for body in cases {
            assert!(parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        let err =
            parse(br#"{"backups":[{"id":"a","created_at":9223372036854775807}]}"#).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
        assert_eq!(
            err.to_string(),
            "GET /test: HTTP 200: backup a: created_at is out of range: 9223372036854775807"
        );
    }

    #[test]
    fn vendor_errors_become_one_line() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (&fixture("error_seed.json"), Some("string (0): string")),
            (
                &fixture("error_multiple.json"),
                Some("CF-InvalidAuthToken (1000): Invalid Auth Token; CF-NotAuthenticated (10002): Authentication error"),
            ),
            (&fixture("uaa_error.json"), Some("unauthorized: Bad credentials")),
            (br#"{"error":"invalid_grant"}"#, Some("invalid_grant")),
            (b"<html>oops</html>", None),
            (br#"{"something":"else"}"#, None),
        ];
        for (body, want) in cases {
            assert_eq!(
                vendor_message(body).as_deref(),
                want,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn vendor_codes_refine_the_kind() {
        let table: [(&[u8], ErrorKind, ErrorKind); 9] = [
            (
                br#"{"errors":[{"code":1000,"title":"CF-InvalidAuthToken"}]}"#,
                ErrorKind::Client,
                ErrorKind::Auth,
            ),
            (
                br#"{"errors":[{"code":10002,"title":"CF-NotAuthenticated"}]}"#,
                ErrorKind::Client,
                ErrorKind::Auth,
            ),
            (
                br#"{"errors":[{"code":10003,"title":"CF-NotAuthorized"}]}"#,
                ErrorKind::Client,
                ErrorKind::Forbidden,
            ),
            (
                br#"{"errors":[{"code":10013,"title":"CF-RateLimitExceeded"}]}"#,
                ErrorKind::Client,
                ErrorKind::RateLimited,
            ),
            (
                br#"{"errors":[{"code":10014}]}"#,
                ErrorKind::Client,
                ErrorKind::RateLimited,
            ),
            (
                br#"{"errors":[{"code":10008,"title":"CF-UnprocessableEntity"}]}"#,
                ErrorKind::Client,
                ErrorKind::Client,
            ),
            (
                br#"{"error":"invalid_grant","error_description":"x"}"#,
                ErrorKind::Client,
                ErrorKind::Auth,
            ),
            (
                br#"{"error":"invalid_token"}"#,
                ErrorKind::Client,
                ErrorKind::Auth,
            ),
            (b"not json", ErrorKind::Server, ErrorKind::Server),
        ];
        for (body, from, want) in table {
            assert_eq!(
                refine_kind(body, from),
                want,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_429_served_as_text_plain_still_reads_as_cf_errors() {
        let mut resp = response(
            429,
            br#"{"errors":[{"code":10013,"title":"CF-RateLimitExceeded","detail":"Rate Limit Exceeded"}]}"#,
        );
        resp.headers
            .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
        let e = vendor_error(&resp).with_account("cf-prod");
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(
            e.to_string(),
            "cf-prod: GET /test: HTTP 429: CF-RateLimitExceeded (10013): Rate Limit Exceeded"
        );
    }

    #[test]
    fn the_root_document_names_the_login_server_even_with_null_links() {
        let root: RootInfo = http::parse_json(&fixture("root.json")).unwrap();
        assert_eq!(
            root.links.login.unwrap().href,
            "https://login.example.local"
        );
        let root: RootInfo =
            http::parse_json(br#"{"links":{"uaa":{"href":"https://uaa.x"},"login":null}}"#)
                .unwrap();
        assert!(root.links.login.is_none());
        assert_eq!(root.links.uaa.unwrap().href, "https://uaa.x");
    }

    #[test]
    fn the_instance_list_fixture_parses() {
        let (resources, next) =
            parse_instances(&fixture("list_service_instances.json"), 100).unwrap();
        assert_eq!(resources.len(), 2);
        assert_eq!(
            resources[1].name.as_deref(),
            Some("my-user-provided-instance")
        );
        assert_eq!(
            next.as_deref(),
            Some("https://api.example.local/v3/service_instances?page=2&per_page=2")
        );
        assert_eq!(
            parse_instances(&fixture("list_service_instances.json"), 1)
                .err()
                .as_deref(),
            Some("the page holds more than 1 service instances (the most one page may hold); stopped")
        );
    }

    #[test]
    fn credentials_go_only_to_a_login_server_on_the_apis_site_over_https() {
        let u = |s: &str| Url::parse(s).unwrap();
        let https_api = u("https://api.sys.example.com");
        let table = [
            ("https://login.sys.example.com", &https_api, true),
            ("https://uaa.example.com:8443", &https_api, true),
            ("https://login.evil.example", &https_api, false),
            ("https://example.com.evil.example", &https_api, false),
            ("http://login.sys.example.com", &https_api, false),
            // Loopback is one domain: only for a loopback API.
            ("http://127.0.0.1:9/login", &https_api, false),
            ("http://127.0.0.1:9/login", &u("http://localhost:8"), true),
            ("ftp://login.sys.example.com", &https_api, false),
            // An http API passed the config's check (allow_insecure_http): same host only.
            ("http://10.0.0.5:8080/uaa", &u("http://10.0.0.5"), true),
            ("http://10.0.0.6/uaa", &u("http://10.0.0.5"), false),
        ];
        for (auth, api, ok) in table {
            let got = super::super::check_discovered(&u(auth), api, "GET / names", "API", "uaa");
            assert_eq!(got.is_ok(), ok, "{auth} for {api}");
            if let Err(e) = got {
                assert_eq!(e.kind, ErrorKind::Insecure);
            }
        }
        let e = super::super::check_discovered(
            &u("https://login.evil.example:444/x"),
            &https_api,
            "GET / of the API names the login server",
            "API",
            "uaa",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "GET / of the API names the login server https://login.evil.example:444, which is not on the API's domain (api.sys.example.com); set `uaa` to trust it"
        );
    }

    #[test]
    fn api_urls_encode_guids_and_keep_a_base_path() {
        let cf = |api: &str| {
            Cf::new(
                "a".into(),
                CfConfig {
                    api: Url::parse(api).unwrap(),
                    uaa: None,
                    auth: CfAuth::Token {
                        access_token: Secret::new("t"),
                        refresh_token: None,
                    },
                    service_instances: vec![],
                    transport: Default::default(),
                },
            )
        };
        assert_eq!(
            cf("https://api.x")
                .api_url(&["v3", "service_instances", "a/b?c", "backups"])
                .as_str(),
            "https://api.x/v3/service_instances/a%2Fb%3Fc/backups"
        );
        assert_eq!(
            cf("https://api.x/cf/").api_url(&[""]).as_str(),
            "https://api.x/cf/"
        );
        assert_eq!(
            cf("https://api.x").api_url(&[""]).as_str(),
            "https://api.x/"
        );
    }

    /// A fake Cloud Controller whose instance list misbehaves, for the paging guards.
    #[cfg(feature = "emulator")]
    mod paging {
        use super::*;
        use crate::filter::Filter;
        use crate::http::{Http, HttpOptions};
        use crate::providers::ListOptions;
        use axum::extract::RawQuery;
        use axum::routing::get;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        async fn serve(next_for_page2: &'static str) -> Url {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let b = base.clone();
            let app = axum::Router::new()
                .route(
                    "/v3/service_instances",
                    get(move |RawQuery(q): RawQuery| {
                        let b = b.clone();
                        async move {
                            let q = q.unwrap_or_default();
                            let next = if q.contains("page=2") {
                                next_for_page2.replace("{base}", &b)
                            } else {
                                format!("{b}/v3/service_instances?page=2&per_page=1")
                            };
                            let guid = if q.contains("page=2") { "i2" } else { "i1" };
                            axum::Json(json!({
                                "pagination": {"next": {"href": next}},
                                "resources": [{"guid": guid, "name": guid}],
                            }))
                        }
                    }),
                )
                .route(
                    "/v3/service_instances/{guid}/backups",
                    get(|| async { axum::Json(json!({"backups": []})) }),
                );
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Url::parse(&base).unwrap()
        }

        async fn list(api: Url) -> Result<Vec<Backup>> {
            let cf = Cf::new(
                "cf-fake".into(),
                CfConfig {
                    api,
                    uaa: None,
                    auth: CfAuth::Token {
                        access_token: Secret::new("t"),
                        refresh_token: None,
                    },
                    service_instances: vec![],
                    transport: Default::default(),
                },
            );
            let http = Http::new(HttpOptions::default()).unwrap();
            let filter = Filter::default();
            let options = ListOptions::default();
            let run = Run::new(&http, &filter, &options);
            cf.list(&run).await
        }

        #[tokio::test]
        async fn a_repeated_next_link_fails_instead_of_looping() {
            let api = serve("{base}/v3/service_instances?page=2&per_page=1").await;
            let e = list(api).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Paging);
            assert_eq!(
                e.to_string(),
                "the server repeated the next link /v3/service_instances; stopped instead of looping"
            );
        }

        #[tokio::test]
        async fn a_next_link_to_another_origin_gets_no_token() {
            let api = serve("https://evil.example/v3/service_instances?page=3").await;
            let e = list(api).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Insecure);
            assert_eq!(
                e.to_string(),
                "GET /v3/service_instances: HTTP 200: pagination.next points to another origin (https://evil.example); not sending the token there"
            );
        }

        /// A Cloud Controller whose instance page `n` (from 1) holds `pages(n)` and always
        /// names page `n + 1` next (a new link every time, forever), and whose instances each
        /// hold the backups `backups(guid)`. Counts the instance pages asked for.
        async fn minting(
            pages: fn(u64) -> Vec<&'static str>,
            backups: fn(&str) -> Vec<&'static str>,
        ) -> (Url, Arc<AtomicUsize>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let asked = Arc::new(AtomicUsize::new(0));
            let (b, counter) = (base.clone(), asked.clone());
            let app = axum::Router::new()
                .route(
                    "/v3/service_instances",
                    get(move |RawQuery(q): RawQuery| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let b = b.clone();
                        async move {
                            let n: u64 = q
                                .unwrap_or_default()
                                .split('&')
                                .find_map(|kv| kv.strip_prefix("page="))
                                .and_then(|p| p.parse().ok())
                                .unwrap_or(1);
                            let resources: Vec<Value> = pages(n)
                                .into_iter()
                                .map(|g| json!({"guid": g, "name": format!("name-{g}")}))
                                .collect();
                            axum::Json(json!({
                                "pagination": {"next": {"href": format!("{b}/v3/service_instances?page={}", n + 1)}},
                                "resources": resources,
                            }))
                        }
                    }),
                )
                .route(
                    "/v3/service_instances/{guid}/backups",
                    get(move |axum::extract::Path(guid): axum::extract::Path<String>| async move {
                        let rows: Vec<Value> = backups(&guid)
                            .into_iter()
                            .map(|id| json!({"id": id, "created_at": 1_700_000_000}))
                            .collect();
                        axum::Json(json!({"backups": rows}))
                    }),
                );
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (Url::parse(&base).unwrap(), asked)
        }

        #[tokio::test]
        async fn a_server_minting_next_links_over_the_same_instances_stops_at_the_second_page() {
            let (api, asked) = minting(|_| vec!["i1", "i2"], |_| vec!["b1"]).await;
            let e = list(api).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Paging);
            assert_eq!(
                e.to_string(),
                "GET /v3/service_instances: HTTP 200: the page at next link /v3/service_instances held only service instances already seen; stopped instead of looping"
            );
            assert_eq!(asked.load(Ordering::SeqCst), 2);
        }

        #[tokio::test]
        async fn instances_and_backups_repeated_across_pages_are_listed_once() {
            // Pages overlap by one instance, then end (an empty page); i3 repeats i1's backup.
            let pages = |n| match n {
                1 => vec!["i1", "i2"],
                2 => vec!["i2", "i3"],
                _ => vec![],
            };
            let backups = |guid: &str| match guid {
                "i1" => vec!["b1", "b2"],
                "i2" => vec!["b3"],
                _ => vec!["b1", "b4"],
            };
            let (api, asked) = minting(pages, backups).await;
            let rows = list(api).await.unwrap();
            let got: Vec<(String, String)> = rows
                .iter()
                .map(|r| (r.resource_id.clone().unwrap(), r.id.clone()))
                .collect();
            let want = [("i1", "b1"), ("i1", "b2"), ("i2", "b3"), ("i3", "b4")];
            assert_eq!(got, want.map(|(g, b)| (g.to_string(), b.to_string())));
            assert_eq!(asked.load(Ordering::SeqCst), 3);
        }
    }

    /// A fake Cloud Controller and UAA that refuse the configured token on one route, for
    /// the renewal rule: every call renews on an error of kind Auth, whatever its status.
    #[cfg(feature = "emulator")]
    mod renewal {
        use super::*;
        use crate::filter::Filter;
        use crate::http::{Http, HttpOptions};
        use crate::providers::ListOptions;
        use axum::extract::State;
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::{IntoResponse, Response as AxumResponse};
        use axum::routing::{get, post};
        use std::sync::{Arc, Mutex};

        /// The route that refuses the stale token, how, and the grants seen.
        struct Fake {
            base: String,
            refusing: &'static str,
            refusal: (StatusCode, Value),
            grants: Mutex<Vec<String>>,
        }

        /// The refusal for a stale token on `route`, else `ok`.
        fn answer(fake: &Fake, route: &str, headers: &HeaderMap, ok: Value) -> AxumResponse {
            let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
            if route == fake.refusing && bearer != Some("bearer fresh") {
                let (status, body) = fake.refusal.clone();
                return (status, axum::Json(body)).into_response();
            }
            axum::Json(ok).into_response()
        }

        async fn serve(refusing: &'static str, refusal: (StatusCode, Value)) -> (Url, Arc<Fake>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let fake = Arc::new(Fake {
                base: base.clone(),
                refusing,
                refusal,
                grants: Mutex::new(Vec::new()),
            });
            let app = axum::Router::new()
                .route(
                    "/",
                    get(|State(f): State<Arc<Fake>>| async move {
                        axum::Json(json!({"links": {"login": {"href": f.base}}}))
                    }),
                )
                .route(
                    "/oauth/token",
                    post(|State(f): State<Arc<Fake>>, body: String| async move {
                        f.grants.lock().unwrap().push(body);
                        axum::Json(json!({"access_token": "fresh", "token_type": "bearer"}))
                    }),
                )
                .route(
                    "/v3/service_instances",
                    get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
                        let page = json!({"resources": [{"guid": "i1", "name": "db"}]});
                        answer(&f, "instances", &h, page)
                    }),
                )
                .route(
                    "/v3/service_instances/{guid}/backups",
                    get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
                        let backups = json!({"backups": [{"id": "b1", "created_at": 0}]});
                        answer(&f, "backups", &h, backups)
                    }),
                )
                .with_state(fake.clone());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (Url::parse(&base).unwrap(), fake)
        }

        /// Lists with a given access token `stale` and refresh token `r1`, as `run_all` does.
        async fn list(api: Url) -> Result<Vec<Backup>> {
            let cf = Cf::new(
                "cf-fake".into(),
                CfConfig {
                    api,
                    uaa: None,
                    auth: CfAuth::Token {
                        access_token: Secret::new("stale"),
                        refresh_token: Some(Secret::new("r1")),
                    },
                    service_instances: vec![],
                    transport: Default::default(),
                },
            );
            let http = Http::new(HttpOptions::default()).unwrap();
            let (filter, options) = (Filter::default(), ListOptions::default());
            let run = Run::new(&http, &filter, &options);
            cf.authenticate(&run, false).await?;
            cf.list(&run).await
        }

        #[tokio::test]
        async fn the_listing_and_every_instance_renew_on_any_auth_refusal() {
            let invalid_token = json!({"errors": [{"code": 1000, "title": "CF-InvalidAuthToken", "detail": "Invalid Auth Token"}]});
            for refusing in ["instances", "backups"] {
                for status in [StatusCode::UNAUTHORIZED, StatusCode::BAD_REQUEST] {
                    let (api, fake) = serve(refusing, (status, invalid_token.clone())).await;
                    let rows = list(api)
                        .await
                        .unwrap_or_else(|e| panic!("{refusing} answering {status}: {e}"));
                    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
                    assert_eq!(ids, ["b1"], "{refusing} answering {status}");
                    // One renewal, with the refresh token.
                    assert_eq!(
                        *fake.grants.lock().unwrap(),
                        ["grant_type=refresh_token&refresh_token=r1"],
                        "{refusing} answering {status}"
                    );
                }
            }
        }

        #[tokio::test]
        async fn a_refusal_of_another_kind_renews_nothing() {
            let unprocessable = json!({"errors": [{"code": 10008, "title": "CF-UnprocessableEntity", "detail": "bad"}]});
            let (api, fake) = serve("backups", (StatusCode::BAD_REQUEST, unprocessable)).await;
            let e = list(api).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Client);
            assert_eq!(
                e.to_string(),
                "GET /v3/service_instances/i1/backups: HTTP 400: CF-UnprocessableEntity (10008): bad"
            );
            assert!(fake.grants.lock().unwrap().is_empty());
        }
    }

    /// Property tests: no body, however broken, panics a parser or lists silently wrong rows.
    mod properties {
        use super::*;
        use crate::providers::arbitrary::{self, assert_rows_or_protocol_error};
        use proptest::prelude::*;

        /// Every body the adapter parses: backups, instances, the root document, a token, errors.
        fn templates() -> Vec<Value> {
            let mut out: Vec<Value> = [
                "list_backups_seed.json",
                "list_backups_mixed.json",
                "list_service_instances.json",
                "root.json",
                "error_multiple.json",
                "uaa_error.json",
            ]
            .iter()
            .map(|f| serde_json::from_slice(&fixture(f)).unwrap())
            .collect();
            out.push(json!({"access_token": "a", "token_type": "bearer", "refresh_token": "r"}));
            out
        }

        fn check(body: &[u8]) {
            assert_rows_or_protocol_error(&parse(body), ProviderId::Cf, "cf-prod");
            let _ = parse_instances(body, 100);
            let _ = http::parse_json::<ServiceInstanceResource>(body);
            let _ = http::parse_json::<RootInfo>(body);
            let _ = http::parse_json::<TokenResponse>(body);
            let _ = vendor_message(body);
            let _ = refine_kind(body, ErrorKind::Client);
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                let _ = created_at(&v);
            }
        }

        arbitrary::parser_properties!(check, templates());

        proptest! {
            #![proptest_config(arbitrary::config())]

            #[test]
            fn created_at_numbers_are_times_or_errors(n in any::<i64>(), f in any::<f64>()) {
                let _ = created_at(&json!(n));
                if let Some(num) = serde_json::Number::from_f64(f) {
                    let _ = created_at(&Value::Number(num));
                }
            }
        }
    }

    /// The instances whose backups call answered reach the audit as known resources, with
    /// their backup counts; an offering without backups (422) or a vanished instance (404)
    /// does not. An instance that lists only backups already listed under an earlier one
    /// keeps none of them (they are dropped as repeats), so it counts none.
    #[cfg(feature = "emulator")]
    mod known_resources {
        use super::*;
        use crate::filter::Filter;
        use crate::http::{Http, HttpOptions};
        use crate::providers::{run_all, ListOptions};
        use axum::extract::Path as UrlPath;
        use axum::http::StatusCode;
        use axum::routing::get;

        async fn serve() -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let app = axum::Router::new()
                .route(
                    "/v3/service_instances",
                    get(|| async {
                        let names = ["full", "empty", "copy", "unsupported", "gone"];
                        let resources: Vec<Value> = names
                            .iter()
                            .map(|n| json!({"guid": format!("g-{n}"), "name": n}))
                            .collect();
                        axum::Json(json!({"pagination": {"next": null}, "resources": resources}))
                    }),
                )
                .route(
                    "/v3/service_instances/{guid}/backups",
                    get(|UrlPath(guid): UrlPath<String>| async move {
                        let (status, body) = match guid.as_str() {
                            "g-full" | "g-copy" => (
                                StatusCode::OK,
                                json!({"backups": [{"id": "b1", "created_at": 1_700_000_000}, {"id": "b2", "created_at": 1_700_086_400}]}),
                            ),
                            "g-empty" => (StatusCode::OK, json!({"backups": []})),
                            "g-unsupported" => (
                                StatusCode::UNPROCESSABLE_ENTITY,
                                json!({"errors": [{"code": 10008, "title": "CF-UnprocessableEntity", "detail": "no backups"}]}),
                            ),
                            _ => (
                                StatusCode::NOT_FOUND,
                                json!({"errors": [{"code": 10010, "title": "CF-ResourceNotFound", "detail": "gone"}]}),
                            ),
                        };
                        (status, axum::Json(body))
                    }),
                );
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            base
        }

        #[tokio::test]
        async fn instances_that_answer_are_known_with_their_backup_counts() {
            let base = serve().await;
            let text = format!(
                "[accounts.cf]\nprovider = \"cf\"\napi = \"{base}\"\ntoken = \"t\"\n\
                 [accounts.down]\nprovider = \"cf\"\napi = \"http://127.0.0.1:1\"\ntoken = \"t\"\n"
            );
            let accounts = crate::config::parse(&text, std::path::Path::new("t.toml"), &|_| None)
                .unwrap()
                .accounts;
            // No retries: the refused account fails at once.
            let http = Http::new(HttpOptions {
                retry: crate::http::RetryPolicy {
                    max_tries: 1,
                    ..Default::default()
                },
                ..HttpOptions::default()
            })
            .unwrap();
            // A filter that keeps no row: the counts are the provider's, before filtering.
            let filter = Filter {
                resource: Some("nothing".into()),
                ..Filter::default()
            };
            let options = ListOptions {
                parallel: 2,
                ..ListOptions::default()
            };
            let results = run_all(&http, &accounts, &filter, &options).await;
            assert_eq!(results[0].result.as_ref().unwrap().len(), 0);
            let known = |id: &str, name: &str, backups| KnownResource {
                resource_type: Some("service_instance".into()),
                resource_id: id.into(),
                resource_name: Some(name.into()),
                backups,
            };
            assert_eq!(
                results[0].resources,
                [
                    known("g-full", "full", 2),
                    known("g-empty", "empty", 0),
                    known("g-copy", "copy", 0)
                ]
            );
            // A failed listing knows nothing.
            assert!(results[1].result.is_err());
            assert_eq!(results[1].resources, []);
        }
    }
}
