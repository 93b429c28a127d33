//! Personal API tokens: created only with a fresh second factor, scoped to
//! actions and accounts, expiring, shown once and stored hashed, revoked by
//! their owner, an admin, or with their owner's access; every use passes
//! the owner through the directory gate and the one action path.

use std::time::Duration;

use custodian::clock::Clock;
use custodian::domain::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::{Backend, TestApp};

async fn app(backend: Backend) -> (TestApp, AccountId, AccountId) {
    let app = TestApp::spawn(backend).await;
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "test".into(),
        meta: Default::default(),
    };
    let now = app.clock.now();
    let mut ids = Vec::new();
    for (handle, tag) in [("clinic", "official"), ("news", "official")] {
        let added =
            app.state.accounts.add_sandbox(&app.state.journal, handle, &[tag.to_owned()], &by, now).await;
        ids.push(added.unwrap().id);
    }
    (app, ids[0].clone(), ids[1].clone())
}

pub async fn call(who: &Browser, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = who.send_json(method, path, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A call as automation makes it: the token, no cookie.
pub async fn with_token(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Alice's token for publishing and listing comments on `account`.
pub async fn publishing_token(alice: &Browser, account: &str) -> (String, String) {
    let body = json!({"name": "scheduler", "actions": ["post.publish", "comment.list"], "accounts": [account], "expires_in_days": 30});
    let (status, created) = call(alice, Method::POST, "/api/v1/tokens", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    (created["token"].as_str().unwrap().to_owned(), created["id"].as_str().unwrap().to_owned())
}

async fn a_token_acts_within_its_scope_only_and_is_stored_hashed(backend: Backend) {
    let (app, clinic, news) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (token, id) = publishing_token(&alice, &clinic).await;
    assert!(token.starts_with("cst_") && token.len() > 40, "{token}");
    let created = &app.events_of("token.create").await[0];
    assert_eq!(created["kind"]["token_id"], id);
    assert_eq!(created["kind"]["policies"], json!(["staff-create-api-tokens"]));

    // Shown once: neither the listing, the journal nor the database holds it.
    let (_, listed) = call(&alice, Method::GET, "/api/v1/tokens", None).await;
    assert_eq!(listed["tokens"][0]["id"], id);
    assert_eq!(listed["tokens"][0]["actions"], json!(["comment.list", "post.publish"]));
    assert!(!listed.to_string().contains(&token));
    assert!(!app.events().await.iter().any(|e| e.to_string().contains(&token)));
    let row: (String, String) = sqlx::query_as("SELECT secret_hash, name FROM api_tokens WHERE id = $1")
        .bind(&id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_ne!(row.0, token);
    assert!(!row.0.contains(&token[4..]), "only a hash is stored");

    // In scope: published through the token door, as alice, naming the token.
    let publish = |account: &str| format!("/api/v1/accounts/{account}/posts");
    let (status, post) =
        with_token(&app, &token, Method::POST, &publish(&clinic), Some(json!({"text": "Open house"}))).await;
    assert_eq!(status, 201, "{post}");
    let intent = &app.events_of("action.intent").await[0];
    assert_eq!(intent["kind"]["door"], "token");
    assert_eq!(intent["actor"]["token_id"], id);
    assert_eq!(intent["event_id"], post["audit_event_id"]);
    // Listing shows only what the token reaches.
    let (status, mine) = with_token(&app, &token, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(status, 200);
    assert_eq!(mine["accounts"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["accounts"][0]["actions"], json!(["post.publish", "comment.list"]));

    // Out of scope: another action, another account, token management.
    let post_id = post["id"].as_str().unwrap();
    let cases = [
        (Method::DELETE, format!("/api/v1/accounts/{clinic}/posts/{post_id}"), None),
        (Method::POST, publish(&news), Some(json!({"text": "Elsewhere"}))),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            Some(
                json!({"name": "more", "actions": ["post.publish"], "accounts": [clinic], "expires_in_days": 1}),
            ),
        ),
    ];
    for (method, path, body) in cases {
        let (status, refused) = with_token(&app, &token, method, &path, body).await;
        assert_eq!(
            (status, refused["error"].clone()),
            (403, json!("token_out_of_scope")),
            "{path}: {refused}"
        );
        assert_eq!(refused["rule"], "token:scope");
    }
    let refused = app.events_of("action.refused").await;
    assert_eq!(refused.len(), 3, "each refusal is recorded");
    assert!(refused.iter().all(|e| e["kind"]["rule"] == "token:scope" && e["kind"]["door"] == "token"));
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sandbox_posts WHERE deleted_at IS NULL")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(posts, 1, "the platform saw only the one post in scope");
    assert_eq!(app.count("api_tokens").await, 1, "no token was created by a token");
}

async fn creating_a_token_needs_a_fresh_factor_and_a_sound_scope(backend: Backend) {
    let (app, clinic, _) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let ok = json!({"name": "scheduler", "actions": ["post.publish"], "accounts": [clinic], "expires_in_days": 90});
    let with = |key: &str, value: Value| {
        let mut b = ok.clone();
        b[key] = value;
        b
    };
    let cases = [
        (with("expires_in_days", json!(91)), 422, "expires_in_days must be 1 to 90"),
        (with("expires_in_days", json!(0)), 422, "expires_in_days"),
        (
            with("actions", json!(["post.publish", "account.connect"])),
            422,
            "\"account.connect\" is not an action",
        ),
        (with("actions", json!([])), 422, "at least one action"),
        (with("accounts", json!(["acct_nope"])), 422, "no account \"acct_nope\""),
        (with("name", json!("  ")), 422, "a name"),
        (json!({"name": "x", "actions": ["post.publish"], "accounts": [clinic]}), 400, "expires_in_days"),
        (with("scope", json!("all")), 400, "unknown field"),
    ];
    for (body, status, says) in cases {
        let (got, refused) = call(&alice, Method::POST, "/api/v1/tokens", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {refused}");
        assert!(refused["reason"].as_str().unwrap().contains(says), "{body}: {refused}");
    }
    // Six minutes after the second factor: verify again first.
    app.clock.advance(Duration::from_secs(6 * 60));
    let (status, refused) = call(&alice, Method::POST, "/api/v1/tokens", Some(ok.clone())).await;
    assert_eq!((status, refused["error"].clone()), (403, json!("verify_again")), "{refused}");
    assert_eq!(refused["rule"], "breakglass-and-tokens-need-a-fresh-second-factor");
    // Someone whom no policy lets create tokens (an auditor).
    let (dave, _, _) = app.enrolled_browser("dave").await;
    let (status, refused) = call(&dave, Method::POST, "/api/v1/tokens", Some(ok.clone())).await;
    assert_eq!((status, refused["rule"].clone()), (403, json!("no-permit")), "{refused}");
    // Not signed in at all.
    let r = reqwest::Client::new().post(app.url("/api/v1/tokens")).json(&ok).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.count("api_tokens").await, 0, "nothing was created");
    let refusals = app.events_of("action.refused").await;
    assert_eq!(refusals.len(), 2, "policy refusals are recorded");
    assert!(refusals.iter().all(|e| e["kind"]["action"] == "token.create"));
}

async fn tokens_expire_and_are_revoked_by_owner_admin_and_with_the_owner(backend: Backend) {
    let (app, clinic, _) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let publish = format!("/api/v1/accounts/{clinic}/posts");
    let post = || Some(json!({"text": "hello"}));

    // A wrong or malformed token: 401 with a bearer challenge, recorded.
    let r = reqwest::Client::new()
        .post(app.url(&publish))
        .bearer_auth("cst_forged")
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["error"].clone(), body["rule"].clone()), (json!("token_invalid"), json!("gate:token")));
    let r = reqwest::Client::new()
        .get(app.url("/api/v1/accounts"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Revoked by its owner: once; someone else's is not theirs to revoke.
    let (token, id) = publishing_token(&alice, &clinic).await;
    let (status, _) = with_token(&app, &token, Method::POST, &publish, post()).await;
    assert_eq!(status, 201);
    let (erin, _, _) = app.enrolled_browser("erin").await;
    let (erins, _) = publishing_token(&erin, &clinic).await;
    let (status, _) = call(&erin, Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(status, 404, "not erin's token");
    let (status, revoked) = call(&alice, Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["token"]["revoked_at"].is_string());
    let (status, _) = call(&alice, Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(status, 409, "already revoked");
    let (status, body) = with_token(&app, &token, Method::POST, &publish, post()).await;
    assert_eq!(
        (status, body["reason"].clone()),
        (401, json!("The API token was revoked. This attempt was recorded."))
    );

    // Admins list every token (never a secret) and revoke any; staff may not.
    let (status, _) = call(&alice, Method::GET, "/api/v1/admin/tokens", None).await;
    assert_eq!(status, 403);
    let (status, all) = call(&carol, Method::GET, "/api/v1/admin/tokens", None).await;
    assert_eq!(status, 200);
    assert_eq!(all["tokens"].as_array().unwrap().len(), 2, "alice's and erin's: {all}");
    let (other, other_id) = publishing_token(&alice, &clinic).await;
    let (status, _) = call(&carol, Method::DELETE, &format!("/api/v1/admin/tokens/{other_id}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = with_token(&app, &other, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(status, 401);

    // Revoking the owner revokes their tokens; the gate refuses them anyway.
    let (last, _) = publishing_token(&alice, &clinic).await;
    let alice_id = app.events_of("token.create").await[0]["actor"]["user_id"].as_str().unwrap().to_owned();
    let (status, placed) = call(
        &carol,
        Method::POST,
        &format!("/api/v1/admin/users/{alice_id}/revoke"),
        Some(json!({"reason": "left the team"})),
    )
    .await;
    assert_eq!(status, 200, "{placed}");
    let revoke = app.events_of("access.revoke").await;
    assert_eq!(revoke.last().unwrap()["kind"]["tokens_revoked"], 1);
    let (status, body) = with_token(&app, &last, Method::POST, &publish, post()).await;
    assert_eq!((status, body["error"].clone()), (401, json!("token_invalid")), "{body}");
    let denied = app.events_of("access.gate").await;
    assert!(
        denied.iter().filter(|e| e["kind"]["gate"] == "token").count() >= 4,
        "refused tokens are recorded: {denied:?}"
    );
    // Expiry, per the clock: erin's token, 30 days on.
    app.clock.advance(Duration::from_secs(30 * 86_400 + 1));
    let (status, body) = with_token(&app, &erins, Method::POST, &publish, post()).await;
    assert_eq!(
        (status, body["reason"].clone()),
        (401, json!("The API token has expired. This attempt was recorded."))
    );
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sandbox_posts")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(posts, 1, "only the one call with a live token reached the platform");
}

on_both_backends!(
    a_token_acts_within_its_scope_only_and_is_stored_hashed,
    creating_a_token_needs_a_fresh_factor_and_a_sound_scope,
    tokens_expire_and_are_revoked_by_owner_admin_and_with_the_owner
);
