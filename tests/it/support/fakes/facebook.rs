//! A fake Graph API (developers.facebook.com/docs/graph-api) on loopback,
//! serving one Facebook Page and one Instagram professional account: the
//! endpoints Custodian calls, with Graph error bodies
//! (`{"error":{"message","type","code","error_subcode","fbtrace_id"}}`),
//! `X-Business-Use-Case-Usage` (keyed by the Page or IG user id, percent of
//! the 24-hour budget) and `X-App-Usage` on every answer, plus switches for
//! the failures a test needs.
//!
//! Modelled, under `/v23.0`: Page `POST /{page}/feed` (`message`, `link`),
//! `POST /{page}/photos` (multipart `source`, `caption`), `POST /{id}/comments`
//! (`message`), `GET /{id}/comments`, `POST /{comment}` (`is_hidden` or, for
//! Instagram, `hide`), `DELETE /{id}`, `GET /{page}/posts` and
//! `GET /{ig}/media` (newest first, `fields`, `limit`, cursor `after`);
//! Instagram `POST /{ig}/media`
//! (`image_url`, `caption`), `POST /{ig}/media_publish` (`creation_id`; 50
//! per 24 hours, then subcode 2207042), `POST /{comment}/replies`. Parameters
//! are read from the query and a form or multipart body alike; the token from
//! `Authorization: Bearer` or `access_token`.
//!
//! Also the login side (see [`login`]): Facebook Login (`/dialog/oauth`,
//! `/{v}/oauth/access_token` for the code and for `fb_exchange_token`,
//! `/{v}/me/accounts` with Page tokens) and Instagram Login
//! (`/oauth/authorize`, `POST /oauth/access_token`, `/{v}/access_token`
//! with `ig_exchange_token`, `/{v}/refresh_access_token`, `/{v}/me`).

use std::collections::HashMap;

use axum::response::Response;
use custodian::clock::{Clock, SystemClock};
use serde_json::{json, Value};

use super::Recorded;

/// The Page the fake serves (its posts are `{PAGE_ID}_{n}`).
pub const PAGE_ID: &str = "104729385761234";
pub const PAGE_NAME: &str = "Riverside Clinic";
/// The Instagram professional account connected to the Page.
pub const IG_USER_ID: &str = "17841405822304914";
pub const IG_USERNAME: &str = "riversideclinic";
/// The Graph version the fake serves.
pub const VERSION: &str = "v23.0";
/// Business Use Case budget per 24 hours (Pages: 4800 × engaged users; one here).
const BUC_CALLS: u32 = 4800;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Instagram: 50 published posts per rolling 24 hours.
const IG_PUBLISH_LIMIT: usize = 50;
/// Graph does not say how long a duplicate is remembered; the fake uses a day.
const DUPLICATE_MS: i64 = DAY_MS;

/// A running fake Graph API; the server stops when this is dropped.
pub struct GraphFake {
    /// `http://127.0.0.1:PORT/v23.0`: the adapters' base URL.
    pub base: String,
    controls: super::Controls<Fake>,
    _server: super::Server,
}

impl std::ops::Deref for GraphFake {
    type Target = super::Controls<Fake>;

    fn deref(&self) -> &super::Controls<Fake> {
        &self.controls
    }
}

impl GraphFake {
    /// Starts the server on 127.0.0.1:0 accepting `token` as the Page access token.
    pub async fn start(token: &str) -> GraphFake {
        let (controls, app) = super::Controls::serve(Fake::new(token));
        let server = super::Server::start(app).await;
        let base = format!("http://{}/{VERSION}", server.addr);
        GraphFake { base, controls, _server: server }
    }

    /// Someone else (`author`) comments on the post, media or comment `on`;
    /// returns the new comment's id. Panics when `on` is unknown.
    pub fn comment_from(&self, author: &str, on: &str, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let parent = fake.live(on).expect("comment_from: an existing object").clone();
        fake.add_comment(&parent, author, "5550001", text, now)
    }

    /// The Page posts `text` itself (in Meta's own tools, not through
    /// Custodian); returns the post's id.
    pub fn post_directly(&self, text: &str) -> String {
        self.object_directly(Kind::PagePost, text)
    }

    /// The Instagram account publishes a photo captioned `caption` in
    /// Instagram's own app; returns the media id.
    pub fn media_directly(&self, caption: &str) -> String {
        self.object_directly(Kind::Media, caption)
    }

