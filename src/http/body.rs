//! Reading a response body in full, up to the size cap (`docs/cli.md#bodies`: a body too
//! large fails the account rather than the machine's memory).

use crate::error::{Error, ErrorKind, Result};

use super::attempt::transport_message;

/// Reads `resp`'s body, at most `max` bytes; `what` (`METHOD /path`) names the request in
/// errors.
pub(super) async fn read(mut resp: reqwest::Response, max: usize, what: &str) -> Result<Vec<u8>> {
    let status = resp.status().as_u16();
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large(max).with_request(what, Some(status)));
    }
    // Sized from the stated length (a hint, capped) rather than doubled chunk by chunk,
    // which leaves up to half of each buffer unused while 16 pages are in progress.
    const HINT_CAP: u64 = 8 << 20;
    let hint = resp
        .content_length()
        .unwrap_or(0)
        .min(HINT_CAP)
        .min(max as u64);
    let mut body = Vec::with_capacity(hint as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(too_large(max).with_request(what, Some(status)));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                let kind = if e.is_timeout() {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::Network
                };
                let message = format!(
                    "reading the response body failed: {}",
                    transport_message(&e)
                );
                return Err(Error::new(kind, message)
                    .with_request(what, Some(status))
                    .with_source(e));
            }
        }
    }
}

/// The error for a body over the cap of `max` bytes.
fn too_large(max: usize) -> Error {
    // In the largest whole unit: a cap below 1 MiB (tests, a small `--max-body`) is not "0 MiB".
    let cap = if max >= 1 << 20 && max.is_multiple_of(1 << 20) {
        format!("{} MiB", max >> 20)
    } else if max >= 1 << 10 && max.is_multiple_of(1 << 10) {
        format!("{} KiB", max >> 10)
    } else {
        format!("{max} bytes")
    };
    Error::protocol(format!("response body larger than {cap}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::DEFAULT_MAX_BODY;

    #[test]
    fn the_size_cap_is_named_in_a_whole_unit() {
        let msg = |max| too_large(max).message;
        assert_eq!(msg(DEFAULT_MAX_BODY), "response body larger than 64 MiB");
        assert_eq!(msg(4096), "response body larger than 4 KiB");
        assert_eq!(msg(1000), "response body larger than 1000 bytes");
    }
}
