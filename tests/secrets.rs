//! `docs/security.md`: nothing a secret touches is printed, even when a server echoes it.
//!
//! Echo servers (one per provider, started here on 127.0.0.1) log the client in with fresh
//! credentials of their own (cookies, tokens), then answer 401, 403 or 500 with a body that
//! echoes the credentials of the request (its credential headers and its body), in one of
//! several forms (as sent, decoded, base64, percent-encoded), behind a terminal attack. The
//! built binary lists every auth method of every provider against them with `-vv`; neither
//! stdout nor stderr may hold a configured or learnt secret in any searched form, nor a
//! character that drives the terminal.

#![cfg(feature = "emulator")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use support::{backups, run, stderr, stdout, write_private};
use tokio::net::TcpListener;

/// Which calls get the echo.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    /// The login (and every listing call): credentials from the config are echoed.
    Login,
    /// Only the listing calls, after a successful login: learnt credentials are echoed.
    Listing,
}

/// How the credentials are echoed.
#[derive(Clone, Copy, Debug)]
enum Form {
    /// Header values and the body as sent.
    AsSent,
    /// The body's values decoded (form fields, JSON strings).
    Decoded,
    /// Base64 of every credential value, as HTTP Basic would carry it.
    Base64,
    /// Percent-encoded, as a query string would carry it.
    Percent,
}

/// The vendor of an echo server, which decides its routes and its error body's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Vendor {
    Oracle,
    Zcom,
    Huawei,
    Cf,
    Bycloud,
}

/// A terminal attack in front of every echo: erase the line, go back, paint a green lie,
/// reverse the rest, retitle the window.
const ATTACK: &str = "\x1b[2K\r\x1b[32m all accounts OK\x1b[0m \u{202e}\x1b]0;owned\x07 ";

struct EchoState {
    vendor: Vendor,
    base: String,
    stage: Stage,
    form: Form,
    status: StatusCode,
    /// Credentials handed out by the logins.
    learnt: Mutex<Vec<String>>,
    /// Signatures the server received (Huawei AK/SK).
    signatures: Mutex<Vec<String>>,
    /// Echoes sent: every other one is plain text instead of the vendor's JSON.
    echoes: AtomicUsize,
}

struct EchoServer {
    base: String,
    state: Arc<EchoState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoServer {
    async fn start(vendor: Vendor, stage: Stage, form: Form, status: StatusCode) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(EchoState {
            vendor,
            base: base.clone(),
            stage,
            form,
            status,
            learnt: Mutex::new(Vec::new()),
            signatures: Mutex::new(Vec::new()),
            echoes: AtomicUsize::new(0),
        });
        let router = Router::new().fallback(answer).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        EchoServer { base, state, task }
    }
}

/// A fresh credential, recorded as learnt.
fn mint(s: &EchoState, what: &str) -> String {
    let value = format!("learnt-{what}-{:016x}", fastrand::u64(..));
    s.learnt.lock().unwrap().push(value.clone());
    value
}

