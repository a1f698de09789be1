//! Hardening of an inbound prefix: a secret token Flowroute sends in the callback URL's query, and a
//! list of source addresses allowed to post (Flowroute's documented addresses as a preset).

use std::net::IpAddr;

use ipnet::IpNet;
use sha2::{Digest, Sha256};

/// Flowroute's documented callback source addresses (may be outdated; check their documentation).
pub const FLOWROUTE_SOURCES: &[&str] = &["52.88.246.140/32", "52.10.220.50/32"];

/// The word that stands for [`FLOWROUTE_SOURCES`] in an allow-list.
pub const FLOWROUTE_PRESET: &str = "flowroute";

/// Parses an allow-list: addresses, CIDR blocks, or `flowroute`.
pub fn parse_sources(entries: &[String]) -> Result<Vec<IpNet>, String> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.trim();
        if e.eq_ignore_ascii_case(FLOWROUTE_PRESET) {
            out.extend(FLOWROUTE_SOURCES.iter().filter_map(|s| s.parse::<IpNet>().ok()));
        } else if let Ok(net) = e.parse::<IpNet>() {
            out.push(net.trunc());
        } else if let Ok(ip) = e.parse::<IpAddr>() {
            out.push(IpNet::from(ip));
        } else {
            return Err(format!("'{e}' is neither an IP address, a CIDR block nor 'flowroute'"));
        }
    }
    Ok(out)
}

/// True when `ip` is in the list (an IPv4 address mapped into IPv6 counts as IPv4).
pub fn source_allowed(list: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    list.iter().any(|net| net.contains(&ip))
}

/// Whether `ip` is one of Flowroute's documented sources.
pub fn is_flowroute(ip: IpAddr) -> bool {
    let nets: Vec<IpNet> = FLOWROUTE_SOURCES.iter().filter_map(|s| s.parse::<IpNet>().ok()).collect();
    source_allowed(&nets, ip)
}

/// The unit a source is counted in when it misbehaves: an IPv4 address (IPv4-mapped IPv6
/// included) or an IPv6 /64, the smallest block a host is usually given — so one host cannot
/// escape a limit by walking the addresses of its own network.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// IPv4 blocks of IANA's special-purpose address registry that are not globally reachable (as of
/// its 2024 revision), with multicast and the limited broadcast address: no request of
/// Switchboard's may go there. The globally reachable entries (AS112 and AMT anycast) are left out.
const SPECIAL_V4: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private use"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link local (cloud metadata)"),
    ("172.16.0.0/12", "private use"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    ("192.168.0.0/16", "private use"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "limited broadcast"),
];

/// IPv6 blocks of IANA's special-purpose address registry that are not globally reachable, with
/// multicast, deprecated site-local space, and the translation prefixes (whose embedded IPv4
/// address a NAT64 gateway would reach on the requester's behalf). IPv4-mapped addresses and 6to4
/// are judged by the IPv4 address they carry (see [`is_public_address`]).
const SPECIAL_V6: &[(&str, &str)] = &[
    ("::/96", "IPv4-compatible (deprecated), unspecified and loopback"),
    ("64:ff9b::/96", "IPv4/IPv6 translation (NAT64)"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    ("100::/64", "discard-only"),
    ("100:0:0:1::/64", "dummy prefix"),
    ("2001::/23", "IETF protocol assignments (Teredo 2001::/32, benchmarking, ORCHID)"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6) SIDs"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link local"),
    ("fec0::/10", "site local (deprecated)"),
    ("ff00::/8", "multicast"),
];

/// Both tables, parsed once (a test checks that every entry parses).
static SPECIAL: std::sync::LazyLock<Vec<(IpNet, &'static str)>> = std::sync::LazyLock::new(|| {
    SPECIAL_V4.iter().chain(SPECIAL_V6).filter_map(|(net, why)| Some((net.parse::<IpNet>().ok()?, *why))).collect()
});

fn special(ip: IpAddr) -> Option<&'static str> {
    SPECIAL.iter().find(|(net, _)| net.contains(&ip)).map(|(_, why)| *why)
}

