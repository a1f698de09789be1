//! Secrets at rest: AES-256-GCM under the master key, a fresh random nonce for every write, and the
//! row and column bound in as associated data so a ciphertext copied to another row does not open.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const VERSION: &str = "v1:";

/// Seals and opens secrets. Its `Debug` shows nothing of the key.
pub struct SecretCipher {
    aead: Aes256Gcm,
    /// Derived from the master key, for fingerprints that must match across instances and mean
    /// nothing without the key.
    pepper: [u8; 32],
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

/// The stored text could not be opened: a different master key, or tampering.
#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (wrong master key or corrupted data)")]
pub struct OpenError;

impl SecretCipher {
    /// A cipher under `key`.
    pub fn new(key: &[u8; MASTER_KEY_LEN]) -> Self {
        let pepper = Sha256::new().chain_update(b"switchboard fingerprint v1\0").chain_update(key).finalize().into();
        Self { aead: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)), pepper }
    }

    /// A fingerprint of `secret`, 24 hex digits, keyed by the master key: the same in every
    /// instance, no use to anyone without the key.
    pub(crate) fn fingerprint(&self, secret: &str) -> String {
        let hash = Sha256::new().chain_update(self.pepper).chain_update(secret.as_bytes()).finalize();
        hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts `plaintext` for the place named by `aad` (such as `provider:<id>:secret_key`).
    pub fn seal(&self, plaintext: &str, aad: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for inputs under 64 GiB.
        let ciphertext =
            self.aead.encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: aad.as_bytes() }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    /// Decrypts what [`seal`](Self::seal) produced for the same `aad`.
    pub fn open(&self, sealed: &str, aad: &str) -> Result<SecretString, OpenError> {
        let raw = sealed.strip_prefix(VERSION).ok_or(OpenError)?;
        let bytes = STANDARD.decode(raw).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError)?;
        let plain = self
            .aead
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| OpenError)
    }
}

/// The SHA-256 of `text`, as 64 lower-case hex digits: how the store keeps what it must recognise
/// but never show (session secrets, invitation tokens, API keys) and compares requests.
pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn round_trip_with_fresh_nonces_and_bound_place() {
        let c = SecretCipher::new(&[7u8; 32]);
        let a = c.seal("s3cret", "provider:1:secret_key");
        let b = c.seal("s3cret", "provider:1:secret_key");
        assert_ne!(a, b, "each write uses a fresh nonce");
        assert!(!a.contains("s3cret"));
        assert_eq!(
            c.open(&a, "provider:1:secret_key").map(|s| s.expose_secret().to_owned()).ok(),
            Some("s3cret".into())
        );
        assert!(c.open(&a, "provider:2:secret_key").is_err(), "a ciphertext moved to another row does not open");
        assert!(SecretCipher::new(&[8u8; 32]).open(&a, "provider:1:secret_key").is_err());
        let mut tampered = a.clone();
        tampered.replace_range(10..11, if &a[10..11] == "A" { "B" } else { "A" });
        assert!(c.open(&tampered, "provider:1:secret_key").is_err());
    }
}
