//! The Bluesky adapter against the fake PDS (tests/it/support/fakes/bluesky.rs):
//! every operation on its XRPC method, link facets in UTF-8 bytes, every
//! error class, rate limits honoured, only the given token sent, and nothing
//! sent for a call refused here.

use std::sync::Arc;
use std::time::Duration;

use custodian::clock::SystemClock;
use custodian::platforms::bluesky::Bluesky;
use custodian::platforms::{Call, Image, NewPost, Operation, Platform, PlatformError};
use custodian::secret::Secret;
use serde_json::{json, Value};

use crate::support::fakes::bluesky::PdsFake;
use crate::support::fakes::Recorded;

const TOKEN: &str = "eyJhbGciOiJFUzI1NksifQ.bsky-access-jwt-s3cr3t.sig";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const FOLLOWER: &str = "did:plc:z72i7hdynmk6r22z27h6tvur";

async fn setup() -> (PdsFake, Bluesky, Secret) {
    let fake = PdsFake::start(TOKEN, DID).await;
    let adapter = Bluesky::new(fake.base.parse().unwrap(), DID.into(), Arc::new(SystemClock)).unwrap();
    (fake, adapter, Secret::new(TOKEN.into()))
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

fn body(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn every_operation_reaches_the_documented_method_with_only_the_given_token() {
    let (fake, bsky, token) = setup().await;
    let call = Call { account_id: "acct_bsky", token: &token };
    assert_eq!(bsky.name(), "Bluesky");
    let link = "https://clinic.example/grippe?tag=montag";
    let with_link = NewPost {
        link: Some(link.parse().unwrap()),
        ..post("Grippe-Impfung: Praxis geöffnet 🩺 — 日本語も")
    };
    let first = bsky.publish(&call, &with_link).await.unwrap();
    assert!(first.id.starts_with(&format!("at://{DID}/app.bsky.feed.post/")), "{}", first.id);
    let rkey = first.id.rsplit('/').next().unwrap();
    assert_eq!(first.url.as_deref(), Some(format!("https://bsky.app/profile/{DID}/post/{rkey}").as_str()));
    let own_reply = bsky.reply(&call, &first.id, &post("Walk-ins welcome")).await.unwrap();
    let theirs = fake.reply_from(FOLLOWER, &first.id, "When do you open?");
    let spam = fake.reply_from(FOLLOWER, &own_reply.id, "Buy followers");
    let comments = bsky.comments(&call, &first.id).await.unwrap();
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["Walk-ins welcome", "When do you open?"]);
    assert!(comments.iter().any(|c| c.id == theirs && c.author == FOLLOWER && c.created_at.is_some()));
    bsky.hide_comment(&call, &theirs).await.unwrap();
    bsky.hide_comment(&call, &spam).await.unwrap();
    assert_eq!(fake.hidden_replies(&first.id), [theirs.clone(), spam.clone()]);
    bsky.delete(&call, &own_reply.id).await.unwrap();
    let image = Image {
        bytes: vec![0x89, b'P', b'N', b'G', 1, 2, 3],
        media_type: "image/png".into(),
        description: Some("The clinic's door".into()),
    };
    bsky.publish(&call, &NewPost { image: Some(image), ..post("Our new door") }).await.unwrap();

    let requests = fake.requests();
    let lines: Vec<String> =
        requests.iter().map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap())).collect();
    assert_eq!(
        lines,
        [
            "POST /xrpc/com.atproto.repo.createRecord",
            "GET /xrpc/com.atproto.repo.getRecord",
            "POST /xrpc/com.atproto.repo.createRecord",
            "GET /xrpc/app.bsky.feed.getPostThread",
            "GET /xrpc/com.atproto.repo.getRecord",
            "GET /xrpc/com.atproto.repo.getRecord",
            "POST /xrpc/com.atproto.repo.putRecord",
            "GET /xrpc/com.atproto.repo.getRecord",
            "GET /xrpc/com.atproto.repo.getRecord",
            "POST /xrpc/com.atproto.repo.putRecord",
            "POST /xrpc/com.atproto.repo.deleteRecord",
            "POST /xrpc/com.atproto.repo.uploadBlob",
            "POST /xrpc/com.atproto.repo.createRecord",
        ]
    );
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert!(r.header("cookie").is_none() && r.header("dpop").is_none());
    }

    // The link: at the end of the text, its facet in UTF-8 bytes.
    let created = body(&requests[0]);
    assert_eq!((&created["repo"], &created["collection"]), (&json!(DID), &json!("app.bsky.feed.post")));
    let record = &created["record"];
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert!(record["createdAt"].as_str().unwrap().ends_with('Z'));
    let text = record["text"].as_str().unwrap();
    assert_eq!(text, format!("Grippe-Impfung: Praxis geöffnet 🩺 — 日本語も\n\n{link}"));
    let facet = &record["facets"][0];
    assert_eq!(facet["features"], json!([{"$type": "app.bsky.richtext.facet#link", "uri": link}]));
    let (start, end) =
        (facet["index"]["byteStart"].as_u64().unwrap(), facet["index"]["byteEnd"].as_u64().unwrap());
    assert_eq!(&text.as_bytes()[start as usize..end as usize], link.as_bytes());
    assert_eq!((start, end), (text.len() as u64 - link.len() as u64, text.len() as u64));
    assert_ne!(start as usize, text.chars().count() - link.len(), "bytes, not characters");

    // The reply: the parent fetched by its own repo and key, then root and parent refs.
    let (_, rkey_query) = requests[1].path.split_once('?').unwrap();
    assert_eq!(
        rkey_query,
        format!("repo={}&collection=app.bsky.feed.post&rkey={rkey}", DID.replace(':', "%3A"))
    );
    let reply = &body(&requests[2])["record"]["reply"];
    assert_eq!(reply["root"]["uri"], first.id.as_str());
    assert_eq!(reply["parent"], reply["root"]);
    assert!(reply["parent"]["cid"].as_str().unwrap().starts_with("bafyrei"));
    assert!(requests[3]
        .path
        .ends_with(&format!("?uri={}&depth=1", first.id.replace(':', "%3A").replace('/', "%2F"))));

    // Hiding: the root's threadgate, created, then updated with a swap.
    let gate = body(&requests[6]);
    assert_eq!(
        (&gate["collection"], &gate["rkey"], &gate["repo"]),
        (&json!("app.bsky.feed.threadgate"), &json!(rkey), &json!(DID))
    );
    assert_eq!(gate["record"]["post"], first.id.as_str());
    assert_eq!(gate["record"]["hiddenReplies"], json!([theirs]));
    assert!(gate["record"].get("allow").is_none(), "who may reply stays as it was");
    assert!(gate.get("swapRecord").is_none());
    let second = body(&requests[9]);
    assert_eq!(second["record"]["hiddenReplies"], json!([theirs, spam]));
    assert!(second["swapRecord"].as_str().unwrap().starts_with("bafyrei"));

    let deleted = body(&requests[10]);
    assert_eq!(
        deleted,
        json!({"repo": DID, "collection": "app.bsky.feed.post", "rkey": own_reply.id.rsplit('/').next().unwrap()})
    );

    // The image: raw bytes with their type, then the blob in an images embed.
    assert_eq!(requests[11].header("content-type"), Some("image/png"));
    assert_eq!(requests[11].body, [0x89, b'P', b'N', b'G', 1, 2, 3]);
    let embed = &body(&requests[12])["record"]["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    assert_eq!(embed["images"][0]["alt"], "The clinic's door");
    assert_eq!(embed["images"][0]["image"]["$type"], "blob");
    assert_eq!(embed["images"][0]["image"]["size"], 7);
}

