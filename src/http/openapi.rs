//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the JSON
//! API, a checked-in file (`openapi.json`, next to this module). It holds
//! no secret, so it is served without authentication.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The document, as checked in.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_json_and_openapi_3_1() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
