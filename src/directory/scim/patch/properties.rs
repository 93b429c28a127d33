//! Properties of the PATCH path parser over generated input: a printed path
//! reads back to the same parts, spacing and keyword case inside a `[...]`
//! filter change nothing, and no path whatever makes parsing or applying a
//! PATCH panic or nest without bound.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::directory::scim::filter::strategies::{
    attr_name, config, edited, edits, inner_filter, schema, spell, Noise,
};
use crate::directory::scim::filter::{FilterError, MAX_DEPTH, MAX_FILTER_LEN};

/// `attr`, `attr.sub`, `urn:...:attr`, `members[value eq "x"]`,
/// `emails[type eq "work"].value`, and schema-qualified forms of each.
fn parsed_path() -> impl Strategy<Value = ParsedPath> {
    (
        prop::option::weighted(0.2, schema()),
        attr_name(),
        prop::option::weighted(0.5, inner_filter()),
        prop::option::weighted(0.4, attr_name()),
    )
        .prop_map(|(schema, attr, filter, sub)| ParsedPath { schema, attr, filter, sub })
}

/// `path` with space around it and its filter spelled another way.
fn spell_path(path: &ParsedPath, noise: &mut Noise) -> String {
    let filter = path.filter.as_ref().map(|filter| format!("[{}]", spell(filter, noise)));
    let plain = AttrPath { schema: path.schema.clone(), attr: path.attr.clone(), sub_attr: None };
    let sub = path.sub.as_ref().map(|sub| format!(".{sub}"));
    format!(" {plain}{}{}\t", filter.unwrap_or_default(), sub.unwrap_or_default())
}

/// Pieces of PATCH paths, so that random text often comes close to one.
const PIECES: &[&str] = &[
    "emails", "members", "value", "type", "[", "]", ".", ":", "urn:x:", "$ref", "é", " ", "(", ")", " eq ",
    " and ", "not ", " pr", "\"", "\\", "\"work\"", "\"]\"",
];

fn path_like() -> impl Strategy<Value = String> {
    vec(prop::sample::select(PIECES), 0..60).prop_map(|pieces| pieces.concat())
}

/// A spelled path with a few characters cut or pieces pasted in.
fn near_path() -> impl Strategy<Value = String> {
    (parsed_path(), vec(any::<u8>(), 0..64), edits(PIECES))
        .prop_map(|(path, choices, edits)| edited(&spell_path(&path, &mut Noise::new(choices)), edits))
}

/// Whether the path's filter is refused for its length alone.
fn filter_too_long(path: &ParsedPath) -> bool {
    path.filter.as_ref().is_some_and(|filter| filter.to_string().len() > MAX_FILTER_LEN)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_printed_path_parses_back_to_the_same_parts(path in parsed_path()) {
        let printed = path.to_string();
        if filter_too_long(&path) {
            prop_assert!(parse_path(&printed).is_err());
        } else {
            prop_assert_eq!(parse_path(&printed), Ok(path), "{:?}", printed);
        }
    }

    #[test]
    fn every_spelling_of_a_path_parses_to_the_same_parts(
        path in parsed_path(),
        choices in vec(any::<u8>(), 0..256),
    ) {
        let spelled = spell_path(&path, &mut Noise::new(choices));
        if !filter_too_long(&path) {
            prop_assert_eq!(parse_path(&spelled), Ok(path), "{:?}", spelled);
        }
    }

    #[test]
    fn arbitrary_paths_are_accepted_or_refused_without_panicking(
        text in prop_oneof![any::<String>(), path_like(), near_path()],
    ) {
        if let Ok(path) = parse_path(&text) {
            prop_assert_eq!(parse_path(&path.to_string()), Ok(path), "{:?}", text);
        }
        for op in ["add", "remove", "replace"] {
            let request = json!({
                "schemas": [PATCH_OP_URN],
                "Operations": [{ "op": op, "path": &text, "value": { "value": "x" } }],
            });
            let mut resource = json!({
                "userName": "bjensen",
                "emails": [{ "value": "b@example.com", "type": "work" }],
                "members": [{ "value": "x" }],
            });
            if let Ok(ops) = parse_request(&request) {
                let _ = apply(&mut resource, &ops, &[]);
            }
        }
    }

    #[test]
    fn deep_nesting_in_a_path_filter_is_refused_as_an_invalid_path(
        levels in prop_oneof![0..MAX_DEPTH + 4, 0..2000usize],
    ) {
        let path = format!("members[{}value pr{}]", "(".repeat(levels), ")".repeat(levels));
        match parse_path(&path) {
            Ok(_) => prop_assert!(levels <= MAX_DEPTH, "{} levels accepted", levels),
            Err(PatchError::InvalidPath(detail)) => {
                let too_deep = FilterError::TooDeep { offset: MAX_DEPTH, max: MAX_DEPTH }.to_string();
                prop_assert!(levels > MAX_DEPTH, "{} levels refused: {}", levels, detail);
                prop_assert!(detail.contains(&too_deep), "{}", detail);
            }
            Err(other) => prop_assert!(false, "{} levels refused for another reason: {:?}", levels, other),
        }
    }
}
