//! The one error → status table. Every refusal tells the caller what
//! happened and what to do about it; a 5xx says nothing internal (the detail
//! goes to the log, inside the request's span).

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::audit::{AuditError, LoginFailure, SessionEnd};
use crate::auth::AuthError;
use crate::domain::{Kind, Refusal};
use crate::http::pages;
use crate::identity::MfaError;

/// What went wrong, in the product's words.
#[derive(Debug)]
pub enum Problem {
    NotSignedIn,
    SessionEnded(SessionEnd),
    /// A revocation ended the session: its reason, and whom to ask.
    SessionRevoked {
        reason: String,
        contact: String,
    },
    MfaRequired,
    /// A cookie-authenticated write without this session's CSRF token: from
    /// a page's form, or from a script calling `/api/...` with the cookie.
    CsrfFailed {
        api: bool,
    },
    /// A GET that acts, sent with the session cookie from another site (or not saying where from).
    CrossSite,
    BadRequest(String),
    PayloadTooLarge,
    /// The route does not answer this method.
    MethodNotAllowed,
    /// The request took longer than the server allows.
    RequestTimeout,
    /// The framework could not read the request as the route takes it (a
    /// form's missing field, a body of another media type): its status
    /// and its words.
    Unreadable {
        status: StatusCode,
        why: String,
    },
    NotFound,
    /// A named thing does not exist.
    NotFoundWhy(String),
    SignInFailed(LoginFailure),
    /// The directory gate refused a signed-in user.
    AccessDenied(crate::directory::Denied),
    /// A step of the action path refused (policy, most often): its own words and rule.
    Refused(crate::action::Refusal),
    /// An API token that is unknown, expired or revoked.
    TokenInvalid(crate::identity::Unusable),
    /// `oidc-claims` mode: the IdP has not confirmed the token's owner since
    /// this time, past the grace (None: it cannot be asked).
    OwnerUnconfirmed(Option<crate::clock::Timestamp>),
    /// A directory change was refused (bad input).
    Invalid(String),
    InvalidCode(String),
    MfaThrottled {
        retry_after_secs: u64,
    },
    MfaLocked,
    /// Too many sign-ins started from one address.
    SignInsThrottled {
        retry_after_secs: u64,
    },
    AlreadyEnrolled,
    /// A user without a factor may not enroll one now (`mfa.enrollment`):
    /// why, and whom to ask.
    EnrollmentRefused(crate::auth::EnrollRefused),
    /// The request conflicts with the state of what it names.
    Conflict(String),
    AuditUnavailable,
    NotAuditor,
    /// An account connection's state is unknown, used, expired or another admin's.
    ConnectRejected(String),
    /// The platform refused (its words).
    PlatformRefused(String),
    /// The platform could not be reached, or gave no usable answer.
    PlatformUnavailable(String),
    Internal,
}

