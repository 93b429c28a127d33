//! The review queue over HTTP: `GET /api/v1/reviews` (filters: state,
//! account, kind, held_before), `GET /api/v1/reviews/{id}` (with the
//! content, for a reviewer or its author), `POST .../approve`
//! (`{content_sha256, reason}`), `POST .../reject` (`{reason}`) and
//! `POST .../withdraw` (its author), `POST .../reschedule`
//! (`{publish_at}`: its author or a reviewer) and `POST .../adopt` (a
//! reviewer re-owns an orphaned post). The review service decides and
//! records; a refusal is `{error, reason, rule, remedy}`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::{Door, Refusal};
use crate::clock::Timestamp;
use crate::http::actions::recorded_body;
use crate::http::error::{rejection_words, Problem};
use crate::http::extract::{Acting, Verified};
use crate::http::{openapi, AppState};
use crate::queue::{Review, ReviewFilter, ReviewState};
use crate::review::{Decided, Detail, Reviews};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewListQuery {
    /// Only reviews in this state (held, scheduled, pending_reschedule, approved, rejected,
    /// published, failed, expired, withdrawn, orphaned, interrupted).
    state: Option<ReviewState>,
    /// Only reviews of actions on this account.
    account: Option<String>,
    /// Only reviews with a finding of this kind (e.g. `name`, `media`).
    kind: Option<String>,
    /// Only reviews held before this time (RFC 3339): the oldest waiting.
    held_before: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ReviewList)]
pub struct ReviewList {
    reviews: Vec<Review>,
}

/// `GET /api/v1/reviews`: the queue, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/reviews",
    tag = "reviews",
    operation_id = "listReviews",
    summary = "List held actions, oldest first: every one for reviewers (policy review.list), one's own for anyone else",
    params(ReviewListQuery),
    responses(
        (status = 200, description = "The reviews, oldest first (at most 500).", body = ReviewList),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = []), ("apiToken" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    acting: Acting,
    query: Result<Query<ReviewListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::BadRequest(rejection_words(&e.body_text())))?;
    let older_than = match q.held_before.as_deref() {
        Some(at) => Some(
            Timestamp::parse_rfc3339(at)
                .ok_or_else(|| Problem::BadRequest("held_before must be an RFC 3339 time".into()))?,
        ),
        None => None,
    };
    let filter = ReviewFilter {
        state: q.state,
        account_id: q.account,
        author_id: None,
        finding_kind: q.kind,
        older_than,
    };
    let reviews = state.reviews.list(&acting.caller(Door::Api), filter).await?;
    Ok(Json(ReviewList { reviews }).into_response())
}

/// `GET /api/v1/reviews/{id}`: one review and what it would say.
#[utoipa::path(
    get,
    path = "/api/v1/reviews/{id}",
    tag = "reviews",
    operation_id = "getReview",
    summary = "One held action, its findings and its content (reviewers, and its author)",
    params(("id" = String, Path, description = "The review's id.")),
    responses(
        (status = 200, description = "The review; `content` is null once it left the queue.", body = Detail),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = []), ("apiToken" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let detail = state.reviews.get(&acting.caller(Door::Api), &id).await?;
    Ok(Json(detail).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApproveRequest)]
pub struct ApproveBody {
    /// The review's `content_sha256` as read: the approval is for that exact content.
    content_sha256: Option<String>,
    /// Why it may go out (optional, at most 2000 characters).
    reason: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RejectRequest)]
pub struct RejectBody {
    /// Why not: the author reads it (required, at most 2000 characters).
    reason: Option<String>,
}

