//! The dictionaries the screen matches: people's names, and the words of
//! health (conditions, procedures, medications, care settings, tests).
//! They ship inside the binary (`lexicon/*.txt`; sources and licences in
//! `lexicon/README.md`); an organization adds its own words in
//! `policies/screen.toml`.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};
use rustc_hash::FxHashSet as HashSet;

use super::ScreenError;

const FIRST_NAMES: &str = include_str!("lexicon/first_names.txt");
const LAST_NAMES: &str = include_str!("lexicon/last_names.txt");
const NAME_WORDS: &str = include_str!("lexicon/name_words.txt");
const CONDITIONS: &str = include_str!("lexicon/conditions.txt");
const PROCEDURES: &str = include_str!("lexicon/procedures.txt");
const MEDICATIONS: &str = include_str!("lexicon/medications.txt");
const CARE_SETTINGS: &str = include_str!("lexicon/care_settings.txt");
const TESTS_RESULTS: &str = include_str!("lexicon/tests_results.txt");
const HEALTH_AMBIGUOUS: &str = include_str!("lexicon/health_ambiguous.txt");
const RELATIONS: &str = include_str!("lexicon/relations.txt");

/// What a health word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Condition,
    Procedure,
    Medication,
    Care,
    Test,
    /// Also an ordinary word ("stroke", "fall", "visit"): health only in context.
    Ambiguous,
}

impl Health {
    pub fn rule(self) -> &'static str {
        match self {
            Health::Condition => "health.condition",
            Health::Procedure => "health.procedure",
            Health::Medication => "health.medication",
            Health::Care => "health.care_setting",
            Health::Test => "health.test",
            Health::Ambiguous => "health.ambiguous",
        }
    }
}

/// The entries of a list: one per line, `#` comments, lower case.
pub fn entries(list: &str) -> impl Iterator<Item = &str> {
    list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

pub struct Lexicon {
    names: HashSet<String>,
    name_words: HashSet<String>,
    relations: HashSet<String>,
    health: NFA,
    health_kinds: Vec<Health>,
}

/// The organization's additions (from `policies/screen.toml`).
#[derive(Debug, Default)]
pub struct Additions<'a> {
    pub names: &'a [String],
    pub conditions: &'a [String],
    pub procedures: &'a [String],
    pub medications: &'a [String],
    pub care_settings: &'a [String],
    /// Words removed from the health lists (they mean something else here).
    pub not_health: &'a [String],
}

impl Lexicon {
    pub fn build(add: &Additions<'_>) -> Result<Lexicon, ScreenError> {
        let lower = |s: &str| s.to_lowercase();
        let mut names: HashSet<String> = entries(FIRST_NAMES).chain(entries(LAST_NAMES)).map(lower).collect();
        names.extend(add.names.iter().map(|s| lower(s)));
        let set = |list: &str| entries(list).map(lower).collect::<HashSet<String>>();
        let not_health: HashSet<String> = add.not_health.iter().map(|s| lower(s)).collect();
        let mut patterns: Vec<String> = Vec::new();
        let mut health_kinds = Vec::new();
        let mut seen = HashSet::default();
        let builtin = [
            (CONDITIONS, Health::Condition),
            (PROCEDURES, Health::Procedure),
            (MEDICATIONS, Health::Medication),
            (CARE_SETTINGS, Health::Care),
            (TESTS_RESULTS, Health::Test),
            (HEALTH_AMBIGUOUS, Health::Ambiguous),
        ];
        let added = [
            (add.conditions, Health::Condition),
            (add.procedures, Health::Procedure),
            (add.medications, Health::Medication),
            (add.care_settings, Health::Care),
        ];
        let all = builtin
            .iter()
            .flat_map(|(list, kind)| entries(list).map(move |e| (e.to_lowercase(), *kind)))
            .chain(added.iter().flat_map(|(list, kind)| list.iter().map(move |e| (e.to_lowercase(), *kind))));
        for (term, kind) in all {
            if term.is_empty() || not_health.contains(&term) || !seen.insert(term.clone()) {
                continue;
            }
            patterns.push(term);
            health_kinds.push(kind);
        }
        // Walked from each place a word can start: every entry that starts
        // there is seen, so a longer one that runs into a word ("round of
        // chemo" in "round of chemotherapy") cannot hide a shorter one. A
        // contiguous NFA: a DFA of these lists is larger and its lookups
        // miss the CPU cache.
        let health = NFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(&patterns)
            .map_err(|e| ScreenError::Invalid(format!("the health dictionary cannot be built: {e}")))?;
        Ok(Lexicon { names, name_words: set(NAME_WORDS), relations: set(RELATIONS), health, health_kinds })
    }

    /// A person's given or family name (lower-cased `word`).
    pub fn is_name(&self, word: &str) -> bool {
        self.names.contains(word)
    }

    /// A name that is also an ordinary word ("Hope", "Will", "Rose").
    pub fn is_name_word(&self, word: &str) -> bool {
        self.name_words.contains(word)
    }

    pub fn is_relation(&self, word: &str) -> bool {
        self.relations.contains(word)
    }

    /// Every health word in `text`, whole words only, leftmost-longest and
    /// not overlapping: (start, end, kind).
    pub fn health_words(&self, text: &str) -> Vec<(usize, usize, Health)> {
        let mut all: Vec<(usize, usize, Health)> = Vec::new();
        let mut after_word = false;
        for (start, c) in text.char_indices() {
            if !after_word {
                self.health_at(text, start, &mut all);
            }
            after_word = c.is_alphanumeric();
        }
        all.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
        let mut out: Vec<(usize, usize, Health)> = Vec::with_capacity(all.len());
        for m in all {
            if out.last().is_none_or(|last| last.1 <= m.0) {
                out.push(m);
            }
        }
        out
    }

    /// Every entry that is the whole word or words starting at `start`.
    fn health_at(&self, text: &str, start: usize, out: &mut Vec<(usize, usize, Health)>) {
        let Ok(mut state) = self.health.start_state(Anchored::Yes) else { return };
        for (i, byte) in text.as_bytes()[start..].iter().enumerate() {
            state = self.health.next_state(Anchored::Yes, state, *byte);
            if self.health.is_dead(state) {
                return;
            }
            if !self.health.is_match(state) {
                continue;
            }
            let end = start + i + 1;
            for k in 0..self.health.match_len(state) {
                let pattern = self.health.match_pattern(state, k);
                // A state also carries the entries that end here but start later.
                if self.health.pattern_len(pattern) == end - start
                    && super::text::whole_word(text, start, end)
                {
                    out.push((start, end, self.health_kinds[pattern.as_usize()]));
                }
            }
        }
    }
}
