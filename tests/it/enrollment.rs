//! Who may set up a first second factor (`mfa.enrollment`): only with an
//! administrator's single-use enrollment link ("invite"), or when the IdP
//! vouches for MFA at this sign-in ("idp"), or anyone at their first
//! sign-in (the sandbox's "open").

use std::time::Duration;

use custodian::audit::{Actor, RequestMeta};
use custodian::identity::EnrollmentMode;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::on_both_backends;
use crate::support::browser::{between, csrf_of, location, Browser};
use crate::support::{Backend, TestApp};

on_both_backends!(
    invite_mode_refuses_a_first_factor_without_an_invite,
    an_invite_from_the_admin_api_enrolls_once,
    a_link_from_the_admin_api_with_a_stale_second_factor_asks_to_verify_again,
    a_used_invite_is_refused_and_a_reset_needs_a_new_one,
    expired_voided_forged_and_other_users_invites_are_refused,
    idp_mode_enrolls_only_when_the_idp_vouches_for_mfa,
    open_mode_enrolls_at_first_sign_in,
);

const CONTACT: &str = "the IT service desk (ext. 4357)";

async fn spawn(backend: Backend, mode: EnrollmentMode) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.mfa.enrollment = mode;
        c.directory.help_contact = CONTACT.into();
    })
    .await
}

/// An enrollment link issued as `custodian users invite` issues it.
async fn invite(app: &TestApp, user: &str) -> String {
    let meta = RequestMeta::default();
    let issued = app.state.identity.invite(user, "cli:operator", Actor::default(), &meta).await.unwrap();
    issued.link.expose().to_owned()
}

/// Opens an enrollment link (whatever host it names) in `browser`.
async fn open_link(browser: &Browser, link: &str) -> reqwest::Response {
    let url = url::Url::parse(link).unwrap();
    assert_eq!(url.path(), "/auth/mfa/invite", "{link}");
    browser.get(&format!("{}?{}", url.path(), url.query().unwrap())).await
}

/// Sets up TOTP from the enrollment page; returns the secret.
async fn enroll(app: &TestApp, browser: &Browser) -> String {
    let page = browser.get_text("/auth/mfa").await;
    let secret = between(&page, "<code class=\"secret\">", "</code>").expect("the enrollment page");
    let code = app.totp(&secret, 0);
    let r = browser.post_form("/auth/mfa/enroll", &[("csrf", &csrf_of(&page)), ("code", &code)]).await;
    assert_eq!(r.status(), StatusCode::OK, "enrollment succeeds");
    assert!(r.text().await.unwrap().contains("Save your recovery codes"));
    secret
}

/// The enrollment page is refused (403), saying `says`, and shows no secret.
async fn refused(browser: &Browser, says: &str) {
    let r = browser.get("/auth/mfa").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains(says), "{page}");
    assert!(!page.contains("class=\"secret\""), "no secret is shown: {page}");
}

