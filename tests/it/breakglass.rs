//! Break-glass: an admin opens time-boxed emergency access with a written
//! justification and a fresh TOTP code; actions under it are allowed on
//! any account and flagged in the journal; it expires on time, per the
//! Clock; refusals are recorded and open nothing; the webhook hears of each
//! use (a failed delivery is recorded); another admin acknowledges the use,
//! and until then the access review lists it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use custodian::clock::Clock;
use custodian::directory::Role;
use custodian::domain::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

use crate::actions::call;
use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::{Backend, TestApp};

on_both_backends!(
    break_glass_opens_flags_every_action_and_expires_on_time_per_the_clock,
    each_refusal_is_clear_recorded_and_opens_nothing,
    the_webhook_hears_of_each_use_and_a_failed_delivery_is_recorded,
    another_admin_acknowledges_and_until_then_the_review_lists_the_use,
);

const JUSTIFICATION: &str =
    "Hurricane warning: the cardiology team is offline and patients need the closure notice";
const OPEN: &str = "/api/v1/breakglass";

/// An app with two practice accounts: `clinic` (tag `official`, alice's
/// group's) and `cardiology` (a tag no test user's group grants). Sessions
/// stay idle for up to two hours, so the clock can pass a grant's hour.
async fn app(
    backend: Backend,
    adjust: impl FnOnce(&mut custodian::config::Config),
) -> (TestApp, AccountId, AccountId) {
    let app = TestApp::spawn_with(backend, |c| {
        c.session.idle_timeout = Duration::from_secs(2 * 3600);
        adjust(c);
    })
    .await;
    let (clinic, cardiology) = app.practice_accounts().await;
    (app, clinic, cardiology)
}

async fn publish(who: &Browser, account: &str, text: &str) -> (u16, Value) {
    call(who, Method::POST, &format!("/api/v1/accounts/{account}/posts"), Some(json!({ "text": text }))).await
}

async fn open(who: &Browser, body: Value) -> (u16, Value) {
    call(who, Method::POST, OPEN, Some(body)).await
}

async fn sandbox_posts(app: &TestApp) -> i64 {
    app.count("sandbox_posts").await
}

/// The rules of the recorded refusals of `action`, in order.
async fn refusal_rules(app: &TestApp, action: &str) -> Vec<Value> {
    let refused = app.events_of("action.refused").await;
    refused.iter().filter(|e| e["kind"]["action"] == action).map(|e| e["kind"]["rule"].clone()).collect()
}

/// The journal as one text, to look for what must never be in it.
async fn journal_text(app: &TestApp) -> String {
    serde_json::to_string(&app.events().await).unwrap()
}

