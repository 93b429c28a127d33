//! Access binds to a person's stable identity, never to what they can
//! change: a lock follows the person when their email changes at the IdP,
//! an unverified email finds no one and matches no training record, an
//! ended session says why, break-glass ends with the eligibility that
//! opened it, and an API token cannot manage its owner's other tokens.

use std::time::Duration;

use custodian::clock::Clock;
use custodian::domain::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

use crate::actions::call;
use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::{
    idp_forget, idp_person, idp_person_groups_in_id_token, idp_refresh_grants, unique_username, Backend,
    TestApp,
};
use crate::tokens::with_token;

on_both_backends!(
    a_lock_follows_the_person_when_their_email_changes,
    an_unverified_email_finds_no_one_and_matches_no_training,
    break_glass_ends_with_the_access_or_role_that_allowed_it,
    an_api_token_cannot_list_or_revoke_its_owners_other_tokens,
    a_token_owner_is_rechecked_at_the_idp_and_stops_with_their_account,
    a_pending_lock_binds_to_the_person_at_their_first_sign_in,
    groups_only_in_the_refreshed_id_token_count_at_the_owner_recheck,
    a_refreshed_id_token_naming_someone_else_refuses_the_owner,
    two_replicas_rechecking_one_owner_at_once_spend_the_refresh_token_once,
    a_lease_left_by_a_crashed_replica_lapses,
);

const STAFF: &str = "social-media-staff";
const ADMINS: &str = "it-admins";
const COURSE: &str = "hipaa-social-media";

async fn attempt_sign_in(browser: &Browser, user: &str) -> reqwest::Response {
    let auth = browser.start_login().await;
    let callback = browser.idp_authorize(&auth, user).await;
    browser.finish_login(&callback).await
}

async fn my_id(browser: &Browser) -> String {
    let (status, me) = call(browser, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200, "{me}");
    me["user"]["id"].as_str().unwrap().to_owned()
}

async fn a_lock_follows_the_person_when_their_email_changes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.directory.help_contact = "the privacy office".into()).await;
    let p = unique_username("pat");
    idp_person(&p, &format!("{p}@clinic.example"), true, &[STAFF]).await;
    let (pat, _, _) = app.enrolled_browser(&p).await;
    let pat_id = my_id(&pat).await;
    let (carol, _, _) = app.enrolled_browser("carol").await;

    // Revoked by the email the admin knows her by.
    let revoke = format!("/api/v1/admin/users/{p}@clinic.example/revoke");
    let (status, placed) =
        call(&carol, Method::POST, &revoke, Some(json!({"reason": "left the clinic"}))).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["users_affected"], 1);
    assert_eq!(placed["lock"]["target"], pat_id.as_str(), "the lock names the person, not the email");

    // Her old cookie is told why, and whom to ask: not just "not signed in".
    let (status, answer) = call(&pat, Method::GET, "/api/v1/me", None).await;
    assert_eq!((status, answer["error"].clone()), (401, json!("session_revoked")), "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.contains("left the clinic") && reason.contains("the privacy office"), "{reason}");
    let page = pat.get("/").await.text().await.unwrap();
    assert!(page.contains("left the clinic"), "the home page says why too: {page}");
    // A cookie that never named a session learns nothing.
    let stranger = app.browser();
    stranger.set_cookie("custodian_session", &"A".repeat(43));
    let (status, answer) = call(&stranger, Method::GET, "/api/v1/me", None).await;
    assert_eq!((status, answer["error"].clone()), (401, json!("not_signed_in")), "{answer}");

    // She changes her email at the IdP, unverified and then verified: still locked.
    for verified in [false, true] {
        idp_person(&p, &format!("pat.new.{verified}@clinic.example"), verified, &[STAFF]).await;
        let r = attempt_sign_in(&app.browser(), &p).await;
        assert_eq!(r.status(), 403, "verified: {verified}");
        let page = r.text().await.unwrap();
        assert!(page.contains("left the clinic"), "refused with the lock's reason: {page}");
    }
    assert_eq!(app.count("sessions").await, 1, "only carol's session exists");
}

