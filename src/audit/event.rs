//! The typed event model. Serialized with a fixed field order (serde's
//! declaration order), which the tamper-evident journal will hash.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
pub use crate::domain::Actor;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How a throttled refusal's event counts the refusals it stands for
/// (`crate::audit::throttle`).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// The same refusals from the same source not recorded since the
    /// previous such event.
    pub suppressed: u64,
    /// When the throttle's table was full: the network (`198.51.100.0/24`)
    /// or `other sources` the source was counted under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counted_as: Option<String>,
    /// This event only carries the count of refusals not recorded when their
    /// window closed; it is not itself a refusal (its request fields are the
    /// newest of them).
    #[serde(skip_serializing_if = "is_false")]
    pub summary: bool,
}

/// Where a request came from; attached to every event it causes.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The review an approved action came through.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewRef {
    pub review_id: String,
    /// The reviewers who approved it (user ids), in order.
    pub approvers: Vec<String>,
}

/// What an action was aimed at.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = AuditTarget)]
pub struct Target {
    pub platform: Option<String>,
    pub account: Option<String>,
    pub object_id: Option<String>,
}

/// What happened at the platform, once an allowed action ran.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AuditOutcome {
    pub platform_status: Option<u16>,
    pub object_id: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Decision)]
pub enum AuditDecision {
    Allowed,
    Denied,
    Held,
}

impl AuditDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditDecision::Allowed => "allowed",
            AuditDecision::Denied => "denied",
            AuditDecision::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<AuditDecision> {
        match s {
            "allowed" => Some(AuditDecision::Allowed),
            "denied" => Some(AuditDecision::Denied),
            "held" => Some(AuditDecision::Held),
            _ => None,
        }
    }
}

/// Why a sign-in failed, in words safe to record and to show.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    /// The identity provider reported an error (its error code).
    ProviderError(String),
    StateMismatch,
    NoLoginInProgress,
    CodeExchange,
    InvalidIdToken(String),
    ProviderUnavailable,
    DirectoryRefused(String),
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    IdleTimeout,
    AbsoluteLifetime,
}

/// A change to who may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    UserCreate,
    UserReplace,
    UserPatch,
    UserDelete,
    /// A sign-in identity unlinked from its directory user (an operator's fix
    /// when the IdP re-created the person under a new subject).
    UserUnlink,
    GroupCreate,
    GroupReplace,
    GroupPatch,
    GroupDelete,
    LockPlace,
    LockLift,
    /// A pending user lock (given an email or user name) bound to the
    /// person it matched, at their first sign-in.
    LockBind,
    TrainingRecord,
    TrainingImport,
    AccountConnect,
    AccountDisconnect,
}

impl Change {
    pub fn action(self) -> &'static str {
        match self {
            Change::UserCreate => "directory.user.create",
            Change::UserReplace => "directory.user.replace",
            Change::UserPatch => "directory.user.patch",
            Change::UserDelete => "directory.user.delete",
            Change::UserUnlink => "directory.user.unlink",
            Change::GroupCreate => "directory.group.create",
            Change::GroupReplace => "directory.group.replace",
            Change::GroupPatch => "directory.group.patch",
            Change::GroupDelete => "directory.group.delete",
            Change::LockPlace => "lock.place",
            Change::LockLift => "lock.lift",
            Change::LockBind => "lock.bind",
            Change::TrainingRecord => "training.record",
            Change::TrainingImport => "training.import",
            Change::AccountConnect => "account.connect",
            Change::AccountDisconnect => "account.disconnect",
        }
    }
}

