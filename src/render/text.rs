//! Vendor text made safe for a terminal cell: every character that could move the cursor,
//! start an escape sequence, reorder the line (bidi overrides and isolates), hide itself (zero
//! width characters) or break the line is shown as a space or U+FFFD instead. One row of a
//! table stays one line, and what it shows is what the vendor sent.

use std::borrow::Cow;

/// What a character is shown as in a table cell: tab, newline, carriage return and the Unicode
/// line and paragraph separators (Zl, Zp) as a space; other controls (Cc) and format characters
/// (Cf: bidi controls, zero-width characters, the byte-order mark, tags) as U+FFFD.
pub fn printable(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => ' ',
        c if c.is_control() || is_format(c) => '\u{fffd}',
        c => c,
    }
}

/// `text` with every character passed through [`printable`]; borrowed when nothing changes.
pub fn clean(text: &str) -> Cow<'_, str> {
    // Printable ASCII, by far the most common case, needs no look-up at all.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) || text.chars().all(|c| printable(c) == c) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().map(printable).collect())
    }
}

/// Whether `c` is a format character (general category Cf, Unicode 16).
pub fn is_format(c: char) -> bool {
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

/// The ranges of general category Cf (Unicode 16, 170 characters), from the Unicode
/// Character Database's DerivedGeneralCategory.txt. No crate the project already builds
/// exposes the category, and this list changes about once a decade.
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
    fn format_table_is_sorted_and_has_every_cf_character() {
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
