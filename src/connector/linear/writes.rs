//! Single write operations: idempotent issue creation (client-chosen id),
//! updates, archive/trash, comments, portal links and label creation.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::LinearConnector;
use super::catalog::{Label, TeamCatalog};
use super::documents as doc;
use super::mapping::{
    CommentNode, IssueNode, LinearAttachment, catalog_probe, decode, issue_input, malformed,
    update_input, wanted_labels, wanted_state,
};
use super::placement::PlacementIds;
use super::reads::{LabelNode, is_not_found};
use crate::connector::Written;
use crate::domain::{Comment, ErrorClass, FieldValue, Record, RemoteError};
use crate::domain::{NewRecord, Update};

/// Whether a classified error is Linear's answer to re-sending a create with
/// an id that already exists: the earlier attempt succeeded.
pub(super) fn is_already_exists(e: &RemoteError) -> bool {
    e.class == ErrorClass::Validation && e.message.to_ascii_lowercase().contains("already exists")
}

/// The `issueUpdate` payload's success and the issue's new `updatedAt`.
pub(super) fn written(payload: &Value) -> Result<Written, RemoteError> {
    require_success(payload, "issueUpdate")?;
    let updated_at = payload
        .get("issue")
        .and_then(|i| i.get("updatedAt"))
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    Ok(Written { updated_at })
}

/// Demand `success: true` in a mutation payload.
pub(super) fn require_success(payload: &Value, what: &str) -> Result<(), RemoteError> {
    match payload.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(()),
        Some(false) => Err(RemoteError::new(
            ErrorClass::Validation,
            format!("Linear answered success=false to {what}"),
        )),
        None => Err(malformed(what, "no `success` in the payload")),
    }
}

impl LinearConnector {
    /// A team's catalog, refreshed if the fields name a state it lacks, and
    /// with every wanted label present (missing ones are created in the
    /// team).
    pub(super) async fn catalog_for(
        &self,
        team: &str,
        fields: &[&BTreeMap<String, FieldValue>],
    ) -> Result<Arc<TeamCatalog>, RemoteError> {
        let mut catalog = self.team_catalog(team).await?;
        let labels: Vec<String> = fields.iter().flat_map(|f| wanted_labels(f)).collect();
        let state_missing = fields
            .iter()
            .filter_map(|f| wanted_state(f))
            .any(|s| catalog.state(s).is_none());
        if state_missing || !catalog.missing_labels(&labels).is_empty() {
            catalog = self.refresh_team(team).await?;
        }
        let mut missing = catalog.missing_labels(&labels);
        missing.sort_by_key(|n| n.to_lowercase());
        missing.dedup_by_key(|n| n.to_lowercase());
        if missing.is_empty() {
            return Ok(catalog);
        }
        for name in missing {
            self.create_label_in(team, &name).await?;
        }
        self.team_catalog(team).await
    }

    /// Create a label in the configured team.
    pub async fn create_label(&self, name: &str) -> Result<Label, RemoteError> {
        let key = self.config.team_key.clone();
        self.create_label_in(&key, name).await
    }

