//! The Canny simulator's in-memory state: boards, users, posts, comments,
//! tags and votes as Canny models them (API-NOTES.md section 4). Kept as
//! plain data so handlers lock it briefly, mutate, and render JSON after.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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
    /// New posts by non-admins wait for an admin's approval before they
    /// are public (an admin setting, not in the API).
    pub moderated: bool,
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
    /// Linked Linear issue ids (`linear.linkedIssueIDs`), as Canny's own
    /// Linear integration sets them.
    pub linear_issue_ids: Vec<String>,
    /// Posts merged into this one (`mergeHistory`), oldest first.
    pub merge_history: Vec<MergedPost>,
    /// Category (product area), if any.
    pub category_id: Option<String>,
    /// Linked Jira issues.
    pub jira_issues: Vec<SimJiraIssue>,
    /// Slug fixed at creation, used in the URL and `urlName` lookups.
    pub url_name: String,
    /// Left out of `posts/list` and the board's `postCount` while still
    /// answering `posts/retrieve`, as Canny does with some posts made
    /// through the API (API-NOTES.md section 7).
    pub unlisted: bool,
    /// Held by a moderating board until an admin approves it: left out of
    /// listings and counts like an unlisted post, and `post.created` is
    /// sent only on approval.
    pub awaiting_approval: bool,
}

/// A changelog entry (`entries/create`, `entries/list`).
#[derive(Debug, Clone, PartialEq)]
pub struct SimEntry {
    /// Canny's id for the entry.
    pub id: String,
    /// Title.
    pub title: String,
    /// Markdown details.
    pub details: String,
    /// `new`, `improved` or `fixed`.
    pub types: Vec<String>,
    /// Posts the entry links.
    pub post_ids: Vec<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it was published; `None` while a draft (or scheduled).
    pub published_at: Option<DateTime<Utc>>,
    /// When it is scheduled to publish, if it is.
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// A post merged into another, as the survivor's `mergeHistory` keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedPost {
    /// When the merge happened.
    pub merged_at: DateTime<Utc>,
    /// The merged post's id (it no longer exists on its own).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its details.
    pub details: String,
    /// Its image URLs.
    pub image_urls: Vec<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
}

/// A category (product area) of a board.
#[derive(Debug, Clone, PartialEq)]
pub struct SimCategory {
    /// Canny's id for the category.
    pub id: String,
    /// The board it belongs to.
    pub board_id: String,
    /// Name.
    pub name: String,
    /// Parent category, for sub-categories.
    pub parent_id: Option<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
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
    /// Canny's id for the change.
    pub id: String,
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
    /// Categories by id.
    pub categories: BTreeMap<String, SimCategory>,
    /// Changelog entries by id.
    pub entries: BTreeMap<String, SimEntry>,
    /// Every status of this company in board order: the six built-in ones
    /// unless configured otherwise, plus custom ones.
    pub statuses: Vec<String>,
    /// Whether the plan allows internal (admin-only) comments.
    pub internal_comments: bool,
    /// Base of post URLs (the company's Canny subdomain).
    pub site_url: String,
    /// Counts the JSON shapes embed (`postCount`, `commentCount`), kept in
    /// step by the insert/remove methods below so rendering a post is O(1)
    /// instead of a scan of every post and comment (which made listing and
    /// creating posts quadratic at 100k posts).
    pub counts: Counts,
    /// Bumped by every change (see [`State::touch`]); keys the
    /// `posts/list` order cache.
    pub version: u64,
    /// The filtered, sorted post ids of the last `posts/list` query, so
    /// paging through a listing sorts once instead of once per page.
    pub list_cache: Option<ListCache>,
    /// How many of the next posts made with `posts/create` are left out of
    /// listings (see [`SimPost::unlisted`]).
    pub unlist_next_created: usize,
}

/// Derived counts (see [`State::counts`]). They track the maps only
/// through the `State` methods; when the totals disagree with the maps
/// (something inserted or removed directly) the count methods fall back
/// to scanning, so a stale index can cost time but never change a reply.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    posts_per_board: HashMap<String, usize>,
    comments_per_post: HashMap<String, usize>,
    posts_per_tag: HashMap<String, usize>,
    posts: usize,
    comments: usize,
}

/// One cached `posts/list` result: valid while `version` and the post
/// count are unchanged and the query (`key`) is the same.
#[derive(Debug, Clone)]
pub struct ListCache {
    /// [`State::version`] when the list was built.
    pub version: u64,
    /// Number of posts when the list was built (a second guard).
    pub posts: usize,
    /// The filters and sort, as one string.
    pub key: String,
    /// Matching post ids in listing order.
    pub ids: Arc<Vec<String>>,
}

