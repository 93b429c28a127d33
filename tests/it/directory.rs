//! The directory gate: the allow-list, SCIM-linked sign-in, revocation by
//! every trigger (and its races), locks, training, the admin API and the
//! access review.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::scim::{scim_mode, ScimClient};
use crate::support::{Backend, TestApp};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const COURSE: &str = "hipaa-social-media";

/// A SCIM-mode app where alice is provisioned and in the staff group, and
/// carol in the admin group; returns alice's SCIM id and the group's.
async fn scim_app_with_alice(backend: Backend) -> (TestApp, ScimClient, String, String) {
    let mut token = String::new();
    let app = TestApp::spawn_with(backend, |c| token = scim_mode(c)).await;
    let scim = ScimClient::new(&app.base, &token);
    let alice = scim.provision("alice").await;
    let staff = scim.group("social-media-staff", &[&alice]).await;
    (app, scim, alice, staff)
}

fn with_course(config: &mut custodian::config::Config) {
    config.training.courses.push(custodian::directory::config::Course {
        id: COURSE.into(),
        renewal_months: 12,
        roles: vec![],
    });
}

/// Records a completion for `user` through the import the CLI and admin API use.
async fn train(app: &TestApp, user: &str, completed_on: &str, expires_on: Option<&str>) {
    let csv = format!(
        "user,course,completed_on,expires_on\n{user}@clinic.example,{COURSE},{completed_on},{}\n",
        expires_on.unwrap_or("")
    );
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "test".into(),
        meta: Default::default(),
    };
    app.state.directory().import_training(&csv, "test", &by).await.unwrap();
}

fn day(app: &TestApp, offset_days: i64) -> String {
    let now = custodian::clock::Clock::now(&app.clock).millis();
    custodian::directory::training::millis_date(now + offset_days * 86_400_000).to_string()
}

/// Signs in through the IdP and returns the callback's answer.
async fn attempt_sign_in(browser: &Browser, user: &str) -> reqwest::Response {
    let auth = browser.start_login().await;
    let callback = browser.idp_authorize(&auth, user).await;
    browser.finish_login(&callback).await
}

async fn me(browser: &Browser) -> (StatusCode, Value) {
    let r = browser.get("/api/v1/me").await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A user in no allow-listed group is refused at sign-in with a page that
/// says so and whom to ask; no session is made and the refusal is audited.
async fn not_allow_listed_users_are_refused_at_sign_in(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.directory.help_contact = "the IT service desk".into()).await;
    let browser = app.browser();
    let r = attempt_sign_in(&browser, "mallory").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains("You are not on the allow-list"), "{page}");
    assert!(page.contains("Ask the IT service desk for access"), "{page}");
    assert_eq!(app.count("sessions").await, 0);
    let last: Option<i64> =
        sqlx::query_scalar("SELECT last_login_at FROM users WHERE email = 'mallory@clinic.example'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(last, None, "a refused attempt is not a sign-in");
    let failed = app.events_of("auth.login").await;
    assert_eq!(failed.last().unwrap()["decision"], "denied");
    assert!(failed.last().unwrap()["kind"]["reason"]["directory_refused"]
        .as_str()
        .unwrap()
        .contains("allow-list"));
    // The allow-listed user gets in, with the roles her groups grant.
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (status, body) = me(&alice).await;
    assert_eq!(status, 200);
    assert_eq!(body["access"]["roles"], json!(["staff"]));
    assert_eq!(body["access"]["grants"], json!([{"group": "social-media-staff", "role": "staff"}]));
}

