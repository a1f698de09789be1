//! The lookups the inbound path makes for every text, shaped for a read-through cache: a prefix
//! to its tenant and provider, a number (DID) to its tenant, destinations and policy.

use std::sync::Arc;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use switchboard_core::PolicySpec;
use uuid::Uuid;

use crate::entity::{extension, inbound_prefix, message, number, number_destination, policy, provider, tenant};
use crate::{Store, StoreError};

/// What an inbound prefix leads to.
#[derive(Debug, Clone)]
pub struct PrefixRoute {
    pub prefix_id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    /// False while the tenant is suspended.
    pub tenant_active: bool,
    pub provider_id: Uuid,
    /// The provider's company for senders that match no contact.
    pub catch_all_company_id: Option<Uuid>,
    /// The token callbacks must carry, if one is required.
    pub token: Option<secrecy::SecretString>,
    /// Source addresses allowed to post, if restricted.
    pub allowed_sources: Option<Vec<ipnet::IpNet>>,
}

/// What a number leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRoute {
    pub number_id: Uuid,
    pub tenant_id: Uuid,
    pub e164: String,
    /// The prefix its texts come through (what the shared ingress routes it by).
    pub prefix: Arc<str>,
    /// The number's destinations that are enabled, in order.
    pub destinations: Vec<String>,
    /// Every enabled extension of the tenant that a policy may name; disabled ones receive nothing.
    pub enabled_extensions: Vec<String>,
    pub policy: Option<Arc<PolicySpec>>,
}

impl Store {
    /// The route of a prefix (any case), if it exists.
    pub async fn prefix_route(&self, prefix: &str) -> Result<Option<PrefixRoute>, StoreError> {
        let Some(p) = inbound_prefix::Entity::find()
            .filter(inbound_prefix::Column::Prefix.eq(prefix.to_ascii_lowercase()))
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let Some(t) = tenant::Entity::find_by_id(p.tenant_id).one(self.db()).await? else {
            return Ok(None);
        };
        let catch_all =
            provider::Entity::find_by_id(p.provider_id).one(self.db()).await?.and_then(|p| p.catch_all_company_id);
        Ok(Some(PrefixRoute {
            prefix_id: p.id,
            tenant_id: t.id,
            tenant_slug: t.slug,
            tenant_active: t.status == "active",
            provider_id: p.provider_id,
            catch_all_company_id: catch_all,
            token: self.prefix_token(&p)?,
            allowed_sources: p
                .allowed_sources
                .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                .and_then(|l| switchboard_core::sources::parse_sources(&l).ok()),
        }))
    }

    /// The route of a number (E.164 with `+`), if any tenant holds it.
    pub async fn number_route(&self, e164: &str) -> Result<Option<NumberRoute>, StoreError> {
        let Some(n) = number::Entity::find().filter(number::Column::E164.eq(e164)).one(self.db()).await? else {
            return Ok(None);
        };
        let enabled: Vec<extension::Model> = extension::Entity::find()
            .filter(extension::Column::TenantId.eq(n.tenant_id))
            .filter(extension::Column::Enabled.eq(true))
            .all(self.db())
            .await?;
        let links = number_destination::Entity::find()
            .filter(number_destination::Column::NumberId.eq(n.id))
            .order_by_asc(number_destination::Column::Position)
            .all(self.db())
            .await?;
        let destinations = links
            .iter()
            .filter_map(|l| enabled.iter().find(|e| e.id == l.extension_id).map(|e| e.extension.clone()))
            .collect();
        let policy = match n.policy_id {
            Some(id) => match policy::Entity::find_by_id(id).one(self.db()).await? {
                Some(p) => Some(Arc::new(crate::policies::spec_of(&p)?)),
                None => None,
            },
            None => None,
        };
        let prefix = inbound_prefix::Entity::find_by_id(n.prefix_id).one(self.db()).await?.map(|p| p.prefix);
        Ok(Some(NumberRoute {
            number_id: n.id,
            tenant_id: n.tenant_id,
            e164: n.e164,
            prefix: prefix.unwrap_or_default().into(),
            destinations,
            enabled_extensions: enabled.into_iter().map(|e| e.extension).collect(),
            policy,
        }))
    }

    /// The tenant of the outbound message Flowroute names by `provider_message_id`, for a receipt
    /// that comes without a prefix (the shared ingress). `None` when no tenant has it, or when
    /// more than one has (Flowroute's ids are unique, so that is a forgery).
    pub async fn receipt_tenant(&self, provider_message_id: &str) -> Result<Option<Uuid>, StoreError> {
        use sea_orm::QuerySelect;
        let tenants: Vec<Uuid> = message::Entity::find()
            .select_only()
            .column(message::Column::TenantId)
            .filter(message::Column::Direction.eq(switchboard_core::status::Direction::Outbound.as_str()))
            .filter(message::Column::ProviderMessageId.eq(provider_message_id))
            .limit(2)
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(match tenants.as_slice() {
            [one] => Some(*one),
            _ => None,
        })
    }

    /// Which of `ids` (Flowroute's message ids) the tenant has recorded for a message already.
    pub async fn recorded_provider_ids(&self, tenant: Uuid, ids: &[String]) -> Result<Vec<String>, StoreError> {
        use sea_orm::QuerySelect;
        let mut found = Vec::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<Option<String>> = message::Entity::find()
                .select_only()
                .column(message::Column::ProviderMessageId)
                .filter(message::Column::TenantId.eq(tenant))
                .filter(message::Column::ProviderMessageId.is_in(chunk.to_vec()))
                .into_tuple()
                .all(self.db())
                .await?;
            found.extend(rows.into_iter().flatten());
        }
        Ok(found)
    }
}
