//! Authentication: turning an OIDC callback, a session cookie or an API
//! token into a caller the directory gate admits, and the second factor
//! they pass.
//!
//! [`Identity`] is the service the HTTP layer calls. Every sign-in step
//! writes its audit event before its effect is visible to the caller; if the
//! journal cannot be written, the step fails (fail closed).

pub mod enrollment;

use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::audit::throttle::{RateLimit, Source, Turn};
use crate::audit::{
    Actor, AuditError, EventKind, Journal, LoginFailure, RequestMeta, SessionEnd, Tally, Trigger,
};
use crate::clock::SharedClock;
use crate::directory::{self, Access, Admitted, Directory, GateError};
use crate::identity::{
    known, mfa, session, tokens, ApiToken, FactorState, Invites, Method, Mfa, MfaConfig, MfaError, Oidc,
    OidcError, OwnerCheck, OwnerRecheck, Presented, Session, SessionError, SessionId, Sessions, Unusable,
    User, Users,
};
use crate::storage::{optional, Db};
pub use enrollment::{EnrollRefused, EnrollmentRules, InviteError, IssuedLink};

/// A sign-in left unfinished for longer than this is discarded.
const LOGIN_FLOW_TTL: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("you are not signed in")]
    NotSignedIn,
    #[error("your session has ended")]
    SessionEnded(SessionEnd),
    /// A revocation ended the session: the reason it left, and whom to ask.
    #[error("your access was ended")]
    SessionRevoked { reason: String, contact: String },
    #[error("your second factor is required")]
    MfaRequired,
    #[error("sign-in failed")]
    SignIn(LoginFailure),
    #[error("too many sign-ins started from this address")]
    SignInsThrottled { retry_after_secs: u64 },
    #[error("{0}")]
    Denied(directory::Denied),
    #[error("{}", .0.message())]
    TokenInvalid(tokens::Unusable),
    /// `oidc-claims` mode: the IdP has not confirmed the token's owner
    /// (since the given time, past the grace; None: it cannot be asked).
    #[error("the identity provider has not confirmed the token's owner")]
    OwnerUnconfirmed(Option<crate::clock::Timestamp>),
    #[error(transparent)]
    Mfa(MfaError),
    /// A user without a factor may not enroll one now (`mfa.enrollment`).
    #[error(transparent)]
    Enrollment(EnrollRefused),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<SessionError> for AuthError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::NotFound => AuthError::NotSignedIn,
            SessionError::Expired { reason, .. } => AuthError::SessionEnded(reason),
            SessionError::Storage(e) => AuthError::Storage(e),
        }
    }
}

/// What the IdP sent back to `/auth/callback`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A signed-in caller: the session, and its user as the directory gate
/// admitted them (roles, groups, training).
#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    pub session: Session,
    pub admitted: Admitted,
}

impl SessionPrincipal {
    pub fn user(&self) -> &User {
        self.admitted.user()
    }

    pub fn access(&self) -> &Access {
        self.admitted.access()
    }

    pub fn actor(&self) -> Actor {
        session_actor(&self.session, self.user())
    }
}

/// A session's user, not (yet) through the gate: only for ending the
/// session, or recording why it ended.
#[derive(Debug, Clone)]
pub struct SessionHolder {
    pub session: Session,
    pub user: User,
}

impl SessionHolder {
    pub fn actor(&self) -> Actor {
        session_actor(&self.session, &self.user)
    }
}

/// Who acts in a session: recorded with everything they do.
fn session_actor(session: &Session, user: &User) -> Actor {
    Actor {
        user_id: Some(user.id.clone()),
        issuer: Some(user.issuer.clone()),
        subject: Some(user.subject.clone()),
        session_handle: Some(session.handle.clone()),
        mfa_method: session.mfa_method.clone(),
        mfa_at: session.mfa_verified_at,
        token_id: None,
    }
}

