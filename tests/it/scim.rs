//! The SCIM 2.0 endpoint: the scim2-tester conformance suite, the request
//! sequences Okta and Microsoft Entra ID send (bodies copied from their
//! public documentation, cited per test), and bad input.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::scim::{assert_scim_error, scim_mode, ScimClient};
use crate::support::{Backend, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn scim_app(backend: Backend) -> (TestApp, ScimClient) {
    let mut token = String::new();
    let app = TestApp::spawn_with(backend, |c| token = scim_mode(c)).await;
    let client = ScimClient::new(&app.base, &token);
    (app, client)
}

/// The PyPI conformance suite `scim2-tester`, through its CLI
/// (`scim2 --url ... test`), against the real server. scripts/test installs
/// it and exports its path; every check must pass and none may be skipped.
async fn conformance_suite_passes(backend: Backend) {
    let scim2 = std::env::var("CUSTODIAN_TEST_SCIM2")
        .expect("CUSTODIAN_TEST_SCIM2 must name the scim2 CLI (scripts/test installs scim2-cli from PyPI)");
    let (app, client) = scim_app(backend).await;
    let (url, header) = (client.base.clone(), format!("Authorization: Bearer {}", client.token));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(scim2)
            .args(["--url", &url, "test"])
            .env("SCIM_CLI_HEADERS", header)
            .output()
    })
    .await
    .unwrap()
    .expect("run scim2");
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scim2 test failed:\n{text}");
    let verdicts: Vec<&str> =
        text.lines().filter(|l| !l.starts_with(' ') && !l.starts_with("Performing")).collect();
    let failed: Vec<&&str> = verdicts.iter().filter(|l| !l.starts_with("SUCCESS")).collect();
    assert!(failed.is_empty(), "checks that did not pass:\n{text}");
    assert!(verdicts.len() >= 130, "scim2-tester ran only {} checks:\n{text}", verdicts.len());
    // What the suite wrote went through the audited path.
    assert!(!app.events_of("directory.user.create").await.is_empty());
    assert!(!app.events_of("directory.group.patch").await.is_empty());
}

