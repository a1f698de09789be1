//! sea-orm entities, one per table; private to the store so no other crate touches them.

pub mod account;
pub mod account_session;
pub mod api_key;
pub mod audit_entry;
pub mod company;
pub mod contact;
pub mod conversation;
pub mod delivery_attempt;
pub mod event;
pub mod extension;
pub mod inbound_prefix;
pub mod job;
pub mod media;
pub mod message;
pub mod number;
pub mod number_destination;
pub mod number_sender;
pub mod opt_out;
pub mod policy;
pub mod policy_extension;
pub mod provider;
pub mod reply_template;
pub mod sign_in_failure;
pub mod tenant;
