//! Accounts (the people who sign in) and their sessions.
//!
//! A password is kept as an argon2id hash; a session as the SHA-256 of its secret. Signing in with
//! an unknown email costs the same hash as with a known one, and every refusal is the same `None`,
//! so neither the answer nor its timing tells whether an email has an account. A session is
//! checked on every use (not expired, not revoked, its account not disabled), so ending one is
//! effective at once on every instance.
//!
//! Refused sign-ins are counted per account and per source address in the database (so the limits
//! hold across instances); past a limit, sign-in is refused without checking the password until
//! the window has moved on. Unknown emails are counted like known ones, so the throttle tells
//! nothing either.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::identity::{check_password, normalize_email};
use switchboard_core::validation::text;
use switchboard_core::{FieldErrors, Role};
use uuid::Uuid;

use crate::crypto::sha256_hex;
use crate::entity::{account, account_session, extension, sign_in_failure, tenant};
use crate::error::OnUnique;
use crate::second_factor::Checked;
use crate::{Store, StoreError, new_id, now};

/// A session's secret starts with this, so a leaked one is recognisable (by secret scanners too).
pub const SESSION_SECRET_PREFIX: &str = "sbs_";
/// The kinds of `sign_in_failure` rows.
const FAILURE_ACCOUNT: &str = "account";
const FAILURE_ADDRESS: &str = "address";
/// `last_seen_at` is written at most this often per session, not on every request.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// An account to create.
pub struct NewAccount {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The tenant of a tenant admin or extension user; none for an operator.
    pub tenant_id: Option<Uuid>,
    /// The extension an extension user is, by its name in the tenant.
    pub extension: Option<String>,
    /// None leaves the account unable to sign in until a password is set (an invitation).
    pub password: Option<SecretString>,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount").field("email", &self.email).field("role", &self.role).finish_non_exhaustive()
    }
}

/// An account, as read back: never its password hash nor its invitation's token.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub tenant_id: Option<Uuid>,
    pub extension: Option<String>,
    pub disabled: bool,
    /// Whether a password is set (an invited user has none until accepting).
    pub has_password: bool,
    /// Until when an invitation not yet accepted can be.
    pub invited_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The record of an account row, with its extension's name.
pub(crate) fn account_record(m: account::Model, extension: Option<String>) -> Result<Account, StoreError> {
    let role = Role::parse(&m.role)
        .ok_or_else(|| StoreError::Internal(sea_orm::DbErr::Custom(format!("account role '{}'", m.role))))?;
    Ok(Account {
        id: m.id,
        email: m.email,
        name: m.name,
        role,
        tenant_id: m.tenant_id,
        extension,
        disabled: m.disabled_at.is_some(),
        has_password: m.password_hash.is_some(),
        invited_until: m.invite_hash.as_ref().and(m.invite_expires_at),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// A one-time invitation: its token is here once; the store keeps its SHA-256.
pub struct Invitation {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// An invitation's token starts with this.
pub const INVITATION_PREFIX: &str = "sbi_";
/// How long an invitation can be accepted.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// Who a live session speaks for, read afresh on each use.
#[derive(Debug, Clone)]
pub struct Identity {
    pub session_id: Uuid,
    pub account_id: Uuid,
    pub role: Role,
    /// The tenant's id and slug, for a tenant admin or extension user.
    pub tenant: Option<(Uuid, String)>,
    pub extension: Option<String>,
    /// The tenant requires a second factor and this account has none yet: it may only set one up.
    pub must_set_up_second_factor: bool,
    /// When the session ends, and with it every renewal.
    pub session_expires_at: DateTime<Utc>,
}

/// Where a session was started from, as the request said.
#[derive(Debug, Clone, Default)]
pub struct SessionOrigin {
    pub user_agent: Option<String>,
    pub address: Option<String>,
    /// What failures from this client are counted under: its address, or its IPv6 /64.
    pub address_key: Option<String>,
}

/// How many refused sign-ins are allowed in a window before more are refused unchecked.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// Refusals for one email (known or not) within `window`; 0 turns this limit off.
    pub per_account: u32,
    /// Refusals from one source within `window`; 0 turns this limit off.
    pub per_address: u32,
    pub window: std::time::Duration,
    /// How long a session lasts from signing in.
    pub session_ttl: std::time::Duration,
}

/// How a sign-in ended.
#[derive(Debug)]
pub enum SignIn {
    Started(StartedSession),
    /// No enabled account with this email and password (which one, is not said).
    Refused,
    /// Too many refusals for this email or from this source lately: try again after this long.
    Throttled(std::time::Duration),
    /// The password is right and the account has a second factor: sign in again with a code.
    SecondFactorRequired,
    /// The password is right but the second factor's code is not (or was used already).
    SecondFactorRefused,
}

/// A session just started: its secret is here once and never stored.
pub struct StartedSession {
    pub secret: SecretString,
    pub identity: Identity,
}

impl std::fmt::Debug for StartedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedSession").field("identity", &self.identity).finish_non_exhaustive()
    }
}

/// A session as its owner lists it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn argon2() -> Argon2<'static> {
    Argon2::default()
}

