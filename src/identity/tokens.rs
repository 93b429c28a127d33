//! Personal API tokens: automation acting as its owner, limited to the
//! actions and accounts chosen at creation, for at most 90 days.
//!
//! The token is `cst_` and 256 random bits, shown once to its creator; the
//! database keeps only its SHA-256 (a database reader cannot use one). A
//! token carries the moment its owner passed the second factor to create
//! it: policy sees that age, so a token cannot do what needs a fresh factor.
//! Its owner passes the directory gate at every use, and revoking the owner
//! revokes their tokens.

use serde::Serialize;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::domain::{AccountId, TokenId};
use crate::secret::Secret;
use crate::storage::{optional, Db};

use super::session::{random_token, sha256_hex};
use super::User;

pub const TOKEN_PREFIX: &str = "cst_";
/// The longest life a token may have.
pub const MAX_DAYS: u32 = 90;
const DAY_MS: i64 = 86_400_000;
/// Recording `last_used_at` on every call would make each read a write.
const TOUCH_GRANULARITY_MS: i64 = 60_000;

/// A token as listed: never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    #[schema(value_type = String, examples("tok_0123456789abcdef"))]
    pub id: TokenId,
    /// Its owner.
    pub user_id: String,
    pub name: String,
    // Token actions, checked against the action path's list when the
    // token is created; its schema is named, not imported, as that list
    // lives in a module above this one.
    #[schema(schema_with = token_actions)]
    pub actions: Vec<String>,
    /// The account ids it may act on.
    pub accounts: Vec<String>,
    #[serde(skip)]
    pub mfa_verified_at: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    #[schema(required = true)]
    pub last_used_at: Option<Timestamp>,
    #[schema(required = true)]
    pub revoked_at: Option<Timestamp>,
    #[schema(required = true)]
    pub revoked_by: Option<String>,
}

impl ApiToken {
    /// Whether the token reaches this action on this account.
    pub fn covers(&self, action: &str, account_id: &AccountId) -> bool {
        self.actions.iter().any(|a| a == action) && self.accounts.iter().any(|a| account_id == a)
    }
}

fn token_actions() -> utoipa::openapi::Array {
    utoipa::openapi::Array::new(utoipa::openapi::Ref::from_schema_name("TokenAction"))
}

/// What a new token may do.
#[derive(Debug, Clone)]
pub struct TokenScope {
    pub name: String,
    pub actions: Vec<String>,
    pub accounts: Vec<String>,
    pub days: u32,
}

/// What a presented token turned out to be.
#[derive(Debug, Clone)]
pub enum Presented {
    Live(ApiToken),
    Expired(ApiToken),
    Revoked(ApiToken),
    Unknown,
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Unknown,
    Expired,
    Revoked,
}

impl Unusable {
    pub fn message(self) -> &'static str {
        match self {
            Unusable::Unknown => "the API token is not valid",
            Unusable::Expired => "the API token has expired",
            Unusable::Revoked => "the API token was revoked",
        }
    }
}

#[derive(Clone)]
pub struct Tokens {
    db: Db,
    /// The tokens that might be live (`super::known`).
    known: std::sync::Arc<super::known::Known>,
}

const COLUMNS: &str = "id, user_id, name, actions_json, accounts_json, mfa_verified_at, created_at, \
                       expires_at, last_used_at, revoked_at, revoked_by";

fn from_row(row: &sqlx::any::AnyRow) -> Result<ApiToken, sqlx::Error> {
    let list = |column: &str| -> Result<Vec<String>, sqlx::Error> {
        let raw: String = row.try_get(column)?;
        serde_json::from_str(&raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        actions: list("actions_json")?,
        accounts: list("accounts_json")?,
        mfa_verified_at: Timestamp(row.try_get("mfa_verified_at")?),
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
        revoked_by: row.try_get("revoked_by")?,
    })
}

impl Tokens {
    pub fn new(db: Db) -> Self {
        Tokens { db, known: Default::default() }
    }

    /// Whether `presented` is a token this process issued, saw live or read
    /// at its last refresh: anything else, from a slowed source, waits its
    /// turn to be looked up.
    pub fn may_be_live(&self, presented: &str) -> bool {
        self.known.contains(&sha256_hex(presented))
    }

