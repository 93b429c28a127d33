//! The SCIM schemas Custodian serves (RFC 7643 §4 and §8.7.1: User, the
//! enterprise extension, Group), and the two things they drive: checking and
//! normalizing what a client writes, and shaping what is returned
//! (`attributes` / `excludedAttributes`, RFC 7644 §3.9).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ScimError;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

const SCHEMAS_JSON: &str = include_str!("schemas.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub required: bool,
    pub mutability: String,
    pub returned: String,
    #[serde(default)]
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    pub fn read_only(&self) -> bool {
        self.mutability == "readOnly"
    }

    /// Written but never stored or returned (the user's password: Custodian
    /// signs people in through the IdP and has no use for it).
    fn discarded(&self) -> bool {
        self.returned == "never"
    }

    fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Deserialize)]
pub struct SchemaDef {
    pub id: String,
    pub attributes: Vec<Attribute>,
}

impl SchemaDef {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

struct Schemas {
    raw: Vec<Value>,
    parsed: Vec<SchemaDef>,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    // The file is part of the binary and covered by tests; an empty set
    // would make every write fail loudly rather than pass unchecked.
    let raw: Vec<Value> = serde_json::from_str(SCHEMAS_JSON).unwrap_or_default();
    let parsed = raw.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect();
    Schemas { raw, parsed }
});

/// The schema documents, as `/Schemas` serves them.
pub fn documents() -> &'static [Value] {
    &SCHEMAS.raw
}

fn schema(id: &str) -> Option<&'static SchemaDef> {
    SCHEMAS.parsed.iter().find(|s| s.id == id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    User,
    Group,
}

impl ResourceType {
    pub fn core_urn(self) -> &'static str {
        match self {
            ResourceType::User => USER,
            ResourceType::Group => GROUP,
        }
    }

    pub fn extension_urns(self) -> &'static [&'static str] {
        match self {
            ResourceType::User => &[ENTERPRISE_USER],
            ResourceType::Group => &[],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "Users",
            ResourceType::Group => "Groups",
        }
    }

    /// The attribute a path names (`userName`, `name.givenName`, or
    /// URN-qualified), for case-exactness and mutability checks.
    pub fn attribute(self, schema_urn: Option<&str>, attr: &str) -> Option<&'static Attribute> {
        let urn = schema_urn.unwrap_or(self.core_urn());
        let urn = if urn.eq_ignore_ascii_case(self.core_urn()) { self.core_urn() } else { urn };
        if !(urn == self.core_urn() || self.extension_urns().iter().any(|e| e.eq_ignore_ascii_case(urn))) {
            return None;
        }
        let def = SCHEMAS.parsed.iter().find(|s| s.id.eq_ignore_ascii_case(urn))?;
        def.attribute(attr)
    }

    /// Whether values of the attribute compare case-sensitively (RFC 7643 §2.2).
    pub fn case_exact(self, schema_urn: Option<&str>, attr: &str, sub: Option<&str>) -> bool {
        if attr.eq_ignore_ascii_case("id") || attr.eq_ignore_ascii_case("externalId") {
            return true;
        }
        match (self.attribute(schema_urn, attr), sub) {
            (Some(a), Some(s)) => a.sub(s).is_some_and(|s| s.case_exact),
            (Some(a), None) => a.case_exact,
            (None, _) => false,
        }
    }

    /// Top-level names the client may not change (RFC 7643 §3.1 common attributes, and read-only ones).
    pub fn read_only(self) -> Vec<&'static str> {
        let mut names = vec!["id", "meta"];
        if let Some(def) = schema(self.core_urn()) {
            names.extend(def.attributes.iter().filter(|a| a.read_only()).map(|a| a.name.as_str()));
        }
        names
    }
}

/// Whether a request body must name its schemas (POST and PUT do; a
/// resource rebuilt by PATCH does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyOrigin {
    Request,
    Patched,
}

