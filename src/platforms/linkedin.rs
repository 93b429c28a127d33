//! LinkedIn (Posts API and Comments API of Community Management,
//! learn.microsoft.com/linkedin): posts, deletes, comments as replies,
//! listing and deleting comments. Every call names the API version
//! (`LinkedIn-Version: YYYYMM`) and Rest.li protocol 2.0.0. Ids are URNs
//! (`urn:li:share:…`, `urn:li:ugcPost:…`, `urn:li:comment:(…,…)`), checked
//! strictly and percent-encoded whole into one path segment.
//!
//! Rate limits are daily, per application and per member, and reset at
//! midnight UTC; LinkedIn sends no rate-limit headers, so a 429 blocks the
//! account here until the next midnight UTC by the adapter's clock.
//!
//! Links are appended to the commentary: the Posts API's article content
//! requires a `title`, which Custodian's posts do not carry (and a post
//! made through the API gets no scraped preview either way). The
//! commentary is LinkedIn's "little text" format, so its reserved
//! characters are escaped (`#` is left alone so hashtags stay hashtags).
//!
//! Not offered: hiding a comment (the API has no such operation). Not yet
//! built here: images (they need the Images API's initializeUpload and an
//! upload before the post).

use reqwest::RequestBuilder;
use serde_json::{json, Value};
use url::Url;

use crate::clock::{SharedClock, Timestamp};
use crate::platforms::rate::RateLimits;
use crate::platforms::{
    checked_id, endpoint, exchange, http_client, Call, Comment, NewPost, Operation, Platform, PlatformError,
    Published, ReadLimits,
};

const NAME: &str = "LinkedIn";
/// The longest commentary the Posts API takes; longer posts are refused here.
pub const MAX_CHARS: usize = 3000;
/// The longest comment LinkedIn takes (Comments API).
pub const MAX_COMMENT_CHARS: usize = 1250;
const RESTLI_PROTOCOL: &str = "2.0.0";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub struct LinkedIn {
    /// `https://api.linkedin.com/rest`.
    base: Url,
    /// `urn:li:organization:…` or `urn:li:person:…`: the author of posts and the actor of comments.
    author: String,
    /// `YYYYMM`, sent as `LinkedIn-Version`.
    version: String,
    http: reqwest::Client,
    limits: RateLimits,
    clock: SharedClock,
}

/// What a call answered: its body and the `x-restli-id` of a created entity.
struct Created {
    body: Value,
    created_id: Option<String>,
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 24 && s.bytes().all(|b| b.is_ascii_digit())
}

fn urn_alphabet(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '(' | ')' | ',')
}

/// `urn:li:<kind>:<digits>` for one of `kinds`.
fn simple_urn<'a>(id: &'a str, what: &str, kinds: &[&str]) -> Result<&'a str, PlatformError> {
    let id = checked_id(id, what, urn_alphabet)?;
    let ok = id
        .strip_prefix("urn:li:")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(kind, number)| kinds.contains(&kind) && digits(number));
    if ok {
        Ok(id)
    } else {
        Err(not_an_urn(id, what))
    }
}

fn not_an_urn(id: &str, what: &str) -> PlatformError {
    PlatformError::BadRequest(format!(
        "{what} {:?} is not an id this platform issues",
        id.escape_default().to_string()
    ))
}

/// A post: `urn:li:share:…` or `urn:li:ugcPost:…`.
fn post_urn(id: &str) -> Result<&str, PlatformError> {
    simple_urn(id, "post", &["share", "ugcPost"])
}

/// What comments hang on: a post, or the activity LinkedIn names in comment URNs.
fn thread_urn(id: &str) -> Result<&str, PlatformError> {
    simple_urn(id, "post", &["share", "ugcPost", "activity"])
}

