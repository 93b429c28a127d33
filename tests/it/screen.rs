//! The content screen on every door: what an action would say is read
//! before it leaves. A hold (a person next to health context) and a block
//! (a direct identifier) both stop the platform call; the caller is told
//! what was found (kind, rule, where), never shown their text back; the
//! journal keeps only a keyed digest and the findings.

use reqwest::Method;
use serde_json::{json, Value};

use crate::actions::call;
use crate::on_both_backends;
use crate::support::fakes::mastodon::MastodonFake;
use crate::support::{mastodon_account, with_mastodon, Backend};
use crate::tokens::{publishing_token, with_token};

const TOKEN: &str = "mastodon-token-screen";
const HELD: &str = "Huge thanks to our patient Maria Alvarez in room 4 after her chemo today!";
const BLOCKED: &str = "Patient SSN 541-88-2093, please update the chart";

fn kinds(answer: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = answer["findings"]
        .as_array()
        .map(|f| f.iter().map(|f| f["kind"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default();
    kinds.dedup();
    kinds
}

async fn every_door_screens_what_it_would_say_and_nothing_reaches_the_platform(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let base = fake.base.clone();
    let app = crate::support::TestApp::spawn_with(backend, move |c| with_mastodon(c, &base)).await;
    let account = mastodon_account(&app, TOKEN).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (token, _) = publishing_token(&alice, &account).await;
    let posts = format!("/api/v1/accounts/{account}/posts");

    // The API door: held for a reviewer (202), told what and where, not the text.
    let (status, held) = call(&alice, Method::POST, &posts, Some(json!({"text": HELD}))).await;
    assert_eq!(status, 202, "{held}");
    assert_eq!(held["error"], "held_for_review");
    assert_eq!(kinds(&held), ["name", "room", "health"], "{held}");
    let name = &held["findings"][0];
    assert_eq!(
        &HELD[name["start"].as_u64().unwrap() as usize..name["end"].as_u64().unwrap() as usize],
        "Maria Alvarez"
    );
    assert!(!held.to_string().contains("Maria") && !held.to_string().contains("chemo"), "{held}");

    // A direct identifier is refused outright (422), reviewed or not.
    let (status, blocked) = call(&alice, Method::POST, &posts, Some(json!({"text": BLOCKED}))).await;
    assert_eq!(status, 422, "{blocked}");
    assert_eq!(
        (blocked["error"].as_str(), blocked["rule"].as_str()),
        (Some("content_blocked"), Some("screen-blocks-direct-identifiers"))
    );
    assert_eq!(kinds(&blocked), ["ssn"]);
    assert!(!blocked.to_string().contains("541-88"), "{blocked}");

    // A link and a reply are screened too.
    let (status, _) =
        call(&alice, Method::POST, &posts, Some(json!({"text": "Support the family!", "link": "https://www.gofundme.com/f/help-maria-beat-leukemia"}))).await;
    assert_eq!(status, 202, "the link points at a person");

    // The token door.
    let (status, by_token) =
        with_token(&app, &token, Method::POST, &posts, Some(json!({"text": HELD}))).await;
    assert_eq!(status, 202, "{by_token}");

    // The pass-through door, the text in the query string.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/proxy/{account}/api/v1/statuses")))
        .query(&[("status", HELD)])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let through_proxy: Value = r.json().await.unwrap();
    assert_eq!(through_proxy["error"], "held_for_review", "{through_proxy}");
    assert!(kinds(&through_proxy).contains(&"health".to_owned()));

    // The web form door: to the held post's page, which says it waits for a reviewer.
    let r = alice
        .post_form(&format!("/accounts/{account}/posts"), &[("csrf", &alice.csrf()), ("text", HELD)])
        .await;
    assert_eq!(r.status(), 303);
    let held_page = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(held_page.starts_with("/reviews/rv_"), "{held_page}");
    let page = alice.get_text(&held_page).await;
    assert!(page.contains("compliance reviewer"), "{page}");

    // Clean words go out.
    let (status, done) = call(
        &alice,
        Method::POST,
        &posts,
        Some(json!({"text": "Flu shots this Saturday at our Riverside clinic"})),
    )
    .await;
    assert_eq!(status, 201, "{done}");

    let sent = fake.requests();
    assert_eq!(sent.len(), 1, "only the clean post reached the platform: {sent:?}");
    assert!(!format!("{sent:?}").contains("Maria"));

    // The journal: the block refused at the screen step, each hold put in
    // the review queue; each with the content's keyed digest and the
    // findings, never the text.
    let refused = app.events_of("action.refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["kind"]["step"], "screen");
    let held = app.events_of("review.held").await;
    for event in refused.iter().chain(&held) {
        assert_eq!(event["kind"]["content"]["recorded"], "digest", "{event}");
        assert!(!event["kind"]["content"]["findings"].as_array().unwrap().is_empty());
    }
    let doors: Vec<&str> = held.iter().map(|e| e["kind"]["door"].as_str().unwrap()).collect();
    assert_eq!(doors, ["api", "api", "token", "proxy", "ui"]);
    assert_eq!(app.count("reviews").await, 5, "each hold waits in the queue");
    let journal = serde_json::to_string(&app.events().await).unwrap();
    for secret in ["Maria", "chemo", "541-88-2093", "leukemia"] {
        assert!(!journal.contains(secret), "{secret:?} is in the journal");
    }
}

on_both_backends!(every_door_screens_what_it_would_say_and_nothing_reaches_the_platform);
