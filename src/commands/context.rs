//! What every command shares, built once from the global flags: "now", the output choices
//! (colour, width, whether stdout is a terminal), the HTTP client, the accounts and row filter
//! of a selection, and the one-line-per-failure report.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::cli::{ColorWhen, GlobalArgs, ProviderChoice, Selection};
use crate::config::{self, Account};
use crate::error::{Error, Outcome, Result};
use crate::filter::{Filter, NameGlob, TimeBound};
use crate::http::{Http, HttpOptions, ProxyEnv, RetryPolicy};
use crate::model::ProviderId;
use crate::providers::{Deadline, ListOptions};
use crate::render::{self, Format};

/// The shared state of one run.
#[derive(Debug)]
pub(crate) struct Context {
    /// "Now": the clock, or `BACKUPS_NOW` (RFC 3339) so tests and golden files can pin it.
    pub(crate) now: DateTime<Utc>,
    /// Colour the table on stdout (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, `TERM`).
    pub(crate) color: bool,
    /// The width tables fit: `COLUMNS`, else the terminal's; `None` in a pipe.
    pub(crate) width: Option<u16>,
    /// Whether stdout is a terminal (machine formats by default when it is not).
    pub(crate) stdout_tty: bool,
    /// Whether stderr is a terminal (progress is drawn only there).
    pub(crate) stderr_tty: bool,
    config: Option<PathBuf>,
    demo: bool,
    timeout: Duration,
    retries: u32,
    /// When the run started: `--deadline` counts from here.
    started: std::time::Instant,
    deadline: Option<chrono::Duration>,
    max_requests: Option<usize>,
}

/// The accounts of a selection. Holds the demo emulator, when there is one, for as long as
/// the accounts are used.
pub(crate) struct Accounts {
    /// The selected accounts, in config order.
    pub(crate) list: Vec<Account>,
    /// The config's `[defaults]` (none for the demo).
    pub(crate) defaults: config::Defaults,
    /// Every account's name, selected or not (`audit --expect ACCOUNT:RES`).
    pub(crate) names: Vec<String>,
    /// The config's `[audit]` table (none for the demo).
    pub(crate) audit: config::AuditConfig,
    /// The config's `[inventory]` table (none for the demo).
    pub(crate) inventory: config::InventoryConfig,
    _emulator: Option<EmulatorHandle>,
}

#[cfg(feature = "emulator")]
type EmulatorHandle = crate::emulator::Emulator;
#[cfg(not(feature = "emulator"))]
type EmulatorHandle = std::convert::Infallible;

impl Context {
    /// Reads the global flags and the environment once.
    pub(crate) fn new(g: &GlobalArgs) -> Context {
        let stdout_tty = io::stdout().is_terminal();
        Context {
            now: now(),
            color: use_color(g.color_when()),
            width: table_width(stdout_tty),
            stdout_tty,
            stderr_tty: io::stderr().is_terminal(),
            config: g.config.clone(),
            demo: g.demo,
            timeout: Duration::from_secs(g.timeout),
            retries: g.retries,
            started: std::time::Instant::now(),
            deadline: g.deadline,
            max_requests: g.max_requests.map(usize::from),
        }
    }

    /// The listing settings of the whole run: `--deadline` and `--max-requests`, else the
    /// config's `[defaults]`, else none and the library's default.
    pub(crate) fn list_options(&self, defaults: &config::Defaults) -> ListOptions {
        let deadline = self.deadline.or(defaults.deadline).and_then(|d| {
            let after = d.to_std().ok()?;
            Some(Deadline {
                at: self.started.checked_add(after)?,
                after,
            })
        });
        ListOptions {
            deadline,
            max_requests: self
                .max_requests
                .or(defaults.max_requests)
                .unwrap_or(crate::providers::DEFAULT_MAX_REQUESTS),
            ..ListOptions::default()
        }
    }

    /// The format asked for, else a table on a terminal and tsv in a pipe.
    pub(crate) fn format_or_default(&self, asked: Option<Format>) -> Format {
        match asked {
            Some(f) => f,
            None if self.stdout_tty => Format::Table,
            None => Format::Tsv,
        }
    }

    /// The shared HTTP client for `--timeout` and `--retries`, with the environment's proxies
    /// (`HTTPS_PROXY`, `NO_PROXY`, …); a proxy variable that makes no sense is a configuration
    /// error naming it.
    pub(crate) fn http(&self) -> Result<Http> {
        let proxy = ProxyEnv::from_env(&|k| std::env::var(k).ok()).map_err(Error::config)?;
        Http::new(HttpOptions {
            timeout: self.timeout,
            retry: RetryPolicy {
                max_tries: self.retries + 1,
                ..RetryPolicy::default()
            },
            proxy,
            ..HttpOptions::default()
        })
    }

