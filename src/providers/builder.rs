//! What every provider's config builder shares, after object_store's `AmazonS3Builder`
//! (`with_config(key, value)`, `from_env`, `build`): a builder declares its keys and how
//! environment variables map onto them; both the config file and the environment feed it
//! through the same [`ConfigBuilder::set`], and [`ConfigBuilder::build`] validates once and
//! applies the defaults once. So an account reads the same whichever source describes it.
//!
//! Errors name a key the way its source does (`region` in the file, `HUAWEICLOUD_SDK_REGION`
//! in the environment, `Target` in the cf CLI's file); the caller adds the file and account.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Url;

use crate::http::{CaBundle, Transport};
use crate::secret::Secret;

/// How a key's value is written in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string: names, ids, regions, URLs.
    Text,
    /// A secret string: inline as `key`, or as `key_env` naming an environment variable.
    Secret,
    /// A list of strings.
    List,
    /// `true` or `false` (from the environment: `true`, `false`, `1`, `0`).
    Bool,
}

/// A key a builder accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    /// The key as written in the config file.
    pub(crate) name: &'static str,
    /// How its value is written.
    pub(crate) kind: Kind,
}

/// Declares a string key.
pub(crate) const fn text(name: &'static str) -> Key {
    Key {
        name,
        kind: Kind::Text,
    }
}

/// Declares a secret key (also accepted as `<name>_env` in the file).
pub(crate) const fn secret(name: &'static str) -> Key {
    Key {
        name,
        kind: Kind::Secret,
    }
}

/// Declares a list-of-strings key.
pub(crate) const fn list(name: &'static str) -> Key {
    Key {
        name,
        kind: Kind::List,
    }
}

/// Declares a `true`/`false` key.
pub(crate) const fn flag(name: &'static str) -> Key {
    Key {
        name,
        kind: Kind::Bool,
    }
}

/// The keys of how an account connects, which every builder lists in its `KEYS`: `ca_file`
/// (a PEM bundle trusted besides the native roots; a relative path is taken from the config
/// file's directory) and `http_proxy` (plain-http requests to non-loopback hosts may go
/// through `HTTP_PROXY`). [`Values::transport`] reads them.
pub(crate) const CA_FILE: Key = text("ca_file");
/// See [`CA_FILE`].
pub(crate) const HTTP_PROXY: Key = flag("http_proxy");

/// A value for a key, as a source gives it. Secret keys take either variant (the environment
/// gives text); a secret's text is wrapped on arrival so it never prints.
pub(crate) enum Value {
    /// A string.
    Text(String),
    /// A secret string.
    Secret(Secret),
    /// A list of strings.
    List(Vec<String>),
    /// A boolean.
    Bool(bool),
}

/// A problem with one key, named as its source names it; the caller says which file or
/// environment and which account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyError {
    /// The key (`region`), variable (`HUAWEICLOUD_SDK_REGION`) or field (`Target`).
    pub(crate) key: String,
    /// What is wrong, e.g. `is required unless endpoint is set`.
    pub(crate) message: String,
}

