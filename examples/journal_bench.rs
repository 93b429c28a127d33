//! Audit-journal benchmark: durable appends per second and append latency
//! at several numbers of concurrent writers, then the speed of
//! `audit verify` over a large journal. Run on demand, never in the suite:
//!
//! ```text
//! cargo run --release --example journal_bench -- [--database URL] [--writers 1,64,512]
//!     [--seconds 10] [--verify-events 1000000]
//! ```
//!
//! `scripts/bench` runs it on SQLite and on PostgreSQL; BENCHMARKS.md holds
//! the results and how to read them.
//!
//! Every append is a real `Journal::record` of a realistic sign-in event,
//! and it is timed from the call until it returns, i.e. until the batch that
//! carries it is committed. Each writer is a tokio task with one append in
//! flight at a time (a request waiting for its audit record), so W writers
//! means at most W events per group commit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark program")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use custodian::audit::{verify, Actor, CheckpointSigner, EventKind, Journal, RequestMeta};
use custodian::clock::SystemClock;
use custodian::config::{Config, DatabaseUrl};
use custodian::secret::Secret;
use custodian::storage::{Backend, Db};
use rand::RngCore;
use sqlx::Connection;

#[derive(Debug, Parser)]
#[command(
    about = "Audit-journal benchmark: durable appends/s, append latency, verify speed",
    args_override_self = true
)]
struct Args {
    /// `postgres://USER:PASS@HOST:PORT/DB`: an account allowed to create
    /// databases; each phase runs in a fresh `bench_<random>` database, dropped
    /// afterwards. `sqlite://DIR/ANY.db`: each phase uses a fresh file in a
    /// new directory under DIR. Default: SQLite files in a temporary directory.
    #[arg(long)]
    database: Option<String>,
    /// Numbers of concurrent writers to measure, one point each.
    #[arg(long, value_delimiter = ',', default_value = "1,64,512")]
    writers: Vec<usize>,
    /// Length of each measured window, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Unmeasured run before each window, in seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Events written into a fresh journal and then verified (0: skip).
    #[arg(long, default_value_t = 1_000_000)]
    verify_events: u64,
    /// Concurrent writers that load the journal for the verify phase.
    #[arg(long, default_value_t = 512)]
    load_writers: usize,
    /// Timed runs of `verify` over the loaded journal.
    #[arg(long, default_value_t = 2)]
    verify_runs: usize,
    /// Override `audit.checkpoint_every` (default: the configuration's default).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Override `audit.max_batch` (default: the configuration's default).
    #[arg(long)]
    max_batch: Option<usize>,
    /// Name of the backend in the tables (default: sqlite or postgres).
    #[arg(long)]
    label: Option<String>,
    /// Keep the databases (and SQLite files) instead of removing them.
    #[arg(long)]
    keep: bool,
}

/// Where fresh databases come from.
enum Target {
    Sqlite { base: PathBuf, _tmp: Option<tempfile::TempDir> },
    Postgres { admin: String },
}

/// One fresh database and the data directory (checkpoint file) next to it.
struct Fresh {
    url: String,
    data_dir: PathBuf,
    pg_name: Option<String>,
}

impl Target {
    fn from_arg(database: Option<&str>, keep: bool) -> Target {
        match database {
            None => {
                let tmp = tempfile::Builder::new().prefix("journal-bench.").tempdir().expect("temp dir");
                if keep {
                    Target::Sqlite { base: tmp.keep(), _tmp: None }
                } else {
                    Target::Sqlite { base: tmp.path().to_owned(), _tmp: Some(tmp) }
                }
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:")
                    .split('?')
                    .next()
                    .unwrap_or("");
                let base = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty());
                Target::Sqlite { base: base.unwrap_or(Path::new(".")).to_owned(), _tmp: None }
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Target::Postgres { admin: url.to_owned() }
            }
            Some(_) => panic!("--database must be a sqlite: or postgres:// URL"),
        }
    }

    async fn fresh(&self) -> Fresh {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        match self {
            Target::Sqlite { base, .. } => {
                let dir = base.join(format!("bench-{tag}"));
                std::fs::create_dir_all(&dir).expect("create the SQLite directory");
                let url = format!("sqlite://{}?mode=rwc", dir.join("custodian.db").display());
                Fresh { url, data_dir: dir, pg_name: None }
            }
            Target::Postgres { admin } => {
                let name = format!("bench_{tag}");
                let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect to PostgreSQL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create the benchmark database");
                conn.close().await.expect("close");
                let mut url = url::Url::parse(admin).expect("the PostgreSQL URL");
                url.set_path(&name);
                // The checkpoint file's directory; removed with the database.
                let data_dir =
                    tempfile::Builder::new().prefix("journal-bench.").tempdir().expect("temp dir").keep();
                Fresh { url: url.to_string(), data_dir, pg_name: Some(name) }
            }
        }
    }

    async fn remove(&self, fresh: Fresh) {
        match self {
            Target::Sqlite { .. } => {
                let _ = std::fs::remove_dir_all(&fresh.data_dir);
            }
            Target::Postgres { admin } => {
                let _ = std::fs::remove_dir_all(&fresh.data_dir);
                if let Some(name) = fresh.pg_name {
                    let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect to PostgreSQL");
                    if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                    {
                        eprintln!("warning: cannot drop the benchmark database {name}: {e}");
                    }
                }
            }
        }
    }
}

