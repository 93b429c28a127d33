//! The review queue's store: actions held for a compliance reviewer, sealed
//! with the key ring until they are published; the approvals each has;
//! where each stands. SQL and sealing only: who may decide, and what is
//! recorded first, are the review service's (`review`); the action path
//! puts held actions here.
//!
//! ```text
//!  held ─┬─ approve (enough approvals) ─┬─► approved ─► published | failed | interrupted
//!        │                              ├─► scheduled (its time is ahead)
//!        │                              └─► pending_reschedule (its time passed)
//!        ├─ reject ──────────────────────► rejected   (sealed action erased)
//!        ├─ withdraw (its author) ───────► withdrawn  (erased)
//!        ├─ its author's access ends ────► orphaned ─► held (a reviewer re-owns it)
//!        └─ expires_at passes ───────────► expired    (erased)
//!  scheduled ── its time comes: claimed ─► approved ─► ...
//! ```
//!
//! A scheduled post the screen let through waits as `scheduled` from the
//! start. `approved` is a claim: the one replica that moved a post there
//! carries it out; a claim that never reached its outcome (the process
//! stopped) becomes `interrupted`, never retried.
//!
//! An approval is bound to `content_sha256`: the SHA-256 of the account id
//! and everything the action would send (text, link, media bytes, a
//! pass-through request's method, path, query, headers and body).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::Arc;

use crate::domain::{Action, Finding, Forward, Image, NewPost, PolicyAction, Timestamp};
use crate::storage::{optional, Db};
use crate::vault::sealed;
use crate::vault::KeyRing;

/// `[review]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    /// How long a held action waits for its reviewers before it expires.
    #[serde(with = "humantime_serde")]
    pub expire_after: std::time::Duration,
    /// What an action on an account with a tag needs from its reviewers
    /// (`[review.steps.<tag>]`). An account with several such tags needs
    /// every one of them; with none, one approval from any reviewer.
    pub steps: std::collections::BTreeMap<String, ReviewStep>,
    /// The organization's time zone (IANA name): scheduled times are shown in it.
    pub time_zone: String,
    /// How far ahead a post may be scheduled.
    #[serde(with = "humantime_serde")]
    pub schedule_ahead: std::time::Duration,
    /// How often due posts are claimed, expiries run and the authors of
    /// waiting posts are checked.
    #[serde(with = "humantime_serde")]
    pub tick: std::time::Duration,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            expire_after: std::time::Duration::from_secs(72 * 3600),
            steps: Default::default(),
            time_zone: "UTC".into(),
            schedule_ahead: std::time::Duration::from_secs(90 * 24 * 3600),
            tick: std::time::Duration::from_secs(15),
        }
    }
}

