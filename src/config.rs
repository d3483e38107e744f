//! The config file (`docs/config.md`, stable): TOML with one `[accounts.NAME]` table per account,
//! like rclone remotes, and the credentials users already have in their environment.
//!
//! This module finds and reads the file, checks the key names of every table (unknown keys
//! first, in file order, with a suggestion), resolves secrets given inline or as `<key>_env`,
//! and feeds the values to the provider's config builder (`providers/*/config.rs`); the
//! environment feeds the same builder through the same `set`, so both sources build an account
//! the same way. Every error names
//! the file (or the environment), the account and the key, and is a configuration error
//! (exit 2).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::audit::{Keep, PolicyLayer};
use crate::error::{Error, Result};
use crate::model::ProviderId;
use crate::providers::builder::{ConfigBuilder, Key, KeyError, Kind, Value};
use crate::providers::bycloud::{BycloudBuilder, BycloudConfig};
use crate::providers::cf::{CfBuilder, CfConfig};
use crate::providers::huawei::{HuaweiBuilder, HuaweiConfig};
use crate::providers::oracle::{OracleBuilder, OracleConfig};
use crate::providers::zcom::{ZcomBuilder, ZcomConfig};
pub(crate) use crate::secret::{Secret, SecretSource};

/// Where an account was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AccountOrigin {
    /// A table in this config file.
    File(PathBuf),
    /// Credentials found in the environment (`env-<provider>` accounts).
    Environment,
    /// The built-in demo emulator (made only in a build with it).
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
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
    pub(crate) origin: AccountOrigin,
    /// Per-account freshness threshold for `audit` (`audit_max_age = "8d"`).
    pub(crate) audit_max_age: Option<chrono::Duration>,
    /// Per-account retention rules for `audit` (`audit_keep = "daily=7,weekly=4"`).
    pub(crate) audit_keep: Option<Keep>,
    /// Resources that must have backups in this account (`audit_expect = ["vol1"]`).
    pub(crate) audit_expect: Vec<String>,
    /// Where each secret key came from, for `backups accounts`.
    pub(crate) secret_sources: Vec<(String, SecretSource)>,
    /// Provider-specific settings.
    pub(crate) settings: Settings,
}

impl Account {
    /// Which provider this account uses.
    pub fn provider(&self) -> ProviderId {
        self.settings.provider()
    }

    /// How the account connects (`ca_file`, `http_proxy`).
    pub(crate) fn transport(&self) -> &crate::http::Transport {
        match &self.settings {
            Settings::Oracle(c) => &c.transport,
            Settings::Zcom(c) => &c.transport,
            Settings::Huawei(c) => &c.transport,
            Settings::Cf(c) => &c.transport,
            Settings::Bycloud(c) => &c.transport,
        }
    }

    /// The main endpoint, for `backups accounts`.
    pub(crate) fn endpoint(&self) -> String {
        let url = match &self.settings {
            Settings::Oracle(c) => c.endpoint.to_string(),
            Settings::Zcom(c) => c
                .compute_endpoint
                .as_ref()
                .unwrap_or(&c.identity_endpoint)
                .to_string(),
            Settings::Huawei(c) => c.endpoint.to_string(),
            Settings::Cf(c) => c.api.to_string(),
            Settings::Bycloud(c) => c.endpoint.to_string(),
        };
        // Config URLs never hold a user name or password (refused when read); should one
        // ever get here another way, it is still not printed.
        crate::providers::builder::without_userinfo(&url)
    }
}

/// Provider-specific account settings.
#[derive(Clone, Debug)]
pub(crate) enum Settings {
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

impl Settings {
    /// Which provider these settings are for.
    pub(crate) fn provider(&self) -> ProviderId {
        match self {
            Settings::Oracle(_) => ProviderId::Oracle,
            Settings::Zcom(_) => ProviderId::Zcom,
            Settings::Huawei(_) => ProviderId::Huawei,
            Settings::Cf(_) => ProviderId::Cf,
            Settings::Bycloud(_) => ProviderId::Bycloud,
        }
    }
}

/// Where each secret key of an account came from, for `backups accounts`.
type SecretSources = Vec<(String, SecretSource)>;

/// The loaded configuration: one field per top-level table.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Accounts in file order (`[accounts.NAME]`).
    pub accounts: Vec<Account>,
    /// Run settings for when no flag gives them (`[defaults]`).
    pub(crate) defaults: Defaults,
    /// The `[audit]` table.
    pub(crate) audit: AuditConfig,
    /// The `[inventory]` table.
    pub(crate) inventory: InventoryConfig,
}

/// `[defaults]`: settings of a whole run, used when the flag of the same name is not given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Defaults {
    /// `deadline = "10m"`: accounts still listing then fail (`--deadline`).
    pub(crate) deadline: Option<chrono::Duration>,
    /// `max_requests = 256`: requests in flight across all accounts (`--max-requests`).
    pub(crate) max_requests: Option<usize>,
}

/// The keys `[defaults]` takes.
const DEFAULTS_KEYS: &[&str] = &["deadline", "max_requests"];

/// The `[audit]` table (`docs/config.md#audit`): the policy every account falls back to, and the
/// dead man's switch.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditConfig {
    /// `max_age`, `keep` and `expect`.
    pub(crate) policy: PolicyLayer,
    /// `ping_url` / `ping_url_env`: a healthchecks.io URL (a secret), and where it came from.
    pub(crate) ping_url: Option<(Secret, SecretSource)>,
}

/// The `[inventory]` table (`docs/config.md#inventory`): whether listings are recorded, where, and
/// for how long.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct InventoryConfig {
    /// `record = true`: `list`, `audit` (and the exporter) record every listing.
    pub(crate) record: bool,
    /// `path`: the inventory file; a relative path is taken from the config file's folder,
    /// and a leading `~/` from `$HOME`.
    pub(crate) path: Option<PathBuf>,
    /// `keep = "400d"`: snapshots older than this are pruned after recording.
    pub(crate) keep: Option<chrono::Duration>,
}

/// The top-level tables the file may hold. Adding one is its name here, a field in
/// [`Config`] and one line in [`parse`] that reads it.
const TABLES: &[&str] = &["accounts", "audit", "defaults", "inventory"];

/// Keys every account accepts, whatever its provider; the rest belong to its builder.
const ACCOUNT_KEYS: &[&str] = &[
    "provider",
    "allow_insecure_http",
    "audit_max_age",
    "audit_keep",
    "audit_expect",
];

/// The keys of the `[audit]` table.
const AUDIT_KEYS: &[&str] = &["max_age", "keep", "expect", "ping_url", "ping_url_env"];

/// The keys of the `[inventory]` table.
const INVENTORY_KEYS: &[&str] = &["record", "path", "keep"];

/// Which config file to read: `--config`, else `$BACKUPS_CONFIG`, else
/// `$XDG_CONFIG_HOME/backups/config.toml`, else `~/.config/backups/config.toml`.
/// The flag also reports whether the path was asked for explicitly (then it must exist).
pub(crate) fn config_path(
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
pub(crate) fn load(
    path: &Path,
    explicit: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config> {
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
                    .any(|a| a.keys().any(|k| is_secret_key(k)))
            })
            .unwrap_or(false);
        let ping_url = table
            .get("audit")
            .and_then(|a| a.as_table())
            .is_some_and(|a| a.contains_key("ping_url"));
        if inline || ping_url {
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

/// The keys a provider's builder accepts.
fn provider_keys(provider: ProviderId) -> &'static [Key] {
    match provider {
        ProviderId::Oracle => OracleBuilder::KEYS,
        ProviderId::Zcom => ZcomBuilder::KEYS,
        ProviderId::Huawei => HuaweiBuilder::KEYS,
        ProviderId::Cf => CfBuilder::KEYS,
        ProviderId::Bycloud => BycloudBuilder::KEYS,
    }
}

/// Whether some provider takes this key as an inline secret.
fn is_secret_key(key: &str) -> bool {
    ProviderId::ALL.into_iter().any(|p| {
        provider_keys(p)
            .iter()
            .any(|k| k.kind == Kind::Secret && k.name == key)
    })
}

/// Every way an account of these providers may name a key: the account keys, the
/// providers' keys, and `<key>_env` for each secret.
fn key_names(providers: &[ProviderId]) -> Vec<String> {
    let mut names: Vec<String> = ACCOUNT_KEYS.iter().map(|k| k.to_string()).collect();
    for key in providers.iter().flat_map(|p| provider_keys(*p)) {
        let forms = [
            Some(key.name.to_string()),
            (key.kind == Kind::Secret).then(|| format!("{}_env", key.name)),
        ];
        for form in forms.into_iter().flatten() {
            if !names.contains(&form) {
                names.push(form);
            }
        }
    }
    names
}

/// The candidate most like `word`, if any is like enough: clap's rule, a Jaro similarity
/// above 0.7.
fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro(word, c), c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `unknown <what>`, with a suggestion when a candidate is close to `word`, else `otherwise`.
fn unknown(what: &str, word: &str, candidates: &[String], otherwise: &str) -> String {
    match did_you_mean(word, candidates.iter().map(String::as_str)) {
        Some(s) => format!("unknown {what}, did you mean `{s}`?"),
        None => format!("unknown {what}{otherwise}"),
    }
}

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
    let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    if let Some(key) = root.keys().find(|k| !tables.contains(k)) {
        let msg = unknown(
            &format!("top-level key `{key}`"),
            key,
            &tables,
            " (accounts go in [accounts.NAME] tables)",
        );
        return Err(Error::config(format!("{file}: {msg}")));
    }
    unknown_keys_first(&root, &file)?;
    let accounts = match root.get("accounts") {
        Some(value) => accounts(value, &file, path, env)?,
        None => Vec::new(),
    };
    let defaults = match root.get("defaults") {
        Some(value) => defaults(value).map_err(|e| {
            Error::config(format!(
                "{file}: [defaults]: key `{}`: {}",
                e.key, e.message
            ))
        })?,
        None => Defaults::default(),
    };
    let audit = match root.get("audit") {
        Some(value) => {
            audit_table(value, env).map_err(|e| Error::config(format!("{file}: [audit]: {e}")))?
        }
        None => AuditConfig::default(),
    };
    let inventory = inventory_of(&root, path, env)?;
    Ok(Config {
        accounts,
        defaults,
        audit,
        inventory,
    })
}

