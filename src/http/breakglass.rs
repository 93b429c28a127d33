//! Break-glass over HTTP: `POST /api/v1/breakglass` opens emergency access
//! (`{justification, code}`), `DELETE /api/v1/breakglass` ends it early;
//! admins list uses at `GET /api/v1/admin/breakglass[?open=true][&unacknowledged=true]`
//! and acknowledge another admin's at
//! `POST /api/v1/admin/breakglass/{id}/acknowledge` (`{note}`). The
//! service decides and records; a refusal is `{error, reason, rule, remedy}`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::{Door, Refusal};
use crate::breakglass::{BreakGlass, BreakGlassGrant, GrantFilter, Opened};
use crate::http::actions::recorded_body;
use crate::http::admin::permitted;
use crate::http::error::{rejection_words, Problem};
use crate::http::extract::Verified;
use crate::http::{openapi, AppState};
use crate::secret::Secret;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BreakGlassRequest)]
pub struct OpenBody {
    /// Why emergency access is needed: 20 to 2000 characters, at least three words.
    justification: Option<String>,
    /// A current TOTP code from the authenticator app (the fresh second
    /// factor; recovery codes are refused).
    // Never logged: `Debug` masks it.
    #[schema(value_type = Option<String>)]
    code: Option<Secret>,
}

/// `POST /api/v1/breakglass`: 201 with `{id, expires_at, audit_event_id}`.
#[utoipa::path(
    post,
    path = "/api/v1/breakglass",
    tag = "breakglass",
    operation_id = "openBreakGlass",
    summary = "Open break-glass (policy action breakglass.use): time-boxed emergency access on every account, each action flagged",
    request_body = OpenBody,
    responses(
        (status = 201, description = "Open until `expires_at`; the `breakglass.open` event was recorded first.", body = Opened),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 409, response = openapi::ActionConflict),
        (status = 422, response = openapi::ActionUnprocessable),
        (status = 429, response = openapi::RateLimited),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn open(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let body = recorded_body(&state, &s.caller(Door::Api), BreakGlass::USE, body).await?;
    let code = body.code.as_ref().map(Secret::expose);
    let opened =
        state.breakglass.open(&s.principal, &s.meta, Door::Api, body.justification.as_deref(), code).await?;
    Ok((StatusCode::CREATED, Json(opened)).into_response())
}

/// `DELETE /api/v1/breakglass`: ends the caller's open grant now.
#[utoipa::path(
    delete,
    path = "/api/v1/breakglass",
    tag = "breakglass",
    operation_id = "endBreakGlass",
    summary = "End my open break-glass grant now",
    responses(
        (status = 200, description = "The grant, ended.", body = BreakGlassGrant),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn end(State(state): State<AppState>, Verified(s): Verified) -> Result<Response, Refusal> {
    let grant = state.breakglass.end(&s.caller(Door::Api)).await?;
    Ok(Json(grant).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreakGlassListQuery {
    /// Only grants in force now.
    #[serde(default)]
    #[param(default = false)]
    open: bool,
    /// Only uses no admin has acknowledged yet.
    #[serde(default)]
    #[param(default = false)]
    unacknowledged: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BreakGlassList)]
pub struct Listed {
    breakglass: Vec<BreakGlassGrant>,
}

/// `GET /api/v1/admin/breakglass`: the uses, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/breakglass",
    tag = "admin",
    operation_id = "listBreakGlass",
    summary = "List break-glass uses (admins)",
    params(BreakGlassListQuery),
    responses(
        (status = 200, description = "The uses, newest first.", body = Listed),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<BreakGlassListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    permitted(&state, &s, "breakglass.review").await?;
    let Query(q) = query.map_err(|e| Problem::BadRequest(rejection_words(&e.body_text())))?;
    let filter = GrantFilter { open: q.open, unacknowledged: q.unacknowledged };
    let breakglass = state.breakglass.list(filter).await?;
    Ok(Json(Listed { breakglass }).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AcknowledgeRequest)]
pub struct AcknowledgeBody {
    /// What the reviewing admin found (required).
    note: Option<String>,
}

/// `POST /api/v1/admin/breakglass/{id}/acknowledge`: the use, acknowledged.
#[utoipa::path(
    post,
    path = "/api/v1/admin/breakglass/{id}/acknowledge",
    tag = "admin",
    operation_id = "acknowledgeBreakGlass",
    summary = "Acknowledge another user's ended break-glass use (admins)",
    params(("id" = String, Path, description = "The grant's id.")),
    request_body = AcknowledgeBody,
    responses(
        (status = 200, description = "The use, acknowledged.", body = BreakGlassGrant),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 422, response = openapi::ActionUnprocessable),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
    body: Result<Json<AcknowledgeBody>, JsonRejection>,
) -> Result<Response, Response> {
    permitted(&state, &s, "breakglass.review").await.map_err(IntoResponse::into_response)?;
    let body = recorded_body(&state, &s.caller(Door::Api), BreakGlass::ACKNOWLEDGE, body)
        .await
        .map_err(IntoResponse::into_response)?;
    let grant = state
        .breakglass
        .acknowledge(&s.caller(Door::Api), &id, body.note.as_deref())
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(grant).into_response())
}
