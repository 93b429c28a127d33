//! The tamper-evident journal: group commit, checkpoints, verification of
//! each kind of tampering, inclusion proofs, and the search API.

use custodian::audit::checkpoint::CheckpointSigner;
use custodian::audit::verify::{self, Verification};
use custodian::audit::AuditConfig;
use custodian::audit::{merkle, Actor, EventKind, RequestMeta};
use custodian::secret::Secret;
use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{random_key, Backend, TestApp};

on_both_backends!(
    concurrent_appends_are_gap_free_and_verify,
    a_modified_event_is_found,
    a_modified_event_with_a_recomputed_hash_is_found_by_its_checkpoint,
    a_deleted_event_is_found,
    reordered_events_are_found,
    a_truncated_tail_is_found,
    a_rewrite_without_the_key_is_found,
    removed_checkpoints_are_found_from_the_copy_outside_the_database,
    an_inclusion_proof_verifies_offline_and_an_edited_one_fails,
    auditors_search_and_every_search_is_audited,
);

/// An app whose journal signs a checkpoint every 5 events, holding 20 events.
async fn journal_with_20_events(backend: Backend) -> TestApp {
    let app = TestApp::spawn_with(backend, |c| c.audit.checkpoint_every = 5).await;
    for i in 0..20 {
        let actor = Actor { user_id: Some(format!("user-{i}")), ..Actor::default() };
        app.state.journal.record(&RequestMeta::default(), actor, EventKind::Logout).await.unwrap();
    }
    app.state.journal.checkpoint_now().await.unwrap();
    app
}

async fn run_verify(app: &TestApp) -> Verification {
    let key = CheckpointSigner::from_config(&app.state.config.audit).unwrap().public_key();
    verify::verify(&app.state.db, &key, &[], |_, _| {}).await.unwrap()
}

/// Rewrites an event's content and its stored leaf hash, as an attacker
/// with database access (but without the signing key) would.
async fn forge_event(app: &TestApp, seq: i64, from: &str, to: &str) {
    let (body,): (String,) = sqlx::query_as("SELECT body FROM audit_events WHERE seq = $1")
        .bind(seq)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let forged = body.replace(from, to);
    assert_ne!(forged, body);
    sqlx::query("UPDATE audit_events SET body = $1, leaf_hash = $2 WHERE seq = $3")
        .bind(&forged)
        .bind(merkle::to_hex(&merkle::leaf_hash(forged.as_bytes())))
        .bind(seq)
        .execute(app.state.db.pool())
        .await
        .unwrap();
}

/// A signer with a key of its own: not the journal's.
fn stranger() -> CheckpointSigner {
    CheckpointSigner::from_config(&AuditConfig {
        signing_key: Some(Secret::new(random_key())),
        ..AuditConfig::default()
    })
    .unwrap()
}

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(app.state.db.pool()).await.unwrap();
}

