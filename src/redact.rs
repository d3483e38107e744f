//! The redactor: every credential this process knows is replaced by `<redacted>` in the text it
//! prints (`docs/security.md`). Configured secrets register themselves when they are made
//! ([`crate::secret::Secret::new`]), and so do the credentials learnt at run time (session
//! cookies, Keystone/IAM tokens, UAA tokens), which the adapters keep as `Secret`s too.
//!
//! Each secret is searched for in the forms a server may echo it in: as it is, JSON-escaped
//! (non-ASCII kept or `\u`-escaped),
//! percent-encoded (unreserved characters kept or not) and form-encoded (upper- and lower-case
//! hex), and inside base64 (HTTP Basic's
//! `user:secret`, at each of the three byte alignments, standard and URL-safe alphabets; the
//! whole base64 run around a hit is redacted). Huawei signatures are new for every request,
//! so they are not registered one by one: the value after `Signature=` is always redacted, and
//! while an account signs requests ([`signing_in_use`]), so is any run of 64 or more hex digits
//! (a SHA-256 digest in a vendor message goes too: a small price).
//!
//! Secrets shorter than [`MIN_SECRET_CHARS`] characters are not searched for: they would
//! redact ordinary words. Our own code never prints a secret of any length.
//!
//! The search is one pass over the text whatever the number of secrets (a hashed six-byte
//! prefix of every needle, checked against a 64 Kibit filter at each position; no crate the
//! project builds offers a multi-pattern search), so the log writer can redact every line.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a secret is replaced by.
pub(crate) const REDACTED: &str = "<redacted>";

/// Secrets shorter than this (in characters) are not searched for in text: they would redact
/// ordinary words. They are still never printed by our own code.
pub(crate) const MIN_SECRET_CHARS: usize = 6;

/// Bytes of a needle's prefix the index is keyed by; every needle is at least this long.
const KEY: usize = 6;

/// Shortest base64 form searched for: shorter runs match too much ordinary text.
const MIN_BASE64: usize = 8;

/// Length of an `SDK-HMAC-SHA256` signature in hex.
const SIGNATURE_HEX: usize = 64;

/// RFC 3986 unreserved characters stay, everything else is `%XX`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Every registered secret of the process.
static REGISTRY: RwLock<Option<Redactor>> = RwLock::new(None);

/// Whether any account signs requests (Huawei AK/SK): bare signatures are then redacted too.
static SIGNING: AtomicBool = AtomicBool::new(false);

/// Registers a secret: from now on it is redacted in every text passed to [`redact`]. Cheap
/// when it is known already; a secret under [`MIN_SECRET_CHARS`] characters is ignored.
pub(crate) fn register(secret: &str) {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let known = |r: &Option<Redactor>| r.as_ref().is_some_and(|r| r.knows(secret));
    if known(&REGISTRY.read().unwrap_or_else(|e| e.into_inner())) {
        return;
    }
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    registry.get_or_insert_with(Redactor::default).add(secret);
}

/// Says that an account signs requests: from now on runs of 64 or more hex digits (the shape
/// of a signature) are redacted as well.
pub(crate) fn signing_in_use() {
    SIGNING.store(true, Ordering::Relaxed);
}

/// `text` with every registered secret (in any of its searched forms) and every signature
/// replaced by [`REDACTED`]; borrowed when there is nothing to replace.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let (out, _) = redact_prefix(text, usize::MAX);
    out
}

/// The first `limit` bytes of `text` (about: cut at a character boundary) with secrets
/// redacted, and whether `text` went on beyond them. A secret that starts within the limit is
/// redacted whole even where it runs past it, so a cut never leaves part of one behind; only
/// `limit` plus the longest needle's length of `text` is read.
pub(crate) fn redact_prefix(text: &str, limit: usize) -> (Cow<'_, str>, bool) {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let empty = Redactor::default();
    let r = registry.as_ref().unwrap_or(&empty);
    r.redact_prefix(text, limit, SIGNING.load(Ordering::Relaxed))
}

