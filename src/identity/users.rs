//! Users as the identity provider knows them, keyed by issuer + subject.

use serde::Serialize;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::storage::{optional, Db};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    /// The OpenID provider that signed the user in.
    pub issuer: String,
    pub subject: String,
    #[schema(required = true)]
    pub email: Option<String>,
    /// The IdP vouched for `email` at the last sign-in (`email_verified`).
    pub email_verified: bool,
    #[schema(required = true)]
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// The SCIM directory user this sign-in identity is linked to.
    #[schema(required = true)]
    pub directory_id: Option<String>,
    #[schema(required = true)]
    pub last_login_at: Option<Timestamp>,
}

impl User {
    /// The names training records and user locks may use for this person:
    /// the Custodian id, the directory user's id, and the lower-cased email
    /// only if the IdP verified it (anyone can claim an unverified one).
    pub fn keys(&self) -> Vec<String> {
        let mut keys = vec![self.id.clone()];
        keys.extend(self.directory_id.clone());
        keys.extend(self.verified_email());
        keys
    }

    /// The lower-cased email, if the IdP verified it.
    pub fn verified_email(&self) -> Option<String> {
        self.email.as_deref().filter(|_| self.email_verified).map(str::to_lowercase)
    }

    /// The stable identity a user lock names: the directory user (the same
    /// person even under a new sign-in identity) or else the Custodian id.
    /// Never an email, which the person can change at the IdP.
    pub fn lock_key(&self) -> &str {
        self.directory_id.as_deref().unwrap_or(&self.id)
    }
}

/// Claims taken from a verified ID token (and userinfo).
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// The IdP's `email_verified` claim: only a verified email may link a
    /// sign-in to a directory entry.
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub preferred_username: Option<String>,
    /// Every other claim the IdP sent (for the directory link claim).
    pub other_claims: std::collections::HashMap<String, serde_json::Value>,
}

impl VerifiedIdentity {
    /// A claim's value as text: the standard ones by name, others from the rest.
    pub fn claim(&self, name: &str) -> Option<String> {
        match name {
            "sub" => Some(self.subject.clone()),
            "email" => self.email.clone(),
            "preferred_username" => self.preferred_username.clone(),
            "name" => self.name.clone(),
            other => match self.other_claims.get(other)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            },
        }
    }
}

#[derive(Clone)]
pub struct Users {
    db: Db,
}

const COLUMNS: &str =
    "id, issuer, subject, email, email_verified, name, groups_json, directory_id, last_login_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    from_columns(row, "")?.ok_or(sqlx::Error::RowNotFound)
}

/// The user's columns of table `alias`, each named `{prefix}{column}`, for a join.
pub(super) fn columns_as(alias: &str, prefix: &str) -> String {
    COLUMNS.split(", ").map(|c| format!("{alias}.{c} AS {prefix}{c}")).collect::<Vec<_>>().join(", ")
}

/// The user in the columns named `{prefix}...`; None where a join found none.
pub(super) fn from_columns(row: &sqlx::any::AnyRow, prefix: &str) -> Result<Option<User>, sqlx::Error> {
    let column = |name: &str| format!("{prefix}{name}");
    let Some(id) = row.try_get::<Option<String>, _>(column("id").as_str())? else {
        return Ok(None);
    };
    let groups_json: String = row.try_get(column("groups_json").as_str())?;
    Ok(Some(User {
        id,
        issuer: row.try_get(column("issuer").as_str())?,
        subject: row.try_get(column("subject").as_str())?,
        email: row.try_get(column("email").as_str())?,
        email_verified: row.try_get::<i64, _>(column("email_verified").as_str())? != 0,
        name: row.try_get(column("name").as_str())?,
        groups: serde_json::from_str(&groups_json).unwrap_or_default(),
        directory_id: row.try_get(column("directory_id").as_str())?,
        last_login_at: row.try_get::<Option<i64>, _>(column("last_login_at").as_str())?.map(Timestamp),
    }))
}

impl Users {
    pub fn new(db: Db) -> Self {
        Users { db }
    }

    /// Creates or refreshes the user from a verified sign-in (before the
    /// directory gate: a refused attempt does not count as a sign-in).
    pub async fn upsert_from_sign_in(
        &self,
        identity: &VerifiedIdentity,
        now: Timestamp,
    ) -> Result<User, sqlx::Error> {
        let groups_json = serde_json::to_string(&identity.groups).unwrap_or_else(|_| "[]".to_owned());
        let new_id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO users (id, issuer, subject, email, email_verified, name, groups_json, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email, \
             email_verified = excluded.email_verified, name = excluded.name, groups_json = excluded.groups_json",
        )
        .bind(&new_id)
        .bind(&identity.issuer)
        .bind(&identity.subject)
        .bind(identity.email.clone())
        .bind(i64::from(identity.email.is_some() && identity.email_verified == Some(true)))
        .bind(identity.name.clone())
        .bind(&groups_json)
        .bind(now.millis())
        .execute(self.db.pool())
        .await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE issuer = $1 AND subject = $2"))
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_one(self.db.pool())
            .await?;
        from_row(&row)
    }

    pub async fn get(&self, id: &str) -> Result<Option<User>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every user whose IdP verified this email (case-insensitive): an
    /// unverified email could be anyone's, so it never finds a user.
    pub async fn with_email(&self, email: &str) -> Result<Vec<User>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE LOWER(email) = LOWER($1) AND email_verified = 1"
        ))
        .bind(email)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Finds a user by id, or by verified email (case-insensitive) when exactly one matches.
    pub async fn find(&self, id_or_email: &str) -> Result<Option<User>, sqlx::Error> {
        if let Some(user) = self.get(id_or_email).await? {
            return Ok(Some(user));
        }
        let mut found = self.with_email(id_or_email).await?;
        Ok(if found.len() == 1 { found.pop() } else { None })
    }

    /// The groups the IdP gives the user now (the allow-list in `oidc-claims` mode).
    pub async fn set_groups(&self, user_id: &str, groups: &[String]) -> Result<(), sqlx::Error> {
        let groups_json = serde_json::to_string(groups).unwrap_or_else(|_| "[]".to_owned());
        sqlx::query("UPDATE users SET groups_json = $1 WHERE id = $2")
            .bind(groups_json)
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Records a sign-in that passed the gate.
    pub async fn mark_signed_in(&self, user_id: &str, now: Timestamp) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Links the user to a directory entry. Fails (unique violation) when
    /// another sign-in identity already holds that entry.
    pub async fn link_directory(&self, user_id: &str, directory_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET directory_id = $1 WHERE id = $2")
            .bind(directory_id)
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn unlink_directory(&self, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET directory_id = NULL WHERE id = $1")
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The sign-in identities linked to a directory entry.
    pub async fn linked_to(&self, directory_id: &str) -> Result<Vec<User>, sqlx::Error> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE directory_id = $1"))
            .bind(directory_id)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn all(&self) -> Result<Vec<User>, sqlx::Error> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY created_at, id"))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }
}
