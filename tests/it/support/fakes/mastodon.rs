//! A fake Mastodon server (docs.joinmastodon.org) on loopback: the few REST
//! methods Custodian calls, with Mastodon's status codes, error bodies
//! (`{"error": "..."}`) and `X-RateLimit-*` headers, plus switches for the
//! failures a test needs (expired token, rate limit, validation error, a
//! proxy's 5xx).
//!
//! Modelled: `POST /api/v1/statuses`, `DELETE /api/v1/statuses/:id`,
//! `GET /api/v1/statuses/:id/context`, `POST /api/v2/media`,
//! `GET /api/v1/accounts/:id/statuses` (newest first, `limit` up to 40,
//! `max_id`, `exclude_replies`, `exclude_reblogs`; no reblogs are modelled),
//! `GET /api/v1/accounts/verify_credentials`, and the OAuth 2.0 server
//! (Doorkeeper): `GET /oauth/authorize` (the user consents at once, or
//! denies when told to), `POST /oauth/token` (authorization code with PKCE
//! S256) and `POST /oauth/revoke`. Anything else is a 404.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use custodian::clock::{Clock, SystemClock};
use serde_json::{json, Value};

use super::{iso8601, Recorded};

const ACCOUNT_ID: &str = "109000000000000001";
const USERNAME: &str = "clinic";
const WEB: &str = "https://fake.mastodon.test";
/// `* /api/*`: 300 requests per 5 minutes (api/rate-limits).
const LIMIT: u32 = 300;
const WINDOW_MS: i64 = 5 * 60 * 1000;
/// `DELETE /api/v1/statuses/:id`: 30 per 30 minutes (api/rate-limits).
const DELETE_LIMIT: u32 = 30;
const DELETE_WINDOW_MS: i64 = 30 * 60 * 1000;
/// Idempotency keys are stored for up to 1 hour (methods/statuses).
const IDEMPOTENCY_MS: i64 = 60 * 60 * 1000;
/// The default `max_characters` of a Mastodon instance.
const MAX_CHARACTERS: usize = 500;
const MAX_MEDIA: usize = 4;
/// The app registered at the fake instance (Preferences > Development).
pub const CLIENT_ID: &str = "fake-mastodon-client-id";
pub const CLIENT_SECRET: &str = "fake-mastodon-client-secret";
/// Doorkeeper's `invalid_grant` description.
const INVALID_GRANT: &str =
    "The provided authorization grant is invalid, expired, revoked, does not match the \
     redirection URI used in the authorization request, or was issued to another client.";
const INVALID_TOKEN: &str = "The access token is invalid";
const REVOKED_TOKEN: &str = "The access token was revoked";
const NOT_FOUND: &str = "Record not found";
const INVALID_FILE: &str = "Validation failed: File content type is invalid, File is invalid";

/// A running fake Mastodon; the server stops when this is dropped.
pub struct MastodonFake {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    controls: super::Controls<Fake>,
    _server: super::Server,
}

impl std::ops::Deref for MastodonFake {
    type Target = super::Controls<Fake>;

    fn deref(&self) -> &super::Controls<Fake> {
        &self.controls
    }
}

impl MastodonFake {
    /// Starts the server on 127.0.0.1:0 accepting `token` as the one valid bearer token.
    pub async fn start(token: &str) -> MastodonFake {
        Self::start_with(token, None).await
    }

    /// Like [`MastodonFake::start`], running `witness` as each request arrives.
    pub async fn start_witnessed(token: &str, witness: super::Witness) -> MastodonFake {
        Self::start_with(token, Some(witness)).await
    }

    async fn start_with(token: &str, witness: Option<super::Witness>) -> MastodonFake {
        let (controls, mut app) = super::Controls::serve(Fake::new(token));
        if let Some(witness) = witness {
            app = super::witnessed(app, witness);
        }
        let server = super::Server::start(app).await;
        let base = format!("http://{}", server.addr);
        MastodonFake { base, controls, _server: server }
    }

    /// The next `GET /oauth/authorize` is denied by the user (`error=access_denied`).
    pub fn deny_next_consent(&self) {
        self.lock().deny_next_consent = true;
    }

    /// Whether the access token was revoked (`POST /oauth/revoke`).
    pub fn token_revoked(&self) -> bool {
        self.lock().control.expired
    }

    /// The account posts `text` itself, at the instance (as from Mastodon's
    /// own app, not through Custodian); returns the status id.
    pub fn post_directly(&self, text: &str) -> String {
        self.add(None, None, text)
    }

    /// Another account (`acct`) replies to the status `in_reply_to`, as
    /// followers do; returns the reply's id. Panics when the status is unknown.
    pub fn reply_from(&self, acct: &str, in_reply_to: &str, text: &str) -> String {
        assert!(self.lock().live(in_reply_to).is_some(), "reply_from: an existing status");
        self.add(Some(acct), Some(in_reply_to), text)
    }

