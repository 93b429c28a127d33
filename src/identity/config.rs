//! `[oidc]`, `[session]` and `[mfa]`: identity's sections of the
//! configuration, and what is wrong with them.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::check_https_or_loopback;
use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// Exactly as the provider's discovery document spells it (mind a trailing slash).
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    #[serde(skip_serializing)]
    pub client_secret_file: Option<PathBuf>,
    pub scopes: Vec<String>,
    /// Where the IdP sends the browser back: `https://HOST/auth/callback`.
    pub redirect_url: Option<Url>,
    /// Where the IdP's end-session endpoint sends the browser after logout.
    pub post_logout_redirect_url: Option<Url>,
    /// The claim that carries directory groups.
    pub groups_claim: String,
    #[serde(with = "humantime_serde")]
    pub http_timeout: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer_url: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            redirect_url: None,
            post_logout_redirect_url: None,
            groups_claim: "groups".to_owned(),
            http_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Automatic logoff after this long without a request.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Automatic logoff this long after sign-in, however active.
    #[serde(with = "humantime_serde")]
    pub absolute_lifetime: Duration,
    pub cookie_name: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout: Duration::from_secs(15 * 60),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            cookie_name: "custodian_session".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {
    /// Issuer label shown in authenticator apps.
    pub issuer: String,
    /// Consecutive failures allowed before delays start.
    pub throttle_after: u32,
    /// Consecutive failures that lock the factor until an admin resets it (at most 100).
    pub lockout_after: u32,
    /// Who may enroll a first factor: see [`EnrollmentMode`].
    pub enrollment: EnrollmentMode,
    /// How long an enrollment link stays usable (1 hour to 7 days).
    #[serde(with = "humantime_serde")]
    pub invite_ttl: Duration,
    /// With `enrollment = "idp"`: the ID token's `amr` values (RFC 8176)
    /// that show the IdP did multi-factor authentication at this sign-in.
    pub idp_amr: Vec<String>,
}

/// Who may enroll a first second factor. Whoever enrolls it owns the
/// account from then on, so the first enrollment must be vouched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrollmentMode {
    /// Only with a single-use enrollment link an administrator issued.
    #[default]
    Invite,
    /// When the IdP vouches for MFA at this sign-in (`amr`), or with an enrollment link.
    Idp,
    /// Anyone signed in without a factor enrolls one (trust on first use): the sandbox only.
    Open,
}

impl EnrollmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentMode::Invite => "invite",
            EnrollmentMode::Idp => "idp",
            EnrollmentMode::Open => "open",
        }
    }
}

/// Bounds on `mfa.invite_ttl`: long enough to reach a person, short enough
/// that a forgotten link does not stay a way in.
pub const INVITE_TTL_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(3600), Duration::from_secs(7 * 24 * 3600));

/// `amr` values naming something known (or mere presence): on its own, one
/// of them is no evidence of a second factor, so it may not vouch for one.
const SINGLE_FACTOR_AMR: &[&str] = &["pwd", "kba", "pin", "user"];

impl Default for MfaConfig {
    fn default() -> Self {
        MfaConfig {
            issuer: "Custodian".to_owned(),
            throttle_after: 3,
            lockout_after: 10,
            enrollment: EnrollmentMode::Invite,
            invite_ttl: Duration::from_secs(72 * 3600),
            idp_amr: vec!["mfa".to_owned()],
        }
    }
}

impl MfaConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(1..=100).contains(&self.lockout_after) {
            problems.push("mfa.lockout_after must be between 1 and 100 (NIST SP 800-63B 5.2.2)".to_owned());
        }
        if self.throttle_after >= self.lockout_after {
            problems.push("mfa.throttle_after must be smaller than mfa.lockout_after".to_owned());
        }
        let (shortest, longest) = INVITE_TTL_BOUNDS;
        if self.invite_ttl < shortest || self.invite_ttl > longest {
            problems.push("mfa.invite_ttl must be between 1h and 7days".to_owned());
        }
        if self.enrollment == EnrollmentMode::Idp && self.idp_amr.is_empty() {
            problems.push(
                "mfa.idp_amr must name at least one amr value when mfa.enrollment = \"idp\"".to_owned(),
            );
        }
        for value in self.idp_amr.iter().filter(|v| SINGLE_FACTOR_AMR.contains(&v.as_str())) {
            problems.push(format!("mfa.idp_amr: {value:?} is a single factor and cannot vouch for MFA"));
        }
        problems
    }
}

impl OidcConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match &self.issuer_url {
            None => problems.push("oidc.issuer_url is required".to_owned()),
            Some(raw) => match Url::parse(raw) {
                Ok(url) => check_https_or_loopback("oidc.issuer_url", &url, &mut problems),
                Err(e) => problems.push(format!("oidc.issuer_url is not a URL: {e}")),
            },
        }
        if self.client_id.as_deref().unwrap_or("").is_empty() {
            problems.push("oidc.client_id is required".to_owned());
        }
        if self.client_secret.is_none() {
            problems.push("oidc.client_secret (or oidc.client_secret_file) is required".to_owned());
        }
        match &self.redirect_url {
            None => problems.push("oidc.redirect_url is required".to_owned()),
            Some(url) => check_https_or_loopback("oidc.redirect_url", url, &mut problems),
        }
        if let Some(url) = &self.post_logout_redirect_url {
            check_https_or_loopback("oidc.post_logout_redirect_url", url, &mut problems);
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            problems.push("oidc.scopes must include \"openid\"".to_owned());
        }
        problems
    }
}

impl SessionConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.idle_timeout.is_zero() {
            problems.push("session.idle_timeout must be positive".to_owned());
        }
        if self.absolute_lifetime < self.idle_timeout {
            problems
                .push("session.absolute_lifetime must not be shorter than session.idle_timeout".to_owned());
        }
        if self.cookie_name.is_empty()
            || !self.cookie_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problems.push("session.cookie_name must be letters, digits, '_' or '-'".to_owned());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_factor_needs_an_invite_unless_configured_otherwise() {
        assert_eq!(MfaConfig::default().enrollment, EnrollmentMode::Invite);
        assert!(MfaConfig::default().problems().is_empty());
        let idp: MfaConfig = toml::from_str("enrollment = \"idp\"\ninvite_ttl = \"24h\"").unwrap();
        assert_eq!((idp.enrollment, idp.invite_ttl), (EnrollmentMode::Idp, Duration::from_secs(86_400)));
        assert!(toml::from_str::<MfaConfig>("enrollment = \"tofu\"").is_err());
        let short = MfaConfig { invite_ttl: Duration::from_secs(60), ..MfaConfig::default() };
        assert!(short.problems()[0].contains("mfa.invite_ttl"));
        let long = MfaConfig { invite_ttl: Duration::from_secs(8 * 86_400), ..MfaConfig::default() };
        assert!(long.problems()[0].contains("mfa.invite_ttl"));
        let password_only = MfaConfig {
            enrollment: EnrollmentMode::Idp,
            idp_amr: vec!["pwd".into()],
            ..MfaConfig::default()
        };
        assert!(password_only.problems()[0].contains("\"pwd\""));
        let nothing = MfaConfig { enrollment: EnrollmentMode::Idp, idp_amr: vec![], ..MfaConfig::default() };
        assert!(nothing.problems()[0].contains("at least one"));
    }
}
