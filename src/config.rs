//! The config file (spec §3, stable): TOML with one `[accounts.NAME]` table per account, like
//! rclone remotes. Secrets are inline or read from the environment via `<key>_env`. Every
//! error names the file, the account and the key, and is a configuration error (exit 2).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;

use crate::error::{Error, Result};
use crate::model::ProviderId;
pub use crate::secret::{Secret, SecretSource};

/// Where an account was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountOrigin {
    /// A table in this config file.
    File(PathBuf),
    /// Credentials found in the environment (`env-<provider>` accounts).
    Environment,
    /// The built-in demo emulator.
    Demo,
}

impl fmt::Display for AccountOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountOrigin::File(p) => write!(f, "{}", p.display()),
            AccountOrigin::Environment => f.write_str("environment"),
            AccountOrigin::Demo => f.write_str("demo"),
        }
    }
}

/// One configured account.
#[derive(Clone, Debug)]
pub struct Account {
    /// The account name (the TOML table name).
    pub name: String,
    /// Where it was defined.
    pub origin: AccountOrigin,
    /// Plain `http` to a non-loopback host is allowed (off by default).
    pub allow_insecure_http: bool,
    /// Per-account freshness threshold for `audit` (`audit_max_age = "8d"`).
    pub audit_max_age: Option<chrono::Duration>,
    /// Where each secret key came from, for `backups accounts`.
    pub secret_sources: Vec<(String, SecretSource)>,
    /// Provider-specific settings.
    pub settings: Settings,
}

impl Account {
    /// Which provider this account uses.
    pub fn provider(&self) -> ProviderId {
        match &self.settings {
            Settings::Oracle(_) => ProviderId::Oracle,
            Settings::Zcom(_) => ProviderId::Zcom,
            Settings::Huawei(_) => ProviderId::Huawei,
            Settings::Cf(_) => ProviderId::Cf,
            Settings::Bycloud(_) => ProviderId::Bycloud,
        }
    }

    /// The main endpoint, for `backups accounts`.
    pub fn endpoint(&self) -> String {
        match &self.settings {
            Settings::Oracle(c) => c.endpoint.to_string(),
            Settings::Zcom(c) => c
                .compute_endpoint
                .as_ref()
                .unwrap_or(&c.identity_endpoint)
                .to_string(),
            Settings::Huawei(c) => c.endpoint.to_string(),
            Settings::Cf(c) => c.api.to_string(),
            Settings::Bycloud(c) => c.endpoint.to_string(),
        }
    }
}

/// Provider-specific account settings.
#[derive(Clone, Debug)]
pub enum Settings {
    /// Oracle Compute Classic.
    Oracle(OracleConfig),
    /// Z.com.
    Zcom(ZcomConfig),
    /// Huawei Cloud CBR.
    Huawei(HuaweiConfig),
    /// Cloud Foundry.
    Cf(CfConfig),
    /// ByCloud.
    Bycloud(BycloudConfig),
}

/// Oracle Compute Classic account.
#[derive(Clone, Debug)]
pub struct OracleConfig {
    /// REST endpoint, e.g. `https://api-z999.compute.us0.oraclecloud.com` (no default).
    pub endpoint: Url,
    /// `/Compute-<identity domain>/<user>`.
    pub user: String,
    /// Password.
    pub password: Secret,
}

/// Z.com account.
#[derive(Clone, Debug)]
pub struct ZcomConfig {
    /// Region such as `tyo1`; also the `location` of every row.
    pub region: Option<String>,
    /// Keystone v2.0 base, e.g. `https://identity.tyo1.cloud.z.com/v2.0`.
    pub identity_endpoint: Url,
    /// Compute base without the tenant, e.g. `https://compute.tyo1.cloud.z.com/v2`; when
    /// absent the token's service catalog gives it.
    pub compute_endpoint: Option<Url>,
    /// Tenant id.
    pub tenant_id: String,
    /// How to authenticate.
    pub auth: ZcomAuth,
}

