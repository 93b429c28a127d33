//! Facebook Pages (Graph API, developers.facebook.com/docs/pages-api): Page
//! posts (text and link on `/{page-id}/feed`, an image on
//! `/{page-id}/photos`), comments and replies, hiding (and showing again)
//! and deleting comments, deleting posts, and the Page's own posts
//! (`GET /{page-id}/posts`, cursor-paged). Every call carries the Page access token as a bearer
//! token (the Graph accepts it in place of `access_token`). Page tokens are
//! long-lived and have no refresh token: when one dies (error 190) the
//! account is reconnected.
//!
//! Rate limits: calls with a Page token count against the Page's Business
//! Use Case limit, reported in `X-Business-Use-Case-Usage` (per business
//! object: `call_count`, `total_cputime`, `total_time` in percent, and
//! `estimated_time_to_regain_access` in minutes). Once any percentage
//! reaches 100 the account's calls are refused here until the estimated
//! time. `X-App-Usage` describes app-token calls and is not used.
//!
//! The photo's alternative text is not sent: `/{page-id}/photos` has no
//! field for it at upload.

use reqwest::RequestBuilder;
use serde_json::Value;
use url::Url;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Forward, NewPost};
use crate::platforms::comments::{Layout, Written};
use crate::platforms::forward::{posted, Forwarded};
use crate::platforms::rate::RateLimits;
use crate::platforms::{
    checked_id, endpoint, exchange, http_client, AccountPost, Call, Comment, Operation, PlatformApi,
    PlatformError, PostPage, Published, ReadLimits,
};

const NAME: &str = "Facebook";
/// Comments as `GET /{post}/comments?fields=id,from,message,created_time`
/// answers them; `from.name` is missing where the commenter's privacy hides it.
const COMMENTS: Layout = Layout {
    list: "/data",
    id: &["/id"],
    author: &["/from/name", "/from/id"],
    text: "/message",
    created_at: Written::Text("/created_time"),
};
/// The usage header of Business Use Case rate limits (Page and Instagram calls).
const USAGE_HEADER: &str = "x-business-use-case-usage";

/// A Graph id: digits, and `_` joining a Page id and a post id (`{page-id}_{post-id}`).
pub(crate) fn graph_id<'a>(id: &'a str, what: &str) -> Result<&'a str, PlatformError> {
    checked_id(id, what, |c| c.is_ascii_digit() || c == '_')
}

/// The Business Use Case usage header: at 100%, none left until access is regained.
const LIMITS: ReadLimits = |headers, now| {
    let usage = headers.get(USAGE_HEADER).and_then(|v| v.to_str().ok());
    let (spent, reset) = usage.map_or((false, None), |u| read_usage(u, now));
    (spent.then_some(0), reset)
};

/// The Graph API transport shared by the Facebook and Instagram adapters:
/// the HTTP client, the per-account rate limits and the clock.
pub(crate) struct Graph {
    http: reqwest::Client,
    limits: RateLimits,
    clock: SharedClock,
}

impl Graph {
    pub(crate) fn new(clock: SharedClock) -> Result<Graph, PlatformError> {
        let http = http_client().map_err(|e| PlatformError::Down { status: None, message: e.to_string() })?;
        Ok(Graph { http, limits: RateLimits::default(), clock })
    }

