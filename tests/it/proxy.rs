//! The pass-through proxy: a tool speaking Mastodon's own API through
//! `/proxy/{account}/...` with an API token. The route table names the
//! action for policy and audit; the caller's credentials never reach the
//! platform and the sealed one is injected; the platform's cookies never
//! come back. Every attack on the path or headers is refused, recorded,
//! and reaches nothing.

use custodian::domain::AccountId;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::on_both_backends;
use crate::support::fakes::mastodon::MastodonFake;
use crate::support::{mastodon_account, with_mastodon, Backend, TestApp};
use crate::tokens::call;

const TOKEN: &str = "sealed-mastodon-token-0123456789";
const LIMIT: usize = 4096;

pub async fn proxy_app(backend: Backend, fake: &MastodonFake) -> (TestApp, AccountId, String) {
    let base = fake.base.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        with_mastodon(c, &base);
        c.http.proxy_body_limit_bytes = LIMIT;
        c.http.request_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    let account = mastodon_account(&app, TOKEN).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let body = json!({"name": "scheduler", "actions": ["post.publish", "comment.list"], "accounts": [account], "expires_in_days": 7});
    let (status, created) = call(&alice, Method::POST, "/api/v1/tokens", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    (app, account, created["token"].as_str().unwrap().to_owned())
}

/// Sends raw bytes to the app and returns the status and the whole answer:
/// for requests an HTTP client library would normalize or refuse to send.
pub async fn raw(app: &TestApp, request: String) -> (u16, String) {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

async fn a_tool_publishes_through_the_proxy_with_the_sealed_credential_only(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let (app, account, token) = proxy_app(backend, &fake).await;
    let r = reqwest::Client::new()
        .post(app.url(&format!("/proxy/{account}/api/v1/statuses?source=scheduler")))
        .bearer_auth(&token)
        .header("cookie", "tool_session=abc")
        .header("x-tool-secret", "do-not-forward")
        .header("idempotency-key", "k-1")
        .json(&json!({"status": "Flu shots this Saturday", "visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    let event = headers["x-custodian-audit-event"].to_str().unwrap().to_owned();
    assert!(headers.get("set-cookie").is_none());
    assert!(headers.keys().all(|h| !h.as_str().starts_with("x-tool")));
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["content"], "<p>Flu shots this Saturday</p>", "{status}");

    let received = fake.requests();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/api/v1/statuses?source=scheduler"));
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the sealed credential"
    );
    assert_eq!(sent.header("idempotency-key"), Some("k-1"));
    for dropped in ["cookie", "x-tool-secret", "x-request-id"] {
        assert!(sent.header(dropped).is_none(), "{dropped} was passed on");
    }
    assert!(!format!("{sent:?}").contains(&token), "the caller's token never reaches the platform");

    let intent = &app.events_of("action.intent").await[0];
    assert_eq!(intent["event_id"], event.as_str());
    assert_eq!(intent["kind"]["action"], "post.publish", "policy and audit see the action, not the route");
    assert_eq!(intent["kind"]["door"], "proxy");
    assert_eq!(intent["kind"]["target"], "POST /api/v1/statuses");
    assert!(intent["kind"]["content"]["text"].as_str().unwrap().contains("Flu shots this Saturday"));
    let outcome = &app.events_of("action.outcome").await[0];
    assert_eq!(
        (outcome["kind"]["ok"].clone(), outcome["kind"]["result"].clone()),
        (json!(true), json!("the platform answered 200"))
    );

    // The platform's own refusal comes back as it said it, recorded as failed.
    fake.reject_next_body("Validation failed: Text can't be blank");
    let r = reqwest::Client::new()
        .post(app.url(&format!("/proxy/{account}/api/v1/statuses")))
        .bearer_auth(&token)
        .json(&json!({"status": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(app.events_of("action.outcome").await[1]["decision"], "denied");
}

async fn each_attack_on_the_path_or_headers_is_refused_recorded_and_reaches_nothing(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let (app, account, token) = proxy_app(backend, &fake).await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let line = |target: &str, extra: &str| {
        format!("POST {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n{extra}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}")
    };
    let p = |rest: &str| format!("/proxy/{account}{rest}");
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("path traversal", line(&p("/api/v1/../../oauth/revoke"), ""), 400, "proxy:path"),
        ("dot segment", line(&p("/api/v1/./statuses"), ""), 400, "proxy:path"),
        ("encoded slash", line(&p("/api/v1/statuses%2F..%2F..%2Foauth%2Frevoke"), ""), 400, "proxy:path"),
        ("encoded dots", line(&p("/api/v1/%2e%2e/oauth/revoke"), ""), 400, "proxy:path"),
        ("backslash", line(&p("/api/v1\\..\\oauth/revoke"), ""), 400, "proxy:path"),
        (
            "absolute URL in the path",
            line(&p("/https://evil.example/api/v1/statuses"), ""),
            400,
            "proxy:path",
        ),
        ("doubled host", line(&p("//evil.example/api/v1/statuses"), ""), 400, "proxy:path"),
        (
            "absolute-form target, other host",
            line(&format!("http://evil.example{}", p("/api/v1/statuses")), ""),
            400,
            "proxy:host",
        ),
        (
            "encoded CRLF in the path",
            line(&p("/api/v1/statuses%0d%0aX-Injected:%201"), ""),
            400,
            "proxy:path",
        ),
        (
            "encoded CRLF in the query",
            line(&p("/api/v1/statuses?a=%0d%0aSet-Cookie:%20x=1"), ""),
            400,
            "proxy:query",
        ),
        (
            "forwarded host",
            line(&p("/api/v1/statuses"), "X-Forwarded-Host: evil.example\r\n"),
            400,
            "proxy:header",
        ),
        (
            "method override",
            line(&p("/api/v1/statuses"), "X-HTTP-Method-Override: DELETE\r\n"),
            400,
            "proxy:header",
        ),
        ("second Host header", line(&p("/api/v1/statuses"), "Host: evil.example\r\n"), 400, "proxy:host"),
        ("unknown route", line(&p("/api/v1/follow_requests/1/authorize"), ""), 403, "proxy:route"),
        ("known path, other method", line(&p("/api/v1/statuses/1/context"), ""), 403, "proxy:route"),
        ("unknown account", line("/proxy/acct_nope/api/v1/statuses", ""), 404, "account"),
    ];
    for (refused_before, (what, request, status, rule)) in cases.iter().enumerate() {
        let (got, answer) = raw(&app, request.clone()).await;
        assert_eq!(got, *status, "{what}: {answer}");
        let body: Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or(Value::Null);
        assert_eq!(body["rule"], *rule, "{what}: {answer}");
        let refused = app.events_of("action.refused").await;
        assert_eq!(refused.len(), refused_before + 1, "{what} is recorded");
        assert_eq!(refused.last().unwrap()["kind"]["door"], "proxy");
        assert_eq!(refused.last().unwrap()["kind"]["rule"], *rule);
    }
    // Oversized bodies: declared, and streamed without a length.
    let big = vec![b'a'; LIMIT + 1];
    let client = reqwest::Client::new();
    let url = app.url(&p("/api/v1/statuses"));
    let r = client.post(&url).bearer_auth(&token).body(big.clone()).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let stream = futures::stream::iter(
        big.chunks(1000).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let r =
        client.post(&url).bearer_auth(&token).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let refused = app.events_of("action.refused").await;
    assert_eq!(refused.len(), cases.len() + 2);
    assert!(refused[cases.len()..].iter().all(|e| e["kind"]["rule"] == "proxy:body-limit"));
    // A body that trickles in (10 bytes promised, 2 sent) is cut off at the time limit.
    let slow = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{{}}",
        p("/api/v1/statuses")
    );
    let (status, answer) = raw(&app, slow).await;
    assert_eq!(status, 408, "{answer}");
    let refused = app.events_of("action.refused").await;
    assert_eq!(refused.last().unwrap()["kind"]["rule"], "proxy:timeout");
    // A raw line break inside a header never reaches Custodian's code: the server refuses the request.
    let (status, _) = raw(&app, format!("POST {} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nX-A: a\rInjected: 1\r\nContent-Length: 0\r\n\r\n", p("/api/v1/statuses"))).await;
    assert_eq!(status, 400);
    // No token at all: the proxy takes no session.
    let r = client.post(&url).json(&json!({"status": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    // A Host header never steers where a request goes: the platform's own address is used.
    let r = client
        .post(&url)
        .bearer_auth(&token)
        .header("host", "evil.example")
        .json(&json!({"status": "steered?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The sandbox has no platform API: nothing passes through for it.
    let now = custodian::clock::Clock::now(&app.clock);
    let by =
        custodian::audit::ChangedBy { actor: Default::default(), name: "t".into(), meta: Default::default() };
    let sandbox = app
        .state
        .accounts
        .add_sandbox(&app.state.journal, "practice", &["official".to_owned()], &by, now)
        .await
        .unwrap();
    let r = client
        .post(app.url(&format!("/proxy/{}/api/v1/statuses", sandbox.id)))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("no platform API to pass through"));

    let received = fake.requests();
    assert_eq!(received.len(), 1, "only the last, well-formed request reached the platform: {received:?}");
    assert_eq!(received[0].header("host"), Some(fake.base.trim_start_matches("http://")));
}

on_both_backends!(
    a_tool_publishes_through_the_proxy_with_the_sealed_credential_only,
    each_attack_on_the_path_or_headers_is_refused_recorded_and_reaches_nothing
);

/// A caller that goes away once its action has reached the platform (a
/// client hanging up mid-request) still leaves the outcome on the record:
/// no intent is left without its outcome.
async fn an_outcome_is_recorded_even_when_the_caller_goes_away(backend: Backend) {
    use std::sync::Arc;
    use tokio::sync::Notify;
    let (arrived, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (a, r) = (arrived.clone(), release.clone());
    let witness: crate::support::fakes::Witness = Arc::new(move |_| {
        let (a, r) = (a.clone(), r.clone());
        Box::pin(async move {
            a.notify_one();
            r.notified().await;
        })
    });
    let fake = MastodonFake::start_witnessed(TOKEN, witness).await;
    let base = fake.base.clone();
    let app = TestApp::spawn_with(backend, move |c| with_mastodon(c, &base)).await;
    let account = mastodon_account(&app, TOKEN).await;
    let post = custodian::domain::NewPost { text: "Clinic closed Monday".into(), ..Default::default() };
    tokio::select! {
        done = crate::support::act(&app, &account, custodian::domain::Action::Publish(post)) => {
            panic!("the platform has not answered yet: {:?}", done.map(|_| ()))
        }
        // The caller's future is dropped here, its call in flight at the platform.
        () = arrived.notified() => {}
    }
    assert_eq!(app.events_of("action.intent").await.len(), 1);
    release.notify_one();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let outcomes = loop {
        let outcomes = app.events_of("action.outcome").await;
        if !outcomes.is_empty() || tokio::time::Instant::now() > deadline {
            break outcomes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(outcomes.len(), 1, "the intent was left without its outcome");
    assert_eq!(outcomes[0]["kind"]["ok"], true, "{}", outcomes[0]);
    assert_eq!(fake.requests().len(), 1);
}

on_both_backends!(an_outcome_is_recorded_even_when_the_caller_goes_away);

/// A token never acts under its owner's break-glass, through the API or
/// the proxy: emergency access is for the person who opened it.
async fn a_token_does_not_inherit_break_glass(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let (app, account, _) = proxy_app(backend, &fake).await;
    let (carol, secret, _) = app.enrolled_browser("carol").await;
    let why = "Patient safety alert must go out now; the usual poster is away.";
    let glass = json!({"justification": why, "code": app.totp(&secret, 1)});
    let (status, opened) = call(&carol, Method::POST, "/api/v1/breakglass", Some(glass)).await;
    assert_eq!(status, 201, "{opened}");
    let body =
        json!({"name": "carol's", "actions": ["post.publish"], "accounts": [account], "expires_in_days": 1});
    let (status, created) = call(&carol, Method::POST, "/api/v1/tokens", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap();
    let client = reqwest::Client::new();
    let doors = [
        (format!("/proxy/{account}/api/v1/statuses"), json!({"status": "x"})),
        (format!("/api/v1/accounts/{account}/posts"), json!({"text": "x"})),
    ];
    for (path, body) in doors {
        let r = client.post(app.url(&path)).bearer_auth(token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let refused: Value = r.json().await.unwrap();
        assert_eq!(refused["rule"], "no-permit", "{path}: {refused}");
    }
    assert!(fake.requests().is_empty(), "nothing reached the platform");
    // Her own session does act under it (her groups grant no tag of this account).
    let (status, body) = call(
        &carol,
        Method::POST,
        &format!("/api/v1/accounts/{account}/posts"),
        Some(json!({"text": "Alert"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let intent = &app.events_of("action.intent").await[0];
    assert_eq!(intent["kind"]["break_glass"], opened["id"]);
}

on_both_backends!(a_token_does_not_inherit_break_glass);
