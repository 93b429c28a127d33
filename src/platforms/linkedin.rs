//! LinkedIn (Posts API and Comments API of Community Management,
//! learn.microsoft.com/linkedin): posts, deletes, comments as replies,
//! listing and deleting comments, and the author's own posts (the Posts
//! API's "find posts by authors", `GET /rest/posts?q=author`, paged by
//! `start`). Every call names the API version
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
//! A post may carry one image (Images API): `POST /rest/images?action=
//! initializeUpload` names the owner and answers an upload URL and the
//! image's URN; the bytes go to that URL with `PUT` and the member's token;
//! the post then names the image in `content.media` with its alt text. The
//! image is checked here first (JPEG, PNG or GIF, under 36,152,320 pixels,
//! alt text at most 4,086 characters), so nothing is sent for one LinkedIn
//! would refuse.
//!
//! The upload URL comes from LinkedIn's answer and points at another host
//! (`https://www.linkedin.com/dms-uploads/…`). The token goes there only if
//! the URL is on the one allowed upload origin: `https://www.linkedin.com`
//! when the base is `https://api.linkedin.com`, else only what
//! [`LinkedIn::with_upload_origin`] names. Any other URL is refused and
//! nothing is uploaded; no redirect is followed from it either.
//!
//! Not offered: hiding a comment (the API has no such operation); an image
//! in a comment.

use reqwest::RequestBuilder;
use serde_json::{json, Value};
use url::{Origin, Url};

use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Forward, Image, NewPost};
use crate::platforms::comments::{Layout, Written};
use crate::platforms::forward::{posted, Forwarded};
use crate::platforms::rate::RateLimits;
use crate::platforms::{
    checked_id, endpoint, exchange, http_client, AccountPost, Call, Comment, Operation, PlatformApi,
    PlatformError, PostPage, Published, ReadLimits,
};

const NAME: &str = "LinkedIn";
/// Comments as the Comments API answers them: the URN as `commentUrn` or,
/// in older versions, `$URN`; the time in epoch milliseconds.
const COMMENTS: Layout = Layout {
    list: "/elements",
    id: &["/commentUrn", "/$URN"],
    author: &["/actor"],
    text: "/message/text",
    created_at: Written::EpochMillis("/created/time"),
};
/// The longest commentary the Posts API takes; longer posts are refused here.
pub const MAX_CHARS: usize = 3000;
/// The longest comment LinkedIn takes (Comments API).
pub const MAX_COMMENT_CHARS: usize = 1250;
/// The image types the Images API takes.
pub const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/gif"];
/// Images must have fewer pixels (width × height) than this (Images API).
pub const MAX_IMAGE_PIXELS: u64 = 36_152_320;
/// The longest alt text the Posts API takes for a media item.
pub const MAX_ALT_TEXT_CHARS: usize = 4086;
/// Where the real API's upload URLs point.
const UPLOAD_HOST: &str = "www.linkedin.com";
const RESTLI_PROTOCOL: &str = "2.0.0";
/// Posts per page of the author's own (the finder's most).
const POSTS_PAGE: usize = 100;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub struct LinkedIn {
    /// `https://api.linkedin.com/rest`.
    base: Url,
    /// `urn:li:organization:…` or `urn:li:person:…`: the author of posts and the actor of comments.
    author: String,
    /// `YYYYMM`, sent as `LinkedIn-Version`.
    version: String,
    /// The only origin an upload URL may point at (and so receive the token).
    upload_origin: Option<Origin>,
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

/// LinkedIn sends no rate-limit headers: its daily limits reset at midnight
/// UTC (a 429 holds the account until then).
const LIMITS: ReadLimits = |_, now| (None, Some(next_midnight_utc(now)));

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

fn missing(what: &str) -> PlatformError {
    PlatformError::Down { status: None, message: format!("LinkedIn answered without {what}") }
}

/// `urn:li:image:<id>`, the id in LinkedIn's base64url-like alphabet.
fn is_image_urn(urn: &str) -> bool {
    urn.strip_prefix("urn:li:image:").is_some_and(|id| {
        !id.is_empty()
            && id.len() <= 128
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// Checks an image against the Images API's limits, so nothing is sent for one LinkedIn would refuse.
fn checked_image(image: &Image) -> Result<&Image, PlatformError> {
    let refuse = |message: String| Err(PlatformError::Validation { message });
    if !IMAGE_TYPES.contains(&image.media_type.as_str()) {
        return refuse(format!(
            "LinkedIn takes JPEG, PNG or GIF images, not {:?}",
            image.media_type.escape_default().to_string()
        ));
    }
    let Some((width, height)) = dimensions(&image.media_type, &image.bytes) else {
        return refuse(format!("the image is not a readable {} file", image.media_type));
    };
    let pixels = u64::from(width) * u64::from(height);
    if pixels >= MAX_IMAGE_PIXELS {
        return refuse(format!(
            "images on LinkedIn have fewer than {MAX_IMAGE_PIXELS} pixels; this one is {width}×{height}"
        ));
    }
    if image.description.as_ref().is_some_and(|d| d.chars().count() > MAX_ALT_TEXT_CHARS) {
        return refuse(format!("alt text on LinkedIn is at most {MAX_ALT_TEXT_CHARS} characters"));
    }
    Ok(image)
}

/// An image's width and height from its header, when the bytes are a file of `media_type`.
fn dimensions(media_type: &str, bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let le16 = |at: usize| Some(u32::from(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?)));
    match media_type {
        // The signature, then the IHDR chunk (length, type, width, height).
        "image/png" if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16)? == b"IHDR" => {
            Some((be32(16)?, be32(20)?))
        }
        // The logical screen size follows the signature.
        "image/gif" if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") => {
            Some((le16(6)?, le16(8)?))
        }
        "image/jpeg" => jpeg_dimensions(bytes),
        _ => None,
    }
}

/// The size in a JPEG's frame header (SOF0–SOF15, not DHT, JPG or DAC), found by walking the segments.
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let be16 = |at: usize| Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        // Any number of 0xFF fill bytes may come before a marker.
        while *bytes.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at)?;
        at += 1;
        match marker {
            0x01 | 0xD0..=0xD8 => continue,
            // The image data or its end came before any frame header.
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                // length, precision, height, width
                return Some((u32::from(be16(at + 5)?), u32::from(be16(at + 3)?)));
            }
            _ => {
                let length = usize::from(be16(at)?);
                if length < 2 {
                    return None;
                }
                at += length;
            }
        }
    }
}