async fn concurrent_appends_are_gap_free_and_verify(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.audit.checkpoint_every = 50).await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let journal = app.state.journal.clone();
        tasks.push(tokio::spawn(async move {
            let actor = Actor { user_id: Some(format!("u{i}")), ..Actor::default() };
            journal.record(&RequestMeta::default(), actor, EventKind::Logout).await.unwrap().seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>(), "every caller got its own gap-free position");
    app.state.journal.checkpoint_now().await.unwrap();
    let report = run_verify(&app).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events, 300);
    assert_eq!(report.verified_through, 300);
    let (checkpoints,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_checkpoints")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(checkpoints >= 6, "a checkpoint at least every 50 events: {checkpoints}");
    let copies = verify::read_checkpoint_file(&app.state.config.checkpoint_file()).unwrap();
    assert_eq!(copies.len() as i64, checkpoints, "every checkpoint is copied outside the database");
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("custodian_audit_events 300"), "{metrics}");
    assert!(metrics.contains("custodian_audit_checkpointed_events 300"));
    assert!(metrics.contains("custodian_audit_journal_up 1"));
    let batches: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("custodian_audit_batches_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(batches < 300, "concurrent appends share transactions: {batches} batches for 300 events");
}

async fn a_modified_event_is_found(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    assert!(run_verify(&app).await.ok());
    exec(&app, "UPDATE audit_events SET body = REPLACE(body, 'user-6', 'user-X') WHERE seq = 7").await;
    let finding = run_verify(&app).await.finding.unwrap();
    assert_eq!(finding.seq, 7);
    assert!(finding.problem.contains("modified"), "{}", finding.problem);
}

async fn a_modified_event_with_a_recomputed_hash_is_found_by_its_checkpoint(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    forge_event(&app, 7, "user-6", "user-X").await;
    let (last_good,): (i64,) =
        sqlx::query_as("SELECT MAX(tree_size) FROM audit_checkpoints WHERE tree_size < 7")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    let finding = run_verify(&app).await.finding.unwrap();
    assert_eq!(finding.seq as i64, last_good + 1, "the first event after the last good checkpoint");
    assert!(finding.problem.contains("signed checkpoint"), "{}", finding.problem);
}

async fn a_deleted_event_is_found(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    exec(&app, "DELETE FROM audit_events WHERE seq = 9").await;
    let finding = run_verify(&app).await.finding.unwrap();
    assert_eq!(finding.seq, 9);
    assert!(finding.problem.contains("missing"), "{}", finding.problem);
}

async fn reordered_events_are_found(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    exec(&app, "UPDATE audit_events SET seq = 1000 WHERE seq = 3").await;
    exec(&app, "UPDATE audit_events SET seq = 3 WHERE seq = 4").await;
    exec(&app, "UPDATE audit_events SET seq = 4 WHERE seq = 1000").await;
    let finding = run_verify(&app).await.finding.unwrap();
    assert_eq!(finding.seq, 3);
    assert!(finding.problem.contains("reordered"), "{}", finding.problem);
}

async fn a_truncated_tail_is_found(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    exec(&app, "DELETE FROM audit_events WHERE seq > 12").await;
    let finding = run_verify(&app).await.finding.unwrap();
    assert_eq!(finding.seq, 13);
    assert!(finding.problem.contains("truncated"), "{}", finding.problem);
}

async fn a_rewrite_without_the_key_is_found(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    // The attacker rewrites an event and re-signs every checkpoint with a key of their own.
    let forger = stranger();
    forge_event(&app, 2, "user-1", "user-Z").await;
    let leaves: Vec<(String,)> = sqlx::query_as("SELECT leaf_hash FROM audit_events ORDER BY seq")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    let leaves: Vec<merkle::Hash> = leaves.iter().map(|(h,)| merkle::from_hex(h).unwrap()).collect();
    exec(&app, "DELETE FROM audit_checkpoints").await;
    for size in [5u64, 10, 15, 20] {
        let cp = forger.sign(size, &merkle::root(&leaves[..size as usize]), 1);
        sqlx::query("INSERT INTO audit_checkpoints (tree_size, root_hash, time, key_id, signature) VALUES ($1, $2, $3, $4, $5)")
            .bind(size as i64)
            .bind(&cp.root_hash)
            .bind(cp.time)
            .bind(&cp.key_id)
            .bind(&cp.signature)
            .execute(app.state.db.pool())
            .await
            .unwrap();
    }
    let finding = run_verify(&app).await.finding.unwrap();
    assert_eq!(finding.seq, 1);
    assert!(finding.problem.contains("not signed by this key"), "{}", finding.problem);
}

async fn removed_checkpoints_are_found_from_the_copy_outside_the_database(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    exec(&app, "DELETE FROM audit_checkpoints WHERE tree_size > 10").await;
    exec(&app, "DELETE FROM audit_events WHERE seq > 10").await;
    let key = CheckpointSigner::from_config(&app.state.config.audit).unwrap().public_key();
    let copies = verify::read_checkpoint_file(&app.state.config.checkpoint_file()).unwrap();
    let report = verify::verify(&app.state.db, &key, &copies, |_, _| {}).await.unwrap();
    let finding = report.finding.unwrap();
    assert_eq!(finding.seq, 11);
    assert!(finding.problem.contains("outside the database"), "{}", finding.problem);
    // Without the copy, the same damage shows as an unsigned tail at most.
    let report = verify::verify(&app.state.db, &key, &[], |_, _| {}).await.unwrap();
    assert!(report.ok(), "a truncation together with its checkpoints needs the outside copy to be seen");
}

async fn an_inclusion_proof_verifies_offline_and_an_edited_one_fails(backend: Backend) {
    let app = journal_with_20_events(backend).await;
    let key = CheckpointSigner::from_config(&app.state.config.audit).unwrap().public_key();
    for seq in [1, 7, 20] {
        let bundle = verify::prove(&app.state.db, seq).await.unwrap();
        assert!(bundle.event.contains(&format!("user-{}", seq - 1)), "the bundle holds that one event");
        verify::verify_proof(&bundle, &key).unwrap();
        // Editing any one byte breaks it: the event, a proof hash, the root.
        let mut edited = bundle.clone();
        edited.event = edited.event.replacen("user-", "user_", 1);
        assert!(verify::verify_proof(&edited, &key).is_err());
        if !bundle.proof.is_empty() {
            let mut edited = bundle.clone();
            let h = &mut edited.proof[0];
            let flipped = if h.starts_with('0') { "1" } else { "0" };
            h.replace_range(0..1, flipped);
            assert!(verify::verify_proof(&edited, &key).is_err());
        }
        let mut edited = bundle.clone();
        edited.checkpoint.tree_size += 1;
        assert!(verify::verify_proof(&edited, &key).is_err());
    }
    let other = stranger();
    let bundle = verify::prove(&app.state.db, 3).await.unwrap();
    assert!(verify::verify_proof(&bundle, &other.public_key()).is_err(), "another key does not verify it");
}

async fn auditors_search_and_every_search_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, _, _) = app.enrolled_browser("alice").await;
    let (dave, _, _) = app.enrolled_browser("dave").await;

    // Staff may not read the journal, and the attempt is recorded.
    let r = alice.get("/api/v1/audit/events").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "not_auditor");
    let denied = app.events_of("audit.read").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["decision"], "denied");

    // The auditor filters by action prefix and pages with the cursor.
    let page: serde_json::Value =
        dave.get("/api/v1/audit/events?action=auth.mfa&limit=2").await.json().await.unwrap();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["action"].as_str().unwrap().starts_with("auth.mfa.")));
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let page2: serde_json::Value = dave
        .get(&format!("/api/v1/audit/events?action=auth.mfa&limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let first2 = page2["events"][0]["seq"].as_u64().unwrap();
    assert!(first2 > events[1]["seq"].as_u64().unwrap(), "the next page continues after the cursor");

    // By actor and decision.
    let alice_id = app.state.identity.users.find("alice@clinic.example").await.unwrap().unwrap().id;
    let page: serde_json::Value = dave
        .get(&format!("/api/v1/audit/events?actor={alice_id}&decision=denied"))
        .await
        .json()
        .await
        .unwrap();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "alice's refused journal read");
    assert_eq!(events[0]["action"], "audit.read");

    // CSV.
    let r = dave.get("/api/v1/audit/events?format=csv&action=auth.login").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("seq,time,event_id,action,decision,user_id"));
    assert_eq!(lines.filter(|l| l.contains(",auth.login,")).count(), 2);

    // Wildcards in the prefix are taken literally.
    let page: serde_json::Value = dave.get("/api/v1/audit/events?action=a%25").await.json().await.unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 0, "'%' is not a wildcard");

    // Bad filters get a clear 400.
    for bad in
        ["from=yesterday", "decision=maybe", "limit=0", "limit=5000", "cursor=-3", "format=xml", "colour=red"]
    {
        let r = dave.get(&format!("/api/v1/audit/events?{bad}")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "bad_request");
    }

    // Every successful search was recorded, with what was asked.
    let reads: Vec<_> =
        app.events_of("audit.read").await.into_iter().filter(|e| e["decision"] == "allowed").collect();
    assert_eq!(reads.len(), 5, "five searches ran (the malformed ones read nothing)");
    assert!(reads[0]["kind"]["query"].as_str().unwrap().contains("auth.mfa"));
    assert_eq!(reads[3]["kind"]["format"], "csv");
}