async fn an_unverified_email_finds_no_one_and_matches_no_training(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.training.courses.push(custodian::directory::config::Course {
            id: COURSE.into(),
            renewal_months: 12,
            roles: vec![],
        })
    })
    .await;
    let victim = unique_username("vic");
    let email = format!("{victim}@clinic.example");
    idp_person(&victim, &email, true, &[STAFF]).await;
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "test".into(),
        meta: Default::default(),
    };
    let today = custodian::directory::training::millis_date(app.clock.now().millis());
    let csv = format!(
        "user,course,completed_on,expires_on\n{email},{COURSE},{today},\ncarol@clinic.example,{COURSE},{today},\n"
    );
    app.state.directory().import_training(&csv, "test", &by).await.unwrap();

    // Someone claims the victim's email, unverified: her training is not theirs.
    let mallory = unique_username("mal");
    idp_person(&mallory, &email.to_uppercase(), false, &[STAFF]).await;
    let r = attempt_sign_in(&app.browser(), &mallory).await;
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(page.contains("no record of completing the required"), "{page}");
    // The victim herself is admitted on her record.
    let (vic, _, _) = app.enrolled_browser(&victim).await;
    let victim_id = my_id(&vic).await;

    // Revoking "the victim's email" finds the victim only, never the claimant.
    let tagged = app.state.directory().find_users(&email).await.unwrap();
    assert_eq!(tagged.iter().map(|u| u.id.clone()).collect::<Vec<_>>(), vec![victim_id.clone()]);
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let revoke = format!("/api/v1/admin/users/{email}/revoke");
    let (status, placed) = call(&carol, Method::POST, &revoke, Some(json!({"reason": "audit"}))).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["lock"]["target"], victim_id.as_str());
}

/// A new person at the IdP in `groups`, signed in, enrolled, with break-glass opened.
async fn open_break_glass(app: &TestApp, who: &str, groups: &[&str]) -> (Browser, String) {
    idp_person(who, &format!("{who}@clinic.example"), true, groups).await;
    let (browser, secret, _) = app.enrolled_browser(who).await;
    let body = json!({
        "justification": "Storm: the cardiology team is offline and patients need the notice",
        "code": app.totp(&secret, 1),
    });
    let (status, opened) = call(&browser, Method::POST, "/api/v1/breakglass", Some(body)).await;
    assert_eq!(status, 201, "{opened}");
    (browser, opened["id"].as_str().unwrap().to_owned())
}

async fn publish(who: &Browser, account: &str) -> (u16, Value) {
    let path = format!("/api/v1/accounts/{account}/posts");
    call(who, Method::POST, &path, Some(json!({"text": "Clinic closed today"}))).await
}

async fn break_glass_ends_with_the_access_or_role_that_allowed_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.session.idle_timeout = Duration::from_secs(2 * 3600)).await;
    let (_, cardiology) = app.practice_accounts().await;
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "cli:test".into(),
        meta: Default::default(),
    };
    // An admin who is also staff opens break-glass; it lets her post anywhere.
    let dana = unique_username("dana");
    let (dana_browser, grant) = open_break_glass(&app, &dana, &[ADMINS, STAFF]).await;
    assert_eq!(publish(&dana_browser, &cardiology).await.0, 201);

    // The admin role is locked: she keeps her staff access, but not the grant.
    let until = app.clock.now().plus(Duration::from_secs(600));
    let role = custodian::directory::Scope::Role;
    app.state.directory().place_lock(role, "admin", "incident review", Some(until), &by).await.unwrap();
    let (status, refused) = publish(&dana_browser, &cardiology).await;
    assert_eq!((status, refused["rule"].clone()), (403, json!("no-permit")), "{refused}");
    let ended = app.events_of("breakglass.end").await;
    assert_eq!(ended.len(), 1, "the grant ended, on the record");
    assert_eq!(ended[0]["kind"]["grant_id"], grant.as_str());
    assert!(ended[0]["kind"]["reason"].as_str().unwrap().contains("no longer eligible"), "{:?}", ended[0]);

    // Another admin's grant ends the moment her access does.
    app.clock.advance(Duration::from_secs(601));
    let erin = unique_username("erin");
    let (_, grant) = open_break_glass(&app, &erin, &[ADMINS]).await;
    let placed =
        app.state.directory().revoke(&format!("{erin}@clinic.example"), "role change", &by).await.unwrap();
    assert_eq!(placed.users_affected, 1);
    let revoked = app.events_of("access.revoke").await;
    assert_eq!(revoked.last().unwrap()["kind"]["breakglass_ended"], 1, "{revoked:?}");
    let (ended_at,): (Option<i64>,) = sqlx::query_as("SELECT ended_at FROM breakglass WHERE id = $1")
        .bind(&grant)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(ended_at, Some(app.clock.now().millis()), "ended now, not at its expiry");
}

