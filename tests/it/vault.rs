//! The vault: sealed platform credentials bound to their row, the start-up
//! key check, and online key rotation while credentials are being read
//! and written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use custodian::clock::Clock;
use custodian::domain::AccountId;
use custodian::secret::Secret;
use custodian::vault::credentials::CredentialKind;
use custodian::vault::{Credentials, KeyRing, VaultError};

use crate::on_both_backends;
use crate::support::{random_key, Backend, TestApp};

async fn add_account(app: &TestApp, id: &str) {
    let now = app.clock.now().millis();
    sqlx::query(
        "INSERT INTO accounts (id, platform, handle, external_id, status, connected_by, created_at, updated_at) \
         VALUES ($1, 'sandbox', $1, $1, 'active', 'test', $2, $2)",
    )
    .bind(id)
    .bind(now)
    .execute(app.state.db.pool())
    .await
    .unwrap();
}

/// The key ring of the app, plus a new key `k2` that is made active.
fn ring_with_new_active_key(app: &TestApp) -> custodian::vault::KeyRingConfig {
    let mut keys = app.state.config.keys.clone();
    keys.ring.insert("k2".into(), Secret::new(random_key()));
    keys.active = Some("k2".into());
    keys
}

/// A credential opens only for its own row: a ciphertext copied to another
/// account (or kind) is refused as damaged, and no plaintext is stored.
async fn credentials_are_sealed_and_bound_to_their_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    add_account(&app, "acct_a").await;
    add_account(&app, "acct_b").await;
    let vault = Credentials::new(app.state.db.clone(), app.state.keys.clone());
    let now = app.clock.now();
    let token = "xoxp-super-secret-access-token";
    vault
        .store(&"acct_a".into(), CredentialKind::AccessToken, &Secret::new(token.into()), None, now)
        .await
        .unwrap();
    vault
        .store(&"acct_b".into(), CredentialKind::AccessToken, &Secret::new("other".into()), None, now)
        .await
        .unwrap();
    assert_eq!(vault.open(&"acct_a".into(), CredentialKind::AccessToken).await.unwrap().expose(), token);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT sealed FROM credentials").fetch_all(app.state.db.pool()).await.unwrap();
    assert!(stored.iter().all(|s| s.starts_with("v1.k1.") && !s.contains(token)));
    // Swap a's ciphertext into b's row, and into a's refresh-token row.
    sqlx::query("UPDATE credentials SET sealed = (SELECT sealed FROM credentials WHERE account_id = 'acct_a') WHERE account_id = 'acct_b'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let err = vault.open(&"acct_b".into(), CredentialKind::AccessToken).await.unwrap_err();
    assert!(matches!(err, VaultError::Damaged { .. }), "{err}");
    assert!(!err.to_string().contains(token) && !format!("{err:?}").contains(token));
    let a = stored.iter().find(|s| !s.is_empty()).unwrap().clone();
    sqlx::query("INSERT INTO credentials (account_id, kind, sealed, updated_at) VALUES ('acct_a', 'refresh_token', $1, 0)")
        .bind(a)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert!(matches!(
        vault.open(&"acct_a".into(), CredentialKind::RefreshToken).await,
        Err(VaultError::Damaged { .. })
    ));
    assert!(matches!(
        vault.open(&"acct_a".into(), CredentialKind::PageToken).await,
        Err(VaultError::Missing { .. })
    ));
    assert_eq!(
        format!("{:?}", vault.open(&"acct_a".into(), CredentialKind::AccessToken).await.unwrap()),
        "***"
    );
    assert_eq!(vault.delete_all(&"acct_a".into()).await.unwrap(), 2);
}

