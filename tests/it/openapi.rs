//! The OpenAPI document at `/api/v1/openapi.json` describes exactly the
//! `/api/v1` routes the router serves: every served (path, method) is
//! documented, every documented one is served, and each operation documents
//! its error statuses and its path parameters. A real validator (the PyPI
//! `openapi-spec-validator`) accepts the document, and real answers, good
//! and refused, match the schemas the document gives them.
//!
//! The router's methods for a path are learned from the router itself: a
//! `TRACE` (which no route answers) gets a 405 whose `Allow` header lists
//! them, through the whole middleware stack.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use custodian::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, Browser, TestApp};

/// The operations OpenAPI knows, as its path items name them.
const OPERATIONS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// `template` with each `{param}` segment replaced by `value(param)`.
fn fill(template: &str, mut value: impl FnMut(&str) -> String) -> String {
    template
        .split('/')
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => value(param),
            None => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `template` with a sample value for each `{param}`.
fn concrete(template: &str) -> String {
    fill(template, |param| format!("probe-{param}"))
}

/// The `{param}` names in a path template.
fn template_params(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// The methods the router serves at `path` (lower case, without the HEAD
/// that GET implies), or why it serves none.
async fn served_methods(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
) -> Result<BTreeSet<String>, String> {
    let response = client.request(Method::TRACE, app.url(&concrete(path))).send().await.unwrap();
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return Err(format!("TRACE {path} answered {}, not 405 with the methods served", response.status()));
    }
    let allow = response.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let methods: BTreeSet<String> =
        allow.split(',').map(|m| m.trim().to_ascii_lowercase()).filter(|m| !m.is_empty()).collect();
    Ok(methods.iter().filter(|m| !(*m == "head" && methods.contains("get"))).cloned().collect())
}

async fn served_document(app: &TestApp) -> (Value, String) {
    let response = reqwest::get(app.url(DOCUMENT_PATH)).await.unwrap();
    assert_eq!(response.status(), 200, "served without authentication");
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/json");
    let text = response.text().await.unwrap();
    (serde_json::from_str(&text).expect("the document is JSON"), text)
}

/// `value`, or what its `$ref` (`#/components/...`) points at.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {pointer}")),
        None => value,
    }
}

/// Every documented (path, method) with its operation object.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("the document has paths");
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in OPERATIONS {
            if let Some(op) = item.get(method) {
                out.push((path.clone(), method.to_owned(), op));
            }
        }
    }
    out
}

/// Whether the operation needs authentication (its own `security`, or the document's).
fn secured(doc: &Value, op: &Value) -> bool {
    let security = op.get("security").unwrap_or(&doc["security"]);
    security.as_array().is_some_and(|alternatives| !alternatives.is_empty())
}

async fn the_document_matches_the_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::new();
    let (doc, _) = served_document(&app).await;
    let derived: Value = serde_json::from_str(custodian::http::openapi::text().unwrap()).unwrap();
    assert_eq!(doc, derived, "the served document is the one the code derives");
    assert_eq!(doc["openapi"], "3.1.0");

    let documented: BTreeSet<(String, String)> =
        operations(&doc).into_iter().map(|(path, method, _)| (path, method)).collect();
    let mut problems = Vec::new();

    // Every (path, method) the router serves under /api/v1 is documented.
    let mut served = BTreeMap::new();
    for path in custodian::http::api_paths() {
        match served_methods(&client, &app, path).await {
            Ok(methods) if methods.is_empty() => problems.push(format!("{path}: the router names no method")),
            Ok(methods) => {
                for method in &methods {
                    if !documented.contains(&(path.to_owned(), method.clone())) {
                        problems
                            .push(format!("{} {path} is served but not documented", method.to_uppercase()));
                    }
                }
                served.insert(path.to_owned(), methods);
            }
            Err(why) => problems.push(why),
        }
    }

    // Every documented (path, method) is served: the router itself says so
    // (not the fallback's 404, not a 405), and calling it without
    // credentials gets an answer the operation documents.
    for (path, method, op) in operations(&doc) {
        let methods = match served.get(&path) {
            Some(m) => m.clone(),
            None => served_methods(&client, &app, &path).await.unwrap_or_else(|why| {
                problems
                    .push(format!("{} {path} is documented but not served: {why}", method.to_uppercase()));
                BTreeSet::new()
            }),
        };
        if !methods.is_empty() && !methods.contains(&method) {
            problems.push(format!(
                "{} {path} is documented but the route serves only {methods:?}",
                method.to_uppercase()
            ));
            continue;
        }
        let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let status = client.request(verb, app.url(&concrete(&path))).send().await.unwrap().status();
        let expected = if secured(&doc, op) { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
        if status != expected {
            problems.push(format!(
                "{} {path} without credentials answered {status}, not {expected}",
                method.to_uppercase()
            ));
        } else if op["responses"].get(status.as_str()).is_none() {
            problems.push(format!(
                "{} {path} answers {status}, which it does not document",
                method.to_uppercase()
            ));
        }
    }

    assert!(problems.is_empty(), "the OpenAPI document and the router disagree:\n{}", problems.join("\n"));
    assert!(documented.len() >= 20, "only {} operations documented", documented.len());
}

