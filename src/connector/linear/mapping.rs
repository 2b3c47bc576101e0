//! Translation between Linear's JSON and roundtrip's canonical types: issue
//! nodes into [`Record`]s, and mapped field values into `IssueCreateInput` /
//! `IssueUpdateInput` objects. Pure, so the rules are tested without a server.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::catalog::TeamCatalog;
use crate::domain::{Comment, ErrorClass, FieldValue, Record, RemoteError, Update};

/// A Relay connection page as Linear returns it (`nodes` + `pageInfo`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items.
    pub nodes: Vec<T>,
    /// Where the next page starts; absent when the query did not ask.
    pub page_info: Option<PageInfo>,
}

/// Relay page info.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// More items follow.
    pub has_next_page: bool,
    /// Cursor for `after` to get them.
    pub end_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of a document that selected `pageInfo`: without it the
    /// listing would silently end early, so its absence is a shape change.
    pub fn paged(self, what: &str) -> Result<Page<T>, RemoteError> {
        if self.page_info.is_none() {
            return Err(malformed(what, "missing `pageInfo`"));
        }
        Ok(self)
    }

    /// The cursor of the next page, `None` on the last one.
    pub fn next_cursor(&self) -> Option<String> {
        self.page_info
            .as_ref()
            .filter(|p| p.has_next_page)
            .and_then(|p| p.end_cursor.clone())
    }
}

/// `{ id }` of a related entity.
#[derive(Debug, Clone, Deserialize)]
pub struct IdRef {
    /// The entity id.
    pub id: String,
}

/// An issue's workflow state as selected by our documents.
#[derive(Debug, Clone, Deserialize)]
pub struct StateRef {
    /// State name.
    pub name: String,
    /// State category.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A label as selected on an issue.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelRef {
    /// Label id.
    pub id: String,
    /// Label name.
    pub name: String,
}

/// A user as selected on a comment.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    /// Full name.
    pub name: Option<String>,
    /// Short display name.
    pub display_name: Option<String>,
}

/// A comment node.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentNode {
    /// Comment id.
    pub id: String,
    /// Markdown body.
    pub body: Option<String>,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
    /// Author, absent for integrations.
    pub user: Option<UserRef>,
}

impl CommentNode {
    /// The canonical comment.
    pub fn into_comment(self) -> Comment {
        Comment {
            remote_id: self.id,
            author: self.user.and_then(|u| u.name.or(u.display_name)),
            body: self.body.unwrap_or_default(),
            created_at: self.created_at,
        }
    }
}

/// An attachment (a link on the issue, e.g. the portal post).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LinearAttachment {
    /// Attachment id.
    pub id: String,
    /// The linked URL: roundtrip's external key for the portal post.
    pub url: String,
    /// Link title.
    pub title: Option<String>,
}

/// A relation of an issue (`IssueRelation`), as far as sync needs it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationNode {
    /// `duplicate`, `blocks`, `related`, `similar`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The other issue.
    pub related_issue: Option<IdRef>,
}

/// Workflow state types Linear documents (`WorkflowState.type`); anything
/// else is a change of the API's shape, not a state to guess at.
pub const STATE_TYPES: [&str; 7] = [
    "triage",
    "backlog",
    "unstarted",
    "started",
    "completed",
    "canceled",
    "duplicate",
];

/// Whether an issue in a state of this type may be a marked duplicate
/// (Linear cancels an issue it marks a duplicate; some workspaces report a
/// `duplicate` type): only these need their relations read.
pub fn is_closed_as_duplicate_candidate(state_type: &str) -> bool {
    matches!(state_type, "canceled" | "duplicate")
}

