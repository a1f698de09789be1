//! Tenants: the global list of PBX customers, their delivery webhook and its signing secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use switchboard_core::FieldErrors;
use switchboard_core::names::check_slug;
use switchboard_core::policy::check_timezone;
use switchboard_core::sip::{Server, Transport};
use switchboard_core::validation::{text, web_url};
use uuid::Uuid;

use crate::entity::{number, tenant};
use crate::error::OnUnique;
use crate::page::{self, Page, PageRequest};
use crate::{Patch, Store, StoreError, new_id, now};

pub use switchboard_core::status::TenantStatus;

/// How long a rotated-out webhook secret still signs deliveries.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::hours(24);

/// A tenant, as stored. The webhook secret is never part of it.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: Uuid,
    /// Unique, `[a-z0-9-]{2,63}`; the tenant's name in paths and tokens.
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    /// Where events are delivered (Standard Webhooks signed); none means no delivery.
    pub webhook_url: Option<String>,
    /// When the webhook secret was last rotated.
    pub webhook_secret_rotated_at: Option<DateTime<Utc>>,
    /// Whether every person of the tenant must use a second factor.
    pub require_totp: bool,
    /// The IANA time zone its people read times in.
    pub timezone: String,
    /// The hours (the recipient's local time) its automated texts may arrive in, narrower than
    /// the law's; none: the law's alone.
    pub send_window: Option<SendWindow>,
    /// Its PBX as a SIP server, for SIP MESSAGE delivery to extensions with a SIP user.
    pub sip: Option<SipSettings>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The creation response: the tenant and, this once, its webhook signing secret.
#[derive(Debug, Clone)]
pub struct TenantCreated {
    pub tenant: Tenant,
    /// `whsec_` + base64; shown only here and when rotated.
    pub webhook_secret: String,
}

/// A new webhook secret, shown once.
#[derive(Debug, Clone)]
pub struct WebhookSecretRotated {
    /// The new secret, `whsec_` + base64.
    pub webhook_secret: String,
    /// Until then deliveries are signed with the previous secret too.
    pub previous_secret_valid_until: DateTime<Utc>,
}

/// A tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub webhook_url: Option<String>,
    /// An IANA time zone; `UTC` when absent.
    pub timezone: Option<String>,
}

/// A change to a tenant; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    /// `null` stops delivery.
    pub webhook_url: Patch<String>,
    /// Only the system administrator may change it.
    pub status: Option<TenantStatus>,
    pub require_totp: Option<bool>,
    pub timezone: Option<String>,
    /// `null`: the law's window alone.
    pub send_window: Patch<SendWindow>,
    /// `null`: no SIP delivery.
    pub sip: Patch<SipSettingsInput>,
}

/// The tenant's PBX as a SIP server. The password is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipSettings {
    /// Where SIP requests go: `host` or `host:port`.
    pub server: String,
    /// The domain of the extensions' addresses (`sip:<user>@<domain>`); none: the server's host.
    pub domain: Option<String>,
    pub transport: Transport,
    /// The user Switchboard answers digest challenges as; none: it answers none.
    pub username: Option<String>,
    /// Whether a password is set.
    pub has_password: bool,
}

/// SIP settings to set, whole; the password stays as it is unless one is given, and goes with
/// the username.
#[derive(Clone, Default)]
pub struct SipSettingsInput {
    pub server: String,
    pub domain: Option<String>,
    /// `tls` when absent.
    pub transport: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SipSettingsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipSettingsInput")
            .field("server", &self.server)
            .field("domain", &self.domain)
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn sip_settings(m: &tenant::Model) -> Option<SipSettings> {
    let server = m.sip_server.clone()?;
    Some(SipSettings {
        server,
        domain: m.sip_domain.clone(),
        transport: m.sip_transport.as_deref().and_then(|t| Transport::parse(t).ok()).unwrap_or_default(),
        username: m.sip_username.clone(),
        has_password: m.sip_password_enc.is_some(),
    })
}

pub(crate) fn sip_aad(id: Uuid) -> String {
    format!("tenant:{id}:sip_password")
}

/// Checks SIP settings against what is stored: a username needs a password, given now or before.
fn check_sip(errors: &mut FieldErrors, input: &SipSettingsInput, had_password: bool) {
    errors.check("sip.server", Server::parse(&input.server));
    if let Some(domain) = &input.domain {
        errors.check("sip.domain", switchboard_core::sip::check_domain(domain));
    }
    if let Some(t) = &input.transport {
        errors.check("sip.transport", Transport::parse(t));
    }
    let printable =
        |v: &str| !v.is_empty() && v.chars().count() <= 128 && !v.chars().any(|c| c.is_control() || c == '"');
    if let Some(user) = &input.username
        && !printable(user)
    {
        errors.add("sip.username", "must be 1 to 128 characters, without quotes");
    }
    match (&input.username, &input.password) {
        (_, Some(p)) if !printable(p) => errors.add("sip.password", "must be 1 to 128 characters, without quotes"),
        (None, Some(_)) => errors.add("sip.username", "a password needs the username it goes with"),
        (Some(_), None) if !had_password => errors.add("sip.password", "a username needs its password"),
        _ => {}
    }
}

/// A daily window, `HH:MM` to `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    pub from: String,
    pub until: String,
}

