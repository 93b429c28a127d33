//! `/api/v1/accounts/...`: the JSON door to the action path. Handlers
//! only turn the request into an [`Action`] and the answer into JSON; the
//! path decides. Success carries the platform's id and the audit event id;
//! a refusal is `{error, reason, rule, remedy}` with its status.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::action::{Door, Executed, Refusal};
use crate::domain::Action;
use crate::domain::NewPost;
use crate::domain::{AccountId, Platform, Status as AccountStatus};
use crate::http::error::rejection_words;
use crate::http::extract::{Acting, Verified};
use crate::http::{openapi, AppState};
use crate::platforms::dispatch::Outcome;
use crate::platforms::Comment;

#[derive(Deserialize)]
pub struct PostForm {
    text: String,
}

/// `POST /accounts/{account}/posts` (a form, the web door): publishes, then
/// back to the account's timeline; held, to the held post's page (its
/// findings highlighted); a refusal is a page saying why.
pub async fn publish_form(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(account): Path<String>,
    axum::Form(form): axum::Form<PostForm>,
) -> Response {
    let post = NewPost { text: form.text, link: None, image: None };
    match state.actions.perform(&s.caller(Door::Ui), &account, Action::Publish(post)).await {
        Ok(_) => axum::response::Redirect::to(&format!("/sandbox/{account}")).into_response(),
        // Held: its page, with what the screen found.
        Err(r) if r.review_id.is_some() => {
            let id = r.review_id.as_deref().unwrap_or_default();
            axum::response::Redirect::to(&format!("/reviews/{id}")).into_response()
        }
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPost)]
pub struct PostBody {
    text: String,
    /// An http(s) URL, appended to the post.
    #[schema(format = "uri")]
    link: Option<String>,
    /// Publish at this time instead of now (RFC 3339 with its offset, e.g.
    /// `2027-01-05T14:00:00Z`): screened now, then it waits in the queue
    /// and takes the whole path again, as you, at its time.
    #[schema(format = "date-time")]
    publish_at: Option<String>,
}

impl PostBody {
    fn into_post(self) -> Result<NewPost, Refusal> {
        let link = match self.link {
            None => None,
            Some(l) => match Url::parse(&l) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => return Err(Refusal::bad_request(format!("link {l:?} is not an http(s) URL"))),
            },
        };
        Ok(NewPost { text: self.text, link, image: None })
    }
}

pub(crate) fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Refusal> {
    body.map(|Json(b)| b)
        .map_err(|e| Refusal::bad_request(format!("invalid JSON body: {}", rejection_words(&e.body_text()))))
}

/// The body, or the refusal of a malformed one, recorded as `caller`'s
/// refused `action` on Custodian (for the doors outside the action path).
pub(crate) async fn recorded_body<T>(
    state: &AppState,
    caller: &crate::action::Gated<'_>,
    action: &str,
    json: Result<Json<T>, JsonRejection>,
) -> Result<T, Refusal> {
    match body(json) {
        Ok(b) => Ok(b),
        Err(refusal) => Err(state.actions.refuse(caller, action, "custodian", refusal).await),
    }
}

async fn run(state: &AppState, acting: &Acting, account: &str, action: Action) -> Result<Response, Refusal> {
    Ok(state.actions.perform(&acting.caller(Door::Api), account, action).await?.into_response())
}

/// Published: the platform's id for what was created, and the audit event
/// of the recorded intent.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Published)]
pub struct PublishedBody {
    /// The platform's id of what was created.
    id: String,
    #[schema(required = true)]
    url: Option<String>,
    audit_event_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Comments {
    comments: Vec<Comment>,
    audit_event_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Done)]
pub struct DoneBody {
    #[schema(schema_with = always_true)]
    done: bool,
    audit_event_id: String,
}

/// `done` is always `true`.
fn always_true() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

/// The header naming the audit event of a pass-through request's intent.
pub const AUDIT_EVENT_HEADER: &str = "x-custodian-audit-event";

impl IntoResponse for Executed {
    fn into_response(self) -> Response {
        let event = self.audit_event_id.into_string();
        match self.outcome {
            Outcome::Published(p) => {
                (StatusCode::CREATED, Json(PublishedBody { id: p.id, url: p.url, audit_event_id: event }))
                    .into_response()
            }
            Outcome::Comments(comments) => Json(Comments { comments, audit_event_id: event }).into_response(),
            Outcome::Done => Json(DoneBody { done: true, audit_event_id: event }).into_response(),
            Outcome::Forwarded(f) => {
                // The platform's answer, checked, with only the headers allowed back.
                let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY);
                let mut response = (status, axum::body::Body::from(f.body)).into_response();
                response.headers_mut().extend(f.headers);
                if let Ok(v) = HeaderValue::from_str(&event) {
                    response.headers_mut().insert(AUDIT_EVENT_HEADER, v);
                }
                response
            }
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MyAccounts {
    accounts: Vec<MyAccount>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MyAccount {
    #[schema(value_type = String)]
    id: AccountId,
    platform: Platform,
    handle: String,
    status: AccountStatus,
    tags: Vec<String>,
    /// The actions policy allows the caller here now.
    #[schema(value_type = Vec<openapi::AccountAction>)]
    actions: Vec<&'static str>,
}

/// `GET /api/v1/accounts`: the accounts I may act on, with the actions policy allows on each.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "actions",
    operation_id = "listMyAccounts",
    summary = "The accounts you may act on, with the actions policy allows on each",
    responses(
        (status = 200, description = "Accounts on which policy allows the caller at least one action.", body = MyAccounts),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = []), ("apiToken" = [])),
)]
pub async fn mine(State(state): State<AppState>, acting: Acting) -> Result<Response, Refusal> {
    let accounts = state.actions.my_accounts(&acting.caller(Door::Api)).await?;
    let accounts = accounts
        .into_iter()
        .map(|(a, actions)| MyAccount {
            id: a.id,
            platform: a.platform,
            handle: a.handle,
            status: a.status,
            tags: a.tags,
            actions,
        })
        .collect();
    Ok(Json(MyAccounts { accounts }).into_response())
}

