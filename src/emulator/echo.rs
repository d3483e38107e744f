//! `echo_credentials`: a test mode in which the emulated servers answer chosen requests with an
//! error that repeats the credentials the client sent, the way a careless or hostile server
//! does, so that tests can prove nothing a secret touches is printed (spec §7, last bullet).
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
pub const DEFAULT_RULES: &str = "listing=500";

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
pub enum Target {
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
pub struct Rule {
    /// Only this provider's requests; `None`: every provider's.
    pub vendor: Option<Vendor>,
    /// Which requests.
    pub target: Target,
    /// 401, 403 or 500.
    pub status: StatusCode,
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
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
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
pub struct Echo {
    enabled: bool,
    rules: Mutex<Vec<Rule>>,
}

impl Echo {
    /// The state for `echo_credentials`, with the default rules.
    pub fn new(enabled: bool) -> Echo {
        Echo {
            enabled,
            rules: Mutex::new(parse_rules(DEFAULT_RULES).expect("the default rules parse")),
        }
    }

    /// Replaces the rules.
    pub fn set(&self, text: &str) -> Result<(), String> {
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
pub async fn layer(
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
            // Gateway codes for 401 and 403, a service code for 500 [I].
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
pub fn control_router(shared: Arc<Shared>) -> Router {
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