/// One searched form of a secret.
struct Needle {
    bytes: Box<[u8]>,
    /// A base64 form: the whole base64 run around a hit goes.
    widen: bool,
}

/// A set of secrets and the index that finds them.
#[derive(Default)]
struct Redactor {
    secrets: HashSet<String>,
    /// Needles by their first [`KEY`] bytes.
    index: HashMap<u64, Vec<Needle>>,
    /// A bit per hashed key in `index`: most positions of a text are ruled out here.
    filter: Vec<u64>,
    /// The longest needle, in bytes.
    longest: usize,
}

impl Redactor {
    fn knows(&self, secret: &str) -> bool {
        self.secrets.contains(secret)
    }

    fn add(&mut self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_CHARS || !self.secrets.insert(secret.to_string()) {
            return;
        }
        if self.filter.is_empty() {
            self.filter = vec![0; 1 << 10];
        }
        for (form, widen) in forms(secret) {
            let bytes = form.into_bytes().into_boxed_slice();
            if bytes.len() < KEY {
                continue;
            }
            let key = key_of(&bytes[..KEY]);
            let bucket = self.index.entry(key).or_default();
            if bucket.iter().any(|n| n.bytes == bytes) {
                continue;
            }
            let bit = filter_bit(key);
            self.filter[bit / 64] |= 1 << (bit % 64);
            self.longest = self.longest.max(bytes.len());
            bucket.push(Needle { bytes, widen });
        }
    }

    /// The byte ranges of `text` to redact, sorted and merged.
    fn ranges(&self, text: &str, signing: bool) -> Vec<Range<usize>> {
        let bytes = text.as_bytes();
        let mut found = Vec::new();
        if !self.index.is_empty() {
            for (i, w) in bytes.windows(KEY).enumerate() {
                let bit = filter_bit(key_of(w));
                if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
                    continue;
                }
                let Some(bucket) = self.index.get(&key_of(w)) else {
                    continue;
                };
                for n in bucket {
                    if bytes[i..].starts_with(&n.bytes) {
                        let mut r = i..i + n.bytes.len();
                        if n.widen {
                            r = widen_base64(bytes, r);
                        }
                        found.push(r);
                    }
                }
            }
        }
        signatures(bytes, signing, &mut found);
        merge(found)
    }

    fn redact_prefix<'t>(
        &self,
        text: &'t str,
        limit: usize,
        signing: bool,
    ) -> (Cow<'t, str>, bool) {
        let (cut, scan) = if text.len() <= limit {
            (text.len(), text.len())
        } else {
            let cut = floor_char_boundary(text, limit);
            (
                cut,
                floor_char_boundary(text, cut.saturating_add(self.longest)),
            )
        };
        let ranges = self.ranges(&text[..scan], signing);
        let truncated = cut < text.len();
        if ranges.is_empty() {
            return (Cow::Borrowed(&text[..cut]), truncated);
        }
        let mut out = String::with_capacity(cut);
        let mut at = 0;
        for r in ranges.into_iter().take_while(|r| r.start < cut) {
            out.push_str(&text[at..r.start]);
            out.push_str(REDACTED);
            at = r.end;
        }
        if at < cut {
            out.push_str(&text[at..cut]);
        }
        (Cow::Owned(out), truncated || at > cut)
    }
}

