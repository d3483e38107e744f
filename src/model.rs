//! The provider-neutral `Backup` model (`docs/model.md`, stable): what `-o json` prints and what
//! every adapter produces. Field order here *is* the JSON key order.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc};
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ProviderId::Oracle => "oracle",
            ProviderId::Zcom => "zcom",
            ProviderId::Huawei => "huawei",
            ProviderId::Cf => "cf",
            ProviderId::Bycloud => "bycloud",
        }
    }

    /// Parses a provider name as written in the config or on the command line.
    pub(crate) fn parse(s: &str) -> Option<ProviderId> {
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

/// Normalised backup status (`docs/model.md#status-stable`). Vendor values that map to none of
/// these are `Unknown`.
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
    /// Every status, in the order of the table in `docs/model.md#status-stable`.
    pub(crate) const ALL: [Status; 8] = [
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
    pub(crate) fn as_str(self) -> &'static str {
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
    pub(crate) fn parse(s: &str) -> Option<Status> {
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
/// `2024-01-15T10:30:00Z` as `2024-01-15T10:30:00Z` (fractions kept exactly:
/// `docs/model.md#time-rules-stable-output-form`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    utc: DateTime<Utc>,
    frac_digits: u8,
}

impl Timestamp {
    /// A timestamp printed with `frac_digits` fractional digits (0..=9).
    pub(crate) fn new(utc: DateTime<Utc>, frac_digits: u8) -> Timestamp {
        Timestamp {
            utc,
            frac_digits: frac_digits.min(9),
        }
    }

    /// Parses a vendor time: RFC 3339 with `Z` or an offset, or a zone-less ISO 8601 date-time,
    /// which every supported vendor means as UTC. `T` or a space may separate date and time.
    /// Returns `None` for anything else (including an empty string).
    pub(crate) fn parse_vendor(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        parse_common(s.as_bytes()).or_else(|| parse_general(s))
    }

    /// A Unix time in seconds, or in milliseconds when at least 10^12 (Cloud Foundry).
    pub(crate) fn from_unix(n: i64) -> Option<Timestamp> {
        if n.unsigned_abs() >= 1_000_000_000_000 {
            let dt = DateTime::<Utc>::from_timestamp_millis(n)?;
            Some(Timestamp::new(dt, if n % 1000 == 0 { 0 } else { 3 }))
        } else {
            Some(Timestamp::new(DateTime::<Utc>::from_timestamp(n, 0)?, 0))
        }
    }

    /// The instant, for filtering and sorting.
    pub(crate) fn utc(&self) -> DateTime<Utc> {
        self.utc
    }
}

/// Any time [`Timestamp::parse_vendor`] accepts, through chrono's parsers.
fn parse_general(s: &str) -> Option<Timestamp> {
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

/// The shapes every vendor actually sends, read without chrono's format machinery (a listing
/// parses three per row): `YYYY-MM-DD[T ]HH:MM:SS`, an optional fraction of 1 to 9 digits, then
/// `Z`, `±HH:MM` or nothing (UTC). `None` for anything else, which the general parser then
/// reads or refuses exactly as before (leap seconds, longer fractions, odd offsets included).
fn parse_common(b: &[u8]) -> Option<Timestamp> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(num(&b[0..4])?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, num(&b[5..7])?, num(&b[8..10])?)?;
    let (hour, min, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if sec > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let (mut nanos, mut digits) = (0u32, 0u8);
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        nanos = num(&frac[..n])? * 10u32.pow(9 - n as u32);
        digits = n as u8;
        rest = &frac[n..];
    }
    let offset_secs = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i64::from(h * 3600 + m * 60);
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let local = date.and_time(chrono::NaiveTime::from_hms_nano_opt(hour, min, sec, nanos)?);
    let utc = local.checked_sub_signed(chrono::Duration::seconds(offset_secs))?;
    Some(Timestamp::new(Utc.from_utc_datetime(&utc), digits))
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
        // Every row prints three: write the digits directly for the years RFC 3339 covers.
        let (date, nanos) = (self.utc.date_naive(), self.utc.nanosecond());
        if (0..=9999).contains(&date.year()) && nanos < 1_000_000_000 {
            let mut buf = [0u8; 30];
            let mut put = |at: usize, n: u32, width: usize| {
                let mut n = n;
                for i in (at..at + width).rev() {
                    buf[i] = b'0' + (n % 10) as u8;
                    n /= 10;
                }
            };
            put(0, date.year() as u32, 4);
            put(5, date.month(), 2);
            put(8, date.day(), 2);
            put(11, self.utc.hour(), 2);
            put(14, self.utc.minute(), 2);
            put(17, self.utc.second(), 2);
            let digits = usize::from(self.frac_digits);
            put(20, nanos / 10u32.pow(9 - digits as u32), digits);
            buf[4] = b'-';
            buf[7] = b'-';
            buf[10] = b'T';
            buf[13] = b':';
            buf[16] = b':';
            buf[19] = b'.';
            let end = if digits == 0 { 19 } else { 20 + digits };
            buf[end] = b'Z';
            // Only ASCII digits and separators were written.
            return f.write_str(std::str::from_utf8(&buf[..=end]).map_err(|_| fmt::Error)?);
        }
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

/// A field of the [`Backup`] model (`docs/model.md#fields-stable`), in JSON order: the one list of
/// names that `--columns`, the csv/tsv header, the capability table and the renderers share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `provider`
    Provider,
    /// `account`
    Account,
    /// `id`
    Id,
    /// `name`
    Name,
    /// `status`
    Status,
    /// `provider_status`
    ProviderStatus,
    /// `resource_type`
    ResourceType,
    /// `resource_id`
    ResourceId,
    /// `resource_name`
    ResourceName,
    /// `size_bytes`
    SizeBytes,
    /// `created_at`
    CreatedAt,
    /// `updated_at`
    UpdatedAt,
    /// `expires_at`
    ExpiresAt,
    /// `incremental`
    Incremental,
    /// `description`
    Description,
    /// `location`
    Location,
    /// `parent_id`
    ParentId,
    /// `extra`
    Extra,
}

impl Field {
    /// Every field, in JSON order.
    pub(crate) const ALL: [Field; 18] = [
        Field::Provider,
        Field::Account,
        Field::Id,
        Field::Name,
        Field::Status,
        Field::ProviderStatus,
        Field::ResourceType,
        Field::ResourceId,
        Field::ResourceName,
        Field::SizeBytes,
        Field::CreatedAt,
        Field::UpdatedAt,
        Field::ExpiresAt,
        Field::Incremental,
        Field::Description,
        Field::Location,
        Field::ParentId,
        Field::Extra,
    ];

    /// The JSON key, csv/tsv header and `--columns` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Provider => "provider",
            Field::Account => "account",
            Field::Id => "id",
            Field::Name => "name",
            Field::Status => "status",
            Field::ProviderStatus => "provider_status",
            Field::ResourceType => "resource_type",
            Field::ResourceId => "resource_id",
            Field::ResourceName => "resource_name",
            Field::SizeBytes => "size_bytes",
            Field::CreatedAt => "created_at",
            Field::UpdatedAt => "updated_at",
            Field::ExpiresAt => "expires_at",
            Field::Incremental => "incremental",
            Field::Description => "description",
            Field::Location => "location",
            Field::ParentId => "parent_id",
            Field::Extra => "extra",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for Field {
    type Err = String;

    /// Parses a field name exactly as printed; the error lists the valid names.
    fn from_str(s: &str) -> Result<Field, String> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown field `{}` (valid: {})",
                    s.trim(),
                    Field::ALL.map(Field::as_str).join(", ")
                )
            })
    }
}

