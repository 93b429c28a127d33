//! The organization's connected social accounts: platform, handle, tags
//! (which groups' staff may act on them), status, granted scopes and when
//! the token expires. Never a credential: those are sealed in the vault.

use sqlx::Row;

use crate::audit::ChangedBy;
use crate::audit::{AuditError, Change, EventKind, Journal};
use crate::clock::Timestamp;
use crate::domain::{Account, AccountId, Platform, Status};
use crate::storage::{optional, Db};

/// The token expiry shown is the access token's, as the vault has it now.
const COLUMNS: &str = "id, platform, handle, external_id, base_url, status, status_reason, tags_json, \
     scopes_json, (SELECT c.expires_at FROM credentials c WHERE c.account_id = accounts.id \
     AND c.kind = 'access_token') AS token_expires_at, connected_by, created_at";

/// The stored platform name, as a [`Platform`]: one this build does not
/// know is `Unknown` (said in the log), so the rest of the accounts stay usable.
fn platform_of(name: String) -> Platform {
    Platform::parse(&name).unwrap_or_else(|| {
        tracing::warn!(platform = %name, "an account names a platform this build does not know");
        Platform::Unknown
    })
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Account, sqlx::Error> {
    let list = |col: &str| -> Result<Vec<String>, sqlx::Error> {
        let text: String = row.try_get(col)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    let status: String = row.try_get("status")?;
    Ok(Account {
        id: row.try_get("id")?,
        platform: platform_of(row.try_get("platform")?),
        handle: row.try_get("handle")?,
        external_id: row.try_get("external_id")?,
        base_url: row.try_get("base_url")?,
        status: Status::parse(&status),
        status_reason: row.try_get("status_reason")?,
        tags: list("tags_json")?,
        scopes: list("scopes_json")?,
        token_expires_at: row.try_get::<Option<i64>, _>("token_expires_at")?.map(Timestamp),
        connected_by: row.try_get("connected_by")?,
        created_at: Timestamp(row.try_get("created_at")?),
    })
}

#[derive(Clone)]
pub struct Accounts {
    db: Db,
}

impl Accounts {
    pub fn new(db: Db) -> Self {
        Accounts { db }
    }

    /// Stores a new account; false if the platform already has one with that external id.
    pub async fn insert(&self, a: &Account) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO accounts (id, platform, handle, external_id, base_url, status, status_reason, tags_json, \
             scopes_json, token_expires_at, connected_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(&a.id)
        .bind(a.platform.as_str())
        .bind(&a.handle)
        .bind(&a.external_id)
        .bind(a.base_url.clone())
        .bind(a.status.as_str())
        .bind(a.status_reason.clone())
        .bind(serde_json::to_string(&a.tags).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&a.scopes).unwrap_or_else(|_| "[]".into()))
        .bind(a.token_expires_at.map(|t| t.millis()))
        .bind(&a.connected_by)
        .bind(a.created_at.millis())
        .execute(self.db.pool())
        .await;
        match done {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Account>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE id = $1"))
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.as_ref().map(from_row).transpose()
    }

    /// The account a platform knows by `external_id`, if connected before.
    pub async fn find(&self, platform: &str, external_id: &str) -> Result<Option<Account>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE platform = $1 AND external_id = $2"))
                .bind(platform)
                .bind(external_id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.as_ref().map(from_row).transpose()
    }

    /// An account connected again: active, with what the new grant says.
    pub async fn reconnect(&self, a: &Account, now: Timestamp) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE accounts SET handle = $1, base_url = $2, status = $3, status_reason = NULL, tags_json = $4, \
             scopes_json = $5, connected_by = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&a.handle)
        .bind(a.base_url.clone())
        .bind(Status::Active.as_str())
        .bind(serde_json::to_string(&a.tags).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&a.scopes).unwrap_or_else(|_| "[]".into()))
        .bind(&a.connected_by)
        .bind(now.millis())
        .bind(&a.id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn set_status(
        &self,
        id: &AccountId,
        status: Status,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE accounts SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4")
            .bind(status.as_str())
            .bind(reason)
            .bind(now.millis())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<Account>, sqlx::Error> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts ORDER BY platform, handle, id"))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Adds a sandbox (practice) account. Recorded before it is stored.
    pub async fn add_sandbox(
        &self,
        journal: &Journal,
        handle: &str,
        tags: &[String],
        by: &ChangedBy,
        now: Timestamp,
    ) -> Result<Account, AccountError> {
        if !name_ok(handle, "_.-") {
            return Err(AccountError::Invalid(
                "the handle must be 1-64 letters, digits, '_', '.' or '-'".into(),
            ));
        }
        validate_tags(tags).map_err(AccountError::Invalid)?;
        let account = Account {
            id: AccountId::new(format!("acct_{}", uuid::Uuid::now_v7().simple())),
            platform: Platform::Sandbox,
            handle: handle.to_owned(),
            external_id: handle.to_owned(),
            base_url: None,
            status: Status::Active,
            status_reason: None,
            tags: tags.to_vec(),
            scopes: Vec::new(),
            token_expires_at: None,
            connected_by: by.name.clone(),
            created_at: now,
        };
        if self.list().await?.iter().any(|a| a.platform == "sandbox" && a.external_id == handle) {
            return Err(AccountError::Exists(format!("a sandbox account named {handle:?} exists")));
        }
        let kind = EventKind::Change {
            change: Change::AccountConnect,
            by: by.name.clone(),
            before: None,
            after: Some(serde_json::json!(account)),
        };
        journal.record(&by.meta, by.actor.clone(), kind).await?;
        if !self.insert(&account).await? {
            return Err(AccountError::Exists(format!("a sandbox account named {handle:?} exists")));
        }
        Ok(account)
    }
}

fn name_ok(s: &str, extra: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// Tags name who may act on an account (`official`, `department:cardiology`).
pub fn validate_tags(tags: &[String]) -> Result<(), String> {
    match tags.iter().find(|t| !name_ok(t, "_:-")) {
        Some(bad) => Err(format!("tag {bad:?} must be 1-64 letters, digits, '_', ':' or '-'")),
        None => Ok(()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Exists(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}
