//! `/api/v1/accounts/...`: the JSON door to the action path. Handlers
//! only turn the request into an [`Action`] and the answer into JSON; the
//! path decides. Success carries the platform's id and the audit event id;
//! a refusal is `{error, reason, rule, remedy}` with its status.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::action::{Door, Executed, Refusal};
use crate::domain::Action;
use crate::domain::NewPost;
use crate::http::error::refusal_page;
use crate::http::extract::{Acting, Verified};
use crate::http::AppState;
use crate::platforms::dispatch::Outcome;

#[derive(Deserialize)]
pub struct PostForm {
    text: String,
}

/// `POST /accounts/{account}/posts` (a form, the web door): publishes, then
/// back to the account's timeline; a refusal is a page saying why.
pub async fn publish_form(
    State(state): State<AppState>,
    Verified(s): Verified,
    Path(account): Path<String>,
    axum::Form(form): axum::Form<PostForm>,
) -> Response {
    let post = NewPost { text: form.text, link: None, image: None };
    match state.actions.perform(&s.caller(Door::Ui), &account, Action::Publish(post)).await {
        Ok(_) => axum::response::Redirect::to(&format!("/sandbox/{account}")).into_response(),
        Err(r) => refusal_page(&r),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostBody {
    text: String,
    link: Option<String>,
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
    body.map(|Json(b)| b).map_err(|e| Refusal::bad_request(format!("invalid JSON body: {}", e.body_text())))
}

async fn run(state: &AppState, acting: &Acting, account: &str, action: Action) -> Result<Response, Refusal> {
    Ok(state.actions.perform(&acting.caller(Door::Api), account, action).await?.into_response())
}

/// The header naming the audit event of a pass-through request's intent.
pub const AUDIT_EVENT_HEADER: &str = "x-custodian-audit-event";

impl IntoResponse for Executed {
    fn into_response(self) -> Response {
        let event = self.audit_event_id;
        match self.outcome {
            Outcome::Published(p) => {
                (StatusCode::CREATED, Json(json!({"id": p.id, "url": p.url, "audit_event_id": event})))
                    .into_response()
            }
            Outcome::Comments(c) => Json(json!({"comments": c, "audit_event_id": event})).into_response(),
            Outcome::Done => Json(json!({"done": true, "audit_event_id": event})).into_response(),
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

/// `GET /api/v1/accounts`: the accounts I may act on, with the actions policy allows on each.
pub async fn mine(State(state): State<AppState>, acting: Acting) -> Result<Response, Refusal> {
    let accounts = state.actions.my_accounts(&acting.caller(Door::Api)).await?;
    let listed: Vec<_> = accounts
        .into_iter()
        .map(|(a, actions)| {
            json!({"id": a.id, "platform": a.platform, "handle": a.handle, "status": a.status, "tags": a.tags, "actions": actions})
        })
        .collect();
    Ok(Json(json!({ "accounts": listed })).into_response())
}

/// `POST /api/v1/accounts/{account}/posts`
pub async fn publish(
    State(state): State<AppState>,
    acting: Acting,
    Path(account): Path<String>,
    post: Result<Json<PostBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let post = body(post)?.into_post()?;
    run(&state, &acting, &account, Action::Publish(post)).await
}

/// `DELETE /api/v1/accounts/{account}/posts/{post}`
pub async fn delete(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, post_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::Delete { post_id }).await
}

/// `POST /api/v1/accounts/{account}/posts/{post}/replies`
pub async fn reply(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, in_reply_to)): Path<(String, String)>,
    post: Result<Json<PostBody>, JsonRejection>,
) -> Result<Response, Refusal> {
    let post = body(post)?.into_post()?;
    run(&state, &acting, &account, Action::Reply { in_reply_to, post }).await
}

/// `GET /api/v1/accounts/{account}/posts/{post}/comments`
pub async fn comments(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, post_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::Comments { post_id }).await
}

/// `POST /api/v1/accounts/{account}/comments/{comment}/hide`
pub async fn hide_comment(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, comment_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::HideComment { comment_id }).await
}

/// `DELETE /api/v1/accounts/{account}/comments/{comment}`
pub async fn delete_comment(
    State(state): State<AppState>,
    acting: Acting,
    Path((account, comment_id)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    run(&state, &acting, &account, Action::DeleteComment { comment_id }).await
}
