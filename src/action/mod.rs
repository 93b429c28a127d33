//! The one path every action takes, whichever door it came through:
//!
//! ```text
//! gate ─► authorize (Cedar) ─► screen ─► record intent ─► execute ─► record outcome
//!            Authorized ─► Screened | Held ─► Recorded ─► Executed
//! ```
//!
//! Each step returns a value only it makes, and the next step takes only
//! that value: an action cannot be executed before its intent is recorded,
//! and only a [`Recorded`] action reaches the dispatcher (which no other
//! module holds).
//!
//! The door identifies the caller (session or API token) and the directory
//! gate has admitted them; [`ActionPath::perform`] then asks policy,
//! screens what the action would say (policy judges the findings: out,
//! held for a reviewer, or refused), writes
//! the intent to the audit journal (fail closed: no journal, no action),
//! has the platform carry it out with the sealed credential, and records
//! the outcome. Every refusal says which step refused, by which rule, and
//! what to do; every refusal after the gate is recorded.
//!
//! While the caller has a break-glass grant open (emergency access),
//! policy sees `context.break_glass` and every intent, outcome and refusal
//! carries the grant's id.

mod connect;
mod refusal;
mod tokens;

use std::sync::Arc;

use serde::Serialize;
use tracing::Instrument;

use crate::audit::content::ContentRecord;
use crate::audit::ReviewRef;
use crate::audit::{Actor, AuditError, EventKind, Journal, RequestMeta};
use crate::auth::{SessionPrincipal, TokenPrincipal};
use crate::clock::{SharedClock, Timestamp};
use crate::directory::grants::Grants;
use crate::directory::{Admitted, Directory, DirectoryConfig, Locks, Scope};
use crate::domain::{Account, AccountId, Action, EventId, PolicyAction, Verdict};
use crate::identity::{ApiToken, Tokens, User};
use crate::platforms::accounts::Accounts;
use crate::platforms::connect::Connector;
use crate::platforms::dispatch::{Dispatcher, Outcome};
use crate::policy::{principal_of, Judgement, PolicyStore, RequestContext, Resource, ScreenContext};
use crate::queue::{NewReview, Queue, ReviewState};
use crate::screen::{Content, Origin, Report};

pub use crate::domain::{Details, Kind, Refusal, Step};
pub use connect::{AdminError, ConnectPermit, DisconnectPermit};
pub use tokens::Issued;

/// Which door an action came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Door {
    Ui,
    Api,
    Token,
    Proxy,
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Ui => "ui",
            Door::Api => "api",
            Door::Token => "token",
            Door::Proxy => "proxy",
        }
    }
}

/// Who acts: the first link of the path's chain. The door identified them
/// (a session that passed its second factor, or an API token) and the
/// directory gate admitted them just now; nothing else makes one, so no
/// request reaches policy, or a platform, around the gate.
pub struct Gated<'a> {
    admitted: &'a Admitted,
    /// When the second factor was last passed (None: not passed).
    mfa_verified_at: Option<Timestamp>,
    actor: Actor,
    meta: RequestMeta,
    door: Door,
    /// The API token the caller presented, which limits what they may do.
    token: Option<&'a ApiToken>,
}

impl<'a> Gated<'a> {
    /// A session's user, through `door`.
    pub fn session(principal: &'a SessionPrincipal, meta: RequestMeta, door: Door) -> Self {
        Gated {
            admitted: &principal.admitted,
            mfa_verified_at: principal.session.mfa_verified_at,
            actor: principal.actor(),
            meta,
            door,
            token: None,
        }
    }

    /// An API token's owner, through the token door (or the proxy's).
    pub fn token(principal: &'a TokenPrincipal, meta: RequestMeta, door: Door) -> Self {
        Gated {
            admitted: &principal.admitted,
            mfa_verified_at: Some(principal.token.mfa_verified_at),
            actor: principal.actor.clone(),
            meta,
            door: if door == Door::Proxy { Door::Proxy } else { Door::Token },
            token: Some(&principal.token),
        }
    }

    /// Whom the gate admitted, acting as `actor`, second factor passed at
    /// `mfa_verified_at`: for a step that checks the factor itself
    /// (break-glass asks for a fresh code) and for tests.
    pub fn new(
        admitted: &'a Admitted,
        actor: Actor,
        meta: RequestMeta,
        door: Door,
        mfa_verified_at: Option<Timestamp>,
    ) -> Self {
        Gated { admitted, mfa_verified_at, actor, meta, door, token: None }
    }

    pub fn user(&self) -> &User {
        self.admitted.user()
    }

    pub fn door(&self) -> Door {
        self.door
    }

