//! Huawei Cloud AK/SK request signing (`SDK-HMAC-SHA256`), as the official SDK's `Signer`
//! does it (`docs/providers/huawei.md#aksk-signing-step-by-step-signsign`). The canonical query
//! string it builds is also the query sent on the wire, so the server canonicalises exactly the
//! bytes that were signed.

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// The algorithm name, first token of `Authorization` and of the string to sign.
pub(crate) const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The date header the signature covers (`%Y%m%dT%H%M%SZ`, UTC).
pub(crate) const DATE_HEADER: &str = "X-Sdk-Date";

/// The SDK's `quote(s, safe='~')`: everything but `A-Za-z0-9-_.~` is percent-encoded with
/// upper-case hex, so a space is `%20` (never `+`) and `:` is `%3A`.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One request to sign. `headers` are the headers that will be sent besides `Host` (which is
/// `host`, with `:port` when the URL has one) and must include [`DATE_HEADER`]. `Debug` shows
/// header names only: `X-Security-Token` is a credential.
pub(crate) struct Request<'a> {
    /// `GET`, `POST`, …
    pub(crate) method: &'a str,
    /// `host` or `host:port`, exactly as the `Host` header will carry it.
    pub(crate) host: &'a str,
    /// The URL path as sent (no query).
    pub(crate) path: &'a str,
    /// Query parameters in any order; repeated keys allowed.
    pub(crate) query: &'a [(String, String)],
    /// Header names and values to send (and sign, unless the name has a `_`).
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The body (empty for `GET`).
    pub(crate) body: &'a [u8],
}

/// The result of signing: the intermediate strings (for tests) and what goes on the wire.
/// `Debug` hides the canonical request (it holds the security token) and the authorization
/// (the access key and the signature).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Signed {
    /// The canonical request that was hashed.
    pub(crate) canonical_request: String,
    /// The string the HMAC covers.
    pub(crate) string_to_sign: String,
    /// The `Authorization` header value.
    pub(crate) authorization: String,
    /// The canonical query string: send exactly this as the URL query (it may be empty).
    pub(crate) query: String,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("query", &self.query)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("canonical_request", &"(redacted)")
            .field("string_to_sign", &self.string_to_sign)
            .field("authorization", &"(redacted)")
            .field("query", &self.query)
            .finish()
    }
}

