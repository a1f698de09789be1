//! Flowroute's messaging wire formats.
//!
//! [`parse_callback`] reads whatever Flowroute posts to a tenant's prefix — an inbound SMS in the
//! JSON:API or the compact format, an MMS with its `included` media, or a delivery receipt in either
//! shape — leniently, as captured payloads require (see `docs/flowroute.md`): key order and
//! unknown fields are ignored, amounts may be strings or numbers, bodies may be null or missing,
//! status codes may be missing, numbers may carry a `+`, timestamps have 0 to 6 fraction digits.
//!
//! [`Client`] sends texts through Flowroute's v2.2 API and classifies every answer; its [`Account`]
//! API lists the account's numbers, sets where Flowroute posts, enables messaging and looks up
//! messages.

mod account;
mod client;
mod inbound;
mod lenient;

#[doc(hidden)]
pub mod invariants;
pub use account::{
    Account, ApiError, CallbackKind, NUMBERS_PAGE, NumbersPage, Provisioning, RemoteMessage, RemoteNumber, api_base,
};
pub use client::{
    Accepted, Client, Credentials, MAX_ANSWER, Outgoing, SendError, classify, error_detail, read_capped, request_body,
};
/// Flowroute's limit on the total size of one outgoing MMS's attachments, in bytes (it answers
/// `422 Error fetching media: File at "<url>" is over 767840 byte limit.` past it).
pub const MMS_MAX_BYTES: usize = 767_840;

pub use inbound::{Callback, DeliveryReceipt, InboundMedia, InboundMessage, ParseError, WireFormat, parse_callback};
