//! Identifiers that matter only next to health information: dates ("on
//! Sunday", "in August", "Christmas Eve"), ages ("82-year-old", "Keanu,
//! 16,", "age 7") and places ("from Elm Hollow", "ZIP 97999"). Safe Harbor
//! counts every element of a date tied to a person, every age and every
//! place smaller than a state; alone, in "Thanks, Tasha! See you Sunday",
//! they are nothing. So the screen lists them only in a text it holds for
//! something else, to show the reviewer everything that would identify the
//! person.

use regex::{Captures, Regex};

use super::identifiers::{date_pattern, plausible_date};
use super::FindingKind;

pub struct ContextRule {
    pub rule: &'static str,
    pub kind: FindingKind,
    pub confidence: f32,
    pub explanation: &'static str,
    regex: Regex,
    check: fn(&Captures<'_>) -> bool,
    /// A place: the caller drops candidates that are health words, calendar
    /// words or the organization's own names.
    pub place: bool,
}

/// A match: the `id` group's span, or the whole match.
pub struct ContextHit<'r> {
    pub rule: &'r ContextRule,
    pub start: usize,
    pub end: usize,
}

fn any(_: &Captures<'_>) -> bool {
    true
}

/// An age a person can be.
fn an_age(c: &Captures<'_>) -> bool {
    c.name("age").and_then(|m| m.as_str().parse::<u32>().ok()).is_some_and(|a| (1..=120).contains(&a))
}

/// An age, not a time of day ("at 3 today" stays, "at 3pm" does not).
fn an_age_not_a_time(c: &Captures<'_>) -> bool {
    an_age(c) && c.name("time").is_none()
}

/// A date, not a rating: "10/10 would recommend" is one unless a
/// preposition says it is a day ("on 10/10").
fn a_date(c: &Captures<'_>) -> bool {
    c.name("id").is_some_and(|m| {
        let d = m.as_str();
        let d = d.rsplit([' ', ',']).find(|p| !p.is_empty()).filter(|p| p.contains('/')).unwrap_or(d);
        let rating = d.ends_with("/10") && d.matches('/').count() == 1;
        plausible_date(d) && (!rating || c.name("prep").is_some())
    })
}