    /// The API token the caller presented, if any.
    pub fn api_token(&self) -> Option<&ApiToken> {
        self.token
    }

    /// The caller's directory groups, as the gate found them.
    pub fn groups(&self) -> &[String] {
        &self.admitted.access().groups
    }

    pub fn meta(&self) -> &RequestMeta {
        &self.meta
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// What policy sees of the caller.
    fn principal(&self, config: &DirectoryConfig) -> crate::policy::Principal {
        principal_of(self.admitted.user(), self.admitted.access(), config)
    }
}

/// The policy action an operation is.
pub fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Publish(_) => "post.publish",
        Action::Delete { .. } => "post.delete",
        Action::Reply { .. } => "comment.reply",
        Action::Comments { .. } => "comment.list",
        Action::HideComment { .. } => "comment.hide",
        Action::DeleteComment { .. } => "comment.delete",
        Action::Forward(forward) => forward.action.as_str(),
    }
}

/// The account an action is on: named by its id, or as the door has just
/// read it (the pass-through proxy reads it to name the action), so that
/// it is not read again.
pub enum On<'a> {
    Id(&'a str),
    Account(Box<Account>),
}

impl<'a> From<&'a str> for On<'a> {
    fn from(id: &'a str) -> Self {
        On::Id(id)
    }
}

impl<'a> From<&'a String> for On<'a> {
    fn from(id: &'a String) -> Self {
        On::Id(id)
    }
}

impl<'a> From<&'a AccountId> for On<'a> {
    fn from(id: &'a AccountId) -> Self {
        On::Id(id)
    }
}

impl From<Account> for On<'_> {
    fn from(account: Account) -> Self {
        On::Account(Box::new(account))
    }
}

/// What was done, and the audit event that recorded the intent. Only
/// [`Recorded::execute`] makes one.
#[derive(Debug)]
pub struct Executed {
    pub outcome: Outcome,
    pub audit_event_id: EventId,
}

pub struct ActionPath {
    policies: Arc<PolicyStore>,
    directory: DirectoryConfig,
    locks: Locks,
    tokens: Tokens,
    accounts: Accounts,
    journal: Journal,
    dispatcher: Arc<Dispatcher>,
    /// Connects and disconnects accounts, for the path only.
    connector: Connector,
    clock: SharedClock,
    /// Open break-glass grants: while one is, policy sees `break_glass`.
    breakglass: Grants,
    /// Where held actions wait for a reviewer.
    queue: Queue,
}

/// A reply in the words of an approved reply template (the `templates`
/// module renders it): which, who approved it, and where its values are.
#[derive(Debug, Clone)]
pub struct TemplateUse {
    pub template_id: String,
    /// Who approved the words: their own replies with it get no exemption.
    pub approved_by: String,
    /// The words it renders to: what the reply must say, exactly.
    pub text: String,
    /// Where the filled-in values are in `text` (byte spans).
    pub spans: Vec<(usize, usize)>,
}

/// A post waiting in the queue for its time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queued {
    pub review_id: String,
    pub publish_at: Timestamp,
    /// `publish_at` in the organization's time zone.
    pub publish_at_local: String,
    /// The `post.schedule` event.
    #[schema(value_type = String)]
    pub audit_event_id: EventId,
}

/// An account and action that policy allowed for a caller. Only
/// [`ActionPath::authorize`] makes one.
pub struct Authorized {
    account: Account,
    action: Action,
    policies: Vec<String>,
    /// The break-glass grant it is taken under, if any.
    break_glass: Option<String>,
    /// The review that approved this exact content, when it was held.
    approved: Option<Approved>,
    /// The approved reply template it uses, if any.
    template: Option<TemplateUse>,
}

/// A queued action as the path carries it out: the content it was held
/// or scheduled with, and who approved it (nobody, for a post scheduled
/// clean).
pub struct Approved {
    pub review_id: String,
    pub content_sha256: String,
    pub approvers: Vec<String>,
}

/// An authorized action the content screen let through. Only
/// [`ActionPath::screen`] makes one.
pub struct Screened(Authorized);

/// An authorized action the content screen stopped: held for a reviewer,
/// or refused outright. What it found, and the policies that judged it.
pub struct Stopped {
    action: Authorized,
    /// What was screened (never recorded in clear).
    text: String,
    report: Report,
    judgement: Judgement,
}

/// What the content screen decided.
pub enum Screening {
    Passed(Screened),
    Held(Stopped),
    Blocked(Stopped),
}

/// An action whose intent the journal holds. Only [`Run::record`] makes
/// one, and only it is executed.
pub struct Recorded {
    action: Authorized,
    /// The journal's receipt of the intent.
    intent: crate::audit::Receipt,
}

