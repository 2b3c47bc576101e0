//! Whether a write whose answer was lost landed, from the issue's history.
//!
//! Linear records every change to an issue, with who made it, as
//! `IssueHistory` entries (`Issue.history`; docs/vendors/linear.md, "Issue
//! history"). A retry asks for the entries since its first attempt started
//! and made by the credential's own user: a title, state or priority the
//! retry would write again, or a label it would add or remove again, that
//! such an entry already shows was written by us. The retry leaves those
//! parts out, so a person's undo after the lost answer stands.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::LinearConnector;
use super::catalog::TeamCatalog;
use super::documents as doc;
use super::mapping::{IdRef, decode};
use crate::domain::{FieldValue, RemoteError, SetDelta, Update};

/// One history entry, with only what the check needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When Linear recorded the change.
    pub created_at: DateTime<Utc>,
    /// Who made it (`None`: an automation).
    pub actor_id: Option<String>,
    /// The title after the change, when it changed.
    pub to_title: Option<String>,
    /// Whether the description changed.
    pub updated_description: Option<bool>,
    /// The state after the change, when it changed.
    pub to_state_id: Option<String>,
    /// The priority after the change, when it changed.
    pub to_priority: Option<f64>,
    /// Labels the change added.
    pub added_label_ids: Option<Vec<String>>,
    /// Labels the change removed.
    pub removed_label_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct HistoryNodes {
    nodes: Vec<HistoryEntry>,
}

#[derive(Debug, Deserialize)]
struct IssueHistory {
    history: HistoryNodes,
}

/// The part of `update` that `entries` (ours, since the first attempt)
/// show already made: scalar fields by their new value (the description,
/// whose history holds no value, by the fact of its change), label
/// additions and removals member by member. Pure, so it is tested alone.
pub fn landed_part(update: &Update, entries: &[HistoryEntry], catalog: &TeamCatalog) -> Update {
    let mut out = Update::default();
    for (field, value) in &update.fields {
        let landed = match (field.as_str(), value) {
            ("title", FieldValue::Text(t)) => entries
                .iter()
                .any(|e| e.to_title.as_deref().is_some_and(|x| x.trim() == t.trim())),
            ("description", _) => entries.iter().any(|e| e.updated_description == Some(true)),
            ("state" | "status", FieldValue::Text(name)) => catalog.state(name).is_some_and(|s| {
                entries
                    .iter()
                    .any(|e| e.to_state_id.as_deref() == Some(s.id.as_str()))
            }),
            ("priority", FieldValue::Number(p)) => entries
                .iter()
                .any(|e| e.to_priority.is_some_and(|x| x.round() as i64 == *p)),
            _ => false,
        };
        if landed {
            out.fields.insert(field.clone(), value.clone());
        }
    }
    let ids = |pick: fn(&HistoryEntry) -> &Option<Vec<String>>| -> BTreeSet<String> {
        entries
            .iter()
            .filter_map(|e| pick(e).as_ref())
            .flatten()
            .cloned()
            .collect()
    };
    let added = ids(|e| &e.added_label_ids);
    let removed = ids(|e| &e.removed_label_ids);
    let by = |names: &BTreeSet<String>, done: &BTreeSet<String>| -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| catalog.label_id(n).is_some_and(|id| done.contains(id)))
            .cloned()
            .collect()
    };
    for (field, delta) in &update.deltas {
        let part = SetDelta {
            added: by(&delta.added, &added),
            removed: by(&delta.removed, &removed),
        };
        if !part.is_empty() {
            out.deltas.insert(field.clone(), part);
        }
    }
    out
}

impl LinearConnector {
    /// The part of `update` that writes by the credential's own user made
    /// to issue `id` at or after `since` (see [`landed_part`]).
    pub async fn landed_since(
        &self,
        id: &str,
        since: DateTime<Utc>,
        update: &Update,
    ) -> Result<Update, RemoteError> {
        let data = self
            .transport
            .request(doc::ISSUE_HISTORY, json!({ "id": id }))
            .await?;
        let viewer: IdRef = decode(&data, &["viewer"], "viewer")?;
        let issue: IssueHistory = decode(&data, &["issue"], "issue history")?;
        let ours: Vec<HistoryEntry> = issue
            .history
            .nodes
            .into_iter()
            .filter(|e| e.created_at >= since && e.actor_id.as_deref() == Some(viewer.id.as_str()))
            .collect();
        if ours.is_empty() {
            return Ok(Update::default());
        }
        let key = self
            .team_of(id)
            .unwrap_or_else(|| self.config.team_key.clone());
        let catalog = self.team_catalog(&key).await?;
        Ok(landed_part(update, &ours, &catalog))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::linear::catalog::{Label, LinearTeam, WorkflowState};

    fn catalog() -> TeamCatalog {
        let state = |id: &str, name: &str, kind: &str| WorkflowState {
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
            position: 0.0,
        };
        let label = |id: &str, name: &str| Label {
            id: id.into(),
            name: name.into(),
            team_id: None,
            is_group: false,
        };
        TeamCatalog::new(
            LinearTeam {
                id: "t".into(),
                key: "ENG".into(),
                name: "Eng".into(),
            },
            vec![
                state("s1", "Todo", "unstarted"),
                state("s2", "Done", "completed"),
            ],
            vec![label("l1", "Bug"), label("l2", "UX")],
        )
    }

    fn update() -> Update {
        let mut u = Update::default();
        u.fields
            .insert("title".into(), FieldValue::Text("New".into()));
        u.fields
            .insert("state".into(), FieldValue::Text("Done".into()));
        u.fields.insert("priority".into(), FieldValue::Number(2));
        u.fields
            .insert("description".into(), FieldValue::Text("d".into()));
        u.deltas.insert(
            "labels".into(),
            SetDelta {
                added: ["bug".to_string(), "ux".to_string()].into(),
                removed: BTreeSet::new(),
            },
        );
        u
    }

    #[test]
    fn nothing_in_the_history_means_nothing_landed() {
        assert_eq!(landed_part(&update(), &[], &catalog()), Update::default());
    }

    #[test]
    fn each_part_is_recognised_by_what_the_entry_says_it_did() {
        let entries = [
            HistoryEntry {
                to_title: Some("New".into()),
                to_state_id: Some("s2".into()),
                added_label_ids: Some(vec!["l1".into()]),
                ..HistoryEntry::default()
            },
            HistoryEntry {
                to_priority: Some(2.0),
                ..HistoryEntry::default()
            },
        ];
        let got = landed_part(&update(), &entries, &catalog());
        let fields: Vec<&str> = got.fields.keys().map(String::as_str).collect();
        assert_eq!(fields, ["priority", "state", "title"]);
        assert_eq!(got.deltas["labels"].added, ["bug".to_string()].into());
    }

    #[test]
    fn a_different_value_is_not_ours() {
        let entries = [HistoryEntry {
            to_title: Some("Other".into()),
            to_state_id: Some("s1".into()),
            to_priority: Some(3.0),
            removed_label_ids: Some(vec!["l1".into()]),
            updated_description: Some(true),
            ..HistoryEntry::default()
        }];
        let got = landed_part(&update(), &entries, &catalog());
        let fields: Vec<&str> = got.fields.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["description"],
            "only the description, by its change"
        );
        assert!(got.deltas.is_empty());
    }
}
