//! A fake X API v2 (docs.x.com) on loopback: the few endpoints Custodian
//! calls, with X's status codes, problem bodies (`{"title","detail","type",
//! "status"}`, or `{"errors":[...],"title","detail","type"}` for invalid
//! requests) and `x-rate-limit-*` headers, plus switches for the failures a
//! test needs (expired token, rate limit, refused post, a 5xx).
//!
//! Modelled: `POST /2/tweets` (with `media.media_ids`), `DELETE /2/tweets/:id`,
//! `PUT /2/tweets/:id/hidden`, `GET /2/tweets/search/recent` with a
//! `conversation_id:` query, the user's timeline `GET /2/users/:id/tweets`
//! (newest first, `max_results` 5 to 100, `pagination_token`, `exclude`), the simple upload `POST /2/media/upload`
//! (multipart `media`, `media_category`, `media_type`; images only, sniffed
//! from their first bytes) and alt text through `POST /2/media/metadata`.
//! A post may name only media this user uploaded as `tweet_image` in the
//! last `expires_after_secs`. Also OAuth 2.0 (docs.x.com, "OAuth 2.0
//! Authorization Code Flow with PKCE"): `GET /i/oauth2/authorize` (the user
//! consents at once), `POST /2/oauth2/token` (authorization code with PKCE
//! S256, and refresh tokens that rotate; a confidential client sends HTTP
//! Basic), `POST /2/oauth2/revoke`, and `GET /2/users/me`. Anything else is
//! X's 404 for an unknown page.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use custodian::clock::{Clock, SystemClock};
use serde_json::{json, Map, Value};

use super::{iso8601, Recorded};

/// The authenticated account (X user ids are numeric strings).
pub const USER_ID: &str = "1587654321098765432";
pub const USERNAME: &str = "RiversideClinic";
/// The OAuth 2.0 client Custodian is registered as (a confidential client).
pub const CLIENT_ID: &str = "fake-x-client-id";
pub const CLIENT_SECRET: &str = "fake-x-client-secret";
/// Access tokens last 2 hours.
const ACCESS_SECS: u64 = 7200;
/// Rate limits per user, 15-minute windows (docs.x.com, each endpoint's reference page).
const WINDOW_MS: i64 = 15 * 60 * 1000;
const CREATE_LIMIT: u32 = 200;
const DELETE_LIMIT: u32 = 50;
const HIDE_LIMIT: u32 = 50;
const SEARCH_LIMIT: u32 = 180;
const TIMELINE_LIMIT: u32 = 900;
const MEDIA_UPLOAD_LIMIT: u32 = 500;
const MEDIA_METADATA_LIMIT: u32 = 500;
/// The simple upload's limit for an image (docs.x.com: 5 MB).
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
const MAX_ALT_TEXT: usize = 1000;
/// How long an uploaded media id may be attached to a post (the upload's `expires_after_secs`).
const MEDIA_EXPIRES_SECS: i64 = 86_400;
/// The simple upload's `media_category` and `media_type` values (its API reference).
const UPLOAD_CATEGORIES: [&str; 3] = ["tweet_image", "dm_image", "subtitles"];
const UPLOAD_MEDIA_TYPES: [&str; 8] = [
    "text/srt",
    "text/vtt",
    "image/jpeg",
    "image/bmp",
    "image/png",
    "image/webp",
    "image/pjpeg",
    "image/tiff",
];
/// The fake's words when an upload's bytes are not an image it knows.
pub const UNRECOGNIZED_MEDIA: &str = "The media could not be read as an image.";
/// The weighted length limit of a post (twitter-text v3 config).
const MAX_WEIGHTED_LENGTH: usize = 280;
/// Every URL counts as a t.co link of 23 characters.
const URL_LENGTH: usize = 23;
/// X does not document how long it remembers a text for duplicate detection;
/// reports range from minutes to a day, so the fake uses a day.
const DUPLICATE_MS: i64 = 24 * 60 * 60 * 1000;
/// The Twitter snowflake epoch (2010-11-04T01:42:54.657Z).
const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;
const INVALID_REQUEST: &str = "https://api.twitter.com/2/problems/invalid-request";
const NOT_FOUND: &str = "https://api.twitter.com/2/problems/resource-not-found";
const DUPLICATE: &str = "You are not allowed to create a Tweet with duplicate content.";
const REPLY_GONE: &str = "You attempted to reply to a Tweet that is deleted or not visible to you.";
const NOT_PERMITTED: &str = "You are not permitted to perform this action.";

/// A running fake X; the server stops when this is dropped.
pub struct XFake {
    /// `http://127.0.0.1:PORT`; the API is under `/2/`.
    pub base: String,
    controls: super::Controls<Fake>,
    _server: super::Server,
}

impl std::ops::Deref for XFake {
    type Target = super::Controls<Fake>;

    fn deref(&self) -> &super::Controls<Fake> {
        &self.controls
    }
}

impl XFake {
    /// Starts the server on 127.0.0.1:0 accepting `token` as the one valid
    /// OAuth 2.0 user-context bearer token.
    pub async fn start(token: &str) -> XFake {
        let (controls, app) = super::Controls::serve(Fake::new(token));
        let server = super::Server::start(app).await;
        let base = format!("http://{}", server.addr);
        XFake { base, controls, _server: server }
    }

    /// The access token the fake accepts now (it changes with each refresh).
    pub fn current_token(&self) -> String {
        self.lock().token.clone()
    }

