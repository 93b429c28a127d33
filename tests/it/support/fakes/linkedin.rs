//! A fake LinkedIn REST API (Posts API and Comments API of Community
//! Management) on loopback: the endpoints Custodian calls, LinkedIn's
//! status codes and error bodies (`{"message","serviceErrorCode","status"}`,
//! 422 with `errorDetails.inputErrors` for refused content, including
//! `DUPLICATE_POST`), no rate-limit headers, plus switches for the failures
//! a test needs (expired token, rate limit, refused content, a 5xx).
//!
//! Every call must carry `LinkedIn-Version` (missing: 400 `VERSION_MISSING`;
//! not an active version: 426 `NONEXISTENT_VERSION`) and
//! `X-Restli-Protocol-Version: 2.0.0` (the fake refuses a call without it
//! with 400; LinkedIn documents the header as required, not its error).
//!
//! Modelled: `POST /rest/posts` (201, id in `x-restli-id`),
//! `GET /rest/posts?q=author&author=…` (the author's posts, newest first,
//! `start` and `count`),
//! `DELETE /rest/posts/{urn}` (204, also for a post already deleted),
//! `POST|GET /rest/socialActions/{urn}/comments` and
//! `DELETE /rest/socialActions/{urn}/comments/{id}?actor=…`, URNs
//! percent-encoded in the path, and images (Images API):
//! `POST /rest/images?action=initializeUpload` answers an upload URL on a
//! second server, the upload host (as LinkedIn's point at
//! `www.linkedin.com/dms-uploads/…`), which takes the bytes with `PUT` and the
//! member's token and answers 201. An image whose bytes are not a JPEG, PNG or
//! GIF fails processing; a post may name (in `content.media`) only an
//! available image its author owns. Anything else is a 404. LinkedIn does not
//! document the upload host's errors: the fake answers them in the REST shape.
//!
//! The upload host also plays `www.linkedin.com`'s OAuth 2.0 (3-legged flow):
//! `GET /oauth/v2/authorization` (the member consents at once),
//! `POST /oauth/v2/accessToken` (client credentials in the form; no PKCE for
//! web apps; 60-day tokens, scopes comma-separated) and `POST /oauth/v2/revoke`.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use custodian::clock::{Clock, SystemClock};
use serde_json::{json, Value};

use super::Recorded;

/// The organization the token's member administers (may post and comment as it).
pub const ORGANIZATION: &str = "urn:li:organization:2414183";
/// The app Custodian is registered as.
pub const CLIENT_ID: &str = "fake-linkedin-client-id";
pub const CLIENT_SECRET: &str = "fake-linkedin-client-secret";
/// The member the token belongs to.
pub const MEMBER: &str = "urn:li:person:K4x9ZqT2bW";
/// The oldest `LinkedIn-Version` the fake serves (LinkedIn serves about a year of versions).
pub const OLDEST_ACTIVE_VERSION: &str = "202505";
/// Posts per member per day (the member-level daily limit of post creation).
const MEMBER_DAILY_POSTS: u32 = 150;
const MAX_COMMENTARY: usize = 3000;
const MAX_COMMENT: usize = 1250;
const MAX_ALT_TEXT: usize = 4086;
/// LinkedIn does not say how long an upload URL lives; the fake gives a day.
const UPLOAD_URL_MS: i64 = 24 * 60 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// LinkedIn does not document how long it remembers a text for duplicate
/// detection; reports speak of a day or two, so the fake uses a day.
const DUPLICATE_MS: i64 = DAY_MS;

/// A running fake LinkedIn; the servers stop when this is dropped.
pub struct LinkedInFake {
    /// `http://127.0.0.1:PORT/rest`.
    pub base: String,
    /// `http://127.0.0.1:PORT2`: the upload host's origin, where upload URLs point.
    pub upload_origin: String,
    controls: super::Controls<Fake>,
    _server: super::Server,
    _upload_server: super::Server,
}

impl std::ops::Deref for LinkedInFake {
    type Target = super::Controls<Fake>;

    fn deref(&self) -> &super::Controls<Fake> {
        &self.controls
    }
}

impl LinkedInFake {
    /// Starts the server on 127.0.0.1:0 accepting `token` as the one valid
    /// OAuth 2.0 access token (of [`MEMBER`], an administrator of [`ORGANIZATION`]).
    pub async fn start(token: &str) -> LinkedInFake {
        let (controls, app) = super::Controls::serve(Fake::new(token));
        let server = super::Server::start(app.clone()).await;
        let upload_server = super::Server::start(app).await;
        let base = format!("http://{}/rest", server.addr);
        let upload_origin = format!("http://{}", upload_server.addr);
        {
            let mut fake = controls.lock();
            fake.upload_host = upload_server.addr.to_string();
            fake.upload_urls_on = upload_origin.clone();
        }
        LinkedInFake { base, upload_origin, controls, _server: server, _upload_server: upload_server }
    }

