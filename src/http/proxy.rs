//! Proxies from the environment, with one rule of our own (`docs/config.md#tls-and-proxies`):
//! credentials never travel in the clear through a proxy.
//!
//! - `https` requests go through `HTTPS_PROXY` (else `ALL_PROXY`) as a CONNECT tunnel: the
//!   proxy sees the host and port, never the request. Loopback targets too: only `NO_PROXY`
//!   sends a request direct, so a local CONNECT proxy sees local servers.
//! - plain `http` requests go direct: to loopback always, and to other hosts (which need
//!   `allow_insecure_http` anyway) unless the account sets `http_proxy = true`, which sends
//!   them through `HTTP_PROXY` (else `ALL_PROXY`), where the proxy reads every header.
//! - `NO_PROXY`: comma-separated `*`, host names (which also match their subdomains; a leading
//!   `.` or `*.` is allowed), IP addresses and CIDR blocks, each optionally with `:port`.
//!
//! Each variable is read in lower case first, then upper case, as curl does. Nothing else
//! (no system settings, no implicit exceptions) decides.

use std::net::IpAddr;

use reqwest::Url;

/// The proxy variables of the environment, read once per run.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    https: Option<Url>,
    http: Option<Url>,
    no_proxy: Vec<NoProxy>,
}

/// One `NO_PROXY` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NoProxy {
    /// `*`: every host goes direct.
    All,
    /// A host name, matching itself and its subdomains.
    Domain(String, Option<u16>),
    /// An address or a block (`10.0.0.0/8`, `::1`).
    Net(IpAddr, u8, Option<u16>),
}

impl ProxyEnv {
    /// Reads `https_proxy`, `http_proxy`, `all_proxy` and `no_proxy` (lower case first, then
    /// upper case) through `env`. A proxy value that is not a URL is an error naming the
    /// variable; a value without a scheme means `http://`.
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<ProxyEnv, String> {
        let var = |name: &str| {
            [name.to_ascii_lowercase(), name.to_string()]
                .into_iter()
                .find_map(|n| {
                    env(&n)
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .map(|v| (n, v))
                })
        };
        let proxy = |name: &str| -> Result<Option<Url>, String> {
            let Some((n, value)) = var(name).or_else(|| var("ALL_PROXY")) else {
                return Ok(None);
            };
            parse_proxy(&value)
                .map(Some)
                .map_err(|e| format!("{n}: {e}"))
        };
        Ok(ProxyEnv {
            https: proxy("HTTPS_PROXY")?,
            http: proxy("HTTP_PROXY")?,
            no_proxy: var("NO_PROXY")
                .map(|(_, v)| parse_no_proxy(&v))
                .unwrap_or_default(),
        })
    }

    /// Proxies given directly (tests): `https` for CONNECT tunnels, `http` for plain requests
    /// of accounts that allow it, `no_proxy` as the variable would hold it.
    #[cfg(test)]
    pub(crate) fn new(https: Option<Url>, http: Option<Url>, no_proxy: &str) -> ProxyEnv {
        ProxyEnv {
            https,
            http,
            no_proxy: parse_no_proxy(no_proxy),
        }
    }

    /// Whether any proxy is set at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.https.is_none() && self.http.is_none()
    }

    /// The proxy a request to `url` goes through, if any; `http_proxy` is the account's
    /// permission to send plain-http requests through one.
    pub(crate) fn proxy_for(&self, url: &Url, http_proxy: bool) -> Option<&Url> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref()?,
            "http" if http_proxy && !super::is_loopback(url) => self.http.as_ref()?,
            _ => return None,
        };
        if self.bypassed(url) {
            return None;
        }
        Some(proxy)
    }

    /// Whether `NO_PROXY` sends requests to `url` direct.
    fn bypassed(&self, url: &Url) -> bool {
        let port = url.port_or_known_default();
        let host = match url.host() {
            Some(url::Host::Domain(d)) => Host::Name(d.trim_end_matches('.').to_ascii_lowercase()),
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
            None => return false,
        };
        self.no_proxy.iter().any(|entry| match (entry, &host) {
            (NoProxy::All, _) => true,
            (NoProxy::Domain(d, p), Host::Name(h)) => {
                p.is_none_or(|p| Some(p) == port)
                    && (h == d || h.strip_suffix(d.as_str()).is_some_and(|s| s.ends_with('.')))
            }
            (NoProxy::Net(net, bits, p), Host::Ip(ip)) => {
                p.is_none_or(|p| Some(p) == port) && in_block(*ip, *net, *bits)
            }
            _ => false,
        })
    }
}

/// A request's host, as `NO_PROXY` compares it.
enum Host {
    Name(String),
    Ip(IpAddr),
}

// Proxy URLs can carry a password: Debug shows scheme, host and port only.
impl std::fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |u: &Option<Url>| {
            u.as_ref().map(|u| {
                format!(
                    "{}://{}:{}",
                    u.scheme(),
                    u.host_str().unwrap_or("?"),
                    u.port_or_known_default().unwrap_or(0)
                )
            })
        };
        f.debug_struct("ProxyEnv")
            .field("https", &show(&self.https))
            .field("http", &show(&self.http))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// A proxy URL: `http://` or `https://` with a host (a bare `host:port` means `http://`).
