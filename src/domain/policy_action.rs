//! What a caller asks to do, as policy and the journal name it: the one
//! place these names are spelled.

use serde::{Deserialize, Serialize};

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// An action policy decides (or, for the token-management ones, that
        /// the journal records), with its name in the Cedar schema.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum PolicyAction {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        impl PolicyAction {
            pub const ALL: &'static [PolicyAction] = &[$(PolicyAction::$variant,)+];

            /// The name in the Cedar schema, the API and the journal.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(PolicyAction::$variant => $name,)+
                }
            }
        }
    };
}

actions! {
    PostPublish => "post.publish",
    PostDelete => "post.delete",
    CommentReply => "comment.reply",
    CommentList => "comment.list",
    CommentHide => "comment.hide",
    CommentDelete => "comment.delete",
    /// Reading held inbound comments, and restoring or keeping them hidden.
    CommentModerate => "comment.moderate",
    /// Rewriting a published post or comment (pass-through only).
    PostEdit => "post.edit",
    /// Sharing someone's post, or undoing it (pass-through only).
    PostRepost => "post.repost",
    /// Endorsing someone's post, or undoing it (pass-through only).
    PostLike => "post.like",
    AccountConnect => "account.connect",
    AccountDisconnect => "account.disconnect",
    AccountLock => "account.lock",
    UserRevoke => "user.revoke",
    TrainingManage => "training.manage",
    AccessReview => "access.review",
    BreakglassReview => "breakglass.review",
    MfaInvite => "mfa.invite",
    AuditRead => "audit.read",
    AuditExport => "audit.export",
    /// Approving or rejecting a held action.
    ReviewDecide => "review.decide",
    /// Reading every held action (anyone reads their own).
    ReviewList => "review.list",
    /// Approving (or retiring) a reply template: replies that use it need no new review.
    TemplateApprove => "template.approve",
    /// Its author taking a held action back: no policy decides it.
    ReviewWithdraw => "review.withdraw",
    /// Policy's answer on the screen's findings: refused outright.
    ContentBlock => "content.block",
    /// Policy's answer on the screen's findings: out without a reviewer.
    ContentRelease => "content.release",
    BreakglassUse => "breakglass.use",
    TokenCreate => "token.create",
    /// Listing one's API tokens: no policy decides it (it takes a session).
    TokenList => "token.list",
    /// Revoking an API token: no policy decides it (its owner, or `user.revoke`).
    TokenRevoke => "token.revoke",
}

impl PolicyAction {
    /// The actions taken on an account. `post.edit`, `post.repost` and
    /// `post.like` are only taken through the pass-through proxy.
    pub const ON_ACCOUNTS: [PolicyAction; 9] = [
        PolicyAction::PostPublish,
        PolicyAction::PostDelete,
        PolicyAction::CommentReply,
        PolicyAction::CommentList,
        PolicyAction::CommentHide,
        PolicyAction::CommentDelete,
        PolicyAction::PostEdit,
        PolicyAction::PostRepost,
        PolicyAction::PostLike,
    ];

    /// The action named `name`, if there is one.
    pub fn parse(name: &str) -> Option<PolicyAction> {
        PolicyAction::ALL.iter().copied().find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_action() {
        for a in PolicyAction::ALL {
            assert_eq!(PolicyAction::parse(a.as_str()), Some(*a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(PolicyAction::parse("post.launch"), None);
    }
}