/// Why `ip` is not on the public internet (loopback, private, link-local, shared, documentation,
/// benchmarking, reserved, multicast, a translation prefix, a mapped or 6to4 private address …), or
/// `None` for a public address — where a server Switchboard was told to reach must be, lest a forged
/// request reach the operator's own network.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(_) => special(ip),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_purpose(IpAddr::V4(v4)).map(|_| "IPv4-mapped non-public address");
            }
            let s = v6.segments();
            if s[0] == 0x2002 {
                // 6to4 carries an IPv4 address in its next 32 bits; a relay would reach it.
                let [a, b] = s[1].to_be_bytes();
                let [c, d] = s[2].to_be_bytes();
                return special_purpose(IpAddr::from([a, b, c, d])).map(|_| "6to4 with a non-public IPv4 address");
            }
            special(ip)
        }
    }
}

/// True for an address on the public internet (see [`special_purpose`]).
pub fn is_public_address(ip: IpAddr) -> bool {
    special_purpose(ip).is_none()
}

/// The header a trusted proxy names the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

/// One hop of a forwarding header: an address, optionally with a port (`[v6]:port`, `v4:port`).
fn forwarded_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        return v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (v4, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    v4.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The hops a header lists, first (the client, by its own word) to last (what the proxy in front
/// of Switchboard saw); `None` for a hop that names no address (`unknown`, an obfuscated name, a
/// malformed entry).
fn forwarded_hops(values: &[&str], header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let elements = values.iter().flat_map(|v| v.split(','));
    match header {
        ForwardedHeader::XForwardedFor => elements.map(forwarded_node).collect(),
        ForwardedHeader::Forwarded => elements
            .map(|element| {
                let mut fors = element.split(';').filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then_some(v)
                });
                match (fors.next(), fors.next()) {
                    (Some(v), None) => forwarded_node(v),
                    _ => None,
                }
            })
            .collect(),
    }
}

