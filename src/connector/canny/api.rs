//! The connector and Canny's operations as inherent methods: boards, posts,
//! status changes, comments, tags and users. Lists page with `limit`/`skip`
//! until `hasMore` is false (or, for the bare-array `users/list`, until a
//! short page) and are de-duplicated by id, since skip pagination over a
//! live list can repeat rows.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::client::Client;
use super::config::CannyConfig;
use super::map::{is_roundtrip_note, post_to_record};
use super::statuses::Statuses;
use super::webhook::NonceCache;
use super::wire::{
    BoardList, CannyBoard, CannyComment, CannyPost, CannyTag, CommentPage, Created, PostPage,
    TagPage,
};
use crate::domain::{ErrorClass, Record, RemoteError};

/// Roundtrip's client for one Canny board.
pub struct CannyConnector {
    pub(crate) cfg: CannyConfig,
    pub(crate) client: Client,
    /// `boards/list`, read once (and again for a board it lacks).
    boards: tokio::sync::Mutex<Option<Vec<CannyBoard>>>,
    /// Boards listed besides the configured ones (the routes' boards).
    scope: std::sync::RwLock<Vec<String>>,
    /// Post ids seen in a listing (or created by roundtrip): a post read
    /// by id that is not among them may be one its board holds back.
    pub(crate) listed: std::sync::Mutex<HashSet<String>>,
    /// The board each post was last read on (tags belong to a board).
    pub(crate) post_boards: std::sync::Mutex<std::collections::HashMap<String, String>>,
    pub(crate) admin_id: OnceCell<String>,
    pub(crate) nonces: NonceCache,
    pub(crate) statuses: Statuses,
    /// Post ids `posts/create` answered, by the create's client id, until
    /// the create completes (see `create.rs`).
    pub(crate) created: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, String>>,
}

impl fmt::Debug for CannyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CannyConnector")
            .field("cfg", &self.cfg)
            .field("admin_id", &self.admin_id.get())
            .finish_non_exhaustive()
    }
}

pub(crate) fn validation(msg: impl Into<String>) -> RemoteError {
    RemoteError::new(ErrorClass::Validation, msg)
}

impl CannyConnector {
    /// Build a connector; the board and admin are resolved on first use.
    pub fn new(cfg: CannyConfig) -> Result<CannyConnector, RemoteError> {
        let client = Client::new(&cfg)?;
        let statuses = Statuses::new(&cfg.statuses);
        Ok(CannyConnector {
            cfg,
            client,
            boards: tokio::sync::Mutex::new(None),
            scope: std::sync::RwLock::new(Vec::new()),
            listed: std::sync::Mutex::new(HashSet::new()),
            post_boards: std::sync::Mutex::new(std::collections::HashMap::new()),
            admin_id: OnceCell::new(),
            nonces: NonceCache::default(),
            statuses,
            created: std::sync::Mutex::default(),
        })
    }

    /// Use a new API key (it also signs Canny's webhooks) from now on, for
    /// a SIGHUP that re-reads secrets without a restart.
    pub fn set_api_key(&self, key: &str) {
        self.client.set_api_key(key);
    }

    /// The configuration (its `Debug` hides the key).
    pub fn config(&self) -> &CannyConfig {
        &self.cfg
    }

    /// Resolve the board and admin now, so a bad key or board name fails at
    /// start-up rather than on the first sync.
    pub async fn resolve(&self) -> Result<(), RemoteError> {
        self.board_id().await?;
        self.admin_id().await?;
        Ok(())
    }

    /// The configured board's id (looked up by name once).
    pub async fn board_id(&self) -> Result<String, RemoteError> {
        let name = self.cfg.board.clone();
        self.board_id_named(&name).await
    }

    /// A board's id by name (exact first, then ignoring case); the boards
    /// are read once, and again when a name is not among them.
    pub async fn board_id_named(&self, name: &str) -> Result<String, RemoteError> {
        let find = |boards: &[CannyBoard]| {
            boards
                .iter()
                .find(|b| b.name == name)
                .or_else(|| boards.iter().find(|b| b.name.eq_ignore_ascii_case(name)))
                .map(|b| b.id.clone())
        };
        let mut guard = self.boards.lock().await;
        if let Some(id) = guard.as_deref().and_then(find) {
            return Ok(id);
        }
        let boards = self.list_boards().await?;
        let found = find(&boards);
        *guard = Some(boards);
        found.ok_or_else(|| validation(format!("no Canny board named '{name}'")))
    }

