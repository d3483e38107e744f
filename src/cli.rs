//! The command line, declared with clap derive: the only module that parses with clap. Every
//! value from a closed set (providers, statuses, sort keys, output formats, columns) and every
//! time or duration is parsed here into the library's own types, so completions offer the
//! choices and a typo is a clap error (exit 2) with a suggestion.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::{ArgValueCandidates, CompletionCandidate};

use crate::error::Outcome;
use crate::filter::{SortField, SortKey, TimeBound};
use crate::model::{ProviderId, Status};
use crate::render::{Column, Format};

/// List the backups you have across Oracle Compute Classic, Z.com, Huawei Cloud CBR,
/// Cloud Foundry and ByCloud in one view.
#[derive(Debug, Parser)]
#[command(name = "backups", version, about, after_help = exit_codes(), propagate_version = true)]
pub struct Cli {
    /// Options for every command.
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The exit-code table of `--help` and the man page, from [`Outcome`].
fn exit_codes() -> String {
    let mut text = "Exit codes:".to_string();
    for o in Outcome::ALL {
        text.push_str(&format!("\n  {}  {}", o.code(), o.meaning()));
    }
    text
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Config file [default: $BACKUPS_CONFIG, else $XDG_CONFIG_HOME/backups/config.toml, else ~/.config/backups/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Use the built-in emulator and its demo accounts instead of the config
    #[arg(long, global = true)]
    pub(crate) demo: bool,
    /// Log requests to stderr (-v), with more detail (-vv); secrets are never logged
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Whole-request timeout in seconds (connect, headers and body)
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,
    /// Retries of a failed request (connect errors, timeouts, 429, 502, 503, 504)
    #[arg(long, global = true, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub(crate) retries: u32,
    /// End the whole run after this long (e.g. 10m): accounts still listing fail (exit 3), what finished is printed [default: none, or deadline in [defaults]]
    #[arg(long, global = true, value_name = "DUR", value_parser = crate::duration::parse_positive)]
    pub(crate) deadline: Option<chrono::Duration>,
    /// Requests in flight across all accounts, shared first come first served [default: 256, or max_requests in [defaults]]
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) max_requests: Option<u16>,
    /// When to colour the table; auto: on a terminal, unless NO_COLOR is set or TERM=dumb (CLICOLOR_FORCE forces it)
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub(crate) color: ColorWhen,
    /// Same as --color never (and wins over --color)
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
}

impl GlobalArgs {
    /// `--color`, with `--no-color` read as `--color never`. When both are given `--no-color`
    /// wins: "later wins" cannot hold for global flags split between the command and a
    /// subcommand, so no order rule is promised.
    pub(crate) fn color_when(&self) -> ColorWhen {
        if self.no_color {
            ColorWhen::Never
        } else {
            self.color
        }
    }
}

/// `--color` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorWhen {
    /// Colour on a terminal, following NO_COLOR, CLICOLOR_FORCE and TERM
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List backups of the selected accounts (all configured accounts by default)
    List(ListArgs),
    /// Check freshness, failures, expected resources and retention (for cron): exit 1 when something is wrong
    Audit(AuditArgs),
    /// Compare the recorded listings of each account: what appeared, vanished or changed status
    Diff(DiffArgs),
    /// Serve the audit's figures to Prometheus at /metrics, listing in the background
    Exporter(ExporterArgs),
    /// List configured accounts, their provider, endpoint and where secrets come from
    Accounts(AccountsArgs),
    /// Show what each provider supports: auth, server-side filters, paging, fields
    Providers(ProvidersArgs),
    /// Run the emulator of the five APIs in the foreground
    Emulator(EmulatorArgs),
    /// Print a shell completion script
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): backups(1) with every subcommand, or one subcommand's page
    Man {
        /// Print only this subcommand's page
        #[arg(value_enum)]
        page: Option<ManPage>,
    },
}

/// The subcommands `backups man SUB` has a page for (the same names as [`Command`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ManPage {
    /// backups-list(1)
    List,
    /// backups-audit(1)
    Audit,
    /// backups-diff(1)
    Diff,
    /// backups-exporter(1)
    Exporter,
    /// backups-accounts(1)
    Accounts,
    /// backups-providers(1)
    Providers,
    /// backups-emulator(1)
    Emulator,
    /// backups-completions(1)
    Completions,
    /// backups-man(1)
    Man,
}

