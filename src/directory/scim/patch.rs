//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource held as JSON.
//!
//! Identity providers each read the RFC their own way, so this module is
//! lenient where they differ (op names in any case, Entra ID's remove-by-value,
//! path-less replace) and strict where a mistake would corrupt a resource: a
//! request is applied all-or-nothing, read-only attributes cannot change, and
//! every refusal carries the RFC `scimType` the client expects.
//!
//! Values are stored as sent; type normalisation happens in a later layer.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::filter::{self, get_ci, AttrPath, CompareOp, Filter};

/// The schema URN every PATCH request body must list.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Attributes no client may change whatever the caller lists.
const ALWAYS_READ_ONLY: [&str; 2] = ["id", "meta"];

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

/// One entry of the request's "Operations" array.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Why a PATCH was refused; each variant maps to one RFC 7644 `scimType`.
/// Messages quote only the client's own request and are safe to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    Mutability(String),
    #[error("{0}")]
    InvalidSyntax(String),
}

impl PatchError {
    /// The RFC 7644 §3.12 `scimType` for this error.
    pub fn scim_type(&self) -> &'static str {
        match self {
            PatchError::InvalidPath(_) => "invalidPath",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::InvalidValue(_) => "invalidValue",
            PatchError::Mutability(_) => "mutability",
            PatchError::InvalidSyntax(_) => "invalidSyntax",
        }
    }

    /// Prefixes the message with the operation's position so the client can
    /// find the failing entry in a long request.
    fn in_operation(self, index: usize) -> Self {
        let at = |detail: String| format!("Operations[{index}]: {detail}");
        match self {
            PatchError::InvalidPath(d) => PatchError::InvalidPath(at(d)),
            PatchError::NoTarget(d) => PatchError::NoTarget(at(d)),
            PatchError::InvalidValue(d) => PatchError::InvalidValue(at(d)),
            PatchError::Mutability(d) => PatchError::Mutability(at(d)),
            PatchError::InvalidSyntax(d) => PatchError::InvalidSyntax(at(d)),
        }
    }
}

fn syntax(detail: impl Into<String>) -> PatchError {
    PatchError::InvalidSyntax(detail.into())
}

fn invalid_value(detail: impl Into<String>) -> PatchError {
    PatchError::InvalidValue(detail.into())
}

fn invalid_path(detail: impl Into<String>) -> PatchError {
    PatchError::InvalidPath(detail.into())
}

fn no_target(detail: impl Into<String>) -> PatchError {
    PatchError::NoTarget(detail.into())
}

// ---------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------

/// Parses the PatchOp request body:
/// `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations":[...]}`.
/// Op names and member names are case-insensitive (Microsoft Entra ID sends
/// "Add", "Replace", "Remove"); paths are checked for syntax here so a bad
/// request fails before any resource is loaded.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>, PatchError> {
    let body = body.as_object().ok_or_else(|| syntax("the request body must be a JSON object"))?;
    check_schemas(body)?;
    let operations = member(body, "Operations")
        .ok_or_else(|| syntax("the request has no \"Operations\" array"))?
        .as_array()
        .ok_or_else(|| syntax("\"Operations\" must be an array"))?;
    if operations.is_empty() {
        return Err(syntax("\"Operations\" must hold at least one operation"));
    }
    operations.iter().enumerate().map(|(i, op)| parse_op(op).map_err(|e| e.in_operation(i))).collect()
}

/// A member of a JSON object, matched case-insensitively.
fn member<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn check_schemas(body: &Map<String, Value>) -> Result<(), PatchError> {
    let listed = member(body, "schemas").and_then(Value::as_array).is_some_and(|schemas| {
        schemas.iter().filter_map(Value::as_str).any(|s| s.eq_ignore_ascii_case(PATCH_OP_URN))
    });
    if listed {
        Ok(())
    } else {
        Err(syntax(format!("\"schemas\" must list \"{PATCH_OP_URN}\"")))
    }
}

