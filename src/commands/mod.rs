//! The commands: one module each, one `run` function over the shared [`Context`], between the
//! parsed command line and the library. Commands return an [`Outcome`] (the exit code) or an
//! `anyhow` error carrying context (which flag, file or account), whose exit code comes from
//! the library's typed [`Error`] inside it. stdout is data, stderr is talk.

use std::io;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::error::{Error, Outcome};

mod accounts;
mod audit;
mod completions;
mod context;
mod diff;
mod emulator;
mod list;
mod man;
mod providers;
pub mod record;

pub use context::Context;

/// Runs a parsed command line: the exit code of a run that completed, or the error that
/// stopped it (see [`outcome_of`] and [`message`]).
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    init_logging(cli.global.verbose);
    let ctx = Context::new(&cli.global);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::List(args) => list::run(&ctx, &args).await,
            Command::Audit(args) => audit::run(&ctx, &args).await,
            Command::Diff(args) => diff::run(&ctx, &args),
            Command::Accounts(args) => accounts::run(&ctx, &args).await,
            Command::Providers(args) => providers::run(&ctx, &args),
            Command::Emulator(args) => emulator::run(&ctx, &args).await,
            Command::Completions { shell } => completions::run(shell),
            Command::Man { page } => man::run(page),
        }
    })
}

/// `-v` and `-vv`: request logs on stderr, never with colour or timestamps (a terminal or a
/// journal adds its own).
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// Whether the error is a write to a closed pipe (`| head`): success, not an error.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// The exit code of a run stopped by `err`: the typed library error inside decides; anything
/// else failed at run time (exit 3).
pub fn outcome_of(err: &anyhow::Error) -> Outcome {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
        .map_or(Outcome::AccountFailed, Error::outcome)
}

/// The error as one line: each context, then the cause. The library error already says
/// everything about its own cause, so the chain stops there.
pub fn message(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        parts.push(cause.to_string());
        if cause.is::<Error>() {
            break;
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn the_typed_error_decides_the_exit_code_under_any_context() {
        let err = Err::<(), _>(Error::config("bad key"))
            .context("reading /etc/backups.toml")
            .unwrap_err();
        assert_eq!(outcome_of(&err), Outcome::Usage);
        assert_eq!(message(&err), "reading /etc/backups.toml: bad key");
        let io = anyhow::Error::new(io::Error::other("disk full")).context("writing to stdout");
        assert_eq!(outcome_of(&io), Outcome::AccountFailed);
        assert_eq!(message(&io), "writing to stdout: disk full");
    }

    #[test]
    fn the_chain_stops_at_the_library_error() {
        let source = io::Error::other("connection reset");
        let err = anyhow::Error::new(
            Error::new(ErrorKind::Network, "connection reset")
                .with_account("hw")
                .with_source(source),
        );
        assert_eq!(message(&err), "hw: connection reset");
    }

    #[test]
    fn a_closed_pipe_is_found_inside_a_library_error() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        let err = anyhow::Error::new(Error::from(pipe)).context("writing the table");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