/// With the SCIM directory, a sign-in is linked to its provisioned user by
/// email; unprovisioned, group-less or deactivated users are refused.
async fn scim_directory_decides_who_signs_in(backend: Backend) {
    let mut token = String::new();
    let app = TestApp::spawn_with(backend, |c| token = scim_mode(c)).await;
    let scim = ScimClient::new(&app.base, &token);
    let refused = |page: String, words: &str| assert!(page.contains(words), "expected {words:?} in {page}");
    let r = attempt_sign_in(&app.browser(), "alice").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    refused(r.text().await.unwrap(), "You are not in Custodian's directory");
    let alice = scim.provision("alice").await;
    let r = attempt_sign_in(&app.browser(), "alice").await;
    refused(r.text().await.unwrap(), "not on the allow-list");
    // The OIDC groups claim says social-media-staff, but in SCIM mode the directory decides.
    let staff = scim.group("social-media-staff", &[&alice]).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let (status, body) = me(&browser).await;
    assert_eq!(status, 200);
    assert_eq!(body["access"]["directory_id"], alice.as_str());
    assert_eq!(body["user"]["directory_id"], alice.as_str());
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    assert_eq!(scim.patch(&format!("/Users/{alice}"), off).await.status, 200);
    let r = attempt_sign_in(&app.browser(), "alice").await;
    refused(r.text().await.unwrap(), "deactivated in the directory");
    let _ = staff;
}

/// A sign-in links to a directory entry only by a verified email, only
/// once the gate admits it, and never to an entry another identity holds.
async fn linking_needs_a_verified_email_and_a_passed_gate(backend: Backend) {
    let (app, scim, alice, _) = scim_app_with_alice(backend).await;
    let dir = app.state.directory();
    let identity = |sub: &str, verified: Option<bool>| custodian::identity::VerifiedIdentity {
        issuer: crate::support::issuer(),
        subject: sub.to_owned(),
        email: Some("alice@clinic.example".into()),
        email_verified: verified,
        name: None,
        groups: vec![],
        preferred_username: None,
        other_claims: Default::default(),
    };
    let now = custodian::clock::Clock::now(&app.clock);
    let refusal = |r: Result<_, custodian::directory::GateError>| match r {
        Err(custodian::directory::GateError::Denied(d)) => d.refusal.code(),
        Ok(_) => "admitted",
        Err(e) => panic!("{e}"),
    };
    // An attacker whose IdP lets them set any email, unverified: refused, nothing linked.
    let mallory = dir.users.upsert_from_sign_in(&identity("attacker", None), now).await.unwrap();
    assert_eq!(refusal(dir.admit_sign_in(&mallory, &identity("attacker", None)).await), "email_unverified");
    assert_eq!(
        refusal(dir.admit_sign_in(&mallory, &identity("attacker", Some(false))).await),
        "email_unverified"
    );
    // Deactivated: refused at the gate, and the link is not stored.
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    assert_eq!(scim.patch(&format!("/Users/{alice}"), off).await.status, 200);
    let real = dir.users.upsert_from_sign_in(&identity("alice", Some(true)), now).await.unwrap();
    assert_eq!(refusal(dir.admit_sign_in(&real, &identity("alice", Some(true))).await), "directory_inactive");
    assert!(dir.users.linked_to(&alice).await.unwrap().is_empty());
    let on = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    assert_eq!(scim.patch(&format!("/Users/{alice}"), on).await.status, 200);
    assert_eq!(refusal(dir.admit_sign_in(&real, &identity("alice", Some(true))).await), "admitted");
    // A second identity with the same verified email cannot take the entry over.
    let other = dir.users.upsert_from_sign_in(&identity("alice-2", Some(true)), now).await.unwrap();
    assert_eq!(
        refusal(dir.admit_sign_in(&other, &identity("alice-2", Some(true))).await),
        "directory_link_conflict"
    );
    assert_eq!(dir.users.linked_to(&alice).await.unwrap()[0].subject, "alice");
    // The operator's fix when the IdP re-created her under a new subject: unlink, audited.
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "cli:ops".into(),
        meta: Default::default(),
    };
    assert!(dir.unlink("nobody@clinic.example", &by).await.is_err());
    assert_eq!(dir.unlink("alice@clinic.example", &by).await.unwrap().subject, "alice");
    assert_eq!(refusal(dir.admit_sign_in(&other, &identity("alice-2", Some(true))).await), "admitted");
    let unlinked = app.events_of("directory.user.unlink").await;
    assert_eq!(unlinked[0]["kind"]["before"]["directory_id"], alice.as_str());
    assert!(unlinked[0]["kind"]["after"]["directory_id"].is_null());
}

