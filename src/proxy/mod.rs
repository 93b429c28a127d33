//! The pass-through proxy, `/proxy/{account}/{platform path}`, for tools
//! that speak a platform's own API. Before the one action path sees a
//! request, this module checks it and names it:
//!
//! - the path is below the platform's API base only: no percent-encoding
//!   (so no encoded slash, dot or CR/LF), no `..` or `.` segment, no empty
//!   segment (so no doubled slash, no `https://host` smuggled in), no
//!   backslash; a CR or LF in the query is refused too;
//! - no header that would steer routing (`X-HTTP-Method-Override`,
//!   `X-Original-URL`, `X-Rewrite-URL`; `X-Forwarded-Host` and `Forwarded`
//!   unless from a trusted proxy; a request target naming another host);
//! - the platform's route table names the action (`post.publish`, not
//!   `POST /2/tweets`), by the path or, where the path does not say, by
//!   the request's parameters; anything else is refused;
//! - the query and body are read as the platform will read them
//!   ([`request`]): what cannot be read alike is refused, and what a
//!   publishing action will publish is what the intent records;
//! - only allow-listed headers go on: never the caller's `Authorization`
//!   or cookies (the sealed credential is injected by the dispatcher).

pub mod effects;
pub mod request;
pub mod routes;

use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue};

use crate::action::{Kind, Refusal};
use crate::domain::Forward;
use crate::domain::{Account, PolicyAction};
use crate::proxy::request::Readable;
use crate::proxy::routes::Names;

/// The actions whose request is content the organization publishes: the
/// intent records what the platform will read of it.
const PUBLISHING: [PolicyAction; 3] =
    [PolicyAction::PostPublish, PolicyAction::CommentReply, PolicyAction::PostEdit];

/// Request headers passed on to the platform; every other one is dropped.
const REQUEST_HEADERS: [&str; 7] = [
    "content-type",
    "accept",
    "accept-language",
    "content-language",
    "idempotency-key",
    "linkedin-version",
    "x-restli-protocol-version",
];

/// Headers that ask a server to treat the request as another one.
const STEERING: [&str; 4] =
    ["x-http-method-override", "x-method-override", "x-original-url", "x-rewrite-url"];

/// A request that passed the checks, before its body is read.
#[derive(Debug)]
pub struct Checked {
    pub account_id: String,
    /// Below the API base, starting with `/`.
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

fn refused(rule: &str, reason: String) -> Refusal {
    Refusal::pass_through(Kind::BadPassThrough, rule, reason)
}

/// The account segment of a proxy path, if there is one (for recording a refusal).
pub fn account_of(path: &str) -> &str {
    path.strip_prefix("/proxy/").and_then(|rest| rest.split('/').next()).unwrap_or("")
}

/// Checks the request line and headers; `trusted_peer`: the peer is a configured trusted proxy.
pub fn check(parts: &Parts, trusted_peer: bool) -> Result<Checked, Refusal> {
    let raw = parts.uri.path();
    let rest = raw.strip_prefix("/proxy/").unwrap_or("");
    let (account_id, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, String::new()),
    };
    let account_ok = (1..=64).contains(&account_id.len())
        && account_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if !account_ok || path.len() < 2 {
        return Err(refused("proxy:path", "the path must be /proxy/{account}/{platform API path}".into()));
    }
    check_path(&path)?;
    let query = parts.uri.query().map(str::to_owned);
    if let Some(q) = &query {
        let decoded = percent_encoding::percent_decode_str(q).collect::<Vec<u8>>();
        if decoded.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(refused("proxy:query", "the query holds a CR, LF or NUL character".into()));
        }
    }
    check_headers(parts, trusted_peer)?;
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| REQUEST_HEADERS.contains(&name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    Ok(Checked { account_id: account_id.to_owned(), path, query, headers })
}

