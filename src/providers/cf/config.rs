//! Cloud Foundry account settings and their builder, fed by the config file's keys and the
//! cf CLI's login (`~/.cf/config.json`, read as an environment whose variables are its fields)
//! alike (`docs/config.md#provider--cf`).

use reqwest::Url;

use crate::http::Transport;
use crate::providers::builder::{
    list, secret, text, ConfigBuilder, Key, KeyError, Values, CA_FILE, HTTP_PROXY,
};
use crate::secret::Secret;

/// Cloud Foundry account.
#[derive(Clone, Debug)]
pub(crate) struct CfConfig {
    /// Cloud Controller API, e.g. `https://api.example.local`.
    pub(crate) api: Url,
    /// The login server (UAA) pinned in the config (`uaa`), used instead of the one `GET {api}/`
    /// names; that one is trusted only on the API's registrable domain.
    pub(crate) uaa: Option<Url>,
    /// How to authenticate.
    pub(crate) auth: CfAuth,
    /// Service instance guids to list; empty means every instance the user can see.
    pub(crate) service_instances: Vec<String>,
    /// How its connections are made (`ca_file`, `http_proxy`).
    pub(crate) transport: Transport,
}

/// Cloud Foundry credentials.
#[derive(Clone, Debug)]
pub(crate) enum CfAuth {
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

/// Builds [`CfConfig`] from `[accounts.NAME]` keys or the cf CLI's `config.json` fields.
#[derive(Default)]
pub(crate) struct CfBuilder {
    values: Values,
}

impl ConfigBuilder for CfBuilder {
    type Config = CfConfig;

    const KEYS: &'static [Key] = &[
        text("api"),
        text("uaa"),
        text("username"),
        secret("password"),
        text("client_id"),
        secret("client_secret"),
        secret("token"),
        secret("refresh_token"),
        list("service_instances"),
        CA_FILE,
        HTTP_PROXY,
    ];

    /// The cf CLI's `config.json` fields: its target, the UAA it logged in with (pinned as
    /// `uaa`: the cf CLI refreshes its tokens there) and its login's tokens.
    const ENV: &'static [(&'static str, &'static str)] = &[
        ("Target", "api"),
        ("UaaEndpoint", "uaa"),
        ("AccessToken", "token"),
        ("RefreshToken", "refresh_token"),
    ];

    /// Logged in: a target and an access token.
    const ENV_REQUIRED: &'static [&'static str] = &["Target", "AccessToken"];

    fn values(&mut self) -> &mut Values {
        &mut self.values
    }

    fn build(self) -> Result<CfConfig, KeyError> {
        let mut v = self.values;
        let api = v
            .url("api")?
            .ok_or_else(|| v.err("api", "is required (e.g. https://api.example.com)"))?;
        let uaa = v.url("uaa")?;
        let service_instances = v.list("service_instances");
        let auth = auth(&mut v)?;
        let transport = v.transport()?;
        Ok(CfConfig {
            api,
            uaa,
            auth,
            service_instances,
            transport,
        })
    }
}

/// Exactly one way to authenticate: a password, client credentials, or a token (with an
/// optional refresh token).
fn auth(v: &mut Values) -> Result<CfAuth, KeyError> {
    let username = v.text("username");
    let password = v.secret("password");
    let client_id = v.text("client_id");
    let client_secret = v.secret("client_secret");
    let token = v.secret("token").map(without_bearer);
    let refresh_token = v.secret("refresh_token");
    let auth = match (username, password, client_id, client_secret, token) {
        (Some(username), Some(password), None, None, None) => {
            CfAuth::Password { username, password }
        }
        (None, None, Some(client_id), Some(client_secret), None) => CfAuth::ClientCredentials {
            client_id,
            client_secret,
        },
        (None, None, None, None, Some(access_token)) => CfAuth::Token {
            access_token,
            refresh_token: refresh_token.clone(),
        },
        (Some(_), None, None, None, None) => {
            let msg = format!(
                "is required with {}{}",
                v.name("username"),
                v.or_env("password")
            );
            return Err(v.err("password", msg));
        }
        (None, None, Some(_), None, None) => {
            let msg = format!(
                "is required with {}{}",
                v.name("client_id"),
                v.or_env("client_secret")
            );
            return Err(v.err("client_secret", msg));
        }
        (None, None, None, None, None) => {
            return Err(v.err(
                "username",
                "give username + password, client_id + client_secret, or token",
            ))
        }
        _ => {
            return Err(v.err(
                "token",
                "give one way to authenticate: username + password, client_id + client_secret, or token",
            ))
        }
    };
    if refresh_token.is_some() && !matches!(auth, CfAuth::Token { .. }) {
        return Err(v.err("refresh_token", "only applies with token"));
    }
    Ok(auth)
}

/// A token as the cf CLI stores and prints it (`bearer eyJ…`) is the token without the
/// scheme: the adapter adds its own.
fn without_bearer(token: Secret) -> Secret {
    let t = token.expose();
    match t.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => Secret::new(t[7..].trim_start()),
        _ => token,
    }
}
