//! Who may act: the directory allow-list, roles, training records and locks,
//! and revocation.
//!
//! [`Directory::access`] is the gate. It runs at sign-in and again on every
//! request, reading the current state from the database, so a deactivation,
//! a group removal, a lock or an expired course bites on the very next
//! request. What ends access also ends every session of the user
//! ([`Directory::end_access`]), and is audited with who, why and how many
//! sessions ended.

pub mod admin;
pub mod config;
pub mod grants;
pub mod locks;
pub mod review;
pub mod roles;
pub mod scim;
pub mod store;
pub mod training;

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::audit::{Actor, AuditError, EventKind, Journal, RequestMeta, Trigger};
use crate::clock::{SharedClock, Timestamp};
use crate::identity::{Sessions, Tokens, User, Users, VerifiedIdentity};
use crate::storage::Db;
pub use config::{DirectoryConfig, DirectorySource, LinkBy, TrainingConfig};
pub use locks::{Lock, Locks, Scope};
pub use roles::{Role, RoleGrant};
use store::Store;
use training::{CourseStatus, State, Training};

/// What a user who passed the gate holds: their groups, the roles those
/// grant (policy reads these), and their training status.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Access {
    #[schema(required = true)]
    pub directory_id: Option<String>,
    pub groups: Vec<String>,
    pub grants: Vec<RoleGrant>,
    pub roles: Vec<Role>,
    pub training: Vec<CourseStatus>,
}

impl Access {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Courses that expire soon, in words for the user.
    pub fn warnings(&self) -> Vec<String> {
        self.training
            .iter()
            .filter(|t| t.state == State::Expiring)
            .filter_map(|t| {
                let on = t.expires_on?;
                Some(format!(
                    "Your \"{}\" training expires on {on}; renew it before then to keep access.",
                    t.course
                ))
            })
            .collect()
    }
}

/// A user the gate admitted, with what they hold. Only the gate makes one
/// ([`Directory::admit`], [`Directory::admit_sign_in`]), and the action path
/// takes no caller without one: a request cannot reach policy, or a
/// platform, around the gate.
#[derive(Debug, Clone)]
pub struct Admitted {
    user: User,
    access: Access,
}

impl Admitted {
    pub fn user(&self) -> &User {
        &self.user
    }

    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The user and what they hold, giving up the witness.
    pub fn into_parts(self) -> (User, Access) {
        (self.user, self.access)
    }
}

/// Why the gate refused, in words safe to show and to record.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum GateRefusal {
    /// SCIM mode: no directory user matches this sign-in.
    NotInDirectory {
        claim: String,
    },
    /// SCIM mode: several directory users match this sign-in.
    AmbiguousLink {
        claim: String,
    },
    /// The directory user is linked to a different sign-in identity.
    LinkedElsewhere,
    /// SCIM mode, linked by email: the IdP did not vouch for the email.
    UnverifiedEmail,
    Inactive,
    NotAllowListed,
    Locked {
        reason: String,
        until: Option<Timestamp>,
    },
    RolesLocked {
        roles: Vec<Role>,
        reason: String,
    },
    TrainingMissing {
        course: String,
    },
    TrainingExpired {
        course: String,
        expired_on: NaiveDate,
    },
}

