//! Carrying out one authorized operation on a connected account: the account must be
//! active; its credential is opened from the vault (renewed first if it is
//! about to expire) only for the call; a platform saying the token expired
//! renews it once and retries (a pass-through answer only when the platform
//! says so in its own words, and at most once a minute per account). A
//! pass-through answer holding any of the account's credentials is
//! withheld and recorded (`proxy.credential_withheld`).
//! A credential that cannot be opened stops the action before anything is
//! sent, and is recorded. Callers record the action itself before calling
//! [`Dispatcher::run`] (nothing reaches a platform unaudited).
//!
//! Inbound moderation reaches platforms through the same adapters,
//! credentials, renewals and rate limits, but only through [`InboundCalls`]: it
//! reads an account's posts and their comments, and hides or shows a
//! comment only given the journal's receipt of the decision to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::audit::{Actor, AuditError, EventKind, Journal, Receipt, RequestMeta};
use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Account, AccountId, Status};
use crate::domain::{Action, Forward};
use crate::platforms::adapter::{Adapter, Renewal};
use crate::platforms::config::PlatformsConfig;
use crate::platforms::forward::{Forwarded, Forwarder};
use crate::platforms::refresh::{RefreshError, Refresher};
use crate::platforms::{withhold, Call, Comment, Operation, PlatformApi, PlatformError, PostPage, Published};
use crate::secret::Secret;
use crate::storage::Db;
use crate::vault::credentials::{CredentialKind, Credentials, VaultError};

