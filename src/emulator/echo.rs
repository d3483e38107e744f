//! `echo_credentials`: a test mode in which the emulated servers answer chosen requests with an
//! error that repeats the credentials the client sent, the way a careless or hostile server
//! does, so that tests can prove nothing a secret touches is printed (`docs/security.md`).
//!
//! **What is echoed.** Every credential-bearing request header, as received: `Authorization`
//! (Bearer tokens, Basic client credentials, Huawei `SDK-HMAC-SHA256 Access=…, Signature=…`),
//! `X-Auth-Token` (Z.com and IAM tokens), `Cookie` (Oracle's `nimbula` session), `X-Api-Key`
//! (ByCloud `id:secret`), `X-Security-Token` and `Proxy-Authorization`; and the request body as
//! sent (the login forms: Oracle and IAM passwords in JSON, Z.com's Keystone password, UAA's
//! form-encoded password, client secret or refresh token). The echo goes into the field each
//! vendor's clients quote from its error body (Oracle `message`, Keystone `error.message`, Nova
//! `<fault>.message`, CBR `error_msg`, UAA `error_description`, Cloud Controller
//! `errors[].detail`, ByCloud `error.message`), so an adapter that prints the vendor's message
//! prints the secrets. Example of a Huawei listing answered 500:
//! `{"error_code":"BackupService.9999","error_msg":"echo of GET /v3/…/backups: authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…","request_id":"…"}`.
//!
//! **Which requests fail.** Rules, first match wins; a request no rule matches is served
//! normally (so logins succeed and sessions are real). The syntax, one string for Rust and HTTP:
//! comma-separated `[PROVIDER:]TARGET=STATUS`, where PROVIDER is `oracle`, `zcom`, `huawei`,
//! `cf` or `bycloud` (none: every provider), TARGET is `login` (Oracle `POST /authenticate/`,
//! Z.com `POST /v2.0/tokens`, IAM `POST /v3/auth/tokens`, UAA `POST …/oauth/token`), `listing`
//! (the requests `--faults` hits: backup lists, and Cloud Foundry's instance list), `any`, or a
//! path prefix starting with `/` (e.g. `/v3/projects`, Huawei's project lookup), and STATUS is
//! 401, 403 or 500. The default is `listing=500`. So a test drives:
//! - a 500 echoing each listing credential: the default (`listing=500`);
//! - a 403 on one provider's listing: `bycloud:listing=403`;
//! - a 401 echoing the login body (passwords, client secret): `login=401`;
//! - a refresh-token echo: `cf:listing=401,cf:login=401` with a token + refresh_token account
//!   (the listing's 401 makes the adapter refresh, and the refresh request is echoed);
//! - a 403 on a given path: `huawei:/v3/projects=403`.
//!
//! Rules are set with [`crate::emulator::Emulator::set_echo_rules`] in-process, or over HTTP
//! on the emulator's base URL: `POST /_emulator/echo?rules=<rules>` replaces them (400 with a
//! message for bad rules), `GET /_emulator/echo` shows them. Without `echo_credentials` the
//! mode is off: no layer answers and the control route is a 404.

use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::faults::{self, Vendor};
use super::{random_hex32, Shared};

/// The rules in force when none were set.
pub(crate) const DEFAULT_RULES: &str = "listing=500";

/// Headers that carry credentials, echoed when present.
const CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "x-auth-token",
    "cookie",
    "x-api-key",
    "x-security-token",
    "proxy-authorization",
];

/// Largest request body echoed (login bodies are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// Which requests a rule answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The vendor's login request.
    Login,
    /// A backup listing (and Cloud Foundry's instance list).
    Listing,
    /// Every request.
    Any,
    /// Requests whose path starts with this.
    Path(String),
}

/// One rule: requests of `vendor` (all when `None`) matching `target` answer `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// Only this provider's requests; `None`: every provider's.
    pub(crate) vendor: Option<Vendor>,
    /// Which requests.
    pub(crate) target: Target,
    /// 401, 403 or 500.
    pub(crate) status: StatusCode,
}

impl Rule {
    /// The rule in the text syntax.
    fn text(&self) -> String {
        let vendor = self
            .vendor
            .map(|v| format!("{}:", v.name()))
            .unwrap_or_default();
        let target = match &self.target {
            Target::Login => "login",
            Target::Listing => "listing",
            Target::Any => "any",
            Target::Path(p) => p.as_str(),
        };
        format!("{vendor}{target}={}", self.status.as_u16())
    }
}

