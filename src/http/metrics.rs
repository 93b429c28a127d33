//! `GET /metrics`: Prometheus text exposition. Counts only; nothing here
//! names a user, an account or a request. With `[metrics] bearer_token`, a
//! scrape must present it; with `[metrics] listen`, it is served on that
//! address only (see `crate::http::metrics_router`).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::http::AppState;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

/// Whether the request may read the metrics: no token configured, or this one presented.
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.config.metrics.bearer_token else {
        return true;
    };
    let presented = crate::http::extract::bearer(headers).and_then(Result::ok).unwrap_or("");
    bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes()))
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        let reason = "/metrics needs the bearer token configured in [metrics] (Authorization: Bearer ...)\n";
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], reason).into_response();
    }
    let stats = state.journal.stats();
    let mut out = String::new();
    metric(
        &mut out,
        "custodian_audit_journal_up",
        "gauge",
        "1 when the audit journal accepts writes",
        u8::from(state.journal.is_healthy()),
    );
    metric(
        &mut out,
        "custodian_audit_events",
        "gauge",
        "Events in the audit journal",
        stats.events.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "custodian_audit_checkpointed_events",
        "gauge",
        "Events covered by the newest signed checkpoint",
        stats.checkpointed.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "custodian_audit_batches_total",
        "counter",
        "Committed journal transactions (group commits)",
        stats.batches.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "custodian_audit_write_failures_total",
        "counter",
        "Failed journal write attempts",
        stats.write_failures.load(Ordering::Relaxed),
    );
    let refresh = &state.refresher.stats;
    metric(
        &mut out,
        "custodian_token_refreshes_total",
        "counter",
        "Platform access tokens refreshed",
        refresh.refreshed.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "custodian_token_refresh_failures_total",
        "counter",
        "Refreshes the platform refused (the account then needs reconnecting)",
        refresh.failed.load(Ordering::Relaxed),
    );
    match state.stream.backlog(&state.db).await {
        Ok(backlog) => out.push_str(&crate::audit::stream::prometheus(&backlog)),
        Err(e) => tracing::warn!(error = %e, "cannot measure the SIEM stream backlog"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
