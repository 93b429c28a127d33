//! Connecting and disconnecting accounts: the OAuth authorization-code flow
//! with PKCE against the fake Mastodon's OAuth server, its failure paths,
//! and what a disconnect leaves behind. Also the action path's refusal to
//! use a credential it cannot open.

use custodian::action::Refusal;
use custodian::audit::{Actor, RequestMeta};
use custodian::clock::Clock;
use custodian::domain::NewPost;
use custodian::domain::{AccountId, Action};
use custodian::platforms::dispatch::Outcome;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::browser::{self, Browser};
use crate::support::fakes::mastodon::{MastodonFake, CLIENT_ID, CLIENT_SECRET};
use crate::support::{act, captured_logs, Backend, TestApp};

const TOKEN: &str = "mastodon-access-token-never-shown";

async fn app_with_mastodon(backend: Backend, fake: &MastodonFake) -> TestApp {
    let base = fake.base.clone();
    TestApp::spawn_with(backend, move |c| {
        c.platforms.mastodon = Some(custodian::platforms::config::OAuthApp {
            client_id: CLIENT_ID.into(),
            client_secret: Some(custodian::secret::Secret::new(CLIENT_SECRET.into())),
            api_base: Some(base.parse().unwrap()),
            ..Default::default()
        });
        // Dave (security-auditors) is an admin too here, to show one admin cannot finish another's connection.
        c.directory
            .roles
            .get_mut(&custodian::directory::Role::Admin)
            .unwrap()
            .push("security-auditors".into());
    })
    .await
}

/// Starts a connection as `admin`; returns the platform's authorization URL.
async fn start(admin: &Browser, body: Value) -> reqwest::Response {
    admin.send_json(Method::POST, "/api/v1/admin/accounts/connect", Some(body)).await
}

/// The browser at the platform: it consents, and is sent back with the code.
async fn consent(admin: &Browser, authorize_url: &str) -> String {
    let r = admin.get(authorize_url).await;
    assert!(r.status().is_redirection(), "the platform sends the browser back: {}", r.status());
    let back = browser::location(&r);
    assert!(back.starts_with("https://custodian.test/connect/callback?"), "{back}");
    let query = back.split_once('?').unwrap().1.to_owned();
    format!("/connect/callback?{query}")
}