/// An issue node as selected by our documents; connections are present only
/// in the single-issue query.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueNode {
    /// Issue UUID.
    pub id: String,
    /// "ENG-42".
    pub identifier: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Markdown description; null when empty.
    pub description: Option<String>,
    /// 0 none, 1 urgent … 4 low (a Float in the schema).
    pub priority: Option<f64>,
    /// Web URL.
    pub url: Option<String>,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// Set when archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// True when in the trash.
    pub trashed: Option<bool>,
    /// Label ids (cheap; names come from the catalog).
    pub label_ids: Option<Vec<String>>,
    /// Workflow state.
    pub state: Option<StateRef>,
    /// Labels with names (single-issue query).
    pub labels: Option<Page<LabelRef>>,
    /// First comments page (single-issue query).
    pub comments: Option<Page<CommentNode>>,
    /// Attachments (single-issue query).
    pub attachments: Option<Page<LinearAttachment>>,
    /// Relations, for `duplicate` marks.
    pub relations: Option<Page<RelationNode>>,
    /// The team the issue is in.
    pub team: Option<TeamRef>,
}

/// `{ id key }` of the issue's team.
#[derive(Debug, Clone, Deserialize)]
pub struct TeamRef {
    /// Team UUID.
    pub id: String,
    /// Team key ("ENG").
    pub key: String,
}

/// A response that does not have the shape our document asked for: the
/// API response shape changed (`schema` class), naming the operation and
/// the field.
pub fn malformed(what: &str, detail: impl std::fmt::Display) -> RemoteError {
    RemoteError::new(
        ErrorClass::Schema,
        format!("API response shape changed: Linear {what}: {detail}"),
    )
}

/// Decode `data[path...]` into `T`.
pub fn decode<T: serde::de::DeserializeOwned>(
    data: &Value,
    path: &[&str],
    what: &str,
) -> Result<T, RemoteError> {
    let mut v = data;
    for key in path {
        v = v
            .get(key)
            .ok_or_else(|| malformed(what, format!("missing `{key}`")))?;
    }
    T::deserialize(v).map_err(|e| malformed(what, e))
}

impl IssueNode {
    /// Label ids of this issue that the catalog cannot name (and the issue
    /// does not name itself).
    pub fn unknown_label_ids(&self, catalog: &TeamCatalog) -> Vec<String> {
        if self.labels.is_some() {
            return Vec::new();
        }
        self.label_ids
            .iter()
            .flatten()
            .filter(|id| catalog.label_name(id).is_none())
            .cloned()
            .collect()
    }

    /// The canonical record. Labels come from the issue's own `labels` when
    /// selected, else from `labelIds` through the catalog; comments are
    /// sorted oldest first. A node missing a field the schema promises
    /// (`identifier`, `title`, `state`, `updatedAt` are non-null), or with a
    /// state type Linear does not document, is refused as a shape change
    /// rather than read as an empty value.
    pub fn into_record(self, catalog: Option<&TeamCatalog>) -> Result<Record, RemoteError> {
        let what = |field: &str| format!("issue {} field `{field}`", self.id);
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| malformed(&what("state"), "null or missing"))?;
        if !STATE_TYPES.contains(&state.kind.as_str()) {
            return Err(malformed(
                &what("state.type"),
                format!("unknown workflow state type '{}'", state.kind),
            ));
        }
        let title = self
            .title
            .clone()
            .ok_or_else(|| malformed(&what("title"), "null or missing"))?;
        let identifier = self
            .identifier
            .clone()
            .ok_or_else(|| malformed(&what("identifier"), "null or missing"))?;
        if self.updated_at.is_none() {
            return Err(malformed(&what("updatedAt"), "null or missing"));
        }
        let labels: BTreeSet<String> = match (&self.labels, catalog) {
            (Some(page), _) => page.nodes.iter().map(|l| l.name.clone()).collect(),
            (None, Some(cat)) => self
                .label_ids
                .iter()
                .flatten()
                .filter_map(|id| cat.label_name(id).map(str::to_string))
                .collect(),
            (None, None) => BTreeSet::new(),
        };
        let mut comments: Vec<Comment> = self
            .comments
            .map(|p| p.nodes.into_iter().map(CommentNode::into_comment).collect())
            .unwrap_or_default();
        comments.sort_by_key(|c| c.created_at);
        // Trashing (issueDelete) sets archivedAt as well: trashed decides.
        let deleted = self.trashed == Some(true);
        let archived = !deleted && self.archived_at.is_some();
        // Marking a duplicate cancels the issue; a reopened one is no longer
        // treated as a duplicate (and listings read relations only for
        // canceled issues, so the two reads agree).
        let duplicate_of = self
            .relations
            .iter()
            .filter(|_| is_closed_as_duplicate_candidate(&state.kind))
            .flat_map(|p| p.nodes.iter())
            .find(|r| r.kind == "duplicate")
            .and_then(|r| r.related_issue.as_ref())
            .map(|i| i.id.clone());
        Ok(Record {
            remote_id: self.id,
            identifier: Some(identifier),
            title,
            description: self.description.unwrap_or_default(),
            status: state.name.clone(),
            status_type: Some(state.kind.clone()),
            labels,
            votes: None,
            priority: self.priority.map(|p| p.round() as i64),
            comments,
            url: self.url,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted,
            archived,
            duplicate_of,
            merged_ids: Vec::new(),
            linked_ids: Vec::new(),
            board: None,
            category: None,
            held: false,
            team: self.team.map(|t| t.key),
        })
    }
}