#[tokio::test]
async fn each_error_class_is_mapped_with_the_platforms_message() {
    let (fake, bsky, token) = setup().await;
    let call = Call { account_id: "acct_bsky", token: &token };
    let first = bsky.publish(&call, &post("Open today")).await.unwrap();
    fake.reject_next_body("Invalid app.bsky.feed.post record: Record/langs/0 must be a valid language code");
    let e = bsky.publish(&call, &post("refused")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { ref message } if message.contains("langs")), "{e:?}");
    let gone = format!("at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a");
    let e = bsky.reply(&call, &gone, &post("to nothing")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let e = bsky.comments(&call, &gone).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Validation { ref message } if message.contains("Post not found")),
        "{e:?}"
    );
    let e = bsky.hide_comment(&call, &first.id).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "a post, not a reply: {e:?}");
    fake.fail_next(403);
    let e = bsky.publish(&call, &post("forbidden")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Permission { .. }), "{e:?}");
    fake.fail_next(502);
    let e = bsky.publish(&call, &post("down")).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(502), .. }), "{e:?}");
    let wrong = Secret::new("not-the-session-token".into());
    let e = bsky.publish(&Call { account_id: "acct_bsky", token: &wrong }, &post("x")).await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { .. }), "InvalidToken: {e:?}");
    fake.expire_token();
    let e = bsky.publish(&call, &post("expired")).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::TokenInvalid { ref message } if message == "Token has expired"),
        "{e:?}"
    );
    assert!(!e.to_string().contains(TOKEN) && !format!("{e:?}").contains(TOKEN));
}