    fn add(&self, author: Option<&str>, in_reply_to: Option<&str>, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let id = fake.next_id(now);
        fake.posts.push(Post {
            id: id.clone(),
            author: author.map(str::to_owned),
            created_at: now,
            text: text.to_owned(),
            spoiler_text: String::new(),
            visibility: "public".into(),
            sensitive: false,
            language: Some("en".into()),
            in_reply_to_id: in_reply_to.map(str::to_owned),
            media: Vec::new(),
            deleted: false,
        });
        id
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
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    fn error(status: u16, error: &str) -> Reply {
        Reply::json(status, &json!({ "error": error }))
    }

    /// Adds the `X-RateLimit-*` headers unless a limit closer to being exceeded
    /// already set them ("the headers return information about the one you are
    /// closest to exceeding").
    fn rate_headers(mut self, limit: u32, remaining: u32, reset_ms: i64) -> Reply {
        let set = self.headers.iter().find(|(n, _)| *n == "x-ratelimit-remaining");
        if set.is_some_and(|(_, v)| v.parse::<u32>().is_ok_and(|closer| closer <= remaining)) {
            return self;
        }
        self.headers.retain(|(n, _)| !n.starts_with("x-ratelimit-"));
        self.headers.push(("x-ratelimit-limit", limit.to_string()));
        self.headers.push(("x-ratelimit-remaining", remaining.to_string()));
        self.headers.push(("x-ratelimit-reset", iso8601(reset_ms)));
        self
    }

    fn into_response(self) -> Response {
        super::response(self.status, Some(self.content_type), self.body, self.headers)
    }
}

#[derive(Clone, Copy)]
struct Window {
    started: i64,
    count: u32,
}

impl Window {
    /// Counts one request in the window `period` long (starting a new one when due);
    /// `Err(reset)` when `limit` requests were already made, else `Ok((remaining, reset))`.
    fn hit(slot: &mut Option<Window>, now: i64, period: i64, limit: u32) -> Result<(u32, i64), i64> {
        let window = match slot {
            Some(w) if now < w.started + period => w,
            _ => slot.insert(Window { started: now, count: 0 }),
        };
        let reset = window.started + period;
        if window.count >= limit {
            return Err(reset);
        }
        window.count += 1;
        Ok((limit - window.count, reset))
    }
}

#[derive(Clone)]
struct Media {
    id: String,
    extension: &'static str,
    description: Option<String>,
    attached: bool,
}

#[derive(Clone)]
struct Post {
    id: String,
    /// Another account's `acct`; None: the authenticated account's own.
    author: Option<String>,
    created_at: i64,
    text: String,
    spoiler_text: String,
    visibility: String,
    sensitive: bool,
    language: Option<String>,
    in_reply_to_id: Option<String>,
    media: Vec<Media>,
    deleted: bool,
}

enum Token {
    Missing,
    Invalid,
    Revoked,
    Valid,
}

/// The platform's state, behind the lock; public only as the type its
/// `Controls` pull the switches on (its fields stay private).
pub struct Fake {
    token: String,
    /// Its `expired` is the token revoked: Mastodon tokens do not expire.
    control: super::Control<Duration>,
    general: Option<Window>,
    deletes: Option<Window>,
    posts: Vec<Post>,
    media: HashMap<String, Media>,
    idempotency: HashMap<String, (String, i64)>,
    last_id: u64,
    deny_next_consent: bool,
    /// Codes issued by `/oauth/authorize` and not yet exchanged.
    codes: HashMap<String, Authorization>,
}

/// What the user consented to, kept with the code.
struct Authorization {
    client_id: String,
    redirect_uri: String,
    scope: String,
    challenge: Option<String>,
}

/// The parameters of `POST /api/v1/statuses`.
#[derive(Default)]
struct NewStatus {
    status: Option<String>,
    visibility: Option<String>,
    in_reply_to_id: Option<String>,
    media_ids: Vec<String>,
    spoiler_text: Option<String>,
    language: Option<String>,
    sensitive: bool,
}

impl NewStatus {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "status" => self.status = Some(value),
            "visibility" => self.visibility = Some(value),
            "in_reply_to_id" => self.in_reply_to_id = Some(value),
            "media_ids[]" | "media_ids" => self.media_ids.push(value),
            "spoiler_text" => self.spoiler_text = Some(value),
            "language" => self.language = Some(value),
            "sensitive" => self.sensitive = matches!(value.as_str(), "true" | "1" | "on"),
            _ => {}
        }
    }
}

impl Fake {
    fn new(token: &str) -> Fake {
        Fake {
            token: token.to_owned(),
            control: super::Control::default(),
            general: None,
            deletes: None,
            posts: Vec::new(),
            media: HashMap::new(),
            idempotency: HashMap::new(),
            last_id: 0,
            deny_next_consent: false,
            codes: HashMap::new(),
        }
    }

    fn respond(&mut self, request: Recorded, now: i64) -> Reply {
        if let Some(status) = self.control.fail_next.take() {
            return proxy_error(status);
        }
        if let Some(reset) = self.control.rate_limit_reset(now) {
            return Reply::error(429, "Too many requests").rate_headers(LIMIT, 0, reset);
        }
        let (remaining, reset) = match Window::hit(&mut self.general, now, WINDOW_MS, LIMIT) {
            Ok(hit) => hit,
            Err(reset) => return Reply::error(429, "Too many requests").rate_headers(LIMIT, 0, reset),
        };
        self.route(&request, now).rate_headers(LIMIT, remaining, reset)
    }

