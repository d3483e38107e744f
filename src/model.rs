//! The provider-neutral `Backup` model (spec §4, stable): what `-o json` prints and what every
//! adapter produces. Field order here *is* the JSON key order.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One of the five supported APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderId {
    /// Oracle Compute Classic backup service.
    Oracle,
    /// Z.com (ConoHa-style OpenStack) automatic backups.
    Zcom,
    /// Huawei Cloud Backup and Recovery (CBR v3).
    Huawei,
    /// Cloud Foundry OSMAPI service-instance backups.
    Cf,
    /// ByCloud block-storage backups.
    Bycloud,
}

impl ProviderId {
    /// Every provider, in the order the docs list them.
    pub const ALL: [ProviderId; 5] = [
        ProviderId::Oracle,
        ProviderId::Zcom,
        ProviderId::Huawei,
        ProviderId::Cf,
        ProviderId::Bycloud,
    ];

    /// The name used in the config (`provider = "huawei"`), on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::Oracle => "oracle",
            ProviderId::Zcom => "zcom",
            ProviderId::Huawei => "huawei",
            ProviderId::Cf => "cf",
            ProviderId::Bycloud => "bycloud",
        }
    }

    /// Parses a provider name as written in the config or on the command line.
    pub fn parse(s: &str) -> Option<ProviderId> {
        ProviderId::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProviderId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Normalised backup status (spec §4). Vendor values that map to none of these are `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Complete and usable for a restore.
    Available,
    /// Being taken (queued, submitted, in progress).
    Creating,
    /// A restore from it is running.
    Restoring,
    /// Being deleted.
    Deleting,
    /// Deleted but still listed.
    Deleted,
    /// Cancelled before completion.
    Cancelled,
    /// Failed.
    Error,
    /// A vendor value this tool does not know.
    Unknown,
}

impl Status {
    /// Every status, in the order of the spec's table.
    pub const ALL: [Status; 8] = [
        Status::Available,
        Status::Creating,
        Status::Restoring,
        Status::Deleting,
        Status::Deleted,
        Status::Cancelled,
        Status::Error,
        Status::Unknown,
    ];

    /// The normalised name printed in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Available => "available",
            Status::Creating => "creating",
            Status::Restoring => "restoring",
            Status::Deleting => "deleting",
            Status::Deleted => "deleted",
            Status::Cancelled => "cancelled",
            Status::Error => "error",
            Status::Unknown => "unknown",
        }
    }

    /// Parses a normalised status name (case-insensitive), as given to `--status`.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A point in time in UTC that remembers how many fractional-second digits the provider sent,
/// so `2020-02-21T07:00:54.065135` prints back as `2020-02-21T07:00:54.065135Z` and
/// `2024-01-15T10:30:00Z` as `2024-01-15T10:30:00Z` (spec §4: fractions kept exactly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    utc: DateTime<Utc>,
    frac_digits: u8,
}

impl Timestamp {
    /// A timestamp printed with `frac_digits` fractional digits (0..=9).
    pub fn new(utc: DateTime<Utc>, frac_digits: u8) -> Timestamp {
        Timestamp {
            utc,
            frac_digits: frac_digits.min(9),
        }
    }

    /// Parses a vendor time: RFC 3339 with `Z` or an offset, or a zone-less ISO 8601 date-time,
    /// which every supported vendor means as UTC. `T` or a space may separate date and time.
    /// Returns `None` for anything else (including an empty string).
    pub fn parse_vendor(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if s.len() < 19 || !s.is_char_boundary(19) {
            return None;
        }
        let frac_digits = fraction_digits(&s[19..]);
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Timestamp::new(dt.with_timezone(&Utc), frac_digits));
        }
        let spaced = s.replacen(' ', "T", 1);
        if let Ok(dt) = DateTime::parse_from_rfc3339(&spaced) {
            return Some(Timestamp::new(dt.with_timezone(&Utc), frac_digits));
        }
        let naive = NaiveDateTime::parse_from_str(&spaced, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        Some(Timestamp::new(Utc.from_utc_datetime(&naive), frac_digits))
    }

    /// A Unix time in seconds, or in milliseconds when at least 10^12 (Cloud Foundry).
    pub fn from_unix(n: i64) -> Option<Timestamp> {
        if n.unsigned_abs() >= 1_000_000_000_000 {
            let dt = DateTime::<Utc>::from_timestamp_millis(n)?;
            Some(Timestamp::new(dt, if n % 1000 == 0 { 0 } else { 3 }))
        } else {
            Some(Timestamp::new(DateTime::<Utc>::from_timestamp(n, 0)?, 0))
        }
    }

    /// The instant, for filtering and sorting.
    pub fn utc(&self) -> DateTime<Utc> {
        self.utc
    }
}

/// Counts the digits of a `.fff` fraction at the start of `rest` (what follows `HH:MM:SS`).
fn fraction_digits(rest: &str) -> u8 {
    match rest.strip_prefix('.') {
        Some(f) => f.bytes().take_while(u8::is_ascii_digit).count().min(9) as u8,
        None => 0,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.utc.with_nanosecond(0).unwrap_or(self.utc);
        let base = whole.to_rfc3339_opts(SecondsFormat::Secs, true);
        if self.frac_digits == 0 {
            return f.write_str(&base);
        }
        let nanos = format!("{:09}", self.utc.nanosecond() % 1_000_000_000);
        let (date_time, _) = base.split_at(base.len() - 1);
        write!(
            f,
            "{date_time}.{}Z",
            &nanos[..usize::from(self.frac_digits)]
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One backup, in the shape every provider maps into (spec §4). Every key is always present in
/// JSON, in this order; `None` prints as `null`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Backup {
    /// Which API it came from.
    pub provider: ProviderId,
    /// The config account name.
    pub account: String,
    /// The provider's id for it.
    pub id: String,
    /// Its name, where the provider has one.
    pub name: Option<String>,
    /// Normalised status.
    pub status: Status,
    /// The raw status as the provider sent it.
    pub provider_status: Option<String>,
    /// `server`, `volume`, `service_instance`, or the raw vendor value.
    pub resource_type: Option<String>,
    /// The protected resource's id.
    pub resource_id: Option<String>,
    /// The protected resource's name.
    pub resource_name: Option<String>,
    /// Size in bytes (for Huawei: the protected resource's size).
    pub size_bytes: Option<u64>,
    /// Creation time.
    pub created_at: Option<Timestamp>,
    /// Last update time.
    pub updated_at: Option<Timestamp>,
    /// When the provider will expire it.
    pub expires_at: Option<Timestamp>,
    /// Whether it is incremental.
    pub incremental: Option<bool>,
    /// Description; an empty one is `None`.
    pub description: Option<String>,
    /// Availability zone or region.
    pub location: Option<String>,
    /// Parent backup or backup group.
    pub parent_id: Option<String>,
    /// Provider fields not mapped above.
    pub extra: Extra,
}

/// Provider fields not mapped to the model, kept as compact JSON text. A listing holds every
/// row before sorting, and a tree of `serde_json::Value`s costs several times its text (a
/// Huawei row's: about 5 KiB as maps and strings, under 1 KiB as text), so 100k rows stay in
/// a few hundred MiB less. Always a JSON object.
#[derive(Clone, Debug)]
pub struct Extra(Box<RawValue>);

impl Extra {
    /// The fields as compact JSON (`{}` when there are none).
    pub fn as_json(&self) -> &str {
        self.0.get()
    }

    /// The fields as a map (parsed on demand).
    pub fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }

    /// One field's value, or `Null` when absent.
    pub fn get(&self, key: &str) -> Value {
        self.to_map().remove(key).unwrap_or(Value::Null)
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.get() == "{}"
    }
}

impl Default for Extra {
    fn default() -> Extra {
        Map::new().into()
    }
}

impl From<Map<String, Value>> for Extra {
    fn from(map: Map<String, Value>) -> Extra {
        let raw = serde_json::value::to_raw_value(&map).expect("a JSON map always serializes");
        Extra(raw)
    }
}

impl PartialEq for Extra {
    fn eq(&self, other: &Extra) -> bool {
        self.0.get() == other.0.get()
    }
}

impl PartialEq<Map<String, Value>> for Extra {
    fn eq(&self, other: &Map<String, Value>) -> bool {
        self.to_map() == *other
    }
}

impl Serialize for Extra {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Backup {
    /// The model's field names, in JSON order: what `--columns` and `--sort` accept.
    pub const FIELDS: [&'static str; 18] = [
        "provider",
        "account",
        "id",
        "name",
        "status",
        "provider_status",
        "resource_type",
        "resource_id",
        "resource_name",
        "size_bytes",
        "created_at",
        "updated_at",
        "expires_at",
        "incremental",
        "description",
        "location",
        "parent_id",
        "extra",
    ];

    /// A backup with only the always-present fields set; adapters fill in the rest.
    pub fn new(provider: ProviderId, account: &str, id: String, status: Status) -> Backup {
        Backup {
            provider,
            account: account.to_string(),
            id,
            name: None,
            status,
            provider_status: None,
            resource_type: None,
            resource_id: None,
            resource_name: None,
            size_bytes: None,
            created_at: None,
            updated_at: None,
            expires_at: None,
            incremental: None,
            description: None,
            location: None,
            parent_id: None,
            extra: Extra::default(),
        }
    }

    /// A field as flat text for csv, tsv and table cells: `None` for null, RFC 3339 for
    /// times, raw bytes for sizes, compact JSON for `extra`. `field` must be one of [`Backup::FIELDS`].
    pub fn field_text(&self, field: &str) -> Option<String> {
        fn s(v: &Option<String>) -> Option<String> {
            v.clone()
        }
        fn t(v: &Option<Timestamp>) -> Option<String> {
            v.map(|t| t.to_string())
        }
        match field {
            "provider" => Some(self.provider.to_string()),
            "account" => Some(self.account.clone()),
            "id" => Some(self.id.clone()),
            "name" => s(&self.name),
            "status" => Some(self.status.to_string()),
            "provider_status" => s(&self.provider_status),
            "resource_type" => s(&self.resource_type),
            "resource_id" => s(&self.resource_id),
            "resource_name" => s(&self.resource_name),
            "size_bytes" => self.size_bytes.map(|n| n.to_string()),
            "created_at" => t(&self.created_at),
            "updated_at" => t(&self.updated_at),
            "expires_at" => t(&self.expires_at),
            "incremental" => self.incremental.map(|b| b.to_string()),
            "description" => s(&self.description),
            "location" => s(&self.location),
            "parent_id" => s(&self.parent_id),
            "extra" => Some(self.extra.as_json().to_string()),
            _ => None,
        }
    }
}

/// Turns an empty or whitespace-only vendor string into `None` (spec: empty description is null).
pub fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

/// Gibibytes as bytes, refusing sizes that do not fit (an absurd vendor number is an error,
/// not a wrapped value).
pub fn gib_to_bytes(gib: u64) -> Option<u64> {
    gib.checked_mul(1 << 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_the_fraction_the_vendor_sent() {
        let cases = [
            ("2020-02-21T07:00:54.065135", "2020-02-21T07:00:54.065135Z"),
            ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z"),
            ("2020-02-21T07:07:25.114+00:00", "2020-02-21T07:07:25.114Z"),
            ("2020-02-21T09:07:25.5+02:00", "2020-02-21T07:07:25.5Z"),
            ("2016-07-05 09:58:52.911720", "2016-07-05T09:58:52.911720Z"),
            ("2015-02-28T12:56:29Z", "2015-02-28T12:56:29Z"),
        ];
        for (input, want) in cases {
            let ts = Timestamp::parse_vendor(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(ts.to_string(), want, "{input}");
        }
    }

    #[test]
    fn bad_timestamps_are_none() {
        for input in [
            "",
            "yesterday",
            "2020-13-01T00:00:00Z",
            "2020-02-21",
            "2020-02-21T07:00:5é",
        ] {
            assert_eq!(Timestamp::parse_vendor(input), None, "{input}");
        }
    }

    #[test]
    fn unix_seconds_and_millis() {
        assert_eq!(
            Timestamp::from_unix(0).unwrap().to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix(1_700_000_000).unwrap().to_string(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            Timestamp::from_unix(1_700_000_000_123).unwrap().to_string(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            Timestamp::from_unix(1_700_000_000_000).unwrap().to_string(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(Timestamp::from_unix(i64::MAX), None);
    }

    #[test]
    fn json_keys_are_all_present_in_order() {
        let b = Backup::new(ProviderId::Huawei, "hw", "id1".into(), Status::Available);
        let json = serde_json::to_string(&b).unwrap();
        let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(&json)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, Backup::FIELDS);
        assert!(json.starts_with(
            r#"{"provider":"huawei","account":"hw","id":"id1","name":null,"status":"available""#
        ));
    }

    #[test]
    fn gib_overflow_is_refused() {
        assert_eq!(gib_to_bytes(40), Some(42_949_672_960));
        assert_eq!(gib_to_bytes(u64::MAX / 2), None);
    }

    /// Property tests: vendor times never panic the parser, and what we print reads back.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years RFC 3339 can write.
        const FIRST: i64 = -62_135_596_800;
        const LAST: i64 = 253_402_300_799;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn parse_vendor_never_panics(
                s in prop_oneof![
                    any::<String>(),
                    "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,15})?(Z|z|[+-][0-9]{2}:?[0-9]{2})?",
                    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{0,8}.{0,4}",
                ]
            ) {
                if let Some(t) = Timestamp::parse_vendor(&s) {
                    prop_assert!(t.frac_digits <= 9);
                    let _ = t.to_string();
                }
            }

            #[test]
            fn what_is_printed_parses_back_to_the_same_timestamp(
                secs in FIRST..=LAST,
                nanos in 0u32..1_000_000_000,
                digits in 0u8..=9,
            ) {
                // Keep only the digits that will be printed, so the round trip is exact.
                let unit = 10u32.pow(9 - u32::from(digits));
                let utc = DateTime::<Utc>::from_timestamp(secs, nanos / unit * unit).unwrap();
                let t = Timestamp::new(utc, digits);
                let text = t.to_string();
                prop_assert_eq!(Timestamp::parse_vendor(&text), Some(t), "{}", text);
            }

            #[test]
            fn unix_times_never_panic(n in any::<i64>()) {
                if let Some(t) = Timestamp::from_unix(n) {
                    let _ = t.to_string();
                }
            }
        }
    }
}
