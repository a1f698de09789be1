//! `POST /{prefix}`: what Flowroute posts. The prefix names the tenant; a text's `to` must be a
//! number of that tenant; a text is stored once, in one transaction, before the `200`.

use std::sync::Arc;

use switchboard_core::routing::{RouteInput, route};
use switchboard_core::status;
use switchboard_flowroute::{Callback, DeliveryReceipt, InboundMessage, parse_callback};
use switchboard_store::StoreError;
use switchboard_store::inbound::{InboundOutcome, InboundText, MediaIn};
use switchboard_store::receipts::{ReceiptIn, ReceiptOutcome};
use switchboard_store::routes::PrefixRoute;
use uuid::Uuid;

use crate::{Engine, NumberRouting};

/// What the ingress did with a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A new text, stored and queued for delivery.
    Stored { message_id: Uuid },
    /// A copy of a text already stored: nothing was done.
    Duplicate { message_id: Uuid },
    /// A receipt that moved a message's status.
    ReceiptApplied { message_id: Uuid },
    /// A repeated or out-of-date receipt: nothing changed.
    ReceiptUnchanged { message_id: Uuid },
    /// Not an inbound text (Flowroute's own record of an outbound one): acknowledged, ignored.
    Ignored,
}

/// Why a callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("no such prefix")]
    UnknownPrefix,
    #[error("the tenant is suspended")]
    Suspended,
    #[error("{0}")]
    Malformed(String),
    /// The source guessed at prefixes or tokens too often; it must wait this long.
    #[error("too many unknown-prefix callbacks from this source")]
    Blocked(std::time::Duration),
    #[error("the number {0} is not a number of this prefix's tenant")]
    UnknownNumber(String),
    #[error("no outbound message of this tenant has the provider id {0}")]
    UnknownReceipt(String),
    /// The store cannot be reached; nothing was stored, and Flowroute will retry.
    #[error("store unavailable")]
    Unavailable,
    /// Anything else; logged where it happened.
    #[error("internal error")]
    Internal,
}

impl From<&StoreError> for IngressError {
    fn from(e: &StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                Self::Unavailable
            }
            other => {
                tracing::error!(error = ?other, "store failure on the inbound path");
                Self::Internal
            }
        }
    }
}

impl From<StoreError> for IngressError {
    fn from(e: StoreError) -> Self {
        Self::from(&e)
    }
}

fn shared(e: Arc<StoreError>) -> IngressError {
    IngressError::from(&*e)
}

/// Who posted a callback: the `token` of its query and the address it came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub token: Option<&'a str>,
    pub ip: Option<std::net::IpAddr>,
}

/// Whether a callback may come in where `token` and `sources` guard: `Err` says what it lacked.
fn admitted(
    token: Option<&secrecy::SecretString>,
    sources: Option<&[ipnet::IpNet]>,
    origin: Origin<'_>,
) -> Result<(), &'static str> {
    if let Some(token) = token
        && !switchboard_core::sources::tokens_equal(secrecy::ExposeSecret::expose_secret(token), origin.token)
    {
        return Err("without the token");
    }
    if let Some(list) = sources
        && !origin.ip.is_some_and(|ip| switchboard_core::sources::source_allowed(list, ip))
    {
        return Err("from a source not on the allow-list");
    }
    Ok(())
}

/// Whether a text callback is Flowroute's own record of an outbound text (acknowledged, ignored).
fn not_inbound(m: &InboundMessage) -> bool {
    let outbound = m.direction.as_deref().is_some_and(|d| !d.eq_ignore_ascii_case("inbound"));
    if outbound {
        tracing::info!(provider_message_id = %m.id, direction = ?m.direction, "ignored a callback that is not an inbound text");
    }
    outbound
}

impl Engine {
    /// Handles one callback posted to `prefix`. A prefix that requires a token, or allows only
    /// some sources, answers a caller without them as if it did not exist; a source that keeps
    /// naming prefixes that do not exist is answered `Blocked` for a while.
    pub async fn receive(&self, prefix: &str, body: &[u8], origin: Origin<'_>) -> Result<Received, IngressError> {
        self.guarded(origin, self.receive_unguarded(prefix, body, origin)).await
    }