fn parse_op(op: &Value) -> Result<PatchOp, PatchError> {
    let op = op.as_object().ok_or_else(|| syntax("each operation must be a JSON object"))?;
    let kind = parse_kind(member(op, "op"))?;
    let path = parse_path_member(member(op, "path"))?;
    let value = member(op, "value").cloned();
    let parsed = PatchOp { op: kind, path, value };
    validate(&parsed)?;
    Ok(parsed)
}

fn parse_kind(op: Option<&Value>) -> Result<OpKind, PatchError> {
    let name = match op {
        None => return Err(syntax("the operation has no \"op\"")),
        Some(Value::String(name)) => name,
        Some(_) => return Err(syntax("\"op\" must be a string")),
    };
    match name.to_ascii_lowercase().as_str() {
        "add" => Ok(OpKind::Add),
        "remove" => Ok(OpKind::Remove),
        "replace" => Ok(OpKind::Replace),
        _ => Err(syntax(format!("unknown op \"{}\": expected add, remove or replace", shorten(name)))),
    }
}

/// A missing, null or blank "path" means "no path" (some clients send "").
fn parse_path_member(path: Option<&Value>) -> Result<Option<String>, PatchError> {
    match path {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if p.trim().is_empty() => Ok(None),
        Some(Value::String(p)) => {
            parse_path(p)?;
            Ok(Some(p.trim().to_owned()))
        }
        Some(_) => Err(syntax("\"path\" must be a string")),
    }
}

/// Checks the op/path/value combination, whoever built the [`PatchOp`].
fn validate(op: &PatchOp) -> Result<(), PatchError> {
    let has_path = op.path.as_deref().is_some_and(|p| !p.trim().is_empty());
    match (op.op, has_path, &op.value) {
        (OpKind::Remove, false, _) => Err(no_target("remove needs a \"path\" naming what to remove")),
        (OpKind::Add | OpKind::Replace, _, None) => Err(invalid_value("add and replace need a \"value\"")),
        (OpKind::Add, true, Some(Value::Null)) => Err(invalid_value("add needs a non-null \"value\"")),
        (OpKind::Add | OpKind::Replace, false, Some(v)) if !v.is_object() => {
            Err(invalid_value("without a \"path\", \"value\" must be an object of attributes"))
        }
        _ => Ok(()),
    }
}

