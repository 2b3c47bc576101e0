//! Every change to projects and cycles (see `planning.rs` for the rules).
//! Each goes through `Store::record`, so it bumps `updatedAt` and fires a
//! webhook (`Project`, `Cycle`, and `Issue` for the issues it touches) like
//! every other write.

use chrono::Duration as ChronoDuration;
use serde_json::{Value, json};

use super::model::{Issue, Time, fmt_time};
use super::planning::{Cycle, Project, ProjectPatch, ProjectStatus};
use super::store::{Store, StoreError};

fn opt_time(t: &Option<Time>) -> Value {
    json!(t.as_ref().map(fmt_time))
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A state type in which an issue counts as closed.
fn closed_kind(kind: &str) -> bool {
    matches!(kind, "completed" | "canceled")
}

impl Store {
    fn project_index(&self, id: &str) -> Result<usize, StoreError> {
        self.projects
            .iter()
            .position(|p| p.id == id || p.slug_id() == id)
            .ok_or(StoreError::NotFound("Project"))
    }

    fn record_project(
        &mut self,
        action: &'static str,
        p: &Project,
        from: Option<Value>,
        actor: Option<String>,
        now: Time,
    ) {
        let data = self.project_json(p);
        let url = Some(self.project_url(p));
        self.record(action, "Project", data, from, url, actor, now);
    }

    fn record_cycle(
        &mut self,
        action: &'static str,
        c: &Cycle,
        from: Option<Value>,
        actor: Option<String>,
        now: Time,
    ) {
        let data = self.cycle_json(c);
        self.record(action, "Cycle", data, from, None, actor, now);
    }

    /// A project by id or slug id.
    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.id == id || (!id.is_empty() && p.slug_id() == id))
    }

    /// A cycle by id.
    pub fn cycle(&self, id: &str) -> Option<&Cycle> {
        self.cycles.iter().find(|c| c.id == id)
    }

    /// A project status by id.
    pub fn project_status(&self, id: &str) -> Option<&ProjectStatus> {
        self.project_statuses.iter().find(|s| s.id == id)
    }

    /// A project status by name (case-insensitive) or, failing that, type.
    pub fn project_status_named(&self, name: &str) -> Option<&ProjectStatus> {
        self.project_statuses
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .or_else(|| self.project_statuses.iter().find(|s| s.kind == name))
    }

    /// The project's web URL.
    pub fn project_url(&self, p: &Project) -> String {
        let slug: String = p
            .name
            .to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        format!(
            "https://linear.app/{}/project/{slug}-{}",
            self.org.url_key,
            p.slug_id()
        )
    }

    /// Webhook `data` of a project (`ProjectWebhookPayload`).
    pub fn project_json(&self, p: &Project) -> Value {
        let status = self.project_status(&p.status_id);
        json!({
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "url": self.project_url(p),
            "slugId": p.slug_id(),
            "color": "#bec2c8",
            "priority": 0,
            "prioritySortOrder": 0,
            "sortOrder": 0,
            "statusId": p.status_id,
            "status": status.map(|s| json!({"id": s.id, "name": s.name, "type": s.kind, "color": s.color})),
            "teamIds": p.team_ids,
            "memberIds": [],
            "labelIds": [],
            "createdAt": fmt_time(&p.created_at),
            "updatedAt": fmt_time(&p.updated_at),
            "startedAt": opt_time(&p.started_at),
            "completedAt": opt_time(&p.completed_at),
            "canceledAt": opt_time(&p.canceled_at),
            "archivedAt": opt_time(&p.archived_at),
            "autoArchivedAt": opt_time(&p.auto_archived_at),
            "trashed": if p.trashed { Some(true) } else { None },
            "scopeHistory": [], "completedScopeHistory": [], "inProgressScopeHistory": [],
            "issueCountHistory": [], "completedIssueCountHistory": [],
        })
    }

    /// Webhook `data` of a cycle (`CycleWebhookPayload`).
    pub fn cycle_json(&self, c: &Cycle) -> Value {
        json!({
            "id": c.id,
            "number": c.number,
            "name": c.name,
            "description": Value::Null,
            "teamId": c.team_id,
            "startsAt": fmt_time(&c.starts_at),
            "endsAt": fmt_time(&c.ends_at),
            "completedAt": opt_time(&c.completed_at),
            "archivedAt": opt_time(&c.archived_at),
            "autoArchivedAt": opt_time(&c.auto_archived_at),
            "createdAt": fmt_time(&c.created_at),
            "updatedAt": fmt_time(&c.updated_at),
            "uncompletedIssuesUponCloseIds": c.uncompleted_upon_close,
            "scopeHistory": [], "completedScopeHistory": [], "inProgressScopeHistory": [],
            "issueCountHistory": [], "completedIssueCountHistory": [],
        })
    }

    /// The short forms an issue's webhook `data` embeds.
    pub(super) fn placement_json(&self, i: &Issue) -> (Value, Value) {
        let project = i.project_id.as_deref().and_then(|id| self.project(id));
        let cycle = i.cycle_id.as_deref().and_then(|id| self.cycle(id));
        (
            json!(project.map(|p| json!({"id": p.id, "name": p.name, "url": self.project_url(p)}))),
            json!(cycle.map(|c| json!({
                "id": c.id, "number": c.number, "name": c.name,
                "startsAt": fmt_time(&c.starts_at), "endsAt": fmt_time(&c.ends_at),
            }))),
        )
    }

    /// Refuse a project or cycle an issue of `team_id` cannot be in.
    pub(super) fn check_placement(
        &self,
        team_id: &str,
        project_id: Option<&str>,
        cycle_id: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(id) = project_id {
            let p = self.project(id).ok_or(StoreError::NotFound("Project"))?;
            if !p.team_ids.iter().any(|t| t == team_id) {
                return Err(StoreError::Invalid(
                    "the issue's team is not part of the project".into(),
                ));
            }
        }
        if let Some(id) = cycle_id {
            let c = self.cycle(id).ok_or(StoreError::NotFound("Cycle"))?;
            if c.team_id != team_id || c.archived_at.is_some() {
                return Err(StoreError::Invalid(
                    "the cycle does not belong to the issue's team".into(),
                ));
            }
        }
        Ok(())
    }

    /// `projectCreate`: in the workspace's first backlog status unless told.
    pub fn create_project(
        &mut self,
        name: String,
        team_ids: Vec<String>,
        status_id: Option<String>,
        id: Option<String>,
        actor: Option<String>,
    ) -> Result<Project, StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid("name must not be empty".into()));
        }
        let mut teams = Vec::new();
        for t in &team_ids {
            teams.push(self.team(t).ok_or(StoreError::NotFound("Team"))?.id.clone());
        }
        if teams.is_empty() {
            return Err(StoreError::Invalid("teamIds must name a team".into()));
        }
        if let Some(id) = &id
            && self.projects.iter().any(|p| &p.id == id)
        {
            return Err(StoreError::AlreadyExists {
                kind: "Project",
                id: id.clone(),
            });
        }
        let status = match &status_id {
            Some(s) => self.project_status(s),
            None => self.project_status_named("backlog"),
        }
        .ok_or(StoreError::NotFound("ProjectStatus"))?
        .clone();
        let now = self.now();
        let mut p = Project {
            id: id.unwrap_or_else(new_id),
            name,
            description: String::new(),
            team_ids: teams,
            status_id: status.id.clone(),
            created_at: now,
            updated_at: now,
            started_at: None,
            completed_at: None,
            canceled_at: None,
            archived_at: None,
            auto_archived_at: None,
            trashed: false,
            archived_with: Vec::new(),
        };
        stamp_project_times(&mut p, &status.kind, now);
        self.projects.push(p.clone());
        self.record_project("create", &p, None, actor, now);
        Ok(p)
    }

    /// `projectUpdate`: name, description, status. Entering a completed or
    /// canceled status stamps `completedAt`/`canceledAt`, which the
    /// auto-archive of its issues counts from.
    pub fn update_project(
        &mut self,
        id: &str,
        patch: ProjectPatch,
        actor: Option<String>,
    ) -> Result<Project, StoreError> {
        let ix = self.project_index(id)?;
        let status = match &patch.status_id {
            Some(s) => Some(
                self.project_status(s)
                    .ok_or(StoreError::NotFound("ProjectStatus"))?
                    .clone(),
            ),
            None => None,
        };
        let now = self.now();
        let p = &mut self.projects[ix];
        let mut from = serde_json::Map::new();
        if let Some(n) = patch.name.filter(|n| *n != p.name) {
            from.insert("name".into(), json!(p.name));
            p.name = n;
        }
        if let Some(d) = patch.description.filter(|d| *d != p.description) {
            from.insert("description".into(), json!(p.description));
            p.description = d;
        }
        if let Some(s) = status.filter(|s| s.id != p.status_id) {
            from.insert("statusId".into(), json!(p.status_id));
            p.status_id = s.id.clone();
            stamp_project_times(p, &s.kind, now);
        }
        from.insert("updatedAt".into(), json!(fmt_time(&p.updated_at)));
        p.updated_at = now;
        let p = p.clone();
        self.record_project("update", &p, Some(Value::Object(from)), actor, now);
        Ok(p)
    }

    /// `projectArchive` / `projectDelete`: the project is archived (into
    /// the trash with `trash`) and its issues are archived with it — never
    /// trashed: the trash is for the project. Issues first, each sent as an
    /// Issue `remove`, then the project's own `remove`.
    pub fn archive_project(
        &mut self,
        id: &str,
        trash: bool,
        actor: Option<String>,
    ) -> Result<Project, StoreError> {
        let ix = self.project_index(id)?;
        let pid = self.projects[ix].id.clone();
        let members: Vec<usize> = self
            .issues
            .iter()
            .enumerate()
            .filter(|(_, i)| i.project_id.as_deref() == Some(pid.as_str()))
            .filter(|(_, i)| i.archived_at.is_none() && !i.trashed)
            .map(|(ix, _)| ix)
            .collect();
        let mut with = Vec::new();
        for issue_ix in members {
            let now = self.now();
            with.push(self.issues[issue_ix].id.clone());
            self.archive_in_place(issue_ix, now, false, actor.clone());
        }
        let now = self.now();
        let p = &mut self.projects[ix];
        p.archived_at = Some(now);
        p.trashed = p.trashed || trash;
        p.updated_at = now;
        p.archived_with.extend(with);
        let p = p.clone();
        self.record_project("remove", &p, None, actor, now);
        Ok(p)
    }

    /// `projectUnarchive`: the project and the issues archived with it
    /// come back (each sent as `restore`, like an issue's own restore).
    pub fn unarchive_project(
        &mut self,
        id: &str,
        actor: Option<String>,
    ) -> Result<Project, StoreError> {
        let ix = self.project_index(id)?;
        let with = std::mem::take(&mut self.projects[ix].archived_with);
        let now = self.now();
        let p = &mut self.projects[ix];
        let from = json!({
            "archivedAt": p.archived_at.as_ref().map(fmt_time),
            "trashed": p.trashed,
            "updatedAt": fmt_time(&p.updated_at),
        });
        p.archived_at = None;
        p.auto_archived_at = None;
        p.trashed = false;
        p.updated_at = now;
        let p = p.clone();
        self.record_project("restore", &p, Some(from), actor.clone(), now);
        for issue in with {
            if self.issue(&issue).is_some_and(|i| i.archived_at.is_some()) {
                self.unarchive_issue(&issue, actor.clone())?;
            }
        }
        Ok(p)
    }

    /// `cycleCreate`: numbered after the team's last cycle.
    pub fn create_cycle(
        &mut self,
        team: &str,
        starts_at: Time,
        ends_at: Time,
        name: Option<String>,
        actor: Option<String>,
    ) -> Result<Cycle, StoreError> {
        let team_id = self
            .team(team)
            .ok_or(StoreError::NotFound("Team"))?
            .id
            .clone();
        if ends_at <= starts_at {
            return Err(StoreError::Invalid("endsAt must be after startsAt".into()));
        }
        let number = self
            .cycles
            .iter()
            .filter(|c| c.team_id == team_id)
            .map(|c| c.number)
            .max()
            .unwrap_or(0)
            + 1;
        let now = self.now();
        let c = Cycle {
            id: new_id(),
            team_id,
            number,
            name,
            starts_at,
            ends_at,
            completed_at: None,
            archived_at: None,
            auto_archived_at: None,
            created_at: now,
            updated_at: now,
            uncompleted_upon_close: Vec::new(),
        };
        self.cycles.push(c.clone());
        self.record_cycle("create", &c, None, actor, now);
        Ok(c)
    }

    /// `cycleUpdate`: move its start or end (`None` leaves one alone). An
    /// end moved into the past completes it at the next auto-archive tick.
    pub fn update_cycle(
        &mut self,
        id: &str,
        starts_at: Option<Time>,
        ends_at: Option<Time>,
        actor: Option<String>,
    ) -> Result<Cycle, StoreError> {
        let ix = self
            .cycles
            .iter()
            .position(|c| c.id == id)
            .ok_or(StoreError::NotFound("Cycle"))?;
        let (start, end) = {
            let c = &self.cycles[ix];
            (
                starts_at.unwrap_or(c.starts_at),
                ends_at.unwrap_or(c.ends_at),
            )
        };
        if end <= start {
            return Err(StoreError::Invalid("endsAt must be after startsAt".into()));
        }
        let now = self.now();
        let c = &mut self.cycles[ix];
        let from = json!({
            "startsAt": fmt_time(&c.starts_at),
            "endsAt": fmt_time(&c.ends_at),
            "updatedAt": fmt_time(&c.updated_at),
        });
        c.starts_at = start;
        c.ends_at = end;
        c.updated_at = now;
        let c = c.clone();
        self.record_cycle("update", &c, Some(from), actor, now);
        Ok(c)
    }

    /// `cycleArchive`: its issues are unlinked from it first (each an Issue
    /// `update` with `cycleId` in `updatedFrom`), then it is archived.
    pub fn archive_cycle(&mut self, id: &str, actor: Option<String>) -> Result<Cycle, StoreError> {
        let ix = self
            .cycles
            .iter()
            .position(|c| c.id == id)
            .ok_or(StoreError::NotFound("Cycle"))?;
        let members: Vec<String> = self
            .issues
            .iter()
            .filter(|i| i.cycle_id.as_deref() == Some(id))
            .map(|i| i.id.clone())
            .collect();
        for issue in members {
            self.set_issue_cycle(&issue, None, actor.clone());
        }
        let now = self.now();
        let c = &mut self.cycles[ix];
        c.archived_at = Some(now);
        c.updated_at = now;
        let c = c.clone();
        self.record_cycle("remove", &c, None, actor, now);
        Ok(c)
    }

    /// Move an issue to another cycle (or none), sent as an Issue `update`.
    fn set_issue_cycle(&mut self, issue_id: &str, cycle: Option<String>, actor: Option<String>) {
        let Some(ix) = self.issue_index(issue_id) else {
            return;
        };
        let now = self.now();
        let issue = &mut self.issues[ix];
        let from = json!({
            "cycleId": issue.cycle_id,
            "updatedAt": fmt_time(&issue.updated_at),
        });
        issue.cycle_id = cycle;
        issue.updated_at = now;
        let issue = issue.clone();
        let data = self.issue_json(&issue);
        let url = Some(issue.url(&self.org));
        self.record("update", "Issue", data, Some(from), url, actor, now);
    }

    /// Complete every cycle whose end has passed: unfinished issues roll
    /// over to the team's next cycle (or leave cycles when there is none).
    /// Returns how many cycles completed.
    pub fn complete_ended_cycles(&mut self, wall: Time) -> usize {
        let due: Vec<usize> = self
            .cycles
            .iter()
            .enumerate()
            .filter(|(_, c)| c.completed_at.is_none() && c.archived_at.is_none())
            .filter(|(_, c)| c.ends_at <= wall)
            .map(|(ix, _)| ix)
            .collect();
        for &ix in &due {
            let (cid, team, ends) = {
                let c = &self.cycles[ix];
                (c.id.clone(), c.team_id.clone(), c.ends_at)
            };
            let next = self
                .cycles
                .iter()
                .filter(|c| c.team_id == team && c.id != cid && c.completed_at.is_none())
                .filter(|c| c.archived_at.is_none() && c.starts_at >= ends)
                .min_by_key(|c| c.starts_at)
                .map(|c| c.id.clone());
            let unfinished: Vec<String> = self
                .issues
                .iter()
                .filter(|i| i.cycle_id.as_deref() == Some(cid.as_str()))
                .filter(|i| {
                    self.state(&i.state_id)
                        .is_none_or(|s| !closed_kind(&s.kind))
                })
                .map(|i| i.id.clone())
                .collect();
            for issue in &unfinished {
                self.set_issue_cycle(issue, next.clone(), None);
            }
            let now = self.now();
            let c = &mut self.cycles[ix];
            c.completed_at = Some(now);
            c.updated_at = now;
            c.uncompleted_upon_close = unfinished;
            let c = c.clone();
            let from = json!({"completedAt": Value::Null});
            self.record_cycle("update", &c, Some(from), None, now);
        }
        due.len()
    }

    /// When the auto-archive may archive this closed issue, given what it
    /// belongs to: the team's period after it closed; in a project, not
    /// before the project is completed or canceled and then the project
    /// window after that; in a cycle, not before the cycle completed and
    /// then the team's period after that. `None`: not (yet) eligible.
    pub(super) fn auto_archive_due(&self, i: &Issue) -> Option<Time> {
        let period = self.team(&i.team_id)?.auto_archive_after;
        if period <= ChronoDuration::zero() {
            return None;
        }
        let closed = i.completed_at.or(i.canceled_at)?;
        let mut due = closed + period;
        if let Some(pid) = &i.project_id {
            let project_closed = self.project(pid)?.closed_at()?;
            due = closed.max(project_closed) + self.project_archive_after;
        }
        if let Some(cid) = &i.cycle_id {
            let cycle_done = self.cycle(cid)?.completed_at?;
            due = due.max(cycle_done + period);
        }
        Some(due)
    }

    /// Projects (completed or canceled) and cycles (completed) whose issues
    /// are all archived archive themselves right away, sent as `remove`.
    pub(super) fn archive_emptied_containers(&mut self) {
        let live = |s: &Store, f: &dyn Fn(&Issue) -> bool| {
            s.issues.iter().any(|i| f(i) && i.archived_at.is_none())
        };
        let projects: Vec<usize> = (0..self.projects.len())
            .filter(|&ix| {
                let p = &self.projects[ix];
                p.archived_at.is_none()
                    && p.closed_at().is_some()
                    && !live(self, &|i| i.project_id.as_deref() == Some(p.id.as_str()))
            })
            .collect();
        for ix in projects {
            let now = self.now();
            let p = &mut self.projects[ix];
            p.archived_at = Some(now);
            p.auto_archived_at = Some(now);
            p.updated_at = now;
            let p = p.clone();
            self.record_project("remove", &p, None, None, now);
        }
        let cycles: Vec<usize> = (0..self.cycles.len())
            .filter(|&ix| {
                let c = &self.cycles[ix];
                c.archived_at.is_none()
                    && c.completed_at.is_some()
                    && !live(self, &|i| i.cycle_id.as_deref() == Some(c.id.as_str()))
            })
            .collect();
        for ix in cycles {
            let now = self.now();
            let c = &mut self.cycles[ix];
            c.archived_at = Some(now);
            c.auto_archived_at = Some(now);
            c.updated_at = now;
            let c = c.clone();
            self.record_cycle("remove", &c, None, None, now);
        }
    }
}

/// Stamp the times a project status change implies.
fn stamp_project_times(p: &mut Project, kind: &str, now: Time) {
    if kind == "started" && p.started_at.is_none() {
        p.started_at = Some(now);
    }
    p.completed_at = (kind == "completed").then_some(now);
    p.canceled_at = (kind == "canceled").then_some(now);
}