    /// Another account (`author_id`) replies to `in_reply_to_tweet_id`, as
    /// followers do; returns the new reply's id. Panics when the post is unknown.
    pub fn reply_from(&self, author_id: &str, in_reply_to_tweet_id: &str, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let parent = fake.live(in_reply_to_tweet_id).expect("reply_from: an existing post").clone();
        let id = fake.next_id(now);
        fake.tweets.push(Tweet {
            id: id.clone(),
            text: text.to_owned(),
            author_id: author_id.to_owned(),
            created_at: now,
            conversation_id: parent.conversation_id,
            in_reply_to_user_id: Some(parent.author_id),
            replied_to: Some(parent.id),
            hidden: false,
            deleted: false,
            media_ids: Vec::new(),
        });
        id
    }

    /// The user posts `text` at X itself (from X's own app, not through
    /// Custodian); returns the post's id.
    pub fn post_directly(&self, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let id = fake.next_id(now);
        fake.tweets.push(Tweet {
            id: id.clone(),
            text: text.to_owned(),
            author_id: USER_ID.to_owned(),
            created_at: now,
            conversation_id: id.clone(),
            in_reply_to_user_id: None,
            replied_to: None,
            hidden: false,
            deleted: false,
            media_ids: Vec::new(),
        });
        id
    }

    /// Whether the reply is hidden now.
    pub fn is_hidden(&self, id: &str) -> bool {
        self.lock().tweets.iter().any(|t| t.id == id && t.hidden)
    }

    /// Every media uploaded so far, in order.
    pub fn uploads(&self) -> Vec<Uploaded> {
        self.lock().media.iter().map(|m| m.uploaded.clone()).collect()
    }

    /// The media attached to a post. Panics when the post is unknown.
    pub fn media_of(&self, tweet_id: &str) -> Vec<Uploaded> {
        let fake = self.lock();
        let tweet = fake.tweets.iter().find(|t| t.id == tweet_id).expect("media_of: an existing post");
        tweet
            .media_ids
            .iter()
            .filter_map(|id| fake.media.iter().find(|m| m.uploaded.id == *id))
            .map(|m| m.uploaded.clone())
            .collect()
    }
}

impl super::Responder for Fake {
    type RateLimit = Duration;

    fn control(&mut self) -> &mut super::Control<Duration> {
        &mut self.control
    }

    fn answer(&mut self, request: Recorded, now_ms: i64) -> Response {
        self.respond(request, now_ms).into_response()
    }
}

/// What the fake answers, built under the lock and turned into a response after.
struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply { status, body: body.to_string().into_bytes(), headers: Vec::new() }
    }

    /// The plain problem X sends for 401, 403, 429 and 5xx.
    fn problem(status: u16, title: &str, detail: &str) -> Reply {
        Reply::json(
            status,
            &json!({ "title": title, "detail": detail, "type": "about:blank", "status": status }),
        )
    }

    fn forbidden(detail: &str) -> Reply {
        Reply::problem(403, "Forbidden", detail)
    }

    fn too_many() -> Reply {
        Reply::problem(429, "Too Many Requests", "Too Many Requests")
    }

    /// 400 with the invalid-request problem and one message per fault.
    fn invalid(message: &str) -> Reply {
        Reply::json(
            400,
            &json!({
                "errors": [{ "parameters": {}, "message": message }],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": INVALID_REQUEST
            }),
        )
    }

    fn tweet_not_found(id: &str) -> Reply {
        Reply::json(
            404,
            &json!({
                "title": "Not Found Error",
                "detail": format!("Could not find tweet with id: [{id}]."),
                "type": NOT_FOUND,
                "status": 404,
                "resource_type": "tweet",
                "parameter": "id",
                "value": id,
                "resource_id": id
            }),
        )
    }

    fn rate_headers(mut self, limit: u32, remaining: u32, reset_ms: i64) -> Reply {
        self.headers.push(("x-rate-limit-limit", limit.to_string()));
        self.headers.push(("x-rate-limit-remaining", remaining.to_string()));
        // Unix seconds, rounded up so the window is over when the client wakes.
        self.headers.push(("x-rate-limit-reset", ((reset_ms + 999) / 1000).to_string()));
        self
    }

    fn into_response(self) -> Response {
        super::response(self.status, Some("application/json; charset=utf-8"), self.body, self.headers)
    }
}

/// A media as X holds it after the upload (and its metadata).
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub id: String,
    pub media_key: String,
    pub media_category: String,
    /// The type the bytes are (sniffed), whatever `media_type` said.
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub alt_text: Option<String>,
}

struct StoredMedia {
    uploaded: Uploaded,
    owner: String,
    created_at: i64,
}

#[derive(Clone, Copy)]
struct Window {
    started: i64,
    count: u32,
}

impl Window {
    /// Counts one request in the 15-minute window (starting a new one when due);
    /// `Err(reset)` when `limit` requests were already made, else `Ok((remaining, reset))`.
    fn hit(slot: &mut Option<Window>, now: i64, limit: u32) -> Result<(u32, i64), i64> {
        let window = match slot {
            Some(w) if now < w.started + WINDOW_MS => w,
            _ => slot.insert(Window { started: now, count: 0 }),
        };
        let reset = window.started + WINDOW_MS;
        if window.count >= limit {
            return Err(reset);
        }
        window.count += 1;
        Ok((limit - window.count, reset))
    }
}

#[derive(Clone)]
struct Tweet {
    id: String,
    text: String,
    author_id: String,
    created_at: i64,
    conversation_id: String,
    in_reply_to_user_id: Option<String>,
    /// The post it replies to.
    replied_to: Option<String>,
    hidden: bool,
    deleted: bool,
    media_ids: Vec<String>,
}

enum Endpoint {
    Create,
    Delete(String),
    Hide(String),
    Search,
    Timeline(String),
    Upload,
    Metadata,
}

