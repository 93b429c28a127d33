//! Crash safety: `kill -9` the server during heavy concurrent appends. Every
//! event whose caller got an answer is present afterwards, and the journal
//! verifies.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custodian::audit::checkpoint::CheckpointSigner;
use custodian::audit::verify;
use custodian::audit::AuditConfig;
use custodian::secret::Secret;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(acknowledged_events_survive_kill_9);

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "custodian serve did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn acknowledged_events_survive_kill_9(backend: Backend) {
    // The test app only provides a fresh database and a configuration; the
    // server under test is the real binary, in its own process.
    let app = TestApp::spawn(backend).await;
    let db_url = app.state.config.database_url();
    let signing = app.state.config.audit.signing_key.as_ref().unwrap().expose().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let spawn = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_custodian"));
        for (k, _) in std::env::vars() {
            if k.starts_with("CUSTODIAN_") && !k.starts_with("CUSTODIAN_TEST_") {
                c.env_remove(k);
            }
        }
        c.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database", &db_url])
            .env("CUSTODIAN_DATA_DIR", dir.path())
            .env("CUSTODIAN_OIDC__ISSUER_URL", crate::support::issuer())
            .env("CUSTODIAN_OIDC__CLIENT_ID", "custodian")
            .env("CUSTODIAN_OIDC__CLIENT_SECRET", "custodian-dev-secret")
            .env("CUSTODIAN_OIDC__REDIRECT_URL", "http://127.0.0.1:1/auth/callback")
            .env("CUSTODIAN_KEYS__ACTIVE", "k1")
            .env("CUSTODIAN_KEYS__RING__K1", crate::support::random_key())
            .env("CUSTODIAN_AUDIT__SIGNING_KEY", &signing)
            .env("CUSTODIAN_AUDIT__CHECKPOINT_EVERY", "100")
            .env("CUSTODIAN_HTTP__SIGN_INS_PER_MINUTE", "1000000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut server = spawn();
    wait_ready(port).await;

    // 32 clients, each callback writes one audited sign-in refusal before it is answered:
    // each uses up a sign-in it started (a wrong state), so none is throttled.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..32 {
        let acked = acked.clone();
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let client =
                reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            while !stop.load(Ordering::SeqCst) {
                let Ok(started) = client.get(format!("http://127.0.0.1:{port}/auth/login")).send().await
                else {
                    break; // the server is gone
                };
                assert_eq!(started.status(), 303);
                let flow =
                    started.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
                let callback = client
                    .get(format!("http://127.0.0.1:{port}/auth/callback?code=c&state=s"))
                    .header("cookie", flow)
                    .send()
                    .await;
                match callback {
                    Ok(r) if r.status() == 400 => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Let the load build up, then kill -9 in the middle of it.
    let start = Instant::now();
    while acked.load(Ordering::SeqCst) < 300 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let acknowledged = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    assert!(acknowledged >= 300, "the load ran: {acknowledged}");

    // Restart: the journal resumes after what was committed.
    let mut server = spawn();
    wait_ready(port).await;
    let r = reqwest::get(format!("http://127.0.0.1:{port}/auth/callback?code=c&state=s")).await.unwrap();
    assert_eq!(r.status(), 400, "appends work again after the restart");
    server.kill().unwrap();
    server.wait().unwrap();

    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.login'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(
        stored as u64 > acknowledged,
        "every acknowledged event is present: {stored} stored, {acknowledged} acknowledged"
    );
    let key = CheckpointSigner::from_config(&AuditConfig {
        signing_key: Some(Secret::new(signing)),
        ..AuditConfig::default()
    })
    .unwrap()
    .public_key();
    let report = verify::verify(&app.state.db, &key, &[], |_, _| {}).await.unwrap();
    assert!(report.ok(), "the journal verifies after the crash: {report:?}");
    assert!(report.verified_through >= 100, "checkpoints were signed during the run: {report:?}");
}
