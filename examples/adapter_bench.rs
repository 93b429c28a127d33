//! Adapter benchmark: what an adapter adds to a platform call (rate-limit
//! bookkeeping, request building, answer mapping), and token refresh under
//! load. Run on demand, never in the suite:
//!
//! ```text
//! cargo run --release --example adapter_bench -- [--calls 5000] [--waiters 1000]
//! ```
//!
//! A minimal platform on loopback answers `POST /api/v1/statuses` as
//! Mastodon does (status JSON, rate-limit headers). The same calls go
//! through the action path (policy; the intent and the outcome written
//! durably to the audit journal; the sealed token opened from the vault;
//! all on embedded SQLite; then the adapter), through the Mastodon adapter
//! alone, and as bare HTTP requests; the differences are the overheads.
//! Then `--waiters` tasks ask for one account's token just as it expires,
//! against a token endpoint that takes 50 ms: one refresh should serve them all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark program")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use axum::{Json, Router};
use base64::Engine;
use clap::Parser;
use custodian::clock::{Clock, SharedClock, SystemClock};
use custodian::config::{Config, DatabaseUrl};
use custodian::domain::NewPost;
use custodian::platforms::mastodon::Mastodon;
use custodian::platforms::refresh::OAuthEndpoint;
use custodian::platforms::{Call, PlatformApi};
use custodian::secret::Secret;
use custodian::vault::credentials::CredentialKind;
use custodian::vault::Credentials;
use rand::RngCore;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "Adapter overhead per call, and token refresh under load")]
struct Args {
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    #[arg(long, default_value_t = 1000)]
    waiters: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

static REFRESHES: AtomicU64 = AtomicU64::new(0);

async fn statuses() -> impl IntoResponse {
    let headers = [
        ("x-ratelimit-limit", "300"),
        ("x-ratelimit-remaining", "299"),
        ("x-ratelimit-reset", "2099-01-01T00:00:00.000Z"),
    ];
    (
        headers,
        Json(
            json!({"id": "109372845632987234", "url": "https://example.test/@clinic/109372845632987234", "content": "<p>hi</p>"}),
        ),
    )
}

async fn token() -> impl IntoResponse {
    REFRESHES.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Json(
        json!({"token_type": "bearer", "access_token": "fresh", "refresh_token": "next", "expires_in": 7200}),
    )
}

fn key() -> String {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    base64::engine::general_purpose::STANDARD.encode(k)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let platform = Router::new()
        .route("/api/v1/statuses", axum::routing::post(statuses))
        .route("/oauth/token", axum::routing::post(token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, platform).await });