/// Okta's connection test and "Create Users" (developer.okta.com
/// /docs/api/openapi/okta-scim/guides/scim-20, and scim-11 for the
/// connection test, which Okta sends unchanged to /scim/v2).
async fn okta_connection_test_lookup_and_create(backend: Backend) {
    let (app, scim) = scim_app(backend).await;
    for path in ["/Users?startIndex=1&count=2", "/Groups?startIndex=1&count=100"] {
        let a = scim.get(path).await;
        assert_eq!(a.status, 200);
        assert!(a.content_type.starts_with("application/scim+json"));
        assert_eq!(a.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
        assert_eq!((a.body["totalResults"].as_i64(), a.body["startIndex"].as_i64()), (Some(0), Some(1)));
    }
    let lookup = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    assert_eq!(scim.get(lookup).await.body["totalResults"], 0);
    let body = json!({
        "schemas": [USER], "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [], "password": "1mz050nq", "active": true
    });
    // Okta's own test suite posts as application/json.
    let created = scim.raw(Method::POST, "/Users", "application/json", body.to_string().into_bytes()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["name"]["givenName"], "Test");
    assert_eq!(created.body["meta"]["location"], format!("https://custodian.test/scim/v2/Users/{id}"));
    assert!(created.body.get("password").is_none(), "the password is never returned");
    let stored: String = sqlx::query_scalar("SELECT resource FROM directory_users WHERE id = $1")
        .bind(&id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(!stored.contains("1mz050nq"), "the password Okta sends is never stored");
    // The lookup now finds the user, case-insensitively, and paging counts it.
    let found =
        scim.get("/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22&startIndex=1&count=100").await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    let by_external = scim.get("/Users?filter=externalId%20eq%20%2200ujl29u0le5T6Aj10h7%22").await;
    assert_eq!(by_external.body["totalResults"], 1);
    // A second create of the same user is a 409 (Okta's "Expect failure when recreating user").
    let again = scim.post("/Users", body).await;
    assert_scim_error(&again, 409, Some("uniqueness"));
    assert_eq!(app.count("directory_users").await, 1);
    let events = app.events_of("directory.user.create").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"]["by"], "scim:idp");
    assert_eq!(events[0]["kind"]["after"]["userName"], "test.user@okta.local");
}

/// Okta deactivates by PATCH (OIN template) or by a read-modify-write PUT
/// (App Integration Wizard); a PUT without `active` leaves it alone.
async fn okta_deactivation_by_patch_and_put(backend: Backend) {
    let (_app, scim) = scim_app(backend).await;
    let id = scim.provision("okta-user").await;
    let path = format!("/Users/{id}");
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let a = scim.patch(&path, off).await;
    assert_eq!((a.status.as_u16(), &a.body["active"]), (200, &json!(false)), "{:?}", a.body);
    let on = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    assert_eq!(scim.patch(&path, on).await.body["active"], true);
    // GET, then PUT the body back with the change, echoing id, meta and groups.
    let mut current = scim.get(&path).await.body;
    current["active"] = json!(false);
    current["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    let a = scim.put(&path, current.clone()).await;
    assert_eq!((a.status.as_u16(), &a.body["active"]), (200, &json!(false)), "{:?}", a.body);
    assert_eq!(a.body["name"]["middleName"], "Excited");
    // A PUT that leaves active out does not change it.
    current.as_object_mut().unwrap().remove("active");
    current["displayName"] = json!("Renamed");
    let a = scim.put(&path, current).await;
    assert_eq!((a.body["active"].clone(), a.body["displayName"].clone()), (json!(false), json!("Renamed")));
    // Okta never deletes users; a deactivated user is still there.
    assert_eq!(scim.get(&path).await.status, 200);
}

/// Okta's group membership PATCH (one request removing and adding), the
/// full replace, and the rename that carries the group's own id.
async fn okta_group_membership(backend: Backend) {
    let (app, scim) = scim_app(backend).await;
    let (a, b) = (scim.provision("a").await, scim.provision("b").await);
    let group = scim.group("social-media-staff", &[&a]).await;
    let path = format!("/Groups/{group}");
    let swap = json!({"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
        {"op": "add", "path": "members", "value": [{"value": b, "display": "b@clinic.example"}]}
    ]});
    let answer = scim.patch(&path, swap).await;
    assert_eq!(answer.status, 204, "{:?}", answer.body);
    let members = scim.get(&path).await.body["members"].clone();
    assert_eq!(
        members,
        json!([{"value": b, "$ref": format!("https://custodian.test/scim/v2/Users/{b}"), "type": "User"}])
    );
    let both = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members",
        "value": [{"value": a, "display": "a"}, {"value": b, "display": "b"}]}]});
    assert_eq!(scim.patch(&path, both).await.status, 204);
    assert_eq!(scim.get(&path).await.body["members"].as_array().unwrap().len(), 2);
    let rename = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": group, "displayName": "Test SCIMv2"}}]});
    assert_eq!(scim.patch(&path, rename).await.status, 204);
    let read = scim.get(&path).await.body;
    assert_eq!(read["displayName"], "Test SCIMv2");
    // The user's groups attribute follows the membership.
    assert_eq!(scim.get(&format!("/Users/{a}")).await.body["groups"][0]["display"], "Test SCIMv2");
    // PUT with the full member list (AIW integrations).
    let put = json!({"schemas": [GROUP], "id": group, "displayName": "Test SCIMv2", "members": [{"value": a, "display": "a"}]});
    let answer = scim.put(&path, put).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["members"].as_array().unwrap().len(), 1);
    let patches = app.events_of("directory.group.patch").await;
    assert_eq!(patches[0]["kind"]["after"]["added"], json!([b]));
    assert_eq!(patches[0]["kind"]["after"]["removed"], json!([a]));
    // Okta deletes groups.
    assert_eq!(scim.delete(&path).await.status, 204);
    assert_scim_error(&scim.get(&path).await, 404, None);
}