    fn route(&mut self, request: &Recorded, now: i64) -> Reply {
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let token = self.token(request);
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["oauth", "revoke"]) => self.revoke(request),
            ("GET", ["oauth", "authorize"]) => self.authorize(query),
            ("POST", ["oauth", "token"]) => self.exchange(request),
            ("POST", ["api", "v1", "statuses"]) => match token {
                Token::Valid => self.create_status(request, query, now),
                other => unauthorized(&other),
            },
            ("DELETE", ["api", "v1", "statuses", id]) => match token {
                Token::Valid => self.delete_status(id, now),
                other => unauthorized(&other),
            },
            // Public statuses need no token; a token that is sent must be valid.
            ("GET", ["api", "v1", "statuses", id, "context"]) => match token {
                Token::Valid => self.context(id, true),
                Token::Missing => self.context(id, false),
                other => unauthorized(&other),
            },
            ("POST", ["api", "v2", "media"]) => match token {
                Token::Valid => self.upload(request),
                other => unauthorized(&other),
            },
            ("GET", ["api", "v1", "accounts", id, "statuses"]) if *id != "verify_credentials" => {
                match token {
                    Token::Valid | Token::Missing => self.account_statuses(id, query),
                    other => unauthorized(&other),
                }
            }
            ("GET", ["api", "v1", "accounts", "verify_credentials"]) => match token {
                Token::Valid => Reply::json(200, &self.credential_account()),
                other => unauthorized(&other),
            },
            _ => Reply::error(404, NOT_FOUND),
        }
    }

    fn token(&self, request: &Recorded) -> Token {
        let Some(value) = request.header("authorization") else { return Token::Missing };
        let presented = value.get(..7).filter(|s| s.eq_ignore_ascii_case("bearer ")).map(|_| &value[7..]);
        match presented {
            Some(t) if t == self.token && self.control.expired => Token::Revoked,
            Some(t) if t == self.token => Token::Valid,
            _ => Token::Invalid,
        }
    }

    fn next_id(&mut self, now: i64) -> String {
        // Like Mastodon's snowflake ids: milliseconds << 16, then a sequence.
        let millis = u64::try_from(now).expect("a time after 1970");
        self.last_id = (millis << 16).max(self.last_id + 1);
        self.last_id.to_string()
    }

    fn create_status(&mut self, request: &Recorded, query: &str, now: i64) -> Reply {
        if let Some(error) = self.control.reject_next_body.take() {
            return Reply::error(422, &error);
        }
        let mut params = NewStatus::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            params.set(&k, v.into_owned());
        }
        let content_type = request.header("content-type").unwrap_or("").to_ascii_lowercase();
        if content_type.starts_with("application/json") {
            let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) else {
                return Reply::error(400, "Bad Request");
            };
            for (k, v) in body {
                match v {
                    Value::String(s) => params.set(&k, s),
                    Value::Number(n) => params.set(&k, n.to_string()),
                    Value::Bool(b) => params.set(&k, b.to_string()),
                    Value::Array(items) => {
                        for item in items {
                            match item {
                                Value::String(s) => params.set(&k, s),
                                Value::Number(n) => params.set(&k, n.to_string()),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            for (k, v) in url::form_urlencoded::parse(&request.body) {
                params.set(&k, v.into_owned());
            }
        } else if content_type.starts_with("multipart/form-data") {
            for part in multipart(&content_type_raw(request), &request.body) {
                if part.filename.is_none() {
                    params.set(&part.name, String::from_utf8_lossy(&part.data).into_owned());
                }
            }
        }

        // The controller looks up the thread first.
        let in_reply_to = params.in_reply_to_id.filter(|id| !id.is_empty());
        if let Some(parent) = &in_reply_to {
            if self.live(parent).is_none() {
                return Reply::error(404, "The post you are trying to reply to does not appear to exist.");
            }
        }
        let key = request.header("idempotency-key").filter(|k| !k.is_empty()).map(str::to_owned);
        if let Some(key) = &key {
            if let Some((id, at)) = self.idempotency.get(key) {
                if now - at < IDEMPOTENCY_MS {
                    return match self.live(id) {
                        Some(post) => Reply::json(200, &self.status_json(post, false)),
                        None => Reply::error(404, NOT_FOUND),
                    };
                }
            }
        }
        if params.media_ids.len() > MAX_MEDIA {
            return Reply::error(422, &format!("Cannot attach more than {MAX_MEDIA} files"));
        }
        let missing: Vec<&str> = params
            .media_ids
            .iter()
            .filter(|id| self.media.get(*id).is_none_or(|m| m.attached))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Reply::error(
                422,
                &format!("Media {} not found or already attached to another post", missing.join(", ")),
            );
        }
        let text = params.status.unwrap_or_default();
        let spoiler_text = params.spoiler_text.unwrap_or_default();
        let visibility = params.visibility.filter(|v| !v.is_empty()).unwrap_or_else(|| "public".to_owned());
        if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
            return Reply::error(422, "Validation failed: Visibility is not included in the list");
        }
        if text.trim().is_empty() && params.media_ids.is_empty() {
            return Reply::error(422, "Validation failed: Text can't be blank");
        }
        // Mastodon counts the content warning together with the text.
        if spoiler_text.chars().count() + text.chars().count() > MAX_CHARACTERS {
            return Reply::error(
                422,
                &format!("Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"),
            );
        }
        let mut media = Vec::new();
        for id in &params.media_ids {
            let m = self.media.get_mut(id).expect("checked above");
            m.attached = true;
            media.push(m.clone());
        }
        let post = Post {
            id: self.next_id(now),
            author: None,
            created_at: now,
            text,
            spoiler_text,
            visibility,
            sensitive: params.sensitive,
            language: params.language.filter(|l| !l.is_empty()),
            in_reply_to_id: in_reply_to,
            media,
            deleted: false,
        };
        if let Some(key) = key {
            self.idempotency.insert(key, (post.id.clone(), now));
        }
        let reply = Reply::json(200, &self.status_json(&post, false));
        self.posts.push(post);
        reply
    }

    fn delete_status(&mut self, id: &str, now: i64) -> Reply {
        let (remaining, reset) = match Window::hit(&mut self.deletes, now, DELETE_WINDOW_MS, DELETE_LIMIT) {
            Ok(hit) => hit,
            Err(reset) => {
                return Reply::error(429, "Too many requests").rate_headers(DELETE_LIMIT, 0, reset);
            }
        };
        // An account deletes only its own statuses; another's is "not found" to it.
        let reply = match self.posts.iter().position(|p| p.id == id && !p.deleted && p.author.is_none()) {
            Some(index) => {
                self.posts[index].deleted = true;
                Reply::json(200, &self.status_json(&self.posts[index], true))
            }
            None => Reply::error(404, NOT_FOUND),
        };
        reply.rate_headers(DELETE_LIMIT, remaining, reset)
    }

    fn context(&self, id: &str, authenticated: bool) -> Reply {
        let visible = |p: &Post| authenticated || matches!(p.visibility.as_str(), "public" | "unlisted");
        let Some(post) = self.live(id).filter(|p| visible(p)) else {
            return Reply::error(404, NOT_FOUND);
        };
        let mut ancestors = Vec::new();
        let mut parent = post.in_reply_to_id.as_deref().and_then(|id| self.live(id));
        while let Some(p) = parent {
            ancestors.push(p);
            parent = p.in_reply_to_id.as_deref().and_then(|id| self.live(id));
        }
        ancestors.reverse();
        // Depth first, oldest reply first: thread order.
        let mut descendants = Vec::new();
        let mut stack = vec![post.id.as_str()];
        while let Some(current) = stack.pop() {
            let children: Vec<&Post> = self
                .posts
                .iter()
                .filter(|p| !p.deleted && p.in_reply_to_id.as_deref() == Some(current))
                .collect();
            for child in children.iter().rev() {
                stack.push(child.id.as_str());
            }
            if current != post.id {
                descendants.extend(self.live(current));
            }
        }
        let render = |posts: Vec<&Post>| -> Vec<Value> {
            posts.into_iter().filter(|p| visible(p)).map(|p| self.status_json(p, false)).collect()
        };
        Reply::json(200, &json!({ "ancestors": render(ancestors), "descendants": render(descendants) }))
    }

    /// An account's statuses, newest first: only the authenticated
    /// account's own are modelled (another's id is unknown here).
    fn account_statuses(&self, id: &str, query: &str) -> Reply {
        if id != ACCOUNT_ID {
            return Reply::error(404, NOT_FOUND);
        }
        let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
            None => 20,
            Some(Ok(l)) => l.clamp(1, 40),
            Some(Err(_)) => return Reply::error(400, "limit is invalid"),
        };
        let max_id = q.get("max_id").and_then(|m| m.parse::<u64>().ok());
        let no_replies = q.get("exclude_replies").is_some_and(|v| v == "true");
        let statuses: Vec<Value> = self
            .posts
            .iter()
            .rev()
            .filter(|p| !p.deleted && p.author.is_none() && p.visibility != "direct")
            .filter(|p| !(no_replies && p.in_reply_to_id.is_some()))
            .filter(|p| max_id.is_none_or(|m| p.id.parse::<u64>().is_ok_and(|id| id < m)))
            .take(limit)
            .map(|p| self.status_json(p, false))
            .collect();
        Reply::json(200, &Value::Array(statuses))
    }

    fn upload(&mut self, request: &Recorded) -> Reply {
        let parts = multipart(&content_type_raw(request), &request.body);
        let Some(file) = parts.iter().find(|p| p.name == "file" && p.filename.is_some()) else {
            return Reply::error(422, INVALID_FILE);
        };
        // Mastodon checks the declared type and what the bytes actually are.
        let declared = file.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
        let extension = match (declared.as_str(), sniff(&file.data)) {
            ("image/png", Some("image/png")) => "png",
            ("image/jpeg", Some("image/jpeg")) => "jpeg",
            ("image/gif", Some("image/gif")) => "gif",
            ("image/webp", Some("image/webp")) => "webp",
            _ => return Reply::error(422, INVALID_FILE),
        };
        let description = parts
            .iter()
            .find(|p| p.name == "description" && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).into_owned());
        let now = SystemClock.now().millis();
        let media = Media { id: self.next_id(now), extension, description, attached: false };
        self.media.insert(media.id.clone(), media.clone());
        // Since 4.0 images are processed synchronously: 200 with the full url.
        Reply::json(200, &media_json(&media))
    }

    /// The user signs in and consents at once; the browser is sent back with a code.
    fn authorize(&mut self, query: &str) -> Reply {
        let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let field = |k: &str| q.get(k).cloned().unwrap_or_default();
        if field("client_id") != CLIENT_ID || field("response_type") != "code" {
            return Reply::json(400, &json!({"error": "invalid_client"}));
        }
        let challenge = match (q.get("code_challenge"), q.get("code_challenge_method").map(String::as_str)) {
            (Some(c), Some("S256")) => Some(c.clone()),
            (None, None) => None,
            _ => return Reply::json(400, &json!({"error": "invalid_request"})),
        };
        let mut back = url::Url::parse(&field("redirect_uri")).expect("the redirect_uri is a URL");
        if std::mem::take(&mut self.deny_next_consent) {
            back.query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair(
                    "error_description",
                    "The resource owner or authorization server denied the request.",
                )
                .append_pair("state", &field("state"));
        } else {
            let code = format!("code-{}", uuid::Uuid::new_v4().simple());
            let grant = Authorization {
                client_id: field("client_id"),
                redirect_uri: field("redirect_uri"),
                scope: field("scope"),
                challenge,
            };
            self.codes.insert(code.clone(), grant);
            back.query_pairs_mut().append_pair("code", &code).append_pair("state", &field("state"));
        }
        let mut reply = Reply::json(302, &json!({}));
        reply.headers.push(("location", back.to_string()));
        reply
    }

    /// `grant_type=authorization_code`: the client (form or HTTP Basic), the
    /// code (single use), its redirect URI and the PKCE verifier must match.
    fn exchange(&mut self, request: &Recorded) -> Reply {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body).into_owned().collect();
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        let (client_id, client_secret) = super::client_credentials(request, &form);
        if client_id != CLIENT_ID || client_secret != CLIENT_SECRET {
            return Reply::json(
                401,
                &json!({"error": "invalid_client", "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."}),
            );
        }
        if field("grant_type") != "authorization_code" {
            return Reply::json(400, &json!({"error": "unsupported_grant_type"}));
        }
        let invalid_grant =
            || Reply::json(400, &json!({"error": "invalid_grant", "error_description": INVALID_GRANT}));
        let Some(grant) = self.codes.remove(&field("code")) else { return invalid_grant() };
        let verified =
            grant.challenge.as_deref().is_none_or(|c| super::pkce_matches(&field("code_verifier"), c));
        if !verified || grant.client_id != client_id || grant.redirect_uri != field("redirect_uri") {
            return invalid_grant();
        }
        self.control.expired = false;
        Reply::json(
            200,
            &json!({"access_token": self.token, "token_type": "Bearer", "scope": grant.scope, "created_at": 1_700_000_000}),
        )
    }

    fn revoke(&mut self, request: &Recorded) -> Reply {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body).into_owned().collect();
        let present = |k: &str| form.get(k).is_some_and(|v| !v.is_empty());
        if !(present("client_id") && present("client_secret") && present("token")) {
            return Reply::json(
                403,
                &json!({
                    "error": "unauthorized_client",
                    "error_description": "You are not authorized to revoke this token"
                }),
            );
        }
        if form.get("token") == Some(&self.token) {
            self.control.expired = true;
        }
        Reply::json(200, &json!({}))
    }

    fn live(&self, id: &str) -> Option<&Post> {
        self.posts.iter().find(|p| p.id == id && !p.deleted)
    }

    fn account(&self) -> Value {
        let live: Vec<&Post> = self.posts.iter().filter(|p| !p.deleted).collect();
        let last = live.last().map(|p| iso8601(p.created_at)[..10].to_owned());
        json!({
            "id": ACCOUNT_ID,
            "username": USERNAME,
            "acct": USERNAME,
            "display_name": "Clinic",
            "locked": false,
            "bot": false,
            "discoverable": true,
            "group": false,
            "created_at": "2022-11-01T00:00:00.000Z",
            "note": "",
            "url": format!("{WEB}/@{USERNAME}"),
            "uri": format!("{WEB}/users/{USERNAME}"),
            "avatar": format!("{WEB}/avatars/original/missing.png"),
            "avatar_static": format!("{WEB}/avatars/original/missing.png"),
            "header": format!("{WEB}/headers/original/missing.png"),
            "header_static": format!("{WEB}/headers/original/missing.png"),
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": live.len(),
            "last_status_at": last,
            "emojis": [],
            "fields": []
        })
    }

    fn credential_account(&self) -> Value {
        let mut account = self.account();
        account["source"] = json!({
            "privacy": "public",
            "sensitive": false,
            "language": "",
            "note": "",
            "fields": [],
            "follow_requests_count": 0
        });
        account["role"] =
            json!({ "id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": false });
        account
    }

    /// The Status entity; `deleted` adds the source `text` as `DELETE` returns it.
    fn status_json(&self, post: &Post, deleted: bool) -> Value {
        let replies = self.posts.iter().filter(|p| !p.deleted && p.in_reply_to_id.as_ref() == Some(&post.id));
        let (username, account) = match &post.author {
            None => (USERNAME, self.account()),
            Some(acct) => (acct.as_str(), other_account(acct)),
        };
        let in_reply_to_account = post
            .in_reply_to_id
            .as_deref()
            .and_then(|id| self.posts.iter().find(|p| p.id == id))
            .map(|parent| if parent.author.is_none() { ACCOUNT_ID.to_owned() } else { other_id(parent) });
        let mut status = json!({
            "id": post.id,
            "uri": format!("{WEB}/users/{username}/statuses/{}", post.id),
            "url": format!("{WEB}/@{username}/{}", post.id),
            "created_at": iso8601(post.created_at),
            "edited_at": null,
            "account": account,
            "content": html(&post.text),
            "visibility": post.visibility,
            "sensitive": post.sensitive,
            "spoiler_text": post.spoiler_text,
            "media_attachments": post.media.iter().map(media_json).collect::<Vec<_>>(),
            "application": null,
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": replies.count(),
            "in_reply_to_id": post.in_reply_to_id,
            "in_reply_to_account_id": in_reply_to_account,
            "reblog": null,
            "poll": null,
            "card": null,
            "language": post.language,
            "favourited": false,
            "reblogged": false,
            "muted": false,
            "bookmarked": false,
            "pinned": false,
            "filtered": []
        });
        if deleted {
            status["text"] = json!(post.text);
        }
        status
    }
}

