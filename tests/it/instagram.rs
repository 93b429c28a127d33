//! The Instagram adapter against the fake Graph API
//! (tests/it/support/fakes/facebook.rs): two-step publishing from a public
//! URL, comments and moderation, error classes including the daily
//! publishing limit, only the given token sent, and nothing sent for a call
//! refused here (publishing bytes or text only, deleting a post, bad ids).

use std::sync::Arc;

use custodian::clock::SystemClock;
use custodian::domain::{Image, NewPost};
use custodian::platforms::instagram::Instagram;
use custodian::platforms::{Call, Operation, PlatformApi, PlatformError};
use custodian::secret::Secret;
use url::Url;

use crate::support::fakes::facebook::{GraphFake, IG_USERNAME, IG_USER_ID};

const TOKEN: &str = "EAAGig-page-token-s3cr3t";

async fn setup() -> (GraphFake, Instagram, Secret) {
    let fake = GraphFake::start(TOKEN).await;
    let adapter =
        Instagram::new(fake.base.parse().unwrap(), IG_USER_ID.into(), Arc::new(SystemClock)).unwrap();
    (fake, adapter, Secret::new(TOKEN.into()))
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

fn image_url() -> Url {
    "https://cdn.clinic.example/waiting-room.jpg".parse().unwrap()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[tokio::test]
async fn every_operation_reaches_the_documented_endpoint_with_only_the_given_token() {
    let (fake, ig, token) = setup().await;
    let call = Call { account_id: &"acct_ig".into(), token: &token };
    let media = ig.publish_from_url(&call, &image_url(), &post("Our new waiting room")).await.unwrap();
    assert_eq!(fake.media(&media.id), Some((image_url().to_string(), "Our new waiting room".to_owned())));
    let own = ig.comment(&call, &media.id, &post("Open at nine")).await.unwrap();
    let theirs = fake.comment_from("ana.lima", &media.id, "Looks great");
    let answer = ig.reply(&call, &theirs, &post("Thank you!")).await.unwrap();
    let comments = ig.comments(&call, &media.id).await.unwrap();
    let pairs: Vec<(&str, &str)> = comments.iter().map(|c| (c.author.as_str(), c.text.as_str())).collect();
    assert_eq!(pairs, [(IG_USERNAME, "Open at nine"), ("ana.lima", "Looks great")]);
    assert!(comments.iter().all(|c| c.created_at.is_some()));
    ig.hide_comment(&call, &theirs).await.unwrap();
    assert!(fake.is_hidden(&theirs));
    ig.delete_comment(&call, &answer.id).await.unwrap();
    assert!(fake.is_deleted(&answer.id) && !fake.is_deleted(&own.id));

    let requests = fake.requests();
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap().trim_start_matches("/v23.0")))
        .collect();
    assert_eq!(
        lines,
        [
            format!("POST /{IG_USER_ID}/media"),
            format!("POST /{IG_USER_ID}/media_publish"),
            format!("POST /{}/comments", media.id),
            format!("POST /{theirs}/replies"),
            format!("GET /{}/comments", media.id),
            format!("POST /{theirs}"),
            format!("DELETE /{}", answer.id),
        ]
    );
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert!(!r.path.contains(TOKEN) && !String::from_utf8_lossy(&r.body).contains(TOKEN));
    }
    assert_eq!(
        form(&requests[0].body),
        [("image_url".into(), image_url().to_string()), ("caption".into(), "Our new waiting room".into())]
    );
    let container = form(&requests[1].body);
    assert_eq!(container.len(), 1);
    assert_eq!(container[0].0, "creation_id");
    assert_eq!(form(&requests[3].body), [("message".into(), "Thank you!".into())]);
    assert_eq!(form(&requests[5].body), [("hide".into(), "true".into())]);
}

#[tokio::test]
async fn each_error_class_is_mapped_with_the_platforms_message() {
    let (fake, ig, token) = setup().await;
    let call = Call { account_id: &"acct_ig".into(), token: &token };
    fake.reject_next_body("(#100) Invalid parameter");
    let e = ig.publish_from_url(&call, &image_url(), &post("refused")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { ref message } if message.contains("Invalid parameter")));
    let e = ig.comments(&call, "17999999999999999").await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { ref message } if message.contains("does not exist")));
    // The 51st post in 24 hours hits the daily publishing limit (subcode 2207042).
    for n in 0..50 {
        ig.publish_from_url(&call, &image_url(), &post(&format!("post {n}"))).await.unwrap();
    }
    let e = ig.publish_from_url(&call, &image_url(), &post("one too many")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::RateLimited { ref message, .. } if message.contains("limit reached")),
        "{e:?}"
    );
    fake.fail_next(500);
    let e = ig.comments(&call, "17999999999999999").await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(500), .. }), "{e:?}");
    fake.expire_token();
    let e = ig.comments(&call, "17999999999999999").await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { .. }), "{e:?}");
    assert!(!e.to_string().contains(TOKEN) && !format!("{e:?}").contains(TOKEN));
}

#[tokio::test]
async fn rate_limits_are_honoured_and_refused_calls_are_not_sent() {
    let (fake, ig, token) = setup().await;
    let call = Call { account_id: &"acct_ig".into(), token: &token };
    let media = ig.publish_from_url(&call, &image_url(), &post("fine")).await.unwrap();
    fake.rate_limit_next(30);
    let e = ig.comments(&call, &media.id).await.unwrap_err();
    assert!(matches!(e, PlatformError::RateLimited { reset_at: Some(_), .. }), "{e:?}");
    let sent = fake.requests().len();
    let e = ig.publish_from_url(&call, &image_url(), &post("later")).await.unwrap_err();
    assert!(matches!(e, PlatformError::RateLimited { .. }), "{e:?}");
    assert_eq!(fake.requests().len(), sent, "backed off: nothing sent until the reset");
}

#[tokio::test]
async fn refused_here_means_nothing_sent() {
    let (fake, ig, token) = setup().await;
    let call = Call { account_id: &"acct_ig".into(), token: &token };
    assert!(!ig.supports(Operation::Publish) && !ig.supports(Operation::Delete));
    assert!(ig.supports(Operation::HideComment) && ig.supports(Operation::DeleteComment));
    let e = ig.publish(&call, &post("text only")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Unsupported { platform: "Instagram", operation } if operation.contains("need an image")),
        "{e:?}"
    );
    let image = Image { bytes: vec![1], media_type: "image/png".into(), description: None };
    let e = ig.publish(&call, &NewPost { image: Some(image), ..post("bytes") }).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Unsupported { operation, .. } if operation.contains("public URL")),
        "{e:?}"
    );
    let e = ig.delete(&call, "17999999999999999").await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { .. }), "{e:?}");
    let e = ig.publish_from_url(&call, &image_url(), &post(&"x".repeat(2201))).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let file: Url = "file:///etc/passwd".parse().unwrap();
    assert!(matches!(
        ig.publish_from_url(&call, &file, &post("x")).await,
        Err(PlatformError::Validation { .. })
    ));
    assert!(Instagram::new(fake.base.parse().unwrap(), "1_2".into(), Arc::new(SystemClock)).is_err());
    for id in ["../me", "1/replies", "1?x=1", "", "1_2"] {
        assert!(matches!(ig.comments(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(ig.reply(&call, id, &post("x")).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(ig.comment(&call, id, &post("x")).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(ig.hide_comment(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(ig.delete_comment(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
    }
    assert!(fake.requests().is_empty());
}
