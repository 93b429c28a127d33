//! The refusals of the action path, built from what refused: a lock, a
//! policy decision, a token's scope, the platform. The refusal itself (and
//! its kind) is the domain core's; the status a door answers with is the
//! HTTP layer's.

use crate::audit::AuditError;
use crate::clock::Timestamp;
use crate::directory::Lock;
use crate::domain::{Account, AccountId, EventId};
use crate::screen::Report;
use std::borrow::Cow;

use crate::domain::{Kind, Refusal, Step};
use crate::identity::ApiToken;
use crate::platforms::dispatch::DispatchError;
use crate::platforms::PlatformError;
use crate::policy::Decision;

impl Refusal {
    /// The request itself is malformed (before any step).
    pub fn bad_request(reason: String) -> Self {
        Refusal::new(Kind::BadRequest, Step::Gate, "request", reason, "Correct the request and retry.")
    }

    /// The request is well-formed but asks for something that cannot be.
    pub fn invalid(reason: String) -> Self {
        Refusal::new(Kind::Invalid, Step::Gate, "request", reason, "Correct the request and retry.")
    }

    pub fn token_required() -> Self {
        Refusal::new(
            Kind::TokenRequired,
            Step::Gate,
            "gate:token",
            "the pass-through proxy takes an API token (Authorization: Bearer ...), not a session".into(),
            "Create an API token (POST /api/v1/tokens) and send it as a bearer token.",
        )
    }

    /// A pass-through request the proxy does not carry.
    pub fn pass_through(kind: Kind, rule: &str, reason: String) -> Self {
        Refusal::new(
            kind,
            Step::Gate,
            rule,
            reason,
            "Send only requests the platform's pass-through route table lists, to its API path.",
        )
    }

    pub fn conflict(reason: String) -> Self {
        Refusal::new(Kind::Conflict, Step::Authorize, "request", reason, "Nothing more to do.")
    }

    pub fn not_found(reason: String) -> Self {
        Refusal::new(Kind::NotFound, Step::Authorize, "request", reason, "Check the id.")
    }

    /// The content screen parked the action on `account` for a reviewer;
    /// `policies`: the ones that kept it from going out unreviewed.
    pub fn held(account: &AccountId, policies: &[String]) -> Self {
        Refusal::new(
            Kind::HeldForReview,
            Step::Screen,
            &rule_of(policies, "screen-no-release"),
            format!("the action on account {account} waits for a compliance reviewer: see the findings"),
            "Nothing was done yet; a reviewer who is not you will approve or reject it.",
        )
    }

    /// A post that waited in the queue (scheduled clean) is held by the
    /// screen when its time comes (the lexicons or policy changed): it is
    /// not queued again, nor published.
    pub fn held_at_its_time(report: &Report, policies: &[String]) -> Self {
        let kinds = report.kinds().join(", ");
        Refusal::new(
            Kind::HeldForReview,
            Step::Screen,
            &rule_of(policies, "screen-no-release"),
            format!("when its time came, the content screen held what had passed it when it was scheduled ({kinds}); nothing was published"),
            "Send it again: it will wait for a reviewer.",
        )
    }

    /// A time to publish at that cannot be.
    pub fn bad_schedule(reason: String) -> Self {
        Refusal::new(
            Kind::Invalid,
            Step::Gate,
            "schedule",
            reason,
            "Choose a time in the future, within the allowed window.",
        )
    }

    /// Policy refuses what the screen found, reviewed or not.
    pub fn content_blocked(report: &Report, policies: &[String]) -> Self {
        let kinds = report.kinds().join(", ");
        Refusal::new(
            Kind::ContentBlocked,
            Step::Screen,
            &rule_of(policies, "screen"),
            format!("the content screen found what policy never lets out ({kinds}); nothing was done"),
            "Remove what the findings point at (their start and end are byte offsets in what you sent), then send it again.",
        )
    }

    pub fn unknown_account(id: &str) -> Self {
        Refusal::new(
            Kind::NotFound,
            Step::Authorize,
            "account",
            format!("there is no account {id:?}"),
            "List the accounts you may act on at GET /api/v1/accounts.",
        )
    }

    pub fn mfa_required() -> Self {
        Refusal::new(
            Kind::MfaRequired,
            Step::Gate,
            "gate:second-factor",
            "the second factor has not been passed in this session".into(),
            "Verify your second factor at /auth/mfa, then retry.",
        )
    }

    /// The API token used does not reach this action (or account).
    pub fn out_of_scope(token: &ApiToken, action: &str, account_id: Option<&AccountId>) -> Self {
        let on = account_id.map(|a| format!(" on account {a}")).unwrap_or_default();
        Refusal::new(
            Kind::TokenOutOfScope,
            Step::Authorize,
            "token:scope",
            format!("API token {} ({}) does not allow {action}{on}", token.id, token.name),
            "Use a token created for this action and account, or sign in.",
        )
    }

