//! Searching the journal: filters, cursor paging, CSV. Reading the journal
//! is access to possible PHI, so callers audit every query they run.

use serde::Serialize;

use crate::audit::{AuditDecision, AuditError};
use crate::storage::Db;

pub const MAX_LIMIT: i64 = 1000;

/// A validated search.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub actor: Option<String>,
    pub action_prefix: Option<String>,
    pub account: Option<String>,
    pub decision: Option<AuditDecision>,
    pub request_id: Option<String>,
    /// Return events after this sequence number.
    pub after: Option<i64>,
    pub limit: i64,
}

impl EventFilter {
    /// A compact description for the `audit.read` event.
    pub fn describe(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub struct Page {
    pub events: Vec<serde_json::Value>,
    pub next_cursor: Option<i64>,
}

enum Param {
    Int(i64),
    Text(String),
}

/// Runs the search; events come back in journal order.
pub async fn search(db: &Db, f: &EventFilter) -> Result<Page, AuditError> {
    // Each condition carries its own parameters, so clause and binding cannot drift apart.
    let mut conditions: Vec<(&str, Vec<Param>)> = Vec::new();
    if let Some(v) = f.from {
        conditions.push(("time >= ?", vec![Param::Int(v)]));
    }
    if let Some(v) = f.to {
        conditions.push(("time < ?", vec![Param::Int(v)]));
    }
    if let Some(v) = &f.actor {
        conditions.push(("user_id = ?", vec![Param::Text(v.clone())]));
    }
    if let Some(v) = &f.action_prefix {
        // A dotted prefix matches the name itself and everything below it.
        let name = v.trim_end_matches('.');
        let pattern = format!("{}.%", name.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        conditions.push((
            "(action = ? OR action LIKE ? ESCAPE '\\')",
            vec![Param::Text(name.to_owned()), Param::Text(pattern)],
        ));
    }
    if let Some(v) = &f.account {
        conditions.push(("account = ?", vec![Param::Text(v.clone())]));
    }
    if let Some(v) = f.decision {
        conditions.push(("decision = ?", vec![Param::Text(v.as_str().to_owned())]));
    }
    if let Some(v) = &f.request_id {
        conditions.push(("request_id = ?", vec![Param::Text(v.clone())]));
    }
    if let Some(v) = f.after {
        conditions.push(("seq > ?", vec![Param::Int(v)]));
    }
    let mut sql = String::from("SELECT seq, body FROM audit_events WHERE body IS NOT NULL");
    let mut params = Vec::new();
    for (clause, values) in conditions {
        sql.push_str(" AND ");
        let mut parts = clause.split('?');
        sql.push_str(parts.next().unwrap_or_default());
        for (part, value) in parts.zip(values) {
            params.push(value);
            sql.push_str(&format!("${}{part}", params.len()));
        }
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT ${}", params.len() + 1));
    let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
        };
    }
    let rows = q.bind(f.limit + 1).fetch_all(db.pool()).await?;
    let more = rows.len() as i64 > f.limit;
    let rows: Vec<_> = rows.into_iter().take(usize::try_from(f.limit).unwrap_or(0)).collect();
    let next_cursor = if more { rows.last().map(|(seq, _)| *seq) } else { None };
    let events = rows
        .into_iter()
        .map(|(_, body)| serde_json::from_str(&body))
        .collect::<Result<Vec<serde_json::Value>, _>>()?;
    Ok(Page { events, next_cursor })
}

const CSV_COLUMNS: &[(&str, &[&str])] = &[
    ("seq", &["seq"]),
    ("time", &["time"]),
    ("event_id", &["event_id"]),
    ("action", &["action"]),
    ("decision", &["decision"]),
    ("user_id", &["actor", "user_id"]),
    ("issuer", &["actor", "issuer"]),
    ("subject", &["actor", "subject"]),
    ("session", &["actor", "session_handle"]),
    ("client_ip", &["request", "client_ip"]),
    ("request_id", &["request", "request_id"]),
    ("platform", &["target", "platform"]),
    ("account", &["target", "account"]),
    ("object_id", &["target", "object_id"]),
];

/// CSV with one row per event; the event-specific detail is a JSON column.
pub fn to_csv(events: &[serde_json::Value]) -> String {
    let mut out = String::new();
    let header: Vec<&str> = CSV_COLUMNS.iter().map(|(name, _)| *name).chain(["detail"]).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for e in events {
        let mut cells: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|(_, path)| {
                let v = path.iter().fold(e, |v, k| &v[*k]);
                match v {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            })
            .collect();
        cells.push(e["kind"].to_string());
        out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// RFC 4180 quoting, and a leading quote for cells a spreadsheet would run
/// as a formula.
pub fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("only auditors may read the audit journal")]
    NotAuditor,
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Runs a search for `actor`, recording it (or its refusal) in the journal
/// before any result is returned.
pub async fn audited_search(
    journal: &crate::audit::Journal,
    db: &Db,
    meta: &crate::audit::RequestMeta,
    actor: crate::audit::Actor,
    is_auditor: bool,
    filter: &EventFilter,
    format: &str,
) -> Result<Page, ReadError> {
    use crate::audit::EventKind;
    if !is_auditor {
        journal.record(meta, actor, EventKind::AuditReadDenied { query: filter.describe() }).await?;
        return Err(ReadError::NotAuditor);
    }
    let page = search(db, filter).await?;
    let kind = EventKind::AuditRead {
        query: filter.describe(),
        returned: page.events.len(),
        format: format.to_owned(),
    };
    journal.record(meta, actor, kind).await?;
    Ok(page)
}
