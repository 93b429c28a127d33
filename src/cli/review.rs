//! `custodian review list|show|approve|reject`: the review queue from the
//! command line. A client of the review API, not an operator's back door:
//! it acts with the reviewer's own API token (scoped to `review.list` and
//! `review.decide` on the accounts they review), so policy, the steps per
//! account tag, no-self-review and the journal apply exactly as in the
//! browser. The token comes from `CUSTODIAN_TOKEN` or `--token-file`, and
//! is never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use std::fmt::Write as _;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::queue::ReviewState;

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Custodian's address, e.g. https://custodian.example.org (or CUSTODIAN_URL).
    #[arg(long, env = "CUSTODIAN_URL", global = true)]
    url: Option<String>,
    /// A file holding your API token (otherwise CUSTODIAN_TOKEN).
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// The queue, oldest first: one line per review (state, account, findings).
    List {
        /// Only reviews in this state (held by default; "all" for every state).
        #[arg(long, default_value = "held", value_parser = states())]
        state: String,
        /// Only reviews on this account.
        #[arg(long)]
        account: Option<String>,
        /// One JSON object per line instead (the API's fields).
        #[arg(long)]
        json: bool,
    },
    /// One review: its content with each finding marked [[like this]], its
    /// findings, and the content_sha256 an approval must name.
    Show { id: String },
    /// Approve the exact content you read: --sha256 is the content_sha256 `show` printed.
    Approve {
        id: String,
        #[arg(long)]
        sha256: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject, with a reason its author reads.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

pub async fn review(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args)?;
    // Written at the end, all at once: a reader that stops early (`| head`)
    // is not an error.
    let mut out = String::new();
    match args.command {
        ReviewCommand::List { state, account, json } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            if state != "all" {
                query.push(("state", state));
            }
            if let Some(account) = account {
                query.push(("account", account));
            }
            let listed = client.call(reqwest::Method::GET, "/api/v1/reviews", &query, None).await?;
            let reviews = listed["reviews"].as_array().cloned().unwrap_or_default();
            for r in &reviews {
                if json {
                    writeln!(out, "{r}")?;
                } else {
                    writeln!(out, "{}", line(r))?;
                }
            }
            if !json && reviews.is_empty() {
                eprintln!("no reviews");
            }
        }
        ReviewCommand::Show { id } => {
            let r = client.call(reqwest::Method::GET, &format!("/api/v1/reviews/{id}"), &[], None).await?;
            writeln!(out, "{}", line(&r))?;
            match r["content"].as_str() {
                Some(text) => {
                    let findings = r["findings"].as_array().map(Vec::as_slice);
                    writeln!(out, "\n{}\n", visible(&marked(text, findings)))?;
                }
                None => writeln!(out, "\n(its content is no longer kept)\n")?,
            }
            for f in r["findings"].as_array().into_iter().flatten() {
                let (kind, rule, why) = (str_of(&f["kind"]), str_of(&f["rule"]), str_of(&f["explanation"]));
                writeln!(out, "- {kind} ({rule}): {why}")?;
            }
            writeln!(out, "content_sha256 {}", str_of(&r["content_sha256"]))?;
        }
        ReviewCommand::Approve { id, sha256, reason } => {
            let body = json!({"content_sha256": sha256, "reason": reason});
            let path = format!("/api/v1/reviews/{id}/approve");
            let decided = client.call(reqwest::Method::POST, &path, &[], Some(body)).await?;
            writeln!(out, "{}", line(&decided["review"]))?;
            if let Some(outcome) = decided["outcome"].as_str() {
                writeln!(out, "{outcome}")?;
            }
        }
        ReviewCommand::Reject { id, reason } => {
            let path = format!("/api/v1/reviews/{id}/reject");
            let decided =
                client.call(reqwest::Method::POST, &path, &[], Some(json!({"reason": reason}))).await?;
            writeln!(out, "{}", line(&decided["review"]))?;
        }
    }
    match std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(args: &ReviewArgs) -> anyhow::Result<Client> {
        let Some(base) = args.url.clone() else {
            bail!("say where Custodian is: --url https://custodian.example.org (or CUSTODIAN_URL)");
        };
        let token = match &args.token_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?,
            None => std::env::var("CUSTODIAN_TOKEN").map_err(|_| {
                anyhow::anyhow!(
                    "no API token: set CUSTODIAN_TOKEN or --token-file (create one scoped to review.list and \
                     review.decide on your accounts: POST /api/v1/tokens)"
                )
            })?,
        };
        let token = token.trim().to_owned();
        if token.is_empty() {
            bail!("the API token is empty");
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("cannot set up an HTTP client")?;
        Ok(Client { http, base: base.trim_end_matches('/').to_owned(), token })
    }

    /// The API's answer, or its refusal as an error: reason, rule and remedy.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).query(query);
        request = request.bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let rule = answer["rule"].as_str().map(|r| format!(" (rule {r})")).unwrap_or_default();
            let remedy = answer["remedy"].as_str().map(|r| format!("\n{r}")).unwrap_or_default();
            bail!(
                "refused, {status}: {}{rule}{remedy}",
                answer["reason"].as_str().unwrap_or("no reason given")
            );
        }
        Ok(answer)
    }
}

