//! The platforms Custodian acts on, with their names in one place.

use serde::{Deserialize, Serialize};

/// A social platform an account lives on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Custodian's own stand-in platform, for trying the gateway without a real account.
    Sandbox,
    Mastodon,
    X,
    Facebook,
    Instagram,
    Linkedin,
    Bluesky,
    /// A name this build does not know (a row written by a newer build, or
    /// by hand): the account stays listed, lockable and disconnectable, and
    /// no adapter carries out anything on it.
    Unknown,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::Sandbox,
        Platform::Mastodon,
        Platform::X,
        Platform::Facebook,
        Platform::Instagram,
        Platform::Linkedin,
        Platform::Bluesky,
    ];

    /// The name configuration, the API, the journal and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Sandbox => "sandbox",
            Platform::Mastodon => "mastodon",
            Platform::X => "x",
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Linkedin => "linkedin",
            Platform::Bluesky => "bluesky",
            Platform::Unknown => "unknown",
        }
    }

    /// The platform named `name`, if Custodian knows it (never [`Platform::Unknown`]).
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Platform {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Platform {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_platform() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(Platform::parse("myspace"), None);
    }
}