    /// The account's rate-limit state and how the Graph states its limits (for the proxy too).
    pub(crate) fn rate(&self) -> (&RateLimits, ReadLimits) {
        (&self.limits, LIMITS)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends one call through `exchange`, reading the Business Use Case
    /// usage header for the limits; a Graph error (which may come with a
    /// 2xx status) is mapped by [`graph_error`].
    pub(crate) async fn send(
        &self,
        call: &Call<'_>,
        request: RequestBuilder,
    ) -> Result<Value, PlatformError> {
        let answer = exchange(&self.limits, self.clock.now(), call, request, LIMITS).await?;
        if (200..300).contains(&answer.status) && answer.body.get("error").is_none() {
            return Ok(answer.body);
        }
        let error = graph_error(answer.status, &answer.body, answer.reset);
        if let PlatformError::RateLimited { reset_at: Some(reset), .. } = error {
            self.limits.block(call.account_id, reset);
        }
        Err(error)
    }
}

/// Reads `X-Business-Use-Case-Usage`: `{"<object-id>":[{"type","call_count",
/// "total_cputime","total_time","estimated_time_to_regain_access"}]}`.
/// Returns whether any percentage reached 100, and the latest time access
/// is regained (`now` + the largest estimate in minutes, when one is above 0).
pub(crate) fn read_usage(header: &str, now: Timestamp) -> (bool, Option<Timestamp>) {
    let Ok(Value::Object(objects)) = serde_json::from_str::<Value>(header) else { return (false, None) };
    let entries = objects.values().filter_map(Value::as_array).flatten();
    let mut spent = false;
    let mut minutes: i64 = 0;
    for entry in entries {
        let percent = |k: &str| entry.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        if ["call_count", "total_cputime", "total_time"].iter().any(|k| percent(k) >= 100.0) {
            spent = true;
        }
        let regain = entry.get("estimated_time_to_regain_access").and_then(Value::as_i64).unwrap_or(0);
        minutes = minutes.max(regain);
    }
    let reset = (minutes > 0).then(|| Timestamp(now.millis().saturating_add(minutes.saturating_mul(60_000))));
    (spent, reset)
}

/// A Graph error (`{"error":{"message","type","code","error_subcode","fbtrace_id"}}`)
/// by class, per developers.facebook.com/docs/graph-api/guides/error-handling.
pub(crate) fn graph_error(status: u16, body: &Value, reset: Option<Timestamp>) -> PlatformError {
    let error = body.get("error");
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"));
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let subcode = error.and_then(|e| e.get("error_subcode")).and_then(Value::as_i64);
    // Instagram's daily publishing limit (50 posts per 24 hours).
    if subcode == Some(2_207_042) {
        return PlatformError::RateLimited { reset_at: reset, message };
    }
    match code {
        // 190 is the access token's own error (expired, revoked, password
        // changed); 102 is a user session problem the Page token does not have.
        Some(190) => PlatformError::TokenInvalid { message },
        // Throttling: app (4), user (17), page (32), custom (613), app limit (341),
        // Business Use Case limits (80000-80014).
        Some(4 | 17 | 32 | 341 | 613 | 80_000..=80_014) => {
            PlatformError::RateLimited { reset_at: reset, message }
        }
        Some(506) => PlatformError::Duplicate { message },
        // 368: temporarily blocked for policy violations; 10 and 200-299: permission.
        Some(10 | 200..=299 | 368) => PlatformError::Permission { message },
        // Unknown (1) and service (2) errors are temporary downtime.
        Some(1 | 2) => PlatformError::Down { status: Some(status), message },
        _ if status >= 500 => PlatformError::Down { status: Some(status), message },
        _ => PlatformError::Validation { message },
    }
}

/// The id in a Graph answer (`{"id": "..."}`), or `key` when given.
pub(crate) fn id_in(body: &Value, key: &str, platform: &str) -> Result<String, PlatformError> {
    body.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| PlatformError::Down {
        status: None,
        message: format!("{platform} answered without an id"),
    })
}

/// Objects per page of a Graph listing.
pub(crate) const GRAPH_PAGE: &str = "100";

