//! The HTTP base: health, security headers, and bad input answered with a
//! clear 4xx that stores nothing.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    health_and_security_headers,
    bad_input_gets_a_clear_4xx_and_stores_nothing,
    errors_the_framework_answers_have_the_one_shape,
);

async fn health_and_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::new();
    let r = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["status"], "ready");

    let r = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h.contains_key("x-request-id"), "every response carries its request id");
    assert!(!h.contains_key("strict-transport-security"), "no HSTS over plain HTTP");
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign in with single sign-on") && !page.contains("<script"));

    let r = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_signed_in");
    assert!(body["remedy"].as_str().unwrap().contains("/auth/login"));

    // The database going away makes /readyz say so.
    app.state.db.close().await;
    let r = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["reason"], "the database is unreachable");
}

async fn bad_input_gets_a_clear_4xx_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();

    // Malformed callback parameters.
    for query in
        ["", "?code=", "?state=%ZZ%", "?code=a&code=b&state=c", &format!("?code={}", "x".repeat(5000))]
    {
        let r = browser.get(&format!("/auth/callback{query}")).await;
        assert!(r.status().is_client_error(), "{query:.40}: {}", r.status());
        let page = r.text().await.unwrap();
        assert!(!page.contains("panicked") && !page.contains("sqlx"), "no internals leak");
    }

    // A garbage cookie.
    for garbage in ["x", "%00%FF", &"A".repeat(43), &"z".repeat(4000)] {
        browser.set_cookie("custodian_session", garbage);
        let r = browser.get("/api/v1/me").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "garbage cookie {garbage:.10}");
        let r = browser.get("/auth/mfa").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = browser.post_form("/auth/mfa/verify", &[("csrf", "x"), ("code", "123456")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    // An oversized body, announced by Content-Length or streamed in chunks.
    let addr = app.base.trim_start_matches("http://").to_owned();
    let head =
        "POST /auth/mfa/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n";
    let status = raw_request(&addr, &format!("{head}Content-Length: {}\r\n\r\n", 2 * 1024 * 1024), false);
    assert_eq!(status, 413, "Content-Length over the limit");
    let cookie = format!("Cookie: custodian_session={}\r\n", "A".repeat(43));
    let status = raw_request(&addr, &format!("{head}{cookie}Transfer-Encoding: chunked\r\n\r\n"), true);
    assert_eq!(status, 413, "a streamed body over the limit");

    // Unknown routes.
    assert_eq!(browser.get("/nope").await.status(), StatusCode::NOT_FOUND);
    let r = browser.get("/api/v1/nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "not_found");

    assert_eq!(app.count("sessions").await, 0);
    assert_eq!(app.count("users").await, 0);
}

/// A body over the limit, a method a route does not take, a form the
/// framework cannot read: answered like every other error, in JSON under
/// `/api` and as a page in a browser, with their own status (and `Allow`).
async fn errors_the_framework_answers_have_the_one_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::new();

    let r = client.put(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"), "{:?}", r.headers());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    assert!(body["remedy"].as_str().unwrap().contains("Allow"), "{body}");

    let big = "x".repeat(2 * 1024 * 1024);
    let r =
        client.post(app.url("/api/v1/tokens")).header("content-type", "application/json").body(big.clone());
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "payload_too_large");

    // A browser: a page, with the security headers every answer carries.
    let r = client.put(app.url("/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.headers().contains_key("content-security-policy") && r.headers().contains_key("allow"));
    assert!(r.text().await.unwrap().contains("does not answer this method"));

    // A signed-in browser's form the framework cannot read: its status, on a page.
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let me: serde_json::Value = browser.get("/api/v1/me").await.json().await.unwrap();
    let csrf = me["session"]["csrf_token"].as_str().unwrap().to_owned();
    let r = browser.post_form("/accounts/acct_none/posts", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("missing field") && page.contains("Correct the request"), "{page}");
}

/// Sends a request head (and, if `chunked`, up to 2 MiB of chunks) over a raw
/// socket and returns the response status. The server may answer before the
/// body is sent, so write errors after the head are expected and ignored.
fn raw_request(addr: &str, head: &str, chunked: bool) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    if chunked {
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "a".repeat(64 * 1024));
        for _ in 0..32 {
            if s.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n");
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}