impl Endpoint {
    fn limit(&self) -> (&'static str, u32) {
        match self {
            Endpoint::Create => ("POST /2/tweets", CREATE_LIMIT),
            Endpoint::Delete(_) => ("DELETE /2/tweets/:id", DELETE_LIMIT),
            Endpoint::Hide(_) => ("PUT /2/tweets/:id/hidden", HIDE_LIMIT),
            Endpoint::Search => ("GET /2/tweets/search/recent", SEARCH_LIMIT),
            Endpoint::Timeline(_) => ("GET /2/users/:id/tweets", TIMELINE_LIMIT),
            Endpoint::Upload => ("POST /2/media/upload", MEDIA_UPLOAD_LIMIT),
            Endpoint::Metadata => ("POST /2/media/metadata", MEDIA_METADATA_LIMIT),
        }
    }
}

/// The platform's state, behind the lock; public only as the type its
/// `Controls` pull the switches on (its fields stay private).
pub struct Fake {
    token: String,
    control: super::Control<Duration>,
    windows: HashMap<&'static str, Option<Window>>,
    tweets: Vec<Tweet>,
    media: Vec<StoredMedia>,
    last_id: u64,
    /// code -> (redirect_uri, PKCE challenge, scope)
    codes: HashMap<String, (String, String, String)>,
    refresh_token: Option<String>,
    refreshes: u32,
}

impl Fake {
    fn new(token: &str) -> Fake {
        Fake {
            token: token.to_owned(),
            control: super::Control::default(),
            windows: HashMap::new(),
            tweets: Vec::new(),
            media: Vec::new(),
            last_id: 0,
            codes: HashMap::new(),
            refresh_token: None,
            refreshes: 0,
        }
    }

    /// The OAuth 2.0 endpoints and `users/me`; `None` for the API proper.
    fn oauth(&mut self, request: &Recorded, path: &str, query: &str) -> Option<Reply> {
        let form: HashMap<String, String> = if request.method == "GET" {
            url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
        } else {
            url::form_urlencoded::parse(&request.body).into_owned().collect()
        };
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        let oauth_error = |status: u16, error: &str, description: &str| {
            Reply::json(status, &json!({"error": error, "error_description": description}))
        };
        let client_ok =
            || super::client_credentials(request, &form) == (CLIENT_ID.into(), CLIENT_SECRET.into());
        Some(match (request.method.as_str(), path) {
            ("GET", "/i/oauth2/authorize") => {
                if field("client_id") != CLIENT_ID || field("code_challenge_method") != "S256" {
                    return Some(oauth_error(400, "invalid_request", "Missing or invalid PKCE parameters"));
                }
                let code = format!("x-code-{}", uuid::Uuid::new_v4().simple());
                self.codes
                    .insert(code.clone(), (field("redirect_uri"), field("code_challenge"), field("scope")));
                let mut back = url::Url::parse(&field("redirect_uri")).expect("redirect_uri");
                back.query_pairs_mut().append_pair("state", &field("state")).append_pair("code", &code);
                let mut reply = Reply::json(302, &json!({}));
                reply.headers.push(("location", back.to_string()));
                reply
            }
            ("POST", "/2/oauth2/token") if !client_ok() => {
                oauth_error(401, "unauthorized_client", "Missing valid authorization header")
            }
            ("POST", "/2/oauth2/token") => match field("grant_type").as_str() {
                "authorization_code" => match self.codes.remove(&field("code")) {
                    Some((redirect, challenge, scope))
                        if redirect == field("redirect_uri")
                            && super::pkce_matches(&field("code_verifier"), &challenge) =>
                    {
                        self.control.expired = false;
                        self.tokens(&scope)
                    }
                    _ => oauth_error(
                        400,
                        "invalid_request",
                        "Value passed for the authorization code was invalid.",
                    ),
                },
                "refresh_token" if Some(field("refresh_token")) == self.refresh_token => {
                    self.refreshes += 1;
                    self.token = format!(
                        "{}-refreshed-{}",
                        self.token.split("-refreshed-").next().unwrap_or(""),
                        self.refreshes
                    );
                    self.control.expired = false;
                    self.tokens("tweet.read tweet.write users.read offline.access")
                }
                _ => oauth_error(400, "invalid_request", "Value passed for the token was invalid."),
            },
            ("POST", "/2/oauth2/revoke") if client_ok() => {
                // Revoking the refresh token ends the grant, its access token too.
                if field("token") == self.token || Some(field("token")) == self.refresh_token {
                    self.control.expired = true;
                    self.refresh_token = None;
                }
                Reply::json(200, &json!({"revoked": true}))
            }
            ("POST", "/2/oauth2/revoke") => {
                oauth_error(401, "unauthorized_client", "Missing valid authorization header")
            }
            ("GET", "/2/users/me") if self.authorized(request) => Reply::json(
                200,
                &json!({"data": {"id": USER_ID, "name": "Riverside Clinic", "username": USERNAME}}),
            ),
            ("GET", "/2/users/me") => Reply::problem(401, "Unauthorized", "Unauthorized"),
            _ => return None,
        })
    }

    /// A token response; the refresh token rotates with each one.
    fn tokens(&mut self, scope: &str) -> Reply {
        let refresh = format!("x-refresh-{}", uuid::Uuid::new_v4().simple());
        self.refresh_token = Some(refresh.clone());
        Reply::json(
            200,
            &json!({"token_type": "bearer", "expires_in": ACCESS_SECS, "access_token": self.token, "scope": scope, "refresh_token": refresh}),
        )
    }