/// A caller acting with an API token: the token, its owner as the gate admitted them.
#[derive(Debug, Clone)]
pub struct TokenPrincipal {
    pub token: ApiToken,
    pub admitted: Admitted,
    pub actor: Actor,
}

impl TokenPrincipal {
    pub fn user(&self) -> &User {
        self.admitted.user()
    }
}

fn token_actor(user: &User, token: &ApiToken) -> Actor {
    Actor {
        user_id: Some(user.id.clone()),
        issuer: Some(user.issuer.clone()),
        subject: Some(user.subject.clone()),
        mfa_at: Some(token.mfa_verified_at),
        token_id: Some(token.id.to_string()),
        ..Actor::default()
    }
}

/// Result of a successful second-factor step: the replaced session id.
pub struct MfaPassed {
    pub session_id: SessionId,
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(Clone)]
pub struct Identity {
    pub users: Users,
    pub sessions: Sessions,
    pub mfa: Mfa,
    pub invites: Invites,
    pub oidc: Arc<Oidc>,
    pub directory: Directory,
    /// `oidc-claims` mode: API token owners re-checked at the IdP.
    recheck: Arc<OwnerRecheck>,
    rules: EnrollmentRules,
    journal: Journal,
    db: Db,
    clock: SharedClock,
    sign_ins: Arc<RateLimit>,
    /// The pending sign-ins that might exist (`known`): a slowed source's
    /// callback naming another waits its turn to be looked up.
    flows: Arc<known::Known>,
}

/// Sign-ins a source may start per minute unless configured (`http.sign_ins_per_minute`).
const SIGN_INS_PER_MINUTE: u32 = 60;

impl Identity {
    /// The identity services on `db`: sessions, the second factor (sealed
    /// with `keys`), OIDC, the directory gate, and (with `oidc-claims`) the
    /// re-check of API token owners.
    #[allow(clippy::too_many_arguments, reason = "the services a sign-in touches")]
    pub fn new(
        db: Db,
        clock: SharedClock,
        journal: Journal,
        sessions: Sessions,
        keys: Arc<crate::vault::KeyRing>,
        oidc: Arc<Oidc>,
        directory: Directory,
        mfa: MfaConfig,
        rules: EnrollmentRules,
    ) -> Self {
        let config = directory.config();
        let mfa = Mfa::new(db.clone(), clock.clone(), keys.clone(), mfa);
        let invites = Invites::new(db.clone(), clock.clone());
        let recheck = Arc::new(OwnerRecheck::new(
            db.clone(),
            oidc.clone(),
            keys,
            clock.clone(),
            config.owner_recheck_interval,
            config.owner_recheck_grace,
            oidc.http_timeout(),
        ));
        let sign_ins = Arc::new(RateLimit::new(
            SIGN_INS_PER_MINUTE,
            Duration::from_secs(60),
            &crate::audit::throttle::RefusalsConfig::default(),
        ));
        Identity {
            users: Users::new(db.clone()),
            sessions,
            mfa,
            invites,
            oidc,
            directory,
            rules,
            recheck,
            journal,
            db,
            clock,
            sign_ins,
            flows: Default::default(),
        }
    }

    /// At most `per_minute` sign-ins started per source, tracked within `bounds`.
    pub fn with_sign_in_limit(
        mut self,
        per_minute: u32,
        bounds: &crate::audit::throttle::RefusalsConfig,
    ) -> Self {
        self.sign_ins = Arc::new(RateLimit::new(per_minute, Duration::from_secs(60), bounds));
        self
    }

    /// The re-check of API token owners (`oidc-claims` mode).
    pub fn owner_recheck(&self) -> &OwnerRecheck {
        &self.recheck
    }

    /// Whether a token of this user could be used: in `oidc-claims` mode,
    /// only if the IdP gave a refresh token to re-check them with.
    pub async fn tokens_usable_for(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        Ok(!self.rechecks_owners() || self.recheck.has_grant(user_id).await?)
    }

