//! OpenID Connect relying party: discovery, authorization code with PKCE
//! (S256), state and nonce, full ID-token validation (issuer, audience,
//! expiry against the [`Clock`], signature, nonce), userinfo, and the IdP's
//! end-session endpoint. The only module that imports `openidconnect`.
//!
//! Discovery is lazy and cached, so Custodian starts (and reports ready)
//! while the IdP is down; sign-in then says the provider is unreachable.
//! A signature failure re-reads the provider's keys once (key rotation).
//!
//! The refresh token a sign-in brings back is handed to the caller (to be
//! sealed), and [`Oidc::recheck`] spends it later to ask the IdP whether
//! the person is still one of its users (see `identity::recheck`). The ID
//! token a refresh brings is validated as a sign-in's is (less the nonce,
//! which only a sign-in has) and must name the same subject.

use std::collections::HashMap;
use std::sync::Arc;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenClaims, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use url::Url;

use super::OidcConfig;
use crate::clock::SharedClock;
use crate::identity::users::VerifiedIdentity;
use crate::secret::Secret;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;
type GroupsIdToken =
    IdToken<Claims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// The ID token's authentication methods (RFC 8176), as `VerifiedIdentity::other_claims` holds them.
pub const AMR_CLAIM: &str = "amr";

/// Claims beyond the standard ones; the groups claim's name is configurable.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    #[serde(flatten)]
    other: HashMap<String, serde_json::Value>,
}
impl AdditionalClaims for Claims {}

impl Claims {
    fn groups(&self, claim: &str) -> Option<Vec<String>> {
        groups_in(&self.other, claim)
    }
}