/// Checks a resource a client wrote against the schema and returns it in
/// canonical form: attribute names as the schema spells them, read-only and
/// never-returned attributes dropped, `null`s and empty lists dropped, and
/// booleans sent as the strings "True"/"False" (Microsoft Entra ID) turned
/// into booleans. Unknown attributes are refused, not silently dropped.
pub fn normalize(kind: ResourceType, input: &Value, origin: BodyOrigin) -> Result<Value, ScimError> {
    let object =
        input.as_object().ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    if origin == BodyOrigin::Request {
        check_schemas_member(kind, object)?;
    }
    let core = schema(kind.core_urn()).ok_or_else(|| ScimError::internal("schema definitions missing"))?;
    let mut out = Map::new();
    for (key, value) in object {
        if ["schemas", "id", "meta"].iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        if key.eq_ignore_ascii_case("externalId") {
            match value {
                Value::Null => {}
                Value::String(s) if s.contains('\0') => {
                    return Err(ScimError::invalid_value("externalId must not contain NUL characters"))
                }
                Value::String(s) => {
                    out.insert("externalId".to_owned(), Value::String(s.clone()));
                }
                _ => return Err(ScimError::invalid_value("externalId must be a string")),
            }
            continue;
        }
        if let Some(urn) = kind.extension_urns().iter().find(|u| u.eq_ignore_ascii_case(key)) {
            let ext = schema(urn).ok_or_else(|| ScimError::internal("schema definitions missing"))?;
            let mut fields = value
                .as_object()
                .cloned()
                .ok_or_else(|| ScimError::invalid_syntax(format!("\"{urn}\" must be a JSON object")))?;
            // Some clients repeat `schemas` inside the extension object.
            fields.retain(|k, _| !k.eq_ignore_ascii_case("schemas"));
            let normalized = normalize_attributes(ext, &fields, urn)?;
            if !normalized.is_empty() {
                out.insert((*urn).to_owned(), Value::Object(normalized));
            }
            continue;
        }
        let one = Map::from_iter([(key.clone(), value.clone())]);
        out.extend(normalize_attributes(core, &one, "")?);
    }
    for attr in core.attributes.iter().filter(|a| a.required) {
        let present = out.get(&attr.name).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
        if !present {
            return Err(ScimError::invalid_value(format!("\"{}\" is required", attr.name)));
        }
    }
    Ok(Value::Object(out))
}

fn check_schemas_member(kind: ResourceType, object: &Map<String, Value>) -> Result<(), ScimError> {
    let schemas = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
        .ok_or_else(|| ScimError::invalid_syntax("\"schemas\" is missing"))?;
    let list = schemas.as_array().ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must be a list"))?;
    let names_core = list.iter().filter_map(Value::as_str).any(|s| s.eq_ignore_ascii_case(kind.core_urn()));
    if !names_core {
        return Err(ScimError::invalid_syntax(format!("\"schemas\" must include \"{}\"", kind.core_urn())));
    }
    // Other schema URIs are tolerated: Microsoft Entra ID names its own
    // (`.../ADSCIM/2.0/Group`, and a misspelt enterprise URN). Attributes
    // under them are still checked one by one.
    Ok(())
}

fn normalize_attributes(
    def: &SchemaDef,
    fields: &Map<String, Value>,
    prefix: &str,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    for (key, value) in fields {
        // A null unassigns; Entra sends nulls for attributes it does not map.
        if value.is_null() {
            continue;
        }
        let attr = def.attribute(key).ok_or_else(|| {
            let shown = if prefix.is_empty() { key.clone() } else { format!("{prefix}:{key}") };
            ScimError::invalid_syntax(format!("unknown attribute \"{shown}\""))
        })?;
        if attr.read_only() || attr.discarded() {
            continue;
        }
        if let Some(v) = coerce(attr, value, &attr.name)? {
            out.insert(attr.name.clone(), v);
        }
    }
    Ok(out)
}

