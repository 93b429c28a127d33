//! The key ring: AES-256-GCM keys with ids, one active. A sealed value is the
//! text `v1.<key id>.<base64url(nonce || ciphertext)>`, so every ciphertext
//! names the key that made it and keys can rotate. Associated data binds a
//! ciphertext to its row and kind, so it cannot be moved to another row.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use zeroize::Zeroizing;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Keys that encrypt data at rest (TOTP secrets, platform credentials).
/// Material is 32 random bytes, base64; it lives in files or the environment,
/// never in the database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyRingConfig {
    /// Id of the key that encrypts new data.
    pub active: Option<String>,
    /// Key id → base64 key material.
    pub ring: BTreeMap<String, Secret>,
    /// Key id → file holding the base64 key material (wins over `ring`).
    #[serde(skip_serializing)]
    pub ring_files: BTreeMap<String, PathBuf>,
}

const FORMAT: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("keys.active is not set: configure a key ring (see custodian.example.toml)")]
    NoActiveKey,
    #[error("key {0:?} is named by keys.active but has no material in keys.ring or keys.ring_files")]
    MissingKey(String),
    #[error("key {0:?} is not valid: it must be 32 random bytes, base64-encoded")]
    BadKey(String),
    #[error("key id {0:?} must be letters, digits, '-' or '_'")]
    BadKeyId(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the data was sealed with key {0:?}, which is not in the key ring")]
    UnknownKey(String),
    #[error("the sealed data is damaged or does not belong here")]
    Damaged,
}

pub struct KeyRing {
    active: String,
    keys: BTreeMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    pub fn from_config(config: &KeyRingConfig) -> Result<KeyRing, KeyRingError> {
        let active = config.active.clone().ok_or(KeyRingError::NoActiveKey)?;
        let mut keys = BTreeMap::new();
        for (id, material) in &config.ring {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(KeyRingError::BadKeyId(id.clone()));
            }
            let bytes = Zeroizing::new(
                STANDARD.decode(material.expose().trim()).map_err(|_| KeyRingError::BadKey(id.clone()))?,
            );
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyRingError::BadKey(id.clone()))?;
            keys.insert(id.clone(), cipher);
        }
        if !keys.contains_key(&active) {
            return Err(KeyRingError::MissingKey(active));
        }
        Ok(KeyRing { active, keys })
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Encrypts with the active key. `context` is the associated data, e.g.
    /// `totp:<user id>`; the same context must be given to [`KeyRing::open`].
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, SealError> {
        let cipher = self.keys.get(&self.active).ok_or_else(|| SealError::UnknownKey(self.active.clone()))?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(&self.active, context);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .map_err(|_| SealError::Damaged)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Ok(format!("{FORMAT}.{}.{}", self.active, URL_SAFE_NO_PAD.encode(blob)))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Damaged);
        };
        let cipher = self.keys.get(key_id).ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let blob = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Damaged)?;
        if blob.len() < 12 + 16 {
            return Err(SealError::Damaged);
        }
        let (nonce, ct) = blob.split_at(12);
        let aad = associated_data(key_id, context);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| SealError::Damaged)
    }

    /// The id of the key that sealed `sealed`, if it is well-formed.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.splitn(3, '.');
        match (parts.next(), parts.next()) {
            (Some(FORMAT), Some(id)) => Some(id),
            _ => None,
        }
    }
}

fn associated_data(key_id: &str, context: &str) -> Vec<u8> {
    format!("custodian/{FORMAT}/{key_id}/{context}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn ring(active: &str, ids: &[&str]) -> KeyRing {
        let mut config = KeyRingConfig { active: Some(active.to_owned()), ..Default::default() };
        for id in ids {
            let mut k = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut k);
            config.ring.insert((*id).to_owned(), Secret::new(STANDARD.encode(k)));
        }
        KeyRing::from_config(&config).unwrap()
    }

    #[test]
    fn round_trip_and_context_binding() {
        let r = ring("k1", &["k1"]);
        let sealed = r.seal(b"secret", "totp:u1").unwrap();
        assert!(sealed.starts_with("v1.k1."));
        assert_eq!(&*r.open(&sealed, "totp:u1").unwrap(), b"secret");
        assert_eq!(r.open(&sealed, "totp:u2"), Err(SealError::Damaged));
    }

    #[test]
    fn damaged_and_unknown_key_are_refused() {
        let r = ring("k1", &["k1"]);
        let sealed = r.seal(b"secret", "c").unwrap();
        let mut bad = sealed.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(r.open(std::str::from_utf8(&bad).unwrap(), "c"), Err(SealError::Damaged));
        let other = ring("k2", &["k2"]);
        assert_eq!(other.open(&sealed, "c"), Err(SealError::UnknownKey("k1".into())));
    }

    #[test]
    fn missing_active_key_names_it() {
        let config = KeyRingConfig { active: Some("k9".into()), ..Default::default() };
        let err = KeyRing::from_config(&config).unwrap_err().to_string();
        assert!(err.contains("k9"), "{err}");
    }
}
