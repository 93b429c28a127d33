//! The X adapter against the fake X API v2 (tests/it/support/fakes/x.rs):
//! every operation, every error class, rate limits honoured, only the
//! given token sent, and nothing sent for a call refused here.

use std::sync::Arc;
use std::time::Duration;

use custodian::clock::SystemClock;
use custodian::domain::{Image, NewPost};
use custodian::platforms::x::X;
use custodian::platforms::{Call, Operation, PlatformApi, PlatformError};
use custodian::secret::Secret;

use crate::support::fakes::x::{XFake, UNRECOGNIZED_MEDIA};

const TOKEN: &str = "x-oauth2-user-token-s3cr3t";

async fn setup() -> (XFake, X, Secret) {
    let fake = XFake::start(TOKEN).await;
    let adapter = X::new(fake.base.parse().unwrap(), Arc::new(SystemClock)).unwrap();
    (fake, adapter, Secret::new(TOKEN.into()))
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

/// `len` bytes that begin as a PNG file.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..len.saturating_sub(8)).map(|i| (i % 251) as u8));
    bytes
}

fn image(bytes: Vec<u8>, media_type: &str, description: Option<&str>) -> Image {
    Image { bytes, media_type: media_type.into(), description: description.map(str::to_owned) }
}

fn lines(fake: &XFake) -> Vec<String> {
    fake.requests().iter().map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap())).collect()
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn every_operation_reaches_the_documented_endpoint_with_only_the_given_token() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: &"acct_x".into(), token: &token };
    let with_link =
        NewPost { link: Some("https://clinic.example/flu".parse().unwrap()), ..post("Flu clinic open") };
    let first = x.publish(&call, &with_link).await.unwrap();
    assert_eq!(first.url.as_deref(), Some(format!("https://x.com/i/web/status/{}", first.id).as_str()));
    let own_reply = x.reply(&call, &first.id, &post("Walk-ins welcome")).await.unwrap();
    let theirs = fake.reply_from("2244994945", &first.id, "When do you open?");
    let comments = x.comments(&call, &first.id).await.unwrap();
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    assert!(texts.contains(&"When do you open?") && texts.contains(&"Walk-ins welcome"), "{texts:?}");
    assert!(comments.iter().any(|c| c.author == "2244994945" && c.created_at.is_some()));
    x.hide_comment(&call, &theirs).await.unwrap();
    x.delete(&call, &own_reply.id).await.unwrap();

    let requests = fake.requests();
    let lines: Vec<String> =
        requests.iter().map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap())).collect();
    assert_eq!(
        lines,
        [
            "POST /2/tweets".to_owned(),
            "POST /2/tweets".to_owned(),
            "GET /2/tweets/search/recent".to_owned(),
            format!("PUT /2/tweets/{theirs}/hidden"),
            format!("DELETE /2/tweets/{}", own_reply.id),
        ]
    );
    assert!(requests[2].path.contains(&format!("query=conversation_id%3A{}", first.id)));
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert!(r.header("cookie").is_none());
    }
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body, serde_json::json!({"text": "Flu clinic open\n\nhttps://clinic.example/flu"}));
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(body["reply"]["in_reply_to_tweet_id"], first.id.as_str());
}

#[tokio::test]
async fn each_error_class_is_mapped_with_the_platforms_message() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: &"acct_x".into(), token: &token };
    x.publish(&call, &post("Same words twice")).await.unwrap();
    let e = x.publish(&call, &post("Same words twice")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Duplicate { ref message } if message.contains("duplicate content")),
        "{e:?}"
    );
    fake.reject_next_body("You are not permitted to perform this action.");
    let e = x.publish(&call, &post("refused")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Permission { .. }), "{e:?}");
    let e = x.publish(&call, &post("")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let e = x.delete(&call, "1234567890").await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    fake.fail_next(503);
    let e = x.publish(&call, &post("down")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(503), .. }), "{e:?}");
    fake.expire_token();
    let e = x.publish(&call, &post("expired")).await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { .. }), "{e:?}");
    assert!(!e.to_string().contains(TOKEN) && !format!("{e:?}").contains(TOKEN));
}