/// Client text quoted back in a message, cut short.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((cut, _)) => format!("{}...", s.get(..cut).unwrap_or_default()),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// A PATCH path split into parts: `attr`, `attr.sub`, `attr[filter]` or
/// `attr[filter].sub`, each optionally qualified by a schema URN.
#[derive(Debug)]
struct ParsedPath {
    schema: Option<String>,
    attr: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

/// What an operation addresses once the path is read against the resource.
#[derive(Debug)]
enum Target {
    /// A whole extension object, named by its schema URN (its key in the resource).
    Extension(String),
    Attr(ParsedPath),
}

fn parse_path(raw: &str) -> Result<ParsedPath, PatchError> {
    let path = raw.trim();
    let Some(open) = path.find('[') else {
        let attr = parse_attr_path(path)?;
        return Ok(ParsedPath { schema: attr.schema, attr: attr.attr, filter: None, sub: attr.sub_attr });
    };
    let (head, rest) = path.split_at(open);
    let attr = parse_attr_path(head)?;
    if attr.sub_attr.is_some() {
        return Err(invalid_path(format!(
            "\"{}\": a '[...]' filter must follow a plain attribute",
            shorten(path)
        )));
    }
    let close = closing_bracket(rest)
        .ok_or_else(|| invalid_path(format!("\"{}\": the '[' is never closed", shorten(path))))?;
    let inner = rest.get(1..close).unwrap_or_default();
    let filter = filter::parse(inner).map_err(|e| invalid_path(format!("in the '[...]' filter: {e}")))?;
    let sub = parse_trailing_sub(rest.get(close + 1..).unwrap_or_default(), path)?;
    Ok(ParsedPath { schema: attr.schema, attr: attr.attr, filter: Some(filter), sub })
}

fn parse_attr_path(text: &str) -> Result<AttrPath, PatchError> {
    AttrPath::parse(text).map_err(|e| invalid_path(e.to_string()))
}

/// Byte index of the ']' closing the filter, skipping any inside strings.
fn closing_bracket(s: &str) -> Option<usize> {
    let (mut in_string, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

/// The optional `.sub` after `attr[filter]`.
fn parse_trailing_sub(after: &str, path: &str) -> Result<Option<String>, PatchError> {
    if after.is_empty() {
        return Ok(None);
    }
    match after.strip_prefix('.') {
        Some(sub) if filter::is_attr_name(sub) => Ok(Some(sub.to_owned())),
        _ => Err(invalid_path(format!(
            "\"{}\": only \".subAttribute\" may follow the '[...]' filter",
            shorten(path)
        ))),
    }
}

/// Reads `path` against the resource. A bare URN such as
/// `urn:...:enterprise:2.0:User` also parses as schema `urn:...:2.0` plus
/// attribute `User`, so it names a whole extension when the resource already
/// has that key or lists it in "schemas", or when it ends in a capitalised
/// resource-type name and the value is an object (attribute names are camelCase).
fn resolve_target(
    root: &Map<String, Value>,
    path: &str,
    value: Option<&Value>,
) -> Result<Target, PatchError> {
    let path = path.trim();
    if names_extension(root, path, value) {
        return Ok(Target::Extension(path.to_owned()));
    }
    parse_path(path).map(Target::Attr)
}

fn names_extension(root: &Map<String, Value>, path: &str, value: Option<&Value>) -> bool {
    let is_urn = path.get(..4).is_some_and(|head| head.eq_ignore_ascii_case("urn:"));
    if !is_urn || path.contains('[') {
        return false;
    }
    let known = find_key(root, path).is_some() || listed_in_schemas(root, path);
    let last = path.rsplit(':').next().unwrap_or_default();
    let looks_like_type = last.starts_with(|c: char| c.is_ascii_uppercase()) && !last.contains('.');
    known || (looks_like_type && value.is_some_and(Value::is_object))
}

fn listed_in_schemas(root: &Map<String, Value>, urn: &str) -> bool {
    member(root, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|schemas| schemas.iter().filter_map(Value::as_str).any(|s| s.eq_ignore_ascii_case(urn)))
}

// ---------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------

/// Applies `ops` in order to `resource` (a JSON object), all-or-nothing: the
/// work is done on a copy, so on error `resource` is unchanged.
/// `read_only` names top-level attributes (case-insensitive) the client may
/// not change; "id" and "meta" are always read-only. Writing a read-only
/// attribute's current value back is allowed (Okta echoes "id" in replaces).
pub fn apply(resource: &mut Value, ops: &[PatchOp], read_only: &[&str]) -> Result<(), PatchError> {
    let original = resource.as_object().ok_or_else(|| invalid_value("the resource is not a JSON object"))?;
    let mut work = original.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut work, op)
            .and_then(|()| check_read_only(original, &work, read_only))
            .map_err(|e| e.in_operation(i))?;
    }
    *resource = Value::Object(work);
    Ok(())
}

fn apply_op(root: &mut Map<String, Value>, op: &PatchOp) -> Result<(), PatchError> {
    validate(op)?;
    match op.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => apply_each_attribute(root, op.op, op.value.as_ref()),
        Some(path) => {
            let target = resolve_target(root, path, op.value.as_ref())?;
            apply_target(root, op.op, target, op.value.clone())
        }
    }
}

/// A path-less add or replace: every member of the value object is applied
/// as if it were the path (RFC 7644 §3.5.2.1 and §3.5.2.3).
fn apply_each_attribute(
    root: &mut Map<String, Value>,
    kind: OpKind,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let Some(Value::Object(attributes)) = value else {
        return Err(invalid_value("without a \"path\", \"value\" must be an object of attributes"));
    };
    for (name, attr_value) in attributes {
        let target = resolve_target(root, name, Some(attr_value))?;
        apply_target(root, kind, target, Some(attr_value.clone()))?;
    }
    Ok(())
}

