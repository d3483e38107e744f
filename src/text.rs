//! Vendor text made fit for one line of a terminal: the one sanitizer every piece of text a
//! server sent passes through before it reaches an error line, a warning or a log line.
//!
//! [`quote`] is applied where vendor text enters a message (a vendor's error message, a body
//! excerpt, a value named in a protocol error, a marker or next link, an id); [`line`] is the
//! last line of defence where error lines and log lines are printed. Both redact secrets
//! first ([`crate::redact`]), then make the text one line (line breaks and the blanks around
//! them become one space), then escape every character that could move the cursor, start an
//! escape sequence, retitle the window, reorder the line or hide itself: controls (C0, DEL,
//! C1) as `\r`, `\t`, `\x1b`, `\x9b`; format characters (Unicode Cf: bidi overrides and
//! isolates, zero-width characters), line and paragraph separators (Zl, Zp) as `\u{202e}`.
//! Finally the length is capped, with `…`. The output is printable, so applying either again
//! changes nothing but the cap.

use std::fmt::{self, Write as _};

use crate::redact;

/// The most characters of one quoted piece of vendor text.
pub(crate) const QUOTE_CHARS: usize = 300;

/// The most characters of a whole error or log line.
pub(crate) const LINE_CHARS: usize = 2000;

/// How much of a text is looked at, in bytes: plenty for any cap, and a 25 MB "message" costs
/// no more than this.
const SCAN_BYTES: usize = 16 << 10;

/// Vendor text as a piece of a message: redacted, one line, escaped, at most
/// [`QUOTE_CHARS`] characters.
pub(crate) fn quote(text: &str) -> String {
    bounded(text, QUOTE_CHARS)
}

/// The most characters of an id or other short value named in a message (a project id that is
/// not one): enough to recognise it, short enough to keep the message one readable line.
pub(crate) const ID_CHARS: usize = 64;

/// [`quote`], cut at [`ID_CHARS`] characters: for ids and short values a message names.
pub(crate) fn quote_id(text: &str) -> String {
    bounded(text, ID_CHARS)
}

/// A whole error, warning or log line made safe to print: redacted, one line, escaped, at most
/// [`LINE_CHARS`] characters.
pub fn line(text: &str) -> String {
    bounded(text, LINE_CHARS)
}

/// [`quote`] of a value's `Display`, formatting only as much of it as can be shown: a vendor
/// value (a JSON array of a million items) is never written out whole.
pub(crate) fn quote_value(value: impl fmt::Display) -> String {
    let mut w = Capped(String::new());
    let _ = write!(w, "{value}");
    quote(&w.0)
}

/// A `fmt::Write` that stops (with an error, which ends the formatting) past the scan limit.
struct Capped(String);

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = SCAN_BYTES + 1 - self.0.len().min(SCAN_BYTES + 1);
        if s.len() <= room {
            self.0.push_str(s);
            Ok(())
        } else {
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.0.push_str(&s[..end]);
            Err(fmt::Error)
        }
    }
}

fn bounded(text: &str, cap: usize) -> String {
    let (redacted, truncated) = redact::redact_prefix(text, SCAN_BYTES);
    // Most lines are short printable ASCII: nothing to join, escape or cut.
    if redacted.len() <= cap && redacted.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return redacted.trim_matches(' ').to_string();
    }
    let mut out = String::with_capacity(redacted.len().min(cap * 4));
    let mut chars = 0;
    // Where the last piece (a character, its escape, a joining space) started, in bytes and
    // characters: the ellipsis replaces whole pieces, never half an escape.
    let mut last = (0, 0);
    let mut full = false;
    let pieces = redacted
        .split('\n')
        .map(trim_blanks)
        .filter(|l| !l.is_empty())
        .enumerate()
        .flat_map(|(i, l)| (i > 0).then_some(' ').into_iter().chain(l.chars()));
    // One line: a line break and the blanks around it become one space, blank lines go.
    for c in pieces {
        let n = if is_unsafe(c) { escaped_len(c) } else { 1 };
        if chars + n > cap {
            full = true;
            break;
        }
        last = (out.len(), chars);
        escape_into(c, &mut out);
        chars += n;
    }
    if full || truncated {
        if chars + 1 > cap {
            out.truncate(last.0);
        }
        out.push('…');
    }
    out
}

/// How many characters [`escape_into`] writes for an unsafe `c`.
fn escaped_len(c: char) -> usize {
    match c {
        '\t' | '\n' | '\r' => 2,
        c if u32::from(c) < 0x100 => 4,
        c => format!("{:x}", u32::from(c)).len() + 4,
    }
}

/// `s` without the spaces, tabs and carriage returns around it (a `\r\n` line ending leaves
/// its `\r`; a lone `\r` inside a line stays, to be escaped).
fn trim_blanks(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r'))
}

/// Whether `c` must not reach a terminal as it is: a control (Cc: C0, DEL, C1), a format
/// character (Cf: bidi controls, zero-width characters, the byte-order mark, tags) or a line
/// or paragraph separator (Zl, Zp).
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}' || is_format(c)
}