impl Authorized {
    /// The account as policy saw it.
    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn action(&self) -> &Action {
        &self.action
    }
}

impl ActionPath {
    pub fn new(
        policies: Arc<PolicyStore>,
        directory: &Directory,
        accounts: Accounts,
        dispatcher: Arc<Dispatcher>,
        connector: Connector,
        breakglass: Grants,
        queue: Queue,
    ) -> Self {
        ActionPath {
            policies,
            directory: directory.config().clone(),
            locks: directory.locks.clone(),
            tokens: directory.tokens.clone(),
            accounts,
            journal: directory.journal().clone(),
            dispatcher,
            connector,
            clock: directory.clock().clone(),
            breakglass,
            queue,
        }
    }

    /// The whole path for one action on one account: the one entry every
    /// door takes for what a platform carries out.
    pub async fn perform(
        &self,
        caller: &Gated<'_>,
        on: impl Into<On<'_>>,
        action: Action,
    ) -> Result<Executed, Refusal> {
        let authorized = match on.into() {
            On::Id(id) => self.authorize(caller, id, action).await?,
            On::Account(account) => self.authorize_on(caller, *account, action).await?,
        };
        self.carry_out(caller, authorized).await
    }

    /// A held action its reviewers approved, carried out through the whole
    /// path as its author (`caller`: the gate admitted them again just
    /// now): policy again, the screen again (which lets the held findings
    /// through only for the exact content approved), the intent recorded
    /// with the review and its approvers.
    pub async fn perform_approved(
        &self,
        caller: &Gated<'_>,
        account_id: &str,
        action: Action,
        approved: Approved,
    ) -> Result<Executed, Refusal> {
        self.perform_exempt(caller, account_id, action, |a| a.approved = Some(approved)).await
    }

    /// A reply in the words of an approved template: the whole path, where
    /// the screen lets a hold through only for the template's exact words,
    /// no finding touching a filled-in value, on an account whose policy
    /// releases clean replies, and a user other than its approver.
    pub async fn perform_with_template(
        &self,
        caller: &Gated<'_>,
        account_id: &str,
        action: Action,
        template: TemplateUse,
    ) -> Result<Executed, Refusal> {
        self.perform_exempt(caller, account_id, action, |a| a.template = Some(template)).await
    }

    /// The whole path, with what may let a hold through (an approval, a
    /// template) given to the authorized action for the screen to weigh.
    async fn perform_exempt(
        &self,
        caller: &Gated<'_>,
        account_id: &str,
        action: Action,
        exempt: impl FnOnce(&mut Authorized),
    ) -> Result<Executed, Refusal> {
        let mut authorized = self.authorize(caller, account_id, action).await?;
        exempt(&mut authorized);
        self.carry_out(caller, authorized).await
    }

    /// A post to publish at `publish_at`: policy and the screen now (the
    /// author learns at once whether it waits for a reviewer), then it
    /// waits sealed in the queue; at its time it takes the whole path
    /// again, as its author ([`ActionPath::perform_approved`]).
    pub async fn schedule(
        &self,
        caller: &Gated<'_>,
        account_id: &str,
        action: Action,
        publish_at: Timestamp,
    ) -> Result<Queued, Refusal> {
        let name = action_name(&action);
        if let Some(problem) = self.queue.config().schedule_problem(self.clock.now(), publish_at) {
            return Err(self.refuse(caller, name, account_id, Refusal::bad_schedule(problem)).await);
        }
        let authorized = self.authorize(caller, account_id, action).await?;
        match self.screen(caller, authorized) {
            Screening::Passed(Screened(action)) => self.enqueue(caller, action, publish_at).await,
            Screening::Held(stopped) => Err(self.hold(caller, stopped, Some(publish_at)).await),
            Screening::Blocked(stopped) => Err(self.blocked(caller, stopped).await),
        }
    }

    /// A scheduled post the screen let through: `post.schedule` recorded
    /// (its content's keyed digest), then stored sealed, waiting for its time.
    async fn enqueue(
        &self,
        caller: &Gated<'_>,
        action: Authorized,
        publish_at: Timestamp,
    ) -> Result<Queued, Refusal> {
        let id = crate::queue::new_id();
        let text = said(&action.action).map(|(text, _, _)| text).unwrap_or_default();
        let name = action_name(&action.action);
        let kind = EventKind::PostScheduled {
            review_id: id.clone(),
            action: name.to_owned(),
            account_id: action.account.id.to_string(),
            door: caller.door.as_str().to_owned(),
            content: self.journal.withheld(&text, &[]),
            content_sha256: crate::queue::content_sha256(&action.account.id, &action.action),
            publish_at,
        };
        let receipt = self.journal.record(&caller.meta, caller.actor.clone(), kind).await?;
        let now = self.clock.now();
        let review = NewReview {
            id: &id,
            account_id: &action.account.id,
            author_id: &caller.user().id,
            action: &action.action,
            action_name: name,
            door: caller.door.as_str(),
            findings: &[],
            approvals_required: 0,
            mfa_verified_at: caller.mfa_verified_at,
            created_at: now,
            expires_at: now.plus(self.queue.config().expire_after),
            publish_at: Some(publish_at),
            state: ReviewState::Scheduled,
            token_id: caller.token.map(|t| t.id.as_str()),
            audit_event_id: receipt.event_id.as_ref(),
        };
        self.queue.insert(&review).await?;
        Ok(Queued {
            review_id: id,
            publish_at,
            publish_at_local: self.queue.config().local(publish_at),
            audit_event_id: receipt.event_id,
        })
    }

