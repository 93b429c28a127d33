//! The background poller: every `moderation.poll_interval`, each active
//! account's recent posts are read (listed, where the platform can; else
//! the newest the journal records), each post the journal does not name is
//! flagged once it is past its grace, and every comment on them is
//! screened, once. It never stops on one account's failure: that account
//! waits for the next round (a platform's rate limit holds it back here
//! until its reset, as for every call).

use serde::Serialize;

use crate::audit::{EventKind, RequestMeta};
use crate::domain::{Account, Status, Verdict};
use crate::inbox::{HeldState, NewHold, PostState, SeenPost};
use crate::platforms::dispatch::DispatchError;
use crate::platforms::{AccountPost, Comment, Operation, PlatformError};
use crate::screen::Origin;

use super::{platform_time, rule_of, system, Moderation, ModerationError};

/// A claim older than this is its poller's that stopped: taken over.
const STALE_CLAIM: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// What one round found.
#[derive(Debug, Default, Clone)]
pub struct Polled {
    pub accounts: usize,
    /// Comments screened for the first time.
    pub screened: usize,
    pub hidden: usize,
    pub queued: usize,
    /// Posts flagged as made outside Custodian.
    pub unrecorded: usize,
    /// Accounts that could not be read this round.
    pub failed: usize,
}

/// What became of one comment.
enum Seen {
    Before,
    Clean,
    Hidden,
    Queued,
}

/// What the webhook is told of a post made outside Custodian (never its text).
#[derive(Serialize)]
struct UnrecordedNotice<'a> {
    /// Always `account.unrecorded_post`.
    event: &'static str,
    account_id: &'a str,
    platform: &'a str,
    handle: &'a str,
    post_id: &'a str,
    url: Option<&'a str>,
    created_at: Option<&'a str>,
    /// What the content screen found in it (kinds only, never the text).
    findings: Vec<&'static str>,
    /// The `account.unrecorded_post` event.
    audit_event_id: String,
}

