//! Keeping access tokens fresh. A token is refreshed shortly before it
//! expires, and once after the platform says it has expired, but not more
//! than once per [`RENEWAL_INTERVAL`] per account that way: a refusal a
//! caller can provoke must not turn into a stream of renewals. Concurrent callers for
//! one account share a single refresh: the first refreshes while the rest
//! wait, then they all use its result. A refresh the platform refuses marks
//! the account `needs_reconnect` (audited, counted), and actions on it are
//! refused with that reason until an admin connects it again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};

use crate::audit::{Actor, AuditError, EventKind, Journal, RequestMeta};
use crate::clock::{SharedClock, Timestamp};
use crate::domain::{AccountId, Status};
use crate::platforms::accounts::Accounts;
use crate::secret::Secret;
use crate::vault::credentials::{CredentialKind, Credentials, VaultError};

/// After a platform's refusal, an account's token is renewed at most once in this long.
pub const RENEWAL_INTERVAL: Duration = Duration::from_secs(60);

/// Tokens expiring within this margin are refreshed before use.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// What a token endpoint returned.
pub struct NewTokens {
    pub access: Secret,
    /// Platforms that rotate refresh tokens send a new one.
    pub refresh: Option<Secret>,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The platform refused the refresh (revoked, expired): reconnect.
    #[error("the account must be connected again: {0}")]
    NeedsReconnect(String),
    /// The token endpoint could not be reached or answered nonsense; try later.
    #[error("the platform's token endpoint is unavailable: {0}")]
    Unavailable(String),
    /// The token was renewed after a refusal less than [`RENEWAL_INTERVAL`]
    /// ago: this refusal stands as the platform's answer.
    #[error("the account's token was renewed moments ago; the platform's refusal stands")]
    RenewedRecently,
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// A platform's token endpoint.
#[allow(async_fn_in_trait, reason = "called with a concrete endpoint, never as a trait object")]
pub trait TokenEndpoint {
    async fn refresh(&self, refresh_token: &Secret, now: Timestamp) -> Result<NewTokens, RefreshError>;
}

/// An OAuth 2.0 token endpoint (RFC 6749 §6), through the `oauth2` crate,
/// called with the platforms' client: no redirects (which would carry the
/// refresh token and client secret elsewhere), bounded times.
pub struct OAuthEndpoint {
    token_url: TokenUrl,
    client_id: ClientId,
    client_secret: Option<Secret>,
    /// Client credentials in the form rather than HTTP Basic.
    in_body: bool,
    http: reqwest::Client,
}

impl OAuthEndpoint {
    pub fn new(
        token_url: &str,
        client_id: &str,
        client_secret: Option<Secret>,
    ) -> Result<Self, RefreshError> {
        let token_url = TokenUrl::new(token_url.to_owned())
            .map_err(|_| RefreshError::Unavailable("the token endpoint's URL is not valid".into()))?;
        let http = crate::platforms::http_client()
            .map_err(|_| RefreshError::Unavailable("cannot build the HTTP client".into()))?;
        Ok(OAuthEndpoint {
            token_url,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret,
            in_body: false,
            http,
        })
    }

    /// Sends the client's credentials in the form (LinkedIn, Mastodon), not with HTTP Basic.
    pub fn credentials_in_body(mut self) -> Self {
        self.in_body = true;
        self
    }
}

impl TokenEndpoint for OAuthEndpoint {
    async fn refresh(&self, refresh_token: &Secret, now: Timestamp) -> Result<NewTokens, RefreshError> {
        let mut client =
            crate::platforms::tokens::client(self.client_id.clone()).set_token_uri(self.token_url.clone());
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        if self.in_body {
            client = client.set_auth_type(oauth2::AuthType::RequestBody);
        }
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                oauth2::RequestTokenError::ServerResponse(r) => {
                    RefreshError::NeedsReconnect(format!("the platform refused the refresh ({})", r.error()))
                }
                _ => RefreshError::Unavailable("no usable answer from the token endpoint".into()),
            })?;
        Ok(NewTokens {
            access: Secret::new(response.access_token().secret().to_owned()),
            refresh: response.refresh_token().map(|r| Secret::new(r.secret().to_owned())),
            expires_at: response.expires_in().map(|d| now.plus(d)),
        })
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct RefreshStats {
    pub refreshed: AtomicU64,
    pub failed: AtomicU64,
}

pub struct Refresher {
    credentials: Credentials,
    accounts: Accounts,
    journal: Journal,
    clock: SharedClock,
    flights: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
    /// When each account's token was last renewed after a refusal.
    renewed_after_refusal: Mutex<HashMap<AccountId, Timestamp>>,
    pub stats: RefreshStats,
}

impl Refresher {
    pub fn new(credentials: Credentials, accounts: Accounts, journal: Journal, clock: SharedClock) -> Self {
        Refresher {
            credentials,
            accounts,
            journal,
            clock,
            flights: Mutex::new(HashMap::new()),
            renewed_after_refusal: Mutex::new(HashMap::new()),
            stats: RefreshStats::default(),
        }
    }

    /// One refresh at a time per account.
    fn flight(&self, account_id: &AccountId) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights.entry(account_id.clone()).or_default().clone()
    }