/// `POST /api/v1/reviews/{id}/approve`: one approval; the last one needed
/// carries the action out as its author.
#[utoipa::path(
    post,
    path = "/api/v1/reviews/{id}/approve",
    tag = "reviews",
    operation_id = "approveReview",
    summary = "Approve a held action for its exact content (policy review.decide: never its author)",
    params(("id" = String, Path, description = "The review's id.")),
    request_body = ApproveBody,
    responses(
        (status = 200, description = "Approved; with every approval needed, carried out (`outcome`).", body = Decided),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn approve(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
    body: Result<Json<ApproveBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let caller = acting.caller(Door::Api);
    let body = recorded_body(&state, &caller, Reviews::DECIDE, body).await?;
    let decided =
        state.reviews.approve(&caller, &id, body.content_sha256.as_deref(), body.reason.as_deref()).await?;
    Ok(Json(decided).into_response())
}

/// `POST /api/v1/reviews/{id}/reject`: refused, with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/reviews/{id}/reject",
    tag = "reviews",
    operation_id = "rejectReview",
    summary = "Reject a held action, with a reason (policy review.decide: never its author)",
    params(("id" = String, Path, description = "The review's id.")),
    request_body = RejectBody,
    responses(
        (status = 200, description = "Rejected; its content erased (the journal keeps its digest and findings).", body = Decided),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn reject(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
    body: Result<Json<RejectBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let caller = acting.caller(Door::Api);
    let body = recorded_body(&state, &caller, Reviews::DECIDE, body).await?;
    let decided = state.reviews.reject(&caller, &id, body.reason.as_deref()).await?;
    Ok(Json(decided).into_response())
}

/// `POST /api/v1/reviews/{id}/withdraw`: its author takes it back.
#[utoipa::path(
    post,
    path = "/api/v1/reviews/{id}/withdraw",
    tag = "reviews",
    operation_id = "withdrawReview",
    summary = "Withdraw one's own held action",
    params(("id" = String, Path, description = "The review's id.")),
    responses(
        (status = 200, description = "Withdrawn; its content erased.", body = Decided),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn withdraw(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let decided: Decided = state.reviews.withdraw(&s.caller(Door::Api), &id).await?;
    Ok(Json(decided).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RescheduleRequest)]
pub struct RescheduleBody {
    /// When to publish (RFC 3339, e.g. `2027-01-05T14:00:00Z`): in the
    /// future, within `review.schedule_ahead`.
    publish_at: String,
}

/// A time to publish at, as a client sends it.
pub(crate) fn publish_time(at: &str) -> Result<Timestamp, Refusal> {
    Timestamp::parse_rfc3339(at).ok_or_else(|| {
        Refusal::bad_request(format!(
            "publish_at {at:?} is not an RFC 3339 time with its offset (e.g. 2027-01-05T14:00:00Z)"
        ))
    })
}

/// `POST /api/v1/reviews/{id}/reschedule`: a new time to publish at.
#[utoipa::path(
    post,
    path = "/api/v1/reviews/{id}/reschedule",
    tag = "reviews",
    operation_id = "rescheduleReview",
    summary = "Give a waiting post a new time (its author, or a reviewer); one approved after its time is scheduled again",
    params(("id" = String, Path, description = "The review's id.")),
    request_body = RescheduleBody,
    responses(
        (status = 200, description = "Rescheduled.", body = Review),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn reschedule(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
    body: Result<Json<RescheduleBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let caller = s.caller(Door::Api);
    let body = recorded_body(&state, &caller, Reviews::DECIDE, body).await?;
    let at = publish_time(&body.publish_at)?;
    let review = state.reviews.reschedule(&caller, &id, at).await?;
    Ok(Json(review).into_response())
}

/// `POST /api/v1/reviews/{id}/adopt`: a reviewer re-owns an orphaned post.
#[utoipa::path(
    post,
    path = "/api/v1/reviews/{id}/adopt",
    tag = "reviews",
    operation_id = "adoptReview",
    summary = "Re-own a post orphaned when its author's access ended (policy review.decide); it is held for another reviewer",
    params(("id" = String, Path, description = "The review's id.")),
    responses(
        (status = 200, description = "Re-owned: held again, with the caller as its author.", body = Review),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::ActionConflict),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn adopt(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let review = state.reviews.adopt(&s.caller(Door::Api), &id).await?;
    Ok(Json(review).into_response())
}

/// `GET /reviews/{id}`: a queued post's page, for its author or a reviewer:
/// its state, and the findings highlighted in its text.
pub async fn page(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let detail = state.reviews.get(&s.caller(Door::Ui), &id).await?;
    let mine = detail.review.author_id == s.principal.admitted.user().id;
    Ok(crate::http::pages::review(&detail, &s.id.csrf_token(), mine).into_response())
}

/// `POST /reviews/{id}/withdraw` (a form): its author takes it back.
pub async fn withdraw_form(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    state.reviews.withdraw(&s.caller(Door::Ui), &id).await?;
    Ok(axum::response::Redirect::to(&format!("/reviews/{id}")).into_response())
}
