//! `audit`'s judging and rendering, pure (the command is `commands::audit`): freshness,
//! failure and policy findings for cron (`docs/cli.md#audit`, exit codes
//! `docs/cli.md#exit-codes-stable`).
//!
//! Resources are keyed by (account, resource): `resource_id`, else `resource_name`, else the
//! account's unattributed bucket `-`. For each resource:
//! - `stale`: the newest `available` backup is older than the max age, or there is none;
//!   when newer backups are still in progress, the message says since when.
//! - `failed`: a backup in `error` or `cancelled` created within the window (now - max age).
//! - `unknown_age`: the resource's backups carry no creation time (Oracle reports none), so
//!   freshness cannot be proven; an unknown age is never taken as healthy. A failed backup
//!   without a time is reported as `failed` too, since it may be recent.
//! - `retention`: a `keep` rule (`daily=7`, `weekly=4`, `monthly=6`) has a period before the
//!   current one with no `available` backup created in it; one finding per rule, naming the
//!   most recent such period.
//!
//! And beyond the rows:
//! - `missing`: an `expect` entry that no backup row names (by resource_id or resource_name),
//!   in its scope; or a resource the provider lists itself that has no backup at all (Cloud
//!   Foundry service instances whose backups call answered).
//! - `account_failed`: the account could not be listed; exit 3, never silence. No other
//!   finding is made for it: an unpinned `expect` entry is not judged while one failed.
//! - `vanished` is made by the inventory comparison (`docs/cli.md#the-inventory`), not here;
//!   [`add_findings`] joins those findings to these.
//!
//! Policy comes from the flags, then the account, then the config's `[audit]` table, then the
//! defaults ([`Policy`]); `max_age` and `keep` come whole from the first that sets them,
//! `expect` is the union.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Account;
use crate::duration;
use crate::error::{Error, Outcome};
use crate::model::{Backup, ProviderId, Status};
use crate::providers::KnownResource;

/// The default freshness threshold.
pub(crate) const DEFAULT_MAX_AGE_HOURS: i64 = 26;

/// What is wrong with a resource (`docs/cli.md#audit`; the names are stable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FindingKind {
    /// The account could not be listed.
    AccountFailed,
    /// A backup failed or was cancelled within the window.
    Failed,
    /// No available backup younger than the max age.
    Stale,
    /// No creation times, so freshness cannot be checked.
    UnknownAge,
    /// An expected resource, or one the provider lists, has no backup at all.
    Missing,
    /// A `keep` rule is not met.
    Retention,
    /// A backup is gone from the listing before its time (made by the inventory comparison).
    Vanished,
}

impl FindingKind {
    /// Every kind, in output order: what `backups_findings{kind}` counts.
    pub(crate) const ALL: [FindingKind; 7] = [
        FindingKind::AccountFailed,
        FindingKind::Failed,
        FindingKind::Stale,
        FindingKind::UnknownAge,
        FindingKind::Missing,
        FindingKind::Retention,
        FindingKind::Vanished,
    ];

