//! The administrator's changes to who may act: revoke, lock, lift, record
//! training. The CLI and the admin API both call these; each is audited
//! with before and after, and recorded before it takes effect.

use serde_json::json;

use crate::audit::{Actor, Change, EventKind, RequestMeta, Trigger};
use crate::clock::Timestamp;
use crate::directory::locks::{Lock, Scope};
use crate::directory::training::Record;
use crate::directory::{roles, Directory, DirectoryError, Role};

/// Who is making the change: an admin user (API) or an operator (CLI).
#[derive(Debug, Clone)]
pub struct ChangedBy {
    pub actor: Actor,
    /// Printable: a user id, or `cli:<login>`.
    pub name: String,
    pub meta: RequestMeta,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LockPlaced {
    pub lock: Lock,
    /// Users whose sessions ended because of the lock.
    pub users_affected: usize,
    pub sessions_ended: u64,
}

const MAX_REASON: usize = 500;

fn clean_reason(reason: &str) -> Result<String, DirectoryError> {
    let reason: String = reason.trim().chars().filter(|c| !c.is_control()).collect();
    if reason.is_empty() {
        return Err(DirectoryError::Invalid("a reason is required".to_owned()));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(DirectoryError::Invalid(format!("the reason is longer than {MAX_REASON} characters")));
    }
    Ok(reason)
}

impl Directory {
    async fn record_change(
        &self,
        by: &ChangedBy,
        change: Change,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), DirectoryError> {
        let kind = EventKind::Change { change, by: by.name.clone(), before, after };
        self.journal().record(&by.meta, by.actor.clone(), kind).await?;
        Ok(())
    }

    /// Revokes a user: a user lock without end, which ends their sessions now.
    pub async fn revoke(
        &self,
        user: &str,
        reason: &str,
        by: &ChangedBy,
    ) -> Result<LockPlaced, DirectoryError> {
        self.place_lock(Scope::User, user, reason, None, by).await
    }

    /// Locks a user, a role or an account, optionally until `expires_at`.
    /// Users it shuts out lose their sessions at once.
    pub async fn place_lock(
        &self,
        scope: Scope,
        target: &str,
        reason: &str,
        expires_at: Option<Timestamp>,
        by: &ChangedBy,
    ) -> Result<LockPlaced, DirectoryError> {
        let reason = clean_reason(reason)?;
        let now = self.now();
        if expires_at.is_some_and(|t| t <= now) {
            return Err(DirectoryError::Invalid("the lock's end is in the past".to_owned()));
        }
        let (target, affected) = self.lock_target(scope, target).await?;
        let lock = Lock {
            id: format!("lck_{}", uuid::Uuid::now_v7().simple()),
            scope,
            target,
            reason: reason.clone(),
            created_by: by.name.clone(),
            created_at: now,
            expires_at,
            lifted_at: None,
            lifted_by: None,
        };
        self.record_change(by, Change::LockPlace, None, Some(json!(lock))).await?;
        self.locks.insert(&lock).await?;
        let mut sessions_ended = 0;
        for user in &affected {
            sessions_ended += self.end_access(user, Trigger::Locked, &reason, &by.name, &by.meta).await?;
        }
        Ok(LockPlaced { lock, users_affected: affected.len(), sessions_ended })
    }

    /// What a lock names, normalized, and the users it shuts out.
    async fn lock_target(
        &self,
        scope: Scope,
        target: &str,
    ) -> Result<(String, Vec<crate::identity::User>), DirectoryError> {
        let target = target.trim();
        if target.is_empty() || target.len() > 254 || target.chars().any(char::is_control) {
            return Err(DirectoryError::Invalid("the lock needs a user, role or account to name".to_owned()));
        }
        match scope {
            Scope::User => match self.find_user(target).await? {
                Some(user) => Ok((user.id.clone(), vec![user])),
                // Not signed in yet: the lock waits for them under this name.
                None => Ok((target.to_lowercase(), Vec::new())),
            },
            Scope::Role => {
                let role = Role::parse(target).ok_or_else(|| {
                    DirectoryError::Invalid(format!(
                        "\"{target}\" is not a role (staff, reviewer, admin, auditor)"
                    ))
                })?;
                let mut holders = Vec::new();
                for user in self.users.all().await? {
                    if self.holds_role(&user, role).await? {
                        holders.push(user);
                    }
                }
                Ok((role.as_str().to_owned(), holders))
            }
            // Accounts come with the vault; the lock is stored now and the
            // action path refuses every action on the account.
            Scope::Account => Ok((target.to_owned(), Vec::new())),
        }
    }

    /// Whether the user's current groups grant the role (locks aside).
    async fn holds_role(&self, user: &crate::identity::User, role: Role) -> Result<bool, sqlx::Error> {
        let groups = match (&self.config().directory.source, &user.directory_id) {
            (crate::directory::Source::Scim, Some(id)) => {
                self.store.groups_of(id).await?.into_iter().map(|(_, n)| n).collect()
            }
            (crate::directory::Source::Scim, None) => Vec::new(),
            (crate::directory::Source::OidcClaims, _) => user.groups.clone(),
        };
        Ok(roles::grants(&groups, &self.config().directory.roles).iter().any(|g| g.role == role))
    }

    pub async fn lift_lock(&self, id: &str, by: &ChangedBy) -> Result<Lock, DirectoryError> {
        let now = self.now();
        let before = self
            .locks
            .get(id)
            .await?
            .filter(|l| l.lifted_at.is_none())
            .ok_or_else(|| DirectoryError::NotFound(format!("no lock {id} is in force")))?;
        let after = Lock { lifted_at: Some(now), lifted_by: Some(by.name.clone()), ..before.clone() };
        self.record_change(by, Change::LockLift, Some(json!(before)), Some(json!(after))).await?;
        if !self.locks.lift(id, &by.name, now).await? {
            return Err(DirectoryError::NotFound(format!("no lock {id} is in force")));
        }
        Ok(after)
    }

    /// Stores training records (one from the API, or a whole import) after
    /// recording them; anyone whose training now lapses is refused on their
    /// next request by the gate.
    pub async fn record_training(
        &self,
        records: &[Record],
        change: Change,
        by: &ChangedBy,
    ) -> Result<(), DirectoryError> {
        let mut before = Vec::new();
        for r in records.iter().take(50) {
            let held: Vec<_> = self
                .training
                .records(std::slice::from_ref(&r.user))
                .await?
                .into_iter()
                .filter(|h| h.course == r.course)
                .collect();
            before.push(json!({"user": r.user, "course": r.course, "records": held}));
        }
        // An import can be thousands of rows: the event keeps a bounded sample and the count.
        let after = json!({"count": records.len(), "records": records.iter().take(50).collect::<Vec<_>>()});
        self.record_change(by, change, Some(json!(before)), Some(after)).await?;
        self.training.store(records, &by.name, self.now()).await?;
        Ok(())
    }
}
