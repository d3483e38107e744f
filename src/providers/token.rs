//! The one cache for what an adapter keeps between requests of an account: a session cookie, a
//! token, a token pair, a discovered endpoint. After object_store's `TokenCache`: a value with
//! an optional expiry, used while it has more than a minimum time left, fetched again by the
//! caller's `fetch` when it has not, and fetched by one caller at a time, so tasks that find
//! it missing or stale together share one fetch.
//!
//! A session the server rejects (401) is replaced with [`TokenCache::renew`]; the shared
//! [`super::Run::with_renewal`] makes concurrent rejections share one renewal and renews at
//! most once per request. A static credential is never put here to be renewed: its adapter
//! says so with [`super::Provider::renewable`].

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::error::Result;

/// A value and when it stops being valid.
#[derive(Clone, Debug)]
pub(crate) struct Temporary<T> {
    /// The session value (a cookie, a token, an endpoint).
    pub(crate) value: T,
    /// When it expires; `None` when it lasts until the server rejects it.
    pub(crate) expiry: Option<Instant>,
}

impl<T> Temporary<T> {
    /// A value with no stated expiry: used until the server rejects it.
    pub(crate) fn lasting(value: T) -> Temporary<T> {
        Temporary {
            value,
            expiry: None,
        }
    }

    /// A value that expires `lifetime` from now.
    pub(crate) fn expiring_in(value: T, lifetime: Duration) -> Temporary<T> {
        Temporary {
            value,
            expiry: Some(Instant::now() + lifetime),
        }
    }

    /// A value that expires at a wall-clock time the server stated (`now` is the wall clock's
    /// reading at `now_instant`); a time already past makes it expired at once.
    pub(crate) fn expiring_at(
        value: T,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        now_instant: Instant,
    ) -> Temporary<T> {
        let left = (at - now).to_std().unwrap_or(Duration::ZERO);
        Temporary {
            value,
            // A time too far ahead for an Instant lasts as if it stated none.
            expiry: now_instant.checked_add(left),
        }
    }
}

/// Whether a value expiring at `expiry` may still be used at `now`: it has more than `min_ttl`
/// left, so a request sent with it does not race its expiry. No expiry means usable.
pub(crate) fn is_usable(expiry: Option<Instant>, now: Instant, min_ttl: Duration) -> bool {
    expiry.is_none_or(|e| {
        e.checked_duration_since(now)
            .is_some_and(|left| left > min_ttl)
    })
}

/// One account's cached session value. tokio's lock: it is held across a fetch (an await),
/// and it never poisons.
#[derive(Debug)]
pub(crate) struct TokenCache<T> {
    slot: Mutex<Option<Temporary<T>>>,
    min_ttl: Duration,
}

impl<T: Clone> TokenCache<T> {
    /// An empty cache whose values are replaced when less than `min_ttl` is left of them.
    pub(crate) fn new(min_ttl: Duration) -> TokenCache<T> {
        TokenCache {
            slot: Mutex::new(None),
            min_ttl,
        }
    }

    /// A cache already holding `value`, with no expiry (configured tokens, ids).
    pub(crate) fn holding(value: T) -> TokenCache<T> {
        TokenCache {
            slot: Mutex::new(Some(Temporary::lasting(value))),
            min_ttl: Duration::ZERO,
        }
    }

