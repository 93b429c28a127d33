//! Inbound moderation: what others write on the organization's accounts,
//! and what the accounts post outside Custodian.
//!
//! ```text
//!  every poll_interval, for each active account (poller.rs):
//!    its recent posts (listed where the platform can, else the journal's)
//!      ─► each post not in the journal, past its grace ─► record
//!         account.unrecorded_post ─► webhook (background)
//!      ─► their comments, each screened once ─► policy's verdict (screen.cedar)
//!         allow ─► nothing
//!         hold | block ─► record comment.hidden (or comment.queued where the
//!           platform cannot hide) ─► store it sealed ─► hide it ─► action.outcome
//!
//!  a moderator (policy comment.moderate on the account):
//!    GET  /api/v1/moderation[?account=&state=]   the queue, never the text
//!    GET  /api/v1/moderation/{id}                the sealed text (comment.read)
//!    POST /api/v1/moderation/{id}/restore        record comment.restored ─► unhide
//!    POST /api/v1/moderation/{id}/keep           record comment.kept_hidden (─► hide)
//!      the sealed text erased once decided
//!
//!  custodian accounts audit ACCOUNT (audit.rs): every post the platform
//!    lists, screened; a decision per post recorded (account.audit.decision)
//! ```
//!
//! The journal never holds a comment's text or who wrote it: only a keyed
//! digest and the findings. Nothing reaches a platform before the decision
//! is recorded, and the platform is reached only through the dispatcher's
//! [`InboundCalls`] handle (the same adapters, credentials and rate limits as
//! every action).

mod audit;
mod poller;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::action::{ActionPath, Door, Gated, Kind, Refusal, Step};
use crate::audit::{Actor, EventKind, Journal, Receipt, RequestMeta};
use crate::auth::SessionPrincipal;
use crate::breakglass::{Notifier, Webhook};
use crate::clock::{SharedClock, Timestamp};
use crate::directory::DirectoryConfig;
use crate::domain::{Account, PolicyAction};
use crate::inbox::{CommentText, HeldComment, HeldFilter, HeldState, Inbox, UnrecordedPost};
use crate::platforms::accounts::Accounts;
use crate::platforms::dispatch::{DispatchError, InboundCalls};
use crate::platforms::Operation;
use crate::policy::{
    principal_of, Judgement, PolicyStore, Principal, RequestContext, Resource, ScreenContext,
};
use crate::screen::{Content, Origin, Report};

pub use audit::{AuditedPost, PostDecision};
pub use poller::Polled;

/// The most held comments (or unrecorded posts) one listing returns.
pub const LIST_LIMIT: i64 = 500;
const REASON_CHARS: usize = 2000;
/// The door policy sees for what the poller screens (`context.door`).
const DOOR: &str = "moderation";

/// `[moderation]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationConfig {
    /// Poll the accounts in the background (`custodian serve`).
    pub enabled: bool,
    /// How often each account's recent posts and their comments are read.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How many of an account's newest posts have their comments read.
    pub recent_posts: usize,
    /// How long a post the journal does not name may wait for its action's
    /// outcome to be recorded before it is flagged as made outside Custodian.
    #[serde(with = "humantime_serde")]
    pub unrecorded_after: Duration,
    /// Where each post made outside Custodian is POSTed as JSON: `https://`
    /// (plain http only on loopback). Empty: no notification.
    pub notify_url: Option<url::Url>,
    /// Bound on one delivery attempt, answer included.
    #[serde(with = "humantime_serde")]
    pub notify_timeout: Duration,
    /// Attempts before a notification counts as failed (1 to 10).
    pub notify_attempts: u32,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        ModerationConfig {
            enabled: true,
            poll_interval: Duration::from_secs(5 * 60),
            recent_posts: 10,
            unrecorded_after: Duration::from_secs(10 * 60),
            notify_url: None,
            notify_timeout: Duration::from_secs(10),
            notify_attempts: 3,
        }
    }
}

