//! Resolve: decide open conflicts. The decision is stored on the conflict
//! (`resolved_by` the operator); the engine then writes the chosen value to
//! both sides and marks it applied.

use std::collections::BTreeSet;

use super::{AuditRow, Changed, Refused, Report, Subject, Why, count};
use crate::domain::{AuditAction, FieldValue, Side};
use crate::store::{Conflict, ConflictStatus, Db, Resolution, StoreError};
use crate::sync::{FieldMapping, Mapping, Transform, codec};

/// What the operator chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The portal's value (written to Linear).
    Portal,
    /// Linear's value (written to the portal).
    Linear,
    /// The last agreed value (written to both sides).
    Base,
    /// A hand-merged value as typed; it takes the field's type (label sets
    /// are comma- or line-separated names, numbers must parse).
    Merged(String),
}

impl Choice {
    /// Words for messages and audit reasons.
    pub fn words(&self) -> &'static str {
        match self {
            Choice::Portal => "take portal",
            Choice::Linear => "take Linear",
            Choice::Base => "keep base",
            Choice::Merged(_) => "merged value",
        }
    }
}

/// A decision that passed every check, ready to store.
struct Decision {
    conflict: Conflict,
    resolution: Resolution,
    chosen: FieldValue,
}

/// The canonical value a hand-merged text means for `field`, typed by the
/// mapping (so a labels conflict whose portal side is empty still gets a
/// set, not text).
pub fn typed_value(field: &FieldMapping, text: &str) -> Result<FieldValue, String> {
    Ok(match field.transform {
        Transform::Labels { .. } => FieldValue::Set(
            text.split([',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect::<BTreeSet<String>>(),
        ),
        Transform::VotesToPriority { .. } | Transform::VotesLine { .. } => {
            let t = text.trim();
            if t.is_empty() {
                FieldValue::Null
            } else {
                FieldValue::Number(t.parse().map_err(|_| {
                    format!(
                        "'{t}' is not a whole number, which field `{}` holds",
                        field.name
                    )
                })?)
            }
        }
        Transform::Text | Transform::Status(_) => FieldValue::Text(text.to_string()),
    })
}

/// Every check a decision must pass, in order: the conflict exists, is
/// open, the chosen value has the field's type and can be written to each
/// side the field writes to.
fn decide(
    db: Db<'_>,
    mapping: Option<&Mapping>,
    id: i64,
    choice: &Choice,
) -> Result<Result<Decision, Refused>, StoreError> {
    let refuse = |why, detail: String| Ok(Err(Refused::new(Subject::Conflict(id), why, detail)));
    let Some(c) = db.conflict(id)? else {
        return refuse(Why::NotFound, "does not exist".into());
    };
    if c.status == ConflictStatus::Resolved {
        return refuse(
            Why::State,
            format!(
                "is already resolved (took {}, by {})",
                c.resolution.as_ref().map_or("?", Resolution::as_str),
                c.resolved_by.map_or("?", |a| a.as_str())
            ),
        );
    }
    let field = mapping.and_then(|m| m.field(&c.field));
    let (resolution, chosen) = match choice {
        Choice::Portal => (Resolution::Portal, c.portal.clone()),
        Choice::Linear => (Resolution::Linear, c.linear.clone()),
        Choice::Base => (Resolution::Base, c.base.clone()),
        Choice::Merged(text) => {
            let Some(f) = field else {
                return refuse(
                    Why::Invalid,
                    format!(
                        "is on `{}`, which the active mapping does not map: take portal, Linear or base",
                        c.field
                    ),
                );
            };
            match typed_value(f, text) {
                Ok(v) => (Resolution::Value(v.clone()), v),
                Err(e) => return refuse(Why::Invalid, format!("({}): {e}", c.field)),
            }
        }
    };
    if let Some(f) = field
        && chosen != FieldValue::Null
    {
        for side in [Side::Portal, Side::Linear] {
            if f.direction.writes_to(side)
                && let Err(why) = codec::write(f, side, &chosen)
            {
                return refuse(
                    Why::Invalid,
                    format!(
                        "({}): the chosen value cannot be written to {side}: {why}",
                        c.field
                    ),
                );
            }
        }
    }
    Ok(Ok(Decision {
        conflict: c,
        resolution,
        chosen,
    }))
}

/// Check a decision without storing it (the console's merged-value editor
/// stays open on a refusal instead of closing into an error).
pub fn check(db: Db<'_>, id: i64, choice: &Choice) -> Result<Option<Refused>, StoreError> {
    let mapping = super::mapping::active(db)?;
    Ok(decide(db, mapping.as_ref(), id, choice)?.err())
}

/// Decide each conflict inside an open transaction, adding to `report`.
pub(super) fn resolve_in(
    db: Db<'_>,
    mapping: Option<&Mapping>,
    ids: &[i64],
    choice: &Choice,
    why: &str,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut seen = BTreeSet::new();
    for &id in ids.iter().filter(|id| seen.insert(**id)) {
        let d = match decide(db, mapping, id, choice)? {
            Ok(d) => d,
            Err(r) => {
                report.refused.push(r);
                continue;
            }
        };
        let c = &d.conflict;
        db.resolve_conflict(id, &d.resolution, super::ACTOR)?;
        AuditRow {
            link_id: Some(c.link_id),
            field: Some(c.field.clone()),
            before: Some(format!(
                "portal {} / linear {}",
                c.portal.display_short(60),
                c.linear.display_short(60)
            )),
            after: Some(d.chosen.display_short(120)),
            reason: format!("resolve conflict {id}: {why}"),
            ..AuditRow::default()
        }
        .append(db, AuditAction::Resolve)?;
        let link = db
            .link(c.link_id)?
            .map_or_else(|| format!("link {}", c.link_id), |l| l.label());
        report.changed.push(Changed {
            subject: Subject::Conflict(id),
            detail: format!(
                "resolved ({} on {link}): {}; the engine writes it to both sides",
                c.field,
                d.chosen.display_short(60)
            ),
        });
    }
    Ok(())
}

/// Decide these conflicts the same way; each one is checked on its own
/// and refused (with the reason) if it does not pass.
pub fn resolve(db: Db<'_>, ids: &[i64], choice: &Choice) -> Result<Report, StoreError> {
    let mapping = super::mapping::active(db)?;
    let mut report = Report::new(AuditAction::Resolve);
    resolve_in(
        db,
        mapping.as_ref(),
        ids,
        choice,
        choice.words(),
        &mut report,
    )?;
    report.headline = match report.changed.as_slice() {
        [] => "nothing resolved".into(),
        [one] => one.to_string(),
        many => format!(
            "resolved {} ({}): {}",
            count(many.len(), "conflict"),
            super::id_list(many.iter().map(|c| &c.subject)),
            choice.words()
        ),
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LinkState, NewConflict, Store, Window};

    fn set(names: &[&str]) -> FieldValue {
        FieldValue::Set(names.iter().map(|s| s.to_string()).collect())
    }

    fn store_with(conflicts: &[(&str, FieldValue, FieldValue, FieldValue)]) -> (Store, Vec<i64>) {
        let mut store = Store::open_in_memory().unwrap();
        let ids = store
            .write(|db| -> Result<Vec<i64>, StoreError> {
                let doc = Mapping::default_canny_linear().to_toml();
                db.add_mapping_version(&doc, crate::domain::Actor::BuiltIn, "default")?;
                let link = db.insert_link(
                    Some("p"),
                    Some("l"),
                    None,
                    LinkState::Active,
                    "T",
                    &Default::default(),
                )?;
                conflicts
                    .iter()
                    .map(|(field, base, portal, linear)| {
                        db.open_conflict(&NewConflict {
                            link_id: link,
                            field: field.to_string(),
                            base: base.clone(),
                            portal: portal.clone(),
                            linear: linear.clone(),
                            portal_changed_at: None,
                            linear_changed_at: None,
                        })
                    })
                    .collect()
            })
            .unwrap();
        (store, ids)
    }

    #[test]
    fn a_merged_labels_value_is_a_set_even_when_a_side_is_null() {
        let (mut store, ids) =
            store_with(&[("labels", FieldValue::Null, FieldValue::Null, set(&["ui"]))]);
        let r = store
            .write(|db| resolve(db, &ids, &Choice::Merged("ui, beta\nnew".into())))
            .unwrap();
        assert!(r.refused.is_empty(), "{r:?}");
        let c = store.db().conflict(ids[0]).unwrap().unwrap();
        assert_eq!(
            c.resolution,
            Some(Resolution::Value(set(&["beta", "new", "ui"])))
        );
    }

    #[test]
    fn refusals_name_the_conflict_and_the_reason() {
        let t = |s: &str| FieldValue::Text(s.into());
        let (mut store, ids) = store_with(&[
            ("title", t("a"), t("b"), t("c")),
            ("status", t("open"), t("planned"), t("in progress")),
            ("deleted", t("exists"), t("deleted"), t("exists")),
        ]);
        let r = store
            .write(|db| resolve(db, &[ids[0]], &Choice::Linear))
            .unwrap();
        assert!(
            r.headline
                .starts_with(&format!("conflict {} resolved (title", ids[0]))
        );
        let again = store
            .write(|db| resolve(db, &[ids[0], 77], &Choice::Portal))
            .unwrap();
        let lines: Vec<String> = again.refused.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                format!(
                    "conflict {} is already resolved (took linear, by operator)",
                    ids[0]
                ),
                "conflict 77 does not exist".to_string(),
            ]
        );
        let bad = store
            .write(|db| resolve(db, &[ids[1]], &Choice::Merged("shipped".into())))
            .unwrap();
        assert_eq!(bad.exit_code(), 2);
        assert!(
            bad.refused[0]
                .to_string()
                .contains("portal status 'shipped' has no Linear state"),
            "{bad:?}"
        );
        let del = check(store.db(), ids[2], &Choice::Merged("x".into()))
            .unwrap()
            .unwrap();
        assert!(del.detail.contains("does not map"), "{del}");
        assert!(
            check(store.db(), ids[2], &Choice::Portal)
                .unwrap()
                .is_none()
        );
        // Only the one resolution left an audit entry.
        assert_eq!(store.db().audit(Window::first(10)).unwrap().len(), 1);
    }
}