    fn rechecks_owners(&self) -> bool {
        self.directory.config().source == directory::DirectorySource::OidcClaims
    }

    /// Begins a sign-in: returns the browser-bound flow id (for a cookie) and
    /// the IdP URL to send the browser to. Each one stores a pending flow, so
    /// a source may start only so many a minute; a refusal is recorded
    /// through the refusal throttle.
    pub async fn start_sign_in(&self, meta: &RequestMeta) -> Result<(String, url::Url), AuthError> {
        let source = Source::client(meta);
        if let Err(retry_after_secs) = self.sign_ins.check(source.clone(), self.clock.now()) {
            let reason =
                format!("too many sign-ins started from this address (retry in {retry_after_secs} s)");
            self.journal
                .record_denial("sign_in_rate", source, meta, Actor::default(), "sign_in", reason)
                .await?;
            return Err(AuthError::SignInsThrottled { retry_after_secs });
        }
        let start = self.oidc.begin().await.map_err(|e| {
            tracing::warn!(error = %e, "cannot start sign-in");
            AuthError::SignIn(LoginFailure::ProviderUnavailable)
        })?;
        let flow_id = session::random_token();
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO login_flows (id_hash, state, nonce, pkce_verifier, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session::sha256_hex(&flow_id))
        .bind(&start.state)
        .bind(&start.nonce)
        .bind(&start.pkce_verifier)
        .bind(now.millis())
        .execute(self.db.pool())
        .await?;
        self.flows.insert(session::sha256_hex(&flow_id));
        Ok((flow_id, start.url))
    }

