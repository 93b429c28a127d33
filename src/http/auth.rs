//! `/auth`: sign-in with the IdP, the second factor, logout. Handlers
//! extract, call the identity service, and map the result.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::action::Door;
use crate::auth::{AuthError, CallbackParams};
use crate::http::error::Problem;
use crate::http::extract::{
    clear_cookie, read_cookie, set_cookie, Meta, SessionOnly, SignedIn, Verified, LOGIN_FLOW_COOKIE,
};
use crate::http::{pages, AppState};
use crate::identity::{FactorState, MfaError, SessionId};

const LOGIN_FLOW_PATH: &str = "/auth";
const LOGIN_FLOW_MAX_AGE: i64 = 600;
/// Carries an enrollment link's token from the link, through sign-in, to
/// the second-factor pages (and nowhere else).
const INVITE_COOKIE: &str = "custodian_mfa_invite";
const INVITE_COOKIE_PATH: &str = "/auth/mfa";
const INVITE_COOKIE_MAX_AGE: i64 = 3600;

fn with_cookies(mut response: Response, cookies: &[HeaderValue]) -> Response {
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    response
}

fn session_cookie(state: &AppState, id: &SessionId) -> HeaderValue {
    set_cookie(
        &state.config.session_cookie_name(),
        id.cookie_value(),
        "/",
        state.config.cookies_secure(),
        None,
    )
}

/// `GET /`: the home page when fully signed in, else where to go next.
pub async fn home(State(state): State<AppState>, signed_in: Result<Verified, Problem>) -> Response {
    match signed_in {
        Ok(Verified(s)) => {
            // Policy decides which accounts are shown, as it decides what may be done on them.
            let accounts = match state.actions.my_accounts(&s.caller(Door::Ui)).await {
                Ok(accounts) => Some(accounts),
                Err(refusal) => {
                    tracing::error!(%refusal, "cannot list the accounts the caller may act on");
                    None
                }
            };
            let contact = &state.config.directory.help_contact;
            pages::home(&s.principal, accounts.as_deref(), contact, &s.id.csrf_token()).into_response()
        }
        Err(Problem::MfaRequired) => Redirect::to("/auth/mfa").into_response(),
        Err(Problem::NotSignedIn) => pages::sign_in().into_response(),
        // A session that just ended says why (and offers sign-in again).
        Err(other) => other.into_response(),
    }
}

/// `GET /auth/login`: starts the OIDC flow.
pub async fn login(State(state): State<AppState>, Meta(meta): Meta) -> Result<Response, Problem> {
    let (flow_id, url) = state.identity.start_sign_in(&meta).await?;
    let cookie = set_cookie(
        LOGIN_FLOW_COOKIE,
        &flow_id,
        LOGIN_FLOW_PATH,
        state.config.cookies_secure(),
        Some(LOGIN_FLOW_MAX_AGE),
    );
    Ok(with_cookies(Redirect::to(url.as_str()).into_response(), &[cookie]))
}

/// `GET /auth/callback`: the IdP's answer.
pub async fn callback(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    params: Result<Query<CallbackParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(params) =
        params.map_err(|_| Problem::BadRequest("The sign-in response is malformed.".into()))?;
    let flow = read_cookie(&headers, LOGIN_FLOW_COOKIE);
    let previous =
        read_cookie(&headers, &state.config.session_cookie_name()).and_then(|v| SessionId::parse(&v));
    let secure = state.config.cookies_secure();
    let clear_flow = clear_cookie(LOGIN_FLOW_COOKIE, LOGIN_FLOW_PATH, secure);
    match state.identity.finish_sign_in(flow.as_deref(), previous.as_ref(), &params, &meta).await {
        Ok((id, _user)) => Ok(with_cookies(
            Redirect::to("/auth/mfa").into_response(),
            &[clear_flow, session_cookie(&state, &id)],
        )),
        Err(e) => Ok(with_cookies(Problem::from(e).into_response(), &[clear_flow])),
    }
}

#[derive(Deserialize)]
pub struct InviteQuery {
    #[serde(default)]
    token: String,
}

/// `GET /auth/mfa/invite?token=...`: an enrollment link. The token goes
/// into a cookie for the second-factor pages, which check it for the user
/// signed in; the browser goes on to sign in (or straight to them).
pub async fn invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<InviteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    if !crate::identity::invites::well_formed(&token) {
        return Err(Problem::BadRequest(
            "This enrollment link is incomplete or damaged. Open the whole link you were given.".into(),
        ));
    }
    let cookie = set_cookie(
        INVITE_COOKIE,
        &token,
        INVITE_COOKIE_PATH,
        state.config.cookies_secure(),
        Some(INVITE_COOKIE_MAX_AGE),
    );
    let signed_in = read_cookie(&headers, &state.config.session_cookie_name()).is_some();
    let next = if signed_in { "/auth/mfa" } else { "/auth/login" };
    Ok(with_cookies(Redirect::to(next).into_response(), &[cookie]))
}

