//! Two-person review: what the content screen (or policy) held waits in
//! the queue until a reviewer who is not its author decides it.
//!
//! ```text
//!  approve {content_sha256, reason}
//!    held? ─► not expired ─► policy (review.decide on the Review: its
//!    author never) ─► the hash names the exact content ─► record
//!    review.approve ─► store the approval ─► enough approvals?
//!      ─► approved ─► the author through the gate again ─► the action
//!         path as the author (policy, screen, intent with the approvers)
//!      ─► published | failed (recorded: review.fail)
//!  reject {reason} / withdraw (its author) / expiry
//!    ─► record review.reject | review.withdraw | review.expire ─► the
//!       sealed content erased (the journal keeps its digest and findings)
//! ```
//!
//! Scheduling shares the queue: a post with a time waits `scheduled` (the
//! screen let it through, or its reviewers approved it before its time)
//! and [`Reviews::tick`] carries it out when it is due, claimed by exactly
//! one replica, through the whole path again as its author. The same tick
//! expires what waited too long, marks claims that never finished
//! `interrupted` (never retried), and orphans the waiting posts of authors
//! whose access ended, for a reviewer to re-own.
//!
//! Every refusal is recorded; every transition is recorded before it is
//! stored. The journal's writer commits on its own, so a transition's
//! record and its conditional update cannot share a transaction: when the
//! update finds the review already moved by another request, the move's
//! record is followed by `review.superseded`, naming it, so the journal
//! never claims a transition that did not take effect.

use std::sync::Arc;

use serde::Serialize;

use crate::action::{ActionPath, Approved, Door, Gated, Kind, Refusal, Step};
use crate::audit::{Actor, EventKind, Journal, RequestMeta};
use crate::auth::Identity;
use crate::clock::{SharedClock, Timestamp};
use crate::directory::actor_of;
use crate::domain::{Action, EventId, PolicyAction};
use crate::policy::Resource;
use crate::queue::{Queue, Review, ReviewFilter, ReviewState};

pub use crate::queue::{content_sha256, ReviewConfig};

const REASON_CHARS: usize = 2000;
/// The most reviews one listing returns.
pub const LIST_LIMIT: i64 = 500;
/// How many due posts one tick carries out, at most.
const CLAIM_BATCH: i64 = 20;
/// A scheduled post not claimed within this long of its time (every
/// replica was down) is not published late: it waits for a new time.
const MISSED_AFTER: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// A claim older than this that never reached its outcome was cut short
/// (its process stopped): platform calls time out long before.
const STALE_CLAIM: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The rule of the answer to a move another request made first.
const SUPERSEDED: &str = "review-moved-meanwhile";
/// How often an approval that satisfied its steps reads the review again
/// when other requests keep moving it, before it gives up.
const RELEASE_TRIES: usize = 3;

/// A move of a review, recorded, that the queue has yet to make.
struct Noted {
    event_id: EventId,
    action: &'static str,
}

/// A review, with its content for those who may read it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewDetail)]
pub struct Detail {
    #[serde(flatten)]
    pub review: Review,
    /// What the action would say, as the screen read it (the findings'
    /// offsets point into it); null once it left the queue.
    #[schema(required = true)]
    pub content: Option<String>,
}

/// What a decision did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewDecision)]
pub struct Decided {
    pub review: Review,
    /// When the approval carried it out: the platform's post id, or why it failed.
    #[schema(required = true)]
    pub outcome: Option<String>,
}

#[derive(Clone)]
pub struct Reviews {
    queue: Queue,
    path: Arc<ActionPath>,
    identity: Identity,
    journal: Journal,
    clock: SharedClock,
    /// This replica, as its claims name it.
    node: String,
}

/// What one [`Reviews::tick`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ticked {
    pub published: usize,
    pub failed: usize,
    pub expired: usize,
    pub interrupted: usize,
    pub orphaned: usize,
    /// Due, but their approvals no longer satisfy the review steps in
    /// force: held for a reviewer again.
    pub held_again: usize,
}

