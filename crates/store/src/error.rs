//! The store's one error type, and the one place where database errors are classified.

use sea_orm::{DbErr, SqlErr};
use switchboard_core::FieldError;

/// What went wrong in the store, in terms the HTTP edge maps to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The resource does not exist in this tenant (or at all).
    #[error("not found")]
    NotFound,
    /// The change collides with existing data: a taken name, or a delete of something still in use.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed input that breaks a rule, field by field.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// A request the rules refuse as a whole, with a stable code (`opted_out`, `sender_not_allowed`, …).
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    /// The database cannot be reached; the caller may retry.
    #[error("store unavailable")]
    Unavailable(#[source] DbErr),
    /// Anything else; logged, never shown to a client.
    #[error("store failure")]
    Internal(#[source] DbErr),
}

impl StoreError {
    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError { field: field.into(), message: message.into() }])
    }

    /// A failure outside the database (a file that could not be written, say): logged, never
    /// shown to a client.
    pub fn internal(why: impl Into<String>) -> Self {
        Self::Internal(DbErr::Custom(why.into()))
    }

    /// A JSON column (a policy's rules, an event, a text's media) that would not convert: a fault
    /// of the store, never of the caller.
    pub(crate) fn json(err: serde_json::Error) -> Self {
        Self::Internal(DbErr::Json(err.to_string()))
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                return Self::Conflict("the change collides with an existing record".into());
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return Self::Conflict("the change would break a reference between records".into());
            }
            _ => {}
        }
        match err {
            // PostgreSQL refuses text holding NUL (U+0000), which SQLite stores: the caller's
            // input, not the store's fault. Validation refuses it by field where it can; this is
            // the net for any text that reaches a query before its check.
            DbErr::Exec(ref e) | DbErr::Query(ref e) if holds_nul(e) => {
                Self::invalid("body", "text must not contain the NUL character (U+0000)")
            }
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(err),
            DbErr::Exec(ref e) | DbErr::Query(ref e) if is_io(e) => Self::Unavailable(err),
            other => Self::Internal(other),
        }
    }
}

fn holds_nul(e: &sea_orm::RuntimeErr) -> bool {
    let text = e.to_string();
    text.contains("invalid byte sequence for encoding") && text.contains("0x00")
}

fn is_io(e: &sea_orm::RuntimeErr) -> bool {
    let text = e.to_string();
    text.contains("connection")
        || text.contains("Io")
        || text.contains("broken pipe")
        || text.contains("database is locked")
}

/// Turns a unique-key violation into a conflict with a message that names what is taken.
pub(crate) trait OnUnique<T> {
    fn on_unique(self, message: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> OnUnique<T> for Result<T, DbErr> {
    fn on_unique(self, message: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|e| match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(message()),
            _ => StoreError::from(e),
        })
    }
}
