//! The simulator's state and every change to it.
//!
//! All writes (API mutations and scripted "human" edits alike) go through
//! these methods, so `updatedAt` is always bumped and a webhook event is
//! always queued — the two things a sync engine relies on. The clock is
//! strictly monotonic (at least 1 ms between changes) so `updatedAt`
//! comparisons and keyset cursors never see ties between successive writes.

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::{Value, json};

use super::model::*;
use crate::sim::journal::{Journal, JournalKind, JournalValue};

/// A change for the webhook sender, in the order it happened.
#[derive(Debug, Clone)]
pub struct Change {
    /// `create`, `update` or `remove`.
    pub action: &'static str,
    /// `Issue`, `Comment`, `IssueLabel` or `Attachment`.
    pub kind: &'static str,
    /// The entity after the change.
    pub data: Value,
    /// Previous values of changed fields (updates only).
    pub updated_from: Option<Value>,
    /// Web URL of the entity.
    pub url: Option<String>,
    /// Who made the change.
    pub actor_id: Option<String>,
    /// When it happened.
    pub at: Time,
}

/// Why a write was refused; the executor maps these to Linear's errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// An id did not resolve ("Entity not found: Issue").
    #[error("Entity not found: {0}")]
    NotFound(&'static str),
    /// A client-provided id is already taken.
    #[error("Entity {kind} with id {id} already exists.")]
    AlreadyExists {
        /// Entity type name.
        kind: &'static str,
        /// The duplicate id.
        id: String,
    },
    /// Any other invalid input, with Linear-like wording.
    #[error("{0}")]
    Invalid(String),
}

/// What `issueCreate` may set.
#[derive(Debug, Clone, Default)]
pub struct IssueDraft {
    /// Client-provided UUID.
    pub id: Option<String>,
    /// Team (id or key).
    pub team_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Priority 0..=4.
    pub priority: Option<i64>,
    /// Workflow state; team default when absent.
    pub state_id: Option<String>,
    /// Labels.
    pub label_ids: Vec<String>,
    /// Assignee.
    pub assignee_id: Option<String>,
    /// Project.
    pub project_id: Option<String>,
    /// Cycle.
    pub cycle_id: Option<String>,
}

/// What `issueUpdate` may change; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct IssuePatch {
    /// New title.
    pub title: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New state.
    pub state_id: Option<String>,
    /// New priority.
    pub priority: Option<i64>,
    /// Replace labels.
    pub label_ids: Option<Vec<String>>,
    /// Add labels.
    pub added_label_ids: Vec<String>,
    /// Remove labels.
    pub removed_label_ids: Vec<String>,
    /// New assignee (`Some(None)` unassigns).
    pub assignee_id: Option<Option<String>>,
    /// New project (`Some(None)` takes it out of its project).
    pub project_id: Option<Option<String>>,
    /// New cycle (`Some(None)` takes it out of its cycle).
    pub cycle_id: Option<Option<String>>,
    /// Move to another team.
    pub team_id: Option<String>,
}

/// Where an update moves an issue.
struct Moved {
    team_id: String,
}

/// Everything the simulator knows.
#[derive(Debug, Clone)]
pub struct Store {
    /// The workspace.
    pub org: Organization,
    /// The user the API key belongs to.
    pub viewer_id: String,
    /// Members.
    pub users: Vec<User>,
    /// Teams.
    pub teams: Vec<Team>,
    /// Workflow states of all teams.
    pub states: Vec<WorkflowState>,
    /// Labels.
    pub labels: Vec<Label>,
    /// Issues in creation order (trashed ones included; hard deletes removed).
    pub issues: Vec<Issue>,
    /// Comments in creation order.
    pub comments: Vec<Comment>,
    /// Attachments in creation order.
    pub attachments: Vec<Attachment>,
    /// Issue relations in creation order.
    pub relations: Vec<Relation>,
    /// Issue history entries in creation order.
    pub history: Vec<IssueHistory>,
    /// The workspace's project statuses in order.
    pub project_statuses: Vec<super::planning::ProjectStatus>,
    /// Projects in creation order.
    pub projects: Vec<super::planning::Project>,
    /// Cycles in creation order.
    pub cycles: Vec<super::planning::Cycle>,
    /// How long after its project completes a closed issue is archived
    /// (Linear: one month whatever the team's period; tests shorten it).
    pub project_archive_after: ChronoDuration,
    /// Changes not yet handed to the webhook sender.
    pub pending: Vec<Change>,
    /// Monotonic counter returned as `lastSyncId`.
    pub sync_id: u64,
    last_time: Time,
    /// The sorted result of the last `issues` connection query (see
    /// [`IssueOrderCache`]).
    pub issue_order: IssueOrderSlot,
    /// Field changes and comments, in order (see [`crate::sim::journal`]);
    /// a cloned store shares it.
    pub journal: std::sync::Arc<Journal>,
}