on_both_backends!(retention_prunes_at_a_checkpoint_and_the_rest_still_verifies);

async fn retention_prunes_at_a_checkpoint_and_the_rest_still_verifies(backend: Backend) {
    use custodian::audit::retention::{self, PruneError};
    use std::time::Duration;
    let app = journal_with_20_events(backend).await;
    app.clock.advance(Duration::from_secs(2 * 3600));
    for i in 20..23 {
        let actor = Actor { user_id: Some(format!("user-{i}")), ..Actor::default() };
        app.state.journal.record(&RequestMeta::default(), actor, EventKind::Logout).await.unwrap();
    }
    app.state.journal.checkpoint_now().await.unwrap();
    let cutoff = custodian::clock::Clock::now(&app.clock).millis() - 3600 * 1000;

    // A legal hold stops it.
    let held = retention::prune(&app.state.db, &app.state.journal, cutoff, true, "test").await;
    assert!(matches!(held, Err(PruneError::LegalHold)));
    assert_eq!(app.count("audit_events").await, 23);

    let pruned =
        retention::prune(&app.state.db, &app.state.journal, cutoff, false, "test").await.unwrap().unwrap();
    assert_eq!(pruned.through, 20, "cut at the newest checkpoint older than the cutoff");
    assert_eq!(pruned.deleted, 20);
    assert_eq!(app.events_of("audit.prune").await.len(), 1, "the prune is itself recorded");
    app.state.journal.checkpoint_now().await.unwrap();

    let report = run_verify(&app).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.pruned_through, 20);
    assert_eq!(report.events, 24);

    // Proofs still work for kept events, and say so for pruned ones.
    let key = CheckpointSigner::from_config(&app.state.config.audit).unwrap().public_key();
    for seq in [21, 22, 24] {
        let bundle = verify::prove(&app.state.db, seq).await.unwrap();
        verify::verify_proof(&bundle, &key).unwrap();
    }
    assert!(verify::prove(&app.state.db, 5).await.unwrap_err().contains("no event 5"));

    // A writer started afterwards resumes from the prune point.
    let journal = custodian::audit::Journal::start(
        app.state.db.clone(),
        std::sync::Arc::new(app.clock.clone()),
        &app.state.config.audit,
        app.state.config.checkpoint_file(),
    )
    .await
    .unwrap();
    let recorded =
        journal.record(&RequestMeta::default(), Actor::default(), EventKind::Logout).await.unwrap();
    assert_eq!(recorded.seq, 25);
    journal.checkpoint_now().await.unwrap();
    assert!(run_verify(&app).await.ok());

    // Deleting a kept event after the prune point is still found.
    exec(&app, "DELETE FROM audit_events WHERE seq = 22").await;
    assert_eq!(run_verify(&app).await.finding.unwrap().seq, 22);
}

