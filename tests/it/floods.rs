//! Floods from clients nobody has signed in: refused callbacks, random API
//! tokens, sign-ins started over and over. The journal records them through
//! the refusal throttle (bounded, nothing lost), and real actions keep
//! being recorded and done meanwhile.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::on_both_backends;
use crate::support::{act, Backend, TestApp};
use crate::tokens::{publishing_token, with_token};
use custodian::domain::Action;
use custodian::domain::NewPost;
use custodian::platforms::dispatch::Outcome;

on_both_backends!(
    a_flood_of_bad_callbacks_and_tokens_adds_one_event_per_kind_and_loses_no_count,
    a_flood_from_many_addresses_is_bounded_and_counted_by_network,
    sign_ins_are_rate_limited_per_source_and_expired_ones_are_purged,
    a_slowed_sources_unknown_tokens_take_turns_and_its_real_tokens_do_not_wait,
    a_slowed_source_is_refused_stray_callbacks_slowly_and_still_signs_in,
);

/// Everything the throttle recorded for `action`: (non-summary events, total refusals they stand for).
fn tally(events: &[serde_json::Value]) -> (usize, u64) {
    let recorded = events.iter().filter(|e| e["kind"]["summary"] != true).count();
    let suppressed: u64 = events.iter().map(|e| e["kind"]["suppressed"].as_u64().unwrap()).sum();
    (recorded, recorded as u64 + suppressed)
}

