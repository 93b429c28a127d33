//! SCIM filter expressions (RFC 7644 §3.4.2.2): parsing and evaluation.
//!
//! Filters arrive from identity providers over the network, so the parser is
//! defensive: input length and nesting depth are bounded before any recursion
//! can grow, every error names the character offset where it was found (the
//! message is safe to return to the client), and nothing here can panic.
//!
//! Evaluation follows RFC 7644 rather than JSON equality: attribute names are
//! case-insensitive, multi-valued attributes match when any value matches, and
//! strings compare case-insensitively unless the schema says `caseExact`.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Longest filter accepted, in bytes; longer input is refused before parsing.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting of `( )`, `not ( )` and `[ ]` accepted. Bounding it keeps
/// the recursive-descent parser's stack use small whatever the input.
pub const MAX_DEPTH: usize = 32;

/// Core schema URNs: a path qualified by one of these means the top level.
const CORE_SCHEMAS: [&str; 2] =
    ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group"];

/// Longest piece of client input quoted back in an error message.
const MAX_QUOTED: usize = 64;

/// An attribute reference: optional schema URN, attribute, optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

/// A comparison operator (`pr` is [`Filter::Present`], not an operator here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`; the value is a JSON string, number, boolean or null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `path pr`.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `path[filter]`: some value of the multi-valued `path` matches `filter`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// Why a filter was refused. Offsets count characters from 0; messages quote
/// at most a short piece of the client's own input, so they are safe to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("the filter is empty")]
    Empty,
    #[error("the filter is {len} bytes long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    #[error("the filter nests deeper than {max} levels at offset {offset}")]
    TooDeep { offset: usize, max: usize },
    #[error("the filter ends too early at offset {offset}: expected {expected}")]
    UnexpectedEnd { offset: usize, expected: &'static str },
    #[error("unexpected {found} at offset {offset}: expected {expected}")]
    Unexpected { offset: usize, found: String, expected: &'static str },
    #[error(
        "unknown operator \"{op}\" at offset {offset}: expected eq, ne, co, sw, ew, gt, ge, lt, le or pr"
    )]
    UnknownOperator { offset: usize, op: String },
    #[error("invalid comparison value at offset {offset}: {reason}")]
    InvalidValue { offset: usize, reason: String },
    #[error("invalid attribute path \"{path}\" at offset {offset}: {reason}")]
    InvalidAttrPath { offset: usize, path: String, reason: &'static str },
    #[error("the '{open}' at offset {offset} is never closed")]
    Unclosed { open: char, offset: usize },
    #[error("a value filter '[...]' cannot contain another one (offset {offset})")]
    NestedValuePath { offset: usize },
}

/// Parses a filter such as `userName eq "bjensen" and not (emails co "@x")`.
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(FilterError::TooLong { len: input.len(), max: MAX_FILTER_LEN });
    }
    if input.trim().is_empty() {
        return Err(FilterError::Empty);
    }
    let mut parser = Parser::new(input);
    let filter = parser.parse_or(false)?;
    parser.skip_ws();
    if parser.peek().is_some() {
        return Err(parser.unexpected("\"and\", \"or\" or the end of the filter"));
    }
    Ok(filter)
}

impl AttrPath {
    /// Parses `attr`, `attr.sub`, or either prefixed by a schema URN
    /// (`urn:...:User:manager.value`): the URN runs up to the last ':'.
    pub fn parse(s: &str) -> Result<AttrPath, FilterError> {
        Self::parse_at(s, 0)
    }

    /// As [`AttrPath::parse`], reporting errors at `offset` within a filter.
    fn parse_at(s: &str, offset: usize) -> Result<AttrPath, FilterError> {
        let fail = |reason| FilterError::InvalidAttrPath { offset, path: quoted(s), reason };
        if s.is_empty() {
            return Err(fail("the attribute path is empty"));
        }
        let (schema, rest) = split_schema(s).map_err(fail)?;
        let (attr, sub_attr) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(attr) || !sub_attr.is_none_or(is_attr_name) {
            return Err(fail(
                "names start with a letter and hold only letters, digits, '-' and '_', \
                 with at most one '.sub' part",
            ));
        }
        Ok(AttrPath {
            schema: schema.map(str::to_owned),
            attr: attr.to_owned(),
            sub_attr: sub_attr.map(str::to_owned),
        })
    }
}

/// Splits a leading schema URN (up to the last ':') from the attribute part.
fn split_schema(s: &str) -> Result<(Option<&str>, &str), &'static str> {
    let is_urn = s.get(..4).is_some_and(|head| head.eq_ignore_ascii_case("urn:"));
    if !is_urn {
        return Ok((None, s));
    }
    if s.chars().any(|c| !c.is_ascii_graphic() || "\"()[]".contains(c)) {
        return Err("a schema URN holds no spaces, quotes, brackets or non-ASCII characters");
    }
    match s.rfind(':').and_then(|i| Some((s.get(..i)?, s.get(i + 1..)?))) {
        Some((schema, attr)) if schema.len() > "urn:".len() => Ok((Some(schema), attr)),
        _ => Err("a schema URN must be followed by ':' and an attribute name"),
    }
}