on_both_backends!(a_write_slower_than_the_bound_is_refused_and_reported);

async fn a_write_slower_than_the_bound_is_refused_and_reported(backend: Backend) {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(backend, |c| c.audit.write_timeout = Duration::from_millis(300)).await;
    let meta = RequestMeta::default();
    let record = || app.state.journal.record(&meta, Actor::default(), EventKind::Logout);
    record().await.unwrap();
    // Another session holds the journal table locked.
    let mut blocker = app.state.db.pool().acquire().await.unwrap();
    match backend {
        Backend::Sqlite => {
            sqlx::query("BEGIN EXCLUSIVE").execute(&mut *blocker).await.unwrap();
        }
        Backend::Postgres => {
            sqlx::query("BEGIN").execute(&mut *blocker).await.unwrap();
            sqlx::query("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *blocker)
                .await
                .unwrap();
        }
    }
    let started = Instant::now();
    let refused = record().await;
    assert!(
        matches!(refused, Err(custodian::audit::AuditError::Timeout(_))),
        "the caller is refused at the bound: {refused:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "refused in {:?}", started.elapsed());
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    sqlx::query("ROLLBACK").execute(&mut *blocker).await.unwrap();
    drop(blocker);
    // Once the database answers again, writes and readiness recover.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if record().await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the journal did not recover");
    }
    assert_eq!(reqwest::get(app.url("/readyz")).await.unwrap().status(), StatusCode::OK);
    app.state.journal.checkpoint_now().await.unwrap();
    assert!(run_verify(&app).await.ok(), "the late write, if it landed, is in order");
}

on_both_backends!(a_second_writer_on_the_same_database_neither_collides_nor_forks_the_chain);

/// The command line writes the journal while the server runs, on the same
/// database: each numbers its events after the other's, no write fails
/// and is retried, nothing is lost, and the one chain verifies.
async fn a_second_writer_on_the_same_database_neither_collides_nor_forks_the_chain(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.audit.checkpoint_every = 7).await;
    // What `custodian users revoke` builds: its own pool and journal writer.
    let cli =
        custodian::app::build_state((*app.state.config).clone(), app.state.clock.clone()).await.unwrap();
    let before = app.events().await.len() as u64;
    let record = |journal: &custodian::audit::Journal, i: usize| {
        let journal = journal.clone();
        async move {
            let actor = Actor { user_id: Some(format!("u{i}")), ..Actor::default() };
            journal.record(&RequestMeta::default(), actor, EventKind::Logout).await.unwrap().seq
        }
    };
    // Taking turns: every write follows one the other writer made.
    let mut seqs = Vec::new();
    for i in 0..20 {
        let journal = if i % 2 == 0 { &app.state.journal } else { &cli.journal };
        seqs.push(record(journal, i).await);
    }
    // And at once.
    let mut tasks = Vec::new();
    for i in 20..120 {
        let journal = if i % 2 == 0 { app.state.journal.clone() } else { cli.journal.clone() };
        tasks.push(tokio::spawn(record(&journal, i)));
    }
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (before + 1..=before + 120).collect::<Vec<u64>>(), "one gap-free sequence");
    let failures =
        |j: &custodian::audit::Journal| j.stats().write_failures.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (failures(&app.state.journal), failures(&cli.journal)),
        (0, 0),
        "no write failed and was retried"
    );
    cli.journal.checkpoint_now().await.unwrap();
    app.state.journal.checkpoint_now().await.unwrap();
    let report = run_verify(&app).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events, before + 120);
    assert_eq!(report.verified_through, before + 120, "a checkpoint covers every event");
}
