//! Policy: the only module that speaks Cedar. It loads the schema and the
//! `*.cedar` files from `policy.dir`, validates them strictly against the
//! schema (an invalid set is refused, naming file, line and problem), and
//! answers one question: may this principal take this action on this
//! resource, in this context? The answer names the policies that decided.
//! A reload swaps in a new set only if it validates; the last good set keeps
//! serving otherwise.

mod cases;
mod subject;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, EventKind, Journal, RequestMeta};
use crate::domain::PolicyAction;
use crate::screen::{Origin, Report, Screen, ScreenSettings, Verdict};

pub use cases::{run_cases, Case, CaseFailure};
pub use subject::principal_of;

/// The schema's file name inside `policy.dir`.
pub const SCHEMA_FILE: &str = "schema.cedarschema";
const NAMESPACE: &str = "Custodian";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The folder holding `schema.cedarschema` and the `*.cedar` policies.
    pub dir: PathBuf,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig { dir: PathBuf::from("policies") }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    /// Each problem reads `file:line: what is wrong`.
    #[error("the policies are not valid:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// Who asks: the gate's view of the user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    pub id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub account_tags: Vec<String>,
    #[serde(default = "yes")]
    pub training_current: bool,
}

fn yes() -> bool {
    true
}

/// What the action is done to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Resource {
    Account {
        id: String,
        platform: String,
        tags: Vec<String>,
        status: String,
    },
    Gateway,
    /// A held action waiting for a reviewer: who wrote it, and the tags
    /// of the account it is for.
    Review {
        id: String,
        author: String,
        account_id: String,
        account_tags: Vec<String>,
    },
}

impl From<&crate::domain::Account> for Resource {
    fn from(a: &crate::domain::Account) -> Self {
        Resource::Account {
            id: a.id.to_string(),
            platform: a.platform.to_string(),
            tags: a.tags.clone(),
            status: a.status.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestContext {
    pub mfa_age_seconds: i64,
    #[serde(default)]
    pub break_glass: bool,
    pub door: String,
    /// What the content screen found: only for `content.block` and `content.release`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<ScreenContext>,
}

/// What policy sees of a screen's report (`context.screen`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenContext {
    pub max_severity: i64,
    pub kinds: Vec<String>,
    pub media: bool,
    pub origin: String,
}

impl ScreenContext {
    pub fn of(report: &Report, origin: Origin) -> ScreenContext {
        ScreenContext {
            max_severity: report.max_severity(),
            kinds: report.kinds().into_iter().map(str::to_owned).collect(),
            media: report.media(),
            origin: serde_json::to_value(origin)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        }
    }
}

/// Policy's verdict on what the screen found, with the policies that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub policies: Vec<String>,
}

/// The answer, with the policies that determined it: the permits that
/// allowed it, or the forbids that refused it (none: nothing permits it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub policies: Vec<String>,
    /// Policies that could not be evaluated for this request (they count as not applying).
    pub errors: Vec<String>,
    /// Refused only by forbids annotated [`STEP_UP`]: verifying the second
    /// factor again is all the caller has to do.
    #[serde(skip)]
    pub step_up: bool,
    /// When one policy refused and says why (`@reason`): its words, with
    /// `{action}`, `{target}`, `{account}` and `{account_status}` to fill in.
    #[serde(skip)]
    pub reason: Option<String>,
    /// ...and what to do (`@remedy`).
    #[serde(skip)]
    pub remedy: Option<String>,
}

/// The annotation that marks a forbid as asking for a fresh second factor
/// (`@step_up`), so that its refusal tells the caller to verify again. It
/// lives on the policy, so an added step-up forbid needs no list kept here.
pub const STEP_UP: &str = "step_up";

/// The annotations a refusing policy explains itself with: why, and what to
/// do. Rust never names a policy; a policy names its own reason.
pub const REASON: &str = "reason";
pub const REMEDY: &str = "remedy";

/// One validated set of policies, with its schema.
pub struct Policies {
    schema: Schema,
    set: PolicySet,
    /// Policy id -> file it came from, for explanations.
    origin: BTreeMap<String, String>,
    actions: HashSet<String>,
    /// The content screen, with the folder's `screen.toml`.
    screen: Screen,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Policies({} policies)", self.origin.len())
    }
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|e| PolicyError::Unreadable {
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    })
}

