//! The HTTP surface: routers for `/auth`, `/api/v1`, health, static assets;
//! the middleware every request passes (request id, tracing span, security
//! headers, body limit, timeout, CSRF guard, panic catcher). The only module
//! that knows status codes and HTML. Handlers are thin.

mod accounts;
pub(crate) mod actions;
mod admin;
mod api;
mod audit_api;
mod auth;
mod breakglass;
pub mod connections;
pub mod error;
pub mod extract;
mod health;
mod metrics;
mod moderation;
pub mod openapi;
mod pages;
mod proxy;
mod reviews;
mod routes;
mod scim;
mod templates;
pub mod tls;
mod tokens;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::audit::Journal;
use crate::auth::Identity;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::storage::Db;

pub use routes::api_paths;

/// Everything a handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub identity: Identity,
    pub journal: Journal,
    pub clock: SharedClock,
    /// The SIEM streaming tasks; they stop when the last copy of the state is dropped.
    pub stream: Arc<crate::audit::stream::StreamHandle>,
    pub scim: crate::directory::scim::Scim,
    pub keys: Arc<crate::vault::KeyRing>,
    pub accounts: crate::platforms::accounts::Accounts,
    pub refresher: Arc<crate::platforms::refresh::Refresher>,
    pub policies: Arc<crate::policy::PolicyStore>,
    pub actions: Arc<crate::action::ActionPath>,
    pub breakglass: crate::breakglass::BreakGlass,
    pub reviews: crate::review::Reviews,
    pub templates: crate::templates::Templates,
    pub moderation: crate::moderation::Moderation,
}

impl AppState {
    pub fn directory(&self) -> &crate::directory::Directory {
        &self.identity.directory
    }

    /// The access review of `users` (read, and recorded, by the caller),
    /// with the break-glass uses awaiting acknowledgement and the posts made
    /// outside Custodian.
    pub async fn access_review(
        &self,
        users: Vec<crate::directory::review::ReviewRow>,
    ) -> Result<crate::directory::review::AccessReview, sqlx::Error> {
        Ok(crate::directory::review::AccessReview {
            users,
            breakglass: self.breakglass.unacknowledged().await?,
            unrecorded_posts: self.moderation.unrecorded().await?,
        })
    }
}

const STYLESHEET: &str = include_str!("../../static/app.css");

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        STYLESHEET,
    )
        .into_response()
}

/// The whole application router, with its middleware.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let api = routes::api_routes().into_iter().fold(Router::new(), |r, (path, route)| r.route(path, route));
    // With `[metrics] listen`, /metrics is served there only (`metrics_router`).
    let api =
        if config.metrics.listen.is_none() { api.route("/metrics", get(metrics::metrics)) } else { api };
    let routes = api
        .route("/", get(auth::home))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/app.css", get(stylesheet))
        .route("/auth/login", get(auth::login))
        .route("/auth/callback", get(auth::callback))
        .route("/auth/mfa", get(auth::mfa_page))
        .route("/auth/mfa/invite", get(auth::invite))
        .route("/auth/mfa/enroll", post(auth::enroll))
        .route("/auth/mfa/verify", post(auth::verify))
        .route("/auth/logout", post(auth::logout))
        .route("/connect/callback", get(accounts::callback))
        .route("/sandbox/{id}", get(accounts::timeline))
        .route("/sandbox/{id}/{post}", get(accounts::sandbox_post))
        .route("/sandbox/{id}/posts/{post}/comments", post(accounts::practice_comment))
        .route("/accounts/{account}/posts", post(actions::publish_form))
        .route("/reviews/{id}", get(reviews::page))
        .route("/reviews/{id}/withdraw", post(reviews::withdraw_form))
        .nest("/scim/v2", scim::router(state.clone()))
        .fallback(auth::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), extract::csrf_guard))
        .with_state(state.clone());
    // Bodies and time are limited here, except for the pass-through proxy,
    // which reads (and limits) its own body, so that an oversized one is
    // refused on the record, and answers within the platform call's time limit.
    let limited = routes.layer(
        ServiceBuilder::new()
            .layer(RequestBodyLimitLayer::new(config.http.body_limit_bytes))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.http.request_timeout))
            .layer(DefaultBodyLimit::max(config.http.body_limit_bytes)),
    );
    let proxy = Router::new()
        .route("/proxy/{*path}", axum::routing::any(proxy::pass_through))
        .with_state(state)
        .layer(DefaultBodyLimit::disable());

    let request_id = HeaderName::from_static("x-request-id");
    let mut router = limited.merge(proxy).layer(
        ServiceBuilder::new()
            .layer(tower::util::MapRequestLayer::new(drop_unusable_request_id))
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                // The path only: query strings carry authorization codes.
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(middleware::from_fn(error::answers))
            .layer(CatchPanicLayer::custom(|_| error::Problem::Internal.into_response())),
    );
    for (name, value) in security_headers(&config) {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    router.layer(middleware::from_fn(scim::error_format))
}

/// `/metrics` alone, for the separate listener `[metrics] listen` names.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics::metrics)).with_state(state)
}

/// A client's `X-Request-Id` is kept only if it is one short token (at most
/// 64 of `[A-Za-z0-9._-]`); otherwise it is removed and a fresh id is made.
/// The id lands in logs, audit events and the response, so it must not
/// carry anything a client could use to forge or bloat them.
fn drop_unusable_request_id<B>(mut request: Request<B>) -> Request<B> {
    let mut values = request.headers().get_all("x-request-id").iter();
    let usable = match (values.next(), values.next()) {
        (Some(v), None) => {
            let id = v.as_bytes();
            (1..=64).contains(&id.len())
                && id.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        }
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !usable {
        request.headers_mut().remove("x-request-id");
    }
    request
}

fn security_headers(config: &Config) -> Vec<(HeaderName, HeaderValue)> {
    // Logout posts a form that redirects to the IdP; form-action must allow it.
    let idp_origin = config
        .oidc
        .issuer_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self' {idp_origin}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp).ok()),
        (header::X_CONTENT_TYPE_OPTIONS, Some(HeaderValue::from_static("nosniff"))),
        (header::X_FRAME_OPTIONS, Some(HeaderValue::from_static("DENY"))),
        (header::REFERRER_POLICY, Some(HeaderValue::from_static("no-referrer"))),
        (header::CACHE_CONTROL, Some(HeaderValue::from_static("no-store"))),
    ];
    if config.tls.enabled() {
        let hsts = HeaderValue::from_static("max-age=31536000; includeSubDomains");
        headers.push((header::STRICT_TRANSPORT_SECURITY, Some(hsts)));
    }
    headers.into_iter().filter_map(|(n, v)| v.map(|v| (n, v))).collect()
}
