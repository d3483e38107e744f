//! A [`Backup`] as the inventory stores it, and back: one column per model field, in a form
//! that rebuilds the row exactly (times with their vendor fraction digits, sizes above
//! `i64::MAX`, `extra` as its compact JSON text), plus a digest of those columns. Recording
//! compares digests, read from a small index of the open versions, instead of reading every
//! stored row back (100k rows are ~100 MiB of table pages, the index ~7 MiB).

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::Row;
use sha2::{Digest as _, Sha256};

use crate::model::{Backup, Extra, ProviderId, Status, Timestamp};

/// The stored columns of a version after `backup_id` and `occurrence`, in [`Columns`] order.
pub(crate) const COLUMNS: &str = "name, status, provider_status, resource_type, resource_id, \
    resource_name, size_bytes, created_at, updated_at, expires_at, incremental, description, \
    location, parent_id, extra";

/// How many names [`COLUMNS`] lists.
pub(crate) const COLUMN_COUNT: usize = 15;

/// A digest of a row's stored columns: the first 16 bytes of SHA-256 over their values,
/// each tagged and length-prefixed (see [`Columns::new`]). Equal digests mean equal columns
/// (a collision is beyond any realistic number of rows).
pub(crate) type Digest = [u8; 16];

/// A row's stored columns, borrowing its text.
pub(crate) struct Columns<'a> {
    /// The digest of the columns below, stored with them.
    pub(crate) digest: Digest,
    name: Option<&'a str>,
    status: &'static str,
    provider_status: Option<&'a str>,
    resource_type: Option<&'a str>,
    resource_id: Option<&'a str>,
    resource_name: Option<&'a str>,
    size_bytes: Option<Size>,
    created_at: Option<String>,
    updated_at: Option<String>,
    expires_at: Option<String>,
    incremental: Option<bool>,
    description: Option<&'a str>,
    location: Option<&'a str>,
    parent_id: Option<&'a str>,
    extra: &'a str,
}

/// A size as SQLite can hold it: its integers stop at `i64::MAX`, a `u64` does not.
#[derive(Debug, PartialEq)]
enum Size {
    Int(i64),
    Text(String),
}

impl ToSql for Size {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Size::Int(n) => ToSqlOutput::from(*n),
            Size::Text(t) => ToSqlOutput::from(t.as_str()),
        })
    }
}