    /// Screen, then the intent, the platform and the outcome.
    async fn carry_out(&self, caller: &Gated<'_>, authorized: Authorized) -> Result<Executed, Refusal> {
        let screened = match self.screen(caller, authorized) {
            Screening::Passed(screened) => screened,
            // What comes out of the queue never goes back in.
            Screening::Held(stopped) if stopped.action.approved.is_some() => {
                let refusal = Refusal::held_at_its_time(&stopped.report, &stopped.judgement.policies);
                return Err(self.stopped(caller, stopped, refusal).await);
            }
            Screening::Held(stopped) => return Err(self.hold(caller, stopped, None).await),
            Screening::Blocked(stopped) => return Err(self.blocked(caller, stopped).await),
        };
        // From its intent on, an action runs to its recorded outcome in a
        // task of its own: a caller that goes away (a client hanging up
        // mid-request) cannot leave an intent without its outcome.
        let run = Run {
            journal: self.journal.clone(),
            dispatcher: self.dispatcher.clone(),
            clock: self.clock.clone(),
            door: caller.door,
            meta: caller.meta.clone(),
            actor: caller.actor.clone(),
        };
        match tokio::spawn(run.carry_out(screened).in_current_span()).await {
            Ok(performed) => performed,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels the task.
            Err(_) => Err(AuditError::WriterStopped.into()),
        }
    }

    /// The content screen: what the action would say, and policy's verdict
    /// on what the screen found. An action that says nothing passes.
    fn screen(&self, caller: &Gated<'_>, authorized: Authorized) -> Screening {
        let Some((text, origin, media)) = said(&authorized.action) else {
            return Screening::Passed(Screened(authorized));
        };
        let policies = self.policies.current();
        let report = policies.screen().check(&Content { text: &text, origin, media });
        let principal = caller.principal(&self.directory);
        let context = self.context(caller, caller.mfa_verified_at, authorized.break_glass.is_some());
        let resource = Resource::from(&authorized.account);
        let judgement = policies.judge(&principal, &resource, &context, ScreenContext::of(&report, origin));
        // Reviewers approved this exact content (a post scheduled clean has
        // no approvers: what the screen holds now, nobody approved).
        let approved = authorized.approved.as_ref().is_some_and(|a| {
            !a.approvers.is_empty()
                && a.content_sha256
                    == crate::queue::content_sha256(&authorized.account.id, &authorized.action)
        });
        // An approved template's exact words, used by someone other than its
        // approver: what the screen found lies in those words alone (no
        // finding touches a filled-in value), and policy would let a clean
        // reply out on this account.
        let templated = !media
            && authorized.template.as_ref().is_some_and(|t| {
                let clean = Report { findings: Vec::new() };
                t.text == text
                    && t.approved_by != caller.user().id
                    && report
                        .findings
                        .iter()
                        .all(|f| t.spans.iter().all(|&(a, b)| f.end <= a || b <= f.start))
                    && policies
                        .judge(&principal, &resource, &context, ScreenContext::of(&clean, origin))
                        .verdict
                        == Verdict::Allow
            });
        match judgement.verdict {
            Verdict::Allow => Screening::Passed(Screened(authorized)),
            Verdict::Hold if approved || templated => Screening::Passed(Screened(authorized)),
            Verdict::Hold => Screening::Held(Stopped { action: authorized, text, report, judgement }),
            Verdict::Block => Screening::Blocked(Stopped { action: authorized, text, report, judgement }),
        }
    }

