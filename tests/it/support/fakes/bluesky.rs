//! A fake Bluesky PDS (AT Protocol XRPC, docs.bsky.app and the atproto
//! lexicons) on loopback: the methods Custodian calls, with XRPC's status
//! codes and `{"error","message"}` bodies, the PDS's `ratelimit-*` headers,
//! records keyed by TIDs and addressed by `at://` URIs, CIDs in the CIDv1
//! base32 form (`bafyrei…` for records, `bafkrei…` for blobs), plus switches
//! for the failures a test needs (expired token, rate limit, refused record,
//! an error status).
//!
//! Modelled: `com.atproto.repo.{createRecord,putRecord,deleteRecord,
//! getRecord,listRecords,uploadBlob}` (listRecords newest first by record
//! key, `limit` 1 to 100, `cursor`, `reverse`) and `app.bsky.feed.getPostThread` (which a real
//! PDS forwards to the AppView; here the PDS answers it from its own
//! records), and app-password sessions, `com.atproto.server.{createSession,
//! refreshSession,deleteSession}`, as @atproto/pds 0.5 implements them: HS256
//! JWTs (`at+jwt` access tokens for two hours, `refresh+jwt` refresh tokens
//! with a `jti` for ninety days); a refresh rotates the refresh token, and a
//! used one stays valid for a grace period of two hours, answering the same
//! successor again, then is refused (400 `ExpiredToken`, "Token has been
//! revoked"); `deleteSession` revokes one refresh token and leaves access
//! tokens valid until their `exp`; `createSession` is limited to 30 per 5
//! minutes and 300 a day per identifier. `app.bsky.feed.post` and `app.bsky.feed.threadgate` records are
//! checked against their lexicons (text of at most 300 graphemes and 3,000
//! bytes, counted here as characters; facets; replies as strong refs; image
//! embeds referring to uploaded blobs of at most 1,000,000 bytes; at most 300
//! hidden replies). Every repository lives on this one PDS; only the
//! session's account may write. Unknown methods get 501, as from XRPC.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use custodian::clock::{Clock, SystemClock};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{iso8601, Recorded};

const POST: &str = "app.bsky.feed.post";
const THREADGATE: &str = "app.bsky.feed.threadgate";
/// Per IP, all methods: 3,000 requests per 5 minutes (docs.bsky.app, Rate Limits).
const GLOBAL_LIMIT: u32 = 3000;
const GLOBAL_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Per account, record writes: 5,000 points an hour and 35,000 a day;
/// a create costs 3, an update 2, a delete 1.
const HOUR_POINTS: u32 = 5000;
const DAY_POINTS: u32 = 35_000;
const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;
const MAX_GRAPHEMES: usize = 300;
const MAX_TEXT_BYTES: usize = 3000;
const MAX_IMAGE_BYTES: u64 = 1_000_000;
const MAX_HIDDEN_REPLIES: usize = 300;
/// Sessions, as @atproto/pds signs them: access JWTs for 120 minutes,
/// refresh JWTs for 90 days; a used refresh token stays valid for two hours.
const ACCESS_LIFETIME_MS: i64 = 2 * HOUR_MS;
const REFRESH_LIFETIME_MS: i64 = 90 * DAY_MS;
const REFRESH_GRACE_MS: i64 = 2 * HOUR_MS;
/// `createSession`, per identifier: 30 per 5 minutes, 300 a day.
const LOGIN_LIMIT: u32 = 30;
const LOGIN_WINDOW_MS: i64 = 5 * 60 * 1000;
const LOGIN_DAY_LIMIT: u32 = 300;
/// The `aud` of the tokens this PDS signs.
const SERVICE_DID: &str = "did:web:pds.test";
/// base32-sortable, as TIDs are written.
const SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
/// RFC 4648 base32, lower case, as CIDs are written (after the `b` prefix).
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A running fake PDS; the server stops when this is dropped.
pub struct PdsFake {
    /// `http://127.0.0.1:PORT`; the methods are under `/xrpc/`.
    pub base: String,
    controls: super::Controls<Fake>,
    /// Milliseconds every `refreshSession` waits before it is answered.
    refresh_delay: Arc<AtomicU64>,
    _server: super::Server,
}

impl std::ops::Deref for PdsFake {
    type Target = super::Controls<Fake>;

    fn deref(&self) -> &super::Controls<Fake> {
        &self.controls
    }
}

