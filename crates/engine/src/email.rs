//! Email when nobody answers: claims `email_fallback` jobs (due an extension's delay after the
//! text arrived) and, unless someone of the extension saw the text meanwhile, emails it through
//! the operator's SMTP server (STARTTLS or TLS, always encrypted) with a Message-ID and a
//! Reply-To address that carries the text's signed token. Replies come back through
//! [`Engine::email_reply`]: the token checked, the sender one of the text's extensions, the quoted
//! part cut off, and what is left sent as a text from that extension.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::JobKind;
use switchboard_core::event::{DeliveryAttempted, DeliveryChannel, DeliveryOutcome};
use switchboard_core::sip::phone_text;
use switchboard_store::email::EmailFallback;
use switchboard_store::outbound::{SendInput, Sender};
use switchboard_store::outbox::ClaimedJob;
use tokio::sync::{OnceCell, watch};

use crate::Engine;
use crate::worker::{self, Attempt, Reported};

/// Emails held at once by one instance.
const CONCURRENCY: u32 = 16;

/// Of those, the most one tenant may hold (in every instance together).
const PER_TENANT: u32 = 4;

/// How encrypted the connection to the SMTP server is: never plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain at first, then STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The operator's outgoing mail.
#[derive(Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The CA certificates (PEM) the SMTP server's certificate is checked against; none: the
    /// system's.
    pub ca_file: Option<PathBuf>,
    /// The address emails come from, such as `texts@sms.example.net`.
    pub from: String,
    /// The domain of the reply addresses, `reply+<token>@<domain>`, whose mail the provider posts
    /// to `/email/inbound`.
    pub reply_domain: String,
    pub timeout: Duration,
    /// The token `POST /email/inbound` requires; none: replies are off.
    pub ingress_token: Option<SecretString>,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .field("reply_domain", &self.reply_domain)
            .finish_non_exhaustive()
    }
}

/// The lazily built SMTP client.
pub(crate) type MailerCell = OnceCell<AsyncSmtpTransport<Tokio1Executor>>;

async fn mailer(s: &EmailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut tls = TlsParameters::builder(s.host.clone());
    if let Some(path) = &s.ca_file {
        let pem = tokio::fs::read(path).await.map_err(|e| format!("reading smtp_ca_file {}: {e}", path.display()))?;
        let ca = Certificate::from_pem(&pem).map_err(|e| format!("smtp_ca_file {}: {e}", path.display()))?;
        tls = tls.certificate_store(CertificateStore::None).add_root_certificate(ca);
    }
    let tls = tls.build_rustls().map_err(|e| format!("SMTP TLS settings: {e}"))?;
    let tls = match s.security {
        SmtpSecurity::StartTls => Tls::Required(tls),
        SmtpSecurity::Tls => Tls::Wrapper(tls),
    };
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host).port(s.port).tls(tls).timeout(Some(s.timeout));
    if let (Some(user), Some(password)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
    }
    Ok(builder.build())
}

/// Who sent the text, as a person reads it: the contact's name and the number, or the number.
fn who(f: &EmailFallback) -> String {
    match &f.contact {
        Some(name) => format!("{name} ({})", f.from),
        None => f.from.clone(),
    }
}

/// The line above which a reply is written; what follows it in a reply is the quoted email.
const REPLY_ABOVE: &str = "## Write your reply above this line ##";

/// The email for one text.
fn compose(s: &EmailSettings, f: &EmailFallback, message_id: uuid::Uuid, links: &[String]) -> Result<Message, String> {
    let bad = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let from = Mailbox::new(
        Some(format!("{} via {}", who(f), f.tenant_name)),
        s.from.parse().map_err(|e| bad("email_from", &e))?,
    );
    let reply_to: Mailbox =
        format!("reply+{}@{}", f.reply_token, s.reply_domain).parse().map_err(|e| bad("the reply address", &e))?;
    let to: Mailbox = f.to.parse().map_err(|e| bad("the extension's email", &e))?;
    let text = phone_text(f.body.as_deref(), links);
    let body = format!(
        "{REPLY_ABOVE}\n\n{text}\n\n-- \n{} texted {} ({}) for extension {}, and nobody had read it after {} \
         minutes.\nReply to this email to answer by text from {}.\n",
        who(f),
        f.number,
        f.tenant_name,
        f.extension,
        f.delay_minutes,
        f.number,
    );
    Message::builder()
        .from(from)
        .reply_to(reply_to)
        .to(to)
        .subject(format!("Text from {}", who(f)))
        .message_id(Some(format!("<{}.{}@{}>", message_id.simple(), f.extension, s.reply_domain)))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("composing the email: {e}"))
}

