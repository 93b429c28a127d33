//! `/api/v1/admin/accounts` and `/connect/callback`: listing, connecting
//! and disconnecting the organization's social accounts (admins only).
//! Tokens never appear here: the list shows platform, handle, status,
//! scopes and token expiry.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::{AdminError, Door};
use crate::domain::{Account, PolicyAction};
use crate::http::admin::{json_body, permitted};
use crate::http::error::Problem;
use crate::http::extract::{SignedIn, Verified};
use crate::http::{openapi, pages, AppState};
use crate::platforms::connect::{
    Choice, ConnectError, ConnectRequest, Disconnected, Started, OAUTH_PLATFORMS,
};
use crate::platforms::sandbox::Sandbox;
use crate::platforms::Operation;
use crate::secret::Secret;

impl From<AdminError> for Problem {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Refused(r) => r.into(),
            AdminError::Connect(e) => e.into(),
        }
    }
}

impl From<ConnectError> for Problem {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Invalid(why) => Problem::Invalid(why),
            ConnectError::NotFound(why) => Problem::NotFoundWhy(why),
            ConnectError::Rejected(why) => Problem::ConnectRejected(why),
            ConnectError::Refused(why) => Problem::PlatformRefused(why),
            ConnectError::Unavailable(why) => Problem::PlatformUnavailable(why),
            ConnectError::Audit(e) => e.into(),
            ConnectError::Vault(e) => {
                tracing::error!(error = %e, "vault error while connecting an account");
                Problem::Internal
            }
            ConnectError::Storage(e) => storage(e),
        }
    }
}

