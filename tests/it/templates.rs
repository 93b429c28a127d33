//! Approved reply templates: a reviewer approves the words once; a reply
//! that uses them goes out without a new review when what the screen finds
//! lies in those words alone, its intent naming the template. A value the
//! screen finds something in (alone, or next to the template's words)
//! sends the reply to a reviewer as any other; so does its approver's own use.

use reqwest::Method;
use serde_json::{json, Value};

use crate::actions::call;
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

/// A reply the screen holds when written freely ("your visit" confirms care).
const WORDS: &str =
    "We are sorry your visit with us was hard. Please call {desk} at 555-0100 so we can help privately.";

async fn a_reply_in_approved_words_needs_no_new_review(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let templates = "/api/v1/templates";

    // Reviewers approve templates; staff do not; malformed ones are refused.
    let template = json!({"name": "a hard visit", "body": WORDS, "placeholders": ["desk"]});
    let (status, refused) = call(&alice, Method::POST, templates, Some(template.clone())).await;
    assert_eq!(status, 403, "{refused}");
    let bad = json!({"name": "x", "body": "Hi {desk}, {other}", "placeholders": ["desk"]});
    let (status, refused) = call(&bob, Method::POST, templates, Some(bad)).await;
    assert_eq!((status, refused["error"].as_str()), (422, Some("invalid")), "{refused}");
    let (status, approved) = call(&bob, Method::POST, templates, Some(template)).await;
    assert_eq!(status, 201, "{approved}");
    let id = approved["id"].as_str().unwrap().to_owned();
    let recorded = app.events_of("template.approve").await;
    assert_eq!((recorded.len(), recorded[0]["kind"]["body"].as_str()), (1, Some(WORDS)));
    let (_, listed) = call(&alice, Method::GET, templates, None).await;
    assert_eq!(listed["templates"][0]["id"], id.as_str(), "{listed}");

    let (status, post) = call(
        &alice,
        Method::POST,
        &format!("/api/v1/accounts/{clinic}/posts"),
        Some(json!({"text": "Our new wing opens Monday."})),
    )
    .await;
    assert_eq!(status, 201, "{post}");
    let replies = format!("/api/v1/accounts/{clinic}/posts/{}/replies", post["id"].as_str().unwrap());
    let reply = |body: Value| {
        let (alice, replies) = (&alice, replies.clone());
        async move { call(alice, Method::POST, &replies, Some(body)).await }
    };

    // Written freely, the same words wait for a reviewer.
    let free = WORDS.replace("{desk}", "Guest Services");
    let (status, held) = reply(json!({"text": free})).await;
    assert_eq!((status, held["error"].as_str()), (202, Some("held_for_review")), "{held}");
    // In the template, with a value the screen passes: out now, naming it.
    let use_it = |desk: &str| json!({"template": {"id": id, "values": {"desk": desk}}});
    let (status, sent) = reply(use_it("Guest Services")).await;
    assert_eq!(status, 201, "{sent}");
    let intent = app.events_of("action.intent").await.pop().unwrap();
    assert_eq!(
        (intent["kind"]["template"].as_str(), intent["kind"]["content"]["text"].as_str()),
        (Some(id.as_str()), Some(free.as_str()))
    );
    // A value the screen finds something in, alone or next to the
    // template's words: to a reviewer, as any reply.
    let (status, held) = reply(use_it("Maria, after her chemo in room 4")).await;
    assert_eq!((status, held["error"].as_str()), (202, Some("held_for_review")), "{held}");
    let (status, held) = reply(use_it("Maria Lopez")).await;
    assert_eq!(
        (status, held["error"].as_str()),
        (202, Some("held_for_review")),
        "a name next to care: {held}"
    );
    // Its approver's own reply with it is not exempt: two people, still.
    let (erin, _, _) = app.enrolled_browser("erin").await;
    let own = json!({"name": "erin's", "body": WORDS, "placeholders": ["desk"]});
    let (_, own) = call(&erin, Method::POST, templates, Some(own)).await;
    let body = json!({"template": {"id": own["id"], "values": {"desk": "Guest Services"}}});
    let (status, held) = call(&erin, Method::POST, &replies, Some(body)).await;
    assert_eq!((status, held["error"].as_str()), (202, Some("held_for_review")), "{held}");

    // Wrong uses are clear 4xx, and nothing goes out.
    let before = app.count("sandbox_posts").await;
    let (status, body) = reply(json!({"template": {"id": id, "values": {}}})).await;
    assert_eq!(status, 422, "a value is missing: {body}");
    let (status, body) = reply(json!({"template": {"id": id, "values": {"desk": "T", "phone": "1"}}})).await;
    assert!(status == 422 && body["reason"].as_str().unwrap().contains("no placeholder"), "{body}");
    let (status, body) = reply(json!({"text": "hi", "template": {"id": id}})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = reply(json!({"template": {"id": "tpl_nope", "values": {}}})).await;
    assert_eq!(status, 422, "{body}");
    let (status, retired) = call(&bob, Method::DELETE, &format!("{templates}/{id}"), None).await;
    assert_eq!((status, retired["retired_at"].is_string()), (200, true), "{retired}");
    let (status, body) = reply(use_it("Guest Services")).await;
    assert!(status == 422 && body["reason"].as_str().unwrap().contains("in use"), "retired: {body}");
    assert_eq!(app.count("sandbox_posts").await, before);
    assert_eq!(app.events_of("template.retire").await.len(), 1);
}

on_both_backends!(a_reply_in_approved_words_needs_no_new_review);
