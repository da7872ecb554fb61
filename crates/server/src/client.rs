//! Who a request comes from. Behind a load balancer or reverse proxy every connection comes from
//! the proxy, so the per-address limits ([`crate::ratelimit`]) would count all users as one
//! address. The proxies a server is told to trust (`serve --trusted-proxy`) name the client in
//! `X-Forwarded-For`; anyone else's header is ignored, so a client cannot pick its own address.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::HttpRequest;

/// The proxies whose `X-Forwarded-For` is believed: addresses and networks (`10.0.0.0/8`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses addresses and networks (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`).
    pub fn parse(items: &[String]) -> Result<TrustedProxies, String> {
        let parse_one = |item: &str| -> Result<(IpAddr, u8), String> {
            let (address, bits) = item.split_once('/').map_or((item, None), |(a, b)| (a, Some(b)));
            let address: IpAddr = address.trim().parse().map_err(|_| format!("`{item}` is not an address or network"))?;
            let most = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => {
                    bits.trim().parse::<u8>().ok().filter(|b| *b <= most).ok_or_else(|| format!("`{item}`: a prefix is 0–{most}"))?
                }
                None => most,
            };
            Ok((address, bits))
        };
        items.iter().filter(|i| !i.trim().is_empty()).map(|i| parse_one(i)).collect::<Result<_, _>>().map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|(network, bits)| within(address, *network, *bits))
    }

    /// The client of `req`: its peer, or — when the peer is a trusted proxy — the nearest
    /// address in `X-Forwarded-For` that is not one (proxies append, so the nearest is the
    /// last). Without a peer (a test request), the unspecified address.
    pub fn client(&self, req: &HttpRequest) -> IpAddr {
        let peer = req.peer_addr().map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |a| a.ip());
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded.iter().rev().find(|a| !self.trusts(**a)).or(forwarded.first()).copied().unwrap_or(peer)
    }
}

/// Whether `address` is in the network `network`/`bits`.
fn within(address: IpAddr, network: IpAddr, bits: u8) -> bool {
    let prefix = |a: &[u8], b: &[u8]| {
        let (whole, rest) = (usize::from(bits / 8), bits % 8);
        a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
    };
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix(&a.octets(), &n.octets()),
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(&a.octets(), &n.octets()),
        (IpAddr::V6(a), IpAddr::V4(n)) => a.to_ipv4_mapped().is_some_and(|a| prefix(&a.octets(), &n.octets())),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_trusted_proxy_names_the_client_and_anyone_else_names_themselves() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.7".into()]).unwrap();
        let via = |peer: &str, forwarded: &str| {
            let req =
                TestRequest::default().peer_addr(peer.parse().unwrap()).insert_header(("X-Forwarded-For", forwarded)).to_http_request();
            proxies.client(&req).to_string()
        };
        assert_eq!(via("10.1.2.3:80", "203.0.113.9"), "203.0.113.9");
        // What a client wrote itself comes first; the proxies' own entries are skipped.
        assert_eq!(via("10.1.2.3:80", "1.1.1.1, 203.0.113.9, 192.168.1.7"), "203.0.113.9");
        assert_eq!(via("198.51.100.4:80", "203.0.113.9"), "198.51.100.4", "an untrusted peer's header is ignored");
        assert_eq!(via("10.1.2.3:80", "garbage"), "10.1.2.3");
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["nowhere".into()]).is_err());
    }
}
