//! `backups audit`: freshness and failure findings for cron (spec §5). (Lands with its issue.)

use crate::cli::{AuditArgs, GlobalArgs};
use crate::error::{Error, Result};

/// Runs the audit.
pub async fn run(_g: &GlobalArgs, _args: &AuditArgs) -> Result<u8> {
    Err(Error::usage("audit is not available yet"))
}