    fn respond(&mut self, request: Recorded, now: i64) -> Reply {
        if let Some(status) = self.control.fail_next.take() {
            let reason =
                StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
            return Reply::problem(status, reason, reason);
        }
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        if let Some(reply) = self.oauth(&request, path, query) {
            return reply;
        }
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let endpoint = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["2", "tweets"]) => Endpoint::Create,
            ("DELETE", ["2", "tweets", id]) => Endpoint::Delete((*id).to_owned()),
            ("PUT", ["2", "tweets", id, "hidden"]) => Endpoint::Hide((*id).to_owned()),
            ("GET", ["2", "tweets", "search", "recent"]) => Endpoint::Search,
            ("GET", ["2", "users", id, "tweets"]) => Endpoint::Timeline((*id).to_owned()),
            ("POST", ["2", "media", "upload"]) => Endpoint::Upload,
            ("POST", ["2", "media", "metadata"]) => Endpoint::Metadata,
            _ => {
                return Reply::json(
                    404,
                    &json!({ "errors": [{ "message": "Sorry, that page does not exist", "code": 34 }] }),
                );
            }
        };
        if !self.authorized(&request) {
            return Reply::problem(401, "Unauthorized", "Unauthorized");
        }
        let (name, limit) = endpoint.limit();
        if let Some(reset) = self.control.rate_limit_reset(now) {
            return Reply::too_many().rate_headers(limit, 0, reset);
        }
        let (remaining, reset) = match Window::hit(self.windows.entry(name).or_default(), now, limit) {
            Ok(hit) => hit,
            Err(reset) => return Reply::too_many().rate_headers(limit, 0, reset),
        };
        let reply = match endpoint {
            Endpoint::Create => self.create(&request, now),
            Endpoint::Delete(id) => self.delete(&id),
            Endpoint::Hide(id) => self.hide(&id, &request),
            Endpoint::Search => self.search(query),
            Endpoint::Timeline(id) => self.timeline(&id, query),
            Endpoint::Upload => self.upload(&request, now),
            Endpoint::Metadata => self.metadata(&request),
        };
        reply.rate_headers(limit, remaining, reset)
    }

    fn authorized(&self, request: &Recorded) -> bool {
        let Some(value) = request.header("authorization") else { return false };
        let presented = value.get(..7).filter(|s| s.eq_ignore_ascii_case("bearer ")).map(|_| &value[7..]);
        presented == Some(self.token.as_str()) && !self.control.expired
    }

    fn next_id(&mut self, now: i64) -> String {
        // A snowflake: milliseconds since the Twitter epoch << 22, then a sequence.
        let millis = u64::try_from(now - SNOWFLAKE_EPOCH_MS).expect("a time after 2010");
        self.last_id = (millis << 22).max(self.last_id + 1);
        self.last_id.to_string()
    }

    fn live(&self, id: &str) -> Option<&Tweet> {
        self.tweets.iter().find(|t| t.id == id && !t.deleted)
    }

    fn create(&mut self, request: &Recorded, now: i64) -> Reply {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) else {
            return Reply::invalid("Request body is not valid JSON.");
        };
        let text = match body.get("text") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Reply::invalid("$.text: expected a string"),
        };
        let media_ids: Vec<String> = match body.get("media").and_then(|m| m.get("media_ids")) {
            None => Vec::new(),
            Some(Value::Array(ids)) if (1..=4).contains(&ids.len()) => {
                ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            Some(_) => return Reply::invalid("$.media.media_ids: expected 1 to 4 media ids"),
        };
        let usable = |id: &String| {
            self.media.iter().any(|m| {
                m.uploaded.id == *id
                    && m.owner == USER_ID
                    && m.uploaded.media_category == "tweet_image"
                    && now - m.created_at < MEDIA_EXPIRES_SECS * 1000
            })
        };
        if !media_ids.iter().all(usable) {
            return Reply::invalid("Your media IDs are invalid.");
        }
        let text = text.unwrap_or_default();
        if text.trim().is_empty() && media_ids.is_empty() {
            return Reply::invalid("You must provide text or media for the Tweet.");
        }
        let in_reply_to = match body.get("reply") {
            None => None,
            Some(reply) => match reply.get("in_reply_to_tweet_id").and_then(Value::as_str) {
                Some(id) => Some(id.to_owned()),
                None => return Reply::invalid("$.reply.in_reply_to_tweet_id: expected a tweet id"),
            },
        };
        // Refused by the test: X refuses a post it will not publish with 403.
        if let Some(detail) = self.control.reject_next_body.take() {
            return Reply::forbidden(&detail);
        }
        let parent = match &in_reply_to {
            Some(id) => match self.live(id) {
                Some(parent) => Some(parent.clone()),
                None => return Reply::forbidden(REPLY_GONE),
            },
            None => None,
        };
        if weighted_length(&text) > MAX_WEIGHTED_LENGTH {
            return Reply::forbidden(NOT_PERMITTED);
        }
        let duplicate = !text.is_empty()
            && self.tweets.iter().any(|t| {
                !t.deleted && t.author_id == USER_ID && t.text == text && now - t.created_at < DUPLICATE_MS
            });
        if duplicate {
            return Reply::forbidden(DUPLICATE);
        }
        let id = self.next_id(now);
        let (conversation_id, in_reply_to_user_id) = match &parent {
            Some(p) => (p.conversation_id.clone(), Some(p.author_id.clone())),
            None => (id.clone(), None),
        };
        self.tweets.push(Tweet {
            id: id.clone(),
            text: text.clone(),
            author_id: USER_ID.to_owned(),
            created_at: now,
            conversation_id,
            in_reply_to_user_id,
            replied_to: parent.map(|p| p.id),
            hidden: false,
            deleted: false,
            media_ids,
        });
        Reply::json(201, &json!({ "data": { "id": id, "text": text, "edit_history_tweet_ids": [id] } }))
    }

    /// The simple upload: one image in a multipart form.
    fn upload(&mut self, request: &Recorded, now: i64) -> Reply {
        let Some(parts) = multipart(request) else {
            return Reply::invalid("The fake X models only multipart/form-data uploads");
        };
        let field = |name: &str| parts.iter().find(|p| p.name == name);
        let text = |name: &str| field(name).map(|p| String::from_utf8_lossy(&p.data).into_owned());
        let Some(media) = field("media") else {
            return Reply::invalid("$.media: the media field is required");
        };
        let category = text("media_category").unwrap_or_default();
        if !UPLOAD_CATEGORIES.contains(&category.as_str()) {
            return Reply::invalid("$.media_category: expected one of tweet_image, dm_image, subtitles");
        }
        let declared = text("media_type");
        if declared.as_deref().is_some_and(|t| !UPLOAD_MEDIA_TYPES.contains(&t)) {
            return Reply::invalid("$.media_type: not one of the allowed media types");
        }
        let Some(sniffed) = image_type(&media.data).filter(|_| category != "subtitles") else {
            return Reply::invalid(UNRECOGNIZED_MEDIA);
        };
        let matches = |t: &str| t == sniffed || (t == "image/pjpeg" && sniffed == "image/jpeg");
        if declared.as_deref().is_some_and(|t| !matches(t)) {
            return Reply::invalid(UNRECOGNIZED_MEDIA);
        }
        if media.data.len() > MAX_IMAGE_BYTES {
            return Reply::invalid(&format!("File size exceeds {MAX_IMAGE_BYTES} bytes."));
        }
        let id = self.next_id(now);
        let uploaded = Uploaded {
            id: id.clone(),
            media_key: format!("3_{id}"),
            media_category: category,
            media_type: sniffed.to_owned(),
            bytes: media.data.clone(),
            alt_text: None,
        };
        let size = uploaded.bytes.len();
        let media_key = uploaded.media_key.clone();
        self.media.push(StoredMedia { uploaded, owner: USER_ID.to_owned(), created_at: now });
        Reply::json(
            200,
            &json!({ "data": {
                "id": id, "media_key": media_key, "size": size, "expires_after_secs": MEDIA_EXPIRES_SECS
            } }),
        )
    }

    /// Alt text for one of this user's media.
    fn metadata(&mut self, request: &Recorded) -> Reply {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return Reply::invalid("Request body is not valid JSON.");
        };
        let Some(id) = body.get("id").and_then(Value::as_str) else {
            return Reply::invalid("$.id: expected a media id");
        };
        let Some(text) = body.pointer("/metadata/alt_text/text").and_then(Value::as_str) else {
            return Reply::invalid("$.metadata.alt_text.text: expected a string");
        };
        if text.chars().count() > MAX_ALT_TEXT {
            return Reply::invalid(&format!("$.metadata.alt_text.text: at most {MAX_ALT_TEXT} characters"));
        }
        let Some(media) = self.media.iter_mut().find(|m| m.uploaded.id == id && m.owner == USER_ID) else {
            return Reply::invalid("$.id: no media with this id");
        };
        media.uploaded.alt_text = Some(text.to_owned());
        Reply::json(
            200,
            &json!({ "data": { "id": id, "associated_metadata": { "alt_text": { "text": text } } } }),
        )
    }

    fn delete(&mut self, id: &str) -> Reply {
        let Some(index) = self.tweets.iter().position(|t| t.id == id && !t.deleted) else {
            return Reply::tweet_not_found(id);
        };
        if self.tweets[index].author_id != USER_ID {
            return Reply::forbidden("You are not allowed to delete this Tweet.");
        }
        self.tweets[index].deleted = true;
        Reply::json(200, &json!({ "data": { "deleted": true } }))
    }

    fn hide(&mut self, id: &str, request: &Recorded) -> Reply {
        let hidden = match serde_json::from_slice::<Value>(&request.body) {
            Ok(body) => body.get("hidden").and_then(Value::as_bool),
            Err(_) => None,
        };
        let Some(hidden) = hidden else {
            return Reply::invalid("$.hidden: expected a boolean");
        };
        let Some(tweet) = self.live(id).cloned() else {
            return Reply::tweet_not_found(id);
        };
        // Only a reply, in a conversation the authenticated user started, by someone else.
        let root_author = self.live(&tweet.conversation_id).map(|t| t.author_id.as_str());
        if tweet.conversation_id == tweet.id || tweet.author_id == USER_ID || root_author != Some(USER_ID) {
            return Reply::forbidden(NOT_PERMITTED);
        }
        if let Some(t) = self.tweets.iter_mut().find(|t| t.id == id) {
            t.hidden = hidden;
        }
        Reply::json(200, &json!({ "data": { "hidden": hidden } }))
    }

    fn search(&self, query: &str) -> Reply {
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let Some(q) = params.get("query").filter(|q| !q.trim().is_empty()) else {
            return Reply::invalid("The `query` query parameter can not be empty");
        };
        let Some(conversation) = q.split_whitespace().find_map(|t| t.strip_prefix("conversation_id:")) else {
            return Reply::invalid("The fake X models only `conversation_id:<id>` queries");
        };
        let max_results = match params.get("max_results").map(|m| m.parse::<usize>()) {
            None => 10,
            Some(Ok(m)) if (10..=100).contains(&m) => m,
            Some(_) => {
                return Reply::invalid("The `max_results` query parameter value is not between 10 and 100");
            }
        };
        let fields: Vec<String> = params
            .get("tweet.fields")
            .map(|f| f.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        // Newest first; the root post is the conversation, not a reply in it.
        let found: Vec<&Tweet> = self
            .tweets
            .iter()
            .rev()
            .filter(|t| !t.deleted && t.conversation_id == conversation && t.id != conversation)
            .take(max_results)
            .collect();
        let (Some(newest), Some(oldest)) = (found.first(), found.last()) else {
            return Reply::json(200, &json!({ "meta": { "result_count": 0 } }));
        };
        let data: Vec<Value> = found.iter().map(|t| tweet_json(t, &fields)).collect();
        Reply::json(
            200,
            &json!({
                "data": data,
                "meta": { "newest_id": newest.id, "oldest_id": oldest.id, "result_count": found.len() }
            }),
        )
    }
}

