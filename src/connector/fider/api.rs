//! The connector and Fider's operations as inherent methods: posts,
//! statuses, comments and tags, each one documented route of
//! `app/cmd/routes.go`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Mutex, RwLock};

use http::Method;
use serde_json::json;

use super::client::Client;
use super::config::FiderConfig;
use super::map::{comment_to_domain, post_to_record};
use super::wire::{CreatedComment, CreatedPost, Empty, FiderComment, FiderPost, FiderTag};
use crate::domain::{ErrorClass, Record, RemoteError};

/// Roundtrip's client for one Fider site.
pub struct FiderConnector {
    pub(crate) cfg: FiderConfig,
    pub(crate) site: String,
    pub(crate) client: Client,
    tags: RwLock<Vec<FiderTag>>,
    /// Comment count per post as last read with its comments: a listing
    /// reads the comments of the posts whose count moved.
    pub(crate) comment_counts: Mutex<HashMap<i64, i64>>,
    /// Replaceable: a SIGHUP re-reads it.
    pub(crate) secret: RwLock<String>,
    /// Posts this process created per create (client id), until the create
    /// finished: a retry after a later step failed finds the post by it.
    pub(crate) created: Mutex<HashMap<uuid::Uuid, i64>>,
}

impl fmt::Debug for FiderConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiderConnector")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) use crate::connector::fields::validation;

