//! What the merge decides for one link: the writes for each side, the new
//! base, the comments to mirror, the conflicts to open, and a sentence per
//! decision. Plain data, serialisable, so the engine can queue it as jobs,
//! the store can keep it in the audit log, and the console can show it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Update;
use crate::domain::{FieldValue, Side};

use super::comments::{CommentMirror, CommentPair};

/// The values both sides last agreed on, keyed by mapping field name, in
/// canonical form. Stored with the link as JSON, e.g.
/// `{"title":{"kind":"text","value":"Dark mode"},"labels":{"kind":"set","value":["ui"]},"votes":{"kind":"null"}}`.
pub type Snapshot = BTreeMap<String, FieldValue>;

/// Field values to write on one side, by that side's field names, already
/// transformed (e.g. `state = "Todo"`, `labels = {"Bug"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldWrites {
    /// New values by the target side's field names.
    pub fields: BTreeMap<String, FieldValue>,
    /// The status write should notify the post's voters (Canny
    /// `shouldNotifyVoters`); only ever set on portal writes.
    pub notify_voters: bool,
}

impl FieldWrites {
    /// The connector request for these writes.
    pub fn to_update(&self) -> Update {
        Update {
            fields: self.fields.clone(),
            notify_voters: self.notify_voters,
            status_comment: None,
            duplicate_of: None,
            deltas: BTreeMap::new(),
            placement: None,
        }
    }
}

pub use crate::domain::ConflictReason;

/// A conflict to open: everything an operator needs to decide, in canonical
/// values (the portal's vocabulary for status and labels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictDraft {
    /// Mapping field name.
    pub field: String,
    /// Value both sides last agreed on (`Null` if never).
    pub base: FieldValue,
    /// Current portal value.
    pub portal: FieldValue,
    /// Current Linear value.
    pub linear: FieldValue,
    /// When the portal's change happened (first observed, for Canny).
    pub portal_changed_at: Option<DateTime<Utc>>,
    /// When Linear's change happened (its `updatedAt`).
    pub linear_changed_at: Option<DateTime<Utc>>,
    /// Why roundtrip could not decide.
    pub reason: ConflictReason,
    /// The side a refused or overwritten value concerns (the side that
    /// refused it, or whose edit was replaced); `None` otherwise.
    #[serde(default)]
    pub side: Option<Side>,
    /// A sentence for the operator beyond the values (the remote's refusal
    /// message, what was overwritten).
    #[serde(default)]
    pub note: Option<String>,
}

/// What kind of decision was taken for a field (for filtering the audit log;
/// `Ignored`, `Skipped` and `Waiting` are informational and repeat on every
/// merge until something changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// A value is written to one or both sides.
    Write,
    /// Both sides already agree; only the base moves.
    Agreed,
    /// A conflict is opened.
    Conflict,
    /// A change against the field's direction is left alone.
    Ignored,
    /// The value cannot be expressed on the other side (mapping gap).
    Skipped,
    /// A conflict is already open for the field; nothing is done.
    Waiting,
    /// An open conflict became moot because both sides now agree.
    Resolved,
}

/// One decision with its human-readable reason, e.g. "title: changed on
/// Linear only ('A' → 'B'), written to the portal".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Mapping field name (or "comments").
    pub field: String,
    /// What was decided.
    pub kind: DecisionKind,
    /// The sentence shown in the audit log and the console.
    pub explanation: String,
}

/// Everything one merge of one link decided. Applying it means: send the
/// writes, post the mirrored comments, open the conflicts, then store
/// `new_base` as the link's base once the writes succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Writes to the portal post, if any.
    pub portal_writes: Option<FieldWrites>,
    /// Writes to the Linear issue, if any.
    pub linear_writes: Option<FieldWrites>,
    /// Comments to copy to the other side.
    pub comments_to_mirror: Vec<CommentMirror>,
    /// Mirrored comment pairs found by their marker but missing from the
    /// link's comment map (e.g. after a lost store); the engine re-records them.
    pub recovered_comment_pairs: Vec<CommentPair>,
    /// The base to store after the writes succeed.
    pub new_base: Snapshot,
    /// True when `new_base` differs from the base the merge started from.
    pub base_changed: bool,
    /// Conflicts to open.
    pub conflicts: Vec<ConflictDraft>,
    /// Open conflicts (by field) that both sides have since settled; the
    /// engine closes them.
    pub resolved_conflicts: Vec<String>,
    /// One entry per field that needed a decision.
    pub decisions: Vec<Decision>,
    /// Open conflicts (by field) whose sides changed since they opened,
    /// with the values to show now.
    #[serde(default)]
    pub refreshed_conflicts: Vec<ConflictDraft>,
    /// Open refused/overwritten conflicts (by field) a side has since
    /// changed: closed as superseded before anything else is applied.
    #[serde(default)]
    pub superseded_conflicts: Vec<String>,
    /// Which side's change each field's new base came from (absent when
    /// both sides agreed or a merge combined them), for the ping-pong guard.
    #[serde(default)]
    pub base_origin: BTreeMap<String, Side>,
}

impl Plan {
    /// True when applying the plan would change nothing anywhere: the state
    /// of a link whose sides and base agree.
    pub fn is_noop(&self) -> bool {
        self.portal_writes.is_none()
            && self.linear_writes.is_none()
            && self.comments_to_mirror.is_empty()
            && self.recovered_comment_pairs.is_empty()
            && !self.base_changed
            && self.conflicts.is_empty()
            && self.resolved_conflicts.is_empty()
            && self.refreshed_conflicts.is_empty()
            && self.superseded_conflicts.is_empty()
    }

    /// The writes for one side.
    pub fn writes(&self, side: Side) -> Option<&FieldWrites> {
        match side {
            Side::Portal => self.portal_writes.as_ref(),
            Side::Linear => self.linear_writes.as_ref(),
        }
    }

    /// The explanations, one per line, as the audit log stores them.
    pub fn explain(&self) -> String {
        self.decisions
            .iter()
            .map(|d| d.explanation.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Quote a value for an explanation: text in single quotes, sets in braces.
pub(crate) fn show(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(_) => format!("'{}'", v.display_short(60)),
        _ => v.display_short(60),
    }
}

/// Quote a field's canonical value for an explanation, naming what the
/// number means where the canonical form is not self-explanatory.
pub(crate) fn show_field(f: &super::mapping::FieldMapping, v: &FieldValue) -> String {
    match (&f.transform, v) {
        (super::mapping::Transform::VotesToPriority { .. }, FieldValue::Number(n)) => {
            format!("priority {n}")
        }
        (super::mapping::Transform::VotesToPriority { .. }, FieldValue::Null) => {
            "no priority".to_string()
        }
        (super::mapping::Transform::VotesLine { .. }, FieldValue::Number(n)) => {
            format!("{n} votes")
        }
        _ => show(v),
    }
}

/// "the portal's" / "Linear's", for explanations.
pub(crate) fn possessive(side: Side) -> &'static str {
    match side {
        Side::Portal => "the portal's",
        Side::Linear => "Linear's",
    }
}

/// How explanations name a side.
pub(crate) fn side_name(side: Side) -> &'static str {
    match side {
        Side::Portal => "the portal",
        Side::Linear => "Linear",
    }
}
