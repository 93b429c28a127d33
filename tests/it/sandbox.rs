//! The sandbox platform and the account list: practice accounts that post,
//! reply and moderate inside Custodian, refusing what a platform would; the
//! list shows accounts and never a credential.

use std::sync::Arc;

use custodian::audit::ChangedBy;
use custodian::clock::Clock;
use custodian::domain::{Image, NewPost};
use custodian::platforms::accounts::AccountError;
use custodian::platforms::sandbox::Sandbox;
use custodian::platforms::{Call, PlatformApi, PlatformError};
use custodian::secret::Secret;
use custodian::vault::credentials::CredentialKind;
use custodian::vault::Credentials;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

fn operator() -> ChangedBy {
    ChangedBy { actor: Default::default(), name: "cli:test".into(), meta: Default::default() }
}

fn post(text: &str) -> NewPost {
    NewPost { text: text.into(), ..NewPost::default() }
}

async fn sandbox_accounts_post_reply_moderate_and_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let accounts = &app.state.accounts;
    let now = app.clock.now();
    let tags = vec!["official".to_owned()];
    let clinic = accounts.add_sandbox(&app.state.journal, "clinic", &tags, &operator(), now).await.unwrap();
    let other = accounts.add_sandbox(&app.state.journal, "other", &[], &operator(), now).await.unwrap();
    assert_eq!(app.events_of("account.connect").await.len(), 2);
    let sandbox = Sandbox::new(app.state.db.clone(), Arc::new(app.clock.clone()));
    let token = Secret::new(String::new());
    let call = Call { account_id: &clinic.id, token: &token };
    let as_other = Call { account_id: &other.id, token: &token };

    let image = Image { bytes: vec![1, 2, 3], media_type: "image/png".into(), description: None };
    let first = NewPost {
        link: Some("https://clinic.example/flu".parse().unwrap()),
        image: Some(image),
        ..post("Flu shots this week")
    };
    let first = sandbox.publish(&call, &first).await.unwrap();
    let reply = sandbox.reply(&call, &first.id, &post("Walk-ins welcome")).await.unwrap();
    let rude = sandbox.reply(&call, &first.id, &post("(a reply to hide)")).await.unwrap();
    sandbox.hide_comment(&call, &rude.id).await.unwrap();
    let comments = sandbox.comments(&call, &first.id).await.unwrap();
    assert_eq!(comments.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["Walk-ins welcome"]);
    assert_eq!(comments[0].author, "clinic");
    let timeline = sandbox.timeline(&clinic.id, 10).await.unwrap();
    assert_eq!(timeline.len(), 3);
    assert_eq!(timeline.last().unwrap().link.as_deref(), Some("https://clinic.example/flu"));
    assert!(timeline.last().unwrap().has_image);

    // What a platform would refuse.
    let refused = |r: Result<_, PlatformError>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused(sandbox.publish(&call, &post("")).await).contains("needs text"));
    assert!(refused(sandbox.publish(&call, &post(&"x".repeat(501))).await).contains("500 characters"));
    assert!(refused(sandbox.reply(&call, "sbx_none", &post("x")).await).contains("does not exist"));
    assert!(matches!(sandbox.delete(&as_other, &first.id).await, Err(PlatformError::Permission { .. })));
    assert!(matches!(
        sandbox.hide_comment(&as_other, &reply.id).await,
        Err(PlatformError::Validation { .. })
    ));
    assert!(matches!(sandbox.comments(&call, "sbx_none").await, Err(PlatformError::Validation { .. })));
    assert!(matches!(sandbox.comments(&as_other, &first.id).await, Err(PlatformError::Validation { .. })));

    sandbox.delete_comment(&call, &reply.id).await.unwrap();
    assert!(sandbox.comments(&call, &first.id).await.unwrap().is_empty());
    sandbox.delete(&call, &first.id).await.unwrap();
    assert!(matches!(sandbox.delete(&call, &first.id).await, Err(PlatformError::Validation { .. })));
    assert_eq!(sandbox.timeline(&clinic.id, 10).await.unwrap().len(), 1, "only the hidden reply is left");
}

