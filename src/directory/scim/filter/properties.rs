//! Properties of the filter parser over generated input: a printed filter
//! reads back to the same tree, every spelling of a filter means the same
//! tree, and no input whatever makes the parser panic or nest without bound.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

use super::strategies::{config, edited, edits, filter, spell, Noise};
use super::*;

/// Pieces of the grammar, so that random text often comes close to a filter.
const PIECES: &[&str] = &[
    "a", "emails", "type", ".value", ":", "urn:x:", "$ref", "é", "[", "]", "(", ")", " ", "\t", " and ",
    " or ", "not ", " pr", " eq ", " gt ", "\"", "\\", "\\u00e9", "\"work\"", "1", "-", "e", "+", "0.5",
    "true", "null",
];

fn filter_like() -> impl Strategy<Value = String> {
    vec(select(PIECES), 0..120).prop_map(|pieces| pieces.concat())
}

/// A spelled filter with a few characters cut or pieces pasted in.
fn near_filter() -> impl Strategy<Value = String> {
    (filter(), vec(any::<u8>(), 0..64), edits(PIECES))
        .prop_map(|(filter, choices, edits)| edited(&spell(&filter, &mut Noise::new(choices)), edits))
}

/// Whether a filter accepted from `text` prints as text that reads back to
/// the same tree; it is evaluated once too, which must not panic either.
fn reprints_the_same(text: &str) -> Result<(), TestCaseError> {
    if let Ok(filter) = parse(text) {
        let printed = filter.to_string();
        prop_assert_eq!(parse(&printed), Ok(filter.clone()), "{:?} printed as {:?}", text, printed);
        filter.matches(&json!({ "a": 1, "emails": [{ "type": "work" }] }), &|_| false);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_printed_filter_parses_back_to_the_same_tree(filter in filter()) {
        let printed = filter.to_string();
        if printed.len() > MAX_FILTER_LEN {
            let refused = parse(&printed);
            prop_assert!(matches!(refused, Err(FilterError::TooLong { .. })), "{:?}", refused);
        } else {
            prop_assert_eq!(parse(&printed), Ok(filter), "{:?}", printed);
        }
    }

    #[test]
    fn every_spelling_of_a_filter_parses_to_the_same_tree(
        filter in filter(),
        choices in vec(any::<u8>(), 0..256),
    ) {
        let spelled = spell(&filter, &mut Noise::new(choices));
        if spelled.len() > MAX_FILTER_LEN {
            let refused = parse(&spelled);
            prop_assert!(matches!(refused, Err(FilterError::TooLong { .. })), "{:?}", refused);
        } else {
            prop_assert_eq!(parse(&spelled), Ok(filter), "{:?}", spelled);
            reprints_the_same(&spelled)?;
        }
    }

    #[test]
    fn arbitrary_input_is_accepted_or_refused_without_panicking(
        text in prop_oneof![any::<String>(), filter_like(), near_filter()],
    ) {
        reprints_the_same(&text)?;
        if let Ok(path) = AttrPath::parse(&text) {
            prop_assert_eq!(AttrPath::parse(&path.to_string()), Ok(path));
        }
    }

    #[test]
    fn long_flat_chains_print_back_as_they_were_written(
        connectors in vec(select(&["and", "or"][..]), 0..600),
    ) {
        let text =
            connectors.iter().fold("a pr".to_owned(), |text, connector| format!("{text} {connector} a pr"));
        match parse(&text) {
            // Printing adds no parentheses to a chain, so no nesting either.
            Ok(filter) => prop_assert_eq!(filter.to_string(), text),
            Err(refused) => {
                prop_assert!(text.len() > MAX_FILTER_LEN, "{} refused: {}", text.len(), refused);
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_exhausting_the_stack(
        groups in prop_oneof![
            vec(select(&["(", "not (", "not("][..]), 0..MAX_DEPTH + 4),
            vec(select(&["(", "not (", "not("][..]), 0..1200),
        ],
        // Where value filters open among the groups; a second one nests.
        brackets in vec(any::<prop::sample::Index>(), 0..3),
    ) {
        let mut openers = groups;
        for at in &brackets {
            openers.insert(at.index(openers.len() + 1), "emails[");
        }
        let closers: String =
            openers.iter().rev().map(|open| if open.ends_with('[') { ']' } else { ')' }).collect();
        let text = format!("{}a pr{closers}", openers.concat());
        let acceptable = text.len() <= MAX_FILTER_LEN && openers.len() <= MAX_DEPTH && brackets.len() <= 1;
        match parse(&text) {
            Ok(_) => prop_assert!(acceptable, "accepted {} levels", openers.len()),
            Err(FilterError::TooLong { .. } | FilterError::TooDeep { .. })
            | Err(FilterError::NestedValuePath { .. }) => {
                prop_assert!(!acceptable, "refused {} levels", openers.len());
            }
            Err(other) => {
                prop_assert!(false, "{} levels refused for another reason: {}", openers.len(), other);
            }
        }
    }
}
