//! Session lifetime: idle and absolute expiry by the Clock, logout, CSRF
//! (for pages, and for scripts holding the session cookie).

use std::time::Duration;

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::browser::{csrf_of, location};
use crate::support::{Backend, TestApp};

on_both_backends!(
    idle_timeout_ends_the_session,
    absolute_lifetime_ends_an_active_session,
    logout_ends_the_session_server_side,
    forms_without_csrf_token_are_refused,
    a_script_with_the_session_cookie_is_told_where_the_csrf_token_is,
);

async fn idle_timeout_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    app.clock.advance(Duration::from_secs(14 * 60));
    assert_eq!(browser.get("/api/v1/me").await.status(), StatusCode::OK, "activity within 15 min keeps it");
    app.clock.advance(Duration::from_secs(14 * 60));
    assert_eq!(
        browser.get("/api/v1/me").await.status(),
        StatusCode::OK,
        "the idle timer restarts on activity"
    );
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    let r = browser.get("/api/v1/me").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_ended");
    assert!(body["reason"].as_str().unwrap().contains("inactivity"));
    assert_eq!(app.count("sessions").await, 0, "the expired session row is gone");
    let expired = app.events_of("auth.session.expire").await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["kind"]["reason"], "idle_timeout");
    // Once gone, the cookie is simply unknown.
    assert_eq!(browser.get("/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
}

async fn absolute_lifetime_ends_an_active_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    // Busy all day: a request every 10 minutes for just under 12 hours.
    for _ in 0..71 {
        app.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(browser.get("/api/v1/me").await.status(), StatusCode::OK);
    }
    app.clock.advance(Duration::from_secs(10 * 60));
    let r = browser.get("/api/v1/me").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["reason"].as_str().unwrap().contains("maximum length"));
    let expired = app.events_of("auth.session.expire").await;
    assert_eq!(expired[0]["kind"]["reason"], "absolute_lifetime");
}

async fn logout_ends_the_session_server_side(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let old_cookie = browser.cookie("custodian_session").unwrap();
    let home = browser.get_text("/").await;
    let r = browser.post_form("/auth/logout", &[("csrf", &csrf_of(&home))]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let target = location(&r);
    assert!(
        target.starts_with(&crate::support::issuer()) && target.contains("client_id=custodian"),
        "logout continues at the IdP's end-session endpoint: {target}"
    );
    assert_eq!(app.count("sessions").await, 0);
    // Someone who kept the old cookie gets nothing.
    let thief = app.browser();
    thief.set_cookie("custodian_session", &old_cookie);
    let r = thief.get("/api/v1/me").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "not_signed_in");
    assert_eq!(app.events_of("auth.logout").await.len(), 1);
}

async fn forms_without_csrf_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let r = browser.post_form("/auth/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("CSRF token"));
    let r = browser.post_form("/auth/logout", &[("csrf", "forged")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = browser
        .client
        .post(format!("{}/auth/logout", app.base))
        .header("x-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("sessions").await, 1, "the session survives forged requests");
    assert_eq!(browser.get("/api/v1/me").await.status(), StatusCode::OK);
    assert!(app.events_of("auth.logout").await.is_empty());
}

async fn a_script_with_the_session_cookie_is_told_where_the_csrf_token_is(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    // curl with the cookie copied from the browser: no cookie jar, no Sec-Fetch-Site.
    let session = browser.cookie("custodian_session").unwrap();
    let cookie = format!("custodian_session={session}");
    let curl = reqwest::Client::new();
    let token_request = serde_json::json!({
        "name": "scheduler", "actions": ["post.publish"], "accounts": [clinic], "expires_in_days": 30
    });
    let create = |csrf: Option<String>| {
        let mut request = curl.post(app.url("/api/v1/tokens")).header("cookie", &cookie).json(&token_request);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    let r = create(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let refusal: serde_json::Value = r.json().await.unwrap();
    assert_eq!(refusal["error"], "csrf_token_invalid");
    let remedy = refusal["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("session.csrf_token from GET /api/v1/me") && remedy.contains("X-CSRF-Token"),
        "the remedy says where the token is and how to send it: {remedy}"
    );
    assert!(!remedy.contains("Reload the page"), "{remedy}");
    // GET /api/v1/me with the same cookie gives it, and never the session id.
    let me = curl.get(app.url("/api/v1/me")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me = me.text().await.unwrap();
    assert!(!me.contains(&session), "the session id is not in the answer");
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    let csrf = me["session"]["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(csrf, browser.csrf(), "the token the session's pages carry");
    // Sent as the header, it lets the write through.
    let r = create(Some(csrf)).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    // A form posted without it is still told to reload the page.
    let r = browser.post_form("/auth/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Reload the page"));
}
