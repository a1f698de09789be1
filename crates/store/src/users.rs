//! A tenant's users, as its admins manage them: invited (a one-time token, kept as a hash, that
//! sets the password), listed, renamed, disabled (which ends their sessions), deleted. And the
//! changes a person makes to their own account: accepting an invitation, changing the password.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::identity::check_password;
use switchboard_core::validation::text;
use switchboard_core::{FieldErrors, Role};
use uuid::Uuid;

use crate::accounts::{
    Account, INVITATION_PREFIX, INVITATION_TTL, Invitation, NewAccount, account_record, blocking, hash_password,
    new_secret_with, password_matches,
};
use crate::crypto::sha256_hex;
use crate::entity::{account, account_session, extension};
use crate::page::{self, Page, PageRequest};
use crate::{Store, StoreError, now};

/// Whose people: a tenant's, or the operators (who belong to no tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum People {
    Tenant(Uuid),
    Operators,
}

impl People {
    fn condition(self) -> sea_orm::Condition {
        match self {
            Self::Tenant(t) => sea_orm::Condition::all().add(account::Column::TenantId.eq(t)),
            Self::Operators => sea_orm::Condition::all()
                .add(account::Column::TenantId.is_null())
                .add(account::Column::Role.eq(Role::System.as_str())),
        }
    }
}

/// A user a tenant admin (or an operator) invites.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// `TenantAdmin` or `Extension`.
    pub role: Role,
    /// The extension an extension user is.
    pub extension: Option<String>,
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    /// Disabling ends every session of the user at once; enabling lets them sign in again.
    pub disabled: Option<bool>,
}

/// How a password change ended.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordChange {
    Changed,
    /// The current password given was wrong.
    WrongPassword,
}

fn invitation() -> (Invitation, String) {
    let token = new_secret_with(INVITATION_PREFIX);
    let hash = sha256_hex(&token);
    (Invitation { token: SecretString::from(token), expires_at: now() + INVITATION_TTL }, hash)
}

impl Store {
    /// Invites a user to a tenant, or an operator: the account exists at once but cannot sign in
    /// until the invitation's token is used to choose a password.
    pub async fn invite_user(&self, people: People, new: NewUser) -> Result<(Account, Invitation), StoreError> {
        let tenant_id = match people {
            People::Tenant(t) if new.role != Role::System => Some(t),
            People::Tenant(_) => return Err(StoreError::invalid("role", "must be tenant_admin or extension")),
            People::Operators if new.role == Role::System => None,
            People::Operators => return Err(StoreError::invalid("role", "must be system")),
        };
        let (invite, hash) = invitation();
        let account = NewAccount {
            email: new.email,
            name: new.name,
            role: new.role,
            tenant_id,
            extension: new.extension,
            password: None,
        };
        let created = self.insert_account(account, Some((hash, invite.expires_at))).await?;
        Ok((created, invite))
    }

    async fn user_model(&self, people: People, id: Uuid) -> Result<account::Model, StoreError> {
        account::Entity::find_by_id(id).filter(people.condition()).one(self.db()).await?.ok_or(StoreError::NotFound)
    }

    async fn user_records(&self, models: Vec<account::Model>) -> Result<Vec<Account>, StoreError> {
        let ids: Vec<Uuid> = models.iter().filter_map(|m| m.extension_id).collect();
        let names: std::collections::HashMap<Uuid, String> = if ids.is_empty() {
            Default::default()
        } else {
            extension::Entity::find()
                .filter(extension::Column::Id.is_in(ids))
                .all(self.db())
                .await?
                .into_iter()
                .map(|e| (e.id, e.extension))
                .collect()
        };
        models
            .into_iter()
            .map(|m| {
                let ext = m.extension_id.and_then(|id| names.get(&id).cloned());
                account_record(m, ext)
            })
            .collect()
    }

    async fn user_record(&self, model: account::Model) -> Result<Account, StoreError> {
        self.user_records(vec![model]).await?.pop().ok_or(StoreError::NotFound)
    }

    /// The tenant's users, oldest first.
    pub async fn list_users(&self, people: People, req: PageRequest) -> Result<Page<Account>, StoreError> {
        let select = account::Entity::find().filter(people.condition());
        let page = page::fetch(self.db(), select, account::Column::Id, |m| m.id, req, false).await?;
        let items = self.user_records(page.items).await?;
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    /// One of the tenant's users.
    pub async fn get_user(&self, people: People, id: Uuid) -> Result<Account, StoreError> {
        let model = self.user_model(people, id).await?;
        self.user_record(model).await
    }

    /// Renames, disables or enables a user. Disabling revokes every session of the user, so
    /// enabling again does not bring an old session back.
    pub async fn update_user(&self, people: People, id: Uuid, patch: UserPatch) -> Result<Account, StoreError> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &patch.name {
            text(&mut errors, "name", name, 100);
        }
        errors.finish().map_err(StoreError::Invalid)?;
        let txn = self.write_txn().await?;
        let current =
            account::Entity::find_by_id(id).filter(people.condition()).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let at = now();
        let was_disabled = current.disabled_at.is_some();
        let mut row = current.into_active_model();
        if let Some(name) = patch.name {
            row.name = Set(name.trim().to_owned());
        }
        match patch.disabled {
            Some(true) if !was_disabled => {
                row.disabled_at = Set(Some(at));
                revoke_all(&txn, id, None).await?;
            }
            Some(false) => row.disabled_at = Set(None),
            _ => {}
        }
        row.updated_at = Set(at);
        let saved = row.update(&txn).await?;
        txn.commit().await?;
        self.user_record(saved).await
    }

