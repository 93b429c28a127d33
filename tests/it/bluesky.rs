//! The Bluesky adapter against the fake PDS (tests/it/support/fakes/bluesky.rs):
//! every operation on its XRPC method, link facets in UTF-8 bytes, every
//! error class, rate limits honoured, only the given token sent, and nothing
//! sent for a call refused here. App-password sessions: signing in, rotating
//! refresh tokens (one refresh for many callers, through the vault's
//! refresher), ending a session, and every way the PDS refuses.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use custodian::clock::{Clock, SystemClock};
use custodian::domain::{Account, AccountId, Status};
use custodian::domain::{Image, NewPost};
use custodian::platforms::bluesky::Bluesky;
use custodian::platforms::bluesky_session::{
    create_session, delete_session, BlueskySession, SessionEndpoint,
};
use custodian::platforms::refresh::{NewTokens, RefreshError, TokenEndpoint};
use custodian::platforms::{Call, Operation, PlatformApi, PlatformError};
use custodian::secret::Secret;
use custodian::vault::credentials::CredentialKind;
use custodian::vault::Credentials;
use serde_json::{json, Value};
use url::Url;

use crate::on_both_backends;
use crate::support::fakes::bluesky::PdsFake;
use crate::support::fakes::Recorded;
use crate::support::{Backend, TestApp};

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
    let call = Call { account_id: &"acct_bsky".into(), token: &token };
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
    let call = Call { account_id: &"acct_bsky".into(), token: &token };
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
    let e =
        bsky.publish(&Call { account_id: &"acct_bsky".into(), token: &wrong }, &post("x")).await.unwrap_err();
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
    let call = Call { account_id: &"acct_bsky".into(), token: &token };
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
    let other = Call { account_id: &"acct_other".into(), token: &token };
    bsky.publish(&other, &post("another account's budget")).await.unwrap();
}

#[tokio::test]
async fn refused_here_means_nothing_sent() {
    let (fake, bsky, token) = setup().await;
    let call = Call { account_id: &"acct_bsky".into(), token: &token };
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

// App-password sessions (src/platforms/bluesky_session.rs) against the fake
// PDS's createSession, refreshSession and deleteSession.

const APP_PASSWORD: &str = "k3xq-7mfa-2nrd-wpzt";

async fn session_fake() -> (PdsFake, Url) {
    let fake = PdsFake::start(TOKEN, DID).await;
    fake.app_password(APP_PASSWORD);
    let base = fake.base.parse().unwrap();
    (fake, base)
}

/// The claims of a JWT, read as a client may (without verifying it).
pub(crate) fn claims(jwt: &Secret) -> Value {
    let payload = jwt.expose().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The error of a refresh that must fail (`NewTokens` holds secrets and has no `Debug`).
pub(crate) fn refused(result: Result<NewTokens, RefreshError>) -> RefreshError {
    match result {
        Ok(_) => panic!("the PDS took the refresh token"),
        Err(e) => e,
    }
}

fn last_request(fake: &PdsFake) -> Recorded {
    fake.requests().pop().unwrap()
}

/// A base URL where nothing listens.
async fn nothing_listening() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}").parse().unwrap()
}