fn with_link(post: &NewPost) -> String {
    match &post.link {
        Some(link) => format!("{}\n\n{link}", post.text),
        None => post.text.clone(),
    }
}

impl LinkedIn {
    /// The API this adapter calls (what the pass-through proxy may reach).
    /// The account's rate-limit state and how LinkedIn's limits reset (for the proxy too).
    pub(crate) fn rate(&self) -> (&RateLimits, ReadLimits) {
        (&self.limits, LIMITS)
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

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
        // The real API hands out upload URLs on www.linkedin.com; any other base has none until configured.
        let real = base.scheme() == "https"
            && base.host_str() == Some("api.linkedin.com")
            && base.port_or_known_default() == Some(443);
        let upload_origin =
            real.then(|| Origin::Tuple("https".into(), url::Host::Domain(UPLOAD_HOST.into()), 443));
        Ok(LinkedIn { base, author, version, upload_origin, http, limits: RateLimits::default(), clock })
    }

    /// Allows upload URLs on `origin` (its scheme, host and port) instead of
    /// the default, as when the API is reached through a proxy or a fake.
    pub fn with_upload_origin(mut self, origin: &Url) -> Result<LinkedIn, PlatformError> {
        if !matches!(origin.scheme(), "https" | "http") || origin.host().is_none() {
            return Err(PlatformError::BadRequest(format!(
                "{:?} is not an http(s) origin for LinkedIn uploads",
                origin.origin().ascii_serialization()
            )));
        }
        self.upload_origin = Some(origin.origin());
        Ok(self)
    }

    /// The upload URL LinkedIn answered, if it may receive the token: on the
    /// allowed upload origin, with no user name or password. The error names
    /// the origin only: the URL's query carries an upload credential.
    fn upload_target(&self, raw: &str) -> Result<Url, PlatformError> {
        let refused = |why: String| PlatformError::Down {
            status: None,
            message: format!("LinkedIn's upload URL was refused and nothing was uploaded: {why}"),
        };
        let url = Url::parse(raw).map_err(|_| refused("it is not a URL".into()))?;
        let Some(allowed) = &self.upload_origin else {
            return Err(refused(format!(
                "no upload origin is allowed with the base {} (see LinkedIn::with_upload_origin)",
                self.base.origin().ascii_serialization()
            )));
        };
        if url.origin() != *allowed || !url.username().is_empty() || url.password().is_some() {
            return Err(refused(format!(
                "it is on {}, not on the allowed upload origin {}",
                url.origin().ascii_serialization(),
                allowed.ascii_serialization()
            )));
        }
        Ok(url)
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

    /// Sends one REST call with its token and the version headers, unless
    /// the account's daily limit is spent.
    async fn send(&self, call: &Call<'_>, request: RequestBuilder) -> Result<Created, PlatformError> {
        let request = request
            .header("LinkedIn-Version", &self.version)
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL);
        self.send_plain(call, request).await
    }

