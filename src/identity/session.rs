//! Server-side sessions. The cookie holds a random 256-bit id; the database
//! holds only its SHA-256, so a database reader cannot hijack a session.
//! A session also has a public handle (safe for audit records and the API).
//!
//! ```text
//!   sign-in ──► pending (second factor due) ──verify/enroll──► active
//!      │              │                                          │
//!      └──────────────┴── idle timeout, absolute lifetime, logout ┴──► gone (row deleted)
//!                                          revocation ──► ended (the reason kept,
//!                                                        keyed by the id's hash)
//! ```
//! A session ended by a revocation leaves the reason behind (for as long as
//! the session could have lived), so the old cookie is told why, not just
//! that it is not signed in.
//! The id is replaced at sign-in and again when the second factor passes.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use super::SessionConfig;
use crate::audit::SessionEnd;
use crate::clock::{SharedClock, Timestamp};
use crate::secret::Secret;
use crate::storage::{optional, Db};

/// Touching `last_seen_at` on every request would turn each read into a
/// write; this much staleness is allowed (far below any idle timeout).
const TOUCH_GRANULARITY_MS: i64 = 5_000;

/// The raw session id from the cookie. Never logged, never stored.
#[derive(Clone)]
pub struct SessionId(Secret);

impl SessionId {
    fn generate() -> SessionId {
        SessionId(Secret::new(random_token()))
    }

    /// Parses a cookie value; anything that is not a well-formed id is `None`.
    pub fn parse(raw: &str) -> Option<SessionId> {
        let ok = raw.len() == 43 && URL_SAFE_NO_PAD.decode(raw).map(|b| b.len() == 32).unwrap_or(false);
        ok.then(|| SessionId(Secret::new(raw.to_owned())))
    }

    pub fn cookie_value(&self) -> &str {
        self.0.expose()
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.expose().as_bytes()))
    }

    /// The CSRF token for forms of this session: derived from the id, so it
    /// changes when the id does, and reveals nothing about it.
    pub fn csrf_token(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"custodian-csrf\0");
        h.update(self.0.expose().as_bytes());
        URL_SAFE_NO_PAD.encode(h.finalize())
    }

    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf_token().as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(***)")
    }
}

/// 256 random bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

#[derive(Debug, Clone)]
pub struct Session {
    pub handle: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub mfa_verified_at: Option<Timestamp>,
    pub mfa_method: Option<String>,
    pub idle_expires_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    /// The `amr` values by which the IdP vouched for multi-factor
    /// authentication at this session's sign-in (empty: it did not).
    pub idp_mfa_amr: Vec<String>,
}

impl Session {
    pub fn mfa_passed(&self) -> bool {
        self.mfa_verified_at.is_some()
    }

