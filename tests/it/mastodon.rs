//! The Mastodon adapter against the fake instance (tests/it/support/fakes):
//! every operation, every error class, rate limits honoured, only the
//! credential it was given sent, and nothing sent for a call refused here.

use std::sync::Arc;
use std::time::Duration;

use custodian::clock::SystemClock;
use custodian::domain::{Image, NewPost};
use custodian::platforms::mastodon::Mastodon;
use custodian::platforms::{Call, Operation, PlatformApi, PlatformError};
use custodian::secret::Secret;

use crate::support::fakes::mastodon::MastodonFake;

const TOKEN: &str = "mastodon-token-s3cr3t-0123456789";

async fn setup() -> (MastodonFake, Mastodon, Secret) {
    let fake = MastodonFake::start(TOKEN).await;
    let adapter = Mastodon::new(fake.base.parse().unwrap(), Arc::new(SystemClock)).unwrap();
    (fake, adapter, Secret::new(TOKEN.into()))
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

#[tokio::test]
async fn every_operation_reaches_the_documented_endpoint_with_only_the_given_token() {
    let (fake, mastodon, token) = setup().await;
    let call = Call { account_id: &"acct_m".into(), token: &token };
    let link =
        NewPost { link: Some("https://clinic.example/flu".parse().unwrap()), ..post("Flu clinic open") };
    let published = mastodon.publish(&call, &link).await.unwrap();
    assert!(published.id.chars().all(|c| c.is_ascii_digit()));
    let png = Image {
        bytes: vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13],
        media_type: "image/png".into(),
        description: Some("A poster".into()),
    };
    let with_image =
        mastodon.publish(&call, &NewPost { image: Some(png), ..post("With a poster") }).await.unwrap();
    let reply = mastodon.reply(&call, &published.id, &post("Walk-ins welcome")).await.unwrap();
    let comments = mastodon.comments(&call, &published.id).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!((comments[0].id.as_str(), comments[0].text.as_str()), (reply.id.as_str(), "Walk-ins welcome"));
    mastodon.delete(&call, &with_image.id).await.unwrap();

    let requests = fake.requests();
    let lines: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        lines,
        vec![
            "POST /api/v1/statuses".to_owned(),
            "POST /api/v2/media".to_owned(),
            "POST /api/v1/statuses".to_owned(),
            "POST /api/v1/statuses".to_owned(),
            format!("GET /api/v1/statuses/{}/context", published.id),
            format!("DELETE /api/v1/statuses/{}", with_image.id),
        ]
    );
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{} {}",
            r.method,
            r.path
        );
        assert!(r.header("cookie").is_none(), "nothing but the credential is sent");
    }
    let first: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(first["status"], "Flu clinic open\n\nhttps://clinic.example/flu");
    assert_eq!(first["visibility"], "public");
    assert!(requests[0].header("idempotency-key").is_some());
    let third: serde_json::Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(third["media_ids"].as_array().unwrap().len(), 1);
    let fourth: serde_json::Value = serde_json::from_slice(&requests[3].body).unwrap();
    assert_eq!(fourth["in_reply_to_id"], published.id.as_str());
}

#[tokio::test]
async fn each_error_class_is_mapped_with_the_platforms_message() {
    let (fake, mastodon, token) = setup().await;
    let call = Call { account_id: &"acct_m".into(), token: &token };
    fake.reject_next_body("Validation failed: Text character limit of 500 exceeded");
    let e = mastodon.publish(&call, &post("too long")).await.unwrap_err();
    assert_eq!(
        e,
        PlatformError::Validation {
            message: "Validation failed: Text character limit of 500 exceeded".into()
        }
    );
    let e = mastodon.publish(&call, &post("")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Validation { ref message } if message.contains("can't be blank")),
        "{e:?}"
    );
    let e = mastodon.delete(&call, "999999999").await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { ref message } if message == "Record not found"), "{e:?}");
    fake.fail_next(503);
    let e = mastodon.publish(&call, &post("hello")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(503), .. }), "{e:?}");
    fake.expire_token();
    let e = mastodon.publish(&call, &post("hello")).await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { .. }), "{e:?}");
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(TOKEN), "the token never appears in an error: {shown}");
    }
}

