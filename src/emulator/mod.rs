//! A double of the five vendor APIs, faithful enough that the adapters *and* the vendors' own
//! clients work against it: `backups emulator`, `--demo`, the tests and the benchmark all use
//! it through the real HTTP path. Each API gets its own listener and serves at its root, the
//! way its official clients address it. It shares no parsing code with the adapters: it is
//! the vendors' side of the wire.
//!
//! The demo data is deterministic: the same [`EmulatorOptions`] give the same bytes. Besides
//! the default nine accounts it can serve day N of a timeline ([`Timeline`]: the same accounts
//! N days later, for inventory history), any number of generated accounts
//! ([`EmulatorOptions::accounts`], for the many-accounts benchmark), and a test mode whose
//! errors echo the client's credentials ([`echo`], for the redaction of secrets).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use reqwest::Url;
use tokio::task::JoinHandle;

use crate::config::{self, Account, AccountOrigin};
use crate::error::{Error, ErrorKind, Result};
use faults::{Faults, Vendor};
use net::{bind, serve, WireState};

pub(crate) mod bycloud;
pub(crate) mod cf;
pub(crate) mod echo;
pub(crate) mod faults;
pub(crate) mod huawei;
pub mod net;
pub(crate) mod oracle;
pub(crate) mod zcom;

/// How to run the emulator.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Port of the base listener (0 = ephemeral). When non-zero the APIs take the next five.
    pub port: u16,
    /// Delay added to every response.
    pub latency: Duration,
    /// How the listeners speak: TLS, HTTP/1.1 only, a round trip on every chunk of bytes.
    pub wire: net::Wire,
    /// Backups per demo account (`None` = the demo's own few hundred in all).
    pub scale: Option<usize>,
    /// Inject faults (429s, 503s, expiring sessions, a slow and a broken account).
    pub faults: bool,
    /// "Now" for the demo data: backups are dated relative to it. It is the moment of day
    /// [`EmulatorOptions::day`]'s listing.
    pub now: DateTime<Utc>,
    /// Days since day 0 (`backups emulator --day N`). The same accounts, ids and credentials
    /// as day 0, with the data advanced `day` days so that `now` is day `day`: day 0's backups
    /// are `day` days older, the daily backups of the days in between appear, backups whose
    /// retention ran out are gone, statuses move on (a backup in progress completes, one that
    /// was being deleted is gone), and on day 1 one available backup is deleted early and
    /// another one starts being deleted (see [`Timeline`]). Same options, same bytes.
    pub day: u32,
    /// Serve this many generated demo accounts instead of the default nine: they go round the
    /// five providers (oracle, zcom, huawei, cf, bycloud, oracle, …), are named
    /// `<provider>-demo-NNN` by their number, each has its own credentials and
    /// [`EmulatorOptions::scale`] backups (else the provider's default count), and
    /// [`Emulator::config_toml`] writes all of them. Built for the many-accounts benchmark.
    pub accounts: Option<usize>,
    /// Test mode for the redaction of secrets: the servers answer chosen requests with an
    /// error (401, 403 or 500) whose body, in each vendor's error shape, repeats the
    /// credentials the client sent. See [`echo`] for what is echoed and how a test chooses
    /// which requests fail ([`Emulator::set_echo_rules`], or `POST /_emulator/echo` on the base URL).
    pub echo_credentials: bool,
}

impl Default for EmulatorOptions {
    fn default() -> EmulatorOptions {
        EmulatorOptions {
            port: 0,
            latency: Duration::ZERO,
            wire: net::Wire::default(),
            scale: None,
            faults: false,
            now: Utc::now(),
            day: 0,
            accounts: None,
            echo_credentials: false,
        }
    }
}

/// State every API module shares: options, the clock anchor, counters.
#[derive(Debug)]
pub struct Shared {
    /// The options it was started with.
    pub(crate) options: EmulatorOptions,
    requests: AtomicU64,
    /// Which requests answer with an echo of their credentials (`echo_credentials`).
    echo: echo::Echo,
}

