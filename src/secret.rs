//! Secrets: a value that never prints, and where it came from. A leaf module, so the config
//! reader and the providers' config builders can both use it without importing each other.
//!
//! Every secret made here is registered with the redactor ([`crate::redact`]), so a server that
//! echoes it back never gets it printed: configured secrets (config file, environment, the cf
//! CLI's file) and credentials learnt at run time (cookies, tokens) alike are `Secret`s.

use std::fmt;
use std::path::PathBuf;

use reqwest::header::HeaderValue;

use crate::error::{Error, Result};

/// A secret value. It never prints: `Debug` and `Display` show `(redacted)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value and registers it with the redactor.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }

    /// The value, for the one place that must send it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// A header value that carries a credential (`Authorization`, `X-Auth-Token`, `Cookie`,
/// `X-Api-Key`, `X-Security-Token`), marked sensitive: the HTTP stack then never shows it in
/// `Debug` and HTTP/2 never puts it in its compression table. The error names no value.
pub(crate) fn sensitive_header(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::config("a credential contains characters not allowed in an HTTP header")
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Where a secret came from, for `backups accounts` (which never shows the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// Written in the config file.
    Inline,
    /// Read from this environment variable.
    Env(String),
    /// Built into the demo emulator (made only in a build with it).
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    Demo,
    /// Another file (e.g. the cf CLI's config.json).
    File(PathBuf),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline => f.write_str("inline in config"),
            SecretSource::Env(var) => write!(f, "env ${var}"),
            SecretSource::Demo => f.write_str("demo credentials"),
            SecretSource::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_is_redacted_in_printed_text() {
        let s = Secret::new("registered-by-new-7f3a");
        assert_eq!(format!("{s:?} {s}"), "(redacted) (redacted)");
        assert_eq!(
            crate::redact::redact("echo: registered-by-new-7f3a"),
            "echo: <redacted>"
        );
    }

    #[test]
    fn credential_headers_are_sensitive() {
        let v = sensitive_header("Bearer abc").unwrap();
        assert!(v.is_sensitive());
        assert_eq!(format!("{v:?}"), "Sensitive");
        let e = sensitive_header("bad\ntoken").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a credential contains characters not allowed in an HTTP header"
        );
    }
}