impl Problem {
    /// The table: status, stable error code, what happened, what to do.
    pub fn describe(&self) -> (StatusCode, &'static str, String, Cow<'_, str>) {
        use Problem::*;
        match self {
            NotSignedIn => (
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                "You are not signed in.".into(),
                "Sign in at /auth/login.".into(),
            ),
            SessionEnded(SessionEnd::IdleTimeout) => (
                StatusCode::UNAUTHORIZED,
                "session_ended",
                "You were signed out after a period of inactivity.".into(),
                "Sign in again at /auth/login.".into(),
            ),
            SessionEnded(SessionEnd::AbsoluteLifetime) => (
                StatusCode::UNAUTHORIZED,
                "session_ended",
                "Your session reached its maximum length.".into(),
                "Sign in again at /auth/login.".into(),
            ),
            SessionRevoked { reason, contact } => (
                StatusCode::UNAUTHORIZED,
                "session_revoked",
                format!("Your session was ended: {reason}. If you think this is a mistake, ask {contact}."),
                "Sign in again at /auth/login; if your access itself was ended, you will be told so there.".into(),
            ),
            MfaRequired => (
                StatusCode::FORBIDDEN,
                "mfa_required",
                "Your second factor has not been verified in this session.".into(),
                "Complete the second factor at /auth/mfa.".into(),
            ),
            CsrfFailed { api: false } => (
                StatusCode::FORBIDDEN,
                "csrf_token_invalid",
                "The request did not carry this session's CSRF token.".into(),
                "Reload the page and submit the form again.".into(),
            ),
            CsrfFailed { api: true } => (
                StatusCode::FORBIDDEN,
                "csrf_token_invalid",
                "The request carried the session cookie but not this session's CSRF token in the X-CSRF-Token header.".into(),
                "Read session.csrf_token from GET /api/v1/me (with the same cookie) and send it as the X-CSRF-Token header; it changes when the session does. Automation can use an API token instead (POST /api/v1/tokens), which needs no CSRF token.".into(),
            ),
            CrossSite => (
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "This request came from another site, or from a browser that does not say where it came from, so it was not carried out.".into(),
                "Open it from Custodian's own pages in a current browser, or call the API with an API token.".into(),
            ),
            BadRequest(why) => {
                (StatusCode::BAD_REQUEST, "bad_request", why.clone(), "Correct the request and retry.".into())
            }
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than this server accepts.".into(),
                "Send a smaller request.".into(),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This address does not answer this method.".into(),
                "Use a method the Allow header lists.".into(),
            ),
            RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request took longer than the server allows, so it was not completed.".into(),
                "Retry; send the body promptly.".into(),
            ),
            Unreadable { status, why } => (
                *status,
                match *status {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::UNPROCESSABLE_ENTITY => "invalid",
                    _ => "bad_request",
                },
                why.clone(),
                "Correct the request and retry.".into(),
            ),
            NotFound => {
                (StatusCode::NOT_FOUND, "not_found", "There is nothing here.".into(), "Check the address.".into())
            }
            NotFoundWhy(why) => (StatusCode::NOT_FOUND, "not_found", why.clone(), "Check the name or id.".into()),
            SignInFailed(reason) => {
                let (status, code, why, remedy) = sign_in_failure(reason);
                (status, code, why, remedy.into())
            }
            AccessDenied(denied) => (
                StatusCode::FORBIDDEN,
                denied.refusal.code(),
                denied.to_string(),
                "Once your access is restored, reload this page. This attempt was recorded.".into(),
            ),
            Refused(r) => (status_of(r.kind), r.code(), r.reason.clone(), Cow::Borrowed(&r.remedy)),
            TokenInvalid(why) => (
                StatusCode::UNAUTHORIZED,
                "token_invalid",
                format!("{}. This attempt was recorded.", capitalized(why.message())),
                "Create a new token (POST /api/v1/tokens, with a fresh second factor), or sign in.".into(),
            ),
            OwnerUnconfirmed(None) => (
                StatusCode::UNAUTHORIZED,
                "owner_unconfirmed",
                "Custodian cannot re-check your account with your identity provider: it gave no refresh token at your last sign-in. This attempt was recorded.".into(),
                "Sign in again; if this persists, your administrator must let Custodian receive refresh tokens (the offline_access scope).".into(),
            ),
            OwnerUnconfirmed(Some(since)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "owner_unconfirmed",
                format!(
                    "Your identity provider has not confirmed your account since {}; API tokens are suspended until it does. This attempt was recorded.",
                    since.rfc3339()
                ),
                "Retry later; your tokens work again as soon as the identity provider answers.".into(),
            ),
            Invalid(why) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", why.clone(), "Correct the request and retry.".into())
            }
            InvalidCode(why) => (
                StatusCode::BAD_REQUEST,
                "invalid_code",
                why.clone(),
                "Enter the current code from your authenticator app.".into(),
            ),
            MfaThrottled { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "mfa_throttled",
                format!("Too many failed attempts. Try again in {retry_after_secs} seconds."),
                "Wait, then enter a fresh code.".into(),
            ),
            SignInsThrottled { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_sign_ins",
                format!(
                    "Too many sign-ins were started from your address. Try again in {retry_after_secs} seconds."
                ),
                "Wait, then sign in again at /auth/login. This attempt was recorded.".into(),
            ),
            MfaLocked => (
                StatusCode::LOCKED,
                "mfa_locked",
                "Your second factor is locked after too many failed attempts.".into(),
                "Ask a Custodian administrator to reset it (custodian users reset-mfa).".into(),
            ),
            AlreadyEnrolled => (
                StatusCode::CONFLICT,
                "mfa_already_enrolled",
                "A second factor is already enrolled.".into(),
                "Verify with your authenticator app at /auth/mfa.".into(),
            ),
            EnrollmentRefused(why) => (
                StatusCode::FORBIDDEN,
                match why {
                    crate::auth::EnrollRefused::NeedsInvite { .. } => "mfa_invite_required",
                    crate::auth::EnrollRefused::Invite { .. } => "mfa_invite_refused",
                },
                format!("{why} This attempt was recorded."),
                "Open the enrollment link while signed in as yourself: it works once, until it expires.".into(),
            ),
            Conflict(why) => {
                (StatusCode::CONFLICT, "conflict", why.clone(), "Check the state of what you named.".into())
            }
            NotAuditor => (
                StatusCode::FORBIDDEN,
                "not_auditor",
                "Only auditors may read the audit journal. This attempt was recorded.".into(),
                "Ask your Custodian administrator for auditor access if your role needs it.".into(),
            ),
            AuditUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "audit_unavailable",
                "The audit journal cannot be written, so nothing was done.".into(),
                "Try again shortly; if it persists, tell your Custodian administrator.".into(),
            ),
            ConnectRejected(why) => (
                StatusCode::BAD_REQUEST,
                "connect_rejected",
                why.clone(),
                "Start connecting the account again.".into(),
            ),
            PlatformRefused(why) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "platform_refused",
                why.clone(),
                "Check the account and what was granted at the platform, then try again.".into(),
            ),
            PlatformUnavailable(why) => {
                (StatusCode::BAD_GATEWAY, "platform_unavailable", why.clone(), "Try again later.".into())
            }
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side. Nothing was changed.".into(),
                "Try again; if it persists, tell your Custodian administrator and quote the request id.".into(),
            ),
        }
    }

    /// Answers with this problem's status (and `Retry-After`) around a custom body,
    /// e.g. a form shown again with the reason.
    pub fn respond_with(&self, body: impl IntoResponse) -> Response {
        let (status, ..) = self.describe();
        with_retry_after((status, body).into_response(), self)
    }

    /// Which rule refused: the gate and its check, a role, or the request itself.
    pub fn rule(&self) -> String {
        use Problem::*;
        match self {
            NotSignedIn | SessionEnded(_) | SessionRevoked { .. } => "gate:identity".into(),
            MfaRequired
            | MfaThrottled { .. }
            | MfaLocked
            | InvalidCode(_)
            | AlreadyEnrolled
            | EnrollmentRefused(_) => "gate:second-factor".into(),
            TokenInvalid(_) | OwnerUnconfirmed(_) => "gate:token".into(),
            Refused(r) => r.rule.clone(),
            AccessDenied(d) => format!("gate:{}", d.refusal.gate()),
            NotAuditor => "role:auditor".into(),
            CsrfFailed { .. } | CrossSite => "csrf".into(),
            AuditUnavailable => "fail-closed".into(),
            SignInFailed(_) | SignInsThrottled { .. } => "sign-in".into(),
            ConnectRejected(_) | PlatformRefused(_) | PlatformUnavailable(_) => "platform".into(),
            Internal => "internal".into(),
            BadRequest(_)
            | PayloadTooLarge
            | MethodNotAllowed
            | RequestTimeout
            | Unreadable { .. }
            | NotFound
            | NotFoundWhy(_)
            | Invalid(_)
            | Conflict(_) => "request".into(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Problem::MfaThrottled { retry_after_secs } | Problem::SignInsThrottled { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            Problem::AuditUnavailable => Some(5),
            Problem::OwnerUnconfirmed(Some(_)) => Some(60),
            Problem::Refused(r) => r.retry_after,
            _ => None,
        }
    }
}

/// The status each kind of refusal is answered with: the one place a
/// refusal of the action path (or SCIM, or break-glass) meets HTTP.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::BadRequest | Kind::BadPassThrough | Kind::InvalidCode => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated | Kind::TokenRequired | Kind::MfaRequired => StatusCode::UNAUTHORIZED,
        Kind::TokenOutOfScope
        | Kind::SessionRequired
        | Kind::VerifyAgain
        | Kind::Forbidden
        | Kind::RouteNotAllowed
        | Kind::PlatformRefused => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        Kind::Conflict
        | Kind::AccountLocked
        | Kind::StillOpen
        | Kind::BreakglassOpen
        | Kind::AlreadyAcknowledged
        | Kind::AccountUnavailable
        | Kind::CredentialUnreadable
        | Kind::Duplicate => StatusCode::CONFLICT,
        Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::Invalid | Kind::Unsupported => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::MfaLocked => StatusCode::LOCKED,
        Kind::MfaThrottled | Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Kind::CredentialWithheld | Kind::PlatformUnavailable => StatusCode::BAD_GATEWAY,
        Kind::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::HeldForReview => StatusCode::ACCEPTED,
        Kind::ContentBlocked => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn sign_in_failure(reason: &LoginFailure) -> (StatusCode, &'static str, String, &'static str) {
    let again = "Start again at /auth/login.";
    match reason {
        LoginFailure::ProviderError(code) => (
            StatusCode::BAD_REQUEST,
            "sign_in_failed",
            format!("The identity provider did not complete the sign-in ({code})."),
            again,
        ),
        LoginFailure::StateMismatch => (
            StatusCode::BAD_REQUEST,
            "sign_in_failed",
            "The sign-in response does not belong to the sign-in this browser started.".into(),
            again,
        ),
        LoginFailure::NoLoginInProgress => (
            StatusCode::BAD_REQUEST,
            "sign_in_failed",
            "No sign-in is in progress in this browser, or it took too long.".into(),
            again,
        ),
        LoginFailure::CodeExchange => (
            StatusCode::BAD_REQUEST,
            "sign_in_failed",
            "The identity provider's response carried no authorization code.".into(),
            again,
        ),
        LoginFailure::InvalidIdToken(why) => (
            StatusCode::BAD_REQUEST,
            "sign_in_failed",
            format!("The identity provider's ID token was refused: {why}."),
            again,
        ),
        LoginFailure::ProviderUnavailable => (
            StatusCode::BAD_GATEWAY,
            "identity_provider_unavailable",
            "The identity provider cannot be reached right now.".into(),
            "Try again in a few minutes; if it persists, tell your Custodian administrator.",
        ),
        LoginFailure::DirectoryRefused(why) => (
            StatusCode::FORBIDDEN,
            "not_allowed",
            why.clone(),
            "Once your access is fixed, sign in again at /auth/login.",
        ),
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NotSignedIn => Problem::NotSignedIn,
            AuthError::SessionEnded(reason) => Problem::SessionEnded(reason),
            AuthError::SessionRevoked { reason, contact } => Problem::SessionRevoked { reason, contact },
            AuthError::MfaRequired => Problem::MfaRequired,
            AuthError::SignIn(reason) => Problem::SignInFailed(reason),
            AuthError::SignInsThrottled { retry_after_secs } => {
                Problem::SignInsThrottled { retry_after_secs }
            }
            AuthError::Denied(d) => Problem::AccessDenied(d),
            AuthError::TokenInvalid(why) => Problem::TokenInvalid(why),
            AuthError::OwnerUnconfirmed(since) => Problem::OwnerUnconfirmed(since),
            AuthError::Mfa(e) => e.into(),
            AuthError::Enrollment(why) => Problem::EnrollmentRefused(why),
            AuthError::Audit(e) => e.into(),
            AuthError::Storage(e) => {
                tracing::error!(error = %e, "storage error");
                Problem::Internal
            }
        }
    }
}

