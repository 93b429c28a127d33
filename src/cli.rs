//! The `custodian` command line: the same services as the HTTP side.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use base64::Engine;
use clap::{Parser, Subcommand};
use rand::RngCore;

use crate::audit::RequestMeta;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, Overrides};
use crate::identity::EnrollmentMode;
use crate::{app, telemetry};

mod directory;
mod policy;
mod review;
mod screen;
use directory::{AccessCommand, LocksCommand, ScimCommand, TrainingCommand};
use policy::PolicyCommand;

#[derive(Debug, Parser)]
#[command(
    name = "custodian",
    version,
    about = "A governed gateway to an organization's social-media accounts"
)]
pub struct Cli {
    /// Configuration file (default: ./custodian.toml if present).
    #[arg(long, global = true, env = "CUSTODIAN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding the configuration.
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Database URL (sqlite:PATH or postgres://...), overriding the configuration.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The tamper-evident audit journal.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Locks on users, roles and accounts.
    Locks {
        #[command(subcommand)]
        command: LocksCommand,
    },
    /// Training records.
    Training {
        #[command(subcommand)]
        command: TrainingCommand,
    },
    /// Access reviews.
    Access {
        #[command(subcommand)]
        command: AccessCommand,
    },
    /// Connected social accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// SCIM provisioning.
    Scim {
        #[command(subcommand)]
        command: ScimCommand,
    },
    /// Cedar policies: check them, explain a decision.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Screen texts for PHI: JSON lines {"id", "text"} in (a file or standard input),
    /// one JSON line {"id", "verdict", "findings"} out per line.
    Screen(screen::ScreenArgs),
    /// The review queue, as a reviewer, through the API with your API token:
    /// list, show (findings marked), approve the exact content, reject.
    Review(review::ReviewArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets masked); fail if it is invalid.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Remove a user's second factor and end their sessions; they enroll again as
    /// `mfa.enrollment` allows (with a new enrollment link, unless it is "open").
    ResetMfa {
        /// User id or email address.
        user: String,
    },
    /// Issue a single-use link with which the user enrolls their first second factor
    /// (printed once; valid for `mfa.invite_ttl`). Their earlier unused link stops working.
    Invite {
        /// User id or email address of someone who has signed in once.
        user: String,
    },
    /// Unlink a sign-in identity from its SCIM directory user (when the IdP re-created
    /// the person under a new subject, whose sign-in is refused as linked elsewhere).
    Unlink {
        /// User id, email address or directory user name.
        user: String,
    },
    /// End a user's access now: every session ends, and they are refused until
    /// the lock this places is lifted (`custodian locks lift`).
    Revoke {
        /// User id, email address or directory user name.
        user: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the public key that verifies checkpoints (give it to auditors).
    Key,
    /// Recompute the journal and check every signed checkpoint.
    Verify {
        /// Public key (base64); default: the configured signing key's.
        #[arg(long)]
        key: Option<String>,
        /// Checkpoints kept outside the database; default: the configured checkpoint file, if present.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
    },
    /// Write a proof that event SEQ is in the journal (the event, an inclusion proof, a signed checkpoint).
    Prove {
        seq: u64,
        /// Output file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Export events (and the checkpoints that cover them) as JSON lines or CSV.
    Export {
        /// Start time, RFC 3339 (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// End time, RFC 3339 (exclusive).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Output file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Delete events older than audit.retention, at a signed checkpoint (refused under a legal hold).
    Prune,
    /// Check a proof bundle offline.
    VerifyProof {
        file: PathBuf,
        /// The journal's public key (base64, from `custodian audit key`).
        #[arg(long)]
        key: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// List accounts: platform, handle, status, scopes, token expiry (never a token).
    List,
    /// Add a sandbox (practice) account, whose posts stay in Custodian.
    AddSandbox {
        handle: String,
        /// A tag, e.g. `official` or `department:cardiology`; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Revoke the account's token at the platform (where it allows), then
    /// delete its sealed credentials; the account stays listed as disconnected.
    Disconnect { account_id: String },
    /// List the account's existing posts and replies, newest first, as far
    /// back as its platform lists them; screen each and print what the screen
    /// finds (never the text). With --decide, record a decision on one post.
    Audit {
        account_id: String,
        /// Read at most this many posts.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Record a decision on this post (its id as listed).
        #[arg(long, value_name = "POST", requires_all = ["decision", "reason"])]
        decide: Option<String>,
        /// What should become of it: delete, hide or keep.
        #[arg(long, value_parser = ["delete", "hide", "keep"], requires = "decide")]
        decision: Option<String>,
        /// Why (recorded with the decision).
        #[arg(long, requires = "decide")]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print new random key material (base64, 32 bytes) for the key ring.
    Generate,
    /// Re-seal everything sealed (TOTP secrets, platform credentials) under keys.active,
    /// online: safe while Custodian serves. Afterwards no data uses the old keys.
    Rotate,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides =
        Overrides { config_file: cli.config.clone(), listen: cli.listen, database: cli.database.clone() };
    match cli.command {
        Command::Keys { command: KeysCommand::Rotate } => {
            let state = app::build_state(Config::load(&overrides)?, clock()).await?;
            let report = crate::vault::sealed::rotate_recorded(
                &state.db,
                &state.keys,
                &state.journal,
                &operator_name(),
            )
            .await
            .context("key rotation failed")?;
            println!(
                "re-sealed {} value(s) under key {:?}; {} already used it; {} were rewritten meanwhile by Custodian",
                report.resealed,
                state.config.keys.active.as_deref().unwrap_or(""),
                report.current,
                report.raced
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Generate } => {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            println!("{}", base64::engine::general_purpose::STANDARD.encode(key));
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { command: ConfigCommand::Check } => match Config::load(&overrides) {
            Ok(config) => {
                print!("{}", config.masked_toml());
                eprintln!("configuration is valid");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("custodian: {e}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Serve => serve(Config::load(&overrides)?).await,
        Command::Migrate => {
            let config = Config::load(&overrides)?;
            let db = crate::storage::Db::connect(&config.database_url(), 1).await?;
            db.migrate().await?;
            db.check_ready().await?;
            eprintln!("migrations are current");
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command } => audit_command(command, &overrides).await,
        Command::Users { command: UsersCommand::Unlink { user } } => {
            directory::unlink(&user, &overrides).await
        }
        Command::Users { command: UsersCommand::Revoke { user, reason } } => {
            directory::revoke(&user, &reason, &overrides).await
        }
        Command::Locks { command } => directory::locks(command, &overrides).await,
        Command::Training { command } => directory::training(command, &overrides).await,
        Command::Access { command } => directory::access(command, &overrides).await,
        Command::Scim { command } => directory::scim(command),
        Command::Accounts { command } => accounts(command, &overrides).await,
        Command::Policy { command } => policy::policy(command, &overrides).await,
        Command::Screen(args) => screen::screen(args, &overrides),
        Command::Review(args) => review::review(args).await,
        Command::Users { command: UsersCommand::ResetMfa { user } } => {
            let config = Config::load(&overrides)?;
            let state = app::build_state(config, clock()).await?;
            let Some(found) = state.identity.users.find(&user).await? else {
                bail!("no user {user:?} (give a user id, or an email address that matches exactly one user)");
            };
            let by = operator_name();
            let ended = state
                .identity
                .reset_mfa(&found, &by, &RequestMeta::default())
                .await
                .context("cannot reset the second factor")?;
            let name = found.email.as_deref().unwrap_or(&found.subject);
            println!("second factor reset for {name} ({}); {ended} session(s) ended", found.id);
            let next = match state.config.mfa.enrollment {
                EnrollmentMode::Open => "they set up a new one at their next sign-in".to_owned(),
                EnrollmentMode::Invite => {
                    format!(
                        "they need a new enrollment link to set up a new one: custodian users invite {name}"
                    )
                }
                EnrollmentMode::Idp => format!(
                    "they set up a new one at a sign-in where the IdP vouches for MFA, \
                     or with a new enrollment link: custodian users invite {name}"
                ),
            };
            println!("{next}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Users { command: UsersCommand::Invite { user } } => {
            let state = app::build_state(Config::load(&overrides)?, clock()).await?;
            let issued = state
                .identity
                .invite(&user, &operator_name(), crate::audit::Actor::default(), &RequestMeta::default())
                .await
                .context("cannot issue an enrollment link")?;
            let name = issued.user.email.as_deref().unwrap_or(&issued.user.subject);
            for voided in &issued.voided {
                println!("the earlier link {voided} no longer works");
            }
            println!(
                "enrollment link {} for {name} ({}), valid until {}; it is shown only now.\n\
                 Give it to them through a channel their SSO password does not open; they open it \
                 signed in as themselves, once:\n{}",
                issued.invite.id,
                issued.user.id,
                issued.invite.expires_at.rfc3339(),
                issued.link.expose()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn accounts(command: AccountsCommand, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let state = app::build_state(Config::load(overrides)?, clock()).await?;
    let by = crate::audit::ChangedBy {
        actor: crate::audit::Actor::default(),
        name: operator_name(),
        meta: RequestMeta::default(),
    };
    match command {
        AccountsCommand::List => {
            for a in state.accounts.list().await? {
                let expires = a.token_expires_at.map(|t| t.rfc3339()).unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{}\tscopes={}\ttags={}\ttoken_expires={expires}",
                    a.id,
                    a.platform,
                    a.handle,
                    a.status.as_str(),
                    a.scopes.join(","),
                    a.tags.join(",")
                );
            }
        }
        AccountsCommand::AddSandbox { handle, tags } => {
            let now = crate::clock::Clock::now(&SystemClock);
            let account = state.accounts.add_sandbox(&state.journal, &handle, &tags, &by, now).await?;
            println!("added sandbox account {} ({})", account.handle, account.id);
        }
        AccountsCommand::Disconnect { account_id } => {
            let done = state.actions.disconnect_as_operator(&account_id, &by).await?;
            let revoked = if done.revoked_at_platform {
                "revoked at the platform"
            } else {
                "not revoked at the platform"
            };
            println!(
                "disconnected {} {} ({}): credentials deleted, {revoked}",
                done.account.platform, done.account.handle, done.account.id
            );
            if let Some(note) = done.note {
                println!("note: {note}");
            }
        }
        AccountsCommand::Audit { account_id, limit, decide, decision, reason } => {
            let moderation = &state.moderation;
            if let (Some(post), Some(decision)) = (decide, decision) {
                let decision = crate::moderation::PostDecision::parse(&decision)
                    .context("--decision takes delete, hide or keep")?;
                let reason = reason.unwrap_or_default();
                let (audited, receipt) = moderation
                    .record_audit_decision(&account_id, &post, decision, &reason, &by, limit)
                    .await?;
                println!("{}", audit_line(&audited));
                println!(
                    "recorded: {} post {post} ({}, event {})",
                    decision.as_str(),
                    reason.trim(),
                    receipt.event_id
                );
                if decision != crate::moderation::PostDecision::Keep {
                    println!(
                        "carry it out through the action path: DELETE /api/v1/accounts/{account_id}/posts/{post} \
                         (or at the platform, where Custodian cannot)"
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let posts = moderation.audit_account(&account_id, &by, limit).await?;
            for post in &posts {
                println!("{}", audit_line(post));
            }
            let flagged = posts.iter().filter(|p| !p.findings.is_empty()).count();
            println!("{} post(s) read, {flagged} with findings", posts.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One audited post, tab-separated: id, post or reply, when, policy's
/// verdict, what the screen found (kind:rule@start-end), where to read it.
fn audit_line(audited: &crate::moderation::AuditedPost) -> String {
    let post = &audited.post;
    let findings: Vec<String> = audited
        .findings
        .iter()
        .map(|f| format!("{}:{}@{}-{}", f.kind.as_str(), f.rule, f.start, f.end))
        .collect();
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        post.id,
        if post.in_reply_to.is_some() { "reply" } else { "post" },
        post.created_at.as_deref().unwrap_or("-"),
        audited.verdict.as_str(),
        if findings.is_empty() { "-".to_owned() } else { findings.join(",") },
        post.url.as_deref().unwrap_or("-"),
    )
}

/// `cli:<login>`, how audit events name the operator at this terminal: the
/// OS account of the effective uid (as `whoami` finds it), which neither an
/// empty `$USER` (a container) nor a set one changes; `cli:uid:<n>` for a
/// uid with no account.
pub fn operator_name() -> String {
    let login = match whoami::fallible::username() {
        Ok(name) if !name.is_empty() => name,
        _ => format!("uid:{}", rustix::process::geteuid().as_raw()),
    };
    format!("cli:{login}")
}

fn clock() -> SharedClock {
    std::sync::Arc::new(SystemClock)
}

/// How often the policy folder is checked for edits.
const POLICY_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// How often unfinished sign-ins past their lifetime are deleted and the known credentials re-read.
const HOUSEKEEPING: std::time::Duration = std::time::Duration::from_secs(60);

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    telemetry::init(&config.log);
    let listen = config.listen.0;
    let tls = config.tls.enabled();
    let state = app::build_state(config, clock()).await?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let scheme = if tls { "https" } else { "http" };
    tracing::info!(address = %listener.local_addr()?, "custodian listening on {scheme}://{}", listener.local_addr()?);
    let db = state.db.clone();
    let journal = state.journal.clone();
    crate::policy::spawn_reloader(state.policies.clone(), journal.clone(), POLICY_POLL);
    state.identity.spawn_housekeeping(HOUSEKEEPING);
    // Due posts, expiries, interrupted claims and orphans, every `review.tick`.
    let ticks = state.reviews.spawn_ticks();
    state.moderation.spawn_poller();
    let metrics = match state.config.metrics.listen {
        Some(addr) => {
            let metrics = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
            tracing::info!(address = %addr, "metrics on http://{addr}/metrics");
            Some(tokio::spawn(app::serve_metrics(state.clone(), metrics)))
        }
        None => None,
    };
    app::serve(state, listener, app::shutdown_signal()).await?;
    ticks.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    // Refusals the throttle counted but did not record yet are written, not dropped.
    if let Err(e) = journal.flush_refusals(true).await {
        tracing::error!(error = %e, "cannot record the counts of throttled refusals");
    }
    if let Err(e) = journal.checkpoint_now().await {
        tracing::error!(error = %e, "cannot sign the final audit checkpoint");
    }
    db.close().await;
    tracing::info!("custodian stopped");
    Ok(ExitCode::SUCCESS)
}

async fn audit_command(command: AuditCommand, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    use crate::audit::{checkpoint, verify, CheckpointSigner};
    if let AuditCommand::VerifyProof { file, key } = &command {
        // Offline: needs no configuration, only the bundle and the public key.
        let key = checkpoint::parse_public_key(key)?;
        let text =
            std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let bundle: verify::ProofBundle = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a proof bundle", file.display()))?;
        return Ok(match verify::verify_proof(&bundle, &key) {
            Ok(()) => {
                println!(
                    "VALID: event {} is in the journal of {} events signed at {} (key {})",
                    bundle.seq,
                    bundle.checkpoint.tree_size,
                    crate::clock::Timestamp(bundle.checkpoint.time).rfc3339(),
                    bundle.checkpoint.key_id
                );
                ExitCode::SUCCESS
            }
            Err(why) => {
                println!("INVALID: {why}");
                ExitCode::from(1)
            }
        });
    }
    let config = Config::load(overrides)?;
    let signer = CheckpointSigner::from_config(&config.audit)?;
    if let AuditCommand::Key = command {
        println!("{}", signer.public_key_base64());
        eprintln!("key id {}", signer.key_id());
        return Ok(ExitCode::SUCCESS);
    }
    let db = crate::storage::Db::connect(&config.database_url(), 2).await?;
    db.check_ready().await.context("the database is not ready (run `custodian migrate`)")?;
    match command {
        AuditCommand::Verify { key, checkpoints } => {
            let key = match key {
                Some(k) => checkpoint::parse_public_key(&k)?,
                None => signer.public_key(),
            };
            let external = match checkpoints {
                Some(path) => verify::read_checkpoint_file(&path).map_err(anyhow::Error::msg)?,
                None if config.checkpoint_file().exists() => {
                    verify::read_checkpoint_file(&config.checkpoint_file()).map_err(anyhow::Error::msg)?
                }
                None => Vec::new(),
            };
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = verify::verify(&db, &key, &external, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            for line in report.describe() {
                println!("{line}");
            }
            Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AuditCommand::Prove { seq, out } => {
            let bundle = verify::prove(&db, seq).await.map_err(anyhow::Error::msg)?;
            let json = serde_json::to_string_pretty(&bundle)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, json)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("proof for event {seq} written to {}", path.display());
                }
                None => println!("{json}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { from, to, format, out } => {
            export(&config, db, from.as_deref(), to.as_deref(), format, out).await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prune => {
            let journal =
                crate::audit::Journal::start(db.clone(), clock(), &config.audit, config.checkpoint_file())
                    .await?;
            let retention = i64::try_from(config.audit.retention.as_millis()).unwrap_or(i64::MAX);
            let cutoff = clock().now().millis().saturating_sub(retention);
            let by = operator_name();
            match crate::audit::retention::prune(&db, &journal, cutoff, config.audit.legal_hold, &by).await {
                Ok(Some(p)) => {
                    println!("pruned {} events; history is kept from event {}", p.deleted, p.through + 1)
                }
                Ok(None) => println!("nothing is older than the retention period at a signed checkpoint"),
                Err(e) => {
                    eprintln!("custodian: {e}");
                    return Ok(ExitCode::from(1));
                }
            }
            journal.checkpoint_now().await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Key | AuditCommand::VerifyProof { .. } => Ok(ExitCode::SUCCESS),
    }
}

async fn export(
    config: &Config,
    db: crate::storage::Db,
    from: Option<&str>,
    to: Option<&str>,
    format: ExportFormat,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    use std::io::Write;

    use crate::audit::query::{self, EventFilter};
    use crate::audit::{Actor, EventKind};
    let time = |v: Option<&str>, name: &str| {
        v.map(|s| {
            query::parse_time(s).with_context(|| format!("--{name} must be an RFC 3339 time, got {s:?}"))
        })
        .transpose()
    };
    let mut filter = EventFilter {
        from: time(from, "from")?,
        to: time(to, "to")?,
        limit: query::MAX_LIMIT,
        ..EventFilter::default()
    };
    let format_name = match format {
        ExportFormat::Jsonl => "jsonl",
        ExportFormat::Csv => "csv",
    };
    // Exporting is reading the journal: record it before any event leaves.
    let journal =
        crate::audit::Journal::start(db.clone(), clock(), &config.audit, config.checkpoint_file()).await?;
    let kind = EventKind::AuditExport {
        by: operator_name(),
        query: filter.describe(),
        format: format_name.to_owned(),
    };
    journal.record(&RequestMeta::default(), Actor::default(), kind).await?;
    // Sign the head now, so a checkpoint covers everything exported.
    journal.checkpoint_now().await?;

    let mut sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events").fetch_one(db.pool()).await?;
    let bar = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(0));
    let mut first = true;
    let mut last_seq = 0u64;
    loop {
        let page = query::search(&db, &filter).await?;
        match format {
            ExportFormat::Jsonl => {
                for e in &page.events {
                    writeln!(sink, "{e}")?;
                }
            }
            ExportFormat::Csv => {
                let csv = query::to_csv(&page.events);
                let body = if first {
                    csv.as_str()
                } else {
                    csv.split_once("\r\n").map(|(_, rest)| rest).unwrap_or("")
                };
                sink.write_all(body.as_bytes())?;
            }
        }
        first = false;
        if let Some(seq) = page.events.last().and_then(|e| e["seq"].as_u64()) {
            last_seq = seq;
            bar.set_position(seq);
        }
        match page.next_cursor {
            Some(cursor) => filter.after = Some(cursor),
            None => break,
        }
    }
    if let ExportFormat::Jsonl = format {
        // The checkpoints covering what was exported travel with it.
        let rows: Vec<(i64, String, i64, String, String)> = sqlx::query_as(
            "SELECT tree_size, root_hash, time, key_id, signature FROM audit_checkpoints WHERE tree_size >= $1 ORDER BY tree_size LIMIT 1",
        )
        .bind(i64::try_from(last_seq).unwrap_or(0))
        .fetch_all(db.pool())
        .await?;
        for (tree_size, root_hash, time, key_id, signature) in rows {
            let cp = serde_json::json!({ "checkpoint": { "tree_size": tree_size, "root_hash": root_hash, "time": time, "key_id": key_id, "signature": signature } });
            writeln!(sink, "{cp}")?;
        }
    }
    sink.flush()?;
    bar.finish_and_clear();
    if let Some(path) = out {
        eprintln!("exported events through {last_seq} to {}", path.display());
    }
    Ok(())
}
