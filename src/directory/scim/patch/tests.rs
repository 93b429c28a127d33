//! Unit tests of PATCH parsing and application: RFC 7644 examples, the Entra ID
//! and Okta dialects, mutability and atomicity.

use super::*;
use serde_json::json;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const MEMBER: &str = "2819c223-7f76-453a-919d-413861904646";

fn body(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP_URN], "Operations": ops })
}

fn patch(resource: &mut Value, ops: Value) -> Result<(), PatchError> {
    let ops = parse_request(&body(ops))?;
    apply(resource, &ops, &[])
}

fn patched(mut resource: Value, ops: Value) -> Value {
    patch(&mut resource, ops).unwrap();
    resource
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "2819c223",
        "externalId": "bjensen",
        "userName": "bjensen",
        "name": { "familyName": "Jensen", "givenName": "Barbara" },
        "active": true,
        "emails": [
            { "value": "bjensen@example.com", "type": "work", "primary": true },
            { "value": "babs@jensen.org", "type": "home" }
        ],
        "addresses": [
            { "type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood" },
            { "type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood" }
        ],
        "meta": { "resourceType": "User", "version": "W/\"a330bc54f0671c9\"" },
        ENTERPRISE: { "department": "Tour Operations", "employeeNumber": "701984" }
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [
            { "value": MEMBER, "display": "Babs Jensen", "type": "User" },
            { "value": "902c246b", "display": "Mandy Pepperidge", "type": "User" }
        ],
        "meta": { "resourceType": "Group" }
    })
}

