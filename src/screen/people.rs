//! The pattern social media adds to Safe Harbor's list: an identifiable
//! person together with health context. A name alone ("Thanks, Tasha!") is
//! not PHI, and neither is a condition alone ("flu season is here"); a
//! name, a room or bed, or "your son" next to a diagnosis, a procedure, a
//! medication, a visit, a unit or a test is. So are replies that confirm
//! someone is or was a patient, and comments that disclose the writer's
//! own care.

use super::lexicon::{Health, Lexicon};
use super::text::Word;
use super::{Finding, FindingKind, Origin, Severity};

/// How a person was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// A given or family name from the dictionaries.
    Name,
    /// A capitalised word after "patient", "baby", "resident"...
    Introduced,
    /// "Mr. P.", "Mrs. Alvarez".
    Titled,
    /// "your son", "her husband", "my daughter".
    Relation,
    /// "room 4", "bed 12".
    Room,
    /// The writer of a comment ("I", "my").
    Writer,
    /// The person a reply answers ("you", "your").
    Addressee,
    /// A hashtag like #AvaStrong.
    Hashtag,
}

impl Cue {
    fn kind(self) -> FindingKind {
        match self {
            Cue::Name | Cue::Introduced | Cue::Titled | Cue::Hashtag => FindingKind::Name,
            Cue::Relation => FindingKind::Relation,
            Cue::Room => FindingKind::Room,
            Cue::Writer => FindingKind::SelfDisclosure,
            Cue::Addressee => FindingKind::PatientConfirm,
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Cue::Name => "person.name_with_health",
            Cue::Introduced => "person.introduced_with_health",
            Cue::Titled => "person.titled_with_health",
            Cue::Relation => "person.relation_with_health",
            Cue::Room => "person.room_with_health",
            Cue::Writer => "person.self_disclosure",
            Cue::Addressee => "person.reply_confirms_care",
            Cue::Hashtag => "person.hashtag_with_health",
        }
    }

    fn confidence(self) -> f32 {
        match self {
            Cue::Titled | Cue::Introduced | Cue::Relation | Cue::Hashtag => 0.85,
            Cue::Writer | Cue::Addressee => 0.8,
            Cue::Room => 0.75,
            Cue::Name => 0.7,
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            Cue::Name => "a person's name next to health context",
            Cue::Introduced => "a person introduced by name next to health context",
            Cue::Titled => "a person named by title next to health context",
            Cue::Relation => "a specific relative next to health context",
            Cue::Room => "a room or bed number next to health context: it identifies a patient",
            Cue::Writer => "the writer discloses their own (or their family's) care",
            Cue::Addressee => "a reply that speaks of the reader's own care confirms they are a patient",
            Cue::Hashtag => "a hashtag naming a person next to health context",
        }
    }
}

struct Person {
    start: usize,
    end: usize,
    sentence: usize,
    cue: Cue,
}

/// Words after which a capitalised word is a person being introduced.
const INTRODUCERS: &[&str] = &[
    "patient",
    "patients",
    "resident",
    "client",
    "survivor",
    "warrior",
    "baby",
    "little",
    "sweet",
    "young",
    "grandpa",
    "grandma",
    "granny",
    "nana",
    "papa",
    "meet",
    "welcome",
    "congratulations",
    "congrats",
];
/// Titles before a person who is not staff.
const PERSON_TITLES: &[&str] = &["mr", "mrs", "ms", "miss", "mx", "master", "mister"];
/// Roles before a name that make it staff acting in their role.
const STAFF_ROLES: &[&str] = &[
    "dr",
    "doctor",
    "nurse",
    "rn",
    "np",
    "pa",
    "lpn",
    "cna",
    "md",
    "do",
    "therapist",
    "midwife",
    "chaplain",
    "pharmacist",
    "technician",
    "tech",
    "volunteer",
    "coach",
    "chef",
    "officer",
    "director",
    "manager",
    "ceo",
    "president",
    "surgeon",
    "physician",
    "dietitian",
    "counselor",
    "paramedic",
    "emt",
    "educator",
    "coordinator",
    "supervisor",
    "specialist",
    "provider",
    "prof",
    "professor",
    "rev",
    "fr",
    "chief",
    "colleague",
    "teammate",
    "staff",
    "nurses",
    "doctors",
    "drs",
];
/// Capitalised words that are not names even when a name is spelt so.
const NOT_NAMES: &[&str] = &[
    "i",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "christmas",
    "easter",
    "thanksgiving",
    "happy",
    "thank",
    "thanks",
    "congrats",
    "welcome",
    "dear",
    "god",
    "lord",
    "jesus",
    "hope",
    "we",
    "our",
    "you",
    "your",
    "the",
    "a",
    "an",
    "and",
    "but",
    "so",
    "if",
    "he",
    "she",
    "they",
    "it",
    "this",
    "that",
    "please",
    "join",
    "call",
    "visit",
    "learn",
    "read",
    "get",
    "do",
    "don't",
    "can",
    "will",
    "shout",
    "big",
    "huge",
    "great",
    "good",
    "best",
    "new",
    "today",
    "tonight",
];
const POSSESSIVES: &[&str] = &["my", "your", "his", "her", "their", "our", "mine", "yours"];
const FIRST_PERSON: &[&str] =
    &["i", "i'm", "i’m", "i've", "i’ve", "i'd", "i’d", "i'll", "me", "my", "myself", "im", "ive"];
