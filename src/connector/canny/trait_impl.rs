//! `Connector` for Canny: the engine's view. Reconcile lists every post in
//! every known status (Canny has no update time; the engine compares content
//! hashes), creates are made retry-safe by a content lookup and an admin-only
//! claim (see `create.rs`), updates fan out to `posts/update`, tag diffs and
//! `change_status`, notes roundtrip keeps for itself are internal comments,
//! and webhooks become "post X may have changed" hints.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;

use super::api::CannyConnector;
use super::create::no_internal_comments;
use super::map::{NOTE_PREFIX, admin_and_public_urls, post_to_record};
use super::webhook::verify_canny_delivery;
use crate::connector::{ChangedPage, Connector, DeliveryHint, WebhookRejection, Written};
use crate::domain::{Comment, ErrorClass, FieldValue, QuotaSample, Record, RemoteError, Side};
use crate::domain::{NewRecord, Update};

use crate::connector::fields::{PostFields, post_fields, tag_deltas, validation};

fn sort_fields<'a>(
    fields: impl Iterator<Item = (&'a String, &'a FieldValue)>,
) -> Result<PostFields, RemoteError> {
    post_fields(fields, "Canny")
}

#[async_trait]
impl Connector for CannyConnector {
    fn side(&self) -> Side {
        Side::Portal
    }