#[tokio::test]
async fn an_app_password_opens_a_session_that_publishes_refreshes_and_ends() {
    let (fake, base) = session_fake().await;
    let before = SystemClock.now();
    let session = create_session(&base, &fake.handle(), &Secret::new(APP_PASSWORD.into())).await.unwrap();
    assert_eq!((session.did.as_str(), session.handle.as_str()), (DID, fake.handle().as_str()));
    let expires = session.access_expires_at.unwrap();
    assert!(
        (expires.millis() - before.millis() - 7_200_000).abs() < 5_000,
        "the access JWT's exp: two hours on the PDS"
    );
    assert_eq!(claims(&session.refresh)["scope"], "com.atproto.refresh");
    let sent = last_request(&fake);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/xrpc/com.atproto.server.createSession")
    );
    assert_eq!(body(&sent), json!({"identifier": fake.handle(), "password": APP_PASSWORD}));
    assert!(sent.header("authorization").is_none(), "no token with a sign-in");
    assert!(!format!("{session:?}").contains(session.access.expose()));

    // The session's access token is what the adapter sends.
    let bsky = Bluesky::new(base.clone(), session.did.clone(), Arc::new(SystemClock)).unwrap();
    let account_id = AccountId::from("acct_bsky");
    let call = |token| Call { account_id: &account_id, token };
    bsky.publish(&call(&session.access), &post("Signed in with an app password")).await.unwrap();

    // A refresh: the refresh token as the bearer, a new pair back.
    let endpoint = SessionEndpoint::new(base.clone()).unwrap();
    let fresh = endpoint.refresh(&session.refresh, SystemClock.now()).await.unwrap();
    let sent = last_request(&fake);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/xrpc/com.atproto.server.refreshSession")
    );
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {}", session.refresh.expose()).as_str()));
    assert!(sent.body.is_empty());
    let rotated = fresh.refresh.unwrap();
    assert_ne!(claims(&rotated)["jti"], claims(&session.refresh)["jti"], "the refresh token rotates");
    assert_eq!(fresh.expires_at.map(|t| t.millis() / 1000), claims(&fresh.access)["exp"].as_i64());
    bsky.publish(&call(&fresh.access), &post("With a refreshed token")).await.unwrap();

    // The used refresh token, again within the PDS's grace period: the
    // same successor, so a retried refresh does not fork the session...
    let again = endpoint.refresh(&session.refresh, SystemClock.now()).await.unwrap();
    assert_eq!(claims(&again.refresh.unwrap())["jti"], claims(&rotated)["jti"]);
    // ...and once the grace period is over, refused: connect again.
    fake.advance(Duration::from_secs(2 * 3600 + 60));
    let e = refused(endpoint.refresh(&session.refresh, SystemClock.now()).await);
    assert!(
        matches!(e, RefreshError::NeedsReconnect(ref why) if why.contains("Token has been revoked (ExpiredToken)")),
        "{e}"
    );
    let next = endpoint.refresh(&rotated, SystemClock.now()).await.unwrap();
    let latest = next.refresh.unwrap();

    // A disconnect: deleteSession with the refresh token, which is then refused.
    delete_session(&base, &latest).await.unwrap();
    let sent = last_request(&fake);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/xrpc/com.atproto.server.deleteSession")
    );
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {}", latest.expose()).as_str()));
    let e = refused(endpoint.refresh(&latest, SystemClock.now()).await);
    assert!(matches!(e, RefreshError::NeedsReconnect(ref why) if why.contains("revoked")), "{e}");
    delete_session(&base, &latest).await.unwrap();
    // The PDS does not cut the session's access token short: it runs to its exp.
    bsky.publish(&call(&next.access), &post("Still valid until exp")).await.unwrap();
}

#[tokio::test]
async fn a_refused_app_password_says_so_without_repeating_it() {
    let (fake, base) = session_fake().await;
    let upper = APP_PASSWORD.to_uppercase();
    for (identifier, password) in [
        (fake.handle(), "wrong-pass-word-0000"),
        ("nobody.test".to_owned(), APP_PASSWORD),
        (DID.to_owned(), upper.as_str()),
    ] {
        let e = create_session(&base, &identifier, &Secret::new(password.into())).await.unwrap_err();
        assert!(
            matches!(e, PlatformError::TokenInvalid { ref message }
                if message == "Bluesky refused the identifier or app password (Invalid identifier or password)"),
            "{e:?}"
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(password) && !shown.contains(&identifier), "{shown}");
    }
    // The identifier is the handle or the DID, in any case.
    for identifier in [fake.handle().to_uppercase(), DID.to_owned()] {
        create_session(&base, &identifier, &Secret::new(APP_PASSWORD.into())).await.unwrap();
    }
}

