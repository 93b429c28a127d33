//! The LinkedIn adapter against the fake LinkedIn REST API
//! (tests/it/support/fakes/linkedin.rs): every operation, every error
//! class, the daily limit honoured until midnight UTC, only the given token
//! and the version headers sent, and nothing sent for a call refused here.

use std::sync::Arc;
use std::time::Duration;

use custodian::clock::{Clock, ManualClock, SharedClock, SystemClock};
use custodian::domain::{Image, NewPost};
use custodian::platforms::linkedin::LinkedIn;
use custodian::platforms::{Call, Operation, PlatformApi, PlatformError};
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

/// The adapter, allowed to upload to the fake's upload host.
fn uploading(fake: &LinkedInFake) -> LinkedIn {
    adapter(fake, ORGANIZATION, VERSION, Arc::new(SystemClock))
        .with_upload_origin(&fake.upload_origin.parse().unwrap())
        .unwrap()
}

/// The start of a PNG file of `width` × `height` (signature, IHDR), then some data.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
    bytes.extend((0..512u32).map(|i| (i % 253) as u8));
    bytes
}

fn image(bytes: Vec<u8>, media_type: &str, description: Option<&str>) -> Image {
    Image { bytes, media_type: media_type.into(), description: description.map(str::to_owned) }
}

fn lines(fake: &LinkedInFake) -> Vec<String> {
    fake.requests().iter().map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap())).collect()
}

#[tokio::test]
async fn every_operation_reaches_the_documented_endpoint_with_only_the_given_token() {
    let (fake, li, token) = setup().await;
    let call = Call { account_id: &"acct_li".into(), token: &token };
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
    let call = Call { account_id: &"acct_li".into(), token: &token };
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
    let call = Call { account_id: &"acct_li".into(), token: &token };
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
    let other = Call { account_id: &"acct_other".into(), token: &token };
    li.publish(&other, &post("other account")).await.unwrap();
    // After midnight UTC the account may call again.
    let until_midnight = u64::try_from(reset.millis() - clock.now().millis()).unwrap();
    clock.advance(Duration::from_millis(until_midnight + 1));
    li.publish(&call, &post("two")).await.unwrap();
}

#[tokio::test]
async fn refused_here_means_nothing_sent() {
    let (fake, li, token) = setup().await;
    let call = Call { account_id: &"acct_li".into(), token: &token };
    assert!(!li.supports(Operation::HideComment) && li.supports(Operation::DeleteComment));
    let e = li.hide_comment(&call, "urn:li:comment:(urn:li:activity:1,2)").await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { platform: "LinkedIn", .. }), "{e:?}");
    let image = Image { bytes: vec![1], media_type: "image/png".into(), description: None };
    let e = li.publish(&call, &NewPost { image: Some(image.clone()), ..post("x") }).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Validation { ref message } if message.contains("not a readable")),
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

#[tokio::test]
async fn an_image_is_initialized_uploaded_to_the_upload_host_and_named_by_the_post() {
    let fake = LinkedInFake::start(TOKEN).await;
    let li = uploading(&fake);
    let token = Secret::new(TOKEN.into());
    let call = Call { account_id: &"acct_li".into(), token: &token };
    let poster = image(png(1200, 627), "image/png", Some("Poster: flu clinic, 9 to 5"));
    let published =
        li.publish(&call, &NewPost { image: Some(poster.clone()), ..post("Flu clinic open") }).await.unwrap();

    let stored = fake.image_of(&published.id).expect("the post shows the image");
    assert_eq!(stored.status, "AVAILABLE");
    assert_eq!(stored.bytes, poster.bytes);
    assert_eq!(stored.alt_text.as_deref(), Some("Poster: flu clinic, 9 to 5"));
    assert_eq!(stored.owner, ORGANIZATION);
    let requests = fake.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(lines(&fake)[0], "POST /rest/images");
    assert_eq!(paths[0], "/rest/images?action=initializeUpload");
    assert!(paths[1].starts_with("/dms-uploads/") && paths[1].contains("ut="), "{paths:?}");
    assert_eq!(requests[1].method, "PUT");
    assert_eq!(lines(&fake)[2], "POST /rest/posts");
    assert_eq!(requests.len(), 3);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body, json!({"initializeUploadRequest": {"owner": ORGANIZATION}}));
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    }
    // The upload went to the upload host, with the bytes as they are and no Rest.li headers.
    let upload_host = fake.upload_origin.trim_start_matches("http://");
    assert_eq!(requests[1].header("host"), Some(upload_host));
    assert_ne!(requests[0].header("host"), Some(upload_host));
    assert_eq!(requests[1].body, poster.bytes);
    assert!(requests[1].header("linkedin-version").is_none());
    for r in [&requests[0], &requests[2]] {
        assert_eq!(r.header("linkedin-version"), Some(VERSION));
        assert_eq!(r.header("x-restli-protocol-version"), Some("2.0.0"));
    }
    let body: Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(
        body["content"],
        json!({"media": {"id": stored.urn, "altText": "Poster: flu clinic, 9 to 5"}})
    );
    assert_eq!(body["commentary"], "Flu clinic open");
    assert_eq!(body["author"], ORGANIZATION);

    // A JPEG and a GIF, without alt text: no altText field.
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0x02, 0x58, 0x03, 0x20, 3, 0, 0, 0, 0xFF,
        0xD9,
    ];
    let gif = [b"GIF89a".as_slice(), &[0x40, 0x01, 0xF0, 0x00], &[0; 32]].concat();
    for (bytes, media_type) in [(jpeg.to_vec(), "image/jpeg"), (gif, "image/gif")] {
        let text = format!("A {media_type} post");
        let made = li
            .publish(&call, &NewPost { image: Some(image(bytes, media_type, None)), ..post(&text) })
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&fake.requests().last().unwrap().body).unwrap();
        assert_eq!(body["content"]["media"].as_object().unwrap().len(), 1, "{body}");
        assert_eq!(fake.image_of(&made.id).unwrap().status, "AVAILABLE");
    }
}

