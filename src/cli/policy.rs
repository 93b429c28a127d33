//! `custodian policy check` and `custodian policy explain`: the policies
//! validated without starting, and one decision shown with the policies
//! that made it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::config::{Config, Overrides};
use crate::policy::{principal_of, run_cases, Policies, RequestContext, Resource};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate the schema and every policy (and run the cases in `tests/` beside them).
    Check {
        /// The policy folder; default: policy.dir from the configuration.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Show the decision for one user, action and account, and the policies that made it.
    Explain {
        /// User id, email or user name.
        #[arg(long)]
        user: String,
        /// e.g. post.publish, post.delete, audit.read.
        #[arg(long)]
        action: String,
        /// The account id; absent: an action on Custodian itself.
        #[arg(long)]
        account: Option<String>,
        /// Seconds since the user's second factor, as the request would carry it.
        #[arg(long, default_value_t = 0)]
        mfa_age: i64,
        /// ui, api, token or proxy.
        #[arg(long, default_value = "api")]
        door: String,
        /// As if the user acted under an open break-glass grant.
        #[arg(long)]
        break_glass: bool,
    },
}

pub async fn policy(command: PolicyCommand, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir } => {
            let dir = match dir {
                Some(d) => d,
                None => Config::load(overrides)?.policy.dir,
            };
            let policies = match Policies::load(&dir) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            println!("{}: schema and {} policies are valid", dir.display(), policies.len());
            let cases = dir.join("tests");
            if cases.is_dir() {
                let (ran, failures) = run_cases(&policies, &cases)?;
                for f in &failures {
                    eprintln!("FAILED {f}");
                }
                println!("{ran} cases, {} failed", failures.len());
                if !failures.is_empty() {
                    return Ok(ExitCode::from(2));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Explain { user, action, account, mfa_age, door, break_glass } => {
            let state = crate::app::build_state(Config::load(overrides)?, super::clock()).await?;
            let found = state.directory().find_users(&user).await?;
            let [user] = found.as_slice() else {
                bail!("{} users match {user:?}: name one by id", found.len());
            };
            let access = match state.directory().access(user).await {
                Ok(a) => a,
                Err(e) => {
                    println!("DENY at the gate, before policy: {e}");
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let principal = principal_of(user, &access, &state.config.directory);
            let resource = match &account {
                None => Resource::Gateway,
                Some(id) => {
                    let account = state.accounts.get(id).await?;
                    Resource::from(&account.with_context(|| format!("there is no account {id:?}"))?)
                }
            };
            let context = RequestContext { mfa_age_seconds: mfa_age, break_glass, door, screen: None };
            let policies = state.policies.current();
            let decision = policies.decide(&principal, &action, &resource, &context);
            println!("{}", if decision.allowed { "ALLOW" } else { "DENY" });
            println!(
                "principal: {} roles={} groups={} account_tags={} training_current={}",
                principal.id,
                principal.roles.join(","),
                principal.groups.join(","),
                principal.account_tags.join(","),
                principal.training_current
            );
            if decision.policies.is_empty() && !decision.allowed {
                println!("no policy permits this");
            }
            for id in &decision.policies {
                let kind = if decision.allowed { "permitted by" } else { "forbidden by" };
                println!("{kind} {id} ({})", policies.file_of(id).unwrap_or("?"));
            }
            for e in &decision.errors {
                println!("error: {e}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