/// One backup, in the shape every provider maps into (`docs/model.md#fields-stable`). Every
/// key is always present in JSON, in this order; `None` prints as `null`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Backup {
    /// Which API it came from.
    pub provider: ProviderId,
    /// The config account name.
    pub account: String,
    /// The provider's id for it.
    pub id: String,
    /// Its name, where the provider has one.
    pub(crate) name: Option<String>,
    /// Normalised status.
    pub status: Status,
    /// The raw status as the provider sent it.
    pub provider_status: Option<String>,
    /// `server`, `volume`, `service_instance`, or the raw vendor value.
    pub(crate) resource_type: Option<String>,
    /// The protected resource's id.
    pub(crate) resource_id: Option<String>,
    /// The protected resource's name.
    pub(crate) resource_name: Option<String>,
    /// Size in bytes (for Huawei: the protected resource's size).
    pub(crate) size_bytes: Option<u64>,
    /// Creation time.
    pub created_at: Option<Timestamp>,
    /// Last update time.
    pub(crate) updated_at: Option<Timestamp>,
    /// When the provider will expire it.
    pub(crate) expires_at: Option<Timestamp>,
    /// Whether it is incremental.
    pub(crate) incremental: Option<bool>,
    /// Description; an empty one is `None`.
    pub(crate) description: Option<String>,
    /// Availability zone or region.
    pub(crate) location: Option<String>,
    /// Parent backup or backup group.
    pub(crate) parent_id: Option<String>,
    /// Provider fields not mapped above.
    pub(crate) extra: Extra,
}

