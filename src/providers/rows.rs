//! Reading a page's rows straight into the model: each vendor row is mapped to a [`Backup`]
//! (or an instance, for Cloud Foundry's instance pages) as soon as it is read, never collected
//! as vendor structs first, and one page may hold at most `max_rows` rows (`--max-page-rows`
//! is not a flag: [`super::ListOptions::max_page_rows`]). With the body cap this bounds what a
//! page costs after parsing: a 60 MB page of tiny rows once grew to gigabytes as parsed rows.
//!
//! A vendor row is read field by field ([`VendorRow`]): mapped keys into typed fields, every
//! other key kept raw, borrowed from the body, through [`ExtraBuilder`] (which holds every
//! provider to one nesting limit).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::ExtraBuilder;

/// An object key, borrowed from the body unless it holds escapes.
#[derive(Deserialize)]
pub(crate) struct Key<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// A vendor row read field by field: the keys it maps into typed fields, the rest into its
/// [`ExtraBuilder`]. Such a row is read as a [`Vendor`].
pub(crate) trait VendorRow<'de>: Default {
    /// What the row is, for serde's messages (`a BackupResp object`).
    const EXPECTING: &'static str;
    /// The key every row must have (its id).
    const REQUIRED: &'static str;

    /// Reads the value of `key` if the row maps it; `false` leaves the value unread, for
    /// `extra`.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;

    /// Whether [`Self::REQUIRED`] was read.
    fn complete(&self) -> bool;

    /// Where the unmapped fields go.
    fn extra(&mut self) -> &mut ExtraBuilder<'de>;
}

/// A [`VendorRow`] read as a JSON object, every key it does not map kept raw: the one
/// `Deserialize` every vendor row type shares (serde's trait cannot be implemented for every
/// `VendorRow` at once, but for this wrapper it can). Take rows as `|Vendor(row): Vendor<T>|`.
pub(crate) struct Vendor<R>(pub(crate) R);

impl<'de, R: VendorRow<'de>> Deserialize<'de> for Vendor<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor<R>(PhantomData<R>);
        impl<'de, R: VendorRow<'de>> Visitor<'de> for RowVisitor<R> {
            type Value = R;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(R::EXPECTING)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<R, A::Error> {
                let mut row = R::default();
                while let Some(Key(key)) = map.next_key()? {
                    if !row.field(&key, &mut map)? {
                        let value: &'de RawValue = map.next_value()?;
                        row.extra().raw(key, value);
                    }
                }
                if !row.complete() {
                    return Err(de::Error::missing_field(R::REQUIRED));
                }
                Ok(row)
            }
        }
        d.deserialize_map(RowVisitor(PhantomData)).map(Vendor)
    }
}

/// Collects a page's items, refusing more than `max`.
pub(crate) struct Capped<T> {
    items: Vec<T>,
    max: usize,
    what: &'static str,
}

impl<T> Capped<T> {
    /// At most `max` items, called `what` (`rows`, `service instances`) in the error.
    pub(crate) fn new(max: usize, what: &'static str) -> Capped<T> {
        Capped {
            items: Vec::new(),
            max,
            what,
        }
    }

    /// Adds an item; past the cap, the error (a message for a protocol error).
    pub(crate) fn push(&mut self, item: T) -> Result<(), String> {
        if self.items.len() >= self.max {
            return Err(format!(
                "the page holds more than {} {} (the most one page may hold); stopped",
                self.max, self.what
            ));
        }
        self.items.push(item);
        Ok(())
    }

    /// How many items so far.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The items.
    pub(crate) fn into_vec(self) -> Vec<T> {
        self.items
    }
}

/// Top-level fields of a page other than its list, kept raw for the adapter to read.
pub(crate) type Others<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// Reads one of [`Others`] as `T`: `None` when absent; the error is a message for a protocol
/// error naming the field.
pub(crate) fn other<'a, T: Deserialize<'a>>(
    others: &Others<'a>,
    key: &str,
) -> Result<Option<T>, String> {
    let Some((_, raw)) = others.iter().rev().find(|(k, _)| k == key) else {
        return Ok(None);
    };
    serde_json::from_str(raw.get()).map(Some).map_err(|e| {
        // The position serde_json gives is within the field's own text: left out.
        let text = e.to_string();
        let at = format!(" at line {} column {}", e.line(), e.column());
        let text = text.strip_suffix(&at).unwrap_or(&text);
        format!("unexpected response body: `{key}`: {text}")
    })
}

