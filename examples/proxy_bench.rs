//! The pass-through proxy benchmark's helpers (`BENCH_SUITE=proxy scripts/bench`
//! runs them; results in BENCHMARKS.md). Run on demand, never in the suite:
//!
//! ```text
//! proxy_bench fake --listen 127.0.0.1:0 --token T     # a minimal Mastodon on loopback
//! proxy_bench setup --config custodian.toml ...       # a staff user, an account, an API token
//! proxy_bench count --config custodian.toml --after N # audit events after seq N, by action
//! proxy_bench flood --base URL --account A            # refused callbacks and random tokens
//! proxy_bench refusals --config custodian.toml --after N  # how the journal recorded them
//! ```
//!
//! `flood` and `refusals` serve the flood benchmark (`BENCH_SUITE=flood`):
//! `flood` sends bad callbacks (no sign-in in progress; half with a forged
//! sign-in cookie) and pass-through calls with random API tokens, a number
//! of each, some at a time, and prints what came back; `refusals` prints how
//! many `access.gate` and `auth.login` events were written after a sequence
//! number, how many of them are summaries, and the refusals they stand for.
//!
//! `fake` answers `POST /api/v1/statuses` as Mastodon does (a status JSON,
//! rate-limit headers) when the bearer token is the account's, 401
//! otherwise; it does as little as it can so that it is not what limits a run.
//! `setup` opens the database `custodian serve` will use, with the same
//! configuration, and creates what an operator and a user would have by
//! then: a user who signed in with the staff group (`directory.source =
//! "oidc-claims"`), their current training record, one Mastodon account
//! tagged for that group with its sealed access token, and a personal API
//! token (`post.publish` on that account) created through the action path,
//! as `POST /api/v1/tokens` does. It prints the account id and the token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark program")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use clap::{Parser, Subcommand};
use custodian::clock::{SharedClock, SystemClock};
use custodian::config::{Config, Overrides};
use custodian::secret::Secret;
use custodian::vault::credentials::CredentialKind;
use custodian::vault::Credentials;

