//! Where Switchboard's own requests may go. A tenant admin sets the webhook URL and the provider
//! endpoint, and the media links come from whoever posts to a prefix: none of them may steer a
//! request into the operator's own network (cloud metadata, databases, admin consoles). Hosts
//! are resolved to public addresses only, plus the networks the operator lists in
//! `private_targets` (an on-premises PBX, a local simulator); an address written into a URL is
//! checked the same way, since it is never resolved.

use std::sync::Arc;

use ipnet::IpNet;
use switchboard_core::sources::{is_public_address, source_allowed};

/// Whether a request may go to `ip`.
pub fn target_allowed(ip: std::net::IpAddr, private_targets: &[IpNet]) -> bool {
    is_public_address(ip) || source_allowed(private_targets, ip)
}

/// A resolver that keeps only the addresses a request may go to.
#[derive(Clone)]
pub(crate) struct Guarded {
    pub private_targets: Arc<Vec<IpNet>>,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.private_targets.clone();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| target_allowed(a.ip(), &allowed))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address (private networks need private_targets)").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Refuses a URL whose host is an address a request may not go to.
pub(crate) fn check_literal(url: &str, private_targets: &[IpNet]) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    match literal {
        Some(ip) if !target_allowed(ip, private_targets) => {
            Err(format!("refusing to connect to {ip}: not a public address (private networks need private_targets)"))
        }
        _ => Ok(()),
    }
}

/// An error with its causes, for a log line or a delivery's last error.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_and_listed_networks_are_reachable() {
        let none: Vec<IpNet> = vec![];
        let lan: Vec<IpNet> = vec!["10.20.0.0/16".parse().unwrap()];
        assert!(check_literal("https://pbx.example.com/hook", &none).is_ok(), "names are checked when resolved");
        for url in [
            "https://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:8080/",
            "https://[::1]/",
            "https://10.20.1.5/",
        ] {
            assert!(check_literal(url, &none).is_err(), "{url}");
        }
        assert!(check_literal("https://10.20.1.5/hook", &lan).is_ok());
        assert!(check_literal("https://10.21.1.5/hook", &lan).is_err());
        assert!(check_literal("https://8.8.8.8/", &none).is_ok());
    }
}
