//! Connecting and disconnecting organization accounts.
//!
//! OAuth platforms: an admin starts a connection (platform, tags, the
//! operations it will be used for); Custodian keeps a single-use state
//! (stored hashed, with the PKCE verifier sealed, for ten minutes) and
//! sends the admin's browser to the platform, asking for the least scopes
//! those operations need. The platform sends the browser back to
//! `/connect/callback`; the same admin's session must finish it. The code
//! is exchanged, the account identified, the connection recorded, and only
//! then are the account and its sealed tokens stored.
//!
//! Bluesky accounts connect with an app password (no browser round trip).
//!
//! Disconnecting revokes the token at the platform where it allows it,
//! then deletes every ciphertext of the account; the account stays listed
//! as `disconnected` (its audit trail refers to it).

pub mod grant;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use url::Url;

use crate::audit::ChangedBy;
use crate::audit::{AuditError, Change, EventKind, Journal};
use crate::clock::{SharedClock, Timestamp};
use crate::domain::{Account, AccountId, Platform, Status};
use crate::platforms::accounts::{validate_tags, Accounts};
use crate::platforms::config::PlatformsConfig;
use crate::platforms::Operation;
use crate::secret::Secret;
use crate::storage::{optional, Db};
use crate::vault::credentials::{CredentialKind, Credentials, VaultError};
use crate::vault::{sealed, KeyRing};

pub use grant::Choice;
use grant::{GrantError, PlatformGrant};

/// How long an admin has to consent at the platform.
pub const PENDING_FOR: Duration = Duration::from_secs(10 * 60);

/// Platforms connected through the OAuth authorization-code flow.
pub const OAUTH_PLATFORMS: &[&str] = &["x", "facebook", "instagram", "linkedin", "mastodon"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectRequest {
    pub platform: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// What the account will be used for; absent: everything the platform supports.
    #[serde(default)]
    pub operations: Option<Vec<Operation>>,
    #[serde(flatten)]
    pub choice: Choice,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ConnectStarted)]
pub struct Started {
    /// Where to send the admin's browser.
    #[schema(format = "uri")]
    pub authorize_url: String,
    pub scopes: Vec<String>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Disconnected {
    pub account: Account,
    /// Whether the platform confirmed the revocation (false: it offers none, or it failed).
    pub revoked_at_platform: bool,
    #[schema(required = true)]
    pub note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The state is unknown, used, expired or someone else's.
    #[error("{0}")]
    Rejected(String),
    /// The platform refused; its words.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<GrantError> for ConnectError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Refused(m) => ConnectError::Refused(m),
            GrantError::Unavailable(m) => ConnectError::Unavailable(m),
        }
    }
}

#[derive(Clone)]
pub struct Connector {
    config: Arc<PlatformsConfig>,
    redirect_url: Option<Url>,
    db: Db,
    keys: Arc<KeyRing>,
    accounts: Accounts,
    credentials: Credentials,
    journal: Journal,
    clock: SharedClock,
    http: reqwest::Client,
}

fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

impl Connector {
    #[allow(clippy::too_many_arguments, reason = "the services a connection touches")]
    pub fn new(
        config: Arc<PlatformsConfig>,
        redirect_url: Option<Url>,
        db: Db,
        keys: Arc<KeyRing>,
        journal: Journal,
        clock: SharedClock,
    ) -> Result<Self, reqwest::Error> {
        Ok(Connector {
            config,
            redirect_url,
            accounts: Accounts::new(db.clone()),
            credentials: Credentials::new(db.clone(), keys.clone()),
            db,
            keys,
            journal,
            clock,
            http: crate::platforms::http_client()?,
        })
    }

    fn app(
        &self,
        platform: &str,
    ) -> Result<(&crate::platforms::config::OAuthApp, crate::platforms::config::Endpoints), ConnectError>
    {
        if !OAUTH_PLATFORMS.contains(&platform) {
            return Err(ConnectError::Invalid(format!(
                "{platform:?} is not connected by OAuth (OAuth platforms: {}; bluesky connects with an app password)",
                OAUTH_PLATFORMS.join(", ")
            )));
        }
        let app = self.config.app(platform).ok_or_else(|| {
            ConnectError::Invalid(format!(
                "{platform} is not configured: add [platforms.{platform}] with the OAuth app's client id and secret"
            ))
        })?;
        let endpoints = app.endpoints(platform).map_err(ConnectError::Invalid)?;
        Ok((app, endpoints))
    }

    fn redirect(&self) -> Result<&Url, ConnectError> {
        self.redirect_url.as_ref().ok_or_else(|| {
            ConnectError::Invalid("platforms.redirect_url (or oidc.redirect_url) is not configured".into())
        })
    }

