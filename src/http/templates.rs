//! `/api/v1/templates`: approved reply templates. Reviewers approve and
//! retire them (policy `template.approve`); anyone signed in lists them.
//! A reply uses one through `POST .../replies {"template": {"id", "values"}}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::{Door, Refusal};
use crate::http::actions::body;
use crate::http::extract::{Acting, Verified};
use crate::http::{openapi, AppState};
use crate::templates::Template;

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ReplyTemplateList)]
pub struct TemplateList {
    templates: Vec<Template>,
}

/// `GET /api/v1/templates`: the templates in use.
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    tag = "templates",
    operation_id = "listTemplates",
    summary = "The approved reply templates in use",
    responses(
        (status = 200, description = "By name.", body = TemplateList),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
    ),
    security(("sessionCookie" = []), ("apiToken" = [])),
)]
pub async fn list(State(state): State<AppState>, _acting: Acting) -> Result<Response, Refusal> {
    Ok(Json(TemplateList { templates: state.templates.list().await? }).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewReplyTemplate)]
pub struct TemplateBody {
    /// What reviewers and staff call it (1 to 100 characters).
    name: String,
    /// The words (1 to 1000 characters), with `{placeholder}` where a value goes.
    body: String,
    /// The placeholders the body uses (at most 5, each `[a-z_]`).
    #[serde(default)]
    placeholders: Vec<String>,
}

/// `POST /api/v1/templates`: a reviewer approves a template.
#[utoipa::path(
    post,
    path = "/api/v1/templates",
    tag = "templates",
    operation_id = "approveTemplate",
    summary = "Approve a reply template (policy template.approve)",
    request_body = TemplateBody,
    responses(
        (status = 201, description = "Approved, recorded with its words.", body = Template),
        (status = 400, response = openapi::ActionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn approve(
    State(state): State<AppState>,
    Verified(s): Verified,
    request: Result<Json<TemplateBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let b = body(request)?;
    let template = state.templates.approve(&s.caller(Door::Api), &b.name, &b.body, b.placeholders).await?;
    Ok((StatusCode::CREATED, Json(template)).into_response())
}

/// `DELETE /api/v1/templates/{id}`: retired; no reply can use it any more.
#[utoipa::path(
    delete,
    path = "/api/v1/templates/{id}",
    tag = "templates",
    operation_id = "retireTemplate",
    summary = "Retire a reply template (policy template.approve)",
    params(("id" = String, Path, description = "The template's id.")),
    responses(
        (status = 200, description = "Retired.", body = Template),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn retire(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    Ok(Json(state.templates.retire(&s.caller(Door::Api), &id).await?).into_response())
}