/// The value in the attribute's type, or `None` when it carries nothing.
fn coerce(attr: &Attribute, value: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    if attr.multi_valued {
        let items = match value {
            Value::Array(items) => items.clone(),
            Value::Null => return Ok(None),
            single => vec![single.clone()],
        };
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for item in &items {
            if let Some(v) = coerce_single(attr, item, path)? {
                if seen.insert(v.to_string()) {
                    out.push(v);
                }
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    if value.is_array() {
        return Err(ScimError::invalid_value(format!("\"{path}\" takes a single value, not a list")));
    }
    coerce_single(attr, value, path)
}

fn coerce_single(attr: &Attribute, value: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    let wrong = |what: &str| ScimError::invalid_value(format!("\"{path}\" must be {what}"));
    match (attr.kind.as_str(), value) {
        (_, Value::Null) => Ok(None),
        ("complex", Value::Object(fields)) => {
            let mut out = Map::new();
            for (key, v) in fields {
                let sub = attr.sub(key).ok_or_else(|| {
                    ScimError::invalid_syntax(format!("unknown attribute \"{path}.{key}\""))
                })?;
                if sub.read_only() || v.is_null() {
                    continue;
                }
                if let Some(v) = coerce_single(sub, v, &format!("{path}.{}", sub.name))? {
                    out.insert(sub.name.clone(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        ("complex", _) => Err(wrong("an object")),
        ("boolean", Value::Bool(_)) => Ok(Some(value.clone())),
        ("boolean", Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
        ("boolean", Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
        ("boolean", _) => Err(wrong("true or false")),
        ("integer", Value::Number(n)) if n.is_i64() => Ok(Some(value.clone())),
        ("integer", _) => Err(wrong("an integer")),
        ("decimal", Value::Number(_)) => Ok(Some(value.clone())),
        ("decimal", _) => Err(wrong("a number")),
        // PostgreSQL cannot store NUL in text, and no attribute needs it.
        (_, Value::String(s)) if s.contains('\0') => Err(wrong("text without NUL characters")),
        (_, Value::String(_)) => Ok(Some(value.clone())),
        (_, _) => Err(wrong("a string")),
    }
}

/// `attributes` and `excludedAttributes` from a query (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Projection {
        let split = |s: Option<&str>| -> Vec<String> {
            s.map(|s| s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect())
                .unwrap_or_default()
        };
        Projection { attributes: split(attributes), excluded: split(excluded) }
    }

    /// Applies the projection to a rendered resource; `id` and `schemas` are always returned.
    pub fn apply(&self, kind: ResourceType, resource: Value) -> Value {
        let Value::Object(full) = resource else { return resource };
        let always = |k: &str| k == "id" || k == "schemas";
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for (k, v) in &full {
                if always(k) {
                    out.insert(k.clone(), v.clone());
                }
            }
            for path in &self.attributes {
                copy_path(kind, &full, &mut out, path);
            }
            return Value::Object(out);
        }
        let mut out = full;
        for path in &self.excluded {
            remove_path(kind, &mut out, path, &always);
        }
        Value::Object(out)
    }
}

/// Splits `urn:...:User:name.givenName` into (container key, attribute, sub-attribute).
fn split_path(kind: ResourceType, path: &str) -> (Option<String>, String, Option<String>) {
    // `urn:` + ':' + the rest, compared without slicing inside a character.
    let after = |urn: &str| -> Option<&str> {
        let head = path.get(..urn.len())?;
        let rest = path.get(urn.len()..)?.strip_prefix(':')?;
        head.eq_ignore_ascii_case(urn).then_some(rest)
    };
    let (container, rest) = match kind.extension_urns().iter().find_map(|u| after(u).map(|r| (*u, r))) {
        Some((urn, rest)) => (Some(urn.to_owned()), rest),
        None => (None, after(kind.core_urn()).unwrap_or(path)),
    };
    match rest.split_once('.') {
        Some((a, s)) => (container, a.to_owned(), Some(s.to_owned())),
        None => (container, rest.to_owned(), None),
    }
}

fn find_key<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name))
}

fn copy_path(kind: ResourceType, from: &Map<String, Value>, to: &mut Map<String, Value>, path: &str) {
    if let Some(urn) = kind.extension_urns().iter().find(|u| u.eq_ignore_ascii_case(path)) {
        if let Some(v) = from.get(*urn) {
            to.insert((*urn).to_owned(), v.clone());
        }
        return;
    }
    let (container, attr, sub) = split_path(kind, path);
    let (source, target) = match &container {
        Some(urn) => {
            let Some(Value::Object(src)) = from.get(urn) else { return };
            let entry = to.entry(urn.clone()).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(dst) = entry else { return };
            (src, dst)
        }
        None => (from, to),
    };
    let Some(key) = find_key(source, &attr) else { return };
    let value = &source[key];
    match sub {
        None => {
            target.insert(key.clone(), value.clone());
        }
        Some(sub) => {
            let pick = |v: &Value| -> Option<Value> {
                let obj = v.as_object()?;
                let k = find_key(obj, &sub)?;
                Some(Value::Object(Map::from_iter([(k.clone(), obj[k].clone())])))
            };
            let picked = match value {
                Value::Array(items) => Some(Value::Array(items.iter().filter_map(pick).collect())),
                other => pick(other),
            };
            if let Some(p) = picked {
                target.insert(key.clone(), p);
            }
        }
    }
}

fn remove_path(kind: ResourceType, map: &mut Map<String, Value>, path: &str, always: &dyn Fn(&str) -> bool) {
    if let Some(urn) = kind.extension_urns().iter().find(|u| u.eq_ignore_ascii_case(path)) {
        map.remove(*urn);
        return;
    }
    let (container, attr, sub) = split_path(kind, path);
    let target = match &container {
        Some(urn) => match map.get_mut(urn) {
            Some(Value::Object(m)) => m,
            _ => return,
        },
        None => map,
    };
    let Some(key) = find_key(target, &attr).cloned() else { return };
    if container.is_none() && always(&key) {
        return;
    }
    match sub {
        None => {
            target.remove(&key);
        }
        Some(sub) => {
            let strip = |v: &mut Value| {
                if let Value::Object(o) = v {
                    if let Some(k) = find_key(o, &sub).cloned() {
                        o.remove(&k);
                    }
                }
            };
            match target.get_mut(&key) {
                Some(Value::Array(items)) => items.iter_mut().for_each(strip),
                Some(other) => strip(other),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_schema_file_parses_into_user_enterprise_and_group() {
        assert_eq!(documents().len(), 3);
        assert!(ResourceType::User.attribute(None, "USERNAME").is_some());
        assert!(ResourceType::User.attribute(Some(ENTERPRISE_USER), "department").is_some());
        assert!(ResourceType::Group.attribute(None, "members").is_some());
        assert!(ResourceType::User.read_only().contains(&"groups"));
        assert!(!ResourceType::User.case_exact(None, "userName", None));
        assert!(ResourceType::User.case_exact(None, "externalId", None));
    }

    #[test]
    fn normalizing_fixes_case_coerces_entra_booleans_and_drops_passwords_and_read_only_values() {
        let input = json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "client-chosen", "USERNAME": "Alice@Example.org", "Active": "False",
            "password": "hunter2", "groups": [{"value": "g1"}],
            "emails": [{"value": "alice@example.org", "type": "work", "primary": "true"}],
            ENTERPRISE_USER: {"Department": "Cardiology", "manager": {"value": "m1", "displayName": "Bob"}},
            "nickName": null, "roles": []
        });
        let out = normalize(ResourceType::User, &input, BodyOrigin::Request).unwrap();
        assert_eq!(
            out,
            json!({
                "userName": "Alice@Example.org", "active": false,
                "emails": [{"value": "alice@example.org", "type": "work", "primary": true}],
                ENTERPRISE_USER: {"department": "Cardiology", "manager": {"value": "m1"}}
            })
        );
    }

    #[test]
    fn unknown_attributes_wrong_types_and_missing_required_values_are_refused() {
        let base = |extra: Value| {
            let mut v = json!({"schemas": [USER], "userName": "a"});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            normalize(ResourceType::User, &v, BodyOrigin::Request)
        };
        let e = base(json!({"favouriteColour": "blue"})).unwrap_err();
        assert_eq!((e.kind, e.scim_type), (crate::domain::Kind::BadRequest, Some("invalidSyntax")));
        assert!(e.detail.contains("favouriteColour"));
        assert_eq!(base(json!({"active": "maybe"})).unwrap_err().scim_type, Some("invalidValue"));
        assert_eq!(base(json!({"name": "Alice"})).unwrap_err().scim_type, Some("invalidValue"));
        assert_eq!(
            base(json!({"emails": [{"value": "x", "colour": 1}]})).unwrap_err().scim_type,
            Some("invalidSyntax")
        );
        let e = normalize(ResourceType::User, &json!({"schemas": [USER]}), BodyOrigin::Request).unwrap_err();
        assert!(e.detail.contains("userName"));
        let e = normalize(ResourceType::User, &json!({"userName": "a"}), BodyOrigin::Request).unwrap_err();
        assert!(e.detail.contains("schemas"));
        // Entra's own schema URIs and nulls for unmapped attributes pass.
        let entra = json!({"schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
                           "userName": "a", "department": null, "manager": null, "meta": {"resourceType": "User"}});
        assert_eq!(
            normalize(ResourceType::User, &entra, BodyOrigin::Request).unwrap(),
            json!({"userName": "a"})
        );
    }

    #[test]
    fn projections_never_slice_inside_a_character_and_nul_is_refused() {
        let r = json!({"schemas": [USER], "id": "1", "userName": "a"});
        for path in [
            "urn:ietf:params:scim:schemas:core:2.0:Use\u{e9}",
            "\u{e9}\u{e9}\u{e9}",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Us\u{e9}r:x",
        ] {
            let p = Projection::parse(Some(path), Some(path));
            assert_eq!(p.apply(ResourceType::User, r.clone())["id"], "1");
            let p = Projection::parse(None, Some(path));
            assert_eq!(p.apply(ResourceType::User, r.clone())["userName"], "a");
        }
        let nul = json!({"schemas": [USER], "userName": "a\u{0}b"});
        assert_eq!(
            normalize(ResourceType::User, &nul, BodyOrigin::Request).unwrap_err().scim_type,
            Some("invalidValue")
        );
    }

    #[test]
    fn projections_keep_id_and_schemas_and_understand_sub_attributes_and_extensions() {
        let r = json!({"schemas": [USER], "id": "1", "userName": "a", "name": {"givenName": "A", "familyName": "B"},
                       "emails": [{"value": "a@x", "type": "work"}], ENTERPRISE_USER: {"department": "D", "division": "E"}});
        let p = Projection::parse(Some("name.givenName, emails, urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None);
        assert_eq!(
            p.apply(ResourceType::User, r.clone()),
            json!({"schemas": [USER], "id": "1", "name": {"givenName": "A"}, "emails": [{"value": "a@x", "type": "work"}],
                   ENTERPRISE_USER: {"department": "D"}})
        );
        let p = Projection::parse(
            None,
            Some("emails.type,name,id,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        );
        assert_eq!(
            p.apply(ResourceType::User, r),
            json!({"schemas": [USER], "id": "1", "userName": "a", "emails": [{"value": "a@x"}]})
        );
    }
}
