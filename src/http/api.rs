//! `/api/v1`: JSON for people and automation.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::directory::Access;
use crate::http::error::ApiError;
use crate::http::extract::SignedIn;
use crate::http::AppState;
use crate::identity::{FactorState, User};

#[derive(Serialize)]
pub struct Me {
    user: User,
    /// Roles, the groups that grant them, and training status: what policy sees.
    access: Access,
    /// Things to act on soon, such as training about to expire.
    warnings: Vec<String>,
    second_factor: SecondFactor,
    session: SessionInfo,
}

#[derive(Serialize)]
struct SecondFactor {
    /// `not_enrolled`, `enrolled` or `locked`.
    state: &'static str,
    /// Whether this session has passed it.
    verified: bool,
    method: Option<String>,
    verified_at: Option<Timestamp>,
}

#[derive(Serialize)]
struct SessionInfo {
    handle: String,
    /// What a cookie-authenticated write sends as `X-CSRF-Token`. Derived
    /// from the session id by a one-way hash: it does not reveal the id.
    csrf_token: String,
    created_at: Timestamp,
    /// When the session ends if idle from now on, or at its absolute limit, whichever is first.
    expires_at: Timestamp,
    idle_expires_at: Timestamp,
    absolute_expires_at: Timestamp,
}

/// `GET /api/v1/me`: who you are, your second-factor state, when your
/// session ends, and the CSRF token its cookie-authenticated writes carry.
pub async fn me(State(state): State<AppState>, s: SignedIn) -> Result<Json<Me>, ApiError> {
    let factor = state.identity.factor_state(&s.principal).await?;
    let session = s.principal.session;
    Ok(Json(Me {
        warnings: s.principal.access.warnings(),
        access: s.principal.access,
        user: s.principal.user,
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
