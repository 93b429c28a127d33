//! Directory benchmark: SCIM list-by-filter latency over a directory of
//! 10,000 users, and revocation latency (SCIM PATCH `active=false` returned
//! → the user's next request refused). Run on demand, never in the suite:
//!
//! ```text
//! cargo run --release --example directory_bench -- [--database URL] [--users 10000]
//!     [--queries 2000] [--revocations 200]
//! ```
//!
//! Everything goes over real HTTP on loopback to a real server with the
//! audit journal on: the filters as Okta and Entra ID send them, and each
//! revocation through the same PATCH an IdP sends, followed at once by a
//! request on the revoked user's session. The directory itself is loaded
//! straight into the store (setup, not measured).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark program")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use custodian::clock::{SharedClock, SystemClock};
use custodian::config::{Config, DatabaseUrl};
use custodian::directory::store::{GroupRow, Member, UserRow};
use custodian::directory::Role;
use custodian::identity::VerifiedIdentity;
use custodian::secret::Secret;
use rand::{Rng, RngCore};
use serde_json::json;
use sqlx::Connection;

#[derive(Debug, Parser)]
#[command(about = "Directory benchmark: SCIM filter latency at 10k users, revocation latency")]
struct Args {
    /// Database URL; default: a SQLite file in a temporary directory. A
    /// PostgreSQL database must be empty (each run migrates it).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    #[arg(long, default_value_t = 200)]
    revocations: usize,
}

fn key() -> String {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    base64::engine::general_purpose::STANDARD.encode(k)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name} | {} | {:.2} | {:.2} | {:.2} |",
        samples.len(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap())
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    // A fresh SQLite file is created, as `custodian serve` does; on
    // PostgreSQL, a fresh database under the given account, dropped after.
    let (url, pg_name) = if url.starts_with("sqlite:") {
        (if url.contains('?') { url } else { format!("{url}?mode=rwc") }, None)
    } else {
        let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
        conn.close().await?;
        let mut fresh = url::Url::parse(&url)?;
        fresh.set_path(&name);
        (fresh.to_string(), Some((url, name)))
    };
    let (token, entry) = custodian::directory::scim::auth::generate();
    let mut config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    config.database.url = Some(DatabaseUrl::new(url.clone()));
    config.database.max_connections = 16;
    config.oidc.issuer_url = Some("http://127.0.0.1:9".into());
    config.oidc.client_id = Some("bench".into());
    config.oidc.client_secret = Some(Secret::new("bench".into()));
    config.oidc.redirect_url = Some("https://custodian.test/auth/callback".parse()?);
    config.http.cookie_secure = false;
    config.keys.active = Some("k1".into());
    config.keys.ring.insert("k1".into(), Secret::new(key()));
    config.audit.signing_key = Some(Secret::new(key()));
    config.directory.source = custodian::directory::DirectorySource::Scim;
    config.directory.scim.tokens.insert("bench".into(), entry);
    config.directory.roles.insert(Role::Staff, vec!["staff".into()]);
    config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let state = custodian::app::build_state(config, clock).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let serve_state = state.clone();
    tokio::spawn(async move { custodian::app::serve(serve_state, listener, std::future::pending()).await });

    // Setup: N users in the store, all in the staff group.
    let store = &state.directory().store;
    let t = Instant::now();
    let now = custodian::clock::Clock::now(&SystemClock);
    let mut ids = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let email = format!("user{i:05}@clinic.example");
        let row = UserRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_name: email.clone(),
            external_id: Some(format!("ext-{i:05}")),
            active: true,
            resource: json!({"userName": email, "externalId": format!("ext-{i:05}"), "active": true,
                             "displayName": format!("User {i}"),
                             "emails": [{"value": email, "type": "work", "primary": true}]}),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        store.insert_user(&row).await?;
        ids.push(row.id);
    }
    let members: Vec<Member> = ids.iter().map(|id| Member { id: id.clone(), kind: "User".into() }).collect();
    let group = GroupRow {
        id: uuid::Uuid::new_v4().to_string(),
        display_name: "staff".into(),
        external_id: None,
        resource: json!({"displayName": "staff"}),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store.insert_group(&group, &members).await?;
    eprintln!("loaded {} users in one group in {:?}", args.users, t.elapsed());

    let http = reqwest::Client::new();
    let scim = |path: String| http.get(format!("{base}/scim/v2{path}")).bearer_auth(&token).send();
    println!(
        "\n{} users, backend {}\n",
        args.users,
        if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" }
    );
    println!("| request | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|");
    let mut rng = rand::thread_rng();
    for (name, n, make) in [
        ("GET /Users?filter=userName eq (Okta, Entra)", args.queries, 0),
        ("GET /Users?filter=externalId eq (Entra)", args.queries, 1),
        ("GET /Users?filter=emails[type eq \"work\"].value eq (scan)", args.queries.min(50), 2),
    ] {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let i = rng.gen_range(0..args.users);
            let filter = match make {
                0 => format!("userName%20eq%20%22USER{i:05}%40clinic.example%22"),
                1 => format!("externalId%20eq%20%22ext-{i:05}%22"),
                _ => format!(
                    "emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22user{i:05}%40clinic.example%22"
                ),
            };
            let started = Instant::now();
            let r = scim(format!("/Users?filter={filter}&startIndex=1&count=100")).await?;
            assert_eq!(r.status(), 200);
            let body: serde_json::Value = r.json().await?;
            samples.push(started.elapsed());
            assert_eq!(body["totalResults"], 1, "{filter}");
        }
        report(name, samples);
    }

    // Revocations: a signed-in, verified session per user; PATCH; next request.
    let (mut patch_times, mut refusal_times, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    let identity = &state.identity;
    let issuer = "http://127.0.0.1:9".to_owned();
    for (i, directory_id) in ids.iter().enumerate().take(args.revocations) {
        let email = format!("user{i:05}@clinic.example");
        let verified = VerifiedIdentity {
            issuer: issuer.clone(),
            subject: format!("sub-{i}"),
            email: Some(email.clone()),
            email_verified: Some(true),
            name: None,
            groups: vec![],
            preferred_username: None,
            other_claims: Default::default(),
        };
        let user = identity.users.upsert_from_sign_in(&verified, now).await?;
        identity.users.link_directory(&user.id, directory_id).await?;
        let (sid, _) = identity.sessions.create(&user.id, &[]).await?;
        let sid = identity.sessions.mark_mfa_passed(&sid, "totp").await?;
        let cookie = format!("custodian_session={}", sid.cookie_value());
        let me = || http.get(format!("{base}/api/v1/me")).header("cookie", &cookie).send();
        assert_eq!(me().await?.status(), 200, "the session works before the revocation");
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
        let started = Instant::now();
        let r = http
            .patch(format!("{base}/scim/v2/Users/{directory_id}"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let returned = Instant::now();
        let status = me().await?.status();
        let refused = Instant::now();
        assert_eq!(status, 401, "the next request is refused");
        patch_times.push(returned - started);
        refusal_times.push(refused - returned);
        totals.push(refused - started);
    }
    println!();
    println!(
        "| revocation (SCIM PATCH active=false) | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|"
    );
    report("PATCH call (deactivate, end sessions, audit)", patch_times);
    report("PATCH returned → next request refused", refusal_times);
    report("PATCH sent → next request refused", totals);
    state.db.close().await;
    if let Some((admin, name)) = pg_name {
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await?;
    }
    Ok(())
}