impl PdsFake {
    /// Starts the server on 127.0.0.1:0 with one session: `access_jwt` is
    /// the valid bearer token, for the account `did`.
    pub async fn start(access_jwt: &str, did: &str) -> PdsFake {
        let (controls, app) = super::Controls::serve(Fake::new(access_jwt, did));
        let refresh_delay = Arc::new(AtomicU64::new(0));
        let delay = refresh_delay.clone();
        let app = app.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let ms = delay.load(Ordering::SeqCst);
                async move {
                    if ms > 0 && request.uri().path().ends_with("/com.atproto.server.refreshSession") {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    next.run(request).await
                }
            },
        ));
        let server = super::Server::start(app).await;
        let base = format!("http://{}", server.addr);
        PdsFake { base, controls, refresh_delay, _server: server }
    }

    /// The account gets an app password (`createSession` then takes it
    /// with the account's handle or DID as the identifier).
    pub fn app_password(&self, password: &str) {
        self.lock().sessions.app_passwords.push(password.to_owned());
    }

    /// The account's handle on this PDS.
    pub fn handle(&self) -> String {
        handle_of(&self.lock().did)
    }

    /// Moves the fake's clock forward: tokens expire, grace periods and
    /// rate-limit windows end as they would that much later.
    pub fn advance(&self, by: Duration) {
        self.lock().skew_ms += i64::try_from(by.as_millis()).expect("a short advance");
    }

    /// Every `refreshSession` is answered only after `delay`, so that
    /// concurrent callers really overlap.
    pub fn slow_refresh(&self, delay: Duration) {
        self.refresh_delay.store(u64::try_from(delay.as_millis()).expect("a short delay"), Ordering::SeqCst);
    }

    /// The account `did` replies to the post `parent_uri`, as followers do;
    /// returns the new reply's `at://` URI. Panics when the post is unknown.
    pub fn reply_from(&self, did: &str, parent_uri: &str, text: &str) -> String {
        let now = SystemClock.now().millis();
        let mut fake = self.lock();
        let key = key_of(parent_uri).expect("reply_from: an at:// URI");
        let parent = fake.records.get(&key).expect("reply_from: an existing post").clone();
        let parent_ref = json!({ "uri": parent_uri, "cid": parent.cid });
        let root = parent.value.pointer("/reply/root").cloned().unwrap_or_else(|| parent_ref.clone());
        let record = json!({
            "$type": POST,
            "text": text,
            "createdAt": iso8601(now),
            "langs": ["en"],
            "reply": { "root": root, "parent": parent_ref }
        });
        let rkey = fake.next_tid(now);
        fake.put(did, POST, &rkey, record, now);
        format!("at://{did}/{POST}/{rkey}")
    }

    /// The `hiddenReplies` of the threadgate on the post `root_uri`.
    pub fn hidden_replies(&self, root_uri: &str) -> Vec<String> {
        let (did, _, rkey) = key_of(root_uri).expect("an at:// URI");
        let fake = self.lock();
        let gate = fake.records.get(&(did, THREADGATE.to_owned(), rkey));
        gate.and_then(|g| g.value.get("hiddenReplies"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

impl super::Responder for Fake {
    type RateLimit = Duration;
    // 401 too: `AuthenticationRequired`, as the PDS answers a write the
    // session may not make, its token being good.
    const FAILURES: &'static str = "401, 403 or a 5xx";

    fn fails_with(status: u16) -> bool {
        matches!(status, 401 | 403) || (500..=599).contains(&status)
    }

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

    /// An XRPC error: `{"error": name, "message": message}`.
    fn error(status: u16, error: &str, message: &str) -> Reply {
        Reply::json(status, &json!({ "error": error, "message": message }))
    }

    fn invalid(message: &str) -> Reply {
        Reply::error(400, "InvalidRequest", message)
    }

    fn rate_headers(mut self, limit: u32, remaining: u32, reset_ms: i64, window_ms: i64) -> Reply {
        self.headers.push(("ratelimit-limit", limit.to_string()));
        self.headers.push(("ratelimit-remaining", remaining.to_string()));
        // Unix seconds, rounded up so the window is over when the client wakes.
        self.headers.push(("ratelimit-reset", ((reset_ms + 999) / 1000).to_string()));
        self.headers.push(("ratelimit-policy", format!("{limit};w={}", window_ms / 1000)));
        self
    }

    /// 429 `RateLimitExceeded`, with the window's headers and `Retry-After`
    /// (seconds), as the PDS's rate limiter answers.
    fn too_many(limit: u32, reset_ms: i64, window_ms: i64, now: i64) -> Reply {
        let mut reply = Reply::error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            .rate_headers(limit, 0, reset_ms, window_ms);
        reply.headers.push(("retry-after", ((reset_ms - now + 999) / 1000).max(0).to_string()));
        reply
    }

    /// A procedure without output (`deleteSession`) answers an empty body.
    fn empty(status: u16) -> Reply {
        Reply { status, body: Vec::new(), headers: Vec::new() }
    }

    fn into_response(self) -> Response {
        let content_type = (!self.body.is_empty()).then_some("application/json; charset=utf-8");
        super::response(self.status, content_type, self.body, self.headers)
    }
}

/// A CIDv1 (sha2-256) of `bytes` with the multicodec `codec` (0x71
/// dag-cbor for records, 0x55 raw for blobs), in base32 with its `b`.
fn cid(codec: u8, bytes: &[u8]) -> String {
    let mut raw = vec![0x01, codec, 0x12, 0x20];
    raw.extend_from_slice(&Sha256::digest(bytes));
    let mut out = String::from("b");
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in raw {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn is_cid(s: &str) -> bool {
    s.len() == 59 && (s.starts_with("bafkrei") || s.starts_with("bafyrei"))
}

fn is_did(s: &str) -> bool {
    s.strip_prefix("did:").and_then(|r| r.split_once(':')).is_some_and(|(m, id)| {
        !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase()) && !id.is_empty() && !id.contains('/')
    })
}

fn is_tid(s: &str) -> bool {
    s.len() == 13 && s.bytes().all(|b| SORTABLE.contains(&b)) && SORTABLE[..16].contains(&s.as_bytes()[0])
}

/// `(did, collection, rkey)` of an `at://did/collection/rkey` URI.
fn key_of(uri: &str) -> Option<(String, String, String)> {
    let mut parts = uri.strip_prefix("at://")?.split('/');
    let (did, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && is_did(did) && !collection.is_empty() && !rkey.is_empty())
        .then(|| (did.to_owned(), collection.to_owned(), rkey.to_owned()))
}

/// A made-up handle for an account on this PDS.
fn handle_of(did: &str) -> String {
    let id = did.rsplit(':').next().unwrap_or(did);
    format!("{}.test", &id[..id.len().min(8)])
}

#[derive(Clone, Copy)]
struct Window {
    started: i64,
    used: u32,
}

impl Window {
    /// Takes `cost` from the window (starting a new one when due): `Err(reset)`
    /// when it would overspend, else `Ok((remaining, reset))`.
    fn take(
        slot: &mut Option<Window>,
        now: i64,
        length: i64,
        limit: u32,
        cost: u32,
    ) -> Result<(u32, i64), i64> {
        let window = match slot {
            Some(w) if now < w.started + length => w,
            _ => slot.insert(Window { started: now, used: 0 }),
        };
        let reset = window.started + length;
        if window.used + cost > limit {
            return Err(reset);
        }
        window.used += cost;
        Ok((limit - window.used, reset))
    }
}

#[derive(Clone)]
struct Stored {
    cid: String,
    value: Value,
    indexed_at: i64,
}

struct Blob {
    owner: String,
    mime_type: String,
    size: u64,
}

/// A row of the PDS's `refresh_token` table.
struct RefreshRow {
    expires_at: i64,
    /// Set by the first refresh: every use within the grace period answers it.
    next_id: Option<String>,
}

/// The app-password sessions of the fake's account.
#[derive(Default)]
struct Sessions {
    app_passwords: Vec<String>,
    /// Access JWTs this PDS signed, with their `exp` (ms).
    access: HashMap<String, i64>,
    /// Refresh JWTs this PDS signed, with their `jti` and `exp` (ms): what
    /// verifying the signature tells the real PDS.
    refresh: HashMap<String, (String, i64)>,
    /// By `jti`.
    rows: HashMap<String, RefreshRow>,
    /// `createSession`'s windows (5 minutes, a day) per identifier.
    logins: HashMap<String, (Option<Window>, Option<Window>)>,
    minted: u64,
}

impl Sessions {
    /// A refresh token id: 32 bytes in base64, as the PDS makes them.
    fn new_id(&mut self) -> String {
        self.minted += 1;
        STANDARD.encode(Sha256::digest(format!("fake-pds-refresh-{}", self.minted)))
    }
}

/// An HS256-shaped JWT: the header and claims as the PDS writes them, a
/// signature only this fake checks (by remembering what it signed).
fn jwt(typ: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({ "typ": typ, "alg": "HS256" }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("fake-pds-key.{header}.{payload}")));
    format!("{header}.{payload}.{signature}")
}

/// The bearer token of a request: 401 `AuthMissing` without one.
fn bearer(request: &Recorded) -> Result<&str, Reply> {
    let value = request.header("authorization").unwrap_or("");
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => Ok(&value[7..]),
        _ => Err(Reply::error(401, "AuthMissing", "Authentication Required")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    CreateRecord,
    PutRecord,
    DeleteRecord,
    GetRecord,
    ListRecords,
    UploadBlob,
    GetPostThread,
    CreateSession,
    RefreshSession,
    DeleteSession,
}

impl Method {
    fn of(nsid: &str) -> Option<Method> {
        Some(match nsid {
            "com.atproto.repo.createRecord" => Method::CreateRecord,
            "com.atproto.repo.putRecord" => Method::PutRecord,
            "com.atproto.repo.deleteRecord" => Method::DeleteRecord,
            "com.atproto.repo.getRecord" => Method::GetRecord,
            "com.atproto.repo.listRecords" => Method::ListRecords,
            "com.atproto.repo.uploadBlob" => Method::UploadBlob,
            "app.bsky.feed.getPostThread" => Method::GetPostThread,
            "com.atproto.server.createSession" => Method::CreateSession,
            "com.atproto.server.refreshSession" => Method::RefreshSession,
            "com.atproto.server.deleteSession" => Method::DeleteSession,
            _ => return None,
        })
    }

    /// Queries are GETs, procedures POSTs.
    fn http(self) -> &'static str {
        match self {
            Method::GetRecord | Method::ListRecords | Method::GetPostThread => "GET",
            _ => "POST",
        }
    }
}

/// The platform's state, behind the lock; public only as the type its
/// `Controls` pull the switches on (its fields stay private).
pub struct Fake {
    token: String,
    did: String,
    control: super::Control<Duration>,
    global: Option<Window>,
    hour: Option<Window>,
    day: Option<Window>,
    /// By `(did, collection, rkey)`; TIDs sort by time.
    records: BTreeMap<(String, String, String), Stored>,
    blobs: HashMap<String, Blob>,
    last_tid: u64,
    sessions: Sessions,
    /// How far `advance` has moved this fake's clock.
    skew_ms: i64,
}

impl Fake {
    fn new(token: &str, did: &str) -> Fake {
        Fake {
            token: token.to_owned(),
            did: did.to_owned(),
            control: super::Control::default(),
            global: None,
            hour: None,
            day: None,
            records: BTreeMap::new(),
            blobs: HashMap::new(),
            last_tid: 0,
            sessions: Sessions::default(),
            skew_ms: 0,
        }
    }

    fn respond(&mut self, request: Recorded, now: i64) -> Reply {
        let now = now + self.skew_ms;
        if let Some(status) = self.control.fail_next.take() {
            let (error, message) = match status {
                401 => ("AuthenticationRequired", "Authentication Required"),
                403 => ("Forbidden", "Forbidden"),
                500 => ("InternalServerError", "Internal Server Error"),
                501 => ("MethodNotImplemented", "Method Not Implemented"),
                502 => ("UpstreamFailure", "Upstream Failure"),
                503 => ("NotEnoughResources", "Not Enough Resources"),
                504 => ("UpstreamTimeout", "Upstream Timeout"),
                _ => ("InternalServerError", "Internal Server Error"),
            };
            return Reply::error(status, error, message);
        }
        let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
        let Some(nsid) = path.strip_prefix("/xrpc/") else {
            return Reply::error(404, "NotFound", "Not Found");
        };
        let Some(method) = Method::of(nsid) else {
            return Reply::error(501, "MethodNotImplemented", "Method Not Implemented");
        };
        if request.method != method.http() {
            return Reply::invalid(&format!(
                "Incorrect HTTP method ({}) expected {}",
                request.method,
                method.http()
            ));
        }
        // getRecord is public: a token is checked only when one is sent.
        // createSession takes no token; the other session methods a refresh token.
        let mut refresh_id = String::new();
        match method {
            Method::CreateSession => {}
            Method::RefreshSession | Method::DeleteSession => {
                // deleteSession takes an expired refresh token too.
                match self.authorize_refresh(&request, now, method == Method::DeleteSession) {
                    Ok(jti) => refresh_id = jti,
                    Err(reply) => return reply,
                }
            }
            _ if method == Method::GetRecord && request.header("authorization").is_none() => {}
            _ => {
                if let Err(reply) = self.authorize(&request, now) {
                    return reply;
                }
            }
        }
        if let Some(reset) = self.control.rate_limit_reset(now) {
            return match method {
                Method::CreateSession => Reply::too_many(LOGIN_LIMIT, reset, LOGIN_WINDOW_MS, now),
                _ => Reply::too_many(HOUR_POINTS, reset, HOUR_MS, now),
            };
        }
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let input = match method {
            Method::CreateRecord | Method::PutRecord | Method::DeleteRecord | Method::CreateSession => {
                match serde_json::from_slice::<Value>(&request.body) {
                    Ok(Value::Object(input)) => input,
                    _ => return Reply::invalid("Request body must be a JSON object"),
                }
            }
            _ => Map::new(),
        };
        let limited = match self.limits(method, &input, now) {
            Ok(limited) => limited,
            Err(reply) => return reply,
        };
        let reply = match method {
            Method::CreateRecord => self.create(&input, now),
            Method::PutRecord => self.put_record(&input, now),
            Method::DeleteRecord => self.delete(&input, now),
            Method::GetRecord => self.get(&params),
            Method::ListRecords => self.list_records(&params),
            Method::UploadBlob => self.upload(&request),
            Method::GetPostThread => self.thread(&params),
            Method::CreateSession => self.create_session(&input, now),
            Method::RefreshSession => self.refresh_session(&refresh_id, now),
            Method::DeleteSession => {
                self.sessions.rows.remove(&refresh_id);
                Reply::empty(200)
            }
        };
        let (limit, remaining, reset, window) = limited;
        reply.rate_headers(limit, remaining, reset, window)
    }

    /// 401 `AuthMissing` without a bearer token; 400 `ExpiredToken` or
    /// `InvalidToken` for one the PDS will not take.
    /// The given token, or one a session here minted, until its `exp`
    /// (a session's end does not cut its access tokens short).
    fn authorize(&self, request: &Recorded, now: i64) -> Result<(), Reply> {
        match bearer(request)? {
            t if t == self.token && self.control.expired => {
                Err(Reply::error(400, "ExpiredToken", "Token has expired"))
            }
            t if t == self.token => Ok(()),
            t => match self.sessions.access.get(t) {
                Some(exp) if *exp <= now => Err(Reply::error(400, "ExpiredToken", "Token has expired")),
                Some(_) => Ok(()),
                None => Err(Reply::error(400, "InvalidToken", "Token could not be verified")),
            },
        }
    }

    /// A refresh JWT this PDS signed (an access token is not one): its `jti`.
    fn authorize_refresh(&self, request: &Recorded, now: i64, allow_expired: bool) -> Result<String, Reply> {
        match self.sessions.refresh.get(bearer(request)?) {
            None => Err(Reply::error(400, "InvalidToken", "Token could not be verified")),
            Some((_, exp)) if *exp <= now && !allow_expired => {
                Err(Reply::error(400, "ExpiredToken", "Token has expired"))
            }
            Some((jti, _)) => Ok(jti.clone()),
        }
    }

    /// `createSession`: the account's handle or DID (any case) and one of
    /// its app passwords.
    fn create_session(&mut self, input: &Map<String, Value>, now: i64) -> Reply {
        let (Some(identifier), Some(password)) =
            (input.get("identifier").and_then(Value::as_str), input.get("password").and_then(Value::as_str))
        else {
            let name = if input.get("identifier").is_none() { "identifier" } else { "password" };
            return Reply::invalid(&format!("Missing required key \"{name}\" at $"));
        };
        let identifier = identifier.to_lowercase();
        let known = identifier == self.did || identifier == handle_of(&self.did);
        if !known || !self.sessions.app_passwords.iter().any(|p| p == password) {
            return Reply::error(401, "AuthenticationRequired", "Invalid identifier or password");
        }
        let jti = self.sessions.new_id();
        self.sessions
            .rows
            .insert(jti.clone(), RefreshRow { expires_at: now + REFRESH_LIFETIME_MS, next_id: None });
        self.session_reply(&jti, now)
    }

    /// `refreshSession`: the successor of this refresh token (the same one
    /// on every use within its grace period), or "revoked" once the grace
    /// is over or the session was deleted.
    fn refresh_session(&mut self, jti: &str, now: i64) -> Reply {
        self.sessions.rows.retain(|_, row| row.expires_at > now);
        let Some(row) = self.sessions.rows.get_mut(jti) else {
            return Reply::error(400, "ExpiredToken", "Token has been revoked");
        };
        row.expires_at = row.expires_at.min(now + REFRESH_GRACE_MS);
        let next = match &row.next_id {
            Some(next) => next.clone(),
            None => {
                let next = self.sessions.new_id();
                if let Some(row) = self.sessions.rows.get_mut(jti) {
                    row.next_id = Some(next.clone());
                }
                next
            }
        };
        self.sessions
            .rows
            .entry(next.clone())
            .or_insert(RefreshRow { expires_at: now + REFRESH_LIFETIME_MS, next_id: None });
        self.session_reply(&next, now)
    }

    /// A new access JWT and a refresh JWT with the id `jti`, as the session's answer.
    fn session_reply(&mut self, jti: &str, now: i64) -> Reply {
        let iat = now / 1000;
        let access_exp = iat + ACCESS_LIFETIME_MS / 1000;
        let refresh_exp = iat + REFRESH_LIFETIME_MS / 1000;
        let access = jwt(
            "at+jwt",
            &json!({ "scope": "com.atproto.appPass", "aud": SERVICE_DID, "sub": self.did, "iat": iat, "exp": access_exp }),
        );
        let refresh = jwt(
            "refresh+jwt",
            &json!({ "scope": "com.atproto.refresh", "aud": SERVICE_DID, "sub": self.did, "jti": jti, "iat": iat, "exp": refresh_exp }),
        );
        self.sessions.access.insert(access.clone(), access_exp * 1000);
        self.sessions.refresh.insert(refresh.clone(), (jti.to_owned(), refresh_exp * 1000));
        Reply::json(
            200,
            &json!({
                "accessJwt": access,
                "refreshJwt": refresh,
                "did": self.did,
                "handle": handle_of(&self.did),
                "emailConfirmed": false,
                "active": true
            }),
        )
    }

    /// Counts the request: every one against the global window, record
    /// writes also by points against the account's hour and day. Answers
    /// the tighter limit's `(limit, remaining, reset, window)`.
    fn limits(
        &mut self,
        method: Method,
        input: &Map<String, Value>,
        now: i64,
    ) -> Result<(u32, u32, i64, i64), Reply> {
        let too_many = |limit, reset, window| Reply::too_many(limit, reset, window, now);
        let (remaining, reset) = Window::take(&mut self.global, now, GLOBAL_WINDOW_MS, GLOBAL_LIMIT, 1)
            .map_err(|reset| too_many(GLOBAL_LIMIT, reset, GLOBAL_WINDOW_MS))?;
        let points = match method {
            Method::CreateRecord => 3,
            Method::PutRecord => {
                let key = (
                    self.did.clone(),
                    input.get("collection").and_then(Value::as_str).unwrap_or("").to_owned(),
                    input.get("rkey").and_then(Value::as_str).unwrap_or("").to_owned(),
                );
                if self.records.contains_key(&key) {
                    2
                } else {
                    3
                }
            }
            Method::DeleteRecord => 1,
            Method::CreateSession => {
                let identifier = input.get("identifier").and_then(Value::as_str).unwrap_or("").to_owned();
                let (window, day) = self.sessions.logins.entry(identifier).or_default();
                let (left, reset) = Window::take(window, now, LOGIN_WINDOW_MS, LOGIN_LIMIT, 1)
                    .map_err(|reset| Reply::too_many(LOGIN_LIMIT, reset, LOGIN_WINDOW_MS, now))?;
                let (day_left, day_reset) = Window::take(day, now, DAY_MS, LOGIN_DAY_LIMIT, 1)
                    .map_err(|reset| Reply::too_many(LOGIN_DAY_LIMIT, reset, DAY_MS, now))?;
                return Ok(if day_left < left {
                    (LOGIN_DAY_LIMIT, day_left, day_reset, DAY_MS)
                } else {
                    (LOGIN_LIMIT, left, reset, LOGIN_WINDOW_MS)
                });
            }
            _ => return Ok((GLOBAL_LIMIT, remaining, reset, GLOBAL_WINDOW_MS)),
        };
        let (hour_left, hour_reset) = Window::take(&mut self.hour, now, HOUR_MS, HOUR_POINTS, points)
            .map_err(|reset| too_many(HOUR_POINTS, reset, HOUR_MS))?;
        let (day_left, day_reset) = Window::take(&mut self.day, now, DAY_MS, DAY_POINTS, points)
            .map_err(|reset| too_many(DAY_POINTS, reset, DAY_MS))?;
        Ok(if day_left < hour_left {
            (DAY_POINTS, day_left, day_reset, DAY_MS)
        } else {
            (HOUR_POINTS, hour_left, hour_reset, HOUR_MS)
        })
    }

    fn next_tid(&mut self, now: i64) -> String {
        // 53 bits of microseconds since the epoch, then a 10-bit clock id.
        let micros = u64::try_from(now).expect("a time after 1970") * 1000;
        self.last_tid = ((micros << 10) | 0x1b).max(self.last_tid + (1 << 10));
        (0..13).map(|i| char::from(SORTABLE[((self.last_tid >> (60 - 5 * i)) & 31) as usize])).collect()
    }

    fn put(&mut self, did: &str, collection: &str, rkey: &str, value: Value, now: i64) -> String {
        let cid = cid(0x71, value.to_string().as_bytes());
        let stored = Stored { cid: cid.clone(), value, indexed_at: now };
        self.records.insert((did.to_owned(), collection.to_owned(), rkey.to_owned()), stored);
        cid
    }

    /// The repo named in a write: it must be the session's.
    fn own_repo(&self, input: &Map<String, Value>) -> Result<(), Reply> {
        match input.get("repo").and_then(Value::as_str) {
            None => Err(Reply::invalid("Input must have the property \"repo\"")),
            Some(repo) if repo == self.did || repo == handle_of(&self.did) => Ok(()),
            Some(repo) if !is_did(repo) && !repo.contains('.') => {
                Err(Reply::invalid("Input/repo must be a valid did or a handle"))
            }
            Some(_) => Err(Reply::error(401, "AuthenticationRequired", "Authentication Required")),
        }
    }

    fn commit(&mut self, now: i64) -> Value {
        let rev = self.next_tid(now);
        json!({ "cid": cid(0x71, rev.as_bytes()), "rev": rev })
    }

    fn create(&mut self, input: &Map<String, Value>, now: i64) -> Reply {
        if let Err(reply) = self.own_repo(input) {
            return reply;
        }
        let Some(collection) = input.get("collection").and_then(Value::as_str).map(str::to_owned) else {
            return Reply::invalid("Input must have the property \"collection\"");
        };
        let Some(record) = input.get("record").filter(|r| r.is_object()).cloned() else {
            return Reply::invalid("Input must have the property \"record\"");
        };
        if let Some(message) = self.control.reject_next_body.take() {
            return Reply::invalid(&message);
        }
        let rkey = match input.get("rkey").and_then(Value::as_str) {
            Some(rkey) if collection == POST && !is_tid(rkey) => {
                return Reply::invalid("Invalid record key for app.bsky.feed.post: expected a TID");
            }
            Some(rkey) => rkey.to_owned(),
            None => self.next_tid(now),
        };
        if self.records.contains_key(&(self.did.clone(), collection.clone(), rkey.clone())) {
            return Reply::invalid(&format!("Record already exists: at://{}/{collection}/{rkey}", self.did));
        }
        if let Err(message) = self.validate(&collection, &record) {
            return Reply::invalid(&format!("Invalid {collection} record: {message}"));
        }
        if let Err(reply) = self.blobs_known(&record) {
            return reply;
        }
        let did = self.did.clone();
        let cid = self.put(&did, &collection, &rkey, record, now);
        let commit = self.commit(now);
        Reply::json(
            200,
            &json!({
                "uri": format!("at://{did}/{collection}/{rkey}"),
                "cid": cid,
                "commit": commit,
                "validationStatus": "valid"
            }),
        )
    }

    fn put_record(&mut self, input: &Map<String, Value>, now: i64) -> Reply {
        if let Err(reply) = self.own_repo(input) {
            return reply;
        }
        let (Some(collection), Some(rkey)) = (
            input.get("collection").and_then(Value::as_str).map(str::to_owned),
            input.get("rkey").and_then(Value::as_str).map(str::to_owned),
        ) else {
            return Reply::invalid("Input must have the properties \"collection\" and \"rkey\"");
        };
        let Some(record) = input.get("record").filter(|r| r.is_object()).cloned() else {
            return Reply::invalid("Input must have the property \"record\"");
        };
        let key = (self.did.clone(), collection.clone(), rkey.clone());
        let current = self.records.get(&key).map(|s| s.cid.clone());
        if let Some(swap) = input.get("swapRecord") {
            if swap.as_str() != current.as_deref() {
                let at = current.as_deref().unwrap_or("null");
                return Reply::error(400, "InvalidSwap", &format!("Record was at {at}"));
            }
        }
        if collection == THREADGATE && !is_tid(&rkey) {
            return Reply::invalid("Invalid record key for app.bsky.feed.threadgate: expected a TID");
        }
        if let Err(message) = self.validate(&collection, &record) {
            return Reply::invalid(&format!("Invalid {collection} record: {message}"));
        }
        let did = self.did.clone();
        let cid = self.put(&did, &collection, &rkey, record, now);
        let commit = self.commit(now);
        Reply::json(
            200,
            &json!({
                "uri": format!("at://{did}/{collection}/{rkey}"),
                "cid": cid,
                "commit": commit,
                "validationStatus": "valid"
            }),
        )
    }

    /// Deleting a record that is not there changes nothing and succeeds.
    fn delete(&mut self, input: &Map<String, Value>, now: i64) -> Reply {
        if let Err(reply) = self.own_repo(input) {
            return reply;
        }
        let (Some(collection), Some(rkey)) =
            (input.get("collection").and_then(Value::as_str), input.get("rkey").and_then(Value::as_str))
        else {
            return Reply::invalid("Input must have the properties \"collection\" and \"rkey\"");
        };
        let key = (self.did.clone(), collection.to_owned(), rkey.to_owned());
        if self.records.remove(&key).is_none() {
            return Reply::json(200, &json!({}));
        }
        let commit = self.commit(now);
        Reply::json(200, &json!({ "commit": commit }))
    }

    fn get(&self, params: &HashMap<String, String>) -> Reply {
        for name in ["repo", "collection", "rkey"] {
            if !params.contains_key(name) {
                return Reply::invalid(&format!("Error: Params must have the property \"{name}\""));
            }
        }
        let (repo, collection, rkey) = (&params["repo"], &params["collection"], &params["rkey"]);
        let uri = format!("at://{repo}/{collection}/{rkey}");
        match self.records.get(&(repo.clone(), collection.clone(), rkey.clone())) {
            Some(stored) => {
                Reply::json(200, &json!({ "uri": uri, "cid": stored.cid, "value": stored.value }))
            }
            None => Reply::error(400, "RecordNotFound", &format!("Could not locate record: {uri}")),
        }
    }

    /// A repository's records of one collection, newest record key first
    /// (oldest first with `reverse`), after `cursor` (the last key of the
    /// previous page).
    fn list_records(&self, params: &HashMap<String, String>) -> Reply {
        for name in ["repo", "collection"] {
            if !params.contains_key(name) {
                return Reply::invalid(&format!("Error: Params must have the property \"{name}\""));
            }
        }
        let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
            None => 50,
            Some(Ok(l)) if (1..=100).contains(&l) => l,
            Some(_) => return Reply::invalid("Error: limit must be an integer between 1 and 100"),
        };
        let (repo, collection) = (&params["repo"], &params["collection"]);
        let reverse = params.get("reverse").is_some_and(|r| r == "true");
        let mut keys: Vec<(&String, &Stored)> = self
            .records
            .iter()
            .filter(|((r, c, _), _)| r == repo && c == collection)
            .map(|((_, _, rkey), stored)| (rkey, stored))
            .collect();
        if !reverse {
            keys.reverse();
        }
        let after = params.get("cursor");
        let records: Vec<Value> = keys
            .into_iter()
            .filter(|(rkey, _)| match after {
                None => true,
                Some(cursor) if reverse => rkey.as_str() > cursor.as_str(),
                Some(cursor) => rkey.as_str() < cursor.as_str(),
            })
            .take(limit)
            .map(|(rkey, stored)| {
                json!({ "uri": format!("at://{repo}/{collection}/{rkey}"), "cid": stored.cid, "value": stored.value })
            })
            .collect();
        let mut answer = json!({ "records": records });
        if records.len() == limit {
            if let Some(last) =
                answer["records"][limit - 1]["uri"].as_str().and_then(|u| u.rsplit('/').next())
            {
                answer["cursor"] = json!(last);
            }
        }
        Reply::json(200, &answer)
    }

    fn upload(&mut self, request: &Recorded) -> Reply {
        let Some(mime_type) =
            request.header("content-type").map(|m| m.split(';').next().unwrap_or("").trim().to_owned())
        else {
            return Reply::invalid("Request encoding (Content-Type) required but not provided");
        };
        let size = request.body.len() as u64;
        let cid = cid(0x55, &request.body);
        self.blobs.insert(cid.clone(), Blob { owner: self.did.clone(), mime_type: mime_type.clone(), size });
        Reply::json(
            200,
            &json!({ "blob": { "$type": "blob", "ref": { "$link": cid }, "mimeType": mime_type, "size": size } }),
        )
    }

    /// Image embeds must refer to blobs this account uploaded.
    fn blobs_known(&self, record: &Value) -> Result<(), Reply> {
        let images = record.pointer("/embed/images").and_then(Value::as_array).cloned().unwrap_or_default();
        for image in images {
            let link = image.pointer("/image/ref/$link").and_then(Value::as_str).unwrap_or("");
            match self.blobs.get(link) {
                Some(blob) if blob.owner == self.did => {
                    let declared = image.pointer("/image/mimeType").and_then(Value::as_str);
                    if declared != Some(blob.mime_type.as_str()) {
                        return Err(Reply::invalid(&format!(
                            "Referenced Mimetype does not match stored blob. Expected: {}, Got: {}",
                            blob.mime_type,
                            declared.unwrap_or("")
                        )));
                    }
                    if blob.size > MAX_IMAGE_BYTES {
                        return Err(Reply::invalid(&format!(
                            "Invalid app.bsky.feed.post record: Record/embed/images/0/image file too big (max {MAX_IMAGE_BYTES} bytes)"
                        )));
                    }
                }
                _ => return Err(Reply::error(400, "BlobNotFound", &format!("Could not find blob: {link}"))),
            }
        }
        Ok(())
    }

    /// The lexicon checks for the two record types modelled; others are
    /// stored unchecked, as a PDS stores records of unknown lexicons.
    fn validate(&self, collection: &str, record: &Value) -> Result<(), String> {
        let kind = record.get("$type").and_then(Value::as_str);
        if kind != Some(collection) {
            return Err(format!("Invalid $type: expected {collection}, got {}", kind.unwrap_or("undefined")));
        }
        let datetime = |v: Option<&Value>, name: &str| match v.and_then(Value::as_str) {
            None => Err(format!("Record must have the property \"{name}\"")),
            Some(s) if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                Err(format!("Record/{name} must be an valid atproto datetime (both RFC-3339 and ISO-8601)"))
            }
            Some(_) => Ok(()),
        };
        match collection {
            POST => {
                let Some(text) = record.get("text").and_then(Value::as_str) else {
                    return Err("Record must have the property \"text\"".into());
                };
                if text.chars().count() > MAX_GRAPHEMES {
                    return Err(format!("Record/text must not be longer than {MAX_GRAPHEMES} graphemes"));
                }
                if text.len() > MAX_TEXT_BYTES {
                    return Err(format!("Record/text must not be longer than {MAX_TEXT_BYTES} characters"));
                }
                datetime(record.get("createdAt"), "createdAt")?;
                if let Some(langs) = record.get("langs") {
                    if langs.as_array().is_none_or(|l| l.len() > 3) {
                        return Err("Record/langs must be an array of at most 3 languages".into());
                    }
                }
                if let Some(facets) = record.get("facets") {
                    let facets = facets.as_array().ok_or("Record/facets must be an array")?;
                    for (i, facet) in facets.iter().enumerate() {
                        let index =
                            |name: &str| facet.pointer(&format!("/index/{name}")).and_then(Value::as_u64);
                        if index("byteStart").is_none() || index("byteEnd").is_none() {
                            return Err(format!(
                                "Record/facets/{i}/index must have byteStart and byteEnd integers >= 0"
                            ));
                        }
                        let features = facet
                            .get("features")
                            .and_then(Value::as_array)
                            .ok_or(format!("Record/facets/{i} must have the property \"features\""))?;
                        for feature in features {
                            match feature.get("$type").and_then(Value::as_str) {
                                Some("app.bsky.richtext.facet#link") => {
                                    let uri = feature.get("uri").and_then(Value::as_str).unwrap_or("");
                                    if url::Url::parse(uri).is_err() {
                                        return Err(format!("Record/facets/{i}/features/0/uri must be a uri"));
                                    }
                                }
                                Some("app.bsky.richtext.facet#mention" | "app.bsky.richtext.facet#tag") => {}
                                _ => return Err(format!("Record/facets/{i}/features/0 must be an object which includes the \"$type\" property")),
                            }
                        }
                    }
                }
                if let Some(reply) = record.get("reply") {
                    for side in ["root", "parent"] {
                        let uri = reply.pointer(&format!("/{side}/uri")).and_then(Value::as_str);
                        let cid = reply.pointer(&format!("/{side}/cid")).and_then(Value::as_str);
                        if uri.and_then(key_of).is_none() || !cid.is_some_and(is_cid) {
                            return Err(format!(
                                "Record/reply/{side} must be a strong ref (an at-uri and a cid)"
                            ));
                        }
                    }
                }
                if let Some(embed) = record.get("embed") {
                    if embed.get("$type").and_then(Value::as_str) == Some("app.bsky.embed.images") {
                        let images = embed
                            .get("images")
                            .and_then(Value::as_array)
                            .ok_or("Record/embed/images must be an array")?;
                        if images.is_empty() || images.len() > 4 {
                            return Err("Record/embed/images must have 1 to 4 images".into());
                        }
                        for (i, image) in images.iter().enumerate() {
                            if image.get("alt").and_then(Value::as_str).is_none() {
                                return Err(format!(
                                    "Record/embed/images/{i} must have the property \"alt\""
                                ));
                            }
                            let blob = image.get("image");
                            let mime =
                                blob.and_then(|b| b.get("mimeType")).and_then(Value::as_str).unwrap_or("");
                            if blob.and_then(|b| b.get("$type")).and_then(Value::as_str) != Some("blob") {
                                return Err(format!("Record/embed/images/{i}/image should be a blob ref"));
                            }
                            if !mime.starts_with("image/") {
                                return Err(format!("Record/embed/images/{i}/image mimeType ({mime}) not accepted. Valid mimeTypes are: image/*"));
                            }
                        }
                    }
                }
                Ok(())
            }
            THREADGATE => {
                let post = record.get("post").and_then(Value::as_str);
                if post.and_then(key_of).is_none() {
                    return Err("Record/post must be a valid at-uri".into());
                }
                datetime(record.get("createdAt"), "createdAt")?;
                if record.get("allow").is_some_and(|a| a.as_array().is_none_or(|a| a.len() > 5)) {
                    return Err("Record/allow must not have more than 5 elements".into());
                }
                if let Some(hidden) = record.get("hiddenReplies") {
                    let hidden = hidden.as_array().ok_or("Record/hiddenReplies must be an array")?;
                    if hidden.len() > MAX_HIDDEN_REPLIES {
                        return Err(format!(
                            "Record/hiddenReplies must not have more than {MAX_HIDDEN_REPLIES} elements"
                        ));
                    }
                    if hidden.iter().any(|h| h.as_str().and_then(key_of).is_none()) {
                        return Err("Record/hiddenReplies must hold valid at-uris".into());
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `app.bsky.feed.getPostThread`: the post, its parents up to
    /// `parentHeight`, its replies down to `depth` (oldest first).
    fn thread(&self, params: &HashMap<String, String>) -> Reply {
        let Some(uri) = params.get("uri") else {
            return Reply::invalid("Error: Params must have the property \"uri\"");
        };
        let number = |name: &str, default: u32| match params.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 1000)
                .ok_or_else(|| Reply::invalid(&format!("Error: {name} can not be greater than 1000"))),
        };
        let (depth, height) = match (number("depth", 6), number("parentHeight", 80)) {
            (Ok(d), Ok(h)) => (d, h),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        };
        let Some(key) = key_of(uri).filter(|k| k.1 == POST && self.records.contains_key(k)) else {
            return Reply::error(400, "NotFound", &format!("Post not found: {uri}"));
        };
        let mut thread = self.thread_view(&key, depth);
        // Parents, nearest first, each holding the next.
        let mut parents = Vec::new();
        let mut at =
            self.records[&key].value.pointer("/reply/parent/uri").and_then(Value::as_str).map(str::to_owned);
        while let Some(parent) = at.take() {
            if parents.len() as u32 >= height {
                break;
            }
            match key_of(&parent).filter(|k| self.records.contains_key(k)) {
                Some(k) => {
                    at = self.records[&k]
                        .value
                        .pointer("/reply/parent/uri")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    parents.push(self.thread_view(&k, 0));
                }
                None => parents.push(
                    json!({ "$type": "app.bsky.feed.defs#notFoundPost", "uri": parent, "notFound": true }),
                ),
            }
        }
        let parent = parents.into_iter().rev().reduce(|above, mut below| {
            below["parent"] = above;
            below
        });
        if let Some(parent) = parent {
            thread["parent"] = parent;
        }
        Reply::json(200, &json!({ "thread": thread }))
    }

    fn thread_view(&self, key: &(String, String, String), depth: u32) -> Value {
        let uri = format!("at://{}/{}/{}", key.0, key.1, key.2);
        let mut replies: Vec<&(String, String, String)> = self
            .records
            .iter()
            .filter(|(k, s)| {
                k.1 == POST
                    && s.value.pointer("/reply/parent/uri").and_then(Value::as_str) == Some(uri.as_str())
            })
            .map(|(k, _)| k)
            .collect();
        // Oldest first: record keys are TIDs, which sort by time.
        replies.sort_by(|a, b| a.2.cmp(&b.2));
        let mut view = json!({ "$type": "app.bsky.feed.defs#threadViewPost", "post": self.post_view(key, replies.len()) });
        if depth > 0 {
            view["replies"] =
                Value::Array(replies.into_iter().map(|k| self.thread_view(k, depth - 1)).collect());
        }
        view
    }

    fn post_view(&self, key: &(String, String, String), reply_count: usize) -> Value {
        let stored = &self.records[key];
        let (did, _, rkey) = key;
        let mut view = json!({
            "uri": format!("at://{did}/{POST}/{rkey}"),
            "cid": stored.cid,
            "author": { "did": did, "handle": handle_of(did), "labels": [], "createdAt": iso8601(0) },
            "record": stored.value,
            "replyCount": reply_count,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": iso8601(stored.indexed_at),
            "labels": []
        });
        if let Some(images) = stored.value.pointer("/embed/images").and_then(Value::as_array) {
            let images: Vec<Value> = images
                .iter()
                .map(|i| {
                    let cid = i.pointer("/image/ref/$link").and_then(Value::as_str).unwrap_or("");
                    json!({
                        "thumb": format!("https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/{cid}@jpeg"),
                        "fullsize": format!("https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}@jpeg"),
                        "alt": i.get("alt").cloned().unwrap_or(json!(""))
                    })
                })
                .collect();
            view["embed"] = json!({ "$type": "app.bsky.embed.images#view", "images": images });
        }
        let gate = (did.clone(), THREADGATE.to_owned(), rkey.clone());
        if let Some(gate) = self.records.get(&gate) {
            view["threadgate"] = json!({
                "uri": format!("at://{did}/{THREADGATE}/{rkey}"),
                "cid": gate.cid,
                "record": gate.value,
                "lists": []
            });
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ.fake.access";
    const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    const FOLLOWER: &str = "did:plc:z72i7hdynmk6r22z27h6tvur";

    async fn read(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    #[test]
    fn ids_look_like_the_pds_ones() {
        assert_eq!(cid(0x71, b"x").len(), 59);
        assert!(cid(0x71, b"x").starts_with("bafyrei") && cid(0x55, b"x").starts_with("bafkrei"));
        let mut fake = Fake::new(TOKEN, DID);
        let (a, b) = (fake.next_tid(1_700_000_000_000), fake.next_tid(1_700_000_000_000));
        assert!(is_tid(&a) && is_tid(&b) && a < b, "{a} {b}");
        assert!(a.starts_with("3k"), "a 2023 TID: {a}");
    }

    #[tokio::test]
    async fn the_fake_behaves_like_a_pds() {
        let fake = PdsFake::start(TOKEN, DID).await;
        let http = reqwest::Client::new();
        let url = |nsid: &str| format!("{}/xrpc/{nsid}", fake.base);
        let call = |nsid: &str, body: Value| http.post(url(nsid)).bearer_auth(TOKEN).json(&body).send();
        let post = |text: &str| {
            json!({"repo": DID, "collection": POST,
                   "record": {"$type": POST, "text": text, "createdAt": "2024-05-01T12:00:00.000Z"}})
        };

        // Create: a TID key, a record cid, a commit, the write-points headers.
        let (code, headers, created) =
            read(call("com.atproto.repo.createRecord", post("hi")).await.unwrap()).await;
        assert_eq!(code, 200, "{created}");
        let uri = created["uri"].as_str().unwrap().to_owned();
        let (_, collection, rkey) = key_of(&uri).unwrap();
        assert!(collection == POST && is_tid(&rkey));
        assert!(created["cid"].as_str().is_some_and(is_cid));
        assert!(created["commit"]["rev"].as_str().is_some_and(is_tid));
        assert_eq!(headers["ratelimit-limit"], "5000");
        assert_eq!(headers["ratelimit-remaining"], "4997");
        assert_eq!(headers["ratelimit-policy"], "5000;w=3600");
        let reset: u64 = headers["ratelimit-reset"].to_str().unwrap().parse().unwrap();
        let in_s = reset - SystemClock.now().unix_seconds();
        assert!((3590..=3601).contains(&in_s), "{in_s}");

        // Auth: none, a wrong token; an unknown method; a wrong HTTP method.
        let (code, _, body) =
            read(http.post(url("com.atproto.repo.createRecord")).json(&post("a")).send().await.unwrap())
                .await;
        assert_eq!((code, body["error"].as_str()), (401, Some("AuthMissing")));
        let (code, _, body) = read(
            http.post(url("com.atproto.repo.createRecord"))
                .bearer_auth("wrong")
                .json(&post("a"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((code, body["error"].as_str()), (400, Some("InvalidToken")));
        let (code, _, body) = read(call("com.atproto.repo.nothing", json!({})).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (501, Some("MethodNotImplemented")));
        assert_eq!(read(http.get(url("com.atproto.repo.createRecord")).send().await.unwrap()).await.0, 400);

        // Validation: the lexicon, someone else's repo.
        let long = post(&"x".repeat(301));
        let (code, _, body) = read(call("com.atproto.repo.createRecord", long).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (400, Some("InvalidRequest")));
        assert!(body["message"].as_str().unwrap().contains("300 graphemes"));
        assert_eq!(
            read(call("com.atproto.repo.createRecord", post(&"x".repeat(300))).await.unwrap()).await.0,
            200
        );
        let mut undated = post("a");
        undated["record"].as_object_mut().unwrap().remove("createdAt");
        assert_eq!(read(call("com.atproto.repo.createRecord", undated).await.unwrap()).await.0, 400);
        let mut theirs = post("a");
        theirs["repo"] = json!(FOLLOWER);
        assert_eq!(read(call("com.atproto.repo.createRecord", theirs).await.unwrap()).await.0, 401);
        fake.reject_next_body("Record/text is not allowed");
        let (code, _, body) = read(call("com.atproto.repo.createRecord", post("a")).await.unwrap()).await;
        assert_eq!((code, body["message"].as_str()), (400, Some("Record/text is not allowed")));

        // getRecord; a follower's reply; the thread.
        let get = |repo: &str, collection: &str, rkey: &str| {
            http.get(url(&format!(
                "com.atproto.repo.getRecord?repo={repo}&collection={collection}&rkey={rkey}"
            )))
            .send()
        };
        let (code, _, record) = read(get(DID, POST, &rkey).await.unwrap()).await;
        assert_eq!((code, &record["cid"], &record["value"]["text"]), (200, &created["cid"], &json!("hi")));
        let (code, _, body) = read(get(DID, POST, "3jzfcijpj2z2a").await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (400, Some("RecordNotFound")));
        let reply = fake.reply_from(FOLLOWER, &uri, "nice");
        let (_, _, nested) = read(get(FOLLOWER, POST, &key_of(&reply).unwrap().2).await.unwrap()).await;
        assert_eq!(nested["value"]["reply"]["root"]["uri"], uri.as_str());
        let deeper = fake.reply_from(DID, &reply, "thanks");
        let (_, _, deep) = read(get(DID, POST, &key_of(&deeper).unwrap().2).await.unwrap()).await;
        assert_eq!(deep["value"]["reply"]["root"]["uri"], uri.as_str());
        assert_eq!(deep["value"]["reply"]["parent"]["uri"], reply.as_str());
        let thread =
            |q: &str| http.get(url(&format!("app.bsky.feed.getPostThread?{q}"))).bearer_auth(TOKEN).send();
        let (code, _, found) = read(thread(&format!("uri={uri}&depth=1")).await.unwrap()).await;
        assert_eq!(code, 200);
        assert_eq!(found["thread"]["post"]["replyCount"], 1);
        assert_eq!(found["thread"]["replies"][0]["post"]["uri"], reply.as_str());
        assert_eq!(found["thread"]["replies"][0]["post"]["author"]["did"], FOLLOWER);
        assert!(found["thread"]["replies"][0].get("replies").is_none());
        let (_, _, up) = read(thread(&format!("uri={deeper}")).await.unwrap()).await;
        assert_eq!(up["thread"]["parent"]["post"]["uri"], reply.as_str());
        assert_eq!(up["thread"]["parent"]["parent"]["post"]["uri"], uri.as_str());
        let (code, _, body) = read(
            thread("uri=at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3jzfcijpj2z2a")
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((code, body["error"].as_str()), (400, Some("NotFound")));

        // Blobs: upload, then embed; an unknown blob is refused.
        let (code, headers, blob) = read(
            http.post(url("com.atproto.repo.uploadBlob"))
                .bearer_auth(TOKEN)
                .header("content-type", "image/png")
                .body(vec![0x89, b'P', b'N', b'G'])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (code, &blob["blob"]["size"], &blob["blob"]["mimeType"]),
            (200, &json!(4), &json!("image/png"))
        );
        assert!(blob["blob"]["ref"]["$link"].as_str().unwrap().starts_with("bafkrei"));
        assert_eq!(headers["ratelimit-policy"], "3000;w=300");
        let mut with_image = post("look");
        with_image["record"]["embed"] =
            json!({"$type": "app.bsky.embed.images", "images": [{"image": blob["blob"], "alt": ""}]});
        assert_eq!(
            read(call("com.atproto.repo.createRecord", with_image.clone()).await.unwrap()).await.0,
            200
        );
        with_image["record"]["embed"]["images"][0]["image"]["ref"]["$link"] = json!(cid(0x55, b"other"));
        let (code, _, body) = read(call("com.atproto.repo.createRecord", with_image).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (400, Some("BlobNotFound")));

        // Threadgate: created, then swapped; a stale swap is refused.
        let gate = |hidden: Vec<&str>| json!({"$type": THREADGATE, "post": uri, "createdAt": "2024-05-01T12:00:00.000Z", "hiddenReplies": hidden});
        let put = |record: Value, swap: Option<&str>| {
            let mut body = json!({"repo": DID, "collection": THREADGATE, "rkey": rkey, "record": record});
            if let Some(swap) = swap {
                body["swapRecord"] = json!(swap);
            }
            call("com.atproto.repo.putRecord", body)
        };
        let (code, _, first) = read(put(gate(vec![&reply]), None).await.unwrap()).await;
        assert_eq!(code, 200, "{first}");
        assert_eq!(fake.hidden_replies(&uri), std::slice::from_ref(&reply));
        let (code, _, body) = read(put(gate(vec![]), Some(&cid(0x71, b"stale"))).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (400, Some("InvalidSwap")));
        assert_eq!(read(put(gate(vec![&reply, &deeper]), first["cid"].as_str()).await.unwrap()).await.0, 200);
        assert_eq!(fake.hidden_replies(&uri).len(), 2);
        let (_, _, found) = read(thread(&format!("uri={uri}&depth=1")).await.unwrap()).await;
        assert_eq!(found["thread"]["post"]["threadgate"]["record"]["hiddenReplies"][0], reply.as_str());

        // Delete: ours (then again, a no-op); 1 point each.
        let delete = |rkey: &str| {
            call("com.atproto.repo.deleteRecord", json!({"repo": DID, "collection": POST, "rkey": rkey}))
        };
        let (code, headers, body) = read(delete(&rkey).await.unwrap()).await;
        assert_eq!(code, 200);
        assert!(body["commit"]["cid"].is_string());
        let before: u32 = headers["ratelimit-remaining"].to_str().unwrap().parse().unwrap();
        let (code, headers, body) = read(delete(&rkey).await.unwrap()).await;
        assert_eq!((code, body), (200, json!({})));
        assert_eq!(headers["ratelimit-remaining"].to_str().unwrap(), (before - 1).to_string());

        // Failures on demand; the token expires.
        fake.fail_next(503);
        let (code, _, body) = read(call("com.atproto.repo.createRecord", post("later")).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (503, Some("NotEnoughResources")));
        fake.rate_limit_next(Duration::from_secs(90));
        let (code, headers, body) =
            read(call("com.atproto.repo.createRecord", post("later")).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (429, Some("RateLimitExceeded")));
        assert_eq!(headers["ratelimit-remaining"], "0");
        let reset: u64 = headers["ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!((89..=91).contains(&(reset - SystemClock.now().unix_seconds())));
        fake.expire_token();
        let (code, _, body) = read(call("com.atproto.repo.createRecord", post("after")).await.unwrap()).await;
        assert_eq!((code, body), (400, json!({"error": "ExpiredToken", "message": "Token has expired"})));

        let requests = fake.requests();
        assert_eq!(requests[0].path, "/xrpc/com.atproto.repo.createRecord");
        assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    }
    #[tokio::test]
    async fn sessions_behave_like_the_reference_pds() {
        let fake = PdsFake::start(TOKEN, DID).await;
        fake.app_password("aaaa-bbbb-cccc-dddd");
        let http = reqwest::Client::new();
        let url = |nsid: &str| format!("{}/xrpc/com.atproto.server.{nsid}", fake.base);
        let sign_in = |identifier: &str, password: &str| {
            http.post(url("createSession"))
                .json(&json!({"identifier": identifier, "password": password}))
                .send()
        };
        let with = |nsid: &str, token: &str| http.post(url(nsid)).bearer_auth(token).send();

        // Sign-in: JWTs shaped as the PDS's, the per-identifier window.
        let (code, headers, session) =
            read(sign_in(&fake.handle(), "aaaa-bbbb-cccc-dddd").await.unwrap()).await;
        assert_eq!(code, 200, "{session}");
        assert_eq!(headers["ratelimit-policy"], "30;w=300");
        assert_eq!(headers["ratelimit-remaining"], "29");
        assert_eq!((&session["did"], &session["active"]), (&json!(DID), &json!(true)));
        let part = |jwt: &Value, i: usize| -> Value {
            let text = jwt.as_str().unwrap().split('.').nth(i).unwrap();
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
        };
        assert_eq!(part(&session["accessJwt"], 0), json!({"typ": "at+jwt", "alg": "HS256"}));
        let access = part(&session["accessJwt"], 1);
        assert_eq!((&access["scope"], &access["sub"]), (&json!("com.atproto.appPass"), &json!(DID)));
        assert_eq!(access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(), 7200);
        assert_eq!(part(&session["refreshJwt"], 0)["typ"], "refresh+jwt");
        assert!(part(&session["refreshJwt"], 1)["jti"].is_string());
        let (code, _, body) = read(sign_in(&fake.handle(), "wrong").await.unwrap()).await;
        assert_eq!(
            (code, body),
            (401, json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}))
        );
        let (code, _, body) =
            read(http.post(url("createSession")).json(&json!({"identifier": DID})).send().await.unwrap())
                .await;
        assert_eq!((code, body["message"].as_str()), (400, Some("Missing required key \"password\" at $")));
        for _ in 3..30 {
            assert_eq!(read(sign_in("x.test", "wrong").await.unwrap()).await.0, 401);
        }
        let (code, headers, body) = read(sign_in(&fake.handle(), "aaaa-bbbb-cccc-dddd").await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (200, None), "another identifier's window: {body}");
        assert_eq!(headers["ratelimit-remaining"], "27");
        for _ in 0..27 {
            read(sign_in(&fake.handle(), "wrong").await.unwrap()).await;
        }
        let (code, headers, body) = read(sign_in(&fake.handle(), "aaaa-bbbb-cccc-dddd").await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (429, Some("RateLimitExceeded")));
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert!(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() <= 300);

        // Refresh: only a refresh token; single use, with a grace period.
        let (first, first_access) =
            (session["refreshJwt"].as_str().unwrap(), session["accessJwt"].as_str().unwrap());
        let (code, _, body) = read(with("refreshSession", first_access).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (400, Some("InvalidToken")));
        let (code, _, body) = read(http.post(url("refreshSession")).send().await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (401, Some("AuthMissing")));
        let (code, _, second) = read(with("refreshSession", first).await.unwrap()).await;
        assert_eq!(code, 200);
        let (_, _, again) = read(with("refreshSession", first).await.unwrap()).await;
        assert_eq!(part(&again["refreshJwt"], 1)["jti"], part(&second["refreshJwt"], 1)["jti"]);
        let second = second["refreshJwt"].as_str().unwrap().to_owned();

        // Ending the session revokes that refresh token (an empty 200, again
        // when repeated); its predecessor, still in its grace period, revives
        // it, as on the reference PDS; access tokens run to their exp.
        let response = with("deleteSession", &second).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("content-type").is_none());
        assert!(response.bytes().await.unwrap().is_empty());
        assert_eq!(read(with("deleteSession", &second).await.unwrap()).await.0, 200);
        let (code, _, body) = read(with("refreshSession", &second).await.unwrap()).await;
        assert_eq!(
            (code, body),
            (400, json!({"error": "ExpiredToken", "message": "Token has been revoked"}))
        );
        let (code, _, revived) = read(with("refreshSession", first).await.unwrap()).await;
        assert_eq!(code, 200);
        let post = json!({"repo": DID, "collection": POST,
                          "record": {"$type": POST, "text": "hi", "createdAt": "2024-05-01T12:00:00.000Z"}});
        let create = |token: &str| {
            http.post(format!("{}/xrpc/com.atproto.repo.createRecord", fake.base))
                .bearer_auth(token)
                .json(&post)
                .send()
        };
        assert_eq!(read(create(first_access).await.unwrap()).await.0, 200);

        // Two hours on: the grace period is over, access tokens expired.
        fake.advance(Duration::from_secs(2 * 3600 + 1));
        let (code, _, body) = read(with("refreshSession", first).await.unwrap()).await;
        assert_eq!((code, body["message"].as_str()), (400, Some("Token has been revoked")));
        let (code, _, body) = read(create(first_access).await.unwrap()).await;
        assert_eq!((code, body["error"].as_str()), (400, Some("ExpiredToken")));
        let latest = revived["refreshJwt"].as_str().unwrap();
        let (code, _, fresh) = read(with("refreshSession", latest).await.unwrap()).await;
        assert_eq!(code, 200);
        assert_eq!(read(create(fresh["accessJwt"].as_str().unwrap()).await.unwrap()).await.0, 200);

        // Ninety days on, the refresh JWT itself has expired; deleteSession still takes it.
        fake.advance(Duration::from_secs(91 * 24 * 3600));
        let latest = fresh["refreshJwt"].as_str().unwrap();
        let (code, _, body) = read(with("refreshSession", latest).await.unwrap()).await;
        assert_eq!((code, body["message"].as_str()), (400, Some("Token has expired")));
        assert_eq!(read(with("deleteSession", latest).await.unwrap()).await.0, 200);
    }
}
