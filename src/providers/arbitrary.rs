//! Proptest strategies for the adapters' property tests (no vendor body may panic a parser;
//! `docs/architecture.md#test-layers`, the property row): arbitrary bytes, and JSON documents
//! shaped like a vendor's. A shaped document keeps the keys and nesting of a real vendor body (a
//! fixture) but drops keys, adds unknown ones and puts random types and absurd values where the
//! vendor puts its scalars, objects and arrays, which is what a broken, newer or hostile server
//! sends. Test-only.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Number, Value};

use crate::error::{ErrorKind, Result};
use crate::model::{Backup, ProviderId};

/// Cases per property: enough to find type confusions, few enough for two shared cores.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Any bytes, short (parsers fail early on garbage; length adds nothing but time).
pub(crate) fn bytes() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512).boxed()
}

/// Strings a vendor field may hold: times in and out of range, vendor words, sizes, numbers as
/// text, and anything at all.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        "(0|19|20|99)[0-9]{2}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:?[0-9]{2})?",
        prop::sample::select(&[
            "available",
            "COMPLETED",
            "error",
            "queued",
            "instance",
            "volume",
            "OS::Nova::Server",
            "1073741824b",
            "10G",
            "99999999999999999999999b",
            "-5",
            "1e30",
            "http://127.0.0.1:1/x",
            "/storage/volume/a/b",
            "null",
        ][..])
        .prop_map(str::to_string),
        "[ -~]{0,24}",
        any::<String>(),
    ]
    .boxed()
}

/// Any JSON number, with the absurd ones favoured.
fn number() -> BoxedStrategy<Value> {
    let float = prop_oneof![
        Just(1e30),
        Just(1e300),
        Just(-1.0),
        Just(0.5),
        Just(f64::MAX),
        Just(-0.0),
        any::<f64>(),
    ]
    .prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number));
    let signed = prop_oneof![
        Just(-1i64),
        Just(0),
        Just(i64::MIN),
        Just(1 << 40),
        any::<i64>()
    ];
    let unsigned = prop_oneof![Just(u64::MAX), Just(u64::MAX >> 30), any::<u64>()];
    prop_oneof![
        signed.prop_map(Value::from),
        unsigned.prop_map(Value::from),
        float,
    ]
    .boxed()
}

/// Any JSON scalar.
pub(crate) fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ]
    .boxed()
}

/// A scalar of the same JSON type as `leaf` (any scalar for null), so most shaped documents
/// still parse and the mapping code, not only the type check, meets odd values.
fn like(leaf: &Value) -> BoxedStrategy<Value> {
    match leaf {
        Value::Bool(_) => any::<bool>().prop_map(Value::Bool).boxed(),
        Value::Number(_) => number(),
        Value::String(_) => text().prop_map(Value::String).boxed(),
        _ => scalar(),
    }
}

/// Any JSON value, a few levels deep.
pub(crate) fn any_json() -> BoxedStrategy<Value> {
    scalar()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Documents shaped like `template`: each object key kept (mostly) with a shaped value, or
/// dropped; unknown keys added; arrays keep their shaped items, sometimes with the first one
/// repeated; scalars keep their value or get another of the same type; and, rarely (so that
/// a good share of documents still parses), any node becomes an arbitrary value instead.
pub(crate) fn shaped(template: &Value) -> BoxedStrategy<Value> {
    match template {
        Value::Object(map) => {
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = map
                .iter()
                .map(|(k, v)| {
                    let k = k.clone();
                    prop::option::weighted(0.95, shaped(v))
                        .prop_map(move |v| v.map(|v| (k.clone(), v)))
                        .boxed()
                })
                .collect();
            let extra = prop::collection::vec(("[a-z_]{1,12}", any_json()), 0..2);
            prop_oneof![
                40 => (fields, extra).prop_map(|(fields, extra)| {
                    let mut m: Map<String, Value> = fields.into_iter().flatten().collect();
                    m.extend(extra);
                    Value::Object(m)
                }),
                1 => any_json(),
            ]
            .boxed()
        }
        Value::Array(items) => {
            let items: Vec<BoxedStrategy<Value>> = items.iter().map(shaped).collect();
            prop_oneof![
                40 => (items, any::<bool>()).prop_map(|(mut v, repeat)| {
                    if let (true, Some(first)) = (repeat, v.first().cloned()) {
                        v.push(first);
                    }
                    Value::Array(v)
                }),
                1 => any_json(),
            ]
            .boxed()
        }
        leaf => prop_oneof![30 => Just(leaf.clone()), 30 => like(leaf), 1 => scalar()].boxed(),
    }
}

/// Shaped documents as bytes, some cut short or with one byte overwritten (truncated bodies,
/// bit rot, bytes that are not UTF-8).
pub(crate) fn shaped_bytes(template: &Value) -> BoxedStrategy<Vec<u8>> {
    (shaped(template), any::<Index>(), any::<u8>(), 0..4u8)
        .prop_map(|(doc, at, byte, how)| {
            let mut b = serde_json::to_vec(&doc).expect("a Value serialises");
            match how {
                1 => b.truncate(at.index(b.len() + 1)),
                2 if !b.is_empty() => {
                    let i = at.index(b.len());
                    b[i] = byte;
                }
                _ => {}
            }
            b
        })
        .boxed()
}

/// Documents shaped like any one of `templates`.
pub(crate) fn shaped_any(templates: &[Value]) -> BoxedStrategy<Value> {
    prop::strategy::Union::new(templates.iter().map(shaped)).boxed()
}

/// [`shaped_bytes`] for any one of `templates`.
pub(crate) fn shaped_bytes_any(templates: &[Value]) -> BoxedStrategy<Vec<u8>> {
    prop::strategy::Union::new(templates.iter().map(shaped_bytes)).boxed()
}

/// The three parser properties every adapter keeps, as tests in the calling module: arbitrary
/// bytes, documents shaped like the vendor's (`$templates`, a slice of example bodies) and
/// mangled ones each pass `$check`, which asserts rows or a protocol error for one body.
macro_rules! parser_properties {
    ($check:path, $templates:expr) => {
        proptest::proptest! {
            #![proptest_config($crate::providers::arbitrary::config())]

            #[test]
            fn any_bytes_give_rows_or_a_protocol_error(
                body in $crate::providers::arbitrary::bytes()
            ) {
                $check(&body);
            }

            #[test]
            fn vendor_shaped_json_gives_rows_or_a_protocol_error(
                doc in $crate::providers::arbitrary::shaped_any(&$templates)
            ) {
                $check(&serde_json::to_vec(&doc).unwrap());
            }

            #[test]
            fn mangled_vendor_json_gives_rows_or_a_protocol_error(
                body in $crate::providers::arbitrary::shaped_bytes_any(&$templates)
            ) {
                $check(&body);
            }
        }
    };
}
pub(crate) use parser_properties;

/// The property every adapter's parser keeps: it returns rows of its provider and account, or
/// a protocol error naming the request and status; nothing else, and never a panic.
pub(crate) fn assert_rows_or_protocol_error(
    outcome: &Result<Vec<Backup>>,
    provider: ProviderId,
    account: &str,
) {
    match outcome {
        Ok(rows) => {
            for row in rows {
                assert_eq!(row.provider, provider);
                assert_eq!(row.account, account);
                // Serialising the row (what every output does) must not fail either.
                serde_json::to_string(row).expect("a row serialises");
            }
        }
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
            assert!(e.request.is_some() && e.status.is_some(), "{e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
}