    /// Re-reads which tokens might be live (not revoked, not expired).
    pub async fn refresh_known(&self, now: Timestamp) -> Result<usize, sqlx::Error> {
        self.known.begin_refresh();
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT secret_hash FROM api_tokens WHERE revoked_at IS NULL AND expires_at > $1")
                .bind(now.millis())
                .fetch_all(self.db.pool())
                .await?;
        self.known.finish_refresh(rows.into_iter().map(|(hash,)| hash).collect());
        Ok(self.known.len())
    }

    /// A new token's id, secret and record (not yet stored: the caller
    /// records the creation first, then [`Tokens::insert`]s it).
    pub fn mint(
        &self,
        user_id: &str,
        scope: TokenScope,
        mfa_verified_at: Timestamp,
        now: Timestamp,
    ) -> (Secret, ApiToken) {
        let id = TokenId::new(format!("tok_{}", &sha256_hex(&random_token())[..16]));
        let secret = Secret::new(format!("{TOKEN_PREFIX}{}", random_token()));
        let token = ApiToken {
            id,
            user_id: user_id.to_owned(),
            name: scope.name,
            actions: scope.actions,
            accounts: scope.accounts,
            mfa_verified_at,
            created_at: now,
            expires_at: Timestamp(now.millis().saturating_add(i64::from(scope.days) * DAY_MS)),
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
        };
        (secret, token)
    }

    pub async fn insert(&self, secret: &Secret, token: &ApiToken) -> Result<(), sqlx::Error> {
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO api_tokens (id, secret_hash, user_id, name, actions_json, accounts_json, \
             mfa_verified_at, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.id)
        .bind(sha256_hex(secret.expose()))
        .bind(&token.user_id)
        .bind(&token.name)
        .bind(json(&token.actions))
        .bind(json(&token.accounts))
        .bind(token.mfa_verified_at.millis())
        .bind(token.created_at.millis())
        .bind(token.expires_at.millis())
        .execute(self.db.pool())
        .await?;
        self.known.insert(sha256_hex(secret.expose()));
        Ok(())
    }

    /// The token a caller presented, if it is live, and its owner (read
    /// with it, in one query); notes its use.
    pub async fn authenticate(
        &self,
        presented: &str,
        now: Timestamp,
    ) -> Result<(Presented, Option<User>), sqlx::Error> {
        if !presented.starts_with(TOKEN_PREFIX) {
            return Ok((Presented::Unknown, None));
        }
        let token_columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect();
        let sql = format!(
            "SELECT {}, {} FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.secret_hash = $1",
            token_columns.join(", "),
            super::users::columns_as("u", "owner_")
        );
        let hash = sha256_hex(presented);
        let row = optional(sqlx::query(&sql).bind(&hash).fetch_one(self.db.pool()).await)?;
        let Some(row) = row else {
            return Ok((Presented::Unknown, None));
        };
        let (token, owner) = (from_row(&row)?, super::users::from_columns(&row, "owner_")?);
        if token.revoked_at.is_some() {
            return Ok((Presented::Revoked(token), owner));
        }
        if now >= token.expires_at {
            return Ok((Presented::Expired(token), owner));
        }
        if token.last_used_at.is_none_or(|t| now.millis() - t.millis() >= TOUCH_GRANULARITY_MS) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now.millis())
                .bind(&token.id)
                .execute(self.db.pool())
                .await?;
        }
        // Issued by another replica, perhaps: known from now on.
        self.known.insert(hash);
        Ok((Presented::Live(token), owner))
    }

    pub async fn get(&self, id: &str) -> Result<Option<ApiToken>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.as_ref().map(from_row).transpose()
    }

    /// Tokens, newest first: one user's, or everyone's.
    pub async fn list(&self, user_id: Option<&str>) -> Result<Vec<ApiToken>, sqlx::Error> {
        let rows = match user_id {
            Some(u) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
                ))
                .bind(u)
                .fetch_all(self.db.pool())
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at DESC, id"))
                    .fetch_all(self.db.pool())
                    .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    /// Revokes one token; false if it was already revoked or is unknown.
    pub async fn revoke(&self, id: &TokenId, by: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now.millis())
        .bind(by)
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// How many unrevoked tokens a user has.
    pub async fn live_count(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(user_id)
                .fetch_one(self.db.pool())
                .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Revokes every live token of a user (their access ended); the count revoked.
    pub async fn revoke_all_for_user(
        &self,
        user_id: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 WHERE user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now.millis())
        .bind(by)
        .bind(user_id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
