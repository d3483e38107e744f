//! ByCloud account settings and their builder, fed by the config file's keys and the
//! `BYCLOUD_*` environment variables alike (`docs/config.md#provider--bycloud`).

use reqwest::Url;

use crate::http::Transport;
use crate::providers::builder::{
    secret, text, ConfigBuilder, Key, KeyError, Values, CA_FILE, HTTP_PROXY,
};
use crate::secret::Secret;

/// ByCloud account.
#[derive(Clone, Debug)]
pub(crate) struct BycloudConfig {
    /// Region such as `spo1`; also the `location` of every row.
    pub(crate) region: Option<String>,
    /// API endpoint, e.g. `https://api.spo1.mycloud.com`.
    pub(crate) endpoint: Url,
    /// How to authenticate.
    pub(crate) auth: BycloudAuth,
    /// How its connections are made (`ca_file`, `http_proxy`).
    pub(crate) transport: Transport,
}

/// ByCloud credentials.
#[derive(Clone, Debug)]
pub(crate) enum BycloudAuth {
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

/// Builds [`BycloudConfig`] from `[accounts.NAME]` keys or the `BYCLOUD_*` variables.
#[derive(Default)]
pub(crate) struct BycloudBuilder {
    values: Values,
}

impl ConfigBuilder for BycloudBuilder {
    type Config = BycloudConfig;

    const KEYS: &'static [Key] = &[
        text("region"),
        text("endpoint"),
        secret("token"),
        text("api_key_id"),
        secret("api_key_secret"),
        CA_FILE,
        HTTP_PROXY,
    ];

    const ENV: &'static [(&'static str, &'static str)] = &[
        ("BYCLOUD_TOKEN", "token"),
        ("BYCLOUD_REGION", "region"),
        ("BACKUPS_BYCLOUD_ENDPOINT", "endpoint"),
    ];

    const ENV_REQUIRED: &'static [&'static str] = &["BYCLOUD_TOKEN"];

    fn values(&mut self) -> &mut Values {
        &mut self.values
    }

    fn build(self) -> Result<BycloudConfig, KeyError> {
        let mut v = self.values;
        let region = v.text("region");
        let endpoint = match (v.url("endpoint")?, &region) {
            (Some(u), _) => u,
            (None, Some(r)) => v.region_url("https://api.{region}.mycloud.com", r)?,
            (None, None) => {
                let msg = format!("is required unless {} is set", v.name("endpoint"));
                return Err(v.err("region", msg));
            }
        };
        let auth = auth(&mut v)?;
        let transport = v.transport()?;
        Ok(BycloudConfig {
            region,
            endpoint,
            auth,
            transport,
        })
    }
}

/// Exactly one way to authenticate: a bearer token, or an API key id with its secret.
fn auth(v: &mut Values) -> Result<BycloudAuth, KeyError> {
    let token = v.secret("token");
    let key_id = v.text("api_key_id");
    let key_secret = v.secret("api_key_secret");
    Ok(match (token, key_id, key_secret) {
        (Some(t), None, None) => BycloudAuth::Bearer(t),
        (None, Some(id), Some(secret)) => BycloudAuth::ApiKey { id, secret },
        (None, Some(_), None) => {
            let msg = format!(
                "is required with {}{}",
                v.name("api_key_id"),
                v.or_env("api_key_secret")
            );
            return Err(v.err("api_key_secret", msg));
        }
        (None, None, Some(_)) => {
            let msg = format!("is required with {}", v.name("api_key_secret"));
            return Err(v.err("api_key_id", msg));
        }
        (None, None, None) => {
            return Err(v.err(
                "token",
                "give token(_env), or api_key_id + api_key_secret(_env)",
            ))
        }
        _ => {
            return Err(v.err(
                "token",
                "give either token or api_key_id + api_key_secret, not both",
            ))
        }
    })
}