async fn a_flood_of_bad_callbacks_and_tokens_adds_one_event_per_kind_and_loses_no_count(backend: Backend) {
    const FLOOD: usize = 600;
    // Slowed answers are their own test (below); here they take their turns quickly.
    let app = TestApp::spawn_with(backend, |c| c.audit.refusals.hold = Duration::from_millis(1)).await;
    let (clinic, _) = app.practice_accounts().await;
    let before = app.events().await.len();
    let client = reqwest::Client::new();
    let flood = |i: usize| {
        let (client, base) = (client.clone(), app.base.clone());
        async move {
            // A callback nobody started (half with a forged sign-in cookie), and a random API token.
            let mut callback = client.get(format!("{base}/auth/callback?code=c{i}&state=s{i}"));
            if i % 2 == 0 {
                callback = callback.header("cookie", format!("custodian_login=forged{i}"));
            }
            let r = callback.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let r = client
                .get(format!("{base}/api/v1/accounts"))
                .bearer_auth(format!("cst_{i:064}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
    };
    let real = async {
        let mut done = 0;
        for i in 0..20 {
            let post = NewPost { text: format!("Clinic hours, update {i}"), ..Default::default() };
            let outcome = act(&app, &clinic, Action::Publish(post)).await;
            assert!(matches!(outcome, Ok(Outcome::Published(_))), "{outcome:?}");
            done += 1;
        }
        done
    };
    let flooding = futures::future::join_all((0..FLOOD).map(flood));
    let (_, done) = tokio::join!(flooding, real);
    assert_eq!(done, 20, "real actions kept succeeding under the flood");

    // One event per kind of refusal from this source, whatever the flood's size.
    let logins = app.events_of("auth.login").await;
    let gates = app.events_of("access.gate").await;
    assert_eq!(tally(&logins), (1, 1), "one callback refusal recorded, of {} events", logins.len());
    assert_eq!(logins[0]["kind"]["reason"], "no_login_in_progress");
    assert_eq!(tally(&gates), (1, 1), "one bad-token refusal recorded, of {} events", gates.len());
    assert_eq!(app.events_of("action.intent").await.len(), 20);
    assert_eq!(app.events().await.len() - before, 2 + 40, "the flood added two events; the actions forty");

    // When the window closes, the count of the others is written, not lost.
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(app.state.journal.flush_refusals(false).await.unwrap(), 2);
    let logins = app.events_of("auth.login").await;
    let gates = app.events_of("access.gate").await;
    assert_eq!(tally(&logins), (1, FLOOD as u64));
    assert_eq!(tally(&gates), (1, FLOOD as u64));
    let summary = logins.iter().find(|e| e["kind"]["summary"] == true).unwrap();
    assert_eq!(summary["kind"]["suppressed"], FLOOD as u64 - 1);
    assert_eq!(summary["request"]["client_ip"], "127.0.0.1");
}

async fn a_flood_from_many_addresses_is_bounded_and_counted_by_network(backend: Backend) {
    const SOURCES: usize = 120;
    let app = TestApp::spawn_with(backend, |c| {
        // Loopback is a trusted proxy here, so each request names its client.
        c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        c.audit.refusals.max_sources = 3;
        c.audit.refusals.max_networks = 2;
    })
    .await;
    let client = reqwest::Client::new();
    let requests = (0..SOURCES).map(|i| {
        let (client, base) = (client.clone(), app.base.clone());
        async move {
            // 120 addresses in 12 /24 networks.
            let r = client
                .get(format!("{base}/api/v1/accounts"))
                .bearer_auth(format!("cst_random{i}"))
                .header("x-forwarded-for", format!("198.51.{}.{}", i / 10, i % 10 + 1))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
    });
    futures::future::join_all(requests).await;
    let gates = app.events_of("access.gate").await;
    // At most: 3 sources of their own, 2 networks, 1 shared bucket.
    assert!(gates.len() <= 6, "{} events", gates.len());
    assert!(gates.iter().any(|e| e["kind"]["counted_as"] == "other sources"), "{gates:?}");
    assert!(
        gates.iter().any(|e| e["kind"]["counted_as"].as_str().is_some_and(|n| n.ends_with(".0/24"))),
        "{gates:?}"
    );
    app.clock.advance(std::time::Duration::from_secs(61));
    app.state.journal.flush_refusals(false).await.unwrap();
    let gates = app.events_of("access.gate").await;
    assert!(gates.len() <= 12, "a summary at most per entry: {} events", gates.len());
    assert_eq!(tally(&gates).1, SOURCES as u64, "every refusal is counted: {gates:?}");
}

async fn sign_ins_are_rate_limited_per_source_and_expired_ones_are_purged(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.http.sign_ins_per_minute = 3).await;
    let browser = app.browser();
    for _ in 0..3 {
        browser.start_login().await;
    }
    for _ in 0..5 {
        let r = browser.get("/auth/login").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let page = r.text().await.unwrap();
        assert!(page.contains("Too many sign-ins were started from your address"), "{page}");
    }
    assert_eq!(app.count("login_flows").await, 3, "a refused start stores nothing");
    let refused = app.events_of("access.gate").await;
    assert_eq!(refused.len(), 1, "recorded once through the throttle: {refused:?}");
    assert_eq!(refused[0]["kind"]["gate"], "sign_in");

    // A minute later the same browser signs in, start to finish.
    app.clock.advance(std::time::Duration::from_secs(60));
    browser.sign_in("alice").await;
    assert_eq!(app.count("sessions").await, 1);

    // Unfinished sign-ins are purged once expired, off the request path.
    assert_eq!(app.state.identity.purge_expired_flows().await.unwrap(), 0, "none expired yet");
    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    assert_eq!(app.state.identity.purge_expired_flows().await.unwrap(), 3);
    assert_eq!(app.count("login_flows").await, 0);
}

/// A source past its free refusals: tokens this process does not know are
/// looked up one at a time, each refusal held; a real token it knows, from
/// the same address, is answered at once, and one it does not know yet (as
/// another replica's would be) is looked up on its turn and works.
async fn a_slowed_sources_unknown_tokens_take_turns_and_its_real_tokens_do_not_wait(backend: Backend) {
    const HOLD: Duration = Duration::from_secs(3);
    let app = TestApp::spawn_with(backend, |c| {
        c.audit.refusals.slow_after = 2;
        c.audit.refusals.hold = HOLD;
    })
    .await;
    let (clinic, _) = app.practice_accounts().await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (token, _) = publishing_token(&alice, &clinic).await;
    // As if another replica had issued it: in the database, not known to this process.
    let (other_replicas, _) = publishing_token(&alice, &clinic).await;
    let refused = |presented: String| {
        let app = &app;
        async move {
            let (status, body) = with_token(app, &presented, Method::GET, "/api/v1/accounts", None).await;
            assert_eq!(status, 401, "{body}");
            assert_eq!(body["error"], "token_invalid", "a slowed refusal is the same refusal: {body}");
        }
    };
    // Three refusals in the window (the recorded one and two counted) are answered at once.
    for i in 0..3 {
        refused(format!("cst_random{i}")).await;
    }
    forget_known_tokens(&app, &token).await;
    // Now slowed: the next ones wait their turn, one at a time, each refusal held.
    let started = Instant::now();
    let slowed =
        tokio::spawn(futures::future::join(refused_at(&app, "cst_slow1"), refused_at(&app, "cst_slow2")));
    // Meanwhile the same address's real token is answered without waiting for them.
    let asked = Instant::now();
    let (status, body) = with_token(&app, &token, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(asked.elapsed() < HOLD, "the real token did not queue: {:?}", asked.elapsed());
    assert!(!slowed.is_finished(), "the real token was answered while the refusals were held");
    let (a, b) = slowed.await.unwrap();
    assert_eq!((a, b), (401, 401));
    assert!(started.elapsed() >= 2 * HOLD, "two slowed refusals took their turns: {:?}", started.elapsed());
    // A live token this process has not seen is not refused: it is looked up on its turn.
    let (status, body) = with_token(&app, &other_replicas, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(status, 200, "{body}");

    // Slowed or not, every refusal is counted.
    app.clock.advance(Duration::from_secs(61));
    app.state.journal.flush_refusals(false).await.unwrap();
    assert_eq!(tally(&app.events_of("access.gate").await).1, 5);
}

/// Makes this process forget every token but `keep`, as a replica that did not issue them.
async fn forget_known_tokens(app: &TestApp, keep: &str) {
    let hash = custodian::identity::session::sha256_hex(keep);
    sqlx::query("UPDATE api_tokens SET revoked_at = 1 WHERE secret_hash <> $1")
        .bind(&hash)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app.state.identity.refresh_known().await.unwrap();
    sqlx::query("UPDATE api_tokens SET revoked_at = NULL").execute(app.state.db.pool()).await.unwrap();
}

fn refused_at(app: &TestApp, presented: &str) -> impl std::future::Future<Output = u16> + Send + 'static {
    let request = reqwest::Client::new().get(app.url("/api/v1/accounts")).bearer_auth(presented);
    async move { request.send().await.unwrap().status().as_u16() }
}

/// A source past its free refusals of stray callbacks is answered slowly,
/// and a real sign-in from the same address goes through at once.
async fn a_slowed_source_is_refused_stray_callbacks_slowly_and_still_signs_in(backend: Backend) {
    const HOLD: Duration = Duration::from_secs(3);
    let app = TestApp::spawn_with(backend, |c| {
        c.audit.refusals.slow_after = 2;
        c.audit.refusals.hold = HOLD;
    })
    .await;
    let stray = |i: usize| {
        let request = reqwest::Client::new()
            .get(app.url(&format!("/auth/callback?code=c{i}&state=s{i}")))
            .header("cookie", format!("custodian_login=forged{i}"));
        async move { request.send().await.unwrap().status() }
    };
    for i in 0..3 {
        assert_eq!(stray(i).await, StatusCode::BAD_REQUEST);
    }
    let started = Instant::now();
    let slowed = tokio::spawn(futures::future::join(stray(3), stray(4)));
    let (alice, _, _) = app.enrolled_browser("alice").await;
    assert!(!slowed.is_finished(), "alice signed in while the stray callbacks were held");
    let (status, _) = crate::tokens::call(&alice, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(slowed.await.unwrap(), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert!(started.elapsed() >= 2 * HOLD, "{:?}", started.elapsed());
    app.clock.advance(Duration::from_secs(61));
    app.state.journal.flush_refusals(false).await.unwrap();
    let logins: Vec<_> = app
        .events_of("auth.login")
        .await
        .into_iter()
        .filter(|e| e["kind"]["reason"] == "no_login_in_progress")
        .collect();
    assert_eq!(tally(&logins).1, 5, "every stray callback is counted");
}
