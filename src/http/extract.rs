//! Request extractors: request metadata for audit, and the signed-in caller
//! (with or without a passed second factor). Also the cookies Custodian sets
//! and the CSRF guard that every state-changing cookie request passes.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::action::{Door, Gated, Refusal};
use crate::audit::throttle::Source;
use crate::audit::RequestMeta;
use crate::auth::{SessionHolder, SessionPrincipal, TokenPrincipal};
use crate::http::error::Problem;
use crate::http::AppState;
use crate::identity::SessionId;

pub const LOGIN_FLOW_COOKIE: &str = "custodian_login";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf";

/// Request id, client address and user agent, for audit events.
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Meta(request_meta(parts, &state.config.http.trusted_proxies)))
    }
}

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName, max: usize) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    Some(value.chars().filter(|c| !c.is_control()).take(max).collect())
}

pub fn request_meta(parts: &Parts, trusted_proxies: &[ipnet::IpNet]) -> RequestMeta {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    RequestMeta {
        request_id: header_text(&parts.headers, "x-request-id", 64),
        client_ip: peer.map(|ip| client_ip(ip, &parts.headers, trusted_proxies).to_string()),
        user_agent: header_text(&parts.headers, header::USER_AGENT, 256),
    }
}

/// Whether the request's peer is a configured trusted proxy.
pub fn peer_is_trusted(parts: &Parts, trusted: &[ipnet::IpNet]) -> bool {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    peer.is_some_and(|ip| trusted.iter().any(|net| net.contains(&ip)))
}

