//! The Canny simulator's in-memory state: boards, users, posts, comments,
//! tags and votes as Canny models them (API-NOTES.md section 4). Kept as
//! plain data so handlers lock it briefly, mutate, and render JSON after.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// A Canny user; `id` is what `authorID`/`changerID`/`voterID` take.
#[derive(Debug, Clone, PartialEq)]
pub struct SimUser {
    /// Canny's id for the user.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address, when known.
    pub email: Option<String>,
    /// Only admins may change a post's status.
    pub is_admin: bool,
    /// When the user was created.
    pub created: DateTime<Utc>,
}

/// A board, the container posts live on.
#[derive(Debug, Clone, PartialEq)]
pub struct SimBoard {
    /// Canny's id for the board.
    pub id: String,
    /// Board name ("Feature Requests").
    pub name: String,
    /// When the board was created.
    pub created: DateTime<Utc>,
}

/// A tag on a board.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTag {
    /// Canny's id for the tag.
    pub id: String,
    /// The board the tag belongs to.
    pub board_id: String,
    /// Tag name (1–30 characters).
    pub name: String,
    /// When the tag was created.
    pub created: DateTime<Utc>,
}

/// A Jira issue linked to a post (only used to fire the Jira link events).
#[derive(Debug, Clone, PartialEq)]
pub struct SimJiraIssue {
    /// Jira's id.
    pub id: String,
    /// Jira key ("PROJ-1").
    pub key: String,
}

/// A post. Deliberately has no update timestamp: Canny exposes none.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPost {
    /// Canny's id for the post.
    pub id: String,
    /// The board the post is on.
    pub board_id: String,
    /// Who wrote it.
    pub author_id: Option<String>,
    /// Who created it on the author's behalf (`byID`).
    pub by_id: Option<String>,
    /// Title.
    pub title: String,
    /// Body text.
    pub details: String,
    /// Status name (one of the six, or a custom one).
    pub status: String,
    /// Tags by id, in the order they were added.
    pub tag_ids: Vec<String>,
    /// Users who voted, in vote order.
    pub voter_ids: Vec<String>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last status change time.
    pub status_changed_at: DateTime<Utc>,
    /// ETA as (month 1–12, year); written `MM/YYYY`, read "Month YYYY".
    pub eta: Option<(u32, i32)>,
    /// Image URLs attached to the post.
    pub image_urls: Vec<String>,
    /// Custom fields as (id, name, value).
    pub custom_fields: Vec<(String, String, String)>,
    /// Linked Linear issue ids (`linear.linkedIssueIDs`).
    pub linear_issue_ids: Vec<String>,
    /// Linked Jira issues.
    pub jira_issues: Vec<SimJiraIssue>,
    /// Slug fixed at creation, used in the URL and `urlName` lookups.
    pub url_name: String,
}

/// A comment on a post.
#[derive(Debug, Clone, PartialEq)]
pub struct SimComment {
    /// Canny's id for the comment.
    pub id: String,
    /// The post it belongs to.
    pub post_id: String,
    /// Who wrote it.
    pub author_id: String,
    /// Comment text.
    pub value: String,
    /// Internal (admin-only) comment.
    pub internal: bool,
    /// Parent comment for replies.
    pub parent_id: Option<String>,
    /// Image URLs attached.
    pub image_urls: Vec<String>,
    /// Creation time.
    pub created: DateTime<Utc>,
}

/// A recorded status change (what `shouldNotifyVoters` and the status
/// history hang on).
#[derive(Debug, Clone, PartialEq)]
pub struct SimStatusChange {
    /// The post.
    pub post_id: String,
    /// The admin who changed it.
    pub changer_id: String,
    /// The new status.
    pub status: String,
    /// Whether voters were emailed.
    pub notified: bool,
    /// When.
    pub created: DateTime<Utc>,
}

/// Everything the simulator knows. Ordered maps keep iteration (and so
/// listings) deterministic.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Counter behind generated ids.
    pub next_id: u64,
    /// Prefix that makes ids differ between seeds.
    pub id_prefix: u32,
    /// Boards by id.
    pub boards: BTreeMap<String, SimBoard>,
    /// Users by id.
    pub users: BTreeMap<String, SimUser>,
    /// Tags by id.
    pub tags: BTreeMap<String, SimTag>,
    /// Posts by id.
    pub posts: BTreeMap<String, SimPost>,
    /// Comments by id.
    pub comments: BTreeMap<String, SimComment>,
    /// Vote ids by (post id, voter id).
    pub votes: BTreeMap<(String, String), (String, DateTime<Utc>)>,
    /// Status-change history.
    pub status_changes: Vec<SimStatusChange>,
    /// Statuses beyond the six built-in ones that this company defined.
    pub custom_statuses: Vec<String>,
    /// Base of post URLs (the company's Canny subdomain).
    pub site_url: String,
}

/// The six statuses every Canny company has.
pub const BUILTIN_STATUSES: [&str; 6] = [
    "open",
    "under review",
    "planned",
    "in progress",
    "complete",
    "closed",
];

/// What `posts/list` shows when no `status` is given: complete and closed
/// posts are hidden (API-NOTES.md section 5).
pub const DEFAULT_LIST_STATUSES: [&str; 4] = ["open", "under review", "planned", "in progress"];

impl State {
    /// A fresh 24-hex-digit id shaped like Canny's (MongoDB ObjectIds).
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:08x}{:016x}", self.id_prefix, self.next_id)
    }

    /// Whether a status name is known to this company.
    pub fn is_status(&self, s: &str) -> bool {
        BUILTIN_STATUSES.contains(&s) || self.custom_statuses.iter().any(|c| c == s)
    }

    /// Comments on one post, oldest first.
    pub fn comments_of(&self, post_id: &str) -> Vec<&SimComment> {
        let mut out: Vec<&SimComment> = self
            .comments
            .values()
            .filter(|c| c.post_id == post_id)
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out
    }

    /// The post's admin URL, as Canny reports it in `url`.
    pub fn post_url(&self, post: &SimPost) -> String {
        let board = self
            .boards
            .get(&post.board_id)
            .map(|b| slug(&b.name))
            .unwrap_or_default();
        format!(
            "{}/admin/board/{}/p/{}",
            self.site_url, board, post.url_name
        )
    }
}

/// Lowercase, hyphen-separated slug as Canny builds `urlName`s.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "post".to_string()
    } else {
        trimmed.chars().take(60).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slug("Dark mode, please!"), "dark-mode-please");
        assert_eq!(slug("!!!"), "post");
    }

    #[test]
    fn ids_are_24_hex_and_unique() {
        let mut s = State {
            id_prefix: 0xabc,
            ..State::default()
        };
        let a = s.new_id();
        let b = s.new_id();
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
