//! Where TenantPilot's outbound HTTP may go (tenants' providers, their token URLs, registered
//! tools): public addresses only, unless `TENANTPILOT_EGRESS_ALLOW` names the host, the
//! host and port, or a network. The address is checked where the connection is made: a
//! literal one before the request, a name on the addresses it resolves to (so a name that
//! resolves to a private address, or starts to, is refused too). Nothing is proxied, and no
//! redirect is followed.

use crate::CoreError;
use reqwest::{Method, RequestBuilder, Url};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// What the allow list admits besides public addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Host(String),
    HostPort(String, u16),
    Network(Cidr),
}

/// A network (`10.0.0.0/8`, `fd00::/8`) or a single address (`127.0.0.1`). An IPv4-mapped
/// IPv6 address belongs to the IPv4 network it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    base: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `a.b.c.d/n`, `x::y/n` or a bare address.
    pub fn parse(entry: &str) -> Option<Cidr> {
        match entry.split_once('/') {
            Some((base, prefix)) => {
                let base: IpAddr = base.parse().ok()?;
                let prefix: u8 = prefix.parse().ok()?;
                (prefix <= if base.is_ipv4() { 32 } else { 128 }).then_some(Cidr { base, prefix })
            }
            None => {
                let base: IpAddr = entry.parse().ok()?;
                Some(Cidr { base, prefix: if base.is_ipv4() { 32 } else { 128 } })
            }
        }
    }

    /// A comma-separated list of networks, as settings spell them.
    pub fn parse_list(list: &str) -> Result<Vec<Cidr>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                Cidr::parse(entry)
                    .ok_or_else(|| format!("`{entry}` is not an address or network (like 10.0.0.0/8)"))
            })
            .collect()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        in_network(ip, self.base, self.prefix)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allowed: Vec<Allowed>,
}

/// A call the policy does not allow: it names the host and nothing else (not whether anything
/// answers there).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TenantPilot does not call {host}: it is not a public address, and TENANTPILOT_EGRESS_ALLOW does not allow it")]
pub struct Refused {
    pub host: String,
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Whether `ip` is an address of the public internet. An IPv6 address that carries an IPv4 one
/// (IPv4-mapped, NAT64, 6to4) is judged by the IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => v4_public(ip),
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return v4_public(v4);
            }
            let segments = ip.segments();
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return v4_public(Ipv4Addr::new(a, b, c, d));
            }
            if segments[0] == 0x2002 {
                let [a, b] = segments[1].to_be_bytes();
                let [c, d] = segments[2].to_be_bytes();
                return v4_public(Ipv4Addr::new(a, b, c, d));
            }
            !(ip.is_unspecified()
                || ip.is_loopback()
                || ip.is_multicast()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
                || ip.to_ipv4().is_some() // IPv4-compatible ::a.b.c.d
                || segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        }
    }
}

fn in_network(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    match (ip, base) {
        (IpAddr::V4(ip), IpAddr::V4(base)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(base) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(base) & mask
        }
        (IpAddr::V6(ip), IpAddr::V4(_)) => {
            ip.to_ipv4_mapped().is_some_and(|ip| in_network(IpAddr::V4(ip), base, prefix))
        }
        _ => false,
    }
}

/// A URL's host as compared: lower case, an IPv6 literal without its brackets.
fn host_of(url: &Url) -> Option<String> {
    url.host_str().map(|host| host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
}

/// The schemes a saved URL may use: a provider's only HTTPS (it carries credentials), a tool's
/// either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schemes {
    HttpsOnly,
    HttpOrHttps,
}

impl EgressPolicy {
    /// Public addresses only.
    pub fn public_only() -> EgressPolicy {
        EgressPolicy::default()
    }

    /// The allow list as configured: comma-separated hosts (`sim.internal`, `127.0.0.1`),
    /// `host:port` entries (`127.0.0.1:3100`, `[::1]:8080`) and networks (`10.1.0.0/16`).
    pub fn parse(list: &str) -> Result<EgressPolicy, String> {
        let mut allowed = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let bad = || format!("`{entry}` is not a host, host:port or network (like 10.0.0.0/8)");
            if entry.contains('/') || entry.parse::<IpAddr>().is_ok() {
                allowed.push(Allowed::Network(Cidr::parse(entry).ok_or_else(bad)?));
            } else {
                let url = Url::parse(&format!("http://{entry}")).map_err(|_| bad())?;
                let host = host_of(&url).filter(|host| !host.is_empty()).ok_or_else(bad)?;
                if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
                    return Err(bad());
                }
                allowed.push(match url.port() {
                    Some(port) => Allowed::HostPort(host, port),
                    None if entry.ends_with(':') => return Err(bad()),
                    None => Allowed::Host(host),
                });
            }
        }
        Ok(EgressPolicy { allowed })
    }

    /// Whether a connection to `ip` is allowed: a public address, or one in an allowed network.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        is_public(ip)
            || self.allowed.iter().any(|allowed| match allowed {
                Allowed::Network(network) => network.contains(ip),
                _ => false,
            })
    }

    /// Whether `url`'s host (and port) is on the allow list by name: then it is called wherever
    /// it resolves to.
    fn names(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (host_of(url), url.port_or_known_default()) else { return false };
        let literal = host.parse::<IpAddr>().ok();
        self.allowed.iter().any(|allowed| match allowed {
            Allowed::Host(name) => *name == host,
            Allowed::HostPort(name, allowed_port) => *name == host && *allowed_port == port,
            Allowed::Network(network) => literal.is_some_and(|ip| network.contains(ip)),
        })
    }

    /// Checks `url` before any lookup: allowed by name, or a name whose addresses the resolver
    /// checks, or a literal address that is public. `Err` for a literal one that is not.
    pub fn admits(&self, url: &Url) -> Result<(), Refused> {
        let host = host_of(url).unwrap_or_default();
        if self.names(url) {
            return Ok(());
        }
        match host.parse::<IpAddr>() {
            Ok(ip) if !self.allows_ip(ip) => Err(Refused { host }),
            _ if host.is_empty() => Err(Refused { host }),
            _ => Ok(()),
        }
    }

    /// The check of a URL when it is saved: a literal address that may not be called is
    /// refused, naming `field`; with `Schemes::HttpsOnly`, so is `http://` to anything not
    /// allow-listed.
    pub fn check_saved(&self, field: &str, url: &str, schemes: Schemes) -> Result<(), CoreError> {
        let https_only = schemes == Schemes::HttpsOnly;
        let Ok(parsed) = Url::parse(url) else {
            return Err(CoreError::invalid(field, "Enter an http:// or https:// URL"));
        };
        if let Err(refused) = self.admits(&parsed) {
            return Err(CoreError::invalid(
                field,
                format!(
                    "{} is not a public address; TenantPilot calls only public addresses unless \
                     TENANTPILOT_EGRESS_ALLOW names it",
                    refused.host
                ),
            ));
        }
        if https_only && parsed.scheme() != "https" && !self.names(&parsed) {
            return Err(CoreError::invalid(
                field,
                "Use an https:// URL: credentials and tokens travel here (http:// only for hosts \
                 TENANTPILOT_EGRESS_ALLOW names)",
            ));
        }
        Ok(())
    }
}