#[derive(Debug, Parser)]
#[command(about = "Helpers for the pass-through proxy benchmark")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A minimal Mastodon: prints `listening ADDRESS` once it accepts connections.
    Fake {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// The access token it accepts (the account's sealed credential).
        #[arg(long)]
        token: String,
    },
    /// Creates the user, account, credential and API token in the configured database.
    Setup {
        #[arg(long)]
        config: PathBuf,
        /// The account's access token at the fake platform.
        #[arg(long)]
        platform_token: String,
        /// The directory group the user signs in with (must grant `staff` and the account's tag).
        #[arg(long, default_value = "social-media-staff")]
        group: String,
        #[arg(long, default_value = "official")]
        tag: String,
        /// The training course to record as completed today, if any.
        #[arg(long)]
        course: Option<String>,
    },
    /// Prints `HEAD_SEQ INTENTS OUTCOMES REFUSED DENIED` for the events after seq `after`.
    Count {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
    /// Sends refused callbacks and random API tokens; prints `SENT ANSWERED SECONDS UNEXPECTED`.
    Flood {
        #[arg(long)]
        base: String,
        /// The account the random tokens try to post to.
        #[arg(long)]
        account: String,
        #[arg(long, default_value_t = 50_000)]
        callbacks: usize,
        #[arg(long, default_value_t = 50_000)]
        tokens: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Stops sending after this many seconds (the requests still waiting
        /// for an answer are abandoned), if not done by then.
        #[arg(long)]
        seconds: Option<f64>,
        /// Loopback addresses the requests come from, in turn (127.1.0.1 and
        /// on): a flood from many sources. 1: from 127.0.0.1 alone.
        #[arg(long, default_value_t = 1)]
        sources: u32,
    },
    /// Prints `EVENTS SUMMARIES REFUSALS` for the throttled refusals after seq `after`.
    Refusals {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
}

const STATUS: &str = r#"{"id":"109372845632987234","created_at":"2026-01-01T00:00:00.000Z","visibility":"public","url":"https://mastodon.example/@clinic/109372845632987234","uri":"https://mastodon.example/users/clinic/statuses/109372845632987234","content":"<p>Flu clinic open</p>","account":{"id":"1","username":"clinic","acct":"clinic"}}"#;

async fn fake(listen: std::net::SocketAddr, token: String) -> anyhow::Result<()> {
    let expected = HeaderValue::from_str(&format!("Bearer {token}"))?;
    let statuses = move |headers: HeaderMap, _body: Bytes| {
        let expected = expected.clone();
        async move {
            if headers.get(header::AUTHORIZATION) != Some(&expected) {
                return (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/json")])
                    .into_response();
            }
            let mut response = Response::new(axum::body::Body::from(STATUS));
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
            h.insert("x-ratelimit-limit", HeaderValue::from_static("300"));
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("299"));
            response
        }
    };
    let app = axum::Router::new().route("/api/v1/statuses", axum::routing::post(statuses));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn setup(
    config: PathBuf,
    platform_token: String,
    group: String,
    tag: String,
    course: Option<String>,
) -> anyhow::Result<()> {
    let config = Config::load(&Overrides { config_file: Some(config), ..Overrides::default() })?;
    let clock: SharedClock = Arc::new(SystemClock);
    let state = custodian::app::build_state(config, clock.clone()).await?;
    let now = clock.now();

    // The user as their first OIDC sign-in leaves them.
    let identity = custodian::identity::VerifiedIdentity {
        issuer: "http://127.0.0.1:9".into(),
        subject: "bench-staff".into(),
        email: Some("bench@clinic.example".into()),
        email_verified: Some(true),
        name: Some("Bench Staff".into()),
        groups: vec![group],
        preferred_username: Some("bench".into()),
        other_claims: Default::default(),
    };
    let user = state.identity.users.upsert_from_sign_in(&identity, now).await?;
    // The refresh token that sign-in leaves, confirmed now: within the run the IdP is not asked again.
    state.identity.owner_recheck().remember(&user.id, Some(&Secret::new("bench-refresh".into()))).await?;
    if let Some(course) = course {
        let record = custodian::directory::training::Record {
            user: "bench@clinic.example".into(),
            course,
            completed_on: chrono::DateTime::from_timestamp_millis(now.millis()).unwrap().date_naive(),
            expires_on: None,
            source: "bench".into(),
        };
        state.identity.directory.training.store(&[record], "bench", now).await?;
    }
    let actor = custodian::directory::actor_of(&user);
    let admitted = state.identity.directory.admit(user).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    let account = custodian::domain::Account {
        id: format!("acct_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]).into(),
        platform: custodian::domain::Platform::Mastodon,
        handle: "@clinic".into(),
        external_id: "1".into(),
        base_url: None,
        status: custodian::domain::Status::Active,
        status_reason: None,
        tags: vec![tag],
        scopes: vec!["read".into(), "write".into()],
        token_expires_at: None,
        connected_by: "bench".into(),
        created_at: now,
    };
    state.accounts.insert(&account).await?;
    Credentials::new(state.db.clone(), state.keys.clone())
        .store(&account.id, CredentialKind::AccessToken, &Secret::new(platform_token), None, now)
        .await?;

    // The token, as the user creates it right after their second factor.
    let caller = custodian::action::Gated::new(
        &admitted,
        actor,
        Default::default(),
        custodian::action::Door::Api,
        Some(now),
    );
    let scope = custodian::identity::tokens::TokenScope {
        name: "proxy benchmark".into(),
        actions: vec!["post.publish".into()],
        accounts: vec![account.id.to_string()],
        days: 1,
    };
    let issued =
        state.actions.create_token(&caller, scope).await.map_err(|r| anyhow::anyhow!("{}", r.reason))?;
    state.journal.checkpoint_now().await?;
    println!("{} {}", account.id, issued.secret.expose());
    Ok(())
}

async fn count(config: PathBuf, after: i64) -> anyhow::Result<()> {
    let config = Config::load(&Overrides { config_file: Some(config), ..Overrides::default() })?;
    let db = custodian::storage::Db::connect(&config.database_url(), 1).await?;
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT action, COUNT(*), MAX(seq) FROM audit_events WHERE seq > $1 GROUP BY action")
            .bind(after)
            .fetch_all(db.pool())
            .await?;
    let by: BTreeMap<String, i64> = rows.iter().map(|(a, n, _)| (a.clone(), *n)).collect();
    let head = rows.iter().map(|r| r.2).max().unwrap_or(after);
    let n = |a: &str| by.get(a).copied().unwrap_or(0);
    println!(
        "{head} {} {} {} {}",
        n("action.intent"),
        n("action.outcome"),
        n("action.refused"),
        n("access.gate")
    );
    db.close().await;
    Ok(())
}

struct Flood {
    base: String,
    account: String,
    callbacks: usize,
    tokens: usize,
    concurrency: usize,
    deadline: Option<std::time::Duration>,
    sources: u32,
}

/// Sends the bad callbacks and random tokens, interleaved, `concurrency` at
/// a time, until all are answered or the deadline passes. Prints `STARTED
/// ANSWERED SECONDS UNEXPECTED`: requests sent, answers received, and
/// answers that were not the expected refusal.
async fn flood(f: Flood) -> anyhow::Result<()> {
    use futures::StreamExt;
    use rand::RngCore;
    use std::sync::atomic::{AtomicU64, Ordering};
    let clients = (0..f.sources.max(1))
        .map(|i| {
            let from = if f.sources > 1 {
                std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(127, 1, 0, 1)) + i)
            } else {
                std::net::Ipv4Addr::LOCALHOST
            };
            reqwest::Client::builder()
                .pool_max_idle_per_host(f.concurrency)
                .local_address(Some(from.into()))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started = std::time::Instant::now();
    let (sent, answered, unexpected) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let (callbacks, tokens) = (f.callbacks, f.tokens);
    let requests = (0..callbacks + tokens).map(|i| {
        let client = clients[i % clients.len()].clone();
        let (base, account) = (f.base.clone(), f.account.clone());
        let (sent, answered, unexpected) = (&sent, &answered, &unexpected);
        async move {
            let mut random = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut random);
            let random = hex::encode(random);
            // Interleaved, so that a flood cut short by the deadline sent both kinds.
            let callback = (i % 2 == 0 && i / 2 < callbacks) || i >= 2 * tokens;
            let (request, expected) = if callback {
                let mut r = client.get(format!("{base}/auth/callback?code={random}&state={i}"));
                if i % 4 == 0 {
                    r = r.header("cookie", format!("custodian_login={random}"));
                }
                (r, 400)
            } else {
                let r = client
                    .post(format!("{base}/proxy/{account}/api/v1/statuses"))
                    .bearer_auth(format!("cst_{random}"))
                    .header("content-type", "application/json")
                    .body(r#"{"status":"spam"}"#);
                (r, 401)
            };
            sent.fetch_add(1, Ordering::Relaxed);
            let answer = request.send().await;
            answered.fetch_add(1, Ordering::Relaxed);
            if !matches!(answer, Ok(r) if r.status().as_u16() == expected) {
                unexpected.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let all = futures::stream::iter(requests).buffer_unordered(f.concurrency).collect::<Vec<()>>();
    match f.deadline {
        Some(deadline) => {
            let _ = tokio::time::timeout(deadline, all).await;
        }
        None => {
            all.await;
        }
    }
    println!(
        "{} {} {:.3} {}",
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        unexpected.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn refusals(config: PathBuf, after: i64) -> anyhow::Result<()> {
    let config = Config::load(&Overrides { config_file: Some(config), ..Overrides::default() })?;
    let db = custodian::storage::Db::connect(&config.database_url(), 1).await?;
    let bodies: Vec<(String,)> = sqlx::query_as(
        "SELECT body FROM audit_events WHERE seq > $1 AND action IN ('access.gate', 'auth.login') ORDER BY seq",
    )
    .bind(after)
    .fetch_all(db.pool())
    .await?;
    let (mut events, mut summaries, mut refusals) = (0u64, 0u64, 0u64);
    for (body,) in bodies {
        let event: serde_json::Value = serde_json::from_str(&body)?;
        let kind = &event["kind"];
        events += 1;
        let summary = kind["summary"] == true;
        summaries += u64::from(summary);
        refusals += u64::from(!summary) + kind["suppressed"].as_u64().unwrap_or(0);
    }
    println!("{events} {summaries} {refusals}");
    db.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Fake { listen, token } => fake(listen, token).await,
        Command::Setup { config, platform_token, group, tag, course } => {
            setup(config, platform_token, group, tag, course).await
        }
        Command::Count { config, after } => count(config, after).await,
        Command::Flood { base, account, callbacks, tokens, concurrency, seconds, sources } => {
            let deadline = seconds.map(std::time::Duration::from_secs_f64);
            flood(Flood { base, account, callbacks, tokens, concurrency, deadline, sources }).await
        }
        Command::Refusals { config, after } => refusals(config, after).await,
    }
}
