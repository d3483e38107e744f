//! What every account of a run shares: a bound on requests in flight across accounts, and a
//! memory budget for pages in progress. One slow, large or hostile account then cannot take
//! every connection or all the memory from the others.
//!
//! - **Requests**: at most `max_requests` in flight in all (besides each account's own
//!   `parallel`). Waiting is first come, first served, and an account never has more than
//!   `parallel` requests waiting, so a small account waits behind at most `parallel` requests of
//!   each other account: one large account cannot starve it.
//! - **Memory**: a page is in progress from when its parse is about to start until its rows are
//!   handed on (to the account's result or the output stream). Before parsing it reserves an
//!   estimate of what it will cost parsed (its body, plus a row's size for every row it can
//!   hold: `{` counted in the body, at most `max_page_rows`), and holds it until handed on.
//!   Reservations wait first come, first served while the budget is spent, with one exception
//!   that keeps every listing moving: the oldest page in progress never waits. Pages waiting
//!   behind a slower one of their account (handled in offset order) wait for that one, which is
//!   always older, so some page can always proceed. The budget is exceeded by at most that one
//!   oldest page; a page whose estimate is larger than the whole budget fails its account.
//!
//! A page joins the line ([`Limiter::page`]) before its request is sent; the adapter's parse,
//! in [`super::Run::decode`], finds its page through a task-local set around the page's future
//! by the paging loop ([`in_page`]). Requests outside a page (logins, discovery, lookups) are
//! small and reserve nothing.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use crate::error::{Error, ErrorKind, Result};
use crate::model::Backup;

/// The limits shared by every account of a run.
#[derive(Debug)]
pub(crate) struct Limiter {
    requests: Semaphore,
    budget: u64,
    state: Mutex<BudgetState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct BudgetState {
    /// Bytes reserved by pages in progress.
    used: u64,
    /// The next page's place in line.
    next: u64,
    /// Pages in progress, by place in line.
    live: BTreeSet<u64>,
    /// Pages waiting to reserve, by place in line.
    waiting: BTreeSet<u64>,
}

/// One page in progress: its place in line and what it holds; both are given back when the
/// last handle is dropped (after its rows are handed on).
#[derive(Debug)]
pub(crate) struct PageSlot {
    limiter: Arc<Limiter>,
    ticket: u64,
    held: Mutex<u64>,
}

tokio::task_local! {
    static PAGE: Arc<PageSlot>;
}

/// What a parsed row costs besides the text it keeps (which the body's size covers): the
/// struct, the account name and id allocations, the `extra` box, and allocator overhead.
pub(crate) fn row_cost(account: &str) -> u64 {
    (std::mem::size_of::<Backup>() + account.len() + 96) as u64
}

impl Limiter {
    /// At most `max_requests` requests in flight and `budget` bytes of pages in progress.
    pub(crate) fn new(max_requests: usize, budget: u64) -> Arc<Limiter> {
        let max_requests = max_requests.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Limiter {
            requests: Semaphore::new(max_requests),
            budget: budget.max(1),
            state: Mutex::new(BudgetState::default()),
            changed: Notify::new(),
        })
    }

