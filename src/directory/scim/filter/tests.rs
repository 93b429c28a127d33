//! Unit tests of the filter parser and evaluator: RFC 7644 examples, grammar, errors, limits.

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
        (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, true),
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
    let expected = Filter::Or(Box::new(pr("a")), Box::new(Filter::And(Box::new(pr("b")), Box::new(pr("c")))));
    assert_eq!(parse("a pr or b pr and c pr").unwrap(), expected);
    let grouped = Filter::And(Box::new(Filter::Or(Box::new(pr("a")), Box::new(pr("b")))), Box::new(pr("c")));
    assert_eq!(parse("(a pr or b pr) and c pr").unwrap(), grouped);
}

#[test]
fn chains_are_left_associative() {
    let expected = Filter::Or(Box::new(Filter::Or(Box::new(pr("a")), Box::new(pr("b")))), Box::new(pr("c")));
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
fn decimal_values_are_read_to_the_nearest_float_and_print_back_the_same() {
    // More digits than a float holds: the value is the nearest float, as
    // Rust's own parser reads it, so printing the filter reads back the same.
    for text in ["10.51708265718032134500", "10.517082657180321", "3.8535195070312234e155"] {
        let nearest: f64 = text.parse().unwrap();
        let filter = parse(&format!("n eq {text}")).unwrap();
        assert_eq!(filter, eq("n", json!(nearest)), "{text}");
        assert_eq!(parse(&filter.to_string()).unwrap(), filter, "{text}");
    }
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
        AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap(),
        AttrPath { schema: Some(ENTERPRISE.into()), attr: "manager".into(), sub_attr: Some("value".into()) }
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
    assert_eq!(parse(r#"emails[type eq "w""#).unwrap_err(), FilterError::Unclosed { open: '[', offset: 6 });
    let err = parse("a pr)").unwrap_err();
    assert!(matches!(&err, FilterError::Unexpected { offset: 4, found, .. } if found == "')'"), "{err:?}");
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
    assert!(matches!(after_value_path, FilterError::Unexpected { offset: 23, .. }), "{after_value_path:?}");
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
    assert!(!parse(r#"id eq "2819C223-7F76-453A-919D-413861904646""#).unwrap().matches(&resource, &only_id));
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
