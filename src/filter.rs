//! The user's selection (`--status`, `--since`, `--until`, `--name`, `--resource`), applied on
//! the client to every row, whatever the server already filtered; plus sorting.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::model::{Backup, Status};

/// Row filters. Adapters may push parts of it to the server (spec §2); [`Filter::matches`]
/// is always applied afterwards, so results are the same either way.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Keep only these statuses (empty = all).
    pub statuses: Vec<Status>,
    /// Keep rows created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Keep rows created at or before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Glob on `name`.
    pub name: Option<NameGlob>,
    /// `resource_id` or `resource_name` equals.
    pub resource: Option<String>,
}

/// A `--name` glob (`web-*`, `db-?`, `[ab]*`).
#[derive(Clone, Debug)]
pub struct NameGlob {
    raw: String,
    pattern: glob::Pattern,
}

impl NameGlob {
    /// Compiles a glob; a malformed one is a usage error.
    pub fn new(raw: &str) -> Result<NameGlob> {
        let pattern = glob::Pattern::new(raw)
            .map_err(|e| Error::usage(format!("--name `{raw}`: invalid glob: {e}")))?;
        Ok(NameGlob {
            raw: raw.to_string(),
            pattern,
        })
    }

    /// The pattern as typed.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The name it matches exactly, when it has no wildcard at all.
    pub fn exact(&self) -> Option<&str> {
        (!self.raw.contains(['*', '?', '['])).then_some(self.raw.as_str())
    }

    /// The prefix it stands for, when it is `prefix*` with no other wildcard.
    pub fn prefix(&self) -> Option<&str> {
        let p = self.raw.strip_suffix('*')?;
        (!p.contains(['*', '?', '['])).then_some(p)
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.pattern.matches(name)
    }
}

impl Filter {
    /// Whether a row passes every filter. Rows without `created_at` never pass a time bound;
    /// rows without a name never pass `--name`.
    pub fn matches(&self, b: &Backup) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&b.status) {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(created) = b.created_at.map(|t| t.utc()) else {
                return false;
            };
            if self.since.is_some_and(|s| created < s) || self.until.is_some_and(|u| created > u) {
                return false;
            }
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
        true
    }

    /// Whether a value looks like an id the server can filter on exactly (a UUID, dashed or
    /// not). `--resource` matches ids *or* names, so only such values are pushed down.
    pub fn resource_is_uuid(&self) -> Option<&str> {
        self.resource.as_deref().filter(|r| is_uuid(r))
    }
}

/// Whether `s` is a UUID (8-4-4-4-12 hex) or 32 hex digits.
pub fn is_uuid(s: &str) -> bool {
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

/// A `--sort` key: a model field and a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// Which field.
    pub field: SortField,
    /// Reverse the field's natural order (`-` prefix).
    pub reverse: bool,
}

/// Fields `--sort` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    /// Newest first; rows without a time last.
    CreatedAt,
    /// A to Z; rows without a name last.
    Name,
    /// Largest first; rows without a size last.
    Size,
    /// In the order of the spec's status table.
    Status,
    /// By provider, then account.
    Provider,
}

impl SortKey {
    /// Newest first: the default.
    pub const DEFAULT: SortKey = SortKey {
        field: SortField::CreatedAt,
        reverse: false,
    };

    /// Parses `created_at`, `-name`, `size`, … ; an unknown key is a usage error listing valid ones.
    pub fn parse(s: &str) -> Result<SortKey> {
        let (reverse, key) = match s.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, s),
        };
        let field = match key {
            "created_at" | "created" | "age" => SortField::CreatedAt,
            "name" => SortField::Name,
            "size" | "size_bytes" => SortField::Size,
            "status" => SortField::Status,
            "provider" => SortField::Provider,
            _ => {
                return Err(Error::usage(format!(
                    "--sort `{s}`: unknown key (valid: created_at, name, size, status, provider; prefix - to reverse)"
                )))
            }
        };
        Ok(SortKey { field, reverse })
    }

    /// Sorts rows; ties are broken by provider, account and id so output is deterministic.
    /// Missing values sort last in either direction.
    pub fn sort(&self, rows: &mut [Backup]) {
        rows.sort_by(|a, b| self.compare(a, b).then_with(|| tiebreak(a, b)));
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
        SortKey::parse("-created_at").unwrap().sort(&mut rows);
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
        assert!(SortKey::parse("bogus")
            .unwrap_err()
            .to_string()
            .contains("valid: created_at"));
        assert_eq!(
            SortKey::parse("-size").unwrap(),
            SortKey {
                field: SortField::Size,
                reverse: true
            }
        );
    }
}