/// Z.com credentials.
#[derive(Clone, Debug)]
pub enum ZcomAuth {
    /// Keystone v2 password credentials.
    Password {
        /// API user name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// A token obtained elsewhere.
    Token(Secret),
}

/// Huawei Cloud CBR account.
#[derive(Clone, Debug)]
pub struct HuaweiConfig {
    /// Region id such as `ap-southeast-1`.
    pub region: Option<String>,
    /// CBR endpoint; only scheme, host and port matter (the official SDK drops any path).
    pub endpoint: Url,
    /// IAM endpoint (token requests).
    pub iam_endpoint: Url,
    /// Project id; when absent, looked up from IAM by the region's name, as the SDK does.
    pub project_id: Option<String>,
    /// How to authenticate.
    pub auth: HuaweiAuth,
}

/// Huawei credentials.
#[derive(Clone, Debug)]
pub enum HuaweiAuth {
    /// AK/SK request signing (`SDK-HMAC-SHA256`).
    AkSk {
        /// Access key id.
        access_key: Secret,
        /// Secret access key.
        secret_key: Secret,
        /// STS security token, for temporary credentials.
        security_token: Option<Secret>,
    },
    /// An IAM token (`X-Subject-Token`) obtained elsewhere.
    Token(Secret),
    /// An IAM user's password, exchanged for a token (and again when it expires).
    Password {
        /// IAM user name.
        user: String,
        /// Password.
        password: Secret,
        /// Account (domain) name.
        domain: String,
    },
}

/// Cloud Foundry account.
#[derive(Clone, Debug)]
pub struct CfConfig {
    /// Cloud Controller API, e.g. `https://api.example.local`.
    pub api: Url,
    /// How to authenticate.
    pub auth: CfAuth,
    /// Service instance guids to list; empty means every instance the user can see.
    pub service_instances: Vec<String>,
}

/// Cloud Foundry credentials.
#[derive(Clone, Debug)]
pub enum CfAuth {
    /// UAA password grant with the cf CLI's client (`cf`, empty secret).
    Password {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// UAA client credentials grant.
    ClientCredentials {
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: Secret,
    },
    /// A bearer token obtained elsewhere, optionally with a refresh token to renew it.
    Token {
        /// Access token (without the `bearer ` prefix).
        access_token: Secret,
        /// Refresh token, used when the access token is rejected.
        refresh_token: Option<Secret>,
    },
}

/// ByCloud account.
#[derive(Clone, Debug)]
pub struct BycloudConfig {
    /// Region such as `spo1`; also the `location` of every row.
    pub region: Option<String>,
    /// API endpoint, e.g. `https://api.spo1.mycloud.com`.
    pub endpoint: Url,
    /// How to authenticate.
    pub auth: BycloudAuth,
}

/// ByCloud credentials.
#[derive(Clone, Debug)]
pub enum BycloudAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `X-Api-Key: <id>:<secret>` (service accounts).
    ApiKey {
        /// Access key id.
        id: String,
        /// Secret access key.
        secret: Secret,
    },
}

/// The loaded configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// Accounts in file order.
    pub accounts: Vec<Account>,
}

/// Which config file to read: `--config`, else `$BACKUPS_CONFIG`, else
/// `$XDG_CONFIG_HOME/backups/config.toml`, else `~/.config/backups/config.toml`.
/// The flag also reports whether the path was asked for explicitly (then it must exist).
pub fn config_path(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(PathBuf, bool)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), true));
    }
    if let Some(p) = env("BACKUPS_CONFIG").filter(|s| !s.is_empty()) {
        return Some((PathBuf::from(p), true));
    }
    if let Some(x) = env("XDG_CONFIG_HOME").filter(|s| !s.is_empty()) {
        return Some((Path::new(&x).join("backups").join("config.toml"), false));
    }
    env("HOME").filter(|s| !s.is_empty()).map(|h| {
        (
            Path::new(&h)
                .join(".config")
                .join("backups")
                .join("config.toml"),
            false,
        )
    })
}

/// Reads the config file: a missing file is an error only when asked for explicitly.
pub fn load(path: &Path, explicit: bool, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| Error::config(format!("{}: not valid UTF-8", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(Config::default());
        }
        Err(e) => {
            return Err(Error::config(format!(
                "{}: cannot read: {e}",
                path.display()
            )));
        }
    };
    warn_if_exposed(path, &text);
    parse(&text, path, env)
}

/// Warns when a config file holding inline secrets can be read by group or others.
fn warn_if_exposed(path: &Path, text: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.permissions().mode() & 0o077 == 0 {
            return;
        }
        let Ok(table) = text.parse::<toml::Table>() else {
            return;
        };
        let inline = table
            .get("accounts")
            .and_then(|a| a.as_table())
            .map(|accounts| {
                accounts
                    .values()
                    .filter_map(|a| a.as_table())
                    .any(|a| a.keys().any(|k| SECRET_KEYS.contains(&k.as_str())))
            })
            .unwrap_or(false);
        if inline {
            eprintln!(
                "backups: warning: {} holds inline secrets and is readable by others; run `chmod 600 {}` or use `*_env` keys",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, text);
}

/// Keys that hold secrets (each also accepted as `<key>_env`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "token",
    "access_key",
    "secret_key",
    "security_token",
    "client_secret",
    "api_key_secret",
    "refresh_token",
];

/// Parses config text. `path` is only used in messages.
pub fn parse(text: &str, path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let file = path.display().to_string();
    let root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let msg = e.message().to_string();
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        Error::config(format!("{file}: invalid TOML{at}: {msg}"))
    })?;
    for key in root.keys() {
        if key != "accounts" {
            return Err(Error::config(format!(
                "{file}: unknown top-level key `{key}` (accounts go in [accounts.NAME] tables)"
            )));
        }
    }
    let mut accounts = Vec::new();
    if let Some(value) = root.get("accounts") {
        let table = value.as_table().ok_or_else(|| {
            Error::config(format!(
                "{file}: `accounts` must be a table of [accounts.NAME] tables"
            ))
        })?;
        for (name, value) in table {
            let t = value.as_table().ok_or_else(|| {
                Error::config(format!(
                    "{file}: account `{name}`: must be a table ([accounts.{name}])"
                ))
            })?;
            let keys = Keys {
                file: &file,
                account: name,
                table: t,
                used: BTreeSet::new(),
                sources: Vec::new(),
                env,
            };
            accounts.push(account(keys, AccountOrigin::File(path.to_path_buf()))?);
        }
    }
    Ok(Config {
        path: Some(path.to_path_buf()),
        accounts,
    })
}