fn apply_target(
    root: &mut Map<String, Value>,
    kind: OpKind,
    target: Target,
    value: Option<Value>,
) -> Result<(), PatchError> {
    match target {
        Target::Extension(urn) if filter::is_core_schema(&urn) => match kind {
            OpKind::Remove => Err(invalid_path("the core schema itself cannot be removed")),
            _ => apply_each_attribute(root, kind, value.as_ref()),
        },
        Target::Extension(urn) => apply_extension(root, kind, &urn, value),
        Target::Attr(path) => apply_attr(root, kind, path, value),
    }
}

/// Add, replace or remove a whole extension object. Adding and replacing
/// merge attribute by attribute, as for any complex attribute.
fn apply_extension(
    root: &mut Map<String, Value>,
    kind: OpKind,
    urn: &str,
    value: Option<Value>,
) -> Result<(), PatchError> {
    if kind == OpKind::Remove {
        remove_key(root, urn);
        return Ok(());
    }
    let Some(Value::Object(attributes)) = value else {
        return Err(invalid_value(format!("the value for \"{}\" must be an object", shorten(urn))));
    };
    let extension = object_slot(root, urn)?;
    for (name, attr_value) in attributes {
        set_plain(extension, kind, &name, Some(attr_value))?;
    }
    prune_empty(root, urn);
    Ok(())
}

/// Applies an operation to an attribute of the core resource or of an extension.
fn apply_attr(
    root: &mut Map<String, Value>,
    kind: OpKind,
    path: ParsedPath,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let Some(urn) = path.schema.as_deref().filter(|urn| !filter::is_core_schema(urn)) else {
        return apply_in(root, kind, &path, value);
    };
    let extension = match kind {
        OpKind::Remove => match find_key(root, urn).and_then(|key| root.get_mut(&key)) {
            Some(Value::Object(extension)) => extension,
            _ => return Ok(()),
        },
        OpKind::Add | OpKind::Replace => object_slot(root, urn)?,
    };
    apply_in(extension, kind, &path, value)?;
    prune_empty(root, urn);
    Ok(())
}

/// Applies an operation within one container (the resource or an extension).
fn apply_in(
    container: &mut Map<String, Value>,
    kind: OpKind,
    path: &ParsedPath,
    value: Option<Value>,
) -> Result<(), PatchError> {
    match (&path.filter, path.sub.as_deref()) {
        (None, None) => set_plain(container, kind, &path.attr, value),
        (None, Some(sub)) => apply_sub(container, kind, &path.attr, sub, value),
        (Some(filter), sub) => apply_filtered(container, kind, &path.attr, filter, sub, value),
    }
}

/// `attr`: add, replace or remove one attribute of `map`.
fn set_plain(
    map: &mut Map<String, Value>,
    kind: OpKind,
    name: &str,
    value: Option<Value>,
) -> Result<(), PatchError> {
    match kind {
        OpKind::Add => add_attr(map, name, required(value)?),
        OpKind::Replace => replace_attr(map, name, required(value)?),
        OpKind::Remove => remove_attr(map, name, value.as_ref()),
    }
    prune_empty(map, name);
    Ok(())
}

fn required(value: Option<Value>) -> Result<Value, PatchError> {
    value.ok_or_else(|| invalid_value("add and replace need a \"value\""))
}

/// RFC 7644 §3.5.2.1: append to multi-valued attributes (skipping values
/// already there), merge into complex ones, set simple ones.
fn add_attr(map: &mut Map<String, Value>, name: &str, value: Value) {
    if value.is_null() {
        remove_key(map, name);
        return;
    }
    match find_key(map, name).and_then(|key| map.get_mut(&key)) {
        Some(Value::Array(items)) => append_unique(items, value),
        Some(Value::Object(existing)) if value.is_object() => merge(existing, value),
        Some(slot) => *slot = cleaned(value),
        None => {
            map.insert(name.to_owned(), cleaned(value));
        }
    }
}