    pub fn expires_at(&self) -> Timestamp {
        self.idle_expires_at.min(self.absolute_expires_at)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no such session")]
    NotFound,
    #[error("the session expired")]
    Expired { session: Box<Session>, reason: SessionEnd },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Sessions {
    db: Db,
    clock: SharedClock,
    idle: Duration,
    absolute: Duration,
}

impl Sessions {
    pub fn new(db: Db, clock: SharedClock, config: &SessionConfig) -> Self {
        Sessions { db, clock, idle: config.idle_timeout, absolute: config.absolute_lifetime }
    }

    /// Starts a session whose second factor is still due; `idp_mfa_amr`
    /// is how the IdP vouched for MFA at this sign-in, if it did.
    pub async fn create(
        &self,
        user_id: &str,
        idp_mfa_amr: &[String],
    ) -> Result<(SessionId, Session), sqlx::Error> {
        let id = SessionId::generate();
        let handle = format!("s_{}", &random_token()[..22]);
        let now = self.clock.now();
        let amr = (!idp_mfa_amr.is_empty()).then(|| idp_mfa_amr.join(" "));
        sqlx::query(
            "INSERT INTO sessions (id_hash, handle, user_id, created_at, last_seen_at, idp_mfa_amr) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(id.hash())
        .bind(&handle)
        .bind(user_id)
        .bind(now.millis())
        .bind(amr)
        .execute(self.db.pool())
        .await?;
        let mut session = self.shape(handle, user_id.to_owned(), now, now, None, None);
        session.idp_mfa_amr = idp_mfa_amr.to_vec();
        Ok((id, session))
    }

    /// Loads a live session and marks it seen; an expired one is deleted.
    pub async fn load(&self, id: &SessionId) -> Result<Session, SessionError> {
        let row = optional(
            sqlx::query(
                "SELECT handle, user_id, created_at, last_seen_at, mfa_verified_at, mfa_method, idp_mfa_amr \
                 FROM sessions WHERE id_hash = $1",
            )
            .bind(id.hash())
            .fetch_one(self.db.pool())
            .await,
        )?
        .ok_or(SessionError::NotFound)?;
        let mut session = self.shape(
            row.try_get("handle")?,
            row.try_get("user_id")?,
            Timestamp(row.try_get("created_at")?),
            Timestamp(row.try_get("last_seen_at")?),
            row.try_get::<Option<i64>, _>("mfa_verified_at")?.map(Timestamp),
            row.try_get("mfa_method")?,
        );
        let amr: Option<String> = row.try_get("idp_mfa_amr")?;
        session.idp_mfa_amr = amr.map(|a| a.split(' ').map(str::to_owned).collect()).unwrap_or_default();
        let now = self.clock.now();
        let reason = if now >= session.absolute_expires_at {
            Some(SessionEnd::AbsoluteLifetime)
        } else if now >= session.idle_expires_at {
            Some(SessionEnd::IdleTimeout)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.delete(id).await?;
            return Err(SessionError::Expired { session: Box::new(session), reason });
        }
        if now.millis() - session.last_seen_at.millis() >= TOUCH_GRANULARITY_MS {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now.millis())
                .bind(id.hash())
                .execute(self.db.pool())
                .await?;
            return Ok(Session { last_seen_at: now, idle_expires_at: now.plus(self.idle), ..session });
        }
        Ok(session)
    }

    /// Records a passed second factor and replaces the session id
    /// (no fixation across the privilege change). Returns the new id.
    pub async fn mark_mfa_passed(&self, id: &SessionId, method: &str) -> Result<SessionId, SessionError> {
        let new_id = SessionId::generate();
        let now = self.clock.now();
        let done = sqlx::query(
            "UPDATE sessions SET id_hash = $1, mfa_verified_at = $2, mfa_method = $3, last_seen_at = $2 \
             WHERE id_hash = $4",
        )
        .bind(new_id.hash())
        .bind(now.millis())
        .bind(method)
        .bind(id.hash())
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(SessionError::NotFound);
        }
        Ok(new_id)
    }

    pub async fn delete(&self, id: &SessionId) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id.hash())
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of a user because their access was revoked;
    /// `reason` (words an administrator wrote, or the kind of change) is what
    /// the old cookie is told. Returns how many ended.
    pub async fn end_all_for_user(&self, user_id: &str, reason: &str) -> Result<u64, sqlx::Error> {
        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM ended_sessions WHERE ended_at < $1")
            .bind(self.oldest_live(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO ended_sessions (id_hash, user_id, reason, ended_at) \
             SELECT id_hash, user_id, $2, $3 FROM sessions WHERE user_id = $1 \
             ON CONFLICT (id_hash) DO NOTHING",
        )
        .bind(user_id)
        .bind(reason)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        let done =
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Why a revocation ended this session, if one did (recently enough to remember).
    pub async fn ended_because(&self, id: &SessionId) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> = optional(
            sqlx::query_as("SELECT reason FROM ended_sessions WHERE id_hash = $1 AND ended_at >= $2")
                .bind(id.hash())
                .bind(self.oldest_live(self.clock.now()))
                .fetch_one(self.db.pool())
                .await,
        )?;
        Ok(row.map(|(reason,)| reason))
    }

    /// A session that began before this could no longer be alive.
    fn oldest_live(&self, now: Timestamp) -> i64 {
        now.millis() - i64::try_from(self.absolute.as_millis()).unwrap_or(i64::MAX)
    }

    fn shape(
        &self,
        handle: String,
        user_id: String,
        created_at: Timestamp,
        last_seen_at: Timestamp,
        mfa_verified_at: Option<Timestamp>,
        mfa_method: Option<String>,
    ) -> Session {
        Session {
            handle,
            user_id,
            created_at,
            last_seen_at,
            mfa_verified_at,
            mfa_method,
            idle_expires_at: last_seen_at.plus(self.idle),
            absolute_expires_at: created_at.plus(self.absolute),
            idp_mfa_amr: Vec::new(),
        }
    }
}