impl ReviewConfig {
    /// What is wrong with this configuration, for `Config::validate`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let hours = self.expire_after.as_secs() / 3600;
        if self.expire_after.as_secs() < 3600 || hours > 30 * 24 {
            problems.push("review.expire_after must be between 1h and 30 days".to_owned());
        }
        for (tag, step) in &self.steps {
            if !(1..=3).contains(&step.approvals) {
                problems.push(format!(
                    "review.steps.{tag:?}.approvals must be 1, 2 or 3, not {}",
                    step.approvals
                ));
            }
            if step.from == GroupRule::All && step.groups.len() < 2 {
                problems.push(format!("review.steps.{tag:?}: from = \"all\" needs at least two groups"));
            }
        }
        if jiff::tz::TimeZone::get(&self.time_zone).is_err() {
            problems.push(format!(
                "review.time_zone {:?} is not a time zone (e.g. America/Chicago)",
                self.time_zone
            ));
        }
        if self.schedule_ahead.as_secs() < 3600 || self.schedule_ahead.as_secs() > 366 * 24 * 3600 {
            problems.push("review.schedule_ahead must be between 1h and 366 days".to_owned());
        }
        if self.tick.as_secs() < 1 || self.tick.as_secs() > 300 {
            problems.push("review.tick must be between 1s and 5m".to_owned());
        }
        problems
    }

    /// Why a post cannot be scheduled at `at`, if it cannot: it must be
    /// in the future, and at most `schedule_ahead` from `now`.
    pub fn schedule_problem(&self, now: Timestamp, at: Timestamp) -> Option<String> {
        if at.millis() <= now.millis() {
            Some(format!("publish_at {} is not in the future", at.rfc3339()))
        } else if at.millis() > now.plus(self.schedule_ahead).millis() {
            let days = self.schedule_ahead.as_secs() as f64 / 86400.0;
            Some(format!("publish_at {} is more than {days:.0} days ahead", at.rfc3339()))
        } else {
            None
        }
    }

    /// `at` as the organization reads it: in its time zone, with the offset.
    pub fn local(&self, at: Timestamp) -> String {
        let zone = jiff::tz::TimeZone::get(&self.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        match jiff::Timestamp::from_millisecond(at.millis()) {
            Ok(t) => t.to_zoned_datetime(zone).strftime("%Y-%m-%d %H:%M %Z (%:z)").to_string(),
            Err(_) => at.rfc3339(),
        }
    }

    /// The steps an action on an account with `tags` must pass.
    fn steps_for<'a>(&'a self, tags: &'a [String]) -> impl Iterator<Item = (&'a String, &'a ReviewStep)> {
        tags.iter().filter_map(|t| self.steps.get_key_value(t))
    }

    /// How many approvals an action on an account with `tags` needs at least.
    pub fn approvals_for(&self, tags: &[String]) -> i64 {
        self.steps_for(tags).map(|(_, s)| s.least()).max().unwrap_or(1)
    }

    /// Why a reviewer in `groups` cannot approve an action on an account
    /// with `tags`, if they cannot: their approval would count for none of
    /// its steps.
    pub fn outsider(&self, tags: &[String], groups: &[String]) -> Option<String> {
        let steps: Vec<_> = self.steps_for(tags).collect();
        if steps.is_empty() || steps.iter().any(|(_, s)| s.counts(groups)) {
            return None;
        }
        let wanted: std::collections::BTreeSet<&str> =
            steps.iter().flat_map(|(_, s)| s.groups.iter().map(String::as_str)).collect();
        Some(format!(
            "approvals on this account come from reviewers in {}, and you are in none",
            wanted.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }

    /// The approvals that count for an action on an account with `tags`:
    /// those that count for at least one of its steps (with none, every one).
    pub fn counting<'a>(&self, tags: &[String], approvals: &'a [Approval]) -> Vec<&'a Approval> {
        let steps: Vec<_> = self.steps_for(tags).collect();
        approvals
            .iter()
            .filter(|a| steps.is_empty() || steps.iter().any(|(_, s)| s.counts(&a.groups)))
            .collect()
    }

    /// Who decided an action on an account with `tags` that `approvals`
    /// released: the reviewers whose approvals count, in order (user ids,
    /// comma-separated).
    pub fn deciders(&self, tags: &[String], approvals: &[Approval]) -> String {
        let ids: Vec<&str> = self.counting(tags, approvals).iter().map(|a| a.reviewer_id.as_str()).collect();
        ids.join(", ")
    }

    /// Whether `approvals` are enough for an action on an account with `tags`.
    pub fn satisfied(&self, tags: &[String], approvals: &[Approval]) -> bool {
        let mut steps = self.steps_for(tags).peekable();
        if steps.peek().is_none() {
            return !approvals.is_empty();
        }
        steps.all(|(_, step)| step.satisfied(approvals))
    }
}

/// `[review.steps.<tag>]`: the approvals an action on an account with the tag needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReviewStep {
    /// How many approvals (1 to 3).
    #[serde(default = "one")]
    pub approvals: i64,
    /// Whose approvals count: reviewers in these directory groups. Empty:
    /// any reviewer's.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `any`: approvals from members of any of `groups`; `all`: at least
    /// one approval from a member of each group.
    #[serde(default)]
    pub from: GroupRule,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupRule {
    #[default]
    Any,
    All,
}

impl ReviewStep {
    /// Whether a reviewer in `groups` counts for this step.
    fn counts(&self, groups: &[String]) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| groups.contains(g))
    }

    fn least(&self) -> i64 {
        match self.from {
            GroupRule::Any => self.approvals,
            GroupRule::All => self.approvals.max(self.groups.len() as i64),
        }
    }

    fn satisfied(&self, approvals: &[Approval]) -> bool {
        let counting = approvals.iter().filter(|a| self.counts(&a.groups)).count() as i64;
        let every_group = match self.from {
            GroupRule::Any => true,
            GroupRule::All => self.groups.iter().all(|g| approvals.iter().any(|a| a.groups.contains(g))),
        };
        counting >= self.least() && every_group
    }
}

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReviewState)]
pub enum ReviewState {
    /// Waiting for a reviewer.
    Held,
    /// Approved (or due), claimed by one replica: being carried out.
    Approved,
    /// Waiting for its time to publish.
    Scheduled,
    /// Approved after its time had passed: it waits for a new time, it
    /// does not publish late.
    PendingReschedule,
    /// Withdrawn when its author's access ended; a reviewer may re-own it
    /// until it expires.
    Orphaned,
    /// Custodian stopped while carrying it out: whether it reached the
    /// platform is for a person to check (the journal holds its intent);
    /// never retried.
    Interrupted,
    /// Refused by a reviewer.
    Rejected,
    /// Out on the platform.
    Published,
    /// Approved, but the path or the platform refused it when it was carried out.
    Failed,
    /// Not decided in time.
    Expired,
    /// Taken back by its author.
    Withdrawn,
}