/// Runs `trigger` while `workers` loops of the user's requests are in
/// flight. Returns how many requests started after the trigger returned
/// and succeeded (must be zero), how many started after it, and the time
/// from its return to the first refusal.
async fn race<F, Fut>(browser: Browser, trigger: F) -> (usize, usize, Duration)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let browser = Arc::new(browser);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (browser, stop) = (browser.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let started = Instant::now();
                let status = browser.get("/api/v1/me").await.status();
                seen.push((started, Instant::now(), status));
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    trigger().await;
    let returned = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut after = Vec::new();
    let mut before_ok = 0;
    for w in workers {
        for (started, ended, status) in w.await.unwrap() {
            if started >= returned {
                after.push((ended, status));
            } else if status == StatusCode::OK {
                before_ok += 1;
            }
        }
    }
    assert!(before_ok > 0, "requests succeeded before the revocation");
    let succeeded = after.iter().filter(|(_, s)| *s == StatusCode::OK).count();
    let first_refusal =
        after.iter().filter(|(_, s)| *s != StatusCode::OK).map(|(ended, _)| *ended).min().expect("refusals");
    (succeeded, after.len(), first_refusal - returned)
}

/// SCIM `active=false` while alice's requests are in flight: once the PATCH
/// has returned, no request of hers succeeds; her session has ended and the
/// revocation is audited with why and how many sessions ended.
async fn scim_deactivation_revokes_at_once_under_load(backend: Backend) {
    let (app, scim, alice, _) = scim_app_with_alice(backend).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let path = format!("/Users/{alice}");
    let off =
        json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (succeeded, after, latency) = race(browser, || async {
        let started = Instant::now();
        assert_eq!(scim.patch(&path, off).await.status, 200);
        eprintln!("SCIM PATCH active=false took {:?}", started.elapsed());
    })
    .await;
    eprintln!("revocation: {after} requests after the PATCH returned, first refused {latency:?} after it");
    assert_eq!(succeeded, 0, "no request that starts after the revoke returns succeeds");
    assert!(after > 0);
    assert_eq!(app.count("sessions").await, 0);
    let revoked = app.events_of("access.revoke").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["kind"]["trigger"], "scim_deactivated");
    assert_eq!(revoked[0]["kind"]["by"], "scim:idp");
    assert_eq!(revoked[0]["kind"]["sessions_ended"], 1);
    assert!(revoked[0]["kind"]["reason"].as_str().unwrap().contains("deactivated"));
}

/// Removal from the last allow-listed group and SCIM delete revoke the same
/// way; removal from one of two groups does not.
async fn group_removal_and_delete_revoke(backend: Backend) {
    let (app, scim, alice, staff) = scim_app_with_alice(backend).await;
    let reviewers = scim.group("compliance-reviewers", &[&alice]).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let remove = json!({"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": alice}]}]});
    assert_eq!(scim.patch(&format!("/Groups/{reviewers}"), remove.clone()).await.status, 204);
    let (status, me_now) = me(&browser).await;
    assert_eq!(status, 200, "still staff");
    assert_eq!(me_now["access"]["roles"], json!(["staff"]), "the reviewer role is gone at once");
    let (succeeded, _, _) = race(browser, || async {
        assert_eq!(scim.patch(&format!("/Groups/{staff}"), remove).await.status, 204);
    })
    .await;
    assert_eq!(succeeded, 0);
    let revoked = app.events_of("access.revoke").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["kind"]["trigger"], "group_removed");
    // Back in the group, signed in again; then deleted from the directory.
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": alice}]}]});
    assert_eq!(scim.patch(&format!("/Groups/{staff}"), add).await.status, 204);
    let again = app.browser();
    again.sign_in("alice").await;
    let (succeeded, _, _) = race(again, || async {
        assert_eq!(scim.delete(&format!("/Users/{alice}")).await.status, 204);
    })
    .await;
    assert_eq!(succeeded, 0);
    let revoked = app.events_of("access.revoke").await;
    assert_eq!(revoked.last().unwrap()["kind"]["trigger"], "scim_deleted");
    assert_eq!(app.count("sessions").await, 0);
}

