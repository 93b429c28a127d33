//! Custodian: a governed gateway to an organization's social-media accounts.
//! See ARCHITECTURE.md for the one decision path every action takes.

pub mod action;
pub mod app;
pub mod audit;
pub mod auth;
pub mod breakglass;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod domain;
pub mod http;
pub mod identity;
pub mod inbox;
pub mod moderation;
pub mod platforms;
pub mod policy;
pub mod proxy;
pub mod queue;
pub mod review;
pub mod screen;
pub mod secret;
pub mod storage;
pub mod telemetry;
pub mod templates;
pub mod vault;

pub use http::AppState;

/// The application router over fully built state (tests drive this).
pub fn build_app(state: AppState) -> axum::Router {
    http::router(state)
}
