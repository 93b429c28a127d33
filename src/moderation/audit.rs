//! The account audit (`custodian accounts audit ACCOUNT`): every post and
//! reply of the account's the platform lists, as far back as it lists
//! them, read through the content screen, with policy's verdict on each;
//! and the operator's decision on one of them (delete, hide or keep, with
//! a reason), recorded with the post's keyed digest and the findings only.
//! Carrying a deletion out is an action like any other: it takes the
//! action path (`DELETE /api/v1/accounts/{account}/posts/{post}`).

use serde::Serialize;

use crate::audit::{ChangedBy, EventKind, Receipt};
use crate::domain::{Account, Finding, Verdict};
use crate::platforms::{AccountPost, Operation};
use crate::screen::Origin;

use super::{Moderation, ModerationError};

/// One of the account's posts, screened.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedPost {
    pub post: AccountPost,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// What an operator decides about one of the account's existing posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostDecision {
    /// It should go: delete it through the action path.
    Delete,
    /// It should not be seen: hide it (or take it down) at the platform.
    Hide,
    /// It may stay.
    Keep,
}

impl PostDecision {
    pub const ALL: [PostDecision; 3] = [PostDecision::Delete, PostDecision::Hide, PostDecision::Keep];

    pub fn parse(s: &str) -> Option<PostDecision> {
        PostDecision::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PostDecision::Delete => "delete",
            PostDecision::Hide => "hide",
            PostDecision::Keep => "keep",
        }
    }
}

/// The longest a decision's reason may be.
const REASON_CHARS: usize = 2000;

impl Moderation {
    /// Lists and screens the account's posts (at most `limit`), recording
    /// first that `by` audits it (`account.audit`).
    pub async fn audit_account(
        &self,
        account_id: &str,
        by: &ChangedBy,
        limit: usize,
    ) -> Result<Vec<AuditedPost>, ModerationError> {
        let account = self.audited(account_id).await?;
        let kind =
            EventKind::AccountAudited { account_id: account.id.to_string(), by: by.name.clone(), limit };
        self.journal.record(&by.meta, by.actor.clone(), kind).await?;
        let posts = self.all_posts(&account, by, limit, |_| false).await?;
        Ok(posts.into_iter().map(|post| self.audited_post(&account, post)).collect())
    }

    /// Records `by`'s decision on the account's post `post_id` (found among
    /// the first `limit` the platform lists), with the post's keyed digest
    /// and the findings.
    pub async fn record_audit_decision(
        &self,
        account_id: &str,
        post_id: &str,
        decision: PostDecision,
        reason: &str,
        by: &ChangedBy,
        limit: usize,
    ) -> Result<(AuditedPost, Receipt), ModerationError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_CHARS {
            return Err(ModerationError::Invalid(format!(
                "a reason of 1 to {REASON_CHARS} characters is required"
            )));
        }
        let account = self.audited(account_id).await?;
        let posts = self.all_posts(&account, by, limit, |p| p.id == post_id).await?;
        let Some(post) = posts.into_iter().find(|p| p.id == post_id) else {
            return Err(ModerationError::Invalid(format!(
                "the platform lists no post {post_id:?} among the account's newest {limit}"
            )));
        };
        let audited = self.audited_post(&account, post);
        let kind = EventKind::AccountAuditDecision {
            account_id: account.id.to_string(),
            post_id: post_id.to_owned(),
            decision: decision.as_str().to_owned(),
            reason: reason.to_owned(),
            by: by.name.clone(),
            content: self.journal.withheld(&audited.post.text, &audited.findings),
        };
        let receipt = self.journal.record(&by.meta, by.actor.clone(), kind).await?;
        Ok((audited, receipt))
    }

    /// The account, if its platform lists its posts.
    async fn audited(&self, account_id: &str) -> Result<Account, ModerationError> {
        let account = self
            .accounts
            .get(account_id)
            .await?
            .ok_or_else(|| ModerationError::NoAccount(account_id.to_owned()))?;
        if !self.inbound.supports(&account, Operation::ListPosts) {
            return Err(ModerationError::Invalid(format!(
                "{} does not let Custodian list an account's posts",
                account.platform
            )));
        }
        Ok(account)
    }

    /// Page after page of the account's posts, newest first, until the
    /// platform has no more, `limit` are read, or one is `wanted`.
    async fn all_posts(
        &self,
        account: &Account,
        by: &ChangedBy,
        limit: usize,
        wanted: impl Fn(&AccountPost) -> bool,
    ) -> Result<Vec<AccountPost>, ModerationError> {
        let mut posts: Vec<AccountPost> = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let listed = self.inbound.posts(account, page.as_deref(), &by.meta, &by.actor).await?;
            let found = listed.posts.iter().any(&wanted);
            posts.extend(listed.posts);
            match listed.next {
                Some(next) if posts.len() < limit && !found && Some(&next) != page.as_ref() => {
                    page = Some(next)
                }
                _ => break,
            }
        }
        posts.truncate(limit);
        Ok(posts)
    }

    fn audited_post(&self, account: &Account, post: AccountPost) -> AuditedPost {
        let origin = if post.in_reply_to.is_some() { Origin::Reply } else { Origin::Post };
        let (report, judgement) = self.judge(account, &post.text, origin);
        AuditedPost { post, verdict: judgement.verdict, findings: report.findings }
    }
}
