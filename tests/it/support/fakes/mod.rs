//! Faithful fakes of the platforms' HTTP APIs, on loopback. Each records
//! every request it receives so a test can assert that the right credential
//! was injected and nothing else was sent, and has the same switches for the
//! failures a test needs ([`Controls`]); what each fake's own file holds is
//! only its platform's behaviour.

pub mod bluesky;
pub mod facebook;
pub mod linkedin;
pub mod mastodon;
pub mod x;

/// One request a fake received: what tests assert on (the right credential
/// injected, nothing else sent).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path, plus `?` and the raw query when there is one.
    pub path: String,
    /// Lower-cased names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// A fake's HTTP server on a free loopback port; it stops when dropped.
pub struct Server {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(app: axum::Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a fake's port");
        let addr = listener.local_addr().expect("a fake's address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("a fake's server");
        });
        Server { addr, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a fake runs when a request arrives, before answering it, with
/// "METHOD /path": e.g. a look at Custodian's journal, to prove the intent
/// was recorded before the platform was reached.
pub type Witness = std::sync::Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

/// `app`, running `witness` on each request's arrival.
pub fn witnessed(app: axum::Router, witness: Witness) -> axum::Router {
    app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let witness = witness.clone();
            async move {
                witness(format!("{} {}", request.method(), request.uri().path())).await;
                next.run(request).await
            }
        },
    ))
}

/// The switches every fake has for the failures a test needs, and its
/// record of what it received. Each fake reads a switch where its platform
/// would fail and answers in that platform's words (its module doc says
/// how); tests pull the switches through [`Controls`].
pub struct Control<R> {
    /// Every request received, in order (recorded by [`handle`]).
    requests: Vec<Recorded>,
    /// The token is refused from now on: expired, or revoked where tokens
    /// do not expire. The fakes' OAuth sides clear it on a new grant.
    expired: bool,
    /// The next request is refused as over a rate limit; `R` is what the
    /// platform says about when to try again.
    rate_limit_next: Option<R>,
    /// The next piece of content is refused with this message.
    reject_next_body: Option<String>,
    /// The next request gets this error status.
    fail_next: Option<u16>,
}

impl<R> Default for Control<R> {
    fn default() -> Control<R> {
        Control {
            requests: Vec::new(),
            expired: false,
            rate_limit_next: None,
            reject_next_body: None,
            fail_next: None,
        }
    }
}

impl Control<std::time::Duration> {
    /// When the limit `rate_limit_next` set resets (Unix ms), clearing the switch.
    fn rate_limit_reset(&mut self, now: i64) -> Option<i64> {
        let reset_in = self.rate_limit_next.take()?;
        Some(now + i64::try_from(reset_in.as_millis()).expect("a short reset"))
    }
}

/// A fake platform's state: answers one recorded request (under its lock).
pub trait Responder: Send + 'static {
    /// What a test passes to `rate_limit_next`: how long until the limit
    /// resets, in the platform's unit, or nothing where the platform says nothing.
    type RateLimit: Send;
    /// Which statuses `fail_next` takes, in words for the assertion.
    const FAILURES: &'static str = "a 5xx status";

    /// Whether `fail_next` may make this platform answer `status`.
    fn fails_with(status: u16) -> bool {
        (500..=599).contains(&status)
    }

    fn control(&mut self) -> &mut Control<Self::RateLimit>;

    fn answer(&mut self, request: Recorded, now_ms: i64) -> axum::response::Response;
}

/// A running fake's state, and the switches a test pulls on it. Each fake
/// dereferences to its `Controls`, so a test writes `fake.fail_next(503)`
/// on the fake itself and each fake keeps only what is its platform's own.
pub struct Controls<F> {
    state: std::sync::Arc<std::sync::Mutex<F>>,
}

impl<F: Responder> Controls<F> {
    /// `fake` behind its lock, and the router that serves it through [`handle`].
    pub fn serve(fake: F) -> (Controls<F>, axum::Router) {
        let state = std::sync::Arc::new(std::sync::Mutex::new(fake));
        let app = axum::Router::new().fallback(handle::<F>).with_state(state.clone());
        (Controls { state }, app)
    }

    /// From now on the token is refused, as after its lifetime (or, where
    /// tokens do not expire, as revoked).
    pub fn expire_token(&self) {
        self.lock().control().expired = true;
    }

    /// The next request is refused as over a rate limit, with `reset` as the
    /// platform's hint of when to try again.
    pub fn rate_limit_next(&self, reset: F::RateLimit) {
        self.lock().control().rate_limit_next = Some(reset);
    }

    /// The next piece of content (a post, a comment, a record) is refused as
    /// the platform refuses content it will not publish, with this message.
    pub fn reject_next_body(&self, message: &str) {
        self.lock().control().reject_next_body = Some(message.to_owned());
    }

    /// The next request gets this error status, in the platform's words.
    pub fn fail_next(&self, status: u16) {
        assert!(F::fails_with(status), "fail_next takes {}, not {status}", F::FAILURES);
        self.lock().control().fail_next = Some(status);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().control().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, F> {
        self.state.lock().expect("a fake's state")
    }
}

/// The one handler every fake serves: records the request, then lets the
/// fake answer it.
pub async fn handle<F: Responder>(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<std::sync::Mutex<F>>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.map(|b| b.to_vec()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.as_str().to_owned(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .collect(),
        body,
    };
    let now = custodian::clock::Clock::now(&custodian::clock::SystemClock).millis();
    let mut fake = state.lock().expect("a fake's state");
    fake.control().requests.push(recorded.clone());
    fake.answer(recorded, now)
}

/// A response with this status, content type (if any), body and extra headers.
pub fn response(
    status: u16,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    extra: Vec<(&'static str, String)>,
) -> axum::response::Response {
    use axum::http::{HeaderName, HeaderValue, StatusCode};
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status code");
    let headers = response.headers_mut();
    if let Some(ct) = content_type {
        headers.insert("content-type", HeaderValue::from_static(ct));
    }
    for (name, value) in extra {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_str(&value).expect("header value"));
    }
    response
}

/// `2026-11-23T20:35:00.000Z`: how these platforms write times.
pub fn iso8601(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a representable time")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The client's id and secret, from HTTP Basic or else the form.
pub fn client_credentials(
    request: &Recorded,
    form: &std::collections::HashMap<String, String>,
) -> (String, String) {
    use base64::Engine;
    let basic = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    basic.unwrap_or_else(|| {
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        (field("client_id"), field("client_secret"))
    })
}

/// Whether the PKCE `code_verifier` answers the S256 `code_challenge` (RFC 7636 §4.6).
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
        == challenge
}
