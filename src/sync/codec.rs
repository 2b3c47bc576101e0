//! Reading a field from a record into its *canonical* value, and turning a
//! canonical value into what one side stores. The merge compares canonical
//! values only, so two sides that model a field differently (status name vs
//! workflow state, tag vs label name, votes vs priority) still compare equal
//! when they mean the same thing, and our own writes read back unchanged.
//!
//! Canonical forms: text with `\r\n` → `\n` and trailing whitespace trimmed
//! (vendors trim, and a trailing newline must not ping-pong); status as the
//! portal status name; labels as the set of portal tag names; votes → priority
//! as the priority the rule yields (`Null` for none); votes line as the count.

use std::collections::BTreeSet;

use crate::domain::{FieldValue, Record, Side};

use super::mapping::{FieldMapping, Mapping, Transform, VoteRule};

/// Normalise text the way both vendors store it, so echoes compare equal.
pub fn normalize_text(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end().to_string()
}

/// Split a Linear description into the text and the vote count kept on its
/// last line (`"…\n\nVotes: 12"`). Only a final line of exactly
/// `prefix` + integer counts, so ordinary text is never eaten.
pub fn split_votes_line(raw: &str, prefix: &str) -> (String, Option<i64>) {
    let text = normalize_text(raw);
    let (head, last) = match text.rsplit_once('\n') {
        Some((h, l)) => (h, l),
        None => ("", text.as_str()),
    };
    let count = last
        .strip_prefix(prefix)
        .and_then(|n| n.trim().parse::<i64>().ok());
    match count {
        Some(n) => (normalize_text(head), Some(n)),
        None => (text, None),
    }
}

/// Put the vote count back as the last line of a description; the inverse of
/// [`split_votes_line`] for canonical text.
pub fn compose_votes_line(description: &str, votes: Option<i64>, prefix: &str) -> String {
    match votes {
        None => description.to_string(),
        Some(n) if description.is_empty() => format!("{prefix}{n}"),
        Some(n) => format!("{description}\n\n{prefix}{n}"),
    }
}

/// The Linear priority the votes rule gives a vote count (`Null` below every
/// threshold). `rule` is sorted by threshold, highest first.
pub fn priority_for_votes(rule: &[VoteRule], votes: Option<i64>) -> FieldValue {
    let Some(v) = votes else {
        return FieldValue::Null;
    };
    rule.iter()
        .find(|r| v >= r.at_least)
        .map_or(FieldValue::Null, |r| match r.value {
            0 => FieldValue::Null,
            p => FieldValue::Number(p),
        })
}

fn text_or_null(s: &str) -> FieldValue {
    FieldValue::Text(normalize_text(s))
}

