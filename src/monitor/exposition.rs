//! The Prometheus text exposition format, version 0.0.4: what node_exporter's textfile
//! collector, Prometheus's scrape and `promtool check metrics` read (not OpenMetrics).
//!
//! Written here rather than with a crate, because no well-kept one writes exactly this: the
//! `prometheus` crate's `TextEncoder` writes 0.0.4, but its registry drops families without
//! series and the encoder refuses one ("MetricFamily has no metrics"), while `docs/monitoring.md`
//! wants `# HELP` and `# TYPE` for every family even when it has none; `prometheus-client` writes
//! only OpenMetrics (`# EOF`, help text with a full stop added) and drops empty families too.
//! The format is small: one `# HELP` and one `# TYPE` line per family, one line per sample,
//! three escapes. A property test parses every output back to the same values.

use std::fmt::Write as _;

/// The `Content-Type` of a 0.0.4 exposition.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family: every family `backups` exposes is a gauge
/// (`docs/monitoring.md#the-prometheus-text-format`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Family {
    /// The metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub(crate) name: String,
    /// What it measures, one line of text (any characters; escaped on output).
    pub(crate) help: String,
    /// Its series, possibly none.
    pub(crate) samples: Vec<Sample>,
}

/// One series and its value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    /// Label names (`[a-zA-Z_][a-zA-Z0-9_]*`, never starting with `__`) and values (any text;
    /// escaped on output), in output order.
    pub(crate) labels: Vec<(String, String)>,
    /// The value.
    pub(crate) value: f64,
}

impl Family {
    /// A family with no series yet.
    pub(crate) fn new(name: &str, help: &str) -> Family {
        debug_assert!(is_metric_name(name), "metric name {name:?}");
        Family {
            name: name.to_string(),
            help: help.to_string(),
            samples: Vec::new(),
        }
    }

    /// Adds a series.
    pub(crate) fn push(&mut self, labels: &[(&str, &str)], value: f64) {
        debug_assert!(labels.iter().all(|(n, _)| is_label_name(n)), "{labels:?}");
        self.samples.push(Sample {
            labels: labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            value,
        });
    }
}

/// Whether `s` is a valid metric name.
pub(crate) fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `s` is a valid label name (names starting with `__` are reserved).
pub(crate) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    !s.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `families` in the 0.0.4 text format: `# HELP`, `# TYPE gauge` and the samples of each, in
/// the order given.
pub(crate) fn to_string(families: &[Family]) -> String {
    let mut s = String::new();
    for f in families {
        // Writing to a String cannot fail.
        let _ = writeln!(s, "# HELP {} {}", f.name, escape(&f.help, false));
        let _ = writeln!(s, "# TYPE {} gauge", f.name);
        for sample in &f.samples {
            s.push_str(&f.name);
            if !sample.labels.is_empty() {
                s.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{name}=\"{}\"", escape(value, true));
                }
                s.push('}');
            }
            s.push(' ');
            s.push_str(&number(sample.value));
            s.push('\n');
        }
    }
    s
}

/// Escapes help text (backslash, newline) or a label value (also the double quote).
fn escape(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A value as Go's `strconv.ParseFloat` reads it: the shortest decimal that reads back to
/// the same number (whole numbers without a fraction), `NaN`, `+Inf`, `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
#[path = "../../tests/support/exposition.rs"]
mod parser;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_family_has_help_and_type_even_without_series() {
        let mut up = Family::new("backups_account_up", "1 listed, 0 failed.");
        up.push(&[("provider", "huawei"), ("account", "hw")], 1.0);
        let empty = Family::new("backups_findings", "Findings per kind.");
        let text = to_string(&[up, empty]);
        assert_eq!(
            text,
            "# HELP backups_account_up 1 listed, 0 failed.\n\
             # TYPE backups_account_up gauge\n\
             backups_account_up{provider=\"huawei\",account=\"hw\"} 1\n\
             # HELP backups_findings Findings per kind.\n\
             # TYPE backups_findings gauge\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped_and_numbers_read_back() {
        let mut f = Family::new("m", "a \\ back\nslash \"quoted\"");
        f.push(&[("resource", "a\"b\\c\nd")], 1795435200.125);
        f.push(&[], f64::INFINITY);
        f.push(&[], f64::NEG_INFINITY);
        f.push(&[], f64::NAN);
        f.push(&[], 1073741824.0);
        assert_eq!(
            to_string(&[f]),
            "# HELP m a \\\\ back\\nslash \"quoted\"\n# TYPE m gauge\n\
             m{resource=\"a\\\"b\\\\c\\nd\"} 1795435200.125\nm +Inf\nm -Inf\nm NaN\nm 1073741824\n"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(is_metric_name("backups_build_info"));
        assert!(is_metric_name("a:b_1"));
        assert!(!is_metric_name("1a"));
        assert!(!is_metric_name("a-b"));
        assert!(!is_metric_name(""));
        assert!(is_label_name("resource_name"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name("a:b"));
    }

    fn metric_name() -> impl Strategy<Value = String> {
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}"
    }

    fn label_name() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_]{0,12}"
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (0u64..1 << 53).prop_map(|n| n as f64),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
        ]
    }

    fn family() -> impl Strategy<Value = Family> {
        let sample = (
            // A label appears once per series.
            prop::collection::btree_map(label_name(), any::<String>(), 0..4),
            value(),
        )
            .prop_map(|(labels, value)| Sample {
                labels: labels.into_iter().collect(),
                value,
            });
        (
            metric_name(),
            any::<String>(),
            prop::collection::vec(sample, 0..5),
        )
            .prop_map(|(name, help, samples)| Family {
                name,
                help,
                samples,
            })
    }

    /// Two values are the same number (NaN is NaN; the sign of zero counts).
    fn same(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_output_parses_back_to_the_same_families(
            families in prop::collection::vec(family(), 0..6)
        ) {
            // Family names are unique in an exposition.
            let mut seen = std::collections::HashSet::new();
            let families: Vec<Family> =
                families.into_iter().filter(|f| seen.insert(f.name.clone())).collect();
            let text = to_string(&families);
            let parsed = parser::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(parsed.len(), families.len());
            for (p, f) in parsed.iter().zip(&families) {
                prop_assert_eq!(&p.name, &f.name);
                prop_assert_eq!(&p.help, &f.help);
                prop_assert_eq!(p.kind.as_str(), "gauge");
                prop_assert_eq!(p.samples.len(), f.samples.len());
                for (ps, fs) in p.samples.iter().zip(&f.samples) {
                    prop_assert_eq!(&ps.labels, &fs.labels);
                    prop_assert!(same(ps.value, fs.value), "{} vs {}", ps.value, fs.value);
                }
            }
        }
    }
}
