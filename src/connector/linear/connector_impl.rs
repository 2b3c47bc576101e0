//! The [`Connector`] trait over the inherent operations, so the engine can
//! drive Linear through `dyn Connector` like any other side.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;

use super::LinearConnector;
use super::webhook::updated_from;
use crate::connector::{
    ChangedPage, Connector, DeliveryHint, UpdateEvidence, WebhookRejection, Written,
};
use crate::domain::{Comment, FieldValue, QuotaSample, Record, RemoteError, Side};
use crate::domain::{NewRecord, Update};

impl LinearConnector {
    /// Post an update's status comment, if it has one.
    async fn status_comment(&self, remote_id: &str, update: &Update) -> Result<(), RemoteError> {
        match update.status_comment.as_deref() {
            Some(body) if !body.trim().is_empty() => {
                self.create_comment(remote_id, body).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Connector for LinearConnector {
    fn side(&self) -> Side {
        Side::Linear
    }

    fn webhook_source(&self) -> &'static str {
        "linear"
    }

    /// One page of the team's issues updated at or after `since` (`gte`, so
    /// an issue updated exactly at the cursor is seen again rather than
    /// missed; the engine's diff makes the repeat harmless).
    async fn list_changed(
        &self,
        since: Option<DateTime<Utc>>,
        page: Option<String>,
    ) -> Result<ChangedPage, RemoteError> {
        self.issues_changed_page(since, page.as_deref()).await
    }

    async fn get(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        Ok(self.issue(remote_id).await?.map(|i| i.record))
    }

    async fn create(&self, new: &NewRecord) -> Result<Record, RemoteError> {
        self.create_issue(new).await
    }

    /// `issueCreate` carries the client id: a retry is answered "already
    /// exists", and `create` then fetches that issue and attaches the portal
    /// URL — which [`Connector::find_created`] alone would leave out when
    /// the first attempt timed out between the two mutations.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    /// First the client id (`issue(id:)`), then the issues linked to the
    /// portal URL, preferring one that is not archived or trashed.
    async fn find_created(&self, new: &NewRecord) -> Result<Option<Record>, RemoteError> {
        if let Some(issue) = self.issue(&new.client_id.to_string()).await? {
            return Ok(Some(issue.record));
        }
        let Some(url) = new.source_url.as_deref() else {
            return Ok(None);
        };
        let mut fallback = None;
        for id in self.issues_for_url(url).await? {
            if let Some(issue) = self.issue(&id).await? {
                if !issue.record.deleted {
                    return Ok(Some(issue.record));
                }
                fallback.get_or_insert(issue.record);
            }
        }
        Ok(fallback)
    }

    /// The issue's fields without its comments: one `issues(filter: {id})`
    /// page instead of the issue with its comments and attachments.
    async fn get_fields(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        Ok(self
            .issues_by_ids(&[remote_id.to_string()])
            .await?
            .into_iter()
            .next())
    }

    async fn get_fields_many(&self, ids: &[String]) -> Result<Vec<Record>, RemoteError> {
        self.issues_by_ids(ids).await
    }

    /// Field updates (label sets as added/removed ids), then the status
    /// comment if any. `notify_voters` is a portal notion and has no effect
    /// on Linear.
    async fn update(&self, remote_id: &str, update: &Update) -> Result<Written, RemoteError> {
        let written = self.update_issue(remote_id, update).await?;
        self.status_comment(remote_id, update).await?;
        Ok(written)
    }

    async fn update_many(
        &self,
        items: &[(String, Update)],
    ) -> Result<Vec<Result<Written, RemoteError>>, RemoteError> {
        let mut results = self.update_issues(items).await?;
        for ((id, update), result) in items.iter().zip(results.iter_mut()) {
            if result.is_ok()
                && let Err(e) = self.status_comment(id, update).await
            {
                *result = Err(e);
            }
        }
        Ok(results)
    }

    /// Trash the issue (Linear's delete; restorable for 30 days).
    async fn delete(&self, remote_id: &str) -> Result<(), RemoteError> {
        self.delete_issue(remote_id).await
    }

    async fn add_comment(&self, remote_id: &str, body: &str) -> Result<Comment, RemoteError> {
        self.create_comment(remote_id, body).await
    }

    async fn add_comment_with_id(
        &self,
        remote_id: &str,
        body: &str,
        client_id: uuid::Uuid,
    ) -> Result<Comment, RemoteError> {
        self.create_comment_with_id(remote_id, body, client_id)
            .await
    }

    /// By client id alone: every comment roundtrip posts on Linear carries one.
    async fn find_comment(
        &self,
        _remote_id: &str,
        client_id: uuid::Uuid,
        _body: &str,
    ) -> Result<Option<Comment>, RemoteError> {
        self.comment(&client_id.to_string()).await
    }

    /// From the issue's history (Linear keeps one for every change).
    async fn landed_since(
        &self,
        remote_id: &str,
        since: DateTime<Utc>,
        update: &Update,
    ) -> Result<Option<Update>, RemoteError> {
        LinearConnector::landed_since(self, remote_id, since, update)
            .await
            .map(Some)
    }

    /// `updatedFrom` of an Issue update, the state named through the team
    /// catalog (a state it cannot name is left out rather than guessed).
    async fn update_evidence(&self, body: &str) -> Option<UpdateEvidence> {
        let payload: serde_json::Value = serde_json::from_str(body).ok()?;
        let from = updated_from(&payload)?;
        let mut previous = std::collections::BTreeMap::new();
        if let Some(t) = from.title {
            previous.insert("title".to_string(), FieldValue::Text(t));
        }
        if let Some(d) = from.description {
            previous.insert("description".to_string(), FieldValue::Text(d));
        }
        if let Some(p) = from.priority {
            previous.insert("priority".to_string(), FieldValue::Number(p));
        }
        if let Some(state_id) = from.state_id {
            let key = self
                .team_of(&from.issue_id)
                .unwrap_or_else(|| self.config.team_key.clone());
            if let Ok(catalog) = self.team_catalog(&key).await
                && let Some(state) = catalog.states.iter().find(|s| s.id == state_id)
            {
                previous.insert("state".to_string(), FieldValue::Text(state.name.clone()));
            }
        }
        let (title, description, state, priority) = from.now;
        let mut current = std::collections::BTreeMap::new();
        current.insert("title".to_string(), FieldValue::Text(title));
        current.insert("description".to_string(), FieldValue::Text(description));
        current.insert("priority".to_string(), FieldValue::Number(priority));
        if let Some(state) = state {
            current.insert("state".to_string(), FieldValue::Text(state));
        }
        Some(UpdateEvidence {
            record_id: from.issue_id,
            updated_at: from.updated_at,
            previous,
            current,
        })
    }

    /// A comment: Linear is the team's own tool, not where customers read.
    async fn add_private_note(
        &self,
        remote_id: &str,
        body: &str,
    ) -> Result<Option<Comment>, RemoteError> {
        self.create_comment(remote_id, body).await.map(Some)
    }

    async fn records_linking(&self, prefix: &str) -> Result<Vec<(String, String)>, RemoteError> {
        self.attachments_with_prefix(prefix).await
    }

    fn set_scope(&self, scope: &crate::connector::Scope) {
        self.set_listed_teams(&scope.teams);
    }

    async fn shipped_in(
        &self,
        remote_id: &str,
    ) -> Result<Option<crate::domain::ShipInfo>, RemoteError> {
        self.issue_shipped_in(remote_id).await
    }

    async fn group_state(
        &self,
        group: &crate::domain::ReleaseGroup,
    ) -> Result<crate::domain::GroupState, RemoteError> {
        self.release_group_state(group).await
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection> {
        super::webhook::verify_with_keys(&self.webhook_keys(), headers, body, now)
    }

    fn take_quota_samples(&self) -> Vec<QuotaSample> {
        self.transport.quota.take()
    }

    fn take_quota_samples_with_cost(&self) -> Vec<(QuotaSample, Option<i64>)> {
        self.transport.quota.take_with_cost()
    }
}
