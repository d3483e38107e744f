//! Comparing two listings of an account, with no storage involved: the rows of `backups diff`
//! and the backups that vanished early (the `vanished` audit finding, `docs/cli.md#audit`).
//!
//! Rows are matched by (provider, account, backup id); when a listing holds the same id more
//! than once, the n-th row with that id in one listing matches the n-th in the other.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::model::{Backup, Status};

/// How a backup differs between two snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ChangeKind {
    /// In the newer snapshot only.
    Appeared,
    /// In the older snapshot only.
    Vanished,
    /// In both, with another normalised status.
    Changed,
}

impl ChangeKind {
    /// The name in the `change` column (stable, `docs/cli.md#diff`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Appeared => "appeared",
            ChangeKind::Vanished => "vanished",
            ChangeKind::Changed => "changed",
        }
    }
}

impl Serialize for ChangeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One row of `backups diff`: the four diff columns first, then the backup as in the newer
/// snapshot (for `vanished`: as in the older one). Serialises as one flat object in that
/// order, every key present.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Change {
    /// What happened.
    pub(crate) change: ChangeKind,
    /// The status in the older snapshot; `None` for `appeared`.
    pub(crate) from_status: Option<Status>,
    /// The status in the newer snapshot; `None` for `vanished`.
    pub(crate) to_status: Option<Status>,
    /// For `vanished`: whether it went early, by the rule of the `vanished` finding
    /// ([`vanished`]); `None` for the other changes.
    pub(crate) early: Option<bool>,
    /// The backup's fields.
    #[serde(flatten)]
    pub(crate) backup: Backup,
}

impl Change {
    /// The names of the diff columns, in output order; the model's fields follow them.
    pub(crate) const COLUMNS: [&'static str; 4] = ["change", "from_status", "to_status", "early"];

    /// The diff columns as flat text for csv, tsv and table cells, in [`Change::COLUMNS`]
    /// order; `None` for null.
    pub(crate) fn column_texts(&self) -> [Option<String>; 4] {
        [
            Some(self.change.as_str().to_string()),
            self.from_status.map(|s| s.as_str().to_string()),
            self.to_status.map(|s| s.as_str().to_string()),
            self.early.map(|e| e.to_string()),
        ]
    }
}

/// The audit's resource key (`docs/cli.md#audit`): `resource_id`, else `resource_name`, else `-`.
pub(crate) fn resource_key(b: &Backup) -> &str {
    b.resource_id
        .as_deref()
        .or(b.resource_name.as_deref())
        .unwrap_or("-")
}

/// The changes from `from` (the older snapshot's rows) to `to` (the newer one's), ordered by
/// provider name, account, backup id (byte order), then the n-th row with that id. `at` is the
/// time the newer snapshot was taken, the moment `early` is judged at. A status change is
/// the only `changed`; other field changes are not rows.
pub(crate) fn diff(from: &[Backup], to: &[Backup], at: DateTime<Utc>) -> Vec<Change> {
    let (older, newer) = (keyed(from), keyed(to));
    let (older_by_key, newer_by_key) = (by_key(&older), by_key(&newer));
    let oldest = oldest_available(from);
    let mut changes = Vec::new();
    for (key, before) in &older {
        match newer_by_key.get(key) {
            None => changes.push((
                *key,
                Change {
                    change: ChangeKind::Vanished,
                    from_status: Some(before.status),
                    to_status: None,
                    early: Some(went_early(before, &oldest, at)),
                    backup: (*before).clone(),
                },
            )),
            Some(after) if after.status != before.status => changes.push((
                *key,
                Change {
                    change: ChangeKind::Changed,
                    from_status: Some(before.status),
                    to_status: Some(after.status),
                    early: None,
                    backup: (*after).clone(),
                },
            )),
            Some(_) => {}
        }
    }
    for (key, after) in &newer {
        if !older_by_key.contains_key(key) {
            changes.push((
                *key,
                Change {
                    change: ChangeKind::Appeared,
                    from_status: None,
                    to_status: Some(after.status),
                    early: None,
                    backup: (*after).clone(),
                },
            ));
        }
    }
    // Keys are unique across the two loops, so this order is total.
    changes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    changes.into_iter().map(|(_, c)| c).collect()
}

/// The `vanished` rule (`docs/cli.md#audit`): the rows of `previous` (the account's newest
/// successful snapshot before this run) that were `available` and are missing from `current` (this
/// run's listing) although they were not due to go: their `expires_at` is after `at` (the
/// audit's time), or, without `expires_at`, an available backup of the same resource was
/// created before them in `previous` (they were not its oldest). A backup without
/// `expires_at` or `created_at` is never counted: nothing shows it went early. Ordered as
/// [`diff`] orders its rows.
pub(crate) fn vanished<'a>(
    previous: &'a [Backup],
    current: &[Backup],
    at: DateTime<Utc>,
) -> Vec<&'a Backup> {
    let now = keyed(current);
    let now = by_key(&now);
    let oldest = oldest_available(previous);
    let mut gone: Vec<(RowKey<'_>, &Backup)> = keyed(previous)
        .into_iter()
        .filter(|(key, b)| !now.contains_key(key) && went_early(b, &oldest, at))
        .collect();
    gone.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    gone.into_iter().map(|(_, b)| b).collect()
}

