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
use std::fmt;

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
#[derive(Debug, PartialEq)]
struct ParsedPath {
    schema: Option<String>,
    attr: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

/// Prints the path as [`parse_path`] reads it back.
impl fmt::Display for ParsedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
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
mod tests;

#[cfg(test)]
mod properties;