impl GateRefusal {
    pub fn gate(&self) -> &'static str {
        match self {
            GateRefusal::NotInDirectory { .. }
            | GateRefusal::AmbiguousLink { .. }
            | GateRefusal::LinkedElsewhere
            | GateRefusal::UnverifiedEmail
            | GateRefusal::Inactive => "directory",
            GateRefusal::NotAllowListed => "allow_list",
            GateRefusal::Locked { .. } | GateRefusal::RolesLocked { .. } => "lock",
            GateRefusal::TrainingMissing { .. } | GateRefusal::TrainingExpired { .. } => "training",
        }
    }

    /// A stable error code for API callers.
    pub fn code(&self) -> &'static str {
        match self {
            GateRefusal::NotInDirectory { .. } => "not_in_directory",
            GateRefusal::AmbiguousLink { .. } => "directory_link_ambiguous",
            GateRefusal::LinkedElsewhere => "directory_link_conflict",
            GateRefusal::UnverifiedEmail => "email_unverified",
            GateRefusal::Inactive => "directory_inactive",
            GateRefusal::NotAllowListed => "not_allow_listed",
            GateRefusal::Locked { .. } => "locked",
            GateRefusal::RolesLocked { .. } => "role_locked",
            GateRefusal::TrainingMissing { .. } => "training_missing",
            GateRefusal::TrainingExpired { .. } => "training_expired",
        }
    }

    pub fn message(&self) -> String {
        match self {
            GateRefusal::NotInDirectory { claim } => format!(
                "You are not in Custodian's directory: no provisioned user matches your sign-in ({claim})"
            ),
            GateRefusal::AmbiguousLink { claim } => {
                format!("More than one directory user matches your sign-in ({claim}), so none is used")
            }
            GateRefusal::LinkedElsewhere => {
                "Your directory entry is already linked to a different sign-in identity".to_owned()
            }
            GateRefusal::UnverifiedEmail => {
                "Your identity provider did not confirm your email address, so it cannot link you to the directory"
                    .to_owned()
            }
            GateRefusal::Inactive => "Your account is deactivated in the directory".to_owned(),
            GateRefusal::NotAllowListed => {
                "You are not on the allow-list: none of your directory groups grants a Custodian role"
                    .to_owned()
            }
            GateRefusal::Locked { reason, until: Some(t) } => {
                format!("Your access is locked until {} ({reason})", t.rfc3339())
            }
            GateRefusal::Locked { reason, until: None } => format!("Your access is locked ({reason})"),
            GateRefusal::RolesLocked { roles, reason } => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                format!("Your role ({}) is locked ({reason})", names.join(", "))
            }
            GateRefusal::TrainingMissing { course } => {
                format!("You have no record of completing the required \"{course}\" training")
            }
            GateRefusal::TrainingExpired { course, expired_on } => {
                format!("Your \"{course}\" training expired on {expired_on}")
            }
        }
    }
}

/// A refusal and whom to ask about it.
#[derive(Debug, Clone, Serialize)]
pub struct Denied {
    pub refusal: GateRefusal,
    pub contact: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}. Ask {} for access.", self.refusal.message(), self.contact)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{0}")]
    Denied(Denied),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A file with bad rows: each row's problem, by line. Nothing was stored.
    #[error("the file was rejected ({} bad row(s)); nothing was imported", .0.len())]
    Rejected(Vec<String>),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// The names (not the stable id) by which user locks and training records
/// may know a directory user: their user name and their email, lower-cased.
fn entry_names(entry: &store::UserRow) -> Vec<String> {
    std::iter::once(entry.user_name.to_lowercase()).chain(entry.email_key()).collect()
}

/// The actor an event about this user names.
pub fn actor_of(user: &User) -> Actor {
    Actor {
        user_id: Some(user.id.clone()),
        issuer: Some(user.issuer.clone()),
        subject: Some(user.subject.clone()),
        ..Actor::default()
    }
}

#[derive(Clone)]
pub struct Directory {
    pub store: Store,
    pub training: Training,
    pub locks: Locks,
    pub users: Users,
    pub tokens: Tokens,
    /// Break-glass grants: ending someone's access ends their grant too.
    grants: grants::Grants,
    accounts: crate::platforms::accounts::Accounts,
    config: Arc<DirectoryConfig>,
    training_config: Arc<TrainingConfig>,
    clock: SharedClock,
    journal: Journal,
    sessions: Sessions,
}

impl Directory {
    pub fn new(
        db: Db,
        clock: SharedClock,
        config: DirectoryConfig,
        training_config: TrainingConfig,
        journal: Journal,
        sessions: Sessions,
    ) -> Self {
        Directory {
            store: Store::new(db.clone()),
            training: Training::new(db.clone()),
            locks: Locks::new(db.clone()),
            users: Users::new(db.clone()),
            tokens: Tokens::new(db.clone()),
            grants: grants::Grants::new(db.clone()),
            accounts: crate::platforms::accounts::Accounts::new(db),
            config: Arc::new(config),
            training_config: Arc::new(training_config),
            clock,
            journal,
            sessions,
        }
    }