async fn an_api_token_cannot_list_or_revoke_its_owners_other_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (first, first_id) = crate::tokens::publishing_token(&alice, &clinic).await;
    let (_, second_id) = crate::tokens::publishing_token(&alice, &clinic).await;

    let (status, body) = with_token(&app, &first, Method::GET, "/api/v1/tokens", None).await;
    assert_eq!((status, body["error"].clone()), (403, json!("session_required")), "{body}");
    let path = format!("/api/v1/tokens/{second_id}");
    let (status, body) = with_token(&app, &first, Method::DELETE, &path, None).await;
    assert_eq!((status, body["error"].clone()), (403, json!("session_required")), "{body}");
    let refused: Vec<Value> = app.events_of("action.refused").await;
    let actions: Vec<&str> = refused.iter().filter_map(|e| e["kind"]["action"].as_str()).collect();
    assert_eq!(actions, ["token.list", "token.revoke"], "both refusals recorded");
    // The other token still works; a token may revoke itself.
    let (_, mine) = call(&alice, Method::GET, "/api/v1/tokens", None).await;
    assert!(mine["tokens"].as_array().unwrap().iter().all(|t| t["revoked_at"].is_null()), "{mine}");
    let (status, body) =
        with_token(&app, &first, Method::DELETE, &format!("/api/v1/tokens/{first_id}"), None).await;
    assert_eq!(status, 200, "{body}");
}

async fn a_token_owner_is_rechecked_at_the_idp_and_stops_with_their_account(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.session.idle_timeout = Duration::from_secs(3 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(3 * 3600);
    })
    .await;
    let (clinic, _) = app.practice_accounts().await;
    let quinn = unique_username("quinn");
    let email = format!("{quinn}@clinic.example");
    idp_person(&quinn, &email, true, &[STAFF]).await;
    let (browser, _, _) = app.enrolled_browser(&quinn).await;
    assert_eq!(app.count("idp_refresh").await, 1, "the sign-in's refresh token is kept, sealed");
    let (token, _) = crate::tokens::publishing_token(&browser, &clinic).await;
    let path = format!("/api/v1/accounts/{clinic}/posts");
    let post = |text: &str| with_token(&app, &token, Method::POST, &path, Some(json!({ "text": text })));
    let fifteen = Duration::from_secs(15 * 60 + 1);

    // Within the interval the IdP is not asked: a group change there waits for the re-check.
    idp_person(&quinn, &email, true, &["cafeteria"]).await;
    assert_eq!(post("one").await.0, 201);
    // Due: the IdP is asked, and the groups it gives now are what the gate sees.
    app.clock.advance(fifteen);
    let (status, body) = post("two").await;
    assert_eq!((status, body["error"].clone()), (403, json!("not_allow_listed")), "{body}");
    idp_person(&quinn, &email, true, &[STAFF]).await;
    app.clock.advance(fifteen);
    assert_eq!(post("three").await.0, 201, "back in the group at the IdP, back in");

    // Terminated at the IdP: at the next re-check the token, the session and the grant end, recorded.
    idp_forget(&quinn).await;
    app.clock.advance(fifteen);
    let (status, body) = post("four").await;
    assert_eq!((status, body["error"].clone()), (401, json!("token_invalid")), "{body}");
    let revoked = app.events_of("access.revoke").await;
    let last = revoked.last().unwrap();
    assert_eq!(last["kind"]["trigger"], "idp_refused", "{last}");
    assert_eq!(last["kind"]["tokens_revoked"], 1, "{last}");
    assert_eq!(last["kind"]["sessions_ended"], 1, "{last}");
    let (status, me) = call(&browser, Method::GET, "/api/v1/me", None).await;
    assert_eq!((status, me["error"].clone()), (401, json!("session_revoked")), "{me}");
    assert!(me["reason"].as_str().unwrap().contains("identity provider no longer accepts"), "{me}");
    assert_eq!(app.count("idp_refresh").await, 0, "nothing is kept of a person the IdP refused");
}

