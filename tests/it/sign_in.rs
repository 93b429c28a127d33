//! Sign-in through the real OpenID provider, and its refusals.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::browser::{between, csrf_of, location, param, with_param};
use crate::support::{Backend, TestApp};

on_both_backends!(
    full_sign_in_with_enrollment_then_verification,
    wrong_state_is_refused,
    reused_authorization_code_is_refused,
    id_token_for_another_nonce_is_refused,
    provider_error_and_missing_login_are_refused,
);

async fn full_sign_in_with_enrollment_then_verification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    browser.sign_in("alice").await;
    let pending_cookie = browser.cookie("custodian_session").expect("session cookie after sign-in");

    // Before the second factor, the session can do nothing else.
    let me: serde_json::Value = browser.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "alice@clinic.example");
    assert_eq!(me["user"]["groups"][0], "social-media-staff");
    assert_eq!(me["second_factor"]["state"], "not_enrolled");
    assert_eq!(me["second_factor"]["verified"], false);
    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&home), "/auth/mfa");

    // Enrollment: QR code and the secret as text; a wrong code is refused.
    let page = browser.get_text("/auth/mfa").await;
    assert!(page.contains("data:image/png;base64,"), "QR code shown");
    let secret = between(&page, "<code class=\"secret\">", "</code>").unwrap();
    assert!(secret.len() >= 32, "160-bit secret in base32");
    let csrf = csrf_of(&page);
    let wrong = browser.post_form("/auth/mfa/enroll", &[("csrf", &csrf), ("code", "000000")]).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.text().await.unwrap().contains("That code is not valid"));
    let me: serde_json::Value = browser.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["second_factor"]["state"], "not_enrolled", "a wrong code does not turn the factor on");

    let ok = browser.post_form("/auth/mfa/enroll", &[("csrf", &csrf), ("code", &app.totp(&secret, 0))]).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let codes_page = ok.text().await.unwrap();
    let codes = crate::support::browser::all_between(&codes_page, "<li><code>", "</code></li>");
    assert_eq!(codes.len(), 10, "ten recovery codes shown once");
    let verified_cookie = browser.cookie("custodian_session").unwrap();
    assert_ne!(verified_cookie, pending_cookie, "the session id is replaced after the second factor");

    let home = browser.get_text("/").await;
    assert!(home.contains("alice@clinic.example"), "home page shows who is signed in");
    let me: serde_json::Value = browser.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["second_factor"]["state"], "enrolled");
    assert_eq!(me["second_factor"]["verified"], true);
    assert_eq!(me["second_factor"]["method"], "totp");

    // The old (pre-factor) id no longer works.
    let stale = app.browser();
    stale.set_cookie("custodian_session", &pending_cookie);
    assert_eq!(stale.get("/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);

    // Second sign-in, in another browser: verification, not enrollment.
    app.clock.advance(std::time::Duration::from_secs(30));
    let second = app.browser();
    second.sign_in("alice").await;
    let page = second.get_text("/auth/mfa").await;
    assert!(page.contains("action=\"/auth/mfa/verify\""), "enrolled users verify");
    assert!(!page.contains("data:image/png"), "the secret is never shown again");
    let r = second
        .post_form("/auth/mfa/verify", &[("csrf", &csrf_of(&page)), ("code", &app.totp(&secret, 0))])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    assert!(second.get_text("/").await.contains("Alice Adams"));

    let actions: Vec<String> =
        app.events().await.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for expected in ["auth.login", "auth.mfa.enroll", "auth.mfa.verify"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} audited: {actions:?}");
    }
    let failed = app.events_of("auth.mfa.verify").await;
    assert!(failed.iter().any(|e| e["decision"] == "denied"), "the wrong code is audited");
}

async fn wrong_state_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let auth = browser.start_login().await;
    let callback = browser.idp_authorize(&auth, "alice").await;
    let r = browser.finish_login(&with_param(&callback, "state", "forged")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(browser.cookie("custodian_session").is_none(), "no session on a refused sign-in");
    let page = r.text().await.unwrap();
    assert!(page.contains("does not belong to the sign-in this browser started"), "{page}");
    assert_eq!(app.count("sessions").await, 0);
    let failures = app.events_of("auth.login").await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["decision"], "denied");
    assert_eq!(failures[0]["kind"]["reason"], "state_mismatch");
}

