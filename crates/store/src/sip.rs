//! SIP MESSAGE delivery's rows: what a claimed delivery sends, and the `message.delivery` event
//! each attempt (of any channel) writes. The jobs are added with the text (`channels`).

use std::collections::{BTreeSet, HashMap};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::SecretString;
use switchboard_core::EventBody;
use switchboard_core::event::DeliveryAttempted;
use switchboard_core::sip::Transport;
use uuid::Uuid;

use crate::entity::{extension, media, message, tenant};
use crate::events::{self, Work};
use crate::media::MediaState;
use crate::outbox::ClaimedJob;
use crate::tenants::sip_aad;
use crate::{Store, StoreError, now, sql};

/// Everything one SIP MESSAGE needs. The password is not printed.
pub struct SipDelivery {
    /// The extension, as the PBX names it.
    pub extension: String,
    /// The user part of its SIP address.
    pub user: String,
    /// The tenant's SIP server, as stored (`host` or `host:port`).
    pub server: String,
    /// Its addresses' domain; none: the server's host.
    pub domain: Option<String>,
    pub transport: Transport,
    /// The digest username and password, if the tenant set them.
    pub credential: Option<(String, SecretString)>,
    /// The sender (E.164 or a short code).
    pub from: String,
    /// The tenant's number it was sent to.
    pub to: String,
    pub body: Option<String>,
    /// The public link tokens of the text's kept attachments, in order.
    pub media_tokens: Vec<String>,
    /// Whether an attachment is still being fetched.
    pub media_pending: bool,
}

impl std::fmt::Debug for SipDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipDelivery")
            .field("extension", &self.extension)
            .field("user", &self.user)
            .field("server", &self.server)
            .field("transport", &self.transport)
            .field("credential", &self.credential.as_ref().map(|(u, _)| (u, "<redacted>")))
            .finish_non_exhaustive()
    }
}

/// The link tokens of a text's kept attachments, in order.
pub(crate) fn kept_links(attachments: &[media::Model]) -> Vec<String> {
    let stored = MediaState::Stored.as_str();
    attachments.iter().filter(|a| a.state == stored).filter_map(|a| a.public_token.clone()).collect()
}

impl Store {
    /// What each claimed SIP delivery sends, by job id: `None` inside when there is nothing to
    /// send any more (the extension, its SIP user or the tenant's SIP server is gone, or the
    /// extension is disabled). Attachments get a public link token the first time a phone needs one.
    pub async fn sip_deliveries(&self, jobs: &[ClaimedJob]) -> Result<HashMap<Uuid, Option<SipDelivery>>, StoreError> {
        let mut wanted: Vec<(Uuid, Uuid, Uuid)> = Vec::with_capacity(jobs.len());
        for j in jobs {
            if let Work::Sip { message_id, extension_id } = j.work {
                wanted.push((j.id, message_id, extension_id));
            }
        }
        let message_ids: BTreeSet<Uuid> = wanted.iter().map(|w| w.1).collect();
        let extension_ids: BTreeSet<Uuid> = wanted.iter().map(|w| w.2).collect();
        let messages: HashMap<Uuid, message::Model> = message::Entity::find()
            .filter(message::Column::Id.is_in(message_ids.clone()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let extensions: HashMap<Uuid, extension::Model> = extension::Entity::find()
            .filter(extension::Column::Id.is_in(extension_ids))
            .all(self.db())
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let tenant_ids: BTreeSet<Uuid> = extensions.values().map(|e| e.tenant_id).collect();
        let tenants: HashMap<Uuid, tenant::Model> = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(tenant_ids))
            .all(self.db())
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let media = self.phone_media(message_ids).await?;
        let mut out = HashMap::with_capacity(wanted.len());
        for (job_id, message_id, extension_id) in wanted {
            let found = (messages.get(&message_id), extensions.get(&extension_id));
            let delivery = match found {
                (Some(m), Some(e)) if e.enabled && e.tenant_id == m.tenant_id => {
                    match (&e.sip_user, tenants.get(&e.tenant_id)) {
                        (Some(user), Some(t)) if t.sip_server.is_some() => {
                            Some(self.sip_delivery(m, e, user, t, &media)?)
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            out.insert(job_id, delivery);
        }
        Ok(out)
    }

    fn sip_delivery(
        &self,
        m: &message::Model,
        e: &extension::Model,
        user: &str,
        t: &tenant::Model,
        media: &HashMap<Uuid, Vec<media::Model>>,
    ) -> Result<SipDelivery, StoreError> {
        let credential = match (&t.sip_username, &t.sip_password_enc) {
            (Some(u), Some(sealed)) => Some((u.clone(), self.open_secret(sealed, &sip_aad(t.id))?)),
            _ => None,
        };
        let attachments = media.get(&m.id).map(Vec::as_slice).unwrap_or_default();
        Ok(SipDelivery {
            extension: e.extension.clone(),
            user: user.to_owned(),
            server: t.sip_server.clone().unwrap_or_default(),
            domain: t.sip_domain.clone(),
            transport: t.sip_transport.as_deref().and_then(|s| Transport::parse(s).ok()).unwrap_or_default(),
            credential,
            from: m.remote.clone(),
            to: m.number.clone(),
            body: m.body.clone(),
            media_tokens: kept_links(attachments),
            media_pending: attachments.iter().any(|a| a.state == MediaState::Pending.as_str()),
        })
    }

    /// The texts' attachments in order, each kept one given a public link token if it had none.
    pub(crate) async fn phone_media(
        &self,
        message_ids: BTreeSet<Uuid>,
    ) -> Result<HashMap<Uuid, Vec<media::Model>>, StoreError> {
        let select = || media::Entity::find().filter(media::Column::MessageId.is_in(message_ids.clone()));
        let mut rows = select().all(self.db()).await?;
        let stored = MediaState::Stored.as_str();
        let untokened: Vec<Uuid> =
            rows.iter().filter(|m| m.state == stored && m.public_token.is_none()).map(|m| m.id).collect();
        if !untokened.is_empty() {
            for id in untokened {
                // Conditional: another instance may have given it one meanwhile; that one stays.
                sql::execute(
                    self.db(),
                    "UPDATE media SET public_token = $2 WHERE id = $1 AND public_token IS NULL",
                    vec![id.into(), crate::media::link_token().into()],
                )
                .await?;
            }
            rows = select().all(self.db()).await?;
        }
        let mut out: HashMap<Uuid, Vec<media::Model>> = HashMap::new();
        for m in rows {
            out.entry(m.message_id).or_default().push(m);
        }
        for list in out.values_mut() {
            list.sort_by_key(|m| m.id);
        }
        Ok(out)
    }

    /// Appends a `message.delivery` event for each attempt, in one transaction.
    pub async fn record_delivery_attempts(&self, attempts: Vec<(Uuid, DeliveryAttempted)>) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let at = now();
        let txn = self.write_txn().await?;
        for (tenant_id, attempt) in attempts {
            events::append_unrouted(&txn, tenant_id, EventBody::MessageDelivery(attempt), at).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