pub(crate) fn hash_password(password: &str) -> Result<String, StoreError> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(sea_orm::DbErr::Custom(format!("password hashing failed: {e}"))))
}

/// A hash of a password nobody knows, verified against when the email has no usable account, so
/// that a refusal costs the same either way.
static DECOY: LazyLock<Option<String>> = LazyLock::new(|| hash_password(&Uuid::new_v4().to_string()).ok());

/// Whether `password` matches `stored`; with no stored hash, the decoy is checked and the answer
/// is false.
pub(crate) fn password_matches(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(h) => (Some(h.to_owned()), true),
        None => (DECOY.clone(), false),
    };
    let Some(phc) = phc else { return false };
    let Ok(parsed) = PasswordHash::new(&phc) else { return false };
    argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// Runs argon2 off the async workers: one hash takes tens of milliseconds of CPU.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(sea_orm::DbErr::Custom(format!("password task failed: {e}"))))
}

/// 256 random bits, URL-safe, after `prefix`.
pub(crate) fn new_secret_with(prefix: &str) -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn new_secret() -> String {
    new_secret_with(SESSION_SECRET_PREFIX)
}

fn clip(value: Option<String>, max: usize) -> Option<String> {
    value.map(|v| v.chars().filter(|c| !c.is_control()).take(max).collect())
}