/// RFC 7644 §3.5.2.3: replace the value; a complex value is updated
/// sub-attribute by sub-attribute, arrays are replaced whole; null unassigns.
fn replace_attr(map: &mut Map<String, Value>, name: &str, value: Value) {
    if value.is_null() {
        remove_key(map, name);
        return;
    }
    match find_key(map, name).and_then(|key| map.get_mut(&key)) {
        Some(Value::Object(existing)) if value.is_object() => merge(existing, value),
        Some(slot) => *slot = cleaned(value),
        None => {
            map.insert(name.to_owned(), cleaned(value));
        }
    }
}

/// Removes an attribute. With a value on a multi-valued attribute (Entra ID:
/// `{"op":"Remove","path":"members","value":[{"value":"id1"}]}`) only the
/// listed values go. Removing something absent is not an error.
fn remove_attr(map: &mut Map<String, Value>, name: &str, listed: Option<&Value>) {
    let Some(key) = find_key(map, name) else {
        return;
    };
    match (map.get_mut(&key), listed) {
        (Some(Value::Array(items)), Some(listed)) if !listed.is_null() => remove_listed(items, listed),
        _ => {
            map.remove(&key);
        }
    }
}

fn remove_listed(items: &mut Vec<Value>, listed: &Value) {
    let wanted: &[Value] = match listed {
        Value::Array(list) => list,
        single => std::slice::from_ref(single),
    };
    let values: HashSet<String> = wanted.iter().filter_map(member_value).map(Value::to_string).collect();
    items.retain(|item| {
        let listed_value = member_value(item).is_some_and(|v| values.contains(&v.to_string()));
        !(listed_value || wanted.iter().any(|w| member_value(w).is_none() && item == w))
    });
}

/// Whether two values of a multi-valued attribute carry the same "value"
/// (a bare string counts as its own "value").
fn same_member_value(a: &Value, b: &Value) -> bool {
    matches!((member_value(a), member_value(b)), (Some(x), Some(y)) if x == y)
}

fn member_value(item: &Value) -> Option<&Value> {
    match item {
        Value::Object(_) => get_ci(item, "value").filter(|v| !v.is_null()),
        Value::Null | Value::Array(_) => None,
        simple => Some(simple),
    }
}

/// `attr.sub`: operates on the sub-attribute of a complex attribute, or of
/// every value of a multi-valued one.
fn apply_sub(
    map: &mut Map<String, Value>,
    kind: OpKind,
    attr: &str,
    sub: &str,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let key = find_key(map, attr).unwrap_or_else(|| attr.to_owned());
    match map.get_mut(&key) {
        None | Some(Value::Null) if kind == OpKind::Remove => return Ok(()),
        Some(Value::Array(items)) => apply_sub_to_each(items, kind, attr, sub, value)?,
        _ => set_plain(object_slot(map, &key)?, kind, sub, value)?,
    }
    prune_empty(map, &key);
    Ok(())
}

fn apply_sub_to_each(
    items: &mut [Value],
    kind: OpKind,
    attr: &str,
    sub: &str,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let mut complex = items.iter_mut().filter_map(Value::as_object_mut).peekable();
    if complex.peek().is_none() && kind != OpKind::Remove {
        return Err(no_target(format!("\"{}\" has no complex values to set \"{sub}\" on", shorten(attr))));
    }
    for item in complex {
        set_plain(item, kind, sub, value.clone())?;
    }
    Ok(())
}