impl Shared {
    /// Requests served so far (all APIs).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// What an API module gets: its own base URL and the shared state.
#[derive(Clone, Debug)]
pub(crate) struct ApiCtx {
    /// `http://127.0.0.1:PORT/` of this API's listener.
    pub(crate) base: Url,
    /// Shared state.
    pub(crate) shared: Arc<Shared>,
}

/// The base URL of each API.
#[derive(Clone, Debug)]
pub struct ApiUrls {
    /// Oracle Compute Classic REST endpoint.
    pub oracle: Url,
    /// Z.com identity and compute (one listener; `/v2.0` and `/v2`).
    pub zcom: Url,
    /// Huawei CBR and IAM.
    pub huawei: Url,
    /// Cloud Foundry API, UAA and login.
    pub cf: Url,
    /// ByCloud API.
    pub bycloud: Url,
}

/// A running emulator; dropping it stops the listeners.
#[derive(Debug)]
pub struct Emulator {
    /// The base URL (its index lists every API).
    pub(crate) base: Url,
    /// Each API's URL.
    pub urls: ApiUrls,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    wire: Arc<WireState>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Adds `latency` and counts requests, for every API.
async fn common_layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if !shared.options.latency.is_zero() {
        tokio::time::sleep(shared.options.latency).await;
    }
    next.run(req).await
}

impl Emulator {
    /// Starts every listener on 127.0.0.1 and returns once they accept connections.
    pub async fn start(options: EmulatorOptions) -> Result<Emulator> {
        let port = options.port;
        let next_port = |i: u16| if port == 0 { 0 } else { port.saturating_add(i) };
        let wire = WireState::new(&options.wire)?;
        let (base_listener, base) = bind(port, &wire).await?;
        let mut listeners = Vec::new();
        for i in 1..=5 {
            listeners.push(bind(next_port(i), &wire).await?);
        }
        let echo = echo::Echo::new(options.echo_credentials);
        let shared = Arc::new(Shared {
            options,
            requests: AtomicU64::new(0),
            echo,
        });
        let mut it = listeners.into_iter();
        let mut take = || it.next().expect("five listeners");
        let (oracle_l, oracle_u) = take();
        let (zcom_l, zcom_u) = take();
        let (huawei_l, huawei_u) = take();
        let (cf_l, cf_u) = take();
        let (bycloud_l, bycloud_u) = take();
        let urls = ApiUrls {
            oracle: oracle_u,
            zcom: zcom_u,
            huawei: huawei_u,
            cf: cf_u,
            bycloud: bycloud_u,
        };
        let ctx = |base: &Url| ApiCtx {
            base: base.clone(),
            shared: shared.clone(),
        };
        let faulty = shared.options.faults;
        // Latency applies first (outermost), then the credential echo, then faults, then the
        // vendor's routes.
        let layer = |router: Router, vendor: Option<Vendor>| {
            let router = match vendor {
                Some(v) => router
                    .layer(middleware::from_fn_with_state(
                        Faults::new(v, faulty),
                        faults::layer,
                    ))
                    .layer(middleware::from_fn_with_state(
                        (shared.clone(), v),
                        echo::layer,
                    )),
                None => router,
            };
            router.layer(middleware::from_fn_with_state(shared.clone(), common_layer))
        };
        let index = index_json(&urls);
        let index_router = Router::new()
            .route("/", get(move || async move { Json(index) }))
            .merge(echo::control_router(shared.clone()));
        let tasks = vec![
            serve(base_listener, layer(index_router, None)),
            serve(
                oracle_l,
                layer(oracle::router(ctx(&urls.oracle)), Some(Vendor::Oracle)),
            ),
            serve(
                zcom_l,
                layer(zcom::router(ctx(&urls.zcom)), Some(Vendor::Zcom)),
            ),
            serve(
                huawei_l,
                layer(huawei::router(ctx(&urls.huawei)), Some(Vendor::Huawei)),
            ),
            serve(cf_l, layer(cf::router(ctx(&urls.cf)), Some(Vendor::Cf))),
            serve(
                bycloud_l,
                bycloud::with_rate_limit(layer(
                    bycloud::router(ctx(&urls.bycloud)),
                    Some(Vendor::Bycloud),
                )),
            ),
        ];
        Ok(Emulator {
            base,
            urls,
            shared,
            tasks,
            wire,
        })
    }

    /// With TLS, the PEM of the throwaway CA that signed the listeners' certificate: what
    /// clients must trust (`ca_file`).
    pub(crate) fn ca_pem(&self) -> Option<&str> {
        self.wire.ca_pem()
    }

    /// Shared state (request counters), for tests and the benchmark.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Replaces the echo rules of `echo_credentials` mode (syntax in [`echo`], e.g.
    /// `"login=401,huawei:/v3/projects=403,listing=500"`); an error names the bad rule.
    /// Without `echo_credentials` there is nothing to set: that is an error too.
    pub fn set_echo_rules(&self, rules: &str) -> Result<()> {
        self.shared
            .echo
            .set(rules)
            .map_err(|e| Error::new(ErrorKind::Usage, format!("emulator: {e}")))
    }