fn invalid(message: String) -> RemoteError {
    RemoteError::new(ErrorClass::Validation, message)
}

/// Fields whose label names the catalog must know for `update`: its
/// fields plus the labels its deltas add (so missing ones are created).
pub fn catalog_probe(update: &Update) -> BTreeMap<String, FieldValue> {
    let mut probe = update.fields.clone();
    let added: BTreeSet<String> = ["labels", "tags"]
        .iter()
        .filter_map(|k| update.deltas.get(*k))
        .flat_map(|d| d.added.iter().cloned())
        .collect();
    if !added.is_empty() && wanted_labels(&probe).is_empty() {
        probe.insert("labels".into(), FieldValue::Set(added));
    }
    probe
}

/// The `IssueUpdateInput` for an update: its fields as [`issue_input`]
/// makes them, and label deltas as `addedLabelIds` / `removedLabelIds` —
/// never a replacement of the whole set, so a label someone adds while the
/// write is on its way stays. A removed label the team does not have is
/// already absent and is left out.
pub fn update_input(
    update: &Update,
    catalog: &TeamCatalog,
) -> Result<Map<String, Value>, RemoteError> {
    let mut input = issue_input(&update.fields, catalog)?;
    for (name, delta) in &update.deltas {
        if !matches!(name.as_str(), "labels" | "tags") {
            return Err(invalid(format!(
                "Linear field '{name}' is not a set; cannot add or remove members"
            )));
        }
        if delta.is_empty() {
            continue;
        }
        let added = label_ids(&delta.added, catalog)?;
        let removed: Vec<String> = delta
            .removed
            .iter()
            .filter_map(|n| catalog.label_id(n).map(str::to_string))
            .collect();
        if !added.is_empty() {
            input.insert("addedLabelIds".into(), json!(added));
        }
        if !removed.is_empty() {
            input.insert("removedLabelIds".into(), json!(removed));
        }
    }
    Ok(input)
}

/// The ids of labels by name; a name the team lacks is refused.
fn label_ids(names: &BTreeSet<String>, catalog: &TeamCatalog) -> Result<Vec<String>, RemoteError> {
    names
        .iter()
        .map(|n| {
            catalog
                .label_id(n)
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("no Linear label '{n}'")))
        })
        .collect()
}

/// Label names a set of mapped fields wants on the issue.
pub fn wanted_labels(fields: &BTreeMap<String, FieldValue>) -> BTreeSet<String> {
    match fields.get("labels").or_else(|| fields.get("tags")) {
        Some(FieldValue::Set(s)) => s.clone(),
        _ => BTreeSet::new(),
    }
}

