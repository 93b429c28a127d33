//! Why an action did not happen: the step that refused it, the rule, the
//! reason in words, what to do, and the HTTP status a door answers with.

use crate::audit::AuditError;
use crate::clock::Timestamp;
use crate::directory::Lock;
use crate::domain::Account;
use crate::identity::ApiToken;
use crate::platforms::dispatch::DispatchError;
use crate::platforms::PlatformError;
use crate::policy::Decision;

/// The step of the path that refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Gate,
    Authorize,
    Record,
    Execute,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Gate => "gate",
            Step::Authorize => "authorize",
            Step::Record => "record",
            Step::Execute => "execute",
        }
    }
}

/// A refusal (boxed: it travels in every `Result` of the path).
#[derive(Debug, Clone)]
pub struct Refusal(Box<Details>);

impl std::ops::Deref for Refusal {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for Refusal {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (rule: {})", self.reason, self.rule)
    }
}

#[derive(Debug, Clone)]
pub struct Details {
    pub status: u16,
    /// Stable code: `forbidden`, `verify_again`, `account_unavailable`, ...
    pub error: &'static str,
    pub step: Step,
    /// The rule: policy ids, a gate check, or the platform's error class.
    pub rule: String,
    pub reason: String,
    pub remedy: &'static str,
    pub retry_after: Option<u64>,
    /// The recorded intent, when the refusal came after it (the platform's own refusal).
    pub audit_event_id: Option<String>,
}

impl Refusal {
    pub(crate) fn new(
        status: u16,
        error: &'static str,
        step: Step,
        rule: &str,
        reason: String,
        remedy: &'static str,
    ) -> Self {
        Refusal(Box::new(Details {
            status,
            error,
            step,
            rule: rule.to_owned(),
            reason,
            remedy,
            retry_after: None,
            audit_event_id: None,
        }))
    }

    /// The request itself is malformed (before any step).
    pub fn bad_request(reason: String) -> Self {
        Refusal::new(400, "bad_request", Step::Gate, "request", reason, "Correct the request and retry.")
    }

    /// The request is well-formed but asks for something that cannot be.
    pub fn invalid(reason: String) -> Self {
        Refusal::new(422, "invalid", Step::Gate, "request", reason, "Correct the request and retry.")
    }

    pub fn token_required() -> Self {
        Refusal::new(
            401,
            "token_required",
            Step::Gate,
            "gate:token",
            "the pass-through proxy takes an API token (Authorization: Bearer ...), not a session".into(),
            "Create an API token (POST /api/v1/tokens) and send it as a bearer token.",
        )
    }

    /// A pass-through request the proxy does not carry.
    pub fn pass_through(status: u16, error: &'static str, rule: &str, reason: String) -> Self {
        Refusal::new(
            status,
            error,
            Step::Gate,
            rule,
            reason,
            "Send only requests the platform's pass-through route table lists, to its API path.",
        )
    }

    pub fn conflict(reason: String) -> Self {
        Refusal::new(409, "conflict", Step::Authorize, "request", reason, "Nothing more to do.")
    }

    pub fn not_found(reason: String) -> Self {
        Refusal::new(404, "not_found", Step::Authorize, "request", reason, "Check the id.")
    }

    pub fn unknown_account(id: &str) -> Self {
        Refusal::new(
            404,
            "not_found",
            Step::Authorize,
            "account",
            format!("there is no account {id:?}"),
            "List the accounts you may act on at GET /api/v1/accounts.",
        )
    }

    pub fn mfa_required() -> Self {
        Refusal::new(
            401,
            "mfa_required",
            Step::Gate,
            "gate:second-factor",
            "the second factor has not been passed in this session".into(),
            "Verify your second factor at /auth/mfa, then retry.",
        )
    }

    /// The API token used does not reach this action (or account).
    pub fn out_of_scope(token: &ApiToken, action: &str, account_id: Option<&str>) -> Self {
        let on = account_id.map(|a| format!(" on account {a}")).unwrap_or_default();
        Refusal::new(
            403,
            "token_out_of_scope",
            Step::Authorize,
            "token:scope",
            format!("API token {} ({}) does not allow {action}{on}", token.id, token.name),
            "Use a token created for this action and account, or sign in.",
        )
    }

    /// Managing tokens takes a signed-in session, not a token.
    pub fn session_required(token: &ApiToken, action: &str) -> Self {
        Refusal::new(
            403,
            "session_required",
            Step::Authorize,
            "token:manage-needs-session",
            format!(
                "API token {} cannot {action}: managing API tokens takes a signed-in session (a token may only revoke itself)",
                token.id
            ),
            "Sign in to list or revoke your tokens.",
        )
    }

    /// An admin locked the account (for example during an incident).
    pub fn account_locked(account: &Account, lock: &Lock) -> Self {
        let until = lock.expires_at.map(|t| format!(" until {}", t.rfc3339())).unwrap_or_default();
        Refusal::new(
            409,
            "account_locked",
            Step::Authorize,
            &format!("lock:{}", lock.id),
            format!("account {} is locked{until}: {}", account.handle, lock.reason),
            "Wait until an admin lifts the lock.",
        )
    }

