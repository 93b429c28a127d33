//! `/proxy/{account}/{platform path}`: the pass-through door. Only an API
//! token opens it; the request is checked and named by the proxy's route
//! table (`crate::proxy`), then takes the one action path like every other
//! action, and the platform's answer streams back with only allow-listed
//! headers and the audit event's id. Every refusal after the token is
//! recorded, with the caller.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::action::{Door, Executed, Kind, Refusal};
use crate::domain::Action;
use crate::http::actions::AUDIT_EVENT_HEADER;
use crate::http::extract::{bearer, peer_is_trusted, request_meta, Acting};
use crate::http::AppState;
use crate::proxy;

/// Any method, any path below `/proxy/`.
pub async fn pass_through(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    if bearer(&parts.headers).is_none() {
        return token_required(&state, &parts).await;
    }
    let acting = match Acting::from_request_parts(&mut parts, &state).await {
        Ok(acting) => acting,
        Err(rejection) => return rejection.into_response(),
    };
    match forward(&state, &acting, &parts, body).await {
        Ok(performed) => performed.into_response(),
        Err(refusal) => {
            // A refusal after the intent names it, as the platform's answers do.
            let intent = refusal.audit_event_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok());
            let mut response = refusal.into_response();
            if let Some(id) = intent {
                response.headers_mut().insert(AUDIT_EVENT_HEADER, id);
            }
            response
        }
    }
}

async fn forward(state: &AppState, acting: &Acting, parts: &Parts, body: Body) -> Result<Executed, Refusal> {
    let caller = acting.caller(Door::Proxy);
    let path = parts.uri.path();
    let record = |refusal| state.actions.refuse(&caller, "proxy", proxy::account_of(path), refusal);
    let trusted = peer_is_trusted(parts, &state.config.http.trusted_proxies);
    let checked = match proxy::check(parts, trusted) {
        Ok(checked) => checked,
        Err(refusal) => return Err(record(refusal).await),
    };
    let limit = state.config.http.proxy_body_limit_bytes;
    let too_large = || {
        let reason = format!("the body is larger than the {limit} bytes the proxy accepts");
        Refusal::pass_through(Kind::PayloadTooLarge, "proxy:body-limit", reason)
    };
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(record(too_large()).await);
    }
    // A body that trickles in is cut off at the request time limit, as elsewhere.
    let read = tokio::time::timeout(state.config.http.request_timeout, axum::body::to_bytes(body, limit));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(record(too_large()).await),
        Err(_) => {
            let reason = "the body did not arrive within the request time limit".to_owned();
            return Err(record(Refusal::pass_through(Kind::RequestTimeout, "proxy:timeout", reason)).await);
        }
    };
    // Read once the body is in, as the action path would: policy sees the account as it is now.
    let found = state.accounts.get(&checked.account_id).await?;
    let Some(account) = found else {
        return Err(record(Refusal::unknown_account(&checked.account_id)).await);
    };
    let forward = match checked.forward(&account, &parts.method, bytes) {
        Ok(forward) => forward,
        Err(refusal) => return Err(record(refusal).await),
    };
    state.actions.perform(&caller, account, Action::Forward(Box::new(forward))).await
}

/// No API token: the proxy takes no session; the attempt is recorded (throttled per source).
async fn token_required(state: &AppState, parts: &Parts) -> Response {
    let meta = request_meta(parts, &state.config.http.trusted_proxies);
    let source = crate::audit::throttle::Source::client(&meta);
    let reason = "a pass-through request carried no API token".to_owned();
    let recorded = state.journal.record_denial("proxy", source, &meta, Default::default(), "token", reason);
    if let Err(e) = recorded.await {
        return Refusal::from(e).into_response();
    }
    let mut response = Refusal::token_required().into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
    response
}
