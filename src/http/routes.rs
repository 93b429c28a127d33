//! The one list of `/api/v1` routes. The router mounts exactly these, and
//! the OpenAPI test enumerates them, so a route cannot be added without the
//! test asking for its documentation. Adding a route is one line here (and
//! its handler's `#[utoipa::path]`, listed in `openapi.rs`). Never declare
//! an `/api/v1` route elsewhere.

use axum::routing::{delete, get, post, MethodRouter};

use crate::http::{
    accounts, actions, admin, api, audit_api, breakglass, moderation, openapi, reviews, templates, tokens,
    AppState,
};

/// Every `/api/v1` path with the methods it answers.
pub(crate) fn api_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/api/v1/openapi.json", get(openapi::document)),
        ("/api/v1/me", get(api::me)),
        ("/api/v1/accounts", get(actions::mine)),
        ("/api/v1/accounts/{account}/posts", post(actions::publish)),
        ("/api/v1/accounts/{account}/posts/{post}", delete(actions::delete)),
        ("/api/v1/accounts/{account}/posts/{post}/replies", post(actions::reply)),
        ("/api/v1/accounts/{account}/posts/{post}/comments", get(actions::comments)),
        ("/api/v1/accounts/{account}/comments/{comment}/hide", post(actions::hide_comment)),
        ("/api/v1/accounts/{account}/comments/{comment}", delete(actions::delete_comment)),
        ("/api/v1/tokens", get(tokens::mine).post(tokens::create)),
        ("/api/v1/tokens/{id}", delete(tokens::revoke)),
        ("/api/v1/admin/tokens", get(tokens::all)),
        ("/api/v1/admin/tokens/{id}", delete(tokens::revoke_any)),
        ("/api/v1/reviews", get(reviews::list)),
        ("/api/v1/reviews/{id}", get(reviews::get)),
        ("/api/v1/reviews/{id}/approve", post(reviews::approve)),
        ("/api/v1/reviews/{id}/reject", post(reviews::reject)),
        ("/api/v1/reviews/{id}/withdraw", post(reviews::withdraw)),
        ("/api/v1/reviews/{id}/reschedule", post(reviews::reschedule)),
        ("/api/v1/reviews/{id}/adopt", post(reviews::adopt)),
        ("/api/v1/templates", get(templates::list).post(templates::approve)),
        ("/api/v1/templates/{id}", delete(templates::retire)),
        ("/api/v1/moderation", get(moderation::list)),
        ("/api/v1/moderation/{id}", get(moderation::get)),
        ("/api/v1/moderation/{id}/restore", post(moderation::restore)),
        ("/api/v1/moderation/{id}/keep", post(moderation::keep)),
        ("/api/v1/breakglass", post(breakglass::open).delete(breakglass::end)),
        ("/api/v1/admin/breakglass", get(breakglass::list)),
        ("/api/v1/admin/breakglass/{id}/acknowledge", post(breakglass::acknowledge)),
        ("/api/v1/audit/events", get(audit_api::events)),
        ("/api/v1/admin/access-review", get(admin::access_review)),
        ("/api/v1/admin/unrecorded", get(moderation::unrecorded)),
        ("/api/v1/admin/accounts", get(accounts::list)),
        ("/api/v1/admin/accounts/connect", post(accounts::connect)),
        ("/api/v1/admin/accounts/{id}/disconnect", post(accounts::disconnect)),
        ("/api/v1/admin/users/{user}/revoke", post(admin::revoke)),
        ("/api/v1/admin/users/{user}/mfa-invite", post(admin::mfa_invite)),
        ("/api/v1/admin/locks", get(admin::locks).post(admin::place_lock)),
        ("/api/v1/admin/locks/{id}", delete(admin::lift_lock)),
        ("/api/v1/admin/training", get(admin::training_records).post(admin::record_training)),
        ("/api/v1/admin/training/import", post(admin::import_training)),
    ]
}

/// The `/api/v1` paths the router serves, in axum's `{param}` syntax (which
/// is also OpenAPI's).
pub fn api_paths() -> Vec<&'static str> {
    api_routes().into_iter().map(|(path, _)| path).collect()
}

/// GET routes that do something besides reading Custodian's own pages: they
/// call a platform (listing comments), or read and record a read of the
/// journal, the access review or a held comment (or what they list is
/// theirs: held comments, posts made outside Custodian). A browser carrying the session cookie may
/// reach them only from Custodian's own pages (`extract::csrf_guard`).
pub(crate) const SAME_ORIGIN_GETS: &[&str] = &[
    "/api/v1/accounts/{account}/posts/{post}/comments",
    "/api/v1/audit/events",
    "/api/v1/admin/access-review",
    "/api/v1/reviews",
    "/api/v1/reviews/{id}",
    "/api/v1/moderation",
    "/api/v1/moderation/{id}",
    "/api/v1/admin/unrecorded",
];
