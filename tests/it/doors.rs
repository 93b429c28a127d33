//! Every gate refuses through every door: the web form, the JSON API with
//! a session, the JSON API with a personal API token, and the pass-through
//! proxy. For each case the refusal says why, is recorded in the audit
//! journal, and the platform (a faithful Mastodon fake) receives nothing.
//! And for each success, the intent was committed to the journal before
//! the platform saw the request: the fake looks at the journal as each
//! request arrives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use custodian::clock::Clock;
use custodian::config::Config;
use custodian::domain::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::browser::Browser;
use crate::support::fakes::mastodon::MastodonFake;
use crate::support::fakes::Witness;
use crate::support::scim::{scim_mode, ScimClient};
use crate::support::{mastodon_account, with_mastodon, Backend, TestApp};
use crate::tokens::call;

const TOKEN: &str = "sealed-mastodon-token-for-the-doors";
/// Every account action: the token the doors use may take them all.
const ALL: [&str; 9] = custodian::action::ACCOUNT_ACTIONS;

#[derive(Debug, Clone, Copy)]
enum Door {
    Form,
    Api,
    Token,
    Proxy,
}

struct Doors {
    app: TestApp,
    fake: MastodonFake,
    account: AccountId,
    alice: Browser,
    token: String,
}

fn by() -> custodian::audit::ChangedBy {
    custodian::audit::ChangedBy { actor: Default::default(), name: "test".into(), meta: Default::default() }
}

/// An app on a fake Mastodon, a Mastodon account tagged for alice, alice
/// signed in with her second factor, and her API token for every action on
/// it. `before_sign_in` runs first (training records, SCIM provisioning).
async fn doors(
    backend: Backend,
    adjust: impl FnOnce(&mut Config) + Send + 'static,
    witness: Option<Witness>,
    before_sign_in: impl AsyncFnOnce(&TestApp),
) -> Doors {
    let fake = match witness {
        Some(w) => MastodonFake::start_witnessed(TOKEN, w).await,
        None => MastodonFake::start(TOKEN).await,
    };
    let base = fake.base.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        with_mastodon(c, &base);
        adjust(c);
    })
    .await;
    before_sign_in(&app).await;
    let account = mastodon_account(&app, TOKEN).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let token = token_for(&alice, &account, &ALL).await;
    Doors { app, fake, account, alice, token }
}

async fn plain(backend: Backend) -> Doors {
    doors(backend, |_| {}, None, async |_| {}).await
}

