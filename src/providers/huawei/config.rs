//! Huawei Cloud CBR account settings and their builder, fed by the config file's keys and the
//! Huawei SDK's environment variables alike (`docs/config.md#provider--huawei`; IAM endpoint
//! rule: `docs/providers/huawei.md#project-id`).

use reqwest::Url;

use crate::http::Transport;
use crate::providers::builder::{
    secret, text, ConfigBuilder, Key, KeyError, Values, CA_FILE, HTTP_PROXY,
};
use crate::secret::Secret;

/// Huawei Cloud CBR account.
#[derive(Clone, Debug)]
pub(crate) struct HuaweiConfig {
    /// Region id such as `ap-southeast-1`.
    pub(crate) region: Option<String>,
    /// CBR endpoint; only scheme, host and port matter (the official SDK drops any path).
    pub(crate) endpoint: Url,
    /// IAM endpoint (token requests).
    pub(crate) iam_endpoint: Url,
    /// Project id; when absent, looked up from IAM by the region's name, as the SDK does.
    pub(crate) project_id: Option<String>,
    /// How to authenticate.
    pub(crate) auth: HuaweiAuth,
    /// `enterprise_project_id`: sent on ListBackups, for users whose permissions are granted
    /// per enterprise project (an id, `0` for the default one, or `all_granted_eps` for every
    /// enterprise project the user may see). Without it the server decides.
    pub(crate) enterprise_project_id: Option<String>,
    /// How its connections are made (`ca_file`, `http_proxy`).
    pub(crate) transport: Transport,
}

/// Huawei credentials.
#[derive(Clone, Debug)]
pub(crate) enum HuaweiAuth {
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

/// Builds [`HuaweiConfig`] from `[accounts.NAME]` keys or the `HUAWEICLOUD_SDK_*` variables.
#[derive(Default)]
pub(crate) struct HuaweiBuilder {
    values: Values,
}

/// The global IAM endpoint, used when neither an IAM endpoint nor a region is given.
const GLOBAL_IAM: &str = "https://iam.myhuaweicloud.com";

impl ConfigBuilder for HuaweiBuilder {
    type Config = HuaweiConfig;

    const KEYS: &'static [Key] = &[
        text("region"),
        text("endpoint"),
        text("iam_endpoint"),
        text("project_id"),
        secret("access_key"),
        secret("secret_key"),
        secret("security_token"),
        secret("token"),
        text("user"),
        secret("password"),
        text("domain"),
        text("enterprise_project_id"),
        CA_FILE,
        HTTP_PROXY,
    ];

    const ENV: &'static [(&'static str, &'static str)] = &[
        ("HUAWEICLOUD_SDK_AK", "access_key"),
        ("HUAWEICLOUD_SDK_SK", "secret_key"),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "security_token"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", "project_id"),
        ("HUAWEICLOUD_SDK_REGION", "region"),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", "iam_endpoint"),
        ("BACKUPS_HUAWEI_ENDPOINT", "endpoint"),
    ];

    const ENV_REQUIRED: &'static [&'static str] = &["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"];

    fn values(&mut self) -> &mut Values {
        &mut self.values
    }

    fn build(self) -> Result<HuaweiConfig, KeyError> {
        let mut v = self.values;
        let region = v.text("region");
        // CBR: the endpoint, else the region's public endpoint.
        let endpoint = match (v.url("endpoint")?, &region) {
            (Some(u), _) => u,
            (None, Some(r)) => v.region_url("https://cbr.{region}.myhuaweicloud.com", r)?,
            (None, None) => {
                let msg = format!("is required unless {} is set", v.name("endpoint"));
                return Err(v.err("region", msg));
            }
        };
        // IAM: the IAM endpoint, else the region's, else the global one (the SDK's rule).
        let iam_endpoint = match (v.url("iam_endpoint")?, &region) {
            (Some(u), _) => u,
            (None, Some(r)) => v.region_url("https://iam.{region}.myhuaweicloud.com", r)?,
            (None, None) => Url::parse(GLOBAL_IAM).expect("static URL"),
        };
        let project_id = v.text("project_id");
        if project_id.is_none() && region.is_none() {
            let msg = format!(
                "is required unless {} is set (the project is then looked up by region name)",
                v.name("region")
            );
            return Err(v.err("project_id", msg));
        }
        let auth = auth(&mut v)?;
        if let Some(id) = &project_id {
            check_project_id(id).map_err(|m| v.err("project_id", m))?;
        }
        let enterprise_project_id = v.text("enterprise_project_id");
        if let Some(ep) = &enterprise_project_id {
            if !is_enterprise_project(ep) {
                return Err(v.err(
                    "enterprise_project_id",
                    format!(
                        "`{}` is not an enterprise project id (0, a UUID) or all_granted_eps",
                        crate::text::quote_id(ep)
                    ),
                ));
            }
        }
        let transport = v.transport()?;
        Ok(HuaweiConfig {
            region,
            endpoint,
            iam_endpoint,
            project_id,
            auth,
            enterprise_project_id,
            transport,
        })
    }
}

