//! `/scim/v2`: the SCIM 2.0 endpoint the IdP provisions through. Handlers
//! parse and answer; [`crate::directory::scim::Scim`] does the work. Every
//! error, including those raised by the layers in front (body limit,
//! timeout, unknown route, wrong method), leaves as an RFC 7644 error body.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value};

use crate::audit::Actor;
use crate::directory::scim::schema::{Projection, ResourceType};
use crate::directory::scim::{auth, discovery, Caller, ListQuery, ScimError};
use crate::directory::DirectorySource;
use crate::domain::Kind;
use crate::http::error::status_of;
use crate::http::extract::request_meta;
use crate::http::AppState;

const SCIM_JSON: &str = "application/scim+json";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route("/Users/{id}", get(get_user).put(user_write).patch(user_write).delete(user_write))
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route("/Groups/{id}", get(get_group).put(group_write).patch(group_write).delete(group_write))
        .route("/.search", post(search_all))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = status_of(self.kind);
        let mut body =
            json!({"schemas": [ERROR_URN], "status": status.as_u16().to_string(), "detail": self.detail});
        if let (Some(t), Value::Object(o)) = (self.scim_type, &mut body) {
            o.insert("scimType".into(), json!(t));
        }
        let mut response = scim_json(status, &body);
        if self.kind == Kind::Unauthenticated {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.kind == Kind::AuditUnavailable {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Checks the bearer token; a refused attempt is audited (never the token).
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if state.config.directory.source != DirectorySource::Scim {
        return ScimError::not_found(
            "SCIM provisioning is not enabled here (directory.source is not \"scim\")",
        )
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let meta = request_meta(&parts, &state.config.http.trusted_proxies);
    let presented = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let token = presented.and_then(|p| auth::authenticate(&state.config.directory.scim, p));
    let Some(token) = token else {
        let reason = if presented.is_some() { "unknown SCIM bearer token" } else { "no SCIM bearer token" };
        let source = crate::audit::throttle::Source::client(&meta);
        let gate = "scim_token";
        let recorded =
            state.journal.record_denial(gate, source, &meta, Actor::default(), gate, reason.into()).await;
        if let Err(e) = recorded {
            return ScimError::from(e).into_response();
        }
        return ScimError::unauthorized().into_response();
    };
    request = Request::from_parts(parts, body);
    request.extensions_mut().insert(Caller { token_name: token.to_owned(), meta });
    next.run(request).await
}

/// Outermost: whatever answered with an error on a SCIM path (the body
/// limit, the timeout, a method not allowed) answers in SCIM's format.
pub async fn error_format(request: Request, next: Next) -> Response {
    let is_scim = request.uri().path().starts_with("/scim/");
    let response = next.run(request).await;
    let status = response.status();
    let already = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(SCIM_JSON.as_bytes()));
    if !is_scim || already || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than this server accepts".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "this method is not supported on this endpoint".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    };
    let scim_type = (status == StatusCode::PAYLOAD_TOO_LARGE).then_some("tooMany");
    let mut body = json!({"schemas": [ERROR_URN], "status": status.as_u16().to_string(), "detail": detail});
    if let (Some(t), Value::Object(o)) = (scim_type, &mut body) {
        o.insert("scimType".into(), json!(t));
    }
    let mut out = scim_json(status, &body);
    // Every header the answer had (security headers, request id, Allow,
    // Retry-After, WWW-Authenticate) but its body's.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

async fn not_found() -> ScimError {
    ScimError::not_found("there is no SCIM endpoint here")
}

/// A JSON request body: `application/scim+json` or `application/json`.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ScimError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !(media.is_empty() || media == SCIM_JSON || media == "application/json") {
        return Err(ScimError::of_kind(Kind::UnsupportedMediaType, "send the body as application/scim+json"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

/// The query parameters of a list (RFC 7644 §3.4.2).
fn list_query(uri_query: Option<&str>) -> Result<ListQuery, ScimError> {
    let mut q = ListQuery::default();
    let (mut attributes, mut excluded) = (None, None);
    for (k, v) in url::form_urlencoded::parse(uri_query.unwrap_or("").as_bytes()) {
        let number = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::invalid_value(format!("{k} must be an integer, got {v:?}")))
        };
        match k.as_ref() {
            "filter" => q.filter = Some(v.into_owned()),
            "startIndex" => q.start_index = Some(number(&v)?),
            "count" => q.count = Some(number(&v)?),
            "attributes" => attributes = Some(v.into_owned()),
            "excludedAttributes" => excluded = Some(v.into_owned()),
            _ => {}
        }
    }
    q.projection = Projection::parse(attributes.as_deref(), excluded.as_deref());
    Ok(q)
}

fn projection(uri_query: Option<&str>) -> Result<Projection, ScimError> {
    list_query(uri_query).map(|q| q.projection)
}

/// The body of `POST .search` (RFC 7644 §3.4.3) as a list query.
fn search_query(body: &Value) -> Result<ListQuery, ScimError> {
    let text = |k: &str| -> Result<Option<String>, ScimError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) => {
                Ok(Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")))
            }
            Some(_) => Err(ScimError::invalid_value(format!("{k} has the wrong type"))),
        }
    };
    let number = |k: &str| -> Result<Option<i64>, ScimError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{k} must be an integer"))),
        }
    };
    Ok(ListQuery {
        filter: text("filter")?,
        start_index: number("startIndex")?,
        count: number("count")?,
        projection: Projection::parse(text("attributes")?.as_deref(), text("excludedAttributes")?.as_deref()),
    })
}

