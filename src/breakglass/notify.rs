//! Webhook notifications: each opened break-glass grant is POSTed, as JSON,
//! to `breakglass.notify_url` (and each post made outside Custodian to
//! `moderation.notify_url`), in the background (never on the request path),
//! with a timeout per attempt and a few attempts, waiting 1 s, 2 s, 4 s ...
//! between them. A notification that every attempt failed to deliver is
//! logged and recorded (`breakglass.notify.failed`, or the sender's own
//! event). The body carries no secret; the log names neither the URL nor
//! the body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;

use crate::audit::{Actor, EventKind, Journal, RequestMeta};
use crate::clock::Timestamp;

/// Where a webhook delivers (none: nothing is sent), the bound on one
/// attempt, and how many attempts a notification gets.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Option<url::Url>,
    pub timeout: Duration,
    pub attempts: u32,
}

impl Webhook {
    /// What is wrong with the settings of `section` (`notify_url`,
    /// `notify_timeout`, `notify_attempts`), for `Config::validate`.
    pub fn problems(&self, section: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(url) = &self.url {
            crate::domain::check_https_or_loopback(&format!("{section}.notify_url"), url, &mut problems);
        }
        if self.timeout.is_zero() {
            problems.push(format!("{section}.notify_timeout must be positive"));
        }
        if !(1..=10).contains(&self.attempts) {
            problems.push(format!("{section}.notify_attempts must be between 1 and 10"));
        }
        problems
    }
}

/// What the receiver gets.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Always `breakglass.open`.
    pub event: &'static str,
    pub grant_id: String,
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub justification: String,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
    /// The `breakglass.open` audit event.
    pub audit_event_id: String,
}

#[derive(Clone)]
pub struct Notifier {
    target: Option<Arc<Target>>,
    /// What it announces, for the log (`break-glass`, `unrecorded post`).
    what: &'static str,
    journal: Journal,
    /// Deliveries under way (finished ones are dropped at the next send).
    deliveries: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

struct Target {
    client: reqwest::Client,
    url: url::Url,
    attempts: u32,
}

impl Notifier {
    /// Announces `what` on `webhook`; no URL: notifications are not sent.
    pub fn new(webhook: &Webhook, what: &'static str, journal: Journal) -> Result<Notifier, reqwest::Error> {
        let target = match &webhook.url {
            None => None,
            Some(url) => {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(webhook.timeout)
                    .build()
                    .map_err(reqwest::Error::without_url)?;
                Some(Arc::new(Target { client, url: url.clone(), attempts: webhook.attempts }))
            }
        };
        Ok(Notifier { target, what, journal, deliveries: Arc::new(Mutex::new(Vec::new())) })
    }

    /// Starts delivering `notification` (named `subject` in the log, never
    /// by its content) in the background; when every attempt fails, the
    /// event `failed(attempts, reason)` makes is recorded.
    pub fn send<N>(
        &self,
        subject: String,
        notification: N,
        failed: impl FnOnce(u32, String) -> EventKind + Send + 'static,
    ) where
        N: Serialize + Send + Sync + 'static,
    {
        let Some(target) = self.target.clone() else { return };
        let (journal, what) = (self.journal.clone(), self.what);
        let task = tokio::spawn(async move {
            let Err(reason) = target.deliver(&subject, &notification).await else { return };
            tracing::warn!(
                subject = %subject,
                attempts = target.attempts,
                error = %reason,
                "{what} notification not delivered"
            );
            let kind = failed(target.attempts, reason);
            if let Err(e) = journal.record(&RequestMeta::default(), Actor::default(), kind).await {
                tracing::error!(subject = %subject, error = %e, "cannot record a failed {what} notification");
            }
        });
        if let Ok(mut deliveries) = self.deliveries.lock() {
            deliveries.retain(|d| !d.is_finished());
            deliveries.push(task);
        }
    }

    /// Waits until every delivery started so far has succeeded or been
    /// recorded as failed (at shutdown, and in tests).
    pub async fn settled(&self) {
        let under_way = self.deliveries.lock().map(|mut d| std::mem::take(&mut *d)).unwrap_or_default();
        for delivery in under_way {
            let _ = delivery.await;
        }
    }
}

impl Target {
    /// Every attempt until one is answered 2xx; the last failure otherwise.
    async fn deliver(&self, subject: &str, notification: &impl Serialize) -> Result<(), String> {
        let mut wait = Duration::from_secs(1);
        let mut attempt = 1;
        loop {
            match self.attempt(notification).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= self.attempts => return Err(e),
                Err(e) => {
                    tracing::info!(subject, attempt, error = %e, "notification failed; retrying");
                }
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
            attempt += 1;
        }
    }

    async fn attempt(&self, notification: &impl Serialize) -> Result<(), String> {
        // Without the URL: it may carry credentials.
        let response = self
            .client
            .post(self.url.clone())
            .json(notification)
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered HTTP {}", status.as_u16()))
        }
    }
}
