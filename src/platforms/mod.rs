//! Platform adapters: one trait, one module per platform. An adapter is
//! handed the credential for exactly one call and talks only to its
//! configured base URL: it follows no redirects, builds no URL from a
//! caller's text (ids are checked against each platform's id alphabet and
//! placed as single path segments), and times out every call. Platform
//! errors become [`PlatformError`]s carrying the platform's own message.
//! Adapters honour rate-limit headers: once a platform says the budget is
//! spent, calls are refused here until its reset time, not sent.

pub mod accounts;
pub mod adapter;
pub mod bluesky;
pub mod bluesky_session;
pub(crate) mod comments;
pub mod config;
pub mod connect;
pub mod dispatch;
pub mod facebook;
pub mod forward;
pub mod instagram;
pub mod linkedin;
pub mod mastodon;
pub(crate) mod rate;
pub mod refresh;
pub mod sandbox;
pub mod tokens;
pub mod withhold;
pub mod x;

use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::clock::Timestamp;
use crate::domain::{AccountId, Forward, NewPost};
use crate::platforms::forward::Forwarded;
use crate::secret::Secret;

/// Every call gives up after this long.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the platform created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: String,
    pub author: String,
    pub text: String,
    /// As the platform gives it.
    #[schema(required = true)]
    pub created_at: Option<String>,
}

/// One of the account's own posts (or replies), as the platform lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountPost {
    pub id: String,
    pub text: String,
    /// Where people read it, when the platform says.
    pub url: Option<String>,
    /// As the platform gives it.
    pub created_at: Option<String>,
    /// The post it answers, when it is a reply.
    pub in_reply_to: Option<String>,
}

/// One page of the account's own posts, newest first, and where the next
/// (older) page starts, if the platform has one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PostPage {
    pub posts: Vec<AccountPost>,
    pub next: Option<String>,
}

/// The operations an adapter may support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Publish,
    Delete,
    Reply,
    ListComments,
    HideComment,
    DeleteComment,
    /// Listing the account's own posts, newest first.
    ListPosts,
    /// Showing a hidden comment again.
    UnhideComment,
}

impl Operation {
    pub const ALL: [Operation; 8] = [
        Operation::Publish,
        Operation::Delete,
        Operation::Reply,
        Operation::ListComments,
        Operation::HideComment,
        Operation::DeleteComment,
        Operation::ListPosts,
        Operation::UnhideComment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Publish => "publish",
            Operation::Delete => "delete a post",
            Operation::Reply => "reply",
            Operation::ListComments => "list comments",
            Operation::HideComment => "hide a comment",
            Operation::DeleteComment => "delete a comment",
            Operation::ListPosts => "list the account's posts",
            Operation::UnhideComment => "show a hidden comment again",
        }
    }
}

/// A failed platform call, by class. Messages are the platform's own
/// words (never a credential: adapters only ever put response text here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("{platform} does not support this: {operation}")]
    Unsupported { platform: &'static str, operation: &'static str },
    #[error("the account's token is expired or invalid: {message}")]
    TokenInvalid { message: String },
    #[error("the platform refused permission: {message}")]
    Permission { message: String },
    #[error("the platform refused the content: {message}")]
    Validation { message: String },
    #[error("the platform says this is a duplicate: {message}")]
    Duplicate { message: String },
    #[error("rate limited by the platform until {}: {message}", reset_at.map(|t| t.rfc3339()).unwrap_or_else(|| "later".into()))]
    RateLimited { reset_at: Option<Timestamp>, message: String },
    #[error("the platform is unavailable: {message}")]
    Down { status: Option<u16>, message: String },
    #[error("{0}")]
    BadRequest(String),
}

/// One call's credential and the account it belongs to (for rate limits).
pub struct Call<'a> {
    pub account_id: &'a AccountId,
    pub token: &'a Secret,
}

/// The operations every platform adapter offers. Where a platform cannot
/// do something, the adapter answers [`PlatformError::Unsupported`].
#[allow(async_fn_in_trait, reason = "adapters are called through the `Adapter` enum, never as trait objects")]
pub trait PlatformApi {
    fn name(&self) -> &'static str;
    fn supports(&self, op: Operation) -> bool;
    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError>;
    async fn delete(&self, call: &Call<'_>, post_id: &str) -> Result<(), PlatformError>;
    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError>;
    async fn comments(&self, call: &Call<'_>, post_id: &str) -> Result<Vec<Comment>, PlatformError>;
    async fn hide_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError>;
    async fn delete_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError>;
    /// The account's own posts, newest first: the first page (`page`
    /// None), or the one a previous page's `next` names.
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError>;
    /// Shows a comment the account hid.
    async fn unhide_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError>;
    /// The post or reply a pass-through request created, read from the
    /// platform's successful `answer` in the shape it answers that create
    /// call (None for any other request): the journal's outcome names it,
    /// as it names what [`PlatformApi::publish`] created, so the account's
    /// own pass-through posts are not taken for posts made outside Custodian.
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String>;
}

/// The HTTP client adapters use: no redirects (a redirect could lead to
/// another host with the credential), bounded connect and call times.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .build()
}

/// A platform's answer, before the adapter reads it as success or error.
pub(crate) struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub reset: Option<Timestamp>,
    /// Some platforms answer a create with the new id in a header (LinkedIn's `x-restli-id`).
    pub headers: reqwest::header::HeaderMap,
}