/// What ended a user's access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// SCIM set `active` to false.
    ScimDeactivated,
    /// SCIM deleted the user.
    ScimDeleted,
    /// The user left their last allow-listed group (or its role mapping went).
    GroupRemoved,
    /// An operator or admin revoked the user.
    Revoked,
    /// A lock on the user or on their roles.
    Locked,
    /// Re-checked at the IdP (`oidc-claims` mode), the IdP no longer accepts them.
    IdpRefused,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// `auth.login`: the IdP sign-in finished (the second factor may still be due).
    Login { email: Option<String>, previous_session_ended: bool },
    /// `auth.login`, refused.
    LoginFailed {
        reason: LoginFailure,
        /// Set when the refusal was throttled (a callback with no sign-in in progress).
        #[serde(flatten)]
        tally: Tally,
    },
    /// `auth.mfa.enroll`: a TOTP factor was turned on; `method` says what
    /// allowed it: `invite` (with `invite_id`), `idp_amr` (the IdP vouched
    /// for MFA, with its `amr`) or `open` (the sandbox's trust on first use).
    MfaEnrolled {
        method: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        invite_id: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        amr: Vec<String>,
    },
    /// `auth.mfa.invite.issue`: an administrator issued an enrollment link
    /// (never its token) for `user_id`.
    MfaInviteIssued { invite_id: String, user_id: String, by: String, expires_at: Timestamp },
    /// `auth.mfa.invite.void`: an open enrollment link stopped working
    /// (`reason`: `replaced` by a newer one).
    MfaInviteVoided { invite_id: String, user_id: String, by: String, reason: String },
    /// `auth.mfa.invite.refuse`: an enrollment link was presented and refused
    /// (`reason`: `unknown`, `used`, `voided`, `expired`, `other_user`).
    MfaInviteRefused {
        #[serde(skip_serializing_if = "Option::is_none")]
        invite_id: Option<String>,
        reason: String,
    },
    /// `auth.mfa.verify`: a code (or recovery code) was accepted.
    MfaVerified { method: String },
    /// `auth.mfa.verify`, refused.
    MfaFailed { method: String, reason: String, consecutive_failures: i64 },
    /// `auth.mfa.lock`: too many failures; an admin must reset the factor.
    MfaLocked { consecutive_failures: i64 },
    /// `auth.mfa.reset`: an operator reset the user's factor.
    MfaReset {
        by: String,
        sessions_ended: u64,
        /// The user's API tokens revoked with the factor they were created with.
        #[serde(skip_serializing_if = "is_zero")]
        tokens_revoked: u64,
    },
    /// `auth.logout`
    Logout,
    /// `auth.session.expire`
    SessionExpired { reason: SessionEnd },
    /// `audit.read`: someone searched the journal (reading it is access to possible PHI).
    AuditRead { query: String, returned: usize, format: String },
    /// `audit.read`, refused (the caller is not an auditor).
    AuditReadDenied { query: String },
    /// `audit.export`: an operator exported the journal.
    AuditExport { by: String, query: String, format: String },
    /// `audit.prune`: retention deleted events up to `through`.
    AuditPrune { by: String, through: u64 },
    /// `directory.*`, `lock.*`, `training.*`: a change to who may act, with before and after.
    Change { change: Change, by: String, before: Option<serde_json::Value>, after: Option<serde_json::Value> },
    /// `access.revoke`: a user's access ended, and every session of theirs with it.
    AccessRevoked {
        trigger: Trigger,
        reason: String,
        by: String,
        sessions_ended: u64,
        /// The user's API tokens revoked with them.
        #[serde(skip_serializing_if = "is_zero")]
        tokens_revoked: u64,
        /// Their break-glass grant, ended with them.
        #[serde(skip_serializing_if = "is_zero")]
        breakglass_ended: u64,
    },
    /// `access.gate`, refused: a caller did not pass a gate (the directory
    /// gate, a role, a SCIM token). Its tally counts the same refusals from
    /// the same source not recorded since the previous such event.
    AccessDenied {
        gate: String,
        reason: String,
        #[serde(flatten)]
        tally: Tally,
    },
    /// `access.review`: someone produced the access review (who can act, and how).
    AccessReview { by: String, format: String, rows: usize },
    /// `account.needs_reconnect`: the platform refused a token refresh.
    AccountNeedsReconnect { account_id: String, reason: String },
    /// `vault.unreadable`: an account's credential could not be opened
    /// (damaged, or sealed with a key not in the ring), so nothing was sent.
    CredentialUnreadable { account_id: String, reason: String },
    /// `proxy.credential_withheld`: a platform's answer to a pass-through
    /// request held one of the account's credentials (where: `body`,
    /// `header NAME`), so none of it reached the caller. Never the secret.
    ProxyCredentialWithheld {
        account_id: String,
        action: String,
        target: String,
        platform_status: u16,
        found_in: String,
    },
    /// `policy.reload`: the policies were read again; `loaded` is how many
    /// are now in force, or None when the new set was refused (`problems`)
    /// and the last good set kept serving.
    PolicyReload { trigger: String, loaded: Option<usize>, problems: Vec<String> },
    /// `action.intent` (the action's own name in `action`): written, durably,
    /// before the platform is called.
    ActionIntent {
        action: String,
        account_id: String,
        platform: String,
        door: String,
        /// The policies that allowed it.
        policies: Vec<String>,
        target: Option<String>,
        content: Option<crate::audit::content::ContentRecord>,
        /// The break-glass grant it was taken under.
        #[serde(skip_serializing_if = "Option::is_none")]
        break_glass: Option<String>,
        /// The review that approved it (it was held): its id and approvers.
        #[serde(skip_serializing_if = "Option::is_none")]
        review: Option<ReviewRef>,
        /// The approved reply template it uses.
        #[serde(skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
    /// `review.held`: an action waits for a reviewer. Its content is sealed
    /// in the queue; here only a keyed digest and the findings.
    ReviewHeld {
        review_id: String,
        action: String,
        account_id: String,
        door: String,
        /// The policies that kept it from going out without a reviewer.
        rule: String,
        content: crate::audit::content::ContentRecord,
        /// What approvals must name.
        content_sha256: String,
        approvals_required: i64,
        expires_at: crate::clock::Timestamp,
        /// When it is to be published, once approved.
        #[serde(skip_serializing_if = "Option::is_none")]
        publish_at: Option<crate::clock::Timestamp>,
    },
    /// `post.schedule`: a post the screen let through waits for its time.
    /// Its content is sealed in the queue; here only a keyed digest and
    /// the findings (its intent, when it goes out, records it in full).
    PostScheduled {
        review_id: String,
        action: String,
        account_id: String,
        door: String,
        content: crate::audit::content::ContentRecord,
        content_sha256: String,
        publish_at: crate::clock::Timestamp,
    },
    /// `review.schedule` (approved, to go out at its time),
    /// `review.pending_reschedule` (approved after its time), `review.reschedule`
    /// (a new time), `review.orphan` (its author's access ended),
    /// `review.adopt` (a reviewer re-owned it), `review.claim` (due: one
    /// replica carries it out now), `review.hold_again` (about to go out,
    /// its approvals no longer satisfy the review steps in force),
    /// `review.interrupt` (a claim that never reached its outcome).
    ReviewMoved {
        review_id: String,
        account_id: String,
        author_id: String,
        /// What happened: schedule, pending_reschedule, reschedule, orphan,
        /// adopt, claim, hold_again or interrupt.
        step: String,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        publish_at: Option<crate::clock::Timestamp>,
        reason: String,
    },
    /// `template.approve`: a reviewer approved a reply template, its words in full.
    TemplateApproved {
        template_id: String,
        name: String,
        body: String,
        placeholders: Vec<String>,
        policies: Vec<String>,
    },
    /// `template.retire`: a template can no longer be used.
    TemplateRetired { template_id: String, name: String },
    /// `review.approve`: one reviewer's approval.
    ReviewApproved {
        review_id: String,
        account_id: String,
        author_id: String,
        approvals: i64,
        approvals_required: i64,
        reason: String,
        policies: Vec<String>,
    },
    /// `review.reject`, `review.withdraw`, `review.expire`, `review.fail`
    /// (approved, but its author or the path refused it when it was carried
    /// out): the review ends without publishing; its sealed content is erased.
    ReviewClosed {
        review_id: String,
        account_id: String,
        author_id: String,
        /// "rejected", "withdrawn", "expired" or "failed".
        state: String,
        reason: String,
    },
    /// `review.superseded`: a move of a review recorded just before
    /// (`event_id`, its action `superseded`) did not take effect: another
    /// request moved the review first, and it is `state` now. The journal
    /// never leaves a recorded move standing that the queue did not make.
    ReviewSuperseded {
        review_id: String,
        account_id: String,
        author_id: String,
        /// The recorded move that did not take effect.
        event_id: String,
        /// Its action, e.g. `review.reject`.
        superseded: String,
        /// Where the review stands now.
        state: String,
    },
    /// `action.outcome`: what the platform did with it.
    ActionOutcome {
        action: String,
        account_id: String,
        intent_event_id: String,
        ok: bool,
        result: String,
        /// The break-glass grant it was taken under.
        #[serde(skip_serializing_if = "Option::is_none")]
        break_glass: Option<String>,
        /// The platform's id of the post or reply it created, if it created
        /// one (through an adapter, or a pass-through create call).
        #[serde(skip_serializing_if = "Option::is_none")]
        created: Option<String>,
    },
    /// `action.refused`: a step of the action path refused it.
    ActionRefused {
        action: String,
        account_id: String,
        door: String,
        step: String,
        rule: String,
        reason: String,
        /// The break-glass grant open when it was refused.
        #[serde(skip_serializing_if = "Option::is_none")]
        break_glass: Option<String>,
        /// What it would have said, when the content screen refused or held
        /// it: only a keyed digest and the findings, never the text.
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<crate::audit::content::ContentRecord>,
    },
    /// `account.connect.attempt`: Custodian is about to call the platform to
    /// finish a connection (exchange the code, or sign in with an app
    /// password): recorded before the call, like every action's intent.
    ConnectAttempt { platform: String, by: String },
    /// `account.connect.failed`: an OAuth connection did not complete.
    ConnectFailed { platform: String, by: String, reason: String },
    /// `keys.rotate`: everything sealed was moved to the active key.
    KeysRotated { by: String, active_key: String, resealed: u64, already_current: u64, raced: u64 },
    /// `token.create`: a personal API token was issued (never its secret).
    TokenCreated {
        token_id: String,
        name: String,
        actions: Vec<String>,
        accounts: Vec<String>,
        expires_at: Timestamp,
        policies: Vec<String>,
    },
    /// `token.revoke`: a token was revoked by its owner or an admin.
    TokenRevoked { token_id: String, owner: String, by: String },
    /// `breakglass.open`: emergency access, justified and with a fresh
    /// second factor; recorded before the grant exists.
    BreakglassOpened { grant_id: String, justification: String, expires_at: Timestamp, policies: Vec<String> },
    /// `breakglass.end`: its user ended a grant before its expiry.
    BreakglassEnded {
        grant_id: String,
        /// Why, when the grant did not end by its user's hand: its user is no
        /// longer eligible for break-glass.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// `breakglass.acknowledge`: an admin reviewed another user's use.
    BreakglassAcknowledged { grant_id: String, user_id: String, note: String },
    /// `breakglass.notify.failed`: the webhook did not take the notification
    /// of an opened grant in any of its attempts.
    BreakglassNotifyFailed { grant_id: String, attempts: u32, reason: String },
    /// `comment.hidden` or `comment.queued`: in a comment on one of the
    /// account's posts, the content screen found what policy holds or
    /// blocks. Recorded before the comment is hidden at the platform
    /// (`hidden`), or, where the platform cannot hide it or hiding it failed
    /// (`reason`), queued for a moderator only. Only a keyed digest of what
    /// it said and the findings: never its text, nor who wrote it.
    CommentHeld {
        moderation_id: String,
        account_id: String,
        platform: String,
        post_id: String,
        comment_id: String,
        /// Policy's verdict on the findings: `hold` or `block`.
        verdict: String,
        /// The policies that decided.
        rule: String,
        hidden: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        content: crate::audit::content::ContentRecord,
    },
    /// `comment.restored` or `comment.kept_hidden`: a moderator's decision
    /// on a held comment, recorded before the platform shows it again.
    CommentDecided {
        moderation_id: String,
        account_id: String,
        comment_id: String,
        /// `restored` or `kept_hidden`.
        decision: String,
        reason: String,
        /// The policies that let the moderator decide.
        policies: Vec<String>,
    },
    /// `comment.read`: a moderator opened a held comment's sealed text.
    CommentRead { moderation_id: String, account_id: String, policies: Vec<String> },
    /// `account.unrecorded_post`: one of the account's own posts on the
    /// platform has no action in the journal: it was made outside
    /// Custodian. Once per post; only a keyed digest of its text and what
    /// the screen found in it.
    UnrecordedPost {
        account_id: String,
        platform: String,
        post_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// As the platform gives it.
        #[serde(skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        content: crate::audit::content::ContentRecord,
    },
    /// `account.unrecorded_post.notify.failed`: the webhook did not take the
    /// notification of an unrecorded post in any of its attempts.
    UnrecordedPostNotifyFailed { account_id: String, post_id: String, attempts: u32, reason: String },
    /// `account.audit`: an operator is about to list an account's existing
    /// posts (at most `limit`) and screen them (`custodian accounts audit`).
    AccountAudited { account_id: String, by: String, limit: usize },
    /// `account.audit.decision`: an operator's decision on one of the
    /// account's existing posts (`delete`, `hide` or `keep`), with why; only
    /// a keyed digest of the post's text and the findings.
    AccountAuditDecision {
        account_id: String,
        post_id: String,
        decision: String,
        reason: String,
        by: String,
        content: crate::audit::content::ContentRecord,
    },
}

impl EventKind {
    /// A refusal the throttle counts, before its tally is known.
    pub fn access_denied(gate: &str, reason: String) -> EventKind {
        EventKind::AccessDenied { gate: gate.to_owned(), reason, tally: Tally::default() }
    }

    /// The tally of a kind the throttle counts (`None` for the others).
    pub fn tally_mut(&mut self) -> Option<&mut Tally> {
        match self {
            EventKind::AccessDenied { tally, .. } | EventKind::LoginFailed { tally, .. } => Some(tally),
            _ => None,
        }
    }

    /// The stable dotted action name.
    pub fn action(&self) -> &'static str {
        match self {
            EventKind::Login { .. } | EventKind::LoginFailed { .. } => "auth.login",
            EventKind::MfaEnrolled { .. } => "auth.mfa.enroll",
            EventKind::MfaInviteIssued { .. } => "auth.mfa.invite.issue",
            EventKind::MfaInviteVoided { .. } => "auth.mfa.invite.void",
            EventKind::MfaInviteRefused { .. } => "auth.mfa.invite.refuse",
            EventKind::MfaVerified { .. } | EventKind::MfaFailed { .. } => "auth.mfa.verify",
            EventKind::MfaLocked { .. } => "auth.mfa.lock",
            EventKind::MfaReset { .. } => "auth.mfa.reset",
            EventKind::Logout => "auth.logout",
            EventKind::SessionExpired { .. } => "auth.session.expire",
            EventKind::AuditRead { .. } | EventKind::AuditReadDenied { .. } => "audit.read",
            EventKind::AuditExport { .. } => "audit.export",
            EventKind::AuditPrune { .. } => "audit.prune",
            EventKind::Change { change, .. } => change.action(),
            EventKind::AccessRevoked { .. } => "access.revoke",
            EventKind::AccessDenied { .. } => "access.gate",
            EventKind::AccessReview { .. } => "access.review",
            EventKind::KeysRotated { .. } => "keys.rotate",
            EventKind::TokenCreated { .. } => "token.create",
            EventKind::ConnectAttempt { .. } => "account.connect.attempt",
            EventKind::TokenRevoked { .. } => "token.revoke",
            EventKind::AccountNeedsReconnect { .. } => "account.needs_reconnect",
            EventKind::CredentialUnreadable { .. } => "vault.unreadable",
            EventKind::ProxyCredentialWithheld { .. } => "proxy.credential_withheld",
            EventKind::ConnectFailed { .. } => "account.connect.failed",
            EventKind::PolicyReload { .. } => "policy.reload",
            EventKind::ActionIntent { .. } => "action.intent",
            EventKind::ActionOutcome { .. } => "action.outcome",
            EventKind::ActionRefused { .. } => "action.refused",
            EventKind::ReviewHeld { .. } => "review.held",
            EventKind::ReviewApproved { .. } => "review.approve",
            EventKind::PostScheduled { .. } => "post.schedule",
            EventKind::TemplateApproved { .. } => "template.approve",
            EventKind::TemplateRetired { .. } => "template.retire",
            EventKind::ReviewMoved { step, .. } => match step.as_str() {
                "schedule" => "review.schedule",
                "pending_reschedule" => "review.pending_reschedule",
                "reschedule" => "review.reschedule",
                "orphan" => "review.orphan",
                "adopt" => "review.adopt",
                "claim" => "review.claim",
                "hold_again" => "review.hold_again",
                _ => "review.interrupt",
            },
            EventKind::ReviewClosed { state, .. } => match state.as_str() {
                "rejected" => "review.reject",
                "withdrawn" => "review.withdraw",
                "expired" => "review.expire",
                _ => "review.fail",
            },
            EventKind::ReviewSuperseded { .. } => "review.superseded",
            EventKind::BreakglassOpened { .. } => "breakglass.open",
            EventKind::BreakglassEnded { .. } => "breakglass.end",
            EventKind::BreakglassAcknowledged { .. } => "breakglass.acknowledge",
            EventKind::BreakglassNotifyFailed { .. } => "breakglass.notify.failed",
            EventKind::CommentHeld { hidden: true, .. } => "comment.hidden",
            EventKind::CommentHeld { hidden: false, .. } => "comment.queued",
            EventKind::CommentDecided { decision, .. } => match decision.as_str() {
                "restored" => "comment.restored",
                _ => "comment.kept_hidden",
            },
            EventKind::CommentRead { .. } => "comment.read",
            EventKind::UnrecordedPost { .. } => "account.unrecorded_post",
            EventKind::UnrecordedPostNotifyFailed { .. } => "account.unrecorded_post.notify.failed",
            EventKind::AccountAudited { .. } => "account.audit",
            EventKind::AccountAuditDecision { .. } => "account.audit.decision",
        }
    }

    pub fn decision(&self) -> AuditDecision {
        match self {
            EventKind::LoginFailed { .. }
            | EventKind::MfaFailed { .. }
            | EventKind::MfaLocked { .. }
            | EventKind::MfaInviteRefused { .. }
            | EventKind::AuditReadDenied { .. }
            | EventKind::AccessDenied { .. }
            | EventKind::CredentialUnreadable { .. }
            | EventKind::ProxyCredentialWithheld { .. }
            | EventKind::ConnectFailed { .. }
            | EventKind::PolicyReload { loaded: None, .. }
            | EventKind::ActionRefused { .. }
            | EventKind::BreakglassNotifyFailed { .. }
            | EventKind::UnrecordedPostNotifyFailed { .. }
            | EventKind::ReviewSuperseded { .. }
            | EventKind::ActionOutcome { ok: false, .. } => AuditDecision::Denied,
            EventKind::ReviewHeld { .. } | EventKind::CommentHeld { .. } => AuditDecision::Held,
            _ => AuditDecision::Allowed,
        }
    }
}