/// One `issues` connection's filtered, sorted keys: `(key, index into
/// Store::issues)`. Valid while `sync_id` (bumped by every write, see
/// [`Store::now`]) and the issue count are unchanged and the query is the
/// same, so paging through N issues filters and sorts once instead of once
/// per page (which made a 100k-issue listing quadratic).
#[derive(Debug)]
pub struct IssueOrderCache {
    /// `Store::sync_id` when built.
    pub sync_id: u64,
    /// `Store::issues.len()` when built (a second guard).
    pub issues: usize,
    /// Scope, filter, order and archive flag, as one string.
    pub query: String,
    /// Matching issues in ascending key order.
    pub items: std::sync::Arc<Vec<(super::page::Key, usize)>>,
}

/// Holder of the [`IssueOrderCache`]: a mutex because resolvers only hold
/// `&Store`; cloning a store starts with an empty cache.
#[derive(Debug, Default)]
pub struct IssueOrderSlot(pub std::sync::Mutex<Option<IssueOrderCache>>);

impl Clone for IssueOrderSlot {
    fn clone(&self) -> Self {
        IssueOrderSlot::default()
    }
}

/// Webhook `data` for an attachment.
fn attachment_json(a: &Attachment) -> Value {
    json!({
        "id": a.id, "createdAt": fmt_time(&a.created_at), "updatedAt": fmt_time(&a.updated_at),
        "url": a.url, "title": a.title, "subtitle": a.subtitle, "issueId": a.issue_id,
    })
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn valid_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

impl Store {
    /// An empty store for the given organization and viewer.
    pub fn new(org: Organization, viewer: User) -> Store {
        Store {
            org,
            viewer_id: viewer.id.clone(),
            users: vec![viewer],
            teams: Vec::new(),
            states: Vec::new(),
            labels: Vec::new(),
            issues: Vec::new(),
            comments: Vec::new(),
            attachments: Vec::new(),
            relations: Vec::new(),
            history: Vec::new(),
            project_statuses: Vec::new(),
            projects: Vec::new(),
            cycles: Vec::new(),
            project_archive_after: super::planning::default_project_archive_window(),
            pending: Vec::new(),
            sync_id: 1000,
            last_time: Utc::now() - ChronoDuration::days(1),
            issue_order: IssueOrderSlot::default(),
            journal: std::sync::Arc::new(Journal::default()),
        }
    }

    /// The journaled fields of an issue: title, description, state name,
    /// label names (lowercased).
    fn journal_fields(&self, i: &Issue) -> [(&'static str, JournalValue); 4] {
        let labels = i
            .label_ids
            .iter()
            .filter_map(|id| self.label(id))
            .map(|l| l.name.to_lowercase())
            .collect();
        [
            ("title", JournalValue::Text(i.title.clone())),
            (
                "description",
                JournalValue::Text(i.description.clone().unwrap_or_default()),
            ),
            (
                "state",
                JournalValue::Text(
                    self.state(&i.state_id)
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                ),
            ),
            ("labels", JournalValue::Set(labels)),
        ]
    }

    fn journal_update(&self, before: &Issue, after: &Issue, actor: Option<&String>) {
        let by_api = actor == Some(&self.viewer_id);
        for ((field, b), (_, a)) in self
            .journal_fields(before)
            .into_iter()
            .zip(self.journal_fields(after))
        {
            if b != a {
                self.journal.push(
                    &after.id,
                    JournalKind::Field {
                        field,
                        before: b,
                        after: a,
                    },
                    by_api,
                );
            }
        }
    }

    /// Keep what an update changed as the issue's history entry, as Linear
    /// does for every change whoever makes it (nothing when nothing changed).
    fn record_history(&mut self, before: &Issue, after: &Issue, actor: Option<String>, at: Time) {
        let pair = |a: &String, b: &String| (a != b).then(|| (a.clone(), b.clone()));
        let entry = IssueHistory {
            id: new_id(),
            issue_id: after.id.clone(),
            actor_id: actor,
            created_at: at,
            title: pair(&before.title, &after.title),
            updated_description: before.description != after.description,
            state: pair(&before.state_id, &after.state_id),
            priority: (before.priority != after.priority)
                .then_some((before.priority, after.priority)),
            added_label_ids: after
                .label_ids
                .iter()
                .filter(|l| !before.label_ids.contains(l))
                .cloned()
                .collect(),
            removed_label_ids: before
                .label_ids
                .iter()
                .filter(|l| !after.label_ids.contains(l))
                .cloned()
                .collect(),
            team: pair(&before.team_id, &after.team_id),
        };
        let changed = entry.title.is_some()
            || entry.updated_description
            || entry.state.is_some()
            || entry.priority.is_some()
            || !entry.added_label_ids.is_empty()
            || !entry.removed_label_ids.is_empty()
            || entry.team.is_some();
        if changed {
            self.history.push(entry);
        }
    }

    /// The current time, strictly after every earlier call, in whole ms.
    pub fn now(&mut self) -> Time {
        let wall = Utc::now();
        let wall = wall
            - ChronoDuration::nanoseconds(i64::from(wall.timestamp_subsec_nanos() % 1_000_000));
        let t = if wall > self.last_time {
            wall
        } else {
            self.last_time + ChronoDuration::milliseconds(1)
        };
        self.last_time = t;
        self.sync_id += 1;
        t
    }

    /// A team by id or key.
    pub fn team(&self, id_or_key: &str) -> Option<&Team> {
        self.teams
            .iter()
            .find(|t| t.id == id_or_key || t.key.eq_ignore_ascii_case(id_or_key))
    }

    /// A workflow state by id.
    pub fn state(&self, id: &str) -> Option<&WorkflowState> {
        self.states.iter().find(|s| s.id == id)
    }

    /// A team's state by name (case-insensitive) or, failing that, by type.
    pub fn state_named(&self, team_id: &str, name: &str) -> Option<&WorkflowState> {
        let of_team = || self.states.iter().filter(move |s| s.team_id == team_id);
        of_team()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .or_else(|| {
                let mut v: Vec<_> = of_team().filter(|s| s.kind == name).collect();
                v.sort_by(|a, b| a.position.total_cmp(&b.position));
                v.into_iter().next()
            })
    }

    /// A label by id.
    pub fn label(&self, id: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.id == id)
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Position of an issue by UUID or identifier (`ENG-42`, any case).
    pub fn issue_index(&self, id: &str) -> Option<usize> {
        self.issues.iter().position(|i| {
            i.id == id
                || i.identifier.eq_ignore_ascii_case(id)
                || i.previous_identifiers
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(id))
        })
    }

    /// An issue by UUID or identifier.
    pub fn issue(&self, id: &str) -> Option<&Issue> {
        self.issue_index(id).map(|ix| &self.issues[ix])
    }

    /// A comment by id.
    pub fn comment(&self, id: &str) -> Option<&Comment> {
        self.comments.iter().find(|c| c.id == id)
    }

    /// An attachment by id.
    pub fn attachment(&self, id: &str) -> Option<&Attachment> {
        self.attachments.iter().find(|a| a.id == id)
    }

    /// The full webhook `data` of an issue, as Linear sends it.
    pub fn issue_json(&self, i: &Issue) -> Value {
        let state = self.state(&i.state_id);
        let team = self.team(&i.team_id);
        let labels: Vec<Value> = i
            .label_ids
            .iter()
            .filter_map(|id| self.label(id))
            .map(|l| json!({"id": l.id, "name": l.name, "color": l.color}))
            .collect();
        let (project, cycle) = self.placement_json(i);
        json!({
            "id": i.id,
            "createdAt": fmt_time(&i.created_at),
            "updatedAt": fmt_time(&i.updated_at),
            "archivedAt": i.archived_at.as_ref().map(fmt_time),
            "autoArchivedAt": i.auto_archived_at.as_ref().map(fmt_time),
            "completedAt": i.completed_at.as_ref().map(fmt_time),
            "canceledAt": i.canceled_at.as_ref().map(fmt_time),
            "trashed": if i.trashed { Some(true) } else { None },
            "number": i.number,
            "identifier": i.identifier,
            "title": i.title,
            "description": i.description,
            "priority": i.priority,
            "priorityLabel": priority_label(i.priority),
            "url": i.url(&self.org),
            "teamId": i.team_id,
            "stateId": i.state_id,
            "labelIds": i.label_ids,
            "assigneeId": i.assignee_id,
            "creatorId": i.creator_id,
            "state": state.map(|s| json!({"id": s.id, "name": s.name, "type": s.kind, "color": s.color})),
            "team": team.map(|t| json!({"id": t.id, "key": t.key, "name": t.name})),
            "labels": labels,
            "projectId": i.project_id,
            "project": project,
            "cycleId": i.cycle_id,
            "cycle": cycle,
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call per kind of change; a struct literal at each site would be noisier"
    )]
    pub(super) fn record(
        &mut self,
        action: &'static str,
        kind: &'static str,
        data: Value,
        from: Option<Value>,
        url: Option<String>,
        actor: Option<String>,
        at: Time,
    ) {
        self.pending.push(Change {
            action,
            kind,
            data,
            updated_from: from,
            url,
            actor_id: actor,
            at,
        });
    }

    fn check_labels(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.iter().all(|id| self.label(id).is_some()) {
            Ok(())
        } else {
            Err(StoreError::NotFound("IssueLabel"))
        }
    }

    /// `issueCreate`: honours a client id; a taken id creates nothing.
    pub fn create_issue(
        &mut self,
        d: IssueDraft,
        actor: Option<String>,
    ) -> Result<Issue, StoreError> {
        if let Some(id) = &d.id {
            if !valid_uuid(id) {
                return Err(StoreError::Invalid("id must be a UUID".into()));
            }
            if self.issues.iter().any(|i| &i.id == id) {
                return Err(StoreError::AlreadyExists {
                    kind: "Issue",
                    id: id.clone(),
                });
            }
        }
        let team = self
            .team(&d.team_id)
            .ok_or(StoreError::NotFound("Team"))?
            .clone();
        let state_id = match &d.state_id {
            Some(s) => {
                let st = self.state(s).ok_or(StoreError::NotFound("WorkflowState"))?;
                if st.team_id != team.id {
                    return Err(StoreError::Invalid(
                        "workflow state does not belong to the issue's team".into(),
                    ));
                }
                st.id.clone()
            }
            None => self
                .state_named(&team.id, "backlog")
                .or_else(|| self.states.iter().find(|s| s.team_id == team.id))
                .map(|s| s.id.clone())
                .ok_or(StoreError::NotFound("WorkflowState"))?,
        };
        self.check_labels(&d.label_ids)?;
        if let Some(a) = &d.assignee_id {
            self.user(a).ok_or(StoreError::NotFound("User"))?;
        }
        self.check_placement(&team.id, d.project_id.as_deref(), d.cycle_id.as_deref())?;
        let kind = self
            .state(&state_id)
            .map(|s| s.kind.clone())
            .unwrap_or_default();
        let priority = d.priority.unwrap_or(0);
        if !(0..=4).contains(&priority) {
            return Err(StoreError::Invalid(
                "priority must be between 0 and 4".into(),
            ));
        }
        let now = self.now();
        let number = team.next_number;
        if let Some(t) = self.teams.iter_mut().find(|t| t.id == team.id) {
            t.next_number += 1;
        }
        let issue = Issue {
            id: d.id.unwrap_or_else(new_id),
            team_id: team.id.clone(),
            number,
            identifier: format!("{}-{number}", team.key),
            title: d.title,
            description: d.description,
            priority,
            state_id,
            label_ids: d.label_ids,
            assignee_id: d.assignee_id,
            creator_id: actor.clone(),
            created_at: now,
            updated_at: now,
            archived_at: None,
            auto_archived_at: None,
            trashed: false,
            completed_at: (kind == "completed").then_some(now),
            canceled_at: (kind == "canceled").then_some(now),
            project_id: d.project_id,
            cycle_id: d.cycle_id,
            previous_identifiers: Vec::new(),
        };
        self.issues.push(issue.clone());
        let data = self.issue_json(&issue);
        self.record(
            "create",
            "Issue",
            data,
            None,
            Some(issue.url(&self.org)),
            actor,
            now,
        );
        Ok(issue)
    }

    /// `issueUpdate`: applies the patch, bumps `updatedAt`, records `updatedFrom`.
    pub fn update_issue(
        &mut self,
        id: &str,
        p: IssuePatch,
        actor: Option<String>,
    ) -> Result<Issue, StoreError> {
        let ix = self.issue_index(id).ok_or(StoreError::NotFound("Issue"))?;
        let mut p = p;
        let moved = self.team_move(ix, &mut p)?;
        let before = self.issues[ix].clone();
        let team_now = moved
            .as_ref()
            .map_or(before.team_id.clone(), |m| m.team_id.clone());
        if let Some(s) = &p.state_id {
            let st = self.state(s).ok_or(StoreError::NotFound("WorkflowState"))?;
            if st.team_id != team_now {
                return Err(StoreError::Invalid(
                    "workflow state does not belong to the issue's team".into(),
                ));
            }
        }
        if let Some(l) = &p.label_ids {
            self.check_labels(l)?;
        }
        self.check_labels(&p.added_label_ids)?;
        if let Some(pr) = p.priority
            && !(0..=4).contains(&pr)
        {
            return Err(StoreError::Invalid(
                "priority must be between 0 and 4".into(),
            ));
        }
        if let Some(Some(a)) = &p.assignee_id {
            self.user(a).ok_or(StoreError::NotFound("User"))?;
        }
        self.check_placement(
            &team_now,
            p.project_id.as_ref().and_then(Option::as_deref),
            p.cycle_id.as_ref().and_then(Option::as_deref),
        )?;
        let now = self.now();
        let mut from = serde_json::Map::new();
        let mut state_moved = false;
        if let Some(m) = &moved {
            let number = self.take_number(&m.team_id);
            let key = self
                .team(&m.team_id)
                .map(|t| t.key.clone())
                .unwrap_or_default();
            let issue = &mut self.issues[ix];
            from.insert("teamId".into(), json!(issue.team_id));
            issue.previous_identifiers.push(issue.identifier.clone());
            issue.team_id = m.team_id.clone();
            issue.number = number;
            issue.identifier = format!("{key}-{number}");
        }
        let issue = &mut self.issues[ix];
        if let Some(t) = p.title
            && t != issue.title
        {
            from.insert("title".into(), json!(issue.title));
            issue.title = t;
        }
        if let Some(d) = p.description
            && d != issue.description
        {
            from.insert("description".into(), json!(issue.description));
            issue.description = d;
        }
        if let Some(s) = p.state_id
            && s != issue.state_id
        {
            from.insert("stateId".into(), json!(issue.state_id));
            issue.state_id = s;
            state_moved = true;
        }
        if let Some(pr) = p.priority
            && pr != issue.priority
        {
            from.insert("priority".into(), json!(issue.priority));
            issue.priority = pr;
        }
        if let Some(a) = p.assignee_id
            && a != issue.assignee_id
        {
            from.insert("assigneeId".into(), json!(issue.assignee_id));
            issue.assignee_id = a;
        }
        if let Some(pr) = p.project_id
            && pr != issue.project_id
        {
            from.insert("projectId".into(), json!(issue.project_id));
            issue.project_id = pr;
        }
        if let Some(c) = p.cycle_id
            && c != issue.cycle_id
        {
            from.insert("cycleId".into(), json!(issue.cycle_id));
            issue.cycle_id = c;
        }
        let mut labels = p.label_ids.unwrap_or_else(|| issue.label_ids.clone());
        for l in p.added_label_ids {
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
        labels.retain(|l| !p.removed_label_ids.contains(l));
        if labels != issue.label_ids {
            from.insert("labelIds".into(), json!(issue.label_ids));
            issue.label_ids = labels;
        }
        from.insert("updatedAt".into(), json!(fmt_time(&issue.updated_at)));
        issue.updated_at = now;
        if state_moved {
            self.stamp_state_times(ix, now);
        }
        let issue = self.issues[ix].clone();
        self.journal_update(&before, &issue, actor.as_ref());
        self.record_history(&before, &issue, actor.clone(), now);
        let data = self.issue_json(&issue);
        self.record(
            "update",
            "Issue",
            data,
            Some(Value::Object(from)),
            Some(issue.url(&self.org)),
            actor,
            now,
        );
        Ok(issue)
    }

    /// The next issue number of a team.
    fn take_number(&mut self, team_id: &str) -> u32 {
        match self.teams.iter_mut().find(|t| t.id == team_id) {
            Some(t) => {
                t.next_number += 1;
                t.next_number - 1
            }
            None => 0,
        }
    }

    /// A `teamId` in an update moves the issue, as Linear's help describes
    /// it (docs/vendors/linear.md, "Moving an issue to another team"): the
    /// status becomes the new team's status of the same name, else its
    /// first status of the same category; the cycle is removed; team labels
    /// are removed (a label of the same name in the new team replaces one);
    /// the project is removed unless the new team is in it; priority and
    /// relations remain. The patch is rewritten to say so; `None` when the
    /// update moves nothing.
    fn team_move(&self, ix: usize, p: &mut IssuePatch) -> Result<Option<Moved>, StoreError> {
        let Some(team_id) = p.team_id.take() else {
            return Ok(None);
        };
        let team = self
            .team(&team_id)
            .ok_or(StoreError::NotFound("Team"))?
            .clone();
        let issue = &self.issues[ix];
        if team.id == issue.team_id {
            return Ok(None);
        }
        if p.state_id.is_none() {
            let current = self.state(&issue.state_id).cloned();
            let mut states: Vec<&WorkflowState> = self
                .states
                .iter()
                .filter(|s| s.team_id == team.id)
                .collect();
            states.sort_by(|a, b| a.position.total_cmp(&b.position));
            let same_name = current
                .as_ref()
                .and_then(|c| states.iter().find(|s| s.name.eq_ignore_ascii_case(&c.name)));
            let same_kind = current
                .as_ref()
                .and_then(|c| states.iter().find(|s| s.kind == c.kind));
            let state = same_name
                .or(same_kind)
                .or(states.first())
                .ok_or(StoreError::NotFound("WorkflowState"))?;
            p.state_id = Some(state.id.clone());
        }
        let labels = p
            .label_ids
            .clone()
            .unwrap_or_else(|| issue.label_ids.clone());
        let mut moved_labels = Vec::new();
        for id in labels {
            let Some(l) = self.label(&id) else { continue };
            match &l.team_id {
                None => moved_labels.push(id),
                Some(_) => {
                    if let Some(same) = self.labels.iter().find(|x| {
                        x.team_id.as_deref() == Some(team.id.as_str())
                            && x.name.eq_ignore_ascii_case(&l.name)
                    }) {
                        moved_labels.push(same.id.clone());
                    }
                }
            }
        }
        p.added_label_ids.retain(|l| {
            self.label(l)
                .is_some_and(|x| x.team_id.as_deref().is_none_or(|t| t == team.id))
        });
        p.label_ids = Some(moved_labels);
        if p.cycle_id.is_none() && issue.cycle_id.is_some() {
            p.cycle_id = Some(None);
        }
        if p.project_id.is_none()
            && let Some(project) = &issue.project_id
            && !self
                .project(project)
                .is_some_and(|pr| pr.team_ids.contains(&team.id))
        {
            p.project_id = Some(None);
        }
        Ok(Some(Moved { team_id: team.id }))
    }

    /// `issueArchive` / `issueDelete`: archive (optionally into the trash),
    /// or remove for good. Sent to webhooks as `remove`.
    pub fn archive_issue(
        &mut self,
        id: &str,
        trash: bool,
        permanently: bool,
        actor: Option<String>,
    ) -> Result<Issue, StoreError> {
        let ix = self.issue_index(id).ok_or(StoreError::NotFound("Issue"))?;
        let now = self.now();
        let issue = if permanently {
            let mut gone = self.issues.remove(ix);
            gone.archived_at = Some(now);
            gone.trashed = true;
            self.comments.retain(|c| c.issue_id != gone.id);
            self.attachments.retain(|a| a.issue_id != gone.id);
            gone
        } else {
            let issue = &mut self.issues[ix];
            issue.archived_at = Some(now);
            issue.trashed = issue.trashed || trash;
            issue.updated_at = now;
            issue.clone()
        };
        let data = self.issue_json(&issue);
        self.record(
            "remove",
            "Issue",
            data,
            None,
            Some(issue.url(&self.org)),
            actor,
            now,
        );
        Ok(issue)
    }

    /// `issueUnarchive`: brings an archived or trashed issue back.
    pub fn unarchive_issue(
        &mut self,
        id: &str,
        actor: Option<String>,
    ) -> Result<Issue, StoreError> {
        let ix = self.issue_index(id).ok_or(StoreError::NotFound("Issue"))?;
        let now = self.now();
        let issue = &mut self.issues[ix];
        let from = json!({
            "archivedAt": issue.archived_at.as_ref().map(fmt_time),
            "trashed": issue.trashed,
            "updatedAt": fmt_time(&issue.updated_at),
        });
        issue.archived_at = None;
        issue.auto_archived_at = None;
        issue.trashed = false;
        issue.updated_at = now;
        // The auto-archive clock starts again from the restore.
        if issue.completed_at.is_some() {
            issue.completed_at = Some(now);
        }
        if issue.canceled_at.is_some() {
            issue.canceled_at = Some(now);
        }
        let issue = issue.clone();
        let data = self.issue_json(&issue);
        self.record(
            "restore",
            "Issue",
            data,
            Some(from),
            Some(issue.url(&self.org)),
            actor,
            now,
        );
        Ok(issue)
    }

    fn touch_issue(&mut self, ix: usize, now: Time) {
        self.issues[ix].updated_at = now;
    }

    /// Record when an issue entered its current state's category, which is
    /// what the team's auto-archive period counts from.
    fn stamp_state_times(&mut self, ix: usize, now: Time) {
        let kind = self
            .state(&self.issues[ix].state_id)
            .map(|s| s.kind.clone())
            .unwrap_or_default();
        let issue = &mut self.issues[ix];
        issue.completed_at = (kind == "completed").then_some(now);
        issue.canceled_at = (kind == "canceled").then_some(now);
    }

    /// Archive the issue at `ix` in place (not into the trash), sent to
    /// webhooks as `remove` with `archivedAt` (and `autoArchivedAt` when
    /// the auto-archive did it).
    pub(super) fn archive_in_place(
        &mut self,
        ix: usize,
        now: Time,
        auto: bool,
        actor: Option<String>,
    ) {
        let issue = &mut self.issues[ix];
        issue.archived_at = Some(now);
        if auto {
            issue.auto_archived_at = Some(now);
        }
        issue.updated_at = now;
        let issue = issue.clone();
        let data = self.issue_json(&issue);
        let url = Some(issue.url(&self.org));
        self.record("remove", "Issue", data, None, url, actor, now);
    }

    /// The team's auto-archive, as Linear runs it by itself (users cannot
    /// archive by hand): cycles whose end has passed complete, closed
    /// issues whose time has come (see `Store::auto_archive_due`: the
    /// team's period, held back by an open project or cycle) are archived,
    /// and then projects and cycles left with only archived issues. Each is
    /// sent to webhooks as `remove`. Returns how many issues were archived.
    pub fn auto_archive(&mut self) -> usize {
        let wall = Utc::now();
        self.complete_ended_cycles(wall);
        let due: Vec<usize> = self
            .issues
            .iter()
            .enumerate()
            .filter(|(_, i)| i.archived_at.is_none() && !i.trashed)
            .filter(|(_, i)| self.auto_archive_due(i).is_some_and(|t| t <= wall))
            .map(|(ix, _)| ix)
            .collect();
        for &ix in &due {
            let now = self.now();
            self.archive_in_place(ix, now, true, None);
        }
        self.archive_emptied_containers();
        due.len()
    }

    /// `issueRelationCreate`. A `duplicate` relation does what marking an
    /// issue a duplicate does in Linear: its attachments move to the
    /// canonical issue (one per URL there) and the duplicate is canceled
    /// (the team's "Duplicate" state, else its first canceled state).
    pub fn create_relation(
        &mut self,
        issue_id: &str,
        related_id: &str,
        kind: &str,
        actor: Option<String>,
    ) -> Result<Relation, StoreError> {
        let dup = self
            .issue_index(issue_id)
            .ok_or(StoreError::NotFound("Issue"))?;
        let canon = self
            .issue_index(related_id)
            .ok_or(StoreError::NotFound("Issue"))?;
        if dup == canon {
            return Err(StoreError::Invalid(
                "an issue cannot be related to itself".into(),
            ));
        }
        if !["duplicate", "blocks", "related", "similar"].contains(&kind) {
            return Err(StoreError::Invalid(format!("unknown relation type {kind}")));
        }
        let now = self.now();
        let (dup_id, canon_id) = (self.issues[dup].id.clone(), self.issues[canon].id.clone());
        let rel = Relation {
            id: new_id(),
            issue_id: dup_id.clone(),
            related_issue_id: canon_id.clone(),
            kind: kind.to_string(),
            created_at: now,
        };
        self.relations.push(rel.clone());
        if kind != "duplicate" {
            self.touch_issue(dup, now);
            return Ok(rel);
        }
        let canon_urls: Vec<String> = self
            .attachments
            .iter()
            .filter(|a| a.issue_id == canon_id)
            .map(|a| a.url.clone())
            .collect();
        self.attachments
            .retain(|a| !(a.issue_id == dup_id && canon_urls.contains(&a.url)));
        let mut moved = Vec::new();
        for a in self.attachments.iter_mut().filter(|a| a.issue_id == dup_id) {
            a.issue_id = canon_id.clone();
            a.updated_at = now;
            moved.push(a.clone());
        }
        for a in moved {
            let data = attachment_json(&a);
            self.record(
                "update",
                "Attachment",
                data,
                Some(json!({"issueId": dup_id})),
                Some(a.url.clone()),
                actor.clone(),
                now,
            );
        }
        self.touch_issue(canon, now);
        let team = self.issues[dup].team_id.clone();
        let state = self
            .state_named(&team, "Duplicate")
            .or_else(|| self.state_named(&team, "canceled"))
            .map(|s| s.id.clone());
        if let Some(state_id) = state {
            self.update_issue(
                &dup_id,
                IssuePatch {
                    state_id: Some(state_id),
                    ..IssuePatch::default()
                },
                actor,
            )?;
        }
        Ok(rel)
    }

    /// `commentCreate`: a comment on an issue (client id honoured).
    pub fn create_comment(
        &mut self,
        issue_id: &str,
        body: String,
        id: Option<String>,
        actor: Option<String>,
    ) -> Result<Comment, StoreError> {
        if let Some(id) = &id {
            // CommentCreateInput.id: "The identifier in UUID v4 format"
            // (schema), taken like IssueCreateInput.id: a duplicate is
            // refused, not made twice.
            if !valid_uuid(id) {
                return Err(StoreError::Invalid("id must be a UUID".into()));
            }
            if self.comments.iter().any(|c| &c.id == id) {
                return Err(StoreError::AlreadyExists {
                    kind: "Comment",
                    id: id.clone(),
                });
            }
        }
        let ix = self
            .issue_index(issue_id)
            .ok_or(StoreError::NotFound("Issue"))?;
        if body.trim().is_empty() {
            return Err(StoreError::Invalid("body must not be empty".into()));
        }
        let now = self.now();
        let c = Comment {
            id: id.unwrap_or_else(new_id),
            issue_id: self.issues[ix].id.clone(),
            user_id: actor.clone(),
            body,
            created_at: now,
            updated_at: now,
        };
        self.touch_issue(ix, now);
        self.journal.push(
            &self.issues[ix].id,
            JournalKind::Comment {
                id: c.id.clone(),
                body: c.body.clone(),
            },
            actor.as_ref() == Some(&self.viewer_id),
        );
        self.comments.push(c.clone());
        let data = comment_json(&c, &self.org, Some(&self.issues[ix]));
        let url = data.get("url").and_then(Value::as_str).map(str::to_string);
        self.record("create", "Comment", data, None, url, actor, now);
        Ok(c)
    }

    /// `attachmentCreate` / `attachmentLinkURL`: the URL is unique per issue,
    /// so creating it again updates the existing attachment (same id back).
    pub fn upsert_attachment(
        &mut self,
        issue_id: &str,
        url: String,
        title: Option<String>,
        subtitle: Option<String>,
        id: Option<String>,
        actor: Option<String>,
    ) -> Result<Attachment, StoreError> {
        let ix = self
            .issue_index(issue_id)
            .ok_or(StoreError::NotFound("Issue"))?;
        if url.trim().is_empty() {
            return Err(StoreError::Invalid("url must not be empty".into()));
        }
        let issue_uuid = self.issues[ix].id.clone();
        let now = self.now();
        let existing = self
            .attachments
            .iter()
            .position(|a| a.issue_id == issue_uuid && a.url == url);
        let (att, action) = match existing {
            Some(ax) => {
                let a = &mut self.attachments[ax];
                if let Some(t) = title {
                    a.title = t;
                }
                if subtitle.is_some() {
                    a.subtitle = subtitle;
                }
                a.updated_at = now;
                (a.clone(), "update")
            }
            None => {
                if let Some(id) = &id
                    && self.attachments.iter().any(|a| &a.id == id)
                {
                    return Err(StoreError::AlreadyExists {
                        kind: "Attachment",
                        id: id.clone(),
                    });
                }
                let a = Attachment {
                    id: id.unwrap_or_else(new_id),
                    issue_id: issue_uuid,
                    title: title.unwrap_or_else(|| url.clone()),
                    url,
                    subtitle,
                    creator_id: actor.clone(),
                    created_at: now,
                    updated_at: now,
                };
                self.attachments.push(a.clone());
                (a, "create")
            }
        };
        self.touch_issue(ix, now);
        let data = attachment_json(&att);
        self.record(
            action,
            "Attachment",
            data,
            None,
            Some(att.url.clone()),
            actor,
            now,
        );
        Ok(att)
    }

    /// `issueLabelCreate`: names are unique within a team (case-insensitive).
    pub fn create_label(
        &mut self,
        name: String,
        color: Option<String>,
        team_id: Option<String>,
        id: Option<String>,
        actor: Option<String>,
    ) -> Result<Label, StoreError> {
        let team_id = match team_id {
            Some(t) => Some(
                self.team(&t)
                    .ok_or(StoreError::NotFound("Team"))?
                    .id
                    .clone(),
            ),
            None => None,
        };
        if let Some(id) = &id
            && self.labels.iter().any(|l| &l.id == id)
        {
            return Err(StoreError::AlreadyExists {
                kind: "IssueLabel",
                id: id.clone(),
            });
        }
        if self
            .labels
            .iter()
            .any(|l| l.team_id == team_id && l.name.eq_ignore_ascii_case(&name))
        {
            return Err(StoreError::Invalid("Duplicate label name".into()));
        }
        let now = self.now();
        let l = Label {
            id: id.unwrap_or_else(new_id),
            team_id,
            name,
            color: color.unwrap_or_else(|| "#bec2c8".into()),
            created_at: now,
            updated_at: now,
        };
        self.labels.push(l.clone());
        self.record(
            "create",
            "IssueLabel",
            label_json(&l),
            None,
            None,
            actor,
            now,
        );
        Ok(l)
    }
}
