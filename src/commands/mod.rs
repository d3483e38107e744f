//! The commands: one module each, one `run` function over the shared [`Context`], between the
//! parsed command line and the library. Commands return an [`Outcome`] (the exit code) or an
//! `anyhow` error carrying context (which flag, file or account), whose exit code comes from
//! the library's typed [`Error`] inside it. stdout is data, stderr is talk.

use std::io;

use anyhow::Context as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::cli::{Cli, Command};
use crate::error::{Error, Outcome};
use crate::text;

mod accounts;
mod audit;
mod completions;
mod context;
mod diff;
mod emulator;
mod exporter;
mod list;
mod man;
mod providers;
pub(crate) mod record;

pub(crate) use context::Context;

/// Runs a parsed command line: the exit code of a run that completed, or the error that
/// stopped it (see [`outcome_of`] and [`message`]).
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    init_logging(cli.global.verbose);
    if matches!(
        cli.command,
        Command::List(_) | Command::Audit(_) | Command::Exporter(_)
    ) {
        crate::http::warm_native_roots();
    }
    let ctx = Context::new(&cli.global);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::List(args) => list::run(&ctx, &args).await,
            Command::Audit(args) => audit::run(&ctx, &args).await,
            Command::Diff(args) => diff::run(&ctx, &args),
            Command::Exporter(args) => exporter::run(&ctx, &args).await,
            Command::Accounts(args) => accounts::run(&ctx, &args).await,
            Command::Providers(args) => providers::run(&ctx, &args),
            Command::Emulator(args) => emulator::run(&ctx, &args).await,
            Command::Completions { shell } => completions::run(shell),
            Command::Man { page } => man::run(page),
        }
    });
    // What is still running (the exporter's open connections, a name lookup) must not hold
    // up the exit: the command has finished.
    runtime.shutdown_background();
    outcome
}

/// `-v` and `-vv`: request logs on stderr, never with colour or timestamps (a terminal or a
/// journal adds its own). Every log line, warnings included, passes the sanitizer and the
/// redactor on its way out ([`SafeStderr`]).
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    // Our own events at the asked level; the libraries' (hyper, h2, rustls) only warnings:
    // their DEBUG is a line per HTTP/2 frame.
    let targets = tracing_subscriber::filter::Targets::new()
        .with_target("backups", level)
        .with_default(tracing::Level::WARN);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(SafeStderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .finish()
        .with(targets);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The log writer: one [`SafeLine`] per event.
struct SafeStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SafeStderr {
    type Writer = SafeLine;

    fn make_writer(&'a self) -> SafeLine {
        SafeLine(Vec::new())
    }
}

/// One log event, collected and then written to stderr as one line made safe by
/// [`text::line`]: vendor text quoted in a log message can neither forge lines nor print a
/// secret.
struct SafeLine(Vec<u8>);

impl io::Write for SafeLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SafeLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let event = String::from_utf8_lossy(&self.0);
        let mut out = text::line(event.strip_suffix('\n').unwrap_or(&event));
        out.push('\n');
        let _ = io::Write::write_all(&mut io::stderr().lock(), out.as_bytes());
    }
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
/// everything about its own cause, so the chain stops there. Made safe to print
/// ([`text::line`]): a context or a foreign error can quote text from anywhere.
pub fn message(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        parts.push(cause.to_string());
        if cause.is::<Error>() {
            break;
        }
    }
    text::line(&parts.join(": "))
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
    fn log_lines_are_sanitized_and_redacted() {
        crate::secret::Secret::new("logged-secret-41aa");
        let mut line = SafeLine(Vec::new());
        io::Write::write_all(
            &mut line,
            b"WARN x: \x1b]0;t\x07 logged-secret-41aa\nsecond\n",
        )
        .unwrap();
        let event = String::from_utf8_lossy(&line.0);
        assert_eq!(
            text::line(event.strip_suffix('\n').unwrap()),
            "WARN x: \\x1b]0;t\\x07 <redacted> second"
        );
        line.0.clear();
        let err = anyhow::anyhow!("bad \x1b[2J logged-secret-41aa").context("reading x");
        assert_eq!(message(&err), "reading x: bad \\x1b[2J <redacted>");
    }

    #[test]
    fn a_closed_pipe_is_found_inside_a_library_error() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        let err = anyhow::Error::new(Error::from(pipe)).context("writing the table");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
