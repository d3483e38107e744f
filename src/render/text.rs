//! Vendor text made safe for a terminal cell: every character that could move the cursor,
//! start an escape sequence, reorder the line (bidi overrides and isolates), hide itself (zero
//! width characters) or break the line is shown as a space or U+FFFD instead. One row of a
//! table stays one line, and what it shows is what the vendor sent.

use std::borrow::Cow;

/// What a character is shown as in a table cell: tab, newline, carriage return and the Unicode
/// line and paragraph separators (Zl, Zp) as a space; other controls (Cc) and format characters
/// (Cf: bidi controls, zero-width characters, the byte-order mark, tags) as U+FFFD.
pub(crate) fn printable(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => ' ',
        c if c.is_control() || is_format(c) => '\u{fffd}',
        c => c,
    }
}

/// `text` with every character passed through [`printable`]; borrowed when nothing changes.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    // Printable ASCII, by far the most common case, needs no look-up at all.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) || text.chars().all(|c| printable(c) == c) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().map(printable).collect())
    }
}

/// Whether `c` is a format character (Cf): the one table, shared with the sanitizer of
/// messages ([`crate::text`]).
pub(crate) use crate::text::is_format;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_separators_and_format_characters_are_replaced() {
        assert_eq!(clean("plain-ascii 1"), Cow::Borrowed("plain-ascii 1"));
        assert_eq!(clean("バックアップ"), Cow::Borrowed("バックアップ"));
        assert_eq!(
            clean("a\tb\nc\rd\u{2028}e\u{2029}f"),
            "a b c d e f".to_string()
        );
        assert_eq!(
            clean("\x1b[2J\u{7f}\u{85}\u{202e}evil\u{2066}\u{200b}"),
            "\u{fffd}[2J\u{fffd}\u{fffd}\u{fffd}evil\u{fffd}\u{fffd}".to_string()
        );
    }
}