fn clear_invite(state: &AppState) -> HeaderValue {
    clear_cookie(INVITE_COOKIE, INVITE_COOKIE_PATH, state.config.cookies_secure())
}

/// A refused enrollment: the page says why, and the link that was refused is forgotten.
fn enrollment_refused(state: &AppState, e: AuthError) -> Response {
    with_cookies(Problem::from(e).into_response(), &[clear_invite(state)])
}

#[derive(Deserialize)]
pub struct MfaQuery {
    /// Verify again although this session already passed (step-up before a sensitive action).
    #[serde(default)]
    again: bool,
}

/// `GET /auth/mfa[?again=true]`: enrollment or verification, whichever is due.
pub async fn mfa_page(
    State(state): State<AppState>,
    s: SignedIn,
    headers: HeaderMap,
    query: Result<axum::extract::Query<MfaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let again = query.is_ok_and(|q| q.again);
    if s.principal.session.mfa_passed() && !again {
        return Ok(Redirect::to("/").into_response());
    }
    let csrf = s.id.csrf_token();
    Ok(match state.identity.factor_state(&s.principal).await? {
        FactorState::None | FactorState::Pending => {
            let invite = read_cookie(&headers, INVITE_COOKIE);
            match state.identity.begin_enrollment(&s.principal, invite.as_deref(), &s.meta).await {
                Ok(enrollment) => pages::enroll(&enrollment, &csrf, None).into_response(),
                Err(e @ AuthError::Enrollment(_)) => enrollment_refused(&state, e),
                Err(e) => return Err(e.into()),
            }
        }
        FactorState::Enabled => pages::verify(&csrf, None).into_response(),
        FactorState::Locked => Problem::MfaLocked.into_response(),
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /auth/mfa/enroll`: confirms the new factor with a code.
pub async fn enroll(
    State(state): State<AppState>,
    s: SignedIn,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, Problem> {
    if s.principal.session.mfa_passed() {
        return Err(Problem::AlreadyEnrolled);
    }
    let invite = read_cookie(&headers, INVITE_COOKIE);
    let invite = invite.as_deref();
    match state.identity.confirm_enrollment(&s.id, &s.principal, &form.code, invite, &s.meta).await {
        Ok(passed) => {
            let codes = passed.recovery_codes.unwrap_or_default();
            let page = pages::recovery_codes(&codes).into_response();
            Ok(with_cookies(page, &[session_cookie(&state, &passed.session_id), clear_invite(&state)]))
        }
        Err(e @ AuthError::Enrollment(_)) => Ok(enrollment_refused(&state, e)),
        Err(AuthError::Mfa(e)) if retryable(&e) => {
            let enrollment = state.identity.begin_enrollment(&s.principal, invite, &s.meta).await?;
            let problem = Problem::from(e);
            let (status, _, reason, _) = problem.describe();
            Ok((status, pages::enroll(&enrollment, &s.id.csrf_token(), Some(&reason))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /auth/mfa/verify`: a TOTP code or a recovery code.
pub async fn verify(
    State(state): State<AppState>,
    s: SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, Problem> {
    // A session that already passed may verify again: the step-up that
    // deletes, break-glass, API tokens and enrollment links ask for (a
    // fresh factor; policies marked `@step_up`).
    match state.identity.verify(&s.id, &s.principal, &form.code, &s.meta).await {
        Ok(passed) => {
            Ok(with_cookies(Redirect::to("/").into_response(), &[session_cookie(&state, &passed.session_id)]))
        }
        Err(AuthError::Mfa(e)) if retryable(&e) => {
            let problem = Problem::from(e);
            let (_, _, reason, _) = problem.describe();
            Ok(problem.respond_with(pages::verify(&s.id.csrf_token(), Some(&reason))))
        }
        Err(e) => Err(e.into()),
    }
}

/// Failures after which the form is shown again.
fn retryable(e: &MfaError) -> bool {
    matches!(e, MfaError::InvalidCode | MfaError::Replayed | MfaError::Throttled { .. })
}

/// `POST /auth/logout`: ends the session here, then at the IdP if it can.
pub async fn logout(State(state): State<AppState>, s: SessionOnly) -> Result<Response, Problem> {
    state.identity.logout(&s.id, &s.holder, &s.meta).await?;
    let target =
        state.identity.oidc.end_session_url().await.map(|u| u.to_string()).unwrap_or_else(|| "/".to_owned());
    let clear = clear_cookie(&state.config.session_cookie_name(), "/", state.config.cookies_secure());
    Ok(with_cookies(Redirect::to(&target).into_response(), &[clear]))
}

/// Fallback for unknown routes.
pub async fn not_found() -> Problem {
    Problem::NotFound
}
