//! The page size of one account's listing, and the one fallback when a server refuses it:
//! vendors document no maximum page size (CBR, ByCloud), so the adapter asks for a large page
//! first and, when the first page is refused with a 400 that names `limit`, asks again with a
//! size the vendor's own examples use, for the rest of the account's listing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;
use crate::http::Response;

use super::Run;

/// The page size in force for one account: the preferred size until the server refuses it.
#[derive(Debug)]
pub(crate) struct PageSize {
    preferred: u64,
    fallback: u64,
    current: AtomicU64,
}

impl PageSize {
    /// Pages of `preferred` rows, or of `fallback` rows once `preferred` is refused.
    pub(crate) fn new(preferred: u64, fallback: u64) -> PageSize {
        PageSize {
            preferred,
            fallback,
            current: AtomicU64::new(preferred),
        }
    }

    /// The page size asked for now.
    pub(crate) fn get(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }

    /// Sends one page request that `build` makes for a page size, through the account's
    /// [`Run`]. On the first page, a refusal of the preferred size switches the account to the
    /// fallback size and the page is asked for again. Returns the response and the page size
    /// it answers.
    pub(crate) async fn send<F>(
        &self,
        run: &Run<'_>,
        account: &str,
        first_page: bool,
        build: F,
    ) -> Result<(Response, u64)>
    where
        F: Fn(u64) -> Result<reqwest::RequestBuilder>,
    {
        let size = self.get();
        let resp = run.send(account, || build(size)).await?;
        if !(first_page && size == self.preferred && size > self.fallback && refuses_limit(&resp)) {
            return Ok((resp, size));
        }
        tracing::info!(
            "{account}: the server refused limit={size}; using limit={}",
            self.fallback
        );
        self.current.store(self.fallback, Ordering::Relaxed);
        let resp = run.send(account, || build(self.fallback)).await?;
        Ok((resp, self.fallback))
    }
}

/// Whether a response refuses the page size: a 400 whose body names `limit` (in any case;
/// whatever the vendor's error format, the parameter's name is in it).
fn refuses_limit(resp: &Response) -> bool {
    resp.status == 400
        && String::from_utf8_lossy(&resp.body)
            .to_ascii_lowercase()
            .contains("limit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response;

    #[test]
    fn only_a_400_naming_limit_refuses_the_page_size() {
        let table: [(u16, &str, bool); 6] = [
            (
                400,
                r#"{"error_code":"BackupService.7007","error_msg":"Invalid parameter: limit"}"#,
                true,
            ),
            (
                400,
                r#"{"error":{"code":400,"message":"LIMIT too large"}}"#,
                true,
            ),
            (400, "limit must be at most 100", true),
            (400, r#"{"error":"bad marker"}"#, false),
            (422, "limit too large", false),
            (200, r#"{"limit": 1000}"#, false),
        ];
        for (status, body, want) in table {
            assert_eq!(
                refuses_limit(&response(status, body)),
                want,
                "{status} {body}"
            );
        }
    }

    /// Against a local server that refuses pages over 10 rows.
    #[cfg(feature = "emulator")]
    #[tokio::test]
    async fn a_refused_first_page_falls_back_once_for_the_account() {
        use crate::filter::Filter;
        use crate::http::{Http, HttpOptions};
        use crate::providers::ListOptions;
        use axum::extract::{Query, State};
        use axum::http::StatusCode;
        use reqwest::{Method, Url};
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        type Seen = Arc<Mutex<Vec<u64>>>;
        async fn page(
            State(seen): State<Seen>,
            Query(q): Query<HashMap<String, u64>>,
        ) -> (StatusCode, &'static str) {
            let limit = q["limit"];
            seen.lock().unwrap().push(limit);
            if limit > 10 {
                (StatusCode::BAD_REQUEST, "Invalid parameter: limit")
            } else {
                (StatusCode::OK, "[]")
            }
        }
        let seen: Seen = Arc::default();
        let app = axum::Router::new()
            .route("/page", axum::routing::get(page))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/page", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let http = Http::new(HttpOptions::default()).unwrap();
        let (filter, options) = (Filter::default(), ListOptions::default());
        let run = Run::new(&http, &filter, &options);
        let size = PageSize::new(100, 10);
        let build = |limit: u64| {
            let url = Url::parse(&format!("{base}?limit={limit}")).unwrap();
            Ok(run.request(Method::GET, url))
        };
        let (resp, used) = size.send(&run, "acct", true, build).await.unwrap();
        assert_eq!((resp.status, used, size.get()), (200, 10, 10));
        // Later pages ask for the fallback size straight away.
        let (resp, used) = size.send(&run, "acct", false, build).await.unwrap();
        assert_eq!((resp.status, used), (200, 10));
        assert_eq!(*seen.lock().unwrap(), [100, 10, 10]);

        // A refusal after the first page is the server's answer, not a reason to fall back.
        let other = PageSize::new(100, 10);
        let (resp, used) = other.send(&run, "acct", false, build).await.unwrap();
        assert_eq!((resp.status, used, other.get()), (400, 100, 100));
    }
}