fn member_ids(resource: &Value) -> Vec<&str> {
    resource["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|v| v["value"].as_str()).collect())
        .unwrap_or_default()
}

// --- parse_request --------------------------------------------------------------------------

#[test]
fn parses_ops_in_any_case() {
    let ops = parse_request(&body(json!([
        { "op": "Add", "path": "title", "value": "x" },
        { "op": "REPLACE", "value": { "title": "y" } },
        { "op": "remove", "path": "title" }
    ])))
    .unwrap();
    let kinds: Vec<OpKind> = ops.iter().map(|o| o.op).collect();
    assert_eq!(kinds, [OpKind::Add, OpKind::Replace, OpKind::Remove]);
    assert_eq!(ops[0], PatchOp { op: OpKind::Add, path: Some("title".into()), value: Some(json!("x")) });
    assert_eq!(ops[1].path, None);
    assert_eq!(ops[2].value, None);
}

#[test]
fn member_names_match_case_insensitively() {
    let request = json!({
        "SCHEMAS": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
        "operations": [{ "OP": "add", "PATH": "title", "VALUE": "x" }]
    });
    let ops = parse_request(&request).unwrap();
    assert_eq!(ops, [PatchOp { op: OpKind::Add, path: Some("title".into()), value: Some(json!("x")) }]);
}

#[test]
fn blank_or_null_paths_mean_no_path() {
    let ops = parse_request(&body(json!([
        { "op": "replace", "path": "", "value": { "a": 1 } },
        { "op": "replace", "path": null, "value": { "a": 1 } }
    ])))
    .unwrap();
    assert!(ops.iter().all(|o| o.path.is_none()));
}

#[test]
fn the_body_must_be_a_patch_request() {
    let ops = json!([{ "op": "add", "path": "a", "value": 1 }]);
    let cases = [
        json!([]),
        json!({ "Operations": ops }),
        json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": ops }),
        json!({ "schemas": PATCH_OP_URN, "Operations": ops }),
        json!({ "schemas": [PATCH_OP_URN] }),
        json!({ "schemas": [PATCH_OP_URN], "Operations": {} }),
        json!({ "schemas": [PATCH_OP_URN], "Operations": [] }),
    ];
    for request in cases {
        let err = parse_request(&request).unwrap_err();
        assert!(matches!(err, PatchError::InvalidSyntax(_)), "{request}: {err:?}");
    }
}

#[test]
fn malformed_operations_are_invalid_syntax() {
    let cases = [
        json!("add"),
        json!({ "path": "a", "value": 1 }),
        json!({ "op": "move", "path": "a", "value": 1 }),
        json!({ "op": 1, "path": "a", "value": 1 }),
        json!({ "op": "add", "path": 5, "value": 1 }),
        json!({ "op": "add", "path": ["a"], "value": 1 }),
    ];
    for op in cases {
        let err = parse_request(&body(json!([op]))).unwrap_err();
        assert!(
            matches!(&err, PatchError::InvalidSyntax(m) if m.starts_with("Operations[0]: ")),
            "{op}: {err:?}"
        );
    }
    let err = parse_request(&body(json!([{ "op": "add", "path": "a", "value": 1 }, { "op": "copy" }])));
    assert_eq!(
        err.unwrap_err(),
        PatchError::InvalidSyntax(
            "Operations[1]: unknown op \"copy\": expected add, remove or replace".into()
        )
    );
}

#[test]
fn missing_or_misshapen_values_are_invalid_value() {
    let cases = [
        json!({ "op": "add", "path": "a" }),
        json!({ "op": "replace", "path": "a" }),
        json!({ "op": "add" }),
        json!({ "op": "add", "path": "a", "value": null }),
        json!({ "op": "add", "value": "not an object" }),
        json!({ "op": "replace", "value": [{ "active": false }] }),
        json!({ "op": "replace", "value": null }),
    ];
    for op in cases {
        let err = parse_request(&body(json!([op]))).unwrap_err();
        assert!(matches!(err, PatchError::InvalidValue(_)), "{op}: {err:?}");
    }
}

#[test]
fn remove_without_a_path_is_no_target() {
    let err = parse_request(&body(json!([{ "op": "remove" }]))).unwrap_err();
    assert!(matches!(err, PatchError::NoTarget(_)), "{err:?}");
    let mut resource = user();
    let op = PatchOp { op: OpKind::Remove, path: None, value: None };
    assert!(matches!(apply(&mut resource, &[op], &[]).unwrap_err(), PatchError::NoTarget(_)));
}

#[test]
fn malformed_paths_are_invalid_path() {
    for path in [
        "na me",
        "name.given.x",
        "1name",
        "emails[type eq]",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"].",
        "emails[type eq \"work\"]value",
        "emails[type eq \"work\"].value.x",
        "name.givenName[type eq \"x\"]",
        "emails[type regex \"w\"]",
        "urn:",
    ] {
        let err = parse_request(&body(json!([{ "op": "remove", "path": path }]))).unwrap_err();
        assert!(matches!(err, PatchError::InvalidPath(_)), "{path}: {err:?}");
    }
    let err = parse_request(&body(json!([{ "op": "remove", "path": "emails[type eq]" }]))).unwrap_err();
    assert!(err.to_string().contains("filter"), "{err}");
}

#[test]
fn a_bracket_inside_a_quoted_filter_value_is_not_the_end() {
    let mut resource = json!({ "emails": [{ "value": "a]b", "type": "x" }, { "value": "c", "type": "y" }] });
    patch(&mut resource, json!([{ "op": "remove", "path": "emails[value eq \"a]b\"]" }])).unwrap();
    assert_eq!(resource, json!({ "emails": [{ "value": "c", "type": "y" }] }));
}

#[test]
fn scim_types() {
    assert_eq!(PatchError::InvalidPath(String::new()).scim_type(), "invalidPath");
    assert_eq!(PatchError::NoTarget(String::new()).scim_type(), "noTarget");
    assert_eq!(PatchError::InvalidValue(String::new()).scim_type(), "invalidValue");
    assert_eq!(PatchError::Mutability(String::new()).scim_type(), "mutability");
    assert_eq!(PatchError::InvalidSyntax(String::new()).scim_type(), "invalidSyntax");
    assert_eq!(PatchError::NoTarget("detail".into()).to_string(), "detail");
}

// --- RFC 7644 §3.5.2.1 add ------------------------------------------------------------------

#[test]
fn rfc_add_a_member() {
    let mut resource = group();
    resource["members"] = json!([{ "value": "902c246b", "type": "User" }]);
    let resource = patched(
        resource,
        json!([{
            "op": "add",
            "path": "members",
            "value": [{
                "display": "Babs Jensen",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "value": MEMBER
            }]
        }]),
    );
    assert_eq!(member_ids(&resource), ["902c246b", MEMBER]);
    assert_eq!(
        resource["members"][1]["$ref"],
        "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
    );
}

#[test]
fn rfc_add_without_a_path() {
    let resource = patched(
        user(),
        json!([{
            "op": "add",
            "value": { "emails": [{ "value": "babs@jensen.org", "type": "home" }, { "value": "b@new.org", "type": "other" }], "nickname": "Babs" }
        }]),
    );
    assert_eq!(resource["nickname"], "Babs");
    let emails: Vec<&str> =
        resource["emails"].as_array().unwrap().iter().map(|e| e["value"].as_str().unwrap()).collect();
    assert_eq!(emails, ["bjensen@example.com", "babs@jensen.org", "b@new.org"]);
}

#[test]
fn adding_an_existing_member_twice_leaves_one() {
    let ops = json!([
        { "op": "add", "path": "members", "value": [{ "value": MEMBER }] },
        { "op": "add", "path": "members", "value": { "value": MEMBER } },
        { "op": "add", "path": "members", "value": [{ "value": "new1" }, { "value": "new1" }] }
    ]);
    let resource = patched(group(), ops);
    assert_eq!(member_ids(&resource), [MEMBER, "902c246b", "new1"]);
    assert_eq!(resource["members"][0]["display"], "Babs Jensen");
}

#[test]
fn add_merges_complex_and_sets_simple_attributes() {
    let resource = patched(
        user(),
        json!([
            { "op": "add", "path": "name", "value": { "middleName": "Jane", "givenName": "Babs" } },
            { "op": "add", "path": "userName", "value": "babs" },
            { "op": "add", "path": "name.honorificPrefix", "value": "Ms." },
            { "op": "add", "path": "title", "value": "Tour Guide" }
        ]),
    );
    assert_eq!(
        resource["name"],
        json!({ "familyName": "Jensen", "givenName": "Babs", "middleName": "Jane", "honorificPrefix": "Ms." })
    );
    assert_eq!(resource["userName"], "babs");
    assert_eq!(resource["title"], "Tour Guide");
}

#[test]
fn add_creates_complex_attributes_for_sub_paths() {
    let resource =
        patched(json!({ "id": "1" }), json!([{ "op": "add", "path": "name.givenName", "value": "B" }]));
    assert_eq!(resource, json!({ "id": "1", "name": { "givenName": "B" } }));
}

#[test]
fn add_to_extension_attributes() {
    let path = format!("{ENTERPRISE}:department");
    let resource = patched(user(), json!([{ "op": "add", "path": path, "value": "Sales" }]));
    assert_eq!(resource[ENTERPRISE]["department"], "Sales");
    assert_eq!(resource[ENTERPRISE]["employeeNumber"], "701984");

    let bare = json!({ "id": "1", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"] });
    let resource =
        patched(bare, json!([{ "op": "add", "path": format!("{ENTERPRISE}:manager.value"), "value": "m1" }]));
    assert_eq!(resource[ENTERPRISE], json!({ "manager": { "value": "m1" } }));
}

#[test]
fn add_without_a_path_merges_extension_objects() {
    let resource = patched(
        user(),
        json!([{ "op": "add", "value": { ENTERPRISE: { "costCenter": "4130", "department": "Sales" }, "title": "Guide" } }]),
    );
    assert_eq!(
        resource[ENTERPRISE],
        json!({ "department": "Sales", "employeeNumber": "701984", "costCenter": "4130" })
    );
    assert_eq!(resource["title"], "Guide");

    let fresh = patched(
        json!({ "id": "1" }),
        json!([{ "op": "add", "value": { ENTERPRISE: { "department": "Sales" } } }]),
    );
    assert_eq!(fresh[ENTERPRISE], json!({ "department": "Sales" }));
}

#[test]
fn urn_qualified_keys_in_a_pathless_value_reach_the_extension() {
    let key = format!("{ENTERPRISE}:employeeNumber");
    let resource = patched(user(), json!([{ "op": "replace", "value": { key: "42" } }]));
    assert_eq!(resource[ENTERPRISE]["employeeNumber"], "42");
    let core = "urn:ietf:params:scim:schemas:core:2.0:User:userName";
    let resource = patched(user(), json!([{ "op": "replace", "value": { core: "babs" } }]));
    assert_eq!(resource["userName"], "babs");
    let resource = patched(
        user(),
        json!([{ "op": "replace", "value": { "urn:ietf:params:scim:schemas:core:2.0:User": { "userName": "b2" } } }]),
    );
    assert_eq!(resource["userName"], "b2");
}

#[test]
fn core_schema_paths_mean_the_top_level() {
    let resource = patched(
        user(),
        json!([
            { "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:userName", "value": "babs" },
            { "op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.middleName", "value": "J" }
        ]),
    );
    assert_eq!(resource["userName"], "babs");
    assert_eq!(resource["name"]["middleName"], "J");
    assert!(resource.get("urn:ietf:params:scim:schemas:core:2.0:User").is_none());
}

#[test]
fn a_new_primary_value_demotes_the_old_one() {
    let resource = patched(
        user(),
        json!([{ "op": "add", "path": "emails", "value": [{ "value": "new@example.com", "type": "work", "primary": true }] }]),
    );
    assert_eq!(resource["emails"][0]["primary"], false);
    assert_eq!(resource["emails"][2]["primary"], true);
}

#[test]
fn a_value_with_the_same_type_and_value_is_merged_not_duplicated() {
    let resource = patched(
        user(),
        json!([{ "op": "add", "path": "emails", "value": { "value": "babs@jensen.org", "type": "home", "display": "Babs" } }]),
    );
    assert_eq!(resource["emails"].as_array().unwrap().len(), 2);
    assert_eq!(resource["emails"][1]["display"], "Babs");
    let other_type = patched(
        user(),
        json!([{ "op": "add", "path": "emails", "value": { "value": "babs@jensen.org", "type": "other" } }]),
    );
    assert_eq!(other_type["emails"].as_array().unwrap().len(), 3);
}

// --- RFC 7644 §3.5.2.2 remove ---------------------------------------------------------------

#[test]
fn rfc_remove_one_member() {
    let path = format!("members[value eq \"{MEMBER}\"]");
    let resource = patched(group(), json!([{ "op": "remove", "path": path }]));
    assert_eq!(member_ids(&resource), ["902c246b"]);
}

#[test]
fn rfc_remove_all_members() {
    let resource = patched(group(), json!([{ "op": "remove", "path": "members" }]));
    assert!(resource.get("members").is_none());
    assert_eq!(resource["displayName"], "Tour Guides");
}

#[test]
fn rfc_remove_by_compound_filter() {
    let resource = patched(
        user(),
        json!([{ "op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]" }]),
    );
    assert_eq!(resource["emails"], json!([{ "value": "babs@jensen.org", "type": "home" }]));
}

#[test]
fn rfc_replace_all_members_by_remove_then_add() {
    let resource = patched(
        group(),
        json!([
            { "op": "remove", "path": "members" },
            { "op": "add", "path": "members", "value": [
                { "display": "Babs Jensen", "value": MEMBER },
                { "display": "James Smith", "value": "08e1d05d" }
            ] }
        ]),
    );
    assert_eq!(member_ids(&resource), [MEMBER, "08e1d05d"]);
}

#[test]
fn remove_sub_attributes() {
    let resource = patched(
        user(),
        json!([
            { "op": "remove", "path": "addresses[type eq \"work\"].streetAddress" },
            { "op": "remove", "path": "name.givenName" },
            { "op": "remove", "path": "emails.primary" }
        ]),
    );
    assert_eq!(resource["addresses"][0], json!({ "type": "work", "locality": "Hollywood" }));
    assert_eq!(resource["addresses"][1]["streetAddress"], "456 Hollywood Blvd");
    assert_eq!(resource["name"], json!({ "familyName": "Jensen" }));
    assert!(resource["emails"].as_array().unwrap().iter().all(|e| e.get("primary").is_none()));
}

#[test]
fn removing_what_is_absent_changes_nothing() {
    let original = user();
    let resource = patched(
        original.clone(),
        json!([
            { "op": "remove", "path": "nickName" },
            { "op": "remove", "path": "x509Certificates[value eq \"x\"]" },
            { "op": "remove", "path": "emails[type eq \"other\"]" },
            { "op": "remove", "path": "phoneNumbers.value" },
            { "op": "remove", "path": "urn:example:params:scim:schemas:extension:acme:1.0:User:badge" }
        ]),
    );
    assert_eq!(resource, original);
}

#[test]
fn emptied_attributes_and_extensions_are_removed() {
    let resource = patched(
        user(),
        json!([
            { "op": "remove", "path": "emails[type eq \"work\"]" },
            { "op": "remove", "path": "emails[type eq \"home\"]" },
            { "op": "remove", "path": format!("{ENTERPRISE}:department") },
            { "op": "remove", "path": format!("{ENTERPRISE}:employeeNumber") },
            { "op": "remove", "path": "name.givenName" },
            { "op": "remove", "path": "name.familyName" }
        ]),
    );
    assert!(resource.get("emails").is_none());
    assert!(resource.get(ENTERPRISE).is_none());
    assert!(resource.get("name").is_none());
}

#[test]
fn remove_a_whole_extension() {
    let resource = patched(user(), json!([{ "op": "remove", "path": ENTERPRISE }]));
    assert!(resource.get(ENTERPRISE).is_none());
}

// --- RFC 7644 §3.5.2.3 replace --------------------------------------------------------------

#[test]
fn rfc_replace_all_members() {
    let resource = patched(
        group(),
        json!([{ "op": "replace", "path": "members", "value": [
            { "display": "Babs Jensen", "value": MEMBER },
            { "display": "James Smith", "value": "08e1d05d" }
        ] }]),
    );
    assert_eq!(member_ids(&resource), [MEMBER, "08e1d05d"]);
    assert!(resource["members"][0].get("type").is_none());
}

#[test]
fn rfc_replace_a_filtered_value() {
    let address = json!({
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let resource = patched(
        user(),
        json!([{ "op": "replace", "path": "addresses[type eq \"work\"]", "value": address.clone() }]),
    );
    assert_eq!(resource["addresses"][0], address);
    assert_eq!(resource["addresses"][1]["type"], "home");
}

#[test]
fn rfc_replace_a_filtered_sub_attribute() {
    let resource = patched(
        user(),
        json!([{ "op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave" }]),
    );
    assert_eq!(resource["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(resource["addresses"][0]["locality"], "Hollywood");
    assert_eq!(resource["addresses"][1]["streetAddress"], "456 Hollywood Blvd");
}

#[test]
fn rfc_replace_without_a_path() {
    let resource = patched(
        user(),
        json!([{ "op": "replace", "value": {
            "emails": [{ "value": "bjensen@example.com", "type": "work", "primary": true }],
            "nickname": "Babs"
        } }]),
    );
    assert_eq!(
        resource["emails"],
        json!([{ "value": "bjensen@example.com", "type": "work", "primary": true }])
    );
    assert_eq!(resource["nickname"], "Babs");
}

#[test]
fn replace_merges_complex_attributes_and_adds_missing_ones() {
    let resource = patched(
        user(),
        json!([
            { "op": "replace", "path": "name", "value": { "givenName": "Babs" } },
            { "op": "replace", "path": "title", "value": "Guide" }
        ]),
    );
    assert_eq!(resource["name"], json!({ "familyName": "Jensen", "givenName": "Babs" }));
    assert_eq!(resource["title"], "Guide");
}

#[test]
fn replace_with_null_unassigns() {
    let resource = patched(user(), json!([{ "op": "replace", "path": "externalId", "value": null }]));
    assert!(resource.get("externalId").is_none());
}

#[test]
fn replace_a_whole_extension_by_its_urn() {
    let resource =
        patched(user(), json!([{ "op": "replace", "path": ENTERPRISE, "value": { "department": "Sales" } }]));
    assert_eq!(resource[ENTERPRISE], json!({ "department": "Sales", "employeeNumber": "701984" }));
    let fresh = patched(
        json!({ "id": "1" }),
        json!([{ "op": "add", "path": ENTERPRISE, "value": { "department": "Sales" } }]),
    );
    assert_eq!(fresh[ENTERPRISE], json!({ "department": "Sales" }));
}

#[test]
fn replace_through_a_filter_that_matches_nothing_is_no_target() {
    let mut resource = user();
    let err = patch(
        &mut resource,
        json!([{ "op": "replace", "path": "emails[type eq \"other\"].value", "value": "x" }]),
    );
    assert!(matches!(err.unwrap_err(), PatchError::NoTarget(_)));
    let err = patch(
        &mut resource,
        json!([{ "op": "replace", "path": "phoneNumbers[type eq \"work\"]", "value": {} }]),
    );
    assert!(matches!(err.unwrap_err(), PatchError::NoTarget(_)));
    assert_eq!(resource, user());
}

// --- case handling --------------------------------------------------------------------------

#[test]
fn existing_keys_are_matched_ignoring_case() {
    let resource = json!({ "id": "1", "username": "old", "Emails": [{ "value": "a@x" }] });
    let resource = patched(
        resource,
        json!([
            { "op": "replace", "path": "userName", "value": "new" },
            { "op": "add", "path": "emails", "value": [{ "value": "b@x" }] },
            { "op": "add", "value": { "USERNAME": "newer", "displayName": "D" } }
        ]),
    );
    assert_eq!(
        resource,
        json!({ "id": "1", "username": "newer", "Emails": [{ "value": "a@x" }, { "value": "b@x" }], "displayName": "D" })
    );
}

#[test]
fn filters_compare_case_insensitively() {
    let resource = patched(user(), json!([{ "op": "remove", "path": "EMAILS[TYPE EQ \"WORK\"]" }]));
    assert_eq!(resource["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn values_are_stored_without_coercion() {
    let resource = patched(user(), json!([{ "op": "Replace", "path": "active", "value": "False" }]));
    assert_eq!(resource["active"], "False");
}

// --- Microsoft Entra ID ---------------------------------------------------------------------

#[test]
fn entra_deactivates_a_user() {
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Replace", "path": "active", "value": false }]
    });
    let mut resource = user();
    apply(&mut resource, &parse_request(&request).unwrap(), &["id", "meta"]).unwrap();
    assert_eq!(resource["active"], false);

    let pathless = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Replace", "value": { "active": false } }]
    });
    let mut resource = user();
    apply(&mut resource, &parse_request(&pathless).unwrap(), &["id", "meta"]).unwrap();
    assert_eq!(resource["active"], false);
}

#[test]
fn entra_updates_several_attributes() {
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com" },
            { "op": "Replace", "path": "name.familyName", "value": "updatedFamilyName" }
        ]
    });
    let mut resource = user();
    apply(&mut resource, &parse_request(&request).unwrap(), &[]).unwrap();
    assert_eq!(resource["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(resource["emails"][1]["value"], "babs@jensen.org");
    assert_eq!(resource["name"]["familyName"], "updatedFamilyName");
}

#[test]
fn entra_adds_a_work_email_that_does_not_exist_yet() {
    let mut resource = json!({ "id": "1", "userName": "b" });
    patch(
        &mut resource,
        json!([
            { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "b@example.com" },
            { "op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Hollywood" },
            { "op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "91608" }
        ]),
    )
    .unwrap();
    assert_eq!(resource["emails"], json!([{ "type": "work", "value": "b@example.com" }]));
    assert_eq!(
        resource["addresses"],
        json!([{ "type": "work", "locality": "Hollywood", "postalCode": "91608" }])
    );
}

#[test]
fn entra_sets_and_removes_the_manager() {
    let path = format!("{ENTERPRISE}:manager");
    let resource = patched(user(), json!([{ "op": "Add", "path": path, "value": "26118915" }]));
    assert_eq!(resource[ENTERPRISE]["manager"], "26118915");
    let resource = patched(resource, json!([{ "op": "Remove", "path": path }]));
    assert!(resource[ENTERPRISE].get("manager").is_none());
    assert_eq!(resource[ENTERPRISE]["department"], "Tour Operations");
}

#[test]
fn entra_adds_group_members() {
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Add", "path": "members", "value": [{ "$ref": null, "value": "f648f8d5ea4e4cd38e9c" }] }]
    });
    let ops = parse_request(&request).unwrap();
    let mut resource = group();
    apply(&mut resource, &ops, &["id", "meta"]).unwrap();
    apply(&mut resource, &ops, &["id", "meta"]).unwrap();
    assert_eq!(member_ids(&resource), [MEMBER, "902c246b", "f648f8d5ea4e4cd38e9c"]);
    assert_eq!(resource["members"][2], json!({ "value": "f648f8d5ea4e4cd38e9c" }));
}

#[test]
fn entra_removes_listed_group_members_only() {
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Remove", "path": "members", "value": [{ "$ref": null, "value": MEMBER }] }]
    });
    let ops = parse_request(&request).unwrap();
    let mut resource = group();
    apply(&mut resource, &ops, &[]).unwrap();
    assert_eq!(member_ids(&resource), ["902c246b"]);
    apply(&mut resource, &ops, &[]).unwrap();
    assert_eq!(member_ids(&resource), ["902c246b"]);

    let both = json!([{ "op": "Remove", "path": "members", "value": [{ "value": "902c246b" }, { "value": "gone" }] }]);
    let resource = patched(resource, both);
    assert!(resource.get("members").is_none());
}

#[test]
fn entra_renames_a_group() {
    let resource = patched(
        group(),
        json!([{ "op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" }]),
    );
    assert_eq!(resource["displayName"], "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
}

// --- Okta -----------------------------------------------------------------------------------

#[test]
fn okta_deactivates_a_user() {
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "value": { "active": false } }]
    });
    let mut resource = user();
    apply(&mut resource, &parse_request(&request).unwrap(), &["id", "meta"]).unwrap();
    assert_eq!(resource["active"], false);
}

