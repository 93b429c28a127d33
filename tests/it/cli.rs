//! The `custodian` binary: configuration checking, migrations, serving and
//! a graceful stop on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{issuer, random_key};

pub fn custodian() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custodian"));
    // Keep the developer's own environment out of the test.
    for (k, _) in std::env::vars() {
        if k.starts_with("CUSTODIAN_") && !k.starts_with("CUSTODIAN_TEST_") {
            c.env_remove(k);
        }
    }
    c
}

pub fn write_config(dir: &std::path::Path, name: &str, extra: &str) -> std::path::PathBuf {
    let secret_file = dir.join("client-secret");
    std::fs::write(&secret_file, "custodian-dev-secret\n").unwrap();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            r#"
data_dir = "{data}"
[http]
cookie_secure = false
[oidc]
issuer_url = "{issuer}"
client_id = "custodian"
client_secret_file = "{secret}"
redirect_url = "http://127.0.0.1:8080/auth/callback"
[keys]
active = "k1"
[keys.ring]
k1 = "{key}"
[audit]
signing_key = "{signing}"
{extra}
"#,
            data = dir.join("data").display(),
            issuer = issuer(),
            secret = secret_file.display(),
            key = random_key(),
            signing = random_key(),
        ),
    )
    .unwrap();
    path
}

#[test]
fn config_check_masks_secrets_and_names_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "custodian.toml", "");
    let out = custodian().args(["config", "check", "--config"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("client_id = \"custodian\""));
    assert!(!printed.contains("custodian-dev-secret"), "client secret masked");
    assert!(printed.contains("client_secret = \"********\""));
    assert!(printed.contains("idle_timeout = \"15m\""), "defaults are shown");

    // Environment overrides the file.
    let out = custodian()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("CUSTODIAN_SESSION__IDLE_TIMEOUT", "5m")
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("idle_timeout = \"5m\""));

    // Unknown keys, in the file or the environment, are errors naming the key.
    let bad = write_config(dir.path(), "bad.toml", "");
    std::fs::write(&bad, std::fs::read_to_string(&bad).unwrap().replace("client_id =", "clientid ="))
        .unwrap();
    let out = custodian().args(["config", "check", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("clientid"), "{err}");
    let out = custodian()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("CUSTODIAN_SESSION__IDLE_TIMEOUTT", "5m")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("idle_timeoutt"));

    // Invalid values are listed, and a missing key ring names the key id.
    let out = custodian()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("CUSTODIAN_KEYS__ACTIVE", "k7")
        .env("CUSTODIAN_MFA__LOCKOUT_AFTER", "500")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("\"k7\"") && err.contains("mfa.lockout_after"), "{err}");

    // A secret file that does not exist.
    let out = custodian()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("CUSTODIAN_OIDC__CLIENT_SECRET_FILE", "/nonexistent/secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("oidc.client_secret_file"));
}

#[test]
fn kubernetes_service_links_and_script_variables_are_not_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "custodian.toml", "");
    // What a Kubernetes Service named `custodian` injects into every pod,
    // and what `CUSTODIAN_DEV_PORT=8480 scripts/dev` leaves in the environment.
    let out = custodian()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("CUSTODIAN_PORT", "tcp://10.96.0.12:8080")
        .env("CUSTODIAN_PORT_8080_TCP", "tcp://10.96.0.12:8080")
        .env("CUSTODIAN_PORT_8080_TCP_ADDR", "10.96.0.12")
        .env("CUSTODIAN_PORT_8080_TCP_PORT", "8080")
        .env("CUSTODIAN_PORT_8080_TCP_PROTO", "tcp")
        .env("CUSTODIAN_SERVICE_HOST", "10.96.0.12")
        .env("CUSTODIAN_SERVICE_PORT", "8080")
        .env("CUSTODIAN_SERVICE_PORT_HTTP", "8080")
        .env("CUSTODIAN_DEV_PORT", "8480")
        .env("CUSTODIAN_SESSION__IDLE_TIMEOUT", "5m")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("idle_timeout = \"5m\""), "real configuration still applies");
    assert!(printed.contains("listen = \"127.0.0.1:8080\""), "{printed}");
}

#[test]
fn serve_becomes_ready_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "custodian.toml", "");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let migrate = custodian().args(["migrate", "--config"]).arg(&path).output().unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let mut child = custodian()
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let ok = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && raw_http::blocking_get_status(&format!("http://127.0.0.1:{port}/readyz")) == Some(200);
        if ok || Instant::now() > deadline {
            break ok;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(ready, "custodian serve answers /readyz 200");
    assert!(dir.path().join("data/custodian.db").exists(), "the SQLite file is created under data_dir");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "custodian did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful stop exits 0: {exit:?}");
}