/// What `review list --state` takes: a review state, or `all`.
fn states() -> clap::builder::PossibleValuesParser {
    let states = ReviewState::ALL.iter().map(|s| s.as_str());
    clap::builder::PossibleValuesParser::new(std::iter::once("all").chain(states))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// One review on one line: id, state, account, action, author, findings' kinds, approvals.
fn line(r: &Value) -> String {
    let mut kinds: Vec<&str> =
        r["findings"].as_array().into_iter().flatten().filter_map(|f| f["kind"].as_str()).collect();
    kinds.dedup();
    let approvals = r["approvals"].as_array().map(Vec::len).unwrap_or(0);
    let at = r["publish_at_local"].as_str().map(|t| format!(" at {t}")).unwrap_or_default();
    format!(
        "{} {} {} {} by {} [{}] {approvals}/{} approvals, held {}{at}",
        str_of(&r["id"]),
        str_of(&r["state"]),
        str_of(&r["account_id"]),
        str_of(&r["action"]),
        str_of(&r["author_id"]),
        kinds.join(", "),
        r["approvals_required"],
        str_of(&r["created_at"]),
    )
}

/// `text` as a terminal shows it faithfully: control characters (other
/// than line breaks) and bidirectional overrides escaped, so that nothing
/// in a post can hide its words from the reviewer reading it.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => "\n".to_owned(),
            c if c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c) =>
            {
                c.escape_unicode().to_string()
            }
            c => c.to_string(),
        })
        .collect()
}

/// `text` with each finding's span in [[double brackets]].
fn marked(text: &str, findings: Option<&[Value]>) -> String {
    let mut spans: Vec<(usize, usize)> = findings
        .into_iter()
        .flatten()
        .filter_map(|f| Some((f["start"].as_u64()? as usize, f["end"].as_u64()? as usize)))
        .filter(|(a, b)| a < b && text.get(*a..*b).is_some())
        .collect();
    spans.sort_unstable();
    // Overlapping spans merge into one mark.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut out = String::new();
    let mut at = 0;
    for (a, b) in merged {
        out.push_str(&text[at..a]);
        out.push_str("[[");
        out.push_str(&text[a..b]);
        out.push_str("]]");
        at = b;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn findings_are_marked_and_overlaps_merge() {
        let findings = vec![
            serde_json::json!({"start": 4, "end": 9}),
            serde_json::json!({"start": 6, "end": 12}),
            serde_json::json!({"start": 20, "end": 99}),
        ];
        assert_eq!(
            super::marked("Our Maria Alvarez is well", Some(&findings)),
            "Our [[Maria Al]]varez is well"
        );
        assert_eq!(super::visible("a\r\u{1b}[2Kb\u{202e}c\nd"), "a\\u{d}\\u{1b}[2Kb\\u{202e}c\nd");
    }
}
