//! The library's error type: a `kind` that decides the exit code and whether a retry may help,
//! plus the context a user needs in one line (account, request, HTTP status, cause); and
//! [`Outcome`], the one type behind every exit code.

use std::fmt;

/// How a run ended, as the process exit code (`docs/cli.md#exit-codes-stable`). Every exit code the
/// binary returns comes from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Exit 0: success (also when stdout closes early, e.g. `| head`).
    Success,
    /// Exit 1: `audit` found problems.
    Findings,
    /// Exit 2: usage or configuration error.
    Usage,
    /// Exit 3: at least one account failed (the others are still printed), or another
    /// failure at run time.
    AccountFailed,
}

impl Outcome {
    /// Every outcome, by exit code.
    pub(crate) const ALL: [Outcome; 4] = [
        Outcome::Success,
        Outcome::Findings,
        Outcome::Usage,
        Outcome::AccountFailed,
    ];

    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Findings => 1,
            Outcome::Usage => 2,
            Outcome::AccountFailed => 3,
        }
    }

    /// When a run ends this way, in words (for `--help` and the man page).
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Outcome::Success => "success (also when stdout closes early, e.g. `| head`)",
            Outcome::Findings => "audit found problems",
            Outcome::Usage => "usage or configuration error",
            Outcome::AccountFailed => "at least one account failed (the others are still printed)",
        }
    }

    /// [`Outcome::AccountFailed`] when any account failed, else [`Outcome::Success`].
    pub(crate) fn of_failures<T>(failures: &[T]) -> Outcome {
        if failures.is_empty() {
            Outcome::Success
        } else {
            Outcome::AccountFailed
        }
    }
}

impl From<Outcome> for std::process::ExitCode {
    fn from(o: Outcome) -> std::process::ExitCode {
        std::process::ExitCode::from(o.code())
    }
}

/// What went wrong, coarsely: decides the exit code (`docs/cli.md#exit-codes-stable`) and
/// retry (`docs/cli.md#retries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad command-line usage (exit 2).
    Usage,
    /// Bad or missing configuration (exit 2).
    Config,
    /// Credentials rejected or session expired (HTTP 401, vendor auth codes).
    Auth,
    /// Authenticated but not allowed (HTTP 403).
    Forbidden,
    /// The resource or route does not exist (HTTP 404).
    NotFound,
    /// Throttled (HTTP 429).
    RateLimited,
    /// Another 4xx the server blamed on the request.
    Client,
    /// The server failed (5xx).
    Server,
    /// Connecting, sending or receiving failed.
    Network,
    /// The request did not complete within `--timeout`.
    Timeout,
    /// The body did not match the vendor's schema, or was too large.
    Protocol,
    /// Paging went wrong: a repeated cursor, an offset that does not advance, too many pages.
    Paging,
    /// A request that would leak credentials was refused (another origin, plain http).
    Insecure,
    /// Writing output or another local I/O failure.
    Io,
}

impl ErrorKind {
    /// How a run that stops with an error of this kind ends (`docs/cli.md#exit-codes-stable`): bad
    /// usage or configuration is exit 2, anything that happened while listing is exit 3.
    pub(crate) fn outcome(self) -> Outcome {
        match self {
            ErrorKind::Usage | ErrorKind::Config => Outcome::Usage,
            _ => Outcome::AccountFailed,
        }
    }
}

/// An error with the context to print it as one line:
/// `<account>: <METHOD> <path>: HTTP <status>: <message>`.
#[derive(Debug)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The account it happened in, if any.
    pub(crate) account: Option<String>,
    /// The request, as `GET /v3/p1/backups` (never a query string: it can hold secrets).
    pub request: Option<String>,
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// The cause, in words.
    pub(crate) message: String,
    /// The underlying error, for `-v`.
    pub(crate) source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message and no context yet.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            account: None,
            request: None,
            status: None,
            message: message.into(),
            source: None,
        }
    }

    /// A usage error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
    }

    /// A configuration error (exit 2).
    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    /// A response body that does not match the vendor's schema.
    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    /// Sets the account unless one is set already.
    pub fn with_account(mut self, account: &str) -> Error {
        if self.account.is_none() {
            self.account = Some(account.to_string());
        }
        self
    }

    /// Sets the request (`METHOD /path`) and HTTP status unless set already.
    pub(crate) fn with_request(mut self, request: &str, status: Option<u16>) -> Error {
        if self.request.is_none() {
            self.request = Some(request.to_string());
        }
        if self.status.is_none() {
            self.status = status;
        }
        self
    }

    /// Attaches the underlying error.
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// Whether trying again later may succeed (throttling, 502/503/504, network, timeout).
    #[cfg(test)]
    fn is_temporary(&self) -> bool {
        match self.kind {
            ErrorKind::RateLimited | ErrorKind::Network | ErrorKind::Timeout => true,
            ErrorKind::Server => self.status.is_some_and(is_retryable_status),
            _ => false,
        }
    }

    /// How a run that stops with this error ends.
    pub(crate) fn outcome(&self) -> Outcome {
        self.kind.outcome()
    }

    /// The exit code for this error (`docs/cli.md#exit-codes-stable`).
    #[cfg(test)]
    pub(crate) fn exit_code(&self) -> u8 {
        self.outcome().code()
    }
}

