//! The audit journal's interface: typed events, each written durably before
//! the caller proceeds. Callers build an [`Event`] and call
//! [`Journal::record`]; if that fails, the caller must refuse what it was
//! about to do (fail closed).
//!
//! An event never holds a secret, token, cookie, session id or TOTP code: the
//! types below have no field that could carry one, and sessions appear only
//! by their public handle.

pub mod checkpoint;
mod config;
pub mod content;
mod event;
mod journal;
pub mod merkle;
pub mod query;
pub mod retention;
pub mod stream;
pub mod throttle;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointSigner, SignerError};
pub use config::AuditConfig;
pub use event::{
    Actor, AuditDecision, AuditOutcome, Change, Event, EventKind, LoginFailure, RequestMeta, ReviewRef,
    SessionEnd, Tally, Target, Trigger,
};
pub use journal::{Journal, Receipt};

/// Who makes an administrative change (`Change` events): an admin user
/// (API) or an operator (CLI).
#[derive(Debug, Clone)]
pub struct ChangedBy {
    pub actor: Actor,
    /// Printable: a user id, or `cli:<login>`.
    pub name: String,
    pub meta: RequestMeta,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit journal cannot be read or written: {0}")]
    Unavailable(#[from] sqlx::Error),
    #[error("the audit journal write failed")]
    WriteFailed,
    #[error("the audit journal did not commit within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the audit journal writer has stopped")]
    WriterStopped,
    #[error("the audit event cannot be serialized: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the audit journal holds a damaged value: {0}")]
    Corrupt(String),
    #[error("audit checkpoint failed: {0}")]
    Checkpoint(String),
    #[error(transparent)]
    Signer(#[from] SignerError),
}
