//! Each platform's pass-through route table: method and path pattern to
//! the action name policy and audit see. A request no route names is
//! refused. Patterns are below the platform's API base (for LinkedIn that
//! base is `https://api.linkedin.com/rest`, so `/posts`); `{id}` is one
//! path segment of an object id, `{account}` must be the account's own
//! platform id (so a route cannot act for another Page or user). Where the
//! path does not say what a request does, the route names its action by
//! the request's parameters ([`crate::proxy::effects`]). Each route says
//! whether its body may carry binary media.

use reqwest::Method;

use crate::domain::PolicyAction;
use crate::proxy::effects::{self, Namer};
use crate::proxy::request::Body;

/// How a route names its action.
pub enum Names {
    Action(PolicyAction),
    /// By what the request says; `may_name`: every action it can name.
    ByRequest {
        name: Namer,
        may_name: &'static [PolicyAction],
    },
}

pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub names: Names,
    pub body: Body,
}

const fn route(method: Method, pattern: &'static str, action: PolicyAction) -> Route {
    Route { method, pattern, names: Names::Action(action), body: Body::Text }
}

/// An upload: its body is binary media (recorded by size and digest).
const fn upload(method: Method, pattern: &'static str) -> Route {
    Route { method, pattern, names: Names::Action(PolicyAction::PostPublish), body: Body::Media }
}

const fn by(method: Method, pattern: &'static str, name: Namer, may_name: &'static [PolicyAction]) -> Route {
    Route { method, pattern, names: Names::ByRequest { name, may_name }, body: Body::Text }
}

static X: [Route; 5] = [
    route(Method::POST, "/2/tweets", PolicyAction::PostPublish),
    upload(Method::POST, "/2/media/upload"),
    route(Method::DELETE, "/2/tweets/{id}", PolicyAction::PostDelete),
    route(Method::PUT, "/2/tweets/{id}/hidden", PolicyAction::CommentHide),
    route(Method::GET, "/2/tweets/search/recent", PolicyAction::CommentList),
];

static MASTODON: [Route; 4] = [
    route(Method::POST, "/api/v1/statuses", PolicyAction::PostPublish),
    upload(Method::POST, "/api/v2/media"),
    route(Method::DELETE, "/api/v1/statuses/{id}", PolicyAction::PostDelete),
    route(Method::GET, "/api/v1/statuses/{id}/context", PolicyAction::CommentList),
];

static FACEBOOK: [Route; 6] = [
    route(Method::POST, "/{account}/feed", PolicyAction::PostPublish),
    upload(Method::POST, "/{account}/photos"),
    route(Method::DELETE, "/{id}", PolicyAction::PostDelete),
    route(Method::GET, "/{id}/comments", PolicyAction::CommentList),
    route(Method::POST, "/{id}/comments", PolicyAction::CommentReply),
    by(Method::POST, "/{id}", effects::facebook_object, &[PolicyAction::CommentHide, PolicyAction::PostEdit]),
];

static INSTAGRAM: [Route; 6] = [
    route(Method::POST, "/{account}/media", PolicyAction::PostPublish),
    route(Method::POST, "/{account}/media_publish", PolicyAction::PostPublish),
    route(Method::GET, "/{id}/comments", PolicyAction::CommentList),
    route(Method::POST, "/{id}/replies", PolicyAction::CommentReply),
    by(
        Method::POST,
        "/{id}",
        effects::instagram_object,
        &[PolicyAction::CommentHide, PolicyAction::PostEdit],
    ),
    route(Method::DELETE, "/{id}", PolicyAction::CommentDelete),
];

static LINKEDIN: [Route; 3] = [
    by(Method::POST, "/posts", effects::linkedin_post, &[PolicyAction::PostPublish]),
    by(Method::POST, "/images", effects::linkedin_image, &[PolicyAction::PostPublish]),
    route(Method::DELETE, "/posts/{id}", PolicyAction::PostDelete),
];

/// What a Bluesky record write can be, by its collection.
const BLUESKY_WRITES: [PolicyAction; 7] = [
    PolicyAction::PostPublish,
    PolicyAction::CommentReply,
    PolicyAction::PostEdit,
    PolicyAction::PostDelete,
    PolicyAction::PostRepost,
    PolicyAction::PostLike,
    PolicyAction::CommentHide,
];

