//! Carrying out one authorized operation on a connected account: the account must be
//! active; its credential is opened from the vault (renewed first if it is
//! about to expire) only for the call; a 401 renews it once and retries.
//! A credential that cannot be opened stops the action before anything is
//! sent, and is recorded. Callers record the action itself before calling
//! [`Dispatcher::run`] (nothing reaches a platform unaudited).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::action::Authorized;
use crate::audit::{Actor, AuditError, EventKind, Journal, RequestMeta};
use crate::clock::SharedClock;
use crate::platforms::accounts::{Account, Status};
use crate::platforms::adapter::{Adapter, Renewal};
use crate::platforms::config::PlatformsConfig;
use crate::platforms::forward::{Forward, Forwarded, Forwarder};
use crate::platforms::{Call, Comment, NewPost, Platform, PlatformError, Published};
use crate::secret::Secret;
use crate::storage::Db;
use crate::vault::credentials::{Credentials, Kind, VaultError};
use crate::vault::refresh::{RefreshError, Refresher};

/// What to do on the platform.
#[derive(Debug, Clone)]
pub enum Action {
    Publish(NewPost),
    Delete {
        post_id: String,
    },
    Reply {
        in_reply_to: String,
        post: NewPost,
    },
    Comments {
        post_id: String,
    },
    HideComment {
        comment_id: String,
    },
    DeleteComment {
        comment_id: String,
    },
    /// A pass-through request, as the proxy's route table named it.
    Forward(Box<Forward>),
}

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
    adapters: Mutex<HashMap<String, Arc<Prepared>>>,
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
        let forwarder = adapter.base().cloned().map(Forwarder::new).transpose()?;
        let renewal = Renewal::for_account(account, &self.config, &self.credentials)?;
        let prepared = Arc::new(Prepared { adapter, renewal, forwarder });
        adapters.insert(account.id.clone(), prepared.clone());
        Ok(prepared)
    }

    /// Carries out what the action path authorized (only it makes an
    /// [`Authorized`]: nothing reaches a platform around policy and audit).
    pub async fn run(
        &self,
        authorized: &Authorized,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<Outcome, DispatchError> {
        let (account, action) = (authorized.account(), authorized.action());
        let account_id = account.id.as_str();
        if account.status != Status::Active {
            let reason =
                account.status_reason.clone().unwrap_or_else(|| "an admin must connect it again".into());
            return Err(DispatchError::NotActive { status: account.status.as_str(), reason });
        }
        let prepared = self.prepared(account)?;
        let (adapter, renewal) = (&prepared.adapter, &prepared.renewal);
        let Some(kind) = adapter.credential() else {
            let none = Secret::new(String::new());
            return Ok(perform(&prepared, &Call { account_id, token: &none }, action).await?);
        };
        let opened = match kind {
            Kind::AccessToken => self.refresher.access_token(account_id, renewal).await,
            other => self.credentials.open(account_id, other).await.map_err(RefreshError::from),
        };
        let token = self.usable(account_id, opened, meta, actor).await?;
        match perform(&prepared, &Call { account_id, token: &token }, action).await {
            Err(PlatformError::TokenInvalid { message }) => {
                // Renew once (another call may already have), then try again.
                let renewed = match kind {
                    Kind::AccessToken => self.refresher.after_unauthorized(account_id, &token, renewal).await,
                    _ => Err(self.refresher.needs_reconnect(account_id, message).await),
                };
                let token = self.usable(account_id, renewed, meta, actor).await?;
                Ok(perform(&prepared, &Call { account_id, token: &token }, action).await?)
            }
            other => Ok(other?),
        }
    }

    /// The opened token, or the refusal: an unreadable credential is recorded.
    async fn usable(
        &self,
        account_id: &str,
        opened: Result<Secret, RefreshError>,
        meta: &RequestMeta,
        actor: &Actor,
    ) -> Result<Secret, DispatchError> {
        match opened {
            Ok(token) => Ok(token),
            Err(RefreshError::Vault(VaultError::Storage(e)) | RefreshError::Storage(e)) => Err(e.into()),
            Err(RefreshError::Vault(e)) => {
                let reason = e.to_string();
                tracing::error!(account = account_id, reason = %reason, "a credential could not be opened; nothing was sent");
                let kind = EventKind::CredentialUnreadable { account_id: account_id.to_owned(), reason };
                self.journal.record(meta, actor.clone(), kind).await?;
                Err(DispatchError::Credential(e.to_string()))
            }
            Err(RefreshError::NeedsReconnect(reason)) => {
                Err(DispatchError::NotActive { status: Status::NeedsReconnect.as_str(), reason })
            }
            Err(RefreshError::Unavailable(why)) => Err(DispatchError::Unavailable(why)),
            Err(RefreshError::Audit(e)) => Err(e.into()),
        }
    }
}

async fn perform(prepared: &Prepared, call: &Call<'_>, action: &Action) -> Result<Outcome, PlatformError> {
    let adapter = &prepared.adapter;
    Ok(match action {
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
            let forwarder = prepared.forwarder.as_ref().ok_or(unsupported)?;
            Outcome::Forwarded(Box::new(forwarder.send(forward, call.token).await?))
        }
    })
}
