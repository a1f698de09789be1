//! A tenant's users: bodies of `…/users`.

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use switchboard_core::Role;
use switchboard_store::{accounts, users as store};
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// Body of `POST …/users`: an invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(example = "ann@example.com")]
    pub email: String,
    #[schema(example = "Ann Lee")]
    pub name: String,
    /// `tenant_admin` or `extension`.
    pub role: Role,
    /// The extension an extension user is.
    #[serde(default)]
    #[schema(example = "101")]
    pub extension: Option<String>,
}
convert!(NewUser => store::NewUser { email, name, role, extension });

/// Body of `PATCH …/users/{id}`; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub name: Option<String>,
    /// `true` ends every session of the user at once; `false` lets them sign in again.
    #[serde(default)]
    pub disabled: Option<bool>,
}
convert!(UserPatch => store::UserPatch { name, disabled });

/// Where a user stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited, no password chosen yet.
    Invited,
    Active,
    /// Signs in to nothing; every session ended when disabled.
    Disabled,
}

/// A one-time invitation, shown in the answer that creates it and never again.
#[derive(Serialize, ToSchema)]
pub struct Invitation {
    /// Give it to the user (by a channel you trust); they choose a password with it at
    /// `POST /api/v1/auth/invitations/accept`. Stored only as a hash.
    #[schema(example = "sbi_3q2-7wAAbP0Xk1dKQ9vNwJmTg6cR5yZs0123456789a")]
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl From<accounts::Invitation> for Invitation {
    fn from(i: accounts::Invitation) -> Self {
        Self { token: i.token.expose_secret().to_owned(), expires_at: i.expires_at }
    }
}

/// A user of the tenant: a tenant admin or an extension user.
#[derive(Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    /// Lower case; unique across Switchboard.
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The extension, for an extension user.
    pub extension: Option<String>,
    pub status: UserStatus,
    /// Until when the pending invitation can be accepted.
    pub invitation_expires_at: Option<DateTime<Utc>>,
    /// The invitation, in the answer that creates it only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<accounts::Account> for User {
    fn from(a: accounts::Account) -> Self {
        let status = if a.disabled {
            UserStatus::Disabled
        } else if a.has_password {
            UserStatus::Active
        } else {
            UserStatus::Invited
        };
        Self {
            id: a.id,
            email: a.email,
            name: a.name,
            role: a.role,
            extension: a.extension,
            status,
            invitation_expires_at: a.invited_until,
            invitation: None,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

impl User {
    /// The user with the invitation just made for them.
    pub fn invited((account, invitation): (accounts::Account, accounts::Invitation)) -> Self {
        Self { invitation: Some(invitation.into()), ..Self::from(account) }
    }
}