/// Microsoft Entra ID (learn.microsoft.com/entra/identity/app-provisioning/
/// use-scim-to-provision-users-and-groups and
/// application-provisioning-config-problem-scim-compatibility): Test
/// Connection, lookup then create with its malformed extension URN and
/// nulls, the three documented forms of disabling, and deletion.
async fn entra_user_sequence(backend: Backend) {
    let (app, scim) = scim_app(backend).await;
    let probe = scim.get("/Users?filter=userName%20eq%20%22d5bc8d45-0b2c-4cf7-9b4e-6a4f2f1b7c11%22").await;
    assert_eq!((probe.status.as_u16(), &probe.body["totalResults"]), (200, &json!(0)));
    assert_eq!(probe.body["Resources"], json!([]));
    assert_eq!(scim.get("/Users?filter=externalId+eq+%22jyoung%22").await.body["totalResults"], 0);
    let create = json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "jyoung", "userName": "jyoung@testuser.com", "active": true, "addresses": null,
        "displayName": "Joy Young",
        "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
        "meta": {"resourceType": "User"}, "name": {"familyName": "Young", "givenName": "Joy"},
        "phoneNumbers": null, "preferredLanguage": null, "title": null, "department": null, "manager": null
    });
    let created = scim.post("/Users", create).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    // Entra's uniqueness lookup on the work email.
    let by_mail = scim
        .get("/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22jyoung%40contoso.com%22")
        .await;
    assert_eq!(by_mail.body["totalResults"], 1, "{:?}", by_mail.body);
    // Disabling: "False" as a string with a PascalCase op (default), a
    // boolean with lowercase op (aadOptscim062020), and PascalCase with a boolean.
    for value in [json!("False"), json!(false)] {
        for op in ["Replace", "replace"] {
            let off =
                json!({"schemas": [PATCH], "Operations": [{"op": op, "path": "active", "value": value}]});
            let a = scim.patch(&path, off).await;
            assert_eq!(
                (a.status.as_u16(), &a.body["active"]),
                (200, &json!(false)),
                "{op} {value}: {:?}",
                a.body
            );
            let on =
                json!({"schemas": [PATCH], "Operations": [{"op": op, "path": "active", "value": "True"}]});
            assert_eq!(scim.patch(&path, on).await.body["active"], true);
        }
    }
    // One op per attribute, dotted and URN-qualified paths, and the flag's
    // path-less replace whose keys are paths.
    let ops = json!({"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "joy@contoso.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Joy"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "replace", "value": {"name.familyName": "Young-Smith",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984"}}
    ]});
    let a = scim.patch(&path, ops).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["emails"][0]["value"], "joy@contoso.com");
    assert_eq!(a.body["name"], json!({"familyName": "Young-Smith", "givenName": "Joy"}));
    assert_eq!(a.body["nickName"], "Babs");
    assert_eq!(
        a.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "701984"
    );
    // Deletion: 204, then 404 for the same id.
    assert_eq!(scim.delete(&path).await.status, 204);
    assert_scim_error(&scim.delete(&path).await, 404, None);
    assert_eq!(app.events_of("directory.user.delete").await.len(), 1);
}

