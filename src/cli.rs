//! The command line, declared with clap derive. The only module that knows about clap.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (also when stdout closes early, e.g. `| head`)
  1  audit found problems
  2  usage or configuration error
  3  at least one account failed (the others are still printed)";

/// List the backups you have across Oracle Compute Classic, Z.com, Huawei Cloud CBR,
/// Cloud Foundry and ByCloud in one view.
#[derive(Debug, Parser)]
#[command(name = "backups", version, about, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// Options for every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file [default: $BACKUPS_CONFIG, else $XDG_CONFIG_HOME/backups/config.toml, else ~/.config/backups/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Use the built-in emulator and its demo accounts instead of the config
    #[arg(long, global = true)]
    pub demo: bool,
    /// Log requests to stderr (-v), with more detail (-vv); secrets are never logged
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Whole-request timeout in seconds (connect, headers and body)
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Retries of a failed request (connect errors, timeouts, 429, 502, 503, 504)
    #[arg(long, global = true, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Never colour output (also NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// When to colour the table
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// `--color` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal unless NO_COLOR is set
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List backups of the selected accounts (all configured accounts by default)
    List(ListArgs),
    /// Check freshness and failures (for cron): exit 1 when something is wrong
    Audit(AuditArgs),
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
        shell: Shell,
    },
    /// Print the man page (roff)
    Man,
}

/// Shells for `completions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash
    Bash,
    /// Zsh
    Zsh,
    /// Fish
    Fish,
    /// PowerShell
    Powershell,
    /// Elvish
    Elvish,
}

/// Which accounts and rows: shared by `list` and `audit`.
#[derive(Debug, Args, Clone, Default)]
pub struct Selection {
    /// Provider: oracle, zcom, huawei, cf, bycloud, all (repeatable or comma list)
    #[arg(short, long = "provider", value_name = "P", value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Account name from the config (repeatable or comma list)
    #[arg(short, long = "account", value_name = "NAME", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Normalised status: available, creating, restoring, deleting, deleted, cancelled, error, unknown (repeatable)
    #[arg(long = "status", value_name = "S", value_delimiter = ',')]
    pub statuses: Vec<String>,
    /// Created at or after: RFC 3339, or an age like 36h, 7d
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Created at or before: RFC 3339, or an age like 36h, 7d
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Glob on the backup name, e.g. 'web-*'
    #[arg(long, value_name = "PATTERN")]
    pub name: Option<String>,
    /// Resource id or resource name equals
    #[arg(long, value_name = "ID_OR_NAME")]
    pub resource: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table (default on a terminal)
    Table,
    /// One JSON array
    Json,
    /// One JSON object per line
    Ndjson,
    /// Comma-separated with a header row
    Csv,
    /// Tab-separated with a header row (default in a pipe)
    Tsv,
}

/// `backups list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which accounts and rows
    #[command(flatten)]
    pub selection: Selection,
    /// Sort key: created_at (newest first), name, size, status, provider; prefix - to reverse
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Print at most N rows after sorting
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Output format [default: table on a terminal, tsv otherwise]
    #[arg(short, long, value_enum, value_name = "F")]
    pub output: Option<Format>,
    /// Columns for table, csv and tsv: any model field, comma separated
    #[arg(long, value_name = "a,b,c", value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Pages fetched at once per account where the API allows it
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Stop an account with an error after this many pages (guards against looping servers)
    #[arg(long, value_name = "N", default_value_t = std::num::NonZeroU64::new(100_000).expect("non-zero"))]
    pub max_pages: std::num::NonZeroU64,
}

/// `backups audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Which accounts and rows
    #[command(flatten)]
    pub selection: Selection,
    /// The newest available backup of each resource must be younger than this [default: 26h, or the account's audit_max_age]
    #[arg(long, value_name = "DUR")]
    pub max_age: Option<String>,
    /// Output format: table, json or ndjson
    #[arg(short, long, value_enum, value_name = "F")]
    pub output: Option<Format>,
}

/// `backups accounts`.
#[derive(Debug, Args)]
pub struct AccountsArgs {
    /// Also try each account's authentication; exit 3 if any fails
    #[arg(long)]
    pub check: bool,
    /// Output format: table or json
    #[arg(short, long, value_enum, value_name = "F")]
    pub output: Option<Format>,
}

/// `backups providers`.
#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// Output format: table or json
    #[arg(short, long, value_enum, value_name = "F")]
    pub output: Option<Format>,
}

/// `backups emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port of the base URL (0 = ephemeral); each API gets its own listener
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Delay added to every response, in milliseconds
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub latency_ms: u64,
    /// Backups per demo account
    #[arg(long, value_name = "N")]
    pub scale: Option<usize>,
    /// Inject faults: 429s, 503s, expiring sessions, a slow and a broken account
    #[arg(long)]
    pub faults: bool,
    /// Write a config for the demo accounts to FILE
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
}

/// Parses the process arguments (exits with code 2 and a message on a usage error).
pub fn parse() -> Cli {
    Cli::parse()
}

/// Writes a completion script for `shell` to `out`.
pub fn completions(shell: Shell, out: &mut dyn std::io::Write) {
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
        Shell::Elvish => clap_complete::Shell::Elvish,
    };
    clap_complete::generate(shell, &mut cmd, "backups", out);
}

/// Writes the man page (roff) to `out`.
pub fn man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["backups", "list", "--demo", "-p", "huawei,bycloud", "-vv"])
            .unwrap();
        assert!(cli.global.demo);
        assert_eq!(cli.global.verbose, 2);
        let Command::List(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.selection.providers, ["huawei", "bycloud"]);
    }

    #[test]
    fn sort_accepts_a_leading_dash() {
        let cli = Cli::try_parse_from(["backups", "list", "--sort", "-size"]).unwrap();
        let Command::List(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.sort.as_deref(), Some("-size"));
    }
}