impl ModerationConfig {
    /// What is wrong with this configuration, for `Config::validate`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.poll_interval < Duration::from_secs(30) || self.poll_interval > Duration::from_secs(24 * 3600)
        {
            problems.push("moderation.poll_interval must be between 30s and 24h".to_owned());
        }
        if !(1..=100).contains(&self.recent_posts) {
            problems.push("moderation.recent_posts must be between 1 and 100".to_owned());
        }
        if self.unrecorded_after < Duration::from_secs(60) {
            problems.push("moderation.unrecorded_after must be at least 1m".to_owned());
        }
        problems.extend(self.webhook().problems("moderation"));
        problems
    }

    fn webhook(&self) -> Webhook {
        Webhook { url: self.notify_url.clone(), timeout: self.notify_timeout, attempts: self.notify_attempts }
    }
}

/// A held comment, with what it said for the moderator who may read it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldCommentDetail {
    #[serde(flatten)]
    pub comment: HeldComment,
    /// Who wrote it and what it said, as the platform gave them (the
    /// findings' offsets point into `text`); null once a moderator decided it.
    #[schema(required = true)]
    pub content: Option<CommentText>,
}

/// Why the poller or the account audit could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    #[error("there is no account {0:?}")]
    NoAccount(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Inbox(#[from] crate::inbox::InboxError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Moderation {
    inbox: Inbox,
    inbound: InboundCalls,
    accounts: Accounts,
    policies: Arc<PolicyStore>,
    path: Arc<ActionPath>,
    directory: DirectoryConfig,
    journal: Journal,
    clock: SharedClock,
    config: Arc<ModerationConfig>,
    notifier: Notifier,
}

/// What a moderator's decision did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommentDecision {
    pub comment: HeldComment,
    /// The `comment.restored` or `comment.kept_hidden` event.
    pub audit_event_id: String,
}

/// The services moderation is built on.
pub struct Parts {
    pub inbox: Inbox,
    pub inbound: InboundCalls,
    pub accounts: Accounts,
    pub policies: Arc<PolicyStore>,
    pub path: Arc<ActionPath>,
    pub directory: DirectoryConfig,
    pub journal: Journal,
    pub clock: SharedClock,
}

impl Moderation {
    pub const MODERATE: &'static str = PolicyAction::CommentModerate.as_str();

    pub fn new(parts: Parts, config: &ModerationConfig) -> Result<Moderation, reqwest::Error> {
        let notifier = Notifier::new(&config.webhook(), "unrecorded post", parts.journal.clone())?;
        let Parts { inbox, inbound, accounts, policies, path, directory, journal, clock } = parts;
        Ok(Moderation {
            inbox,
            inbound,
            accounts,
            policies,
            path,
            directory,
            journal,
            clock,
            config: Arc::new(config.clone()),
            notifier,
        })
    }

    /// The held comments `who` may moderate, oldest first: on `account`
    /// (policy `comment.moderate` on it, a refusal recorded), or on every
    /// account policy lets them moderate. Never the text.
    pub async fn list(
        &self,
        who: &SessionPrincipal,
        meta: &RequestMeta,
        account: Option<&str>,
        state: Option<HeldState>,
    ) -> Result<Vec<HeldComment>, Refusal> {
        let accounts = match account {
            Some(id) => {
                let caller = Gated::session(who, meta.clone(), Door::Api);
                let account = self.account_of(&caller, id).await?;
                self.path.permit(&caller, Self::MODERATE, Some(&account)).await?;
                vec![account.id.into_string()]
            }
            None => self.moderated_by(who).await?,
        };
        let filter = HeldFilter { accounts: Some(accounts), state };
        Ok(self.inbox.list(&filter, LIST_LIMIT).await?)
    }

    /// The accounts policy lets `who` moderate, asked without recording (a
    /// listing leaves out what it may not show; it refuses nothing). Outside
    /// break-glass: under it, a moderator names the account.
    async fn moderated_by(&self, who: &SessionPrincipal) -> Result<Vec<String>, Refusal> {
        let principal = principal_of(who.user(), who.access(), &self.directory);
        let age = who.session.mfa_verified_at.map(|t| (self.clock.now().millis() - t.millis()).max(0) / 1000);
        let context = RequestContext {
            mfa_age_seconds: age.unwrap_or(i64::MAX),
            break_glass: false,
            door: Door::Api.as_str().to_owned(),
            screen: None,
        };
        let policies = self.policies.current();
        Ok(self
            .accounts
            .list()
            .await?
            .into_iter()
            .filter(|a| policies.decide(&principal, Self::MODERATE, &Resource::from(a), &context).allowed)
            .map(|a| a.id.into_string())
            .collect())
    }

