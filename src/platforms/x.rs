//! X (API v2, docs.x.com): posts and replies (with one image), deletes,
//! hidden replies (and showing them again), replies listed by searching the
//! conversation, and the user's own posts (`GET /2/users/:id/tweets`,
//! reposts left out). OAuth
//! 2.0 user-context tokens expire after two hours and are refreshed by the
//! renewal (`platforms::refresh`). Rate limits come in `x-rate-limit-remaining`
//! and `x-rate-limit-reset` (Unix seconds) per endpoint.
//!
//! An image goes up first with the simple upload, `POST /2/media/upload`
//! (multipart: the `media` file, `media_category=tweet_image` and the
//! `media_type`; the token needs the `media.write` scope), its alt text with
//! `POST /2/media/metadata`, and the post then names the media id. X's limits
//! for images (PNG, JPEG, GIF or WebP, at most 5 MB) are checked here before
//! anything is sent. The upload reference lists no `image/gif` among the
//! `media_type` values, so a GIF goes without one and X reads the type from
//! the file; GIFs over 5 MB need the chunked upload, which is not built here.
//!
//! Not offered: deleting someone else's reply (hide it instead).

use reqwest::multipart::{Form, Part};
use reqwest::RequestBuilder;
use serde_json::{json, Value};
use url::Url;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Forward, Image, NewPost};
use crate::platforms::comments::{Layout, Written};
use crate::platforms::forward::{posted, Forwarded};
use crate::platforms::rate::RateLimits;
use crate::platforms::{
    checked_id, endpoint, exchange, header_pair, http_client, AccountPost, Call, Comment, Operation,
    PlatformApi, PlatformError, PostPage, Published, ReadLimits,
};

const NAME: &str = "X";
/// Replies as the recent search answers them.
const COMMENTS: Layout = Layout {
    list: "/data",
    id: &["/id"],
    author: &["/author_id"],
    text: "/text",
    created_at: Written::Text("/created_at"),
};
/// Longer posts are refused here rather than sent (X counts characters
/// with weights; this is the plain limit).
pub const MAX_CHARS: usize = 280;
/// An image through the simple upload: at most 5 MB (docs.x.com, media
/// "Best practices"), read as 5 MiB.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// The image types X takes (docs.x.com, media "Best practices").
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];
/// Alt text is at most 1,000 characters (media metadata).
pub const MAX_ALT_TEXT_CHARS: usize = 1000;

/// `x-rate-limit-remaining`, and `x-rate-limit-reset` in Unix seconds.
const LIMITS: ReadLimits = |headers, _| {
    let parse_reset = |v: &str| v.trim().parse::<i64>().ok().map(|s| Timestamp(s.saturating_mul(1000)));
    header_pair(headers, ("x-rate-limit-remaining", "x-rate-limit-reset"), parse_reset)
};

/// Posts per page of the user's own (X's most).
const PAGE: usize = 100;

pub struct X {
    /// `https://api.x.com`.
    base: Url,
    /// The user's id, for listing their posts.
    user: Option<String>,
    http: reqwest::Client,
    limits: RateLimits,
    clock: SharedClock,
}

fn post_id(id: &str) -> Result<&str, PlatformError> {
    checked_id(id, "post", |c| c.is_ascii_digit())
}

