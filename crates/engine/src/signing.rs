//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
//! keyed with the base64 part of a `whsec_` secret. During a rotation both secrets sign, and the
//! header carries both signatures separated by a space.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A secret that is not `whsec_` + base64.
#[derive(Debug, thiserror::Error)]
#[error("a webhook secret must be 'whsec_' followed by base64")]
pub struct BadSecret;

fn key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(raw).map_err(|_| BadSecret)
}

/// The `v1,<signature>` of one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let mut mac = HmacSha256::new_from_slice(&key(secret)?).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// True when one of the space-separated signatures in `header` is valid for `secret`.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(&key(secret).unwrap_or_default()) else { return false };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .any(|sig| mac.clone().verify_slice(&sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn matches_the_specification_example() {
        assert_eq!(sign(SECRET, ID, TS, BODY).ok().as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn verifies_any_of_several_signatures_and_nothing_else() {
        let other = "whsec_c2VjcmV0LXR3by1zZWNyZXQtdHdvLXNlY3JldA==";
        let header = format!(
            "{} {}",
            sign(other, ID, TS, BODY).unwrap_or_default(),
            sign(SECRET, ID, TS, BODY).unwrap_or_default()
        );
        assert!(verify(SECRET, ID, TS, BODY, &header));
        assert!(verify(other, ID, TS, BODY, &header));
        assert!(!verify(SECRET, ID, TS + 1, BODY, &header), "the timestamp is signed");
        assert!(!verify(SECRET, "msg_other", TS, BODY, &header), "the id is signed");
        assert!(!verify(SECRET, ID, TS, b"{}", &header), "the body is signed");
        assert!(!verify("whsec_bm90LXRoZS1zZWNyZXQ=", ID, TS, BODY, &header));
    }
}