/// An admin revokes through the API: the user's requests stop at once, the
/// revocation names who and why, and bad requests change nothing.
async fn admin_api_revokes_locks_and_lifts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (carol, _, _) = app.enrolled_browser("carol").await;
    // Staff cannot use the admin API; the attempt is recorded.
    let r = alice
        .send_json(
            Method::POST,
            "/api/v1/admin/users/carol@clinic.example/revoke",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.json::<Value>().await.unwrap();
    assert_eq!(
        (body["error"].clone(), body["rule"].clone()),
        (json!("forbidden"), json!("no-permit")),
        "{body}"
    );
    assert!(body["reason"].as_str().unwrap().contains("no policy allows you user.revoke"), "{body}");
    let refused = app.events_of("action.refused").await;
    assert_eq!(
        refused.last().unwrap()["kind"]["action"],
        "user.revoke",
        "policy decided, and it is recorded"
    );
    // Bad input: clear 4xx, nothing locked.
    for (body, status) in [
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({"reason": "  "}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"reason": "x", "extra": 1}), StatusCode::BAD_REQUEST),
    ] {
        let r = carol
            .send_json(Method::POST, "/api/v1/admin/users/alice@clinic.example/revoke", Some(body))
            .await;
        assert_eq!(r.status(), status);
    }
    let r = carol
        .send_json(
            Method::POST,
            "/api/v1/admin/locks",
            Some(json!({"scope": "planet", "target": "x", "reason": "y"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let past = json!({"scope": "user", "target": "alice@clinic.example", "reason": "y", "expires_at": "2001-01-01T00:00:00Z"});
    assert_eq!(carol.send_json(Method::POST, "/api/v1/admin/locks", Some(past)).await.status(), 422);
    assert_eq!(carol.send_json(Method::DELETE, "/api/v1/admin/locks/lck_nothing", None).await.status(), 404);
    let account = json!({"scope": "account", "target": "acct_1", "reason": "y"});
    let r = carol.send_json(Method::POST, "/api/v1/admin/locks", Some(account)).await;
    assert_eq!(r.status(), 404, "no such account: nothing is stored that would do nothing");
    assert_eq!(app.count("locks").await, 0);
    assert_eq!(me(&alice).await.0, 200);
    // The revoke.
    let (succeeded, _, _) = race(alice, || async {
        let r = carol
            .send_json(
                Method::POST,
                "/api/v1/admin/users/alice@clinic.example/revoke",
                Some(json!({"reason": "moved to the cafeteria"})),
            )
            .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!((body["users_affected"].clone(), body["sessions_ended"].clone()), (json!(1), json!(1)));
    })
    .await;
    assert_eq!(succeeded, 0);
    let carol_id = me(&carol).await.1["user"]["id"].as_str().unwrap().to_owned();
    let revoked = app.events_of("access.revoke").await;
    assert_eq!(revoked[0]["kind"]["reason"], "moved to the cafeteria");
    assert_eq!(revoked[0]["kind"]["by"], carol_id.as_str());
    assert_eq!(revoked[0]["kind"]["trigger"], "locked");
    let placed = app.events_of("lock.place").await;
    assert_eq!(placed[0]["kind"]["after"]["reason"], "moved to the cafeteria");
    assert_eq!(placed[0]["actor"]["user_id"], carol_id.as_str());
    // Signing in again is refused, naming the lock's reason.
    let r = attempt_sign_in(&app.browser(), "alice").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("moved to the cafeteria"));
    // Lifting the lock lets her back in; the lift is audited with before and after.
    let locks: Value = carol.get("/api/v1/admin/locks").await.json().await.unwrap();
    let id = locks["locks"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        carol.send_json(Method::DELETE, &format!("/api/v1/admin/locks/{id}"), None).await.status(),
        200
    );
    let lifted = app.events_of("lock.lift").await;
    assert!(lifted[0]["kind"]["before"]["lifted_at"].is_null());
    assert!(lifted[0]["kind"]["after"]["lifted_at"].is_string());
    let back = app.browser();
    back.sign_in("alice").await;
}

/// A time-boxed lock on a role shuts out those who hold only that role,
/// and ends by itself.
async fn role_locks_are_time_boxed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.session.idle_timeout = Duration::from_secs(3 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(3 * 3600);
    })
    .await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (erin, _, _) = app.enrolled_browser("erin").await;
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "cli:test".into(),
        meta: Default::default(),
    };
    let until = custodian::clock::Clock::now(&app.clock).plus(Duration::from_secs(600));
    let placed = app
        .state
        .directory()
        .place_lock(custodian::directory::Scope::Role, "staff", "incident 42", Some(until), &by)
        .await
        .unwrap();
    assert_eq!(placed.users_affected, 1, "alice holds only the staff role");
    assert_eq!(me(&alice).await.0, 401, "her sessions ended");
    let again = app.browser();
    let r = attempt_sign_in(&again, "alice").await;
    assert!(r.text().await.unwrap().contains("Your role (staff) is locked (incident 42)"));
    // erin is also a reviewer: her session goes on, without the staff role.
    let (status, body) = me(&erin).await;
    assert_eq!(status, 200);
    assert_eq!(body["access"]["roles"], json!(["reviewer"]));
    assert_eq!(app.events_of("access.revoke").await.len(), 1, "only alice's access ended");
    // (The IdP's tokens are minted on its own clock: stay within their hour.)
    app.clock.advance(Duration::from_secs(601));
    app.browser().sign_in("alice").await;
}

