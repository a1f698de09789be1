//! The optional second factor: TOTP (RFC 6238, 6 digits, 30 s, SHA-1, as every authenticator app
//! reads it) with ten one-time recovery codes. The secret is sealed at rest like provider secrets;
//! each code is accepted once (the last time step used is kept); recovery codes are kept as their
//! SHA-256 and removed when used.

use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use secrecy::{ExposeSecret, SecretString};
use totp_rs::{Algorithm, Builder, Totp};
use uuid::Uuid;

use crate::accounts::{blocking, password_matches};
use crate::crypto::sha256_hex;
use crate::entity::{account, tenant};
use crate::{Store, StoreError, now};

/// How many recovery codes are given.
const RECOVERY_CODES: usize = 10;

/// A second factor being set up: the secret to enter into an authenticator app.
pub struct TotpSetup {
    /// Base32, for typing in.
    pub secret: SecretString,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_url: SecretString,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup(..)")
    }
}

/// Where an account's second factor stands.
#[derive(Debug)]
pub struct SecondFactorState {
    pub on: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: usize,
    /// The account's tenant requires one.
    pub required: bool,
    /// A setup started and not confirmed.
    pub pending: Option<TotpSetup>,
}

/// What a second-factor check found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Checked {
    /// A current authenticator code, not used before: the step to remember.
    Code(i64),
    /// A recovery code: the hashes left.
    Recovery(Vec<String>),
    Wrong,
}

fn aad(account: Uuid, pending: bool) -> String {
    format!("account:{account}:totp{}", if pending { ":pending" } else { "" })
}

fn totp(secret: &[u8], email: &str) -> Result<Totp, StoreError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret.to_vec())
        .with_account_name(email)
        .with_issuer(Some("Switchboard"))
        .build()
        .map_err(|e| StoreError::Internal(sea_orm::DbErr::Custom(format!("totp: {e}"))))
}

fn unix_now() -> u64 {
    u64::try_from(now().timestamp()).unwrap_or_default()
}

/// A recovery code as typed: case, spaces and dashes do not matter.
fn normalized(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

fn recovery_code() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    code
}

impl Store {
    fn open_totp(&self, m: &account::Model, pending: bool) -> Result<Option<Totp>, StoreError> {
        let sealed = if pending { &m.totp_pending_enc } else { &m.totp_secret_enc };
        let Some(sealed) = sealed else { return Ok(None) };
        let secret = self.open_secret(sealed, &aad(m.id, pending))?;
        let bytes = totp_rs::Secret::try_from_base32(secret.expose_secret())
            .map_err(|_| StoreError::Internal(sea_orm::DbErr::Custom("a stored TOTP secret is not base32".into())))?;
        totp(&bytes, &m.email).map(Some)
    }

