//! `/api/v1/admin`: revocation, locks, training records, enrollment links
//! and the access review, for users whom policy allows the action (by default, admins:
//! `policies/admins.cedar`) and who have passed their second factor. Every
//! change is audited (by the directory) with before and after; a refused
//! caller is recorded too.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::Door;
use crate::audit::ChangedBy;
use crate::auth::InviteError;
use crate::clock::Timestamp;
use crate::directory::admin::{LockPlaced, LockView};
use crate::directory::training::{self, Record};
use crate::directory::{review, DirectoryError, Lock, Scope};
use crate::http::error::{json_rejection, rejection_words, Problem};
use crate::http::extract::{SignedIn, Verified};
use crate::http::{openapi, AppState};

/// The caller as a change's author, if policy allows them `action` on
/// Custodian itself; otherwise the refusal, recorded.
pub(crate) async fn permitted(state: &AppState, s: &SignedIn, action: &str) -> Result<ChangedBy, Problem> {
    state.actions.permit(&s.caller(Door::Api), action, None).await?;
    Ok(changed_by(s))
}

/// The signed-in caller as the author of a change.
pub(crate) fn changed_by(s: &SignedIn) -> ChangedBy {
    ChangedBy { actor: s.principal.actor(), name: s.principal.user().id.clone(), meta: s.meta.clone() }
}

/// The action that manages locks of `scope`.
fn lock_action(scope: Scope) -> &'static str {
    match scope {
        Scope::Account => "account.lock",
        Scope::User | Scope::Role => "user.revoke",
    }
}

pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Problem> {
    body.map(|Json(b)| b).map_err(|e| json_rejection(&e))
}

impl From<DirectoryError> for Problem {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::NotFound(why) => Problem::NotFoundWhy(why),
            DirectoryError::Invalid(why) => Problem::Invalid(why),
            e @ DirectoryError::Rejected(_) => Problem::Invalid(e.to_string()),
            DirectoryError::Audit(e) => e.into(),
            DirectoryError::Storage(e) => {
                tracing::error!(error = %e, "storage error");
                Problem::Internal
            }
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RevokeRequest)]
pub struct RevokeBody {
    #[schema(max_length = 500)]
    reason: String,
}