/// Training: a missing course refuses sign-in naming it; a course expiring
/// within 30 days warns in /api/v1/me; one that expires mid-session refuses
/// the next request with the course and the date.
async fn training_gates_access(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        with_course(c);
        c.session.idle_timeout = Duration::from_secs(3 * 24 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(3 * 24 * 3600);
    })
    .await;
    let r = attempt_sign_in(&app.browser(), "alice").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("no record of completing the required &quot;hipaa-social-media&quot;"));
    // An old completion that has lapsed is refused with its date.
    train(&app, "alice", &day(&app, -400), None).await;
    let lapsed = custodian::directory::training::parse_date(&day(&app, -400))
        .unwrap()
        .checked_add_months(chrono::Months::new(12))
        .unwrap()
        .to_string();
    let r = attempt_sign_in(&app.browser(), "alice").await;
    assert!(r.text().await.unwrap().contains(&format!("training expired on {lapsed}")));
    // Renewed, expiring the day after tomorrow: in, with a warning.
    let expires = day(&app, 2);
    train(&app, "alice", &day(&app, -10), Some(&expires)).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let (status, body) = me(&browser).await;
    assert_eq!(status, 200);
    assert_eq!(body["access"]["training"][0]["state"], "expiring");
    assert!(body["warnings"][0].as_str().unwrap().contains(&format!("expires on {expires}")));
    assert!(browser.get_text("/").await.contains(&format!("expires on {expires}")));
    // Mid-session expiry: the very next request is refused.
    app.clock.advance(Duration::from_secs(2 * 24 * 3600 + 60));
    let (status, body) = me(&browser).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "training_expired");
    assert!(body["reason"]
        .as_str()
        .unwrap()
        .contains(&format!("\"hipaa-social-media\" training expired on {expires}")));
    let denied = app.events_of("access.gate").await;
    assert_eq!(denied.last().unwrap()["kind"]["gate"], "training");
    // Signing out still works for a refused user.
    let r = browser.post_form("/auth/logout", &[("csrf", &browser.csrf())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("sessions").await, 0);
}