    /// Puts a held action in the review queue: `review.held` recorded first
    /// (the content's keyed digest and the findings), then the action
    /// stored sealed. The author is told at once, with the findings and the
    /// review's id.
    async fn hold(&self, caller: &Gated<'_>, stopped: Stopped, publish_at: Option<Timestamp>) -> Refusal {
        let Stopped { action, text, report, judgement } = stopped;
        let id = crate::queue::new_id();
        let mut refusal = Refusal::held(&action.account.id, &judgement.policies);
        let now = self.clock.now();
        let expires_at = now.plus(self.queue.config().expire_after);
        let required = self.queue.config().approvals_for(&action.account.tags);
        let name = action_name(&action.action);
        let kind = EventKind::ReviewHeld {
            review_id: id.clone(),
            action: name.to_owned(),
            account_id: action.account.id.to_string(),
            door: caller.door.as_str().to_owned(),
            rule: refusal.rule.clone(),
            content: self.journal.withheld(&text, &report.findings),
            content_sha256: crate::queue::content_sha256(&action.account.id, &action.action),
            approvals_required: required,
            expires_at,
            publish_at,
        };
        let receipt = match self.journal.record(&caller.meta, caller.actor.clone(), kind).await {
            Ok(receipt) => receipt,
            Err(e) => return e.into(),
        };
        let review = NewReview {
            id: &id,
            account_id: &action.account.id,
            author_id: &caller.user().id,
            action: &action.action,
            action_name: name,
            door: caller.door.as_str(),
            findings: &report.findings,
            approvals_required: required,
            mfa_verified_at: caller.mfa_verified_at,
            created_at: now,
            expires_at,
            publish_at,
            state: ReviewState::Held,
            token_id: caller.token.map(|t| t.id.as_str()),
            audit_event_id: receipt.event_id.as_ref(),
        };
        if let Err(e) = self.queue.insert(&review).await {
            return e.into();
        }
        refusal.findings = report.findings;
        refusal.review_id = Some(id);
        refusal
    }

    /// Refuses what policy never lets out, recorded.
    async fn blocked(&self, caller: &Gated<'_>, stopped: Stopped) -> Refusal {
        let refusal = Refusal::content_blocked(&stopped.report, &stopped.judgement.policies);
        self.stopped(caller, stopped, refusal).await
    }

    /// Records an action the screen stopped, with its content's digest and
    /// the findings (never the text); the refusal carries the findings back.
    async fn stopped(&self, caller: &Gated<'_>, stopped: Stopped, mut refusal: Refusal) -> Refusal {
        let Stopped { action, text, report, .. } = stopped;
        let content = self.journal.withheld(&text, &report.findings);
        refusal.findings = report.findings;
        let kind = EventKind::ActionRefused {
            action: action_name(&action.action).to_owned(),
            account_id: action.account.id.to_string(),
            door: caller.door.as_str().to_owned(),
            step: refusal.step.as_str().to_owned(),
            rule: refusal.rule.clone(),
            reason: refusal.reason.clone(),
            break_glass: action.break_glass,
            content: Some(content),
        };
        match self.journal.record(&caller.meta, caller.actor.clone(), kind).await {
            Ok(_) => refusal,
            Err(e) => e.into(),
        }
    }

