//! Who may act: the directory allow-list, roles and training records.
//!
//! For now it holds the one place where the sign-in gate goes. The SCIM
//! directory (a later change) fills it in; until then every valid identity
//! is admitted and the refusal type already exists for callers to handle.

use crate::identity::VerifiedIdentity;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryRefusal {
    #[error("you are not on the directory allow-list; ask your Custodian administrator for access")]
    NotAllowListed,
}

/// The directory gate at sign-in. Every sign-in passes through here.
pub fn admit_sign_in(_identity: &VerifiedIdentity) -> Result<(), DirectoryRefusal> {
    Ok(())
}

/// Whether the user may read the audit journal: a member of a configured
/// auditor group (until roles come from the directory and policy).
pub fn is_auditor(groups: &[String], auditor_groups: &[String]) -> bool {
    groups.iter().any(|g| auditor_groups.contains(g))
}