/// Reports the first unknown key of the whole file, in file order, before any table is read:
/// a misspelt key (`regoin`) is the error worth reporting, not the missing key it was meant
/// to be, even when that one is missing from another table. Values, and tables that are not
/// tables, are left to the readers that follow.
fn unknown_keys_first(root: &toml::Table, file: &str) -> Result<()> {
    for (name, value) in root {
        let Some(table) = value.as_table() else {
            continue;
        };
        let (what, checked) = match name.as_str() {
            "accounts" => {
                for (account, value) in table {
                    let Some(t) = value.as_table() else {
                        continue;
                    };
                    let provider = t
                        .get("provider")
                        .and_then(toml::Value::as_str)
                        .and_then(ProviderId::parse);
                    check_keys(t, provider).map_err(|e| {
                        Error::config(format!(
                            "{file}: account `{account}`: key `{}`: {}",
                            e.key, e.message
                        ))
                    })?;
                }
                continue;
            }
            "defaults" => ("[defaults]", check_defaults_keys(table)),
            "audit" => ("[audit]", known_keys(table, AUDIT_KEYS, "")),
            "inventory" => ("[inventory]", known_keys(table, INVENTORY_KEYS, "")),
            _ => continue,
        };
        checked.map_err(|e| {
            Error::config(format!("{file}: {what}: key `{}`: {}", e.key, e.message))
        })?;
    }
    Ok(())
}

/// The first key of `table` that is not in `known`, as unknown, with a suggestion when one
/// is close, else `otherwise` appended.
fn known_keys(
    table: &toml::Table,
    known: &[&str],
    otherwise: &str,
) -> std::result::Result<(), KeyError> {
    let names: Vec<String> = known.iter().map(|k| k.to_string()).collect();
    match table.keys().find(|k| !names.contains(k)) {
        Some(key) => Err(KeyError::new(key, unknown("key", key, &names, otherwise))),
        None => Ok(()),
    }
}

/// The keys of `[defaults]`, checked; an unknown one lists them all, since they are few.
fn check_defaults_keys(table: &toml::Table) -> std::result::Result<(), KeyError> {
    let otherwise = format!(" (expected one of: {})", DEFAULTS_KEYS.join(", "));
    known_keys(table, DEFAULTS_KEYS, &otherwise)
}

/// Reads only the `[inventory]` table of the config file (for `backups diff`, which needs
/// no account and so must not fail on an account's unset `*_env` variable). The other
/// top-level names are still checked. A missing file is an error only when asked for
/// explicitly.
pub(crate) fn load_inventory(
    path: &Path,
    explicit: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<InventoryConfig> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| Error::config(format!("{}: not valid UTF-8", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(InventoryConfig::default());
        }
        Err(e) => {
            return Err(Error::config(format!(
                "{}: cannot read: {e}",
                path.display()
            )));
        }
    };
    let file = path.display().to_string();
    let root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::config(format!("{file}: invalid TOML: {}", e.message()))
    })?;
    let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    if let Some(key) = root.keys().find(|k| !tables.contains(k)) {
        let msg = unknown(&format!("top-level key `{key}`"), key, &tables, "");
        return Err(Error::config(format!("{file}: {msg}")));
    }
    inventory_of(&root, path, env)
}