#[allow(clippy::too_many_arguments, reason = "each call is one row of the rule table below, read across")]
fn rule(
    rule: &'static str,
    kind: FindingKind,
    confidence: f32,
    explanation: &'static str,
    pattern: &str,
    check: fn(&Captures<'_>) -> bool,
    place: bool,
) -> Result<ContextRule, regex::Error> {
    Ok(ContextRule { rule, kind, confidence, explanation, regex: Regex::new(pattern)?, check, place })
}

pub fn rules() -> Result<Vec<ContextRule>, regex::Error> {
    use FindingKind as K;
    let date = date_pattern();
    const DATE: &str = "a date in a text held for health information: with the person, it is PHI";
    const AGE: &str = "an age in a text held for health information: with the person, it identifies them";
    const PLACE: &str = "a place in a text held for health information: with the person, it identifies them";
    Ok(vec![
        rule(
            "context.date",
            K::Date,
            0.6,
            DATE,
            &format!(
                r"(?i)(?P<prep>(?-u:\b)(?:on|since|by|until|from|before|after|of|dated?)\s+)?(?-u:\b)(?P<id>{date})"
            ),
            a_date,
            false,
        )?,
        rule(
            "context.date",
            K::Date,
            0.5,
            DATE,
            r"(?i)(?-u:\b)(?P<id>(?:mon|tues|wednes|thurs|fri|satur|sun)day(?:['’]s)?(?:\s+(?:night|morning|afternoon|evening))?)(?-u:\b)",
            any,
            false,
        )?,
        rule(
            "context.date",
            K::Date,
            0.5,
            DATE,
            r"(?i)(?-u:\b)(?P<id>january|february|april|june|july|august|september|october|november|december)(?-u:\b)",
            any,
            false,
        )?,
        // "may" and "march" are verbs too: a capital and a preposition before.
        rule(
            "context.date",
            K::Date,
            0.5,
            DATE,
            r"(?-u:\b)(?i:in|since|by|until|of|last|this|next|early|late|mid|mid-)\s+(?P<id>May|March)(?-u:\b)",
            any,
            false,
        )?,
        rule(
            "context.date",
            K::Date,
            0.5,
            DATE,
            r"(?i)(?-u:\b)(?P<id>christmas(?:\s+(?:eve|day|morning))?|new\s+year['’]?s(?:\s+(?:eve|day))?|thanksgiving(?:\s+day)?|easter(?:\s+sunday)?|halloween|valentine['’]?s\s+day|fourth\s+of\s+july|independence\s+day|labor\s+day|memorial\s+day|mother['’]?s\s+day|father['’]?s\s+day|hanukkah|diwali|yom\s+kippur|rosh\s+hashanah)(?-u:\b)",
            any,
            false,
        )?,
        rule(
            "context.age",
            K::Age,
            0.6,
            AGE,
            r"(?i)(?-u:\b)(?P<id>(?P<age>\d{1,3})(?:[- ](?:years?|yrs?|months?|mos?|weeks?|wks?|days?)[- ]old(?-u:\b)|\s?(?:yo|y/o|y\.o\.)(?:(?-u:\b)|\s|$)))",
            an_age,
            false,
        )?,
        rule(
            "context.age",
            K::Age,
            0.6,
            AGE,
            r"(?i)(?-u:\b)(?P<id>(?:age[ds]?|turned|turning|turns|turn)\s+(?:of\s+)?(?P<age>\d{1,3}))(?-u:\b)",
            an_age,
            false,
        )?,
        // "Keanu, 16, had", "— Declan, 19, who"
        rule(
            "context.age",
            K::Age,
            0.5,
            AGE,
            r"(?-u:\b)[A-Z][a-z]+(?:['’]s)?,\s(?P<id>(?P<age>\d{1,3})),",
            an_age,
            false,
        )?,
        // "was 44 when", "is 96 and", "She's 1 today"
        rule(
            "context.age",
            K::Age,
            0.4,
            AGE,
            r"(?i)(?-u:\b)(?:is|was|am|he['’]s|she['’]s|i['’]m)\s+(?P<id>(?P<age>\d{1,3}))(?:\s+(?:when|and|now|today|this|years?|yrs?)(?-u:\b)|\s*[,.!;)]|\s*$)",
            an_age,
            false,
        )?,
        // "diagnosed with type 1 diabetes at 11"
        rule(
            "context.age",
            K::Age,
            0.5,
            AGE,
            r"(?i)(?-u:\b)(?:diagnosed|born|died|passed|started|retired|since|found\s+out)(?-u:\b)[^.!?\n]{0,40}?(?-u:\b)at\s+(?P<id>(?P<age>\d{1,2}))(?-u:\b)(?P<time>\s*(?:am|pm|a\.m|p\.m|:|o['’]clock|weeks?|wks?|days?|months?|lbs?|pounds?|percent|%))?",
            an_age_not_a_time,
            false,
        )?,
        rule(
            "context.place",
            K::Location,
            0.4,
            PLACE,
            r"(?-u:\b)(?i:from|in|near|outside|out\s+in|over\s+in|up\s+in|down\s+in)\s+(?P<id>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)(?-u:\b)",
            any,
            true,
        )?,
        rule(
            "context.place",
            K::Location,
            0.5,
            PLACE,
            r"(?-u:\b)(?P<id>(?:[A-Z][a-z]+\s+){1,2}(?:Hollow|Valley|Springs|Heights|Falls|Creek|Lake|Hills|Ridge|Grove|Junction|County|Township|Village|Beach|Harbor|Crossing|Mills))(?-u:\b)",
            any,
            true,
        )?,
        rule(
            "context.place",
            K::Location,
            0.6,
            PLACE,
            r"(?i)(?-u:\b)(?:zip(?:\s*code)?|postal\s+code)\s*(?:is|:|#)?\s*(?P<id>\d{5}(?:-\d{4})?)(?-u:\b)",
            any,
            false,
        )?,
        rule(
            "context.place",
            K::Location,
            0.6,
            PLACE,
            r"(?-u:\b)(?P<id>[A-Z]{2}\s+\d{5}(?:-\d{4})?)(?-u:\b)",
            any,
            false,
        )?,
    ])
}

impl ContextRule {
    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    pub fn find<'r>(&'r self, text: &str, out: &mut Vec<ContextHit<'r>>) {
        for c in self.regex.captures_iter(text) {
            if !(self.check)(&c) {
                continue;
            }
            if let Some(m) = c.name("id").or_else(|| c.get(0)) {
                out.push(ContextHit { rule: self, start: m.start(), end: m.end() });
            }
        }
    }
}
