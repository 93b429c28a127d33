//! Proptest strategies for well-formed SCIM filters (RFC 7644 §3.4.2.2), for
//! other spellings of the same filter, and for near misses of them, shared by
//! the filter and PATCH path properties.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{Number, Value};

use super::{AttrPath, CompareOp, Filter};

/// 256 cases unless PROPTEST_CASES says otherwise, from a random seed unless
/// PROPTEST_RNG_SEED fixes it. A failure is reported with its shrunk input
/// rather than saved to a file beside the source.
pub fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

/// A few edits: cut the character at an index, or paste one of `pieces` there.
pub fn edits(pieces: &'static [&'static str]) -> impl Strategy<Value = Vec<(Index, Option<&'static str>)>> {
    vec((any::<Index>(), prop::option::of(select(pieces))), 1..4)
}

/// `text` with `edits` made: input near the edge between accepted and refused.
pub fn edited(text: &str, edits: Vec<(Index, Option<&str>)>) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (at, paste) in edits {
        let at = at.index(chars.len() + 1);
        match paste {
            Some(piece) => drop(chars.splice(at..at, piece.chars())),
            None if at < chars.len() => drop(chars.remove(at)),
            None => {}
        }
    }
    chars.into_iter().collect()
}

/// An ATTRNAME, now and then one spelled like a keyword of the grammar.
pub fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        1 => select(&["not", "NOT", "and", "or", "pr", "eq", "true", "null", "urn", "$ref", "$Ref"][..])
            .prop_map(str::to_owned),
    ]
}

/// A schema URN: a real one, or any characters a URN may hold in a path.
pub fn schema() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:core:2.0:Group",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            ][..]
        )
        .prop_map(str::to_owned),
        // Printable ASCII but for space, '"', '(', ')', '[' and ']'.
        r"[uU][rR][nN]:[!#-'*-Z\\^-~]{1,24}",
    ]
}

/// `attr`, `attr.sub`, `urn:...:attr` or `urn:...:attr.sub`.
pub fn attr_path() -> impl Strategy<Value = AttrPath> {
    (prop::option::weighted(0.2, schema()), attr_name(), prop::option::weighted(0.3, attr_name()))
        .prop_map(|(schema, attr, sub_attr)| AttrPath { schema, attr, sub_attr })
}

/// A path that may carry a `[...]` value filter: no `.sub` part.
pub fn attr_path_without_sub() -> impl Strategy<Value = AttrPath> {
    (prop::option::weighted(0.2, schema()), attr_name()).prop_map(|(schema, attr)| AttrPath {
        schema,
        attr,
        sub_attr: None,
    })
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    use CompareOp::*;
    select(&[Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le][..])
}

/// A string, rich in characters JSON must escape and that end tokens outside quotes.
fn string_value() -> impl Strategy<Value = String> {
    let tricky =
        select(&['"', '\\', '/', '\n', '\t', '\u{0}', '\u{1f}', ']', ')', '(', '[', ' ', 'é', '😀'][..]);
    prop::collection::vec(prop_oneof![tricky, any::<char>()], 0..12).prop_map(String::from_iter)
}

/// A compValue: a JSON string, number, boolean or null.
fn comp_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => string_value().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>()
            .prop_filter_map("JSON has no NaN or infinity", Number::from_f64)
            .prop_map(Value::Number),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ]
}

/// `path op value` or `path pr`.
fn attr_expr() -> impl Strategy<Value = Filter> {
    prop_oneof![
        3 => (attr_path(), compare_op(), comp_value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => attr_path().prop_map(Filter::Present),
    ]
}

/// `and`, `or` and `not` over `leaf`, a few levels deep.
fn logical(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

/// A filter with no `[...]` in it: what may stand inside one.
pub fn inner_filter() -> BoxedStrategy<Filter> {
    logical(attr_expr().boxed())
}

/// Any well-formed filter, value filters `emails[type eq "work"]` included.
pub fn filter() -> BoxedStrategy<Filter> {
    let value_path = (attr_path_without_sub(), inner_filter())
        .prop_map(|(path, filter)| Filter::ValuePath { path, filter: Box::new(filter) });
    // Shaped so that [`spell`] may write it the way Entra ID does.
    let last_term = (attr_name(), attr_expr()).prop_map(|(name, mut term)| {
        if let Filter::Compare { path, .. } | Filter::Present(path) = &mut term {
            *path = AttrPath { schema: None, attr: name, sub_attr: None };
        }
        term
    });
    let entra_value_path =
        (attr_path_without_sub(), inner_filter(), last_term).prop_map(|(path, rest, last)| {
            Filter::ValuePath { path, filter: Box::new(Filter::And(Box::new(rest), Box::new(last))) }
        });
    logical(prop_oneof![4 => attr_expr(), 1 => value_path, 1 => entra_value_path].boxed())
}

/// Choices for [`spell`]. Past the end every choice is 0, the plainest
/// spelling, so a failing case shrinks towards the printed form.
pub struct Noise {
    choices: Vec<u8>,
    next: usize,
}

impl Noise {
    pub fn new(choices: Vec<u8>) -> Self {
        Noise { choices, next: 0 }
    }

    fn pick(&mut self, n: usize) -> usize {
        let choice = self.choices.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        usize::from(choice) % n
    }

    /// Keywords, operators and literals are case-insensitive.
    fn keyword(&mut self, word: &str) -> String {
        match self.pick(3) {
            0 => word.to_owned(),
            1 => word.to_ascii_uppercase(),
            _ => word.get(..1).unwrap_or_default().to_ascii_uppercase() + word.get(1..).unwrap_or_default(),
        }
    }

    /// Where the grammar needs a space.
    fn space(&mut self) -> &'static str {
        [" ", "  ", "\t", "\n "][self.pick(4)]
    }

    /// Where a space may be left out.
    fn maybe_space(&mut self) -> &'static str {
        ["", " ", "\t\n"][self.pick(3)]
    }
}

