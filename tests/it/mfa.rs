//! The second factor: replay, throttling and lockout, recovery codes, reset.

use std::time::Duration;

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::browser::{csrf_of, location, Browser};
use crate::support::{Backend, TestApp};

on_both_backends!(
    replayed_code_is_refused,
    failures_are_throttled_then_locked,
    recovery_code_works_exactly_once,
    pending_session_can_do_nothing_else,
);

async fn verify(browser: &Browser, code: &str) -> reqwest::Response {
    let page = browser.get("/auth/mfa").await.text().await.unwrap();
    browser.post_form("/auth/mfa/verify", &[("csrf", &csrf_of(&page)), ("code", code)]).await
}

async fn replayed_code_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, secret, _) = app.enrolled_browser("alice").await;
    let code = app.totp(&secret, 0);
    let other = app.browser();
    other.sign_in("alice").await;
    let r = verify(&other, &code).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "the code used at enrollment cannot be used again");
    assert!(r.text().await.unwrap().contains("already used"));
    // The next time step's code is accepted (±1 step of drift).
    let r = verify(&other, &app.totp(&secret, 1)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // ...and that one, too, only once.
    let third = app.browser();
    third.sign_in("alice").await;
    assert_eq!(verify(&third, &app.totp(&secret, 1)).await.status(), StatusCode::BAD_REQUEST);
    // Two steps away is outside the drift window.
    assert_eq!(verify(&third, &app.totp(&secret, -2)).await.status(), StatusCode::BAD_REQUEST);
}

async fn failures_are_throttled_then_locked(backend: Backend) {
    // The longest delay (15 min) would otherwise also end the idle session.
    let app = TestApp::spawn_with(backend, |c| c.session.idle_timeout = Duration::from_secs(3600)).await;
    let (_, secret, _) = app.enrolled_browser("alice").await;
    let browser = app.browser();
    browser.sign_in("alice").await;
    for _ in 0..3 {
        assert_eq!(verify(&browser, "111111").await.status(), StatusCode::BAD_REQUEST);
    }
    let r = verify(&browser, &app.totp(&secret, 1)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "after 3 failures even a right code waits");
    assert!(r.headers().contains_key("retry-after"));
    // Growing delays: 30 s, 60 s, 120 s ... (capped at 15 min), announced in Retry-After.
    let mut waits = Vec::new();
    let mut wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    for attempt in 4..10 {
        waits.push(wait);
        app.clock.advance(Duration::from_secs(wait));
        let r = verify(&browser, "111111").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "attempt {attempt} allowed after {wait} s");
        let r = verify(&browser, "111111").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "attempt right after failure {attempt} waits");
        wait = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    }
    assert_eq!(waits, vec![30, 60, 120, 240, 480, 900]);
    app.clock.advance(Duration::from_secs(wait));
    let r = verify(&browser, "111111").await;
    assert_eq!(r.status(), StatusCode::LOCKED, "the 10th failure locks the factor");
    let fresh = app.browser();
    fresh.sign_in("alice").await;
    let page = fresh.get("/auth/mfa").await;
    assert_eq!(page.status(), StatusCode::LOCKED, "locked until an admin resets it");
    assert!(page.text().await.unwrap().contains("reset-mfa"));
    let r = fresh.post_form("/auth/mfa/verify", &[("csrf", "x"), ("code", &app.totp(&secret, 0))]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a form without the session's CSRF token");
    assert_eq!(app.events_of("auth.mfa.lock").await.len(), 1);

    // The admin reset ends sessions and lets the user enroll again.
    let user = app.state.identity.users.find("alice@clinic.example").await.unwrap().unwrap();
    let ended = app.state.identity.reset_mfa(&user, "test-admin", &Default::default()).await.unwrap();
    assert_eq!(ended, 3);
    assert_eq!(fresh.get("/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    let again = app.browser();
    again.sign_in("alice").await;
    assert!(again.get_text("/auth/mfa").await.contains("Set up your authenticator app"));
    assert_eq!(app.events_of("auth.mfa.reset").await[0]["kind"]["sessions_ended"], 3);
}

async fn recovery_code_works_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, codes) = app.enrolled_browser("alice").await;
    let first = app.browser();
    first.sign_in("alice").await;
    let r = verify(&first, &codes[3].to_lowercase()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "a recovery code signs in (case-insensitive)");
    assert_eq!(location(&r), "/");
    let me: serde_json::Value = first.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["second_factor"]["method"], "recovery_code");
    let second = app.browser();
    second.sign_in("alice").await;
    let r = verify(&second, &codes[3]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "the same recovery code fails the second time");
    assert_eq!(verify(&second, &codes[4]).await.status(), StatusCode::SEE_OTHER);
    let user = app.state.identity.users.find("alice@clinic.example").await.unwrap().unwrap();
    assert_eq!(app.state.identity.mfa.recovery_codes_left(&user.id).await.unwrap(), 8);
    // Stored hashed, never as given.
    let (stored,): (String,) = sqlx::query_as("SELECT code_hash FROM mfa_recovery_codes LIMIT 1")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2"));
    let (sealed,): (String,) =
        sqlx::query_as("SELECT secret_sealed FROM mfa_totp").fetch_one(app.state.db.pool()).await.unwrap();
    assert!(sealed.starts_with("v1.k1."), "the TOTP secret is stored encrypted");
}

async fn pending_session_can_do_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    browser.sign_in("alice").await;
    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&home), "/auth/mfa");
    // Submitting an enrollment code without ever opening the page: no factor exists yet.
    let page = browser.get_text("/auth/mfa").await;
    let r = browser.post_form("/auth/mfa/verify", &[("csrf", &csrf_of(&page)), ("code", "123456")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