/// Training records through the admin API: one record, a CSV import, and a
/// CSV with bad rows that is rejected whole with each row's line.
async fn admin_api_training_and_access_review(backend: Backend) {
    let app = TestApp::spawn_with(backend, with_course).await;
    train(&app, "carol", &day(&app, -1), None).await;
    train(&app, "alice", &day(&app, -1), None).await;
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let _alice = app.enrolled_browser("alice").await;
    let one = json!({"user": "Bob@Clinic.example", "course": COURSE, "completed_on": day(&app, -3)});
    let r = carol.send_json(Method::POST, "/api/v1/admin/training", Some(one)).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["user"], "bob@clinic.example");
    let bad = json!({"user": "bob@clinic.example", "course": "fire-safety", "completed_on": "yesterday"});
    let r = carol.send_json(Method::POST, "/api/v1/admin/training", Some(bad)).await;
    assert_eq!(r.status(), 422);
    assert!(r.json::<Value>().await.unwrap()["reason"].as_str().unwrap().contains("fire-safety"));
    let before = app.count("training_records").await;
    let csv = format!(
        "user,course,completed_on\nerin@clinic.example,{COURSE},{}\ndave@clinic.example,{COURSE},not-a-date\n,{COURSE},{}\n",
        day(&app, -2),
        day(&app, -2)
    );
    let r = carol.post_csv("/api/v1/admin/training/import", csv).await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    assert!(body["errors"][0].as_str().unwrap().starts_with("line 3:"));
    assert!(body["errors"][1].as_str().unwrap().starts_with("line 4:"));
    assert_eq!(app.count("training_records").await, before, "nothing imported");
    let good = format!("user,course,completed_on\nerin@clinic.example,{COURSE},{}\n", day(&app, -2));
    let r = carol.post_csv("/api/v1/admin/training/import", good).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.count("training_records").await, before + 1);
    let imported = app.events_of("training.import").await;
    assert_eq!(imported.last().unwrap()["kind"]["after"]["count"], 1);
    // The access review: who, through which group and role, training, last sign-in.
    let review: Value = carol.get("/api/v1/admin/access-review").await.json().await.unwrap();
    let alice_row =
        review["users"].as_array().unwrap().iter().find(|u| u["email"] == "alice@clinic.example").unwrap();
    assert_eq!(alice_row["access"], "allowed");
    assert_eq!(alice_row["grants"], json!(["social-media-staff → staff"]));
    assert_eq!(alice_row["training"][0]["course"], COURSE);
    assert!(alice_row["last_sign_in"].is_string());
    let csv = carol.get("/api/v1/admin/access-review?format=csv").await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("user_id,email,name,directory_user,access,refusal,grants,roles"));
    assert!(text.contains("alice@clinic.example"));
    assert_eq!(app.events_of("access.review").await.len(), 2);
    assert_eq!(carol.get("/api/v1/admin/access-review?format=pdf").await.status(), 400);
}

on_both_backends!(
    not_allow_listed_users_are_refused_at_sign_in,
    linking_needs_a_verified_email_and_a_passed_gate,
    scim_directory_decides_who_signs_in,
    scim_deactivation_revokes_at_once_under_load,
    group_removal_and_delete_revoke,
    admin_api_revokes_locks_and_lifts,
    role_locks_are_time_boxed,
    training_gates_access,
    admin_api_training_and_access_review,
);