impl ReviewState {
    /// Every state, in the order a review passes through them.
    pub const ALL: [ReviewState; 11] = [
        ReviewState::Held,
        ReviewState::Scheduled,
        ReviewState::PendingReschedule,
        ReviewState::Orphaned,
        ReviewState::Approved,
        ReviewState::Published,
        ReviewState::Failed,
        ReviewState::Interrupted,
        ReviewState::Rejected,
        ReviewState::Expired,
        ReviewState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Held => "held",
            ReviewState::Approved => "approved",
            ReviewState::Scheduled => "scheduled",
            ReviewState::PendingReschedule => "pending_reschedule",
            ReviewState::Orphaned => "orphaned",
            ReviewState::Interrupted => "interrupted",
            ReviewState::Rejected => "rejected",
            ReviewState::Published => "published",
            ReviewState::Failed => "failed",
            ReviewState::Expired => "expired",
            ReviewState::Withdrawn => "withdrawn",
        }
    }

    /// Whether it still waits (for a reviewer, its time, or a new owner):
    /// its content is kept sealed.
    pub fn waiting(self) -> bool {
        matches!(
            self,
            ReviewState::Held
                | ReviewState::Scheduled
                | ReviewState::PendingReschedule
                | ReviewState::Orphaned
        )
    }

    pub fn parse_name(s: &str) -> Option<ReviewState> {
        Self::parse(s).ok()
    }

    fn parse(s: &str) -> Result<ReviewState, sqlx::Error> {
        Ok(match s {
            "held" => ReviewState::Held,
            "approved" => ReviewState::Approved,
            "scheduled" => ReviewState::Scheduled,
            "pending_reschedule" => ReviewState::PendingReschedule,
            "orphaned" => ReviewState::Orphaned,
            "interrupted" => ReviewState::Interrupted,
            "rejected" => ReviewState::Rejected,
            "published" => ReviewState::Published,
            "failed" => ReviewState::Failed,
            "expired" => ReviewState::Expired,
            "withdrawn" => ReviewState::Withdrawn,
            other => return Err(sqlx::Error::Decode(format!("unknown review state {other:?}").into())),
        })
    }
}

/// One held action, as a reviewer (or its author) sees it: never its
/// content (that is opened only for a reviewer, by [`Queue::open`]).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Review {
    pub id: String,
    pub account_id: String,
    pub author_id: String,
    /// The policy action, e.g. `post.publish`.
    pub action: String,
    pub door: String,
    pub state: ReviewState,
    /// What every approval must name: the SHA-256 of the exact content.
    pub content_sha256: String,
    pub findings: Vec<Finding>,
    pub approvals_required: i64,
    pub approvals: Vec<Approval>,
    pub created_at: Timestamp,
    /// When it is to be published (UTC); null: as soon as it is approved.
    #[schema(required = true)]
    pub publish_at: Option<Timestamp>,
    /// `publish_at` in the organization's time zone.
    #[schema(required = true)]
    pub publish_at_local: Option<String>,
    /// When a review that waits for a reviewer (or a new time, or a new
    /// owner) expires.
    pub expires_at: Timestamp,
    #[schema(required = true)]
    pub decided_at: Option<Timestamp>,
    /// Who decided it: the reviewer who rejected it, its author who
    /// withdrew it, or the reviewers whose approvals released it (user ids,
    /// comma-separated, in order).
    #[schema(required = true)]
    pub decided_by: Option<String>,
    /// The reviewer's reason (rejected), or what happened (failed).
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The `review.held` event.
    pub audit_event_id: String,
    #[serde(skip)]
    pub mfa_verified_at: Option<Timestamp>,
    /// The API token it came through, if any.
    #[schema(required = true)]
    pub token_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewApproval)]
pub struct Approval {
    pub reviewer_id: String,
    pub approved_at: Timestamp,
    pub reason: String,
    /// The reviewer's directory groups when they approved.
    pub groups: Vec<String>,
}

