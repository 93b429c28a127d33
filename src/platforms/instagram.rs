//! Instagram (Instagram API with Facebook Login, on the Graph API:
//! developers.facebook.com/docs/instagram-platform): publishing an image from
//! a public URL, comments, replies, hiding (and showing again) and deleting
//! comments, and the account's media (`GET /{ig-user-id}/media`, cursor-paged). Calls go
//! through the Facebook adapter's Graph transport (bearer token, Business
//! Use Case rate limits from `X-Business-Use-Case-Usage`, Graph errors).
//!
//! Not offered through [`PlatformApi::publish`]: Instagram posts need an image,
//! and Instagram fetches it from a public URL (two steps: a media container
//! from `image_url`, then `media_publish`). Custodian holds images as bytes
//! and does not host media yet, so a text-only post or an uploaded image is
//! refused as unsupported; [`Instagram::publish_from_url`] publishes an image
//! already at a public URL. Not offered by the API: deleting a post.

use url::Url;

use crate::clock::SharedClock;
use crate::domain::{Forward, NewPost};
use crate::platforms::comments::{Layout, Written};
use crate::platforms::facebook::{field, graph_posts, id_in, paged, text_with_link, Graph};
use crate::platforms::forward::{posted, Forwarded};
use crate::platforms::{
    checked_id, endpoint, AccountPost, Call, Comment, Operation, PlatformApi, PlatformError, PostPage,
    Published,
};

const NAME: &str = "Instagram";
/// Comments as `GET /{media}/comments?fields=id,text,username,timestamp` answers them.
const COMMENTS: Layout = Layout {
    list: "/data",
    id: &["/id"],
    author: &["/username"],
    text: "/text",
    created_at: Written::Text("/timestamp"),
};
/// Captions are at most 2,200 characters (IG Media `caption`).
pub const MAX_CAPTION: usize = 2200;

/// Instagram ids (users, containers, media, comments) are numeric.
fn ig_id<'a>(id: &'a str, what: &str) -> Result<&'a str, PlatformError> {
    checked_id(id, what, |c| c.is_ascii_digit())
}

pub struct Instagram {
    /// `https://graph.facebook.com/v{N}.0`, the version included.
    base: Url,
    /// The Instagram professional account (IG User id) this adapter acts as.
    ig_user_id: String,
    graph: Graph,
}