    /// A ready config (`docs/config.md`) for the demo accounts, with their fixed demo credentials
    /// inline.
    pub fn config_toml(&self) -> String {
        let mut out = String::from(
            "# Demo accounts of `backups emulator`. The credentials are fixed demo values,\n\
             # valid only against this emulator.\n",
        );
        let options = &self.shared.options;
        for part in [
            oracle::demo_config(&self.urls.oracle, options),
            zcom::demo_config(&self.urls.zcom, options),
            huawei::demo_config(&self.urls.huawei, options),
            cf::demo_config(&self.urls.cf, options),
            bycloud::demo_config(&self.urls.bycloud, options),
        ] {
            out.push('\n');
            out.push_str(&part);
        }
        if self.shared.options.faults {
            out.push_str(&format!(
                "\n# --faults: an account with bad credentials, and one whose server repeats its paging marker.\n\
                 [accounts.bycloud-demo-badcreds]\nprovider = \"bycloud\"\nendpoint = \"{b}\"\ntoken = \"demo-wrong-token\"\n\n\
                 [accounts.bycloud-demo-loop]\nprovider = \"bycloud\"\nendpoint = \"{b}\"\ntoken = \"{t}\"\n",
                b = self.urls.bycloud,
                t = faults::LOOP_TOKEN,
            ));
        }
        out
    }

    /// The demo accounts, parsed from [`Emulator::config_toml`] by the normal config reader.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        let no_env = |_: &str| None;
        let cfg = config::parse(&self.config_toml(), std::path::Path::new("(demo)"), &no_env)?;
        Ok(cfg
            .accounts
            .into_iter()
            .map(|mut a| {
                a.origin = AccountOrigin::Demo;
                for (_, src) in &mut a.secret_sources {
                    *src = config::SecretSource::Demo;
                }
                a
            })
            .collect())
    }
}

fn index_json(urls: &ApiUrls) -> serde_json::Value {
    serde_json::json!({
        "emulator": "backups",
        "apis": {
            "oracle": urls.oracle.as_str(),
            "zcom_identity": format!("{}v2.0", urls.zcom),
            "zcom_compute": format!("{}v2", urls.zcom),
            "huawei": urls.huawei.as_str(),
            "cf": urls.cf.as_str(),
            "bycloud": urls.bycloud.as_str(),
        }
    })
}

/// 32 random lower-case hex digits: a fresh session, token or request id.
pub(crate) fn random_hex32() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The sessions an emulated API hands out (cookies, tokens): random ids that live for a
/// fixed time. Under `--faults` every other one issued to an owner is dead on arrival, so
/// accounts listed at the same time each meet exactly one expired session.
pub(crate) struct Sessions<O> {
    lifetime: Duration,
    faults: bool,
    state: std::sync::Mutex<SessionState<O>>,
}

struct SessionState<O> {
    live: std::collections::HashMap<String, Session<O>>,
    issued: std::collections::HashMap<O, u64>,
}

struct Session<O> {
    owner: O,
    issued: std::time::Instant,
    /// Expired ahead of time (fault injection).
    revoked: bool,
}

impl<O: Clone + Eq + std::hash::Hash> Sessions<O> {
    /// Sessions living `lifetime`, half of them dead on arrival under `faults`.
    pub(crate) fn new(lifetime: Duration, faults: bool) -> Sessions<O> {
        Sessions {
            lifetime,
            faults,
            state: std::sync::Mutex::new(SessionState {
                live: std::collections::HashMap::new(),
                issued: std::collections::HashMap::new(),
            }),
        }
    }

    /// A new session for `owner`: its id.
    pub(crate) fn issue(&self, owner: O) -> String {
        let id = random_hex32();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let count = state.issued.entry(owner.clone()).or_insert(0);
        let revoked = self.faults && (*count).is_multiple_of(2);
        *count += 1;
        // Forget dead sessions so a long-running emulator does not grow without bound.
        let lifetime = self.lifetime;
        state.live.retain(|_, s| s.issued.elapsed() < lifetime);
        state.live.insert(
            id.clone(),
            Session {
                owner,
                issued: std::time::Instant::now(),
                revoked,
            },
        );
        id
    }

    /// The owner of a live session.
    pub(crate) fn owner(&self, id: &str) -> Option<O> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = state.live.get(id)?;
        (!s.revoked && s.issued.elapsed() < self.lifetime).then(|| s.owner.clone())
    }
}

