//! Policy cases as data (`policies/tests/*.json`): a principal, an action,
//! a resource and a context, with the decision expected and the policies
//! expected to determine it. `cargo test` runs every case against the
//! policies in the folder; `custodian policy check` runs them too.

use std::path::Path;

use serde::Deserialize;

use super::{Policies, PolicyError, Principal, RequestContext, Resource};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub principal: Principal,
    pub action: String,
    pub resource: Resource,
    pub context: RequestContext,
    /// `"allow"` or `"deny"`.
    pub expect: String,
    /// The policies that must determine the decision (the permits that
    /// allow it, or the forbids that refuse it; empty: nothing permits it).
    pub reason: Vec<String>,
}

#[derive(Debug)]
pub struct CaseFailure {
    pub file: String,
    pub case: String,
    pub problem: String,
}

impl std::fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:?}: {}", self.file, self.case, self.problem)
    }
}

/// Runs every case in `dir` (`*.json`, each a list of cases); returns how
/// many ran and the ones that did not come out as expected.
pub fn run_cases(policies: &Policies, dir: &Path) -> Result<(usize, Vec<CaseFailure>), PolicyError> {
    let unreadable =
        |path: &Path, reason: String| PolicyError::Unreadable { path: path.display().to_string(), reason };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, e.kind().to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut ran, mut failures) = (0, Vec::new());
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e.kind().to_string()))?;
        let cases: Vec<Case> = serde_json::from_str(&text).map_err(|e| unreadable(&path, e.to_string()))?;
        for case in cases {
            ran += 1;
            let decision = policies.decide(&case.principal, &case.action, &case.resource, &case.context);
            let got = if decision.allowed { "allow" } else { "deny" };
            let mut expected = case.reason.clone();
            expected.sort();
            let problem = if !decision.errors.is_empty() {
                Some(format!("evaluation errors: {}", decision.errors.join("; ")))
            } else if got != case.expect {
                Some(format!("expected {}, got {got} (by {:?})", case.expect, decision.policies))
            } else if decision.policies != expected {
                Some(format!("{got} as expected, but by {:?}, not {expected:?}", decision.policies))
            } else {
                None
            };
            if let Some(problem) = problem {
                failures.push(CaseFailure { file: path.display().to_string(), case: case.name, problem });
            }
        }
    }
    Ok((ran, failures))
}
