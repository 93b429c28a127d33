//! Locks: an administrator's stop on a user, a role or an account, until
//! lifted or, if time-boxed, until it expires. A user lock names the user's
//! stable identity (their directory user's id, else their Custodian id), or
//! an email / user name (lower-cased) for someone who has not signed in
//! yet: a pending lock, bound to the person's stable identity the first
//! time they are seen ([`Locks::bind`]), so a new email does not free them.

use serde::Serialize;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::storage::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LockScope)]
pub enum Scope {
    User,
    Role,
    Account,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Role => "role",
            Scope::Account => "account",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        [Scope::User, Scope::Role, Scope::Account].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Lock {
    pub id: String,
    pub scope: Scope,
    /// The user locked (their directory user's id, else their Custodian user
    /// id; an email or user name while the lock is pending), or the role or account.
    pub target: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: Timestamp,
    #[schema(required = true)]
    pub expires_at: Option<Timestamp>,
    #[schema(required = true)]
    pub lifted_at: Option<Timestamp>,
    #[schema(required = true)]
    pub lifted_by: Option<String>,
}

impl Lock {
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.lifted_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

const COLUMNS: &str = "id, scope, target, reason, created_by, created_at, expires_at, lifted_at, lifted_by";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Lock, sqlx::Error> {
    let scope: String = row.try_get("scope")?;
    Ok(Lock {
        id: row.try_get("id")?,
        scope: Scope::parse(&scope).unwrap_or(Scope::User),
        target: row.try_get("target")?,
        reason: row.try_get("reason")?,
        created_by: row.try_get("created_by")?,
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp),
        lifted_at: row.try_get::<Option<i64>, _>("lifted_at")?.map(Timestamp),
        lifted_by: row.try_get("lifted_by")?,
    })
}

#[derive(Clone)]
pub struct Locks {
    db: Db,
}

impl Locks {
    pub fn new(db: Db) -> Self {
        Locks { db }
    }

    pub async fn insert(&self, lock: &Lock) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO locks (id, scope, target, reason, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&lock.id)
        .bind(lock.scope.as_str())
        .bind(&lock.target)
        .bind(&lock.reason)
        .bind(&lock.created_by)
        .bind(lock.created_at.millis())
        .bind(lock.expires_at.map(|t| t.millis()))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Marks the lock lifted; false if it was not in force.
    pub async fn lift(&self, id: &str, by: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE locks SET lifted_at = $1, lifted_by = $2 WHERE id = $3 AND lifted_at IS NULL",
        )
        .bind(now.millis())
        .bind(by)
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Re-binds a pending user lock from the name it was given to a
    /// person's stable identity; false if it no longer names `from` (lifted,
    /// or bound meanwhile by another request).
    pub async fn bind(&self, id: &str, from: &str, to: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE locks SET target = $1 WHERE id = $2 AND scope = 'user' AND target = $3 AND lifted_at IS NULL",
        )
        .bind(to)
        .bind(id)
        .bind(from)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get(&self, id: &str) -> Result<Option<Lock>, sqlx::Error> {
        let row = crate::storage::optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM locks WHERE id = $1"))
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.as_ref().map(from_row).transpose()
    }

    /// Locks in force on any of the targets in the scope.
    pub async fn in_force(
        &self,
        scope: Scope,
        targets: &[String],
        now: Timestamp,
    ) -> Result<Vec<Lock>, sqlx::Error> {
        self.in_force_on(&[(scope, targets)], now).await
    }

    /// Locks in force on any of the targets of any of the scopes, in one query.
    pub async fn in_force_on(
        &self,
        wanted: &[(Scope, &[String])],
        now: Timestamp,
    ) -> Result<Vec<Lock>, sqlx::Error> {
        let wanted: Vec<&(Scope, &[String])> = wanted.iter().filter(|(_, t)| !t.is_empty()).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut next = 2;
        let mut each = Vec::with_capacity(wanted.len());
        for (_, targets) in &wanted {
            let list = crate::storage::placeholders(next + 1, targets.len());
            each.push(format!("(scope = ${next} AND target IN ({list}))"));
            next += 1 + targets.len();
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM locks WHERE lifted_at IS NULL AND (expires_at IS NULL OR expires_at > $1) \
             AND ({})",
            each.join(" OR ")
        );
        let mut query = sqlx::query(&sql).bind(now.millis());
        for (scope, targets) in wanted {
            query = query.bind(scope.as_str());
            for target in targets.iter() {
                query = query.bind(target);
            }
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Every lock, newest first; with `all`, lifted and expired ones too.
    pub async fn list(&self, all: bool, now: Timestamp) -> Result<Vec<Lock>, sqlx::Error> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM locks ORDER BY created_at DESC, id"))
            .fetch_all(self.db.pool())
            .await?;
        let locks = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(locks.into_iter().filter(|l| all || l.in_force(now)).collect())
    }
}
