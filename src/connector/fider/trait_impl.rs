//! `Connector` for Fider: the engine's view. Reconcile lists every post in
//! one page (Fider has no offsets; `limit=all` and the duplicates query),
//! creates find an earlier attempt's post by its content (Fider refuses a
//! second post with the same title slug), updates send title and
//! description together and keep the response text a status change does
//! not replace, and webhooks become "post N may have changed" hints.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;

use super::api::{FiderConnector, target, validation};
use super::webhook::EVENTS;
use crate::connector::{
    ChangedPage, Connector, DeliveryHint, WebhookRejection, WebhookWatch, Written,
};
use crate::domain::{
    ChangeKind, Comment, ErrorClass, FieldValue, QuotaSample, Record, RemoteError, Side,
};
use crate::domain::{NewRecord, Update};

use crate::connector::fields::{PostFields, post_fields, tag_deltas};

/// A post's fields, with a status Fider does not have refused before any
/// request (Fider would read an unknown name as `open`).
fn sort_fields<'a>(
    fields: impl Iterator<Item = (&'a String, &'a FieldValue)>,
) -> Result<PostFields, RemoteError> {
    let out = post_fields(fields, "Fider")?;
    if let Some(s) = out.status.as_deref()
        && !super::config::FIDER_STATUSES.contains(&s)
    {
        return Err(validation(format!(
            "'{s}' is not a Fider status (statuses: {})",
            super::config::FIDER_STATUSES.join(", ")
        )));
    }
    Ok(out)
}

fn gone(number: i64) -> RemoteError {
    RemoteError::new(
        ErrorClass::NotFound,
        format!("Fider post {number}: not found"),
    )
}

impl FiderConnector {
    /// Write a status, keeping the response text unless one is given, and
    /// sending nothing when the post already is so.
    async fn write_status(
        &self,
        number: i64,
        status: &str,
        comment: Option<&str>,
        duplicate_of: Option<&str>,
    ) -> Result<(), RemoteError> {
        let post = self.get_post(number).await?.ok_or_else(|| gone(number))?;
        if let Some(original) = duplicate_of {
            let original = target(original)?;
            let already = post.status.as_deref() == Some("duplicate")
                && post
                    .response
                    .as_ref()
                    .and_then(|r| r.original.as_ref())
                    .is_some_and(|o| o.number == original);
            if !already {
                self.mark_duplicate(number, original).await?;
            }
            return Ok(());
        }
        let current = Self::response_text(&post);
        let text = comment.unwrap_or(&current);
        if post.status.as_deref() == Some(status) && text == current {
            return Ok(());
        }
        self.set_status(number, status, text).await
    }
}

#[async_trait]
impl Connector for FiderConnector {
    fn side(&self) -> Side {
        Side::Portal
    }

