//! The adapter for a connected account: its platform's module, pointed at
//! the configured base URL, and the way its tokens are renewed.

use url::Url;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Account, AccountId};
use crate::domain::{Forward, NewPost};
use crate::platforms::bluesky::Bluesky;
use crate::platforms::bluesky_session::{create_session, SessionEndpoint};
use crate::platforms::config::PlatformsConfig;
use crate::platforms::facebook::Facebook;
use crate::platforms::forward::Forwarded;
use crate::platforms::instagram::Instagram;
use crate::platforms::linkedin::LinkedIn;
use crate::platforms::mastodon::Mastodon;
use crate::platforms::refresh::{NewTokens, OAuthEndpoint, RefreshError, TokenEndpoint};
use crate::platforms::sandbox::Sandbox;
use crate::platforms::x::X;
use crate::platforms::{Call, Comment, Operation, PlatformApi, PlatformError, PostPage, Published};
use crate::secret::Secret;
use crate::storage::Db;
use crate::vault::credentials::{CredentialKind, Credentials, VaultError};

pub enum Adapter {
    Sandbox(Sandbox),
    X(X),
    Facebook(Facebook),
    Instagram(Instagram),
    LinkedIn(LinkedIn),
    Mastodon(Mastodon),
    Bluesky(Bluesky),
}

fn unusable(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::BadRequest(format!("the platform is not configured correctly: {e}"))
}

impl Adapter {
    /// The adapter that acts for `account`, on the configured API.
    pub fn for_account(
        account: &Account,
        config: &PlatformsConfig,
        db: &Db,
        clock: &SharedClock,
    ) -> Result<Adapter, PlatformError> {
        let clock = clock.clone();
        if account.platform == "sandbox" {
            return Ok(Adapter::Sandbox(Sandbox::new(db.clone(), clock)));
        }
        if account.platform == "bluesky" {
            let pds = config.bluesky.clone().unwrap_or_default().pds().map_err(unusable)?;
            return Ok(Adapter::Bluesky(Bluesky::new(pds, account.external_id.clone(), clock)?));
        }
        let app = config.app(account.platform.as_str()).ok_or_else(|| {
            unusable(format!("[platforms.{}] is missing from the configuration", account.platform))
        })?;
        let base = app.endpoints(account.platform.as_str()).map_err(unusable)?.api_base;
        let id = account.external_id.clone();
        Ok(match account.platform.as_str() {
            "x" => Adapter::X(X::new(base, clock)?.for_user(&id)),
            "facebook" => Adapter::Facebook(Facebook::new(base, id, clock)?),
            "instagram" => Adapter::Instagram(Instagram::new(base, id, clock)?),
            "linkedin" => {
                let adapter = LinkedIn::new(base, id, app.linkedin_version(), clock)?;
                Adapter::LinkedIn(match &app.upload_origin {
                    Some(origin) => adapter.with_upload_origin(origin)?,
                    None => adapter,
                })
            }
            "mastodon" => Adapter::Mastodon(Mastodon::new(base, clock)?.for_account(&id)),
            other => return Err(unusable(format!("unknown platform {other:?}"))),
        })
    }

    /// The platform API's base URL (None: the sandbox has no HTTP API).
    pub fn base(&self) -> Option<&Url> {
        match self {
            Adapter::Sandbox(_) => None,
            Adapter::X(a) => Some(a.base()),
            Adapter::Facebook(a) => Some(a.base()),
            Adapter::Instagram(a) => Some(a.base()),
            Adapter::LinkedIn(a) => Some(a.base()),
            Adapter::Mastodon(a) => Some(a.base()),
            Adapter::Bluesky(a) => Some(a.base()),
        }
    }

    /// The account's rate-limit state and how its platform states limits
    /// (None: the sandbox has none), shared with pass-through requests.
    pub(crate) fn rate(&self) -> Option<(&crate::platforms::rate::RateLimits, crate::platforms::ReadLimits)> {
        match self {
            Adapter::Sandbox(_) => None,
            Adapter::X(a) => Some(a.rate()),
            Adapter::Facebook(a) => Some(a.rate()),
            Adapter::Instagram(a) => Some(a.rate()),
            Adapter::LinkedIn(a) => Some(a.rate()),
            Adapter::Mastodon(a) => Some(a.rate()),
            Adapter::Bluesky(a) => Some(a.rate()),
        }
    }