    /// Waits for a slot for one request (first come, first served).
    pub(crate) async fn request(&self) -> Result<SemaphorePermit<'_>> {
        self.requests
            .acquire()
            .await
            .map_err(|_| Error::new(ErrorKind::Io, "request limiter closed"))
    }

    /// Bytes reserved by pages in progress right now.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> u64 {
        self.lock().used
    }

    /// A new page in progress, last in line.
    pub(crate) fn page(self: &Arc<Limiter>) -> Arc<PageSlot> {
        let mut st = self.lock();
        let ticket = st.next;
        st.next += 1;
        st.live.insert(ticket);
        Arc::new(PageSlot {
            limiter: self.clone(),
            ticket,
            held: Mutex::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        // A panic while holding the lock leaves plain counters: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PageSlot {
    /// Reserves `bytes` for this page: at once when they fit and no older page waits, or when
    /// this is the oldest page in progress; else waits. More than the whole budget is an
    /// error (the page alone could not fit).
    pub(crate) async fn reserve(&self, bytes: u64) -> Result<()> {
        let limiter = &self.limiter;
        if bytes > limiter.budget {
            return Err(Error::protocol(format!(
                "the page would take about {} parsed, more than the memory budget for pages in progress ({}); stopped",
                mib(bytes),
                mib(limiter.budget)
            )));
        }
        loop {
            let changed = limiter.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut st = limiter.lock();
                let oldest = st.live.first() == Some(&self.ticket);
                let first_in_line = st.waiting.first().is_none_or(|w| *w >= self.ticket);
                if oldest || (first_in_line && st.used + bytes <= limiter.budget) {
                    st.used += bytes;
                    st.waiting.remove(&self.ticket);
                    *self.held.lock().unwrap_or_else(|e| e.into_inner()) += bytes;
                    if !st.waiting.is_empty() {
                        // The next in line may fit too.
                        limiter.changed.notify_waiters();
                    }
                    return Ok(());
                }
                st.waiting.insert(self.ticket);
            }
            changed.await;
        }
    }
}

impl Drop for PageSlot {
    fn drop(&mut self) {
        let held = *self.held.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut st = self.limiter.lock();
        st.used = st.used.saturating_sub(held);
        st.live.remove(&self.ticket);
        st.waiting.remove(&self.ticket);
        drop(st);
        self.limiter.changed.notify_waiters();
    }
}

/// Runs `fut` as the work of `page`: [`current_page`] finds it there.
pub(crate) async fn in_page<F: Future>(page: Arc<PageSlot>, fut: F) -> F::Output {
    PAGE.scope(page, fut).await
}

/// The page whose work is running, if any.
pub(crate) fn current_page() -> Option<Arc<PageSlot>> {
    PAGE.try_with(Arc::clone).ok()
}

/// What a page of `body` bytes, holding at most `max_rows` rows, costs parsed: the body (held
/// while parsing) and a row's cost for every `{` in it, which bounds the rows it can hold.
pub(crate) fn page_estimate(body: &[u8], max_rows: usize, row_cost: u64) -> u64 {
    let objects = body.iter().filter(|&&b| b == b'{').count();
    let rows = objects.min(max_rows.saturating_add(1)) as u64;
    (body.len() as u64).saturating_add(rows.saturating_mul(row_cost))
}

/// Bytes in whole MiB (KiB below one MiB), rounded, for messages.
fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes.saturating_add(1 << 19) >> 20)
    } else {
        format!("{} KiB", bytes.saturating_add(1 << 9) >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn pages_reserve_within_the_budget_first_come_first_served() {
        let limiter = Limiter::new(4, 100);
        let a = limiter.page();
        let b = limiter.page();
        let c = limiter.page();
        a.reserve(60).await.unwrap();
        assert_eq!(limiter.reserved(), 60);
        // b does not fit and waits; c would fit but must not overtake b.
        let b_done = tokio::spawn({
            let b = b.clone();
            async move { b.reserve(50).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let c_waits = tokio::time::timeout(Duration::from_millis(20), c.reserve(10)).await;
        assert!(c_waits.is_err(), "c overtook b");
        assert!(!b_done.is_finished());
        drop(a);
        b_done.await.unwrap().unwrap();
        c.reserve(10).await.unwrap();
        assert_eq!(limiter.reserved(), 60);
        drop((b, c));
        assert_eq!(limiter.reserved(), 0);
    }

    #[tokio::test]
    async fn the_oldest_page_never_waits() {
        let limiter = Limiter::new(4, 100);
        let old = limiter.page();
        let young = limiter.page();
        young.reserve(100).await.unwrap();
        // The budget is spent by a younger page (one waiting behind `old`, say): `old` goes on.
        tokio::time::timeout(Duration::from_secs(5), old.reserve(80))
            .await
            .expect("the oldest page waited")
            .unwrap();
        assert_eq!(limiter.reserved(), 180);
    }

    #[tokio::test]
    async fn a_page_larger_than_the_budget_fails() {
        let limiter = Limiter::new(4, 64 << 20);
        let page = limiter.page();
        assert_eq!(
            page.reserve(100 << 20).await.unwrap_err().to_string(),
            "the page would take about 100 MiB parsed, more than the memory budget for pages in progress (64 MiB); stopped"
        );
    }

    #[test]
    fn the_estimate_counts_objects_up_to_the_row_cap() {
        let body = br#"{"backups":[{"id":"a"},{"id":"b"}]}"#;
        assert_eq!(page_estimate(body, 100, 10), body.len() as u64 + 30);
        assert_eq!(page_estimate(body, 1, 10), body.len() as u64 + 20);
    }
}
