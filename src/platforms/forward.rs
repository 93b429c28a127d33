//! Carrying a pass-through request to the account's platform: to the
//! configured API base only, with the sealed credential as the only
//! authorization, allow-listed headers each way, no redirect followed, and
//! the account's rate limit honoured as the adapters honour it. The answer
//! is read whole (up to [`MAX_ANSWER_BYTES`]) so that it can be checked for
//! credentials before any of it reaches the caller ([`super::withhold`]).
//! What may be asked is decided before this (the proxy's route table, then
//! policy and the journal).

use axum::body::Bytes;
use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::clock::Timestamp;
use crate::domain::{Forward, Platform};
use crate::platforms::rate::RateLimits;
use crate::platforms::{http_client, Call, PlatformError, ReadLimits};

/// The platform's answer: its status, the allow-listed headers, and the whole body.
#[derive(Debug)]
pub struct Forwarded {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The platform said the credential has expired (and only that: a 401
    /// for another reason is the platform's answer to the request).
    pub token_expired: bool,
    /// The post or reply the request created, as the account's adapter
    /// reads the platform's answer to that create call
    /// ([`crate::platforms::PlatformApi::created_through`]).
    pub created: Option<String>,
}

impl Forwarded {
    /// The text at `pointer` in the answer's JSON body, if `valid` takes it
    /// (an id in the platform's alphabet).
    pub(crate) fn id_at(&self, pointer: &str, valid: impl Fn(&str) -> bool) -> Option<String> {
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        body.pointer(pointer).and_then(Value::as_str).filter(|id| valid(id)).map(str::to_owned)
    }

    /// The value of the answer's header `name`, if `valid` takes it.
    pub(crate) fn id_in_header(&self, name: &str, valid: impl Fn(&str) -> bool) -> Option<String> {
        let value = self.headers.get(name)?.to_str().ok()?.trim();
        valid(value).then(|| value.to_owned())
    }
}

/// The segments of a pass-through POST's path below the API base (`/a/b`:
/// `["a", "b"]`); none for any other method.
pub(crate) fn posted(forward: &Forward) -> Vec<&str> {
    if forward.method != reqwest::Method::POST {
        return Vec::new();
    }
    forward.path.trim_start_matches('/').split('/').collect()
}

/// The largest answer passed back: a larger one is withheld (it could
/// not be checked for credentials without holding it all).
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

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
    platform: Platform,
    http: reqwest::Client,
}

impl Forwarder {
    pub fn new(base: Url, platform: Platform) -> Result<Forwarder, PlatformError> {
        let http = http_client().map_err(|e| PlatformError::BadRequest(format!("HTTP client: {e}")))?;
        Ok(Forwarder { base, platform, http })
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

    /// Sends the request unless the account's rate limit is spent, and
    /// records what the platform says of its limits, as the adapters do.
    pub async fn send(
        &self,
        forward: &Forward,
        call: &Call<'_>,
        limits: &RateLimits,
        read_limits: ReadLimits,
        now: Timestamp,
    ) -> Result<Forwarded, PlatformError> {
        let url = self
            .url(forward)
            .ok_or_else(|| PlatformError::BadRequest("the path leaves the platform's API".into()))?;
        limits.check(call.account_id, now)?;
        let mut request = self.http.request(forward.method.clone(), url);
        for (name, value) in &forward.headers {
            request = request.header(name, value);
        }
        let request = request.bearer_auth(call.token.expose()).body(forward.body.clone());
        let mut response = request.send().await.map_err(|e| {
            let message =
                if e.is_timeout() { "the call timed out" } else { "the platform could not be reached" };
            PlatformError::Down { status: None, message: message.into() }
        })?;
        let status = response.status().as_u16();
        super::observe_limits(limits, now, call.account_id, status, response.headers(), read_limits);
        // An encoded answer could hide a credential from the check.
        let encoding = response.headers().get(reqwest::header::CONTENT_ENCODING);
        if encoding.is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity")) {
            return Err(PlatformError::Down {
                status: Some(status),
                message:
                    "the platform's answer was content-encoded, so it could not be checked; it was withheld"
                        .into(),
            });
        }
        let headers: HeaderMap = response
            .headers()
            .iter()
            .filter(|(name, _)| RESPONSE_HEADERS.contains(&name.as_str()))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| PlatformError::Down {
            status: Some(status),
            message: if e.is_timeout() { "the answer timed out" } else { "the answer was cut off" }.into(),
        })? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(PlatformError::Down {
                    status: Some(status),
                    message: format!(
                        "the platform's answer is larger than the {MAX_ANSWER_BYTES} bytes the proxy checks and passes back; it was withheld"
                    ),
                });
            }
            body.extend_from_slice(&chunk);
        }
        let token_expired = self.says_token_expired(status, &body);
        Ok(Forwarded { status, headers, body: Bytes::from(body), token_expired, created: None })
    }

    /// Whether the answer says the credential itself has expired or been
    /// revoked, in the platform's documented words. Any other refusal (a
    /// 401 for another repository, say) is the platform's answer to the
    /// request and renews nothing.
    fn says_token_expired(&self, status: u16, body: &[u8]) -> bool {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |pointer: &str| json.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        match self.platform.as_str() {
            // XRPC: 400 or 401 `ExpiredToken`.
            "bluesky" => matches!(status, 400 | 401) && text("/error") == "ExpiredToken",
            // Graph: code 190 is the access token's own error, whatever the status.
            "facebook" | "instagram" => json.pointer("/error/code").and_then(Value::as_i64) == Some(190),
            // 401 with EXPIRED_ACCESS_TOKEN (service error 65601) or its message.
            "linkedin" => {
                status == 401
                    && (json.get("serviceErrorCode").and_then(Value::as_i64) == Some(65_601)
                        || text("/code") == "EXPIRED_ACCESS_TOKEN"
                        || text("/message").to_ascii_lowercase().contains("expired"))
            }
            // Doorkeeper's invalid_token: "The access token is invalid / was revoked / expired".
            "mastodon" => status == 401 && text("/error").starts_with("The access token"),
            // X answers 401 only for the token (expired after two hours, or revoked).
            "x" => status == 401,
            _ => false,
        }
    }
}
