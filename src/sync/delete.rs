//! What happens to the other side when one side's record is deleted
//! (`[sync] delete_policy`), behind the mass-delete guard. The engine only
//! calls this after confirming the delete by fetching the record: absence
//! from a listing is a hint, not a delete.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{FieldValue, Record, Side, UnknownName};

use super::codec;
use super::guard::{DeleteVerdict, MassDeleteGuard};
use super::mapping::Mapping;
use super::plan::{FieldWrites, side_name};

/// `[sync] delete_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletePolicy {
    /// Keep the other side, stop syncing, leave a comment there.
    #[default]
    Unlink,
    /// Close/cancel the other side.
    Close,
    /// Delete the other side too.
    Mirror,
    /// Open a conflict; an operator decides.
    Ask,
}

impl DeletePolicy {
    /// The word used in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletePolicy::Unlink => "unlink",
            DeletePolicy::Close => "close",
            DeletePolicy::Mirror => "mirror",
            DeletePolicy::Ask => "ask",
        }
    }
}

impl fmt::Display for DeletePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeletePolicy {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unlink" => Ok(DeletePolicy::Unlink),
            "close" => Ok(DeletePolicy::Close),
            "mirror" => Ok(DeletePolicy::Mirror),
            "ask" => Ok(DeletePolicy::Ask),
            other => Err(UnknownName {
                what: "delete policy",
                value: other.to_string(),
            }),
        }
    }
}

/// The planned reaction on the surviving side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DeleteAction {
    /// Remove the link and post `comment` on the survivor.
    Unlink {
        /// Side that keeps its record.
        side: Side,
        /// Comment explaining the record is no longer synced.
        comment: String,
    },
    /// Close the survivor with these writes, then remove the link.
    Close {
        /// Side that is closed.
        side: Side,
        /// Status/state writes that close it.
        writes: FieldWrites,
    },
    /// Delete the survivor too, then remove the link.
    Delete {
        /// Side whose record is deleted.
        side: Side,
    },
    /// Open a delete conflict on the link; nothing else changes.
    Ask,
    /// The mass-delete guard tripped: hold this delete and alert.
    Paused {
        /// Deletes seen in the window, this one included.
        count: usize,
    },
}

/// A delete decision with its explanation (for the audit log) and, when the
/// guard tripped, the alert to raise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletePlan {
    /// What to do.
    pub action: DeleteAction,
    /// Why, in one sentence.
    pub explanation: String,
    /// Alert text for the console when delete propagation is paused.
    pub alert: Option<String>,
}

/// Plan the reaction to `deleted` (a confirmed delete on `deleted_side`).
/// `earlier_deletes` are the times of the deletes seen before this one; the
/// guard counts them with this one.
pub fn plan_delete(
    mapping: &Mapping,
    policy: DeletePolicy,
    deleted_side: Side,
    deleted: &Record,
    guard: &MassDeleteGuard,
    earlier_deletes: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> DeletePlan {
    let survivor = deleted_side.other();
    let what = deleted
        .identifier
        .clone()
        .unwrap_or_else(|| deleted.remote_id.clone());
    let gone = format!(
        "the {} record {what} ('{}') was deleted",
        side_name(deleted_side).trim_start_matches("the "),
        deleted.title
    );
    if policy != DeletePolicy::Ask
        && let DeleteVerdict::Pause { count } = guard.check(earlier_deletes, now)
    {
        let window = crate::duration::format_duration(guard.window);
        return DeletePlan {
            action: DeleteAction::Paused { count },
            explanation: format!(
                "{gone}; {count} deletes within {window} exceed the mass-delete guard ({}), so it is not propagated to {}",
                guard.max_deletes,
                side_name(survivor)
            ),
            alert: Some(format!(
                "Delete propagation paused: {count} deletes on {} within {window} (limit {}). Check the {} side before resuming.",
                side_name(deleted_side),
                guard.max_deletes,
                deleted_side
            )),
        };
    }
    let (action, explanation) = match policy {
        DeletePolicy::Unlink => (
            DeleteAction::Unlink {
                side: survivor,
                comment: format!(
                    "The linked {} record {what} was deleted; roundtrip no longer syncs this one.",
                    side_name(deleted_side).trim_start_matches("the ")
                ),
            },
            format!(
                "{gone}; policy unlink keeps {} and stops syncing",
                side_name(survivor)
            ),
        ),
        DeletePolicy::Mirror => (
            DeleteAction::Delete { side: survivor },
            format!(
                "{gone}; policy mirror deletes it on {} too",
                side_name(survivor)
            ),
        ),
        DeletePolicy::Ask => (
            DeleteAction::Ask,
            format!("{gone}; policy ask opens a conflict"),
        ),
        DeletePolicy::Close => match close_writes(mapping, survivor) {
            Some(writes) => (
                DeleteAction::Close {
                    side: survivor,
                    writes,
                },
                format!("{gone}; policy close closes it on {}", side_name(survivor)),
            ),
            None => (
                DeleteAction::Ask,
                format!(
                    "{gone}; policy close, but the mapping has no closed status for {}, so a conflict is opened",
                    side_name(survivor)
                ),
            ),
        },
    };
    DeletePlan {
        action,
        explanation,
        alert: None,
    }
}

/// The status write that closes a record on `side`: the portal status the
/// mapping gives Linear's `canceled` type (else "closed"), translated for
/// Linear through the status table (else the `canceled` state type).
pub fn close_writes(mapping: &Mapping, side: Side) -> Option<FieldWrites> {
    let (field, table) = mapping.status_field()?;
    let closed = table
        .to_portal("", Some("canceled"))
        .unwrap_or("closed")
        .to_string();
    let value = match side {
        Side::Portal => FieldValue::Text(closed),
        Side::Linear => codec::write(field, Side::Linear, &FieldValue::Text(closed))
            .unwrap_or_else(|_| FieldValue::Text("canceled".into())),
    };
    let mut writes = FieldWrites::default();
    writes
        .fields
        .insert(field.side_field(side).to_string(), value);
    Some(writes)
}