/// `urn:li:comment:(<thread urn>,<digits>)` → (the thread's URN, the comment's id).
fn comment_urn(id: &str) -> Result<(&str, &str), PlatformError> {
    let id = checked_id(id, "comment", urn_alphabet)?;
    let parts = id
        .strip_prefix("urn:li:comment:(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|inner| inner.split_once(','))
        .filter(|(thread, number)| thread_urn(thread).is_ok() && digits(number));
    parts.ok_or_else(|| not_an_urn(id, "comment"))
}

/// An URN percent-encoded whole (`:` `(` `,` `)` included), as LinkedIn wants it in a path.
fn encoded(urn: &str) -> String {
    url::form_urlencoded::byte_serialize(urn.as_bytes()).collect()
}

/// Escapes the reserved characters of LinkedIn's "little text" format.
fn little_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '|' | '{' | '}' | '@' | '[' | ']' | '(' | ')' | '<' | '>' | '*' | '_' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The start of the next UTC day after `now`: when LinkedIn's daily limits reset.
pub fn next_midnight_utc(now: Timestamp) -> Timestamp {
    Timestamp((now.0.div_euclid(DAY_MS) + 1).saturating_mul(DAY_MS))
}

/// The words of a LinkedIn error (`{"message","serviceErrorCode","status"}`).
fn message_of(body: &Value, status: u16) -> String {
    body.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("HTTP {status}"))
}

fn is_duplicate(body: &Value, message: &str) -> bool {
    let coded = body.pointer("/errorDetails/inputErrors").and_then(Value::as_array).is_some_and(|errors| {
        errors.iter().any(|e| e.get("code").and_then(Value::as_str) == Some("DUPLICATE_POST"))
    });
    coded || message.contains("Content is a duplicate of")
}

fn with_link(post: &NewPost) -> String {
    match &post.link {
        Some(link) => format!("{}\n\n{link}", post.text),
        None => post.text.clone(),
    }
}

impl LinkedIn {
    /// `base` is `https://api.linkedin.com/rest`; `author` the member or
    /// organization URN posting; `version` the `YYYYMM` API version.
    pub fn new(
        base: Url,
        author: String,
        version: String,
        clock: SharedClock,
    ) -> Result<LinkedIn, PlatformError> {
        let author_ok =
            author.strip_prefix("urn:li:").and_then(|rest| rest.split_once(':')).is_some_and(|(kind, id)| {
                match kind {
                    "organization" => digits(id),
                    "person" => {
                        !id.is_empty()
                            && id.len() <= 64
                            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    }
                    _ => false,
                }
            });
        if !author_ok {
            return Err(PlatformError::BadRequest(format!(
                "{:?} is not a LinkedIn organization or person URN",
                author.escape_default().to_string()
            )));
        }
        let month = version.get(4..).and_then(|m| m.parse::<u8>().ok());
        if version.len() != 6
            || !version.bytes().all(|b| b.is_ascii_digit())
            || !matches!(month, Some(1..=12))
        {
            return Err(PlatformError::BadRequest(format!(
                "{:?} is not a LinkedIn API version (YYYYMM)",
                version.escape_default().to_string()
            )));
        }
        let http = http_client().map_err(|e| PlatformError::Down { status: None, message: e.to_string() })?;
        Ok(LinkedIn { base, author, version, http, limits: RateLimits::default(), clock })
    }

    /// `base` + the fixed `segments`, then `urn` as one fully encoded segment, then `tail`.
    fn url(&self, segments: &[&str], urn: Option<&str>, tail: &[&str]) -> Result<Url, PlatformError> {
        let mut url = endpoint(&self.base, segments)?;
        if let Some(urn) = urn {
            // `endpoint` leaves `:` `(` `,` `)` as they are; LinkedIn wants them encoded,
            // and `encoded` leaves nothing that could end the segment.
            let path = format!("{}/{}", url.path().trim_end_matches('/'), encoded(urn));
            url.set_path(&path);
        }
        if tail.is_empty() {
            Ok(url)
        } else {
            endpoint(&url, tail)
        }
    }