/// RFC 7644 ATTRNAME: ALPHA *(ALPHA / DIGIT / "-" / "_"). `$ref` is also
/// accepted because RFC 7643 uses it as a sub-attribute (`members.$ref`).
pub(super) fn is_attr_name(s: &str) -> bool {
    if s.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(is_name_char)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `urn` names a core schema, whose attributes live at the top level.
pub(super) fn is_core_schema(urn: &str) -> bool {
    CORE_SCHEMAS.iter().any(|core| core.eq_ignore_ascii_case(urn))
}

/// Looks up `key` in a JSON object the way SCIM names work: exact spelling
/// first, then ignoring ASCII case (clients send "username" for "userName").
pub(super) fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Client input quoted back in a message, cut short so errors stay small.
fn quoted(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}...", s.get(..cut).unwrap_or_default()),
        None => s.to_owned(),
    }
}

/// Characters that end an attribute-path token inside a filter.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || "()[]\"".contains(c)
}

/// Recursive-descent parser over the characters of one filter.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn new(input: &str) -> Self {
        Parser { chars: input.chars().collect(), pos: 0, depth: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars.get(from..to).map(|s| s.iter().collect()).unwrap_or_default()
    }

    /// Reads a run of name characters (a keyword, operator or literal).
    fn read_word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        self.text(start, self.pos)
    }

    /// The error for whatever sits at the current position.
    fn unexpected(&self, expected: &'static str) -> FilterError {
        match self.peek() {
            None => FilterError::UnexpectedEnd { offset: self.pos, expected },
            Some(c) => FilterError::Unexpected { offset: self.pos, found: format!("'{c}'"), expected },
        }
    }

    /// Consumes the case-insensitive keyword `word` if it comes next as a whole
    /// word (followed by space or '('); otherwise leaves the position alone.
    fn eat_keyword(&mut self, word: &str) -> bool {
        let saved = self.pos;
        self.skip_ws();
        let found = self.read_word();
        let whole = self.peek().is_none_or(|c| c.is_whitespace() || c == '(');
        if found.eq_ignore_ascii_case(word) && whole {
            return true;
        }
        self.pos = saved;
        false
    }

    /// Enters one nesting level, refusing to go past [`MAX_DEPTH`].
    fn descend(&mut self, offset: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::TooDeep { offset, max: MAX_DEPTH });
        }
        Ok(())
    }

    fn ascend(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `or` binds loosest: a chain of `and` terms.
    fn parse_or(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(in_brackets)?;
        while self.eat_keyword("or") {
            let right = self.parse_and(in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(in_brackets)?;
        while self.eat_keyword("and") {
            let right = self.parse_unary(in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// A parenthesised group, `not (...)`, or an attribute expression.
    fn parse_unary(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.unexpected("an attribute path, '(' or \"not\"")),
            Some('(') => self.parse_group(in_brackets),
            Some(_) if self.at_not() => {
                self.read_word();
                self.skip_ws();
                Ok(Filter::Not(Box::new(self.parse_group(in_brackets)?)))
            }
            Some(_) => self.parse_attr_expr(in_brackets),
        }
    }

    /// Whether the next word is `not` followed by '(' (otherwise an attribute
    /// that happens to be called "not").
    fn at_not(&self) -> bool {
        let mut pos = self.pos;
        let word_end = pos + 3;
        if !self.text(pos, word_end).eq_ignore_ascii_case("not") {
            return false;
        }
        pos = word_end;
        while self.peek_at(pos).is_some_and(char::is_whitespace) {
            pos += 1;
        }
        self.peek_at(pos) == Some('(')
    }

    /// `( filter )`, with the cursor on the '('.
    fn parse_group(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let open = self.pos;
        self.pos += 1;
        self.descend(open)?;
        let inner = self.parse_or(in_brackets)?;
        self.ascend();
        self.expect_close(')', open, "\"and\", \"or\" or ')'")?;
        Ok(inner)
    }

    /// Consumes the closing `close` of the group opened at `open`.
    fn expect_close(&mut self, close: char, open: usize, expected: &'static str) -> Result<(), FilterError> {
        self.skip_ws();
        match self.peek() {
            Some(c) if c == close => {
                self.pos += 1;
                Ok(())
            }
            None => {
                let open_char = if close == ')' { '(' } else { '[' };
                Err(FilterError::Unclosed { open: open_char, offset: open })
            }
            Some(_) => Err(self.unexpected(expected)),
        }
    }

    /// `path pr`, `path op value` or `path[filter]`.
    fn parse_attr_expr(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let path = self.parse_path_token()?;
        if self.peek() == Some('[') {
            return self.parse_value_path(path, in_brackets);
        }
        self.parse_comparison(path)
    }

    /// `pr`, or an operator and a value, after the path.
    fn parse_comparison(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        self.skip_ws();
        let op_at = self.pos;
        let word = self.read_word();
        if word.is_empty() {
            return Err(self.unexpected("an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"));
        }
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op =
            compare_op(&word).ok_or(FilterError::UnknownOperator { offset: op_at, op: quoted(&word) })?;
        self.skip_ws();
        let value = self.parse_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// Reads and validates one attribute path token.
    fn parse_path_token(&mut self) -> Result<AttrPath, FilterError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| !ends_token(c)) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected("an attribute path"));
        }
        AttrPath::parse_at(&self.text(start, self.pos), start)
    }

    /// `path[filter]`, with the cursor on the '['.
    fn parse_value_path(&mut self, path: AttrPath, in_brackets: bool) -> Result<Filter, FilterError> {
        let open = self.pos;
        if in_brackets {
            return Err(FilterError::NestedValuePath { offset: open });
        }
        if path.sub_attr.is_some() {
            return Err(FilterError::InvalidAttrPath {
                offset: open,
                path: quoted(&path.attr),
                reason: "a '[...]' value filter must follow an attribute without a '.sub' part",
            });
        }
        self.pos += 1;
        self.descend(open)?;
        let filter = self.parse_or(true)?;
        self.ascend();
        self.expect_close(']', open, "\"and\", \"or\" or ']'")?;
        if self.peek() != Some('.') {
            return Ok(Filter::ValuePath { path, filter: Box::new(filter) });
        }
        // `emails[type eq "work"].value eq "x"`: not in RFC 7644's grammar,
        // but what Microsoft Entra ID sends to check an email is unique. It
        // means `emails[type eq "work" and value eq "x"]`.
        self.pos += 1;
        let sub = self.parse_path_token()?;
        if sub.schema.is_some() || sub.sub_attr.is_some() {
            return Err(FilterError::InvalidAttrPath {
                offset: open,
                path: quoted(&sub.attr),
                reason: "only a plain sub-attribute may follow ']'",
            });
        }
        let compare = self.parse_comparison(sub)?;
        Ok(Filter::ValuePath { path, filter: Box::new(Filter::And(Box::new(filter), Box::new(compare))) })
    }

    /// compValue: a JSON string or number, or `true` / `false` / `null`.
    fn parse_value(&mut self) -> Result<Value, FilterError> {
        let start = self.pos;
        match self.peek() {
            Some('"') => self.parse_string(start),
            Some(c) if c == '-' || c.is_ascii_digit() => self.parse_number(start),
            Some(c) if c.is_ascii_alphabetic() => self.parse_literal(start),
            _ => Err(self.unexpected("a comparison value (a quoted string, number, true, false or null)")),
        }
    }

    /// A JSON string; its escapes are decoded by serde_json.
    fn parse_string(&mut self, start: usize) -> Result<Value, FilterError> {
        let mut pos = start + 1;
        loop {
            match self.peek_at(pos) {
                None => {
                    let reason = "the string is never closed with '\"'".to_owned();
                    return Err(FilterError::InvalidValue { offset: start, reason });
                }
                Some('\\') => pos += 2,
                Some('"') => break,
                Some(_) => pos += 1,
            }
        }
        self.pos = pos + 1;
        serde_json::from_str::<String>(&self.text(start, self.pos)).map(Value::String).map_err(|_| {
            let reason = "the string holds an invalid escape or control character".to_owned();
            FilterError::InvalidValue { offset: start, reason }
        })
    }

    /// A JSON number such as `42`, `-1.5` or `1e3`.
    fn parse_number(&mut self, start: usize) -> Result<Value, FilterError> {
        while self.peek().is_some_and(|c| c.is_ascii_digit() || "+-.eE".contains(c)) {
            self.pos += 1;
        }
        let text = self.text(start, self.pos);
        serde_json::from_str::<Number>(&text).map(Value::Number).map_err(|_| FilterError::InvalidValue {
            offset: start,
            reason: format!("\"{}\" is not a valid JSON number", quoted(&text)),
        })
    }

    /// `true`, `false` or `null`, in any case.
    fn parse_literal(&mut self, start: usize) -> Result<Value, FilterError> {
        let word = self.read_word();
        match word.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => Err(FilterError::InvalidValue {
                offset: start,
                reason: format!("\"{}\" is not a quoted string, number, true, false or null", quoted(&word)),
            }),
        }
    }
}