async fn answer(State(s): State<Arc<EchoState>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().unwrap_or_default();
        if let Some((_, sig)) = auth.split_once("Signature=") {
            s.signatures.lock().unwrap().push(sig.to_string());
        }
    }
    let login = matches!(
        (s.vendor, &method, path.as_str()),
        (Vendor::Oracle, &Method::POST, "/authenticate/")
            | (Vendor::Zcom, &Method::POST, "/v2.0/tokens")
            | (Vendor::Huawei, &Method::POST, "/v3/auth/tokens")
            | (Vendor::Cf, &Method::POST, "/login/oauth/token")
    );
    if s.vendor == Vendor::Cf && path == "/" {
        // Discovery carries no credentials.
        return axum::Json(json!({"links": {"login": {"href": format!("{}/login", s.base)}}}))
            .into_response();
    }
    if login && s.stage == Stage::Listing {
        return login_answer(&s);
    }
    let echo = format!("{ATTACK}{}", echo(s.form, &headers, &body));
    let body = match (s.vendor, path.as_str()) {
        (Vendor::Oracle, _) => json!({ "message": echo }),
        (Vendor::Zcom, _) => {
            json!({ "unauthorized": { "code": s.status.as_u16(), "message": echo } })
        }
        (Vendor::Huawei, _) => json!({
            "error_code": "APIGW.0301", "error_msg": echo, "request_id": "req-1"
        }),
        (Vendor::Cf, "/login/oauth/token") => json!({
            "error": "unauthorized", "error_description": echo
        }),
        (Vendor::Cf, _) => json!({
            "errors": [{"code": 10002, "title": "CF-NotAuthenticated", "detail": echo}]
        }),
        (Vendor::Bycloud, _) => json!({
            "error": { "code": s.status.as_u16(), "message": echo, "request_id": "req-1" }
        }),
    };
    // Every other answer is plain text, which the adapters show as an excerpt instead.
    if s.echoes.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
        (s.status, [(header::CONTENT_TYPE, "text/plain")], echo).into_response()
    } else {
        (s.status, axum::Json(body)).into_response()
    }
}

/// A successful login with fresh credentials.
fn login_answer(s: &EchoState) -> Response {
    match s.vendor {
        Vendor::Oracle => (
            StatusCode::NO_CONTENT,
            [(
                header::SET_COOKIE,
                format!("nimbula={}; Path=/; Max-Age=1800", mint(s, "cookie")),
            )],
        )
            .into_response(),
        Vendor::Zcom => axum::Json(json!({"access": {
            "token": {"id": mint(s, "keystone-token"), "expires": "2099-01-01T00:00:00Z"},
            "serviceCatalog": []
        }}))
        .into_response(),
        Vendor::Huawei => (
            StatusCode::CREATED,
            [("x-subject-token", mint(s, "iam-token"))],
            axum::Json(json!({"token": {"expires_at": "2099-01-01T00:00:00.000000Z"}})),
        )
            .into_response(),
        Vendor::Cf => axum::Json(json!({
            "access_token": mint(s, "uaa-access"),
            "refresh_token": mint(s, "uaa-refresh"),
            "token_type": "bearer",
            "expires_in": 3600
        }))
        .into_response(),
        Vendor::Bycloud => unreachable!("ByCloud has no login"),
    }
}

/// The request's credential headers and body values, in one form, on one line.
fn echo(form: Form, headers: &HeaderMap, body: &Bytes) -> String {
    let mut values: Vec<String> = [
        "authorization",
        "cookie",
        "x-auth-token",
        "x-api-key",
        "x-security-token",
    ]
    .iter()
    .filter_map(|h| headers.get(*h))
    .filter_map(|v| v.to_str().ok())
    .map(str::to_string)
    .collect();
    let raw = String::from_utf8_lossy(body).to_string();
    let decoded = decoded_values(body);
    match form {
        Form::AsSent => values.push(raw),
        Form::Decoded => values.extend(decoded),
        Form::Base64 | Form::Percent => {
            // `user:password`, as HTTP Basic would pair them.
            if decoded.len() >= 2 {
                values.push(decoded.join(":"));
            }
            values.extend(decoded);
        }
    }
    let shown: Vec<String> = values
        .iter()
        .map(|v| match form {
            Form::Base64 => base64::engine::general_purpose::STANDARD.encode(v),
            Form::Percent => utf8_percent_encode(v, NON_ALPHANUMERIC).to_string(),
            _ => v.clone(),
        })
        .collect();
    format!("you sent: {}", shown.join(" | "))
}

/// The string values of a JSON or form body.
fn decoded_values(body: &[u8]) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        strings(&v, &mut out);
    } else {
        out.extend(url::form_urlencoded::parse(body).map(|(_, v)| v.to_string()));
    }
    out
}

