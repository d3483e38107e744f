//! The connections a listing opens: counted, and shared across accounts where HTTP/2 allows.
//!
//! **Counting.** A layer around reqwest's connector adds one to the counter of the request
//! that asked for the connection. Clients (and so their pools) are shared by accounts with
//! the same trust and proxy settings, so a per-client count would mix accounts; the counter
//! travels with the request in a task-local ([`scoped`]), set by each account's
//! [`super::Http`]. The pool asks the connector from inside the request's future, so the
//! task-local is in scope there.
//!
//! **One first connection per origin.** Many accounts on one origin start at once (a hundred
//! accounts of one vendor): the pool knows of no connection yet, so each request would open
//! its own and pay its own TCP and TLS handshakes, although over HTTP/2 one connection carries
//! them all. So the first request to an origin goes alone; the others wait until its
//! connection is up ([`Origins::before`]), then find it in the pool if ALPN chose HTTP/2. An
//! HTTP/1.1 origin is marked as such and never waited for again.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::Connection;
use tokio::sync::watch;

/// What a request carries to the connector: whose count to raise, and the first connection
/// of an origin it is opening, if it is that origin's first request.
#[derive(Clone)]
struct Scope {
    counter: Arc<AtomicU64>,
    first: Option<Arc<First>>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `request` with `counter` counting the connections it opens; `first` when it is the
/// first request to its origin ([`Origins::before`]).
pub(super) async fn scoped<F: Future>(
    counter: &Arc<AtomicU64>,
    first: Option<Arc<First>>,
    request: F,
) -> F::Output {
    let scope = Scope {
        counter: counter.clone(),
        first,
    };
    SCOPE.scope(scope, request).await
}

/// The first connection to an origin, while it is being opened: whether it speaks HTTP/2
/// once it is up (or `None` when the request ended without opening one).
pub(super) struct First {
    up: watch::Sender<Option<bool>>,
}

impl First {
    fn settle(&self, h2: bool) {
        self.up.send_replace(Some(h2));
    }
}

/// What is known of an origin's connections, per client.
enum State {
    /// Its first connection is being opened.
    Opening(Arc<First>),
    /// Its connections speak HTTP/2: one carries every request.
    Multiplexed,
    /// HTTP/1.1: one request per connection, nothing to wait for.
    Single,
}

/// The origins a client has talked to.
#[derive(Default)]
pub(super) struct Origins {
    states: Mutex<HashMap<String, State>>,
}

impl std::fmt::Debug for Origins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Origins")
    }
}

impl Origins {
    /// Called before a request to `origin` (`scheme://host:port`): the first request to an
    /// origin gets its [`First`] to pass to [`scoped`]; later ones wait (at most `bound`)
    /// while that first connection is being opened, and get `None`.
    pub(super) async fn before(&self, origin: &str, bound: Duration) -> Option<Arc<First>> {
        let mut up = {
            let mut states = self.lock();
            match states.get(origin) {
                None => {
                    let (tx, _) = watch::channel(None);
                    let first = Arc::new(First { up: tx });
                    states.insert(origin.to_string(), State::Opening(first.clone()));
                    return Some(first);
                }
                Some(State::Opening(first)) => first.up.subscribe(),
                Some(State::Multiplexed | State::Single) => return None,
            }
        };
        // Whatever ends the wait (up, given up, too slow), the request goes ahead: a lost
        // wait costs a connection of its own, never the request.
        let _ = tokio::time::timeout(bound, up.wait_for(Option::is_some)).await;
        None
    }

    /// Called when the first request to `origin` has ended: records what its connection
    /// turned out to be (from the connector, else from the response's `h2`), or forgets the
    /// origin when no connection was made, so the next request tries again.
    pub(super) fn after(&self, origin: &str, first: &Arc<First>, h2: Option<bool>) {
        if first.up.borrow().is_none() {
            first.up.send_replace(h2);
        }
        let mut states = self.lock();
        if matches!(states.get(origin), Some(State::Opening(f)) if Arc::ptr_eq(f, first)) {
            match *first.up.borrow() {
                Some(true) => states.insert(origin.to_string(), State::Multiplexed),
                Some(false) => states.insert(origin.to_string(), State::Single),
                None => states.remove(origin),
            };
        }
        // Anyone still waiting goes ahead.
        if first.up.borrow().is_none() {
            first.up.send_replace(Some(false));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The layer reqwest's connector is wrapped in.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CountLayer;

impl<S> tower_layer::Layer<S> for CountLayer {
    type Service = Count<S>;

    fn layer(&self, inner: S) -> Count<S> {
        Count { inner }
    }
}

/// The connector, counting each connection it starts and telling an origin's waiting
/// requests when its first connection is up.
#[derive(Clone, Debug)]
pub(super) struct Count<S> {
    inner: S,
}

impl<S, R> tower_service::Service<R> for Count<S>
where
    S: tower_service::Service<R>,
    S::Response: Connection,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let first = SCOPE
            .try_with(|s| {
                s.counter.fetch_add(1, Ordering::Relaxed);
                s.first.clone()
            })
            .ok()
            .flatten();
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let conn = connecting.await?;
            if let Some(first) = first {
                first.settle(conn.connected().is_negotiated_h2());
            }
            Ok(conn)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_request_goes_alone_and_the_rest_wait_for_its_connection() {
        let origins = Arc::new(Origins::default());
        let bound = Duration::from_secs(10);
        let first = origins.before("https://a:443", bound).await.expect("first");
        // Another origin is independent.
        assert!(origins.before("https://b:443", bound).await.is_some());
        let waiting = tokio::spawn({
            let origins = origins.clone();
            async move { origins.before("https://a:443", bound).await.is_none() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "waits while the connection opens");
        first.settle(true);
        assert!(waiting.await.unwrap());
        origins.after("https://a:443", &first, Some(true));
        // Known to multiplex: nobody waits, nobody leads.
        assert!(origins.before("https://a:443", bound).await.is_none());
    }

    #[tokio::test]
    async fn a_first_request_that_opened_nothing_lets_the_next_one_lead() {
        let origins = Origins::default();
        let bound = Duration::from_secs(10);
        let first = origins.before("https://a:443", bound).await.unwrap();
        origins.after("https://a:443", &first, None);
        assert!(origins.before("https://a:443", bound).await.is_some());
    }
}