    /// Sends one call with its token and the version headers, unless the
    /// account's daily limit is spent. (Not `platforms::exchange`: the id of
    /// a new post comes only in the `x-restli-id` header.)
    async fn send(&self, call: &Call<'_>, request: RequestBuilder) -> Result<Created, PlatformError> {
        let now = self.clock.now();
        let request = request
            .header("LinkedIn-Version", &self.version)
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL);
        // LinkedIn sends no rate-limit headers: its daily limits reset at midnight UTC.
        let read_limits: ReadLimits = |_, _| (None, None);
        let answer = exchange(&self.limits, now, call, request, read_limits).await?;
        let reset = next_midnight_utc(now);
        if answer.status == 429 {
            self.limits.block(call.account_id, reset);
        }
        if (200..300).contains(&answer.status) {
            let created_id =
                answer.headers.get("x-restli-id").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned());
            return Ok(Created { body: answer.body, created_id });
        }
        let (status, body) = (answer.status, answer.body);
        let message = message_of(&body, status);
        Err(match status {
            401 => PlatformError::TokenInvalid { message },
            409 => PlatformError::Duplicate { message },
            400 | 422 if is_duplicate(&body, &message) => PlatformError::Duplicate { message },
            403 => PlatformError::Permission { message },
            400 | 404 | 422 => PlatformError::Validation { message },
            429 => PlatformError::RateLimited { reset_at: Some(reset), message },
            code => PlatformError::Down { status: Some(code), message },
        })
    }

    fn no_image(post: &NewPost, operation: &'static str) -> Result<(), PlatformError> {
        if post.image.is_some() {
            return Err(PlatformError::Unsupported { platform: NAME, operation });
        }
        Ok(())
    }
}

