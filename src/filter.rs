//! The user's selection (`--status`, `--since`, `--until`, `--name`, `--resource`), applied on
//! the client to every row, whatever the server already filtered; plus sorting, and the typed
//! values the command line parses into ([`TimeBound`], [`SortKey`]).

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::model::{Backup, Status};

/// Row filters. Adapters may push parts of it to the server (the push-down table in
/// `docs/cli.md#list-audit-and-exporter-selection`); [`Filter::matches`] is always applied
/// afterwards, so results are the same either way.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Keep only these statuses (empty = all).
    pub(crate) statuses: Vec<Status>,
    /// Keep rows created at or after this instant.
    pub(crate) since: Option<DateTime<Utc>>,
    /// Keep rows created at or before this instant.
    pub(crate) until: Option<DateTime<Utc>>,
    /// Glob on `name`.
    pub(crate) name: Option<NameGlob>,
    /// `resource_id` or `resource_name` equals.
    pub(crate) resource: Option<String>,
    /// Counts rows that matched everything but a time bound because they have no creation
    /// time, so the command can say how many `--since`/`--until` left out.
    pub(crate) timeless_left_out: LeftOut,
}

/// A count shared by every clone of one [`Filter`] (accounts are listed concurrently).
#[derive(Clone, Debug, Default)]
pub(crate) struct LeftOut(Arc<AtomicUsize>);

impl LeftOut {
    /// How many rows were counted so far.
    pub(crate) fn get(&self) -> usize {
        self.0.load(Relaxed)
    }

    fn add_one(&self) {
        self.0.fetch_add(1, Relaxed);
    }
}

/// A `--name` glob (`web-*`, `db-?`, `[ab]*`).
#[derive(Clone, Debug)]
pub(crate) struct NameGlob {
    raw: String,
    pattern: glob::Pattern,
}

impl NameGlob {
    /// Compiles a glob; a malformed one is a usage error.
    pub(crate) fn new(raw: &str) -> Result<NameGlob> {
        let pattern = glob::Pattern::new(raw)
            .map_err(|e| Error::usage(format!("--name `{raw}`: invalid glob: {e}")))?;
        Ok(NameGlob {
            raw: raw.to_string(),
            pattern,
        })
    }

    /// The name it matches exactly, when it has no wildcard at all.
    pub(crate) fn exact(&self) -> Option<&str> {
        (!self.raw.contains(['*', '?', '['])).then_some(self.raw.as_str())
    }

    /// The prefix it stands for, when it is `prefix*` with no other wildcard.
    pub(crate) fn prefix(&self) -> Option<&str> {
        let p = self.raw.strip_suffix('*')?;
        (!p.contains(['*', '?', '['])).then_some(p)
    }

    /// Whether `name` matches.
    pub(crate) fn matches(&self, name: &str) -> bool {
        self.pattern.matches(name)
    }
}

impl Filter {
    /// Whether a row passes every filter. Rows without `created_at` never pass a time bound
    /// (counted in [`Filter::timeless_left_out`] when they pass the rest); rows without a name
    /// never pass `--name`.
    pub(crate) fn matches(&self, b: &Backup) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&b.status) {
            return false;
        }
        if let Some(glob) = &self.name {
            if !b.name.as_deref().is_some_and(|n| glob.matches(n)) {
                return false;
            }
        }
        if let Some(r) = &self.resource {
            let hit = b.resource_id.as_deref() == Some(r.as_str())
                || b.resource_name.as_deref() == Some(r.as_str());
            if !hit {
                return false;
            }
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(created) = b.created_at.map(|t| t.utc()) else {
            self.timeless_left_out.add_one();
            return false;
        };
        !(self.since.is_some_and(|s| created < s) || self.until.is_some_and(|u| created > u))
    }

    /// Whether a value looks like an id the server can filter on exactly (a UUID, dashed or
    /// not). `--resource` matches ids *or* names, so only such values are pushed down.
    pub(crate) fn resource_is_uuid(&self) -> Option<&str> {
        self.resource.as_deref().filter(|r| is_uuid(r))
    }
}

/// Whether `s` is a UUID (8-4-4-4-12 hex) or 32 hex digits.
pub(crate) fn is_uuid(s: &str) -> bool {
    let hex = |p: &str| p.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [one] => one.len() == 32 && hex(one),
        [a, b, c, d, e] => {
            [a.len(), b.len(), c.len(), d.len(), e.len()] == [8, 4, 4, 4, 12]
                && parts.iter().all(|p| hex(p))
        }
        _ => false,
    }
}

/// A `--since`/`--until` value as typed: an instant, or an age to subtract from "now" (which
/// the command knows, so tests can pin it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeBound {
    /// RFC 3339, or a date (midnight UTC).
    At(DateTime<Utc>),
    /// An age like `36h` or `7d` before now.
    Ago(chrono::Duration),
}

impl TimeBound {
    /// The instant, given now; `None` when the age reaches before the calendar's start.
    pub(crate) fn resolve(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            TimeBound::At(t) => Some(t),
            TimeBound::Ago(age) => now.checked_sub_signed(age),
        }
    }
}