    /// Deletes the sign-ins left unfinished past their lifetime (a periodic
    /// task runs it, off the request path); returns how many.
    pub async fn purge_expired_flows(&self) -> Result<u64, sqlx::Error> {
        let cutoff = self.clock.now().millis() - i64::try_from(LOGIN_FLOW_TTL.as_millis()).unwrap_or(0);
        let done = sqlx::query("DELETE FROM login_flows WHERE created_at < $1")
            .bind(cutoff)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Re-reads which API tokens and pending sign-ins might exist (`known`).
    /// Each set is refreshed even if the other cannot be.
    pub async fn refresh_known(&self) -> Result<(), sqlx::Error> {
        let tokens = self.directory.tokens.refresh_known(self.clock.now()).await.map(|_| ());
        self.flows.begin_refresh();
        let rows =
            sqlx::query_as::<_, (String,)>("SELECT id_hash FROM login_flows").fetch_all(self.db.pool()).await;
        match rows {
            Ok(rows) => self.flows.finish_refresh(rows.into_iter().map(|(hash,)| hash).collect()),
            Err(e) => {
                self.flows.abandon_refresh();
                return Err(e);
            }
        }
        tokens
    }

    /// Every `every`, for as long as the process serves: purges expired
    /// sign-ins ([`Identity::purge_expired_flows`]) and refreshes the known
    /// credentials ([`Identity::refresh_known`]); the first run is at once.
    pub fn spawn_housekeeping(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let identity = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match identity.purge_expired_flows().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(flows = n, "expired sign-ins purged"),
                    Err(e) => tracing::warn!(error = %e, "cannot purge expired sign-ins"),
                }
                if let Err(e) = identity.refresh_known().await {
                    tracing::warn!(error = %e, "cannot refresh the known tokens and sign-ins");
                }
            }
        })
    }

    /// A source refused `scope` so often that it is slowed, presenting a
    /// credential Custodian does not know, waits for its turn before the
    /// lookup (`crate::audit::throttle`, "Slowed sources"); `None` for
    /// everyone else. `Some(Turn::Lost)`: refuse without a lookup.
    async fn turn(
        &self,
        scope: &'static str,
        meta: &RequestMeta,
        known: impl FnOnce() -> bool,
    ) -> Option<Turn> {
        let hold = self.journal.slowed(scope, Source::client(meta))?;
        if known() {
            return None;
        }
        Some(hold.take_turn().await)
    }

    /// Finishes a sign-in: checks the flow and state, exchanges the code,
    /// validates the ID token, applies the directory gate and opens a session
    /// whose second factor is still due; a session this browser already had
    /// ends (a fresh id at every sign-in). Every outcome is audited.
    pub async fn finish_sign_in(
        &self,
        flow_id: Option<&str>,
        previous: Option<&SessionId>,
        params: &CallbackParams,
        meta: &RequestMeta,
    ) -> Result<(SessionId, User), AuthError> {
        let known = || flow_id.is_some_and(|id| self.flows.contains(&session::sha256_hex(id)));
        let turn = self.turn("callback", meta, known).await;
        if matches!(turn, Some(Turn::Lost)) {
            let kind =
                EventKind::LoginFailed { reason: LoginFailure::NoLoginInProgress, tally: Tally::default() };
            self.journal
                .record_refusal("callback", Source::client(meta), meta, Actor::default(), kind)
                .await?;
            return Err(AuthError::SignIn(LoginFailure::NoLoginInProgress));
        }
        let finished = self.finish_sign_in_now(flow_id, previous, params, meta).await;
        if let (Err(_), Some(turn)) = (&finished, turn) {
            turn.refused().await;
        }
        finished
    }

    async fn finish_sign_in_now(
        &self,
        flow_id: Option<&str>,
        previous: Option<&SessionId>,
        params: &CallbackParams,
        meta: &RequestMeta,
    ) -> Result<(SessionId, User), AuthError> {
        match self.sign_in_steps(flow_id, params, meta).await {
            Ok((admitted, refresh, idp_mfa_amr)) => {
                // Ending the browser's old session only restricts; the
                // login event below records it.
                let previous_session_ended = match previous {
                    Some(old) => self.sessions.delete(old).await?,
                    None => false,
                };
                let user_id = &admitted.user().id;
                let (id, session) = self.sessions.create(user_id, &idp_mfa_amr).await?;
                self.users.mark_signed_in(user_id, self.clock.now()).await?;
                let principal = SessionPrincipal { session, admitted };
                let kind = EventKind::Login { email: principal.user().email.clone(), previous_session_ended };
                let recorded = self.journal.record(meta, principal.actor(), kind).await;
                if let Err(e) = recorded {
                    // Nothing audited proceeds unaudited: take the session back.
                    self.sessions.delete(&id).await?;
                    return Err(e.into());
                }
                if self.rechecks_owners() {
                    self.recheck.remember(&principal.user().id, refresh.as_ref()).await?;
                }
                Ok((id, principal.admitted.user().clone()))
            }
            Err(SignInStepError::Refused(reason, actor)) => {
                let kind = EventKind::LoginFailed { reason: reason.clone(), tally: Tally::default() };
                if matches!(reason, LoginFailure::NoLoginInProgress) {
                    // No pending sign-in was used up: anyone can send these for free, so
                    // they are counted per source. Every other refusal consumed a flow,
                    // which only the rate-limited /auth/login makes: recorded one by one.
                    let source = Source::client(meta);
                    self.journal.record_refusal("callback", source, meta, actor, kind).await?;
                } else {
                    self.journal.record(meta, actor, kind).await?;
                }
                Err(AuthError::SignIn(reason))
            }
            Err(SignInStepError::Storage(e)) => Err(e.into()),
            Err(SignInStepError::Audit(e)) => Err(e.into()),
        }
    }

    async fn sign_in_steps(
        &self,
        flow_id: Option<&str>,
        params: &CallbackParams,
        meta: &RequestMeta,
    ) -> Result<(Admitted, Option<crate::secret::Secret>, Vec<String>), SignInStepError> {
        let refused = |r| SignInStepError::Refused(r, Actor::default());
        let flow_id = flow_id.ok_or_else(|| refused(LoginFailure::NoLoginInProgress))?;
        let flow = self.take_flow(flow_id).await?.ok_or_else(|| refused(LoginFailure::NoLoginInProgress))?;
        let state = params.state.as_deref().unwrap_or("");
        if !bool::from(flow.state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(refused(LoginFailure::StateMismatch));
        }
        if let Some(error) = &params.error {
            let code: String =
                error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            return Err(refused(LoginFailure::ProviderError(code)));
        }
        let code = params.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 2048);
        let code = code.ok_or_else(|| refused(LoginFailure::CodeExchange))?;
        let (identity, refresh) = self
            .oidc
            .complete(code, &flow.pkce_verifier, &flow.nonce)
            .await
            .map_err(|e| refused(oidc_failure(e)))?;
        let actor = Actor {
            issuer: Some(identity.issuer.clone()),
            subject: Some(identity.subject.clone()),
            ..Actor::default()
        };
        let user = self.users.upsert_from_sign_in(&identity, self.clock.now()).await?;
        let actor = Actor { user_id: Some(user.id.clone()), ..actor };
        match self.directory.admit_sign_in(&user, &identity).await {
            Ok(admitted) => Ok((admitted, refresh, self.rules.vouching_amr(&identity))),
            Err(GateError::Denied(d)) => {
                if matches!(d.refusal, directory::GateRefusal::Locked { .. }) {
                    // A pending lock (an email, a user name) now knows whom it means.
                    match self.directory.bind_pending_locks(&user, &identity, meta).await {
                        Ok(_) => {}
                        Err(directory::DirectoryError::Audit(e)) => return Err(SignInStepError::Audit(e)),
                        Err(directory::DirectoryError::Storage(e)) => return Err(e.into()),
                        Err(other) => tracing::error!(error = %other, "cannot bind a pending lock"),
                    }
                }
                Err(SignInStepError::Refused(LoginFailure::DirectoryRefused(d.to_string()), actor))
            }
            Err(GateError::Storage(e)) => Err(e.into()),
        }
    }

    /// Reads and deletes a pending sign-in (single use).
    async fn take_flow(&self, flow_id: &str) -> Result<Option<LoginFlow>, sqlx::Error> {
        let hash = session::sha256_hex(flow_id);
        // Used once, whatever comes of it: a replayed cookie is unknown from now on.
        self.flows.remove(&hash);
        let row: Option<(String, String, String, i64)> = optional(
            sqlx::query_as(
                "SELECT state, nonce, pkce_verifier, created_at FROM login_flows WHERE id_hash = $1",
            )
            .bind(&hash)
            .fetch_one(self.db.pool())
            .await,
        )?;
        // An unknown flow (a forged or replayed cookie) writes nothing.
        if row.is_none() {
            return Ok(None);
        }
        let deleted = sqlx::query("DELETE FROM login_flows WHERE id_hash = $1")
            .bind(&hash)
            .execute(self.db.pool())
            .await?;
        let fresh_after = self.clock.now().millis() - i64::try_from(LOGIN_FLOW_TTL.as_millis()).unwrap_or(0);
        Ok(row
            .filter(|r| deleted.rows_affected() == 1 && r.3 >= fresh_after)
            .map(|(state, nonce, pkce_verifier, _)| LoginFlow { state, nonce, pkce_verifier }))
    }

    /// Resolves a session cookie to a principal who passes the directory
    /// gate now; a refusal is audited. An expired session is deleted and
    /// its expiry audited.
    pub async fn principal(&self, id: &SessionId, meta: &RequestMeta) -> Result<SessionPrincipal, AuthError> {
        let SessionHolder { session, user } = self.session_user(id, meta).await?;
        let actor = session_actor(&session, &user);
        let admitted = self.gate(user, actor, meta).await?;
        Ok(SessionPrincipal { session, admitted })
    }

    /// The directory gate for a user; a refusal is recorded (as `actor`).
    async fn gate(&self, user: User, actor: Actor, meta: &RequestMeta) -> Result<Admitted, AuthError> {
        let user_id = user.id.clone();
        match self.directory.admit(user).await {
            Ok(admitted) => Ok(admitted),
            Err(GateError::Denied(d)) => {
                let source = Source::Named(format!("user:{user_id}"));
                let (scope, gate) = (d.refusal.code(), d.refusal.gate());
                self.journal.record_denial(scope, source, meta, actor, gate, d.refusal.message()).await?;
                Err(AuthError::Denied(d))
            }
            Err(GateError::Storage(e)) => Err(e.into()),
        }
    }

    /// The caller behind an API token: the token live, and its owner
    /// through the directory gate now. A refused token is recorded.
    pub async fn token_principal(
        &self,
        presented: &str,
        meta: &RequestMeta,
    ) -> Result<TokenPrincipal, AuthError> {
        let known = || self.directory.tokens.may_be_live(presented);
        let turn = self.turn("token", meta, known).await;
        if matches!(turn, Some(Turn::Lost)) {
            let reason = Unusable::Unknown.message().to_owned();
            let source = Source::client(meta);
            self.journal.record_denial("token", source, meta, Actor::default(), "token", reason).await?;
            return Err(AuthError::TokenInvalid(Unusable::Unknown));
        }
        let principal = self.token_principal_now(presented, meta).await;
        if let (Err(_), Some(turn)) = (&principal, turn) {
            turn.refused().await;
        }
        principal
    }

    async fn token_principal_now(
        &self,
        presented: &str,
        meta: &RequestMeta,
    ) -> Result<TokenPrincipal, AuthError> {
        let (found, user) = self.directory.tokens.authenticate(presented, self.clock.now()).await?;
        let (token, why) = match found {
            Presented::Live(token) => (token, None),
            Presented::Expired(token) => (token, Some(Unusable::Expired)),
            Presented::Revoked(token) => (token, Some(Unusable::Revoked)),
            Presented::Unknown => {
                // Counted per client address: random tokens are free to make, addresses are not.
                let reason = Unusable::Unknown.message().to_owned();
                let source = Source::client(meta);
                self.journal.record_denial("token", source, meta, Actor::default(), "token", reason).await?;
                return Err(AuthError::TokenInvalid(Unusable::Unknown));
            }
        };
        let actor = match &user {
            Some(user) => token_actor(user, &token),
            None => Actor { token_id: Some(token.id.to_string()), ..Actor::default() },
        };
        let (Some(user), None) = (user, why) else {
            let why = why.unwrap_or(Unusable::Unknown);
            let source = Source::Named(format!("token:{}", token.id));
            self.journal
                .record_denial("token", source, meta, actor, "token", why.message().to_owned())
                .await?;
            return Err(AuthError::TokenInvalid(why));
        };
        let user =
            if self.rechecks_owners() { self.owner_rechecked(user, &actor, meta).await? } else { user };
        let admitted = self.gate(user, actor.clone(), meta).await?;
        Ok(TokenPrincipal { token, admitted, actor })
    }

    /// `oidc-claims` mode: the token's owner as the IdP confirms them (see
    /// [`recheck`]). Refused by the IdP: their tokens, sessions and grants
    /// end, recorded. Not confirmed: the token is refused, recorded
    /// (throttled), and keeps working once the IdP answers again.
    async fn owner_rechecked(
        &self,
        user: User,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<User, AuthError> {
        let unconfirmed = match self.recheck.check(&user.id, &user.subject).await? {
            // Stored with the user by the re-check already.
            OwnerCheck::Confirmed { groups: Some(groups) } => return Ok(User { groups, ..user }),
            OwnerCheck::Confirmed { .. } | OwnerCheck::WithinGrace => return Ok(user),
            OwnerCheck::Refused(why) => {
                let ended =
                    self.directory.end_access(&user, Trigger::IdpRefused, &why, "idp", meta, true).await;
                return Err(match ended {
                    Ok(_) => AuthError::TokenInvalid(Unusable::Revoked),
                    Err(directory::DirectoryError::Audit(e)) => AuthError::Audit(e),
                    Err(directory::DirectoryError::Storage(e)) => AuthError::Storage(e),
                    Err(other) => {
                        tracing::error!(error = %other, "cannot end the access of a token owner the IdP refused");
                        AuthError::TokenInvalid(Unusable::Revoked)
                    }
                });
            }
            OwnerCheck::Unconfirmed { since } => AuthError::OwnerUnconfirmed(Some(since)),
            OwnerCheck::NoGrant => AuthError::OwnerUnconfirmed(None),
        };
        let source = Source::Named(format!("user:{}", user.id));
        let reason = "the identity provider has not confirmed the token's owner".to_owned();
        self.journal.record_denial("token_owner", source, meta, actor.clone(), "token", reason).await?;
        Err(unconfirmed)
    }

    /// The session's holder without the directory gate: only for ending
    /// the session (a refused user may still sign out).
    pub async fn session_principal(
        &self,
        id: &SessionId,
        meta: &RequestMeta,
    ) -> Result<SessionHolder, AuthError> {
        self.session_user(id, meta).await
    }

    async fn session_user(&self, id: &SessionId, meta: &RequestMeta) -> Result<SessionHolder, AuthError> {
        let session = match self.sessions.load(id).await {
            Ok(s) => s,
            Err(SessionError::Expired { session, reason }) => {
                let user = self.users.get(&session.user_id).await?;
                if let Some(user) = user {
                    let actor = session_actor(&session, &user);
                    self.journal.record(meta, actor, EventKind::SessionExpired { reason }).await?;
                }
                return Err(AuthError::SessionEnded(reason));
            }
            Err(SessionError::NotFound) => {
                // Ended (revoked, signed out) or never issued: recorded, once a minute per source.
                let revoked = self.sessions.ended_because(id).await?;
                let reason = match revoked {
                    Some(_) => "a session cookie of a session that a revocation ended",
                    None => "a session cookie that names no session (ended, revoked or forged)",
                };
                self.journal
                    .record_denial(
                        "session",
                        Source::client(meta),
                        meta,
                        Actor::default(),
                        "session",
                        reason.to_owned(),
                    )
                    .await?;
                // Only the holder of the old cookie learns why, in the words the revocation left.
                return Err(match revoked {
                    Some(reason) => AuthError::SessionRevoked {
                        reason,
                        contact: self.directory.config().help_contact.clone(),
                    },
                    None => AuthError::NotSignedIn,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let user = self.users.get(&session.user_id).await?.ok_or(AuthError::NotSignedIn)?;
        Ok(SessionHolder { session, user })
    }

    pub async fn factor_state(&self, principal: &SessionPrincipal) -> Result<FactorState, AuthError> {
        Ok(self.mfa.state(&principal.user().id).await?)
    }

    /// Verifies a TOTP or recovery code; on success the session passes.
    pub async fn verify(
        &self,
        id: &SessionId,
        principal: &SessionPrincipal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<MfaPassed, AuthError> {
        let result = self.mfa.verify(&principal.user().id, code).await;
        let method = self.after_attempt(principal, Method::of(code), result, meta).await?;
        self.pass(id, principal, method, None, meta).await
    }

    /// Checks a TOTP code afresh for a step that demands one (break-glass),
    /// leaving the session as it is. The attempt counts like any other
    /// (replay guard, throttle, lockout) and a failure is audited; a
    /// recovery code is refused here without counting.
    pub async fn verify_totp_again(
        &self,
        principal: &SessionPrincipal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), AuthError> {
        if Method::of(code) != Method::Totp {
            return Err(AuthError::Mfa(MfaError::InvalidCode));
        }
        let result = self.mfa.verify(&principal.user().id, code).await;
        self.after_attempt(principal, Method::Totp, result, meta).await.map(|_| ())
    }

    /// Audits a failed attempt (and a lockout) and turns it into an error.
    async fn after_attempt<T>(
        &self,
        principal: &SessionPrincipal,
        method: Method,
        result: Result<T, mfa::Failure>,
        meta: &RequestMeta,
    ) -> Result<T, AuthError> {
        let failure = match result {
            Ok(v) => return Ok(v),
            Err(f) => f,
        };
        if let MfaError::Storage(_) | MfaError::Seal(_) | MfaError::Totp(_) = failure.error {
            return Err(AuthError::Mfa(failure.error));
        }
        let kind = EventKind::MfaFailed {
            method: method.as_str().to_owned(),
            reason: failure.error.to_string(),
            consecutive_failures: failure.consecutive_failures,
        };
        self.journal.record(meta, principal.actor(), kind).await?;
        if failure.now_locked {
            let kind = EventKind::MfaLocked { consecutive_failures: failure.consecutive_failures };
            self.journal.record(meta, principal.actor(), kind).await?;
        }
        Err(AuthError::Mfa(failure.error))
    }

    async fn pass(
        &self,
        id: &SessionId,
        principal: &SessionPrincipal,
        method: Method,
        recovery_codes: Option<Vec<String>>,
        meta: &RequestMeta,
    ) -> Result<MfaPassed, AuthError> {
        let mut actor = principal.actor();
        actor.mfa_method = Some(method.as_str().to_owned());
        actor.mfa_at = Some(self.clock.now());
        self.journal
            .record(meta, actor, EventKind::MfaVerified { method: method.as_str().to_owned() })
            .await?;
        let session_id = self.sessions.mark_mfa_passed(id, method.as_str()).await?;
        Ok(MfaPassed { session_id, recovery_codes })
    }

    /// Ends the session server-side.
    pub async fn logout(
        &self,
        id: &SessionId,
        holder: &SessionHolder,
        meta: &RequestMeta,
    ) -> Result<(), AuthError> {
        self.journal.record(meta, holder.actor(), EventKind::Logout).await?;
        self.sessions.delete(id).await?;
        Ok(())
    }

    /// Operator action: removes a user's factor and ends their sessions.
    /// The user's API tokens go too: they carry the factor being reset.
    pub async fn reset_mfa(&self, user: &User, by: &str, meta: &RequestMeta) -> Result<u64, AuthError> {
        // Record first: the reset must not happen unaudited. The counts are
        // what the reset is about to end.
        let (sessions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(&user.id)
            .fetch_one(self.db.pool())
            .await?;
        let tokens = self.directory.tokens.live_count(&user.id).await?;
        let kind = EventKind::MfaReset {
            by: by.to_owned(),
            sessions_ended: u64::try_from(sessions).unwrap_or(0),
            tokens_revoked: tokens,
        };
        self.journal.record(meta, crate::directory::actor_of(user), kind).await?;
        self.mfa.reset(&user.id).await?;
        self.directory.tokens.revoke_all_for_user(&user.id, by, self.clock.now()).await?;
        let told = "an administrator reset your second factor; sign in again to set it up";
        Ok(self.sessions.end_all_for_user(&user.id, told).await?)
    }
}

struct LoginFlow {
    state: String,
    nonce: String,
    pkce_verifier: String,
}

enum SignInStepError {
    Refused(LoginFailure, Actor),
    Storage(sqlx::Error),
    Audit(AuditError),
}

impl From<sqlx::Error> for SignInStepError {
    fn from(e: sqlx::Error) -> Self {
        SignInStepError::Storage(e)
    }
}

fn oidc_failure(e: OidcError) -> LoginFailure {
    match e {
        OidcError::CodeRefused(code) => LoginFailure::ProviderError(code),
        OidcError::InvalidIdToken(why) => LoginFailure::InvalidIdToken(why.to_owned()),
        OidcError::MissingIdToken => LoginFailure::InvalidIdToken("the provider returned none".to_owned()),
        other => {
            tracing::warn!(error = %other, "identity provider call failed");
            LoginFailure::ProviderUnavailable
        }
    }
}
