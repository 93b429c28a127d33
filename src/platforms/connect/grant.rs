//! Each platform's side of connecting an account: the scopes the enabled
//! operations need, the authorization code exchanged for tokens (through
//! the `oauth2` crate, with PKCE where the platform supports it), the extra
//! exchanges some platforms require, and who the tokens act as. Also the
//! revocation a disconnect asks for.

use std::time::Duration;

use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;
use url::Url;

use crate::clock::Timestamp;
use crate::platforms::config::{Endpoints, OAuthApp};
use crate::platforms::{endpoint, Operation};
use crate::secret::Secret;
use crate::vault::credentials::CredentialKind;

/// A platform's grant turned into what Custodian keeps.
pub struct PlatformGrant {
    pub external_id: String,
    pub handle: String,
    pub scopes: Vec<String>,
    pub credentials: Vec<(CredentialKind, Secret, Option<Timestamp>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The platform refused (bad code, denied consent, wrong page): its words.
    #[error("{0}")]
    Refused(String),
    /// The platform could not be reached or answered nonsense.
    #[error("{0}")]
    Unavailable(String),
}

/// What the admin chose at the start, which some platforms need to finish.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Choice {
    /// Facebook: the Page to act as (by id). Absent: the only Page the user manages.
    pub page_id: Option<String>,
    /// LinkedIn: the organization's numeric id.
    pub organization: Option<String>,
}

/// One platform's OAuth app and endpoints, for one connection.
pub struct Flow<'a> {
    pub platform: &'a str,
    pub app: &'a OAuthApp,
    pub endpoints: &'a Endpoints,
    /// Where the platform sends the browser back.
    pub redirect: &'a Url,
    pub http: &'a reqwest::Client,
}

/// Whether the platform's authorization server accepts PKCE (RFC 7636).
fn pkce(platform: &str) -> bool {
    matches!(platform, "x" | "mastodon")
}

/// The least scopes that let Custodian identify the account and carry out `ops`.
pub fn scopes(platform: &str, ops: &[Operation]) -> Vec<&'static str> {
    use Operation::*;
    let mut out: Vec<&'static str> = match platform {
        "x" => vec!["users.read", "tweet.read", "offline.access"],
        "mastodon" => vec!["read:accounts"],
        "facebook" => vec!["pages_show_list"],
        "instagram" => vec!["instagram_business_basic"],
        _ => Vec::new(),
    };
    for op in ops {
        let needed: &[&'static str] = match (platform, op) {
            ("x", Publish | Reply | Delete) => &["tweet.write", "media.write"],
            ("x", HideComment | UnhideComment) => &["tweet.moderate.write"],
            ("mastodon", Publish | Reply) => &["write:statuses", "write:media"],
            ("mastodon", Delete) => &["write:statuses"],
            ("mastodon", ListComments | ListPosts) => &["read:statuses"],
            ("facebook", Publish | Delete) => &["pages_manage_posts"],
            ("facebook", Reply | HideComment | UnhideComment | DeleteComment) => &["pages_manage_engagement"],
            ("facebook", ListComments | ListPosts) => &["pages_read_engagement"],
            ("instagram", Publish) => &["instagram_business_content_publish"],
            ("instagram", Reply | ListComments | HideComment | UnhideComment | DeleteComment) => {
                &["instagram_business_manage_comments"]
            }
            ("linkedin", Publish | Delete | Reply | DeleteComment) => &["w_organization_social"],
            ("linkedin", ListComments) => &["r_organization_social"],
            _ => &[],
        };
        for s in needed {
            if !out.contains(s) {
                out.push(s);
            }
        }
    }
    out
}

type Client = crate::platforms::tokens::Client<oauth2::EndpointSet, oauth2::EndpointSet>;