    /// Policy said no: a stale second factor is a "verify again"; the rest name the forbids (or that nothing permits it).
    /// `account`: the account acted on; None for an action on Custodian itself.
    pub fn from_policy(action: &str, account: Option<&Account>, decision: &Decision) -> Self {
        let target = match account {
            Some(a) => format!("{} ({})", a.handle, a.platform),
            None => "Custodian".to_owned(),
        };
        if decision.step_up {
            return Refusal::new(
                403,
                "verify_again",
                Step::Authorize,
                &decision.policies.join(","),
                format!("{action} needs a second factor verified in the last 5 minutes"),
                "Verify your second factor again (/auth/mfa?again=true, or POST /auth/mfa/verify with a current code), then retry within 5 minutes.",
            );
        }
        if decision.policies.is_empty() {
            let why = if decision.errors.is_empty() {
                format!("no policy allows you {action} on {target}")
            } else {
                format!("the request could not be evaluated: {}", decision.errors.join("; "))
            };
            return Refusal::new(
                403,
                "forbidden",
                Step::Authorize,
                "no-permit",
                why,
                "Ask your Custodian administrator for access to this account.",
            );
        }
        let reason =
            match (decision.policies.iter().map(String::as_str).collect::<Vec<_>>().as_slice(), account) {
                (["only-active-accounts"], Some(account)) => format!(
                    "account {} is {}{}: an admin must connect it again",
                    account.handle,
                    account.status.as_str(),
                    account.status_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                ),
                (["training-must-be-current"], _) => "your required training is not current".to_owned(),
                _ => format!("{action} on {target} is forbidden by policy"),
            };
        Refusal::new(
            403,
            "forbidden",
            Step::Authorize,
            &decision.policies.join(","),
            reason,
            "Ask your Custodian administrator; the rule named says why.",
        )
    }

    /// The platform step failed after the intent was recorded; `now` dates a rate limit's Retry-After.
    pub fn from_dispatch(e: DispatchError, intent: String, now: Timestamp) -> Self {
        let reset = match &e {
            DispatchError::Platform(PlatformError::RateLimited { reset_at: Some(at), .. }) => Some(*at),
            _ => None,
        };
        let mut refusal = Refusal::from(e);
        refusal.audit_event_id = Some(intent);
        refusal.retry_after = reset.map(|at| ((at.millis() - now.millis()).max(1000) / 1000) as u64);
        refusal
    }
}

impl From<AuditError> for Refusal {
    fn from(e: AuditError) -> Self {
        tracing::error!(error = %e, "audit journal write failed; the action is refused");
        let mut r = Refusal::new(
            503,
            "audit_unavailable",
            Step::Record,
            "fail-closed",
            "the audit journal cannot be written, so nothing was done".into(),
            "Retry shortly; if it persists, tell your Custodian administrator.",
        );
        r.retry_after = Some(5);
        r
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
                409,
                "account_unavailable",
                Step::Execute,
                "account-status",
                reason,
                "An admin must connect the account again.",
            ),
            DispatchError::Credential(_) => Refusal::new(
                409,
                "credential_unreadable",
                Step::Execute,
                "vault",
                reason,
                "Tell your Custodian administrator; the account must be connected again.",
            ),
            DispatchError::CredentialInAnswer { .. } => Refusal::new(
                502,
                "credential_withheld",
                Step::Execute,
                "proxy:credential-in-answer",
                reason,
                "Nothing of the platform's answer was passed on. Do not ask for token fields; if it recurs, tell your Custodian administrator.",
            ),
            DispatchError::Unavailable(_) => Refusal::new(
                502,
                "platform_unavailable",
                Step::Execute,
                "token-endpoint",
                reason,
                "Retry later.",
            ),
            DispatchError::Audit(a) => a.into(),
            DispatchError::Storage(s) => {
                tracing::error!(error = %s, "storage error on the action path");
                Refusal::new(
                    500,
                    "internal",
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
    let (status, error, rule, remedy) = match &e {
        PlatformError::Unsupported { .. } => {
            (422, "unsupported", "platform:unsupported", "Use another operation or account.")
        }
        PlatformError::TokenInvalid { .. } => {
            (409, "account_unavailable", "platform:token", "An admin must connect the account again.")
        }
        PlatformError::Permission { .. } => (
            403,
            "platform_refused",
            "platform:permission",
            "The account lacks the permission at the platform; an admin must grant it.",
        ),
        PlatformError::Validation { .. } => {
            (422, "invalid", "platform:validation", "Change the content as the platform says, then retry.")
        }
        PlatformError::Duplicate { .. } => {
            (409, "duplicate", "platform:duplicate", "The platform already has this post.")
        }
        PlatformError::RateLimited { .. } => {
            (429, "rate_limited", "platform:rate-limit", "Retry after the time given.")
        }
        PlatformError::Down { .. } => (502, "platform_unavailable", "platform:down", "Retry later."),
        PlatformError::BadRequest(_) => {
            (400, "bad_request", "platform:request", "Correct the request and retry.")
        }
    };
    Refusal::new(status, error, Step::Execute, rule, reason, remedy)
}
