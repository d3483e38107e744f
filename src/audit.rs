//! `audit`'s judging and rendering, pure (the command is `commands::audit`): freshness and
//! failure findings for cron (spec §5, exit codes §6).
//!
//! Resources are keyed by (account, resource): `resource_id`, else `resource_name`, else the
//! account's unattributed bucket `-`. For each resource:
//! - `stale`: the newest `available` backup is older than the max age, or there is none;
//!   when newer backups are still in progress, the message says since when.
//! - `failed`: a backup in `error` or `cancelled` created within the window (now - max age).
//! - `unknown_age`: the resource's backups carry no creation time (Oracle reports none), so
//!   freshness cannot be proven; an unknown age is never taken as healthy. A failed backup
//!   without a time is reported as `failed` too, since it may be recent.
//! - `account_failed`: the account could not be listed; exit 3, never silence.

use std::collections::BTreeMap;
use std::io::{self, Write};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::Account;
use crate::duration;
use crate::error::{Error, Outcome};
use crate::model::{Backup, ProviderId, Status};

/// The default freshness threshold.
pub const DEFAULT_MAX_AGE_HOURS: i64 = 26;

/// What is wrong with a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The account could not be listed.
    AccountFailed,
    /// A backup failed or was cancelled within the window.
    Failed,
    /// No available backup younger than the max age.
    Stale,
    /// No creation times, so freshness cannot be checked.
    UnknownAge,
}

impl FindingKind {
    /// The name in output lines, the same as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::AccountFailed => "account_failed",
            FindingKind::Failed => "failed",
            FindingKind::Stale => "stale",
            FindingKind::UnknownAge => "unknown_age",
        }
    }
}

/// One finding: a line of output, or an object in `-o json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The provider.
    pub provider: ProviderId,
    /// The account.
    pub account: String,
    /// The resource key (`resource_id`, else `resource_name`, else `-`); null for account failures.
    pub resource: Option<String>,
    /// The resource's name, when known.
    pub resource_name: Option<String>,
    /// What is wrong.
    pub kind: FindingKind,
    /// In words.
    pub message: String,
    /// The backup the finding is about (the failed one), if any.
    pub backup_id: Option<String>,
    /// The newest available backup's id, if any.
    pub newest_available_id: Option<String>,
    /// Its creation time.
    pub newest_available_at: Option<String>,
    /// Its age in seconds at audit time.
    pub newest_available_age_seconds: Option<i64>,
    /// The threshold applied, in seconds.
    pub max_age_seconds: i64,
}

/// The audit's result for `-o json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When the audit ran (RFC 3339).
    pub audited_at: String,
    /// Findings, ordered by provider, account, resource and kind.
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Accounts audited.
    pub accounts: usize,
    /// Accounts that could not be listed.
    pub failed_accounts: usize,
    /// Resources judged.
    pub resources: usize,
    /// Findings.
    pub findings: usize,
}

