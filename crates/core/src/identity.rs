//! Who may act: the roles every credential carries, and the rules for the people behind them
//! (an account's email, its password).

use serde::{Deserialize, Serialize};

use crate::FieldErrors;

/// What a credential (a token, a session, an account) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Operates Switchboard: manages tenants, may act as any tenant's admin.
    System,
    /// Manages one tenant.
    TenantAdmin,
    /// One extension of one tenant: sends and reads its own texts.
    Extension,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::System, Self::TenantAdmin, Self::Extension];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::TenantAdmin => "tenant_admin",
            Self::Extension => "extension",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What an API key may do. A key acts as an admin of its tenant, within its scopes; it never
/// manages people or keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything a tenant admin may do but managing users and API keys.
    Admin,
    /// Send texts: `POST /api/v1/tenants/{tenant}/messages` and `POST /api/v1/messages`.
    Send,
    /// Read anything of the tenant (`GET`).
    Read,
}

impl Scope {
    pub const ALL: [Self; 3] = [Self::Admin, Self::Send, Self::Read];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Send => "send",
            Self::Read => "read",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Shortest password accepted (NIST SP 800-63B asks at least 8; a PBX admin's account opens a
/// tenant's texts, so more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: long enough for any passphrase, short enough that hashing it costs
/// nothing extra.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// An email address as accounts are keyed: trimmed and in lower case, or `None` when it is not
/// one address (`local@domain`, no spaces, at most 254 characters).
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(email)
}

/// Checks a new password against the policy: its length, and that it is not the account's email
/// (nor its local part). Problems are added under `field`.
pub fn check_password(errors: &mut FieldErrors, field: &str, password: &str, email: &str) {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        errors.add(field, format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    } else if chars > MAX_PASSWORD_CHARS {
        errors.add(field, format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    let lower = password.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lower == email || (!local.is_empty() && lower == local) {
        errors.add(field, "must not be the email address");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_keyed_in_lower_case_and_checked() {
        assert_eq!(normalize_email("  Ann.Lee@Example.COM "), Some("ann.lee@example.com".into()));
        for bad in ["", "ann", "@example.com", "ann@", "ann@example", "ann@.com", "ann@example.", "a b@example.com"] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
        assert_eq!(normalize_email(&format!("{}@example.com", "a".repeat(65))), None);
    }

    #[test]
    fn the_password_policy() {
        let check = |p: &str| {
            let mut e = FieldErrors::new();
            check_password(&mut e, "password", p, "ann.lee@example.com");
            e.is_empty()
        };
        assert!(!check("short"));
        assert!(!check(&"x".repeat(11)));
        assert!(check(&"x".repeat(12)));
        assert!(check("correct horse battery staple"));
        assert!(!check(&"x".repeat(257)));
        assert!(!check("Ann.Lee@Example.com"));
        assert!(!check("ann.lee@example.com"));
        assert!(check("ann.lee@example.com!"));
    }

    #[test]
    fn roles_read_back_as_written() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }
}