#[tokio::test]
async fn rate_limits_are_honoured_and_refused_calls_are_not_sent() {
    let (fake, mastodon, token) = setup().await;
    let call = Call { account_id: &"acct_m".into(), token: &token };
    fake.rate_limit_next(Duration::from_secs(120));
    let e = mastodon.publish(&call, &post("one")).await.unwrap_err();
    let PlatformError::RateLimited { reset_at: Some(reset), .. } = e else { panic!("{e:?}") };
    let now = custodian::clock::Clock::now(&SystemClock);
    assert!(reset.millis() > now.millis() + 100_000, "the reset time comes from the platform's header");
    let sent = fake.requests().len();
    let e = mastodon.publish(&call, &post("two")).await.unwrap_err();
    assert!(matches!(e, PlatformError::RateLimited { .. }));
    assert_eq!(fake.requests().len(), sent, "backed off: nothing sent until the reset");
    // Another account is not held back.
    let other = Call { account_id: &"acct_other".into(), token: &token };
    mastodon.publish(&other, &post("three")).await.unwrap();
}

#[tokio::test]
async fn unsupported_operations_and_foreign_ids_send_nothing() {
    let (fake, mastodon, token) = setup().await;
    let call = Call { account_id: &"acct_m".into(), token: &token };
    assert!(!mastodon.supports(Operation::HideComment) && mastodon.supports(Operation::Publish));
    for e in [
        mastodon.hide_comment(&call, "1").await.unwrap_err(),
        mastodon.delete_comment(&call, "1").await.unwrap_err(),
    ] {
        assert!(matches!(e, PlatformError::Unsupported { platform: "Mastodon", .. }), "{e:?}");
        assert!(e.to_string().starts_with("Mastodon does not support this"));
    }
    for id in ["../admin", "1/2", "1?x=y", "https://evil.example/1", ""] {
        assert!(matches!(mastodon.delete(&call, id).await, Err(PlatformError::BadRequest(_))), "{id}");
        assert!(
            matches!(mastodon.reply(&call, id, &post("x")).await, Err(PlatformError::BadRequest(_))),
            "{id}"
        );
    }
    assert!(fake.requests().is_empty());
}

/// An instance that answers with more than Custodian reads is refused, not buffered.
#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let huge = axum::Router::new()
        .fallback(|| async { format!("{{\"id\":\"1\",\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024)) });
    let server = crate::support::fakes::Server::start(huge).await;
    let mastodon =
        Mastodon::new(format!("http://{}", server.addr).parse().unwrap(), Arc::new(SystemClock)).unwrap();
    let token = Secret::new(TOKEN.into());
    let call = Call { account_id: &"acct_m".into(), token: &token };
    let e = mastodon.publish(&call, &post("hello")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { ref message, .. } if message.contains("too large")), "{e:?}");
}

/// A 429 that says when only through `Retry-After` is honoured, and a reset
/// years away holds the account back for a day at most.
#[tokio::test]
async fn retry_after_is_read_and_far_resets_are_capped() {
    use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
    use std::sync::atomic::{AtomicU64, Ordering};
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    // Publishing is limited with only Retry-After; deleting with a reset in 2099.
    let limited = axum::Router::new().fallback(move |method: Method| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let (name, value) = if method == Method::DELETE {
                ("x-ratelimit-reset", "2099-01-01T00:00:00.000Z")
            } else {
                ("retry-after", "120")
            };
            let body = "{\"error\":\"Too many requests\"}";
            let mut response =
                axum::response::IntoResponse::into_response((StatusCode::TOO_MANY_REQUESTS, body));
            response.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from_static(value));
            response
        }
    });
    let server = crate::support::fakes::Server::start(limited).await;
    let mastodon =
        Mastodon::new(format!("http://{}", server.addr).parse().unwrap(), Arc::new(SystemClock)).unwrap();
    let token = Secret::new(TOKEN.into());
    let now = custodian::clock::Clock::now(&SystemClock).millis();
    let reset_of = |e: PlatformError| match e {
        PlatformError::RateLimited { reset_at: Some(reset), .. } => reset.millis(),
        other => panic!("{other:?}"),
    };
    let call = Call { account_id: &"acct_retry".into(), token: &token };
    let reset = reset_of(mastodon.publish(&call, &post("a")).await.unwrap_err());
    assert!((reset - now - 120_000).abs() < 5_000, "Retry-After: 120 s");
    assert!(matches!(mastodon.publish(&call, &post("b")).await, Err(PlatformError::RateLimited { .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "nothing sent while waiting");
    let far = Call { account_id: &"acct_far".into(), token: &token };
    let reset = reset_of(mastodon.delete(&far, "1").await.unwrap_err());
    assert!(reset <= now + 24 * 3_600_000 + 5_000, "held back for a day at most, not until 2099");
}