    let clock: SharedClock = Arc::new(SystemClock);
    // A Custodian on embedded SQLite with one connected Mastodon account.
    let dir = tempfile::tempdir()?;
    let mut config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    config.database.url =
        Some(DatabaseUrl::new(format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display())));
    config.oidc.issuer_url = Some("http://127.0.0.1:9".into());
    config.oidc.client_id = Some("bench".into());
    config.oidc.client_secret = Some(Secret::new("bench".into()));
    config.oidc.redirect_url = Some("https://custodian.test/auth/callback".parse()?);
    config.keys.active = Some("k1".into());
    config.keys.ring.insert("k1".into(), Secret::new(key()));
    config.audit.signing_key = Some(Secret::new(key()));
    config.directory.account_tags.insert("staff".into(), vec!["official".into()]);
    config.directory.roles.insert(custodian::directory::Role::Staff, vec!["staff".into()]);
    config.platforms.mastodon = Some(custodian::platforms::config::OAuthApp {
        client_id: "bench".into(),
        client_secret: Some(Secret::new("bench".into())),
        api_base: Some(base.parse()?),
        ..Default::default()
    });
    let state = custodian::app::build_state(config, clock.clone()).await?;
    let by = custodian::audit::ChangedBy {
        actor: Default::default(),
        name: "bench".into(),
        meta: Default::default(),
    };
    let now = SystemClock.now();
    let connected = custodian::domain::Account {
        id: "acct_mastodon".into(),
        platform: custodian::domain::Platform::Mastodon,
        handle: "@clinic".into(),
        external_id: "1".into(),
        base_url: None,
        status: custodian::domain::Status::Active,
        status_reason: None,
        tags: vec!["official".into()],
        scopes: vec![],
        token_expires_at: None,
        connected_by: "bench".into(),
        created_at: now,
    };
    state.accounts.insert(&connected).await?;
    Credentials::new(state.db.clone(), state.keys.clone())
        .store(&connected.id, CredentialKind::AccessToken, &Secret::new("bench-token".into()), None, now)
        .await?;
    // A staff member whose group grants the account's tag, as a door hands them to the path.
    let user = custodian::identity::User {
        id: "bench".into(),
        issuer: "bench".into(),
        subject: "bench".into(),
        email: None,
        email_verified: false,
        name: None,
        groups: vec!["staff".into()],
        directory_id: None,
        last_login_at: None,
    };
    let admitted = state.identity.directory.admit(user).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    // Overhead per call: the action path, the adapter alone and the bare request, interleaved.
    let mastodon = Mastodon::new(base.parse()?, clock.clone())?;
    let raw = custodian::platforms::http_client()?;
    let token = Secret::new("bench-token".into());
    let call = Call { account_id: &"acct_bench".into(), token: &token };
    let post = NewPost { text: "Flu clinic open".into(), ..NewPost::default() };
    let action = custodian::domain::Action::Publish(post.clone());
    let (mut dispatched, mut through, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.calls {
        let t = Instant::now();
        let caller = custodian::action::Gated::new(
            &admitted,
            Default::default(),
            Default::default(),
            custodian::action::Door::Api,
            Some(SystemClock.now()),
        );
        state
            .actions
            .perform(&caller, &connected.id, action.clone())
            .await
            .map_err(|r| anyhow::anyhow!("{r}"))?;
        dispatched.push(t.elapsed());
        let t = Instant::now();
        mastodon.publish(&call, &post).await?;
        through.push(t.elapsed());
        let t = Instant::now();
        let r = raw
            .post(format!("{base}/api/v1/statuses"))
            .bearer_auth("bench-token")
            .json(&json!({"status": "Flu clinic open", "visibility": "public"}))
            .send()
            .await?;
        let _: serde_json::Value = r.json().await?;
        bare.push(t.elapsed());
    }
    dispatched.sort();
    through.sort();
    bare.sort();
    println!("\n| {} calls, loopback | p50 ms | p99 ms |\n|---|---:|---:|", args.calls);
    println!(
        "| through the action path (policy, intent + outcome audited, vault, adapter) | {:.3} | {:.3} |",
        ms(percentile(&dispatched, 0.5)),
        ms(percentile(&dispatched, 0.99))
    );
    println!(
        "| through the Mastodon adapter | {:.3} | {:.3} |",
        ms(percentile(&through, 0.5)),
        ms(percentile(&through, 0.99))
    );
    println!(
        "| bare HTTP request | {:.3} | {:.3} |",
        ms(percentile(&bare, 0.5)),
        ms(percentile(&bare, 0.99))
    );
    println!(
        "| adapter overhead | {:.3} | {:.3} |",
        ms(percentile(&through, 0.5)) - ms(percentile(&bare, 0.5)),
        ms(percentile(&through, 0.99)) - ms(percentile(&bare, 0.99))
    );
    println!(
        "| action path overhead (incl. adapter) | {:.3} | {:.3} |",
        ms(percentile(&dispatched, 0.5)) - ms(percentile(&bare, 0.5)),
        ms(percentile(&dispatched, 0.99)) - ms(percentile(&bare, 0.99))
    );

    // Refresh under load: one expiring token, many waiters.
    let now = SystemClock.now();
    let account = state.accounts.add_sandbox(&state.journal, "bench", &[], &by, now).await?;
    let vault = Credentials::new(state.db.clone(), state.keys.clone());
    vault
        .store(
            &account.id,
            CredentialKind::AccessToken,
            &Secret::new("old".into()),
            Some(now.plus(Duration::from_secs(30))),
            now,
        )
        .await?;
    vault.store(&account.id, CredentialKind::RefreshToken, &Secret::new("r".into()), None, now).await?;
    let endpoint = Arc::new(OAuthEndpoint::new(&format!("{base}/oauth/token"), "custodian", None)?);
    let started = Instant::now();
    let mut waiters = Vec::new();
    for _ in 0..args.waiters {
        let (refresher, endpoint, id) = (state.refresher.clone(), endpoint.clone(), account.id.clone());
        waiters.push(tokio::spawn(async move {
            let t = Instant::now();
            let token = refresher.access_token(&id, endpoint.as_ref()).await.unwrap();
            assert_eq!(token.expose(), "fresh");
            t.elapsed()
        }));
    }
    let mut waited = Vec::new();
    for w in waiters {
        waited.push(w.await?);
    }
    waited.sort();
    println!(
        "\n{} concurrent callers on an expiring token (token endpoint: 50 ms): {} refresh(es); \
         each waited p50 {:.1} ms, p99 {:.1} ms; all served in {:.1} ms",
        args.waiters,
        REFRESHES.load(Ordering::SeqCst),
        ms(percentile(&waited, 0.5)),
        ms(percentile(&waited, 0.99)),
        ms(started.elapsed())
    );
    Ok(())
}