fn bump(map: &mut HashMap<String, usize>, key: &str, up: bool) {
    if up {
        *map.entry(key.to_string()).or_insert(0) += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
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

    /// Record that the state changed: drops the `posts/list` cache. Every
    /// write path calls it (the dispatcher for each write endpoint, the
    /// scripted edits that mutate in place).
    pub fn touch(&mut self) {
        self.version = self.version.wrapping_add(1);
        self.list_cache = None;
    }

    fn index_is_current(&self) -> bool {
        self.counts.posts == self.posts.len() && self.counts.comments == self.comments.len()
    }

    /// Add (or replace) a post, keeping the counts in step.
    pub fn insert_post(&mut self, post: SimPost) {
        self.touch();
        if let Some(old) = self.posts.remove(&post.id) {
            self.unindex_post(&old);
        }
        if !post.unlisted {
            bump(&mut self.counts.posts_per_board, &post.board_id, true);
        }
        for t in &post.tag_ids {
            bump(&mut self.counts.posts_per_tag, t, true);
        }
        self.counts.posts += 1;
        self.posts.insert(post.id.clone(), post);
    }

    fn unindex_post(&mut self, old: &SimPost) {
        if !old.unlisted {
            bump(&mut self.counts.posts_per_board, &old.board_id, false);
        }
        for t in &old.tag_ids {
            bump(&mut self.counts.posts_per_tag, t, false);
        }
        self.counts.posts = self.counts.posts.saturating_sub(1);
    }

    /// Remove a post with its comments and votes.
    pub fn remove_post(&mut self, id: &str) -> Option<SimPost> {
        self.touch();
        let old = self.posts.remove(id)?;
        self.unindex_post(&old);
        let comments: Vec<String> = self
            .comments
            .values()
            .filter(|c| c.post_id == id)
            .map(|c| c.id.clone())
            .collect();
        for c in comments {
            self.remove_comment(&c);
        }
        self.votes.retain(|(p, _), _| p != id);
        Some(old)
    }

    /// Add (or replace) a comment, keeping the counts in step.
    pub fn insert_comment(&mut self, comment: SimComment) {
        self.touch();
        if self.comments.contains_key(&comment.id) {
            self.remove_comment(&comment.id.clone());
        }
        bump(&mut self.counts.comments_per_post, &comment.post_id, true);
        self.counts.comments += 1;
        self.comments.insert(comment.id.clone(), comment);
    }

    /// Remove a comment, keeping the counts in step.
    pub fn remove_comment(&mut self, id: &str) -> Option<SimComment> {
        self.touch();
        let old = self.comments.remove(id)?;
        bump(&mut self.counts.comments_per_post, &old.post_id, false);
        self.counts.comments = self.counts.comments.saturating_sub(1);
        Some(old)
    }

    /// Add or remove a tag on a post; `true` when the tag set changed.
    pub fn set_post_tag(&mut self, post_id: &str, tag_id: &str, on: bool) -> bool {
        self.touch();
        let Some(post) = self.posts.get_mut(post_id) else {
            return false;
        };
        let has = post.tag_ids.iter().any(|t| t == tag_id);
        if on == has {
            return false;
        }
        if on {
            post.tag_ids.push(tag_id.to_string());
        } else {
            post.tag_ids.retain(|t| t != tag_id);
        }
        bump(&mut self.counts.posts_per_tag, tag_id, on);
        true
    }

    /// Posts on a board (a Board's `postCount`).
    pub fn board_post_count(&self, board_id: &str) -> usize {
        let scan = || {
            self.posts
                .values()
                .filter(|p| p.board_id == board_id && !p.unlisted)
                .count()
        };
        if !self.index_is_current() {
            return scan();
        }
        let n = self
            .counts
            .posts_per_board
            .get(board_id)
            .copied()
            .unwrap_or(0);
        debug_assert_eq!(n, scan(), "board post count index drifted");
        n
    }

    /// Comments on a post (a Post's `commentCount`).
    pub fn comment_count(&self, post_id: &str) -> usize {
        let scan = || {
            self.comments
                .values()
                .filter(|c| c.post_id == post_id)
                .count()
        };
        if !self.index_is_current() {
            return scan();
        }
        let n = self
            .counts
            .comments_per_post
            .get(post_id)
            .copied()
            .unwrap_or(0);
        debug_assert_eq!(n, scan(), "comment count index drifted");
        n
    }

    /// Posts carrying a tag (a Tag's `postCount`).
    pub fn tag_post_count(&self, tag_id: &str) -> usize {
        let scan = || {
            self.posts
                .values()
                .filter(|p| p.tag_ids.iter().any(|t| t == tag_id))
                .count()
        };
        if !self.index_is_current() {
            return scan();
        }
        let n = self.counts.posts_per_tag.get(tag_id).copied().unwrap_or(0);
        debug_assert_eq!(n, scan(), "tag post count index drifted");
        n
    }

    /// Whether a status name is known to this company.
    pub fn is_status(&self, s: &str) -> bool {
        self.statuses.iter().any(|c| c == s)
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
