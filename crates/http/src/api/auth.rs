//! Signing in: bodies of `/api/v1/auth/…`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Role;
use switchboard_store::accounts as store;
use utoipa::ToSchema;
use uuid::Uuid;

/// Body of `POST /api/v1/auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// Write-only.
    pub password: String,
    /// For an account with a second factor: the authenticator's current code, or a recovery code.
    #[serde(default)]
    pub code: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("email", &self.email).finish_non_exhaustive()
    }
}

/// Who a session speaks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The account's id.
    pub id: Uuid,
    pub role: Role,
    /// The tenant's slug, for a tenant admin or extension user.
    pub tenant: Option<String>,
    /// The extension, for an extension user.
    pub extension: Option<String>,
}

impl From<&store::Identity> for Me {
    fn from(i: &store::Identity) -> Self {
        Self {
            id: i.account_id,
            role: i.role,
            tenant: i.tenant.as_ref().map(|(_, slug)| slug.clone()),
            extension: i.extension.clone(),
        }
    }
}

/// A short-lived access token for API clients, with the session it renews from. Browsers get the
/// session as an HttpOnly cookie besides.
#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    /// Send as `Authorization: Bearer …`; renew it before `expires_in` from `POST /api/v1/auth/token`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds the access token is good for.
    pub expires_in: u64,
    pub session_id: Uuid,
    /// When the session ends, and with it every renewal.
    pub session_expires_at: DateTime<Utc>,
    pub account: Me,
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub id: Uuid,
    /// As the signing-in client gave it.
    pub user_agent: Option<String>,
    /// The client address it was started from.
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Last use, to the minute.
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// True for the session of this request.
    pub current: bool,
}

impl Session {
    /// The store's session, marked when it is the caller's own.
    pub fn of(s: store::Session, current: Option<Uuid>) -> Self {
        Self {
            current: current == Some(s.id),
            id: s.id,
            user_agent: s.user_agent,
            address: s.address,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        }
    }
}

/// Body of `POST /api/v1/auth/invitations/accept`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The invitation's token.
    pub token: String,
    /// Write-only; 12 to 256 characters, not the email.
    pub password: String,
}

impl std::fmt::Debug for AcceptInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcceptInvitation(..)")
    }
}

/// Body of `POST /api/v1/auth/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// Write-only.
    pub current_password: String,
    /// Write-only; 12 to 256 characters, not the email.
    pub new_password: String,
}

impl std::fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangePassword(..)")
    }
}

/// A second factor being set up: enter the secret (or scan the URL as a QR code) into an
/// authenticator app, then confirm with its current code.
#[derive(Serialize, ToSchema)]
pub struct TotpSetup {
    /// Base32.
    pub secret: String,
    #[schema(example = "otpauth://totp/Switchboard:ann%40example.com?secret=…&issuer=Switchboard")]
    pub otpauth_url: String,
}

/// Body of `POST /api/v1/auth/totp/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotp {
    /// The authenticator's current 6-digit code.
    #[schema(example = "123456")]
    pub code: String,
}

/// The recovery codes: each signs in once in place of an authenticator code. Shown only here.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// Body of `POST /api/v1/auth/totp/disable`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTotp {
    /// Write-only: the account's password.
    pub password: String,
}

impl std::fmt::Debug for DisableTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DisableTotp(..)")
    }
}