async fn reused_authorization_code_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let auth = browser.start_login().await;
    let callback = browser.idp_authorize(&auth, "alice").await;
    assert_eq!(browser.finish_login(&callback).await.status(), StatusCode::SEE_OTHER);

    // Replaying the same callback: the flow is single-use.
    let replay = browser.finish_login(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // The same code under a fresh, valid flow: the IdP refuses it.
    let attacker = app.browser();
    let auth2 = attacker.start_login().await;
    let state2 = param(&auth2, "state");
    let code = param(&callback, "code");
    let r = attacker.get(&format!("/auth/callback?code={code}&state={state2}")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("invalid_grant"));
    assert!(attacker.cookie("custodian_session").is_none());
    assert_eq!(app.count("sessions").await, 1, "only the legitimate sign-in has a session");
}

async fn id_token_for_another_nonce_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let auth = browser.start_login().await;
    // Same flow (state, PKCE), but the IdP is asked for a different nonce.
    let callback = browser.idp_authorize(&with_param(&auth, "nonce", "attacker-nonce"), "alice").await;
    let r = browser.finish_login(&callback).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("nonce mismatch"));
    assert_eq!(app.count("sessions").await, 0);
    let failure = &app.events_of("auth.login").await[0];
    assert_eq!(
        failure["kind"]["reason"]["invalid_id_token"],
        "it was issued for another sign-in (nonce mismatch)"
    );
}

async fn provider_error_and_missing_login_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // No sign-in started in this browser.
    let stranger = app.browser();
    let r = stranger.get("/auth/callback?code=abc&state=def").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("No sign-in is in progress"));

    // The IdP reports an error (user cancelled).
    let browser = app.browser();
    let auth = browser.start_login().await;
    let state = param(&auth, "state");
    let r = browser
        .get(&format!("/auth/callback?error=access_denied&error_description=cancelled&state={state}"))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("access_denied"));
    assert_eq!(app.count("sessions").await, 0);
    assert_eq!(app.events_of("auth.login").await.len(), 2, "both refusals audited");
}

on_both_backends!(id_token_validation_refuses_other_client_expiry_and_bad_signature);

async fn id_token_validation_refuses_other_client_expiry_and_bad_signature(backend: Backend) {
    use crate::support::{mint_id_token, CLIENT_ID, CLIENT_SECRET};
    let app = TestApp::spawn(backend).await;
    let oidc = &app.state.identity.oidc;

    let other = mint_id_token("other-client", "other-secret", "n1").await;
    let err = oidc.verify_id_token(&other, "n1").await.unwrap_err().to_string();
    assert!(err.contains("another client"), "{err}");

    let own = mint_id_token(CLIENT_ID, CLIENT_SECRET, "n2").await;
    let identity = oidc.verify_id_token(&own, "n2").await.expect("a token for this client verifies");
    assert_eq!(identity.subject, "alice");
    assert_eq!(identity.issuer, crate::support::issuer());

    let err = oidc.verify_id_token(&own, "n3").await.unwrap_err().to_string();
    assert!(err.contains("nonce mismatch"), "{err}");

    let mut forged = own.clone().into_bytes();
    let i = forged.len() - 5;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let err =
        oidc.verify_id_token(std::str::from_utf8(&forged).unwrap(), "n2").await.unwrap_err().to_string();
    assert!(err.contains("signature"), "{err}");

    app.clock.advance(std::time::Duration::from_secs(3 * 3600));
    let err = oidc.verify_id_token(&own, "n2").await.unwrap_err().to_string();
    assert!(err.contains("expired"), "{err}");
}

on_both_backends!(signing_in_again_replaces_the_browsers_session);

async fn signing_in_again_replaces_the_browsers_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let before = browser.cookie("custodian_session").unwrap();
    browser.sign_in("alice").await;
    let after = browser.cookie("custodian_session").unwrap();
    assert_ne!(before, after, "a new session id at every sign-in");
    assert_eq!(app.count("sessions").await, 1, "the browser's previous session ended");
    let logins = app.events_of("auth.login").await;
    assert_eq!(logins.last().unwrap()["kind"]["previous_session_ended"], true, "and the login event says so");
    let old = app.browser();
    old.set_cookie("custodian_session", &before);
    assert_eq!(old.get("/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    // The new session still owes its second factor.
    let me: serde_json::Value = browser.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["second_factor"]["verified"], false);
}