/// A held action to store; its `review.held` event is already recorded.
pub struct NewReview<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub author_id: &'a str,
    pub action: &'a Action,
    pub action_name: &'a str,
    pub door: &'a str,
    pub findings: &'a [Finding],
    pub approvals_required: i64,
    pub mfa_verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub publish_at: Option<Timestamp>,
    /// `Held` (for a reviewer) or `Scheduled` (clean, waiting for its time).
    pub state: ReviewState,
    /// The API token it came through, if any.
    pub token_id: Option<&'a str>,
    pub audit_event_id: &'a str,
}

/// Which reviews a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub state: Option<ReviewState>,
    pub account_id: Option<String>,
    pub author_id: Option<String>,
    /// Only those with a finding of this kind.
    pub finding_kind: Option<String>,
    /// Only those held before this moment.
    pub older_than: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the held action cannot be sealed or opened: {0}")]
    Seal(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// A new review's id.
pub fn new_id() -> String {
    format!("rv_{}", &crate::identity::session::random_token()[..22])
}

/// The SHA-256 (hex) an approval is bound to: the account and everything
/// the action would send.
pub fn content_sha256(account_id: &str, action: &Action) -> String {
    let mut hash = Sha256::new();
    hash.update(account_id.as_bytes());
    hash.update([0]);
    // Serializing a plain struct of strings and vectors cannot fail.
    hash.update(serde_json::to_vec(&Stored::of(action)).unwrap_or_default());
    hex::encode(hash.finalize())
}

#[derive(Clone)]
pub struct Queue {
    db: Db,
    keys: Arc<KeyRing>,
    config: Arc<ReviewConfig>,
}

const COLUMNS: &str = "id, account_id, author_id, action, door, state, content_sha256, findings, \
     approvals_required, mfa_verified_at, created_at, expires_at, publish_at, decided_at, decided_by, reason, \
     audit_event_id, token_id";

impl Queue {
    pub fn new(db: Db, keys: Arc<KeyRing>, config: ReviewConfig) -> Self {
        Queue { db, keys, config: Arc::new(config) }
    }

    /// Expiry, and the approvals an action needs.
    pub fn config(&self) -> &ReviewConfig {
        &self.config
    }

    /// Stores a held action, sealed.
    pub async fn insert(&self, review: &NewReview<'_>) -> Result<(), QueueError> {
        let plain = Zeroized(serde_json::to_vec(&Stored::of(review.action)).unwrap_or_default());
        let sealed = self
            .keys
            .seal(&plain.0, &sealed::review(review.id))
            .map_err(|e| QueueError::Seal(e.to_string()))?;
        let findings = serde_json::to_string(review.findings).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO reviews (id, account_id, author_id, action, door, sealed_action, content_sha256, findings, \
             state, approvals_required, mfa_verified_at, created_at, expires_at, publish_at, audit_event_id, token_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(review.id)
        .bind(review.account_id)
        .bind(review.author_id)
        .bind(review.action_name)
        .bind(review.door)
        .bind(sealed)
        .bind(content_sha256(review.account_id, review.action))
        .bind(findings)
        .bind(review.state.as_str())
        .bind(review.approvals_required)
        .bind(review.mfa_verified_at.map(|t| t.millis()))
        .bind(review.created_at.millis())
        .bind(review.expires_at.millis())
        .bind(review.publish_at.map(|t| t.millis()))
        .bind(review.audit_event_id)
        .bind(review.token_id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Review>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM reviews WHERE id = $1"))
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        match row {
            Some(r) => {
                let mut review = self.review(&r)?;
                review.approvals = self.approvals(id).await?;
                Ok(Some(review))
            }
            None => Ok(None),
        }
    }

    /// Reviews, oldest first (the queue's order), at most `limit`.
    pub async fn list(&self, filter: &ReviewFilter, limit: i64) -> Result<Vec<Review>, sqlx::Error> {
        let mut sql = format!("SELECT {COLUMNS} FROM reviews WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut next = |sql: &mut String, clause: &str, value: String| {
            binds.push(value);
            sql.push_str(&clause.replace("?", &format!("${}", binds.len())));
        };
        if let Some(state) = filter.state {
            next(&mut sql, " AND state = ?", state.as_str().to_owned());
        }
        if let Some(account) = &filter.account_id {
            next(&mut sql, " AND account_id = ?", account.clone());
        }
        if let Some(author) = &filter.author_id {
            next(&mut sql, " AND author_id = ?", author.clone());
        }
        let older = filter.older_than.map(|t| t.millis());
        if older.is_some() {
            sql.push_str(&format!(" AND created_at < ${}", binds.len() + 1));
        }
        sql.push_str(" ORDER BY created_at, id");
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        if let Some(older) = older {
            query = query.bind(older);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        let mut out = Vec::new();
        for r in &rows {
            let mut review = self.review(r)?;
            if let Some(kind) = &filter.finding_kind {
                if !review.findings.iter().any(|f| f.kind.as_str() == kind) {
                    continue;
                }
            }
            review.approvals = self.approvals(&review.id).await?;
            out.push(review);
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn review(&self, r: &sqlx::any::AnyRow) -> Result<Review, sqlx::Error> {
        let mut review = review(r)?;
        review.publish_at_local = review.publish_at.map(|t| self.config.local(t));
        Ok(review)
    }

    async fn approvals(&self, id: &str) -> Result<Vec<Approval>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT reviewer_id, approved_at, reason, groups FROM review_approvals WHERE review_id = $1 \
             ORDER BY approved_at, reviewer_id",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let groups: String = r.try_get("groups")?;
                Ok(Approval {
                    reviewer_id: r.try_get("reviewer_id")?,
                    approved_at: Timestamp(r.try_get("approved_at")?),
                    reason: r.try_get("reason")?,
                    groups: serde_json::from_str(&groups).map_err(|e| sqlx::Error::Decode(e.into()))?,
                })
            })
            .collect()
    }

    /// The held action, opened (for a reviewer, or to carry it out).
    pub async fn open(&self, id: &str) -> Result<Option<Action>, QueueError> {
        let sealed: Option<Option<String>> = optional(
            sqlx::query_scalar("SELECT sealed_action FROM reviews WHERE id = $1")
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        let Some(Some(sealed)) = sealed else { return Ok(None) };
        let plain =
            self.keys.open(&sealed, &sealed::review(id)).map_err(|e| QueueError::Seal(e.to_string()))?;
        let stored: Stored = serde_json::from_slice(&plain).map_err(|e| QueueError::Seal(e.to_string()))?;
        stored.action().map(Some).map_err(QueueError::Seal)
    }

    /// Adds `reviewer`'s approval to a review, in one statement that
    /// checks, as it inserts, that the review is still held, still for the
    /// content `content_sha256`, and not written by `reviewer` (re-owned
    /// meanwhile); false otherwise, or when they already approved it.
    pub async fn approve(
        &self,
        id: &str,
        reviewer: &str,
        groups: &[String],
        reason: &str,
        content_sha256: &str,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO review_approvals (review_id, reviewer_id, approved_at, reason, groups) \
             SELECT id, $1, $2, $3, $4 FROM reviews \
             WHERE id = $5 AND state = 'held' AND author_id <> $1 AND content_sha256 = $6",
        )
        .bind(reviewer)
        .bind(now.millis())
        .bind(reason)
        .bind(serde_json::to_string(groups).unwrap_or_else(|_| "[]".into()))
        .bind(id)
        .bind(content_sha256)
        .execute(self.db.pool())
        .await;
        match inserted {
            Ok(done) => Ok(done.rows_affected() == 1),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Moves a review from `from` to `to` if it is still in `from`; false
    /// otherwise (someone else moved it first). Leaving the queue for good
    /// (rejected, withdrawn, expired, published, failed, interrupted) erases
    /// the sealed action. Moving to `approved` is [`Queue::claim`]'s.
    pub async fn transition(
        &self,
        id: &str,
        from: ReviewState,
        to: ReviewState,
        by: Option<&str>,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let erase = !to.waiting() && to != ReviewState::Approved;
        let sql = if erase {
            "UPDATE reviews SET state = $1, decided_at = $2, decided_by = COALESCE($3, decided_by), \
             reason = COALESCE($4, reason), sealed_action = NULL WHERE id = $5 AND state = $6"
        } else {
            "UPDATE reviews SET state = $1, decided_at = $2, decided_by = COALESCE($3, decided_by), \
             reason = COALESCE($4, reason) WHERE id = $5 AND state = $6"
        };
        let done = sqlx::query(sql)
            .bind(to.as_str())
            .bind(now.millis())
            .bind(by)
            .bind(reason)
            .bind(id)
            .bind(from.as_str())
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims a review its approvals released for this replica (`by`) to
    /// carry out at once: `from` to `approved`, if it is still in `from`,
    /// decided by `decided_by` (the reviewers whose approvals count).
    /// False: another claimed it first.
    pub async fn claim(
        &self,
        id: &str,
        from: ReviewState,
        by: &str,
        decided_by: &str,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE reviews SET state = 'approved', claimed_at = $1, claimed_by = $2, decided_at = $1, \
             decided_by = $3 WHERE id = $4 AND state = $5",
        )
        .bind(now.millis())
        .bind(by)
        .bind(decided_by)
        .bind(id)
        .bind(from.as_str())
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims the most overdue scheduled post due by `now` (and since
    /// `since`: older ones missed their time, see [`Queue::missed`]) for
    /// this replica, in one statement: the row is chosen and locked by the
    /// inner select (`FOR UPDATE SKIP LOCKED` on PostgreSQL: a post another
    /// replica is claiming is skipped, and one it has claimed no longer
    /// qualifies when re-checked; SQLite's single writer orders the claims),
    /// then moved to `approved`. Each due post is returned to exactly one
    /// caller.
    pub async fn claim_due(
        &self,
        now: Timestamp,
        since: Timestamp,
        by: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let lock = match self.db.backend() {
            crate::storage::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::storage::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE reviews SET state = 'approved', claimed_at = $1, claimed_by = $2 \
             WHERE id = (SELECT id FROM reviews WHERE state = 'scheduled' AND publish_at <= $1 \
             AND publish_at >= $3 ORDER BY publish_at, id LIMIT 1{lock}) RETURNING id"
        );
        optional(
            sqlx::query_scalar(&sql)
                .bind(now.millis())
                .bind(by)
                .bind(since.millis())
                .fetch_one(self.db.pool())
                .await,
        )
    }

    /// Scheduled posts whose time passed before `before` unclaimed (every
    /// replica was down): they wait for a new time, they do not go out late.
    pub async fn missed(&self, before: Timestamp) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM reviews WHERE state = 'scheduled' AND publish_at < $1 ORDER BY publish_at",
        )
        .bind(before.millis())
        .fetch_all(self.db.pool())
        .await
    }

    /// Claims made before `before` that never reached their outcome.
    pub async fn stale_claims(&self, before: Timestamp) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM reviews WHERE state = 'approved' AND claimed_at < $1 ORDER BY claimed_at",
        )
        .bind(before.millis())
        .fetch_all(self.db.pool())
        .await
    }

    /// A new time to publish at, and the state it waits in then, if it is
    /// still in `from` with the time `was` (none: it had none): a time
    /// another request gave it meanwhile is not overwritten.
    pub async fn reschedule(
        &self,
        id: &str,
        (from, was): (ReviewState, Option<Timestamp>),
        to: ReviewState,
        publish_at: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE reviews SET state = $1, publish_at = $2 WHERE id = $3 AND state = $4 \
             AND COALESCE(publish_at, -1) = COALESCE($5, -1)",
        )
        .bind(to.as_str())
        .bind(publish_at.millis())
        .bind(id)
        .bind(from.as_str())
        .bind(was.map(|t| t.millis()))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A held review its approvals released, to wait for its time
    /// (`scheduled`, or `pending_reschedule` once that passed), if it is
    /// still held for `publish_at`: a new time given meanwhile is not
    /// taken for the one it was released for.
    pub async fn release_at(
        &self,
        id: &str,
        to: ReviewState,
        publish_at: Timestamp,
        by: &str,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE reviews SET state = $1, decided_at = $2, decided_by = $3 \
             WHERE id = $4 AND state = 'held' AND publish_at = $5",
        )
        .bind(to.as_str())
        .bind(now.millis())
        .bind(by)
        .bind(id)
        .bind(publish_at.millis())
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A new expiry for a waiting review.
    pub async fn extend(&self, id: &str, expires_at: Timestamp) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE reviews SET expires_at = $1 WHERE id = $2")
            .bind(expires_at.millis())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// An orphaned review re-owned by `author` (a reviewer): held again,
    /// its earlier approvals dropped, with a fresh expiry.
    pub async fn adopt(
        &self,
        id: &str,
        author: &str,
        expires_at: Timestamp,
        publish_at: Option<Timestamp>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE reviews SET state = 'held', author_id = $1, expires_at = $2, publish_at = $3, \
             decided_at = NULL, decided_by = NULL, reason = NULL, token_id = NULL \
             WHERE id = $4 AND state = 'orphaned'",
        )
        .bind(author)
        .bind(expires_at.millis())
        .bind(publish_at.map(|t| t.millis()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM review_approvals WHERE review_id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A claimed review whose approvals no longer satisfy the review steps
    /// in force (tightened, or its account's tags changed, since it was
    /// approved): held again for the `approvals_required` it needs now,
    /// with a fresh expiry. Its approvals stay, and count where they still
    /// count. False if it is no longer claimed.
    pub async fn hold_again(
        &self,
        id: &str,
        approvals_required: i64,
        expires_at: Timestamp,
        reason: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE reviews SET state = 'held', approvals_required = $1, expires_at = $2, reason = $3, \
             decided_at = NULL, decided_by = NULL, claimed_at = NULL, claimed_by = NULL \
             WHERE id = $4 AND state = 'approved'",
        )
        .bind(approvals_required)
        .bind(expires_at.millis())
        .bind(reason)
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The waiting reviews whose time for a decision ran out by `now`.
    pub async fn due_to_expire(&self, now: Timestamp) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM reviews WHERE state IN ('held', 'pending_reschedule', 'orphaned') \
             AND expires_at <= $1 ORDER BY expires_at",
        )
        .bind(now.millis())
        .fetch_all(self.db.pool())
        .await
    }

    /// The authors of posts that still wait to go out.
    pub async fn waiting_authors(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT DISTINCT author_id FROM reviews WHERE state IN ('held', 'scheduled', 'pending_reschedule')",
        )
        .fetch_all(self.db.pool())
        .await
    }

    /// The posts `author` wrote that still wait to go out (to withdraw
    /// when their access ends).
    pub async fn waiting_by(&self, author: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM reviews WHERE state IN ('held', 'scheduled', 'pending_reschedule') \
             AND author_id = $1 ORDER BY created_at",
        )
        .bind(author)
        .fetch_all(self.db.pool())
        .await
    }
}

fn review(r: &sqlx::any::AnyRow) -> Result<Review, sqlx::Error> {
    let findings: String = r.try_get("findings")?;
    let at = |c: &str| -> Result<Option<Timestamp>, sqlx::Error> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map(Timestamp))
    };
    Ok(Review {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        author_id: r.try_get("author_id")?,
        action: r.try_get("action")?,
        door: r.try_get("door")?,
        state: ReviewState::parse(&r.try_get::<String, _>("state")?)?,
        content_sha256: r.try_get("content_sha256")?,
        findings: serde_json::from_str(&findings).map_err(|e| sqlx::Error::Decode(e.into()))?,
        approvals_required: r.try_get("approvals_required")?,
        approvals: Vec::new(),
        created_at: Timestamp(r.try_get("created_at")?),
        publish_at: at("publish_at")?,
        publish_at_local: None,
        expires_at: Timestamp(r.try_get("expires_at")?),
        decided_at: at("decided_at")?,
        decided_by: r.try_get("decided_by")?,
        reason: r.try_get("reason")?,
        audit_event_id: r.try_get("audit_event_id")?,
        mfa_verified_at: at("mfa_verified_at")?,
        token_id: r.try_get("token_id")?,
    })
}

