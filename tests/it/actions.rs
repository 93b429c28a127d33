//! The JSON door to the one action path: staff act on the accounts tagged
//! for their groups; each success names the platform's id and the audit
//! event of its intent, recorded before the platform acted; each refusal
//! names its step and rule, is recorded, and leaves the platform untouched.

use custodian::clock::Clock;
use custodian::domain::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::{Backend, TestApp};

async fn app(backend: Backend) -> (TestApp, AccountId, AccountId) {
    let app = TestApp::spawn_with(backend, |c| {
        c.directory.account_tags.insert("social-media-staff".into(), vec!["official".into()]);
    })
    .await;
    let (clinic, cardiology) = app.practice_accounts().await;
    (app, clinic, cardiology)
}

/// A JSON API call: the status and the body (null when none).
pub(crate) async fn call(who: &Browser, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = who.send_json(method, path, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn staff_act_through_the_api_and_every_step_is_recorded(backend: Backend) {
    let (app, clinic, _) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;

    let (status, mine) = call(&alice, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(status, 200);
    let accounts = mine["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "only the account tagged for alice's group: {mine}");
    assert_eq!(accounts[0]["handle"], "clinic");
    assert_eq!(
        accounts[0]["actions"],
        json!([
            "post.publish",
            "post.delete",
            "comment.reply",
            "comment.list",
            "comment.hide",
            "comment.delete",
            "post.edit",
            "post.repost",
            "post.like"
        ])
    );

    let path = format!("/api/v1/accounts/{clinic}/posts");
    let (status, created) = call(
        &alice,
        Method::POST,
        &path,
        Some(json!({"text": "Flu shots this Saturday", "link": "https://clinic.example/flu"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let post_id = created["id"].as_str().unwrap().to_owned();
    let intents = app.events_of("action.intent").await;
    assert_eq!(intents.len(), 1);
    let intent = &intents[0];
    assert_eq!(created["audit_event_id"], intent["event_id"], "the answer names the intent's audit event");
    assert_eq!(intent["kind"]["action"], "post.publish");
    assert_eq!(intent["kind"]["door"], "api");
    assert_eq!(intent["kind"]["policies"], json!(["staff-post-and-reply-on-their-accounts"]));
    assert_eq!(intent["kind"]["content"]["text"], "Flu shots this Saturday\nhttps://clinic.example/flu");
    let outcome = &app.events_of("action.outcome").await[0];
    assert_eq!(outcome["kind"]["intent_event_id"], intent["event_id"]);
    assert_eq!(outcome["kind"]["ok"], true);
    assert!(outcome["seq"].as_u64() > intent["seq"].as_u64(), "intent first, then outcome");

    let (status, reply) = call(
        &alice,
        Method::POST,
        &format!("/api/v1/accounts/{clinic}/posts/{post_id}/replies"),
        Some(json!({"text": "Walk-ins welcome"})),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let (status, listed) =
        call(&alice, Method::GET, &format!("/api/v1/accounts/{clinic}/posts/{post_id}/comments"), None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["comments"][0]["text"], "Walk-ins welcome");
    let reply_id = reply["id"].as_str().unwrap();
    let (status, _) =
        call(&alice, Method::POST, &format!("/api/v1/accounts/{clinic}/comments/{reply_id}/hide"), None)
            .await;
    assert_eq!(status, 200);
    let (status, done) =
        call(&alice, Method::DELETE, &format!("/api/v1/accounts/{clinic}/posts/{post_id}"), None).await;
    assert_eq!((status, done["done"].clone()), (200, json!(true)), "{done}");
    assert_eq!(app.events_of("action.intent").await.len(), 5);
    let page = alice.get_text(&format!("/sandbox/{clinic}")).await;
    assert!(!page.contains("Flu shots this Saturday"), "deleted");
}

async fn each_refusal_names_its_rule_is_recorded_and_changes_nothing(backend: Backend) {
    let (app, clinic, cardiology) = app(backend).await;
    let (alice, alice_secret, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let publish = |account: &str| format!("/api/v1/accounts/{account}/posts");
    let text = Some(json!({"text": "hello"}));

    // Another group's account: nothing permits it.
    let (status, body) = call(&alice, Method::POST, &publish(&cardiology), text.clone()).await;
    assert_eq!(
        (status, body["error"].clone(), body["rule"].clone()),
        (403, json!("forbidden"), json!("no-permit")),
        "{body}"
    );
    assert!(body["reason"].as_str().unwrap().contains("no policy allows you post.publish on cardiology"));
    assert!(body["remedy"].is_string());
    // A reviewer does not publish.
    let (status, _) = call(&bob, Method::POST, &publish(&clinic), text.clone()).await;
    assert_eq!(status, 403);
    // Unknown account; malformed input.
    let (status, body) = call(&alice, Method::POST, &publish("acct_nope"), text.clone()).await;
    assert_eq!((status, body["error"].clone()), (404, json!("not_found")));
    let (status, body) = call(
        &alice,
        Method::POST,
        &publish(&clinic),
        Some(json!({"text": "x", "link": "javascript:alert(1)"})),
    )
    .await;
    assert_eq!((status, body["error"].clone()), (400, json!("bad_request")), "{body}");
    let (status, body) = call(&alice, Method::POST, &publish(&clinic), Some(json!({"txt": "typo"}))).await;
    assert_eq!(status, 400, "{body}");
    // The platform refuses the content: its words, after the intent was recorded.
    let (status, body) = call(&alice, Method::POST, &publish(&clinic), Some(json!({"text": "   "}))).await;
    assert_eq!(
        (status, body["error"].clone(), body["rule"].clone()),
        (422, json!("invalid"), json!("platform:validation")),
        "{body}"
    );
    assert!(body["audit_event_id"].is_string());
    assert_eq!(app.events_of("action.outcome").await[0]["decision"], "denied");

    // A delete needs a second factor from the last 5 minutes.
    let (_, created) = call(&alice, Method::POST, &publish(&clinic), text.clone()).await;
    let post = created["id"].as_str().unwrap().to_owned();
    app.clock.advance(std::time::Duration::from_secs(6 * 60));
    let (status, body) =
        call(&alice, Method::DELETE, &format!("/api/v1/accounts/{clinic}/posts/{post}"), None).await;
    assert_eq!((status, body["error"].clone()), (403, json!("verify_again")), "{body}");
    assert_eq!(body["rule"], "deletes-need-a-fresh-second-factor");
    // The words are the policy's own (@reason, @remedy).
    assert_eq!(body["reason"], "post.delete needs a second factor verified in the last 5 minutes");
    assert!(body["remedy"].as_str().unwrap().ends_with("then retry within 5 minutes."), "{body}");
    // Verifying again (step-up) lets the delete through.
    let page = alice.get_text("/auth/mfa?again=true").await;
    let csrf = crate::support::browser::csrf_of(&page);
    let r =
        alice.post_form("/auth/mfa/verify", &[("csrf", &csrf), ("code", &app.totp(&alice_secret, 0))]).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let (status, body) =
        call(&alice, Method::DELETE, &format!("/api/v1/accounts/{clinic}/posts/{post}"), None).await;
    assert_eq!(status, 200, "{body}");
    // An account that needs reconnecting.
    let now = app.clock.now();
    let needs = custodian::domain::Status::NeedsReconnect;
    app.state.accounts.set_status(&clinic, needs, Some("refresh refused"), now).await.unwrap();
    let (status, body) = call(&alice, Method::POST, &publish(&clinic), text.clone()).await;
    assert_eq!((status, body["rule"].clone()), (403, json!("only-active-accounts")), "{body}");
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("account ")
            && reason.ends_with(" is needs_reconnect (refresh refused): an admin must connect it again"),
        "{body}"
    );

    let refused = app.events_of("action.refused").await;
    let rules: Vec<&str> = refused.iter().map(|e| e["kind"]["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        ["no-permit", "no-permit", "account", "deletes-need-a-fresh-second-factor", "only-active-accounts"],
        "every refusal by policy is recorded"
    );
    assert!(refused.iter().all(|e| e["decision"] == "denied"));
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sandbox_posts WHERE deleted_at IS NULL")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(posts, 0, "the one allowed post, deleted after the step-up; nothing refused was created");
}

on_both_backends!(
    staff_act_through_the_api_and_every_step_is_recorded,
    each_refusal_names_its_rule_is_recorded_and_changes_nothing,
    an_account_on_a_platform_this_build_does_not_know_stays_listed_and_its_actions_are_recorded
);

/// A row naming a platform this build does not know (written by a newer
/// build, or by hand) does not break the accounts list, and an action on it
/// is recorded and refused after its intent, as on any unusable account.
async fn an_account_on_a_platform_this_build_does_not_know_stays_listed_and_its_actions_are_recorded(
    backend: Backend,
) {
    let (app, clinic, _) = app(backend).await;
    sqlx::query("UPDATE accounts SET platform = 'myspace' WHERE id = $1")
        .bind(&clinic)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let listed = app.state.accounts.list().await.unwrap();
    assert_eq!(listed.len(), 2, "both accounts are still listed");
    let odd = listed.iter().find(|a| a.id == clinic).unwrap();
    assert_eq!(odd.platform, custodian::domain::Platform::Unknown);
    let post = custodian::domain::NewPost { text: "Clinic hours".into(), ..Default::default() };
    let refused =
        crate::support::act(&app, &clinic, custodian::domain::Action::Publish(post)).await.unwrap_err();
    assert!(refused.audit_event_id.is_some(), "refused after its intent: {refused}");
    let intents = app.events_of("action.intent").await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["kind"]["platform"], "unknown");
    let outcomes = app.events_of("action.outcome").await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["kind"]["ok"], false);
}