/// `file:line: problem` for each labelled span of a Cedar diagnostic.
fn located(file: &str, text: &str, d: &dyn miette::Diagnostic, message: String) -> String {
    let line = d
        .labels()
        .and_then(|mut l| l.next())
        .map(|label| text[..label.offset().min(text.len())].matches('\n').count() + 1);
    let help = d.help().map(|h| format!(" ({h})")).unwrap_or_default();
    match line {
        Some(line) => format!("{file}:{line}: {message}{help}"),
        None => format!("{file}: {message}{help}"),
    }
}

impl Policies {
    /// Loads and validates `dir`: the schema, then every `*.cedar` file in
    /// name order. Policy ids come from `@id("...")` (required, unique).
    pub fn load(dir: &Path) -> Result<Policies, PolicyError> {
        let schema_path = dir.join(SCHEMA_FILE);
        let schema_text = read(&schema_path)?;
        let schema_name = schema_path.display().to_string();
        let (schema, _warnings) = Schema::from_cedarschema_str(&schema_text).map_err(|e| {
            PolicyError::Invalid(vec![located(&schema_name, &schema_text, &e, e.to_string())])
        })?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| PolicyError::Unreadable {
                path: dir.display().to_string(),
                reason: e.kind().to_string(),
            })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
            .collect();
        files.sort();
        let mut problems = Vec::new();
        let mut set = PolicySet::new();
        let mut origin = BTreeMap::new();
        let mut texts = HashMap::new();
        for path in &files {
            let name = path.display().to_string();
            let text = read(path)?;
            match PolicySet::from_str(&text) {
                Err(errors) => {
                    for e in errors.iter() {
                        problems.push(located(&name, &text, e, e.to_string()));
                    }
                }
                Ok(parsed) => {
                    for policy in parsed.policies() {
                        let Some(id) = policy.annotation("id").map(str::to_owned) else {
                            problems.push(format!(
                                "{name}: a policy has no @id(\"...\") annotation (every policy needs a unique id)"
                            ));
                            continue;
                        };
                        if let Some(first) = origin.get(&id) {
                            problems.push(format!("{name}: @id(\"{id}\") is already used in {first}"));
                            continue;
                        }
                        if let Err(e) = set.add(policy.new_id(PolicyId::new(&id))) {
                            problems.push(format!("{name}: {e}"));
                            continue;
                        }
                        origin.insert(id.clone(), name.clone());
                        texts.insert(id, text.clone());
                    }
                }
            }
        }
        if files.is_empty() {
            problems.push(format!("{}: no *.cedar policy files", dir.display()));
        }
        if problems.is_empty() {
            let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
            for e in result.validation_errors() {
                let id = e.policy_id().to_string();
                let file = origin.get(&id).cloned().unwrap_or_else(|| id.clone());
                let text = texts.get(&id).map(String::as_str).unwrap_or("");
                problems.push(located(&file, text, e, format!("policy {id:?}: {e}")));
            }
        }
        let screen = ScreenSettings::load(dir).and_then(|settings| Screen::new(&settings));
        if let Err(e) = &screen {
            problems.push(e.to_string());
        }
        let (Ok(screen), true) = (screen, problems.is_empty()) else {
            return Err(PolicyError::Invalid(problems));
        };
        let actions = schema.actions().map(|a| a.id().unescaped().to_string()).collect();
        Ok(Policies { schema, set, origin, actions, screen })
    }

    /// How many policies are in force.
    pub fn len(&self) -> usize {
        self.origin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.origin.is_empty()
    }

    /// The file a policy came from.
    pub fn file_of(&self, policy: &str) -> Option<&str> {
        self.origin.get(policy).map(String::as_str)
    }

    /// The content screen these policies judge the findings of.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// What happens to what the screen found: blocked if policy permits
    /// `content.block`, let out if it permits `content.release`, held for
    /// a reviewer otherwise. The policies named are the ones that decided
    /// (for a hold: the forbids that kept it from release, if any).
    pub fn judge(
        &self,
        principal: &Principal,
        resource: &Resource,
        context: &RequestContext,
        screened: ScreenContext,
    ) -> Judgement {
        let context = RequestContext { screen: Some(screened), ..context.clone() };
        let block = self.decide(principal, PolicyAction::ContentBlock.as_str(), resource, &context);
        if block.allowed {
            return Judgement { verdict: Verdict::Block, policies: block.policies };
        }
        let release = self.decide(principal, PolicyAction::ContentRelease.as_str(), resource, &context);
        let verdict = if release.allowed { Verdict::Allow } else { Verdict::Hold };
        Judgement { verdict, policies: release.policies }
    }

    /// May `principal` take `action` on `resource`? Anything malformed is a refusal.
    pub fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Resource,
        context: &RequestContext,
    ) -> Decision {
        match self.evaluate(principal, action, resource, context) {
            Ok(decision) => decision,
            Err(problem) => Decision {
                allowed: false,
                policies: Vec::new(),
                errors: vec![problem],
                step_up: false,
                reason: None,
                remedy: None,
            },
        }
    }

    fn evaluate(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Resource,
        context: &RequestContext,
    ) -> Result<Decision, String> {
        if !self.actions.contains(action) {
            return Err(format!("{action:?} is not an action in the schema"));
        }
        let user = uid("User", &principal.id)?;
        let mut parents = HashSet::new();
        for role in &principal.roles {
            parents.insert(uid("Role", role)?);
        }
        for group in &principal.groups {
            parents.insert(uid("Group", group)?);
        }
        let strings = |v: &[String]| {
            RestrictedExpression::new_set(v.iter().cloned().map(RestrictedExpression::new_string))
        };
        let user_attrs = HashMap::from([
            ("email".to_owned(), RestrictedExpression::new_string(principal.email.clone())),
            ("groups".to_owned(), strings(&principal.groups)),
            ("roles".to_owned(), strings(&principal.roles)),
            ("account_tags".to_owned(), strings(&principal.account_tags)),
            ("training_current".to_owned(), RestrictedExpression::new_bool(principal.training_current)),
        ]);
        let mut entities =
            vec![Entity::new(user.clone(), user_attrs, parents.clone()).map_err(|e| e.to_string())?];
        entities.extend(parents.into_iter().map(Entity::with_uid));
        let target = match resource {
            Resource::Account { id, platform, tags, status } => {
                let account = uid("Account", id)?;
                let attrs = HashMap::from([
                    ("platform".to_owned(), RestrictedExpression::new_string(platform.clone())),
                    ("tags".to_owned(), strings(tags)),
                    ("status".to_owned(), RestrictedExpression::new_string(status.clone())),
                ]);
                entities
                    .push(Entity::new(account.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())?);
                account
            }
            Resource::Review { id, author, account_id, account_tags } => {
                let review = uid("Review", id)?;
                let attrs = HashMap::from([
                    ("author".to_owned(), RestrictedExpression::new_entity_uid(uid("User", author)?)),
                    ("account".to_owned(), RestrictedExpression::new_string(account_id.clone())),
                    ("account_tags".to_owned(), strings(account_tags)),
                ]);
                entities.push(Entity::new(review.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())?);
                review
            }
            Resource::Gateway => {
                let gateway = uid("Gateway", "custodian")?;
                entities.push(Entity::with_uid(gateway.clone()));
                gateway
            }
        };
        let entities = Entities::from_entities(entities, Some(&self.schema)).map_err(|e| e.to_string())?;
        let mut pairs = vec![
            ("mfa_age_seconds".to_owned(), RestrictedExpression::new_long(context.mfa_age_seconds)),
            ("break_glass".to_owned(), RestrictedExpression::new_bool(context.break_glass)),
            ("door".to_owned(), RestrictedExpression::new_string(context.door.clone())),
        ];
        if let Some(screen) = &context.screen {
            let record = RestrictedExpression::new_record([
                ("max_severity".to_owned(), RestrictedExpression::new_long(screen.max_severity)),
                ("kinds".to_owned(), strings(&screen.kinds)),
                ("media".to_owned(), RestrictedExpression::new_bool(screen.media)),
                ("origin".to_owned(), RestrictedExpression::new_string(screen.origin.clone())),
            ])
            .map_err(|e| e.to_string())?;
            pairs.push(("screen".to_owned(), record));
        }
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        let action = uid("Action", action)?;
        let request =
            Request::new(user, action, target, context, Some(&self.schema)).map_err(|e| e.to_string())?;
        let response = Authorizer::new().is_authorized(&request, &self.set, &entities);
        let mut policies: Vec<String> = response.diagnostics().reason().map(|p| p.to_string()).collect();
        policies.sort();
        let allowed = response.decision() == CedarDecision::Allow;
        let step_up = !allowed
            && !policies.is_empty()
            && response.diagnostics().reason().all(|p| self.set.annotation(p, STEP_UP).is_some());
        // The words of the refusing policies, when they agree on them.
        let said = |key: &str| -> Option<String> {
            let mut words = response.diagnostics().reason().map(|p| self.set.annotation(p, key));
            let first = words.next()??;
            words.all(|w| w == Some(first)).then(|| first.to_owned())
        };
        let (reason, remedy) = if allowed { (None, None) } else { (said(REASON), said(REMEDY)) };
        Ok(Decision {
            allowed,
            policies,
            errors: response.diagnostics().errors().map(|e| e.to_string()).collect(),
            step_up,
            reason,
            remedy,
        })
    }
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, String> {
    let name = EntityTypeName::from_str(&format!("{NAMESPACE}::{kind}")).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

/// The policies in force, swapped whole on a reload that validates.
pub struct PolicyStore {
    dir: PathBuf,
    current: RwLock<Arc<Policies>>,
}

impl PolicyStore {
    pub fn load(config: &PolicyConfig) -> Result<PolicyStore, PolicyError> {
        let policies = Policies::load(&config.dir)?;
        Ok(PolicyStore { dir: config.dir.clone(), current: RwLock::new(Arc::new(policies)) })
    }

    pub fn current(&self) -> Arc<Policies> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the folder again; keeps the last good set if the new one is invalid.
    pub fn reload(&self) -> Result<usize, PolicyError> {
        let policies = Policies::load(&self.dir)?;
        let count = policies.len();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policies);
        Ok(count)
    }

    /// A reload, recorded (`policy.reload`) with its result: `trigger` says
    /// why (`sighup`, `file change`).
    pub async fn reload_recorded(&self, journal: &Journal, trigger: &str) -> Result<usize, PolicyError> {
        let outcome = self.reload();
        let (loaded, problems) = match &outcome {
            Ok(n) => (Some(*n), Vec::new()),
            Err(PolicyError::Invalid(problems)) => (None, problems.clone()),
            Err(e) => (None, vec![e.to_string()]),
        };
        match &outcome {
            Ok(n) => tracing::info!(policies = n, trigger, "policies reloaded"),
            Err(e) => {
                tracing::error!(trigger, error = %e, "policy reload refused; the last good set keeps serving")
            }
        }
        let kind = EventKind::PolicyReload { trigger: trigger.to_owned(), loaded, problems };
        if let Err(e) = journal.record(&RequestMeta::default(), Actor::default(), kind).await {
            tracing::error!(error = %e, "cannot record the policy reload");
        }
        outcome
    }

    /// What the folder holds now (names, sizes, modification times): a
    /// change means the files were edited.
    fn fingerprint(&self) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
        let mut seen: Vec<_> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((e.path(), meta.len(), meta.modified().ok()))
            })
            .collect();
        seen.sort();
        seen
    }
}