/// Parses rules in the syntax of the module documentation; an error names the bad rule.
pub(crate) fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = |why: &str| format!("echo rule `{item}`: {why}");
        let (lhs, status) = item
            .rsplit_once('=')
            .ok_or_else(|| bad("expected [PROVIDER:]TARGET=STATUS"))?;
        let status = match status.trim() {
            "401" => StatusCode::UNAUTHORIZED,
            "403" => StatusCode::FORBIDDEN,
            "500" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => return Err(bad("the status must be 401, 403 or 500")),
        };
        // A path target starts with `/`, so a `:` before it names the provider.
        let (vendor, target) = match lhs.split_once(':') {
            Some((v, t)) if !v.starts_with('/') => {
                let vendor = Vendor::ALL
                    .into_iter()
                    .find(|x| x.name() == v.trim())
                    .ok_or_else(|| bad("unknown provider (oracle, zcom, huawei, cf, bycloud)"))?;
                (Some(vendor), t.trim())
            }
            _ => (None, lhs.trim()),
        };
        let target = match target {
            "login" => Target::Login,
            "listing" => Target::Listing,
            "any" => Target::Any,
            p if p.starts_with('/') => Target::Path(p.to_string()),
            _ => return Err(bad("the target must be login, listing, any or a /path")),
        };
        rules.push(Rule {
            vendor,
            target,
            status,
        });
    }
    Ok(rules)
}

/// The echo mode's state: on or off, and the rules in force.
#[derive(Debug)]
pub(crate) struct Echo {
    enabled: bool,
    rules: Mutex<Vec<Rule>>,
}

impl Echo {
    /// The state for `echo_credentials`, with the default rules.
    pub(crate) fn new(enabled: bool) -> Echo {
        Echo {
            enabled,
            rules: Mutex::new(parse_rules(DEFAULT_RULES).expect("the default rules parse")),
        }
    }

    /// Replaces the rules.
    pub(crate) fn set(&self, text: &str) -> Result<(), String> {
        if !self.enabled {
            return Err("echo rules need echo_credentials".into());
        }
        let rules = parse_rules(text)?;
        *self.rules.lock().unwrap_or_else(|e| e.into_inner()) = rules;
        Ok(())
    }

    fn rules(&self) -> Vec<Rule> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The status of the first rule matching a request, if any.
    fn status_for(&self, vendor: Vendor, method: &Method, path: &str) -> Option<StatusCode> {
        if !self.enabled {
            return None;
        }
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules
            .iter()
            .find(|r| {
                r.vendor.is_none_or(|v| v == vendor)
                    && match &r.target {
                        Target::Login => is_login(vendor, method, path),
                        Target::Listing => faults::is_listing(vendor, method, path),
                        Target::Any => true,
                        Target::Path(p) => path.starts_with(p.as_str()),
                    }
            })
            .map(|r| r.status)
    }
}

/// Whether a request is the vendor's login.
fn is_login(vendor: Vendor, method: &Method, path: &str) -> bool {
    if method != Method::POST {
        return false;
    }
    let path = path.trim_end_matches('/');
    match vendor {
        Vendor::Oracle => path == "/authenticate",
        Vendor::Zcom => path == "/v2.0/tokens",
        Vendor::Huawei => path == "/v3/auth/tokens",
        Vendor::Cf => path.ends_with("/oauth/token"),
        Vendor::Bycloud => false,
    }
}

/// The layer in front of each vendor's routes: a no-op unless `echo_credentials`.
pub(crate) async fn layer(
    State((shared, vendor)): State<(Arc<Shared>, Vendor)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(status) = shared
        .echo
        .status_for(vendor, req.method(), req.uri().path())
    else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let text = echo_text(&parts.method, &parts.uri, &parts.headers, &body);
    let login = is_login(vendor, &parts.method, parts.uri.path());
    vendor_error(vendor, login, status, &text)
}