impl ManPage {
    /// The subcommand's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ManPage::List => "list",
            ManPage::Audit => "audit",
            ManPage::Diff => "diff",
            ManPage::Exporter => "exporter",
            ManPage::Accounts => "accounts",
            ManPage::Providers => "providers",
            ManPage::Emulator => "emulator",
            ManPage::Completions => "completions",
            ManPage::Man => "man",
        }
    }
}

/// A `--provider` value: one provider, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderChoice {
    /// `all`: no narrowing by provider.
    All,
    /// One provider.
    Only(ProviderId),
}

/// Which accounts and rows: shared by `list` and `audit`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct Selection {
    /// Provider (repeatable or comma list)
    #[arg(short, long = "provider", value_name = "P", value_delimiter = ',', ignore_case = true, value_parser = providers())]
    pub(crate) providers: Vec<ProviderChoice>,
    /// Account name from the config (repeatable or comma list)
    #[arg(short, long = "account", value_name = "NAME", value_delimiter = ',', add = ArgValueCandidates::new(account_names))]
    pub(crate) accounts: Vec<String>,
    /// Normalised status (repeatable or comma list)
    #[arg(long = "status", value_name = "S", value_delimiter = ',', ignore_case = true, value_parser = statuses())]
    pub(crate) statuses: Vec<Status>,
    /// Created at or after: RFC 3339, a date, or an age like 36h, 7d (rows without a creation time are left out)
    #[arg(long, value_name = "T")]
    pub(crate) since: Option<TimeBound>,
    /// Created at or before: RFC 3339, a date, or an age like 36h, 7d (rows without a creation time are left out)
    #[arg(long, value_name = "T")]
    pub(crate) until: Option<TimeBound>,
    /// Glob on the backup name, e.g. 'web-*'
    #[arg(long, value_name = "PATTERN")]
    pub(crate) name: Option<String>,
    /// Resource id or resource name equals
    #[arg(long, value_name = "ID_OR_NAME")]
    pub(crate) resource: Option<String>,
}

/// `backups list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Which accounts and rows
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Sort key (created_at: newest first); prefix - to reverse, e.g. -size
    #[arg(long, value_name = "KEY", allow_hyphen_values = true, value_parser = SortKeyParser)]
    pub(crate) sort: Option<SortKey>,
    /// Print at most N rows after sorting
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// Output format [default: table on a terminal, tsv otherwise]
    #[arg(short, long, value_name = "F", value_parser = formats(&[Format::Table, Format::Json, Format::Ndjson, Format::Csv, Format::Tsv]))]
    pub(crate) output: Option<Format>,
    /// Columns for table, csv and tsv: any model field, or age (table only); comma separated
    #[arg(long, value_name = "a,b,c", value_delimiter = ',', hide_possible_values = true, value_parser = columns())]
    pub(crate) columns: Vec<Column>,
    /// Pages fetched at once per account where the API allows it
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) parallel: u16,
    /// Stop an account with an error after this many pages (guards against looping servers)
    #[arg(long, value_name = "N", default_value_t = std::num::NonZeroU64::new(100_000).expect("non-zero"))]
    pub(crate) max_pages: std::num::NonZeroU64,
    /// Recording in the inventory
    #[command(flatten)]
    pub(crate) inventory: RecordArgs,
}

/// `--record` and `--inventory` of `list` and `audit` (`docs/cli.md#the-inventory`).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Inventory")]
pub(crate) struct RecordArgs {
    /// Record each account's complete listing in the inventory (also `[inventory] record = true`); not with a row filter
    #[arg(long)]
    pub(crate) record: bool,
    /// The inventory file [default: [inventory] path, else $XDG_DATA_HOME/backups/inventory.db, else ~/.local/share/backups/inventory.db]
    #[arg(long, value_name = "PATH")]
    pub(crate) inventory: Option<PathBuf>,
}

