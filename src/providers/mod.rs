//! The provider abstraction (after object_store): each adapter implements *one page* and
//! `authenticate`; the paging loop, session renewal, paging guards and per-account concurrency
//! are shared here, so every provider gets them the same way. Every request of an account, its
//! logins included, goes through the account's [`Run`], so one bound holds per account; what
//! an adapter keeps between requests (a cookie, a token) lives in a `TokenCache` (`token.rs`),
//! and the page-size fallback is written once in `PageSize` (`page_size.rs`).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use reqwest::{Method, Url};
use tokio::sync::Mutex;

use crate::config::{Account, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::http::{Http, Response};
use crate::model::{Backup, Field, ProviderId};

#[cfg(test)]
pub(crate) mod arbitrary;
pub(crate) mod builder;
pub(crate) mod bycloud;
pub(crate) mod cf;
pub(crate) mod huawei;
pub(crate) mod limit;
pub(crate) mod oracle;
mod page_size;
pub(crate) mod rows;
mod token;
pub(crate) mod zcom;

/// A boxed future, so the trait stays object-safe.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Cursor {
    /// Offset paging (Huawei): rows to skip.
    Offset(u64),
    /// Marker paging (ByCloud, Huawei): the last id of the previous page.
    Marker(String),
    /// A `next` link (Cloud Foundry): must stay on the account's origin.
    Url(Url),
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cursor::Offset(o) => write!(f, "offset {o}"),
            // Both are the server's text: quoted (escaped, capped, redacted).
            Cursor::Marker(m) => write!(f, "marker {}", crate::text::quote(m)),
            Cursor::Url(u) => write!(f, "next link {}", crate::text::quote(u.path())),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// The rows, already mapped to the model.
    pub(crate) rows: Vec<Backup>,
    /// Where the next page starts; `None` ends the listing.
    pub(crate) next: Option<Cursor>,
    /// The total row count, when the server states it and it can be trusted as a hint for
    /// fetching the remaining offset pages in parallel (never to stop early).
    pub(crate) total: Option<u64>,
}

/// What a provider can do, declared by its adapter: `backups providers` prints this.
#[derive(Clone, Copy, Debug)]
pub struct Capabilities {
    /// The provider.
    pub provider: ProviderId,
    /// Authentication methods.
    pub(crate) auth: &'static [&'static str],
    /// Filters sent to the server (the rest is filtered on the client).
    pub(crate) filters: &'static [&'static str],
    /// How pages are fetched.
    pub(crate) paging: &'static str,
    /// Model fields this provider fills (others are always null).
    pub fields: &'static [Field],
}

/// Settings of a listing shared by every account.
#[derive(Clone, Debug)]
pub struct ListOptions {
    /// Stop with an error after this many pages of one account (a loop guard).
    pub max_pages: u64,
    /// Pages fetched at once per account where the API allows it (Huawei offsets, CF instances).
    pub parallel: usize,
    /// Requests in flight across every account of the run ([`limit`]): first come, first
    /// served, so one large account cannot starve the others.
    pub max_requests: usize,
    /// Bytes that pages in progress may reserve across every account ([`limit`]).
    pub memory_budget: u64,
    /// Rows one page may hold; a page with more fails its account. Real rows reach the body
    /// cap long before: the smallest vendor rows are several hundred bytes.
    pub max_page_rows: usize,
    /// When the whole run must end: accounts still listing then fail (`--deadline`).
    pub deadline: Option<Deadline>,
    /// Counters for a progress display, if one is shown.
    pub progress: Option<Arc<Progress>>,
}

/// The end of a run's time: an instant, and how it was given (for the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// When accounts still listing are stopped.
    pub(crate) at: std::time::Instant,
    /// The duration from the start, as given.
    pub(crate) after: std::time::Duration,
}

impl Deadline {
    /// `after` from now; `None` when that instant cannot be represented.
    pub fn after(after: std::time::Duration) -> Option<Deadline> {
        let at = std::time::Instant::now().checked_add(after)?;
        Some(Deadline { at, after })
    }
}

/// Requests in flight across all accounts by default: well under a process's usual 1024 file
/// descriptors even when every request holds its own HTTP/1.1 connection, and enough that
/// hundreds of accounts at a round trip of 50 ms are not held back by it (at 64, 200 accounts
/// waited in this queue for more than half their listing: 1.19 s against 0.74 s at 256).
pub(crate) const DEFAULT_MAX_REQUESTS: usize = 256;

/// The default memory budget for pages in progress: 16 pages of 1000 rows per account cost
/// a few MiB, and the largest page the body cap and row cap allow (about 120 MiB) still fits.
pub(crate) const DEFAULT_MEMORY_BUDGET: u64 = 256 << 20;

/// The default row cap per page: above what any real page reaches under the 64 MiB body cap.
pub(crate) const DEFAULT_MAX_PAGE_ROWS: usize = 100_000;

impl Default for ListOptions {
    fn default() -> ListOptions {
        ListOptions {
            max_pages: 100_000,
            // Over HTTP/2 the requests in flight share one connection: 16 fetches the ten
            // pages after the first of a 10,000-row listing in one round trip.
            parallel: 16,
            max_requests: DEFAULT_MAX_REQUESTS,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_page_rows: DEFAULT_MAX_PAGE_ROWS,
            deadline: None,
            progress: None,
        }
    }
}

/// Live counters of a listing, for the progress line on a terminal.
#[derive(Debug, Default)]
pub struct Progress {
    /// Accounts finished (listed or failed).
    pub(crate) accounts_done: std::sync::atomic::AtomicUsize,
    /// Rows received so far.
    pub(crate) rows: std::sync::atomic::AtomicUsize,
    /// Whether the progress line has been drawn (and so must be cleared).
    pub(crate) drawn: std::sync::atomic::AtomicBool,
}

/// One account's adapter.
pub(crate) trait Provider: Send + Sync {
    /// The config account name.
    fn account(&self) -> &str;