    /// The value held, while usable; else the one `fetch` gets, which is kept. `fetch` is
    /// given the value held (stale or not), for what carries over (a refresh token, an id).
    /// Callers that find no usable value together wait for one fetch.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<T>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<Temporary<T>>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(held) = slot
            .as_ref()
            .filter(|t| is_usable(t.expiry, Instant::now(), self.min_ttl))
        {
            return Ok(held.value.clone());
        }
        Self::fetch_into(&mut slot, fetch).await
    }

    /// Replaces the value held, usable or not, with the one `fetch` gets: the server rejected
    /// it. `fetch` is given the value held. On failure the old value stays.
    pub(crate) async fn renew<F, Fut>(&self, fetch: F) -> Result<T>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<Temporary<T>>>,
    {
        let mut slot = self.slot.lock().await;
        Self::fetch_into(&mut slot, fetch).await
    }

    async fn fetch_into<F, Fut>(slot: &mut Option<Temporary<T>>, fetch: F) -> Result<T>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<Temporary<T>>>,
    {
        let fetched = fetch(slot.as_ref().map(|t| t.value.clone())).await?;
        let value = fetched.value.clone();
        *slot = Some(fetched);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fetch that counts its calls and hands out `token-<n>` with the given lifetime.
    async fn fetch(calls: &AtomicUsize, lifetime: Option<Duration>) -> Result<Temporary<String>> {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        // Let the other callers reach the lock while this fetch is in progress.
        tokio::task::yield_now().await;
        let value = format!("token-{n}");
        Ok(match lifetime {
            Some(l) => Temporary::expiring_in(value, l),
            None => Temporary::lasting(value),
        })
    }

    #[tokio::test]
    async fn callers_that_find_it_empty_together_share_one_fetch() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let got = futures_util::future::join_all(
            (0..8).map(|_| cache.get(|_| fetch(&calls, Some(Duration::from_secs(3600))))),
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(got.iter().all(|t| t.as_deref().unwrap() == "token-1"));
    }

    #[tokio::test]
    async fn a_value_within_the_margin_of_its_expiry_is_fetched_again() {
        let calls = AtomicUsize::new(0);
        let cache = TokenCache::new(Duration::from_secs(60));
        // 30 s left, under the 60 s margin: every get fetches.
        let short = Some(Duration::from_secs(30));
        assert_eq!(
            cache.get(|_| fetch(&calls, short)).await.unwrap(),
            "token-1"
        );
        assert_eq!(
            cache.get(|_| fetch(&calls, short)).await.unwrap(),
            "token-2"
        );
        // An hour left: kept.
        let long = Some(Duration::from_secs(3600));
        assert_eq!(cache.get(|_| fetch(&calls, long)).await.unwrap(), "token-3");
        assert_eq!(cache.get(|_| fetch(&calls, long)).await.unwrap(), "token-3");
        // No expiry: kept until renewed.
        let lasting = TokenCache::new(Duration::from_secs(60));
        assert_eq!(
            lasting.get(|_| fetch(&calls, None)).await.unwrap(),
            "token-4"
        );
        assert_eq!(
            lasting.get(|_| fetch(&calls, None)).await.unwrap(),
            "token-4"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn the_margin_is_strict_and_a_past_expiry_is_never_usable() {
        let now = Instant::now();
        let margin = Duration::from_secs(300);
        let at = |secs| Some(now + Duration::from_secs(secs));
        assert!(is_usable(None, now, margin));
        assert!(is_usable(at(301), now, margin));
        assert!(!is_usable(at(300), now, margin));
        assert!(!is_usable(at(10), now, margin));
        assert!(!is_usable(Some(now), now + Duration::from_secs(1), margin));
        assert!(!is_usable(Some(now), now, Duration::ZERO));
    }

    #[test]
    fn a_stated_wall_clock_expiry_becomes_an_instant() {
        let now = Utc::now();
        let instant = Instant::now();
        let t = Temporary::expiring_at((), now + chrono::Duration::seconds(90), now, instant);
        assert_eq!(t.expiry, Some(instant + Duration::from_secs(90)));
        let past = Temporary::expiring_at((), now - chrono::Duration::hours(1), now, instant);
        assert_eq!(past.expiry, Some(instant));
    }

    #[tokio::test]
    async fn renew_replaces_a_usable_value_and_sees_the_old_one() {
        let cache = TokenCache::holding("given".to_string());
        let seen = std::sync::Mutex::new(None);
        let renewed = cache
            .renew(|old| {
                *seen.lock().unwrap() = old;
                async { Ok(Temporary::lasting("renewed".to_string())) }
            })
            .await
            .unwrap();
        assert_eq!(renewed, "renewed");
        assert_eq!(seen.lock().unwrap().as_deref(), Some("given"));
        let calls = AtomicUsize::new(0);
        assert_eq!(cache.get(|_| fetch(&calls, None)).await.unwrap(), "renewed");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_the_value_held() {
        let cache = TokenCache::holding("given".to_string());
        let err = cache
            .renew(|_| async { Err(Error::new(ErrorKind::Auth, "refused")) })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "refused");
        let calls = AtomicUsize::new(0);
        assert_eq!(cache.get(|_| fetch(&calls, None)).await.unwrap(), "given");
    }
}