/// Read the canonical value of `field` from a record of `side`. `Err` means
/// the record holds something the mapping cannot express (e.g. a Linear state
/// no table entry covers); the merge then leaves the field alone.
pub fn read(
    mapping: &Mapping,
    field: &FieldMapping,
    side: Side,
    r: &Record,
) -> Result<FieldValue, String> {
    let name = field.side_field(side);
    match (&field.transform, side) {
        (Transform::Text, Side::Linear) if name == "description" => {
            match mapping.votes_line_prefix() {
                Some(prefix) => Ok(FieldValue::Text(split_votes_line(&r.description, prefix).0)),
                None => Ok(text_or_null(&r.description)),
            }
        }
        (Transform::Text, _) => match r.field(name) {
            Some(FieldValue::Text(t)) => Ok(text_or_null(&t)),
            _ => Err(format!("{side} field '{name}' is not text")),
        },
        (Transform::Status(_), _) if r.status.trim().is_empty() => {
            // No status is no information, not a change to "nothing".
            Err(format!("the {side} record has no status"))
        }
        (Transform::Status(_), Side::Portal) => Ok(FieldValue::Text(r.status.trim().to_string())),
        (Transform::Status(table), Side::Linear) => {
            let s = r.status.trim();
            table
                .to_portal(s, r.status_type.as_deref())
                .map(|p| FieldValue::Text(p.to_string()))
                .ok_or_else(|| {
                    format!(
                        "Linear state '{s}'{} has no portal status in the mapping",
                        r.status_type
                            .as_deref()
                            .map(|t| format!(" ({t})"))
                            .unwrap_or_default()
                    )
                })
        }
        // Tag and label names compare case-insensitively: Linear reuses an
        // existing "Bug" label for a portal tag "bug", and that must not read
        // as a change to write back.
        (Transform::Labels { .. }, Side::Portal) => Ok(FieldValue::Set(
            r.labels.iter().map(|l| l.to_lowercase()).collect(),
        )),
        (Transform::Labels { names }, Side::Linear) => Ok(FieldValue::Set(
            r.labels
                .iter()
                .map(|l| {
                    names
                        .iter()
                        .find(|(_, ln)| ln.eq_ignore_ascii_case(l))
                        .map_or_else(|| l.clone(), |(p, _)| p.clone())
                        .to_lowercase()
                })
                .collect(),
        )),
        (Transform::VotesToPriority { rule }, Side::Portal) => {
            Ok(priority_for_votes(rule, r.votes))
        }
        (Transform::VotesToPriority { .. }, Side::Linear) => Ok(match r.priority {
            None | Some(0) => FieldValue::Null,
            Some(p) => FieldValue::Number(p),
        }),
        (Transform::VotesLine { .. }, Side::Portal) => {
            Ok(r.votes.map_or(FieldValue::Null, FieldValue::Number))
        }
        (Transform::VotesLine { prefix }, Side::Linear) => {
            Ok(split_votes_line(&r.description, prefix)
                .1
                .map_or(FieldValue::Null, FieldValue::Number))
        }
    }
}

/// Turn a canonical value into what `side` stores under its own field name.
/// Votes-line values stay numbers here; the planner folds them into the
/// description write (see `merge::finish_linear_description`).
pub fn write(field: &FieldMapping, side: Side, value: &FieldValue) -> Result<FieldValue, String> {
    match (&field.transform, side, value) {
        (Transform::Text, _, FieldValue::Text(_)) => Ok(value.clone()),
        (Transform::Text, _, FieldValue::Null) => Ok(FieldValue::Text(String::new())),
        (Transform::Status(_), Side::Portal, FieldValue::Text(_)) => Ok(value.clone()),
        (Transform::Status(table), Side::Linear, FieldValue::Text(p)) => table
            .to_linear(p)
            .map(|l| FieldValue::Text(l.to_string()))
            .ok_or_else(|| format!("portal status '{p}' has no Linear state in the mapping")),
        (Transform::Labels { .. }, Side::Portal, FieldValue::Set(_)) => Ok(value.clone()),
        (Transform::Labels { names }, Side::Linear, FieldValue::Set(s)) => Ok(FieldValue::Set(
            s.iter()
                .map(|t| {
                    names
                        .iter()
                        .find(|(p, _)| p.eq_ignore_ascii_case(t))
                        .map_or_else(|| t.clone(), |(_, l)| l.clone())
                })
                .collect::<BTreeSet<String>>(),
        )),
        (Transform::Labels { .. }, _, FieldValue::Null) => Ok(FieldValue::Set(BTreeSet::new())),
        (
            Transform::VotesToPriority { .. } | Transform::VotesLine { .. },
            Side::Linear,
            FieldValue::Number(_) | FieldValue::Null,
        ) => Ok(value.clone()),
        (Transform::VotesToPriority { .. } | Transform::VotesLine { .. }, Side::Portal, _) => {
            Err("votes are never written to the portal".to_string())
        }
        (_, _, v) => Err(format!(
            "value {} does not fit {side} field '{}'",
            v.display_short(40),
            field.side_field(side)
        )),
    }
}
