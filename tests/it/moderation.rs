//! Inbound moderation: comments on the accounts' posts are screened once;
//! what policy holds or blocks is recorded (a keyed digest and the
//! findings, never the text), hidden where the platform can and queued
//! where it cannot; a moderator reads it sealed, restores it (shown again)
//! or keeps it hidden. Posts made outside Custodian are flagged once and
//! announced; `custodian accounts audit` screens an account's existing
//! posts. Against the sandbox and the platforms' fakes.

use std::time::Duration;

use custodian::domain::{AccountId, Action, NewPost};
use custodian::platforms::dispatch::Outcome;
use custodian::vault::credentials::CredentialKind;
use reqwest::Method;
use serde_json::{json, Value};

use crate::breakglass::Receiver;
use crate::on_both_backends;
use crate::support::browser::{csrf_of, Browser};
use crate::support::fakes::bluesky::PdsFake;
use crate::support::fakes::facebook::{GraphFake, IG_USER_ID, PAGE_ID};
use crate::support::fakes::linkedin::{LinkedInFake, ORGANIZATION};
use crate::support::fakes::mastodon::MastodonFake;
use crate::support::fakes::x::{XFake, USER_ID};
use crate::support::{act, captured_logs, platform_account, platform_at, Backend, TestApp};
use crate::tokens::call;

/// A comment disclosing its writer's own care: held.
const DISCLOSED: &str = "I was in your ER last night with chest pain, the nurses were wonderful";
/// A comment with a medical record number: blocked.
const IDENTIFIED: &str = "my daughter's MRN: 00482913, can someone look at her chart?";
/// Words of either that must never be found outside the sealed store.
const SECRETS: [&str; 4] = ["chest pain", "ER last night", "00482913", "her chart"];
const TOKEN: &str = "moderation-platform-token-0123456789";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const FOLLOWER: &str = "did:plc:z72i7hdynmk6r22z27h6tvur";

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

/// Publishes `text` on `account` through the action path; the platform's post id.
async fn published(app: &TestApp, account: &AccountId, text: &str) -> String {
    match act(app, account, Action::Publish(post(text))).await {
        Ok(Outcome::Published(p)) => p.id,
        other => panic!("not published: {other:?}"),
    }
}

/// No secret word anywhere in `text`.
fn assert_clear(text: &str, what: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret:?} is in {what}");
    }
}

async fn journal_text(app: &TestApp) -> String {
    serde_json::to_string(&app.events().await).unwrap()
}

/// The held comments `who` lists (the query after `?`, if any).
async fn listed(who: &Browser, query: &str) -> (u16, Value) {
    call(who, Method::GET, &format!("/api/v1/moderation{query}"), None).await
}

fn held_of<'a>(list: &'a Value, comment_id: &str) -> &'a Value {
    list["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["comment_id"] == comment_id)
        .unwrap_or_else(|| panic!("{comment_id} is not listed: {list}"))
}

async fn decide(who: &Browser, id: &str, decision: &str, body: Option<Value>) -> (u16, Value) {
    call(who, Method::POST, &format!("/api/v1/moderation/{id}/{decision}"), body).await
}

async fn sandbox_comments(app: &TestApp, account: &AccountId, post_id: &str) -> Vec<String> {
    use custodian::platforms::{Call, PlatformApi};
    let sandbox = custodian::platforms::sandbox::Sandbox::new(app.state.db.clone(), app.state.clock.clone());
    let none = custodian::secret::Secret::new(String::new());
    let comments = sandbox.comments(&Call { account_id: account, token: &none }, post_id).await.unwrap();
    comments.into_iter().map(|c| c.id).collect()
}

