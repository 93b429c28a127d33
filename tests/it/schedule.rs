//! Scheduling: a post with a time is screened now, waits sealed in the
//! queue, and at its time takes the whole path again as its author,
//! claimed by exactly one replica. Approved after its time, it waits for
//! a new one; its author revoked, it is orphaned for a reviewer to re-own;
//! a claim cut short is marked interrupted, never retried.

use std::time::Duration;

use custodian::clock::Clock;
use custodian::domain::AccountId;
use custodian::review::Ticked;
use reqwest::Method;
use serde_json::{json, Value};

use crate::actions::call;
use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::{idp_person, unique_username, Backend, TestApp};
use custodian::directory::Role;
use custodian::queue::{GroupRule, ReviewStep};

const CLEAN: &str = "Flu shots are free at our clinic every Saturday this month.";
const HELD: &str = "Huge thanks to our patient Maria Alvarez in room 4 after her chemo today!";
const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

async fn app(backend: Backend) -> (TestApp, AccountId) {
    let app = TestApp::spawn_with(backend, |c| {
        c.session.idle_timeout = Duration::from_secs(200 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(200 * 3600);
        c.review.time_zone = "America/Chicago".into();
    })
    .await;
    let (clinic, _) = app.practice_accounts().await;
    (app, clinic)
}

/// `publish_at` that far from the app's clock, as a client writes it.
fn from_now(app: &TestApp, ahead: Duration) -> String {
    app.clock.now().plus(ahead).rfc3339()
}

async fn schedule(who: &Browser, account: &AccountId, text: &str, at: &str) -> (u16, Value) {
    let body = json!({ "text": text, "publish_at": at });
    call(who, Method::POST, &format!("/api/v1/accounts/{account}/posts"), Some(body)).await
}

async fn review(who: &Browser, id: &str) -> Value {
    let (status, body) = call(who, Method::GET, &format!("/api/v1/reviews/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn approve(who: &Browser, id: &str) -> Value {
    let sha = review(who, id).await["content_sha256"].as_str().unwrap().to_owned();
    let body = json!({"content_sha256": sha, "reason": "nobody can be identified"});
    let (status, decided) =
        call(who, Method::POST, &format!("/api/v1/reviews/{id}/approve"), Some(body)).await;
    assert_eq!(status, 200, "{decided}");
    decided
}

async fn tick(app: &TestApp) -> Ticked {
    app.state.reviews.tick().await.expect("tick")
}

/// `local` is `utc` in Chicago: "YYYY-MM-DD HH:MM CST (-06:00)" (or CDT, -05:00).
fn assert_chicago(utc: &str, local: &str) {
    let offset = match local {
        l if l.ends_with(" CST (-06:00)") => 6,
        l if l.ends_with(" CDT (-05:00)") => 5,
        other => panic!("not Chicago time: {other:?}"),
    };
    let hour: i64 = utc[11..13].parse().unwrap();
    let local_hour: i64 = local[11..13].parse().unwrap();
    assert_eq!((hour - offset).rem_euclid(24), local_hour, "{utc} is {local}");
    assert_eq!(&utc[14..16], &local[14..16], "{utc} is {local}");
}

async fn sandbox_posts(app: &TestApp) -> i64 {
    app.count("sandbox_posts").await
}

async fn a_scheduled_post_goes_out_at_its_time_as_its_author_once(backend: Backend) {
    let (app, clinic) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;

    // Times that cannot be are refused, clearly, and nothing waits.
    let (status, body) = schedule(&alice, &clinic, CLEAN, "next tuesday").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("RFC 3339"), "{body}");
    let past = app.clock.now().plus(Duration::ZERO).rfc3339();
    let (status, body) = schedule(&alice, &clinic, CLEAN, &past).await;
    assert_eq!((status, body["rule"].as_str()), (422, Some("schedule")), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("not in the future"), "{body}");
    let (status, body) = schedule(&alice, &clinic, CLEAN, &from_now(&app, 100 * 24 * HOUR)).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("ahead"), "{body}");
    assert_eq!(app.count("reviews").await, 0);

    // Screened now, then it waits: the author sees it, its time in the
    // organization's zone (Chicago is UTC-6 in winter).
    let at = from_now(&app, HOUR);
    let (status, queued) = schedule(&alice, &clinic, CLEAN, &at).await;
    assert_eq!(status, 202, "{queued}");
    let id = queued["review_id"].as_str().unwrap().to_owned();
    assert_eq!(queued["publish_at"], at.as_str(), "{queued}");
    assert_chicago(&at, queued["publish_at_local"].as_str().unwrap());
    let waiting = review(&alice, &id).await;
    assert_eq!((waiting["state"].as_str(), waiting["content"].as_str()), (Some("scheduled"), Some(CLEAN)));
    // Its time comes first, as the API writes it; its expiry after.
    let raw = alice.get_text(&format!("/api/v1/reviews/{id}")).await;
    let place = |field: &str| raw.find(&format!("\"{field}\":")).unwrap_or_else(|| panic!("{field}: {raw}"));
    assert!(place("publish_at") < place("publish_at_local"), "{raw}");
    assert!(place("publish_at_local") < place("expires_at"), "{raw}");
    let (_, mine) = call(&alice, Method::GET, "/api/v1/reviews?state=scheduled", None).await;
    assert_eq!(mine["reviews"].as_array().unwrap().len(), 1, "{mine}");
    // The journal holds its digest, not its words, until it goes out.
    let scheduled = app.events_of("post.schedule").await;
    assert_eq!(scheduled.len(), 1);
    assert!(!serde_json::to_string(&app.events().await).unwrap().contains("Flu shots"));

    // Not yet: nothing goes out.
    assert_eq!(tick(&app).await, Ticked::default());
    assert_eq!(sandbox_posts(&app).await, 0);

    // Its time: out, as alice, through the whole path; once.
    app.clock.advance(HOUR + MINUTE);
    assert_eq!(tick(&app).await.published, 1);
    assert_eq!(tick(&app).await, Ticked::default(), "not twice");
    assert_eq!(sandbox_posts(&app).await, 1);
    let done = review(&alice, &id).await;
    assert_eq!((done["state"].as_str(), &done["content"]), (Some("published"), &Value::Null));
    let intent = app.events_of("action.intent").await.pop().unwrap();
    assert_eq!(intent["actor"]["user_id"], waiting["author_id"], "{intent}");
    assert_eq!(intent["kind"]["review"]["review_id"], id.as_str());
    assert_eq!(intent["kind"]["content"]["text"], CLEAN, "its intent records what went out");
    assert_eq!(app.events_of("review.claim").await.len(), 1);

    // Withdrawn before its time: it never goes out.
    let (_, queued) = schedule(&alice, &clinic, "Withdrawn one", &from_now(&app, HOUR)).await;
    let withdrawn = queued["review_id"].as_str().unwrap().to_owned();
    let (status, body) =
        call(&alice, Method::POST, &format!("/api/v1/reviews/{withdrawn}/withdraw"), None).await;
    assert_eq!((status, body["review"]["state"].as_str()), (200, Some("withdrawn")), "{body}");

    // Moved later: not at its old time, at its new one.
    let (_, queued) = schedule(&alice, &clinic, "Moved one", &from_now(&app, HOUR)).await;
    let moved = queued["review_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/reviews/{moved}/reschedule");
    let (status, body) = call(&alice, Method::POST, &path, Some(json!({"publish_at": "soon"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        call(&alice, Method::POST, &path, Some(json!({"publish_at": from_now(&app, 3 * HOUR)}))).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("scheduled")), "{body}");
    app.clock.advance(2 * HOUR);
    assert_eq!(tick(&app).await.published, 0, "neither the withdrawn nor the moved one");
    app.clock.advance(HOUR + MINUTE);
    assert_eq!(tick(&app).await.published, 1);
    assert_eq!(sandbox_posts(&app).await, 2);
    assert_eq!(app.events_of("review.reschedule").await.len(), 1);
}

async fn a_held_post_with_a_time_waits_for_its_reviewer_and_never_goes_out_late(backend: Backend) {
    let (app, clinic) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;

    // Held now: the author is told at once, with the findings.
    let (status, held) = schedule(&alice, &clinic, HELD, &from_now(&app, 2 * HOUR)).await;
    assert_eq!((status, held["error"].as_str()), (202, Some("held_for_review")), "{held}");
    let early = held["review_id"].as_str().unwrap().to_owned();
    // Approved before its time: scheduled, and out at its time.
    let decided = approve(&bob, &early).await;
    assert_eq!(decided["review"]["state"], "scheduled", "{decided}");
    assert_eq!(sandbox_posts(&app).await, 0, "not before its time");

    // Another, approved only after its time: it waits for a new time.
    let (_, held) = schedule(&alice, &clinic, HELD, &from_now(&app, HOUR)).await;
    let late = held["review_id"].as_str().unwrap().to_owned();
    app.clock.advance(2 * HOUR + MINUTE);
    assert_eq!(tick(&app).await.published, 1, "the early one, at its time");
    let decided = approve(&bob, &late).await;
    assert_eq!(decided["review"]["state"], "pending_reschedule", "{decided}");
    assert_eq!(tick(&app).await.published, 0, "not published late");
    assert_eq!(sandbox_posts(&app).await, 1);
    assert_eq!(app.events_of("review.pending_reschedule").await.len(), 1);

    // Its author gives it a new time; the approval stands (it names the content).
    let path = format!("/api/v1/reviews/{late}/reschedule");
    let (status, body) =
        call(&alice, Method::POST, &path, Some(json!({"publish_at": from_now(&app, HOUR)}))).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("scheduled")), "{body}");
    app.clock.advance(HOUR + MINUTE);
    assert_eq!(tick(&app).await.published, 1);
    assert_eq!(sandbox_posts(&app).await, 2);
    let intent = app.events_of("action.intent").await.pop().unwrap();
    assert_eq!(intent["kind"]["review"]["approvers"].as_array().unwrap().len(), 1, "{intent}");
}

async fn a_revoked_authors_waiting_posts_are_orphaned_and_a_reviewer_can_re_own_one(backend: Backend) {
    let (app, clinic) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let (erin, _, _) = app.enrolled_browser("erin").await; // staff and reviewer
    let (carol, _, _) = app.enrolled_browser("carol").await;

    let (_, queued) = schedule(&alice, &clinic, CLEAN, &from_now(&app, 2 * HOUR)).await;
    let scheduled = queued["review_id"].as_str().unwrap().to_owned();
    let (_, held) = schedule(&alice, &clinic, HELD, &from_now(&app, 2 * HOUR)).await;
    let approved = held["review_id"].as_str().unwrap().to_owned();
    approve(&bob, &approved).await;
    let r = carol
        .send_json(
            Method::POST,
            "/api/v1/admin/users/alice@clinic.example/revoke",
            Some(json!({"reason": "left the social media team"})),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // Withdrawn from the queue, recorded; neither goes out at its time.
    assert_eq!(tick(&app).await.orphaned, 2);
    let orphaned = app.events_of("review.orphan").await;
    assert_eq!(orphaned.len(), 2);
    assert!(orphaned[0]["kind"]["reason"].as_str().unwrap().contains("access ended"), "{orphaned:?}");
    let seen = review(&bob, &scheduled).await;
    assert_eq!((seen["state"].as_str(), seen["content"].as_str()), (Some("orphaned"), Some(CLEAN)));

    // A reviewer re-owns one: it is theirs, held for another reviewer. It
    // goes out as them, so only a reviewer who may post it can.
    let adopt = format!("/api/v1/reviews/{scheduled}/adopt");
    let (status, body) = call(&alice, Method::POST, &adopt, None).await;
    assert_eq!(status, 401, "the revoked author is signed out: {body}");
    let (status, body) = call(&bob, Method::POST, &adopt, None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "bob may not post: {body}");
    let (status, adopted) = call(&erin, Method::POST, &adopt, None).await;
    assert_eq!((status, adopted["state"].as_str()), (200, Some("held")), "{adopted}");
    assert_ne!(adopted["author_id"], seen["author_id"], "{adopted}");
    assert_eq!(call(&erin, Method::POST, &adopt, None).await.0, 409, "re-owned once");
    let sha = adopted["content_sha256"].as_str().unwrap();
    let (status, refused) = call(
        &erin,
        Method::POST,
        &format!("/api/v1/reviews/{scheduled}/approve"),
        Some(json!({"content_sha256": sha})),
    )
    .await;
    assert_eq!((status, refused["rule"].as_str()), (403, Some("no-self-review")), "{refused}");
    assert_eq!(approve(&bob, &scheduled).await["review"]["state"], "scheduled");
    assert_eq!(app.events_of("review.adopt").await.len(), 1);

    app.clock.advance(2 * HOUR + MINUTE);
    let ticked = tick(&app).await;
    assert_eq!((ticked.published, ticked.orphaned), (1, 0), "{ticked:?}");
    assert_eq!(sandbox_posts(&app).await, 1, "only the re-owned one");
    let intent = app.events_of("action.intent").await.pop().unwrap();
    assert_eq!(intent["actor"]["user_id"], adopted["author_id"], "out as its new owner: {intent}");

    // The other waits for a new owner until it expires, then its content is gone.
    app.clock.advance(72 * HOUR);
    assert_eq!(tick(&app).await.expired, 1);
    let gone = review(&bob, &approved).await;
    assert_eq!((gone["state"].as_str(), &gone["content"]), (Some("expired"), &Value::Null));
    assert_eq!(sandbox_posts(&app).await, 1);
}

async fn two_replicas_on_one_database_publish_each_due_post_exactly_once(backend: Backend) {
    let (app, clinic) = app(backend).await;
    let replica = app.replica().await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    const POSTS: usize = 45;
    for n in 0..POSTS {
        let (status, body) =
            schedule(&alice, &clinic, &format!("Open day reminder {n}"), &from_now(&app, HOUR)).await;
        assert_eq!(status, 202, "{body}");
    }
    app.clock.advance(HOUR + MINUTE);
    // Both replicas tick at once, again and again, until nothing is due.
    let run = |reviews: custodian::review::Reviews| async move {
        let mut published = 0;
        loop {
            let done = reviews.tick().await.expect("tick");
            published += done.published;
            assert_eq!(done.failed, 0);
            if done.published == 0 {
                return published;
            }
        }
    };
    let (a, b) = tokio::join!(run(app.state.reviews.clone()), run(replica.state.reviews.clone()));
    assert_eq!(a + b, POSTS, "each published once between them ({a} + {b})");
    assert_eq!(sandbox_posts(&app).await, POSTS as i64, "the platform received each once");
    assert_eq!(app.events_of("action.intent").await.len(), POSTS);
    assert_eq!(app.events_of("review.claim").await.len(), POSTS, "one claim each");
    let (_, listed) = call(&alice, Method::GET, "/api/v1/reviews?state=published", None).await;
    assert_eq!(listed["reviews"].as_array().unwrap().len(), POSTS);
}

async fn a_claim_cut_short_is_marked_interrupted_and_never_retried(backend: Backend) {
    let (app, clinic) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (_, queued) = schedule(&alice, &clinic, CLEAN, &from_now(&app, HOUR)).await;
    let id = queued["review_id"].as_str().unwrap().to_owned();
    app.clock.advance(HOUR + MINUTE);
    // A replica claimed it, then its process stopped before any outcome.
    sqlx::query(
        "UPDATE reviews SET state = 'approved', claimed_at = $1, claimed_by = 'replica_gone' WHERE id = $2",
    )
    .bind(app.clock.now().millis())
    .bind(&id)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(tick(&app).await, Ticked::default(), "another replica may still be carrying it out");
    app.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(tick(&app).await.interrupted, 1);
    let seen = review(&alice, &id).await;
    assert_eq!(seen["state"], "interrupted", "{seen}");
    assert!(seen["reason"].as_str().unwrap().contains("not retried"), "{seen}");
    assert_eq!(app.events_of("review.interrupt").await.len(), 1);
    app.clock.advance(HOUR);
    assert_eq!(tick(&app).await, Ticked::default());
    assert_eq!(sandbox_posts(&app).await, 0, "never retried blindly");
}

/// A post whose time passed while no replica ran is not published late;
/// one scheduled through an API token that is revoked meanwhile does not
/// go out at all.
async fn no_late_posts_and_no_posts_of_a_revoked_token(backend: Backend) {
    let (app, clinic) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    // Scheduled through an API token, which is then revoked.
    let (token, token_id) = crate::tokens::publishing_token(&alice, &clinic).await;
    let body = json!({"text": "From the scheduler", "publish_at": from_now(&app, 2 * HOUR)});
    let path = format!("/api/v1/accounts/{clinic}/posts");
    let (status, by_token) = crate::tokens::with_token(&app, &token, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 202, "{by_token}");
    let (status, _) = call(&alice, Method::DELETE, &format!("/api/v1/tokens/{token_id}"), None).await;
    assert_eq!(status, 200);
    // Due while no replica ran.
    let (_, queued) = schedule(&alice, &clinic, CLEAN, &from_now(&app, HOUR)).await;
    let missed = queued["review_id"].as_str().unwrap().to_owned();

    app.clock.advance(HOUR + 20 * MINUTE);
    assert_eq!(tick(&app).await.published, 0);
    let seen = review(&alice, &missed).await;
    assert_eq!(seen["state"], "pending_reschedule", "{seen}");
    assert!(seen["reason"].as_str().unwrap().contains("not published late"), "{seen}");

    app.clock.advance(45 * MINUTE);
    assert_eq!(tick(&app).await.failed, 1);
    let seen = review(&alice, by_token["review_id"].as_str().unwrap()).await;
    assert_eq!(seen["state"], "failed", "{seen}");
    assert!(seen["reason"].as_str().unwrap().contains("was revoked"), "{seen}");
    assert_eq!(sandbox_posts(&app).await, 0);
}

/// An approval and a new time at once: the approval moves the post by the
/// time it has when the move is made, never by the one read before, and
/// the journal names the time it waits for.
async fn an_approval_racing_a_new_time_waits_for_the_new_time(backend: Backend) {
    let (app, clinic) = app(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await;
    let set_time = |id: &str, at: &str| {
        let millis = custodian::clock::Timestamp::parse_rfc3339(at).unwrap().millis();
        format!("UPDATE reviews SET publish_at = {millis} WHERE id = '{id}'")
    };

    // Its time passed; as the reviewer approves, its author gives it a new
    // one: it is scheduled for the new time (not left waiting for one).
    let (_, held) = schedule(&alice, &clinic, HELD, &from_now(&app, HOUR)).await;
    let late = held["review_id"].as_str().unwrap().to_owned();
    app.clock.advance(2 * HOUR);
    let new_time = from_now(&app, 3 * HOUR);
    app.when_recorded("review.approve", &set_time(&late, &new_time)).await;
    let decided = approve(&bob, &late).await;
    assert_eq!(
        (decided["review"]["state"].as_str(), decided["review"]["publish_at"].as_str()),
        (Some("scheduled"), Some(new_time.as_str())),
        "{decided}"
    );
    let moved = app.events_of("review.schedule").await;
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["kind"]["publish_at"], new_time.as_str(), "the journal names the time it waits for");
    assert!(app.events_of("review.pending_reschedule").await.is_empty());
    app.clock.advance(3 * HOUR + MINUTE);
    assert_eq!(tick(&app).await.published, 1, "out at the new time");

    // The new time lands after the approval's move was recorded: that move
    // is superseded, and the post waits for the time it has.
    let (_, held) = schedule(&alice, &clinic, HELD, &from_now(&app, HOUR)).await;
    let id = held["review_id"].as_str().unwrap().to_owned();
    let new_time = from_now(&app, 4 * HOUR);
    app.when_recorded("review.schedule", &set_time(&id, &new_time)).await;
    let decided = approve(&bob, &id).await;
    assert_eq!(
        (decided["review"]["state"].as_str(), decided["review"]["publish_at"].as_str()),
        (Some("scheduled"), Some(new_time.as_str())),
        "{decided}"
    );
    let moves: Vec<Value> =
        app.events_of("review.schedule").await.into_iter().filter(|e| e["kind"]["review_id"] == id).collect();
    assert_eq!(moves.len(), 2, "{moves:?}");
    let superseded = app.events_of("review.superseded").await;
    assert_eq!(superseded.len(), 1, "{superseded:?}");
    assert_eq!(superseded[0]["kind"]["event_id"], moves[0]["event_id"]);
    assert_eq!(moves[1]["kind"]["publish_at"], new_time.as_str(), "the move that stands names its time");
}

/// Approvals given under looser review steps do not release a post at its
/// time: only approvals that satisfy the steps in force when it goes out
/// count (steps tightened in the configuration, or added by a new tag on
/// its account). It waits for a reviewer again instead.
async fn a_post_goes_out_only_on_approvals_the_steps_in_force_count(backend: Backend) {
    let directors = "medical-directors";
    let app = TestApp::spawn_with(backend, |c| {
        c.session.idle_timeout = Duration::from_secs(200 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(200 * 3600);
        c.directory.roles.get_mut(&Role::Reviewer).unwrap().push(directors.into());
        let step = ReviewStep { approvals: 1, groups: vec![directors.into()], from: GroupRule::Any };
        c.review.steps.insert("clinical".into(), step);
    })
    .await;
    let (clinic, _) = app.practice_accounts().await;
    let doc = unique_username("dr");
    idp_person(&doc, &format!("{doc}@clinic.example"), true, &[directors]).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (bob, _, _) = app.enrolled_browser("bob").await; // compliance-reviewers
    let (dr, _, _) = app.enrolled_browser(&doc).await; // medical-directors

    // Approved by bob while the account needs any one reviewer; then it is
    // tagged clinical, whose step takes a medical director's approval.
    let (_, held) = schedule(&alice, &clinic, HELD, &from_now(&app, HOUR)).await;
    let id = held["review_id"].as_str().unwrap().to_owned();
    assert_eq!(approve(&bob, &id).await["review"]["state"], "scheduled");
    let sql = "UPDATE accounts SET tags_json = '[\"official\",\"clinical\"]' WHERE id = $1";
    sqlx::query(sql).bind(clinic.as_str()).execute(app.state.db.pool()).await.unwrap();
    app.clock.advance(HOUR + MINUTE);
    let ticked = tick(&app).await;
    assert_eq!((ticked.published, ticked.held_again), (0, 1), "{ticked:?}");
    assert_eq!(sandbox_posts(&app).await, 0, "bob's approval no longer releases it");
    let waiting = review(&alice, &id).await;
    assert_eq!(waiting["state"], "held", "{waiting}");
    assert!(waiting["reason"].as_str().unwrap().contains("review steps in force"), "{waiting}");
    assert_eq!(app.events_of("review.hold_again").await.len(), 1);
    // A director approves: its time passed, so it waits for a new one, and
    // goes out then, naming the approval that counted.
    assert_eq!(approve(&dr, &id).await["review"]["state"], "pending_reschedule");
    let path = format!("/api/v1/reviews/{id}/reschedule");
    let (status, body) =
        call(&alice, Method::POST, &path, Some(json!({"publish_at": from_now(&app, HOUR)}))).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("scheduled")), "{body}");
    app.clock.advance(HOUR + MINUTE);
    assert_eq!(tick(&app).await.published, 1);
    let intent = app.events_of("action.intent").await.pop().unwrap();
    let approvers = intent["kind"]["review"]["approvers"].as_array().unwrap();
    assert_eq!(approvers.len(), 1, "only the director's approval counts: {intent}");
    assert_eq!(approvers[0], review(&dr, &id).await["approvals"][1]["reviewer_id"]);

    // Approved by one reviewer; Custodian then restarts with two approvals
    // asked on the account's tag: at its time, it waits for another.
    let (_, held) = schedule(&alice, &clinic, HELD, &from_now(&app, HOUR)).await;
    let id = held["review_id"].as_str().unwrap().to_owned();
    assert_eq!(approve(&dr, &id).await["review"]["state"], "scheduled");
    let restarted = app
        .replica_with(|c| {
            let step = ReviewStep { approvals: 2, groups: Vec::new(), from: GroupRule::Any };
            c.review.steps.insert("official".into(), step);
        })
        .await;
    app.clock.advance(HOUR + MINUTE);
    let ticked = restarted.state.reviews.tick().await.unwrap();
    assert_eq!((ticked.published, ticked.held_again), (0, 1), "{ticked:?}");
    assert_eq!(sandbox_posts(&app).await, 1, "only the first went out");
    let waiting = review(&alice, &id).await;
    assert_eq!((waiting["state"].as_str(), waiting["approvals_required"].as_i64()), (Some("held"), Some(2)));
}

on_both_backends!(
    a_post_goes_out_only_on_approvals_the_steps_in_force_count,
    an_approval_racing_a_new_time_waits_for_the_new_time,
    no_late_posts_and_no_posts_of_a_revoked_token,
    a_scheduled_post_goes_out_at_its_time_as_its_author_once,
    a_held_post_with_a_time_waits_for_its_reviewer_and_never_goes_out_late,
    a_revoked_authors_waiting_posts_are_orphaned_and_a_reviewer_can_re_own_one,
    two_replicas_on_one_database_publish_each_due_post_exactly_once,
    a_claim_cut_short_is_marked_interrupted_and_never_retried
);