/// A Graph cursor (`paging.cursors.after`): base64url-like text.
fn cursor(page: &str) -> Result<&str, PlatformError> {
    checked_id(page, "page", |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='))
}

/// `url` for the page a Graph cursor names (`after`), the first page without one.
pub(crate) fn paged(mut url: Url, page: Option<&str>) -> Result<Url, PlatformError> {
    url.query_pairs_mut().append_pair("limit", GRAPH_PAGE);
    if let Some(after) = page {
        url.query_pairs_mut().append_pair("after", cursor(after)?);
    }
    Ok(url)
}

/// A Graph listing (`{"data": [...], "paging": {"cursors": {"after"}, "next"}}`)
/// as a page of posts, each element read by `post`; there is a next page only
/// when the Graph gives its `next` link.
pub(crate) fn graph_posts(answer: &Value, post: impl Fn(&Value) -> Option<AccountPost>) -> PostPage {
    let posts = answer.get("data").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter();
    let next = answer
        .pointer("/paging/next")
        .and(answer.pointer("/paging/cursors/after"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    PostPage { posts: posts.filter_map(post).collect(), next }
}

/// The text at `key` of a Graph object.
pub(crate) fn field(object: &Value, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The text with the link appended, where the endpoint has no link field.
pub(crate) fn text_with_link(post: &NewPost) -> String {
    match &post.link {
        Some(link) if post.text.is_empty() => link.to_string(),
        Some(link) => format!("{}\n\n{link}", post.text),
        None => post.text.clone(),
    }
}

pub struct Facebook {
    /// `https://graph.facebook.com/v{N}.0`, the version included.
    base: Url,
    /// The Page this adapter posts as (the account's platform id).
    page_id: String,
    graph: Graph,
}

impl Facebook {
    /// The API this adapter calls (what the pass-through proxy may reach).
    /// The account's rate-limit state and how the Graph states it (for the proxy too).
    pub(crate) fn rate(&self) -> (&crate::platforms::rate::RateLimits, crate::platforms::ReadLimits) {
        self.graph.rate()
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn new(base: Url, page_id: String, clock: SharedClock) -> Result<Facebook, PlatformError> {
        graph_id(&page_id, "Page")?;
        Ok(Facebook { base, page_id, graph: Graph::new(clock)? })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, PlatformError> {
        endpoint(&self.base, segments)
    }
}

impl PlatformApi for Facebook {
    fn name(&self) -> &'static str {
        NAME
    }

    fn supports(&self, _op: Operation) -> bool {
        true
    }

    /// A text or link post on the Page's feed; with an image, a photo post
    /// (`source` uploaded as multipart, the text and link as its `caption`).
    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        let http = self.graph.http();
        let created = match &post.image {
            None => {
                let mut form = vec![("message", post.text.clone())];
                if let Some(link) = &post.link {
                    form.push(("link", link.to_string()));
                }
                let url = self.url(&[&self.page_id, "feed"])?;
                self.graph.send(call, http.post(url).form(&form)).await?
            }
            Some(image) => {
                let file = reqwest::multipart::Part::bytes(image.bytes.clone())
                    .file_name("image")
                    .mime_str(&image.media_type)
                    .map_err(|_| PlatformError::Validation {
                        message: format!("{:?} is not a media type", image.media_type),
                    })?;
                let form = reqwest::multipart::Form::new()
                    .text("caption", text_with_link(post))
                    .part("source", file);
                let url = self.url(&[&self.page_id, "photos"])?;
                self.graph.send(call, http.post(url).multipart(form)).await?
            }
        };
        // A photo answers with its own `id` and the feed story's `post_id`.
        let id = match created.get("post_id") {
            Some(_) => id_in(&created, "post_id", NAME)?,
            None => id_in(&created, "id", NAME)?,
        };
        Ok(Published { url: Some(format!("https://www.facebook.com/{id}")), id })
    }

    async fn delete(&self, call: &Call<'_>, post: &str) -> Result<(), PlatformError> {
        let url = self.url(&[graph_id(post, "post")?])?;
        self.graph.send(call, self.graph.http().delete(url)).await.map(|_| ())
    }

    /// A comment on a post, or a reply to a comment (both `/{id}/comments`).
    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        if post.image.is_some() {
            return Err(PlatformError::Unsupported {
                platform: NAME,
                operation: "reply with an image (not built yet)",
            });
        }
        let url = self.url(&[graph_id(in_reply_to, "post or comment")?, "comments"])?;
        let form = [("message", text_with_link(post))];
        let created = self.graph.send(call, self.graph.http().post(url).form(&form)).await?;
        Ok(Published { id: id_in(&created, "id", NAME)?, url: None })
    }

    async fn comments(&self, call: &Call<'_>, post: &str) -> Result<Vec<Comment>, PlatformError> {
        let mut url = self.url(&[graph_id(post, "post")?, "comments"])?;
        url.query_pairs_mut().append_pair("fields", "id,from,message,created_time");
        let found = self.graph.send(call, self.graph.http().get(url)).await?;
        Ok(COMMENTS.read(&found))
    }

    async fn hide_comment(&self, call: &Call<'_>, comment: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, comment, true).await
    }

    async fn delete_comment(&self, call: &Call<'_>, comment: &str) -> Result<(), PlatformError> {
        let url = self.url(&[graph_id(comment, "comment")?])?;
        self.graph.send(call, self.graph.http().delete(url)).await.map(|_| ())
    }

    /// The Page's posts, newest first.
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        let mut url = self.url(&[&self.page_id, "posts"])?;
        url.query_pairs_mut().append_pair("fields", "id,message,created_time,permalink_url");
        let listed = self.graph.send(call, self.graph.http().get(paged(url, page)?)).await?;
        Ok(graph_posts(&listed, |post| {
            Some(AccountPost {
                id: field(post, "id")?,
                text: field(post, "message").unwrap_or_default(),
                url: field(post, "permalink_url"),
                created_at: field(post, "created_time"),
                in_reply_to: None,
            })
        }))
    }

    async fn unhide_comment(&self, call: &Call<'_>, comment: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, comment, false).await
    }

    /// `POST /{page}/feed` answers the post's `id`; `POST /{page}/photos`
    /// its own `id` and the feed story's `post_id` (the post, as the Page
    /// lists it); `POST /{id}/comments` the comment's `id`.
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String> {
        let valid = |id: &str| graph_id(id, "post").is_ok();
        match posted(forward).as_slice() {
            [_, "feed" | "comments"] => answer.id_at("/id", valid),
            [_, "photos"] => answer.id_at("/post_id", valid).or_else(|| answer.id_at("/id", valid)),
            _ => None,
        }
    }
}

impl Facebook {
    /// `is_hidden` on a comment: hidden from everyone but its author and their friends, or shown again.
    async fn set_hidden(&self, call: &Call<'_>, comment: &str, hidden: bool) -> Result<(), PlatformError> {
        let url = self.url(&[graph_id(comment, "comment")?])?;
        let form = [("is_hidden", if hidden { "true" } else { "false" })];
        self.graph.send(call, self.graph.http().post(url).form(&form)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_at_100_percent_blocks_until_the_estimate() {
        let now = Timestamp(1_000_000);
        let header = r#"{"1234":[{"type":"pages","call_count":100,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":7}]}"#;
        assert_eq!(read_usage(header, now), (true, Some(Timestamp(1_000_000 + 7 * 60_000))));
        let low = r#"{"1234":[{"type":"pages","call_count":9,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":0}]}"#;
        assert_eq!(read_usage(low, now), (false, None));
        assert_eq!(read_usage("not json", now), (false, None));
    }

    #[test]
    fn graph_errors_map_by_code() {
        let e = |code: i64, sub: Option<i64>| json!({"error": {"message": "m", "type": "OAuthException", "code": code, "error_subcode": sub}});
        assert!(matches!(graph_error(400, &e(190, Some(463)), None), PlatformError::TokenInvalid { .. }));
        // 102 is a user session error, not the Page token's: the account is not marked for it.
        assert!(!matches!(graph_error(400, &e(102, None), None), PlatformError::TokenInvalid { .. }));
        assert!(matches!(graph_error(403, &e(200, None), None), PlatformError::Permission { .. }));
        assert!(matches!(graph_error(400, &e(368, None), None), PlatformError::Permission { .. }));
        assert!(matches!(graph_error(400, &e(32, None), None), PlatformError::RateLimited { .. }));
        assert!(matches!(graph_error(400, &e(80001, None), None), PlatformError::RateLimited { .. }));
        assert!(matches!(graph_error(400, &e(9, Some(2207042)), None), PlatformError::RateLimited { .. }));
        assert!(matches!(graph_error(400, &e(506, None), None), PlatformError::Duplicate { .. }));
        assert!(matches!(graph_error(400, &e(100, None), None), PlatformError::Validation { .. }));
        assert!(matches!(graph_error(500, &e(2, None), None), PlatformError::Down { status: Some(500), .. }));
        assert!(matches!(graph_error(502, &Value::Null, None), PlatformError::Down { .. }));
    }
}