    /// Managing tokens takes a signed-in session, not a token.
    pub fn session_required(token: &ApiToken, action: &str) -> Self {
        Refusal::new(
            Kind::SessionRequired,
            Step::Authorize,
            "token:manage-needs-session",
            format!(
                "API token {} cannot {action}: managing API tokens takes a signed-in session (a token may only revoke itself)",
                token.id
            ),
            "Sign in to list or revoke your tokens.",
        )
    }

    /// A route that takes a signed-in browser session (`what`: its method
    /// and path), called with an API token: tokens reach only what they can
    /// be scoped to.
    pub fn session_only(token: &ApiToken, what: &str) -> Self {
        Refusal::new(
            Kind::SessionRequired,
            Step::Gate,
            "gate:session",
            format!(
                "API token {} cannot call {what}: it takes a signed-in browser session (API tokens reach only the account actions and reviews they name)",
                token.id
            ),
            "Sign in at /auth/login and call it with the session cookie (and its X-CSRF-Token for writes).",
        )
    }

    /// An admin locked the account (for example during an incident).
    pub fn account_locked(account: &Account, lock: &Lock) -> Self {
        let until = lock.expires_at.map(|t| format!(" until {}", t.rfc3339())).unwrap_or_default();
        Refusal::new(
            Kind::AccountLocked,
            Step::Authorize,
            &format!("lock:{}", lock.id),
            format!("account {} is locked{until}: {}", account.handle, lock.reason),
            "Wait until an admin lifts the lock.",
        )
    }

    /// Policy said no. A refusing policy says why and what to do in its own
    /// annotations (`@reason`, `@remedy`); a stale second factor is a
    /// "verify again"; nothing permitting it names no rule.
    /// `account`: the account acted on; None for an action on Custodian itself.
    pub fn from_policy(action: &str, account: Option<&Account>, decision: &Decision) -> Self {
        let target = match account {
            Some(a) => format!("{} ({})", a.handle, a.platform),
            None => "Custodian".to_owned(),
        };
        if decision.policies.is_empty() {
            let why = if decision.errors.is_empty() {
                format!("no policy allows you {action} on {target}")
            } else {
                format!("the request could not be evaluated: {}", decision.errors.join("; "))
            };
            return Refusal::new(
                Kind::Forbidden,
                Step::Authorize,
                "no-permit",
                why,
                "Ask your Custodian administrator for access to this account.",
            );
        }
        let (kind, reason, remedy) = if decision.step_up {
            (
                Kind::VerifyAgain,
                format!("{action} needs a second factor verified again"),
                "Verify your second factor again (/auth/mfa?again=true, or POST /auth/mfa/verify with a current code), then retry.",
            )
        } else {
            (
                Kind::Forbidden,
                format!("{action} on {target} is forbidden by policy"),
                "Ask your Custodian administrator; the rule named says why.",
            )
        };
        let fill = |words: &str| fill_in(words, action, &target, account);
        let reason = decision.reason.as_deref().map(fill).unwrap_or(reason);
        let remedy = decision.remedy.as_deref().map(fill).map(Cow::Owned).unwrap_or(Cow::Borrowed(remedy));
        Refusal::new(kind, Step::Authorize, &decision.policies.join(","), reason, remedy)
    }

    /// The platform step failed after the intent was recorded; `now` dates a rate limit's Retry-After.
    pub fn from_dispatch(e: DispatchError, intent: EventId, now: Timestamp) -> Self {
        let reset = match &e {
            DispatchError::Platform(PlatformError::RateLimited { reset_at: Some(at), .. }) => Some(*at),
            _ => None,
        };
        let mut refusal = Refusal::from(e);
        refusal.audit_event_id = Some(intent.into_string());
        refusal.retry_after = reset.map(|at| ((at.millis() - now.millis()).max(1000) / 1000) as u64);
        refusal
    }
}

impl From<AuditError> for Refusal {
    fn from(e: AuditError) -> Self {
        tracing::error!(error = %e, "audit journal write failed; the action is refused");
        let mut r = Refusal::new(
            Kind::AuditUnavailable,
            Step::Record,
            "fail-closed",
            "the audit journal cannot be written, so nothing was done".into(),
            "Retry shortly; if it persists, tell your Custodian administrator.",
        );
        r.retry_after = Some(5);
        r
    }
}

impl From<crate::queue::QueueError> for Refusal {
    fn from(e: crate::queue::QueueError) -> Self {
        tracing::error!(error = %e, "the review queue failed");
        Refusal::new(
            Kind::Internal,
            Step::Screen,
            "review-queue",
            "something went wrong on our side".into(),
            "Retry; if it persists, tell your Custodian administrator.",
        )
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        DispatchError::Storage(e).into()
    }
}

