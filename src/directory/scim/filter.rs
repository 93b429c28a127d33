//! SCIM filter expressions (RFC 7644 §3.4.2.2): parsing, printing and evaluation.
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
use std::fmt;

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

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        })
    }
}

/// Prints the filter in RFC 7644 syntax that [`parse`] reads back to the same
/// tree: parentheses appear only where the tree needs them (`and` binds
/// tighter than `or`, and both chain to the left). Only Entra ID's form gains
/// a level: `emails[a or b].value eq "x"` prints as
/// `emails[(a or b) and value eq "x"]`, so one that already nests
/// [`MAX_DEPTH`] levels prints as a filter that is refused as too deep.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A JSON scalar prints as its compValue: quoted and escaped, or bare.
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(left, right) => {
                write_operand(f, left, matches!(**left, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, right, matches!(**right, Filter::And(..) | Filter::Or(..)))
            }
            Filter::Or(left, right) => {
                write!(f, "{left} or ")?;
                write_operand(f, right, matches!(**right, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter, grouped: bool) -> fmt::Result {
    if grouped {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
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
mod tests;

#[cfg(test)]
mod properties;

#[cfg(test)]
pub(super) mod strategies;
