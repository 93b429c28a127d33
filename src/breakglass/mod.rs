//! Break-glass: the emergency access procedure (HIPAA 164.312(a)(2)(ii)).
//! A user whom policy allows `breakglass.use` gives a written justification
//! and a TOTP code verified afresh, and gets time-boxed elevated access:
//! while the grant is open (per the [`Clock`](crate::clock::Clock)), the
//! action path hands policy `context.break_glass = true` and flags every
//! `action.*` event with the grant's id. Each use is announced on a webhook
//! and stays an open item until another admin acknowledges it.
//!
//! ```text
//!  POST /api/v1/breakglass {justification, code}
//!    justification ─► policy (breakglass.use) ─► none open ─► TOTP again
//!      ─► record breakglass.open ─► store the grant ─► webhook (background)
//!    any refusal: recorded (action.refused, breakglass.use), nothing stored
//!
//!  open ──(expires_at, per the Clock)──► expired ─┐
//!    └───(DELETE /api/v1/breakglass)───► ended ───┴─► acknowledged (another admin)
//! ```
//!
//! Never: a grant stored before its `breakglass.open` event is recorded; a
//! code or secret in an event, a log line, an answer or a notification.

pub mod notify;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::action::{ActionPath, Door, Gated, Kind, Refusal, Step};
use crate::audit::{EventKind, Journal, RequestMeta};
use crate::auth::{AuthError, Identity, SessionPrincipal};
use crate::clock::{SharedClock, Timestamp};
use crate::identity::{Method, MfaError};

pub use crate::directory::grants::{
    BreakGlassGrant, GrantFilter, GrantState, GrantStoreError, Grants, NewGrant,
};
pub use notify::{Notification, Notifier, Webhook};

const JUSTIFICATION_CHARS: std::ops::RangeInclusive<usize> = 20..=2000;
const JUSTIFICATION_WORDS: usize = 3;
const NOTE_CHARS: usize = 2000;

/// `[breakglass]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakglassConfig {
    /// How long a grant lasts, in minutes (1 to 480).
    pub duration_minutes: u32,
    /// Where each opened grant is POSTed as JSON: `https://` (plain http
    /// only on loopback). Empty: no notification.
    pub notify_url: Option<Url>,
    /// Bound on one delivery attempt, answer included.
    #[serde(with = "humantime_serde")]
    pub notify_timeout: Duration,
    /// Attempts before a notification counts as failed (1 to 10).
    pub notify_attempts: u32,
}

impl Default for BreakglassConfig {
    fn default() -> Self {
        BreakglassConfig {
            duration_minutes: 60,
            notify_url: None,
            notify_timeout: Duration::from_secs(10),
            notify_attempts: 3,
        }
    }
}

impl BreakglassConfig {
    /// What is wrong with this configuration, for `Config::validate`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(1..=480).contains(&self.duration_minutes) {
            problems.push("breakglass.duration_minutes must be between 1 and 480".to_owned());
        }
        problems.extend(self.webhook().problems("breakglass"));
        problems
    }

    /// Where each opened grant is announced.
    pub fn webhook(&self) -> Webhook {
        Webhook { url: self.notify_url.clone(), timeout: self.notify_timeout, attempts: self.notify_attempts }
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.duration_minutes) * 60)
    }
}

/// A grant just opened: what its user is told.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = BreakGlassOpened)]
pub struct Opened {
    pub id: String,
    pub expires_at: Timestamp,
    /// The `breakglass.open` event, recorded before the grant was stored.
    pub audit_event_id: String,
}

#[derive(Clone)]
pub struct BreakGlass {
    grants: Grants,
    actions: Arc<ActionPath>,
    identity: Identity,
    journal: Journal,
    clock: SharedClock,
    duration: Duration,
    notifier: Notifier,
}

impl BreakGlass {
    pub fn new(
        grants: Grants,
        actions: Arc<ActionPath>,
        identity: Identity,
        journal: Journal,
        clock: SharedClock,
        config: &BreakglassConfig,
    ) -> Result<BreakGlass, reqwest::Error> {
        let notifier = Notifier::new(&config.webhook(), "break-glass", journal.clone())?;
        Ok(BreakGlass { grants, actions, identity, journal, clock, duration: config.duration(), notifier })
    }

