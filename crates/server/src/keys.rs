//! The JWT secret and the master key. Given in configuration they are used as they are; for the
//! embedded SQLite default they are generated on first start and kept beside the database file in
//! `<database>.keys`, mode 0600, so a restart finds the same keys.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use switchboard_store::MASTER_KEY_LEN;

use crate::config::Config;

/// The resolved secrets.
pub struct Keys {
    pub jwt_secret: SecretString,
    pub master_key: SecretBox<[u8; MASTER_KEY_LEN]>,
    /// Where they were kept, when generated or read from the keys file.
    pub file: Option<PathBuf>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("file", &self.file).finish_non_exhaustive()
    }
}

/// Why the secrets could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "jwt_secret (SWITCHBOARD_JWT_SECRET) and master_key (SWITCHBOARD_MASTER_KEY) must be configured \
         when the database is not a SQLite file"
    )]
    Required,
    #[error("jwt_secret (SWITCHBOARD_JWT_SECRET) must be at least 32 bytes")]
    WeakJwtSecret,
    #[error(
        "master_key (SWITCHBOARD_MASTER_KEY) must be 32 bytes encoded in base64, such as the output of `openssl rand -base64 32`"
    )]
    BadMasterKey,
    #[error("keys file {0} is readable by other users; run `chmod 600 {0}`")]
    OpenPermissions(String),
    #[error("keys file {0} is not valid; restore it from backup (without it, stored provider secrets cannot be read)")]
    Corrupt(String),
    #[error("keys file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    jwt_secret: String,
    master_key: String,
}

fn random_b64(n: usize, url_safe: bool) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    if url_safe { URL_SAFE_NO_PAD.encode(bytes) } else { STANDARD.encode(bytes) }
}

fn master_key(text: &str) -> Result<SecretBox<[u8; MASTER_KEY_LEN]>, KeysError> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| KeysError::BadMasterKey)?;
    let arr: [u8; MASTER_KEY_LEN] = bytes.try_into().map_err(|_| KeysError::BadMasterKey)?;
    Ok(SecretBox::new(Box::new(arr)))
}

/// The path of the keys file beside a SQLite database file.
pub fn keys_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".keys");
    db.with_file_name(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeysError + '_ {
    move |source| KeysError::Io { path: path.display().to_string(), source }
}

/// Reads the keys file, creating it (mode 0600, never overwriting) when it does not exist.
fn load_or_create(path: &Path) -> Result<KeysFile, KeysError> {
    let fresh = KeysFile { jwt_secret: random_b64(48, true), master_key: random_b64(MASTER_KEY_LEN, false) };
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut f) => {
            let text = toml::to_string(&fresh).map_err(|_| KeysError::Corrupt(path.display().to_string()))?;
            f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io(path))?;
            tracing::info!(path = %path.display(), "generated the JWT secret and master key");
            Ok(fresh)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = std::fs::metadata(path).map_err(io(path))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(KeysError::OpenPermissions(path.display().to_string()));
            }
            let text = std::fs::read_to_string(path).map_err(io(path))?;
            toml::from_str(&text).map_err(|_| KeysError::Corrupt(path.display().to_string()))
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Resolves the secrets from configuration, falling back to the keys file of a SQLite database.
pub fn resolve(config: &Config) -> Result<Keys, KeysError> {
    let (mut jwt, mut master, mut file) = (config.jwt_secret.clone(), None, None);
    if let Some(m) = &config.master_key {
        master = Some(master_key(m.expose_secret())?);
    }
    if jwt.is_none() || master.is_none() {
        let db = config.sqlite_path().ok_or(KeysError::Required)?;
        let path = keys_path(&db);
        let stored = load_or_create(&path)?;
        if jwt.is_none() {
            jwt = Some(SecretString::from(stored.jwt_secret));
        }
        if master.is_none() {
            master = Some(master_key(&stored.master_key).map_err(|_| KeysError::Corrupt(path.display().to_string()))?);
        }
        file = Some(path);
    }
    let (Some(jwt_secret), Some(master_key)) = (jwt, master) else {
        return Err(KeysError::Required);
    };
    if jwt_secret.expose_secret().len() < 32 {
        return Err(KeysError::WeakJwtSecret);
    }
    Ok(Keys { jwt_secret, master_key, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_config(dir: &Path) -> Config {
        Config { database_url: format!("sqlite://{}/sb.db?mode=rwc", dir.display()), ..Config::default() }
    }

    #[test]
    fn generated_once_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let c = sqlite_config(dir.path());
        let a = resolve(&c).unwrap();
        let b = resolve(&c).unwrap();
        let path = dir.path().join("sb.db.keys");
        assert_eq!(a.file.as_ref(), Some(&path));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(a.jwt_secret.expose_secret(), b.jwt_secret.expose_secret(), "a restart reads the same keys");
        assert_eq!(a.master_key.expose_secret(), b.master_key.expose_secret());
        assert!(a.jwt_secret.expose_secret().len() >= 32);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(resolve(&c), Err(KeysError::OpenPermissions(_))));
    }

    #[test]
    fn postgres_requires_configured_keys_and_checks_them() {
        let mut c = Config { database_url: "postgres://localhost/x".into(), ..Config::default() };
        assert!(matches!(resolve(&c), Err(KeysError::Required)));
        c.jwt_secret = Some(SecretString::from("short"));
        c.master_key = Some(SecretString::from(STANDARD.encode([1u8; 32])));
        assert!(matches!(resolve(&c), Err(KeysError::WeakJwtSecret)));
        c.jwt_secret = Some(SecretString::from("x".repeat(32)));
        c.master_key = Some(SecretString::from("bm90IDMyIGJ5dGVz"));
        let err = resolve(&c).unwrap_err().to_string();
        assert!(err.contains("master_key") && !err.contains("bm90IDMyIGJ5dGVz"), "{err}");
        c.master_key = Some(SecretString::from(STANDARD.encode([1u8; 32])));
        assert!(resolve(&c).is_ok());
    }
}
