//! `/api/v1`: JSON for people and automation.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::directory::Access;
use crate::http::error::Problem;
use crate::http::extract::SignedIn;
use crate::http::{openapi, AppState};
use crate::identity::{FactorState, User};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    user: User,
    /// Roles, the groups that grant them, and training status: what policy sees.
    access: Access,
    /// Things to act on soon, such as training about to expire.
    warnings: Vec<String>,
    second_factor: SecondFactor,
    session: SessionInfo,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SecondFactor {
    /// `not_enrolled`, `enrolled` or `locked`.
    #[schema(schema_with = factor_states)]
    state: &'static str,
    /// Whether this session has passed it.
    verified: bool,
    #[schema(required = true)]
    method: Option<String>,
    #[schema(required = true)]
    verified_at: Option<Timestamp>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SessionInfo {
    /// The session's public handle (never its id).
    handle: String,
    /// What a state-changing request with this session's cookie sends as the
    /// `X-CSRF-Token` header (see the `csrfToken` security scheme). A one-way
    /// derivation of the session id, which it does not reveal.
    csrf_token: String,
    created_at: Timestamp,
    /// When the session ends if idle from now on, or at its absolute limit, whichever is first.
    expires_at: Timestamp,
    idle_expires_at: Timestamp,
    absolute_expires_at: Timestamp,
}

/// The values `SecondFactor::state` takes.
fn factor_states() -> utoipa::openapi::Object {
    openapi::one_of(&["not_enrolled", "enrolled", "locked"]).build()
}

/// `GET /api/v1/me`: who you are, your second-factor state, when your
/// session ends, and the CSRF token its cookie-authenticated writes carry.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    operation_id = "getMe",
    summary = "Who you are, your second-factor state, when your session ends, your session's CSRF token",
    description = "Answers before the second factor is passed, so a client can tell the user to pass it. \
        A script holding the session cookie reads `session.csrf_token` here and sends it as `X-CSRF-Token` \
        on every state-changing call.",
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn me(State(state): State<AppState>, s: SignedIn) -> Result<Json<Me>, Problem> {
    let factor = state.identity.factor_state(&s.principal).await?;
    let warnings = s.principal.access().warnings();
    let crate::auth::SessionPrincipal { session, admitted } = s.principal;
    let (user, access) = admitted.into_parts();
    Ok(Json(Me {
        warnings,
        access,
        user,
        second_factor: SecondFactor {
            state: match factor {
                FactorState::None | FactorState::Pending => "not_enrolled",
                FactorState::Enabled => "enrolled",
                FactorState::Locked => "locked",
            },
            verified: session.mfa_passed(),
            method: session.mfa_method.clone(),
            verified_at: session.mfa_verified_at,
        },
        session: SessionInfo {
            csrf_token: s.id.csrf_token(),
            expires_at: session.expires_at(),
            handle: session.handle,
            created_at: session.created_at,
            idle_expires_at: session.idle_expires_at,
            absolute_expires_at: session.absolute_expires_at,
        },
    }))
}