/// Percent-encodes like the SDK's `_url_encode`.
fn encode(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

/// The canonical URI: each path segment decoded then re-encoded, with a `/` appended if the
/// path does not end in one (the wire path keeps none).
pub(crate) fn canonical_uri(path: &str) -> String {
    let mut out = path
        .split('/')
        .map(|segment| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
            encode(&decoded)
        })
        .collect::<Vec<_>>()
        .join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical query string: pairs sorted by key then value, both encoded the same way,
/// repeated keys kept as repeated `k=v`, joined with `&`.
pub(crate) fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs a request with the access key `ak` and secret key `sk`. The date is taken from the
/// request's [`DATE_HEADER`] (the caller sets it, fresh per try).
pub(crate) fn sign(req: &Request<'_>, ak: &str, sk: &str) -> Signed {
    // Signatures are new for every request, so they are redacted by shape, not one by one.
    crate::redact::signing_in_use();
    // Signed headers: every header sent whose name has no `_`, plus Host; lower-cased, sorted.
    let mut headers: Vec<(String, &str)> = req
        .headers
        .iter()
        .filter(|(name, _)| !name.contains('_'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    if !headers.iter().any(|(name, _)| name == "host") {
        headers.push(("host".to_string(), req.host));
    }
    headers.sort();
    let date = headers
        .iter()
        .find(|(name, _)| name == "x-sdk-date")
        .map_or("", |(_, v)| *v);
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let query = canonical_query(req.query);
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        query,
        canonical_headers,
        signed_headers,
        hex::encode(Sha256::digest(req.body)),
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut mac =
        Hmac::<Sha256>::new_from_slice(sk.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let authorization =
        format!("{ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={signature}");
    Signed {
        canonical_request,
        string_to_sign,
        authorization,
        query,
    }
}

/// The `X-Sdk-Date` value for an instant.
pub(crate) fn sdk_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// `SDK-HMAC-SHA256` vectors computed with the official Python SDK signer (see
    /// `fixtures/huawei/README.md`).
    const VECTORS: &str = include_str!("../../../fixtures/huawei/signing-vectors.json");

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reproduces_every_official_sdk_vector_byte_for_byte() {
        let doc: Value = serde_json::from_str(VECTORS).unwrap();
        let ak = doc["access_key"].as_str().unwrap();
        let sk = doc["secret_key"].as_str().unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 3, "the vector file lost its cases");
        for case in cases {
            let what = case["description"].as_str().unwrap();
            let query: Vec<(String, String)> = case["query"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let headers: Vec<(&str, &str)> = case["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let signed = sign(
                &Request {
                    method: case["method"].as_str().unwrap(),
                    host: case["host"].as_str().unwrap(),
                    path: case["path"].as_str().unwrap(),
                    query: &query,
                    headers: &headers,
                    body: b"",
                },
                ak,
                sk,
            );
            assert_eq!(
                signed.canonical_request, case["canonical_request"],
                "{what}"
            );
            assert_eq!(signed.string_to_sign, case["string_to_sign"], "{what}");
            assert_eq!(signed.authorization, case["authorization"], "{what}");
            assert_eq!(signed.query, case["signed_url_query"], "{what}");
        }
    }

    /// The V1–V4 table of `docs/providers/huawei.md#aksk-signing-step-by-step-signsign`.
    #[test]
    fn reproduces_the_documented_table() {
        let pid = "0605767b5780d5762fc5c0118072a564";
        let path = format!("/v3/{pid}/backups");
        let full: [(&str, &str); 3] = [
            ("Content-Type", "application/json"),
            ("X-Project-Id", pid),
            ("X-Sdk-Date", "20240115T103000Z"),
        ];
        let minimal: [(&str, &str); 1] = [("X-Sdk-Date", "20240115T103000Z")];
        #[allow(clippy::type_complexity)]
        let table: [(&[(&str, &str)], &[(&str, &str)], &str, Option<&str>, &str); 4] = [
            (
                &[],
                &full,
                "",
                Some("0b370eac200e73c151ba77be3ae5f61846171eafbce483193614eddc0dae4719"),
                "99aa7decb6930ad73a4a8f7d54a4c806df8d920f968a7207461393b29df33aa9",
            ),
            (
                &[("limit", "10"), ("offset", "0")],
                &full,
                "limit=10&offset=0",
                None,
                "2e0150880561f302c8da7c135a49ce04e60dbef4b3de6279662b9cb61781c3c1",
            ),
            (
                &[("status", "available"), ("status", "error"), ("limit", "2")],
                &full,
                "limit=2&status=available&status=error",
                None,
                "45b356472b072a356d28b917872994b1fd124ba95a88c16ad6cca91bfe015721",
            ),
            (
                &[
                    ("sort", "created_at:desc"),
                    ("name", "a b"),
                    ("limit", "100"),
                    ("offset", "0"),
                ],
                &minimal,
                "limit=100&name=a%20b&offset=0&sort=created_at%3Adesc",
                Some("855a994bac124bc22b989a1dede02943ce245edd95c6f8f0459a9f344ada7992"),
                "57e66da55843a34976470eb1585268abbb883ecfc0802e4788a645d0678f6215",
            ),
        ];
        for (i, (query, headers, want_query, want_hash, want_sig)) in table.iter().enumerate() {
            let query = pairs(query);
            let signed = sign(
                &Request {
                    method: "GET",
                    host: "cbr.ap-southeast-1.myhuaweicloud.com",
                    path: &path,
                    query: &query,
                    headers,
                    body: b"",
                },
                "AKEXAMPLE",
                "SKEXAMPLE",
            );
            let v = i + 1;
            assert_eq!(signed.query, *want_query, "V{v}");
            if let Some(hash) = want_hash {
                assert!(signed.string_to_sign.ends_with(hash), "V{v}");
            }
            assert!(
                signed
                    .authorization
                    .ends_with(&format!("Signature={want_sig}")),
                "V{v}: {}",
                signed.authorization
            );
        }
    }

    #[test]
    fn canonical_uri_appends_a_slash_and_reencodes() {
        assert_eq!(canonical_uri("/v3/p1/backups"), "/v3/p1/backups/");
        assert_eq!(canonical_uri("/v3/p1/backups/"), "/v3/p1/backups/");
        assert_eq!(canonical_uri("/a%20b/c d"), "/a%20b/c%20d/");
        assert_eq!(canonical_uri(""), "/");
    }

    #[test]
    fn headers_with_underscores_are_not_signed() {
        let query = Vec::new();
        let signed = sign(
            &Request {
                method: "GET",
                host: "h:8443",
                path: "/",
                query: &query,
                headers: &[("X-Sdk-Date", "20240115T103000Z"), ("X_Odd", "1")],
                body: b"",
            },
            "AK",
            "SK",
        );
        assert!(signed
            .authorization
            .contains("SignedHeaders=host;x-sdk-date,"));
        assert!(signed.canonical_request.contains("\nhost:h:8443\n"));
    }

    #[test]
    fn date_format() {
        let at = chrono::DateTime::parse_from_rfc3339("2024-01-15T10:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(sdk_date(at), "20240115T103000Z");
    }

    #[test]
    fn debug_shows_no_credential() {
        let headers = [
            (DATE_HEADER, "20240101T000000Z"),
            ("X-Security-Token", "sts-token-value"),
        ];
        let req = Request {
            method: "GET",
            host: "cbr.example",
            path: "/v3/p/backups",
            query: &[],
            headers: &headers,
            body: b"",
        };
        let signed = sign(&req, "AK-VALUE-123", "SK-VALUE-456");
        let shown = format!("{req:?} {signed:?}");
        for secret in ["sts-token-value", "AK-VALUE-123", "SK-VALUE-456"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let signature = signed.authorization.rsplit('=').next().unwrap();
        assert!(!shown.contains(signature), "{shown}");
        assert!(shown.contains("X-Security-Token"), "{shown}");
    }
}