/// Whether `b`, gone from the newer listing, went before it was due.
fn went_early(
    b: &Backup,
    oldest: &HashMap<ResourceKey<'_>, DateTime<Utc>>,
    at: DateTime<Utc>,
) -> bool {
    if b.status != Status::Available {
        return false;
    }
    if let Some(expires) = b.expires_at {
        return expires.utc() > at;
    }
    match (b.created_at, oldest.get(&resource_of(b))) {
        (Some(created), Some(first)) => created.utc() > *first,
        _ => false,
    }
}

type ResourceKey<'a> = (&'a str, &'a str, &'a str);

fn resource_of(b: &Backup) -> ResourceKey<'_> {
    (b.provider.as_str(), &b.account, resource_key(b))
}

/// The creation time of each resource's oldest available backup, among those with one.
fn oldest_available(rows: &[Backup]) -> HashMap<ResourceKey<'_>, DateTime<Utc>> {
    let mut oldest: HashMap<ResourceKey<'_>, DateTime<Utc>> = HashMap::new();
    for b in rows.iter().filter(|b| b.status == Status::Available) {
        if let Some(t) = b.created_at {
            oldest
                .entry(resource_of(b))
                .and_modify(|first| *first = (*first).min(t.utc()))
                .or_insert(t.utc());
        }
    }
    oldest
}

/// (provider, account, id, n): the n-th row with that id.
type RowKey<'a> = (&'a str, &'a str, &'a str, usize);

/// Each row with its [`RowKey`], in the listing's order.
fn keyed(rows: &[Backup]) -> Vec<(RowKey<'_>, &Backup)> {
    let mut seen: HashMap<(&str, &str, &str), usize> = HashMap::with_capacity(rows.len());
    rows.iter()
        .map(|b| {
            let n = seen
                .entry((b.provider.as_str(), &b.account, &b.id))
                .or_default();
            *n += 1;
            (
                (
                    b.provider.as_str(),
                    b.account.as_str(),
                    b.id.as_str(),
                    *n - 1,
                ),
                b,
            )
        })
        .collect()
}

