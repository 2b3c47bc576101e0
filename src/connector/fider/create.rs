//! Creating a post so that a retry can never make a second one. Fider's
//! `POST /api/v1/posts` takes no client id, but it refuses a title whose
//! slug another live post has, so a title names at most one post:
//!
//! 1. Before creating, look among the key owner's own posts for one with
//!    exactly this title and description: an earlier attempt that lost its
//!    answer left exactly that.
//! 2. Otherwise create it. Should Fider answer that the title "has already
//!    been posted", look once more (the earlier attempt may have landed in
//!    between); a post found then is ours, any other owner's is a title
//!    collision, refused as a validation failure that names the post.

use super::api::{FiderConnector, validation};
use super::client::{slug_taken, title_refused};
use crate::domain::RemoteError;

/// Fider's title rule: 10 to 100 bytes once runs of whitespace are one
/// space (`actions/post.go`).
fn title_bytes(title: &str) -> usize {
    title.split_whitespace().collect::<Vec<_>>().join(" ").len()
}

impl FiderConnector {
    /// The number of the key owner's post with exactly this title and
    /// description, if there is one.
    pub async fn find_own_post(
        &self,
        title: &str,
        description: &str,
    ) -> Result<Option<i64>, RemoteError> {
        Ok(self
            .own_posts()
            .await?
            .into_iter()
            .find(|p| {
                p.title.as_deref() == Some(title)
                    && p.description.as_deref().unwrap_or("").trim() == description.trim()
            })
            .map(|p| p.number))
    }

    /// Create the post unless an earlier attempt already did; its number.
    pub async fn create_once(&self, title: &str, description: &str) -> Result<i64, RemoteError> {
        if let Some(n) = self.find_own_post(title, description).await? {
            return Ok(n);
        }
        match self.create_post(title, description).await {
            Ok(n) => Ok(n),
            Err(e) if slug_taken(&e) => match self.find_own_post(title, description).await? {
                Some(n) => Ok(n),
                None => Err(validation(format!(
                    "Fider refused the title '{title}': another post's title makes the same URL slug ({}); give one of them another title",
                    e.message
                ))),
            },
            Err(e) if title_refused(&e) => Err(validation(format!(
                "Fider refused the title '{title}' ({} bytes; Fider takes 10 to 100): {}",
                title_bytes(title),
                e.message
            ))),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_length_is_measured_as_fider_does() {
        assert_eq!(title_bytes("  Dark   mode "), 9);
        assert_eq!(title_bytes("Modo oscuro ñ"), 14);
    }
}
