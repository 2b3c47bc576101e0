//! The simulated site's data, as Fider keeps it (`app/models/entity`,
//! `app/models/enum`): users with roles and API keys, posts by per-site
//! number with a status and a staff response, comments, votes, tags and the
//! admin's webhooks. Mutations live in `ops.rs`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};

/// A post's status (`enum/post_status.go`), stored as Fider's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PostStatus {
    /// 0, the default.
    Open,
    /// 1.
    Started,
    /// 2.
    Completed,
    /// 3.
    Declined,
    /// 4.
    Planned,
    /// 5: `original_id` names the original.
    Duplicate,
    /// 6: soft-deleted, never shown again.
    Deleted,
}

impl PostStatus {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            PostStatus::Open => "open",
            PostStatus::Started => "started",
            PostStatus::Completed => "completed",
            PostStatus::Declined => "declined",
            PostStatus::Planned => "planned",
            PostStatus::Duplicate => "duplicate",
            PostStatus::Deleted => "deleted",
        }
    }

    /// Parse a name as Fider does: an unknown name is `open`, silently.
    pub fn parse_lenient(name: &str) -> PostStatus {
        PostStatus::parse(name).unwrap_or(PostStatus::Open)
    }

    /// Parse a known name.
    pub fn parse(name: &str) -> Option<PostStatus> {
        Some(match name {
            "open" => PostStatus::Open,
            "started" => PostStatus::Started,
            "completed" => PostStatus::Completed,
            "declined" => PostStatus::Declined,
            "planned" => PostStatus::Planned,
            "duplicate" => PostStatus::Duplicate,
            "deleted" => PostStatus::Deleted,
            _ => return None,
        })
    }

    /// Votes can change (`Post.CanBeVoted`).
    pub fn votable(self) -> bool {
        !matches!(
            self,
            PostStatus::Completed | PostStatus::Declined | PostStatus::Duplicate
        )
    }
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Customers.
    Visitor,
    /// Staff who manage posts.
    Collaborator,
    /// Staff who also manage the site.
    Administrator,
}

impl Role {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::Collaborator => "collaborator",
            Role::Administrator => "administrator",
        }
    }

    /// Collaborator or administrator.
    pub fn is_staff(self) -> bool {
        self != Role::Visitor
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// User id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Blocked users are refused (401).
    pub blocked: bool,
    /// Their API key, if they generated one.
    pub api_key: Option<String>,
}

/// The staff response of the last status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimResponse {
    /// Public text.
    pub text: String,
    /// When the status last changed (kept when only the text changes).
    pub responded_at: DateTime<Utc>,
    /// Who responded.
    pub user_id: i64,
}

/// A post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPost {
    /// Internal id.
    pub id: i64,
    /// Per-site number the API addresses it by.
    pub number: i64,
    /// Title as sent.
    pub title: String,
    /// `slug.Make(title)`.
    pub slug: String,
    /// Markdown body.
    pub description: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Author.
    pub user_id: i64,
    /// Status.
    pub status: PostStatus,
    /// Staff response.
    pub response: Option<SimResponse>,
    /// Original post (id) of a duplicate.
    pub original_id: Option<i64>,
    /// Approved by a moderator (or moderation off).
    pub approved: bool,
}

/// A comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimComment {
    /// Comment id.
    pub id: i64,
    /// Post id.
    pub post_id: i64,
    /// Author.
    pub user_id: i64,
    /// Markdown text.
    pub content: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Set by an edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Soft delete.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTag {
    /// Tag id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// `slug.Make(name)`.
    pub slug: String,
    /// Hex color.
    pub color: String,
    /// Visible to visitors.
    pub public: bool,
}

/// Webhook types (`enum/webhook_type.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WebhookType {
    /// A post was created.
    NewPost,
    /// A comment was added.
    NewComment,
    /// A post's status changed.
    ChangeStatus,
    /// A post was deleted.
    DeletePost,
}

