//! The policy's view of who asks, built from what the directory gate found.

use crate::directory::training::State;
use crate::directory::{Access, DirectoryConfig};
use crate::identity::User;

use super::Principal;

/// The user as policy sees them: groups, roles, the account tags their
/// groups grant ([directory.account_tags]) and whether training is current.
pub fn principal_of(user: &User, access: &Access, config: &DirectoryConfig) -> Principal {
    let mut account_tags: Vec<String> =
        access.groups.iter().filter_map(|g| config.account_tags.get(g)).flatten().cloned().collect();
    account_tags.sort();
    account_tags.dedup();
    Principal {
        id: user.id.clone(),
        // Only an email the IdP verified: anyone can claim another.
        email: user.verified_email().unwrap_or_default(),
        groups: access.groups.clone(),
        roles: access.roles.iter().map(|r| r.to_string()).collect(),
        account_tags,
        training_current: access.training.iter().all(|t| matches!(t.state, State::Current | State::Expiring)),
    }
}