impl Fake {
    /// A user's posts, newest first; only the authenticated user's are modelled.
    fn timeline(&self, user: &str, query: &str) -> Reply {
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let max_results = match params.get("max_results").map(|m| m.parse::<usize>()) {
            None => 10,
            Some(Ok(m)) if (5..=100).contains(&m) => m,
            Some(_) => {
                return Reply::invalid("The `max_results` query parameter value is not between 5 and 100");
            }
        };
        let exclude: Vec<&str> = params.get("exclude").map(|e| e.split(',').collect()).unwrap_or_default();
        if exclude.iter().any(|e| !["retweets", "replies"].contains(e)) {
            return Reply::invalid("The `exclude` query parameter value is not one of [retweets, replies]");
        }
        let before = params.get("pagination_token").map(String::as_str);
        let fields: Vec<String> = params
            .get("tweet.fields")
            .map(|f| f.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let mut mine = self.tweets.iter().rev().filter(|t| {
            !t.deleted && t.author_id == user && !(exclude.contains(&"replies") && t.replied_to.is_some())
        });
        if let Some(token) = before {
            if mine.by_ref().position(|t| t.id == token).is_none() {
                return Reply::invalid("The `pagination_token` query parameter value is invalid");
            }
        }
        let rest: Vec<&Tweet> = mine.collect();
        let page = &rest[..rest.len().min(max_results)];
        let (Some(newest), Some(oldest)) = (page.first(), page.last()) else {
            return Reply::json(200, &json!({ "meta": { "result_count": 0 } }));
        };
        let mut meta = json!({ "newest_id": newest.id, "oldest_id": oldest.id, "result_count": page.len() });
        if rest.len() > page.len() {
            meta["next_token"] = json!(oldest.id);
        }
        let data: Vec<Value> = page.iter().map(|t| tweet_json(t, &fields)).collect();
        Reply::json(200, &json!({ "data": data, "meta": meta }))
    }
}

/// The Tweet object: `id`, `text` and `edit_history_tweet_ids` by default, the
/// other fields only when asked for with `tweet.fields`.
fn tweet_json(tweet: &Tweet, fields: &[String]) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), json!(tweet.id));
    object.insert("text".to_owned(), json!(tweet.text));
    object.insert("edit_history_tweet_ids".to_owned(), json!([tweet.id]));
    for field in fields {
        let value = match field.as_str() {
            "author_id" => json!(tweet.author_id),
            "created_at" => json!(iso8601(tweet.created_at)),
            "conversation_id" => json!(tweet.conversation_id),
            "in_reply_to_user_id" => match &tweet.in_reply_to_user_id {
                Some(user) => json!(user),
                None => continue,
            },
            "referenced_tweets" => match &tweet.replied_to {
                Some(parent) => json!([{ "type": "replied_to", "id": parent }]),
                None => continue,
            },
            _ => continue,
        };
        object.insert(field.clone(), value);
    }
    Value::Object(object)
}

