//! A double of the five vendor APIs, faithful enough that the adapters *and* the vendors' own
//! clients work against it: `backups emulator`, `--demo`, the tests and the benchmark all use
//! it through the real HTTP path. Each API gets its own listener and serves at its root, the
//! way its official clients address it. It shares no parsing code with the adapters: it is
//! the vendors' side of the wire.

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
use crate::error::Result;
use faults::{Faults, Vendor};
use net::{bind, serve, WireState};

pub mod bycloud;
pub mod cf;
pub mod faults;
pub mod huawei;
pub mod net;
pub mod oracle;
pub mod zcom;

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
    /// "Now" for the demo data: backups are dated relative to it.
    pub now: DateTime<Utc>,
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
        }
    }
}

/// State every API module shares: options, the clock anchor, counters.
#[derive(Debug)]
pub struct Shared {
    /// The options it was started with.
    pub options: EmulatorOptions,
    requests: AtomicU64,
}

impl Shared {
    /// Requests served so far (all APIs).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// What an API module gets: its own base URL and the shared state.
#[derive(Clone, Debug)]
pub struct ApiCtx {
    /// `http://127.0.0.1:PORT/` of this API's listener.
    pub base: Url,
    /// Shared state.
    pub shared: Arc<Shared>,
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
    pub base: Url,
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
        let shared = Arc::new(Shared {
            options,
            requests: AtomicU64::new(0),
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
        // Latency applies first (outermost), then faults, then the vendor's routes.
        let layer = |router: Router, vendor: Option<Vendor>| {
            let router = match vendor {
                Some(v) => router.layer(middleware::from_fn_with_state(
                    Faults::new(v, faulty),
                    faults::layer,
                )),
                None => router,
            };
            router.layer(middleware::from_fn_with_state(shared.clone(), common_layer))
        };
        let index = index_json(&urls);
        let index_router = Router::new().route("/", get(move || async move { Json(index) }));
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
    pub fn ca_pem(&self) -> Option<&str> {
        self.wire.ca_pem()
    }

    /// Shared state (request counters), for tests and the benchmark.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A ready config (spec §3) for the demo accounts, with their fixed demo credentials inline.
    pub fn config_toml(&self) -> String {
        let mut out = String::from(
            "# Demo accounts of `backups emulator`. The credentials are fixed demo values,\n\
             # valid only against this emulator.\n",
        );
        for part in [
            oracle::demo_config(&self.urls.oracle),
            zcom::demo_config(&self.urls.zcom),
            huawei::demo_config(&self.urls.huawei),
            cf::demo_config(&self.urls.cf),
            bycloud::demo_config(&self.urls.bycloud),
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
pub fn random_hex32() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The sessions an emulated API hands out (cookies, tokens): random ids that live for a
/// fixed time. Under `--faults` every other one issued to an owner is dead on arrival, so
/// accounts listed at the same time each meet exactly one expired session.
pub struct Sessions<O> {
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
    pub fn new(lifetime: Duration, faults: bool) -> Sessions<O> {
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
    pub fn issue(&self, owner: O) -> String {
        let id = random_hex32();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let count = state.issued.entry(owner.clone()).or_insert(0);
        let revoked = self.faults && *count % 2 == 0;
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
    pub fn owner(&self, id: &str) -> Option<O> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = state.live.get(id)?;
        (!s.revoked && s.issued.elapsed() < self.lifetime).then(|| s.owner.clone())
    }
}

/// A small deterministic generator (SplitMix64) for the demo data: same seed, same data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from a string (an account name).
    pub fn seeded(seed: &str) -> Rng {
        // FNV-1a, so the seed is stable across Rust versions (unlike `DefaultHasher`).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A lower-case dashed UUID (version 4 layout).
    pub fn uuid(&mut self) -> String {
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
    pub fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

/// One planned demo backup: which resource, when, and which status slot.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Index of the protected resource.
    pub resource: usize,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// `Some(k)`: give it the k-th non-success status of the vendor's vocabulary (cycling);
    /// `None`: the vendor's success status.
    pub special: Option<usize>,
}

/// Plans `n` backups over `resources` resources, one a day per resource going back from
/// `now` (offset by a few minutes per resource). The last resource is stale (its newest
/// backup is four days old), about one backup in eight has a non-success status (every one
/// of `specials` at least once when `n` allows), and resource 0's newest backup failed, so
/// the demo has something for `audit` to find. Deterministic for a given seed.
pub fn plan(
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
        let minutes = 30 + resource as i64 * 17 + rng.below(20) as i64;
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
    pub async fn start(
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
    pub async fn list(accounts: &[Account], filter: &Filter) -> Vec<Result<Vec<Backup>>> {
        list_with(accounts, filter, &ListOptions::default()).await
    }

    /// [`list`] with the given options.
    pub async fn list_with(
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
    pub async fn list_ok(accounts: &[Account], filter: &Filter) -> Vec<Vec<Backup>> {
        list(accounts, filter)
            .await
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
