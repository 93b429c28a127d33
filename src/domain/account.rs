//! A connected social account, as policy, the path and the journal see it:
//! platform, handle, tags (which groups' staff may act on it), status,
//! granted scopes and when its token expires. Never a credential.

use serde::Serialize;

use super::{Platform, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    pub platform: Platform,
    pub handle: String,
    pub external_id: String,
    pub base_url: Option<String>,
    pub status: Status,
    pub status_reason: Option<String>,
    pub tags: Vec<String>,
    pub scopes: Vec<String>,
    pub token_expires_at: Option<Timestamp>,
    pub connected_by: String,
    pub created_at: Timestamp,
}