async fn break_glass_opens_flags_every_action_and_expires_on_time_per_the_clock(backend: Backend) {
    let (app, _, cardiology) = app(backend, |_| {}).await;
    let (carol, secret, _) = app.enrolled_browser("carol").await;

    // Before: carol's groups grant no account tag, so policy refuses her.
    let (status, body) = publish(&carol, &cardiology, "Clinic closed today").await;
    assert_eq!((status, body["rule"].clone()), (403, json!("no-permit")), "{body}");
    let (_, mine) = call(&carol, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(mine["accounts"], json!([]));
    let explain = |extra: &[&str]| {
        let args = ["policy", "explain", "--user", "carol@clinic.example", "--action", "post.publish"];
        command_line(&app, &[&args[..], &["--account", &cardiology], extra].concat())
    };
    let plain = explain(&[]);
    assert!(plain.starts_with("DENY") && !plain.contains("gate"), "policy decides, not the gate: {plain}");
    let under = explain(&["--break-glass"]);
    assert!(under.starts_with("ALLOW") && under.contains("break-glass-acts-on-any-account"), "{under}");

    // Open: a justification and the next TOTP step's code (the enrollment's step was used).
    let code = app.totp(&secret, 1);
    let opened_at = app.clock.now();
    let (status, opened) =
        call(&carol, Method::POST, OPEN, Some(json!({"justification": JUSTIFICATION, "code": code}))).await;
    assert_eq!(status, 201, "{opened}");
    let grant = opened["id"].as_str().unwrap().to_owned();
    let expires_at = opened_at.plus(Duration::from_secs(3600));
    assert_eq!(opened["expires_at"], expires_at.rfc3339(), "60 minutes by default");
    let open_events = app.events_of("breakglass.open").await;
    assert_eq!(open_events.len(), 1);
    let open_event = &open_events[0];
    assert_eq!(opened["audit_event_id"], open_event["event_id"]);
    assert_eq!(open_event["kind"]["grant_id"], grant.as_str());
    assert_eq!(open_event["kind"]["justification"], JUSTIFICATION);
    assert_eq!(open_event["kind"]["expires_at"], expires_at.rfc3339());
    assert_eq!(open_event["kind"]["policies"], json!(["admins-may-break-glass"]));
    assert_eq!(open_event["actor"]["mfa_method"], "totp", "the fresh factor is on the record");
    let (stored_event,): (String,) = sqlx::query_as("SELECT audit_event_id FROM breakglass WHERE id = $1")
        .bind(&grant)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(stored_event, open_event["event_id"].as_str().unwrap(), "the grant names its recorded event");
    assert!(!journal_text(&app).await.contains(&format!("\"{code}\"")), "the code is in no event");

    // Under break-glass: allowed on any account, every event flagged with the grant.
    let (_, mine) = call(&carol, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(
        mine["accounts"].as_array().unwrap().len(),
        2,
        "every account, while the grant is open: {mine}"
    );
    let (status, created) = publish(&carol, &cardiology, "Clinic closed today").await;
    assert_eq!(status, 201, "{created}");
    let intent = &app.events_of("action.intent").await[0];
    assert_eq!(created["audit_event_id"], intent["event_id"]);
    assert_eq!(intent["kind"]["break_glass"], grant.as_str());
    assert_eq!(intent["kind"]["policies"], json!(["break-glass-acts-on-any-account"]));
    let outcome = &app.events_of("action.outcome").await[0];
    assert_eq!(
        (outcome["kind"]["ok"].clone(), outcome["kind"]["break_glass"].clone()),
        (json!(true), json!(grant))
    );

    // One second before the hour is up: still open.
    app.clock.advance(Duration::from_secs(3600 - 1));
    let (status, body) = publish(&carol, &cardiology, "Reopening tomorrow").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.events_of("action.intent").await[1]["kind"]["break_glass"], grant.as_str());

    // On the hour: expired. The same action is refused again, unflagged.
    app.clock.advance(Duration::from_secs(1));
    let (status, body) = publish(&carol, &cardiology, "One more").await;
    assert_eq!((status, body["rule"].clone()), (403, json!("no-permit")), "{body}");
    let refused = app.events_of("action.refused").await;
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|e| e["kind"].get("break_glass").is_none()), "no flag outside the grant");
    assert_eq!(sandbox_posts(&app).await, 2, "only the two posts made under the grant");
    let (_, mine) = call(&carol, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(mine["accounts"], json!([]));
    let (status, listed) = call(&carol, Method::GET, "/api/v1/admin/breakglass", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["breakglass"][0]["state"], "expired");
    assert_eq!(listed["breakglass"][0]["ended_at"], expires_at.rfc3339());
}