    /// Which credential its calls carry: none for the sandbox; Facebook
    /// acts with the Page token; the rest with their access token.
    pub fn credential(&self) -> Option<CredentialKind> {
        match self {
            Adapter::Sandbox(_) => None,
            Adapter::Facebook(_) => Some(CredentialKind::PageToken),
            _ => Some(CredentialKind::AccessToken),
        }
    }

    fn inner(&self) -> &dyn PlatformName {
        match self {
            Adapter::Sandbox(a) => a,
            Adapter::X(a) => a,
            Adapter::Facebook(a) => a,
            Adapter::Instagram(a) => a,
            Adapter::LinkedIn(a) => a,
            Adapter::Mastodon(a) => a,
            Adapter::Bluesky(a) => a,
        }
    }
}

/// The object-safe part of [`PlatformApi`].
trait PlatformName {
    fn name(&self) -> &'static str;
    fn supports(&self, op: Operation) -> bool;
}

impl<P: PlatformApi> PlatformName for P {
    fn name(&self) -> &'static str {
        PlatformApi::name(self)
    }
    fn supports(&self, op: Operation) -> bool {
        PlatformApi::supports(self, op)
    }
}

/// Calls `$call` on whichever adapter `$self` holds.
macro_rules! each {
    ($self:ident, $a:ident => $call:expr) => {
        match $self {
            Adapter::Sandbox($a) => $call,
            Adapter::X($a) => $call,
            Adapter::Facebook($a) => $call,
            Adapter::Instagram($a) => $call,
            Adapter::LinkedIn($a) => $call,
            Adapter::Mastodon($a) => $call,
            Adapter::Bluesky($a) => $call,
        }
    };
}

impl PlatformApi for Adapter {
    fn name(&self) -> &'static str {
        self.inner().name()
    }
    fn supports(&self, op: Operation) -> bool {
        self.inner().supports(op)
    }
    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        each!(self, a => a.publish(call, post).await)
    }
    async fn delete(&self, call: &Call<'_>, post_id: &str) -> Result<(), PlatformError> {
        each!(self, a => a.delete(call, post_id).await)
    }
    async fn reply(&self, call: &Call<'_>, to: &str, post: &NewPost) -> Result<Published, PlatformError> {
        each!(self, a => a.reply(call, to, post).await)
    }
    async fn comments(&self, call: &Call<'_>, post_id: &str) -> Result<Vec<Comment>, PlatformError> {
        each!(self, a => a.comments(call, post_id).await)
    }
    async fn hide_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError> {
        each!(self, a => a.hide_comment(call, comment_id).await)
    }
    async fn delete_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError> {
        each!(self, a => a.delete_comment(call, comment_id).await)
    }
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        each!(self, a => a.posts(call, page).await)
    }
    async fn unhide_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError> {
        each!(self, a => a.unhide_comment(call, comment_id).await)
    }
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String> {
        each!(self, a => a.created_through(forward, answer))
    }
}

/// How an account's access token is renewed.
pub enum Renewal {
    /// An OAuth 2.0 refresh token grant (X, LinkedIn, Mastodon).
    OAuth(OAuthEndpoint),
    /// Instagram Login: the long-lived token renews itself
    /// (`GET /refresh_access_token?grant_type=ig_refresh_token`).
    Instagram { api_base: Url, http: reqwest::Client },
    /// Bluesky app-password sessions: `refreshSession`; once the refresh
    /// token is refused, a new session with the sealed app password.
    Bluesky {
        session: SessionEndpoint,
        pds: Url,
        did: String,
        account_id: AccountId,
        credentials: Credentials,
    },
    /// Tokens that cannot be renewed (Facebook Page tokens, the sandbox).
    None,
}