async fn mastodon_connect_then_act_then_disconnect(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let app = app_with_mastodon(backend, &fake).await;
    let logs = captured_logs("debug");
    let (carol, _, _) = app.enrolled_browser("carol").await;

    let r = start(
        &carol,
        json!({"platform": "mastodon", "tags": ["official"], "operations": ["publish", "list_comments"]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let started: Value = r.json().await.unwrap();
    let url = url::Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    let q = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    assert_eq!(url.path(), "/oauth/authorize");
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"), "PKCE is used");
    assert_eq!(q("redirect_uri").as_deref(), Some("https://custodian.test/connect/callback"));
    assert_eq!(
        q("scope").as_deref(),
        Some("read:accounts write:statuses write:media read:statuses"),
        "only what publishing and reading replies need: no delete, no follow, no admin"
    );
    let state = q("state").unwrap();
    assert!(state.len() >= 43, "the state carries 256 bits");
    assert_eq!(app.count("connect_pending").await, 1);
    let stored: String = sqlx::query_scalar("SELECT state_hash FROM connect_pending")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_ne!(stored, state, "the state is kept only as a hash");

    let callback = consent(&carol, url.as_str()).await;
    let r = carol.get(&callback).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("@clinic@127.0.0.1"), "{page}");
    assert_eq!(app.count("connect_pending").await, 0, "the state is used up");

    let listed = carol.get("/api/v1/admin/accounts").await.text().await.unwrap();
    for (what, text) in [("page", &page), ("account list", &listed)] {
        assert!(!text.contains(TOKEN) && !text.contains("v1.k1."), "no credential in the {what}");
    }
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let account =
        listed["accounts"].as_array().unwrap().iter().find(|a| a["platform"] == "mastodon").unwrap().clone();
    assert_eq!(account["status"], "active");
    assert_eq!(account["handle"], "@clinic@127.0.0.1");
    assert_eq!(account["tags"], json!(["official"]));
    assert_eq!(account["scopes"], json!(["read:accounts", "write:statuses", "write:media", "read:statuses"]));
    let id = account["id"].as_str().unwrap().to_owned();
    let sealed: String = sqlx::query_scalar("SELECT sealed FROM credentials WHERE account_id = $1")
        .bind(&id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(sealed.starts_with("v1.k1.") && !sealed.contains(TOKEN), "sealed with the active key");
    let connected = app.events_of("account.connect").await;
    assert_eq!(connected.len(), 1);
    assert_eq!(connected[0]["kind"]["after"]["handle"], "@clinic@127.0.0.1");

    // The connected account acts, with the token the platform granted.
    let post = NewPost { text: "Flu clinic open Saturday".into(), ..Default::default() };
    let done = act(&app, &id, Action::Publish(post)).await;
    assert!(matches!(done, Ok(Outcome::Published(_))), "{done:?}");
    let sent = fake.requests().into_iter().rev().find(|r| r.path.starts_with("/api/v1/statuses")).unwrap();
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));

    // The callback cannot be replayed.
    let r = carol.get(&callback).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown or was already used"));
    assert_eq!(app.events_of("account.connect.failed").await.len(), 1);

    // Disconnect: revoked at Mastodon, ciphertexts gone, listed as disconnected.
    let r = carol.send_json(Method::POST, &format!("/api/v1/admin/accounts/{id}/disconnect"), None).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["revoked_at_platform"], true);
    assert_eq!(body["account"]["status"], "disconnected");
    assert!(fake.token_revoked());
    let revoke = fake.requests().into_iter().find(|r| r.path == "/oauth/revoke").unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&revoke.body).into_owned().collect();
    assert!(
        form.contains(&("token".into(), TOKEN.into()))
            && form.contains(&("client_id".into(), CLIENT_ID.into()))
    );
    assert_eq!(app.count("credentials").await, 0);
    assert_eq!(app.events_of("account.disconnect").await.len(), 1);
    let again = carol.send_json(Method::POST, &format!("/api/v1/admin/accounts/{id}/disconnect"), None).await;
    assert_eq!(again.status(), 422);
    assert!(again.text().await.unwrap().contains("already disconnected"));
    let missing = carol.send_json(Method::POST, "/api/v1/admin/accounts/acct_nope/disconnect", None).await;
    assert_eq!(missing.status(), 404);
    let missing: Value = missing.json().await.unwrap();
    assert!(missing["reason"].as_str().unwrap().contains("acct_nope"), "{missing}");
    // Asking after an account is recorded like every refusal.
    let refusals = app.events_of("action.refused").await;
    let asked = refusals.iter().filter(|e| e["kind"]["account_id"] == "acct_nope").collect::<Vec<_>>();
    assert_eq!(asked.len(), 1, "{refusals:?}");
    assert_eq!(asked[0]["kind"]["action"], "account.disconnect");
    let before = fake.requests().len();
    let post = NewPost { text: "after disconnect".into(), ..Default::default() };
    let refused = act(&app, &id, Action::Publish(post)).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.rule, "only-active-accounts", "{refused}");
    assert!(refused.reason.contains("is disconnected"), "{refused}");
    assert_eq!(fake.requests().len(), before, "nothing was sent");

    // Connecting the same account again brings it back (same id, active).
    let started: Value = start(&carol, json!({"platform": "mastodon"})).await.json().await.unwrap();
    let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
    assert_eq!(carol.get(&callback).await.status(), 200);
    let again = app.state.accounts.get(&id).await.unwrap().unwrap();
    assert_eq!((again.status.as_str(), again.tags.clone()), ("active", vec!["official".to_owned()]));
    assert_eq!(app.state.accounts.list().await.unwrap().len(), 1);

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let events = serde_json::to_string(&app.events().await).unwrap();
    for (what, text) in [("logs", &logs), ("audit", &events)] {
        assert!(!text.contains(TOKEN) && !text.contains(CLIENT_SECRET), "no secret in the {what}");
        assert!(!text.contains(&state), "no OAuth state in the {what}");
    }
}