    /// Policy's answer; a refusal is recorded with the rules that made it.
    async fn authorize(
        &self,
        caller: &Gated<'_>,
        account_id: &str,
        action: Action,
    ) -> Result<Authorized, Refusal> {
        let account = match self.accounts.get(account_id).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                let refusal = Refusal::unknown_account(account_id);
                return Err(self.refuse(caller, action_name(&action), account_id, refusal).await);
            }
            Err(e) => return Err(e.into()),
        };
        self.authorize_on(caller, account, action).await
    }

    /// Policy's answer on an account already read.
    async fn authorize_on(
        &self,
        caller: &Gated<'_>,
        account: Account,
        action: Action,
    ) -> Result<Authorized, Refusal> {
        let name = action_name(&action);
        let glass = self.break_glass(caller).await?;
        let Some(verified_at) = caller.mfa_verified_at else {
            return Err(self.refused(caller, name, &account.id, glass, Refusal::mfa_required()).await);
        };
        if let Some(token) = caller.token.filter(|t| !t.covers(name, &account.id)) {
            let refusal = Refusal::out_of_scope(token, name, Some(&account.id));
            return Err(self.refused(caller, name, &account.id, glass, refusal).await);
        }
        let target = [account.id.to_string()];
        let locks = self.locks.in_force(Scope::Account, &target, self.clock.now()).await?;
        if let Some(lock) = locks.first() {
            let refusal = Refusal::account_locked(&account, lock);
            return Err(self.refused(caller, name, &account.id, glass, refusal).await);
        }
        let principal = caller.principal(&self.directory);
        let context = self.context(caller, Some(verified_at), glass.is_some());
        let decision = self.policies.current().decide(&principal, name, &Resource::from(&account), &context);
        if decision.allowed {
            return Ok(Authorized {
                account,
                action,
                policies: decision.policies,
                break_glass: glass,
                approved: None,
                template: None,
            });
        }
        let refusal = Refusal::from_policy(name, Some(&account), &decision);
        Err(self.refused(caller, name, &account.id, glass, refusal).await)
    }

    /// Policy's answer for an action no adapter carries out: administration
    /// (connecting and disconnecting accounts, which call platforms; locks,
    /// revocations, training, reviews) and token creation. The deciding
    /// policies, or the refusal, recorded. An API token never reaches these.
    /// `account`: the account concerned; None for an action on Custodian itself.
    pub async fn permit(
        &self,
        caller: &Gated<'_>,
        name: &str,
        account: Option<&Account>,
    ) -> Result<Vec<String>, Refusal> {
        let subject = account.map(|a| a.id.as_str()).unwrap_or("custodian");
        let resource = account.map(Resource::from).unwrap_or(Resource::Gateway);
        self.permit_resource(caller, name, subject, account, resource).await
    }

    /// [`ActionPath::permit`] on another kind of resource (a review), about `subject`.
    pub async fn permit_on(
        &self,
        caller: &Gated<'_>,
        name: &str,
        subject: &str,
        resource: Resource,
    ) -> Result<Vec<String>, Refusal> {
        self.permit_resource(caller, name, subject, None, resource).await
    }

    async fn permit_resource(
        &self,
        caller: &Gated<'_>,
        name: &str,
        subject: &str,
        account: Option<&Account>,
        resource: Resource,
    ) -> Result<Vec<String>, Refusal> {
        // An API token reaches only what it names, on its accounts (deciding
        // reviews, at most): never administration.
        if let Some(token) = caller.token.filter(|t| !t.covers(name, &AccountId::new(subject))) {
            let refusal = Refusal::out_of_scope(token, name, account.map(|a| &a.id));
            return Err(self.refuse(caller, name, subject, refusal).await);
        }
        let principal = caller.principal(&self.directory);
        let glass = self.break_glass(caller).await?;
        let context = self.context(caller, caller.mfa_verified_at, glass.is_some());
        let decision = self.policies.current().decide(&principal, name, &resource, &context);
        if decision.allowed {
            return Ok(decision.policies);
        }
        Err(self.refused(caller, name, subject, glass, Refusal::from_policy(name, account, &decision)).await)
    }

    /// An account as the path reads it.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, sqlx::Error> {
        self.accounts.get(id).await
    }

    /// Whether policy allows `caller` the action on Custodian itself, without
    /// recording anything (for a step that records its own answer). An API
    /// token must name the action too, on `account` when one is concerned.
    pub fn allows_on(&self, caller: &Gated<'_>, name: &str, account: Option<&str>) -> bool {
        let token_ok = caller.token.is_none_or(|t| match account {
            Some(a) => t.covers(name, &AccountId::new(a)),
            None => t.actions.iter().any(|x| x == name),
        });
        token_ok && self.allows(caller, name)
    }

    /// Whether policy allows `caller` the action on Custodian itself, without
    /// recording anything (for a step that records its own answer).
    pub fn allows(&self, caller: &Gated<'_>, name: &str) -> bool {
        let principal = caller.principal(&self.directory);
        let context = self.context(caller, caller.mfa_verified_at, false);
        self.policies.current().decide(&principal, name, &Resource::Gateway, &context).allowed
    }

    /// Records a refusal that is not a policy decision (a malformed request,
    /// a rule of the step's own) about `account_id` ("custodian": Custodian itself).
    pub async fn refuse(
        &self,
        caller: &Gated<'_>,
        action: &str,
        account_id: &str,
        refusal: Refusal,
    ) -> Refusal {
        let glass = match self.break_glass(caller).await {
            Ok(glass) => glass,
            Err(e) => {
                // The refusal stands; it is recorded without the flag.
                tracing::warn!(error = %e, "cannot look up break-glass for a refusal");
                None
            }
        };
        self.refused(caller, action, account_id, glass, refusal).await
    }

    /// Records the refusal (`action.refused`); the journal failing is the refusal then.
    async fn refused(
        &self,
        caller: &Gated<'_>,
        action: &str,
        account_id: &str,
        break_glass: Option<String>,
        refusal: Refusal,
    ) -> Refusal {
        let kind = EventKind::ActionRefused {
            action: action.to_owned(),
            account_id: account_id.to_owned(),
            door: caller.door.as_str().to_owned(),
            step: refusal.step.as_str().to_owned(),
            rule: refusal.rule.clone(),
            reason: refusal.reason.clone(),
            break_glass,
            content: None,
        };
        match self.journal.record(&caller.meta, caller.actor.clone(), kind).await {
            Ok(_) => refusal,
            Err(e) => e.into(),
        }
    }

    /// The caller's break-glass grant in force now, if any. API tokens do
    /// not inherit it: emergency access is for the person who justified
    /// it, not for their standing automation.
    ///
    /// Eligibility is checked on every use: a user whom policy no longer
    /// allows `breakglass.use` (a role lost to a lock or a group change)
    /// loses the grant now, recorded, not at its expiry. The fresh second
    /// factor asked when it opened is not asked again.
    async fn break_glass(&self, caller: &Gated<'_>) -> Result<Option<String>, Refusal> {
        // An API token (through the API or the proxy) never acts under break-glass.
        if caller.token.is_some() {
            return Ok(None);
        }
        let now = self.clock.now();
        let Some((id, _)) = self.breakglass.open_for(&caller.user().id, now).await? else {
            return Ok(None);
        };
        let principal = caller.principal(&self.directory);
        let context = RequestContext {
            mfa_age_seconds: 0,
            break_glass: false,
            door: caller.door.as_str().into(),
            screen: None,
        };
        let use_ = crate::domain::PolicyAction::BreakglassUse.as_str();
        if self.policies.current().decide(&principal, use_, &Resource::Gateway, &context).allowed {
            return Ok(Some(id));
        }
        let reason = format!("its user is no longer eligible: no policy allows them {use_} now");
        let kind = EventKind::BreakglassEnded { grant_id: id.clone(), reason: Some(reason) };
        self.journal.record(&caller.meta, caller.actor.clone(), kind).await?;
        self.breakglass.end(&id, now).await?;
        Ok(None)
    }

    /// What policy sees of the request: the second factor's age (never
    /// passed: as old as can be), break-glass, the door.
    fn context(
        &self,
        caller: &Gated<'_>,
        verified_at: Option<Timestamp>,
        break_glass: bool,
    ) -> RequestContext {
        let age =
            verified_at.map(|t| (self.clock.now().millis() - t.millis()).max(0) / 1000).unwrap_or(i64::MAX);
        RequestContext {
            mfa_age_seconds: age,
            break_glass,
            door: caller.door.as_str().to_owned(),
            screen: None,
        }
    }

    /// The accounts `caller` may act on, with the actions policy allows on each.
    pub async fn my_accounts(
        &self,
        caller: &Gated<'_>,
    ) -> Result<Vec<(Account, Vec<&'static str>)>, Refusal> {
        let principal = caller.principal(&self.directory);
        let glass = self.break_glass(caller).await?;
        let context = self.context(caller, caller.mfa_verified_at, glass.is_some());
        let policies = self.policies.current();
        let accounts = self.accounts.list().await?;
        Ok(accounts
            .into_iter()
            .filter_map(|account| {
                let resource = Resource::from(&account);
                let allowed: Vec<&'static str> = ACCOUNT_ACTIONS
                    .iter()
                    .copied()
                    .filter(|a| caller.token.is_none_or(|t| t.covers(a, &account.id)))
                    .filter(|a| policies.decide(&principal, a, &resource, &context).allowed)
                    .collect();
                (!allowed.is_empty()).then_some((account, allowed))
            })
            .collect())
    }
}

