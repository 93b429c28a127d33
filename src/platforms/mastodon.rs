//! Mastodon (docs.joinmastodon.org): statuses, their context (replies),
//! media upload, and the account's own statuses
//! (`GET /api/v1/accounts/:id/statuses`, reblogs left out). Tokens do not expire and there is no refresh; a 401 means
//! the token was revoked. Rate limits come in `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (an ISO 8601 time) on every response.
//!
//! Not offered by the API for an ordinary account: hiding someone else's
//! reply, or deleting it.

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use url::Url;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Forward, NewPost};
use crate::platforms::comments::{Layout, Written};
use crate::platforms::forward::{posted, Forwarded};
use crate::platforms::rate::RateLimits;
use crate::platforms::{
    checked_id, endpoint, exchange, header_pair, http_client, AccountPost, Call, Comment, Operation,
    PlatformApi, PlatformError, PostPage, Published, ReadLimits,
};

const NAME: &str = "Mastodon";
/// Replies as a status's `context` answers them (`content` is HTML).
const COMMENTS: Layout = Layout {
    list: "/descendants",
    id: &["/id"],
    author: &["/account/acct"],
    text: "/content",
    created_at: Written::Text("/created_at"),
};

/// `x-ratelimit-remaining`, and `x-ratelimit-reset` as an ISO 8601 time.
const LIMITS: ReadLimits = |headers, _| {
    let parse_reset = |v: &str| crate::audit::query::parse_time(v).map(Timestamp);
    header_pair(headers, ("x-ratelimit-remaining", "x-ratelimit-reset"), parse_reset)
};

/// Statuses per page of the account's own (Mastodon's most).
const PAGE: usize = 40;

pub struct Mastodon {
    /// The instance, e.g. `https://mastodon.social`.
    base: Url,
    /// The account's id at the instance, for listing its statuses.
    account: Option<String>,
    http: reqwest::Client,
    limits: RateLimits,
    clock: SharedClock,
}

fn status_id(id: &str) -> Result<&str, PlatformError> {
    checked_id(id, "status", |c| c.is_ascii_digit())
}

impl Mastodon {
    /// The API this adapter calls (what the pass-through proxy may reach).
    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn new(base: Url, clock: SharedClock) -> Result<Mastodon, PlatformError> {
        let http = http_client().map_err(|e| PlatformError::Down { status: None, message: e.to_string() })?;
        Ok(Mastodon { base, account: None, http, limits: RateLimits::default(), clock })
    }

    /// The adapter for the instance's account `id` (whose statuses it
    /// lists; an id Mastodon does not issue lists none).
    pub fn for_account(mut self, id: &str) -> Mastodon {
        self.account = checked_id(id, "account", |c| c.is_ascii_digit()).ok().map(str::to_owned);
        self
    }

    /// The account's rate-limit state and how Mastodon states its limits (for the proxy too).
    pub(crate) fn rate(&self) -> (&RateLimits, ReadLimits) {
        (&self.limits, LIMITS)
    }

    fn url(&self, version: &str, segments: &[&str]) -> Result<Url, PlatformError> {
        let mut all = vec!["api", version];
        all.extend_from_slice(segments);
        endpoint(&self.base, &all)
    }

    /// Sends with the call's token and maps the answer.
    async fn send(&self, call: &Call<'_>, request: RequestBuilder) -> Result<Value, PlatformError> {
        let answer = exchange(&self.limits, self.clock.now(), call, request, LIMITS).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        let message = answer
            .body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {}", answer.status));
        Err(match answer.status {
            401 => PlatformError::TokenInvalid { message },
            403 => PlatformError::Permission { message },
            404 | 422 => PlatformError::Validation { message },
            429 => PlatformError::RateLimited { reset_at: answer.reset, message },
            code => PlatformError::Down { status: Some(code), message },
        })
    }

    async fn upload(&self, call: &Call<'_>, image: &crate::domain::Image) -> Result<String, PlatformError> {
        let part = reqwest::multipart::Part::bytes(image.bytes.clone())
            .file_name("image")
            .mime_str(&image.media_type)
            .map_err(|_| PlatformError::Validation {
                message: "the image's media type is not valid".into(),
            })?;
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(d) = &image.description {
            form = form.text("description", d.clone());
        }
        let body = self.send(call, self.http.post(self.url("v2", &["media"])?).multipart(form)).await?;
        body.get("id").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| PlatformError::Down {
            status: None,
            message: "the instance answered the upload without a media id".into(),
        })
    }

    async fn post_status(
        &self,
        call: &Call<'_>,
        post: &NewPost,
        in_reply_to: Option<&str>,
    ) -> Result<Published, PlatformError> {
        let mut text = post.text.clone();
        if let Some(link) = &post.link {
            // Mastodon has no link field: the link goes in the text, where it is previewed.
            text = format!("{text}\n\n{link}");
        }
        let mut body = json!({ "status": text, "visibility": "public" });
        if let Some(id) = in_reply_to {
            body["in_reply_to_id"] = json!(status_id(id)?);
        }
        if let Some(image) = &post.image {
            body["media_ids"] = json!([self.upload(call, image).await?]);
        }
        let request = self
            .http
            .request(Method::POST, self.url("v1", &["statuses"])?)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body);
        let status = self.send(call, request).await?;
        let id = status.get("id").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            PlatformError::Down { status: None, message: "the instance answered without a status id".into() }
        })?;
        Ok(Published { id, url: status.get("url").and_then(Value::as_str).map(str::to_owned) })
    }
}