/// The state value a set of mapped fields asks for.
pub fn wanted_state(fields: &BTreeMap<String, FieldValue>) -> Option<&str> {
    match fields.get("state").or_else(|| fields.get("status")) {
        Some(FieldValue::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

/// Turn mapped field values (Linear names: title, description, state, labels,
/// priority) into Linear input fields. Unknown names and wrong value kinds are
/// refused rather than dropped, so a mapping mistake is loud.
pub fn issue_input(
    fields: &BTreeMap<String, FieldValue>,
    catalog: &TeamCatalog,
) -> Result<Map<String, Value>, RemoteError> {
    let mut input = Map::new();
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("title", FieldValue::Text(t)) => {
                input.insert("title".into(), json!(t));
            }
            ("description" | "details", FieldValue::Text(t)) => {
                input.insert("description".into(), json!(t));
            }
            ("description" | "details", FieldValue::Null) => {
                input.insert("description".into(), json!(""));
            }
            ("state" | "status", FieldValue::Text(t)) => {
                let state = catalog.state(t).ok_or_else(|| {
                    invalid(format!(
                        "team {} has no workflow state named or typed '{t}'",
                        catalog.team.key
                    ))
                })?;
                input.insert("stateId".into(), json!(state.id));
            }
            ("labels" | "tags", FieldValue::Set(names)) => {
                input.insert("labelIds".into(), json!(label_ids(names, catalog)?));
            }
            ("labels" | "tags", FieldValue::Null) => {
                input.insert("labelIds".into(), json!([]));
            }
            ("priority", FieldValue::Number(n)) if (0..=4).contains(n) => {
                input.insert("priority".into(), json!(n));
            }
            ("priority", FieldValue::Null) => {
                input.insert("priority".into(), json!(0));
            }
            (other, v) => {
                return Err(invalid(format!(
                    "cannot write {} to Linear field '{other}'",
                    v.display_short(40)
                )));
            }
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::linear::catalog::{Label, LinearTeam, WorkflowState};

    fn catalog() -> TeamCatalog {
        TeamCatalog::new(
            LinearTeam {
                id: "t1".into(),
                key: "ENG".into(),
                name: "Engineering".into(),
            },
            vec![WorkflowState {
                id: "s1".into(),
                name: "Todo".into(),
                kind: "unstarted".into(),
                position: 1.0,
            }],
            vec![Label {
                id: "l1".into(),
                name: "Bug".into(),
                team_id: Some("t1".into()),
                is_group: false,
            }],
        )
    }

    #[test]
    fn list_node_maps_to_record() {
        let v = json!({"id":"i1","identifier":"ENG-1","title":"T","description":null,"priority":2.0,
            "url":"https://linear.app/x/issue/ENG-1","createdAt":"2026-11-20T10:00:00.000Z",
            "updatedAt":"2026-11-21T10:00:00.000Z","archivedAt":null,"trashed":null,
            "labelIds":["l1","zz"],"state":{"id":"s1","name":"Todo","type":"unstarted"}});
        let node: IssueNode = serde_json::from_value(v).unwrap();
        let cat = catalog();
        assert_eq!(node.unknown_label_ids(&cat), vec!["zz".to_string()]);
        let r = node.into_record(Some(&cat)).unwrap();
        assert_eq!(r.identifier.as_deref(), Some("ENG-1"));
        assert_eq!(r.description, "");
        assert_eq!(r.status, "Todo");
        assert_eq!(r.status_type.as_deref(), Some("unstarted"));
        assert_eq!(r.priority, Some(2));
        assert_eq!(r.labels.iter().collect::<Vec<_>>(), vec!["Bug"]);
        assert!(!r.deleted);
        assert_eq!(
            r.updated_at.unwrap().to_rfc3339(),
            "2026-11-21T10:00:00+00:00"
        );
    }

    fn node(extra: Value) -> IssueNode {
        let mut v = json!({"id":"i1","identifier":"ENG-1","title":"T","updatedAt":"2026-11-21T10:00:00Z",
            "state":{"id":"s1","name":"Done","type":"completed"}});
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn trashed_is_deleted_archived_is_not_and_comments_sorted() {
        let r = node(json!({"trashed":true,"archivedAt":"2026-11-21T10:00:00Z",
            "labels":{"nodes":[{"id":"x","name":"Other"}]},
            "comments":{"nodes":[
                {"id":"c2","body":"second","createdAt":"2026-11-21T10:00:00Z","user":{"name":"Ann"}},
                {"id":"c1","body":"first","createdAt":"2026-11-20T10:00:00Z","user":null}]}}))
        .into_record(None)
        .unwrap();
        assert!(r.deleted && !r.archived);
        assert!(r.labels.contains("Other"));
        assert_eq!(r.comments[0].remote_id, "c1");
        assert_eq!(r.comments[1].author.as_deref(), Some("Ann"));
        let archived = node(json!({"archivedAt":"2026-11-21T10:00:00Z","trashed":null}))
            .into_record(None)
            .unwrap();
        assert!(
            archived.archived && !archived.deleted,
            "archived is a finished issue, not a delete"
        );
    }

    #[test]
    fn duplicate_relation_names_the_canonical_issue() {
        let relations = json!({"nodes":[
            {"type":"related","relatedIssue":{"id":"x"}},
            {"type":"duplicate","relatedIssue":{"id":"canon"}}]});
        let canceled = json!({"id":"s9","name":"Duplicate","type":"canceled"});
        let r = node(json!({"relations": relations, "state": canceled}))
            .into_record(None)
            .unwrap();
        assert_eq!(r.duplicate_of.as_deref(), Some("canon"));
        let reopened = node(json!({"relations": relations}))
            .into_record(None)
            .unwrap();
        assert_eq!(
            reopened.duplicate_of, None,
            "a duplicate reopened is no longer one"
        );
    }

    #[test]
    fn missing_fields_and_unknown_state_types_are_shape_changes() {
        for (extra, field) in [
            (json!({"state": null}), "state"),
            (json!({"title": null}), "title"),
            (json!({"updatedAt": null}), "updatedAt"),
            (
                json!({"state": {"id":"s","name":"Shipped","type":"shipped"}}),
                "state.type",
            ),
        ] {
            let e = node(extra).into_record(None).unwrap_err();
            assert_eq!(e.class, ErrorClass::Schema, "{field}");
            assert!(e.message.contains(field), "{}", e.message);
            assert!(
                e.message.contains("API response shape changed"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn inputs_resolve_ids_and_refuse_unknowns() {
        let cat = catalog();
        let mut f = BTreeMap::new();
        f.insert("title".to_string(), FieldValue::Text("T".into()));
        f.insert("state".to_string(), FieldValue::Text("unstarted".into()));
        f.insert(
            "labels".to_string(),
            FieldValue::Set(["bug".to_string()].into()),
        );
        f.insert("priority".to_string(), FieldValue::Number(3));
        let input = issue_input(&f, &cat).unwrap();
        assert_eq!(
            Value::Object(input),
            json!({"title":"T","stateId":"s1","labelIds":["l1"],"priority":3})
        );
        f.insert("votes".to_string(), FieldValue::Number(3));
        assert_eq!(
            issue_input(&f, &cat).unwrap_err().class,
            ErrorClass::Validation
        );
        let mut u = Update::default();
        u.deltas.insert(
            "labels".into(),
            crate::domain::SetDelta {
                added: ["bug".to_string()].into(),
                removed: ["Unknown".to_string()].into(),
            },
        );
        assert_eq!(
            Value::Object(update_input(&u, &cat).unwrap()),
            json!({"addedLabelIds": ["l1"]}),
            "a delta is sent as additions and removals, never labelIds"
        );
        let mut g = BTreeMap::new();
        g.insert("state".to_string(), FieldValue::Text("Nope".into()));
        assert!(issue_input(&g, &cat).is_err());
    }
}
