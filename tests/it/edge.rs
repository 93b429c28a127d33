//! Small hardening at the HTTP edge: the request id a client may choose,
//! the session cookie's `__Host-` prefix, who may read `/metrics`, and GETs
//! that act refused when a browser sends them from another site, and a
//! request the HTTP parser refuses before any handler, recorded all the same;
//! a request in flight at shutdown is finished.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_clients_request_id_is_kept_only_if_it_is_a_short_token,
    the_session_cookie_is_host_only_when_secure,
    metrics_can_require_a_token_and_move_to_their_own_listener,
    a_cross_site_navigation_cannot_make_a_get_act,
    a_request_the_http_parser_refuses_is_recorded_under_the_throttle,
);

/// Sends raw bytes and returns what the server answered before it closed.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await.expect("the server answers and closes").unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

async fn a_request_the_http_parser_refuses_is_recorded_under_the_throttle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smuggling = b"POST /api/v1/me HTTP/1.1\r\nHost: custodian.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n";
    let raw_cr = b"GET /healthz HTTP/1.1\r\nHost: custodian.test\r\nX-Note: a\rb\r\n\r\n";
    let parser_refusals = || async {
        let all = app.events_of("access.gate").await;
        all.into_iter().filter(|e| e["kind"]["gate"] == "http").collect::<Vec<serde_json::Value>>()
    };
    let answer = raw_exchange(&app, smuggling).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "refused by the parser: {answer}");
    assert!(!answer.to_lowercase().contains("x-request-id"), "no handler ran: {answer}");
    // The connection's task records it as the connection ends: wait for it, bounded.
    let refused = app.await_events("access.gate", |e| e["kind"]["gate"] == "http").await;
    assert_eq!(refused.len(), 1, "recorded: {refused:?}");
    assert_eq!(refused[0]["request"]["client_ip"], "127.0.0.1", "{:?}", refused[0]);
    let reason = refused[0]["kind"]["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP parser refused") && !reason.contains("chunked, identity"), "{reason}");
    // A flood of them from the same source within the window is counted, not written.
    for _ in 0..50 {
        assert!(raw_exchange(&app, raw_cr).await.starts_with("HTTP/1.1 400"));
    }
    for _ in 0..20 {
        assert_eq!(parser_refusals().await.len(), 1, "one event per source and window");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A well-formed request on the same server is served as usual.
    assert!(raw_exchange(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: custodian.test\r\nConnection: close\r\n\r\n"
    )
    .await
    .starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_shutdown_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = TestApp::spawn_until(Backend::Sqlite, |_| {}, async move {
        let _ = stopped.await;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // A form POST with a (well-formed, unknown) session cookie: the CSRF
    // guard reads the whole body before answering. `Expect: 100-continue`
    // makes the server say when that reading has begun: from then on the
    // request is in flight.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let cookie = "A".repeat(43);
    let head = format!(
        "POST /auth/logout HTTP/1.1\r\nHost: custodian.test\r\nCookie: custodian_session={cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_exact(&mut byte));
        read.await.expect("the server asks for the body").unwrap();
        interim.push(byte[0]);
    }
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{}", String::from_utf8_lossy(&interim));
    stop.send(()).unwrap();
    // Shutting down: new connections are refused (waited for, bounded).
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "the listener closed at shutdown");
    // The request in flight is still read and answered.
    stream.write_all(b"csrf=abcde").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await.expect("the server answers and closes").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "answered: {answer}");
}

async fn a_clients_request_id_is_kept_only_if_it_is_a_short_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::new();
    let id_for = |sent: Vec<&'static str>| {
        let (client, url) = (client.clone(), app.url("/healthz"));
        async move {
            let mut request = client.get(url);
            for value in sent {
                request = request.header("x-request-id", value);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    let fine = "trace-01.ABC_xyz";
    assert_eq!(id_for(vec![fine]).await, fine, "a short token is kept");
    let longest = "a".repeat(64);
    let longest: &'static str = Box::leak(longest.into_boxed_str());
    assert_eq!(id_for(vec![longest]).await, longest);
    let too_long: &'static str = Box::leak("a".repeat(65).into_boxed_str());
    for bad in
        [vec![too_long], vec!["has space"], vec!["a/b"], vec!["<script>"], vec!["x+y"], vec![fine, fine]]
    {
        let shown = format!("{bad:?}");
        let id = id_for(bad).await;
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{shown:.40} replaced by a fresh id, got {id:.80}");
    }
}

/// The `Set-Cookie` value for `name`, if the response sets it.
fn set_cookie<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

async fn the_session_cookie_is_host_only_when_secure(backend: Backend) {
    // Plain-HTTP development (the test default): the bare name.
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    browser.sign_in("alice").await;
    assert!(browser.cookie("custodian_session").is_some());

    // Secure cookies: `__Host-`, Secure, Path=/, no Domain; the bare name is not accepted.
    let app = TestApp::spawn_with(backend, |c| c.http.cookie_secure = true).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.get(app.url("/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let flow = set_cookie(&r, "custodian_login").unwrap().split(';').next().unwrap().to_owned();
    let auth = r.headers()["location"].to_str().unwrap().to_owned();
    let callback = app.browser().idp_authorize(&auth, "alice").await;
    let query = url::Url::parse(&callback).unwrap().query().unwrap().to_owned();
    let r =
        client.get(app.url(&format!("/auth/callback?{query}"))).header("cookie", flow).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&r, "custodian_session").is_none(), "no bare-named session cookie");
    let cookie = set_cookie(&r, "__Host-custodian_session").expect("a __Host- session cookie");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    let value = cookie.split(';').next().unwrap().trim_start_matches("__Host-custodian_session=").to_owned();
    let me =
        |name: &str| client.get(app.url("/api/v1/me")).header("cookie", format!("{name}={value}")).send();
    assert_eq!(me("__Host-custodian_session").await.unwrap().status(), StatusCode::OK);
    assert_eq!(me("custodian_session").await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

async fn metrics_can_require_a_token_and_move_to_their_own_listener(backend: Backend) {
    let client = reqwest::Client::new();
    // Open by default (on the loopback listener).
    let app = TestApp::spawn(backend).await;
    assert_eq!(client.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::OK);

    // With a token: none or a wrong one is refused, the right one reads.
    let app = TestApp::spawn_with(backend, |c| {
        c.metrics.bearer_token = Some(custodian::secret::Secret::new("scrape-me".into()));
    })
    .await;
    let r = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert!(!r.text().await.unwrap().contains("custodian_audit_events"));
    let r = client.get(app.url("/metrics")).bearer_auth("scrape-you").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client.get(app.url("/metrics")).bearer_auth("scrape-me").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("custodian_audit_events"));

    // On a listener of its own: the main port no longer serves it.
    let app = TestApp::spawn_with(backend, |c| c.metrics.listen = Some("127.0.0.1:9".parse().unwrap())).await;
    assert_eq!(client.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(custodian::app::serve_metrics(app.state.clone(), listener));
    let r = client.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("custodian_audit_events"));
}

async fn a_cross_site_navigation_cannot_make_a_get_act(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (clinic, _) = app.practice_accounts().await;
    let (dave, _, _) = app.enrolled_browser("dave").await;
    let cookie = format!("custodian_session={}", dave.cookie("custodian_session").unwrap());
    let plain = reqwest::Client::new();
    let acting = [
        format!("/api/v1/accounts/{clinic}/posts/p1/comments"),
        "/api/v1/audit/events?format=csv".to_owned(),
        "/api/v1/admin/access-review".to_owned(),
    ];
    for path in &acting {
        // A current browser says where it came from; an older one sends at least an Origin.
        for (site, origin) in
            [(Some("cross-site"), None), (Some("same-site"), None), (None, Some("https://evil.test"))]
        {
            let mut request = plain.get(app.url(path)).header("cookie", &cookie);
            if let Some(site) = site {
                request = request.header("sec-fetch-site", site);
            }
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} from {site:?}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"], "cross_site_request", "{path}: {body}");
        }
    }
    assert!(app.events_of("audit.read").await.is_empty(), "nothing was exported");
    assert!(app.events_of("access.review").await.is_empty());
    assert!(app.events_of("action.intent").await.is_empty(), "no platform was called");
    // From Custodian's own pages, the same request goes through.
    let r = dave.get("/api/v1/audit/events?format=csv").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.events_of("audit.read").await.len(), 1);
    // A tool holding the cookie (curl: no Sec-Fetch-Site, no Origin) is no browser: served.
    let r = plain.get(app.url("/api/v1/audit/events")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Without the cookie (an API token, a tool), no browser is involved: not refused as cross-site.
    let r = plain
        .get(app.url("/api/v1/audit/events"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