    /// Gets a session (cookie, token) if the provider needs one, sending through `run`. With
    /// `renew`, the current session was rejected and a new one is needed. Static credentials
    /// do nothing.
    fn authenticate<'a>(&'a self, run: &'a Run<'a>, renew: bool) -> BoxFuture<'a, Result<()>>;

    /// Whether `authenticate(renew = true)` can get a new session. Static credentials (AK/SK,
    /// API keys, a given token without a refresh token) cannot: a 401 then fails at once
    /// instead of costing a second identical request.
    fn renewable(&self) -> bool {
        true
    }

    /// Fetches one page starting at `cursor` (`None` = the first page).
    fn list_page<'a>(
        &'a self,
        run: &'a Run<'a>,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Page>>;

    /// The whole listing. The default is the shared paging loop over [`Provider::list_page`];
    /// providers whose API is not one paged list (Cloud Foundry) override it.
    fn list<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Result<Vec<Backup>>> {
        Box::pin(list_pages(self, run))
    }

    /// The total a first page states in its first bytes, and the page size it was asked for
    /// (the stride of the remaining offsets), when the provider's pages state it before their
    /// rows: the remaining pages can then be asked for while the first one is still
    /// arriving. `None` (the default) for providers whose pages state none, and whenever
    /// `prefix` does not start with it. A hint: the first page, once read, must agree.
    fn total_in_prefix(&self, _prefix: &[u8]) -> Option<(u64, u64)> {
        None
    }

    /// The resources the last [`Provider::list`] found apart from their backups, for
    /// providers whose API lists resources (Cloud Foundry's service instances); empty for
    /// those that list only backups.
    fn resources(&self) -> Vec<KnownResource> {
        Vec::new()
    }
}

/// A resource a provider listed itself, with or without backups: how `audit` learns of a
/// resource that has none (no backup row names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KnownResource {
    /// As in [`Backup::resource_type`] (`service_instance`).
    pub(crate) resource_type: Option<String>,
    /// As in [`Backup::resource_id`].
    pub(crate) resource_id: String,
    /// As in [`Backup::resource_name`].
    pub(crate) resource_name: Option<String>,
    /// How many backups the provider listed for it, before any filter.
    pub(crate) backups: usize,
}

/// Per-account state of one listing: the shared client, the filter, and the renewal gate.
/// The one way an adapter reaches the network: [`Run::request`] starts a request and
/// [`Run::send`] sends it within the account's bound.
pub(crate) struct Run<'a> {
    /// The shared HTTP client, reached only through [`Run::send`].
    http: &'a Http,
    /// The user's filters (for server-side push-down; always re-applied afterwards).
    pub(crate) filter: &'a Filter,
    /// Listing settings.
    pub(crate) options: &'a ListOptions,
    /// Incremented each time the session is renewed.
    generation: Mutex<u64>,
    /// Where rows go as pages arrive, when streaming (`-o ndjson` without sorting).
    sink: Option<RowSink>,
    /// Bounds this account's requests in flight to `options.parallel`.
    requests: tokio::sync::Semaphore,
    /// What every account of the run shares: requests in flight, memory for pages.
    limiter: Arc<limit::Limiter>,
}

/// A channel that receives each page's new, filtered rows as they arrive.
pub(crate) type RowSink = tokio::sync::mpsc::Sender<Vec<Backup>>;

impl<'a> Run<'a> {
    /// A run for one account, with limits of its own (tests; a real run shares its limiter).
    #[cfg(test)]
    pub(crate) fn new(http: &'a Http, filter: &'a Filter, options: &'a ListOptions) -> Run<'a> {
        let limiter = limit::Limiter::new(options.max_requests, options.memory_budget);
        Run::sharing(http, filter, options, limiter)
    }

    /// A run for one account within `limiter`, which the run's other accounts share.
    pub(crate) fn sharing(
        http: &'a Http,
        filter: &'a Filter,
        options: &'a ListOptions,
        limiter: Arc<limit::Limiter>,
    ) -> Run<'a> {
        Run {
            http,
            filter,
            options,
            generation: Mutex::new(0),
            sink: None,
            requests: tokio::sync::Semaphore::new(options.parallel.max(1)),
            limiter,
        }
    }

    /// The limits this run shares with the others.
    pub(crate) fn limiter(&self) -> &Arc<limit::Limiter> {
        &self.limiter
    }

    /// Starts a request; finish it with headers and pass it to [`Run::send`].
    pub(crate) fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends a request (a page, a login, a lookup), at most `options.parallel` at a time for
    /// the account and `options.max_requests` for the whole run (the account's own slot is
    /// taken first, so it never queues more than `parallel` requests for the shared ones).
    /// The response comes back read in full and the permits are returned before it is parsed,
    /// so the next request never waits for a parse: with pages fetched in parallel, the
    /// network stays busy.
    pub(crate) async fn send<F>(&self, account: &str, build: F) -> Result<Response>
    where
        F: Fn() -> Result<reqwest::RequestBuilder>,
    {
        let _own = self
            .requests
            .acquire()
            .await
            .map_err(|_| Error::new(ErrorKind::Io, "request limiter closed"))?;
        let _shared = self.limiter.request().await?;
        self.http.send(account, build).await
    }

    /// Decodes a page's body with `decode` (see [`Response::decode`]) once the page has
    /// reserved what it will cost parsed from the run's memory budget ([`limit`]): its body
    /// and a row's cost for each row it can hold, at most `options.max_page_rows`.
    pub(crate) async fn decode<T, F>(
        &self,
        resp: &mut Response,
        account: &str,
        decode: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&[u8]) -> std::result::Result<T, String> + Send + 'static,
    {
        if let Some(page) = limit::current_page() {
            let estimate = limit::page_estimate(
                &resp.body,
                self.options.max_page_rows,
                limit::row_cost(account),
            );
            page.reserve(estimate)
                .await
                .map_err(|e| resp.protocol_error(e.message))?;
        }
        resp.decode(decode).await
    }

