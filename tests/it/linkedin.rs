//! The LinkedIn adapter against the fake LinkedIn REST API
//! (tests/it/support/fakes/linkedin.rs): every operation, every error
//! class, the daily limit honoured until midnight UTC, only the given token
//! and the version headers sent, and nothing sent for a call refused here.

use std::sync::Arc;
use std::time::Duration;

use custodian::clock::{Clock, ManualClock, SharedClock, SystemClock};
use custodian::platforms::linkedin::LinkedIn;
use custodian::platforms::{Call, Image, NewPost, Operation, Platform, PlatformError};
use custodian::secret::Secret;
use serde_json::{json, Value};

use crate::support::fakes::linkedin::{LinkedInFake, ORGANIZATION};

const TOKEN: &str = "li-oauth2-access-token-s3cr3t";
const VERSION: &str = "202601";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn adapter(fake: &LinkedInFake, author: &str, version: &str, clock: SharedClock) -> LinkedIn {
    LinkedIn::new(fake.base.parse().unwrap(), author.into(), version.into(), clock).unwrap()
}

async fn setup() -> (LinkedInFake, LinkedIn, Secret) {
    let fake = LinkedInFake::start(TOKEN).await;
    let li = adapter(&fake, ORGANIZATION, VERSION, Arc::new(SystemClock));
    (fake, li, Secret::new(TOKEN.into()))
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

fn encoded(urn: &str) -> String {
    url::form_urlencoded::byte_serialize(urn.as_bytes()).collect()
}

#[tokio::test]
async fn every_operation_reaches_the_documented_endpoint_with_only_the_given_token() {
    let (fake, li, token) = setup().await;
    let call = Call { account_id: "acct_li", token: &token };
    let with_link = NewPost {
        link: Some("https://clinic.example/flu".parse().unwrap()),
        ..post("Flu clinic open (9-5) #health")
    };
    let first = li.publish(&call, &with_link).await.unwrap();
    assert!(first.id.starts_with("urn:li:share:"), "{first:?}");
    assert_eq!(
        first.url.as_deref(),
        Some(format!("https://www.linkedin.com/feed/update/{}/", first.id).as_str())
    );
    assert_eq!(
        fake.commentary(&first.id).as_deref(),
        Some("Flu clinic open \\(9-5\\) #health\n\nhttps://clinic.example/flu")
    );
    let own = li.reply(&call, &first.id, &post("Walk-ins welcome")).await.unwrap();
    assert!(own.id.starts_with("urn:li:comment:(urn:li:activity:"), "{own:?}");
    let theirs = fake.comment_from("urn:li:person:Ab12Cd34", &first.id, "When do you open?");
    let comments = li.comments(&call, &first.id).await.unwrap();
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["Walk-ins welcome", "When do you open?"]);
    assert!(comments.iter().any(|c| c.id == theirs && c.author == "urn:li:person:Ab12Cd34"));
    assert!(comments.iter().all(|c| c.created_at.is_some()));
    let answer = li.reply(&call, &theirs, &post("At nine")).await.unwrap();
    li.delete_comment(&call, &theirs).await.unwrap();
    li.delete(&call, &first.id).await.unwrap();
    li.delete(&call, &first.id).await.unwrap(); // idempotent

    let (thread, their_id) =
        theirs.trim_start_matches("urn:li:comment:(").trim_end_matches(')').split_once(',').unwrap();
    let requests = fake.requests();
    let lines: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    let post_path = format!("/rest/posts/{}", encoded(&first.id));
    assert_eq!(
        lines,
        [
            "POST /rest/posts".to_owned(),
            format!("POST /rest/socialActions/{}/comments", encoded(&first.id)),
            format!("GET /rest/socialActions/{}/comments", encoded(&first.id)),
            format!("POST /rest/socialActions/{}/comments", encoded(&theirs)),
            format!(
                "DELETE /rest/socialActions/{}/comments/{their_id}?actor={}",
                encoded(thread),
                encoded(ORGANIZATION)
            ),
            format!("DELETE {post_path}"),
            format!("DELETE {post_path}"),
        ]
    );
    assert!(post_path.starts_with("/rest/posts/urn%3Ali%3Ashare%3A"), "{post_path}");
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(r.header("linkedin-version"), Some(VERSION));
        assert_eq!(r.header("x-restli-protocol-version"), Some("2.0.0"));
        assert!(r.header("cookie").is_none());
    }
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "author": ORGANIZATION,
            "commentary": "Flu clinic open \\(9-5\\) #health\n\nhttps://clinic.example/flu",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false
        })
    );
    let body: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        body,
        json!({"actor": ORGANIZATION, "object": first.id, "message": {"text": "Walk-ins welcome"}})
    );
    let body: Value = serde_json::from_slice(&requests[3].body).unwrap();
    assert_eq!(body["parentComment"], theirs.as_str());
    assert_eq!(body["object"], thread);
    assert!(answer.id.starts_with(&format!("urn:li:comment:({thread},")), "{answer:?}");
}