    /// Create a team label and add it to the cached catalog. If Linear says
    /// it exists (created concurrently), the catalog is reloaded instead.
    pub async fn create_label_in(&self, team: &str, name: &str) -> Result<Label, RemoteError> {
        let team_id = self.team_catalog(team).await?.team.id.clone();
        let input = json!({ "input": { "name": name, "teamId": team_id } });
        match self.transport.request(doc::ISSUE_LABEL_CREATE, input).await {
            Ok(data) => {
                let payload = &data["issueLabelCreate"];
                require_success(payload, "issueLabelCreate")?;
                let node: LabelNode = decode(payload, &["issueLabel"], "issueLabelCreate")?;
                let label = node.into_label();
                self.remember_label(label.clone()).await;
                Ok(label)
            }
            Err(e) if e.class == ErrorClass::Validation => {
                let catalog = self.refresh_team(team).await?;
                match catalog.label_id(name) {
                    Some(id) => Ok(Label {
                        id: id.to_string(),
                        name: name.to_string(),
                        team_id: Some(team_id),
                        is_group: false,
                    }),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The `IssueCreateInput` for a new record: mapped fields, the client id,
    /// the team and the placement's project and assignee.
    pub(super) fn create_input(
        new: &NewRecord,
        catalog: &TeamCatalog,
        ids: &PlacementIds,
    ) -> Result<Map<String, Value>, RemoteError> {
        let mut input = issue_input(&new.fields, catalog)?;
        input.insert("id".into(), json!(new.client_id.to_string()));
        input.insert("teamId".into(), json!(catalog.team.id));
        if let Some(p) = &ids.project_id {
            input.insert("projectId".into(), json!(p));
        }
        if let Some(a) = &ids.assignee_id {
            input.insert("assigneeId".into(), json!(a));
        }
        Ok(input)
    }

    /// Create an issue with `new.client_id` as its id, in the team, project
    /// and for the assignee its placement names, then attach the portal
    /// URL. Safe to retry: a second attempt gets Linear's "already exists",
    /// which means the first one succeeded, so that issue is fetched and
    /// returned (and the link re-attached).
    pub async fn create_issue(&self, new: &NewRecord) -> Result<Record, RemoteError> {
        let (team, ids) = self.placement_ids(new.placement.as_ref()).await?;
        let catalog = self.catalog_for(&team, &[&new.fields]).await?;
        let input = Self::create_input(new, &catalog, &ids)?;
        let record = match self
            .transport
            .request(doc::ISSUE_CREATE, json!({ "input": input }))
            .await
        {
            Ok(data) => {
                self.created_record(&data["issueCreate"], new, &catalog)
                    .await?
            }
            Err(e) if is_already_exists(&e) => self.existing_after_retry(new, e).await?,
            Err(e) => return Err(e),
        };
        self.note_teams(std::slice::from_ref(&record));
        self.link_source(&record.remote_id, new).await?;
        Ok(record)
    }

    /// The record from an `issueCreate` payload (fetched if the payload
    /// omits the issue).
    pub(super) async fn created_record(
        &self,
        payload: &Value,
        new: &NewRecord,
        catalog: &TeamCatalog,
    ) -> Result<Record, RemoteError> {
        require_success(payload, "issueCreate")?;
        if payload.get("issue").is_some_and(|i| !i.is_null()) {
            let node: IssueNode = decode(payload, &["issue"], "issueCreate")?;
            return node.into_record(Some(catalog));
        }
        self.existing_after_retry(
            new,
            malformed("issueCreate", "success without the created issue"),
        )
        .await
    }

    /// The issue an earlier attempt created; `original` is returned if Linear
    /// cannot find it after all.
    pub(super) async fn existing_after_retry(
        &self,
        new: &NewRecord,
        original: RemoteError,
    ) -> Result<Record, RemoteError> {
        tracing::info!(client_id = %new.client_id, "issue already created by an earlier attempt");
        match self.issue(&new.client_id.to_string()).await? {
            Some(issue) => Ok(issue.record),
            None => Err(original),
        }
    }

    /// Attach the portal URL to a created issue. Transient failures fail the
    /// create (its retry re-attaches); a rejected URL is only logged, since
    /// the link is a recovery aid and must not block the issue.
    pub(super) async fn link_source(
        &self,
        issue_id: &str,
        new: &NewRecord,
    ) -> Result<(), RemoteError> {
        let Some(url) = new.source_url.as_deref() else {
            return Ok(());
        };
        match self
            .link_url(issue_id, url, new.source_title.as_deref())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.class.is_transient() || e.class == ErrorClass::Auth => Err(e),
            Err(e) => {
                tracing::warn!(issue_id, error = %e, "could not attach the portal URL");
                Ok(())
            }
        }
    }

    /// The team an update is resolved in: the placement's (a move), else
    /// the team the issue was last read in, else the configured team.
    pub(super) fn update_team(&self, id: &str, update: &Update) -> String {
        update
            .placement
            .as_ref()
            .and_then(|p| p.team.clone())
            .or_else(|| self.team_of(id))
            .unwrap_or_else(|| self.config.team_key.clone())
    }

    /// The `IssueUpdateInput` of an update, resolved in its team: fields,
    /// label deltas and — for a move — the team and project.
    pub(super) async fn prepared_update(
        &self,
        id: &str,
        update: &Update,
    ) -> Result<Map<String, Value>, RemoteError> {
        let team = self.update_team(id, update);
        let probe = catalog_probe(update);
        let catalog = self.catalog_for(&team, &[&probe]).await?;
        let mut input = update_input(update, &catalog)?;
        if let Some(p) = &update.placement {
            let (_, ids) = self.placement_ids(Some(p)).await?;
            if self
                .team_of(id)
                .is_none_or(|t| !t.eq_ignore_ascii_case(&team))
            {
                input.insert("teamId".into(), json!(ids.team_id));
            }
            if let Some(project) = ids.project_id {
                input.insert("projectId".into(), json!(project));
            }
            if let Some(a) = ids.assignee_id {
                input.insert("assigneeId".into(), json!(a));
            }
        }
        Ok(input)
    }

    /// Apply mapped field values and label deltas (and a move) to one
    /// issue; returns the issue's new `updatedAt`. An update with nothing in
    /// it sends nothing.
    pub async fn update_issue(&self, id: &str, update: &Update) -> Result<Written, RemoteError> {
        if update.placement.is_none()
            && update.fields.is_empty()
            && update.deltas.values().all(|d| d.is_empty())
        {
            return Ok(Written::default());
        }
        let input = self.prepared_update(id, update).await?;
        let data = self
            .transport
            .request(doc::ISSUE_UPDATE, json!({ "id": id, "input": input }))
            .await?;
        let w = written(&data["issueUpdate"])?;
        if let Some(team) = update
            .placement
            .as_ref()
            .map(|_| self.update_team(id, update))
        {
            let mut map = self
                .issue_teams
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.insert(id.to_string(), team);
        }
        Ok(w)
    }

    /// Archive an issue (hidden, restorable).
    pub async fn archive_issue(&self, id: &str) -> Result<(), RemoteError> {
        let data = self
            .transport
            .request(doc::ISSUE_ARCHIVE, json!({ "id": id }))
            .await?;
        require_success(&data["issueArchive"], "issueArchive")
    }

    /// Move an issue to the trash (restorable for 30 days). An issue that is
    /// already gone counts as deleted, so a retried delete succeeds.
    pub async fn delete_issue(&self, id: &str) -> Result<(), RemoteError> {
        match self
            .transport
            .request(doc::ISSUE_DELETE, json!({ "id": id }))
            .await
        {
            Ok(data) => require_success(&data["issueDelete"], "issueDelete"),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `createAsUser`/`displayIconUrl` for a write on behalf of `name`, when
    /// the token acts as the application (the schema allows them only then).
    fn attribute(&self, target: &mut Map<String, Value>, name: Option<String>) {
        let Some(name) = name.filter(|_| self.acts_as_app()) else {
            return;
        };
        target.insert("createAsUser".into(), json!(name));
        if let Some(icon) = &self.config.attribution.icon_url {
            target.insert("displayIconUrl".into(), json!(icon));
        }
    }

    /// Post a markdown comment on an issue. A copy of a portal comment made
    /// with an app-actor token is attributed to its author ("Jane via Canny").
    pub async fn create_comment(&self, issue_id: &str, body: &str) -> Result<Comment, RemoteError> {
        self.post_comment(issue_id, body, None).await
    }

    /// Post a comment with a client-chosen id (`CommentCreateInput.id`). A
    /// retry after a lost answer is refused "already exists", as for an
    /// issue id (API-NOTES §6): the first attempt succeeded, so that comment
    /// is fetched and returned.
    pub async fn create_comment_with_id(
        &self,
        issue_id: &str,
        body: &str,
        client_id: uuid::Uuid,
    ) -> Result<Comment, RemoteError> {
        let id = client_id.to_string();
        match self.post_comment(issue_id, body, Some(&id)).await {
            Err(e) if is_already_exists(&e) => match self.comment(&id).await? {
                Some(c) => Ok(c),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn post_comment(
        &self,
        issue_id: &str,
        body: &str,
        client_id: Option<&str>,
    ) -> Result<Comment, RemoteError> {
        let mut fields = Map::new();
        fields.insert("issueId".into(), json!(issue_id));
        fields.insert("body".into(), json!(body));
        if let Some(id) = client_id {
            fields.insert("id".into(), json!(id));
        }
        let author = crate::sync::comments::portal_mirror_author(body)
            .map(|(who, portal)| format!("{who} via {portal}"));
        self.attribute(&mut fields, author);
        let input = json!({ "input": fields });
        let data = self.transport.request(doc::COMMENT_CREATE, input).await?;
        let payload = &data["commentCreate"];
        require_success(payload, "commentCreate")?;
        let node: CommentNode = decode(payload, &["comment"], "commentCreate")?;
        Ok(node.into_comment())
    }

    /// One comment by id; `Ok(None)` when Linear has none with that id.
    pub async fn comment(&self, id: &str) -> Result<Option<Comment>, RemoteError> {
        let data = match self
            .transport
            .request(doc::COMMENT_GET, json!({ "id": id }))
            .await
        {
            Ok(data) => data,
            // Linear answers "Entity not found: Comment" (an input error,
            // not an issue that is gone).
            Err(e) if is_not_found(&e) || e.message.contains("Entity not found: Comment") => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if data.get("comment").is_none_or(Value::is_null) {
            return Ok(None);
        }
        let node: CommentNode = decode(&data, &["comment"], "comment")?;
        Ok(Some(node.into_comment()))
    }

    /// Attach a URL to an issue (Linear keeps one attachment per URL per
    /// issue, so re-linking is harmless).
    pub async fn link_url(
        &self,
        issue_id: &str,
        url: &str,
        title: Option<&str>,
    ) -> Result<LinearAttachment, RemoteError> {
        #[derive(Deserialize)]
        struct Payload {
            attachment: LinearAttachment,
        }
        let mut vars = Map::new();
        vars.insert("issueId".into(), json!(issue_id));
        vars.insert("url".into(), json!(url));
        vars.insert("title".into(), json!(title));
        self.attribute(&mut vars, Some(self.config.attribution.portal_name.clone()));
        let vars = Value::Object(vars);
        let data = self
            .transport
            .request(doc::ATTACHMENT_LINK_URL, vars)
            .await?;
        let payload = &data["attachmentLinkURL"];
        require_success(payload, "attachmentLinkURL")?;
        let p: Payload = decode(&data, &["attachmentLinkURL"], "attachmentLinkURL")?;
        Ok(p.attachment)
    }
}
