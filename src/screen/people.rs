//! The pattern social media adds to Safe Harbor's list: an identifiable
//! person together with health context. A name alone ("Thanks, Tasha!") is
//! not PHI, and neither is a condition alone ("flu season is here"); a
//! name, a room or bed, or "your son" next to a diagnosis, a procedure, a
//! medication, a visit, a unit or a test is. So are replies that confirm
//! someone is or was a patient, and comments that disclose the writer's
//! own care.
//!
//! A person is found by a name from the dictionaries, a title ("Mrs.
//! Alvarez", "Coach Ramirez"), an introduction ("baby Leilani"), a relation
//! phrase ("my little brother", "the mayor's mom"), a description ("this
//! little guy", "our youngest patient"), a room or bed, a handle, initials
//! or a hashtag. Health context counts when it is about someone: not in a
//! clause that speaks of anyone ("if you're worried about those
//! symptoms"), not in the name of a class, an event or a part of the
//! building ("CPR class", "Cancer Center lobby"), not a unit receiving a
//! gift. A reply's greeting ("Hi Yolanda,") is its reader, who matters
//! only when the reply speaks of their care.

use std::borrow::Cow;
use std::sync::OnceLock;

use rustc_hash::FxHashSet;

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
    /// "Mr. P.", "Mrs. Alvarez", "Coach Ramirez".
    Titled,
    /// "your son", "her husband", "my little brother", "the mayor's mom".
    Relation,
    /// "room 4", "bed 12".
    Room,
    /// The writer of a comment ("I", "my").
    Writer,
    /// The person a reply answers ("you", "your").
    Addressee,
    /// A hashtag like #AvaStrong.
    Hashtag,
    /// A social media handle: "@marcus_t88".
    Handle,
    /// Initials standing for a person: "T.J.", "D.R.".
    Initials,
    /// A particular person described, not named: "this little guy", "our
    /// youngest patient", "one of our NICU babies".
    Described,
    /// Staff named in their role ("Dr. Chen"): never a finding alone, only
    /// listed when the text is held for something else.
    Staff,
}

impl Cue {
    fn kind(self) -> FindingKind {
        match self {
            Cue::Name | Cue::Introduced | Cue::Titled | Cue::Hashtag | Cue::Handle | Cue::Initials => {
                FindingKind::Name
            }
            Cue::Staff => FindingKind::Name,
            Cue::Relation | Cue::Described => FindingKind::Relation,
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
            Cue::Handle => "person.handle_with_health",
            Cue::Initials => "person.initials_with_health",
            Cue::Staff => "person.staff_in_role",
            Cue::Described => "person.described_with_health",
        }
    }

    fn confidence(self) -> f32 {
        match self {
            Cue::Titled | Cue::Introduced | Cue::Relation | Cue::Hashtag | Cue::Handle => 0.85,
            Cue::Writer | Cue::Addressee => 0.8,
            Cue::Room | Cue::Described => 0.75,
            Cue::Name => 0.7,
            Cue::Initials => 0.6,
            Cue::Staff => 0.3,
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
            Cue::Handle => "a social media handle next to health context",
            Cue::Initials => "initials standing for a person next to health context",
            Cue::Staff => "staff named in their role",
            Cue::Described => "a particular person described (\"this little guy\", \"our youngest patient\") next to health context",
        }
    }

    /// A cue that by itself points at one particular person (a relative, a
    /// room, a title, an introduction, a handle): health context in the
    /// sentence before or after is about them too.
    fn strong(self) -> bool {
        matches!(
            self,
            Cue::Introduced
                | Cue::Titled
                | Cue::Relation
                | Cue::Room
                | Cue::Hashtag
                | Cue::Handle
                | Cue::Described
        )
    }

    /// "I", "you": not a person to list on their own.
    fn pronoun(self) -> bool {
        matches!(self, Cue::Writer | Cue::Addressee)
    }
}

struct Person {
    start: usize,
    end: usize,
    sentence: usize,
    cue: Cue,
    /// A name a reply addresses ("Hi Yolanda,", "Thanks, Tasha!"): it is the
    /// reader, a finding only when the reply confirms the reader's care.
    vocative: bool,
}

impl Person {
    fn new(start: usize, end: usize, sentence: usize, cue: Cue) -> Person {
        Person { start, end, sentence, cue, vocative: false }
    }
}

