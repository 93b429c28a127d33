//! The Bluesky adapter and app-password sessions against the reference PDS
//! (@atproto/pds, which scripts/test starts on loopback with an in-memory
//! PLC directory and hands over as `CUSTODIAN_TEST_PDS`). Each test makes
//! its own accounts (handles under `.test`, no invite), signs in with an
//! app password, and checks every write by reading the repository back
//! (`com.atproto.repo.getRecord` / `listRecords`, `com.atproto.sync.getBlob`).
//!
//! The test PDS has no AppView: `app.bsky.*` reads, which a PDS forwards
//! there, are refused with 400 "No service configured for …", so listing a
//! post's replies is checked only for that clear refusal here (the fake PDS
//! covers the thread's shape). Its rate limits are off.

use std::sync::Arc;
use std::time::Duration;

use custodian::clock::{Clock, SystemClock};
use custodian::domain::{Image, NewPost};
use custodian::platforms::bluesky::Bluesky;
use custodian::platforms::bluesky_session::{
    create_session, delete_session, BlueskySession, SessionEndpoint,
};
use custodian::platforms::refresh::{RefreshError, TokenEndpoint};
use custodian::platforms::{Call, PlatformApi, PlatformError};
use custodian::secret::Secret;

use crate::bluesky::{claims, refused};
use rand::Rng;
use serde_json::{json, Value};
use url::Url;

const POST: &str = "app.bsky.feed.post";
const THREADGATE: &str = "app.bsky.feed.threadgate";

/// A 1×1 PNG: the PDS reads an upload's type from its bytes.
const PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xdf, 0xc0, 0xf0, 0x1f, 0x00, 0x06,
    0x80, 0x02, 0x7f, 0x10, 0x4c, 0x1b, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

fn pds() -> Url {
    std::env::var("CUSTODIAN_TEST_PDS")
        .expect("CUSTODIAN_TEST_PDS is not set: run the suite with scripts/test, which starts the reference Bluesky PDS")
        .parse()
        .expect("CUSTODIAN_TEST_PDS is a URL")
}

/// One XRPC call as a Bluesky client makes it; the status and the JSON answer.
async fn xrpc(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the PDS answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn method(base: &Url, nsid: &str) -> String {
    format!("{}/xrpc/{nsid}", base.as_str().trim_end_matches('/'))
}

/// An account on the PDS: its DID, handle and a full-access token (what
/// the owner's own client holds; Custodian never sees it).
struct Owner {
    did: String,
    handle: String,
    access: String,
}

async fn new_account(base: &Url) -> Owner {
    let name: String = {
        let mut rng = rand::thread_rng();
        (0..10).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)])).collect()
    };
    let handle = format!("c{name}.test");
    let input = json!({"handle": handle, "email": format!("{name}@clinic.example"), "password": format!("pw-{name}-main")});
    let (status, account) =
        xrpc(reqwest::Client::new().post(method(base, "com.atproto.server.createAccount")).json(&input))
            .await;
    assert_eq!(status, 200, "createAccount: {account}");
    Owner {
        did: account["did"].as_str().unwrap().to_owned(),
        handle: account["handle"].as_str().unwrap().to_owned(),
        access: account["accessJwt"].as_str().unwrap().to_owned(),
    }
}

/// What an admin does in Bluesky's settings before connecting the account.
async fn app_password(base: &Url, owner: &Owner) -> Secret {
    let (status, created) = xrpc(
        reqwest::Client::new()
            .post(method(base, "com.atproto.server.createAppPassword"))
            .bearer_auth(&owner.access)
            .json(&json!({"name": "Custodian"})),
    )
    .await;
    assert_eq!(status, 200, "createAppPassword: {created}");
    assert_eq!(created["privileged"], false);
    Secret::new(created["password"].as_str().unwrap().to_owned())
}

async fn connected_account(base: &Url) -> (Owner, BlueskySession) {
    let owner = new_account(base).await;
    let password = app_password(base, &owner).await;
    let session = create_session(base, &owner.handle, &password).await.unwrap();
    (owner, session)
}

