//! Carrying a pass-through request to the account's platform: to the
//! configured API base only, with the sealed credential as the only
//! authorization, allow-listed headers each way, no redirect followed, and
//! the answer streamed back. What may be asked is decided before this (the
//! proxy's route table, then policy and the journal).

use axum::body::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::platforms::{http_client, PlatformError};
use crate::secret::Secret;

/// One request for the platform, already checked.
#[derive(Debug, Clone)]
pub struct Forward {
    /// The action the route table names it (what policy and audit see).
    pub action: &'static str,
    pub method: reqwest::Method,
    /// Below the API base: a checked path (starting with `/`) and the raw query, if any.
    pub path: String,
    pub query: Option<String>,
    /// Only the allow-listed request headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// For a publishing action: everything the platform will read of the
    /// request (query, form, JSON, multipart text, media by digest), as
    /// the intent records it.
    pub content: Option<String>,
}

impl Forward {
    /// What the audit record names as the target: method and path (never the query).
    pub fn target(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The platform's answer: its status, the allow-listed headers, and the body to stream.
#[derive(Debug)]
pub struct Forwarded {
    pub status: u16,
    pub headers: HeaderMap,
    pub response: reqwest::Response,
}

/// Response headers a caller may see: content description, caching
/// validators and rate limits. Never cookies, credentials or a `Location`
/// that could send the caller elsewhere.
const RESPONSE_HEADERS: [&str; 10] = [
    "content-type",
    "content-language",
    "etag",
    "last-modified",
    "retry-after",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "x-ratelimit-remaining",
    "x-restli-id",
];

/// The account's platform API, reachable only below its base.
pub struct Forwarder {
    base: Url,
    http: reqwest::Client,
}

impl Forwarder {
    pub fn new(base: Url) -> Result<Forwarder, PlatformError> {
        let http = http_client().map_err(|e| PlatformError::BadRequest(format!("HTTP client: {e}")))?;
        Ok(Forwarder { base, http })
    }

    /// The URL below the base, or None if the joined URL would leave it.
    fn url(&self, forward: &Forward) -> Option<Url> {
        let mut joined = format!("{}{}", self.base.as_str().trim_end_matches('/'), forward.path);
        if let Some(q) = &forward.query {
            joined.push('?');
            joined.push_str(q);
        }
        let url = Url::parse(&joined).ok()?;
        let inside = url.origin() == self.base.origin()
            && url.path().starts_with(self.base.path().trim_end_matches('/'))
            && url.path() == format!("{}{}", self.base.path().trim_end_matches('/'), forward.path);
        inside.then_some(url)
    }

    pub async fn send(&self, forward: &Forward, token: &Secret) -> Result<Forwarded, PlatformError> {
        let url = self
            .url(forward)
            .ok_or_else(|| PlatformError::BadRequest("the path leaves the platform's API".into()))?;
        let mut request = self.http.request(forward.method.clone(), url);
        for (name, value) in &forward.headers {
            request = request.header(name, value);
        }
        let response =
            request.bearer_auth(token.expose()).body(forward.body.clone()).send().await.map_err(|e| {
                let message =
                    if e.is_timeout() { "the call timed out" } else { "the platform could not be reached" };
                PlatformError::Down { status: None, message: message.into() }
            })?;
        let status = response.status().as_u16();
        if status == 401 {
            return Err(PlatformError::TokenInvalid {
                message: "the platform refused the credential".into(),
            });
        }
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| RESPONSE_HEADERS.contains(&name.as_str()))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        Ok(Forwarded { status, headers, response })
    }
}