/// Reads one account's keys, remembering which were used so leftovers are reported.
struct Keys<'a> {
    file: &'a str,
    account: &'a str,
    table: &'a toml::Table,
    used: BTreeSet<String>,
    sources: Vec<(String, SecretSource)>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Keys<'_> {
    fn err(&self, key: &str, msg: impl fmt::Display) -> Error {
        Error::config(format!(
            "{}: account `{}`: key `{key}`: {msg}",
            self.file, self.account
        ))
    }

    fn string(&mut self, key: &str) -> Result<Option<String>> {
        self.used.insert(key.to_string());
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) if s.trim().is_empty() => {
                Err(self.err(key, "must not be empty"))
            }
            Some(toml::Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => {
                Err(self.err(key, format!("must be a string, not {}", other.type_str())))
            }
        }
    }

    fn required(&mut self, key: &str) -> Result<String> {
        self.string(key)?
            .ok_or_else(|| self.err(key, "is required"))
    }

    fn boolean(&mut self, key: &str) -> Result<bool> {
        self.used.insert(key.to_string());
        match self.table.get(key) {
            None => Ok(false),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(other) => Err(self.err(
                key,
                format!("must be true or false, not {}", other.type_str()),
            )),
        }
    }

    fn string_list(&mut self, key: &str) -> Result<Vec<String>> {
        self.used.insert(key.to_string());
        match self.table.get(key) {
            None => Ok(Vec::new()),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    _ => Err(self.err(key, "must be a list of non-empty strings")),
                })
                .collect(),
            Some(other) => Err(self.err(
                key,
                format!("must be a list of strings, not {}", other.type_str()),
            )),
        }
    }

    /// A secret given inline as `key` or from the environment as `key_env`.
    fn secret(&mut self, key: &str) -> Result<Option<Secret>> {
        let env_key = format!("{key}_env");
        let inline = self.string(key)?;
        let var = self.string(&env_key)?;
        match (inline, var) {
            (Some(_), Some(_)) => {
                Err(self.err(key, format!("give either `{key}` or `{env_key}`, not both")))
            }
            (Some(v), None) => {
                self.sources.push((key.to_string(), SecretSource::Inline));
                Ok(Some(Secret::new(v)))
            }
            (None, Some(var)) => match (self.env)(&var) {
                Some(v) if !v.is_empty() => {
                    self.sources.push((key.to_string(), SecretSource::Env(var)));
                    Ok(Some(Secret::new(v)))
                }
                _ => Err(self.err(&env_key, format!("environment variable {var} is not set"))),
            },
            (None, None) => Ok(None),
        }
    }

    fn url(&mut self, key: &str, allow_http: bool) -> Result<Option<Url>> {
        let Some(raw) = self.string(key)? else {
            return Ok(None);
        };
        let url = Url::parse(&raw).map_err(|e| self.err(key, format!("not a URL ({e}): {raw}")))?;
        check_url(&url, allow_http).map_err(|m| self.err(key, m))?;
        Ok(Some(url))
    }

    fn finish(self) -> Result<Vec<(String, SecretSource)>> {
        for key in self.table.keys() {
            if !self.used.contains(key) {
                return Err(self.err(key, "unknown key"));
            }
        }
        Ok(self.sources)
    }
}

/// Refuses URLs that would carry credentials in the clear (spec §7): `http` only to loopback
/// unless allowed, and only `http`/`https` at all.
pub fn check_url(url: &Url, allow_http: bool) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if allow_http || crate::http::is_loopback(url) => {}
        "http" => {
            return Err(format!(
                "plain http to {} would send credentials in the clear; use https or set allow_insecure_http = true",
                url.host_str().unwrap_or("?")
            ))
        }
        other => return Err(format!("unsupported URL scheme `{other}` (use https)")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL has no host".into());
    }
    Ok(())
}

/// Parses a default URL built from a region (`https://cbr.{region}.myhuaweicloud.com`).
fn region_url(keys: &Keys<'_>, key: &str, template: &str, region: &str) -> Result<Url> {
    Url::parse(&template.replace("{region}", region))
        .map_err(|_| keys.err(key, format!("region `{region}` does not make a valid URL")))
}