    /// Opens break-glass for the signed-in `principal`. Every refusal is
    /// recorded and leaves nothing opened.
    pub async fn open(
        &self,
        principal: &SessionPrincipal,
        meta: &RequestMeta,
        door: Door,
        justification: Option<&str>,
        code: Option<&str>,
    ) -> Result<Opened, Refusal> {
        let now = self.clock.now();
        // The code in this request is the fresh second factor that policy
        // asks for; it is checked below, before anything opens.
        let caller = Gated::new(&principal.admitted, principal.actor(), meta.clone(), door, Some(now));
        let justification = match check_justification(justification) {
            Ok(j) => j,
            Err(r) => return Err(self.refuse(&caller, Self::USE, r).await),
        };
        let Some(code) = code.map(str::trim).filter(|c| Method::of(c) == Method::Totp) else {
            return Err(self.refuse(&caller, Self::USE, code_required()).await);
        };
        let policies = self.actions.permit(&caller, Self::USE, None).await?;
        if let Some((id, until)) = self.grants.open_for(&principal.user().id, now).await? {
            return Err(self.refuse(&caller, Self::USE, already_open(&id, until)).await);
        }
        if let Err(e) = self.identity.verify_totp_again(principal, code, meta).await {
            return Err(self.refuse(&caller, Self::USE, second_factor(e)).await);
        }
        let id = format!("bg_{}", uuid::Uuid::now_v7().simple());
        let expires_at = now.plus(self.duration);
        let mut actor = principal.actor();
        actor.mfa_method = Some(Method::Totp.as_str().to_owned());
        actor.mfa_at = Some(now);
        let kind = EventKind::BreakglassOpened {
            grant_id: id.clone(),
            justification: justification.clone(),
            expires_at,
            policies,
        };
        let recorded = self.journal.record(meta, actor, kind).await?;
        let grant = NewGrant {
            id: &id,
            user_id: &principal.user().id,
            justification: &justification,
            opened_at: now,
            expires_at,
            audit_event_id: &recorded.event_id,
        };
        match self.grants.insert(&grant).await {
            Ok(()) => {}
            Err(GrantStoreError::AlreadyOpen) => {
                // A concurrent request opened one first; this one is refused after all.
                let open = self.grants.open_for(&principal.user().id, now).await?;
                let refusal = match open {
                    Some((other, until)) => already_open(&other, until),
                    None => already_open(&id, expires_at),
                };
                return Err(self.refuse(&caller, Self::USE, refusal).await);
            }
            Err(GrantStoreError::Sql(e)) => return Err(Refusal::from(e)),
        }
        let notification = Notification {
            event: "breakglass.open",
            grant_id: id.clone(),
            user_id: principal.user().id.clone(),
            email: principal.user().email.clone(),
            name: principal.user().name.clone(),
            justification,
            opened_at: now,
            expires_at,
            audit_event_id: recorded.event_id.to_string(),
        };
        let grant_id = id.clone();
        self.notifier.send(id.clone(), notification, move |attempts, reason| {
            EventKind::BreakglassNotifyFailed { grant_id, attempts, reason }
        });
        Ok(Opened { id, expires_at, audit_event_id: recorded.event_id.into_string() })
    }

    /// Ends the caller's open grant now.
    pub async fn end(&self, caller: &Gated<'_>) -> Result<BreakGlassGrant, Refusal> {
        let now = self.clock.now();
        let Some((id, _)) = self.grants.open_for(&caller.user().id, now).await? else {
            let refusal = refusal(
                Kind::NotFound,
                "no-open-grant",
                "you have no break-glass access open".to_owned(),
                "Nothing to end.",
            );
            return Err(self.refuse(caller, Self::END, refusal).await);
        };
        let kind = EventKind::BreakglassEnded { grant_id: id.clone(), reason: None };
        self.journal.record(caller.meta(), caller.actor().clone(), kind).await?;
        // False only if it expired meanwhile: ended either way.
        self.grants.end(&id, now).await?;
        self.grants.get(&id, now).await?.ok_or_else(|| Refusal::from(sqlx::Error::RowNotFound))
    }

    /// An admin's acknowledgement that a use was reviewed: someone else's,
    /// once it is over, once.
    pub async fn acknowledge(
        &self,
        caller: &Gated<'_>,
        id: &str,
        note: Option<&str>,
    ) -> Result<BreakGlassGrant, Refusal> {
        let now = self.clock.now();
        let checked = match check_note(note) {
            Ok(note) => self.acknowledgeable(caller, id, now).await.map(|grant| (note, grant)),
            Err(r) => Err(r),
        };
        let (note, grant) = match checked {
            Ok(ok) => ok,
            Err(r) => return Err(self.refuse(caller, Self::ACKNOWLEDGE, r).await),
        };
        let kind = EventKind::BreakglassAcknowledged {
            grant_id: grant.id.clone(),
            user_id: grant.user_id.clone(),
            note: note.clone(),
        };
        self.journal.record(caller.meta(), caller.actor().clone(), kind).await?;
        if !self.grants.acknowledge(&grant.id, &caller.user().id, &note, now).await? {
            return Err(self.refuse(caller, Self::ACKNOWLEDGE, already_acknowledged(&grant)).await);
        }
        self.grants.get(&grant.id, now).await?.ok_or_else(|| Refusal::from(sqlx::Error::RowNotFound))
    }