impl Renewal {
    pub fn for_account(
        account: &Account,
        config: &PlatformsConfig,
        credentials: &Credentials,
    ) -> Result<Renewal, PlatformError> {
        if account.platform == "bluesky" {
            let pds = config.bluesky.clone().unwrap_or_default().pds().map_err(unusable)?;
            return Ok(Renewal::Bluesky {
                session: SessionEndpoint::new(pds.clone()).map_err(unusable)?,
                pds,
                did: account.external_id.clone(),
                account_id: account.id.clone(),
                credentials: credentials.clone(),
            });
        }
        let Some(app) = config.app(account.platform.as_str()) else { return Ok(Renewal::None) };
        let endpoints = app.endpoints(account.platform.as_str()).map_err(unusable)?;
        Ok(match account.platform.as_str() {
            "facebook" => Renewal::None,
            "instagram" => Renewal::Instagram {
                api_base: endpoints.api_base,
                http: crate::platforms::http_client().map_err(unusable)?,
            },
            platform => {
                let endpoint = OAuthEndpoint::new(
                    endpoints.token_url.as_str(),
                    &app.client_id,
                    app.client_secret.clone(),
                )
                .map_err(unusable)?;
                let in_body = crate::platforms::config::credentials_in_body(platform);
                Renewal::OAuth(if in_body { endpoint.credentials_in_body() } else { endpoint })
            }
        })
    }
}

impl TokenEndpoint for Renewal {
    async fn refresh(&self, refresh_token: &Secret, now: Timestamp) -> Result<NewTokens, RefreshError> {
        match self {
            Renewal::OAuth(endpoint) => endpoint.refresh(refresh_token, now).await,
            Renewal::Instagram { api_base, http } => {
                instagram_refresh(api_base, http, refresh_token, now).await
            }
            Renewal::Bluesky { session, pds, did, account_id, credentials } => {
                match session.refresh(refresh_token, now).await {
                    Err(RefreshError::NeedsReconnect(why)) => {
                        sign_in_again(pds, did, account_id, credentials, why).await
                    }
                    other => other,
                }
            }
            Renewal::None => {
                Err(RefreshError::NeedsReconnect("this platform's tokens cannot be renewed".into()))
            }
        }
    }
}

/// A Bluesky session whose refresh token was refused is started again with
/// the sealed app password (until someone revokes that password).
async fn sign_in_again(
    pds: &Url,
    did: &str,
    account_id: &AccountId,
    credentials: &Credentials,
    refused: String,
) -> Result<NewTokens, RefreshError> {
    let password = match credentials.open(account_id, CredentialKind::AppPassword).await {
        Ok(p) => p,
        Err(VaultError::Missing { .. }) => return Err(RefreshError::NeedsReconnect(refused)),
        Err(e) => return Err(e.into()),
    };
    match create_session(pds, did, &password).await {
        Ok(s) => {
            Ok(NewTokens { access: s.access, refresh: Some(s.refresh), expires_at: s.access_expires_at })
        }
        Err(e @ (PlatformError::Down { .. } | PlatformError::RateLimited { .. })) => {
            Err(RefreshError::Unavailable(e.to_string()))
        }
        Err(e) => Err(RefreshError::NeedsReconnect(format!(
            "{refused}; signing in with the app password failed: {e}"
        ))),
    }
}