#[tokio::test]
async fn rate_limits_are_honoured_and_refused_calls_are_not_sent() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: &"acct_x".into(), token: &token };
    fake.rate_limit_next(Duration::from_secs(900));
    let e = x.publish(&call, &post("one")).await.unwrap_err();
    let PlatformError::RateLimited { reset_at: Some(reset), .. } = e else { panic!("{e:?}") };
    let now = custodian::clock::Clock::now(&SystemClock);
    assert!(reset.millis() > now.millis() + 800_000, "the reset comes from x-rate-limit-reset");
    let sent = fake.requests().len();
    assert!(matches!(x.publish(&call, &post("two")).await, Err(PlatformError::RateLimited { .. })));
    assert_eq!(fake.requests().len(), sent, "backed off: nothing sent until the reset");
}

#[tokio::test]
async fn refused_here_means_nothing_sent() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: &"acct_x".into(), token: &token };
    assert!(!x.supports(Operation::DeleteComment) && x.supports(Operation::HideComment));
    let e = x.delete_comment(&call, "1").await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { platform: "X", .. }));
    let bmp = image(b"BM....".to_vec(), "image/bmp", None);
    let e = x.publish(&call, &NewPost { image: Some(bmp), ..post("x") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let e = x.publish(&call, &post(&"x".repeat(281))).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }));
    for id in ["../2/users", "1/hidden", "1?x=1", ""] {
        assert!(matches!(x.delete(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(x.comments(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn an_image_is_uploaded_with_its_alt_text_and_the_post_names_it() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: &"acct_x".into(), token: &token };
    let poster = image(png(4096), "image/png", Some("Poster: flu clinic, 9 to 5"));
    let first =
        x.publish(&call, &NewPost { image: Some(poster.clone()), ..post("Flu clinic open") }).await.unwrap();

    assert_eq!(lines(&fake), ["POST /2/media/upload", "POST /2/media/metadata", "POST /2/tweets"]);
    let requests = fake.requests();
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    }
    let upload = &requests[0];
    assert!(upload.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    assert!(contains(&upload.body, &poster.bytes), "the file goes as it is, in the media part");
    assert!(contains(&upload.body, b"name=\"media_category\"\r\n\r\ntweet_image\r\n"));
    assert!(contains(&upload.body, b"name=\"media_type\"\r\n\r\nimage/png\r\n"));
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    let media_id = uploads[0].id.clone();
    assert_eq!(
        (uploads[0].bytes.as_slice(), uploads[0].media_type.as_str()),
        (poster.bytes.as_slice(), "image/png")
    );
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"id": media_id, "metadata": {"alt_text": {"text": "Poster: flu clinic, 9 to 5"}}})
    );
    let body: serde_json::Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(body, serde_json::json!({"text": "Flu clinic open", "media": {"media_ids": [media_id]}}));
    let shown = fake.media_of(&first.id);
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].id.as_str(), shown[0].alt_text.as_deref()),
        (media_id.as_str(), Some("Poster: flu clinic, 9 to 5"))
    );

    // A GIF goes without a media_type (the upload's reference lists none for it); no alt text, no
    // metadata call; an image alone needs no text; a reply may carry one too.
    let gif = image([b"GIF89a".as_slice(), &[7; 100]].concat(), "image/gif", None);
    let only = x.publish(&call, &NewPost { image: Some(gif), ..post("") }).await.unwrap();
    let requests = fake.requests();
    assert!(!contains(&requests[3].body, b"name=\"media_type\""));
    assert_eq!(lines(&fake)[3..], ["POST /2/media/upload", "POST /2/tweets"]);
    let body: serde_json::Value = serde_json::from_slice(&requests[4].body).unwrap();
    assert!(body.get("text").is_none(), "{body}");
    assert_eq!(fake.media_of(&only.id)[0].media_type, "image/gif");
    let webp = image([b"RIFF\0\0\0\0WEBPVP8 ".as_slice(), &[0; 64]].concat(), "image/webp", Some(" "));
    let reply =
        x.reply(&call, &first.id, &NewPost { image: Some(webp), ..post("Map attached") }).await.unwrap();
    assert_eq!(lines(&fake)[5..], ["POST /2/media/upload", "POST /2/tweets"], "blank alt text is not sent");
    let body: serde_json::Value = serde_json::from_slice(&fake.requests()[6].body).unwrap();
    assert_eq!(body["reply"]["in_reply_to_tweet_id"], first.id.as_str());
    assert_eq!(fake.media_of(&reply.id)[0].media_type, "image/webp");
}