impl<'a> Columns<'a> {
    /// The columns of `b`.
    pub(crate) fn new(b: &'a Backup) -> Columns<'a> {
        let mut columns = Columns {
            digest: Digest::default(),
            name: b.name.as_deref(),
            status: b.status.as_str(),
            provider_status: b.provider_status.as_deref(),
            resource_type: b.resource_type.as_deref(),
            resource_id: b.resource_id.as_deref(),
            resource_name: b.resource_name.as_deref(),
            size_bytes: b.size_bytes.map(|n| match i64::try_from(n) {
                Ok(n) => Size::Int(n),
                Err(_) => Size::Text(n.to_string()),
            }),
            created_at: b.created_at.map(encode_time),
            updated_at: b.updated_at.map(encode_time),
            expires_at: b.expires_at.map(encode_time),
            incremental: b.incremental,
            description: b.description.as_deref(),
            location: b.location.as_deref(),
            parent_id: b.parent_id.as_deref(),
            extra: b.extra.as_json(),
        };
        columns.digest = columns.compute_digest();
        columns
    }

    /// The digest of the columns, in [`COLUMNS`] order. Every value is tagged (0 null, 1 text
    /// with its length as 8 bytes little-endian, 2 integer as 8 bytes little-endian), so no
    /// two different rows feed the same bytes. Part of the file format: changing it makes
    /// the next recording write every row again.
    fn compute_digest(&self) -> Digest {
        fn text(h: &mut Sha256, v: Option<&str>) {
            match v {
                None => h.update([0]),
                Some(s) => {
                    h.update([1]);
                    h.update((s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
        fn int(h: &mut Sha256, v: Option<i64>) {
            match v {
                None => h.update([0]),
                Some(n) => {
                    h.update([2]);
                    h.update(n.to_le_bytes());
                }
            }
        }
        let mut h = Sha256::new();
        for v in [
            self.name,
            Some(self.status),
            self.provider_status,
            self.resource_type,
            self.resource_id,
            self.resource_name,
        ] {
            text(&mut h, v);
        }
        match &self.size_bytes {
            None => int(&mut h, None),
            Some(Size::Int(n)) => int(&mut h, Some(*n)),
            Some(Size::Text(t)) => text(&mut h, Some(t)),
        }
        for v in [&self.created_at, &self.updated_at, &self.expires_at] {
            text(&mut h, v.as_deref());
        }
        int(&mut h, self.incremental.map(i64::from));
        for v in [
            self.description,
            self.location,
            self.parent_id,
            Some(self.extra),
        ] {
            text(&mut h, v);
        }
        let full = h.finalize();
        let mut digest = Digest::default();
        digest.copy_from_slice(&full[..16]);
        digest
    }

    /// The values to bind, in [`COLUMNS`] order.
    pub(crate) fn params(&self) -> [&dyn ToSql; COLUMN_COUNT] {
        [
            &self.name,
            &self.status,
            &self.provider_status,
            &self.resource_type,
            &self.resource_id,
            &self.resource_name,
            &self.size_bytes,
            &self.created_at,
            &self.updated_at,
            &self.expires_at,
            &self.incremental,
            &self.description,
            &self.location,
            &self.parent_id,
            &self.extra,
        ]
    }
}

/// Rebuilds the backup `id` of (`provider`, `account`) from [`COLUMNS`] at index `first` on.
/// The error says which column could not be read back.
pub(crate) fn decode(
    row: &Row<'_>,
    first: usize,
    provider: ProviderId,
    account: &str,
    id: String,
) -> Result<Backup, String> {
    let text = |i: usize| -> Result<Option<String>, String> {
        match row.get_ref(first + i).map_err(|e| e.to_string())? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => String::from_utf8(t.to_vec())
                .map(Some)
                .map_err(|_| format!("{} is not UTF-8", column_name(i))),
            _ => Err(format!("{} is not text", column_name(i))),
        }
    };
    let time = |i: usize| -> Result<Option<Timestamp>, String> {
        text(i)?
            .map(|t| {
                decode_time(&t).ok_or_else(|| format!("{} `{t}` is not a time", column_name(i)))
            })
            .transpose()
    };
    let status_text = text(1)?.unwrap_or_default();
    let status = Status::ALL
        .into_iter()
        .find(|s| s.as_str() == status_text)
        .ok_or_else(|| format!("status `{status_text}` is unknown"))?;
    let size_bytes = match row.get_ref(first + 6).map_err(|e| e.to_string())? {
        ValueRef::Null => None,
        ValueRef::Integer(n) => {
            Some(u64::try_from(n).map_err(|_| format!("size_bytes {n} is negative"))?)
        }
        ValueRef::Text(t) => Some(
            std::str::from_utf8(t)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or("size_bytes is not a number")?,
        ),
        _ => return Err("size_bytes is not a number".into()),
    };
    let incremental = match row.get_ref(first + 10).map_err(|e| e.to_string())? {
        ValueRef::Null => None,
        ValueRef::Integer(0) => Some(false),
        ValueRef::Integer(1) => Some(true),
        _ => return Err("incremental is not 0 or 1".into()),
    };
    let extra_text = text(14)?.ok_or("extra is null")?;
    let extra = Extra::from_json(extra_text).ok_or("extra is not a JSON object")?;
    Ok(Backup {
        provider,
        account: account.to_string(),
        id,
        name: text(0)?,
        status,
        provider_status: text(2)?,
        resource_type: text(3)?,
        resource_id: text(4)?,
        resource_name: text(5)?,
        size_bytes,
        created_at: time(7)?,
        updated_at: time(8)?,
        expires_at: time(9)?,
        incremental,
        description: text(11)?,
        location: text(12)?,
        parent_id: text(13)?,
        extra,
    })
}

/// The name of column `i` of [`COLUMNS`].
fn column_name(i: usize) -> &'static str {
    COLUMNS.split(',').nth(i).map_or("?", str::trim)
}

/// A time as stored: as printed (RFC 3339 with the vendor's fraction digits) when that reads
/// back to the same `Timestamp`, which is every time a vendor sends in years 0 to 9999; else,
/// exactly, `@<unix seconds>.<nanoseconds>/<fraction digits>`.
pub(crate) fn encode_time(t: Timestamp) -> String {
    let text = t.to_string();
    if Timestamp::parse_vendor(&text) == Some(t) {
        return text;
    }
    let digits = text.split_once('.').map_or(0, |(_, fraction)| {
        fraction.bytes().take_while(u8::is_ascii_digit).count()
    });
    let utc = t.utc();
    format!(
        "@{}.{:09}/{digits}",
        utc.timestamp(),
        utc.timestamp_subsec_nanos()
    )
}

/// Reads a time [`encode_time`] wrote.
pub(crate) fn decode_time(s: &str) -> Option<Timestamp> {
    let Some(exact) = s.strip_prefix('@') else {
        return Timestamp::parse_vendor(s);
    };
    let (instant, digits) = exact.split_once('/')?;
    let (secs, nanos) = instant.split_once('.')?;
    let utc = DateTime::<Utc>::from_timestamp(secs.parse().ok()?, nanos.parse().ok()?)?;
    let digits: u8 = digits.parse().ok().filter(|d| *d <= 9)?;
    Some(Timestamp::new(utc, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64, nanos: u32, digits: u8) -> Timestamp {
        Timestamp::new(DateTime::from_timestamp(secs, nanos).unwrap(), digits)
    }

    #[test]
    fn times_are_stored_as_printed_when_that_reads_back() {
        let cases = [
            (
                Timestamp::parse_vendor("2020-02-21T07:00:54.065135").unwrap(),
                "2020-02-21T07:00:54.065135Z",
            ),
            (
                Timestamp::parse_vendor("2024-01-15T10:30:00Z").unwrap(),
                "2024-01-15T10:30:00Z",
            ),
            (
                Timestamp::parse_vendor("2024-01-15T10:30:00.100+02:00").unwrap(),
                "2024-01-15T08:30:00.100Z",
            ),
            (
                Timestamp::from_unix(1_700_000_000_123).unwrap(),
                "2023-11-14T22:13:20.123Z",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(encode_time(t), want);
            assert_eq!(decode_time(want), Some(t));
        }
    }

    #[test]
    fn times_that_do_not_print_back_are_stored_exactly() {
        let cases = [
            // CF seconds just under 10^12: year 33658, which RFC 3339 cannot write.
            (
                Timestamp::from_unix(999_999_999_999).unwrap(),
                "@999999999999.000000000/0",
            ),
            // A zone offset that crosses into year 10000.
            (
                Timestamp::parse_vendor("9999-12-31T23:30:00.5-01:00").unwrap(),
                "@253402302600.500000000/1",
            ),
            // More precision than the digits print.
            (ts(1_700_000_000, 123_456_789, 3), "@1700000000.123456789/3"),
            // A leap second.
            (
                Timestamp::parse_vendor("2016-12-31T23:59:60.25Z").unwrap(),
                "@1483228799.1250000000/2",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(encode_time(t), want, "{t}");
            assert_eq!(decode_time(want), Some(t), "{want}");
        }
        for bad in ["", "@", "@1.2", "@x.0/0", "@1.0/10", "nonsense"] {
            assert_eq!(decode_time(bad), None, "{bad}");
        }
    }
}