/// `backups diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// Compare with the newest snapshot taken at or before this: RFC 3339, a date, or an age like 7d [default: the snapshot before the newest]
    #[arg(long, value_name = "AGE|TIME")]
    pub(crate) from: Option<TimeBound>,
    /// Provider (repeatable or comma list)
    #[arg(short, long = "provider", value_name = "P", value_delimiter = ',', ignore_case = true, value_parser = providers())]
    pub(crate) providers: Vec<ProviderChoice>,
    /// Account name as recorded in the inventory (repeatable or comma list)
    #[arg(short, long = "account", value_name = "NAME", value_delimiter = ',', add = ArgValueCandidates::new(account_names))]
    pub(crate) accounts: Vec<String>,
    /// Output format [default: table on a terminal, tsv otherwise]
    #[arg(short, long, value_name = "F", value_parser = formats(&[Format::Table, Format::Json, Format::Ndjson, Format::Csv, Format::Tsv]))]
    pub(crate) output: Option<Format>,
    /// The inventory file [default: [inventory] path, else $XDG_DATA_HOME/backups/inventory.db, else ~/.local/share/backups/inventory.db]
    #[arg(long, value_name = "PATH")]
    pub(crate) inventory: Option<PathBuf>,
}

/// `backups audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Which accounts and rows
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// The newest available backup of each resource must be younger than this [default: the account's audit_max_age, else [audit] max_age, else 26h]
    #[arg(long, value_name = "DUR", value_parser = crate::duration::parse_positive)]
    pub(crate) max_age: Option<chrono::Duration>,
    /// Retention: each of the N UTC days, ISO weeks or months before the current one needs an available backup, e.g. daily=7,weekly=4,monthly=6 [default: the account's audit_keep, else [audit] keep]
    #[arg(long, value_name = "RULES", value_parser = keep_rules)]
    pub(crate) keep: Option<crate::audit::Keep>,
    /// A resource (id or name) that must have a backup in some selected account; ACCOUNT:RES pins it to one (repeatable; added to audit_expect and [audit] expect)
    #[arg(long, value_name = "RES", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) expect: Vec<String>,
    /// Output format [default: table on a terminal, tsv otherwise]
    #[arg(short, long, value_name = "F", value_parser = audit_formats())]
    pub(crate) output: Option<AuditOutput>,
    /// Also write the Prometheus text format to PATH atomically (for node_exporter's textfile collector)
    #[arg(long, value_name = "PATH")]
    pub(crate) textfile: Option<PathBuf>,
    /// With -o nagios: WARNING when a resource's newest available backup is older than this, for every account [default: each account's max age]
    #[arg(long, value_name = "DUR", value_parser = crate::duration::parse_positive, conflicts_with = "max_age")]
    pub(crate) warn_age: Option<chrono::Duration>,
    /// With -o nagios: CRITICAL when a resource's newest available backup is older than this, or it has none
    #[arg(long, value_name = "DUR", value_parser = crate::duration::parse_positive)]
    pub(crate) crit_age: Option<chrono::Duration>,
    /// Dead man's switch (healthchecks.io): GET URL/start before, POST URL/<exit code> with the report after; https or loopback only [default: [audit] ping_url]
    #[arg(long, value_name = "URL")]
    pub(crate) ping: Option<String>,
    /// Recording in, and comparing with, the inventory (the `vanished` finding)
    #[command(flatten)]
    pub(crate) inventory: RecordArgs,
}

/// `audit -o`: a report for people and scripts, or a feed for a monitoring system
/// (`docs/monitoring.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuditOutput {
    /// `table`, `json`, `ndjson` or `tsv`.
    Report(Format),
    /// The Prometheus text format 0.0.4.
    Prometheus,
    /// The Monitoring Plugins status line, perfdata and one line per finding.
    Nagios,
}

/// `backups exporter`.
#[derive(Debug, Args)]
pub(crate) struct ExporterArgs {
    /// Which accounts and rows
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Address to serve /metrics on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9877")]
    pub(crate) listen: std::net::SocketAddr,
    /// Time between the starts of two listings (at least 10s)
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = interval)]
    pub(crate) interval: std::time::Duration,
    /// The newest available backup of each resource must be younger than this [default: the account's audit_max_age, else [audit] max_age, else 26h]
    #[arg(long, value_name = "DUR", value_parser = crate::duration::parse_positive)]
    pub(crate) max_age: Option<chrono::Duration>,
    /// Retention rules, as for audit, e.g. daily=7,weekly=4 [default: the account's audit_keep, else [audit] keep]
    #[arg(long, value_name = "RULES", value_parser = keep_rules)]
    pub(crate) keep: Option<crate::audit::Keep>,
    /// A resource (id or name) that must have a backup, as for audit (repeatable)
    #[arg(long, value_name = "RES", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) expect: Vec<String>,
}

/// `--interval`: a duration of at least 10 seconds (a listing costs the clouds requests).
fn interval(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::duration::parse_positive(s)?;
    if d < chrono::Duration::seconds(10) {
        return Err("must be at least 10s".into());
    }
    d.to_std().map_err(|_| "too long".to_string())
}