fn check_path(path: &str) -> Result<(), Refusal> {
    if path.contains('%') {
        return Err(refused(
            "proxy:path",
            "percent-encoded characters are refused in a pass-through path (an encoded slash, dot or line break could change where it goes)".into(),
        ));
    }
    if path.contains('\\') {
        return Err(refused("proxy:path", "a backslash is refused in a pass-through path".into()));
    }
    for segment in path.split('/').skip(1) {
        match segment {
            "" => {
                return Err(refused(
                    "proxy:path",
                    "an empty path segment (a doubled slash, or a URL inside the path) is refused".into(),
                ))
            }
            "." | ".." => {
                return Err(refused(
                    "proxy:path",
                    "a '.' or '..' segment is refused: no path may leave the platform's API".into(),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_headers(parts: &Parts, trusted_peer: bool) -> Result<(), Refusal> {
    let headers = &parts.headers;
    if let Some(name) = STEERING.iter().find(|n| headers.contains_key(**n)) {
        return Err(refused(
            "proxy:header",
            format!("the {name} header is refused: it would change the request"),
        ));
    }
    if !trusted_peer {
        if let Some(name) = ["x-forwarded-host", "forwarded"].iter().find(|n| headers.contains_key(**n)) {
            return Err(refused(
                "proxy:header",
                format!("the {name} header is accepted only from a trusted proxy"),
            ));
        }
    }
    let hosts: Vec<&HeaderValue> = headers.get_all(header::HOST).iter().collect();
    if hosts.len() > 1 {
        return Err(refused("proxy:host", "the request carries more than one Host header".into()));
    }
    if let (Some(authority), Some(host)) = (parts.uri.authority(), hosts.first()) {
        if authority.as_str().as_bytes() != host.as_bytes() {
            return Err(refused(
                "proxy:host",
                "the request target names another host than the Host header".into(),
            ));
        }
    }
    Ok(())
}

impl Checked {
    /// The forward for `account`, if its platform's route table names the request.
    pub fn forward(
        self,
        account: &Account,
        method: &axum::http::Method,
        body: axum::body::Bytes,
    ) -> Result<Forward, Refusal> {
        if routes::table(account.platform.as_str()).is_empty() {
            let reason = format!(
                "{} accounts have no platform API to pass through; use /api/v1/accounts/{}/...",
                account.platform, account.id
            );
            return Err(Refusal::pass_through(Kind::RouteNotAllowed, "proxy:route", reason));
        }
        let segments: Vec<&str> = self.path.split('/').skip(1).collect();
        let not_in_table = |why: String| {
            Refusal::pass_through(
                Kind::RouteNotAllowed,
                "proxy:route",
                format!(
                    "{method} {} is not in the {} pass-through route table{why}",
                    self.path, account.platform
                ),
            )
        };
        let route = routes::route_for(account.platform.as_str(), method, &segments, &account.external_id)
            .ok_or_else(|| not_in_table(String::new()))?;
        let mut types = self.headers.iter().filter(|(n, _)| *n == header::CONTENT_TYPE);
        let content_type = match (types.next(), types.next()) {
            (Some(_), Some(_)) => {
                return Err(refused("proxy:header", "the request carries more than one Content-Type".into()))
            }
            (one, _) => one.map(|(_, v)| v.to_str().unwrap_or("\u{fffd}")),
        };
        let readable = Readable::read(self.query.as_deref(), content_type, &body, route.body)?;
        if matches!(account.platform.as_str(), "facebook" | "instagram") {
            effects::graph_fields(&readable)
                .map_err(|reason| Refusal::pass_through(Kind::RouteNotAllowed, "proxy:fields", reason))?;
        }
        let action = match &route.names {
            Names::Action(action) => *action,
            Names::ByRequest { name, .. } => {
                name(&readable, account).map_err(|why| not_in_table(format!(" as sent: {why}")))?
            }
        };
        let content = PUBLISHING.contains(&action).then(|| readable.content());
        Ok(Forward {
            action,
            method: method.clone(),
            path: self.path,
            query: self.query,
            headers: self.headers,
            body,
            content,
            media: readable.has_media(),
        })
    }
}