/// Provider fields not mapped to the model, kept as compact JSON text. A listing holds every
/// row before sorting, and a tree of `serde_json::Value`s costs several times its text (a
/// Huawei row's: about 5 KiB as maps and strings, under 1 KiB as text), so 100k rows stay in
/// a few hundred MiB less. Always a JSON object.
#[derive(Clone, Debug)]
pub struct Extra(Box<RawValue>);

impl Extra {
    /// The fields as compact JSON (`{}` when there are none).
    pub(crate) fn as_json(&self) -> &str {
        self.0.get()
    }

    /// The fields as a map (parsed on demand).
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }

    /// One field's value, or `Null` when absent.
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Value {
        self.to_map().remove(key).unwrap_or(Value::Null)
    }

    /// The fields as an owned JSON value, to nest in another `extra`.
    pub(crate) fn to_raw(&self) -> Box<RawValue> {
        self.0.clone()
    }

    /// Reads back the text [`Extra::as_json`] gave (the inventory stores it so): the same
    /// text, so the result equals the original. `None` unless it is one JSON object;
    /// whitespace between tokens is dropped, so it prints as compact JSON whatever it was given.
    pub(crate) fn from_json(json: String) -> Option<Extra> {
        let raw = RawValue::from_string(json).ok()?;
        if !raw.get().starts_with('{') {
            return None;
        }
        let mut strings = JsonStrings::default();
        let spaced = raw
            .get()
            .bytes()
            .any(|b| !strings.step(b) && matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
        if !spaced {
            return Some(Extra(raw));
        }
        let mut out = Vec::with_capacity(raw.get().len());
        push_compact(&mut out, raw.get());
        let compact = String::from_utf8(out).ok()?;
        RawValue::from_string(compact).ok().map(Extra)
    }
}

/// How deep a value kept in `extra` may nest (`[[[…]]]` counts 3). Vendor fields nest a few
/// levels; a body nesting deeper is refused rather than passed on to `jq` or Python, which
/// give up around 10,000 and 1,000 levels. One limit for every provider: every adapter keeps
/// its unmapped fields through [`ExtraBuilder`], which enforces it.
pub(crate) const MAX_EXTRA_DEPTH: usize = 64;

/// Builds an [`Extra`] from a vendor object's unmapped fields as raw JSON borrowed from the
/// response body: no tree of values and no second serialisation, which is most of what parsing
/// a row costs. Keys keep the vendor's order; a repeated key keeps its first place and its last
/// value, as a JSON map would. [`ExtraBuilder::build`] refuses a value nesting deeper than
/// [`MAX_EXTRA_DEPTH`].
#[derive(Default)]
pub(crate) struct ExtraBuilder<'a> {
    fields: Vec<(Cow<'a, str>, ExtraValue<'a>)>,
    /// One bit per [`key_bit`] of the keys added: a key whose bit is clear is new, with no
    /// search of the fields (which most keys of most rows are).
    seen: u64,
}

/// A bit of 64 for a key, from its length and its first and last bytes.
fn key_bit(key: &str) -> u64 {
    let b = key.as_bytes();
    let mix = b
        .len()
        .wrapping_mul(31)
        .wrapping_add(usize::from(b.first().copied().unwrap_or(0)) * 7)
        .wrapping_add(usize::from(b.last().copied().unwrap_or(0)));
    1 << (mix % 64)
}

enum ExtraValue<'a> {
    Raw(&'a RawValue),
    Text(String),
    Json(Box<RawValue>),
    Null,
}

