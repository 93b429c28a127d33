//! The administrator's changes to who may act: revoke, lock, lift, record
//! training, and the list of locks as an administrator reads it. The CLI
//! and the admin API both call these; each change is audited with before
//! and after, and recorded before it takes effect. One change is not an
//! administrator's: a pending lock is bound to the person it matches at
//! their sign-in ([`Directory::bind_pending_locks`]), also recorded first.

use serde_json::json;

use crate::audit::{Change, ChangedBy, EventKind, Trigger};
use crate::clock::Timestamp;
use crate::directory::locks::{Lock, Scope};
use crate::directory::training::{self, Record};
use crate::directory::{actor_of, entry_names, Directory, DirectoryError, DirectorySource, GateError, Role};
use crate::identity::{User, VerifiedIdentity};

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LockPlaced {
    pub lock: Lock,
    /// Users whose sessions ended because of the lock.
    pub users_affected: usize,
    pub sessions_ended: u64,
    /// A user lock on someone Custodian has not seen: it names an email or
    /// user name, not a person's identity, until they sign in.
    pub pending: bool,
}

/// A lock as an administrator reads it: a user lock bound to a person says
/// who they are, not only their id.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = LockListed)]
pub struct LockView {
    #[serde(flatten)]
    pub lock: Lock,
    /// The person a user lock holds (null for role and account locks, and
    /// for a pending user lock).
    #[schema(required = true)]
    pub person: Option<Person>,
    /// A user lock that still names an email or user name nobody has been
    /// seen with: it binds to the first person it matches.
    pub pending: bool,
}

/// Who a user lock holds, as far as Custodian knows them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = LockedPerson)]
pub struct Person {
    /// Their sign-in identities (Custodian user ids).
    pub user_ids: Vec<String>,
    /// Their SCIM directory user, when the lock names one.
    #[schema(required = true)]
    pub directory_id: Option<String>,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub name: Option<String>,
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

