use std::path::Path;

use super::*;

fn screen() -> &'static Screen {
    static SCREEN: std::sync::OnceLock<Screen> = std::sync::OnceLock::new();
    SCREEN.get_or_init(|| Screen::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap())
}

fn found(text: &str, origin: Origin) -> Vec<(FindingKind, String)> {
    screen()
        .check(&Content { text, origin, media: false })
        .findings
        .into_iter()
        .map(|f| (f.kind, text[f.start..f.end].to_owned()))
        .collect()
}

#[test]
fn a_person_next_to_health_context_is_found_and_neither_alone_is() {
    let f = found("Huge thanks to our patient Maria in room 4 after her chemo!", Origin::Post);
    assert!(f.contains(&(FindingKind::Name, "Maria".into())), "{f:?}");
    assert!(f.contains(&(FindingKind::Room, "room 4".into())), "{f:?}");
    assert!(f.contains(&(FindingKind::Health, "chemo".into())), "{f:?}");
    assert!(found("Thanks, Tasha!", Origin::Post).is_empty());
    assert!(found("Flu season is here: get your shot.", Origin::Post).is_empty());
}

#[test]
fn replies_that_confirm_care_and_comments_that_disclose_it_are_found() {
    let f = found("So glad your stay with us went well, hope the surgery recovery is smooth", Origin::Reply);
    assert!(f.iter().any(|(k, _)| *k == FindingKind::PatientConfirm), "{f:?}");
    let f = found("I was in your ER last night with chest pain", Origin::Comment);
    assert!(f.iter().any(|(k, _)| *k == FindingKind::SelfDisclosure), "{f:?}");
    // The same words in the organization's own post speak to everyone.
    assert!(found("Is your son due for his flu shot?", Origin::Post).is_empty());
}

#[test]
fn the_organizations_own_names_and_numbers_are_not_findings_and_its_staff_terms_are() {
    assert!(
        found("Call Larkfield Health at (503) 555-0142 or info@larkfieldhealth.org", Origin::Post).is_empty()
    );
    let f = found("call me at (503) 555-8821", Origin::Comment);
    assert_eq!(f, vec![(FindingKind::Phone, "(503) 555-8821".into())]);
    let f = found("Shout-out to the Code Amber team and LCH-4471!", Origin::Post);
    assert_eq!(
        f,
        vec![(FindingKind::Lexicon, "Code Amber".into()), (FindingKind::Lexicon, "LCH-4471".into())]
    );
}

#[test]
fn media_is_always_a_finding_and_every_span_is_in_the_text() {
    let s = screen();
    let report = s.check(&Content { text: "Look at our new lobby!", origin: Origin::Post, media: true });
    assert_eq!(report.kinds(), ["media"]);
    assert_eq!(report.max_severity(), 2);
    let text = "Mr. P.’s MRN: 00482913, DOB 4/12/1931 — admitted 3/3 🙏";
    let report = s.check(&Content { text, origin: Origin::Comment, media: false });
    assert_eq!(report.max_severity(), 3);
    for f in &report.findings {
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end) && f.start <= f.end, "{f:?}");
    }
}

#[test]
fn a_bad_settings_file_is_refused_with_its_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(SETTINGS_FILE), "[lexicon]\npatterns = ['(unclosed']\n").unwrap();
    let e = Screen::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("(unclosed"), "{e}");
    std::fs::write(dir.path().join(SETTINGS_FILE), "[organisation]\n").unwrap();
    let e = Screen::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("screen.toml") && e.contains("organisation"), "{e}");
}

fn flags(text: &str, origin: Origin) -> bool {
    !found(text, origin).is_empty()
}

fn has(text: &str, origin: Origin, kind: FindingKind, span: &str) -> bool {
    found(text, origin).contains(&(kind, span.to_owned()))
}

#[test]
fn identifiers_cover_what_they_identify() {
    use FindingKind as K;
    let c = Origin::Comment;
    assert!(has("SSN ends 4471, DOB 4/12/1979, I was there for stitches", c, K::Ssn, "4471"));
    assert!(!flags("the line ends 4471 people later", c));
    assert!(has("my portal shows a different MRN (00219874) than the ER paperwork", c, K::Mrn, "00219874"));
    assert!(has("call 503.555.0187 ext. 4 about my mom", c, K::Phone, "503.555.0187 ext. 4"));
    assert!(has(
        "Follow Theo's NICU journey: theosbigfight.blogspot.com.",
        Origin::Post,
        K::Url,
        "theosbigfight.blogspot.com"
    ));
    assert!(has("donate at gofundme.com/f/help-tasha!", Origin::Post, K::Url, "gofundme.com/f/help-tasha"));
    assert!(!flags("Our app version 4.12.0.3 is live with dark mode", Origin::Post));
    assert!(has("the failed logins came from 198.51.100.47 today", c, K::Ip, "198.51.100.47"));
    assert!(!flags("We hope everyone has a safe holiday! Our ER is open 24/7.", Origin::Post));
    assert!(has("My great grandmother is 96 and just got a pacemaker", c, K::Age, "is 96"));
    assert!(!flags("The pool is 96 degrees today", Origin::Post));
    assert!(has(
        "Mail it to 221 Baker Street, Apt 3, Pine Hollow, OR 97993",
        c,
        K::Location,
        "221 Baker Street, Apt 3, Pine Hollow, OR 97993"
    ));
    // The organization's own address stays its own, with its town after it.
    assert!(!flags("Our main campus is at 400 Orchard Street, Larkfield, OR 97999.", Origin::Post));
    assert!(has("We rescheduled your MRI for Monday 9/16 at 8am", Origin::Reply, K::Date, "Monday 9/16"));
}