fn compare_op(word: &str) -> Option<CompareOp> {
    let op = match word.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        _ => return None,
    };
    Some(op)
}

impl Filter {
    /// Whether `resource` satisfies this filter. `case_exact` says, per
    /// attribute, whether string comparisons respect case (schema `caseExact`);
    /// inside `emails[...]` it is asked about `emails.<sub-attribute>`.
    pub fn matches(&self, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
        match self {
            Filter::Compare { path, op, value } => compare_at(resource, path, *op, value, case_exact(path)),
            Filter::Present(path) => resolve(resource, path).into_iter().any(is_present),
            Filter::And(a, b) => a.matches(resource, case_exact) && b.matches(resource, case_exact),
            Filter::Or(a, b) => a.matches(resource, case_exact) || b.matches(resource, case_exact),
            Filter::Not(inner) => !inner.matches(resource, case_exact),
            Filter::ValuePath { path, filter } => value_path_matches(resource, path, filter, case_exact),
        }
    }
}

/// The values a path names in `resource`, before multi-valued expansion.
fn resolve<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let base = match path.schema.as_deref() {
        Some(urn) if !is_core_schema(urn) => get_ci(resource, urn),
        _ => Some(resource),
    };
    let Some(attr) = base.and_then(|base| get_ci(base, &path.attr)) else {
        return Vec::new();
    };
    match &path.sub_attr {
        None => vec![attr],
        Some(sub) => elements(attr).iter().filter_map(|item| get_ci(item, sub)).collect(),
    }
}