impl<'a> ExtraBuilder<'a> {
    /// Adds a field as the vendor sent it.
    pub(crate) fn raw(&mut self, key: Cow<'a, str>, value: &'a RawValue) {
        self.set(key, ExtraValue::Raw(value));
    }

    /// Adds a string field (a value the adapter could not map, kept rather than lost).
    pub(crate) fn text(&mut self, key: &'a str, value: String) {
        self.set(Cow::Borrowed(key), ExtraValue::Text(value));
    }

    /// Adds a field holding JSON built elsewhere (a nested object of other vendor fields).
    pub(crate) fn json(&mut self, key: &'a str, value: Box<RawValue>) {
        self.set(Cow::Borrowed(key), ExtraValue::Json(value));
    }

    /// Adds a field holding `null`.
    pub(crate) fn null(&mut self, key: &'a str) {
        self.set(Cow::Borrowed(key), ExtraValue::Null);
    }

    fn set(&mut self, key: Cow<'a, str>, value: ExtraValue<'a>) {
        let bit = key_bit(&key);
        if self.seen & bit == 0 {
            self.seen |= bit;
            self.fields.push((key, value));
            return;
        }
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key, value)),
        }
    }

    /// A field's raw JSON, as the vendor sent it.
    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.fields.iter().find_map(|(k, v)| match v {
            ExtraValue::Raw(raw) if k == key => Some(*raw),
            _ => None,
        })
    }

    /// Whether no field has been added.
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Adds every field of `other`, in its order (as [`ExtraBuilder::raw`] would one by one).
    pub(crate) fn extend(&mut self, other: ExtraBuilder<'a>) {
        for (key, value) in other.fields {
            self.set(key, value);
        }
    }

    /// The fields as one compact JSON object; the error (a message for a protocol error)
    /// names a field whose value nests deeper than [`MAX_EXTRA_DEPTH`].
    ///
    /// serde_json writes the object (keys escaped as it escapes them, values as they are):
    /// what its serializer writes it takes as JSON without reading it again, where text
    /// assembled by hand had to be parsed whole once more to become a `RawValue` (a tenth of
    /// the CPU of a listing). A value with whitespace between its tokens (a pretty-printed
    /// body) is compacted first.
    pub(crate) fn build(self) -> Result<Extra, String> {
        let mut values = Vec::with_capacity(self.fields.len());
        for (key, value) in &self.fields {
            let value = match value {
                ExtraValue::Raw(raw) => compact(key, raw)?,
                ExtraValue::Json(json) => compact(key, json)?,
                ExtraValue::Text(text) => Written::Text(text),
                ExtraValue::Null => Written::Null,
            };
            values.push((key.as_ref(), value));
        }
        // Only a value compacted into text that is not JSON could fail here (never, from
        // valid JSON); the slow path then keeps every field rather than dropping any.
        match serde_json::value::to_raw_value(&WrittenMap(&values)) {
            Ok(raw) => Ok(Extra(raw)),
            Err(_) => Ok(self.into_map().into()),
        }
    }

    fn into_map(self) -> Map<String, Value> {
        self.fields
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    ExtraValue::Raw(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
                    ExtraValue::Json(json) => {
                        serde_json::from_str(json.get()).unwrap_or(Value::Null)
                    }
                    ExtraValue::Text(text) => Value::String(text),
                    ExtraValue::Null => Value::Null,
                };
                (k.into_owned(), v)
            })
            .collect()
    }
}

/// A field's value as [`ExtraBuilder::build`] has serde_json write it.
enum Written<'v> {
    Raw(&'v RawValue),
    Compacted(Box<RawValue>),
    Text(&'v str),
    Null,
}

impl Serialize for Written<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Written::Raw(raw) => raw.serialize(s),
            Written::Compacted(raw) => raw.serialize(s),
            Written::Text(text) => s.serialize_str(text),
            Written::Null => s.serialize_unit(),
        }
    }
}

