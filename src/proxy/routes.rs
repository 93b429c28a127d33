//! Each platform's pass-through route table: method and path pattern to
//! the action name policy and audit see. A request no route names is
//! refused. Patterns are below the platform's API base; `{id}` is one path
//! segment of an object id, `{account}` must be the account's own platform
//! id (so a route cannot act for another Page or user).

use reqwest::Method;

pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub action: &'static str,
}

const fn route(method: Method, pattern: &'static str, action: &'static str) -> Route {
    Route { method, pattern, action }
}

static X: [Route; 5] = [
    route(Method::POST, "/2/tweets", "post.publish"),
    route(Method::POST, "/2/media/upload", "post.publish"),
    route(Method::DELETE, "/2/tweets/{id}", "post.delete"),
    route(Method::PUT, "/2/tweets/{id}/hidden", "comment.hide"),
    route(Method::GET, "/2/tweets/search/recent", "comment.list"),
];

static MASTODON: [Route; 4] = [
    route(Method::POST, "/api/v1/statuses", "post.publish"),
    route(Method::POST, "/api/v2/media", "post.publish"),
    route(Method::DELETE, "/api/v1/statuses/{id}", "post.delete"),
    route(Method::GET, "/api/v1/statuses/{id}/context", "comment.list"),
];

static FACEBOOK: [Route; 6] = [
    route(Method::POST, "/{account}/feed", "post.publish"),
    route(Method::POST, "/{account}/photos", "post.publish"),
    route(Method::DELETE, "/{id}", "post.delete"),
    route(Method::GET, "/{id}/comments", "comment.list"),
    route(Method::POST, "/{id}/comments", "comment.reply"),
    route(Method::POST, "/{id}", "comment.hide"),
];

static INSTAGRAM: [Route; 6] = [
    route(Method::POST, "/{account}/media", "post.publish"),
    route(Method::POST, "/{account}/media_publish", "post.publish"),
    route(Method::GET, "/{id}/comments", "comment.list"),
    route(Method::POST, "/{id}/replies", "comment.reply"),
    route(Method::POST, "/{id}", "comment.hide"),
    route(Method::DELETE, "/{id}", "comment.delete"),
];

static LINKEDIN: [Route; 3] = [
    route(Method::POST, "/rest/posts", "post.publish"),
    route(Method::POST, "/rest/images", "post.publish"),
    route(Method::DELETE, "/rest/posts/{id}", "post.delete"),
];

static BLUESKY: [Route; 4] = [
    route(Method::POST, "/xrpc/com.atproto.repo.createRecord", "post.publish"),
    route(Method::POST, "/xrpc/com.atproto.repo.uploadBlob", "post.publish"),
    route(Method::POST, "/xrpc/com.atproto.repo.deleteRecord", "post.delete"),
    route(Method::GET, "/xrpc/app.bsky.feed.getPostThread", "comment.list"),
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

/// The action for a checked path on a platform, if a route names it.
pub fn action_for(platform: &str, method: &Method, segments: &[&str], account: &str) -> Option<&'static str> {
    table(platform)
        .iter()
        .find(|r| {
            let pattern: Vec<&str> = r.pattern.split('/').skip(1).collect();
            r.method == *method
                && pattern.len() == segments.len()
                && pattern.iter().zip(segments).all(|(p, s)| match *p {
                    "{id}" => is_id(s),
                    "{account}" => *s == account,
                    literal => literal == *s,
                })
        })
        .map(|r| r.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<&str> {
        path.split('/').skip(1).collect()
    }

    #[test]
    fn each_route_names_its_action_and_nothing_else_passes() {
        let a = |platform, method: Method, path| action_for(platform, &method, &segments(path), "1234");
        assert_eq!(a("x", Method::POST, "/2/tweets"), Some("post.publish"));
        assert_eq!(a("x", Method::DELETE, "/2/tweets/1790"), Some("post.delete"));
        assert_eq!(a("x", Method::GET, "/2/tweets"), None, "method matters");
        assert_eq!(a("x", Method::POST, "/2/users/1/following"), None, "not in the table");
        assert_eq!(a("x", Method::DELETE, "/2/tweets/.."), None, "an id is not a dot segment");
        assert_eq!(a("mastodon", Method::GET, "/api/v1/statuses/9/context"), Some("comment.list"));
        assert_eq!(a("facebook", Method::POST, "/1234/feed"), Some("post.publish"));
        assert_eq!(a("facebook", Method::POST, "/9999/feed"), None, "only the account's own Page");
        assert_eq!(a("sandbox", Method::POST, "/anything"), None);
        for platform in ["x", "mastodon", "facebook", "instagram", "linkedin", "bluesky"] {
            for r in table(platform) {
                assert!(crate::action::ACCOUNT_ACTIONS.contains(&r.action), "{platform} {}", r.pattern);
            }
        }
    }
}
