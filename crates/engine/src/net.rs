//! Where Switchboard's own requests may go. A tenant admin sets the webhook URL and the provider
//! endpoint, and the media links come from whoever posts to a prefix: none of them may steer a
//! request into the operator's own network (cloud metadata, databases, admin consoles). Hosts
//! are resolved to public addresses only, plus the networks the operator lists in
//! `private_targets` (an on-premises PBX, a local simulator); an address written into a URL is
//! checked the same way, since it is never resolved. Every client for such URLs is built by
//! [`guarded_client`]: the guarded resolver, no proxy from the environment (a proxy would resolve
//! and connect on Switchboard's behalf, past the guard), and each redirect hop checked like the
//! first (no https→http downgrade, at most [`MAX_REDIRECTS`]).

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use switchboard_core::sources::{is_public_address, source_allowed};

/// The most redirects any request follows.
pub const MAX_REDIRECTS: usize = 3;

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
    check_url_literal(&parsed, private_targets)
}

fn check_url_literal(url: &reqwest::Url, private_targets: &[IpNet]) -> Result<(), String> {
    let literal = match url.host() {
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

/// Whether a redirect from `previous` (the URLs requested so far, the first one included) to `next`
/// may be followed; `Err` says why not. Names in `next` are checked when resolved, by the client's
/// guarded resolver.
pub(crate) fn check_redirect(
    previous: &[reqwest::Url],
    next: &reqwest::Url,
    private_targets: &[IpNet],
    max: usize,
) -> Result<(), String> {
    if previous.len() > max {
        return Err(format!("more than {max} redirects"));
    }
    let https_before = previous.iter().any(|u| u.scheme() == "https");
    match next.scheme() {
        "https" => {}
        "http" if !https_before => {}
        "http" => return Err(format!("refusing a redirect from https to {next}: a downgrade to plain http")),
        other => return Err(format!("refusing a redirect to a {other} URL")),
    }
    check_url_literal(next, private_targets)
}

/// How a guarded client treats redirects.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Redirects {
    /// Never follow one (the answer is the 3xx itself): webhooks, and Flowroute, to whom
    /// credentials go.
    Refuse,
    /// Follow up to [`MAX_REDIRECTS`], each hop checked by [`check_redirect`].
    Follow,
}

/// The one builder for clients whose URLs someone else chose (a tenant admin, or whoever posts to
/// a prefix): resolved through [`Guarded`], never through a proxy, redirects per `redirects`.
pub(crate) fn guarded_client(private_targets: &[IpNet], redirects: Redirects) -> reqwest::ClientBuilder {
    let allowed = Arc::new(private_targets.to_vec());
    let policy = match redirects {
        Redirects::Refuse => reqwest::redirect::Policy::none(),
        Redirects::Follow => {
            let allowed = allowed.clone();
            reqwest::redirect::Policy::custom(move |attempt| {
                match check_redirect(attempt.previous(), attempt.url(), &allowed, MAX_REDIRECTS) {
                    Ok(()) => attempt.follow(),
                    Err(why) => attempt.error(why),
                }
            })
        }
    };
    reqwest::Client::builder()
        .dns_resolver(Guarded { private_targets: allowed })
        .no_proxy()
        .redirect(policy)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
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

    #[test]
    fn every_redirect_hop_is_checked() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let lan: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let https = [url("https://media.example.com/a.jpg")];
        let http = [url("http://127.0.0.1:9/a.jpg")];
        assert!(check_redirect(&https, &url("https://cdn.example.com/a.jpg"), &lan, 3).is_ok());
        for (previous, next, why) in [
            (&https[..], "http://cdn.example.com/a.jpg", "downgrade"),
            (&https[..], "https://169.254.169.254/latest/meta-data", "169.254.169.254"),
            (&https[..], "https://[::ffff:10.0.0.1]/", "10.0.0.1"),
            (&https[..], "https://127.0.0.2/", "127.0.0.2"),
            (&https[..], "ftp://media.example.com/a.jpg", "ftp"),
            (&https[..], "file:///etc/passwd", "file"),
            (&http[..], "http://127.0.0.2:9/b.jpg", "127.0.0.2"),
        ] {
            let refused = check_redirect(previous, &url(next), &lan, 3);
            assert!(refused.as_ref().is_err_and(|e| e.contains(why)), "{next}: {refused:?}");
        }
        // Plain http is followed only where the chain never used https, and to allowed hosts.
        assert!(check_redirect(&http, &url("http://127.0.0.1:9/b.jpg"), &lan, 3).is_ok());
        // The first URL and three redirects: a fourth is refused.
        let chain: Vec<reqwest::Url> = (0..3).map(|i| url(&format!("https://m{i}.example.com/"))).collect();
        assert!(check_redirect(&chain, &url("https://m3.example.com/"), &lan, 3).is_ok());
        let chain: Vec<reqwest::Url> = (0..4).map(|i| url(&format!("https://m{i}.example.com/"))).collect();
        assert!(check_redirect(&chain, &url("https://m4.example.com/"), &lan, 3).is_err());
    }
}
