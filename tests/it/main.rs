//! One integration-test binary: every test drives the real router against
//! real peers on loopback (the development OpenID provider, SQLite and
//! PostgreSQL).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

mod actions;
mod audit;
mod bluesky;
mod bluesky_pds;
mod breakglass;
pub mod cli;
mod connect;
mod crash;
mod directory;
mod doors;
mod edge;
mod enrollment;
mod facebook;
mod floods;
mod http_base;
mod identity_binding;
mod instagram;
mod journal;
mod layers;
mod leaks;
mod linkedin;
mod mastodon;
mod mfa;
mod moderation;
mod openapi;
mod policy;
mod proxy;
mod proxy_platforms;
mod refresh;
mod review;
mod sandbox;
mod schedule;
mod scim;
mod screen;
mod sessions;
mod siem;
mod sign_in;
mod templates;
mod tls;
pub mod tokens;
mod vault;
mod x;
