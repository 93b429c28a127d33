//! A minimal browser: keeps cookies, follows no redirect by itself (tests
//! look at every hop), and drives the development provider's login form.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use url::Url;

use super::{PASSWORD, REDIRECT_URI};

pub struct Browser {
    pub base: String,
    pub jar: Arc<Jar>,
    pub client: reqwest::Client,
}

pub fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_owned())
}

pub fn all_between(text: &str, start: &str, end: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(from) = rest.find(start) {
        let after = &rest[from + start.len()..];
        let Some(len) = after.find(end) else { break };
        out.push(after[..len].to_owned());
        rest = &after[len..];
    }
    out
}

/// A query parameter of a URL.
pub fn param(url: &str, key: &str) -> String {
    Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {key}"))
}

/// The URL with one query parameter replaced (as an attacker would).
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    let mut url = Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == key { value.to_owned() } else { v.into_owned() }))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

/// The CSRF token in a page's form.
pub fn csrf_of(page: &str) -> String {
    between(page, "name=\"csrf\" value=\"", "\"").expect("page has a CSRF field")
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("redirect has a Location")
        .to_owned()
}

impl Browser {
    pub fn new(base: String) -> Browser {
        let jar = Arc::new(Jar::default());
        // As a current browser says of requests from Custodian's own pages.
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("sec-fetch-site", reqwest::header::HeaderValue::from_static("same-origin"));
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .build()
            .expect("client");
        Browser { base, jar, client }
    }

    fn abs(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.abs(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.expect("text")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client.post(self.abs(path)).form(fields).send().await.expect("POST")
    }

    /// The CSRF token of this browser's current session (what a page's forms carry).
    pub fn csrf(&self) -> String {
        let raw = self.cookie("custodian_session").expect("signed in");
        custodian::identity::SessionId::parse(&raw).expect("session id").csrf_token()
    }

    /// A JSON API call carrying the session's CSRF token.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.abs(path)).header("x-csrf-token", self.csrf());
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("API call")
    }

    /// A CSV upload carrying the session's CSRF token.
    pub async fn post_csv(&self, path: &str, body: String) -> Response {
        let request = self.client.post(self.abs(path)).header("x-csrf-token", self.csrf());
        request.header("content-type", "text/csv").body(body).send().await.expect("CSV upload")
    }

    /// The value of one of the app's cookies.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url: Url = self.base.parse().expect("base");
        let header = self.jar.cookies(&url)?;
        let text = header.to_str().ok()?.to_owned();
        text.split("; ")
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        let url: Url = self.base.parse().expect("base");
        self.jar.add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    /// `GET /auth/login`: returns the IdP authorization URL.
    pub async fn start_login(&self) -> String {
        let r = self.get("/auth/login").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in starts with a redirect to the IdP");
        location(&r)
    }

    /// Signs in at the IdP with `user` and returns the callback URL it redirects to.
    pub async fn idp_authorize(&self, auth_url: &str, user: &str) -> String {
        self.idp_authorize_with(auth_url, user, &[]).await
    }

    /// Signs in at the IdP with `user`, the login form also carrying
    /// `extra` fields (`("amr", "otp")`: the ID token says MFA was done).
    pub async fn idp_authorize_with(&self, auth_url: &str, user: &str, extra: &[(&str, &str)]) -> String {
        let mut current: Url = auth_url.parse().expect("auth url");
        let mut response = self.client.get(current.clone()).send().await.expect("IdP authorize");
        for _ in 0..12 {
            if response.status().is_redirection() {
                let next = current.join(&location(&response)).expect("join");
                if next.as_str().starts_with(REDIRECT_URI) {
                    return next.to_string();
                }
                current = next;
                response = self.client.get(current.clone()).send().await.expect("IdP hop");
                continue;
            }
            let status = response.status();
            let page = response.text().await.expect("IdP page");
            assert_eq!(status, StatusCode::OK, "IdP page: {page}");
            let action = between(&page, "action=\"", "\"").expect("IdP login form");
            current = current.join(&action).expect("join");
            response = self
                .client
                .post(current.clone())
                .form(&[&[("username", user), ("password", PASSWORD)], extra].concat())
                .send()
                .await
                .expect("IdP login");
        }
        panic!("the IdP did not redirect back");
    }

    /// `GET /auth/callback` with the query of `callback_url`.
    pub async fn finish_login(&self, callback_url: &str) -> Response {
        let url: Url = callback_url.parse().expect("callback url");
        let query = url.query().unwrap_or("");
        self.get(&format!("/auth/callback?{query}")).await
    }

    /// The whole sign-in; ends with the second factor due.
    pub async fn sign_in(&self, user: &str) {
        self.sign_in_with(user, &[]).await
    }

    /// The whole sign-in, the IdP's login form also carrying `extra` fields.
    pub async fn sign_in_with(&self, user: &str, extra: &[(&str, &str)]) {
        let auth = self.start_login().await;
        let callback = self.idp_authorize_with(&auth, user, extra).await;
        let r = self.finish_login(&callback).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in completes: {:?}", r.text().await);
        assert_eq!(location(&r), "/auth/mfa");
    }
}
