//! Enrollment invites: an administrator's single-use permission for one
//! user to enroll a first second factor, until it expires.
//!
//! Owns the `mfa_invites` table. The token leaves this module once, in the
//! [`IssuedInvite`] value its issuer hands over; only its SHA-256 is stored, and
//! it is never logged, recorded or shown again.
//!
//! ```text
//!   issued ──enrolled with it──► used
//!     │ └──a newer invite for the same user──► voided
//!     └──past expires_at──► expired (refused; voided when the next one is issued)
//! ```

use serde::Serialize;
use sqlx::Row;

use crate::clock::{SharedClock, Timestamp};
use crate::identity::session::{random_token, sha256_hex};
use crate::storage::{optional, Db};

/// The longest token accepted for a lookup (a real one is 43 characters).
const MAX_TOKEN_LEN: usize = 128;

/// An invite as stored: never its token.
#[derive(Debug, Clone, Serialize)]
pub struct Invite {
    pub id: String,
    pub user_id: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A new invite and its token, which only its issuer ever sees.
pub struct IssuedInvite {
    pub invite: Invite,
    pub token: crate::secret::Secret,
    /// The earlier open invites of the user, voided by this one.
    pub voided: Vec<String>,
}

/// Why a presented invite cannot be used, in words safe to record and show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum InviteRefusal {
    #[error("this enrollment link is not valid (mistyped, or never issued)")]
    Unknown,
    #[error("this enrollment link was already used")]
    Used,
    #[error("this enrollment link was replaced by a newer one")]
    Voided,
    #[error("this enrollment link has expired")]
    Expired,
    #[error("this enrollment link was issued for someone else; sign in as the person it names")]
    OtherUser,
}

impl InviteRefusal {
    /// The stable code the audit event records.
    pub fn code(self) -> &'static str {
        match self {
            InviteRefusal::Unknown => "unknown",
            InviteRefusal::Used => "used",
            InviteRefusal::Voided => "voided",
            InviteRefusal::Expired => "expired",
            InviteRefusal::OtherUser => "other_user",
        }
    }
}

/// Whether `token` could be one this module issued (base64url, bounded):
/// anything else is refused before any lookup, and never set as a cookie.
pub fn well_formed(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new invite's public id (what the audit trail names it by).
pub fn new_id() -> String {
    format!("inv_{}", &random_token()[..22])
}

#[derive(Clone)]
pub struct Invites {
    db: Db,
    clock: SharedClock,
}

const COLUMNS: &str = "id, user_id, created_by, created_at, expires_at, used_at, voided_at";

struct Row_ {
    invite: Invite,
    used: bool,
    voided: bool,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Row_, sqlx::Error> {
    Ok(Row_ {
        invite: Invite {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            created_by: row.try_get("created_by")?,
            created_at: Timestamp(row.try_get("created_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
        },
        used: row.try_get::<Option<i64>, _>("used_at")?.is_some(),
        voided: row.try_get::<Option<i64>, _>("voided_at")?.is_some(),
    })
}

impl Invites {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Invites { db, clock }
    }

    /// The ids of the user's invites neither used nor voided (expired ones included).
    pub async fn open_for(&self, user_id: &str) -> Result<Vec<String>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM mfa_invites WHERE user_id = $1 AND used_at IS NULL AND voided_at IS NULL",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Voids the user's open invites `voiding` and stores a new one, `id`
    /// (from [`new_id`]), valid until `expires_at`. The caller records both first.
    pub async fn issue(
        &self,
        id: &str,
        user_id: &str,
        created_by: &str,
        expires_at: Timestamp,
        voiding: Vec<String>,
    ) -> Result<IssuedInvite, sqlx::Error> {
        let now = self.clock.now();
        let token = random_token();
        let invite = Invite {
            id: id.to_owned(),
            user_id: user_id.to_owned(),
            created_by: created_by.to_owned(),
            created_at: now,
            expires_at,
        };
        let mut tx = self.db.pool().begin().await?;
        for id in &voiding {
            sqlx::query("UPDATE mfa_invites SET voided_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(now.millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        // The partial unique index refuses a second open invite, should
        // another issue for this user have raced this one.
        sqlx::query(
            "INSERT INTO mfa_invites (id, token_hash, user_id, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&invite.id)
        .bind(sha256_hex(&token))
        .bind(user_id)
        .bind(created_by)
        .bind(now.millis())
        .bind(invite.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(IssuedInvite { invite, token: crate::secret::Secret::new(token), voided: voiding })
    }

    /// The invite `token` names, if `user_id` may enroll with it now; else
    /// why not, with the invite's id when the token names one.
    pub async fn check(
        &self,
        token: &str,
        user_id: &str,
    ) -> Result<Result<Invite, (InviteRefusal, Option<String>)>, sqlx::Error> {
        if !well_formed(token) {
            return Ok(Err((InviteRefusal::Unknown, None)));
        }
        let row = optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM mfa_invites WHERE token_hash = $1"))
                .bind(sha256_hex(token))
                .fetch_one(self.db.pool())
                .await,
        )?;
        let Some(row) = row.as_ref().map(from_row).transpose()? else {
            return Ok(Err((InviteRefusal::Unknown, None)));
        };
        let refusal = if row.invite.user_id != user_id {
            Some(InviteRefusal::OtherUser)
        } else if row.used {
            Some(InviteRefusal::Used)
        } else if row.voided {
            Some(InviteRefusal::Voided)
        } else if self.clock.now() >= row.invite.expires_at {
            Some(InviteRefusal::Expired)
        } else {
            None
        };
        Ok(match refusal {
            Some(why) => Err((why, Some(row.invite.id))),
            None => Ok(row.invite),
        })
    }

    /// Marks the invite used, if it still is open and unexpired; false if
    /// another request used it (or it lapsed) in the meantime.
    pub async fn consume(&self, invite_id: &str) -> Result<bool, sqlx::Error> {
        let now = self.clock.now().millis();
        let done = sqlx::query(
            "UPDATE mfa_invites SET used_at = $1 \
             WHERE id = $2 AND used_at IS NULL AND voided_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(invite_id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
