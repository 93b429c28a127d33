//! The Facebook Pages adapter against the fake Graph API
//! (tests/it/support/fakes/facebook.rs): every operation, every error class,
//! Business Use Case rate limits honoured, only the given token sent, and
//! nothing sent for a call refused here.

use std::sync::Arc;

use custodian::clock::{Clock, SystemClock};
use custodian::domain::{Image, NewPost};
use custodian::platforms::facebook::Facebook;
use custodian::platforms::{Call, Operation, PlatformApi, PlatformError};
use custodian::secret::Secret;

use crate::support::fakes::facebook::{GraphFake, PAGE_ID, PAGE_NAME};

const TOKEN: &str = "EAAGpage-access-token-s3cr3t";

async fn setup() -> (GraphFake, Facebook, Secret) {
    let fake = GraphFake::start(TOKEN).await;
    let adapter = Facebook::new(fake.base.parse().unwrap(), PAGE_ID.into(), Arc::new(SystemClock)).unwrap();
    (fake, adapter, Secret::new(TOKEN.into()))
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[tokio::test]
async fn every_operation_reaches_the_documented_endpoint_with_only_the_given_token() {
    let (fake, fb, token) = setup().await;
    let call = Call { account_id: &"acct_fb".into(), token: &token };
    let with_link =
        NewPost { link: Some("https://clinic.example/flu".parse().unwrap()), ..post("Flu clinic open") };
    let first = fb.publish(&call, &with_link).await.unwrap();
    assert!(first.id.starts_with(&format!("{PAGE_ID}_")), "{first:?}");
    assert_eq!(first.url.as_deref(), Some(format!("https://www.facebook.com/{}", first.id).as_str()));
    let image = Image { bytes: b"\x89PNG fake".to_vec(), media_type: "image/png".into(), description: None };
    let photo =
        fb.publish(&call, &NewPost { image: Some(image), ..post("Our new waiting room") }).await.unwrap();
    assert!(photo.id.starts_with(&format!("{PAGE_ID}_")), "the feed story's post_id: {photo:?}");
    let theirs = fake.comment_from("Ana Lima", &first.id, "When do you open?");
    let answer = fb.reply(&call, &theirs, &post("At nine")).await.unwrap();
    let own = fb.reply(&call, &first.id, &post("Walk-ins welcome")).await.unwrap();
    let comments = fb.comments(&call, &first.id).await.unwrap();
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["When do you open?", "Walk-ins welcome"]);
    assert_eq!(comments[0].author, "Ana Lima");
    assert_eq!(comments[1].author, PAGE_NAME);
    assert!(comments[0].created_at.as_deref().is_some_and(|t| t.ends_with("+0000")));
    fb.hide_comment(&call, &theirs).await.unwrap();
    assert!(fake.is_hidden(&theirs));
    fb.delete_comment(&call, &answer.id).await.unwrap();
    fb.delete(&call, &photo.id).await.unwrap();
    assert!(fake.is_deleted(&answer.id) && fake.is_deleted(&photo.id) && !fake.is_deleted(&own.id));

    let requests = fake.requests();
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap().trim_start_matches("/v23.0")))
        .collect();
    assert_eq!(
        lines,
        [
            format!("POST /{PAGE_ID}/feed"),
            format!("POST /{PAGE_ID}/photos"),
            format!("POST /{theirs}/comments"),
            format!("POST /{}/comments", first.id),
            format!("GET /{}/comments", first.id),
            format!("POST /{theirs}"),
            format!("DELETE /{}", answer.id),
            format!("DELETE /{}", photo.id),
        ]
    );
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert!(r.header("cookie").is_none());
        assert!(!r.path.contains(TOKEN) && !String::from_utf8_lossy(&r.body).contains(TOKEN));
    }
    assert_eq!(
        form(&requests[0].body),
        [("message".into(), "Flu clinic open".into()), ("link".into(), "https://clinic.example/flu".into())]
    );
    let multipart = String::from_utf8_lossy(&requests[1].body);
    assert!(requests[1].header("content-type").unwrap().starts_with("multipart/form-data"));
    assert!(multipart.contains("name=\"source\"") && multipart.contains("Content-Type: image/png"));
    assert!(multipart.contains("name=\"caption\"") && multipart.contains("Our new waiting room"));
    assert_eq!(form(&requests[2].body), [("message".into(), "At nine".into())]);
    assert!(requests[4].path.contains("fields=id%2Cfrom%2Cmessage%2Ccreated_time"));
    assert_eq!(form(&requests[5].body), [("is_hidden".into(), "true".into())]);
}