    /// From now on initializeUpload hands out upload URLs on `origin`
    /// (`http://host:port`) instead of the fake's upload host, as a
    /// compromised or confused answer might.
    pub fn upload_urls_on(&self, origin: &str) {
        self.lock().upload_urls_on = origin.trim_end_matches('/').to_owned();
    }

    /// The next upload (`PUT` on the upload host) gets this 5xx status.
    pub fn fail_next_upload(&self, status: u16) {
        assert!((500..=599).contains(&status), "fail_next_upload takes a 5xx status, not {status}");
        self.lock().fail_next_upload = Some(status);
    }

    /// The next upload is refused with 400 and this message.
    pub fn reject_next_upload(&self, message: &str) {
        self.lock().reject_next_upload = Some(message.to_owned());
    }

    /// The image a post shows, as LinkedIn stored it.
    pub fn image_of(&self, post_urn: &str) -> Option<StoredImage> {
        let fake = self.lock();
        let (urn, alt_text) = fake.post(post_urn)?.media.clone()?;
        let image = fake.images.iter().find(|i| i.urn == urn)?;
        Some(StoredImage { alt_text, ..image.clone() })
    }

    /// Every image initialized so far, in order.
    pub fn images(&self) -> Vec<StoredImage> {
        self.lock().images.clone()
    }

    /// The next request (any endpoint) gets 429, as when the application's
    /// daily limit is spent. LinkedIn sends no rate-limit headers, so there
    /// is no reset to name.
    pub fn rate_limit_next(&self) {
        self.controls.rate_limit_next(());
    }

    /// Someone else (`actor`, a person URN) comments on the post `post_urn`,
    /// as followers do; returns the comment's URN. Panics when the post is unknown.
    pub fn comment_from(&self, actor: &str, post_urn: &str, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let post =
            fake.post(post_urn).filter(|p| !p.deleted).expect("comment_from: an existing post").clone();
        fake.add_comment(&post, actor, text, None, now).urn()
    }

    /// The organization posts `text` at LinkedIn itself (not through
    /// Custodian); returns the post's URN.
    pub fn post_directly(&self, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let share = format!("urn:li:share:{}", fake.next_id());
        let activity = format!("urn:li:activity:{}", fake.next_id());
        fake.posts.push(Post {
            share: share.clone(),
            activity,
            author: ORGANIZATION.to_owned(),
            commentary: text.to_owned(),
            media: None,
            created: now,
            deleted: false,
        });
        share
    }

    /// The commentary of a post as LinkedIn stored it.
    pub fn commentary(&self, post_urn: &str) -> Option<String> {
        self.lock().post(post_urn).map(|p| p.commentary.clone())
    }
}

impl super::Responder for Fake {
    type RateLimit = ();

    fn control(&mut self) -> &mut super::Control<()> {
        &mut self.control
    }

    fn answer(&mut self, request: Recorded, now_ms: i64) -> Response {
        self.respond(request, now_ms).into_response()
    }
}

struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply { status, body: Some(body), headers: Vec::new() }
    }

    fn empty(status: u16) -> Reply {
        Reply { status, body: None, headers: Vec::new() }
    }

    /// LinkedIn's plain error: `{"message","serviceErrorCode","status"}`.
    /// 403 for a member who may not act as the owner or author.
    fn access_denied(resource: &str) -> Reply {
        Reply::json(
            403,
            json!({
                "status": 403,
                "serviceErrorCode": 100,
                "code": "ACCESS_DENIED",
                "message": format!("Not enough permissions to access: {resource}")
            }),
        )
    }

    fn error(status: u16, service_code: u32, message: &str) -> Reply {
        Reply::json(status, json!({ "message": message, "serviceErrorCode": service_code, "status": status }))
    }

    /// 422 for refused content, with one input error.
    fn unprocessable(message: &str, code: &str, description: &str) -> Reply {
        Reply::json(
            422,
            json!({
                "errorDetailType": "com.linkedin.common.error.BadRequest",
                "message": message,
                "errorDetails": { "inputErrors": [{ "description": description, "input": {}, "code": code }] },
                "status": 422
            }),
        )
    }

    fn field_error(field: &str, problem: &str) -> Reply {
        Reply::unprocessable(&format!("ERROR :: /{field} :: {problem}\n"), "INVALID_VALUE", problem)
    }

    fn not_found() -> Reply {
        Reply::error(404, 0, "Not Found")
    }

    fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    fn into_response(self) -> Response {
        let content_type = self.body.is_some().then_some("application/json");
        let body = self.body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        super::response(self.status, content_type, body, self.headers)
    }
}