    /// The grant, if `caller` may acknowledge it now; the refusal otherwise.
    async fn acknowledgeable(
        &self,
        caller: &Gated<'_>,
        id: &str,
        now: Timestamp,
    ) -> Result<BreakGlassGrant, Refusal> {
        let Some(grant) = self.grants.get(id, now).await? else {
            return Err(refusal(
                Kind::NotFound,
                "unknown-grant",
                format!("there is no break-glass use {id:?}"),
                "List the uses at GET /api/v1/admin/breakglass.",
            ));
        };
        if grant.user_id == caller.user().id {
            return Err(refusal(
                Kind::Forbidden,
                "not-your-own-use",
                "nobody acknowledges their own break-glass use".to_owned(),
                "Ask another administrator to review and acknowledge it.",
            ));
        }
        if grant.acknowledged_at.is_some() {
            return Err(already_acknowledged(&grant));
        }
        if grant.state == GrantState::Open {
            return Err(refusal(
                Kind::StillOpen,
                "acknowledge-after-it-ends",
                format!(
                    "break-glass use {} is still open until {}; what it does is not yet all known",
                    grant.id,
                    grant.expires_at.rfc3339()
                ),
                "Acknowledge it once it has ended (it ends at its expiry, or when its user ends it).",
            ));
        }
        Ok(grant)
    }

    /// Grants, newest first.
    pub async fn list(&self, filter: GrantFilter) -> Result<Vec<BreakGlassGrant>, sqlx::Error> {
        self.grants.list(filter, self.clock.now()).await
    }

    /// The uses no admin has acknowledged yet: the access review's open items.
    pub async fn unacknowledged(&self) -> Result<Vec<BreakGlassGrant>, sqlx::Error> {
        self.list(GrantFilter { open: false, unacknowledged: true }).await
    }

    /// Records a refusal of a break-glass step (`action`: `breakglass.use`,
    /// `breakglass.end`, `breakglass.acknowledge`), e.g. a malformed request.
    pub async fn refuse(&self, caller: &Gated<'_>, action: &str, refusal: Refusal) -> Refusal {
        self.actions.refuse(caller, action, "custodian", refusal).await
    }

    /// The labels its refusals are recorded under (`action.refused`).
    pub const USE: &'static str = "breakglass.use";
    pub const END: &'static str = "breakglass.end";
    pub const ACKNOWLEDGE: &'static str = "breakglass.acknowledge";

    /// The webhook deliveries started so far have finished (delivered, or
    /// recorded as failed).
    pub async fn notifications_settled(&self) {
        self.notifier.settled().await;
    }
}

fn refusal(kind: Kind, rule: &str, reason: String, remedy: &'static str) -> Refusal {
    Refusal::new(kind, Step::Authorize, rule, reason, remedy)
}

/// Trimmed; long enough, in words, to say why; bounded; no control characters but line breaks and tabs.
fn check_justification(raw: Option<&str>) -> Result<String, Refusal> {
    let text = raw.unwrap_or("").trim();
    let chars = text.chars().count();
    let words = text.split_whitespace().count();
    let invalid = |reason: String| {
        Refusal::new(
            Kind::Invalid,
            Step::Gate,
            "justification",
            reason,
            "Say, in a sentence, what the emergency is and why your usual access does not cover it.",
        )
    };
    if chars < *JUSTIFICATION_CHARS.start() || words < JUSTIFICATION_WORDS {
        return Err(invalid(format!(
            "a justification of at least {} characters and {JUSTIFICATION_WORDS} words is required",
            JUSTIFICATION_CHARS.start()
        )));
    }
    if chars > *JUSTIFICATION_CHARS.end() {
        return Err(invalid(format!(
            "the justification is longer than {} characters",
            JUSTIFICATION_CHARS.end()
        )));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(invalid("the justification contains control characters".to_owned()));
    }
    Ok(text.to_owned())
}

fn check_note(raw: Option<&str>) -> Result<String, Refusal> {
    let text = raw.unwrap_or("").trim();
    if text.is_empty() || text.chars().count() > NOTE_CHARS {
        return Err(Refusal::new(
            Kind::Invalid,
            Step::Gate,
            "acknowledgement-note",
            format!("a note of 1 to {NOTE_CHARS} characters is required"),
            "Say what was reviewed and what was found.",
        ));
    }
    Ok(text.to_owned())
}