/// `attr[filter]` and `attr[filter].sub`.
fn apply_filtered(
    map: &mut Map<String, Value>,
    kind: OpKind,
    attr: &str,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let key = find_key(map, attr);
    let items = key.as_deref().and_then(|key| map.get_mut(key)).and_then(Value::as_array_mut);
    let matched = items.as_deref().map(|items| matching(items, filter)).unwrap_or_default();
    match items {
        Some(items) if !matched.is_empty() => match kind {
            OpKind::Remove => remove_matched(items, &matched, sub),
            OpKind::Replace => replace_matched(items, &matched, sub, required(value)?)?,
            OpKind::Add => add_to_matched(items, &matched, sub, required(value)?)?,
        },
        _ => return no_match(map, kind, attr, filter, sub, value),
    }
    if let Some(key) = key {
        prune_empty(map, &key);
    }
    Ok(())
}

/// Indices of the values that satisfy the filter (compared case-insensitively).
fn matching(items: &[Value], filter: &Filter) -> Vec<usize> {
    let never_exact = |_: &AttrPath| false;
    items.iter().enumerate().filter(|(_, item)| filter.matches(item, &never_exact)).map(|(i, _)| i).collect()
}

/// Nothing matched. Removing is then done already; replacing is `noTarget`
/// (RFC 7644 §3.5.2.3). Adding creates the value when the filter is a plain
/// equality such as `emails[type eq "work"].value`, as Entra ID expects.
fn no_match(
    map: &mut Map<String, Value>,
    kind: OpKind,
    attr: &str,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let missing = || no_target(format!("no value of \"{}\" matches the filter", shorten(attr)));
    if kind == OpKind::Remove {
        return Ok(());
    }
    if kind == OpKind::Replace {
        return Err(missing());
    }
    let existing = find_key(map, attr).and_then(|key| map.get(&key));
    if existing.is_some_and(|v| !v.is_array() && !v.is_null()) {
        return Err(missing());
    }
    let mut element = equality_seed(filter).ok_or_else(missing)?;
    match (sub, required(value)?) {
        (Some(sub), v) => {
            element.insert(sub.to_owned(), v);
        }
        (None, Value::Object(fields)) => element.extend(fields),
        (None, _) => return Err(invalid_value("a value added through a '[...]' filter must be an object")),
    }
    add_attr(map, attr, Value::Array(vec![Value::Object(element)]));
    Ok(())
}

/// The attributes a new value needs to satisfy a filter made only of `eq`
/// comparisons joined by `and`; None for any other filter.
fn equality_seed(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value }
            if path.schema.is_none() && path.sub_attr.is_none() && !value.is_null() =>
        {
            Some(Map::from_iter([(path.attr.clone(), value.clone())]))
        }
        Filter::And(a, b) => {
            let mut seed = equality_seed(a)?;
            seed.extend(equality_seed(b)?);
            Some(seed)
        }
        _ => None,
    }
}

fn remove_matched(items: &mut Vec<Value>, matched: &[usize], sub: Option<&str>) {
    match sub {
        None => {
            let matched: HashSet<usize> = matched.iter().copied().collect();
            let mut index = 0;
            items.retain(|_| {
                let keep = !matched.contains(&index);
                index += 1;
                keep
            });
        }
        Some(sub) => {
            for item in matched_objects(items, matched) {
                remove_key(item, sub);
            }
        }
    }
}

/// RFC 7644 §3.5.2.3: matching values are replaced whole, or just their
/// sub-attribute when the path names one.
fn replace_matched(
    items: &mut [Value],
    matched: &[usize],
    sub: Option<&str>,
    value: Value,
) -> Result<(), PatchError> {
    match sub {
        None if value.is_array() => {
            return Err(invalid_value("a value replaced through a '[...]' filter cannot be an array"));
        }
        None => {
            for index in matched {
                if let Some(item) = items.get_mut(*index) {
                    *item = cleaned(value.clone());
                }
            }
        }
        Some(sub) => {
            for item in matched_objects(items, matched) {
                replace_attr(item, sub, value.clone());
            }
        }
    }
    keep_one_primary(items, matched);
    Ok(())
}

