//! SIP MESSAGE delivery's pure parts: the tenant's PBX as a SIP server, an extension's SIP user,
//! and the text a phone is sent.

use std::fmt;

/// How SIP requests reach the PBX. TLS is the default; UDP carries only requests under
/// [`UDP_MAX_BYTES`] (RFC 3261 §18.1.1), larger ones go over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Tls,
    Tcp,
    Udp,
}

/// The largest request sent over UDP; a larger one goes over TCP to the same server.
pub const UDP_MAX_BYTES: usize = 1300;

impl Transport {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }

    /// Parses `tls`, `tcp` or `udp`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "tls" => Ok(Self::Tls),
            "tcp" => Ok(Self::Tcp),
            "udp" => Ok(Self::Udp),
            _ => Err("must be one of tls, tcp or udp".into()),
        }
    }

    /// The port a server listens on when none is given: 5061 for TLS, 5060 otherwise.
    pub fn default_port(self) -> u16 {
        if self == Self::Tls { 5061 } else { 5060 }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the PBX's SIP server listens: a host name or address, and perhaps a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// A DNS name (lower case), an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    pub port: Option<u16>,
}

impl Server {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (v6, after) = rest.split_once(']').ok_or("an IPv6 address must be closed by ']'")?;
            v6.parse::<std::net::Ipv6Addr>().map_err(|_| format!("'{v6}' is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("expected ':' and a port after ']'")?),
            };
            (v6.to_owned(), port)
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (s.to_owned(), None),
            }
        };
        if !host.contains(':') && host.parse::<std::net::Ipv4Addr>().is_err() {
            check_domain(&host)?;
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(format!("'{p}' is not a port (1 to 65535)")),
            },
        };
        Ok(Self { host: host.to_ascii_lowercase(), port })
    }

    /// As stored: the host (an IPv6 address in brackets) and the port if one was given.
    pub fn written(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// The host as it is written in a URI (IPv6 in brackets) with the port.
    pub fn host_port(&self, transport: Transport) -> String {
        let port = self.port.unwrap_or_else(|| transport.default_port());
        if self.host.contains(':') { format!("[{}]:{port}", self.host) } else { format!("{}:{port}", self.host) }
    }
}

/// Checks a DNS domain: dot-separated labels of letters, digits and inner hyphens.
pub fn check_domain(s: &str) -> Result<(), String> {
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if s.is_empty() || s.len() > 253 || !s.split('.').all(ok_label) {
        return Err(format!("'{s}' is not a host name (such as pbx.example.com)"));
    }
    Ok(())
}

/// Checks the user part of a SIP address, such as `101` or `alice.smith`: 1 to 64 letters,
/// digits and `. _ - + ~ *`.
pub fn check_user(s: &str) -> Result<(), String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'~' | b'*');
    if s.is_empty() || s.len() > 64 || !s.bytes().all(ok) {
        return Err(
            "must be 1 to 64 letters, digits and . _ - + ~ * (the user part of a SIP address, such as 101)".into()
        );
    }
    Ok(())
}

/// The text a phone is sent: the body, then each attachment's link on a line of its own.
pub fn phone_text(body: Option<&str>, links: &[String]) -> String {
    let mut out = body.unwrap_or_default().trim_end().to_owned();
    for link in links {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(link);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn servers_parse_with_and_without_ports() {
        assert_eq!(Server::parse("PBX.example.com").unwrap(), Server { host: "pbx.example.com".into(), port: None });
        assert_eq!(Server::parse("10.0.0.5:5080").unwrap().host_port(Transport::Tcp), "10.0.0.5:5080");
        assert_eq!(Server::parse("pbx.example.com").unwrap().host_port(Transport::Tls), "pbx.example.com:5061");
        assert_eq!(Server::parse("[2001:db8::1]:5061").unwrap().host_port(Transport::Udp), "[2001:db8::1]:5061");
        assert_eq!(Server::parse("[2001:DB8::1]").unwrap().written(), "[2001:db8::1]");
        assert_eq!(Server::parse("Pbx.Example.com:5080").unwrap().written(), "pbx.example.com:5080");
        for bad in
            ["", "pbx..example", "-pbx.example", "pbx.example.com:0", "pbx:99999", "[2001:db8::1", "a b", "sip:pbx"]
        {
            assert!(Server::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn users_are_the_user_part_of_an_address() {
        assert!(check_user("101").is_ok());
        assert!(check_user("alice.smith").is_ok());
        for bad in ["", "101@pbx", "a b", "a;b", "<101>", &"1".repeat(65)] {
            assert!(check_user(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_phone_sees_the_body_then_each_link() {
        let links = vec!["https://sb.example/media/a".to_owned(), "https://sb.example/media/b".to_owned()];
        assert_eq!(phone_text(Some("Look "), &links), "Look\nhttps://sb.example/media/a\nhttps://sb.example/media/b");
        assert_eq!(phone_text(None, &links[..1]), "https://sb.example/media/a");
        assert_eq!(phone_text(Some("hi"), &[]), "hi");
    }

    #[test]
    fn transports_read_back_and_default_their_ports() {
        for t in [Transport::Tls, Transport::Tcp, Transport::Udp] {
            assert_eq!(Transport::parse(t.as_str()).unwrap(), t);
        }
        assert!(Transport::parse("TLS").is_err());
        assert_eq!(Transport::Tls.default_port(), 5061);
        assert_eq!(Transport::Udp.default_port(), 5060);
    }
}