fn code_required() -> Refusal {
    Refusal::new(
        Kind::InvalidCode,
        Step::Gate,
        "second-factor",
        "a current six-digit code from your authenticator app is required (recovery codes are not accepted here)"
            .to_owned(),
        "Enter the current code from your authenticator app.",
    )
}

/// A failed second factor, as a refusal (the attempt itself is already recorded and counted).
fn second_factor(e: AuthError) -> Refusal {
    let reason = e.to_string();
    let (kind, remedy, retry_after) = match e {
        AuthError::Mfa(MfaError::Throttled { retry_after_secs }) => {
            (Kind::MfaThrottled, "Wait, then enter a fresh code.", Some(retry_after_secs))
        }
        AuthError::Mfa(MfaError::Locked) => {
            (Kind::MfaLocked, "Ask a Custodian administrator to reset it (custodian users reset-mfa).", None)
        }
        AuthError::Mfa(MfaError::InvalidCode | MfaError::Replayed | MfaError::NotEnrolled) => (
            Kind::InvalidCode,
            "Enter the current code from your authenticator app; each code is accepted once.",
            None,
        ),
        AuthError::Audit(a) => return a.into(),
        AuthError::Storage(s) | AuthError::Mfa(MfaError::Storage(s)) => return Refusal::from(s),
        other => {
            tracing::error!(error = %other, "the second factor cannot be checked");
            return Refusal::new(
                Kind::Internal,
                Step::Gate,
                "second-factor",
                "something went wrong on our side".to_owned(),
                "Retry; if it persists, tell your Custodian administrator.",
            );
        }
    };
    let mut r = Refusal::new(kind, Step::Gate, "second-factor", reason, remedy);
    r.retry_after = retry_after;
    r
}

fn already_open(id: &str, until: Timestamp) -> Refusal {
    refusal(
        Kind::BreakglassOpen,
        "one-grant-at-a-time",
        format!("your break-glass access {id} is already open, until {}", until.rfc3339()),
        "Use it; it ends at that time, or end it now with DELETE /api/v1/breakglass.",
    )
}

fn already_acknowledged(grant: &BreakGlassGrant) -> Refusal {
    let by = grant.acknowledged_by.as_deref().unwrap_or("another administrator");
    let at = grant.acknowledged_at.map(|t| format!(" at {}", t.rfc3339())).unwrap_or_default();
    refusal(
        Kind::AlreadyAcknowledged,
        "acknowledged-once",
        format!("break-glass use {} was already acknowledged by {by}{at}", grant.id),
        "Nothing to do.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_justification_must_say_why_in_words() {
        let ok = "The cardiology account posted a patient's name; hiding it now";
        assert_eq!(check_justification(Some(&format!("  {ok}\n"))).unwrap(), ok, "trimmed");
        for bad in [None, Some(""), Some("urgent"), Some(&"x".repeat(30)), Some(&"word ".repeat(401))] {
            let refused = check_justification(bad).unwrap_err();
            assert_eq!((refused.kind, refused.rule.as_str()), (Kind::Invalid, "justification"), "{bad:?}");
        }
        let control = format!("{ok}\u{1b}[2J");
        assert!(check_justification(Some(&control)).unwrap_err().reason.contains("control"));
        assert!(check_justification(Some("Line one of why\nand line two")).is_ok());
    }

    #[test]
    fn the_configuration_is_bounded_and_the_webhook_https_or_loopback() {
        assert!(BreakglassConfig::default().problems().is_empty());
        let with = |f: fn(&mut BreakglassConfig)| {
            let mut c = BreakglassConfig::default();
            f(&mut c);
            c.problems()
        };
        assert_eq!(with(|c| c.duration_minutes = 0).len(), 1);
        assert_eq!(with(|c| c.duration_minutes = 481).len(), 1);
        assert!(with(|c| c.duration_minutes = 480).is_empty());
        assert_eq!(with(|c| c.notify_attempts = 0).len(), 1);
        assert_eq!(with(|c| c.notify_timeout = Duration::ZERO).len(), 1);
        let plain = with(|c| c.notify_url = Url::parse("http://alerts.example.org/hook").ok());
        assert!(plain[0].contains("breakglass.notify_url"), "{plain:?}");
        assert!(with(|c| c.notify_url = Url::parse("http://127.0.0.1:9/hook").ok()).is_empty());
        assert!(with(|c| c.notify_url = Url::parse("https://alerts.example.org/hook").ok()).is_empty());
    }
}
