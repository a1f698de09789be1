//! Message statuses, their order, and what a Flowroute delivery receipt means for them.

use serde::{Deserialize, Serialize};

/// Where a message stands. Outbound: queued → sending → sent → delivered or failed. Inbound
/// messages are `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Received,
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From a remote party to one of the tenant's numbers.
    Inbound,
    /// From the tenant (an extension, an admin or an auto-reply) to a remote party.
    Outbound,
}

impl Direction {
    pub const ALL: [Self; 2] = [Self::Inbound, Self::Outbound];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// Whether a tenant's traffic is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Served normally.
    Active,
    /// Inbound texts are refused and nothing is sent (set by the system administrator).
    Suspended,
}

impl TenantStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Reads a stored name; anything but `suspended` is served.
    pub fn parse(s: &str) -> Self {
        if s == "suspended" { Self::Suspended } else { Self::Active }
    }
}

/// What the last check of a provider's keys found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Flowroute accepted the keys.
    Ok,
    /// Flowroute refused the keys (`401` or `403`).
    BadCredentials,
    /// Flowroute could not be asked: no connection, no answer in time, or a failure on its side.
    Unreachable,
}

impl ConnectionStatus {
    pub const ALL: [Self; 3] = [Self::Ok, Self::BadCredentials, Self::Unreachable];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::BadCredentials => "bad_credentials",
            Self::Unreachable => "unreachable",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Who or what wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An inbound text, from the provider.
    Provider,
    /// Sent by an extension.
    Extension,
    /// Sent by a tenant admin (or the system administrator) through the API.
    Admin,
    /// The policy's after-hours auto-reply.
    AutoReply,
    /// The policy's answer to HELP.
    HelpReply,
}

impl Origin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Extension => "extension",
            Self::Admin => "admin",
            Self::AutoReply => "auto_reply",
            Self::HelpReply => "help_reply",
        }
    }
}

impl MessageStatus {
    pub const ALL: [Self; 6] = [Self::Received, Self::Queued, Self::Sending, Self::Sent, Self::Delivered, Self::Failed];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// `delivered` and `failed` never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Received | Self::Queued => 0,
            Self::Sending => 1,
            Self::Sent => 2,
            Self::Delivered | Self::Failed => 3,
        }
    }

    /// Whether moving from `self` to `next` goes forward: never out of a final status, never back.
    pub fn may_become(self, next: Self) -> bool {
        !self.is_final() && next.rank() > self.rank()
    }
}

/// The status a delivery receipt reports: codes 1001–1003 (and a level-1 receipt without a code)
/// mean sent, 1004 delivered, 1005–1010 and 1100–1299 failed; without a code, the status text decides.
pub fn from_receipt(code: Option<u32>, status: &str) -> MessageStatus {
    match code {
        Some(1004) => MessageStatus::Delivered,
        Some(1005..=1010 | 1100..=1299) => MessageStatus::Failed,
        Some(_) => MessageStatus::Sent,
        None => {
            let s = status.trim().to_ascii_lowercase();
            if s == "delivered" || s == "delivery success" || s == "delivrd" {
                MessageStatus::Delivered
            } else if ["fail", "reject", "expired", "undeliv"].iter().any(|w| s.contains(w)) {
                MessageStatus::Failed
            } else {
                MessageStatus::Sent
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The stored names are the names the API shows (serde), and read back.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn stored_names_are_the_serde_names() {
        let name = |v: serde_json::Value| v.as_str().map(str::to_owned);
        for s in MessageStatus::ALL {
            assert_eq!(name(serde_json::to_value(s).unwrap()).as_deref(), Some(s.as_str()));
            assert_eq!(MessageStatus::parse(s.as_str()), Some(s));
        }
        for d in Direction::ALL {
            assert_eq!(name(serde_json::to_value(d).unwrap()).as_deref(), Some(d.as_str()));
            assert_eq!(Direction::parse(d.as_str()), Some(d));
        }
        for o in [Origin::Provider, Origin::Extension, Origin::Admin, Origin::AutoReply, Origin::HelpReply] {
            assert_eq!(name(serde_json::to_value(o).unwrap()).as_deref(), Some(o.as_str()));
        }
        assert_eq!(MessageStatus::parse("Delivered"), None);
        assert_eq!(Direction::parse("in"), None);
    }

    #[rstest]
    #[case(None, "smsc submit", MessageStatus::Sent)]
    #[case(None, "", MessageStatus::Sent)]
    #[case(Some(1001), "queued", MessageStatus::Sent)]
    #[case(Some(1003), "message buffered", MessageStatus::Sent)]
    #[case(Some(1004), "delivered", MessageStatus::Delivered)]
    #[case(Some(1005), "smsc reject", MessageStatus::Failed)]
    #[case(Some(1010), "", MessageStatus::Failed)]
    #[case(Some(1110), "delivery failure", MessageStatus::Failed)]
    #[case(Some(1210), "", MessageStatus::Failed)]
    #[case(None, "Delivered", MessageStatus::Delivered)]
    #[case(None, "delivery failure", MessageStatus::Failed)]
    #[case(None, "smsc reject", MessageStatus::Failed)]
    fn receipts(#[case] code: Option<u32>, #[case] status: &str, #[case] expected: MessageStatus) {
        assert_eq!(from_receipt(code, status), expected);
    }

    #[rstest]
    #[case(MessageStatus::Queued, MessageStatus::Sending, true)]
    #[case(MessageStatus::Sending, MessageStatus::Sent, true)]
    #[case(MessageStatus::Sent, MessageStatus::Delivered, true)]
    #[case(MessageStatus::Sent, MessageStatus::Failed, true)]
    #[case(MessageStatus::Sent, MessageStatus::Sent, false)]
    #[case(MessageStatus::Delivered, MessageStatus::Failed, false)]
    #[case(MessageStatus::Failed, MessageStatus::Delivered, false)]
    #[case(MessageStatus::Delivered, MessageStatus::Sent, false)]
    #[case(MessageStatus::Sent, MessageStatus::Sending, false)]
    fn only_forward(#[case] from: MessageStatus, #[case] to: MessageStatus, #[case] ok: bool) {
        assert_eq!(from.may_become(to), ok);
    }
}
