//! Message statuses, their order, and what a Flowroute delivery receipt means for them.

use serde::{Deserialize, Serialize};

/// Where a message stands. Outbound: queued → sending → sent → delivered or failed. Inbound
/// messages are `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Received,
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
}

impl MessageStatus {
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
        Some(match s {
            "received" => Self::Received,
            "queued" => Self::Queued,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => return None,
        })
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
