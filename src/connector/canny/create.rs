//! Creating a post so that a retry can never make a second one, without
//! writing anything of roundtrip's where customers read. Canny's
//! `posts/create` takes no client id, so:
//!
//! 1. Before creating, look for a post with exactly this title and details
//!    written by roundtrip's admin (a lookup by stable content): an earlier
//!    attempt that timed out after Canny created the post left exactly that.
//! 2. A post is ours when its oldest claim — an internal (admin-only)
//!    comment naming the create's client id — names this create; a post
//!    claimed by another create is left alone; an unclaimed one is claimed
//!    and adopted.
//! 3. Otherwise create it, then claim it at once.
//!
//! On a plan without internal comments the claim is skipped and the content
//! lookup alone decides.

use std::collections::HashSet;

use serde_json::json;

use super::api::CannyConnector;
use super::map::{claim_text, claimed_id};
use super::wire::{CannyPost, PostPage};
use crate::domain::{ErrorClass, RemoteError};

/// Canny's answer to an internal comment on a plan without them.
pub(crate) fn no_internal_comments(e: &RemoteError) -> bool {
    e.class == ErrorClass::Validation && e.message.contains("does not support internal comments")
}

impl CannyConnector {
    /// Posts by roundtrip's admin whose title and details are exactly these,
    /// newest first: a search by title, then the admin's newest posts (search
    /// ranking is not documented, so it is not trusted alone).
    async fn content_matches(
        &self,
        title: &str,
        details: &str,
    ) -> Result<Vec<CannyPost>, RemoteError> {
        let board = self.board_id().await?;
        let admin = self.admin_id().await?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for search in [Some(title), None] {
            let mut args = json!({
                "boardID": board,
                "authorID": admin,
                "status": self.statuses.filter(),
                "sort": "newest",
                "limit": self.page_size(),
                "skip": 0,
            });
            if let Some(q) = search {
                args["search"] = json!(q);
            }
            let page: PostPage = self.client.call("posts/list", args).await?;
            for p in page.posts {
                let same = p.title.as_deref() == Some(title)
                    && p.details.as_deref().unwrap_or("").trim() == details.trim();
                if same && seen.insert(p.id.clone()) {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }

    /// The oldest claim on a post, if any.
    async fn first_claim(&self, post_id: &str) -> Result<Option<uuid::Uuid>, RemoteError> {
        Ok(self
            .list_comments(post_id)
            .await?
            .iter()
            .find_map(claimed_id))
    }

    /// Claim a post for `client_id` with an internal comment. `Ok(false)`
    /// when the plan has no internal comments (nothing was written).
    pub(crate) async fn claim(
        &self,
        post_id: &str,
        client_id: &uuid::Uuid,
    ) -> Result<bool, RemoteError> {
        match self
            .create_comment(post_id, &claim_text(client_id), true)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if no_internal_comments(&e) => {
                tracing::info!(
                    post_id,
                    "Canny plan has no internal comments; created post left unclaimed"
                );
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The post an earlier attempt of the create `client_id` made, claimed
    /// for it (see the module notes), or `None`.
    pub async fn find_claimed(
        &self,
        client_id: &uuid::Uuid,
        title: &str,
        details: &str,
    ) -> Result<Option<String>, RemoteError> {
        for post in self.content_matches(title, details).await? {
            match self.first_claim(&post.id).await? {
                Some(owner) if owner == *client_id => return Ok(Some(post.id)),
                Some(_) => continue,
                None => {
                    if !self.claim(&post.id, client_id).await? {
                        return Ok(Some(post.id));
                    }
                    // Two creates may race for one unclaimed post: the
                    // oldest claim wins.
                    if self.first_claim(&post.id).await? == Some(*client_id) {
                        return Ok(Some(post.id));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Create a post and claim it for `client_id`; returns its id.
    pub async fn create_claimed(
        &self,
        client_id: &uuid::Uuid,
        title: &str,
        details: &str,
    ) -> Result<String, RemoteError> {
        let id = self.create_post(title, details).await?;
        self.claim(&id, client_id).await?;
        Ok(id)
    }
}
