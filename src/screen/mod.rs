//! The content screen: what an action would say, read before it leaves.
//!
//! Pure and fast: no I/O once built, nothing sent anywhere. It finds
//! HIPAA Safe Harbor identifiers ([`identifiers`]), an identifiable person
//! next to health context ([`people`]), the organization's staff-only
//! terms, and media (always shown to a reviewer: faces, wristbands and
//! charts cannot be screened from text). Each finding says what it is, by
//! which rule, where (byte offsets), how sure the rule is, and why.
//!
//! A text held for any of those also lists, at low severity, what else in
//! it would identify the person ([`context`]): the other names, and the
//! dates, ages and places that alone are nothing ("See you Sunday") but
//! next to someone's care are part of the disclosure. They never hold a
//! text by themselves.
//!
//! The screen does not decide what happens to what it found: policy does
//! (the `content.block` and `content.release` actions in `policies/`), so
//! an organization tunes the verdict where it tunes everything else.
//! `policies/screen.toml` holds the organization's words: its own public
//! names and addresses (never findings), its staff-only terms, and words
//! added to the dictionaries.

mod context;
mod identifiers;
mod lexicon;
mod people;
mod text;

use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

pub use crate::domain::{Finding, FindingKind, Severity, Verdict};

use identifiers::Identifier;
use lexicon::{Additions, Lexicon};

/// The file in the policy folder that holds the screen's settings.
pub const SETTINGS_FILE: &str = "screen.toml";

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Where the text is going, or where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The organization's own post (or edit).
    #[default]
    Post,
    /// The organization's reply to someone.
    Reply,
    /// Someone's comment on the organization's account.
    Comment,
}

/// What is screened: every word that would leave (text, link, alt text,
/// file names, or a pass-through request's recorded content), as one text.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    pub text: &'a str,
    pub origin: Origin,
    /// An image or video rides with it.
    pub media: bool,
}

/// The findings, most serious first by position.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// The most serious finding's severity (0: nothing found).
    pub fn max_severity(&self) -> i64 {
        self.findings.iter().map(|f| f.severity as i64).max().unwrap_or(0)
    }

    /// The kinds found, each once, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<FindingKind> = self.findings.iter().map(|f| f.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds.into_iter().map(FindingKind::as_str).collect()
    }

    pub fn media(&self) -> bool {
        self.findings.iter().any(|f| f.kind == FindingKind::Media)
    }
}

/// `policies/screen.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenSettings {
    pub organization: Organization,
    pub lexicon: StaffLexicon,
    pub dictionaries: Dictionaries,
    /// Rules switched off, by id (e.g. "identifier.ip").
    pub disabled_rules: Vec<String>,
}

/// The organization's own public names, people, numbers and places: never findings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Organization {
    pub names: Vec<String>,
    /// Spokespeople named in their work role ("Anita Rao").
    pub people: Vec<String>,
    pub phones: Vec<String>,
    /// Its web and mail domains (subdomains included).
    pub domains: Vec<String>,
    pub addresses: Vec<String>,
}

/// Staff-only words that must never appear in a public post.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffLexicon {
    pub terms: Vec<String>,
    /// Regular expressions (e.g. internal codes).
    pub patterns: Vec<String>,
}

/// Words the organization adds to the built-in dictionaries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dictionaries {
    pub names: Vec<String>,
    pub conditions: Vec<String>,
    pub procedures: Vec<String>,
    pub medications: Vec<String>,
    pub care_settings: Vec<String>,
    /// Built-in health words that mean something else here.
    pub not_health: Vec<String>,
}

impl ScreenSettings {
    /// Reads `dir/screen.toml`; no file: the built-in screen alone.
    pub fn load(dir: &Path) -> Result<ScreenSettings, ScreenError> {
        let path: PathBuf = dir.join(SETTINGS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ScreenSettings::default()),
            Err(e) => {
                return Err(ScreenError::Unreadable {
                    path: path.display().to_string(),
                    reason: e.kind().to_string(),
                })
            }
        };
        toml::from_str(&text)
            .map_err(|e| ScreenError::Invalid(format!("{}: {}", path.display(), e.message())))
    }
}

