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
use serde::Deserialize;
use serde_json::json;

use crate::action::{Door, Refusal};
use crate::breakglass::{BreakGlass, Filter};
use crate::http::admin::permitted;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{SignedIn, Verified};
use crate::http::AppState;
use crate::secret::Secret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    justification: Option<String>,
    /// The current TOTP code (never logged: `Debug` masks it).
    code: Option<Secret>,
}

/// The body, or the refusal of a malformed one, recorded under `action`.
async fn parsed<T>(
    state: &AppState,
    s: &SignedIn,
    action: &str,
    body: Result<Json<T>, JsonRejection>,
) -> Result<T, Refusal> {
    match body {
        Ok(Json(b)) => Ok(b),
        Err(e) => {
            let refusal = Refusal::bad_request(format!("invalid JSON body: {}", e.body_text()));
            Err(state.breakglass.refuse(&s.caller(Door::Api), action, refusal).await)
        }
    }
}

/// `POST /api/v1/breakglass`: 201 with `{id, expires_at, audit_event_id}`.
pub async fn open(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let body = parsed(&state, &s, BreakGlass::USE, body).await?;
    let code = body.code.as_ref().map(Secret::expose);
    let opened =
        state.breakglass.open(&s.principal, &s.meta, Door::Api, body.justification.as_deref(), code).await?;
    Ok((StatusCode::CREATED, Json(opened)).into_response())
}

/// `DELETE /api/v1/breakglass`: ends the caller's open grant now.
pub async fn end(State(state): State<AppState>, Verified(s): Verified) -> Result<Response, Refusal> {
    let grant = state.breakglass.end(&s.caller(Door::Api)).await?;
    Ok(Json(grant).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// Only grants in force now.
    #[serde(default)]
    open: bool,
    /// Only uses no admin has acknowledged yet.
    #[serde(default)]
    unacknowledged: bool,
}

/// `GET /api/v1/admin/breakglass`: the uses, newest first.
pub async fn list(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    permitted(&state, &s, "breakglass.review").await?;
    let Query(q) = query.map_err(|e| ApiError(Problem::BadRequest(e.body_text())))?;
    let filter = Filter { open: q.open, unacknowledged: q.unacknowledged };
    let grants = state.breakglass.list(filter).await?;
    Ok(Json(json!({ "breakglass": grants })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    note: Option<String>,
}

/// `POST /api/v1/admin/breakglass/{id}/acknowledge`: the use, acknowledged.
pub async fn acknowledge(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
    body: Result<Json<AcknowledgeBody>, JsonRejection>,
) -> Result<Response, Response> {
    permitted(&state, &s, "breakglass.review").await.map_err(IntoResponse::into_response)?;
    let body =
        parsed(&state, &s, BreakGlass::ACKNOWLEDGE, body).await.map_err(IntoResponse::into_response)?;
    let grant = state
        .breakglass
        .acknowledge(&s.caller(Door::Api), &id, body.note.as_deref())
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(grant).into_response())
}