    /// Handles one callback posted to the operator's shared ingress (`POST /ingress/{name}`): a
    /// text finds its tenant by the number texted, a receipt by the message it names. The same
    /// guard, token and source rules and answers as a prefix.
    pub async fn receive_shared(&self, name: &str, body: &[u8], origin: Origin<'_>) -> Result<Received, IngressError> {
        self.guarded(origin, self.receive_shared_unguarded(name, body, origin)).await
    }

    /// Runs `receive` unless the source is blocked, and counts a callback that named nothing.
    async fn guarded(
        &self,
        origin: Origin<'_>,
        receive: impl std::future::Future<Output = Result<Received, IngressError>>,
    ) -> Result<Received, IngressError> {
        if let Some(wait) = self.guard.blocked(origin.ip) {
            return Err(IngressError::Blocked(wait));
        }
        let received = receive.await;
        if matches!(received, Err(IngressError::UnknownPrefix)) {
            self.guard.failed(origin.ip);
        }
        received
    }

    async fn receive_shared_unguarded(
        &self,
        name: &str,
        body: &[u8],
        origin: Origin<'_>,
    ) -> Result<Received, IngressError> {
        let Some(shared_ingress) = self.config.shared_ingress.as_ref().filter(|s| s.name == name) else {
            return Err(IngressError::UnknownPrefix);
        };
        if let Err(why) = admitted(shared_ingress.token.as_ref(), shared_ingress.allowed_sources.as_deref(), origin) {
            tracing::warn!(source = ?origin.ip, "callback to the shared ingress {why} refused");
            return Err(IngressError::UnknownPrefix);
        }
        match parse_callback(body).map_err(|e| IngressError::Malformed(e.to_string()))? {
            Callback::Message(m) if not_inbound(&m) => Ok(Received::Ignored),
            Callback::Message(m) => {
                let unknown = || IngressError::UnknownNumber(m.to.to_string());
                let number =
                    self.cache.number(&self.store, m.to.as_str()).await.map_err(shared)?.ok_or_else(unknown)?;
                let route =
                    self.cache.prefix(&self.store, &number.prefix).await.map_err(shared)?.ok_or_else(unknown)?;
                if !route.tenant_active {
                    return Err(IngressError::Suspended);
                }
                self.receive_text(&route, number, m).await
            }
            Callback::Receipt(r) => {
                let tenant = self
                    .store
                    .receipt_tenant(&r.id)
                    .await?
                    .ok_or_else(|| IngressError::UnknownReceipt(r.id.clone()))?;
                self.receive_receipt(tenant, r).await
            }
        }
    }

    async fn receive_unguarded(&self, prefix: &str, body: &[u8], origin: Origin<'_>) -> Result<Received, IngressError> {
        let route = self.cache.prefix(&self.store, prefix).await.map_err(shared)?.ok_or(IngressError::UnknownPrefix)?;
        if let Err(why) = admitted(route.token.as_ref(), route.allowed_sources.as_deref(), origin) {
            tracing::warn!(prefix, source = ?origin.ip, "callback {why} refused");
            return Err(IngressError::UnknownPrefix);
        }
        if !route.tenant_active {
            return Err(IngressError::Suspended);
        }
        match parse_callback(body).map_err(|e| IngressError::Malformed(e.to_string()))? {
            Callback::Message(m) if not_inbound(&m) => Ok(Received::Ignored),
            Callback::Message(m) => {
                let number = self
                    .cache
                    .number(&self.store, m.to.as_str())
                    .await
                    .map_err(shared)?
                    .filter(|n| n.tenant_id == route.tenant_id)
                    .ok_or_else(|| IngressError::UnknownNumber(m.to.to_string()))?;
                self.receive_text(&route, number, m).await
            }
            Callback::Receipt(r) => self.receive_receipt(route.tenant_id, r).await,
        }
    }

