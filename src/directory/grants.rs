//! The `breakglass` table: emergency access grants, their end, their
//! acknowledgement. SQL only; the rules (who may open one, what is
//! recorded first) are the break-glass service's. It lives with the
//! directory because ending someone's access ends their grant too, and
//! the action path reads it.

use serde::Serialize;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::storage::{optional, Db};

/// Where a grant stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = BreakGlassState)]
pub enum GrantState {
    /// In force: actions of its user are taken under break-glass.
    Open,
    /// Ran its full time.
    Expired,
    /// Ended early by its user.
    Ended,
}

/// One use of break-glass (emergency access), as admins review it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BreakGlassGrant {
    pub id: String,
    pub user_id: String,
    #[schema(required = true)]
    pub email: Option<String>,
    pub justification: String,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
    /// When it ended (early, or at its expiry once noticed); null while unended.
    #[schema(required = true)]
    pub ended_at: Option<Timestamp>,
    pub state: GrantState,
    /// The `breakglass.open` event.
    pub audit_event_id: String,
    #[schema(required = true)]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(required = true)]
    pub acknowledged_by: Option<String>,
    #[schema(required = true)]
    pub acknowledgement: Option<String>,
}

/// A grant to store; its `breakglass.open` event is already recorded.
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub justification: &'a str,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
    pub audit_event_id: &'a str,
}

/// Which grants a listing shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantFilter {
    /// Only grants in force now.
    pub open: bool,
    /// Only grants no admin has acknowledged yet.
    pub unacknowledged: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantStoreError {
    /// The user already has an unended grant (a concurrent open won).
    #[error("the user already has an unended break-glass grant")]
    AlreadyOpen,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

const COLUMNS: &str = "b.id, b.user_id, u.email, b.justification, b.opened_at, b.expires_at, b.ended_at, \
     b.audit_event_id, b.acknowledged_at, b.acknowledged_by, b.acknowledgement";

#[derive(Clone)]
pub struct Grants {
    db: Db,
}

impl Grants {
    pub fn new(db: Db) -> Self {
        Grants { db }
    }

    /// The user's grant in force at `now`: its id and expiry.
    pub async fn open_for(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<(String, Timestamp)>, sqlx::Error> {
        let row: Option<(String, i64)> = optional(
            sqlx::query_as(
                "SELECT id, expires_at FROM breakglass \
                 WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2",
            )
            .bind(user_id)
            .bind(now.millis())
            .fetch_one(self.db.pool())
            .await,
        )?;
        Ok(row.map(|(id, at)| (id, Timestamp(at))))
    }

    /// Stores a grant. A user's expired grants are ended (at their expiry)
    /// first; an unended one still in force is [`GrantStoreError::AlreadyOpen`].
    pub async fn insert(&self, grant: &NewGrant<'_>) -> Result<(), GrantStoreError> {
        sqlx::query(
            "UPDATE breakglass SET ended_at = expires_at \
             WHERE user_id = $1 AND ended_at IS NULL AND expires_at <= $2",
        )
        .bind(grant.user_id)
        .bind(grant.opened_at.millis())
        .execute(self.db.pool())
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO breakglass (id, user_id, justification, opened_at, expires_at, audit_event_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(grant.id)
        .bind(grant.user_id)
        .bind(grant.justification)
        .bind(grant.opened_at.millis())
        .bind(grant.expires_at.millis())
        .bind(grant.audit_event_id)
        .execute(self.db.pool())
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(GrantStoreError::AlreadyOpen),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the grant at `now` if it is still in force; false otherwise.
    pub async fn end(&self, id: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE breakglass SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL AND expires_at > $1",
        )
        .bind(now.millis())
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every grant of the user still in force at `now`; how many ended.
    pub async fn end_all_for_user(&self, user_id: &str, now: Timestamp) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE breakglass SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL AND expires_at > $1",
        )
        .bind(now.millis())
        .bind(user_id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Records the acknowledgement unless one is already there; false then.
    pub async fn acknowledge(
        &self,
        id: &str,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE breakglass SET acknowledged_at = $1, acknowledged_by = $2, acknowledgement = $3 \
             WHERE id = $4 AND acknowledged_at IS NULL",
        )
        .bind(now.millis())
        .bind(by)
        .bind(note)
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get(&self, id: &str, now: Timestamp) -> Result<Option<BreakGlassGrant>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM breakglass b LEFT JOIN users u ON u.id = b.user_id WHERE b.id = $1"
            ))
            .bind(id)
            .fetch_one(self.db.pool())
            .await,
        )?;
        row.map(|r| grant(&r, now)).transpose()
    }

    /// Grants, newest first.
    pub async fn list(
        &self,
        filter: GrantFilter,
        now: Timestamp,
    ) -> Result<Vec<BreakGlassGrant>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM breakglass b LEFT JOIN users u ON u.id = b.user_id \
             WHERE ($1 = 0 OR (b.ended_at IS NULL AND b.expires_at > $2)) \
             AND ($3 = 0 OR b.acknowledged_at IS NULL) \
             ORDER BY b.opened_at DESC, b.id DESC"
        ))
        .bind(i64::from(filter.open))
        .bind(now.millis())
        .bind(i64::from(filter.unacknowledged))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| grant(r, now)).collect()
    }
}

fn grant(r: &sqlx::any::AnyRow, now: Timestamp) -> Result<BreakGlassGrant, sqlx::Error> {
    let expires_at = Timestamp(r.try_get("expires_at")?);
    let ended_at: Option<Timestamp> = r.try_get::<Option<i64>, _>("ended_at")?.map(Timestamp);
    let state = match ended_at {
        Some(at) if at < expires_at => GrantState::Ended,
        Some(_) => GrantState::Expired,
        None if expires_at > now => GrantState::Open,
        None => GrantState::Expired,
    };
    Ok(BreakGlassGrant {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        email: r.try_get("email")?,
        justification: r.try_get("justification")?,
        opened_at: Timestamp(r.try_get("opened_at")?),
        expires_at,
        // An expiry not yet noticed by a later open still reads as an end.
        ended_at: ended_at.or((state == GrantState::Expired).then_some(expires_at)),
        state,
        audit_event_id: r.try_get("audit_event_id")?,
        acknowledged_at: r.try_get::<Option<i64>, _>("acknowledged_at")?.map(Timestamp),
        acknowledged_by: r.try_get("acknowledged_by")?,
        acknowledgement: r.try_get("acknowledgement")?,
    })
}