async fn each_refusal_is_clear_recorded_and_opens_nothing(backend: Backend) {
    let (app, clinic, _) = app(backend, |_| {}).await;
    let (carol, secret, codes) = app.enrolled_browser("carol").await;
    let (alice, alice_secret, _) = app.enrolled_browser("alice").await;
    let (status, _) = publish(&alice, &clinic, "Flu shots on Saturday").await;
    assert_eq!(status, 201);
    let posts = sandbox_posts(&app).await;
    let refused = |status: u16, body: &Value| (status, body["error"].clone(), body["rule"].clone());

    // A staff user: no policy allows her breakglass.use.
    let (status, body) =
        open(&alice, json!({"justification": JUSTIFICATION, "code": app.totp(&alice_secret, 1)})).await;
    assert_eq!(refused(status, &body), (403, json!("forbidden"), json!("no-permit")), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("breakglass.use"));
    // No justification, a short one, one without words, malformed requests.
    let code = app.totp(&secret, 1);
    for justification in [json!(null), json!("urgent!"), json!("x".repeat(40)), json!("   ")] {
        let (status, body) = open(&carol, json!({"justification": justification, "code": code})).await;
        assert_eq!(refused(status, &body), (422, json!("invalid"), json!("justification")), "{body}");
        assert!(body["remedy"].is_string());
    }
    let (status, body) = open(&carol, json!({"justification": JUSTIFICATION})).await;
    assert_eq!(refused(status, &body), (400, json!("invalid_code"), json!("second-factor")), "{body}");
    let (status, body) = open(&carol, json!({"justification": JUSTIFICATION, "code": codes[0]})).await;
    assert_eq!(status, 400, "a recovery code is not a fresh TOTP code: {body}");
    let (status, body) =
        open(&carol, json!({"justification": JUSTIFICATION, "code": code, "for": "ever"})).await;
    assert_eq!(refused(status, &body), (400, json!("bad_request"), json!("request")), "{body}");
    // A live code sent as a number: refused without repeating it, in the
    // answer or in the journal (serde quotes a value of the wrong type).
    let number: u64 = code.parse().unwrap();
    let (status, body) = open(&carol, json!({"justification": JUSTIFICATION, "code": number})).await;
    assert_eq!(refused(status, &body), (400, json!("bad_request"), json!("request")), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("code: invalid type"), "{body}");
    assert!(!body.to_string().contains(&number.to_string()), "the code comes back: {body}");
    assert!(!journal_text(&app).await.contains(&number.to_string()), "the code is in the journal");
    // A wrong code, then the code enrollment already used: refused, and counted as failures.
    let (status, body) =
        open(&carol, json!({"justification": JUSTIFICATION, "code": app.totp(&secret, 5)})).await;
    assert_eq!(refused(status, &body), (400, json!("invalid_code"), json!("second-factor")), "{body}");
    let (status, body) =
        open(&carol, json!({"justification": JUSTIFICATION, "code": app.totp(&secret, 0)})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("already used"), "{body}");
    let mfa_failures = app.events_of("auth.mfa.verify").await;
    assert_eq!(mfa_failures.iter().filter(|e| e["decision"] == "denied").count(), 2);
    assert_eq!(app.count("breakglass").await, 0, "nothing opened");

    // The right code opens; a second request while it is open is a conflict naming its expiry.
    let (status, opened) = open(&carol, json!({"justification": JUSTIFICATION, "code": code})).await;
    assert_eq!(status, 201, "{opened}");
    let (status, body) = open(&carol, json!({"justification": JUSTIFICATION, "code": code})).await;
    assert_eq!(refused(status, &body), (409, json!("breakglass_open"), json!("one-grant-at-a-time")));
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.contains(opened["expires_at"].as_str().unwrap())
            && reason.contains(opened["id"].as_str().unwrap())
    );
    assert_eq!(app.count("breakglass").await, 1);

    let rules = refusal_rules(&app, "breakglass.use").await;
    assert_eq!(
        rules,
        [
            "no-permit",
            "justification",
            "justification",
            "justification",
            "justification",
            "second-factor",
            "second-factor",
            "request",
            "request",
            "second-factor",
            "second-factor",
            "one-grant-at-a-time"
        ]
        .map(|r| json!(r)),
        "every refusal is recorded"
    );
    let conflict = app.events_of("action.refused").await.pop().unwrap();
    assert_eq!(conflict["kind"]["break_glass"], opened["id"], "refused while the grant is open: flagged");
    assert_eq!(sandbox_posts(&app).await, posts, "the platform is untouched");

    // Ended early by its user: recorded, and there is nothing left to end.
    let (status, ended) = call(&carol, Method::DELETE, OPEN, None).await;
    assert_eq!((status, ended["state"].clone()), (200, json!("ended")), "{ended}");
    assert_eq!(app.events_of("breakglass.end").await[0]["kind"]["grant_id"], opened["id"]);
    let (status, body) = call(&carol, Method::DELETE, OPEN, None).await;
    assert_eq!((status, body["rule"].clone()), (404, json!("no-open-grant")), "{body}");

    // The journal cannot be written: refused, and no grant without its record.
    app.clock.advance(Duration::from_secs(30));
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let (status, body) =
        open(&carol, json!({"justification": JUSTIFICATION, "code": app.totp(&secret, 1)})).await;
    assert_eq!((status, body["error"].clone()), (503, json!("audit_unavailable")), "{body}");
    assert_eq!(app.count("breakglass").await, 1, "no grant exists that its record does not");
}

/// A webhook receiver on loopback: keeps each body, answers `status`.
#[derive(Clone)]
pub(crate) struct Receiver {
    status: StatusCode,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    pub(crate) async fn start(status: StatusCode) -> (Receiver, url::Url) {
        let receiver = Receiver { status, bodies: Arc::default() };
        let router = Router::new()
            .route(
                "/hook",
                post(|State(r): State<Receiver>, Json(body): Json<Value>| async move {
                    r.bodies.lock().unwrap().push(body);
                    r.status
                }),
            )
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap()).parse().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (receiver, url)
    }

    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Carol opens break-glass on an app whose webhook answers `status`.
async fn opened_with_webhook(backend: Backend, status: StatusCode) -> (TestApp, Receiver, Value, String) {
    let (receiver, url) = Receiver::start(status).await;
    let (app, _, _) = app(backend, |c| {
        c.breakglass.notify_url = Some(url);
        c.breakglass.notify_attempts = 2;
    })
    .await;
    let (carol, secret, _) = app.enrolled_browser("carol").await;
    let code = app.totp(&secret, 1);
    let (status, opened) =
        call(&carol, Method::POST, OPEN, Some(json!({"justification": JUSTIFICATION, "code": code}))).await;
    assert_eq!(status, 201, "opening does not wait for the webhook: {opened}");
    app.state.breakglass.notifications_settled().await;
    (app, receiver, opened, code)
}