#[tokio::test]
async fn images_x_would_refuse_are_refused_here_and_nothing_is_sent() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: &"acct_x".into(), token: &token };
    let too_big = image(png(custodian::platforms::x::MAX_IMAGE_BYTES + 1), "image/png", None);
    let e = x.publish(&call, &NewPost { image: Some(too_big), ..post("big") }).await.unwrap_err();
    let PlatformError::Validation { message } = e else { panic!("{e:?}") };
    assert!(message.contains("5 MB"), "{message}");
    for (refused, why) in [
        (image(png(100), "image/svg+xml", None), "PNG, JPEG, GIF or WebP"),
        (image(png(100), "image/tiff", None), "PNG, JPEG, GIF or WebP"),
        (image(Vec::new(), "image/png", None), "empty"),
        (image(png(100), "image/png", Some(&"a".repeat(1001))), "1000 characters"),
    ] {
        let e = x.publish(&call, &NewPost { image: Some(refused), ..post("refused") }).await.unwrap_err();
        assert!(matches!(e, PlatformError::Validation { ref message } if message.contains(why)), "{e:?}");
    }
    // A reply to an id X never issues is refused before its image is uploaded.
    let fine = image(png(100), "image/png", None);
    let e =
        x.reply(&call, "1/hidden", &NewPost { image: Some(fine.clone()), ..post("hi") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::BadRequest(_)), "{e:?}");
    let e = x.publish(&call, &NewPost { image: Some(fine), ..post(&"x".repeat(281)) }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    assert!(fake.requests().is_empty() && fake.uploads().is_empty());
}

#[tokio::test]
async fn a_refused_or_failed_upload_creates_no_post() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: &"acct_x".into(), token: &token };
    // X reads the bytes and refuses them: 400, its invalid-request problem, its words.
    let not_png = image(b"this is not an image at all".to_vec(), "image/png", Some("alt"));
    let e = x.publish(&call, &NewPost { image: Some(not_png), ..post("refused upload") }).await.unwrap_err();
    assert_eq!(e, PlatformError::Validation { message: UNRECOGNIZED_MEDIA.into() });
    assert_eq!(lines(&fake), ["POST /2/media/upload"]);
    // A 5xx on the upload: down, and neither alt text nor post follows.
    fake.fail_next(503);
    let fine = image(png(100), "image/png", Some("alt"));
    let e =
        x.publish(&call, &NewPost { image: Some(fine.clone()), ..post("upload down") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(503), .. }), "{e:?}");
    assert_eq!(lines(&fake), ["POST /2/media/upload", "POST /2/media/upload"]);
    assert!(fake.uploads().is_empty());
    // A token without media.write (or expired) fails at the upload, before the post.
    fake.expire_token();
    let e = x.publish(&call, &NewPost { image: Some(fine), ..post("expired") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { .. }), "{e:?}");
    assert_eq!(lines(&fake).last().map(String::as_str), Some("POST /2/media/upload"));
    assert!(!e.to_string().contains(TOKEN));
}
