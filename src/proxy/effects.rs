//! Naming an action by what a request does, where its path alone does not
//! say: one Graph `POST /{id}` hides a comment or rewrites a post, one
//! Bluesky `createRecord` publishes, reposts or likes, by its parameters.
//! Each namer reads the request as the platform will ([`Readable`]) and
//! names one action, or says why the request is refused; a request that
//! acts for another repository or author than the account is refused.
//!
//! Namers never send anything and never decide policy: they only name
//! what policy is asked about.

use serde_json::Value;

use crate::domain::{Account, PolicyAction};
use crate::proxy::request::Readable;

/// Names the action a request is, or says why it is refused.
pub type Namer = fn(&Readable, &Account) -> Result<PolicyAction, String>;

/// Words that name a credential in a Graph field list.
const TOKEN_WORDS: [&str; 3] = ["token", "secret", "password"];

/// Graph field expansion can return a token to whoever may read the object
/// (`fields=access_token`, `fields=from{access_token}`): a `fields`
/// parameter naming a token-like field anywhere is refused.
pub fn graph_fields(readable: &Readable) -> Result<(), String> {
    for fields in readable.values("fields") {
        let lower = fields.to_ascii_lowercase();
        if let Some(word) = TOKEN_WORDS.iter().find(|w| lower.contains(**w)) {
            return Err(format!(
                "a fields list naming a {word} field ({fields:?}) is refused: it could return the account's credential"
            ));
        }
    }
    Ok(())
}

/// The names of the parameters the platform reads (query and body), sorted, once each.
fn names(readable: &Readable) -> Vec<&str> {
    let mut names: Vec<&str> = readable.params.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Facebook `POST /{id}`: `is_hidden` alone hides (or unhides) a comment;
/// `message` alone edits a post or comment; anything else is refused.
pub fn facebook_object(readable: &Readable, _: &Account) -> Result<PolicyAction, String> {
    match names(readable).as_slice() {
        ["is_hidden"] => Ok(PolicyAction::CommentHide),
        ["message"] => Ok(PolicyAction::PostEdit),
        other => Err(format!(
            "POST /{{id}} passes through with is_hidden alone (comment.hide) or message alone (post.edit), not with {other:?}"
        )),
    }
}

/// Instagram `POST /{id}`: `hide` alone hides a comment; `comment_enabled`
/// alone turns comments on a post on or off; anything else is refused.
pub fn instagram_object(readable: &Readable, _: &Account) -> Result<PolicyAction, String> {
    match names(readable).as_slice() {
        ["hide"] => Ok(PolicyAction::CommentHide),
        ["comment_enabled"] => Ok(PolicyAction::PostEdit),
        other => Err(format!(
            "POST /{{id}} passes through with hide alone (comment.hide) or comment_enabled alone (post.edit), not with {other:?}"
        )),
    }
}

/// A JSON body's member as a string.
fn member<'a>(readable: &'a Readable, pointer: &str) -> Option<&'a str> {
    readable.json.as_ref()?.pointer(pointer).and_then(Value::as_str)
}

/// The Bluesky write's `repo` must be the account's own DID.
fn own_repo(readable: &Readable, account: &Account) -> Result<(), String> {
    match member(readable, "/repo") {
        Some(repo) if repo == account.external_id => Ok(()),
        Some(repo) => Err(format!("repo {repo:?} is not this account's DID ({})", account.external_id)),
        None => Err("a record write must name the account's own DID as its repo (JSON)".into()),
    }
}

/// What a write to a collection is: `put` is `putRecord`, `delete` `deleteRecord`.
fn bluesky_write(readable: &Readable, account: &Account, write: Write) -> Result<PolicyAction, String> {
    own_repo(readable, account)?;
    let collection = member(readable, "/collection").unwrap_or("");
    let is_reply = readable.json.as_ref().and_then(|j| j.pointer("/record/reply")).is_some();
    Ok(match (collection, write) {
        ("app.bsky.feed.post", Write::Create) if is_reply => PolicyAction::CommentReply,
        ("app.bsky.feed.post", Write::Create) => PolicyAction::PostPublish,
        ("app.bsky.feed.post", Write::Put) => PolicyAction::PostEdit,
        ("app.bsky.feed.post", Write::Delete) => PolicyAction::PostDelete,
        ("app.bsky.feed.repost", _) => PolicyAction::PostRepost,
        ("app.bsky.feed.like", _) => PolicyAction::PostLike,
        // The thread gate is how replies are hidden (and who may reply, limited).
        ("app.bsky.feed.threadgate", _) => PolicyAction::CommentHide,
        (other, _) => {
            return Err(format!(
            "records of collection {other:?} do not pass through (posts, reposts, likes and thread gates do)"
        ))
        }
    })
}

#[derive(Clone, Copy)]
enum Write {
    Create,
    Put,
    Delete,
}

pub fn bluesky_create(readable: &Readable, account: &Account) -> Result<PolicyAction, String> {
    bluesky_write(readable, account, Write::Create)
}

pub fn bluesky_put(readable: &Readable, account: &Account) -> Result<PolicyAction, String> {
    bluesky_write(readable, account, Write::Put)
}

