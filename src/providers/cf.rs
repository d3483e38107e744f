//! Cf adapter (placeholder until the adapter lands).

use crate::config::CfConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::http::Http;
use crate::model::ProviderId;

use super::{BoxFuture, Capabilities, Cursor, Page, Provider, Run};

/// What this adapter supports.
pub const CAPABILITIES: Capabilities = Capabilities {
    provider: ProviderId::Cf,
    auth: &[],
    filters: &[],
    paging: "",
    fields: &[],
};

/// One Cf account.
pub struct Cf {
    account: String,
    #[allow(dead_code)]
    config: CfConfig,
}

impl Cf {
    /// The adapter for one account.
    pub fn new(account: String, config: CfConfig) -> Cf {
        Cf { account, config }
    }
}

impl Provider for Cf {
    fn account(&self) -> &str {
        &self.account
    }

    fn authenticate<'a>(&'a self, _http: &'a Http, _renew: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn list_page<'a>(
        &'a self,
        _run: &'a Run<'a>,
        _cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async { Err(Error::new(ErrorKind::Usage, "not implemented yet")) })
    }
}