    /// The name in output lines, the same as in JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FindingKind::AccountFailed => "account_failed",
            FindingKind::Failed => "failed",
            FindingKind::Stale => "stale",
            FindingKind::UnknownAge => "unknown_age",
            FindingKind::Missing => "missing",
            FindingKind::Retention => "retention",
            FindingKind::Vanished => "vanished",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: a line of output, or an object in `-o json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Finding {
    /// The provider; null for an expected resource found in no selected account.
    pub(crate) provider: Option<ProviderId>,
    /// The account; null as the provider is.
    pub(crate) account: Option<String>,
    /// The resource key (`resource_id`, else `resource_name`, else `-`; for `missing`, the
    /// `expect` entry or the provider's id); null for account failures.
    pub(crate) resource: Option<String>,
    /// The resource's name, when known.
    pub(crate) resource_name: Option<String>,
    /// What is wrong.
    pub(crate) kind: FindingKind,
    /// In words.
    pub(crate) message: String,
    /// The backup the finding is about (the failed one), if any.
    pub(crate) backup_id: Option<String>,
    /// The newest available backup's id, if any.
    pub(crate) newest_available_id: Option<String>,
    /// Its creation time.
    pub(crate) newest_available_at: Option<String>,
    /// Its age in seconds at audit time.
    pub(crate) newest_available_age_seconds: Option<i64>,
    /// The threshold applied, in seconds; null when no account is concerned.
    pub(crate) max_age_seconds: Option<i64>,
}

impl Finding {
    /// A finding about `account` with nothing known of its backups.
    fn of_account(
        account: &Account,
        kind: FindingKind,
        message: String,
        max_age: Duration,
    ) -> Self {
        Finding {
            provider: Some(account.provider()),
            account: Some(account.name.clone()),
            resource: None,
            resource_name: None,
            kind,
            message,
            backup_id: None,
            newest_available_id: None,
            newest_available_at: None,
            newest_available_age_seconds: None,
            max_age_seconds: Some(max_age.num_seconds()),
        }
    }
}

/// The audit's result for `-o json`.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// When the audit ran (RFC 3339).
    pub(crate) audited_at: String,
    /// Findings, ordered by provider, account, resource and kind; those of no account last.
    pub(crate) findings: Vec<Finding>,
    /// Counts.
    pub(crate) summary: Summary,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Accounts audited.
    pub(crate) accounts: usize,
    /// Accounts that could not be listed.
    pub(crate) failed_accounts: usize,
    /// Resources judged: those with backup rows, and those the provider lists without any.
    pub(crate) resources: usize,
    /// Findings.
    pub(crate) findings: usize,
}

/// The period of a retention rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Period {
    /// UTC calendar days before the audit's day.
    Daily,
    /// ISO weeks (Monday to Sunday, UTC) before the current one.
    Weekly,
    /// Calendar months (UTC) before the current one.
    Monthly,
}

impl Period {
    /// Every period, in the order rules are judged and written.
    pub(crate) const ALL: [Period; 3] = [Period::Daily, Period::Weekly, Period::Monthly];

    /// The rule's name (`daily`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }
}

/// A `keep` policy (`daily=7,weekly=4,monthly=6`): how many periods before the current one
/// must each hold an `available` backup. A rule not given is not checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Keep {
    /// `daily=N`.
    pub(crate) daily: Option<u32>,
    /// `weekly=N`.
    pub(crate) weekly: Option<u32>,
    /// `monthly=N`.
    pub(crate) monthly: Option<u32>,
}

impl Keep {
    /// The largest N a rule takes: enough for any retention, small enough that the periods
    /// stay within the calendar.
    pub(crate) const MAX: u32 = 10_000;

    /// The rules set, in [`Period::ALL`] order.
    pub(crate) fn rules(&self) -> impl Iterator<Item = (Period, u32)> + '_ {
        Period::ALL
            .into_iter()
            .filter_map(|p| self.get(p).map(|n| (p, n)))
    }

    fn get(&self, p: Period) -> Option<u32> {
        match p {
            Period::Daily => self.daily,
            Period::Weekly => self.weekly,
            Period::Monthly => self.monthly,
        }
    }

    fn slot(&mut self, p: Period) -> &mut Option<u32> {
        match p {
            Period::Daily => &mut self.daily,
            Period::Weekly => &mut self.weekly,
            Period::Monthly => &mut self.monthly,
        }
    }

    /// Whether no rule is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules().next().is_none()
    }
}

/// `daily=7,weekly=4`: the syntax of `--keep`, `audit_keep` and `[audit] keep`.
impl FromStr for Keep {
    type Err = String;

    fn from_str(s: &str) -> Result<Keep, String> {
        let example = "rules like daily=7,weekly=4,monthly=6";
        if s.trim().is_empty() {
            return Err(format!("empty; expected {example}"));
        }
        let mut keep = Keep::default();
        for part in s.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(format!("`{}`: an empty rule; expected {example}", s.trim()));
            }
            let Some((name, n)) = part.split_once('=') else {
                return Err(format!("`{part}`: expected {example}"));
            };
            let (name, n) = (name.trim(), n.trim());
            let Some(period) = Period::ALL.into_iter().find(|p| p.as_str() == name) else {
                return Err(format!(
                    "`{name}`: unknown rule (expected daily, weekly or monthly)"
                ));
            };
            let n = n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=Keep::MAX).contains(n))
                .ok_or_else(|| {
                    format!(
                        "`{part}`: the count must be a whole number from 1 to {}",
                        Keep::MAX
                    )
                })?;
            let slot = keep.slot(period);
            if slot.is_some() {
                return Err(format!("`{name}` is given twice"));
            }
            *slot = Some(n);
        }
        Ok(keep)
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self
            .rules()
            .map(|(p, n)| format!("{}={n}", p.as_str()))
            .collect();
        f.write_str(&rules.join(","))
    }
}

/// The most recent of the `n` periods before the one holding `today` that has no day in
/// `days` (the UTC days of the resource's available backups), as the message names it:
/// `2026-11-28`, `2026-W47`, `2026-10`.
fn retention_gap(
    period: Period,
    n: u32,
    days: &BTreeSet<NaiveDate>,
    today: NaiveDate,
) -> Option<String> {
    let has = |from: NaiveDate, until: NaiveDate| days.range(from..until).next().is_some();
    for k in 1..=u64::from(n) {
        // Each period as [from, until); the calendar cannot run out for n <= Keep::MAX.
        let (from, until, label) = match period {
            Period::Daily => {
                let day = today.checked_sub_days(Days::new(k))?;
                (day, day.succ_opt()?, day.format("%Y-%m-%d").to_string())
            }
            Period::Weekly => {
                let monday = today
                    .checked_sub_days(Days::new(today.weekday().num_days_from_monday().into()))?;
                let from = monday.checked_sub_days(Days::new(7 * k))?;
                let week = from.iso_week();
                let label = format!("{}-W{:02}", week.year(), week.week());
                (from, from.checked_add_days(Days::new(7))?, label)
            }
            Period::Monthly => {
                let first = today.with_day(1)?;
                let from = first.checked_sub_months(Months::new(u32::try_from(k).ok()?))?;
                let until = first.checked_sub_months(Months::new(u32::try_from(k - 1).ok()?))?;
                (from, until, from.format("%Y-%m").to_string())
            }
        };
        if !has(from, until) {
            return Some(label);
        }
    }
    None
}

/// The retention message for a gap: `no available backup on 2026-11-28 (daily=7)`.
fn retention_message(period: Period, n: u32, gap: &str) -> String {
    let on = if period == Period::Daily { "on" } else { "in" };
    format!("no available backup {on} {gap} ({}={n})", period.as_str())
}

/// Where an `expect` entry came from; the `missing` message names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ExpectSource {
    /// `--expect`.
    Flag,
    /// The account's `audit_expect`.
    Account,
    /// `expect` in the config's `[audit]` table.
    File,
}

impl ExpectSource {
    /// As the user wrote it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExpectSource::Flag => "--expect",
            ExpectSource::Account => "audit_expect",
            ExpectSource::File => "[audit] expect",
        }
    }
}

/// One source's audit settings: the command line, or the config's `[audit]` table.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PolicyLayer {
    /// `--max-age` / `max_age`.
    pub(crate) max_age: Option<Duration>,
    /// `--keep` / `keep`.
    pub(crate) keep: Option<Keep>,
    /// `--expect` / `expect`: resource ids or names, each possibly pinned as `ACCOUNT:RES`.
    pub(crate) expect: Vec<String>,
}

/// The policy of one audit: the flags and `[audit]`, between which each account's own
/// `audit_max_age`, `audit_keep` and `audit_expect` sit (`docs/config.md#audit`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Policy {
    /// From the command line.
    pub(crate) flags: PolicyLayer,
    /// From the config's `[audit]` table.
    pub(crate) file: PolicyLayer,
    /// Every account name the run knows, selected or not: an entry `ACCOUNT:RES` pins only
    /// when ACCOUNT is one of these (else the whole entry is a resource name).
    pub(crate) account_names: Vec<String>,
    /// `--resource`: `expect` entries and listed resources outside it are not judged.
    pub(crate) resource: Option<String>,
}

/// An `expect` entry in its scope: one account, or (`None`) any selected account.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Expect {
    account: Option<String>,
    resource: String,
    source: ExpectSource,
}

impl Policy {
    /// The max age for `account`: the flag, else `audit_max_age`, else `[audit]`, else 26h.
    pub(crate) fn max_age(&self, account: &Account) -> Duration {
        self.flags
            .max_age
            .or(account.audit_max_age)
            .or(self.file.max_age)
            .unwrap_or_else(|| Duration::hours(DEFAULT_MAX_AGE_HOURS))
    }

    /// The keep rules for `account`, whole from the first source that sets them.
    pub(crate) fn keep(&self, account: &Account) -> Keep {
        self.flags
            .keep
            .or(account.audit_keep)
            .or(self.file.keep)
            .unwrap_or_default()
    }

    /// Whether `--resource` leaves this resource (any of its names) in the audit.
    fn in_scope(&self, names: &[Option<&str>]) -> bool {
        match &self.resource {
            None => true,
            Some(r) => names.contains(&Some(r.as_str())),
        }
    }

    /// The flags' and `[audit]`'s entries in their scopes, without repeats (the first source
    /// is the one named), and without those `--resource` leaves out.
    fn expectations(&self) -> Vec<Expect> {
        let entries = (self.flags.expect.iter().map(|e| (e, ExpectSource::Flag)))
            .chain(self.file.expect.iter().map(|e| (e, ExpectSource::File)));
        let mut out: Vec<Expect> = Vec::new();
        for (entry, source) in entries {
            let pinned = entry
                .split_once(':')
                .filter(|(a, r)| !r.is_empty() && self.account_names.iter().any(|n| n == a));
            let e = match pinned {
                Some((account, resource)) => Expect {
                    account: Some(account.to_string()),
                    resource: resource.to_string(),
                    source,
                },
                None => Expect {
                    account: None,
                    resource: entry.clone(),
                    source,
                },
            };
            let seen = out
                .iter()
                .any(|o| o.account == e.account && o.resource == e.resource);
            if !seen && self.in_scope(&[Some(&e.resource)]) {
                out.push(e);
            }
        }
        out
    }