/// Every configured secret, with characters that make every encoding differ from the value.
const SECRETS: &[&str] = &[
    "Oracle pass/+word\"é 1",
    "Zcom pass:word&=%1",
    "zcom-config-token-77",
    "HWAKEXAMPLE12345",
    "hw-secret-key-abcdef",
    "hw-sts-token-xyz123",
    "hw-config-iam-token-1",
    "Huawei pass word!~",
    "cf pass+word/é?",
    "cf-client-secret+/=",
    "cf-config-access-tok",
    "cf-config-refresh-tok",
    "bycloud-bearer-token-1",
    "bc-key-secret-2",
];

fn toml(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One account per auth method of every provider, each at its vendor's echo server.
fn config(servers: &[(Vendor, String)]) -> String {
    let at = |v: Vendor| &servers.iter().find(|(w, _)| *w == v).unwrap().1;
    let (o, z, h, c, b) = (
        at(Vendor::Oracle),
        at(Vendor::Zcom),
        at(Vendor::Huawei),
        at(Vendor::Cf),
        at(Vendor::Bycloud),
    );
    let s = |i: usize| toml(SECRETS[i]);
    let project = "0123456789abcdef0123456789abcdef";
    format!(
        r#"
[accounts.oracle-password]
provider = "oracle"
endpoint = "{o}"
user = "/Compute-a/oracle-user"
password = {p0}

[accounts.zcom-password]
provider = "zcom"
identity_endpoint = "{z}/v2.0"
compute_endpoint = "{z}/v2"
tenant_id = "tenant1"
username = "zcom-user"
password = {p1}

[accounts.zcom-token]
provider = "zcom"
identity_endpoint = "{z}/v2.0"
compute_endpoint = "{z}/v2"
tenant_id = "tenant1"
token = {p2}

[accounts.huawei-aksk]
provider = "huawei"
region = "ap-southeast-1"
endpoint = "{h}"
iam_endpoint = "{h}"
project_id = "{project}"
access_key = {p3}
secret_key = {p4}
security_token = {p5}

[accounts.huawei-token]
provider = "huawei"
region = "ap-southeast-1"
endpoint = "{h}"
iam_endpoint = "{h}"
project_id = "{project}"
token = {p6}

[accounts.huawei-password]
provider = "huawei"
region = "ap-southeast-1"
endpoint = "{h}"
iam_endpoint = "{h}"
project_id = "{project}"
user = "hw-user"
domain = "hw-domain"
password = {p7}

[accounts.cf-password]
provider = "cf"
api = "{c}"
username = "cf-user"
password = {p8}

[accounts.cf-client]
provider = "cf"
api = "{c}"
client_id = "cf-client-id"
client_secret = {p9}

[accounts.cf-token]
provider = "cf"
api = "{c}"
token = {p10}
refresh_token = {p11}

[accounts.bycloud-bearer]
provider = "bycloud"
endpoint = "{b}"
token = {p12}

[accounts.bycloud-key]
provider = "bycloud"
endpoint = "{b}"
api_key_id = "bc-key-id"
api_key_secret = {p13}
"#,
        p0 = s(0),
        p1 = s(1),
        p2 = s(2),
        p3 = s(3),
        p4 = s(4),
        p5 = s(5),
        p6 = s(6),
        p7 = s(7),
        p8 = s(8),
        p9 = s(9),
        p10 = s(10),
        p11 = s(11),
        p12 = s(12),
        p13 = s(13),
    )
}

const ACCOUNTS: [&str; 11] = [
    "oracle-password",
    "zcom-password",
    "zcom-token",
    "huawei-aksk",
    "huawei-token",
    "huawei-password",
    "cf-password",
    "cf-client",
    "cf-token",
    "bycloud-bearer",
    "bycloud-key",
];

/// The forms of a secret that must never be printed (the test's own list, independent of
/// the redactor's): as is, JSON-escaped, percent- and form-encoded, and base64 at every
/// alignment (the part that does not depend on what surrounds it).
fn forbidden_forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    let json = serde_json::to_string(secret).unwrap();
    out.push(json[1..json.len() - 1].to_string());
    out.push(utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string());
    out.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    for skip in 0..3 {
        let rest = &secret.as_bytes()[skip..];
        let whole = &rest[..rest.len() / 3 * 3];
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(whole);
        if b64.len() >= 8 {
            out.push(b64);
        }
    }
    out
}