/// A Huawei project id is 32 hex digits (IAM's `projects[].id`); it goes into every request's
/// path, so anything else is refused, named (escaped and cut short) in the message.
pub(super) fn check_project_id(id: &str) -> Result<(), String> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a project id (32 hex digits)",
            crate::text::quote_id(id)
        ))
    }
}

/// Whether `s` can name enterprise projects on ListBackups: `all_granted_eps`, or an id (the
/// default project is `0`, others are UUIDs; any short run of letters, digits and dashes is
/// let through for the server to judge).
fn is_enterprise_project(s: &str) -> bool {
    s == "all_granted_eps"
        || (s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Exactly one way to authenticate: AK/SK (with an optional STS token), a token, or an IAM
/// user's password with its account name.
fn auth(v: &mut Values) -> Result<HuaweiAuth, KeyError> {
    let access_key = v.secret("access_key");
    let secret_key = v.secret("secret_key");
    let security_token = v.secret("security_token");
    let token = v.secret("token");
    let user = v.text("user");
    let password = v.secret("password");
    let domain = v.text("domain");
    let auth =
        match (access_key, secret_key, token, user, password) {
            (Some(access_key), Some(secret_key), None, None, None) => HuaweiAuth::AkSk {
                access_key,
                secret_key,
                security_token: security_token.clone(),
            },
            (Some(_), None, ..) => {
                let msg = format!(
                    "is required with {}{}",
                    v.name("access_key"),
                    v.or_env("secret_key")
                );
                return Err(v.err("secret_key", msg));
            }
            (None, Some(_), ..) => {
                let msg = format!(
                    "is required with {}{}",
                    v.name("secret_key"),
                    v.or_env("access_key")
                );
                return Err(v.err("access_key", msg));
            }
            (None, None, Some(t), None, None) => HuaweiAuth::Token(t),
            (None, None, None, Some(user), Some(password)) => HuaweiAuth::Password {
                user,
                password,
                domain: domain.clone().ok_or_else(|| {
                    v.err(
                        "domain",
                        "is required with user and password (the account name)",
                    )
                })?,
            },
            (None, None, None, None, None) => {
                return Err(v.err(
                    "access_key",
                    "give access_key + secret_key (AK/SK), token, or user + password + domain",
                ))
            }
            _ => return Err(v.err(
                "token",
                "give one way to authenticate: access_key + secret_key, token, or user + password",
            )),
        };
    if security_token.is_some() && !matches!(auth, HuaweiAuth::AkSk { .. }) {
        return Err(v.err("security_token", "only applies to AK/SK credentials"));
    }
    if domain.is_some() && !matches!(auth, HuaweiAuth::Password { .. }) {
        return Err(v.err("domain", "only applies to user + password"));
    }
    Ok(auth)
}