async fn connecting_refuses_what_it_should(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let app = app_with_mastodon(backend, &fake).await;
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (dave, _, _) = app.enrolled_browser("dave").await;

    // Staff cannot connect accounts.
    assert_eq!(start(&alice, json!({"platform": "mastodon"})).await.status(), 403);
    // Clear 4xx for bad input.
    for (body, says) in [
        (json!({"platform": "myspace"}), "not connected by OAuth"),
        (json!({"platform": "x"}), "add [platforms.x]"),
        (json!({"platform": "mastodon", "tags": ["no spaces"]}), "no spaces"),
        (json!({"platform": "mastodon", "operations": []}), "at least one operation"),
        (json!({"platform": "mastodon", "app_password": "x"}), "not with a password"),
        (json!({"platform": "bluesky"}), "identifier and app_password"),
        (json!({"platform": "linkedin"}), "add [platforms.linkedin]"),
        (json!({"platform": "mastodon", "organization": "123"}), "LinkedIn organization"),
        (json!({"platform": "bluesky", "identifier": "a b", "app_password": "x"}), "handle, DID or email"),
    ] {
        let r = start(&carol, body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{body}: {text}");
    }
    let r = start(&carol, json!({"platform": "mastodon", "operations": ["launch"]})).await;
    assert_eq!(r.status(), 400);

    // The user denies consent at the platform.
    fake.deny_next_consent();
    let started: Value = start(&carol, json!({"platform": "mastodon"})).await.json().await.unwrap();
    let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
    let r = carol.get(&callback).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("access_denied"));

    // Another admin cannot finish carol's connection.
    let started: Value = start(&carol, json!({"platform": "mastodon"})).await.json().await.unwrap();
    let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
    let r = dave.get(&callback).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("started by another admin"));
    assert_eq!(carol.get(&callback).await.status(), 400, "and it is used up");

    // Too late: the state expires after ten minutes.
    let started: Value = start(&carol, json!({"platform": "mastodon"})).await.json().await.unwrap();
    let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    let r = carol.get(&callback).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("expired"));

    // A forged code: the platform refuses it; its words are shown.
    let started: Value = start(&carol, json!({"platform": "mastodon"})).await.json().await.unwrap();
    let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
    let forged = callback.replace("code=code-", "code=forged-");
    let r = carol.get(&forged).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_grant"));

    // A state nobody issued.
    let r = carol.get("/connect/callback?state=made-up&code=anything").await;
    assert_eq!(r.status(), 400);
    // Not signed in: no connection is finished.
    let stranger = app.browser();
    assert_eq!(stranger.get(&callback).await.status(), 401);

    assert_eq!(app.count("accounts").await, 0, "nothing was connected");
    assert_eq!(app.count("credentials").await, 0);
    assert_eq!(app.events_of("account.connect.failed").await.len(), 6, "each failed attempt is recorded");
}

/// Starts connecting a Mastodon account and consents: the callback to finish it.
async fn begin(admin: &Browser) -> String {
    let body = json!({"platform": "mastodon", "tags": ["official"], "operations": ["publish"]});
    let started: Value = start(admin, body).await.json().await.unwrap();
    consent(admin, started["authorize_url"].as_str().unwrap()).await
}

/// Finishing a connection calls the platform (the code exchange): that
/// attempt is recorded first, and with no journal the platform hears nothing.
async fn the_code_exchange_is_recorded_before_it_is_made(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let app = app_with_mastodon(backend, &fake).await;
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let callback = begin(&carol).await;
    assert_eq!(carol.get(&callback).await.status(), 200);
    let attempt = &app.events_of("account.connect.attempt").await[0];
    let connected = &app.events_of("account.connect").await[0];
    assert_eq!(attempt["kind"]["platform"], "mastodon");
    assert!(attempt["seq"].as_u64() < connected["seq"].as_u64());

    let callback = begin(&carol).await;
    let exchanges = || fake.requests().iter().filter(|r| r.path.starts_with("/oauth/token")).count();
    let before = exchanges();
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let r = carol.get(&callback).await;
    assert_eq!(r.status(), 503);
    assert_eq!(exchanges(), before, "no exchange without its record");
}

on_both_backends!(
    mastodon_connect_then_act_then_disconnect,
    connecting_refuses_what_it_should,
    the_code_exchange_is_recorded_before_it_is_made
);

/// A Mastodon account stored as a connection would store it.
async fn connected(app: &TestApp, fake: &MastodonFake, name: &str) -> AccountId {
    use custodian::domain::{Account, Status};
    use custodian::vault::credentials::{CredentialKind, Credentials};
    let now = app.clock.now();
    let account = Account {
        id: format!("acct_{name}").into(),
        platform: custodian::domain::Platform::Mastodon,
        handle: format!("@{name}"),
        external_id: format!("1090000000000000{}", name.len()),
        base_url: Some(fake.base.clone()),
        status: Status::Active,
        status_reason: None,
        tags: vec!["official".into()],
        scopes: vec![],
        token_expires_at: None,
        connected_by: "test".into(),
        created_at: now,
    };
    assert!(app.state.accounts.insert(&account).await.unwrap());
    let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
    vault
        .store(
            &account.id,
            CredentialKind::AccessToken,
            &custodian::secret::Secret::new(TOKEN.into()),
            None,
            now,
        )
        .await
        .unwrap();
    account.id
}

