//! Oracle adapter (placeholder until the adapter lands).

use crate::config::OracleConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::http::Http;
use crate::model::ProviderId;

use super::{BoxFuture, Capabilities, Cursor, Page, Provider, Run};

/// What this adapter supports.
pub const CAPABILITIES: Capabilities = Capabilities {
    provider: ProviderId::Oracle,
    auth: &[],
    filters: &[],
    paging: "",
    fields: &[],
};

/// One Oracle account.
pub struct Oracle {
    account: String,
    #[allow(dead_code)]
    config: OracleConfig,
}

impl Oracle {
    /// The adapter for one account.
    pub fn new(account: String, config: OracleConfig) -> Oracle {
        Oracle { account, config }
    }
}

impl Provider for Oracle {
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