    fn webhook_source(&self) -> &'static str {
        "canny"
    }

    fn url_forms(&self, url: &str) -> Vec<String> {
        admin_and_public_urls(url)
    }

    /// One page of one listed board after the other; the cursor is the
    /// skip on the first board, `board index|skip` on the others.
    async fn list_changed(
        &self,
        _since: Option<DateTime<Utc>>,
        page: Option<String>,
    ) -> Result<ChangedPage, RemoteError> {
        let bad = |p: &str| validation(format!("bad Canny page cursor '{p}'"));
        let (index, skip) = match page.as_deref() {
            None => (0, 0),
            // The first board's cursor is the skip alone; a later board's
            // is `index|skip`.
            Some(p) => match p.split_once('|') {
                Some((i, k)) => (
                    i.parse::<usize>().map_err(|_| bad(p))?,
                    k.parse::<usize>().map_err(|_| bad(p))?,
                ),
                None => (0, p.parse::<usize>().map_err(|_| bad(p))?),
            },
        };
        if index == 0 && skip == 0 {
            // A full listing starts by learning custom statuses, so posts in
            // them are not invisible to the `status` filter.
            self.discover_statuses().await?;
        }
        let boards = self.listed_boards();
        let Some(name) = boards.get(index) else {
            return Ok(ChangedPage::default());
        };
        let board = self.board_id_named(name).await?;
        let (posts, more) = self
            .list_posts_page_on(&board, skip, self.page_size())
            .await?;
        let next = skip + posts.len();
        let records = posts
            .iter()
            .map(post_to_record)
            .collect::<Result<Vec<_>, _>>()?;
        let next_page = if more && !posts.is_empty() {
            Some(if index == 0 {
                next.to_string()
            } else {
                format!("{index}|{next}")
            })
        } else if index + 1 < boards.len() {
            Some(format!("{}|0", index + 1))
        } else {
            None
        };
        Ok(ChangedPage { records, next_page })
    }

    /// The post with its comments; a post no listing has shown is checked
    /// against its board's listing first (see [`CannyConnector::held_back`]).
    async fn get(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        let Some(mut record) = self.get_record(remote_id).await? else {
            return Ok(None);
        };
        record.held = self.held_back(&record).await?;
        Ok(Some(record))
    }

    async fn create(&self, new: &NewRecord) -> Result<Record, RemoteError> {
        let f = sort_fields(new.fields.iter())?;
        let title = f
            .title
            .clone()
            .ok_or_else(|| validation("a Canny post needs a title"))?;
        let details = f.body.clone().unwrap_or_default();
        // An earlier attempt may have created the post and stopped before
        // the status and tags were applied: finish it rather than duplicate.
        let known = new.created_id.as_deref();
        let (id, current) = match self
            .find_claimed(&new.client_id, known, &title, &details)
            .await?
        {
            Some(id) => {
                let current = self.get_record(&id).await?;
                (id, current)
            }
            None => (
                self.create_claimed(&new.client_id, &title, &details)
                    .await?,
                None,
            ),
        };
        let status_now = current.as_ref().map_or("open", |r| r.status.as_str());
        if let Some(status) = f.status.as_deref().filter(|s| *s != status_now) {
            self.change_status(&id, status, false, None).await?;
        }
        let tags_now = current
            .as_ref()
            .map(|r| r.labels.clone())
            .unwrap_or_default();
        if let Some(tags) = f.tags.as_ref().filter(|t| **t != tags_now) {
            self.set_tags(&id, tags).await?;
        }
        let record = self.get_record(&id).await?.ok_or_else(|| {
            RemoteError::new(
                ErrorClass::NotFound,
                format!("post {id} vanished right after creation"),
            )
        })?;
        self.forget_created(&new.client_id);
        self.listed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(record.remote_id.clone());
        Ok(record)
    }

    fn created_id(&self, client_id: &uuid::Uuid) -> Option<String> {
        self.remembered_post(client_id)
    }

    /// `create` looks for an earlier attempt's post (by content and claim)
    /// before creating, so a retry calls `create` again.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    async fn find_created(&self, new: &NewRecord) -> Result<Option<Record>, RemoteError> {
        let f = sort_fields(new.fields.iter())?;
        let Some(title) = f.title else {
            return Ok(None);
        };
        let details = f.body.unwrap_or_default();
        match self
            .find_claimed(&new.client_id, new.created_id.as_deref(), &title, &details)
            .await?
        {
            Some(id) => self.get_record(&id).await,
            None => Ok(None),
        }
    }

    /// The post alone (`posts/retrieve`), without its comments.
    async fn get_fields(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        let Some(mut record) = self
            .retrieve_post(remote_id)
            .await?
            .map(|p| post_to_record(&p))
            .transpose()?
        else {
            return Ok(None);
        };
        record.held = self.held_back(&record).await?;
        Ok(Some(record))
    }

    /// `posts/update` for title and details, tag deltas as
    /// `posts/add_tag` / `posts/remove_tag` (a whole tag set in `fields`
    /// is made exact), then `change_status`. Canny reports no update time.
    async fn update(&self, remote_id: &str, update: &Update) -> Result<Written, RemoteError> {
        let f = sort_fields(update.fields.iter())?;
        if f.title.is_some() || f.body.is_some() {
            self.update_post(remote_id, f.title.as_deref(), f.body.as_deref())
                .await?;
        }
        if let Some(tags) = &f.tags {
            self.set_tags(remote_id, tags).await?;
        }
        for delta in tag_deltas(update, "Canny")? {
            self.apply_tag_delta(remote_id, delta).await?;
        }
        if let Some(status) = &f.status {
            self.change_status(
                remote_id,
                status,
                update.notify_voters,
                update.status_comment.as_deref(),
            )
            .await?;
        }
        Ok(Written::default())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), RemoteError> {
        self.delete_post(remote_id).await
    }

    async fn add_comment(&self, remote_id: &str, body: &str) -> Result<Comment, RemoteError> {
        let id = self.create_comment(remote_id, body, false).await?;
        Ok(Comment {
            remote_id: id,
            author: None,
            body: body.to_string(),
            created_at: None,
        })
    }

    /// An internal comment, which only the company's admins see. A plan
    /// without internal comments gets nothing (never a public comment).
    async fn add_private_note(
        &self,
        remote_id: &str,
        body: &str,
    ) -> Result<Option<Comment>, RemoteError> {
        let text = format!("{NOTE_PREFIX}{body}");
        match self.create_comment(remote_id, &text, true).await {
            Ok(id) => Ok(Some(Comment {
                remote_id: id,
                author: None,
                body: text,
                created_at: None,
            })),
            Err(e) if no_internal_comments(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn copy_voters(&self, from: &str, to: &str) -> Result<usize, RemoteError> {
        CannyConnector::copy_voters(self, from, to).await
    }

    fn set_scope(&self, scope: &crate::connector::Scope) {
        self.set_listed_boards(&scope.boards);
    }

    async fn publish_changelog(
        &self,
        entry: &crate::domain::ChangelogDraft,
    ) -> Result<String, RemoteError> {
        CannyConnector::publish_changelog(self, entry).await
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection> {
        verify_canny_delivery(&self.client.api_key(), headers, body, now, &self.nonces)
    }

    fn delivery_not_accepted(&self, hint: &DeliveryHint) {
        self.nonces.forget(&hint.delivery_id);
    }

    fn take_quota_samples(&self) -> Vec<QuotaSample> {
        self.client.take_quota_samples()
    }
}