/// The words of an X error: the first of `errors` (an invalid request's
/// `detail` only says that some parameter was invalid), else a problem's
/// `detail` or `title`.
fn message_of(body: &Value, status: u16) -> String {
    body.pointer("/errors/0/message")
        .or_else(|| body.get("detail"))
        .or_else(|| body.get("title"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// Checks an image against X's limits, so nothing is sent for one X would refuse.
fn checked_image(image: &Image) -> Result<&Image, PlatformError> {
    let refuse = |message: String| Err(PlatformError::Validation { message });
    if !IMAGE_TYPES.contains(&image.media_type.as_str()) {
        return refuse(format!(
            "X takes PNG, JPEG, GIF or WebP images, not {:?}",
            image.media_type.escape_default().to_string()
        ));
    }
    if image.bytes.is_empty() {
        return refuse("the image is empty".into());
    }
    if image.bytes.len() > MAX_IMAGE_BYTES {
        return refuse(format!(
            "images on X are at most 5 MB ({MAX_IMAGE_BYTES} bytes); this one is {} bytes",
            image.bytes.len()
        ));
    }
    if image.description.as_ref().is_some_and(|d| d.chars().count() > MAX_ALT_TEXT_CHARS) {
        return refuse(format!("alt text on X is at most {MAX_ALT_TEXT_CHARS} characters"));
    }
    Ok(image)
}

impl X {
    /// The API this adapter calls (what the pass-through proxy may reach).
    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn new(base: Url, clock: SharedClock) -> Result<X, PlatformError> {
        let http = http_client().map_err(|e| PlatformError::Down { status: None, message: e.to_string() })?;
        Ok(X { base, user: None, http, limits: RateLimits::default(), clock })
    }

    /// The adapter for the user `id` (whose posts it lists; an id X does
    /// not issue lists none).
    pub fn for_user(mut self, id: &str) -> X {
        self.user = checked_id(id, "user", |c| c.is_ascii_digit()).ok().map(str::to_owned);
        self
    }

    /// Hides a reply in a conversation the account started, or shows it again.
    async fn set_hidden(&self, call: &Call<'_>, reply: &str, hidden: bool) -> Result<(), PlatformError> {
        let url = self.url(&["tweets", post_id(reply)?, "hidden"])?;
        self.send(call, self.http.put(url).json(&json!({ "hidden": hidden }))).await.map(|_| ())
    }

    /// The account's rate-limit state and how X states its limits (for the proxy too).
    pub(crate) fn rate(&self) -> (&RateLimits, ReadLimits) {
        (&self.limits, LIMITS)
    }

    fn url(&self, segments: &[&str]) -> Result<Url, PlatformError> {
        let mut all = vec!["2"];
        all.extend_from_slice(segments);
        endpoint(&self.base, &all)
    }

    async fn send(&self, call: &Call<'_>, request: RequestBuilder) -> Result<Value, PlatformError> {
        let answer = exchange(&self.limits, self.clock.now(), call, request, LIMITS).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        let message = message_of(&answer.body, answer.status);
        Err(match answer.status {
            401 => PlatformError::TokenInvalid { message },
            403 if message.contains("duplicate content") => PlatformError::Duplicate { message },
            403 => PlatformError::Permission { message },
            400 | 404 => PlatformError::Validation { message },
            429 => PlatformError::RateLimited { reset_at: answer.reset, message },
            code => PlatformError::Down { status: Some(code), message },
        })
    }

    async fn create(
        &self,
        call: &Call<'_>,
        post: &NewPost,
        in_reply_to: Option<&str>,
    ) -> Result<Published, PlatformError> {
        // X has no link field: links go in the text, where X shortens and previews them.
        let text = match &post.link {
            Some(link) => format!("{}\n\n{link}", post.text),
            None => post.text.clone(),
        };
        if text.chars().count() > MAX_CHARS {
            return Err(PlatformError::Validation {
                message: format!("posts on X are at most {MAX_CHARS} characters"),
            });
        }
        // Everything is checked before the first call: an upload is not made for a post refused here.
        let image = post.image.as_ref().map(checked_image).transpose()?;
        let in_reply_to = in_reply_to.map(post_id).transpose()?;
        // A post with media may have no text; X wants the field left out then.
        let mut body = if text.is_empty() && image.is_some() { json!({}) } else { json!({ "text": text }) };
        if let Some(id) = in_reply_to {
            body["reply"] = json!({ "in_reply_to_tweet_id": id });
        }
        if let Some(image) = image {
            body["media"] = json!({ "media_ids": [self.upload(call, image).await?] });
        }
        let created = self.send(call, self.http.post(self.url(&["tweets"])?).json(&body)).await?;
        let id = created.pointer("/data/id").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            PlatformError::Down { status: None, message: "X answered without a post id".into() }
        })?;
        Ok(Published { url: Some(format!("https://x.com/i/web/status/{id}")), id })
    }

    /// Uploads one checked image (and its alt text); returns X's media id.
    async fn upload(&self, call: &Call<'_>, image: &Image) -> Result<String, PlatformError> {
        let file = Part::bytes(image.bytes.clone())
            .file_name("image")
            .mime_str(&image.media_type)
            .map_err(|_| PlatformError::BadRequest("the image's media type is not a MIME type".into()))?;
        let mut form = Form::new().text("media_category", "tweet_image");
        if image.media_type != "image/gif" {
            form = form.text("media_type", image.media_type.clone());
        }
        let form = form.part("media", file);
        let uploaded =
            self.send(call, self.http.post(self.url(&["media", "upload"])?).multipart(form)).await?;
        let id = uploaded
            .pointer("/data/id")
            .and_then(Value::as_str)
            .filter(|id| post_id(id).is_ok())
            .map(str::to_owned)
            .ok_or_else(|| PlatformError::Down {
                status: None,
                message: "X answered the upload without a media id".into(),
            })?;
        if let Some(alt) = image.description.as_deref().filter(|d| !d.trim().is_empty()) {
            let body = json!({ "id": id, "metadata": { "alt_text": { "text": alt } } });
            self.send(call, self.http.post(self.url(&["media", "metadata"])?).json(&body)).await?;
        }
        Ok(id)
    }
}

impl PlatformApi for X {
    fn name(&self) -> &'static str {
        NAME
    }

    fn supports(&self, op: Operation) -> bool {
        op != Operation::DeleteComment
    }

    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        self.create(call, post, None).await
    }

    async fn delete(&self, call: &Call<'_>, post: &str) -> Result<(), PlatformError> {
        let url = self.url(&["tweets", post_id(post)?])?;
        self.send(call, self.http.delete(url)).await.map(|_| ())
    }

    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        self.create(call, post, Some(in_reply_to)).await
    }

    /// Replies in the post's conversation (recent search, as X offers it).
    async fn comments(&self, call: &Call<'_>, post: &str) -> Result<Vec<Comment>, PlatformError> {
        let mut url = self.url(&["tweets", "search", "recent"])?;
        url.query_pairs_mut()
            .append_pair("query", &format!("conversation_id:{}", post_id(post)?))
            .append_pair("tweet.fields", "author_id,created_at,conversation_id");
        let found = self.send(call, self.http.get(url)).await?;
        Ok(COMMENTS.read(&found))
    }

    /// Hides a reply in a conversation the account started.
    async fn hide_comment(&self, call: &Call<'_>, reply: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, reply, true).await
    }

    async fn delete_comment(&self, _call: &Call<'_>, _reply: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported { platform: NAME, operation: Operation::DeleteComment.as_str() })
    }

    /// The user's posts and replies, newest first (`pagination_token` pages back).
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        let user = self.user.as_deref().ok_or_else(|| {
            PlatformError::BadRequest("the X user's id is not known to this adapter".into())
        })?;
        let mut url = self.url(&["users", user, "tweets"])?;
        url.query_pairs_mut()
            .append_pair("max_results", &PAGE.to_string())
            .append_pair("exclude", "retweets")
            .append_pair("tweet.fields", "created_at,referenced_tweets");
        if let Some(token) = page {
            let token = checked_id(token, "page", |c| c.is_ascii_alphanumeric())?;
            url.query_pairs_mut().append_pair("pagination_token", token);
        }
        let listed = self.send(call, self.http.get(url)).await?;
        let text = |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
        let posts = listed
            .get("data")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|post| {
                let id = text(post, "/id")?;
                let replied_to = post
                    .get("referenced_tweets")
                    .and_then(Value::as_array)
                    .and_then(|refs| refs.iter().find(|r| r["type"] == "replied_to"))
                    .and_then(|r| text(r, "/id"));
                Some(AccountPost {
                    url: Some(format!("https://x.com/i/web/status/{id}")),
                    text: text(post, "/text").unwrap_or_default(),
                    created_at: text(post, "/created_at"),
                    in_reply_to: replied_to,
                    id,
                })
            })
            .collect();
        Ok(PostPage { posts, next: text(&listed, "/meta/next_token") })
    }

    /// Shows again a reply the account hid.
    async fn unhide_comment(&self, call: &Call<'_>, reply: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, reply, false).await
    }

    /// `POST /2/tweets` answers `{"data": {"id": ...}}`.
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String> {
        match posted(forward).as_slice() {
            ["2", "tweets"] => answer.id_at("/data/id", |id| post_id(id).is_ok()),
            _ => None,
        }
    }
}