/// Decodes `%XX` escapes of one path segment.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[derive(Clone)]
struct Post {
    share: String,
    activity: String,
    author: String,
    commentary: String,
    /// The image URN and alt text of `content.media`.
    media: Option<(String, Option<String>)>,
    created: i64,
    deleted: bool,
}

/// An image of the Images API, as the fake holds it.
#[derive(Debug, Clone)]
pub struct StoredImage {
    pub urn: String,
    pub owner: String,
    /// `WAITING_UPLOAD`, `AVAILABLE` or `PROCESSING_FAILED`.
    pub status: String,
    pub bytes: Vec<u8>,
    /// The alt text a post gave it (in [`LinkedInFake::image_of`]).
    pub alt_text: Option<String>,
    /// The `ut` parameter of its upload URL.
    upload_token: String,
    upload_expires: i64,
}

#[derive(Clone)]
struct FakeComment {
    id: String,
    /// `urn:li:activity:…` of the post.
    activity: String,
    actor: String,
    text: String,
    created: i64,
    parent: Option<String>,
    deleted: bool,
}

impl FakeComment {
    fn urn(&self) -> String {
        format!("urn:li:comment:({},{})", self.activity, self.id)
    }

    fn json(&self) -> Value {
        let mut c = json!({
            "actor": self.actor,
            "agent": self.actor,
            "commentUrn": self.urn(),
            "$URN": self.urn(),
            "id": self.id,
            "object": self.activity,
            "message": { "text": self.text, "attributes": [] },
            "created": { "actor": self.actor, "time": self.created },
            "lastModified": { "actor": self.actor, "time": self.created },
        });
        if let Some(parent) = &self.parent {
            c["parentComment"] = json!(parent);
        }
        c
    }
}

enum Endpoint {
    InitializeUpload,
    CreatePost,
    FindPosts,
    DeletePost(String),
    CreateComment(String),
    ListComments(String),
    DeleteComment(String, String),
}

/// The platform's state, behind the lock; public only as the type its
/// `Controls` pull the switches on (its fields stay private).
pub struct Fake {
    token: String,
    control: super::Control<()>,
    posts: Vec<Post>,
    comments: Vec<FakeComment>,
    last_id: u64,
    /// (UTC day, posts created that day).
    member_day: (i64, u32),
    images: Vec<StoredImage>,
    /// `127.0.0.1:PORT` of the upload host: requests there are uploads.
    upload_host: String,
    /// The origin upload URLs are handed out on.
    upload_urls_on: String,
    fail_next_upload: Option<u16>,
    reject_next_upload: Option<String>,
    /// code -> (redirect_uri, scope)
    codes: HashMap<String, (String, String)>,
}

impl Fake {
    /// `www.linkedin.com/oauth/v2/…`; `None` for anything else.
    fn oauth(&mut self, request: &Recorded) -> Option<Reply> {
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        let raw = if request.method == "GET" { query.as_bytes() } else { request.body.as_slice() };
        let form: HashMap<String, String> = url::form_urlencoded::parse(raw).into_owned().collect();
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        let client_ok = field("client_id") == CLIENT_ID && field("client_secret") == CLIENT_SECRET;
        let refused = |error: &str, description: &str| {
            Reply::json(400, json!({"error": error, "error_description": description}))
        };
        Some(match (request.method.as_str(), path) {
            ("GET", "/oauth/v2/authorization") => {
                let code = format!("li-code-{}", uuid::Uuid::new_v4().simple());
                self.codes.insert(code.clone(), (field("redirect_uri"), field("scope")));
                let mut back = url::Url::parse(&field("redirect_uri")).expect("redirect_uri");
                back.query_pairs_mut().append_pair("code", &code).append_pair("state", &field("state"));
                let mut reply = Reply::empty(303);
                reply.headers.push(("location", back.to_string()));
                reply
            }
            ("POST", "/oauth/v2/accessToken") if !client_ok => {
                Reply::json(401, json!({"error": "invalid_client", "error_description": "Client authentication failed"}))
            }
            ("POST", "/oauth/v2/accessToken") => match self.codes.remove(&field("code")) {
                Some((redirect, scope)) if redirect == field("redirect_uri") => {
                    self.control.expired = false;
                    Reply::json(
                        200,
                        json!({"access_token": self.token, "expires_in": 5_184_000, "scope": scope.replace(' ', ",")}),
                    )
                }
                _ => refused(
                    "invalid_request",
                    "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired.",
                ),
            },
            ("POST", "/oauth/v2/revoke") if client_ok => {
                if field("token") == self.token {
                    self.control.expired = true;
                }
                Reply::empty(200)
            }
            ("POST", "/oauth/v2/revoke") => refused("invalid_request", "Client authentication failed"),
            _ => return None,
        })
    }