/// A message from below, as the start of a sentence.
fn capitalized(message: &str) -> String {
    let mut s = message.to_owned();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

impl From<MfaError> for Problem {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::InvalidCode | MfaError::Replayed | MfaError::NotEnrolled => {
                Problem::InvalidCode(format!("{}.", capitalized(&e.to_string())))
            }
            MfaError::Throttled { retry_after_secs } => Problem::MfaThrottled { retry_after_secs },
            MfaError::Locked => Problem::MfaLocked,
            MfaError::AlreadyEnrolled => Problem::AlreadyEnrolled,
            other => {
                tracing::error!(error = %other, "second-factor error");
                Problem::Internal
            }
        }
    }
}

impl From<crate::action::Refusal> for Problem {
    fn from(r: crate::action::Refusal) -> Self {
        Problem::Refused(r)
    }
}

impl From<AuditError> for Problem {
    fn from(e: AuditError) -> Self {
        tracing::error!(error = %e, "audit journal write failed; refusing");
        Problem::AuditUnavailable
    }
}

impl From<sqlx::Error> for Problem {
    fn from(e: sqlx::Error) -> Self {
        AuthError::Storage(e).into()
    }
}

#[derive(serde::Serialize)]
struct Body<'a> {
    error: &'a str,
    reason: &'a str,
    rule: String,
    remedy: &'a str,
    /// The recorded intent, when the platform refused after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_event_id: Option<&'a str>,
    /// What the content screen found (kinds, rules, positions; never the text).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    findings: &'a [crate::domain::Finding],
    /// The review a held action waits in.
    #[serde(skip_serializing_if = "Option::is_none")]
    review_id: Option<&'a str>,
}

