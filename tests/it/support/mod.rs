//! Test harness: the real router on port 0 against a fresh database (a
//! SQLite temp file, or a new PostgreSQL database when
//! `CUSTODIAN_TEST_DATABASE_URL` is set), the real development OpenID
//! provider (`CUSTODIAN_TEST_OIDC_ISSUER`), and a cookie-keeping "browser".

#![allow(dead_code, reason = "each test uses a different part of the harness")]

pub mod browser;
pub mod fakes;
pub mod scim;

use std::sync::Arc;

use base64::Engine;
use custodian::clock::{ManualClock, SharedClock};
use custodian::config::{Config, DatabaseUrl};
use custodian::directory::Role;
use custodian::domain::AccountId;
use custodian::secret::Secret;
use custodian::AppState;
use rand::RngCore;
use sqlx::Connection;

pub use browser::Browser;

/// The redirect URI registered with the development provider for tests;
/// the test reads the code from the redirect and calls the app itself.
pub const REDIRECT_URI: &str = "https://custodian.test/auth/callback";
pub const CLIENT_ID: &str = "custodian";
pub const CLIENT_SECRET: &str = "custodian-dev-secret";
pub const PASSWORD: &str = "custodian";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn issuer() -> String {
    std::env::var("CUSTODIAN_TEST_OIDC_ISSUER")
        .expect("CUSTODIAN_TEST_OIDC_ISSUER is not set: run the suite with scripts/test, which starts the OpenID provider")
}

fn postgres_admin_url() -> String {
    std::env::var("CUSTODIAN_TEST_DATABASE_URL").expect(
        "CUSTODIAN_TEST_DATABASE_URL is not set: run the suite with scripts/test, which starts PostgreSQL",
    )
}

/// A fresh database URL for one test.
async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("custodian.db").display()),
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin).expect("admin url");
            url.set_path(&name);
            url.to_string()
        }
    }
}

pub fn random_key() -> String {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    base64::engine::general_purpose::STANDARD.encode(k)
}

/// The development provider's groups mapped to roles, as `scripts/dev` does.
pub fn roles_as_in_the_sandbox() -> std::collections::BTreeMap<Role, Vec<String>> {
    std::collections::BTreeMap::from([
        (Role::Staff, vec!["social-media-staff".to_owned()]),
        (Role::Reviewer, vec!["compliance-reviewers".to_owned()]),
        (Role::Admin, vec!["it-admins".to_owned()]),
        (Role::Auditor, vec!["security-auditors".to_owned()]),
    ])
}

/// Creates or changes a person at the development IdP (subject = `username`),
/// so a test can make someone of its own and change their claims between
/// two sign-ins. Returns the username.
pub async fn idp_person(username: &str, email: &str, email_verified: bool, groups: &[&str]) -> String {
    let body = serde_json::json!({"email": email, "email_verified": email_verified, "groups": groups});
    idp_account(username, body).await
}

/// [`idp_person`] whose groups claim the IdP puts in the ID token only, not
/// in userinfo (as Entra ID and Okta's org server usually do).
pub async fn idp_person_groups_in_id_token(username: &str, email: &str, groups: &[&str]) -> String {
    let body = serde_json::json!({
        "email": email, "email_verified": true, "groups": groups, "groups_in": ["id_token"],
    });
    idp_account(username, body).await
}

/// [`idp_person`] in `groups` whose refresh grants the IdP answers only after `delay`.
pub async fn idp_person_slow_to_refresh(
    username: &str,
    groups: &[&str],
    delay: std::time::Duration,
) -> String {
    let body = serde_json::json!({
        "email": format!("{username}@clinic.example"), "email_verified": true, "groups": groups,
        "refresh_delay_ms": delay.as_millis() as u64,
    });
    idp_account(username, body).await
}

/// How many refresh-token grants for `username` the development IdP answered: (ok, refused).
pub async fn idp_refresh_grants(username: &str) -> (u64, u64) {
    let r: serde_json::Value = reqwest::get(format!("{}/dev/accounts/{username}", issuer()))
        .await
        .expect("the IdP's test hook")
        .json()
        .await
        .expect("the IdP's counts");
    let count = |k: &str| r["refresh_grants"][k].as_u64().expect("a count");
    (count("ok"), count("refused"))
}

async fn idp_account(username: &str, body: serde_json::Value) -> String {
    let r = reqwest::Client::new()
        .put(format!("{}/dev/accounts/{username}", issuer()))
        .json(&body)
        .send()
        .await
        .expect("the IdP's test hook");
    assert_eq!(r.status(), 204, "the IdP took the person");
    username.to_owned()
}