/// The client's address: the peer, unless the peer is a configured trusted
/// proxy, in which case the nearest untrusted hop in `X-Forwarded-For`
/// (entries a client wrote itself further left are not believed).
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` for a value; `max_age` of `None` makes a browser-session cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut c = cookie::Cookie::build((name, value))
        .path(path.to_owned())
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure);
    if let Some(secs) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(secs));
    }
    HeaderValue::from_str(&c.build().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(name: &str, path: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", path, secure, Some(0))
}

fn session_id(parts: &Parts, state: &AppState) -> Option<SessionId> {
    read_cookie(&parts.headers, &state.config.session_cookie_name()).and_then(|raw| SessionId::parse(&raw))
}

fn wants_json(parts: &Parts) -> bool {
    crate::http::error::wants_json(parts.uri.path())
}

/// A signed-in caller whose second factor may still be due. Only the
/// second-factor pages, `/api/v1/me` and logout accept it.
pub struct SignedIn {
    pub id: SessionId,
    pub principal: SessionPrincipal,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(id) = session_id(parts, state) else { return Err(no_session(parts, state).await) };
        let meta = request_meta(parts, &state.config.http.trusted_proxies);
        let principal = state.identity.principal(&id, &meta).await?;
        Ok(SignedIn { id, principal, meta })
    }
}

/// The answer to a request without a session on a route that takes one:
/// not signed in; or, with an API token, its owner is told that the route
/// takes a signed-in browser session (a token cannot be scoped to it), the
/// refusal recorded. A token that is not live is refused as such.
async fn no_session(parts: &Parts, state: &AppState) -> Problem {
    let Some(Ok(presented)) = bearer(&parts.headers) else { return Problem::NotSignedIn };
    let meta = request_meta(parts, &state.config.http.trusted_proxies);
    let principal = match state.identity.token_principal(presented, &meta).await {
        Ok(principal) => principal,
        Err(e) => return e.into(),
    };
    let route = parts.extensions.get::<MatchedPath>().map_or(parts.uri.path(), |p| p.as_str());
    let what = format!("{} {route}", parts.method);
    let caller = Gated::token(&principal, meta, Door::Token);
    let refusal = Refusal::session_only(&principal.token, &what);
    state.actions.refuse(&caller, &what, "custodian", refusal).await.into()
}

impl SignedIn {
    /// The signed-in caller as the action path takes them, at `door`.
    pub fn caller(&self, door: Door) -> Gated<'_> {
        Gated::session(&self.principal, self.meta.clone(), door)
    }
}

/// The session's holder without the directory gate: only sign-out takes
/// it, so that a user whose access ended can still end their session.
pub struct SessionOnly {
    pub id: SessionId,
    pub holder: SessionHolder,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for SessionOnly {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let id = session_id(parts, state).ok_or(Problem::NotSignedIn)?;
        let meta = request_meta(parts, &state.config.http.trusted_proxies);
        let holder = state.identity.session_principal(&id, &meta).await?;
        Ok(SessionOnly { id, holder, meta })
    }
}

/// A signed-in caller who has passed the second factor in this session.
pub struct Verified(pub SignedIn);

impl FromRequestParts<AppState> for Verified {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if !signed_in.principal.session.mfa_passed() {
            let source = Source::Named(format!("user:{}", signed_in.principal.user().id));
            let reason = "the second factor has not been passed in this session".to_owned();
            let actor = signed_in.principal.actor();
            let meta = &signed_in.meta;
            let recorded =
                state.journal.record_denial("mfa", source, meta, actor, "second_factor", reason).await;
            recorded?;
            return Err(Problem::MfaRequired);
        }
        Ok(Verified(signed_in))
    }
}

/// Who acts on an action route: a session that passed its second factor,
/// or an API token (`Authorization: Bearer cst_...`), whose owner passes
/// the directory gate on every call.
pub enum Acting {
    Session(Box<SignedIn>),
    Token(Box<TokenPrincipal>, RequestMeta),
}

impl Acting {
    /// The caller as the action path takes them; a session came through
    /// `door`, a token through the token door (or the proxy's).
    pub fn caller(&self, door: Door) -> Gated<'_> {
        match self {
            Acting::Session(s) => s.caller(door),
            Acting::Token(t, meta) => Gated::token(t, meta.clone(), door),
        }
    }
}

/// The bearer credential of a request, if it carries one (`None`: none;
/// `Some(Err)`: an `Authorization` header that is not a bearer token).
pub fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let token = value.to_str().ok().and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    Some(token.filter(|t| !t.is_empty()).ok_or(()))
}

impl FromRequestParts<AppState> for Acting {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = match bearer(&parts.headers) {
            None => {
                return Verified::from_request_parts(parts, state)
                    .await
                    .map(|Verified(s)| Acting::Session(Box::new(s)))
            }
            Some(Err(())) => {
                let why = "the Authorization header must be \"Bearer <API token>\"".to_owned();
                return Err(Problem::BadRequest(why));
            }
            Some(Ok(t)) => t,
        };
        let meta = request_meta(parts, &state.config.http.trusted_proxies);
        let principal = state.identity.token_principal(presented, &meta).await?;
        Ok(Acting::Token(Box::new(principal), meta))
    }
}

/// Every state-changing request that carries the session cookie must carry
/// the session's CSRF token, in the `X-CSRF-Token` header or a `csrf` form
/// field. Enforced here, for every route, so no handler can forget it. Pages
/// put it in their forms; a script holding the cookie reads it from
/// `GET /api/v1/me` (`session.csrf_token`).
///
/// A few GET routes act too (`routes::SAME_ORIGIN_GETS`), and `SameSite=Lax`
/// lets the session cookie ride along on a top-level navigation from another
/// site. Those, when the cookie authenticates them, must say `Sec-Fetch-Site:
/// same-origin` (or `none`: the address bar, a bookmark). Every browser
/// released since 2023 sends the header; a request without it is a tool
/// (curl with the session cookie, as the README shows) and passes, unless it
/// carries an `Origin` (an older browser's cross-origin request), which is
/// refused. Requests with a bearer token, or without the cookie, are not
/// ambient browser requests and pass.
pub async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if is_cross_site_action(&state, &request) {
            return Problem::CrossSite.into_response();
        }
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Some(raw) = read_cookie(&parts.headers, &state.config.session_cookie_name()) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let json = wants_json(&parts);
    let reject = || Problem::CsrfFailed { api: json }.into_response();
    let Some(id) = SessionId::parse(&raw) else {
        return reject();
    };
    if let Some(token) = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if id.csrf_matches(token) {
            next.run(Request::from_parts(parts, body)).await
        } else {
            reject()
        };
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return reject();
    }
    let bytes = match axum::body::to_bytes(body, state.config.http.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return Problem::PayloadTooLarge.into_response(),
    };
    let token =
        url::form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
    match token {
        Some(t) if id.csrf_matches(&t) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        _ => reject(),
    }
}

/// A cookie-authenticated GET to an acting route that a browser did not send from this origin.
fn is_cross_site_action(state: &AppState, request: &Request) -> bool {
    let acting = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|p| crate::http::routes::SAME_ORIGIN_GETS.contains(&p.as_str()));
    let headers = request.headers();
    if !acting
        || bearer(headers).is_some()
        || read_cookie(headers, &state.config.session_cookie_name()).is_none()
    {
        return false;
    }
    match headers.get("sec-fetch-site").map(|v| v.to_str().unwrap_or("")) {
        Some(site) => !matches!(site, "same-origin" | "none"),
        None => headers.contains_key(axum::http::header::ORIGIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        // From a trusted proxy: the nearest untrusted hop; a spoofed left entry is ignored.
        assert_eq!(
            client_ip(proxy, &headers("1.2.3.4, 203.0.113.9, 10.0.0.7"), &trusted).to_string(),
            "203.0.113.9"
        );
        // From anyone else: the peer, whatever the header says.
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(stranger, &headers("1.2.3.4"), &trusted), stranger);
        // No trusted proxies configured: the peer.
        assert_eq!(client_ip(proxy, &headers("1.2.3.4"), &[]), proxy);
        // A garbage header: the peer.
        assert_eq!(client_ip(proxy, &headers("not-an-ip"), &trusted), proxy);
    }
}