    /// Stores a text to `number` (a number of the prefix's tenant) and routes it.
    async fn receive_text(
        &self,
        prefix: &PrefixRoute,
        number: Arc<NumberRouting>,
        m: InboundMessage,
    ) -> Result<Received, IngressError> {
        // PostgreSQL's text cannot hold NUL; a text Flowroute delivers is kept, with U+FFFD in its place
        // (a link or type with a NUL is useless anyway, and fails its fetch).
        let body = m.body.as_deref().map(|b| b.replace('\0', "\u{FFFD}"));
        let text = InboundText {
            tenant_id: prefix.tenant_id,
            provider_message_id: m.id.clone(),
            number: m.to.as_str().to_owned(),
            remote: m.from.to_string(),
            // Automatic replies go only to US and Canadian numbers (where Flowroute delivers), never
            // to a short code, an alphanumeric sender or an international number a pump could bill.
            remote_reachable: m.from.number().is_some_and(|n| n.is_nanp()),
            body: body.clone(),
            // A callback may list thousands of attachments: only the first few are kept.
            media_dropped: m.media.len().saturating_sub(self.config.media_max_per_text),
            media: m
                .media
                .iter()
                .take(self.config.media_max_per_text)
                .map(|x| MediaIn {
                    url: x.url.replace('\0', ""),
                    // Kept within the columns' widths: a text is never refused (and retried by
                    // Flowroute for ever) for an overlong name or type.
                    file_name: x.file_name.as_deref().map(|f| f.replace('\0', "\u{FFFD}").chars().take(255).collect()),
                    mime_type: x.mime_type.replace('\0', "").chars().take(127).collect(),
                    size: x.file_size,
                })
                .collect(),
            catch_all_company_id: prefix.catch_all_company_id,
            media_base_url: format!("{}/api/v1/media", self.config.public_url),
        };
        let fetches_media = !text.media.is_empty();
        let now = chrono::Utc::now();
        let outcome = self
            .store
            .record_inbound(text, move |last_auto_reply| {
                let mut decision = route(RouteInput {
                    number_destinations: &number.destinations,
                    policy: number.policy.as_deref(),
                    body: body.as_deref(),
                    now,
                    last_auto_reply,
                });
                // Disabled extensions receive nothing, whichever rule named them.
                decision.destinations.retain(|d| number.enabled_extensions.contains(d));
                decision
            })
            .await?;
        match outcome {
            InboundOutcome::Stored { message_id, event, decision, phones } => {
                tracing::info!(%message_id, tenant = %prefix.tenant_slug, provider_message_id = %m.id,
                    extensions = ?decision.destinations, "inbound text stored");
                self.published(&event);
                if fetches_media {
                    self.wake(crate::Work::Media);
                }
                if !decision.replies.is_empty() {
                    self.wake(crate::Work::Sends);
                }
                if phones {
                    self.wake(crate::Work::Phones);
                }
                Ok(Received::Stored { message_id })
            }
            InboundOutcome::Duplicate { message_id } => {
                tracing::info!(%message_id, provider_message_id = %m.id, "duplicate inbound text acknowledged");
                Ok(Received::Duplicate { message_id })
            }
        }
    }

    async fn receive_receipt(&self, tenant_id: Uuid, r: DeliveryReceipt) -> Result<Received, IngressError> {
        let input = ReceiptIn {
            tenant_id,
            provider_message_id: r.id.clone(),
            status: status::from_receipt(r.status_code, &r.status),
            code: r.status_code,
            description: r.status_description.clone(),
            body: r.body.clone(),
            to: r.to.as_ref().map(ToString::to_string),
            from: r.from.as_ref().map(ToString::to_string),
        };
        match self.store.apply_receipt(input).await {
            Ok(ReceiptOutcome::Applied { message_id, event }) => {
                self.published(&event);
                Ok(Received::ReceiptApplied { message_id })
            }
            Ok(ReceiptOutcome::Unchanged { message_id }) => Ok(Received::ReceiptUnchanged { message_id }),
            Err(StoreError::NotFound) => Err(IngressError::UnknownReceipt(r.id)),
            Err(e) => Err(e.into()),
        }
    }
}