/// The fields, in order, as one JSON object.
struct WrittenMap<'a, 'v>(&'a [(&'v str, Written<'v>)]);

impl Serialize for WrittenMap<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `raw` as it is when it is compact, else compacted; the error names the field `key` when
/// the value nests deeper than [`MAX_EXTRA_DEPTH`].
fn compact<'v>(key: &str, raw: &'v RawValue) -> Result<Written<'v>, String> {
    let (depth, spaced) = shape(raw.get());
    if depth > MAX_EXTRA_DEPTH {
        return Err(format!(
            "field `{}` nests deeper than {MAX_EXTRA_DEPTH} levels",
            crate::text::quote(key)
        ));
    }
    if !spaced {
        return Ok(Written::Raw(raw));
    }
    let mut out = Vec::with_capacity(raw.get().len());
    push_compact(&mut out, raw.get());
    // Valid JSON without its whitespace is valid JSON: a failure here is not expected, and
    // the value then stays as the vendor sent it rather than being lost.
    Ok(String::from_utf8(out)
        .ok()
        .and_then(|text| RawValue::from_string(text).ok())
        .map_or(Written::Raw(raw), Written::Compacted))
}

/// How deep valid JSON text nests (0 for a scalar), and whether it has whitespace between
/// its tokens.
fn shape(json: &str) -> (usize, bool) {
    let mut spaced = false;
    let deepest = walk(json.as_bytes(), |_| spaced = true);
    (deepest, spaced)
}

/// Walks valid JSON text, skipping string literals with `memchr`: calls `space(i)` for each
/// whitespace byte between tokens and returns how deep the text nests (0 for a scalar). It
/// runs on every unmapped field of every row.
fn walk(bytes: &[u8], mut space: impl FnMut(usize)) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i + 1),
            b' ' | b'\n' | b'\r' | b'\t' => space(i),
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The index of the quote closing the string literal whose contents start at `i` (the
/// length of `bytes` when it is not closed).
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    loop {
        match bytes
            .get(i..)
            .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
        {
            Some(k) if bytes[i + k] == b'"' => return i + k,
            Some(k) => i += k + 2,
            None => return bytes.len(),
        }
    }
}

/// Appends valid JSON text without the whitespace between its tokens (a pretty-printed body
/// must not put line breaks into an ndjson row), copying the runs between whitespace whole;
/// returns how deep it nests (0 for a scalar).
fn push_compact(out: &mut Vec<u8>, json: &str) -> usize {
    let bytes = json.as_bytes();
    let mut start = 0;
    let deepest = walk(bytes, |i| {
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
    });
    out.extend_from_slice(&bytes[start.min(bytes.len())..]);
    deepest
}

/// Follows JSON text byte by byte and tells which bytes belong to string literals, for
/// byte-level passes that must leave strings alone.
#[derive(Default)]
pub(crate) struct JsonStrings {
    in_string: bool,
    escaped: bool,
}

impl JsonStrings {
    /// Takes the next byte; whether it is part of a string literal (its quotes included).
    pub(crate) fn step(&mut self, b: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            true
        } else {
            self.in_string = b == b'"';
            self.in_string
        }
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
    /// A backup with only the always-present fields set; adapters fill in the rest.
    pub(crate) fn new(provider: ProviderId, account: &str, id: String, status: Status) -> Backup {
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
    /// times, raw bytes for sizes, compact JSON for `extra`.
    pub(crate) fn field_text(&self, field: Field) -> Option<String> {
        fn s(v: &Option<String>) -> Option<String> {
            v.clone()
        }
        fn t(v: &Option<Timestamp>) -> Option<String> {
            v.map(|t| t.to_string())
        }
        match field {
            Field::Provider => Some(self.provider.to_string()),
            Field::Account => Some(self.account.clone()),
            Field::Id => Some(self.id.clone()),
            Field::Name => s(&self.name),
            Field::Status => Some(self.status.to_string()),
            Field::ProviderStatus => s(&self.provider_status),
            Field::ResourceType => s(&self.resource_type),
            Field::ResourceId => s(&self.resource_id),
            Field::ResourceName => s(&self.resource_name),
            Field::SizeBytes => self.size_bytes.map(|n| n.to_string()),
            Field::CreatedAt => t(&self.created_at),
            Field::UpdatedAt => t(&self.updated_at),
            Field::ExpiresAt => t(&self.expires_at),
            Field::Incremental => self.incremental.map(|b| b.to_string()),
            Field::Description => s(&self.description),
            Field::Location => s(&self.location),
            Field::ParentId => s(&self.parent_id),
            Field::Extra => Some(self.extra.as_json().to_string()),
        }
    }
}

/// Turns an empty or whitespace-only vendor string into `None` (an empty description is null).
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

/// Gibibytes as bytes, refusing sizes that do not fit (an absurd vendor number is an error,
/// not a wrapped value).
pub(crate) fn gib_to_bytes(gib: u64) -> Option<u64> {
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
            // Each is a shape vendors send: the fast reader takes it and agrees with chrono.
            assert_eq!(parse_common(input.as_bytes()), Some(ts), "{input}");
            assert_eq!(parse_general(input), Some(ts), "{input}");
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
        assert_eq!(keys, Field::ALL.map(Field::as_str));
        assert!(json.starts_with(
            r#"{"provider":"huawei","account":"hw","id":"id1","name":null,"status":"available""#
        ));
    }