#[tokio::test]
async fn session_calls_report_rate_limits_outages_and_dead_tokens() {
    let (fake, base) = session_fake().await;
    let password = Secret::new(APP_PASSWORD.into());
    let handle = fake.handle();
    fake.rate_limit_next(Duration::from_secs(900));
    let e = create_session(&base, &handle, &password).await.unwrap_err();
    let PlatformError::RateLimited { reset_at: Some(reset), .. } = e else { panic!("{e:?}") };
    assert!(reset.millis() > SystemClock.now().millis() + 800_000, "the reset comes from ratelimit-reset");
    fake.fail_next(503);
    let e = create_session(&base, &handle, &password).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(503), .. }), "{e:?}");
    let session = create_session(&base, &handle, &password).await.unwrap();

    // A PDS that is down or rate limiting: try later, not reconnect.
    let endpoint = SessionEndpoint::new(base.clone()).unwrap();
    fake.fail_next(502);
    let e = refused(endpoint.refresh(&session.refresh, SystemClock.now()).await);
    assert!(matches!(e, RefreshError::Unavailable(ref why) if why.contains("502")), "{e}");
    fake.rate_limit_next(Duration::from_secs(60));
    let e = refused(endpoint.refresh(&session.refresh, SystemClock.now()).await);
    assert!(matches!(e, RefreshError::Unavailable(ref why) if why.contains("rate limiting")), "{e}");
    // Nothing was rotated by those: the refresh token still works.
    let fresh = endpoint.refresh(&session.refresh, SystemClock.now()).await.unwrap();

    // Not a refresh token this PDS signed: refused, connect again.
    for bad in [fresh.access.clone(), Secret::new("eyJhbGciOiJIUzI1NiJ9.e30.forged".into())] {
        let e = refused(endpoint.refresh(&bad, SystemClock.now()).await);
        assert!(
            matches!(e, RefreshError::NeedsReconnect(ref why)
                if why == "Bluesky refused the session's refresh token: Token could not be verified (InvalidToken)"),
            "{e}"
        );
    }
    let e = delete_session(&base, &Secret::new("garbage".into())).await.unwrap_err();
    assert!(matches!(e, PlatformError::TokenInvalid { .. }), "{e:?}");
    fake.fail_next(500);
    let e = delete_session(&base, &session.refresh).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: Some(500), .. }), "{e:?}");

    // Nothing listening.
    let gone = nothing_listening().await;
    let e = create_session(&gone, &handle, &password).await.unwrap_err();
    assert!(matches!(e, PlatformError::Down { status: None, .. }), "{e:?}");
    let e = SessionEndpoint::new(gone.clone()).unwrap().refresh(&session.refresh, SystemClock.now()).await;
    assert!(matches!(e, Err(RefreshError::Unavailable(_))));
    assert!(matches!(delete_session(&gone, &session.refresh).await, Err(PlatformError::Down { .. })));

    // The app password went to createSession only.
    for r in fake.requests() {
        let sent = format!("{} {:?} {}", r.path, r.headers, String::from_utf8_lossy(&r.body));
        assert_eq!(
            sent.contains(APP_PASSWORD),
            r.path.ends_with("/com.atproto.server.createSession"),
            "{sent}"
        );
    }
}

/// A Bluesky account whose session's access token expires in a minute
/// (inside the refresh margin).
async fn expiring_bluesky_account(
    app: &TestApp,
    fake: &PdsFake,
    session: &BlueskySession,
) -> (AccountId, Credentials) {
    let now = app.clock.now();
    let account = Account {
        id: format!("acct_{}", uuid::Uuid::now_v7().simple()).into(),
        platform: custodian::domain::Platform::Bluesky,
        handle: session.handle.clone(),
        external_id: session.did.clone(),
        base_url: Some(fake.base.clone()),
        status: Status::Active,
        status_reason: None,
        tags: Vec::new(),
        scopes: Vec::new(),
        token_expires_at: None,
        connected_by: "test".into(),
        created_at: now,
    };
    assert!(app.state.accounts.insert(&account).await.unwrap());
    let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
    let soon = Some(now.plus(Duration::from_secs(60)));
    vault.store(&account.id, CredentialKind::AccessToken, &session.access, soon, now).await.unwrap();
    vault.store(&account.id, CredentialKind::RefreshToken, &session.refresh, None, now).await.unwrap();
    (account.id, vault)
}