    fn webhook_source(&self) -> &'static str {
        "fider"
    }

    async fn list_changed(
        &self,
        _since: Option<DateTime<Utc>>,
        _page: Option<String>,
    ) -> Result<ChangedPage, RemoteError> {
        let posts = self.list_posts().await?;
        Ok(ChangedPage {
            records: self.records(&posts).await?,
            next_page: None,
        })
    }

    async fn get(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        match super::api::number(remote_id) {
            Some(n) => self.get_record(n).await,
            None => Ok(None),
        }
    }

    async fn create(&self, new: &NewRecord) -> Result<Record, RemoteError> {
        let f = sort_fields(new.fields.iter())?;
        let title = f
            .title
            .clone()
            .ok_or_else(|| validation("a Fider post needs a title"))?;
        let description = f.body.clone().unwrap_or_default();
        // A post this create already made (its answer kept with the job,
        // or remembered here) is finished, not made again.
        let known = new
            .created_id
            .as_deref()
            .and_then(super::api::number)
            .or_else(|| super::api::lock(&self.created).get(&new.client_id).copied());
        let number = match known {
            Some(n) if self.get_post(n).await?.is_some() => n,
            _ => self.create_once(&title, &description).await?,
        };
        super::api::lock(&self.created).insert(new.client_id, number);
        if let Some(status) = f.status.as_deref().filter(|s| *s != "open") {
            self.write_status(number, status, None, None).await?;
        }
        if let Some(tags) = &f.tags {
            self.set_tags(number, tags).await?;
        }
        let record = self.get_record(number).await?.ok_or_else(|| gone(number))?;
        super::api::lock(&self.created).remove(&new.client_id);
        Ok(record)
    }

    fn created_id(&self, client_id: &uuid::Uuid) -> Option<String> {
        super::api::lock(&self.created)
            .get(client_id)
            .map(i64::to_string)
    }

    /// The post alone, without its comments.
    async fn get_fields(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        let Some(n) = super::api::number(remote_id) else {
            return Ok(None);
        };
        let Some(post) = self.get_post(n).await? else {
            return Ok(None);
        };
        let names = self.tag_names(post.tags.iter()).await?;
        super::map::post_to_record(&post, &self.site, &names).map(Some)
    }

    /// `create` looks for an earlier attempt's post before creating, so a
    /// retry calls `create` again.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    async fn find_created(&self, new: &NewRecord) -> Result<Option<Record>, RemoteError> {
        let f = sort_fields(new.fields.iter())?;
        let Some(title) = f.title else {
            return Ok(None);
        };
        match self
            .find_own_post(&title, f.body.as_deref().unwrap_or(""))
            .await?
        {
            Some(n) => self.get_record(n).await,
            None => Ok(None),
        }
    }

    /// Title and description together, tags (a whole set made exact, or
    /// names added and removed), then the status or the duplicate mark.
    /// Fider reports no update time.
    async fn update(&self, remote_id: &str, update: &Update) -> Result<Written, RemoteError> {
        let number = target(remote_id)?;
        let f = sort_fields(update.fields.iter())?;
        if f.title.is_some() || f.body.is_some() {
            // Fider takes both or blanks the description: fill in the one
            // not being changed from the post as it is now.
            let post = self.get_post(number).await?.ok_or_else(|| gone(number))?;
            let title = f.title.clone().or(post.title.clone()).unwrap_or_default();
            let description = f
                .body
                .clone()
                .or(post.description.clone())
                .unwrap_or_default();
            if post.title.as_deref() != Some(title.as_str())
                || post.description.as_deref().unwrap_or("") != description
            {
                self.update_post(number, &title, &description)
                    .await
                    .map_err(|e| match super::client::title_refused(&e) {
                        true => validation(format!(
                            "Fider refused the title '{title}' (it takes 10 to 100 bytes, and no two posts may share a title's slug): {}",
                            e.message
                        )),
                        false => e,
                    })?;
            }
        }
        if let Some(tags) = &f.tags {
            self.set_tags(number, tags).await?;
        }
        for delta in tag_deltas(update, "Fider")? {
            self.change_tags(number, delta).await?;
        }
        if f.status.is_some() || update.duplicate_of.is_some() {
            let status = f.status.as_deref().unwrap_or("duplicate");
            self.write_status(
                number,
                status,
                update.status_comment.as_deref(),
                update.duplicate_of.as_deref(),
            )
            .await?;
        }
        Ok(Written::default())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), RemoteError> {
        self.delete_post(target(remote_id)?).await
    }

    async fn add_comment(&self, remote_id: &str, body: &str) -> Result<Comment, RemoteError> {
        let id = self.create_comment(target(remote_id)?, body).await?;
        Ok(Comment {
            remote_id: id.to_string(),
            author: None,
            body: body.to_string(),
            created_at: None,
        })
    }

    /// Fider moves a duplicate's voters to its original when the duplicate
    /// is marked: `from` is marked a duplicate of `to` unless it already is.
    async fn copy_voters(&self, from: &str, to: &str) -> Result<usize, RemoteError> {
        self.merge_voters(target(from)?, target(to)?).await
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection> {
        self.verify_delivery(headers, body, now)
    }

    fn verify_webhook_path(
        &self,
        path: &str,
        _headers: &HeaderMap,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection> {
        self.verify_delivery_at(path, body)
    }

    fn webhook_watch(&self) -> Option<WebhookWatch> {
        let [new_post, new_comment, change_status, delete_post] = EVENTS;
        Some(WebhookWatch {
            vendor: "Fider".into(),
            events: vec![
                (ChangeKind::Created, new_post),
                (ChangeKind::Commented, new_comment),
                (ChangeKind::StatusChanged, change_status),
                (ChangeKind::Deleted, delete_post),
            ],
            grace: self.cfg.webhook_silence.max(Duration::from_millis(1)),
            advice: format!(
                "Fider turns a webhook off after one failed delivery: open {}/admin/webhooks, edit that roundtrip webhook, switch Enabled on and save (`roundtrip config fider-webhook-template` prints its settings)",
                self.site
            ),
        })
    }

    fn take_quota_samples(&self) -> Vec<QuotaSample> {
        self.client.take_quota_samples()
    }
}
