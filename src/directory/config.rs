//! `[directory]` and `[training]`: where the allow-list comes from, which
//! groups grant which role, how a sign-in finds its directory entry, the
//! SCIM bearer tokens, and the courses staff must have completed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::directory::roles::Role;

/// Where a user's groups and active flag come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirectorySource {
    /// The OIDC groups claim at sign-in; anyone the IdP signs in is active.
    #[default]
    OidcClaims,
    /// The SCIM 2.0 directory at `/scim/v2`, provisioned by the IdP.
    Scim,
}

/// Which SCIM attribute a sign-in's claim is matched against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkBy {
    /// SCIM `externalId` equals the claim (Okta: the user id, which is `sub`;
    /// Entra ID: the object id, claim `oid`).
    ExternalId,
    /// SCIM `userName` equals the claim, case-insensitively.
    UserName,
    /// SCIM primary email (or `userName`) equals the claim, case-insensitively.
    #[default]
    Email,
}

impl LinkBy {
    pub fn default_claim(self) -> &'static str {
        match self {
            LinkBy::ExternalId => "sub",
            LinkBy::UserName => "preferred_username",
            LinkBy::Email => "email",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    pub source: DirectorySource,
    /// Directory group names (SCIM `displayName`, or values of the OIDC
    /// groups claim) granting each role. A user in none of them is not on
    /// the allow-list.
    pub roles: BTreeMap<Role, Vec<String>>,
    /// Directory group name -> the account tags its members may act on
    /// (policy compares them with each account's tags).
    pub account_tags: BTreeMap<String, Vec<String>>,
    /// Who to ask for access; shown in every refusal.
    pub help_contact: String,
    /// With `source = "scim"`: how a sign-in is linked to its SCIM user.
    pub link_by: LinkBy,
    /// The ID-token claim matched; empty means the default for `link_by`.
    pub link_claim: String,
    pub scim: ScimConfig,
    /// With `source = "oidc-claims"`: how often an API token's owner is
    /// re-checked at the IdP (a refresh-token grant, then userinfo), so a
    /// token does not outlive its owner's account there.
    #[serde(with = "humantime_serde")]
    pub owner_recheck_interval: Duration,
    /// How long past a due re-check tokens keep working while the IdP
    /// cannot be reached; after it, they are refused until it answers.
    #[serde(with = "humantime_serde")]
    pub owner_recheck_grace: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            source: DirectorySource::default(),
            roles: BTreeMap::new(),
            account_tags: BTreeMap::new(),
            help_contact: "your Custodian administrator".to_owned(),
            link_by: LinkBy::default(),
            link_claim: String::new(),
            scim: ScimConfig::default(),
            owner_recheck_interval: Duration::from_secs(15 * 60),
            owner_recheck_grace: Duration::from_secs(30 * 60),
        }
    }
}

impl DirectoryConfig {
    pub fn link_claim(&self) -> &str {
        if self.link_claim.is_empty() {
            self.link_by.default_claim()
        } else {
            &self.link_claim
        }
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.source == DirectorySource::Scim && self.scim.tokens.is_empty() {
            problems.push(
                "directory.source = \"scim\" needs at least one directory.scim.tokens entry \
                 (create one with `custodian scim token NAME`)"
                    .to_owned(),
            );
        }
        if self.source != DirectorySource::Scim && !self.scim.tokens.is_empty() {
            problems.push(
                "directory.scim.tokens is set but directory.source is not \"scim\": the SCIM directory would \
                 be written but never consulted, so deprovisioning would not take effect"
                    .to_owned(),
            );
        }
        for (name, hash) in &self.scim.tokens {
            if crate::directory::scim::auth::parse_token_hash(hash).is_none() {
                problems.push(format!(
                    "directory.scim.tokens.{name} must be \"sha256:\" followed by 64 hex digits \
                     (the line `custodian scim token {name}` prints)"
                ));
            }
        }
        if !(Duration::from_secs(60)..=Duration::from_secs(3600)).contains(&self.owner_recheck_interval) {
            problems.push("directory.owner_recheck_interval must be between 1 minute and 1 hour".to_owned());
        }
        if self.owner_recheck_grace > Duration::from_secs(24 * 3600) {
            problems.push("directory.owner_recheck_grace must be at most 24 hours".to_owned());
        }
        if self.scim.max_results == 0 {
            problems.push("directory.scim.max_results must be at least 1".to_owned());
        }
        problems
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimConfig {
    /// Token name → `sha256:<hex>` of the bearer token. Several may be
    /// active at once, so a token is rotated by adding the new one, moving
    /// the IdP to it, then removing the old. The tokens themselves are never
    /// stored.
    pub tokens: BTreeMap<String, String>,
    /// Token name → file holding its `sha256:<hex>` line (wins over `tokens`).
    #[serde(skip_serializing)]
    pub token_files: BTreeMap<String, PathBuf>,
    /// Most resources one list response returns.
    pub max_results: usize,
    /// The URL the IdP uses for `/scim/v2`, for `meta.location`. Empty: taken
    /// from `oidc.redirect_url`'s origin.
    pub base_url: Option<url::Url>,
}

impl Default for ScimConfig {
    fn default() -> Self {
        ScimConfig { tokens: BTreeMap::new(), token_files: BTreeMap::new(), max_results: 200, base_url: None }
    }
}

/// A course that staff must have completed, and how long it stays valid.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Course {
    pub id: String,
    /// Months a completion stays valid when its record carries no expiry.
    #[serde(default = "twelve")]
    pub renewal_months: u32,
    /// Roles that need it; empty means every role.
    #[serde(default)]
    pub roles: Vec<Role>,
}

fn twelve() -> u32 {
    12
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    pub courses: Vec<Course>,
    /// A course expiring within this many days shows as a warning.
    pub warn_days: u32,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig { courses: Vec::new(), warn_days: 30 }
    }
}

impl TrainingConfig {
    pub fn course(&self, id: &str) -> Option<&Course> {
        self.courses.iter().find(|c| c.id == id)
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, c) in self.courses.iter().enumerate() {
            if c.id.is_empty() || !c.id.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)) {
                problems.push(format!("training.courses[{i}].id must be letters, digits, '-', '_' or '.'"));
            }
            if !(1..=120).contains(&c.renewal_months) {
                problems.push(format!("training.courses[{i}].renewal_months must be between 1 and 120"));
            }
            if self.courses.iter().position(|o| o.id == c.id) != Some(i) {
                problems.push(format!("training.courses: \"{}\" is listed twice", c.id));
            }
        }
        problems
    }
}