#[test]
fn okta_renames_a_group_echoing_its_id() {
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "value": { "id": "e9e30dba", "displayName": "Guides" } }]
    });
    let mut resource = group();
    apply(&mut resource, &parse_request(&request).unwrap(), &["id", "meta"]).unwrap();
    assert_eq!(resource["displayName"], "Guides");
    assert_eq!(resource["id"], "e9e30dba");
}

#[test]
fn okta_changes_group_membership() {
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            { "op": "add", "path": "members", "value": [{ "value": "00u1", "display": "user1@example.com" }] },
            { "op": "remove", "path": format!("members[value eq \"{MEMBER}\"]") }
        ]
    });
    let mut resource = group();
    apply(&mut resource, &parse_request(&request).unwrap(), &["id", "meta"]).unwrap();
    assert_eq!(member_ids(&resource), ["902c246b", "00u1"]);
}

#[test]
fn okta_replaces_the_member_list_without_a_path() {
    let resource = patched(
        group(),
        json!([{ "op": "replace", "value": { "id": "e9e30dba", "members": [{ "value": "00u9", "display": "x" }] } }]),
    );
    assert_eq!(member_ids(&resource), ["00u9"]);
}

// --- mutability and atomicity ---------------------------------------------------------------

#[test]
fn id_and_meta_are_always_read_only() {
    let cases = [
        json!({ "op": "replace", "path": "id", "value": "other" }),
        json!({ "op": "remove", "path": "id" }),
        json!({ "op": "remove", "path": "meta" }),
        json!({ "op": "replace", "path": "meta.version", "value": "W/\"1\"" }),
        json!({ "op": "add", "value": { "META": { "resourceType": "Group" } } }),
        json!({ "op": "replace", "value": { "ID": "other" } }),
        json!({ "op": "replace", "value": { "urn:ietf:params:scim:schemas:core:2.0:User:id": "other" } }),
    ];
    for op in cases {
        let mut resource = user();
        let err = patch(&mut resource, json!([op])).unwrap_err();
        assert!(matches!(err, PatchError::Mutability(_)), "{op}: {err:?}");
        assert_eq!(resource, user());
    }
}