const SECOND_PERSON: &[&str] =
    &["you", "your", "you're", "you’re", "you've", "you’ve", "yours", "yourself", "u", "ur"];
const PRONOUNS: &[&str] =
    &["she", "he", "her", "his", "they", "their", "them", "him", "she's", "he's", "she’s", "he’s"];
const HASHTAG_TAILS: &[&str] =
    &["Strong", "Fights", "Fight", "Warrior", "Tough", "Brave", "Army", "Nation", "Journey"];

fn lower(word: &str) -> String {
    word.to_lowercase().replace('’', "'")
}

/// The word's base for dictionary look-up: "Maria's" -> "maria".
fn base(word: &str) -> String {
    let l = lower(word);
    l.strip_suffix("'s").map(str::to_owned).unwrap_or(l)
}

fn is_in(list: &[&str], word: &str) -> bool {
    list.contains(&word)
}

/// The people in `words`.
fn people(
    lex: &Lexicon,
    text: &str,
    words: &[Word<'_>],
    origin: Origin,
    allowed: &dyn Fn(usize, usize) -> bool,
) -> Vec<Person> {
    let mut found = Vec::new();
    let lowered: Vec<String> = words.iter().map(|w| lower(w.text)).collect();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let l = lowered[i].as_str();
        let prev = i.checked_sub(1).map(|p| lowered[p].as_str()).unwrap_or("");
        let next = words.get(i + 1);
        let same_sentence = |j: usize| words.get(j).is_some_and(|x| x.sentence == w.sentence);
        if allowed(w.start, w.end) {
            i += 1;
            continue;
        }
        let hashtag = w.start > 0 && text.as_bytes()[w.start - 1] == b'#';
        if hashtag {
            if let Some(tail) =
                HASHTAG_TAILS.iter().find(|t| w.text.len() > t.len() + 1 && w.text.ends_with(*t))
            {
                let head = &w.text[..w.text.len() - tail.len()];
                if head.chars().next().is_some_and(char::is_uppercase) {
                    found.push(Person {
                        start: w.start - 1,
                        end: w.end,
                        sentence: w.sentence,
                        cue: Cue::Hashtag,
                    });
                }
            }
            i += 1;
            continue;
        }
        // "Mr. P.", "Mrs. Alvarez"
        if is_in(PERSON_TITLES, l) && same_sentence(i + 1) {
            if let Some(n) = next.filter(|n| n.text.chars().next().is_some_and(char::is_uppercase)) {
                found.push(Person { start: w.start, end: n.end, sentence: w.sentence, cue: Cue::Titled });
                i += 2;
                continue;
            }
        }
        // Staff in their role: the name after it is not a patient's.
        if is_in(STAFF_ROLES, l) {
            let mut j = i + 1;
            while words.get(j).is_some_and(|n| n.capitalized() && n.sentence == w.sentence) && j < i + 4 {
                j += 1;
            }
            i = j.max(i + 1);
            continue;
        }
        // "your son", "her husband", "my daughter's"
        if is_in(POSSESSIVES, l) && same_sentence(i + 1) {
            let generic_you = origin == Origin::Post && matches!(l, "your" | "yours" | "our");
            if let Some(n) = next.filter(|n| lex.is_relation(&base(n.text))) {
                if !generic_you && l != "our" {
                    found.push(Person {
                        start: w.start,
                        end: n.end,
                        sentence: w.sentence,
                        cue: Cue::Relation,
                    });
                    i += 2;
                    continue;
                }
            }
        }
        if matches!(l, "room" | "rm" | "bed" | "bay") {
            if let Some(n) = next.filter(|n| n.text.bytes().any(|b| b.is_ascii_digit()) && n.text.len() <= 5)
            {
                found.push(Person { start: w.start, end: n.end, sentence: w.sentence, cue: Cue::Room });
                i += 2;
                continue;
            }
        }
        if origin == Origin::Comment && is_in(FIRST_PERSON, l) {
            found.push(Person { start: w.start, end: w.end, sentence: w.sentence, cue: Cue::Writer });
        } else if origin == Origin::Reply && is_in(SECOND_PERSON, l) {
            found.push(Person { start: w.start, end: w.end, sentence: w.sentence, cue: Cue::Addressee });
        }
        if w.capitalized() && w.text.len() >= 2 {
            let b = base(w.text);
            let introduced = is_in(INTRODUCERS, prev) && i > 0 && words[i - 1].sentence == w.sentence;
            if !is_in(NOT_NAMES, &b) || introduced {
                let named = lex.is_name(&b);
                let ambiguous = lex.is_name_word(&b);
                let next_is_name = next.is_some_and(|n| {
                    n.capitalized() && n.sentence == w.sentence && lex.is_name(&base(n.text))
                });
                let stands = if introduced {
                    true
                } else if !named {
                    false
                } else if ambiguous {
                    !w.initial && next_is_name
                } else {
                    true
                };
                if stands && !allowed(w.start, w.end) {
                    let cue = if introduced { Cue::Introduced } else { Cue::Name };
                    // A full name: take the capitalised words that follow.
                    let mut end = w.end;
                    let mut j = i + 1;
                    while let Some(n) = words.get(j).filter(|n| {
                        n.capitalized() && n.sentence == w.sentence && lex.is_name(&base(n.text)) && j < i + 3
                    }) {
                        end = n.end;
                        j += 1;
                    }
                    if !allowed(w.start, end) {
                        found.push(Person { start: w.start, end, sentence: w.sentence, cue });
                    }
                    i = j;
                    continue;
                }
            }
        }
        i += 1;
    }
    found
}