/// Words after which a capitalised word is a person being introduced.
static INTRODUCERS: Words = Words::new(&[
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
]);
/// Titles before a person who is not staff.
static PERSON_TITLES: Words = Words::new(&["mr", "mrs", "ms", "miss", "mx", "master", "mister"]);
/// Roles before a name that make it staff acting in their role.
static STAFF_ROLES: Words = Words::new(&[
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
    "chef",
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
]);
/// Capitalised words that are not names even when a name is spelt so.
static NOT_NAMES: Words = Words::new(&[
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
    "mondays",
    "tuesdays",
    "wednesdays",
    "thursdays",
    "fridays",
    "saturdays",
    "sundays",
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
]);
/// Weekdays and months: never a person, even after "meet" or "welcome".
static CALENDAR: Words = Words::new(&[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mondays",
    "tuesdays",
    "wednesdays",
    "thursdays",
    "fridays",
    "saturdays",
    "sundays",
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
]);
/// Month abbreviations that are also names ("Jan", "Jun"): a month before a number.
static MONTH_SHORT: Words =
    Words::new(&["jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]);
/// Titles from outside the organization ("Coach Ramirez", "Officer Daniels"):
/// a person, unless a word before makes it a staff role ("health coach",
/// "Chief Nursing Officer").
static COMMUNITY_TITLES: Words = Words::new(&[
    "coach",
    "officer",
    "deputy",
    "sheriff",
    "sergeant",
    "sgt",
    "captain",
    "capt",
    "firefighter",
    "pastor",
    "judge",
    "mayor",
    "senator",
    "councilman",
    "councilwoman",
    "councilmember",
]);
/// Words before a community title that make it a role of the organization's.
static STAFF_TITLE_LEADS: Words = Words::new(&[
    "our",
    "health",
    "wellness",
    "lactation",
    "life",
    "nutrition",
    "fitness",
    "diabetes",
    "nursing",
    "medical",
    "executive",
    "financial",
    "compliance",
    "privacy",
    "security",
    "information",
    "operating",
    "chief",
    "safety",
]);
/// Street words after a capitalised word that make it a place ("Orchard Street").
static STREET_TYPES: Words = Words::new(&[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "parkway",
    "pkwy",
    "highway",
    "hwy",
    "terrace",
    "county",
    "township",
]);
/// Words before "room" that name a shared room, not a patient's
/// ("Conference Room 210", "community room 4").
static ROOM_NAMERS: Words = Words::new(&[
    "conference",
    "meeting",
    "community",
    "class",
    "board",
    "training",
    "activity",
    "activities",
    "break",
    "multipurpose",
    "multi-purpose",
    "waiting",
    "family",
    "media",
    "music",
    "quiet",
    "computer",
    "study",
    "dining",
    "party",
    "sensory",
    "play",
    "game",
    "common",
    "reading",
    "locker",
    "staff",
    "team",
]);
/// Capitalised words before "Room" that are not its name ("In Room 4").
static NOT_ROOM_NAMES: Words = Words::new(&[
    "in", "at", "to", "from", "into", "the", "our", "his", "her", "their", "my", "your", "patient", "pt",
]);
/// Words in a relation phrase before the relation itself ("my little
/// brother", "her best friend", "my 4 year old", "my great grandmother").
static RELATION_MODIFIERS: Words = Words::new(&[
    "little", "big", "baby", "younger", "older", "elder", "best", "dear", "dearest", "late", "great",
    "sweet", "beloved", "new", "oldest", "youngest", "middle", "twin", "teenage", "adult", "grown",
    "precious", "own", "sick", "elderly", "step", "ex", "first", "second", "third", "one", "two", "three",
    "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
]);
/// Nouns whose possessive before a relation is not one person's ("the
/// hospital's family", "the team's moms").
static GROUP_NOUNS: Words = Words::new(&[
    "hospital",
    "hospitals",
    "team",
    "teams",
    "community",
    "center",
    "clinic",
    "unit",
    "staff",
    "world",
    "country",
    "city",
    "town",
    "state",
    "nation",
    "school",
    "organization",
    "company",
    "everyone",
    "everybody",
    "anyone",
    "today",
    "year",
    "week",
    "month",
]);
/// Words a reply greets or thanks its reader with ("Hi Yolanda", "Thanks Deb").
static VOCATIVE_LEADS: Words = Words::new(&[
    "hi",
    "hello",
    "hey",
    "dear",
    "thanks",
    "thank",
    "thx",
    "ty",
    "congrats",
    "congratulations",
    "morning",
    "evening",
    "afternoon",
    "sorry",
    "appreciate",
    "you",
]);
/// Abbreviations written like initials that are not a person ("U.S.", "p.m.").
static NOT_INITIALS: Words = Words::new(&[
    "u.s", "u.k", "e.u", "u.n", "a.m", "p.m", "d.c", "l.a", "n.y", "e.r", "o.r", "i.v", "p.t", "o.t", "r.n",
    "m.d", "d.o", "n.p", "p.a", "b.c", "a.d", "q.a", "p.s", "r.i.p", "a.k.a", "e.g", "i.e", "b.s", "m.s",
    "b.a", "m.a", "c.e.o", "t.v", "d.j", "s.o.s", "a.s.a.p", "r.s.v.p", "w.h.o", "c.p.r", "f.y.i", "o.k",
    "n.b", "v.s", "g.i", "e.m.s", "e.m.t", "i.c.u",
]);
/// Words that name one person described, not named ("this little guy").
static PERSON_NOUNS: Words = Words::new(&[
    "guy",
    "girl",
    "boy",
    "man",
    "woman",
    "lady",
    "gentleman",
    "gent",
    "fella",
    "kiddo",
    "champ",
    "warrior",
    "fighter",
    "survivor",
    "patient",
    "patients",
    "veteran",
    "veterans",
    "firefighter",
    "teacher",
    "athlete",
    "runner",
    "preemie",
    "preemies",
    "cutie",
    "sweetheart",
    "superhero",
    "hero",
    "princess",
    "prince",
    "dude",
    "gal",
    "lad",
    "tot",
    "tyke",
    "youngster",
    "mama",
    "papa",
    "babies",
    "kiddos",
    "kids",
    "residents",
    "warriors",
    "survivors",
]);
/// Relations that stand for a group, not a person ("this family").
static GROUP_RELATIONS: Words = Words::new(&[
    "family",
    "families",
    "folks",
    "relatives",
    "friends",
    "neighbors",
    "neighbours",
    "colleagues",
    "staff",
]);
/// Words after "our" that single out one person ("our youngest patient").
static SUPERLATIVES: Words = Words::new(&[
    "favorite",
    "favourite",
    "oldest",
    "youngest",
    "littlest",
    "smallest",
    "tiniest",
    "newest",
    "bravest",
    "sweetest",
    "strongest",
    "toughest",
    "cutest",
    "longtime",
    "beloved",
]);
/// Nouns after "patient" that make it part of a compound, not a person
/// ("our patient portal", "our resident physicians").
static PATIENT_COMPOUNDS: Words = Words::new(&[
    "experience",
    "portal",
    "relations",
    "advocate",
    "advocates",
    "safety",
    "care",
    "satisfaction",
    "services",
    "education",
    "navigator",
    "navigators",
    "transport",
    "financial",
    "access",
    "room",
    "rooms",
    "lounge",
    "registration",
    "information",
    "privacy",
    "rights",
    "stories",
    "survey",
    "surveys",
    "feedback",
    "communication",
    "centered",
    "centred",
    "family",
    "families",
    "line",
    "volunteers",
    "ambassador",
    "ambassadors",
    "liaison",
    "physician",
    "physicians",
    "doctor",
    "doctors",
    "nurse",
    "nurses",
    "council",
    "advisory",
    "and",
    "or",
]);
/// Words that may come between a determiner and the person it describes.
static DESCRIBING_WORDS: Words = Words::new(&[
    "retired",
    "brave",
    "amazing",
    "incredible",
    "strong",
    "tough",
    "tiny",
    "wonderful",
    "special",
    "beautiful",
    "handsome",
    "happy",
    "proud",
    "courageous",
    "determined",
    "local",
    "young",
    "old",
    "former",
    "resilient",
    "fierce",
    "feisty",
    "spunky",
    "smiley",
    "cheerful",
    "kind",
]);
/// Family words used as a name ("Mom's surgery", "Hubby is home").
static FAMILY_NAMES: Words = Words::new(&[
    "mom", "mum", "mommy", "momma", "mama", "dad", "daddy", "papa", "grandma", "grandpa", "granny", "nana",
    "grandad", "granddad", "gramps", "grammy", "hubby", "wifey", "abuela", "abuelo", "mamá", "papá",
]);
/// Words before a family word that make it anyone's ("every mom", "a dad").
static DETERMINERS: Words = Words::new(&[
    "a",
    "an",
    "the",
    "every",
    "any",
    "all",
    "each",
    "this",
    "that",
    "new",
    "first-time",
    "expecting",
    "no",
    "some",
    "another",
    "single",
    "working",
    "dear",
]);
/// Possessives of a group, part of a place's name ("children's hospital").
static GROUP_POSSESSIVES: Words =
    Words::new(&["children's", "women's", "men's", "kids'", "veterans'", "people's", "st's"]);
/// Words that make a first person in a comment staff speaking of their work
/// ("I work nights in the ER").
static WORK_WORDS: Words = Words::new(&[
    "work",
    "works",
    "working",
    "worked",
    "shift",
    "shifts",
    "job",
    "employee",
    "employees",
    "hired",
    "career",
    "coworkers",
    "co-workers",
    "volunteer",
    "volunteering",
    "volunteered",
    "residency",
    "rotation",
    "clinicals",
    "nursing",
    "badge",
]);
/// Verbs a comment starts with when it leaves out "I" ("Got my results").
static ELIDED_I_VERBS: Words = Words::new(&[
    "been",
    "got",
    "had",
    "finished",
    "spent",
    "came",
    "went",
    "getting",
    "having",
    "started",
    "starting",
    "waiting",
    "heading",
    "recovering",
    "diagnosed",
    "admitted",
    "discharged",
    "scheduled",
    "booked",
]);
/// Words after such a verb that make it not about the writer's care ("Had no idea").
static NOT_ELIDED_I: Words =
    Words::new(&["no", "never", "heard", "wondering", "thought", "read", "seen", "questions", "a question"]);
/// Verbs of advice before "your" ("tell your parents", "talk to your kids").
static ADVICE_VERBS: Words = Words::new(&[
    "tell",
    "ask",
    "remind",
    "take",
    "bring",
    "get",
    "protect",
    "vaccinate",
    "call",
    "check",
    "encourage",
    "help",
    "teach",
    "talk",
    "show",
    "share",
    "keep",
    "make",
    "let",
    "invite",
    "schedule",
    "book",
    "sign",
    "hug",
    "watch",
    "text",
    "send",
]);
static POSSESSIVES: Words = Words::new(&["my", "your", "his", "her", "their", "our", "mine", "yours"]);
/// Spanish possessives before a relation ("mi mamá", "su hijo").
static POSSESSIVES_ES: Words = Words::new(&["mi", "mis", "su", "sus", "tu", "tus", "nuestra", "nuestro"]);
static FIRST_PERSON: Words =
    Words::new(&["i", "i'm", "i've", "i'd", "i'll", "me", "my", "myself", "im", "ive", "mi", "yo"]);
static SECOND_PERSON: Words =
    Words::new(&["you", "your", "you're", "you've", "yours", "yourself", "u", "ur"]);
/// Words a clause speaks of anyone in ("if you're worried", "if anyone has").
static ANYONE: Words = Words::new(&[
    "you", "you're", "your", "you've", "u", "anyone", "anybody", "someone", "somebody", "a", "any", "we",
]);
static PRONOUNS: Words =
    Words::new(&["she", "he", "her", "his", "they", "their", "them", "him", "she's", "he's"]);
const HASHTAG_TAILS: &[&str] =
    &["Strong", "Fights", "Fight", "Warrior", "Tough", "Brave", "Army", "Nation", "Journey"];
/// Nouns after a health word that make it the name of a class, an event or a
/// part of the building, not someone's care ("CPR class", "Cancer Center
/// lobby", "Birth Center construction").
static NOT_CARE_NOUNS: Words = Words::new(&[
    "class",
    "classes",
    "course",
    "courses",
    "training",
    "trainings",
    "certification",
    "workshop",
    "workshops",
    "seminar",
    "webinar",
    "fair",
    "awareness",
    "walk",
    "run",
    "5k",
    "gala",
    "fundraiser",
    "tour",
    "tours",
    "lobby",
    "playroom",
    "entrance",
    "construction",
    "garden",
    "parking",
    "garage",
    "cafeteria",
    "mural",
    "building",
    "renovation",
    "expansion",
    "opening",
    "groundbreaking",
    "ribbon-cutting",
    "foundation",
    "campaign",
    "gift",
    "hours",
    "schedule",
    "website",
    "page",
    "phone",
    "line",
    "location",
    "locations",
    "address",
    "number",
    "email",
    "dog",
    "dogs",
    "pup",
    "puppy",
    "pet",
    "pets",
    "animal",
    "animals",
    "horse",
    "season",
    "seasons",
    "secretary",
    "receptionist",
    "scheduler",
]);
/// Words for a place of care that may come between a health word and the
/// noun that says what it names ("ICU unit secretary", "cardiology clinic hours").
static CARE_PLACE_NOUNS: Words = Words::new(&[
    "clinic",
    "clinics",
    "unit",
    "center",
    "centre",
    "department",
    "dept",
    "floor",
    "wing",
    "ward",
    "office",
]);

/// A word lower-cased, with a curly apostrophe made straight (borrowed
/// when it already is: most words are).
fn lower(word: &str) -> Cow<'_, str> {
    if word.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(word)
    } else if word.is_ascii() {
        Cow::Owned(word.to_ascii_lowercase())
    } else {
        Cow::Owned(word.to_lowercase().replace('’', "'"))
    }
}

