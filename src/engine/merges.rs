//! Merges and duplicates: a linked record that the remote folds into another
//! (a Linear issue marked a duplicate — Linear moves its attachments to the
//! canonical issue and cancels it — a Canny post merged into another, or a
//! Fider post marked a duplicate of another, both of which move the votes
//! there) hands its link to the canonical record.
//!
//! * The canonical record is not linked: the link moves to it, with a base of
//!   only the values both sides already agree on, so the first merge applies
//!   each field's policy to the rest (Linear's status flows to the post; a
//!   title the two disagree on waits for an operator) instead of copying one
//!   record's text over the other's. The post gets one admin-only note.
//! * The canonical record is already linked: a record is never linked twice,
//!   so the old link ends. A duplicate Linear issue's post gets the status the
//!   mapping gives the duplicate's state (Canny's default: Duplicate →
//!   "closed"; Fider marks it a duplicate of the canonical issue's post) and
//!   one admin-only note; for a merged post the Linear issue gets the note.
//!
//! Runs inside the engine's store transaction, like the rest of `records`.

use chrono::{DateTime, Utc};

use crate::domain::{Actor, AuditAction, FieldValue, Record, Side};
use crate::store::{Db, Lane, Level, LinkState, NewAudit, Result as StoreResult};
use crate::sync::{FieldWrites, agreed_snapshot};

use super::link_sync::{Applied, MergeSettings, enqueue};
use super::payload::JobPayload;

fn name(r: Option<&Record>, id: &str) -> String {
    r.and_then(|r| r.identifier.clone())
        .unwrap_or_else(|| id.to_string())
}

