//! The pass-through proxy on every platform, against the platforms' fakes:
//! the exact path and query each fake receives; what the intent records
//! of a request (everything the platform reads); requests named by their
//! effect, not their endpoint; answers holding the account's credential
//! withheld; provoked refusals that renew nothing; and the account's rate
//! limit honoured.

use reqwest::Method;
use serde_json::{json, Value};

use custodian::clock::{Clock, SystemClock};
use custodian::domain::AccountId;
use custodian::vault::credentials::CredentialKind;

use crate::on_both_backends;
use crate::support::fakes::facebook::{GraphFake, Leak, IG_USER_ID, PAGE_ID};
use crate::support::fakes::{bluesky::PdsFake, linkedin::LinkedInFake, mastodon::MastodonFake, x::XFake};
use crate::support::{platform_account, platform_at, Backend, TestApp};
use crate::tokens::call;

const TOKEN: &str = "sealed-platform-token-0123456789";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

/// A running app, an active account on `platform` (tagged for alice's
/// group) with `secrets` sealed, and an API token of alice's for every
/// account action on it.
struct Proxied {
    app: TestApp,
    account: AccountId,
    token: String,
}

impl Proxied {
    async fn start(
        backend: Backend,
        platform: &str,
        base: &str,
        external_id: &str,
        secrets: &[(CredentialKind, &str)],
    ) -> Proxied {
        let app = TestApp::spawn_with(backend, platform_at(platform, base)).await;
        let account = platform_account(&app, platform, external_id, secrets).await;
        let (alice, _, _) = app.enrolled_browser("alice").await;
        let actions = custodian::action::ACCOUNT_ACTIONS;
        let body = json!({"name": "tool", "actions": actions, "accounts": [account], "expires_in_days": 7});
        let (status, created) = call(&alice, Method::POST, "/api/v1/tokens", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let token = created["token"].as_str().unwrap().to_owned();
        Proxied { app, account, token }
    }

    fn request(&self, method: Method, rest: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, self.app.url(&format!("/proxy/{}{rest}", self.account)))
            .bearer_auth(&self.token)
    }

    /// The last refusal recorded: its rule.
    async fn refused_rule(&self) -> Value {
        self.app
            .events_of("action.refused")
            .await
            .last()
            .map(|e| e["kind"]["rule"].clone())
            .unwrap_or_default()
    }
}

// The exact path and query each platform receives (below its API base).

async fn x_receives_the_path_below_its_base(backend: Backend) {
    let fake = XFake::start(TOKEN).await;
    let p =
        Proxied::start(backend, "x", &fake.base, "2244994945", &[(CredentialKind::AccessToken, TOKEN)]).await;
    let r = p
        .request(Method::GET, "/2/tweets/search/recent?query=from%3Aclinic&max_results=10")
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-custodian-audit-event"), "{}", r.status());
    assert_eq!(fake.requests()[0].path, "/2/tweets/search/recent?query=from%3Aclinic&max_results=10");
}

async fn mastodon_receives_the_path_below_its_base(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let p = Proxied::start(backend, "mastodon", &fake.base, "1090", &[(CredentialKind::AccessToken, TOKEN)])
        .await;
    let r = p.request(Method::GET, "/api/v1/statuses/1234/context?limit=5").send().await.unwrap();
    assert!(r.headers().contains_key("x-custodian-audit-event"), "{}", r.status());
    assert_eq!(fake.requests()[0].path, "/api/v1/statuses/1234/context?limit=5");
}