/// Nesting [`spell`] may reach with parentheses it adds; with the few levels
/// [`filter`] generates, the total stays under [`super::MAX_DEPTH`].
const SPARE_DEPTH: usize = 16;

/// Spells `filter` another way that must parse to the same tree: keywords in
/// any case, extra whitespace, redundant parentheses, string escapes such as
/// `\u0041`, no space between an operator and a quoted value (`eq"x"`), and
/// Entra ID's `emails[type eq "work"].value eq "x"` for a value filter whose
/// last `and` term is a plain attribute.
pub fn spell(filter: &Filter, noise: &mut Noise) -> String {
    format!("{}{}{}", noise.maybe_space(), spell_at(filter, noise, 0), noise.maybe_space())
}

/// `filter`, perhaps in redundant parentheses, at nesting `depth`.
fn spell_at(filter: &Filter, noise: &mut Noise, depth: usize) -> String {
    if depth < SPARE_DEPTH && noise.pick(4) == 3 {
        let inner = spell_at(filter, noise, depth + 1);
        return format!("({}{inner}{})", noise.maybe_space(), noise.maybe_space());
    }
    spell_bare(filter, noise, depth)
}

/// `operand`, in the parentheses the tree needs when `grouped`.
fn spell_operand(operand: &Filter, grouped: bool, noise: &mut Noise, depth: usize) -> String {
    if grouped {
        let inner = spell_at(operand, noise, depth + 1);
        format!("({}{inner}{})", noise.maybe_space(), noise.maybe_space())
    } else {
        spell_at(operand, noise, depth)
    }
}

fn spell_bare(filter: &Filter, noise: &mut Noise, depth: usize) -> String {
    match filter {
        Filter::Compare { path, op, value } => {
            let op = noise.keyword(&op.to_string());
            // A quoted value may follow its operator directly.
            let gap = if value.is_string() { noise.maybe_space() } else { noise.space() };
            format!("{path}{}{op}{gap}{}", noise.space(), spell_value(value, noise))
        }
        Filter::Present(path) => format!("{path}{}{}", noise.space(), noise.keyword("pr")),
        Filter::And(left, right) => {
            let left = spell_operand(left, matches!(**left, Filter::Or(..)), noise, depth);
            let and = noise.keyword("and");
            let right =
                spell_operand(right, matches!(**right, Filter::And(..) | Filter::Or(..)), noise, depth);
            format!("{left}{}{and}{}{right}", noise.space(), noise.space())
        }
        Filter::Or(left, right) => {
            let left = spell_at(left, noise, depth);
            let or = noise.keyword("or");
            let right = spell_operand(right, matches!(**right, Filter::Or(..)), noise, depth);
            format!("{left}{}{or}{}{right}", noise.space(), noise.space())
        }
        Filter::Not(inner) => {
            let not = noise.keyword("not");
            let inner = spell_at(inner, noise, depth + 1);
            format!("{not}{}({}{inner}{})", noise.maybe_space(), noise.maybe_space(), noise.maybe_space())
        }
        Filter::ValuePath { path, filter } => {
            let open = noise.maybe_space();
            if let Some((rest, last)) = entra_split(filter).filter(|_| noise.pick(2) == 1) {
                let rest = spell_at(rest, noise, depth + 1);
                return format!(
                    "{path}[{open}{rest}{}].{}",
                    noise.maybe_space(),
                    spell_bare(last, noise, depth)
                );
            }
            let inner = spell_at(filter, noise, depth + 1);
            format!("{path}[{open}{inner}{}]", noise.maybe_space())
        }
    }
}

/// For `emails[x and value eq "v"]`, the `x` and the `value eq "v"` that
/// Entra ID's `emails[x].value eq "v"` means.
fn entra_split(filter: &Filter) -> Option<(&Filter, &Filter)> {
    let Filter::And(rest, last) = filter else { return None };
    let (Filter::Compare { path, .. } | Filter::Present(path)) = &**last else { return None };
    (path.schema.is_none() && path.sub_attr.is_none()).then_some((&**rest, &**last))
}

/// A compValue; strings have some characters escaped as `\uXXXX` (a
/// surrogate pair beyond the BMP) where JSON would not need to.
fn spell_value(value: &Value, noise: &mut Noise) -> String {
    match value {
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                if noise.pick(4) == 3 {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                } else {
                    let quoted = Value::String(c.to_string()).to_string();
                    out.push_str(quoted.get(1..quoted.len() - 1).unwrap_or_default());
                }
            }
            out + "\""
        }
        Value::Bool(_) | Value::Null => noise.keyword(&value.to_string()),
        other => other.to_string(),
    }
}