/// Lookup by key (hashing: a 100k-row listing's keys share their first two parts, which
/// makes a sorted map compare long prefixes at every step).
fn by_key<'a>(rows: &[(RowKey<'a>, &'a Backup)]) -> HashMap<RowKey<'a>, &'a Backup> {
    rows.iter().map(|(k, b)| (*k, *b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Extra, Field, ProviderId, Timestamp};
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap()
    }

    /// `when` as hours after `at()` (negative: before).
    fn time(hours: i64) -> Option<Timestamp> {
        Some(Timestamp::new(at() + chrono::Duration::hours(hours), 0))
    }

    struct Row {
        id: &'static str,
        status: Status,
        resource: (Option<&'static str>, Option<&'static str>),
        created: Option<i64>,
        expires: Option<i64>,
    }

    fn backup(r: &Row) -> Backup {
        let mut b = Backup::new(ProviderId::Huawei, "hw", r.id.to_string(), r.status);
        (b.resource_id, b.resource_name) =
            (r.resource.0.map(Into::into), r.resource.1.map(Into::into));
        b.created_at = r.created.and_then(time);
        b.expires_at = r.expires.and_then(time);
        b
    }

    const R1: (Option<&str>, Option<&str>) = (Some("vol-1"), Some("disk"));
    const R2: (Option<&str>, Option<&str>) = (Some("vol-2"), None);
    const BY_NAME: (Option<&str>, Option<&str>) = (None, Some("disk"));
    const NONE: (Option<&str>, Option<&str>) = (None, None);

    #[test]
    fn vanished_early_by_the_rule() {
        use Status::*;
        // (row in the previous snapshot, still listed now, vanished early)
        let table: &[(Row, bool, bool)] = &[
            (
                Row {
                    id: "v01",
                    status: Available,
                    resource: R1,
                    created: Some(-100),
                    expires: Some(1),
                },
                false,
                true,
            ),
            (
                Row {
                    id: "v02",
                    status: Available,
                    resource: R1,
                    created: Some(-90),
                    expires: Some(-1),
                },
                false,
                false,
            ),
            // Expiring exactly now is on time.
            (
                Row {
                    id: "v03",
                    status: Available,
                    resource: R1,
                    created: Some(-80),
                    expires: Some(0),
                },
                false,
                false,
            ),
            // R1's oldest available backup (v12 is older but failed).
            (
                Row {
                    id: "v04",
                    status: Available,
                    resource: R1,
                    created: Some(-200),
                    expires: None,
                },
                false,
                false,
            ),
            (
                Row {
                    id: "v05",
                    status: Available,
                    resource: R1,
                    created: Some(-50),
                    expires: None,
                },
                false,
                true,
            ),
            (
                Row {
                    id: "v06",
                    status: Error,
                    resource: R1,
                    created: Some(-40),
                    expires: Some(5),
                },
                false,
                false,
            ),
            (
                Row {
                    id: "v07",
                    status: Available,
                    resource: R1,
                    created: Some(-30),
                    expires: Some(5),
                },
                true,
                false,
            ),
            // No time at all: nothing shows it went early.
            (
                Row {
                    id: "v08",
                    status: Available,
                    resource: R1,
                    created: None,
                    expires: None,
                },
                false,
                false,
            ),
            // The only backup of its resource.
            (
                Row {
                    id: "v09",
                    status: Available,
                    resource: R2,
                    created: Some(-10),
                    expires: None,
                },
                false,
                false,
            ),
            // Keyed by resource_name when there is no resource_id: R1's name does not count.
            (
                Row {
                    id: "v10",
                    status: Available,
                    resource: BY_NAME,
                    created: Some(-20),
                    expires: None,
                },
                false,
                false,
            ),
            (
                Row {
                    id: "v11",
                    status: Available,
                    resource: BY_NAME,
                    created: Some(-19),
                    expires: None,
                },
                false,
                true,
            ),
            (
                Row {
                    id: "v12",
                    status: Error,
                    resource: R1,
                    created: Some(-300),
                    expires: None,
                },
                true,
                false,
            ),
            // Neither: the `-` bucket.
            (
                Row {
                    id: "v13",
                    status: Available,
                    resource: NONE,
                    created: Some(-9),
                    expires: None,
                },
                false,
                false,
            ),
            (
                Row {
                    id: "v14",
                    status: Available,
                    resource: NONE,
                    created: Some(-8),
                    expires: None,
                },
                false,
                true,
            ),
            (
                Row {
                    id: "v15",
                    status: Creating,
                    resource: NONE,
                    created: Some(-7),
                    expires: None,
                },
                false,
                false,
            ),
        ];
        let previous: Vec<Backup> = table.iter().map(|(r, _, _)| backup(r)).collect();
        let mut current: Vec<Backup> = table
            .iter()
            .filter(|(_, kept, _)| *kept)
            .map(|(r, _, _)| backup(r))
            .collect();
        // Still listed with another status is not gone.
        current[0].status = Deleted;
        let got: Vec<&str> = vanished(&previous, &current, at())
            .iter()
            .map(|b| b.id.as_str())
            .collect();
        let want: Vec<&str> = table
            .iter()
            .filter(|(_, _, early)| *early)
            .map(|(r, _, _)| r.id)
            .collect();
        assert_eq!(got, want);
        assert_eq!(want, ["v01", "v05", "v11", "v14"]);
        // Nothing vanished from an identical listing, and nothing from an empty baseline.
        assert!(vanished(&previous, &previous, at()).is_empty());
        assert!(vanished(&[], &current, at()).is_empty());
    }

    #[test]
    fn diff_rows_by_the_table() {
        use Status::*;
        let row = |id, status, expires| {
            backup(&Row {
                id,
                status,
                resource: R1,
                created: Some(-10),
                expires,
            })
        };
        let mut a_touched = row("a", Available, None);
        a_touched.description = Some("only a field changed".into());
        let from = vec![
            row("d", Available, Some(5)),
            row("a", Available, None),
            row("c", Creating, None),
            row("e", Available, Some(-5)),
            row("f", Error, None),
        ];
        let to = vec![
            row("c", Available, None),
            a_touched,
            row("b", Creating, None),
            row("g", Available, None),
        ];
        let changes = diff(&from, &to, at());
        type Line<'a> = (
            ChangeKind,
            &'a str,
            Option<Status>,
            Option<Status>,
            Option<bool>,
        );
        let got: Vec<Line<'_>> = changes
            .iter()
            .map(|c| {
                (
                    c.change,
                    c.backup.id.as_str(),
                    c.from_status,
                    c.to_status,
                    c.early,
                )
            })
            .collect();
        use ChangeKind::*;
        assert_eq!(
            got,
            [
                (Appeared, "b", None, Some(Creating), None),
                (Changed, "c", Some(Creating), Some(Available), None),
                (Vanished, "d", Some(Available), None, Some(true)),
                (Vanished, "e", Some(Available), None, Some(false)),
                (Vanished, "f", Some(Error), None, Some(false)),
                (Appeared, "g", None, Some(Available), None),
            ]
        );
        // A changed row carries the newer fields, a vanished one the older.
        assert_eq!(changes[1].backup, to[0]);
        assert_eq!(changes[2].backup, from[0]);
        assert!(diff(&from, &from, at()).is_empty());
    }

    #[test]
    fn repeated_ids_pair_in_order() {
        let mut one = backup(&Row {
            id: "x",
            status: Status::Available,
            resource: R1,
            created: None,
            expires: None,
        });
        let mut two = one.clone();
        two.status = Status::Error;
        let from = vec![one.clone(), two.clone()];
        one.status = Status::Deleting;
        let to = vec![one.clone()];
        let got: Vec<(ChangeKind, Option<Status>, Option<Status>)> = diff(&from, &to, at())
            .into_iter()
            .map(|c| (c.change, c.from_status, c.to_status))
            .collect();
        assert_eq!(
            got,
            [
                (
                    ChangeKind::Changed,
                    Some(Status::Available),
                    Some(Status::Deleting)
                ),
                (ChangeKind::Vanished, Some(Status::Error), None),
            ]
        );
    }

    #[test]
    fn accounts_sort_and_match_apart() {
        let mk = |provider, account: &str, id: &str| {
            Backup::new(provider, account, id.to_string(), Status::Available)
        };
        let from = vec![mk(ProviderId::Zcom, "z", "1"), mk(ProviderId::Cf, "b", "1")];
        let to = vec![mk(ProviderId::Cf, "a", "1"), mk(ProviderId::Zcom, "z", "1")];
        let got: Vec<(ChangeKind, String)> = diff(&from, &to, at())
            .into_iter()
            .map(|c| {
                (
                    c.change,
                    format!("{}/{}", c.backup.provider, c.backup.account),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (ChangeKind::Appeared, "cf/a".to_string()),
                (ChangeKind::Vanished, "cf/b".to_string()),
            ]
        );
    }

    #[test]
    fn a_change_serialises_flat_with_the_diff_columns_first() {
        let mut b = Backup::new(ProviderId::Cf, "cf", "g1".into(), Status::Available);
        b.extra = Extra::from_json(r#"{"n":1.50,"o":{"k":[]}}"#.into()).unwrap();
        let change = Change {
            change: ChangeKind::Vanished,
            from_status: Some(Status::Available),
            to_status: None,
            early: Some(true),
            backup: b,
        };
        let json = serde_json::to_string(&change).unwrap();
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json)
                .unwrap()
                .keys()
                .cloned()
                .collect();
        let mut want = vec!["change", "from_status", "to_status", "early"];
        want.extend(Field::ALL.map(Field::as_str));
        assert_eq!(keys, want);
        assert!(json.starts_with(
            r#"{"change":"vanished","from_status":"available","to_status":null,"early":true,"provider":"cf","account":"cf","id":"g1""#
        ));
        assert!(
            json.ends_with(r#""extra":{"n":1.50,"o":{"k":[]}}}"#),
            "{json}"
        );
        assert_eq!(resource_key(&change.backup), "-");
        assert_eq!(
            change.column_texts(),
            [
                Some("vanished".into()),
                Some("available".into()),
                None,
                Some("true".into())
            ]
        );
        assert_eq!(Change::COLUMNS[..], want[..4]);
    }
}
