//! Z.com account settings and their builder, fed by the config file's keys and the OpenStack
//! `OS_*` environment variables alike (`docs/config.md#provider--zcom`).

use reqwest::Url;

use crate::http::Transport;
use crate::providers::builder::{
    secret, text, ConfigBuilder, Key, KeyError, Values, CA_FILE, HTTP_PROXY,
};
use crate::secret::Secret;

/// Z.com account.
#[derive(Clone, Debug)]
pub(crate) struct ZcomConfig {
    /// Region such as `tyo1`; also the `location` of every row.
    pub(crate) region: Option<String>,
    /// Keystone v2.0 base, e.g. `https://identity.tyo1.cloud.z.com/v2.0`.
    pub(crate) identity_endpoint: Url,
    /// Compute base without the tenant, e.g. `https://compute.tyo1.cloud.z.com/v2`; when
    /// absent the token's service catalog gives it.
    pub(crate) compute_endpoint: Option<Url>,
    /// Tenant id.
    pub(crate) tenant_id: String,
    /// How to authenticate.
    pub(crate) auth: ZcomAuth,
    /// How its connections are made (`ca_file`, `http_proxy`).
    pub(crate) transport: Transport,
}

/// Z.com credentials.
#[derive(Clone, Debug)]
pub(crate) enum ZcomAuth {
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

/// Builds [`ZcomConfig`] from `[accounts.NAME]` keys or the `OS_*` variables.
#[derive(Default)]
pub(crate) struct ZcomBuilder {
    values: Values,
}

impl ConfigBuilder for ZcomBuilder {
    type Config = ZcomConfig;

    const KEYS: &'static [Key] = &[
        text("region"),
        text("identity_endpoint"),
        text("compute_endpoint"),
        text("tenant_id"),
        text("username"),
        secret("password"),
        secret("token"),
        CA_FILE,
        HTTP_PROXY,
    ];

    const ENV: &'static [(&'static str, &'static str)] = &[
        ("OS_AUTH_URL", "identity_endpoint"),
        ("OS_USERNAME", "username"),
        ("OS_PASSWORD", "password"),
        ("OS_TENANT_ID", "tenant_id"),
        ("OS_PROJECT_ID", "tenant_id"),
        ("OS_REGION_NAME", "region"),
        ("BACKUPS_ZCOM_ENDPOINT", "compute_endpoint"),
    ];

    const ENV_REQUIRED: &'static [&'static str] = &["OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD"];

    fn values(&mut self) -> &mut Values {
        &mut self.values
    }

    fn build(self) -> Result<ZcomConfig, KeyError> {
        let mut v = self.values;
        let region = v.text("region");
        let identity = v.url("identity_endpoint")?;
        let compute = v.url("compute_endpoint")?;
        let tenant_id = v
            .text("tenant_id")
            .ok_or_else(|| v.err("tenant_id", "is required"))?;
        let identity_endpoint = match (identity, &region) {
            (Some(u), _) => u,
            (None, Some(r)) => v.region_url("https://identity.{region}.cloud.z.com/v2.0", r)?,
            (None, None) => {
                let msg = format!("is required unless {} is set", v.name("identity_endpoint"));
                return Err(v.err("region", msg));
            }
        };
        // The compute endpoint, else the region's, else (None) the token's service catalog.
        let compute_endpoint = match (compute, &region) {
            (Some(u), _) => Some(u),
            (None, Some(r)) => Some(v.region_url("https://compute.{region}.cloud.z.com/v2", r)?),
            (None, None) => None,
        };
        let auth = auth(&mut v)?;
        let transport = v.transport()?;
        Ok(ZcomConfig {
            region,
            identity_endpoint,
            compute_endpoint,
            tenant_id,
            auth,
            transport,
        })
    }
}

/// Exactly one way to authenticate: a user name with its password, or a token.
fn auth(v: &mut Values) -> Result<ZcomAuth, KeyError> {
    let username = v.text("username");
    let password = v.secret("password");
    let token = v.secret("token");
    Ok(match (username, password, token) {
        (Some(username), Some(password), None) => ZcomAuth::Password { username, password },
        (None, None, Some(t)) => ZcomAuth::Token(t),
        (Some(_), None, None) => {
            let msg = format!(
                "is required with {}{}",
                v.name("username"),
                v.or_env("password")
            );
            return Err(v.err("password", msg));
        }
        (None, Some(_), None) => {
            let msg = format!("is required with {}", v.name("password"));
            return Err(v.err("username", msg));
        }
        (None, None, None) => {
            return Err(v.err("username", "give username + password(_env), or token(_env)"))
        }
        _ => {
            return Err(v.err(
                "token",
                "give either username + password or token, not both",
            ))
        }
    })
}