impl WebhookType {
    /// Fider's name.
    pub fn name(self) -> &'static str {
        match self {
            WebhookType::NewPost => "new_post",
            WebhookType::NewComment => "new_comment",
            WebhookType::ChangeStatus => "change_status",
            WebhookType::DeletePost => "delete_post",
        }
    }

    /// Parse Fider's name.
    pub fn parse(name: &str) -> Option<WebhookType> {
        [
            WebhookType::NewPost,
            WebhookType::NewComment,
            WebhookType::ChangeStatus,
            WebhookType::DeletePost,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

/// A webhook's status (`enum/webhook_status.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookStatus {
    /// Triggered.
    Enabled,
    /// Switched off by the admin.
    Disabled,
    /// Switched off by a failed delivery.
    Failed,
}

/// One webhook an admin set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimWebhook {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Type.
    pub kind: WebhookType,
    /// Status.
    pub status: WebhookStatus,
    /// URL template.
    pub url: String,
    /// Content template.
    pub content: String,
    /// HTTP method.
    pub method: String,
    /// Static headers.
    pub headers: Vec<(String, String)>,
}

/// Everything the site holds.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Users by id.
    pub users: BTreeMap<i64, SimUser>,
    /// Posts by id.
    pub posts: BTreeMap<i64, SimPost>,
    /// Comments by id.
    pub comments: BTreeMap<i64, SimComment>,
    /// Tags by id.
    pub tags: BTreeMap<i64, SimTag>,
    /// (post id, tag id).
    pub post_tags: BTreeSet<(i64, i64)>,
    /// (post id, user id) → when.
    pub votes: BTreeMap<(i64, i64), DateTime<Utc>>,
    /// Webhooks by id.
    pub webhooks: BTreeMap<i64, SimWebhook>,
    /// The next id of any kind.
    pub next_id: i64,
    /// Posts by untrusted visitors wait for a moderator.
    pub moderation: bool,
    /// Status-change notifications sent to subscribers.
    pub notifications: u64,
    /// The site's URL (for `post_url` in webhooks).
    pub site_url: String,
}

/// `gosimple/slug`'s `slug.Make` for the ASCII titles the simulator sees:
/// lower case, every run of other characters one `-`, trimmed.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Go's `time.Time` in JSON (RFC 3339 with fractional seconds).
pub fn json_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl State {
    /// A fresh id.
    pub fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// The user an API key belongs to.
    pub fn user_by_key(&self, key: &str) -> Option<&SimUser> {
        self.users
            .values()
            .find(|u| u.api_key.as_deref() == Some(key))
    }

    /// A live post by number (deleted posts are not found).
    pub fn post_by_number(&self, number: i64) -> Option<&SimPost> {
        self.posts
            .values()
            .find(|p| p.number == number && p.status != PostStatus::Deleted)
    }

    /// A live post with this slug.
    pub fn post_by_slug(&self, slug: &str) -> Option<&SimPost> {
        self.posts
            .values()
            .find(|p| p.slug == slug && p.status != PostStatus::Deleted)
    }

    /// Votes on a post.
    pub fn votes_of(&self, post_id: i64) -> usize {
        self.votes.keys().filter(|(p, _)| *p == post_id).count()
    }

    /// Live approved comments on a post.
    pub fn comment_count(&self, post_id: i64) -> usize {
        self.comments
            .values()
            .filter(|c| c.post_id == post_id && c.deleted_at.is_none())
            .count()
    }

    /// Tag slugs of a post, public ones only unless `staff`.
    pub fn tag_slugs(&self, post_id: i64, staff: bool) -> Vec<String> {
        self.post_tags
            .iter()
            .filter(|(p, _)| *p == post_id)
            .filter_map(|(_, t)| self.tags.get(t))
            .filter(|t| staff || t.public)
            .map(|t| t.slug.clone())
            .collect()
    }

    /// A tag by slug.
    pub fn tag_by_slug(&self, slug: &str) -> Option<&SimTag> {
        self.tags.values().find(|t| t.slug == slug)
    }

    /// The next post number.
    pub fn next_number(&self) -> i64 {
        self.posts.values().map(|p| p.number).max().unwrap_or(0) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_status_names_read_as_fider_does() {
        assert_eq!(slug("Dark mode, everywhere!"), "dark-mode-everywhere");
        assert_eq!(slug("  SSO -- with Okta "), "sso-with-okta");
        assert_eq!(PostStatus::parse_lenient("paused"), PostStatus::Open);
        assert_eq!(PostStatus::parse("planned"), Some(PostStatus::Planned));
        assert!(!PostStatus::Completed.votable());
    }
}
