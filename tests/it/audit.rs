//! Sign-in events: written before their effect, refused when they cannot be
//! written, and never carrying a secret.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::browser::{csrf_of, location};
use crate::support::{Backend, TestApp, CLIENT_SECRET};

on_both_backends!(no_secret_reaches_an_event, sign_in_is_refused_when_the_journal_cannot_be_written);

async fn no_secret_reaches_an_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut secrets: Vec<String> = vec![CLIENT_SECRET.to_owned()];
    secrets.extend(app.state.config.keys.ring.values().map(|k| k.expose().to_owned()));

    let browser = app.browser();
    browser.sign_in("alice").await;
    secrets.push(browser.cookie("custodian_session").unwrap());
    let page = browser.get_text("/auth/mfa").await;
    let secret = crate::support::browser::between(&page, "<code class=\"secret\">", "</code>").unwrap();
    secrets.push(secret.clone());
    secrets.push(csrf_of(&page));
    let wrong = if app.totp(&secret, 0) == "123456" { "654321" } else { "123456" };
    secrets.push(wrong.to_owned());
    browser.post_form("/auth/mfa/enroll", &[("csrf", &csrf_of(&page)), ("code", wrong)]).await;
    let code = app.totp(&secret, 0);
    secrets.push(code.clone());
    let r = browser.post_form("/auth/mfa/enroll", &[("csrf", &csrf_of(&page)), ("code", &code)]).await;
    let codes = crate::support::browser::all_between(&r.text().await.unwrap(), "<li><code>", "</code></li>");
    secrets.extend(codes.iter().cloned());
    secrets.push(browser.cookie("custodian_session").unwrap());

    let other = app.browser();
    other.sign_in("alice").await;
    let page = other.get_text("/auth/mfa").await;
    other.post_form("/auth/mfa/verify", &[("csrf", &csrf_of(&page)), ("code", &codes[0])]).await;
    let home = other.get_text("/").await;
    secrets.push(other.cookie("custodian_session").unwrap());
    let r = other.post_form("/auth/logout", &[("csrf", &csrf_of(&home))]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT body FROM audit_events").fetch_all(app.state.db.pool()).await.unwrap();
    assert!(rows.len() >= 7, "login, failed enroll, enroll, verify, login, verify, logout: {}", rows.len());
    for (body,) in &rows {
        for s in &secrets {
            assert!(!body.contains(s.as_str()), "an audit event contains a secret: {body}");
        }
        let event: serde_json::Value = serde_json::from_str(body).unwrap();
        if event["actor"]["user_id"].is_string() {
            assert!(event["actor"]["session_handle"].as_str().is_some_and(|h| h.starts_with("s_")));
        }
    }
}

async fn sign_in_is_refused_when_the_journal_cannot_be_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let auth = browser.start_login().await;
    let callback = browser.idp_authorize(&auth, "alice").await;
    sqlx::query("DROP TABLE audit_events").execute(app.state.db.pool()).await.unwrap();
    let r = browser.finish_login(&callback).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let page = r.text().await.unwrap();
    assert!(page.contains("audit journal cannot be written"), "{page}");
    assert!(!page.contains("audit_events"), "no internals in the page");
    assert!(browser.cookie("custodian_session").is_none());
    assert_eq!(app.count("sessions").await, 0, "no session without its audit event");
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "/readyz reports the journal");
    assert!(ready.text().await.unwrap().contains("audit journal"));
    assert_ne!(location_or_empty(&browser.get("/").await), "/auth/mfa");
}

fn location_or_empty(r: &reqwest::Response) -> String {
    if r.status().is_redirection() {
        location(r)
    } else {
        String::new()
    }
}
