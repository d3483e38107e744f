//! A reader of the Prometheus text exposition format 0.0.4, strict enough to check what
//! `backups` writes: every sample belongs to the family whose `# TYPE` came before it, label
//! values and help text are unescaped, values read as Go's `strconv.ParseFloat` would.
//! Shared by the writer's property test (src/monitor/exposition.rs) and the integration tests.

#![allow(dead_code)]

use std::fmt;

/// A family as read back.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Family {
    /// The metric name.
    pub(crate) name: String,
    /// The unescaped help text.
    pub(crate) help: String,
    /// `gauge`, `counter`, …
    pub(crate) kind: String,
    /// Its samples, in order.
    pub(crate) samples: Vec<Sample>,
}

/// A sample as read back.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    /// Label names and unescaped values, in order.
    pub(crate) labels: Vec<(String, String)>,
    /// The value.
    pub(crate) value: f64,
}

impl Sample {
    /// The value of label `name`.
    pub(crate) fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Family {
    /// The samples whose labels include every pair of `labels`.
    pub(crate) fn matching<'a>(
        &'a self,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |s| labels.iter().all(|(n, v)| s.label(n) == Some(*v)))
    }
}

/// What is wrong with a line.
#[derive(Debug)]
pub(crate) struct ParseError {
    /// 1-based line number.
    pub(crate) line: usize,
    /// What.
    pub(crate) message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads a whole exposition. Families come in order; a family's `# HELP` and `# TYPE` must
/// come before its samples and only once; blank lines and other comments are skipped.
pub(crate) fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut families: Vec<Family> = Vec::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(ParseError {
            line: text.split('\n').count(),
            message: "the last line has no line feed".into(),
        });
    }
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, line) in lines[..lines.len().saturating_sub(1)].iter().enumerate() {
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let (keyword, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            if keyword != "HELP" && keyword != "TYPE" {
                continue;
            }
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            let family = match families.last_mut() {
                Some(f) if f.name == name => f,
                _ => {
                    if families.iter().any(|f| f.name == name) {
                        return Err(err(format!("family {name} appears twice")));
                    }
                    families.push(Family {
                        name: name.to_string(),
                        help: String::new(),
                        kind: String::new(),
                        samples: Vec::new(),
                    });
                    families.last_mut().unwrap()
                }
            };
            if !family.samples.is_empty() {
                return Err(err(format!("# {keyword} of {name} after its samples")));
            }
            if keyword == "HELP" {
                family.help = unescape(text, false).map_err(err)?;
            } else {
                if !matches!(
                    text,
                    "counter" | "gauge" | "histogram" | "summary" | "untyped"
                ) {
                    return Err(err(format!("unknown type {text:?}")));
                }
                family.kind = text.to_string();
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = sample_head(line).map_err(err)?;
        let Some(family) = families.last_mut().filter(|f| f.name == name) else {
            return Err(err(format!("sample {name} outside its family")));
        };
        let mut fields = rest.split(' ').filter(|s| !s.is_empty());
        let value = fields
            .next()
            .ok_or_else(|| err("no value".into()))
            .and_then(|v| parse_value(v).map_err(err))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| err(format!("bad timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(err("trailing text".into()));
        }
        family.samples.push(Sample { labels, value });
    }
    Ok(families)
}

/// A sample line's metric name, its labels, and what follows them.
type Head<'a> = (String, Vec<(String, String)>, &'a str);

/// The metric name, the labels and what follows the closing brace.
fn sample_head(line: &str) -> Result<Head<'_>, String> {
    let end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..end];
    if name.is_empty() {
        return Err("no metric name".into());
    }
    let mut labels = Vec::new();
    let mut rest = &line[end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        // Where the label set ends, within `body`: set before each `break`.
        let consumed;
        loop {
            // A label name, `=`, a quoted value, then `,` or `}`.
            let Some(&(start, c)) = chars.peek() else {
                return Err("unclosed label set".into());
            };
            if c == '}' {
                consumed = start + 1;
                break;
            }
            let mut label = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c == '=' {
                    break;
                }
                label.push(c);
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('=') || label.is_empty() {
                return Err("a label without `=`".into());
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {label}: value not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("label {label}: unclosed value")),
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("label {label}: bad escape {other:?}")),
                    },
                    Some((_, '\n')) => return Err(format!("label {label}: raw line feed")),
                    Some((_, c)) => value.push(c),
                }
            }
            if labels.iter().any(|(n, _)| *n == label) {
                return Err(format!("label {label} twice"));
            }
            labels.push((label, value));
            match chars.next() {
                Some((_, ',')) => continue,
                Some((i, '}')) => {
                    consumed = i + 1;
                    break;
                }
                _ => return Err("expected `,` or `}` after a label".into()),
            }
        }
        rest = &body[consumed..];
    }
    if !rest.starts_with(' ') {
        return Err("no space before the value".into());
    }
    Ok((name.to_string(), labels, rest))
}

/// Help text (`\\`, `\n`) or a label value (also `\"`), unescaped.
fn unescape(s: &str, quote: bool) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            // The format keeps other backslashes as they are in help text.
            Some(other) if !quote => {
                out.push('\\');
                out.push(other);
            }
            other => return Err(format!("bad escape {other:?}")),
        }
    }
    Ok(out)
}

/// A value as Go's `strconv.ParseFloat` reads it (`NaN`, `+Inf`, `-Inf`, decimals).
fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) =>
        {
            s.parse::<f64>().map_err(|_| format!("bad value {s:?}"))
        }
        _ => Err(format!("bad value {s:?}")),
    }
}