/// `echo of METHOD PATH: header: value | … | body: …`.
fn echo_text(method: &Method, uri: &axum::http::Uri, headers: &HeaderMap, body: &[u8]) -> String {
    let mut parts = Vec::new();
    for name in CREDENTIAL_HEADERS {
        for value in headers.get_all(name) {
            parts.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
    }
    if !body.is_empty() {
        parts.push(format!("body: {}", String::from_utf8_lossy(body)));
    }
    if parts.is_empty() {
        parts.push("no credentials".into());
    }
    format!("echo of {method} {}: {}", uri.path(), parts.join(" | "))
}

/// The error body each vendor sends for `status`, with `text` where its clients read the
/// message.
fn vendor_error(vendor: Vendor, login: bool, status: StatusCode, text: &str) -> Response {
    let code = status.as_u16();
    let body = match vendor {
        Vendor::Oracle => json!({ "message": text }),
        Vendor::Zcom | Vendor::Huawei if login => {
            let title = match code {
                401 => "Unauthorized",
                403 => "Forbidden",
                _ => "Internal Server Error",
            };
            json!({"error": {"message": text, "code": code, "title": title}})
        }
        Vendor::Zcom => {
            let fault = match code {
                401 => "unauthorized",
                403 => "forbidden",
                _ => "computeFault",
            };
            json!({ fault: {"message": text, "code": code} })
        }
        Vendor::Huawei => {
            // Gateway codes for 401 and 403, a service code for 500 (assumption).
            let error_code = match code {
                401 => "APIGW.0301",
                403 => "APIGW.0302",
                _ => "BackupService.9999",
            };
            json!({"error_code": error_code, "error_msg": text, "request_id": random_hex32()})
        }
        Vendor::Cf if login => {
            let error = match code {
                401 => "unauthorized",
                403 => "access_denied",
                _ => "server_error",
            };
            json!({"error": error, "error_description": text})
        }
        Vendor::Cf => {
            let (cc, title) = match code {
                401 => (1000, "CF-InvalidAuthToken"),
                403 => (10003, "CF-NotAuthorized"),
                _ => (10001, "CF-ServerError"),
            };
            json!({"errors": [{"detail": text, "title": title, "code": cc}]})
        }
        Vendor::Bycloud => json!({"error": {
            "code": code,
            "message": text,
            "request_id": format!("req-{}", super::Rng::seeded(&random_hex32()).uuid()),
        }}),
    };
    (status, Json(body)).into_response()
}

/// `GET`/`POST /_emulator/echo` on the base listener (only with `echo_credentials`).
pub(crate) fn control_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_emulator/echo", get(show_rules).post(set_rules))
        .with_state(shared)
}

fn rules_json(echo: &Echo) -> Value {
    let rules: Vec<String> = echo.rules().iter().map(Rule::text).collect();
    json!({ "rules": rules.join(",") })
}

async fn show_rules(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.echo.enabled {
        return off();
    }
    Json(rules_json(&shared.echo)).into_response()
}

