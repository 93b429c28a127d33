//! What a caller asks a platform to do: publish, delete, reply, list,
//! hide or delete comments, or a pass-through request the proxy's route
//! table named.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use url::Url;

use super::PolicyAction;

/// What to do on the platform.
#[derive(Debug, Clone)]
pub enum Action {
    Publish(NewPost),
    Delete {
        post_id: String,
    },
    Reply {
        in_reply_to: String,
        post: NewPost,
    },
    Comments {
        post_id: String,
    },
    HideComment {
        comment_id: String,
    },
    DeleteComment {
        comment_id: String,
    },
    /// A pass-through request, as the proxy's route table named it.
    Forward(Box<Forward>),
}

/// What to publish (or reply with).
#[derive(Debug, Clone, Default)]
pub struct NewPost {
    pub text: String,
    /// A link the platform should attach; where it has no link field, it is appended to the text.
    pub link: Option<Url>,
    pub image: Option<Image>,
}

#[derive(Clone)]
pub struct Image {
    pub bytes: Vec<u8>,
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub media_type: String,
    /// Alternative text for screen readers.
    pub description: Option<String>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({} bytes of {})", self.bytes.len(), self.media_type)
    }
}

/// One request for the platform, already checked.
#[derive(Debug, Clone)]
pub struct Forward {
    /// The action the route table names it (what policy and audit see).
    pub action: PolicyAction,
    pub method: Method,
    /// Below the API base: a checked path (starting with `/`) and the raw query, if any.
    pub path: String,
    pub query: Option<String>,
    /// Only the allow-listed request headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// For a publishing action: everything the platform will read of the
    /// request (query, form, JSON, multipart text, media by digest), as
    /// the intent records it.
    pub content: Option<String>,
    /// An image or video rides with it (an uploaded part, or a media URL).
    pub media: bool,
}

impl Forward {
    /// What the audit record names as the target: method and path (the
    /// query is in the recorded content of a publishing action).
    pub fn target(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl Action {
    /// The policy action it is.
    pub fn policy_action(&self) -> PolicyAction {
        match self {
            Action::Publish(_) => PolicyAction::PostPublish,
            Action::Delete { .. } => PolicyAction::PostDelete,
            Action::Reply { .. } => PolicyAction::CommentReply,
            Action::Comments { .. } => PolicyAction::CommentList,
            Action::HideComment { .. } => PolicyAction::CommentHide,
            Action::DeleteComment { .. } => PolicyAction::CommentDelete,
            Action::Forward(forward) => forward.action,
        }
    }
}
