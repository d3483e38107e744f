//! The metric families of `docs/monitoring.md` (names stable), made from one audit: what
//! `audit -o prometheus`, `--textfile` and `backups exporter` expose. Pure: the clock, the
//! listing and the findings are passed in.
//!
//! Labels never carry backup ids or times (they would make a new series per backup); the
//! only vendor text in a label is a resource's id, name and type. Only `backups_build_info`
//! carries the version. [`Tracker`] is the exporter's memory between listings: a failed
//! account keeps its last good figures, judged again at each listing so they keep ageing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::exposition::Family;
use crate::audit::{self, Finding, FindingKind, Listing, Policy};
use crate::config::Account;
use crate::error::Error;
use crate::model::{Backup, Status};
use crate::providers::{AccountResult, KnownResource};

/// `backups_build_info`.
pub(crate) const BUILD_INFO: &str = "backups_build_info";
/// `backups_audit_timestamp_seconds`.
pub(crate) const AUDIT_TIMESTAMP: &str = "backups_audit_timestamp_seconds";
/// `backups_audit_duration_seconds`.
pub(crate) const AUDIT_DURATION: &str = "backups_audit_duration_seconds";
/// `backups_account_up`.
pub(crate) const ACCOUNT_UP: &str = "backups_account_up";
/// `backups_account_last_success_timestamp_seconds`.
pub(crate) const ACCOUNT_LAST_SUCCESS: &str = "backups_account_last_success_timestamp_seconds";
/// `backups_account_max_age_seconds`.
pub(crate) const ACCOUNT_MAX_AGE: &str = "backups_account_max_age_seconds";
/// `backups_resource_info`.
pub(crate) const RESOURCE_INFO: &str = "backups_resource_info";
/// `backups_resource_last_available_timestamp_seconds`.
pub(crate) const RESOURCE_LAST_AVAILABLE: &str =
    "backups_resource_last_available_timestamp_seconds";
/// `backups_resource_last_available_size_bytes`.
pub(crate) const RESOURCE_LAST_SIZE: &str = "backups_resource_last_available_size_bytes";
/// `backups_resource_backups`.
pub(crate) const RESOURCE_BACKUPS: &str = "backups_resource_backups";
/// `backups_findings`.
pub(crate) const FINDINGS: &str = "backups_findings";

/// Every family, in output order, with its help text.
pub(crate) const FAMILIES: [(&str, &str); 11] = [
    (BUILD_INFO, "The version of backups that wrote these figures; always 1."),
    (
        AUDIT_TIMESTAMP,
        "When the listing behind these figures finished (Unix time).",
    ),
    (AUDIT_DURATION, "How long that listing took, in seconds."),
    (
        ACCOUNT_UP,
        "Whether the account was listed: 1 listed, 0 failed.",
    ),
    (
        ACCOUNT_LAST_SUCCESS,
        "When the account was last listed completely (Unix time; 0 if never).",
    ),
    (
        ACCOUNT_MAX_AGE,
        "The max age in force for the account's resources, in seconds.",
    ),
    (
        RESOURCE_INFO,
        "A resource with backups, or one its provider lists without any; always 1.",
    ),
    (
        RESOURCE_LAST_AVAILABLE,
        "Creation time of the resource's newest available backup (Unix time; 0 when none has a time).",
    ),
    (
        RESOURCE_LAST_SIZE,
        "Size of the resource's newest available backup in bytes, when known.",
    ),
    (
        RESOURCE_BACKUPS,
        "Backups of the resource per normalised status present.",
    ),
    (
        FINDINGS,
        "Audit findings per kind; every kind, 0 when none.",
    ),
];

/// One account as the figures see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AccountView<'a> {
    /// The account.
    pub(crate) account: &'a Account,
    /// Whether this listing of it succeeded.
    pub(crate) up: bool,
    /// When it was last listed completely, if ever.
    pub(crate) last_success: Option<DateTime<Utc>>,
    /// The rows of that listing (none when it never was).
    pub(crate) rows: &'a [Backup],
    /// The resources its provider listed then.
    pub(crate) resources: &'a [KnownResource],
}

