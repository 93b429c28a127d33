//! `/api/v1/tokens`: personal API tokens for automation. Created with a
//! fresh second factor, shown once; listed and revoked by their owner, and
//! by admins at `/api/v1/admin/tokens`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::{Door, Refusal};
use crate::http::actions::body;
use crate::http::admin::permitted;
use crate::http::error::Problem;
use crate::http::extract::{Acting, Verified};
use crate::http::{openapi, AppState};
use crate::identity::tokens::TokenScope;
use crate::identity::ApiToken;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TokenRequest)]
pub struct CreateBody {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[schema(value_type = Vec<openapi::AccountAction>, min_items = 1)]
    actions: Vec<String>,
    #[schema(min_items = 1)]
    accounts: Vec<String>,
    #[schema(minimum = 1, maximum = 90)]
    expires_in_days: u32,
}

/// A token just created. `token` is shown here once and never again (only its SHA-256 is kept).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenCreated<'a> {
    #[serde(flatten)]
    listed: ApiToken,
    /// The secret: send it as `Authorization: Bearer <token>`.
    #[schema(examples("cst_..."))]
    token: &'a str,
    audit_event_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    tokens: Vec<ApiToken>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenRevoked {
    token: ApiToken,
    audit_event_id: String,
}

/// `POST /api/v1/tokens`: the token is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    operation_id = "createToken",
    summary = "Create a personal API token (policy action token.create: needs a second factor from the last 5 minutes)",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created: the token, shown this once.", body = TokenCreated),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 422, response = openapi::ActionUnprocessable),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    acting: Acting,
    request: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let b = body(request)?;
    let scope =
        TokenScope { name: b.name, actions: b.actions, accounts: b.accounts, days: b.expires_in_days };
    let caller = acting.caller(Door::Api);
    if !state.identity.tokens_usable_for(&caller.user().id).await? {
        let refusal = Refusal::invalid(
            "your identity provider gave no refresh token at your last sign-in, so Custodian could not \
             re-check a token's owner with it; sign in again, or ask your administrator to allow refresh \
             tokens (the offline_access scope) for Custodian"
                .into(),
        );
        return Err(state.actions.refuse(&caller, "token.create", "custodian", refusal).await);
    }
    let issued = state.actions.create_token(&caller, scope).await?;
    let answer = TokenCreated {
        listed: issued.token,
        token: issued.secret.expose(),
        audit_event_id: issued.audit_event_id.into_string(),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /api/v1/tokens`: my tokens (never their secrets); a session only.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "tokens",
    operation_id = "listMyTokens",
    summary = "List my API tokens (never their secrets); a signed-in session only: a token is refused (`session_required`)",
    responses(
        (status = 200, description = "My tokens, newest first, revoked and expired ones included.", body = TokenList),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 500, response = openapi::ServerError),
    ),
    security(("sessionCookie" = []), ("apiToken" = [])),
)]
pub async fn mine(State(state): State<AppState>, acting: Acting) -> Result<Response, Refusal> {
    let tokens = state.actions.list_tokens(&acting.caller(Door::Api)).await?;
    Ok(Json(TokenList { tokens }).into_response())
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of my tokens (with a token: only itself).
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    operation_id = "revokeMyToken",
    summary = "Revoke one of my API tokens; with an API token, only that token itself (another: `session_required`)",
    params(openapi::TokenParam),
    responses(
        (status = 200, description = "Revoked.", body = TokenRevoked),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn revoke(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let (token, audit_event_id) = state.actions.revoke_token(&acting.caller(Door::Api), &id, false).await?;
    Ok(Json(TokenRevoked { token, audit_event_id: audit_event_id.into_string() }).into_response())
}

/// `GET /api/v1/admin/tokens`: every token, for admins.
#[utoipa::path(
    get,
    path = "/api/v1/admin/tokens",
    tag = "admin",
    operation_id = "listAllTokens",
    summary = "List every user's API tokens (admins)",
    responses(
        (status = 200, description = "Every token, newest first.", body = TokenList),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn all(State(state): State<AppState>, Verified(s): Verified) -> Result<Response, Problem> {
    permitted(&state, &s, "user.revoke").await?;
    let tokens = state.directory().tokens.list(None).await?;
    Ok(Json(TokenList { tokens }).into_response())
}

/// `DELETE /api/v1/admin/tokens/{id}`: an admin revokes anyone's token.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/tokens/{id}",
    tag = "admin",
    operation_id = "revokeAnyToken",
    summary = "Revoke anyone's API token (admins)",
    params(openapi::TokenParam),
    responses(
        (status = 200, description = "Revoked.", body = TokenRevoked),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn revoke_any(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    permitted(&state, &s, "user.revoke").await.map_err(IntoResponse::into_response)?;
    let revoked = state.actions.revoke_token(&s.caller(Door::Api), &id, true).await;
    let (token, audit_event_id) = revoked.map_err(IntoResponse::into_response)?;
    Ok(Json(TokenRevoked { token, audit_event_id: audit_event_id.into_string() }).into_response())
}