    /// Streams rows to `sink` as pages arrive instead of collecting them.
    pub(crate) fn streaming(mut self, sink: Option<RowSink>) -> Run<'a> {
        self.sink = sink;
        self
    }

    /// Hands fresh rows on: to the sink when streaming, else into `out`.
    async fn emit(&self, out: &mut Vec<Backup>, rows: Vec<Backup>) {
        if let Some(p) = &self.options.progress {
            p.rows
                .fetch_add(rows.len(), std::sync::atomic::Ordering::Relaxed);
        }
        match &self.sink {
            // A closed receiver (stdout went away) just stops the output.
            Some(sink) => {
                if !rows.is_empty() {
                    let _ = sink.send(rows).await;
                }
            }
            None => out.extend(rows),
        }
    }

    /// Runs `call`; if the session was rejected (401), renews it once and runs `call` again.
    /// Concurrent calls that fail together share one renewal. A request is retried at most
    /// once, so a server that keeps refusing fails instead of looping.
    pub(crate) async fn with_renewal<P, T, F, Fut>(&self, provider: &P, call: F) -> Result<T>
    where
        P: Provider + ?Sized,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let seen = *self.generation.lock().await;
        match call().await {
            Err(e) if e.kind == ErrorKind::Auth && provider.renewable() => {
                {
                    let mut generation = self.generation.lock().await;
                    if *generation == seen {
                        tracing::info!(
                            "{}: session rejected, authenticating again",
                            provider.account()
                        );
                        provider.authenticate(self, true).await?;
                        *generation += 1;
                    }
                }
                call().await
            }
            other => other,
        }
    }
}

/// The shared paging loop: fetches pages until one is empty or has no next cursor, with
/// guards against servers that loop (a repeated cursor, an offset that does not advance, a
/// page of only rows already seen, more than `max_pages` pages). Rows repeated across pages
/// are dropped by id, with a warning. When the first offset page states a total, the rest
/// of the offsets are fetched in parallel (bounded by `parallel`). Each page is in progress
/// for the memory budget ([`limit`]) until its rows are handed on.
pub(crate) async fn list_pages<'a, P: Provider + ?Sized>(
    provider: &'a P,
    run: &'a Run<'a>,
) -> Result<Vec<Backup>> {
    let account = provider.account();
    let mut out = Collector::new(account, run.filter);
    let mut rows_out = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut guard = PageGuard::new(run.options.max_pages);
    loop {
        guard.page("")?;
        let at = cursor.clone();
        let slot = run.limiter.page();
        let (page, slot) = if at.is_none() && run.options.parallel > 1 {
            // The first page may state the total in its first bytes: the remaining pages are
            // then asked for while it is still arriving.
            let (page, prefix) = crate::http::peeking(limit::in_page(
                slot.clone(),
                run.with_renewal(provider, || provider.list_page(run, None)),
            ));
            let mut page: BoxFuture<'a, Result<Page>> = Box::pin(page);
            let prefix = tokio::select! {
                biased;
                page = &mut page => Err(page),
                Ok(prefix) = prefix => Ok(prefix),
            };
            let early = prefix
                .as_ref()
                .ok()
                .and_then(|p| provider.total_in_prefix(p))
                .filter(|&(total, stride)| stride > 0 && total > stride);
            match (prefix, early) {
                (Err(page), _) => (page?, slot),
                (Ok(_), None) => (page.await?, slot),
                (Ok(_), Some((total, stride))) => {
                    reserve_for(run, &mut rows_out, total);
                    let head = Head { page, slot, total };
                    match parallel_offsets(
                        provider,
                        run,
                        (&mut out, &mut rows_out),
                        (stride, stride, total),
                        &mut guard,
                        Some(head),
                    )
                    .await?
                    {
                        Parallel::Next(Some(off)) => {
                            cursor = Some(Cursor::Offset(off));
                            continue;
                        }
                        Parallel::Next(None) => break,
                        // The first page did not agree with its first bytes: on as if it had
                        // just arrived (the pages asked for early are dropped unread).
                        Parallel::Restart(page, slot) => (page, slot),
                    }
                }
            }
        } else {
            let page = limit::in_page(
                slot.clone(),
                run.with_renewal(provider, || provider.list_page(run, at.as_ref())),
            );
            (page.await?, slot)
        };
        let Page { rows, next, total } = page;
        if rows.is_empty() {
            break;
        }
        let len = rows.len() as u64;
        let fresh = out.add(rows, at.as_ref())?;
        run.emit(&mut rows_out, fresh).await;
        drop(slot);
        let Some(next) = next else { break };
        match (&at, &next) {
            (prev, Cursor::Offset(o)) => {
                let prev_offset = match prev {
                    Some(Cursor::Offset(p)) => *p,
                    _ => 0,
                };
                if *o <= prev_offset {
                    return Err(paging_error(format!(
                        "offset did not advance past {prev_offset}"
                    )));
                }
                // First page with a stated total: fetch the remaining pages in parallel.
                if let (Some(total), true) = (total, prev.is_none() && run.options.parallel > 1) {
                    if total > *o {
                        reserve_for(run, &mut rows_out, total);
                        let next_start = parallel_offsets(
                            provider,
                            run,
                            (&mut out, &mut rows_out),
                            (*o, len, total),
                            &mut guard,
                            None,
                        )
                        .await?;
                        match next_start {
                            Parallel::Next(Some(off)) => {
                                cursor = Some(Cursor::Offset(off));
                                continue;
                            }
                            Parallel::Next(None) | Parallel::Restart(..) => break,
                        }
                    }
                }
            }
            _ => guard.next(at.as_ref(), &next)?,
        }
        cursor = Some(next);
    }
    if rows_out.capacity() > rows_out.len() + rows_out.len() / 4 {
        rows_out.shrink_to_fit();
    }
    Ok(rows_out)
}