/// The address a request comes from. Only a peer in `trusted` (the proxies in front of
/// Switchboard) is believed about the client: its header is walked from the right, past hops that
/// are trusted proxies themselves, to the first that is not. Whatever a client wrote further left
/// is never read. A header that is missing, or a hop on that walk that names no address, leaves
/// the peer's own address: a client cannot forge its way out of a limit or into an allow-list.
pub fn client_address(peer: IpAddr, values: &[&str], header: ForwardedHeader, trusted: &[IpNet]) -> IpAddr {
    if !source_allowed(trusted, peer) || values.is_empty() {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_hops(values, header).into_iter().rev() {
        match hop {
            None => return peer,
            Some(ip) if source_allowed(trusted, ip) => client = ip,
            Some(ip) => return ip,
        }
    }
    client
}

/// Checks a prefix token's syntax: 16 to 128 URL-safe characters.
pub fn check_token(token: &str) -> Result<(), String> {
    if (16..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err("must be 16 to 128 characters of A-Z, a-z, 0-9, '-' and '_'".into())
    }
}

/// True when `given` equals `expected`, compared in time that does not depend on where they differ
/// (both are hashed first, so their lengths leak nothing either).
pub fn tokens_equal(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else { return false };
    let (a, b) = (Sha256::digest(expected.as_bytes()), Sha256::digest(given.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_counted_per_ipv4_address_and_ipv6_64() {
        let key = |s: &str| source_key(ip(s)).to_string();
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:ffff::1"), key("2001:db8:1:2::9"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert!(is_flowroute(ip("52.88.246.140")) && is_flowroute(ip("::ffff:52.10.220.50")));
        assert!(!is_flowroute(ip("52.88.246.141")));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn allow_lists() {
        let list = parse_sources(&["flowroute".into(), "10.0.0.0/8".into(), "2001:db8::1".into()]).unwrap_or_default();
        assert!(source_allowed(&list, ip("52.88.246.140")));
        assert!(source_allowed(&list, ip("52.10.220.50")));
        assert!(source_allowed(&list, ip("10.20.30.40")));
        assert!(source_allowed(&list, ip("::ffff:10.1.1.1")), "v4-mapped v6");
        assert!(source_allowed(&list, ip("2001:db8::1")));
        assert!(!source_allowed(&list, ip("52.88.246.141")));
        assert!(!source_allowed(&list, ip("127.0.0.1")));
        assert!(parse_sources(&["not-an-ip".into()]).is_err());
        assert!(parse_sources(&["10.0.0.0/33".into()]).is_err());
    }

    /// Every block of the special-purpose registries, at its first and last address, and the public
    /// addresses just outside where one exists.
    #[test]
    fn public_addresses() {
        let cases: &[(&str, bool)] = &[
            ("0.0.0.0", false),
            ("0.255.255.255", false),
            ("1.0.0.0", true),
            ("9.255.255.255", true),
            ("10.0.0.0", false),
            ("10.255.255.255", false),
            ("11.0.0.0", true),
            ("100.63.255.255", true),
            ("100.64.0.0", false),
            ("100.127.255.255", false),
            ("100.128.0.0", true),
            ("127.0.0.1", false),
            ("127.255.255.255", false),
            ("169.254.169.254", false),
            ("169.254.0.0", false),
            ("169.255.0.0", true),
            ("172.15.255.255", true),
            ("172.16.0.0", false),
            ("172.31.255.255", false),
            ("172.32.0.0", true),
            ("192.0.0.0", false),
            ("192.0.0.255", false),
            ("192.0.1.0", true),
            ("192.0.2.1", false),
            ("192.31.196.1", true),
            ("192.52.193.1", true),
            ("192.88.99.1", false),
            ("192.168.0.0", false),
            ("192.168.255.255", false),
            ("192.169.0.0", true),
            ("192.175.48.1", true),
            ("198.17.255.255", true),
            ("198.18.0.0", false),
            ("198.19.255.255", false),
            ("198.20.0.0", true),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("223.255.255.255", true),
            ("224.0.0.1", false),
            ("239.255.255.255", false),
            ("240.0.0.1", false),
            ("255.255.255.254", false),
            ("255.255.255.255", false),
            ("8.8.8.8", true),
            ("52.88.246.140", true),
            ("::", false),
            ("::1", false),
            ("::a00:1", false),
            ("::8.8.8.8", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::a9fe:a9fe", false),
            ("64:ff9b::808:808", false),
            ("64:ff9b:1::1", false),
            ("64:ff9b:1:ffff::1", false),
            ("64:ff9b:2::1", true),
            ("100::1", false),
            ("100:0:0:1::1", false),
            ("2001::1", false),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
            ("2001:2::1", false),
            ("2001:10::1", false),
            ("2001:1ff:ffff::1", false),
            ("2001:200::1", true),
            ("2001:db8::1", false),
            ("2001:db8:ffff::1", false),
            ("2001:db9::1", true),
            ("2002:0a00:0001::1", false),
            ("2002:a9fe:a9fe::1", false),
            ("2002:7f00:1::1", false),
            ("2002:0808:0808::1", true),
            ("2606:4700::1111", true),
            ("2620:4f:8000::1", true),
            ("3fff::1", false),
            ("3fff:fff:ffff::1", false),
            ("3ffe::1", true),
            ("5f00::1", false),
            ("fc00::1", false),
            ("fd00::1", false),
            ("fdff:ffff::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("feff::1", false),
            ("ff02::1", false),
            ("ffff::1", false),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(addr, public)| {
                let parsed: IpAddr = addr.parse().unwrap_or_else(|_| panic!("{addr} is not an address"));
                is_public_address(parsed) != *public
            })
            .map(|(addr, public)| format!("{addr}: expected {}", if *public { "public" } else { "refused" }))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        // Each table entry parses, so none is silently skipped.
        assert_eq!(SPECIAL.len(), SPECIAL_V4.len() + SPECIAL_V6.len(), "an entry of the tables does not parse");
    }

    #[test]
    fn client_addresses_come_from_trusted_proxies_only() {
        use ForwardedHeader::{Forwarded, XForwardedFor};
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "2001:db8:1::/48".parse().unwrap()];
        let (proxy, inner, outsider) = (ip("10.0.0.5"), ip("10.9.9.9"), ip("198.51.100.9"));
        let cases: &[(IpAddr, &[&str], ForwardedHeader, &str)] = &[
            // A peer that is no trusted proxy is itself the client, whatever it writes.
            (outsider, &["203.0.113.7"], XForwardedFor, "198.51.100.9"),
            (outsider, &["for=203.0.113.7"], Forwarded, "198.51.100.9"),
            // A trusted proxy without the header: the proxy.
            (proxy, &[], XForwardedFor, "10.0.0.5"),
            // The rightmost hop that is not a trusted proxy; what the client wrote before it is not read.
            (proxy, &["203.0.113.7"], XForwardedFor, "203.0.113.7"),
            (proxy, &["1.2.3.4, 203.0.113.7"], XForwardedFor, "203.0.113.7"),
            (proxy, &["garbage, 203.0.113.7"], XForwardedFor, "203.0.113.7"),
            (proxy, &["1.2.3.4, 203.0.113.7, 10.9.9.9"], XForwardedFor, "203.0.113.7"),
            (proxy, &["1.2.3.4", "203.0.113.7"], XForwardedFor, "203.0.113.7"),
            (proxy, &["203.0.113.7:5060"], XForwardedFor, "203.0.113.7"),
            (proxy, &["[2001:db8:2::7]:443"], XForwardedFor, "2001:db8:2::7"),
            (proxy, &["2001:db8:2::7"], XForwardedFor, "2001:db8:2::7"),
            // Every hop a trusted proxy: the first of them.
            (proxy, &["10.1.1.1, 10.9.9.9"], XForwardedFor, "10.1.1.1"),
            // A hop that names no address, on the walk: the peer's own address.
            (proxy, &["203.0.113.7, garbage"], XForwardedFor, "10.0.0.5"),
            (proxy, &["unknown"], XForwardedFor, "10.0.0.5"),
            (proxy, &[""], XForwardedFor, "10.0.0.5"),
            (proxy, &["203.0.113.7,"], XForwardedFor, "10.0.0.5"),
            (proxy, &["[::1"], XForwardedFor, "10.0.0.5"),
            (proxy, &["203.0.113.7:99999"], XForwardedFor, "10.0.0.5"),
            (inner, &["203.0.113.7, 10.0.0.300"], XForwardedFor, "10.9.9.9"),
            // RFC 7239.
            (proxy, &["for=203.0.113.7;proto=https;by=10.0.0.5"], Forwarded, "203.0.113.7"),
            (proxy, &["for=1.2.3.4, For=\"[2001:db8:2::7]:4711\""], Forwarded, "2001:db8:2::7"),
            (proxy, &["for=203.0.113.7, for=10.9.9.9"], Forwarded, "203.0.113.7"),
            (proxy, &["for=unknown"], Forwarded, "10.0.0.5"),
            (proxy, &["for=_hidden"], Forwarded, "10.0.0.5"),
            (proxy, &["proto=https"], Forwarded, "10.0.0.5"),
            (proxy, &["for=1.2.3.4;for=5.6.7.8"], Forwarded, "10.0.0.5"),
            // X-Forwarded-For syntax is not RFC 7239's, nor the other way round.
            (proxy, &["for=203.0.113.7"], XForwardedFor, "10.0.0.5"),
            (proxy, &["203.0.113.7"], Forwarded, "10.0.0.5"),
        ];
        for (peer, values, header, expected) in cases {
            let got = client_address(*peer, values, *header, &trusted);
            assert_eq!(got.to_string(), *expected, "{peer} {header:?} {values:?}");
        }
    }

    #[test]
    fn tokens() {
        assert!(check_token("abcdefghijklmnop").is_ok());
        assert!(check_token("short").is_err());
        assert!(check_token("has space in it, too long enough").is_err());
        assert!(tokens_equal("abcdefghijklmnop", Some("abcdefghijklmnop")));
        assert!(!tokens_equal("abcdefghijklmnop", Some("abcdefghijklmnoq")));
        assert!(!tokens_equal("abcdefghijklmnop", Some("abcdefghijklmnop-longer")));
        assert!(!tokens_equal("abcdefghijklmnop", None));
    }
}