async fn set_rules(State(shared): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    if !shared.echo.enabled {
        return off();
    }
    let rules = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "rules")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    match shared.echo.set(&rules) {
        Ok(()) => Json(rules_json(&shared.echo)).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

fn off() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": "echo_credentials is off"}).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Account;
    use crate::emulator::{testing, Emulator, EmulatorOptions};
    use crate::filter::Filter;
    use crate::ErrorKind;

    async fn start(echo: bool) -> Emulator {
        Emulator::start(EmulatorOptions {
            echo_credentials: echo,
            ..Default::default()
        })
        .await
        .unwrap()
    }

    /// A string key of one account in the emulator's config.
    fn value(emu: &Emulator, account: &str, key: &str) -> String {
        let text = emu.config_toml();
        let section = text
            .split(&format!("[accounts.{account}]\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("{account} in the config"));
        section
            .lines()
            .take_while(|l| !l.starts_with('['))
            .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
            .map(|v| v.trim_end_matches('"').to_string())
            .unwrap_or_else(|| panic!("{account}.{key}"))
    }

    /// A raw request: status, headers, JSON body.
    async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap();
        let v = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
        (status, headers, v)
    }

    /// Asserts an echo answer: the status, and each secret in the field the vendor's clients
    /// quote.
    fn echoed(
        got: &(u16, reqwest::header::HeaderMap, Value),
        status: u16,
        field: &[&str],
        secrets: &[&str],
    ) {
        assert_eq!(got.0, status, "{}", got.2);
        let mut v = &got.2;
        for k in field {
            v = match k.parse::<usize>() {
                Ok(i) => &v[i],
                Err(_) => &v[*k],
            };
        }
        let text = v
            .as_str()
            .unwrap_or_else(|| panic!("{field:?} in {}", got.2));
        assert!(text.starts_with("echo of "), "{text}");
        for secret in secrets {
            assert!(text.contains(secret), "{secret} not in {text}");
        }
    }

    #[tokio::test]
    async fn every_credential_comes_back_in_the_vendors_error_body() {
        let emu = start(true).await;
        let http = reqwest::Client::new();
        let set = |rules: &str| emu.set_echo_rules(rules).unwrap();

        // Oracle: the login body (password), then the session cookie.
        let (user, password) = (
            value(&emu, "oracle-demo", "user"),
            value(&emu, "oracle-demo", "password"),
        );
        let login = || {
            http.post(emu.urls.oracle.join("authenticate/").unwrap())
                .body(json!({"user": user, "password": password}).to_string())
        };
        set("oracle:login=401");
        echoed(&send(login()).await, 401, &["message"], &[&password, &user]);
        set("oracle:listing=403");
        let resp = login().send().await.unwrap();
        assert_eq!(resp.status(), 204);
        let cookie = resp.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        let list = http
            .get(emu.urls.oracle.join("backupservice/v1/backup/").unwrap())
            .header("Cookie", &cookie);
        echoed(
            &send(list).await,
            403,
            &["message"],
            &[&format!("cookie: {cookie}")],
        );

        // Z.com: the Keystone password, then the token.
        let zpass = value(&emu, "zcom-demo-tyo", "password");
        let ztenant = value(&emu, "zcom-demo-tyo", "tenant_id");
        let zlogin = || {
            http.post(emu.urls.zcom.join("v2.0/tokens").unwrap()).body(
                json!({"auth": {"passwordCredentials": {"username": value(&emu, "zcom-demo-tyo", "username"), "password": zpass}, "tenantId": ztenant}})
                    .to_string(),
            )
        };
        set("zcom:login=401");
        echoed(&send(zlogin()).await, 401, &["error", "message"], &[&zpass]);
        set("zcom:listing=500");
        let (_, _, v) = send(zlogin()).await;
        let token = v["access"]["token"]["id"].as_str().unwrap().to_string();
        let list = http
            .get(emu.urls.zcom.join(&format!("v2/{ztenant}/backup")).unwrap())
            .header("X-Auth-Token", &token);
        echoed(
            &send(list).await,
            500,
            &["computeFault", "message"],
            &[&format!("x-auth-token: {token}")],
        );

        // Huawei: an AK/SK signature, a path of its own, the IAM password and its token.
        let hw = &emu.urls.huawei;
        let ak = value(&emu, "huawei-demo-sg", "access_key");
        let project = value(&emu, "huawei-demo-sg", "project_id");
        let signed = |path: &str| {
            let host = format!("127.0.0.1:{}", hw.port().unwrap());
            let date = crate::providers::huawei::sign::sdk_date(chrono::Utc::now());
            let headers = [("X-Sdk-Date", date.as_str())];
            let auth = crate::providers::huawei::sign::sign(
                &crate::providers::huawei::sign::Request {
                    method: "GET",
                    host: &host,
                    path,
                    query: &[],
                    headers: &headers,
                    body: b"",
                },
                &ak,
                &value(&emu, "huawei-demo-sg", "secret_key"),
            )
            .authorization;
            http.get(format!("http://{host}{path}"))
                .header("X-Sdk-Date", &date)
                .header("Authorization", auth)
        };
        set("huawei:listing=403,huawei:/v3/projects=500");
        let got = send(signed(&format!("/v3/{project}/backups"))).await;
        echoed(&got, 403, &["error_msg"], &[&format!("authorization: SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature=")]);
        assert_eq!(got.2["error_code"], "APIGW.0302");
        echoed(
            &send(signed("/v3/projects")).await,
            500,
            &["error_msg"],
            &[&ak],
        );
        let iam = |password: &str| {
            http.post(hw.join("v3/auth/tokens").unwrap()).body(
                json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                    "name": value(&emu, "huawei-demo-token", "user"), "password": password,
                    "domain": {"name": value(&emu, "huawei-demo-token", "domain")}}}},
                    "scope": {"project": {"id": value(&emu, "huawei-demo-token", "project_id")}}}})
                .to_string(),
            )
        };
        let hpass = value(&emu, "huawei-demo-token", "password");
        set("huawei:login=401");
        echoed(
            &send(iam(&hpass)).await,
            401,
            &["error", "message"],
            &[&hpass],
        );
        set("huawei:listing=500");
        let (status, headers, _) = send(iam(&hpass)).await;
        assert_eq!(status, 201);
        let token = headers["x-subject-token"].to_str().unwrap().to_string();
        let list = http
            .get(
                hw.join(&format!(
                    "v3/{}/backups",
                    value(&emu, "huawei-demo-token", "project_id")
                ))
                .unwrap(),
            )
            .header("X-Auth-Token", &token);
        echoed(&send(list).await, 500, &["error_msg"], &[&token]);

        // Cloud Foundry: password grant (form and Basic client), client secret, refresh
        // token, bearer token.
        let uaa = emu.urls.cf.join("login/oauth/token").unwrap();
        let grant = |basic: Option<&str>, form: String| {
            let mut req = http
                .post(uaa.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
            if let Some(b) = basic {
                req = req.header("authorization", b);
            }
            req
        };
        let cfpass = value(&emu, "cf-demo", "password");
        let secret = value(&emu, "cf-demo-client", "client_secret");
        let password_form = format!("grant_type=password&username=admin&password={cfpass}");
        let client_form =
            format!("grant_type=client_credentials&client_id=backups-demo&client_secret={secret}");
        set("cf:login=401");
        echoed(
            &send(grant(Some("Basic Y2Y6"), password_form.clone())).await,
            401,
            &["error_description"],
            &[&format!("password={cfpass}"), "authorization: Basic Y2Y6"],
        );
        echoed(
            &send(grant(None, client_form.clone())).await,
            401,
            &["error_description"],
            &[&secret],
        );
        set("cf:listing=403");
        let (_, _, tokens) = send(grant(Some("Basic Y2Y6"), password_form)).await;
        let access = tokens["access_token"].as_str().unwrap().to_string();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
        let list = http
            .get(emu.urls.cf.join("v3/service_instances").unwrap())
            .header("authorization", format!("bearer {access}"));
        echoed(
            &send(list).await,
            403,
            &["errors", "0", "detail"],
            &[&format!("authorization: bearer {access}")],
        );
        set("cf:login=500");
        echoed(
            &send(grant(
                Some("Basic Y2Y6"),
                format!("grant_type=refresh_token&refresh_token={refresh}"),
            ))
            .await,
            500,
            &["error_description"],
            &[&refresh],
        );

        // ByCloud: the bearer token and the API key.
        let bearer = value(&emu, "bycloud-demo-spo", "token");
        let key = format!(
            "{}:{}",
            value(&emu, "bycloud-demo-key", "api_key_id"),
            value(&emu, "bycloud-demo-key", "api_key_secret")
        );
        set("bycloud:listing=401");
        let backups = emu.urls.bycloud.join("v1/backups").unwrap();
        let got = send(
            http.get(backups.clone())
                .header("Authorization", format!("Bearer {bearer}")),
        )
        .await;
        echoed(&got, 401, &["error", "message"], &[&bearer]);
        assert!(
            got.1.contains_key("x-ratelimit-limit"),
            "still a ByCloud answer"
        );
        echoed(
            &send(http.get(backups).header("X-Api-Key", &key)).await,
            401,
            &["error", "message"],
            &[&format!("x-api-key: {key}")],
        );
    }

    #[tokio::test]
    async fn through_the_adapters_every_demo_account_meets_the_echo() {
        let emu = start(true).await;
        let accounts: Vec<Account> = emu.accounts().unwrap();
        // The default rule: every listing answers 500 with the echo.
        for (a, r) in accounts
            .iter()
            .zip(testing::list(&accounts, &Filter::default()).await)
        {
            let e = r.expect_err(&a.name);
            let text = e.to_string();
            assert_eq!(e.status, Some(500), "{text}");
            assert!(
                text.contains("HTTP 500: ") && text.contains("echo of GET /"),
                "{text}"
            );
        }
        // Logins answer 401: every account that logs in fails there; AK/SK signing and
        // ByCloud's configured credentials have no login, so their listings go through.
        emu.set_echo_rules("login=401").unwrap();
        let results = testing::list(&accounts, &Filter::default()).await;
        for (a, r) in accounts.iter().zip(results) {
            let logs_in = !matches!(
                a.name.as_str(),
                "huawei-demo-sg" | "bycloud-demo-spo" | "bycloud-demo-key"
            );
            match r {
                Ok(rows) => assert!(!logs_in && !rows.is_empty(), "{}", a.name),
                Err(e) => {
                    assert!(logs_in, "{}: {e}", a.name);
                    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
                    assert!(
                        e.to_string().contains("HTTP 401: ")
                            && e.to_string().contains("echo of POST /"),
                        "{e}"
                    );
                }
            }
        }
        // One provider's given path answers 403, the others list.
        emu.set_echo_rules("bycloud:/v1/backups=403").unwrap();
        let results = testing::list(&accounts, &Filter::default()).await;
        for (a, r) in accounts.iter().zip(results) {
            match a.provider() {
                crate::model::ProviderId::Bycloud => {
                    assert_eq!(r.unwrap_err().status, Some(403), "{}", a.name)
                }
                _ => assert!(r.is_ok(), "{}", a.name),
            }
        }
    }

    #[tokio::test]
    async fn rules_are_set_over_http_on_the_base_url_and_only_in_echo_mode() {
        let emu = start(true).await;
        let http = reqwest::Client::new();
        let url = emu.base.join("_emulator/echo").unwrap();
        let (status, _, v) = send(http.get(url.clone())).await;
        assert_eq!((status, v), (200, json!({"rules": DEFAULT_RULES})));
        let (status, _, v) =
            send(http.post(format!("{url}?rules=cf:login%3D401,listing%3D403"))).await;
        assert_eq!(
            (status, v),
            (200, json!({"rules": "cf:login=401,listing=403"}))
        );
        let (status, _, v) = send(http.post(format!("{url}?rules=listing%3D418"))).await;
        assert_eq!(status, 400);
        assert_eq!(
            v["error"],
            "echo rule `listing=418`: the status must be 401, 403 or 500"
        );
        // Off: no rules to set, the control route is absent, and nothing is echoed.
        let off = start(false).await;
        let (status, _, _) = send(http.get(off.base.join("_emulator/echo").unwrap())).await;
        assert_eq!(status, 404);
        assert_eq!(
            off.set_echo_rules("listing=500").unwrap_err().to_string(),
            "emulator: echo rules need echo_credentials"
        );
        let accounts = off.accounts().unwrap();
        assert!(testing::list(&accounts, &Filter::default())
            .await
            .iter()
            .all(|r| r.is_ok()));
    }

    #[test]
    fn rules_parse_and_print_back() {
        let text = "login=401,huawei:/v3/projects=403,bycloud:listing=500,any=500";
        let rules = parse_rules(text).unwrap();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[1].vendor, Some(Vendor::Huawei));
        assert_eq!(rules[1].target, Target::Path("/v3/projects".into()));
        assert_eq!(rules[1].status, StatusCode::FORBIDDEN);
        let back: Vec<String> = rules.iter().map(Rule::text).collect();
        assert_eq!(back.join(","), text);
        assert_eq!(parse_rules("/a:b=401").unwrap()[0].vendor, None);
        for (bad, why) in [
            ("login", "expected [PROVIDER:]TARGET=STATUS"),
            ("login=404", "the status must be 401, 403 or 500"),
            ("aws:login=401", "unknown provider"),
            ("logins=401", "the target must be"),
        ] {
            let e = parse_rules(bad).unwrap_err();
            assert!(e.starts_with(&format!("echo rule `{bad}`: {why}")), "{e}");
        }
    }

    #[test]
    fn logins_are_recognised_per_vendor() {
        let post = Method::POST;
        assert!(is_login(Vendor::Oracle, &post, "/authenticate/"));
        assert!(is_login(Vendor::Zcom, &post, "/v2.0/tokens"));
        assert!(is_login(Vendor::Huawei, &post, "/v3/auth/tokens"));
        assert!(is_login(Vendor::Cf, &post, "/login/oauth/token"));
        assert!(is_login(Vendor::Cf, &post, "/uaa/oauth/token"));
        assert!(!is_login(Vendor::Cf, &Method::GET, "/login/oauth/token"));
        assert!(!is_login(Vendor::Huawei, &post, "/v3/projects"));
    }
}