/// The post number a remote id names; `None` when it cannot be one.
pub(crate) fn number(id: &str) -> Option<i64> {
    id.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

/// The post number of a record roundtrip writes to.
pub(crate) fn target(id: &str) -> Result<i64, RemoteError> {
    number(id).ok_or_else(|| validation(format!("'{id}' is not a Fider post number")))
}

/// `GET /api/v1/posts` without a status filter, the listing reconcile
/// reads: `view=all` returns open, started, planned, completed and
/// declined posts, never duplicates.
const LIST_ALL: [(&str, &str); 2] = [("view", "all"), ("limit", "all")];
/// The second listing: duplicates, which `view=all` leaves out.
const LIST_DUPLICATES: [(&str, &str); 3] = [
    ("view", "recent"),
    ("statuses", "duplicate"),
    ("limit", "all"),
];

impl FiderConnector {
    /// Build a connector; nothing is requested until first use.
    pub fn new(cfg: FiderConfig) -> Result<FiderConnector, RemoteError> {
        let client = Client::new(&cfg)?;
        Ok(FiderConnector {
            site: cfg.site(),
            secret: RwLock::new(cfg.webhook_secret.clone()),
            cfg,
            client,
            tags: RwLock::new(Vec::new()),
            comment_counts: Mutex::new(HashMap::new()),
            created: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration (its `Debug` hides the secrets).
    pub fn config(&self) -> &FiderConfig {
        &self.cfg
    }

    /// Use a new API key from now on (SIGHUP).
    pub fn set_api_key(&self, key: &str) {
        self.client.set_api_key(key);
    }

    /// Accept a new webhook secret from now on (SIGHUP).
    pub fn set_webhook_secret(&self, secret: &str) {
        *self.secret.write().unwrap_or_else(|p| p.into_inner()) = secret.to_string();
    }

    /// Check the key now (one listing of one post, and the tags), so a bad
    /// key fails at start-up rather than on the first sync.
    pub async fn resolve(&self) -> Result<(), RemoteError> {
        let _: Vec<FiderPost> = self
            .client
            .get("/posts", &[("view", "recent"), ("limit", "1")])
            .await?;
        self.refresh_tags().await?;
        Ok(())
    }

    /// Every post of the site Fider lists to the key's user (approved ones
    /// and its own), duplicates included: two requests.
    pub async fn list_posts(&self) -> Result<Vec<FiderPost>, RemoteError> {
        let mut posts: Vec<FiderPost> = self.client.get("/posts", &LIST_ALL).await?;
        let duplicates: Vec<FiderPost> = self.client.get("/posts", &LIST_DUPLICATES).await?;
        for d in duplicates {
            if !posts.iter().any(|p| p.number == d.number) {
                posts.push(d);
            }
        }
        posts.sort_by_key(|p| p.number);
        Ok(posts)
    }

    /// Posts the key's user created (newest first), in every status: where
    /// an earlier attempt of a create is looked for.
    pub async fn own_posts(&self) -> Result<Vec<FiderPost>, RemoteError> {
        let statuses = super::config::FIDER_STATUSES.join(",");
        self.client
            .get(
                "/posts",
                &[
                    ("view", "recent"),
                    ("myposts", "true"),
                    ("statuses", &statuses),
                    ("limit", "all"),
                ],
            )
            .await
    }

    /// `GET /api/v1/posts/:number`; `Ok(None)` when Fider answers 404 (no
    /// such post, or it was deleted).
    pub async fn get_post(&self, number: i64) -> Result<Option<FiderPost>, RemoteError> {
        match self.client.get(&format!("/posts/{number}"), &[]).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every comment on a post, oldest first (Fider lists newest first).
    pub async fn list_comments(&self, number: i64) -> Result<Vec<FiderComment>, RemoteError> {
        let mut out: Vec<FiderComment> = self
            .client
            .get(&format!("/posts/{number}/comments"), &[])
            .await?;
        out.reverse();
        Ok(out)
    }

    /// `POST /api/v1/posts` with exactly this title and description; the
    /// new post's number. Fider adds the key owner's vote to it.
    pub async fn create_post(&self, title: &str, description: &str) -> Result<i64, RemoteError> {
        let created: CreatedPost = self
            .client
            .send(
                Method::POST,
                "/posts",
                json!({"title": title, "description": description}),
            )
            .await?;
        Ok(created.number)
    }

    /// `PUT /api/v1/posts/:number`: title and description together (Fider
    /// blanks an omitted description).
    pub async fn update_post(
        &self,
        number: i64,
        title: &str,
        description: &str,
    ) -> Result<(), RemoteError> {
        let _: Empty = self
            .client
            .send(
                Method::PUT,
                &format!("/posts/{number}"),
                json!({"title": title, "description": description}),
            )
            .await?;
        Ok(())
    }

    /// `PUT /api/v1/posts/:number/status` with a status other than
    /// duplicate and the public response text (Fider replaces the text on
    /// every call).
    pub async fn set_status(
        &self,
        number: i64,
        status: &str,
        text: &str,
    ) -> Result<(), RemoteError> {
        if status == "duplicate" {
            return Err(validation(format!(
                "Fider marks post {number} a duplicate only together with its original post; mark it in Fider, or let Linear's duplicate reach it"
            )));
        }
        let _: Empty = self
            .client
            .send(
                Method::PUT,
                &format!("/posts/{number}/status"),
                json!({"status": status, "text": text}),
            )
            .await?;
        Ok(())
    }

    /// Mark post `number` a duplicate of `original`: Fider moves its voters
    /// there and clears its response text.
    pub async fn mark_duplicate(&self, number: i64, original: i64) -> Result<(), RemoteError> {
        let _: Empty = self
            .client
            .send(
                Method::PUT,
                &format!("/posts/{number}/status"),
                json!({"status": "duplicate", "originalNumber": original}),
            )
            .await?;
        Ok(())
    }

    /// `DELETE /api/v1/posts/:number` (administrators only). A post already
    /// gone counts as deleted, so a retried delete succeeds.
    pub async fn delete_post(&self, number: i64) -> Result<(), RemoteError> {
        match self
            .client
            .send::<Empty>(Method::DELETE, &format!("/posts/{number}"), json!({}))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/posts/:number/comments`; the new comment's id.
    pub async fn create_comment(&self, number: i64, content: &str) -> Result<i64, RemoteError> {
        let created: CreatedComment = self
            .client
            .send(
                Method::POST,
                &format!("/posts/{number}/comments"),
                json!({"content": content}),
            )
            .await?;
        Ok(created.id)
    }

    /// The users who voted for a post, oldest first.
    pub async fn voters(&self, number: i64) -> Result<Vec<i64>, RemoteError> {
        let votes: Vec<super::wire::FiderVote> = self
            .client
            .get(&format!("/posts/{number}/votes"), &[])
            .await?;
        Ok(votes.into_iter().map(|v| v.user.id).collect())
    }

    /// Make `from` a duplicate of `to` unless it already is, which moves
    /// its voters there (Fider adds each once); returns how many voters
    /// `to` gained. Repeating it adds none.
    pub async fn merge_voters(&self, from: i64, to: i64) -> Result<usize, RemoteError> {
        let post = self.get_post(from).await?.ok_or_else(|| {
            RemoteError::new(
                ErrorClass::NotFound,
                format!("Fider post {from}: not found"),
            )
        })?;
        let already = post.status.as_deref() == Some("duplicate")
            && post
                .response
                .as_ref()
                .and_then(|r| r.original.as_ref())
                .is_some_and(|o| o.number == to);
        if already {
            return Ok(0);
        }
        let before: std::collections::HashSet<i64> = self.voters(to).await?.into_iter().collect();
        self.mark_duplicate(from, to).await?;
        let after = self.voters(to).await?;
        Ok(after.iter().filter(|v| !before.contains(v)).count())
    }

    /// Read the site's tags again.
    pub async fn refresh_tags(&self) -> Result<Vec<FiderTag>, RemoteError> {
        let tags: Vec<FiderTag> = self.client.get("/tags", &[]).await?;
        *self.tags.write().unwrap_or_else(|p| p.into_inner()) = tags.clone();
        Ok(tags)
    }

    fn known_tags(&self) -> Vec<FiderTag> {
        self.tags.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Tag names by slug, read again when `slugs` names one not known yet.
    pub(crate) async fn tag_names<'a>(
        &self,
        slugs: impl Iterator<Item = &'a String>,
    ) -> Result<HashMap<String, String>, RemoteError> {
        let mut tags = self.known_tags();
        let mut slugs = slugs;
        if slugs.any(|s| !tags.iter().any(|t| &t.slug == s)) {
            tags = self.refresh_tags().await?;
        }
        Ok(tags.into_iter().map(|t| (t.slug, t.name)).collect())
    }

    /// `POST /api/v1/tags` (administrators only): a private tag, so labels
    /// roundtrip brings from Linear are not shown to customers.
    pub async fn create_tag(&self, name: &str) -> Result<FiderTag, RemoteError> {
        let tag: FiderTag = self
            .client
            .send(
                Method::POST,
                "/tags",
                json!({"name": name, "color": "8A8A8A", "isPublic": false}),
            )
            .await
            .map_err(|e| RemoteError {
                message: format!("creating the tag '{name}': {}", e.message),
                ..e
            })?;
        self.tags
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(tag.clone());
        Ok(tag)
    }

    /// `POST` or `DELETE /api/v1/posts/:number/tags/:slug`; both are no-ops
    /// when the post already is as asked.
    pub async fn tag(&self, number: i64, slug: &str, on: bool) -> Result<(), RemoteError> {
        let method = if on { Method::POST } else { Method::DELETE };
        let _: Empty = self
            .client
            .send(method, &format!("/posts/{number}/tags/{slug}"), json!({}))
            .await?;
        Ok(())
    }

    /// Add and remove tags by name (ignoring case), leaving the others.
    pub async fn change_tags(
        &self,
        number: i64,
        delta: &crate::domain::SetDelta,
    ) -> Result<(), RemoteError> {
        if delta.is_empty() {
            return Ok(());
        }
        let post = self.get_post(number).await?.ok_or_else(|| {
            RemoteError::new(
                ErrorClass::NotFound,
                format!("Fider post {number}: not found"),
            )
        })?;
        let names = self.tag_names(post.tags.iter()).await?;
        let current: BTreeSet<String> = post
            .tags
            .iter()
            .map(|s| names.get(s).cloned().unwrap_or_else(|| s.clone()))
            .collect();
        self.set_tags(number, &delta.apply(&current)).await
    }

    /// Make the post's tags exactly `wanted` (by name, ignoring case):
    /// diff against the post as it is now, creating tags the site lacks.
    pub async fn set_tags(
        &self,
        number: i64,
        wanted: &BTreeSet<String>,
    ) -> Result<(), RemoteError> {
        let post = self.get_post(number).await?.ok_or_else(|| {
            RemoteError::new(
                ErrorClass::NotFound,
                format!("Fider post {number}: not found"),
            )
        })?;
        let mut tags = self.known_tags();
        let by_name = |tags: &[FiderTag], name: &str| {
            tags.iter()
                .find(|t| t.name.eq_ignore_ascii_case(name))
                .map(|t| t.slug.clone())
        };
        if wanted.iter().any(|w| by_name(&tags, w).is_none())
            || post.tags.iter().any(|s| !tags.iter().any(|t| &t.slug == s))
        {
            tags = self.refresh_tags().await?;
        }
        let mut want_slugs = BTreeSet::new();
        for name in wanted {
            let slug = match by_name(&tags, name) {
                Some(s) => s,
                None => self.create_tag(name).await?.slug,
            };
            want_slugs.insert(slug);
        }
        for slug in want_slugs.iter().filter(|s| !post.tags.contains(s)) {
            self.tag(number, slug, true).await?;
        }
        for slug in post.tags.iter().filter(|s| !want_slugs.contains(*s)) {
            self.tag(number, slug, false).await?;
        }
        Ok(())
    }

    /// Posts as canonical records; comments are read for the posts whose
    /// comment count moved since they were last read with their comments
    /// (all of them, once, after a start), a few at a time.
    pub(crate) async fn records(&self, posts: &[FiderPost]) -> Result<Vec<Record>, RemoteError> {
        let names = self.tag_names(posts.iter().flat_map(|p| &p.tags)).await?;
        let mut records = posts
            .iter()
            .map(|p| post_to_record(p, &self.site, &names))
            .collect::<Result<Vec<_>, _>>()?;
        let stale: Vec<(usize, i64, i64)> = {
            let counts = lock(&self.comment_counts);
            posts
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    p.comments_count > 0 && counts.get(&p.number) != Some(&p.comments_count)
                })
                .map(|(i, p)| (i, p.number, p.comments_count))
                .collect()
        };
        use futures_util::StreamExt as _;
        let reads = futures_util::stream::iter(stale.into_iter().map(|(i, n, count)| async move {
            self.list_comments(n).await.map(|c| (i, n, count, c))
        }))
        .buffer_unordered(self.cfg.comment_reads.max(1))
        .collect::<Vec<_>>()
        .await;
        for read in reads {
            let (i, n, count, comments) = read?;
            records[i].comments = comments.iter().map(comment_to_domain).collect();
            lock(&self.comment_counts).insert(n, count);
        }
        Ok(records)
    }

    /// A post with its comments as a canonical record; `Ok(None)` when the
    /// post is confirmed gone (404: never existed or deleted).
    pub async fn get_record(&self, number: i64) -> Result<Option<Record>, RemoteError> {
        let Some(post) = self.get_post(number).await? else {
            return Ok(None);
        };
        let names = self.tag_names(post.tags.iter()).await?;
        let mut record = post_to_record(&post, &self.site, &names)?;
        let comments = if post.comments_count > 0 {
            self.list_comments(number).await?
        } else {
            Vec::new()
        };
        lock(&self.comment_counts).insert(number, post.comments_count);
        record.comments = comments.iter().map(comment_to_domain).collect();
        Ok(Some(record))
    }

    /// The current response text of a post (kept when only its status
    /// changes: Fider replaces the text on every status call).
    pub(crate) fn response_text(post: &FiderPost) -> String {
        post.response
            .as_ref()
            .map(|r| r.text.clone())
            .unwrap_or_default()
    }
}
