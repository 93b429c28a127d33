//! The built-in sandbox platform: practice accounts whose posts are kept in
//! Custodian's own database and shown as a timeline. New users post here
//! without any real account; organizations train staff on it. It behaves
//! like a platform: it validates, and it refuses what a platform would.
//! For training, anyone signed in may comment on a practice post as "the
//! public" ([`Sandbox::comment_from_public`]), so that staff see inbound
//! moderation at work.

use serde::Serialize;
use sqlx::Row;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::{AccountId, Forward, NewPost};
use crate::platforms::forward::Forwarded;
use crate::platforms::{
    AccountPost, Call, Comment, Operation, PlatformApi, PlatformError, PostPage, Published,
};
use crate::storage::{optional, Db};

/// Posts longer than this are refused, as on Mastodon.
pub const MAX_CHARS: usize = 500;
/// A practice commenter's name: at most this many characters.
pub const MAX_AUTHOR_CHARS: usize = 64;
/// Posts per page of [`PlatformApi::posts`].
const PAGE: i64 = 50;

#[derive(Debug, Clone, Serialize)]
pub struct SandboxPost {
    pub id: String,
    pub in_reply_to: Option<String>,
    pub author: String,
    pub text: String,
    pub link: Option<String>,
    pub has_image: bool,
    pub hidden: bool,
    /// A practice comment from "the public", not the account's own.
    pub from_public: bool,
    pub created_at: Timestamp,
}

pub struct Sandbox {
    db: Db,
    clock: SharedClock,
}

const POST_COLUMNS: &str = "id, in_reply_to, author, text, link, image_type, hidden, by_account, created_at";