    fn new(token: &str) -> Fake {
        Fake {
            token: token.to_owned(),
            control: super::Control::default(),
            posts: Vec::new(),
            comments: Vec::new(),
            last_id: 7_190_000_000_000_000_000,
            member_day: (0, 0),
            images: Vec::new(),
            upload_host: String::new(),
            upload_urls_on: String::new(),
            fail_next_upload: None,
            reject_next_upload: None,
            codes: HashMap::new(),
        }
    }

    fn respond(&mut self, request: Recorded, now: i64) -> Reply {
        if let Some(status) = self.control.fail_next.take() {
            let reason =
                StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
            return Reply::error(status, 0, reason);
        }
        if request.header("host") == Some(self.upload_host.as_str()) {
            if let Some(reply) = self.oauth(&request) {
                return reply;
            }
            return self.upload(&request);
        }
        let Some(version) = request.header("linkedin-version") else {
            return Reply::json(
                400,
                json!({
                    "status": 400,
                    "code": "VERSION_MISSING",
                    "message": "A version must be present. Please specify a version by adding the LinkedIn-Version header."
                }),
            );
        };
        let well_formed = version.len() == 6
            && version.bytes().all(|b| b.is_ascii_digit())
            && matches!(version[4..].parse::<u8>(), Ok(1..=12));
        if !well_formed || version < OLDEST_ACTIVE_VERSION {
            return Reply::json(
                426,
                json!({
                    "status": 426,
                    "code": "NONEXISTENT_VERSION",
                    "message": format!("Requested version {version} is not active")
                }),
            );
        }
        if request.header("x-restli-protocol-version") != Some("2.0.0") {
            return Reply::error(400, 0, "This API requires the header X-Restli-Protocol-Version: 2.0.0");
        }
        if !self.authorized(&request) {
            let message = if self.control.expired {
                "The token used in the request has expired"
            } else {
                "Invalid access token"
            };
            return Reply::error(401, 65600, message);
        }
        if self.control.rate_limit_next.take().is_some() {
            return Reply::error(
                429,
                0,
                "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            );
        }
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        let raw: Vec<&str> = path.split('/').skip(1).collect();
        let Some(segments) = raw.iter().map(|s| percent_decode(s)).collect::<Option<Vec<String>>>() else {
            return Reply::error(400, 0, "Invalid path");
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let endpoint = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["rest", "images"])
                if params.get("action").map(String::as_str) == Some("initializeUpload") =>
            {
                Endpoint::InitializeUpload
            }
            ("POST", ["rest", "posts"]) => Endpoint::CreatePost,
            ("GET", ["rest", "posts"]) if params.get("q").map(String::as_str) == Some("author") => {
                Endpoint::FindPosts
            }
            ("DELETE", ["rest", "posts", urn]) => Endpoint::DeletePost((*urn).to_owned()),
            ("POST", ["rest", "socialActions", urn, "comments"]) => {
                Endpoint::CreateComment((*urn).to_owned())
            }
            ("GET", ["rest", "socialActions", urn, "comments"]) => Endpoint::ListComments((*urn).to_owned()),
            ("DELETE", ["rest", "socialActions", urn, "comments", id]) => {
                Endpoint::DeleteComment((*urn).to_owned(), (*id).to_owned())
            }
            _ => return Reply::error(404, 0, "No virtual resource found"),
        };
        match endpoint {
            Endpoint::InitializeUpload => self.initialize_upload(&request, version, now),
            Endpoint::CreatePost => self.create_post(&request, version, now),
            Endpoint::FindPosts => self.find_posts(&request, &params),
            Endpoint::DeletePost(urn) => self.delete_post(&urn, version),
            Endpoint::CreateComment(urn) => self.create_comment(&urn, &request, now),
            Endpoint::ListComments(urn) => self.list_comments(&urn),
            Endpoint::DeleteComment(urn, id) => self.delete_comment(&urn, &id, query),
        }
    }

    fn authorized(&self, request: &Recorded) -> bool {
        let Some(value) = request.header("authorization") else { return false };
        let presented = value.get(..7).filter(|s| s.eq_ignore_ascii_case("bearer ")).map(|_| &value[7..]);
        presented == Some(self.token.as_str()) && !self.control.expired
    }

    fn next_id(&mut self) -> u64 {
        self.last_id += 1 + u64::from(u8::try_from(self.last_id % 7).unwrap_or(0));
        self.last_id
    }

    /// A post by its share, ugcPost or activity URN.
    fn post(&self, urn: &str) -> Option<&Post> {
        self.posts.iter().find(|p| p.share == urn || p.activity == urn)
    }