/// Reserves room for `total` rows when they are collected rather than streamed: sized once
/// from the stated total (a hint, so capped), rather than doubled page by page; trimmed at
/// the end if the filter kept few.
fn reserve_for(run: &Run<'_>, rows_out: &mut Vec<Backup>, total: u64) {
    if run.sink.is_none() {
        let hint = usize::try_from(total)
            .unwrap_or(usize::MAX)
            .min(MAX_RESERVED_ROWS);
        rows_out.reserve_exact(hint.saturating_sub(rows_out.len()));
    }
}

/// A first page still arriving when the remaining pages are asked for: its future, its slot
/// in the memory budget, and the total its first bytes stated.
struct Head<'a> {
    page: BoxFuture<'a, Result<Page>>,
    slot: Arc<limit::PageSlot>,
    total: u64,
}

/// How [`parallel_offsets`] ended: where sequential paging goes on (`None`: the listing is
/// complete), or, for a [`Head`] that disagreed with its first bytes (its total, or fewer
/// rows than the page size asked for), that first page, for the caller to carry on from.
enum Parallel {
    Next(Option<u64>),
    Restart(Page, Arc<limit::PageSlot>),
}

/// The most rows reserved ahead from a stated total: a count is only the server's word, and a
/// lying one must not make the tool ask for gigabytes up front (beyond it, the vector grows).
const MAX_RESERVED_ROWS: usize = 1 << 17;

/// Fetches offsets `start, start+stride, …` up to `total` (plus one page past it, since a
/// stated count is only a hint) with up to `parallel` requests in flight. Returns the offset
/// to continue from sequentially if the last page was not empty (the count was low), or
/// `None` when an empty page ended the listing.
///
/// `total` is the server's number: every step from it is checked arithmetic, the offsets are
/// made one at a time as they are fetched (never all at once), and none is asked for after an
/// empty page.
async fn parallel_offsets<'a, P: Provider + ?Sized>(
    provider: &'a P,
    run: &'a Run<'a>,
    (out, rows_out): (&mut Collector<'_>, &mut Vec<Backup>),
    (start, stride, total): (u64, u64, u64),
    guard: &mut PageGuard,
    head: Option<Head<'a>>,
) -> Result<Parallel> {
    // With a head (the first page, still arriving), it is page 0 and the plan's pages follow.
    let shift = usize::from(head.is_some());
    let mut queue = offset_plan((start, stride, total), guard)?.map(move |(i, o)| (i + shift, o));
    // Requests complete in any order and a finished one frees its slot at once (no waiting
    // behind a slower page); pages are then handled strictly in offset order.
    type InFlight<'f> = BoxFuture<'f, (usize, u64, Result<Page>, Arc<limit::PageSlot>)>;
    let mut inflight: FuturesUnordered<InFlight<'a>> = FuturesUnordered::new();
    let mut head_total = None;
    if let Some(Head { page, slot, total }) = head {
        head_total = Some(total);
        inflight.push(Box::pin(async move { (0, 0, page.await, slot) }));
    }
    let mut done: BTreeMap<usize, (u64, Result<Page>, Arc<limit::PageSlot>)> = BTreeMap::new();
    let mut next = 0usize;
    let mut last_len = 0usize;
    let mut last_offset = start;
    let mut ended = false;
    loop {
        // Twice as many pages in progress as requests in flight ([`Run::send`] holds those
        // to `parallel`): while some pages are parsed, the next requests are already out.
        // Pages waiting for an earlier, slower one count too, so memory stays bounded. After
        // an empty page nothing more is asked for.
        while !ended && inflight.len() + done.len() < 2 * run.options.parallel {
            let Some((i, offset)) = queue.next() else {
                break;
            };
            let slot = run.limiter.page();
            inflight.push(Box::pin(async move {
                let at = Cursor::Offset(offset);
                let page = limit::in_page(
                    slot.clone(),
                    run.with_renewal(provider, || provider.list_page(run, Some(&at))),
                )
                .await;
                (i, offset, page, slot)
            }));
        }
        let Some((i, offset, page, slot)) = inflight.next().await else {
            break;
        };
        if i >= shift {
            // (The head was counted as the first page already.)
            guard.pages = guard.pages.saturating_add(1);
        }
        let page = page?;
        done.insert(i, (offset, Ok(page), slot));
        while let Some((o, page, slot)) = done.remove(&next) {
            let is_head = next < shift;
            next += 1;
            let page = page?;
            if is_head && (page.total != head_total || page.rows.len() as u64 != stride) {
                return Ok(Parallel::Restart(page, slot));
            }
            last_offset = o;
            last_len = page.rows.len();
            if page.rows.is_empty() {
                ended = true;
                continue;
            }
            if ended {
                return Err(paging_error(format!(
                    "rows at offset {o} after an empty page at a lower offset; the listing is inconsistent"
                )));
            }
            // The head is "the first page" in messages, as it is when it comes alone.
            let at = (!is_head).then_some(Cursor::Offset(o));
            let fresh = out.add(page.rows, at.as_ref())?;
            run.emit(rows_out, fresh).await;
            drop(slot);
        }
    }
    if ended || last_len == 0 {
        return Ok(Parallel::Next(None));
    }
    last_offset
        .checked_add(last_len as u64)
        .map(|o| Parallel::Next(Some(o)))
        .ok_or_else(|| {
            paging_error(format!(
                "offset {last_offset} plus a page does not fit in 64 bits"
            ))
        })
}