/// One journal entry. Field order is the serialization order, and the
/// serialized bytes are the Merkle leaf: never reorder fields of a released
/// version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(
    as = AuditEvent,
    description = "One journal record. `kind` carries the event-specific detail, named by its `type`."
)]
pub struct Event {
    /// Gap-free position in the journal, assigned by the writer.
    pub seq: u64,
    pub event_id: String,
    pub time: Timestamp,
    pub action: &'static str,
    pub decision: AuditDecision,
    pub request: RequestMeta,
    pub actor: Actor,
    pub target: Option<Target>,
    /// The policies behind the decision.
    pub policy_ids: Vec<String>,
    /// What was (or would have been) published, as the journal keeps it
    /// (see the `audit::content` module).
    pub content: Option<crate::audit::content::ContentRecord>,
    pub kind: EventKind,
    pub outcome: Option<AuditOutcome>,
}

impl Event {
    pub fn new(time: Timestamp, meta: &RequestMeta, actor: Actor, kind: EventKind) -> Event {
        Event {
            seq: 0,
            event_id: uuid::Uuid::now_v7().to_string(),
            time,
            action: kind.action(),
            decision: kind.decision(),
            request: meta.clone(),
            actor,
            target: None,
            policy_ids: Vec::new(),
            content: None,
            kind,
            outcome: None,
        }
    }
}