/// What carries an authorized action from its intent to its outcome.
struct Run {
    journal: Journal,
    dispatcher: Arc<Dispatcher>,
    clock: SharedClock,
    door: Door,
    meta: RequestMeta,
    actor: Actor,
}

impl Run {
    /// Records the intent (fail closed), has the platform act, records the outcome.
    async fn carry_out(self, screened: Screened) -> Result<Executed, Refusal> {
        let recorded = self.record(screened).await?;
        recorded.execute(&self).await
    }

    /// The intent, in the journal before anything leaves for the platform.
    async fn record(&self, screened: Screened) -> Result<Recorded, Refusal> {
        let Screened(action) = screened;
        let intent = EventKind::ActionIntent {
            action: action_name(&action.action).to_owned(),
            account_id: action.account.id.to_string(),
            platform: action.account.platform.to_string(),
            door: self.door.as_str().to_owned(),
            policies: action.policies.clone(),
            target: target_of(&action.action),
            content: content_of(&action.action),
            break_glass: action.break_glass.clone(),
            review: action
                .approved
                .as_ref()
                .map(|a| ReviewRef { review_id: a.review_id.clone(), approvers: a.approvers.clone() }),
            template: action.template.as_ref().map(|t| t.template_id.clone()),
        };
        let intent = self.journal.record(&self.meta, self.actor.clone(), intent).await?;
        Ok(Recorded { action, intent })
    }
}