/// The offsets [`parallel_offsets`] fetches, numbered in order: `start, start+stride, …` up
/// to `total` plus one page, made lazily. Refused at once when they would take the account
/// past the page limit.
fn offset_plan(
    (start, stride, total): (u64, u64, u64),
    guard: &PageGuard,
) -> Result<impl Iterator<Item = (usize, u64)>> {
    let stride = stride.max(1);
    let count = total
        .saturating_sub(start)
        .div_ceil(stride)
        .saturating_add(1);
    if guard.pages.saturating_add(count) > guard.max {
        return Err(paging_error(format!(
            "the server reports {total} rows, more than {}; stopped (the page limit)",
            plural(guard.max, "page")
        )));
    }
    // Offsets past what a u64 holds do not exist: the sequence just ends there.
    Ok((0..count)
        .map_while(move |i| i.checked_mul(stride).and_then(|d| start.checked_add(d)))
        .enumerate())
}

/// Tracks ids across pages: drops rows already seen and keeps those the filter selects.
struct Collector<'f> {
    account: String,
    filter: &'f Filter,
    ids: HashSet<String>,
}

impl<'f> Collector<'f> {
    fn new(account: &str, filter: &'f Filter) -> Collector<'f> {
        Collector {
            account: account.to_string(),
            filter,
            ids: HashSet::new(),
        }
    }

    /// The page's rows not seen before that pass the filter. A page of only rows already
    /// seen is an error: the server is looping.
    fn add(&mut self, mut rows: Vec<Backup>, at: Option<&Cursor>) -> Result<Vec<Backup>> {
        let n = rows.len();
        let mut new_ids = 0;
        // In place: a page of rows all new and all wanted moves none of them.
        rows.retain(|row| {
            let new = self.ids.insert(row.id.clone());
            new_ids += usize::from(new);
            new && self.filter.matches(row)
        });
        let fresh = rows;
        let at = at.map_or("the first page".to_string(), |c| c.to_string());
        if new_ids == 0 {
            return Err(paging_error(format!(
                "the page at {at} held only rows already seen; stopped instead of looping"
            )));
        }
        if new_ids < n {
            tracing::warn!(
                "{}: dropped {} rows repeated across pages (at {at})",
                self.account,
                n - new_ids
            );
        }
        Ok(fresh)
    }
}

/// The guards of a paging loop against a server that loops: at most `max_pages` pages, and
/// no cursor named twice. The shared loop uses it, and so does an adapter that pages a list
/// of its own (Cloud Foundry's service instances).
pub(crate) struct PageGuard {
    pages: u64,
    max: u64,
    seen: HashSet<Cursor>,
}

impl PageGuard {
    /// A guard allowing `max_pages` pages.
    pub(crate) fn new(max_pages: u64) -> PageGuard {
        PageGuard {
            pages: 0,
            max: max_pages,
            seen: HashSet::new(),
        }
    }

    /// Counts the next page; past the limit, an error. `of` says what is paged when it is not
    /// backups (` of service instances`).
    pub(crate) fn page(&mut self, of: &str) -> Result<()> {
        self.pages += 1;
        if self.pages > self.max {
            return Err(paging_error(format!(
                "stopped after {}{of} (the page limit); the server may be looping",
                plural(self.max, "page")
            )));
        }
        Ok(())
    }

    /// Takes the cursor a page named as the next one: the page's own cursor or one named
    /// before is an error.
    pub(crate) fn next(&mut self, current: Option<&Cursor>, next: &Cursor) -> Result<()> {
        if current == Some(next) || !self.seen.insert(next.clone()) {
            return Err(paging_error(format!(
                "the server repeated the {next}; stopped instead of looping"
            )));
        }
        Ok(())
    }
}

/// `1 page`, `2 pages`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn paging_error(message: String) -> Error {
    Error::new(ErrorKind::Paging, message)
}