    /// The accounts to use: the demo emulator's, or the config file's and the environment's;
    /// then narrowed by `--provider` and `--account`.
    pub(crate) async fn accounts(&self, sel: &Selection) -> anyhow::Result<Accounts> {
        let (mut cfg, emulator, source) = if self.demo {
            let (accounts, emu) = start_demo(self.now)
                .await
                .context("starting the demo emulator")?;
            let cfg = config::Config {
                accounts,
                ..Default::default()
            };
            (cfg, Some(emu), "the demo".to_string())
        } else {
            let (cfg, path) = self.configured_accounts()?;
            (cfg, None, path)
        };
        let all = std::mem::take(&mut cfg.accounts);
        Ok(Accounts {
            names: all.iter().map(|a| a.name.clone()).collect(),
            list: select(all, sel, &source)?,
            defaults: cfg.defaults,
            audit: cfg.audit,
            inventory: cfg.inventory,
            _emulator: emulator,
        })
    }

    /// The config's `[inventory]` table alone, for commands that need no account (`diff`);
    /// none for the demo. A missing config file is fine unless it was named.
    pub(crate) fn inventory_config(&self) -> Result<config::InventoryConfig> {
        if self.demo {
            return Ok(config::InventoryConfig::default());
        }
        let env = |k: &str| std::env::var(k).ok();
        match config::config_path(self.config.as_deref(), &env) {
            Some((path, explicit)) => config::load_inventory(&path, explicit, &env),
            None => Ok(config::InventoryConfig::default()),
        }
    }

    /// The config file's accounts plus those the environment's credentials make, for
    /// providers the file does not cover (in the returned config's `accounts`), and where
    /// they came from, for messages.
    fn configured_accounts(&self) -> Result<(config::Config, String)> {
        let env = |k: &str| std::env::var(k).ok();
        let (path, explicit) =
            config::config_path(self.config.as_deref(), &env).ok_or_else(|| {
                Error::config("no config file: set --config, $BACKUPS_CONFIG or $HOME")
            })?;
        let mut cfg = config::load(&path, explicit, &env)?;
        let configured: Vec<ProviderId> = cfg.accounts.iter().map(Account::provider).collect();
        cfg.accounts
            .extend(config::env_accounts(&configured, &env)?);
        if cfg.accounts.is_empty() {
            return Err(Error::config(format!(
                "no accounts configured in {} (see the README for the format), or try `backups list --demo`",
                path.display()
            )));
        }
        Ok((cfg, path.display().to_string()))
    }

    /// The row filter of the selection flags, with time bounds resolved against now.
    pub(crate) fn filter(&self, sel: &Selection) -> Result<Filter> {
        let mut statuses = Vec::new();
        for s in &sel.statuses {
            if !statuses.contains(s) {
                statuses.push(*s);
            }
        }
        let bound = |flag: &str, b: Option<TimeBound>| {
            b.map(|b| {
                b.resolve(self.now)
                    .ok_or_else(|| Error::usage(format!("{flag}: too far in the past")))
            })
            .transpose()
        };
        let since = bound("--since", sel.since)?;
        let until = bound("--until", sel.until)?;
        if let (Some(a), Some(b)) = (since, until) {
            if a > b {
                return Err(Error::usage(
                    "--since is later than --until: nothing could match",
                ));
            }
        }
        Ok(Filter {
            statuses,
            since,
            until,
            name: sel.name.as_deref().map(NameGlob::new).transpose()?,
            resource: sel.resource.clone().filter(|r| !r.trim().is_empty()),
            ..Filter::default()
        })
    }

    /// Says once, on stderr, how many rows `--since`/`--until` left out for having no
    /// creation time (they can never match a time bound).
    pub(crate) fn note_timeless_left_out(&self, filter: &Filter) {
        let n = filter.timeless_left_out.get();
        let flags = match (filter.since.is_some(), filter.until.is_some()) {
            _ if n == 0 => return,
            (true, true) => "--since and --until",
            (true, false) => "--since",
            (false, _) => "--until",
        };
        let s = if n == 1 { "" } else { "s" };
        eprintln!("backups: {flags} left out {n} backup{s} without a creation time");
    }

    /// One stderr line per failed account (`backups: <account>: <cause>`); the exit code.
    pub(crate) fn report_failures(&self, failures: &[Error]) -> Outcome {
        let mut err = io::stderr().lock();
        for f in failures {
            let _ = writeln!(err, "backups: {f}");
        }
        Outcome::of_failures(failures)
    }
}