fn account(mut k: Keys<'_>, origin: AccountOrigin) -> Result<Account> {
    let provider_name = k.required("provider")?;
    let provider = ProviderId::parse(&provider_name).ok_or_else(|| {
        k.err(
            "provider",
            format!(
                "unknown provider `{provider_name}` (expected one of: {})",
                ProviderId::ALL.map(|p| p.as_str()).join(", ")
            ),
        )
    })?;
    let allow = k.boolean("allow_insecure_http")?;
    let audit_max_age = match k.string("audit_max_age")? {
        None => None,
        Some(s) => Some(crate::duration::parse(&s).ok_or_else(|| {
            k.err(
                "audit_max_age",
                format!("`{s}` is not a duration like 26h or 8d"),
            )
        })?),
    };
    let settings = match provider {
        ProviderId::Oracle => {
            let endpoint = k.url("endpoint", allow)?.ok_or_else(|| {
                k.err(
                    "endpoint",
                    "is required (e.g. https://api-z999.compute.us0.oraclecloud.com)",
                )
            })?;
            let user = k.required("user")?;
            let password = k
                .secret("password")?
                .ok_or_else(|| k.err("password", "is required (or password_env)"))?;
            Settings::Oracle(OracleConfig {
                endpoint,
                user,
                password,
            })
        }
        ProviderId::Zcom => {
            let region = k.string("region")?;
            let identity = k.url("identity_endpoint", allow)?;
            let compute = k.url("compute_endpoint", allow)?;
            let tenant_id = k.required("tenant_id")?;
            let username = k.string("username")?;
            let password = k.secret("password")?;
            let token = k.secret("token")?;
            let identity_endpoint = match (identity, &region) {
                (Some(u), _) => u,
                (None, Some(r)) => region_url(
                    &k,
                    "region",
                    "https://identity.{region}.cloud.z.com/v2.0",
                    r,
                )?,
                (None, None) => {
                    return Err(k.err("region", "is required unless identity_endpoint is set"))
                }
            };
            let compute_endpoint = match (compute, &region) {
                (Some(u), _) => Some(u),
                (None, Some(r)) => Some(region_url(
                    &k,
                    "region",
                    "https://compute.{region}.cloud.z.com/v2",
                    r,
                )?),
                (None, None) => None,
            };
            let auth = match (username, password, token) {
                (Some(username), Some(password), None) => ZcomAuth::Password { username, password },
                (None, None, Some(t)) => ZcomAuth::Token(t),
                (Some(_), None, None) => {
                    return Err(k.err("password", "is required with username (or password_env)"))
                }
                (None, Some(_), None) => return Err(k.err("username", "is required with password")),
                (None, None, None) => {
                    return Err(k.err("username", "give username + password(_env), or token(_env)"))
                }
                _ => {
                    return Err(k.err(
                        "token",
                        "give either username + password or token, not both",
                    ))
                }
            };
            Settings::Zcom(ZcomConfig {
                region,
                identity_endpoint,
                compute_endpoint,
                tenant_id,
                auth,
            })
        }
        ProviderId::Huawei => {
            let region = k.string("region")?;
            let endpoint = match (k.url("endpoint", allow)?, &region) {
                (Some(u), _) => u,
                (None, Some(r)) => {
                    region_url(&k, "region", "https://cbr.{region}.myhuaweicloud.com", r)?
                }
                (None, None) => return Err(k.err("region", "is required unless endpoint is set")),
            };
            let iam_endpoint = match (k.url("iam_endpoint", allow)?, &region) {
                (Some(u), _) => u,
                (None, Some(r)) => {
                    region_url(&k, "region", "https://iam.{region}.myhuaweicloud.com", r)?
                }
                (None, None) => Url::parse("https://iam.myhuaweicloud.com").expect("static URL"),
            };
            let project_id = k.string("project_id")?;
            if project_id.is_none() && region.is_none() {
                return Err(k.err(
                    "project_id",
                    "is required unless region is set (the project is then looked up by region name)",
                ));
            }
            let access_key = k.secret("access_key")?;
            let secret_key = k.secret("secret_key")?;
            let security_token = k.secret("security_token")?;
            let token = k.secret("token")?;
            let user = k.string("user")?;
            let password = k.secret("password")?;
            let domain = k.string("domain")?;
            let auth = match (access_key, secret_key, token, user, password) {
                (Some(access_key), Some(secret_key), None, None, None) => HuaweiAuth::AkSk {
                    access_key,
                    secret_key,
                    security_token: security_token.clone(),
                },
                (Some(_), None, ..) => return Err(k.err("secret_key", "is required with access_key (or secret_key_env)")),
                (None, Some(_), ..) => return Err(k.err("access_key", "is required with secret_key (or access_key_env)")),
                (None, None, Some(t), None, None) => HuaweiAuth::Token(t),
                (None, None, None, Some(user), Some(password)) => HuaweiAuth::Password {
                    user,
                    password,
                    domain: domain.clone().ok_or_else(|| k.err("domain", "is required with user and password (the account name)"))?,
                },
                (None, None, None, None, None) => {
                    return Err(k.err("access_key", "give access_key + secret_key (AK/SK), token, or user + password + domain"))
                }
                _ => return Err(k.err("token", "give one way to authenticate: access_key + secret_key, token, or user + password")),
            };
            if security_token.is_some() && !matches!(auth, HuaweiAuth::AkSk { .. }) {
                return Err(k.err("security_token", "only applies to AK/SK credentials"));
            }
            if domain.is_some() && !matches!(auth, HuaweiAuth::Password { .. }) {
                return Err(k.err("domain", "only applies to user + password"));
            }
            Settings::Huawei(HuaweiConfig {
                region,
                endpoint,
                iam_endpoint,
                project_id,
                auth,
            })
        }
        ProviderId::Cf => {
            let api = k
                .url("api", allow)?
                .ok_or_else(|| k.err("api", "is required (e.g. https://api.example.com)"))?;
            let username = k.string("username")?;
            let password = k.secret("password")?;
            let client_id = k.string("client_id")?;
            let client_secret = k.secret("client_secret")?;
            let token = k.secret("token")?;
            let refresh_token = k.secret("refresh_token")?;
            let service_instances = k.string_list("service_instances")?;
            let auth = match (username, password, client_id, client_secret, token) {
                (Some(username), Some(password), None, None, None) => CfAuth::Password { username, password },
                (None, None, Some(client_id), Some(client_secret), None) => CfAuth::ClientCredentials { client_id, client_secret },
                (None, None, None, None, Some(access_token)) => CfAuth::Token { access_token, refresh_token: refresh_token.clone() },
                (Some(_), None, None, None, None) => return Err(k.err("password", "is required with username (or password_env)")),
                (None, None, Some(_), None, None) => return Err(k.err("client_secret", "is required with client_id (or client_secret_env)")),
                (None, None, None, None, None) => {
                    return Err(k.err("username", "give username + password, client_id + client_secret, or token"))
                }
                _ => return Err(k.err("token", "give one way to authenticate: username + password, client_id + client_secret, or token")),
            };
            if refresh_token.is_some() && !matches!(auth, CfAuth::Token { .. }) {
                return Err(k.err("refresh_token", "only applies with token"));
            }
            Settings::Cf(CfConfig {
                api,
                auth,
                service_instances,
            })
        }
        ProviderId::Bycloud => {
            let region = k.string("region")?;
            let endpoint = match (k.url("endpoint", allow)?, &region) {
                (Some(u), _) => u,
                (None, Some(r)) => region_url(&k, "region", "https://api.{region}.mycloud.com", r)?,
                (None, None) => return Err(k.err("region", "is required unless endpoint is set")),
            };
            let token = k.secret("token")?;
            let key_id = k.string("api_key_id")?;
            let key_secret = k.secret("api_key_secret")?;
            let auth = match (token, key_id, key_secret) {
                (Some(t), None, None) => BycloudAuth::Bearer(t),
                (None, Some(id), Some(secret)) => BycloudAuth::ApiKey { id, secret },
                (None, Some(_), None) => {
                    return Err(k.err(
                        "api_key_secret",
                        "is required with api_key_id (or api_key_secret_env)",
                    ))
                }
                (None, None, Some(_)) => {
                    return Err(k.err("api_key_id", "is required with api_key_secret"))
                }
                (None, None, None) => {
                    return Err(k.err(
                        "token",
                        "give token(_env), or api_key_id + api_key_secret(_env)",
                    ))
                }
                _ => {
                    return Err(k.err(
                        "token",
                        "give either token or api_key_id + api_key_secret, not both",
                    ))
                }
            };
            Settings::Bycloud(BycloudConfig {
                region,
                endpoint,
                auth,
            })
        }
    };
    let name = k.account.to_string();
    let secret_sources = k.finish()?;
    Ok(Account {
        name,
        origin,
        allow_insecure_http: allow,
        audit_max_age,
        secret_sources,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        match var {
            "HW_AK" => Some("AKVALUE".into()),
            "HW_SK" => Some("SKVALUE".into()),
            _ => None,
        }
    }

    fn parse_str(text: &str) -> Result<Config> {
        parse(text, Path::new("/etc/b.toml"), &env)
    }

    #[test]
    fn reads_the_spec_example() {
        let cfg = parse_str(
            r#"
[accounts.hw-prod]
provider = "huawei"
region = "ap-southeast-1"
project_id = "0605767b5780d5762fc5c0118072a564"
access_key_env = "HW_AK"
secret_key_env = "HW_SK"

[accounts.bycloud-spo]
provider = "bycloud"
region = "spo1"
token = "tok"
"#,
        )
        .unwrap();
        assert_eq!(cfg.accounts.len(), 2);
        let hw = &cfg.accounts[0];
        assert_eq!(hw.name, "hw-prod");
        let Settings::Huawei(h) = &hw.settings else {
            panic!()
        };
        assert_eq!(
            h.endpoint.as_str(),
            "https://cbr.ap-southeast-1.myhuaweicloud.com/"
        );
        assert_eq!(
            h.iam_endpoint.as_str(),
            "https://iam.ap-southeast-1.myhuaweicloud.com/"
        );
        let HuaweiAuth::AkSk {
            access_key,
            secret_key,
            ..
        } = &h.auth
        else {
            panic!()
        };
        assert_eq!(access_key.expose(), "AKVALUE");
        assert_eq!(secret_key.expose(), "SKVALUE");
        assert_eq!(
            hw.secret_sources,
            vec![
                ("access_key".to_string(), SecretSource::Env("HW_AK".into())),
                ("secret_key".to_string(), SecretSource::Env("HW_SK".into()))
            ]
        );
        let by = &cfg.accounts[1];
        assert_eq!(by.endpoint(), "https://api.spo1.mycloud.com/");
        assert!(
            !format!("{:?}", by).contains("tok\""),
            "secret leaked into Debug"
        );
    }

    #[test]
    fn errors_name_file_account_and_key() {
        let cases = [
            ("[accounts.a]\nprovider = \"nope\"", "/etc/b.toml: account `a`: key `provider`: unknown provider `nope` (expected one of: oracle, zcom, huawei, cf, bycloud)"),
            ("[accounts.a]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\ncolour = 1", "/etc/b.toml: account `a`: key `colour`: unknown key"),
            ("[accounts.a]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken_env = \"NOPE\"", "/etc/b.toml: account `a`: key `token_env`: environment variable NOPE is not set"),
            ("[accounts.a]\nprovider = \"oracle\"\nuser = \"/Compute-a/b\"\npassword = \"p\"", "/etc/b.toml: account `a`: key `endpoint`: is required (e.g. https://api-z999.compute.us0.oraclecloud.com)"),
            ("[accounts.a]\nregion = \"x\"", "/etc/b.toml: account `a`: key `provider`: is required"),
            ("[accounts.a]\nprovider = \"bycloud\"\nendpoint = \"http://api.example.com\"\ntoken = \"t\"", "/etc/b.toml: account `a`: key `endpoint`: plain http to api.example.com would send credentials in the clear; use https or set allow_insecure_http = true"),
            ("[accounts.a]\nprovider = \"huawei\"\nregion = \"r\"\nproject_id = \"p\"\naccess_key = \"a\"", "/etc/b.toml: account `a`: key `secret_key`: is required with access_key (or secret_key_env)"),
            ("[accounts.a]\nprovider = \"huawei\"\nendpoint = \"https://cbr.example.com\"\naccess_key = \"a\"\nsecret_key = \"s\"", "/etc/b.toml: account `a`: key `project_id`: is required unless region is set (the project is then looked up by region name)"),
            ("[accounts.a]\nprovider = \"bycloud\"\nregion = 5\ntoken = \"t\"", "/etc/b.toml: account `a`: key `region`: must be a string, not integer"),
            ("accounts = 3", "/etc/b.toml: `accounts` must be a table of [accounts.NAME] tables"),
            ("[acounts.a]\nprovider = \"cf\"", "/etc/b.toml: unknown top-level key `acounts` (accounts go in [accounts.NAME] tables)"),
        ];
        for (text, want) in cases {
            let err = parse_str(text).unwrap_err();
            assert_eq!(err.to_string(), want, "{text}");
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn invalid_toml_names_the_line() {
        let err = parse_str("[accounts.a]\nprovider = \n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/etc/b.toml: invalid TOML (line 2): "),
            "{err}"
        );
    }

    #[test]
    fn plain_http_is_fine_on_loopback_or_when_allowed() {
        let cfg = parse_str(
            "[accounts.a]\nprovider = \"bycloud\"\nendpoint = \"http://127.0.0.1:9/\"\ntoken = \"t\"\n\
             [accounts.b]\nprovider = \"bycloud\"\nendpoint = \"http://10.1.1.1/\"\ntoken = \"t\"\nallow_insecure_http = true",
        )
        .unwrap();
        assert_eq!(cfg.accounts.len(), 2);
    }

    #[test]
    fn config_path_lookup_order() {
        let e = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let flag = Path::new("/x.toml");
        assert_eq!(
            config_path(Some(flag), &e(&[("BACKUPS_CONFIG", "/y")])),
            Some((flag.into(), true))
        );
        assert_eq!(
            config_path(None, &e(&[("BACKUPS_CONFIG", "/y"), ("HOME", "/h")])),
            Some(("/y".into(), true))
        );
        assert_eq!(
            config_path(None, &e(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/h")])),
            Some(("/xdg/backups/config.toml".into(), false))
        );
        assert_eq!(
            config_path(None, &e(&[("HOME", "/h")])),
            Some(("/h/.config/backups/config.toml".into(), false))
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "(redacted) (redacted)");
    }
}

/// Accounts from credentials users already have (spec §3), one `env-<provider>` account per
/// provider that has no account in the config: Huawei SDK variables, OpenStack `OS_*`
/// variables for Z.com, the cf CLI's `config.json`, `BYCLOUD_TOKEN`, Oracle `OPC_*`.
/// `BACKUPS_<PROVIDER>_ENDPOINT` overrides the default URL of such an account.
pub fn env_accounts(
    configured: &[ProviderId],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Account>> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let mut out = Vec::new();
    let bad = |var: &str, msg: &str| Error::config(format!("environment: {var}: {msg}"));
    let url = |var: &str, raw: String| -> Result<Url> {
        let u = Url::parse(&raw).map_err(|e| bad(var, &format!("not a URL ({e})")))?;
        check_url(&u, false).map_err(|m| bad(var, &m))?;
        Ok(u)
    };
    let endpoint_var = |p: ProviderId| format!("BACKUPS_{}_ENDPOINT", p.as_str().to_uppercase());
    let mk = |provider: ProviderId, sources: Vec<(&str, &str)>, settings: Settings| Account {
        name: format!("env-{provider}"),
        origin: AccountOrigin::Environment,
        allow_insecure_http: false,
        audit_max_age: None,
        secret_sources: sources
            .into_iter()
            .map(|(k, v)| (k.to_string(), SecretSource::Env(v.to_string())))
            .collect(),
        settings,
    };
    let wanted = |p: ProviderId| !configured.contains(&p);

    if wanted(ProviderId::Huawei) {
        if let (Some(ak), Some(sk)) = (get("HUAWEICLOUD_SDK_AK"), get("HUAWEICLOUD_SDK_SK")) {
            let project_id = get("HUAWEICLOUD_SDK_PROJECT_ID");
            let region = get("HUAWEICLOUD_SDK_REGION");
            let ev = endpoint_var(ProviderId::Huawei);
            let endpoint = match (get(&ev), &region) {
                (Some(e), _) => url(&ev, e)?,
                (None, Some(r)) => url(
                    "HUAWEICLOUD_SDK_REGION",
                    format!("https://cbr.{r}.myhuaweicloud.com"),
                )?,
                (None, None) => {
                    return Err(bad(
                        "HUAWEICLOUD_SDK_REGION",
                        &format!("is required unless {ev} is set"),
                    ))
                }
            };
            if project_id.is_none() && region.is_none() {
                return Err(bad(
                    "HUAWEICLOUD_SDK_PROJECT_ID",
                    "is required when HUAWEICLOUD_SDK_REGION is not set (the project is looked up by region name)",
                ));
            }
            let iam_endpoint = match (get("HUAWEICLOUD_SDK_IAM_ENDPOINT"), &region) {
                (Some(e), _) => url("HUAWEICLOUD_SDK_IAM_ENDPOINT", e)?,
                (None, Some(r)) => url(
                    "HUAWEICLOUD_SDK_REGION",
                    format!("https://iam.{r}.myhuaweicloud.com"),
                )?,
                (None, None) => endpoint.clone(),
            };
            let security_token = get("HUAWEICLOUD_SDK_SECURITY_TOKEN").map(Secret::new);
            out.push(mk(
                ProviderId::Huawei,
                vec![
                    ("access_key", "HUAWEICLOUD_SDK_AK"),
                    ("secret_key", "HUAWEICLOUD_SDK_SK"),
                ],
                Settings::Huawei(HuaweiConfig {
                    region,
                    endpoint,
                    iam_endpoint,
                    project_id,
                    auth: HuaweiAuth::AkSk {
                        access_key: Secret::new(ak),
                        secret_key: Secret::new(sk),
                        security_token,
                    },
                }),
            ));
        }
    }
    if wanted(ProviderId::Zcom) {
        if let (Some(auth_url), Some(username), Some(password)) =
            (get("OS_AUTH_URL"), get("OS_USERNAME"), get("OS_PASSWORD"))
        {
            let tenant_id = get("OS_TENANT_ID")
                .or_else(|| get("OS_PROJECT_ID"))
                .ok_or_else(|| {
                    bad(
                        "OS_TENANT_ID",
                        "is required (or OS_PROJECT_ID) with OS_AUTH_URL",
                    )
                })?;
            let ev = endpoint_var(ProviderId::Zcom);
            let compute_endpoint = get(&ev).map(|e| url(&ev, e)).transpose()?;
            out.push(mk(
                ProviderId::Zcom,
                vec![("password", "OS_PASSWORD")],
                Settings::Zcom(ZcomConfig {
                    region: get("OS_REGION_NAME"),
                    identity_endpoint: url("OS_AUTH_URL", auth_url)?,
                    compute_endpoint,
                    tenant_id,
                    auth: ZcomAuth::Password {
                        username,
                        password: Secret::new(password),
                    },
                }),
            ));
        }
    }
    if wanted(ProviderId::Cf) {
        if let Some(account) = cf_cli_account(&get)? {
            out.push(account);
        }
    }
    if wanted(ProviderId::Bycloud) {
        if let Some(token) = get("BYCLOUD_TOKEN") {
            let region = get("BYCLOUD_REGION");
            let ev = endpoint_var(ProviderId::Bycloud);
            let endpoint = match (get(&ev), &region) {
                (Some(e), _) => url(&ev, e)?,
                (None, Some(r)) => url("BYCLOUD_REGION", format!("https://api.{r}.mycloud.com"))?,
                (None, None) => {
                    return Err(bad(
                        "BYCLOUD_REGION",
                        &format!("is required with BYCLOUD_TOKEN unless {ev} is set"),
                    ))
                }
            };
            out.push(mk(
                ProviderId::Bycloud,
                vec![("token", "BYCLOUD_TOKEN")],
                Settings::Bycloud(BycloudConfig {
                    region,
                    endpoint,
                    auth: BycloudAuth::Bearer(Secret::new(token)),
                }),
            ));
        }
    }
    if wanted(ProviderId::Oracle) {
        if let (Some(endpoint), Some(user), Some(password)) =
            (get("OPC_ENDPOINT"), get("OPC_USER"), get("OPC_PASSWORD"))
        {
            let ev = endpoint_var(ProviderId::Oracle);
            let endpoint = match get(&ev) {
                Some(e) => url(&ev, e)?,
                None => url("OPC_ENDPOINT", endpoint)?,
            };
            out.push(mk(
                ProviderId::Oracle,
                vec![("password", "OPC_PASSWORD")],
                Settings::Oracle(OracleConfig {
                    endpoint,
                    user,
                    password: Secret::new(password),
                }),
            ));
        }
    }
    Ok(out)
}

/// The cf CLI's login (`$CF_HOME/.cf/config.json`, else `~/.cf/config.json`) as an account:
/// its target, access token and refresh token. `None` when there is no such file or no login.
fn cf_cli_account(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Account>> {
    let Some(home) = get("CF_HOME").or_else(|| get("HOME")) else {
        return Ok(None);
    };
    let path = Path::new(&home).join(".cf").join("config.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let bad = |msg: String| Error::config(format!("{}: {msg}", path.display()));
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let (Some(target), Some(access)) = (field("Target"), field("AccessToken")) else {
        return Ok(None); // Not logged in: nothing to reuse.
    };
    let api = Url::parse(target).map_err(|e| bad(format!("Target: not a URL ({e})")))?;
    check_url(&api, false).map_err(|m| bad(format!("Target: {m}")))?;
    let token = access
        .strip_prefix("bearer ")
        .or_else(|| access.strip_prefix("Bearer "))
        .unwrap_or(access)
        .to_string();
    let refresh = field("RefreshToken").map(Secret::new);
    let src = SecretSource::File(path.clone());
    let mut secret_sources = vec![("token".to_string(), src.clone())];
    if refresh.is_some() {
        secret_sources.push(("refresh_token".to_string(), src));
    }
    Ok(Some(Account {
        name: "env-cf".into(),
        origin: AccountOrigin::Environment,
        allow_insecure_http: false,
        audit_max_age: None,
        secret_sources,
        settings: Settings::Cf(CfConfig {
            api,
            auth: CfAuth::Token {
                access_token: Secret::new(token),
                refresh_token: refresh,
            },
            service_instances: Vec::new(),
        }),
    }))
}

#[cfg(test)]
mod env_tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn huawei_sdk_variables_make_an_env_account() {
        let env = vars(&[
            ("HUAWEICLOUD_SDK_AK", "AK"),
            ("HUAWEICLOUD_SDK_SK", "SK"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", "p1"),
            ("HUAWEICLOUD_SDK_REGION", "ap-southeast-1"),
            ("BYCLOUD_TOKEN", "t"),
            ("BACKUPS_BYCLOUD_ENDPOINT", "http://127.0.0.1:9"),
        ]);
        let accounts = env_accounts(&[], &env).unwrap();
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["env-huawei", "env-bycloud"]);
        assert_eq!(
            accounts[0].endpoint(),
            "https://cbr.ap-southeast-1.myhuaweicloud.com/"
        );
        assert_eq!(accounts[1].endpoint(), "http://127.0.0.1:9/");
        // A configured provider wins over the environment.
        assert_eq!(
            env_accounts(&[ProviderId::Huawei, ProviderId::Bycloud], &env)
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn incomplete_environment_names_the_variable() {
        let env = vars(&[("HUAWEICLOUD_SDK_AK", "AK"), ("HUAWEICLOUD_SDK_SK", "SK")]);
        assert_eq!(
            env_accounts(&[], &env).unwrap_err().to_string(),
            "environment: HUAWEICLOUD_SDK_REGION: is required unless BACKUPS_HUAWEI_ENDPOINT is set"
        );
        let env = vars(&[
            ("HUAWEICLOUD_SDK_AK", "AK"),
            ("HUAWEICLOUD_SDK_SK", "SK"),
            ("BACKUPS_HUAWEI_ENDPOINT", "https://cbr.example.com"),
        ]);
        assert_eq!(
            env_accounts(&[], &env).unwrap_err().to_string(),
            "environment: HUAWEICLOUD_SDK_PROJECT_ID: is required when HUAWEICLOUD_SDK_REGION is not set (the project is looked up by region name)"
        );
        let env = vars(&[
            ("BYCLOUD_TOKEN", "t"),
            ("BACKUPS_BYCLOUD_ENDPOINT", "http://api.example.com"),
        ]);
        assert!(env_accounts(&[], &env)
            .unwrap_err()
            .to_string()
            .contains("plain http"));
    }

    #[test]
    fn cf_cli_config_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".cf")).unwrap();
        std::fs::write(
            dir.path().join(".cf/config.json"),
            r#"{"ConfigVersion":3,"Target":"https://api.example.com","AccessToken":"bearer abc","RefreshToken":"r1","UaaEndpoint":"https://uaa.example.com"}"#,
        )
        .unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let env = move |k: &str| (k == "HOME").then(|| home.clone());
        let accounts = env_accounts(&[], &env).unwrap();
        assert_eq!(accounts.len(), 1);
        let Settings::Cf(cf) = &accounts[0].settings else {
            panic!()
        };
        let CfAuth::Token {
            access_token,
            refresh_token,
        } = &cf.auth
        else {
            panic!()
        };
        assert_eq!(access_token.expose(), "abc");
        assert_eq!(refresh_token.as_ref().map(Secret::expose), Some("r1"));
        assert_eq!(accounts[0].secret_sources.len(), 2);
    }

    /// Property tests: no config text panics the reader; each is a config or a config error.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Config-shaped text: account tables with known and unknown keys and values of every
        /// TOML type, including URLs that are not URLs and `*_env` names that are not set.
        fn config_text() -> impl Strategy<Value = String> {
            let key = prop::sample::select(
                &[
                    "provider",
                    "endpoint",
                    "api",
                    "region",
                    "user",
                    "username",
                    "password",
                    "password_env",
                    "token",
                    "token_env",
                    "access_key",
                    "secret_key",
                    "project_id",
                    "iam_endpoint",
                    "identity_endpoint",
                    "compute_endpoint",
                    "tenant_id",
                    "domain",
                    "client_id",
                    "client_secret",
                    "refresh_token",
                    "service_instances",
                    "api_key_id",
                    "api_key_secret",
                    "allow_insecure_http",
                    "audit_max_age",
                    "bogus",
                ][..],
            );
            let value = prop_oneof![
                prop::sample::select(
                    &[
                        "\"oracle\"",
                        "\"zcom\"",
                        "\"huawei\"",
                        "\"cf\"",
                        "\"bycloud\"",
                        "\"https://api.example\"",
                        "\"http://10.0.0.1\"",
                        "\"http://127.0.0.1:1/\"",
                        "\"ftp://x\"",
                        "\"not a url\"",
                        "\"\"",
                        "true",
                        "1",
                        "-1",
                        "1e300",
                        "[\"a\", 1]",
                        "[]",
                        "{ a = 1 }",
                        "\"8d\"",
                        "\"-5h\"",
                        "\"UNSET_VAR\"",
                    ][..]
                )
                .prop_map(str::to_string),
                any::<String>().prop_map(|s| format!("{s:?}")),
            ];
            let table = (
                "[a-z0-9-]{1,10}",
                prop::collection::vec((key, value), 0..10),
            )
                .prop_map(|(name, kv)| {
                    let mut t = format!("[accounts.{name}]\n");
                    for (k, v) in kv {
                        t.push_str(&format!("{k} = {v}\n"));
                    }
                    t
                });
            prop::collection::vec(table, 0..4).prop_map(|t| t.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_text_gives_a_config_or_a_config_error(
                text in prop_oneof![any::<String>(), config_text()]
            ) {
                let env = |k: &str| (k == "SET_VAR").then(|| "v".to_string());
                if let Err(e) = parse(&text, Path::new("c.toml"), &env) {
                    prop_assert_eq!(e.kind, crate::error::ErrorKind::Config, "{}", e);
                }
            }
        }
    }
}