#[tokio::test]
async fn rate_limits_are_honoured_and_refused_calls_are_not_sent() {
    let (fake, bsky, token) = setup().await;
    let call = Call { account_id: "acct_bsky", token: &token };
    fake.rate_limit_next(Duration::from_secs(900));
    let e = bsky.publish(&call, &post("one")).await.unwrap_err();
    let PlatformError::RateLimited { reset_at: Some(reset), .. } = e else { panic!("{e:?}") };
    let now = custodian::clock::Clock::now(&SystemClock);
    assert!(reset.millis() > now.millis() + 800_000, "the reset comes from ratelimit-reset");
    let sent = fake.requests().len();
    assert!(matches!(bsky.publish(&call, &post("two")).await, Err(PlatformError::RateLimited { .. })));
    assert!(matches!(
        bsky.comments(&call, &format!("at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a")).await,
        Err(PlatformError::RateLimited { .. })
    ));
    assert_eq!(fake.requests().len(), sent, "backed off: nothing sent until the reset");
    let other = Call { account_id: "acct_other", token: &token };
    bsky.publish(&other, &post("another account's budget")).await.unwrap();
}

#[tokio::test]
async fn refused_here_means_nothing_sent() {
    let (fake, bsky, token) = setup().await;
    let call = Call { account_id: "acct_bsky", token: &token };
    assert!(!bsky.supports(Operation::DeleteComment) && bsky.supports(Operation::HideComment));
    let theirs = format!("at://{FOLLOWER}/app.bsky.feed.post/3l6oveex3ii2l");
    let e = bsky.delete_comment(&call, &theirs).await.unwrap_err();
    assert!(matches!(e, PlatformError::Unsupported { platform: "Bluesky", .. }));
    let e = bsky.delete(&call, &theirs).await.unwrap_err();
    assert!(matches!(e, PlatformError::BadRequest(_)), "only own posts: {e:?}");
    let e = bsky.publish(&call, &post(&"é".repeat(301))).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }));
    let long_link =
        NewPost { link: Some("https://clinic.example/".parse().unwrap()), ..post(&"x".repeat(280)) };
    assert!(matches!(bsky.publish(&call, &long_link).await, Err(PlatformError::Validation { .. })));
    let big = Image { bytes: vec![0; 1_000_001], media_type: "image/jpeg".into(), description: None };
    let e = bsky.publish(&call, &NewPost { image: Some(big), ..post("x") }).await.unwrap_err();
    assert!(matches!(e, PlatformError::Validation { .. }), "{e:?}");
    let pdf = Image { bytes: vec![1], media_type: "application/pdf".into(), description: None };
    assert!(matches!(
        bsky.publish(&call, &NewPost { image: Some(pdf), ..post("x") }).await,
        Err(PlatformError::Validation { .. })
    ));
    for uri in [
        "",
        "3l6oveex3ii2l",
        "https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz/post/3l6oveex3ii2l",
        "at://did:web:evil.example/app.bsky.feed.post/3l6oveex3ii2l",
        "at://evil.example/app.bsky.feed.post/3l6oveex3ii2l",
        "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.like/3l6oveex3ii2l",
        "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/../../xrpc",
        "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l?x=1",
        "at://did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ/app.bsky.feed.post/3l6oveex3ii2l",
    ] {
        assert!(matches!(bsky.delete(&call, uri).await, Err(PlatformError::BadRequest(_))), "{uri}");
        assert!(matches!(bsky.comments(&call, uri).await, Err(PlatformError::BadRequest(_))), "{uri}");
        assert!(matches!(bsky.hide_comment(&call, uri).await, Err(PlatformError::BadRequest(_))), "{uri}");
        assert!(
            matches!(bsky.reply(&call, uri, &post("x")).await, Err(PlatformError::BadRequest(_))),
            "{uri}"
        );
    }
    assert!(fake.requests().is_empty());
    let bad = Bluesky::new(fake.base.parse().unwrap(), "did:web:evil.example".into(), Arc::new(SystemClock));
    assert!(matches!(bad, Err(PlatformError::BadRequest(_))));
}