impl Instagram {
    /// The API this adapter calls (what the pass-through proxy may reach).
    /// The account's rate-limit state and how the Graph states it (for the proxy too).
    pub(crate) fn rate(&self) -> (&crate::platforms::rate::RateLimits, crate::platforms::ReadLimits) {
        self.graph.rate()
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn new(base: Url, ig_user_id: String, clock: SharedClock) -> Result<Instagram, PlatformError> {
        ig_id(&ig_user_id, "Instagram user")?;
        Ok(Instagram { base, ig_user_id, graph: Graph::new(clock)? })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, PlatformError> {
        endpoint(&self.base, segments)
    }

    /// Publishes the image at `image_url` (which Instagram fetches) with the
    /// post's text and link as its caption: `POST /{ig-user-id}/media`, then
    /// `POST /{ig-user-id}/media_publish` with the container's id.
    pub async fn publish_from_url(
        &self,
        call: &Call<'_>,
        image_url: &Url,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        if !matches!(image_url.scheme(), "https" | "http") {
            return Err(PlatformError::Validation {
                message: "Instagram fetches images from an http(s) URL".into(),
            });
        }
        let caption = text_with_link(post);
        if caption.chars().count() > MAX_CAPTION {
            return Err(PlatformError::Validation {
                message: format!("Instagram captions are at most {MAX_CAPTION} characters"),
            });
        }
        let http = self.graph.http();
        let form = [("image_url", image_url.to_string()), ("caption", caption)];
        let container =
            self.graph.send(call, http.post(self.url(&[&self.ig_user_id, "media"])?).form(&form)).await?;
        let creation_id = id_in(&container, "id", NAME)?;
        let form = [("creation_id", creation_id)];
        let url = self.url(&[&self.ig_user_id, "media_publish"])?;
        let media = self.graph.send(call, http.post(url).form(&form)).await?;
        Ok(Published { id: id_in(&media, "id", NAME)?, url: None })
    }

    /// A comment on a media object (`POST /{media-id}/comments`); [`PlatformApi::reply`]
    /// answers a comment.
    pub async fn comment(
        &self,
        call: &Call<'_>,
        media: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        self.create_comment(call, &[ig_id(media, "media")?, "comments"], post).await
    }

    async fn create_comment(
        &self,
        call: &Call<'_>,
        segments: &[&str],
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        if post.image.is_some() {
            return Err(PlatformError::Unsupported { platform: NAME, operation: "comment with an image" });
        }
        let form = [("message", text_with_link(post))];
        let created = self.graph.send(call, self.graph.http().post(self.url(segments)?).form(&form)).await?;
        Ok(Published { id: id_in(&created, "id", NAME)?, url: None })
    }
}

impl PlatformApi for Instagram {
    fn name(&self) -> &'static str {
        NAME
    }

    fn supports(&self, op: Operation) -> bool {
        !matches!(op, Operation::Publish | Operation::Delete)
    }

    async fn publish(&self, _call: &Call<'_>, post: &NewPost) -> Result<Published, PlatformError> {
        Err(PlatformError::Unsupported {
            platform: NAME,
            operation: match post.image {
                None => "publish without an image (Instagram posts need an image)",
                Some(_) => {
                    "publish an uploaded image (Instagram fetches images from a public URL, \
                     and Custodian does not host media yet)"
                }
            },
        })
    }

    async fn delete(&self, _call: &Call<'_>, _post: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported { platform: NAME, operation: "delete a post (the API cannot)" })
    }

    /// A reply to a comment (`POST /{comment-id}/replies`).
    async fn reply(
        &self,
        call: &Call<'_>,
        in_reply_to: &str,
        post: &NewPost,
    ) -> Result<Published, PlatformError> {
        self.create_comment(call, &[ig_id(in_reply_to, "comment")?, "replies"], post).await
    }

    async fn comments(&self, call: &Call<'_>, media: &str) -> Result<Vec<Comment>, PlatformError> {
        let mut url = self.url(&[ig_id(media, "media")?, "comments"])?;
        url.query_pairs_mut().append_pair("fields", "id,text,username,timestamp");
        let found = self.graph.send(call, self.graph.http().get(url)).await?;
        Ok(COMMENTS.read(&found))
    }

    async fn hide_comment(&self, call: &Call<'_>, comment: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, comment, true).await
    }

    async fn delete_comment(&self, call: &Call<'_>, comment: &str) -> Result<(), PlatformError> {
        let url = self.url(&[ig_id(comment, "comment")?])?;
        self.graph.send(call, self.graph.http().delete(url)).await.map(|_| ())
    }

    /// The account's media, newest first, with their captions.
    async fn posts(&self, call: &Call<'_>, page: Option<&str>) -> Result<PostPage, PlatformError> {
        let mut url = self.url(&[&self.ig_user_id, "media"])?;
        url.query_pairs_mut().append_pair("fields", "id,caption,timestamp,permalink");
        let listed = self.graph.send(call, self.graph.http().get(paged(url, page)?)).await?;
        Ok(graph_posts(&listed, |media| {
            Some(AccountPost {
                id: field(media, "id")?,
                text: field(media, "caption").unwrap_or_default(),
                url: field(media, "permalink"),
                created_at: field(media, "timestamp"),
                in_reply_to: None,
            })
        }))
    }

    async fn unhide_comment(&self, call: &Call<'_>, comment: &str) -> Result<(), PlatformError> {
        self.set_hidden(call, comment, false).await
    }

    /// `POST /{ig-user}/media_publish` answers the published media's `id`
    /// (a container made by `POST /{ig-user}/media` is no post yet);
    /// `POST /{comment}/replies` the reply's `id`.
    fn created_through(&self, forward: &Forward, answer: &Forwarded) -> Option<String> {
        match posted(forward).as_slice() {
            [_, "media_publish" | "replies"] => answer.id_at("/id", |id| ig_id(id, "media").is_ok()),
            _ => None,
        }
    }
}

impl Instagram {
    /// `hide` on a comment: hidden from everyone but its author, or shown again.
    async fn set_hidden(&self, call: &Call<'_>, comment: &str, hidden: bool) -> Result<(), PlatformError> {
        let url = self.url(&[ig_id(comment, "comment")?])?;
        let form = [("hide", if hidden { "true" } else { "false" })];
        self.graph.send(call, self.graph.http().post(url).form(&form)).await.map(|_| ())
    }
}
