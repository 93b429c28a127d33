//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the JSON
//! API, derived from the code (utoipa): each handler's `#[utoipa::path]`
//! names its method, path, parameters, body, responses and security, and
//! the bodies' types derive their schemas, so a route or a field cannot be
//! added without the document saying so. This module assembles the
//! document once, and owns what the whole document shares: its prose, tags,
//! security schemes, the responses and path parameters several operations
//! use, and the schema of an error body. It holds no secret, so it is
//! served without authentication; it must never describe a route the
//! router does not serve (`tests/it/openapi.rs` holds both lists together).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

use crate::http::error::Problem;
use crate::http::{
    accounts, actions, admin, api, audit_api, breakglass, moderation, reviews, templates, tokens,
};

/// The API's own description: how to sign in, what errors look like.
const DESCRIPTION: &str = "Custodian holds the organization's social-media credentials and acts for \
trained, two-factor-verified staff. Every action passes one path: the directory gate, Cedar policy, \
the audit journal (written before anything reaches a platform), the platform, and the recorded outcome.

**Signing in.** A person signs in with the organization's single sign-on in a browser \
(`/auth/login`) and passes the second factor (`/auth/mfa`); the session cookie then authenticates \
API calls. Every state-changing call with the cookie must carry the session's CSRF token in the \
`X-CSRF-Token` header. An API token (`Authorization: Bearer ...`) authenticates automation without a \
cookie or CSRF token, on the routes that list it (the account actions and the review queue); \
elsewhere it is refused (403 `session_required`).

**Errors.** Two JSON shapes. The action path (`/api/v1/accounts/...`, and the policy check when an \
admin connects or disconnects an account) answers a refusal: `{error, reason, rule, remedy}`, plus \
`audit_event_id` when the refusal came after the intent was recorded; `rule` names the policy, gate \
check or platform error class that refused. Everything else answers a problem: \
`{error, reason, remedy}`. `error` is a stable code, `reason` says what happened and `remedy` what to \
do. A 429 or 503 carries `Retry-After` (seconds). Every refusal is recorded in the audit journal. A \
request that takes longer than the server's limit is answered 408 with no body.

**Times** are RFC 3339 in UTC; dates are `YYYY-MM-DD`.

**Not described here.** Provisioning from the identity provider is SCIM 2.0 at `/scim/v2` (RFC \
7643/7644, with its own bearer token and its own error format). The pass-through proxy at \
`/proxy/{account}/...` speaks each platform's own API. Sign-in, the second factor and the web pages \
live under `/auth` and `/`.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Custodian JSON API",
        version = "1",
        description = DESCRIPTION,
    ),
    paths(
        document,
        api::me,
        actions::mine,
        actions::publish,
        actions::delete,
        actions::reply,
        actions::comments,
        actions::hide_comment,
        actions::delete_comment,
        audit_api::events,
        admin::access_review,
        accounts::list,
        accounts::connect,
        accounts::disconnect,
        admin::revoke,
        admin::mfa_invite,
        admin::locks,
        admin::place_lock,
        admin::lift_lock,
        admin::training_records,
        admin::record_training,
        admin::import_training,
        tokens::mine,
        tokens::create,
        tokens::revoke,
        tokens::all,
        tokens::revoke_any,
        breakglass::open,
        breakglass::end,
        breakglass::list,
        breakglass::acknowledge,
        reviews::list,
        reviews::get,
        reviews::approve,
        reviews::reject,
        reviews::withdraw,
        reviews::reschedule,
        reviews::adopt,
        templates::list,
        templates::approve,
        templates::retire,
        moderation::list,
        moderation::get,
        moderation::restore,
        moderation::keep,
        moderation::unrecorded,
    ),
    components(
        schemas(ErrorBody, ScimErrorBody, AccountAction, TokenAction, actions::DoneBody),
        responses(
            Done,
            BadRequest,
            ActionBadRequest,
            Unauthorized,
            Forbidden,
            ActionForbidden,
            NotFound,
            UnknownAccount,
            ActionConflict,
            PayloadTooLarge,
            Invalid,
            ActionUnprocessable,
            RateLimited,
            ServerError,
            BadGateway,
            AuditUnavailable,
        ),
    ),
    tags(
        (name = "me", description = "Who the caller is."),
        (name = "actions", description = "Acting on the organization's accounts through the one action path."),
        (name = "audit", description = "Searching the audit journal (auditors)."),
        (name = "admin", description = "Accounts, revocation, locks, training records and the access review (admins)."),
        (name = "meta", description = "This document."),
        (name = "tokens", description = "Personal API tokens for automation: scoped to actions and accounts, at most 90 days, shown once."),
        (name = "reviews", description = "Two-person review: actions the content screen or policy held wait for a reviewer who is not their author; an approval names the exact content."),
        (name = "templates", description = "Approved reply templates: a reviewer approves the words once; a reply that uses them needs no new review when what the screen finds lies in those words alone (no finding touches a filled-in value), policy releases clean replies on the account, and its user is not the approver."),
        (name = "moderation", description = "Inbound moderation: comments on the accounts' posts in which the content screen found what policy holds, hidden (or queued where the platform cannot hide them) for a moderator, who restores them or keeps them hidden."),
        (name = "breakglass", description = "Emergency access (HIPAA emergency access procedure): justified, with a fresh TOTP code, time-boxed, flagged on every action, acknowledged by another admin."),
    ),
    security(("sessionCookie" = []), ("apiToken" = [])),
    modifiers(&Shared),
)]
struct Document;