impl KeyError {
    /// An error on a key named as given.
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> KeyError {
        KeyError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The values fed to a builder so far, and the names their source gives the keys.
#[derive(Default)]
pub(crate) struct Values {
    values: BTreeMap<&'static str, Value>,
    /// For keys fed from an environment: the variable that gave each.
    names: BTreeMap<&'static str, String>,
    /// Set when fed from an environment: names keys in messages by their variables.
    env: &'static [(&'static str, &'static str)],
    allow_insecure_http: bool,
    /// Where relative paths (`ca_file`) start: the config file's directory.
    base_dir: Option<PathBuf>,
}

impl Values {
    /// Stores a value for a declared key: trimmed, never empty, of the declared kind.
    fn insert(&mut self, key: Key, value: Value) -> Result<(), KeyError> {
        let value = match (key.kind, value) {
            (Kind::Text, Value::Text(s)) => Value::Text(self.non_empty(key.name, &s)?),
            (Kind::Secret, Value::Text(s)) => {
                Value::Secret(Secret::new(self.non_empty(key.name, &s)?))
            }
            (Kind::Secret, Value::Secret(s)) => {
                Value::Secret(Secret::new(self.non_empty(key.name, s.expose())?))
            }
            (Kind::List, Value::List(items)) => Value::List(
                items
                    .iter()
                    .map(|s| {
                        let s = s.trim();
                        (!s.is_empty()).then(|| s.to_string()).ok_or_else(|| {
                            self.err(key.name, "must be a list of non-empty strings")
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (Kind::List, _) => return Err(self.err(key.name, "must be a list of strings")),
            (Kind::Bool, Value::Bool(b)) => Value::Bool(b),
            (Kind::Bool, Value::Text(s)) => match s.trim() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => return Err(self.err(key.name, "must be true or false")),
            },
            (Kind::Bool, _) => return Err(self.err(key.name, "must be true or false")),
            (_, _) => return Err(self.err(key.name, "must be a string")),
        };
        self.values.insert(key.name, value);
        Ok(())
    }

    fn non_empty(&self, key: &str, s: &str) -> Result<String, KeyError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(self.err(key, "must not be empty"));
        }
        Ok(s.to_string())
    }

    /// Whether a key has a value.
    pub(crate) fn is_set(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Takes a string value.
    pub(crate) fn text(&mut self, key: &str) -> Option<String> {
        match self.values.remove(key)? {
            Value::Text(s) => Some(s),
            _ => None, // `insert` keeps each key to its declared kind.
        }
    }

    /// Takes a secret value.
    pub(crate) fn secret(&mut self, key: &str) -> Option<Secret> {
        match self.values.remove(key)? {
            Value::Secret(s) => Some(s),
            _ => None,
        }
    }

    /// Takes a list value (empty when unset).
    pub(crate) fn list(&mut self, key: &str) -> Vec<String> {
        match self.values.remove(key) {
            Some(Value::List(items)) => items,
            _ => Vec::new(),
        }
    }

    /// Takes a boolean value (false when unset).
    pub(crate) fn flag(&mut self, key: &str) -> bool {
        matches!(self.values.remove(key), Some(Value::Bool(true)))
    }

    /// Takes the keys of how the account connects ([`CA_FILE`], [`HTTP_PROXY`]): the CA bundle
    /// is read now, so a missing or unusable file is an error on `ca_file`.
    pub(crate) fn transport(&mut self) -> Result<Transport, KeyError> {
        let ca_file = match self.text(CA_FILE.name) {
            None => None,
            Some(raw) => {
                let path = Path::new(&raw);
                let path = match &self.base_dir {
                    Some(dir) if path.is_relative() => dir.join(path),
                    _ => path.to_path_buf(),
                };
                Some(CaBundle::read(&path).map_err(|m| self.err(CA_FILE.name, m))?)
            }
        };
        Ok(Transport {
            ca_file,
            http_proxy: self.flag(HTTP_PROXY.name),
        })
    }

    /// Takes a URL value, checked by [`check_url`].
    pub(crate) fn url(&mut self, key: &str) -> Result<Option<Url>, KeyError> {
        let Some(raw) = self.text(key) else {
            return Ok(None);
        };
        let url = Url::parse(&raw).map_err(|e| {
            let shown = crate::text::quote(&without_userinfo(&raw));
            self.err(key, format!("not a URL ({e}): {shown}"))
        })?;
        check_url(&url, self.allow_insecure_http).map_err(|m| self.err(key, m))?;
        Ok(Some(url))
    }

    /// A default URL built from the region (`https://cbr.{region}.myhuaweicloud.com`); a
    /// region that makes no valid URL, or one whose host is not the template's with the
    /// region in its place (`x@evil.example/` would make a user name and another host), is an
    /// error on the key `region`.
    pub(crate) fn region_url(&self, template: &str, region: &str) -> Result<Url, KeyError> {
        let plain = region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        Url::parse(&template.replace("{region}", region))
            .ok()
            .filter(|u| plain && u.host_str().is_some_and(|h| !h.is_empty()))
            .ok_or_else(|| {
                let region = crate::text::quote(region);
                self.err(
                    "region",
                    format!("region `{region}` does not make a valid URL"),
                )
            })
    }

    /// How the source names a key: the variable that gave it, else (from an environment) the
    /// variables that could give it, else the key itself.
    pub(crate) fn name(&self, key: &str) -> String {
        if let Some(name) = self.names.get(key) {
            return name.clone();
        }
        let vars: Vec<&str> = self
            .env
            .iter()
            .filter(|(_, k)| *k == key)
            .map(|(var, _)| *var)
            .collect();
        if vars.is_empty() {
            key.to_string()
        } else {
            vars.join(" or ")
        }
    }

    /// The hint ` (or <key>_env)` in the config file, where a secret can come from the
    /// environment instead; nothing when the source is the environment itself.
    pub(crate) fn or_env(&self, key: &str) -> String {
        if self.env.is_empty() {
            format!(" (or {key}_env)")
        } else {
            String::new()
        }
    }

    /// An error on a key, named as the source names it.
    pub(crate) fn err(&self, key: &str, message: impl Into<String>) -> KeyError {
        KeyError::new(self.name(key), message)
    }
}

/// A provider's config builder: its keys, its environment mapping, and the one place its
/// settings are validated and defaulted.
pub(crate) trait ConfigBuilder: Default {
    /// The settings it builds.
    type Config;

    /// Every key it accepts, as written in the config file.
    const KEYS: &'static [Key];

    /// `(variable, key)` pairs, in precedence order: the first variable that is set gives
    /// the key its value.
    const ENV: &'static [(&'static str, &'static str)];

    /// Variables that must all be set for the environment to describe an account (the
    /// credentials users already have); with any missing there is no account, and no error.
    const ENV_REQUIRED: &'static [&'static str];

    /// The values fed so far.
    fn values(&mut self) -> &mut Values;

    /// Validates the values once and applies the defaults once.
    fn build(self) -> Result<Self::Config, KeyError>;

    /// The declaration of a key, if this builder has it.
    fn key(name: &str) -> Option<Key> {
        Self::KEYS.iter().find(|k| k.name == name).copied()
    }

    /// Sets one key: the single entry point of both the config file and the environment.
    fn set(&mut self, key: &str, value: Value) -> Result<(), KeyError> {
        let Some(k) = Self::key(key) else {
            return Err(self.values().err(key, "unknown key"));
        };
        self.values().insert(k, value)
    }

    /// Allows plain `http` to a non-loopback host (`allow_insecure_http = true`).
    fn with_allow_insecure_http(mut self, allow: bool) -> Self {
        self.values().allow_insecure_http = allow;
        self
    }

    /// Takes relative paths (`ca_file`) from `dir`, the config file's directory.
    fn with_base_dir(mut self, dir: Option<&Path>) -> Self {
        self.values().base_dir = dir.map(Path::to_path_buf);
        self
    }

    /// A builder fed from an environment (`std::env::var`, or the cf CLI's file read as one),
    /// or `None` when the variables of [`Self::ENV_REQUIRED`] are not all set. Empty
    /// variables count as unset.
    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, KeyError> {
        let get = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        if Self::ENV_REQUIRED.iter().any(|var| get(var).is_none()) {
            return Ok(None);
        }
        let mut builder = Self::default();
        builder.values().env = Self::ENV;
        for &(var, key) in Self::ENV {
            if builder.values().is_set(key) {
                continue; // An earlier variable gave it.
            }
            if let Some(value) = get(var) {
                builder.values().names.insert(key, var.to_string());
                builder.set(key, Value::Text(value))?;
            }
        }
        Ok(Some(builder))
    }
}

/// Refuses URLs that would carry credentials in the clear (`docs/config.md#format`): `http`
/// only to loopback unless allowed, and only `http`/`https` at all.
pub(crate) fn check_url(url: &Url, allow_http: bool) -> std::result::Result<(), String> {
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
    if !url.username().is_empty() || url.password().is_some() {
        // The URL is not repeated: it holds the password.
        return Err(format!(
            "a user name or password in the URL ({}) is not accepted; give credentials in their own keys",
            without_userinfo(url.as_str())
        ));
    }
    Ok(())
}

/// A URL as text with any `user:password@` before its host replaced by `<redacted>@`, for
/// messages: works on text that does not even parse as a URL.
pub(crate) fn without_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &raw[..scheme_end], &rest[at..]),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::oracle::OracleBuilder;

    #[test]
    fn set_takes_declared_keys_of_their_kind_only() {
        let mut b = OracleBuilder::default();
        assert_eq!(
            b.set("regoin", Value::Text("x".into()))
                .unwrap_err()
                .message,
            "unknown key"
        );
        assert_eq!(
            b.set("user", Value::List(vec![])).unwrap_err().message,
            "must be a string"
        );
        assert_eq!(
            b.set("user", Value::Text(" \n".into()))
                .unwrap_err()
                .message,
            "must not be empty"
        );
        // A secret key takes text and keeps it as a secret, trimmed.
        b.set("password", Value::Text(" pw\n".into())).unwrap();
        assert_eq!(
            b.values()
                .secret("password")
                .map(|s| s.expose().to_string()),
            Some("pw".into())
        );
    }

    #[test]
    fn from_env_needs_every_required_variable_and_takes_the_first_set() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        // OPC_PASSWORD missing (empty counts as unset): no account, no error.
        let env = vars(&[
            ("OPC_ENDPOINT", "https://o.example.com"),
            ("OPC_USER", "u"),
            ("OPC_PASSWORD", " "),
        ]);
        assert!(OracleBuilder::from_env(&env).unwrap().is_none());
        let env = vars(&[
            ("OPC_ENDPOINT", "https://o.example.com"),
            ("BACKUPS_ORACLE_ENDPOINT", "https://override.example.com"),
            ("OPC_USER", "u"),
            ("OPC_PASSWORD", "p"),
        ]);
        let mut b = OracleBuilder::from_env(&env).unwrap().unwrap();
        assert_eq!(b.values().name("endpoint"), "BACKUPS_ORACLE_ENDPOINT");
        assert_eq!(b.values().name("password"), "OPC_PASSWORD");
        assert_eq!(
            b.build().unwrap().endpoint.as_str(),
            "https://override.example.com/"
        );
    }
}
