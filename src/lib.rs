//! `backups`: list the backups you have across Oracle Compute Classic, Z.com, Huawei Cloud CBR,
//! Cloud Foundry (OSMAPI) and ByCloud in one view.
//!
//! The shape: the command line ([`cli`]) is parsed into typed values; one module per command
//! ([`commands`]) resolves accounts from the config ([`config`]); each account gets an adapter
//! ([`providers`]) that fetches one page at a time through the shared HTTP client ([`http`]);
//! the shared paging loop collects rows into the provider-neutral [`model::Backup`], which
//! [`filter`] selects and [`render`] prints. [`error::Outcome`] is every exit code.
//! [`emulator`] is a double of the five vendor APIs that `--demo`, the tests and the benchmark
//! run against, through the same HTTP path.
//!
//! Only what the binary and the integration tests use is `pub`; everything else is
//! `pub(crate)`, and the `unreachable_pub` lint (Cargo.toml) keeps it that way, so the compiler
//! reports code nothing uses.

pub(crate) mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub(crate) mod duration;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod filter;
pub mod http;
pub mod inventory;
pub mod model;
pub(crate) mod monitor;
pub mod providers;
pub(crate) mod redact;
pub(crate) mod render;
pub mod secret;
pub mod text;

pub use error::{Error, ErrorKind, Outcome, Result};
