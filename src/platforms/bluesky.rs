//! Bluesky (AT Protocol, docs.bsky.app): posts, replies, deletes, image
//! posts, link facets, replies listed from the post's thread, replies
//! hidden (and shown again) through the thread's `app.bsky.feed.threadgate`
//! record, and the account's own posts (its repository's post records). Every
//! call is an XRPC method on the account's PDS (`{base}/xrpc/{nsid}`),
//! authorised with the session's `accessJwt` as a bearer token (access
//! tokens live minutes; the vault refreshes them). Rate limits come in
//! `ratelimit-remaining` and `ratelimit-reset` (Unix seconds).
//!
//! A post's id here is its `at://did:plc:…/app.bsky.feed.post/<tid>` URI,
//! checked strictly and never used to pick a host: every call goes to the
//! configured PDS. Not offered: deleting someone else's reply (hide it).

use reqwest::RequestBuilder;
use serde_json::{json, Value};
use url::Url;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Forward, NewPost};
use crate::platforms::comments::{Layout, Written};
use crate::platforms::forward::{posted, Forwarded};
use crate::platforms::rate::RateLimits;
use crate::platforms::{
    endpoint, exchange, header_pair, http_client, AccountPost, Call, Comment, Operation, PlatformApi,
    PlatformError, PostPage, Published, ReadLimits,
};

const NAME: &str = "Bluesky";
/// Replies as `getPostThread` answers them; deleted and blocked replies
/// come as other `$type`s without a `post`, so without an id, and are left out.
const COMMENTS: Layout = Layout {
    list: "/thread/replies",
    id: &["/post/uri"],
    author: &["/post/author/did"],
    text: "/post/record/text",
    created_at: Written::Text("/post/record/createdAt"),
};
const POST: &str = "app.bsky.feed.post";
const THREADGATE: &str = "app.bsky.feed.threadgate";
/// The post lexicon allows 300 graphemes (and 3,000 bytes). Characters
/// stand in for graphemes here: a text within 300 characters is within 300
/// graphemes; a few texts of combining sequences are refused here that
/// Bluesky would take.
pub const MAX_CHARS: usize = 300;
pub const MAX_BYTES: usize = 3000;
/// `app.bsky.embed.images` takes images of at most 1,000,000 bytes.
pub const MAX_IMAGE_BYTES: usize = 1_000_000;
/// Post records per page of the account's own (`listRecords` allows 100).
const PAGE: usize = 100;
/// `app.bsky.feed.threadgate` holds at most 300 hidden replies.
pub const MAX_HIDDEN_REPLIES: usize = 300;

/// `ratelimit-remaining`, and `ratelimit-reset` in Unix seconds.
const LIMITS: ReadLimits = |headers, _| {
    let parse_reset = |v: &str| v.trim().parse::<i64>().ok().map(|s| Timestamp(s.saturating_mul(1000)));
    header_pair(headers, ("ratelimit-remaining", "ratelimit-reset"), parse_reset)
};

pub struct Bluesky {
    /// The account's PDS, e.g. `https://bsky.social`.
    base: Url,
    /// The account's repository (`did:plc:…`).
    did: String,
    http: reqwest::Client,
    limits: RateLimits,
    clock: SharedClock,
}

/// A post's `at://` URI, checked: a `did:plc` repository, the post
/// collection and a TID record key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PostUri {
    did: String,
    rkey: String,
}