impl Platform for LinkedIn {
    fn name(&self) -> &'static str {
        NAME
    }

    fn supports(&self, op: Operation) -> bool {
        op != Operation::HideComment
    }

    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        LinkedIn::no_image(
            post,
            "publish with an image (LinkedIn images need the Images API's upload, not built yet)",
        )?;
        let text = with_link(post);
        if text.trim().is_empty() {
            return Err(PlatformError::Validation { message: "a LinkedIn post needs text".into() });
        }
        let commentary = little_text(&text);
        if commentary.chars().count() > MAX_CHARS {
            return Err(PlatformError::Validation {
                message: format!("posts on LinkedIn are at most {MAX_CHARS} characters"),
            });
        }
        let body = json!({
            "author": self.author,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": []
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false
        });
        let answer = self.send(call, self.http.post(self.url(&["posts"], None, &[])?).json(&body)).await?;
        let id = answer.created_id.filter(|id| post_urn(id).is_ok()).ok_or_else(|| PlatformError::Down {
            status: None,
            message: "LinkedIn answered without a post URN".into(),
        })?;
        Ok(Published { url: Some(format!("https://www.linkedin.com/feed/update/{id}/")), id })
    }

    /// Idempotent: deleting a post already deleted succeeds (LinkedIn answers 204).
    async fn delete(&self, call: &Call<'_>, post: &str) -> Result<(), PlatformError> {
        let url = self.url(&["posts"], Some(post_urn(post)?), &[])?;
        self.send(call, self.http.delete(url)).await.map(|_| ())
    }

    /// A comment on a post (`in_reply_to` a post URN), or a reply to a
    /// comment (`in_reply_to` a comment URN).
    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        LinkedIn::no_image(post, "comment with an image (image upload to LinkedIn is not built yet)")?;
        let (target, mut body) = if in_reply_to.starts_with("urn:li:comment:") {
            let (thread, _) = comment_urn(in_reply_to)?;
            (in_reply_to, json!({ "actor": self.author, "object": thread, "parentComment": in_reply_to }))
        } else {
            let thread = thread_urn(in_reply_to)?;
            (thread, json!({ "actor": self.author, "object": thread }))
        };
        let text = with_link(post);
        if text.trim().is_empty() {
            return Err(PlatformError::Validation { message: "a LinkedIn comment needs text".into() });
        }
        if text.chars().count() > MAX_COMMENT_CHARS {
            return Err(PlatformError::Validation {
                message: format!("comments on LinkedIn are at most {MAX_COMMENT_CHARS} characters"),
            });
        }
        body["message"] = json!({ "text": text });
        let url = self.url(&["socialActions"], Some(target), &["comments"])?;
        let answer = self.send(call, self.http.post(url).json(&body)).await?;
        let id = answer
            .body
            .get("commentUrn")
            .or_else(|| answer.body.get("$URN"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(answer.created_id)
            .filter(|id| comment_urn(id).is_ok())
            .ok_or_else(|| PlatformError::Down {
                status: None,
                message: "LinkedIn answered without a comment URN".into(),
            })?;
        Ok(Published { id, url: None })
    }

    /// The first page of comments on a post (LinkedIn's default page size).
    async fn comments(&self, call: &Call<'_>, post: &str) -> Result<Vec<Comment>, PlatformError> {
        let url = self.url(&["socialActions"], Some(thread_urn(post)?), &["comments"])?;
        let found = self.send(call, self.http.get(url)).await?.body;
        let elements = found.get("elements").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(elements
            .iter()
            .filter_map(|c| {
                let id = c.get("commentUrn").or_else(|| c.get("$URN"))?.as_str()?.to_owned();
                Some(Comment {
                    id,
                    author: c.get("actor").and_then(Value::as_str).unwrap_or("").to_owned(),
                    text: c.pointer("/message/text").and_then(Value::as_str).unwrap_or("").to_owned(),
                    created_at: c
                        .pointer("/created/time")
                        .and_then(Value::as_i64)
                        .map(|t| Timestamp(t).rfc3339()),
                })
            })
            .collect())
    }

    async fn hide_comment(&self, _call: &Call<'_>, _comment: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported {
            platform: NAME,
            operation: "hide a comment (LinkedIn's API has no way to hide one; delete it instead)",
        })
    }

    /// `DELETE /socialActions/{thread}/comments/{id}?actor=…`, the thread and id taken from the comment URN.
    async fn delete_comment(&self, call: &Call<'_>, comment: &str) -> Result<(), PlatformError> {
        let (thread, id) = comment_urn(comment)?;
        let mut url = self.url(&["socialActions"], Some(thread), &["comments", id])?;
        url.query_pairs_mut().append_pair("actor", &self.author);
        self.send(call, self.http.delete(url)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_are_checked_and_encoded_as_one_segment() {
        assert!(post_urn("urn:li:share:7012345678901234567").is_ok());
        assert!(post_urn("urn:li:ugcPost:123").is_ok());
        for bad in [
            "",
            "123",
            "urn:li:share:",
            "urn:li:share:12a",
            "urn:li:person:1",
            "urn:li:share:1/../x",
            "urn:li:share:1?x",
        ] {
            assert!(post_urn(bad).is_err(), "{bad}");
        }
        assert_eq!(comment_urn("urn:li:comment:(urn:li:activity:1,2)").unwrap(), ("urn:li:activity:1", "2"));
        for bad in [
            "urn:li:comment:(urn:li:activity:1)",
            "urn:li:comment:(x,2)",
            "urn:li:comment:(urn:li:activity:1,2",
        ] {
            assert!(comment_urn(bad).is_err(), "{bad}");
        }
        assert_eq!(
            encoded("urn:li:comment:(urn:li:activity:1,2)"),
            "urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A1%2C2%29"
        );
        assert_eq!(little_text("a (b) #c @d"), "a \\(b\\) #c \\@d");
        assert_eq!(next_midnight_utc(Timestamp(DAY_MS * 3 + 5)), Timestamp(DAY_MS * 4));
        assert_eq!(next_midnight_utc(Timestamp(DAY_MS * 3)), Timestamp(DAY_MS * 4));
    }
}
