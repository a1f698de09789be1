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

/// Where Switchboard's own requests may go: public addresses (unless `public` is off) and the
/// networks in `private`.
#[derive(Debug, Clone)]
pub struct Targets {
    pub private: Vec<IpNet>,
    /// Whether public addresses may be reached (off where everything Switchboard talks to is on
    /// a private network, and in tests, so that nothing leaves the machine).
    pub public: bool,
}

impl Targets {
    /// Public addresses and the `private` networks.
    pub fn new(private: &[IpNet], public: bool) -> Self {
        Self { private: private.to_vec(), public }
    }
}

/// Whether a request may go to `ip`.
pub fn target_allowed(ip: std::net::IpAddr, targets: &Targets) -> bool {
    (targets.public && is_public_address(ip)) || source_allowed(&targets.private, ip)
}

/// A resolver that keeps only the addresses a request may go to.
#[derive(Clone)]
pub(crate) struct Guarded {
    pub targets: Arc<Targets>,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.targets.clone();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| target_allowed(a.ip(), &allowed))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "{host} resolves to no address Switchboard may reach (private networks need private_targets)"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Refuses a URL whose host is an address a request may not go to.
pub(crate) fn check_literal(url: &str, targets: &Targets) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    check_url_literal(&parsed, targets)
}

fn check_url_literal(url: &reqwest::Url, targets: &Targets) -> Result<(), String> {
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    match literal {
        Some(ip) if !target_allowed(ip, targets) => {
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
    targets: &Targets,
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
    check_url_literal(next, targets)
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
pub(crate) fn guarded_client(targets: &Arc<Targets>, redirects: Redirects) -> reqwest::ClientBuilder {
    let allowed = targets.clone();
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
        .dns_resolver(Guarded { targets: allowed })
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
        let none = Targets::new(&[], true);
        let lan = Targets::new(&["10.20.0.0/16".parse().unwrap()], true);
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
        // With public addresses off, only the listed networks remain.
        let lan_only = Targets::new(&["10.20.0.0/16".parse().unwrap()], false);
        assert!(check_literal("https://8.8.8.8/", &lan_only).is_err());
        assert!(check_literal("https://10.20.1.5/hook", &lan_only).is_ok());
    }

    #[test]
    fn every_redirect_hop_is_checked() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let lan = Targets::new(&["127.0.0.1/32".parse().unwrap()], true);
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