    async fn fresh(&self, account_id: &AccountId) -> Result<bool, RefreshError> {
        let expires = self.credentials.expires_at(account_id, CredentialKind::AccessToken).await?;
        Ok(self.fresh_until(expires))
    }

    /// Whether a token expiring then (None: never) is still good to use.
    fn fresh_until(&self, expires: Option<Timestamp>) -> bool {
        expires.is_none_or(|t| self.clock.now().plus(REFRESH_MARGIN) < t)
    }

    /// A usable access token: the stored one, unless it is about to expire.
    pub async fn access_token(
        &self,
        account_id: &AccountId,
        endpoint: &impl TokenEndpoint,
    ) -> Result<Secret, RefreshError> {
        // The token and its expiry in one read; opened only if it is fresh.
        match self.credentials.stored(account_id, CredentialKind::AccessToken).await? {
            Some(stored) if self.fresh_until(stored.expires_at) => {
                return Ok(self.credentials.unseal(&stored)?)
            }
            None => {
                let missing = VaultError::Missing { account: account_id.to_string(), kind: "access_token" };
                return Err(missing.into());
            }
            Some(_) => {}
        }
        let flight = self.flight(account_id);
        let _one_at_a_time = flight.lock().await;
        if self.fresh(account_id).await? {
            // Another caller refreshed while this one waited.
            return Ok(self.credentials.open(account_id, CredentialKind::AccessToken).await?);
        }
        self.refresh(account_id, endpoint).await
    }

    /// After the platform refused `stale` as expired: refresh once, unless
    /// another call has already replaced it, or it was renewed after a
    /// refusal less than [`RENEWAL_INTERVAL`] ago ([`RefreshError::RenewedRecently`]).
    pub async fn after_unauthorized(
        &self,
        account_id: &AccountId,
        stale: &Secret,
        endpoint: &impl TokenEndpoint,
    ) -> Result<Secret, RefreshError> {
        let flight = self.flight(account_id);
        let _one_at_a_time = flight.lock().await;
        let current = self.credentials.open(account_id, CredentialKind::AccessToken).await?;
        if current.expose() != stale.expose() {
            return Ok(current);
        }
        let now = self.clock.now();
        {
            let mut renewed = self.renewed_after_refusal.lock().unwrap_or_else(|p| p.into_inner());
            if renewed.get(account_id).is_some_and(|at| now < at.plus(RENEWAL_INTERVAL)) {
                return Err(RefreshError::RenewedRecently);
            }
            // Counted when tried: a token endpoint that fails is not asked again at once either.
            renewed.insert(account_id.clone(), now);
        }
        self.refresh(account_id, endpoint).await
    }

    /// Runs under the account's flight lock.
    async fn refresh(
        &self,
        account_id: &AccountId,
        endpoint: &impl TokenEndpoint,
    ) -> Result<Secret, RefreshError> {
        let now = self.clock.now();
        // An account already marked (by a refresh that just failed, or a
        // disconnect) is not retried with a refresh token known to be dead.
        if let Some(account) = self.accounts.get(account_id).await? {
            if account.status != Status::Active {
                let why = account.status_reason.unwrap_or_else(|| account.status.as_str().to_owned());
                return Err(RefreshError::NeedsReconnect(why));
            }
        }
        let refresh_token = match self.credentials.open(account_id, CredentialKind::RefreshToken).await {
            Ok(t) => t,
            Err(VaultError::Missing { .. }) => {
                return Err(self.needs_reconnect(account_id, "no refresh token is stored".into()).await)
            }
            Err(e) => return Err(e.into()),
        };
        match endpoint.refresh(&refresh_token, now).await {
            Ok(tokens) => {
                // Saved in a task of its own, so that a caller giving up
                // now cannot lose a rotated (single-use) refresh token, and
                // in one transaction, so that both tokens change together.
                let (credentials, account) = (self.credentials.clone(), account_id.clone());
                let saved = tokio::spawn(async move {
                    let mut items = vec![(CredentialKind::AccessToken, &tokens.access, tokens.expires_at)];
                    if let Some(rotated) = &tokens.refresh {
                        items.push((CredentialKind::RefreshToken, rotated, None));
                    }
                    credentials.store_all(&account, &items, now).await?;
                    Ok::<_, VaultError>(tokens.access)
                })
                .await
                .map_err(|_| {
                    RefreshError::Unavailable("saving the refreshed token was interrupted".into())
                })??;
                self.stats.refreshed.fetch_add(1, Ordering::Relaxed);
                Ok(saved)
            }
            Err(RefreshError::NeedsReconnect(why)) => Err(self.needs_reconnect(account_id, why).await),
            Err(other) => Err(other),
        }
    }

    /// Marks the account, records why, and returns the error to give callers.
    pub async fn needs_reconnect(&self, account_id: &AccountId, reason: String) -> RefreshError {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(account = account_id.as_str(), reason = %reason, "token refresh failed; the account needs reconnecting");
        let kind =
            EventKind::AccountNeedsReconnect { account_id: account_id.to_string(), reason: reason.clone() };
        if let Err(e) = self.journal.record(&RequestMeta::default(), Actor::default(), kind).await {
            return e.into();
        }
        let now = self.clock.now();
        if let Err(e) = self.accounts.set_status(account_id, Status::NeedsReconnect, Some(&reason), now).await
        {
            return e.into();
        }
        RefreshError::NeedsReconnect(reason)
    }
}