/// A small deterministic generator (SplitMix64) for the demo data: same seed, same data.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded from a string (an account name).
    pub(crate) fn seeded(seed: &str) -> Rng {
        // FNV-1a, so the seed is stable across Rust versions (unlike `DefaultHasher`).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A lower-case dashed UUID (version 4 layout).
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// 32 lower-case hex digits (a dashless id).
    pub(crate) fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

/// One planned demo backup: which resource, when, and which status slot.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    /// Index of the protected resource.
    pub(crate) resource: usize,
    /// Creation time.
    pub(crate) created: DateTime<Utc>,
    /// `Some(k)`: give it the k-th non-success status of the vendor's vocabulary (cycling);
    /// `None`: the vendor's success status.
    pub(crate) special: Option<usize>,
}

/// Plans `n` backups over `resources` resources, one a day per resource going back from
/// `now` (each resource at its own time of day, within the day). The last resource is stale (its newest
/// backup is four days old), about one backup in eight has a non-success status (every one
/// of `specials` at least once when `n` allows), and resource 0's newest backup failed, so
/// the demo has something for `audit` to find. Deterministic for a given seed.
pub(crate) fn plan(
    seed: &str,
    now: DateTime<Utc>,
    n: usize,
    resources: usize,
    specials: usize,
) -> Vec<Planned> {
    let mut rng = Rng::seeded(seed);
    let resources = resources.max(1);
    let mut out = Vec::with_capacity(n);
    let mut special = 0usize;
    for i in 0..n {
        let resource = i % resources;
        let day = (i / resources) as i64;
        let stale = if resources > 1 && resource == resources - 1 {
            4
        } else {
            0
        };
        // Each resource's backups come at its own time of day; with thousands of resources
        // (a large `--scale`) the times wrap within the day, so day `day`'s backups are never
        // more than a day older than that: a month's retention keeps a month of them.
        let minutes = 30 + (resource as i64 * 17) % (23 * 60) + rng.below(20) as i64;
        let created = now
            - chrono::Duration::days(day + stale)
            - chrono::Duration::minutes(minutes)
            - chrono::Duration::milliseconds(rng.below(1000) as i64);
        let is_special = specials > 0
            && ((i == 0)
                || (special < specials && i % 5 == 3)
                || (i > resources && rng.below(8) == 0));
        let slot = if is_special {
            let s = special;
            special += 1;
            Some(s)
        } else {
            None
        };
        out.push(Planned {
            resource,
            created,
            special: slot,
        });
    }
    out
}

/// Where the demo data stands in time: `now` is the moment of day `day`'s listing, and day 0's
/// listing was `day` days earlier (the anchor every day-0 backup is dated from).
///
/// Each emulator builds day 0 with [`plan`] at [`Timeline::anchor`] (so day 0 is exactly the
/// data of an emulator without `day`), then lets it live until `now`, one rule for all:
/// - the daily backups of days 1..=`day` appear ([`fresh`]): one per resource a few minutes
///   before that day's listing, except for the stale resource, whose schedule stays broken;
///   the first non-stale resource other than 0 has its backup of the current day still in
///   progress;
/// - a day-0 backup whose status was a passing state settles once day 1 is reached (in
///   progress -> the success status, restoring -> the success status, deleting -> deleted or
///   gone, as the vendor words it); failures stay;
/// - retention removes backups as the vendor does it: past `expires_at` (Huawei), after three
///   weeks (Z.com), or the oldest backup of a resource for each new one (ByCloud, Cloud
///   Foundry: rotation); Oracle keeps everything (its backups carry no time);
/// - on day 1, in each provider's first demo account where the vendor allows it, one available
///   backup that is neither expiring nor the oldest of its resource is deleted early (gone:
///   what an inventory audit reports as `vanished`), and another available one changes state
///   (Huawei: deleting, then gone on day 2; ByCloud: error).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    /// The moment of this day's listing.
    pub(crate) now: DateTime<Utc>,
    /// Days since day 0.
    pub(crate) day: u32,
}

impl Timeline {
    /// The timeline of a run.
    pub(crate) fn of(options: &EmulatorOptions) -> Timeline {
        Timeline {
            now: options.now,
            day: options.day,
        }
    }

    /// Day 0's listing time: every day-0 backup is dated from it.
    pub(crate) fn anchor(&self) -> DateTime<Utc> {
        self.at(0)
    }

    /// The listing time of day `d`.
    pub(crate) fn at(&self, d: u32) -> DateTime<Utc> {
        self.now - chrono::Duration::days(i64::from(self.day) - i64::from(d))
    }