impl PlatformApi for Mastodon {
    fn name(&self) -> &'static str {
        NAME
    }

    fn supports(&self, op: Operation) -> bool {
        !matches!(op, Operation::HideComment | Operation::DeleteComment | Operation::UnhideComment)
    }

    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        self.post_status(call, post, None).await
    }

    async fn delete(&self, call: &Call<'_>, post_id: &str) -> Result<(), PlatformError> {
        let url = self.url("v1", &["statuses", status_id(post_id)?])?;
        self.send(call, self.http.delete(url)).await.map(|_| ())
    }

    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        self.post_status(call, post, Some(in_reply_to)).await
    }

    async fn comments(&self, call: &Call<'_>, post_id: &str) -> Result<Vec<Comment>, PlatformError> {
        let url = self.url("v1", &["statuses", status_id(post_id)?, "context"])?;
        let context = self.send(call, self.http.get(url)).await?;
        // A status's content is HTML; a comment's text is plain.
        Ok(COMMENTS
            .read(&context)
            .into_iter()
            .map(|c| Comment { text: html_to_text(&c.text), ..c })
            .collect())
    }

    async fn hide_comment(&self, _call: &Call<'_>, _comment_id: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported { platform: NAME, operation: Operation::HideComment.as_str() })
    }

    async fn delete_comment(&self, _call: &Call<'_>, _comment_id: &str) -> Result<(), PlatformError> {
        // An account may delete only its own statuses; its own replies are
        // deleted as posts.
        Err(PlatformError::Unsupported { platform: NAME, operation: Operation::DeleteComment.as_str() })
    }

    /// The account's statuses and replies, newest first (`max_id` pages back).
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        let account = self.account.as_deref().ok_or_else(|| {
            PlatformError::BadRequest("the Mastodon account's id is not known to this adapter".into())
        })?;
        let mut url = self.url("v1", &["accounts", account, "statuses"])?;
        url.query_pairs_mut().append_pair("limit", &PAGE.to_string()).append_pair("exclude_reblogs", "true");
        if let Some(max_id) = page {
            url.query_pairs_mut().append_pair("max_id", status_id(max_id)?);
        }
        let listed = self.send(call, self.http.get(url)).await?;
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let posts: Vec<AccountPost> = listed
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|status| {
                Some(AccountPost {
                    id: text(status, "id")?,
                    text: html_to_text(&text(status, "content").unwrap_or_default()),
                    url: text(status, "url"),
                    created_at: text(status, "created_at"),
                    in_reply_to: text(status, "in_reply_to_id"),
                })
            })
            .collect();
        let next = (posts.len() >= PAGE).then(|| posts.last().map(|p| p.id.clone())).flatten();
        Ok(PostPage { posts, next })
    }

    async fn unhide_comment(&self, _call: &Call<'_>, _comment_id: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported { platform: NAME, operation: Operation::UnhideComment.as_str() })
    }

    /// `POST /api/v1/statuses` answers the status, with its `id`.
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String> {
        match posted(forward).as_slice() {
            ["api", "v1", "statuses"] => answer.id_at("/id", |id| status_id(id).is_ok()),
            _ => None,
        }
    }
}

/// Mastodon's status HTML as plain text: paragraphs and line breaks kept,
/// tags dropped, the five XML entities decoded.
fn html_to_text(html: &str) -> String {
    let spaced =
        html.replace("</p><p>", "\n\n").replace("<br>", "\n").replace("<br/>", "\n").replace("<br />", "\n");
    let mut out = String::with_capacity(spaced.len());
    let mut in_tag = false;
    for c in spaced.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_html_becomes_text() {
        assert_eq!(
            html_to_text("<p>Hello &amp; <a href=\"x\">welcome</a></p><p>line<br>two &lt;3</p>"),
            "Hello & welcome\n\nline\ntwo <3"
        );
    }
}