    fn add_comment(
        &mut self,
        post: &Post,
        actor: &str,
        text: &str,
        parent: Option<String>,
        now: i64,
    ) -> FakeComment {
        let comment = FakeComment {
            id: self.next_id().to_string(),
            activity: post.activity.clone(),
            actor: actor.to_owned(),
            text: text.to_owned(),
            created: now,
            parent,
            deleted: false,
        };
        self.comments.push(comment.clone());
        comment
    }

    fn may_act_as(actor: &str) -> bool {
        actor == ORGANIZATION || actor == MEMBER
    }

    /// `initializeUpload`: a new image waiting for its bytes, and where to put them.
    fn initialize_upload(&mut self, request: &Recorded, version: &str, now: i64) -> Reply {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return Reply::error(400, 0, "Unable to parse the request body as JSON");
        };
        let Some(owner) = body.pointer("/initializeUploadRequest/owner").and_then(Value::as_str) else {
            return Reply::field_error(
                "initializeUploadRequest/owner",
                "field is required but not found and has no default value",
            );
        };
        if !Fake::may_act_as(owner) {
            return Reply::access_denied(&format!("partnerApiImages.ACTION.{version}"));
        }
        let asset = format!("D4E10AQ{:X}", self.next_id());
        let upload_token = format!("{:x}", self.next_id().wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let upload_expires = now + UPLOAD_URL_MS;
        let image = StoredImage {
            urn: format!("urn:li:image:{asset}"),
            owner: owner.to_owned(),
            status: "WAITING_UPLOAD".into(),
            bytes: Vec::new(),
            alt_text: None,
            upload_token: upload_token.clone(),
            upload_expires,
        };
        let upload_url = format!(
            "{}/dms-uploads/sp/v2/{asset}/uploaded-image/0?ca=vector_ads&cn=uploads&sync=0&v=beta&ut={upload_token}",
            self.upload_urls_on
        );
        let reply = json!({
            "value": { "uploadUrlExpiresAt": upload_expires, "uploadUrl": upload_url, "image": image.urn }
        });
        self.images.push(image);
        Reply::json(200, reply)
    }