impl Reviews {
    pub const DECIDE: &'static str = PolicyAction::ReviewDecide.as_str();
    pub const LIST: &'static str = PolicyAction::ReviewList.as_str();
    pub const WITHDRAW: &'static str = PolicyAction::ReviewWithdraw.as_str();

    pub fn new(
        queue: Queue,
        path: Arc<ActionPath>,
        identity: Identity,
        journal: Journal,
        clock: SharedClock,
    ) -> Self {
        let node = format!("replica_{}", &crate::identity::session::random_token()[..12]);
        Reviews { queue, path, identity, journal, clock, node }
    }

    /// The queue, filtered. Reviewers (policy `review.list`) see every
    /// review; anyone else only their own.
    pub async fn list(&self, caller: &Gated<'_>, mut filter: ReviewFilter) -> Result<Vec<Review>, Refusal> {
        self.expire_due().await?;
        if !self.path.allows_on(caller, Self::LIST, None) {
            filter.author_id = Some(caller.user().id.clone());
        }
        let mut reviews = self.queue.list(&filter, LIST_LIMIT).await?;
        reviews.retain(|r| self.may_read(caller, r));
        Ok(reviews)
    }

    /// One review with its content, for a reviewer or its author.
    pub async fn get(&self, caller: &Gated<'_>, id: &str) -> Result<Detail, Refusal> {
        self.expire_due().await?;
        let review = self.readable(caller, id).await?;
        let content = match self.queue.open(id).await? {
            Some(action) => said(&action),
            None => None,
        };
        Ok(Detail { review, content })
    }

    async fn readable(&self, caller: &Gated<'_>, id: &str) -> Result<Review, Refusal> {
        let review = self.queue.get(id).await?;
        match review {
            Some(r) if self.may_read(caller, &r) => Ok(r),
            // Someone else's review is not there for the caller.
            _ => Err(Refusal::not_found(format!("there is no review {id:?} of yours"))),
        }
    }

    /// Whether `caller` may read `review`: its author, or a reviewer
    /// (policy `review.list`); through an API token, only a reviewer whose
    /// token names `review.list` on the review's account.
    fn may_read(&self, caller: &Gated<'_>, review: &Review) -> bool {
        let reviewer = self.path.allows_on(caller, Self::LIST, Some(&review.account_id));
        reviewer || (caller.api_token().is_none() && review.author_id == caller.user().id)
    }