/// Appends `c`, escaped when it is [`is_unsafe`]: `\t`, `\n`, `\r`, `\x1b` (below U+0100),
/// `\u{202e}` (above).
pub(crate) fn escape_into(c: char, out: &mut String) {
    if !is_unsafe(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\t' => out.write_str("\\t"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        c if u32::from(c) < 0x100 => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    };
}

/// Whether `c` is a format character (general category Cf, Unicode 16).
pub(crate) fn is_format(c: char) -> bool {
    let c = u32::from(c);
    if c < 0xad {
        return false;
    }
    FORMAT
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The ranges of general category Cf (Unicode 16, 170 characters), from the Unicode Character
/// Database's DerivedGeneralCategory.txt. No crate the project builds exposes the category,
/// and the list changes about once a decade.
const FORMAT: [(u32, u32); 21] = [
    (0x00ad, 0x00ad),   // soft hyphen
    (0x0600, 0x0605),   // Arabic number signs
    (0x061c, 0x061c),   // Arabic letter mark
    (0x06dd, 0x06dd),   // Arabic end of ayah
    (0x070f, 0x070f),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08e2, 0x08e2),   // Arabic disputed end of ayah
    (0x180e, 0x180e),   // Mongolian vowel separator
    (0x200b, 0x200f),   // zero width space, (non-)joiner, LRM, RLM
    (0x202a, 0x202e),   // bidi embeddings and overrides
    (0x2060, 0x2064),   // word joiner, invisible operators
    (0x2066, 0x206f),   // bidi isolates, deprecated format characters
    (0xfeff, 0xfeff),   // zero width no-break space (byte-order mark)
    (0xfff9, 0xfffb),   // interlinear annotation
    (0x110bd, 0x110bd), // Kaithi number sign
    (0x110cd, 0x110cd), // Kaithi number sign above
    (0x13430, 0x1343f), // Egyptian hieroglyph format controls
    (0x1bca0, 0x1bca3), // shorthand format controls
    (0x1d173, 0x1d17a), // musical symbol beams and phrases
    (0xe0001, 0xe0001), // language tag
    (0xe0020, 0xe007f), // tag characters
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_table_is_sorted_and_complete() {
        assert!(FORMAT.windows(2).all(|w| w[0].1 < w[1].0));
        assert_eq!(FORMAT.iter().map(|(lo, hi)| hi - lo + 1).sum::<u32>(), 170);
        for c in [
            '\u{ad}',
            '\u{200b}',
            '\u{200d}',
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{feff}',
            '\u{e0001}',
            '\u{e007f}',
        ] {
            assert!(is_format(c), "{c:?}");
        }
        for c in [
            'a', '\u{ac}', '\u{ae}', '\u{2065}', '\u{2070}', '\u{fffd}', 'バ',
        ] {
            assert!(!is_format(c), "{c:?}");
        }
    }

    #[test]
    fn a_terminal_attack_becomes_visible_text() {
        // Erase the line, return to its start, paint a green lie, retitle the window.
        let body = "\x1b[2K\r\x1b[32m all accounts OK\x1b[0m\x1b]0;owned\x07";
        assert_eq!(
            quote(body),
            "\\x1b[2K\\r\\x1b[32m all accounts OK\\x1b[0m\\x1b]0;owned\\x07"
        );
        assert_eq!(
            quote("a\u{202e}evil\u{2066}x\u{2028}y\u{2029}z\u{9b}\u{7f}\x0b\x0c"),
            "a\\u{202e}evil\\u{2066}x\\u{2028}y\\u{2029}z\\x9b\\x7f\\x0b\\x0c"
        );
        assert!(quote(body).chars().all(|c| !is_unsafe(c)));
    }

    #[test]
    fn line_breaks_become_one_space() {
        assert_eq!(
            quote("APIGW.0301: Incorrect IAM\r\n  authentication\n\n information \n"),
            "APIGW.0301: Incorrect IAM authentication information"
        );
        assert_eq!(quote("tab\tinside"), "tab\\tinside");
        assert_eq!(quote(""), "");
    }

    #[test]
    fn length_is_capped_with_an_ellipsis() {
        let long = "x".repeat(25 << 20);
        let q = quote(&long);
        assert_eq!(q.chars().count(), QUOTE_CHARS);
        assert!(q.ends_with('…'));
        assert_eq!(quote(&"y".repeat(QUOTE_CHARS)), "y".repeat(QUOTE_CHARS));
        let escapes = "\x1b".repeat(QUOTE_CHARS);
        let q = quote(&escapes);
        assert!(q.chars().count() <= QUOTE_CHARS, "{}", q.len());
        assert!(q.ends_with("\\x1b…"), "{q}");
        assert_eq!(line(&long).chars().count(), LINE_CHARS);
    }

    #[test]
    fn sanitizing_twice_changes_nothing() {
        let once = quote("a\x1b[31mb\u{202e}c\r\nd");
        assert_eq!(quote(&once), once);
        assert_eq!(line(&once), once);
    }

    #[test]
    fn values_are_formatted_only_as_far_as_shown() {
        let huge = serde_json::Value::Array(vec![serde_json::Value::from(1); 1 << 20]);
        let q = quote_value(&huge);
        assert!(q.starts_with("[1,1,1"));
        assert!(q.ends_with('…'));
        assert_eq!(q.chars().count(), QUOTE_CHARS);
        assert_eq!(quote_value(42), "42");
    }
}