    fn object_directly(&self, kind: Kind, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let number = fake.next_id();
        let (id, owner, name) = match kind {
            Kind::PagePost => (format!("{PAGE_ID}_{number}"), PAGE_ID, PAGE_NAME),
            _ => (number, IG_USER_ID, IG_USERNAME),
        };
        fake.objects.push(Object {
            id: id.clone(),
            kind,
            parent: None,
            owner,
            author_id: owner.to_owned(),
            author_name: name.to_owned(),
            text: text.to_owned(),
            image_url: (kind == Kind::Media).then(|| "https://cdn.example/photo.jpg".to_owned()),
            created: now,
            hidden: false,
            deleted: false,
        });
        id
    }

    /// Whether the comment is hidden now (`is_hidden` / `hidden`).
    pub fn is_hidden(&self, id: &str) -> bool {
        self.lock().objects.iter().any(|o| o.id == id && o.hidden)
    }

    /// Whether the object is gone (deleted or never there).
    pub fn is_deleted(&self, id: &str) -> bool {
        self.lock().live(id).is_none()
    }

    /// The image URL and caption of a published Instagram media object.
    pub fn media(&self, id: &str) -> Option<(String, String)> {
        let fake = self.lock();
        let media = fake.live(id).filter(|o| o.kind == Kind::Media)?;
        Some((media.image_url.clone().unwrap_or_default(), media.text.clone()))
    }

    /// The next answer carries the token the request came with, as a
    /// careless platform might hand it back (see [`Leak`]).
    pub fn leak_token_next(&self, how: Leak) {
        self.lock().leak_next = Some(how);
    }
}

impl super::Responder for Fake {
    /// Minutes, as `estimated_time_to_regain_access`.
    type RateLimit = u32;

    fn control(&mut self) -> &mut super::Control<u32> {
        &mut self.control
    }

    fn answer(&mut self, request: Recorded, now_ms: i64) -> Response {
        if let Some(response) = self.login(&request) {
            return response;
        }
        self.respond(request, now_ms).into_response()
    }
}

/// The Meta app Custodian is registered as.
pub const CLIENT_ID: &str = "1234567890123456";
pub const CLIENT_SECRET: &str = "fake-meta-app-secret";
/// Facebook Login's short-lived and long-lived user tokens.
const SHORT_USER_TOKEN: &str = "fb-short-lived-user-token";
const LONG_USER_TOKEN: &str = "fb-long-lived-user-token";
/// Instagram Login's one-hour token; the long-lived one is the fake's token.
const IG_SHORT_TOKEN: &str = "ig-short-lived-token";
/// Another Page the signed-in user manages.
pub const OTHER_PAGE_ID: &str = "998877665544332";
const SIXTY_DAYS_SECS: u64 = 5_184_000;