    /// Unlinks a sign-in identity from its directory user, so that another
    /// identity (the same person, re-created at the IdP under a new subject)
    /// can link at its next sign-in. The unlinked identity's sessions end.
    pub async fn unlink(&self, user: &str, by: &ChangedBy) -> Result<User, DirectoryError> {
        let matches = self.find_users(user).await?;
        let linked: Vec<&User> = matches.iter().filter(|u| u.directory_id.is_some()).collect();
        let target = match linked.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(DirectoryError::NotFound(format!(
                    "no sign-in identity linked to a directory user matches {user:?}"
                )))
            }
            _ => {
                let ids: Vec<&str> = linked.iter().map(|u| u.id.as_str()).collect();
                return Err(DirectoryError::Invalid(format!(
                    "{user:?} matches several linked identities ({}); give the user id",
                    ids.join(", ")
                )));
            }
        };
        let before = json!({"id": target.id, "issuer": target.issuer, "subject": target.subject, "directory_id": target.directory_id});
        let after = json!({"id": target.id, "issuer": target.issuer, "subject": target.subject, "directory_id": null});
        self.record_change(by, Change::UserUnlink, Some(before), Some(after)).await?;
        self.users.unlink_directory(&target.id).await?;
        self.end_access(
            &target,
            Trigger::Revoked,
            "unlinked from its directory user",
            &by.name,
            &by.meta,
            true,
        )
        .await?;
        Ok(target)
    }

    /// Locks a user, a role or an account, optionally until `expires_at`. Everyone the
    /// lock now shuts out loses their sessions at once; a role holder who
    /// still has another role keeps theirs, without the locked role.
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
        let (target, candidates, pending) = self.lock_target(scope, target).await?;
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
        let (mut users_affected, mut sessions_ended) = (0, 0);
        for user in &candidates {
            match self.access(user).await {
                Ok(_) => {}
                Err(GateError::Denied(_)) => {
                    users_affected += 1;
                    sessions_ended +=
                        self.end_access(user, Trigger::Locked, &reason, &by.name, &by.meta, true).await?;
                }
                Err(GateError::Storage(e)) => return Err(e.into()),
            }
        }
        Ok(LockPlaced { lock, users_affected, sessions_ended, pending })
    }

    /// What a lock names, normalized, and the users it may shut out.
    ///
    /// A user lock binds to the person's stable identity: their directory
    /// user when they are linked to one (SCIM), else their Custodian id. A
    /// name (an email, a user name) only finds that person, and an email
    /// finds them only if their IdP verified it; they stay locked under a
    /// new email. Someone Custodian has not seen, and no directory user
    /// matches, is locked by the email or user name given, which then
    /// matches only an email the IdP verified (or a directory user's own).
    /// The third value says the lock is pending (it names no one seen yet).
    async fn lock_target(
        &self,
        scope: Scope,
        target: &str,
    ) -> Result<(String, Vec<User>, bool), DirectoryError> {
        let target = target.trim();
        if target.is_empty() || target.len() > 254 || target.chars().any(char::is_control) {
            return Err(DirectoryError::Invalid("the lock needs a user, role or account to name".to_owned()));
        }
        match scope {
            Scope::User => {
                let matches = self.find_users(target).await?;
                let mut keys: Vec<&str> = matches.iter().map(User::lock_key).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut pending = false;
                let key = match keys.as_slice() {
                    [one] => (*one).to_owned(),
                    [] => match self.directory_users_named(target).await?.as_slice() {
                        [one] => one.clone(),
                        [] => {
                            pending = true;
                            target.to_lowercase()
                        }
                        _ => {
                            return Err(DirectoryError::Invalid(format!(
                                "{target:?} matches several directory users; name the user by their id"
                            )))
                        }
                    },
                    _ => {
                        let ids: Vec<&str> = matches.iter().map(|u| u.id.as_str()).collect();
                        return Err(DirectoryError::Invalid(format!(
                            "{target:?} matches several people ({}); name the user by their id",
                            ids.join(", ")
                        )));
                    }
                };
                let mut holders = self.users.linked_to(&key).await?;
                holders.extend(self.users.get(&key).await?);
                holders.extend(matches.into_iter().filter(|u| u.lock_key() == key));
                let mut seen = std::collections::HashSet::new();
                holders.retain(|u| seen.insert(u.id.clone()));
                Ok((key, holders, pending))
            }
            Scope::Role => {
                let role = Role::parse(target).ok_or_else(|| {
                    DirectoryError::Invalid(format!(
                        "\"{target}\" is not a role (staff, reviewer, admin, auditor)"
                    ))
                })?;
                let mut holders = Vec::new();
                for user in self.users.all().await? {
                    match self.access(&user).await {
                        Ok(access) if access.has(role) => holders.push(user),
                        Ok(_) | Err(GateError::Denied(_)) => {}
                        Err(GateError::Storage(e)) => return Err(e.into()),
                    }
                }
                Ok((role.as_str().to_owned(), holders, false))
            }
            Scope::Account => {
                // By id, or by handle when exactly one account has it.
                let mut found: Vec<_> = self.accounts.get(target).await?.into_iter().collect();
                if found.is_empty() {
                    found = self.accounts.list().await?.into_iter().filter(|a| a.handle == target).collect();
                }
                match found.as_slice() {
                    [account] => Ok((account.id.to_string(), Vec::new(), false)),
                    [] => Err(DirectoryError::NotFound(format!("there is no account {target:?}"))),
                    _ => Err(DirectoryError::Invalid(format!(
                        "several accounts have the handle {target:?}; name the account by its id"
                    ))),
                }
            }
        }
    }

    /// A person signing in whom a pending user lock matches (by an email
    /// their IdP verified, or their directory user's user name or email):
    /// the lock is bound to their stable identity (directory user, else
    /// Custodian id), recorded first as `lock.bind`, so that a new email at
    /// the IdP does not free them. Returns how many locks it bound.
    pub async fn bind_pending_locks(
        &self,
        user: &User,
        identity: &VerifiedIdentity,
        meta: &crate::audit::RequestMeta,
    ) -> Result<usize, DirectoryError> {
        let person = if self.config().source == DirectorySource::Scim {
            match self.directory_entry_for(identity).await {
                Ok(entry) => User { directory_id: Some(entry), ..user.clone() },
                Err(GateError::Denied(_)) => user.clone(),
                Err(GateError::Storage(e)) => return Err(e.into()),
            }
        } else {
            user.clone()
        };
        let mut names: Vec<String> = person.verified_email().into_iter().collect();
        if let Some(entry) = person.directory_id.as_deref() {
            names.extend(self.store.user(entry).await?.as_ref().map(entry_names).unwrap_or_default());
        }
        let to = person.lock_key().to_owned();
        let pending = self.locks.in_force(Scope::User, &names, self.now()).await?;
        let by = ChangedBy { actor: actor_of(&person), name: "sign-in".to_owned(), meta: meta.clone() };
        let mut bound = 0;
        for lock in pending.into_iter().filter(|l| l.target != to) {
            let after = Lock { target: to.clone(), ..lock.clone() };
            self.record_change(&by, Change::LockBind, Some(json!(lock)), Some(json!(after))).await?;
            // Conditional: a concurrent sign-in of the same person may have bound it already.
            if self.locks.bind(&lock.id, &lock.target, &to).await? {
                bound += 1;
            }
        }
        Ok(bound)
    }

    /// Every lock (with `all`, lifted and expired ones too), newest first,
    /// each user lock with the person it holds.
    pub async fn locks_described(&self, all: bool) -> Result<Vec<LockView>, sqlx::Error> {
        let mut views = Vec::new();
        for lock in self.locks.list(all, self.now()).await? {
            let person = match lock.scope {
                Scope::User => self.person(&lock.target).await?,
                Scope::Role | Scope::Account => None,
            };
            let pending = lock.scope == Scope::User && person.is_none();
            views.push(LockView { lock, person, pending });
        }
        Ok(views)
    }

    /// The person a user lock's target names: a Custodian user, or a directory user.
    async fn person(&self, target: &str) -> Result<Option<Person>, sqlx::Error> {
        if let Some(user) = self.users.get(target).await? {
            return Ok(Some(Person {
                user_ids: vec![user.id],
                directory_id: user.directory_id,
                email: user.email,
                name: user.name,
            }));
        }
        let Some(entry) = self.store.user(target).await? else { return Ok(None) };
        let linked = self.users.linked_to(&entry.id).await?;
        Ok(Some(Person {
            user_ids: linked.into_iter().map(|u| u.id).collect(),
            email: entry.email_key(),
            name: Some(entry.display_name().unwrap_or(&entry.user_name).to_owned()),
            directory_id: Some(entry.id),
        }))
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

    /// Records one completion given as the API's fields: user, course,
    /// completed_on, expires_on (may be empty), source (may be empty).
    pub async fn record_completion(
        &self,
        fields: [String; 5],
        by: &ChangedBy,
    ) -> Result<Record, DirectoryError> {
        let today = training::millis_date(self.now().millis());
        let record = training::parse_row(fields, self.training_config(), &format!("api:{}", by.name), today)
            .map_err(DirectoryError::Invalid)?;
        self.record_training(std::slice::from_ref(&record), Change::TrainingRecord, by).await?;
        Ok(record)
    }

    /// Imports a training CSV: every row, or (with any bad row) none.
    pub async fn import_training(
        &self,
        text: &str,
        source: &str,
        by: &ChangedBy,
    ) -> Result<usize, DirectoryError> {
        let today = training::millis_date(self.now().millis());
        let records = training::parse_csv(text, self.training_config(), source, today)
            .map_err(DirectoryError::Rejected)?;
        self.record_training(&records, Change::TrainingImport, by).await?;
        Ok(records.len())
    }

    /// The access review, whose reading is itself recorded.
    pub async fn reviewed_access(
        &self,
        by: &ChangedBy,
        format: &str,
    ) -> Result<Vec<crate::directory::review::ReviewRow>, DirectoryError> {
        let rows = self.access_review().await?;
        let kind = crate::audit::EventKind::AccessReview {
            by: by.name.clone(),
            format: format.to_owned(),
            rows: rows.len(),
        };
        self.journal().record(&by.meta, by.actor.clone(), kind).await?;
        Ok(rows)
    }

    /// Stores training records (one from the API, or a whole import) after
    /// recording them; anyone whose training now lapses is refused on their
    /// next request by the gate.
    async fn record_training(
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