/// Reloads on SIGHUP, and when the files change (checked every `every`).
pub fn spawn_reloader(store: Arc<PolicyStore>, journal: Journal, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; policies reload on file changes only");
                None
            }
        };
        let mut last = store.fingerprint();
        loop {
            let sighup = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            let trigger = tokio::select! {
                _ = sighup => "sighup",
                _ = tokio::time::sleep(every) => {
                    let now = store.fingerprint();
                    if now == last { continue; }
                    "file change"
                }
            };
            last = store.fingerprint();
            let _ = store.reload_recorded(&journal, trigger).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    /// Every case in `policies/tests` comes out as written there.
    #[test]
    fn the_default_policies_decide_every_case_as_expected() {
        let policies = Policies::load(&repo("policies")).unwrap();
        let (ran, failures) = run_cases(&policies, &repo("policies/tests")).unwrap();
        assert!(ran >= 30, "the cases cover each default rule ({ran} ran)");
        let report: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert!(failures.is_empty(), "{}", report.join("\n"));
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(repo("policies/schema.cedarschema"), dir.path().join(SCHEMA_FILE)).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn an_invalid_policy_is_named_by_file_line_and_problem() {
        let bad = "// a typo in an attribute\n\n@id(\"typo\")\npermit (principal, action == Custodian::Action::\"post.publish\", resource)\nwhen { resource.tagz.contains(\"official\") };\n";
        let dir = dir_with(&[("bad.cedar", bad)]);
        let e = Policies::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bad.cedar:5: policy \"typo\""), "{e}");
        assert!(e.contains("tagz"), "{e}");

        let dir = dir_with(&[(
            "syntax.cedar",
            "@id(\"x\")\npermit (principal, action, resource)\nwhen { 1 + };\n",
        )]);
        let e = Policies::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("syntax.cedar:3:"), "{e}");

        let dir = dir_with(&[("noid.cedar", "permit (principal, action, resource);\n")]);
        let e = Policies::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("noid.cedar: a policy has no @id"), "{e}");

        let twice = "@id(\"same\")\npermit (principal, action, resource);\n";
        let dir = dir_with(&[("a.cedar", twice), ("b.cedar", twice)]);
        let e = Policies::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("b.cedar: @id(\"same\") is already used in"), "{e}");
    }

    #[test]
    fn a_reload_keeps_the_last_good_set_when_the_new_one_is_invalid() {
        let dir = dir_with(&[("ok.cedar", "@id(\"all\")\npermit (principal, action, resource);\n")]);
        let store = PolicyStore::load(&PolicyConfig { dir: dir.path().to_owned() }).unwrap();
        std::fs::write(
            dir.path().join("ok.cedar"),
            "@id(\"all\")\npermit (principal, action, resource) when { nope };\n",
        )
        .unwrap();
        assert!(store.reload().is_err());
        assert_eq!(
            store.current().file_of("all").map(|f| f.ends_with("ok.cedar")),
            Some(true),
            "still serving"
        );
        let context =
            RequestContext { mfa_age_seconds: 0, break_glass: false, door: "api".into(), screen: None };
        let d = store.current().decide(
            &Principal { id: "u".into(), ..Default::default() },
            "audit.read",
            &Resource::Gateway,
            &context,
        );
        assert!(d.allowed);
    }

    #[test]
    fn a_refusing_policy_says_why_and_what_to_do_in_its_own_words() {
        let rules = "@id(\"all\")\npermit (principal, action, resource);\n\
            @id(\"no-audit\")\n@reason(\"{action} is closed today\")\n@remedy(\"Come back tomorrow.\")\n\
            forbid (principal, action == Custodian::Action::\"audit.read\", resource);\n\
            @id(\"no-export\")\n@reason(\"exports are paused\")\n\
            forbid (principal, action == Custodian::Action::\"audit.export\", resource);\n\
            @id(\"no-export-either\")\n@reason(\"another reason\")\n\
            forbid (principal, action == Custodian::Action::\"audit.export\", resource);\n";
        let policies = Policies::load(dir_with(&[("p.cedar", rules)]).path()).unwrap();
        let context =
            RequestContext { mfa_age_seconds: 0, break_glass: false, door: "api".into(), screen: None };
        let decide = |action| policies.decide(&Principal::default(), action, &Resource::Gateway, &context);
        let d = decide("audit.read");
        assert_eq!(
            (d.reason.as_deref(), d.remedy.as_deref()),
            (Some("{action} is closed today"), Some("Come back tomorrow."))
        );
        // Two refusing policies that disagree: neither speaks for the refusal.
        let d = decide("audit.export");
        assert_eq!((d.allowed, d.reason, d.remedy), (false, None, None));
        // An allowed action carries no reason.
        assert_eq!(decide("token.create").reason, None);
    }

    #[test]
    fn an_unknown_action_is_refused_not_evaluated() {
        let policies = Policies::load(&repo("policies")).unwrap();
        let context =
            RequestContext { mfa_age_seconds: 0, break_glass: false, door: "api".into(), screen: None };
        let d = policies.decide(&Principal::default(), "post.launch", &Resource::Gateway, &context);
        assert!(!d.allowed && d.errors[0].contains("not an action"), "{d:?}");
    }
}
