//! `custodian users revoke`, `locks`, `training`, `access review` and
//! `scim token`: the directory's administration from the command line,
//! through the same audited operations as the admin API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};

use crate::audit::ChangedBy;
use crate::audit::{Actor, RequestMeta};
use crate::config::{Config, Overrides};
use crate::directory::admin::{LockPlaced, LockView};
use crate::directory::{training, Directory, DirectoryError, Scope};

#[derive(Debug, Subcommand)]
pub enum LocksCommand {
    /// List the locks in force (with --all, lifted and expired ones too): one line each,
    /// naming the person a user lock holds.
    List {
        #[arg(long)]
        all: bool,
        /// One JSON object per line instead (the admin API's fields).
        #[arg(long)]
        json: bool,
    },
    /// Lock a user, a role or an account; users it shuts out lose their sessions at once.
    Place {
        #[arg(long, value_enum)]
        scope: LockScope,
        /// User id, email or user name; role name; or account id.
        #[arg(long)]
        target: String,
        #[arg(long)]
        reason: String,
        /// Lift automatically after this long (e.g. 2h, 3days).
        #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
    },
    /// Lift a lock by its id.
    Lift { id: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LockScope {
    User,
    Role,
    Account,
}

impl From<LockScope> for Scope {
    fn from(s: LockScope) -> Scope {
        match s {
            LockScope::User => Scope::User,
            LockScope::Role => Scope::Role,
            LockScope::Account => Scope::Account,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TrainingCommand {
    /// Import training records from CSV (header: user,course,completed_on[,expires_on][,source]).
    /// Every bad row is reported by line number, and then nothing is imported.
    Import {
        file: PathBuf,
        /// Recorded as each row's source when the file has no source column.
        #[arg(long)]
        source: Option<String>,
    },
    /// Show a user's training records and status.
    Show { user: String },
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Who can act, through which group and role, with training, last sign-in and last action;
    /// then the break-glass uses no admin has acknowledged yet.
    Review {
        #[arg(long, value_enum, default_value = "csv")]
        format: ReviewFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReviewFormat {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Create a SCIM bearer token: prints the token (once) and its configuration line.
    Token { name: String },
}

fn operator() -> ChangedBy {
    ChangedBy { actor: Actor::default(), name: super::operator_name(), meta: RequestMeta::default() }
}

async fn directory(overrides: &Overrides) -> anyhow::Result<Directory> {
    let state = crate::app::build_state(Config::load(overrides)?, super::clock()).await?;
    Ok(state.identity.directory.clone())
}

fn describe_lock(placed: &LockPlaced) -> String {
    let until = placed.lock.expires_at.map(|t| format!(" until {}", t.rfc3339())).unwrap_or_default();
    format!(
        "lock {} on {} {}{until}; {} user(s) shut out, {} session(s) ended",
        placed.lock.id,
        placed.lock.scope.as_str(),
        placed.lock.target,
        placed.users_affected,
        placed.sessions_ended
    )
}

/// One lock as a line an administrator reads: id, what it holds (for a user
/// lock, the person by name and email, then their stable id), why, since
/// when and by whom, until when.
fn describe_listed(view: &LockView) -> String {
    let lock = &view.lock;
    let holds = match (&view.person, view.pending) {
        (Some(person), _) => {
            let who = match (&person.name, &person.email) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                (Some(one), None) | (None, Some(one)) => one.clone(),
                (None, None) => "(no name or email known)".to_owned(),
            };
            let id = match &person.directory_id {
                Some(entry) => format!("directory user {entry}"),
                None => format!("user {}", person.user_ids.join(", ")),
            };
            format!("user {who} ({id})")
        }
        (None, true) => format!("user {} (pending: binds to the first person it matches)", lock.target),
        (None, false) => format!("{} {}", lock.scope.as_str(), lock.target),
    };
    let until = lock.expires_at.map(|t| format!(", until {}", t.rfc3339())).unwrap_or_default();
    let lifted = match (&lock.lifted_at, &lock.lifted_by) {
        (Some(at), by) => format!(", lifted {} by {}", at.rfc3339(), by.as_deref().unwrap_or("?")),
        (None, _) => String::new(),
    };
    format!(
        "{}  {holds}: {:?}, placed {} by {}{until}{lifted}",
        lock.id,
        lock.reason,
        lock.created_at.rfc3339(),
        lock.created_by
    )
}

pub async fn revoke(user: &str, reason: &str, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let dir = directory(overrides).await?;
    let placed = dir.revoke(user, reason, &operator()).await.context("cannot revoke")?;
    println!("revoked: {}", describe_lock(&placed));
    if placed.pending {
        println!(
            "(Custodian has not seen anyone named {user:?} yet: the lock applies when they sign in, \
             and matches only an email their identity provider verified)"
        );
    } else if placed.users_affected == 0 {
        println!("(nobody it names is signed in now; the lock applies when they sign in)");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn unlink(user: &str, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let dir = directory(overrides).await?;
    let unlinked = dir.unlink(user, &operator()).await.context("cannot unlink")?;
    println!(
        "unlinked {} ({} at {}); the next sign-in that matches the directory user links it again",
        unlinked.id, unlinked.subject, unlinked.issuer
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn locks(command: LocksCommand, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let dir = directory(overrides).await?;
    match command {
        LocksCommand::List { all, json } => {
            for view in dir.locks_described(all).await? {
                if json {
                    println!("{}", serde_json::to_string(&view)?);
                } else {
                    println!("{}", describe_listed(&view));
                }
            }
        }
        LocksCommand::Place { scope, target, reason, duration } => {
            let until = duration.map(|d| dir.now().plus(d));
            let placed = dir.place_lock(scope.into(), &target, &reason, until, &operator()).await?;
            println!("{}", describe_lock(&placed));
        }
        LocksCommand::Lift { id } => {
            let lock = dir.lift_lock(&id, &operator()).await?;
            println!("lifted lock {} on {} {}", lock.id, lock.scope.as_str(), lock.target);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn training(command: TrainingCommand, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let dir = directory(overrides).await?;
    match command {
        TrainingCommand::Import { file, source } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let source = source.unwrap_or_else(|| format!("csv:{}", file.display()));
            match dir.import_training(&text, &source, &operator()).await {
                Ok(n) => {
                    println!("imported {n} training record(s) from {}", file.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(DirectoryError::Rejected(errors)) => {
                    for e in &errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    eprintln!("{} bad row(s); nothing was imported", errors.len());
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e.into()),
            }
        }
        TrainingCommand::Show { user } => {
            for r in dir.training.records(&[training::user_key(&user)]).await? {
                println!("{}", serde_json::to_string(&r)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn access(command: AccessCommand, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let AccessCommand::Review { format, out } = command;
    let state = crate::app::build_state(Config::load(overrides)?, super::clock()).await?;
    let name = match format {
        ReviewFormat::Csv => "csv",
        ReviewFormat::Json => "json",
    };
    let users = state.directory().reviewed_access(&operator(), name).await?;
    let review = state.access_review(users).await?;
    let text = match format {
        ReviewFormat::Csv => review.to_csv(),
        ReviewFormat::Json => serde_json::to_string_pretty(&review)?,
    };
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn scim(command: ScimCommand) -> anyhow::Result<ExitCode> {
    let ScimCommand::Token { name } = command;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("the token name must be letters, digits, '-' or '_'");
    }
    let (token, entry) = crate::directory::scim::auth::generate();
    eprintln!("Give this bearer token to the identity provider; it is not shown again:");
    println!("{token}");
    eprintln!("\nAdd this line under [directory.scim.tokens] in custodian.toml:\n{name} = \"{entry}\"");
    Ok(ExitCode::SUCCESS)
}
