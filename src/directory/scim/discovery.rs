//! The discovery documents (RFC 7644 §4): ServiceProviderConfig,
//! ResourceTypes and Schemas.

use serde_json::{json, Value};

use super::schema::{self, ResourceType};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub fn service_provider_config(base: &str, max_results: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A bearer token created with `custodian scim token NAME`",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_type(base: &str, kind: ResourceType) -> Value {
    let extensions: Vec<Value> =
        kind.extension_urns().iter().map(|u| json!({"schema": u, "required": false})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": format!("/{}", kind.endpoint()),
        "description": format!("{}s provisioned by the identity provider", kind.name()),
        "schema": kind.core_urn(),
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())}
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    [ResourceType::User, ResourceType::Group].into_iter().map(|k| resource_type(base, k)).collect()
}

pub fn schemas(base: &str) -> Vec<Value> {
    schema::documents()
        .iter()
        .map(|doc| {
            let mut doc = doc.clone();
            let id = doc.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
            if let Value::Object(o) = &mut doc {
                o.insert(
                    "meta".into(),
                    json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}),
                );
            }
            doc
        })
        .collect()
}

/// A ListResponse around a complete list (discovery endpoints do not page).
pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
