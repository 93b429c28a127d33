//! The SCIM 2.0 service provider (RFC 7643 / RFC 7644) that Okta, Microsoft
//! Entra ID and other IdPs provision Custodian through.
//!
//! Resources are stored as the JSON the IdP wrote, checked against the
//! served schemas ([`schema`]). Every write is audited with before and after,
//! and every change that can take access away is re-assessed at once
//! (a deactivated user's sessions end before the call returns).

pub mod auth;
pub mod discovery;
pub mod filter;
pub mod patch;
pub mod schema;
pub mod service;

pub use service::{Caller, ListQuery, Scim};

/// An RFC 7644 §3.12 error: HTTP status, `scimType`, and a detail safe to show.
#[derive(Debug, Clone)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }

    /// A status with no `scimType` (415, 501, ...).
    pub fn new_status(status: u16, detail: impl Into<String>) -> Self {
        Self::new(status, None, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidFilter"), detail)
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(400, Some("tooMany"), detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, None, detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, None, "a valid SCIM bearer token is required")
    }

    pub fn too_large() -> Self {
        Self::new(413, None, "the request body is larger than this server accepts")
    }

    pub fn unavailable() -> Self {
        Self::new(503, None, "the audit journal cannot be written, so nothing was changed; retry shortly")
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(detail, "SCIM request failed");
        Self::new(500, None, "something went wrong on our side; nothing was changed")
    }
}

impl From<patch::PatchError> for ScimError {
    fn from(e: patch::PatchError) -> Self {
        Self::new(400, Some(e.scim_type()), e.to_string())
    }
}

impl From<filter::FilterError> for ScimError {
    fn from(e: filter::FilterError) -> Self {
        Self::invalid_filter(e.to_string())
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "SCIM storage error");
        Self::new(500, None, "something went wrong on our side; nothing was changed")
    }
}

impl From<crate::audit::AuditError> for ScimError {
    fn from(e: crate::audit::AuditError) -> Self {
        tracing::error!(error = %e, "SCIM change not recorded");
        Self::unavailable()
    }
}
