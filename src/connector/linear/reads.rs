//! Read operations: viewer, teams, the team catalog (states and labels),
//! changed-issue listings with Relay pagination, one issue with comments and
//! attachments, and the attachment-URL lookup that recovers lost links.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::LinearConnector;
use super::catalog::{Label, LinearTeam, TeamCatalog, WorkflowState};
use super::documents as doc;
use super::mapping::{
    CommentNode, IdRef, IssueNode, LinearAttachment, Page, RelationNode, decode,
    is_closed_as_duplicate_candidate,
};
use crate::connector::ChangedPage;
use crate::domain::{ErrorClass, Record, RemoteError};

/// The user the credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LinearUser {
    /// User UUID.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Email, when the credential may read it.
    pub email: Option<String>,
}

/// One issue as `get` reads it: the canonical record plus the links attached
/// to it (how a portal post is found again).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearIssue {
    /// The canonical record, comments included.
    pub record: Record,
    /// Attachments (links) on the issue.
    pub attachments: Vec<LinearAttachment>,
}

/// A workflow state node with its team, to drop states of other teams even if
/// a server ignores the filter.
#[derive(Deserialize)]
struct StateNode {
    #[serde(flatten)]
    state: WorkflowState,
    team: Option<IdRef>,
}

/// A label node as listed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LabelNode {
    id: String,
    name: String,
    #[serde(default)]
    is_group: bool,
    team: Option<IdRef>,
}

impl LabelNode {
    pub(super) fn into_label(self) -> Label {
        Label {
            id: self.id,
            name: self.name,
            team_id: self.team.map(|t| t.id),
            is_group: self.is_group,
        }
    }
}

fn bad_cursor(c: &str) -> RemoteError {
    RemoteError::new(
        ErrorClass::Validation,
        format!("bad Linear page cursor '{c}'"),
    )
}

/// Whether an error means "this issue does not exist" (for `Ok(None)`).
pub(super) fn is_not_found(e: &RemoteError) -> bool {
    e.class == ErrorClass::NotFound
}

impl LinearConnector {
    /// The user the credential belongs to: the cheapest check that the key
    /// works.
    pub async fn viewer(&self) -> Result<LinearUser, RemoteError> {
        let data = self.transport.request(doc::VIEWER, json!({})).await?;
        decode(&data, &["viewer"], "viewer")
    }

    /// Every team the credential can see.
    pub async fn teams(&self) -> Result<Vec<LinearTeam>, RemoteError> {
        self.all_pages(doc::TEAMS, json!({}), &["teams"], "teams")
            .await
    }

    /// The workflow states of a team.
    pub async fn workflow_states(&self, team_id: &str) -> Result<Vec<WorkflowState>, RemoteError> {
        let nodes: Vec<StateNode> = self
            .all_pages(
                doc::WORKFLOW_STATES,
                json!({ "teamId": team_id }),
                &["workflowStates"],
                "workflowStates",
            )
            .await?;
        Ok(nodes
            .into_iter()
            .filter(|n| n.team.as_ref().is_none_or(|t| t.id == team_id))
            .map(|n| n.state)
            .collect())
    }

    /// Labels usable on a team's issues (its own and the workspace's).
    pub async fn labels(&self, team_id: &str) -> Result<Vec<Label>, RemoteError> {
        let nodes: Vec<LabelNode> = self
            .all_pages(
                doc::ISSUE_LABELS,
                json!({ "teamId": team_id }),
                &["issueLabels"],
                "issueLabels",
            )
            .await?;
        Ok(nodes
            .into_iter()
            .map(LabelNode::into_label)
            .filter(|l| l.team_id.as_deref().is_none_or(|t| t == team_id))
            .collect())
    }

    /// The configured team's catalog, loaded on first use and cached.
    pub async fn catalog(&self) -> Result<Arc<TeamCatalog>, RemoteError> {
        let key = self.config.team_key.clone();
        self.team_catalog(&key).await
    }

    /// A team's catalog by key, loaded on first use and cached.
    pub async fn team_catalog(&self, key: &str) -> Result<Arc<TeamCatalog>, RemoteError> {
        let wanted = key.to_uppercase();
        let mut guard = self.catalogs.lock().await;
        if let Some(cat) = guard.get(&wanted) {
            return Ok(Arc::clone(cat));
        }
        let cat = Arc::new(self.load_catalog(key).await?);
        guard.insert(wanted, Arc::clone(&cat));
        Ok(cat)
    }

    /// Reload the configured team's catalog (a state or label was added).
    pub async fn refresh_catalog(&self) -> Result<Arc<TeamCatalog>, RemoteError> {
        let key = self.config.team_key.clone();
        self.refresh_team(&key).await
    }