#[tokio::test]
async fn each_error_class_is_mapped_with_the_platforms_message() {
    let (fake, li, token) = setup().await;
    let call = Call { account_id: "acct_li", token: &token };
    let first = li.publish(&call, &post("Same words twice")).await.unwrap();
    let e = li.publish(&call, &post("Same words twice")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Duplicate { ref message } if message.contains(&format!("Content is a duplicate of {}", first.id))),
        "{e:?}"
    );
    fake.reject_next_body("Commentary contains prohibited content");
    let e = li.publish(&call, &post("refused")).await.unwrap_err();
    assert_eq!(e, PlatformError::Validation { message: "Commentary contains prohibited content".into() });
    let e = li.delete(&call, "urn:li:share:1234567890").await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { ref message } if message == "Not Found"), "{e:?}");
    let stranger = adapter(&fake, "urn:li:organization:999", VERSION, Arc::new(SystemClock));
    let e = stranger.publish(&call, &post("not ours")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Permission { ref message } if message.contains("Not enough permissions")),
        "{e:?}"
    );
    let sunset = adapter(&fake, ORGANIZATION, "202001", Arc::new(SystemClock));
    let e = sunset.publish(&call, &post("old version")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Down { status: Some(426), ref message } if message == "Requested version 202001 is not active"),
        "{e:?}"
    );
    fake.fail_next(503);
    let e = li.publish(&call, &post("down")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(503), .. }), "{e:?}");
    fake.expire_token();
    let e = li.publish(&call, &post("expired")).await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { ref message } if message.contains("expired")), "{e:?}");
    assert!(!e.to_string().contains(TOKEN) && !format!("{e:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_429_blocks_the_account_until_midnight_utc_and_nothing_is_sent() {
    let fake = LinkedInFake::start(TOKEN).await;
    let clock = ManualClock::starting_now();
    let li = adapter(&fake, ORGANIZATION, VERSION, Arc::new(clock.clone()));
    let token = Secret::new(TOKEN.into());
    let call = Call { account_id: "acct_li", token: &token };
    fake.rate_limit_next();
    let now = clock.now().millis();
    let e = li.publish(&call, &post("one")).await.unwrap_err();
    let PlatformError::RateLimited { reset_at: Some(reset), ref message } = e else { panic!("{e:?}") };
    assert!(message.contains("DAY limit"), "{message}");
    assert_eq!(reset.millis(), (now.div_euclid(DAY_MS) + 1) * DAY_MS, "the next midnight UTC");
    let sent = fake.requests().len();
    let e = li.publish(&call, &post("two")).await.unwrap_err();
    assert!(matches!(e, PlatformError::RateLimited { reset_at: Some(r), .. } if r == reset), "{e:?}");
    assert!(matches!(li.comments(&call, "urn:li:share:1").await, Err(PlatformError::RateLimited { .. })));
    assert_eq!(fake.requests().len(), sent, "backed off: nothing sent until midnight UTC");
    // Another account's budget is its own.
    let other = Call { account_id: "acct_other", token: &token };
    li.publish(&other, &post("other account")).await.unwrap();
    // After midnight UTC the account may call again.
    let until_midnight = u64::try_from(reset.millis() - clock.now().millis()).unwrap();
    clock.advance(Duration::from_millis(until_midnight + 1));
    li.publish(&call, &post("two")).await.unwrap();
}

#[tokio::test]
async fn refused_here_means_nothing_sent() {
    let (fake, li, token) = setup().await;
    let call = Call { account_id: "acct_li", token: &token };
    assert!(!li.supports(Operation::HideComment) && li.supports(Operation::DeleteComment));
    let e = li.hide_comment(&call, "urn:li:comment:(urn:li:activity:1,2)").await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { platform: "LinkedIn", .. }), "{e:?}");
    let image = Image { bytes: vec![1], media_type: "image/png".into(), description: None };
    let e = li.publish(&call, &NewPost { image: Some(image.clone()), ..post("x") }).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Unsupported { operation, .. } if operation.contains("Images API")),
        "{e:?}"
    );
    let e =
        li.reply(&call, "urn:li:share:1", &NewPost { image: Some(image), ..post("x") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { .. }), "{e:?}");
    let e = li.publish(&call, &post(&"x".repeat(3001))).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let e = li.publish(&call, &post("  ")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    for id in [
        "",
        "123",
        "../posts",
        "urn:li:share:",
        "urn:li:share:1/x",
        "urn:li:share:1?x=1",
        "urn:li:share:%31",
        "urn:li:share:1#x",
        "urn:li:person:1",
        "urn:li:share:1 ",
        "urn:li:comment:(urn:li:activity:1)",
        "urn:li:comment:(urn:li:activity:1,2)/x",
    ] {
        assert!(matches!(li.delete(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(li.comments(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(li.reply(&call, id, &post("hi")).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(li.delete_comment(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
    }
    assert!(fake.requests().is_empty());
    for (author, version) in [
        ("urn:li:organization:abc", VERSION),
        ("org", VERSION),
        (ORGANIZATION, "2026-01"),
        (ORGANIZATION, "202613"),
    ] {
        let made =
            LinkedIn::new(fake.base.parse().unwrap(), author.into(), version.into(), Arc::new(SystemClock));
        assert!(matches!(made, Err(PlatformError::BadRequest(_))), "{author} {version}");
    }
}