/// 32 random bytes, base64: what `custodian keys generate` prints.
fn random_key() -> String {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    base64::engine::general_purpose::STANDARD.encode(k)
}

/// The parts of a configuration the journal needs; everything else default.
fn bench_config(args: &Args, url: &str, data_dir: &Path, write_timeout: Duration) -> Config {
    let mut config = Config { data_dir: data_dir.to_owned(), ..Config::default() };
    config.database.url = Some(DatabaseUrl::new(url.to_owned()));
    config.keys.active = Some("k1".into());
    config.keys.ring.insert("k1".into(), Secret::new(random_key()));
    config.audit.signing_key = Some(Secret::new(random_key()));
    config.audit.write_timeout = write_timeout;
    if let Some(every) = args.checkpoint_every {
        config.audit.checkpoint_every = every;
    }
    if let Some(max_batch) = args.max_batch {
        config.audit.max_batch = max_batch;
    }
    config
}

async fn open(args: &Args, fresh: &Fresh, write_timeout: Duration) -> (Db, Journal, Config) {
    let config = bench_config(args, &fresh.url, &fresh.data_dir, write_timeout);
    let db = Db::connect(&config.database_url(), config.database.max_connections).await.expect("connect");
    db.migrate().await.expect("migrate");
    let journal = Journal::start(db.clone(), Arc::new(SystemClock), &config.audit, config.checkpoint_file())
        .await
        .expect("start the journal");
    (db, journal, config)
}

/// A realistic event: a sign-in through the identity provider.
fn sign_in_event(writer: usize, n: u64) -> (RequestMeta, Actor, EventKind) {
    let meta = RequestMeta {
        request_id: Some(uuid::Uuid::new_v4().to_string()),
        client_ip: Some(format!("198.51.100.{}", writer % 250 + 1)),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_owned()),
    };
    let actor = Actor {
        user_id: Some(format!("u-{writer:06}")),
        issuer: Some("https://idp.example.org/realms/staff".to_owned()),
        subject: Some(format!("7c1e2a90-3f4b-4d5e-9a8b-{writer:012}")),
        session_handle: Some(format!("sh-{writer:06}-{n:010}")),
        mfa_method: None,
        mfa_at: None,
        token_id: None,
    };
    let kind = EventKind::Login {
        email: Some(format!("user{writer:06}@example.org")),
        previous_session_ended: n % 7 == 0,
    };
    (meta, actor, kind)
}