async fn the_webhook_hears_of_each_use_and_a_failed_delivery_is_recorded(backend: Backend) {
    let (app, receiver, opened, code) = opened_with_webhook(backend, StatusCode::NO_CONTENT).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "delivered at the first attempt");
    let note = &bodies[0];
    assert_eq!(note["event"], "breakglass.open");
    assert_eq!(note["grant_id"], opened["id"]);
    assert_eq!(note["email"], "carol@clinic.example");
    assert_eq!(note["justification"], JUSTIFICATION);
    assert_eq!(note["expires_at"], opened["expires_at"]);
    assert_eq!(note["audit_event_id"], opened["audit_event_id"]);
    let user = app.state.identity.users.find("carol@clinic.example").await.unwrap().unwrap();
    assert_eq!(note["user_id"], user.id);
    assert!(!note.to_string().contains(&format!("\"{code}\"")), "no code in the notification");
    assert!(app.events_of("breakglass.notify.failed").await.is_empty());

    let (app, receiver, opened, _) = opened_with_webhook(backend, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(receiver.bodies().len(), 2, "both configured attempts were made");
    let failed = app.events_of("breakglass.notify.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["kind"]["grant_id"], opened["id"]);
    assert_eq!(failed[0]["kind"]["attempts"], 2);
    assert_eq!(failed[0]["kind"]["reason"], "the receiver answered HTTP 500");
    assert_eq!(failed[0]["decision"], "denied");
    let (state,): (Option<i64>,) =
        sqlx::query_as("SELECT ended_at FROM breakglass").fetch_one(app.state.db.pool()).await.unwrap();
    assert_eq!(state, None, "a failed notification does not end the grant");
}

async fn another_admin_acknowledges_and_until_then_the_review_lists_the_use(backend: Backend) {
    // dave's group grants the admin role too here: a second admin to review carol's use.
    let (app, _, _) = app(backend, |c| {
        c.directory.roles.entry(Role::Admin).or_default().push("security-auditors".into());
    })
    .await;
    let (carol, secret, _) = app.enrolled_browser("carol").await;
    let (dave, _, _) = app.enrolled_browser("dave").await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (_, opened) = call(
        &carol,
        Method::POST,
        OPEN,
        Some(json!({"justification": JUSTIFICATION, "code": app.totp(&secret, 1)})),
    )
    .await;
    let grant = opened["id"].as_str().unwrap().to_owned();
    let acknowledge = format!("/api/v1/admin/breakglass/{grant}/acknowledge");
    let note = json!({"note": "Reviewed the two posts made; both were the closure notice."});

    // Listing: admins only.
    for query in ["", "?open=true", "?unacknowledged=true"] {
        let (status, listed) =
            call(&dave, Method::GET, &format!("/api/v1/admin/breakglass{query}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(listed["breakglass"][0]["id"], grant.as_str(), "{query}: {listed}");
        assert_eq!(listed["breakglass"][0]["state"], "open");
    }
    let (status, body) = call(&alice, Method::GET, "/api/v1/admin/breakglass", None).await;
    assert_eq!((status, body["rule"].clone()), (403, json!("no-permit")), "{body}");

    // Not while it is open; not by its own user; not without a note; not an unknown use.
    let (status, body) = call(&dave, Method::POST, &acknowledge, Some(note.clone())).await;
    assert_eq!((status, body["error"].clone()), (409, json!("still_open")), "{body}");
    let (status, _) = call(&carol, Method::DELETE, OPEN, None).await;
    assert_eq!(status, 200);
    let (status, body) = call(&carol, Method::POST, &acknowledge, Some(note.clone())).await;
    assert_eq!((status, body["rule"].clone()), (403, json!("not-your-own-use")), "{body}");
    let (status, body) = call(&dave, Method::POST, &acknowledge, Some(json!({"note": "  "}))).await;
    assert_eq!((status, body["rule"].clone()), (422, json!("acknowledgement-note")), "{body}");
    let (status, body) =
        call(&dave, Method::POST, "/api/v1/admin/breakglass/bg_nope/acknowledge", Some(note.clone())).await;
    assert_eq!((status, body["rule"].clone()), (404, json!("unknown-grant")), "{body}");
    let (status, _) = call(&alice, Method::POST, &acknowledge, Some(note.clone())).await;
    assert_eq!(status, 403);
    let rules = refusal_rules(&app, "breakglass.acknowledge").await;
    assert_eq!(
        rules,
        ["acknowledge-after-it-ends", "not-your-own-use", "acknowledgement-note", "unknown-grant"]
            .map(|r| json!(r))
    );
    assert!(app.events_of("breakglass.acknowledge").await.is_empty());

    // Until acknowledged, the access review lists it: the API (JSON and CSV) and the command line.
    let (status, review) = call(&dave, Method::GET, "/api/v1/admin/access-review", None).await;
    assert_eq!(status, 200);
    assert!(review["users"].as_array().unwrap().iter().any(|u| u["email"] == "carol@clinic.example"));
    assert_eq!(review["breakglass"].as_array().unwrap().len(), 1);
    assert_eq!(review["breakglass"][0]["id"], grant.as_str());
    assert_eq!(review["breakglass"][0]["justification"], JUSTIFICATION);
    let csv = dave.get("/api/v1/admin/access-review?format=csv").await.text().await.unwrap();
    assert!(csv.starts_with("user_id,email,name,directory_user,access,refusal,grants,roles"), "{csv}");
    let section = csv.split("\r\n\r\n").nth(1).expect("a break-glass section after the users");
    assert!(section
        .starts_with("breakglass_id,user_id,email,justification,opened_at,expires_at,ended_at,state\r\n"));
    assert!(
        section.contains(&grant) && section.contains("carol@clinic.example") && section.contains(",ended"),
        "{section}"
    );
    let cli = review_from_the_command_line(&app, "csv");
    assert!(cli.contains("breakglass_id,user_id") && cli.contains(&grant), "{cli}");
    let cli: Value = serde_json::from_str(&review_from_the_command_line(&app, "json")).unwrap();
    assert_eq!(cli["breakglass"][0]["id"], grant.as_str());
    assert!(!cli["users"].as_array().unwrap().is_empty());

    // Another admin acknowledges it, once.
    let (status, acked) = call(&dave, Method::POST, &acknowledge, Some(note.clone())).await;
    assert_eq!(status, 200, "{acked}");
    let dave_id = app.state.identity.users.find("dave@clinic.example").await.unwrap().unwrap().id;
    let carol_id = app.state.identity.users.find("carol@clinic.example").await.unwrap().unwrap().id;
    assert_eq!(acked["acknowledged_by"], dave_id.as_str());
    assert_eq!(acked["acknowledgement"], note["note"]);
    let event = &app.events_of("breakglass.acknowledge").await[0];
    assert_eq!(
        (
            event["kind"]["grant_id"].clone(),
            event["kind"]["user_id"].clone(),
            event["actor"]["user_id"].clone()
        ),
        (json!(grant), json!(carol_id), json!(dave_id))
    );
    let (status, body) = call(&dave, Method::POST, &acknowledge, Some(note.clone())).await;
    assert_eq!((status, body["error"].clone()), (409, json!("already_acknowledged")), "{body}");
    let (_, review) = call(&dave, Method::GET, "/api/v1/admin/access-review", None).await;
    assert_eq!(review["breakglass"], json!([]), "acknowledged: off the review");
    let cli: Value = serde_json::from_str(&review_from_the_command_line(&app, "json")).unwrap();
    assert_eq!(cli["breakglass"], json!([]));
    let (_, listed) = call(&dave, Method::GET, "/api/v1/admin/breakglass?unacknowledged=true", None).await;
    assert_eq!(listed["breakglass"], json!([]));
    let (_, listed) = call(&dave, Method::GET, "/api/v1/admin/breakglass", None).await;
    assert_eq!(listed["breakglass"][0]["acknowledged_by"], dave_id.as_str(), "still listed in full");
}

/// `custodian access review --format FORMAT` against the app's database.
fn review_from_the_command_line(app: &TestApp, format: &str) -> String {
    command_line(app, &["access", "review", "--format", format])
}

/// Runs `custodian ARGS` against the app's database; its standard output.
fn command_line(app: &TestApp, args: &[&str]) -> String {
    use crate::cli::{custodian, write_config};
    let dir = tempfile::tempdir().unwrap();
    let roles = "[directory.roles]\nstaff = [\"social-media-staff\"]\nadmin = [\"it-admins\"]\n";
    let config = write_config(dir.path(), "custodian.toml", roles);
    let out = custodian()
        .args(args)
        .arg("--config")
        .arg(&config)
        .args(["--database", &app.state.config.database_url()])
        .env("CUSTODIAN_KEYS__RING__K1", app.state.config.keys.ring["k1"].expose())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