#[tokio::test]
async fn each_error_class_is_mapped_with_the_platforms_message() {
    let (fake, fb, token) = setup().await;
    let call = Call { account_id: &"acct_fb".into(), token: &token };
    fb.publish(&call, &post("Same words twice")).await.unwrap();
    let e = fb.publish(&call, &post("Same words twice")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Duplicate { ref message } if message == "Duplicate status message"),
        "{e:?}"
    );
    fake.reject_next_body("(#100) Invalid parameter");
    let e = fb.publish(&call, &post("refused")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { ref message } if message.contains("Invalid parameter")));
    let e = fb.publish(&call, &post("")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let e = fb.delete(&call, "104729385761234_1").await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Validation { ref message } if message.contains("does not exist")),
        "{e:?}"
    );
    let own =
        fb.reply(&call, &fb.publish(&call, &post("ours")).await.unwrap().id, &post("mine")).await.unwrap();
    let e = fb.hide_comment(&call, &own.id).await.unwrap_err();
    assert!(matches!(e, PlatformError::Permission { .. }), "{e:?}");
    fake.fail_next(503);
    let e = fb.publish(&call, &post("down")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Down { status: Some(503), ref message } if message.contains("retry")),
        "{e:?}"
    );
    fake.expire_token();
    let e = fb.publish(&call, &post("expired")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::TokenInvalid { ref message } if message.contains("Session has expired")),
        "{e:?}"
    );
    assert!(!e.to_string().contains(TOKEN) && !format!("{e:?}").contains(TOKEN));
    let wrong = Secret::new("EAAGsomeone-elses".into());
    let e =
        fb.publish(&Call { account_id: &"acct_other".into(), token: &wrong }, &post("x")).await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { .. }), "{e:?}");
}

#[tokio::test]
async fn rate_limits_are_honoured_and_refused_calls_are_not_sent() {
    let (fake, fb, token) = setup().await;
    let call = Call { account_id: &"acct_fb".into(), token: &token };
    fb.publish(&call, &post("fine")).await.unwrap();
    fake.rate_limit_next(15);
    let e = fb.publish(&call, &post("one")).await.unwrap_err();
    let PlatformError::RateLimited { reset_at: Some(reset), ref message } = e else { panic!("{e:?}") };
    assert!(message.contains("Page request limit reached"));
    let now = SystemClock.now();
    assert!(
        (reset.millis() - now.millis() - 15 * 60_000).abs() < 5_000,
        "the reset comes from estimated_time_to_regain_access"
    );
    let sent = fake.requests().len();
    let e = fb.comments(&call, "104729385761234_1").await.unwrap_err();
    assert!(matches!(e, PlatformError::RateLimited { .. }), "{e:?}");
    assert_eq!(fake.requests().len(), sent, "backed off: nothing sent until the reset");
    // Another account's budget is its own.
    let other = Call { account_id: &"acct_other".into(), token: &token };
    fb.publish(&other, &post("another page's budget")).await.unwrap();
}

#[tokio::test]
async fn every_answer_reports_usage_headers() {
    let fake = GraphFake::start(TOKEN).await;
    let response = reqwest::Client::new()
        .post(format!("{}/{PAGE_ID}/feed", fake.base))
        .bearer_auth(TOKEN)
        .form(&[("message", "hello")])
        .send()
        .await
        .unwrap();
    let header = |n: &str| response.headers()[n].to_str().unwrap().to_owned();
    let buc: serde_json::Value = serde_json::from_str(&header("x-business-use-case-usage")).unwrap();
    assert_eq!(buc[PAGE_ID][0]["type"], "pages");
    assert_eq!(buc[PAGE_ID][0]["estimated_time_to_regain_access"], 0);
    let app: serde_json::Value = serde_json::from_str(&header("x-app-usage")).unwrap();
    assert!(app["call_count"].is_u64());
    // `access_token` is accepted in place of the header; a missing token is code 104.
    let by_param = reqwest::Client::new()
        .get(format!("{}/{PAGE_ID}/feed?access_token={TOKEN}", fake.base))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = by_param.json().await.unwrap();
    assert_eq!(body["error"]["code"], 2500, "an unmodelled edge, but the token was accepted");
    let none = reqwest::Client::new().get(format!("{}/{PAGE_ID}/feed", fake.base)).send().await.unwrap();
    assert_eq!(none.status(), 400);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["error"]["code"], 104);
}

#[tokio::test]
async fn refused_here_means_nothing_sent() {
    let (fake, fb, token) = setup().await;
    let call = Call { account_id: &"acct_fb".into(), token: &token };
    assert!(fb.supports(Operation::DeleteComment) && fb.supports(Operation::HideComment));
    assert!(Facebook::new(fake.base.parse().unwrap(), "me/feed".into(), Arc::new(SystemClock)).is_err());
    let image = Image { bytes: vec![1], media_type: "image/png".into(), description: None };
    let e = fb.reply(&call, "1_2", &NewPost { image: Some(image), ..post("x") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { platform: "Facebook", .. }), "{e:?}");
    for id in ["../me", "1/comments", "1?x=1", "", "me"] {
        assert!(matches!(fb.delete(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(fb.comments(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(fb.hide_comment(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(fb.delete_comment(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(matches!(fb.reply(&call, id, &post("x")).await, Err(PlatformError::BadRequest(_))), "{id}");
    }
    assert!(fake.requests().is_empty());
}
