//! Why something was not done, in the product's words: which step of the
//! path refused, by which rule, what kind of refusal it is (the stable code
//! callers branch on), the reason and what to do. It carries no HTTP
//! status: the HTTP layer answers each kind with its own status, in one
//! table.

use std::borrow::Cow;

/// The step of the path that refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Gate,
    Authorize,
    Screen,
    Record,
    Execute,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Gate => "gate",
            Step::Authorize => "authorize",
            Step::Screen => "screen",
            Step::Record => "record",
            Step::Execute => "execute",
        }
    }
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)+) => {
        /// What kind of refusal it is. Its code is stable: callers branch on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[$doc])* $variant,)+
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            /// The stable code the API answers (`error`).
            pub fn code(self) -> &'static str {
                match self {
                    $(Kind::$variant => $code,)+
                }
            }
        }
    };
}

kinds! {
    /// The request is malformed.
    BadRequest => "bad_request",
    /// The request is well-formed but asks for something that cannot be.
    Invalid => "invalid",
    /// Something this refusal names does not exist.
    NotFound => "not_found",
    /// The request conflicts with the state of what it names.
    Conflict => "conflict",
    /// No (valid) credential for this door.
    Unauthenticated => "unauthenticated",
    /// The pass-through proxy takes an API token, not a session.
    TokenRequired => "token_required",
    /// The second factor has not been passed in this session.
    MfaRequired => "mfa_required",
    /// The API token used does not reach this action or account.
    TokenOutOfScope => "token_out_of_scope",
    /// Managing API tokens takes a signed-in session.
    SessionRequired => "session_required",
    /// An admin locked the account.
    AccountLocked => "account_locked",
    /// A rule lifted by a fresh second factor: verify again, then retry.
    VerifyAgain => "verify_again",
    /// Policy does not allow it.
    Forbidden => "forbidden",
    /// A pass-through request the proxy cannot read as sent.
    BadPassThrough => "bad_pass_through",
    /// A pass-through request the route table does not list.
    RouteNotAllowed => "route_not_allowed",
    /// A pass-through body that did not arrive in time.
    RequestTimeout => "request_timeout",
    /// A body larger than accepted.
    PayloadTooLarge => "payload_too_large",
    /// A body of a media type not accepted here.
    UnsupportedMediaType => "unsupported_media_type",
    /// A method the endpoint does not offer.
    MethodNotAllowed => "method_not_allowed",
    /// The second factor's code is missing, wrong or used.
    InvalidCode => "invalid_code",
    /// Too many failed second-factor attempts: wait.
    MfaThrottled => "mfa_throttled",
    /// The second factor is locked until an administrator resets it.
    MfaLocked => "mfa_locked",
    /// A break-glass grant is still open.
    StillOpen => "still_open",
    /// The caller already has a break-glass grant open.
    BreakglassOpen => "breakglass_open",
    /// A break-glass use was already acknowledged.
    AlreadyAcknowledged => "already_acknowledged",
    /// The content screen parked the action for a compliance reviewer:
    /// nothing was done yet.
    HeldForReview => "held_for_review",
    /// Policy refuses what the content screen found, reviewed or not.
    ContentBlocked => "content_blocked",
    /// The journal cannot be written, so nothing was done (fail closed).
    AuditUnavailable => "audit_unavailable",
    /// Something went wrong on Custodian's side.
    Internal => "internal",
    /// The account cannot be used (not active).
    AccountUnavailable => "account_unavailable",
    /// The account's credential cannot be opened.
    CredentialUnreadable => "credential_unreadable",
    /// The platform's answer held the account's credential, so it was withheld.
    CredentialWithheld => "credential_withheld",
    /// The platform (or its token endpoint) cannot be reached.
    PlatformUnavailable => "platform_unavailable",
    /// The platform refused for lack of permission.
    PlatformRefused => "platform_refused",
    /// The platform does not offer this operation.
    Unsupported => "unsupported",
    /// The platform already has this post.
    Duplicate => "duplicate",
    /// The platform's rate limit: retry after the time given.
    RateLimited => "rate_limited",
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
    pub kind: Kind,
    pub step: Step,
    /// The rule: policy ids, a gate check, or the platform's error class.
    pub rule: String,
    pub reason: String,
    pub remedy: Cow<'static, str>,
    pub retry_after: Option<u64>,
    /// The recorded intent, when the refusal came after it (the platform's own refusal).
    pub audit_event_id: Option<String>,
    /// What the content screen found, when it refused or held the action
    /// (kinds, rules and positions: never the text).
    pub findings: Vec<super::Finding>,
    /// The review a held action waits in.
    pub review_id: Option<String>,
}

impl Refusal {
    pub fn new(
        kind: Kind,
        step: Step,
        rule: &str,
        reason: String,
        remedy: impl Into<Cow<'static, str>>,
    ) -> Self {
        Refusal(Box::new(Details {
            kind,
            step,
            rule: rule.to_owned(),
            reason,
            remedy: remedy.into(),
            retry_after: None,
            audit_event_id: None,
            findings: Vec::new(),
            review_id: None,
        }))
    }

    /// The stable code (`error` in the API's answer).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}