mod raw_http {
    /// A tiny blocking GET over a raw socket (keeps the test free of a runtime).
    pub fn blocking_get_status(url: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let u = url::Url::parse(url).ok()?;
        let mut s = std::net::TcpStream::connect((u.host_str()?, u.port()?)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
        write!(s, "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", u.path()).ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        buf.split_whitespace().nth(1)?.parse().ok()
    }
}

#[test]
fn example_config_has_only_known_keys() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/custodian.example.toml");
    let out = custodian().args(["config", "check", "--config", example]).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("unknown field"), "{err}");
    // It names placeholder secret files, which do not exist here.
    assert!(err.contains("client_secret_file"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_reset_mfa_from_the_command_line() {
    use crate::support::{Backend, TestApp};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (browser, _, _) = app.enrolled_browser("alice").await;
    let db_url = app.state.config.database_url();
    let key = app.state.config.keys.ring["k1"].expose().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "custodian.toml", "");
    let run = |user: &str| {
        custodian()
            .args(["users", "reset-mfa", user, "--config"])
            .arg(&config)
            .args(["--database", &db_url])
            .env("CUSTODIAN_KEYS__RING__K1", &key)
            .output()
            .unwrap()
    };
    let out = run("nobody@clinic.example");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user \"nobody@clinic.example\""));
    let out = run("alice@clinic.example");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("1 session(s) ended"));
    // That configuration enrolls by invite (the default): the way back is a new link.
    assert!(said.contains("custodian users invite alice@clinic.example"), "{said}");
    assert_eq!(browser.get("/api/v1/me").await.status(), ::reqwest::StatusCode::UNAUTHORIZED);
    let reset = app.events_of("auth.mfa.reset").await;
    assert_eq!(reset.len(), 1);
    assert!(reset[0]["kind"]["by"].as_str().unwrap().starts_with("cli:"));
    let again = app.browser();
    again.sign_in("alice").await;
    assert!(again.get_text("/auth/mfa").await.contains("Set up your authenticator app"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_prove_and_export_from_the_command_line() {
    use crate::support::{Backend, TestApp};
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.enrolled_browser("alice").await;
    app.state.journal.checkpoint_now().await.unwrap();
    let db_url = app.state.config.database_url();
    let signing = app.state.config.audit.signing_key.as_ref().unwrap().expose().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "custodian.toml", "");
    let run = |args: &[&str]| {
        custodian()
            .args(args)
            .arg("--config")
            .arg(&config)
            .args(["--database", &db_url])
            .env("CUSTODIAN_AUDIT__SIGNING_KEY", &signing)
            .output()
            .unwrap()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();

    let key = run(&["audit", "key"]);
    assert!(key.status.success(), "{}", text(&key.stderr));
    let public = text(&key.stdout).trim().to_owned();
    assert_eq!(public.len(), 44, "a base64 Ed25519 public key");

    let verify = run(&["audit", "verify"]);
    assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));
    assert!(text(&verify.stdout).contains("VERIFIED"));

    let bundle = dir.path().join("proof.json");
    let prove = run(&["audit", "prove", "2", "--out", bundle.to_str().unwrap()]);
    assert!(prove.status.success(), "{}", text(&prove.stderr));
    let check = custodian()
        .args(["audit", "verify-proof", bundle.to_str().unwrap(), "--key", &public])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stdout));
    assert!(text(&check.stdout).starts_with("VALID: event 2"));
    let original = std::fs::read_to_string(&bundle).unwrap();
    let edited = original.replacen("auth.", "auth_", 1);
    assert_ne!(edited, original);
    std::fs::write(&bundle, edited).unwrap();
    let check = custodian()
        .args(["audit", "verify-proof", bundle.to_str().unwrap(), "--key", &public])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stdout).starts_with("INVALID"));

    let export = run(&["audit", "export", "--format", "jsonl"]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let lines: Vec<serde_json::Value> =
        text(&export.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events = app.events().await;
    assert_eq!(lines.iter().filter(|l| l.get("seq").is_some()).count(), events.len(), "every event exported");
    assert!(
        lines.last().unwrap().get("checkpoint").is_some(),
        "the covering checkpoint travels with the export"
    );
    let export = run(&["audit", "export", "--format", "csv", "--from", "2000-01-01T00:00:00Z"]);
    assert!(text(&export.stdout).starts_with("seq,time,event_id,action"));
    let bad = run(&["audit", "export", "--from", "yesterday"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("RFC 3339"));
    // The export itself is in the journal.
    assert_eq!(app.events_of("audit.export").await.len(), 2);
    // Tampering is reported with its position and a non-zero exit.
    sqlx::query("DELETE FROM audit_events WHERE seq = 3").execute(app.state.db.pool()).await.unwrap();
    let verify = run(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(text(&verify.stdout).contains("FAILED at event 3"), "{}", text(&verify.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_invite_from_the_command_line() {
    use crate::support::{Backend, TestApp};
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.mfa.enrollment = custodian::identity::EnrollmentMode::Invite;
    })
    .await;
    let alice = app.browser();
    alice.sign_in("alice").await;
    assert_eq!(alice.get("/auth/mfa").await.status(), ::reqwest::StatusCode::FORBIDDEN, "no link yet");
    let db_url = app.state.config.database_url();
    let key = app.state.config.keys.ring["k1"].expose().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "custodian.toml", "");
    let run = |user: &str| {
        custodian()
            .args(["users", "invite", user, "--config"])
            .arg(&config)
            .args(["--database", &db_url])
            .env("CUSTODIAN_KEYS__RING__K1", &key)
            .output()
            .unwrap()
    };
    let out = run("nobody@clinic.example");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user \"nobody@clinic.example\""));
    let out = run("alice@clinic.example");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let link = said.lines().last().unwrap().trim();
    assert!(link.starts_with("http://127.0.0.1:8080/auth/mfa/invite?token="), "{said}");
    let issued = app.events_of("auth.mfa.invite.issue").await;
    assert!(issued[0]["kind"]["by"].as_str().unwrap().starts_with("cli:"));
    assert!(said.contains(issued[0]["kind"]["invite_id"].as_str().unwrap()));
    // The link, opened by alice in her session, lets her set up her factor.
    let r = alice.get(&format!("/auth/mfa/invite?{}", link.split_once('?').unwrap().1)).await;
    assert_eq!(crate::support::browser::location(&r), "/auth/mfa");
    assert!(alice.get_text("/auth/mfa").await.contains("Set up your authenticator app"));
    // A second run voids the first link, and says so.
    let again = String::from_utf8_lossy(&run("alice@clinic.example").stdout).to_string();
    assert!(again.contains("no longer works"), "{again}");
    assert_eq!(app.events_of("auth.mfa.invite.void").await.len(), 1);
    assert_eq!(
        alice.get("/auth/mfa").await.status(),
        ::reqwest::StatusCode::FORBIDDEN,
        "the first link is void"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_after_a_failure_reports_only_what_was_checked_before_it() {
    use crate::support::{Backend, TestApp};
    use custodian::audit::{Actor, EventKind, RequestMeta};
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.audit.checkpoint_every = 10).await;
    for i in 0..40 {
        let kind = EventKind::access_denied("test", format!("refusal {i}"));
        app.state.journal.record(&RequestMeta::default(), Actor::default(), kind).await.unwrap();
    }
    app.state.journal.checkpoint_now().await.unwrap();
    let head = app.state.journal.stats().events.load(std::sync::atomic::Ordering::Relaxed);
    assert!(head >= 40, "{head} events");
    // The newest checkpoint covers every event; event 15 is then rewritten.
    sqlx::query("UPDATE audit_events SET body = REPLACE(body, 'refusal', 'REFUSAL') WHERE seq = 15")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let db_url = app.state.config.database_url();
    let signing = app.state.config.audit.signing_key.as_ref().unwrap().expose().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "custodian.toml", "");
    let out = custodian()
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .args(["--database", &db_url])
        .env("CUSTODIAN_AUDIT__SIGNING_KEY", &signing)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED at event 15: event 15 was modified"), "{text}");
    let (before,): (i64,) =
        sqlx::query_as("SELECT MAX(tree_size) FROM audit_checkpoints WHERE tree_size < 15")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert!(text.contains(&format!("events 1 to {before} match a verified signed checkpoint")), "{text}");
    assert!(text.contains(&format!("Events {} to 14 were read in order", before + 1)), "{text}");
    // No totals or tail that describe history past the failure.
    assert!(!text.contains("after the newest checkpoint"), "{text}");
    assert!(!text.contains("14 events") && !text.contains(&format!("{head} events")), "{text}");
    assert!(!text.contains("VERIFIED"), "{text}");
}

/// The operator's name as the OS knows the effective uid (what `id -un` says).
fn os_account() -> String {
    let name = Command::new("id").arg("-un").output().unwrap();
    if name.status.success() {
        return String::from_utf8(name.stdout).unwrap().trim().to_owned();
    }
    let uid = Command::new("id").arg("-u").output().unwrap();
    format!("uid:{}", String::from_utf8(uid.stdout).unwrap().trim())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_change_names_the_os_account_even_with_user_unset() {
    use crate::support::{Backend, TestApp};
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.enrolled_browser("alice").await;
    let db_url = app.state.config.database_url();
    let key = app.state.config.keys.ring["k1"].expose().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "custodian.toml", "");
    // As in a container: no $USER, no $LOGNAME.
    let out = custodian()
        .args(["users", "revoke", "alice@clinic.example", "--reason", "left the clinic", "--config"])
        .arg(&config)
        .args(["--database", &db_url])
        .env("CUSTODIAN_KEYS__RING__K1", &key)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let operator = format!("cli:{}", os_account());
    assert_ne!(operator, "cli:unknown");
    let placed = app.events_of("lock.place").await;
    assert_eq!(placed[0]["kind"]["by"], operator.as_str(), "{placed:?}");
    let revoked = app.events_of("access.revoke").await;
    assert_eq!(revoked[0]["kind"]["by"], operator.as_str(), "{revoked:?}");
}