    /// Sends one call with its token (no version headers: the upload host
    /// is not a Rest.li resource), under the same daily limit; reads the id
    /// of a created entity from the `x-restli-id` header.
    async fn send_plain(&self, call: &Call<'_>, request: RequestBuilder) -> Result<Created, PlatformError> {
        let now = self.clock.now();
        let answer = exchange(&self.limits, now, call, request, LIMITS).await?;
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

    /// Uploads one checked image: initializeUpload for the author, then the
    /// bytes to the answered upload URL (checked first). Returns the image URN.
    async fn upload(&self, call: &Call<'_>, image: &Image) -> Result<String, PlatformError> {
        let mut url = self.url(&["images"], None, &[])?;
        url.query_pairs_mut().append_pair("action", "initializeUpload");
        let body = json!({ "initializeUploadRequest": { "owner": self.author } });
        let answer = self.send(call, self.http.post(url).json(&body)).await?.body;
        let text = |field: &str| answer.pointer(&format!("/value/{field}")).and_then(Value::as_str);
        let upload_url = text("uploadUrl").ok_or_else(|| missing("an upload URL"))?;
        let urn = text("image").filter(|urn| is_image_urn(urn)).ok_or_else(|| missing("an image URN"))?;
        let target = self.upload_target(upload_url)?;
        self.send_plain(call, self.http.put(target).body(image.bytes.clone())).await?;
        Ok(urn.to_owned())
    }

    fn no_image(post: &NewPost, operation: &'static str) -> Result<(), PlatformError> {
        if post.image.is_some() {
            return Err(PlatformError::Unsupported { platform: NAME, operation });
        }
        Ok(())
    }
}

impl PlatformApi for LinkedIn {
    fn name(&self) -> &'static str {
        NAME
    }