fn with_retry_after(mut response: Response, problem: &Problem) -> Response {
    if let Some(secs) = problem.retry_after() {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// What a browser is shown instead of the JSON answer: left on the response
/// by [`Problem`]'s answer for [`answers`].
#[derive(Clone)]
struct PageParts {
    reason: String,
    remedy: String,
}

/// Every error answer: the status from the table, the JSON body (`error`,
/// `reason`, `rule`, `remedy`), `Retry-After` where waiting helps, and a
/// bearer challenge for a refused token. Outside `/api` and `/proxy`,
/// [`answers`] shows it as a page instead. The one error type
/// of every handler, extractor and middleware.
impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (status, error, reason, remedy) = self.describe();
        let rule = self.rule();
        let (audit_event_id, findings, review_id) = match &self {
            Problem::Refused(r) => (r.audit_event_id.as_deref(), &r.findings[..], r.review_id.as_deref()),
            _ => (None, &[][..], None),
        };
        let body = Body {
            error,
            reason: &reason,
            rule: rule.clone(),
            remedy: &remedy,
            audit_event_id,
            findings,
            review_id,
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, Problem::TokenInvalid(_)) {
            let challenge = axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\"");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        // A refusal of the path names its rule on the page too.
        let reason = match &self {
            Problem::Refused(_) => format!("{reason} (rule: {rule})"),
            _ => reason,
        };
        response.extensions_mut().insert(PageParts { reason, remedy: remedy.into_owned() });
        with_retry_after(response, &self)
    }
}