async fn the_sandbox_hides_what_policy_holds_and_a_moderator_decides(backend: Backend) {
    let logs = captured_logs("trace");
    let app = TestApp::spawn(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    let post_id = published(&app, &clinic, "Flu clinic opens Monday at 9").await;
    let reply = match act(
        &app,
        &clinic,
        Action::Reply { in_reply_to: post_id.clone(), post: post("See you!") },
    )
    .await
    {
        Ok(Outcome::Published(p)) => p.id,
        other => panic!("{other:?}"),
    };

    // Staff practise: comments as members of the public, from the timeline.
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let page = alice.get_text(&format!("/sandbox/{clinic}")).await;
    assert!(page.contains("Comment as a member of the public"), "{page}");
    let csrf = csrf_of(&page);
    let comment = |author: &'static str, text: &'static str| {
        let (alice, csrf, path) =
            (&alice, csrf.clone(), format!("/sandbox/{clinic}/posts/{post_id}/comments"));
        async move {
            let r = alice.post_form(&path, &[("csrf", &csrf), ("author", author), ("text", text)]).await;
            assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        }
    };
    comment("Pat", DISCLOSED).await;
    comment("Sam", IDENTIFIED).await;
    comment("Lee", "Will you have walk-in appointments?").await;
    let r = alice
        .post_form(
            &format!("/sandbox/{clinic}/posts/{post_id}/comments"),
            &[("csrf", &csrf), ("author", "clinic"), ("text", "as the account")],
        )
        .await;
    assert_eq!(r.status(), 422, "a practice comment is never the account's own");
    let before = sandbox_comments(&app, &clinic, &post_id).await;
    assert_eq!(before.len(), 4, "three comments and the account's own reply");

    // One round: each comment screened once; the two disclosures hidden.
    let polled = app.state.moderation.poll_once().await.unwrap();
    assert_eq!(
        (polled.screened, polled.hidden, polled.queued, polled.unrecorded),
        (3, 2, 0, 0),
        "{polled:?}"
    );
    let visible = sandbox_comments(&app, &clinic, &post_id).await;
    assert_eq!(visible.len(), 2, "the clean comment and the account's reply stay: {visible:?}");
    assert!(visible.contains(&reply));
    let again = app.state.moderation.poll_once().await.unwrap();
    assert_eq!((again.screened, again.hidden), (0, 0), "screened once: {again:?}");

    // Recorded before it was hidden: a digest and the findings, never the text.
    let hidden = app.events_of("comment.hidden").await;
    assert_eq!(hidden.len(), 2);
    for event in &hidden {
        assert_eq!(event["kind"]["content"]["recorded"], "digest", "{event}");
        assert!(!event["kind"]["content"]["findings"].as_array().unwrap().is_empty(), "{event}");
        assert_eq!(event["decision"], "held");
    }
    let verdicts: Vec<&str> = hidden.iter().map(|e| e["kind"]["verdict"].as_str().unwrap()).collect();
    assert!(verdicts.contains(&"hold") && verdicts.contains(&"block"), "{verdicts:?}");
    let outcomes = app.events_of("action.outcome").await;
    assert_eq!(
        outcomes.iter().filter(|e| e["kind"]["action"] == "comment.hide" && e["kind"]["ok"] == true).count(),
        2
    );

    // The queue: alice moderates her account's comments; no text in it.
    let (status, queue) = listed(&alice, "").await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["comments"].as_array().unwrap().len(), 2, "{queue}");
    assert_clear(&queue.to_string(), "the queue");
    let (_, filtered) = listed(&alice, &format!("?account={clinic}&state=hidden")).await;
    assert_eq!(filtered["comments"].as_array().unwrap().len(), 2);
    let disclosed =
        queue["comments"].as_array().unwrap().iter().find(|c| c["verdict"] == "hold").unwrap().clone();
    let identified =
        queue["comments"].as_array().unwrap().iter().find(|c| c["verdict"] == "block").unwrap().clone();
    let (d, i) =
        (disclosed["id"].as_str().unwrap().to_owned(), identified["id"].as_str().unwrap().to_owned());

    // Reading one opens its sealed text for the moderator, and is recorded.
    let (status, detail) = call(&alice, Method::GET, &format!("/api/v1/moderation/{d}"), None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        (detail["content"]["text"].as_str(), detail["content"]["author"].as_str()),
        (Some(DISCLOSED), Some("Pat"))
    );
    let finding = &detail["findings"][0];
    assert!(finding["kind"] == "self_disclosure" || finding["kind"] == "health", "{detail}");
    assert_eq!(app.events_of("comment.read").await.len(), 1);

    // Who may not: an auditor, an admin; not listed for them, refused when named.
    let (dave, _, _) = app.enrolled_browser("dave").await;
    let (status, refused) = call(&dave, Method::GET, &format!("/api/v1/moderation/{d}"), None).await;
    assert_eq!((status, refused["rule"].as_str()), (403, Some("no-permit")), "{refused}");
    let (_, none) = listed(&dave, "").await;
    assert_eq!(none["comments"], json!([]), "{none}");
    let (status, refused) = listed(&dave, &format!("?account={clinic}")).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(decide(&dave, &d, "restore", None).await.0, 403);
    // A reviewer moderates every account.
    let (bob, _, _) = app.enrolled_browser("bob").await;
    assert_eq!(listed(&bob, "").await.1["comments"].as_array().unwrap().len(), 2);

    // Wrong input: an unknown id, a bad body, a missing reason, an unknown state or field.
    assert_eq!(decide(&alice, "md_nope", "restore", None).await.0, 404);
    assert_eq!(call(&alice, Method::GET, "/api/v1/moderation/md_nope", None).await.0, 404);
    assert_eq!(decide(&alice, &i, "keep", Some(json!({"reason": " "}))).await.0, 400, "a reason is required");
    assert_eq!(decide(&alice, &i, "keep", Some(json!({"why": "x"}))).await.0, 400, "an unknown field");
    assert_eq!(listed(&alice, "?state=gone").await.0, 400);
    assert_eq!(listed(&alice, "?account=acct_nope").await.0, 404);

    // Restored: recorded, then shown again.
    let (status, restored) =
        decide(&alice, &d, "restore", Some(json!({"reason": "the writer shared it; no staff reply"}))).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["comment"]["state"], "restored", "{restored}");
    assert!(sandbox_comments(&app, &clinic, &post_id)
        .await
        .contains(&disclosed["comment_id"].as_str().unwrap().to_owned()));
    let restores = app.events_of("comment.restored").await;
    assert_eq!(restores.len(), 1);
    assert_eq!(restores[0]["actor"]["user_id"], restored["comment"]["decided_by"]);
    assert!(app.events_of("action.outcome").await.iter().any(|e| e["kind"]["action"] == "comment.unhide"));
    // Decided once; the sealed text erased.
    let (status, twice) = decide(&alice, &d, "restore", None).await;
    assert_eq!((status, twice["error"].as_str()), (409, Some("conflict")), "{twice}");
    let (_, after) = call(&alice, Method::GET, &format!("/api/v1/moderation/{d}"), None).await;
    assert_eq!(after["content"], Value::Null, "{after}");

    // Kept hidden, with a reason: recorded; it stays hidden.
    let (status, kept) = decide(&alice, &i, "keep", Some(json!({"reason": "a child's record number"}))).await;
    assert_eq!((status, kept["comment"]["state"].as_str()), (200, Some("kept_hidden")), "{kept}");
    assert!(!sandbox_comments(&app, &clinic, &post_id)
        .await
        .contains(&identified["comment_id"].as_str().unwrap().to_owned()));
    assert_eq!(app.events_of("comment.kept_hidden").await.len(), 1);
    assert_eq!(decide(&alice, &i, "restore", None).await.0, 409);

    // The text is in no event, no log line and no refusal.
    assert_clear(&journal_text(&app).await, "the journal");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert_clear(&logged, "the logs");
    for refused in [refused, twice] {
        assert_clear(&refused.to_string(), "a refusal");
    }
    let refusals = app.events_of("action.refused").await;
    assert!(refusals.iter().any(|e| e["kind"]["action"] == "comment.moderate"), "refusals are recorded");
}

