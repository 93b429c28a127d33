//! Platform credentials (OAuth access and refresh tokens, page tokens, app
//! passwords), sealed with the key ring. The associated data binds each
//! ciphertext to its account and kind, so a value copied to another row
//! does not open. An opened credential is a [`Secret`]: zeroized when
//! dropped, masked in `Debug`, never serialized in clear; callers hold it
//! only for the platform call that needs it.

use std::sync::Arc;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::AccountId;
use crate::secret::Secret;
use crate::storage::{optional, Db};
use crate::vault::keyring::{KeyRing, SealError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    AccessToken,
    RefreshToken,
    PageToken,
    AppPassword,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::AccessToken => "access_token",
            CredentialKind::RefreshToken => "refresh_token",
            CredentialKind::PageToken => "page_token",
            CredentialKind::AppPassword => "app_password",
        }
    }
}

/// The associated data of a credential: its account and kind.
pub fn context(account_id: &str, kind: &str) -> String {
    format!("credential:{account_id}:{kind}")
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("account {account} has no {kind} stored")]
    Missing { account: String, kind: &'static str },
    #[error("the {kind} of account {account} was sealed with key {key_id:?}, which is not in the key ring")]
    UnknownKey { account: String, kind: &'static str, key_id: String },
    #[error("the {kind} of account {account} is damaged or does not belong to it, so it was not used")]
    Damaged { account: String, kind: &'static str },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// A credential as stored: sealed, and when it expires.
pub struct Stored {
    account: AccountId,
    kind: CredentialKind,
    sealed: String,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone)]
pub struct Credentials {
    db: Db,
    keys: Arc<KeyRing>,
}

impl Credentials {
    pub fn new(db: Db, keys: Arc<KeyRing>) -> Self {
        Credentials { db, keys }
    }

    /// Seals and stores (or replaces) the account's credential of this kind.
    pub async fn store(
        &self,
        account_id: &AccountId,
        kind: CredentialKind,
        secret: &Secret,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), VaultError> {
        self.store_all(account_id, &[(kind, secret, expires_at)], now).await
    }

    /// Seals and stores several credentials of one account in one
    /// transaction: all of them or none (a refreshed access token and the
    /// rotated refresh token that came with it).
    pub async fn store_all(
        &self,
        account_id: &AccountId,
        items: &[(CredentialKind, &Secret, Option<Timestamp>)],
        now: Timestamp,
    ) -> Result<(), VaultError> {
        let mut sealed = Vec::with_capacity(items.len());
        for (kind, secret, expires_at) in items {
            let value = self
                .keys
                .seal(secret.expose().as_bytes(), &context(account_id, kind.as_str()))
                .map_err(|_| VaultError::Damaged { account: account_id.to_string(), kind: kind.as_str() })?;
            sealed.push((kind.as_str(), value, expires_at.map(|t| t.millis())));
        }
        let mut tx = self.db.pool().begin().await?;
        for (kind, value, expires_at) in sealed {
            sqlx::query(
                "INSERT INTO credentials (account_id, kind, sealed, expires_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, kind) DO UPDATE SET \
                 sealed = excluded.sealed, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            )
            .bind(account_id)
            .bind(kind)
            .bind(value)
            .bind(expires_at)
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Opens the credential for the platform call about to be made.
    pub async fn open(&self, account_id: &AccountId, kind: CredentialKind) -> Result<Secret, VaultError> {
        let stored = self.stored(account_id, kind).await?;
        let stored = stored
            .ok_or_else(|| VaultError::Missing { account: account_id.to_string(), kind: kind.as_str() })?;
        self.unseal(&stored)
    }

    /// The credential still sealed, with its expiry, in one read; None if there is none.
    pub async fn stored(
        &self,
        account_id: &AccountId,
        kind: CredentialKind,
    ) -> Result<Option<Stored>, VaultError> {
        let row: Option<(String, Option<i64>)> = optional(
            sqlx::query_as("SELECT sealed, expires_at FROM credentials WHERE account_id = $1 AND kind = $2")
                .bind(account_id)
                .bind(kind.as_str())
                .fetch_one(self.db.pool())
                .await,
        )?;
        Ok(row.map(|(sealed, expires_at)| Stored {
            account: account_id.clone(),
            kind,
            sealed,
            expires_at: expires_at.map(Timestamp),
        }))
    }

    /// Opens a stored credential.
    pub fn unseal(&self, stored: &Stored) -> Result<Secret, VaultError> {
        let (account, kind) = (&stored.account, stored.kind.as_str());
        let plain = self.keys.open(&stored.sealed, &context(account, kind)).map_err(|e| match e {
            SealError::UnknownKey(key_id) => {
                VaultError::UnknownKey { account: account.to_string(), kind, key_id }
            }
            SealError::Damaged => VaultError::Damaged { account: account.to_string(), kind },
        })?;
        let text = String::from_utf8(plain.to_vec())
            .map_err(|_| VaultError::Damaged { account: account.to_string(), kind })?;
        Ok(Secret::new(text))
    }

    /// Every credential the account has, opened: what a platform's answer
    /// is checked against before a pass-through caller receives it.
    pub async fn open_all(&self, account_id: &AccountId) -> Result<Vec<Secret>, VaultError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT kind, sealed FROM credentials WHERE account_id = $1")
                .bind(account_id)
                .fetch_all(self.db.pool())
                .await?;
        let kinds = [
            CredentialKind::AccessToken,
            CredentialKind::RefreshToken,
            CredentialKind::PageToken,
            CredentialKind::AppPassword,
        ];
        rows.into_iter()
            .filter_map(|(kind, sealed)| {
                let kind = kinds.into_iter().find(|k| k.as_str() == kind)?;
                Some(Stored { account: account_id.clone(), kind, sealed, expires_at: None })
            })
            .map(|stored| self.unseal(&stored))
            .collect()
    }

    /// When the credential expires, if it is stored and its expiry known.
    pub async fn expires_at(
        &self,
        account_id: &AccountId,
        kind: CredentialKind,
    ) -> Result<Option<Timestamp>, VaultError> {
        let at: Option<Option<i64>> = optional(
            sqlx::query_scalar("SELECT expires_at FROM credentials WHERE account_id = $1 AND kind = $2")
                .bind(account_id)
                .bind(kind.as_str())
                .fetch_one(self.db.pool())
                .await,
        )?;
        Ok(at.flatten().map(Timestamp))
    }

    /// Deletes every credential of the account; returns how many there were.
    pub async fn delete_all(&self, account_id: &AccountId) -> Result<u64, VaultError> {
        let done = sqlx::query("DELETE FROM credentials WHERE account_id = $1")
            .bind(account_id)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