    /// `[directory]`.
    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    /// `[training]`.
    pub fn training_config(&self) -> &TrainingConfig {
        &self.training_config
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn deny(&self, refusal: GateRefusal) -> GateError {
        GateError::Denied(Denied { refusal, contact: self.config.help_contact.clone() })
    }

    /// The gate at sign-in. In SCIM mode the identity is matched to its
    /// directory user first, and the link is stored only once the gate has
    /// admitted them.
    pub async fn admit_sign_in(
        &self,
        user: &User,
        identity: &VerifiedIdentity,
    ) -> Result<Admitted, GateError> {
        if self.config.source == DirectorySource::OidcClaims {
            return self.admit(user.clone()).await;
        }
        let entry = self.directory_entry_for(identity).await?;
        if self.users.linked_to(&entry).await?.iter().any(|other| other.id != user.id) {
            return Err(self.deny(GateRefusal::LinkedElsewhere));
        }
        let linked = User { directory_id: Some(entry.clone()), ..user.clone() };
        let access = self.access(&linked).await?;
        if user.directory_id.as_deref() != Some(entry.as_str()) {
            match self.users.link_directory(&user.id, &entry).await {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(self.deny(GateRefusal::LinkedElsewhere))
                }
                other => other?,
            }
        }
        Ok(Admitted { user: linked, access })
    }

    /// The gate for a request: [`Directory::access`], and the witness that it passed.
    pub async fn admit(&self, user: User) -> Result<Admitted, GateError> {
        let access = self.access(&user).await?;
        Ok(Admitted { user, access })
    }