/// A refusal of the path answers like every other problem.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        Problem::Refused(self).into_response()
    }
}

/// What the framework said it could not read in a request (a JSON body,
/// a form, a query), without the values the client sent: serde quotes a
/// wrong value (``invalid type: integer `805073` ``), and a body may carry
/// a second factor's code or a password, which must not come back in an
/// answer or land in the journal. The field's path and what was wrong stay,
/// and what was expected (serde's words after the value: the type, or the
/// values it takes).
pub fn rejection_words(text: &str) -> String {
    let markers = ["invalid type", "invalid value", "unknown variant", "invalid length"];
    let cut = markers.iter().filter_map(|m| text.find(m).map(|at| at + m.len())).min();
    let Some(end) = cut else { return text.to_owned() };
    let expected = text[end..].rfind(", expected ").map(|at| &text[end + at..]).unwrap_or("");
    format!("{} (the value sent is not repeated here){expected}", &text[..end])
}

/// Why a JSON body could not be read: over the size limit, or a bad request
/// in [`rejection_words`].
pub fn json_rejection(e: &axum::extract::rejection::JsonRejection) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Problem::PayloadTooLarge;
    }
    Problem::BadRequest(format!("invalid JSON body: {}", rejection_words(&e.body_text())))
}

/// Whether a request is answered in JSON: the API and the pass-through
/// proxy. Everything else is a browser's page.
pub fn wants_json(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/proxy/")
}

