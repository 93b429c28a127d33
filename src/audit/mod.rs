//! The audit journal's interface: typed events, each written durably before
//! the caller proceeds. Callers build an [`Event`] and call
//! [`Journal::record`]; if that fails, the caller must refuse what it was
//! about to do (fail closed).
//!
//! An event never holds a secret, token, cookie, session id or TOTP code: the
//! types below have no field that could carry one, and sessions appear only
//! by their public handle.

mod event;

pub use event::{Actor, Decision, Event, EventKind, LoginFailure, RequestMeta, SessionEnd};

use crate::clock::SharedClock;
use crate::storage::Db;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit journal cannot be written: {0}")]
    Unavailable(#[from] sqlx::Error),
    #[error("the audit event cannot be serialized: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A recorded event's identity, returned to callers that report it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recorded {
    pub seq: i64,
    pub event_id: String,
}

#[derive(Clone)]
pub struct Journal {
    db: Db,
    clock: SharedClock,
}

impl Journal {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Journal { db, clock }
    }

    /// Writes the event and returns once it is committed.
    pub async fn record(
        &self,
        meta: &RequestMeta,
        actor: Actor,
        kind: EventKind,
    ) -> Result<Recorded, AuditError> {
        let event = Event::new(self.clock.now(), meta, actor, kind);
        let body = serde_json::to_string(&event)?;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_events (event_id, time, action, user_id, decision, body) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        )
        .bind(&event.event_id)
        .bind(event.time.millis())
        .bind(event.kind.action())
        .bind(event.actor.user_id.clone())
        .bind(event.kind.decision().as_str())
        .bind(&body)
        .fetch_one(self.db.pool())
        .await?;
        Ok(Recorded { seq, event_id: event.event_id })
    }

    /// Every event in order, for tests and (later) verification and export.
    pub async fn all(&self) -> Result<Vec<(i64, serde_json::Value)>, AuditError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, body FROM audit_events ORDER BY seq")
            .fetch_all(self.db.pool())
            .await?;
        rows.into_iter().map(|(seq, body)| Ok((seq, serde_json::from_str(&body)?))).collect()
    }
}
