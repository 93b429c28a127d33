//! No credential leaks: platform tokens pass through the vault, the
//! refresher and the adapters (successes and every kind of failure) while
//! everything the process logs is captured at TRACE, and then no log line,
//! audit event, error or response contains any of them.

use std::sync::Arc;
use std::time::Duration;

use custodian::audit::ChangedBy;
use custodian::clock::{Clock, SystemClock};
use custodian::domain::NewPost;
use custodian::platforms::mastodon::Mastodon;
use custodian::platforms::refresh::{OAuthEndpoint, TokenEndpoint};
use custodian::platforms::{Call, PlatformApi};
use custodian::secret::Secret;
use custodian::vault::credentials::CredentialKind;
use custodian::vault::Credentials;

use crate::support::fakes::mastodon::MastodonFake;
use crate::support::{captured_logs, Backend, TestApp};

const ACCESS: &str = "leak-canary-access-7f3a9c";
const REFRESH: &str = "leak-canary-refresh-51be02";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_reaches_a_log_an_event_an_error_or_a_response() {
    let logs = captured_logs("trace");
    let app = TestApp::spawn(Backend::Sqlite).await;
    let by = ChangedBy { actor: Default::default(), name: "test".into(), meta: Default::default() };
    let now = app.clock.now();
    let account = app.state.accounts.add_sandbox(&app.state.journal, "leaky", &[], &by, now).await.unwrap();
    let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
    vault
        .store(
            &account.id,
            CredentialKind::AccessToken,
            &Secret::new(ACCESS.into()),
            Some(now.plus(Duration::from_secs(1))),
            now,
        )
        .await
        .unwrap();
    vault
        .store(&account.id, CredentialKind::RefreshToken, &Secret::new(REFRESH.into()), None, now)
        .await
        .unwrap();

    // The adapter: a success, then each failure class.
    let fake = MastodonFake::start(ACCESS).await;
    let mastodon = Mastodon::new(fake.base.parse().unwrap(), Arc::new(SystemClock)).unwrap();
    let token = vault.open(&account.id, CredentialKind::AccessToken).await.unwrap();
    let call = Call { account_id: &account.id, token: &token };
    let post = NewPost { text: "hello".into(), ..NewPost::default() };
    let mut errors = Vec::new();
    mastodon.publish(&call, &post).await.unwrap();
    fake.reject_next_body("Validation failed");
    errors.push(format!("{:?}", mastodon.publish(&call, &post).await.unwrap_err()));
    fake.fail_next(502);
    errors.push(format!("{:?}", mastodon.publish(&call, &post).await.unwrap_err()));
    fake.rate_limit_next(Duration::from_secs(60));
    errors.push(format!("{:?}", mastodon.publish(&call, &post).await.unwrap_err()));
    errors.push(format!("{:?}", mastodon.publish(&call, &post).await.unwrap_err()));
    fake.expire_token();
    let other = Call { account_id: &"acct_other".into(), token: &token };
    errors.push(format!("{:?}", mastodon.publish(&other, &post).await.unwrap_err()));

    // A refresh the platform refuses (the refresh token goes to the endpoint, nowhere else),
    // and one it cannot answer.
    for url in [format!("{}/oauth/token", fake.base), "http://127.0.0.1:9/oauth/token".to_owned()] {
        let endpoint =
            OAuthEndpoint::new(&url, "custodian", Some(Secret::new("client-secret-canary".into()))).unwrap();
        let refused = app.state.refresher.access_token(&account.id, &endpoint).await.unwrap_err();
        errors.push(format!("{refused:?} {refused}"));
        errors.push(format!(
            "{:?}",
            endpoint.refresh(&Secret::new(REFRESH.into()), SystemClock.now()).await.err()
        ));
    }
    // Rotation and the account list.
    custodian::vault::sealed::rotate_recorded(&app.state.db, &app.state.keys, &app.state.journal, "test")
        .await
        .unwrap();
    let (carol, _, _) = app.enrolled_browser("carol").await;
    let listed = carol.get("/api/v1/admin/accounts").await.text().await.unwrap();

    let events = serde_json::to_string(&app.events().await).unwrap();
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("token refresh failed"), "the failures were logged (and captured)");
    for canary in [ACCESS, REFRESH, "client-secret-canary"] {
        assert!(!logged.contains(canary), "a log line holds {canary}");
        assert!(!events.contains(canary), "an audit event holds {canary}");
        assert!(!listed.contains(canary), "the account list holds {canary}");
        for e in &errors {
            assert!(!e.contains(canary), "an error holds {canary}: {e}");
        }
    }
    // The fake did receive the access token, in the Authorization header only.
    let received = fake.requests();
    assert!(received.iter().any(|r| r.header("authorization") == Some(format!("Bearer {ACCESS}").as_str())));
    assert!(received.iter().all(|r| !String::from_utf8_lossy(&r.body).contains(ACCESS)));
}
