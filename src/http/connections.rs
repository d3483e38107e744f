//! Counting the connections a listing opens: a layer around reqwest's connector adds one to
//! the counter of the task that asked for the connection. Clients (and so their pools) are
//! shared by accounts with the same trust and proxy settings, so a per-client count would
//! mix accounts; the counter travels with the request instead ([`counting`]), set by each
//! account's [`super::Http`].
//!
//! The pool asks the connector from inside the request's future, so the task-local counter
//! is in scope there; a connection the pool finishes in the background after a pooled one
//! was found first was still opened by that request, and counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

tokio::task_local! {
    static COUNTER: Arc<AtomicU64>;
}

/// Runs `request` with `counter` counting the connections it opens.
pub(super) async fn counting<F: std::future::Future>(
    counter: &Arc<AtomicU64>,
    request: F,
) -> F::Output {
    COUNTER.scope(counter.clone(), request).await
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

/// The connector, counting each connection it starts.
#[derive(Clone, Debug)]
pub(super) struct Count<S> {
    inner: S,
}

impl<S, R> tower_service::Service<R> for Count<S>
where
    S: tower_service::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        let _ = COUNTER.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
        self.inner.call(request)
    }
}