/// Another account's id: derived from its `acct`, stable across its statuses.
fn other_id(post: &Post) -> String {
    let acct = post.author.as_deref().unwrap_or(USERNAME);
    format!("1090{}", acct.bytes().map(u64::from).sum::<u64>())
}

/// Another account, as the Account entity shows it in its statuses.
fn other_account(acct: &str) -> Value {
    let post = Post {
        id: String::new(),
        author: Some(acct.to_owned()),
        created_at: 0,
        text: String::new(),
        spoiler_text: String::new(),
        visibility: String::new(),
        sensitive: false,
        language: None,
        in_reply_to_id: None,
        media: Vec::new(),
        deleted: false,
    };
    json!({
        "id": other_id(&post),
        "username": acct.split('@').next().unwrap_or(acct),
        "acct": acct,
        "display_name": acct,
        "url": format!("{WEB}/@{acct}"),
        "created_at": "2023-01-01T00:00:00.000Z",
        "statuses_count": 1,
        "emojis": [],
        "fields": []
    })
}

fn unauthorized(token: &Token) -> Reply {
    let description = if matches!(token, Token::Revoked) { REVOKED_TOKEN } else { INVALID_TOKEN };
    let mut reply = Reply::error(401, description);
    reply.headers.push((
        "www-authenticate",
        format!("Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"{description}\""),
    ));
    reply
}