/// Instagram's long-lived token is its own refresh token: the new one
/// replaces both (stored as access and refresh token).
async fn instagram_refresh(
    api_base: &Url,
    http: &reqwest::Client,
    token: &Secret,
    now: Timestamp,
) -> Result<NewTokens, RefreshError> {
    let url = crate::platforms::endpoint(api_base, &["refresh_access_token"])
        .map_err(|e| RefreshError::Unavailable(e.to_string()))?;
    let response = http
        .get(url)
        .query(&[("grant_type", "ig_refresh_token"), ("access_token", token.expose())])
        .send()
        .await
        .map_err(|_| RefreshError::Unavailable("Instagram could not be reached".into()))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_server_error() {
        return Err(RefreshError::Unavailable(format!("Instagram answered {status}")));
    }
    let access = body.get("access_token").and_then(|v| v.as_str());
    match access {
        Some(access) if status.is_success() => {
            let expires_at = body
                .get("expires_in")
                .and_then(|v| v.as_u64())
                .map(|s| now.plus(std::time::Duration::from_secs(s)));
            Ok(NewTokens {
                access: Secret::new(access.to_owned()),
                refresh: Some(Secret::new(access.to_owned())),
                expires_at,
            })
        }
        _ => {
            let message =
                body.pointer("/error/message").and_then(|v| v.as_str()).unwrap_or("no token returned");
            Err(RefreshError::NeedsReconnect(format!("Instagram refused the refresh: {message}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Bytes;
    use reqwest::header::{HeaderMap, HeaderValue};
    use reqwest::Method;

    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{Forward, PolicyAction};
    use crate::platforms::forward::Forwarded;

    fn forward(method: Method, path: &str) -> Forward {
        Forward {
            action: PolicyAction::PostPublish,
            method,
            path: path.into(),
            query: None,
            headers: Vec::new(),
            body: Bytes::new(),
            content: None,
            media: false,
        }
    }

    fn answer(body: &str, header: Option<&str>) -> Forwarded {
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert("x-restli-id", HeaderValue::from_str(value).unwrap());
        }
        Forwarded {
            status: 201,
            headers,
            body: Bytes::from(body.to_owned()),
            token_expired: false,
            created: None,
        }
    }

    #[test]
    fn each_platform_reads_the_post_a_pass_through_create_made_and_nothing_else() {
        let clock: SharedClock = Arc::new(ManualClock::starting_now());
        let base = |u: &str| Url::parse(u).unwrap();
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        let x = Adapter::X(X::new(base("https://api.x.com/2"), clock.clone()).unwrap().for_user("12"));
        let mastodon = Adapter::Mastodon(
            Mastodon::new(base("https://m.example"), clock.clone()).unwrap().for_account("1"),
        );
        let graph = "https://graph.facebook.com/v23.0";
        let facebook = Adapter::Facebook(Facebook::new(base(graph), "1234".into(), clock.clone()).unwrap());
        let instagram =
            Adapter::Instagram(Instagram::new(base(graph), "1789".into(), clock.clone()).unwrap());
        let org = "urn:li:organization:5515715";
        let linkedin = Adapter::LinkedIn(
            LinkedIn::new(base("https://api.linkedin.com/rest"), org.into(), "202505".into(), clock.clone())
                .unwrap(),
        );
        let bluesky = Adapter::Bluesky(Bluesky::new(base("https://pds.example"), did.into(), clock).unwrap());
        let post = format!("at://{did}/app.bsky.feed.post/3l6oveex3ii2l");
        let like = format!("at://{did}/app.bsky.feed.like/3l6oveex3ii2l");
        let check =
            |adapter: &Adapter, (method, path): (Method, &str), answer: Forwarded, made: Option<&str>| {
                let created = adapter.created_through(&forward(method.clone(), path), &answer);
                assert_eq!(created.as_deref(), made, "{} {method} {path}", PlatformApi::name(adapter));
            };
        let body = |json: &str| answer(json, None);
        let post_to = |path| (Method::POST, path);
        let id = r#"{"id":"103704874086360371"}"#;
        check(
            &x,
            post_to("/2/tweets"),
            body(r#"{"data":{"id":"1445880548472328192"}}"#),
            Some("1445880548472328192"),
        );
        check(&x, post_to("/2/media/upload"), body(r#"{"data":{"id":"1880028106020515840"}}"#), None);
        check(&x, post_to("/2/tweets"), body("not json"), None);
        check(&mastodon, post_to("/api/v1/statuses"), body(id), Some("103704874086360371"));
        check(&mastodon, post_to("/api/v2/media"), body(id), None);
        check(&mastodon, (Method::DELETE, "/api/v1/statuses/1"), body(id), None);
        check(&mastodon, post_to("/api/v1/statuses"), body(r#"{"id":"../1"}"#), None);
        check(&facebook, post_to("/1234/feed"), body(r#"{"id":"1234_5678"}"#), Some("1234_5678"));
        check(
            &facebook,
            post_to("/1234/photos"),
            body(r#"{"id":"99","post_id":"1234_99"}"#),
            Some("1234_99"),
        );
        check(&facebook, post_to("/1234_5678"), body(r#"{"success":true,"id":"1234_5678"}"#), None);
        check(&instagram, post_to("/1789/media"), body(r#"{"id":"17889455560051444"}"#), None);
        check(&instagram, post_to("/1789/media_publish"), body(r#"{"id":"17920"}"#), Some("17920"));
        let share = "urn:li:share:6844785523593134080";
        check(&linkedin, post_to("/posts"), answer("", Some(share)), Some(share));
        check(&linkedin, post_to("/images"), answer("{}", Some("urn:li:image:C4E10AQ")), None);
        let record = |uri: &str| body(&format!(r#"{{"uri":"{uri}","cid":"bafy"}}"#));
        let create = post_to("/xrpc/com.atproto.repo.createRecord");
        check(&bluesky, create.clone(), record(&post), Some(post.as_str()));
        check(&bluesky, create, record(&like), None);
    }
}