fn client(flow: &Flow<'_>) -> Client {
    let mut client = crate::platforms::tokens::client(ClientId::new(flow.app.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(flow.endpoints.authorize_url.clone()))
        .set_token_uri(TokenUrl::from_url(flow.endpoints.token_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(flow.redirect.clone()));
    if let Some(secret) = &flow.app.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    if crate::platforms::config::credentials_in_body(flow.platform) {
        client = client.set_auth_type(oauth2::AuthType::RequestBody);
    }
    client
}

/// The URL to send the admin's browser to, and the PKCE verifier to keep.
pub fn authorize_url(flow: &Flow<'_>, state: &str, scopes: &[&str]) -> (Url, Secret) {
    let platform = flow.platform;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = state.to_owned();
    let client = client(flow);
    let mut request = client.authorize_url(move || CsrfToken::new(state));
    request = if platform == "instagram" {
        // Instagram Login takes its scopes comma-separated.
        request.add_scope(Scope::new(scopes.join(",")))
    } else {
        request.add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
    };
    if pkce(platform) {
        request = request.set_pkce_challenge(challenge);
    }
    let (url, _) = request.url();
    (url, Secret::new(verifier.secret().to_owned()))
}

/// Exchanges the authorization code and identifies the account.
pub async fn complete(
    flow: &Flow<'_>,
    code: &str,
    verifier: Secret,
    choice: &Choice,
    now: Timestamp,
) -> Result<PlatformGrant, GrantError> {
    let (platform, endpoints, http) = (flow.platform, flow.endpoints, flow.http);
    if platform == "instagram" {
        return instagram(flow, code, now).await;
    }
    let client = client(flow);
    let mut exchange = client.exchange_code(AuthorizationCode::new(code.to_owned()));
    if pkce(platform) {
        exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()));
    }
    let token = exchange.request_async(http).await.map_err(|e| match e {
        oauth2::RequestTokenError::ServerResponse(r) => GrantError::Refused(format!(
            "the platform refused the authorization code: {}{}",
            r.error(),
            r.error_description().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        _ => GrantError::Unavailable("the platform's token endpoint gave no usable answer".into()),
    })?;
    let access = Secret::new(token.access_token().secret().to_owned());
    let expires_at = token.expires_in().map(|d| now.plus(d));
    let granted = token.scopes().map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let refresh = token.refresh_token().map(|r| Secret::new(r.secret().to_owned()));
    let mut credentials = vec![(CredentialKind::AccessToken, access.clone(), expires_at)];
    credentials.extend(refresh.map(|r| (CredentialKind::RefreshToken, r, None)));
    let (external_id, handle) = match platform {
        "x" => {
            let me = get(http, endpoint(&endpoints.api_base, &["2", "users", "me"]), &access).await?;
            let id = text(&me, "/data/id")?;
            (id, format!("@{}", text(&me, "/data/username")?))
        }
        "mastodon" => {
            let url = endpoint(&endpoints.api_base, &["api", "v1", "accounts", "verify_credentials"]);
            let me = get(http, url, &access).await?;
            let host = endpoints.api_base.host_str().unwrap_or_default().to_owned();
            (text(&me, "/id")?, format!("@{}@{host}", text(&me, "/username")?))
        }
        "linkedin" => {
            let org = choice.organization.clone().unwrap_or_default();
            let urn = format!("urn:li:organization:{org}");
            (urn.clone(), urn)
        }
        "facebook" => return facebook(flow, &access, choice, granted).await,
        other => return Err(GrantError::Refused(format!("{other} is not connected by OAuth"))),
    };
    Ok(PlatformGrant { external_id, handle, scopes: granted.unwrap_or_default(), credentials })
}

/// Facebook: the user token becomes a long-lived one, which lists the
/// Pages the user manages with their Page tokens; only the chosen Page's
/// token is kept.
async fn facebook(
    flow: &Flow<'_>,
    user_token: &Secret,
    choice: &Choice,
    granted: Option<Vec<String>>,
) -> Result<PlatformGrant, GrantError> {
    let (app, endpoints, http) = (flow.app, flow.endpoints, flow.http);
    let secret = app.client_secret.as_ref().map(Secret::expose).unwrap_or_default();
    let url = endpoint(&endpoints.api_base, &["oauth", "access_token"]);
    let query = [
        ("grant_type", "fb_exchange_token"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", secret),
        ("fb_exchange_token", user_token.expose()),
    ];
    let long = read(http.get(url.map_err(unavailable)?).query(&query)).await?;
    let long_lived = Secret::new(text(&long, "/access_token")?);
    let url = endpoint(&endpoints.api_base, &["me", "accounts"]);
    let pages = get(
        http,
        url.map(|mut u| {
            u.query_pairs_mut().append_pair("fields", "id,name,access_token");
            u
        }),
        &long_lived,
    )
    .await?;
    let list = pages.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
    let page = match &choice.page_id {
        Some(id) => list.iter().find(|p| p.get("id").and_then(Value::as_str) == Some(id.as_str())),
        None if list.len() == 1 => list.first(),
        None => None,
    };
    let Some(page) = page else {
        let names: Vec<String> = list
            .iter()
            .map(|p| {
                let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                format!("{} ({})", field("name"), field("id"))
            })
            .collect();
        return Err(GrantError::Refused(match &choice.page_id {
            Some(id) => {
                format!("the Facebook user does not manage Page {id}; they manage: {}", names.join(", "))
            }
            None => format!("choose one Page (page_id) of: {}", names.join(", ")),
        }));
    };
    let field = |k: &str| page.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(token)) = (field("id"), field("access_token")) else {
        return Err(GrantError::Refused(
            "Facebook gave no Page token: was the Page permission granted?".into(),
        ));
    };
    Ok(PlatformGrant {
        handle: field("name").unwrap_or_else(|| id.clone()),
        external_id: id,
        scopes: granted.unwrap_or_default(),
        // Long-lived Page tokens do not expire; the user token is not kept.
        credentials: vec![(CredentialKind::PageToken, Secret::new(token), None)],
    })
}

/// Instagram Login: the code gives a one-hour token (not RFC 6749-shaped,
/// so read here), exchanged for a 60-day one that renews itself.
async fn instagram(flow: &Flow<'_>, code: &str, now: Timestamp) -> Result<PlatformGrant, GrantError> {
    let (app, endpoints, http, redirect) = (flow.app, flow.endpoints, flow.http, flow.redirect);
    let secret = app.client_secret.as_ref().map(Secret::expose).unwrap_or_default();
    let form = [
        ("client_id", app.client_id.as_str()),
        ("client_secret", secret),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect.as_str()),
        ("code", code),
    ];
    let short = read(http.post(endpoints.token_url.clone()).form(&form)).await?;
    // Answered either flat or inside `data[0]`.
    let short = short.pointer("/data/0").cloned().unwrap_or(short);
    let short_token = Secret::new(text(&short, "/access_token")?);
    let granted = short.get("permissions").map(|p| match p {
        Value::String(s) => s.split(',').map(str::to_owned).collect(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    });
    let url = endpoint(&endpoints.api_base, &["access_token"]).map_err(unavailable)?;
    let query = [
        ("grant_type", "ig_exchange_token"),
        ("client_secret", secret),
        ("access_token", short_token.expose()),
    ];
    let long = read(http.get(url).query(&query)).await?;
    let token = Secret::new(text(&long, "/access_token")?);
    let expires_at = long.get("expires_in").and_then(Value::as_u64).map(|s| now.plus(Duration::from_secs(s)));
    let url = endpoint(&endpoints.api_base, &["me"]).map(|mut u| {
        u.query_pairs_mut().append_pair("fields", "user_id,username");
        u
    });
    let me = get(http, url, &token).await?;
    let id = me.get("user_id").or_else(|| me.get("id")).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let id =
        id.ok_or_else(|| GrantError::Unavailable("Instagram did not say which account this is".into()))?;
    Ok(PlatformGrant {
        external_id: id,
        handle: format!("@{}", text(&me, "/username")?),
        scopes: granted.unwrap_or_default(),
        // The long-lived token is its own refresh credential (ig_refresh_token).
        credentials: vec![
            (CredentialKind::AccessToken, token.clone(), expires_at),
            (CredentialKind::RefreshToken, token, None),
        ],
    })
}

/// Asks the platform to revoke the token (RFC 7009 where it has it).
/// Ok(false): the platform offers no revocation of this token.
pub async fn revoke(
    platform: &str,
    app: &OAuthApp,
    endpoints: &Endpoints,
    token: &Secret,
    kind: CredentialKind,
    http: &reqwest::Client,
) -> Result<bool, GrantError> {
    // Facebook and Instagram have none for the tokens kept (Facebook's needs the user token).
    let Some(url) = &endpoints.revoke_url else { return Ok(false) };
    let mut form = vec![("token", token.expose()), ("client_id", app.client_id.as_str())];
    let request = http.post(url.clone());
    let request = match app.client_secret.as_ref().map(Secret::expose) {
        Some(s) if crate::platforms::config::credentials_in_body(platform) => {
            form.push(("client_secret", s));
            request.form(&form)
        }
        Some(s) => {
            form.push(("token_type_hint", kind.as_str()));
            request.basic_auth(&app.client_id, Some(s)).form(&form)
        }
        None => request.form(&form),
    };
    read(request).await.map(|_| true)
}

fn unavailable(e: impl std::fmt::Display) -> GrantError {
    GrantError::Unavailable(e.to_string())
}

async fn get(
    http: &reqwest::Client,
    url: Result<Url, crate::platforms::PlatformError>,
    token: &Secret,
) -> Result<Value, GrantError> {
    read(http.get(url.map_err(unavailable)?).bearer_auth(token.expose())).await
}

/// Sends, and reads a JSON answer; a refusal carries the platform's message.
async fn read(request: reqwest::RequestBuilder) -> Result<Value, GrantError> {
    let response = request
        .send()
        .await
        .map_err(|_| GrantError::Unavailable("the platform could not be reached".into()))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = ["/error/message", "/error_description", "/error", "/message", "/detail", "/title"]
        .iter()
        .find_map(|p| body.pointer(p).and_then(Value::as_str))
        .unwrap_or("no reason given")
        .to_owned();
    if status.is_server_error() {
        Err(GrantError::Unavailable(format!("the platform answered {status}: {message}")))
    } else {
        Err(GrantError::Refused(format!("the platform answered {status}: {message}")))
    }
}

fn text(v: &Value, pointer: &str) -> Result<String, GrantError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| GrantError::Unavailable(format!("the platform's answer lacks {pointer}")))
}
