//! Creating a post so that a retry can never make a second one, without
//! writing anything of roundtrip's where customers read. Canny's
//! `posts/create` takes no client id, so:
//!
//! 1. When an earlier attempt got the post's id back (`posts/create`
//!    answered, a later step failed), the retry reads that post by id:
//!    Canny can leave a new post out of `posts/list` (API-NOTES section 7),
//!    so only a read by id is sure to see it. The id is kept in memory and,
//!    through [`Connector::created_id`](crate::connector::Connector::created_id),
//!    with the job.
//! 2. Otherwise (the answer was lost) look for a post with exactly this
//!    title and details written by roundtrip's admin (a lookup by stable
//!    content): in `posts/list`, and by the `urlName` Canny derives from the
//!    title, which a post left out of listings still answers to.
//! 3. A post is ours when its oldest claim — an internal (admin-only)
//!    comment naming the create's client id — names this create; a post
//!    claimed by another create is left alone; an unclaimed one is claimed
//!    and adopted.
//! 4. Otherwise create it, then claim it at once.
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

/// The `urlName` Canny gives a post with this title: lowercase letters and
/// digits, every other run of characters one hyphen, none at the ends. The
/// exact rule (and what a second post with the same title gets) is not
/// documented; a guess that misses only means this lookup finds nothing.
fn url_name_for(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut gap = false;
    for ch in title.chars() {
        if ch.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(ch.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

fn same_content(p: &CannyPost, title: &str, details: &str) -> bool {
    p.title.as_deref() == Some(title) && p.details.as_deref().unwrap_or("").trim() == details.trim()
}

fn lock_created(
    c: &CannyConnector,
) -> std::sync::MutexGuard<'_, std::collections::HashMap<uuid::Uuid, String>> {
    c.created
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CannyConnector {
    /// The post `posts/create` made for `client_id` in this process, if its
    /// answer arrived.
    pub(crate) fn remembered_post(&self, client_id: &uuid::Uuid) -> Option<String> {
        lock_created(self).get(client_id).cloned()
    }

    /// The create of `client_id` is complete: nothing to remember.
    pub(crate) fn forget_created(&self, client_id: &uuid::Uuid) {
        lock_created(self).remove(client_id);
    }

    /// Posts by roundtrip's admin whose title and details are exactly these,
    /// newest first: a search by title, then the admin's newest posts (search
    /// ranking is not documented, so it is not trusted alone); when neither
    /// has one, the post with the title's `urlName`, which a post left out
    /// of listings still answers to.
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
                if same_content(&p, title, details) && seen.insert(p.id.clone()) {
                    out.push(p);
                }
            }
        }
        let name = url_name_for(title);
        if out.is_empty()
            && !name.is_empty()
            && let Some(p) = self.retrieve_post_by_url_name(&name).await?
        {
            let by_admin = p.author.as_ref().is_some_and(|a| a.id == admin);
            if by_admin && same_content(&p, title, details) && seen.insert(p.id.clone()) {
                out.push(p);
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

    /// Claim the post `post_id` for `client_id` unless another create's
    /// claim is older; `true` when it is (now) this create's.
    async fn claim_for(&self, post_id: &str, client_id: &uuid::Uuid) -> Result<bool, RemoteError> {
        match self.first_claim(post_id).await? {
            Some(owner) => Ok(owner == *client_id),
            None => {
                if !self.claim(post_id, client_id).await? {
                    return Ok(true);
                }
                // Two creates may race for one unclaimed post: the
                // oldest claim wins.
                Ok(self.first_claim(post_id).await? == Some(*client_id))
            }
        }
    }

    /// The post an earlier attempt of the create `client_id` made, claimed
    /// for it (see the module notes), or `None`. `known` is the id an
    /// earlier attempt got back from `posts/create`, if any.
    pub async fn find_claimed(
        &self,
        client_id: &uuid::Uuid,
        known: Option<&str>,
        title: &str,
        details: &str,
    ) -> Result<Option<String>, RemoteError> {
        let known = known
            .map(str::to_string)
            .or_else(|| self.remembered_post(client_id));
        if let Some(id) = known
            && self.retrieve_post(&id).await?.is_some()
            && self.claim_for(&id, client_id).await?
        {
            return Ok(Some(id));
        }
        for post in self.content_matches(title, details).await? {
            if self.claim_for(&post.id, client_id).await? {
                return Ok(Some(post.id));
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
        lock_created(self).insert(*client_id, id.clone());
        self.claim(&id, client_id).await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::url_name_for;

    #[test]
    fn url_names_are_lowercase_words_joined_by_hyphens() {
        assert_eq!(url_name_for("Dark mode"), "dark-mode");
        assert_eq!(url_name_for("  SSO (Okta) & SAML!  "), "sso-okta-saml");
        assert_eq!(url_name_for("***"), "");
    }
}