/// What the platform did.
#[derive(Debug)]
pub enum Outcome {
    Published(Published),
    Comments(Vec<Comment>),
    Done,
    /// The platform's own answer to a pass-through request, to stream back.
    Forwarded(Box<Forwarded>),
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the account cannot be used ({status}): {reason}")]
    NotActive { status: &'static str, reason: String },
    /// Damaged ciphertext, or sealed with a key not in the ring: nothing was sent.
    #[error("the account's credential could not be opened, so nothing was sent: {0}")]
    Credential(String),
    /// A pass-through answer held one of the account's credentials.
    #[error("the platform's answer held the account's credential (in its {found_in}), so it was withheld")]
    CredentialInAnswer { found_in: String },
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The token endpoint could not be reached; try later.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

pub struct Dispatcher {
    config: PlatformsConfig,
    db: Db,
    clock: SharedClock,
    credentials: Credentials,
    refresher: Arc<Refresher>,
    journal: Journal,
    /// One adapter (and token renewal) per account, built once: what a
    /// platform said of its rate limits holds for every later call on that
    /// account, and no call builds an HTTP client.
    adapters: Mutex<HashMap<AccountId, Arc<Prepared>>>,
}

/// What one call to a platform is: an action, or one of moderation's
/// operations that are no action of the path's.
enum Op<'a> {
    Action(&'a Action),
    Posts(Option<&'a str>),
    Unhide(&'a str),
}

/// What a platform answered an [`Op`].
enum Done {
    Outcome(Outcome),
    Posts(PostPage),
}

struct Prepared {
    adapter: Adapter,
    renewal: Renewal,
    /// For pass-through requests; None where the platform has no HTTP API (the sandbox).
    forwarder: Option<Forwarder>,
}

impl Dispatcher {
    pub fn new(
        config: PlatformsConfig,
        db: Db,
        clock: SharedClock,
        credentials: Credentials,
        refresher: Arc<Refresher>,
        journal: Journal,
    ) -> Self {
        Dispatcher {
            config,
            db,
            clock,
            credentials,
            refresher,
            journal,
            adapters: Mutex::new(HashMap::new()),
        }
    }

    fn prepared(&self, account: &Account) -> Result<Arc<Prepared>, PlatformError> {
        let mut adapters = self.adapters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = adapters.get(&account.id) {
            return Ok(a.clone());
        }
        let adapter = Adapter::for_account(account, &self.config, &self.db, &self.clock)?;
        let base = adapter.base().cloned();
        let forwarder = base.map(|b| Forwarder::new(b, account.platform)).transpose()?;
        let renewal = Renewal::for_account(account, &self.config, &self.credentials)?;
        let prepared = Arc::new(Prepared { adapter, renewal, forwarder });
        adapters.insert(account.id.clone(), prepared.clone());
        Ok(prepared)
    }

    /// Carries out `action` on `account`, given the journal's receipt of
    /// its recorded intent. Only the action path calls this, once the
    /// action is authorized and its intent recorded: nothing reaches a
    /// platform around policy and audit.
    pub async fn run(
        &self,
        intent: &Receipt,
        account: &Account,
        action: &Action,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<Outcome, DispatchError> {
        tracing::debug!(intent = %intent.event_id, account = %account.id, "carrying out a recorded action");
        match self.call(account, Op::Action(action), meta, actor).await? {
            Done::Outcome(outcome) => Ok(outcome),
            Done::Posts(_) => Err(DispatchError::Unavailable("the platform answered another call".into())),
        }
    }

    /// One call on an active account, with its credential (renewed once
    /// if the platform says it expired).
    async fn call(
        &self,
        account: &Account,
        op: Op<'_>,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<Done, DispatchError> {
        let account_id = &account.id;
        if account.status != Status::Active {
            let reason =
                account.status_reason.clone().unwrap_or_else(|| "an admin must connect it again".into());
            return Err(DispatchError::NotActive { status: account.status.as_str(), reason });
        }
        let prepared = self.prepared(account)?;
        let (adapter, renewal) = (&prepared.adapter, &prepared.renewal);
        let now = self.clock.now();
        let Some(kind) = adapter.credential() else {
            let none = Secret::new(String::new());
            return Ok(perform(&prepared, &Call { account_id, token: &none }, &op, now).await?);
        };
        let opened = match kind {
            CredentialKind::AccessToken => self.refresher.access_token(account_id, renewal).await,
            other => self.credentials.open(account_id, other).await.map_err(RefreshError::from),
        };
        let mut token = self.usable(account_id, opened, meta, actor).await?;
        let mut result = perform(&prepared, &Call { account_id, token: &token }, &op, now).await;
        let expired = match &result {
            Err(PlatformError::TokenInvalid { message }) => Some(message.clone()),
            Ok(Done::Outcome(Outcome::Forwarded(f))) if f.token_expired => {
                Some(format!("the platform answered {} saying the token has expired", f.status))
            }
            _ => None,
        };
        if let Some(message) = expired {
            // Renew once (another call may already have), then try again.
            let renewed = match kind {
                CredentialKind::AccessToken => {
                    self.refresher.after_unauthorized(account_id, &token, renewal).await
                }
                _ => Err(self.refresher.needs_reconnect(account_id, message).await),
            };
            match renewed {
                // Renewed a moment ago: this refusal is the platform's answer, not a stale token.
                Err(RefreshError::RenewedRecently) => {}
                renewed => {
                    token = self.usable(account_id, renewed, meta, actor).await?;
                    let now = self.clock.now();
                    result = perform(&prepared, &Call { account_id, token: &token }, &op, now).await;
                }
            }
        }
        let done = result?;
        if let (Done::Outcome(Outcome::Forwarded(answer)), Op::Action(Action::Forward(forward))) =
            (&done, &op)
        {
            self.withhold_credentials(account_id, &token, answer, forward, meta, actor).await?;
        }
        Ok(done)
    }

    /// Whether the account's platform offers `op` (false when its adapter cannot be built).
    fn supports(&self, account: &Account, op: Operation) -> bool {
        self.prepared(account).is_ok_and(|p| p.adapter.supports(op))
    }

    /// The handle moderation holds: reading, and hiding or showing a
    /// comment on the record, through these adapters.
    pub fn inbound(self: &Arc<Self>) -> InboundCalls {
        InboundCalls { dispatcher: self.clone() }
    }

    /// Refuses a pass-through answer that holds any of the account's
    /// credentials (or the one the call carried), recording where it was.
    async fn withhold_credentials(
        &self,
        account_id: &AccountId,
        carried: &Secret,
        answer: &Forwarded,
        forward: &Forward,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<(), DispatchError> {
        let stored = self.credentials.open_all(account_id).await;
        let stored = self.usable(account_id, stored.map_err(RefreshError::from), meta, actor).await?;
        let secrets: Vec<&Secret> = std::iter::once(carried).chain(&stored).collect();
        let Some(found_in) = withhold::find(answer, &secrets) else { return Ok(()) };
        tracing::warn!(account = account_id.as_str(), found_in = %found_in, "a platform's answer held the account's credential; withheld");
        let kind = EventKind::ProxyCredentialWithheld {
            account_id: account_id.to_string(),
            action: forward.action.to_string(),
            target: forward.target(),
            platform_status: answer.status,
            found_in: found_in.clone(),
        };
        self.journal.record(meta, actor.clone(), kind).await?;
        Err(DispatchError::CredentialInAnswer { found_in })
    }

    /// The opened token, or the refusal: an unreadable credential is recorded.
    async fn usable<T>(
        &self,
        account_id: &AccountId,
        opened: Result<T, RefreshError>,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<T, DispatchError> {
        match opened {
            Ok(token) => Ok(token),
            Err(RefreshError::Vault(VaultError::Storage(e)) | RefreshError::Storage(e)) => Err(e.into()),
            Err(RefreshError::Vault(e)) => {
                let reason = e.to_string();
                tracing::error!(account = account_id.as_str(), reason = %reason, "a credential could not be opened; nothing was sent");
                let kind = EventKind::CredentialUnreadable { account_id: account_id.to_string(), reason };
                self.journal.record(meta, actor.clone(), kind).await?;
                Err(DispatchError::Credential(e.to_string()))
            }
            Err(RefreshError::NeedsReconnect(reason)) => {
                Err(DispatchError::NotActive { status: Status::NeedsReconnect.as_str(), reason })
            }
            Err(RefreshError::Unavailable(why)) => Err(DispatchError::Unavailable(why)),
            Err(e @ RefreshError::RenewedRecently) => Err(DispatchError::Unavailable(e.to_string())),
            Err(RefreshError::Audit(e)) => Err(e.into()),
        }
    }
}

async fn perform(
    prepared: &Prepared,
    call: &Call<'_>,
    op: &Op<'_>,
    now: Timestamp,
) -> Result<Done, PlatformError> {
    let adapter = &prepared.adapter;
    let action = match op {
        Op::Action(action) => action,
        Op::Posts(page) => return Ok(Done::Posts(adapter.posts(call, *page).await?)),
        Op::Unhide(comment_id) => {
            adapter.unhide_comment(call, comment_id).await?;
            return Ok(Done::Outcome(Outcome::Done));
        }
    };
    Ok(Done::Outcome(match action {
        Action::Publish(post) => Outcome::Published(adapter.publish(call, post).await?),
        Action::Delete { post_id } => {
            adapter.delete(call, post_id).await?;
            Outcome::Done
        }
        Action::Reply { in_reply_to, post } => {
            Outcome::Published(adapter.reply(call, in_reply_to, post).await?)
        }
        Action::Comments { post_id } => Outcome::Comments(adapter.comments(call, post_id).await?),
        Action::HideComment { comment_id } => {
            adapter.hide_comment(call, comment_id).await?;
            Outcome::Done
        }
        Action::DeleteComment { comment_id } => {
            adapter.delete_comment(call, comment_id).await?;
            Outcome::Done
        }
        Action::Forward(forward) => {
            let unsupported = PlatformError::Unsupported { operation: "pass-through", platform: "sandbox" };
            let forwarder = prepared.forwarder.as_ref().ok_or(unsupported.clone())?;
            let (limits, read_limits) = adapter.rate().ok_or(unsupported)?;
            let mut answer = forwarder.send(forward, call, limits, read_limits, now).await?;
            if (200..300).contains(&answer.status) {
                answer.created = adapter.created_through(forward, &answer);
            }
            Outcome::Forwarded(Box::new(answer))
        }
    }))
}

/// Inbound moderation's way to an account's platform, through the
/// dispatcher's adapters (so the platform's rate limits, the credential's
/// renewal and its recorded failures are the actions' own): it reads the
/// account's posts and their comments, and hides a comment, or shows it
/// again, only given the journal's receipt of that decision. It cannot
/// publish, delete or pass anything through.
#[derive(Clone)]
pub struct InboundCalls {
    dispatcher: Arc<Dispatcher>,
}

impl InboundCalls {
    /// Whether the account's platform offers `op`.
    pub fn supports(&self, account: &Account, op: Operation) -> bool {
        self.dispatcher.supports(account, op)
    }

    /// A page of the account's own posts, newest first.
    pub async fn posts(
        &self,
        account: &Account,
        page: Option<&str>,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<PostPage, DispatchError> {
        match self.dispatcher.call(account, Op::Posts(page), meta, actor).await? {
            Done::Posts(page) => Ok(page),
            Done::Outcome(_) => Ok(PostPage::default()),
        }
    }

    /// The comments on one of the account's posts.
    pub async fn comments(
        &self,
        account: &Account,
        post_id: &str,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<Vec<Comment>, DispatchError> {
        let action = Action::Comments { post_id: post_id.to_owned() };
        match self.dispatcher.call(account, Op::Action(&action), meta, actor).await? {
            Done::Outcome(Outcome::Comments(comments)) => Ok(comments),
            _ => Ok(Vec::new()),
        }
    }

    /// Hides a comment, once `decision` (the journal's receipt of the
    /// decision to hide it) is recorded.
    pub async fn hide(
        &self,
        decision: &Receipt,
        account: &Account,
        comment_id: &str,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<(), DispatchError> {
        tracing::debug!(decision = %decision.event_id, account = %account.id, "hiding a comment");
        let action = Action::HideComment { comment_id: comment_id.to_owned() };
        self.dispatcher.call(account, Op::Action(&action), meta, actor).await.map(|_| ())
    }

    /// Shows a hidden comment again, once `decision` is recorded.
    pub async fn unhide(
        &self,
        decision: &Receipt,
        account: &Account,
        comment_id: &str,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<(), DispatchError> {
        tracing::debug!(decision = %decision.event_id, account = %account.id, "showing a comment again");
        self.dispatcher.call(account, Op::Unhide(comment_id), meta, actor).await.map(|_| ())
    }
}
