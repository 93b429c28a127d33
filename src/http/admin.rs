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
use serde::Deserialize;
use serde_json::json;

use crate::action::Door;
use crate::audit::ChangedBy;
use crate::auth::InviteError;
use crate::directory::training;
use crate::directory::{review, DirectoryError, Scope};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{SignedIn, Verified};
use crate::http::AppState;

/// The caller as a change's author, if policy allows them `action` on
/// Custodian itself; otherwise the refusal, recorded.
pub(crate) async fn permitted(state: &AppState, s: &SignedIn, action: &str) -> Result<ChangedBy, ApiError> {
    state.actions.permit(&s.caller(Door::Api), action, None).await?;
    Ok(changed_by(s))
}

/// The signed-in caller as the author of a change.
pub(crate) fn changed_by(s: &SignedIn) -> ChangedBy {
    ChangedBy { actor: s.principal.actor(), name: s.principal.user.id.clone(), meta: s.meta.clone() }
}

/// The action that manages locks of `scope`.
fn lock_action(scope: Scope) -> &'static str {
    match scope {
        Scope::Account => "account.lock",
        Scope::User | Scope::Role => "user.revoke",
    }
}

pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError(Problem::BadRequest(format!("invalid JSON body: {}", e.body_text()))))
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::NotFound(why) => ApiError(Problem::NotFoundWhy(why)),
            DirectoryError::Invalid(why) => ApiError(Problem::Invalid(why)),
            e @ DirectoryError::Rejected(_) => ApiError(Problem::Invalid(e.to_string())),
            DirectoryError::Audit(e) => e.into(),
            DirectoryError::Storage(e) => {
                tracing::error!(error = %e, "storage error");
                ApiError(Problem::Internal)
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    reason: String,
}