/// `backups accounts`.
#[derive(Debug, Args)]
pub(crate) struct AccountsArgs {
    /// Also try each account's authentication; exit 3 if any fails
    #[arg(long)]
    pub(crate) check: bool,
    /// Output format [default: table]
    #[arg(short, long, value_name = "F", value_parser = formats(&[Format::Table, Format::Json]))]
    pub(crate) output: Option<Format>,
}

/// `backups providers`.
#[derive(Debug, Args)]
pub(crate) struct ProvidersArgs {
    /// Output format [default: table]
    #[arg(short, long, value_name = "F", value_parser = formats(&[Format::Table, Format::Json]))]
    pub(crate) output: Option<Format>,
}

/// `backups emulator`.
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Port of the base URL (0 = ephemeral); each API gets its own listener
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,
    /// Delay added to every response, in milliseconds
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub(crate) latency_ms: u64,
    /// Round trip added on the wire, in milliseconds: every chunk of bytes waits M/2 each way, so connects, TLS handshakes and requests each pay one
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub(crate) rtt_ms: u64,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with a throwaway CA made at start; --write-config writes the CA next to the config and sets ca_file
    #[arg(long, requires = "write_config")]
    pub(crate) tls: bool,
    /// Speak HTTP/1.1 only (no HTTP/2), to compare with servers that lack it
    #[arg(long)]
    pub(crate) http1: bool,
    /// Backups per demo account
    #[arg(long, value_name = "N")]
    pub(crate) scale: Option<usize>,
    /// Inject faults: 429s, 503s, expiring sessions, a slow and a broken account
    #[arg(long)]
    pub(crate) faults: bool,
    /// Write a config for the demo accounts to FILE
    #[arg(long, value_name = "FILE")]
    pub(crate) write_config: Option<PathBuf>,
    /// Serve the demo as it stands N days after day 0 (same accounts, ids and credentials;
    /// backups taken, expired, deleted and settled in between)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub(crate) day: u32,
    /// Serve N generated demo accounts across the five providers instead of the nine demo ones
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) accounts: Option<u32>,
    /// For tests of redaction: error bodies echo the credentials the client sent
    #[arg(long)]
    pub(crate) echo_credentials: bool,
}

/// `--provider`: the five names and `all`, any case.
fn providers() -> impl TypedValueParser<Value = ProviderChoice> {
    let names = ProviderId::ALL.map(ProviderId::as_str).into_iter();
    PossibleValuesParser::new(names.chain(["all"])).try_map(|s| {
        if s.eq_ignore_ascii_case("all") {
            return Ok(ProviderChoice::All);
        }
        ProviderId::parse(&s)
            .map(ProviderChoice::Only)
            .ok_or("unknown provider")
    })
}

/// `--keep`: `daily=N,weekly=N,monthly=N`, any of them.
fn keep_rules(s: &str) -> Result<crate::audit::Keep, String> {
    s.parse()
}

/// `audit -o`: the report formats and the monitoring feeds.
fn audit_formats() -> impl TypedValueParser<Value = AuditOutput> {
    let reports = [Format::Table, Format::Json, Format::Ndjson, Format::Tsv];
    let values = reports
        .iter()
        .map(|&f| PossibleValue::new(format_name(f)).help(format_help(f)))
        .chain([
            PossibleValue::new("prometheus").help("Prometheus text format 0.0.4"),
            PossibleValue::new("nagios")
                .help("Nagios/Icinga plugin output; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"),
        ]);
    PossibleValuesParser::new(values).try_map(move |s| match s.as_str() {
        "prometheus" => Ok(AuditOutput::Prometheus),
        "nagios" => Ok(AuditOutput::Nagios),
        _ => reports
            .iter()
            .copied()
            .find(|&f| format_name(f) == s)
            .map(AuditOutput::Report)
            .ok_or("unknown format"),
    })
}

/// `--status`: the normalised statuses, any case.
fn statuses() -> impl TypedValueParser<Value = Status> {
    PossibleValuesParser::new(Status::ALL.map(Status::as_str))
        .try_map(|s| Status::parse(&s).ok_or("unknown status"))
}

/// `--sort`: each key and its aliases, listed for help and completions; a leading `-`
/// (reverse) is accepted on any of them.
#[derive(Clone)]
struct SortKeyParser;