/// The command line: `training import` with bad rows rejects the file and
/// names each line; `users revoke` ends sessions; `access review` prints CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_import_revoke_and_review_from_the_command_line() {
    use crate::cli::{custodian, write_config};
    let app = TestApp::spawn_with(Backend::Sqlite, with_course).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[directory.roles]\nstaff = [\"social-media-staff\"]\nadmin = [\"it-admins\"]\n[[training.courses]]\nid = \"{COURSE}\"\n"
    );
    let config = write_config(dir.path(), "custodian.toml", &extra);
    let db_url = app.state.config.database_url();
    let key = app.state.config.keys.ring["k1"].expose().to_owned();
    let run = |args: &[&str]| {
        custodian()
            .args(args)
            .arg("--config")
            .arg(&config)
            .args(["--database", &db_url])
            .env("CUSTODIAN_KEYS__RING__K1", &key)
            .output()
            .unwrap()
    };
    let csv = dir.path().join("lms.csv");
    std::fs::write(
        &csv,
        format!(
            "user,course,completed_on\nalice@clinic.example,{COURSE},{}\nbob,{COURSE},2026-02-30\n",
            day(&app, -1)
        ),
    )
    .unwrap();
    let out = run(&["training", "import", csv.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3: completed_on \"2026-02-30\" is not a date"), "{stderr}");
    assert!(stderr.contains("nothing was imported"));
    assert_eq!(app.count("training_records").await, 0);
    std::fs::write(
        &csv,
        format!("user,course,completed_on\nalice@clinic.example,{COURSE},{}\n", day(&app, -1)),
    )
    .unwrap();
    let out = run(&["training", "import", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.count("training_records").await, 1);
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let out = run(&["access", "review", "--format", "csv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let review = String::from_utf8_lossy(&out.stdout);
    assert!(
        review.contains("alice@clinic.example") && review.contains("social-media-staff → staff"),
        "{review}"
    );
    let out = run(&["users", "revoke", "alice@clinic.example", "--reason", "left the team"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 session(s) ended"));
    assert_eq!(me(&alice).await.0, 401);
    let revoked = app.events_of("access.revoke").await;
    assert!(revoked[0]["kind"]["by"].as_str().unwrap().starts_with("cli:"));
    assert_eq!(revoked[0]["kind"]["reason"], "left the team");
}

/// The gate reads the user's and their roles' locks together and refuses
/// in a fixed order: the user locked, then not on the allow-list, then
/// every role locked.
async fn the_gate_names_a_user_lock_before_the_allow_list_and_role_locks(backend: Backend) {
    use custodian::directory::{GateError, GateRefusal, Lock, Scope};
    let app = TestApp::spawn(backend).await;
    let gate = &app.state.identity.directory;
    let now = custodian::clock::Clock::now(&app.clock);
    let lock = |scope: Scope, target: &str, reason: &str| Lock {
        id: format!("lock_{target}"),
        scope,
        target: target.into(),
        reason: reason.into(),
        created_by: "test".into(),
        created_at: now,
        expires_at: None,
        lifted_at: None,
        lifted_by: None,
    };
    let user = |id: &str, groups: &[&str]| custodian::identity::User {
        id: id.into(),
        issuer: "https://idp.test".into(),
        subject: id.into(),
        email: None,
        email_verified: false,
        name: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        directory_id: None,
        last_login_at: None,
    };
    let refusal = |r: Result<custodian::directory::Access, GateError>| match r {
        Err(GateError::Denied(d)) => d.refusal,
        other => panic!("expected a refusal, got {other:?}"),
    };
    gate.locks.insert(&lock(Scope::User, "u-locked", "left the team")).await.unwrap();
    gate.locks.insert(&lock(Scope::Role, "staff", "incident 7")).await.unwrap();

    let nobody = user("u-locked", &[]);
    assert!(
        matches!(refusal(gate.access(&nobody).await), GateRefusal::Locked { reason, .. } if reason == "left the team")
    );
    let staff = user("u-locked", &["social-media-staff"]);
    assert!(
        matches!(refusal(gate.access(&staff).await), GateRefusal::Locked { .. }),
        "the user lock comes first"
    );
    let unlisted = user("u-other", &["marketing"]);
    assert!(matches!(refusal(gate.access(&unlisted).await), GateRefusal::NotAllowListed));
    let other_staff = user("u-other", &["social-media-staff"]);
    assert!(
        matches!(refusal(gate.access(&other_staff).await), GateRefusal::RolesLocked { reason, .. } if reason == "incident 7")
    );
    // A reviewer is not touched by the staff lock.
    let reviewer = user("u-other", &["compliance-reviewers"]);
    assert_eq!(gate.access(&reviewer).await.unwrap().roles, vec![custodian::directory::Role::Reviewer]);
}

on_both_backends!(the_gate_names_a_user_lock_before_the_allow_list_and_role_locks);
