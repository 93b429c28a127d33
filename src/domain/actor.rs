//! Who acted, as the journal records it.

use serde::Serialize;

use super::Timestamp;

/// Who acted. Sessions appear only by their public handle.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Actor {
    pub user_id: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub session_handle: Option<String>,
    pub mfa_method: Option<String>,
    pub mfa_at: Option<Timestamp>,
    /// The API token the caller acted with (its public id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}
