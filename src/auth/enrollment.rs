//! Who may enroll a first second factor (`mfa.enrollment`), and the
//! enrollment links administrators issue for it.
//!
//! Whoever enrolls the first factor owns the account from then on, so a
//! user without one is admitted to the enrollment page only when something
//! besides the SSO password vouches for them:
//!
//! ```text
//!   "invite": a single-use link an administrator issued for this user, unexpired
//!   "idp":    the ID token of this session's sign-in shows MFA (amr ∩ mfa.idp_amr), or an invite
//!   "open":   nothing (trust on first use): the sandbox only
//! ```
//!
//! This module must never admit an enrollment the mode does not allow, use
//! an invite twice, or record or show an invite's token (only its id).

use std::time::Duration;

use crate::audit::{Actor, AuditError, EventKind, RequestMeta};
use crate::auth::{AuthError, Identity, MfaPassed, SessionPrincipal};
use crate::identity::invites::{Invite, InviteRefusal, IssuedInvite};
use crate::identity::mfa::{Enrollment, FactorState, Method};
use crate::identity::oidc::AMR_CLAIM;
use crate::identity::session::SessionId;
use crate::identity::{EnrollmentMode, MfaConfig, User, VerifiedIdentity};
use crate::secret::Secret;

/// Where an enrollment link leads, beside `oidc.redirect_url`.
pub const INVITE_PATH: &str = "/auth/mfa/invite";

/// The enrollment settings in force.
#[derive(Debug, Clone)]
pub struct EnrollmentRules {
    pub mode: EnrollmentMode,
    pub invite_ttl: Duration,
    pub accepted_amr: Vec<String>,
    /// Whom a refused user asks (`directory.help_contact`).
    pub help_contact: String,
    /// The absolute enrollment-link URL, without its token.
    pub link: Option<url::Url>,
}

impl EnrollmentRules {
    /// The rules of `[mfa]`; enrollment links lead beside `redirect_url`
    /// (`oidc.redirect_url`), and refused users ask `help_contact`.
    pub fn new(mfa: &MfaConfig, redirect_url: Option<&url::Url>, help_contact: String) -> Self {
        EnrollmentRules {
            mode: mfa.enrollment,
            invite_ttl: mfa.invite_ttl,
            accepted_amr: mfa.idp_amr.clone(),
            help_contact,
            link: redirect_url.and_then(|u| u.join(INVITE_PATH).ok()),
        }
    }

    /// The `amr` values of a sign-in that vouch for MFA here; empty when
    /// they do not (or when the mode does not look at them).
    pub fn vouching_amr(&self, identity: &VerifiedIdentity) -> Vec<String> {
        if self.mode != EnrollmentMode::Idp {
            return Vec::new();
        }
        let Some(serde_json::Value::Array(values)) = identity.other_claims.get(AMR_CLAIM) else {
            return Vec::new();
        };
        let presented: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
        if !presented.iter().any(|v| self.accepted_amr.iter().any(|a| a == v)) {
            return Vec::new();
        }
        presented.into_iter().map(str::to_owned).collect()
    }
}

/// What allowed an enrollment (recorded as its method).
#[derive(Debug, Clone)]
pub enum Allowed {
    Open,
    Invite(Invite),
    IdpAmr(Vec<String>),
}

impl Allowed {
    pub fn method(&self) -> &'static str {
        match self {
            Allowed::Open => "open",
            Allowed::Invite(_) => "invite",
            Allowed::IdpAmr(_) => "idp_amr",
        }
    }
}

/// Why a user without a factor may not enroll one now.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnrollRefused {
    #[error(
        "Your second factor must be set up with an enrollment link from your administrator{}: ask {contact} for one.",
        if *.idp { " (or by signing in with your organization's multi-factor sign-in)" } else { "" }
    )]
    NeedsInvite { contact: String, idp: bool },
    #[error("{}: ask {contact} for a new one.", capitalized(&.refusal.to_string()))]
    Invite { refusal: InviteRefusal, contact: String },
}

fn capitalized(message: &str) -> String {
    let mut s = message.to_owned();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// Why an enrollment link was not issued.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error(
        "no user {0:?}: give a user id, or an email address that matches exactly one user who has signed in"
    )]
    NoSuchUser(String),
    #[error("{0} already has a second factor; if it is lost, reset it first (custodian users reset-mfa)")]
    AlreadyEnrolled(String),
    #[error("oidc.redirect_url is not set, so an enrollment link has no address")]
    NoAddress,
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// A link issued: shown once to the administrator, never stored.
pub struct IssuedLink {
    pub invite: Invite,
    pub user: User,
    pub link: Secret,
    pub voided: Vec<String>,
}

impl Identity {
    pub fn enrollment_rules(&self) -> &EnrollmentRules {
        &self.rules
    }

