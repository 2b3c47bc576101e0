//! What a job row carries: the write to make and what to record when it
//! succeeds. Stored as JSON in `jobs.payload`, so a job survives a restart
//! with everything needed to retry it — including the client id that makes
//! a retried create idempotent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{FieldValue, JobKind, Side};
use crate::domain::{NewRecord, Update};

/// Base-snapshot fields to record once a write has landed.
pub type BaseFields = BTreeMap<String, FieldValue>;

/// One outbound write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobPayload {
    /// Create the record on the target side and complete the pending link.
    Create {
        /// The record to create (carries the persisted client id).
        record: NewRecord,
        /// The base snapshot to store once created.
        base: BaseFields,
    },
    /// Update fields of an existing record.
    Update {
        /// The target record.
        remote_id: String,
        /// The fields to write.
        update: Update,
        /// Base fields agreed once the write lands.
        base: BaseFields,
        /// The target's value of each written field when the write was
        /// planned (its own field names). Re-read just before sending, a
        /// field that no longer holds this value changed meanwhile and is
        /// not written over; a set is written as the delta from it.
        #[serde(default)]
        expect: BTreeMap<String, FieldValue>,
        /// Which target field carries each base field (mapping name →
        /// target field), so a field left unwritten keeps its old base.
        #[serde(default)]
        carried_by: BTreeMap<String, String>,
        /// For a write that notifies people (voters): the source record's
        /// values it was planned from, re-read before sending.
        #[serde(default)]
        source: Option<SourceCheck>,
    },
    /// Mirror one comment.
    Comment {
        /// The target record.
        remote_id: String,
        /// The mirrored text (with roundtrip's marker).
        body: String,
        /// Id of the comment being mirrored, on the other side.
        source_comment_id: String,
        /// Client id of the copy, persisted before the first attempt: Linear
        /// takes it as `CommentCreateInput.id`; a retry looks it up (or the
        /// exact text, on a portal without client ids) before posting.
        #[serde(default)]
        client_id: Option<uuid::Uuid>,
    },
    /// Delete (trash/archive) the target record.
    Delete {
        /// The target record.
        remote_id: String,
    },
    /// Leave a note for the team where customers never read it (an
    /// internal comment on the portal): why a link ended or moved.
    Note {
        /// The target record.
        remote_id: String,
        /// The note's text.
        body: String,
    },
    /// Count every voter of one record on another as well (a duplicate's
    /// post closing in favour of the canonical post).
    CopyVoters {
        /// The record whose voters are copied.
        from: String,
        /// The record that gets them.
        to: String,
    },
    /// Close the loop for a shipped issue (target: the portal): read where
    /// it shipped (cycle, project), post the route's comment on the post,
    /// and list the post in its cycle's or project's changelog entry.
    Ship {
        /// The portal post.
        post_id: String,
        /// Its title and URL (for the template and the entry).
        post_title: String,
        /// Its URL.
        post_url: Option<String>,
        /// The Linear issue that shipped.
        issue_id: String,
        /// The route that closes the loop.
        route: String,
        /// The comment template, if the route has one.
        comment: Option<String>,
        /// The route's changelog rule, if it has one.
        changelog: Option<crate::sync::ChangelogRule>,
    },
    /// Publish (or save as a draft) the changelog entry of a completed
    /// cycle or project (target: the portal).
    Changelog {
        /// The changelog group's row id.
        group_id: i64,
        /// The entry.
        entry: crate::domain::ChangelogDraft,
    },
}

/// What a notifying write was planned from on the other side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceCheck {
    /// The side the values came from.
    pub side: Side,
    /// The source record.
    pub remote_id: String,
    /// Its values (its own field names) when the write was planned.
    pub fields: BTreeMap<String, FieldValue>,
    /// Target fields dropped from the write when the source changed since.
    pub guards: Vec<String>,
}

impl JobPayload {
    /// The `jobs.kind` column value.
    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::Create { .. } => JobKind::Create,
            JobPayload::Update { .. } => JobKind::Update,
            JobPayload::Comment { .. } => JobKind::Comment,
            JobPayload::Delete { .. } => JobKind::Delete,
            JobPayload::Note { .. } => JobKind::Note,
            JobPayload::CopyVoters { .. } => JobKind::Voters,
            JobPayload::Ship { .. } => JobKind::Ship,
            JobPayload::Changelog { .. } => JobKind::Changelog,
        }
    }

    /// Serialize for the job row.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parse a job row's payload.
    pub fn from_json(text: &str) -> Result<JobPayload, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_through_json() {
        let p = JobPayload::Create {
            record: NewRecord {
                client_id: uuid::Uuid::nil(),
                fields: [("title".to_string(), FieldValue::Text("A".into()))].into(),
                source_url: Some("https://portal/p/1".into()),
                source_title: None,
                created_id: None,
                placement: None,
            },
            base: BaseFields::new(),
        };
        let text = p.to_json();
        assert!(text.contains("\"kind\":\"create\""));
        assert_eq!(JobPayload::from_json(&text).unwrap(), p);
    }
}