    #[test]
    fn gib_overflow_is_refused() {
        assert_eq!(gib_to_bytes(40), Some(42_949_672_960));
        assert_eq!(gib_to_bytes(u64::MAX / 2), None);
    }

    /// Builds an `Extra` from every field of a JSON object text, as an adapter would.
    fn built(object: &str) -> Extra {
        let fields = serde_json::from_str::<members::Fields>(object).unwrap().0;
        let mut b = ExtraBuilder::default();
        for (k, v) in fields {
            b.raw(Cow::Owned(k), v);
        }
        b.build().unwrap()
    }

    /// The object's members in order, values left as raw text (duplicates kept).
    mod members {
        use serde::de::{Deserializer, MapAccess, Visitor};
        use serde_json::value::RawValue;

        pub(crate) struct Fields<'a>(pub(crate) Vec<(String, &'a RawValue)>);

        impl<'de> serde::Deserialize<'de> for Fields<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Fields<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut m: A,
                    ) -> Result<Fields<'de>, A::Error> {
                        let mut out = Vec::new();
                        while let Some((k, v)) = m.next_entry()? {
                            out.push((k, v));
                        }
                        Ok(Fields(out))
                    }
                }
                d.deserialize_map(V)
            }
        }
    }

    #[test]
    fn extra_is_compact_json_in_vendor_order() {
        let body = "{ \"z\" : [1, 2,\n {\"a b\": \"x  y\\\" \\n\"}],\n\t\"a\": null, \"z\": {\"k\" : 1e3 } }";
        let extra = built(body);
        // The repeated `z` keeps its first place and its last value, as a JSON map does.
        assert_eq!(extra.as_json(), r#"{"z":{"k":1e3},"a":null}"#);
        let mut b = ExtraBuilder::default();
        b.text("odd\"key\u{1}", "tab\there".into());
        assert_eq!(
            b.build().unwrap().as_json(),
            r#"{"odd\"key\u0001":"tab\there"}"#
        );
        assert_eq!(ExtraBuilder::default().build().unwrap().as_json(), "{}");
    }

    #[test]
    fn a_value_nesting_deeper_than_the_limit_is_refused() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let at_limit = format!(
            r#"{{"ok": {}, "s": "[[[[", "o": {{"a": {{}}}}}}"#,
            nested(64)
        );
        let extra = built(&at_limit);
        assert!(extra.as_json().starts_with(r#"{"ok":[[[["#));
        for deep in [
            nested(65),
            nested(100_000),
            format!(
                "{}{}",
                "{\"a\":".repeat(65),
                "1".to_string() + &"}".repeat(65)
            ),
        ] {
            let text = format!(r#"{{"x":1,"deep\u001b":{deep}}}"#);
            let fields = serde_json::from_str::<members::Fields>(&text).unwrap().0;
            let mut b = ExtraBuilder::default();
            for (k, v) in fields {
                b.raw(Cow::Owned(k), v);
            }
            assert_eq!(
                b.build().unwrap_err(),
                "field `deep\\x1b` nests deeper than 64 levels"
            );
        }
        // JSON built elsewhere is held to the same limit.
        let mut b = ExtraBuilder::default();
        b.json("group", RawValue::from_string(nested(65)).unwrap());
        assert!(b.build().is_err());
        let mut b = ExtraBuilder::default();
        b.json("group", RawValue::from_string(nested(64)).unwrap());
        b.null("n");
        assert_eq!(
            b.build().unwrap().as_json(),
            format!(r#"{{"group":{},"n":null}}"#, nested(64))
        );
    }

    #[test]
    fn extra_reads_back_from_its_json() {
        let extra = built(r#"{"z":[1,{"a b":"x  y"}],"a":null,"n":1.50}"#);
        let back = Extra::from_json(extra.as_json().to_string()).unwrap();
        assert_eq!(back, extra);
        assert_eq!(
            back.as_json(),
            r#"{"z":[1,{"a b":"x  y"}],"a":null,"n":1.50}"#
        );
        // Pretty text comes back compact, strings untouched.
        let pretty = Extra::from_json("{ \"k\" : [ 1, \"a  b\" ]\n}".to_string()).unwrap();
        assert_eq!(pretty.as_json(), r#"{"k":[1,"a  b"]}"#);
        assert_eq!(Extra::from_json("{}".into()).unwrap(), Extra::default());
        for bad in ["", "[]", "1", "\"x\"", "null", "{", "{\"a\":}", "{} {}"] {
            assert_eq!(Extra::from_json(bad.to_string()), None, "{bad}");
        }
    }

    /// Property tests: vendor times never panic the parser, and what we print reads back.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::providers::arbitrary::config())]

            /// Whatever the vendor sends, pretty or not, `extra` is exactly what serde_json
            /// would print for the same fields.
            #[test]
            fn extra_matches_serde_json(value in crate::providers::arbitrary::any_json()) {
                let map = match value {
                    Value::Object(m) => m,
                    other => std::iter::once(("v".to_string(), other)).collect(),
                };
                let want = Extra::from(map.clone());
                let pretty = built(&serde_json::to_string_pretty(&map).unwrap());
                let compact = built(&serde_json::to_string(&map).unwrap());
                prop_assert_eq!(pretty.as_json(), want.as_json());
                prop_assert_eq!(compact.as_json(), want.as_json());
            }
        }

        proptest! {
            #![proptest_config(crate::providers::arbitrary::config())]

            /// Keys repeated in any order (few short names, so bits and names collide): each
            /// keeps its first place and its last value, as a JSON map would.
            #[test]
            fn repeated_keys_keep_their_first_place_and_last_value(
                keys in proptest::collection::vec("[ab]{0,2}|[a-z]{1,3}", 0..40)
            ) {
                let mut want = Map::new();
                let mut b = ExtraBuilder::default();
                for (i, key) in keys.iter().enumerate() {
                    match want.get_mut(key) {
                        Some(v) => *v = Value::from(i),
                        None => {
                            want.insert(key.clone(), Value::from(i));
                        }
                    }
                    b.text(key, i.to_string());
                }
                let want: Map<String, Value> = want
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v.to_string())))
                    .collect();
                let (got, want) = (b.build().unwrap(), Extra::from(want));
                prop_assert_eq!(got.as_json(), want.as_json());
            }
        }

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
            fn the_fast_parser_agrees_with_chrono(
                s in prop_oneof![
                    "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,11})?(Z|z|[+-][0-9]{2}:[0-9]{2})?",
                    "(19[0-9]{2}|20[0-9]{2}|0000|9999)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-4]):[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-9]|2[0-4]):[0-5][0-9])?",
                ]
            ) {
                if let Some(fast) = parse_common(s.as_bytes()) {
                    prop_assert_eq!(Some(fast), parse_general(&s), "{}", s);
                }
            }

            #[test]
            fn what_is_printed_in_rfc3339_form_matches_chrono(
                secs in FIRST..=LAST,
                nanos in 0u32..1_000_000_000,
                digits in 0u8..=9,
            ) {
                let t = Timestamp::new(DateTime::<Utc>::from_timestamp(secs, nanos).unwrap(), digits);
                let whole = t.utc.with_nanosecond(0).unwrap();
                let mut want = whole.to_rfc3339_opts(SecondsFormat::Secs, true);
                if digits > 0 {
                    want.pop();
                    let nanos = format!("{nanos:09}");
                    want = format!("{want}.{}Z", &nanos[..usize::from(digits)]);
                }
                prop_assert_eq!(t.to_string(), want);
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
