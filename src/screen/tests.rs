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
fn relation_phrases_of_several_words_are_found() {
    use FindingKind::Relation;
    let p = Origin::Comment;
    assert!(has("my little brother had his tonsils out", p, Relation, "my little brother"));
    assert!(has("my best friend is in your ICU", p, Relation, "my best friend"));
    assert!(has("took my 4 year old to the ER for croup", p, Relation, "my 4 year old"));
    assert!(has("My great grandmother just got her pacemaker", p, Relation, "My great grandmother"));
    assert!(!flags("my little free library by the hospital entrance is full again", p));
    // A possessive noun before a relation: "the mayor's mom", "the twins' dad".
    assert!(has(
        "Sending love to the mayor's mom, recovering in our ICU",
        Origin::Post,
        Relation,
        "the mayor's mom"
    ));
    assert!(has("the twins' dad fainted and got a concussion", Origin::Post, Relation, "the twins' dad"));
    assert!(!flags("the hospital's family medicine clinic moved to the second floor", Origin::Post));
    // "our" is the writer's family in a comment, the organization in a post.
    assert!(has("Our daughter spent 3 weeks in your NICU", p, Relation, "Our daughter"));
    assert!(!flags("Our family of nurses is here for you in the NICU", Origin::Post));
    // A family word used as a name is the writer's own; after a determiner it is anyone's.
    assert!(has("Mom's surgery is tomorrow, please pray", p, Relation, "Mom's"));
    assert!(!flags("Every mom deserves good prenatal care", Origin::Post));
    // Spanish.
    assert!(has("Mi mamá tuvo su cirugía de rodilla en Larkfield", p, Relation, "Mi mamá"));
    assert!(!flags("Mi mamá dice gracias", p));
}

#[test]
fn advice_to_anyone_is_not_a_relative() {
    let c = Origin::Comment;
    assert!(!flags("The new RSV shot is a game changer, tell your parents about it.", c));
    assert!(!flags("Talk to your kids about vaping and addiction.", c));
    assert!(has(
        "Hope your parents are over the RSV now",
        Origin::Reply,
        FindingKind::Relation,
        "your parents"
    ));
}

#[test]
fn a_person_described_not_named_is_found() {
    use FindingKind::Relation;
    let p = Origin::Post;
    assert!(has("This little guy beat RSV and went home today!", p, Relation, "This little guy"));
    assert!(has(
        "Our favorite retired firefighter is back with us for another round of chemo.",
        p,
        Relation,
        "Our favorite retired firefighter"
    ));
    assert!(has(
        "One of our NICU babies went home today after surgery",
        p,
        Relation,
        "One of our NICU babies"
    ));
    assert!(has("The 10-year-old who had open heart surgery is back", p, Relation, "The 10-year-old"));
    assert!(!flags("This Mother's Day, thank a labor and delivery nurse.", p));
    assert!(!flags("Our youngest patients love the new NICU playroom mural.", p));
}

#[test]
fn titles_handles_and_initials_point_at_people() {
    use FindingKind::Name;
    let p = Origin::Post;
    // A community title is a person; the same word in a staff role is not.
    assert!(has("Wishing Coach Ramirez a smooth recovery from his heart surgery!", p, Name, "Coach Ramirez"));
    assert!(!flags("Our health coach Ramirez explains how to manage diabetes.", p));
    assert!(!flags("Our very own Marisa Tran won the chili cook-off with her Hemoglobin Heat recipe.", p));
    // Handles, but not the organization's own.
    assert!(has(
        "@stacey.lynn it was a joy to be part of your delivery!",
        Origin::Reply,
        Name,
        "@stacey.lynn"
    ));
    assert!(!flags("Thanks @larkfieldhealth_er for the flu shot clinic tips", p));
    // Initials.
    assert!(has("T.J. in the wheelchair before his discharge from rehab.", p, Name, "T.J."));
    assert!(!flags("U.S. flu season peaks in February.", p));
    // A name the dictionary lacks after one it has.
    assert!(has("Bjorn Lindqvist's triple bypass went well.", p, Name, "Bjorn Lindqvist's"));
}