async fn the_account_list_never_shows_a_credential(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let accounts = &app.state.accounts;
    let now = app.clock.now();
    let added = accounts
        .add_sandbox(&app.state.journal, "clinic", &["official".into()], &operator(), now)
        .await
        .unwrap();
    let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
    let secret = "sandbox-app-password-never-shown";
    vault
        .store(&added.id, CredentialKind::AppPassword, &Secret::new(secret.into()), None, now)
        .await
        .unwrap();
    for (handle, tags) in [("bad handle", vec![]), ("ok", vec!["bad tag".to_owned()])] {
        let e = accounts.add_sandbox(&app.state.journal, handle, &tags, &operator(), now).await.unwrap_err();
        assert!(matches!(e, AccountError::Invalid(_)), "{e}");
    }
    let again = accounts.add_sandbox(&app.state.journal, "clinic", &[], &operator(), now).await.unwrap_err();
    assert!(matches!(again, AccountError::Exists(_)));
    assert_eq!(app.count("accounts").await, 1);

    let (carol, _, _) = app.enrolled_browser("carol").await;
    let r = carol.get("/api/v1/admin/accounts").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(secret) && !text.contains("v1.k1."), "no credential, sealed or not: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let listed = &body["accounts"][0];
    assert_eq!((listed["platform"].clone(), listed["handle"].clone()), ("sandbox".into(), "clinic".into()));
    assert_eq!(
        (listed["status"].clone(), listed["tags"].clone()),
        ("active".into(), serde_json::json!(["official"]))
    );
    let (alice, _, _) = app.enrolled_browser("alice").await;
    assert_eq!(alice.get("/api/v1/admin/accounts").await.status(), 403);
}

/// Staff see a practice account's posts as a timeline, through the same
/// action path a real platform takes.
async fn the_timeline_shows_what_was_posted(backend: Backend) {
    use custodian::domain::Action;
    use custodian::platforms::dispatch::Outcome;
    let app = TestApp::spawn_with(backend, |c| {
        c.directory.account_tags.insert("social-media-staff".into(), vec!["official".into()]);
    })
    .await;
    let now = app.clock.now();
    let official = ["official".to_owned()];
    let clinic = app
        .state
        .accounts
        .add_sandbox(&app.state.journal, "clinic", &official, &operator(), now)
        .await
        .unwrap();
    let other =
        app.state.accounts.add_sandbox(&app.state.journal, "other", &[], &operator(), now).await.unwrap();
    let run = |action: Action| {
        let (app, id) = (&app, clinic.id.clone());
        async move { crate::support::act(app, &id, action).await.unwrap() }
    };
    let id_of = |o: Outcome| match o {
        Outcome::Published(p) => p.id,
        other => panic!("not published: {other:?}"),
    };
    let first = id_of(run(Action::Publish(post("Flu shots <b>today</b> & tomorrow"))).await);
    let reply = Action::Reply { in_reply_to: first.clone(), post: post("Thanks, see you there") };
    let reply = id_of(run(reply).await);
    run(Action::HideComment { comment_id: reply }).await;
    let gone = id_of(run(Action::Publish(post("A post deleted later"))).await);
    run(Action::Delete { post_id: gone }).await;

    let (alice, _, _) = app.enrolled_browser("alice").await;
    let home = alice.get_text("/").await;
    assert!(
        home.contains(&format!("href=\"/sandbox/{}\"", clinic.id)),
        "the home page links the practice account"
    );
    assert!(!home.contains(other.id.as_str()), "but not one no policy lets alice act on");
    let page = alice.get_text(&format!("/sandbox/{}", clinic.id)).await;
    assert!(
        page.contains("Flu shots &lt;b&gt;today&lt;/b&gt; &amp; tomorrow"),
        "text is shown escaped: {page}"
    );
    assert!(page.contains("Hidden by the account"), "{page}");
    assert!(!page.contains("Thanks, see you there"), "a hidden comment's words are not shown: {page}");
    assert!(!page.contains("A post deleted later"));
    let missing = alice.get("/sandbox/acct_nope").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("no practice account"));
    assert_eq!(app.browser().get(&format!("/sandbox/{}", clinic.id)).await.status(), 401);

    // The web door: a form on the timeline, through the same action path.
    let csrf = crate::support::browser::csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("text", "Posted from the timeline")];
    let r = alice.post_form(&format!("/accounts/{}/posts", clinic.id), &form).await;
    assert_eq!(r.status(), 303);
    assert!(alice.get_text(&format!("/sandbox/{}", clinic.id)).await.contains("Posted from the timeline"));
    let intent = app.events_of("action.intent").await.pop().unwrap();
    assert_eq!(intent["kind"]["door"], "ui");
    let r = alice.post_form(&format!("/accounts/{}/posts", other.id), &form).await;
    assert_eq!(r.status(), 403);
    let refused = r.text().await.unwrap();
    assert!(
        refused.contains("no policy allows you post.publish on other") && refused.contains("rule: no-permit")
    );
    let r = alice.post_form(&format!("/accounts/{}/posts", clinic.id), &[("text", "no csrf")]).await;
    assert_eq!(r.status(), 403, "the form needs its CSRF token");
}

