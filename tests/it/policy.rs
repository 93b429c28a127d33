//! Cedar policies: refused at start-up when invalid (file, line, problem),
//! checked and explained from the command line, reloaded on SIGHUP or a
//! file change, with a broken set never replacing the last good one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use custodian::policy::{Principal, RequestContext, Resource};

use crate::cli::{custodian, write_config};
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

fn repo_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// A copy of the default policies that a test may break.
fn copy_of_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_policies()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

const BROKEN: &str = "@id(\"broken\")\npermit (principal, action, resource)\nwhen { resource.nonesuch };\n";

fn auditor_reads(app_policies: &custodian::policy::Policies) -> bool {
    let dave = Principal {
        id: "dave".into(),
        roles: vec!["auditor".into()],
        training_current: true,
        ..Default::default()
    };
    let context = RequestContext { mfa_age_seconds: 0, break_glass: false, door: "api".into(), screen: None };
    app_policies.decide(&dave, "audit.read", &Resource::Gateway, &context).allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_policy_stops_start_up_naming_file_and_line() {
    let dir = copy_of_policies();
    std::fs::write(dir.path().join("zz-broken.cedar"), BROKEN).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config =
        crate::support::test_config(format!("sqlite://{}/c.db?mode=rwc", tmp.path().display()), tmp.path());
    config.policy.dir = dir.path().to_owned();
    let clock: custodian::clock::SharedClock = std::sync::Arc::new(custodian::clock::SystemClock);
    let e = custodian::app::build_state(config, clock).await.err().expect("start-up is refused");
    let text = format!("{e:#}");
    assert!(text.contains("zz-broken.cedar:3: policy \"broken\""), "{text}");
    assert!(text.contains("nonesuch"), "{text}");
}

async fn reloads_are_recorded_and_a_broken_set_keeps_serving(backend: Backend) {
    let dir = copy_of_policies();
    let path = dir.path().to_owned();
    let app = TestApp::spawn_with(backend, move |c| c.policy.dir = path).await;
    let store = app.state.policies.clone();
    let count = store.current().len();

    std::fs::write(dir.path().join("zz-broken.cedar"), BROKEN).unwrap();
    let e = store.reload_recorded(&app.state.journal, "test").await.unwrap_err();
    assert!(e.to_string().contains("zz-broken.cedar:3:"), "{e}");
    assert_eq!(store.current().len(), count, "the last good set keeps serving");
    assert!(auditor_reads(&store.current()));

    std::fs::remove_file(dir.path().join("zz-broken.cedar")).unwrap();
    std::fs::remove_file(dir.path().join("auditors.cedar")).unwrap();
    assert_eq!(store.reload_recorded(&app.state.journal, "test").await.unwrap(), count - 1);
    assert!(!auditor_reads(&store.current()), "the new set is in force");

    let events = app.events_of("policy.reload").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["decision"], "denied");
    assert!(events[0]["kind"]["problems"][0].as_str().unwrap().contains("zz-broken.cedar:3:"));
    assert_eq!(
        (events[1]["decision"].clone(), events[1]["kind"]["loaded"].clone()),
        ("allowed".into(), (count - 1).into())
    );
}

on_both_backends!(reloads_are_recorded_and_a_broken_set_keeps_serving);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_file_changes_reload() {
    let dir = copy_of_policies();
    let path = dir.path().to_owned();
    let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.policy.dir = path).await;
    custodian::policy::spawn_reloader(
        app.state.policies.clone(),
        app.state.journal.clone(),
        Duration::from_millis(100),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(auditor_reads(&app.state.policies.current()));

    let status =
        std::process::Command::new("kill").args(["-HUP", &std::process::id().to_string()]).status().unwrap();
    assert!(status.success());
    let reloads = wait_for_reloads(&app, 1).await;
    assert_eq!(reloads[0]["kind"]["trigger"], "sighup");

    std::fs::remove_file(dir.path().join("auditors.cedar")).unwrap();
    let reloads = wait_for_reloads(&app, 2).await;
    assert_eq!(reloads[1]["kind"]["trigger"], "file change");
    assert!(!auditor_reads(&app.state.policies.current()));
}

async fn wait_for_reloads(app: &TestApp, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..100 {
        let events = app.events_of("policy.reload").await;
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no policy reload was recorded");
}

#[test]
fn policy_check_from_the_command_line() {
    let out = custodian().args(["policy", "check", "--dir"]).arg(repo_policies()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("policies are valid") && stdout.contains("cases, 0 failed"), "{stdout}");

    let dir = copy_of_policies();
    std::fs::write(dir.path().join("zz-broken.cedar"), BROKEN).unwrap();
    let out = custodian().args(["policy", "check", "--dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zz-broken.cedar:3:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_explain_names_the_deciding_policies() {
    use custodian::clock::Clock;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.directory.account_tags.insert("social-media-staff".into(), vec!["official".into()]);
    })
    .await;
    let _ = app.enrolled_browser("alice").await;
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "test".into(),
        meta: Default::default(),
    };
    let clinic = app
        .state
        .accounts
        .add_sandbox(&app.state.journal, "clinic", &["official".into()], &by, app.clock.now())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[directory.roles]\nstaff = [\"social-media-staff\"]\n[directory.account_tags]\nsocial-media-staff = [\"official\"]\n[policy]\ndir = \"{}\"\n",
        repo_policies().display()
    );
    let config = write_config(dir.path(), "custodian.toml", &extra);
    let k1 = app.state.config.keys.ring["k1"].expose().to_owned();
    let db = app.state.config.database_url();
    let explain = |action: &str, on_account: bool, mfa_age: &str| {
        let account: &[&str] = if on_account { &["--account", &clinic.id] } else { &[] };
        let out = custodian()
            .args(["policy", "explain", "--user", "alice@clinic.example", "--action", action])
            .args(account)
            .args(["--mfa-age", mfa_age, "--config"])
            .arg(&config)
            .args(["--database", &db])
            .env("CUSTODIAN_KEYS__RING__K1", &k1)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = explain("post.publish", true, "0");
    assert!(out.starts_with("ALLOW"), "{out}");
    assert!(
        out.contains("permitted by staff-post-and-reply-on-their-accounts") && out.contains("staff.cedar"),
        "{out}"
    );
    let out = explain("post.delete", true, "600");
    assert!(
        out.starts_with("DENY") && out.contains("forbidden by deletes-need-a-fresh-second-factor"),
        "{out}"
    );
    let out = explain("audit.read", false, "0");
    assert!(
        out.starts_with("DENY") && out.contains("no policy permits this") && !out.contains("error"),
        "{out}"
    );
}
