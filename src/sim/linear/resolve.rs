//! Field resolution for the modelled part of Linear's schema.
//!
//! [`Obj`] is a handle on something the simulator can answer for; objects
//! carry snapshots of the records, so a payload returned by a mutation shows
//! the record as that mutation left it (even after a permanent delete).
//! Everything not listed here answers [`Val::Default`], and the executor fills
//! in a type-correct value.

use std::sync::Arc;

use apollo_compiler::executable::Field;
use serde_json::{Value, json};

use super::exec::{Args, Resolver, Val};
use super::filter::{issue_matches, string_matches};
use super::gqlerror::GqlError;
use super::model::*;
use super::page::{Key, Page, check_args, paginate, paginate_sorted};
use super::ratelimit::BucketView;
use super::store::{IssueOrderCache, Store, StoreError};

/// Something the resolver can answer fields of.
#[derive(Debug, Clone)]
pub enum Obj {
    /// The query root.
    Query,
    /// The mutation root.
    Mutation,
    /// The organization.
    Org,
    /// A user.
    User(Box<User>),
    /// A team.
    Team(Box<Team>),
    /// A workflow state.
    State(Box<WorkflowState>),
    /// A label.
    Label(Box<Label>),
    /// An issue.
    Issue(Box<Issue>),
    /// A comment.
    Comment(Box<Comment>),
    /// An attachment.
    Attachment(Box<Attachment>),
    /// An issue relation.
    Relation(Box<Relation>),
    /// An issue history entry.
    History(Box<IssueHistory>),
    /// A project.
    Project(Box<super::planning::Project>),
    /// A cycle.
    Cycle(Box<super::planning::Cycle>),
    /// A project status.
    ProjectStatus(Box<super::planning::ProjectStatus>),
    /// A Relay connection of the named type.
    Conn(String, Box<Page<Obj>>),
    /// An edge of the named type.
    Edge(String, String, Box<Obj>),
    /// PageInfo: has_next, has_prev, start cursor, end cursor.
    PageInfo(bool, bool, Option<String>, Option<String>),
    /// A mutation payload of the named type, with its entity.
    Payload(String, Option<Box<Obj>>),
    /// `rateLimitStatus`.
    RateLimit,
    /// One `RateLimitResultPayload`: type name and bucket.
    RateLimitResult(&'static str, BucketView),
}

/// Rate-limit figures of the current request, for `rateLimitStatus`.
#[derive(Debug, Clone, Copy)]
pub struct RateInfo {
    /// Request bucket after this request.
    pub requests: BucketView,
    /// Complexity bucket after this request.
    pub complexity: BucketView,
    /// This request's complexity.
    pub cost: u64,
}

/// The resolver: the store for one request plus request facts.
pub struct Sim<'s> {
    /// The simulator state (locked for the request).
    pub store: &'s mut Store,
    /// Rate-limit figures.
    pub rate: RateInfo,
    /// What the credential may do (`createAsUser` needs an app actor).
    pub caller: super::engine::CallerKind,
    /// Entities this request created as a named external user.
    pub attributed: Vec<super::engine::Attribution>,
}

/// Map a store refusal to Linear's INPUT_ERROR.
pub fn store_error(e: StoreError) -> GqlError {
    GqlError::input(e.to_string())
}

pub(super) fn leaf(v: impl Into<Value>) -> Result<Val<Obj>, GqlError> {
    Ok(Val::Leaf(v.into()))
}

pub(super) fn time(t: &Time) -> Result<Val<Obj>, GqlError> {
    leaf(fmt_time(t))
}

fn ms(t: &Time) -> i64 {
    t.timestamp_millis()
}

/// Newest first by `orderBy` (createdAt by default), ties by id.
pub(super) fn order_key(args: &Args, created: &Time, updated: &Time, id: &str) -> Key {
    let t = if args.get("orderBy").and_then(Value::as_str) == Some("updatedAt") {
        updated
    } else {
        created
    };
    Key {
        key: -ms(t),
        id: id.to_string(),
    }
}