    /// One held comment and what it said, for a moderator (the read is recorded).
    pub async fn read(&self, caller: &Gated<'_>, id: &str) -> Result<HeldCommentDetail, Refusal> {
        let (comment, account) = self.item(caller, id).await?;
        let policies = self.path.permit(caller, Self::MODERATE, Some(&account)).await?;
        let content = self.inbox.open(id).await.map_err(stored)?;
        if content.is_some() {
            let kind = EventKind::CommentRead {
                moderation_id: id.to_owned(),
                account_id: comment.account_id.clone(),
                policies,
            };
            self.journal.record(caller.meta(), caller.actor().clone(), kind).await?;
        }
        Ok(HeldCommentDetail { comment, content })
    }

    /// A moderator restores a held comment: recorded, then shown again at
    /// the platform where it was hidden.
    pub async fn restore(
        &self,
        caller: &Gated<'_>,
        id: &str,
        reason: Option<&str>,
    ) -> Result<CommentDecision, Refusal> {
        let (comment, account, policies) = self.decidable(caller, id).await?;
        let reason = self.reason(caller, &account, reason, false).await?;
        let show = comment.state == HeldState::Hidden;
        let receipt = self.decide(caller, &comment, HeldState::Restored, &reason, policies).await?;
        if show {
            let done = self
                .inbound
                .unhide(&receipt, &account, &comment.comment_id, caller.meta(), caller.actor())
                .await;
            self.carried_out(
                caller,
                &comment,
                HeldState::Restored,
                &account,
                &receipt,
                "comment.unhide",
                done,
            )
            .await?;
        }
        self.decided(&comment, receipt).await
    }

    /// A moderator keeps a held comment hidden (a queued one is hidden now,
    /// where the platform can), with a reason.
    pub async fn keep(
        &self,
        caller: &Gated<'_>,
        id: &str,
        reason: Option<&str>,
    ) -> Result<CommentDecision, Refusal> {
        let (comment, account, policies) = self.decidable(caller, id).await?;
        let reason = self.reason(caller, &account, reason, true).await?;
        let hide =
            comment.state == HeldState::Queued && self.inbound.supports(&account, Operation::HideComment);
        let receipt = self.decide(caller, &comment, HeldState::KeptHidden, &reason, policies).await?;
        if hide {
            let done = self
                .inbound
                .hide(&receipt, &account, &comment.comment_id, caller.meta(), caller.actor())
                .await;
            self.carried_out(
                caller,
                &comment,
                HeldState::KeptHidden,
                &account,
                &receipt,
                "comment.hide",
                done,
            )
            .await?;
        }
        self.decided(&comment, receipt).await
    }

    /// The posts flagged as made outside Custodian, newest first.
    pub async fn unrecorded(&self) -> Result<Vec<UnrecordedPost>, sqlx::Error> {
        self.inbox.unrecorded(LIST_LIMIT).await
    }

    /// Records the decision (`to`), then stores it; the sealed text is
    /// erased now unless the platform is still to act.
    async fn decide(
        &self,
        caller: &Gated<'_>,
        comment: &HeldComment,
        to: HeldState,
        reason: &str,
        policies: Vec<String>,
    ) -> Result<Receipt, Refusal> {
        let kind = EventKind::CommentDecided {
            moderation_id: comment.id.clone(),
            account_id: comment.account_id.clone(),
            comment_id: comment.comment_id.clone(),
            decision: to.as_str().to_owned(),
            reason: reason.to_owned(),
            policies,
        };
        let receipt = self.journal.record(caller.meta(), caller.actor().clone(), kind).await?;
        let by = caller.user().id.as_str();
        let now = self.clock.now();
        if !self.inbox.transition(&comment.id, comment.state, to, Some(by), Some(reason), false, now).await? {
            return Err(conflict(&comment.id));
        }
        Ok(receipt)
    }