    /// Also list these boards (the routes' boards) in reconcile.
    pub fn set_listed_boards(&self, boards: &[String]) {
        *self
            .scope
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = boards.to_vec();
    }

    /// Every board reconcile lists: the configured one, `extra_boards`,
    /// then the routes' boards.
    pub fn listed_boards(&self) -> Vec<String> {
        let scope = self
            .scope
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = vec![self.cfg.board.clone()];
        for b in self.cfg.extra_boards.iter().chain(&scope) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(b)) {
                out.push(b.clone());
            }
        }
        out
    }

    /// Remember what reads say about posts: where each is, and (`listed`)
    /// that a listing showed it.
    pub(crate) fn note_posts(&self, posts: &[CannyPost], listed: bool) {
        let mut boards = self
            .post_boards
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in posts {
            if let Some(b) = &p.board {
                boards.insert(p.id.clone(), b.id.clone());
            }
        }
        if listed {
            let mut seen = self
                .listed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.extend(posts.iter().map(|p| p.id.clone()));
        }
    }

    /// The board a post is on: as last read, else read now.
    pub(crate) async fn board_of_post(&self, post_id: &str) -> Result<String, RemoteError> {
        let known = self
            .post_boards
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(post_id)
            .cloned();
        if let Some(b) = known {
            return Ok(b);
        }
        let post = self.retrieve_post(post_id).await?.ok_or_else(|| {
            RemoteError::new(ErrorClass::NotFound, "posts/retrieve: invalid post id")
        })?;
        match post.board.map(|b| b.id) {
            Some(b) => Ok(b),
            None => self.board_id().await,
        }
    }

    /// `boards/list`.
    pub async fn list_boards(&self) -> Result<Vec<CannyBoard>, RemoteError> {
        let list: BoardList = self.client.call("boards/list", json!({})).await?;
        Ok(list.boards)
    }

    /// One page of one board's posts in every known status (built-in,
    /// configured and discovered custom ones), oldest first (new posts land
    /// at the end, so skip pages stay stable).
    pub async fn list_posts_page_on(
        &self,
        board_id: &str,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<CannyPost>, bool), RemoteError> {
        let args = json!({
            "boardID": board_id,
            "status": self.statuses.filter(),
            "sort": "oldest",
            "limit": limit,
            "skip": skip,
        });
        let page: PostPage = self.client.call("posts/list", args).await?;
        self.note_posts(&page.posts, true);
        Ok((page.posts, page.has_more))
    }

    /// One page of the configured board's posts.
    pub async fn list_posts_page(
        &self,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<CannyPost>, bool), RemoteError> {
        let board = self.board_id().await?;
        self.list_posts_page_on(&board, skip, limit).await
    }

    /// Every post on every listed board, in every configured status.
    pub async fn list_all_posts(&self) -> Result<Vec<CannyPost>, RemoteError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for name in self.listed_boards() {
            let board = self.board_id_named(&name).await?;
            let mut skip = 0;
            loop {
                let (posts, more) = self
                    .list_posts_page_on(&board, skip, self.page_size())
                    .await?;
                skip += posts.len();
                let empty = posts.is_empty();
                out.extend(posts.into_iter().filter(|p| seen.insert(p.id.clone())));
                if !more || empty {
                    break;
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn page_size(&self) -> usize {
        self.cfg.page_size.max(1)
    }

    /// `posts/retrieve`; `Ok(None)` when Canny says "invalid post id".
    pub async fn retrieve_post(&self, id: &str) -> Result<Option<CannyPost>, RemoteError> {
        match self.client.call("posts/retrieve", json!({"id": id})).await {
            Ok(p) => {
                self.note_posts(std::slice::from_ref(&p), false);
                Ok(Some(p))
            }
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `posts/retrieve` by board and `urlName` (the slug in the post's
    /// URL); `Ok(None)` when no post has it.
    pub async fn retrieve_post_by_url_name(
        &self,
        url_name: &str,
    ) -> Result<Option<CannyPost>, RemoteError> {
        let args = json!({"boardID": self.board_id().await?, "urlName": url_name});
        match self.client.call("posts/retrieve", args).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `posts/create` by the admin with exactly the given title and details
    /// (nothing of roundtrip's is added to the public text); returns the id.
    pub async fn create_post(&self, title: &str, details: &str) -> Result<String, RemoteError> {
        let args = json!({
            "authorID": self.admin_id().await?,
            "boardID": self.board_id().await?,
            "title": title,
            "details": details,
        });
        let created: Created = self.client.call("posts/create", args).await?;
        Ok(created.id)
    }

    /// `posts/update` with a new title and/or details (`None` leaves a
    /// field alone).
    pub async fn update_post(
        &self,
        id: &str,
        title: Option<&str>,
        details: Option<&str>,
    ) -> Result<(), RemoteError> {
        if title.is_none() && details.is_none() {
            return Ok(());
        }
        let mut args = json!({"postID": id});
        if let Value::Object(m) = &mut args {
            if let Some(t) = title {
                m.insert("title".into(), json!(t));
            }
            if let Some(d) = details {
                m.insert("details".into(), json!(d));
            }
        }
        self.client
            .call_value("posts/update", args)
            .await
            .map(|_| ())
    }

    /// `posts/change_status` as the admin. With a comment, the post is
    /// re-read first and nothing is sent when it already has the status:
    /// Canny posts `commentValue` again on every call, so this is what keeps
    /// a retried status change from commenting twice. Returns whether a
    /// request was sent.
    pub async fn change_status(
        &self,
        id: &str,
        status: &str,
        notify_voters: bool,
        comment: Option<&str>,
    ) -> Result<bool, RemoteError> {
        if comment.is_some() {
            let current = self.retrieve_post(id).await?.ok_or_else(|| {
                RemoteError::new(ErrorClass::NotFound, "posts/retrieve: invalid post id")
            })?;
            if current.status.as_deref() == Some(status) {
                return Ok(false);
            }
        }
        let mut args = json!({
            "postID": id,
            "changerID": self.admin_id().await?,
            "status": status,
            "shouldNotifyVoters": notify_voters,
        });
        if let (Value::Object(m), Some(c)) = (&mut args, comment) {
            m.insert("commentValue".into(), json!(c));
        }
        self.client.call_value("posts/change_status", args).await?;
        Ok(true)
    }

    /// `posts/delete`. An already-deleted post counts as deleted, so a
    /// retried delete succeeds.
    pub async fn delete_post(&self, id: &str) -> Result<(), RemoteError> {
        match self
            .client
            .call_value("posts/delete", json!({"postID": id}))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every comment on a post, oldest first (Canny lists newest first),
    /// internal ones included.
    pub async fn list_comments(&self, post_id: &str) -> Result<Vec<CannyComment>, RemoteError> {
        let mut out: Vec<CannyComment> = Vec::new();
        let mut seen = HashSet::new();
        let mut skip = 0;
        loop {
            let args = json!({"postID": post_id, "limit": self.page_size(), "skip": skip});
            let page: CommentPage = self.client.call("comments/list", args).await?;
            skip += page.comments.len();
            let empty = page.comments.is_empty();
            out.extend(
                page.comments
                    .into_iter()
                    .filter(|c| seen.insert(c.id.clone())),
            );
            if !page.has_more || empty {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// `comments/create` as the admin; returns the comment id. `internal`
    /// makes it an admin-only comment (plans without internal comments
    /// refuse it).
    pub async fn create_comment(
        &self,
        post_id: &str,
        text: &str,
        internal: bool,
    ) -> Result<String, RemoteError> {
        let mut args =
            json!({"authorID": self.admin_id().await?, "postID": post_id, "value": text});
        if internal && let Value::Object(m) = &mut args {
            m.insert("internal".into(), json!(true));
        }
        let created: Created = self.client.call("comments/create", args).await?;
        Ok(created.id)
    }

    /// Every tag on the configured board.
    pub async fn list_tags(&self) -> Result<Vec<CannyTag>, RemoteError> {
        let board = self.board_id().await?;
        self.list_tags_on(&board).await
    }

    /// Every tag on a board.
    pub async fn list_tags_on(&self, board: &str) -> Result<Vec<CannyTag>, RemoteError> {
        let mut out: Vec<CannyTag> = Vec::new();
        let mut skip = 0;
        loop {
            let args = json!({"boardID": board, "limit": self.page_size(), "skip": skip});
            let page: TagPage = self.client.call("tags/list", args).await?;
            skip += page.tags.len();
            let empty = page.tags.is_empty();
            for t in page.tags {
                if !out.iter().any(|o| o.id == t.id) {
                    out.push(t);
                }
            }
            if !page.has_more || empty {
                return Ok(out);
            }
        }
    }

    /// `tags/create` on the configured board.
    pub async fn create_tag(&self, name: &str) -> Result<CannyTag, RemoteError> {
        let board = self.board_id().await?;
        self.create_tag_on(&board, name).await
    }

    /// `tags/create` on a board.
    pub async fn create_tag_on(&self, board: &str, name: &str) -> Result<CannyTag, RemoteError> {
        let args = json!({"boardID": board, "name": name});
        self.client.call("tags/create", args).await
    }

    /// `posts/add_tag`.
    pub async fn add_tag(&self, post_id: &str, tag_id: &str) -> Result<(), RemoteError> {
        self.client
            .call_value("posts/add_tag", json!({"postID": post_id, "tagID": tag_id}))
            .await
            .map(|_| ())
    }

    /// `posts/remove_tag`.
    pub async fn remove_tag(&self, post_id: &str, tag_id: &str) -> Result<(), RemoteError> {
        self.client
            .call_value(
                "posts/remove_tag",
                json!({"postID": post_id, "tagID": tag_id}),
            )
            .await
            .map(|_| ())
    }

    /// Make the post's tags exactly `wanted` (by name, ignoring case, so an
    /// existing "Bug" tag satisfies "bug"): diff against the current tags,
    /// creating board tags that do not exist yet.
    pub async fn set_tags(
        &self,
        post_id: &str,
        wanted: &BTreeSet<String>,
    ) -> Result<(), RemoteError> {
        let post = self.retrieve_post(post_id).await?.ok_or_else(|| {
            RemoteError::new(ErrorClass::NotFound, "posts/retrieve: invalid post id")
        })?;
        let lower = |s: &str| s.to_lowercase();
        let current: BTreeSet<String> = post.tags.iter().map(|t| lower(&t.name)).collect();
        let wanted_lower: BTreeSet<String> = wanted.iter().map(|w| lower(w)).collect();
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !current.contains(&lower(w)))
            .collect();
        if !missing.is_empty() {
            let board = match &post.board {
                Some(b) => b.id.clone(),
                None => self.board_id().await?,
            };
            let board_tags = self.list_tags_on(&board).await?;
            for name in missing {
                let id = match board_tags
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(name))
                {
                    Some(t) => t.id.clone(),
                    None => self.create_tag_on(&board, name).await?.id,
                };
                self.add_tag(post_id, &id).await?;
            }
        }
        for t in post
            .tags
            .iter()
            .filter(|t| !wanted_lower.contains(&lower(&t.name)))
        {
            self.remove_tag(post_id, &t.id).await?;
        }
        Ok(())
    }

    /// Add and remove tags by name (ignoring case) without touching the
    /// post's other tags: a tag someone adds meanwhile stays. Board tags a
    /// name needs are created; removing a tag the board lacks is a no-op.
    pub async fn apply_tag_delta(
        &self,
        post_id: &str,
        delta: &crate::domain::SetDelta,
    ) -> Result<(), RemoteError> {
        if delta.is_empty() {
            return Ok(());
        }
        let board = self.board_of_post(post_id).await?;
        let board_tags = self.list_tags_on(&board).await?;
        let find = |name: &str| {
            board_tags
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(name))
                .map(|t| t.id.clone())
        };
        for name in &delta.added {
            let id = match find(name) {
                Some(id) => id,
                None => self.create_tag_on(&board, name).await?.id,
            };
            self.add_tag(post_id, &id).await?;
        }
        for name in &delta.removed {
            if let Some(id) = find(name) {
                self.remove_tag(post_id, &id).await?;
            }
        }
        Ok(())
    }

    /// A post with its comments as a canonical record; `Ok(None)` when the
    /// post is confirmed gone.
    pub async fn get_record(&self, id: &str) -> Result<Option<Record>, RemoteError> {
        let Some(post) = self.retrieve_post(id).await? else {
            return Ok(None);
        };
        let mut record = post_to_record(&post)?;
        self.statuses.learn(&record.status);
        record.comments = self
            .list_comments(id)
            .await?
            .iter()
            .filter(|c| !is_roundtrip_note(c))
            .map(super::map::comment_to_domain)
            .collect();
        Ok(Some(record))
    }
}