/// What nginx in front of Mastodon answers when the application is down.
fn proxy_error(status: u16) -> Reply {
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    let body = format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    Reply {
        status,
        content_type: "text/html",
        body: body.into_bytes(),
        headers: vec![("server", "nginx".to_owned())],
    }
}

fn media_json(media: &Media) -> Value {
    let file = format!("{WEB}/system/media_attachments/files/{}", media.id);
    json!({
        "id": media.id,
        "type": "image",
        "url": format!("{file}/original/{}.{}", media.id, media.extension),
        "preview_url": format!("{file}/small/{}.{}", media.id, media.extension),
        "remote_url": null,
        "preview_remote_url": null,
        "text_url": null,
        "meta": {},
        "description": media.description,
        "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}"
    })
}

/// Plain text as Mastodon renders it: escaped, paragraphs on blank lines,
/// `<br />` on single newlines (links and mentions are not modelled).
fn html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
        .replace("\r\n", "\n");
    let paragraphs: Vec<String> =
        escaped.split("\n\n").filter(|p| !p.is_empty()).map(|p| p.replace('\n', "<br />")).collect();
    format!("<p>{}</p>", paragraphs.join("</p><p>"))
}

/// The type the bytes actually are, for the four image types Mastodon takes here.
fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn content_type_raw(request: &Recorded) -> String {
    request.header("content-type").unwrap_or("").to_owned()
}

struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// A minimal `multipart/form-data` reader: the boundary from the Content-Type,
/// then each part's headers and bytes.
fn multipart(content_type: &str, body: &[u8]) -> Vec<Part> {
    let Some(boundary) = content_type.split(';').map(str::trim).find_map(|p| {
        p.split_once('=')
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim_matches('"'))
    }) else {
        return Vec::new();
    };
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    for chunk in split(body, &delimiter).into_iter().skip(1) {
        if chunk.starts_with(b"--") {
            break;
        }
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let Some(end) = find(chunk, b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&chunk[..end]);
        let data = &chunk[end + 4..];
        let data = data.strip_suffix(b"\r\n").unwrap_or(data);
        let mut part = Part { name: String::new(), filename: None, content_type: None, data: data.to_vec() };
        for line in head.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else { continue };
            if name.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            } else if name.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').map(str::trim) {
                    if let Some(v) = param.strip_prefix("name=") {
                        part.name = v.trim_matches('"').to_owned();
                    } else if let Some(v) = param.strip_prefix("filename=") {
                        part.filename = Some(v.trim_matches('"').to_owned());
                    }
                }
            }
        }
        parts.push(part);
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut haystack: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    while let Some(at) = find(haystack, delimiter) {
        pieces.push(&haystack[..at]);
        haystack = &haystack[at + delimiter.len()..];
    }
    pieces.push(haystack);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "mastodon-token-1";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    fn multipart_body(boundary: &str, content_type: &str, data: &[u8]) -> Vec<u8> {
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nA chart\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chart.png\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        body
    }

    async fn read(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    #[tokio::test]
    async fn the_fake_behaves_like_mastodon() {
        let fake = MastodonFake::start(TOKEN).await;
        let http = reqwest::Client::new();
        let url = |path: &str| format!("{}{path}", fake.base);
        let auth = format!("Bearer {TOKEN}");

        // The account, with the rate-limit headers.
        let (code, headers, me) = read(
            http.get(url("/api/v1/accounts/verify_credentials"))
                .header("authorization", &auth)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(me["id"], ACCOUNT_ID);
        assert_eq!(me["acct"], "clinic");
        assert_eq!(me["source"]["privacy"], "public");
        assert_eq!(headers["x-ratelimit-limit"], "300");
        assert_eq!(headers["x-ratelimit-remaining"], "299");
        let reset = headers["x-ratelimit-reset"].to_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(reset).is_ok() && reset.ends_with('Z'), "{reset}");

        // No token, a wrong token, an unknown route.
        let (code, headers, body) =
            read(http.get(url("/api/v1/accounts/verify_credentials")).send().await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (401, Some(INVALID_TOKEN)));
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer realm=\"Doorkeeper\""));
        let (code, _, _) = read(
            http.get(url("/api/v1/accounts/verify_credentials")).bearer_auth("wrong").send().await.unwrap(),
        )
        .await;
        assert_eq!(code, 401);
        let (code, headers, body) = read(http.get(url("/api/v1/nothing")).send().await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (404, Some(NOT_FOUND)));
        assert_eq!(headers["x-ratelimit-remaining"], "296");

        // Publish with an idempotency key (JSON), twice: one status.
        let post = |body: Value, key: &str| {
            http.post(url("/api/v1/statuses"))
                .header("authorization", &auth)
                .header("idempotency-key", key)
                .json(&body)
                .send()
        };
        let (code, _, root) =
            read(post(json!({"status": "Open <today>", "visibility": "unlisted"}), "k1").await.unwrap())
                .await;
        assert_eq!(code, 200);
        assert_eq!(root["content"], "<p>Open &lt;today&gt;</p>");
        assert_eq!(root["visibility"], "unlisted");
        assert_eq!(
            root["url"],
            format!("https://fake.mastodon.test/@clinic/{}", root["id"].as_str().unwrap())
        );
        assert!(root["id"].as_str().unwrap().parse::<u64>().is_ok());
        let (code, _, again) = read(post(json!({"status": "Open <today>"}), "k1").await.unwrap()).await;
        assert_eq!((code, &again["id"]), (200, &root["id"]));

        // A reply, as a form.
        let root_id = root["id"].as_str().unwrap().to_owned();
        let (code, _, reply) = read(
            http.post(url("/api/v1/statuses?ignored=1"))
                .header("authorization", &auth)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("status=Thanks&in_reply_to_id={root_id}&language=en"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(reply["in_reply_to_id"], root_id.as_str());
        assert_eq!(reply["in_reply_to_account_id"], ACCOUNT_ID);
        assert!(reply["id"].as_str().unwrap().parse::<u64>().unwrap() > root_id.parse::<u64>().unwrap());

        // Validation.
        for (body, code, error) in [
            (json!({"status": "  "}), 422, "Validation failed: Text can't be blank"),
            (
                json!({"status": "x".repeat(501)}),
                422,
                "Validation failed: Text character limit of 500 exceeded",
            ),
            (
                json!({"status": "hi", "in_reply_to_id": "1"}),
                404,
                "The post you are trying to reply to does not appear to exist.",
            ),
            (
                json!({"status": "hi", "media_ids": ["7"]}),
                422,
                "Media 7 not found or already attached to another post",
            ),
        ] {
            let (got, _, body) = read(post(body, "").await.unwrap()).await;
            assert_eq!((got, body["error"].as_str()), (code, Some(error)));
        }
        fake.reject_next_body("Validation failed: Text is spam");
        let (code, _, body) = read(post(json!({"status": "fine"}), "").await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (422, Some("Validation failed: Text is spam")));

        // Media: a PNG is taken, a text file is not; media alone makes a status.
        let upload = |content_type: &str, data: &[u8]| {
            http.post(url("/api/v2/media"))
                .header("authorization", &auth)
                .header("content-type", "multipart/form-data; boundary=XyZ")
                .body(multipart_body("XyZ", content_type, data))
                .send()
        };
        let (code, _, media) = read(upload("image/png", PNG).await.unwrap()).await;
        assert_eq!(
            (code, media["type"].as_str(), media["description"].as_str()),
            (200, Some("image"), Some("A chart"))
        );
        let (code, _, body) = read(upload("text/plain", b"hello").await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (422, Some(INVALID_FILE)));
        let media_id = media["id"].as_str().unwrap().to_owned();
        let (code, _, with_media) = read(
            http.post(url("/api/v1/statuses"))
                .header("authorization", &auth)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("media_ids%5B%5D={media_id}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((code, &with_media["media_attachments"][0]["id"]), (200, &json!(media_id)));

        // Context, with and without a token (the thread is public).
        let (code, _, context) = read(
            http.get(url(&format!("/api/v1/statuses/{root_id}/context")))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(context["ancestors"], json!([]));
        assert_eq!(context["descendants"][0]["id"], reply["id"]);
        let (code, _, _) =
            read(http.get(url(&format!("/api/v1/statuses/{root_id}/context"))).send().await.unwrap()).await;
        assert_eq!(code, 200);

        // Delete: the source text comes back; then it is gone.
        let delete = |id: &str| http.delete(url(&format!("/api/v1/statuses/{id}"))).bearer_auth(TOKEN).send();
        let (code, headers, deleted) = read(delete(&root_id).await.unwrap()).await;
        assert_eq!((code, deleted["text"].as_str()), (200, Some("Open <today>")));
        assert_eq!(headers["x-ratelimit-limit"], "30");
        let (code, _, body) = read(delete(&root_id).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (404, Some(NOT_FOUND)));
        let (code, _, _) =
            read(http.get(url(&format!("/api/v1/statuses/{root_id}/context"))).send().await.unwrap()).await;
        assert_eq!(code, 404);
        // 30 deletions per 30 minutes.
        for _ in 2..30 {
            assert_eq!(read(delete("1").await.unwrap()).await.0, 404);
        }
        let (code, headers, body) = read(delete("1").await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (429, Some("Too many requests")));
        assert_eq!(
            (&headers["x-ratelimit-limit"], &headers["x-ratelimit-remaining"]),
            (&"30".parse().unwrap(), &"0".parse().unwrap())
        );

        // A proxy's 503, once.
        fake.fail_next(503);
        let response =
            http.get(url("/api/v1/accounts/verify_credentials")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 503);
        assert!(response.headers().get("x-ratelimit-limit").is_none());
        assert!(response.text().await.unwrap().contains("<h1>503 Service Unavailable</h1>"));

        // A forced 429, once, with the reset asked for.
        fake.rate_limit_next(Duration::from_secs(90));
        let (code, headers, body) = read(
            http.get(url("/api/v1/accounts/verify_credentials")).bearer_auth(TOKEN).send().await.unwrap(),
        )
        .await;
        assert_eq!((code, body["error"].as_str()), (429, Some("Too many requests")));
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        let reset =
            chrono::DateTime::parse_from_rfc3339(headers["x-ratelimit-reset"].to_str().unwrap()).unwrap();
        let in_ms = reset.timestamp_millis() - SystemClock.now().millis();
        assert!((80_000..=90_000).contains(&in_ms), "{in_ms}");

        // The 5-minute window: 300 requests, then 429 until the reset.
        loop {
            let (code, headers, _) = read(
                http.get(url("/api/v1/accounts/verify_credentials")).bearer_auth(TOKEN).send().await.unwrap(),
            )
            .await;
            if code == 429 {
                assert_eq!(headers["x-ratelimit-remaining"], "0");
                break;
            }
            assert_eq!(code, 200);
        }
        let counted = fake.requests().len();
        assert!(counted > 300, "{counted}");

        // Recorded: method, path with query, lower-cased headers, raw body.
        let requests = fake.requests();
        assert_eq!(requests[0].method, "GET");
        assert_eq!(requests[0].header("Authorization"), Some(auth.as_str()));
        let form = requests.iter().find(|r| r.path == "/api/v1/statuses?ignored=1").unwrap();
        assert_eq!(form.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert!(String::from_utf8_lossy(&form.body).starts_with("status=Thanks"));
        assert!(requests[1].header("authorization").is_none());

        // A second server: an expired token, then revoke.
        let fake = MastodonFake::start(TOKEN).await;
        let me = || {
            http.get(format!("{}/api/v1/accounts/verify_credentials", fake.base)).bearer_auth(TOKEN).send()
        };
        fake.expire_token();
        let (code, _, body) = read(me().await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (401, Some(REVOKED_TOKEN)));
        let fake = MastodonFake::start(TOKEN).await;
        let revoke = |form: &str| {
            http.post(format!("{}/oauth/revoke", fake.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned())
                .send()
        };
        let (code, _, body) = read(revoke(&format!("token={TOKEN}")).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (403, Some("unauthorized_client")));
        let (code, _, body) =
            read(revoke(&format!("client_id=c&client_secret=s&token={TOKEN}")).await.unwrap()).await;
        assert_eq!((code, body), (200, json!({})));
        let (code, _, body) = read(
            http.get(format!("{}/api/v1/accounts/verify_credentials", fake.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((code, body["error"].as_str()), (401, Some(REVOKED_TOKEN)));
    }
}
