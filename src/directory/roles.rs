//! Custodian's roles, and how directory groups grant them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publishes and replies on the accounts tagged for their groups.
    Staff,
    /// Decides posts held for review.
    Reviewer,
    /// Manages accounts, users, locks and training records.
    Admin,
    /// Reads and exports the audit journal.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Staff, Role::Reviewer, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role held through a directory group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RoleGrant {
    pub group: String,
    pub role: Role,
}

/// The roles the user's groups grant under the configured mapping, each
/// with the group that grants it. Group names compare case-insensitively
/// (SCIM `displayName` is not case-exact).
pub fn grants(groups: &[String], mapping: &BTreeMap<Role, Vec<String>>) -> Vec<RoleGrant> {
    let mut out = Vec::new();
    for (role, granting) in mapping {
        for group in groups {
            if granting.iter().any(|g| g.eq_ignore_ascii_case(group)) {
                out.push(RoleGrant { group: group.clone(), role: *role });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_grant_roles_case_insensitively_and_unmapped_groups_grant_nothing() {
        let mapping = BTreeMap::from([
            (Role::Staff, vec!["Social-Media-Staff".to_owned()]),
            (Role::Admin, vec!["it-admins".to_owned(), "social-media-staff".to_owned()]),
        ]);
        let g = grants(&["social-media-staff".into(), "cafeteria".into()], &mapping);
        assert_eq!(
            g,
            vec![
                RoleGrant { group: "social-media-staff".into(), role: Role::Staff },
                RoleGrant { group: "social-media-staff".into(), role: Role::Admin },
            ]
        );
        assert!(grants(&["cafeteria".into()], &mapping).is_empty());
        assert_eq!(Role::parse(" Auditor"), Some(Role::Auditor));
        assert_eq!(Role::parse("root"), None);
    }
}
