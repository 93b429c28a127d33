//! Inbound moderation's store: the comments the poller has screened (each
//! once per account), the ones it held for a moderator with their author
//! and text sealed with the key ring, and the accounts' own posts it has
//! seen: recorded in the journal, or flagged as made outside Custodian.
//! SQL and sealing only: what is screened, decided and recorded first is
//! the moderation service's (`moderation`).
//!
//! ```text
//!  comment seen ─► screening (claimed) ─┬─► clean
//!                                       ├─► hidden ─┬─► restored     (sealed text erased)
//!                                       │           └─► kept_hidden  (erased)
//!                                       └─► queued ─┬─► restored     (erased)
//!                                                   └─► kept_hidden  (erased)
//!  own post seen ─► recorded | earlier | pending ─(grace passes)─► unrecorded
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use zeroize::Zeroizing;

use crate::domain::{AccountId, Finding, Timestamp};
use crate::storage::{optional, Db};
use crate::vault::sealed;
use crate::vault::KeyRing;

/// Where a held comment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeldState {
    /// Hidden at the platform; waiting for a moderator.
    Hidden,
    /// Waiting for a moderator, still visible: the platform cannot hide it
    /// (or hiding it failed).
    Queued,
    /// A moderator restored it (shown again where it was hidden).
    Restored,
    /// A moderator kept it hidden (or, where it could not be hidden, confirmed it).
    KeptHidden,
}

impl HeldState {
    pub fn as_str(self) -> &'static str {
        match self {
            HeldState::Hidden => "hidden",
            HeldState::Queued => "queued",
            HeldState::Restored => "restored",
            HeldState::KeptHidden => "kept_hidden",
        }
    }

    fn parse(s: &str) -> Result<HeldState, sqlx::Error> {
        Ok(match s {
            "hidden" => HeldState::Hidden,
            "queued" => HeldState::Queued,
            "restored" => HeldState::Restored,
            "kept_hidden" => HeldState::KeptHidden,
            other => return Err(sqlx::Error::Decode(format!("unknown moderation state {other:?}").into())),
        })
    }

    /// Still waiting for a moderator.
    pub fn open(self) -> bool {
        matches!(self, HeldState::Hidden | HeldState::Queued)
    }
}

/// A held comment as a moderator's list shows it: never its text or author
/// (those are opened only for a moderator, by [`Inbox::open`]).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HeldComment {
    pub id: String,
    pub account_id: String,
    pub platform: String,
    /// The platform's id of the post it answers.
    pub post_id: String,
    /// The platform's id of the comment.
    pub comment_id: String,
    pub state: HeldState,
    /// Policy's verdict on the findings: `hold` or `block`.
    pub verdict: String,
    /// The policies that decided.
    pub rule: String,
    pub findings: Vec<Finding>,
    pub seen_at: Timestamp,
    #[schema(required = true)]
    pub decided_at: Option<Timestamp>,
    #[schema(required = true)]
    pub decided_by: Option<String>,
    /// Why it is queued (the platform cannot hide it, or hiding failed), or
    /// the moderator's reason.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The `comment.hidden` or `comment.queued` event.
    pub audit_event_id: String,
}

/// What a held comment said, and who wrote it, as the platform gave them:
/// sealed until a moderator decides.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentText {
    pub author: String,
    pub text: String,
}

impl std::fmt::Debug for CommentText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommentText({} bytes)", self.text.len())
    }
}

/// A screened comment to hold; its `comment.hidden` or `comment.queued`
/// event is already recorded.
pub struct NewHold<'a> {
    /// The id [`Inbox::claim`] gave it.
    pub id: &'a str,
    pub state: HeldState,
    pub verdict: &'a str,
    pub rule: &'a str,
    pub findings: &'a [Finding],
    pub comment: &'a CommentText,
    pub reason: Option<&'a str>,
    pub audit_event_id: &'a str,
}

/// Which held comments a listing shows.
#[derive(Debug, Clone, Default)]
pub struct HeldFilter {
    /// Only on these accounts (None: on any).
    pub accounts: Option<Vec<String>>,
    pub state: Option<HeldState>,
}

/// What Custodian knows of one of an account's own posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostState {
    /// An action outcome in the journal names it.
    Recorded,
    /// Posted before the account was connected to Custodian.
    Earlier,
    /// Not (yet) in the journal: judged once its grace has passed.
    Pending,
    /// Made outside Custodian: `account.unrecorded_post` recorded.
    Unrecorded,
}