/// An app with X, Facebook, Instagram and Bluesky pointed at their fakes.
async fn hiding_platforms(backend: Backend, x: &XFake, graph: &GraphFake, pds: &PdsFake) -> TestApp {
    let (x_base, graph_base, pds_base) = (x.base.clone(), graph.base.clone(), pds.base.clone());
    TestApp::spawn_with(backend, move |c| {
        platform_at("x", &x_base)(c);
        platform_at("facebook", &graph_base)(c);
        platform_at("instagram", &graph_base)(c);
        platform_at("bluesky", &pds_base)(c);
    })
    .await
}

async fn each_platform_that_can_hide_hides_and_shows_again(backend: Backend) {
    let (x, graph, pds) =
        (XFake::start(TOKEN).await, GraphFake::start(TOKEN).await, PdsFake::start(TOKEN, DID).await);
    let app = hiding_platforms(backend, &x, &graph, &pds).await;
    let secret = |kind| [(kind, TOKEN)];
    let on_x = platform_account(&app, "x", USER_ID, &secret(CredentialKind::AccessToken)).await;
    let on_fb = platform_account(&app, "facebook", PAGE_ID, &secret(CredentialKind::PageToken)).await;
    let on_ig = platform_account(&app, "instagram", IG_USER_ID, &secret(CredentialKind::AccessToken)).await;
    let on_bsky = platform_account(&app, "bluesky", DID, &secret(CredentialKind::AccessToken)).await;

    let x_post = published(&app, &on_x, "Flu clinic opens Monday").await;
    let x_reply = x.reply_from("2244994945", &x_post, DISCLOSED);
    let fb_post = published(&app, &on_fb, "Flu clinic opens Monday").await;
    let fb_comment = graph.comment_from("Jordan Lee", &fb_post, IDENTIFIED);
    let fb_clean = graph.comment_from("Ari", &fb_post, "What time on Monday?");
    // Instagram posts are made in its own app (Custodian cannot publish there).
    let media = graph.media_directly("Our new lobby");
    let ig_comment = graph.comment_from("someone", &media, DISCLOSED);
    let bsky_post = published(&app, &on_bsky, "Flu clinic opens Monday").await;
    let bsky_reply = pds.reply_from(FOLLOWER, &bsky_post, DISCLOSED);

    let polled = app.state.moderation.poll_once().await.unwrap();
    assert_eq!((polled.hidden, polled.queued, polled.failed), (4, 0, 0), "{polled:?}");
    assert!(x.is_hidden(&x_reply) && graph.is_hidden(&fb_comment) && graph.is_hidden(&ig_comment));
    assert!(!graph.is_hidden(&fb_clean));
    assert_eq!(pds.hidden_replies(&bsky_post), vec![bsky_reply.clone()]);
    assert_eq!(app.events_of("comment.hidden").await.len(), 4);
    // Nothing reached a platform before its decision was recorded.
    for hidden in app.events_of("comment.hidden").await {
        assert_eq!(hidden["kind"]["hidden"], true);
    }

    // Restored by a moderator: shown again on each platform.
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (_, queue) = listed(&alice, "?state=hidden").await;
    for (account, comment) in
        [(&on_x, &x_reply), (&on_fb, &fb_comment), (&on_ig, &ig_comment), (&on_bsky, &bsky_reply)]
    {
        let held = held_of(&queue, comment);
        assert_eq!(held["account_id"], account.as_str());
        let (status, body) = decide(&alice, held["id"].as_str().unwrap(), "restore", None).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(!x.is_hidden(&x_reply) && !graph.is_hidden(&fb_comment) && !graph.is_hidden(&ig_comment));
    assert!(pds.hidden_replies(&bsky_post).is_empty());
    assert_eq!(app.events_of("comment.restored").await.len(), 4);
    assert_clear(&journal_text(&app).await, "the journal");
}

async fn platforms_that_cannot_hide_queue_for_a_moderator(backend: Backend) {
    let (mastodon, linkedin) = (MastodonFake::start(TOKEN).await, LinkedInFake::start(TOKEN).await);
    let (m_base, l_base) = (mastodon.base.clone(), linkedin.base.clone());
    let app = TestApp::spawn_with(backend, move |c| {
        platform_at("mastodon", &m_base)(c);
        platform_at("linkedin", &l_base)(c);
    })
    .await;
    let secret = [(CredentialKind::AccessToken, TOKEN)];
    let on_mastodon = platform_account(&app, "mastodon", "109000000000000001", &secret).await;
    let on_linkedin = platform_account(&app, "linkedin", ORGANIZATION, &secret).await;
    let status = published(&app, &on_mastodon, "Flu clinic opens Monday").await;
    let toot = mastodon.reply_from("pat@social.example", &status, DISCLOSED);
    let share = published(&app, &on_linkedin, "Flu clinic opens Monday").await;
    let li_comment = linkedin.comment_from("urn:li:person:abc123", &share, IDENTIFIED);

    let requests_before = (mastodon.requests().len(), linkedin.requests().len());
    let polled = app.state.moderation.poll_once().await.unwrap();
    assert_eq!((polled.hidden, polled.queued, polled.failed), (0, 2, 0), "{polled:?}");
    let queued = app.events_of("comment.queued").await;
    assert_eq!(queued.len(), 2);
    assert!(queued
        .iter()
        .all(|e| e["kind"]["hidden"] == false
            && e["kind"]["reason"].as_str().unwrap().contains("no way to hide")));
    // Only reads reached the platforms.
    let writes = |r: &[crate::support::fakes::Recorded], skip: usize| {
        r[skip..].iter().filter(|r| r.method != "GET").count()
    };
    assert_eq!(writes(&mastodon.requests(), requests_before.0), 0);
    assert_eq!(writes(&linkedin.requests(), requests_before.1), 0);

    let (bob, _, _) = app.enrolled_browser("bob").await;
    let (_, queue) = listed(&bob, "?state=queued").await;
    let m = held_of(&queue, &toot)["id"].as_str().unwrap().to_owned();
    let l = held_of(&queue, &li_comment)["id"].as_str().unwrap().to_owned();
    assert!(held_of(&queue, &toot)["reason"].as_str().unwrap().contains("mastodon"), "{queue}");
    // Kept: it cannot be hidden there, so it is kept on the record only.
    let (status, kept) =
        decide(&bob, &l, "keep", Some(json!({"reason": "asked the member to remove it"}))).await;
    assert_eq!((status, kept["comment"]["state"].as_str()), (200, Some("kept_hidden")), "{kept}");
    let (status, restored) = decide(&bob, &m, "restore", None).await;
    assert_eq!((status, restored["comment"]["state"].as_str()), (200, Some("restored")), "{restored}");
    assert_eq!(writes(&mastodon.requests(), requests_before.0), 0, "nothing to show again");
    assert_clear(&journal_text(&app).await, "the journal");
}

async fn posts_made_outside_custodian_are_flagged_once(backend: Backend) {
    let (receiver, url) = Receiver::start(axum::http::StatusCode::NO_CONTENT).await;
    let (mastodon, x, linkedin) =
        (MastodonFake::start(TOKEN).await, XFake::start(TOKEN).await, LinkedInFake::start(TOKEN).await);
    let (m_base, x_base, l_base) = (mastodon.base.clone(), x.base.clone(), linkedin.base.clone());
    let app = TestApp::spawn_with(backend, move |c| {
        platform_at("mastodon", &m_base)(c);
        platform_at("x", &x_base)(c);
        platform_at("linkedin", &l_base)(c);
        c.moderation.notify_url = Some(url);
    })
    .await;
    let secret = [(CredentialKind::AccessToken, TOKEN)];
    let on_mastodon = platform_account(&app, "mastodon", "109000000000000001", &secret).await;
    let on_x = platform_account(&app, "x", USER_ID, &secret).await;
    let on_linkedin = platform_account(&app, "linkedin", ORGANIZATION, &secret).await;
    let ours = published(&app, &on_mastodon, "Flu clinic opens Monday").await;
    let ours_on_x = published(&app, &on_x, "Flu clinic opens Monday").await;
    let ours_on_linkedin = published(&app, &on_linkedin, "Flu clinic opens Monday").await;
    let theirs = mastodon.post_directly("Patient Maria Alvarez in room 4 finished chemo today!");
    let theirs_on_x = x.post_directly("Closed for the holiday");
    let theirs_on_linkedin = linkedin.post_directly("We are hiring nurses");

    // First seen: not yet flagged (its action's outcome may still be on its way).
    let first = app.state.moderation.poll_once().await.unwrap();
    assert_eq!(first.unrecorded, 0, "{first:?}");
    app.clock.advance(Duration::from_secs(11 * 60));
    let second = app.state.moderation.poll_once().await.unwrap();
    assert_eq!(second.unrecorded, 3, "{second:?}");
    let third = app.state.moderation.poll_once().await.unwrap();
    assert_eq!(third.unrecorded, 0, "flagged once: {third:?}");

    let flagged = app.events_of("account.unrecorded_post").await;
    let ids: Vec<&str> = flagged.iter().map(|e| e["kind"]["post_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    for theirs in [&theirs, &theirs_on_x, &theirs_on_linkedin] {
        assert!(ids.contains(&theirs.as_str()), "{theirs} is not flagged: {ids:?}");
    }
    for ours in [&ours, &ours_on_x, &ours_on_linkedin] {
        assert!(!ids.contains(&ours.as_str()), "{ours} was made through Custodian: {ids:?}");
    }
    let on_m = flagged.iter().find(|e| e["kind"]["post_id"] == theirs.as_str()).unwrap();
    assert_eq!(on_m["kind"]["content"]["recorded"], "digest", "{on_m}");
    let journal = journal_text(&app).await;
    assert!(!journal.contains("Maria Alvarez"), "an unrecorded post's text is not recorded");

    // Announced on the webhook, without the text.
    app.state.moderation.notifications_settled().await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    let body = bodies.iter().find(|b| b["post_id"] == theirs.as_str()).unwrap();
    assert_eq!(
        (body["event"].as_str(), body["account_id"].as_str()),
        (Some("account.unrecorded_post"), Some(on_mastodon.as_str()))
    );
    assert!(body["findings"].as_array().unwrap().iter().any(|k| k == "name"), "{body}");
    assert!(!body.to_string().contains("Maria"), "{body}");

    // Admins list them, and the access review names them.
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let (status, listed) = call(&carol, Method::GET, "/api/v1/admin/unrecorded", None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["posts"].as_array().unwrap().len(), 3, "{listed}");
    let (status, review) = call(&carol, Method::GET, "/api/v1/admin/access-review", None).await;
    assert_eq!(status, 200);
    assert_eq!(review["unrecorded_posts"].as_array().unwrap().len(), 3, "{review}");
    let csv = carol.get_text("/api/v1/admin/access-review?format=csv").await;
    assert!(csv.contains("unrecorded_post,account_id") && csv.contains(&theirs), "{csv}");
    let (alice, _, _) = app.enrolled_browser("alice").await;
    assert_eq!(call(&alice, Method::GET, "/api/v1/admin/unrecorded", None).await.0, 403);
}

/// A post a tool made through the pass-through proxy is the organization's
/// own: its outcome names the post the platform created, so the poller
/// does not flag it as made outside Custodian; one made on the platform
/// directly still is.
async fn pass_through_posts_are_not_taken_for_posts_made_outside_custodian(backend: Backend) {
    let (mastodon, x, graph, linkedin) = (
        MastodonFake::start(TOKEN).await,
        XFake::start(TOKEN).await,
        GraphFake::start(TOKEN).await,
        LinkedInFake::start(TOKEN).await,
    );
    let bases = [mastodon.base.clone(), x.base.clone(), graph.base.clone(), linkedin.base.clone()];
    let app = TestApp::spawn_with(backend, move |c| {
        platform_at("mastodon", &bases[0])(c);
        platform_at("x", &bases[1])(c);
        platform_at("facebook", &bases[2])(c);
        platform_at("linkedin", &bases[3])(c);
    })
    .await;
    let secret = [(CredentialKind::AccessToken, TOKEN)];
    let on_mastodon = platform_account(&app, "mastodon", "109000000000000001", &secret).await;
    let on_x = platform_account(&app, "x", USER_ID, &secret).await;
    let on_facebook =
        platform_account(&app, "facebook", PAGE_ID, &[(CredentialKind::PageToken, TOKEN)]).await;
    let on_linkedin = platform_account(&app, "linkedin", ORGANIZATION, &secret).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let accounts = [&on_mastodon, &on_x, &on_facebook, &on_linkedin];
    let body =
        json!({"name": "scheduler", "actions": ["post.publish"], "accounts": accounts, "expires_in_days": 7});
    let (status, created) = call(&alice, Method::POST, "/api/v1/tokens", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let proxy = |account: &AccountId, path: &str| {
        reqwest::Client::new().post(app.url(&format!("/proxy/{account}{path}"))).bearer_auth(&token)
    };

    // A tool publishes on each, in the platform's own words.
    let text = "Flu shots this Saturday";
    let answers = [
        proxy(&on_mastodon, "/api/v1/statuses").json(&json!({"status": text})),
        proxy(&on_x, "/2/tweets").json(&json!({"text": text})),
        proxy(&on_facebook, &format!("/{PAGE_ID}/feed")).form(&[("message", text)]),
        proxy(&on_linkedin, "/posts")
            .header("linkedin-version", "202601")
            .header("x-restli-protocol-version", "2.0.0")
            .json(&json!({
                "author": ORGANIZATION,
                "commentary": text,
                "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
                "lifecycleState": "PUBLISHED",
                "isReshareDisabledByAuthor": false
            })),
    ];
    for request in answers {
        let r = request.send().await.unwrap();
        assert!(r.status().is_success(), "{}: {}", r.status(), r.text().await.unwrap());
    }
    let theirs = [
        mastodon.post_directly("Closed for the holiday"),
        x.post_directly("Closed for the holiday"),
        graph.post_directly("Closed for the holiday"),
        linkedin.post_directly("Closed for the holiday"),
    ];

    app.state.moderation.poll_once().await.unwrap();
    app.clock.advance(Duration::from_secs(11 * 60));
    let polled = app.state.moderation.poll_once().await.unwrap();
    assert_eq!(polled.unrecorded, 4, "only the posts made on the platforms directly: {polled:?}");
    let outcomes = app.events_of("action.outcome").await;
    let ours: Vec<String> = outcomes
        .iter()
        .map(|e| e["kind"]["created"].as_str().unwrap_or_else(|| panic!("no post named: {e}")).to_owned())
        .collect();
    assert_eq!(ours.len(), 4, "{outcomes:?}");
    let flagged = app.events_of("account.unrecorded_post").await;
    let ids: Vec<&str> = flagged.iter().map(|e| e["kind"]["post_id"].as_str().unwrap()).collect();
    for theirs in &theirs {
        assert!(ids.contains(&theirs.as_str()), "{theirs} is not flagged: {ids:?}");
    }
    for ours in &ours {
        assert!(!ids.contains(&ours.as_str()), "{ours} was made through Custodian's proxy: {ids:?}");
    }
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let (status, listed) = call(&carol, Method::GET, "/api/v1/admin/unrecorded", None).await;
    assert_eq!(status, 200, "{listed}");
    let listed: Vec<&str> =
        listed["posts"].as_array().unwrap().iter().map(|p| p["post_id"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert!(ours.iter().all(|ours| !listed.contains(&ours.as_str())), "{listed:?}");
}

/// Moderation takes a signed-in moderator's browser session: an API token
/// (which cannot name comment.moderate) is told so, 403, the refusal
/// recorded; it reaches no held comment.
async fn an_api_token_is_told_moderation_takes_a_browser_session(backend: Backend) {
    use crate::tokens::{publishing_token, with_token};
    let app = TestApp::spawn(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (token, token_id) = publishing_token(&alice, &clinic).await;
    for (method, path) in [
        (Method::GET, "/api/v1/moderation".to_owned()),
        (Method::GET, "/api/v1/moderation/md_1".to_owned()),
        (Method::POST, "/api/v1/moderation/md_1/restore".to_owned()),
    ] {
        let (status, body) = with_token(&app, &token, method.clone(), &path, None).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("session_required")), "{path}: {body}");
        let reason = body["reason"].as_str().unwrap();
        assert!(reason.contains("takes a signed-in browser session"), "{reason}");
        assert!(!reason.contains(&token), "the token is never repeated: {reason}");
        assert!(body["remedy"].as_str().unwrap().contains("/auth/login"), "{body}");
    }
    let refused = app.events_of("action.refused").await;
    assert_eq!(refused.len(), 3, "{refused:?}");
    let first = &refused[0];
    assert_eq!(
        (first["kind"]["rule"].as_str(), first["kind"]["door"].as_str()),
        (Some("gate:session"), Some("token"))
    );
    assert_eq!(first["kind"]["action"], "GET /api/v1/moderation");
    assert!(first["kind"]["reason"].as_str().unwrap().contains(&token_id), "{first}");
    assert!(!serde_json::to_string(&app.events().await).unwrap().contains(&token), "no token in the journal");
    // A token that is not live is refused as such; no credential, as not signed in.
    let (status, body) = with_token(&app, "cst_not_a_token", Method::GET, "/api/v1/moderation", None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("token_invalid")), "{body}");
    let r = reqwest::get(app.url("/api/v1/moderation")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_signed_in");
    // The session still reaches it.
    let (carol, _, _) = app.enrolled_browser("carol").await;
    assert_eq!(listed(&carol, "").await.0, 200);
}

async fn an_account_audit_finds_phi_in_existing_posts(backend: Backend) {
    use crate::cli::{custodian, write_config};
    let mastodon = MastodonFake::start(TOKEN).await;
    let m_base = mastodon.base.clone();
    let app = TestApp::spawn_with(backend, move |c| platform_at("mastodon", &m_base)(c)).await;
    let account =
        platform_account(&app, "mastodon", "109000000000000001", &[(CredentialKind::AccessToken, TOKEN)])
            .await;
    let clean = mastodon.post_directly("Flu shots every Saturday this month");
    let phi = mastodon.post_directly("Get well soon to our patient Maria Alvarez in room 4 after her chemo");
    for n in 0..45 {
        mastodon.post_directly(&format!("Clinic news, item {n}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[platforms.mastodon]\nclient_id = \"fake\"\nclient_secret = \"fake\"\napi_base = \"{}\"\n",
        mastodon.base
    );
    let config = write_config(dir.path(), "custodian.toml", &extra);
    let db_url = app.state.config.database_url();
    let key = app.state.config.keys.ring["k1"].expose().to_owned();
    let signing = app.state.config.audit.signing_key.as_ref().unwrap().expose().to_owned();
    let run = |args: &[&str]| {
        custodian()
            .args(args)
            .arg("--config")
            .arg(&config)
            .args(["--database", &db_url])
            .env("CUSTODIAN_KEYS__RING__K1", &key)
            .env("CUSTODIAN_AUDIT__SIGNING_KEY", &signing)
            .output()
            .unwrap()
    };

    // Every post, over two pages, screened; the text never printed.
    let out = run(&["accounts", "audit", account.as_str()]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("47 post(s) read, 1 with findings"), "{said}");
    let line = said.lines().find(|l| l.starts_with(&format!("{phi}\t"))).expect("the PHI post is listed");
    assert!(line.contains("\thold\t") && line.contains("name:"), "{line}");
    assert!(
        said.lines().any(|l| l.starts_with(&format!("{clean}\tpost\t")) && l.contains("\tallow\t-\t")),
        "{said}"
    );
    assert!(!said.contains("Maria"), "{said}");
    assert_eq!(app.events_of("account.audit").await.len(), 1);

    // A decision on one, with its reason, recorded with its digest and findings.
    let out = run(&[
        "accounts",
        "audit",
        account.as_str(),
        "--decide",
        &phi,
        "--decision",
        "delete",
        "--reason",
        "names a patient",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("recorded: delete post"));
    let decisions = app.events_of("account.audit.decision").await;
    assert_eq!(decisions.len(), 1);
    let kind = &decisions[0]["kind"];
    assert_eq!(
        (kind["decision"].as_str(), kind["reason"].as_str()),
        (Some("delete"), Some("names a patient"))
    );
    assert_eq!(kind["content"]["recorded"], "digest", "{kind}");
    assert!(kind["by"].as_str().unwrap().starts_with("cli:"));
    assert!(!journal_text(&app).await.contains("Maria"));

    // Wrong input: no reason, an unknown post, an unknown account.
    let out = run(&["accounts", "audit", account.as_str(), "--decide", &phi, "--decision", "keep"]);
    assert!(!out.status.success());
    let out =
        run(&["accounts", "audit", account.as_str(), "--decide", "1", "--decision", "keep", "--reason", "x"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lists no post"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["accounts", "audit", "acct_nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no account"));
}

on_both_backends!(
    the_sandbox_hides_what_policy_holds_and_a_moderator_decides,
    each_platform_that_can_hide_hides_and_shows_again,
    platforms_that_cannot_hide_queue_for_a_moderator,
    posts_made_outside_custodian_are_flagged_once,
    pass_through_posts_are_not_taken_for_posts_made_outside_custodian,
    an_api_token_is_told_moderation_takes_a_browser_session,
    an_account_audit_finds_phi_in_existing_posts,
);