async fn publish(app: &TestApp, id: &str) -> Result<Outcome, Refusal> {
    let post = NewPost { text: "Vaccination drive today".into(), ..Default::default() };
    act(app, id, Action::Publish(post)).await
}

async fn an_unreadable_credential_sends_nothing_and_is_recorded(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let app = app_with_mastodon(backend, &fake).await;
    let logs = captured_logs("debug");
    let clinic = connected(&app, &fake, "clinic").await;
    let pharmacy = connected(&app, &fake, "pharmacy").await;
    let sealed = |id: AccountId| {
        let db = app.state.db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT sealed FROM credentials WHERE account_id = $1")
                .bind(id)
                .fetch_one(db.pool())
                .await
                .unwrap()
        }
    };
    let set = |id: AccountId, value: String| {
        let db = app.state.db.clone();
        async move {
            sqlx::query("UPDATE credentials SET sealed = $1 WHERE account_id = $2")
                .bind(value)
                .bind(id)
                .execute(db.pool())
                .await
                .unwrap();
        }
    };
    // Pharmacy's ciphertext copied onto clinic's row: it does not open there.
    set(clinic.clone(), sealed(pharmacy.clone()).await).await;
    // Pharmacy's now claims a key the ring does not hold.
    let original = sealed(pharmacy.clone()).await;
    set(pharmacy.clone(), original.replacen("v1.k1.", "v1.k9.", 1)).await;

    let e = publish(&app, &clinic).await.unwrap_err();
    assert_eq!(
        (custodian::http::error::status_of(e.kind).as_u16(), e.code()),
        (409, "credential_unreadable"),
        "{e}"
    );
    assert!(
        e.to_string().contains("damaged or does not belong to it")
            && e.to_string().contains("nothing was sent")
    );
    let e = publish(&app, &pharmacy).await.unwrap_err();
    assert!(e.to_string().contains("\"k9\", which is not in the key ring"), "{e}");
    assert!(fake.requests().is_empty(), "nothing reached the platform");
    let recorded = app.events_of("vault.unreadable").await;
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0]["decision"], "denied");
    assert_eq!(recorded[0]["kind"]["account_id"], clinic.as_str());

    // Restored, it works again.
    set(pharmacy.clone(), original).await;
    assert!(publish(&app, &pharmacy).await.is_ok());
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("a credential could not be opened"));
    assert!(!logs.contains(TOKEN) && !serde_json::to_string(&app.events().await).unwrap().contains(TOKEN));
}

async fn a_token_the_platform_refuses_marks_the_account(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let app = app_with_mastodon(backend, &fake).await;
    let id = connected(&app, &fake, "clinic").await;
    fake.expire_token();
    // Mastodon tokens cannot be refreshed: a 401 means an admin must connect it again.
    let e = publish(&app, &id).await.unwrap_err();
    assert_eq!(e.code(), "account_unavailable", "{e}");
    assert!(e.reason.contains("needs_reconnect"), "{e}");
    let account = app.state.accounts.get(&id).await.unwrap().unwrap();
    assert_eq!(account.status.as_str(), "needs_reconnect");
    assert_eq!(app.events_of("account.needs_reconnect").await.len(), 1);
    let sent = fake.requests().len();
    let e = publish(&app, &id).await.unwrap_err();
    assert!(e.to_string().contains("no refresh token is stored"), "the reason is kept: {e}");
    assert_eq!(fake.requests().len(), sent, "a marked account sends nothing");
}

on_both_backends!(
    an_unreadable_credential_sends_nothing_and_is_recorded,
    a_token_the_platform_refuses_marks_the_account
);

mod meta {
    //! Facebook Login (a Page token chosen from the user's Pages) and
    //! Instagram Login (a 60-day token that renews itself), against the fake Graph API.

    use super::*;
    use crate::support::fakes::facebook::{self as graph, GraphFake};
    use custodian::platforms::config::OAuthApp;
    use custodian::secret::Secret;

    const PAGE_TOKEN: &str = "page-token-never-shown";