    /// Deletes a user and every session of theirs.
    pub async fn delete_user(&self, people: People, id: Uuid) -> Result<(), StoreError> {
        let done = account::Entity::delete_many()
            .filter(account::Column::Id.eq(id))
            .filter(people.condition())
            .exec(self.db())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Replaces a user's invitation with a new one (the old token stops working); for a user who
    /// has not accepted yet, or who forgot their password.
    pub async fn reinvite_user(&self, people: People, id: Uuid) -> Result<(Account, Invitation), StoreError> {
        let current = self.user_model(people, id).await?;
        let (invite, hash) = invitation();
        let mut row = current.into_active_model();
        row.invite_hash = Set(Some(hash));
        row.invite_expires_at = Set(Some(invite.expires_at));
        row.updated_at = Set(now());
        let saved = row.update(self.db()).await?;
        Ok((self.user_record(saved).await?, invite))
    }

    /// Uses an invitation: sets the password, and the token is spent. An unknown, spent or expired
    /// token, or a disabled user's, is `NotFound`. Every earlier session of the user ends.
    pub async fn accept_invitation(&self, token: &str, password: SecretString) -> Result<Account, StoreError> {
        if !token.starts_with(INVITATION_PREFIX) {
            return Err(StoreError::NotFound);
        }
        let found = account::Entity::find()
            .filter(account::Column::InviteHash.eq(sha256_hex(token)))
            .one(self.db())
            .await?
            .filter(|a| a.disabled_at.is_none() && a.invite_expires_at.is_some_and(|e| e > Utc::now()))
            .ok_or(StoreError::NotFound)?;
        let mut errors = FieldErrors::new();
        check_password(&mut errors, "password", password.expose_secret(), &found.email);
        errors.finish().map_err(StoreError::Invalid)?;
        let hash = blocking(move || hash_password(password.expose_secret())).await??;
        let txn = self.write_txn().await?;
        let at = now();
        // Spent only if it is still the same invitation: two uses at once set one password.
        let done = account::Entity::update_many()
            .col_expr(account::Column::PasswordHash, sea_orm::sea_query::Expr::value(hash))
            .col_expr(account::Column::PasswordChangedAt, sea_orm::sea_query::Expr::value(at))
            .col_expr(account::Column::InviteHash, sea_orm::sea_query::Expr::value(Option::<String>::None))
            .col_expr(
                account::Column::InviteExpiresAt,
                sea_orm::sea_query::Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(account::Column::UpdatedAt, sea_orm::sea_query::Expr::value(at))
            .filter(account::Column::Id.eq(found.id))
            .filter(account::Column::InviteHash.eq(sha256_hex(token)))
            .exec(&txn)
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        revoke_all(&txn, found.id, None).await?;
        txn.commit().await?;
        let saved = account::Entity::find_by_id(found.id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        self.user_record(saved).await
    }

    /// Changes an account's password, given the current one; every other session of the account
    /// ends.
    pub async fn change_password(
        &self,
        account_id: Uuid,
        keep_session: Uuid,
        current: SecretString,
        new: SecretString,
    ) -> Result<PasswordChange, StoreError> {
        let found = account::Entity::find_by_id(account_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        let stored = found.password_hash.clone();
        let matches = blocking(move || password_matches(current.expose_secret(), stored.as_deref())).await?;
        if !matches {
            return Ok(PasswordChange::WrongPassword);
        }
        let mut errors = FieldErrors::new();
        check_password(&mut errors, "new_password", new.expose_secret(), &found.email);
        errors.finish().map_err(StoreError::Invalid)?;
        let hash = blocking(move || hash_password(new.expose_secret())).await??;
        let txn = self.write_txn().await?;
        let at = now();
        let mut row = found.into_active_model();
        row.password_hash = Set(Some(hash));
        row.password_changed_at = Set(Some(at));
        row.updated_at = Set(at);
        row.update(&txn).await?;
        revoke_all(&txn, account_id, Some(keep_session)).await?;
        txn.commit().await?;
        Ok(PasswordChange::Changed)
    }
}

/// Revokes every live session of an account but `keep`.
async fn revoke_all<C: sea_orm::ConnectionTrait>(db: &C, account: Uuid, keep: Option<Uuid>) -> Result<(), StoreError> {
    let mut update = account_session::Entity::update_many()
        .col_expr(account_session::Column::RevokedAt, sea_orm::sea_query::Expr::value(now()))
        .filter(account_session::Column::AccountId.eq(account))
        .filter(account_session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(account_session::Column::Id.ne(keep));
    }
    update.exec(db).await?;
    Ok(())
}