/// Parses a page that is a JSON object whose `key` holds the rows (an array, or null when
/// `nullable`; a missing `key` is an error unless `nullable`), handing each row to `each` as
/// soon as it is read. Returns the other top-level fields. `each`'s error (a row that does not
/// map, one row too many) ends the parse and is the error returned, as it is; a body that is
/// not JSON or not the shape is worded as [`crate::http::parse_json`] words it.
pub(crate) fn rows_in_object<'a, T, F>(
    body: &'a [u8],
    key: &str,
    nullable: bool,
    each: F,
) -> Result<Others<'a>, String>
where
    T: Deserialize<'a>,
    F: FnMut(T) -> Result<(), String>,
{
    let stop = Cell::new(None);
    let seed = Envelope {
        key,
        nullable,
        rows: Each {
            each,
            stop: &stop,
            nullable,
            _row: PhantomData,
        },
    };
    finish(body, seed, &stop)
}

/// Parses a page that is a bare JSON array of rows, handing each to `each` as it is read.
pub(crate) fn rows_in_array<'a, T, F>(body: &'a [u8], each: F) -> Result<(), String>
where
    T: Deserialize<'a>,
    F: FnMut(T) -> Result<(), String>,
{
    let stop = Cell::new(None);
    let seed = Each {
        each,
        stop: &stop,
        nullable: false,
        _row: PhantomData,
    };
    finish(body, seed, &stop)
}

/// Runs `seed` over `body` (UTF-8 checked first; nothing but whitespace may follow the
/// value). The message `each` left in `stop` wins over serde's error, which only says the
/// parse was stopped.
fn finish<'a, S, V>(body: &'a [u8], seed: S, stop: &Cell<Option<String>>) -> Result<V, String>
where
    S: DeserializeSeed<'a, Value = V>,
{
    let text = crate::http::utf8_body(body)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let result = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match (result, stop.take()) {
        (_, Some(message)) => Err(message),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(crate::http::json_error_message(body, &e)),
    }
}

/// Hands each element of a JSON array to `each`; null is no rows when `nullable`.
struct Each<'s, T, F> {
    each: F,
    stop: &'s Cell<Option<String>>,
    nullable: bool,
    _row: PhantomData<fn() -> T>,
}

impl<'de, T, F> DeserializeSeed<'de> for Each<'_, T, F>
where
    T: Deserialize<'de>,
    F: FnMut(T) -> Result<(), String>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.nullable {
            d.deserialize_option(self)
        } else {
            d.deserialize_seq(self)
        }
    }
}