    async fn app_with_meta(backend: Backend, fake: &GraphFake) -> TestApp {
        let host = fake.base.trim_end_matches(&format!("/{}", graph::VERSION)).to_owned();
        let (base, host) = (fake.base.clone(), host);
        TestApp::spawn_with(backend, move |c| {
            let app = |authorize: String, token: String| OAuthApp {
                client_id: graph::CLIENT_ID.into(),
                client_secret: Some(Secret::new(graph::CLIENT_SECRET.into())),
                api_base: Some(base.parse().unwrap()),
                authorize_url: Some(authorize.parse().unwrap()),
                token_url: Some(token.parse().unwrap()),
                ..Default::default()
            };
            c.platforms.facebook =
                Some(app(format!("{host}/dialog/oauth"), format!("{base}/oauth/access_token")));
            c.platforms.instagram =
                Some(app(format!("{host}/oauth/authorize"), format!("{host}/oauth/access_token")));
        })
        .await
    }

    async fn kinds(app: &TestApp, id: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT kind FROM credentials WHERE account_id = $1 ORDER BY kind")
            .bind(id)
            .fetch_all(app.state.db.pool())
            .await
            .unwrap()
    }

    async fn facebook_keeps_only_the_chosen_pages_token(backend: Backend) {
        let fake = GraphFake::start(PAGE_TOKEN).await;
        let app = app_with_meta(backend, &fake).await;
        let (carol, _, _) = app.enrolled_browser("carol").await;

        // The user manages two Pages: without a choice, nothing is connected.
        let started: Value = start(&carol, json!({"platform": "facebook"})).await.json().await.unwrap();
        let url = started["authorize_url"].as_str().unwrap();
        assert!(
            url.contains(
                "scope=pages_show_list+pages_manage_posts+pages_manage_engagement+pages_read_engagement"
            ),
            "{url}"
        );
        assert!(!url.contains("code_challenge"), "Facebook Login takes no PKCE");
        let callback = consent(&carol, url).await;
        let r = carol.get(&callback).await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("choose one Page (page_id) of: Riverside Clinic (104729385761234)"), "{page}");
        assert_eq!(app.count("accounts").await, 0);

        let body = json!({"platform": "facebook", "page_id": graph::PAGE_ID, "tags": ["official"]});
        let started: Value = start(&carol, body).await.json().await.unwrap();
        let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
        assert_eq!(carol.get(&callback).await.status(), 200);
        let account = app.state.accounts.find("facebook", graph::PAGE_ID).await.unwrap().unwrap();
        assert_eq!(account.handle, graph::PAGE_NAME);
        assert_eq!(kinds(&app, &account.id).await, vec!["page_token"], "the user token is not kept");
        let post = NewPost { text: "Open house on Friday".into(), ..Default::default() };
        let done = act(&app, &account.id, Action::Publish(post)).await;
        assert!(matches!(done, Ok(Outcome::Published(_))), "{done:?}");

        // A Page id the user does not manage.
        let body = json!({"platform": "facebook", "page_id": "123"});
        let started: Value = start(&carol, body).await.json().await.unwrap();
        let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
        let page = carol.get(&callback).await.text().await.unwrap();
        assert!(page.contains("does not manage Page 123"), "{page}");

        let r = carol
            .send_json(Method::POST, &format!("/api/v1/admin/accounts/{}/disconnect", account.id), None)
            .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["revoked_at_platform"], false);
        let note = body["note"].as_str().unwrap();
        assert!(note.contains("facebook offers no revocation of this token"), "{note}");
        assert!(kinds(&app, &account.id).await.is_empty());
    }

    async fn instagram_tokens_renew_themselves(backend: Backend) {
        let fake = GraphFake::start(PAGE_TOKEN).await;
        let app = app_with_meta(backend, &fake).await;
        let (carol, _, _) = app.enrolled_browser("carol").await;
        let body = json!({"platform": "instagram", "operations": ["publish", "list_comments"], "tags": ["official"]});
        let started: Value = start(&carol, body).await.json().await.unwrap();
        let url = started["authorize_url"].as_str().unwrap();
        assert!(
            url.contains("scope=instagram_business_basic%2Cinstagram_business_content_publish%2Cinstagram_business_manage_comments"),
            "comma-separated, as Instagram Login wants: {url}"
        );
        let callback = consent(&carol, url).await;
        assert_eq!(carol.get(&callback).await.status(), 200);
        let account = app.state.accounts.find("instagram", graph::IG_USER_ID).await.unwrap().unwrap();
        assert_eq!(account.handle, format!("@{}", graph::IG_USERNAME));
        assert_eq!(kinds(&app, &account.id).await, vec!["access_token", "refresh_token"]);
        let expires = account.token_expires_at.expect("the 60-day expiry is known");
        let days = (expires.millis() - app.clock.now().millis()) / 86_400_000;
        assert_eq!(days, 60, "the sixty days Instagram granted");

        // A day before it expires, the next call renews it first.
        app.clock.advance(std::time::Duration::from_secs(60 * 86_400 - 60));
        let comments = Action::Comments { post_id: "17900000000000001".into() };
        let _ = act(&app, &account.id, comments).await;
        let renewed = fake.requests().iter().filter(|r| r.path.contains("/refresh_access_token?")).count();
        assert_eq!(renewed, 1);
        let account = app.state.accounts.get(&account.id).await.unwrap().unwrap();
        assert!(account.token_expires_at.unwrap().millis() > app.clock.now().millis() + 59 * 86_400_000);
    }

    on_both_backends!(facebook_keeps_only_the_chosen_pages_token, instagram_tokens_renew_themselves);
}

