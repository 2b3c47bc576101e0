//! Fider's response objects (`app/models/entity/*.go`), as much of them as
//! the connector reads. Extra fields are ignored; what an answer is for — a
//! post's `number`, `title`, `status` and `votesCount` — must be there: its
//! absence is a change of Fider's shape, reported as such.

use serde::Deserialize;

/// A post (`GET /api/v1/posts`, `GET /api/v1/posts/:number`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiderPost {
    /// Internal id (the API addresses posts by `number`).
    #[serde(default)]
    pub id: i64,
    /// Per-site number: the record's remote id.
    pub number: i64,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// URL slug of the title (changes with the title).
    #[serde(default)]
    pub slug: String,
    /// Markdown body.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The author.
    #[serde(default)]
    pub user: Option<FiderUser>,
    /// Whether the API key's user voted for it.
    #[serde(default)]
    pub has_voted: bool,
    /// Votes, the author's own included.
    #[serde(default)]
    pub votes_count: Option<i64>,
    /// Approved comments.
    #[serde(default)]
    pub comments_count: i64,
    /// Status name.
    #[serde(default)]
    pub status: Option<String>,
    /// The staff response that came with the last status change.
    #[serde(default)]
    pub response: Option<FiderResponse>,
    /// Tag slugs.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether a moderator approved it (or moderation is off).
    #[serde(default)]
    pub is_approved: Option<bool>,
}

/// `post.response`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiderResponse {
    /// Public response text (Markdown).
    #[serde(default)]
    pub text: String,
    /// When the status last changed.
    #[serde(default)]
    pub responded_at: Option<String>,
    /// The original post of a duplicate.
    #[serde(default)]
    pub original: Option<FiderOriginal>,
}

/// `post.response.original`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FiderOriginal {
    /// The original post's number.
    pub number: i64,
    /// Its title.
    #[serde(default)]
    pub title: String,
}

/// A user as embedded in posts and comments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FiderUser {
    /// Fider's user id.
    #[serde(default)]
    pub id: i64,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// visitor, collaborator or administrator.
    #[serde(default)]
    pub role: String,
}

/// A comment (`GET /api/v1/posts/:number/comments`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiderComment {
    /// Comment id.
    pub id: i64,
    /// Markdown text.
    #[serde(default)]
    pub content: String,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The author.
    #[serde(default)]
    pub user: Option<FiderUser>,
}

/// A tag (`GET /api/v1/tags`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiderTag {
    /// Tag id.
    #[serde(default)]
    pub id: i64,
    /// Display name.
    pub name: String,
    /// What posts' `tags` arrays and the tag routes use.
    pub slug: String,
    /// Hex color without `#`.
    #[serde(default)]
    pub color: String,
    /// Visible to visitors.
    #[serde(default)]
    pub is_public: bool,
}

/// A vote (`GET /api/v1/posts/:number/votes`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct FiderVote {
    pub user: FiderUser,
}

/// `POST /api/v1/posts` answers `{id, number, title, slug, isApproved}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CreatedPost {
    pub number: i64,
}

/// `POST …/comments` answers `{id}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CreatedComment {
    pub id: i64,
}

/// The `{}` most writes answer (extra fields ignored).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Empty {}

/// A 400's `{"errors": [{"field"?, "message"}]}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

/// One validation failure.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorItem {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: String,
}