/// Whether a response with this status is worth trying again (`docs/cli.md#retries`): throttled, or
/// a gateway that could not reach the service. The HTTP retry loop and `Error::is_temporary`
/// both ask here, so the rule lives with the error type and the error type needs no HTTP.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502..=504)
}

impl fmt::Display for Error {
    /// One line, always, fit for a terminal: vendor messages sometimes carry newlines, escape
    /// sequences or our own secrets echoed back, so the whole line passes the sanitizer
    /// ([`crate::text::line`]) even where the vendor text was quoted already.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::new();
        if let Some(account) = &self.account {
            line.push_str(account);
            line.push_str(": ");
        }
        if let Some(request) = &self.request {
            line.push_str(request);
            line.push_str(": ");
        }
        if let Some(status) = self.status {
            line.push_str(&format!("HTTP {status}: "));
        }
        line.push_str(&self.message);
        f.write_str(&crate::text::line(&line))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_one_line_with_context() {
        let e = Error::new(
            ErrorKind::Auth,
            "APIGW.0301: Incorrect IAM\nauthentication information",
        )
        .with_account("hw-prod")
        .with_request("GET /v3/p1/backups", Some(401));
        assert_eq!(
            e.to_string(),
            "hw-prod: GET /v3/p1/backups: HTTP 401: APIGW.0301: Incorrect IAM authentication information"
        );
        assert_eq!(e.exit_code(), 3);
    }

    #[test]
    fn vendor_text_cannot_forge_the_line_or_print_a_secret() {
        crate::secret::Secret::new("echoed-secret-9d2c");
        let e = Error::new(
            ErrorKind::Auth,
            "\x1b[2K\r\x1b[32m all accounts OK \u{202e}token echoed-secret-9d2c",
        )
        .with_account("by")
        .with_request("GET /v1/backups", Some(401));
        assert_eq!(
            e.to_string(),
            "by: GET /v1/backups: HTTP 401: \\x1b[2K\\r\\x1b[32m all accounts OK \\u{202e}token <redacted>"
        );
        let huge = Error::protocol("x".repeat(25 << 20)).to_string();
        assert_eq!(huge.chars().count(), crate::text::LINE_CHARS);
    }

    #[test]
    fn exit_codes_follow_the_spec() {
        assert_eq!(Error::usage("x").exit_code(), 2);
        assert_eq!(Error::config("x").exit_code(), 2);
        assert_eq!(Error::protocol("x").exit_code(), 3);
    }

    #[test]
    fn outcomes_are_the_documented_exit_codes() {
        let codes: Vec<u8> = Outcome::ALL.map(Outcome::code).to_vec();
        assert_eq!(codes, [0, 1, 2, 3]);
        assert_eq!(Outcome::of_failures::<Error>(&[]), Outcome::Success);
        assert_eq!(
            Outcome::of_failures(&[Error::protocol("x")]),
            Outcome::AccountFailed
        );
    }

    #[test]
    fn only_transient_failures_are_temporary() {
        let server = |s| {
            let mut e = Error::new(ErrorKind::Server, "x");
            e.status = Some(s);
            e
        };
        assert!(server(503).is_temporary());
        assert!(!server(500).is_temporary());
        assert!(Error::new(ErrorKind::RateLimited, "x").is_temporary());
        assert!(!Error::new(ErrorKind::Auth, "x").is_temporary());
    }
}