mod x {
    //! X: authorization code with PKCE, a confidential client (HTTP Basic),
    //! refresh tokens that rotate, and the retry after a 401.

    use super::*;
    use crate::support::fakes::x::{self as fake, XFake};
    use custodian::platforms::config::OAuthApp;
    use custodian::secret::Secret;
    use custodian::vault::credentials::{CredentialKind, Credentials};

    async fn x_connects_refreshes_after_a_401_and_revokes(backend: Backend) {
        let x = XFake::start("x-access-token-never-shown").await;
        let base = x.base.clone();
        let app = TestApp::spawn_with(backend, move |c| {
            let at = |path: &str| Some(format!("{base}{path}").parse().unwrap());
            c.platforms.x = Some(OAuthApp {
                client_id: fake::CLIENT_ID.into(),
                client_secret: Some(Secret::new(fake::CLIENT_SECRET.into())),
                api_base: at(""),
                authorize_url: at("/i/oauth2/authorize"),
                token_url: at("/2/oauth2/token"),
                revoke_url: at("/2/oauth2/revoke"),
                ..Default::default()
            });
        })
        .await;
        let (carol, _, _) = app.enrolled_browser("carol").await;
        let body = json!({"platform": "x", "tags": ["official"], "operations": ["publish", "hide_comment"]});
        let started: Value = start(&carol, body).await.json().await.unwrap();
        assert_eq!(
            started["scopes"],
            json!([
                "users.read",
                "tweet.read",
                "offline.access",
                "tweet.write",
                "media.write",
                "tweet.moderate.write"
            ])
        );
        let callback = consent(&carol, started["authorize_url"].as_str().unwrap()).await;
        let r = carol.get(&callback).await;
        assert_eq!(r.status(), 200);
        let account = app.state.accounts.find("x", "1587654321098765432").await.unwrap().unwrap();
        assert_eq!(account.handle, format!("@{}", fake::USERNAME));
        let in_two_hours = app.clock.now().plus(std::time::Duration::from_secs(7200));
        assert_eq!(account.token_expires_at, Some(in_two_hours));
        let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
        let first_refresh = vault.open(&account.id, CredentialKind::RefreshToken).await.unwrap();

        let publish = |text: &str| {
            let action = Action::Publish(NewPost { text: text.into(), ..Default::default() });
            let (app, id) = (&app, account.id.clone());
            async move { act(app, &id, action).await }
        };
        let done = publish("Clinic hours change on Monday").await;
        assert!(matches!(done, Ok(Outcome::Published(_))), "{done:?}");
        // X says the token is no longer valid: one refresh, then the call again.
        x.expire_token();
        let done = publish("Free blood pressure checks this week").await;
        assert!(matches!(done, Ok(Outcome::Published(_))), "{done:?}");
        let tweets: Vec<_> = x.requests().into_iter().filter(|r| r.path == "/2/tweets").collect();
        assert_eq!(tweets.len(), 3, "sent, refused with 401, sent again");
        assert_eq!(tweets[2].header("authorization"), Some(format!("Bearer {}", x.current_token()).as_str()));
        assert_eq!(
            x.requests().iter().filter(|r| r.path == "/2/oauth2/token").count(),
            2,
            "the code, then one refresh"
        );
        let rotated = vault.open(&account.id, CredentialKind::RefreshToken).await.unwrap();
        assert_ne!(rotated.expose(), first_refresh.expose(), "the rotated refresh token is kept");

        let r = carol
            .send_json(Method::POST, &format!("/api/v1/admin/accounts/{}/disconnect", account.id), None)
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["revoked_at_platform"], true);
        let revokes: Vec<_> = x.requests().into_iter().filter(|r| r.path == "/2/oauth2/revoke").collect();
        let hints: Vec<String> = revokes
            .iter()
            .map(|r| {
                url::form_urlencoded::parse(&r.body)
                    .find(|(k, _)| k == "token_type_hint")
                    .unwrap()
                    .1
                    .into_owned()
            })
            .collect();
        assert_eq!(hints, ["refresh_token", "access_token"], "the grant's refresh token first");
        assert!(revokes[0].header("authorization").unwrap().starts_with("Basic "), "a confidential client");
        let e = publish("after").await.unwrap_err();
        assert_eq!(e.rule, "only-active-accounts", "{e}");
    }

    on_both_backends!(x_connects_refreshes_after_a_401_and_revokes);
}

