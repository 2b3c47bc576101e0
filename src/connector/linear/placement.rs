//! Where a routed issue goes and where it shipped: a team's projects and
//! members by name (a route names a project and an assignee's email; the
//! inputs take ids), the teams reconcile lists, the cycle and project an
//! issue shipped in, and whether that cycle or project has completed.

use serde::Deserialize;
use serde_json::{Value, json};

use super::LinearConnector;
use super::documents as doc;
use super::mapping::{Page, decode};
use crate::domain::{
    ErrorClass, GroupKind, GroupState, Placement, ReleaseGroup, RemoteError, ShipInfo,
};

/// The ids a placement names, resolved in its team.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PlacementIds {
    pub team_id: String,
    pub project_id: Option<String>,
    pub assignee_id: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

fn invalid(message: String) -> RemoteError {
    RemoteError::new(ErrorClass::Validation, message)
}

fn cycle_name(number: Option<f64>, name: Option<&str>) -> String {
    match (name.filter(|n| !n.trim().is_empty()), number) {
        (Some(n), _) => n.to_string(),
        (None, Some(n)) => format!("Cycle {}", n.round() as i64),
        (None, None) => "a cycle".to_string(),
    }
}

impl LinearConnector {
    /// Also list these teams (the routes' teams) in reconcile.
    pub fn set_listed_teams(&self, teams: &[String]) {
        *self
            .scope
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = teams.to_vec();
    }

    /// Every node of a team's `projects` or `members` connection.
    async fn team_connection(
        &self,
        query: &str,
        team_id: &str,
        field: &str,
    ) -> Result<Vec<Named>, RemoteError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = self
                .transport
                .request(query, json!({ "teamId": team_id, "after": after }))
                .await?;
            let page: Page<Named> = decode(&data, &["team", field], field)?;
            let next = page.next_cursor();
            out.extend(page.nodes);
            match next {
                Some(c) => after = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// An id looked up once per (kind, team, name).
    async fn cached_id(
        &self,
        kind: &str,
        team_id: &str,
        name: &str,
    ) -> Result<Option<String>, RemoteError> {
        let key = format!("{kind}\u{1f}{team_id}\u{1f}{}", name.to_lowercase());
        if let Some(id) = self
            .placements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(Some(id.clone()));
        }
        let (query, field) = match kind {
            "project" => (doc::TEAM_PROJECTS, "projects"),
            _ => (doc::TEAM_MEMBERS, "members"),
        };
        let nodes = self.team_connection(query, team_id, field).await?;
        let found = nodes.into_iter().find(|n| {
            let have = if kind == "project" { &n.name } else { &n.email };
            have.as_deref()
                .is_some_and(|h| h.trim().eq_ignore_ascii_case(name.trim()))
        });
        if let Some(n) = &found {
            self.placements
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key, n.id.clone());
        }
        Ok(found.map(|n| n.id))
    }

    /// The ids of a placement: its team (the configured one when it names
    /// none), the project by name among the team's projects, the assignee
    /// by email among the team's members. A name the team does not have
    /// is refused, naming the team.
    pub(super) async fn placement_ids(
        &self,
        placement: Option<&Placement>,
    ) -> Result<(String, PlacementIds), RemoteError> {
        let key = placement
            .and_then(|p| p.team.clone())
            .unwrap_or_else(|| self.config.team_key.clone());
        let catalog = self.team_catalog(&key).await?;
        let team_id = catalog.team.id.clone();
        let mut ids = PlacementIds {
            team_id: team_id.clone(),
            ..PlacementIds::default()
        };
        if let Some(name) = placement.and_then(|p| p.project.as_deref()) {
            ids.project_id = Some(self.cached_id("project", &team_id, name).await?.ok_or_else(
                || {
                    invalid(format!(
                        "team {key} is not part of a Linear project named '{name}' (add the team to the project, or fix the route's project)"
                    ))
                },
            )?);
        }
        if let Some(email) = placement.and_then(|p| p.assignee.as_deref()) {
            ids.assignee_id = Some(self.cached_id("member", &team_id, email).await?.ok_or_else(
                || {
                    invalid(format!(
                        "no member of Linear team {key} has the email '{email}' (invite them to the team, or fix the route's assignee)"
                    ))
                },
            )?);
        }
        Ok((key, ids))
    }

    /// The cycle and project an issue is in, with its key and URL.
    pub async fn issue_shipped_in(&self, id: &str) -> Result<Option<ShipInfo>, RemoteError> {
        #[derive(Deserialize)]
        struct Team {
            key: String,
        }
        #[derive(Deserialize)]
        struct Cycle {
            id: String,
            number: Option<f64>,
            name: Option<String>,
        }
        #[derive(Deserialize)]
        struct Node {
            identifier: Option<String>,
            url: Option<String>,
            team: Option<Team>,
            cycle: Option<Cycle>,
            project: Option<Named>,
        }
        let data = match self
            .transport
            .request(doc::ISSUE_SHIPPED, json!({ "id": id }))
            .await
        {
            Ok(d) => d,
            Err(e) if e.class == ErrorClass::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if data.get("issue").is_none_or(Value::is_null) {
            return Ok(None);
        }
        let n: Node = decode(&data, &["issue"], "issue (shipped in)")?;
        Ok(Some(ShipInfo {
            identifier: n.identifier.unwrap_or_default(),
            url: n.url.unwrap_or_default(),
            team: n.team.map(|t| t.key).unwrap_or_default(),
            cycle: n.cycle.map(|c| ReleaseGroup {
                kind: GroupKind::Cycle,
                name: cycle_name(c.number, c.name.as_deref()),
                id: c.id,
            }),
            project: n.project.map(|p| ReleaseGroup {
                kind: GroupKind::Project,
                name: p.name.unwrap_or_default(),
                id: p.id,
            }),
        }))
    }

    /// Whether a cycle or project has completed (or is gone).
    pub async fn release_group_state(
        &self,
        group: &ReleaseGroup,
    ) -> Result<GroupState, RemoteError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Status {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Node {
            completed_at: Option<String>,
            canceled_at: Option<String>,
            archived_at: Option<String>,
            trashed: Option<bool>,
            status: Option<Status>,
        }
        let (query, root) = match group.kind {
            GroupKind::Cycle => (doc::CYCLE_STATE, "cycle"),
            GroupKind::Project => (doc::PROJECT_STATE, "project"),
        };
        let data = match self
            .transport
            .request(query, json!({ "id": group.id }))
            .await
        {
            Ok(d) => d,
            Err(e) if e.class == ErrorClass::NotFound => return Ok(GroupState::Gone),
            Err(e) if e.message.contains("Entity not found") => return Ok(GroupState::Gone),
            Err(e) => return Err(e),
        };
        if data.get(root).is_none_or(Value::is_null) {
            return Ok(GroupState::Gone);
        }
        let n: Node = decode(&data, &[root], root)?;
        let completed = n.completed_at.is_some()
            || n.status
                .as_ref()
                .and_then(|s| s.kind.as_deref())
                .is_some_and(|k| k == "completed");
        Ok(if completed {
            GroupState::Completed
        } else if n.trashed == Some(true) || n.canceled_at.is_some() || n.archived_at.is_some() {
            GroupState::Gone
        } else {
            GroupState::Open
        })
    }
}