    /// When something that happened during day `d` (between the listings of days `d - 1` and
    /// `d`) happened: a few hours before day `d`'s listing.
    pub(crate) fn during(&self, d: u32) -> DateTime<Utc> {
        self.at(d) - chrono::Duration::hours(3)
    }
}

/// One daily backup taken after day 0: during day `day`, of `resource`.
#[derive(Clone, Debug)]
pub(crate) struct Fresh {
    /// Index of the protected resource.
    pub(crate) resource: usize,
    /// The day during which it was taken (1..=the timeline's day).
    pub(crate) day: u32,
    /// Creation time.
    pub(crate) created: DateTime<Utc>,
    /// Still running at the timeline's `now` (only the current day's backup of one resource).
    pub(crate) in_progress: bool,
    /// Its own generator, seeded by account, day and resource: a backup keeps its ids
    /// whatever the day the emulator is started at.
    pub(crate) rng: Rng,
}

/// The daily backups taken during days 1..=`timeline.day` over `resources` resources planned
/// by [`plan`] with the same seed, oldest day first: one per resource a day, at the minutes
/// `plan` uses, none for the stale (last) resource.
pub(crate) fn fresh(seed: &str, timeline: &Timeline, resources: usize) -> Vec<Fresh> {
    let resources = resources.max(1);
    let stale = (resources > 1).then_some(resources - 1);
    let busy = if resources > 2 { 1 } else { 0 };
    let mut out = Vec::new();
    for day in 1..=timeline.day {
        for resource in (0..resources).filter(|r| Some(*r) != stale) {
            let mut rng = Rng::seeded(&format!("{seed}/day-{day}/resource-{resource}"));
            // Each resource's backups come at its own time of day; with thousands of resources
            // (a large `--scale`) the times wrap within the day, so day `day`'s backups are never
            // more than a day older than that: a month's retention keeps a month of them.
            let minutes = 30 + (resource as i64 * 17) % (23 * 60) + rng.below(20) as i64;
            let created = timeline.at(day)
                - chrono::Duration::minutes(minutes)
                - chrono::Duration::milliseconds(rng.below(1000) as i64);
            out.push(Fresh {
                resource,
                day,
                created,
                in_progress: day == timeline.day && resource == busy,
                rng,
            });
        }
    }
    out
}

/// The index in `planned` of the first backup of `resource` that is `from_day` or more days
/// old, has the success status (no special slot) and satisfies `also`: how the timeline picks
/// the backups it deletes early or changes.
pub(crate) fn pick(
    planned: &[Planned],
    resource: usize,
    from_day: usize,
    also: impl Fn(usize) -> bool,
) -> Option<usize> {
    let resources = planned.iter().map(|p| p.resource + 1).max().unwrap_or(1);
    (from_day..)
        .map(|d| d * resources + resource)
        .take_while(|&i| i < planned.len())
        .find(|&i| planned[i].resource == resource && planned[i].special.is_none() && also(i))
}

/// Under [`EmulatorOptions::accounts`], the numbers (1-based) of the generated accounts
/// `vendor` serves: account k belongs to the ((k - 1) mod 5)-th provider in the order oracle,
/// zcom, huawei, cf, bycloud. `None`: the default demo accounts.
pub(crate) fn bulk_numbers(options: &EmulatorOptions, vendor: Vendor) -> Option<Vec<usize>> {
    let n = options.accounts?;
    let v = vendor.position();
    Some((1..=n).filter(|k| (k - 1) % 5 == v).collect())
}

/// Helpers for the API modules' end-to-end tests.
#[cfg(test)]
pub(crate) mod testing {
    use chrono::{DateTime, Utc};

    use super::{Emulator, EmulatorOptions};
    use crate::config::Account;
    use crate::error::Result;
    use crate::filter::Filter;
    use crate::http::{Http, HttpOptions};
    use crate::model::{Backup, ProviderId};
    use crate::providers::{run_all, ListOptions};

    /// Starts an emulator with a pinned `now` and returns it with `provider`'s demo accounts,
    /// leaving out the ones `--faults` adds to fail on purpose (bad credentials, a loop).
    pub(crate) async fn start(
        provider: ProviderId,
        now: DateTime<Utc>,
        scale: Option<usize>,
        faults: bool,
    ) -> (Emulator, Vec<Account>) {
        let emu = Emulator::start(EmulatorOptions {
            now,
            scale,
            faults,
            ..Default::default()
        })
        .await
        .expect("the emulator starts");
        let accounts = emu
            .accounts()
            .expect("the demo config parses")
            .into_iter()
            .filter(|a| a.provider() == provider)
            .filter(|a| !a.name.ends_with("-badcreds") && !a.name.ends_with("-loop"))
            .collect();
        (emu, accounts)
    }