/// Removes a person at the development IdP: terminated, their refresh tokens refused.
pub async fn idp_forget(username: &str) {
    let r = reqwest::Client::new()
        .delete(format!("{}/dev/accounts/{username}", issuer()))
        .send()
        .await
        .expect("the IdP's test hook");
    assert_eq!(r.status(), 204, "the IdP forgot the person");
}

/// A username no other test uses.
pub fn unique_username(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// A configuration pointing at the test peers.
pub fn test_config(database_url: String, data_dir: &std::path::Path) -> Config {
    let mut config = Config { data_dir: data_dir.to_owned(), ..Config::default() };
    config.database.url = Some(DatabaseUrl::new(database_url));
    config.http.cookie_secure = false;
    config.oidc.issuer_url = Some(issuer());
    config.oidc.client_id = Some(CLIENT_ID.into());
    config.oidc.client_secret = Some(Secret::new(CLIENT_SECRET.into()));
    config.oidc.scopes = vec!["openid".into(), "email".into(), "profile".into(), "groups".into()];
    config.oidc.redirect_url = Some(REDIRECT_URI.parse().expect("url"));
    config.oidc.post_logout_redirect_url = Some("https://custodian.test/".parse().expect("url"));
    config.keys.active = Some("k1".into());
    config.keys.ring.insert("k1".into(), Secret::new(random_key()));
    config.audit.signing_key = Some(Secret::new(random_key()));
    config.directory.roles = roles_as_in_the_sandbox();
    config.directory.account_tags.insert("social-media-staff".into(), vec!["official".into()]);
    // As in the sandbox: the first sign-in enrolls (tests of the other modes say so).
    config.mfa.enrollment = custodian::identity::EnrollmentMode::Open;
    config
}

/// Acts on an account through the action path as a staff member of
/// `social-media-staff` (whose tag is `official`), second factor just
/// passed, through the API door: what a door hands the path.
pub async fn act(
    app: &TestApp,
    account_id: &str,
    action: custodian::domain::Action,
) -> Result<custodian::platforms::dispatch::Outcome, custodian::action::Refusal> {
    let user = custodian::identity::User {
        id: "staff-tester".into(),
        issuer: issuer(),
        subject: "staff-tester".into(),
        email: Some("staff-tester@clinic.example".into()),
        email_verified: true,
        name: None,
        groups: vec!["social-media-staff".into()],
        directory_id: None,
        last_login_at: None,
    };
    // Through the real gate: the path takes no caller it has not admitted.
    let admitted = app.state.directory().admit(user).await.expect("the gate admits the staff tester");
    let now = custodian::clock::Clock::now(&app.clock);
    let caller = custodian::action::Gated::new(
        &admitted,
        Default::default(),
        Default::default(),
        custodian::action::Door::Api,
        Some(now),
    );
    app.state.actions.perform(&caller, account_id, action).await.map(|done| done.outcome)
}

/// A second replica of a [`TestApp`] (see [`TestApp::replica`]).
pub struct Replica {
    pub base: String,
    pub state: AppState,
    _server: tokio::task::JoinHandle<()>,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub backend: Backend,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_until(backend, adjust, std::future::pending()).await
    }

    /// As `spawn_with`, and the server starts shutting down when `shutdown` resolves.
    pub async fn spawn_until(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = fresh_database(backend, dir.path()).await;
        let mut config = test_config(url, dir.path());
        adjust(&mut config);
        config.validate().expect("test configuration is valid");
        let clock = ManualClock::starting_now();
        let shared: SharedClock = Arc::new(clock.clone());
        let state = custodian::app::build_state(config, shared).await.expect("build app state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let serve_state = state.clone();
        let server = tokio::spawn(async move {
            custodian::app::serve(serve_state, listener, shutdown).await.expect("server");
        });
        TestApp { base, state, clock, backend, _dir: dir, _server: server }
    }

    /// Another Custodian on the same database, configuration and clock (a
    /// second replica), serving on a port of its own.
    pub async fn replica(&self) -> Replica {
        self.replica_with(|_| {}).await
    }

    /// [`TestApp::replica`] with its configuration changed by `adjust`: as
    /// if Custodian were restarted with a new configuration.
    pub async fn replica_with(&self, adjust: impl FnOnce(&mut Config)) -> Replica {
        let mut config = (*self.state.config).clone();
        adjust(&mut config);
        config.validate().expect("the replica's configuration is valid");
        let state =
            custodian::app::build_state(config, self.state.clock.clone()).await.expect("replica state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let serve_state = state.clone();
        let server = tokio::spawn(async move {
            custodian::app::serve(serve_state, listener, std::future::pending()).await.expect("server");
        });
        Replica { base, state, _server: server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(self.base.clone())
    }

    /// Every audit event so far, as JSON.
    pub async fn events(&self) -> Vec<serde_json::Value> {
        self.state.journal.all().await.expect("read audit").into_iter().map(|(_, e)| e).collect()
    }

    pub async fn events_of(&self, action: &str) -> Vec<serde_json::Value> {
        self.events().await.into_iter().filter(|e| e["action"] == action).collect()
    }

    /// The events of `action` that `keep` selects, once there is one: a
    /// record a connection's task writes after the answer is sent is waited
    /// for (up to 5 s).
    pub async fn await_events(
        &self,
        action: &str,
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        for _ in 0..100 {
            let found: Vec<_> = self.events_of(action).await.into_iter().filter(|e| keep(e)).collect();
            if !found.is_empty() {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Vec::new()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.state.db.pool())
            .await
            .expect("count");
        n
    }

    /// Has the database run `update` in the same transaction that records
    /// the next events of `action` in the journal: another request's write
    /// landing between a recorded event and the conditional update it
    /// announces. A lost race, made certain.
    pub async fn when_recorded(&self, action: &str, update: &str) {
        let name = format!("when_{}", uuid::Uuid::new_v4().simple());
        let statements = match self.backend {
            Backend::Sqlite => vec![format!(
                "CREATE TRIGGER {name} AFTER INSERT ON audit_events WHEN NEW.action = '{action}' \
                 BEGIN {update}; END"
            )],
            Backend::Postgres => vec![
                format!(
                    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN {update}; RETURN NEW; END $$"
                ),
                format!(
                    "CREATE TRIGGER {name} AFTER INSERT ON audit_events FOR EACH ROW \
                     WHEN (NEW.action = '{action}') EXECUTE FUNCTION {name}()"
                ),
            ],
        };
        for sql in statements {
            sqlx::query(&sql).execute(self.state.db.pool()).await.expect("create the trigger");
        }
    }

    /// Two practice accounts on the sandbox platform: `clinic`, tagged
    /// `official` (the tag `social-media-staff` grants), and `cardiology`,
    /// tagged `department:cardiology` (no test user's group grants it).
    pub async fn practice_accounts(&self) -> (AccountId, AccountId) {
        let by = custodian::audit::ChangedBy {
            actor: Default::default(),
            name: "test".into(),
            meta: Default::default(),
        };
        let now = custodian::clock::Clock::now(&self.clock);
        let add = |handle: &'static str, tag: &'static str| {
            let (accounts, journal, by) =
                (self.state.accounts.clone(), self.state.journal.clone(), by.clone());
            async move { accounts.add_sandbox(&journal, handle, &[tag.to_owned()], &by, now).await.unwrap().id }
        };
        (add("clinic", "official").await, add("cardiology", "department:cardiology").await)
    }

    /// The TOTP code for `secret` at the app's clock, `offset_steps` from now.
    pub fn totp(&self, secret_base32: &str, offset_steps: i64) -> String {
        let secret = totp_rs::Secret::Encoded(secret_base32.to_owned()).to_bytes().expect("base32");
        let totp =
            totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, None, String::new());
        let now = custodian::clock::Clock::now(&self.clock).unix_seconds() as i64;
        totp.generate((now + offset_steps * 30) as u64)
    }

    /// Signs `user` in, enrolls TOTP and returns the browser and the TOTP secret.
    pub async fn enrolled_browser(&self, user: &str) -> (Browser, String, Vec<String>) {
        let browser = self.browser();
        browser.sign_in(user).await;
        let page = browser.get_text("/auth/mfa").await;
        let secret = browser::between(&page, "<code class=\"secret\">", "</code>").expect("secret shown");
        let csrf = browser::csrf_of(&page);
        let response =
            browser.post_form("/auth/mfa/enroll", &[("csrf", &csrf), ("code", &self.totp(&secret, 0))]).await;
        assert_eq!(response.status(), 200, "enrollment with a correct code succeeds");
        let page = response.text().await.expect("text");
        let codes = browser::all_between(&page, "<li><code>", "</code></li>");
        (browser, secret, codes)
    }
}

/// Runs `$body` (an async fn taking a `Backend`) once on SQLite and once on
/// PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Obtains an ID token straight from the provider as `client_id` (the test
/// acts as that client), for alice, with `nonce`.
pub async fn mint_id_token(client_id: &str, client_secret: &str, nonce: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::Digest;
    let discovery: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", issuer()))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery json");
    let verifier = random_key().replace(['+', '/', '='], "x");
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut auth: url::Url =
        discovery["authorization_endpoint"].as_str().expect("auth endpoint").parse().expect("url");
    auth.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("state", "s")
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let browser = Browser::new("http://127.0.0.1:1".into());
    let callback = browser.idp_authorize(auth.as_str(), "alice").await;
    let code = browser::param(&callback, "code");
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(discovery["token_endpoint"].as_str().expect("token endpoint"))
        .basic_auth(client_id, Some(client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    tokens["id_token"].as_str().expect("id_token").to_owned()
}

/// Everything the process logs from the first call on, at `filter` (the
/// first caller's filter wins; nextest runs each test in its own process).
pub fn captured_logs(filter: &str) -> Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let logs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .try_init()
            .expect("the process's only log subscriber");
        logs
    })
    .clone()
}

/// `[platforms.mastodon]` pointing at a fake instance.
pub fn with_mastodon(config: &mut Config, base: &str) {
    config.platforms.mastodon = Some(custodian::platforms::config::OAuthApp {
        client_id: fakes::mastodon::CLIENT_ID.into(),
        client_secret: Some(Secret::new(fakes::mastodon::CLIENT_SECRET.into())),
        api_base: Some(base.parse().expect("the fake's URL")),
        ..Default::default()
    });
}

/// A Mastodon account tagged `official` (alice's group's tag), as an
/// admin's connection leaves it: active, its access token sealed in the vault.
pub async fn mastodon_account(app: &TestApp, token: &str) -> AccountId {
    use custodian::clock::Clock;
    let now = app.clock.now();
    let account = custodian::domain::Account {
        id: format!("acct_m{}", rand::random::<u32>()).into(),
        platform: custodian::domain::Platform::Mastodon,
        handle: "@clinic@fake.mastodon.test".into(),
        external_id: "109000000000000001".into(),
        base_url: None,
        status: custodian::domain::Status::Active,
        status_reason: None,
        tags: vec!["official".into()],
        scopes: vec!["read:statuses".into(), "write:statuses".into()],
        token_expires_at: None,
        connected_by: "test".into(),
        created_at: now,
    };
    assert!(app.state.accounts.insert(&account).await.expect("store the account"));
    let vault = custodian::vault::Credentials::new(app.state.db.clone(), app.state.keys.clone());
    let kind = custodian::vault::credentials::CredentialKind::AccessToken;
    vault.store(&account.id, kind, &Secret::new(token.into()), None, now).await.expect("seal the token");
    account.id
}

/// `platform`'s API (an OAuth app, or Bluesky's PDS) at the fake at `base`.
pub fn platform_at(platform: &str, base: &str) -> impl FnOnce(&mut Config) {
    let (platform, base) = (platform.to_owned(), base.to_owned());
    move |c| {
        let app = || {
            Some(custodian::platforms::config::OAuthApp {
                client_id: "fake-client".into(),
                client_secret: Some(Secret::new("fake-secret".into())),
                api_base: Some(base.parse().expect("the fake's URL")),
                ..Default::default()
            })
        };
        match platform.as_str() {
            "x" => c.platforms.x = app(),
            "facebook" => c.platforms.facebook = app(),
            "instagram" => c.platforms.instagram = app(),
            "linkedin" => c.platforms.linkedin = app(),
            "mastodon" => with_mastodon(c, &base),
            "bluesky" => {
                c.platforms.bluesky = Some(custodian::platforms::config::BlueskyConfig {
                    pds: Some(base.parse().expect("the fake's URL")),
                })
            }
            other => panic!("no platform {other}"),
        }
    }
}

/// An active account on `platform` (its platform id `external_id`, tagged
/// `official`: alice's group's tag), with `secrets` sealed in the vault, as
/// an admin's connection leaves it.
pub async fn platform_account(
    app: &TestApp,
    platform: &str,
    external_id: &str,
    secrets: &[(custodian::vault::credentials::CredentialKind, &str)],
) -> AccountId {
    use custodian::clock::Clock;
    let now = app.clock.now();
    let account = custodian::domain::Account {
        id: format!("acct_{platform}{}", rand::random::<u32>()).into(),
        platform: custodian::domain::Platform::parse(platform).expect("a platform"),
        handle: format!("clinic-on-{platform}"),
        external_id: external_id.into(),
        base_url: None,
        status: custodian::domain::Status::Active,
        status_reason: None,
        tags: vec!["official".into()],
        scopes: Vec::new(),
        token_expires_at: None,
        connected_by: "test".into(),
        created_at: now,
    };
    assert!(app.state.accounts.insert(&account).await.expect("store the account"));
    let vault = custodian::vault::Credentials::new(app.state.db.clone(), app.state.keys.clone());
    for (kind, secret) in secrets {
        vault.store(&account.id, *kind, &Secret::new((*secret).into()), None, now).await.expect("seal");
    }
    account.id
}
