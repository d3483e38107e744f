//! Bycloud adapter (placeholder until the adapter lands).

use crate::config::BycloudConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::http::Http;
use crate::model::ProviderId;

use super::{BoxFuture, Capabilities, Cursor, Page, Provider, Run};

/// What this adapter supports.
pub const CAPABILITIES: Capabilities = Capabilities {
    provider: ProviderId::Bycloud,
    auth: &[],
    filters: &[],
    paging: "",
    fields: &[],
};

/// One Bycloud account.
pub struct Bycloud {
    account: String,
    #[allow(dead_code)]
    config: BycloudConfig,
}

impl Bycloud {
    /// The adapter for one account.
    pub fn new(account: String, config: BycloudConfig) -> Bycloud {
        Bycloud { account, config }
    }
}

impl Provider for Bycloud {
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
