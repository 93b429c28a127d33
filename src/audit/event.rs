//! The typed event model. Serialized with a fixed field order (serde's
//! declaration order), which the tamper-evident journal will hash.

use serde::Serialize;

use crate::clock::Timestamp;

/// Where a request came from; attached to every event it causes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who acted. Sessions appear only by their public handle.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actor {
    pub user_id: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub session_handle: Option<String>,
    pub mfa_method: Option<String>,
    pub mfa_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allowed,
    Denied,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
        }
    }
}

/// Why a sign-in failed, in words safe to record and to show.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    /// The identity provider reported an error (its error code).
    ProviderError(String),
    StateMismatch,
    NoLoginInProgress,
    CodeExchange,
    InvalidIdToken(String),
    ProviderUnavailable,
    DirectoryRefused(String),
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    IdleTimeout,
    AbsoluteLifetime,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// `auth.login`: the IdP sign-in finished (the second factor may still be due).
    Login { email: Option<String>, previous_session_ended: bool },
    /// `auth.login`, refused.
    LoginFailed { reason: LoginFailure },
    /// `auth.mfa.enroll`: a TOTP factor was turned on.
    MfaEnrolled,
    /// `auth.mfa.verify`: a code (or recovery code) was accepted.
    MfaVerified { method: String },
    /// `auth.mfa.verify`, refused.
    MfaFailed { method: String, reason: String, consecutive_failures: i64 },
    /// `auth.mfa.lock`: too many failures; an admin must reset the factor.
    MfaLocked { consecutive_failures: i64 },
    /// `auth.mfa.reset`: an operator reset the user's factor.
    MfaReset { by: String, sessions_ended: u64 },
    /// `auth.logout`
    Logout,
    /// `auth.session.expire`
    SessionExpired { reason: SessionEnd },
}

impl EventKind {
    /// The stable dotted action name.
    pub fn action(&self) -> &'static str {
        match self {
            EventKind::Login { .. } | EventKind::LoginFailed { .. } => "auth.login",
            EventKind::MfaEnrolled => "auth.mfa.enroll",
            EventKind::MfaVerified { .. } | EventKind::MfaFailed { .. } => "auth.mfa.verify",
            EventKind::MfaLocked { .. } => "auth.mfa.lock",
            EventKind::MfaReset { .. } => "auth.mfa.reset",
            EventKind::Logout => "auth.logout",
            EventKind::SessionExpired { .. } => "auth.session.expire",
        }
    }

    pub fn decision(&self) -> Decision {
        match self {
            EventKind::LoginFailed { .. } | EventKind::MfaFailed { .. } | EventKind::MfaLocked { .. } => {
                Decision::Denied
            }
            _ => Decision::Allowed,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub event_id: String,
    pub time: Timestamp,
    pub action: &'static str,
    pub decision: Decision,
    pub request: RequestMeta,
    pub actor: Actor,
    pub kind: EventKind,
}

impl Event {
    pub fn new(time: Timestamp, meta: &RequestMeta, actor: Actor, kind: EventKind) -> Event {
        Event {
            event_id: uuid::Uuid::now_v7().to_string(),
            time,
            action: kind.action(),
            decision: kind.decision(),
            request: meta.clone(),
            actor,
            kind,
        }
    }
}
