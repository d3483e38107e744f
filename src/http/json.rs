//! Reading JSON bodies with errors fit for one line: what is wrong with the body and where,
//! and a short excerpt of a body that is not the vendor's error format.

use serde::Deserialize;

/// Parses JSON with a message fit for one line: what is wrong and where.
///
/// JSON is UTF-8 (RFC 8259 §8.1), and a body that is not is no vendor's schema. serde_json
/// checks only the strings it keeps, so a bad byte in a field the adapter skips would pass
/// unnoticed: the whole body is checked once instead, then parsed as text (which spares
/// serde_json checking each string again).
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> std::result::Result<T, String> {
    let text = utf8_body(body)?;
    serde_json::from_str(text).map_err(|e| json_error_message(body, &e))
}

/// The body as text, or why it cannot be JSON: not UTF-8 (an HTML page said as such).
pub(crate) fn utf8_body(body: &[u8]) -> std::result::Result<&str, String> {
    match std::str::from_utf8(body) {
        Ok(text) => Ok(text),
        Err(_) if looks_like_html(body) => Err("an HTML page instead of JSON".into()),
        Err(e) => Err(format!(
            "invalid UTF-8 in the response body at byte {}",
            e.valid_up_to()
        )),
    }
}

/// One line saying why `body` is not the JSON expected, from serde_json's error for it.
pub(crate) fn json_error_message(body: &[u8], e: &serde_json::Error) -> String {
    let what = if looks_like_html(body) {
        "an HTML page instead of JSON"
    } else if body.iter().all(u8::is_ascii_whitespace) {
        "an empty body instead of JSON"
    } else {
        "unexpected response body"
    };
    // serde_json quotes the offending value, which the server chose.
    format!("{what}: {}", crate::text::quote_value(e))
}

/// Whether a body starts like markup (a proxy's or gateway's error page, not the API).
fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    start.starts_with(b"<!doctype html") || start.starts_with(b"<html") || start.starts_with(b"<")
}

/// The first line of a body, quoted ([`crate::text::quote`]: redacted, escaped, capped): for
/// errors when the vendor format is not recognised.
pub(super) fn body_excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "empty response body".to_string();
    }
    if looks_like_html(body) {
        return "an HTML error page".to_string();
    }
    // The quote reads at most a few KiB: a 25 MB one-line body is not copied whole.
    let head = &body[..body.len().min(1 << 20)];
    let text = String::from_utf8_lossy(head);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    crate::text::quote(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_messages() {
        assert_eq!(body_excerpt(b""), "empty response body");
        assert_eq!(
            body_excerpt(b"<html><body>502</body></html>"),
            "an HTML error page"
        );
        assert_eq!(body_excerpt(b"\n  oops \nmore"), "oops");
        let e = parse_json::<serde_json::Value>(b"<!DOCTYPE html><p>").unwrap_err();
        assert!(e.starts_with("an HTML page instead of JSON"), "{e}");
    }

    #[test]
    fn invalid_utf8_anywhere_in_the_body_is_an_error() {
        #[derive(serde::Deserialize, Debug)]
        struct OnlyId {
            #[allow(dead_code)]
            id: String,
        }
        // In a field the target type skips: serde_json alone would accept this.
        let body = b"{\"id\": \"a\", \"note\": \"x\xff\xfe\"}";
        assert!(serde_json::from_slice::<OnlyId>(body).is_ok());
        assert_eq!(
            parse_json::<OnlyId>(body).unwrap_err(),
            "invalid UTF-8 in the response body at byte 22"
        );
        assert!(parse_json::<OnlyId>(br#"{"id": "\u00e9t\u00e9"}"#).is_ok());
    }
}