fn add_to_matched(
    items: &mut [Value],
    matched: &[usize],
    sub: Option<&str>,
    value: Value,
) -> Result<(), PatchError> {
    match sub {
        None if !value.is_object() => {
            return Err(invalid_value("a value added through a '[...]' filter must be an object"));
        }
        None => {
            for item in matched_objects(items, matched) {
                merge(item, value.clone());
            }
        }
        Some(sub) => {
            for item in matched_objects(items, matched) {
                add_attr(item, sub, value.clone());
            }
        }
    }
    keep_one_primary(items, matched);
    Ok(())
}

/// The complex values at the matched indices.
fn matched_objects<'a>(
    items: &'a mut [Value],
    matched: &'a [usize],
) -> impl Iterator<Item = &'a mut Map<String, Value>> + 'a {
    items
        .iter_mut()
        .enumerate()
        .filter(move |(i, _)| matched.contains(i))
        .filter_map(|(_, item)| item.as_object_mut())
}

// ---------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------

/// The existing key spelled like `name` ignoring case (exact spelling wins),
/// so an update never leaves "userName" and "username" side by side.
fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn remove_key(map: &mut Map<String, Value>, name: &str) {
    if let Some(key) = find_key(map, name) {
        map.remove(&key);
    }
}

/// Sets `name`, overwriting a key that differs only in case.
fn set_key(map: &mut Map<String, Value>, name: &str, value: Value) {
    let key = find_key(map, name).unwrap_or_else(|| name.to_owned());
    map.insert(key, value);
}

/// The complex attribute `name`, created empty if absent or null.
fn object_slot<'a>(
    map: &'a mut Map<String, Value>,
    name: &str,
) -> Result<&'a mut Map<String, Value>, PatchError> {
    let key = find_key(map, name).unwrap_or_else(|| name.to_owned());
    let slot = map.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| invalid_path(format!("\"{}\" is not a complex attribute", shorten(name))))
}

/// An unassigned attribute is absent (RFC 7643 §2.5), not null, [] or {}.
fn prune_empty(map: &mut Map<String, Value>, name: &str) {
    let Some(key) = find_key(map, name) else {
        return;
    };
    let empty = match map.get(&key) {
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(fields)) => fields.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        map.remove(&key);
    }
}

/// Merges sub-attributes into a complex value; a null sub-attribute unassigns.
fn merge(existing: &mut Map<String, Value>, update: Value) {
    let Value::Object(fields) = update else {
        return;
    };
    for (name, value) in fields {
        if value.is_null() {
            remove_key(existing, &name);
        } else {
            set_key(existing, &name, value);
        }
    }
}

/// A value as stored: null sub-attributes dropped (Entra sends `"$ref": null`)
/// and repeated values of an array collapsed.
fn cleaned(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(fields.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        Value::Array(items) => {
            let mut unique = Vec::with_capacity(items.len());
            append_unique(&mut unique, Value::Array(items));
            Value::Array(unique)
        }
        simple => simple,
    }
}

/// Appends one value or an array of values, skipping any already present
/// (adding an existing group member twice leaves one). A new value that
/// matches an existing one by "value" and "type" is merged into it.
fn append_unique(items: &mut Vec<Value>, incoming: Value) {
    let incoming = match incoming {
        Value::Array(list) => list,
        single => vec![single],
    };
    // Candidates by member value, so adding thousands of group members
    // stays linear; values without one are compared one by one.
    let key = |v: &Value| member_value(v).map(Value::to_string);
    let mut by_value: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(k) = key(item) {
            by_value.entry(k).or_default().push(i);
        }
    }
    let mut touched = Vec::new();
    for item in incoming.into_iter().filter(|v| !v.is_null()) {
        let item = cleaned(item);
        let item_key = key(&item);
        let found = match &item_key {
            Some(k) => by_value.get(k).and_then(|c| {
                c.iter().copied().find(|&i| items.get(i).is_some_and(|e| same_element(e, &item)))
            }),
            None => items.iter().position(|existing| same_element(existing, &item)),
        };
        match found {
            Some(index) => {
                if let Some(Value::Object(existing)) = items.get_mut(index) {
                    merge(existing, item);
                }
                touched.push(index);
            }
            None => {
                if let Some(k) = item_key {
                    by_value.entry(k).or_default().push(items.len());
                }
                items.push(item);
                touched.push(items.len() - 1);
            }
        }
    }
    keep_one_primary(items, &touched);
}