static BLUESKY: [Route; 5] = [
    by(Method::POST, "/xrpc/com.atproto.repo.createRecord", effects::bluesky_create, &BLUESKY_WRITES),
    by(Method::POST, "/xrpc/com.atproto.repo.putRecord", effects::bluesky_put, &BLUESKY_WRITES),
    by(Method::POST, "/xrpc/com.atproto.repo.deleteRecord", effects::bluesky_delete, &BLUESKY_WRITES),
    upload(Method::POST, "/xrpc/com.atproto.repo.uploadBlob"),
    route(Method::GET, "/xrpc/app.bsky.feed.getPostThread", PolicyAction::CommentList),
];

/// The table for a platform (empty: nothing passes through, e.g. the sandbox).
pub fn table(platform: &str) -> &'static [Route] {
    match platform {
        "x" => &X,
        "mastodon" => &MASTODON,
        "facebook" => &FACEBOOK,
        "instagram" => &INSTAGRAM,
        "linkedin" => &LINKEDIN,
        "bluesky" => &BLUESKY,
        _ => &[],
    }
}

/// An object id segment: what platforms use (digits, letters, `_`, `-`, `:`, `.`), bounded.
fn is_id(segment: &str) -> bool {
    (1..=128).contains(&segment.len())
        && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.'))
        && !segment.chars().all(|c| c == '.')
}

/// The route for a checked path on a platform, if there is one.
pub fn route_for(
    platform: &str,
    method: &Method,
    segments: &[&str],
    account: &str,
) -> Option<&'static Route> {
    table(platform).iter().find(|r| {
        let pattern: Vec<&str> = r.pattern.split('/').skip(1).collect();
        r.method == *method
            && pattern.len() == segments.len()
            && pattern.iter().zip(segments).all(|(p, s)| match *p {
                "{id}" => is_id(s),
                "{account}" => *s == account,
                literal => literal == *s,
            })
    })
}

impl Route {
    /// Every action the route can name.
    pub fn may_name(&self) -> &[PolicyAction] {
        match &self.names {
            Names::Action(action) => std::slice::from_ref(action),
            Names::ByRequest { may_name, .. } => may_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<&str> {
        path.split('/').skip(1).collect()
    }

    #[test]
    fn each_route_names_its_action_and_nothing_else_passes() {
        let a = |platform, method: Method, path| {
            route_for(platform, &method, &segments(path), "1234").map(|r| r.may_name()[0])
        };
        assert_eq!(a("x", Method::POST, "/2/tweets"), Some(PolicyAction::PostPublish));
        assert_eq!(a("x", Method::DELETE, "/2/tweets/1790"), Some(PolicyAction::PostDelete));
        assert_eq!(a("x", Method::GET, "/2/tweets"), None, "method matters");
        assert_eq!(a("x", Method::POST, "/2/users/1/following"), None, "not in the table");
        assert_eq!(a("x", Method::DELETE, "/2/tweets/.."), None, "an id is not a dot segment");
        assert_eq!(a("mastodon", Method::GET, "/api/v1/statuses/9/context"), Some(PolicyAction::CommentList));
        assert_eq!(a("facebook", Method::POST, "/1234/feed"), Some(PolicyAction::PostPublish));
        assert_eq!(a("facebook", Method::POST, "/9999/feed"), None, "only the account's own Page");
        assert_eq!(a("sandbox", Method::POST, "/anything"), None);
        // LinkedIn's API base already ends in /rest.
        assert_eq!(a("linkedin", Method::POST, "/posts"), Some(PolicyAction::PostPublish));
        assert_eq!(a("linkedin", Method::POST, "/rest/posts"), None);
        for platform in ["x", "mastodon", "facebook", "instagram", "linkedin", "bluesky"] {
            for r in table(platform) {
                for action in r.may_name() {
                    assert!(
                        crate::action::ACCOUNT_ACTIONS.contains(&action.as_str()),
                        "{platform} {} {action}",
                        r.pattern
                    );
                }
            }
        }
    }
}