    /// The id of the one directory user the sign-in's link claim names.
    async fn directory_entry_for(&self, identity: &VerifiedIdentity) -> Result<String, GateError> {
        let config = &self.config;
        let claim = config.link_claim().to_owned();
        let value = identity.claim(&claim).filter(|v| !v.is_empty() && !v.contains('\0'));
        let value = value.ok_or_else(|| self.deny(GateRefusal::NotInDirectory { claim: claim.clone() }))?;
        // An unverified email could be anyone's: it never links.
        if claim == "email" && identity.email_verified != Some(true) {
            return Err(self.deny(GateRefusal::UnverifiedEmail));
        }
        let found = match config.link_by {
            LinkBy::ExternalId => self.store.user_by_external_id(&value).await?,
            LinkBy::UserName => self.store.user_by_user_name(&value).await?,
            LinkBy::Email => self.store.users_by_email(&value).await?,
        };
        match found.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(self.deny(GateRefusal::NotInDirectory { claim })),
            _ => Err(self.deny(GateRefusal::AmbiguousLink { claim })),
        }
    }

    /// The gate, on the current state: directory entry active, on the
    /// allow-list, not locked, training current. Returns what the user holds.
    pub async fn access(&self, user: &User) -> Result<Access, GateError> {
        let now = self.clock.now();
        let mut keys = user.keys();
        let groups = match self.config.source {
            DirectorySource::OidcClaims => user.groups.clone(),
            DirectorySource::Scim => {
                let claim = self.config.link_claim().to_owned();
                let not_in = || self.deny(GateRefusal::NotInDirectory { claim: claim.clone() });
                let id = user.directory_id.as_deref().ok_or_else(not_in)?;
                let entry = self.store.user(id).await?.ok_or_else(not_in)?;
                if !entry.active {
                    return Err(self.deny(GateRefusal::Inactive));
                }
                keys.extend(entry_names(&entry));
                self.store.groups_of(id).await?.into_iter().map(|(_, name)| name).collect()
            }
        };
        keys.sort();
        keys.dedup();
        let grants = roles::grants(&groups, &self.config.roles);
        let mut held: Vec<Role> = grants.iter().map(|g| g.role).collect();
        held.sort();
        held.dedup();
        let names: Vec<String> = held.iter().map(|r| r.as_str().to_owned()).collect();
        // The user's and their roles' locks in one query; refused in this order:
        // the user locked, not on the allow-list, every role locked.
        let wanted = [(Scope::User, keys.as_slice()), (Scope::Role, names.as_slice())];
        let (user_locks, role_locks): (Vec<Lock>, Vec<Lock>) =
            self.locks.in_force_on(&wanted, now).await?.into_iter().partition(|l| l.scope == Scope::User);
        if let Some(lock) = user_locks.into_iter().next() {
            return Err(self.deny(GateRefusal::Locked { reason: lock.reason, until: lock.expires_at }));
        }
        if grants.is_empty() {
            return Err(self.deny(GateRefusal::NotAllowListed));
        }
        let roles: Vec<Role> =
            held.iter().copied().filter(|r| !role_locks.iter().any(|l| l.target == r.as_str())).collect();
        if roles.is_empty() {
            let reason = role_locks.first().map(|l| l.reason.clone()).unwrap_or_default();
            return Err(self.deny(GateRefusal::RolesLocked { roles: held, reason }));
        }
        let training = self.training.status(&self.training_config, &keys, &roles, now).await?;
        for t in &training {
            match (t.state, t.expires_on) {
                (State::Missing, _) => {
                    return Err(self.deny(GateRefusal::TrainingMissing { course: t.course.clone() }))
                }
                (State::Expired, Some(on)) => {
                    return Err(
                        self.deny(GateRefusal::TrainingExpired { course: t.course.clone(), expired_on: on })
                    )
                }
                _ => {}
            }
        }
        Ok(Access { directory_id: user.directory_id.clone(), groups, grants, roles, training })
    }

    /// Ends every session of the user, revokes their API tokens, ends their
    /// break-glass grant, and records why. Called after the
    /// change that ended their access is in place (so the gate already
    /// refuses them): the count recorded is exactly what ended. With
    /// `always` false, nothing is recorded when no session ended (a retry
    /// of a change already recorded).
    pub async fn end_access(
        &self,
        user: &User,
        trigger: Trigger,
        reason: &str,
        by: &str,
        meta: &RequestMeta,
        always: bool,
    ) -> Result<u64, DirectoryError> {
        // What the old session cookie is told: an administrator's own words
        // for a lock or revocation, only the kind of change otherwise.
        let told = match trigger {
            Trigger::Locked | Trigger::Revoked => reason,
            Trigger::ScimDeactivated | Trigger::ScimDeleted | Trigger::GroupRemoved => {
                "a change in your organization's directory ended your access"
            }
            Trigger::IdpRefused => "your identity provider no longer accepts your account",
        };
        let sessions_ended = self.sessions.end_all_for_user(&user.id, told).await?;
        let tokens_revoked = self.tokens.revoke_all_for_user(&user.id, by, self.clock.now()).await?;
        let breakglass_ended = self.grants.end_all_for_user(&user.id, self.clock.now()).await?;
        if always || sessions_ended > 0 || tokens_revoked > 0 || breakglass_ended > 0 {
            let reason = reason.to_owned();
            let kind = EventKind::AccessRevoked {
                trigger,
                reason,
                by: by.to_owned(),
                sessions_ended,
                tokens_revoked,
                breakglass_ended,
            };
            self.journal.record(meta, actor_of(user), kind).await?;
        }
        tracing::info!(user = %user.id, ?trigger, sessions_ended, tokens_revoked, breakglass_ended, "access revoked");
        Ok(sessions_ended)
    }

    /// After a directory change: ends the access of every user linked to
    /// these directory entries whom the gate now refuses. `changed` says
    /// the change itself took access away (not a repeat of an earlier one).
    pub async fn reassess(
        &self,
        directory_ids: &[String],
        trigger: Trigger,
        by: &str,
        meta: &RequestMeta,
        changed: bool,
    ) -> Result<u64, DirectoryError> {
        let mut ended = 0;
        for id in directory_ids {
            for user in self.users.linked_to(id).await? {
                match self.access(&user).await {
                    Ok(_) => {}
                    Err(GateError::Denied(d)) => {
                        let reason = d.refusal.message();
                        ended += self.end_access(&user, trigger, &reason, by, meta, changed).await?
                    }
                    Err(GateError::Storage(e)) => return Err(e.into()),
                }
            }
        }
        Ok(ended)
    }

    /// Every user a name may mean: by Custodian id, by an email their IdP
    /// verified, and through the directory user of that id, user name or email.
    pub async fn find_users(&self, name: &str) -> Result<Vec<User>, sqlx::Error> {
        if name.contains('\0') {
            return Ok(Vec::new());
        }
        let mut found: Vec<User> = self.users.get(name).await?.into_iter().collect();
        found.extend(self.users.with_email(name).await?);
        for entry in self.directory_users_named(name).await? {
            found.extend(self.users.linked_to(&entry).await?);
        }
        let mut seen = std::collections::HashSet::new();
        found.retain(|u| seen.insert(u.id.clone()));
        Ok(found)
    }

    /// The ids of the directory users a name means: their id, user name or email.
    async fn directory_users_named(&self, name: &str) -> Result<Vec<String>, sqlx::Error> {
        if name.contains('\0') {
            return Ok(Vec::new());
        }
        if let Some(entry) = self.store.user(name).await? {
            return Ok(vec![entry.id]);
        }
        Ok(self.store.users_by_email(name).await?.into_iter().map(|e| e.id).collect())
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
