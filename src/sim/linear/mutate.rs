//! The mutations roundtrip uses, each turned into one store write.
//!
//! Every write is made as the viewer (the API key's user). A refused write
//! changes nothing and becomes an INPUT_ERROR on that field only, so in an
//! aliased batch the other mutations still happen. Mutations the simulator
//! does not model answer a default payload (`success: false`).

use apollo_compiler::executable::Field;
use serde_json::Value;

use super::engine::{Attribution, CallerKind};
use super::exec::{Args, Val};
use super::gqlerror::GqlError;
use super::resolve::{Obj, Sim, store_error};
use super::store::{IssueDraft, IssuePatch};

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn strings(v: &Value, k: &str) -> Option<Vec<String>> {
    v.get(k).and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// Absent → None; null → Some(None); value → Some(Some(v)).
fn nullable(v: &Value, k: &str) -> Option<Option<String>> {
    match v.get(k) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(x) => Some(x.as_str().map(str::to_string)),
    }
}

/// `createAsUser` / `displayIconUrl`: the schema allows them only to OAuth
/// applications in `actor=app` mode, so any other credential is refused
/// (the wording is the simulator's; Linear's own message is not published).
fn attribution(
    sim: &Sim<'_>,
    source: &Value,
) -> Result<Option<(String, Option<String>)>, GqlError> {
    let name = s(source, "createAsUser");
    let icon = s(source, "displayIconUrl");
    match (name, icon) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(GqlError::input(
            "displayIconUrl can only be used together with createAsUser",
        )),
        (Some(_), _) if sim.caller != CallerKind::App => Err(GqlError::input(
            "createAsUser is only available to OAuth applications in actor=app mode",
        )),
        (Some(n), icon) => Ok(Some((n, icon))),
    }
}

fn remember(sim: &mut Sim<'_>, entity_id: &str, who: Option<(String, Option<String>)>) {
    if let Some((name, icon_url)) = who {
        sim.attributed.push(Attribution {
            entity_id: entity_id.to_string(),
            name,
            icon_url,
        });
    }
}

fn payload(field: &Field, entity: Obj) -> Val<Obj> {
    Val::Obj(Obj::Payload(
        field.ty().inner_named_type().to_string(),
        Some(Box::new(entity)),
    ))
}

/// Execute one root mutation field.
pub fn mutate(sim: &mut Sim<'_>, field: &Field, args: &Args) -> Result<Val<Obj>, GqlError> {
    let actor = Some(sim.store.viewer_id.clone());
    let input = args.get("input").cloned().unwrap_or(Value::Null);
    let id = args
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let store = &mut *sim.store;
    match field.name.as_str() {
        "issueCreate" => {
            let title = s(&input, "title").unwrap_or_default();
            if title.trim().is_empty() {
                return Err(GqlError::input("title must not be empty"));
            }
            let draft = IssueDraft {
                id: s(&input, "id"),
                team_id: s(&input, "teamId").unwrap_or_default(),
                title,
                description: s(&input, "description"),
                priority: input.get("priority").and_then(Value::as_i64),
                state_id: s(&input, "stateId"),
                label_ids: strings(&input, "labelIds").unwrap_or_default(),
                assignee_id: s(&input, "assigneeId"),
                project_id: s(&input, "projectId"),
                cycle_id: s(&input, "cycleId"),
            };
            let i = store.create_issue(draft, actor).map_err(store_error)?;
            Ok(payload(field, Obj::Issue(Box::new(i))))
        }
        "issueUpdate" => {
            if let Some(t) = s(&input, "title")
                && t.trim().is_empty()
            {
                return Err(GqlError::input("title must not be empty"));
            }
            let patch = IssuePatch {
                title: s(&input, "title"),
                description: nullable(&input, "description"),
                state_id: s(&input, "stateId"),
                priority: input.get("priority").and_then(Value::as_i64),
                label_ids: strings(&input, "labelIds"),
                added_label_ids: strings(&input, "addedLabelIds").unwrap_or_default(),
                removed_label_ids: strings(&input, "removedLabelIds").unwrap_or_default(),
                assignee_id: nullable(&input, "assigneeId"),
                project_id: nullable(&input, "projectId"),
                cycle_id: nullable(&input, "cycleId"),
                team_id: s(&input, "teamId"),
            };
            let i = store.update_issue(&id, patch, actor).map_err(store_error)?;
            Ok(payload(field, Obj::Issue(Box::new(i))))
        }
        "issueArchive" => {
            let trash = args.get("trash").and_then(Value::as_bool).unwrap_or(false);
            let i = store
                .archive_issue(&id, trash, false, actor)
                .map_err(store_error)?;
            Ok(payload(field, Obj::Issue(Box::new(i))))
        }
        "issueDelete" => {
            let perm = args
                .get("permanentlyDelete")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let i = store
                .archive_issue(&id, true, perm, actor)
                .map_err(store_error)?;
            Ok(payload(field, Obj::Issue(Box::new(i))))
        }
        "issueUnarchive" => {
            let i = store.unarchive_issue(&id, actor).map_err(store_error)?;
            Ok(payload(field, Obj::Issue(Box::new(i))))
        }
        "issueRelationCreate" => {
            let r = store
                .create_relation(
                    &s(&input, "issueId").unwrap_or_default(),
                    &s(&input, "relatedIssueId").unwrap_or_default(),
                    &s(&input, "type").unwrap_or_default(),
                    actor,
                )
                .map_err(store_error)?;
            Ok(payload(field, Obj::Relation(Box::new(r))))
        }
        "commentCreate" => {
            let issue_id =
                s(&input, "issueId").ok_or_else(|| GqlError::input("issueId is required"))?;
            let who = attribution(sim, &input)?;
            let c = sim
                .store
                .create_comment(
                    &issue_id,
                    s(&input, "body").unwrap_or_default(),
                    s(&input, "id"),
                    actor,
                )
                .map_err(store_error)?;
            remember(sim, &c.id, who);
            Ok(payload(field, Obj::Comment(Box::new(c))))
        }
        "attachmentLinkURL" => {
            let who = attribution(sim, &Value::Object(args.clone()))?;
            let a = sim
                .store
                .upsert_attachment(
                    args.get("issueId")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    args.get("url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    args.get("title")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    None,
                    args.get("id").and_then(Value::as_str).map(str::to_string),
                    actor,
                )
                .map_err(store_error)?;
            remember(sim, &a.id, who);
            Ok(payload(field, Obj::Attachment(Box::new(a))))
        }
        "attachmentCreate" => {
            let a = store
                .upsert_attachment(
                    &s(&input, "issueId").unwrap_or_default(),
                    s(&input, "url").unwrap_or_default(),
                    s(&input, "title"),
                    s(&input, "subtitle"),
                    s(&input, "id"),
                    actor,
                )
                .map_err(store_error)?;
            Ok(payload(field, Obj::Attachment(Box::new(a))))
        }
        "issueLabelCreate" => {
            let name = s(&input, "name").unwrap_or_default();
            if name.trim().is_empty() {
                return Err(GqlError::input("name must not be empty"));
            }
            let l = store
                .create_label(
                    name,
                    s(&input, "color"),
                    s(&input, "teamId"),
                    s(&input, "id"),
                    actor,
                )
                .map_err(store_error)?;
            Ok(payload(field, Obj::Label(Box::new(l))))
        }
        _ => super::planning_gql::mutate(sim, field, args).unwrap_or(Ok(Val::Default)),
    }
}