/// Whether two values of a multi-valued attribute are the same element:
/// equal, or objects with the same "value" whose "type"s do not differ.
fn same_element(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    if !a.is_object() || !b.is_object() || !same_member_value(a, b) {
        return false;
    }
    match (get_ci(a, "type"), get_ci(b, "type")) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// RFC 7643 §2.4: at most one value is primary. When a touched value is
/// primary, every other value loses the flag.
fn keep_one_primary(items: &mut [Value], touched: &[usize]) {
    let is_primary = |v: &Value| get_ci(v, "primary") == Some(&Value::Bool(true));
    let Some(winner) = touched.iter().rev().copied().find(|&i| items.get(i).is_some_and(is_primary)) else {
        return;
    };
    for (index, item) in items.iter_mut().enumerate() {
        if index != winner && is_primary(item) {
            if let Some(fields) = item.as_object_mut() {
                set_key(fields, "primary", Value::Bool(false));
            }
        }
    }
}

/// Refuses any change to a read-only attribute, compared to the original.
fn check_read_only(
    original: &Map<String, Value>,
    current: &Map<String, Value>,
    read_only: &[&str],
) -> Result<(), PatchError> {
    let changed = ALWAYS_READ_ONLY
        .iter()
        .chain(read_only)
        .find(|name| member(original, name) != member(current, name) || has_case_twin(current, name));
    match changed {
        Some(name) => Err(PatchError::Mutability(format!("\"{name}\" is read-only and cannot be changed"))),
        None => Ok(()),
    }
}

/// Whether two keys spell `name` (a second spelling would shadow the first).
fn has_case_twin(map: &Map<String, Value>, name: &str) -> bool {
    map.keys().filter(|k| k.eq_ignore_ascii_case(name)).count() > 1
}

#[cfg(test)]
mod tests {
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
        let mut resource =
            json!({ "emails": [{ "value": "a]b", "type": "x" }, { "value": "c", "type": "y" }] });
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
        let resource = patched(
            bare,
            json!([{ "op": "add", "path": format!("{ENTERPRISE}:manager.value"), "value": "m1" }]),
        );
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
        let resource = patched(
            user(),
            json!([{ "op": "replace", "path": ENTERPRISE, "value": { "department": "Sales" } }]),
        );
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
        let ops =
            parse_request(&body(json!([{ "op": "replace", "path": "USERNAME", "value": "x" }]))).unwrap();
        let err = apply(&mut resource, &ops, &["id", "meta", "userName"]).unwrap_err();
        assert_eq!(
            err,
            PatchError::Mutability("Operations[0]: \"userName\" is read-only and cannot be changed".into())
        );
        assert_eq!(err.scim_type(), "mutability");
        assert_eq!(resource, user());
        let same = parse_request(&body(json!([{ "op": "replace", "path": "userName", "value": "bjensen" }])))
            .unwrap();
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
        let err = patch(&mut resource, json!([{ "op": "add", "path": "userName.first", "value": "x" }]))
            .unwrap_err();
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
        let err = patch(
            &mut resource,
            json!([{ "op": "add", "path": "emails[value co \"zzz\"].type", "value": "x" }]),
        );
        assert!(matches!(err.unwrap_err(), PatchError::NoTarget(_)));
        let err = patch(
            &mut resource,
            json!([{ "op": "add", "path": "userName[value eq \"x\"].type", "value": "x" }]),
        );
        assert!(matches!(err.unwrap_err(), PatchError::NoTarget(_)));
    }

    #[test]
    fn setting_a_sub_attribute_on_simple_values_is_no_target() {
        let mut resource = json!({ "tags": ["a", "b"] });
        let err =
            patch(&mut resource, json!([{ "op": "add", "path": "tags.value", "value": "x" }])).unwrap_err();
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
}