/// The `[inventory]` table of a parsed file, or the defaults when there is none.
fn inventory_of(
    root: &toml::Table,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<InventoryConfig> {
    match root.get("inventory") {
        Some(value) => inventory_table(value, path, env)
            .map_err(|e| Error::config(format!("{}: [inventory]: {e}", path.display()))),
        None => Ok(InventoryConfig::default()),
    }
}

/// The `[inventory]` table: its keys checked (unknown keys first, with a suggestion), then
/// read. `file` is the config file, the base of a relative `path`.
fn inventory_table(
    value: &toml::Value,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<InventoryConfig, String> {
    let key_error = |e: KeyError| format!("key `{}`: {}", e.key, e.message);
    let Some(table) = value.as_table() else {
        return Err(format!(
            "must be a table ([inventory] with record, path, keep), not {}",
            value.type_str()
        ));
    };
    known_keys(table, INVENTORY_KEYS, "").map_err(key_error)?;
    let record = match table.get("record") {
        None => false,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            return Err(key_error(KeyError::new(
                "record",
                format!("must be true or false, not {}", other.type_str()),
            )))
        }
    };
    let path = match table.get("path") {
        None => None,
        Some(v) => {
            let text = toml_string("path", v).map_err(key_error)?;
            Some(
                inventory_path(&text, file, env)
                    .map_err(|why| key_error(KeyError::new("path", why)))?,
            )
        }
    };
    let keep = match table.get("keep") {
        None => None,
        Some(v) => {
            let s = toml_string("keep", v).map_err(key_error)?;
            Some(crate::duration::parse_positive(&s).map_err(|e| {
                key_error(KeyError::new(
                    "keep",
                    format!("`{}`: {e}", crate::text::quote(&s)),
                ))
            })?)
        }
    };
    Ok(InventoryConfig { record, path, keep })
}

/// `[inventory] path` as a file name: `~/…` under `$HOME`, a relative path under the config
/// file's folder (so the file means the same whatever the working directory).
fn inventory_path(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<PathBuf, String> {
    if let Some(rest) = text.strip_prefix("~/") {
        let home = env("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{text}` starts with ~/ but $HOME is not set"))?;
        return Ok(Path::new(&home).join(rest));
    }
    let p = Path::new(text);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(file
        .parent()
        .map_or_else(|| p.to_path_buf(), |dir| dir.join(p)))
}

/// The `[defaults]` table: each key checked as its flag is.
fn defaults(value: &toml::Value) -> std::result::Result<Defaults, KeyError> {
    let Some(table) = value.as_table() else {
        return Err(KeyError::new("defaults", "must be a table ([defaults])"));
    };
    check_defaults_keys(table)?;
    let deadline = match table.get("deadline") {
        None => None,
        Some(value) => {
            let s = toml_string("deadline", value)?;
            Some(crate::duration::parse_positive(&s).map_err(|e| {
                KeyError::new("deadline", format!("`{}`: {e}", crate::text::quote(&s)))
            })?)
        }
    };
    let max_requests = match table.get("max_requests") {
        None => None,
        Some(toml::Value::Integer(n)) if (1..=1024).contains(n) => Some(*n as usize),
        Some(toml::Value::Integer(n)) => {
            return Err(KeyError::new(
                "max_requests",
                format!("{n} is not between 1 and 1024"),
            ))
        }
        Some(other) => {
            return Err(KeyError::new(
                "max_requests",
                format!("must be a number, not {}", other.type_str()),
            ))
        }
    };
    Ok(Defaults {
        deadline,
        max_requests,
    })
}

/// The `[audit]` table: its keys checked (unknown keys first, with a suggestion), then read.
/// The error is `key `…`: …`, or says the table is not one; the caller names the file.
fn audit_table(
    value: &toml::Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<AuditConfig, String> {
    let key_error = |e: KeyError| format!("key `{}`: {}", e.key, e.message);
    let Some(table) = value.as_table() else {
        return Err(format!(
            "must be a table ([audit] with max_age, keep, expect), not {}",
            value.type_str()
        ));
    };
    known_keys(table, AUDIT_KEYS, "").map_err(key_error)?;
    let policy = policy_keys(table, ["max_age", "keep", "expect"]).map_err(key_error)?;
    let ping_url = match (table.get("ping_url"), table.get("ping_url_env")) {
        (Some(_), Some(_)) => {
            let e = KeyError::new(
                "ping_url",
                "give either `ping_url` or `ping_url_env`, not both",
            );
            return Err(key_error(e));
        }
        (Some(v), None) => Some((
            Secret::new(toml_string("ping_url", v).map_err(key_error)?),
            SecretSource::Inline,
        )),
        (None, Some(v)) => {
            let var = toml_string("ping_url_env", v).map_err(key_error)?;
            let Some(url) = env(&var).filter(|v| !v.trim().is_empty()) else {
                let e = KeyError::new(
                    "ping_url_env",
                    format!("environment variable {var} is not set"),
                );
                return Err(key_error(e));
            };
            Some((Secret::new(url.trim().to_string()), SecretSource::Env(var)))
        }
        (None, None) => None,
    };
    if let Some((url, source)) = &ping_url {
        let key = match source {
            SecretSource::Env(_) => "ping_url_env",
            _ => "ping_url",
        };
        crate::monitor::ping::check(url.expose())
            .map_err(|why| key_error(KeyError::new(key, why)))?;
    }
    Ok(AuditConfig { policy, ping_url })
}

/// The audit policy keys of a table, named `[max_age, keep, expect]` (`[audit]`) or
/// `[audit_max_age, audit_keep, audit_expect]` (an account).
fn policy_keys(
    table: &toml::Table,
    [max_age, keep, expect]: [&str; 3],
) -> std::result::Result<PolicyLayer, KeyError> {
    let max_age = match table.get(max_age) {
        None => None,
        Some(value) => {
            let s = toml_string(max_age, value)?;
            Some(crate::duration::parse_positive(&s).map_err(|e| {
                KeyError::new(max_age, format!("`{}`: {e}", crate::text::quote(&s)))
            })?)
        }
    };
    let keep = match table.get(keep) {
        None => None,
        Some(value) => {
            let s = toml_string(keep, value)?;
            Some(s.parse::<Keep>().map_err(|e| KeyError::new(keep, e))?)
        }
    };
    let expect = match table.get(expect) {
        None => Vec::new(),
        Some(value) => toml_list(expect, value)?,
    };
    Ok(PolicyLayer {
        max_age,
        keep,
        expect,
    })
}

/// The `[accounts.NAME]` tables, in file order.
fn accounts(
    value: &toml::Value,
    file: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Account>> {
    let table = value.as_table().ok_or_else(|| {
        Error::config(format!(
            "{file}: `accounts` must be a table of [accounts.NAME] tables"
        ))
    })?;
    let mut accounts = Vec::new();
    for (name, value) in table {
        let t = value.as_table().ok_or_else(|| {
            Error::config(format!(
                "{file}: account `{name}`: must be a table ([accounts.{name}])"
            ))
        })?;
        let (settings, secret_sources, policy) =
            file_account(t, path.parent(), env).map_err(|e| {
                Error::config(format!(
                    "{file}: account `{name}`: key `{}`: {}",
                    e.key, e.message
                ))
            })?;
        accounts.push(Account {
            name: name.clone(),
            origin: AccountOrigin::File(path.to_path_buf()),
            audit_max_age: policy.max_age,
            audit_keep: policy.keep,
            audit_expect: policy.expect,
            secret_sources,
            settings,
        });
    }
    Ok(accounts)
}

/// What an account table sets: its settings (`allow_insecure_http` is checked by its builder),
/// where its secrets came from, and its audit policy (`audit_max_age`, `audit_keep`,
/// `audit_expect`).
type FileAccount = (Settings, SecretSources, PolicyLayer);

/// One account table: its keys checked (unknown keys first), its provider's builder fed and
/// built. The caller names the file and the account in errors.
fn file_account(
    table: &toml::Table,
    dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<FileAccount, KeyError> {
    let provider = table
        .get("provider")
        .and_then(toml::Value::as_str)
        .and_then(ProviderId::parse);
    check_keys(table, provider)?;
    let provider = match provider {
        Some(p) => p,
        None => {
            let Some(value) = table.get("provider") else {
                return Err(KeyError::new("provider", "is required"));
            };
            let name = toml_string("provider", value)?;
            let names: Vec<String> = ProviderId::ALL.map(|p| p.as_str().to_string()).into();
            let otherwise = format!(" (expected one of: {})", names.join(", "));
            let what = format!("provider `{name}`");
            return Err(KeyError::new(
                "provider",
                unknown(&what, &name, &names, &otherwise),
            ));
        }
    };
    let allow = match table.get("allow_insecure_http") {
        None => false,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            return Err(KeyError::new(
                "allow_insecure_http",
                format!("must be true or false, not {}", other.type_str()),
            ))
        }
    };
    let policy = policy_keys(table, ["audit_max_age", "audit_keep", "audit_expect"])?;
    let (settings, secret_sources) = match provider {
        ProviderId::Oracle => {
            from_table::<OracleBuilder>(table, dir, allow, env, Settings::Oracle)?
        }
        ProviderId::Zcom => from_table::<ZcomBuilder>(table, dir, allow, env, Settings::Zcom)?,
        ProviderId::Huawei => {
            from_table::<HuaweiBuilder>(table, dir, allow, env, Settings::Huawei)?
        }
        ProviderId::Cf => from_table::<CfBuilder>(table, dir, allow, env, Settings::Cf)?,
        ProviderId::Bycloud => {
            from_table::<BycloudBuilder>(table, dir, allow, env, Settings::Bycloud)?
        }
    };
    Ok((settings, secret_sources, policy))
}

/// The first key no account of this provider takes, with a suggestion when one is close.
/// Without a (valid) provider, a key is unknown when no provider takes it.
fn check_keys(
    table: &toml::Table,
    provider: Option<ProviderId>,
) -> std::result::Result<(), KeyError> {
    let all = key_names(&ProviderId::ALL);
    let own = match provider {
        Some(p) => key_names(&[p]),
        None => all.clone(),
    };
    let Some(key) = table.keys().find(|k| !own.contains(k)) else {
        return Ok(());
    };
    let otherwise = match provider {
        Some(p) if all.contains(key) => format!(" for provider `{p}`"),
        _ => String::new(),
    };
    Err(KeyError::new(key, unknown("key", key, &own, &otherwise)))
}

/// Feeds an account table's provider keys to the provider's builder through `set`, resolving
/// `<key>_env` secrets, then builds. Also returns where each secret came from.
fn from_table<B: ConfigBuilder>(
    table: &toml::Table,
    dir: Option<&Path>,
    allow_insecure_http: bool,
    env: &dyn Fn(&str) -> Option<String>,
    wrap: fn(B::Config) -> Settings,
) -> std::result::Result<(Settings, SecretSources), KeyError> {
    let mut builder = B::default()
        .with_allow_insecure_http(allow_insecure_http)
        .with_base_dir(dir);
    let mut sources = Vec::new();
    for (key, value) in table {
        if ACCOUNT_KEYS.contains(&key.as_str()) {
            continue;
        }
        let env_form = key
            .strip_suffix("_env")
            .and_then(B::key)
            .filter(|k| k.kind == Kind::Secret);
        let Some(spec) = B::key(key).or(env_form) else {
            return Err(KeyError::new(key.as_str(), "unknown key"));
        };
        let value = match spec.kind {
            Kind::Text => Value::Text(toml_string(key, value)?),
            Kind::List => Value::List(toml_list(key, value)?),
            Kind::Bool => match value {
                toml::Value::Boolean(b) => Value::Bool(*b),
                other => {
                    return Err(KeyError::new(
                        key.as_str(),
                        format!("must be true or false, not {}", other.type_str()),
                    ))
                }
            },
            Kind::Secret if env_form.is_some() => {
                if table.contains_key(spec.name) {
                    return Err(KeyError::new(
                        spec.name,
                        format!("give either `{}` or `{key}`, not both", spec.name),
                    ));
                }
                let var = toml_string(key, value)?;
                let Some(secret) = env(&var).filter(|v| !v.trim().is_empty()) else {
                    return Err(KeyError::new(
                        key,
                        format!("environment variable {var} is not set"),
                    ));
                };
                sources.push((spec.name.to_string(), SecretSource::Env(var)));
                Value::Secret(Secret::new(secret))
            }
            Kind::Secret => {
                let secret = Secret::new(toml_string(key, value)?);
                sources.push((spec.name.to_string(), SecretSource::Inline));
                Value::Secret(secret)
            }
        };
        builder.set(spec.name, value)?;
    }
    Ok((wrap(builder.build()?), sources))
}

/// A TOML string value: trimmed, not empty.
fn toml_string(key: &str, value: &toml::Value) -> std::result::Result<String, KeyError> {
    let message = match value {
        toml::Value::String(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        toml::Value::String(_) => "must not be empty".to_string(),
        other => format!("must be a string, not {}", other.type_str()),
    };
    Err(KeyError::new(key, message))
}

/// A TOML list of non-empty strings.
fn toml_list(key: &str, value: &toml::Value) -> std::result::Result<Vec<String>, KeyError> {
    let err = |message: String| KeyError::new(key, message);
    match value {
        toml::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                toml::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                _ => Err(err("must be a list of non-empty strings".into())),
            })
            .collect(),
        other => Err(err(format!(
            "must be a list of strings, not {}",
            other.type_str()
        ))),
    }
}

/// Accounts from credentials users already have (`docs/config.md#accounts-from-the-environment`),
/// one `env-<provider>` account per provider that has no account in the config: Huawei SDK
/// variables, OpenStack `OS_*` variables for Z.com, the cf CLI's `config.json`, `BYCLOUD_TOKEN`,
/// Oracle `OPC_*`. `BACKUPS_<PROVIDER>_ENDPOINT` overrides the default URL of such an account. Each
/// provider's builder declares its variables; the same builder reads the config file.
pub(crate) fn env_accounts(
    configured: &[ProviderId],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Account>> {
    let wanted = |p: ProviderId| !configured.contains(&p);
    let by_var = |var: &str| SecretSource::Env(var.to_string());
    let label = "environment";
    let mut found = Vec::new();
    if wanted(ProviderId::Huawei) {
        found.push(from_env::<HuaweiBuilder>(
            env,
            label,
            &by_var,
            Settings::Huawei,
        )?);
    }
    if wanted(ProviderId::Zcom) {
        found.push(from_env::<ZcomBuilder>(
            env,
            label,
            &by_var,
            Settings::Zcom,
        )?);
    }
    if wanted(ProviderId::Cf) {
        found.push(cf_cli_login(env)?);
    }
    if wanted(ProviderId::Bycloud) {
        found.push(from_env::<BycloudBuilder>(
            env,
            label,
            &by_var,
            Settings::Bycloud,
        )?);
    }
    if wanted(ProviderId::Oracle) {
        found.push(from_env::<OracleBuilder>(
            env,
            label,
            &by_var,
            Settings::Oracle,
        )?);
    }
    Ok(found
        .into_iter()
        .flatten()
        .map(|(settings, secret_sources)| Account {
            name: format!("env-{}", settings.provider()),
            origin: AccountOrigin::Environment,
            audit_max_age: None,
            audit_keep: None,
            audit_expect: Vec::new(),
            secret_sources,
            settings,
        })
        .collect())
}

/// Feeds a provider's builder from an environment (`label` names it in errors) and builds,
/// or `None` when the environment holds no such credentials. `source` says where a secret
/// came from, given the variable that held it.
fn from_env<B: ConfigBuilder>(
    env: &dyn Fn(&str) -> Option<String>,
    label: &str,
    source: &dyn Fn(&str) -> SecretSource,
    wrap: fn(B::Config) -> Settings,
) -> Result<Option<(Settings, SecretSources)>> {
    let err = |e: KeyError| Error::config(format!("{label}: {}: {}", e.key, e.message));
    let Some(mut builder) = B::from_env(env).map_err(err)? else {
        return Ok(None);
    };
    let values = builder.values();
    let sources = B::KEYS
        .iter()
        .filter(|k| k.kind == Kind::Secret && values.is_set(k.name))
        .map(|k| (k.name.to_string(), source(&values.name(k.name))))
        .collect();
    Ok(Some((wrap(builder.build().map_err(err)?), sources)))
}

/// The cf CLI's login (`$CF_HOME/.cf/config.json`, else `~/.cf/config.json`), read as an
/// environment for the CF builder: its target, access token and refresh token. `None` when
/// there is no such file or no login.
fn cf_cli_login(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<(Settings, SecretSources)>> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let Some(home) = get("CF_HOME").or_else(|| get("HOME")) else {
        return Ok(None);
    };
    let path = Path::new(&home).join(".cf").join("config.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::config(format!("{}: not valid JSON: {e}", path.display())))?;
    let field = |k: &str| json.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let file = SecretSource::File(path.clone());
    from_env::<CfBuilder>(
        &field,
        &path.display().to_string(),
        &|_| file.clone(),
        Settings::Cf,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::huawei::HuaweiAuth;

    fn env(var: &str) -> Option<String> {
        match var {
            "HW_AK" => Some("AKVALUE".into()),
            "HW_SK" => Some("SKVALUE".into()),
            "HC_PING" => Some("https://hc-ping.com/5e1f".into()),
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
            ("[acounts.a]\nprovider = \"cf\"", "/etc/b.toml: unknown top-level key `acounts`, did you mean `accounts`?"),
            ("[remotes.a]\nprovider = \"cf\"", "/etc/b.toml: unknown top-level key `remotes` (accounts go in [accounts.NAME] tables)"),
        ];
        for (text, want) in cases {
            let err = parse_str(text).unwrap_err();
            assert_eq!(err.to_string(), want, "{text}");
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn a_url_with_a_password_in_any_endpoint_key_is_refused_without_printing_it() {
        let accounts = [
            (
                "oracle",
                "endpoint",
                "user = \"/Compute-a/b\"\npassword = \"p\"",
            ),
            (
                "zcom",
                "identity_endpoint",
                "tenant_id = \"t\"\ntoken = \"t\"",
            ),
            (
                "zcom",
                "compute_endpoint",
                "region = \"tyo1\"\ntenant_id = \"t\"\ntoken = \"t\"",
            ),
            (
                "huawei",
                "endpoint",
                "project_id = \"0605767b5780d5762fc5c0118072a564\"\ntoken = \"t\"",
            ),
            ("huawei", "iam_endpoint", "region = \"r\"\ntoken = \"t\""),
            ("cf", "api", "token = \"t\""),
            (
                "cf",
                "uaa",
                "api = \"https://api.example.com\"\ntoken = \"t\"",
            ),
            ("bycloud", "endpoint", "token = \"t\""),
        ];
        for (provider, key, rest) in accounts {
            for (url, shown) in [
                ("https://user:S3CRET@api.example.com/x", "a user name or password in the URL (https://<redacted>@api.example.com/x) is not accepted; give credentials in their own keys"),
                ("https://:S3CRET@api.example.com", "a user name or password in the URL (https://<redacted>@api.example.com/) is not accepted; give credentials in their own keys"),
                ("https://S3CRET@api.example.com", "a user name or password in the URL (https://<redacted>@api.example.com/) is not accepted; give credentials in their own keys"),
                ("https://user:S3CRET@[::1", "not a URL (invalid IPv6 address): https://<redacted>@[::1"),
            ] {
                let text = format!(
                    "[accounts.a]\nprovider = \"{provider}\"\n{key} = \"{url}\"\n{rest}\n"
                );
                let err = parse_str(&text).unwrap_err();
                assert_eq!(
                    err.to_string(),
                    format!("/etc/b.toml: account `a`: key `{key}`: {shown}"),
                    "{text}"
                );
                assert_eq!(err.exit_code(), 2);
            }
        }
        // The same from the environment.
        let env = |k: &str| match k {
            "OPC_ENDPOINT" => Some("https://u:S3CRET@o.example.com".to_string()),
            "OPC_USER" | "OPC_PASSWORD" => Some("x".to_string()),
            _ => None,
        };
        let err = env_accounts(&[], &env).unwrap_err().to_string();
        assert!(!err.contains("S3CRET"), "{err}");
        assert!(
            err.starts_with("environment: OPC_ENDPOINT: a user name or password"),
            "{err}"
        );
    }

    #[test]
    fn a_huawei_project_id_must_be_32_hex_digits() {
        for (id, shown) in [
            ("../../../evil", "../../../evil"),
            ("x?inject=1#", "x?inject=1#"),
            (
                "0605767b5780d5762fc5c0118072a56",
                "0605767b5780d5762fc5c0118072a56",
            ),
            (
                "0605767b5780d5762fc5c0118072a56g",
                "0605767b5780d5762fc5c0118072a56g",
            ),
            ("a\\u001b[2Kb", "a\\x1b[2Kb"),
        ] {
            let text = format!(
                "[accounts.a]\nprovider = \"huawei\"\nregion = \"r\"\nproject_id = \"{id}\"\ntoken = \"t\"\n"
            );
            let err = parse_str(&text).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("/etc/b.toml: account `a`: key `project_id`: `{shown}` is not a project id (32 hex digits)"),
                "{text}"
            );
        }
        let long = "f".repeat(100);
        let text = format!("[accounts.a]\nprovider = \"huawei\"\nregion = \"r\"\nproject_id = \"{long}\"\ntoken = \"t\"\n");
        let err = parse_str(&text).unwrap_err().to_string();
        // At most 64 characters shown, the ellipsis one of them.
        assert!(
            err.ends_with(&format!(
                "`{}…` is not a project id (32 hex digits)",
                "f".repeat(63)
            )),
            "{err}"
        );
        let ok = "[accounts.a]\nprovider = \"huawei\"\nregion = \"r\"\nproject_id = \"0605767B5780D5762FC5C0118072A564\"\ntoken = \"t\"\n";
        assert!(parse_str(ok).is_ok());
    }

    #[test]
    fn a_region_must_not_make_another_host() {
        for region in ["x@evil.example/", "evil.example/#", "a b", "r?x=1"] {
            let text = format!(
                "[accounts.a]\nprovider = \"bycloud\"\nregion = \"{region}\"\ntoken = \"t\"\n"
            );
            let err = parse_str(&text).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("/etc/b.toml: account `a`: key `region`: region `{region}` does not make a valid URL")
            );
        }
    }

    #[test]
    fn an_audit_max_age_beyond_100_years_or_zero_is_a_config_error() {
        let text = |age: &str| {
            format!("[accounts.a]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\naudit_max_age = \"{age}\"\n")
        };
        let cases = [
            (
                "15000000w",
                "`15000000w`: longer than 100 years (the most a duration may be)",
            ),
            (
                "99999999999999999999d",
                "`99999999999999999999d`: longer than 100 years (the most a duration may be)",
            ),
            ("0h", "`0h`: must be longer than zero"),
            ("soon", "`soon`: not a duration like 26h or 8d"),
        ];
        for (age, want) in cases {
            let err = parse_str(&text(age)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("/etc/b.toml: account `a`: key `audit_max_age`: {want}")
            );
        }
        let just_over = parse_str(&text("5218w")).unwrap_err().to_string();
        assert!(just_over.contains("longer than 100 years"), "{just_over}");
        let cfg = parse_str(&text("36525d")).unwrap();
        assert_eq!(cfg.accounts[0].audit_max_age, Some(crate::duration::MAX));
    }

    #[test]
    fn run_defaults_are_read_and_checked() {
        let cfg = parse_str("[defaults]\ndeadline = \"15m\"\nmax_requests = 32\n").unwrap();
        assert_eq!(
            cfg.defaults,
            Defaults {
                deadline: Some(chrono::Duration::minutes(15)),
                max_requests: Some(32),
            }
        );
        assert_eq!(parse_str("").unwrap().defaults, Defaults::default());
        let cases = [
            ("[defaults]\ndeadline = \"15000000w\"", "[defaults]: key `deadline`: `15000000w`: longer than 100 years (the most a duration may be)"),
            ("[defaults]\ndeadline = \"0s\"", "[defaults]: key `deadline`: `0s`: must be longer than zero"),
            ("[defaults]\ndeadline = 10", "[defaults]: key `deadline`: must be a string, not integer"),
            ("[defaults]\nmax_requests = 0", "[defaults]: key `max_requests`: 0 is not between 1 and 1024"),
            ("[defaults]\nmax_requests = \"8\"", "[defaults]: key `max_requests`: must be a number, not string"),
            ("[defaults]\ndeadlin = \"1m\"", "[defaults]: key `deadlin`: unknown key, did you mean `deadline`?"),
            ("[defaults]\ncolour = 1", "[defaults]: key `colour`: unknown key (expected one of: deadline, max_requests)"),
            ("defaults = 3", "[defaults]: key `defaults`: must be a table ([defaults])"),
        ];
        for (text, want) in cases {
            let err = parse_str(text).unwrap_err();
            assert_eq!(err.to_string(), format!("/etc/b.toml: {want}"), "{text}");
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn the_audit_table_and_account_policy_keys_are_read() {
        let cfg = parse_str(
            "[audit]\nmax_age = \"2d\"\nkeep = \"daily=7,weekly=4\"\nexpect = [\"vol1\", \"hw:db\"]\n\
             ping_url_env = \"HC_PING\"\n\
             [accounts.a]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\n\
             audit_max_age = \"8d\"\naudit_keep = \"monthly=6\"\naudit_expect = [\" web \"]\n\
             [accounts.b]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"",
        )
        .unwrap();
        let audit = &cfg.audit;
        assert_eq!(audit.policy.max_age, Some(chrono::Duration::days(2)));
        assert_eq!(audit.policy.keep.unwrap().to_string(), "daily=7,weekly=4");
        assert_eq!(audit.policy.expect, ["vol1", "hw:db"]);
        let (url, source) = audit.ping_url.as_ref().unwrap();
        assert_eq!(url.expose(), "https://hc-ping.com/5e1f");
        assert_eq!(*source, SecretSource::Env("HC_PING".into()));
        let (a, b) = (&cfg.accounts[0], &cfg.accounts[1]);
        assert_eq!(a.audit_max_age, Some(chrono::Duration::days(8)));
        assert_eq!(a.audit_keep.unwrap().to_string(), "monthly=6");
        assert_eq!(a.audit_expect, ["web"]);
        assert_eq!((b.audit_max_age, b.audit_keep), (None, None));
        assert!(b.audit_expect.is_empty());
        // No [audit] table: nothing set.
        let none = parse_str("").unwrap().audit;
        assert_eq!(none.policy, PolicyLayer::default());
        assert!(none.ping_url.is_none());
    }

    #[test]
    fn audit_policy_errors_name_the_table_or_account_and_the_key() {
        let account = "[accounts.a]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\n";
        let cases = [
            (
                "[audit]\nmaxage = \"2d\"",
                "[audit]: key `maxage`: unknown key, did you mean `max_age`?",
            ),
            (
                "[audit]\nexpects = []",
                "[audit]: key `expects`: unknown key, did you mean `expect`?",
            ),
            (
                "[audit]\nretention = 1",
                "[audit]: key `retention`: unknown key",
            ),
            (
                "audit = 5",
                "[audit]: must be a table ([audit] with max_age, keep, expect), not integer",
            ),
            (
                "[audit]\nkeep = \"daily=7,hourly=2\"",
                "[audit]: key `keep`: `hourly`: unknown rule (expected daily, weekly or monthly)",
            ),
            (
                "[audit]\nkeep = 7",
                "[audit]: key `keep`: must be a string, not integer",
            ),
            (
                "[audit]\nmax_age = \"0h\"",
                "[audit]: key `max_age`: `0h`: must be longer than zero",
            ),
            (
                "[audit]\nmax_age = \"soon\"",
                "[audit]: key `max_age`: `soon`: not a duration like 26h or 8d",
            ),
            (
                "[audit]\nexpect = \"vol1\"",
                "[audit]: key `expect`: must be a list of strings, not string",
            ),
            (
                "[audit]\nexpect = [\"\"]",
                "[audit]: key `expect`: must be a list of non-empty strings",
            ),
            (
                "[audit]\nping_url_env = \"NOPE\"",
                "[audit]: key `ping_url_env`: environment variable NOPE is not set",
            ),
            (
                "[audit]\nping_url = \"https://hc.example/x\"\nping_url_env = \"HW_SK\"",
                "[audit]: key `ping_url`: give either `ping_url` or `ping_url_env`, not both",
            ),
            (
                "[audit]\nping_url = \"http://hc.example/x\"",
                "[audit]: key `ping_url`: plain http is refused for the ping URL (it is a secret); use https, or http to a loopback host",
            ),
            (
                "[audit]\nping_url_env = \"HW_SK\"",
                "[audit]: key `ping_url_env`: not an absolute URL",
            ),
            (
                "[audti]\nkeep = \"daily=1\"",
                "unknown top-level key `audti`, did you mean `audit`?",
            ),
        ];
        for (text, want) in cases {
            let err = parse_str(&format!("{text}\n{account}")).unwrap_err();
            assert_eq!(err.to_string(), format!("/etc/b.toml: {want}"), "{text}");
            assert_eq!(err.exit_code(), 2);
        }
        for (key, want) in [
            (
                "audit_keep = \"daily=0\"",
                "key `audit_keep`: `daily=0`: the count must be a whole number from 1 to 10000",
            ),
            (
                "audit_expect = [1]",
                "key `audit_expect`: must be a list of non-empty strings",
            ),
            (
                "audit_kep = \"daily=1\"",
                "key `audit_kep`: unknown key, did you mean `audit_keep`?",
            ),
            (
                "audit_max_age = \"0s\"",
                "key `audit_max_age`: `0s`: must be longer than zero",
            ),
        ] {
            let err = parse_str(&format!("{account}{key}")).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("/etc/b.toml: account `a`: {want}"),
                "{key}"
            );
        }
    }

    #[test]
    fn the_inventory_table_is_read_with_paths_from_the_config_folder() {
        assert_eq!(parse_str("").unwrap().inventory, InventoryConfig::default());
        let cfg = parse_str("[inventory]\nrecord = true\npath = \"data/inv.db\"\nkeep = \"30d\"")
            .unwrap();
        assert_eq!(
            cfg.inventory,
            InventoryConfig {
                record: true,
                path: Some(PathBuf::from("/etc/data/inv.db")),
                keep: Some(chrono::Duration::days(30)),
            }
        );
        let abs = parse_str("[inventory]\npath = \"/var/lib/backups/inv.db\"").unwrap();
        assert_eq!(
            abs.inventory.path,
            Some(PathBuf::from("/var/lib/backups/inv.db"))
        );
        let home = |k: &str| (k == "HOME").then(|| "/home/op".to_string());
        let tilde = parse(
            "[inventory]\npath = \"~/inv.db\"",
            Path::new("/etc/b.toml"),
            &home,
        )
        .unwrap();
        assert_eq!(tilde.inventory.path, Some(PathBuf::from("/home/op/inv.db")));
    }

    #[test]
    fn inventory_errors_name_the_table_and_the_key() {
        for (text, want) in [
            (
                "[inventory]\nrecrod = true",
                "[inventory]: key `recrod`: unknown key, did you mean `record`?",
            ),
            (
                "[inventory]\nretention = \"3d\"",
                "[inventory]: key `retention`: unknown key",
            ),
            (
                "[inventory]\nrecord = \"yes\"",
                "[inventory]: key `record`: must be true or false, not string",
            ),
            (
                "[inventory]\nkeep = \"forever\"",
                "[inventory]: key `keep`: `forever`: not a duration like 26h or 8d",
            ),
            (
                "[inventory]\nkeep = \"0d\"",
                "[inventory]: key `keep`: `0d`: must be longer than zero",
            ),
            (
                "[inventory]\npath = \"\"",
                "[inventory]: key `path`: must not be empty",
            ),
            (
                "[inventory]\npath = \"~/inv.db\"",
                "[inventory]: key `path`: `~/inv.db` starts with ~/ but $HOME is not set",
            ),
            (
                "inventory = true",
                "[inventory]: must be a table ([inventory] with record, path, keep), not boolean",
            ),
            (
                "[inventroy]\nrecord = true",
                "unknown top-level key `inventroy`, did you mean `inventory`?",
            ),
        ] {
            let err = parse_str(text).unwrap_err();
            assert_eq!(err.to_string(), format!("/etc/b.toml: {want}"), "{text}");
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn the_inventory_table_alone_ignores_the_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[inventory]\npath = \"i.db\"\n[accounts.a]\nprovider = \"bycloud\"\ntoken_env = \"UNSET\"",
        )
        .unwrap();
        let inv = load_inventory(&path, true, &env).unwrap();
        assert_eq!(inv.path, Some(dir.path().join("i.db")));
        assert!(load(&path, true, &env).is_err(), "the account needs UNSET");
        let missing = dir.path().join("none.toml");
        assert_eq!(
            load_inventory(&missing, false, &env).unwrap(),
            InventoryConfig::default()
        );
        assert!(load_inventory(&missing, true, &env).is_err());
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

#[cfg(test)]
mod env_tests {
    use super::*;
    use crate::providers::cf::CfAuth;

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
            (
                "HUAWEICLOUD_SDK_PROJECT_ID",
                "0123456789abcdef0123456789abcdef",
            ),
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
            "environment: HUAWEICLOUD_SDK_PROJECT_ID: is required unless HUAWEICLOUD_SDK_REGION is set (the project is then looked up by region name)"
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
        // The cf CLI's UAA is pinned: its tokens are refreshed there, as the cf CLI does.
        assert_eq!(
            cf.uaa.as_ref().map(reqwest::Url::as_str),
            Some("https://uaa.example.com/")
        );
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
                    "audit_keep",
                    "audit_expect",
                    "max_age",
                    "keep",
                    "expect",
                    "ping_url",
                    "ping_url_env",
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
                        "\"daily=7,weekly=4\"",
                        "\"monthly=0\"",
                        "[\"vol1\"]",
                        "\"UNSET_VAR\"",
                    ][..]
                )
                .prop_map(str::to_string),
                any::<String>().prop_map(|s| format!("{s:?}")),
            ];
            // Account tables, and now and then an `[audit]` table.
            let header = prop_oneof![
                4 => "[a-z0-9-]{1,10}".prop_map(|n| format!("[accounts.{n}]")),
                1 => Just("[audit]".to_string()),
            ];
            let table =
                (header, prop::collection::vec((key, value), 0..10)).prop_map(|(header, kv)| {
                    let mut t = format!("{header}\n");
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

/// Both sources, one builder: each provider described by a config account and by the
/// equivalent environment gives the same settings.
#[cfg(test)]
mod source_tests {
    use super::*;
    use crate::providers::bycloud::BycloudAuth;
    use crate::providers::cf::CfAuth;
    use crate::providers::huawei::HuaweiAuth;
    use crate::providers::zcom::ZcomAuth;

    /// The settings in one line: endpoints, region, ids, the auth variant and the exposed
    /// secret values.
    fn view(s: &Settings) -> String {
        let opt = |s: &Option<Secret>| s.as_ref().map_or("-", Secret::expose).to_string();
        match s {
            Settings::Oracle(c) => format!(
                "oracle endpoint={} user={} password={}",
                c.endpoint,
                c.user,
                c.password.expose()
            ),
            Settings::Zcom(c) => format!(
                "zcom region={} identity={} compute={} tenant={} auth={}",
                c.region.as_deref().unwrap_or("-"),
                c.identity_endpoint,
                c.compute_endpoint.as_ref().map_or("-", |u| u.as_str()),
                c.tenant_id,
                match &c.auth {
                    ZcomAuth::Password { username, password } =>
                        format!("password:{username}:{}", password.expose()),
                    ZcomAuth::Token(t) => format!("token:{}", t.expose()),
                }
            ),
            Settings::Huawei(c) => format!(
                "huawei region={} endpoint={} iam={} project={} auth={}",
                c.region.as_deref().unwrap_or("-"),
                c.endpoint,
                c.iam_endpoint,
                c.project_id.as_deref().unwrap_or("-"),
                match &c.auth {
                    HuaweiAuth::AkSk {
                        access_key,
                        secret_key,
                        security_token,
                    } => format!(
                        "aksk:{}:{}:{}",
                        access_key.expose(),
                        secret_key.expose(),
                        opt(security_token)
                    ),
                    HuaweiAuth::Token(t) => format!("token:{}", t.expose()),
                    HuaweiAuth::Password {
                        user,
                        password,
                        domain,
                    } => format!("password:{user}:{}:{domain}", password.expose()),
                }
            ),
            Settings::Cf(c) => format!(
                "cf api={} instances={:?} auth={}",
                c.api,
                c.service_instances,
                match &c.auth {
                    CfAuth::Password { username, password } =>
                        format!("password:{username}:{}", password.expose()),
                    CfAuth::ClientCredentials {
                        client_id,
                        client_secret,
                    } => format!("client:{client_id}:{}", client_secret.expose()),
                    CfAuth::Token {
                        access_token,
                        refresh_token,
                    } => format!("token:{}:{}", access_token.expose(), opt(refresh_token)),
                }
            ),
            Settings::Bycloud(c) => format!(
                "bycloud region={} endpoint={} auth={}",
                c.region.as_deref().unwrap_or("-"),
                c.endpoint,
                match &c.auth {
                    BycloudAuth::Bearer(t) => format!("bearer:{}", t.expose()),
                    BycloudAuth::ApiKey { id, secret } =>
                        format!("apikey:{id}:{}", secret.expose()),
                }
            ),
        }
    }

    /// The one account a config text describes.
    fn from_file(toml: &str) -> Account {
        let cfg = parse(toml, Path::new("c.toml"), &|_| None).unwrap();
        assert_eq!(cfg.accounts.len(), 1, "{toml}");
        cfg.accounts.into_iter().next().unwrap()
    }

    /// The one account an environment describes (`HOME` set to `home`, if given, for the cf
    /// CLI's file).
    fn from_environment(vars: &[(&str, &str)], home: Option<&Path>) -> Account {
        let env = |k: &str| {
            if k == "HOME" {
                return home.map(|h| h.to_str().unwrap().to_string());
            }
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let mut accounts = env_accounts(&[], &env).unwrap();
        assert_eq!(accounts.len(), 1, "{vars:?}");
        accounts.pop().unwrap()
    }

    /// Secret keys an account has, without where they came from (that differs by source).
    fn secret_keys(a: &Account) -> Vec<&str> {
        a.secret_sources.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Asserts both sources give `want`, and the same secret keys.
    fn same(toml: &str, vars: &[(&str, &str)], want: &str) {
        let file = from_file(toml);
        let env = from_environment(vars, None);
        assert_eq!(view(&file.settings), want, "file: {toml}");
        assert_eq!(view(&env.settings), want, "environment: {vars:?}");
        assert_eq!(secret_keys(&file), secret_keys(&env), "{toml}");
        assert_eq!(file.endpoint(), env.endpoint());
    }

    #[test]
    fn huawei_reads_the_same_from_both_sources() {
        same(
            "[accounts.a]\nprovider = \"huawei\"\nregion = \"ap-southeast-1\"\nproject_id = \"0123456789abcdef0123456789abcdef\"\n\
             access_key = \"AK\"\nsecret_key = \"SK\"\nsecurity_token = \"ST\"",
            &[
                ("HUAWEICLOUD_SDK_AK", "AK"),
                ("HUAWEICLOUD_SDK_SK", "SK"),
                ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "ST"),
                ("HUAWEICLOUD_SDK_PROJECT_ID", "0123456789abcdef0123456789abcdef"),
                ("HUAWEICLOUD_SDK_REGION", "ap-southeast-1"),
            ],
            "huawei region=ap-southeast-1 endpoint=https://cbr.ap-southeast-1.myhuaweicloud.com/ \
             iam=https://iam.ap-southeast-1.myhuaweicloud.com/ project=0123456789abcdef0123456789abcdef auth=aksk:AK:SK:ST",
        );
        // Without a region: the endpoint given, the global IAM endpoint (the environment used
        // to take the CBR endpoint for IAM).
        same(
            "[accounts.a]\nprovider = \"huawei\"\nendpoint = \"https://cbr.example.com\"\n\
             project_id = \"0123456789abcdef0123456789abcdef\"\naccess_key = \"AK\"\nsecret_key = \"SK\"",
            &[
                ("HUAWEICLOUD_SDK_AK", "AK"),
                ("HUAWEICLOUD_SDK_SK", "SK"),
                ("HUAWEICLOUD_SDK_PROJECT_ID", "0123456789abcdef0123456789abcdef"),
                ("BACKUPS_HUAWEI_ENDPOINT", "https://cbr.example.com"),
            ],
            "huawei region=- endpoint=https://cbr.example.com/ iam=https://iam.myhuaweicloud.com/ \
             project=0123456789abcdef0123456789abcdef auth=aksk:AK:SK:-",
        );
        // An IAM endpoint given wins over the region's.
        same(
            "[accounts.a]\nprovider = \"huawei\"\nregion = \"r1\"\n\
             iam_endpoint = \"https://iam.example.com\"\naccess_key = \"AK\"\nsecret_key = \"SK\"",
            &[
                ("HUAWEICLOUD_SDK_AK", "AK"),
                ("HUAWEICLOUD_SDK_SK", "SK"),
                ("HUAWEICLOUD_SDK_REGION", "r1"),
                ("HUAWEICLOUD_SDK_IAM_ENDPOINT", "https://iam.example.com"),
            ],
            "huawei region=r1 endpoint=https://cbr.r1.myhuaweicloud.com/ \
             iam=https://iam.example.com/ project=- auth=aksk:AK:SK:-",
        );
    }

    #[test]
    fn zcom_reads_the_same_from_both_sources() {
        // The compute endpoint comes from the region in both (the environment used to ignore
        // OS_REGION_NAME for it and wait for the token's catalog).
        same(
            "[accounts.a]\nprovider = \"zcom\"\nregion = \"tyo1\"\n\
             identity_endpoint = \"https://identity.tyo1.cloud.z.com/v2.0\"\n\
             tenant_id = \"t1\"\nusername = \"u\"\npassword = \"pw\"",
            &[
                ("OS_AUTH_URL", "https://identity.tyo1.cloud.z.com/v2.0"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "pw"),
                ("OS_TENANT_ID", "t1"),
                ("OS_REGION_NAME", "tyo1"),
            ],
            "zcom region=tyo1 identity=https://identity.tyo1.cloud.z.com/v2.0 \
             compute=https://compute.tyo1.cloud.z.com/v2 tenant=t1 auth=password:u:pw",
        );
        // No region: the compute endpoint given, or none (the token's catalog gives it);
        // OS_PROJECT_ID stands for OS_TENANT_ID.
        same(
            "[accounts.a]\nprovider = \"zcom\"\nidentity_endpoint = \"https://id.example.com/v2.0\"\n\
             compute_endpoint = \"https://compute.example.com/v2\"\ntenant_id = \"t1\"\n\
             username = \"u\"\npassword = \"pw\"",
            &[
                ("OS_AUTH_URL", "https://id.example.com/v2.0"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "pw"),
                ("OS_PROJECT_ID", "t1"),
                ("BACKUPS_ZCOM_ENDPOINT", "https://compute.example.com/v2"),
            ],
            "zcom region=- identity=https://id.example.com/v2.0 \
             compute=https://compute.example.com/v2 tenant=t1 auth=password:u:pw",
        );
        same(
            "[accounts.a]\nprovider = \"zcom\"\nidentity_endpoint = \"https://id.example.com/v2.0\"\n\
             tenant_id = \"t1\"\nusername = \"u\"\npassword = \"pw\"",
            &[
                ("OS_AUTH_URL", "https://id.example.com/v2.0"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "pw"),
                ("OS_TENANT_ID", "t1"),
                ("OS_PROJECT_ID", "ignored: OS_TENANT_ID comes first"),
            ],
            "zcom region=- identity=https://id.example.com/v2.0 compute=- tenant=t1 auth=password:u:pw",
        );
    }

    #[test]
    fn bycloud_and_oracle_read_the_same_from_both_sources() {
        same(
            "[accounts.a]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"tok\"",
            &[("BYCLOUD_TOKEN", "tok"), ("BYCLOUD_REGION", "spo1")],
            "bycloud region=spo1 endpoint=https://api.spo1.mycloud.com/ auth=bearer:tok",
        );
        same(
            "[accounts.a]\nprovider = \"bycloud\"\nendpoint = \"http://127.0.0.1:9\"\ntoken = \"tok\"",
            &[
                ("BYCLOUD_TOKEN", "tok"),
                ("BACKUPS_BYCLOUD_ENDPOINT", "http://127.0.0.1:9"),
            ],
            "bycloud region=- endpoint=http://127.0.0.1:9/ auth=bearer:tok",
        );
        same(
            "[accounts.a]\nprovider = \"oracle\"\nendpoint = \"https://api-z9.compute.us0.oraclecloud.com\"\n\
             user = \"/Compute-acme/jack\"\npassword = \"pw\"",
            &[
                ("OPC_ENDPOINT", "https://api-z9.compute.us0.oraclecloud.com"),
                ("OPC_USER", "/Compute-acme/jack"),
                ("OPC_PASSWORD", "pw"),
            ],
            "oracle endpoint=https://api-z9.compute.us0.oraclecloud.com/ user=/Compute-acme/jack password=pw",
        );
        // BACKUPS_ORACLE_ENDPOINT overrides OPC_ENDPOINT.
        same(
            "[accounts.a]\nprovider = \"oracle\"\nendpoint = \"http://127.0.0.1:7\"\n\
             user = \"/Compute-acme/jack\"\npassword = \"pw\"",
            &[
                ("OPC_ENDPOINT", "https://api-z9.compute.us0.oraclecloud.com"),
                ("BACKUPS_ORACLE_ENDPOINT", "http://127.0.0.1:7"),
                ("OPC_USER", "/Compute-acme/jack"),
                ("OPC_PASSWORD", "pw"),
            ],
            "oracle endpoint=http://127.0.0.1:7/ user=/Compute-acme/jack password=pw",
        );
    }

    #[test]
    fn cf_reads_the_same_from_the_file_and_the_cf_cli_login() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".cf")).unwrap();
        std::fs::write(
            home.path().join(".cf/config.json"),
            r#"{"Target":"https://api.example.com","AccessToken":"bearer abc","RefreshToken":"r1"}"#,
        )
        .unwrap();
        let env = from_environment(&[], Some(home.path()));
        // A token pasted as the cf CLI prints it (`bearer …`) is the same token in the file
        // (the prefix used to be dropped only for the cf CLI's file).
        let file = from_file(
            "[accounts.a]\nprovider = \"cf\"\napi = \"https://api.example.com\"\n\
             token = \"bearer abc\"\nrefresh_token = \"r1\"",
        );
        let want = "cf api=https://api.example.com/ instances=[] auth=token:abc:r1";
        assert_eq!(view(&file.settings), want);
        assert_eq!(view(&env.settings), want);
        assert_eq!(secret_keys(&file), ["token", "refresh_token"]);
        assert_eq!(secret_keys(&env), ["token", "refresh_token"]);
    }

    #[test]
    fn environment_values_are_trimmed_as_file_values_are() {
        // The file always trimmed; the environment used not to.
        same(
            "[accounts.a]\nprovider = \"bycloud\"\nregion = \" spo1 \"\ntoken = \" tok \"",
            &[("BYCLOUD_TOKEN", " tok\n"), ("BYCLOUD_REGION", "spo1 ")],
            "bycloud region=spo1 endpoint=https://api.spo1.mycloud.com/ auth=bearer:tok",
        );
    }

    #[test]
    fn environment_secret_sources_name_every_variable() {
        // The security token used to be left out of the environment account's secrets.
        let a = from_environment(
            &[
                ("HUAWEICLOUD_SDK_AK", "AK"),
                ("HUAWEICLOUD_SDK_SK", "SK"),
                ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "ST"),
                ("HUAWEICLOUD_SDK_REGION", "r1"),
            ],
            None,
        );
        let env = |v: &str| SecretSource::Env(v.to_string());
        assert_eq!(
            a.secret_sources,
            [
                ("access_key".to_string(), env("HUAWEICLOUD_SDK_AK")),
                ("secret_key".to_string(), env("HUAWEICLOUD_SDK_SK")),
                (
                    "security_token".to_string(),
                    env("HUAWEICLOUD_SDK_SECURITY_TOKEN")
                ),
            ]
        );
        assert_eq!(a.name, "env-huawei");
        assert_eq!(a.origin, AccountOrigin::Environment);
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let err = |vars: &[(&str, &str)]| {
            let env = |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            };
            let e = env_accounts(&[], &env).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            e.to_string()
        };
        assert_eq!(
            err(&[
                ("OS_AUTH_URL", "https://id.example.com"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "p")
            ]),
            "environment: OS_TENANT_ID or OS_PROJECT_ID: is required"
        );
        assert_eq!(
            err(&[("BYCLOUD_TOKEN", "t")]),
            "environment: BYCLOUD_REGION: is required unless BACKUPS_BYCLOUD_ENDPOINT is set"
        );
        assert_eq!(
            err(&[
                ("OPC_ENDPOINT", "ftp://x"),
                ("OPC_USER", "u"),
                ("OPC_PASSWORD", "p")
            ]),
            "environment: OPC_ENDPOINT: unsupported URL scheme `ftp` (use https)"
        );
        assert_eq!(
            err(&[("BYCLOUD_TOKEN", "t"), ("BYCLOUD_REGION", "a b")]),
            "environment: BYCLOUD_REGION: region `a b` does not make a valid URL"
        );
    }

    #[test]
    fn a_misspelt_key_is_unknown_with_a_suggestion_before_anything_missing() {
        let cases = [
            // `region` is missing too: the misspelling is the error worth reporting.
            ("provider = \"bycloud\"\nregoin = \"spo1\"\ntoken = \"t\"", "key `regoin`: unknown key, did you mean `region`?"),
            ("provider = \"oracle\"\nendpoint = \"https://o.example.com\"\nuser = \"u\"\npasword_env = \"P\"", "key `pasword_env`: unknown key, did you mean `password_env`?"),
            ("provider = \"huawei\"\nregion = \"r\"\naccess_key = \"a\"\nsecret_kye = \"s\"", "key `secret_kye`: unknown key, did you mean `secret_key`?"),
            ("provider = \"cf\"\napi = \"https://api.example.com\"\ntoken = \"t\"\nservice_instance = []", "key `service_instance`: unknown key, did you mean `service_instances`?"),
            ("provider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\naudit_maxage = \"8d\"", "key `audit_maxage`: unknown key, did you mean `audit_max_age`?"),
            // Without a provider, keys are checked against every provider's.
            ("provdier = \"huawei\"\nregion = \"r\"", "key `provdier`: unknown key, did you mean `provider`?"),
            // A key of another provider says so.
            ("provider = \"huawei\"\nregion = \"r\"\ntoken = \"t\"\ntenant_id = \"x\"", "key `tenant_id`: unknown key for provider `huawei`"),
            ("provider = \"huwaei\"", "key `provider`: unknown provider `huwaei`, did you mean `huawei`?"),
        ];
        for (body, want) in cases {
            let text = format!("[accounts.a]\n{body}\n");
            let err = parse(&text, Path::new("/etc/b.toml"), &|_| None).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("/etc/b.toml: account `a`: {want}"),
                "{text}"
            );
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn a_misspelt_key_anywhere_in_the_file_comes_before_a_missing_one() {
        // Account `a` lacks `region` and `endpoint`; the misspelling elsewhere is reported.
        let missing =
            "[accounts.a]\nprovider = \"huawei\"\naccess_key = \"a\"\nsecret_key = \"s\"\n";
        let cases = [
            (format!("{missing}[accounts.b]\nprovider = \"bycloud\"\nregoin = \"spo1\"\n"), "account `b`: key `regoin`: unknown key, did you mean `region`?"),
            (format!("[defaults]\nmax_requets = 3\n{missing}"), "[defaults]: key `max_requets`: unknown key, did you mean `max_requests`?"),
            (format!("{missing}[defaults]\nmax_requets = 3\n"), "[defaults]: key `max_requets`: unknown key, did you mean `max_requests`?"),
            (format!("{missing}[audit]\nmaxage = \"1d\"\n"), "[audit]: key `maxage`: unknown key, did you mean `max_age`?"),
            (format!("{missing}[inventory]\nrecrod = true\n"), "[inventory]: key `recrod`: unknown key, did you mean `record`?"),
            // In file order: the first unknown key of the file.
            (format!("[audit]\nmaxage = \"1d\"\n{missing}[accounts.b]\nprovider = \"bycloud\"\nregoin = \"spo1\"\n"), "[audit]: key `maxage`: unknown key, did you mean `max_age`?"),
            // Without a misspelling, the missing key is the error.
            (missing.to_string(), "account `a`: key `region`: is required unless endpoint is set"),
        ];
        for (text, want) in cases {
            let err = parse(&text, Path::new("/etc/b.toml"), &|_| None).unwrap_err();
            assert_eq!(err.to_string(), format!("/etc/b.toml: {want}"), "{text}");
            assert_eq!(err.exit_code(), 2);
        }
    }

    /// Every variable a builder maps names one of its keys, and the variables that make an
    /// account are among them.
    fn env_maps_declared_keys<B: ConfigBuilder>() {
        for (var, key) in B::ENV {
            assert!(B::key(key).is_some(), "{var} -> {key}");
        }
        for var in B::ENV_REQUIRED {
            assert!(B::ENV.iter().any(|(v, _)| v == var), "{var}");
        }
    }

    #[test]
    fn environment_mappings_name_declared_keys() {
        env_maps_declared_keys::<OracleBuilder>();
        env_maps_declared_keys::<ZcomBuilder>();
        env_maps_declared_keys::<HuaweiBuilder>();
        env_maps_declared_keys::<CfBuilder>();
        env_maps_declared_keys::<BycloudBuilder>();
        assert!(is_secret_key("api_key_secret") && !is_secret_key("api_key_id"));
    }
}
