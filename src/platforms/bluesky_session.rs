//! Bluesky app-password sessions (`com.atproto.server.*Session` on the
//! account's PDS): signing in with an app password, refreshing the session
//! for the vault ([`SessionEndpoint`]), and ending it when an account is
//! disconnected. Calls go to `{base}/xrpc/{nsid}`, as the adapter's do.
//!
//! An app password is sent once, to `createSession`; afterwards only the
//! session's tokens are used. Refresh tokens rotate: each
//! `refreshSession` answers a new one, which must replace the old (the
//! vault's refresher saves both tokens together, one refresh at a time per
//! account). The reference PDS keeps a used refresh token valid for a
//! grace period of up to two hours, answering its successor again, so a
//! retried refresh does not fork the session.
//!
//! `deleteSession` revokes the refresh token it is given. It does not end
//! the current access token, which stays valid until its `exp` (two hours
//! on the reference PDS), nor a predecessor refresh token still inside its
//! grace period; Custodian keeps no predecessor.
//!
//! Never put the app password or a token in an error or a log line:
//! errors carry the PDS's own words and the status only.

use base64::Engine;
use serde_json::Value;
use url::Url;

use crate::clock::Timestamp;
use crate::platforms::refresh::{NewTokens, RefreshError, TokenEndpoint};
use crate::platforms::{endpoint, http_client, PlatformError};
use crate::secret::Secret;

const CREATE: &str = "com.atproto.server.createSession";
const REFRESH: &str = "com.atproto.server.refreshSession";
const DELETE: &str = "com.atproto.server.deleteSession";

/// No session answer is larger (it may carry the account's DID document);
/// a bigger one is refused rather than buffered.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A signed-in app-password session.
#[derive(Debug, Clone)]
pub struct BlueskySession {
    pub did: String,
    pub handle: String,
    pub access: Secret,
    pub refresh: Secret,
    /// The access JWT's `exp`, read without verifying the token.
    pub access_expires_at: Option<Timestamp>,
}

/// A PDS's answer to one session call.
struct Answer {
    status: u16,
    body: Value,
    /// `ratelimit-reset`, Unix seconds.
    reset: Option<Timestamp>,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The XRPC error name (`ExpiredToken`, `AuthenticationRequired`, …).
    fn error(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }

    /// The PDS's words: `message`, else the error name, else the status.
    fn message(&self) -> String {
        self.body
            .get("message")
            .or_else(|| self.body.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }

    /// The failure classes every session call shares.
    fn class(&self) -> PlatformError {
        let message = self.message();
        match self.status {
            400 if matches!(self.error(), "ExpiredToken" | "InvalidToken") => {
                PlatformError::TokenInvalid { message }
            }
            401 => PlatformError::TokenInvalid { message },
            403 => PlatformError::Permission { message },
            400 | 404 | 413 => PlatformError::Validation { message },
            429 => PlatformError::RateLimited { reset_at: self.reset, message },
            code => PlatformError::Down { status: Some(code), message },
        }
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.body.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

/// Why a call got no answer: never the request, which holds a secret.
fn unreachable(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the call to the PDS timed out".into()
    } else {
        "the PDS could not be reached".into()
    }
}

/// Sends one session call and reads the answer (up to the cap).
async fn send(request: reqwest::RequestBuilder) -> Result<Answer, String> {
    let mut response = request.send().await.map_err(|e| unreachable(&e))?;
    let status = response.status().as_u16();
    let reset = response
        .headers()
        .get("ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| Timestamp(s.saturating_mul(1000)));
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| "the PDS's answer was cut off".to_owned())? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("the PDS's answer is too large".into());
        }
        bytes.extend_from_slice(&chunk);
    }
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer { status, body, reset })
}

fn down(message: String) -> PlatformError {
    PlatformError::Down { status: None, message }
}

fn missing(what: &str) -> String {
    format!("the PDS answered without {what}")
}

/// The `exp` claim of a JWT, read without verifying it: the PDS is the one
/// that checks its tokens; this only schedules the refresh.
pub fn jwt_expiry(jwt: &Secret) -> Option<Timestamp> {
    let payload = jwt.expose().split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    Some(Timestamp(exp.checked_mul(1000)?))
}

