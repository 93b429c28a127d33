//! The break-glass webhook: each opened grant is POSTed, as JSON, to
//! `breakglass.notify_url`, in the background (never on the request path),
//! with a timeout per attempt and a few attempts, waiting 1 s, 2 s, 4 s ...
//! between them. A notification that every attempt failed to deliver is
//! logged and recorded (`breakglass.notify.failed`). The body carries no
//! secret; the log names neither the URL nor the body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;

use crate::audit::{Actor, EventKind, Journal, RequestMeta};
use crate::clock::Timestamp;

use super::BreakglassConfig;

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
    /// No `notify_url`: notifications are not sent.
    pub fn new(config: &BreakglassConfig, journal: Journal) -> Result<Notifier, reqwest::Error> {
        let target = match &config.notify_url {
            None => None,
            Some(url) => {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(config.notify_timeout)
                    .build()
                    .map_err(reqwest::Error::without_url)?;
                Some(Arc::new(Target { client, url: url.clone(), attempts: config.notify_attempts }))
            }
        };
        Ok(Notifier { target, journal, deliveries: Arc::new(Mutex::new(Vec::new())) })
    }

    /// Starts delivering `notification` in the background.
    pub fn send(&self, notification: Notification) {
        let Some(target) = self.target.clone() else { return };
        let journal = self.journal.clone();
        let task = tokio::spawn(async move {
            let Err(reason) = target.deliver(&notification).await else { return };
            tracing::warn!(
                grant = %notification.grant_id,
                attempts = target.attempts,
                error = %reason,
                "break-glass notification not delivered"
            );
            let kind = EventKind::BreakglassNotifyFailed {
                grant_id: notification.grant_id.clone(),
                attempts: target.attempts,
                reason,
            };
            if let Err(e) = journal.record(&RequestMeta::default(), Actor::default(), kind).await {
                tracing::error!(grant = %notification.grant_id, error = %e, "cannot record a failed break-glass notification");
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
    async fn deliver(&self, notification: &Notification) -> Result<(), String> {
        let mut wait = Duration::from_secs(1);
        let mut attempt = 1;
        loop {
            match self.attempt(notification).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= self.attempts => return Err(e),
                Err(e) => {
                    tracing::info!(grant = %notification.grant_id, attempt, error = %e, "break-glass notification failed; retrying");
                }
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
            attempt += 1;
        }
    }

    async fn attempt(&self, notification: &Notification) -> Result<(), String> {
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