/// The sentence of the word at byte `at`.
fn sentence_at(words: &[Word<'_>], at: usize) -> Option<usize> {
    let i = words.partition_point(|w| w.end <= at);
    words.get(i).filter(|w| w.start <= at).map(|w| w.sentence)
}

/// Whether the ambiguous health word at `start` reads as health here: a
/// possessive just before it ("her fall", "my stay"), or a clear health
/// word in the same sentence.
fn ambiguous_stands(words: &[Word<'_>], start: usize, clear_sentences: &[usize], sentence: usize) -> bool {
    let i = words.partition_point(|w| w.end <= start);
    let possessive = (1..=2).any(|k| {
        i.checked_sub(k).is_some_and(|p| {
            is_in(POSSESSIVES, &lower(words[p].text))
                || words[p].text.ends_with("'s")
                || words[p].text.ends_with("’s")
        })
    });
    possessive || clear_sentences.contains(&sentence)
}

/// Finds each person next to health context, and the health context.
pub fn findings(
    lex: &Lexicon,
    text: &str,
    words: &[Word<'_>],
    origin: Origin,
    allowed: &dyn Fn(usize, usize) -> bool,
    out: &mut Vec<Finding>,
) -> bool {
    let health: Vec<(usize, usize, Health, usize)> = lex
        .health_words(text)
        .into_iter()
        .filter_map(|(s, e, k)| sentence_at(words, s).map(|sen| (s, e, k, sen)))
        .filter(|(s, e, _, _)| !allowed(*s, *e))
        .collect();
    let clear: Vec<usize> = health.iter().filter(|h| h.2 != Health::Ambiguous).map(|h| h.3).collect();
    let health: Vec<_> = health
        .into_iter()
        .filter(|(s, _, k, sen)| *k != Health::Ambiguous || ambiguous_stands(words, *s, &clear, *sen))
        .collect();
    if health.is_empty() {
        return false;
    }
    let persons = people(lex, text, words, origin, allowed);
    let pronoun_in =
        |sentence: usize| words.iter().any(|w| w.sentence == sentence && is_in(PRONOUNS, &lower(w.text)));
    let mut used = vec![false; health.len()];
    for p in &persons {
        // The health context a person is next to: in their sentence, or in
        // the next one when it speaks of them ("... Ava! She had her surgery").
        let near: Vec<usize> = health
            .iter()
            .enumerate()
            .filter(|(_, h)| h.3 == p.sentence || (h.3 == p.sentence + 1 && pronoun_in(h.3)))
            .map(|(k, _)| k)
            .collect();
        let hashtag_alone = p.cue == Cue::Hashtag;
        if near.is_empty() && !hashtag_alone {
            continue;
        }
        out.push(Finding {
            kind: p.cue.kind(),
            rule: p.cue.rule().into(),
            start: p.start,
            end: p.end,
            confidence: p.cue.confidence(),
            severity: Severity::Medium,
            explanation: p.cue.explanation().into(),
        });
        for k in near {
            used[k] = true;
        }
    }
    for (k, (s, e, kind, _)) in health.iter().enumerate() {
        if used[k] {
            out.push(Finding {
                kind: FindingKind::Health,
                rule: kind.rule().into(),
                start: *s,
                end: *e,
                confidence: 0.7,
                severity: Severity::Medium,
                explanation: "health context next to a person".into(),
            });
        }
    }
    true
}