/// The word's base for dictionary look-up: "Maria's" -> "maria".
fn base(word: &str) -> Cow<'_, str> {
    match lower(word) {
        Cow::Borrowed(l) => Cow::Borrowed(l.strip_suffix("'s").unwrap_or(l)),
        Cow::Owned(mut l) => {
            if l.ends_with("'s") {
                l.truncate(l.len() - 2);
            }
            Cow::Owned(l)
        }
    }
}

/// A word list, looked up by hash: the rules ask several lists about every word.
struct Words {
    list: &'static [&'static str],
    set: OnceLock<FxHashSet<&'static str>>,
}

impl Words {
    const fn new(list: &'static [&'static str]) -> Words {
        Words { list, set: OnceLock::new() }
    }

    fn has(&self, word: &str) -> bool {
        self.set.get_or_init(|| self.list.iter().copied().collect()).contains(word)
    }
}

fn is_in(list: &Words, word: &str) -> bool {
    list.has(word)
}

/// "4-year-old", "6-month-old", "2-week-old": a child named by their age.
fn is_age_noun(word: &str) -> bool {
    let mut parts = word.split('-');
    let (Some(n), Some(unit), Some(old), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "year" | "month" | "week" | "day" | "yr")
        && old == "old"
}

/// Whether the word `w` (lower-cased `t`) is a possessive: "mayor's",
/// "twins'" (the word splitter drops a trailing apostrophe).
fn possessive_noun(text: &str, w: &Word<'_>, t: &str) -> bool {
    if t.len() > 2 && t.ends_with("'s") {
        return true;
    }
    t.ends_with('s') && matches!(text[w.end..].chars().next(), Some('\'' | '’'))
}

/// The last word of a relation phrase that starts at word `j`: "brother",
/// "little brother", "best friend", "4 year old", "great grandmother" (up
/// to three words before the relation itself, all of them modifiers).
fn relation_end(lex: &Lexicon, words: &[Word<'_>], lowered: &[Cow<'_, str>], j: usize) -> Option<usize> {
    let sentence = words.get(j)?.sentence;
    let mut k = j;
    while k < j + 4 {
        let w = words.get(k).filter(|w| w.sentence == sentence)?;
        for len in (1..=3).rev() {
            let last = k + len - 1;
            if words.get(last).is_none_or(|x| x.sentence != sentence) {
                continue;
            }
            let mut phrase = lowered[k..last].join(" ");
            if !phrase.is_empty() {
                phrase.push(' ');
            }
            phrase.push_str(&base(words[last].text));
            let age = matches!(phrase.as_str(), "year old" | "month old" | "week old" | "yr old");
            if lex.is_relation(&phrase) || is_age_noun(&phrase) || (age && k > j) {
                return Some(last);
            }
        }
        let l = lowered[k].as_ref();
        let modifier = is_in(&RELATION_MODIFIERS, l) || w.text.bytes().all(|b| b.is_ascii_digit());
        if !modifier {
            return None;
        }
        k += 1;
    }
    None
}