/// `POST /api/v1/accounts/{account}/posts`
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account}/posts",
    tag = "actions",
    operation_id = "publish",
    summary = "Publish a post (policy action post.publish)",
    params(openapi::AccountParam),
    request_body = PostBody,
    responses(
        (status = 201, description = "Published: the platform's id for the post, and the audit event of the recorded intent.", body = PublishedBody),
        (status = 202, description = "With `publish_at`: the screen let it through and it waits for its time (`review_id`); or it was held for a reviewer (`held_for_review`, with the findings and `review_id`).", body = crate::action::Queued),
        (status = 413, response = openapi::PayloadTooLarge),
        openapi::ActionRefusals,
    ),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn publish(
    State(state): State<AppState>,
    acting: Acting,
    Path(account): Path<String>,
    post: Result<Json<PostBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let mut post = body(post)?;
    let publish_at = post.publish_at.take().map(|at| crate::http::reviews::publish_time(&at)).transpose()?;
    let action = Action::Publish(post.into_post()?);
    match publish_at {
        None => run(&state, &acting, &account, action).await,
        Some(at) => {
            let queued = state.actions.schedule(&acting.caller(Door::Api), &account, action, at).await?;
            Ok((StatusCode::ACCEPTED, Json(queued)).into_response())
        }
    }
}

/// `DELETE /api/v1/accounts/{account}/posts/{post}`
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account}/posts/{post}",
    tag = "actions",
    operation_id = "deletePost",
    summary = "Delete a post (policy action post.delete; needs a recent second factor)",
    params(openapi::AccountParam, openapi::PostParam),
    responses((status = 200, response = openapi::Done), openapi::ActionRefusals),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, post_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::Delete { post_id }).await
}

/// `POST /api/v1/accounts/{account}/posts/{post}/replies`
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account}/posts/{post}/replies",
    tag = "actions",
    operation_id = "reply",
    summary = "Reply to a post or comment (policy action comment.reply)",
    params(openapi::AccountParam, openapi::PostParam),
    request_body = ReplyBody,
    responses(
        (status = 201, description = "Published: the platform's id for the reply, and the audit event of the recorded intent.", body = PublishedBody),
        (status = 413, response = openapi::PayloadTooLarge),
        openapi::ActionRefusals,
    ),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn reply(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, in_reply_to)): Path<(String, String)>,
    reply: Result<Json<ReplyBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let reply = body(reply)?;
    let caller = acting.caller(Door::Api);
    match (reply.text, reply.template) {
        (Some(text), None) => {
            let post = PostBody { text, link: reply.link, publish_at: None }.into_post()?;
            run(&state, &acting, &account, Action::Reply { in_reply_to, post }).await
        }
        (None, Some(t)) if reply.link.is_none() => {
            let (text, used) = state.templates.render(&t.id, &t.values).await?;
            let post = NewPost { text, link: None, image: None };
            let done = state.actions.perform_with_template(
                &caller,
                &account,
                Action::Reply { in_reply_to, post },
                used,
            );
            Ok(done.await?.into_response())
        }
        _ => Err(Refusal::bad_request(
            "a reply has either its text (and an optional link) or a template, not both".into(),
        )),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewReply)]
pub struct ReplyBody {
    /// The reply's words; or use `template`.
    text: Option<String>,
    /// An http(s) URL, appended to the reply (with `text` only).
    #[schema(format = "uri")]
    link: Option<String>,
    /// An approved reply template and the values of its placeholders: it
    /// goes out without a new review if what the screen finds lies in the
    /// template's own words (see docs/review.md).
    template: Option<TemplateRef>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    id: String,
    #[serde(default)]
    values: std::collections::BTreeMap<String, String>,
}

/// `GET /api/v1/accounts/{account}/posts/{post}/comments`
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account}/posts/{post}/comments",
    tag = "actions",
    operation_id = "listComments",
    summary = "The comments on a post (policy action comment.list)",
    description = "Reading comments goes through the action path too: it is authorized and recorded.",
    params(openapi::AccountParam, openapi::PostParam),
    responses(
        (status = 200, description = "The comments, as the platform gives them.", body = Comments),
        openapi::ActionRefusals,
    ),
    security(("sessionCookie" = []), ("apiToken" = [])),
)]
pub async fn comments(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, post_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::Comments { post_id }).await
}

/// `POST /api/v1/accounts/{account}/comments/{comment}/hide`
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account}/comments/{comment}/hide",
    tag = "actions",
    operation_id = "hideComment",
    summary = "Hide a comment (policy action comment.hide)",
    params(openapi::AccountParam, openapi::CommentParam),
    responses((status = 200, response = openapi::Done), openapi::ActionRefusals),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn hide_comment(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, comment_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::HideComment { comment_id }).await
}

/// `DELETE /api/v1/accounts/{account}/comments/{comment}`
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account}/comments/{comment}",
    tag = "actions",
    operation_id = "deleteComment",
    summary = "Delete a comment (policy action comment.delete; needs a recent second factor)",
    params(openapi::AccountParam, openapi::CommentParam),
    responses((status = 200, response = openapi::Done), openapi::ActionRefusals),
    security(("sessionCookie" = [], "csrfToken" = []), ("apiToken" = [])),
)]
pub async fn delete_comment(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, comment_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::DeleteComment { comment_id }).await
}
