//! `audit -o nagios`: the Monitoring Plugins API (Nagios, Icinga, Naemon, Sensu),
//! `docs/monitoring.md#audit--o-nagios`.
//!
//! The first line is `BACKUPS <STATE> - <summary> | <perfdata>`, then one line per finding,
//! worst kinds first, at most 4096 bytes in all (past that, one line says how many were left
//! out). A `|` in any text but the perfdata separator is replaced, since it would start
//! perfdata. The state is the exit code: CRITICAL > WARNING > UNKNOWN > OK.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::fit;
use super::metrics::ResourceFigures;
use crate::audit::{Finding, FindingKind, Summary};
use crate::duration;
use crate::error::Outcome;

/// The whole output's bound: what Nagios keeps of a plugin's output.
pub(crate) const MAX_BYTES: usize = 4096;

/// A plugin's state, which is its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// Exit 0.
    Ok,
    /// Exit 1: a finding other than `account_failed`.
    Warning,
    /// Exit 2: with `--crit-age`, a resource whose newest available backup is older than
    /// it, or that has no available backup at all.
    Critical,
    /// Exit 3: an account failed and nothing is WARNING or CRITICAL; or a usage or
    /// configuration error.
    Unknown,
}

impl State {
    /// As the status line writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// The exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }
}

/// The process exit code of a state: the [`Outcome`] of the same number, since the binary
/// turns every outcome into its code (the meanings differ in this mode;
/// `docs/cli.md#exit-codes-stable` says so).
impl From<State> for Outcome {
    fn from(s: State) -> Outcome {
        match s {
            State::Ok => Outcome::Success,
            State::Warning => Outcome::Findings,
            State::Critical => Outcome::Usage,
            State::Unknown => Outcome::AccountFailed,
        }
    }
}

/// What the report is made of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Input<'a> {
    /// The audit's findings (judged with `--warn-age` as the max age when it is given).
    pub(crate) findings: &'a [Finding],
    /// Its counts.
    pub(crate) summary: &'a Summary,
    /// The resources of each listed account: (account name, figures).
    pub(crate) resources: &'a [(&'a str, Vec<ResourceFigures>)],
    /// The audit's time.
    pub(crate) now: DateTime<Utc>,
    /// The stale threshold for the perfdata, in seconds: `--warn-age`, else the max age
    /// when every account has the same, else none.
    pub(crate) warn_seconds: Option<i64>,
    /// `--crit-age`.
    pub(crate) crit: Option<Duration>,
}

/// The order finding lines come in: what makes a resource unprotected first.
fn rank(kind: FindingKind) -> u8 {
    match kind {
        FindingKind::Stale => 0,
        FindingKind::Missing => 1,
        FindingKind::Failed => 2,
        FindingKind::AccountFailed => 3,
        FindingKind::Vanished => 4,
        FindingKind::Retention => 5,
        FindingKind::UnknownAge => 6,
    }
}

/// The state and the whole output (status line, perfdata, finding lines; at most
/// [`MAX_BYTES`]).
pub(crate) fn report(input: &Input) -> (State, String) {
    let critical = critical_resources(input);
    let state = if !critical.is_empty() {
        State::Critical
    } else if input
        .findings
        .iter()
        .any(|f| f.kind != FindingKind::AccountFailed)
    {
        State::Warning
    } else if input.summary.failed_accounts > 0 {
        State::Unknown
    } else {
        State::Ok
    };
    let head = format!(
        "BACKUPS {} - {} | {}",
        state.as_str(),
        no_pipe(&status_text(input, critical.len())),
        perfdata(input)
    );
    let mut ordered: Vec<&Finding> = input.findings.iter().collect();
    ordered.sort_by_key(|f| rank(f.kind));
    let lines: Vec<String> = ordered
        .into_iter()
        .map(|f| no_pipe(&super::finding_line(f)))
        .collect();
    (state, fit(&head, &lines, MAX_BYTES))
}

/// Resources beyond `--crit-age`, by (account, resource): those with backups, and the
/// expected or listed ones without any (`missing`). None without `--crit-age`.
fn critical_resources<'a>(input: &Input<'a>) -> BTreeSet<(Option<&'a str>, &'a str)> {
    let mut critical = BTreeSet::new();
    let Some(crit) = input.crit else {
        return critical;
    };
    for (account, figures) in input.resources {
        for r in figures {
            let beyond = match r.newest_available {
                Some((t, _)) => input.now - t > crit,
                // Available backups without a time are `unknown_age`, never CRITICAL.
                None => r.has_no_available(),
            };
            if beyond {
                critical.insert((Some(*account), r.key.as_str()));
            }
        }
    }
    for f in input
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Missing)
    {
        critical.insert((f.account.as_deref(), f.resource.as_deref().unwrap_or("-")));
    }
    critical
}