impl From<DispatchError> for Refusal {
    fn from(e: DispatchError) -> Self {
        let reason = e.to_string();
        match e {
            DispatchError::NotActive { .. } => Refusal::new(
            Kind::AccountUnavailable,
                Step::Execute,
                "account-status",
                reason,
                "An admin must connect the account again.",
            ),
            DispatchError::Credential(_) => Refusal::new(
            Kind::CredentialUnreadable,
                Step::Execute,
                "vault",
                reason,
                "Tell your Custodian administrator; the account must be connected again.",
            ),
            DispatchError::CredentialInAnswer { .. } => Refusal::new(
            Kind::CredentialWithheld,
                Step::Execute,
                "proxy:credential-in-answer",
                reason,
                "Nothing of the platform's answer was passed on. Do not ask for token fields; if it recurs, tell your Custodian administrator.",
            ),
            DispatchError::Unavailable(_) => Refusal::new(
            Kind::PlatformUnavailable,
                Step::Execute,
                "token-endpoint",
                reason,
                "Retry later.",
            ),
            DispatchError::Audit(a) => a.into(),
            DispatchError::Storage(s) => {
                tracing::error!(error = %s, "storage error on the action path");
                Refusal::new(
            Kind::Internal,
                    Step::Execute,
                    "storage",
                    "something went wrong on our side".into(),
                    "Retry; if it persists, tell your Custodian administrator.",
                )
            }
            DispatchError::Platform(p) => from_platform(p, reason),
        }
    }
}

fn from_platform(e: PlatformError, reason: String) -> Refusal {
    let (kind, rule, remedy) = match &e {
        PlatformError::Unsupported { .. } => {
            (Kind::Unsupported, "platform:unsupported", "Use another operation or account.")
        }
        PlatformError::TokenInvalid { .. } => {
            (Kind::AccountUnavailable, "platform:token", "An admin must connect the account again.")
        }
        PlatformError::Permission { .. } => (
            Kind::PlatformRefused,
            "platform:permission",
            "The account lacks the permission at the platform; an admin must grant it.",
        ),
        PlatformError::Validation { .. } => {
            (Kind::Invalid, "platform:validation", "Change the content as the platform says, then retry.")
        }
        PlatformError::Duplicate { .. } => {
            (Kind::Duplicate, "platform:duplicate", "The platform already has this post.")
        }
        PlatformError::RateLimited { .. } => {
            (Kind::RateLimited, "platform:rate-limit", "Retry after the time given.")
        }
        PlatformError::Down { .. } => (Kind::PlatformUnavailable, "platform:down", "Retry later."),
        PlatformError::BadRequest(_) => {
            (Kind::BadRequest, "platform:request", "Correct the request and retry.")
        }
    };
    Refusal::new(kind, Step::Execute, rule, reason, remedy)
}

/// A policy's `@reason` or `@remedy`, with what it names filled in:
/// `{action}`, `{target}` (the account and its platform, or Custodian),
/// `{account}` (its handle) and `{account_status}` (its status, and why).
/// One pass over the policy's words: a value filled in (a handle, a
/// platform's reason) is never read for placeholders itself.
fn fill_in(words: &str, action: &str, target: &str, account: Option<&Account>) -> String {
    let (handle, status) = match account {
        Some(a) => (
            a.handle.clone(),
            format!(
                "{}{}",
                a.status.as_str(),
                a.status_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
        ),
        None => ("Custodian".to_owned(), String::new()),
    };
    let value = |name: &str| match name {
        "action" => Some(action),
        "target" => Some(target),
        "account" => Some(handle.as_str()),
        "account_status" => Some(status.as_str()),
        _ => None,
    };
    let mut filled = String::with_capacity(words.len());
    let mut rest = words;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| Some((close, value(&after[..close])?))) {
            Some((close, v)) => {
                filled.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                filled.push('{');
                rest = after;
            }
        }
    }
    filled.push_str(rest);
    filled
}

/// The policies that decided, comma-separated, or `fallback` when none did.
fn rule_of(policies: &[String], fallback: &str) -> String {
    if policies.is_empty() {
        fallback.to_owned()
    } else {
        policies.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Platform, Status, Timestamp};

    #[test]
    fn placeholders_are_filled_once_and_what_is_filled_in_is_not_read_again() {
        let account = Account {
            id: "acct".into(),
            platform: Platform::Sandbox,
            handle: "{account_status}".into(),
            external_id: "e".into(),
            base_url: None,
            status: Status::NeedsReconnect,
            status_reason: Some("refresh refused".into()),
            tags: vec![],
            scopes: vec![],
            token_expires_at: None,
            connected_by: "admin".into(),
            created_at: Timestamp(0),
        };
        let words = "{action} on {target}: {account} is {account_status} {unknown} {";
        assert_eq!(
            fill_in(words, "post.publish", "{account_status} (sandbox)", Some(&account)),
            "post.publish on {account_status} (sandbox): {account_status} is needs_reconnect (refresh refused) {unknown} {"
        );
    }
}
