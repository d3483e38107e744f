//! Oracle Compute Classic account settings and their builder, fed by the config file's keys
//! and the `OPC_*` environment variables alike (`docs/config.md#provider--oracle`).

use reqwest::Url;

use crate::http::Transport;
use crate::providers::builder::{
    secret, text, ConfigBuilder, Key, KeyError, Values, CA_FILE, HTTP_PROXY,
};
use crate::secret::Secret;

/// Oracle Compute Classic account.
#[derive(Clone, Debug)]
pub(crate) struct OracleConfig {
    /// REST endpoint, e.g. `https://api-z999.compute.us0.oraclecloud.com` (no default).
    pub(crate) endpoint: Url,
    /// `/Compute-<identity domain>/<user>`.
    pub(crate) user: String,
    /// Password.
    pub(crate) password: Secret,
    /// How its connections are made (`ca_file`, `http_proxy`).
    pub(crate) transport: Transport,
}

/// Builds [`OracleConfig`] from `[accounts.NAME]` keys or the `OPC_*` variables.
#[derive(Default)]
pub(crate) struct OracleBuilder {
    values: Values,
}

impl ConfigBuilder for OracleBuilder {
    type Config = OracleConfig;

    const KEYS: &'static [Key] = &[
        text("endpoint"),
        text("user"),
        secret("password"),
        CA_FILE,
        HTTP_PROXY,
    ];

    /// `BACKUPS_ORACLE_ENDPOINT` comes first: it overrides `OPC_ENDPOINT`.
    const ENV: &'static [(&'static str, &'static str)] = &[
        ("BACKUPS_ORACLE_ENDPOINT", "endpoint"),
        ("OPC_ENDPOINT", "endpoint"),
        ("OPC_USER", "user"),
        ("OPC_PASSWORD", "password"),
    ];

    const ENV_REQUIRED: &'static [&'static str] = &["OPC_ENDPOINT", "OPC_USER", "OPC_PASSWORD"];

    fn values(&mut self) -> &mut Values {
        &mut self.values
    }

    fn build(self) -> Result<OracleConfig, KeyError> {
        let mut v = self.values;
        let endpoint = v.url("endpoint")?.ok_or_else(|| {
            v.err(
                "endpoint",
                "is required (e.g. https://api-z999.compute.us0.oraclecloud.com)",
            )
        })?;
        let user = v.text("user").ok_or_else(|| v.err("user", "is required"))?;
        let password = v.secret("password").ok_or_else(|| {
            let msg = format!("is required{}", v.or_env("password"));
            v.err("password", msg)
        })?;
        let transport = v.transport()?;
        Ok(OracleConfig {
            endpoint,
            user,
            password,
            transport,
        })
    }
}
