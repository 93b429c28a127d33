//! Token refresh through a real OAuth 2.0 token endpoint on loopback
//! (RFC 6749 §6, as X and LinkedIn expose it): one refresh however many
//! callers wait on an expiring token, once after a 401, and a refused
//! refresh marks the account `needs_reconnect`, audited and counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Form, Json, Router};
use custodian::audit::ChangedBy;
use custodian::clock::Clock;
use custodian::domain::AccountId;
use custodian::platforms::refresh::{OAuthEndpoint, RefreshError};
use custodian::secret::Secret;
use custodian::vault::credentials::CredentialKind;
use custodian::vault::Credentials;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

#[derive(Default)]
struct TokenServer {
    calls: AtomicU64,
    refuse: AtomicBool,
}

async fn token(
    State(server): State<Arc<TokenServer>>,
    Form(form): Form<Vec<(String, String)>>,
) -> axum::response::Response {
    let n = server.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
    // A slow endpoint, so concurrent callers really overlap.
    tokio::time::sleep(Duration::from_millis(150)).await;
    if server.refuse.load(Ordering::SeqCst)
        || field("grant_type") != "refresh_token"
        || field("refresh_token").is_empty()
    {
        let body =
            json!({"error": "invalid_grant", "error_description": "Value passed for the token was invalid."});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    Json(json!({"token_type": "bearer", "access_token": format!("access-{n}"), "refresh_token": format!("refresh-{n}"), "expires_in": 7200}))
        .into_response()
}

async fn token_server() -> (Arc<TokenServer>, OAuthEndpoint) {
    let server = Arc::new(TokenServer::default());
    let app = Router::new().route("/2/oauth2/token", axum::routing::post(token)).with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let endpoint = OAuthEndpoint::new(
        &format!("http://{addr}/2/oauth2/token"),
        "custodian",
        Some(Secret::new("client-secret".into())),
    )
    .unwrap();
    (server, endpoint)
}

/// An account whose access token expires in a minute (inside the refresh margin).
async fn expiring_account(app: &TestApp) -> (AccountId, Credentials) {
    let by = ChangedBy { actor: Default::default(), name: "test".into(), meta: Default::default() };
    let now = app.clock.now();
    let account = app.state.accounts.add_sandbox(&app.state.journal, "x-like", &[], &by, now).await.unwrap();
    let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
    vault
        .store(
            &account.id,
            CredentialKind::AccessToken,
            &Secret::new("access-0".into()),
            Some(now.plus(Duration::from_secs(60))),
            now,
        )
        .await
        .unwrap();
    vault
        .store(&account.id, CredentialKind::RefreshToken, &Secret::new("refresh-0".into()), None, now)
        .await
        .unwrap();
    (account.id, vault)
}

async fn fifty_concurrent_requests_share_one_refresh(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (server, endpoint) = token_server().await;
    let endpoint = Arc::new(endpoint);
    let (account, vault) = expiring_account(&app).await;
    let mut calls = Vec::new();
    for _ in 0..50 {
        let (refresher, endpoint, account) = (app.state.refresher.clone(), endpoint.clone(), account.clone());
        calls.push(tokio::spawn(async move { refresher.access_token(&account, endpoint.as_ref()).await }));
    }
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap().expose(), "access-1", "every caller uses the one refresh");
    }
    assert_eq!(server.calls.load(Ordering::SeqCst), 1, "exactly one refresh");
    assert_eq!(
        vault.open(&account, CredentialKind::RefreshToken).await.unwrap().expose(),
        "refresh-1",
        "a rotated refresh token is kept"
    );
    let expires = vault.expires_at(&account, CredentialKind::AccessToken).await.unwrap().unwrap();
    assert!(expires.millis() > app.clock.now().plus(Duration::from_secs(7000)).millis());
    // Fresh now: no further refresh.
    app.state.refresher.access_token(&account, endpoint.as_ref()).await.unwrap();
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);
    // A 401 on the new token: ten callers who saw it rejected cause one refresh.
    let stale = Secret::new("access-1".into());
    let mut calls = Vec::new();
    for _ in 0..10 {
        let (refresher, endpoint, account, stale) =
            (app.state.refresher.clone(), endpoint.clone(), account.clone(), stale.clone());
        calls.push(tokio::spawn(async move {
            refresher.after_unauthorized(&account, &stale, endpoint.as_ref()).await
        }));
    }
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap().expose(), "access-2");
    }
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("custodian_token_refreshes_total 2"), "{metrics}");
}

async fn a_refused_refresh_marks_the_account_needs_reconnect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (server, endpoint) = token_server().await;
    let (account, _) = expiring_account(&app).await;
    server.refuse.store(true, Ordering::SeqCst);
    let e = app.state.refresher.access_token(&account, &endpoint).await.unwrap_err();
    assert!(matches!(e, RefreshError::NeedsReconnect(ref why) if why.contains("invalid_grant")), "{e}");
    let listed = app.state.accounts.get(&account).await.unwrap().unwrap();
    assert_eq!(listed.status, custodian::domain::Status::NeedsReconnect);
    assert!(listed.status_reason.unwrap().contains("invalid_grant"));
    let events = app.events_of("account.needs_reconnect").await;
    assert_eq!(events[0]["kind"]["account_id"], account.as_str());
    let shown = serde_json::to_string(&events).unwrap() + &e.to_string();
    assert!(
        !shown.contains("refresh-0") && !shown.contains("access-0"),
        "no token in the event or the error"
    );
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("custodian_token_refresh_failures_total 1"), "{metrics}");
    // The dead refresh token is not tried again, and nothing more is recorded.
    let again = app.state.refresher.access_token(&account, &endpoint).await.unwrap_err();
    assert!(matches!(again, RefreshError::NeedsReconnect(_)));
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);
    assert_eq!(app.events_of("account.needs_reconnect").await.len(), 1);
}

/// A platform refusing the token renews it at most once a minute per
/// account: a refusal a caller can provoke again and again does not turn
/// into a stream of refreshes.
async fn a_refusal_renews_at_most_once_a_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (server, endpoint) = token_server().await;
    let (account, vault) = expiring_account(&app).await;
    let current = || async { vault.open(&account, CredentialKind::AccessToken).await.unwrap() };
    let renewed =
        app.state.refresher.after_unauthorized(&account, &current().await, &endpoint).await.unwrap();
    assert_eq!(renewed.expose(), "access-1");
    // The new token refused as well, at once and again: no further refresh.
    for _ in 0..5 {
        let e = app.state.refresher.after_unauthorized(&account, &current().await, &endpoint).await;
        assert!(matches!(e, Err(RefreshError::RenewedRecently)), "{:?}", e.map(|_| ()));
    }
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);
    let listed = app.state.accounts.get(&account).await.unwrap().unwrap();
    assert_eq!(listed.status, custodian::domain::Status::Active);
    // A minute later, a refusal renews again.
    app.clock.advance(custodian::platforms::refresh::RENEWAL_INTERVAL);
    let renewed =
        app.state.refresher.after_unauthorized(&account, &current().await, &endpoint).await.unwrap();
    assert_eq!(renewed.expose(), "access-2");
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
}

on_both_backends!(
    fifty_concurrent_requests_share_one_refresh,
    a_refused_refresh_marks_the_account_needs_reconnect,
    a_refusal_renews_at_most_once_a_minute
);
