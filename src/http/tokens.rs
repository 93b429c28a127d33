//! `/api/v1/tokens`: personal API tokens for automation. Created with a
//! fresh second factor, shown once; listed and revoked by their owner, and
//! by admins at `/api/v1/admin/tokens`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::action::{Door, Refusal};
use crate::http::actions::body;
use crate::http::admin::permitted;
use crate::http::error::ApiError;
use crate::http::extract::{Acting, Verified};
use crate::http::AppState;
use crate::identity::tokens::Scope;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    actions: Vec<String>,
    accounts: Vec<String>,
    expires_in_days: u32,
}

/// `POST /api/v1/tokens`: the token is in this answer only.
pub async fn create(
    State(state): State<AppState>,
    acting: Acting,
    request: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let b = body(request)?;
    let scope = Scope { name: b.name, actions: b.actions, accounts: b.accounts, days: b.expires_in_days };
    let caller = acting.caller(Door::Api);
    if !state.identity.tokens_usable_for(&caller.user.id).await? {
        let refusal = Refusal::invalid(
            "your identity provider gave no refresh token at your last sign-in, so Custodian could not \
             re-check a token's owner with it; sign in again, or ask your administrator to allow refresh \
             tokens (the offline_access scope) for Custodian"
                .into(),
        );
        return Err(state.actions.refuse(&caller, "token.create", "custodian", refusal).await);
    }
    let issued = state.actions.create_token(&caller, scope).await?;
    let mut answer = json!(issued.token);
    answer["token"] = json!(issued.secret.expose());
    answer["audit_event_id"] = json!(issued.audit_event_id);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /api/v1/tokens`: my tokens (never their secrets); a session only.
pub async fn mine(State(state): State<AppState>, acting: Acting) -> Result<Response, Refusal> {
    let tokens = state.actions.list_tokens(&acting.caller(Door::Api)).await?;
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of my tokens (with a token: only itself).
pub async fn revoke(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let (token, event) = state.actions.revoke_token(&acting.caller(Door::Api), &id, false).await?;
    Ok(Json(json!({ "token": token, "audit_event_id": event })).into_response())
}

/// `GET /api/v1/admin/tokens`: every token, for admins.
pub async fn all(State(state): State<AppState>, Verified(s): Verified) -> Result<Response, ApiError> {
    permitted(&state, &s, "user.revoke").await?;
    let tokens = state.directory().tokens.list(None).await?;
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

/// `DELETE /api/v1/admin/tokens/{id}`: an admin revokes anyone's token.
pub async fn revoke_any(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    permitted(&state, &s, "user.revoke").await.map_err(IntoResponse::into_response)?;
    let revoked = state.actions.revoke_token(&s.caller(Door::Api), &id, true).await;
    let (token, event) = revoked.map_err(IntoResponse::into_response)?;
    Ok(Json(json!({ "token": token, "audit_event_id": event })).into_response())
}