async fn every_operation_documents_its_errors_and_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (doc, _) = served_document(&app).await;
    let mut problems = Vec::new();
    for (path, method, op) in operations(&doc) {
        let name = format!("{} {path}", method.to_uppercase());
        let responses = op["responses"].as_object().cloned().unwrap_or_default();
        for (status, response) in &responses {
            let response = resolve(&doc, response);
            if response["description"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: response {status} has no description"));
            }
        }
        if !responses.keys().any(|s| s.starts_with('2')) {
            problems.push(format!("{name}: no success response"));
        }
        if secured(&doc, op) {
            if !responses.contains_key("401") {
                problems.push(format!("{name}: no 401 response"));
            }
            if !responses.keys().any(|s| s.starts_with('4') && s != "401") {
                problems.push(format!("{name}: no 4xx response besides 401"));
            }
        }
        // The CSRF guard refuses a state-changing cookie request without the token.
        if method != "get" {
            let security =
                op.get("security").unwrap_or(&doc["security"]).as_array().cloned().unwrap_or_default();
            for alternative in &security {
                if alternative.get("sessionCookie").is_some() && alternative.get("csrfToken").is_none() {
                    problems.push(format!("{name}: the session cookie without the CSRF token"));
                }
            }
        }
        // Path parameters: exactly the {param} segments, each required.
        let declared: Vec<&Value> = doc["paths"][&path]["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten()
            .map(|p| resolve(&doc, p))
            .filter(|p| p["in"] == "path")
            .collect();
        let names: BTreeSet<String> =
            declared.iter().filter_map(|p| p["name"].as_str()).map(str::to_owned).collect();
        if names != template_params(&path) {
            problems.push(format!(
                "{name}: path parameters {names:?}, but the path has {:?}",
                template_params(&path)
            ));
        }
        for p in declared.iter().filter(|p| p["required"] != true) {
            problems.push(format!("{name}: path parameter {} is not required", p["name"]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `/api/v1` routes are declared only in `src/http/routes.rs`, whose list the
/// test above enumerates; a route declared anywhere else would escape it.
#[test]
fn api_routes_are_declared_in_one_place() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut stray = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(src)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("http/routes.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let compact: String = text.split_whitespace().collect();
                for call in [".route(\"/api", ".nest(\"/api", ".route_service(\"/api", ".nest_service(\"/api"]
                {
                    if compact.contains(call) {
                        stray.push(format!("{}: {call}", path.display()));
                    }
                }
            }
        }
    }
    assert!(stray.is_empty(), "declare /api/v1 routes in src/http/routes.rs, not in:\n{}", stray.join("\n"));
    assert!(custodian::http::api_paths().iter().all(|p| p.starts_with("/api/v1/")));
}

/// The PyPI `openapi-spec-validator` executable; scripts/test installs it
/// and exports its path.
fn validator() -> String {
    std::env::var("CUSTODIAN_TEST_OPENAPI_VALIDATOR").expect(
        "CUSTODIAN_TEST_OPENAPI_VALIDATOR must name the openapi-spec-validator executable \
         (scripts/test installs it from PyPI)",
    )
}

/// Runs `program` with `args`, `input` on its standard input: whether it
/// succeeded, and what it said.
async fn run(program: &str, args: &[&str], input: Vec<u8>) -> (bool, String) {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let output = child.wait_with_output().unwrap();
        let text =
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    })
    .await
    .unwrap()
}

/// Runs the validator on `document`: whether it passed, and what it said.
async fn validate(validator: &str, document: Vec<u8>) -> (bool, String) {
    let (ok, text) = run(validator, &["--schema", "3.1", "--validation-errors", "all", "-"], document).await;
    (ok && text.contains("OK"), text)
}