fn storage(e: sqlx::Error) -> Problem {
    tracing::error!(error = %e, "storage error");
    Problem::Internal
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountList {
    accounts: Vec<Account>,
}

/// `GET /api/v1/admin/accounts`: every account with platform, handle,
/// status, scopes and token expiry; never a credential.
#[utoipa::path(
    get,
    path = "/api/v1/admin/accounts",
    tag = "admin",
    operation_id = "listAccounts",
    summary = "Every connected account, with status, scopes and token expiry; never a credential",
    responses(
        (status = 200, description = "The accounts.", body = AccountList),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn list(State(state): State<AppState>, Verified(s): Verified) -> Result<Response, Problem> {
    permitted(&state, &s, "account.connect").await?;
    let accounts = state.accounts.list().await.map_err(storage)?;
    Ok(Json(AccountList { accounts }).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConnectRequest)]
pub struct ConnectBody {
    #[schema(schema_with = connectable)]
    platform: String,
    /// Tags policy uses to decide who may act on the account: 1-64 letters,
    /// digits, `_`, `:` or `-`.
    #[serde(default)]
    #[schema(default = json!([]))]
    tags: Vec<String>,
    /// The operations to ask the platform's permission for; all when absent.
    operations: Option<Vec<Operation>>,
    /// Facebook and Instagram: the Page to connect.
    page_id: Option<String>,
    /// LinkedIn (required there): the organization's numeric id.
    organization: Option<String>,
    /// Bluesky (required there): the handle or DID.
    identifier: Option<String>,
    /// Bluesky (required there): an app password. Stored encrypted, never shown again.
    #[schema(value_type = Option<String>, write_only)]
    app_password: Option<Secret>,
}

/// The platforms an admin connects: the OAuth ones, and Bluesky (with an
/// app password).
fn connectable() -> utoipa::openapi::Object {
    let platforms: Vec<&'static str> = OAUTH_PLATFORMS.iter().copied().chain(["bluesky"]).collect();
    openapi::one_of(&platforms).build()
}

/// `POST /api/v1/admin/accounts/connect`: an OAuth platform answers where
/// to send the browser (`authorize_url`); Bluesky connects at once with
/// the app password given.
#[utoipa::path(
    post,
    path = "/api/v1/admin/accounts/connect",
    tag = "admin",
    operation_id = "connectAccount",
    summary = "Connect an account (policy action account.connect)",
    description = "An OAuth platform (x, facebook, instagram, linkedin, mastodon) answers where to send the \
        admin's browser; the platform then returns it to `/connect/callback`, which finishes the connection. \
        Bluesky connects at once with the handle and app password given.",
    request_body = ConnectBody,
    responses(
        (status = 200, description = "OAuth platform: send the browser to `authorize_url` before `expires_at`.", body = Started),
        (status = 201, description = "Bluesky: the account, connected.", body = Account),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::ServerError),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn connect(
    State(state): State<AppState>,
    Verified(s): Verified,
    body: Result<Json<ConnectBody>, JsonRejection>,
) -> Result<Response, Problem> {
    // Connecting calls the platform: policy decides, as for every action.
    let permit = state.actions.permit_connect(&s.caller(Door::Api)).await?;
    let body = json_body(body)?;
    if body.platform == "bluesky" {
        let (Some(identifier), Some(password)) = (body.identifier.as_deref(), body.app_password.as_ref())
        else {
            return Err(Problem::Invalid("bluesky needs identifier and app_password".into()));
        };
        let account = permit.bluesky(identifier, password, &body.tags).await?;
        return Ok((StatusCode::CREATED, Json(account)).into_response());
    }
    if body.identifier.is_some() || body.app_password.is_some() {
        return Err(Problem::Invalid(format!(
            "{} connects through its own sign-in page, not with a password",
            body.platform
        )));
    }
    let request = ConnectRequest {
        platform: body.platform,
        tags: body.tags,
        operations: body.operations,
        choice: Choice { page_id: body.page_id, organization: body.organization },
    };
    Ok(Json(permit.start(request).await?).into_response())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: String,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /connect/callback`: where the platform sends the admin's browser.
pub async fn callback(
    State(state): State<AppState>,
    Verified(s): Verified,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let permit = match state.actions.permit_connect(&s.caller(Door::Ui)).await {
        Ok(permit) => permit,
        Err(r) => return Ok(r.into_response()),
    };
    let Query(q) = query.map_err(|_| Problem::BadRequest("The platform's answer is malformed.".into()))?;
    let outcome = match (&q.code, &q.error) {
        (_, Some(error)) => {
            let description = q.error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
            Err(format!("{error}{description}"))
        }
        (Some(code), None) => Ok(code.as_str()),
        (None, None) => Ok(""),
    };
    let account = permit.finish(&q.state, outcome).await?;
    Ok(pages::connected(&account).into_response())
}

/// The practice account `id`, if `s` may read it: policy `comment.list`
/// on it (its posts and their comments), or the refusal, recorded.
async fn readable_practice_account(state: &AppState, s: &SignedIn, id: &str) -> Result<Account, Problem> {
    let account = state.accounts.get(id).await.map_err(storage)?;
    let Some(account) = account.filter(|a| a.platform == "sandbox") else {
        return Err(Problem::NotFoundWhy(format!("there is no practice account {id:?}")));
    };
    let read = PolicyAction::CommentList.as_str();
    state.actions.permit(&s.caller(Door::Ui), read, Some(&account)).await?;
    Ok(account)
}

fn sandbox(state: &AppState) -> Sandbox {
    Sandbox::new(state.db.clone(), state.clock.clone())
}

/// `GET /sandbox/{id}`: a practice account's timeline, for whom policy
/// lets read it.
pub async fn timeline(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let account = readable_practice_account(&state, &s, &id).await?;
    let posts = sandbox(&state).timeline(&account.id, TIMELINE_LENGTH).await.map_err(storage)?;
    Ok(pages::timeline(&account, &posts, &s.id.csrf_token()).into_response())
}

/// `GET /sandbox/{id}/{post}`: one post of a practice account and its
/// replies (the URL its publication answers with), for whom policy lets
/// read the account.
pub async fn sandbox_post(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path((id, post)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let account = readable_practice_account(&state, &s, &id).await?;
    let Some((post, replies)) = sandbox(&state).thread(&account.id, &post).await.map_err(storage)? else {
        return Err(Problem::NotFoundWhy(format!(
            "practice account {} has no post {post:?}",
            account.handle
        )));
    };
    Ok(pages::sandbox_thread(&account, &post, &replies, &s.id.csrf_token()).into_response())
}

#[derive(Deserialize)]
pub struct PracticeCommentForm {
    author: String,
    text: String,
}

/// `POST /sandbox/{id}/posts/{post}/comments` (a form): a practice comment
/// on a practice account's post, written as a member of the public would
/// (for training staff in moderation), then back to the timeline. It is the
/// sandbox platform's own world, as another platform's comments are: the
/// journal records what moderation does with it, not the comment.
pub async fn practice_comment(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path((id, post)): Path<(String, String)>,
    axum::Form(form): axum::Form<PracticeCommentForm>,
) -> Result<Response, Problem> {
    let account = readable_practice_account(&state, &s, &id).await?;
    match sandbox(&state).comment_from_public(&account.id, &post, &form.author, &form.text).await {
        Ok(_) => Ok(axum::response::Redirect::to(&format!("/sandbox/{}", account.id)).into_response()),
        Err(crate::platforms::PlatformError::Validation { message }) => Err(Problem::Invalid(message)),
        Err(e) => {
            tracing::error!(error = %e, "a practice comment could not be stored");
            Err(Problem::Internal)
        }
    }
}

/// Posts and replies a timeline page shows.
const TIMELINE_LENGTH: i64 = 200;

/// `POST /api/v1/admin/accounts/{id}/disconnect`
#[utoipa::path(
    post,
    path = "/api/v1/admin/accounts/{id}/disconnect",
    tag = "admin",
    operation_id = "disconnectAccount",
    summary = "Disconnect an account (policy action account.disconnect)",
    description = "Revokes the tokens at the platform where it offers that, deletes the stored credentials \
        and marks the account disconnected.",
    params(("id" = String, Path, description = "The account's id (`GET /api/v1/admin/accounts` lists them).")),
    responses(
        (status = 200, description = "Disconnected.", body = Disconnected),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::ActionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::ServerError),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [], "csrfToken" = [])),
)]
pub async fn disconnect(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    // Revoking calls the platform: policy decides, as for every action.
    let permit = state.actions.permit_disconnect(&s.caller(Door::Api), &id).await?;
    Ok(Json(permit.disconnect().await?).into_response())
}
