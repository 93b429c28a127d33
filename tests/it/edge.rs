//! Small hardening at the HTTP edge: the request id a client may choose,
//! and the session cookie's `__Host-` prefix.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_clients_request_id_is_kept_only_if_it_is_a_short_token,
    the_session_cookie_is_host_only_when_secure
);

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