impl Store {
    /// Creates an account. An operator has no tenant; a tenant admin names one; an extension user
    /// names one and one of its extensions.
    pub async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        self.insert_account(new, None).await
    }

    /// Inserts an account, with the hash and expiry of its invitation if it has one.
    pub(crate) async fn insert_account(
        &self,
        new: NewAccount,
        invite: Option<(String, DateTime<Utc>)>,
    ) -> Result<Account, StoreError> {
        let mut errors = FieldErrors::new();
        let email = normalize_email(&new.email);
        if email.is_none() {
            errors.add("email", "must be one email address, such as ann@example.com");
        }
        text(&mut errors, "name", &new.name, 100);
        let name = new.name.trim().to_owned();
        match (new.role, new.tenant_id, &new.extension) {
            (Role::System, None, None) | (Role::TenantAdmin, Some(_), None) | (Role::Extension, Some(_), Some(_)) => {}
            (Role::System, ..) => errors.add("role", "an operator belongs to no tenant and no extension"),
            (Role::TenantAdmin, ..) => errors.add("role", "a tenant admin belongs to a tenant and no extension"),
            (Role::Extension, ..) => errors.add("role", "an extension user belongs to a tenant and one extension"),
        }
        if let (Some(password), Some(email)) = (&new.password, &email) {
            check_password(&mut errors, "password", password.expose_secret(), email);
        }
        // Hashed before the write transaction, which must not wait on tens of milliseconds of CPU.
        let password_hash = match new.password {
            Some(p) if errors.is_empty() => Some(blocking(move || hash_password(p.expose_secret())).await??),
            _ => None,
        };
        let txn = self.write_txn().await?;
        let mut extension_id = None;
        if let (Some(tenant_id), Some(ext)) = (new.tenant_id, &new.extension) {
            match extension::Entity::find()
                .filter(extension::Column::TenantId.eq(tenant_id))
                .filter(extension::Column::Extension.eq(ext.as_str()))
                .one(&txn)
                .await?
            {
                Some(found) => extension_id = Some(found.id),
                None => errors.add("extension", format!("extension '{ext}' does not exist in this tenant")),
            }
        }
        if let Some(tenant_id) = new.tenant_id
            && tenant::Entity::find_by_id(tenant_id).one(&txn).await?.is_none()
        {
            return Err(StoreError::NotFound);
        }
        errors.finish().map_err(StoreError::Invalid)?;
        let email = email.ok_or_else(|| StoreError::invalid("email", "must be one email address"))?;
        let at = now();
        let row = account::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(new.tenant_id),
            email: Set(email.clone()),
            name: Set(name),
            role: Set(new.role.as_str().into()),
            extension_id: Set(extension_id),
            password_changed_at: Set(password_hash.as_ref().map(|_| at)),
            password_hash: Set(password_hash),
            disabled_at: Set(None),
            invite_hash: Set(invite.as_ref().map(|(h, _)| h.clone())),
            invite_expires_at: Set(invite.map(|(_, e)| e)),
            totp_secret_enc: Set(None),
            totp_pending_enc: Set(None),
            totp_last_step: Set(None),
            recovery_codes: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await
        .on_unique(|| format!("an account with the email {email} exists"))?;
        txn.commit().await?;
        account_record(row, new.extension)
    }

    /// Checks an email and password and, when they match an enabled account, starts a session.
    /// Every refusal is the same `Refused`, at the same cost; past the throttle's limits the
    /// password is not checked at all.
    pub async fn sign_in(
        &self,
        email: &str,
        password: SecretString,
        code: Option<&str>,
        origin: SessionOrigin,
        throttle: Throttle,
    ) -> Result<SignIn, StoreError> {
        let typed = email.trim().to_lowercase();
        let mut keys = vec![(FAILURE_ACCOUNT, sha256_hex(&typed), throttle.per_account)];
        if let Some(address) = &origin.address_key {
            keys.push((FAILURE_ADDRESS, sha256_hex(address), throttle.per_address));
        }
        let window = Duration::from_std(throttle.window).unwrap_or(Duration::minutes(15));
        let since = now() - window;
        for (kind, key, limit) in &keys {
            if *limit == 0 {
                continue;
            }
            let recent = sign_in_failure::Entity::find()
                .filter(sign_in_failure::Column::Kind.eq(*kind))
                .filter(sign_in_failure::Column::Key.eq(key.as_str()))
                .filter(sign_in_failure::Column::At.gt(since))
                .order_by_asc(sign_in_failure::Column::At)
                .all(self.db())
                .await?;
            if recent.len() >= *limit as usize {
                let oldest = recent.first().map_or(since, |f| f.at);
                let wait = (oldest + window - now()).to_std().unwrap_or_default();
                return Ok(SignIn::Throttled(wait.max(std::time::Duration::from_secs(1))));
            }
        }

        let found = match normalize_email(email) {
            Some(e) => account::Entity::find().filter(account::Column::Email.eq(e)).one(self.db()).await?,
            None => None,
        };
        let usable = found.filter(|a| a.disabled_at.is_none());
        let stored = usable.as_ref().and_then(|a| a.password_hash.clone());
        let matches = blocking(move || password_matches(password.expose_secret(), stored.as_deref())).await?;
        let Some(account) = usable.filter(|_| matches) else {
            self.count_failure(&keys, since).await?;
            return Ok(SignIn::Refused);
        };
        if account.totp_secret_enc.is_some() {
            let Some(code) = code else { return Ok(SignIn::SecondFactorRequired) };
            let checked = self.check_second_factor(&account, code)?;
            if checked == Checked::Wrong || !self.spend_second_factor(&account, checked).await? {
                self.count_failure(&keys, since).await?;
                return Ok(SignIn::SecondFactorRefused);
            }
        }

        let secret = new_secret();
        let at = now();
        let expires_at = at + Duration::from_std(throttle.session_ttl).unwrap_or(Duration::days(1));
        let session = account_session::ActiveModel {
            id: Set(new_id()),
            account_id: Set(account.id),
            secret_hash: Set(sha256_hex(&secret)),
            user_agent: Set(clip(origin.user_agent, 200)),
            address: Set(clip(origin.address, 64)),
            created_at: Set(at),
            last_seen_at: Set(at),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
        }
        .insert(self.db())
        .await?;
        let identity = self.identity_of(&session, account).await?.ok_or(StoreError::NotFound)?;
        Ok(SignIn::Started(StartedSession { secret: SecretString::from(secret), identity }))
    }

    /// Records a refused sign-in under each key, and forgets every failure older than the window,
    /// so the table holds one window's failures at most.
    async fn count_failure(&self, keys: &[(&str, String, u32)], since: DateTime<Utc>) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let at = now();
        sign_in_failure::Entity::delete_many().filter(sign_in_failure::Column::At.lte(since)).exec(&txn).await?;
        for (kind, key, _) in keys {
            sign_in_failure::ActiveModel {
                id: Set(new_id()),
                kind: Set((*kind).to_owned()),
                key: Set(key.clone()),
                at: Set(at),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The identity of a live session named by its secret (a browser's cookie).
    pub async fn session_by_secret(&self, secret: &str) -> Result<Option<Identity>, StoreError> {
        if !secret.starts_with(SESSION_SECRET_PREFIX) {
            return Ok(None);
        }
        let found = account_session::Entity::find()
            .filter(account_session::Column::SecretHash.eq(sha256_hex(secret)))
            .one(self.db())
            .await?;
        self.live(found).await
    }

    /// The identity of a live session named by its id (an access token's `sid`).
    pub async fn session_identity(&self, id: Uuid) -> Result<Option<Identity>, StoreError> {
        let found = account_session::Entity::find_by_id(id).one(self.db()).await?;
        self.live(found).await
    }

    async fn live(&self, session: Option<account_session::Model>) -> Result<Option<Identity>, StoreError> {
        let Some(session) = session else { return Ok(None) };
        let at = now();
        if session.revoked_at.is_some() || session.expires_at <= at {
            return Ok(None);
        }
        let Some(account) = account::Entity::find_by_id(session.account_id).one(self.db()).await? else {
            return Ok(None);
        };
        if account.disabled_at.is_some() {
            return Ok(None);
        }
        if at - session.last_seen_at >= TOUCH_EVERY {
            let id = session.id;
            let mut touch = session.clone().into_active_model();
            touch.last_seen_at = Set(at);
            if let Err(e) = touch.update(self.db()).await {
                tracing::debug!(session = %id, error = %e, "could not record a session's last use");
            }
        }
        self.identity_of(&session, account).await
    }

    async fn identity_of(
        &self,
        session: &account_session::Model,
        account: account::Model,
    ) -> Result<Option<Identity>, StoreError> {
        let Some(role) = Role::parse(&account.role) else {
            return Err(StoreError::Internal(sea_orm::DbErr::Custom(format!("account role '{}'", account.role))));
        };
        let mut must_set_up_second_factor = false;
        let tenant = match account.tenant_id {
            Some(id) => match tenant::Entity::find_by_id(id).one(self.db()).await? {
                Some(t) => {
                    must_set_up_second_factor = t.require_totp && account.totp_secret_enc.is_none();
                    Some((t.id, t.slug))
                }
                None => return Ok(None),
            },
            None => None,
        };
        let extension = match account.extension_id {
            Some(id) => match extension::Entity::find_by_id(id).one(self.db()).await? {
                Some(e) => Some(e.extension),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(Identity {
            session_id: session.id,
            account_id: account.id,
            role,
            tenant,
            extension,
            must_set_up_second_factor,
            session_expires_at: session.expires_at,
        }))
    }

    /// Ends a session (signing out). Ending one already ended changes nothing.
    pub async fn end_session(&self, id: Uuid) -> Result<(), StoreError> {
        account_session::Entity::update_many()
            .col_expr(account_session::Column::RevokedAt, sea_orm::sea_query::Expr::value(now()))
            .filter(account_session::Column::Id.eq(id))
            .filter(account_session::Column::RevokedAt.is_null())
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// An account's live sessions, newest first.
    pub async fn list_sessions(&self, account: Uuid) -> Result<Vec<Session>, StoreError> {
        let rows = account_session::Entity::find()
            .filter(account_session::Column::AccountId.eq(account))
            .filter(account_session::Column::RevokedAt.is_null())
            .filter(account_session::Column::ExpiresAt.gt(now()))
            .order_by_desc(account_session::Column::Id)
            .all(self.db())
            .await?;
        Ok(rows
            .into_iter()
            .map(|s| Session {
                id: s.id,
                user_agent: s.user_agent,
                address: s.address,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// Revokes one of an account's live sessions; another account's (or an ended one) is
    /// `NotFound`.
    pub async fn revoke_session(&self, account: Uuid, id: Uuid) -> Result<(), StoreError> {
        let done = account_session::Entity::update_many()
            .col_expr(account_session::Column::RevokedAt, sea_orm::sea_query::Expr::value(now()))
            .filter(account_session::Column::Id.eq(id))
            .filter(account_session::Column::AccountId.eq(account))
            .filter(account_session::Column::RevokedAt.is_null())
            .exec(self.db())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_password_matches_only_its_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches("correct horse battery", Some(&h)));
        assert!(!password_matches("correct horse batterY", Some(&h)));
        assert!(!password_matches("correct horse battery", None), "the decoy never matches");
        assert!(!password_matches("x", Some("not a hash")));
    }

    #[test]
    fn secrets_are_prefixed_and_stored_only_as_hashes() {
        let s = new_secret();
        assert!(s.starts_with(SESSION_SECRET_PREFIX));
        assert_eq!(s.len(), SESSION_SECRET_PREFIX.len() + 43);
        let h = sha256_hex(&s);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&s[4..]));
        assert_ne!(new_secret(), s);
    }
}