    /// Checks a code against an account's second factor: an authenticator code (not used before)
    /// or one of its recovery codes.
    pub(crate) fn check_second_factor(&self, m: &account::Model, code: &str) -> Result<Checked, StoreError> {
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
            let Some(totp) = self.open_totp(m, false)? else { return Ok(Checked::Wrong) };
            return Ok(match totp.check(&digits, unix_now()) {
                Some(step) => {
                    let step = i64::try_from(step).unwrap_or(i64::MAX);
                    if m.totp_last_step.is_some_and(|last| step <= last) { Checked::Wrong } else { Checked::Code(step) }
                }
                None => Checked::Wrong,
            });
        }
        let hashes: Vec<String> =
            m.recovery_codes.clone().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        let wanted = sha256_hex(&normalized(code));
        if hashes.contains(&wanted) {
            return Ok(Checked::Recovery(hashes.into_iter().filter(|h| *h != wanted).collect()));
        }
        Ok(Checked::Wrong)
    }

    /// Spends a checked code: remembers its step, or removes the recovery code. False when
    /// another sign-in spent it first (the same code twice at once), so it counts once.
    pub(crate) async fn spend_second_factor(&self, m: &account::Model, checked: Checked) -> Result<bool, StoreError> {
        use sea_orm::sea_query::{Expr, ExprTrait};
        use sea_orm::{ColumnTrait, QueryFilter};
        let update = account::Entity::update_many().filter(account::Column::Id.eq(m.id));
        let update = match checked {
            Checked::Code(step) => update
                .col_expr(account::Column::TotpLastStep, Expr::value(step))
                .filter(account::Column::TotpLastStep.is_null().or(account::Column::TotpLastStep.lt(step))),
            Checked::Recovery(left) => update
                .col_expr(account::Column::RecoveryCodes, Expr::value(serde_json::json!(left)))
                .col_expr(account::Column::UpdatedAt, Expr::value(now()))
                .filter(account::Column::UpdatedAt.eq(m.updated_at)),
            Checked::Wrong => return Ok(false),
        };
        Ok(update.exec(self.db()).await?.rows_affected == 1)
    }

    /// Starts setting up an authenticator for an account: a new secret, kept aside until a code
    /// from it is confirmed. An account that has one already is `Conflict`.
    pub async fn begin_totp(&self, account_id: Uuid) -> Result<TotpSetup, StoreError> {
        let m = account::Entity::find_by_id(account_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        if m.totp_secret_enc.is_some() {
            return Err(StoreError::Conflict("a second factor is already set up; turn it off first".into()));
        }
        let mut bytes = [0u8; 20];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let secret = totp_rs::Secret::from(bytes.to_vec());
        let t = totp(&secret, &m.email)?;
        let url = t.to_url().map_err(|e| StoreError::Internal(sea_orm::DbErr::Custom(format!("totp url: {e}"))))?;
        let base32 = secret.to_base32();
        let mut row = m.into_active_model();
        row.totp_pending_enc = Set(Some(self.cipher().seal(&base32, &aad(account_id, true))));
        row.update(self.db()).await?;
        Ok(TotpSetup { secret: SecretString::from(base32), otpauth_url: SecretString::from(url) })
    }

    /// Turns the second factor on with a current code from the authenticator being set up, and
    /// answers the recovery codes (shown once).
    pub async fn confirm_totp(&self, account_id: Uuid, code: &str) -> Result<Vec<SecretString>, StoreError> {
        let m = account::Entity::find_by_id(account_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        let Some(pending) = self.open_totp(&m, true)? else {
            return Err(StoreError::Refused {
                code: "no_totp_setup",
                detail: "No second factor is being set up: start with POST /api/v1/auth/totp.".into(),
            });
        };
        let Some(step) = pending.check(code.trim(), unix_now()) else {
            return Err(StoreError::invalid("code", "is not the authenticator's current code"));
        };
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| sha256_hex(&normalized(c))).collect();
        let secret = self.open_secret(m.totp_pending_enc.as_deref().unwrap_or_default(), &aad(account_id, true))?;
        let mut row = m.into_active_model();
        row.totp_secret_enc = Set(Some(self.cipher().seal(secret.expose_secret(), &aad(account_id, false))));
        row.totp_pending_enc = Set(None);
        row.totp_last_step = Set(Some(i64::try_from(step).unwrap_or(i64::MAX)));
        row.recovery_codes = Set(Some(serde_json::json!(hashes)));
        row.updated_at = Set(now());
        row.update(self.db()).await?;
        Ok(codes.into_iter().map(SecretString::from).collect())
    }

    /// Whether an account's second factor is on, and the setup under way, if any (to show again
    /// after a wrong code).
    pub async fn second_factor_state(&self, account_id: Uuid) -> Result<SecondFactorState, StoreError> {
        let m = account::Entity::find_by_id(account_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        let pending = match (&m.totp_pending_enc, self.open_totp(&m, true)?) {
            (Some(sealed), Some(t)) => {
                let base32 = self.open_secret(sealed, &aad(account_id, true))?;
                let url =
                    t.to_url().map_err(|e| StoreError::Internal(sea_orm::DbErr::Custom(format!("totp url: {e}"))))?;
                Some(TotpSetup { secret: base32, otpauth_url: SecretString::from(url) })
            }
            _ => None,
        };
        let required = match m.tenant_id {
            Some(t) => tenant::Entity::find_by_id(t).one(self.db()).await?.is_some_and(|t| t.require_totp),
            None => false,
        };
        Ok(SecondFactorState {
            on: m.totp_secret_enc.is_some(),
            recovery_codes_left: m
                .recovery_codes
                .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                .map_or(0, |v| v.len()),
            required,
            pending,
        })
    }

    /// Turns the second factor off, given the account's password. Refused while the account's
    /// tenant requires one.
    pub async fn disable_totp(&self, account_id: Uuid, password: SecretString) -> Result<bool, StoreError> {
        let m = account::Entity::find_by_id(account_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        if let Some(tenant_id) = m.tenant_id
            && tenant::Entity::find_by_id(tenant_id).one(self.db()).await?.is_some_and(|t| t.require_totp)
        {
            return Err(StoreError::Refused {
                code: "second_factor_required",
                detail: "This tenant requires a second factor; it cannot be turned off.".into(),
            });
        }
        let stored = m.password_hash.clone();
        if !blocking(move || password_matches(password.expose_secret(), stored.as_deref())).await? {
            return Ok(false);
        }
        let mut row = m.into_active_model();
        row.totp_secret_enc = Set(None);
        row.totp_pending_enc = Set(None);
        row.totp_last_step = Set(None);
        row.recovery_codes = Set(None);
        row.updated_at = Set(now());
        row.update(self.db()).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_typed_loosely_and_unique() {
        let a = recovery_code();
        assert_eq!(a.len(), 11);
        assert_eq!(normalized(&a.to_uppercase().replace('-', " ")), a.replace('-', ""));
        let all: std::collections::HashSet<String> = (0..200).map(|_| recovery_code()).collect();
        assert_eq!(all.len(), 200);
    }
}