impl PostUri {
    fn parse(uri: &str, what: &str) -> Result<PostUri, PlatformError> {
        let bad = || {
            PlatformError::BadRequest(format!(
                "{what} {:?} is not a Bluesky post URI (at://did:plc:…/app.bsky.feed.post/<tid>)",
                uri.escape_default().to_string()
            ))
        };
        let rest = uri.strip_prefix("at://").ok_or_else(bad)?;
        let mut parts = rest.split('/');
        let (Some(did), Some(collection), Some(rkey), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !is_plc(did) || collection != POST || !is_tid(rkey) {
            return Err(bad());
        }
        Ok(PostUri { did: did.to_owned(), rkey: rkey.to_owned() })
    }

    fn uri(&self) -> String {
        format!("at://{}/{POST}/{}", self.did, self.rkey)
    }
}

/// `did:plc:` and 24 characters of lower-case base32.
fn is_plc(did: &str) -> bool {
    did.strip_prefix("did:plc:").is_some_and(|id| {
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

/// A TID: 13 characters of base32-sortable, the first at most `j` (top bit clear).
fn is_tid(rkey: &str) -> bool {
    let alphabet = |b: u8| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b);
    rkey.len() == 13
        && rkey.bytes().all(alphabet)
        && rkey.bytes().next().is_some_and(|b| (b'2'..=b'7').contains(&b) || (b'a'..=b'j').contains(&b))
}

/// The words of an XRPC error: `message`, else the `error` name.
fn message_of(body: &Value, status: u16) -> String {
    body.get("message")
        .or_else(|| body.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// `2024-05-01T12:00:00.000Z`, as Bluesky clients write `createdAt`.
fn datetime(now: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(now.millis())
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn missing(what: &str) -> PlatformError {
    PlatformError::Down { status: None, message: format!("the PDS answered without {what}") }
}

/// A failed XRPC call before it is classed: the status and the `error` name.
struct Failure {
    status: u16,
    error: String,
    message: String,
    reset: Option<Timestamp>,
}

impl Failure {
    fn class(self) -> PlatformError {
        let Failure { status, error, message, reset } = self;
        let token = matches!(error.as_str(), "ExpiredToken" | "InvalidToken");
        match status {
            401 => PlatformError::TokenInvalid { message },
            400 if token => PlatformError::TokenInvalid { message },
            403 => PlatformError::Permission { message },
            400 | 404 | 413 => PlatformError::Validation { message },
            429 => PlatformError::RateLimited { reset_at: reset, message },
            code => PlatformError::Down { status: Some(code), message },
        }
    }
}

impl Bluesky {
    /// The API this adapter calls (what the pass-through proxy may reach).
    /// The account's rate-limit state and how the PDS states its limits (for the proxy too).
    pub(crate) fn rate(&self) -> (&RateLimits, ReadLimits) {
        (&self.limits, LIMITS)
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `base` is the account's PDS; `did` its repository (`did:plc:…`).
    pub fn new(base: Url, did: String, clock: SharedClock) -> Result<Bluesky, PlatformError> {
        if !is_plc(&did) {
            return Err(PlatformError::BadRequest(format!(
                "{:?} is not a did:plc identifier",
                did.escape_default().to_string()
            )));
        }
        let http = http_client().map_err(|e| PlatformError::Down { status: None, message: e.to_string() })?;
        Ok(Bluesky { base, did, http, limits: RateLimits::default(), clock })
    }

    fn url(&self, method: &str) -> Result<Url, PlatformError> {
        endpoint(&self.base, &["xrpc", method])
    }

    async fn exchange(
        &self,
        call: &Call<'_>,
        request: RequestBuilder,
    ) -> Result<Result<Value, Failure>, PlatformError> {
        let answer = exchange(&self.limits, self.clock.now(), call, request, LIMITS).await?;
        if (200..300).contains(&answer.status) {
            return Ok(Ok(answer.body));
        }
        Ok(Err(Failure {
            status: answer.status,
            error: answer.body.get("error").and_then(Value::as_str).unwrap_or("").to_owned(),
            message: message_of(&answer.body, answer.status),
            reset: answer.reset,
        }))
    }

    async fn send(&self, call: &Call<'_>, request: RequestBuilder) -> Result<Value, PlatformError> {
        self.exchange(call, request).await?.map_err(Failure::class)
    }

    /// `com.atproto.repo.getRecord`; `None` when the record does not exist.
    async fn get_record(
        &self,
        call: &Call<'_>,
        repo: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<Option<Value>, PlatformError> {
        let mut url = self.url("com.atproto.repo.getRecord")?;
        url.query_pairs_mut()
            .append_pair("repo", repo)
            .append_pair("collection", collection)
            .append_pair("rkey", rkey);
        match self.exchange(call, self.http.get(url)).await? {
            Ok(record) => Ok(Some(record)),
            Err(f) if f.status == 400 && f.error == "RecordNotFound" => Ok(None),
            Err(f) => Err(f.class()),
        }
    }

    /// The `{uri, cid}` strong reference of a post, and its thread's root.
    async fn reply_refs(&self, call: &Call<'_>, parent: &PostUri) -> Result<Value, PlatformError> {
        let Some(record) = self.get_record(call, &parent.did, POST, &parent.rkey).await? else {
            return Err(PlatformError::Validation {
                message: format!("the post {} does not exist", parent.uri()),
            });
        };
        let cid = record.get("cid").and_then(Value::as_str).ok_or_else(|| missing("the post's cid"))?;
        let parent_ref = json!({ "uri": parent.uri(), "cid": cid });
        let root = match record.pointer("/value/reply/root") {
            Some(root) => {
                let uri = root.get("uri").and_then(Value::as_str).ok_or_else(|| missing("the root's uri"))?;
                let cid = root.get("cid").and_then(Value::as_str).ok_or_else(|| missing("the root's cid"))?;
                json!({ "uri": PostUri::parse(uri, "root post")?.uri(), "cid": cid })
            }
            None => parent_ref.clone(),
        };
        Ok(json!({ "root": root, "parent": parent_ref }))
    }

    async fn create(
        &self,
        call: &Call<'_>,
        post: &NewPost,
        in_reply_to: Option<&str>,
    ) -> Result<Published, PlatformError> {
        let parent = in_reply_to.map(|uri| PostUri::parse(uri, "post")).transpose()?;
        // The link goes at the end of the text, marked with a link facet
        // whose offsets count UTF-8 bytes.
        let (text, link) = match &post.link {
            Some(link) => {
                let text = if post.text.is_empty() { String::new() } else { format!("{}\n\n", post.text) };
                let start = text.len();
                let text = format!("{text}{link}");
                (text.clone(), Some((start, text.len(), link.as_str().to_owned())))
            }
            None => (post.text.clone(), None),
        };
        if text.chars().count() > MAX_CHARS || text.len() > MAX_BYTES {
            return Err(PlatformError::Validation {
                message: format!("posts on Bluesky are at most {MAX_CHARS} characters ({MAX_BYTES} bytes)"),
            });
        }
        if let Some(image) = &post.image {
            if !image.media_type.starts_with("image/") || image.bytes.len() > MAX_IMAGE_BYTES {
                return Err(PlatformError::Validation {
                    message: format!("Bluesky images are image/* files of at most {MAX_IMAGE_BYTES} bytes"),
                });
            }
        }
        let mut record = json!({ "$type": POST, "text": text, "createdAt": datetime(self.clock.now()) });
        if let Some((start, end, uri)) = link {
            record["facets"] = json!([{
                "index": { "byteStart": start, "byteEnd": end },
                "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": uri }]
            }]);
        }
        if let Some(parent) = &parent {
            record["reply"] = self.reply_refs(call, parent).await?;
        }
        if let Some(image) = &post.image {
            let upload = self
                .http
                .post(self.url("com.atproto.repo.uploadBlob")?)
                .header(reqwest::header::CONTENT_TYPE, &image.media_type)
                .body(image.bytes.clone());
            let uploaded = self.send(call, upload).await?;
            let blob = uploaded.get("blob").cloned().ok_or_else(|| missing("a blob"))?;
            record["embed"] = json!({
                "$type": "app.bsky.embed.images",
                "images": [{ "image": blob, "alt": image.description.clone().unwrap_or_default() }]
            });
        }
        let body = json!({ "repo": self.did, "collection": POST, "record": record });
        let created =
            self.send(call, self.http.post(self.url("com.atproto.repo.createRecord")?).json(&body)).await?;
        let uri = created.get("uri").and_then(Value::as_str).ok_or_else(|| missing("a post uri"))?;
        let uri = PostUri::parse(uri, "created post")?;
        Ok(Published {
            url: Some(format!("https://bsky.app/profile/{}/post/{}", uri.did, uri.rkey)),
            id: uri.uri(),
        })
    }
}

impl PlatformApi for Bluesky {
    fn name(&self) -> &'static str {
        NAME
    }

    fn supports(&self, op: Operation) -> bool {
        op != Operation::DeleteComment
    }

    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        self.create(call, post, None).await
    }

    /// Deletes one of the account's own posts.
    async fn delete(&self, call: &Call<'_>, post: &str) -> Result<(), PlatformError> {
        let post = PostUri::parse(post, "post")?;
        if post.did != self.did {
            return Err(PlatformError::BadRequest("only this account's own posts can be deleted".into()));
        }
        let body = json!({ "repo": self.did, "collection": POST, "rkey": post.rkey });
        self.send(call, self.http.post(self.url("com.atproto.repo.deleteRecord")?).json(&body))
            .await
            .map(|_| ())
    }

    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        self.create(call, post, Some(in_reply_to)).await
    }

    /// The direct replies to a post (`app.bsky.feed.getPostThread`, depth 1).
    async fn comments(&self, call: &Call<'_>, post: &str) -> Result<Vec<Comment>, PlatformError> {
        let post = PostUri::parse(post, "post")?;
        let mut url = self.url("app.bsky.feed.getPostThread")?;
        url.query_pairs_mut().append_pair("uri", &post.uri()).append_pair("depth", "1");
        let found = self.send(call, self.http.get(url)).await?;
        Ok(COMMENTS.read(&found))
    }

    /// Hides a reply in a thread the account started: its URI joins the
    /// `hiddenReplies` of the root post's threadgate (created when there is
    /// none, which leaves who may reply unchanged; updated with a swap
    /// otherwise, so a concurrent change is not overwritten).
    async fn hide_comment(&self, call: &Call<'_>, reply: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, reply, true).await
    }

    async fn delete_comment(&self, _call: &Call<'_>, _reply: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported {
            platform: NAME,
            operation: "delete someone else's reply (Bluesky lets the thread's author hide it instead)",
        })
    }

    /// The account's posts and replies, newest first: the post records of
    /// its repository (`com.atproto.repo.listRecords`, which the PDS itself
    /// answers).
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        let mut url = self.url("com.atproto.repo.listRecords")?;
        url.query_pairs_mut()
            .append_pair("repo", &self.did)
            .append_pair("collection", POST)
            .append_pair("limit", &PAGE.to_string());
        if let Some(cursor) = page {
            let cursor = crate::platforms::checked_id(cursor, "page", |c| c.is_ascii_alphanumeric())?;
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        let listed = self.send(call, self.http.get(url)).await?;
        let text = |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
        let posts = listed
            .get("records")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|record| {
                let uri = PostUri::parse(&text(record, "/uri")?, "post").ok()?;
                Some(AccountPost {
                    url: Some(format!("https://bsky.app/profile/{}/post/{}", uri.did, uri.rkey)),
                    id: uri.uri(),
                    text: text(record, "/value/text").unwrap_or_default(),
                    created_at: text(record, "/value/createdAt"),
                    in_reply_to: text(record, "/value/reply/parent/uri"),
                })
            })
            .collect();
        Ok(PostPage { posts, next: text(&listed, "/cursor") })
    }