/// The URL a publication on a practice account answers with opens that
/// post, with its replies, for whom policy lets read the account; the
/// account's pages are closed to anyone else, and the refusal recorded.
async fn a_published_posts_url_opens_it_for_who_may_read_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (clinic, cardiology) = app.practice_accounts().await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (dave, _, _) = app.enrolled_browser("dave").await; // an auditor: no account action
    let (status, published) = crate::tokens::call(
        &alice,
        reqwest::Method::POST,
        &format!("/api/v1/accounts/{clinic}/posts"),
        Some(serde_json::json!({"text": "Flu shots on Saturday"})),
    )
    .await;
    assert_eq!(status, 201, "{published}");
    let url = published["url"].as_str().unwrap().to_owned();
    let id = published["id"].as_str().unwrap().to_owned();
    let reply = crate::support::act(
        &app,
        &clinic,
        custodian::domain::Action::Reply { in_reply_to: id.clone(), post: post("See you there") },
    )
    .await
    .unwrap();
    assert!(matches!(reply, custodian::platforms::dispatch::Outcome::Published(_)));

    let r = alice.get(&url).await;
    assert_eq!(r.status(), 200, "{url}");
    let page = r.text().await.unwrap();
    assert!(page.contains("Flu shots on Saturday") && page.contains("See you there"), "{page}");
    assert!(page.contains(&format!("href=\"/sandbox/{clinic}\"")), "the timeline is a click away: {page}");

    // Nobody else reads the account: the post, the timeline, a practice comment.
    let r = dave.get(&url).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("no policy allows you comment.list on clinic"));
    assert_eq!(dave.get(&format!("/sandbox/{clinic}")).await.status(), 403);
    assert_eq!(alice.get(&format!("/sandbox/{cardiology}")).await.status(), 403);
    assert_eq!(alice.get(&format!("/sandbox/{cardiology}/{id}")).await.status(), 403);
    let refused = app.events_of("action.refused").await;
    assert_eq!(refused.len(), 4, "each refusal recorded: {refused:?}");
    assert!(refused.iter().all(|e| e["kind"]["action"] == "comment.list" && e["kind"]["door"] == "ui"));
    // Unknown posts, and a signed-out visitor.
    let r = alice.get(&format!("/sandbox/{clinic}/sbx_nope")).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("has no post"));
    assert_eq!(app.browser().get(&url).await.status(), 401);
}

on_both_backends!(
    a_published_posts_url_opens_it_for_who_may_read_the_account,
    sandbox_accounts_post_reply_moderate_and_delete,
    the_account_list_never_shows_a_credential,
    the_timeline_shows_what_was_posted,
    the_home_page_lists_only_the_accounts_policy_opens,
);

async fn the_home_page_lists_only_the_accounts_policy_opens(backend: Backend) {
    let contact = "the IT service desk (ext. 4357)";
    let app = TestApp::spawn_with(backend, |c| c.directory.help_contact = contact.into()).await;
    let (clinic, cardiology) = app.practice_accounts().await;
    // alice (social-media-staff, which grants the tag `official`): clinic only.
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let home = alice.get_text("/").await;
    assert!(home.contains(&format!("href=\"/sandbox/{clinic}\"")), "{home}");
    assert!(!home.contains(cardiology.as_str()) && !home.contains("cardiology"), "{home}");
    assert!(home.contains("post.publish"), "what she may do there: {home}");
    assert!(!home.contains("No account is open to you"), "{home}");
    // dave (auditor): no account action, and told whom to ask.
    let (dave, _, _) = app.enrolled_browser("dave").await;
    let home = dave.get_text("/").await;
    assert!(!home.contains("/sandbox/"), "{home}");
    assert!(home.contains("No account is open to you"), "{home}");
    assert!(home.contains(contact), "{home}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_from_the_command_line() {
    use crate::cli::{custodian, write_config};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "custodian.toml", "");
    let db_url = app.state.config.database_url();
    let k1 = app.state.config.keys.ring["k1"].expose().to_owned();
    let run = |args: &[&str]| {
        custodian()
            .args(args)
            .arg("--config")
            .arg(&config)
            .args(["--database", &db_url])
            .env("CUSTODIAN_KEYS__RING__K1", &k1)
            .output()
            .unwrap()
    };
    let out =
        run(&["accounts", "add-sandbox", "clinic", "--tag", "official", "--tag", "department:cardiology"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["accounts", "add-sandbox", "clinic"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a sandbox account named \"clinic\" exists"));
    let out = run(&["accounts", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("\tsandbox\tclinic\tactive\t")
            && listed.contains("tags=official,department:cardiology"),
        "{listed}"
    );
    let id = listed.split('\t').next().unwrap().to_owned();
    let out = run(&["accounts", "disconnect", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("disconnected sandbox clinic"));
    let listed = String::from_utf8_lossy(&run(&["accounts", "list"]).stdout).into_owned();
    assert!(listed.contains("\tsandbox\tclinic\tdisconnected\t"), "{listed}");
    let out = run(&["accounts", "disconnect", "acct_nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no account \"acct_nope\""));
}