/// The last word on every error answer but SCIM's (its own RFC 7644
/// body), `/metrics` (Prometheus's) and the pass-through proxy's (a
/// platform's own answer is passed back as it came). An error the
/// framework or a layer answered by itself (a body over the limit, a
/// method the route does not take, a timeout, a form it could not read)
/// becomes the problem it is; and outside `/api` and `/proxy`, a problem
/// is shown as a page, under the same status and headers. So every error
/// answer has the one shape.
pub async fn answers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let json = wants_json(path);
    let own_format = path.starts_with("/scim/") || path.starts_with("/proxy/") || path == "/metrics";
    let mut response = next.run(request).await;
    if !own_format && response.extensions().get::<PageParts>().is_none() && is_bare_error(&response) {
        response = problem_of_bare(response).await;
    }
    match response.extensions_mut().remove::<PageParts>() {
        Some(parts) if !json => as_page(&response, &parts),
        _ => response,
    }
}

/// The page a problem's answer is shown as: the same status and headers.
fn as_page(response: &Response, parts: &PageParts) -> Response {
    let status = response.status();
    let mut page = (status, pages::error(status, &parts.reason, &parts.remedy)).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().append(name, value.clone());
        }
    }
    page
}

/// An error answered without a problem: a 4xx or 5xx with no body type,
/// or a plain-text one.
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    let plain = match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v.as_bytes().starts_with(b"text/plain"),
    };
    (status.is_client_error() || status.is_server_error()) && plain
}

/// The problem a bare error is, answered like every other (an `Allow`
/// header kept).
async fn problem_of_bare(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let problem = match parts.status {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::PayloadTooLarge,
        StatusCode::METHOD_NOT_ALLOWED => Problem::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => Problem::RequestTimeout,
        StatusCode::NOT_FOUND => Problem::NotFound,
        status if status.is_client_error() => {
            // An extractor's rejection says what it could not read.
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            let why = rejection_words(String::from_utf8_lossy(&text).trim());
            let why = if why.is_empty() { "The request could not be read.".to_owned() } else { why };
            Problem::Unreadable { status, why }
        }
        _ => Problem::Internal,
    };
    let mut answer = problem.into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::rejection_words;

    #[test]
    fn a_rejection_keeps_what_was_expected_but_never_the_value_sent() {
        let said = rejection_words(
            "Failed to deserialize query string: state: unknown variant `bogus, expected x`, expected one of `held`, `scheduled`",
        );
        assert_eq!(
            said,
            "Failed to deserialize query string: state: unknown variant (the value sent is not repeated here), expected one of `held`, `scheduled`"
        );
        let said =
            rejection_words("code: invalid type: integer `805073`, expected a string at line 1 column 40");
        assert!(
            !said.contains("805073") && said.ends_with(", expected a string at line 1 column 40"),
            "{said}"
        );
        assert_eq!(rejection_words("missing field `text`"), "missing field `text`");
    }
}