/// How a platform states its rate limit in a response's headers: the calls
/// left (if it says), and when the budget resets.
pub(crate) type ReadLimits = fn(&reqwest::header::HeaderMap, Timestamp) -> (Option<u64>, Option<Timestamp>);

/// Reads a pair of headers: the calls left, and the reset time by `parse_reset`.
pub(crate) fn header_pair(
    headers: &reqwest::header::HeaderMap,
    names: (&str, &str),
    parse_reset: fn(&str) -> Option<Timestamp>,
) -> (Option<u64>, Option<Timestamp>) {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    (text(names.0).and_then(|v| v.trim().parse().ok()), text(names.1).and_then(parse_reset))
}

/// Sends one call with its token, unless the account's rate limit is
/// spent; records what the platform says of its limits (`read_limits`)
/// whatever the answer. A 429, or an answer that says no calls are left,
/// blocks the account until the reset.
pub(crate) async fn exchange(
    limits: &rate::RateLimits,
    now: Timestamp,
    call: &Call<'_>,
    request: reqwest::RequestBuilder,
    read_limits: ReadLimits,
) -> Result<Answer, PlatformError> {
    limits.check(call.account_id, now)?;
    let response =
        request.bearer_auth(call.token.expose()).send().await.map_err(|e| PlatformError::Down {
            status: None,
            message: if e.is_timeout() {
                "the call timed out".into()
            } else {
                "the platform could not be reached".into()
            },
        })?;
    let status = response.status().as_u16();
    let reset = observe_limits(limits, now, call.account_id, status, response.headers(), read_limits);
    let headers = response.headers().clone();
    let body = read_body(response).await?;
    Ok(Answer { status, body, reset, headers })
}

/// Records what an answer says of the account's rate limit (`read_limits`):
/// a 429, or no calls left, blocks the account until the reset, which it returns.
pub(crate) fn observe_limits(
    limits: &rate::RateLimits,
    now: Timestamp,
    account_id: &AccountId,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    read_limits: ReadLimits,
) -> Option<Timestamp> {
    let (remaining, reset) = read_limits(headers, now);
    // A 429 without the platform's own reset header may still say when (RFC 9110 Retry-After).
    let reset = reset.or_else(|| (status == 429).then(|| retry_after(headers, now)).flatten());
    // A reset far in the future (a bad header) does not hold an account back for longer than a day.
    let reset = reset.map(|r| r.min(now.plus(MAX_BLOCK)));
    limits.observe(account_id, remaining, reset);
    if status == 429 {
        if let Some(reset) = reset {
            limits.block(account_id, reset);
        }
    }
    reset
}

/// The longest a platform's rate limit holds an account back here.
const MAX_BLOCK: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After`: delay-seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap, now: Timestamp) -> Option<Timestamp> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(now.plus(Duration::from_secs(secs)));
    }
    chrono::DateTime::parse_from_rfc2822(value).ok().map(|t| Timestamp(t.timestamp_millis()))
}

/// No platform answer Custodian reads is larger; a bigger one is refused
/// rather than buffered.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The answer's JSON (`Null` if it is not JSON), read up to the cap.
async fn read_body(mut response: reqwest::Response) -> Result<serde_json::Value, PlatformError> {
    let mut bytes = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|_| PlatformError::Down {
            status: None,
            message: "the platform's answer was cut off".into(),
        })?;
        let Some(chunk) = chunk else { break };
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(PlatformError::Down {
                status: None,
                message: "the platform's answer is too large".into(),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// `base` + one path segment per element, each percent-encoded: a caller's
/// id can never add a segment, a query or another host.
pub fn endpoint(base: &Url, segments: &[&str]) -> Result<Url, PlatformError> {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|_| PlatformError::BadRequest("the platform's base URL cannot take a path".into()))?;
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    Ok(url)
}

/// Checks an id against the platform's id alphabet before it is used.
pub fn checked_id<'a>(
    id: &'a str,
    what: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<&'a str, PlatformError> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(allowed) {
        return Err(PlatformError::BadRequest(format!(
            "{what} {:?} is not an id this platform issues",
            id.escape_default().to_string()
        )));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_ids_inside_one_segment() {
        let base: Url = "https://mastodon.example/api/v1".parse().unwrap();
        assert_eq!(
            endpoint(&base, &["statuses", "123"]).unwrap().as_str(),
            "https://mastodon.example/api/v1/statuses/123"
        );
        let evil = endpoint(&base, &["statuses", "../../admin?x=1#y"]).unwrap();
        assert_eq!(evil.host_str(), Some("mastodon.example"));
        assert_eq!(evil.path(), "/api/v1/statuses/..%2F..%2Fadmin%3Fx=1%23y");
        assert!(evil.query().is_none());
        let numeric = |c: char| c.is_ascii_digit();
        assert!(checked_id("1234", "status", numeric).is_ok());
        for bad in ["", "12/34", "..", "1 2", "１２"] {
            assert!(checked_id(bad, "status", numeric).is_err(), "{bad}");
        }
    }
}