/// Resolves names to the addresses the policy allows, or refuses the name.
struct CheckedResolver {
    policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                resolved.into_iter().filter(|addr| policy.allows_ip(addr.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused { host }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client that calls only where its policy allows, follows no redirect and uses no
/// proxy. Hosts the allow list names get a client that resolves them as usual.
#[derive(Clone)]
pub struct EgressClient {
    policy: Arc<EgressPolicy>,
    checked: reqwest::Client,
    named: reqwest::Client,
}

impl std::fmt::Debug for EgressClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressClient").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl EgressClient {
    /// A client under `policy`, with the rest of its settings from `configure`.
    pub fn new(
        policy: EgressPolicy,
        configure: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> EgressClient {
        let policy = Arc::new(policy);
        let base =
            || configure(reqwest::Client::builder()).redirect(reqwest::redirect::Policy::none()).no_proxy();
        let build = |builder: reqwest::ClientBuilder| {
            builder.build().unwrap_or_else(|error| {
                tracing::error!(%error, "outbound HTTP client falls back to refusing everything");
                reqwest::Client::builder().no_proxy().build().unwrap_or_default()
            })
        };
        EgressClient {
            checked: build(base().dns_resolver(Arc::new(CheckedResolver { policy: policy.clone() }))),
            named: build(base()),
            policy,
        }
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// A request to `url`, or the refusal when the policy does not allow it.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, Refused> {
        let parsed = Url::parse(url).map_err(|_| Refused { host: url.chars().take(100).collect() })?;
        self.policy.admits(&parsed)?;
        let client = if self.policy.names(&parsed) { &self.named } else { &self.checked };
        Ok(client.request(method, parsed))
    }

    /// The refusal behind a failed request, if the resolver refused its host.
    pub fn refusal(error: &reqwest::Error) -> Option<Refused> {
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<Refused>() {
                return Some(refused.clone());
            }
            source = cause.source();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in
            ["8.8.8.8", "20.190.128.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]
        {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn the_allow_list_takes_hosts_ports_and_networks() {
        let policy =
            EgressPolicy::parse(" 127.0.0.1 , sim.internal:8443, 10.20.0.0/16,[::1]:9000,Graph.Test")
                .unwrap();
        let url = |text: &str| Url::parse(text).unwrap();
        for allowed in [
            "http://127.0.0.1:3100/beta",
            "https://sim.internal:8443/x",
            "http://10.20.30.40/",
            "http://[::1]:9000/",
            "https://graph.test/beta",
            "https://example.com/",
        ] {
            assert!(policy.admits(&url(allowed)).is_ok(), "{allowed}");
        }
        for refused in
            ["http://127.0.0.2/", "http://10.21.0.1/", "http://[::1]:9001/", "http://169.254.169.254/latest"]
        {
            assert_eq!(
                policy.admits(&url(refused)).unwrap_err().host,
                url(refused).host_str().unwrap().trim_matches(['[', ']'])
            );
        }
        assert!(policy.allows_ip(ip("10.20.255.1")) && !policy.allows_ip(ip("10.21.0.1")));
        for bad in ["10.0.0.0/33", "not a host", "a:b", "http://x/y", "1.2.3.4/x"] {
            assert!(EgressPolicy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn saved_urls_are_checked_by_literal_and_scheme() {
        let none = EgressPolicy::public_only();
        let error =
            none.check_saved("base_url", "http://169.254.169.254/latest", Schemes::HttpOrHttps).unwrap_err();
        assert!(matches!(&error, CoreError::Invalid { field, .. } if field == "base_url"), "{error:?}");
        assert!(
            none.check_saved("token_url", "http://login.example.com/t", Schemes::HttpsOnly).is_err(),
            "http needs the allow list"
        );
        assert!(none.check_saved("token_url", "https://login.example.com/t", Schemes::HttpsOnly).is_ok());
        assert!(
            none.check_saved("baseUrl", "http://ci.example.com", Schemes::HttpOrHttps).is_ok(),
            "tools may use http"
        );
        let sim = EgressPolicy::parse("127.0.0.1").unwrap();
        assert!(sim.check_saved("token_url", "http://127.0.0.1:3100/t", Schemes::HttpsOnly).is_ok());
    }
}
