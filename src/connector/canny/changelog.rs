//! Canny's changelog: `entries/create` (title, markdown details, `type`,
//! `published` — a draft when false — and `postIDs`, the posts shipped
//! together) answers `{id}`; `entries/list` pages `{entries, hasMore}` by
//! `limit`/`skip` (docs/vendors/canny.md, "Changelog"). The create takes no
//! client id and Canny has no API to delete an entry, so a retry first
//! looks for an entry an earlier attempt made: same title, linking at
//! least one of the same posts.

use serde::Deserialize;
use serde_json::{Value, json};

use super::api::CannyConnector;
use super::wire::Created;
use crate::domain::{ChangelogDraft, RemoteError};

/// Entries read per `entries/list` page while looking for our own.
const ENTRY_PAGE: usize = 100;
/// Pages read before giving up the search (newest entries come first).
const ENTRY_PAGES: usize = 10;

#[derive(Debug, Deserialize)]
struct EntryPost {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Entry {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    posts: Vec<EntryPost>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryPage {
    entries: Vec<Entry>,
    #[serde(default)]
    has_more: bool,
}

impl CannyConnector {
    /// The id of an entry an earlier attempt of `draft` made, if any.
    pub async fn find_changelog_entry(
        &self,
        draft: &ChangelogDraft,
    ) -> Result<Option<String>, RemoteError> {
        for page in 0..ENTRY_PAGES {
            let args = json!({"limit": ENTRY_PAGE, "skip": page * ENTRY_PAGE, "sort": "created"});
            let found: EntryPage = self.client.call("entries/list", args).await?;
            let hit = found.entries.iter().find(|e| {
                e.title.as_deref().map(str::trim) == Some(draft.title.trim())
                    && (draft.post_ids.is_empty()
                        || e.posts.iter().any(|p| draft.post_ids.contains(&p.id)))
            });
            if let Some(e) = hit {
                return Ok(Some(e.id.clone()));
            }
            if !found.has_more || found.entries.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Publish (or save as a draft) one changelog entry; an entry an
    /// earlier attempt made is returned instead of a second one.
    pub async fn publish_changelog(&self, draft: &ChangelogDraft) -> Result<String, RemoteError> {
        if let Some(id) = self.find_changelog_entry(draft).await? {
            return Ok(id);
        }
        let mut args = json!({
            "title": draft.title,
            "details": draft.details,
            "published": draft.publish,
            "postIDs": draft.post_ids,
        });
        if let (Value::Object(m), Some(kind)) = (&mut args, &draft.kind) {
            m.insert("type".into(), json!(kind));
        }
        let created: Created = self.client.call("entries/create", args).await?;
        Ok(created.id)
    }
}