async fn deliver(engine: &Engine, job: &ClaimedJob, loaded: Result<Option<EmailFallback>, String>) -> Reported {
    let f = match loaded {
        Ok(Some(f)) => f,
        Ok(None) => return (Attempt::Done, None),
        Err(error) => return (Attempt::Retry { error, retry_after: None, status: None }, None),
    };
    let message_id = job.message_id.unwrap_or_default();
    let event = |outcome, reason: Option<String>| DeliveryAttempted {
        message_id,
        extension: f.extension.clone(),
        channel: DeliveryChannel::Email,
        address: f.to.clone(),
        attempt: job.attempts,
        outcome,
        status: None,
        reason,
    };
    if let Some(seen) = &f.seen {
        return (Attempt::Done, Some(event(DeliveryOutcome::Skipped, Some(format!("not emailed: {seen}")))));
    }
    let Some(settings) = &engine.config.email else {
        let error = "this server has no SMTP settings (smtp_host), so it sends no email".to_owned();
        return (
            Attempt::Fail { error: error.clone(), status: None },
            Some(event(DeliveryOutcome::Failed, Some(error))),
        );
    };
    let links: Vec<String> = f.media_tokens.iter().map(|t| format!("{}/media/{t}", engine.config.public_url)).collect();
    let sent = match compose(settings, &f, message_id, &links) {
        Ok(email) => match engine.mailer.get_or_try_init(|| mailer(settings)).await {
            Ok(mailer) => mailer.send(email).await.map_err(|e| (e.is_permanent(), format!("the mail server: {e}"))),
            Err(e) => Err((false, e)),
        },
        Err(e) => Err((true, e)),
    };
    let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    match sent {
        Ok(_) => {
            tracing::info!(job_id = %job.id, "emailed a text nobody had read");
            (Attempt::Done, Some(event(DeliveryOutcome::Delivered, None)))
        }
        Err((true, error)) => {
            (Attempt::Fail { error: error.clone(), status: None }, Some(event(DeliveryOutcome::Failed, Some(error))))
        }
        Err((false, error)) => {
            let last = engine.config.retry.next_delay(attempts, None).is_none();
            let outcome = if last { DeliveryOutcome::Failed } else { DeliveryOutcome::Retrying };
            (
                Attempt::Retry { error: error.clone(), retry_after: None, status: None },
                Some(event(outcome, Some(error))),
            )
        }
    }
}

/// Runs the email sender until `stop` turns true.
pub async fn run_email_worker(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let timeout = engine.config.email.as_ref().map_or(Duration::from_secs(30), |s| s.timeout);
    let kind = worker::Kind {
        kind: JobKind::EmailFallback,
        concurrency: CONCURRENCY,
        lease: timeout * 2 + Duration::from_secs(5),
        per_tenant: PER_TENANT,
        linger: Duration::from_millis(10),
        // Due minutes after they are written: the poll finds them.
        wake: |e| &e.mail,
        retry: |e| &e.config.retry,
    };
    let load = |engine: Arc<Engine>, jobs: Vec<ClaimedJob>| async move {
        engine.store.email_fallbacks(&jobs).await.map_err(|e| format!("loading the texts: {e}"))
    };
    let work = |engine: Arc<Engine>, job: ClaimedJob, loaded| async move { deliver(&engine, &job, loaded).await };
    worker::run_channel(engine, kind, stop, load, work).await;
}

/// Why an email reply was not sent as a text.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("The body is not an email (RFC 822).")]
    NotAnEmail,
    #[error("The email is addressed to no reply address of this server (reply+…@{0}).")]
    NoReplyAddress(String),
    #[error("The reply address names no text: it was not made by this server, or it was changed.")]
    UnknownToken,
    #[error("The email names no sender (From).")]
    NoSender,
    #[error("The reply has no text above the quoted email.")]
    Empty,
    #[error("This server has no email settings (email_from), so it takes no email replies.")]
    Off,
    #[error(transparent)]
    Store(#[from] switchboard_store::StoreError),
}

