//! Whose sign-in this is, for throttling: the peer's address, or, when the peer is a proxy we
//! trust (`TENANTPILOT_TRUSTED_PROXIES`), the address the proxies say they forwarded for. Headers
//! from anyone else are ignored: a client cannot pick its own address by sending them.

use axum::http::{header, HeaderMap};
use std::net::IpAddr;
use tenantpilot_core::egress::Cidr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Comma-separated addresses and networks (`10.0.0.0/8, 192.0.2.7`).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        Cidr::parse_list(list).map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(ip))
    }

    /// The client behind `peer`. Walking the forwarded chain back from the nearest hop, each
    /// trusted proxy vouches for the hop before it; the first hop that is not a trusted proxy is
    /// the client. A hop that is not an address ends the walk at the proxy that added it.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer;
        if !self.trusts(peer) {
            return client;
        }
        for hop in forwarded_chain(headers).into_iter().rev() {
            let Some(hop) = hop else { break };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// The hops a request passed, farthest first: from `Forwarded` (RFC 7239) when present, else
/// from `X-Forwarded-For`. `None` for a hop that names no address (`unknown`, `_hidden`).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let joined = |name: header::HeaderName| -> Option<String> {
        let values: Vec<&str> =
            headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined(header::FORWARDED) {
        return forwarded
            .split(',')
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.trim().eq_ignore_ascii_case("for").then(|| node_address(value.trim()))?
                })
            })
            .collect();
    }
    joined(header::HeaderName::from_static("x-forwarded-for"))
        .map(|list| list.split(',').map(|hop| node_address(hop.trim())).collect())
        .unwrap_or_default()
}

/// The address of a node as proxies write it: `192.0.2.1`, `192.0.2.1:443`, `"[2001:db8::1]:80"`,
/// `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    // IPv4 with a port; an IPv6 address has more than one colon and was handled above.
    node.split_once(':').and_then(|(ip, _port)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").unwrap();
        let xff = headers(&[("x-forwarded-for", "198.51.100.9, 10.1.1.1")]);
        // An untrusted peer's headers are ignored.
        assert_eq!(proxies.client(ip("203.0.113.5"), &xff), ip("203.0.113.5"));
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.1"), &xff), ip("10.0.0.1"));
        // Behind two trusted proxies, the first hop that is not one.
        assert_eq!(proxies.client(ip("10.0.0.1"), &xff), ip("198.51.100.9"));
        // A client cannot prepend an address of its choosing past an untrusted hop.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.9")]);
        assert_eq!(proxies.client(ip("192.0.2.7"), &spoofed), ip("198.51.100.9"));
        // Several header lines form one list.
        let split = headers(&[("x-forwarded-for", "198.51.100.9"), ("x-forwarded-for", "10.2.2.2")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &split), ip("198.51.100.9"));
        // Forwarded (RFC 7239) wins over X-Forwarded-For; ports, quotes and brackets are read.
        let forwarded = headers(&[
            ("forwarded", "for=\"[2001:db8::5]:4711\";proto=https, for=10.3.3.3:80"),
            ("x-forwarded-for", "203.0.113.99"),
        ]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &forwarded), ip("2001:db8::5"));
        // A hop that is not an address stops at the proxy that wrote it.
        let hidden = headers(&[("forwarded", "for=_hidden, for=10.4.4.4")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &hidden), ip("10.4.4.4"));
        // No header: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
    }
}