/// The values of a multi-valued attribute, or the single value itself.
fn elements(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// What a comparison looks at: each value of a multi-valued attribute, and
/// for complex values their "value" sub-attribute (RFC 7644 `emails co "x"`).
fn comparands(raw: Vec<&Value>) -> Vec<&Value> {
    raw.into_iter()
        .flat_map(elements)
        .filter_map(|item| if item.is_object() { get_ci(item, "value") } else { Some(item) })
        .filter(|item| !item.is_null())
        .collect()
}

fn compare_at(resource: &Value, path: &AttrPath, op: CompareOp, expected: &Value, exact: bool) -> bool {
    let actual = comparands(resolve(resource, path));
    if actual.is_empty() {
        // An absent attribute is null: `eq null` matches it, `ne "x"` too.
        return match op {
            CompareOp::Eq => expected.is_null(),
            CompareOp::Ne => !expected.is_null(),
            _ => false,
        };
    }
    actual.into_iter().any(|value| compare(value, op, expected, exact))
}

/// Compares one non-null value; mismatched types are simply "not equal".
fn compare(actual: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => compare_strings(a, op, e, exact),
        (Value::Number(a), Value::Number(e)) => {
            number_order(a, e).is_some_and(|order| order_satisfies(op, order))
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        _ => op == CompareOp::Ne,
    }
}

/// String comparison; ordering is lexicographic as RFC 7644 requires, which
/// also orders ISO 8601 timestamps correctly.
fn compare_strings(actual: &str, op: CompareOp, expected: &str, exact: bool) -> bool {
    let (a, e) = if exact {
        (actual.to_owned(), expected.to_owned())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        _ => order_satisfies(op, a.cmp(&e)),
    }
}

/// Orders two JSON numbers, exactly for integers and as floats otherwise.
fn number_order(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn order_satisfies(op: CompareOp, order: Ordering) -> bool {
    match op {
        CompareOp::Eq => order == Ordering::Equal,
        CompareOp::Ne => order != Ordering::Equal,
        CompareOp::Gt => order == Ordering::Greater,
        CompareOp::Ge => order != Ordering::Less,
        CompareOp::Lt => order == Ordering::Less,
        CompareOp::Le => order != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// RFC 7644 `pr`: present and not null, "", [] or {}.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `path[filter]`: some value of `path` satisfies `filter`, whose attribute
/// names are relative to that value.
fn value_path_matches(
    resource: &Value,
    path: &AttrPath,
    filter: &Filter,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    let inner_exact = |inner: &AttrPath| {
        let full = AttrPath {
            schema: path.schema.clone(),
            attr: path.attr.clone(),
            sub_attr: Some(inner.attr.clone()),
        };
        case_exact(&full)
    };
    resolve(resource, path).into_iter().flat_map(elements).any(|item| filter.matches(item, &inner_exact))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen",
            "name": { "familyName": "O'Malley", "givenName": "Barbara" },
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "nickName": "",
            "locale": null,
            "loginCount": 42,
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home" }
            ],
            "ims": [{ "value": "someaimhandle", "type": "aim" }],
            "x509Certificates": [],
            "meta": { "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z" },
            ENTERPRISE: {
                "department": "Tour Operations",
                "manager": { "value": "26118915-6090-4610-87e4", "displayName": "John Smith" }
            }
        })
    }

    fn eval(filter: &str, resource: &Value) -> bool {
        parse(filter).unwrap().matches(resource, &|_| false)
    }

    fn path(attr: &str) -> AttrPath {
        AttrPath { schema: None, attr: attr.to_owned(), sub_attr: None }
    }

    fn eq(attr: &str, value: Value) -> Filter {
        Filter::Compare { path: path(attr), op: CompareOp::Eq, value }
    }

    fn pr(attr: &str) -> Filter {
        Filter::Present(path(attr))
    }

    // --- RFC 7644 §3.4.2.2 examples -------------------------------------------------------------

    #[test]
    fn rfc_examples_evaluate_against_a_user() {
        let cases = [
            (r#"userName eq "bjensen""#, true),
            (r#"name.familyName co "O'Malley""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "B""#, true),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, false),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#, true),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, true),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
            (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, true),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ];
        let resource = user();
        for (filter, expected) in cases {
            assert_eq!(eval(filter, &resource), expected, "{filter}");
        }
    }

    #[test]
    fn rfc_examples_parse_to_the_expected_trees() {
        assert_eq!(parse(r#"userName eq "bjensen""#).unwrap(), eq("userName", json!("bjensen")));
        assert_eq!(
            parse("title pr and userType eq \"Employee\"").unwrap(),
            Filter::And(Box::new(pr("title")), Box::new(eq("userType", json!("Employee"))))
        );
        assert_eq!(
            parse(r#"emails[type eq "work"]"#).unwrap(),
            Filter::ValuePath { path: path("emails"), filter: Box::new(eq("type", json!("work"))) }
        );
        let f = parse(r#"userType ne "Employee" and not (emails co "example.com")"#).unwrap();
        let Filter::And(_, right) = f else { panic!("expected and: {f:?}") };
        assert!(matches!(*right, Filter::Not(_)));
    }

    // --- grammar --------------------------------------------------------------------------------

    #[test]
    fn and_binds_tighter_than_or() {
        let expected =
            Filter::Or(Box::new(pr("a")), Box::new(Filter::And(Box::new(pr("b")), Box::new(pr("c")))));
        assert_eq!(parse("a pr or b pr and c pr").unwrap(), expected);
        let grouped =
            Filter::And(Box::new(Filter::Or(Box::new(pr("a")), Box::new(pr("b")))), Box::new(pr("c")));
        assert_eq!(parse("(a pr or b pr) and c pr").unwrap(), grouped);
    }

    #[test]
    fn chains_are_left_associative() {
        let expected =
            Filter::Or(Box::new(Filter::Or(Box::new(pr("a")), Box::new(pr("b")))), Box::new(pr("c")));
        assert_eq!(parse("a pr or b pr or c pr").unwrap(), expected);
    }

    #[test]
    fn operators_and_logical_words_ignore_case() {
        let resource = user();
        assert!(eval(r#"userName EQ "bjensen" AND title PR"#, &resource));
        assert!(eval(r#"userName Eq "nobody" Or title Pr"#, &resource));
        assert!(eval(r#"NOT (userName eq "nobody")"#, &resource));
        assert!(eval(r#"userName eq "x" oR Not(userName eq "y")"#, &resource));
        for op in ["eq", "NE", "Co", "sW", "EW", "gt", "GE", "lt", "LE"] {
            assert!(parse(&format!("a {op} \"x\"")).is_ok(), "{op}");
        }
    }

    #[test]
    fn every_comparison_operator_is_recognised() {
        let ops = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        for (word, op) in ops {
            let parsed = parse(&format!("a {word} 1")).unwrap();
            assert_eq!(parsed, Filter::Compare { path: path("a"), op, value: json!(1) });
        }
    }

    #[test]
    fn extra_spaces_are_tolerated() {
        let expected = parse(r#"(userName eq "b") and emails[type eq "work"]"#).unwrap();
        let spaced = parse(r#"   (  userName   eq   "b"  )   and   emails[  type  eq "work"  ]  "#).unwrap();
        assert_eq!(spaced, expected);
        assert_eq!(parse("a pr\tand\tb pr").unwrap(), parse("a pr and b pr").unwrap());
    }

    #[test]
    fn a_quoted_value_may_follow_the_operator_directly() {
        // Seen in the wild: members[value eq"2819c223"].
        assert_eq!(parse(r#"value eq"x""#).unwrap(), eq("value", json!("x")));
    }

    #[test]
    fn comparison_values_cover_json_scalars() {
        assert_eq!(parse("active eq true").unwrap(), eq("active", json!(true)));
        assert_eq!(parse("active eq FALSE").unwrap(), eq("active", json!(false)));
        assert_eq!(parse("locale eq Null").unwrap(), eq("locale", Value::Null));
        assert_eq!(parse("n eq 42").unwrap(), eq("n", json!(42)));
        assert_eq!(parse("n eq -1.5e2").unwrap(), eq("n", json!(-150.0)));
        assert_eq!(parse(r#"s eq "a\"b\\c\u00e9\n""#).unwrap(), eq("s", json!("a\"b\\c\u{e9}\n")));
        assert_eq!(parse(r#"s eq "a ] ) and (""#).unwrap(), eq("s", json!("a ] ) and (")));
        assert_eq!(parse(r#"s eq """#).unwrap(), eq("s", json!("")));
    }

    #[test]
    fn an_attribute_called_not_is_still_an_attribute() {
        assert_eq!(parse("not pr").unwrap(), pr("not"));
        assert!(matches!(parse("order eq 1 or organization pr").unwrap(), Filter::Or(_, _)));
        assert!(matches!(parse("android pr and notes pr").unwrap(), Filter::And(_, _)));
    }

    // --- attribute paths ------------------------------------------------------------------------

    #[test]
    fn attr_path_forms() {
        assert_eq!(AttrPath::parse("userName").unwrap(), path("userName"));
        assert_eq!(
            AttrPath::parse("name.givenName").unwrap(),
            AttrPath { schema: None, attr: "name".into(), sub_attr: Some("givenName".into()) }
        );
        assert_eq!(
            AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").unwrap(),
            AttrPath { schema: Some(ENTERPRISE.into()), attr: "department".into(), sub_attr: None }
        );
        assert_eq!(
            AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
                .unwrap(),
            AttrPath {
                schema: Some(ENTERPRISE.into()),
                attr: "manager".into(),
                sub_attr: Some("value".into())
            }
        );
        assert_eq!(AttrPath::parse("x-custom_attr2").unwrap(), path("x-custom_attr2"));
        assert_eq!(AttrPath::parse("members.$ref").unwrap().sub_attr.as_deref(), Some("$ref"));
    }

    #[test]
    fn attr_path_rejects_malformed_names() {
        for bad in ["", "1abc", "a.b.c", "a.", ".a", "urn:", "urn:x", "urn:a:b:", "na me", "a$b", "é"] {
            let err = AttrPath::parse(bad).unwrap_err();
            assert!(matches!(err, FilterError::InvalidAttrPath { offset: 0, .. }), "{bad}: {err:?}");
        }
    }

    // --- errors ---------------------------------------------------------------------------------

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(parse("").unwrap_err(), FilterError::Empty);
        assert_eq!(parse("   ").unwrap_err(), FilterError::Empty);
    }

    #[test]
    fn unknown_operator_names_it_and_its_offset() {
        let err = parse(r#"userName regex ".*""#).unwrap_err();
        assert_eq!(err, FilterError::UnknownOperator { offset: 9, op: "regex".into() });
        assert!(err.to_string().contains("\"regex\" at offset 9"), "{err}");
    }

    #[test]
    fn missing_pieces_are_reported_where_they_are_missing() {
        assert!(matches!(parse("userName eq").unwrap_err(), FilterError::UnexpectedEnd { offset: 11, .. }));
        assert!(matches!(parse("userName").unwrap_err(), FilterError::UnexpectedEnd { offset: 8, .. }));
        assert!(matches!(parse("a pr and").unwrap_err(), FilterError::UnexpectedEnd { offset: 8, .. }));
        assert!(matches!(parse("a pr or ").unwrap_err(), FilterError::UnexpectedEnd { offset: 8, .. }));
        assert!(matches!(parse("not ()").unwrap_err(), FilterError::Unexpected { offset: 5, .. }));
        assert!(matches!(parse("userName eq )").unwrap_err(), FilterError::Unexpected { offset: 12, .. }));
        assert!(matches!(parse(r#"userName "x""#).unwrap_err(), FilterError::Unexpected { offset: 9, .. }));
    }

    #[test]
    fn unbalanced_groups_are_refused() {
        assert_eq!(parse("(a pr").unwrap_err(), FilterError::Unclosed { open: '(', offset: 0 });
        assert_eq!(parse("a pr and ((b pr)").unwrap_err(), FilterError::Unclosed { open: '(', offset: 9 });
        assert_eq!(
            parse(r#"emails[type eq "w""#).unwrap_err(),
            FilterError::Unclosed { open: '[', offset: 6 }
        );
        let err = parse("a pr)").unwrap_err();
        assert!(
            matches!(&err, FilterError::Unexpected { offset: 4, found, .. } if found == "')'"),
            "{err:?}"
        );
        assert!(matches!(parse("a pr]").unwrap_err(), FilterError::Unexpected { offset: 4, .. }));
        assert!(matches!(parse("(a pr]").unwrap_err(), FilterError::Unexpected { offset: 5, .. }));
        assert!(matches!(
            parse(r#"emails[type eq "w")"#).unwrap_err(),
            FilterError::Unexpected { offset: 18, .. }
        ));
    }

    #[test]
    fn trailing_garbage_is_refused() {
        let err = parse("title pr extra").unwrap_err();
        assert!(matches!(err, FilterError::Unexpected { offset: 9, .. }), "{err:?}");
        assert!(err.to_string().contains("offset 9"), "{err}");
        assert!(matches!(parse("n eq 5abc").unwrap_err(), FilterError::Unexpected { offset: 6, .. }));
        let after_value_path = parse(r#"emails[type eq "work"] value eq "x""#).unwrap_err();
        assert!(
            matches!(after_value_path, FilterError::Unexpected { offset: 23, .. }),
            "{after_value_path:?}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let cases = [
            (r#"a eq "open"#, 5),
            (r#"a eq "bad \q escape""#, 5),
            ("a eq 1.2.3", 5),
            ("a eq -", 5),
            ("a eq 01", 5),
            ("a eq bogus", 5),
            ("a eq True1", 5),
        ];
        for (filter, offset) in cases {
            let err = parse(filter).unwrap_err();
            assert!(
                matches!(&err, FilterError::InvalidValue { offset: o, .. } if *o == offset),
                "{filter}: {err:?}"
            );
        }
        assert!(matches!(parse("a eq 'single'").unwrap_err(), FilterError::Unexpected { offset: 5, .. }));
    }

    #[test]
    fn bad_attribute_paths_in_a_filter_name_their_offset() {
        let err = parse(r#"a pr and 9lives eq "x""#).unwrap_err();
        assert!(
            matches!(&err, FilterError::InvalidAttrPath { offset: 9, path, .. } if path == "9lives"),
            "{err:?}"
        );
        let err = parse(r#"name.given.x eq "x""#).unwrap_err();
        assert!(matches!(err, FilterError::InvalidAttrPath { offset: 0, .. }), "{err:?}");
        let err = parse(r#"name.givenName[type eq "x"]"#).unwrap_err();
        assert!(matches!(err, FilterError::InvalidAttrPath { offset: 14, .. }), "{err:?}");
    }

    #[test]
    fn a_sub_attribute_after_a_value_filter_joins_it_as_entra_sends() {
        let f = parse(r#"emails[type eq "work"].value eq "a@x.org""#).unwrap();
        let user =
            json!({"emails": [{"type": "home", "value": "a@x.org"}, {"type": "work", "value": "A@X.org"}]});
        assert!(f.matches(&user, &|_| false));
        let home_only = json!({"emails": [{"type": "home", "value": "a@x.org"}]});
        assert!(!f.matches(&home_only, &|_| false));
        assert!(parse(r#"emails[type eq "work"].value.x eq "a""#).is_err());
        assert!(parse(r#"emails[type eq "work"]."#).is_err());
    }

    #[test]
    fn value_filters_cannot_nest() {
        let err = parse(r#"emails[type[value eq "x"]]"#).unwrap_err();
        assert_eq!(err, FilterError::NestedValuePath { offset: 11 });
    }

    #[test]
    fn error_messages_are_specific() {
        let msg = parse("(a pr").unwrap_err().to_string();
        assert_eq!(msg, "the '(' at offset 0 is never closed");
        let msg = parse("userName eq").unwrap_err().to_string();
        assert!(msg.contains("offset 11") && msg.contains("comparison value"), "{msg}");
        let msg = parse("a eq bogus").unwrap_err().to_string();
        assert!(msg.contains("\"bogus\" is not a quoted string"), "{msg}");
    }

    // --- limits ---------------------------------------------------------------------------------

    #[test]
    fn overlong_input_is_refused_before_parsing() {
        let long = format!("userName eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
        assert!(matches!(parse(&long).unwrap_err(), FilterError::TooLong { max: MAX_FILTER_LEN, .. }));
        let at_limit = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 7));
        assert_eq!(at_limit.len(), MAX_FILTER_LEN);
        assert!(parse(&at_limit).is_ok());
    }

    #[test]
    fn deep_paren_bombs_do_not_overflow_the_stack() {
        let bomb = "(".repeat(100_000);
        assert!(matches!(parse(&bomb).unwrap_err(), FilterError::TooLong { len: 100_000, .. }));
        let within_length = format!("{}a pr{}", "(".repeat(2000), ")".repeat(2000));
        assert_eq!(
            parse(&within_length).unwrap_err(),
            FilterError::TooDeep { offset: MAX_DEPTH, max: MAX_DEPTH }
        );
        let nots = "not (".repeat(800);
        assert!(matches!(parse(&nots).unwrap_err(), FilterError::TooDeep { .. }));
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let deepest = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&deepest).unwrap(), pr("a"));
        let too_deep = format!("{}a pr{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(matches!(parse(&too_deep).unwrap_err(), FilterError::TooDeep { .. }));
        let in_brackets = format!("emails[{}a pr{}]", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(matches!(parse(&in_brackets).unwrap_err(), FilterError::TooDeep { .. }));
    }

    #[test]
    fn long_flat_chains_parse_and_evaluate() {
        let chain = vec!["a pr"; 400].join(" and ");
        let f = parse(&chain).unwrap();
        assert!(f.matches(&json!({ "a": 1 }), &|_| false));
        assert!(!f.matches(&json!({}), &|_| false));
    }

    // --- evaluation -----------------------------------------------------------------------------

    #[test]
    fn attribute_names_match_keys_case_insensitively() {
        let resource = json!({ "username": "bjensen", "Name": { "GIVENNAME": "Barbara" } });
        assert!(eval(r#"userName eq "bjensen""#, &resource));
        assert!(eval(r#"USERNAME eq "bjensen""#, &resource));
        assert!(eval(r#"name.givenName eq "barbara""#, &resource));
    }

    #[test]
    fn schema_qualified_paths_look_in_the_extension() {
        let resource = user();
        assert!(eval(&format!(r#"{ENTERPRISE}:department eq "Tour Operations""#), &resource));
        assert!(eval(&format!(r#"{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4""#), &resource));
        assert!(eval(&format!(r#"{ENTERPRISE}:manager eq "26118915-6090-4610-87e4""#), &resource));
        let lower = ENTERPRISE.to_ascii_lowercase();
        assert!(eval(&format!("{lower}:DEPARTMENT pr"), &resource));
        // Unqualified names are core attributes: the extension is not searched.
        assert!(!eval("department pr", &resource));
        assert!(!eval("urn:example:other:1.0:User:department pr", &resource));
    }

    #[test]
    fn core_schema_urns_mean_the_top_level() {
        let resource = user();
        assert!(eval(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#, &resource));
        let group = json!({ "displayName": "Tour Guides" });
        assert!(eval(r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName sw "tour""#, &group));
    }

    #[test]
    fn multi_valued_attributes_match_when_any_value_matches() {
        let resource = user();
        assert!(eval(r#"emails.value ew "jensen.org""#, &resource));
        assert!(eval(r#"emails.type eq "home""#, &resource));
        assert!(eval(r#"emails eq "babs@jensen.org""#, &resource));
        assert!(!eval(r#"emails eq "work""#, &resource));
        assert!(eval(r#"emails[type eq "home" and value sw "babs"]"#, &resource));
        assert!(!eval(r#"emails[type eq "home" and value sw "bjensen"]"#, &resource));
        assert!(eval(r#"emails[not (type eq "work")]"#, &resource));
        assert!(eval(r#"emails[primary eq true]"#, &resource));
        assert!(eval(r#"schemas co "enterprise""#, &resource));
        assert!(!eval(r#"emails[type eq "other"]"#, &resource));
        assert!(!eval(r#"missing[type eq "other"]"#, &resource));
    }

    #[test]
    fn case_exact_is_honoured_per_attribute() {
        let resource = user();
        let f = parse(r#"userName eq "BJensen""#).unwrap();
        assert!(f.matches(&resource, &|_| false));
        assert!(!f.matches(&resource, &|_| true));
        let only_id = |p: &AttrPath| p.attr == "id";
        assert!(parse(r#"userName eq "BJENSEN""#).unwrap().matches(&resource, &only_id));
        assert!(!parse(r#"id eq "2819C223-7F76-453A-919D-413861904646""#)
            .unwrap()
            .matches(&resource, &only_id));
    }

    #[test]
    fn case_exact_is_asked_about_the_full_sub_attribute_inside_brackets() {
        let resource = user();
        let asked = std::cell::RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            asked.borrow_mut().push(p.clone());
            false
        };
        assert!(parse(r#"emails[type eq "WORK"]"#).unwrap().matches(&resource, &record));
        let expected = AttrPath { schema: None, attr: "emails".into(), sub_attr: Some("type".into()) };
        assert!(asked.borrow().contains(&expected), "{:?}", asked.borrow());
    }

    #[test]
    fn string_operators() {
        let resource = user();
        assert!(eval(r#"title co "UR GU""#, &resource));
        assert!(eval(r#"title sw "tour""#, &resource));
        assert!(eval(r#"title ew "GUIDE""#, &resource));
        assert!(eval(r#"title ne "Pilot""#, &resource));
        assert!(!eval(r#"title ne "tour guide""#, &resource));
        assert!(eval(r#"userName gt "a""#, &resource));
        assert!(eval(r#"userName lt "C""#, &resource));
    }

    #[test]
    fn dates_compare_lexicographically() {
        let resource = user();
        assert!(eval(r#"meta.created lt "2011-01-01T00:00:00Z""#, &resource));
        assert!(eval(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, &resource));
        assert!(!eval(r#"meta.lastModified gt "2012-01-01T00:00:00Z""#, &resource));
    }

    #[test]
    fn numbers_compare_numerically() {
        let resource = user();
        assert!(eval("loginCount gt 9", &resource));
        assert!(eval("loginCount eq 42.0", &resource));
        assert!(eval("loginCount le 42", &resource));
        assert!(!eval("loginCount lt 42", &resource));
        assert!(eval("loginCount ge -1", &resource));
        assert!(!eval("loginCount co 4", &resource));
        assert!(!eval(r#"loginCount eq "42""#, &resource));
        assert!(eval(r#"loginCount ne "42""#, &resource));
        assert!(eval("big gt 9223372036854775807", &json!({ "big": 18446744073709551615_u64 })));
    }

    #[test]
    fn booleans_support_only_eq_and_ne() {
        let resource = user();
        assert!(eval("active eq true", &resource));
        assert!(eval("active ne false", &resource));
        assert!(!eval("active eq false", &resource));
        assert!(!eval("active gt false", &resource));
        assert!(!eval("active co true", &resource));
        assert!(!eval(r#"active eq "true""#, &resource));
    }

    #[test]
    fn null_and_absence() {
        let resource = user();
        assert!(eval("missing eq null", &resource));
        assert!(eval("locale eq null", &resource));
        assert!(!eval("missing ne null", &resource));
        assert!(eval(r#"missing ne "x""#, &resource));
        assert!(eval(r#"locale ne "x""#, &resource));
        assert!(!eval(r#"missing eq "x""#, &resource));
        assert!(!eval(r#"missing gt "x""#, &resource));
        assert!(!eval(r#"missing co "x""#, &resource));
        assert!(!eval("title eq null", &resource));
        assert!(eval("title ne null", &resource));
        assert!(!eval("missing lt null", &resource));
    }

    #[test]
    fn present_means_a_meaningful_value() {
        let resource = user();
        assert!(eval("title pr", &resource));
        assert!(eval("active pr", &resource));
        assert!(eval("loginCount pr", &resource));
        assert!(eval("emails pr", &resource));
        assert!(eval("name pr", &resource));
        assert!(eval("emails.type pr", &resource));
        assert!(!eval("nickName pr", &resource));
        assert!(!eval("locale pr", &resource));
        assert!(!eval("x509Certificates pr", &resource));
        assert!(!eval("missing pr", &resource));
        assert!(!eval("emails.display pr", &resource));
        assert!(!eval("empty pr", &json!({ "empty": {} })));
        assert!(!eval("nulls pr", &json!({ "nulls": [null] })));
        assert!(eval("falsy pr", &json!({ "falsy": false })));
    }

    #[test]
    fn logical_operators_evaluate() {
        let resource = user();
        assert!(eval("title pr and not (missing pr)", &resource));
        assert!(!eval("title pr and missing pr", &resource));
        assert!(eval("missing pr or title pr", &resource));
        assert!(!eval("not (title pr)", &resource));
        assert!(eval("not (not (title pr))", &resource));
    }

    #[test]
    fn non_object_resources_match_nothing() {
        assert!(!eval("a pr", &json!([1, 2])));
        assert!(!eval("a eq 1", &json!("text")));
        assert!(eval("a eq null", &json!(null)));
    }

    #[test]
    fn arbitrary_input_never_panics() {
        // A deterministic generator over the characters the grammar cares about.
        let alphabet: Vec<char> = "ab.:[]()\" \\eqnotrpandu0123-_ $é".chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let resource = user();
        for _ in 0..20_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = (state >> 58) as usize;
            let text: String = (0..len)
                .map(|i| {
                    let pick = (state.rotate_left(i as u32 * 7) >> 40) as usize;
                    alphabet[pick % alphabet.len()]
                })
                .collect();
            if let Ok(filter) = parse(&text) {
                filter.matches(&resource, &|_| false);
            }
            let _ = AttrPath::parse(&text);
        }
    }
}