/// One audit: what the families are made of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Audit<'a> {
    /// When the listing finished.
    pub(crate) finished_at: DateTime<Utc>,
    /// How long it took.
    pub(crate) duration: std::time::Duration,
    /// Every selected account, in config order.
    pub(crate) accounts: &'a [AccountView<'a>],
    /// The findings of the audit.
    pub(crate) findings: &'a [Finding],
    /// The policy it ran under.
    pub(crate) policy: &'a Policy,
}

/// One resource's figures: the labels of `backups_resource_info` and the values of the
/// other `backups_resource_*` families.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ResourceFigures {
    /// The audit key ([`audit::resource_key`]).
    pub(crate) key: String,
    /// Its name, when a backup or the provider gives one.
    pub(crate) name: Option<String>,
    /// Its type, when a backup or the provider gives one.
    pub(crate) resource_type: Option<String>,
    /// The newest `available` backup with a creation time: when, and its size if known.
    pub(crate) newest_available: Option<(DateTime<Utc>, Option<u64>)>,
    /// Backups per normalised status present.
    pub(crate) statuses: BTreeMap<Status, usize>,
}

impl ResourceFigures {
    /// Whether the resource has no `available` backup at all (with a time or not).
    pub(crate) fn has_no_available(&self) -> bool {
        !self.statuses.contains_key(&Status::Available)
    }
}

/// The resources of one account's rows (keyed as the audit keys them), and those its
/// provider listed without any backup, within `--resource` (`only`); ordered by key.
pub(crate) fn resource_figures(
    rows: &[Backup],
    known: &[KnownResource],
    only: Option<&str>,
) -> Vec<ResourceFigures> {
    let mut by_key: BTreeMap<&str, ResourceFigures> = BTreeMap::new();
    for b in rows {
        let key = audit::resource_key(b);
        let r = by_key.entry(key).or_insert_with(|| ResourceFigures {
            key: key.to_string(),
            name: None,
            resource_type: None,
            newest_available: None,
            statuses: BTreeMap::new(),
        });
        if r.name.is_none() {
            r.name.clone_from(&b.resource_name);
        }
        if r.resource_type.is_none() {
            r.resource_type.clone_from(&b.resource_type);
        }
        *r.statuses.entry(b.status).or_default() += 1;
        if let (Status::Available, Some(at)) = (b.status, b.created_at) {
            let at = at.utc();
            if r.newest_available.is_none_or(|(t, _)| at > t) {
                r.newest_available = Some((at, b.size_bytes));
            }
        }
    }
    for k in known.iter().filter(|k| k.backups == 0) {
        let named = |r: &str| k.resource_id == r || k.resource_name.as_deref() == Some(r);
        if only.is_some_and(|r| !named(r)) || by_key.contains_key(k.resource_id.as_str()) {
            continue;
        }
        by_key.insert(
            &k.resource_id,
            ResourceFigures {
                key: k.resource_id.clone(),
                name: k.resource_name.clone(),
                resource_type: k.resource_type.clone(),
                newest_available: None,
                statuses: BTreeMap::new(),
            },
        );
    }
    by_key.into_values().collect()
}

/// Unix time in seconds, to the millisecond.
fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Every family, empty.
fn empty() -> Vec<Family> {
    FAMILIES
        .iter()
        .map(|(name, help)| Family::new(name, help))
        .collect()
}