/// Whether `word` names a person ("guy", "patient", or a relation), and if
/// `singular`, one person.
fn person_noun(lex: &Lexicon, word: &str, singular: bool) -> bool {
    let b = base(word);
    let one = !singular || !b.ends_with('s') || matches!(b.as_ref(), "boss" | "miss");
    one && (is_in(&PERSON_NOUNS, &b) || (lex.is_relation(&b) && !is_in(&GROUP_RELATIONS, &b)))
}

/// A particular person described, not named, at word `i`: "this little
/// guy", "that sweet girl", "our youngest patient", "our favorite retired
/// firefighter", "one of our NICU babies". Returns the first and last word.
fn described_person(
    lex: &Lexicon,
    words: &[Word<'_>],
    lowered: &[Cow<'_, str>],
    i: usize,
) -> Option<(usize, usize)> {
    let sentence = words[i].sentence;
    let at = |k: usize| words.get(k).filter(|w| w.sentence == sentence).map(|_| lowered[k].as_ref());
    // The noun within three words after `from`, the words before it modifiers
    // (or, after "one of our", anything).
    let noun_after = |from: usize, singular: bool, any_words: bool| -> Option<usize> {
        for (k, w) in words.iter().enumerate().skip(from).take(3) {
            let word = at(k)?;
            if person_noun(lex, w.text, singular) {
                let calendar = at(k + 1).is_some_and(|n| matches!(n, "day" | "days" | "week" | "month"));
                return (!calendar).then_some(k);
            }
            let modifier = is_in(&RELATION_MODIFIERS, word)
                || is_in(&DESCRIBING_WORDS, word)
                || w.text.bytes().all(|b| b.is_ascii_digit());
            if !(modifier || any_words) {
                return None;
            }
        }
        None
    };
    match at(i)? {
        "this" | "that" => noun_after(i + 1, true, false).map(|last| (i, last)),
        // "the 10-year-old who", "a 67-year-old veteran"
        "the" | "a" | "an" => {
            let k = i + 1;
            let age_end = if at(k).is_some_and(is_age_noun) {
                Some(k)
            } else if words.get(k).is_some_and(|w| w.text.bytes().all(|b| b.is_ascii_digit()))
                && matches!(at(k + 1), Some("year" | "month" | "week"))
                && at(k + 2) == Some("old")
            {
                Some(k + 2)
            } else {
                None
            }?;
            if at(i)? == "the" {
                return Some((i, age_end));
            }
            at(age_end + 1)
                .filter(|_| person_noun(lex, words[age_end + 1].text, true))
                .map(|_| (i, age_end + 1))
        }
        "our" => {
            let superlative = at(i + 1).is_some_and(|n| is_in(&SUPERLATIVES, n));
            if superlative {
                noun_after(i + 2, true, false).map(|last| (i, last))
            } else if matches!(at(i + 1), Some("patient" | "resident" | "client"))
                && at(i + 2).is_none_or(|n| !is_in(&PATIENT_COMPOUNDS, n))
                && words.get(i + 2).is_none_or(|n| n.sentence != sentence || !n.capitalized())
            {
                // "our patient from Cedar Ridge", not "our patient portal";
                // "our patient Maria" is Maria, introduced.
                Some((i, i + 1))
            } else {
                None
            }
        }
        "one" if at(i + 1) == Some("of") && matches!(at(i + 2), Some("our" | "the")) => {
            noun_after(i + 3, false, true).map(|last| (i, last))
        }
        _ => None,
    }
}

/// Whether the name before word `j` is an animal's: "Gus the therapy dog",
/// "Sunny, our golden retriever".
fn an_animal_after(words: &[Word<'_>], lowered: &[Cow<'_, str>], j: usize, sentence: usize) -> bool {
    let mut article = false;
    for k in j..(j + 4).min(words.len()) {
        if words[k].sentence != sentence {
            return false;
        }
        let l = lowered[k].as_ref();
        if matches!(l, "the" | "a" | "our" | "is" | "an") {
            article = true;
        } else if is_in(&ANIMALS, l) {
            return article;
        }
    }
    false
}

static ANIMALS: Words = Words::new(&[
    "dog",
    "pup",
    "puppy",
    "cat",
    "kitten",
    "horse",
    "pony",
    "retriever",
    "labrador",
    "doodle",
    "poodle",
    "beagle",
    "terrier",
    "spaniel",
    "shepherd",
    "llama",
    "alpaca",
    "rabbit",
    "bunny",
    "mascot",
    "robot",
]);

/// Whether the words at `j` are what a reader wrote or gave ("your kind
/// words", "your feedback"), not their care.
fn relation_end_message(lowered: &[Cow<'_, str>], j: usize) -> bool {
    let at = |k: usize| lowered.get(k).map(AsRef::as_ref);
    match at(j) {
        Some("kind" | "sweet" | "lovely" | "generous" | "thoughtful" | "nice") => {
            at(j + 1).is_some_and(|n| is_in(&MESSAGE_NOUNS, n))
        }
        Some(n) => is_in(&MESSAGE_NOUNS, n),
        None => false,
    }
}

/// After "you", what says how the reader can reach care, not that they
/// had it ("you can reach the Birth Center", "you may call").
static MODALS: Words = Words::new(&["can", "could", "may", "might", "should", "would", "can't", "cannot"]);

/// What a reader sends an organization: their words, not their care.
static MESSAGE_NOUNS: Words = Words::new(&[
    "words",
    "feedback",
    "review",
    "reviews",
    "comment",
    "comments",
    "message",
    "messages",
    "question",
    "questions",
    "note",
    "post",
    "support",
    "donation",
    "gift",
    "patience",
    "kindness",
    "compliments",
    "compliment",
    "thoughts",
    "shoutout",
    "shout-out",
    "suggestion",
    "suggestions",
    "vote",
    "votes",
    "stars",
]);

/// The handles ("@marcus_t88") in `text`, as byte spans with the `@`.
fn handles(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_') {
            continue; // an email address
        }
        let mut end = at + 1;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b'.')) {
            end += 1;
        }
        while end > at + 1 && bytes[end - 1] == b'.' {
            end -= 1;
        }
        if end > at + 2 && bytes[at + 1..end].iter().any(u8::is_ascii_alphabetic) {
            out.push((at, end));
        }
    }
    out
}