async fn facebook_receives_the_path_below_its_base(backend: Backend) {
    let fake = GraphFake::start(TOKEN).await;
    let p =
        Proxied::start(backend, "facebook", &fake.base, PAGE_ID, &[(CredentialKind::PageToken, TOKEN)]).await;
    let r = p.request(Method::POST, &format!("/{PAGE_ID}/feed?message=Open%20day")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(fake.requests()[0].path, format!("/v23.0/{PAGE_ID}/feed?message=Open%20day"));
}

async fn instagram_receives_the_path_below_its_base(backend: Backend) {
    let fake = GraphFake::start(TOKEN).await;
    let p =
        Proxied::start(backend, "instagram", &fake.base, IG_USER_ID, &[(CredentialKind::AccessToken, TOKEN)])
            .await;
    // A media container carries an image: it waits for a reviewer, and
    // reaches nothing.
    let r = p
        .request(
            Method::POST,
            &format!("/{IG_USER_ID}/media?image_url=https%3A%2F%2Fclinic.example%2Fa.jpg&caption=Hi"),
        )
        .send()
        .await
        .unwrap();
    let held: Value = r.json().await.unwrap();
    assert_eq!(held["error"], "held_for_review", "{held}");
    assert_eq!(held["findings"][0]["kind"], "media", "{held}");
    assert!(fake.requests().is_empty());
    // Publishing a container: the path below the API base, the platform's answer passed back.
    let r = p
        .request(Method::POST, &format!("/{IG_USER_ID}/media_publish?creation_id=1789"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the fake has no such container");
    assert!(r.text().await.unwrap().contains("Media ID is not available"));
    assert_eq!(fake.requests()[0].path, format!("/v23.0/{IG_USER_ID}/media_publish?creation_id=1789"));
}

async fn linkedin_receives_the_path_below_its_base(backend: Backend) {
    use crate::support::fakes::linkedin::ORGANIZATION;
    let fake = LinkedInFake::start(TOKEN).await;
    let p = Proxied::start(
        backend,
        "linkedin",
        &fake.base,
        ORGANIZATION,
        &[(CredentialKind::AccessToken, TOKEN)],
    )
    .await;
    let post = json!({
        "author": ORGANIZATION,
        "commentary": "Flu shots this Saturday",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false
    });
    let r = p
        .request(Method::POST, "/posts")
        .header("linkedin-version", "202601")
        .header("x-restli-protocol-version", "2.0.0")
        .json(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(fake.requests()[0].path, "/rest/posts", "not /rest/rest/posts");
    // The post must be the account's own.
    let theirs = json!({"author": "urn:li:organization:1", "commentary": "x"});
    let r = p.request(Method::POST, "/posts").json(&theirs).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("is not this account"));
    assert_eq!(fake.requests().len(), 1, "the other author's post reached nothing");
}

async fn bluesky_receives_the_path_below_its_base(backend: Backend) {
    let fake = PdsFake::start(TOKEN, DID).await;
    let p =
        Proxied::start(backend, "bluesky", &fake.base, DID, &[(CredentialKind::AccessToken, TOKEN)]).await;
    let uri = format!("at%3A%2F%2F{DID}%2Fapp.bsky.feed.post%2F3kabc");
    let r = p
        .request(Method::GET, &format!("/xrpc/app.bsky.feed.getPostThread?uri={uri}&depth=1"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-custodian-audit-event"), "{}", r.status());
    assert_eq!(fake.requests()[0].path, format!("/xrpc/app.bsky.feed.getPostThread?uri={uri}&depth=1"));
}

on_both_backends!(
    x_receives_the_path_below_its_base,
    mastodon_receives_the_path_below_its_base,
    facebook_receives_the_path_below_its_base,
    instagram_receives_the_path_below_its_base,
    linkedin_receives_the_path_below_its_base,
    bluesky_receives_the_path_below_its_base
);

/// What the platform reads is what the intent records: the query, a form,
/// multipart text; a body the proxy cannot read as the platform would is
/// refused on a publishing route.
async fn the_intent_records_everything_the_platform_reads(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let p = Proxied::start(backend, "mastodon", &fake.base, "1090", &[(CredentialKind::AccessToken, TOKEN)])
        .await;
    // Mastodon takes the status from the query: an empty body publishes it.
    let r = p.request(Method::POST, "/api/v1/statuses?status=Clinic%20closed%20Monday").send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(fake.requests()[0].path, "/api/v1/statuses?status=Clinic%20closed%20Monday");
    let content = |e: &Value| e["kind"]["content"]["text"].as_str().unwrap_or("").to_owned();
    let intents = p.app.events_of("action.intent").await;
    assert_eq!(content(&intents[0]), "query status: Clinic closed Monday");
    // A form.
    let r = p
        .request(Method::POST, "/api/v1/statuses")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("status=Flu+shots%21&visibility=public")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let intents = p.app.events_of("action.intent").await;
    assert_eq!(content(&intents[1]), "form status: Flu shots!\nform visibility: public");
    // Multipart text parts.
    let form = reqwest::multipart::Form::new().text("status", "Open day Saturday");
    let r = p.request(Method::POST, "/api/v1/statuses").multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let png = reqwest::multipart::Part::bytes(vec![0x89, b'P', b'N', b'G'])
        .file_name("a.png")
        .mime_str("image/png")
        .unwrap();
    let form =
        reqwest::multipart::Form::new().part("file", png).text("description", "The clinic's front door");
    let r = p.request(Method::POST, "/api/v2/media").multipart(form).send().await.unwrap();
    let intents = p.app.events_of("action.intent").await;
    assert_eq!(content(&intents[2]), "part status: Open day Saturday");
    // A media upload waits for a reviewer (the screen cannot read an
    // image): no intent, only the hold with the content's digest.
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    assert_eq!(intents.len(), 3);
    let holds = p.app.events_of("review.held").await;
    assert_eq!(holds.len(), 1, "{holds:?}");
    let held = &holds[0];
    assert_eq!(held["kind"]["content"]["recorded"], "digest", "{held}");
    assert!(!held.to_string().contains("front door"), "{held}");
    // What cannot be read as the platform reads it is refused, and reaches nothing.
    let sent = fake.requests().len();
    for (content_type, body) in [
        ("image/png", &b"\x89PNG"[..]),
        ("text/plain", b"status=hidden"),
        ("application/json", br#"{"status":"a","status":"b"}"#),
        ("application/x-www-form-urlencoded; charset=iso-8859-1", b"status=caf\xe9"),
    ] {
        let r = p
            .request(Method::POST, "/api/v1/statuses")
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{content_type}");
        assert_eq!(p.refused_rule().await, "proxy:content", "{content_type}");
    }
    assert_eq!(fake.requests().len(), sent);
}

/// A method-override parameter, or a credential of the caller's own, is
/// refused wherever it is; on Facebook a `POST /{id}` is named by what it
/// changes; Graph field lists naming a token are refused.
async fn routes_authorize_effects_not_endpoints(backend: Backend) {
    let fake = GraphFake::start(TOKEN).await;
    let p =
        Proxied::start(backend, "facebook", &fake.base, PAGE_ID, &[(CredentialKind::PageToken, TOKEN)]).await;
    let r = p.request(Method::POST, &format!("/{PAGE_ID}/feed?message=Original")).send().await.unwrap();
    let post: Value = r.json().await.unwrap();
    let post = post["id"].as_str().unwrap().to_owned();
    let comment = fake.comment_from("Pat", &post, "When do you open?");
    let sent = fake.requests().len();
    let cases = [
        (format!("/{post}?method=delete"), None, 400, "proxy:parameter"),
        (format!("/{post}"), Some("_method=DELETE"), 400, "proxy:parameter"),
        (format!("/{post}?message=x&access_token=mine"), None, 400, "proxy:parameter"),
        (format!("/{post}?is_hidden=true&message=x"), None, 403, "proxy:route"),
        (format!("/{post}?is_published=false"), None, 403, "proxy:route"),
    ];
    for (path, form, status, rule) in cases {
        let mut request = p.request(Method::POST, &path);
        if let Some(form) = form {
            request = request.header("content-type", "application/x-www-form-urlencoded").body(form);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), status, "{path} {form:?}");
        assert_eq!(p.refused_rule().await, rule, "{path} {form:?}");
    }
    let r = p
        .request(Method::GET, &format!("/{post}/comments?fields=id,from{{access_token}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(p.refused_rule().await, "proxy:fields");
    assert_eq!(fake.requests().len(), sent, "no refused request reached the platform");
    // Rewriting a post is post.edit, with what it says recorded; hiding a comment is comment.hide.
    let r = p.request(Method::POST, &format!("/{post}?message=Rewritten")).send().await.unwrap();
    assert!(r.headers().contains_key("x-custodian-audit-event"));
    let r = p.request(Method::POST, &format!("/{comment}?is_hidden=true")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert!(fake.is_hidden(&comment));
    let intents = p.app.events_of("action.intent").await;
    let named: Vec<(&str, &str)> = intents
        .iter()
        .map(|e| (e["kind"]["action"].as_str().unwrap(), e["kind"]["content"]["text"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        named,
        [
            ("post.publish", "query message: Original"),
            ("post.edit", "query message: Rewritten"),
            ("comment.hide", "")
        ]
    );
}

/// Bluesky record writes pass only for the collections that name an
/// action, in the account's own repository.
async fn bluesky_writes_are_named_by_collection_in_the_accounts_repo(backend: Backend) {
    let fake = PdsFake::start(TOKEN, DID).await;
    let p =
        Proxied::start(backend, "bluesky", &fake.base, DID, &[(CredentialKind::AccessToken, TOKEN)]).await;
    let write = |repo: &str, collection: &str, record: Value| json!({"repo": repo, "collection": collection, "record": record});
    let now = "2026-01-05T10:00:00.000Z";
    let post = json!({"$type": "app.bsky.feed.post", "text": "Open day", "createdAt": now});
    let r = p
        .request(Method::POST, "/xrpc/com.atproto.repo.createRecord")
        .json(&write(DID, "app.bsky.feed.post", post.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let created: Value = r.json().await.unwrap_or_default();
    let like = json!({"$type": "app.bsky.feed.like", "subject": {"uri": created["uri"], "cid": created["cid"]}, "createdAt": now});
    let r = p
        .request(Method::POST, "/xrpc/com.atproto.repo.createRecord")
        .json(&write(DID, "app.bsky.feed.like", like))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-custodian-audit-event"), "{}", r.status());
    let sent = fake.requests().len();
    let follow = json!({"$type": "app.bsky.graph.follow", "subject": "did:plc:z72i7hdynmk6r22z27h6tvur", "createdAt": now});
    let refused = [
        write(DID, "app.bsky.graph.follow", follow),
        write(DID, "app.bsky.actor.profile", json!({"displayName": "Not us"})),
        write("did:plc:z72i7hdynmk6r22z27h6tvur", "app.bsky.feed.post", post),
    ];
    for body in refused {
        let r =
            p.request(Method::POST, "/xrpc/com.atproto.repo.createRecord").json(&body).send().await.unwrap();
        assert_eq!(r.status(), 403, "{body}");
        assert_eq!(p.refused_rule().await, "proxy:route");
    }
    assert_eq!(fake.requests().len(), sent, "no refused write reached the PDS");
    let actions: Vec<String> = p
        .app
        .events_of("action.intent")
        .await
        .iter()
        .map(|e| e["kind"]["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["post.publish", "post.like"]);
}

on_both_backends!(
    the_intent_records_everything_the_platform_reads,
    routes_authorize_effects_not_endpoints,
    bluesky_writes_are_named_by_collection_in_the_accounts_repo
);

/// An answer holding the account's credential never reaches the caller,
/// wherever it is (a field, a paging link, a header; split across chunks),
/// and the withholding is recorded without the secret.
async fn an_answer_holding_the_credential_is_withheld(backend: Backend) {
    let fake = GraphFake::start(TOKEN).await;
    let stored_too = "EAAGuser-token-also-in-the-vault";
    let p = Proxied::start(
        backend,
        "facebook",
        &fake.base,
        PAGE_ID,
        &[(CredentialKind::PageToken, TOKEN), (CredentialKind::AccessToken, stored_too)],
    )
    .await;
    let r = p.request(Method::POST, &format!("/{PAGE_ID}/feed?message=Hello")).send().await.unwrap();
    let post: Value = r.json().await.unwrap();
    let post = post["id"].as_str().unwrap().to_owned();
    for (n, how) in [Leak::Field, Leak::NextLink, Leak::Header].into_iter().enumerate() {
        fake.leak_token_next(how);
        let r = p.request(Method::GET, &format!("/{post}/comments")).send().await.unwrap();
        assert_eq!(r.status(), 502, "{how:?}");
        let headers = format!("{:?}", r.headers());
        let text = r.text().await.unwrap();
        assert!(!text.contains(TOKEN) && !headers.contains(TOKEN), "{how:?}: {text} {headers}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], "credential_withheld", "{how:?}: {body}");
        let withheld = p.app.events_of("proxy.credential_withheld").await;
        assert_eq!(withheld.len(), n + 1, "{how:?}");
        let found_in = if matches!(how, Leak::Header) { "header etag" } else { "body" };
        assert_eq!(withheld[n]["kind"]["found_in"], found_in);
        assert_eq!(withheld[n]["kind"]["action"], "comment.list");
    }
    let outcome = p.app.events_of("action.outcome").await.pop().unwrap();
    assert_eq!(outcome["kind"]["ok"], false);
    let journal = serde_json::to_string(&p.app.events().await).unwrap();
    assert!(!journal.contains(TOKEN) && !journal.contains(stored_too), "no secret in the journal");
    // An answer without it passes.
    let r = p.request(Method::GET, &format!("/{post}/comments")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// A refusal the caller can provoke (a 401 that does not say the token
/// expired) is passed back as the platform's answer: it renews nothing, and
/// the account stays active.
async fn a_provoked_401_renews_nothing(backend: Backend) {
    let fake = PdsFake::start(TOKEN, DID).await;
    let secrets = [
        (CredentialKind::AccessToken, TOKEN),
        (CredentialKind::RefreshToken, "refresh-jwt-never-to-be-used"),
    ];
    let p = Proxied::start(backend, "bluesky", &fake.base, DID, &secrets).await;
    let uri = format!("at://{DID}/app.bsky.feed.post/3kabc");
    for _ in 0..5 {
        fake.fail_next(401);
        let r = p
            .request(Method::GET, "/xrpc/app.bsky.feed.getPostThread")
            .query(&[("uri", &uri)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "the platform's own answer");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "AuthenticationRequired");
    }
    let refreshes =
        fake.requests().iter().filter(|r| r.path.contains("com.atproto.server.refreshSession")).count();
    assert_eq!(refreshes, 0, "no renewal for a refusal that is not an expired token");
    assert_eq!(fake.requests().len(), 5);
    let account = p.app.state.accounts.get(&p.account).await.unwrap().unwrap();
    assert_eq!(account.status, custodian::domain::Status::Active);
    assert!(p.app.events_of("account.needs_reconnect").await.is_empty());
}

/// Once the platform has said no (429), the account is held back through
/// the proxy too: answered 429 with Retry-After, nothing sent, recorded.
async fn the_proxy_honours_the_accounts_rate_limit(backend: Backend) {
    let fake = MastodonFake::start(TOKEN).await;
    let p = Proxied::start(backend, "mastodon", &fake.base, "1090", &[(CredentialKind::AccessToken, TOKEN)])
        .await;
    fake.rate_limit_next(std::time::Duration::from_secs(120));
    let r = p
        .request(Method::POST, "/api/v1/statuses")
        .json(&json!({"status": "Too soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the platform's own answer");
    let r = p
        .request(Method::POST, "/api/v1/statuses")
        .json(&json!({"status": "Still too soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // The fake dates its reset by the real clock, which runs ahead of the app's manual one.
    let lag = (SystemClock.now().millis() - p.app.clock.now().millis()).max(0) / 1000;
    assert!((1..=121 + lag as u64).contains(&wait), "Retry-After {wait}, clocks {lag} s apart");
    assert!(r.headers().contains_key("x-custodian-audit-event"), "the intent was recorded");
    assert_eq!(fake.requests().len(), 1, "the held-back call was not sent");
    let outcome = p.app.events_of("action.outcome").await.pop().unwrap();
    assert_eq!(outcome["kind"]["ok"], false);
    p.app.clock.advance(std::time::Duration::from_secs(122 + lag as u64));
    let r = p.request(Method::POST, "/api/v1/statuses").json(&json!({"status": "Now"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

on_both_backends!(
    an_answer_holding_the_credential_is_withheld,
    a_provoked_401_renews_nothing,
    the_proxy_honours_the_accounts_rate_limit
);