    /// Lists `accounts` as `backups list` does (their adapters, one shared client, default
    /// options): one result per account, in order.
    pub(crate) async fn list(accounts: &[Account], filter: &Filter) -> Vec<Result<Vec<Backup>>> {
        list_with(accounts, filter, &ListOptions::default()).await
    }

    /// [`list`] with the given options.
    pub(crate) async fn list_with(
        accounts: &[Account],
        filter: &Filter,
        options: &ListOptions,
    ) -> Vec<Result<Vec<Backup>>> {
        let http = Http::new(HttpOptions::default()).expect("the HTTP client builds");
        run_all(&http, accounts, filter, options)
            .await
            .into_iter()
            .map(|r| r.result)
            .collect()
    }

    /// Every account's rows; an account that fails fails the test with its message.
    pub(crate) async fn list_ok(accounts: &[Account], filter: &Filter) -> Vec<Vec<Backup>> {
        list(accounts, filter)
            .await
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::filter::Filter;
    use crate::model::{Backup, Status};

    /// Day 0 of the demo: the pinned time of the CLI tests.
    fn day0() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn at(day: u32) -> DateTime<Utc> {
        day0() + chrono::Duration::days(i64::from(day))
    }

    /// Every demo account's rows on `day` (listed through the adapters), by account.
    async fn listing(options: EmulatorOptions) -> BTreeMap<String, Vec<Backup>> {
        let emu = Emulator::start(options).await.expect("the emulator starts");
        let accounts = emu.accounts().expect("the demo config parses");
        let lists = testing::list_ok(&accounts, &Filter::default()).await;
        accounts.into_iter().map(|a| a.name).zip(lists).collect()
    }

    /// Rows as JSON lines with the emulator's ports (in Oracle's URIs) left out, so two
    /// emulators compare equal.
    fn portless(rows: &BTreeMap<String, Vec<Backup>>) -> Vec<String> {
        let mut out = Vec::new();
        for r in rows.values().flatten() {
            let text = serde_json::to_string(r).unwrap();
            let mut clean = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(i) = rest.find("127.0.0.1:") {
                clean.push_str(&rest[..i + 10]);
                rest = rest[i + 10..].trim_start_matches(|c: char| c.is_ascii_digit());
            }
            clean.push_str(rest);
            out.push(clean);
        }
        out
    }

    async fn day(day: u32) -> BTreeMap<String, Vec<Backup>> {
        listing(EmulatorOptions {
            now: at(day),
            day,
            ..Default::default()
        })
        .await
    }

    /// The backups of `before` that `docs/cli.md#audit` calls `vanished` in `after`, listed at
    /// `when`: available before, gone after, and either expiring after `when` or, without
    /// `expires_at`, not the oldest available backup of their resource before.
    fn vanished_early(before: &[Backup], after: &[Backup], when: DateTime<Utc>) -> Vec<String> {
        let now: BTreeSet<&str> = after.iter().map(|r| r.id.as_str()).collect();
        let available = |r: &&Backup| r.status == Status::Available;
        let oldest = |r: &Backup| {
            before
                .iter()
                .filter(available)
                .filter(|o| o.resource_id == r.resource_id)
                .filter_map(|o| o.created_at.map(|t| t.utc()))
                .min()
                == r.created_at.map(|t| t.utc())
        };
        before
            .iter()
            .filter(available)
            .filter(|r| !now.contains(r.id.as_str()))
            .filter(|r| match r.expires_at {
                Some(e) => e.utc() > when,
                None => !oldest(r),
            })
            .map(|r| r.id.clone())
            .collect()
    }

    /// Per account: (appeared, vanished, status changed) between two listings.
    fn changes(before: &[Backup], after: &[Backup]) -> (usize, usize, usize) {
        let old: BTreeMap<&str, &Backup> = before.iter().map(|r| (r.id.as_str(), r)).collect();
        let new: BTreeMap<&str, &Backup> = after.iter().map(|r| (r.id.as_str(), r)).collect();
        let appeared = new.keys().filter(|k| !old.contains_key(*k)).count();
        let vanished = old.keys().filter(|k| !new.contains_key(*k)).count();
        let changed = old
            .iter()
            .filter(|(k, r)| new.get(*k).is_some_and(|n| n.status != r.status))
            .count();
        (appeared, vanished, changed)
    }

    #[tokio::test]
    async fn day_n_is_the_same_data_every_run_and_day_zero_is_the_default_demo() {
        let default = listing(EmulatorOptions {
            now: day0(),
            ..Default::default()
        })
        .await;
        assert_eq!(portless(&day(0).await), portless(&default));
        let (a, b) = (day(3).await, day(3).await);
        assert_eq!(portless(&a), portless(&b), "same options, same data");
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            default.keys().collect::<Vec<_>>(),
            "the same accounts"
        );
        assert_ne!(portless(&a), portless(&default));
    }

