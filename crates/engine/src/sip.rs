//! SIP MESSAGE delivery (RFC 3428): claims `sip_delivery` jobs and sends each text to its
//! extension's address on the tenant's PBX, `sip:<user>@<domain>`, from the sender's number.
//!
//! [`Phones`] is Switchboard's own small interface to the SIP stack (rsipstack, pinned): one
//! method that sends one MESSAGE, answers a digest challenge (`401` or `407`) once with the
//! tenant's credentials, and says how it ended. The rest of the engine knows nothing of the stack.
//!
//! Outcomes: `200` is delivered, `202` accepted (a store-and-forward server keeps it for the
//! phone); `408`, `480`, `5xx`, no answer and no connection are tried again on the delivery
//! schedule; any other answer fails the delivery at once with its reason. Each attempt writes a
//! `message.delivery` event.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rsipstack::EndpointBuilder;
use rsipstack::dialog::authenticate::{Credential, handle_client_authenticate};
use rsipstack::platform::CancellationToken;
use rsipstack::sip::{self, Header, Method, SipMessage, StatusCode};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::{Transaction, make_tag};
use rsipstack::transport::transport_layer::DomainResolver;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, TransportLayer};
use secrecy::ExposeSecret;
use switchboard_core::JobKind;
use switchboard_core::event::{DeliveryAttempted, DeliveryChannel, DeliveryOutcome};
use switchboard_core::sip::{Server, Transport, UDP_MAX_BYTES, phone_text};
use switchboard_store::outbox::ClaimedJob;
use switchboard_store::sip::SipDelivery;
use tokio::sync::{OnceCell, watch};

use crate::Engine;
use crate::net::{Targets, target_allowed};
use crate::worker::{self, Attempt, Reported};

/// SIP deliveries held at once by one instance.
const CONCURRENCY: u32 = 64;

/// Of those, the most one tenant may hold (in every instance together): a PBX that does not
/// answer holds these, and the other tenants' phones still get their texts.
const PER_TENANT: u32 = 16;

/// How long a delivery waits for its text's attachments to be fetched before it sends without them.
const MEDIA_WAIT: Duration = Duration::from_secs(2);

/// How one MESSAGE ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A final response, with its reason phrase.
    Final(u16, String),
    /// A challenge came again after credentials were sent: they were refused.
    Refused(u16),
    /// A challenge came and the tenant has no credentials to answer it.
    Challenged(u16),
    /// No final response in time.
    Silent,
    /// It could not be sent (the server's address, a refused connection, a stack error).
    Unsent(String),
}

/// One MESSAGE to send.
pub(crate) struct Outgoing<'a> {
    pub server: &'a Server,
    pub transport: Transport,
    /// The Request-URI and `To`: the extension's address.
    pub to: String,
    /// `From`: the sender's number at the same domain.
    pub from: String,
    pub body: String,
    /// The digest username and password.
    pub credential: Option<(&'a str, &'a str)>,
}

/// Switchboard's SIP client: one endpoint per process, made at the first delivery.
pub(crate) struct Phones {
    endpoint: EndpointInnerRef,
    stop: CancellationToken,
}

impl std::fmt::Debug for Phones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phones").finish_non_exhaustive()
    }
}