/// How many findings of this kind there are.
fn count(findings: &[Finding], kind: FindingKind) -> usize {
    findings.iter().filter(|f| f.kind == kind).count()
}

/// The perfdata after the status line's `|`.
fn perfdata(input: &Input) -> String {
    let Input {
        findings,
        summary,
        resources,
        now,
        warn_seconds,
        crit,
    } = *input;
    let oldest = resources
        .iter()
        .flat_map(|(_, figures)| figures)
        .filter_map(|r| {
            r.newest_available
                .map(|(t, _)| (now - t).num_seconds().max(0))
        })
        .max();
    let number = |n: Option<i64>| n.map_or_else(String::new, |n| n.to_string());
    format!(
        "resources={} findings={} stale={} failed={} accounts_failed={} oldest_available_age={};{};{};0;",
        summary.resources,
        summary.findings,
        count(findings, FindingKind::Stale),
        count(findings, FindingKind::Failed),
        summary.failed_accounts,
        // `U`: no resource has an available backup with a time, so no age is known.
        oldest.map_or_else(|| "U".to_string(), |s| format!("{s}s")),
        number(warn_seconds),
        number(crit.map(|c| c.num_seconds())),
    )
}

/// The status line's text: the critical resources (`critical` of them), the counts, the
/// findings by kind and the accounts that could not be listed.
fn status_text(input: &Input, critical: usize) -> String {
    let (findings, summary) = (input.findings, input.summary);
    let mut text = String::new();
    if let Some(crit) = input.crit.filter(|_| critical > 0) {
        text.push_str(&format!(
            "{critical} resource{} without an available backup younger than {}; ",
            plural(critical),
            duration::human(crit)
        ));
    }
    text.push_str(&format!(
        "{} finding{} in {} resource{} of {} account{}",
        summary.findings,
        plural(summary.findings),
        summary.resources,
        plural(summary.resources),
        summary.accounts,
        plural(summary.accounts)
    ));
    let kinds: Vec<String> = FindingKind::ALL
        .into_iter()
        .filter(|k| *k != FindingKind::AccountFailed)
        .map(|k| (k, count(findings, k)))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if !kinds.is_empty() {
        text.push_str(&format!(" ({})", kinds.join(", ")));
    }
    if summary.failed_accounts > 0 {
        let n = summary.failed_accounts;
        text.push_str(&format!("; {n} account{} could not be listed", plural(n)));
    }
    text
}