#[test]
fn read_only_attributes_cannot_be_shadowed_by_a_new_spelling() {
    let mut resource = json!({ "id": "1" });
    let op = PatchOp { op: OpKind::Add, path: None, value: Some(json!({ "meta": { "a": 1 } })) };
    assert!(matches!(apply(&mut resource, &[op], &[]).unwrap_err(), PatchError::Mutability(_)));
}

#[test]
fn caller_listed_attributes_are_read_only() {
    let mut resource = user();
    let ops = parse_request(&body(json!([{ "op": "replace", "path": "USERNAME", "value": "x" }]))).unwrap();
    let err = apply(&mut resource, &ops, &["id", "meta", "userName"]).unwrap_err();
    assert_eq!(
        err,
        PatchError::Mutability("Operations[0]: \"userName\" is read-only and cannot be changed".into())
    );
    assert_eq!(err.scim_type(), "mutability");
    assert_eq!(resource, user());
    let same =
        parse_request(&body(json!([{ "op": "replace", "path": "userName", "value": "bjensen" }]))).unwrap();
    apply(&mut resource, &same, &["userName"]).unwrap();
}

#[test]
fn a_failing_operation_leaves_the_resource_unchanged() {
    let mut resource = user();
    let err = patch(
        &mut resource,
        json!([
            { "op": "replace", "path": "userName", "value": "changed" },
            { "op": "add", "path": "members", "value": [{ "value": "x" }] },
            { "op": "replace", "path": "emails[type eq \"pager\"].value", "value": "x" }
        ]),
    )
    .unwrap_err();
    assert!(matches!(&err, PatchError::NoTarget(m) if m.starts_with("Operations[2]: ")), "{err:?}");
    assert_eq!(resource, user());
}