impl SendWindow {
    /// The window as quiet hours take it.
    pub fn window(&self) -> Option<switchboard_core::quiet::Window> {
        switchboard_core::quiet::Window::parse(&self.from, &self.until).ok()
    }
}

pub(crate) fn send_window(m: &tenant::Model) -> Option<SendWindow> {
    match (&m.send_window_from, &m.send_window_until) {
        (Some(from), Some(until)) => Some(SendWindow { from: from.clone(), until: until.clone() }),
        _ => None,
    }
}

fn new_webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

fn aad(id: Uuid) -> String {
    format!("tenant:{id}:webhook_secret")
}

fn record(m: tenant::Model) -> Tenant {
    let send_window = send_window(&m);
    let sip = sip_settings(&m);
    Tenant {
        send_window,
        sip,
        id: m.id,
        slug: m.slug,
        name: m.name,
        status: TenantStatus::parse(&m.status),
        webhook_url: m.webhook_url,
        webhook_secret_rotated_at: m.webhook_secret_rotated_at,
        require_totp: m.require_totp,
        timezone: m.timezone,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn check_webhook_url(errors: &mut FieldErrors, url: Option<&String>) {
    if let Some(url) = url {
        errors.check("webhook_url", web_url(url, false));
    }
}

impl Store {
    /// Creates a tenant with a fresh webhook secret.
    pub async fn create_tenant(&self, input: NewTenant) -> Result<TenantCreated, StoreError> {
        let mut errors = FieldErrors::new();
        errors.check("slug", check_slug(&input.slug));
        text(&mut errors, "name", &input.name, 200);
        check_webhook_url(&mut errors, input.webhook_url.as_ref());
        if let Some(tz) = &input.timezone {
            errors.check("timezone", check_timezone(tz));
        }
        errors.finish().map_err(StoreError::Invalid)?;

        let id = new_id();
        let secret = new_webhook_secret();
        let at = now();
        let model = tenant::ActiveModel {
            id: Set(id),
            slug: Set(input.slug.clone()),
            name: Set(input.name),
            status: Set(TenantStatus::Active.as_str().into()),
            webhook_url: Set(input.webhook_url),
            webhook_secret_enc: Set(self.cipher().seal(&secret, &aad(id))),
            webhook_secret_prev_enc: Set(None),
            webhook_secret_rotated_at: Set(None),
            event_seq: Set(0),
            require_totp: Set(false),
            timezone: Set(input.timezone.unwrap_or_else(|| "UTC".into())),
            send_window_from: Set(None),
            send_window_until: Set(None),
            sip_server: Set(None),
            sip_domain: Set(None),
            sip_transport: Set(None),
            sip_username: Set(None),
            sip_password_enc: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(self.db())
        .await
        .on_unique(|| format!("tenant slug '{}' is taken", input.slug))?;
        Ok(TenantCreated { tenant: record(model), webhook_secret: secret })
    }

    /// Lists every tenant, oldest first.
    pub async fn list_tenants(&self, req: PageRequest) -> Result<Page<Tenant>, StoreError> {
        let page = page::fetch(self.db(), tenant::Entity::find(), tenant::Column::Id, |m| m.id, req, false).await?;
        Ok(page.map(record))
    }

    /// The tenant with this slug.
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Tenant, StoreError> {
        self.tenant_model(slug).await.map(record)
    }

    async fn tenant_model(&self, slug: &str) -> Result<tenant::Model, StoreError> {
        tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(self.db()).await?.ok_or(StoreError::NotFound)
    }

    /// Updates name, webhook URL or status.
    pub async fn update_tenant(&self, slug: &str, patch: TenantPatch) -> Result<Tenant, StoreError> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &patch.name {
            text(&mut errors, "name", name, 200);
        }
        if let Patch::Value(url) = &patch.webhook_url {
            check_webhook_url(&mut errors, Some(url));
        }
        if let Some(tz) = &patch.timezone {
            errors.check("timezone", check_timezone(tz));
        }
        if let Patch::Value(w) = &patch.send_window {
            errors.check("send_window", switchboard_core::quiet::Window::parse(&w.from, &w.until).map(|_| ()));
        }
        let current = self.tenant_model(slug).await?;
        if let Patch::Value(sip) = &patch.sip {
            check_sip(&mut errors, sip, current.sip_password_enc.is_some());
        }
        errors.finish().map_err(StoreError::Invalid)?;
        let id = current.id;
        let webhook_url = patch.webhook_url.apply(current.webhook_url.clone());
        let mut model: tenant::ActiveModel = current.into();
        if let Some(name) = patch.name {
            model.name = Set(name);
        }
        if let Some(status) = patch.status {
            model.status = Set(status.as_str().into());
        }
        if let Some(require) = patch.require_totp {
            model.require_totp = Set(require);
        }
        if let Some(tz) = patch.timezone {
            model.timezone = Set(tz);
        }
        match patch.send_window {
            Patch::Absent => {}
            Patch::Null => {
                model.send_window_from = Set(None);
                model.send_window_until = Set(None);
            }
            Patch::Value(w) => {
                model.send_window_from = Set(Some(w.from));
                model.send_window_until = Set(Some(w.until));
            }
        }
        match patch.sip {
            Patch::Absent => {}
            Patch::Null => {
                model.sip_server = Set(None);
                model.sip_domain = Set(None);
                model.sip_transport = Set(None);
                model.sip_username = Set(None);
                model.sip_password_enc = Set(None);
            }
            Patch::Value(sip) => {
                let server = Server::parse(&sip.server).map(|s| s.written()).unwrap_or(sip.server);
                model.sip_server = Set(Some(server));
                model.sip_domain = Set(sip.domain.map(|d| d.to_ascii_lowercase()));
                model.sip_transport = Set(Some(sip.transport.unwrap_or_else(|| Transport::Tls.as_str().into())));
                if sip.username.is_none() {
                    model.sip_password_enc = Set(None);
                } else if let Some(password) = &sip.password {
                    model.sip_password_enc = Set(Some(self.cipher().seal(password, &sip_aad(id))));
                }
                model.sip_username = Set(sip.username);
            }
        }
        model.webhook_url = Set(webhook_url);
        model.updated_at = Set(now());
        Ok(record(model.update(self.db()).await?))
    }

    /// Replaces the webhook secret; the previous one stays valid for [`PREVIOUS_SECRET_GRACE`].
    pub async fn rotate_webhook_secret(&self, slug: &str) -> Result<WebhookSecretRotated, StoreError> {
        let current = self.tenant_model(slug).await?;
        let secret = new_webhook_secret();
        let at = now();
        let id = current.id;
        let previous = current.webhook_secret_enc.clone();
        let mut model: tenant::ActiveModel = current.into();
        model.webhook_secret_prev_enc = Set(Some(previous));
        model.webhook_secret_enc = Set(self.cipher().seal(&secret, &aad(id)));
        model.webhook_secret_rotated_at = Set(Some(at));
        model.updated_at = Set(at);
        model.update(self.db()).await?;
        Ok(WebhookSecretRotated { webhook_secret: secret, previous_secret_valid_until: at + PREVIOUS_SECRET_GRACE })
    }

    /// Deletes a tenant and everything it owns. Refused while it still holds numbers, so live
    /// traffic is never cut off by one call.
    pub async fn delete_tenant(&self, slug: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let current = tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let numbers = number::Entity::find().filter(number::Column::TenantId.eq(current.id)).count(&txn).await?;
        if numbers > 0 {
            return Err(StoreError::Conflict(format!(
                "tenant '{slug}' still holds {numbers} number(s); delete them first"
            )));
        }
        tenant::Entity::delete_by_id(current.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
