//! More teams and people than the seed has: a team with Linear's default
//! workflow states and the members it may assign issues to, users joining
//! the workspace, projects and cycles of a given team, and a human moving
//! an issue to another team (which Linear handles as the help describes:
//! see `Store::team_move`).

use chrono::Utc;

use super::error::SimError;
use super::handle::LinearSim;
use super::model::{Issue, Team, Time, User, WorkflowState};
use super::planning::{Cycle, Project};
use super::seed::DEFAULT_STATES;
use super::store::{IssueDraft, IssuePatch, Store, StoreError, new_id};

impl Store {
    /// A new team with Linear's default workflow states and no labels of
    /// its own; `members` are user ids.
    pub fn create_team(
        &mut self,
        key: &str,
        name: &str,
        members: Vec<String>,
    ) -> Result<Team, StoreError> {
        if self.team(key).is_some() {
            return Err(StoreError::Invalid(format!("a team with key {key} exists")));
        }
        let now = self.now();
        let team = Team {
            id: new_id(),
            key: key.to_uppercase(),
            name: name.into(),
            created_at: now,
            updated_at: now,
            member_ids: members,
            next_number: 1,
            auto_archive_after: chrono::Duration::days(6 * 30),
        };
        for (i, (state, kind, color)) in DEFAULT_STATES.iter().enumerate() {
            self.states.push(WorkflowState {
                id: new_id(),
                team_id: team.id.clone(),
                name: (*state).into(),
                kind: (*kind).into(),
                position: i as f64,
                color: (*color).into(),
                created_at: now,
            });
        }
        self.teams.push(team.clone());
        Ok(team)
    }

    fn team_id(&self, key: &str) -> Result<String, StoreError> {
        self.team(key)
            .map(|t| t.id.clone())
            .ok_or(StoreError::NotFound("Team"))
    }
}

impl LinearSim {
    /// A person joins the workspace (a member of no team yet).
    pub fn add_user(&self, name: &str, email: &str) -> Result<User, SimError> {
        self.write(|s| {
            let user = User {
                id: new_id(),
                name: name.into(),
                display_name: email.split('@').next().unwrap_or(name).into(),
                email: email.into(),
                admin: false,
                created_at: Utc::now(),
            };
            s.users.push(user.clone());
            Ok(user)
        })
    }

    /// An admin creates a team; `members` by email (unknown emails are
    /// refused).
    pub fn create_team(&self, key: &str, name: &str, members: &[&str]) -> Result<Team, SimError> {
        self.write(|s| {
            let mut ids = Vec::new();
            for m in members {
                let u = s
                    .users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(m))
                    .ok_or(StoreError::NotFound("User"))?;
                ids.push(u.id.clone());
            }
            s.create_team(key, name, ids)
        })
    }

    /// A team by key.
    pub fn team(&self, key: &str) -> Option<Team> {
        self.read(|s| s.team(key).cloned())
    }

    /// A human creates a project for these teams (by key).
    pub fn create_project_for(&self, name: &str, teams: &[&str]) -> Result<Project, SimError> {
        self.write(|s| {
            let ids = teams
                .iter()
                .map(|t| s.team_id(t))
                .collect::<Result<Vec<_>, _>>()?;
            s.create_project(name.into(), ids, None, None, Self::human())
        })
    }

    /// A human creates a named cycle of a team.
    pub fn create_cycle_for(
        &self,
        team: &str,
        name: &str,
        starts_at: Time,
        ends_at: Time,
    ) -> Result<Cycle, SimError> {
        self.write(|s| {
            let id = s.team_id(team)?;
            s.create_cycle(&id, starts_at, ends_at, Some(name.into()), Self::human())
        })
    }

    /// A human creates an issue in a team (by key) in the named state.
    pub fn create_issue_in(&self, team: &str, title: &str, state: &str) -> Result<Issue, SimError> {
        self.write(|s| {
            let team_id = s.team_id(team)?;
            let state_id = s
                .state_named(&team_id, state)
                .map(|st| st.id.clone())
                .ok_or(StoreError::NotFound("WorkflowState"))?;
            s.create_issue(
                IssueDraft {
                    team_id,
                    title: title.into(),
                    state_id: Some(state_id),
                    ..IssueDraft::default()
                },
                Self::human(),
            )
        })
    }

    /// A human moves an issue to another team (by key).
    pub fn move_issue(&self, id: &str, team: &str) -> Result<Issue, SimError> {
        self.patch(id, |s, _| {
            Ok(IssuePatch {
                team_id: Some(s.team_id(team)?),
                ..IssuePatch::default()
            })
        })
    }
}
