//! The adapter for a connected account: its platform's module, pointed at
//! the configured base URL, and the way its tokens are renewed.

use url::Url;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::NewPost;
use crate::domain::{Account, AccountId};
use crate::platforms::bluesky::Bluesky;
use crate::platforms::bluesky_session::{create_session, SessionEndpoint};
use crate::platforms::config::PlatformsConfig;
use crate::platforms::facebook::Facebook;
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