async fn a_real_validator_accepts_the_served_document(backend: Backend) {
    let validator = validator();
    let app = TestApp::spawn(backend).await;
    let (doc, text) = served_document(&app).await;
    let (valid, report) = validate(&validator, text.into_bytes()).await;
    assert!(valid, "openapi-spec-validator refused the document:\n{report}");

    // The validator validates: the document with an operation that lacks
    // its path parameter is refused.
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/admin/locks/{id}"]["delete"]["parameters"] = Value::Array(Vec::new());
    let (valid, report) = validate(&validator, serde_json::to_vec(&broken).unwrap()).await;
    assert!(
        !valid && report.contains("'id'"),
        "openapi-spec-validator accepted a broken document:\n{report}"
    );
}

/// Checks answers against the document's schemas (see the script).
const CONFORMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/openapi_conforms.py");

/// Real answers, each with the documented operation it answers.
#[derive(Default)]
struct Answers(Vec<Value>);

impl Answers {
    async fn record(
        &mut self,
        method: &Method,
        template: &str,
        response: reqwest::Response,
        expected: u16,
    ) -> Value {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{method} {template}: {body}");
        let path = template.split('?').next().unwrap_or_default();
        self.0.push(
            json!({"method": method.as_str().to_lowercase(), "path": path, "status": status, "body": body}),
        );
        body
    }

    /// `who` calls `method template` (its parameters filled from `params`) with `body`.
    async fn call(
        &mut self,
        who: &Browser,
        (method, template, params): (Method, &str, &[&str]),
        body: Option<Value>,
        expected: u16,
    ) -> Value {
        let mut values = params.iter();
        let path = fill(template, |_| values.next().expect("a value per parameter").to_string());
        let response = who.send_json(method.clone(), &path, body).await;
        self.record(&method, template, response, expected).await
    }
}