impl Fake {
    /// The OAuth side: consent, code exchange, long-lived tokens, the Pages
    /// the user manages. `None`: not a login path.
    fn login(&mut self, request: &Recorded) -> Option<Response> {
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        let params = params(request, query);
        let field = |k: &str| params.get(k).unwrap_or("").to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let versioned = segments.first().is_some_and(|v| v.starts_with('v') && v.ends_with(".0"));
        let rest = if versioned { &segments[1..] } else { &segments[..] };
        let token = Self::token_of(request, &params).map(str::to_owned);
        let refused = |message: &str| Reply::error(400, 190, None, "OAuthException", message).into_response();
        let reply = match (request.method.as_str(), versioned, rest) {
            ("GET", false, ["dialog", "oauth"]) | ("GET", false, ["oauth", "authorize"]) => {
                let mut back = url::Url::parse(&field("redirect_uri")).expect("redirect_uri");
                let code = if rest[0] == "dialog" { "fb-code" } else { "ig-code" };
                back.query_pairs_mut().append_pair("code", code).append_pair("state", &field("state"));
                super::response(302, None, Vec::new(), vec![("location", back.to_string())])
            }
            (_, _, ["oauth", "access_token"]) => {
                let (id, secret) = (field("client_id"), field("client_secret"));
                if id != CLIENT_ID || secret != CLIENT_SECRET {
                    return Some(Reply::error(400, 1, None, "OAuthException", "Error validating client secret.").into_response());
                }
                match (field("grant_type").as_str(), field("code").as_str()) {
                    ("fb_exchange_token", _) if field("fb_exchange_token") == SHORT_USER_TOKEN => Reply::ok(
                        json!({"access_token": LONG_USER_TOKEN, "token_type": "bearer", "expires_in": SIXTY_DAYS_SECS}),
                    )
                    .into_response(),
                    ("fb_exchange_token", _) => refused("Invalid OAuth access token - Cannot parse access token"),
                    ("authorization_code", "fb-code") if versioned => Reply::ok(
                        json!({"access_token": SHORT_USER_TOKEN, "token_type": "bearer", "expires_in": 5_183_944}),
                    )
                    .into_response(),
                    ("authorization_code", "ig-code") if !versioned => Reply::ok(json!({"data": [{
                        "access_token": IG_SHORT_TOKEN,
                        "user_id": IG_USER_ID,
                        "permissions": "instagram_business_basic,instagram_business_content_publish"
                    }]}))
                    .into_response(),
                    _ => Reply::error(400, 100, Some(36009), "OAuthException", "This authorization code has been used.")
                        .into_response(),
                }
            }
            ("GET", true, ["access_token"]) => match (field("grant_type").as_str(), token.as_deref()) {
                ("ig_exchange_token", Some(IG_SHORT_TOKEN)) if field("client_secret") == CLIENT_SECRET => {
                    Reply::ok(json!({"access_token": self.token, "token_type": "bearer", "expires_in": SIXTY_DAYS_SECS}))
                        .into_response()
                }
                _ => refused("Invalid OAuth access token - Cannot parse access token"),
            },
            ("GET", true, ["refresh_access_token"]) => match token {
                Some(t) if t == self.token && field("grant_type") == "ig_refresh_token" => {
                    Reply::ok(json!({"access_token": self.token, "token_type": "bearer", "expires_in": SIXTY_DAYS_SECS}))
                        .into_response()
                }
                _ => refused("Invalid OAuth access token - Cannot parse access token"),
            },
            ("GET", true, ["me", "accounts"]) => match token.as_deref() {
                Some(LONG_USER_TOKEN) => Reply::ok(json!({"data": [
                    {"id": PAGE_ID, "name": PAGE_NAME, "access_token": self.token, "category": "Medical & health",
                     "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]},
                    {"id": OTHER_PAGE_ID, "name": "Northside Pharmacy", "access_token": "other-page-token",
                     "category": "Pharmacy", "tasks": ["CREATE_CONTENT", "MODERATE"]}
                ], "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}}))
                .into_response(),
                _ => refused("Invalid OAuth access token - Cannot parse access token"),
            },
            ("GET", true, ["me"]) if token.as_deref() == Some(self.token.as_str()) => {
                Reply::ok(json!({"user_id": IG_USER_ID, "username": IG_USERNAME, "id": "7000000000000001"})).into_response()
            }
            _ => return None,
        };
        Some(reply)
    }
}

/// Where an answer carries the request's token.
#[derive(Clone, Copy, Debug)]
pub enum Leak {
    /// An `access_token` member, after 100 KB of other data (so that it
    /// arrives in a later chunk than the answer's start).
    Field,
    /// The paging `next` link, as Graph writes it when the token came in the query.
    NextLink,
    /// An `ETag` header.
    Header,
}

struct Reply {
    status: u16,
    body: Value,
    /// `X-Business-Use-Case-Usage` and `X-App-Usage`.
    usage: Option<(Value, Value)>,
    etag: Option<String>,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply { status: 200, body, usage: None, etag: None }
    }

    fn error(status: u16, code: i64, subcode: Option<i64>, kind: &str, message: &str) -> Reply {
        let mut error = json!({
            "message": message,
            "type": kind,
            "code": code,
            "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv"
        });
        if let Some(sub) = subcode {
            error["error_subcode"] = json!(sub);
        }
        Reply { status, body: json!({ "error": error }), usage: None, etag: None }
    }

    /// Code 100: an invalid parameter.
    fn invalid(message: &str) -> Reply {
        Reply::error(400, 100, None, "OAuthException", message)
    }

    /// Code 100, subcode 33: an id the token cannot see.
    fn unknown(method: &str, id: &str) -> Reply {
        let verb = method.to_ascii_lowercase();
        Reply::error(
            400,
            100,
            Some(33),
            "GraphMethodException",
            &format!(
                "Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to \
                 missing permissions, or does not support this operation. Please read the Graph API \
                 documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
    }

    fn success() -> Reply {
        Reply::ok(json!({ "success": true }))
    }

    fn into_response(self) -> Response {
        let mut headers = match self.usage {
            Some((buc, app)) => {
                vec![("x-business-use-case-usage", buc.to_string()), ("x-app-usage", app.to_string())]
            }
            None => Vec::new(),
        };
        headers.extend(self.etag.map(|e| ("etag", e)));
        super::response(
            self.status,
            Some("application/json; charset=UTF-8"),
            self.body.to_string().into_bytes(),
            headers,
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    PagePost,
    Comment,
    Container,
    Media,
}

#[derive(Clone, Debug)]
struct Object {
    id: String,
    kind: Kind,
    /// For comments: the post, media or comment it answers.
    parent: Option<String>,
    /// Whose: the Page, the IG user, or someone else.
    owner: &'static str,
    author_id: String,
    author_name: String,
    text: String,
    image_url: Option<String>,
    created: i64,
    hidden: bool,
    deleted: bool,
}

/// The platform's state, behind the lock; public only as the type its
/// `Controls` pull the switches on (its fields stay private).
pub struct Fake {
    token: String,
    control: super::Control<u32>,
    leak_next: Option<Leak>,
    objects: Vec<Object>,
    /// Calls per business object (Page or IG user) with their times, for usage.
    calls: HashMap<&'static str, Vec<i64>>,
    app_calls: Vec<i64>,
    last_id: u64,
}

/// Parameters from the query and a urlencoded or multipart body; files as bytes.
struct Params {
    values: HashMap<String, String>,
    files: HashMap<String, (Option<String>, Vec<u8>)>,
}

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

fn params(request: &Recorded, query: &str) -> Params {
    let mut values: HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let mut files = HashMap::new();
    let content_type = request.header("content-type").unwrap_or("").to_owned();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        values.extend(url::form_urlencoded::parse(&request.body).into_owned());
    } else if let Some(boundary) = content_type.split("boundary=").nth(1) {
        for (name, part_type, data, is_file) in multipart(&request.body, boundary.trim_matches('"')) {
            if is_file {
                files.insert(name, (part_type, data));
            } else {
                values.insert(name, String::from_utf8_lossy(&data).into_owned());
            }
        }
    }
    Params { values, files }
}

/// The parts of a multipart/form-data body: name, content type, data, and whether it is a file.
fn multipart(body: &[u8], boundary: &str) -> Vec<(String, Option<String>, Vec<u8>, bool)> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, &delimiter) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(end) = find(rest, &delimiter) else { break };
        let part = rest[..end].strip_prefix(b"\r\n").unwrap_or(&rest[..end]);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = find(part, b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&part[..split]).into_owned();
        let data = part[split + 4..].to_vec();
        let mut name = String::new();
        let mut is_file = false;
        let mut part_type = None;
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                is_file = lower.contains("filename=");
                if let Some(n) = line.split("name=\"").nth(1) {
                    name = n.split('"').next().unwrap_or("").to_owned();
                }
            } else if let Some(t) = lower.strip_prefix("content-type:") {
                part_type = Some(t.trim().to_owned());
            }
        }
        parts.push((name, part_type, data, is_file));
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `2024-05-01T10:00:00+0000`, as the Graph writes times.
fn graph_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a representable time")
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

fn percent(calls: usize) -> u64 {
    u64::try_from(calls).unwrap_or(u64::MAX).saturating_mul(100) / u64::from(BUC_CALLS)
}

impl Fake {
    fn new(token: &str) -> Fake {
        Fake {
            token: token.to_owned(),
            control: super::Control::default(),
            leak_next: None,
            objects: Vec::new(),
            calls: HashMap::new(),
            app_calls: Vec::new(),
            last_id: 17_900_000_000_000_000,
        }
    }

    fn next_id(&mut self) -> String {
        self.last_id += 1;
        self.last_id.to_string()
    }

    fn live(&self, id: &str) -> Option<&Object> {
        self.objects.iter().find(|o| o.id == id && !o.deleted)
    }

    fn add_comment(
        &mut self,
        parent: &Object,
        author_name: &str,
        author_id: &str,
        text: &str,
        now: i64,
    ) -> String {
        let number = self.next_id();
        // Page comment ids are `{post}_{comment}`; Instagram's are plain numbers.
        let id = match parent.owner {
            PAGE_ID => format!("{}_{number}", parent.id.rsplit('_').next().unwrap_or(&parent.id)),
            _ => number,
        };
        self.objects.push(Object {
            id: id.clone(),
            kind: Kind::Comment,
            parent: Some(parent.id.clone()),
            owner: parent.owner,
            author_id: author_id.to_owned(),
            author_name: author_name.to_owned(),
            text: text.to_owned(),
            image_url: None,
            created: now,
            hidden: false,
            deleted: false,
        });
        id
    }

    /// The usage headers: percent of the 24-hour budget for the business object.
    fn usage(&mut self, owner: &'static str, now: i64) -> (Value, u64, Value) {
        let calls = self.calls.entry(owner).or_default();
        calls.retain(|t| now - t < DAY_MS);
        calls.push(now);
        let used = percent(calls.len());
        self.app_calls.retain(|t| now - t < 60 * 60 * 1000);
        self.app_calls.push(now);
        let kind = if owner == PAGE_ID { "pages" } else { "instagram" };
        let buc = json!({ owner: [{
            "type": kind,
            "call_count": used.min(100),
            "total_cputime": (used / 2).min(100),
            "total_time": (used / 2).min(100),
            "estimated_time_to_regain_access": 0
        }]});
        // The app's hourly budget (200 calls per user per hour; one user here).
        let app_used = (self.app_calls.len() * 100 / 200).min(100);
        let app =
            json!({ "call_count": app_used, "total_cputime": app_used / 2, "total_time": app_used / 2 });
        (buc, used, app)
    }

    fn respond(&mut self, request: Recorded, now: i64) -> Reply {
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        let params = params(&request, query);
        let segments: Vec<String> = path.trim_matches('/').split('/').map(percent_decode).collect();
        let owner = match segments.get(1).map(String::as_str) {
            Some(IG_USER_ID) => IG_USER_ID,
            Some(id) => self.live(id).map_or(PAGE_ID, |o| o.owner),
            None => PAGE_ID,
        };
        // A refused call (5xx, throttled) changes nothing.
        let (mut usage, used, app) = self.usage(owner, now);
        // A test's switches: a 5xx is the Graph's code 2 (service) error; a
        // rate limit is code 32 (Page request limit) with usage at 100%.
        let mut reply = if let Some(status) = self.control.fail_next.take() {
            let mut reply = Reply::error(
                status,
                2,
                None,
                "OAuthException",
                "An unexpected error has occurred. Please retry your request later.",
            );
            reply.body["error"]["is_transient"] = json!(true);
            reply
        } else if let Some(minutes) = self.control.rate_limit_next.take() {
            usage[owner][0]["call_count"] = json!(100);
            usage[owner][0]["estimated_time_to_regain_access"] = json!(minutes);
            Reply::error(400, 32, None, "OAuthException", "(#32) Page request limit reached")
        } else if used > 100 {
            let code = if owner == PAGE_ID { 80001 } else { 80002 };
            usage[owner][0]["estimated_time_to_regain_access"] = json!(60);
            Reply::error(
                400,
                code,
                None,
                "OAuthException",
                "There have been too many calls to this account. Wait a bit and try again.",
            )
        } else {
            self.answer(&request, &params, &segments, now)
        };
        reply.usage = Some((usage, app));
        if let Some(how) = self.leak_next.take() {
            let token = Self::token_of(&request, &params).unwrap_or("").to_owned();
            match how {
                Leak::Field => {
                    reply.body["padding"] = json!("x".repeat(100 * 1024));
                    reply.body["access_token"] = json!(token);
                }
                Leak::NextLink => {
                    reply.body["paging"]["next"] =
                        json!(format!("https://graph.facebook.com{path}?access_token={token}&after=QVFJ"));
                }
                Leak::Header => reply.etag = Some(format!("\"{token}\"")),
            }
        }
        reply
    }

    fn token_of<'a>(request: &'a Recorded, params: &'a Params) -> Option<&'a str> {
        let bearer = request
            .header("authorization")
            .and_then(|v| v.get(..7).filter(|s| s.eq_ignore_ascii_case("bearer ")).map(|_| &v[7..]));
        bearer.or_else(|| params.get("access_token"))
    }

    fn answer(&mut self, request: &Recorded, params: &Params, segments: &[String], now: i64) -> Reply {
        let Some(version) = segments.first() else { return Reply::invalid("Unknown path components") };
        if !(version.starts_with('v') && version.ends_with(".0")) {
            return Reply::error(400, 2500, None, "OAuthException", "Unknown path components");
        }
        match Self::token_of(request, params) {
            None => {
                return Reply::error(400, 104, None, "OAuthException", "An access token is required to request this resource.")
            }
            Some(t) if t != self.token => {
                return Reply::error(400, 190, None, "OAuthException", "Invalid OAuth access token - Cannot parse access token")
            }
            Some(_) if self.control.expired => {
                return Reply::error(
                    400,
                    190,
                    Some(463),
                    "OAuthException",
                    "Error validating access token: Session has expired. The current time is later than the expiry time.",
                )
            }
            Some(_) => {}
        }
        let rest: Vec<&str> = segments[1..].iter().map(String::as_str).collect();
        match (request.method.as_str(), rest.as_slice()) {
            ("POST", [PAGE_ID, "feed"]) => self.page_post(params, None, now),
            ("POST", [PAGE_ID, "photos"]) => match params.files.get("source") {
                Some((kind, bytes))
                    if !bytes.is_empty() && kind.as_deref().is_some_and(|k| k.starts_with("image/")) =>
                {
                    let caption = params.get("caption").unwrap_or("").to_owned();
                    self.page_post(params, Some(caption), now)
                }
                _ => Reply::error(400, 324, None, "OAuthException", "(#324) Requires upload file"),
            },
            ("POST", [IG_USER_ID, "media"]) => self.container(params, now),
            ("POST", [IG_USER_ID, "media_publish"]) => self.publish_media(params, now),
            ("POST", [id, "comments"]) => self.comment(request, params, id, false, now),
            ("POST", [id, "replies"]) => self.comment(request, params, id, true, now),
            ("GET", [id, "comments"]) => self.list(request, params, id),
            ("GET", [PAGE_ID, "posts"]) => self.own(params, Kind::PagePost),
            ("GET", [IG_USER_ID, "media"]) => self.own(params, Kind::Media),
            ("POST", [id]) => self.moderate(request, params, id),
            ("DELETE", [id]) => self.delete(request, id),
            _ => Reply::error(400, 2500, None, "OAuthException", "Unknown path components"),
        }
    }

    fn page_post(&mut self, params: &Params, caption: Option<String>, now: i64) -> Reply {
        let photo = caption.is_some();
        let message = caption.unwrap_or_else(|| params.get("message").unwrap_or("").to_owned());
        let link = params.get("link").filter(|l| !l.is_empty());
        if !photo && message.trim().is_empty() && link.is_none() {
            return Reply::invalid("(#100) The parameter message or link is required");
        }
        if let Some(link) = link {
            if url::Url::parse(link).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                return Reply::invalid("(#100) link URL is not properly formatted");
            }
        }
        if let Some(message) = self.control.reject_next_body.take() {
            return Reply::invalid(&message);
        }
        let duplicate = !message.is_empty()
            && self.objects.iter().any(|o| {
                o.kind == Kind::PagePost && !o.deleted && o.text == message && now - o.created < DUPLICATE_MS
            });
        if duplicate {
            return Reply::error(400, 506, None, "OAuthException", "Duplicate status message");
        }
        let number = self.next_id();
        let id = format!("{PAGE_ID}_{number}");
        self.objects.push(Object {
            id: id.clone(),
            kind: Kind::PagePost,
            parent: None,
            owner: PAGE_ID,
            author_id: PAGE_ID.to_owned(),
            author_name: PAGE_NAME.to_owned(),
            text: message,
            image_url: link.map(str::to_owned),
            created: now,
            hidden: false,
            deleted: false,
        });
        if photo {
            let photo_id = self.next_id();
            Reply::ok(json!({ "id": photo_id, "post_id": id }))
        } else {
            Reply::ok(json!({ "id": id }))
        }
    }

    fn container(&mut self, params: &Params, now: i64) -> Reply {
        let Some(image_url) = params.get("image_url").filter(|u| !u.is_empty()) else {
            return Reply::invalid("(#100) The parameter image_url is required");
        };
        if url::Url::parse(image_url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
            return Reply::error(
                400,
                9004,
                Some(2207052),
                "OAuthException",
                "Only photo or video can be accepted as media type.",
            );
        }
        let caption = params.get("caption").unwrap_or("").to_owned();
        if caption.chars().count() > 2200 {
            return Reply::invalid("(#100) The caption is too long. Captions are at most 2200 characters.");
        }
        if let Some(message) = self.control.reject_next_body.take() {
            return Reply::invalid(&message);
        }
        let id = self.next_id();
        self.objects.push(Object {
            id: id.clone(),
            kind: Kind::Container,
            parent: None,
            owner: IG_USER_ID,
            author_id: IG_USER_ID.to_owned(),
            author_name: IG_USERNAME.to_owned(),
            text: caption,
            image_url: Some(image_url.to_owned()),
            created: now,
            hidden: false,
            deleted: false,
        });
        Reply::ok(json!({ "id": id }))
    }

    fn publish_media(&mut self, params: &Params, now: i64) -> Reply {
        let Some(creation_id) = params.get("creation_id") else {
            return Reply::invalid("(#100) The parameter creation_id is required");
        };
        let Some(index) =
            self.objects.iter().position(|o| o.id == creation_id && o.kind == Kind::Container && !o.deleted)
        else {
            return Reply::error(400, 100, Some(2207027), "OAuthException", "Media ID is not available");
        };
        let published =
            self.objects.iter().filter(|o| o.kind == Kind::Media && now - o.created < DAY_MS).count();
        if published >= IG_PUBLISH_LIMIT {
            return Reply::error(
                400,
                9,
                Some(2207042),
                "OAuthException",
                "Application request limit reached: the account has published the maximum number of posts in 24 hours",
            );
        }
        let container = self.objects.remove(index);
        let id = self.next_id();
        self.objects.push(Object { id: id.clone(), kind: Kind::Media, created: now, ..container });
        Reply::ok(json!({ "id": id }))
    }

    fn comment(&mut self, request: &Recorded, params: &Params, on: &str, replies: bool, now: i64) -> Reply {
        let Some(parent) = self.live(on).cloned() else { return Reply::unknown(&request.method, on) };
        // Instagram: comments on media, replies on comments; the Page: comments on both.
        let allowed = matches!(
            (parent.owner, parent.kind, replies),
            (PAGE_ID, Kind::PagePost | Kind::Comment, false)
                | (IG_USER_ID, Kind::Media, false)
                | (IG_USER_ID, Kind::Comment, true)
        );
        if !allowed || (parent.kind == Kind::Comment && parent.hidden && parent.owner == IG_USER_ID) {
            return Reply::unknown(&request.method, on);
        }
        let message = params.get("message").unwrap_or("").to_owned();
        if message.trim().is_empty() {
            return Reply::invalid("(#100) The parameter message is required");
        }
        if let Some(message) = self.control.reject_next_body.take() {
            return Reply::invalid(&message);
        }
        // Instagram adds a reply to a reply to the top-level comment.
        let parent = match (&parent.parent, parent.owner) {
            (Some(top), IG_USER_ID) if replies && self.live(top).is_some_and(|t| t.kind == Kind::Comment) => {
                self.live(top).cloned().unwrap_or(parent)
            }
            _ => parent,
        };
        let (name, author) =
            if parent.owner == PAGE_ID { (PAGE_NAME, PAGE_ID) } else { (IG_USERNAME, IG_USER_ID) };
        let id = self.add_comment(&parent, name, author, &message, now);
        Reply::ok(json!({ "id": id }))
    }

    fn list(&self, request: &Recorded, params: &Params, on: &str) -> Reply {
        let Some(parent) = self.live(on) else { return Reply::unknown(&request.method, on) };
        if parent.kind == Kind::Container {
            return Reply::unknown(&request.method, on);
        }
        let fields: Vec<&str> =
            params.get("fields").map(|f| f.split(',').map(str::trim).collect()).unwrap_or_default();
        let instagram = parent.owner == IG_USER_ID;
        let data: Vec<Value> = self
            .objects
            .iter()
            .filter(|o| !o.deleted && o.kind == Kind::Comment && o.parent.as_deref() == Some(on))
            .map(|c| {
                let mut object = serde_json::Map::new();
                object.insert("id".into(), json!(c.id));
                if instagram {
                    // IG Comment defaults: id, text, timestamp.
                    object.insert("text".into(), json!(c.text));
                    object.insert("timestamp".into(), json!(graph_time(c.created)));
                    for field in &fields {
                        match *field {
                            "username" => object.insert("username".into(), json!(c.author_name)),
                            "hidden" => object.insert("hidden".into(), json!(c.hidden)),
                            "from" => object
                                .insert("from".into(), json!({"id": c.author_id, "username": c.author_name})),
                            _ => None,
                        };
                    }
                } else {
                    // Page Comment defaults: id, message, created_time.
                    object.insert("message".into(), json!(c.text));
                    object.insert("created_time".into(), json!(graph_time(c.created)));
                    for field in &fields {
                        match *field {
                            "from" => object
                                .insert("from".into(), json!({"name": c.author_name, "id": c.author_id})),
                            "is_hidden" => object.insert("is_hidden".into(), json!(c.hidden)),
                            _ => None,
                        };
                    }
                }
                Value::Object(object)
            })
            .collect();
        Reply::ok(json!({ "data": data, "paging": { "cursors": { "before": "QVFI", "after": "QVFI" } } }))
    }

    /// The Page's posts or the IG account's media, newest first, with the
    /// fields asked for (defaults: a Page post's `id`, `message`,
    /// `created_time`; a media object's `id`); cursor-paged by `after`.
    fn own(&self, params: &Params, kind: Kind) -> Reply {
        let limit = match params.get("limit").map(str::parse::<usize>) {
            None => 25,
            Some(Ok(n)) if n >= 1 => n.min(100),
            Some(_) => return Reply::invalid("(#100) The parameter limit is invalid"),
        };
        let fields: Vec<&str> =
            params.get("fields").map(|f| f.split(',').map(str::trim).collect()).unwrap_or_default();
        let mut all = self.objects.iter().rev().filter(|o| o.kind == kind && !o.deleted);
        if let Some(after) = params.get("after") {
            if all.by_ref().position(|o| o.id == after).is_none() {
                return Reply::invalid("(#100) The after cursor is invalid");
            }
        }
        let rest: Vec<&Object> = all.collect();
        let page = &rest[..rest.len().min(limit)];
        let data: Vec<Value> = page
            .iter()
            .map(|o| {
                let mut object = serde_json::Map::new();
                object.insert("id".into(), json!(o.id));
                let field = |name: &str| fields.is_empty() || fields.contains(&name);
                if kind == Kind::PagePost {
                    if field("message") && !o.text.is_empty() {
                        object.insert("message".into(), json!(o.text));
                    }
                    if field("created_time") {
                        object.insert("created_time".into(), json!(graph_time(o.created)));
                    }
                    if fields.contains(&"permalink_url") {
                        object.insert(
                            "permalink_url".into(),
                            json!(format!("https://www.facebook.com/{}", o.id)),
                        );
                    }
                } else {
                    for name in &fields {
                        match *name {
                            "caption" => object.insert("caption".into(), json!(o.text)),
                            "timestamp" => object.insert("timestamp".into(), json!(graph_time(o.created))),
                            "permalink" => object.insert(
                                "permalink".into(),
                                json!(format!("https://www.instagram.com/p/{}/", o.id)),
                            ),
                            _ => None,
                        };
                    }
                }
                Value::Object(object)
            })
            .collect();
        let mut paging = json!({});
        if let (Some(first), Some(last)) = (page.first(), page.last()) {
            paging["cursors"] = json!({ "before": first.id, "after": last.id });
        }
        if rest.len() > page.len() {
            if let Some(last) = page.last() {
                paging["next"] =
                    json!(format!("https://graph.facebook.com/{VERSION}/posts?after={}", last.id));
            }
        }
        Reply::ok(json!({ "data": data, "paging": paging }))
    }

    fn moderate(&mut self, request: &Recorded, params: &Params, id: &str) -> Reply {
        let Some(comment) = self.live(id).cloned() else { return Reply::unknown(&request.method, id) };
        let field = if comment.owner == IG_USER_ID { "hide" } else { "is_hidden" };
        if comment.kind != Kind::Comment {
            return Reply::unknown(&request.method, id);
        }
        let hidden = match params.get(field) {
            Some("true") => true,
            Some("false") => false,
            _ => return Reply::invalid(&format!("(#100) The parameter {field} is required")),
        };
        // The account cannot hide its own comments.
        if comment.author_id == PAGE_ID || comment.author_id == IG_USER_ID {
            return Reply::error(
                400,
                10,
                None,
                "OAuthException",
                "(#10) Permission denied: cannot hide your own comment",
            );
        }
        if let Some(c) = self.objects.iter_mut().find(|o| o.id == id) {
            c.hidden = hidden;
        }
        Reply::success()
    }

    fn delete(&mut self, request: &Recorded, id: &str) -> Reply {
        let Some(index) = self.objects.iter().position(|o| o.id == id && !o.deleted) else {
            return Reply::unknown(&request.method, id);
        };
        match self.objects[index].kind {
            // The API cannot delete Instagram media.
            Kind::Media | Kind::Container => return Reply::unknown(&request.method, id),
            Kind::PagePost | Kind::Comment => {}
        }
        self.objects[index].deleted = true;
        Reply::success()
    }
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