impl Drop for Phones {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Resolves the PBX's host name to the addresses Switchboard may reach (see [`crate::net`]).
struct GuardedResolver {
    targets: Arc<Targets>,
}

#[async_trait::async_trait]
impl DomainResolver for GuardedResolver {
    async fn resolve(&self, target: &SipAddr) -> rsipstack::Result<SipAddr> {
        let host = target.addr.host.to_string();
        let port = target.addr.port.as_ref().map_or(5060, |p| p.value());
        let found = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| rsipstack::Error::Error(format!("{host} could not be resolved: {e}")))?;
        let allowed: Vec<SocketAddr> = found.filter(|a| target_allowed(a.ip(), &self.targets)).collect();
        let addr = allowed.first().ok_or_else(|| {
            rsipstack::Error::Error(format!(
                "{host} resolves to no address Switchboard may reach (private networks need private_targets)"
            ))
        })?;
        Ok(SipAddr { r#type: target.r#type, addr: (*addr).into() })
    }
}

impl Phones {
    /// Starts the endpoint: a UDP socket on an ephemeral port (TCP and TLS connect as needed),
    /// trusting the CA certificates in `ca` (PEM) for TLS.
    async fn start(targets: Arc<Targets>, ca: Option<Vec<u8>>) -> Result<Self, String> {
        let stop = CancellationToken::new();
        let layer = TransportLayer::new_with_domain_resolver(stop.clone(), Box::new(GuardedResolver { targets }));
        let bind: SocketAddr = (IpAddr::from([0, 0, 0, 0]), 0).into();
        let udp = UdpConnection::create_connection(bind, None, Some(stop.child_token()))
            .await
            .map_err(|e| format!("opening a UDP socket for SIP: {e}"))?;
        layer.add_transport(udp.into());
        if let Some(ca) = ca {
            layer.set_tls_config(rsipstack::transport::TlsConfig { ca_certs: Some(ca), ..Default::default() });
        }
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(stop.clone())
            .with_transport_layer(layer)
            .with_user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
            .build();
        let inner = endpoint.inner.clone();
        // Switchboard takes no requests over SIP. Each one that reaches its socket is refused at
        // once, rather than left queued (unread, they would pile up without bound).
        let mut incoming = endpoint.incoming_transactions().map_err(|e| format!("starting SIP: {e}"))?;
        tokio::spawn(async move {
            while let Some(mut tx) = incoming.recv().await {
                let _ = tx.reply(StatusCode::MethodNotAllowed).await;
            }
        });
        tokio::spawn(async move { endpoint.serve().await });
        Ok(Self { endpoint: inner, stop })
    }

    /// Sends one MESSAGE and waits up to `timeout` for its final answer.
    pub(crate) async fn send(&self, out: &Outgoing<'_>, timeout: Duration) -> Answer {
        match tokio::time::timeout(timeout, self.exchange(out)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => Answer::Unsent(e),
            Err(_) => Answer::Silent,
        }
    }

    async fn exchange(&self, out: &Outgoing<'_>) -> Result<Answer, String> {
        let to = sip::Uri::try_from(out.to.as_str()).map_err(|e| format!("the address {}: {e}", out.to))?;
        let from = sip::Uri::try_from(out.from.as_str()).map_err(|e| format!("the address {}: {e}", out.from))?;
        let body = out.body.as_bytes().to_vec();
        // Headers and body together stay well under the limit when the body does with room to spare.
        let transport = match out.transport {
            Transport::Udp if body.len() + 700 > UDP_MAX_BYTES => Transport::Tcp,
            t => t,
        };
        let host_port = out.server.host_port(transport);
        let addr =
            sip::HostWithPort::try_from(host_port.as_str()).map_err(|e| format!("the server {host_port}: {e}"))?;
        let destination = SipAddr {
            r#type: Some(match transport {
                Transport::Tls => sip::Transport::Tls,
                Transport::Tcp => sip::Transport::Tcp,
                Transport::Udp => sip::Transport::Udp,
            }),
            addr,
        };
        let (connection, _) = self
            .endpoint
            .transport_layer
            .lookup(&destination, None)
            .await
            .map_err(|e| format!("could not reach {host_port} over {transport}: {e}"))?;
        let via = self.endpoint.get_via(Some(connection.get_addr().clone()), None).map_err(|e| e.to_string())?;
        let from = sip::typed::From { display_name: None, uri: from, params: vec![] }.with_tag(make_tag());
        let to_header = sip::typed::To { display_name: None, uri: to.clone(), params: vec![] };
        let mut request = self.endpoint.make_request(Method::Message, to, via, from, to_header, 1, None);
        request.headers.push(Header::ContentType("text/plain;charset=UTF-8".into()));
        request.headers.push(Header::ContentLength(u32::try_from(body.len()).unwrap_or(u32::MAX).into()));
        request.body = body;
        let key = TransactionKey::from_request(&request, TransactionRole::Client).map_err(|e| e.to_string())?;
        let mut tx = Transaction::new_client(key, request, self.endpoint.clone(), None);
        tx.destination = Some(destination);
        tx.send().await.map_err(|e| format!("sending to {host_port}: {e}"))?;
        let mut answered_challenge = false;
        while let Some(message) = tx.receive().await {
            let SipMessage::Response(response) = message else { continue };
            let code = response.status_code.code();
            match response.status_code {
                StatusCode::Unauthorized | StatusCode::ProxyAuthenticationRequired => {
                    if answered_challenge {
                        return Ok(Answer::Refused(code));
                    }
                    let Some((username, password)) = out.credential else { return Ok(Answer::Challenged(code)) };
                    let credential = Credential {
                        username: username.to_owned(),
                        password: password.to_owned(),
                        realm: None,
                        auth_username: None,
                    };
                    answered_challenge = true;
                    tx = handle_client_authenticate(2, &tx, response, &credential)
                        .await
                        .map_err(|e| format!("answering the challenge: {e}"))?;
                    tx.send().await.map_err(|e| format!("sending to {host_port}: {e}"))?;
                }
                _ if code < 200 => {}
                ref status => return Ok(Answer::Final(code, status.text().to_owned())),
            }
        }
        Ok(Answer::Silent)
    }
}