// --- other errors ---------------------------------------------------------------------------

#[test]
fn sub_attributes_of_simple_attributes_are_invalid_path() {
    let mut resource = user();
    let err =
        patch(&mut resource, json!([{ "op": "add", "path": "userName.first", "value": "x" }])).unwrap_err();
    assert!(matches!(err, PatchError::InvalidPath(_)), "{err:?}");
}

#[test]
fn misshapen_values_for_the_target_are_invalid_value() {
    let cases = [
        json!({ "op": "add", "path": "emails[type eq \"work\"]", "value": "x" }),
        json!({ "op": "add", "path": "emails[type eq \"fax\"]", "value": "x" }),
        json!({ "op": "replace", "path": "emails[type eq \"work\"]", "value": [] }),
        json!({ "op": "replace", "path": ENTERPRISE, "value": "x" }),
    ];
    for op in cases {
        let mut resource = user();
        let err = patch(&mut resource, json!([op])).unwrap_err();
        assert!(matches!(err, PatchError::InvalidValue(_)), "{op}: {err:?}");
    }
}

#[test]
fn filtered_adds_without_a_plain_equality_are_no_target() {
    let mut resource = user();
    let err =
        patch(&mut resource, json!([{ "op": "add", "path": "emails[value co \"zzz\"].type", "value": "x" }]));
    assert!(matches!(err.unwrap_err(), PatchError::NoTarget(_)));
    let err =
        patch(&mut resource, json!([{ "op": "add", "path": "userName[value eq \"x\"].type", "value": "x" }]));
    assert!(matches!(err.unwrap_err(), PatchError::NoTarget(_)));
}

