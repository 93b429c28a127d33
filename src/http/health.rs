//! `/healthz` (the process is up) and `/readyz` (the database is reachable
//! and its schema current, and the audit journal writable).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::http::AppState;
use crate::storage::StorageError;

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.db.check_ready().await {
        Ok(()) if !state.journal.is_healthy() => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unavailable", "reason": "the audit journal cannot be written; audited actions are refused" }),
            ),
        ),
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            let reason = match e {
                StorageError::MigrationsPending(_) => "database migrations are pending",
                _ => "the database is unreachable",
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "reason": reason })))
        }
    }
}