pub fn bluesky_delete(readable: &Readable, account: &Account) -> Result<PolicyAction, String> {
    bluesky_write(readable, account, Write::Delete)
}

/// LinkedIn `POST /posts`: the post's `author` must be the account's URN.
pub fn linkedin_post(readable: &Readable, account: &Account) -> Result<PolicyAction, String> {
    linkedin_owner(readable, account, "/author", "author").map(|()| PolicyAction::PostPublish)
}

/// LinkedIn `POST /images`: the upload's `owner` must be the account's URN.
pub fn linkedin_image(readable: &Readable, account: &Account) -> Result<PolicyAction, String> {
    linkedin_owner(readable, account, "/initializeUploadRequest/owner", "initializeUploadRequest.owner")
        .map(|()| PolicyAction::PostPublish)
}

fn linkedin_owner(readable: &Readable, account: &Account, pointer: &str, what: &str) -> Result<(), String> {
    match member(readable, pointer) {
        Some(urn) if urn == account.external_id => Ok(()),
        Some(urn) => Err(format!("{what} {urn:?} is not this account ({})", account.external_id)),
        None => Err(format!("the JSON body must name this account ({}) as its {what}", account.external_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::request::Body;

    fn account(platform: &str, external_id: &str) -> Account {
        Account {
            id: "acct_1".into(),
            platform: crate::domain::Platform::parse(platform).unwrap(),
            handle: "h".into(),
            external_id: external_id.into(),
            base_url: None,
            status: crate::domain::Status::Active,
            status_reason: None,
            tags: Vec::new(),
            scopes: Vec::new(),
            token_expires_at: None,
            connected_by: "t".into(),
            created_at: crate::clock::Timestamp(0),
        }
    }

    fn json(body: &str) -> Readable {
        Readable::read(None, Some("application/json"), body.as_bytes(), Body::Text).unwrap()
    }

    fn form(query: &str) -> Readable {
        Readable::read(Some(query), None, b"", Body::Text).unwrap()
    }

    #[test]
    fn graph_objects_are_named_by_their_parameters() {
        let page = account("facebook", "1234");
        assert_eq!(facebook_object(&form("is_hidden=true"), &page), Ok(PolicyAction::CommentHide));
        assert_eq!(facebook_object(&form("message=Edited"), &page), Ok(PolicyAction::PostEdit));
        assert!(facebook_object(&form("is_hidden=true&message=x"), &page).is_err());
        assert!(facebook_object(&form(""), &page).is_err());
        assert!(facebook_object(&form("is_published=false"), &page).is_err());
        assert_eq!(instagram_object(&form("hide=true"), &page), Ok(PolicyAction::CommentHide));
        assert!(instagram_object(&form("is_hidden=true"), &page).is_err());
        assert!(graph_fields(&form("fields=from{access_token}")).is_err());
        assert!(graph_fields(&form("fields=instagram_business_account{id,Access_Token}")).is_err());
        assert!(graph_fields(&form("fields=id,message,from{id,name}")).is_ok());
    }

    #[test]
    fn bluesky_writes_are_named_by_their_collection_in_the_accounts_own_repo() {
        let me = account("bluesky", "did:plc:me");
        let write = |collection: &str, extra: &str| {
            json(&format!(r#"{{"repo":"did:plc:me","collection":"{collection}","record":{{{extra}}}}}"#))
        };
        assert_eq!(bluesky_create(&write("app.bsky.feed.post", ""), &me), Ok(PolicyAction::PostPublish));
        assert_eq!(
            bluesky_create(&write("app.bsky.feed.post", r#""reply":{}"#), &me),
            Ok(PolicyAction::CommentReply)
        );
        assert_eq!(bluesky_put(&write("app.bsky.feed.post", ""), &me), Ok(PolicyAction::PostEdit));
        assert_eq!(bluesky_delete(&write("app.bsky.feed.post", ""), &me), Ok(PolicyAction::PostDelete));
        assert_eq!(bluesky_create(&write("app.bsky.feed.repost", ""), &me), Ok(PolicyAction::PostRepost));
        assert_eq!(bluesky_delete(&write("app.bsky.feed.like", ""), &me), Ok(PolicyAction::PostLike));
        assert_eq!(bluesky_put(&write("app.bsky.feed.threadgate", ""), &me), Ok(PolicyAction::CommentHide));
        for refused in ["app.bsky.graph.follow", "app.bsky.graph.block", "app.bsky.actor.profile"] {
            assert!(bluesky_create(&write(refused, ""), &me).is_err(), "{refused}");
        }
        let theirs = json(r#"{"repo":"did:plc:them","collection":"app.bsky.feed.post","record":{}}"#);
        assert!(bluesky_create(&theirs, &me).is_err());
        let li = account("linkedin", "urn:li:organization:1");
        assert_eq!(
            linkedin_post(&json(r#"{"author":"urn:li:organization:1"}"#), &li),
            Ok(PolicyAction::PostPublish)
        );
        assert!(linkedin_post(&json(r#"{"author":"urn:li:organization:2"}"#), &li).is_err());
        assert!(linkedin_post(&json("{}"), &li).is_err());
    }
}
