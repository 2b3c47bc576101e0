//! Canny's response objects, as much of them as the connector reads. Fields
//! are optional or defaulted so an extra or missing field in Canny's replies
//! (which vary between old and new payloads) never breaks a sync.

use serde::Deserialize;

/// A post (`posts/list`, `posts/retrieve`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannyPost {
    /// Canny's post id.
    pub id: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Body text (may be null).
    #[serde(default)]
    pub details: Option<String>,
    /// Status name.
    #[serde(default)]
    pub status: String,
    /// Vote count.
    #[serde(default)]
    pub score: i64,
    /// Number of comments.
    #[serde(default)]
    pub comment_count: i64,
    /// Tags on the post.
    #[serde(default)]
    pub tags: Vec<CannyTag>,
    /// Admin URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created: Option<String>,
    /// Last status change (ISO 8601).
    #[serde(default)]
    pub status_changed_at: Option<String>,
    /// ETA as Canny reads it back ("June 2026").
    #[serde(default)]
    pub eta: Option<String>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CannyTag {
    /// Canny's tag id.
    pub id: String,
    /// Tag name.
    #[serde(default)]
    pub name: String,
}

/// A board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CannyBoard {
    /// Canny's board id.
    pub id: String,
    /// Board name.
    #[serde(default)]
    pub name: String,
}

/// A user (v1 `users/list` returns a bare array of these).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannyUser {
    /// Canny's user id (what `authorID`/`changerID` take).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Email, when known.
    #[serde(default)]
    pub email: Option<String>,
    /// Only admins may change statuses.
    #[serde(default)]
    pub is_admin: bool,
}

/// A comment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CannyComment {
    /// Canny's comment id.
    pub id: String,
    /// Text (may be null when the comment is only images).
    #[serde(default)]
    pub value: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created: Option<String>,
    /// Who wrote it.
    #[serde(default)]
    pub author: Option<CannyUser>,
}

/// `{posts, hasMore}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostPage {
    #[serde(default)]
    pub posts: Vec<CannyPost>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{comments, hasMore}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommentPage {
    #[serde(default)]
    pub comments: Vec<CannyComment>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{tags, hasMore}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagPage {
    #[serde(default)]
    pub tags: Vec<CannyTag>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{boards}`.
#[derive(Debug, Deserialize)]
pub(crate) struct BoardList {
    #[serde(default)]
    pub boards: Vec<CannyBoard>,
}

/// `{id}` from the create endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub id: String,
}
