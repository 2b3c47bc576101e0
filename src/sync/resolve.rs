//! Resolving a conflict by an operator's choice. The choice becomes the
//! field's value on both sides (as far as the field's direction allows) and
//! its new base; the result is an ordinary [`Plan`] so the engine applies it
//! the same way as any merge.

use serde::{Deserialize, Serialize};

use crate::domain::{FieldValue, Side};

use super::codec;
use super::mapping::Mapping;
use super::merge::{Builder, MergeInput, Outcome};
use super::plan::{ConflictDraft, Plan, show_field};

/// What the operator chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "take", content = "value")]
pub enum Take {
    /// The portal's value as recorded in the conflict.
    Portal,
    /// Linear's value as recorded in the conflict.
    Linear,
    /// The base value (undo both changes).
    Base,
    /// A value typed by the operator, in canonical form.
    Value(FieldValue),
}

/// Why a resolution could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The conflict's field is not in the (current) mapping.
    #[error("field '{0}' is not in the active mapping")]
    UnknownField(String),
    /// The chosen value cannot be written (wrong kind, unmapped status).
    #[error("{field}: {reason}")]
    BadValue {
        /// Mapping field name.
        field: String,
        /// What is wrong with the value.
        reason: String,
    },
}

/// Plan the writes and base for resolving `conflict` with `take`, against
/// the link's current records in `input` (sides that already hold the chosen
/// value are not written).
pub fn resolve_conflict(
    mapping: &Mapping,
    input: &MergeInput<'_>,
    conflict: &ConflictDraft,
    take: &Take,
) -> Result<Plan, ResolveError> {
    let f = mapping
        .field(&conflict.field)
        .ok_or_else(|| ResolveError::UnknownField(conflict.field.clone()))?;
    let (value, whose) = match take {
        Take::Portal => (conflict.portal.clone(), "the portal's".to_string()),
        Take::Linear => (conflict.linear.clone(), "Linear's".to_string()),
        Take::Base => (conflict.base.clone(), "the base".to_string()),
        Take::Value(v) => (v.clone(), "the operator's".to_string()),
    };
    for side in [Side::Portal, Side::Linear] {
        if f.direction.writes_to(side) && value != FieldValue::Null {
            codec::write(f, side, &value).map_err(|reason| ResolveError::BadValue {
                field: f.name.clone(),
                reason,
            })?;
        }
    }
    let mut b = Builder::new(mapping, input);
    let values = b.values(f);
    b.decisions.clear();
    let why = format!(
        "{}: conflict resolved by an operator, taking {whose} value {}",
        f.name,
        show_field(f, &value)
    );
    b.settle(
        f,
        &values,
        Outcome::Value {
            value,
            why,
            guarded: false,
        },
    );
    Ok(b.finish())
}