    /// Whether this session's user (who has no factor yet) may enroll one
    /// now, and what allows it. An invite presented but refused, and a
    /// refusal for want of one, are recorded.
    pub async fn may_enroll(
        &self,
        principal: &SessionPrincipal,
        invite_token: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<Allowed, AuthError> {
        let contact = || self.rules.help_contact.clone();
        if let Some(token) = invite_token {
            return match self.invites.check(token, &principal.user().id).await? {
                Ok(invite) => Ok(Allowed::Invite(invite)),
                Err((refusal, invite_id)) => {
                    let kind = EventKind::MfaInviteRefused { invite_id, reason: refusal.code().to_owned() };
                    self.journal.record(meta, principal.actor(), kind).await?;
                    Err(AuthError::Enrollment(EnrollRefused::Invite { refusal, contact: contact() }))
                }
            };
        }
        match self.rules.mode {
            EnrollmentMode::Open => return Ok(Allowed::Open),
            EnrollmentMode::Idp if !principal.session.idp_mfa_amr.is_empty() => {
                return Ok(Allowed::IdpAmr(principal.session.idp_mfa_amr.clone()));
            }
            EnrollmentMode::Idp | EnrollmentMode::Invite => {}
        }
        let idp = self.rules.mode == EnrollmentMode::Idp;
        let refused = EnrollRefused::NeedsInvite { contact: contact(), idp };
        let source = crate::audit::throttle::Source::Named(format!("user:{}", principal.user().id));
        let reason = if idp {
            "no second factor, no enrollment link, and the IdP did not vouch for MFA at this sign-in"
        } else {
            "no second factor and no enrollment link"
        };
        self.journal
            .record_denial(
                "mfa_enrollment",
                source,
                meta,
                principal.actor(),
                "mfa_enrollment",
                reason.to_owned(),
            )
            .await?;
        Err(AuthError::Enrollment(refused))
    }

    /// The enrollment page's content, if this user may enroll now.
    pub async fn begin_enrollment(
        &self,
        principal: &SessionPrincipal,
        invite_token: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<Enrollment, AuthError> {
        self.may_enroll(principal, invite_token, meta).await?;
        let account = principal.user().email.clone().unwrap_or_else(|| principal.user().subject.clone());
        self.mfa.begin_enrollment(&principal.user().id, &account).await.map_err(AuthError::Mfa)
    }

    /// Confirms enrollment with a code, if the mode allows it; on success
    /// the session passes its second factor. An invite is used up first:
    /// should anything after fail, it is spent rather than reusable.
    pub async fn confirm_enrollment(
        &self,
        id: &SessionId,
        principal: &SessionPrincipal,
        code: &str,
        invite_token: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<MfaPassed, AuthError> {
        let allowed = self.may_enroll(principal, invite_token, meta).await?;
        let result = self.mfa.check_enrollment_code(&principal.user().id, code).await;
        self.after_attempt(principal, Method::Totp, result, meta).await?;
        let (invite_id, amr) = match &allowed {
            Allowed::Invite(invite) => {
                if !self.invites.consume(&invite.id).await? {
                    // Used (or expired) by another request since the check.
                    let refusal = InviteRefusal::Used;
                    let kind = EventKind::MfaInviteRefused {
                        invite_id: Some(invite.id.clone()),
                        reason: refusal.code().into(),
                    };
                    self.journal.record(meta, principal.actor(), kind).await?;
                    let contact = self.rules.help_contact.clone();
                    return Err(AuthError::Enrollment(EnrollRefused::Invite { refusal, contact }));
                }
                (Some(invite.id.clone()), Vec::new())
            }
            Allowed::IdpAmr(amr) => (None, amr.clone()),
            Allowed::Open => (None, Vec::new()),
        };
        // Recorded first: if the journal is down, the factor stays off.
        let kind = EventKind::MfaEnrolled { method: allowed.method().to_owned(), invite_id, amr };
        self.journal.record(meta, principal.actor(), kind).await?;
        let codes = self.mfa.enable(&principal.user().id).await.map_err(AuthError::Mfa)?;
        self.pass(id, principal, Method::Totp, Some(codes), meta).await
    }

    /// Issues an enrollment link for the user `user_ref` names (id or
    /// email), voiding their earlier open one. Recorded before it exists;
    /// `actor` and `by` name the administrator.
    pub async fn invite(
        &self,
        user_ref: &str,
        by: &str,
        actor: Actor,
        meta: &RequestMeta,
    ) -> Result<IssuedLink, InviteError> {
        let user =
            self.users.find(user_ref).await?.ok_or_else(|| InviteError::NoSuchUser(user_ref.to_owned()))?;
        if matches!(self.mfa.state(&user.id).await?, FactorState::Enabled | FactorState::Locked) {
            let name = user.email.clone().unwrap_or_else(|| user.id.clone());
            return Err(InviteError::AlreadyEnrolled(name));
        }
        let mut link = self.rules.link.clone().ok_or(InviteError::NoAddress)?;
        let voiding = self.invites.open_for(&user.id).await?;
        for invite_id in &voiding {
            let kind = EventKind::MfaInviteVoided {
                invite_id: invite_id.clone(),
                user_id: user.id.clone(),
                by: by.to_owned(),
                reason: "replaced".to_owned(),
            };
            self.journal.record(meta, actor.clone(), kind).await?;
        }
        let expires_at = self.clock.now().plus(self.rules.invite_ttl);
        let IssuedInvite { invite, token, voided } = {
            // The id is known only once stored; the event names the invite
            // by the id it is about to get.
            let invite_id = crate::identity::invites::new_id();
            let kind = EventKind::MfaInviteIssued {
                invite_id: invite_id.clone(),
                user_id: user.id.clone(),
                by: by.to_owned(),
                expires_at,
            };
            self.journal.record(meta, actor, kind).await?;
            self.invites.issue(&invite_id, &user.id, by, expires_at, voiding).await?
        };
        // A secret shown while the factor was pending is discarded: the
        // invited enrollment starts with a new one.
        self.mfa.discard_pending(&user.id).await?;
        link.query_pairs_mut().append_pair("token", token.expose());
        Ok(IssuedLink { invite, user, link: Secret::new(link.to_string()), voided })
    }
}