    /// Shows again a reply the account hid: its URI leaves the threadgate's `hiddenReplies`.
    async fn unhide_comment(&self, call: &Call<'_>, reply: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, reply, false).await
    }

    /// `createRecord` answers the record's `uri`: a post or reply when it
    /// is in the post collection (a like or a repost is none).
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String> {
        match posted(forward).as_slice() {
            ["xrpc", "com.atproto.repo.createRecord"] => answer
                .id_at("/uri", |_| true)
                .and_then(|uri| PostUri::parse(&uri, "created post").ok())
                .map(|uri| uri.uri()),
            _ => None,
        }
    }
}

impl Bluesky {
    /// Adds the reply to its thread's `hiddenReplies`, or takes it out.
    async fn set_hidden(&self, call: &Call<'_>, reply: &str, hide: bool) -> Result<(), PlatformError> {
        let reply = PostUri::parse(reply, "reply")?;
        let Some(record) = self.get_record(call, &reply.did, POST, &reply.rkey).await? else {
            return Err(PlatformError::Validation {
                message: format!("the post {} does not exist", reply.uri()),
            });
        };
        let Some(root) = record.pointer("/value/reply/root/uri").and_then(Value::as_str) else {
            return Err(PlatformError::Validation { message: "only replies can be hidden or shown".into() });
        };
        let root = PostUri::parse(root, "root post")?;
        if root.did != self.did {
            return Err(PlatformError::BadRequest(
                "only replies in a thread this account started can be hidden or shown".into(),
            ));
        }
        let existing = self.get_record(call, &self.did, THREADGATE, &root.rkey).await?;
        let (mut gate, swap) = match existing {
            Some(found) => {
                let value = found.get("value").cloned().ok_or_else(|| missing("the threadgate"))?;
                (value, found.get("cid").and_then(Value::as_str).map(str::to_owned))
            }
            None => (
                json!({ "$type": THREADGATE, "post": root.uri(), "createdAt": datetime(self.clock.now()) }),
                None,
            ),
        };
        let mut hidden: Vec<Value> =
            gate.get("hiddenReplies").and_then(Value::as_array).cloned().unwrap_or_default();
        let listed = hidden.iter().any(|h| h.as_str() == Some(reply.uri().as_str()));
        if listed == hide {
            return Ok(());
        }
        if hide {
            if hidden.len() >= MAX_HIDDEN_REPLIES {
                return Err(PlatformError::Validation {
                    message: format!("a Bluesky thread can hide at most {MAX_HIDDEN_REPLIES} replies"),
                });
            }
            hidden.push(json!(reply.uri()));
        } else {
            hidden.retain(|h| h.as_str() != Some(reply.uri().as_str()));
        }
        gate["hiddenReplies"] = Value::Array(hidden);
        let mut body =
            json!({ "repo": self.did, "collection": THREADGATE, "rkey": root.rkey, "record": gate });
        if let Some(cid) = swap {
            body["swapRecord"] = json!(cid);
        }
        self.send(call, self.http.post(self.url("com.atproto.repo.putRecord")?).json(&body)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_uris_are_checked_strictly() {
        let good = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l";
        let uri = PostUri::parse(good, "post").unwrap();
        assert_eq!(
            (uri.did.as_str(), uri.rkey.as_str()),
            ("did:plc:ewvi7nxzyoun6zhxrhs64oiz", "3l6oveex3ii2l")
        );
        assert_eq!(uri.uri(), good);
        for bad in [
            "",
            "https://bsky.app/profile/x/post/3l6oveex3ii2l",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.like/3l6oveex3ii2l",
            "at://did:web:evil.example/app.bsky.feed.post/3l6oveex3ii2l",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oi1/app.bsky.feed.post/3l6oveex3ii2l",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/zl6oveex3ii2l",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l/x",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l?x",
            "at://evil.example@did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l",
        ] {
            assert!(PostUri::parse(bad, "post").is_err(), "{bad}");
        }
    }
}