/// Signs in with an app password (`com.atproto.server.createSession`).
/// `identifier` is the account's handle, DID or email address.
pub async fn create_session(
    base: &Url,
    identifier: &str,
    app_password: &Secret,
) -> Result<BlueskySession, PlatformError> {
    let http = http_client().map_err(|_| down("cannot build the HTTP client".into()))?;
    // Borrowed, so that no copy of the password outlives the request.
    #[derive(serde::Serialize)]
    struct SignIn<'a> {
        identifier: &'a str,
        password: &'a str,
    }
    let body = SignIn { identifier, password: app_password.expose() };
    let answer = send(http.post(endpoint(base, &["xrpc", CREATE])?).json(&body)).await.map_err(down)?;
    if !answer.ok() {
        return Err(match (answer.status, answer.error()) {
            (401, "AuthenticationRequired") => PlatformError::TokenInvalid {
                // Not even the identifier is repeated: a password pasted
                // into the wrong field would end up in a log.
                message: format!("Bluesky refused the identifier or app password ({})", answer.message()),
            },
            (401, _) => PlatformError::TokenInvalid {
                message: format!("Bluesky refused the sign-in ({})", answer.message()),
            },
            _ => answer.class(),
        });
    }
    let field = |name: &str| answer.text(name).map(str::to_owned).ok_or_else(|| down(missing(name)));
    let access = Secret::new(field("accessJwt")?);
    Ok(BlueskySession {
        did: field("did")?,
        handle: field("handle")?,
        access_expires_at: jwt_expiry(&access),
        access,
        refresh: Secret::new(field("refreshJwt")?),
    })
}

/// Ends a session (`com.atproto.server.deleteSession`): the PDS revokes
/// this refresh token. How a disconnect signs out at Bluesky.
pub async fn delete_session(base: &Url, refresh: &Secret) -> Result<(), PlatformError> {
    let http = http_client().map_err(|_| down("cannot build the HTTP client".into()))?;
    let request = http.post(endpoint(base, &["xrpc", DELETE])?).bearer_auth(refresh.expose());
    let answer = send(request).await.map_err(down)?;
    if answer.ok() {
        Ok(())
    } else {
        Err(answer.class())
    }
}

/// The PDS's `refreshSession`, as the vault's token endpoint for Bluesky
/// app-password sessions.
pub struct SessionEndpoint {
    base: Url,
    http: reqwest::Client,
}

impl SessionEndpoint {
    /// `base` is the account's PDS, e.g. `https://bsky.social`.
    pub fn new(base: Url) -> Result<SessionEndpoint, RefreshError> {
        let http =
            http_client().map_err(|_| RefreshError::Unavailable("cannot build the HTTP client".into()))?;
        Ok(SessionEndpoint { base, http })
    }
}

impl TokenEndpoint for SessionEndpoint {
    /// A refused refresh token (expired, revoked, already rotated past its
    /// grace period) means the account must be connected again; a PDS that
    /// is down or rate-limiting means later.
    async fn refresh(&self, refresh_token: &Secret, _now: Timestamp) -> Result<NewTokens, RefreshError> {
        let url =
            endpoint(&self.base, &["xrpc", REFRESH]).map_err(|e| RefreshError::Unavailable(e.to_string()))?;
        let answer = send(self.http.post(url).bearer_auth(refresh_token.expose()))
            .await
            .map_err(RefreshError::Unavailable)?;
        if !answer.ok() {
            let why = match answer.error() {
                "" => answer.message(),
                error => format!("{} ({error})", answer.message()),
            };
            return Err(match answer.status {
                400 | 401 | 403 => RefreshError::NeedsReconnect(format!(
                    "Bluesky refused the session's refresh token: {why}"
                )),
                429 => RefreshError::Unavailable(format!(
                    "Bluesky is rate limiting session refreshes until {}: {why}",
                    answer.reset.map(|t| t.rfc3339()).unwrap_or_else(|| "later".into())
                )),
                code => RefreshError::Unavailable(format!("the PDS answered HTTP {code}: {why}")),
            });
        }
        let field = |name: &str| {
            answer
                .text(name)
                .map(|s| Secret::new(s.to_owned()))
                .ok_or_else(|| RefreshError::Unavailable(missing(name)))
        };
        let access = field("accessJwt")?;
        Ok(NewTokens { expires_at: jwt_expiry(&access), refresh: Some(field("refreshJwt")?), access })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_is_read_from_the_access_jwt_without_verifying_it() {
        // {"scope":"com.atproto.appPass","sub":"did:plc:x","iat":1795471179,"exp":1795478379}
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            br#"{"scope":"com.atproto.appPass","sub":"did:plc:x","iat":1795471179,"exp":1795478379}"#,
        );
        let jwt = Secret::new(format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"));
        assert_eq!(jwt_expiry(&jwt), Some(Timestamp(1_795_478_379_000)));
        for bad in ["", "a.b.c", "eyJ.e30.x", "no-dots", "a.eyJleHAiOiJzb29uIn0.c"] {
            assert_eq!(jwt_expiry(&Secret::new(bad.into())), None, "{bad}");
        }
    }

    #[test]
    fn a_session_does_not_show_its_tokens() {
        let session = BlueskySession {
            did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz".into(),
            handle: "clinic.test".into(),
            access: Secret::new("access-s3cr3t".into()),
            refresh: Secret::new("refresh-s3cr3t".into()),
            access_expires_at: None,
        };
        let shown = format!("{session:?}");
        assert!(!shown.contains("s3cr3t") && shown.contains("clinic.test"), "{shown}");
    }
}
