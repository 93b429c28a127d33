//! `custodian screen`: the content screen from the command line, so that
//! compliance teams can check drafts and try their lexicons before
//! deploying them. JSON lines in (`{"id", "text"}`, optionally `origin`:
//! post, reply or comment, and `media`: true), one JSON line out per line in:
//! `{"id", "verdict", "findings": [{"kind", "rule", "start", "end",
//! "confidence", "severity", "explanation"}], "policies"}`. The verdict is
//! the policies' (`content.block`, `content.release`) on an account with
//! the tags given.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Overrides};
use crate::domain::{Finding, Verdict};
use crate::policy::{Judgement, Policies, Principal, RequestContext, Resource, ScreenContext};
use crate::screen::{Content, Origin};

#[derive(Debug, clap::Args)]
pub struct ScreenArgs {
    /// JSON lines to screen; default: standard input.
    file: Option<PathBuf>,
    /// The policy folder (screen.toml, the *.cedar policies); default: policy.dir from the configuration.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Judge as if posting to an account with this tag (e.g. clinical); repeatable.
    #[arg(long = "account-tag")]
    account_tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    origin: Origin,
    #[serde(default)]
    media: bool,
}

#[derive(Serialize)]
struct Answer<'a> {
    id: &'a serde_json::Value,
    verdict: Verdict,
    findings: &'a [Finding],
    policies: &'a [String],
}

#[derive(Serialize)]
struct Unread {
    line: usize,
    error: String,
}

pub fn screen(args: ScreenArgs, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
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
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let judge = Judge::new(&policies, args.account_tags);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut unread = 0;
    for (n, line) in input.lines().enumerate() {
        let line = line.context("cannot read the input")?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = match serde_json::from_str(&line) {
            Ok(l) => l,
            Err(e) => {
                unread += 1;
                let error = format!("not a screen request ({{\"id\", \"text\"}}): {e}");
                serde_json::to_writer(&mut out, &Unread { line: n + 1, error })?;
                out.write_all(b"\n")?;
                continue;
            }
        };
        let content = Content { text: &parsed.text, origin: parsed.origin, media: parsed.media };
        let report = policies.screen().check(&content);
        let judgement = judge.judge(ScreenContext::of(&report, parsed.origin));
        let answer = Answer {
            id: &parsed.id,
            verdict: judgement.verdict,
            findings: &report.findings,
            policies: &judgement.policies,
        };
        serde_json::to_writer(&mut out, &answer)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if unread > 0 {
        eprintln!("custodian screen: {unread} line(s) could not be read (see their \"error\")");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Policy's verdict, remembered per distinct summary of findings (a few
/// dozen at most): the same summary always gets the same verdict here.
struct Judge<'p> {
    policies: &'p Policies,
    principal: Principal,
    resource: Resource,
    context: RequestContext,
    seen: std::cell::RefCell<HashMap<ScreenContext, Judgement>>,
}

impl<'p> Judge<'p> {
    fn new(policies: &'p Policies, tags: Vec<String>) -> Self {
        Judge {
            policies,
            principal: Principal {
                id: "custodian-screen".into(),
                roles: vec!["staff".into()],
                training_current: true,
                ..Principal::default()
            },
            resource: Resource::Account {
                id: "screen".into(),
                platform: "sandbox".into(),
                tags,
                status: "active".into(),
            },
            context: RequestContext {
                mfa_age_seconds: 0,
                break_glass: false,
                door: "cli".into(),
                screen: None,
            },
            seen: Default::default(),
        }
    }

    fn judge(&self, screened: ScreenContext) -> Judgement {
        if let Some(j) = self.seen.borrow().get(&screened) {
            return j.clone();
        }
        let j = self.policies.judge(&self.principal, &self.resource, &self.context, screened.clone());
        self.seen.borrow_mut().insert(screened, j.clone());
        j
    }
}