/// The reply without what it quotes: everything from the first line that starts the quoted email
/// (this server's marker, `On … wrote:`, an Outlook header block, a `>` line) or a signature
/// (`-- `), trimmed.
pub fn strip_quoted(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        let quoted_marker = t.trim_start_matches(['>', ' ']).starts_with(REPLY_ABOVE);
        let wrote = t.ends_with("wrote:");
        let outlook = t.starts_with("-----Original Message-----") || t.starts_with("________________________________");
        if quoted_marker || wrote || outlook || t.starts_with('>') || line == "-- " || line == "--" {
            // An `On … wrote:` line may have wrapped: its start goes too.
            if wrote && !t.starts_with("On ") && kept.last().is_some_and(|l| l.trim().starts_with("On ")) {
                kept.pop();
            }
            break;
        }
        kept.push(line);
    }
    kept.join("\n").trim().to_owned()
}

impl Engine {
    /// Sends an email reply (raw RFC 822) as a text from the extension that wrote it to the
    /// customer of the text it answers. The email's Message-ID is the send's idempotency key: a
    /// reply posted twice is sent once.
    pub async fn email_reply(&self, raw: &[u8]) -> Result<switchboard_store::outbound::Queued, ReplyError> {
        let settings = self.config.email.as_ref().ok_or(ReplyError::Off)?;
        let email = mail_parser::MessageParser::default().parse(raw).ok_or(ReplyError::NotAnEmail)?;
        if email.headers().is_empty() {
            return Err(ReplyError::NotAnEmail);
        }
        let domain = settings.reply_domain.to_ascii_lowercase();
        let mut recipients: Vec<String> = Vec::new();
        for header in ["To", "Cc", "Delivered-To", "X-Original-To"] {
            for value in email.header_values(header) {
                if let Some(list) = value.as_address() {
                    recipients.extend(list.iter().filter_map(|a| a.address().map(str::to_owned)));
                } else if let Some(text) = value.as_text() {
                    recipients.push(text.trim().trim_matches(['<', '>']).to_owned());
                }
            }
        }
        let token = recipients
            .iter()
            .filter_map(|a| {
                let (local, host) = a.rsplit_once('@')?;
                let token = local.strip_prefix("reply+").or_else(|| local.strip_prefix("REPLY+"))?;
                host.eq_ignore_ascii_case(&domain).then(|| token.to_owned())
            })
            .next()
            .ok_or(ReplyError::NoReplyAddress(domain))?;
        let message_id = self.store.reply_message(&token).ok_or(ReplyError::UnknownToken)?;
        let sender = email
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address())
            .map(str::to_owned)
            .ok_or(ReplyError::NoSender)?;
        let target = self.store.reply_target(message_id, &sender).await?;
        let text = strip_quoted(&email.body_text(0).unwrap_or_default());
        if text.is_empty() {
            return Err(ReplyError::Empty);
        }
        // One send per email, however often the provider posts it.
        let key = match email.message_id() {
            Some(id) => format!("email:{}", id.chars().take(200).collect::<String>()),
            None => {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(raw);
                format!("email:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
            }
        };
        let input = SendInput {
            to: target.remote,
            body: Some(text),
            from: Some(target.number),
            media_urls: Vec::new(),
            attachments: Vec::new(),
            automated: false,
        };
        Ok(self.queue_text(target.tenant_id, Sender::Extension(target.extension), input, Some(&key)).await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn replies_lose_what_they_quote() {
        let gmail = "Yes, 3pm works.\n\nOn Sat, Dec 5, 2026 at 10:02 AM Pat Doe via Acme <texts@sms.example.net> wrote:\n> ## Write your reply above this line ##\n> Is the 3pm still on?";
        assert_eq!(strip_quoted(gmail), "Yes, 3pm works.");
        let wrapped =
            "See you then\n\nOn Sat, Dec 5, 2026 at 10:02 AM Pat Doe via Acme <texts@sms.example.net>\nwrote:\n> old";
        assert_eq!(strip_quoted(wrapped), "See you then");
        let outlook = "Booked.\r\n\r\n-----Original Message-----\r\nFrom: Pat Doe\r\nIs the 3pm still on?";
        assert_eq!(strip_quoted(outlook), "Booked.");
        let marker = "Fine\n## Write your reply above this line ##\nIs the 3pm still on?";
        assert_eq!(strip_quoted(marker), "Fine");
        let signed = "Call me\n-- \nFront desk\nAcme Dental";
        assert_eq!(strip_quoted(signed), "Call me");
        assert_eq!(strip_quoted("> only quoted"), "");
        assert_eq!(strip_quoted("Two lines\nof reply"), "Two lines\nof reply");
    }
}