/// `custodian locks list` against the app's database, as an operator runs it.
fn locks_listed(app: &TestApp) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::cli::write_config(dir.path(), "custodian.toml", "");
    let out = crate::cli::custodian()
        .args(["locks", "list", "--config"])
        .arg(&config)
        .args(["--database", &app.state.config.database_url()])
        .env("CUSTODIAN_KEYS__RING__K1", app.state.config.keys.ring["k1"].expose())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn a_pending_lock_binds_to_the_person_at_their_first_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = unique_username("pia");
    let email = format!("{p}@clinic.example");
    // Revoked by email before Custodian has seen anyone with it: pending.
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "cli:test".into(),
        meta: Default::default(),
    };
    let placed = app.state.directory().revoke(&email, "not to be re-hired", &by).await.unwrap();
    assert!(placed.pending);
    assert_eq!(placed.lock.target, email);
    assert!(locks_listed(&app).contains(&format!("user {email} (pending")), "{}", locks_listed(&app));

    // She signs in with that email, verified by the IdP: refused, and the lock now names her.
    idp_person(&p, &email, true, &[STAFF]).await;
    let r = attempt_sign_in(&app.browser(), &p).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("not to be re-hired"));
    let users = app.state.identity.users.all().await.unwrap();
    let pia = users.iter().find(|u| u.subject == p).unwrap().id.clone();
    let bound = app.events_of("lock.bind").await;
    assert_eq!(bound.len(), 1, "{bound:?}");
    assert_eq!(bound[0]["kind"]["before"]["target"], email.as_str());
    assert_eq!(bound[0]["kind"]["after"]["target"], pia.as_str());
    assert_eq!(bound[0]["kind"]["after"]["id"], placed.lock.id.as_str());

    // A new email at the IdP, verified: still refused, with the lock's reason.
    let new_email = format!("{p}.new@clinic.example");
    idp_person(&p, &new_email, true, &[STAFF]).await;
    let r = attempt_sign_in(&app.browser(), &p).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("not to be re-hired"), "refused by the bound lock");
    assert_eq!(app.events_of("lock.bind").await.len(), 1, "bound once");

    // The admin API and the command line show the person, not only an id.
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let (status, listed) = call(&carol, Method::GET, "/api/v1/admin/locks", None).await;
    assert_eq!(status, 200, "{listed}");
    let lock = &listed["locks"][0];
    assert_eq!(lock["target"], pia.as_str(), "{lock}");
    assert_eq!(lock["pending"], false, "{lock}");
    assert_eq!(lock["person"]["email"], new_email.as_str(), "{lock}");
    assert_eq!(lock["person"]["user_ids"], json!([pia]), "{lock}");
    let printed = locks_listed(&app);
    let line = printed.lines().find(|l| l.starts_with(placed.lock.id.as_str())).unwrap();
    assert!(line.contains(&format!("user {p} <{new_email}> (user {pia})")), "{printed}");
    assert!(line.contains("\"not to be re-hired\"") && line.contains("by cli:test"), "{printed}");
}

/// An app whose sessions outlive a few owner re-checks (15 minutes apart).
async fn app_for_rechecks(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.session.idle_timeout = Duration::from_secs(3 * 3600);
        c.session.absolute_lifetime = Duration::from_secs(3 * 3600);
    })
    .await
}

const RECHECK_DUE: Duration = Duration::from_secs(15 * 60 + 1);

