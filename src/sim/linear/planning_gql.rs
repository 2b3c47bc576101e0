//! The GraphQL side of projects and cycles (see `planning.rs`): the query
//! roots `projects`, `project`, `projectStatuses`, `cycles`, `cycle`, their
//! fields, and the mutations `projectCreate`, `projectUpdate`,
//! `projectArchive`, `projectDelete`, `projectUnarchive`, `cycleCreate`,
//! `cycleUpdate`, `cycleArchive`. Archived projects and cycles drop out of connections
//! unless `includeArchived`, like every other entity.

use apollo_compiler::executable::Field;
use chrono::DateTime;
use serde_json::{Value, json};

use super::exec::{Args, Val};
use super::gqlerror::GqlError;
use super::model::Time;
use super::planning::{Cycle, Project, ProjectPatch, ProjectStatus};
use super::resolve::{Obj, Sim, arg_str, connection, leaf, order_key, store_error, time};
use super::store::StoreError;

fn with_archived(args: &Args) -> bool {
    args.get("includeArchived")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn opt_time(t: &Option<Time>) -> Result<Val<Obj>, GqlError> {
    leaf(json!(t.as_ref().map(super::model::fmt_time)))
}

fn parse_time(v: Option<&Value>, what: &str) -> Result<Time, GqlError> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| GqlError::input(format!("{what} must be a DateTime")))
}

/// The connection sort key of a record with these times.
fn keyed(args: &Args, created: Time, updated: Time, id: &str) -> super::page::Key {
    order_key(args, &created, &updated, id)
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

impl Sim<'_> {
    /// A connection of projects or cycles: archived ones only with
    /// `includeArchived`, newest first by `orderBy`.
    fn planning_connection<'a, T: 'a>(
        &self,
        field: &Field,
        args: &Args,
        records: impl Iterator<Item = &'a T>,
        archived: impl Fn(&T) -> bool,
        node: impl Fn(&T) -> (super::page::Key, Obj),
    ) -> Result<Val<Obj>, GqlError> {
        let all = with_archived(args);
        let items = records.filter(|r| all || !archived(r)).map(node).collect();
        connection(field, items, args)
    }

    pub(super) fn projects(
        &self,
        field: &Field,
        args: &Args,
        team: Option<&str>,
    ) -> Result<Val<Obj>, GqlError> {
        let of_team = self
            .store
            .projects
            .iter()
            .filter(|p| team.is_none_or(|t| p.team_ids.iter().any(|x| x == t)));
        self.planning_connection(
            field,
            args,
            of_team,
            |p| p.archived_at.is_some(),
            |p| {
                let key = keyed(args, p.created_at, p.updated_at, &p.id);
                (key, Obj::Project(Box::new(p.clone())))
            },
        )
    }

    pub(super) fn cycles(
        &self,
        field: &Field,
        args: &Args,
        team: Option<&str>,
    ) -> Result<Val<Obj>, GqlError> {
        let of_team = self
            .store
            .cycles
            .iter()
            .filter(|c| team.is_none_or(|t| c.team_id == t));
        self.planning_connection(
            field,
            args,
            of_team,
            |c| c.archived_at.is_some(),
            |c| {
                let key = keyed(args, c.created_at, c.updated_at, &c.id);
                (key, Obj::Cycle(Box::new(c.clone())))
            },
        )
    }

    fn project_statuses(&self, field: &Field, args: &Args) -> Result<Val<Obj>, GqlError> {
        let items = self
            .store
            .project_statuses
            .iter()
            .map(|st| {
                let key = keyed(args, st.created_at, st.created_at, &st.id);
                (key, Obj::ProjectStatus(Box::new(st.clone())))
            })
            .collect();
        connection(field, items, args)
    }

    /// A planning query root field; `None` when `field` is not one.
    pub(super) fn planning_query(
        &self,
        field: &Field,
        args: &Args,
    ) -> Option<Result<Val<Obj>, GqlError>> {
        let id = arg_str(args, "id").unwrap_or_default();
        Some(match field.name.as_str() {
            "projects" => self.projects(field, args, None),
            "project" => self
                .store
                .project(id)
                .map(|p| Val::Obj(Obj::Project(Box::new(p.clone()))))
                .ok_or_else(|| store_error(StoreError::NotFound("Project"))),
            "projectStatuses" => self.project_statuses(field, args),
            "cycles" => self.cycles(field, args, None),
            "cycle" => self
                .store
                .cycle(id)
                .map(|c| Val::Obj(Obj::Cycle(Box::new(c.clone()))))
                .ok_or_else(|| store_error(StoreError::NotFound("Cycle"))),
            _ => return None,
        })
    }

    pub(super) fn project_field(
        &self,
        p: &Project,
        field: &Field,
        args: &Args,
    ) -> Result<Val<Obj>, GqlError> {
        let status = self.store.project_status(&p.status_id);
        match field.name.as_str() {
            "id" => leaf(p.id.clone()),
            "name" => leaf(p.name.clone()),
            "description" => leaf(p.description.clone()),
            "url" => leaf(self.store.project_url(p)),
            "slugId" => leaf(p.slug_id()),
            "createdAt" => time(&p.created_at),
            "updatedAt" => time(&p.updated_at),
            "startedAt" => opt_time(&p.started_at),
            "completedAt" => opt_time(&p.completed_at),
            "canceledAt" => opt_time(&p.canceled_at),
            "archivedAt" => opt_time(&p.archived_at),
            "autoArchivedAt" => opt_time(&p.auto_archived_at),
            "trashed" => leaf(json!(if p.trashed { Some(true) } else { None })),
            "state" => leaf(status.map_or_else(String::new, |s| s.kind.clone())),
            "status" => Ok(status.map_or(Val::Default, |s| {
                Val::Obj(Obj::ProjectStatus(Box::new(s.clone())))
            })),
            "teams" => {
                let items = self
                    .store
                    .teams
                    .iter()
                    .filter(|t| p.team_ids.contains(&t.id))
                    .map(|t| {
                        (
                            order_key(args, &t.created_at, &t.updated_at, &t.id),
                            Obj::Team(Box::new(t.clone())),
                        )
                    })
                    .collect();
                connection(field, items, args)
            }
            "issues" => {
                let id = p.id.clone();
                self.issues(field, args, &format!("project:{id}"), |i| {
                    i.project_id.as_deref() == Some(id.as_str())
                })
            }
            _ => Ok(Val::Default),
        }
    }

    pub(super) fn cycle_field(
        &self,
        c: &Cycle,
        field: &Field,
        args: &Args,
    ) -> Result<Val<Obj>, GqlError> {
        let now = chrono::Utc::now();
        match field.name.as_str() {
            "id" => leaf(c.id.clone()),
            "number" => leaf(f64::from(c.number)),
            "name" => leaf(json!(c.name)),
            "startsAt" => time(&c.starts_at),
            "endsAt" => time(&c.ends_at),
            "createdAt" => time(&c.created_at),
            "updatedAt" => time(&c.updated_at),
            "completedAt" => opt_time(&c.completed_at),
            "archivedAt" => opt_time(&c.archived_at),
            "autoArchivedAt" => opt_time(&c.auto_archived_at),
            "isActive" => leaf(c.is_active(&now)),
            "isFuture" => leaf(c.starts_at > now),
            "isPast" => leaf(c.ends_at <= now),
            "team" => Ok(self
                .store
                .team(&c.team_id)
                .map_or(Val::Default, |t| Val::Obj(Obj::Team(Box::new(t.clone()))))),
            "issues" => {
                let id = c.id.clone();
                self.issues(field, args, &format!("cycle:{id}"), |i| {
                    i.cycle_id.as_deref() == Some(id.as_str())
                })
            }
            "uncompletedIssuesUponClose" => {
                let ids = c.uncompleted_upon_close.clone();
                let key = format!("uncompleted:{}", c.id);
                self.issues(field, args, &key, |i| ids.contains(&i.id))
            }
            _ => Ok(Val::Default),
        }
    }

    pub(super) fn project_status_field(
        &self,
        st: &ProjectStatus,
        field: &Field,
    ) -> Result<Val<Obj>, GqlError> {
        match field.name.as_str() {
            "id" => leaf(st.id.clone()),
            "name" => leaf(st.name.clone()),
            "type" => leaf(st.kind.clone()),
            "position" => leaf(st.position),
            "color" => leaf(st.color.clone()),
            "createdAt" | "updatedAt" => time(&st.created_at),
            _ => Ok(Val::Default),
        }
    }
}