async fn invite_mode_refuses_a_first_factor_without_an_invite(backend: Backend) {
    let app = spawn(backend, EnrollmentMode::Invite).await;
    let browser = app.browser();
    browser.sign_in("alice").await;
    refused(&browser, "must be set up with an enrollment link from your administrator").await;
    refused(&browser, CONTACT).await;
    // No secret was made, and a code posted anyway enrolls nothing.
    assert_eq!(app.count("mfa_totp").await, 0);
    let r = browser.post_form("/auth/mfa/enroll", &[("csrf", &browser.csrf()), ("code", "123456")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("mfa_totp").await, 0);
    // Not admitted.
    assert_eq!(browser.get("/api/v1/accounts").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(location(&browser.get("/").await), "/auth/mfa");
    let denied = app.events_of("access.gate").await;
    assert!(denied.iter().any(|e| e["kind"]["gate"] == "mfa_enrollment"), "{denied:?}");
    assert!(app.events_of("auth.mfa.enroll").await.is_empty());
}

async fn an_invite_from_the_admin_api_enrolls_once(backend: Backend) {
    let app = spawn(backend, EnrollmentMode::Invite).await;
    // The first admin: signs in once, then an operator's link (`custodian users invite`).
    let carol = app.browser();
    carol.sign_in("carol").await;
    let link = invite(&app, "carol@clinic.example").await;
    assert_eq!(location(&open_link(&carol, &link).await), "/auth/mfa");
    enroll(&app, &carol).await;

    // alice has signed in once (and was refused); carol issues her link.
    let first = app.browser();
    first.sign_in("alice").await;
    refused(&first, "enrollment link").await;
    let path = "/api/v1/admin/users/alice@clinic.example/mfa-invite";
    let r = carol.send_json(Method::POST, path, None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let issued: Value = r.json().await.unwrap();
    let link = issued["link"].as_str().unwrap().to_owned();
    assert!(link.starts_with("https://custodian.test/auth/mfa/invite?token="), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let alice_id = issued["user_id"].as_str().unwrap().to_owned();
    // Only its SHA-256 is stored, and the journal never names the token.
    let (hash,): (String,) = sqlx::query_as("SELECT token_hash FROM mfa_invites WHERE user_id = $1")
        .bind(&alice_id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(hash, custodian::identity::session::sha256_hex(&token));
    let issue = app.events_of("auth.mfa.invite.issue").await;
    assert_eq!(issue.len(), 2);
    assert_eq!(issue[1]["kind"]["invite_id"], issued["id"]);
    assert_eq!(issue[1]["kind"]["user_id"], alice_id.as_str());
    assert_eq!(issue[1]["actor"]["user_id"], issue[1]["kind"]["by"], "recorded as carol's");

    // The link, opened before signing in, survives the sign-in, and enrolls.
    let alice = app.browser();
    assert_eq!(location(&open_link(&alice, &link).await), "/auth/login");
    alice.sign_in("alice").await;
    enroll(&app, &alice).await;
    let enrolled = app.events_of("auth.mfa.enroll").await;
    assert_eq!(enrolled[1]["kind"]["method"], "invite");
    assert_eq!(enrolled[1]["kind"]["invite_id"], issued["id"]);
    assert_eq!(enrolled[1]["actor"]["user_id"], alice_id.as_str());

    // Someone with a factor gets no link; nor does someone unknown.
    let r = carol.send_json(Method::POST, path, None).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("already has a second factor"));
    let r = carol.send_json(Method::POST, "/api/v1/admin/users/nobody@clinic.example/mfa-invite", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn a_link_from_the_admin_api_with_a_stale_second_factor_asks_to_verify_again(backend: Backend) {
    let app = spawn(backend, EnrollmentMode::Invite).await;
    let carol = app.browser();
    carol.sign_in("carol").await;
    let link = invite(&app, "carol@clinic.example").await;
    open_link(&carol, &link).await;
    let secret = enroll(&app, &carol).await;
    app.browser().sign_in("alice").await;
    // Six minutes after carol's second factor, as for deletes, tokens and break-glass.
    app.clock.advance(Duration::from_secs(6 * 60));
    let path = "/api/v1/admin/users/alice@clinic.example/mfa-invite";
    let r = carol.send_json(Method::POST, path, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["error"], "verify_again", "{refused}");
    assert_eq!(refused["rule"], "enrollment-links-need-a-fresh-second-factor");
    assert!(refused["remedy"].as_str().unwrap().contains("/auth/mfa?again=true"), "{refused}");
    assert_eq!(app.events_of("auth.mfa.invite.issue").await.len(), 1, "only carol's own link");
    // Verifying again lets it through.
    let page = carol.get_text("/auth/mfa?again=true").await;
    let code = app.totp(&secret, 0);
    let r = carol.post_form("/auth/mfa/verify", &[("csrf", &csrf_of(&page)), ("code", &code)]).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(carol.send_json(Method::POST, path, None).await.status(), StatusCode::CREATED);
}

async fn a_used_invite_is_refused_and_a_reset_needs_a_new_one(backend: Backend) {
    let app = spawn(backend, EnrollmentMode::Invite).await;
    let alice = app.browser();
    alice.sign_in("alice").await;
    let link = invite(&app, "alice@clinic.example").await;
    open_link(&alice, &link).await;
    let secret = enroll(&app, &alice).await;
    let enrolled = app.events_of("auth.mfa.enroll").await;
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0]["kind"]["method"], "invite");
    assert!(enrolled[0]["kind"]["invite_id"].as_str().unwrap().starts_with("inv_"));
    assert_eq!(alice.get("/api/v1/accounts").await.status(), StatusCode::OK, "admitted");

    // Afterwards, sign-in is as usual: the code, no link.
    let later = app.browser();
    later.sign_in("alice").await;
    let page = later.get_text("/auth/mfa").await;
    assert!(page.contains("Confirm it's you"), "{page}");
    let r = later
        .post_form("/auth/mfa/verify", &[("csrf", &csrf_of(&page)), ("code", &app.totp(&secret, 1))])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(later.get("/api/v1/accounts").await.status(), StatusCode::OK);

    // A reset does not reopen enrollment to whoever signs in next.
    let user = app.state.identity.users.find("alice@clinic.example").await.unwrap().unwrap();
    app.state.identity.reset_mfa(&user, "test-admin", &Default::default()).await.unwrap();
    let next = app.browser();
    next.sign_in("alice").await;
    refused(&next, "must be set up with an enrollment link").await;
    // The link already used stays used.
    open_link(&next, &link).await;
    refused(&next, "already used").await;
    let refusals = app.events_of("auth.mfa.invite.refuse").await;
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["kind"]["reason"], "used");
    assert_eq!(refusals[0]["decision"], "denied");
    // The refused link was forgotten; a new one enrolls.
    refused(&next, "must be set up with an enrollment link").await;
    open_link(&next, &invite(&app, "alice@clinic.example").await).await;
    enroll(&app, &next).await;
    assert_eq!(app.events_of("auth.mfa.enroll").await.len(), 2);
}

async fn expired_voided_forged_and_other_users_invites_are_refused(backend: Backend) {
    // Sessions outlive the links here, so that the test's clock can pass
    // their 72 hours (an ID token would not: it comes from the real IdP).
    let app = TestApp::spawn_with(backend, |c| {
        c.mfa.enrollment = EnrollmentMode::Invite;
        c.session.idle_timeout = Duration::from_secs(100 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(100 * 3600);
    })
    .await;
    let alice = app.browser();
    alice.sign_in("alice").await;
    let later = app.browser();
    later.sign_in("alice").await;
    let erin = app.browser();
    erin.sign_in("erin").await;
    let first = invite(&app, "alice@clinic.example").await;

    // Another user's link.
    open_link(&erin, &first).await;
    refused(&erin, "issued for someone else").await;
    // A forged one, well-formed; and a damaged one.
    open_link(
        &erin,
        "https://custodian.test/auth/mfa/invite?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    refused(&erin, "not valid").await;
    let r = erin.get("/auth/mfa/invite?token=no%20such%3Blink").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("mfa_totp").await, 0, "erin never saw a secret");

    // A newer link voids the older.
    let second = invite(&app, "alice@clinic.example").await;
    let voided = app.events_of("auth.mfa.invite.void").await;
    assert_eq!(voided.len(), 1);
    assert_eq!(voided[0]["kind"]["reason"], "replaced");
    open_link(&alice, &first).await;
    refused(&alice, "replaced by a newer one").await;

    // It works for 72 hours, and not a second longer.
    app.clock.advance(Duration::from_secs(72 * 3600 - 60));
    open_link(&later, &second).await;
    assert!(later.get_text("/auth/mfa").await.contains("Set up your authenticator app"));
    app.clock.advance(Duration::from_secs(60));
    refused(&later, "expired").await;
    let r = later.post_form("/auth/mfa/enroll", &[("csrf", &later.csrf()), ("code", "123456")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "the code is not even tried");

    let reasons: Vec<Value> =
        app.events_of("auth.mfa.invite.refuse").await.iter().map(|e| e["kind"]["reason"].clone()).collect();
    assert_eq!(reasons, ["other_user", "unknown", "voided", "expired"], "a refused link is forgotten");
    assert!(app.events_of("auth.mfa.enroll").await.is_empty());
    // No event names a token.
    let journal = serde_json::to_string(&app.events().await).unwrap();
    for link in [&first, &second] {
        assert!(!journal.contains(link.split("token=").nth(1).unwrap()));
    }
}

async fn idp_mode_enrolls_only_when_the_idp_vouches_for_mfa(backend: Backend) {
    let app = spawn(backend, EnrollmentMode::Idp).await;
    // The IdP's amr says a one-time code was used as well as the password.
    let alice = app.browser();
    alice.sign_in_with("alice", &[("amr", "otp")]).await;
    enroll(&app, &alice).await;
    let enrolled = app.events_of("auth.mfa.enroll").await;
    assert_eq!(enrolled[0]["kind"]["method"], "idp_amr");
    assert_eq!(enrolled[0]["kind"]["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // The password alone (amr ["pwd"]): refused, as in invite mode.
    let erin = app.browser();
    erin.sign_in("erin").await;
    refused(&erin, "multi-factor sign-in").await;
    assert_eq!(app.events_of("auth.mfa.enroll").await.len(), 1);
    // ...unless an administrator's link vouches instead.
    open_link(&erin, &invite(&app, "erin@clinic.example").await).await;
    enroll(&app, &erin).await;
    assert_eq!(app.events_of("auth.mfa.enroll").await[1]["kind"]["method"], "invite");
}

async fn open_mode_enrolls_at_first_sign_in(backend: Backend) {
    let app = spawn(backend, EnrollmentMode::Open).await;
    let alice = app.browser();
    alice.sign_in("alice").await;
    enroll(&app, &alice).await;
    assert_eq!(app.events_of("auth.mfa.enroll").await[0]["kind"]["method"], "open");
}
