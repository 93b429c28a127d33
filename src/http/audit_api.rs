//! `GET /api/v1/audit/events`: search the journal (auditors only; every
//! search is itself audited).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::action::Door;
use crate::audit::query::{self, EventFilter, ReadError};
use crate::audit::{AuditDecision, Event};
use crate::http::error::{rejection_words, Problem};
use crate::http::extract::Verified;
use crate::http::{openapi, AppState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events at or after this time.
    #[param(format = DateTime)]
    from: Option<String>,
    /// Events before this time.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Custodian user id of the actor.
    actor: Option<String>,
    /// An action name or dotted prefix (`auth` matches `auth.login`, `auth.mfa.verify`, ...).
    action: Option<String>,
    /// The account acted on.
    account: Option<String>,
    #[param(value_type = Option<AuditDecision>)]
    decision: Option<String>,
    /// The `X-Request-Id` of the request that caused the events.
    request_id: Option<String>,
    /// Where the previous page ended.
    #[param(pattern = "^[0-9]+$")]
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    /// `csv` answers CSV, as does `Accept: text/csv`.
    #[param(value_type = Option<openapi::Format>, inline)]
    format: Option<String>,
}

/// One page of events, as JSON.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuditEventPage)]
pub struct EventPage {
    /// As the journal holds them.
    #[schema(value_type = Vec<Event>)]
    events: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; null on the last.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// One row per event: seq, time, event_id, action, decision, user_id, issuer, subject, session,
/// client_ip, request_id, platform, account, object_id, and the event-specific detail as JSON.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "names the CSV answer's schema; `query::to_csv` writes the text")]
pub struct EventsCsv(String);

fn bad(why: &str) -> Problem {
    Problem::BadRequest(why.to_owned())
}

impl EventsQuery {
    fn filter(&self) -> Result<EventFilter, Problem> {
        let time = |v: &Option<String>, name: &str| {
            v.as_deref()
                .map(|s| query::parse_time(s).ok_or_else(|| bad(&format!("{name} must be an RFC 3339 time"))))
                .transpose()
        };
        let limit = self.limit.unwrap_or(100);
        if !(1..=query::MAX_LIMIT).contains(&limit) {
            return Err(bad(&format!("limit must be between 1 and {}", query::MAX_LIMIT)));
        }
        Ok(EventFilter {
            from: time(&self.from, "from")?,
            to: time(&self.to, "to")?,
            actor: self.actor.clone(),
            action_prefix: self.action.clone(),
            account: self.account.clone(),
            decision: self
                .decision
                .as_deref()
                .map(|d| {
                    AuditDecision::parse(d).ok_or_else(|| bad("decision must be allowed, denied or held"))
                })
                .transpose()?,
            request_id: self.request_id.clone(),
            after: self
                .cursor
                .as_deref()
                .map(|c| c.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| bad("cursor is not valid")))
                .transpose()?,
            limit,
        })
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/events",
    tag = "audit",
    operation_id = "searchAuditEvents",
    summary = "Search the audit journal (auditors only; every search is itself recorded)",
    description = "Events come in journal order. Page with `cursor`: pass the previous page's `next_cursor` \
        (JSON) or `X-Next-Cursor` header (CSV). An unknown parameter is refused (400).",
    params(EventsQuery),
    responses(
        (
            status = 200,
            description = "One page of events.",
            headers(("X-Next-Cursor" = String, description = "CSV only: the cursor for the next page, when there is one.")),
            content((EventPage = "application/json"), (inline(EventsCsv) = "text/csv")),
        ),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::ServerError),
        (status = 503, response = openapi::AuditUnavailable),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn events(
    State(state): State<AppState>,
    Verified(s): Verified,
    headers: HeaderMap,
    params: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(params) =
        params.map_err(|e| bad(&format!("invalid query: {}", rejection_words(&e.body_text()))))?;
    let filter = params.filter()?;
    let wants_csv = params.format.as_deref() == Some("csv")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.starts_with("text/csv"));
    if let Some(f) = params.format.as_deref().filter(|f| *f != "csv" && *f != "json") {
        return Err(bad(&format!("format {f:?} is not supported (json or csv)")));
    }
    let format = if wants_csv { "csv" } else { "json" };
    // Policy decides who reads (and who exports) the journal; the search records its own answer.
    let action = if wants_csv { "audit.export" } else { "audit.read" };
    let is_auditor = state.actions.allows(&s.caller(Door::Api), action);
    let page = query::audited_search(
        &state.journal,
        &state.db,
        &s.meta,
        s.principal.actor(),
        is_auditor,
        &filter,
        format,
    )
    .await
    .map_err(|e| match e {
        ReadError::NotAuditor => Problem::NotAuditor,
        ReadError::Audit(e) => e.into(),
    })?;
    let next = page.next_cursor.map(|c| c.to_string());
    if wants_csv {
        let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], query::to_csv(&page.events))
            .into_response();
        if let Some(next) = next.and_then(|n| header::HeaderValue::from_str(&n).ok()) {
            response.headers_mut().insert("x-next-cursor", next);
        }
        return Ok(response);
    }
    Ok(Json(EventPage { events: page.events, next_cursor: next }).into_response())
}