fn payload(field: &Field, entity: Obj) -> Val<Obj> {
    Val::Obj(Obj::Payload(
        field.ty().inner_named_type().to_string(),
        Some(Box::new(entity)),
    ))
}

/// A planning mutation; `None` when `field` is not one.
pub fn mutate(sim: &mut Sim<'_>, field: &Field, args: &Args) -> Option<Result<Val<Obj>, GqlError>> {
    let actor = Some(sim.store.viewer_id.clone());
    let input = args.get("input").cloned().unwrap_or(Value::Null);
    let id = arg_str(args, "id").unwrap_or_default().to_string();
    let store = &mut *sim.store;
    let project = |r: Result<Project, StoreError>| {
        r.map(|p| payload(field, Obj::Project(Box::new(p))))
            .map_err(store_error)
    };
    let cycle = |r: Result<Cycle, StoreError>| {
        r.map(|c| payload(field, Obj::Cycle(Box::new(c))))
            .map_err(store_error)
    };
    Some(match field.name.as_str() {
        "projectCreate" => {
            let teams = input
                .get("teamIds")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            project(store.create_project(
                s(&input, "name").unwrap_or_default(),
                teams,
                s(&input, "statusId"),
                s(&input, "id"),
                actor,
            ))
        }
        "projectUpdate" => project(store.update_project(
            &id,
            ProjectPatch {
                name: s(&input, "name"),
                description: s(&input, "description"),
                status_id: s(&input, "statusId"),
            },
            actor,
        )),
        "projectArchive" => {
            let trash = args.get("trash").and_then(Value::as_bool).unwrap_or(false);
            project(store.archive_project(&id, trash, actor))
        }
        "projectDelete" => project(store.archive_project(&id, true, actor)),
        "projectUnarchive" => project(store.unarchive_project(&id, actor)),
        "cycleCreate" => {
            let times = parse_time(input.get("startsAt"), "startsAt")
                .and_then(|a| Ok((a, parse_time(input.get("endsAt"), "endsAt")?)));
            match times {
                Ok((starts, ends)) => cycle(store.create_cycle(
                    &s(&input, "teamId").unwrap_or_default(),
                    starts,
                    ends,
                    s(&input, "name"),
                    actor,
                )),
                Err(e) => Err(e),
            }
        }
        "cycleUpdate" => {
            let at = |k: &str| match input.get(k) {
                None | Some(Value::Null) => Ok(None),
                v => parse_time(v, k).map(Some),
            };
            match at("startsAt").and_then(|s| Ok((s, at("endsAt")?))) {
                Ok((starts, ends)) => cycle(store.update_cycle(&id, starts, ends, actor)),
                Err(e) => Err(e),
            }
        }
        "cycleArchive" => cycle(store.archive_cycle(&id, actor)),
        _ => return None,
    })
}