    /// One reviewer's approval of the exact content `content_sha256` names;
    /// with enough approvals, the action is carried out as its author.
    pub async fn approve(
        &self,
        caller: &Gated<'_>,
        id: &str,
        content_sha256: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Decided, Refusal> {
        let review = self.decidable(caller, id).await?;
        let reason = self.reason(caller, reason, false).await?;
        let Some(sha) = content_sha256.filter(|s| !s.is_empty()) else {
            let refusal = Refusal::bad_request(
                "content_sha256 is required: the SHA-256 of the content you reviewed, from the review".into(),
            );
            return Err(self.path.refuse(caller, Self::DECIDE, &review.account_id, refusal).await);
        };
        if sha != review.content_sha256 {
            let refusal = Refusal::new(
                Kind::Conflict,
                Step::Authorize,
                "review-content",
                format!("review {id} holds other content than the content_sha256 you sent names"),
                "Reload the review and review its current content; approve it with the content_sha256 shown there.",
            );
            return Err(self.path.refuse(caller, Self::DECIDE, &review.account_id, refusal).await);
        }
        let me = caller.user().id.clone();
        let tags = self.tags(&review).await?;
        if let Some(why) = self.queue.config().outsider(&tags, caller.groups()) {
            let refusal = Refusal::new(
                Kind::Forbidden,
                Step::Authorize,
                "review-steps",
                why,
                "Ask a reviewer in one of those groups to decide it.",
            );
            return Err(self.path.refuse(caller, Self::DECIDE, &review.account_id, refusal).await);
        }
        if review.approvals.iter().any(|a| a.reviewer_id == me) {
            let refusal =
                Refusal::conflict(format!("you already approved review {id}: it needs another reviewer"));
            return Err(self.path.refuse(caller, Self::DECIDE, &review.account_id, refusal).await);
        }
        let approvals = review.approvals.len() as i64 + 1;
        let event = EventKind::ReviewApproved {
            review_id: id.to_owned(),
            account_id: review.account_id.clone(),
            author_id: review.author_id.clone(),
            approvals,
            approvals_required: review.approvals_required,
            reason: reason.clone(),
            policies: vec!["reviewers-decide-reviews".into()],
        };
        let meta = (caller.actor().clone(), caller.meta().clone());
        let noted = self.note(&meta, event).await?;
        let took = self.queue.approve(id, &me, caller.groups(), &reason, sha, self.clock.now()).await?;
        self.applied(&meta, &review, noted, took).await?;
        self.release(caller, id, &tags).await
    }

    /// A held review whose approvals now satisfy its steps goes on: out at
    /// once, or to wait for its time. It is read again after the approval
    /// was stored, and each move is bound to what was read (a new time
    /// given meanwhile is the one it waits for, never the time read
    /// before); a review another request moved first is read again. Not
    /// satisfied yet, or released (or decided) by another request: as it is.
    async fn release(&self, caller: &Gated<'_>, id: &str, tags: &[String]) -> Result<Decided, Refusal> {
        let meta = (caller.actor().clone(), caller.meta().clone());
        for _ in 0..RELEASE_TRIES {
            let review = self.current(id).await?;
            if review.state != ReviewState::Held || !self.queue.config().satisfied(tags, &review.approvals) {
                return Ok(Decided { review, outcome: None });
            }
            let now = self.clock.now();
            let by = self.queue.config().deciders(tags, &review.approvals);
            let Some(at) = review.publish_at else {
                if !self.queue.claim(id, ReviewState::Held, &self.node, &by, now).await? {
                    continue;
                }
                let review = self.current(id).await?;
                let outcome = self.carry_out(caller.meta(), &review).await?;
                return Ok(Decided { review: self.current(id).await?, outcome: Some(outcome) });
            };
            let (to, step, why) = if at.millis() > now.millis() {
                (ReviewState::Scheduled, "schedule", "approved: it goes out at its time")
            } else {
                (
                    ReviewState::PendingReschedule,
                    "pending_reschedule",
                    "approved after its time: it waits for a new time, it is not published late",
                )
            };
            let noted = self.moved(&meta, &review, to, step, Some(at), why).await?;
            let took = self.queue.release_at(id, to, at, &by, now).await?;
            if unless_superseded(self.applied(&meta, &review, noted, took).await)? {
                return Ok(Decided { review: self.current(id).await?, outcome: None });
            }
        }
        Err(Refusal::new(
            Kind::Conflict,
            Step::Record,
            SUPERSEDED,
            format!("review {id} kept moving while your approval released it; your approval stands"),
            "Read the review again: it may wait for a new time, or for another reviewer.",
        ))
    }

    /// The approved action, as its author, through the whole path.
    /// `review` is claimed (`approved`) by this replica. A review held for
    /// reviewers once goes out only if the approvals it has satisfy the
    /// review steps in force now (they may have been tightened, or its
    /// account's tags changed, since it was approved), and only those that
    /// count are its approvers; otherwise it is held again.
    async fn carry_out(&self, meta: &RequestMeta, review: &Review) -> Result<String, Refusal> {
        let tags = self.tags(review).await?;
        let steps = self.queue.config();
        if review.approvals_required > 0 && !steps.satisfied(&tags, &review.approvals) {
            return self.hold_again(review, &tags).await;
        }
        let approvers: Vec<String> =
            steps.counting(&tags, &review.approvals).iter().map(|a| a.reviewer_id.clone()).collect();
        let Some(action) = self.queue.open(&review.id).await? else {
            return Err(Refusal::conflict(format!("review {} has no content left to carry out", review.id)));
        };
        let token = match &review.token_id {
            Some(id) => Some(self.identity.directory.tokens.get(id).await?),
            None => None,
        };
        let now = self.clock.now();
        let token_gone = match token {
            None => None,
            Some(None) => Some("the API token it came through no longer exists".to_owned()),
            Some(Some(t)) if t.revoked_at.is_some() => {
                Some(format!("the API token it came through ({}) was revoked", t.id))
            }
            Some(Some(t)) if t.expires_at <= now => {
                Some(format!("the API token it came through ({}) expired", t.id))
            }
            Some(Some(t))
                if !t.covers(&review.action, &crate::domain::AccountId::new(review.account_id.as_str())) =>
            {
                Some(format!("the API token it came through ({}) no longer covers {}", t.id, review.action))
            }
            Some(Some(_)) => None,
        };
        let result = match self.identity.users.get(&review.author_id).await? {
            _ if let Some(why) = token_gone => Err(why),
            None => Err(format!("its author {} is no longer a user", review.author_id)),
            Some(author) => match self.identity.directory.admit(author).await {
                Err(crate::directory::GateError::Denied(d)) => {
                    Err(format!("its author may no longer act: {d}"))
                }
                Err(crate::directory::GateError::Storage(e)) => return Err(e.into()),
                Ok(admitted) => {
                    let door = door_of(&review.door);
                    let actor = actor_of(admitted.user());
                    let gated = Gated::new(&admitted, actor, meta.clone(), door, review.mfa_verified_at);
                    let approved = Approved {
                        review_id: review.id.clone(),
                        content_sha256: review.content_sha256.clone(),
                        approvers,
                    };
                    match self.path.perform_approved(&gated, &review.account_id, action, approved).await {
                        Ok(done) => Ok(describe(&done.outcome)),
                        Err(refusal) => Err(refusal.reason.clone()),
                    }
                }
            },
        };
        let now = self.clock.now();
        match result {
            Ok(outcome) => {
                self.queue
                    .transition(&review.id, ReviewState::Approved, ReviewState::Published, None, None, now)
                    .await?;
                Ok(outcome)
            }
            Err(why) => {
                self.close(&system(), review, ReviewState::Approved, ReviewState::Failed, &why, None).await?;
                Ok(format!("not published: {why}"))
            }
        }
    }

    /// A claimed review its approvals no longer release, held again for
    /// the approvals the review steps in force ask: recorded, then stored.
    /// What the caller is told.
    async fn hold_again(&self, review: &Review, tags: &[String]) -> Result<String, Refusal> {
        let config = self.queue.config();
        let needed = config.approvals_for(tags);
        let why = format!(
            "its approvals no longer satisfy the review steps in force for its account (at least {needed} \
             approval(s), from the groups they name): it waits for a reviewer again"
        );
        let noted =
            self.moved(&system(), review, ReviewState::Held, "hold_again", review.publish_at, &why).await?;
        let expires_at = self.clock.now().plus(config.expire_after);
        let took = self.queue.hold_again(&review.id, needed, expires_at, &why).await?;
        self.applied(&system(), review, noted, took).await?;
        Ok(format!("not published: {why}"))
    }

    /// A reviewer's rejection, with a reason.
    pub async fn reject(
        &self,
        caller: &Gated<'_>,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Decided, Refusal> {
        let review = self.decidable(caller, id).await?;
        let reason = self.reason(caller, reason, true).await?;
        let by = caller.user().id.clone();
        let meta = (caller.actor().clone(), caller.meta().clone());
        self.close(&meta, &review, ReviewState::Held, ReviewState::Rejected, &reason, Some(&by)).await?;
        Ok(Decided { review: self.current(id).await?, outcome: None })
    }

    /// Its author takes a held action back.
    pub async fn withdraw(&self, caller: &Gated<'_>, id: &str) -> Result<Decided, Refusal> {
        let review = self.readable(caller, id).await?;
        if review.author_id != caller.user().id {
            let refusal = Refusal::new(
                Kind::Forbidden,
                Step::Authorize,
                "author-withdraws",
                format!("only its author may withdraw review {id}"),
                "Reject it instead, with a reason.",
            );
            return Err(self.path.refuse(caller, Self::WITHDRAW, &review.account_id, refusal).await);
        }
        let withdrawable = [ReviewState::Held, ReviewState::Scheduled, ReviewState::PendingReschedule];
        self.still_in(caller, &review, Self::WITHDRAW, &withdrawable).await?;
        let by = caller.user().id.clone();
        let meta = (caller.actor().clone(), caller.meta().clone());
        let why = "withdrawn by its author";
        self.close(&meta, &review, review.state, ReviewState::Withdrawn, why, Some(&by)).await?;
        Ok(Decided { review: self.current(id).await?, outcome: None })
    }

    /// Expires every held review whose time ran out (recorded).
    pub async fn expire_due(&self) -> Result<usize, Refusal> {
        let due = self.queue.due_to_expire(self.clock.now()).await?;
        for id in &due {
            if let Some(review) = self.queue.get(id).await?.filter(|r| r.state.waiting()) {
                let why = match review.state {
                    ReviewState::Orphaned => "nobody re-owned it in time",
                    ReviewState::PendingReschedule => "nobody gave it a new time in time",
                    _ => "no reviewer decided it in time",
                };
                let to = ReviewState::Expired;
                unless_superseded(self.close(&system(), &review, review.state, to, why, None).await)?;
            }
        }
        Ok(due.len())
    }

    /// A new time for a post that waits: its author's, or a reviewer's.
    /// A post approved after its time (`pending_reschedule`) is scheduled
    /// again; the approval stands (it names the content, not the time).
    pub async fn reschedule(
        &self,
        caller: &Gated<'_>,
        id: &str,
        publish_at: Timestamp,
    ) -> Result<Review, Refusal> {
        self.expire_due().await?;
        let review = self.readable(caller, id).await?;
        let movable = [ReviewState::Held, ReviewState::Scheduled, ReviewState::PendingReschedule];
        self.still_in(caller, &review, Self::WITHDRAW, &movable).await?;
        if let Some(problem) = self.queue.config().schedule_problem(self.clock.now(), publish_at) {
            let refusal = Refusal::bad_schedule(problem);
            return Err(self.path.refuse(caller, Self::WITHDRAW, &review.account_id, refusal).await);
        }
        let to = match review.state {
            ReviewState::Held => ReviewState::Held,
            _ => ReviewState::Scheduled,
        };
        let meta = (caller.actor().clone(), caller.meta().clone());
        let why = format!("a new time, by {}", caller.user().id);
        let noted = self.moved(&meta, &review, to, "reschedule", Some(publish_at), &why).await?;
        let took = self.queue.reschedule(id, (review.state, review.publish_at), to, publish_at).await?;
        self.applied(&meta, &review, noted, took).await?;
        self.current(id).await
    }

    /// A reviewer re-owns a post orphaned when its author's access ended:
    /// it is theirs now, held again for another reviewer (whose approval
    /// it needs afresh), and it goes out as them.
    pub async fn adopt(&self, caller: &Gated<'_>, id: &str) -> Result<Review, Refusal> {
        self.expire_due().await?;
        let review = self.readable(caller, id).await?;
        self.still_in(caller, &review, Self::DECIDE, &[ReviewState::Orphaned]).await?;
        self.path.permit_on(caller, Self::DECIDE, &review.account_id, self.resource(&review).await?).await?;
        // It goes out as its new owner: they must be allowed the action itself.
        match self.path.account(&review.account_id).await? {
            Some(account) => self.path.permit(caller, &review.action, Some(&account)).await?,
            None => return Err(Refusal::unknown_account(&review.account_id)),
        };
        let me = caller.user().id.clone();
        let meta = (caller.actor().clone(), caller.meta().clone());
        let why = format!("re-owned by {me}; it needs a reviewer again");
        let noted = self.moved(&meta, &review, ReviewState::Held, "adopt", review.publish_at, &why).await?;
        let expires_at = self.clock.now().plus(self.queue.config().expire_after);
        let took = self.queue.adopt(id, &me, expires_at, review.publish_at).await?;
        self.applied(&meta, &review, noted, took).await?;
        self.current(id).await
    }

    /// One round of the queue's own work, as each replica runs it every
    /// `review.tick`: expiries; claims that never finished marked
    /// `interrupted`; the waiting posts of authors whose access ended
    /// orphaned; then the due posts this replica claims, carried out.
    pub async fn tick(&self) -> Result<Ticked, Refusal> {
        let mut done = Ticked { expired: self.expire_due().await?, ..Ticked::default() };
        let now = self.clock.now();
        let stale = Timestamp(now.millis() - STALE_CLAIM.as_millis() as i64);
        for id in self.queue.stale_claims(stale).await? {
            if let Some(review) = self.queue.get(&id).await? {
                let why = "Custodian stopped while carrying it out: the journal's action.intent for this \
                           review (if any) shows whether it reached the platform; it is not retried";
                let from = ReviewState::Approved;
                if self.move_on_its_own(&review, from, ReviewState::Interrupted, "interrupt", why).await? {
                    done.interrupted += 1;
                }
            }
        }
        done.orphaned = self.orphan_unadmitted().await?;
        let since = Timestamp(now.millis() - MISSED_AFTER.as_millis() as i64);
        for id in self.queue.missed(since).await? {
            let Some(review) = self.queue.get(&id).await? else { continue };
            let why = "its time passed while no replica was running: it waits for a new time, it is not published late";
            let (from, to) = (ReviewState::Scheduled, ReviewState::PendingReschedule);
            self.move_on_its_own(&review, from, to, "pending_reschedule", why).await?;
        }
        // One claim at a time, each carried out before the next is taken, so
        // that no claim waits behind others long enough to look cut short;
        // one post's failure does not stop the others.
        for _ in 0..CLAIM_BATCH {
            let Some(id) = self.queue.claim_due(self.clock.now(), since, &self.node).await? else {
                break;
            };
            match self.carry_out_due(&id).await {
                Ok(ReviewState::Published) => done.published += 1,
                Ok(ReviewState::Held) => done.held_again += 1,
                Ok(_) => done.failed += 1,
                Err(refusal) => {
                    done.failed += 1;
                    tracing::error!(review = %id, reason = %refusal.reason, "a due post could not be carried out; its claim will be marked interrupted");
                }
            }
        }
        Ok(done)
    }

    /// A due post this replica claimed: recorded, then carried out.
    /// Where it stands then.
    async fn carry_out_due(&self, id: &str) -> Result<ReviewState, Refusal> {
        let review = self.current(id).await?;
        let now = self.clock.now();
        let why =
            format!("due at {}: carried out by {}", review.publish_at.unwrap_or(now).rfc3339(), self.node);
        self.moved(&system(), &review, ReviewState::Approved, "claim", review.publish_at, &why).await?;
        self.carry_out(&RequestMeta::default(), &review).await?;
        Ok(self.current(id).await?.state)
    }

    /// Runs [`Reviews::tick`] every `review.tick`, for as long as the process runs.
    pub fn spawn_ticks(&self) -> tokio::task::JoinHandle<()> {
        let reviews = self.clone();
        let every = self.queue.config().tick;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if let Err(refusal) = reviews.tick().await {
                    tracing::error!(reason = %refusal.reason, "the review queue's tick failed; it runs again");
                }
            }
        })
    }

    /// Orphans the waiting posts of every author the gate no longer
    /// admits (revoked, deprovisioned, locked out, training lapsed),
    /// recorded. How many.
    pub async fn orphan_unadmitted(&self) -> Result<usize, Refusal> {
        let mut orphaned = 0;
        for author in self.queue.waiting_authors().await? {
            let why = match self.identity.users.get(&author).await? {
                None => "its author is no longer a user".to_owned(),
                Some(user) => match self.identity.directory.admit(user).await {
                    Ok(_) => continue,
                    Err(crate::directory::GateError::Denied(d)) => format!("its author's access ended: {d}"),
                    Err(crate::directory::GateError::Storage(e)) => return Err(e.into()),
                },
            };
            for id in self.queue.waiting_by(&author).await? {
                let Some(review) = self.queue.get(&id).await? else { continue };
                if self.move_on_its_own(&review, review.state, ReviewState::Orphaned, "orphan", &why).await? {
                    let now = self.clock.now();
                    // A reviewer gets the usual time to re-own it.
                    self.queue.extend(&id, now.plus(self.queue.config().expire_after)).await?;
                    orphaned += 1;
                }
            }
        }
        Ok(orphaned)
    }

    /// Records a move that keeps the review in the queue (`review.<step>`),
    /// for the queue to make next ([`Reviews::applied`]).
    async fn moved(
        &self,
        who: &(Actor, RequestMeta),
        review: &Review,
        to: ReviewState,
        step: &str,
        publish_at: Option<Timestamp>,
        reason: &str,
    ) -> Result<Noted, Refusal> {
        let event = EventKind::ReviewMoved {
            review_id: review.id.clone(),
            account_id: review.account_id.clone(),
            author_id: review.author_id.clone(),
            step: step.to_owned(),
            state: to.as_str().to_owned(),
            publish_at,
            reason: reason.to_owned(),
        };
        self.note(who, event).await
    }

    /// A move the queue makes on its own (as Custodian, `why` kept as the
    /// review's reason): recorded, then made from `from`. Whether it took
    /// effect; one another request made first is recorded as superseded.
    async fn move_on_its_own(
        &self,
        review: &Review,
        from: ReviewState,
        to: ReviewState,
        step: &str,
        why: &str,
    ) -> Result<bool, Refusal> {
        let noted = self.moved(&system(), review, to, step, review.publish_at, why).await?;
        let took = self.queue.transition(&review.id, from, to, None, Some(why), self.clock.now()).await?;
        unless_superseded(self.applied(&system(), review, noted, took).await)
    }

    /// Records a move of a review, before the queue makes it.
    async fn note(&self, (actor, meta): &(Actor, RequestMeta), event: EventKind) -> Result<Noted, Refusal> {
        let action = event.action();
        let receipt = self.journal.record(meta, actor.clone(), event).await?;
        Ok(Noted { event_id: receipt.event_id, action })
    }

    /// What became of a recorded move: `took` is what the queue's
    /// conditional update said. A move another request made first (the
    /// review is elsewhere now) did not take effect: `review.superseded`
    /// says so, naming the move's event, and the caller is answered 409.
    async fn applied(
        &self,
        (actor, meta): &(Actor, RequestMeta),
        review: &Review,
        noted: Noted,
        took: bool,
    ) -> Result<(), Refusal> {
        if took {
            return Ok(());
        }
        let state = match self.queue.get(&review.id).await? {
            Some(now) => now.state.as_str(),
            None => "gone",
        };
        let event = EventKind::ReviewSuperseded {
            review_id: review.id.clone(),
            account_id: review.account_id.clone(),
            author_id: review.author_id.clone(),
            event_id: noted.event_id.to_string(),
            superseded: noted.action.to_owned(),
            state: state.to_owned(),
        };
        self.journal.record(meta, actor.clone(), event).await?;
        Err(Refusal::new(
            Kind::Conflict,
            Step::Record,
            SUPERSEDED,
            format!(
                "review {} is {state} now: another request moved it first, so this {} did not take effect",
                review.id, noted.action
            ),
            "Read the review again, and decide from where it stands now.",
        ))
    }

    /// What policy sees of a review.
    async fn resource(&self, review: &Review) -> Result<Resource, Refusal> {
        Ok(Resource::Review {
            id: review.id.clone(),
            author: review.author_id.clone(),
            account_id: review.account_id.clone(),
            account_tags: self.tags(review).await?,
        })
    }

    /// The tags of the account a review is on.
    async fn tags(&self, review: &Review) -> Result<Vec<String>, Refusal> {
        Ok(match self.path.account(&review.account_id).await? {
            Some(account) => account.tags,
            None => Vec::new(),
        })
    }

    /// A held review `caller` may decide (policy `review.decide` on it:
    /// never its author), or the refusal, recorded.
    async fn decidable(&self, caller: &Gated<'_>, id: &str) -> Result<Review, Refusal> {
        self.expire_due().await?;
        let Some(review) = self.queue.get(id).await? else {
            let refusal = Refusal::not_found(format!("there is no review {id:?}"));
            return Err(self.path.refuse(caller, Self::DECIDE, "custodian", refusal).await);
        };
        self.path.permit_on(caller, Self::DECIDE, &review.account_id, self.resource(&review).await?).await?;
        self.still_held(caller, &review, Self::DECIDE).await?;
        Ok(review)
    }

    async fn still_held(&self, caller: &Gated<'_>, review: &Review, action: &str) -> Result<(), Refusal> {
        self.still_in(caller, review, action, &[ReviewState::Held]).await
    }

    /// The refusal, recorded, unless `review` is in one of `states`.
    async fn still_in(
        &self,
        caller: &Gated<'_>,
        review: &Review,
        action: &str,
        states: &[ReviewState],
    ) -> Result<(), Refusal> {
        if states.contains(&review.state) {
            return Ok(());
        }
        let wanted: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let refusal = Refusal::conflict(format!(
            "review {} is {}, not {}",
            review.id,
            review.state.as_str(),
            wanted.join(" or ")
        ));
        Err(self.path.refuse(caller, action, &review.account_id, refusal).await)
    }

    /// A decision's reason: required for a rejection, at most 2000 characters.
    async fn reason(
        &self,
        caller: &Gated<'_>,
        reason: Option<&str>,
        required: bool,
    ) -> Result<String, Refusal> {
        let reason = reason.map(str::trim).unwrap_or("");
        let problem = if required && reason.is_empty() {
            Some("a reason is required: the author reads it".to_owned())
        } else if reason.chars().count() > REASON_CHARS {
            Some(format!("the reason is longer than {REASON_CHARS} characters"))
        } else {
            None
        };
        match problem {
            None => Ok(reason.to_owned()),
            Some(p) => {
                Err(self.path.refuse(caller, Self::DECIDE, "custodian", Refusal::bad_request(p)).await)
            }
        }
    }

    /// Records the review's end, then stores it (the sealed content erased).
    async fn close(
        &self,
        who: &(Actor, RequestMeta),
        review: &Review,
        from: ReviewState,
        to: ReviewState,
        reason: &str,
        by: Option<&str>,
    ) -> Result<(), Refusal> {
        let event = EventKind::ReviewClosed {
            review_id: review.id.clone(),
            account_id: review.account_id.clone(),
            author_id: review.author_id.clone(),
            state: to.as_str().to_owned(),
            reason: reason.to_owned(),
        };
        let noted = self.note(who, event).await?;
        let took = self.queue.transition(&review.id, from, to, by, Some(reason), self.clock.now()).await?;
        self.applied(who, review, noted, took).await
    }

    async fn current(&self, id: &str) -> Result<Review, Refusal> {
        self.queue.get(id).await?.ok_or_else(|| Refusal::not_found(format!("there is no review {id:?}")))
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// For the queue's own work: whether a recorded move took effect; one
/// another request made first (recorded as superseded) is no failure.
fn unless_superseded(applied: Result<(), Refusal>) -> Result<bool, Refusal> {
    match applied {
        Ok(()) => Ok(true),
        Err(refusal) if refusal.rule == SUPERSEDED => Ok(false),
        Err(refusal) => Err(refusal),
    }
}

/// Custodian itself, for what happens on its own (expiry).
fn system() -> (Actor, RequestMeta) {
    (Actor { user_id: Some("custodian".into()), ..Actor::default() }, RequestMeta::default())
}

fn door_of(door: &str) -> Door {
    match door {
        "ui" => Door::Ui,
        "token" => Door::Token,
        "proxy" => Door::Proxy,
        _ => Door::Api,
    }
}

fn describe(outcome: &crate::platforms::dispatch::Outcome) -> String {
    use crate::platforms::dispatch::Outcome;
    match outcome {
        Outcome::Published(p) => format!("published {}", p.id),
        Outcome::Forwarded(f) => format!("the platform answered {}", f.status),
        Outcome::Comments(_) | Outcome::Done => "done".into(),
    }
}

/// What a held action would say, for the reviewer: as the screen read it.
fn said(action: &Action) -> Option<String> {
    crate::action::said(action).map(|(text, _, _)| text)
}
