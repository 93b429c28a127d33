//! Signed checkpoints: the journal's tree size and root hash, signed with
//! Ed25519 by a key kept outside the database. A rewrite of the journal
//! without that key cannot produce checkpoints that verify.
//!
//! The signed message is a fixed text form, so anyone can check a
//! checkpoint with the public key alone:
//! `custodian-audit-checkpoint/v1\n<tree size>\n<root hex>\n<unix ms>\n`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AuditConfig;
use crate::audit::merkle::{to_hex, Hash};

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("audit.signing_key (or audit.signing_key_file) is required: checkpoints of the audit journal must be signed (generate one with `custodian keys generate`)")]
    Missing,
    #[error("audit.signing_key is not valid: it must be 32 random bytes, base64-encoded")]
    Invalid,
    #[error("the public key is not valid: it must be 32 bytes, base64-encoded (see `custodian audit key`)")]
    InvalidPublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tree_size: u64,
    pub root_hash: String,
    /// Unix milliseconds.
    pub time: i64,
    pub key_id: String,
    pub signature: String,
}

impl Checkpoint {
    pub fn message(tree_size: u64, root_hex: &str, time: i64) -> String {
        format!("custodian-audit-checkpoint/v1\n{tree_size}\n{root_hex}\n{time}\n")
    }

    /// Checks the signature against `key`.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = STANDARD.decode(&self.signature) else { return false };
        let Ok(signature) = Signature::from_slice(&bytes) else { return false };
        let message = Checkpoint::message(self.tree_size, &self.root_hash, self.time);
        key.verify(message.as_bytes(), &signature).is_ok()
    }
}

pub struct CheckpointSigner {
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner").field("key_id", &self.key_id()).finish()
    }
}

impl CheckpointSigner {
    pub fn from_config(config: &AuditConfig) -> Result<CheckpointSigner, SignerError> {
        let secret = config.signing_key.as_ref().ok_or(SignerError::Missing)?;
        let bytes = zeroize::Zeroizing::new(
            STANDARD.decode(secret.expose().trim()).map_err(|_| SignerError::Invalid)?,
        );
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SignerError::Invalid)?;
        Ok(CheckpointSigner { key: SigningKey::from_bytes(&seed) })
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.public_key().as_bytes())
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public_key())
    }

    pub fn sign(&self, tree_size: u64, root: &Hash, time: i64) -> Checkpoint {
        let root_hash = to_hex(root);
        let signature = self.key.sign(Checkpoint::message(tree_size, &root_hash, time).as_bytes());
        Checkpoint {
            tree_size,
            root_hash,
            time,
            key_id: self.key_id(),
            signature: STANDARD.encode(signature.to_bytes()),
        }
    }
}

/// A short, stable name for a public key: the first 8 bytes of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

pub fn parse_public_key(text: &str) -> Result<VerifyingKey, SignerError> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| SignerError::InvalidPublicKey)?;
    let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SignerError::InvalidPublicKey)?;
    VerifyingKey::from_bytes(&array).map_err(|_| SignerError::InvalidPublicKey)
}

type Row = (i64, String, i64, String, String);
const COLUMNS: &str = "SELECT tree_size, root_hash, time, key_id, signature FROM audit_checkpoints";

fn from_row((size, root_hash, time, key_id, signature): Row) -> Checkpoint {
    Checkpoint { tree_size: u64::try_from(size).unwrap_or(0), root_hash, time, key_id, signature }
}

/// Every stored checkpoint, oldest first.
pub async fn stored(db: &crate::storage::Db) -> Result<Vec<Checkpoint>, sqlx::Error> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("{COLUMNS} ORDER BY tree_size")).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The newest stored checkpoint (through a pool, or inside a transaction).
pub async fn latest<'e, E>(db: E) -> Result<Option<Checkpoint>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<Row> = crate::storage::optional(
        sqlx::query_as(&format!("{COLUMNS} ORDER BY tree_size DESC LIMIT 1")).fetch_one(db).await,
    )?;
    Ok(row.map(from_row))
}