async fn groups_only_in_the_refreshed_id_token_count_at_the_owner_recheck(backend: Backend) {
    let app = app_for_rechecks(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    // As Entra ID does: the groups claim in the ID token, none in userinfo.
    let rae = unique_username("rae");
    let email = format!("{rae}@clinic.example");
    idp_person_groups_in_id_token(&rae, &email, &[STAFF]).await;
    let (browser, _, _) = app.enrolled_browser(&rae).await;
    let rae_id = my_id(&browser).await;
    let (token, _) = crate::tokens::publishing_token(&browser, &clinic).await;
    let path = format!("/api/v1/accounts/{clinic}/posts");
    let post = |text: &str| with_token(&app, &token, Method::POST, &path, Some(json!({ "text": text })));
    assert_eq!(post("one").await.0, 201);

    // No longer staff at the IdP, which says so in the refreshed ID token only.
    idp_person_groups_in_id_token(&rae, &email, &["cafeteria"]).await;
    app.clock.advance(RECHECK_DUE);
    let (status, body) = post("two").await;
    assert_eq!((status, body["error"].clone()), (403, json!("not_allow_listed")), "{body}");
    let refused = app.events_of("access.gate").await;
    let last = refused.last().unwrap();
    assert_eq!(
        (last["kind"]["gate"].clone(), last["actor"]["user_id"].clone()),
        (json!("allow_list"), json!(rae_id))
    );
    // Staff again: back in at the next re-check.
    idp_person_groups_in_id_token(&rae, &email, &[STAFF]).await;
    app.clock.advance(RECHECK_DUE);
    assert_eq!(post("three").await.0, 201);
}

async fn a_refreshed_id_token_naming_someone_else_refuses_the_owner(backend: Backend) {
    let app = app_for_rechecks(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    let (owner, other) = (unique_username("oona"), unique_username("otto"));
    for who in [&owner, &other] {
        idp_person(who, &format!("{who}@clinic.example"), true, &[STAFF]).await;
    }
    let (browser, _, _) = app.enrolled_browser(&owner).await;
    let owner_id = my_id(&browser).await;
    let (other_browser, _, _) = app.enrolled_browser(&other).await;
    let other_id = my_id(&other_browser).await;
    let (token, _) = crate::tokens::publishing_token(&browser, &clinic).await;

    // The grant kept for the owner is someone else's: the IdP's answer names them.
    let (sealed,): (String,) = sqlx::query_as("SELECT refresh_sealed FROM idp_refresh WHERE user_id = $1")
        .bind(&other_id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let context = custodian::vault::sealed::idp_refresh(&other_id);
    let refresh = String::from_utf8(app.state.keys.open(&sealed, &context).unwrap().to_vec()).unwrap();
    let recheck = app.state.identity.owner_recheck();
    recheck.remember(&owner_id, Some(&custodian::secret::Secret::new(refresh))).await.unwrap();

    app.clock.advance(RECHECK_DUE);
    let path = format!("/api/v1/accounts/{clinic}/posts");
    let (status, body) = with_token(&app, &token, Method::POST, &path, Some(json!({"text": "hi"}))).await;
    assert_eq!((status, body["error"].clone()), (401, json!("token_invalid")), "{body}");
    let revoked = app.events_of("access.revoke").await;
    let last = revoked.last().unwrap();
    assert_eq!(
        (last["kind"]["trigger"].clone(), last["actor"]["user_id"].clone()),
        (json!("idp_refused"), json!(owner_id))
    );
    let reason = last["kind"]["reason"].as_str().unwrap();
    assert!(reason.contains("refreshed ID token names another subject"), "{last}");
    assert_eq!(last["kind"]["tokens_revoked"], 1, "{last}");
}

/// Publishes on `account` with `token` through the Custodian at `base`; the status.
async fn post_at(base: &str, token: &str, account: &str, text: &str) -> u16 {
    let url = format!("{base}/api/v1/accounts/{account}/posts");
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// A person at the IdP, signed in at `app` (whose sign-in left a refresh
/// token), with a publishing token on the clinic account.
async fn token_owner(app: &TestApp, prefix: &str) -> (String, String, AccountId) {
    let (clinic, _) = app.practice_accounts().await;
    let who = unique_username(prefix);
    idp_person(&who, &format!("{who}@clinic.example"), true, &[STAFF]).await;
    let (browser, _, _) = app.enrolled_browser(&who).await;
    let (token, _) = crate::tokens::publishing_token(&browser, &clinic).await;
    (who, token, clinic)
}

async fn two_replicas_rechecking_one_owner_at_once_spend_the_refresh_token_once(backend: Backend) {
    let app = app_for_rechecks(backend).await;
    let replica = app.replica().await;
    let (who, token, clinic) = token_owner(&app, "rhea").await;
    assert_eq!(idp_refresh_grants(&who).await, (0, 0));
    // The IdP takes a moment to answer: both requests are under way while it does.
    crate::support::idp_person_slow_to_refresh(&who, &[STAFF], Duration::from_millis(300)).await;

    // Due, and used through both replicas at once. The IdP rotates refresh
    // tokens and takes a used one presented again for theft (the grant ends).
    app.clock.advance(RECHECK_DUE);
    let (a, b) = tokio::join!(
        post_at(&app.base, &token, &clinic, "from one replica"),
        post_at(&replica.base, &token, &clinic, "from the other")
    );
    assert_eq!((a, b), (201, 201));
    assert_eq!(idp_refresh_grants(&who).await, (1, 0), "one refresh grant, none refused as reuse");

    // The rotated token was kept: the next re-check, through the other replica, spends it.
    app.clock.advance(RECHECK_DUE);
    assert_eq!(post_at(&replica.base, &token, &clinic, "later").await, 201);
    assert_eq!(idp_refresh_grants(&who).await, (2, 0));
    assert!(app.events_of("access.revoke").await.is_empty());
}

async fn a_lease_left_by_a_crashed_replica_lapses(backend: Backend) {
    let app = app_for_rechecks(backend).await;
    let (who, token, clinic) = token_owner(&app, "remy").await;
    app.clock.advance(RECHECK_DUE);
    // A replica took the lease for this re-check, then died before answering.
    let until = app.clock.now().plus(Duration::from_secs(60)).millis();
    sqlx::query("UPDATE idp_refresh SET lease_holder = 'crashed', lease_until = $1")
        .bind(until)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    // While it holds the lease, nobody else asks the IdP; within the grace the token works.
    assert_eq!(post_at(&app.base, &token, &clinic, "pending").await, 201);
    assert_eq!(idp_refresh_grants(&who).await, (0, 0));
    // Once it lapses, the next use asks the IdP.
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(post_at(&app.base, &token, &clinic, "after").await, 201);
    assert_eq!(idp_refresh_grants(&who).await, (1, 0));
}