pub(super) fn connection(
    field: &Field,
    mut items: Vec<(Key, Obj)>,
    args: &Args,
) -> Result<Val<Obj>, GqlError> {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let page = paginate(items, args)?;
    Ok(Val::Obj(Obj::Conn(
        field.ty().inner_named_type().to_string(),
        Box::new(page),
    )))
}

/// Whether a filter holds a relative date (an ISO 8601 duration such as
/// "-P2W"), whose meaning moves with the clock. Conservative: any string
/// shaped like one counts.
fn has_relative_time(v: &Value) -> bool {
    match v {
        Value::String(s) => {
            let s = s.strip_prefix(['-', '+']).unwrap_or(s);
            s.starts_with('P')
        }
        Value::Array(a) => a.iter().any(has_relative_time),
        Value::Object(o) => o.values().any(has_relative_time),
        _ => false,
    }
}

pub(super) fn arg_str<'a>(args: &'a Args, k: &str) -> Option<&'a str> {
    args.get(k).and_then(Value::as_str)
}

impl Sim<'_> {
    /// An issues connection. `scope_key` names the scope (`"all"`,
    /// `"team:<id>"`, ...) so the sorted result can be cached per query
    /// (see [`IssueOrderCache`]); a filter with a relative date ("-P1D")
    /// depends on the clock and is never cached.
    pub(super) fn issues(
        &self,
        field: &Field,
        args: &Args,
        scope_key: &str,
        scope: impl Fn(&Issue) -> bool,
    ) -> Result<Val<Obj>, GqlError> {
        check_args(args)?;
        let with_archived = args
            .get("includeArchived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let filter = args.get("filter").cloned().unwrap_or(Value::Null);
        let order = args.get("orderBy").and_then(Value::as_str);
        let query = format!("{scope_key}|{with_archived}|{order:?}|{filter}");
        let cacheable = !has_relative_time(&filter);
        let store = &*self.store;
        let mut slot = store
            .issue_order
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let cached = slot
            .as_ref()
            .filter(|c| {
                cacheable
                    && c.sync_id == store.sync_id
                    && c.issues == store.issues.len()
                    && c.query == query
            })
            .map(|c| c.items.clone());
        let items = match cached {
            Some(items) => items,
            None => {
                let mut items: Vec<(Key, usize)> = store
                    .issues
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| with_archived || i.archived_at.is_none())
                    .filter(|(_, i)| scope(i) && issue_matches(store, i, &filter))
                    .map(|(ix, i)| (order_key(args, &i.created_at, &i.updated_at, &i.id), ix))
                    .collect();
                items.sort_by(|a, b| a.0.cmp(&b.0));
                let items = Arc::new(items);
                *slot = cacheable.then(|| IssueOrderCache {
                    sync_id: store.sync_id,
                    issues: store.issues.len(),
                    query,
                    items: items.clone(),
                });
                items
            }
        };
        drop(slot);
        let page = paginate_sorted(&items, args)?;
        let page = Page {
            items: page
                .items
                .into_iter()
                .filter_map(|(c, ix)| {
                    store
                        .issues
                        .get(ix)
                        .map(|i| (c, Obj::Issue(Box::new(i.clone()))))
                })
                .collect(),
            has_next: page.has_next,
            has_prev: page.has_prev,
        };
        Ok(Val::Obj(Obj::Conn(
            field.ty().inner_named_type().to_string(),
            Box::new(page),
        )))
    }

    fn issue_by_id(&self, id: &str) -> Result<Val<Obj>, GqlError> {
        self.store
            .issue(id)
            .map(|i| Val::Obj(Obj::Issue(Box::new(i.clone()))))
            .ok_or_else(|| store_error(StoreError::NotFound("Issue")))
    }

    fn teams(&self, field: &Field, args: &Args) -> Result<Val<Obj>, GqlError> {
        let f = args.get("filter").cloned().unwrap_or(Value::Null);
        let items = self
            .store
            .teams
            .iter()
            .filter(|t| {
                string_matches(Some(&t.key), &f["key"])
                    && string_matches(Some(&t.name), &f["name"])
                    && string_matches(Some(&t.id), &f["id"])
            })
            .map(|t| {
                (
                    order_key(args, &t.created_at, &t.updated_at, &t.id),
                    Obj::Team(Box::new(t.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    fn states(&self, field: &Field, args: &Args, team: Option<&str>) -> Result<Val<Obj>, GqlError> {
        let f = args.get("filter").cloned().unwrap_or(Value::Null);
        let items = self
            .store
            .states
            .iter()
            .filter(|s| team.is_none_or(|t| s.team_id == t))
            .filter(|s| {
                let t = self.store.team(&s.team_id);
                string_matches(Some(&s.name), &f["name"])
                    && string_matches(Some(&s.kind), &f["type"])
                    && string_matches(Some(&s.id), &f["id"])
                    && string_matches(t.map(|t| t.id.as_str()), &f["team"]["id"])
                    && string_matches(t.map(|t| t.key.as_str()), &f["team"]["key"])
            })
            .map(|s| {
                (
                    order_key(args, &s.created_at, &s.created_at, &s.id),
                    Obj::State(Box::new(s.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    fn labels(
        &self,
        field: &Field,
        args: &Args,
        only: Option<&[String]>,
        team: Option<&str>,
    ) -> Result<Val<Obj>, GqlError> {
        let f = args.get("filter").cloned().unwrap_or(Value::Null);
        let items = self
            .store
            .labels
            .iter()
            .filter(|l| only.is_none_or(|ids| ids.contains(&l.id)))
            .filter(|l| team.is_none_or(|t| l.team_id.as_deref().is_none_or(|lt| lt == t)))
            .filter(|l| {
                let t = l.team_id.as_deref().and_then(|t| self.store.team(t));
                string_matches(Some(&l.name), &f["name"])
                    && string_matches(Some(&l.id), &f["id"])
                    && string_matches(t.map(|t| t.id.as_str()), &f["team"]["id"])
                    && string_matches(t.map(|t| t.key.as_str()), &f["team"]["key"])
            })
            .map(|l| {
                (
                    order_key(args, &l.created_at, &l.updated_at, &l.id),
                    Obj::Label(Box::new(l.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    /// A team's members (`Team.members`).
    fn members(&self, field: &Field, args: &Args, ids: &[String]) -> Result<Val<Obj>, GqlError> {
        let items = self
            .store
            .users
            .iter()
            .filter(|u| ids.contains(&u.id))
            .map(|u| {
                (
                    order_key(args, &u.created_at, &u.created_at, &u.id),
                    Obj::User(Box::new(u.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    fn users(&self, field: &Field, args: &Args) -> Result<Val<Obj>, GqlError> {
        let items = self
            .store
            .users
            .iter()
            .map(|u| {
                (
                    order_key(args, &u.created_at, &u.created_at, &u.id),
                    Obj::User(Box::new(u.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    /// An issue's history, newest first (`Issue.history`).
    fn history(&self, field: &Field, args: &Args, issue_id: &str) -> Result<Val<Obj>, GqlError> {
        let items = self
            .store
            .history
            .iter()
            .filter(|h| h.issue_id == issue_id)
            .map(|h| {
                (
                    order_key(args, &h.created_at, &h.created_at, &h.id),
                    Obj::History(Box::new(h.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    fn history_field(&self, h: &IssueHistory, field: &Field) -> Result<Val<Obj>, GqlError> {
        let from = |p: &Option<(String, String)>| leaf(json!(p.as_ref().map(|p| p.0.clone())));
        let to = |p: &Option<(String, String)>| leaf(json!(p.as_ref().map(|p| p.1.clone())));
        let ids = |v: &Vec<String>| leaf(json!((!v.is_empty()).then(|| v.clone())));
        match field.name.as_str() {
            "id" => leaf(h.id.clone()),
            "createdAt" | "updatedAt" => time(&h.created_at),
            "actorId" => leaf(json!(h.actor_id)),
            "actor" => Ok(self.user_obj(h.actor_id.as_deref())),
            "fromTitle" => from(&h.title),
            "toTitle" => to(&h.title),
            "updatedDescription" => leaf(json!(h.updated_description.then_some(true))),
            "fromStateId" => from(&h.state),
            "toStateId" => to(&h.state),
            "fromPriority" => leaf(json!(h.priority.map(|p| p.0 as f64))),
            "toPriority" => leaf(json!(h.priority.map(|p| p.1 as f64))),
            "fromTeamId" => from(&h.team),
            "toTeamId" => to(&h.team),
            "addedLabelIds" => ids(&h.added_label_ids),
            "removedLabelIds" => ids(&h.removed_label_ids),
            "issue" => Ok(self
                .store
                .issue(&h.issue_id)
                .map_or(Val::Null, |i| Val::Obj(Obj::Issue(Box::new(i.clone()))))),
            _ => Ok(Val::Default),
        }
    }

    fn comments(
        &self,
        field: &Field,
        args: &Args,
        issue_id: Option<&str>,
    ) -> Result<Val<Obj>, GqlError> {
        let f = args.get("filter").cloned().unwrap_or(Value::Null);
        let items = self
            .store
            .comments
            .iter()
            .filter(|c| issue_id.is_none_or(|i| c.issue_id == i))
            .filter(|c| {
                string_matches(Some(&c.issue_id), &f["issue"]["id"])
                    && string_matches(Some(&c.body), &f["body"])
            })
            .map(|c| {
                (
                    order_key(args, &c.created_at, &c.updated_at, &c.id),
                    Obj::Comment(Box::new(c.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    /// An attachments connection. Attachments of archived issues are left
    /// out unless `includeArchived` (Linear's connections default to false).
    fn attachments(
        &self,
        field: &Field,
        args: &Args,
        pred: impl Fn(&Attachment) -> bool,
    ) -> Result<Val<Obj>, GqlError> {
        let with_archived = args
            .get("includeArchived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let f = args.get("filter").cloned().unwrap_or(Value::Null);
        let items = self
            .store
            .attachments
            .iter()
            .filter(|a| pred(a))
            .filter(|a| {
                with_archived
                    || self
                        .store
                        .issue(&a.issue_id)
                        .is_some_and(|i| i.archived_at.is_none())
            })
            .filter(|a| {
                string_matches(Some(&a.url), &f["url"])
                    && string_matches(Some(&a.title), &f["title"])
                    && string_matches(Some(&a.id), &f["id"])
            })
            .map(|a| {
                (
                    order_key(args, &a.created_at, &a.updated_at, &a.id),
                    Obj::Attachment(Box::new(a.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    fn relations(
        &self,
        field: &Field,
        args: &Args,
        pred: impl Fn(&Relation) -> bool,
    ) -> Result<Val<Obj>, GqlError> {
        let items = self
            .store
            .relations
            .iter()
            .filter(|r| pred(r))
            .map(|r| {
                (
                    order_key(args, &r.created_at, &r.created_at, &r.id),
                    Obj::Relation(Box::new(r.clone())),
                )
            })
            .collect();
        connection(field, items, args)
    }

    fn user_obj(&self, id: Option<&str>) -> Val<Obj> {
        match id.and_then(|id| self.store.user(id)) {
            Some(u) => Val::Obj(Obj::User(Box::new(u.clone()))),
            None => Val::Null,
        }
    }

    fn query(&mut self, field: &Field, args: &Args) -> Result<Val<Obj>, GqlError> {
        let id = arg_str(args, "id").unwrap_or_default();
        match field.name.as_str() {
            "viewer" => Ok(self.user_obj(Some(&self.store.viewer_id.clone()))),
            "organization" => Ok(Val::Obj(Obj::Org)),
            "teams" => self.teams(field, args),
            "team" => self
                .store
                .team(id)
                .map(|t| Val::Obj(Obj::Team(Box::new(t.clone()))))
                .ok_or_else(|| store_error(StoreError::NotFound("Team"))),
            "workflowStates" => self.states(field, args, None),
            "workflowState" => self
                .store
                .state(id)
                .map(|s| Val::Obj(Obj::State(Box::new(s.clone()))))
                .ok_or_else(|| store_error(StoreError::NotFound("WorkflowState"))),
            "issueLabels" => self.labels(field, args, None, None),
            "issueLabel" => self
                .store
                .label(id)
                .map(|l| Val::Obj(Obj::Label(Box::new(l.clone()))))
                .ok_or_else(|| store_error(StoreError::NotFound("IssueLabel"))),
            "users" => self.users(field, args),
            "user" => match self.user_obj(Some(id)) {
                Val::Null => Err(store_error(StoreError::NotFound("User"))),
                v => Ok(v),
            },
            "issues" => self.issues(field, args, "all", |_| true),
            "issue" => self.issue_by_id(id),
            "comments" => self.comments(field, args, None),
            "comment" => self
                .store
                .comment(id)
                .map(|c| Val::Obj(Obj::Comment(Box::new(c.clone()))))
                .ok_or_else(|| store_error(StoreError::NotFound("Comment"))),
            "attachment" => self
                .store
                .attachment(id)
                .map(|a| Val::Obj(Obj::Attachment(Box::new(a.clone()))))
                .ok_or_else(|| store_error(StoreError::NotFound("Attachment"))),
            "attachments" => self.attachments(field, args, |_| true),
            "attachmentsForURL" => {
                let url = arg_str(args, "url").unwrap_or_default().to_string();
                self.attachments(field, args, |a| a.url == url)
            }
            "rateLimitStatus" => Ok(Val::Obj(Obj::RateLimit)),
            _ => self.planning_query(field, args).unwrap_or(Ok(Val::Default)),
        }
    }

    fn issue_field(&self, i: &Issue, field: &Field, args: &Args) -> Result<Val<Obj>, GqlError> {
        match field.name.as_str() {
            "id" => leaf(i.id.clone()),
            "identifier" => leaf(i.identifier.clone()),
            "number" => leaf(f64::from(i.number)),
            "title" => leaf(i.title.clone()),
            "description" => leaf(json!(i.description)),
            "priority" => leaf(i.priority as f64),
            "priorityLabel" => leaf(priority_label(i.priority)),
            "url" => leaf(i.url(&self.store.org)),
            "branchName" => leaf(format!(
                "{}-{}",
                i.identifier.to_lowercase(),
                slug(&i.title)
            )),
            "createdAt" => time(&i.created_at),
            "updatedAt" => time(&i.updated_at),
            "archivedAt" => leaf(json!(i.archived_at.as_ref().map(fmt_time))),
            "autoArchivedAt" => leaf(json!(i.auto_archived_at.as_ref().map(fmt_time))),
            "completedAt" => leaf(json!(i.completed_at.as_ref().map(fmt_time))),
            "canceledAt" => leaf(json!(i.canceled_at.as_ref().map(fmt_time))),
            "relations" => self.relations(field, args, |r| r.issue_id == i.id),
            "inverseRelations" => self.relations(field, args, |r| r.related_issue_id == i.id),
            "trashed" => leaf(json!(if i.trashed { Some(true) } else { None })),
            "labelIds" => leaf(json!(i.label_ids)),
            "state" => Ok(self
                .store
                .state(&i.state_id)
                .map_or(Val::Default, |s| Val::Obj(Obj::State(Box::new(s.clone()))))),
            "team" => Ok(self
                .store
                .team(&i.team_id)
                .map_or(Val::Default, |t| Val::Obj(Obj::Team(Box::new(t.clone()))))),
            "assignee" => Ok(self.user_obj(i.assignee_id.as_deref())),
            "creator" => Ok(self.user_obj(i.creator_id.as_deref())),
            "labels" => self.labels(field, args, Some(&i.label_ids), None),
            "comments" => self.comments(field, args, Some(&i.id)),
            "attachments" => self.attachments(field, args, |a| a.issue_id == i.id),
            "history" => self.history(field, args, &i.id),
            "project" => Ok(i
                .project_id
                .as_deref()
                .and_then(|id| self.store.project(id))
                .map_or(Val::Null, |p| Val::Obj(Obj::Project(Box::new(p.clone()))))),
            "cycle" => Ok(i
                .cycle_id
                .as_deref()
                .and_then(|id| self.store.cycle(id))
                .map_or(Val::Null, |c| Val::Obj(Obj::Cycle(Box::new(c.clone()))))),
            _ => Ok(Val::Default),
        }
    }

    fn object_field(
        &mut self,
        obj: &Obj,
        field: &Field,
        args: &Args,
    ) -> Result<Val<Obj>, GqlError> {
        let name = field.name.as_str();
        match obj {
            Obj::Query => self.query(field, args),
            Obj::Mutation => super::mutate::mutate(self, field, args),
            Obj::Issue(i) => self.issue_field(i, field, args),
            Obj::Project(p) => self.project_field(p, field, args),
            Obj::Cycle(c) => self.cycle_field(c, field, args),
            Obj::ProjectStatus(st) => self.project_status_field(st, field),
            Obj::Org => match name {
                "id" => leaf(self.store.org.id.clone()),
                "name" => leaf(self.store.org.name.clone()),
                "urlKey" => leaf(self.store.org.url_key.clone()),
                "teams" => self.teams(field, args),
                "users" => self.users(field, args),
                _ => Ok(Val::Default),
            },
            Obj::User(u) => match name {
                "id" => leaf(u.id.clone()),
                "name" => leaf(u.name.clone()),
                "displayName" => leaf(u.display_name.clone()),
                "email" => leaf(u.email.clone()),
                "admin" => leaf(u.admin),
                "active" => leaf(true),
                "isMe" => leaf(u.id == self.store.viewer_id),
                "url" => leaf(format!(
                    "https://linear.app/{}/profiles/{}",
                    self.store.org.url_key, u.display_name
                )),
                "createdAt" | "updatedAt" => time(&u.created_at),
                "organization" => Ok(Val::Obj(Obj::Org)),
                "assignedIssues" => {
                    let id = u.id.clone();
                    self.issues(field, args, &format!("assignee:{id}"), |i| {
                        i.assignee_id.as_deref() == Some(id.as_str())
                    })
                }
                "createdIssues" => {
                    let id = u.id.clone();
                    self.issues(field, args, &format!("creator:{id}"), |i| {
                        i.creator_id.as_deref() == Some(id.as_str())
                    })
                }
                _ => Ok(Val::Default),
            },
            Obj::Team(t) => match name {
                "id" => leaf(t.id.clone()),
                "key" => leaf(t.key.clone()),
                "name" => leaf(t.name.clone()),
                "createdAt" => time(&t.created_at),
                "updatedAt" => time(&t.updated_at),
                "autoArchivePeriod" => {
                    leaf(t.auto_archive_after.num_milliseconds() as f64 / (30.0 * 86_400_000.0))
                }
                "organization" => Ok(Val::Obj(Obj::Org)),
                "states" => self.states(field, args, Some(&t.id)),
                "labels" => self.labels(field, args, None, Some(&t.id)),
                "members" => self.members(field, args, &t.member_ids),
                "issues" => {
                    let id = t.id.clone();
                    self.issues(field, args, &format!("team:{id}"), |i| i.team_id == id)
                }
                "projects" => self.projects(field, args, Some(&t.id)),
                "cycles" => self.cycles(field, args, Some(&t.id)),
                "cyclesEnabled" => leaf(self.store.cycles.iter().any(|c| c.team_id == t.id)),
                "activeCycle" => {
                    let now = chrono::Utc::now();
                    Ok(self
                        .store
                        .cycles
                        .iter()
                        .find(|c| c.team_id == t.id && c.is_active(&now))
                        .map_or(Val::Null, |c| Val::Obj(Obj::Cycle(Box::new(c.clone())))))
                }
                "issueCount" => leaf(
                    self.store
                        .issues
                        .iter()
                        .filter(|i| i.team_id == t.id && i.archived_at.is_none())
                        .count(),
                ),
                _ => Ok(Val::Default),
            },
            Obj::State(s) => match name {
                "id" => leaf(s.id.clone()),
                "name" => leaf(s.name.clone()),
                "type" => leaf(s.kind.clone()),
                "position" => leaf(s.position),
                "color" => leaf(s.color.clone()),
                "createdAt" | "updatedAt" => time(&s.created_at),
                "team" => Ok(self
                    .store
                    .team(&s.team_id)
                    .map_or(Val::Default, |t| Val::Obj(Obj::Team(Box::new(t.clone()))))),
                "issues" => {
                    let id = s.id.clone();
                    self.issues(field, args, &format!("state:{id}"), |i| i.state_id == id)
                }
                _ => Ok(Val::Default),
            },
            Obj::Label(l) => match name {
                "id" => leaf(l.id.clone()),
                "name" => leaf(l.name.clone()),
                "color" => leaf(l.color.clone()),
                "createdAt" => time(&l.created_at),
                "updatedAt" => time(&l.updated_at),
                "team" => Ok(
                    match l.team_id.as_deref().and_then(|t| self.store.team(t)) {
                        Some(t) => Val::Obj(Obj::Team(Box::new(t.clone()))),
                        None => Val::Null,
                    },
                ),
                "issues" => {
                    let id = l.id.clone();
                    self.issues(field, args, &format!("label:{id}"), |i| {
                        i.label_ids.contains(&id)
                    })
                }
                _ => Ok(Val::Default),
            },
            Obj::History(h) => self.history_field(h, field),
            Obj::Comment(c) => match name {
                "id" => leaf(c.id.clone()),
                "body" => leaf(c.body.clone()),
                "createdAt" => time(&c.created_at),
                "updatedAt" => time(&c.updated_at),
                "issueId" => leaf(c.issue_id.clone()),
                "issue" => Ok(self
                    .store
                    .issue(&c.issue_id)
                    .map_or(Val::Null, |i| Val::Obj(Obj::Issue(Box::new(i.clone()))))),
                "user" => Ok(self.user_obj(c.user_id.as_deref())),
                "url" => {
                    let issue = self.store.issue(&c.issue_id);
                    leaf(comment_json(c, &self.store.org, issue)["url"].clone())
                }
                _ => Ok(Val::Default),
            },
            Obj::Attachment(a) => match name {
                "id" => leaf(a.id.clone()),
                "url" => leaf(a.url.clone()),
                "title" => leaf(a.title.clone()),
                "subtitle" => leaf(json!(a.subtitle)),
                "createdAt" => time(&a.created_at),
                "updatedAt" => time(&a.updated_at),
                "creator" => Ok(self.user_obj(a.creator_id.as_deref())),
                "issue" => Ok(self
                    .store
                    .issue(&a.issue_id)
                    .map_or(Val::Default, |i| Val::Obj(Obj::Issue(Box::new(i.clone()))))),
                _ => Ok(Val::Default),
            },
            Obj::Relation(r) => match name {
                "id" => leaf(r.id.clone()),
                "type" => leaf(r.kind.clone()),
                "createdAt" | "updatedAt" => time(&r.created_at),
                "issue" => Ok(self
                    .store
                    .issue(&r.issue_id)
                    .map_or(Val::Default, |i| Val::Obj(Obj::Issue(Box::new(i.clone()))))),
                "relatedIssue" => Ok(self
                    .store
                    .issue(&r.related_issue_id)
                    .map_or(Val::Default, |i| Val::Obj(Obj::Issue(Box::new(i.clone()))))),
                _ => Ok(Val::Default),
            },
            Obj::Conn(ty, page) => match name {
                "nodes" => Ok(Val::List(
                    page.items
                        .iter()
                        .map(|(_, o)| Val::Obj(o.clone()))
                        .collect(),
                )),
                "edges" => {
                    let edge_ty = format!("{}Edge", ty.trim_end_matches("Connection"));
                    Ok(Val::List(
                        page.items
                            .iter()
                            .map(|(c, o)| {
                                Val::Obj(Obj::Edge(edge_ty.clone(), c.clone(), Box::new(o.clone())))
                            })
                            .collect(),
                    ))
                }
                "pageInfo" => Ok(Val::Obj(Obj::PageInfo(
                    page.has_next,
                    page.has_prev,
                    page.items.first().map(|x| x.0.clone()),
                    page.items.last().map(|x| x.0.clone()),
                ))),
                _ => Ok(Val::Default),
            },
            Obj::Edge(_, cursor, node) => match name {
                "cursor" => leaf(cursor.clone()),
                "node" => Ok(Val::Obj((**node).clone())),
                _ => Ok(Val::Default),
            },
            Obj::PageInfo(next, prev, start, end) => match name {
                "hasNextPage" => leaf(*next),
                "hasPreviousPage" => leaf(*prev),
                "startCursor" => leaf(json!(start)),
                "endCursor" => leaf(json!(end)),
                _ => Ok(Val::Default),
            },
            Obj::Payload(_, entity) => match name {
                "success" => leaf(true),
                "lastSyncId" => leaf(self.store.sync_id as f64),
                "issue" | "entity" | "comment" | "attachment" | "issueLabel" | "issueRelation"
                | "project" | "cycle" => Ok(match entity {
                    Some(e) => Val::Obj((**e).clone()),
                    None => Val::Null,
                }),
                _ => Ok(Val::Default),
            },
            Obj::RateLimit => match name {
                "identifier" => leaf(self.store.viewer_id.clone()),
                "kind" => leaf("api"),
                "limits" => Ok(Val::List(vec![
                    Val::Obj(Obj::RateLimitResult("requestLimit", self.rate.requests)),
                    Val::Obj(Obj::RateLimitResult(
                        "complexityLimit",
                        self.rate.complexity,
                    )),
                ])),
                _ => Ok(Val::Default),
            },
            Obj::RateLimitResult(kind, b) => match name {
                "type" => leaf(*kind),
                "allowedAmount" => leaf(b.limit as f64),
                "remainingAmount" => leaf(b.remaining as f64),
                "requestedAmount" => leaf(if *kind == "requestLimit" {
                    1.0
                } else {
                    self.rate.cost as f64
                }),
                "period" => leaf(3_600_000.0),
                "reset" => leaf(b.reset_ms as f64),
                _ => Ok(Val::Default),
            },
        }
    }
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

impl Resolver for Sim<'_> {
    type Obj = Obj;

    fn typename(&self, obj: &Obj) -> String {
        match obj {
            Obj::Query => "Query".into(),
            Obj::Mutation => "Mutation".into(),
            Obj::Org => "Organization".into(),
            Obj::User(_) => "User".into(),
            Obj::Team(_) => "Team".into(),
            Obj::State(_) => "WorkflowState".into(),
            Obj::Label(_) => "IssueLabel".into(),
            Obj::Issue(_) => "Issue".into(),
            Obj::Comment(_) => "Comment".into(),
            Obj::Attachment(_) => "Attachment".into(),
            Obj::Relation(_) => "IssueRelation".into(),
            Obj::History(_) => "IssueHistory".into(),
            Obj::Project(_) => "Project".into(),
            Obj::Cycle(_) => "Cycle".into(),
            Obj::ProjectStatus(_) => "ProjectStatus".into(),
            Obj::Conn(t, _) | Obj::Edge(t, _, _) | Obj::Payload(t, _) => t.clone(),
            Obj::PageInfo(..) => "PageInfo".into(),
            Obj::RateLimit => "RateLimitPayload".into(),
            Obj::RateLimitResult(..) => "RateLimitResultPayload".into(),
        }
    }

    fn resolve(&mut self, obj: &Obj, field: &Field, args: &Args) -> Result<Val<Obj>, GqlError> {
        self.object_field(obj, field, args)
    }
}