    /// A request on the upload host: `PUT` of an image's bytes with the member's token.
    fn upload(&mut self, request: &Recorded) -> Reply {
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        if request.method != "PUT" || !path.starts_with("/dms-uploads/") {
            return Reply::not_found();
        }
        if !self.authorized(request) {
            return Reply::error(401, 65600, "Invalid access token");
        }
        if let Some(status) = self.fail_next_upload.take() {
            let reason =
                StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
            return Reply::error(status, 0, reason);
        }
        if let Some(message) = self.reject_next_upload.take() {
            return Reply::error(400, 0, &message);
        }
        let token = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "ut").map(|(_, v)| v);
        let now = SystemClock.now().millis();
        let Some(image) = self.images.iter_mut().find(|i| {
            Some(i.upload_token.as_str()) == token.as_deref()
                && i.status == "WAITING_UPLOAD"
                && now < i.upload_expires
        }) else {
            return Reply::not_found();
        };
        if request.body.is_empty() {
            return Reply::error(400, 0, "The upload is empty");
        }
        image.bytes = request.body.clone();
        image.status = if is_image(&image.bytes) { "AVAILABLE" } else { "PROCESSING_FAILED" }.into();
        Reply::empty(201)
    }

    fn create_post(&mut self, request: &Recorded, version: &str, now: i64) -> Reply {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) else {
            return Reply::error(400, 0, "Unable to parse the request body as JSON");
        };
        let missing = "field is required but not found and has no default value";
        for field in ["author", "commentary", "visibility", "distribution", "lifecycleState"] {
            if !body.contains_key(field) {
                return Reply::field_error(field, missing);
            }
        }
        let text = |field: &str| body.get(field).and_then(Value::as_str).unwrap_or("").to_owned();
        let (author, commentary) = (text("author"), text("commentary"));
        if !["PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"].contains(&text("visibility").as_str()) {
            return Reply::field_error("visibility", "is not an enum symbol");
        }
        if !["PUBLISHED", "DRAFT"].contains(&text("lifecycleState").as_str()) {
            return Reply::field_error("lifecycleState", "is not an enum symbol");
        }
        let feed = body.get("distribution").and_then(|d| d.get("feedDistribution")).and_then(Value::as_str);
        if !matches!(feed, Some("MAIN_FEED" | "NONE")) {
            return Reply::field_error("distribution/feedDistribution", missing);
        }
        if !Fake::may_act_as(&author) {
            return Reply::access_denied(&format!("partnerApiPostsExternal.CREATE.{version}"));
        }
        let media = match body.get("content").map(|c| c.get("media")) {
            None => None,
            Some(Some(media)) => {
                let id = media.get("id").and_then(Value::as_str).unwrap_or("");
                let alt = media.get("altText").and_then(Value::as_str).map(str::to_owned);
                let usable =
                    self.images.iter().any(|i| i.urn == id && i.owner == author && i.status == "AVAILABLE");
                if !usable {
                    return Reply::field_error("content/media/id", "is not an available image of the author");
                }
                if alt.as_ref().is_some_and(|a| a.chars().count() > MAX_ALT_TEXT) {
                    return Reply::field_error(
                        "content/media/altText",
                        &format!("length exceeds {MAX_ALT_TEXT}"),
                    );
                }
                Some((id.to_owned(), alt))
            }
            Some(None) => return Reply::field_error("content", "the fake models only media content"),
        };
        if let Some(message) = self.control.reject_next_body.take() {
            return Reply::unprocessable(&message, "INVALID_CONTENT", &message);
        }
        if commentary.trim().is_empty() && media.is_none() {
            return Reply::field_error("commentary", "must not be empty for a post without content");
        }
        if commentary.chars().count() > MAX_COMMENTARY {
            return Reply::field_error("commentary", &format!("length exceeds {MAX_COMMENTARY} characters"));
        }
        if let Some(original) = self.posts.iter().find(|p| {
            !p.deleted && p.author == author && p.commentary == commentary && now - p.created < DUPLICATE_MS
        }) {
            return Reply::unprocessable(
                &format!(
                    "com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {}",
                    original.share
                ),
                "DUPLICATE_POST",
                "Duplicate post is detected",
            );
        }
        let day = now.div_euclid(DAY_MS);
        if self.member_day.0 != day {
            self.member_day = (day, 0);
        }
        if self.member_day.1 >= MEMBER_DAILY_POSTS {
            return Reply::error(
                429,
                0,
                "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
            );
        }
        self.member_day.1 += 1;
        let share = format!("urn:li:share:{}", self.next_id());
        let activity = format!("urn:li:activity:{}", self.next_id());
        self.posts.push(Post {
            share: share.clone(),
            activity,
            author,
            commentary,
            media,
            created: now,
            deleted: false,
        });
        Reply::empty(201).header("x-restli-id", share.clone()).header("x-linkedin-id", share)
    }

    fn delete_post(&mut self, urn: &str, version: &str) -> Reply {
        let Some(post) = self.posts.iter_mut().find(|p| p.share == urn) else {
            return Reply::not_found();
        };
        if !Fake::may_act_as(&post.author) {
            return Reply::error(
                403,
                100,
                &format!("Not enough permissions to access: partnerApiPostsExternal.DELETE.{version}"),
            );
        }
        // Idempotent: a post already deleted answers 204 too.
        post.deleted = true;
        Reply::empty(204)
    }

    /// The post a comment path names: a post URN, or a comment URN (replies to it).
    fn thread(&self, urn: &str) -> Option<(Post, Option<FakeComment>)> {
        if urn.starts_with("urn:li:comment:") {
            let comment = self.comments.iter().find(|c| c.urn() == urn && !c.deleted)?.clone();
            let post = self.post(&comment.activity)?.clone();
            return Some((post, Some(comment)));
        }
        self.post(urn).map(|p| (p.clone(), None))
    }

    fn create_comment(&mut self, urn: &str, request: &Recorded, now: i64) -> Reply {
        let Some((post, parent)) = self.thread(urn).filter(|(p, _)| !p.deleted) else {
            return Reply::not_found();
        };
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return Reply::error(400, 0, "Unable to parse the request body as JSON");
        };
        let actor = body.get("actor").and_then(Value::as_str).unwrap_or("");
        let object = body.get("object").and_then(Value::as_str).unwrap_or("");
        let text = body.pointer("/message/text").and_then(Value::as_str);
        if actor.is_empty() {
            return Reply::field_error("actor", "field is required but not found and has no default value");
        }
        if object != post.share && object != post.activity {
            return Reply::error(400, 0, "The object does not match the URN in the path");
        }
        let parent_urn = parent.as_ref().map(FakeComment::urn);
        if body.get("parentComment").and_then(Value::as_str) != parent_urn.as_deref() {
            return Reply::error(400, 0, "parentComment must be the comment in the path");
        }
        let Some(text) = text else {
            return Reply::field_error(
                "message/text",
                "field is required but not found and has no default value",
            );
        };
        if !Fake::may_act_as(actor) {
            return Reply::error(403, 100, "Not enough permissions to access: socialActions.comments.CREATE");
        }
        if let Some(message) = self.control.reject_next_body.take() {
            return Reply::unprocessable(&message, "INVALID_CONTENT", &message);
        }
        if text.trim().is_empty() || text.chars().count() > MAX_COMMENT {
            return Reply::field_error("message/text", &format!("must be 1 to {MAX_COMMENT} characters"));
        }
        let comment = self.add_comment(&post, actor, text, parent_urn, now);
        Reply::json(201, comment.json()).header("x-restli-id", comment.id.clone())
    }

    /// "Find posts by authors": the author's live posts, newest first
    /// (`sortBy` `CREATED`, or `LAST_MODIFIED`, the same here), `start` and
    /// `count` (at most 100). The finder needs `X-RestLi-Method: FINDER`.
    fn find_posts(&self, request: &Recorded, params: &HashMap<String, String>) -> Reply {
        if !request.header("x-restli-method").is_some_and(|m| m.eq_ignore_ascii_case("finder")) {
            return Reply::error(400, 0, "Invalid Rest.li method for a finder");
        }
        let Some(author) = params.get("author") else {
            return Reply::error(400, 0, "Query parameter author is required");
        };
        let number = |name: &str, default: usize| params.get(name).map_or(Some(default), |v| v.parse().ok());
        let (Some(start), Some(count)) = (number("start", 0), number("count", 10)) else {
            return Reply::error(400, 0, "Invalid value for start or count");
        };
        let count = count.min(100);
        let elements: Vec<Value> = self
            .posts
            .iter()
            .rev()
            .filter(|p| !p.deleted && &p.author == author)
            .skip(start)
            .take(count)
            .map(|p| {
                json!({
                    "id": p.share,
                    "author": p.author,
                    "commentary": p.commentary,
                    "visibility": "PUBLIC",
                    "lifecycleState": "PUBLISHED",
                    "createdAt": p.created,
                    "lastModifiedAt": p.created,
                    "publishedAt": p.created,
                })
            })
            .collect();
        Reply::json(
            200,
            json!({ "paging": { "start": start, "count": count, "links": [] }, "elements": elements }),
        )
    }

    fn list_comments(&self, urn: &str) -> Reply {
        let Some((post, parent)) = self.thread(urn).filter(|(p, _)| !p.deleted) else {
            return Reply::not_found();
        };
        let parent_urn = parent.as_ref().map(FakeComment::urn);
        let elements: Vec<Value> = self
            .comments
            .iter()
            .filter(|c| !c.deleted && c.activity == post.activity && c.parent == parent_urn)
            .take(10)
            .map(FakeComment::json)
            .collect();
        let total = elements.len();
        Reply::json(
            200,
            json!({ "paging": { "start": 0, "count": 10, "links": [], "total": total }, "elements": elements }),
        )
    }

    fn delete_comment(&mut self, urn: &str, id: &str, query: &str) -> Reply {
        let actor = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "actor")
            .map(|(_, v)| v.into_owned());
        let Some(actor) = actor else {
            return Reply::error(400, 0, "Query parameter actor is required");
        };
        let Some((post, _)) = self.thread(urn) else {
            return Reply::not_found();
        };
        let Some(comment) =
            self.comments.iter_mut().find(|c| c.id == id && c.activity == post.activity && !c.deleted)
        else {
            return Reply::not_found();
        };
        // The comment's author, or the post's author (a page deleting comments on its posts).
        let allowed = Fake::may_act_as(&actor) && (comment.actor == actor || post.author == actor);
        if !allowed {
            return Reply::error(403, 100, "Not enough permissions to access: socialActions.comments.DELETE");
        }
        comment.deleted = true;
        Reply::empty(204)
    }
}

