//! The read-to-write window on Linear, closed after the fact. A write is
//! made against the issue as re-read just before it, but a person can still
//! edit between that read and the write landing. Linear's update webhooks
//! carry `updatedFrom`, the values the change replaced: when the webhook of
//! our own write (recognised by the values it wrote, kept in a receipt
//! recorded before the write was sent — so neither a webhook that overtakes
//! the answer nor a timed-out write escapes) shows it replaced something
//! other than what it was made against, that something was a person's
//! edit. It is recovered into an "overwritten" conflict that shows it —
//! never dropped.

use crate::connector::UpdateEvidence;
use crate::domain::{Actor, AuditAction, FieldValue, Record, Side};
use crate::store::{Db, Level, NewAudit, Result as StoreResult};
use crate::sync::codec::{self, normalize_text};
use crate::sync::{ConflictDraft, ConflictReason};

use super::link_sync::{Applied, MergeSettings, link_records, open_conflict};

fn same(a: &FieldValue, b: &FieldValue) -> bool {
    match (a, b) {
        (FieldValue::Text(x), FieldValue::Text(y)) => normalize_text(x) == normalize_text(y),
        (FieldValue::Null, FieldValue::Text(t)) | (FieldValue::Text(t), FieldValue::Null) => {
            t.trim().is_empty()
        }
        _ => a == b,
    }
}

/// Check one webhook's evidence against the receipt of the write of ours
/// it reports, if it reports one.
pub(crate) fn recover_overwritten(
    db: Db<'_>,
    merge: &MergeSettings,
    side: Side,
    ev: &UpdateEvidence,
) -> StoreResult<Applied> {
    let ours = |written: &std::collections::BTreeMap<String, FieldValue>| {
        written.iter().all(|(f, v)| {
            ev.current.get(f).is_some_and(|now| same(now, v)) && ev.previous.contains_key(f)
        })
    };
    let Some(receipt) = db.take_write_receipt(side, &ev.record_id, ours)? else {
        return Ok(Applied::default());
    };
    let Some(link) = receipt.link_id.map(|id| db.link(id)).transpose()?.flatten() else {
        return Ok(Applied::default());
    };
    let Some((portal, linear)) = link_records(db, &link)? else {
        return Ok(Applied::default());
    };
    let mut applied = Applied::default();
    for (field, expected) in &receipt.expected {
        let Some(replaced) = ev.previous.get(field) else {
            continue; // the write did not change it: nothing else was there
        };
        if same(replaced, expected) {
            continue;
        }
        let written = receipt
            .written
            .get(field)
            .cloned()
            .unwrap_or(FieldValue::Null);
        for f in merge
            .mapping
            .fields
            .iter()
            .filter(|f| f.side_field(side) == field)
        {
            let with = |v: &FieldValue| -> Option<FieldValue> {
                let mut r: Record = match side {
                    Side::Portal => portal.record.clone(),
                    Side::Linear => linear.record.clone(),
                };
                r.set_field(field, v.clone());
                if field == "state" {
                    r.status_type = None;
                }
                codec::read(&merge.mapping, f, side, &r).ok()
            };
            let (Some(lost), Some(base)) = (with(replaced), with(expected)) else {
                continue;
            };
            let other = match side.other() {
                Side::Portal => codec::read(&merge.mapping, f, Side::Portal, &portal.record),
                Side::Linear => codec::read(&merge.mapping, f, Side::Linear, &linear.record),
            }
            .unwrap_or_else(|_| with(&written).unwrap_or(FieldValue::Null));
            let (portal_v, linear_v) = match side {
                Side::Portal => (lost.clone(), other),
                Side::Linear => (other, lost.clone()),
            };
            let note = format!(
                "{side}'s edit {} landed while roundtrip wrote {} and was replaced; choose the value to keep",
                lost.display_short(60),
                with(&written).unwrap_or(FieldValue::Null).display_short(60),
            );
            open_conflict(
                db,
                link.id,
                &ConflictDraft {
                    field: f.name.clone(),
                    base,
                    portal: portal_v,
                    linear: linear_v,
                    portal_changed_at: None,
                    linear_changed_at: Some(ev.updated_at),
                    reason: ConflictReason::Overwritten,
                    side: Some(side),
                    note: Some(note.clone()),
                },
            )?;
            db.append_audit(&NewAudit {
                link_id: Some(link.id),
                actor: Actor::Engine,
                action: AuditAction::Conflict,
                side: Some(side),
                field: Some(f.name.clone()),
                before: Some(lost.display_short(200)),
                after: Some(written.display_short(200)),
                reason: format!("{}: {note}", f.name),
            })?;
            db.log_event(
                Level::Warn,
                "sync",
                &format!("link {} needs a decision: {}: {note}", link.id, f.name),
            )?;
            applied.conflicts += 1;
        }
    }
    Ok(applied)
}