    /// The entries scoped to `account`: its `audit_expect` and the entries pinned to it.
    fn account_expectations(&self, account: &Account, all: &[Expect]) -> Vec<Expect> {
        let own = account.audit_expect.iter().map(|r| Expect {
            account: Some(account.name.clone()),
            resource: r.clone(),
            source: ExpectSource::Account,
        });
        let pinned = all
            .iter()
            .filter(|e| e.account.as_deref() == Some(account.name.as_str()))
            .cloned();
        // The first source in precedence order is the one named.
        let mut entries: Vec<Expect> = pinned.chain(own).collect();
        entries.sort_by_key(|e| e.source);
        let mut out: Vec<Expect> = Vec::new();
        for e in entries {
            if !out.iter().any(|o| o.resource == e.resource) && self.in_scope(&[Some(&e.resource)])
            {
                out.push(e);
            }
        }
        out
    }
}

/// Whether a backup row names `entry` (by resource_id or resource_name).
fn row_names(b: &Backup, entry: &str) -> bool {
    b.resource_id.as_deref() == Some(entry) || b.resource_name.as_deref() == Some(entry)
}

/// Whether a listed resource is named `entry`.
fn known_names(r: &KnownResource, entry: &str) -> bool {
    r.resource_id == entry || r.resource_name.as_deref() == Some(entry)
}

/// The rules that judge one account's resources.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    /// Freshness threshold.
    pub(crate) max_age: Duration,
    /// Retention rules.
    pub(crate) keep: Keep,
}

/// The resource a backup belongs to, as the audit keys it: `resource_id`, else
/// `resource_name`, else `-` (the account's unattributed bucket). The metrics' `resource`
/// label is the same key.
pub(crate) fn resource_key(b: &Backup) -> &str {
    b.resource_id
        .as_deref()
        .or(b.resource_name.as_deref())
        .unwrap_or("-")
}

/// Judges one account's rows. Pure: `now` and the rules are passed in. Returns the findings
/// and how many resources were judged.
pub(crate) fn judge(rows: &[Backup], rules: Rules, now: DateTime<Utc>) -> (Vec<Finding>, usize) {
    let mut groups: BTreeMap<(String, String), Vec<&Backup>> = BTreeMap::new();
    for b in rows {
        let key = resource_key(b).to_string();
        groups.entry((b.account.clone(), key)).or_default().push(b);
    }
    let mut findings = Vec::new();
    for ((account, resource), backups) in &groups {
        let resource = Resource {
            account,
            key: resource,
            backups,
        };
        findings.extend(resource.judge(rules, now));
    }
    (findings, groups.len())
}

/// One resource's backups (never empty), keyed by (account, resource).
struct Resource<'a> {
    account: &'a str,
    key: &'a str,
    backups: &'a [&'a Backup],
}

impl Resource<'_> {
    /// Its findings: failed backups in the window, then unknown age or staleness, then
    /// retention, one per rule.
    fn judge(&self, rules: Rules, now: DateTime<Utc>) -> Vec<Finding> {
        let Rules { max_age, keep } = rules;
        let newest_available = self
            .backups
            .iter()
            .filter(|b| b.status == Status::Available && b.created_at.is_some())
            .max_by_key(|b| b.created_at.map(|t| t.utc()));
        let newest_at = newest_available.and_then(|b| b.created_at);
        let finding = |kind, message: String, backup_id: Option<String>| Finding {
            provider: Some(self.backups[0].provider),
            account: Some(self.account.to_string()),
            resource: Some(self.key.to_string()),
            resource_name: self.backups.iter().find_map(|b| b.resource_name.clone()),
            kind,
            message,
            backup_id,
            newest_available_id: newest_available.map(|b| b.id.clone()),
            newest_available_at: newest_at.map(|t| t.to_string()),
            newest_available_age_seconds: newest_at.map(|t| (now - t.utc()).num_seconds()),
            max_age_seconds: Some(max_age.num_seconds()),
        };
        // Checked: a max age reaching back before the earliest time there is (a pinned
        // `BACKUPS_NOW` far in the past) makes the window start at that earliest time.
        let window_start = now
            .checked_sub_signed(max_age)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut findings: Vec<Finding> = self
            .backups
            .iter()
            .filter_map(|b| {
                let message = failure(b, window_start, now)?;
                Some(finding(FindingKind::Failed, message, Some(b.id.clone())))
            })
            .collect();
        if self.backups.iter().all(|b| b.created_at.is_none()) {
            let available = self
                .backups
                .iter()
                .filter(|b| b.status == Status::Available)
                .count();
            findings.push(finding(
                FindingKind::UnknownAge,
                format!("{available} available backups but none has a creation time; freshness cannot be checked"),
                None,
            ));
        } else if let Some(message) = self.staleness(newest_at.map(|t| t.utc()), max_age, now) {
            findings.push(finding(FindingKind::Stale, message, None));
        }
        if !keep.is_empty() {
            let days: BTreeSet<NaiveDate> = self
                .backups
                .iter()
                .filter(|b| b.status == Status::Available)
                .filter_map(|b| b.created_at.map(|t| t.utc().date_naive()))
                .collect();
            let today = now.date_naive();
            for (period, n) in keep.rules() {
                if let Some(gap) = retention_gap(period, n, &days, today) {
                    let message = retention_message(period, n, &gap);
                    findings.push(finding(FindingKind::Retention, message, None));
                }
            }
        }
        findings
    }

    /// What is stale, if the newest available backup is older than `max_age` or missing;
    /// mentions a backup still in progress.
    fn staleness(
        &self,
        newest: Option<DateTime<Utc>>,
        max_age: Duration,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let mut message = match newest {
            Some(t) if now - t <= max_age => return None,
            Some(t) => format!(
                "newest available backup is {} old (max {})",
                duration::human(now - t),
                duration::human(max_age)
            ),
            None => "no available backup".to_string(),
        };
        let in_progress = self
            .backups
            .iter()
            .filter(|b| b.status == Status::Creating)
            .filter_map(|b| b.created_at)
            .min_by_key(|t| t.utc());
        if let Some(t) = in_progress {
            message.push_str(&format!(
                "; a backup has been in progress for {}",
                duration::human(now - t.utc())
            ));
        }
        Some(message)
    }
}

/// What a failed or cancelled backup created since `window_start` (or at an unknown time,
/// since it may be recent) is reported as; `None` for any other backup.
fn failure(b: &Backup, window_start: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    let what = match b.status {
        Status::Error => "failed",
        Status::Cancelled => "was cancelled",
        _ => return None,
    };
    let when = match b.created_at {
        Some(t) if t.utc() >= window_start => format!("{} ago", duration::human(now - t.utc())),
        Some(_) => return None,
        None => "at an unknown time".to_string(),
    };
    Some(format!("backup {} {what} {when}", b.id))
}

/// One account's listing, as `assess` takes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Listing<'a> {
    /// The account.
    pub(crate) account: &'a Account,
    /// Its rows (after the selection's filters), or why it could not be listed.
    pub(crate) rows: Result<&'a [Backup], &'a Error>,
    /// The resources its provider listed apart from their backups.
    pub(crate) resources: &'a [KnownResource],
}

/// A listed account, kept until the unpinned `expect` entries are judged: its rows, and the
/// resources its provider lists without any backup, with the entries that expect each.
struct Listed<'a> {
    account: &'a Account,
    rows: &'a [Backup],
    max_age: Duration,
    empty: Vec<(&'a KnownResource, Vec<ExpectSource>)>,
}