#[test]
fn places_rooms_and_calendar_words_are_not_patients() {
    let p = Origin::Post;
    assert!(!flags("Free skin cancer screenings in Community Room 4 at our Orchard Street campus.", p));
    assert!(!flags("Blood drive in Conference Room 210 for cancer patients.", p));
    assert!(has("The kiddo in room 312 is getting IV antibiotics", p, FindingKind::Room, "room 312"));
    assert!(has("Reminder: pt in 14B needs a fall risk bracelet", p, FindingKind::Room, "pt in 14B"));
    assert!(!flags("Our childbirth classes meet Tuesdays at 6:30pm.", p));
    assert!(!found("Yusuf was admitted with sepsis and today, Jan 19, he went home.", p)
        .contains(&(FindingKind::Name, "Jan".into())));
}

#[test]
fn a_reply_that_addresses_someone_by_name_is_not_about_their_care_by_that_alone() {
    let r = Origin::Reply;
    assert!(!flags(
        "Hi Yolanda, wait times in our ER depend on how many critically ill patients arrive at once.",
        r
    ));
    assert!(!flags("Hi Terrence, we can't discuss anyone's visit publicly. Please DM us.", r));
    let f = found("Hi Greg, sorry the MRI machine was down when you came in.", r);
    assert!(f.contains(&(FindingKind::Name, "Greg".into())), "{f:?}");
    // Reading the reader's own care into the sentence: "the surgery", to a name.
    assert!(flags("We hope the surgery went well, Karen.", r));
    // Hypothetical: "if you're worried".
    assert!(!flags(
        "we can't give medical advice here but if you're worried about those symptoms please call your doctor",
        r
    ));
    // A strong cue takes health context from the next sentence.
    assert!(flags(
        "Rachel, we're glad your brother is doing better. Visiting hours in the ICU are 9 to 9.",
        r
    ));
}

#[test]
fn health_words_that_name_something_else_are_not_health_context() {
    let c = Origin::Comment;
    assert!(!flags("my wife and I took your CPR class last month", c));
    assert!(flags("my wife needed CPR after she collapsed", c));
    assert!(!flags("I drove past the new Birth Center construction today", c));
    assert!(!flags("Thank you to the Rotary Club for donating 200 teddy bears to our NICU.", Origin::Post));
    assert!(!flags(
        "Thanks to local artist Yasmin Khoury for the mural in the Cancer Center lobby.",
        Origin::Post
    ));
    // "our" and, in a post or comment, "your" are the organization's: "our pet therapy team".
    assert!(!flags("Meet Sunny! She's the newest member of our pet therapy team.", Origin::Post));
    assert!(!flags("May is my favorite month for the garden at your clinic", c));
    assert!(flags("just home from my 3 day stay on the cardiac floor", c));
    // A longer dictionary entry that runs into a word does not hide a shorter one.
    assert!(flags("Congratulations to Maya Chen on her final round of chemotherapy!", Origin::Post));
}