async fn real_answers_match_the_documented_schemas(backend: Backend) {
    let validator = validator();
    let course = "hipaa-social-media";
    let app = TestApp::spawn_with(backend, |c| {
        c.training.courses.push(custodian::directory::config::Course {
            id: course.into(),
            renewal_months: 12,
            roles: vec![],
        });
    })
    .await;
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "test".into(),
        meta: Default::default(),
    };
    let today = custodian::directory::training::millis_date(app.clock.now().millis());
    let trained = format!(
        "user,course,completed_on\nalice@clinic.example,{course},{today}\ncarol@clinic.example,{course},{today}\n\
         dave@clinic.example,{course},{today}\n"
    );
    app.state.directory().import_training(&trained, "test", &by).await.unwrap();
    let now = app.clock.now();
    let mut ids = Vec::new();
    for (handle, tag) in [("clinic", "official"), ("cardiology", "department:cardiology")] {
        let tags = [tag.to_owned()];
        ids.push(
            app.state.accounts.add_sandbox(&app.state.journal, handle, &tags, &by, now).await.unwrap().id,
        );
    }
    let (clinic, cardiology) = (ids[0].as_str(), ids[1].as_str());
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (carol, carol_secret, _) = app.enrolled_browser("carol").await;
    let (dave, _, _) = app.enrolled_browser("dave").await;
    let mut answers = Answers::default();
    let a = &mut answers;

    // Break-glass: opened by an admin, listed, refused to its own user's acknowledgement, ended.
    let why = "Patient safety alert must go out now; the usual poster is away.";
    let glass = json!({"justification": why, "code": app.totp(&carol_secret, 1)});
    a.call(&carol, (Method::POST, "/api/v1/breakglass", &[]), Some(glass.clone()), 201).await;
    a.call(&carol, (Method::POST, "/api/v1/breakglass", &[]), Some(glass), 409).await;
    a.call(&alice, (Method::POST, "/api/v1/breakglass", &[]), Some(json!({"justification": "x"})), 422).await;
    let listed = a.call(&carol, (Method::GET, "/api/v1/admin/breakglass", &[]), None, 200).await;
    let grant = listed["breakglass"][0]["id"].as_str().unwrap().to_owned();
    let ack = "/api/v1/admin/breakglass/{id}/acknowledge";
    a.call(&carol, (Method::POST, ack, &[&grant]), Some(json!({"note": "mine"})), 403).await;
    a.call(&carol, (Method::DELETE, "/api/v1/breakglass", &[]), None, 200).await;
    a.call(&carol, (Method::DELETE, "/api/v1/breakglass", &[]), None, 404).await;

    // Enrollment links: for someone who has signed in without a factor; not for alice, who has one.
    let frank = custodian::identity::VerifiedIdentity {
        issuer: crate::support::issuer(),
        subject: "frank".into(),
        email: Some("frank@clinic.example".into()),
        email_verified: Some(true),
        name: None,
        groups: vec![],
        preferred_username: None,
        other_claims: Default::default(),
    };
    app.state.identity.users.upsert_from_sign_in(&frank, app.clock.now()).await.unwrap();
    let invite = "/api/v1/admin/users/{user}/mfa-invite";
    a.call(&carol, (Method::POST, invite, &["frank@clinic.example"]), None, 201).await;
    a.call(&carol, (Method::POST, invite, &["alice@clinic.example"]), None, 409).await;
    a.call(&carol, (Method::POST, invite, &["nobody@clinic.example"]), None, 404).await;
    a.call(&alice, (Method::POST, invite, &["frank@clinic.example"]), None, 403).await;
    // Staff, through the action path.
    a.call(&alice, (Method::GET, "/api/v1/me", &[]), None, 200).await;
    // API tokens: created, listed, refused, revoked (by the owner and by an admin).
    let token = json!({"name": "scheduler", "actions": ["post.publish"], "accounts": [clinic], "expires_in_days": 30});
    let made = a.call(&alice, (Method::POST, "/api/v1/tokens", &[]), Some(token.clone()), 201).await;
    let token_id = made["id"].as_str().unwrap().to_owned();
    let other = a.call(&alice, (Method::POST, "/api/v1/tokens", &[]), Some(token), 201).await;
    let bad =
        json!({"name": "x", "actions": ["account.connect"], "accounts": [clinic], "expires_in_days": 30});
    a.call(&alice, (Method::POST, "/api/v1/tokens", &[]), Some(bad), 422).await;
    a.call(&alice, (Method::GET, "/api/v1/tokens", &[]), None, 200).await;
    a.call(&alice, (Method::DELETE, "/api/v1/tokens/{id}", &[&token_id]), None, 200).await;
    a.call(&alice, (Method::DELETE, "/api/v1/tokens/{id}", &[&token_id]), None, 409).await;
    a.call(&alice, (Method::GET, "/api/v1/admin/tokens", &[]), None, 403).await;
    a.call(&carol, (Method::GET, "/api/v1/admin/tokens", &[]), None, 200).await;
    let other_id = other["id"].as_str().unwrap();
    a.call(&carol, (Method::DELETE, "/api/v1/admin/tokens/{id}", &[other_id]), None, 200).await;
    a.call(&carol, (Method::DELETE, "/api/v1/admin/tokens/{id}", &["tok_nope"]), None, 404).await;
    a.call(&alice, (Method::GET, "/api/v1/accounts", &[]), None, 200).await;
    let posts = "/api/v1/accounts/{account}/posts";
    let post = json!({"text": "Flu shots this Saturday", "link": "https://clinic.example/flu"});
    let created = a.call(&alice, (Method::POST, posts, &[clinic]), Some(post), 201).await;
    let post_id = created["id"].as_str().unwrap().to_owned();
    let replies = "/api/v1/accounts/{account}/posts/{post}/replies";
    let mut comment_ids = Vec::new();
    for text in ["Walk-ins welcome", "(to hide)"] {
        let reply = (Method::POST, replies, &[clinic, post_id.as_str()][..]);
        let made = a.call(&alice, reply, Some(json!({"text": text})), 201).await;
        comment_ids.push(made["id"].as_str().unwrap().to_owned());
    }
    let comments = "/api/v1/accounts/{account}/posts/{post}/comments";
    a.call(&alice, (Method::GET, comments, &[clinic, &post_id]), None, 200).await;
    let hide = "/api/v1/accounts/{account}/comments/{comment}/hide";
    a.call(&alice, (Method::POST, hide, &[clinic, &comment_ids[1]]), None, 200).await;
    let comment = "/api/v1/accounts/{account}/comments/{comment}";
    a.call(&alice, (Method::DELETE, comment, &[clinic, &comment_ids[0]]), None, 200).await;
    a.call(
        &alice,
        (Method::DELETE, "/api/v1/accounts/{account}/posts/{post}", &[clinic, &post_id]),
        None,
        200,
    )
    .await;
    // Refused: by policy, for a malformed body, for an unknown account, for a missing role.
    a.call(&alice, (Method::POST, posts, &[cardiology]), Some(json!({"text": "hi"})), 403).await;
    a.call(&alice, (Method::POST, posts, &[clinic]), Some(json!({"txt": "hi"})), 400).await;
    a.call(&alice, (Method::POST, posts, &["acct_nope"]), Some(json!({"text": "hi"})), 404).await;
    a.call(&alice, (Method::GET, "/api/v1/admin/accounts", &[]), None, 403).await;
    a.call(&alice, (Method::GET, "/api/v1/audit/events", &[]), None, 403).await;
    let anonymous = reqwest::get(app.url("/api/v1/me")).await.unwrap();
    a.record(&Method::GET, "/api/v1/me", anonymous, 401).await;

    // An admin.
    a.call(&carol, (Method::GET, "/api/v1/admin/accounts", &[]), None, 200).await;
    let connect = "/api/v1/admin/accounts/connect";
    a.call(&carol, (Method::POST, connect, &[]), Some(json!({"platform": "x"})), 422).await;
    let disconnect = "/api/v1/admin/accounts/{id}/disconnect";
    a.call(&carol, (Method::POST, disconnect, &[cardiology]), None, 200).await;
    a.call(&carol, (Method::POST, disconnect, &[cardiology]), None, 422).await;
    a.call(&carol, (Method::POST, disconnect, &["acct_nope"]), None, 404).await;
    let locks = "/api/v1/admin/locks";
    let lock = json!({"scope": "user", "target": "erin@clinic.example", "reason": "on leave",
                      "expires_at": "2099-01-01T00:00:00Z"});
    let placed = a.call(&carol, (Method::POST, locks, &[]), Some(lock), 201).await;
    let lock_id = placed["lock"]["id"].as_str().unwrap().to_owned();
    a.call(
        &carol,
        (Method::POST, locks, &[]),
        Some(json!({"scope": "planet", "target": "x", "reason": "y"})),
        400,
    )
    .await;
    a.call(&carol, (Method::GET, locks, &[]), None, 200).await;
    a.call(&carol, (Method::DELETE, "/api/v1/admin/locks/{id}", &[&lock_id]), None, 200).await;
    a.call(&carol, (Method::DELETE, "/api/v1/admin/locks/{id}", &[&lock_id]), None, 404).await;
    let revoke = "/api/v1/admin/users/{user}/revoke";
    a.call(&carol, (Method::POST, revoke, &["erin@clinic.example"]), Some(json!({"reason": " "})), 422).await;
    a.call(&carol, (Method::POST, revoke, &["erin@clinic.example"]), Some(json!({"reason": "left"})), 200)
        .await;
    let training = "/api/v1/admin/training";
    let completion =
        json!({"user": "bob@clinic.example", "course": course, "completed_on": today.to_string()});
    a.call(&carol, (Method::POST, training, &[]), Some(completion), 201).await;
    a.call(&carol, (Method::GET, &format!("{training}?user=bob@clinic.example"), &[]), None, 200).await;
    let import = "/api/v1/admin/training/import";
    let csv = format!("user,course,completed_on\nbob@clinic.example,{course},{today}\n");
    a.record(&Method::POST, import, carol.post_csv(import, csv).await, 200).await;
    let csv = format!("user,course,completed_on\nbob@clinic.example,{course},not-a-date\n");
    a.record(&Method::POST, import, carol.post_csv(import, csv).await, 422).await;
    a.call(&carol, (Method::GET, "/api/v1/admin/access-review", &[]), None, 200).await;
    a.call(&carol, (Method::GET, "/api/v1/admin/access-review?format=pdf", &[]), None, 400).await;

    // An auditor reads what all this recorded.
    a.call(&dave, (Method::GET, "/api/v1/audit/events?limit=1000", &[]), None, 200).await;
    a.call(&dave, (Method::GET, "/api/v1/audit/events?limit=0", &[]), None, 400).await;

    let (doc, _) = served_document(&app).await;
    let input = serde_json::to_vec(&json!({"document": doc, "answers": answers.0})).unwrap();
    let python = std::path::Path::new(&validator).with_file_name("python");
    let (conforms, report) = run(python.to_str().unwrap(), &[CONFORMS], input).await;
    assert!(conforms, "answers that do not match the document:\n{report}");
}

on_both_backends!(
    the_document_matches_the_routes,
    every_operation_documents_its_errors_and_parameters,
    a_real_validator_accepts_the_served_document,
    real_answers_match_the_documented_schemas,
);