fn parse_proxy(value: &str) -> Result<Url, String> {
    let text = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    // The value may hold a password: the message names the problem, not the value.
    let url = Url::parse(&text).map_err(|e| format!("not a proxy URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "proxy scheme `{other}` is not supported (use http:// or https://)"
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the proxy URL has no host".into());
    }
    Ok(url)
}

/// `NO_PROXY`'s entries; entries that make no sense are ignored, as curl does.
fn parse_no_proxy(value: &str) -> Vec<NoProxy> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|entry| {
            if entry == "*" {
                return Some(NoProxy::All);
            }
            let (host, port) = split_port(entry);
            let (addr, bits) = match host.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (host, None),
            };
            if let Ok(ip) = addr
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = match bits {
                    Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max)?,
                    None => max,
                };
                return Some(NoProxy::Net(ip, bits, port));
            }
            let name = host
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            (!name.is_empty() && bits.is_none()).then_some(NoProxy::Domain(name, port))
        })
        .collect()
}

/// `host:port` → (`host`, port); IPv6 addresses keep their colons (`[::1]:8080`, `::1`).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((addr, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (addr, port);
        }
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// Whether `ip` lies in `net/bits` (an IPv4-mapped IPv6 address counts as its IPv4 one).
fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn via(p: &ProxyEnv, target: &str, http_proxy: bool) -> Option<String> {
        p.proxy_for(&url(target), http_proxy).map(|u| u.to_string())
    }

    #[test]
    fn https_tunnels_through_https_proxy_loopback_included() {
        let p = ProxyEnv::from_env(&env(&[("HTTPS_PROXY", "127.0.0.1:3128")])).unwrap();
        let proxy = Some("http://127.0.0.1:3128/".to_string());
        assert_eq!(via(&p, "https://cbr.example.com/v3", false), proxy);
        assert_eq!(via(&p, "https://127.0.0.1:4443/", false), proxy);
        assert_eq!(via(&p, "https://localhost/", false), proxy);
        // No proxy for plain http without an HTTP_PROXY.
        assert_eq!(via(&p, "http://api.example.com/", true), None);
    }

    #[test]
    fn plain_http_goes_direct_unless_the_account_allows_a_proxy_and_never_for_loopback() {
        let p = ProxyEnv::from_env(&env(&[
            ("HTTP_PROXY", "http://proxy.corp:8080"),
            ("https_proxy", "http://tunnel.corp:3128"),
        ]))
        .unwrap();
        assert_eq!(via(&p, "http://api.example.com/", false), None);
        assert_eq!(
            via(&p, "http://api.example.com/", true),
            Some("http://proxy.corp:8080/".into())
        );
        for loopback in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://localhost/",
        ] {
            assert_eq!(via(&p, loopback, true), None, "{loopback}");
            assert_eq!(via(&p, loopback, false), None, "{loopback}");
        }
        assert_eq!(
            via(&p, "https://api.example.com/", false),
            Some("http://tunnel.corp:3128/".into())
        );
    }

    #[test]
    fn all_proxy_is_the_fallback_and_lower_case_comes_first() {
        let p = ProxyEnv::from_env(&env(&[
            ("ALL_PROXY", "http://all:1"),
            ("https_proxy", "http://lower:2"),
            ("HTTPS_PROXY", "http://upper:3"),
        ]))
        .unwrap();
        assert_eq!(
            via(&p, "https://x.example/", false),
            Some("http://lower:2/".into())
        );
        assert_eq!(
            via(&p, "http://x.example/", true),
            Some("http://all:1/".into())
        );
    }

    #[test]
    fn no_proxy_matches_names_suffixes_addresses_blocks_and_ports() {
        let p = ProxyEnv::new(
            Some(url("http://proxy:3128")),
            None,
            " example.com, .corp.local ,*.svc, 10.0.0.0/8, ::1, 192.168.1.5:8443, [fd00::1]:443, bad/99",
        );
        let direct = [
            "https://example.com/",
            "https://api.example.com/",
            "https://EXAMPLE.COM./",
            "https://a.corp.local/",
            "https://corp.local/",
            "https://x.svc/",
            "https://10.1.2.3/",
            "https://[::1]:9/",
            "https://192.168.1.5:8443/",
            "https://[fd00::1]/",
        ];
        for d in direct {
            assert_eq!(via(&p, d, false), None, "{d}");
        }
        let proxied = [
            "https://notexample.com/",
            "https://example.com.evil.net/",
            "https://11.0.0.1/",
            "https://127.0.0.1/",
            "https://localhost/",
            "https://192.168.1.5/",
            "https://[fd00::1]:8443/",
        ];
        for d in proxied {
            assert_eq!(via(&p, d, false), Some("http://proxy:3128/".into()), "{d}");
        }
        let all = ProxyEnv::new(Some(url("http://proxy:3128")), None, "*");
        assert_eq!(via(&all, "https://anything.example/", false), None);
    }

    #[test]
    fn bad_proxy_values_name_the_variable_and_hide_the_value() {
        let err =
            ProxyEnv::from_env(&env(&[("https_proxy", "socks5://u:secret@h:1")])).unwrap_err();
        assert_eq!(
            err,
            "https_proxy: proxy scheme `socks5` is not supported (use http:// or https://)"
        );
        let err = ProxyEnv::from_env(&env(&[("HTTP_PROXY", "http://u:secret@[::1")])).unwrap_err();
        assert!(err.starts_with("HTTP_PROXY: not a proxy URL ("), "{err}");
        assert!(!err.contains("secret"));
        let p = ProxyEnv::from_env(&env(&[("HTTPS_PROXY", "http://u:secret@h:1")])).unwrap();
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("secret") && shown.contains("http://h:1"),
            "{shown}"
        );
    }
}