mod linkedin {
    //! LinkedIn: the 3-legged flow without PKCE, acting as the organization chosen.

    use super::*;
    use crate::support::fakes::linkedin::{self as fake, LinkedInFake};
    use custodian::platforms::config::OAuthApp;
    use custodian::secret::Secret;

    async fn linkedin_connects_as_the_organization(backend: Backend) {
        let li = LinkedInFake::start("li-token-never-shown").await;
        let (base, www) = (li.base.clone(), li.upload_origin.clone());
        let app = TestApp::spawn_with(backend, move |c| {
            let at = |path: &str| Some(format!("{www}{path}").parse().unwrap());
            c.platforms.linkedin = Some(OAuthApp {
                client_id: fake::CLIENT_ID.into(),
                client_secret: Some(Secret::new(fake::CLIENT_SECRET.into())),
                api_base: Some(base.parse().unwrap()),
                authorize_url: at("/oauth/v2/authorization"),
                token_url: at("/oauth/v2/accessToken"),
                revoke_url: at("/oauth/v2/revoke"),
                upload_origin: at(""),
                ..Default::default()
            });
        })
        .await;
        let (carol, _, _) = app.enrolled_browser("carol").await;
        for bad in
            [json!({"platform": "linkedin"}), json!({"platform": "linkedin", "organization": "urn:li:x"})]
        {
            let r = start(&carol, bad).await;
            assert_eq!(r.status(), 422);
            assert!(r.text().await.unwrap().contains("organization's numeric id"));
        }
        let org = fake::ORGANIZATION.rsplit(':').next().unwrap();
        let started: Value =
            start(&carol, json!({"platform": "linkedin", "organization": org, "tags": ["official"]}))
                .await
                .json()
                .await
                .unwrap();
        let url = started["authorize_url"].as_str().unwrap();
        assert!(
            url.contains("scope=w_organization_social+r_organization_social")
                && !url.contains("code_challenge")
        );
        let callback = consent(&carol, url).await;
        let r = carol.get(&callback).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let account = app.state.accounts.find("linkedin", fake::ORGANIZATION).await.unwrap().unwrap();
        assert_eq!(account.scopes, vec!["w_organization_social", "r_organization_social"]);
        let action = Action::Publish(NewPost { text: "We are hiring nurses".into(), ..Default::default() });
        let done = act(&app, &account.id, action).await;
        assert!(matches!(done, Ok(Outcome::Published(_))), "{done:?}");
        let sent = li.requests().into_iter().find(|r| r.path == "/rest/posts").unwrap();
        let body: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["author"], fake::ORGANIZATION);
        let r = carol
            .send_json(Method::POST, &format!("/api/v1/admin/accounts/{}/disconnect", account.id), None)
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["revoked_at_platform"], true);
    }

    on_both_backends!(linkedin_connects_as_the_organization);
}

mod bluesky {
    //! Bluesky: an app password instead of a browser round trip; a session
    //! whose refresh token has expired starts again with that password.

    use super::*;
    use crate::support::fakes::bluesky::PdsFake;
    use custodian::vault::credentials::{CredentialKind, Credentials};

    const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    const PASSWORD: &str = "abcd-efgh-ijkl-mnop";

    async fn bluesky_connects_with_an_app_password(backend: Backend) {
        let pds = PdsFake::start("initial-access-jwt", DID).await;
        pds.app_password(PASSWORD);
        let base = pds.base.clone();
        let app = TestApp::spawn_with(backend, move |c| {
            c.platforms.bluesky =
                Some(custodian::platforms::config::BlueskyConfig { pds: Some(base.parse().unwrap()) });
        })
        .await;
        let logs = captured_logs("debug");
        let (carol, _, _) = app.enrolled_browser("carol").await;
        let connect = |password: &str| json!({"platform": "bluesky", "identifier": pds.handle(), "app_password": password, "tags": ["official"]});
        let r = start(&carol, connect("wrong-pass-word-here")).await;
        assert_eq!(r.status(), 400);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("refused the identifier or app password") && !text.contains("wrong-pass"),
            "{text}"
        );