impl SortKeyParser {
    fn keys() -> PossibleValuesParser {
        PossibleValuesParser::new(SortField::ALL.map(|f| {
            PossibleValue::new(f.as_str())
                .aliases(f.aliases().iter().copied())
                .help(match f {
                    SortField::CreatedAt => "Newest first; rows without a time last",
                    SortField::Name => "A to Z",
                    SortField::Size => "Largest first",
                    SortField::Status => "In the order of the status list",
                    SortField::Provider => "By provider, then account",
                })
        }))
    }
}

impl TypedValueParser for SortKeyParser {
    type Value = SortKey;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<SortKey, clap::Error> {
        let text = value.to_string_lossy();
        let key = text.strip_prefix('-').unwrap_or(&text);
        if let Err(e) = Self::keys().parse_ref(cmd, arg, std::ffi::OsStr::new(key)) {
            // Reported with the value as typed, `-` included.
            return Err(Self::keys().parse_ref(cmd, arg, value).err().unwrap_or(e));
        }
        text.parse::<SortKey>()
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let values: Vec<PossibleValue> = Self::keys().possible_values()?.collect();
        Some(Box::new(values.into_iter()))
    }
}

/// `-o`: the formats a command can print, and only those.
fn formats(allowed: &'static [Format]) -> impl TypedValueParser<Value = Format> {
    let values = allowed
        .iter()
        .map(|&f| PossibleValue::new(format_name(f)).help(format_help(f)));
    PossibleValuesParser::new(values).try_map(move |s| {
        allowed
            .iter()
            .copied()
            .find(|&f| format_name(f) == s)
            .ok_or("unknown format")
    })
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Table => "table",
        Format::Json => "json",
        Format::Ndjson => "ndjson",
        Format::Csv => "csv",
        Format::Tsv => "tsv",
    }
}

fn format_help(f: Format) -> &'static str {
    match f {
        Format::Table => "Aligned table for people",
        Format::Json => "One JSON document",
        Format::Ndjson => "One JSON object per line",
        Format::Csv => "Comma-separated with a header row",
        Format::Tsv => "Tab-separated with a header row",
    }
}

/// `--columns`: model fields and `age`.
fn columns() -> impl TypedValueParser<Value = Column> {
    PossibleValuesParser::new(Column::names()).try_map(|s| s.parse::<Column>())
}

/// Account names for completing `-a`: the `[accounts.NAME]` tables of the default config file
/// (`$BACKUPS_CONFIG`, else the XDG path). A completer sees no other flag, so `--config` and
/// `--demo` cannot be taken into account; nothing is validated or printed, a shell is waiting.
fn account_names() -> Vec<CompletionCandidate> {
    let env = |k: &str| std::env::var(k).ok();
    let Some((path, _)) = crate::config::config_path(None, &env) else {
        return Vec::new();
    };
    let Ok(table) = std::fs::read_to_string(path).map(|t| t.parse::<toml::Table>()) else {
        return Vec::new();
    };
    let accounts = table.ok().and_then(|mut t| t.remove("accounts"));
    match accounts {
        Some(toml::Value::Table(accounts)) => {
            accounts.keys().map(CompletionCandidate::new).collect()
        }
        _ => Vec::new(),
    }
}

/// Parses the process arguments (exits with code 2 and a message on a usage error). Under
/// `COMPLETE=<shell>` it instead prints the dynamic completion script, or answers a completion
/// request from that script, and exits.
pub fn parse() -> Cli {
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && nagios_asked(&args) => {
            // A Nagios plugin's usage error is UNKNOWN (exit 3) on stdout, not clap's 2.
            print!("{}", crate::monitor::nagios::unknown(&clap_message(&e)));
            std::process::exit(i32::from(crate::monitor::nagios::State::Unknown.code()));
        }
        Err(e) => e.exit(),
    }
}

/// Whether the command line asks for `-o nagios` (`-o nagios`, `-onagios`, `-o=nagios`,
/// `--output nagios`, `--output=nagios`), even if it is otherwise wrong.
fn nagios_asked(args: &[std::ffi::OsString]) -> bool {
    let args: Vec<std::borrow::Cow<str>> = args.iter().map(|a| a.to_string_lossy()).collect();
    args.iter().enumerate().any(|(i, a)| {
        let next = args.get(i + 1).map(|n| n.as_ref());
        match a.as_ref() {
            "-o" | "--output" => next == Some("nagios"),
            "-onagios" | "-o=nagios" | "--output=nagios" => true,
            _ => false,
        }
    })
}