/// Entra's group operations: lookup without members, create with its own
/// schema URI, add and remove members (a Remove with a value list removes
/// only those members), rename.
async fn entra_group_sequence(backend: Backend) {
    let (_app, scim) = scim_app(backend).await;
    let (a, b, c) = (scim.provision("a").await, scim.provision("b").await, scim.provision("c").await);
    let lookup = "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22displayName%22";
    assert_eq!(scim.get(lookup).await.body["totalResults"], 0);
    let created = scim
        .post("/Groups", json!({
            "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let path = format!("/Groups/{}", created.body["id"].as_str().unwrap());
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members",
        "value": [{"$ref": null, "value": a}, {"value": b}, {"value": c}]}]});
    assert_eq!(scim.patch(&path, add).await.status, 204);
    let remove = json!({"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a}]}]});
    assert_eq!(scim.patch(&path, remove).await.status, 204);
    let found = scim.get(lookup).await;
    assert_eq!(found.body["totalResults"], 1);
    assert!(found.body["Resources"][0].get("members").is_none(), "excludedAttributes=members is honoured");
    let ids: Vec<Value> = scim.get(&path).await.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].clone())
        .collect();
    assert_eq!(ids.len(), 2, "only the listed member left: {ids:?}");
    assert!(!ids.contains(&json!(a)));
    let rename = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]});
    assert_eq!(scim.patch(&path, rename).await.status, 204);
    assert_eq!(
        scim.get(&path).await.body["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert_eq!(scim.delete(&path).await.status, 204);
}

/// Every kind of bad input gets an RFC 7644 error, never a 500, and
/// changes nothing.
async fn bad_input_gets_rfc7644_errors_and_changes_nothing(backend: Backend) {
    let (app, scim) = scim_app(backend).await;
    let id = scim.provision("kept").await;
    let path = format!("/Users/{id}");
    let before = scim.get(&path).await.body;
    let malformed =
        scim.raw(Method::POST, "/Users", "application/scim+json", b"{\"schemas\": [".to_vec()).await;
    assert_scim_error(&malformed, 400, Some("invalidSyntax"));
    let unknown =
        scim.post("/Users", json!({"schemas": [USER], "userName": "x", "favouriteColour": "blue"})).await;
    assert_scim_error(&unknown, 400, Some("invalidSyntax"));
    assert!(unknown.body["detail"].as_str().unwrap().contains("favouriteColour"));
    assert_scim_error(&scim.post("/Users", json!({"schemas": [USER]})).await, 400, Some("invalidValue"));
    assert_scim_error(
        &scim.post("/Users", json!({"userName": "no-schemas"})).await,
        400,
        Some("invalidSyntax"),
    );
    assert_scim_error(&scim.post("/Users", json!([1, 2])).await, 400, Some("invalidSyntax"));
    let wrong_type =
        scim.post("/Users", json!({"schemas": [USER], "userName": "x", "active": "maybe"})).await;
    assert_scim_error(&wrong_type, 400, Some("invalidValue"));
    for filter in ["userName%20regex%20%22a%22", "userName%20eq", "(userName%20eq%20%22a%22", "%22a%22"] {
        assert_scim_error(&scim.get(&format!("/Users?filter={filter}")).await, 400, Some("invalidFilter"));
    }
    assert_scim_error(&scim.get("/Users?count=ten").await, 400, Some("invalidValue"));
    let huge = format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let too_large = scim.raw(Method::POST, "/Users", "application/scim+json", huge.into_bytes()).await;
    assert_scim_error(&too_large, 413, Some("tooMany"));
    let xml = scim.raw(Method::POST, "/Users", "application/xml", b"<user/>".to_vec()).await;
    assert_scim_error(&xml, 415, None);
    let read_only =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "mine"}]});
    assert_scim_error(&scim.patch(&path, read_only).await, 400, Some("mutability"));
    let bad_op =
        json!({"schemas": [PATCH], "Operations": [{"op": "move", "path": "userName", "value": "x"}]});
    assert_scim_error(&scim.patch(&path, bad_op).await, 400, Some("invalidSyntax"));
    let no_target = json!({"schemas": [PATCH], "Operations": [{"op": "remove"}]});
    assert_scim_error(&scim.patch(&path, no_target).await, 400, Some("noTarget"));
    let unknown_member =
        json!({"schemas": [GROUP], "displayName": "g", "members": [{"value": "no-such-user"}]});
    assert_scim_error(&scim.post("/Groups", unknown_member).await, 400, Some("invalidValue"));
    assert_scim_error(&scim.get("/Users/no-such-id").await, 404, None);
    assert_scim_error(&scim.get("/Nothing").await, 404, None);
    let not_allowed = scim.call(Method::PATCH, "/Users", None).await;
    assert_scim_error(&not_allowed, 405, None);
    // An error the framework answered keeps every header of the answer.
    for header in
        ["allow", "content-security-policy", "x-content-type-options", "cache-control", "x-request-id"]
    {
        assert!(not_allowed.headers.contains_key(header), "{header}: {:?}", not_allowed.headers);
    }
    // Nothing changed, nothing extra stored.
    assert_eq!(scim.get(&path).await.body, before);
    assert_eq!(app.count("directory_users").await, 1);
    assert_eq!(app.count("directory_groups").await, 0);
}