        let r = start(&carol, connect(PASSWORD)).await;
        assert_eq!(r.status(), 201);
        let account: Value = r.json().await.unwrap();
        assert_eq!(account["handle"], format!("@{}", pds.handle()));
        assert_eq!(account["external_id"], DID);
        let id = AccountId::from(account["id"].as_str().unwrap());
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT kind FROM credentials WHERE account_id = $1 ORDER BY kind")
                .bind(&id)
                .fetch_all(app.state.db.pool())
                .await
                .unwrap();
        assert_eq!(kinds, ["access_token", "app_password", "refresh_token"]);

        let publish = |text: &str| {
            let action = Action::Publish(NewPost { text: text.into(), ..Default::default() });
            let (app, id) = (&app, id.clone());
            async move { act(app, &id, action).await }
        };
        assert!(matches!(publish("Walk-in clinic open").await, Ok(Outcome::Published(_))));
        // Months later the refresh token has expired too: a new session with the app password.
        let later = std::time::Duration::from_secs(91 * 86_400);
        pds.advance(later);
        app.clock.advance(later);
        let done = publish("Still here").await;
        assert!(matches!(done, Ok(Outcome::Published(_))), "{done:?}");
        let methods: Vec<String> = pds.requests().iter().map(|r| r.path.clone()).collect();
        let refreshed =
            methods.iter().position(|p| p.ends_with("refreshSession")).expect("refreshSession tried");
        assert!(methods[refreshed..].iter().any(|p| p.ends_with("createSession")), "{methods:?}");

        // (Carol's session has long ended: the operator disconnects, as `custodian accounts disconnect` does.)
        let by = custodian::audit::ChangedBy {
            actor: Actor::default(),
            name: "cli:operator".into(),
            meta: RequestMeta::default(),
        };
        let done = app.state.actions.disconnect_as_operator(&id, &by).await.unwrap();
        assert!(done.revoked_at_platform);
        assert!(done.note.unwrap().contains("revoke the app password"));
        assert!(pds.requests().iter().any(|r| r.path.ends_with("deleteSession")));
        let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
        assert!(vault.open(&id, CredentialKind::AppPassword).await.is_err(), "the app password is gone");

        let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
        let events = serde_json::to_string(&app.events().await).unwrap();
        assert!(!logs.contains(PASSWORD) && !events.contains(PASSWORD) && !events.contains("wrong-pass"));
    }

    on_both_backends!(bluesky_connects_with_an_app_password);
}

/// Connecting and disconnecting call platforms: policy decides them, like every action.
async fn policy_decides_connecting_and_disconnecting(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for entry in std::fs::read_dir(&repo).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let freeze = "@id(\"accounts-frozen\")\nforbid (principal, action in [Custodian::Action::\"account.connect\", Custodian::Action::\"account.disconnect\"], resource);\n";
    std::fs::write(dir.path().join("freeze.cedar"), freeze).unwrap();
    let (base, policies) = (fake.base.clone(), dir.path().to_owned());
    let app = TestApp::spawn_with(backend, move |c| {
        c.policy.dir = policies;
        c.platforms.mastodon = Some(custodian::platforms::config::OAuthApp {
            client_id: CLIENT_ID.into(),
            client_secret: Some(custodian::secret::Secret::new(CLIENT_SECRET.into())),
            api_base: Some(base.parse().unwrap()),
            ..Default::default()
        });
    })
    .await;
    let id = connected(&app, &fake, "clinic").await;
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let r = start(&carol, json!({"platform": "mastodon"})).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["rule"], "accounts-frozen", "{body}");
    assert_eq!(app.count("connect_pending").await, 0);
    let r = carol.send_json(Method::POST, &format!("/api/v1/admin/accounts/{id}/disconnect"), None).await;
    assert_eq!(r.status(), 403);
    assert!(fake.requests().is_empty(), "no revocation was sent");
    assert_eq!(app.count("credentials").await, 1, "nothing was deleted");
    let refused = app.events_of("action.refused").await;
    let actions: Vec<&str> = refused.iter().map(|e| e["kind"]["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["account.connect", "account.disconnect"]);
}

on_both_backends!(policy_decides_connecting_and_disconnecting);
