//! The identifiers HIPAA's Safe Harbor method lists that can appear in a
//! post's text: numbers with the hotword that says what they are, checked
//! where a checksum or a structure exists, and contact details that are
//! not the organization's own.

use regex::{Captures, Regex};

use super::{FindingKind, Severity};

/// One pattern: what it finds and how sure it is.
pub struct Identifier {
    pub rule: &'static str,
    pub kind: FindingKind,
    pub severity: Severity,
    pub confidence: f32,
    pub explanation: &'static str,
    regex: Regex,
    /// Whether a match stands (a checksum, a digit in the id).
    check: fn(&Captures<'_>) -> bool,
    /// Only tried on a text with an ASCII digit in it.
    needs_digit: bool,
}

/// A match: the identifier's span (the `id` group if the pattern has one).
pub struct Hit<'r> {
    pub identifier: &'r Identifier,
    pub start: usize,
    pub end: usize,
    pub matched: String,
}

const ID_TAIL: &str = r"\s*(?:is|was|=|:|-)?\s*(?:#|no\.?|number)?\s*:?\s*\(?";

fn any(_: &Captures<'_>) -> bool {
    true
}

fn id_has_digits(c: &Captures<'_>) -> bool {
    c.name("id").is_some_and(|m| m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 3)
}

/// An SSN the Social Security Administration could have issued: area not
/// 000, 666 or 9xx; group not 00; serial not 0000.
fn valid_ssn(c: &Captures<'_>) -> bool {
    let digits: String =
        c.name("id").map(|m| m.as_str()).unwrap_or("").chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 9 {
        return false;
    }
    let (area, group, serial) = (&digits[0..3], &digits[3..5], &digits[5..9]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// A VIN whose check digit (position 9) is right.
fn valid_vin(c: &Captures<'_>) -> bool {
    let Some(vin) = c.name("id").map(|m| m.as_str().to_ascii_uppercase()) else { return false };
    if vin.len() != 17
        || !vin.bytes().any(|b| b.is_ascii_digit())
        || !vin.bytes().any(|b| b.is_ascii_alphabetic())
    {
        return false;
    }
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |b: u8| -> Option<u32> {
        Some(match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A' | b'J' => 1,
            b'B' | b'K' | b'S' => 2,
            b'C' | b'L' | b'T' => 3,
            b'D' | b'M' | b'U' => 4,
            b'E' | b'N' | b'V' => 5,
            b'F' | b'W' => 6,
            b'G' | b'P' | b'X' => 7,
            b'H' | b'Y' => 8,
            b'R' | b'Z' => 9,
            _ => return None,
        })
    };
    let mut sum = 0;
    for (i, b) in vin.bytes().enumerate() {
        let Some(v) = value(b) else { return false };
        sum += v * WEIGHTS[i];
    }
    let check = match sum % 11 {
        10 => b'X',
        n => b'0' + n as u8,
    };
    vin.as_bytes()[8] == check
}

/// An age over 89 (Safe Harbor groups those as "90 or older").
fn over_89(c: &Captures<'_>) -> bool {
    c.name("age").and_then(|m| m.as_str().parse::<u32>().ok()).is_some_and(|a| (90..=125).contains(&a))
}

/// A date that can be one: a numeric month/day has a month of 1 to 12 and a
/// day of 1 to 31, and "24/7" is a figure of speech.
pub fn plausible_date(date: &str) -> bool {
    let numeric: Vec<&str> = date.split('/').collect();
    if numeric.len() < 2 || !numeric.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        return true;
    }
    if numeric[0] == "24" && numeric[1] == "7" {
        return false;
    }
    let month = numeric[0].parse::<u32>().unwrap_or(0);
    let day = numeric[1].parse::<u32>().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn date_stands(c: &Captures<'_>) -> bool {
    c.name("id").or_else(|| c.name("pre")).is_some_and(|m| {
        let d = m.as_str();
        // The date without a weekday before it.
        let d = d.rsplit([' ', ',']).find(|p| !p.is_empty()).filter(|p| p.contains('/')).unwrap_or(d);
        plausible_date(d)
    })
}

/// An age over 89 said with "is" or "was" ("my grandmother is 96 and"), not
/// a measure ("is 98 degrees", "was 92%").
fn over_89_said(c: &Captures<'_>) -> bool {
    over_89(c) && c.name("unit").is_none()
}

/// An IP address, not a version number ("version 4.12.0.3").
fn not_a_version(c: &Captures<'_>) -> bool {
    c.name("ver").is_none()
}

#[allow(clippy::too_many_arguments, reason = "each call is one row of the rule table below, read across")]
fn rule(
    rule: &'static str,
    kind: FindingKind,
    severity: Severity,
    confidence: f32,
    explanation: &'static str,
    pattern: &str,
    check: fn(&Captures<'_>) -> bool,
    needs_digit: bool,
) -> Result<Identifier, regex::Error> {
    Ok(Identifier {
        rule,
        kind,
        severity,
        confidence,
        explanation,
        regex: Regex::new(pattern)?,
        check,
        needs_digit,
    })
}

/// The month names a date is written with.
const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?";

/// A weekday before a date ("Monday 9/16", "Saturday, May 18").
const WEEKDAY: &str = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)";

/// A calendar date, whole: "March 3rd, 2024", "3 March 2024", "Monday 9/16",
/// "4/12/1931", "2024-03-03" (a pattern to use inside a case-insensitive one).
pub fn date_pattern() -> String {
    format!(
        r"(?:{WEEKDAY}?(?:{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?-u:\b)(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}(?-u:\b)(?:,?\s+\d{{4}})?|\d{{1,2}}/\d{{1,2}}(?:/\d{{4}}|/\d{{2}})?(?-u:\b)|\d{{4}}-\d{{2}}-\d{{2}}))"
    )
}

pub fn rules() -> Result<Vec<Identifier>, regex::Error> {
    use FindingKind as K;
    use Severity::{High, Low, Medium};
    let date = date_pattern();
    Ok(vec![
        rule(
            "identifier.ssn",
            K::Ssn,
            High,
            0.95,
            "a Social Security number",
            r"(?-u:\b)(?P<id>\d{3}-\d{2}-\d{4})(?-u:\b)",
            valid_ssn,
            true,
        )?,
        rule(
            "identifier.ssn_hotword",
            K::Ssn,
            High,
            0.9,
            "a number called a Social Security number",
            &format!(
                r"(?i)(?-u:\b)(?:ssn|ss#|social\s+security(?:\s+(?:number|no\.?|#))?){ID_TAIL}(?P<id>\d{{3}}[- ]?\d{{2}}[- ]?\d{{4}})(?-u:\b)"
            ),
            valid_ssn,
            true,
        )?,
        rule(
            "identifier.ssn_partial",
            K::Ssn,
            Medium,
            0.8,
            "the last four digits of a Social Security number",
            r"(?i)(?-u:\b)(?:(?:ssn|ss#|social(?:\s+security)?(?:\s+(?:number|no\.?|#))?)\s*(?:ends|ending|that\s+ends)\s*(?:in|with)?|last\s+(?:4|four)\s+(?:digits\s+)?of\s+(?:my|his|her|their|the)?\s*(?:ssn|social(?:\s+security)?(?:\s+number)?))\s*(?:is|are|:|-)?\s*(?P<id>\d{4})(?-u:\b)",
            any,
            true,
        )?,
        rule(
            "identifier.mrn",
            K::Mrn,
            High,
            0.9,
            "a medical record number",
            &format!(
                r"(?i)(?-u:\b)(?:mrn|med\s+rec(?:ord)?s?|medical\s+records?|chart|patient\s+(?:id|number|no\.?|#)|record\s+(?:number|no\.?|#)|hospital\s+(?:id|number|#)|case\s+(?:number|#)){ID_TAIL}(?P<id>[A-Z0-9][A-Z0-9-]{{3,15}})(?-u:\b)"
            ),
            id_has_digits,
            true,
        )?,
        rule(
            "identifier.health_plan",
            K::HealthPlan,
            High,
            0.85,
            "a health plan, member or insurance number",
            &format!(
                r"(?i)(?-u:\b)(?:member|subscriber|policy|insurance|insurer|medicaid|medicare|medi-cal|plan|group|beneficiary|mbi|ins\.?)\s*(?:id|number|no\.?|#|num|card)?{ID_TAIL}(?P<id>[A-Z]{{0,4}}[0-9][A-Z0-9-]{{4,19}})(?-u:\b)"
            ),
            id_has_digits,
            true,
        )?,
        rule(
            "identifier.medicare_mbi",
            K::HealthPlan,
            High,
            0.85,
            "a Medicare beneficiary identifier",
            r"(?-u:\b)(?P<id>[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2})(?-u:\b)",
            any,
            true,
        )?,
        rule(
            "identifier.account",
            K::Account,
            Medium,
            0.8,
            "an account or billing number",
            &format!(
                r"(?i)(?-u:\b)(?:account|acct\.?|billing|bill|invoice|statement|claim|guarantor)\s*(?:id|number|no\.?|#|num)?{ID_TAIL}(?P<id>[A-Z]{{0,3}}[0-9][A-Z0-9-]{{3,19}})(?-u:\b)"
            ),
            id_has_digits,
            true,
        )?,
        rule(
            "identifier.licence",
            K::Licence,
            Medium,
            0.75,
            "a licence or certificate number",
            &format!(
                r"(?i)(?-u:\b)(?:licen[cs]e|driver'?s\s+licen[cs]e|dl|certificate|cert|permit|passport)\s*(?:id|number|no\.?|#|num)?{ID_TAIL}(?P<id>[A-Z]{{0,3}}[0-9][A-Z0-9-]{{4,14}})(?-u:\b)"
            ),
            id_has_digits,
            true,
        )?,
        rule(
            "identifier.vin",
            K::Vehicle,
            Medium,
            0.85,
            "a vehicle identification number",
            r"(?i)(?-u:\b)(?P<id>[A-HJ-NPR-Z0-9]{17})(?-u:\b)",
            valid_vin,
            true,
        )?,
        rule(
            "identifier.plate",
            K::Vehicle,
            Medium,
            0.75,
            "a licence plate",
            r"(?i)(?-u:\b)(?:licen[cs]e\s+plate|plate|tag\s+number|plates)\s*(?:number|no\.?|#)?\s*(?:is|was|:|#|reads)?\s*(?P<id>[A-Z0-9]{1,4}[ -]?[A-Z0-9]{2,5})(?-u:\b)",
            |c| c.name("id").is_some_and(|m| m.as_str().bytes().any(|b| b.is_ascii_digit())),
            true,
        )?,
        rule(
            "identifier.device",
            K::Device,
            Medium,
            0.8,
            "a device serial number or identifier",
            &format!(
                r"(?i)(?-u:\b)(?:serial|s/n|device\s+(?:id|number)|udi|implant\s+(?:id|number|card)|pacemaker\s+(?:id|number|serial)|pump\s+(?:id|serial))\s*(?:number|no\.?|#)?{ID_TAIL}(?P<id>[A-Z0-9][A-Z0-9-]{{4,24}})(?-u:\b)"
            ),
            id_has_digits,
            true,
        )?,
        rule(
            "identifier.dob",
            K::Date,
            Medium,
            0.9,
            "a date of birth",
            &format!(
                r"(?i)(?-u:\b)(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|born\s+on|bday)\s*(?:is|was|=|:|-)?\s*(?P<id>{date})"
            ),
            date_stands,
            true,
        )?,
        rule(
            "identifier.age_over_89",
            K::Age,
            Medium,
            0.85,
            "an age over 89",
            r"(?i)(?-u:\b)(?P<age>9\d|1[01]\d)(?:[- ]?(?:years?|yrs?)[- ]?old|[- ]?y/?o(?-u:\b)|[- ]year[- ]old|(?:st|nd|rd|th)\s+birthday)",
            over_89,
            true,
        )?,
        rule(
            "identifier.age_over_89",
            K::Age,
            Medium,
            0.85,
            "an age over 89",
            r"(?i)(?-u:\b)(?:age|aged|turned|turning|turns|at)\s+(?P<age>9\d|1[01]\d)(?-u:\b)",
            over_89,
            true,
        )?,
        rule(
            "identifier.age_over_89",
            K::Age,
            Medium,
            0.75,
            "an age over 89",
            r"(?i)(?-u:\b)(?:is|was|am|she's|he's|she’s|he’s)\s+(?P<age>9\d|1[01]\d)(?-u:\b)(?:\s*(?P<unit>%|°|percent|degrees?|pounds?|lbs?|kg|miles?|minutes?|mins?|hours?|days?|weeks?|months?|dollars?|cents?|points?|feet|inches|mg|ml|bpm|beats|out|of|times|people|patients|beds|rooms|copies|cases|visits|calls|staff|nurses)(?-u:\b))?",
            over_89_said,
            true,
        )?,
        rule(
            "identifier.care_date",
            K::Date,
            Medium,
            0.7,
            "a date tied to someone's care (admission, discharge, birth, death, surgery, appointment)",
            &format!(
                r"(?i)(?-u:\b)(?:admitted|admission|discharged?|discharge|born|birth|died|passed(?:\s+away)?|death|surgery|operated|op|appointment|appt|delivered|diagnosed|diagnosis|transplant|biopsy|scan|mri|chemo|funeral|visit(?:ed)?|seen|er|stay)(?-u:\b)[^.!?\n]{{0,40}}?(?-u:\b)(?:on|since|from|until|of)?\s*(?P<id>{date})|(?P<pre>{date})(?-u:\b)[^.!?\n]{{0,30}}?(?-u:\b)(?:admitted|admission|discharged?|born|birth|died|passed\s+away|surgery|appointment|appt|delivered|diagnosed|transplant|biopsy)(?-u:\b)"
            ),
            date_stands,
            true,
        )?,
        rule(
            "identifier.phone",
            K::Phone,
            Low,
            0.8,
            "a telephone number that is not the organization's",
            r"(?i)(?:\+?1[\s.-]?)?(?:\(\s*(?P<a1>[2-9]\d{2})\s*\)|(?-u:\b)(?P<a2>[2-9]\d{2}))[\s.-]?(?P<b>[2-9]\d{2})[\s.-](?P<c>\d{4})(?-u:\b)(?:,?\s*(?:ext\.?|extension|x)\s*\d{1,6}(?-u:\b))?",
            any,
            true,
        )?,
        rule(
            "identifier.email",
            K::Email,
            Low,
            0.9,
            "an email address that is not the organization's",
            r"(?-u:\b)(?P<id>[A-Za-z0-9._%+-]+@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}))(?-u:\b)",
            any,
            false,
        )?,
        rule(
            "identifier.personal_url",
            K::Url,
            Medium,
            0.8,
            "a link to a person's page (a fundraiser, a profile)",
            r"(?i)(?-u:\b)(?P<id>(?:https?://)?(?:www\.)?(?P<host>gofundme\.com|gofund\.me|caringbridge\.org|mealtrain\.com|lotsahelpinghands\.com|givesendgo\.com|spot\.fund|venmo\.com|cash\.app|paypal\.me|facebook\.com|fb\.com|instagram\.com|x\.com|twitter\.com|tiktok\.com|linkedin\.com/in|youtube\.com/@|threads\.net|bsky\.app/profile|medium\.com/@|linktr\.ee|patreon\.com)/[^\s<>()]+)",
            any,
            false,
        )?,
        rule(
            "identifier.personal_blog",
            K::Url,
            Medium,
            0.7,
            "a link to a personal blog or site",
            r"(?i)(?-u:\b)(?P<id>(?:https?://)?[a-z0-9][a-z0-9-]*\.(?P<host>blogspot\.com|wordpress\.com|substack\.com|tumblr\.com|wixsite\.com|weebly\.com|squarespace\.com|carrd\.co|livejournal\.com)(?:/[^\s<>()]*)?)",
            any,
            false,
        )?,
        rule(
            "identifier.ip",
            K::Ip,
            Low,
            0.7,
            "an IP address",
            r"(?i)(?P<ver>(?-u:\b)(?:v|ver\.?|version|build|release|update|firmware|app)\s*)?(?-u:\b)(?P<id>(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})(?-u:\b)",
            not_a_version,
            true,
        )?,
        rule(
            "identifier.street_address",
            K::Location,
            Low,
            0.6,
            "a street address",
            r"(?-u:\b)(?P<id>\d{1,6}\s+(?:(?:[NSEW]\.?|North|South|East|West)\s+)?(?:(?:[A-Z][a-z]+|\d{1,3}(?:st|nd|rd|th))\.?\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy)(?-u:\b)\.?(?:,?\s*(?:Apt\.?|Apartment|Unit|Suite|Ste\.?|#)\s*[A-Za-z0-9-]+)?(?:,\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?(?:,\s+[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?)?)?)",
            any,
            true,
        )?,
    ])
}

impl Identifier {
    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    pub fn needs_digit(&self) -> bool {
        self.needs_digit
    }

    /// Every match in `text`.
    pub fn find<'r>(&'r self, text: &str, has_digit: bool, out: &mut Vec<Hit<'r>>) {
        if self.needs_digit && !has_digit {
            return;
        }
        for c in self.regex.captures_iter(text) {
            if !(self.check)(&c) {
                continue;
            }
            let Some(m) =
                c.name("id").or_else(|| c.name("pre")).or_else(|| c.name("age")).or_else(|| c.get(0))
            else {
                continue;
            };
            let (start, end) = match (c.name("age"), self.kind) {
                (Some(_), FindingKind::Age) => {
                    (c.get(0).map_or(m.start(), |w| w.start()), c.get(0).map_or(m.end(), |w| w.end()))
                }
                _ => (m.start(), m.end()),
            };
            let matched = match self.kind {
                FindingKind::Phone => {
                    let area = c.name("a1").or_else(|| c.name("a2")).map(|m| m.as_str()).unwrap_or("");
                    let b = c.name("b").map(|m| m.as_str()).unwrap_or("");
                    let d = c.name("c").map(|m| m.as_str()).unwrap_or("");
                    format!("{area}{b}{d}")
                }
                FindingKind::Email => {
                    c.name("domain").map(|m| m.as_str().to_ascii_lowercase()).unwrap_or_default()
                }
                _ => text[start..end].to_owned(),
            };
            let (start, end) = match self.kind {
                FindingKind::Phone => c.get(0).map_or((start, end), |w| (w.start(), w.end())),
                // A link runs to the next space, less the punctuation that ends the sentence.
                FindingKind::Url => {
                    let trimmed =
                        text[start..end].trim_end_matches(['.', ',', '!', '?', ';', ':', '\'', '"', '’']);
                    (start, start + trimmed.len())
                }
                _ => (start, end),
            };
            out.push(Hit { identifier: self, start, end, matched });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(&'static str, String)> {
        let rules = rules().unwrap();
        let mut hits = Vec::new();
        for r in &rules {
            r.find(text, text.bytes().any(|b| b.is_ascii_digit()), &mut hits);
        }
        hits.into_iter().map(|h| (h.identifier.rule, text[h.start..h.end].to_owned())).collect()
    }

    #[test]
    fn numbers_are_found_by_their_hotword_and_checked() {
        assert!(found("my SSN is 123-45-6789")
            .iter()
            .any(|(r, s)| *r == "identifier.ssn_hotword" && s == "123-45-6789"));
        assert!(found("000-12-3456 and 900-12-3456").is_empty(), "impossible SSNs are not SSNs");
        assert!(found("her MRN: 00482913").iter().any(|(r, s)| *r == "identifier.mrn" && s == "00482913"));
        assert!(found("member ID XJH448812907").iter().any(|(r, _)| *r == "identifier.health_plan"));
        assert!(found("VIN 1HGCM82633A004352").iter().any(|(r, _)| *r == "identifier.vin"));
        assert!(
            !found("VIN 1HGCM82633A004353").iter().any(|(r, _)| *r == "identifier.vin"),
            "a wrong check digit"
        );
        assert!(found("our 94-year-old patient").iter().any(|(r, _)| *r == "identifier.age_over_89"));
        assert!(found("our 84-year-old patient").is_empty());
        assert!(found("call (503) 555-8821 today")
            .iter()
            .any(|(r, s)| *r == "identifier.phone" && s == "(503) 555-8821"));
        assert!(found("DOB 04/12/1931").iter().any(|(r, _)| *r == "identifier.dob"));
        assert!(found("she was admitted on March 3rd")
            .iter()
            .any(|(r, s)| *r == "identifier.care_date" && s == "March 3rd"));
        assert!(found("gofundme.com/f/help-tasha-beat-cancer")
            .iter()
            .any(|(r, _)| *r == "identifier.personal_url"));
    }
}
