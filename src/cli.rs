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
use crate::{app, telemetry};

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
    /// Manage encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets masked); fail if it is invalid.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Remove a user's second factor and end their sessions; they enroll again at next sign-in.
    ResetMfa {
        /// User id or email address.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print new random key material (base64, 32 bytes) for the key ring.
    Generate,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides =
        Overrides { config_file: cli.config.clone(), listen: cli.listen, database: cli.database.clone() };
    match cli.command {
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
        Command::Users { command: UsersCommand::ResetMfa { user } } => {
            let config = Config::load(&overrides)?;
            let state = app::build_state(config, clock()).await?;
            let Some(found) = state.identity.users.find(&user).await? else {
                bail!("no user {user:?} (give a user id, or an email address that matches exactly one user)");
            };
            let by = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()));
            let ended = state
                .identity
                .reset_mfa(&found, &by, &RequestMeta::default())
                .await
                .context("cannot reset the second factor")?;
            println!(
                "second factor reset for {} ({}); {ended} session(s) ended",
                found.email.as_deref().unwrap_or(&found.subject),
                found.id
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn clock() -> SharedClock {
    std::sync::Arc::new(SystemClock)
}

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
    app::serve(state, listener, app::shutdown_signal()).await?;
    db.close().await;
    tracing::info!("custodian stopped");
    Ok(ExitCode::SUCCESS)
}
