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

/// True for an address on the public internet: not loopback, private, link-local, shared (CGNAT),
/// documentation, multicast or unspecified — where a server Switchboard was told to fetch from must
/// not be, lest a forged request reach the operator's own network.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_address(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
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

    #[test]
    fn public_addresses() {
        for ok in ["52.88.246.140", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public_address(ip(ok)), "{ok}");
        }
        for no in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public_address(ip(no)), "{no}");
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