    /// Reload one team's catalog.
    pub async fn refresh_team(&self, key: &str) -> Result<Arc<TeamCatalog>, RemoteError> {
        let mut guard = self.catalogs.lock().await;
        let cat = Arc::new(self.load_catalog(key).await?);
        guard.insert(key.to_uppercase(), Arc::clone(&cat));
        Ok(cat)
    }

    /// The catalog of the team with this id, loading it (by the team's key)
    /// when no loaded catalog has it.
    pub(super) async fn catalog_of_team_id(
        &self,
        team_id: &str,
    ) -> Result<Arc<TeamCatalog>, RemoteError> {
        {
            let guard = self.catalogs.lock().await;
            if let Some(cat) = guard.values().find(|c| c.team.id == team_id) {
                return Ok(Arc::clone(cat));
            }
        }
        let team = self
            .teams()
            .await?
            .into_iter()
            .find(|t| t.id == team_id)
            .ok_or_else(|| {
                RemoteError::new(
                    ErrorClass::Validation,
                    format!("no Linear team with id '{team_id}' is visible to this credential"),
                )
            })?;
        self.team_catalog(&team.key).await
    }

    /// Add a label to the cached catalog of its team (every loaded team
    /// for a workspace label) after creating it.
    pub(super) async fn remember_label(&self, label: Label) {
        let mut guard = self.catalogs.lock().await;
        for cat in guard.values_mut() {
            if label.team_id.as_deref().is_none_or(|t| t == cat.team.id) {
                let mut updated = TeamCatalog::clone(cat);
                updated.labels.push(label.clone());
                *cat = Arc::new(updated);
            }
        }
    }

    async fn load_catalog(&self, key: &str) -> Result<TeamCatalog, RemoteError> {
        let team = self
            .teams()
            .await?
            .into_iter()
            .find(|t| t.key.eq_ignore_ascii_case(key))
            .ok_or_else(|| {
                RemoteError::new(
                    ErrorClass::Validation,
                    format!("no Linear team with key '{key}' is visible to this credential"),
                )
            })?;
        let states = self.workflow_states(&team.id).await?;
        let labels = self.labels(&team.id).await?;
        Ok(TeamCatalog::new(team, states, labels))
    }

    /// Remember which team each read issue is in, so a write resolves
    /// its states and labels in that team.
    pub(super) fn note_teams(&self, records: &[Record]) {
        let mut map = self
            .issue_teams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 200_000 {
            map.clear();
        }
        for r in records {
            if let Some(t) = &r.team {
                map.insert(r.remote_id.clone(), t.clone());
            }
        }
    }

    /// The team an issue was last read in, if it was read.
    pub(super) fn team_of(&self, issue_id: &str) -> Option<String> {
        self.issue_teams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(issue_id)
            .cloned()
    }

