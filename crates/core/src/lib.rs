//! Switchboard's pure domain: phone numbers, names, policies and their validation.
//!
//! Nothing here performs I/O, knows about HTTP or SQL, or is async; `.ci/run` proves the crate
//! depends on none of actix-web, sea-orm or reqwest.

pub mod compliance;
pub mod e164;
pub mod event;
pub mod identity;
#[doc(hidden)]
pub mod invariants;
pub mod jobs;
pub mod names;
pub mod party;
pub mod patch;
pub mod policy;
pub mod quiet;
pub mod routing;
pub mod segments;
pub mod sip;
pub mod sources;
pub mod status;
pub mod validation;

pub use e164::{E164, E164Error};
pub use event::{Event, EventBody};
pub use identity::{Role, Scope};
pub use jobs::JobKind;
pub use party::Party;
pub use patch::Patch;
pub use policy::{AfterHours, BusinessWindow, Holiday, KeywordRule, PolicySpec, Weekday};
pub use validation::{FieldError, FieldErrors};