    /// Begins an OAuth connection for the admin `by`.
    pub async fn start(&self, request: ConnectRequest, by: &ChangedBy) -> Result<Started, ConnectError> {
        let platform = request.platform.as_str();
        let (app, endpoints) = self.app(platform)?;
        validate_tags(&request.tags).map_err(ConnectError::Invalid)?;
        if platform == "linkedin" {
            let org = request.choice.organization.as_deref().unwrap_or("");
            if org.is_empty() || org.len() > 20 || !org.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConnectError::Invalid(
                    "LinkedIn needs the organization's numeric id (organization)".into(),
                ));
            }
        }
        if request.choice.organization.is_some() && platform != "linkedin" {
            return Err(ConnectError::Invalid("organization is a LinkedIn organization's numeric id".into()));
        }
        if let Some(page) = &request.choice.page_id {
            if platform != "facebook" || page.is_empty() || !page.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConnectError::Invalid("page_id is a Facebook Page's numeric id".into()));
            }
        }
        let ops = request.operations.clone().unwrap_or_else(|| Operation::ALL.to_vec());
        if ops.is_empty() {
            return Err(ConnectError::Invalid("operations must name at least one operation".into()));
        }
        let scopes = grant::scopes(platform, &ops);
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let flow = grant::Flow {
            platform,
            app,
            endpoints: &endpoints,
            redirect: self.redirect()?,
            http: &self.http,
        };
        let (url, verifier) = grant::authorize_url(&flow, &state, &scopes);
        let hash = state_hash(&state);
        let sealed = self
            .keys
            .seal(verifier.expose().as_bytes(), &sealed::connect_pending(&hash))
            .map_err(|_| ConnectError::Unavailable("cannot seal the connection's verifier".into()))?;
        let now = self.clock.now();
        let expires_at = now.plus(PENDING_FOR);
        sqlx::query("DELETE FROM connect_pending WHERE expires_at < $1")
            .bind(now.millis())
            .execute(self.db.pool())
            .await?;
        sqlx::query(
            "INSERT INTO connect_pending (state_hash, platform, started_by, request_json, verifier_sealed, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&hash)
        .bind(platform)
        .bind(&by.name)
        .bind(serde_json::to_string(&request).unwrap_or_default())
        .bind(sealed)
        .bind(now.millis())
        .bind(expires_at.millis())
        .execute(self.db.pool())
        .await?;
        Ok(Started {
            authorize_url: url.to_string(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at,
        })
    }

    /// Finishes the connection the platform sent the browser back for.
    /// `outcome` is the code, or the platform's error (consent denied).
    pub async fn finish(
        &self,
        state: &str,
        outcome: Result<&str, String>,
        by: &ChangedBy,
    ) -> Result<Account, ConnectError> {
        let hash = state_hash(state);
        // Single use: taken now, whatever happens next.
        let row = optional(
            sqlx::query(
                "DELETE FROM connect_pending WHERE state_hash = $1 \
                 RETURNING platform, started_by, request_json, verifier_sealed, expires_at",
            )
            .bind(&hash)
            .fetch_one(self.db.pool())
            .await,
        )?;
        let Some(row) = row else {
            return Err(self
                .failed("?", by, "the connection is unknown or was already used; start it again")
                .await);
        };
        let platform: String = row.try_get("platform")?;
        let started_by: String = row.try_get("started_by")?;
        if started_by != by.name {
            return Err(self.failed(&platform, by, "this connection was started by another admin").await);
        }
        if Timestamp(row.try_get("expires_at")?) < self.clock.now() {
            return Err(self.failed(&platform, by, "the connection expired; start it again").await);
        }
        let code = match outcome {
            Ok(code) if !code.is_empty() => code,
            Ok(_) => return Err(self.failed(&platform, by, "the platform sent no authorization code").await),
            Err(why) => return Err(self.failed(&platform, by, &format!("the platform said: {why}")).await),
        };
        let request: ConnectRequest = serde_json::from_str(&row.try_get::<String, _>("request_json")?)
            .map_err(|_| ConnectError::Unavailable("the pending connection is damaged".into()))?;
        let sealed: String = row.try_get("verifier_sealed")?;
        let verifier = self
            .keys
            .open(&sealed, &sealed::connect_pending(&hash))
            .ok()
            .and_then(|v| String::from_utf8(v.to_vec()).ok())
            .map(Secret::new)
            .ok_or_else(|| ConnectError::Unavailable("the pending connection cannot be opened".into()))?;
        let (app, endpoints) = self.app(&platform)?;
        let now = self.clock.now();
        let flow = grant::Flow {
            platform: &platform,
            app,
            endpoints: &endpoints,
            redirect: self.redirect()?,
            http: &self.http,
        };
        self.attempt(&platform, by).await?;
        let grant = grant::complete(&flow, code, verifier, &request.choice, now).await;
        let grant = match grant {
            Ok(g) => g,
            Err(e) => return Err(self.failed(&platform, by, &e.to_string()).await),
        };
        self.save(&platform, grant, &request.tags, Some(endpoints.api_base.to_string()), by).await
    }

    /// Connects a Bluesky account with an app password.
    pub async fn connect_bluesky(
        &self,
        identifier: &str,
        app_password: &Secret,
        tags: &[String],
        by: &ChangedBy,
    ) -> Result<Account, ConnectError> {
        validate_tags(tags).map_err(ConnectError::Invalid)?;
        if identifier.is_empty()
            || identifier.len() > 253
            || identifier.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConnectError::Invalid(
                "identifier is the account's handle, DID or email address".into(),
            ));
        }
        let config = self.config.bluesky.clone().ok_or_else(|| {
            ConnectError::Invalid("bluesky is not configured: add [platforms.bluesky] (its PDS)".into())
        })?;
        let pds = config.pds().map_err(ConnectError::Invalid)?;
        self.attempt("bluesky", by).await?;
        let session =
            match crate::platforms::bluesky_session::create_session(&pds, identifier, app_password).await {
                Ok(s) => s,
                Err(e) => return Err(self.failed("bluesky", by, &e.to_string()).await),
            };
        let grant = PlatformGrant {
            external_id: session.did,
            handle: format!("@{}", session.handle),
            scopes: vec!["app-password".into()],
            credentials: vec![
                (CredentialKind::AccessToken, session.access, session.access_expires_at),
                (CredentialKind::RefreshToken, session.refresh, None),
                (CredentialKind::AppPassword, app_password.clone(), None),
            ],
        };
        self.save("bluesky", grant, tags, Some(pds.to_string()), by).await
    }

    /// Records that the platform is about to be called (fail closed: no record, no call).
    async fn attempt(&self, platform: &str, by: &ChangedBy) -> Result<(), ConnectError> {
        let kind = EventKind::ConnectAttempt { platform: platform.to_owned(), by: by.name.clone() };
        self.journal.record(&by.meta, by.actor.clone(), kind).await?;
        Ok(())
    }

    /// Records the failure, and returns the error to show the admin.
    async fn failed(&self, platform: &str, by: &ChangedBy, reason: &str) -> ConnectError {
        let kind = EventKind::ConnectFailed {
            platform: platform.to_owned(),
            by: by.name.clone(),
            reason: reason.to_owned(),
        };
        if let Err(e) = self.journal.record(&by.meta, by.actor.clone(), kind).await {
            return e.into();
        }
        ConnectError::Rejected(reason.to_owned())
    }

    /// Records the connection, then stores the account (new, or connected
    /// again) and its sealed credentials. A reconnect whose grant has no
    /// refresh token keeps the stored one rather than losing it.
    async fn save(
        &self,
        platform: &str,
        grant: PlatformGrant,
        tags: &[String],
        base_url: Option<String>,
        by: &ChangedBy,
    ) -> Result<Account, ConnectError> {
        let now = self.clock.now();
        let existing = self.accounts.find(platform, &grant.external_id).await?;
        let account = Account {
            id: existing
                .as_ref()
                .map(|a| a.id.clone())
                .unwrap_or_else(|| AccountId::new(format!("acct_{}", uuid::Uuid::now_v7().simple()))),
            platform: Platform::parse(platform).ok_or_else(|| {
                ConnectError::Invalid(format!("{platform:?} is not a platform Custodian knows"))
            })?,
            handle: grant.handle,
            external_id: grant.external_id,
            base_url,
            status: Status::Active,
            status_reason: None,
            tags: if tags.is_empty() {
                existing.as_ref().map(|a| a.tags.clone()).unwrap_or_default()
            } else {
                tags.to_vec()
            },
            scopes: grant.scopes,
            token_expires_at: grant
                .credentials
                .iter()
                .find(|c| c.0 == CredentialKind::AccessToken)
                .and_then(|c| c.2),
            connected_by: by.name.clone(),
            created_at: existing.as_ref().map(|a| a.created_at).unwrap_or(now),
        };
        let kind = EventKind::Change {
            change: Change::AccountConnect,
            by: by.name.clone(),
            before: existing.as_ref().map(|a| serde_json::json!(a)),
            after: Some(serde_json::json!(account)),
        };
        self.journal.record(&by.meta, by.actor.clone(), kind).await?;
        if existing.is_some() {
            self.accounts.reconnect(&account, now).await?;
        } else if !self.accounts.insert(&account).await? {
            return Err(ConnectError::Invalid("the account was connected by someone else meanwhile".into()));
        }
        let items: Vec<(CredentialKind, &Secret, Option<Timestamp>)> =
            grant.credentials.iter().map(|(k, s, e)| (*k, s, *e)).collect();
        if let Err(e) = self.credentials.store_all(&account.id, &items, now).await {
            // Not left looking usable without its tokens.
            let why = "its tokens could not be stored; connect it again";
            self.accounts.set_status(&account.id, Status::NeedsReconnect, Some(why), now).await?;
            return Err(e.into());
        }
        Ok(account)
    }

    /// Revokes at the platform (where it allows), deletes the ciphertexts,
    /// and marks the account disconnected. Recorded before anything changes.
    pub async fn disconnect(&self, account_id: &str, by: &ChangedBy) -> Result<Disconnected, ConnectError> {
        let before = self
            .accounts
            .get(account_id)
            .await?
            .ok_or_else(|| ConnectError::NotFound(format!("there is no account {account_id:?}")))?;
        if before.status == Status::Disconnected {
            return Err(ConnectError::Invalid(format!("account {account_id:?} is already disconnected")));
        }
        let mut after = before.clone();
        after.status = Status::Disconnected;
        after.status_reason = Some(format!("disconnected by {}", by.name));
        let kind = EventKind::Change {
            change: Change::AccountDisconnect,
            by: by.name.clone(),
            before: Some(serde_json::json!(before)),
            after: Some(serde_json::json!(after)),
        };
        self.journal.record(&by.meta, by.actor.clone(), kind).await?;
        let (revoked, note) = self.revoke(&before).await;
        self.credentials.delete_all(&before.id).await?;
        let now = self.clock.now();
        self.accounts
            .set_status(&before.id, Status::Disconnected, after.status_reason.as_deref(), now)
            .await?;
        let account = self.accounts.get(&before.id).await?.unwrap_or(after);
        Ok(Disconnected { account, revoked_at_platform: revoked, note })
    }

    /// Best effort: the ciphertexts are deleted whatever the platform says.
    async fn revoke(&self, account: &Account) -> (bool, Option<String>) {
        let outcome = match account.platform.as_str() {
            "sandbox" => return (false, None),
            "bluesky" => self.end_bluesky_session(account).await,
            platform => self.revoke_grant(platform, account).await,
        };
        outcome.unwrap_or_else(|why| {
            tracing::warn!(account = %account.id, reason = %why, "the platform did not revoke the token");
            (
                false,
                Some(format!(
                    "the platform did not confirm the revocation ({why}): remove Custodian's access in the \
                     platform's settings"
                )),
            )
        })
    }

    /// `deleteSession` with the refresh token; the app password itself can
    /// only be revoked in Bluesky's own settings.
    async fn end_bluesky_session(&self, account: &Account) -> Result<(bool, Option<String>), String> {
        let token = self
            .credentials
            .open(&account.id, CredentialKind::RefreshToken)
            .await
            .map_err(|e| e.to_string())?;
        let pds = self.config.bluesky.clone().unwrap_or_default().pds()?;
        crate::platforms::bluesky_session::delete_session(&pds, &token).await.map_err(|e| e.to_string())?;
        Ok((true, Some("also revoke the app password in the Bluesky app's settings".to_owned())))
    }

    /// RFC 7009: the refresh token where one is kept (which ends the grant
    /// at most platforms), then the access token.
    async fn revoke_grant(
        &self,
        platform: &str,
        account: &Account,
    ) -> Result<(bool, Option<String>), String> {
        let (app, endpoints) = self.app(platform).map_err(|e| e.to_string())?;
        let mut revoked = false;
        for kind in [CredentialKind::RefreshToken, CredentialKind::AccessToken] {
            let token = match self.credentials.open(&account.id, kind).await {
                Ok(token) => token,
                Err(VaultError::Missing { .. }) => continue,
                Err(e) => return Err(e.to_string()),
            };
            revoked = grant::revoke(platform, app, &endpoints, &token, kind, &self.http)
                .await
                .map_err(|e| e.to_string())?;
            if !revoked {
                break;
            }
        }
        let note = (!revoked).then(|| {
            format!(
                "{platform} offers no revocation of this token: remove Custodian's access in its settings"
            )
        });
        Ok((revoked, note))
    }
}