/// Checks a URL a server named for the account's credentials (the CF login server, the Z.com
/// compute endpoint from the token's catalog) against the configured URL it was discovered
/// from (`docs/cli.md#credentials-and-origins`): on the same site ([`crate::http::same_site`]:
/// registrable domain, loopback as one domain) and over `https`, or plain `http` only to loopback
/// or to the configured host itself when that is plain `http` (allowed by the config). `named` says
/// who named it and as what, `configured_what` what the configured URL is, `pin` the key that
/// trusts it instead.
pub(crate) fn check_discovered(
    url: &Url,
    configured: &Url,
    named: &str,
    configured_what: &str,
    pin: &str,
) -> Result<()> {
    let origin = origin_text(url);
    let secure = match url.scheme() {
        "https" => true,
        "http" => {
            crate::http::is_loopback(url)
                || (configured.scheme() == "http" && configured.host() == url.host())
        }
        _ => false,
    };
    if !secure {
        return Err(Error::new(
            ErrorKind::Insecure,
            format!(
                "{named} {origin}: credentials go only over https (or plain http to loopback); set `{pin}` to choose the URL"
            ),
        ));
    }
    if !crate::http::same_site(url, configured) {
        return Err(Error::new(
            ErrorKind::Insecure,
            format!(
                "{named} {origin}, which is not on the {configured_what}'s domain ({}); set `{pin}` to trust it",
                configured.host_str().unwrap_or("?")
            ),
        ));
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL, for messages (never its path or query).
pub(crate) fn origin_text(url: &Url) -> String {
    match url.port() {
        Some(port) => format!(
            "{}://{}:{port}",
            url.scheme(),
            url.host_str().unwrap_or("?")
        ),
        None => format!("{}://{}", url.scheme(), url.host_str().unwrap_or("?")),
    }
}

/// Builds the adapter for an account: the one registry of providers.
pub(crate) fn adapter(account: &Account) -> Arc<dyn Provider> {
    let name = account.name.clone();
    match &account.settings {
        Settings::Oracle(c) => Arc::new(oracle::Oracle::new(name, c.clone())),
        Settings::Zcom(c) => Arc::new(zcom::Zcom::new(name, c.clone())),
        Settings::Huawei(c) => Arc::new(huawei::Huawei::new(name, c.clone())),
        Settings::Cf(c) => Arc::new(cf::Cf::new(name, c.clone())),
        Settings::Bycloud(c) => Arc::new(bycloud::Bycloud::new(name, c.clone())),
    }
}

/// The capability table, from each adapter's declaration.
pub fn capabilities() -> [Capabilities; 5] {
    [
        oracle::CAPABILITIES,
        zcom::CAPABILITIES,
        huawei::CAPABILITIES,
        cf::CAPABILITIES,
        bycloud::CAPABILITIES,
    ]
}

/// The outcome of listing one account.
#[derive(Debug)]
pub struct AccountResult {
    /// The account name.
    pub account: String,
    /// Its rows (already filtered), or why it failed.
    pub result: Result<Vec<Backup>>,
    /// The resources its provider listed apart from their backups ([`Provider::resources`]);
    /// empty when the listing failed.
    pub(crate) resources: Vec<KnownResource>,
}

/// Lists every account concurrently: one slow or failing account never hides the others.
/// Results come back in the order of `accounts`; rows are filtered but not sorted.
pub async fn run_all(
    http: &Http,
    accounts: &[Account],
    filter: &Filter,
    options: &ListOptions,
) -> Vec<AccountResult> {
    run_all_into(http, accounts, filter, options, None).await
}

/// [`run_all`], streaming rows to `sink` (when given) as pages arrive; the results then hold
/// only each account's outcome. Every account shares one [`limit::Limiter`]; at
/// `options.deadline` the accounts still listing fail (what they streamed stays printed).
pub(crate) async fn run_all_into(
    http: &Http,
    accounts: &[Account],
    filter: &Filter,
    options: &ListOptions,
    sink: Option<RowSink>,
) -> Vec<AccountResult> {
    let limiter = limit::Limiter::new(options.max_requests, options.memory_budget);
    let futures = accounts.iter().map(|account| {
        let provider = adapter(account);
        let sink = sink.clone();
        let limiter = limiter.clone();
        async move {
            // The client of the account's trust and proxy settings, counting its connections.
            let http = http.for_transport(account.transport());
            let listing = async {
                let http = http
                    .as_ref()
                    .map_err(|e| Error::new(e.kind, e.message.clone()))?;
                let run = Run::sharing(http, filter, options, limiter).streaming(sink.clone());
                provider.authenticate(&run, false).await?;
                let mut rows = provider.list(&run).await?;
                rows.retain(|r| filter.matches(r));
                // Adapters that override `list` return their rows at the end: pass them on.
                match &sink {
                    Some(s) if !rows.is_empty() => {
                        let _ = s.send(std::mem::take(&mut rows)).await;
                    }
                    _ => {}
                }
                Ok(rows)
            };
            let result = within_deadline(options, listing)
                .await
                .map_err(|e: Error| e.with_account(&account.name));
            if let Ok(http) = &http {
                tracing::debug!(
                    target: "backups::http",
                    "{}: {} opened",
                    account.name,
                    plural(http.connections(), "connection")
                );
            }
            if let Some(p) = &options.progress {
                p.accounts_done
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let resources = match &result {
                Ok(_) => provider.resources(),
                Err(_) => Vec::new(),
            };
            AccountResult {
                account: account.name.clone(),
                result,
                resources,
            }
        }
    });
    futures_util::future::join_all(futures).await
}

/// `work`, or the deadline's error if `options.deadline` comes first.
async fn within_deadline<T>(
    options: &ListOptions,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    match options.deadline {
        Some(deadline) => {
            let at = tokio::time::Instant::from_std(deadline.at);
            tokio::time::timeout_at(at, work)
                .await
                .unwrap_or_else(|_| Err(deadline_error(deadline)))
        }
        None => work.await,
    }
}

/// The error of an account still listing at the run's deadline.
fn deadline_error(deadline: Deadline) -> Error {
    // In the largest unit that says it exactly, as it was most likely typed.
    let secs = deadline.after.as_secs();
    let after = match secs {
        _ if deadline.after.subsec_nanos() != 0 => format!("{} ms", deadline.after.as_millis()),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    };
    Error::new(
        ErrorKind::Timeout,
        format!("still listing at the run's deadline ({after}); stopped"),
    )
}

/// Checks accounts, all at once: each authenticates and fetches its first page (what
/// `accounts --check` runs). Like [`run_all`], the accounts share one limiter and the
/// deadline; the results are in account order.
pub(crate) async fn check(
    http: &Http,
    accounts: &[Account],
    filter: &Filter,
    options: &ListOptions,
) -> Vec<Result<()>> {
    let limiter = limit::Limiter::new(options.max_requests, options.memory_budget);
    let checks = accounts.iter().map(|account| {
        let limiter = limiter.clone();
        async move {
            let provider = adapter(account);
            let checking = async {
                let http = http.for_transport(account.transport())?;
                let run = Run::sharing(&http, filter, options, limiter);
                provider.authenticate(&run, false).await?;
                run.with_renewal(&*provider, || provider.list_page(&run, None))
                    .await?;
                Ok(())
            };
            within_deadline(options, checking)
                .await
                .map_err(|e: Error| e.with_account(&account.name))
        }
    });
    futures_util::future::join_all(checks).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpOptions;
    use crate::model::Status;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A canned page: the cursor it answers, its ids, its next cursor, its stated total.
    type CannedPage = (
        Option<Cursor>,
        Vec<&'static str>,
        Option<Cursor>,
        Option<u64>,
    );

    /// A fake provider serving canned pages keyed by cursor.
    struct Fake {
        pages: Vec<CannedPage>,
        calls: AtomicUsize,
        fail_first_with_401: bool,
        auths: AtomicUsize,
        /// A page that waits for a permit before answering (a slow page).
        hold: Option<(Cursor, tokio::sync::Semaphore)>,
        /// The session expires at this call (counted from 0) until it is renewed.
        expire_at_call: Option<usize>,
        /// Whether the session is accepted.
        session_ok: std::sync::atomic::AtomicBool,
        /// Every call is refused as unauthenticated.
        refuse_always: bool,
        /// Calls refused as unauthenticated.
        rejected: AtomicUsize,
    }

    impl Fake {
        fn new(pages: Vec<CannedPage>) -> Fake {
            Fake {
                pages,
                calls: AtomicUsize::new(0),
                fail_first_with_401: false,
                auths: AtomicUsize::new(0),
                hold: None,
                expire_at_call: None,
                session_ok: std::sync::atomic::AtomicBool::new(true),
                refuse_always: false,
                rejected: AtomicUsize::new(0),
            }
        }
    }

    impl Provider for Fake {
        fn account(&self) -> &str {
            "fake"
        }
        fn authenticate<'a>(
            &'a self,
            _run: &'a Run<'a>,
            _renew: bool,
        ) -> BoxFuture<'a, Result<()>> {
            self.auths.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                // A login takes a while: other pages are refused meanwhile.
                tokio::task::yield_now().await;
                self.session_ok.store(true, Ordering::SeqCst);
                Ok(())
            })
        }
        fn list_page<'a>(
            &'a self,
            _run: &'a Run<'a>,
            cursor: Option<&'a Cursor>,
        ) -> BoxFuture<'a, Result<Page>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                if self.expire_at_call == Some(n) {
                    self.session_ok.store(false, Ordering::SeqCst);
                }
                let refused = (self.fail_first_with_401 && n == 0)
                    || self.refuse_always
                    || !self.session_ok.load(Ordering::SeqCst);
                if self.expire_at_call.is_some() {
                    // The answer takes a while: other pages go out meanwhile.
                    tokio::task::yield_now().await;
                }
                if refused {
                    self.rejected.fetch_add(1, Ordering::SeqCst);
                    return Err(Error::new(ErrorKind::Auth, "expired"));
                }
                if let Some((held, gate)) = &self.hold {
                    if Some(held) == cursor {
                        let _ = gate.acquire().await;
                    }
                }
                let (_, ids, next, total) = self
                    .pages
                    .iter()
                    .find(|(c, ..)| c.as_ref() == cursor)
                    .ok_or_else(|| {
                        Error::new(ErrorKind::NotFound, format!("no page at {cursor:?}"))
                    })?;
                Ok(Page {
                    rows: ids
                        .iter()
                        .map(|id| {
                            Backup::new(
                                ProviderId::Huawei,
                                "fake",
                                id.to_string(),
                                Status::Available,
                            )
                        })
                        .collect(),
                    next: next.clone(),
                    total: *total,
                })
            })
        }
    }

    async fn list(fake: &Fake, options: ListOptions) -> Result<Vec<String>> {
        let http = Http::new(HttpOptions::default()).unwrap();
        let filter = Filter::default();
        let run = Run::new(&http, &filter, &options);
        let rows = fake.list(&run).await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    fn m(s: &str) -> Option<Cursor> {
        Some(Cursor::Marker(s.into()))
    }

    #[tokio::test]
    async fn pages_waiting_behind_a_slow_one_count_against_the_bound() {
        const IDS: [&str; 12] = [
            "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",
        ];
        let o = |i: u64| Some(Cursor::Offset(i));
        let mut pages: Vec<CannedPage> = vec![(None, vec![IDS[0]], o(1), Some(12))];
        pages.extend((1..12).map(|i| (o(i), vec![IDS[i as usize]], o(i + 1), None)));
        pages.push((o(12), vec![], None, None));
        let mut fake = Fake::new(pages);
        fake.hold = Some((Cursor::Offset(1), tokio::sync::Semaphore::new(0)));
        let options = ListOptions {
            parallel: 2,
            ..ListOptions::default()
        };
        let (listed, ()) = tokio::join!(list(&fake, options), async {
            // The first page, then 2 x parallel pages in progress: the held one and three
            // finished ones waiting for it. No more are fetched until it arrives.
            let calls = || fake.calls.load(Ordering::SeqCst);
            for _ in 0..500 {
                if calls() >= 5 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            assert_eq!(calls(), 1 + 4);
            fake.hold.as_ref().unwrap().1.add_permits(1);
        });
        assert_eq!(listed.unwrap(), IDS);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 13);
    }

    #[tokio::test]
    async fn follows_markers_until_the_last_page() {
        let fake = Fake::new(vec![
            (None, vec!["a", "b"], m("b"), None),
            (m("b"), vec!["c"], m("c"), None),
            (m("c"), vec![], None, None),
        ]);
        assert_eq!(
            list(&fake, ListOptions::default()).await.unwrap(),
            ["a", "b", "c"]
        );
    }

    #[tokio::test]
    async fn a_repeated_marker_is_an_error_not_a_loop() {
        let fake = Fake::new(vec![
            (None, vec!["a"], m("x"), None),
            (m("x"), vec!["b"], m("x"), None),
        ]);
        let err = list(&fake, ListOptions::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Paging);
        assert_eq!(
            err.to_string(),
            "the server repeated the marker x; stopped instead of looping"
        );
    }

    #[tokio::test]
    async fn a_page_of_only_seen_rows_is_an_error() {
        let fake = Fake::new(vec![
            (None, vec!["a"], m("x"), None),
            (m("x"), vec!["a"], m("y"), None),
        ]);
        let err = list(&fake, ListOptions::default()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the page at marker x held only rows already seen; stopped instead of looping"
        );
    }

    #[tokio::test]
    async fn rows_repeated_across_pages_are_dropped() {
        let fake = Fake::new(vec![
            (None, vec!["a", "b"], m("b"), None),
            (m("b"), vec!["b", "c"], None, None),
        ]);
        assert_eq!(
            list(&fake, ListOptions::default()).await.unwrap(),
            ["a", "b", "c"]
        );
    }

    #[tokio::test]
    async fn the_page_cap_stops_runaway_listings() {
        let fake = Fake::new(vec![
            (None, vec!["a"], m("1"), None),
            (m("1"), vec!["b"], m("2"), None),
            (m("2"), vec!["c"], m("3"), None),
        ]);
        let err = list(
            &fake,
            ListOptions {
                max_pages: 2,
                parallel: 1,
                ..ListOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Paging);
    }

    #[tokio::test]
    async fn offsets_in_parallel_after_the_first_page() {
        let o = |n| Some(Cursor::Offset(n));
        let fake = Fake::new(vec![
            (None, vec!["a", "b"], o(2), Some(5)),
            (o(2), vec!["c", "d"], o(4), Some(5)),
            (o(4), vec!["e"], o(5), Some(5)),
            (o(6), vec![], None, Some(5)),
        ]);
        assert_eq!(
            list(&fake, ListOptions::default()).await.unwrap(),
            ["a", "b", "c", "d", "e"]
        );
        // Sequentially the same rows.
        let seq = Fake::new(vec![
            (None, vec!["a", "b"], o(2), Some(5)),
            (o(2), vec!["c", "d"], o(4), Some(5)),
            (o(4), vec!["e"], o(5), Some(5)),
            (o(5), vec![], None, Some(5)),
        ]);
        assert_eq!(
            list(
                &seq,
                ListOptions {
                    parallel: 1,
                    ..ListOptions::default()
                }
            )
            .await
            .unwrap(),
            ["a", "b", "c", "d", "e"]
        );
    }

    #[tokio::test]
    async fn a_low_count_does_not_truncate() {
        let o = |n| Some(Cursor::Offset(n));
        // The server says 2 rows but has 5: parallel fetch covers offset 2, then continues.
        let fake = Fake::new(vec![
            (None, vec!["a", "b"], o(2), Some(3)),
            (o(2), vec!["c", "d"], o(4), Some(3)),
            (o(4), vec!["e"], o(5), Some(3)),
            (o(5), vec![], None, Some(3)),
        ]);
        assert_eq!(
            list(&fake, ListOptions::default()).await.unwrap(),
            ["a", "b", "c", "d", "e"]
        );
    }

    #[tokio::test]
    async fn a_stated_total_of_u64_max_is_a_paging_error_not_a_panic() {
        let o = |n| Some(Cursor::Offset(n));
        let fake = Fake::new(vec![(None, vec!["a"], o(1), Some(u64::MAX))]);
        let err = list(&fake, ListOptions::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Paging);
        assert_eq!(
            err.to_string(),
            "the server reports 18446744073709551615 rows, more than 100000 pages; stopped (the page limit)"
        );
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_huge_total_under_a_huge_page_limit_is_fetched_lazily_and_ends_at_an_empty_page() {
        let o = |n| Some(Cursor::Offset(n));
        let fake = Fake::new(vec![
            (None, vec!["a"], o(1), Some(u64::MAX)),
            (o(1), vec!["b"], o(2), None),
            (o(2), vec!["c"], o(3), None),
            (o(3), vec![], None, None),
            (o(4), vec![], None, None),
            (o(5), vec![], None, None),
            (o(6), vec![], None, None),
        ]);
        let options = ListOptions {
            max_pages: u64::MAX,
            parallel: 2,
            ..ListOptions::default()
        };
        assert_eq!(list(&fake, options).await.unwrap(), ["a", "b", "c"]);
        // The first page, then offsets 1.. with at most 2 x parallel in progress: nothing is
        // asked for once the empty page at 3 has been handled.
        assert!(
            fake.calls.load(Ordering::SeqCst) <= 1 + 3 + 4,
            "{:?}",
            fake.calls
        );
    }

    #[tokio::test]
    async fn offsets_past_u64_max_end_the_sequence_instead_of_wrapping() {
        let o = |n| Some(Cursor::Offset(n));
        let near = u64::MAX - 1;
        let fake = Fake::new(vec![
            // Pages of 2: the offset after `near` would be past u64::MAX.
            (None, vec!["a", "z"], o(near), Some(u64::MAX)),
            (o(near), vec!["b", "c"], None, None),
        ]);
        let options = ListOptions {
            max_pages: u64::MAX,
            ..ListOptions::default()
        };
        let err = list(&fake, options).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Paging);
        assert_eq!(
            err.to_string(),
            "offset 18446744073709551614 plus a page does not fit in 64 bits"
        );
    }

    #[tokio::test]
    async fn renews_an_expired_session_once() {
        let mut fake = Fake::new(vec![(None, vec!["a"], None, None)]);
        fake.fail_first_with_401 = true;
        assert_eq!(list(&fake, ListOptions::default()).await.unwrap(), ["a"]);
        assert_eq!(fake.auths.load(Ordering::SeqCst), 1);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_rejections_share_one_renewal() {
        const IDS: [&str; 12] = [
            "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",
        ];
        let o = |i: u64| Some(Cursor::Offset(i));
        let mut pages: Vec<CannedPage> = vec![(None, vec![IDS[0]], o(1), Some(12))];
        pages.extend((1..12).map(|i| (o(i), vec![IDS[i as usize]], o(i + 1), None)));
        pages.push((o(12), vec![], None, None));
        let mut fake = Fake::new(pages);
        // The session dies at the first parallel page: every page then in flight is refused.
        fake.expire_at_call = Some(1);
        let options = ListOptions {
            parallel: 4,
            ..ListOptions::default()
        };
        assert_eq!(list(&fake, options).await.unwrap(), IDS);
        assert_eq!(fake.auths.load(Ordering::SeqCst), 1);
        // 2 x parallel pages were in flight, each refused once, each asked again once.
        assert_eq!(fake.rejected.load(Ordering::SeqCst), 8);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 13 + 8);
    }

    #[tokio::test]
    async fn a_request_renews_at_most_once() {
        let mut fake = Fake::new(vec![(None, vec!["a"], None, None)]);
        fake.refuse_always = true;
        let err = list(&fake, ListOptions::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        assert_eq!(fake.auths.load(Ordering::SeqCst), 1);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    }
}