/// The forms of `secret` a server may echo, each with whether it is a base64 form.
fn forms(secret: &str) -> Vec<(String, bool)> {
    let mut out = vec![(secret.to_string(), false)];
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.strip_prefix('"').and_then(|j| j.strip_suffix('"'));
    let json = json.unwrap_or(secret).to_string();
    // Servers that escape every non-ASCII character (Python's default) write `\u00e9`.
    out.push((ascii_json(&json), false));
    out.push((json, false));
    // Encoders differ in what they leave alone: the unreserved characters, or only letters
    // and digits.
    for set in [COMPONENT, NON_ALPHANUMERIC] {
        let percent = utf8_percent_encode(secret, set).to_string();
        out.push((lower_hex_escapes(&percent), false));
        out.push((percent, false));
    }
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    out.push((lower_hex_escapes(&form), false));
    out.push((form, false));
    let bytes = secret.as_bytes();
    for skip in 0..3 {
        // The bytes that start a 3-byte group when the secret sits at this alignment inside a
        // longer encoded value: their encoding does not depend on what surrounds them.
        let Some(rest) = bytes.get(skip..) else {
            continue;
        };
        let whole = &rest[..rest.len() / 3 * 3];
        for engine in [
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            let encoded = engine.encode(whole);
            if encoded.len() >= MIN_BASE64 {
                out.push((encoded, true));
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// JSON text with every non-ASCII character as `\uXXXX` (UTF-16, lower-case hex).
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// `%2F` → `%2f`: some servers echo escapes in lower case.
fn lower_hex_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_percent = 0;
    for c in s.chars() {
        if after_percent > 0 {
            out.push(c.to_ascii_lowercase());
            after_percent -= 1;
        } else {
            if c == '%' {
                after_percent = 2;
            }
            out.push(c);
        }
    }
    out
}

/// The first [`KEY`] bytes as a number.
fn key_of(b: &[u8]) -> u64 {
    let mut k = [0u8; 8];
    k[..KEY].copy_from_slice(&b[..KEY]);
    u64::from_le_bytes(k)
}

/// The filter bit of a key (Fibonacci hashing into 16 bits).
fn filter_bit(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 48) as usize
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// `r` grown to the whole run of base64 characters around it.
fn widen_base64(bytes: &[u8], r: Range<usize>) -> Range<usize> {
    let mut start = r.start;
    while start > 0 && is_base64(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = r.end;
    while end < bytes.len() && is_base64(bytes[end]) {
        end += 1;
    }
    start..end
}

/// Adds the ranges of signatures: the value after `Signature=` (any case, the `=` also
/// percent-encoded), and with `signing` any run of 64 or more hex digits (a signature, also
/// where an encoded `=` before it runs into it).
fn signatures(bytes: &[u8], signing: bool, found: &mut Vec<Range<usize>>) {
    const LABEL: &[u8] = b"signature";
    let mut i = 0;
    while let Some(at) = bytes[i..].iter().position(|&b| b | 0x20 == b's') {
        let after = i + at + LABEL.len();
        i += at + 1;
        if !starts_with_ignore_case(&bytes[i - 1..], LABEL) {
            continue;
        }
        let start = if bytes.get(after) == Some(&b'=') {
            after + 1
        } else if starts_with_ignore_case(&bytes[after..], b"%3d") {
            after + 3
        } else {
            continue;
        };
        let run = bytes[start..].iter().take_while(|b| is_base64(**b)).count();
        if run > 0 {
            found.push(start..start + run);
        }
        i = start + run;
    }
    if !signing {
        return;
    }
    let mut i = 0;
    while let Some(at) = bytes[i..].iter().position(u8::is_ascii_hexdigit) {
        let start = i + at;
        let run = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if run >= SIGNATURE_HEX {
            found.push(start..start + run);
        }
        i = start + run;
    }
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Sorted, with overlapping or touching ranges joined.
fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The largest character boundary of `s` at or below `i`.
fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(secrets: &[&str]) -> Redactor {
        let mut r = Redactor::default();
        for s in secrets {
            r.add(s);
        }
        r
    }

    fn red(r: &Redactor, text: &str) -> String {
        r.redact_prefix(text, usize::MAX, false).0.into_owned()
    }

    #[test]
    fn a_secret_is_redacted_wherever_it_stands() {
        let r = with(&["s3cr3t-T0ken"]);
        assert_eq!(red(&r, "s3cr3t-T0ken"), "<redacted>");
        assert_eq!(
            red(
                &r,
                "Authorization: Bearer s3cr3t-T0ken, again s3cr3t-T0ken."
            ),
            "Authorization: Bearer <redacted>, again <redacted>."
        );
        assert_eq!(red(&r, "key-id:s3cr3t-T0ken"), "key-id:<redacted>");
        assert_eq!(red(&r, "nothing here"), "nothing here");
        assert!(matches!(
            r.redact_prefix("nothing", usize::MAX, false).0,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn encoded_forms_are_redacted_too() {
        let secret = "p@ss w/rd+\"é\"";
        let r = with(&[secret]);
        let percent = utf8_percent_encode(secret, COMPONENT).to_string();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let json = serde_json::to_string(secret).unwrap();
        for text in [
            format!("password={percent}&grant_type=password"),
            format!("password={}&x", lower_hex_escapes(&percent)),
            format!("username=u&password={form}"),
            format!("{{\"password\":{json}}}"),
            r#"{"password":"p@ss w/rd+\"\u00e9\""}"#.to_string(),
        ] {
            let out = red(&r, &text);
            assert!(out.contains(REDACTED), "{text} -> {out}");
            assert!(!out.contains("w/rd") && !out.contains("w%2Frd"), "{out}");
        }
    }

    #[test]
    fn basic_auth_of_any_user_is_redacted_whole() {
        let secret = "hunter2-is-long";
        let r = with(&[secret]);
        for user in ["u", "us", "use", "a-longer-user"] {
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
            let text = format!("got Authorization: Basic {b64} (rejected)");
            assert_eq!(
                red(&r, &text),
                "got Authorization: Basic <redacted> (rejected)",
                "{user}"
            );
        }
    }

    #[test]
    fn short_secrets_are_not_searched_for() {
        let r = with(&["abc12"]);
        assert_eq!(red(&r, "abc12 stays"), "abc12 stays");
        let r = with(&["abc123"]);
        assert_eq!(red(&r, "abc123 goes"), "<redacted> goes");
    }

    #[test]
    fn overlapping_secrets_merge_into_one_marker() {
        let r = with(&["abcdefgh", "efghijkl"]);
        assert_eq!(red(&r, "xx abcdefghijkl yy"), "xx <redacted> yy");
    }

    #[test]
    fn signatures_are_redacted_by_shape() {
        let r = Redactor::default();
        let sig = "a".repeat(64);
        let header =
            format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature={sig}");
        let out = r.redact_prefix(&header, usize::MAX, false).0;
        assert_eq!(
            out,
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=<redacted>"
        );
        let bare = format!("bad signature {sig}.");
        assert_eq!(r.redact_prefix(&bare, usize::MAX, false).0, bare);
        assert_eq!(
            r.redact_prefix(&bare, usize::MAX, true).0,
            "bad signature <redacted>."
        );
        // Percent-encoded, the `=` runs into the hex digits.
        let encoded = format!("SignedHeaders%3Dhost%2C%20Signature%3D{sig}%2C");
        assert_eq!(
            r.redact_prefix(&encoded, usize::MAX, false).0,
            "SignedHeaders%3Dhost%2C%20Signature%3D<redacted>%2C"
        );
        assert_eq!(
            r.redact_prefix(&format!("x%3D{sig}"), usize::MAX, true).0,
            "x%<redacted>"
        );
        // 32 hex digits (a project or request id) are no signature.
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(r.redact_prefix(id, usize::MAX, true).0, id);
    }

    #[test]
    fn a_cut_never_leaves_part_of_a_secret() {
        let secret = "0123456789-secret-abcdef";
        let r = with(&[secret]);
        for pad in 0..40 {
            let text = format!("{}{secret}{}", "x".repeat(pad), "y".repeat(50));
            for limit in 0..text.len() {
                let (out, cut) = r.redact_prefix(&text, limit, false);
                assert!(cut, "{limit}");
                for k in 6..=secret.len() {
                    assert!(
                        !out.contains(&secret[..k]) && !out.contains(&secret[secret.len() - k..]),
                        "{pad}/{limit}: {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let r = with(&[]);
        let (out, cut) = r.redact_prefix("ééé", 3, false);
        assert_eq!((out.as_ref(), cut), ("é", true));
    }
}
