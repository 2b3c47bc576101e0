//! Posts a moderating board holds for approval. Canny's API reference (as
//! the published clients copy it) has no field or filter for moderation;
//! what is observed is that a post can be retrievable by id yet absent from
//! `posts/list` and the board's counts (API-NOTES §7). So a post read by id
//! that no listing has shown is looked for in its board's listing once: a
//! post the listing does not show is held back, and roundtrip neither
//! routes nor copies it until a listing shows it (docs/vendors/canny.md,
//! "Moderation").

use std::collections::HashSet;

use serde_json::json;

use super::api::CannyConnector;
use super::wire::PostPage;
use crate::domain::{Record, RemoteError};

impl CannyConnector {
    /// Whether the post is held back from its board's listing.
    pub async fn held_back(&self, record: &Record) -> Result<bool, RemoteError> {
        if self
            .listed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&record.remote_id)
        {
            return Ok(false);
        }
        let board = self.board_of_post(&record.remote_id).await?;
        let args = json!({
            "boardID": board,
            "search": record.title,
            "status": self.statuses.filter(),
            "sort": "newest",
            "limit": self.page_size(),
            "skip": 0,
        });
        let page: PostPage = self.client.call("posts/list", args).await?;
        let shown: HashSet<&str> = page.posts.iter().map(|p| p.id.as_str()).collect();
        let listed = shown.contains(record.remote_id.as_str());
        self.note_posts(&page.posts, true);
        Ok(!listed)
    }
}