/// Initials that stand for a person at word `i` ("T.J.", "D.R."): single
/// capitals each followed by a dot, at least two. Returns the span's end
/// (its last dot included) and the index of its last word.
fn initials_at(text: &str, words: &[Word<'_>], i: usize) -> Option<(usize, usize)> {
    let single_capital = |w: &Word<'_>| w.text.len() == 1 && w.text.bytes().all(|b| b.is_ascii_uppercase());
    let mut j = i;
    let mut key = String::new();
    while words.get(j).is_some_and(|w| single_capital(w) && text[w.end..].starts_with('.')) {
        if j > i && words[j].start != words[j - 1].end + 1 {
            break;
        }
        if !key.is_empty() {
            key.push('.');
        }
        key.push_str(&words[j].text.to_ascii_lowercase());
        j += 1;
    }
    if j < i + 2 || is_in(&NOT_INITIALS, &key) {
        return None;
    }
    // "T.J." and not a longer word run like "U.S.A.F"
    Some((words[j - 1].end + 1, j - 1))
}

/// Whether the name at words `i..=last` is how a reply addresses its reader:
/// after a greeting ("Hi Yolanda,"), first in its sentence before a comma
/// ("Rachel, we're glad"), or last after one ("Thanks for sharing, Beatriz.").
fn vocative(text: &str, words: &[Word<'_>], lowered: &[Cow<'_, str>], i: usize, last: usize) -> bool {
    let w = &words[i];
    let after = text[words[last].end..].trim_start_matches([' ', '\t']).chars().next();
    let prev_same = i > 0 && words[i - 1].sentence == w.sentence;
    if prev_same && is_in(&VOCATIVE_LEADS, &lowered[i - 1]) {
        return true;
    }
    if w.initial && matches!(after, Some(',' | '!')) {
        return true;
    }
    let ends = words.get(last + 1).is_none_or(|n| n.sentence != w.sentence);
    let comma_before = prev_same && text[words[i - 1].end..w.start].contains(',');
    comma_before && ends
}

/// The people in `words`.
fn people(
    lex: &Lexicon,
    text: &str,
    words: &[Word<'_>],
    lowered: &[Cow<'_, str>],
    origin: Origin,
    allowed: &dyn Fn(usize, usize) -> bool,
    own_handle: &dyn Fn(&str) -> bool,
) -> Vec<Person> {
    let mut found = Vec::new();
    let handle_spans = handles(text);
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let l = lowered[i].as_ref();
        let prev = i.checked_sub(1).map(|p| lowered[p].as_ref()).unwrap_or("");
        let prev_same = i > 0 && words[i - 1].sentence == w.sentence;
        let next = words.get(i + 1);
        let same_sentence = |j: usize| words.get(j).is_some_and(|x| x.sentence == w.sentence);
        // A handle is judged whole: "@marcus_t88" is not the spokesperson Marcus.
        if let Some(&(hs, he)) = handle_spans.iter().find(|(s, _)| s + 1 == w.start) {
            if !own_handle(&text[hs + 1..he]) && !allowed(hs, he) {
                found.push(Person::new(hs, he, w.sentence, Cue::Handle));
            }
            while words.get(i).is_some_and(|x| x.start < he) {
                i += 1;
            }
            continue;
        }
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
                    found.push(Person::new(w.start - 1, w.end, w.sentence, Cue::Hashtag));
                }
            }
            i += 1;
            continue;
        }
        // "Mr. P.", "Mrs. Alvarez"; "Coach Ramirez" unless "health coach".
        let community_title = is_in(&COMMUNITY_TITLES, l) && !(prev_same && is_in(&STAFF_TITLE_LEADS, prev));
        if (is_in(&PERSON_TITLES, l) || community_title) && same_sentence(i + 1) {
            if let Some(n) = next.filter(|n| n.text.chars().next().is_some_and(char::is_uppercase)) {
                let end = match initials_at(text, words, i + 1) {
                    Some((end, _)) => end,
                    None => n.end,
                };
                found.push(Person::new(w.start, end, w.sentence, Cue::Titled));
                i += 2;
                while words.get(i).is_some_and(|x| x.start < end) {
                    i += 1;
                }
                continue;
            }
        }
        // Staff in their role ("Dr. Chen", "our very own Marisa Tran"): the
        // name after it is not a patient's.
        let own = l == "own" && (prev == "our" || (prev == "very" && i > 1 && lowered[i - 2] == "our"));
        let staff_title = is_in(&STAFF_ROLES, l) || (is_in(&COMMUNITY_TITLES, l) && !community_title);
        if staff_title || own {
            let mut j = i + 1;
            while words.get(j).is_some_and(|n| n.capitalized() && n.sentence == w.sentence) && j < i + 4 {
                j += 1;
            }
            if (i + 1..j).any(|k| lex.is_name(&base(words[k].text))) {
                found.push(Person::new(words[i + 1].start, words[j - 1].end, w.sentence, Cue::Staff));
            }
            i = j.max(i + 1);
            continue;
        }
        // "this little guy", "our youngest patient", "one of our NICU babies"
        if let Some((start, last)) = described_person(lex, words, lowered, i) {
            found.push(Person::new(words[start].start, words[last].end, w.sentence, Cue::Described));
            i = last + 1;
            continue;
        }
        // "your son", "her husband", "my little brother", "mi mamá"
        let possessive = is_in(&POSSESSIVES, l) || is_in(&POSSESSIVES_ES, l);
        if possessive && same_sentence(i + 1) {
            // "tell your parents", "talk to your kids": advice to anyone.
            let advice = matches!(l, "your" | "tu" | "tus")
                && prev_same
                && (is_in(&ADVICE_VERBS, prev)
                    || (matches!(prev, "to" | "with" | "on" | "for")
                        && i > 1
                        && words[i - 2].sentence == w.sentence
                        && is_in(&ADVICE_VERBS, &lowered[i - 2])));
            let generic_you =
                advice || (origin == Origin::Post && matches!(l, "your" | "yours" | "our" | "tu" | "tus"));
            let our = matches!(l, "our" | "nuestra" | "nuestro") && origin != Origin::Comment;
            if !generic_you && !our {
                // "their loved ones", "their kids": a group's, not a person's.
                let group = |last: usize| l == "their" && base(words[last].text).ends_with('s');
                if let Some(last) = relation_end(lex, words, lowered, i + 1).filter(|&last| !group(last)) {
                    found.push(Person::new(w.start, words[last].end, w.sentence, Cue::Relation));
                    i = last + 1;
                    continue;
                }
            }
        }
        // "Mom's surgery is tomorrow", "Hubby is home": a parent or partner
        // called by the word alone is the writer's own.
        if is_in(&FAMILY_NAMES, &base(w.text))
            && !(prev_same && (is_in(&DETERMINERS, prev) || is_in(&RELATION_MODIFIERS, prev)))
            && !(i > 0 && text[words[i - 1].end..w.start].contains('#'))
            && (w.capitalized() || w.initial || origin == Origin::Comment)
        {
            found.push(Person::new(w.start, w.end, w.sentence, Cue::Relation));
            i += 1;
            continue;
        }
        // "pt in 14B", "patient in 4": a bed or room by its code.
        if matches!(l, "pt" | "patient")
            && next.is_some_and(|n| lowered[i + 1] == "in" && n.sentence == w.sentence)
        {
            if let Some(code) = words.get(i + 2).filter(|c| {
                c.sentence == w.sentence && c.text.len() <= 5 && c.text.bytes().any(|b| b.is_ascii_digit())
            }) {
                found.push(Person::new(w.start, code.end, w.sentence, Cue::Room));
                i += 3;
                continue;
            }
        }
        // "the mayor's mom", "the twins' dad"
        if !w.capitalized()
            && !possessive
            && possessive_noun(text, w, l)
            && !is_in(&GROUP_NOUNS, &base(w.text))
            && same_sentence(i + 1)
        {
            if let Some(last) = relation_end(lex, words, lowered, i + 1) {
                let start = if prev_same && matches!(prev, "the" | "a" | "an") {
                    words[i - 1].start
                } else {
                    w.start
                };
                found.push(Person::new(start, words[last].end, w.sentence, Cue::Relation));
                i = last + 1;
                continue;
            }
        }
        if matches!(l, "room" | "rm" | "bed" | "bay") {
            let named_room = prev_same
                && (is_in(&ROOM_NAMERS, prev)
                    || (words[i - 1].capitalized()
                        && !is_in(&NOT_ROOM_NAMES, prev)
                        && !words[i - 1].initial));
            if let Some(n) = next.filter(|n| n.text.bytes().any(|b| b.is_ascii_digit()) && n.text.len() <= 5)
            {
                if !named_room {
                    found.push(Person::new(w.start, n.end, w.sentence, Cue::Room));
                }
                i += 2;
                continue;
            }
        }
        // A comment that leaves out "I": "Just got out of surgery", "Had my
        // gallbladder out", "Was admitted to 6 North".
        let elided = origin == Origin::Comment && w.initial && {
            let (verb, after) = if matches!(l, "just" | "was") {
                (lowered.get(i + 1), i + 2)
            } else {
                (lowered.get(i), i + 1)
            };
            verb.is_some_and(|v| is_in(&ELIDED_I_VERBS, v))
                && lowered.get(after).is_none_or(|a| !is_in(&NOT_ELIDED_I, a))
        };
        if (origin == Origin::Comment && is_in(&FIRST_PERSON, l)) || elided {
            found.push(Person::new(w.start, w.end, w.sentence, Cue::Writer));
        } else if origin == Origin::Reply
            && is_in(&SECOND_PERSON, l)
            && !(l == "your" && relation_end_message(lowered, i + 1))
            && !(l == "you" && lowered.get(i + 1).is_some_and(|n| is_in(&MODALS, n)))
        {
            found.push(Person::new(w.start, w.end, w.sentence, Cue::Addressee));
        }
        if let Some((end, last)) = initials_at(text, words, i) {
            let staff = prev_same && is_in(&STAFF_ROLES, prev);
            if !staff && !allowed(w.start, end) {
                found.push(Person::new(w.start, end, w.sentence, Cue::Initials));
            }
            i = last + 1;
            continue;
        }
        if w.capitalized() && w.text.len() >= 2 {
            let b = base(w.text);
            // "our Patient Relations team": a capitalised introducer inside a
            // sentence names a department, unless a name follows.
            let department =
                prev_same && words[i - 1].capitalized() && !words[i - 1].initial && !lex.is_name(&b);
            let introduced = is_in(&INTRODUCERS, prev) && prev_same && !is_in(&CALENDAR, &b) && !department;
            let month_day = is_in(&MONTH_SHORT, &b)
                && next.is_some_and(|n| {
                    n.sentence == w.sentence && n.text.starts_with(|c: char| c.is_ascii_digit())
                });
            let place =
                next.is_some_and(|n| n.sentence == w.sentence && is_in(&STREET_TYPES, &lowered[i + 1]));
            if (!is_in(&NOT_NAMES, &b) || introduced) && !month_day && !place {
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
                    // "Will Smith", or a capitalised "Grace" closing a clause
                    // inside a sentence ("Welcome home, Grace!") in a text not
                    // written in title case.
                    let closes =
                        text[w.end..].chars().next().is_none_or(|c| matches!(c, ',' | '!' | '.' | '?'));
                    let title_case = prev_same && words[i - 1].capitalized() && !words[i - 1].initial;
                    !w.initial && (next_is_name || (closes && !title_case))
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
                    // A family name the dictionary lacks ("Bjorn Lindqvist's"):
                    // one more capitalised word that is not a health word,
                    // a weekday, a month or a street.
                    if let Some(n) = words.get(j).filter(|n| {
                        let b = base(n.text);
                        j < i + 3
                            && n.sentence == w.sentence
                            && n.capitalized()
                            && n.text.chars().all(|c| c.is_alphabetic() || c == '\'' || c == '’' || c == '-')
                            && !is_in(&NOT_NAMES, &b)
                            && !is_in(&STREET_TYPES, &b)
                            && !is_in(&NOT_PLACES, &b)
                            && !lex.is_name_word(&b)
                            && lex.health_words(n.text).is_empty()
                            && !allowed(n.start, n.end)
                    }) {
                        end = n.end;
                        j += 1;
                    }
                    // "Thanks Tasha and the whole crew": the street or the name after it.
                    let street = words
                        .get(j)
                        .is_some_and(|n| n.sentence == w.sentence && is_in(&STREET_TYPES, &lowered[j]));
                    if !allowed(w.start, end) && !street && !an_animal_after(words, lowered, j, w.sentence) {
                        let mut p = Person::new(w.start, end, w.sentence, cue);
                        p.vocative = origin == Origin::Reply && vocative(text, words, lowered, i, j - 1);
                        found.push(p);
                    }
                    i = j;
                    continue;
                }
            }
            if place {
                i += 2;
                continue;
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
/// person's possessive shortly before it ("her fall", "my 3 day stay"; in a
/// reply "your visit", but not the organization's "our clinic" nor, in a
/// post or a comment, "your clinic"), or a clear health word in the same
/// sentence.
fn ambiguous_stands(
    words: &[Word<'_>],
    lowered: &[Cow<'_, str>],
    origin: Origin,
    start: usize,
    clear_sentences: &[usize],
    sentence: usize,
    persons: &[Person],
) -> bool {
    let i = words.partition_point(|w| w.end <= start);
    // A person pointed at just before it: "baby Oliver, born", "Mrs. Diaz fell".
    let person_before = i.checked_sub(3).map_or(0, |k| words[k].start);
    let pointed = persons.iter().any(|p| {
        p.cue.strong()
            && p.cue != Cue::Room
            && p.sentence == sentence
            && p.end <= start
            && p.end >= person_before
    });
    if pointed {
        return true;
    }
    // The two words before it, numbers not counted ("my 3 day stay").
    let before = (0..i)
        .rev()
        .take_while(|&k| words[k].sentence == sentence)
        .filter(|&k| !words[k].text.bytes().all(|b| b.is_ascii_digit()))
        .take(2);
    let possessive = before.into_iter().any(|k| {
        let l = lowered[k].as_ref();
        (is_in(&POSSESSIVES, l) && l != "our" && (origin == Origin::Reply || !l.starts_with('y')))
            || (l.len() > 2 && l.ends_with("'s") && !is_in(&GROUP_POSSESSIVES, l))
    });
    possessive || clear_sentences.contains(&sentence)
}

/// Whether the health word ending at `end` names a class, an event or a part
/// of the building ("CPR class", "Cancer Center lobby", "grand opening").
fn names_something_else(words: &[Word<'_>], lowered: &[Cow<'_, str>], end: usize, sentence: usize) -> bool {
    let mut i = words.partition_point(|w| w.start < end);
    let word = |k: usize| words.get(k).filter(|w| w.sentence == sentence).map(|_| lowered[k].as_ref());
    // "cardiology clinic hours": past the words for a place of care.
    while word(i).is_some_and(|w| is_in(&CARE_PLACE_NOUNS, w)) {
        i += 1;
    }
    match word(i) {
        Some(n) if is_in(&NOT_CARE_NOUNS, n) => true,
        Some("grand" | "new") => word(i + 1).is_some_and(|m| is_in(&NOT_CARE_NOUNS, m)),
        Some("support") => word(i + 1).is_some_and(|m| matches!(m, "group" | "groups")),
        _ => false,
    }
}

/// Whether the place of care at `start` is named as a building: "the new
/// cancer center", "our old ER", "the hill behind the Cancer Center".
fn a_building(words: &[Word<'_>], lowered: &[Cow<'_, str>], start: usize) -> bool {
    let i = words.partition_point(|w| w.end <= start);
    let sentence = words.get(i).map_or(usize::MAX, |w| w.sentence);
    let before =
        |k: usize| i.checked_sub(k).filter(|&j| words[j].sentence == sentence).map(|j| lowered[j].as_ref());
    matches!(before(1), Some("new" | "old" | "future" | "expanded" | "renovated"))
        || (matches!(before(1), Some("the"))
            && matches!(
                before(2),
                Some("behind" | "beside" | "outside" | "across" | "past" | "near" | "opposite")
            ))
}

/// The sentences with a word from `list` in them.
fn sentences_with(words: &[Word<'_>], lowered: &[Cow<'_, str>], list: &Words) -> Vec<usize> {
    let mut out: Vec<usize> =
        words.iter().zip(lowered).filter(|(_, l)| is_in(list, l)).map(|(w, _)| w.sentence).collect();
    out.dedup();
    out
}

/// Words of a gift ("donated 200 teddy bears to our NICU"): a unit in their
/// sentence receives it, nobody is cared for.
static DONATION_WORDS: Words = Words::new(&[
    "donate",
    "donated",
    "donates",
    "donating",
    "donation",
    "donations",
    "donor",
    "donors",
    "gift",
    "gifts",
    "fundraiser",
    "fundraising",
]);

/// Whether the health word ending at `end` describes a group ("diabetes
/// patients", "critically ill patients", "flu season").
fn before_group_noun(words: &[Word<'_>], lowered: &[Cow<'_, str>], end: usize, sentence: usize) -> bool {
    let i = words.partition_point(|w| w.start < end);
    words.get(i).is_some_and(|w| w.sentence == sentence && is_in(&GROUP_NOUNS_AFTER, &lowered[i]))
}

/// Nouns after a health word that make it about a group.
static GROUP_NOUNS_AFTER: Words = Words::new(&[
    "patients",
    "people",
    "adults",
    "children",
    "kids",
    "families",
    "survivors",
    "cases",
    "rates",
    "season",
    "vaccines",
    "care",
    "services",
    "program",
    "programs",
    "team",
    "teams",
    "unit",
    "awareness",
    "screenings",
    "research",
]);

/// The byte ranges of clauses that speak of anyone, not someone: from "if"
/// or "whether" followed by "you", "anyone", "someone"... to the next comma,
/// semicolon or the end of the sentence ("if you're worried about those
/// symptoms, call").
fn hypothetical_clauses(text: &str, words: &[Word<'_>], lowered: &[Cow<'_, str>]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if !matches!(lowered[i].as_ref(), "if" | "whether" | "unless") {
            continue;
        }
        let anyone =
            words.get(i + 1).is_some_and(|n| n.sentence == w.sentence && is_in(&ANYONE, &lowered[i + 1]));
        if !anyone {
            continue;
        }
        let sentence_end =
            words[i..].iter().take_while(|x| x.sentence == w.sentence).last().map_or(w.end, |x| x.end);
        let end = text[w.end..sentence_end].find([',', ';', ':']).map_or(sentence_end, |k| w.end + k);
        out.push((w.start, end));
    }
    out
}

/// What the person rules found: whether there is health context at all (an
/// identifier next to it is more serious), and the people the text names
/// who are not next to it (listed only when the text is held anyway; `None`
/// when no health word made looking for people worth it: see [`named`]).
pub struct PeopleFound {
    pub health: bool,
    pub context: Option<Vec<Finding>>,
}

/// The people a text names, as findings to list in a held text ([`findings`]
/// found no health word, so it did not look for them).
pub fn named(
    lex: &Lexicon,
    text: &str,
    words: &[Word<'_>],
    origin: Origin,
    allowed: &dyn Fn(usize, usize) -> bool,
    own_handle: &dyn Fn(&str) -> bool,
) -> Vec<Finding> {
    let lowered: Vec<Cow<'_, str>> = words.iter().map(|w| lower(w.text)).collect();
    let persons = people(lex, text, words, &lowered, origin, allowed, own_handle);
    let reported = vec![false; persons.len()];
    context_findings(&persons, &reported)
}

/// Finds each person next to health context, and the health context.
pub fn findings(
    lex: &Lexicon,
    text: &str,
    words: &[Word<'_>],
    origin: Origin,
    allowed: &dyn Fn(usize, usize) -> bool,
    own_handle: &dyn Fn(&str) -> bool,
    out: &mut Vec<Finding>,
) -> PeopleFound {
    let found = lex.health_words(text);
    if found.is_empty() {
        return PeopleFound { health: false, context: None };
    }
    let lowered: Vec<Cow<'_, str>> = words.iter().map(|w| lower(w.text)).collect();
    let hypothetical = hypothetical_clauses(text, words, &lowered);
    let donations = sentences_with(words, &lowered, &DONATION_WORDS);
    let health: Vec<(usize, usize, Health, usize)> = found
        .into_iter()
        .filter_map(|(s, e, k)| sentence_at(words, s).map(|sen| (s, e, k, sen)))
        .filter(|(s, e, _, _)| !allowed(*s, *e))
        .filter(|(s, _, _, _)| !hypothetical.iter().any(|(hs, he)| hs <= s && s < he))
        .filter(|(_, e, _, sen)| !names_something_else(words, &lowered, *e, *sen))
        .filter(|(_, _, k, sen)| *k != Health::Care || !donations.contains(sen))
        .filter(|(s, _, k, _)| *k != Health::Care || !a_building(words, &lowered, *s))
        .collect();
    let mut persons = people(lex, text, words, &lowered, origin, allowed, own_handle);
    let told = possessed_care(text, words, &lowered, &health, &persons);
    persons.extend(told);
    persons.extend(addressed(words, &lowered));
    // A comment's writer speaking of their work there is staff, not a patient.
    let work = sentences_with(words, &lowered, &WORK_WORDS);
    persons.retain(|p| p.cue != Cue::Writer || !work.contains(&p.sentence));
    let mut clear: Vec<usize> = health.iter().filter(|h| h.2 != Health::Ambiguous).map(|h| h.3).collect();
    // Two ambiguous health words about one person corroborate each other
    // ("My mother-in-law is on the 5th floor recovering from a stroke").
    for h in &health {
        let ambiguous_here = health.iter().filter(|g| g.3 == h.3 && g.2 == Health::Ambiguous).count();
        let pointed = persons.iter().any(|p| p.sentence == h.3 && p.cue.strong() && p.cue != Cue::Hashtag);
        if ambiguous_here >= 2 && pointed {
            clear.push(h.3);
        }
    }
    let health: Vec<_> = health
        .into_iter()
        .filter(|(s, _, k, sen)| {
            *k != Health::Ambiguous || ambiguous_stands(words, &lowered, origin, *s, &clear, *sen, &persons)
        })
        .collect();
    let pronouns = sentences_with(words, &lowered, &PRONOUNS);
    let mut used = vec![false; health.len()];
    let mut reported = vec![false; persons.len()];
    // Names a reply addresses count only once the reply confirms the reader's care.
    for vocatives in [false, true] {
        let confirmed = persons.iter().zip(&reported).any(|(p, r)| *r && p.cue == Cue::Addressee);
        for (n, p) in persons.iter().enumerate() {
            // A name the reply addresses, with the reader's own health in its
            // sentence ("We hope the surgery went well, Karen"), not a
            // group's ("critically ill patients").
            let personal = |h: &(usize, usize, Health, usize)| {
                h.3 == p.sentence
                    && matches!(
                        h.2,
                        Health::Condition | Health::Procedure | Health::Medication | Health::Test
                    )
                    && !before_group_noun(words, &lowered, h.1, h.3)
            };
            if p.vocative != vocatives
                || p.cue == Cue::Staff
                || (p.vocative && !confirmed && !health.iter().any(personal))
            {
                continue;
            }
            // The health context a person is next to: in their sentence; for a
            // cue that points at one person, the sentence before or after
            // too; for a name, the next sentence when it speaks of them
            // ("... Ava! She had her surgery").
            let near: Vec<usize> = health
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    h.3 == p.sentence
                        || (h.3 == p.sentence + 1 && (p.cue.strong() || pronouns.contains(&h.3)))
                        || (h.3 + 1 == p.sentence && p.cue.strong())
                })
                .map(|(k, _)| k)
                .collect();
            let hashtag_alone = p.cue == Cue::Hashtag;
            if near.is_empty() && !hashtag_alone {
                continue;
            }
            reported[n] = true;
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
    PeopleFound { health: !health.is_empty(), context: Some(context_findings(&persons, &reported)) }
}

/// Someone's own care told with a pronoun: "his amputation", "her last
/// round of radiation", "she has sickle cell disease". A clear health word
/// (not a care setting, not an ambiguous word) within three words after
/// "his" or "her", or after "he/she has/had", is about one person.
fn possessed_care(
    text: &str,
    words: &[Word<'_>],
    lowered: &[Cow<'_, str>],
    health: &[(usize, usize, Health, usize)],
    persons: &[Person],
) -> Vec<Person> {
    let personal = |h: &&(usize, usize, Health, usize)| {
        matches!(h.2, Health::Condition | Health::Procedure | Health::Medication | Health::Test)
    };
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let lead = match lowered[i].as_ref() {
            "his" | "her" => i + 1,
            "he" | "she" if lowered.get(i + 1).is_some_and(|n| matches!(n.as_ref(), "has" | "had")) => i + 2,
            _ => continue,
        };
        // The pronoun of someone named already is theirs ("our patient Maria
        // after her chemo"); staff named before may speak of their own.
        let named_before =
            persons.iter().any(|p| p.sentence == w.sentence && p.end <= w.start && p.cue != Cue::Staff);
        if named_before {
            continue;
        }
        let window = words[lead.min(words.len())..].iter().take(3).take_while(|x| x.sentence == w.sentence);
        let starts: Vec<usize> = window.map(|x| x.start).collect();
        // Not a title: her "Hemoglobin Heat" chili, her Hemoglobin Heat recipe.
        let title = |h: &(usize, usize, Health, usize)| {
            let capitals = words
                .iter()
                .skip_while(|x| x.start < h.0)
                .take_while(|x| x.sentence == w.sentence)
                .take(2)
                .filter(|x| x.capitalized())
                .count();
            (h.0 > w.end && text[w.end..h.0].contains(['"', '“'])) || capitals == 2
        };
        if health.iter().filter(personal).any(|h| starts.contains(&h.0) && !title(h)) {
            out.push(Person::new(w.start, w.end, w.sentence, Cue::Described));
        }
    }
    out
}

/// One person a post speaks to by what they did: "To the bride who came
/// through our ER", "To the gentleman in the red hat who".
fn addressed(words: &[Word<'_>], lowered: &[Cow<'_, str>]) -> Vec<Person> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if !(w.initial && lowered[i] == "to" && lowered.get(i + 1).is_some_and(|n| n == "the")) {
            continue;
        }
        let who = (i + 3..(i + 9).min(words.len()))
            .take_while(|&k| words[k].sentence == w.sentence)
            .find(|&k| lowered[k] == "who");
        if let Some(k) = who {
            out.push(Person::new(words[i + 1].start, words[k - 1].end, w.sentence, Cue::Described));
        }
    }
    out
}

/// The people not reported next to health context, to list in a held text
/// ("I" and "you" are not listed).
fn context_findings(persons: &[Person], reported: &[bool]) -> Vec<Finding> {
    persons
        .iter()
        .zip(reported)
        .filter(|(p, r)| !**r && !p.cue.pronoun())
        .map(|(p, _)| {
            let staff = p.cue == Cue::Staff;
            Finding {
                kind: p.cue.kind(),
                rule: if staff { "context.staff_name" } else { "context.person" }.into(),
                start: p.start,
                end: p.end,
                confidence: if staff { 0.3 } else { p.cue.confidence() * 0.7 },
                severity: Severity::Low,
                explanation: if staff {
                    "staff named in their role (not PHI by itself), listed because the text is held"
                } else {
                    "a person the text names, listed because the text is held: with health context anywhere in it, they may be who it is about"
                }
                .into(),
            }
        })
        .collect()
}

/// Words that start a capitalised phrase that is not a place: weekdays,
/// months, titles, words a sentence starts with.
pub fn not_a_place(first_word: &str) -> bool {
    let w = base(first_word);
    is_in(&CALENDAR, &w)
        || is_in(&NOT_NAMES, &w)
        || is_in(&PERSON_TITLES, &w)
        || is_in(&STAFF_ROLES, &w)
        || is_in(&COMMUNITY_TITLES, &w)
        || is_in(&NOT_PLACES, &w)
}

/// Capitalised words after "in" or "from" that are not places.
static NOT_PLACES: Words = Words::new(&[
    "english",
    "spanish",
    "french",
    "chinese",
    "vietnamese",
    "korean",
    "russian",
    "arabic",
    "tagalog",
    "somali",
    "memory",
    "honor",
    "loving",
    "celebration",
    "support",
    "person",
    "room",
    "bed",
    "building",
    "suite",
    "unit",
    "floor",
    "wing",
    "tower",
    "lab",
    "admin",
    "administration",
    "security",
    "facilities",
    "it",
    "hr",
    "finance",
    "billing",
    "dietary",
    "nutrition",
    "environmental",
    "housekeeping",
    "patient",
    "patients",
    "health",
    "information",
    "records",
    "care",
    "team",
    "week",
    "month",
    "year",
    "day",
]);