async fn service_provider_config(State(state): State<AppState>) -> Response {
    let doc = discovery::service_provider_config(state.scim.base(), state.config.directory.scim.max_results);
    scim_json(StatusCode::OK, &doc)
}

async fn resource_types(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &discovery::list(discovery::resource_types(state.scim.base())))
}

async fn resource_type(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match discovery::resource_types(state.scim.base()).into_iter().find(|r| r["id"] == id.as_str()) {
        Some(doc) => scim_json(StatusCode::OK, &doc),
        None => ScimError::not_found(format!("no resource type {id}")).into_response(),
    }
}

async fn schemas(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &discovery::list(discovery::schemas(state.scim.base())))
}

async fn schema_by_id(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match discovery::schemas(state.scim.base()).into_iter().find(|s| s["id"] == id.as_str()) {
        Some(doc) => scim_json(StatusCode::OK, &doc),
        None => ScimError::not_found(format!("no schema {id}")).into_response(),
    }
}

async fn list(state: &AppState, kind: ResourceType, q: Result<ListQuery, ScimError>) -> Response {
    let result = match q {
        Ok(q) => state.scim.list(kind, &q).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(body) => scim_json(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

async fn list_users(State(state): State<AppState>, request: Request<Body>) -> Response {
    list(&state, ResourceType::User, list_query(request.uri().query())).await
}

async fn list_groups(State(state): State<AppState>, request: Request<Body>) -> Response {
    list(&state, ResourceType::Group, list_query(request.uri().query())).await
}

async fn search_users(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    list(&state, ResourceType::User, json_body(&headers, &body).and_then(|b| search_query(&b))).await
}

async fn search_groups(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    list(&state, ResourceType::Group, json_body(&headers, &body).and_then(|b| search_query(&b))).await
}

async fn search_all(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = match json_body(&headers, &body).and_then(|b| search_query(&b)) {
        Ok(q) => state.scim.search_all(&q).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(body) => scim_json(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

async fn get_one(state: &AppState, kind: ResourceType, id: &str, query: Option<&str>) -> Response {
    let result = match projection(query) {
        Ok(p) => state.scim.get(kind, id, &p).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(body) => scim_json(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

async fn get_user(State(state): State<AppState>, Path(id): Path<String>, request: Request<Body>) -> Response {
    get_one(&state, ResourceType::User, &id, request.uri().query()).await
}

async fn get_group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request<Body>,
) -> Response {
    get_one(&state, ResourceType::Group, &id, request.uri().query()).await
}

/// The writes share one shape: parse the body, call the service, answer.
async fn write(
    state: &AppState,
    kind: ResourceType,
    method: Method,
    id: Option<&str>,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ScimError> {
    if method == Method::DELETE {
        state.scim.delete(kind, id.unwrap_or(""), caller).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let body = json_body(headers, body)?;
    match (method, id) {
        (Method::POST, None) => {
            let created = state.scim.create(kind, &body, caller).await?;
            let mut response = scim_json(StatusCode::CREATED, &created);
            if let Some(location) =
                created["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok())
            {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        (Method::PUT, Some(id)) => {
            Ok(scim_json(StatusCode::OK, &state.scim.replace(kind, id, &body, caller).await?))
        }
        (Method::PATCH, Some(id)) => match state.scim.patch(kind, id, &body, caller).await? {
            Some(resource) => Ok(scim_json(StatusCode::OK, &resource)),
            None => Ok(StatusCode::NO_CONTENT.into_response()),
        },
        _ => Err(ScimError::of_kind(Kind::MethodNotAllowed, "this method is not supported on this endpoint")),
    }
}

async fn user_write(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(caller): Extension<Caller>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&state, ResourceType::User, method, Some(&id), &caller, &headers, &body)
        .await
        .unwrap_or_else(|e| e.into_response())
}

async fn group_write(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(caller): Extension<Caller>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&state, ResourceType::Group, method, Some(&id), &caller, &headers, &body)
        .await
        .unwrap_or_else(|e| e.into_response())
}

async fn create_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&state, ResourceType::User, Method::POST, None, &caller, &headers, &body)
        .await
        .unwrap_or_else(|e| e.into_response())
}

async fn create_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&state, ResourceType::Group, Method::POST, None, &caller, &headers, &body)
        .await
        .unwrap_or_else(|e| e.into_response())
}