#[test]
fn comments_that_disclose_care_without_saying_i_are_found_and_work_is_not_care() {
    let c = Origin::Comment;
    assert!(flags("Just got out of surgery, the anesthesiologist was so kind", c));
    assert!(!flags("Had no idea the ER was this busy on weekends", c));
    assert!(flags("i was a patient on the 4th floor for 2 weeks", c));
    assert!(!flags("I was patient in the long line at the cafeteria", c));
    assert!(!flags("I work night shift in the ER and this is so true", c));
    assert!(flags("I was in the ER all night with chest pain", c));
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

#[test]
fn a_held_text_lists_every_date_age_place_and_name_in_it_and_a_clean_one_lists_none() {
    use FindingKind as K;
    let p = Origin::Post;
    let f = found("Keanu, 16, had his appendix out Sunday night and went home from Elm Hollow.", p);
    for (kind, span) in
        [(K::Name, "Keanu"), (K::Age, "16"), (K::Date, "Sunday night"), (K::Location, "Elm Hollow")]
    {
        assert!(f.contains(&(kind, span.into())), "{kind:?} {span}: {f:?}");
    }
    let f =
        found("After her hip replacement in January, 82-year-old Ingrid walked the trail with Dr. Chen.", p);
    for (kind, span) in [(K::Date, "January"), (K::Age, "82-year-old"), (K::Name, "Chen")] {
        assert!(f.contains(&(kind, span.into())), "{kind:?} {span}: {f:?}");
    }
    let held = s_check("Siobhan was 44 when she had her heart attack. 10/10 would recommend.", p);
    assert!(held.findings.iter().all(|f| f.rule != "context.date"), "a rating is not a date: {held:?}");
    assert!(held
        .findings
        .iter()
        .filter(|f| f.rule.starts_with("context."))
        .all(|f| f.severity == Severity::Low));
    // Not held: nothing listed.
    assert!(found("Thanks, Tasha! See you Sunday at the 5K in Elm Hollow.", p).is_empty());
    assert!(found("Our 5K is on Saturday, May 18 at Riverside Park.", p).is_empty());
}

fn s_check(text: &str, origin: Origin) -> Report {
    screen().check(&Content { text, origin, media: false })
}

#[test]
fn one_patient_or_two_ambiguous_words_about_one_person_are_enough() {
    let p = Origin::Post;
    assert!(has(
        "Our patient from Cedar Ridge drove 2 hours each way for radiation.",
        p,
        FindingKind::Relation,
        "Our patient"
    ));
    assert!(!flags("Our patient portal now shows radiation schedules.", p));
    let f = found("Huge thanks to our patient Maria Alvarez after her chemo today!", p);
    assert!(f.contains(&(FindingKind::Name, "Maria Alvarez".into())), "{f:?}");
    assert!(!f.iter().any(|(k, _)| *k == FindingKind::Relation), "one person, found once: {f:?}");
    assert!(!flags("Our patients drive hours for radiation, so we built a new center.", p));
    let c = Origin::Comment;
    assert!(flags("My mother-in-law is on the 5th floor recovering from a stroke.", c));
    assert!(!flags("The 5th floor is recovering from the flood, visit the other wing.", c));
    assert!(flags("My BFF just had her baby at Larkfield!", c));
}

#[test]
fn words_about_the_reader_or_the_building_are_not_care() {
    let r = Origin::Reply;
    assert!(!flags("Great to hear, Ashley! We'll share your kind words with the Birth Center team.", r));
    assert!(flags("Great to hear, Ashley! Your stay in the Birth Center went well, we hope.", r));
    assert!(!flags("I think the new cancer center looks amazing", Origin::Comment));
    assert!(flags("I think the cancer center saved my life", Origin::Comment));
    assert!(!flags("Our diabetes support group meets the first Monday of every month.", Origin::Post));
    assert!(!flags("Gus the therapy dog visits our pediatric unit every Friday.", Origin::Post));
    assert!(flags("Gus had his therapy in our pediatric unit on Friday.", Origin::Post));
}

#[test]
fn a_pronoun_an_address_or_a_left_out_i_can_point_at_one_person() {
    use FindingKind::{Relation, SelfDisclosure};
    let p = Origin::Post;
    // Someone's own care told with a pronoun, unnamed.
    assert!(has("He's starting rehab after his amputation this week.", p, Relation, "his"));
    assert!(has("He's 9, and he has sickle cell disease.", p, Relation, "he"));
    // ...but not a second finding for someone named already, nor a title.
    let f = found("Thanks to our patient Maria Alvarez after her chemo today!", p);
    assert!(!f.iter().any(|(k, _)| *k == Relation), "{f:?}");
    assert!(!flags("Our cafeteria chef won the cook-off with her Hemoglobin Heat chili.", p));
    assert!(!flags("Flu shots protect everyone: get yours this week.", p));
    // A post that speaks to one person by what they did.
    assert!(has(
        "To the bride who came through our ER with a sprained ankle: congratulations!",
        p,
        Relation,
        "the bride"
    ));
    assert!(!flags("To the volunteers who staff our front desk: thank you!", p));
    // A comment that leaves out "I" before "was".
    let c = Origin::Comment;
    assert!(has(
        "Was admitted for cellulitis over Thanksgiving. The nurses were great.",
        c,
        SelfDisclosure,
        "Was"
    ));
    assert!(!flags("Was wondering if the cafeteria is open on Sundays?", c));
}

#[test]
fn how_to_reach_care_is_not_a_reply_confirming_it() {
    let r = Origin::Reply;
    assert!(!flags("Yes, you can reach the Birth Center nurse line any time.", r));
    assert!(flags("So glad you could finally get your knee replacement done with us!", r));
}

#[test]
fn the_organizations_address_is_its_own_written_short_or_in_full() {
    let p = Origin::Post;
    // policies/screen.toml: "400 Orchard Street", "12 Mill Road".
    for text in
        ["Our lab is at 400 Orchard St, second entrance.", "Find us at 12 Mill Rd. No appointment needed."]
    {
        assert!(!flags(text, p), "{text}");
    }
    assert!(flags("Patient drop-off moved to 88 Birch Rd for the week, she had her MRI there.", p));
    assert_eq!(
        address_forms("12 Mill Road, Larkfield"),
        ["12 Mill Road, Larkfield", "12 Mill Rd, Larkfield"]
    );
}
