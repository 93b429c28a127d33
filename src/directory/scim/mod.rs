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

use crate::domain::Kind;

/// An RFC 7644 §3.12 error: what kind of refusal it is (the HTTP layer
/// answers each kind with its status), `scimType`, and a detail safe to show.
#[derive(Debug, Clone)]
pub struct ScimError {
    pub kind: Kind,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    fn new(kind: Kind, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError { kind, scim_type, detail: detail.into() }
    }

    /// A refusal with no `scimType` (415, 405, ...).
    pub fn of_kind(kind: Kind, detail: impl Into<String>) -> Self {
        Self::new(kind, None, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, Some("invalidSyntax"), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, Some("invalidValue"), detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, Some("invalidFilter"), detail)
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, Some("tooMany"), detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, Some("uniqueness"), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, None, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, None, detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(Kind::Unauthenticated, None, "a valid SCIM bearer token is required")
    }

    pub fn too_large() -> Self {
        Self::new(Kind::PayloadTooLarge, None, "the request body is larger than this server accepts")
    }

    pub fn unavailable() -> Self {
        Self::new(
            Kind::AuditUnavailable,
            None,
            "the audit journal cannot be written, so nothing was changed; retry shortly",
        )
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(detail, "SCIM request failed");
        Self::new(Kind::Internal, None, "something went wrong on our side; nothing was changed")
    }
}

impl From<patch::PatchError> for ScimError {
    fn from(e: patch::PatchError) -> Self {
        Self::new(Kind::BadRequest, Some(e.scim_type()), e.to_string())
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
        Self::new(Kind::Internal, None, "something went wrong on our side; nothing was changed")
    }
}

impl From<crate::audit::AuditError> for ScimError {
    fn from(e: crate::audit::AuditError) -> Self {
        tracing::error!(error = %e, "SCIM change not recorded");
        Self::unavailable()
    }
}
