//! Secrets: a value that never prints, and where it came from. A leaf module, so the config
//! reader and the providers' config builders can both use it without importing each other.

use std::fmt;
use std::path::PathBuf;

/// A secret value. It never prints: `Debug` and `Display` show `(redacted)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
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

/// Where a secret came from, for `backups accounts` (which never shows the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the config file.
    Inline,
    /// Read from this environment variable.
    Env(String),
    /// Built into the demo emulator.
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