/// One part of a multipart/form-data body.
struct FormPart {
    name: String,
    data: Vec<u8>,
}

/// The parts of a multipart/form-data body (RFC 7578); `None` when it is not one.
fn multipart(request: &Recorded) -> Option<Vec<FormPart>> {
    let (kind, params) = request.header("content-type")?.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?.trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = [b"\r\n".as_slice(), &delimiter].concat();
    let body = &request.body;
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2)? == b"--" {
            return Some(parts);
        }
        at += 2; // the CRLF after the delimiter
        let end = find(body, &next_delimiter, at)?;
        let part = body.get(at..end)?;
        let split = find(part, b"\r\n\r\n", 0)?;
        let head = std::str::from_utf8(part.get(..split)?).ok()?;
        let disposition = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-disposition"))?
            .1;
        let name = disposition
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == "name")?
            .1
            .trim_matches('"')
            .to_owned();
        parts.push(FormPart { name, data: part.get(split + 4..)?.to_vec() });
        at = end + next_delimiter.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// The image type the bytes begin as (PNG, JPEG, GIF or WebP).
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
        Some("image/webp")
    } else {
        None
    }
}

/// The weighted length twitter-text v3 computes: URLs count 23, code points
/// in the Latin and general-punctuation ranges count 1, everything else 2.
fn weighted_length(text: &str) -> usize {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            let url = trimmed.starts_with("http://") || trimmed.starts_with("https://");
            let tail = word.len() - trimmed.len();
            if url {
                URL_LENGTH + tail
            } else {
                word.chars().map(char_weight).sum()
            }
        })
        .sum()
}