#[test]
fn setting_a_sub_attribute_on_simple_values_is_no_target() {
    let mut resource = json!({ "tags": ["a", "b"] });
    let err = patch(&mut resource, json!([{ "op": "add", "path": "tags.value", "value": "x" }])).unwrap_err();
    assert!(matches!(err, PatchError::NoTarget(_)), "{err:?}");
}

#[test]
fn a_resource_that_is_not_an_object_is_refused() {
    let mut resource = json!([1]);
    let op = PatchOp { op: OpKind::Replace, path: Some("a".into()), value: Some(json!(1)) };
    assert!(matches!(apply(&mut resource, &[op], &[]).unwrap_err(), PatchError::InvalidValue(_)));
}

#[test]
fn a_filtered_add_on_matching_values_sets_the_sub_attribute() {
    let resource = patched(
        user(),
        json!([{ "op": "add", "path": "emails[type eq \"home\"].display", "value": "Home" }]),
    );
    assert_eq!(resource["emails"][1]["display"], "Home");
    assert!(resource["emails"][0].get("display").is_none());
    let resource = patched(
        user(),
        json!([{ "op": "add", "path": "emails[type eq \"home\"]", "value": { "primary": true } }]),
    );
    assert_eq!(resource["emails"][1]["primary"], true);
    assert_eq!(resource["emails"][0]["primary"], false);
}

#[test]
fn sub_paths_on_multi_valued_attributes_apply_to_every_value() {
    let resource = patched(user(), json!([{ "op": "replace", "path": "emails.type", "value": "other" }]));
    assert!(resource["emails"].as_array().unwrap().iter().all(|e| e["type"] == "other"));
}

#[test]
fn arbitrary_paths_never_panic() {
    let alphabet: Vec<char> = "emails[type eq \"work\"].value:urn ]()".chars().collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..5_000 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let len = (state >> 59) as usize + 1;
        let path: String = (0..len)
            .map(|i| alphabet[(state.rotate_left(i as u32 * 5) >> 40) as usize % alphabet.len()])
            .collect();
        let op = ["add", "remove", "replace"][round % 3];
        let mut resource = user();
        let _ = patch(&mut resource, json!([{ "op": op, "path": path, "value": { "value": "x" } }]));
    }
}