/// `POST /api/v1/admin/users/{user}/revoke`: ends the user's access and
/// every session of theirs, until the lock it places is lifted.
pub async fn revoke(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(user): Path<String>,
    body: Result<Json<RevokeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let by = permitted(&state, &s, "user.revoke").await?;
    let body = json_body(body)?;
    let placed = state.directory().revoke(&user, &body.reason, &by).await?;
    Ok(Json(placed).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockBody {
    scope: Scope,
    target: String,
    reason: String,
    /// RFC 3339; absent means until lifted.
    expires_at: Option<String>,
}

/// `POST /api/v1/admin/locks`
pub async fn place_lock(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Result<Json<LockBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let by = permitted(&state, &s, lock_action(body.scope)).await?;
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(t) => Some(crate::clock::Timestamp(crate::audit::query::parse_time(t).ok_or_else(|| {
            ApiError(Problem::Invalid(format!("expires_at {t:?} is not an RFC 3339 time")))
        })?)),
    };
    let placed =
        state.directory().place_lock(body.scope, &body.target, &body.reason, expires_at, &by).await?;
    Ok((StatusCode::CREATED, Json(placed)).into_response())
}

#[derive(Deserialize)]
pub struct LocksQuery {
    #[serde(default)]
    all: bool,
}

/// `GET /api/v1/admin/locks[?all=true]`
pub async fn locks(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<LocksQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    permitted(&state, &s, "user.revoke").await?;
    let Query(q) = query.map_err(|e| ApiError(Problem::BadRequest(e.body_text())))?;
    let locks = state.directory().locks_described(q.all).await.map_err(DirectoryError::from)?;
    Ok(Json(json!({ "locks": locks })).into_response())
}

/// `DELETE /api/v1/admin/locks/{id}`: lifts the lock.
pub async fn lift_lock(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // The lock's scope says which action lifting it is (an unknown id: the directory says so).
    let lock = state.directory().locks.get(&id).await.map_err(DirectoryError::from)?;
    let by = permitted(&state, &s, lock_action(lock.map_or(Scope::User, |l| l.scope))).await?;
    Ok(Json(state.directory().lift_lock(&id, &by).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingBody {
    user: String,
    course: String,
    completed_on: String,
    expires_on: Option<String>,
    source: Option<String>,
}

/// `POST /api/v1/admin/training`: records one completion.
pub async fn record_training(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Result<Json<TrainingBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let by = permitted(&state, &s, "training.manage").await?;
    let b = json_body(body)?;
    let fields =
        [b.user, b.course, b.completed_on, b.expires_on.unwrap_or_default(), b.source.unwrap_or_default()];
    let record = state.directory().record_completion(fields, &by).await?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// `POST /api/v1/admin/training/import` with a CSV body: every row or none.
pub async fn import_training(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Bytes,
) -> Result<Response, ApiError> {
    let by = permitted(&state, &s, "training.manage").await?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError(Problem::Invalid("the CSV is not UTF-8".into())))?;
    match state.directory().import_training(text, &format!("api:{}", by.name), &by).await {
        Ok(imported) => Ok(Json(json!({ "imported": imported })).into_response()),
        Err(DirectoryError::Rejected(errors)) => {
            let body = json!({"error": "invalid", "reason": "the file was rejected; nothing was imported", "errors": errors});
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct TrainingQuery {
    user: String,
}

/// `GET /api/v1/admin/training?user=...`
pub async fn training_records(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<TrainingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    permitted(&state, &s, "training.manage").await?;
    let Query(q) = query.map_err(|e| ApiError(Problem::BadRequest(e.body_text())))?;
    let key = training::user_key(&q.user);
    let records = state.directory().training.records(&[key]).await.map_err(DirectoryError::from)?;
    Ok(Json(json!({ "records": records })).into_response())
}

#[derive(Deserialize)]
pub struct ReviewQuery {
    format: Option<String>,
}

/// `GET /api/v1/admin/access-review[?format=csv]`: who can act, how, and
/// their training, and the break-glass uses awaiting acknowledgement;
/// reading it is audited.
pub async fn access_review(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let by = permitted(&state, &s, "access.review").await?;
    let Query(q) = query.map_err(|e| ApiError(Problem::BadRequest(e.body_text())))?;
    let format = q.format.unwrap_or_else(|| "json".to_owned());
    if format != "json" && format != "csv" {
        return Err(ApiError(Problem::BadRequest(format!(
            "format {format:?} is not supported (json or csv)"
        ))));
    }
    let users = state.directory().reviewed_access(&by, &format).await?;
    let review = review::Review { users, breakglass: state.breakglass.unacknowledged().await? };
    if format == "csv" {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], review.to_csv()).into_response());
    }
    Ok(Json(review).into_response())
}

impl From<InviteError> for ApiError {
    fn from(e: InviteError) -> Self {
        match e {
            e @ InviteError::NoSuchUser(_) => ApiError(Problem::NotFoundWhy(e.to_string())),
            e @ InviteError::AlreadyEnrolled(_) => ApiError(Problem::Conflict(e.to_string())),
            InviteError::Audit(e) => e.into(),
            e @ (InviteError::NoAddress | InviteError::Storage(_)) => {
                tracing::error!(error = %e, "cannot issue an enrollment link");
                ApiError(Problem::Internal)
            }
        }
    }
}

/// `POST /api/v1/admin/users/{user}/mfa-invite`: a single-use link with
/// which the user enrolls their first second factor, shown once; their
/// earlier unused link stops working.
pub async fn mfa_invite(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(user): Path<String>,
) -> Result<Response, ApiError> {
    let by = permitted(&state, &s, "mfa.invite").await?;
    let issued = state.identity.invite(&user, &by.name, by.actor, &by.meta).await?;
    let body = json!({
        "id": issued.invite.id,
        "user_id": issued.user.id,
        "email": issued.user.email,
        "link": issued.link.expose(),
        "expires_at": issued.invite.expires_at,
        "voided": issued.voided,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
