//! Inbound moderation over HTTP: `GET /api/v1/moderation` (the held
//! comments a moderator may decide; filters: account, state),
//! `GET /api/v1/moderation/{id}` (with what it said: the read is recorded),
//! `POST .../restore` (`{reason?}`) and `POST .../keep` (`{reason}`), for
//! whom policy allows `comment.moderate` on the comment's account; admins
//! list the posts made outside Custodian at `GET /api/v1/admin/unrecorded`.
//! The moderation service decides and records; a refusal is
//! `{error, reason, rule, remedy}`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::{Door, Gated, Refusal};
use crate::http::actions::recorded_body;
use crate::http::admin::permitted;
use crate::http::error::{rejection_words, Problem};
use crate::http::extract::Verified;
use crate::http::{openapi, AppState};
use crate::inbox::{HeldComment, HeldState, UnrecordedPost};
use crate::moderation::{CommentDecision, HeldCommentDetail, Moderation};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ModerationListQuery {
    /// Only held comments on this account (refused when policy does not let
    /// you moderate it); without it, every account policy lets you moderate.
    account: Option<String>,
    /// Only those in this state (hidden, queued, restored, kept_hidden).
    state: Option<HeldState>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HeldComments {
    comments: Vec<HeldComment>,
}

/// `GET /api/v1/moderation`: the held comments, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/moderation",
    tag = "moderation",
    operation_id = "listHeldComments",
    summary = "List the inbound comments the content screen held, oldest first (policy comment.moderate on their accounts); never their text",
    params(ModerationListQuery),
    responses(
        (status = 200, description = "The held comments, oldest first (at most 500).", body = HeldComments),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::UnknownAccount),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<ModerationListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::BadRequest(rejection_words(&e.body_text())))?;
    let comments = state.moderation.list(&s.principal, &s.meta, q.account.as_deref(), q.state).await?;
    Ok(Json(HeldComments { comments }).into_response())
}

/// `GET /api/v1/moderation/{id}`: one held comment and what it said.
#[utoipa::path(
    get,
    path = "/api/v1/moderation/{id}",
    tag = "moderation",
    operation_id = "getHeldComment",
    summary = "One held comment, its findings, and who wrote it and what it said (policy comment.moderate; the read is recorded)",
    params(("id" = String, Path, description = "The held comment's id (`md_...`).")),
    responses(
        (status = 200, description = "The held comment; `content` is null once a moderator decided it.", body = HeldCommentDetail),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    Ok(Json(state.moderation.read(&s.caller(Door::Api), &id).await?).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ModerationDecisionRequest)]
pub struct DecisionBody {
    /// Why (at most 2000 characters): required to keep a comment hidden.
    reason: Option<String>,
}

/// The body (none: an empty one), or the refusal of a malformed one, recorded.
async fn decision(
    state: &AppState,
    caller: &Gated<'_>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<DecisionBody, Refusal> {
    match body {
        Err(JsonRejection::MissingJsonContentType(_)) => Ok(DecisionBody { reason: None }),
        body => recorded_body(state, caller, Moderation::MODERATE, body).await,
    }
}

/// `POST /api/v1/moderation/{id}/restore`: shown again.
#[utoipa::path(
    post,
    path = "/api/v1/moderation/{id}/restore",
    tag = "moderation",
    operation_id = "restoreHeldComment",
    summary = "Restore a held comment: recorded (comment.restored), then shown again where it was hidden (policy comment.moderate)",
    params(("id" = String, Path, description = "The held comment's id (`md_...`).")),
    request_body(content = DecisionBody, description = "Optional; `reason` says why."),
    responses(
        (status = 200, description = "Restored; its sealed text erased.", body = CommentDecision),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 429, response = openapi::RateLimited),
        (status = 500, response = openapi::ServerError),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn restore(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let caller = s.caller(Door::Api);
    let body = decision(&state, &caller, body).await?;
    let decided = state.moderation.restore(&caller, &id, body.reason.as_deref()).await?;
    Ok(Json(decided).into_response())
}

/// `POST /api/v1/moderation/{id}/keep`: kept hidden, with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/moderation/{id}/keep",
    tag = "moderation",
    operation_id = "keepHeldComment",
    summary = "Keep a held comment hidden, with a reason: recorded (comment.kept_hidden); a queued one is hidden now where the platform can (policy comment.moderate)",
    params(("id" = String, Path, description = "The held comment's id (`md_...`).")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "Kept hidden; its sealed text erased.", body = CommentDecision),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 429, response = openapi::RateLimited),
        (status = 500, response = openapi::ServerError),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn keep(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let caller = s.caller(Door::Api);
    let body = decision(&state, &caller, body).await?;
    let decided = state.moderation.keep(&caller, &id, body.reason.as_deref()).await?;
    Ok(Json(decided).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnrecordedPosts {
    posts: Vec<UnrecordedPost>,
}

/// `GET /api/v1/admin/unrecorded`: posts made outside Custodian.
#[utoipa::path(
    get,
    path = "/api/v1/admin/unrecorded",
    tag = "admin",
    operation_id = "listUnrecordedPosts",
    summary = "List the accounts' posts no action in the journal names: made outside Custodian (policy access.review)",
    responses(
        (status = 200, description = "The posts, newest flagged first (at most 500); never their text.", body = UnrecordedPosts),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn unrecorded(State(state): State<AppState>, Verified(s): Verified) -> Result<Response, Problem> {
    permitted(&state, &s, crate::domain::PolicyAction::AccessReview.as_str()).await?;
    let posts = state.moderation.unrecorded().await.map_err(|e| {
        tracing::error!(error = %e, "storage error");
        Problem::Internal
    })?;
    Ok(Json(UnrecordedPosts { posts }).into_response())
}
