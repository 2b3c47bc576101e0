//! Canny's response objects, as much of them as the connector reads. Extra
//! fields are ignored and optional ones defaulted (old and new payloads
//! differ), but what a reply is for — the `posts` of a listing, a post's
//! `title`, `status` and `score` — must be there: its absence is a change of
//! Canny's shape, reported as such, never read as an empty list.

use serde::Deserialize;

/// A post (`posts/list`, `posts/retrieve`). `title`, `status` and `score`
/// are always present in Canny's post objects; when one is missing the
/// mapping refuses the post as a shape change rather than reading "" or 0.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannyPost {
    /// Canny's post id.
    pub id: String,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Body text (may be null).
    #[serde(default)]
    pub details: Option<String>,
    /// Status name (one of the six built-in statuses or a custom one).
    #[serde(default)]
    pub status: Option<String>,
    /// Vote count.
    #[serde(default)]
    pub score: Option<i64>,
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
    /// Author of the post.
    #[serde(default)]
    pub author: Option<CannyUser>,
    /// Posts merged into this one.
    #[serde(default)]
    pub merge_history: Vec<MergeEntry>,
    /// Links made by Canny's own Linear integration.
    #[serde(default)]
    pub linear: Option<LinearLinks>,
    /// The board the post is on.
    #[serde(default)]
    pub board: Option<CannyBoard>,
    /// Its category (product area), if any.
    #[serde(default)]
    pub category: Option<CannyCategory>,
}

/// A category (`post.category`, `categories/list`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannyCategory {
    /// Canny's category id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Parent category, for sub-categories.
    #[serde(default, rename = "parentID")]
    pub parent_id: Option<String>,
}

/// One `mergeHistory` entry: a post merged into this one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MergeEntry {
    /// The merged post (trimmed).
    #[serde(default)]
    pub post: Option<MergedPost>,
}

/// The trimmed post inside a `mergeHistory` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MergedPost {
    /// The merged post's id.
    pub id: String,
}

/// `post.linear`: Linear issues Canny's native integration linked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinearLinks {
    /// Issue ids or keys.
    #[serde(default, rename = "linkedIssueIDs")]
    pub linked_issue_ids: Vec<String>,
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
    /// Internal (admin-only) comment.
    #[serde(default)]
    pub internal: bool,
}

/// One v2 cursor page: `{<key>, hasNextPage, cursor}` (the key differs per
/// endpoint, so the items are read by the caller's wrapper type).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CursorPage<T> {
    #[serde(alias = "users", alias = "companies")]
    pub items: Vec<T>,
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A status change (v2 `status_changes/list` item).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StatusChange {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// `{posts, hasMore}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostPage {
    pub posts: Vec<CannyPost>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{comments, hasMore}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommentPage {
    pub comments: Vec<CannyComment>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{tags, hasMore}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagPage {
    pub tags: Vec<CannyTag>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{boards}`.
#[derive(Debug, Deserialize)]
pub(crate) struct BoardList {
    pub boards: Vec<CannyBoard>,
}

/// `{id}` from the create endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub id: String,
}