impl Moderation {
    /// Polls every `poll_interval` in a task of its own, while the process runs.
    pub fn spawn_poller(&self) {
        if !self.config.enabled {
            tracing::info!("inbound moderation is off (moderation.enabled = false)");
            return;
        }
        let moderation = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(moderation.config.poll_interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match moderation.poll_once().await {
                    Ok(p) => tracing::info!(
                        accounts = p.accounts,
                        screened = p.screened,
                        hidden = p.hidden,
                        queued = p.queued,
                        unrecorded = p.unrecorded,
                        failed = p.failed,
                        "inbound moderation round"
                    ),
                    Err(e) => tracing::error!(error = %e, "inbound moderation round failed"),
                }
            }
        });
    }

    /// One round over every active account.
    pub async fn poll_once(&self) -> Result<Polled, ModerationError> {
        self.inbox.read_journal().await?;
        let mut polled = Polled::default();
        for account in self.accounts.list().await? {
            if account.status != Status::Active {
                continue;
            }
            polled.accounts += 1;
            if let Err(e) = self.poll_account(&account, &mut polled).await {
                polled.failed += 1;
                match e {
                    ModerationError::Audit(e) => return Err(e.into()),
                    e => {
                        tracing::warn!(account = %account.id, error = %e, "an account's comments could not be read")
                    }
                }
            }
        }
        Ok(polled)
    }

    async fn poll_account(&self, account: &Account, polled: &mut Polled) -> Result<(), ModerationError> {
        let (meta, actor) = (RequestMeta::default(), system());
        let recent = self.config.recent_posts;
        let posts: Vec<String> = if self.inbound.supports(account, Operation::ListPosts) {
            let page = self.inbound.posts(account, None, &meta, &actor).await?;
            for post in &page.posts {
                if self.check_recorded(account, post).await? {
                    polled.unrecorded += 1;
                }
            }
            page.posts.into_iter().filter(|p| p.in_reply_to.is_none()).take(recent).map(|p| p.id).collect()
        } else {
            self.inbox.recorded_posts(&account.id, recent as i64).await?
        };
        if !self.inbound.supports(account, Operation::ListComments) {
            return Ok(());
        }
        for post in posts {
            let comments = match self.inbound.comments(account, &post, &meta, &actor).await {
                Ok(comments) => comments,
                // Gone (deleted at the platform), or not a post whose comments it lists.
                Err(DispatchError::Platform(
                    PlatformError::Validation { .. } | PlatformError::BadRequest(_),
                )) => continue,
                Err(e) => return Err(e.into()),
            };
            for comment in comments {
                match self.screen_comment(account, &post, &comment).await? {
                    Seen::Before => {}
                    Seen::Clean => polled.screened += 1,
                    Seen::Hidden => {
                        polled.screened += 1;
                        polled.hidden += 1;
                    }
                    Seen::Queued => {
                        polled.screened += 1;
                        polled.queued += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the comment is the account's own (a reply it made), which
    /// the screen read before it went out.
    async fn own(&self, account: &Account, comment: &Comment) -> Result<bool, ModerationError> {
        if comment.author == account.handle || comment.author == account.external_id {
            return Ok(true);
        }
        Ok(matches!(self.inbox.post(&account.id, &comment.id).await?, Some((PostState::Recorded, _))))
    }

    /// Screens a comment not seen before; what policy holds or blocks is
    /// recorded, then stored sealed, then hidden where the platform can.
    async fn screen_comment(
        &self,
        account: &Account,
        post: &str,
        comment: &Comment,
    ) -> Result<Seen, ModerationError> {
        let now = self.clock.now();
        let stale = crate::clock::Timestamp(now.millis() - STALE_CLAIM.as_millis() as i64);
        let platform = account.platform.as_str();
        let Some(id) = self.inbox.claim(&account.id, platform, post, &comment.id, now, stale).await? else {
            return Ok(Seen::Before);
        };
        if self.own(account, comment).await? {
            self.inbox.settle_clean(&id).await?;
            return Ok(Seen::Before);
        }
        let (report, judgement) = self.judge(account, &comment.text, Origin::Comment);
        if judgement.verdict == Verdict::Allow {
            self.inbox.settle_clean(&id).await?;
            return Ok(Seen::Clean);
        }
        let hide = self.inbound.supports(account, Operation::HideComment);
        let reason = (!hide).then(|| format!("{platform} offers no way to hide a comment"));
        let rule = rule_of(&judgement, "screen-no-release");
        let kind = EventKind::CommentHeld {
            moderation_id: id.clone(),
            account_id: account.id.to_string(),
            platform: platform.to_owned(),
            post_id: post.to_owned(),
            comment_id: comment.id.clone(),
            verdict: judgement.verdict.as_str().to_owned(),
            rule: rule.clone(),
            hidden: hide,
            reason: reason.clone(),
            content: self.journal.withheld(&comment.text, &report.findings),
        };
        let (meta, actor) = (RequestMeta::default(), system());
        let receipt = match self.journal.record(&meta, actor.clone(), kind).await {
            Ok(receipt) => receipt,
            Err(e) => {
                // Not recorded, so not held: screened again next round.
                self.inbox.release(&id).await?;
                return Err(e.into());
            }
        };
        let text = crate::inbox::CommentText { author: comment.author.clone(), text: comment.text.clone() };
        let hold = NewHold {
            id: &id,
            state: if hide { HeldState::Hidden } else { HeldState::Queued },
            verdict: judgement.verdict.as_str(),
            rule: &rule,
            findings: &report.findings,
            comment: &text,
            reason: reason.as_deref(),
            audit_event_id: receipt.event_id.as_ref(),
        };
        self.inbox.hold(&hold).await?;
        if !hide {
            return Ok(Seen::Queued);
        }
        let done = self.inbound.hide(&receipt, account, &comment.id, &meta, &actor).await;
        self.outcome(&meta, &actor, account, &receipt, "comment.hide", &done).await;
        match done {
            Ok(()) => Ok(Seen::Hidden),
            Err(e) => {
                let why = format!("hiding it failed: {e}");
                tracing::warn!(account = %account.id, moderation = %id, error = %e, "a held comment could not be hidden; queued");
                self.inbox
                    .transition(&id, HeldState::Hidden, HeldState::Queued, None, Some(&why), false, now)
                    .await?;
                Ok(Seen::Queued)
            }
        }
    }

    /// Notes one of the account's own posts; flags it (true) when the
    /// journal has not named it within `unrecorded_after` of first seeing it.
    async fn check_recorded(&self, account: &Account, post: &AccountPost) -> Result<bool, ModerationError> {
        let now = self.clock.now();
        let seen_at = match self.inbox.post(&account.id, &post.id).await? {
            Some((PostState::Pending, seen_at)) => seen_at,
            Some(_) => return Ok(false),
            None => {
                let earlier = post
                    .created_at
                    .as_deref()
                    .and_then(platform_time)
                    .is_some_and(|created| created < account.created_at);
                let seen = SeenPost {
                    account_id: &account.id,
                    post_id: &post.id,
                    state: if earlier { PostState::Earlier } else { PostState::Pending },
                    url: post.url.as_deref(),
                    created_at: post.created_at.as_deref(),
                    now,
                };
                self.inbox.note_post(&seen).await?;
                now
            }
        };
        if now < seen_at.plus(self.config.unrecorded_after) {
            return Ok(false);
        }
        // The journal again, in case its outcome was recorded since.
        self.inbox.read_journal().await?;
        if !self.inbox.claim_flag(&account.id, &post.id, now).await? {
            return Ok(false);
        }
        let (report, _) = self.judge(account, &post.text, Origin::Post);
        let kind = EventKind::UnrecordedPost {
            account_id: account.id.to_string(),
            platform: account.platform.to_string(),
            post_id: post.id.clone(),
            url: post.url.clone(),
            created_at: post.created_at.clone(),
            content: self.journal.withheld(&post.text, &report.findings),
        };
        let receipt = match self.journal.record(&RequestMeta::default(), system(), kind).await {
            Ok(receipt) => receipt,
            Err(e) => {
                self.inbox.unflag(&account.id, &post.id).await?;
                return Err(e.into());
            }
        };
        self.inbox.flagged(&account.id, &post.id, receipt.event_id.as_ref()).await?;
        tracing::warn!(account = %account.id, post = %post.id, "a post made outside Custodian");
        let notice = UnrecordedNotice {
            event: "account.unrecorded_post",
            account_id: account.id.as_str(),
            platform: account.platform.as_str(),
            handle: &account.handle,
            post_id: &post.id,
            url: post.url.as_deref(),
            created_at: post.created_at.as_deref(),
            findings: report.kinds(),
            audit_event_id: receipt.event_id.to_string(),
        };
        let notice = serde_json::to_value(notice).unwrap_or_default();
        let (account_id, post_id) = (account.id.to_string(), post.id.clone());
        self.notifier.send(format!("{account_id} {post_id}"), notice, move |attempts, reason| {
            EventKind::UnrecordedPostNotifyFailed { account_id, post_id, attempts, reason }
        });
        Ok(true)
    }
}
