//! The TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step)
//! and single-use recovery codes.
//!
//! - Secrets are sealed with the key ring, bound to their user.
//! - Each time step is accepted once per user (replay guard), and codes are
//!   compared in constant time.
//! - Attempts are serialized per user: each one is first counted as a
//!   failure (an optimistic update on the failure counter), then cleared on
//!   success, so concurrent guesses cannot slip past the throttle.
//!
//! ```text
//!  failures:  0 … throttle_after ──► delays 30 s, 60 s, 120 s … (max 15 min)
//!                                      ──► lockout_after (≤ 100) ──► locked until
//!                                                                  `custodian users reset-mfa`
//! ```

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use sqlx::Row;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use super::MfaConfig;
use crate::clock::{SharedClock, Timestamp};
use crate::storage::{optional, Db};
use crate::vault::{sealed, KeyRing, SealError};

const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;
const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const MAX_DELAY_SECONDS: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("that code is not valid")]
    InvalidCode,
    #[error("that code was already used; wait for the next one")]
    Replayed,
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("the second factor is locked after too many failed attempts; ask an administrator to reset it")]
    Locked,
    #[error("no second factor is enrolled")]
    NotEnrolled,
    #[error("a second factor is already enrolled")]
    AlreadyEnrolled,
    #[error("the stored second factor cannot be decrypted: {0}")]
    Seal(#[from] SealError),
    #[error("the second factor cannot be set up: {0}")]
    Totp(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// A verification result: how the factor was proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
}

impl Method {
    /// Six digits are a TOTP code; anything else is tried as a recovery code.
    pub fn of(input: &str) -> Method {
        let input = input.trim();
        if input.len() == DIGITS && input.bytes().all(|b| b.is_ascii_digit()) {
            Method::Totp
        } else {
            Method::RecoveryCode
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::RecoveryCode => "recovery_code",
        }
    }
}

/// What a failed attempt did to the counter (for the audit event).
#[derive(Debug)]
pub struct Failure {
    pub error: MfaError,
    pub consecutive_failures: i64,
    pub now_locked: bool,
}

impl From<MfaError> for Failure {
    fn from(error: MfaError) -> Self {
        Failure { error, consecutive_failures: 0, now_locked: false }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        MfaError::Storage(e).into()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorState {
    None,
    Pending,
    Enabled,
    Locked,
}

/// What the enrollment page shows: once, to the user enrolling.
pub struct Enrollment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_png_base64: String,
}

struct Row_ {
    secret_sealed: String,
    enabled: bool,
    last_step: i64,
    failed_count: i64,
    last_failed_at: Option<i64>,
    locked: bool,
}

#[derive(Clone)]
pub struct Mfa {
    db: Db,
    clock: SharedClock,
    keys: Arc<KeyRing>,
    config: MfaConfig,
}

impl Mfa {
    pub fn new(db: Db, clock: SharedClock, keys: Arc<KeyRing>, config: MfaConfig) -> Self {
        Mfa { db, clock, keys, config }
    }

    async fn row(&self, user_id: &str) -> Result<Option<Row_>, sqlx::Error> {
        let row = optional(
            sqlx::query(
                "SELECT secret_sealed, enabled, last_step, failed_count, last_failed_at, locked \
                 FROM mfa_totp WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(self.db.pool())
            .await,
        )?;
        row.map(|r| {
            Ok(Row_ {
                secret_sealed: r.try_get("secret_sealed")?,
                enabled: r.try_get::<i64, _>("enabled")? == 1,
                last_step: r.try_get("last_step")?,
                failed_count: r.try_get("failed_count")?,
                last_failed_at: r.try_get("last_failed_at")?,
                locked: r.try_get::<i64, _>("locked")? == 1,
            })
        })
        .transpose()
    }

    pub async fn state(&self, user_id: &str) -> Result<FactorState, sqlx::Error> {
        Ok(match self.row(user_id).await? {
            None => FactorState::None,
            Some(r) if r.locked => FactorState::Locked,
            Some(r) if r.enabled => FactorState::Enabled,
            Some(_) => FactorState::Pending,
        })
    }

    fn totp(&self, secret: Vec<u8>, account: &str) -> Result<TOTP, MfaError> {
        // The otpauth label may not contain ':'.
        let account = account.replace(':', "_");
        TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECONDS, secret, Some(self.config.issuer.clone()), account)
            .map_err(|e| MfaError::Totp(e.to_string()))
    }

    /// Starts (or resumes) enrollment: a new secret is stored sealed but
    /// stays off until a correct code confirms it.
    pub async fn begin_enrollment(&self, user_id: &str, account: &str) -> Result<Enrollment, MfaError> {
        let existing = self.row(user_id).await?;
        let secret = match existing {
            Some(r) if r.enabled || r.locked => return Err(MfaError::AlreadyEnrolled),
            Some(r) => self.keys.open(&r.secret_sealed, &sealed::totp(user_id))?.to_vec(),
            None => {
                let secret: Vec<u8> = (0..20).map(|_| rand::rngs::OsRng.gen::<u8>()).collect();
                let sealed = self.keys.seal(&secret, &sealed::totp(user_id))?;
                sqlx::query(
                    "INSERT INTO mfa_totp (user_id, secret_sealed, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(&sealed)
                .bind(self.clock.now().millis())
                .execute(self.db.pool())
                .await?;
                // Another request may have won the insert: use what is stored.
                let stored = self.row(user_id).await?.ok_or(MfaError::NotEnrolled)?;
                self.keys.open(&stored.secret_sealed, &sealed::totp(user_id))?.to_vec()
            }
        };
        let totp = self.totp(secret, account)?;
        let qr_png_base64 = totp.get_qr_base64().map_err(MfaError::Totp)?;
        Ok(Enrollment { secret_base32: totp.get_secret_base32(), otpauth_url: totp.get_url(), qr_png_base64 })
    }

    /// Checks the first code of a pending enrollment. The factor stays off
    /// until [`Mfa::enable`], which the caller runs once the event is recorded.
    pub async fn check_enrollment_code(&self, user_id: &str, code: &str) -> Result<(), Failure> {
        let row = self.row(user_id).await?.ok_or(MfaError::NotEnrolled)?;
        if row.enabled || row.locked {
            return Err(MfaError::AlreadyEnrolled.into());
        }
        // Decrypt before the attempt counts: a key problem is not a wrong code.
        let secret = self.keys.open(&row.secret_sealed, &sealed::totp(user_id)).map_err(MfaError::from)?;
        let failures = self.begin_attempt(user_id, &row).await?;
        let result = self.check_totp(user_id, &secret, row.last_step, code).await;
        self.finish_attempt(user_id, failures, result).await
    }

    /// Turns a checked enrollment on and returns the recovery codes (shown
    /// once, stored hashed).
    pub async fn enable(&self, user_id: &str) -> Result<Vec<String>, MfaError> {
        let codes = self.replace_recovery_codes(user_id).await?;
        sqlx::query("UPDATE mfa_totp SET enabled = 1, enabled_at = $1 WHERE user_id = $2")
            .bind(self.clock.now().millis())
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(codes)
    }

    /// Verifies a TOTP code or a recovery code for an enrolled user.
    pub async fn verify(&self, user_id: &str, input: &str) -> Result<Method, Failure> {
        let row = self.row(user_id).await?.ok_or(MfaError::NotEnrolled)?;
        if !row.enabled && !row.locked {
            return Err(MfaError::NotEnrolled.into());
        }
        let input = input.trim();
        let is_totp = Method::of(input) == Method::Totp;
        // Decrypt before the attempt counts: a key problem is not a wrong code.
        let secret = if is_totp {
            Some(self.keys.open(&row.secret_sealed, &sealed::totp(user_id)).map_err(MfaError::from)?)
        } else {
            None
        };
        let failures = self.begin_attempt(user_id, &row).await?;
        let result = if let Some(secret) = &secret {
            self.check_totp(user_id, secret, row.last_step, input).await.map(|_| Method::Totp)
        } else {
            self.use_recovery_code(user_id, input).await.map(|_| Method::RecoveryCode)
        };
        self.finish_attempt(user_id, failures, result).await
    }

    /// Starts one attempt under the throttle: refuses while locked or
    /// delayed, and counts the attempt as a failure up front. Returns the
    /// failure count this attempt will leave if it fails.
    async fn begin_attempt(&self, user_id: &str, row: &Row_) -> Result<i64, Failure> {
        if row.locked {
            return Err(MfaError::Locked.into());
        }
        let now = self.clock.now();
        if let Some(wait) = self.delay_remaining(row, now) {
            return Err(MfaError::Throttled { retry_after_secs: wait }.into());
        }
        let reserved = sqlx::query(
            "UPDATE mfa_totp SET failed_count = failed_count + 1, last_failed_at = $1 \
             WHERE user_id = $2 AND failed_count = $3 AND locked = 0",
        )
        .bind(now.millis())
        .bind(user_id)
        .bind(row.failed_count)
        .execute(self.db.pool())
        .await?;
        if reserved.rows_affected() == 0 {
            // Another attempt for this user is in flight.
            return Err(MfaError::Throttled { retry_after_secs: 1 }.into());
        }
        Ok(row.failed_count + 1)
    }

    /// Clears the count on success; locks the factor when the failures reach the limit.
    async fn finish_attempt<T>(
        &self,
        user_id: &str,
        failures: i64,
        result: Result<T, MfaError>,
    ) -> Result<T, Failure> {
        match result {
            Ok(v) => {
                sqlx::query("UPDATE mfa_totp SET failed_count = 0, last_failed_at = NULL WHERE user_id = $1")
                    .bind(user_id)
                    .execute(self.db.pool())
                    .await?;
                Ok(v)
            }
            Err(MfaError::Storage(e)) => Err(MfaError::Storage(e).into()),
            Err(error) => {
                let now_locked = failures >= i64::from(self.config.lockout_after);
                if now_locked {
                    sqlx::query("UPDATE mfa_totp SET locked = 1 WHERE user_id = $1")
                        .bind(user_id)
                        .execute(self.db.pool())
                        .await?;
                }
                Err(Failure {
                    error: if now_locked { MfaError::Locked } else { error },
                    consecutive_failures: failures,
                    now_locked,
                })
            }
        }
    }

    fn delay_remaining(&self, row: &Row_, now: Timestamp) -> Option<u64> {
        let over = row.failed_count - i64::from(self.config.throttle_after);
        if over < 0 {
            return None;
        }
        let delay = 30i64.saturating_mul(1i64 << over.min(20)).min(MAX_DELAY_SECONDS) * 1000;
        let until = row.last_failed_at? + delay;
        (now.millis() < until).then(|| u64::try_from((until - now.millis() + 999) / 1000).unwrap_or(1))
    }

    async fn check_totp(
        &self,
        user_id: &str,
        secret: &[u8],
        last_step: i64,
        code: &str,
    ) -> Result<(), MfaError> {
        let totp = self.totp(secret.to_vec(), user_id)?;
        let current = i64::try_from(self.clock.now().unix_seconds() / STEP_SECONDS).unwrap_or(0);
        let mut matched = None;
        for step in [current - 1, current, current + 1] {
            let expected = totp.generate(u64::try_from(step).unwrap_or(0) * STEP_SECONDS);
            // Check every candidate, so timing does not reveal which step matched.
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                matched = Some(step);
            }
        }
        let step = matched.ok_or(MfaError::InvalidCode)?;
        if step <= last_step {
            return Err(MfaError::Replayed);
        }
        let updated = sqlx::query("UPDATE mfa_totp SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
            .bind(step)
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        if updated.rows_affected() == 0 {
            return Err(MfaError::Replayed);
        }
        Ok(())
    }

    async fn use_recovery_code(&self, user_id: &str, input: &str) -> Result<(), MfaError> {
        let normalized: String =
            input.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
        if normalized.len() != 10 {
            return Err(MfaError::InvalidCode);
        }
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, code_hash FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?;
        let argon = Argon2::default();
        for (id, hash) in rows {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                continue;
            };
            if argon.verify_password(normalized.as_bytes(), &parsed).is_ok() {
                let used = sqlx::query(
                    "UPDATE mfa_recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                )
                .bind(self.clock.now().millis())
                .bind(&id)
                .execute(self.db.pool())
                .await?;
                return if used.rows_affected() == 1 { Ok(()) } else { Err(MfaError::InvalidCode) };
            }
        }
        Err(MfaError::InvalidCode)
    }

    async fn replace_recovery_codes(&self, user_id: &str) -> Result<Vec<String>, MfaError> {
        let argon = Argon2::default();
        let mut shown = Vec::with_capacity(RECOVERY_CODES);
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for _ in 0..RECOVERY_CODES {
            let raw: String = (0..10)
                .map(|_| {
                    char::from(RECOVERY_ALPHABET[rand::rngs::OsRng.gen_range(0..RECOVERY_ALPHABET.len())])
                })
                .collect();
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            let hash = argon
                .hash_password(raw.as_bytes(), &salt)
                .map_err(|e| MfaError::Totp(e.to_string()))?
                .to_string();
            sqlx::query("INSERT INTO mfa_recovery_codes (id, user_id, code_hash) VALUES ($1, $2, $3)")
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(user_id)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
            shown.push(format!("{}-{}", &raw[..5], &raw[5..]));
        }
        tx.commit().await?;
        Ok(shown)
    }

    /// Removes the factor and recovery codes; the user enrolls again as
    /// `mfa.enrollment` allows (with a new invite, unless it is "open").
    pub async fn reset(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done =
            sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Discards a factor set up but never confirmed, so that the next
    /// enrollment starts with a new secret (one nobody saw before).
    pub async fn discard_pending(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1 AND enabled = 0 AND locked = 0")
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user_id)
                .fetch_one(self.db.pool())
                .await?;
        Ok(n)
    }
}
