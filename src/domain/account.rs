//! A connected social account, as policy, the path and the journal see it:
//! platform, handle, tags (which groups' staff may act on it), status,
//! granted scopes and when its token expires. Never a credential.

use serde::Serialize;

use super::{AccountId, Platform, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AccountStatus)]
pub enum Status {
    Active,
    /// The token could not be refreshed; an admin must connect it again.
    NeedsReconnect,
    Disconnected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::NeedsReconnect => "needs_reconnect",
            Status::Disconnected => "disconnected",
        }
    }

    /// The status stored as `s` (anything unknown: disconnected).
    pub fn parse(s: &str) -> Status {
        match s {
            "active" => Status::Active,
            "needs_reconnect" => Status::NeedsReconnect,
            _ => Status::Disconnected,
        }
    }
}

/// A connected social account; never a credential.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    #[schema(value_type = String)]
    pub id: AccountId,
    pub platform: Platform,
    pub handle: String,
    /// The platform's id of the account.
    pub external_id: String,
    #[schema(required = true)]
    pub base_url: Option<String>,
    pub status: Status,
    #[schema(required = true)]
    pub status_reason: Option<String>,
    pub tags: Vec<String>,
    pub scopes: Vec<String>,
    #[schema(required = true)]
    pub token_expires_at: Option<Timestamp>,
    pub connected_by: String,
    pub created_at: Timestamp,
}