impl Listed<'_> {
    /// Whether a row of this account, or a resource it lists without backups, is `entry`;
    /// an entry naming such a resource is noted on it (one finding, naming both reasons).
    fn claim(&mut self, entry: &str, source: ExpectSource) -> Claim {
        if self.rows.iter().any(|b| row_names(b, entry)) {
            return Claim::Backed;
        }
        let mut hit = false;
        for (r, sources) in &mut self.empty {
            if known_names(r, entry) {
                hit = true;
                if !sources.contains(&source) {
                    sources.push(source);
                }
            }
        }
        if hit {
            Claim::Listed
        } else {
            Claim::Unknown
        }
    }
}

/// What an account says of an `expect` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// A backup row names it.
    Backed,
    /// The provider lists it, without backups (already a `missing` finding).
    Listed,
    /// Nothing names it.
    Unknown,
}

/// `(expected by --expect)`, or nothing.
fn expected_by(sources: &[ExpectSource]) -> String {
    if sources.is_empty() {
        return String::new();
    }
    let mut sources = sources.to_vec();
    sources.sort();
    let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
    format!(" (expected by {})", names.join(" and "))
}

/// Judges every account's listing under `policy`: the findings, ordered by provider, account,
/// resource and kind (those of no account last), and the summary.
pub(crate) fn assess<'a>(
    listings: impl IntoIterator<Item = Listing<'a>>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> (Vec<Finding>, Summary) {
    let expectations = policy.expectations();
    let mut findings = Vec::new();
    let mut summary = Summary::default();
    let mut listed: Vec<Listed<'a>> = Vec::new();
    for Listing {
        account,
        rows,
        resources,
    } in listings
    {
        summary.accounts += 1;
        let max_age = policy.max_age(account);
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                summary.failed_accounts += 1;
                let message = format!("could not be listed: {e}");
                findings.push(Finding::of_account(
                    account,
                    FindingKind::AccountFailed,
                    message,
                    max_age,
                ));
                continue;
            }
        };
        let rules = Rules {
            max_age,
            keep: policy.keep(account),
        };
        let (f, n) = judge(rows, rules, now);
        findings.extend(f);
        let empty: Vec<(&KnownResource, Vec<ExpectSource>)> = resources
            .iter()
            .filter(|r| r.backups == 0)
            .filter(|r| policy.in_scope(&[Some(&r.resource_id), r.resource_name.as_deref()]))
            .map(|r| (r, Vec::new()))
            .collect();
        summary.resources += n + empty.len();
        let mut this = Listed {
            account,
            rows,
            max_age,
            empty,
        };
        for e in policy.account_expectations(account, &expectations) {
            if this.claim(&e.resource, e.source) == Claim::Unknown {
                let message = format!("no backup{}", expected_by(&[e.source]));
                let mut f = Finding::of_account(account, FindingKind::Missing, message, max_age);
                f.resource = Some(e.resource);
                findings.push(f);
            }
        }
        listed.push(this);
    }
    let nowhere = missing_everywhere(&expectations, &mut listed);
    // Not while an account failed: an unpinned resource may be in that one.
    if summary.failed_accounts == 0 {
        findings.extend(nowhere);
    }
    findings.extend(listed.iter().flat_map(unbacked_resources));
    // Stable: a resource's retention findings keep the order of their rules.
    findings.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    summary.findings = findings.len();
    (findings, summary)
}

/// The `missing` findings of the entries pinned to no account that no listed account
/// has: they belong to no account. Every listed account is asked about every entry (an
/// entry naming a listed resource without backups marks it as expected).
fn missing_everywhere(expectations: &[Expect], listed: &mut [Listed<'_>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for e in expectations.iter().filter(|e| e.account.is_none()) {
        let mut claims = Vec::new();
        for l in listed.iter_mut() {
            claims.push(l.claim(&e.resource, e.source));
        }
        if claims.iter().all(|c| *c == Claim::Unknown) {
            findings.push(Finding {
                provider: None,
                account: None,
                resource: Some(e.resource.clone()),
                resource_name: None,
                kind: FindingKind::Missing,
                message: format!(
                    "no backup in any selected account{}",
                    expected_by(&[e.source])
                ),
                backup_id: None,
                newest_available_id: None,
                newest_available_at: None,
                newest_available_age_seconds: None,
                max_age_seconds: None,
            });
        }
    }
    findings
}

/// The `missing` findings of a listed account's resources that have no backup at all (CF
/// service instances whose backups call answered with none).
fn unbacked_resources(l: &Listed<'_>) -> Vec<Finding> {
    l.empty
        .iter()
        .map(|(r, sources)| {
            let what = r
                .resource_type
                .as_deref()
                .unwrap_or("resource")
                .replace('_', " ");
            let message = format!("no backup of this {what}{}", expected_by(sources));
            let mut f = Finding::of_account(l.account, FindingKind::Missing, message, l.max_age);
            f.resource = Some(r.resource_id.clone());
            f.resource_name = r.resource_name.clone();
            f
        })
        .collect()
}

/// Adds findings made outside [`assess`] (the inventory's `vanished`, `docs/cli.md#the-inventory`)
/// to its result: the order and the count stay those [`assess`] gives.
pub(crate) fn add_findings(findings: &mut Vec<Finding>, summary: &mut Summary, more: Vec<Finding>) {
    if more.is_empty() {
        return;
    }
    findings.extend(more);
    findings.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    summary.findings = findings.len();
}

/// Findings sort by provider, account, resource, kind and backup; those of no account last.
type SortKey<'a> = (
    bool,
    Option<ProviderId>,
    Option<&'a str>,
    Option<&'a str>,
    FindingKind,
    Option<&'a str>,
);

fn sort_key(f: &Finding) -> SortKey<'_> {
    (
        f.provider.is_none(),
        f.provider,
        f.account.as_deref(),
        f.resource.as_deref(),
        f.kind,
        f.backup_id.as_deref(),
    )
}

impl Summary {
    /// The exit code of an audit with these counts: an account that could not be listed
    /// outranks findings, which outrank success.
    pub(crate) fn outcome(&self) -> Outcome {
        if self.failed_accounts > 0 {
            Outcome::AccountFailed
        } else if self.findings > 0 {
            Outcome::Findings
        } else {
            Outcome::Success
        }
    }
}

/// The table's columns: the message last, since it is the longest and is never cut.
const TABLE_HEADER: [&str; 6] = [
    "PROVIDER",
    "ACCOUNT",
    "RESOURCE",
    "FINDING",
    "NEWEST GOOD",
    "MESSAGE",
];

/// The tsv header: the JSON names where there is one.
const TSV_HEADER: [&str; 6] = [
    "provider",
    "account",
    "resource",
    "kind",
    "message",
    "newest_good",
];

/// The provider and account cells: `-` for a finding of no account (an expected resource
/// found in no selected account).
fn provider_account(f: &Finding) -> (String, String) {
    (
        f.provider
            .map_or_else(|| "-".to_string(), |p| p.to_string()),
        f.account.clone().unwrap_or_else(|| "-".to_string()),
    )
}