    fn supports(&self, op: Operation) -> bool {
        !matches!(op, Operation::HideComment | Operation::UnhideComment)
    }

    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
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
        let image = post.image.as_ref().map(checked_image).transpose()?;
        let mut body = json!({
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
        if let Some(image) = image {
            let mut media = json!({ "id": self.upload(call, image).await? });
            if let Some(alt) = image.description.as_deref().filter(|d| !d.trim().is_empty()) {
                media["altText"] = json!(alt);
            }
            body["content"] = json!({ "media": media });
        }
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
        LinkedIn::no_image(post, "comment with an image (images go on posts only here)")?;
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
        Ok(COMMENTS.read(&found))
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

    /// The author's posts, newest first (`sortBy=CREATED`); a page token
    /// is the `start` of the next page.
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        let start = match page {
            None => 0,
            Some(p) => p
                .parse::<usize>()
                .map_err(|_| PlatformError::BadRequest("a LinkedIn page is a number".into()))?,
        };
        let mut url = self.url(&["posts"], None, &[])?;
        url.query_pairs_mut()
            .append_pair("q", "author")
            .append_pair("author", &self.author)
            .append_pair("sortBy", "CREATED")
            .append_pair("start", &start.to_string())
            .append_pair("count", &POSTS_PAGE.to_string());
        let request = self.http.get(url).header("X-RestLi-Method", "FINDER");
        let listed = self.send(call, request).await?.body;
        let elements =
            listed.get("elements").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let posts: Vec<AccountPost> = elements
            .iter()
            .filter_map(|post| {
                let id = post.get("id").and_then(Value::as_str).filter(|id| post_urn(id).is_ok())?.to_owned();
                Some(AccountPost {
                    url: Some(format!("https://www.linkedin.com/feed/update/{id}/")),
                    text: post.get("commentary").and_then(Value::as_str).unwrap_or("").to_owned(),
                    created_at: post
                        .get("createdAt")
                        .and_then(Value::as_i64)
                        .map(|ms| Timestamp(ms).rfc3339()),
                    in_reply_to: None,
                    id,
                })
            })
            .collect();
        let next = (elements.len() >= POSTS_PAGE).then(|| (start + elements.len()).to_string());
        Ok(PostPage { posts, next })
    }

    async fn unhide_comment(&self, _call: &Call<'_>, _comment: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported {
            platform: NAME,
            operation: "show a hidden comment (LinkedIn's API hides none)",
        })
    }

    /// `POST /posts` answers 201 with the post's URN in `x-restli-id`
    /// (an image upload's `POST /images` is no post).
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String> {
        match posted(forward).as_slice() {
            ["posts"] => answer.id_in_header("x-restli-id", |id| post_urn(id).is_ok()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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

    fn adapter(base: &str) -> LinkedIn {
        let clock = Arc::new(crate::clock::SystemClock);
        LinkedIn::new(base.parse().unwrap(), "urn:li:organization:1".into(), "202601".into(), clock).unwrap()
    }

    #[test]
    fn upload_urls_must_be_on_the_allowed_origin() {
        let real = adapter("https://api.linkedin.com/rest");
        let good =
            "https://www.linkedin.com/dms-uploads/sp/v2/D4E10AQ/uploaded-image/0?ca=vector_ads&ut=s3cr3t";
        assert_eq!(real.upload_target(good).unwrap().as_str(), good);
        assert!(real.upload_target("https://www.linkedin.com:443/dms-uploads/x").is_ok());
        for bad in [
            "http://www.linkedin.com/dms-uploads/x",
            "https://www.linkedin.com:8443/dms-uploads/x",
            "https://www.linkedin.com.evil.example/dms-uploads/x",
            "https://evil.example/dms-uploads/x?www.linkedin.com",
            "https://user:pw@www.linkedin.com/dms-uploads/x",
            "https://api.linkedin.com/dms-uploads/x",
            "//www.linkedin.com/dms-uploads/x",
            "not a url",
        ] {
            let e = real.upload_target(bad).unwrap_err();
            assert!(matches!(e, PlatformError::Down { status: None, .. }), "{bad}: {e:?}");
            assert!(!e.to_string().contains("s3cr3t"));
        }
        let e = real.upload_target("https://evil.example/up?ut=s3cr3t").unwrap_err().to_string();
        assert!(e.contains("https://evil.example") && !e.contains("s3cr3t"), "{e}");
        // Any other base (a proxy, a fake, plain http) allows no upload origin until one is named.
        for base in ["http://api.linkedin.com/rest", "https://proxy.example/rest"] {
            let other = adapter(base);
            assert!(other.upload_target(good).is_err(), "{base}");
        }
        let fake = adapter("http://127.0.0.1:9/rest")
            .with_upload_origin(&"http://127.0.0.1:10".parse().unwrap())
            .unwrap();
        assert!(fake.upload_target("http://127.0.0.1:10/dms-uploads/x").is_ok());
        assert!(fake.upload_target("http://127.0.0.1:9/dms-uploads/x").is_err());
        assert!(fake.upload_target(good).is_err());
        assert!(adapter("http://127.0.0.1:9/rest")
            .with_upload_origin(&"data:text/plain,x".parse().unwrap())
            .is_err());
    }

    #[test]
    fn image_sizes_are_read_from_the_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 0x1F, 0x40, 0, 0, 0x11, 0xA8]); // 8000 x 4520
        assert_eq!(dimensions("image/png", &png), Some((8000, 4520)));
        assert_eq!(dimensions("image/jpeg", &png), None);
        assert_eq!(dimensions("image/gif", b"GIF89a\x40\x01\xF0\x00rest"), Some((320, 240)));
        assert_eq!(dimensions("image/gif", b"GIF89a\x40"), None);
        // SOI, an APP0 segment, fill bytes, then SOF2 with height 600 and width 800.
        let jpeg =
            [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xFF, 0xC2, 0, 11, 8, 0x02, 0x58, 0x03, 0x20, 3, 0, 0];
        assert_eq!(dimensions("image/jpeg", &jpeg), Some((800, 600)));
        // A DHT (0xC4) segment is not a frame header; the data starting first means no size.
        assert_eq!(dimensions("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xC4, 0, 2, 0xFF, 0xDA, 0, 2]), None);
        assert_eq!(dimensions("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0, 1]), None);
        assert_eq!(dimensions("image/jpeg", &jpeg[..15]), None);
        let image = |media_type: &str, bytes: Vec<u8>| Image {
            bytes,
            media_type: media_type.into(),
            description: None,
        };
        assert!(checked_image(&image("image/png", png.clone())).is_err(), "36,160,000 pixels is too many");
        png[16..24].copy_from_slice(&[0, 0, 0x17, 0x70, 0, 0, 0x0B, 0xB8]); // 6000 x 3000
        assert!(checked_image(&image("image/png", png)).is_ok());
        assert!(checked_image(&image("image/webp", b"RIFF\0\0\0\0WEBPVP8 ".to_vec())).is_err());
        assert!(is_image_urn("urn:li:image:C4E10AQFoyyAjHPMQuQ") && !is_image_urn("urn:li:image:a/b"));
    }
}
