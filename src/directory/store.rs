//! The directory's tables: SCIM users, groups and memberships. Resources are
//! kept as the JSON the IdP wrote, beside lower-cased copies of the
//! attributes that lookups and filters need. Writes are optimistic: each row
//! carries a version, and an update names the version it read.

use serde_json::Value;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::storage::{optional, Db};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub resource: Value,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl UserRow {
    /// The primary (else first) email, lower-cased.
    pub fn email_key(&self) -> Option<String> {
        primary_email(&self.resource).map(|e| e.to_lowercase())
    }

    pub fn display_name(&self) -> Option<&str> {
        self.resource.get("displayName").and_then(Value::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub resource: Value,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// `User` or `Group`.
    pub kind: String,
}

/// Which column an indexed lookup uses (the SCIM filter fast path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    UserName,
    ExternalId,
    DisplayName,
}

/// `column = value` conditions, all of which must hold.
pub type Conditions = Vec<(Column, String)>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    #[error("the resource changed while it was being updated")]
    Stale,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

pub fn primary_email(resource: &Value) -> Option<&str> {
    let emails = resource.get("emails")?.as_array()?;
    let primary = emails.iter().find(|e| e.get("primary").and_then(Value::as_bool) == Some(true));
    primary.or(emails.first())?.get("value")?.as_str()
}

/// A kind of directory resource, as its table holds it: what lets one
/// function read, page and delete users and groups alike.
trait Resource: Sized {
    const TABLE: &'static str;
    const COLUMNS: &'static str;
    /// Whether the table has the users' own keys (`user_name_key`).
    const USERS: bool;
    /// Which membership rows go when a resource `$1` is deleted.
    const MEMBERSHIPS: &'static str;

    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error>;
}

impl Resource for UserRow {
    const TABLE: &'static str = "directory_users";
    const COLUMNS: &'static str =
        "id, user_name, external_id, active, resource, version, created_at, updated_at";
    const USERS: bool = true;
    const MEMBERSHIPS: &'static str = "member_id = $1";

    fn from_row(row: &sqlx::any::AnyRow) -> Result<UserRow, sqlx::Error> {
        let resource: String = row.try_get("resource")?;
        Ok(UserRow {
            id: row.try_get("id")?,
            user_name: row.try_get("user_name")?,
            external_id: row.try_get("external_id")?,
            active: row.try_get::<i64, _>("active")? != 0,
            resource: serde_json::from_str(&resource).unwrap_or(Value::Null),
            version: row.try_get("version")?,
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

impl Resource for GroupRow {
    const TABLE: &'static str = "directory_groups";
    const COLUMNS: &'static str = "id, display_name, external_id, resource, version, created_at, updated_at";
    const USERS: bool = false;
    /// A group goes with its own members and with its place in other groups.
    const MEMBERSHIPS: &'static str = "group_id = $1 OR member_id = $1";

    fn from_row(row: &sqlx::any::AnyRow) -> Result<GroupRow, sqlx::Error> {
        let resource: String = row.try_get("resource")?;
        Ok(GroupRow {
            id: row.try_get("id")?,
            display_name: row.try_get("display_name")?,
            external_id: row.try_get("external_id")?,
            resource: serde_json::from_str(&resource).unwrap_or(Value::Null),
            version: row.try_get("version")?,
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// `WHERE` clause for the conditions, with `$n` parameters from `first`.
fn where_clause(conditions: &Conditions, user: bool, first: usize) -> String {
    if conditions.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = conditions
        .iter()
        .enumerate()
        .map(|(i, (column, _))| {
            let name = match (column, user) {
                (Column::Id, _) => "id",
                (Column::UserName, true) => "user_name_key",
                (Column::UserName, false) => "NULL",
                (Column::ExternalId, _) => "external_id",
                (Column::DisplayName, true) => "display_name_key",
                (Column::DisplayName, false) => "display_name_key",
            };
            format!("{name} = ${}", first + i)
        })
        .collect();
    format!(" WHERE {}", parts.join(" AND "))
}

/// The value as the column stores it: lower-cased where SCIM compares case-insensitively.
fn column_value(column: Column, value: &str) -> String {
    match column {
        Column::UserName | Column::DisplayName => value.to_lowercase(),
        Column::Id | Column::ExternalId => value.to_owned(),
    }
}

#[derive(Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn insert_user(&self, u: &UserRow) -> Result<(), StoreError> {
        self.write_user(u, None).await
    }

    /// Writes a new state of the user, if it is still at `expected_version`.
    pub async fn update_user(&self, u: &UserRow, expected_version: i64) -> Result<(), StoreError> {
        self.write_user(u, Some(expected_version)).await
    }

    /// Inserts the user (no `expected_version`) or updates it from that version.
    async fn write_user(&self, u: &UserRow, expected_version: Option<i64>) -> Result<(), StoreError> {
        // Both take the stored values as $1..$9 and the id as $10.
        let (sql, at) = match expected_version {
            None => (
                "INSERT INTO directory_users (user_name, user_name_key, external_id, display_name_key, \
                 email_key, active, resource, version, created_at, updated_at, id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
                u.created_at,
            ),
            Some(_) => (
                "UPDATE directory_users SET user_name = $1, user_name_key = $2, external_id = $3, \
                 display_name_key = $4, email_key = $5, active = $6, resource = $7, version = $8, \
                 updated_at = $9 WHERE id = $10 AND version = $11",
                u.updated_at,
            ),
        };
        let query = sqlx::query(sql)
            .bind(&u.user_name)
            .bind(u.user_name.to_lowercase())
            .bind(u.external_id.clone())
            .bind(u.display_name().map(str::to_lowercase))
            .bind(u.email_key())
            .bind(i64::from(u.active))
            .bind(u.resource.to_string())
            .bind(u.version)
            .bind(at.millis())
            .bind(&u.id);
        let query = match expected_version {
            Some(version) => query.bind(version),
            None => query,
        };
        match query.execute(self.db.pool()).await {
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("a user with userName \"{}\" already exists", u.user_name)))
            }
            Err(e) => Err(e.into()),
            Ok(d) if expected_version.is_some() && d.rows_affected() == 0 => Err(StoreError::Stale),
            Ok(_) => Ok(()),
        }
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
        self.one(id).await
    }

    /// Users matching every condition, ordered by creation; `offset`/`limit` page them.
    pub async fn users(
        &self,
        conditions: &Conditions,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<UserRow>), sqlx::Error> {
        self.page(conditions, offset, limit).await
    }

    /// Every user, for filters the indexes cannot answer.
    pub async fn all_users(&self) -> Result<Vec<UserRow>, sqlx::Error> {
        self.all().await
    }

    /// Deletes the user and their memberships; false if there was no such user.
    pub async fn delete_user(&self, id: &str) -> Result<bool, sqlx::Error> {
        self.delete::<UserRow>(id).await
    }

    /// The directory user a sign-in claim names, by the configured attribute.
    pub async fn user_by_external_id(&self, value: &str) -> Result<Vec<UserRow>, sqlx::Error> {
        self.users(&vec![(Column::ExternalId, value.to_owned())], 0, 2).await.map(|(_, r)| r)
    }

    pub async fn user_by_user_name(&self, value: &str) -> Result<Vec<UserRow>, sqlx::Error> {
        self.users(&vec![(Column::UserName, value.to_owned())], 0, 2).await.map(|(_, r)| r)
    }

    pub async fn users_by_email(&self, value: &str) -> Result<Vec<UserRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM directory_users WHERE email_key = $1 OR user_name_key = $1 LIMIT 3",
            UserRow::COLUMNS
        ))
        .bind(value.to_lowercase())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(UserRow::from_row).collect()
    }

    pub async fn insert_group(&self, g: &GroupRow, members: &[Member]) -> Result<(), StoreError> {
        self.write_group(g, members, None).await
    }

    /// Writes the group and replaces its members, if it is still at `expected_version`.
    pub async fn update_group(
        &self,
        g: &GroupRow,
        members: &[Member],
        expected_version: i64,
    ) -> Result<(), StoreError> {
        self.write_group(g, members, Some(expected_version)).await
    }

    /// Inserts the group with its members (no `expected_version`), or
    /// updates it from that version and replaces its members.
    async fn write_group(
        &self,
        g: &GroupRow,
        members: &[Member],
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        // Both take the stored values as $1..$6 and the id as $7.
        let (sql, at) = match expected_version {
            None => (
                "INSERT INTO directory_groups (display_name, display_name_key, external_id, resource, version, \
                 created_at, updated_at, id) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                g.created_at,
            ),
            Some(_) => (
                "UPDATE directory_groups SET display_name = $1, display_name_key = $2, external_id = $3, \
                 resource = $4, version = $5, updated_at = $6 WHERE id = $7 AND version = $8",
                g.updated_at,
            ),
        };
        let query = sqlx::query(sql)
            .bind(&g.display_name)
            .bind(g.display_name.to_lowercase())
            .bind(g.external_id.clone())
            .bind(g.resource.to_string())
            .bind(g.version)
            .bind(at.millis())
            .bind(&g.id);
        let mut tx = self.db.pool().begin().await?;
        if let Some(version) = expected_version {
            let done = query.bind(version).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale);
            }
            sqlx::query("DELETE FROM directory_members WHERE group_id = $1")
                .bind(&g.id)
                .execute(&mut *tx)
                .await?;
        } else {
            query.execute(&mut *tx).await?;
        }
        write_members(&mut tx, &g.id, members).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn group(&self, id: &str) -> Result<Option<GroupRow>, sqlx::Error> {
        self.one(id).await
    }

    pub async fn groups(
        &self,
        conditions: &Conditions,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<GroupRow>), sqlx::Error> {
        self.page(conditions, offset, limit).await
    }

    pub async fn all_groups(&self) -> Result<Vec<GroupRow>, sqlx::Error> {
        self.all().await
    }

    pub async fn delete_group(&self, id: &str) -> Result<bool, sqlx::Error> {
        self.delete::<GroupRow>(id).await
    }

    async fn one<R: Resource>(&self, id: &str) -> Result<Option<R>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!("SELECT {} FROM {} WHERE id = $1", R::COLUMNS, R::TABLE))
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.as_ref().map(R::from_row).transpose()
    }

    /// Those matching every condition, ordered by creation; `offset`/`limit` page them.
    async fn page<R: Resource>(
        &self,
        conditions: &Conditions,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<R>), sqlx::Error> {
        let (table, columns) = (R::TABLE, R::COLUMNS);
        let clause = where_clause(conditions, R::USERS, 1);
        let count_sql = format!("SELECT COUNT(*) FROM {table}{clause}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for (c, v) in conditions {
            count = count.bind(column_value(*c, v));
        }
        let total = count.fetch_one(self.db.pool()).await?;
        let n = conditions.len();
        let sql = format!(
            "SELECT {columns} FROM {table}{clause} ORDER BY created_at, id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut query = sqlx::query(&sql);
        for (c, v) in conditions {
            query = query.bind(column_value(*c, v));
        }
        let rows = query.bind(limit).bind(offset).fetch_all(self.db.pool()).await?;
        Ok((total, rows.iter().map(R::from_row).collect::<Result<_, _>>()?))
    }

    async fn all<R: Resource>(&self) -> Result<Vec<R>, sqlx::Error> {
        self.page(&Vec::new(), 0, i64::MAX).await.map(|(_, rows)| rows)
    }

    /// Deletes the resource and its memberships; false if there was no such resource.
    async fn delete<R: Resource>(&self, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(&format!("DELETE FROM directory_members WHERE {}", R::MEMBERSHIPS))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(&format!("DELETE FROM {} WHERE id = $1", R::TABLE))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn members(&self, group_id: &str) -> Result<Vec<Member>, sqlx::Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT member_id, member_type FROM directory_members WHERE group_id = $1 ORDER BY member_id",
        )
        .bind(group_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, kind)| Member { id, kind }).collect())
    }

    /// The groups a user is a direct member of: (id, displayName).
    pub async fn groups_of(&self, member_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT g.id, g.display_name FROM directory_members m JOIN directory_groups g ON g.id = m.group_id \
             WHERE m.member_id = $1 ORDER BY g.display_name",
        )
        .bind(member_id)
        .fetch_all(self.db.pool())
        .await
    }

    /// Which of the ids exist in `table` (`directory_users` or `directory_groups`).
    pub async fn existing_ids(
        &self,
        table: &'static str,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id FROM {table} WHERE id IN ({})",
                crate::storage::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            found.extend(query.fetch_all(self.db.pool()).await?);
        }
        Ok(found)
    }
}

async fn write_members(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    group_id: &str,
    members: &[Member],
) -> Result<(), sqlx::Error> {
    // Many rows per statement: a group of thousands is written in a few round trips.
    for chunk in members.chunks(300) {
        let values: Vec<String> =
            (0..chunk.len()).map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i)).collect();
        let sql = format!(
            "INSERT INTO directory_members (group_id, member_id, member_type) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(group_id);
        for m in chunk {
            query = query.bind(&m.id).bind(&m.kind);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