impl PostState {
    fn as_str(self) -> &'static str {
        match self {
            PostState::Recorded => "recorded",
            PostState::Earlier => "earlier",
            PostState::Pending => "pending",
            PostState::Unrecorded => "unrecorded",
        }
    }

    fn parse(s: &str) -> PostState {
        match s {
            "recorded" => PostState::Recorded,
            "earlier" => PostState::Earlier,
            "unrecorded" => PostState::Unrecorded,
            _ => PostState::Pending,
        }
    }
}

/// A post made outside Custodian, as the access review and the admin
/// listing show it: where it is, never what it says.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnrecordedPost {
    pub account_id: String,
    pub platform: String,
    pub handle: String,
    pub post_id: String,
    #[schema(required = true)]
    pub url: Option<String>,
    /// As the platform gives it.
    #[schema(required = true)]
    pub created_at: Option<String>,
    /// When Custodian first saw it.
    pub seen_at: Timestamp,
    #[schema(required = true)]
    pub flagged_at: Option<Timestamp>,
    /// The `account.unrecorded_post` event.
    #[schema(required = true)]
    pub audit_event_id: Option<String>,
}

/// One of an account's posts as first seen.
pub struct SeenPost<'a> {
    pub account_id: &'a AccountId,
    pub post_id: &'a str,
    pub state: PostState,
    pub url: Option<&'a str>,
    pub created_at: Option<&'a str>,
    pub now: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("the held comment cannot be sealed or opened: {0}")]
    Seal(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// A new moderation item's id.
pub fn new_id() -> String {
    format!("md_{}", uuid::Uuid::now_v7().simple())
}

/// How far the journal's recorded posts have been read.
const JOURNAL_CURSOR: &str = "recorded_posts";
/// Journal events read per query.
const JOURNAL_BATCH: i64 = 500;

const COLUMNS: &str = "id, account_id, platform, post_id, comment_id, state, verdict, rule, findings, \
     seen_at, decided_at, decided_by, reason, audit_event_id";

#[derive(Clone)]
pub struct Inbox {
    db: Db,
    keys: Arc<KeyRing>,
}

impl Inbox {
    pub fn new(db: Db, keys: Arc<KeyRing>) -> Self {
        Inbox { db, keys }
    }

    /// Claims a comment for screening: its new item's id, or None when it
    /// was screened before (or another poller is screening it now). A claim
    /// older than `stale_before` (its poller stopped) is taken over.
    pub async fn claim(
        &self,
        account_id: &AccountId,
        platform: &str,
        post_id: &str,
        comment_id: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<String>, sqlx::Error> {
        let seen = optional(
            sqlx::query(
                "SELECT state, seen_at FROM moderation_comments WHERE account_id = $1 AND comment_id = $2",
            )
            .bind(account_id)
            .bind(comment_id)
            .fetch_one(self.db.pool())
            .await,
        )?;
        let id = new_id();
        let claimed = match seen {
            None => sqlx::query(
                "INSERT INTO moderation_comments (id, account_id, platform, post_id, comment_id, state, seen_at) \
                 VALUES ($1, $2, $3, $4, $5, 'screening', $6) ON CONFLICT (account_id, comment_id) DO NOTHING",
            )
            .bind(&id)
            .bind(account_id)
            .bind(platform)
            .bind(post_id)
            .bind(comment_id)
            .bind(now.millis())
            .execute(self.db.pool())
            .await?
            .rows_affected(),
            Some(row) => {
                let state: String = row.try_get("state")?;
                let seen_at: i64 = row.try_get("seen_at")?;
                if state != "screening" || seen_at >= stale_before.millis() {
                    return Ok(None);
                }
                sqlx::query(
                    "UPDATE moderation_comments SET id = $1, seen_at = $2 WHERE account_id = $3 \
                     AND comment_id = $4 AND state = 'screening' AND seen_at < $5",
                )
                .bind(&id)
                .bind(now.millis())
                .bind(account_id)
                .bind(comment_id)
                .bind(stale_before.millis())
                .execute(self.db.pool())
                .await?
                .rows_affected()
            }
        };
        Ok((claimed == 1).then_some(id))
    }

    /// A claimed comment with nothing for a moderator: policy let everything
    /// in it through, or it is the account's own.
    pub async fn settle_clean(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE moderation_comments SET state = 'clean' WHERE id = $1 AND state = 'screening'")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Gives a claim back (its decision could not be recorded): it is screened again next time.
    pub async fn release(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM moderation_comments WHERE id = $1 AND state = 'screening'")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Holds a claimed comment for a moderator: its author and text sealed.
    pub async fn hold(&self, hold: &NewHold<'_>) -> Result<(), InboxError> {
        let plain = Zeroizing::new(serde_json::to_vec(hold.comment).unwrap_or_default());
        let sealed =
            self.keys.seal(&plain, &sealed::comment(hold.id)).map_err(|e| InboxError::Seal(e.to_string()))?;
        let findings = serde_json::to_string(hold.findings).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "UPDATE moderation_comments SET state = $1, verdict = $2, rule = $3, findings = $4, \
             sealed_comment = $5, reason = $6, audit_event_id = $7 WHERE id = $8 AND state = 'screening'",
        )
        .bind(hold.state.as_str())
        .bind(hold.verdict)
        .bind(hold.rule)
        .bind(findings)
        .bind(sealed)
        .bind(hold.reason)
        .bind(hold.audit_event_id)
        .bind(hold.id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<HeldComment>, sqlx::Error> {
        let row = optional(
            sqlx::query(&format!("SELECT {COLUMNS} FROM moderation_comments WHERE id = $1 AND {HELD}"))
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.as_ref().map(held).transpose()
    }

    /// Held comments, oldest first (the queue's order), at most `limit`.
    pub async fn list(&self, filter: &HeldFilter, limit: i64) -> Result<Vec<HeldComment>, sqlx::Error> {
        let mut sql = format!("SELECT {COLUMNS} FROM moderation_comments WHERE {HELD}");
        let mut binds: Vec<String> = Vec::new();
        if let Some(state) = filter.state {
            binds.push(state.as_str().to_owned());
            sql.push_str(&format!(" AND state = ${}", binds.len()));
        }
        if let Some(accounts) = &filter.accounts {
            if accounts.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = accounts
                .iter()
                .map(|a| {
                    binds.push(a.clone());
                    format!("${}", binds.len())
                })
                .collect();
            sql.push_str(&format!(" AND account_id IN ({})", marks.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY seen_at, id LIMIT ${}", binds.len() + 1));
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.bind(limit).fetch_all(self.db.pool()).await?;
        rows.iter().map(held).collect()
    }

    /// The held comment's author and text, opened (for a moderator); None
    /// once a moderator decided it.
    pub async fn open(&self, id: &str) -> Result<Option<CommentText>, InboxError> {
        let sealed: Option<Option<String>> = optional(
            sqlx::query_scalar("SELECT sealed_comment FROM moderation_comments WHERE id = $1")
                .bind(id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        let Some(Some(sealed)) = sealed else { return Ok(None) };
        let plain =
            self.keys.open(&sealed, &sealed::comment(id)).map_err(|e| InboxError::Seal(e.to_string()))?;
        serde_json::from_slice(&plain).map(Some).map_err(|e| InboxError::Seal(e.to_string()))
    }

    /// Moves a held comment from `from` to `to` if it is still in `from`;
    /// false otherwise (someone decided it first). `erase`: its sealed text
    /// is erased with it.
    #[allow(clippy::too_many_arguments, reason = "one UPDATE's columns")]
    pub async fn transition(
        &self,
        id: &str,
        from: HeldState,
        to: HeldState,
        by: Option<&str>,
        reason: Option<&str>,
        erase: bool,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let erased = if erase { ", sealed_comment = NULL" } else { "" };
        let done = sqlx::query(&format!(
            "UPDATE moderation_comments SET state = $1, decided_at = $2, decided_by = COALESCE($3, decided_by), \
             reason = COALESCE($4, reason){erased} WHERE id = $5 AND state = $6"
        ))
        .bind(to.as_str())
        .bind(by.map(|_| now.millis()))
        .bind(by)
        .bind(reason)
        .bind(id)
        .bind(from.as_str())
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes back a decision the platform could not carry out: the comment
    /// is `to` again, undecided, with its earlier `reason`.
    pub async fn reopen(
        &self,
        id: &str,
        from: HeldState,
        to: HeldState,
        reason: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE moderation_comments SET state = $1, decided_at = NULL, decided_by = NULL, reason = $2              WHERE id = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(reason)
        .bind(id)
        .bind(from.as_str())
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Erases a decided comment's sealed text.
    pub async fn erase(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE moderation_comments SET sealed_comment = NULL WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// What is known of one of the account's posts.
    pub async fn post(
        &self,
        account_id: &AccountId,
        post_id: &str,
    ) -> Result<Option<(PostState, Timestamp)>, sqlx::Error> {
        let row = optional(
            sqlx::query("SELECT state, seen_at FROM moderation_posts WHERE account_id = $1 AND post_id = $2")
                .bind(account_id)
                .bind(post_id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        row.map(|r| {
            Ok((PostState::parse(&r.try_get::<String, _>("state")?), Timestamp(r.try_get("seen_at")?)))
        })
        .transpose()
    }

    /// Notes a post seen for the first time (nothing if it is known).
    pub async fn note_post(&self, seen: &SeenPost<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO moderation_posts (account_id, post_id, state, url, created_at, seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, post_id) DO NOTHING",
        )
        .bind(seen.account_id)
        .bind(seen.post_id)
        .bind(seen.state.as_str())
        .bind(seen.url)
        .bind(seen.created_at)
        .bind(seen.now.millis())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Takes a pending post to flag it as made outside Custodian, once:
    /// false when it was flagged (or found in the journal) meanwhile.
    pub async fn claim_flag(
        &self,
        account_id: &AccountId,
        post_id: &str,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE moderation_posts SET state = 'unrecorded', flagged_at = $1 \
             WHERE account_id = $2 AND post_id = $3 AND state = 'pending'",
        )
        .bind(now.millis())
        .bind(account_id)
        .bind(post_id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The flag's `account.unrecorded_post` event, recorded.
    pub async fn flagged(
        &self,
        account_id: &AccountId,
        post_id: &str,
        audit_event_id: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE moderation_posts SET audit_event_id = $1 WHERE account_id = $2 AND post_id = $3")
            .bind(audit_event_id)
            .bind(account_id)
            .bind(post_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// A flag whose event could not be recorded: pending again, flagged next round.
    pub async fn unflag(&self, account_id: &AccountId, post_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE moderation_posts SET state = 'pending', flagged_at = NULL \
             WHERE account_id = $1 AND post_id = $2 AND state = 'unrecorded' AND audit_event_id IS NULL",
        )
        .bind(account_id)
        .bind(post_id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The account's newest posts the journal records, newest first.
    pub async fn recorded_posts(
        &self,
        account_id: &AccountId,
        limit: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT post_id FROM moderation_posts WHERE account_id = $1 AND state = 'recorded' \
             ORDER BY seen_at DESC, post_id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await
    }

    /// The posts flagged as made outside Custodian, newest first.
    pub async fn unrecorded(&self, limit: i64) -> Result<Vec<UnrecordedPost>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT p.account_id, a.platform, a.handle, p.post_id, p.url, p.created_at, p.seen_at, p.flagged_at, \
             p.audit_event_id FROM moderation_posts p JOIN accounts a ON a.id = p.account_id \
             WHERE p.state = 'unrecorded' ORDER BY p.flagged_at DESC, p.post_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UnrecordedPost {
                    account_id: r.try_get("account_id")?,
                    platform: r.try_get("platform")?,
                    handle: r.try_get("handle")?,
                    post_id: r.try_get("post_id")?,
                    url: r.try_get("url")?,
                    created_at: r.try_get("created_at")?,
                    seen_at: Timestamp(r.try_get("seen_at")?),
                    flagged_at: r.try_get::<Option<i64>, _>("flagged_at")?.map(Timestamp),
                    audit_event_id: r.try_get("audit_event_id")?,
                })
            })
            .collect()
    }

    /// Reads the journal's action outcomes not read yet, and notes each
    /// post or reply they say was created as recorded (a pending one too).
    /// Returns how many it noted.
    pub async fn read_journal(&self) -> Result<usize, sqlx::Error> {
        let mut noted = 0;
        loop {
            let after: i64 = optional(
                sqlx::query_scalar("SELECT seq FROM moderation_cursor WHERE name = $1")
                    .bind(JOURNAL_CURSOR)
                    .fetch_one(self.db.pool())
                    .await,
            )?
            .unwrap_or(0);
            let rows: Vec<(i64, i64, String)> = sqlx::query_as(
                "SELECT seq, time, body FROM audit_events WHERE seq > $1 AND action = 'action.outcome' \
                 AND body IS NOT NULL ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(JOURNAL_BATCH)
            .fetch_all(self.db.pool())
            .await?;
            let Some(last) = rows.last().map(|(seq, _, _)| *seq) else { return Ok(noted) };
            for (_, time, body) in &rows {
                if let Some((account_id, post_id)) = created(body) {
                    sqlx::query(
                        "INSERT INTO moderation_posts (account_id, post_id, state, seen_at) \
                         VALUES ($1, $2, 'recorded', $3) ON CONFLICT (account_id, post_id) \
                         DO UPDATE SET state = 'recorded' WHERE moderation_posts.state = 'pending'",
                    )
                    .bind(&account_id)
                    .bind(&post_id)
                    .bind(time)
                    .execute(self.db.pool())
                    .await?;
                    noted += 1;
                }
            }
            sqlx::query(
                "INSERT INTO moderation_cursor (name, seq) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET seq = $2 WHERE moderation_cursor.seq < $2",
            )
            .bind(JOURNAL_CURSOR)
            .bind(last)
            .execute(self.db.pool())
            .await?;
            if (rows.len() as i64) < JOURNAL_BATCH {
                return Ok(noted);
            }
        }
    }
}

/// Only comments held for a moderator (not those screened clean, or being screened).
const HELD: &str = "state IN ('hidden', 'queued', 'restored', 'kept_hidden')";

/// The account and post an `action.outcome` event says was created, if it
/// does: its `created` (an adapter's publication, or a pass-through create
/// call), or for an outcome recorded before that field, its `result`.
fn created(body: &str) -> Option<(String, String)> {
    let event: serde_json::Value = serde_json::from_str(body).ok()?;
    let kind = event.get("kind")?;
    if kind.get("ok")? != true {
        return None;
    }
    let post = match kind.get("created").and_then(|c| c.as_str()) {
        Some(post) => post,
        None => kind.get("result")?.as_str()?.strip_prefix("created ")?,
    };
    Some((kind.get("account_id")?.as_str()?.to_owned(), post.to_owned()))
}

fn held(r: &sqlx::any::AnyRow) -> Result<HeldComment, sqlx::Error> {
    let findings: Option<String> = r.try_get("findings")?;
    let findings = match findings {
        Some(f) => serde_json::from_str(&f).map_err(|e| sqlx::Error::Decode(e.into()))?,
        None => Vec::new(),
    };
    Ok(HeldComment {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        platform: r.try_get("platform")?,
        post_id: r.try_get("post_id")?,
        comment_id: r.try_get("comment_id")?,
        state: HeldState::parse(&r.try_get::<String, _>("state")?)?,
        verdict: r.try_get::<Option<String>, _>("verdict")?.unwrap_or_default(),
        rule: r.try_get::<Option<String>, _>("rule")?.unwrap_or_default(),
        findings,
        seen_at: Timestamp(r.try_get("seen_at")?),
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(Timestamp),
        decided_by: r.try_get("decided_by")?,
        reason: r.try_get("reason")?,
        audit_event_id: r.try_get::<Option<String>, _>("audit_event_id")?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_successful_creation_names_a_post() {
        let outcome = |ok: bool, result: &str| {
            serde_json::json!({"kind": {"type": "action_outcome", "account_id": "acct_1", "ok": ok, "result": result}})
                .to_string()
        };
        assert_eq!(created(&outcome(true, "created 123")), Some(("acct_1".into(), "123".into())));
        assert_eq!(created(&outcome(false, "created 123")), None);
        assert_eq!(created(&outcome(true, "done")), None);
        assert_eq!(created(&outcome(true, "listed 3 comments")), None);
        let forwarded = |ok: bool| {
            let kind = serde_json::json!({"account_id": "acct_1", "ok": ok, "result": "the platform answered 200", "created": "9"});
            serde_json::json!({"kind": kind}).to_string()
        };
        assert_eq!(created(&forwarded(true)), Some(("acct_1".into(), "9".into())), "a pass-through create");
        assert_eq!(created(&forwarded(false)), None);
        assert_eq!(created("not json"), None);
    }
}