#[derive(Default)]
struct TaskResult {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// Appends in a loop; records appends that complete inside the window.
async fn writer_task(journal: Journal, writer: usize, start: Instant, end: Instant) -> TaskResult {
    let mut result = TaskResult { latencies_us: Vec::with_capacity(16_384), errors: 0 };
    let mut n = 0u64;
    loop {
        let (meta, actor, kind) = sign_in_event(writer, n);
        n += 1;
        let t0 = Instant::now();
        let outcome = journal.record(&meta, actor, kind).await;
        let t1 = Instant::now();
        if t1 >= start && t1 < end {
            match outcome {
                Ok(_) => {
                    let us = t1.duration_since(t0).as_micros();
                    result.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
                Err(_) => result.errors += 1,
            }
        }
        if t1 >= end {
            return result;
        }
    }
}

/// CPU time of this process and of the whole machine, from /proc (Linux).
#[derive(Clone, Copy)]
struct CpuSample {
    process_ticks: Option<u64>,
    machine_busy: Option<u64>,
    machine_total: Option<u64>,
}

fn cpu_sample() -> CpuSample {
    let process_ticks = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| {
        // Fields after the ")" that ends the command name; utime and stime are 14 and 15.
        let rest = s.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    });
    let (machine_busy, machine_total) = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?;
            let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal (guest time is inside user)
            let total: u64 = v.iter().take(8).sum();
            let idle = v.get(3)? + v.get(4)?;
            Some((Some(total - idle), Some(total)))
        })
        .unwrap_or((None, None));
    CpuSample { process_ticks, machine_busy, machine_total }
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Process CPU in cores used, and machine CPU busy in percent of all cores.
fn cpu_usage(a: CpuSample, b: CpuSample, seconds: f64, tck: f64) -> (String, String) {
    let process = match (a.process_ticks, b.process_ticks) {
        (Some(x), Some(y)) => format!("{:.2}", (y - x) as f64 / tck / seconds),
        _ => "n/a".to_owned(),
    };
    let machine = match (a.machine_busy, b.machine_busy, a.machine_total, b.machine_total) {
        (Some(b0), Some(b1), Some(t0), Some(t1)) if t1 > t0 => {
            format!("{:.0}%", 100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
        }
        _ => "n/a".to_owned(),
    };
    (process, machine)
}

/// PostgreSQL: transactions completed so far (the next transaction id).
/// Every journal batch and every stored checkpoint is one transaction.
async fn pg_transactions(db: &Db) -> Option<i64> {
    if db.backend() != Backend::Postgres {
        return None;
    }
    let row: Result<(String,), _> =
        sqlx::query_as("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetch_one(db.pool()).await;
    row.ok().and_then(|(x,)| x.parse().ok())
}

async fn checkpoints_stored(db: &Db) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_checkpoints").fetch_one(db.pool()).await.expect("count");
    n
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

async fn describe_backend(db: &Db) -> String {
    match db.backend() {
        Backend::Sqlite => {
            let one = |sql: &'static str| async move {
                sqlx::query_as::<_, (String,)>(sql)
                    .fetch_one(db.pool())
                    .await
                    .map(|(v,)| v)
                    .unwrap_or_else(|_| "?".to_owned())
            };
            let version = one("SELECT sqlite_version()").await;
            let mode = one("PRAGMA journal_mode").await;
            let sync: Result<(i64,), _> = sqlx::query_as("PRAGMA synchronous").fetch_one(db.pool()).await;
            let sync = match sync {
                Ok((0,)) => "OFF",
                Ok((1,)) => "NORMAL",
                Ok((2,)) => "FULL",
                Ok((3,)) => "EXTRA",
                _ => "?",
            };
            format!("SQLite {version}, journal_mode={mode}, synchronous={sync}")
        }
        Backend::Postgres => {
            let mut parts = Vec::new();
            for setting in
                ["server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method"]
            {
                let value: Result<(String,), _> =
                    sqlx::query_as(&format!("SHOW {setting}")).fetch_one(db.pool()).await;
                parts.push(format!("{setting}={}", value.map(|(v,)| v).unwrap_or_else(|_| "?".to_owned())));
            }
            format!("PostgreSQL {}", parts.join(", "))
        }
    }
}

async fn throughput(args: &Args, target: &Target, label: &str) {
    let fresh = target.fresh().await;
    let (db, journal, config) = open(args, &fresh, Config::default().audit.write_timeout).await;
    let audit = &config.audit;
    println!("### Appends: {label}");
    println!();
    println!(
        "{}; audit.max_batch={}, checkpoint_every={}, checkpoint_interval={:?}, write_timeout={:?}.",
        describe_backend(&db).await,
        audit.max_batch,
        audit.checkpoint_every,
        audit.checkpoint_interval,
        audit.write_timeout
    );
    println!(
        "Window {} s after {} s warm-up per point; latency = `Journal::record` call to return (durable commit).",
        args.seconds, args.warmup
    );
    println!();
    println!(
        "| backend | writers | appends/s | p50 ms | p99 ms | max ms | errors | checkpoints/s | DB txns/s | events/txn | bench CPU (cores) | machine CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let tck = clock_ticks_per_second();
    for &writers in &args.writers {
        let start = Instant::now() + Duration::from_secs_f64(args.warmup);
        let end = start + Duration::from_secs_f64(args.seconds);
        let tasks: Vec<_> =
            (0..writers).map(|w| tokio::spawn(writer_task(journal.clone(), w, start, end))).collect();
        tokio::time::sleep_until(start.into()).await;
        let (cpu0, tx0, cp0) = (cpu_sample(), pg_transactions(&db).await, checkpoints_stored(&db).await);
        tokio::time::sleep_until(end.into()).await;
        let (cpu1, tx1, cp1) = (cpu_sample(), pg_transactions(&db).await, checkpoints_stored(&db).await);
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let r = task.await.expect("writer task");
            latencies.extend_from_slice(&r.latencies_us);
            errors += r.errors;
        }
        latencies.sort_unstable();
        let secs = args.seconds;
        let rate = latencies.len() as f64 / secs;
        let checkpoints = (cp1 - cp0) as f64;
        let (txns, per_txn) = match (tx0, tx1) {
            (Some(a), Some(b)) => {
                let txns = (b - a) as f64;
                let batches = (txns - checkpoints).max(1.0);
                (format!("{:.0}", txns / secs), format!("{:.1}", latencies.len() as f64 / batches))
            }
            _ => ("n/a".to_owned(), "n/a".to_owned()),
        };
        let (proc_cpu, machine_cpu) = cpu_usage(cpu0, cpu1, secs, tck);
        println!(
            "| {label} | {writers} | {rate:.0} | {:.2} | {:.2} | {:.2} | {errors} | {:.1} | {txns} | {per_txn} | {proc_cpu} | {machine_cpu} |",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.last().map(|&m| f64::from(m) / 1000.0).unwrap_or(f64::NAN),
            checkpoints / secs,
        );
    }
    println!();
    // Sign everything now, so the writer has nothing left to sign (and no
    // checkpoint file to write) when it stops after the last handle is gone.
    journal.checkpoint_now().await.expect("final checkpoint");
    drop(journal);
    db.close().await;
    if args.keep {
        eprintln!("kept {} (data directory {})", fresh.url, fresh.data_dir.display());
    } else {
        target.remove(fresh).await;
    }
}

async fn verify_speed(args: &Args, target: &Target, label: &str) {
    let fresh = target.fresh().await;
    // Loading is not what is measured here: a generous bound, so no event times out.
    let (db, journal, config) = open(args, &fresh, Duration::from_secs(300)).await;
    let total = args.verify_events;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let load_start = Instant::now();
    let tasks: Vec<_> = (0..args.load_writers)
        .map(|w| {
            let (journal, next, done, errors) = (journal.clone(), next.clone(), done.clone(), errors.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return;
                    }
                    let (meta, actor, kind) = sign_in_event(w, n);
                    match journal.record(&meta, actor, kind).await {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let reporter = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(15));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!("  loading: {} of {total} events", done.load(Ordering::Relaxed));
            }
        })
    };
    for task in tasks {
        task.await.expect("load task");
    }
    reporter.abort();
    journal.checkpoint_now().await.expect("final checkpoint");
    let load_time = load_start.elapsed().as_secs_f64();
    let loaded = done.load(Ordering::Relaxed);
    drop(journal);

    let key = CheckpointSigner::from_config(&config.audit).expect("signing key").public_key();
    println!("### Verify: {label}");
    println!();
    println!(
        "Loaded {loaded} events ({} errors) with {} writers in {load_time:.1} s ({:.0} events/s, checkpoints included).",
        errors.load(Ordering::Relaxed),
        args.load_writers,
        loaded as f64 / load_time
    );
    println!();
    println!("| backend | run | events | checkpoints | seconds | events/s | result |");
    println!("|---|---|---:|---:|---:|---:|---|");
    for run in 1..=args.verify_runs {
        let t = Instant::now();
        let report = verify::verify(&db, &key, &[], |_, _| {}).await.expect("verify");
        let secs = t.elapsed().as_secs_f64();
        let result = match &report.finding {
            None => format!("ok, verified through {}", report.verified_through),
            Some(f) => format!("FINDING at {}: {}", f.seq, f.problem),
        };
        println!(
            "| {label} | verify {run} | {} | {} | {secs:.2} | {:.0} | {result} |",
            report.events,
            report.checkpoints,
            report.events as f64 / secs
        );
    }
    // The same paged reads without any checking: what the database alone costs.
    let t = Instant::now();
    let mut after = 0i64;
    let mut rows_read = 0u64;
    loop {
        let rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT seq, body, leaf_hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(10_000i64)
        .fetch_all(db.pool())
        .await
        .expect("scan");
        let Some(last) = rows.last() else { break };
        after = last.0;
        rows_read += rows.len() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "| {label} | read only (same paged query, no checks) | {rows_read} | - | {secs:.2} | {:.0} | - |",
        rows_read as f64 / secs
    );
    println!();
    db.close().await;
    if args.keep {
        eprintln!("kept {} (data directory {})", fresh.url, fresh.data_dir.display());
    } else {
        target.remove(fresh).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = Args::parse();
    let target = Target::from_arg(args.database.as_deref(), args.keep);
    let label = args.label.clone().unwrap_or_else(|| match target {
        Target::Sqlite { .. } => "sqlite".to_owned(),
        Target::Postgres { .. } => "postgres".to_owned(),
    });
    if !args.writers.is_empty() && args.seconds > 0.0 {
        throughput(&args, &target, &label).await;
    }
    if args.verify_events > 0 {
        verify_speed(&args, &target, &label).await;
    }
}