/// The output of a run that could not audit (a usage or configuration error, or any other):
/// `BACKUPS UNKNOWN - <the error>`, one line.
pub(crate) fn unknown(message: &str) -> String {
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut line = format!("BACKUPS UNKNOWN - {}", no_pipe(one_line.trim()));
    if line.len() > MAX_BYTES - 1 {
        let mut end = MAX_BYTES - 4;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line.push('\n');
    line
}

/// `|` starts perfdata in plugin output: replaced in text that is not perfdata.
fn no_pipe(s: &str) -> String {
    s.replace('|', "/")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::monitor::tests::finding;
    use std::collections::BTreeMap;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn figures(key: &str, age_hours: Option<i64>, statuses: &[Status]) -> ResourceFigures {
        let mut counts = BTreeMap::new();
        for s in statuses {
            *counts.entry(*s).or_default() += 1;
        }
        ResourceFigures {
            key: key.into(),
            name: None,
            resource_type: None,
            newest_available: age_hours.map(|h| (now() - Duration::hours(h), None)),
            statuses: counts,
        }
    }

    fn summary(resources: usize, findings: usize, failed: usize) -> Summary {
        Summary {
            accounts: 2,
            failed_accounts: failed,
            resources,
            findings,
        }
    }

    #[test]
    fn ok_warning_critical_and_unknown_follow_the_precedence() {
        use Status::*;
        let resources = vec![(
            "hw",
            vec![
                figures("vol-1", Some(30), &[Available, Error]),
                figures("vol-2", Some(2), &[Available]),
                figures("vol-3", None, &[Creating]),
            ],
        )];
        let stale = finding(Some("hw"), Some("vol-1"), FindingKind::Stale, "old");
        let failed_account = finding(Some("zc"), None, FindingKind::AccountFailed, "down | out");
        let run = |findings: &[Finding], failed, crit| {
            report(&Input {
                findings,
                summary: &summary(3, findings.len(), failed),
                resources: &resources,
                now: now(),
                warn_seconds: Some(26 * 3600),
                crit,
            })
        };
        let (state, text) = run(&[], 0, None);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "BACKUPS OK - 0 findings in 3 resources of 2 accounts | resources=3 findings=0 stale=0 failed=0 accounts_failed=0 oldest_available_age=108000s;93600;;0;\n"
        );
        let (state, text) = run(std::slice::from_ref(&failed_account), 1, None);
        assert_eq!(state, State::Unknown);
        assert_eq!(
            text,
            "BACKUPS UNKNOWN - 1 finding in 3 resources of 2 accounts; 1 account could not be listed | resources=3 findings=1 stale=0 failed=0 accounts_failed=1 oldest_available_age=108000s;93600;;0;\n\
             account_failed huawei/zc: down / out\n"
        );
        let both = [failed_account, stale];
        let (state, text) = run(&both, 1, None);
        assert_eq!(state, State::Warning);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "BACKUPS WARNING - 2 findings in 3 resources of 2 accounts (1 stale); 1 account could not be listed | resources=3 findings=2 stale=1 failed=0 accounts_failed=1 oldest_available_age=108000s;93600;;0;",
                "stale huawei/hw vol-1: old",
                "account_failed huawei/zc: down / out",
            ]
        );
        // vol-1 is 30h old and vol-3 has no available backup: both beyond a 1d crit age.
        let (state, text) = run(&both, 1, Some(Duration::days(1)));
        assert_eq!(state, State::Critical);
        assert!(
            text.starts_with("BACKUPS CRITICAL - 2 resources without an available backup younger than 24h; 2 findings in "),
            "{text}"
        );
        assert!(
            text.contains("oldest_available_age=108000s;93600;86400;0;\n"),
            "{text}"
        );
        // Two days: only vol-3.
        let (state, text) = run(&both, 1, Some(Duration::days(2)));
        assert_eq!(state, State::Critical);
        assert!(
            text.starts_with("BACKUPS CRITICAL - 1 resource without "),
            "{text}"
        );
    }

    #[test]
    fn unknown_age_is_never_critical_and_missing_is() {
        use Status::*;
        // Available backups without a time: no age, not beyond any crit age.
        let resources = vec![("or", vec![figures("/c/u/vol", None, &[Available])])];
        let unknown = [finding(
            Some("or"),
            Some("/c/u/vol"),
            FindingKind::UnknownAge,
            "?",
        )];
        let s = summary(1, 1, 0);
        let mut input = Input {
            findings: &unknown,
            summary: &s,
            resources: &resources,
            now: now(),
            warn_seconds: None,
            crit: Some(Duration::hours(1)),
        };
        let (state, text) = report(&input);
        assert_eq!(state, State::Warning);
        assert!(
            text.contains(" oldest_available_age=U;;3600;0;\n"),
            "{text}"
        );
        let missing = [finding(
            None,
            Some("vol9"),
            FindingKind::Missing,
            "no backup",
        )];
        input.findings = &missing;
        assert_eq!(report(&input).0, State::Critical);
    }

    #[test]
    fn the_output_stays_within_4096_bytes_and_says_how_many_were_left_out() {
        let findings: Vec<Finding> = (0..200)
            .map(|i| {
                finding(
                    Some("hw"),
                    Some(&format!("vol-{i:03}")),
                    FindingKind::Failed,
                    "backup b|x failed 1h ago",
                )
            })
            .collect();
        let s = summary(200, 200, 0);
        let (state, text) = report(&Input {
            findings: &findings,
            summary: &s,
            resources: &[],
            now: now(),
            warn_seconds: None,
            crit: None,
        });
        assert_eq!(state, State::Warning);
        assert!(text.len() <= MAX_BYTES, "{}", text.len());
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines.len() - 2;
        assert_eq!(
            lines[1],
            "failed huawei/hw vol-000: backup b/x failed 1h ago"
        );
        assert_eq!(
            *lines.last().unwrap(),
            format!("... {} more findings left out", 200 - shown)
        );
        assert_eq!(text.matches('|').count(), 1, "only the perfdata separator");
    }

    #[test]
    fn an_error_is_one_unknown_line() {
        assert_eq!(
            unknown("t.toml: [audit]: key `kep`: unknown key | x\nmore"),
            "BACKUPS UNKNOWN - t.toml: [audit]: key `kep`: unknown key / x more\n"
        );
        assert_eq!(unknown(&"é".repeat(5000)).len(), MAX_BYTES);
        assert_eq!(
            State::Critical.code(),
            Outcome::from(State::Critical).code()
        );
    }
}