/// `from` on `side` was merged into (or marked a duplicate of) `canonical`:
/// let its link follow (see the module notes). A no-op when `from` has no
/// active link, so seeing the same merge again changes nothing.
pub fn follow_canonical(
    db: Db<'_>,
    merge: &MergeSettings,
    side: Side,
    from: &str,
    canonical: &str,
    _now: DateTime<Utc>,
) -> StoreResult<Applied> {
    let Some(link) = db.link_by_remote(side, from)? else {
        return Ok(Applied::default());
    };
    if link.state != LinkState::Active || from == canonical {
        return Ok(Applied::default());
    }
    let from_rec = db.record(side, from)?.map(|r| r.record);
    let canon_rec = db.record(side, canonical)?.map(|r| r.record);
    let from_name = name(from_rec.as_ref(), from);
    let canon_name = name(canon_rec.as_ref(), canonical);
    let what = match side {
        Side::Linear => format!("Linear marked {from_name} a duplicate of {canon_name}"),
        Side::Portal => format!(
            "the post '{}' was merged into '{}'",
            from_rec.as_ref().map_or(from, |r| r.title.as_str()),
            canon_rec.as_ref().map_or(canonical, |r| r.title.as_str())
        ),
    };
    let mut applied = Applied::default();
    let audit = |action: AuditAction, reason: &str| NewAudit {
        link_id: Some(link.id),
        side: Some(side),
        before: Some(from.to_string()),
        after: Some(canonical.to_string()),
        reason: reason.to_string(),
        ..NewAudit::new(Actor::Engine, action)
    };
    let taken = db
        .link_by_remote(side, canonical)?
        .filter(|l| l.id != link.id && l.state != LinkState::Unlinked);
    if taken.is_none() {
        let (portal, linear) = match side {
            Side::Linear => (
                link.portal_id
                    .as_deref()
                    .and_then(|p| db.record(Side::Portal, p).ok().flatten()),
                canon_rec.clone(),
            ),
            Side::Portal => (
                db.record(Side::Portal, canonical)?,
                link.linear_id
                    .as_deref()
                    .and_then(|l| db.record(Side::Linear, l).ok().flatten())
                    .map(|r| r.record),
            ),
        };
        let portal = portal.map(|p| p.record);
        let base = match (&portal, &linear) {
            (Some(p), Some(l)) => agreed_snapshot(&merge.mapping, p, l),
            _ => Default::default(),
        };
        db.move_link(link.id, side, canonical, &base)?;
        let reason = format!("{what}; the link now follows {canon_name}");
        db.append_audit(&audit(AuditAction::Follow, &reason))?;
        db.log_event(Level::Info, "sync", &format!("link {}: {reason}", link.id))?;
        let post = match side {
            Side::Linear => link.portal_id.clone(),
            Side::Portal => Some(canonical.to_string()),
        };
        if let Some(post) = post {
            let body = match side {
                Side::Linear => format!("{what}; this post now follows {canon_name}."),
                Side::Portal => format!(
                    "{what}; this post now follows the Linear issue {}.",
                    link.linear_id.as_deref().unwrap_or("")
                ),
            };
            let note = JobPayload::Note {
                remote_id: post,
                body,
            };
            enqueue(db, merge, link.id, Side::Portal, &note, &reason, Lane::Live)?;
            applied.jobs += 1;
        }
        return Ok(applied);
    }
    // The canonical record already has its own link: this one ends.
    let reason = format!("{what}, which is already linked; this link ends");
    match side {
        Side::Linear => {
            if let Some(post) = link.portal_id.clone() {
                if let Some(writes) = duplicate_status(merge, from_rec.as_ref()) {
                    let mut update = writes.to_update();
                    // The canonical issue's post is the original this post
                    // duplicates, for portals that mark duplicates so.
                    update.duplicate_of = taken.as_ref().and_then(|l| l.portal_id.clone());
                    let update = JobPayload::Update {
                        remote_id: post.clone(),
                        update,
                        base: Default::default(),
                        expect: Default::default(),
                        carried_by: Default::default(),
                        source: None,
                    };
                    enqueue(
                        db,
                        merge,
                        link.id,
                        Side::Portal,
                        &update,
                        &reason,
                        Lane::Live,
                    )?;
                    applied.jobs += 1;
                }
                let canonical_post = taken.as_ref().and_then(|t| t.portal_id.clone());
                let body = match &canonical_post {
                    Some(to) => {
                        let title = db
                            .record(Side::Portal, to)?
                            .map_or_else(|| to.clone(), |r| r.record.title);
                        let voters = JobPayload::CopyVoters {
                            from: post.clone(),
                            to: to.clone(),
                        };
                        enqueue(
                            db,
                            merge,
                            link.id,
                            Side::Portal,
                            &voters,
                            &reason,
                            Lane::Live,
                        )?;
                        applied.jobs += 1;
                        format!(
                            "{what}, which already tracks the post '{title}'; this post is closed as a duplicate, its voters now count on that post, and it is no longer synced."
                        )
                    }
                    None => format!(
                        "{what}, which already tracks another post; this post is closed as a duplicate and no longer synced."
                    ),
                };
                let note = JobPayload::Note {
                    remote_id: post,
                    body,
                };
                enqueue(db, merge, link.id, Side::Portal, &note, &reason, Lane::Live)?;
                applied.jobs += 1;
            }
        }
        Side::Portal => {
            if let Some(issue) = link.linear_id.clone() {
                let note = JobPayload::Note {
                    remote_id: issue,
                    body: format!(
                        "{what}, which already tracks another Linear issue; this issue is no longer synced with the portal."
                    ),
                };
                enqueue(db, merge, link.id, Side::Linear, &note, &reason, Lane::Live)?;
                applied.jobs += 1;
            }
        }
    }
    db.set_link_state(link.id, LinkState::Unlinked)?;
    db.append_audit(&audit(AuditAction::Unlink, &reason))?;
    db.log_event(Level::Info, "sync", &format!("link {}: {reason}", link.id))?;
    Ok(applied)
}

/// The portal status the mapping gives a duplicate Linear issue's state
/// (its name, else its type); none when the mapping has no row for it.
fn duplicate_status(merge: &MergeSettings, duplicate: Option<&Record>) -> Option<FieldWrites> {
    let (field, table) = merge.mapping.status_field()?;
    let status = duplicate
        .and_then(|d| table.to_portal(&d.status, d.status_type.as_deref()))?
        .to_string();
    let mut writes = FieldWrites::default();
    writes.fields.insert(
        field.side_field(Side::Portal).to_string(),
        FieldValue::Text(status),
    );
    Some(writes)
}