/// Whether the bytes begin as a JPEG, PNG or GIF (what image processing accepts).
fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(b"GIF87a")
        || bytes.starts_with(b"GIF89a")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fake itself, spoken to directly: both headers required, LinkedIn's errors.
    #[tokio::test]
    async fn the_fake_requires_the_version_headers_and_answers_like_linkedin() {
        let fake = LinkedInFake::start("tok").await;
        let client = reqwest::Client::new();
        let body = json!({
            "author": ORGANIZATION, "commentary": "hello", "visibility": "PUBLIC",
            "distribution": { "feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": [] },
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": false
        });
        let post = |version: Option<&str>, restli: Option<&str>| {
            let mut r = client.post(format!("{}/posts", fake.base)).bearer_auth("tok").json(&body);
            if let Some(v) = version {
                r = r.header("LinkedIn-Version", v);
            }
            if let Some(v) = restli {
                r = r.header("X-Restli-Protocol-Version", v);
            }
            r.send()
        };
        let r = post(None, Some("2.0.0")).await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "VERSION_MISSING");
        let r = post(Some("202001"), Some("2.0.0")).await.unwrap();
        assert_eq!(r.status(), 426);
        assert_eq!(r.json::<Value>().await.unwrap()["message"], "Requested version 202001 is not active");
        assert_eq!(post(Some("202601"), None).await.unwrap().status(), 400);
        let r = post(Some("202601"), Some("2.0.0")).await.unwrap();
        assert_eq!(r.status(), 201);
        let urn = r.headers()["x-restli-id"].to_str().unwrap().to_owned();
        assert!(urn.starts_with("urn:li:share:"), "{urn}");
        let r = post(Some("202601"), Some("2.0.0")).await.unwrap();
        assert_eq!(r.status(), 422);
        let e = r.json::<Value>().await.unwrap();
        assert!(e["message"].as_str().unwrap().ends_with(&format!("Content is a duplicate of {urn}")), "{e}");
        assert_eq!(e["errorDetails"]["inputErrors"][0]["code"], "DUPLICATE_POST");
        fake.rate_limit_next();
        let r = post(Some("202601"), Some("2.0.0")).await.unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.headers().keys().all(|k| !k.as_str().contains("rate")));
        assert_eq!(fake.requests().len(), 6);
    }

    /// The Images API and the upload host, spoken to directly.
    #[tokio::test]
    async fn the_fake_initializes_images_and_takes_their_bytes_on_the_upload_host() {
        let fake = LinkedInFake::start("tok").await;
        let client = reqwest::Client::new();
        let rest = |r: reqwest::RequestBuilder| {
            r.bearer_auth("tok")
                .header("LinkedIn-Version", "202601")
                .header("X-Restli-Protocol-Version", "2.0.0")
        };
        let init = |owner: &str| {
            rest(client.post(format!("{}/images?action=initializeUpload", fake.base)))
                .json(&json!({ "initializeUploadRequest": { "owner": owner } }))
                .send()
        };
        let post = |media: Value| {
            let body = json!({
                "author": ORGANIZATION, "commentary": "", "visibility": "PUBLIC",
                "distribution": { "feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": [] },
                "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": false, "content": { "media": media }
            });
            rest(client.post(format!("{}/posts", fake.base))).json(&body).send()
        };
        let initialized = || async {
            let r = init(ORGANIZATION).await.unwrap();
            assert_eq!(r.status(), 200);
            let value = r.json::<Value>().await.unwrap()["value"].clone();
            assert!(value["uploadUrlExpiresAt"].as_i64().unwrap() > SystemClock.now().millis());
            (value["uploadUrl"].as_str().unwrap().to_owned(), value["image"].as_str().unwrap().to_owned())
        };
        let (upload_url, urn) = initialized().await;
        assert!(upload_url.starts_with(&format!("{}/dms-uploads/", fake.upload_origin)), "{upload_url}");
        assert!(urn.starts_with("urn:li:image:D4E10AQ"), "{urn}");
        assert_eq!(init("urn:li:organization:999").await.unwrap().status(), 403);
        let r = rest(client.post(format!("{}/images", fake.base))).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), 404, "only the initializeUpload action is modelled");

        // The upload host wants the token; uploads are not taken on the API host, nor for unknown URLs.
        let put = |url: &str, bytes: &[u8]| client.put(url).bearer_auth("tok").body(bytes.to_vec()).send();
        let gif = b"GIF89a\x01\x00\x01\x00";
        assert_eq!(client.put(&upload_url).body(gif.to_vec()).send().await.unwrap().status(), 401);
        let on_api = upload_url.replace(&fake.upload_origin, fake.base.trim_end_matches("/rest"));
        assert_eq!(rest(client.put(&on_api)).body(gif.to_vec()).send().await.unwrap().status(), 404);
        let unknown = format!("{}/dms-uploads/sp/v2/x/uploaded-image/0?ut=nope", fake.upload_origin);
        assert_eq!(put(&unknown, gif).await.unwrap().status(), 404);

        // A post names the image only once its bytes are in; the upload URL serves once.
        assert_eq!(post(json!({ "id": urn })).await.unwrap().status(), 422);
        assert_eq!(put(&upload_url, gif).await.unwrap().status(), 201);
        assert_eq!(put(&upload_url, gif).await.unwrap().status(), 404);
        let r = post(json!({ "id": urn, "altText": "a dot" })).await.unwrap();
        assert_eq!(r.status(), 201);
        let share = r.headers()["x-restli-id"].to_str().unwrap().to_owned();
        let image = fake.image_of(&share).unwrap();
        assert_eq!(
            (image.status.as_str(), image.alt_text.as_deref(), image.bytes.as_slice()),
            ("AVAILABLE", Some("a dot"), gif.as_slice())
        );

        // Bytes that are no image fail processing, and a post cannot use them.
        let (upload_url, urn) = initialized().await;
        assert_eq!(put(&upload_url, b"hello").await.unwrap().status(), 201);
        assert_eq!(post(json!({ "id": urn })).await.unwrap().status(), 422);
        assert_eq!(fake.images().last().unwrap().status, "PROCESSING_FAILED");
        let upload_host = fake.upload_origin.trim_start_matches("http://");
        let uploads = fake.requests().iter().filter(|r| r.header("host") == Some(upload_host)).count();
        assert_eq!(uploads, 5);
    }
}