fn sandbox_post(r: &sqlx::any::AnyRow) -> Result<SandboxPost, sqlx::Error> {
    Ok(SandboxPost {
        id: r.try_get("id")?,
        in_reply_to: r.try_get("in_reply_to")?,
        author: r.try_get("author")?,
        text: r.try_get("text")?,
        link: r.try_get("link")?,
        has_image: r.try_get::<Option<String>, _>("image_type")?.is_some(),
        hidden: r.try_get::<i64, _>("hidden")? != 0,
        from_public: r.try_get::<i64, _>("by_account")? == 0,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

fn storage(e: sqlx::Error) -> PlatformError {
    tracing::error!(error = %e, "sandbox storage error");
    PlatformError::Down { status: None, message: "the sandbox's storage is unavailable".into() }
}

fn validation(message: &str) -> PlatformError {
    PlatformError::Validation { message: message.to_owned() }
}

impl Sandbox {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Sandbox { db, clock }
    }

    /// The account's posts and replies, newest first.
    pub async fn timeline(
        &self,
        account_id: &AccountId,
        limit: i64,
    ) -> Result<Vec<SandboxPost>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {POST_COLUMNS} FROM sandbox_posts WHERE account_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(account_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(sandbox_post).collect()
    }

    /// One of the account's live posts (or replies), and the replies to it,
    /// oldest first; None when the account has no such post.
    pub async fn thread(
        &self,
        account_id: &AccountId,
        post_id: &str,
    ) -> Result<Option<(SandboxPost, Vec<SandboxPost>)>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {POST_COLUMNS} FROM sandbox_posts WHERE account_id = $1 AND deleted_at IS NULL \
             AND (id = $2 OR in_reply_to = $2) ORDER BY created_at, id"
        ))
        .bind(account_id)
        .bind(post_id)
        .fetch_all(self.db.pool())
        .await?;
        let (posts, replies): (Vec<SandboxPost>, Vec<SandboxPost>) = rows
            .iter()
            .map(sandbox_post)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .partition(|p| p.id == post_id);
        Ok(posts.into_iter().next().map(|post| (post, replies)))
    }

    /// The account a live (not deleted) post belongs to.
    async fn owner(&self, post_id: &str) -> Result<Option<AccountId>, PlatformError> {
        optional(
            sqlx::query("SELECT account_id FROM sandbox_posts WHERE id = $1 AND deleted_at IS NULL")
                .bind(post_id)
                .fetch_one(self.db.pool())
                .await,
        )
        .map_err(storage)?
        .map(|r| r.try_get::<AccountId, _>("account_id").map_err(storage))
        .transpose()
    }

    async fn insert(
        &self,
        call: &Call<'_>,
        post: &NewPost,
        in_reply_to: Option<&str>,
    ) -> Result<Published, PlatformError> {
        let chars = post.text.chars().count();
        // Blank text counts as none, as on Mastodon ("Text can't be blank").
        if post.text.trim().is_empty() && post.image.is_none() {
            return Err(validation("a post needs text or an image"));
        }
        if chars > MAX_CHARS {
            return Err(validation("posts are at most 500 characters"));
        }
        if let Some(parent) = in_reply_to {
            if self.owner(parent).await?.is_none() {
                return Err(validation("the post being replied to does not exist"));
            }
        }
        let author = self
            .handle(call.account_id)
            .await?
            .ok_or_else(|| PlatformError::TokenInvalid { message: "no such sandbox account".into() })?;
        let id = format!("sbx_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(
            "INSERT INTO sandbox_posts (id, account_id, in_reply_to, author, text, link, image_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(call.account_id)
        .bind(in_reply_to)
        .bind(author)
        .bind(&post.text)
        .bind(post.link.as_ref().map(|l| l.to_string()))
        .bind(post.image.as_ref().map(|i| i.media_type.clone()))
        .bind(self.clock.now().millis())
        .execute(self.db.pool())
        .await
        .map_err(storage)?;
        Ok(Published { url: Some(format!("/sandbox/{}/{id}", call.account_id)), id })
    }

    /// Someone who is not the account (`author`, a name of their choosing)
    /// comments on one of its posts: a practice comment for training, as a
    /// member of the public would write it. Returns the comment's id.
    pub async fn comment_from_public(
        &self,
        account_id: &AccountId,
        post_id: &str,
        author: &str,
        text: &str,
    ) -> Result<String, PlatformError> {
        let author = author.trim();
        if author.is_empty()
            || author.chars().count() > MAX_AUTHOR_CHARS
            || author.chars().any(char::is_control)
        {
            return Err(validation("a commenter's name is 1 to 64 characters, without control characters"));
        }
        if text.trim().is_empty() {
            return Err(validation("a comment needs text"));
        }
        if text.chars().count() > MAX_CHARS {
            return Err(validation("comments are at most 500 characters"));
        }
        if self.owner(post_id).await?.as_ref() != Some(account_id) {
            return Err(validation("no such post on this account"));
        }
        if self.handle(account_id).await?.is_some_and(|h| h.eq_ignore_ascii_case(author)) {
            return Err(validation("a practice comment comes from someone other than the account"));
        }
        let id = format!("sbx_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(
            "INSERT INTO sandbox_posts (id, account_id, in_reply_to, author, text, created_at, by_account) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&id)
        .bind(account_id)
        .bind(post_id)
        .bind(author)
        .bind(text)
        .bind(self.clock.now().millis())
        .execute(self.db.pool())
        .await
        .map_err(storage)?;
        Ok(id)
    }

    /// Hides or shows again a reply to one of this account's posts.
    async fn set_hidden(&self, call: &Call<'_>, comment_id: &str, hidden: bool) -> Result<(), PlatformError> {
        let done = sqlx::query(
            "UPDATE sandbox_posts SET hidden = $1 WHERE id = $2 AND deleted_at IS NULL AND in_reply_to IN \
             (SELECT id FROM sandbox_posts WHERE account_id = $3)",
        )
        .bind(i64::from(hidden))
        .bind(comment_id)
        .bind(call.account_id)
        .execute(self.db.pool())
        .await
        .map_err(storage)?;
        if done.rows_affected() == 0 {
            return Err(validation("no such comment"));
        }
        Ok(())
    }

    /// The account's handle: who its posts are by.
    async fn handle(&self, account_id: &AccountId) -> Result<Option<String>, PlatformError> {
        optional(
            sqlx::query_scalar("SELECT handle FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_one(self.db.pool())
                .await,
        )
        .map_err(storage)
    }

    /// Marks a post of this account deleted.
    async fn remove(&self, call: &Call<'_>, id: &str) -> Result<(), PlatformError> {
        match self.owner(id).await? {
            None => Err(validation("no such post")),
            Some(owner) if owner != *call.account_id => {
                Err(PlatformError::Permission { message: "the post belongs to another account".into() })
            }
            Some(_) => {
                sqlx::query("UPDATE sandbox_posts SET deleted_at = $1 WHERE id = $2")
                    .bind(self.clock.now().millis())
                    .bind(id)
                    .execute(self.db.pool())
                    .await
                    .map_err(storage)?;
                Ok(())
            }
        }
    }
}

impl PlatformApi for Sandbox {
    fn name(&self) -> &'static str {
        "Sandbox"
    }

    fn supports(&self, _op: Operation) -> bool {
        true
    }

    async fn publish(&self, call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        self.insert(call, post, None).await
    }

    async fn delete(&self, call: &Call<'_>, post_id: &str) -> Result<(), PlatformError> {
        self.remove(call, post_id).await
    }

    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        self.insert(call, post, Some(in_reply_to)).await
    }

    /// Replies to one of this account's posts.
    async fn comments(&self, call: &Call<'_>, post_id: &str) -> Result<Vec<Comment>, PlatformError> {
        if self.owner(post_id).await?.as_ref() != Some(call.account_id) {
            return Err(validation("no such post on this account"));
        }
        let rows = sqlx::query(
            "SELECT id, author, text, created_at FROM sandbox_posts \
             WHERE in_reply_to = $1 AND deleted_at IS NULL AND hidden = 0 ORDER BY created_at, id",
        )
        .bind(post_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(storage)?;
        rows.iter()
            .map(|r| {
                Ok(Comment {
                    id: r.try_get("id")?,
                    author: r.try_get("author")?,
                    text: r.try_get("text")?,
                    created_at: Some(Timestamp(r.try_get("created_at")?).rfc3339()),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(storage)
    }

    /// Hides a reply to one of this account's posts.
    async fn hide_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, comment_id, true).await
    }

    async fn delete_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError> {
        self.remove(call, comment_id).await
    }

    /// The account's own posts and replies (not the public's comments),
    /// newest first; a page token is how many came before it.
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        let offset = match page {
            None => 0,
            Some(p) => p.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| validation("no such page"))?,
        };
        let rows = sqlx::query(
            "SELECT id, in_reply_to, text, created_at FROM sandbox_posts \
             WHERE account_id = $1 AND deleted_at IS NULL AND by_account = 1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(call.account_id)
        .bind(PAGE + 1)
        .bind(offset)
        .fetch_all(self.db.pool())
        .await
        .map_err(storage)?;
        let more = rows.len() as i64 > PAGE;
        let posts = rows
            .iter()
            .take(PAGE as usize)
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(AccountPost {
                    url: Some(format!("/sandbox/{}/{id}", call.account_id)),
                    id,
                    text: r.try_get("text")?,
                    created_at: Some(Timestamp(r.try_get("created_at")?).rfc3339()),
                    in_reply_to: r.try_get("in_reply_to")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(storage)?;
        Ok(PostPage { posts, next: more.then(|| (offset + PAGE).to_string()) })
    }

    /// Shows a reply the account hid.
    async fn unhide_comment(&self, call: &Call<'_>, comment_id: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, comment_id, false).await
    }

    /// The sandbox has no HTTP API: nothing passes through to it.
    fn created_through(&self, _forward: &Forward, _answer: &Forwarded) -> Option<String> {
        None
    }
}