    #[tokio::test]
    async fn day_one_deletes_one_backup_early_where_the_vendor_model_allows_it() {
        let (d0, d1) = (day(0).await, day(1).await);
        let mut early = Vec::new();
        for (account, before) in &d0 {
            for id in vanished_early(before, &d1[account], at(1)) {
                early.push((account.as_str(), id));
            }
        }
        // Huawei's has an `expires_at` a month away; ByCloud's has none and was not the
        // oldest of its volume (each volume's oldest goes by rotation, which is no finding).
        assert_eq!(
            early,
            [
                (
                    "bycloud-demo-spo",
                    "9724e757-ebd0-465c-85c6-a6c61ba98d1a".to_string()
                ),
                (
                    "huawei-demo-sg",
                    "3d0c3669-7005-4003-87fd-f67de199277a".to_string()
                ),
            ]
        );
        let counts: BTreeMap<&str, (usize, usize, usize)> = d0
            .iter()
            .map(|(a, before)| (a.as_str(), changes(before, &d1[a])))
            .collect();
        // (appeared, vanished, changed) per account; README and the report list the ids.
        assert_eq!(
            counts,
            BTreeMap::from([
                ("bycloud-demo-key", (5, 6, 3)),
                ("bycloud-demo-spo", (5, 7, 5)),
                ("cf-demo", (5, 5, 0)),
                ("cf-demo-client", (1, 1, 0)),
                ("huawei-demo-sg", (7, 4, 8)),
                ("huawei-demo-token", (4, 3, 5)),
                ("oracle-demo", (5, 0, 4)),
                ("zcom-demo-catalog", (4, 1, 5)),
                ("zcom-demo-tyo", (4, 1, 4)),
            ])
        );
        // Huawei: one backup expired on schedule, one available backup is being deleted.
        let sg0 = &d0["huawei-demo-sg"];
        let sg1 = &d1["huawei-demo-sg"];
        let expired: Vec<&Backup> = sg0
            .iter()
            .filter(|r| !sg1.iter().any(|n| n.id == r.id))
            .filter(|r| r.expires_at.is_some_and(|e| e.utc() <= at(1)))
            .collect();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].status, Status::Available);
        let deleting: Vec<&Backup> = sg1
            .iter()
            .filter(|n| n.status == Status::Deleting)
            .filter(|n| {
                sg0.iter()
                    .any(|r| r.id == n.id && r.status == Status::Available)
            })
            .collect();
        assert_eq!(deleting.len(), 1);
        // ByCloud: one available backup turned to error.
        let (spo0, spo1) = (&d0["bycloud-demo-spo"], &d1["bycloud-demo-spo"]);
        let broken = spo1
            .iter()
            .filter(|n| n.status == Status::Error)
            .filter(|n| {
                spo0.iter()
                    .any(|r| r.id == n.id && r.status == Status::Available)
            })
            .count();
        assert_eq!(broken, 1);
        // New backups are the day's: taken after day 0's listing, before day 1's.
        for (account, after) in &d1 {
            for r in after
                .iter()
                .filter(|n| !d0[account].iter().any(|o| o.id == n.id))
            {
                if let Some(t) = r.created_at {
                    assert!(t.utc() > day0() && t.utc() < at(1), "{account}: {t}");
                }
            }
        }
    }

    #[tokio::test]
    async fn later_days_continue_the_same_timeline() {
        let mut days = Vec::new();
        for d in 0..4 {
            days.push(day(d).await);
        }
        for account in days[0].keys() {
            for d in 1..3 {
                let ids = |x: usize| -> BTreeSet<String> {
                    days[x][account].iter().map(|r| r.id.clone()).collect()
                };
                let (before, now, after) = (ids(d - 1), ids(d), ids(d + 1));
                // Nothing comes back once gone, nothing skips a day.
                for id in before.intersection(&after) {
                    assert!(now.contains(id), "{account}: {id} missing on day {d}");
                }
                // Only day 1 deletes early.
                let early =
                    vanished_early(&days[d][account], &days[d + 1][account], at(d as u32 + 1));
                assert!(early.is_empty(), "{account} day {}: {early:?}", d + 1);
                // A backup keeps its time, and no backup goes back to creating.
                for r in &days[d + 1][account] {
                    if let Some(o) = days[d][account].iter().find(|o| o.id == r.id) {
                        assert_eq!(o.created_at, r.created_at, "{account}: {}", r.id);
                        if r.status == Status::Creating {
                            assert_eq!(o.status, Status::Creating, "{account}: {}", r.id);
                        }
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn generated_accounts_go_round_the_providers_each_with_its_own_credentials() {
        let emu = Emulator::start(EmulatorOptions {
            now: day0(),
            scale: Some(25),
            accounts: Some(12),
            ..Default::default()
        })
        .await
        .unwrap();
        let accounts = emu.accounts().unwrap();
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "oracle-demo-001",
                "oracle-demo-006",
                "oracle-demo-011",
                "zcom-demo-002",
                "zcom-demo-007",
                "zcom-demo-012",
                "huawei-demo-003",
                "huawei-demo-008",
                "cf-demo-004",
                "cf-demo-009",
                "bycloud-demo-005",
                "bycloud-demo-010",
            ]
        );
        // No secret is shared between two accounts.
        let text = emu.config_toml();
        let secrets: Vec<&str> = text
            .lines()
            .filter(|l| {
                [
                    "password = ",
                    "secret_key = ",
                    "client_secret = ",
                    "token = ",
                    "api_key_secret = ",
                ]
                .iter()
                .any(|k| l.starts_with(k))
            })
            .collect();
        assert_eq!(secrets.len(), 12, "{text}");
        assert_eq!(secrets.iter().collect::<BTreeSet<_>>().len(), 12);
        // Every account lists exactly `scale` backups of its own.
        let lists = testing::list_ok(&accounts, &Filter::default()).await;
        let mut ids = BTreeSet::new();
        for (a, rows) in accounts.iter().zip(&lists) {
            assert_eq!(rows.len(), 25, "{}", a.name);
            assert!(rows.iter().all(|r| r.account == a.name));
            for r in rows {
                assert!(ids.insert(r.id.clone()), "{}: {} twice", a.name, r.id);
            }
        }
        // The default demo's accounts are not served alongside.
        assert!(!text.contains("huawei-demo-sg"));
    }

    #[test]
    fn the_timeline_counts_days_back_from_now() {
        let t = Timeline { now: at(3), day: 3 };
        assert_eq!(t.anchor(), day0());
        assert_eq!(t.at(1), at(1));
        assert_eq!(t.during(2), at(2) - chrono::Duration::hours(3));
        let f = fresh("acct", &t, 6);
        // Five non-stale resources a day, three days.
        assert_eq!(f.len(), 15);
        assert!(f.iter().all(|b| b.resource != 5));
        assert!(f
            .iter()
            .all(|b| b.created > at(b.day - 1) && b.created < at(b.day)));
        let busy: Vec<(u32, usize)> = f
            .iter()
            .filter(|b| b.in_progress)
            .map(|b| (b.day, b.resource))
            .collect();
        assert_eq!(busy, [(3, 1)]);
        // A day's backups do not depend on how many days there are.
        let shorter = fresh("acct", &Timeline { now: at(1), day: 1 }, 6);
        assert_eq!(shorter[0].created, f[0].created);
        assert_eq!(shorter[0].rng.clone().uuid(), f[0].rng.clone().uuid());
    }

    #[test]
    fn the_generator_is_deterministic() {
        let mut a = Rng::seeded("hw-demo");
        let mut b = Rng::seeded("hw-demo");
        assert_eq!(a.uuid(), b.uuid());
        let id = Rng::seeded("x").uuid();
        assert_eq!(id.len(), 36);
        assert!(crate::filter::is_uuid(&id));
        assert!(crate::filter::is_uuid(&Rng::seeded("x").hex32()));
    }

    #[test]
    fn plans_cover_every_special_status() {
        let now = Utc::now();
        let p = plan("acct", now, 60, 6, 7);
        assert_eq!(p.len(), 60);
        let mut seen: Vec<usize> = p.iter().filter_map(|x| x.special).map(|s| s % 7).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
        assert!(p.iter().all(|x| x.created < now));
    }
}