/// The findings as a table for people: the resource by name where it has one, the newest good
/// backup by age. Nothing is cut to a width, since a finding is read whole: lines longer than
/// the terminal wrap, and tsv or json carry the ids and times.
pub(crate) fn write_table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            let resource = f
                .resource_name
                .clone()
                .or_else(|| f.resource.clone())
                .unwrap_or_else(|| "-".to_string());
            let good = match (f.kind, f.newest_available_age_seconds) {
                (FindingKind::AccountFailed, _) => "-".to_string(),
                (_, Some(age)) => format!("{} ago", duration::human(Duration::seconds(age))),
                (_, None) => "none".to_string(),
            };
            let (provider, account) = provider_account(f);
            vec![
                provider,
                account,
                resource,
                f.kind.as_str().to_string(),
                good,
                f.message.clone(),
            ]
        })
        .collect();
    crate::render::simple_table(out, &TABLE_HEADER, &rows, None)
}

/// The findings as tab-separated values with a header row: provider, account, resource (id,
/// and name when it differs), kind, what is wrong, and the newest good backup (id, time, age).
/// Tabs and line breaks inside a cell become spaces, so each finding stays one line of six
/// cells.
pub(crate) fn write_tsv(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    writeln!(out, "{}", TSV_HEADER.join("\t"))?;
    for f in findings {
        let resource = match (&f.resource, &f.resource_name) {
            (Some(r), Some(n)) if n != r => format!("{r} ({n})"),
            (Some(r), _) => r.clone(),
            (None, _) => "-".to_string(),
        };
        let good = match (
            &f.newest_available_id,
            &f.newest_available_at,
            f.newest_available_age_seconds,
        ) {
            (Some(id), Some(at), Some(age)) => {
                let age = duration::human(Duration::seconds(age));
                format!("{id} at {at} ({age} ago)")
            }
            _ if f.kind == FindingKind::AccountFailed => String::new(),
            _ => "none".to_string(),
        };
        let (provider, account) = provider_account(f);
        let cells = [
            provider,
            account,
            resource,
            f.kind.as_str().to_string(),
            f.message.clone(),
            good,
        ];
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.replace(['\t', '\n', '\r'], " "))
            .collect();
        writeln!(out, "{}", cells.join("\t"))?;
    }
    Ok(())
}

/// One JSON object per finding, one per line.
pub(crate) fn write_ndjson(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut *out, f).map_err(io::Error::from)?;
        writeln!(out)?;
    }
    Ok(())
}

/// The whole report as one JSON document.
pub(crate) fn write_json(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    writeln!(out)
}