impl Recorded {
    /// Has the platform carry out the recorded action, then records the outcome.
    async fn execute(self, run: &Run) -> Result<Executed, Refusal> {
        let Recorded { action, intent } = self;
        let result =
            run.dispatcher.run(&intent, &action.account, &action.action, &run.meta, &run.actor).await;
        let intent_event_id = intent.event_id;
        let outcome = EventKind::ActionOutcome {
            action: action_name(&action.action).to_owned(),
            account_id: action.account.id.to_string(),
            intent_event_id: intent_event_id.to_string(),
            result: match &result {
                Ok(Outcome::Published(p)) => format!("created {}", p.id),
                Ok(Outcome::Comments(c)) => format!("listed {} comments", c.len()),
                Ok(Outcome::Done) => "done".to_owned(),
                Ok(Outcome::Forwarded(f)) => format!("the platform answered {}", f.status),
                Err(e) => format!("failed: {e}"),
            },
            ok: match &result {
                Ok(Outcome::Forwarded(f)) => f.status < 400,
                other => other.is_ok(),
            },
            break_glass: action.break_glass.clone(),
            created: match &result {
                Ok(Outcome::Published(p)) => Some(p.id.clone()),
                Ok(Outcome::Forwarded(f)) => f.created.clone(),
                _ => None,
            },
        };
        if let Err(e) = run.journal.record(&run.meta, run.actor.clone(), outcome).await {
            // The intent is recorded; the platform has acted. Say so loudly.
            tracing::error!(error = %e, intent = %intent_event_id, "cannot record an action's outcome");
        }
        match result {
            Ok(outcome) => Ok(Executed { outcome, audit_event_id: intent_event_id }),
            Err(e) => Err(Refusal::from_dispatch(e, intent_event_id, run.clock.now())),
        }
    }
}

/// The actions taken on an account. `post.edit`, `post.repost` and
/// `post.like` are only taken through the pass-through proxy.
pub const ACCOUNT_ACTIONS: [&str; 9] = [
    "post.publish",
    "post.delete",
    "comment.reply",
    "comment.list",
    "comment.hide",
    "comment.delete",
    "post.edit",
    "post.repost",
    "post.like",
];

/// What an API token may be scoped to: the account actions, and deciding
/// reviews on its accounts (the review command line's credential).
pub const TOKEN_ACTIONS: [&str; ACCOUNT_ACTIONS.len() + 2] = {
    let mut out = [""; ACCOUNT_ACTIONS.len() + 2];
    let mut i = 0;
    while i < ACCOUNT_ACTIONS.len() {
        out[i] = ACCOUNT_ACTIONS[i];
        i += 1;
    }
    out[i] = "review.list";
    out[i + 1] = "review.decide";
    out
};

/// The post or comment an action is about, if any.
fn target_of(action: &Action) -> Option<String> {
    match action {
        Action::Publish(_) => None,
        Action::Delete { post_id } | Action::Comments { post_id } => Some(post_id.clone()),
        Action::Reply { in_reply_to, .. } => Some(in_reply_to.clone()),
        Action::HideComment { comment_id } | Action::DeleteComment { comment_id } => Some(comment_id.clone()),
        Action::Forward(forward) => Some(forward.target()),
    }
}

/// What is about to be published, in full: the record of what the
/// organization said (refused content is never recorded in clear).
fn content_of(action: &Action) -> Option<ContentRecord> {
    let post = match action {
        Action::Publish(post) | Action::Reply { post, .. } => post,
        Action::Forward(f) => return f.content.clone().map(|text| ContentRecord::Full { text }),
        _ => return None,
    };
    let text = match &post.link {
        Some(link) => format!("{}\n{link}", post.text),
        None => post.text.clone(),
    };
    Some(ContentRecord::Full { text })
}

/// What an action would say, for the screen: every word that would leave
/// (text, link, alt text; a pass-through request's recorded content),
/// where it goes, and whether media rides with it. None: it says nothing.
pub fn said(action: &Action) -> Option<(String, Origin, bool)> {
    let (post, origin) = match action {
        Action::Publish(post) => (post, Origin::Post),
        Action::Reply { post, .. } => (post, Origin::Reply),
        Action::Forward(f) => {
            let origin = if f.action == PolicyAction::CommentReply { Origin::Reply } else { Origin::Post };
            return f.content.clone().map(|text| (text, origin, f.media));
        }
        _ => return None,
    };
    let mut text = post.text.clone();
    for extra in
        [post.link.as_ref().map(|l| l.as_str()), post.image.as_ref().and_then(|i| i.description.as_deref())]
            .into_iter()
            .flatten()
    {
        text.push('\n');
        text.push_str(extra);
    }
    Some((text, origin, post.image.is_some()))
}
