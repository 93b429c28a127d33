//! The content screen's speed in process: each post of a corpus screened
//! one at a time, single-threaded, for a given time; per-post latency
//! (p50, p99) and posts per second. Run by `BENCH_SUITE=screen scripts/bench`
//! (which also runs Presidio side by side); results in BENCHMARKS.md.
//!
//!   cargo run --release --example screen_bench -- --corpus tests/data/screen/corpus.jsonl --seconds 10
//!
//! Two rows: the screen with its verdict as `custodian screen` gives it
//! (policy asked once per distinct summary of findings, then remembered),
//! and the screen with policy asked for every post, as the action path does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use custodian::policy::{Judgement, Policies, Principal, RequestContext, Resource, ScreenContext};
use custodian::screen::{Content, Origin};

#[derive(Debug, Parser)]
struct Args {
    /// JSON lines with `text` and `kind` (post, reply or comment).
    #[arg(long)]
    corpus: PathBuf,
    /// Seconds per row.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The policy folder.
    #[arg(long, default_value = "policies")]
    dir: PathBuf,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct Post {
    text: String,
    kind: Origin,
}

struct Row {
    posts: usize,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at] as f64 / 1000.0
}

/// Screens every post over and over for `seconds`, timing each one.
fn run(posts: &[Post], seconds: f64, mut one: impl FnMut(&Post)) -> Row {
    for post in posts {
        one(post);
    }
    let mut times = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    let until = Duration::from_secs_f64(seconds);
    'outer: loop {
        for post in posts {
            let t = Instant::now();
            one(post);
            times.push(t.elapsed().as_nanos() as u64);
            if start.elapsed() >= until {
                break 'outer;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let posts = times.len();
    times.sort_unstable();
    Row { posts, seconds: elapsed, p50_us: percentile(&times, 0.5), p99_us: percentile(&times, 0.99) }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.corpus)?;
    let posts: Vec<Post> =
        text.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str).collect::<Result<_, _>>()?;
    anyhow::ensure!(!posts.is_empty(), "{} has no posts", args.corpus.display());
    let policies = Policies::load(&args.dir)?;
    let principal = Principal { id: "bench".into(), roles: vec!["staff".into()], ..Principal::default() };
    let resource = Resource::Account {
        id: "bench".into(),
        platform: "sandbox".into(),
        tags: vec![],
        status: "active".into(),
    };
    let context = RequestContext { mfa_age_seconds: 0, break_glass: false, door: "cli".into(), screen: None };
    let screen = policies.screen();

    let mut seen: HashMap<ScreenContext, Judgement> = HashMap::new();
    let remembered = run(&posts, args.seconds, |post| {
        let report = screen.check(&Content { text: &post.text, origin: post.kind, media: false });
        let summary = ScreenContext::of(&report, post.kind);
        seen.entry(summary.clone())
            .or_insert_with(|| policies.judge(&principal, &resource, &context, summary));
    });
    let every = run(&posts, args.seconds, |post| {
        let report = screen.check(&Content { text: &post.text, origin: post.kind, media: false });
        std::hint::black_box(policies.judge(
            &principal,
            &resource,
            &context,
            ScreenContext::of(&report, post.kind),
        ));
    });

    println!("| custodian, in process | posts | seconds | posts/s | p50 µs | p99 µs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, row) in [
        ("screen + verdict (policy asked once per summary, as `custodian screen`)", &remembered),
        ("screen + policy asked for every post (as the action path)", &every),
    ] {
        println!(
            "| {name} | {} | {:.2} | {:.0} | {:.1} | {:.1} |",
            row.posts,
            row.seconds,
            row.posts as f64 / row.seconds,
            row.p50_us,
            row.p99_us
        );
    }
    if let Some(path) = args.json {
        let figures = serde_json::json!({
            "posts_per_s": remembered.posts as f64 / remembered.seconds,
            "p50_us": remembered.p50_us,
            "p99_us": remembered.p99_us,
            "path_posts_per_s": every.posts as f64 / every.seconds,
            "path_p50_us": every.p50_us,
            "path_p99_us": every.p99_us,
        });
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(())
}