fn char_weight(c: char) -> usize {
    match u32::from(c) {
        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "x-user-token-1";
    const FOLLOWER: &str = "2244994945";

    async fn read(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    #[tokio::test]
    async fn the_fake_behaves_like_x() {
        let fake = XFake::start(TOKEN).await;
        let http = reqwest::Client::new();
        let url = |path: &str| format!("{}{path}", fake.base);
        let post = |body: Value| http.post(url("/2/tweets")).bearer_auth(TOKEN).json(&body).send();

        // Publish: 201, a snowflake id, the rate-limit headers in Unix seconds.
        let (code, headers, root) = read(post(json!({"text": "Open today"})).await.unwrap()).await;
        assert_eq!(code, 201);
        let root_id = root["data"]["id"].as_str().unwrap().to_owned();
        assert!(root_id.parse::<u64>().unwrap() > 1 << 22);
        assert_eq!(root["data"]["text"], "Open today");
        assert_eq!(root["data"]["edit_history_tweet_ids"], json!([root_id]));
        assert_eq!(headers["x-rate-limit-limit"], "200");
        assert_eq!(headers["x-rate-limit-remaining"], "199");
        let reset: u64 = headers["x-rate-limit-reset"].to_str().unwrap().parse().unwrap();
        let in_s = reset - SystemClock.now().unix_seconds();
        assert!((890..=901).contains(&in_s), "{in_s}");

        // Auth: missing, wrong.
        let (code, headers, body) =
            read(http.post(url("/2/tweets")).json(&json!({"text": "a"})).send().await.unwrap()).await;
        assert_eq!(code, 401);
        assert_eq!(
            body,
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        );
        assert!(headers.get("x-rate-limit-limit").is_none());
        let (code, _, _) = read(
            http.post(url("/2/tweets"))
                .bearer_auth("wrong")
                .json(&json!({"text": "a"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, 401);
        let (code, _, body) = read(http.get(url("/2/nothing")).send().await.unwrap()).await;
        assert_eq!((code, &body["errors"][0]["code"]), (404, &json!(34)));

        // Validation.
        for body in [json!({}), json!({"text": "  "}), json!({"text": "hi", "media": {"media_ids": ["x"]}})] {
            let (code, _, problem) = read(post(body).await.unwrap()).await;
            assert_eq!((code, problem["type"].as_str()), (400, Some(INVALID_REQUEST)));
            assert!(problem["errors"][0]["message"].is_string());
        }
        let (code, _, problem) = read(post(json!({"text": "x".repeat(281)})).await.unwrap()).await;
        assert_eq!((code, problem["detail"].as_str()), (403, Some(NOT_PERMITTED)));
        let (code, _, _) = read(post(json!({"text": "x".repeat(280)})).await.unwrap()).await;
        assert_eq!(code, 201);
        let link = format!("{} https://example.org/{}", "y".repeat(256), "z".repeat(100));
        assert_eq!(read(post(json!({"text": link})).await.unwrap()).await.0, 201);
        assert_eq!(weighted_length("日本"), 4);
        let (code, _, problem) = read(post(json!({"text": "Open today"})).await.unwrap()).await;
        assert_eq!(code, 403);
        assert_eq!(
            problem,
            json!({"title": "Forbidden", "detail": DUPLICATE, "type": "about:blank", "status": 403})
        );
        let (code, _, problem) =
            read(post(json!({"text": "hi", "reply": {"in_reply_to_tweet_id": "1"}})).await.unwrap()).await;
        assert_eq!((code, problem["detail"].as_str()), (403, Some(REPLY_GONE)));
        fake.reject_next_body("You are not permitted to perform this action.");
        let (code, _, problem) = read(post(json!({"text": "fine"})).await.unwrap()).await;
        assert_eq!((code, problem["status"].as_i64()), (403, Some(403)));
        let (code, _, _) = read(post(json!({"text": "fine"})).await.unwrap()).await;
        assert_eq!(code, 201);

        // Media: the simple upload (images only, sniffed), alt text, then a post naming it.
        let upload = |category: &str, media_type: Option<&str>, bytes: Vec<u8>| {
            let file = reqwest::multipart::Part::bytes(bytes).file_name("image");
            let mut form = reqwest::multipart::Form::new()
                .part("media", file)
                .text("media_category", category.to_owned());
            if let Some(t) = media_type {
                form = form.text("media_type", t.to_owned());
            }
            http.post(url("/2/media/upload")).bearer_auth(TOKEN).multipart(form).send()
        };
        let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 16]].concat();
        let (code, headers, uploaded) =
            read(upload("tweet_image", Some("image/png"), png.clone()).await.unwrap()).await;
        assert_eq!((code, &headers["x-rate-limit-limit"]), (200, &HeaderValue::from_static("500")));
        let media_id = uploaded["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(uploaded["data"]["media_key"], format!("3_{media_id}"));
        assert_eq!(uploaded["data"]["size"], png.len());
        let (code, _, _) = read(upload("tweet_image", None, b"GIF89a..".to_vec()).await.unwrap()).await;
        assert_eq!(code, 200, "a GIF goes without a media_type");
        let too_big = [png.clone(), vec![0; MAX_IMAGE_BYTES]].concat();
        for (category, media_type, bytes) in [
            ("tweet_image", Some("image/jpeg"), png.clone()),
            ("tweet_image", Some("image/gif"), png.clone()),
            ("tweet_image", None, b"plain text".to_vec()),
            ("tweet_gif", None, png.clone()),
            ("tweet_image", None, too_big),
        ] {
            let (code, _, problem) = read(upload(category, media_type, bytes).await.unwrap()).await;
            assert_eq!(
                (code, problem["type"].as_str()),
                (400, Some(INVALID_REQUEST)),
                "{category} {media_type:?}"
            );
            assert!(problem["errors"][0]["message"].is_string());
        }
        let metadata =
            |body: Value| http.post(url("/2/media/metadata")).bearer_auth(TOKEN).json(&body).send();
        let (code, _, meta) = read(
            metadata(json!({"id": media_id, "metadata": {"alt_text": {"text": "A cat"}}})).await.unwrap(),
        )
        .await;
        assert_eq!((code, &meta["data"]["associated_metadata"]["alt_text"]["text"]), (200, &json!("A cat")));
        let unknown = json!({"id": "1", "metadata": {"alt_text": {"text": "x"}}});
        assert_eq!(read(metadata(unknown).await.unwrap()).await.0, 400);
        let long = json!({"id": media_id, "metadata": {"alt_text": {"text": "x".repeat(1001)}}});
        assert_eq!(read(metadata(long).await.unwrap()).await.0, 400);
        let (code, _, media) = read(post(json!({"media": {"media_ids": [media_id]}})).await.unwrap()).await;
        assert_eq!((code, media["data"]["text"].as_str()), (201, Some("")));
        let attached = fake.media_of(media["data"]["id"].as_str().unwrap());
        assert_eq!((attached[0].alt_text.as_deref(), attached[0].bytes.len()), (Some("A cat"), png.len()));
        let (code, _, _) =
            read(post(json!({"text": "hi", "media": {"media_ids": ["1146654567674912769"]}})).await.unwrap())
                .await;
        assert_eq!(code, 400, "only media this user uploaded");

        // Replies: ours, then a follower's; the search lists them newest first.
        let (code, _, own) =
            read(post(json!({"text": "Thanks", "reply": {"in_reply_to_tweet_id": root_id}})).await.unwrap())
                .await;
        assert_eq!(code, 201);
        let own_id = own["data"]["id"].as_str().unwrap().to_owned();
        let theirs = fake.reply_from(FOLLOWER, &own_id, "Spam spam");
        let search =
            |q: &str| http.get(url(&format!("/2/tweets/search/recent?{q}"))).bearer_auth(TOKEN).send();
        let (code, headers, found) = read(
            search(&format!(
                "query=conversation_id:{root_id}&tweet.fields=author_id,created_at,conversation_id,in_reply_to_user_id"
            ))
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(headers["x-rate-limit-limit"], "180");
        assert_eq!(found["meta"]["result_count"], 2);
        assert_eq!(found["meta"]["newest_id"], theirs.as_str());
        assert_eq!(found["data"][0]["author_id"], FOLLOWER);
        assert_eq!(found["data"][0]["conversation_id"], root_id.as_str());
        assert_eq!(found["data"][0]["in_reply_to_user_id"], USER_ID);
        assert!(found["data"][0]["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(found["data"][1]["id"], own_id.as_str());
        let (_, _, plain) = read(search(&format!("query=conversation_id%3A{root_id}")).await.unwrap()).await;
        assert!(plain["data"][0].get("author_id").is_none());
        let (code, _, none) = read(search("query=conversation_id:42").await.unwrap()).await;
        assert_eq!((code, none), (200, json!({"meta": {"result_count": 0}})));
        assert_eq!(read(search("query=").await.unwrap()).await.0, 400);

        // Hide: only someone else's reply in our conversation.
        let hide = |id: &str| {
            http.put(url(&format!("/2/tweets/{id}/hidden")))
                .bearer_auth(TOKEN)
                .json(&json!({"hidden": true}))
                .send()
        };
        let (code, headers, body) = read(hide(&theirs).await.unwrap()).await;
        assert_eq!((code, body), (200, json!({"data": {"hidden": true}})));
        assert_eq!(headers["x-rate-limit-limit"], "50");
        assert_eq!(read(hide(&own_id).await.unwrap()).await.0, 403);
        assert_eq!(read(hide(&root_id).await.unwrap()).await.0, 403);
        let (code, _, problem) = read(hide("1").await.unwrap()).await;
        assert_eq!((code, problem["type"].as_str()), (404, Some(NOT_FOUND)));

        // Delete: ours; not theirs; then 404; 50 per 15 minutes.
        let delete = |id: &str| http.delete(url(&format!("/2/tweets/{id}"))).bearer_auth(TOKEN).send();
        assert_eq!(read(delete(&theirs).await.unwrap()).await.0, 403);
        let (code, headers, body) = read(delete(&root_id).await.unwrap()).await;
        assert_eq!((code, body), (200, json!({"data": {"deleted": true}})));
        assert_eq!(headers["x-rate-limit-remaining"], "48");
        let (code, _, problem) = read(delete(&root_id).await.unwrap()).await;
        assert_eq!(
            (code, problem["detail"].as_str()),
            (404, Some(format!("Could not find tweet with id: [{root_id}].").as_str()))
        );
        for _ in 3..50 {
            assert_eq!(read(delete("1").await.unwrap()).await.0, 404);
        }
        let (code, headers, body) = read(delete("1").await.unwrap()).await;
        assert_eq!(code, 429);
        assert_eq!(
            body,
            json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
        );
        assert_eq!(headers["x-rate-limit-remaining"], "0");
        // Other endpoints have their own windows.
        assert_eq!(read(post(json!({"text": "still open"})).await.unwrap()).await.0, 201);

        // A 503, once; a forced 429, once.
        fake.fail_next(503);
        let (code, _, body) = read(post(json!({"text": "later"})).await.unwrap()).await;
        assert_eq!((code, body["title"].as_str()), (503, Some("Service Unavailable")));
        fake.rate_limit_next(Duration::from_secs(90));
        let (code, headers, _) = read(post(json!({"text": "later"})).await.unwrap()).await;
        assert_eq!((code, &headers["x-rate-limit-remaining"]), (429, &"0".parse::<HeaderValue>().unwrap()));
        let reset: u64 = headers["x-rate-limit-reset"].to_str().unwrap().parse().unwrap();
        let in_s = reset - SystemClock.now().unix_seconds();
        assert!((89..=91).contains(&in_s), "{in_s}");
        assert_eq!(read(post(json!({"text": "later"})).await.unwrap()).await.0, 201);

        // Recorded: method, path with query, lower-cased headers, raw body, refused ones too.
        let requests = fake.requests();
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].path, "/2/tweets");
        assert_eq!(requests[0].header("Authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(
            serde_json::from_slice::<Value>(&requests[0].body).unwrap(),
            json!({"text": "Open today"})
        );
        assert!(requests[1].header("authorization").is_none());
        assert!(requests.iter().any(|r| r.path.starts_with("/2/tweets/search/recent?query=")));

        // The token expires.
        fake.expire_token();
        assert_eq!(read(post(json!({"text": "after"})).await.unwrap()).await.0, 401);
    }
}