/// The screen, built once from the dictionaries and the settings.
pub struct Screen {
    lexicon: Lexicon,
    identifiers: Vec<Identifier>,
    /// Which of `identifiers` match a text, in one pass.
    identifiers_pass: OnePass,
    /// The same for a text without a digit: only the rules that need none.
    identifiers_pass_no_digit: OnePass,
    /// The organization's own names, people and addresses.
    allowed: Option<AhoCorasick>,
    /// Its phone numbers, digits only.
    phones: Vec<String>,
    domains: Vec<String>,
    staff_terms: Option<AhoCorasick>,
    staff_patterns: Vec<Regex>,
    /// Dates, ages and places listed only in a text held for something else.
    context: Vec<context::ContextRule>,
    context_pass: OnePass,
    /// The organization's names and domains as a handle spells them
    /// ("larkfieldhealth"): its own handles are not people.
    own_handles: Vec<String>,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Screen({} identifier rules)", self.identifiers.len())
    }
}

/// The lazy DFA cache of a rule set, per thread that screens. The default
/// (2 MiB) is too small for twenty rules at once: the cache is cleared over
/// and over and a set is slower than the rules one by one.
const SET_DFA_BYTES: usize = 10 << 20;

/// Rules' patterns as one set: a single pass over a text says which of
/// them match, so only those are searched again for where and what.
struct OnePass {
    set: RegexSet,
    /// The rule (an index into its family) of each pattern of the set.
    rules: Vec<usize>,
}

impl OnePass {
    fn of<'a>(rules: impl IntoIterator<Item = (usize, &'a str)>) -> Result<OnePass, ScreenError> {
        let (rules, patterns): (Vec<usize>, Vec<&str>) = rules.into_iter().unzip();
        let set = regex::RegexSetBuilder::new(patterns)
            .dfa_size_limit(SET_DFA_BYTES)
            .build()
            .map_err(|e| ScreenError::Invalid(format!("a built-in rule: {e}")))?;
        Ok(OnePass { set, rules })
    }

    /// The rules that match `text`.
    fn matching(&self, text: &str) -> impl Iterator<Item = usize> + '_ {
        self.set.matches(text).into_iter().map(|i| self.rules[i])
    }
}

fn automaton(words: &[String]) -> Result<Option<AhoCorasick>, ScreenError> {
    let words: Vec<&str> = words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return Ok(None);
    }
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(words)
        .map(Some)
        .map_err(|e| ScreenError::Invalid(format!("a word list cannot be built: {e}")))
}