/// What an answer means for the delivery: the job's attempt, and the event's outcome and reason.
fn judge(answer: &Answer, last: bool) -> (Attempt, DeliveryOutcome, Option<u16>, Option<String>) {
    let retry = |error: String, status: Option<u16>| {
        let outcome = if last { DeliveryOutcome::Failed } else { DeliveryOutcome::Retrying };
        (Attempt::Retry { error: error.clone(), retry_after: None, status }, outcome, status, Some(error))
    };
    let fail = |error: String, status: Option<u16>| {
        (Attempt::Fail { error: error.clone(), status }, DeliveryOutcome::Failed, status, Some(error))
    };
    match answer {
        Answer::Final(202, _) => (Attempt::Done, DeliveryOutcome::Accepted, Some(202), None),
        Answer::Final(code @ 200..=299, _) => (Attempt::Done, DeliveryOutcome::Delivered, Some(*code), None),
        Answer::Final(code @ (408 | 480 | 500..=599), reason) => {
            retry(format!("the PBX answered {code} {reason}"), Some(*code))
        }
        Answer::Final(code, reason) => fail(format!("the PBX answered {code} {reason}"), Some(*code)),
        Answer::Refused(code) => {
            fail(format!("the PBX refused the SIP credentials (it challenged them again with {code})"), Some(*code))
        }
        Answer::Challenged(code) => {
            fail(format!("the PBX asked for credentials ({code}) and the tenant's SIP settings have none"), Some(*code))
        }
        Answer::Silent => retry("the PBX did not answer in time".into(), None),
        Answer::Unsent(e) => retry(e.clone(), None),
    }
}

/// The extension's address and the sender's, at the tenant's SIP domain.
fn addresses(d: &SipDelivery, server: &Server) -> (String, String) {
    let domain = d
        .domain
        .clone()
        .unwrap_or_else(|| if server.host.contains(':') { format!("[{}]", server.host) } else { server.host.clone() });
    (format!("sip:{}@{domain}", d.user), format!("sip:{}@{domain}", d.from))
}

async fn deliver(engine: &Engine, job: &ClaimedJob, delivery: Result<Option<SipDelivery>, String>) -> Reported {
    let d = match delivery {
        Ok(Some(d)) => d,
        Ok(None) => return (Attempt::Done, None),
        Err(error) => return (Attempt::Retry { error, retry_after: None, status: None }, None),
    };
    let Ok(server) = Server::parse(&d.server) else {
        let error = format!("the tenant's SIP server '{}' is not valid", d.server);
        return (Attempt::Fail { error, status: None }, None);
    };
    let (to, from) = addresses(&d, &server);
    if d.media_pending && within_media_wait(job) {
        return (Attempt::Wait(Utc::now() + chrono::Duration::milliseconds(500)), None);
    }
    let links: Vec<String> = d.media_tokens.iter().map(|t| format!("{}/media/{t}", engine.config.public_url)).collect();
    let body = phone_text(d.body.as_deref(), &links);
    let literal = server.host.parse::<IpAddr>().ok();
    let answer = if literal.is_some_and(|ip| !target_allowed(ip, &engine.targets)) {
        Answer::Unsent(format!("{} is not an address Switchboard may reach (see private_targets)", server.host))
    } else {
        match engine.phones().await {
            Ok(phones) => {
                let credential = d.credential.as_ref().map(|(u, p)| (u.as_str(), p.expose_secret()));
                let out = Outgoing { server: &server, transport: d.transport, to: to.clone(), from, body, credential };
                phones.send(&out, engine.config.sip_timeout).await
            }
            Err(e) => Answer::Unsent(e),
        }
    };
    let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    let last = engine.config.retry.next_delay(attempts, None).is_none();
    let (attempt, outcome, status, reason) = judge(&answer, last);
    match &attempt {
        Attempt::Done => tracing::info!(job_id = %job.id, status = ?status, "delivered to the phone"),
        _ => tracing::warn!(job_id = %job.id, address = %to, reason = ?reason, "a SIP delivery failed"),
    }
    let event = DeliveryAttempted {
        message_id: job.message_id.unwrap_or_default(),
        extension: d.extension,
        channel: DeliveryChannel::Sip,
        address: to,
        attempt: job.attempts,
        outcome,
        status,
        reason,
    };
    (attempt, Some(event))
}