/// `audit: 3 findings in 42 resources of 5 accounts (1 account failed)`.
pub(crate) fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "audit: {} finding{} in {} resource{} of {} account{}",
        s.findings,
        if s.findings == 1 { "" } else { "s" },
        s.resources,
        if s.resources == 1 { "" } else { "s" },
        s.accounts,
        if s.accounts == 1 { "" } else { "s" }
    );
    if s.failed_accounts > 0 {
        line.push_str(&format!(
            " ({} account{} could not be listed)",
            s.failed_accounts,
            if s.failed_accounts == 1 { "" } else { "s" }
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn b(id: &str, resource: Option<&str>, status: Status, hours_ago: Option<i64>) -> Backup {
        let mut row = Backup::new(ProviderId::Huawei, "hw", id.into(), status);
        row.resource_id = resource.map(String::from);
        row.created_at = hours_ago.map(|h| Timestamp::new(now() - Duration::hours(h), 0));
        row
    }

    /// The default rules: 26h, no keep.
    fn fresh() -> Rules {
        Rules {
            max_age: Duration::hours(26),
            keep: Keep::default(),
        }
    }

    fn kinds(rows: &[Backup]) -> Vec<(Option<String>, FindingKind)> {
        judge(rows, fresh(), now())
            .0
            .into_iter()
            .map(|f| (f.resource, f.kind))
            .collect()
    }

    #[test]
    fn a_fresh_resource_is_healthy() {
        assert_eq!(
            kinds(&[b("1", Some("r"), Status::Available, Some(2))]),
            vec![]
        );
    }

    #[test]
    fn stale_and_missing_available_backups_are_findings() {
        assert_eq!(
            kinds(&[b("1", Some("r"), Status::Available, Some(30))]),
            vec![(Some("r".into()), FindingKind::Stale)]
        );
        let (f, n) = judge(
            &[b("1", Some("r"), Status::Creating, Some(40))],
            fresh(),
            now(),
        );
        assert_eq!(n, 1);
        assert_eq!(
            f[0].message,
            "no available backup; a backup has been in progress for 40h"
        );
    }

    #[test]
    fn failures_within_the_window_only() {
        let rows = [
            b("ok", Some("r"), Status::Available, Some(1)),
            b("bad", Some("r"), Status::Error, Some(3)),
            b("old-bad", Some("r"), Status::Error, Some(72)),
            b("cx", Some("r"), Status::Cancelled, Some(5)),
        ];
        let (f, _) = judge(&rows, fresh(), now());
        let ids: Vec<_> = f
            .iter()
            .map(|x| (x.kind, x.backup_id.clone().unwrap()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (FindingKind::Failed, "bad".into()),
                (FindingKind::Failed, "cx".into())
            ]
        );
        assert_eq!(f[0].message, "backup bad failed 3h ago");
        assert_eq!(f[0].newest_available_id.as_deref(), Some("ok"));
        assert_eq!(f[0].newest_available_age_seconds, Some(3600));
    }

    #[test]
    fn a_window_reaching_before_the_earliest_time_starts_there() {
        let now = DateTime::<Utc>::MIN_UTC + Duration::days(2);
        let mut bad = Backup::new(ProviderId::Huawei, "hw", "bad".into(), Status::Error);
        bad.resource_id = Some("r".into());
        bad.created_at = Some(Timestamp::new(DateTime::<Utc>::MIN_UTC, 0));
        let rules = Rules {
            max_age: crate::duration::MAX,
            keep: Keep::default(),
        };
        let (f, _) = judge(&[bad], rules, now);
        let found: Vec<_> = f.iter().map(|x| (x.kind, x.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (FindingKind::Failed, "backup bad failed 2d ago"),
                (FindingKind::Stale, "no available backup")
            ]
        );
    }

    #[test]
    fn unknown_age_is_never_healthy() {
        let rows = [
            b("1", Some("vol"), Status::Available, None),
            b("2", Some("vol"), Status::Error, None),
        ];
        assert_eq!(
            kinds(&rows),
            vec![
                (Some("vol".into()), FindingKind::Failed),
                (Some("vol".into()), FindingKind::UnknownAge)
            ]
        );
    }

    #[test]
    fn rows_without_a_resource_share_one_bucket() {
        let rows = [
            b("1", None, Status::Available, Some(1)),
            b("2", None, Status::Available, Some(50)),
        ];
        assert_eq!(kinds(&rows), vec![]);
    }

    #[test]
    fn kind_names_match_the_json() {
        for k in FindingKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(k.to_string(), k.as_str());
        }
        let names: Vec<&str> = FindingKind::ALL.map(FindingKind::as_str).into();
        assert_eq!(
            names,
            [
                "account_failed",
                "failed",
                "stale",
                "unknown_age",
                "missing",
                "retention",
                "vanished"
            ]
        );
    }

    #[test]
    fn failed_accounts_outrank_findings_in_the_exit_code() {
        let mut s = Summary::default();
        assert_eq!(s.outcome(), Outcome::Success);
        s.findings = 2;
        assert_eq!(s.outcome(), Outcome::Findings);
        s.failed_accounts = 1;
        assert_eq!(s.outcome(), Outcome::AccountFailed);
    }

    #[test]
    fn tsv_has_a_header_and_six_cells_per_finding() {
        let rows = [
            b("ok", Some("r"), Status::Available, Some(1)),
            b("bad", Some("r"), Status::Error, Some(3)),
            b("old", Some("s"), Status::Available, Some(40)),
        ];
        let (mut findings, _) = judge(&rows, fresh(), now());
        findings[0].message.push_str("\twith a tab");
        let mut out = Vec::new();
        write_tsv(&mut out, &findings).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "provider\taccount\tresource\tkind\tmessage\tnewest_good\n\
             huawei\thw\tr\tfailed\tbackup bad failed 3h ago with a tab\tok at 2026-11-23T11:00:00Z (1h ago)\n\
             huawei\thw\ts\tstale\tnewest available backup is 40h old (max 26h)\told at 2026-11-21T20:00:00Z (40h ago)\n"
        );
        let mut out = Vec::new();
        write_table(&mut out, &findings).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PROVIDER  ACCOUNT  RESOURCE  FINDING  NEWEST GOOD  MESSAGE\n\
             huawei    hw       r         failed   1h ago       backup bad failed 3h ago with a tab\n\
             huawei    hw       s         stale    40h ago      newest available backup is 40h old (max 26h)\n"
        );
    }

    #[test]
    fn summary_wording() {
        let s = Summary {
            accounts: 5,
            failed_accounts: 1,
            resources: 42,
            findings: 1,
        };
        assert_eq!(
            summary_line(&s),
            "audit: 1 finding in 42 resources of 5 accounts (1 account could not be listed)"
        );
    }

    /// A row of `resource` in `account` (ByCloud), available and created at `t`.
    fn row(account: &str, resource: &str, name: Option<&str>, t: DateTime<Utc>) -> Backup {
        let id = format!("{account}-{resource}-{}", t.timestamp());
        let mut row = Backup::new(ProviderId::Bycloud, account, id, Status::Available);
        row.resource_id = Some(resource.to_string());
        row.resource_name = name.map(String::from);
        row.created_at = Some(Timestamp::new(t, 0));
        row
    }

    /// Noon UTC of a day (`2026-11-22`).
    fn noon(day: &str) -> DateTime<Utc> {
        format!("{day}T12:00:00Z").parse().unwrap()
    }

    /// The retention messages of one resource's rows under `keep`, judged at `now()`.
    fn retention(rows: &[Backup], keep: &str) -> Vec<String> {
        let rules = Rules {
            max_age: Duration::days(3650),
            keep: keep.parse().unwrap(),
        };
        judge(rows, rules, now())
            .0
            .into_iter()
            .filter(|f| f.kind == FindingKind::Retention)
            .map(|f| f.message)
            .collect()
    }

    #[test]
    fn keep_rules_parse_and_print_in_the_flags_syntax() {
        let k: Keep = " weekly=4, daily=7 ".parse().unwrap();
        assert_eq!(
            k,
            Keep {
                daily: Some(7),
                weekly: Some(4),
                monthly: None
            }
        );
        assert_eq!(k.to_string(), "daily=7,weekly=4");
        assert_eq!("monthly=6".parse::<Keep>().unwrap().monthly, Some(6));
        let like = "expected rules like daily=7,weekly=4,monthly=6";
        for (text, want) in [
            ("", format!("empty; {like}")),
            ("daily", format!("`daily`: {like}")),
            ("daily=7,", format!("`daily=7,`: an empty rule; {like}")),
            (
                "hourly=3",
                "`hourly`: unknown rule (expected daily, weekly or monthly)".to_string(),
            ),
            (
                "daily=0",
                "`daily=0`: the count must be a whole number from 1 to 10000".to_string(),
            ),
            (
                "weekly=x",
                "`weekly=x`: the count must be a whole number from 1 to 10000".to_string(),
            ),
            (
                "monthly=10001",
                "`monthly=10001`: the count must be a whole number from 1 to 10000".to_string(),
            ),
            ("daily=7,daily=3", "`daily` is given twice".to_string()),
        ] {
            assert_eq!(text.parse::<Keep>().unwrap_err(), want, "{text:?}");
        }
    }

    #[test]
    fn periods_end_before_the_current_day_week_and_month() {
        // 2026-11-23 is the Monday of ISO week 48: a backup each day of week 47, and today's.
        let mut rows: Vec<Backup> = (16..=23)
            .map(|d| row("a", "r", None, noon(&format!("2026-11-{d}"))))
            .collect();
        assert_eq!(retention(&rows, "daily=7,weekly=1"), Vec::<String>::new());
        assert_eq!(
            retention(&rows, "daily=8,weekly=2,monthly=1"),
            [
                "no available backup on 2026-11-15 (daily=8)",
                "no available backup in 2026-W46 (weekly=2)",
                "no available backup in 2026-10 (monthly=1)",
            ]
        );
        // Today's backup counts for no period: without 2026-11-22, daily=1 fails.
        rows.retain(|b| !b.id.ends_with(&noon("2026-11-22").timestamp().to_string()));
        assert_eq!(
            retention(&rows, "daily=1"),
            ["no available backup on 2026-11-22 (daily=1)"]
        );
    }

    #[test]
    fn the_message_names_the_most_recent_day_without_a_backup() {
        let rows: Vec<Backup> = [16, 17, 19, 21, 22]
            .iter()
            .map(|d| row("a", "r", None, noon(&format!("2026-11-{d}"))))
            .collect();
        assert_eq!(
            retention(&rows, "daily=7"),
            ["no available backup on 2026-11-20 (daily=7)"]
        );
    }

    #[test]
    fn only_available_backups_with_a_creation_time_count() {
        let mut failed = row("a", "r", None, noon("2026-11-22"));
        failed.status = Status::Error;
        failed.id = "failed".into();
        let mut timeless = row("a", "r", None, noon("2026-11-22"));
        timeless.created_at = None;
        timeless.id = "timeless".into();
        let today = row("a", "r", None, noon("2026-11-23"));
        assert_eq!(
            retention(&[failed, timeless, today], "daily=1"),
            ["no available backup on 2026-11-22 (daily=1)"]
        );
        // A resource with no time at all: unknown age, and retention is not met either.
        let mut oracle = row("a", "vol", None, noon("2026-11-22"));
        oracle.created_at = None;
        let rules = Rules {
            max_age: Duration::hours(26),
            keep: "weekly=1".parse().unwrap(),
        };
        let kinds: Vec<FindingKind> = judge(&[oracle], rules, now())
            .0
            .iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, [FindingKind::UnknownAge, FindingKind::Retention]);
    }

    #[test]
    fn iso_weeks_and_months_cross_the_year() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let none = BTreeSet::new();
        // 2027-01-04 is the Monday of 2027-W01; 2026 has 53 ISO weeks.
        let today = day("2027-01-04");
        assert_eq!(
            retention_gap(Period::Weekly, 1, &none, today).as_deref(),
            Some("2026-W53")
        );
        assert_eq!(
            retention_gap(Period::Monthly, 1, &none, today).as_deref(),
            Some("2026-12")
        );
        // A backup on Sunday 2027-01-03 is in 2026-W53; one on Monday 2026-12-28 too.
        for d in ["2027-01-03", "2026-12-28"] {
            let days = BTreeSet::from([day(d)]);
            assert_eq!(retention_gap(Period::Weekly, 1, &days, today), None, "{d}");
        }
        let days = BTreeSet::from([day("2026-12-27")]);
        assert_eq!(
            retention_gap(Period::Weekly, 1, &days, today).as_deref(),
            Some("2026-W53")
        );
        // The largest counts stay within the calendar.
        for p in Period::ALL {
            assert!(retention_gap(p, Keep::MAX, &none, today).is_some());
        }
    }

    /// Accounts `names`, ByCloud, as the config file makes them (extra keys per account).
    fn accounts(names: &[(&str, &str)]) -> Vec<Account> {
        let text: String = names
            .iter()
            .map(|(n, extra)| {
                format!("[accounts.{n}]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\n{extra}\n")
            })
            .collect();
        crate::config::parse(&text, std::path::Path::new("t.toml"), &|_| None)
            .unwrap()
            .accounts
    }

    /// What an audit finds, one line each: `account resource kind: message`.
    fn lines(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {}: {}",
                    f.account.as_deref().unwrap_or("-"),
                    f.resource.as_deref().unwrap_or("-"),
                    f.kind,
                    f.message
                )
            })
            .collect()
    }

    /// The accounts' listings: rows per account (`None`: the account failed) and the
    /// resources their providers listed.
    struct Fixture {
        accounts: Vec<Account>,
        rows: Vec<Result<Vec<Backup>, Error>>,
        known: Vec<Vec<KnownResource>>,
    }

    impl Fixture {
        fn new(accounts: Vec<Account>) -> Fixture {
            let n = accounts.len();
            Fixture {
                rows: (0..n).map(|_| Ok(Vec::new())).collect(),
                known: vec![Vec::new(); n],
                accounts,
            }
        }

        fn audit(&self, policy: &Policy) -> (Vec<String>, Summary) {
            let listings = (0..self.accounts.len()).map(|i| Listing {
                account: &self.accounts[i],
                rows: self.rows[i].as_ref().map(Vec::as_slice),
                resources: &self.known[i],
            });
            let (findings, summary) = assess(listings, policy, now());
            (lines(&findings), summary)
        }
    }

    fn policy(flags: &[&str], file: &[&str], names: &[&str]) -> Policy {
        Policy {
            flags: PolicyLayer {
                expect: flags.iter().map(|s| s.to_string()).collect(),
                ..PolicyLayer::default()
            },
            file: PolicyLayer {
                expect: file.iter().map(|s| s.to_string()).collect(),
                ..PolicyLayer::default()
            },
            account_names: names.iter().map(|s| s.to_string()).collect(),
            resource: None,
        }
    }

    fn recent() -> DateTime<Utc> {
        now() - Duration::hours(1)
    }

    #[test]
    fn expected_resources_are_matched_by_id_or_name_in_their_scope() {
        let mut fx = Fixture::new(accounts(&[
            ("a", "audit_expect = [\"vol1\", \"db\", \"web\"]"),
            ("b", ""),
        ]));
        fx.rows[0] = Ok(vec![row("a", "id-1", Some("vol1"), recent())]);
        fx.rows[1] = Ok(vec![
            row("b", "db", None, recent()),
            row("b", "id-9", Some("cache"), recent()),
        ]);
        let names = ["a", "b", "c"];
        // `db` is in b, but a's audit_expect asks for it in a; `b:web` pins, `c:x` names an
        // account that is not selected; `cache` and `db` are found in some account; `a:b:c`
        // pins `b:c` to a; `nope:x` names no account, so it is a resource name as a whole.
        let p = policy(
            &["b:web", "cache", "db", "c:x", "nope:x", "a:b:c"],
            &["gone", "cache"],
            &names,
        );
        let (found, summary) = fx.audit(&p);
        assert_eq!(
            found,
            [
                "a b:c missing: no backup (expected by --expect)",
                "a db missing: no backup (expected by audit_expect)",
                "a web missing: no backup (expected by audit_expect)",
                "b web missing: no backup (expected by --expect)",
                "- gone missing: no backup in any selected account (expected by [audit] expect)",
                "- nope:x missing: no backup in any selected account (expected by --expect)",
            ]
        );
        assert_eq!(summary.findings, 6);
        assert_eq!(summary.resources, 3);
    }

    #[test]
    fn an_unpinned_entry_waits_while_an_account_failed_and_a_failed_account_has_only_that() {
        let mut fx = Fixture::new(accounts(&[("a", ""), ("b", "audit_expect = [\"vol1\"]")]));
        fx.rows[1] = Err(Error::new(crate::error::ErrorKind::Network, "down"));
        let (found, summary) = fx.audit(&policy(&["vol9", "b:vol2"], &[], &["a", "b"]));
        assert_eq!(found, ["b - account_failed: could not be listed: down"]);
        assert_eq!(summary.outcome(), Outcome::AccountFailed);
    }

    #[test]
    fn resources_the_provider_lists_without_backups_are_missing() {
        let mut fx = Fixture::new(accounts(&[("a", ""), ("b", "")]));
        let known = |id: &str, name: &str, backups| KnownResource {
            resource_type: Some("service_instance".into()),
            resource_id: id.into(),
            resource_name: Some(name.into()),
            backups,
        };
        // `orders` has backups, though the filters may have left none of its rows.
        fx.known[0] = vec![known("g-1", "empty-pg", 0), known("g-2", "orders", 3)];
        fx.known[1] = vec![known("g-3", "empty-pg", 0)];
        let (found, summary) = fx.audit(&policy(&[], &[], &["a", "b"]));
        assert_eq!(
            found,
            [
                "a g-1 missing: no backup of this service instance",
                "b g-3 missing: no backup of this service instance",
            ]
        );
        assert_eq!(summary.resources, 2);
        // Named by entries: still one finding each, saying who expected it; never an unpinned
        // one besides. (The [audit] entry repeats the flag's: the flag is named.)
        fx.accounts = accounts(&[("a", "audit_expect = [\"empty-pg\"]"), ("b", "")]);
        let (found, _) = fx.audit(&policy(&["empty-pg", "a:g-1"], &["empty-pg"], &["a", "b"]));
        assert_eq!(
            found,
            [
                "a g-1 missing: no backup of this service instance (expected by --expect and audit_expect)",
                "b g-3 missing: no backup of this service instance (expected by --expect)",
            ]
        );
        // `--resource` leaves out what it does not name.
        let mut p = policy(&["vol9"], &[], &["a", "b"]);
        p.resource = Some("g-3".into());
        let (found, summary) = fx.audit(&p);
        assert_eq!(found, ["b g-3 missing: no backup of this service instance"]);
        assert_eq!(summary.resources, 1);
    }

    #[test]
    fn unpinned_findings_have_no_provider_or_account_in_json_and_come_last() {
        let mut fx = Fixture::new(accounts(&[("a", "")]));
        fx.rows[0] = Ok(vec![row("a", "r", None, now() - Duration::days(3))]);
        let listings = [Listing {
            account: &fx.accounts[0],
            rows: Ok(fx.rows[0].as_ref().unwrap()),
            resources: &fx.known[0],
        }];
        let (findings, _) = assess(listings, &policy(&["vol9"], &[], &["a"]), now());
        assert_eq!(findings[0].kind, FindingKind::Stale);
        let json = serde_json::to_value(&findings[1]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "provider": null, "account": null, "resource": "vol9", "resource_name": null,
                "kind": "missing", "message": "no backup in any selected account (expected by --expect)",
                "backup_id": null, "newest_available_id": null, "newest_available_at": null,
                "newest_available_age_seconds": null, "max_age_seconds": null
            })
        );
        let mut out = Vec::new();
        write_tsv(&mut out, &findings[1..]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap().lines().nth(1),
            Some("-\t-\tvol9\tmissing\tno backup in any selected account (expected by --expect)\tnone")
        );
    }

    #[test]
    fn policy_comes_from_the_flags_then_the_account_then_audit_then_defaults() {
        let all = accounts(&[
            ("a", "audit_max_age = \"8d\"\naudit_keep = \"weekly=4\""),
            ("b", ""),
        ]);
        let (a, b) = (&all[0], &all[1]);
        let mut p = Policy::default();
        assert_eq!(p.max_age(b), Duration::hours(26));
        assert_eq!(p.keep(b), Keep::default());
        p.file.max_age = Some(Duration::days(2));
        p.file.keep = Some("daily=7,monthly=6".parse().unwrap());
        assert_eq!(p.max_age(a), Duration::days(8));
        assert_eq!(p.max_age(b), Duration::days(2));
        // Whole from the first source: the account's weekly=4 is not merged with [audit].
        assert_eq!(p.keep(a).to_string(), "weekly=4");
        assert_eq!(p.keep(b).to_string(), "daily=7,monthly=6");
        p.flags.max_age = Some(Duration::hours(1));
        p.flags.keep = Some("daily=7".parse().unwrap());
        assert_eq!(p.max_age(a), Duration::hours(1));
        assert_eq!(p.keep(a).to_string(), "daily=7");
        assert_eq!(p.keep(b).to_string(), "daily=7");
    }

    /// Property tests of the retention rules, at any audit time and any time of day.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// An audit time: any second of 2000-01-01 plus up to ~30 years.
        fn audit_time() -> impl Strategy<Value = DateTime<Utc>> {
            (0i64..11_000, 0i64..86_400).prop_map(|(day, secs)| {
                "2000-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
                    + Duration::days(day)
                    + Duration::seconds(secs)
            })
        }

        /// One available backup on each of the `days` UTC days before `now`'s (and on its own),
        /// at `secs` into each day; `skip` says which days (counted back from 1) to leave out.
        fn daily_series(
            now: DateTime<Utc>,
            days: u64,
            secs: i64,
            skip: impl Fn(u64) -> bool,
        ) -> Vec<Backup> {
            let midnight = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
            (0..=days)
                .filter(|k| !skip(*k))
                .map(|k| {
                    row(
                        "a",
                        "r",
                        None,
                        midnight - Duration::days(k as i64) + Duration::seconds(secs),
                    )
                })
                .collect()
        }

        fn retention_at(rows: &[Backup], keep: &str, now: DateTime<Utc>) -> Vec<String> {
            let rules = Rules {
                max_age: Duration::days(36_500),
                keep: keep.parse().unwrap(),
            };
            judge(rows, rules, now)
                .0
                .into_iter()
                .filter(|f| f.kind == FindingKind::Retention)
                .map(|f| f.message)
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_backup_every_day_always_passes_daily_n(
                now in audit_time(), n in 1u32..400, extra in 0u64..40, secs in 0i64..86_400
            ) {
                let rows = daily_series(now, u64::from(n) + extra, secs, |_| false);
                prop_assert_eq!(retention_at(&rows, &format!("daily={n}"), now), Vec::<String>::new());
            }

            #[test]
            fn removing_any_day_in_the_window_fails_daily_n_and_names_that_day(
                now in audit_time(), n in 1u32..400, gap in any::<prop::sample::Index>(),
                secs in 0i64..86_400
            ) {
                let k = 1 + gap.index(n as usize) as u64;
                let rows = daily_series(now, u64::from(n), secs, |d| d == k);
                let day = now.date_naive() - Days::new(k);
                prop_assert_eq!(
                    retention_at(&rows, &format!("daily={n}"), now),
                    vec![format!("no available backup on {} (daily={n})", day.format("%Y-%m-%d"))]
                );
            }

            #[test]
            fn one_backup_in_each_iso_week_passes_weekly_n_and_a_missing_week_is_named(
                now in audit_time(), n in 1u32..60, weekday in 0u64..7,
                gap in any::<prop::sample::Index>(), secs in 0i64..86_400
            ) {
                // One backup a week, on `weekday` of each week before the current one.
                let today = now.date_naive();
                let monday = today - Days::new(today.weekday().num_days_from_monday().into());
                let week = |k: u64| monday - Days::new(7 * k) + Days::new(weekday);
                let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::seconds(secs);
                // And one now, which counts for no week before the current one.
                let all: Vec<Backup> = (1..=u64::from(n)).map(|k| row("a", "r", None, at(week(k))))
                    .chain([row("a", "r", None, now)]).collect();
                let keep = format!("weekly={n}");
                prop_assert_eq!(retention_at(&all, &keep, now), Vec::<String>::new());
                let k = 1 + gap.index(n as usize) as u64;
                let without: Vec<Backup> = (1..=u64::from(n)).filter(|j| *j != k)
                    .map(|j| row("a", "r", None, at(week(j)))).chain([row("a", "r", None, now)]).collect();
                let iso = week(k).iso_week();
                prop_assert_eq!(
                    retention_at(&without, &keep, now),
                    vec![format!("no available backup in {}-W{:02} ({keep})", iso.year(), iso.week())]
                );
            }

            #[test]
            fn one_backup_in_each_month_passes_monthly_n_and_a_missing_month_is_named(
                now in audit_time(), n in 1u32..60, day in 1u32..=28,
                gap in any::<prop::sample::Index>(), secs in 0i64..86_400
            ) {
                let first = now.date_naive().with_day(1).unwrap();
                let month = |k: u32| first - Months::new(k) + Days::new(u64::from(day - 1));
                let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::seconds(secs);
                let all: Vec<Backup> = (1..=n).map(|k| row("a", "r", None, at(month(k))))
                    .chain([row("a", "r", None, now)]).collect();
                let keep = format!("monthly={n}");
                prop_assert_eq!(retention_at(&all, &keep, now), Vec::<String>::new());
                let k = 1 + gap.index(n as usize) as u32;
                let without: Vec<Backup> = (1..=n).filter(|j| *j != k)
                    .map(|j| row("a", "r", None, at(month(j)))).chain([row("a", "r", None, now)]).collect();
                prop_assert_eq!(
                    retention_at(&without, &keep, now),
                    vec![format!("no available backup in {} ({keep})", month(k).format("%Y-%m"))]
                );
            }
        }
    }
}