/// Plaintext that is wiped when dropped.
struct Zeroized(Vec<u8>);

impl Drop for Zeroized {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

/// A held action as it is sealed: what the platform would be sent.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Stored {
    Publish { post: StoredPost },
    Reply { in_reply_to: String, post: StoredPost },
    Forward(StoredForward),
}

#[derive(Serialize, Deserialize)]
struct StoredPost {
    text: String,
    link: Option<String>,
    image: Option<StoredImage>,
}

#[derive(Serialize, Deserialize)]
struct StoredImage {
    base64: String,
    media_type: String,
    description: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredForward {
    action: String,
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body_base64: String,
    content: Option<String>,
    media: bool,
}

impl StoredPost {
    fn of(post: &NewPost) -> Self {
        StoredPost {
            text: post.text.clone(),
            link: post.link.as_ref().map(|l| l.to_string()),
            image: post.image.as_ref().map(|i| StoredImage {
                base64: STANDARD.encode(&i.bytes),
                media_type: i.media_type.clone(),
                description: i.description.clone(),
            }),
        }
    }

    fn post(self) -> Result<NewPost, String> {
        let link = self.link.map(|l| l.parse().map_err(|e| format!("link: {e}"))).transpose()?;
        let image = self
            .image
            .map(|i| {
                Ok::<_, String>(Image {
                    bytes: STANDARD.decode(i.base64).map_err(|e| format!("image: {e}"))?,
                    media_type: i.media_type,
                    description: i.description,
                })
            })
            .transpose()?;
        Ok(NewPost { text: self.text, link, image })
    }
}

impl Stored {
    /// Only actions that say something are held.
    fn of(action: &Action) -> Stored {
        match action {
            Action::Reply { in_reply_to, post } => {
                Stored::Reply { in_reply_to: in_reply_to.clone(), post: StoredPost::of(post) }
            }
            Action::Forward(f) => Stored::Forward(StoredForward {
                action: f.action.as_str().to_owned(),
                method: f.method.to_string(),
                path: f.path.clone(),
                query: f.query.clone(),
                headers: f
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect(),
                body_base64: STANDARD.encode(&f.body),
                content: f.content.clone(),
                media: f.media,
            }),
            Action::Publish(post) => Stored::Publish { post: StoredPost::of(post) },
            // Nothing else is screened, so nothing else is held.
            _ => Stored::Publish { post: StoredPost { text: String::new(), link: None, image: None } },
        }
    }

