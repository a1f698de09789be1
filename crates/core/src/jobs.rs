//! The kinds of durable work, as stored in `job.kind`.

use serde::{Deserialize, Serialize};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Post an event to the tenant's PBX webhook.
    WebhookDelivery,
    /// Send a queued text through its provider.
    ProviderSend,
    /// Fetch an inbound attachment from the provider and keep it.
    MediaFetch,
    /// Deliver an inbound text to an extension's phone as a SIP MESSAGE.
    SipDelivery,
    /// Email an inbound text to an extension when nobody read it in time.
    EmailFallback,
}

impl JobKind {
    pub const ALL: [Self; 5] =
        [Self::WebhookDelivery, Self::ProviderSend, Self::MediaFetch, Self::SipDelivery, Self::EmailFallback];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebhookDelivery => "webhook_delivery",
            Self::ProviderSend => "provider_send",
            Self::MediaFetch => "media_fetch",
            Self::SipDelivery => "sip_delivery",
            Self::EmailFallback => "email_fallback",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn stored_names_are_the_serde_names_and_read_back() {
        for kind in JobKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("webhook"), None);
    }
}