async fn token_for(who: &Browser, account: &str, actions: &[&str]) -> String {
    let body =
        json!({"name": "automation", "actions": actions, "accounts": [account], "expires_in_days": 30});
    let (status, created) = call(who, Method::POST, "/api/v1/tokens", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap().to_owned()
}

impl Doors {
    /// Publishes `text` through `door`: the status and the body, as text.
    async fn publish(&self, door: Door, text: &str) -> (u16, String) {
        let api = format!("/api/v1/accounts/{}/posts", self.account);
        let r = match door {
            Door::Form => {
                let form = format!("/accounts/{}/posts", self.account);
                self.alice.post_form(&form, &[("csrf", &self.alice.csrf()), ("text", text)]).await
            }
            Door::Api => self.alice.send_json(Method::POST, &api, Some(json!({"text": text}))).await,
            Door::Token => self.bearer(Method::POST, &api).json(&json!({"text": text})).send().await.unwrap(),
            Door::Proxy => {
                let path = format!("/proxy/{}/api/v1/statuses", self.account);
                self.bearer(Method::POST, &path).json(&json!({"status": text})).send().await.unwrap()
            }
        };
        answer(r).await
    }

    /// Deletes `post` through `door` (the web door has no delete form).
    async fn delete(&self, door: Door, post: &str) -> (u16, String) {
        let api = format!("/api/v1/accounts/{}/posts/{post}", self.account);
        let r = match door {
            Door::Form | Door::Api => self.alice.send_json(Method::DELETE, &api, None).await,
            Door::Token => self.bearer(Method::DELETE, &api).send().await.unwrap(),
            Door::Proxy => {
                let path = format!("/proxy/{}/api/v1/statuses/{post}", self.account);
                self.bearer(Method::DELETE, &path).send().await.unwrap()
            }
        };
        answer(r).await
    }

    fn bearer(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().request(method, self.app.url(path)).bearer_auth(&self.token)
    }

    async fn denials(&self) -> usize {
        self.app.events().await.iter().filter(|e| e["decision"] == "denied").count()
    }

    /// Each door in turn: refused as expected, recorded, and the platform untouched.
    async fn refused(&self, expected: &[(Door, u16, &str)], op: impl AsyncFn(&Doors, Door) -> (u16, String)) {
        for (door, status, says) in expected {
            let (requests, denials) = (self.fake.requests().len(), self.denials().await);
            let (got, body) = op(self, *door).await;
            assert_eq!(got, *status, "{door:?}: {body}");
            assert!(body.contains(says), "{door:?} should say {says:?}: {body}");
            assert_eq!(self.fake.requests().len(), requests, "{door:?}: the platform received something");
            assert!(self.denials().await > denials, "{door:?}: the refusal was not recorded");
            // Refusals at the gate are recorded once a minute per source: step past that.
            self.app.clock.advance(Duration::from_secs(61));
        }
    }

    /// A post made while everything is allowed (for the delete cases).
    async fn a_post(&self) -> String {
        let (status, body) = self.publish(Door::Api, "To be deleted").await;
        assert_eq!(status, 201, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap().to_owned()
    }
}

async fn answer(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

async fn publish(d: &Doors, door: Door) -> (u16, String) {
    d.publish(door, "Flu shots this Saturday").await
}

/// The same answer at every door: the form shows `page` words, the others the JSON `code`.
fn every_door(status: u16, page: &'static str, code: &'static str) -> Vec<(Door, u16, &'static str)> {
    vec![
        (Door::Form, status, page),
        (Door::Api, status, code),
        (Door::Token, status, code),
        (Door::Proxy, status, code),
    ]
}

async fn not_allow_listed(backend: Backend) {
    let d = plain(backend).await;
    // The IdP moved alice to a group that grants nothing (as her next sign-in brings it).
    sqlx::query("UPDATE users SET groups_json = '[\"cafeteria\"]' WHERE email = 'alice@clinic.example'")
        .execute(d.app.state.db.pool())
        .await
        .unwrap();
    d.refused(&every_door(403, "not on the allow-list", "not_allow_listed"), publish).await;
}

async fn inactive_in_the_directory(backend: Backend) {
    let scim_token = Arc::new(Mutex::new(String::new()));
    let set = scim_token.clone();
    let d = doors(
        backend,
        move |c| *set.lock().unwrap() = scim_mode(c),
        None,
        async |app: &TestApp| {
            let token = scim_token.lock().unwrap().clone();
            let scim = ScimClient::new(&app.base, &token);
            let alice = scim.provision("alice").await;
            scim.group("social-media-staff", &[&alice]).await;
        },
    )
    .await;
    // Deactivated in the directory (whether or not the revocation that follows has run yet).
    sqlx::query("UPDATE directory_users SET active = 0").execute(d.app.state.db.pool()).await.unwrap();
    d.refused(&every_door(403, "deactivated in the directory", "directory_inactive"), publish).await;
}

async fn training_expired(backend: Backend) {
    let course = "hipaa-social-media";
    let adjust = move |c: &mut Config| {
        let required =
            custodian::directory::config::Course { id: course.into(), renewal_months: 12, roles: vec![] };
        c.training.courses.push(required);
        c.session.idle_timeout = Duration::from_secs(7 * 86_400);
        c.session.absolute_lifetime = Duration::from_secs(7 * 86_400);
    };
    let d = doors(backend, adjust, None, async |app: &TestApp| {
        let today = custodian::directory::training::millis_date(app.clock.now().millis());
        let tomorrow = today.succ_opt().unwrap();
        let fields = ["alice@clinic.example", course, &today.to_string(), &tomorrow.to_string(), "lms"]
            .map(str::to_owned);
        app.state.directory().record_completion(fields, &by()).await.unwrap();
    })
    .await;
    d.app.clock.advance(Duration::from_secs(2 * 86_400));
    // The IdP's clock does not jump with the test's: every token it mints now
    // (the owner re-check's refreshed ID token among them) would look two
    // days old, expired. The owner is taken as re-checked at the new time.
    sqlx::query("UPDATE idp_refresh SET confirmed_at = $1")
        .bind(d.app.clock.now().millis())
        .execute(d.app.state.db.pool())
        .await
        .unwrap();
    d.refused(&every_door(403, "training expired", "training_expired"), publish).await;
}

async fn no_second_factor(backend: Backend) {
    let d = plain(backend).await;
    // A session whose second factor is still due; and a factor reset by an
    // admin (a lost phone), which takes the tokens made with it along.
    let pending = d.app.browser();
    pending.sign_in("alice").await;
    let csrf = pending.csrf();
    let r =
        pending.post_form(&format!("/accounts/{}/posts", d.account), &[("csrf", &csrf), ("text", "x")]).await;
    let (status, page) = answer(r).await;
    assert_eq!((status, page.contains("second factor")), (403, true), "{page}");
    let api = format!("/api/v1/accounts/{}/posts", d.account);
    let (status, body) =
        answer(pending.send_json(Method::POST, &api, Some(json!({"text": "x"}))).await).await;
    assert_eq!((status, body.contains("mfa_required")), (403, true), "{body}");
    let user = d.app.state.identity.users.find("alice@clinic.example").await.unwrap().unwrap();
    d.app.state.identity.reset_mfa(&user, "test", &Default::default()).await.unwrap();
    // The old session is told why it ended.
    let expected = [
        (Door::Api, 401, "an administrator reset your second factor"),
        (Door::Token, 401, "token_invalid"),
        (Door::Proxy, 401, "token_invalid"),
    ];
    d.refused(&expected, publish).await;
    assert_eq!(d.fake.requests().len(), 0);
    let reset = &d.app.events_of("auth.mfa.reset").await[0];
    assert_eq!(reset["kind"]["tokens_revoked"], 1, "{reset}");
}

async fn stale_factor_for_a_delete(backend: Backend) {
    let d = plain(backend).await;
    let post = d.a_post().await;
    d.app.clock.advance(Duration::from_secs(6 * 60));
    let expected = [
        (Door::Api, 403, "verify_again"),
        (Door::Token, 403, "verify_again"),
        (Door::Proxy, 403, "verify_again"),
    ];
    d.refused(&expected, async |d: &Doors, door| d.delete(door, &post).await).await;
}

async fn policy_forbid(backend: Backend) {
    // The organization's own forbid, added to the default policies.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("policies").unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        dir.path().join("frozen.cedar"),
        "@id(\"nothing-on-frozen-accounts\")\nforbid (principal, action, resource is Custodian::Account)\nwhen { resource.tags.contains(\"frozen\") };\n",
    )
    .unwrap();
    let policies = dir.path().to_owned();
    let d = doors(backend, move |c| c.policy.dir = policies, None, async |_| {}).await;
    sqlx::query("UPDATE accounts SET tags_json = '[\"official\",\"frozen\"]' WHERE id = $1")
        .bind(&d.account)
        .execute(d.app.state.db.pool())
        .await
        .unwrap();
    d.refused(&every_door(403, "nothing-on-frozen-accounts", "nothing-on-frozen-accounts"), publish).await;
}

async fn account_locked(backend: Backend) {
    let d = plain(backend).await;
    let (carol, _, _) = d.app.enrolled_browser("carol").await;
    let lock = json!({"scope": "account", "target": d.account, "reason": "incident 42 under investigation"});
    let (status, placed) = call(&carol, Method::POST, "/api/v1/admin/locks", Some(lock)).await;
    assert_eq!(status, 201, "{placed}");
    d.refused(&every_door(409, "incident 42 under investigation", "account_locked"), publish).await;
    // Lifted: allowed again.
    let id = placed["lock"]["id"].as_str().unwrap();
    let (status, _) = call(&carol, Method::DELETE, &format!("/api/v1/admin/locks/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(d.publish(Door::Token, "Back to normal").await.0, 201);
}

async fn account_needs_reconnect(backend: Backend) {
    let d = plain(backend).await;
    let needs = custodian::domain::Status::NeedsReconnect;
    let now = d.app.clock.now();
    d.app
        .state
        .accounts
        .set_status(&d.account, needs, Some("the platform revoked the grant"), now)
        .await
        .unwrap();
    d.refused(&every_door(403, "connect it again", "only-active-accounts"), publish).await;
}

async fn user_revoked_mid_session(backend: Backend) {
    let d = plain(backend).await;
    let (carol, _, _) = d.app.enrolled_browser("carol").await;
    let user = d.app.state.identity.users.find("alice@clinic.example").await.unwrap().unwrap();
    let revoke = format!("/api/v1/admin/users/{}/revoke", user.id);
    let (status, _) =
        call(&carol, Method::POST, &revoke, Some(json!({"reason": "left the organization"}))).await;
    assert_eq!(status, 200);
    let expected = [
        (Door::Form, 401, "Your session was ended: left the organization"),
        (Door::Api, 401, "session_revoked"),
        (Door::Token, 401, "token_invalid"),
        (Door::Proxy, 401, "token_invalid"),
    ];
    d.refused(&expected, publish).await;
}

async fn token_out_of_scope(backend: Backend) {
    let mut d = plain(backend).await;
    d.token = token_for(&d.alice, &d.account, &["comment.list"]).await;
    let expected = [(Door::Token, 403, "token_out_of_scope"), (Door::Proxy, 403, "token_out_of_scope")];
    d.refused(&expected, publish).await;
}

/// For each success through each door, the fake found the intent already
/// committed (and no outcome yet) when the request arrived.
async fn the_intent_is_committed_before_the_platform_sees_the_request(backend: Backend) {
    let journal: Arc<Mutex<Option<custodian::audit::Journal>>> = Arc::default();
    let seen: Arc<Mutex<Vec<(String, usize, usize)>>> = Arc::default();
    let (j, s) = (journal.clone(), seen.clone());
    let witness: Witness = Arc::new(move |request: String| {
        let (journal, seen) = (j.lock().unwrap().clone(), s.clone());
        Box::pin(async move {
            let Some(journal) = journal else { return };
            let events = journal.all().await.unwrap();
            let count = |action: &str| events.iter().filter(|(_, e)| e["action"] == action).count();
            seen.lock().unwrap().push((request, count("action.intent"), count("action.outcome")));
        })
    });
    let d = doors(backend, |_| {}, Some(witness), async |_| {}).await;
    *journal.lock().unwrap() = Some(d.app.state.journal.clone());
    for (n, door) in [Door::Form, Door::Api, Door::Token, Door::Proxy].into_iter().enumerate() {
        let (status, body) = d.publish(door, &format!("Post {n}")).await;
        assert!(status == 201 || status == 200 || status == 303, "{door:?}: {status} {body}");
        let seen = seen.lock().unwrap().clone();
        let (request, intents, outcomes) = seen.last().unwrap().clone();
        assert_eq!(request, "POST /api/v1/statuses");
        assert_eq!(
            (intents, outcomes),
            (n + 1, n),
            "{door:?}: at arrival the intent was committed, the outcome not yet"
        );
    }
    assert_eq!(seen.lock().unwrap().len(), 4);
    let intents = d.app.events_of("action.intent").await;
    let doors: Vec<&str> = intents.iter().map(|e| e["kind"]["door"].as_str().unwrap()).collect();
    assert_eq!(doors, ["ui", "api", "token", "proxy"]);
}

/// The platform's rate limit (429 with Retry-After) and a journal that
/// cannot be written (503, nothing sent) answer the same through every
/// door: once the platform has said no, the proxy holds the account back too.
async fn rate_limits_and_a_journal_down_answer_through_every_door(backend: Backend) {
    let d = plain(backend).await;
    // The platform refuses the first; the account is then held back here for the rest.
    d.fake.rate_limit_next(Duration::from_secs(120));
    for door in [Door::Api, Door::Token] {
        let (status, body) = d.publish(door, "Too soon").await;
        assert_eq!(status, 429, "{door:?}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (body["error"].clone(), body["rule"].clone()),
            (json!("rate_limited"), json!("platform:rate-limit"))
        );
        assert!(body["audit_event_id"].is_string(), "the intent was recorded: {body}");
    }
    let sent = d.fake.requests().len();
    let r = d
        .bearer(Method::POST, &format!("/proxy/{}/api/v1/statuses", d.account))
        .json(&json!({"status": "Too soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("x-custodian-audit-event"));
    assert!(r.headers().contains_key("retry-after"));
    // Meanwhile the account is held back here, without calling the platform, saying how long.
    let r = d
        .bearer(Method::POST, &format!("/api/v1/accounts/{}/posts", d.account))
        .json(&json!({"text": "Still too soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // The fake dates its reset by the real clock, which runs ahead of the app's manual one.
    let now = |c: &dyn custodian::clock::Clock| c.now().millis();
    let lag = (now(&custodian::clock::SystemClock) - now(&d.app.clock)).max(0) as u64 / 1000;
    assert!((1..=121 + lag).contains(&wait), "Retry-After {wait}, clocks {lag} s apart");
    assert_eq!(d.fake.requests().len(), sent);
    // Once the limit resets, it goes through.
    d.app.clock.advance(Duration::from_secs(122 + lag));
    assert_eq!(d.publish(Door::Token, "Now").await.0, 201);

    let sent = d.fake.requests().len();
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(d.app.state.db.pool())
        .await
        .unwrap();
    for door in [Door::Api, Door::Token, Door::Proxy] {
        let r = match door {
            Door::Api => {
                d.alice
                    .send_json(
                        Method::POST,
                        &format!("/api/v1/accounts/{}/posts", d.account),
                        Some(json!({"text": "x"})),
                    )
                    .await
            }
            Door::Token => d
                .bearer(Method::POST, &format!("/api/v1/accounts/{}/posts", d.account))
                .json(&json!({"text": "x"}))
                .send()
                .await
                .unwrap(),
            _ => d
                .bearer(Method::POST, &format!("/proxy/{}/api/v1/statuses", d.account))
                .json(&json!({"status": "x"}))
                .send()
                .await
                .unwrap(),
        };
        assert_eq!(r.status(), 503, "{door:?}");
        assert_eq!(r.headers()["retry-after"], "5", "{door:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "audit_unavailable", "{door:?}: {body}");
    }
    assert_eq!(d.fake.requests().len(), sent, "nothing reached the platform unrecorded");
}

on_both_backends!(
    rate_limits_and_a_journal_down_answer_through_every_door,
    not_allow_listed,
    inactive_in_the_directory,
    training_expired,
    no_second_factor,
    stale_factor_for_a_delete,
    policy_forbid,
    account_locked,
    account_needs_reconnect,
    user_revoked_mid_session,
    token_out_of_scope,
    the_intent_is_committed_before_the_platform_sees_the_request
);
