//! The retry loop (`docs/cli.md#retries`): connect errors, timeouts, 429, 502, 503 and 504 are
//! tried again with exponential backoff and jitter, or after the server's `Retry-After`, within a
//! bound on tries and on time.

use std::time::{Duration, Instant, SystemTime};

use crate::error::Result;

use super::attempt::attempt;
use super::{Http, Response};

/// How requests are retried (`docs/cli.md#retries`): connect errors, timeouts, 429, 502, 503, 504.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (so 1 = no retry).
    pub max_tries: u32,
    /// Delay before the first retry; doubles each time.
    pub base: Duration,
    /// Largest single delay.
    pub max_delay: Duration,
    /// Never start a retry whose delay would end later than this after the first try.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_tries: 4,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0 for the first retry): exponential with "equal
    /// jitter" (half fixed, half random, `jitter` in `[0, 1)`), capped at `max_delay`, or the
    /// server's `Retry-After` when it gave one. Pure, so it is unit-tested.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(after) = retry_after {
            return after;
        }
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_delay);
        let half = exp / 2;
        // `clamp` keeps NaN, and `mul_f64` panics on it.
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        // `mul_f64` rounds through f64: keep the sum within the cap at any magnitude.
        (half + half.mul_f64(jitter)).min(exp)
    }
}

/// Parses `Retry-After`: delta seconds, an HTTP date, or (Cloud Foundry) a Unix epoch in seconds,
/// told apart from a delta by being larger than 10^9. A time in the past means "now".
pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // A time beyond what a Duration holds (an epoch near u64::MAX seen from a clock near
    // 1970) saturates instead of panicking: the retry budget turns it down either way.
    let until =
        |at: f64| Duration::try_from_secs_f64((at - now_secs).max(0.0)).unwrap_or(Duration::MAX);
    if let Ok(n) = value.parse::<u64>() {
        if n > 1_000_000_000 {
            return Some(until(n as f64));
        }
        return Some(Duration::from_secs(n));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(until(date.timestamp() as f64))
}

impl Http {
    /// Sends the request `build` makes, retrying transient failures per the policy. `build` is
    /// called once per try, so time-stamped signatures are fresh. Any status comes back as a
    /// [`Response`]; only transport failures and exhausted retries are errors.
    pub(crate) async fn send<F>(&self, account: &str, build: F) -> Result<Response>
    where
        F: Fn() -> Result<reqwest::RequestBuilder>,
    {
        let policy = &self.options.retry;
        let started = Instant::now();
        let mut retry = 0u32;
        loop {
            let outcome = attempt(self, account, &build, retry).await?;
            if !outcome.transient || retry + 1 >= policy.max_tries {
                return outcome.result;
            }
            let delay = policy.delay(retry, outcome.retry_after, fastrand::f64());
            if started.elapsed().saturating_add(delay) > policy.budget {
                return outcome.result;
            }
            tracing::debug!(
                target: "backups::http",
                "{account}: {}: retrying in {} ms",
                outcome.what,
                delay.as_millis()
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, None, 0.0), Duration::from_millis(250));
        assert_eq!(p.delay(0, None, 1.0), Duration::from_millis(500));
        assert_eq!(p.delay(1, None, 0.5), Duration::from_millis(750));
        assert_eq!(p.delay(2, None, 0.0), Duration::from_millis(1000));
        assert_eq!(p.delay(10, None, 1.0), Duration::from_secs(10));
        assert_eq!(p.delay(u32::MAX, None, 1.0), Duration::from_secs(10));
    }

    #[test]
    fn retry_after_overrides_backoff() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3)), 0.9),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        // Cloud Foundry: a Unix epoch.
        assert_eq!(
            parse_retry_after("1700000007", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("1600000000", now), Some(Duration::ZERO));
        // HTTP date: 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:25 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    /// Property tests of the pure pieces of the retry policy.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn now() -> impl Strategy<Value = SystemTime> {
            prop_oneof![Just(0u64), 0u64..4_000_000_000]
                .prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
        }

        /// Header values: numbers of every size (deltas, epochs, overflows), HTTP dates, and
        /// anything else.
        fn retry_after() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<u64>().prop_map(|n| n.to_string()),
                prop_oneof![Just(u64::MAX), (u64::MAX - (1 << 40))..=u64::MAX]
                    .prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[0-9]{1,40}",
                "(Mon|Tue|Sun), [0-9]{1,2} (Jan|Nov|Xyz) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|\\+0000|-9999)",
                any::<String>(),
            ]
        }

        fn duration() -> impl Strategy<Value = Duration> {
            prop_oneof![
                (0u64..120_000).prop_map(Duration::from_millis),
                Just(Duration::ZERO),
                Just(Duration::MAX),
                any::<u64>().prop_map(Duration::from_secs),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn parse_retry_after_never_panics(value in retry_after(), now in now()) {
                if let Some(d) = parse_retry_after(&value, now) {
                    // A small delta is taken as is.
                    if let Ok(n) = value.trim().parse::<u64>() {
                        if n <= 1_000_000_000 {
                            prop_assert_eq!(d, Duration::from_secs(n));
                        }
                    }
                }
            }

            #[test]
            fn the_delay_stays_within_its_bounds(
                base in duration(),
                max_delay in duration(),
                retry in any::<u32>(),
                retry_after in prop::option::of(duration()),
                jitter in prop_oneof![0.0..1.0f64, Just(f64::NAN), Just(-1.0), any::<f64>()],
            ) {
                let policy = RetryPolicy { base, max_delay, ..RetryPolicy::default() };
                let d = policy.delay(retry, retry_after, jitter);
                let bound = retry_after.map_or(max_delay, |a| a.max(max_delay));
                prop_assert!(d <= bound, "{d:?} > {bound:?}");
                if let Some(after) = retry_after {
                    prop_assert_eq!(d, after);
                }
            }
        }
    }
}