/// Writes to stdout through a buffer, flushed at the end; a failed write names stdout.
pub(crate) fn write_stdout(
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    write(&mut out)
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// "Now": the clock, or `BACKUPS_NOW` (RFC 3339) so tests and golden files can pin it.
fn now() -> DateTime<Utc> {
    std::env::var("BACKUPS_NOW")
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// Whether to colour stdout. `auto` follows anstream: never with `NO_COLOR`, always with
/// `CLICOLOR_FORCE`, else on a terminal whose `TERM` is set and not `dumb`.
fn use_color(when: ColorWhen) -> bool {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never
}

/// The table width: `COLUMNS`, else the terminal's, else none (no fitting in a pipe).
fn table_width(stdout_tty: bool) -> Option<u16> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
    {
        return Some(n.max(20));
    }
    stdout_tty.then(render::terminal_width).flatten()
}

/// Starts the in-process emulator and returns its demo accounts.
#[cfg(feature = "emulator")]
async fn start_demo(now: DateTime<Utc>) -> Result<(Vec<Account>, EmulatorHandle)> {
    let emu = crate::emulator::Emulator::start(crate::emulator::EmulatorOptions {
        now,
        ..Default::default()
    })
    .await?;
    Ok((emu.accounts()?, emu))
}

#[cfg(not(feature = "emulator"))]
async fn start_demo(_now: DateTime<Utc>) -> Result<(Vec<Account>, EmulatorHandle)> {
    Err(Error::usage(
        "--demo needs the `emulator` feature (built without it)",
    ))
}

/// Narrows accounts by `--provider` and `--account`; unknown account names and an empty
/// result are usage errors naming `source` (the config file, or the demo).
fn select(all: Vec<Account>, sel: &Selection, source: &str) -> Result<Vec<Account>> {
    let providers: Vec<ProviderId> = if sel.providers.contains(&ProviderChoice::All) {
        Vec::new()
    } else {
        sel.providers
            .iter()
            .filter_map(|p| match p {
                ProviderChoice::Only(p) => Some(*p),
                ProviderChoice::All => None,
            })
            .collect()
    };
    if let Some(name) = sel
        .accounts
        .iter()
        .find(|n| !all.iter().any(|a| &a.name == *n))
    {
        let known: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
        return Err(Error::usage(format!(
            "--account `{name}`: no such account in {source} (known: {})",
            known.join(", ")
        )));
    }
    let chosen: Vec<Account> = all
        .into_iter()
        .filter(|a| providers.is_empty() || providers.contains(&a.provider()))
        .filter(|a| sel.accounts.is_empty() || sel.accounts.contains(&a.name))
        .collect();
    if chosen.is_empty() {
        let names = |v: Vec<String>| {
            if v.is_empty() {
                "any".into()
            } else {
                v.join(",")
            }
        };
        return Err(Error::usage(format!(
            "no account in {source} matches the selection (--provider {} --account {})",
            names(providers.iter().map(|p| p.to_string()).collect()),
            names(sel.accounts.clone())
        )));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            now: "2026-11-23T12:00:00Z".parse().unwrap(),
            color: false,
            width: None,
            stdout_tty: false,
            stderr_tty: false,
            config: None,
            demo: true,
            timeout: Duration::from_secs(30),
            retries: 3,
            started: std::time::Instant::now(),
            deadline: None,
            max_requests: None,
        }
    }

    #[test]
    fn time_bounds_resolve_against_now() {
        let sel = Selection {
            since: Some("36h".parse().unwrap()),
            until: Some("2026-11-23".parse().unwrap()),
            ..Selection::default()
        };
        let f = ctx().filter(&sel).unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-11-22T00:00:00+00:00");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-11-23T00:00:00+00:00");
    }

    #[test]
    fn bounds_that_cannot_match_are_usage_errors() {
        let sel = Selection {
            since: Some("1h".parse().unwrap()),
            until: Some("2d".parse().unwrap()),
            ..Selection::default()
        };
        let err = ctx().filter(&sel).unwrap_err();
        assert_eq!(err.outcome(), Outcome::Usage);
        assert_eq!(
            err.to_string(),
            "--since is later than --until: nothing could match"
        );
        let far = Selection {
            // Ages past 100 years are refused when parsed; the check still holds here.
            since: Some(TimeBound::Ago(chrono::TimeDelta::MAX)),
            ..Selection::default()
        };
        assert_eq!(
            ctx().filter(&far).unwrap_err().to_string(),
            "--since: too far in the past"
        );
    }

    #[test]
    fn the_default_format_is_a_table_only_on_a_terminal() {
        let mut c = ctx();
        assert_eq!(c.format_or_default(None), Format::Tsv);
        assert_eq!(c.format_or_default(Some(Format::Json)), Format::Json);
        c.stdout_tty = true;
        assert_eq!(c.format_or_default(None), Format::Table);
    }
}