/// Judges one account's rows. Pure: `now` and the threshold are passed in. Returns the
/// findings and how many resources were judged.
pub fn judge(rows: &[Backup], max_age: Duration, now: DateTime<Utc>) -> (Vec<Finding>, usize) {
    let mut groups: BTreeMap<(String, String), Vec<&Backup>> = BTreeMap::new();
    for b in rows {
        let key = b
            .resource_id
            .clone()
            .or_else(|| b.resource_name.clone())
            .unwrap_or_else(|| "-".to_string());
        groups.entry((b.account.clone(), key)).or_default().push(b);
    }
    let mut findings = Vec::new();
    for ((account, resource), backups) in &groups {
        let resource = Resource {
            account,
            key: resource,
            backups,
        };
        findings.extend(resource.judge(max_age, now));
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
    /// Its findings: failed backups in the window, then unknown age or staleness.
    fn judge(&self, max_age: Duration, now: DateTime<Utc>) -> Vec<Finding> {
        let newest_available = self
            .backups
            .iter()
            .filter(|b| b.status == Status::Available && b.created_at.is_some())
            .max_by_key(|b| b.created_at.map(|t| t.utc()));
        let newest_at = newest_available.and_then(|b| b.created_at);
        let finding = |kind, message: String, backup_id: Option<String>| Finding {
            provider: self.backups[0].provider,
            account: self.account.to_string(),
            resource: Some(self.key.to_string()),
            resource_name: self.backups.iter().find_map(|b| b.resource_name.clone()),
            kind,
            message,
            backup_id,
            newest_available_id: newest_available.map(|b| b.id.clone()),
            newest_available_at: newest_at.map(|t| t.to_string()),
            newest_available_age_seconds: newest_at.map(|t| (now - t.utc()).num_seconds()),
            max_age_seconds: max_age.num_seconds(),
        };
        let mut findings: Vec<Finding> = self
            .backups
            .iter()
            .filter_map(|b| {
                let message = failure(b, now - max_age, now)?;
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

fn max_age_for(flag: Option<Duration>, account: &Account) -> Duration {
    flag.or(account.audit_max_age)
        .unwrap_or_else(|| Duration::hours(DEFAULT_MAX_AGE_HOURS))
}

/// Judges every account's listing (`Err` for an account that could not be listed): the
/// findings, ordered by provider, account, resource and kind, and the summary. `max_age` is
/// `--max-age`, which wins over each account's `audit_max_age`.
pub fn assess<'a>(
    listings: impl IntoIterator<Item = (&'a Account, Result<&'a [Backup], &'a Error>)>,
    max_age: Option<Duration>,
    now: DateTime<Utc>,
) -> (Vec<Finding>, Summary) {
    let mut findings = Vec::new();
    let mut summary = Summary::default();
    for (account, listing) in listings {
        summary.accounts += 1;
        let max_age = max_age_for(max_age, account);
        match listing {
            Ok(rows) => {
                let (f, resources) = judge(rows, max_age, now);
                summary.resources += resources;
                findings.extend(f);
            }
            Err(e) => {
                summary.failed_accounts += 1;
                findings.push(Finding {
                    provider: account.provider(),
                    account: account.name.clone(),
                    resource: None,
                    resource_name: None,
                    kind: FindingKind::AccountFailed,
                    message: format!("could not be listed: {e}"),
                    backup_id: None,
                    newest_available_id: None,
                    newest_available_at: None,
                    newest_available_age_seconds: None,
                    max_age_seconds: max_age.num_seconds(),
                });
            }
        }
    }
    findings.sort_by(|a, b| {
        (a.provider, &a.account, &a.resource, a.kind, &a.backup_id).cmp(&(
            b.provider,
            &b.account,
            &b.resource,
            b.kind,
            &b.backup_id,
        ))
    });
    summary.findings = findings.len();
    (findings, summary)
}

impl Summary {
    /// The exit code of an audit with these counts: an account that could not be listed
    /// outranks findings, which outrank success.
    pub fn outcome(&self) -> Outcome {
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

/// The findings as a table for people: the resource by name where it has one, the newest good
/// backup by age. Nothing is cut to a width, since a finding is read whole: lines longer than
/// the terminal wrap, and tsv or json carry the ids and times.
pub fn write_table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
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
            vec![
                f.provider.to_string(),
                f.account.clone(),
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
pub fn write_tsv(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
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
        let cells = [
            f.provider.to_string(),
            f.account.clone(),
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
pub fn write_ndjson(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut *out, f).map_err(io::Error::from)?;
        writeln!(out)?;
    }
    Ok(())
}

/// The whole report as one JSON document.
pub fn write_json(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    writeln!(out)
}

/// `audit: 3 findings in 42 resources of 5 accounts (1 account failed)`.
pub fn summary_line(s: &Summary) -> String {
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

    fn kinds(rows: &[Backup]) -> Vec<(Option<String>, FindingKind)> {
        judge(rows, Duration::hours(26), now())
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
            Duration::hours(26),
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
        let (f, _) = judge(&rows, Duration::hours(26), now());
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
        for k in [
            FindingKind::AccountFailed,
            FindingKind::Failed,
            FindingKind::Stale,
            FindingKind::UnknownAge,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
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
        let (mut findings, _) = judge(&rows, Duration::hours(26), now());
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
}