#[tokio::test]
async fn images_linkedin_would_refuse_are_refused_here_and_nothing_is_sent() {
    let fake = LinkedInFake::start(TOKEN).await;
    let li = uploading(&fake);
    let token = Secret::new(TOKEN.into());
    let call = Call { account_id: &"acct_li".into(), token: &token };
    for (refused, why) in [
        (image(png(8000, 4520), "image/png", None), "fewer than 36152320 pixels"),
        (image(b"RIFF\0\0\0\0WEBPVP8 ".to_vec(), "image/webp", None), "JPEG, PNG or GIF"),
        (image(png(10, 10), "image/jpeg", None), "not a readable image/jpeg"),
        (image(b"GIF8".to_vec(), "image/gif", None), "not a readable image/gif"),
        (image(png(10, 10), "image/png", Some(&"a".repeat(4087))), "4086 characters"),
    ] {
        let e = li.publish(&call, &NewPost { image: Some(refused), ..post("refused") }).await.unwrap_err();
        assert!(
            matches!(e, PlatformError::Validation { ref message } if message.contains(why)),
            "{why}: {e:?}"
        );
    }
    let fine = image(png(10, 10), "image/png", None);
    let e = li.publish(&call, &NewPost { image: Some(fine.clone()), ..post(" ") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let e = li.reply(&call, "urn:li:share:1", &NewPost { image: Some(fine), ..post("x") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { .. }), "{e:?}");
    assert!(fake.requests().is_empty() && fake.images().is_empty());
}

#[tokio::test]
async fn a_refused_or_failed_upload_creates_no_post() {
    let fake = LinkedInFake::start(TOKEN).await;
    let li = uploading(&fake);
    let token = Secret::new(TOKEN.into());
    let call = Call { account_id: &"acct_li".into(), token: &token };
    let poster = || NewPost { image: Some(image(png(800, 600), "image/png", Some("alt"))), ..post("Poster") };
    fake.reject_next_upload("The uploaded file is not a valid image");
    let e = li.publish(&call, &poster()).await.unwrap_err();
    assert_eq!(e, PlatformError::Validation { message: "The uploaded file is not a valid image".into() });
    let sent = lines(&fake);
    assert_eq!((sent.len(), sent[0].as_str()), (2, "POST /rest/images"));
    assert!(sent[1].starts_with("PUT /dms-uploads/"), "{sent:?}");
    fake.fail_next_upload(503);
    let e = li.publish(&call, &poster()).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(503), .. }), "{e:?}");
    let sent = lines(&fake);
    assert_eq!(sent.len(), 4);
    assert!(sent[3].starts_with("PUT /dms-uploads/"), "{sent:?}");
    assert!(sent.iter().all(|l| l != "POST /rest/posts"), "no post was created: {sent:?}");
    // The owner may not post as the organization: refused at initializeUpload, nothing uploaded.
    let stranger = adapter(&fake, "urn:li:organization:999", VERSION, Arc::new(SystemClock))
        .with_upload_origin(&fake.upload_origin.parse().unwrap())
        .unwrap();
    let e = stranger.publish(&call, &poster()).await.unwrap_err();
    assert!(matches!(e, PlatformError::Permission { .. }), "{e:?}");
    assert_eq!(lines(&fake).len(), 5);
    assert!(fake.images().iter().all(|i| i.status == "WAITING_UPLOAD"));
}

#[tokio::test]
async fn an_upload_url_on_another_origin_is_refused_and_gets_no_token() {
    let fake = LinkedInFake::start(TOKEN).await;
    let foreign = LinkedInFake::start(TOKEN).await;
    let token = Secret::new(TOKEN.into());
    let call = Call { account_id: &"acct_li".into(), token: &token };
    let poster = || NewPost { image: Some(image(png(800, 600), "image/png", None)), ..post("Poster") };

    // LinkedIn's answer points the upload at another host: refused, nothing sent there, no post.
    fake.upload_urls_on(&foreign.upload_origin);
    let e = uploading(&fake).publish(&call, &poster()).await.unwrap_err();
    let PlatformError::Down { status: None, ref message } = e else { panic!("{e:?}") };
    assert!(
        message.contains(&foreign.upload_origin) && message.contains("nothing was uploaded"),
        "{message}"
    );
    assert!(!message.contains("ut="), "the upload URL's credential stays out of the error: {message}");
    assert!(foreign.requests().is_empty(), "the foreign host received nothing");
    assert_eq!(lines(&fake), ["POST /rest/images"]);

    // Without a configured upload origin, a base other than api.linkedin.com allows none.
    fake.upload_urls_on(&fake.upload_origin);
    let default = adapter(&fake, ORGANIZATION, VERSION, Arc::new(SystemClock));
    let e = default.publish(&call, &poster()).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Down { status: None, ref message } if message.contains("no upload origin")),
        "{e:?}"
    );
    assert_eq!(lines(&fake), ["POST /rest/images", "POST /rest/images"]);

    // The API's own origin is not the upload origin either.
    let api_origin = fake.base.trim_end_matches("/rest").to_owned();
    fake.upload_urls_on(&api_origin);
    let e = uploading(&fake).publish(&call, &poster()).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: None, .. }), "{e:?}");
    assert_eq!(lines(&fake).len(), 3);
    assert!(fake.images().iter().all(|i| i.bytes.is_empty()) && foreign.requests().is_empty());
}