/// Street types as addresses write them in full and short.
const STREET_TYPES: &[(&str, &str)] = &[
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Boulevard", "Blvd"),
    ("Lane", "Ln"),
    ("Drive", "Dr"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Terrace", "Ter"),
    ("Circle", "Cir"),
    ("Highway", "Hwy"),
    ("Parkway", "Pkwy"),
];

/// An address as it is written: "400 Orchard Street" and "400 Orchard St".
fn address_forms(address: &str) -> Vec<String> {
    let mut forms = vec![address.to_owned()];
    let words: Vec<&str> = address.split_whitespace().collect();
    for (k, word) in words.iter().enumerate() {
        let bare = word.trim_end_matches(['.', ',']);
        for (long, short) in STREET_TYPES {
            let other = if bare.eq_ignore_ascii_case(long) {
                short
            } else if bare.eq_ignore_ascii_case(short) {
                long
            } else {
                continue;
            };
            let mut swapped: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
            swapped[k] = format!("{other}{}", &word[bare.len()..]);
            forms.push(swapped.join(" "));
        }
    }
    forms
}

/// A person as they are written in the organization's posts: "Anita Rao",
/// "Dr. Rao", "Rao".
fn person_forms(name: &str) -> Vec<String> {
    let mut forms = vec![name.to_owned()];
    if let Some(last) = name.split_whitespace().last() {
        forms.push(last.to_owned());
    }
    if let Some(first) = name.split_whitespace().next() {
        forms.push(first.to_owned());
    }
    forms
}

impl Screen {
    pub fn new(settings: &ScreenSettings) -> Result<Screen, ScreenError> {
        let d = &settings.dictionaries;
        let additions = Additions {
            names: &d.names,
            conditions: &d.conditions,
            procedures: &d.procedures,
            medications: &d.medications,
            care_settings: &d.care_settings,
            not_health: &d.not_health,
        };
        let lexicon = Lexicon::build(&additions)?;
        let mut identifiers =
            identifiers::rules().map_err(|e| ScreenError::Invalid(format!("a built-in rule: {e}")))?;
        identifiers.retain(|r| !settings.disabled_rules.iter().any(|d| d == r.rule));
        let org = &settings.organization;
        let mut allowed: Vec<String> = org.names.clone();
        allowed.extend(org.people.iter().flat_map(|p| person_forms(p)));
        allowed.extend(org.addresses.iter().flat_map(|a| address_forms(a)));
        let staff_patterns = settings
            .lexicon
            .patterns
            .iter()
            .map(|p| Regex::new(p).map_err(|e| ScreenError::Invalid(format!("lexicon pattern {p:?}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut own_handles: Vec<String> = org
            .names
            .iter()
            .map(String::as_str)
            .chain(org.domains.iter().filter_map(|d| d.split('.').next()))
            .map(handle_form)
            .filter(|n| !n.is_empty())
            .collect();
        own_handles.sort();
        own_handles.dedup();
        let context = context::rules().map_err(|e| ScreenError::Invalid(format!("a built-in rule: {e}")))?;
        Ok(Screen {
            identifiers_pass: OnePass::of(identifiers.iter().map(Identifier::pattern).enumerate())?,
            identifiers_pass_no_digit: OnePass::of(
                identifiers
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| !r.needs_digit())
                    .map(|(i, r)| (i, r.pattern())),
            )?,
            context_pass: OnePass::of(context.iter().map(context::ContextRule::pattern).enumerate())?,
            context,
            own_handles,
            lexicon,
            identifiers,
            allowed: automaton(&allowed)?,
            phones: org.phones.iter().map(|p| digits(p)).collect(),
            domains: org.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            staff_terms: automaton(&settings.lexicon.terms)?,
            staff_patterns,
        })
    }

    /// The built-in screen with `dir/screen.toml`'s settings.
    pub fn load(dir: &Path) -> Result<Screen, ScreenError> {
        Screen::new(&ScreenSettings::load(dir)?)
    }

    /// Everything the screen finds in `content`.
    pub fn check(&self, content: &Content<'_>) -> Report {
        let text = content.text;
        let mut findings = Vec::new();
        let allowed_spans: Vec<(usize, usize)> = match &self.allowed {
            Some(ac) => ac
                .find_iter(text)
                .filter(|m| text::whole_word(text, m.start(), m.end()))
                .map(|m| (m.start(), m.end()))
                .collect(),
            None => Vec::new(),
        };
        let allowed = |start: usize, end: usize| allowed_spans.iter().any(|&(s, e)| s <= start && end <= e);
        let allowed_overlap =
            |start: usize, end: usize| allowed_spans.iter().any(|&(s, e)| s < end && start < e);
        let words = text::words(text);
        let own_handle = |handle: &str| self.own_handle(handle);
        let people = people::findings(
            &self.lexicon,
            text,
            &words,
            content.origin,
            &allowed,
            &own_handle,
            &mut findings,
        );
        self.identifiers_in(text, people.health, &allowed, &allowed_overlap, &mut findings);
        // A text held for a person's health or an identifier: everything else
        // in it that would identify the person is listed too.
        let held = findings.iter().any(|f| f.kind != FindingKind::Lexicon);
        if held {
            let named = people.context.unwrap_or_else(|| {
                people::named(&self.lexicon, text, &words, content.origin, &allowed, &own_handle)
            });
            self.context_in(text, named, &allowed_overlap, &mut findings);
        }
        self.staff_terms_in(text, &mut findings);
        if content.media {
            findings.push(Finding {
                kind: FindingKind::Media,
                rule: "media.attached".into(),
                start: 0,
                end: 0,
                confidence: 1.0,
                severity: Severity::Medium,
                explanation: "an image or video: faces, wristbands and charts cannot be screened from text"
                    .into(),
            });
        }
        findings.sort_by_key(|f| (f.start, f.end));
        Report { findings }
    }

    /// Whether a handle ("larkfieldhealth_er") is the organization's own.
    fn own_handle(&self, handle: &str) -> bool {
        let h = handle_form(handle);
        self.own_handles.iter().any(|o| h.starts_with(o.as_str()) || (o.len() >= 5 && h.contains(o.as_str())))
    }

    /// Names, dates, ages and places that identify someone only in a text
    /// that is held already: listed, never the reason it is held.
    fn context_in(
        &self,
        text: &str,
        people: Vec<Finding>,
        allowed: &dyn Fn(usize, usize) -> bool,
        out: &mut Vec<Finding>,
    ) {
        let mut hits = Vec::new();
        for i in self.context_pass.matching(text) {
            self.context[i].find(text, &mut hits);
        }
        let listed = |out: &Vec<Finding>, start: usize, end: usize| {
            out.iter().any(|f| f.kind != FindingKind::Health && f.start < end && start < f.end)
        };
        for f in people {
            if !allowed(f.start, f.end) && !listed(out, f.start, f.end) {
                out.push(f);
            }
        }
        for hit in hits {
            let r = hit.rule;
            if allowed(hit.start, hit.end) || listed(out, hit.start, hit.end) {
                continue;
            }
            if r.place && !self.a_place(&text[hit.start..hit.end]) {
                continue;
            }
            out.push(Finding {
                kind: r.kind,
                rule: r.rule.into(),
                start: hit.start,
                end: hit.end,
                confidence: r.confidence,
                severity: Severity::Low,
                explanation: r.explanation.into(),
            });
        }
    }

    /// A capitalised phrase that can be a place: not a unit or a health word
    /// ("in Imaging", "from Pediatrics"), a weekday or a month, a title or a
    /// word that starts sentences.
    fn a_place(&self, candidate: &str) -> bool {
        let first = candidate.split_whitespace().next().unwrap_or("").to_lowercase();
        !self.lexicon.health_words(candidate).iter().any(|&(s, _, _)| s == 0) && !people::not_a_place(&first)
    }

    fn identifiers_in(
        &self,
        text: &str,
        health: bool,
        allowed: &dyn Fn(usize, usize) -> bool,
        allowed_overlap: &dyn Fn(usize, usize) -> bool,
        out: &mut Vec<Finding>,
    ) {
        let has_digit = text.bytes().any(|b| b.is_ascii_digit());
        let mut hits = Vec::new();
        let pass = if has_digit { &self.identifiers_pass } else { &self.identifiers_pass_no_digit };
        for i in pass.matching(text) {
            self.identifiers[i].find(text, has_digit, &mut hits);
        }
        for hit in hits {
            let r = hit.identifier;
            // An address that starts with the organization's own ("400
            // Orchard Street, Larkfield, OR") is the organization's.
            let own_place = r.kind == FindingKind::Location && allowed_overlap(hit.start, hit.end);
            if allowed(hit.start, hit.end)
                || own_place
                || out.iter().any(|f| f.kind == r.kind && f.start <= hit.start && hit.end <= f.end)
            {
                continue;
            }
            let own = match r.kind {
                FindingKind::Phone => self.phones.contains(&hit.matched),
                FindingKind::Email => self.own_domain(&hit.matched),
                _ => false,
            };
            if own {
                continue;
            }
            // An identifier alone is low; next to health context it is not.
            let severity = if health && r.severity == Severity::Low { Severity::Medium } else { r.severity };
            out.push(Finding {
                kind: r.kind,
                rule: r.rule.into(),
                start: hit.start,
                end: hit.end,
                confidence: r.confidence,
                severity,
                explanation: r.explanation.into(),
            });
        }
    }

    fn own_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| domain == d || domain.ends_with(&format!(".{d}")))
    }

    fn staff_terms_in(&self, text: &str, out: &mut Vec<Finding>) {
        let mut push = |start: usize, end: usize| {
            out.push(Finding {
                kind: FindingKind::Lexicon,
                rule: "lexicon.staff_term".into(),
                start,
                end,
                confidence: 0.95,
                severity: Severity::Medium,
                explanation: "a staff-only term of the organization's".into(),
            })
        };
        if let Some(ac) = &self.staff_terms {
            for m in ac.find_iter(text).filter(|m| text::whole_word(text, m.start(), m.end())) {
                push(m.start(), m.end());
            }
        }
        for pattern in &self.staff_patterns {
            for m in pattern.find_iter(text) {
                push(m.start(), m.end());
            }
        }
    }
}

/// A name as a handle spells it: "Larkfield Health" -> "larkfieldhealth".
fn handle_form(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase()
}

fn digits(s: &str) -> String {
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    // A leading country code 1 is not part of the number.
    if d.len() == 11 && d.starts_with('1') {
        d[1..].to_owned()
    } else {
        d
    }
}

#[cfg(test)]
mod tests;