    fn action(self) -> Result<Action, String> {
        Ok(match self {
            Stored::Publish { post } => Action::Publish(post.post()?),
            Stored::Reply { in_reply_to, post } => Action::Reply { in_reply_to, post: post.post()? },
            Stored::Forward(f) => {
                let action =
                    PolicyAction::parse(&f.action).ok_or_else(|| format!("unknown action {:?}", f.action))?;
                let headers = f
                    .headers
                    .into_iter()
                    .map(|(n, v)| {
                        Ok((n.parse().map_err(|_| "header name")?, v.parse().map_err(|_| "header value")?))
                    })
                    .collect::<Result<Vec<_>, &str>>()?;
                Action::Forward(Box::new(Forward {
                    action,
                    method: f.method.parse().map_err(|_| "method".to_owned())?,
                    path: f.path,
                    query: f.query,
                    headers,
                    body: STANDARD.decode(f.body_base64).map_err(|e| format!("body: {e}"))?.into(),
                    content: f.content,
                    media: f.media,
                }))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(groups: &[&str]) -> Approval {
        Approval {
            reviewer_id: "r".into(),
            approved_at: Timestamp(0),
            reason: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn steps_count_approvals_by_group_and_every_tag_must_pass() {
        let mut config = ReviewConfig::default();
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(config.satisfied(&tags(&["any"]), &[approval(&[])]), "no step: one approval");
        assert!(!config.satisfied(&tags(&["any"]), &[]));
        config.steps.insert(
            "clinical".into(),
            ReviewStep { approvals: 1, groups: vec!["a".into(), "b".into()], from: GroupRule::All },
        );
        config
            .steps
            .insert("press".into(), ReviewStep { approvals: 2, groups: vec![], from: GroupRule::Any });
        let clinical = tags(&["clinical"]);
        assert_eq!(config.approvals_for(&clinical), 2, "all of two groups: two approvals at least");
        assert!(!config.satisfied(&clinical, &[approval(&["a"]), approval(&["a"])]));
        assert!(config.satisfied(&clinical, &[approval(&["a"]), approval(&["b", "x"])]));
        assert!(
            !config.satisfied(&clinical, &[approval(&["a", "b"])]),
            "one reviewer in both groups is one approval"
        );
        assert!(config.outsider(&clinical, &tags(&["x"])).unwrap().contains("a, b"));
        assert_eq!(config.outsider(&clinical, &tags(&["b"])), None);
        let both = tags(&["clinical", "press"]);
        assert_eq!(config.outsider(&both, &tags(&["x"])), None, "counts for the press step");
        assert!(!config.satisfied(&both, &[approval(&["a"])]));
        let given = [approval(&["x"]), approval(&["b"])];
        assert_eq!(config.counting(&clinical, &given).len(), 1, "x counts for no clinical step");
        assert_eq!(config.counting(&tags(&["any"]), &given).len(), 2, "no step: every approval counts");
        assert!(config.satisfied(&both, &[approval(&["a"]), approval(&["b"])]));
        config.steps.insert(
            "bad".into(),
            ReviewStep { approvals: 4, groups: vec!["a".into()], from: GroupRule::All },
        );
        assert_eq!(config.problems().len(), 2, "{:?}", config.problems());
    }

    #[test]
    fn a_stored_action_comes_back_the_same_and_its_hash_changes_with_any_edit() {
        let post = NewPost {
            text: "Open day".into(),
            link: Some("https://clinic.example/open".parse().unwrap()),
            image: Some(Image {
                bytes: vec![1, 2, 3],
                media_type: "image/png".into(),
                description: Some("door".into()),
            }),
        };
        let action = Action::Reply { in_reply_to: "p1".into(), post };
        let again = Stored::of(&action).action().unwrap();
        assert_eq!(content_sha256("a", &action), content_sha256("a", &again));
        assert_ne!(content_sha256("a", &action), content_sha256("b", &action), "bound to its account");
        let Action::Reply { post: mut edited, .. } = again else { panic!("a reply") };
        edited.image.as_mut().unwrap().bytes.push(4);
        let edited = Action::Reply { in_reply_to: "p1".into(), post: edited };
        assert_ne!(content_sha256("a", &action), content_sha256("a", &edited), "the media is in the hash");
    }
}