/// Whether a text's attachments may still be waited for: only just after it arrived.
fn within_media_wait(job: &ClaimedJob) -> bool {
    // A job id is time-ordered (UUIDv7): its time is when the text was stored.
    let Some((secs, nanos)) = job.id.get_timestamp().map(|t| t.to_unix()) else { return false };
    let Some(stored) = chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), nanos) else {
        return false;
    };
    (Utc::now() - stored).to_std().is_ok_and(|age| age < MEDIA_WAIT)
}

impl Engine {
    /// The process's SIP endpoint, started at the first delivery.
    async fn phones(&self) -> Result<&Phones, String> {
        self.phones_client
            .get_or_try_init(|| async {
                let ca = match &self.config.sip_ca_file {
                    Some(path) => Some(
                        tokio::fs::read(path)
                            .await
                            .map_err(|e| format!("reading sip_ca_file {}: {e}", path.display()))?,
                    ),
                    None => None,
                };
                Phones::start(self.targets.clone(), ca).await
            })
            .await
    }
}

/// The lazily started endpoint's cell.
pub(crate) type PhonesCell = OnceCell<Phones>;

/// Runs the SIP deliverer until `stop` turns true.
pub async fn run_sip_worker(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let lease = engine.config.sip_timeout * 2 + Duration::from_secs(5);
    let kind = worker::Kind {
        kind: JobKind::SipDelivery,
        concurrency: CONCURRENCY,
        lease,
        per_tenant: PER_TENANT,
        linger: Duration::from_millis(10),
        wake: |e| &e.phones,
        retry: |e| &e.config.retry,
    };
    let load = |engine: Arc<Engine>, jobs: Vec<ClaimedJob>| async move {
        engine.store.sip_deliveries(&jobs).await.map_err(|e| format!("loading the texts: {e}"))
    };
    let work = |engine: Arc<Engine>, job: ClaimedJob, loaded| async move { deliver(&engine, &job, loaded).await };
    worker::run_channel(engine, kind, stop, load, work).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn answers_decide_done_retry_or_fail() {
        let outcome = |a: Answer| {
            let (attempt, outcome, ..) = judge(&a, false);
            let kind = match attempt {
                Attempt::Done => "done",
                Attempt::Retry { .. } => "retry",
                Attempt::Fail { .. } => "fail",
                Attempt::Wait(_) => "wait",
            };
            (kind, outcome)
        };
        assert_eq!(outcome(Answer::Final(200, "OK".into())), ("done", DeliveryOutcome::Delivered));
        assert_eq!(outcome(Answer::Final(202, "Accepted".into())), ("done", DeliveryOutcome::Accepted));
        for code in [408, 480, 500, 503, 599] {
            assert_eq!(outcome(Answer::Final(code, "x".into())), ("retry", DeliveryOutcome::Retrying), "{code}");
        }
        for code in [400, 403, 404, 415, 486, 603, 302] {
            assert_eq!(outcome(Answer::Final(code, "x".into())), ("fail", DeliveryOutcome::Failed), "{code}");
        }
        assert_eq!(outcome(Answer::Refused(407)), ("fail", DeliveryOutcome::Failed));
        assert_eq!(outcome(Answer::Challenged(401)), ("fail", DeliveryOutcome::Failed));
        assert_eq!(outcome(Answer::Silent), ("retry", DeliveryOutcome::Retrying));
        assert_eq!(outcome(Answer::Unsent("refused".into())), ("retry", DeliveryOutcome::Retrying));
        // The last try that fails is reported failed, not retrying.
        assert_eq!(judge(&Answer::Silent, true).1, DeliveryOutcome::Failed);
        let (_, _, status, reason) = judge(&Answer::Final(403, "Forbidden".into()), false);
        assert_eq!((status, reason.as_deref()), (Some(403), Some("the PBX answered 403 Forbidden")));
    }
}
