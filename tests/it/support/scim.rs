//! A SCIM client as an IdP is one: bearer token, `application/scim+json`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use custodian::config::Config;

/// Turns the configuration to SCIM mode (linked by email) and returns the bearer token.
pub fn scim_mode(config: &mut Config) -> String {
    let (token, entry) = custodian::directory::scim::auth::generate();
    config.directory.source = custodian::directory::DirectorySource::Scim;
    config.directory.link_by = custodian::directory::LinkBy::Email;
    config.directory.scim.tokens.insert("idp".into(), entry);
    token
}

pub struct ScimClient {
    pub base: String,
    pub token: String,
    client: reqwest::Client,
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl ScimClient {
    pub fn new(app_base: &str, token: &str) -> ScimClient {
        ScimClient {
            base: format!("{app_base}/scim/v2"),
            token: token.to_owned(),
            // A connection per request: after refusing a body it did not read,
            // the server closes the connection, and a pooled client that sent
            // its next request on it first would see it cut (IncompleteMessage).
            client: reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client"),
        }
    }

    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("SCIM request");
        let status = response.status();
        let headers = response.headers().clone();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let text = response.text().await.expect("SCIM body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer { status, content_type, headers, body }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, path, "application/scim+json", bytes).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// Provisions a user of the development provider (`alice` →
    /// alice@clinic.example) and returns their SCIM id.
    pub async fn provision(&self, user: &str) -> String {
        let email = format!("{user}@clinic.example");
        let a = self
            .post(
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
                       "emails": [{"value": email, "type": "work", "primary": true}], "active": true}),
            )
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        a.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group with these member ids and returns its id.
    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let a = self
            .post(
                "/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        a.body["id"].as_str().expect("id").to_owned()
    }
}

/// Asserts an RFC 7644 error: status, `scimType`, SCIM content type and body shape.
pub fn assert_scim_error(a: &Answer, status: u16, scim_type: Option<&str>) {
    assert_eq!(a.status.as_u16(), status, "{:?}", a.body);
    assert!(a.content_type.starts_with("application/scim+json"), "content type {}", a.content_type);
    assert_eq!(a.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{:?}", a.body);
    assert_eq!(a.body["status"], json!(status.to_string()));
    assert_eq!(a.body["scimType"].as_str(), scim_type, "{:?}", a.body);
    assert!(a.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}