/// Without a configured token nothing is answered, and the refusal is audited.
async fn tokens_are_required_and_refusals_audited(backend: Backend) {
    let (app, scim) = scim_app(backend).await;
    for token in ["", "cst_scim_wrong"] {
        let other = ScimClient::new(&app.base, token);
        let a = other.get("/Users").await;
        assert_scim_error(&a, 401, None);
        let a = other.post("/Users", json!({"schemas": [USER], "userName": "intruder"})).await;
        assert_scim_error(&a, 401, None);
    }
    assert_eq!(app.count("directory_users").await, 0);
    // Recorded once per source per minute, with a count of the rest: a
    // flood of bad tokens cannot flood the journal.
    let refused = app.events_of("access.gate").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["kind"]["gate"], "scim_token");
    assert_eq!(refused[0]["kind"]["suppressed"], 0);
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_scim_error(&ScimClient::new(&app.base, "cst_scim_wrong").get("/Users").await, 401, None);
    let refused = app.events_of("access.gate").await;
    assert_eq!((refused.len(), refused[1]["kind"]["suppressed"].clone()), (2, json!(3)));
    assert!(
        !serde_json::to_string(&refused).unwrap().contains("cst_scim_wrong"),
        "the token is never recorded"
    );
    assert_eq!(scim.get("/ServiceProviderConfig").await.body["patch"]["supported"], true);
}

/// SCIM answers only when the directory is SCIM: writes that would never be
/// consulted are refused, and a configuration that would allow them is invalid.
async fn scim_is_off_unless_it_is_the_directory(backend: Backend) {
    let (token, entry) = custodian::directory::scim::auth::generate();
    let app = TestApp::spawn(backend).await;
    let a =
        ScimClient::new(&app.base, &token).post("/Users", json!({"schemas": [USER], "userName": "x"})).await;
    assert_scim_error(&a, 404, None);
    assert!(a.body["detail"].as_str().unwrap().contains("directory.source"));
    let mut config = app.state.config.as_ref().clone();
    config.directory.scim.tokens.insert("okta".into(), entry);
    let problems = config.validate().unwrap_err().to_string();
    assert!(problems.contains("directory.source is not \"scim\""), "{problems}");
}

/// NUL characters, which PostgreSQL cannot store as text, are refused as
/// bad input on every path, never a 500.
async fn nul_characters_are_bad_input(backend: Backend) {
    let (app, scim) = scim_app(backend).await;
    let id = scim.provision("n").await;
    assert_scim_error(
        &scim.post("/Users", json!({"schemas": [USER], "userName": "a\u{0}b"})).await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &scim.post("/Users", json!({"schemas": [USER], "userName": "a", "externalId": "\u{0}"})).await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &scim.get("/Users?filter=userName%20eq%20%22a%5Cu0000%22").await,
        400,
        Some("invalidFilter"),
    );
    assert_scim_error(&scim.get("/Users/%00").await, 404, None);
    assert_scim_error(&scim.delete("/Groups/%00").await, 404, None);
    let replace = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "x\u{0}"}]});
    assert_scim_error(&scim.patch(&format!("/Users/{id}"), replace).await, 400, Some("invalidValue"));
    // A case-only rename is not a clash with itself, in any script.
    let rename = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": "N@CLINIC.EXAMPLE"}]});
    assert_eq!(scim.patch(&format!("/Users/{id}"), rename).await.status, 200);
    let emile = scim.post("/Users", json!({"schemas": [USER], "userName": "ÉMILE"})).await;
    let emile = emile.body["id"].as_str().unwrap().to_owned();
    let lower =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": "émile"}]});
    let a = scim.patch(&format!("/Users/{emile}"), lower).await;
    assert_eq!((a.status.as_u16(), a.body["userName"].clone()), (200, json!("émile")));
    assert_eq!(app.count("directory_users").await, 2);
}

on_both_backends!(
    conformance_suite_passes,
    okta_connection_test_lookup_and_create,
    okta_deactivation_by_patch_and_put,
    okta_group_membership,
    entra_user_sequence,
    entra_group_sequence,
    bad_input_gets_rfc7644_errors_and_changes_nothing,
    tokens_are_required_and_refusals_audited,
    scim_is_off_unless_it_is_the_directory,
    nul_characters_are_bad_input,
);