impl<'de, T, F> Visitor<'de> for Each<'_, T, F>
where
    T: Deserialize<'de>,
    F: FnMut(T) -> Result<(), String>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<T>()? {
            if let Err(message) = (self.each)(row) {
                self.stop.set(Some(message));
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// The page object: its list through `rows`, every other top-level field kept raw.
struct Envelope<'k, R> {
    key: &'k str,
    nullable: bool,
    rows: R,
}

impl<'de, R> DeserializeSeed<'de> for Envelope<'_, R>
where
    R: DeserializeSeed<'de, Value = ()>,
{
    type Value = Others<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Others<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R> Visitor<'de> for Envelope<'_, R>
where
    R: DeserializeSeed<'de, Value = ()>,
{
    type Value = Others<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with `{}`", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Others<'de>, A::Error> {
        let mut rows = Some(self.rows);
        let mut others = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            if key == self.key {
                let Some(seed) = rows.take() else {
                    return Err(de::Error::custom(format_args!(
                        "duplicate field `{}`",
                        self.key
                    )));
                };
                map.next_value_seed(seed)?;
            } else {
                let value: &'de RawValue = map.next_value()?;
                others.push((key, value));
            }
        }
        if rows.is_some() && !self.nullable {
            return Err(de::Error::custom(format_args!(
                "missing field `{}`",
                self.key
            )));
        }
        Ok(others)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Row<'a> {
        id: Option<String>,
        n: Option<u64>,
        rest: ExtraBuilder<'a>,
    }

    impl<'de> VendorRow<'de> for Row<'de> {
        const EXPECTING: &'static str = "a row";
        const REQUIRED: &'static str = "id";

        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
            match key {
                "id" => self.id = Some(map.next_value()?),
                "n" => self.n = map.next_value()?,
                _ => return Ok(false),
            }
            Ok(true)
        }

        fn complete(&self) -> bool {
            self.id.is_some()
        }

        fn extra(&mut self) -> &mut ExtraBuilder<'de> {
            &mut self.rest
        }
    }

    /// The ids and extras of a page, at most `max` rows.
    fn page(body: &str, max: usize) -> Result<(Vec<String>, Vec<String>), String> {
        let mut rows = Capped::new(max, "rows");
        let others = rows_in_object(
            body.as_bytes(),
            "rows",
            false,
            |Vendor(r): Vendor<Row<'_>>| {
                let extra = r.rest.build()?;
                rows.push((r.id.unwrap(), extra.as_json().to_string()))
            },
        )?;
        let count: Option<u64> = other(&others, "count")?;
        assert!(count.is_none() || count == Some(7));
        Ok(rows.into_vec().into_iter().unzip())
    }

    #[test]
    fn rows_are_mapped_as_they_are_read_and_other_fields_kept() {
        let (ids, extras) = page(
            r#"{"count": 7, "rows": [{"id": "a", "z": [1]}, {"n": 2, "id": "b"}], "x": null}"#,
            10,
        )
        .unwrap();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(extras, [r#"{"z":[1]}"#, "{}"]);
    }

    #[test]
    fn one_row_too_many_stops_the_page() {
        let body = format!(r#"{{"rows": [{}]}}"#, [r#"{"id":"x"}"#; 4].join(","));
        assert_eq!(page(&body, 4).unwrap().0.len(), 4);
        assert_eq!(
            page(&body, 3).unwrap_err(),
            "the page holds more than 3 rows (the most one page may hold); stopped"
        );
    }

    #[test]
    fn shape_errors_are_worded_like_any_body_error() {
        let cases = [
            (r#"{"rows": [{"n": 1}]}"#, "unexpected response body: missing field `id` at line 1 column 18"),
            (r#"{"count": 1}"#, "unexpected response body: missing field `rows` at line 1 column 12"),
            (r#"{"rows": [], "rows": []}"#, "unexpected response body: duplicate field `rows` at line 1 column 19"),
            (r#"{"rows": "x"}"#, "unexpected response body: invalid type: string \"x\", expected a sequence at line 1 column 12"),
            (r#"{"rows": []} x"#, "unexpected response body: trailing characters at line 1 column 14"),
            (r#"{"rows": [], "count": -1}"#, "unexpected response body: `count`: invalid value: integer `-1`, expected u64"),
            ("5", "unexpected response body: invalid type: integer `5`, expected an object with `rows` at line 1 column 1"),
        ];
        for (body, want) in cases {
            assert_eq!(page(body, 10).unwrap_err(), want, "{body}");
        }
        let deep = format!(
            r#"{{"rows": [{{"id": "a", "d": {}1{}}}]}}"#,
            "[".repeat(65),
            "]".repeat(65)
        );
        assert_eq!(
            page(&deep, 10).unwrap_err(),
            "field `d` nests deeper than 64 levels"
        );
    }

    #[test]
    fn a_bare_array_and_a_nullable_list() {
        let mut ids = Vec::new();
        rows_in_array(
            br#"[{"id": "a"}, {"id": "b"}]"#,
            |Vendor(r): Vendor<Row<'_>>| {
                ids.push(r.id.unwrap());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(ids, ["a", "b"]);
        for body in [r#"{"rows": null}"#, "{}"] {
            let others =
                rows_in_object(body.as_bytes(), "rows", true, |_: Vendor<Row<'_>>| Ok(())).unwrap();
            assert!(others.is_empty());
        }
    }
}
