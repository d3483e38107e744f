//! Reading a response body in full, up to the size cap (`docs/cli.md#bodies`: a body too
//! large fails the account rather than the machine's memory).

use crate::error::{Error, ErrorKind, Result};

use super::attempt::transport_message;

/// How many bytes of a successful body [`Peek`] hands on: enough for the fields a page states
/// before its rows (Huawei's `{"count": N, …`).
pub(crate) const PEEK_BYTES: usize = 256;

/// A watcher of the first bytes of the next successful (2xx) body read in its task
/// ([`peeking`]): the paging loop learns a first page's total while the rest of the page is
/// still arriving.
#[derive(Debug)]
pub(crate) struct Peek(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Vec<u8>>>>);

tokio::task_local! {
    static PEEK: std::sync::Arc<Peek>;
}

/// Runs `work`, handing the first [`PEEK_BYTES`] (or the whole body, when shorter) of the
/// first successful body it reads to the returned receiver. A body that is not a success, or
/// no body at all, sends nothing (the receiver then reports the sender gone).
pub(crate) fn peeking<F: std::future::Future>(
    work: F,
) -> (
    impl std::future::Future<Output = F::Output>,
    tokio::sync::oneshot::Receiver<Vec<u8>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let peek = std::sync::Arc::new(Peek(std::sync::Mutex::new(Some(tx))));
    (PEEK.scope(peek, work), rx)
}

/// Hands `body` to the task's [`Peek`], if any, once it holds [`PEEK_BYTES`] or is complete.
fn peek(status: u16, body: &[u8], complete: bool) {
    if !(200..300).contains(&status) || (!complete && body.len() < PEEK_BYTES) {
        return;
    }
    let _ = PEEK.try_with(|p| {
        let sender = p.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tx) = sender {
            let _ = tx.send(body[..body.len().min(PEEK_BYTES)].to_vec());
        }
    });
}

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
                peek(status, &body, false);
            }
            Ok(None) => {
                peek(status, &body, true);
                return Ok(body);
            }
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