/// What the derive cannot say: the security schemes, the summary of
/// `info` (an OpenAPI 3.1 field utoipa's `Info` lacks), and that this
/// document itself needs no credentials (an empty `security` list, where
/// the attribute can only write a list with one empty requirement). The
/// license the derive copies from Cargo.toml is the software's, not the
/// API's, so `info` does not carry it.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let summary = "Act on the organization's social-media accounts through Custodian's one governed \
                       path, and administer it.";
        doc.info.extensions.get_or_insert_with(Default::default).insert("summary".into(), summary.into());
        doc.info.license = None;
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "sessionCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "custodian_session",
                "The session a browser sign-in (`/auth/login`) sets; the name is `session.cookie_name` \
                 in the configuration. Except for `GET /api/v1/me`, a call also needs the second factor \
                 passed in this session (`/auth/mfa`).",
            ))),
        );
        components.add_security_scheme(
            "csrfToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token: `session.csrf_token` in `GET /api/v1/me` (the same value as \
                 the `csrf` field of the session's pages). Every state-changing request that carries the \
                 session cookie must carry it; a request without it is refused (403 \
                 `csrf_token_invalid`). It changes when the session does (at sign-in and when the second \
                 factor passes).",
            ))),
        );
        components.add_security_scheme(
            "apiToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`Authorization: Bearer <token>`) for automation; it needs no \
                         cookie and no CSRF token.",
                    ))
                    .build(),
            ),
        );
        if let Some(get) = doc.paths.paths.get_mut(PATH).and_then(|item| item.get.as_mut()) {
            get.security = Some(Vec::new());
        }
    }
}

const PATH: &str = "/api/v1/openapi.json";

/// The document as served, made once. `None` only if it cannot be
/// serialized, which the tests below rule out.
static DOCUMENT: LazyLock<Option<String>> = LazyLock::new(|| match Document::openapi().to_json() {
    Ok(text) => Some(text),
    Err(e) => {
        tracing::error!(error = %e, "the OpenAPI document cannot be serialized");
        None
    }
});

/// The document's text, as `GET /api/v1/openapi.json` serves it.
pub fn text() -> Option<&'static str> {
    DOCUMENT.as_deref()
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "getOpenApi",
    summary = "This OpenAPI document",
    description = "Holds no secret, so it needs no authentication.",
    responses((status = 200, description = "The document.", body = Object)),
)]
pub async fn document() -> Response {
    match text() {
        Some(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        None => Problem::Internal.into_response(),
    }
}

// ---- The error bodies ------------------------------------------------------

/// Why a request was refused: by the action path (a refusal) or before it
/// (a problem). `rule` says which rule refused.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code, e.g. `not_signed_in`, `mfa_required`, `role_required`,
    /// `invalid` (a problem), or `forbidden`, `verify_again`,
    /// `account_unavailable`, `rate_limited` (a refusal).
    #[schema(examples("mfa_required", "forbidden"))]
    pub error: String,
    /// What happened, for a person.
    pub reason: String,
    /// Which rule refused: a gate and its check (`gate:token`,
    /// `gate:allow_list`, `gate:training`, `gate:second-factor`), a role
    /// (`role:admin`), `csrf`, `request`, `account`, `fail-closed`, the policy
    /// ids (comma-separated), `no-permit`, or the platform's error class
    /// (`platform:rate-limit`, ...).
    #[schema(examples("deletes-need-a-fresh-second-factor"))]
    pub rule: String,
    /// What to do about it.
    pub remedy: String,
    /// The recorded intent, when the platform refused after Custodian had
    /// recorded it (refusals of the action path only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub audit_event_id: Option<String>,
    /// What the content screen found, when it held or refused the content
    /// (`held_for_review`, `content_blocked`): kind, rule, byte span,
    /// confidence and why; never the text itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::domain::Finding>,
    /// The review a held action waits in (`held_for_review`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub review_id: Option<String>,
}