impl std::str::FromStr for TimeBound {
    type Err = String;

    /// Parses RFC 3339, a date, or an age (`36h`, `7d`); the error says which forms work.
    fn from_str(s: &str) -> std::result::Result<TimeBound, String> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(TimeBound::At(t.with_timezone(&Utc)));
        }
        if let Some(midnight) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
        {
            return Ok(TimeBound::At(midnight.and_utc()));
        }
        match crate::duration::parse_checked(s) {
            Ok(age) => Ok(TimeBound::Ago(age)),
            Err(crate::duration::DurationError::Malformed) => Err(
                "not a time (use RFC 3339 like 2024-01-15T10:30:00Z, a date, or an age like 36h, 7d)"
                    .to_string(),
            ),
            Err(e) => Err(format!("an age {e}")),
        }
    }
}

/// A `--sort` key: a model field and a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SortKey {
    /// Which field.
    pub(crate) field: SortField,
    /// Reverse the field's natural order (`-` prefix).
    pub(crate) reverse: bool,
}

/// Fields `--sort` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SortField {
    /// Newest first; rows without a time last.
    CreatedAt,
    /// A to Z; rows without a name last.
    Name,
    /// Largest first; rows without a size last.
    Size,
    /// In model order (`docs/model.md#status-stable`).
    Status,
    /// By provider, then account.
    Provider,
}

impl SortKey {
    /// Newest first: the default.
    pub(crate) const DEFAULT: SortKey = SortKey {
        field: SortField::CreatedAt,
        reverse: false,
    };

    /// Sorts rows; ties are broken by provider, account and id so output is deterministic.
    /// Missing values sort last in either direction.
    pub(crate) fn sort(&self, rows: &mut [Backup]) {
        // The order is found on indices and then applied with one swap per misplaced row: a
        // `Backup` is a few hundred bytes, and sorting the rows themselves moved each of them
        // log2(n) times (a tenth of the CPU of a 60,000-row listing).
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&rows[a], &rows[b]);
            self.compare(a, b).then_with(|| tiebreak(a, b))
        });
        permute(rows, order);
    }

    fn compare(&self, a: &Backup, b: &Backup) -> Ordering {
        let dir = |o: Ordering| if self.reverse { o.reverse() } else { o };
        match self.field {
            SortField::CreatedAt => last_if_none(
                a.created_at.map(|t| t.utc()),
                b.created_at.map(|t| t.utc()),
                |x, y| dir(y.cmp(x)),
            ),
            SortField::Name => last_if_none(a.name.as_ref(), b.name.as_ref(), |x, y| dir(x.cmp(y))),
            SortField::Size => last_if_none(a.size_bytes, b.size_bytes, |x, y| dir(y.cmp(x))),
            SortField::Status => dir(a.status.cmp(&b.status)),
            SortField::Provider => dir(a
                .provider
                .cmp(&b.provider)
                .then_with(|| a.account.cmp(&b.account))),
        }
    }
}

/// Puts `rows[order[i]]` at `i` for every `i` (`order` is a permutation), following each
/// cycle: in a cycle the row displaced by every swap is the one its first place held, which
/// belongs at the cycle's last place.
fn permute<T>(rows: &mut [T], mut order: Vec<usize>) {
    for start in 0..rows.len() {
        let mut at = start;
        loop {
            let from = order[at];
            order[at] = at;
            if from == start || from == at {
                break;
            }
            rows.swap(at, from);
            at = from;
        }
    }
}

impl SortField {
    /// Every field, in the order `--help` lists them.
    pub(crate) const ALL: [SortField; 5] = [
        SortField::CreatedAt,
        SortField::Name,
        SortField::Size,
        SortField::Status,
        SortField::Provider,
    ];

    /// The name `--sort` takes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SortField::CreatedAt => "created_at",
            SortField::Name => "name",
            SortField::Size => "size",
            SortField::Status => "status",
            SortField::Provider => "provider",
        }
    }

    /// Other names accepted for the same field.
    pub(crate) fn aliases(self) -> &'static [&'static str] {
        match self {
            SortField::CreatedAt => &["created", "age"],
            SortField::Size => &["size_bytes"],
            SortField::Name | SortField::Status | SortField::Provider => &[],
        }
    }
}

impl std::str::FromStr for SortKey {
    type Err = String;

    /// Parses `created_at`, `-name`, `size`, … ; the error lists the valid keys.
    fn from_str(s: &str) -> std::result::Result<SortKey, String> {
        let (reverse, key) = match s.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, s),
        };
        SortField::ALL
            .into_iter()
            .find(|f| f.as_str() == key || f.aliases().contains(&key))
            .map(|field| SortKey { field, reverse })
            .ok_or_else(|| {
                format!(
                    "unknown sort key `{s}` (valid: {}; prefix - to reverse)",
                    SortField::ALL.map(SortField::as_str).join(", ")
                )
            })
    }
}