/// Rotation while credentials are read and written: no read fails, and
/// afterwards nothing is left under the old key (TOTP secrets included).
async fn key_rotation_during_traffic(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let _alice = app.enrolled_browser("alice").await; // a TOTP secret sealed with k1
    let now = app.clock.now();
    let old = Credentials::new(app.state.db.clone(), app.state.keys.clone());
    for i in 0..100 {
        let id = AccountId::new(format!("acct_{i}"));
        add_account(&app, &id).await;
        old.store(&id, CredentialKind::AccessToken, &Secret::new(format!("token-{i}")), None, now)
            .await
            .unwrap();
    }
    // Custodian restarted with k2 active (k1 still in the ring): new writes use k2.
    let new_keys = ring_with_new_active_key(&app);
    let ring = Arc::new(KeyRing::from_config(&new_keys).unwrap());
    let vault = Credentials::new(app.state.db.clone(), ring.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut traffic = Vec::new();
    for worker in 0..4 {
        let (vault, stop, reads, failures) = (vault.clone(), stop.clone(), reads.clone(), failures.clone());
        traffic.push(tokio::spawn(async move {
            let mut i = worker;
            while !stop.load(Ordering::SeqCst) {
                let id = AccountId::new(format!("acct_{}", i % 100));
                // Half the workers also write, as a token refresh would.
                if worker % 2 == 0 {
                    let fresh = Secret::new(format!("token-{}", i % 100));
                    if vault.store(&id, CredentialKind::AccessToken, &fresh, None, now).await.is_err() {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
                match vault.open(&id, CredentialKind::AccessToken).await {
                    Ok(s) if s.expose() == format!("token-{}", i % 100) => {
                        reads.fetch_add(1, Ordering::SeqCst)
                    }
                    _ => failures.fetch_add(1, Ordering::SeqCst),
                };
                i += 4;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let report = custodian::vault::sealed::rotate(&app.state.db, &ring).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::SeqCst);
    for t in traffic {
        t.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::SeqCst), 0, "no read or write failed during rotation");
    assert!(reads.load(Ordering::SeqCst) > 100);
    // 100 credentials, the TOTP secret, and the IdP refresh token the sign-in left.
    assert_eq!(report.resealed + report.current + report.raced, 102, "{report:?}");
    for table_column in
        ["sealed FROM credentials", "secret_sealed FROM mfa_totp", "refresh_sealed FROM idp_refresh"]
    {
        let sealed: Vec<String> = sqlx::query_scalar(&format!("SELECT {table_column}"))
            .fetch_all(app.state.db.pool())
            .await
            .unwrap();
        assert!(sealed.iter().all(|s| s.starts_with("v1.k2.")), "{table_column}: a value is left on k1");
    }
    // Now k1 may leave the ring: every value opens without it.
    let mut without_k1 = new_keys;
    without_k1.ring.remove("k1");
    let k2_only = KeyRing::from_config(&without_k1).unwrap();
    custodian::vault::sealed::check_keys(&app.state.db, &k2_only).await.unwrap();
}

/// A key that sealed data is missing, or has the wrong material: start-up
/// stops with an error that names the key.
async fn a_missing_or_wrong_key_stops_start_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let _alice = app.enrolled_browser("alice").await;
    let clock: custodian::clock::SharedClock = Arc::new(app.clock.clone());
    let mut missing = app.state.config.as_ref().clone();
    missing.keys = ring_with_new_active_key(&app);
    missing.keys.ring.remove("k1");
    let err = custodian::app::build_state(missing, clock.clone()).await.err().expect("start-up refused");
    let text = format!("{err:#}");
    assert!(text.contains("sealed with key \"k1\", which is not in the key ring"), "{text}");
    let mut wrong = app.state.config.as_ref().clone();
    wrong.keys.ring.insert("k1".into(), Secret::new(random_key()));
    let err = custodian::app::build_state(wrong, clock).await.err().expect("start-up refused");
    let text = format!("{err:#}");
    assert!(text.contains("key \"k1\" does not open the data in mfa_totp"), "{text}");
}

on_both_backends!(
    credentials_are_sealed_and_bound_to_their_row,
    key_rotation_during_traffic,
    a_missing_or_wrong_key_stops_start_up,
);

/// `custodian keys rotate` from the command line, then a start-up without the old key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_from_the_command_line() {
    use crate::cli::{custodian, write_config};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let _alice = app.enrolled_browser("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "custodian.toml", "");
    let db_url = app.state.config.database_url();
    let k1 = app.state.config.keys.ring["k1"].expose().to_owned();
    let out = custodian()
        .args(["keys", "rotate", "--config"])
        .arg(&config)
        .args(["--database", &db_url])
        .env("CUSTODIAN_KEYS__RING__K1", &k1)
        .env("CUSTODIAN_KEYS__RING__K2", random_key())
        .env("CUSTODIAN_KEYS__ACTIVE", "k2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Her TOTP secret and the IdP refresh token her sign-in left.
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed 2 value(s) under key \"k2\""));
    let rotated = app.events_of("keys.rotate").await;
    assert_eq!(
        (rotated[0]["kind"]["resealed"].clone(), rotated[0]["kind"]["active_key"].clone()),
        (2.into(), "k2".into())
    );
}