/// SCIM's error body (RFC 7644, section 3.12), which `/scim/v2` answers;
/// SCIM itself is not described in this document.
#[derive(Serialize, ToSchema)]
#[schema(as = ScimError)]
pub struct ScimErrorBody {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    pub schemas: Vec<String>,
    /// The HTTP status, as a string.
    #[schema(examples("400"))]
    pub status: String,
    /// SCIM's error keyword, when one applies (`invalidFilter`, `uniqueness`, ...).
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    /// What happened, for a person.
    pub detail: String,
}

/// The policy actions on an account: `crate::action::ACCOUNT_ACTIONS`,
/// the list the action path and token scopes check against.
pub struct AccountAction;

impl PartialSchema for AccountAction {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A policy action on an account."))
            .enum_values(Some(crate::action::ACCOUNT_ACTIONS))
            .into()
    }
}

impl ToSchema for AccountAction {}

/// What an API token may be scoped to: `crate::action::TOKEN_ACTIONS`.
pub struct TokenAction;

impl PartialSchema for TokenAction {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A policy action an API token may take: an account action, or deciding reviews on its accounts."))
            .enum_values(Some(crate::action::TOKEN_ACTIONS))
            .into()
    }
}

impl ToSchema for TokenAction {}

/// A string that is one of `values`, for fields whose type is a string the
/// code fills from a fixed set.
pub(crate) fn one_of(values: &[&'static str]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied()))
}

/// What a `format` query parameter names: JSON (the default) or CSV.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase", default = "json")]
pub enum Format {
    Json,
    Csv,
}

// ---- Responses several operations share -------------------------------------

/// Done; the audit event of the recorded intent.
#[derive(ToResponse)]
pub struct Done(pub actions::DoneBody);

/// The request is malformed (`bad_request`): an unreadable body or query, an unknown field, a bad value.
#[derive(ToResponse)]
pub struct BadRequest(pub ErrorBody);

/// The request is malformed (`bad_request`, rule `request`), or the platform found it so (rule `platform:request`).
#[derive(ToResponse)]
pub struct ActionBadRequest(pub ErrorBody);

/// Not signed in (`not_signed_in`), the session ended (`session_ended`), or a revocation ended it
/// (`session_revoked`: the reason an administrator gave, and whom to ask); with an API token: the
/// token is unknown, expired or revoked (`token_invalid`), or its owner cannot be re-checked at the
/// IdP (`owner_unconfirmed`). Sign in at `/auth/login`.
#[derive(ToResponse)]
pub struct Unauthorized(pub ErrorBody);

/// Refused before the handler acted: the second factor is not passed in this session
/// (`mfa_required`), the CSRF token is missing or wrong (`csrf_token_invalid`), the directory gate
/// refused the user (`not_in_directory`, `directory_inactive`, `not_allow_listed`, `locked`,
/// `role_locked`, `training_missing`, `training_expired`, ...), the caller lacks the role
/// (`role_required`, `not_auditor`), or an API token was sent to a route that takes a signed-in
/// browser session (`session_required`: only the account actions and reviews take tokens).
/// Recorded.
#[derive(ToResponse)]
pub struct Forbidden(pub ErrorBody);

/// Policy refused (`forbidden`; `rule` names the policies, or `no-permit`), a recent second factor
/// is needed (`verify_again`), or the platform refused the permission (`platform_refused`): a
/// refusal. Or refused before the action path, as for every call (see `Forbidden`): a problem.
/// Recorded.
#[derive(ToResponse)]
pub struct ActionForbidden(pub ErrorBody);

/// The account, user or lock named does not exist (`not_found`).
#[derive(ToResponse)]
pub struct NotFound(pub ErrorBody);

/// There is no such account (`not_found`, rule `account`). Recorded.
#[derive(ToResponse)]
pub struct UnknownAccount(pub ErrorBody);

/// The account must be connected again (`account_unavailable`, `credential_unreadable`), or the
/// platform already has this post (`duplicate`).
#[derive(ToResponse)]
pub struct ActionConflict(pub ErrorBody);

/// The body is larger than the server accepts (`http.body_limit_bytes`).
#[derive(ToResponse)]
pub struct PayloadTooLarge;

/// The request is well-formed but cannot be done as asked (`invalid`), or the platform refused the
/// connection (`platform_refused`).
#[derive(ToResponse)]
pub struct Invalid(pub ErrorBody);

/// The platform refused the content (`invalid`, rule `platform:validation`) or does not support the
/// operation (`unsupported`).
#[derive(ToResponse)]
pub struct ActionUnprocessable(pub ErrorBody);

/// The platform's rate limit (`rate_limited`); retry after the time given.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")))]
pub struct RateLimited(pub ErrorBody);

/// Something went wrong on Custodian's side (`internal`); nothing was changed. The detail is in the
/// server's log under the request id.
#[derive(ToResponse)]
pub struct ServerError(pub ErrorBody);

/// The platform or its token endpoint could not be reached, or gave no usable answer
/// (`platform_unavailable`).
#[derive(ToResponse)]
pub struct BadGateway(pub ErrorBody);

/// The audit journal cannot be written, so nothing was done (`audit_unavailable`; fail closed); or,
/// with an API token and `directory.source = "oidc-claims"`, the IdP has not confirmed the token's
/// owner past the grace (`owner_unconfirmed`). Retry after the time given.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")))]
pub struct AuditUnavailable(pub ErrorBody);

/// What an operation on an account (`/api/v1/accounts/{account}/...`)
/// answers when the action path does not carry it out (a body's 413 aside).
#[derive(IntoResponses)]
pub enum ActionRefusals {
    #[response(status = 400)]
    BadRequest(#[ref_response] ActionBadRequest),
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    #[response(status = 403)]
    Forbidden(#[ref_response] ActionForbidden),
    #[response(status = 404)]
    NotFound(#[ref_response] UnknownAccount),
    #[response(status = 409)]
    Conflict(#[ref_response] ActionConflict),
    #[response(status = 422)]
    Unprocessable(#[ref_response] ActionUnprocessable),
    #[response(status = 429)]
    RateLimited(#[ref_response] RateLimited),
    #[response(status = 500)]
    ServerError(#[ref_response] ServerError),
    #[response(status = 502)]
    BadGateway(#[ref_response] BadGateway),
    #[response(status = 503)]
    AuditUnavailable(#[ref_response] AuditUnavailable),
}

// ---- Path parameters several operations share --------------------------------

/// `{account}`: an account to act on.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountParam {
    /// The account's id (`GET /api/v1/accounts` lists them).
    pub account: String,
}

/// `{post}`: a post on the account.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PostParam {
    /// The platform's id of the post.
    pub post: String,
}

/// `{comment}`: a comment on the account.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CommentParam {
    /// The platform's id of the comment.
    pub comment: String,
}

/// `{id}` of an API token.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenParam {
    /// The token's id (`tok_...`).
    pub id: String,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::response::{IntoResponse, Response};
    use serde_json::Value;
    use utoipa::PartialSchema;

    use crate::action::Refusal;
    use crate::http::error::Problem;

    fn document() -> Value {
        serde_json::from_str(super::text().unwrap()).unwrap()
    }

    #[test]
    fn the_document_is_json_and_openapi_3_1() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let info = doc["info"].as_object().unwrap();
        let fields: BTreeSet<&str> = info.keys().map(String::as_str).collect();
        assert_eq!(fields, BTreeSet::from(["title", "description", "version", "summary"]));
        assert_eq!(info["title"], "Custodian JSON API");
    }

    /// Every `$ref` points at something the document holds (a schema
    /// named by string, as `AccountAction` is from below `http`, too).
    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        let dangling: Vec<_> =
            found.iter().filter(|r| r.strip_prefix('#').and_then(|p| doc.pointer(p)).is_none()).collect();
        assert!(!found.is_empty());
        assert!(dangling.is_empty(), "dangling references: {dangling:?}");
    }

    async fn keys(response: Response) -> BTreeSet<String> {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        body.as_object().unwrap().keys().cloned().collect()
    }

    /// `ErrorBody` names every field the API's error answers carry (a
    /// problem, and a refusal of the action path with its recorded intent),
    /// and requires the ones they always carry, so the schema cannot fall
    /// behind the bodies while it only describes them.
    #[tokio::test]
    async fn the_error_schema_describes_the_error_answers() {
        let schema = serde_json::to_value(super::ErrorBody::schema()).unwrap();
        let properties: BTreeSet<String> =
            schema["properties"].as_object().unwrap().keys().cloned().collect();
        let required: BTreeSet<String> =
            schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        let mut refusal = Refusal::not_found("there is no such post".into());
        refusal.audit_event_id = Some("evt_1".into());
        let answers = [
            keys(Problem::NotSignedIn.into_response()).await,
            keys(Problem::Invalid("bad".into()).into_response()).await,
            keys(Refusal::bad_request("bad".into()).into_response()).await,
            keys(refusal.into_response()).await,
        ];
        for answer in &answers {
            assert!(
                answer.is_subset(&properties),
                "an answer's fields {answer:?}, the schema's {properties:?}"
            );
            assert!(
                required.is_subset(answer),
                "an answer's fields {answer:?}, the schema requires {required:?}"
            );
        }
        assert!(answers[3].contains("audit_event_id"));
    }
}