/// Runs the binary against fresh echo servers and checks everything it printed.
async fn echoed(stage: Stage, form: Form, status: StatusCode, args: &[&str]) {
    let mut servers = Vec::new();
    for v in [
        Vendor::Oracle,
        Vendor::Zcom,
        Vendor::Huawei,
        Vendor::Cf,
        Vendor::Bycloud,
    ] {
        servers.push((v, EchoServer::start(v, stage, form, status).await));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let bases: Vec<(Vendor, String)> = servers.iter().map(|(v, s)| (*v, s.base.clone())).collect();
    write_private(&path, &config(&bases));
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = backups();
        cmd.arg("--config").arg(&path).args(&args);
        run(&mut cmd)
    })
    .await
    .unwrap();
    let what = format!("{stage:?} / {form:?} / {status}");
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    let printed = format!("{out_text}\n{err_text}");
    if std::env::var_os("SHOW_ECHO").is_some() {
        eprintln!("{what}:\n{err_text}");
    }
    let mut secrets: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    for (_, s) in &servers {
        secrets.extend(s.state.learnt.lock().unwrap().iter().cloned());
        secrets.extend(s.state.signatures.lock().unwrap().iter().cloned());
    }
    secrets.push("bc-key-id:bc-key-secret-2".into());
    for secret in &secrets {
        for form in forbidden_forms(secret) {
            assert!(
                !printed.contains(&form),
                "{what}: `{form}` (a form of `{secret}`) was printed:\n{printed}"
            );
        }
    }
    // Nothing that drives a terminal: no ESC, CR, bell, C1 or bidi character, in any line.
    let bad = printed
        .chars()
        .find(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c));
    assert_eq!(
        bad, None,
        "{what}: a control character was printed:\n{printed}"
    );
    assert_eq!(out.status.code(), Some(3), "{what}:\n{printed}");
    for a in ACCOUNTS {
        // Each account's line shows the echo, redacted: not merely cut off.
        let prefix = format!("backups: {a}: ");
        let line = err_text.lines().find(|l| l.starts_with(&prefix));
        assert!(
            line.is_some_and(|l| l.contains("<redacted>")),
            "{what}: no line for {a} showing a redacted echo:\n{err_text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_echoed_credential_is_printed_for_any_provider_auth_method_or_status() {
    for status in [
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
        StatusCode::INTERNAL_SERVER_ERROR,
    ] {
        for stage in [Stage::Login, Stage::Listing] {
            for form in [Form::AsSent, Form::Decoded, Form::Base64, Form::Percent] {
                echoed(stage, form, status, &["-vv", "list", "-o", "json"]).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_json_and_account_checks_print_no_echoed_credential() {
    for form in [Form::AsSent, Form::Base64] {
        echoed(
            Stage::Listing,
            form,
            StatusCode::UNAUTHORIZED,
            &["-v", "audit", "-o", "json"],
        )
        .await;
        echoed(
            Stage::Login,
            form,
            StatusCode::FORBIDDEN,
            &["accounts", "--check"],
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Property: a registered secret, embedded in any form in any server message, never reaches a
// printed line (error lines as the vendor message or as a body excerpt, and log lines).

mod embedded {
    use super::*;
    use backups::http::Response as HttpResponse;
    use backups::secret::Secret;
    use backups::{Error, ErrorKind};
    use percent_encoding::AsciiSet;
    use proptest::prelude::*;

    const UNRESERVED_KEPT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');

    /// Every form the test checks for: [`forbidden_forms`] plus the variants of encoders.
    fn all_forms(secret: &str) -> Vec<String> {
        let mut out = forbidden_forms(secret);
        out.push(embed(secret, 2, ("", "")));
        let percent = utf8_percent_encode(secret, UNRESERVED_KEPT).to_string();
        out.push(lower_escapes(&out[2]));
        out.push(lower_escapes(&percent));
        out.push(percent);
        for skip in 0..3 {
            let rest = &secret.as_bytes()[skip..];
            let whole = &rest[..rest.len() / 3 * 3];
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(whole);
            if b64.len() >= 8 {
                out.push(b64);
            }
        }
        out
    }

    fn lower_escapes(s: &str) -> String {
        let mut out = String::new();
        let mut hex = 0u8;
        for c in s.chars() {
            out.push(if hex > 0 { c.to_ascii_lowercase() } else { c });
            hex = if c == '%' { 2 } else { hex.saturating_sub(1) };
        }
        out
    }

    /// `secret` as a server might echo it: form `form` (with `affix` around it where the form
    /// encodes a longer value, as Basic auth encodes `user:secret`).
    fn embed(secret: &str, form: usize, (pre, post): (&str, &str)) -> String {
        let b64 =
            |engine: &base64::engine::GeneralPurpose| engine.encode(format!("{pre}{secret}{post}"));
        let json = serde_json::to_string(secret).unwrap();
        let json = &json[1..json.len() - 1];
        match form {
            0 => secret.to_string(),
            1 => json.to_string(),
            2 => json
                .chars()
                .map(|c| match c {
                    c if c.is_ascii() => c.to_string(),
                    c => c
                        .encode_utf16(&mut [0; 2])
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect(),
                })
                .collect(),
            3 => utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
            4 => lower_escapes(&utf8_percent_encode(secret, UNRESERVED_KEPT).to_string()),
            5 => url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
            // Base64 is searched for only in secrets of 8 bytes or more (docs/security.md).
            6 if secret.len() >= 8 => b64(&base64::engine::general_purpose::STANDARD),
            7 if secret.len() >= 8 => b64(&base64::engine::general_purpose::URL_SAFE_NO_PAD),
            _ => format!("Bearer {secret}"),
        }
    }

    /// Arbitrary text: any character, controls and line breaks included.
    fn text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn a_secret_embedded_in_any_server_message_is_never_printed(
            // No backslash: an escape the sanitizer writes could spell such a secret out of
            // harmless text. Everything else a password may hold.
            secret in "[ -\\[\\]-~\t€éü漢字😀\u{202e}\u{1b}]{6,40}",
            before in text(120),
            after in text(120),
            form in 0..9usize,
            affix in ("[ -~]{0,4}", "[ -~]{0,4}"),
            repeat in 1..3usize,
        ) {
            Secret::new(secret.clone());
            let echoed = embed(&secret, form, (&affix.0, &affix.1));
            let message = format!("{before}{}{after}", echoed.repeat(repeat));
            let resp = |body: &str| HttpResponse {
                status: 401,
                headers: HeaderMap::new(),
                body: body.as_bytes().to_vec(),
                request: "GET /v1/backups".into(),
            };
            // The excerpt shows the first line: put the echo there too.
            let first_line = message.replace(['\n', '\r'], " ");
            let printed = [
                Error::new(ErrorKind::Auth, message.clone()).with_account("acct").to_string(),
                resp("").error(Some(message.clone())).to_string(),
                resp(&first_line).error(None).to_string(),
                resp("{}").protocol_error(message.clone()).to_string(),
                backups::text::line(&message),
            ];
            for line in &printed {
                for form in all_forms(&secret) {
                    prop_assert!(
                        !line.contains(&form),
                        "`{}` (a form of `{}`) printed in: {}", form, secret, line
                    );
                }
                prop_assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{}", line);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data output: escaped on a terminal, byte for byte in a pipe.

/// A ByCloud API whose one backup carries a terminal attack in its name and description.
async fn hostile_listing() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().fallback(|| async {
        axum::Json(json!({
            "backups": [{
                "id": "b1\u{202e}",
                "status": "available",
                "description": "\x1b[2K\r\x1b[32mall OK\u{9b}\u{2028}\x1b]0;owned\x07",
                "created_at": "2026-11-20T00:00:00Z"
            }],
            "meta": {"has_more": false}
        }))
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn vendor_values_are_escaped_on_a_terminal_and_exact_in_a_pipe() {
    let (base, task) = hostile_listing().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_private(
        &path,
        &format!(
            "[accounts.by]\nprovider = \"bycloud\"\nendpoint = \"{base}\"\ntoken = \"tty-token-1\"\n"
        ),
    );
    let config = path.to_str().unwrap().to_string();
    let outputs = tokio::task::spawn_blocking(move || {
        let args = |format: &str| -> Vec<String> {
            [
                "--config",
                &config,
                "list",
                "-o",
                format,
                "--columns",
                "id,description",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let mut out = Vec::new();
        for format in ["tsv", "csv"] {
            let piped = run(backups().args(args(format)));
            let args = args(format);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let terminal =
                support::on_terminal(&args, &[("TERM", "dumb")]).map(|mut c| run(&mut c));
            out.push((format, piped, terminal));
        }
        let json: Vec<String> = ["--config", &config, "list", "-o", "json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let piped = run(backups().args(&json));
        let json: Vec<&str> = json.iter().map(String::as_str).collect();
        let terminal = support::on_terminal(&json, &[("TERM", "dumb")]).map(|mut c| run(&mut c));
        out.push(("json", piped, terminal));
        out
    })
    .await
    .unwrap();
    task.abort();
    let raw_description = "\x1b[2K\\r\x1b[32mall OK\u{9b}\u{2028}\x1b]0;owned\x07";
    for (format, piped, terminal) in outputs {
        assert_eq!(piped.status.code(), Some(0), "{format}: {}", stderr(&piped));
        let text = stdout(&piped);
        match format {
            // tsv escapes only `\`, tab, newline and CR; everything else is the vendor's.
            "tsv" => assert_eq!(text, format!("id\tdescription\nb1\u{202e}\t{raw_description}\n")),
            "csv" => assert_eq!(
                text,
                "id,description\nb1\u{202e},\"\x1b[2K\r\x1b[32mall OK\u{9b}\u{2028}\x1b]0;owned\x07\"\n"
            ),
            _ => assert!(text.contains(r#""description":"\u001b[2K\r\u001b[32mall OK"#)
                && text.contains("\u{9b}\u{2028}") && text.contains("b1\u{202e}"), "{text}"),
        }
        let Some(terminal) = terminal else { continue };
        let shown = stdout(&terminal).replace("\r\n", "\n");
        assert_eq!(terminal.status.code(), Some(0), "{format}: {shown}");
        let bad = shown.chars().find(|c| {
            (c.is_control() && !matches!(c, '\n' | '\t'))
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2028}')
        });
        assert_eq!(bad, None, "{format} on a terminal: {shown:?}");
        let expected = match format {
            "tsv" => "b1\\u{202e}\t\\x1b[2K\\r\\x1b[32mall OK\\x9b\\u{2028}\\x1b]0;owned\\x07",
            "csv" => "b1\\u{202e},\"\\x1b[2K\\r\\x1b[32mall OK\\x9b\\u{2028}\\x1b]0;owned\\x07\"",
            _ => r#""id":"b1\u202e""#,
        };
        assert!(shown.contains(expected), "{format} on a terminal: {shown}");
        if format == "json" {
            assert!(
                shown.contains(r#"\u001b[2K\r\u001b[32mall OK\u009b\u2028\u001b]0;owned\u0007"#),
                "{shown}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator's own echo mode (`echo_credentials`): its demo accounts, every rule shape.

/// The secret keys of a config (`docs/config.md#format`).
const SECRET_KEYS: [&str; 8] = [
    "password",
    "token",
    "access_key",
    "secret_key",
    "security_token",
    "client_secret",
    "api_key_secret",
    "refresh_token",
];

/// Every secret value in a config's text.
fn config_secrets(text: &str) -> Vec<String> {
    let doc: toml::Table = text.parse().unwrap();
    let accounts = doc["accounts"].as_table().unwrap();
    accounts
        .values()
        .filter_map(|a| a.as_table())
        .flat_map(|a| {
            SECRET_KEYS
                .iter()
                .filter_map(|k| a.get(*k).and_then(|v| v.as_str()).map(str::to_string))
        })
        .collect()
}

/// Where the emulator's echo puts a credential: each must be followed by `<redacted>` (or by as
/// much of it as fits before a cap's `…`).
const ECHO_MARKERS: [&str; 12] = [
    "x-auth-token: ",
    "cookie: nimbula=",
    "x-api-key: ",
    "x-security-token: ",
    "authorization: bearer ",
    "authorization: Bearer ",
    "Access=",
    "Signature=",
    "\"password\":\"",
    "password=",
    "client_secret=",
    "refresh_token=",
];

fn assert_markers_redacted(what: &str, printed: &str) {
    for marker in ECHO_MARKERS {
        for (at, _) in printed.match_indices(marker) {
            let rest = &printed[at + marker.len()..];
            let head: String = rest.chars().take_while(|c| *c != '…').take(10).collect();
            let whole = head == "<redacted>";
            let cut = "<redacted>".starts_with(&head) && rest[head.len()..].starts_with('…');
            assert!(
                whole || cut,
                "{what}: `{marker}` is followed by `{}`:\n{printed}",
                rest.chars().take(40).collect::<String>()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulators_credential_echo_prints_no_secret() {
    use backups::emulator::{Emulator, EmulatorOptions};
    let emu = Emulator::start(EmulatorOptions {
        now: support::NOW.parse().unwrap(),
        echo_credentials: true,
        ..Default::default()
    })
    .await
    .unwrap();
    // A Cloud Foundry account with a given token and refresh token, as the cf CLI keeps them.
    let api = emu.urls.cf.to_string();
    let tokens = tokio::task::spawn_blocking(move || {
        support::uaa_password_token(
            &api,
            "grant_type=password&username=admin&password=cf-demo-password",
        )
    })
    .await
    .unwrap();
    let (access, refresh) = (
        tokens["access_token"].as_str().unwrap().to_string(),
        tokens["refresh_token"].as_str().unwrap().to_string(),
    );
    let text = format!(
        "{}\n[accounts.cf-demo-token]\nprovider = \"cf\"\napi = \"{}\"\ntoken = \"{access}\"\nrefresh_token = \"{refresh}\"\n",
        emu.config_toml(),
        emu.urls.cf.as_str().trim_end_matches('/'),
    );
    let secrets = config_secrets(&text);
    assert!(secrets.len() >= 10, "{secrets:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_private(&path, &text);
    for rules in [
        "listing=500",
        "listing=403",
        "listing=401",
        "login=401",
        "login=403",
        "login=500",
        "cf:listing=401,cf:login=401",
        "any=401",
    ] {
        emu.set_echo_rules(rules).unwrap();
        let path = path.clone();
        let out = tokio::task::spawn_blocking(move || {
            run(backups()
                .arg("--config")
                .arg(&path)
                .args(["-vv", "list", "-o", "json"]))
        })
        .await
        .unwrap();
        let printed = format!("{}\n{}", stdout(&out), stderr(&out));
        if std::env::var_os("SHOW_ECHO").is_some() {
            eprintln!("{rules}:\n{}", stderr(&out));
        }
        assert_eq!(out.status.code(), Some(3), "{rules}:\n{printed}");
        assert!(
            printed.contains("echo of ") && printed.contains("<redacted>"),
            "{rules}: no echo reached the output:\n{printed}"
        );
        for secret in &secrets {
            for form in forbidden_forms(secret) {
                assert!(
                    !printed.contains(&form),
                    "{rules}: `{form}` (a form of `{secret}`) was printed:\n{printed}"
                );
            }
        }
        assert_markers_redacted(rules, &printed);
    }
}