/// The families before any listing: every family's HELP and TYPE, and the build info.
pub(crate) fn before_first_listing() -> Vec<Family> {
    let mut families = empty();
    families[0].push(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    families
}

/// The families of one audit, every one of them present (with or without series).
pub(crate) fn families(a: &Audit) -> Vec<Family> {
    let mut f = before_first_listing();
    let family = |f: &mut Vec<Family>, name: &str| -> usize {
        f.iter()
            .position(|x| x.name == name)
            .expect("a known family")
    };
    let i = family(&mut f, AUDIT_TIMESTAMP);
    f[i].push(&[], unix(a.finished_at));
    let i = family(&mut f, AUDIT_DURATION);
    f[i].push(&[], a.duration.as_millis() as f64 / 1000.0);
    let [up, last, max_age, info, last_available, size, backups, findings] = [
        ACCOUNT_UP,
        ACCOUNT_LAST_SUCCESS,
        ACCOUNT_MAX_AGE,
        RESOURCE_INFO,
        RESOURCE_LAST_AVAILABLE,
        RESOURCE_LAST_SIZE,
        RESOURCE_BACKUPS,
        FINDINGS,
    ]
    .map(|name| family(&mut f, name));
    for view in a.accounts {
        let provider = view.account.provider().as_str();
        let account = view.account.name.as_str();
        let pa = [("provider", provider), ("account", account)];
        f[up].push(&pa, if view.up { 1.0 } else { 0.0 });
        f[last].push(&pa, view.last_success.map_or(0.0, unix));
        let seconds = a.policy.max_age(view.account).num_seconds() as f64;
        f[max_age].push(&pa, seconds);
        let only = a.policy.resource.as_deref();
        for r in resource_figures(view.rows, view.resources, only) {
            let par = [pa[0], pa[1], ("resource", r.key.as_str())];
            let name = r.name.as_deref().unwrap_or("");
            let rtype = r.resource_type.as_deref().unwrap_or("");
            let labels = [
                par[0],
                par[1],
                par[2],
                ("resource_name", name),
                ("resource_type", rtype),
            ];
            f[info].push(&labels, 1.0);
            f[last_available].push(&par, r.newest_available.map_or(0.0, |(t, _)| unix(t)));
            if let Some((_, Some(bytes))) = r.newest_available {
                f[size].push(&par, bytes as f64);
            }
            for (status, n) in &r.statuses {
                let labels = [par[0], par[1], par[2], ("status", status.as_str())];
                f[backups].push(&labels, *n as f64);
            }
        }
        for kind in FindingKind::ALL {
            let n = a
                .findings
                .iter()
                .filter(|x| x.kind == kind && x.account.as_deref() == Some(account))
                .count();
            f[findings].push(&[pa[0], pa[1], ("kind", kind.as_str())], n as f64);
        }
    }
    // Expected resources found in no selected account belong to no account (`docs/cli.md#audit`):
    // one series with empty provider and account, there whenever `expect` entries are set so
    // that it does not come and go with the finding.
    if !a.policy.flags.expect.is_empty() || !a.policy.file.expect.is_empty() {
        let n = a
            .findings
            .iter()
            .filter(|x| x.kind == FindingKind::Missing && x.account.is_none())
            .count();
        let labels = [("provider", ""), ("account", ""), ("kind", "missing")];
        f[findings].push(&labels, n as f64);
    }
    f
}

/// An account's last complete listing.
#[derive(Debug)]
struct Good {
    rows: Vec<Backup>,
    resources: Vec<KnownResource>,
    at: DateTime<Utc>,
}

/// What the exporter remembers between listings: each account's last complete listing.
#[derive(Debug)]
pub(crate) struct Tracker {
    accounts: Vec<Account>,
    last: Vec<Option<Good>>,
}

impl Tracker {
    /// A tracker for `accounts` (in the order listings return them), with no listing yet.
    pub(crate) fn new(accounts: Vec<Account>) -> Tracker {
        let last = accounts.iter().map(|_| None).collect();
        Tracker { accounts, last }
    }

    /// Takes one listing's results (one per account, in order) that finished at `finished`
    /// after `duration`; returns the families to serve and the failures of this listing. A
    /// failed account keeps its last good rows, judged again at `finished` so its findings
    /// keep ageing, with `up` 0 and one `account_failed` finding; one never listed has only
    /// that finding. As in `audit`, an expected resource found in no account is not judged
    /// while an account failed.
    pub(crate) fn update(
        &mut self,
        results: Vec<AccountResult>,
        policy: &Policy,
        finished: DateTime<Utc>,
        duration: std::time::Duration,
    ) -> (Vec<Family>, Vec<Error>) {
        let mut errors: Vec<Option<Error>> = Vec::with_capacity(results.len());
        for (slot, r) in self.last.iter_mut().zip(results) {
            match r.result {
                Ok(rows) => {
                    *slot = Some(Good {
                        rows,
                        resources: r.resources,
                        at: finished,
                    });
                    errors.push(None);
                }
                Err(e) => errors.push(Some(e)),
            }
        }
        let listings =
            self.accounts
                .iter()
                .zip(&self.last)
                .zip(&errors)
                .map(|((account, last), error)| Listing {
                    account,
                    rows: match (last, error) {
                        (Some(good), _) => Ok(good.rows.as_slice()),
                        (None, Some(e)) => Err(e),
                        (None, None) => Ok(&[]),
                    },
                    resources: last.as_ref().map_or(&[], |g| g.resources.as_slice()),
                });
        let (mut findings, _) = audit::assess(listings, policy, finished);
        let mut any_failed = false;
        for ((account, last), error) in self.accounts.iter().zip(&self.last).zip(&errors) {
            let Some(e) = error else { continue };
            any_failed = true;
            if last.is_some() {
                findings.push(account_failed(account, e, policy));
            }
        }
        if any_failed {
            findings.retain(|f| f.account.is_some());
        }
        let views: Vec<AccountView> = self
            .accounts
            .iter()
            .zip(&self.last)
            .zip(&errors)
            .map(|((account, last), error)| AccountView {
                account,
                up: error.is_none(),
                last_success: last.as_ref().map(|g| g.at),
                rows: last.as_ref().map_or(&[], |g| g.rows.as_slice()),
                resources: last.as_ref().map_or(&[], |g| g.resources.as_slice()),
            })
            .collect();
        let families = families(&Audit {
            finished_at: finished,
            duration,
            accounts: &views,
            findings: &findings,
            policy,
        });
        (families, errors.into_iter().flatten().collect())
    }
}

/// The `account_failed` finding of an account judged on its last good rows.
fn account_failed(account: &Account, e: &Error, policy: &Policy) -> Finding {
    Finding {
        provider: Some(account.provider()),
        account: Some(account.name.clone()),
        resource: None,
        resource_name: None,
        kind: FindingKind::AccountFailed,
        message: format!("could not be listed: {e}"),
        backup_id: None,
        newest_available_id: None,
        newest_available_at: None,
        newest_available_age_seconds: None,
        max_age_seconds: Some(policy.max_age(account).num_seconds()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::PolicyLayer;
    use crate::error::ErrorKind;
    use crate::model::{ProviderId, Timestamp};
    use crate::monitor::exposition;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn accounts(names: &[&str]) -> Vec<Account> {
        let text: String = names
            .iter()
            .map(|n| {
                format!(
                    "[accounts.{n}]\nprovider = \"bycloud\"\nregion = \"spo1\"\ntoken = \"t\"\n"
                )
            })
            .collect();
        crate::config::parse(&text, std::path::Path::new("t.toml"), &|_| None)
            .unwrap()
            .accounts
    }

    fn row(account: &str, resource: &str, status: Status, t: Option<DateTime<Utc>>) -> Backup {
        let id = format!("{account}-{resource}-{}", t.map_or(0, |t| t.timestamp()));
        let mut row = Backup::new(ProviderId::Bycloud, account, id, status);
        row.resource_id = Some(resource.to_string());
        row.resource_type = Some("volume".into());
        row.size_bytes = Some(1 << 30);
        row.created_at = t.map(|t| Timestamp::new(t, 0));
        row
    }

    fn result(account: &str, rows: Result<Vec<Backup>, &str>) -> AccountResult {
        AccountResult {
            account: account.into(),
            result: rows.map_err(|m| Error::new(ErrorKind::Network, m).with_account(account)),
            resources: Vec::new(),
        }
    }

    /// `name{labels} value` lines of the families, without the comments.
    fn series(families: &[Family]) -> Vec<String> {
        exposition::to_string(families)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(String::from)
            .collect()
    }

    fn value(families: &[Family], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let f = families.iter().find(|f| f.name == name)?;
        f.samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(n, v)| s.labels.iter().any(|(a, b)| a == n && b == v))
            })
            .map(|s| s.value)
    }

    #[test]
    fn before_the_first_listing_every_family_is_there_with_build_info_only() {
        let text = exposition::to_string(&before_first_listing());
        for (name, _) in FAMILIES {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert!(text.contains(&format!("# TYPE {name} gauge\n")), "{name}");
        }
        assert_eq!(
            series(&before_first_listing()),
            [format!(
                "backups_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )]
        );
    }

    #[test]
    fn one_audit_gives_each_family_its_series() {
        let all = accounts(&["a", "b"]);
        let t = now() - Duration::hours(2);
        let rows = vec![
            row("a", "vol-1", Status::Available, Some(t)),
            row("a", "vol-1", Status::Available, Some(t - Duration::days(1))),
            row("a", "vol-1", Status::Error, Some(t)),
            row("a", "vol-2", Status::Creating, Some(t)),
        ];
        let known = [KnownResource {
            resource_type: Some("service_instance".into()),
            resource_id: "si-1".into(),
            resource_name: Some("empty-pg".into()),
            backups: 0,
        }];
        let policy = Policy {
            flags: PolicyLayer {
                max_age: Some(Duration::hours(26)),
                ..PolicyLayer::default()
            },
            ..Policy::default()
        };
        let error = Error::new(ErrorKind::Network, "down").with_account("b");
        let listings = [
            Listing {
                account: &all[0],
                rows: Ok(&rows),
                resources: &known,
            },
            Listing {
                account: &all[1],
                rows: Err(&error),
                resources: &[],
            },
        ];
        let (findings, _) = audit::assess(listings, &policy, now());
        let views = [
            AccountView {
                account: &all[0],
                up: true,
                last_success: Some(now()),
                rows: &rows,
                resources: &known,
            },
            AccountView {
                account: &all[1],
                up: false,
                last_success: None,
                rows: &[],
                resources: &[],
            },
        ];
        let families = families(&Audit {
            finished_at: now(),
            duration: std::time::Duration::from_millis(1250),
            accounts: &views,
            findings: &findings,
            policy: &policy,
        });
        let s = series(&families);
        let v = env!("CARGO_PKG_VERSION");
        let at = t.timestamp();
        let mut want = vec![
            format!("backups_build_info{{version=\"{v}\"}} 1"),
            "backups_audit_timestamp_seconds 1795435200".to_string(),
            "backups_audit_duration_seconds 1.25".to_string(),
            "backups_account_up{provider=\"bycloud\",account=\"a\"} 1".to_string(),
            "backups_account_up{provider=\"bycloud\",account=\"b\"} 0".to_string(),
            "backups_account_last_success_timestamp_seconds{provider=\"bycloud\",account=\"a\"} 1795435200".to_string(),
            "backups_account_last_success_timestamp_seconds{provider=\"bycloud\",account=\"b\"} 0".to_string(),
            "backups_account_max_age_seconds{provider=\"bycloud\",account=\"a\"} 93600".to_string(),
            "backups_account_max_age_seconds{provider=\"bycloud\",account=\"b\"} 93600".to_string(),
            "backups_resource_info{provider=\"bycloud\",account=\"a\",resource=\"si-1\",resource_name=\"empty-pg\",resource_type=\"service_instance\"} 1".to_string(),
            "backups_resource_info{provider=\"bycloud\",account=\"a\",resource=\"vol-1\",resource_name=\"\",resource_type=\"volume\"} 1".to_string(),
            "backups_resource_info{provider=\"bycloud\",account=\"a\",resource=\"vol-2\",resource_name=\"\",resource_type=\"volume\"} 1".to_string(),
            "backups_resource_last_available_timestamp_seconds{provider=\"bycloud\",account=\"a\",resource=\"si-1\"} 0".to_string(),
            format!("backups_resource_last_available_timestamp_seconds{{provider=\"bycloud\",account=\"a\",resource=\"vol-1\"}} {at}"),
            "backups_resource_last_available_timestamp_seconds{provider=\"bycloud\",account=\"a\",resource=\"vol-2\"} 0".to_string(),
            "backups_resource_last_available_size_bytes{provider=\"bycloud\",account=\"a\",resource=\"vol-1\"} 1073741824".to_string(),
            "backups_resource_backups{provider=\"bycloud\",account=\"a\",resource=\"vol-1\",status=\"available\"} 2".to_string(),
            "backups_resource_backups{provider=\"bycloud\",account=\"a\",resource=\"vol-1\",status=\"error\"} 1".to_string(),
            "backups_resource_backups{provider=\"bycloud\",account=\"a\",resource=\"vol-2\",status=\"creating\"} 1".to_string(),
        ];
        // vol-1 failed, vol-2 is stale, si-1 is missing; b failed.
        for (account, counts) in [("a", [0, 1, 1, 0, 1, 0, 0]), ("b", [1, 0, 0, 0, 0, 0, 0])] {
            for (kind, n) in FindingKind::ALL.iter().zip(counts) {
                want.push(format!("backups_findings{{provider=\"bycloud\",account=\"{account}\",kind=\"{kind}\"}} {n}"));
            }
        }
        assert_eq!(s, want);
    }

    #[test]
    fn a_failed_account_keeps_its_last_good_figures_ageing_and_says_it_failed() {
        let all = accounts(&["a", "b"]);
        let policy = Policy {
            flags: PolicyLayer {
                expect: vec!["nowhere".into()],
                ..PolicyLayer::default()
            },
            ..Policy::default()
        };
        let mut tracker = Tracker::new(all);
        let t0 = now();
        let fresh = now() - Duration::hours(1);
        let good = || vec![row("a", "vol-1", Status::Available, Some(fresh))];
        let took = std::time::Duration::from_millis(10);
        // b has never been listed; a is healthy; the unpinned entry is missing.
        let (f, failures) = tracker.update(
            vec![result("a", Ok(good())), result("b", Err("refused"))],
            &policy,
            t0,
            took,
        );
        assert_eq!(failures.len(), 1);
        assert_eq!(
            value(&f, FINDINGS, &[("account", "a"), ("kind", "stale")]),
            Some(0.0)
        );
        assert_eq!(
            value(
                &f,
                FINDINGS,
                &[("account", "b"), ("kind", "account_failed")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&f, ACCOUNT_LAST_SUCCESS, &[("account", "b")]),
            Some(0.0)
        );
        // While an account failed, an unpinned entry is not judged: 0, not 1.
        assert_eq!(
            value(&f, FINDINGS, &[("account", ""), ("kind", "missing")]),
            Some(0.0)
        );
        // Two days later a fails: its figures stay, its backup is now stale.
        let t1 = t0 + Duration::days(2);
        let (f, _) = tracker.update(
            vec![result("a", Err("HTTP 503")), result("b", Ok(Vec::new()))],
            &policy,
            t1,
            took,
        );
        assert_eq!(value(&f, ACCOUNT_UP, &[("account", "a")]), Some(0.0));
        assert_eq!(value(&f, ACCOUNT_UP, &[("account", "b")]), Some(1.0));
        assert_eq!(
            value(&f, ACCOUNT_LAST_SUCCESS, &[("account", "a")]),
            Some(unix(t0))
        );
        assert_eq!(
            value(&f, ACCOUNT_LAST_SUCCESS, &[("account", "b")]),
            Some(unix(t1))
        );
        assert_eq!(
            value(
                &f,
                RESOURCE_LAST_AVAILABLE,
                &[("account", "a"), ("resource", "vol-1")]
            ),
            Some(unix(fresh))
        );
        assert_eq!(
            value(
                &f,
                FINDINGS,
                &[("account", "a"), ("kind", "account_failed")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&f, FINDINGS, &[("account", "a"), ("kind", "stale")]),
            Some(1.0)
        );
        // Both listed again: the unpinned entry is judged and missing.
        let (f, failures) = tracker.update(
            vec![result("a", Ok(good())), result("b", Ok(Vec::new()))],
            &policy,
            t1,
            took,
        );
        assert!(failures.is_empty());
        assert_eq!(
            value(
                &f,
                FINDINGS,
                &[("account", "a"), ("kind", "account_failed")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(&f, FINDINGS, &[("account", ""), ("kind", "missing")]),
            Some(1.0)
        );
    }
}
