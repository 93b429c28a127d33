//! Two-person review: a held action waits until a reviewer who is not its
//! author approves the exact content; it then goes out as its author,
//! through the whole path, the intent naming the review and its
//! approvers. Rejection, withdrawal, expiry and a revoked author end it
//! without publishing; every transition is recorded, never the text.

use std::time::Duration;

use custodian::domain::AccountId;
use custodian::queue::{GroupRule, ReviewStep};
use reqwest::Method;
use serde_json::{json, Value};

use crate::actions::call;
use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::{idp_person, unique_username, Backend, TestApp};
use custodian::directory::Role;

const HELD: &str = "Huge thanks to our patient Maria Alvarez in room 4 after her chemo today!";

async fn app(backend: Backend, approvals: i64) -> (TestApp, AccountId) {
    let app = TestApp::spawn_with(backend, move |c| {
        c.directory.account_tags.insert("social-media-staff".into(), vec!["official".into()]);
        // Sessions outlive the review's expiry here, so that a reviewer
        // can come back after it.
        c.session.idle_timeout = Duration::from_secs(100 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(100 * 3600);
        if approvals > 1 {
            let step = ReviewStep { approvals, groups: Vec::new(), from: GroupRule::Any };
            c.review.steps.insert("official".into(), step);
        }
    })
    .await;
    let (clinic, _) = app.practice_accounts().await;
    (app, clinic)
}

/// Posts `text` on `account` as `who`; the review's id (it must be held).
async fn held(who: &Browser, account: &AccountId, text: &str) -> String {
    let (status, body) =
        call(who, Method::POST, &format!("/api/v1/accounts/{account}/posts"), Some(json!({ "text": text })))
            .await;
    assert_eq!((status, body["error"].as_str()), (202, Some("held_for_review")), "{body}");
    body["review_id"].as_str().expect("the review's id").to_owned()
}

async fn review(who: &Browser, id: &str) -> (u16, Value) {
    call(who, Method::GET, &format!("/api/v1/reviews/{id}"), None).await
}

async fn approve(who: &Browser, id: &str, sha: &str) -> (u16, Value) {
    let body = json!({"content_sha256": sha, "reason": "no patient can be identified"});
    call(who, Method::POST, &format!("/api/v1/reviews/{id}/approve"), Some(body)).await
}

async fn sandbox_posts(app: &TestApp) -> i64 {
    app.count("sandbox_posts").await
}

async fn a_held_post_goes_out_only_when_someone_else_approves_its_exact_content(backend: Backend) {
    let (app, clinic) = app(backend, 1).await;
    let (erin, _, _) = app.enrolled_browser("erin").await; // staff and reviewer
    let (bob, _, _) = app.enrolled_browser("bob").await; // reviewer
    let (alice, _, _) = app.enrolled_browser("alice").await; // staff
    let id = held(&erin, &clinic, HELD).await;

    // Its author and a reviewer read it with its content and findings;
    // another staff member does not see it at all.
    let (status, detail) = review(&erin, &id).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!((detail["state"].as_str(), detail["content"].as_str()), (Some("held"), Some(HELD)));
    let name = detail["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "name").unwrap();
    assert_eq!(
        &HELD[name["start"].as_u64().unwrap() as usize..name["end"].as_u64().unwrap() as usize],
        "Maria Alvarez"
    );
    let sha = detail["content_sha256"].as_str().unwrap().to_owned();
    assert_eq!(review(&alice, &id).await.0, 404);
    let (_, listed) = call(&alice, Method::GET, "/api/v1/reviews", None).await;
    assert_eq!(listed["reviews"], json!([]), "alice sees only her own");
    let (_, listed) = call(&bob, Method::GET, "/api/v1/reviews?state=held&kind=room", None).await;
    assert_eq!(listed["reviews"].as_array().unwrap().len(), 1, "{listed}");

    // The author cannot approve it: policy refuses, and says so.
    let (status, refused) = approve(&erin, &id, &sha).await;
    assert_eq!((status, refused["rule"].as_str()), (403, Some("no-self-review")), "{refused}");
    assert_eq!(
        (refused["reason"].as_str(), refused["remedy"].as_str()),
        (
            Some("you wrote this post, so another reviewer must approve or reject it"),
            Some("Ask another reviewer to decide it; you may withdraw it.")
        ),
        "{refused}"
    );
    // An approval must name the content it is for.
    let (status, body) =
        call(&bob, Method::POST, &format!("/api/v1/reviews/{id}/approve"), Some(json!({"reason": "ok"})))
            .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = approve(&bob, &id, &"0".repeat(64)).await;
    assert_eq!(
        (status, body["rule"].as_str()),
        (409, Some("review-content")),
        "another content's hash: {body}"
    );
    let remedy = body["remedy"].as_str().unwrap();
    assert!(remedy.starts_with("Reload the review and review its current content"), "what to do: {body}");
    let (status, body) =
        call(&bob, Method::POST, &format!("/api/v1/reviews/{id}/approve"), Some(json!({"sha": sha}))).await;
    assert_eq!(status, 400, "an unknown field: {body}");
    assert_eq!(sandbox_posts(&app).await, 0, "nothing went out yet");
    // While held (and whatever was refused), the journal has no word of it.
    let journal = serde_json::to_string(&app.events().await).unwrap();
    for secret in ["Maria", "chemo"] {
        assert!(!journal.contains(secret), "{secret:?} is in the journal");
    }

    // Another reviewer approves it: it goes out, as its author.
    let (status, decided) = approve(&bob, &id, &sha).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["review"]["state"], "published", "{decided}");
    assert!(decided["outcome"].as_str().unwrap().starts_with("published "), "{decided}");
    let bob_id = decided["review"]["approvals"][0]["reviewer_id"].as_str().unwrap().to_owned();
    assert_eq!(decided["review"]["decided_by"], bob_id.as_str(), "its approver decided it: {decided}");
    assert_eq!(review(&erin, &id).await.1["decided_by"], bob_id.as_str(), "and its author reads so");
    assert_eq!(sandbox_posts(&app).await, 1);
    let intent = app.events_of("action.intent").await.pop().unwrap();
    assert_eq!(intent["actor"]["user_id"], detail["author_id"], "carried out as its author: {intent}");
    assert_eq!(intent["kind"]["review"]["review_id"], id.as_str());
    assert_eq!(intent["kind"]["review"]["approvers"].as_array().unwrap().len(), 1);
    // Decided once.
    assert_eq!(approve(&bob, &id, &sha).await.0, 409);
    let (_, after) = review(&erin, &id).await;
    assert_eq!(after["content"], Value::Null, "the sealed content is gone once published");

    // Every step recorded; never the text.
    assert_eq!(app.events_of("review.held").await.len(), 1);
    assert_eq!(app.events_of("review.approve").await.len(), 1);
    let refusals = app.events_of("action.refused").await;
    assert!(refusals.iter().any(|e| e["kind"]["rule"] == "no-self-review"), "{refusals:?}");
    // Published, its intent records what went out, as every publication's does.
    assert_eq!(intent["kind"]["content"]["text"], HELD);
}

async fn rejection_withdrawal_expiry_two_approvals_and_a_revoked_author(backend: Backend) {
    let (app, clinic) = app(backend, 2).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let (erin, _, _) = app.enrolled_browser("erin").await;
    let sha_of = |d: &Value| d["content_sha256"].as_str().unwrap().to_owned();

    // Two approvals on an account tagged official: one is not enough.
    let a = held(&alice, &clinic, HELD).await;
    let sha = sha_of(&review(&bob, &a).await.1);
    let (status, first) = approve(&bob, &a, &sha).await;
    assert_eq!((status, first["review"]["state"].as_str()), (200, Some("held")), "{first}");
    assert_eq!(approve(&bob, &a, &sha).await.0, 409, "the same reviewer twice counts once");
    assert_eq!(sandbox_posts(&app).await, 0);
    let (status, second) = approve(&erin, &a, &sha).await;
    assert_eq!((status, second["review"]["state"].as_str()), (200, Some("published")), "{second}");
    assert_eq!(sandbox_posts(&app).await, 1);
    let approvers: Vec<&str> = second["review"]["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reviewer_id"].as_str().unwrap())
        .collect();
    assert_eq!(second["review"]["decided_by"], approvers.join(", "), "both approvers decided it: {second}");

    // Rejected, with a reason the author reads; the content erased.
    let b = held(&alice, &clinic, "Our patient Jo Park in room 12 finished chemo today").await;
    let reject = format!("/api/v1/reviews/{b}/reject");
    assert_eq!(call(&bob, Method::POST, &reject, Some(json!({}))).await.0, 400, "a reason is required");
    let (status, rejected) =
        call(&bob, Method::POST, &reject, Some(json!({"reason": "names a patient"}))).await;
    assert_eq!((status, rejected["review"]["state"].as_str()), (200, Some("rejected")), "{rejected}");
    let (_, seen) = review(&alice, &b).await;
    assert_eq!((seen["reason"].as_str(), &seen["content"]), (Some("names a patient"), &Value::Null));

    // Withdrawn by its author only.
    let c = held(&alice, &clinic, HELD).await;
    let withdraw = format!("/api/v1/reviews/{c}/withdraw");
    assert_eq!(call(&bob, Method::POST, &withdraw, None).await.0, 403);
    let (status, withdrawn) = call(&alice, Method::POST, &withdraw, None).await;
    assert_eq!((status, withdrawn["review"]["state"].as_str()), (200, Some("withdrawn")), "{withdrawn}");

    // A revoked author's approved post does not go out.
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let e = held(&alice, &clinic, HELD).await;
    let sha = sha_of(&review(&bob, &e).await.1);
    let r = carol
        .send_json(
            Method::POST,
            "/api/v1/admin/users/alice@clinic.example/revoke",
            Some(json!({"reason": "left the social media team"})),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert_eq!(approve(&bob, &e, &sha).await.0, 200);
    let (status, last) = approve(&erin, &e, &sha).await;
    assert_eq!((status, last["review"]["state"].as_str()), (200, Some("failed")), "{last}");
    assert!(last["outcome"].as_str().unwrap().starts_with("not published"), "{last}");
    assert_eq!(sandbox_posts(&app).await, 1, "only the first, approved twice, went out");

    // Not decided in time: expired, and no longer approvable.
    let d = held(&erin, &clinic, HELD).await;
    let sha = sha_of(&review(&bob, &d).await.1);
    app.clock.advance(Duration::from_secs(73 * 3600));
    let (status, late) = approve(&bob, &d, &sha).await;
    assert_eq!(status, 409, "{late}");
    assert!(late["reason"].as_str().unwrap().contains("expired"), "{late}");
    assert_eq!(app.events_of("review.expire").await.len(), 1);

    let closed: Vec<String> = ["review.reject", "review.withdraw", "review.expire", "review.fail"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    for action in &closed {
        let events = app.events_of(action).await;
        assert_eq!(events.len(), 1, "{action}: {events:?}");
    }
    // The first went out (its intent has its text); nothing of the rejected one.
    let journal = serde_json::to_string(&app.events().await).unwrap();
    assert!(!journal.contains("Jo Park"), "no text of a rejected post in the journal");
}

/// An account's step asks for one approval from each of two groups: two
/// approvals from the same group are not enough, and a reviewer in
/// neither is refused, saying whose approval it needs.
async fn all_of_groups_need_an_approval_from_each(backend: Backend) {
    let directors = "medical-directors";
    let app = TestApp::spawn_with(backend, move |c| {
        let tags = vec!["official".into(), "clinical".into()];
        c.directory.account_tags.insert("social-media-staff".into(), tags);
        c.directory.roles.get_mut(&Role::Reviewer).unwrap().push(directors.into());
        c.review.steps.insert(
            "official".into(),
            ReviewStep {
                approvals: 2,
                groups: vec!["compliance-reviewers".into(), directors.into()],
                from: GroupRule::All,
            },
        );
        c.review.steps.insert(
            "clinical".into(),
            ReviewStep { approvals: 1, groups: vec![directors.into()], from: GroupRule::Any },
        );
    })
    .await;
    let (clinic, other) = app.practice_accounts().await;
    let doc = unique_username("dr");
    idp_person(&doc, &format!("{doc}@clinic.example"), true, &[directors]).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await; // compliance-reviewers
    let (erin, _, _) = app.enrolled_browser("erin").await; // compliance-reviewers too
    let (dr, _, _) = app.enrolled_browser(&doc).await;

    let id = held(&alice, &clinic, HELD).await;
    let (_, detail) = review(&bob, &id).await;
    assert_eq!(detail["approvals_required"], 2, "{detail}");
    let sha = detail["content_sha256"].as_str().unwrap().to_owned();
    assert_eq!(approve(&bob, &id, &sha).await.1["review"]["state"], "held");
    let (status, second) = approve(&erin, &id, &sha).await;
    assert_eq!((status, second["review"]["state"].as_str()), (200, Some("held")), "same group: {second}");
    assert_eq!(sandbox_posts(&app).await, 0);
    let (status, last) = approve(&dr, &id, &sha).await;
    assert_eq!((status, last["review"]["state"].as_str()), (200, Some("published")), "{last}");
    let groups: Vec<&Value> =
        last["review"]["approvals"].as_array().unwrap().iter().map(|a| &a["groups"]).collect();
    assert!(groups.contains(&&json!([directors])), "each approval keeps its reviewer's groups: {last}");

    // On an account whose step names only the directors, a compliance
    // reviewer's approval would count for nothing: refused, recorded, saying why.
    let sql = "UPDATE accounts SET tags_json = '[\"clinical\"]' WHERE id = $1";
    sqlx::query(sql).bind(other.as_str()).execute(app.state.db.pool()).await.unwrap();
    let id = held(&alice, &other, HELD).await;
    let sha = review(&bob, &id).await.1["content_sha256"].as_str().unwrap().to_owned();
    let (status, refused) = approve(&bob, &id, &sha).await;
    assert_eq!((status, refused["rule"].as_str()), (403, Some("review-steps")), "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains(directors), "{refused}");
    assert_eq!(approve(&dr, &id, &sha).await.1["review"]["state"], "published");
}

/// The web door: a held post from the timeline's form lands on its page,
/// which shows each finding highlighted in the text with its rule; its
/// author withdraws it there; nobody else sees the page.
async fn a_held_post_from_the_web_form_shows_its_findings_highlighted(backend: Backend) {
    let (app, clinic) = app(backend, 1).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let (dave, _, _) = app.enrolled_browser("dave").await;
    let form = [("csrf", alice.csrf()), ("text", HELD.to_owned())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = alice.post_form(&format!("/accounts/{clinic}/posts"), &form).await;
    assert_eq!(r.status(), 303);
    let page_url = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(page_url.starts_with("/reviews/rv_"), "{page_url}");
    let page = alice.get_text(&page_url).await;
    assert!(page.contains("It waits for a compliance reviewer"), "{page}");
    assert!(
        page.contains(r#"<mark title="name (person.introduced_with_health): a person introduced by name next to health context">Maria Alvarez</mark>"#),
        "{page}"
    );
    assert!(page.contains("room 4</mark>") && page.contains("chemo</mark>"), "{page}");
    assert_eq!(sandbox_posts(&app).await, 0);
    // A reviewer reads it too, without the author's withdraw button; an auditor not at all.
    let seen = bob.get_text(&page_url).await;
    assert!(seen.contains("Maria Alvarez</mark>") && !seen.contains("Withdraw it"), "{seen}");
    assert_eq!(dave.get(&page_url).await.status(), 404);
    // Its author withdraws it there; the page then keeps only the findings.
    let csrf = alice.csrf();
    let r = alice.post_form(&format!("{page_url}/withdraw"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status(), 303);
    let page = alice.get_text(&page_url).await;
    assert!(page.contains("It was withdrawn.") && !page.contains("Maria"), "{page}");
}

/// `custodian review` as a reviewer runs it, with `args`, their token in
/// the environment: (success, stdout, stderr).
async fn cli(app: &TestApp, token: &str, args: &[&str]) -> (bool, String, String) {
    let mut command = crate::cli::custodian();
    command.arg("review").args(args).env("CUSTODIAN_URL", &app.base).env("CUSTODIAN_TOKEN", token);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

async fn review_token(who: &Browser, account: &AccountId) -> String {
    let body = json!({"name": "review cli", "actions": ["review.list", "review.decide"], "accounts": [account], "expires_in_days": 7});
    let (status, created) = call(who, Method::POST, "/api/v1/tokens", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap().to_owned()
}

/// The command line is a client of the review API with the reviewer's own
/// token: policy, no-self-review and the journal apply as in the browser,
/// and a token reaches the queue only if it names it.
async fn a_reviewer_decides_from_the_command_line_with_their_own_token(backend: Backend) {
    let (app, clinic) = app(backend, 1).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let (erin, _, _) = app.enrolled_browser("erin").await;
    let bob_token = review_token(&bob, &clinic).await;
    let erin_token = review_token(&erin, &clinic).await;
    let id = held(&alice, &clinic, HELD).await;

    let (ok, out, err) = cli(&app, &bob_token, &["list"]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&id) && out.contains(" held ") && out.contains("name, room"), "{out}");
    let (ok, out, err) = cli(&app, &bob_token, &["show", &id]).await;
    assert!(ok, "{err}");
    assert!(out.contains("Huge thanks to our patient [[Maria Alvarez]] in [[room 4]]"), "{out}");
    let sha = out.lines().find_map(|l| l.strip_prefix("content_sha256 ")).unwrap().to_owned();

    // Refusals come back with their reason and rule; nothing goes out.
    let (ok, _, err) = cli(&app, &bob_token, &["approve", &id, "--sha256", &"0".repeat(64)]).await;
    assert!(!ok && err.contains("refused, 409"), "{err}");
    let own = held(&erin, &clinic, HELD).await;
    let (ok, _, err) = cli(&app, &erin_token, &["approve", &own, "--sha256", &sha]).await;
    assert!(!ok && err.contains("rule no-self-review"), "{err}");
    let (ok, out, err) = cli(&app, "cst_not_a_token", &["list"]).await;
    assert!(!ok && err.contains("refused, 401"), "{err}");
    assert!(!out.contains("cst_not_a_token") && !err.contains("cst_not_a_token"), "never printed");
    let (ok, _, err) = cli(&app, &bob_token, &["list", "--url", ""]).await;
    assert!(!ok, "{err}");
    // A state that is none: refused, naming those there are.
    let (ok, _, err) = cli(&app, &bob_token, &["list", "--state", "bogus"]).await;
    assert!(!ok && err.contains("invalid value 'bogus' for '--state <STATE>'"), "{err}");
    for state in ["all", "held", "scheduled", "pending_reschedule", "published", "withdrawn"] {
        assert!(err.contains(state), "{state}: {err}");
    }
    assert!(!err.contains("deserialize"), "{err}");
    let (status, body) =
        crate::tokens::with_token(&app, &bob_token, Method::GET, "/api/v1/reviews?state=bogus", None).await;
    let reason = body["reason"].as_str().unwrap();
    assert!(status == 400 && reason.contains("expected one of `held`, `approved`"), "{body}");
    assert!(!reason.contains("bogus"), "{body}");
    // A token that does not name the queue does not reach it.
    let (publishing, _) = crate::tokens::publishing_token(&alice, &clinic).await;
    let (status, listed) =
        crate::tokens::with_token(&app, &publishing, Method::GET, "/api/v1/reviews", None).await;
    assert_eq!((status, listed["reviews"].clone()), (200, json!([])), "{listed}");
    let path = format!("/api/v1/reviews/{id}/approve");
    let body = json!({"content_sha256": sha});
    let (status, refused) =
        crate::tokens::with_token(&app, &publishing, Method::POST, &path, Some(body)).await;
    assert_eq!((status, refused["rule"].as_str()), (403, Some("token:scope")), "{refused}");
    assert_eq!(sandbox_posts(&app).await, 0);

    let (ok, out, err) =
        cli(&app, &bob_token, &["approve", &id, "--sha256", &sha, "--reason", "consented"]).await;
    assert!(ok, "{err}");
    assert!(out.contains(" published ") && out.contains("published sbx_"), "{out}");
    assert_eq!(sandbox_posts(&app).await, 1);
    let approval = app.events_of("review.approve").await.pop().unwrap();
    assert_eq!(approval["actor"]["user_id"], review(&bob, &id).await.1["approvals"][0]["reviewer_id"]);
    let (ok, out, _) = cli(&app, &erin_token, &["reject", &own, "--reason", "names a patient"]).await;
    assert!(!ok, "her own: {out}");
    let (ok, out, err) = cli(&app, &bob_token, &["reject", &own, "--reason", "names a patient"]).await;
    assert!(ok && out.contains(" rejected "), "{out}{err}");
    let journal = serde_json::to_string(&app.events().await).unwrap();
    for token in [&bob_token, &erin_token] {
        assert!(!journal.contains(token.as_str()), "a token in the journal");
    }
}

/// The review `action` of `id` recorded, then lost to another request
/// that moved it to `winner` first: answered 409, and the journal follows
/// the move's event with `review.superseded` naming it.
async fn assert_superseded(app: &TestApp, action: &str, id: &str, answer: (u16, Value), winner: &str) {
    let (status, body) = answer;
    assert_eq!((status, body["rule"].as_str()), (409, Some("review-moved-meanwhile")), "{body}");
    assert!(body["reason"].as_str().unwrap().contains(&format!("is {winner} now")), "{body}");
    let moves: Vec<Value> =
        app.events_of(action).await.into_iter().filter(|e| e["kind"]["review_id"] == id).collect();
    assert_eq!(moves.len(), 1, "{moves:?}");
    let superseded: Vec<Value> = app
        .events_of("review.superseded")
        .await
        .into_iter()
        .filter(|e| e["kind"]["review_id"] == id)
        .collect();
    assert_eq!(superseded.len(), 1, "the journal takes back the {action} that did not happen");
    let kind = &superseded[0]["kind"];
    assert_eq!(kind["event_id"], moves[0]["event_id"], "{kind}");
    assert_eq!((kind["superseded"].as_str(), kind["state"].as_str()), (Some(action), Some(winner)));
    assert_eq!(superseded[0]["decision"], "denied");
    let events = app.events().await;
    let at = |e: &Value| events.iter().position(|x| x["event_id"] == e["event_id"]).unwrap();
    assert!(at(&superseded[0]) > at(&moves[0]), "recorded after the move it takes back");
}

/// Each decision is recorded before the queue makes it; when another
/// request moved the review in between, the decision did not happen, and
/// the journal says so instead of claiming it.
async fn a_decision_that_lost_a_race_is_recorded_as_superseded(backend: Backend) {
    let (app, clinic) = app(backend, 1).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let lose = |action: &'static str, id: String, winner: &'static str| {
        let app = &app;
        async move {
            let set = format!("UPDATE reviews SET state = '{winner}' WHERE id = '{id}'");
            app.when_recorded(action, &set).await;
        }
    };

    // An approval, while its author withdrew it: no approval stands, nothing goes out.
    let id = held(&alice, &clinic, HELD).await;
    let sha = review(&bob, &id).await.1["content_sha256"].as_str().unwrap().to_owned();
    lose("review.approve", id.clone(), "withdrawn").await;
    assert_superseded(&app, "review.approve", &id, approve(&bob, &id, &sha).await, "withdrawn").await;
    assert_eq!(review(&bob, &id).await.1["approvals"], json!([]));
    assert_eq!(sandbox_posts(&app).await, 0);

    // A rejection, while its author withdrew it.
    let id = held(&alice, &clinic, HELD).await;
    lose("review.reject", id.clone(), "withdrawn").await;
    let reject = format!("/api/v1/reviews/{id}/reject");
    let answer = call(&bob, Method::POST, &reject, Some(json!({"reason": "names a patient"}))).await;
    assert_superseded(&app, "review.reject", &id, answer, "withdrawn").await;
    assert_eq!(review(&alice, &id).await.1["state"], "withdrawn");

    // A withdrawal, while a reviewer rejected it.
    let id = held(&alice, &clinic, HELD).await;
    lose("review.withdraw", id.clone(), "rejected").await;
    let answer = call(&alice, Method::POST, &format!("/api/v1/reviews/{id}/withdraw"), None).await;
    assert_superseded(&app, "review.withdraw", &id, answer, "rejected").await;

    // A new time, while a reviewer rejected it.
    let at = |hours: u64| {
        let t = custodian::clock::Clock::now(&app.clock).plus(Duration::from_secs(hours * 3600));
        t.rfc3339()
    };
    let (status, body) = call(
        &alice,
        Method::POST,
        &format!("/api/v1/accounts/{clinic}/posts"),
        Some(json!({"text": HELD, "publish_at": at(2)})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["review_id"].as_str().unwrap().to_owned();
    lose("review.reschedule", id.clone(), "rejected").await;
    let path = format!("/api/v1/reviews/{id}/reschedule");
    let answer = call(&alice, Method::POST, &path, Some(json!({"publish_at": at(3)}))).await;
    assert_superseded(&app, "review.reschedule", &id, answer, "rejected").await;
}

on_both_backends!(
    a_decision_that_lost_a_race_is_recorded_as_superseded,
    a_reviewer_decides_from_the_command_line_with_their_own_token,
    a_held_post_from_the_web_form_shows_its_findings_highlighted,
    all_of_groups_need_an_approval_from_each,
    a_held_post_goes_out_only_when_someone_else_approves_its_exact_content,
    rejection_withdrawal_expiry_two_approvals_and_a_revoked_author
);
