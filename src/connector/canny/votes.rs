//! Voters of one post counted on another: when a linked Linear issue is
//! marked a duplicate of an issue that already tracks another post, the
//! duplicate's post closes and its voters are added to the canonical post.
//! Canny's `votes/create` is idempotent (a voter has at most one vote on a
//! post, API-NOTES section 5), so repeating the whole copy after a lost
//! answer or a retry counts each voter exactly once. Canny's own
//! `posts/merge` would do more (it folds the post away) and its arguments
//! are not in any published client, so it is not used.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::json;

use super::api::CannyConnector;
use super::wire::{CannyUser, CursorPage};
use crate::domain::RemoteError;

/// Votes per v2 `votes/list` page.
const VOTES_PAGE: usize = 100;

/// One v2 `votes/list` item, as much as the copy reads.
#[derive(Debug, Deserialize)]
struct Vote {
    #[serde(default)]
    voter: Option<CannyUser>,
}

impl CannyConnector {
    /// Every voter of a post (v2 `votes/list`, cursor-paged).
    pub async fn voters(&self, post_id: &str) -> Result<BTreeSet<String>, RemoteError> {
        let mut out = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut args = json!({ "postID": post_id, "limit": VOTES_PAGE });
            if let Some(c) = &cursor {
                args["cursor"] = json!(c);
            }
            let page: CursorPage<Vote> = self.client.call_v2("votes/list", args).await?;
            out.extend(
                page.items
                    .iter()
                    .filter_map(|v| v.voter.as_ref())
                    .map(|u| u.id.clone()),
            );
            match page
                .cursor
                .filter(|_| page.has_next_page && !page.items.is_empty())
            {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Add every voter of `from` to `to` who is not one already; returns
    /// how many were added. Safe to repeat.
    pub async fn copy_voters(&self, from: &str, to: &str) -> Result<usize, RemoteError> {
        let wanted = self.voters(from).await?;
        let present = self.voters(to).await?;
        let mut added = 0;
        for voter in wanted.difference(&present) {
            let args = json!({ "postID": to, "voterID": voter });
            self.client.call_value("votes/create", args).await?;
            added += 1;
        }
        Ok(added)
    }
}