/// `POST /api/v1/admin/users/{user}/revoke`: ends the user's access and
/// every session of theirs, until the lock it places is lifted.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{user}/revoke",
    tag = "admin",
    operation_id = "revokeUser",
    summary = "End a user's access and every session of theirs",
    description = "Places a user lock, in force until it is lifted.",
    params(("user" = String, Path, description = "The user's Custodian id or email.")),
    request_body = RevokeBody,
    responses(
        (status = 200, description = "The lock placed, and the sessions it ended.", body = LockPlaced),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn revoke(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(user): Path<String>,
    body: Result<Json<RevokeBody>, JsonRejection>,
) -> Result<Response, Problem> {
    let by = permitted(&state, &s, "user.revoke").await?;
    let body = json_body(body)?;
    let placed = state.directory().revoke(&user, &body.reason, &by).await?;
    Ok(Json(placed).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LockRequest)]
pub struct LockBody {
    scope: Scope,
    target: String,
    #[schema(max_length = 500)]
    reason: String,
    /// RFC 3339; absent: until lifted.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// `POST /api/v1/admin/locks`
#[utoipa::path(
    post,
    path = "/api/v1/admin/locks",
    tag = "admin",
    operation_id = "placeLock",
    summary = "Lock a user, a role or an account",
    description = "A user or role lock ends the affected users' sessions at once.",
    request_body = LockBody,
    responses(
        (status = 201, description = "The lock placed, and the sessions it ended.", body = LockPlaced),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn place_lock(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Result<Json<LockBody>, JsonRejection>,
) -> Result<Response, Problem> {
    let body = json_body(body)?;
    let by = permitted(&state, &s, lock_action(body.scope)).await?;
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(t) => Some(Timestamp(
            crate::audit::query::parse_time(t)
                .ok_or_else(|| Problem::Invalid(format!("expires_at {t:?} is not an RFC 3339 time")))?,
        )),
    };
    let placed =
        state.directory().place_lock(body.scope, &body.target, &body.reason, expires_at, &by).await?;
    Ok((StatusCode::CREATED, Json(placed)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocksQuery {
    /// Also the lifted and expired locks.
    #[serde(default)]
    #[param(default = false)]
    all: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = LockList)]
pub struct LockList {
    locks: Vec<LockView>,
}

/// `GET /api/v1/admin/locks[?all=true]`
#[utoipa::path(
    get,
    path = "/api/v1/admin/locks",
    tag = "admin",
    operation_id = "listLocks",
    summary = "The locks in force (or all of them)",
    params(LocksQuery),
    responses(
        (status = 200, description = "The locks.", body = LockList),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn locks(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<LocksQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    permitted(&state, &s, "user.revoke").await?;
    let Query(q) = query.map_err(|e| Problem::BadRequest(rejection_words(&e.body_text())))?;
    let locks = state.directory().locks_described(q.all).await.map_err(DirectoryError::from)?;
    Ok(Json(LockList { locks }).into_response())
}

/// `DELETE /api/v1/admin/locks/{id}`: lifts the lock.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/locks/{id}",
    tag = "admin",
    operation_id = "liftLock",
    summary = "Lift a lock",
    params(("id" = String, Path, description = "The lock's id.")),
    responses(
        (status = 200, description = "The lock, lifted.", body = Lock),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn lift_lock(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    // The lock's scope says which action lifting it is (an unknown id: the directory says so).
    let lock = state.directory().locks.get(&id).await.map_err(DirectoryError::from)?;
    let by = permitted(&state, &s, lock_action(lock.map_or(Scope::User, |l| l.scope))).await?;
    Ok(Json(state.directory().lift_lock(&id, &by).await?).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TrainingCompletion)]
pub struct TrainingBody {
    /// The user's Custodian id or email.
    user: String,
    /// A configured course id.
    course: String,
    /// `YYYY-MM-DD` or an RFC 3339 time.
    completed_on: String,
    /// As the source states it; absent: completion plus the course's renewal period.
    expires_on: Option<String>,
    source: Option<String>,
}

/// `POST /api/v1/admin/training`: records one completion.
#[utoipa::path(
    post,
    path = "/api/v1/admin/training",
    tag = "admin",
    operation_id = "recordTraining",
    summary = "Record one training completion",
    request_body = TrainingBody,
    responses(
        (status = 201, description = "The record, with its expiry.", body = Record),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn record_training(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Result<Json<TrainingBody>, JsonRejection>,
) -> Result<Response, Problem> {
    let by = permitted(&state, &s, "training.manage").await?;
    let b = json_body(body)?;
    let fields =
        [b.user, b.course, b.completed_on, b.expires_on.unwrap_or_default(), b.source.unwrap_or_default()];
    let record = state.directory().record_completion(fields, &by).await?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TrainingImported {
    imported: usize,
}

/// Nothing was imported: each bad row, with its line.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TrainingImportRejected {
    #[schema(schema_with = invalid)]
    error: &'static str,
    reason: &'static str,
    /// Each bad row, with its line number.
    errors: Vec<String>,
}

/// `error` is always `invalid`.
fn invalid() -> utoipa::openapi::Object {
    openapi::one_of(&["invalid"]).build()
}

/// A refused import: its rows, or a problem with the file as a whole.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "names the two bodies a refused import answers; the handler writes each")]
pub enum ImportRefused {
    Rows(TrainingImportRejected),
    Problem(openapi::ErrorBody),
}

/// The CSV a training import reads.
#[derive(utoipa::ToSchema)]
#[schema(
    description = "UTF-8 CSV. The header names the columns in any order: `user`, `course`, `completed_on` (required), `expires_on`, `source`."
)]
#[expect(dead_code, reason = "names the request body's schema; the handler reads bytes")]
pub struct TrainingCsv(String);

/// `POST /api/v1/admin/training/import` with a CSV body: every row or none.
#[utoipa::path(
    post,
    path = "/api/v1/admin/training/import",
    tag = "admin",
    operation_id = "importTraining",
    summary = "Import training completions from a CSV export: every row or none",
    request_body(content = inline(TrainingCsv), content_type = "text/csv"),
    responses(
        (status = 200, description = "Every row was imported.", body = TrainingImported),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 413, response = openapi::PayloadTooLarge),
        (
            status = 422,
            description = "Nothing was imported: the file is not UTF-8 (a problem), or rows are bad (each one listed with its line).",
            body = ImportRefused,
        ),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn import_training(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Bytes,
) -> Result<Response, Problem> {
    let by = permitted(&state, &s, "training.manage").await?;
    let text = std::str::from_utf8(&body).map_err(|_| Problem::Invalid("the CSV is not UTF-8".into()))?;
    match state.directory().import_training(text, &format!("api:{}", by.name), &by).await {
        Ok(imported) => Ok(Json(TrainingImported { imported }).into_response()),
        Err(DirectoryError::Rejected(errors)) => {
            let reason = "the file was rejected; nothing was imported";
            let body = TrainingImportRejected { error: "invalid", reason, errors };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrainingQuery {
    /// The user's Custodian id or email.
    user: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TrainingRecords {
    records: Vec<Record>,
}

/// `GET /api/v1/admin/training?user=...`
#[utoipa::path(
    get,
    path = "/api/v1/admin/training",
    tag = "admin",
    operation_id = "listTrainingRecords",
    summary = "A user's training records",
    params(TrainingQuery),
    responses(
        (status = 200, description = "The records.", body = TrainingRecords),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn training_records(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<TrainingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    permitted(&state, &s, "training.manage").await?;
    let Query(q) = query.map_err(|e| Problem::BadRequest(rejection_words(&e.body_text())))?;
    let key = training::user_key(&q.user);
    let records = state.directory().training.records(&[key]).await.map_err(DirectoryError::from)?;
    Ok(Json(TrainingRecords { records }).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    #[param(value_type = Option<openapi::Format>, inline)]
    format: Option<String>,
}

/// One row per user.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "names the CSV answer's schema; `AccessReview::to_csv` writes the text")]
pub struct ReviewCsv(String);

/// `GET /api/v1/admin/access-review[?format=csv]`: who can act, how, and
/// their training, and the break-glass uses awaiting acknowledgement;
/// reading it is audited.
#[utoipa::path(
    get,
    path = "/api/v1/admin/access-review",
    tag = "admin",
    operation_id = "accessReview",
    summary = "Who can act, how, and their training (reading it is recorded)",
    params(ReviewQuery),
    responses(
        (
            status = 200,
            description = "Every known user, with their access and training.",
            content((review::AccessReview = "application/json"), (inline(ReviewCsv) = "text/csv")),
        ),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn access_review(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let by = permitted(&state, &s, "access.review").await?;
    let Query(q) = query.map_err(|e| Problem::BadRequest(rejection_words(&e.body_text())))?;
    let format = q.format.unwrap_or_else(|| "json".to_owned());
    if format != "json" && format != "csv" {
        return Err(Problem::BadRequest(format!("format {format:?} is not supported (json or csv)")));
    }
    let users = state.directory().reviewed_access(&by, &format).await?;
    let review = state.access_review(users).await?;
    if format == "csv" {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], review.to_csv()).into_response());
    }
    Ok(Json(review).into_response())
}

impl From<InviteError> for Problem {
    fn from(e: InviteError) -> Self {
        match e {
            e @ InviteError::NoSuchUser(_) => Problem::NotFoundWhy(e.to_string()),
            e @ InviteError::AlreadyEnrolled(_) => Problem::Conflict(e.to_string()),
            InviteError::Audit(e) => e.into(),
            e @ (InviteError::NoAddress | InviteError::Storage(_)) => {
                tracing::error!(error = %e, "cannot issue an enrollment link");
                Problem::Internal
            }
        }
    }
}

/// An enrollment link just issued. `link` is shown here once and never again
/// (only the SHA-256 of its token is kept).
#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaInvite<'a> {
    /// The invite's public id, as the audit journal names it.
    #[schema(examples("inv_0123456789abcdefghijkl"))]
    id: String,
    /// Whom it is for: only this user, signed in, can use it.
    user_id: String,
    #[schema(required = true)]
    email: Option<String>,
    /// Give it to the user through a channel their SSO password does not open.
    #[schema(examples("https://custodian.example.org/auth/mfa/invite?token=..."))]
    link: &'a str,
    expires_at: Timestamp,
    /// The user's earlier unused links, which no longer work.
    voided: Vec<String>,
}

/// `POST /api/v1/admin/users/{user}/mfa-invite`: a single-use link with
/// which the user enrolls their first second factor, shown once; their
/// earlier unused link stops working.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{user}/mfa-invite",
    tag = "admin",
    operation_id = "inviteMfaEnrollment",
    summary = "Issue a user's single-use enrollment link for their first second factor (admins)",
    description = "With `mfa.enrollment = \"invite\"` (or `\"idp\"`), a user without a second factor can set \
        one up only by opening such a link while signed in as themselves. The link is shown once (only the \
        SHA-256 of its token is kept), works once, and expires after `mfa.invite_ttl`; the user's earlier \
        unused link stops working. Needs a second factor within the last 5 minutes. Recorded \
        (`auth.mfa.invite.issue`, `auth.mfa.invite.void`).",
    params((
        "user" = String,
        Path,
        description = "The user's Custodian id or email (someone who has signed in once).",
    )),
    responses(
        (status = 201, description = "The link, shown only now.", body = MfaInvite),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (
            status = 409,
            description = "The user already has a second factor (`conflict`): reset it first if it is lost \
                (`custodian users reset-mfa`).",
            body = openapi::ErrorBody,
        ),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn mfa_invite(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(user): Path<String>,
) -> Result<Response, Problem> {
    let by = permitted(&state, &s, "mfa.invite").await?;
    let issued = state.identity.invite(&user, &by.name, by.actor, &by.meta).await?;
    let body = MfaInvite {
        id: issued.invite.id,
        user_id: issued.user.id,
        email: issued.user.email,
        link: issued.link.expose(),
        expires_at: issued.invite.expires_at,
        voided: issued.voided,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