async fn fifty_callers_share_one_bluesky_session_refresh(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (fake, base) = session_fake().await;
    let session = create_session(&base, &fake.handle(), &Secret::new(APP_PASSWORD.into())).await.unwrap();
    let (account, vault) = expiring_bluesky_account(&app, &fake, &session).await;
    fake.slow_refresh(Duration::from_millis(150));
    let endpoint = Arc::new(SessionEndpoint::new(base.clone()).unwrap());
    let mut calls = Vec::new();
    for _ in 0..50 {
        let (refresher, endpoint, account) = (app.state.refresher.clone(), endpoint.clone(), account.clone());
        calls.push(tokio::spawn(async move { refresher.access_token(&account, endpoint.as_ref()).await }));
    }
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().unwrap().expose().to_owned());
    }
    let refreshes = |fake: &PdsFake| {
        fake.requests().iter().filter(|r| r.path == "/xrpc/com.atproto.server.refreshSession").count()
    };
    assert_eq!(refreshes(&fake), 1, "exactly one refreshSession");

    // The rotated refresh token replaced the used one; the expiry is the new JWT's exp.
    let stored = vault.open(&account, CredentialKind::RefreshToken).await.unwrap();
    assert_ne!(claims(&stored)["jti"], claims(&session.refresh)["jti"]);
    // (An access JWT carries no id: one signed in the same second as the
    // session's first, with the same claims, is the same string.)
    let access = vault.open(&account, CredentialKind::AccessToken).await.unwrap();
    assert!(tokens.iter().all(|t| t == access.expose()), "every caller uses the one refresh");
    let expires = vault.expires_at(&account, CredentialKind::AccessToken).await.unwrap().unwrap();
    assert_eq!(Some(expires.millis() / 1000), claims(&access)["exp"].as_i64());
    assert!(expires.millis() > app.clock.now().plus(Duration::from_secs(7000)).millis());

    // Fresh now: no further refresh; the token publishes.
    app.state.refresher.access_token(&account, endpoint.as_ref()).await.unwrap();
    assert_eq!(refreshes(&fake), 1);
    let bsky = Bluesky::new(base, session.did.clone(), Arc::new(SystemClock)).unwrap();
    bsky.publish(&Call { account_id: &account, token: &access }, &post("Refreshed once")).await.unwrap();
}

async fn a_deleted_bluesky_session_needs_reconnect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (fake, base) = session_fake().await;
    let session = create_session(&base, &fake.handle(), &Secret::new(APP_PASSWORD.into())).await.unwrap();
    let (account, _) = expiring_bluesky_account(&app, &fake, &session).await;
    delete_session(&base, &session.refresh).await.unwrap();
    let endpoint = SessionEndpoint::new(base).unwrap();
    let e = app.state.refresher.access_token(&account, &endpoint).await.unwrap_err();
    assert!(
        matches!(e, RefreshError::NeedsReconnect(ref why) if why.contains("Token has been revoked")),
        "{e}"
    );
    let listed = app.state.accounts.get(&account).await.unwrap().unwrap();
    assert_eq!(listed.status, Status::NeedsReconnect);
    let events = app.events_of("account.needs_reconnect").await;
    assert_eq!(events.len(), 1);
    let shown = serde_json::to_string(&events).unwrap() + &e.to_string() + &format!("{e:?}");
    assert!(!shown.contains(session.refresh.expose()) && !shown.contains(session.access.expose()));
    // The dead refresh token is not sent again.
    let sent = fake.requests().len();
    assert!(app.state.refresher.access_token(&account, &endpoint).await.is_err());
    assert_eq!(fake.requests().len(), sent);
}

on_both_backends!(fifty_callers_share_one_bluesky_session_refresh, a_deleted_bluesky_session_needs_reconnect);