    /// The teams listed by reconcile: the configured team and those the
    /// routes name.
    pub fn listed_teams(&self) -> Vec<String> {
        let scope = self
            .scope
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = vec![self.config.team_key.clone()];
        for t in scope {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                out.push(t);
            }
        }
        out
    }

    /// Follow a connection at `path` through every page.
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        mut variables: Value,
        path: &[&str],
        what: &str,
    ) -> Result<Vec<T>, RemoteError> {
        let mut out = Vec::new();
        loop {
            let data = self.transport.request(query, variables.clone()).await?;
            let page: Page<T> = decode::<Page<T>>(&data, path, what)?.paged(what)?;
            let next = page.next_cursor();
            out.extend(page.nodes);
            match next {
                Some(cursor) => variables["after"] = json!(cursor),
                None => return Ok(out),
            }
        }
    }

    /// One page of the listed teams' issues updated at or after `since`
    /// (all issues when `None`), archived and trashed included, most
    /// recently updated first — one team after the other. `after` is the
    /// previous page's cursor (`team index:Linear cursor`). Records carry no
    /// comments (too costly per page); `get` reads them.
    pub async fn issues_changed_page(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<&str>,
    ) -> Result<ChangedPage, RemoteError> {
        let teams = self.listed_teams();
        // The first team's cursors are Linear's own; a later team's carry
        // its place in the list: `index|cursor` (Relay cursors are base64).
        let (index, cursor) = match after {
            None => (0, None),
            Some(c) => match c.split_once('|') {
                Some((i, rest)) => (
                    i.parse::<usize>().map_err(|_| bad_cursor(c))?,
                    (!rest.is_empty()).then_some(rest),
                ),
                None => (0, Some(c)),
            },
        };
        let Some(key) = teams.get(index) else {
            return Ok(ChangedPage::default());
        };
        let catalog = self.team_catalog(key).await?;
        let mut filter = json!({ "team": { "id": { "eq": catalog.team.id } } });
        if let Some(since) = since {
            filter["updatedAt"] =
                json!({ "gte": since.to_rfc3339_opts(SecondsFormat::Millis, true) });
        }
        let variables = json!({ "filter": filter, "first": self.page_size, "after": cursor });
        let data = self
            .transport
            .request(doc::ISSUES_CHANGED, variables)
            .await?;
        let page: Page<IssueNode> =
            decode::<Page<IssueNode>>(&data, &["issues"], "issues")?.paged("issues")?;
        let next_page = match page.next_cursor() {
            Some(c) if index == 0 => Some(c),
            Some(c) => Some(format!("{index}|{c}")),
            None if index + 1 < teams.len() => Some(format!("{}|", index + 1)),
            None => None,
        };
        let mut nodes = page.nodes;
        self.read_duplicate_marks(&mut nodes).await?;
        let mut records = self.records_from_nodes(nodes, Some(catalog)).await?;
        for r in &mut records {
            r.team.get_or_insert_with(|| key.clone());
        }
        self.note_teams(&records);
        Ok(ChangedPage { records, next_page })
    }

    /// The fields (no comments) of several issues in one request, each
    /// with its team: what a batch of writes re-reads just before it is
    /// sent. Issues that are gone are left out.
    pub async fn issues_by_ids(&self, ids: &[String]) -> Result<Vec<Record>, RemoteError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(250) {
            let variables = json!({
                "filter": { "id": { "in": chunk } },
                "first": chunk.len(),
            });
            let data = self
                .transport
                .request(doc::ISSUES_BY_IDS, variables)
                .await?;
            let page: Page<IssueNode> = decode(&data, &["issues"], "issues")?;
            out.extend(self.records_from_nodes(page.nodes, None).await?);
        }
        self.note_teams(&out);
        Ok(out)
    }

    /// Fill in the relations of the listed issues that may be marked
    /// duplicates (the canceled ones), in one request: a listing selects no
    /// relations, which would cost 11 complexity points per issue on top of
    /// the 3.4 it needs.
    async fn read_duplicate_marks(&self, nodes: &mut [IssueNode]) -> Result<(), RemoteError> {
        #[derive(Deserialize)]
        struct Node {
            id: String,
            relations: Option<Page<RelationNode>>,
        }
        let ids: Vec<&str> = nodes
            .iter()
            .filter(|n| {
                n.state
                    .as_ref()
                    .is_some_and(|s| is_closed_as_duplicate_candidate(&s.kind))
            })
            .map(|n| n.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let variables = json!({ "ids": ids, "first": ids.len() });
        let data = self
            .transport
            .request(doc::ISSUE_DUPLICATES, variables)
            .await?;
        let found: Page<Node> = decode(&data, &["issues"], "issues (relations)")?;
        let mut relations: HashMap<String, Page<RelationNode>> = found
            .nodes
            .into_iter()
            .filter_map(|n| n.relations.map(|r| (n.id, r)))
            .collect();
        for node in nodes.iter_mut() {
            if let Some(r) = relations.remove(&node.id) {
                node.relations = Some(r);
            }
        }
        Ok(())
    }

    /// Every issue changed since `since`, following pages until
    /// `pageInfo.hasNextPage` is false. Duplicates (an issue updated while
    /// paging moves between pages) are dropped by id.
    pub async fn issues_changed(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Record>, RemoteError> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.issues_changed_page(since, after.as_deref()).await?;
            for r in page.records {
                if seen.insert(r.remote_id.clone()) {
                    out.push(r);
                }
            }
            match page.next_page {
                Some(cursor) => after = Some(cursor),
                None => return Ok(out),
            }
        }
    }

    /// Map listed nodes to records, naming labels through the catalog of
    /// each issue's team (`listed`: the team a listing asked for, when the
    /// nodes do not say). A label id the catalog does not know triggers one
    /// refresh of that catalog; an issue whose labels still cannot be named
    /// is re-read on its own rather than reported without them (a lost
    /// label would be synced as a removal).
    async fn records_from_nodes(
        &self,
        nodes: Vec<IssueNode>,
        listed: Option<Arc<TeamCatalog>>,
    ) -> Result<Vec<Record>, RemoteError> {
        let mut catalogs: HashMap<String, Arc<TeamCatalog>> = HashMap::new();
        if let Some(c) = &listed {
            catalogs.insert(c.team.id.clone(), Arc::clone(c));
        }
        let default_team = listed.as_ref().map(|c| c.team.id.clone());
        // An issue's team: its own (reads that select it), else the team
        // the listing was for.
        let team_of = |node: &IssueNode| {
            node.team
                .as_ref()
                .map(|t| t.id.clone())
                .or(default_team.clone())
        };
        for node in &nodes {
            let Some(team_id) = team_of(node) else {
                continue;
            };
            if !catalogs.contains_key(&team_id) {
                let cat = self.catalog_of_team_id(&team_id).await?;
                catalogs.insert(team_id.clone(), cat);
            }
        }
        let mut refreshed: BTreeSet<String> = BTreeSet::new();
        for node in &nodes {
            let Some(team_id) = team_of(node) else {
                continue;
            };
            let stale = catalogs
                .get(&team_id)
                .is_some_and(|c| !node.unknown_label_ids(c).is_empty());
            if stale && refreshed.insert(team_id.clone()) {
                let key = catalogs
                    .get(&team_id)
                    .map(|c| c.team.key.clone())
                    .unwrap_or_default();
                let cat = self.refresh_team(&key).await?;
                catalogs.insert(team_id, cat);
            }
        }
        let mut records = Vec::with_capacity(nodes.len());
        for node in nodes {
            let catalog = team_of(&node).and_then(|id| catalogs.get(&id).cloned());
            match catalog {
                Some(cat) if node.unknown_label_ids(&cat).is_empty() => {
                    records.push(node.into_record(Some(&cat))?);
                }
                _ => {
                    if let Some(issue) = self.issue(&node.id).await? {
                        records.push(issue.record);
                    }
                }
            }
        }
        Ok(records)
    }

    /// One issue with labels, all comments and attachments; `Ok(None)` when
    /// Linear says "Entity not found".
    pub async fn issue(&self, id: &str) -> Result<Option<LinearIssue>, RemoteError> {
        let data = match self
            .transport
            .request(doc::ISSUE_GET, json!({ "id": id }))
            .await
        {
            Ok(data) => data,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        if data.get("issue").is_none_or(Value::is_null) {
            return Ok(None);
        }
        let mut node: IssueNode = decode(&data, &["issue"], "issue")?;
        if let Some(cursor) = node.comments.as_ref().and_then(Page::next_cursor) {
            let rest = self.more_comments(id, cursor).await?;
            if let Some(page) = node.comments.as_mut() {
                page.nodes.extend(rest);
            }
        }
        let attachments = node.attachments.take().map(|p| p.nodes).unwrap_or_default();
        let record = node.into_record(None)?;
        self.note_teams(std::slice::from_ref(&record));
        Ok(Some(LinearIssue {
            record,
            attachments,
        }))
    }

    async fn more_comments(
        &self,
        id: &str,
        mut cursor: String,
    ) -> Result<Vec<CommentNode>, RemoteError> {
        let mut out = Vec::new();
        loop {
            let data = self
                .transport
                .request(doc::ISSUE_COMMENTS, json!({ "id": id, "after": cursor }))
                .await?;
            let page: Page<CommentNode> = decode(&data, &["issue", "comments"], "comments")?;
            let next = page.next_cursor();
            out.extend(page.nodes);
            match next {
                Some(c) => cursor = c,
                None => return Ok(out),
            }
        }
    }

    /// Every `(url, issue id)` of attachments whose URL starts with
    /// `prefix`, archived issues included.
    pub async fn attachments_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, RemoteError> {
        #[derive(Deserialize)]
        struct Node {
            url: String,
            issue: Option<IdRef>,
        }
        let nodes: Vec<Node> = self
            .all_pages(
                doc::ATTACHMENTS_BY_URL_PREFIX,
                json!({ "prefix": prefix }),
                &["attachments"],
                "attachments",
            )
            .await?;
        Ok(nodes
            .into_iter()
            .filter_map(|n| n.issue.map(|i| (n.url, i.id)))
            .collect())
    }

    /// Ids of the issues carrying an attachment with this URL (the portal
    /// post's URL), in Linear's order, without duplicates.
    pub async fn issues_for_url(&self, url: &str) -> Result<Vec<String>, RemoteError> {
        #[derive(Deserialize)]
        struct Node {
            issue: Option<IdRef>,
        }
        let data = self
            .transport
            .request(doc::ATTACHMENTS_FOR_URL, json!({ "url": url }))
            .await?;
        let page: Page<Node> = decode(&data, &["attachmentsForURL"], "attachmentsForURL")?;
        let mut ids: Vec<String> = Vec::new();
        for id in page.nodes.into_iter().filter_map(|n| n.issue.map(|i| i.id)) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