    /// Records what the platform did with a decision; if it failed, the
    /// comment waits for a moderator again, as it was.
    #[allow(clippy::too_many_arguments, reason = "the decision, and what came of it")]
    async fn carried_out(
        &self,
        caller: &Gated<'_>,
        comment: &HeldComment,
        decided: HeldState,
        account: &Account,
        receipt: &Receipt,
        action: &str,
        done: Result<(), DispatchError>,
    ) -> Result<(), Refusal> {
        self.outcome(caller.meta(), caller.actor(), account, receipt, action, &done).await;
        if let Err(e) = done {
            self.inbox.reopen(&comment.id, decided, comment.state, comment.reason.as_deref()).await?;
            return Err(Refusal::from_dispatch(e, receipt.event_id.clone(), self.clock.now()));
        }
        Ok(())
    }

    async fn decided(&self, comment: &HeldComment, receipt: Receipt) -> Result<CommentDecision, Refusal> {
        self.inbox.erase(&comment.id).await?;
        let comment = self.inbox.get(&comment.id).await?.ok_or_else(|| conflict(&comment.id))?;
        Ok(CommentDecision { comment, audit_event_id: receipt.event_id.into_string() })
    }

    /// `action.outcome` of a platform call made for a recorded decision.
    async fn outcome(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        account: &Account,
        receipt: &Receipt,
        action: &str,
        done: &Result<(), DispatchError>,
    ) {
        let kind = EventKind::ActionOutcome {
            action: action.to_owned(),
            account_id: account.id.to_string(),
            intent_event_id: receipt.event_id.to_string(),
            ok: done.is_ok(),
            result: match done {
                Ok(()) => "done".to_owned(),
                Err(e) => format!("failed: {e}"),
            },
            break_glass: None,
            created: None,
        };
        if let Err(e) = self.journal.record(meta, actor.clone(), kind).await {
            // The decision is recorded; the platform has acted. Say so loudly.
            tracing::error!(error = %e, decision = %receipt.event_id, "cannot record a moderation outcome");
        }
    }

    /// A held comment still waiting for a moderator, its account, and the
    /// policies that let `caller` decide it; every refusal recorded.
    async fn decidable(
        &self,
        caller: &Gated<'_>,
        id: &str,
    ) -> Result<(HeldComment, Account, Vec<String>), Refusal> {
        let (comment, account) = self.item(caller, id).await?;
        let policies = self.path.permit(caller, Self::MODERATE, Some(&account)).await?;
        if !comment.state.open() {
            let refusal = Refusal::conflict(format!(
                "held comment {} was already decided ({})",
                comment.id,
                comment.state.as_str()
            ));
            return Err(self.path.refuse(caller, Self::MODERATE, &comment.account_id, refusal).await);
        }
        Ok((comment, account, policies))
    }

    /// The held comment `id` and its account, or a recorded 404.
    async fn item(&self, caller: &Gated<'_>, id: &str) -> Result<(HeldComment, Account), Refusal> {
        let found = self.inbox.get(id).await?;
        let account = match &found {
            Some(c) => self.accounts.get(&c.account_id).await?,
            None => None,
        };
        match (found, account) {
            (Some(comment), Some(account)) => Ok((comment, account)),
            _ => {
                let mut refusal = Refusal::not_found("there is no held comment with that id".to_owned());
                refusal.remedy = "List the held comments at GET /api/v1/moderation.".into();
                Err(self.path.refuse(caller, Self::MODERATE, "custodian", refusal).await)
            }
        }
    }

    /// The account `id`, or a recorded 404.
    async fn account_of(&self, caller: &Gated<'_>, id: &str) -> Result<Account, Refusal> {
        match self.accounts.get(id).await? {
            Some(account) => Ok(account),
            None => {
                let refusal = Refusal::unknown_account(id);
                Err(self.path.refuse(caller, Self::MODERATE, "custodian", refusal).await)
            }
        }
    }