/// The groups claim `claim` among `claims`, if present as a list (or one name).
fn groups_in(claims: &HashMap<String, serde_json::Value>, claim: &str) -> Option<Vec<String>> {
    match claims.get(claim)? {
        serde_json::Value::Array(items) => {
            Some(items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        }
        serde_json::Value::String(one) => Some(vec![one.clone()]),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or its discovery document is invalid")]
    Unavailable(String),
    #[error("the identity provider refused the authorization code ({0})")]
    CodeRefused(String),
    #[error("the identity provider returned no ID token")]
    MissingIdToken,
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(&'static str),
    /// A refreshed ID token, valid, but about someone else than the grant's person.
    #[error("the refreshed ID token names another subject")]
    OtherSubject,
    #[error("the identity provider's userinfo endpoint failed")]
    UserInfo(String),
    #[error("Custodian's OpenID Connect settings are invalid: {0}")]
    Config(String),
}

/// What the IdP said when asked again about a person.
#[derive(Debug)]
pub enum Recheck {
    /// Still one of its users: a new refresh token if it rotated the old
    /// one, and their groups now: from the refreshed ID token if it has the
    /// groups claim, else from userinfo (None if neither carries them).
    Confirmed { refresh: Option<Secret>, groups: Option<Vec<String>> },
    /// It no longer accepts the grant (`invalid_grant`), or userinfo refuses
    /// the new access token: the account is gone, disabled or signed out.
    Refused(String),
    /// No usable answer: unreachable, a 5xx, a malformed reply, or an error
    /// that says nothing about the person (e.g. this client's credentials).
    Unreachable(String),
}

/// What the browser needs to start a sign-in, and what must be kept to finish it.
pub struct AuthStart {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

struct Discovered {
    client: Client,
    end_session: Option<Url>,
}

pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    clock: SharedClock,
    discovered: RwLock<Option<Arc<Discovered>>>,
}

impl Oidc {
    pub fn new(config: OidcConfig, clock: SharedClock) -> Result<Oidc, OidcError> {
        let http = reqwest::Client::builder()
            // Following redirects from an identity endpoint opens the door to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.http_timeout)
            .build()
            .map_err(|e| OidcError::Config(e.to_string()))?;
        Ok(Oidc { config, http, clock, discovered: RwLock::new(None) })
    }

    /// How long a call to the provider may take (`oidc.http_timeout`).
    pub fn http_timeout(&self) -> std::time::Duration {
        self.config.http_timeout
    }

    async fn discovered(&self, refresh: bool) -> Result<Arc<Discovered>, OidcError> {
        if !refresh {
            if let Some(d) = self.discovered.read().await.as_ref() {
                return Ok(d.clone());
            }
        }
        let mut slot = self.discovered.write().await;
        if let (false, Some(d)) = (refresh, slot.as_ref()) {
            return Ok(d.clone());
        }
        let d = Arc::new(self.discover().await?);
        *slot = Some(d.clone());
        Ok(d)
    }

    async fn discover(&self) -> Result<Discovered, OidcError> {
        let missing = |k: &str| OidcError::Config(format!("oidc.{k} is not set"));
        let issuer = IssuerUrl::new(self.config.issuer_url.clone().ok_or_else(|| missing("issuer_url"))?)
            .map_err(|e| OidcError::Config(e.to_string()))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unavailable(error_chain(&e)))?;
        let end_session =
            metadata.additional_metadata().end_session_endpoint.as_ref().map(|u| u.url().clone());
        let client_id = ClientId::new(self.config.client_id.clone().ok_or_else(|| missing("client_id"))?);
        let secret = self.config.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().to_owned()));
        let redirect = self.config.redirect_url.clone().ok_or_else(|| missing("redirect_url"))?;
        let client = CoreClient::from_provider_metadata(metadata, client_id, secret)
            .set_redirect_uri(RedirectUrl::from_url(redirect));
        Ok(Discovered { client, end_session })
    }

    /// Builds the authorization request: PKCE S256, fresh state and nonce.
    pub async fn begin(&self) -> Result<AuthStart, OidcError> {
        let d = self.discovered(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = d.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(AuthStart {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code, validates the ID token against `nonce`, and reads
    /// userinfo. Returns the identity and the refresh token, if one came.
    pub async fn complete(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<(VerifiedIdentity, Option<Secret>), OidcError> {
        let d = self.discovered(false).await?;
        let response = d
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => OidcError::CodeRefused(r.error().to_string()),
                other => OidcError::Unavailable(error_chain(&other)),
            })?;
        let raw = response.id_token().ok_or(OidcError::MissingIdToken)?.to_string();
        let mut identity = self.verify_id_token(&raw, nonce).await?;
        let subject = openidconnect::SubjectIdentifier::new(identity.subject.clone());
        if let Ok(request) = d.client.user_info(response.access_token().clone(), Some(subject)) {
            let info: UserInfoClaims<Claims, CoreGenderClaim> = request
                .require_signed_response(false)
                .request_async(&self.http)
                .await
                .map_err(|e| OidcError::UserInfo(error_chain(&e)))?;
            if identity.email.is_none() {
                identity.email = info.email().map(|e| e.as_str().to_owned());
                identity.email_verified = info.email_verified();
            }
            if identity.name.is_none() {
                identity.name = info.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
            }
            if identity.groups.is_empty() {
                identity.groups =
                    info.additional_claims().groups(&self.config.groups_claim).unwrap_or_default();
            }
            if identity.preferred_username.is_none() {
                identity.preferred_username = info.preferred_username().map(|u| u.as_str().to_owned());
            }
            // `amr` describes this authentication, which only the ID token
            // attests: userinfo never supplies it.
            for (k, v) in info.additional_claims().other.iter().filter(|(k, _)| k.as_str() != AMR_CLAIM) {
                identity.other_claims.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let refresh = response.refresh_token().map(|t| Secret::new(t.secret().clone()));
        Ok((identity, refresh))
    }

    /// Asks the IdP about `subject` again: a refresh-token grant; then the
    /// ID token it brought, validated in full and naming the same subject,
    /// whose groups claim counts when it has one (Entra ID, Okta); else
    /// userinfo with the new access token (which must name the same subject).
    pub async fn recheck(&self, refresh: &Secret, subject: &str) -> Recheck {
        let d = match self.discovered(false).await {
            Ok(d) => d,
            Err(e) => return Recheck::Unreachable(e.to_string()),
        };
        let token = RefreshToken::new(refresh.expose().to_owned());
        let request = match d.client.exchange_refresh_token(&token) {
            Ok(request) => request,
            Err(e) => return Recheck::Unreachable(format!("no token endpoint: {e}")),
        };
        let response = match request.request_async(&self.http).await {
            Ok(response) => response,
            Err(RequestTokenError::ServerResponse(r)) => {
                let code = r.error().to_string();
                return if code == "invalid_grant" {
                    Recheck::Refused(format!("the identity provider refused the grant ({code})"))
                } else {
                    Recheck::Unreachable(format!("the identity provider answered {code}"))
                };
            }
            Err(e) => return Recheck::Unreachable(error_chain(&e)),
        };
        let rotated = || response.refresh_token().map(|t| Secret::new(t.secret().clone()));
        if let Some(id_token) = response.id_token() {
            match self.verify_refreshed_id_token(&id_token.to_string(), subject).await {
                Ok(identity) => {
                    if let Some(groups) = groups_in(&identity.other_claims, &self.config.groups_claim) {
                        return Recheck::Confirmed { refresh: rotated(), groups: Some(groups) };
                    }
                }
                Err(OidcError::OtherSubject) => {
                    return Recheck::Refused("the refreshed ID token names another subject".into())
                }
                // Not the IdP's word about the person (a broken token, keys
                // that cannot be read): nothing is confirmed by it.
                Err(e) => return Recheck::Unreachable(e.to_string()),
            }
        }
        let expected = openidconnect::SubjectIdentifier::new(subject.to_owned());
        let request = match d.client.user_info(response.access_token().clone(), Some(expected)) {
            Ok(request) => request,
            // No userinfo endpoint: the refresh grant alone is the IdP's word.
            Err(_) => return Recheck::Confirmed { refresh: rotated(), groups: None },
        };
        let info: Result<UserInfoClaims<Claims, CoreGenderClaim>, _> =
            request.require_signed_response(false).request_async(&self.http).await;
        match info {
            Ok(info) => Recheck::Confirmed {
                refresh: rotated(),
                groups: info.additional_claims().groups(&self.config.groups_claim),
            },
            Err(openidconnect::UserInfoError::Response(status, ..)) if status.as_u16() == 401 => {
                Recheck::Refused("the identity provider's userinfo refused the new access token".into())
            }
            Err(openidconnect::UserInfoError::ClaimsVerification(_)) => {
                Recheck::Refused("the identity provider's userinfo named another subject".into())
            }
            Err(e) => Recheck::Unreachable(error_chain(&e)),
        }
    }

    /// Validates a raw ID token: signature, issuer, audience, expiry (by the
    /// Clock) and nonce. Public so tests can feed it tokens minted elsewhere.
    pub async fn verify_id_token(&self, raw: &str, nonce: &str) -> Result<VerifiedIdentity, OidcError> {
        self.validated(raw, &Nonce::new(nonce.to_owned())).await
    }

    /// Validates the ID token of a refresh-token grant (OpenID Connect Core
    /// 12.2) as [`Oidc::verify_id_token`] does, but for the nonce: only a
    /// sign-in has one, and it is not kept. Its subject must be `subject`,
    /// the person the grant was issued to, or it is [`OidcError::OtherSubject`].
    pub async fn verify_refreshed_id_token(
        &self,
        raw: &str,
        subject: &str,
    ) -> Result<VerifiedIdentity, OidcError> {
        let any_nonce = |_: Option<&Nonce>| -> Result<(), String> { Ok(()) };
        let identity = self.validated(raw, any_nonce).await?;
        if identity.subject != subject {
            return Err(OidcError::OtherSubject);
        }
        Ok(identity)
    }

    /// Signature (re-reading the provider's keys once, for a rotation),
    /// issuer, audience, expiry by the Clock, and the nonce as `nonce` checks it.
    async fn validated<N>(&self, raw: &str, nonce: N) -> Result<VerifiedIdentity, OidcError>
    where
        N: openidconnect::NonceVerifier + Copy,
    {
        let token: GroupsIdToken = raw.parse().map_err(|_| OidcError::InvalidIdToken("it is not a JWT"))?;
        let mut d = self.discovered(false).await?;
        let mut retried = false;
        loop {
            let clock = self.clock.clone();
            let verifier = d.client.id_token_verifier().set_time_fn(move || {
                chrono::DateTime::from_timestamp_millis(clock.now().millis()).unwrap_or_default()
            });
            let result = token.claims(&verifier, nonce).map(|claims| self.identity(claims));
            drop(verifier);
            match result {
                Ok(identity) => return Ok(identity),
                Err(ClaimsVerificationError::SignatureVerification(_)) if !retried => {
                    retried = true;
                    d = self.discovered(true).await?;
                }
                Err(e) => return Err(OidcError::InvalidIdToken(describe(&e))),
            }
        }
    }

    fn identity(&self, claims: &IdTokenClaims<Claims, CoreGenderClaim>) -> VerifiedIdentity {
        let mut other_claims = claims.additional_claims().other.clone();
        // A standard claim, so not among the additional ones: kept with
        // them for the enrollment rules ("idp" mode).
        if let Some(amr) = claims.auth_method_refs() {
            let values = amr.iter().map(|m| serde_json::Value::String(m.as_str().to_owned())).collect();
            other_claims.insert(AMR_CLAIM.to_owned(), serde_json::Value::Array(values));
        }
        VerifiedIdentity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified(),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            groups: claims.additional_claims().groups(&self.config.groups_claim).unwrap_or_default(),
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
            other_claims,
        }
    }

    /// The IdP's end-session URL for RP-initiated logout, if it advertises one.
    pub async fn end_session_url(&self) -> Option<Url> {
        let d = self.discovered(false).await.ok()?;
        let endpoint = d.end_session.clone()?;
        let mut request = LogoutRequest::from(openidconnect::EndSessionUrl::from_url(endpoint));
        if let Some(id) = &self.config.client_id {
            request = request.set_client_id(ClientId::new(id.clone()));
        }
        if let Some(url) = &self.config.post_logout_redirect_url {
            request = request.set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(url.clone()));
        }
        Some(request.http_get_url())
    }
}

fn describe(e: &ClaimsVerificationError) -> &'static str {
    match e {
        ClaimsVerificationError::Expired(_) => "it has expired",
        ClaimsVerificationError::InvalidAudience(_) => "it was issued for another client (audience mismatch)",
        ClaimsVerificationError::InvalidIssuer(_) => "it was issued by another provider (issuer mismatch)",
        ClaimsVerificationError::InvalidNonce(_) => "it was issued for another sign-in (nonce mismatch)",
        ClaimsVerificationError::SignatureVerification(_) => "its signature does not verify",
        ClaimsVerificationError::InvalidSubject(_) => "its subject is missing or invalid",
        _ => "its claims are not acceptable",
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
