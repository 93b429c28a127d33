//! The X adapter against the fake X API v2 (tests/it/support/fakes/x.rs):
//! every operation, every error class, rate limits honoured, only the
//! given token sent, and nothing sent for a call refused here.

use std::sync::Arc;
use std::time::Duration;

use custodian::clock::SystemClock;
use custodian::platforms::x::X;
use custodian::platforms::{Call, Image, NewPost, Operation, Platform, PlatformError};
use custodian::secret::Secret;

use crate::support::fakes::x::XFake;

const TOKEN: &str = "x-oauth2-user-token-s3cr3t";

async fn setup() -> (XFake, X, Secret) {
    let fake = XFake::start(TOKEN).await;
    let adapter = X::new(fake.base.parse().unwrap(), Arc::new(SystemClock)).unwrap();
    (fake, adapter, Secret::new(TOKEN.into()))
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

#[tokio::test]
async fn every_operation_reaches_the_documented_endpoint_with_only_the_given_token() {
    let (fake, x, token) = setup().await;
    let call = Call { account_id: "acct_x", token: &token };
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
    let call = Call { account_id: "acct_x", token: &token };
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
    let call = Call { account_id: "acct_x", token: &token };
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
    let call = Call { account_id: "acct_x", token: &token };
    assert!(!x.supports(Operation::DeleteComment) && x.supports(Operation::HideComment));
    let e = x.delete_comment(&call, "1").await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { platform: "X", .. }));
    let image = Image { bytes: vec![1], media_type: "image/png".into(), description: None };
    let e = x.publish(&call, &NewPost { image: Some(image), ..post("x") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { .. }), "{e:?}");
    let e = x.publish(&call, &post(&"x".repeat(281))).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }));
    for id in ["../2/users", "1/hidden", "1?x=1", ""] {
        assert!(matches!(x.delete(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(x.comments(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
    }
    assert!(fake.requests().is_empty());
}