/// `(did, collection, rkey)` of an `at://` URI.
fn parts(uri: &str) -> (String, String, String) {
    let mut p = uri.strip_prefix("at://").unwrap().split('/').map(str::to_owned);
    (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
}

async fn get_record(base: &Url, uri: &str) -> (u16, Value) {
    let (repo, collection, rkey) = parts(uri);
    let mut url: Url = method(base, "com.atproto.repo.getRecord").parse().unwrap();
    url.query_pairs_mut()
        .append_pair("repo", &repo)
        .append_pair("collection", &collection)
        .append_pair("rkey", &rkey);
    xrpc(reqwest::Client::new().get(url)).await
}

async fn list_records(base: &Url, repo: &str, collection: &str) -> Vec<Value> {
    let mut url: Url = method(base, "com.atproto.repo.listRecords").parse().unwrap();
    url.query_pairs_mut().append_pair("repo", repo).append_pair("collection", collection);
    let (status, listed) = xrpc(reqwest::Client::new().get(url)).await;
    assert_eq!(status, 200, "listRecords: {listed}");
    listed["records"].as_array().unwrap().clone()
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

#[tokio::test]
async fn the_adapter_publishes_replies_hides_and_deletes_on_the_reference_pds() {
    let base = pds();
    let (owner, session) = connected_account(&base).await;
    assert_eq!((session.did.as_str(), session.handle.as_str()), (owner.did.as_str(), owner.handle.as_str()));
    assert_eq!(claims(&session.access)["scope"], "com.atproto.appPass", "an app-password session");
    let bsky = Bluesky::new(base.clone(), session.did.clone(), Arc::new(SystemClock)).unwrap();
    let call = Call { account_id: &"acct_pds".into(), token: &session.access };

    // Text.
    let text = bsky.publish(&call, &post("Grippe-Impfung: Praxis geöffnet 🩺")).await.unwrap();
    let (status, record) = get_record(&base, &text.id).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["value"]["text"], "Grippe-Impfung: Praxis geöffnet 🩺");
    assert_eq!(record["value"]["$type"], POST);
    assert_eq!(parts(&text.id).0, owner.did);

    // Text and a link: the facet's offsets in UTF-8 bytes, as the PDS stores them.
    let link = "https://clinic.example/grippe?tag=montag";
    let with_link = NewPost { link: Some(link.parse().unwrap()), ..post("Termine — 日本語も") };
    let linked = bsky.publish(&call, &with_link).await.unwrap();
    let (_, record) = get_record(&base, &linked.id).await;
    let stored = record["value"]["text"].as_str().unwrap();
    let facet = &record["value"]["facets"][0];
    assert_eq!(facet["features"][0], json!({"$type": "app.bsky.richtext.facet#link", "uri": link}));
    let (start, end) = (
        facet["index"]["byteStart"].as_u64().unwrap() as usize,
        facet["index"]["byteEnd"].as_u64().unwrap() as usize,
    );
    assert_eq!(&stored.as_bytes()[start..end], link.as_bytes());

    // Text and an image: the blob uploaded, embedded, and served back.
    let image =
        Image { bytes: PNG.to_vec(), media_type: "image/png".into(), description: Some("The door".into()) };
    let pictured =
        bsky.publish(&call, &NewPost { image: Some(image), ..post("Our new door") }).await.unwrap();
    let (_, record) = get_record(&base, &pictured.id).await;
    let embedded = &record["value"]["embed"]["images"][0];
    assert_eq!((&embedded["alt"], &embedded["image"]["mimeType"]), (&json!("The door"), &json!("image/png")));
    let cid = embedded["image"]["ref"]["$link"].as_str().unwrap();
    let mut url: Url = method(&base, "com.atproto.sync.getBlob").parse().unwrap();
    url.query_pairs_mut().append_pair("did", &owner.did).append_pair("cid", cid);
    let blob = reqwest::get(url).await.unwrap();
    assert_eq!(blob.status(), 200);
    assert_eq!(blob.bytes().await.unwrap().as_ref(), PNG.as_slice());

    // A reply of our own, and one from someone else (another account on the PDS).
    let own_reply = bsky.reply(&call, &text.id, &post("Walk-ins welcome")).await.unwrap();
    let (_, record) = get_record(&base, &own_reply.id).await;
    let (_, parent) = get_record(&base, &text.id).await;
    let strong_ref = json!({"uri": text.id, "cid": parent["cid"]});
    assert_eq!(record["value"]["reply"], json!({"root": strong_ref, "parent": strong_ref}));
    let (follower, follower_session) = connected_account(&base).await;
    let theirs = Bluesky::new(base.clone(), follower.did.clone(), Arc::new(SystemClock)).unwrap();
    let follower_call = Call { account_id: &"acct_follower".into(), token: &follower_session.access };
    let spam = theirs.reply(&follower_call, &own_reply.id, &post("Buy followers")).await.unwrap();
    let (_, record) = get_record(&base, &spam.id).await;
    assert_eq!(record["value"]["reply"]["root"], strong_ref, "the thread's root, through our reply");

    // Hiding it: the root's threadgate, created, then updated with a swap.
    bsky.hide_comment(&call, &spam.id).await.unwrap();
    let other = theirs.reply(&follower_call, &text.id, &post("When do you open?")).await.unwrap();
    bsky.hide_comment(&call, &other.id).await.unwrap();
    bsky.hide_comment(&call, &other.id).await.unwrap();
    let gates = list_records(&base, &owner.did, THREADGATE).await;
    assert_eq!(gates.len(), 1);
    assert_eq!(parts(gates[0]["uri"].as_str().unwrap()).2, parts(&text.id).2, "keyed by the root post");
    assert_eq!(gates[0]["value"]["post"], text.id.as_str());
    assert_eq!(gates[0]["value"]["hiddenReplies"], json!([spam.id, other.id]));
    assert!(gates[0]["value"].get("allow").is_none(), "who may reply stays as it was");

    // Listing replies needs an AppView, which this PDS does not have: a clear refusal.
    let e = bsky.comments(&call, &text.id).await.unwrap_err();
    assert!(
        matches!(e, PlatformError::Validation { ref message }
            if message == "No service configured for app.bsky.feed.getPostThread"),
        "{e:?}"
    );

    // Deleting our reply: gone from the repository; the rest stays.
    bsky.delete(&call, &own_reply.id).await.unwrap();
    let (status, gone) = get_record(&base, &own_reply.id).await;
    assert_eq!((status, gone["error"].as_str()), (400, Some("RecordNotFound")));
    let mut listed: Vec<String> = list_records(&base, &owner.did, POST)
        .await
        .iter()
        .map(|r| r["uri"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut expected = vec![text.id.clone(), linked.id.clone(), pictured.id.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    // Deleting again changes nothing and succeeds, as XRPC's deleteRecord does.
    bsky.delete(&call, &own_reply.id).await.unwrap();
}

#[tokio::test]
async fn app_password_sessions_rotate_and_end_on_the_reference_pds() {
    let base = pds();
    let owner = new_account(&base).await;
    let password = app_password(&base, &owner).await;

    // A wrong app password, or the right one for another handle: refused, not repeated.
    for (identifier, tried) in [
        (owner.handle.clone(), Secret::new("aaaa-bbbb-cccc-dddd".into())),
        ("nobody.test".to_owned(), password.clone()),
    ] {
        let e = create_session(&base, &identifier, &tried).await.unwrap_err();
        assert!(
            matches!(e, PlatformError::TokenInvalid { ref message }
                if message == "Bluesky refused the identifier or app password (Invalid identifier or password)"),
            "{e:?}"
        );
        assert!(!format!("{e} {e:?}").contains(tried.expose()));
    }

    let before = SystemClock.now();
    let session = create_session(&base, &owner.handle, &password).await.unwrap();
    let expires = session.access_expires_at.unwrap();
    assert!(expires.millis() > before.plus(Duration::from_secs(600)).millis(), "minutes ahead at least");
    assert_eq!(Some(expires.millis() / 1000), claims(&session.access)["exp"].as_i64());
    let bsky = Bluesky::new(base.clone(), session.did.clone(), Arc::new(SystemClock)).unwrap();
    let account_id = custodian::domain::AccountId::from("acct_pds");
    let call = |token| Call { account_id: &account_id, token };

    // A refresh: a new pair; the new access token publishes.
    let endpoint = SessionEndpoint::new(base.clone()).unwrap();
    let fresh = endpoint.refresh(&session.refresh, SystemClock.now()).await.unwrap();
    let rotated = fresh.refresh.unwrap();
    assert_ne!(claims(&rotated)["jti"], claims(&session.refresh)["jti"], "the refresh token rotates");
    assert_eq!(fresh.expires_at.map(|t| t.millis() / 1000), claims(&fresh.access)["exp"].as_i64());
    bsky.publish(&call(&fresh.access), &post("After a refresh")).await.unwrap();

    // The used refresh token is not refused at once: for up to two hours
    // the reference PDS answers its successor again (same jti), so a
    // retried refresh does not fork the session. (Refused after that; the
    // fake PDS's tests move time forward to show it.)
    let again = endpoint.refresh(&session.refresh, SystemClock.now()).await.unwrap();
    assert_eq!(claims(&again.refresh.unwrap())["jti"], claims(&rotated)["jti"]);
    let next = endpoint.refresh(&rotated, SystemClock.now()).await.unwrap();
    let latest = next.refresh.unwrap();

    // Not a refresh token this PDS signed: connect again.
    for bad in [next.access.clone(), Secret::new("eyJhbGciOiJIUzI1NiJ9.e30.forged".into())] {
        let e = refused(endpoint.refresh(&bad, SystemClock.now()).await);
        assert!(
            matches!(e, RefreshError::NeedsReconnect(ref why)
                if why == "Bluesky refused the session's refresh token: Token could not be verified (InvalidToken)"),
            "{e}"
        );
    }

    // A disconnect: the refresh token is revoked...
    delete_session(&base, &latest).await.unwrap();
    let e = refused(endpoint.refresh(&latest, SystemClock.now()).await);
    assert!(
        matches!(e, RefreshError::NeedsReconnect(ref why)
            if why == "Bluesky refused the session's refresh token: Token has been revoked (ExpiredToken)"),
        "{e}"
    );
    delete_session(&base, &latest).await.unwrap();
    // ...but the PDS leaves the access token valid until its exp, and a
    // predecessor still inside its grace period revives the session: a
    // disconnect must also drop every token Custodian holds.
    bsky.publish(&call(&next.access), &post("Still valid until exp")).await.unwrap();
    assert!(endpoint.refresh(&rotated, SystemClock.now()).await.is_ok(), "the predecessor revives it");

    // A PDS that is not there: later, not reconnect.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone: Url = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
    drop(listener);
    let e = refused(SessionEndpoint::new(gone).unwrap().refresh(&latest, SystemClock.now()).await);
    assert!(matches!(e, RefreshError::Unavailable(_)), "{e}");
}