fn last_if_none<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(&T, &T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => cmp(&x, &y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn tiebreak(a: &Backup, b: &Backup) -> Ordering {
    (a.provider, &a.account, &a.id).cmp(&(b.provider, &b.account, &b.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProviderId, Timestamp};

    fn row(id: &str, created: Option<&str>, name: Option<&str>) -> Backup {
        let mut b = Backup::new(ProviderId::Huawei, "a", id.into(), Status::Available);
        b.created_at = created.and_then(Timestamp::parse_vendor);
        b.name = name.map(String::from);
        b
    }

    mod permutations {
        use super::super::permute;
        use proptest::prelude::*;

        proptest! {
            /// Applying an order in place gives what picking the rows by that order gives.
            #[test]
            fn a_permutation_is_applied_in_place(
                order in (0usize..60).prop_flat_map(|n| {
                    Just((0..n).collect::<Vec<_>>()).prop_shuffle()
                })
            ) {
                let mut rows: Vec<String> = (0..order.len()).map(|i| format!("row{i}")).collect();
                let want: Vec<String> = order.iter().map(|&i| rows[i].clone()).collect();
                permute(&mut rows, order);
                prop_assert_eq!(rows, want);
            }
        }
    }

    #[test]
    fn newest_first_with_timeless_rows_last() {
        let mut rows = vec![
            row("old", Some("2024-01-01T00:00:00Z"), None),
            row("none", None, None),
            row("new", Some("2024-02-01T00:00:00Z"), None),
        ];
        SortKey::DEFAULT.sort(&mut rows);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["new", "old", "none"]);
        "-created_at".parse::<SortKey>().unwrap().sort(&mut rows);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["old", "new", "none"]);
    }

    #[test]
    fn time_bounds_never_match_timeless_rows() {
        let f = Filter {
            since: Some("2024-01-15T00:00:00Z".parse().unwrap()),
            ..Filter::default()
        };
        assert!(!f.matches(&row("a", None, None)));
        assert!(!f.matches(&row("a", Some("2024-01-14T23:59:59Z"), None)));
        assert!(f.matches(&row("a", Some("2024-01-15T00:00:00Z"), None)));
    }

    #[test]
    fn name_globs() {
        let g = NameGlob::new("web-*").unwrap();
        assert!(g.matches("web-1"));
        assert!(!g.matches("db-1"));
        assert_eq!(g.prefix(), Some("web-"));
        assert_eq!(g.exact(), None);
        assert_eq!(NameGlob::new("db").unwrap().exact(), Some("db"));
        assert!(NameGlob::new("[").is_err());
        let f = Filter {
            name: Some(g),
            ..Filter::default()
        };
        assert!(
            !f.matches(&row("a", None, None)),
            "a nameless row never matches --name"
        );
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("550e8400-e29b-41d4-a716-446655440000"));
        assert!(is_uuid("58ad1951017444acacc13cee1067f1d0"));
        assert!(!is_uuid("vol1"));
        assert!(!is_uuid("550e8400-e29b-41d4-a716-44665544000g"));
    }

    #[test]
    fn sort_keys() {
        assert_eq!(
            "bogus".parse::<SortKey>().unwrap_err(),
            "unknown sort key `bogus` (valid: created_at, name, size, status, provider; prefix - to reverse)"
        );
        assert_eq!(
            "-size".parse::<SortKey>().unwrap(),
            SortKey {
                field: SortField::Size,
                reverse: true
            }
        );
        assert_eq!(
            "age".parse::<SortKey>().unwrap(),
            SortKey::DEFAULT,
            "an alias"
        );
    }

    #[test]
    fn time_bounds_parse_instants_dates_and_ages() {
        let now: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<TimeBound>().unwrap().resolve(now).unwrap();
        assert_eq!(at("36h").to_rfc3339(), "2026-11-22T00:00:00+00:00");
        assert_eq!(at("7d").to_rfc3339(), "2026-11-16T12:00:00+00:00");
        assert_eq!(
            at("2026-11-01T01:00:00+01:00").to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(at("2026-11-01").to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert!("yesterday"
            .parse::<TimeBound>()
            .unwrap_err()
            .starts_with("not a time"));
        assert_eq!(
            "99999w".parse::<TimeBound>().unwrap_err(),
            "an age longer than 100 years (the most a duration may be)"
        );
        let far = TimeBound::Ago(chrono::TimeDelta::MAX);
        assert_eq!(far.resolve(now), None, "before the calendar's start");
    }

    #[test]
    fn rows_left_out_for_lack_of_a_time_are_counted_once_each() {
        let f = Filter {
            since: Some("2024-01-15T00:00:00Z".parse().unwrap()),
            statuses: vec![Status::Available],
            ..Filter::default()
        };
        let shared = f.clone();
        assert!(!f.matches(&row("a", None, None)));
        assert!(!shared.matches(&row("b", None, None)));
        let mut failed = row("c", None, None);
        failed.status = Status::Error;
        assert!(!f.matches(&failed), "left out by --status, not counted");
        assert!(!f.matches(&row("d", Some("2024-01-01T00:00:00Z"), None)));
        assert_eq!(f.timeless_left_out.get(), 2);
        let no_bounds = Filter::default();
        assert!(no_bounds.matches(&row("e", None, None)));
        assert_eq!(no_bounds.timeless_left_out.get(), 0);
    }
}