    /// A decision's reason: required to keep a comment hidden, at most 2000 characters.
    async fn reason(
        &self,
        caller: &Gated<'_>,
        account: &Account,
        reason: Option<&str>,
        required: bool,
    ) -> Result<String, Refusal> {
        let reason = reason.map(str::trim).unwrap_or("");
        let problem = if required && reason.is_empty() {
            Some("a reason is required to keep a comment hidden".to_owned())
        } else if reason.chars().count() > REASON_CHARS {
            Some(format!("the reason is longer than {REASON_CHARS} characters"))
        } else if reason.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
            Some("the reason contains control characters".to_owned())
        } else {
            None
        };
        match problem {
            None => Ok(reason.to_owned()),
            Some(p) => {
                Err(self.path.refuse(caller, Self::MODERATE, &account.id, Refusal::bad_request(p)).await)
            }
        }
    }

    /// What the content screen finds in `text` on `account`, and policy's
    /// verdict on it, as Custodian itself asks (the poller, the account audit).
    fn judge(&self, account: &Account, text: &str, origin: Origin) -> (Report, Judgement) {
        let policies = self.policies.current();
        let report = policies.screen().check(&Content { text, origin, media: false });
        let context =
            RequestContext { mfa_age_seconds: 0, break_glass: false, door: DOOR.to_owned(), screen: None };
        let judgement = policies.judge(
            &system_principal(),
            &Resource::from(account),
            &context,
            ScreenContext::of(&report, origin),
        );
        (report, judgement)
    }

    /// The webhook deliveries started so far have finished (delivered, or
    /// recorded as failed).
    pub async fn notifications_settled(&self) {
        self.notifier.settled().await;
    }
}

/// Custodian itself, as the journal names what it does on its own.
fn system() -> Actor {
    Actor { user_id: Some("custodian".into()), ..Actor::default() }
}

/// Custodian itself, as policy sees it when it judges what it screened.
fn system_principal() -> Principal {
    Principal { id: "custodian".into(), training_current: true, ..Principal::default() }
}

fn conflict(id: &str) -> Refusal {
    Refusal::conflict(format!("held comment {id} was decided meanwhile"))
}

/// The store failing to seal or open is ours, not the caller's.
fn stored(e: crate::inbox::InboxError) -> Refusal {
    tracing::error!(error = %e, "the moderation store failed");
    Refusal::new(
        Kind::Internal,
        Step::Execute,
        "moderation-store",
        "something went wrong on our side".into(),
        "Retry; if it persists, tell your Custodian administrator.",
    )
}

/// A time as a platform writes it: RFC 3339, or the Graph API's
/// `2024-05-01T10:00:00+0000`.
fn platform_time(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text).or_else(|| {
        chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
            .ok()
            .map(|t| Timestamp(t.timestamp_millis()))
    })
}

/// The policies that decided, comma-separated, or `fallback` when none did.
fn rule_of(judgement: &Judgement, fallback: &str) -> String {
    if judgement.policies.is_empty() {
        fallback.to_owned()
    } else {
        judgement.policies.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_write_times_two_ways() {
        let t = platform_time("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(platform_time("2024-05-01T10:00:00+0000"), Some(t));
        assert_eq!(platform_time("2024-05-01T12:00:00.000+02:00"), Some(t));
        assert_eq!(platform_time("yesterday"), None);
    }

    #[test]
    fn the_configuration_is_bounded_and_the_webhook_https_or_loopback() {
        assert!(ModerationConfig::default().problems().is_empty());
        let with = |f: fn(&mut ModerationConfig)| {
            let mut c = ModerationConfig::default();
            f(&mut c);
            c.problems()
        };
        assert_eq!(with(|c| c.poll_interval = Duration::from_secs(1)).len(), 1);
        assert_eq!(with(|c| c.recent_posts = 0).len(), 1);
        assert_eq!(with(|c| c.unrecorded_after = Duration::ZERO).len(), 1);
        assert_eq!(with(|c| c.notify_attempts = 11).len(), 1);
        let plain = with(|c| c.notify_url = url::Url::parse("http://alerts.example.org/hook").ok());
        assert!(plain[0].contains("moderation.notify_url"), "{plain:?}");
    }
}
