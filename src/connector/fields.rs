//! Reading the field values of a create or an update the way every REST
//! portal connector does: text or nothing, a set or nothing, anything else
//! a validation failure naming the field.

use std::collections::BTreeSet;

use crate::domain::{ErrorClass, FieldValue, RemoteError, SetDelta, Update};

/// A validation failure with this message.
pub(crate) fn validation(msg: impl Into<String>) -> RemoteError {
    RemoteError::new(ErrorClass::Validation, msg)
}

/// `v` as text (`Null` is empty).
pub(crate) fn text(field: &str, v: &FieldValue) -> Result<String, RemoteError> {
    match v {
        FieldValue::Text(t) => Ok(t.clone()),
        FieldValue::Null => Ok(String::new()),
        other => Err(validation(format!(
            "field '{field}' expects text, got {}",
            other.display_short(40)
        ))),
    }
}

/// `v` as a set of names (`Null` is empty).
pub(crate) fn set(field: &str, v: &FieldValue) -> Result<BTreeSet<String>, RemoteError> {
    match v {
        FieldValue::Set(s) => Ok(s.clone()),
        FieldValue::Null => Ok(BTreeSet::new()),
        other => Err(validation(format!(
            "field '{field}' expects a set, got {}",
            other.display_short(40)
        ))),
    }
}

/// The writable fields of a portal post's create or update, sorted by kind.
#[derive(Debug, Default)]
pub(crate) struct PostFields {
    /// The title.
    pub title: Option<String>,
    /// The body (Canny `details`, Fider `description`).
    pub body: Option<String>,
    /// The status name.
    pub status: Option<String>,
    /// The whole tag set.
    pub tags: Option<BTreeSet<String>>,
}

/// Sort a post's field values (either portal's field names) for `vendor`
/// ("Canny"): votes are read-only, other names unknown, and an empty title
/// is refused.
pub(crate) fn post_fields<'a>(
    fields: impl Iterator<Item = (&'a String, &'a FieldValue)>,
    vendor: &str,
) -> Result<PostFields, RemoteError> {
    let mut out = PostFields::default();
    for (name, value) in fields {
        match name.as_str() {
            "title" => out.title = Some(text(name, value)?),
            "details" | "description" => out.body = Some(text(name, value)?),
            "status" => out.status = Some(text(name, value)?),
            "tags" | "labels" => out.tags = Some(set(name, value)?),
            "score" | "votes" => {
                return Err(validation(format!(
                    "{vendor}'s vote counts are read-only (people vote)"
                )));
            }
            other => {
                return Err(validation(format!(
                    "{vendor} posts have no writable field '{other}'"
                )));
            }
        }
    }
    if out.title.as_deref() == Some("") {
        return Err(validation(format!("a {vendor} post title cannot be empty")));
    }
    Ok(out)
}

/// The tag additions and removals of an update for `vendor` ("Canny"):
/// tags are a post's only set, so a delta on any other field is refused
/// before anything is written.
pub(crate) fn tag_deltas<'a>(
    update: &'a Update,
    vendor: &str,
) -> Result<Vec<&'a SetDelta>, RemoteError> {
    update
        .deltas
        .iter()
        .map(|(name, delta)| match name.as_str() {
            "tags" | "labels" => Ok(delta),
            _ => Err(validation(format!(
                "{vendor} field '{name}' is not a set; cannot add or remove members"
            ))),
        })
        .collect()
}