/// clap's error as one line: its first line without `error: `.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// The clap command tree, for completion scripts and man pages.
pub(crate) fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("backups").chain(args.iter().copied()))
    }

    fn list(args: &[&str]) -> ListArgs {
        match parse(&[&["list"], args].concat()).unwrap().command {
            Command::List(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = parse(&["list", "--demo", "-p", "huawei,bycloud", "-vv"]).unwrap();
        assert!(cli.global.demo);
        assert_eq!(cli.global.verbose, 2);
        let Command::List(args) = cli.command else {
            panic!()
        };
        assert_eq!(
            args.selection.providers,
            [
                ProviderChoice::Only(ProviderId::Huawei),
                ProviderChoice::Only(ProviderId::Bycloud)
            ]
        );
    }

    #[test]
    fn values_are_parsed_into_the_library_types() {
        let args = list(&[
            "-p",
            "ALL",
            "--status",
            "Error,deleted",
            "--sort",
            "-size",
            "--columns",
            "id,age",
            "--since",
            "36h",
            "-o",
            "csv",
        ]);
        assert_eq!(args.selection.providers, [ProviderChoice::All]);
        assert_eq!(args.selection.statuses, [Status::Error, Status::Deleted]);
        assert_eq!(args.sort, Some("-size".parse().unwrap()));
        assert_eq!(args.columns, ["id".parse().unwrap(), Column::Age]);
        assert_eq!(
            args.selection.since,
            Some(TimeBound::Ago(chrono::Duration::hours(36)))
        );
        assert_eq!(args.output, Some(Format::Csv));
        assert_eq!(
            list(&["--sort", "-age"]).sort,
            Some("-created_at".parse().unwrap())
        );
    }

    #[test]
    fn a_typo_is_a_clap_error_with_a_suggestion() {
        let err = parse(&["list", "--provider", "huawai"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let text = err.to_string();
        assert!(text.contains("'huawai'"), "{text}");
        assert!(text.contains("huawei"), "a suggestion: {text}");
        let err = parse(&["list", "--since", "yesterday"]).unwrap_err();
        assert!(err.to_string().contains("not a time"), "{err}");
    }

    #[test]
    fn each_command_takes_only_the_formats_it_prints() {
        for (cmd, ok, refused) in [
            (
                "list",
                &["table", "json", "ndjson", "csv", "tsv"][..],
                &[][..],
            ),
            ("audit", &["table", "json", "ndjson", "tsv"], &["csv"]),
            ("diff", &["table", "json", "ndjson", "csv", "tsv"], &[]),
            ("accounts", &["table", "json"], &["csv", "tsv", "ndjson"]),
            ("providers", &["table", "json"], &["csv", "tsv", "ndjson"]),
        ] {
            for f in ok {
                assert!(parse(&[cmd, "-o", f]).is_ok(), "{cmd} -o {f}");
            }
            for f in refused {
                assert!(parse(&[cmd, "-o", f]).is_err(), "{cmd} -o {f}");
            }
        }
    }

    #[test]
    fn no_color_is_color_never_and_wins() {
        let when = |args: &[&str]| parse(args).unwrap().global.color_when();
        assert_eq!(when(&["providers"]), ColorWhen::Auto);
        assert_eq!(when(&["providers", "--color", "always"]), ColorWhen::Always);
        assert_eq!(when(&["providers", "--no-color"]), ColorWhen::Never);
        assert_eq!(
            when(&["--color", "always", "providers", "--no-color"]),
            ColorWhen::Never
        );
        assert_eq!(
            when(&["--no-color", "providers", "--color", "always"]),
            ColorWhen::Never
        );
    }

    #[test]
    fn every_subcommand_has_a_man_page() {
        let pages: Vec<&str> = ManPage::value_variants().iter().map(|p| p.name()).collect();
        let commands: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        assert_eq!(pages, commands);
        for p in ManPage::value_variants() {
            assert_eq!(p.to_possible_value().unwrap().get_name(), p.name());
        }
    }

    #[test]
    fn global_options_have_their_own_heading() {
        let cmd = Cli::command();
        let config = cmd
            .get_arguments()
            .find(|a| a.get_id() == "config")
            .unwrap();
        assert_eq!(config.get_help_heading(), Some("Global options"));
    }
}
