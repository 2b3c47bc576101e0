//! Applying the merge to one link inside a store transaction: read the
//! link's base, both sides' last-seen records, its comment pairs and open
//! conflicts; run the pure merge; turn the plan into job rows, conflicts,
//! comment pairs, audit entries and base updates — all committed together.
//!
//! Fields being written keep their old base until the write lands (the job
//! carries the new base values); fields both sides already agree on advance
//! at once. A link with writes still queued or in flight is not merged again
//! until they finish, so the same change is never planned twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::domain::{Actor, AuditAction, FieldValue, Record, Side};
use crate::store::{
    CommentLink, Db, Lane, Level, Link, LinkState, NewAudit, NewConflict, NewJob,
    Result as StoreResult, Window, from_ms, to_ms,
};
use crate::sync::{
    ChangeTimes, CommentMap, CommentPair, DecisionKind, FieldHistory, Mapping, MergeInput,
    PingPongGuard, Plan, plan_link, record_history,
};

use super::payload::JobPayload;

/// Settings every merge needs.
#[derive(Debug, Clone)]
pub struct MergeSettings {
    /// The active mapping.
    pub mapping: Mapping,
    /// How mirrored comments name the portal ("Canny").
    pub portal_name: String,
    /// Ping-pong guard settings.
    pub guard: PingPongGuard,
    /// Attempts per job.
    pub max_attempts: i64,
}

/// What applying a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Jobs enqueued.
    pub jobs: usize,
    /// Conflicts opened.
    pub conflicts: usize,
    /// The link has writes in flight; merge again when they land.
    pub deferred: bool,
}

/// Recent base values per link, for the ping-pong guard (kept in memory:
/// a restart forgets at most ten minutes of flips).
pub type Histories = HashMap<i64, FieldHistory>;

fn comment_map(db: Db<'_>, link_id: i64) -> StoreResult<CommentMap> {
    let pairs = db
        .comment_links(link_id)?
        .into_iter()
        .filter_map(|c| {
            Some(CommentPair {
                portal_id: c.portal_comment_id?,
                linear_id: c.linear_comment_id?,
                origin: c.origin,
            })
        })
        .collect();
    Ok(CommentMap { pairs })
}

/// Merge an active link and apply the plan.
pub fn sync_link(
    db: Db<'_>,
    s: &MergeSettings,
    histories: &mut Histories,
    link: &Link,
    lane: Lane,
    now: DateTime<Utc>,
) -> StoreResult<Applied> {
    if link.state != LinkState::Active {
        return Ok(Applied::default());
    }
    if db.link_has_pending_jobs(link.id)? {
        return Ok(Applied {
            deferred: true,
            ..Applied::default()
        });
    }
    let (Some(portal_id), Some(linear_id)) = (&link.portal_id, &link.linear_id) else {
        return Ok(Applied::default());
    };
    let (Some(portal), Some(linear)) = (
        db.record(Side::Portal, portal_id)?,
        db.record(Side::Linear, linear_id)?,
    ) else {
        return Ok(Applied::default());
    };
    if portal.deleted_at.is_some() || linear.deleted_at.is_some() {
        // Deletes are handled by the delete policy, never by a field merge.
        return Ok(Applied::default());
    }
    let comments = comment_map(db, link.id)?;
    let open: BTreeSet<String> = db
        .open_conflicts_for_link(link.id)?
        .into_iter()
        .map(|c| c.field)
        .collect();
    let history = histories.remove(&link.id).unwrap_or_default();
    let mut input = MergeInput::new(&link.base, &portal.record, &linear.record, now);
    input.comments = &comments;
    input.open_conflicts = &open;
    input.history = &history;
    input.times = ChangeTimes {
        portal: portal.changed_at.map(from_ms),
        linear: linear.changed_at.map(from_ms),
    };
    input.guard = s.guard;
    input.portal_name = &s.portal_name;
    let plan = plan_link(&s.mapping, &input);
    let mut history = history;
    let applied = apply_plan(db, s, link, (&portal.record, &linear.record), &plan, lane)?;
    if plan.base_changed {
        record_history(
            &mut history,
            &link.base,
            &plan.new_base,
            now,
            s.guard.window,
        );
    }
    if !history.is_empty() {
        histories.insert(link.id, history);
    }
    Ok(applied)
}

/// Mapping field names whose value is being written to either side.
fn written_fields(mapping: &Mapping, plan: &Plan) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in &mapping.fields {
        for side in [Side::Portal, Side::Linear] {
            if plan
                .writes(side)
                .is_some_and(|w| w.fields.contains_key(f.side_field(side)))
            {
                out.insert(f.name.clone());
            }
        }
    }
    out
}

pub(crate) fn apply_plan(
    db: Db<'_>,
    s: &MergeSettings,
    link: &Link,
    records: (&Record, &Record),
    plan: &Plan,
    lane: Lane,
) -> StoreResult<Applied> {
    let mut applied = Applied::default();
    let reason_for = |kind: DecisionKind| -> String {
        plan.decisions
            .iter()
            .filter(|d| d.kind == kind)
            .map(|d| d.explanation.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let written = written_fields(&s.mapping, plan);
    // Agreed values advance now; written ones when their write lands.
    let mut base_now = link.base.clone();
    let mut base_later: BTreeMap<String, FieldValue> = BTreeMap::new();
    for (field, value) in &plan.new_base {
        if written.contains(field) {
            base_later.insert(field.clone(), value.clone());
        } else {
            base_now.insert(field.clone(), value.clone());
        }
    }
    if base_now != link.base {
        let title = match base_now.get("title") {
            Some(FieldValue::Text(t)) => t.clone(),
            _ => link.title.clone(),
        };
        db.set_link_base(link.id, &title, &base_now)?;
    }
    for field in &plan.resolved_conflicts {
        if db.settle_conflict(link.id, field)? {
            db.append_audit(&NewAudit {
                link_id: Some(link.id),
                field: Some(field.clone()),
                reason: format!("{field}: both sides now agree; conflict closed"),
                ..NewAudit::new(Actor::Engine, AuditAction::Settled)
            })?;
        }
    }
    for c in &plan.conflicts {
        db.open_conflict(&NewConflict {
            link_id: link.id,
            field: c.field.clone(),
            base: c.base.clone(),
            portal: c.portal.clone(),
            linear: c.linear.clone(),
            portal_changed_at: c.portal_changed_at.map(to_ms),
            linear_changed_at: c.linear_changed_at.map(to_ms),
        })?;
        applied.conflicts += 1;
    }
    if !plan.conflicts.is_empty() {
        let why = reason_for(DecisionKind::Conflict);
        db.append_audit(&NewAudit {
            link_id: Some(link.id),
            reason: why.clone(),
            ..NewAudit::new(Actor::Engine, AuditAction::Conflict)
        })?;
        db.log_event(
            Level::Warn,
            "sync",
            &format!("link {} needs a decision: {why}", link.id),
        )?;
    }
    note_mapping_gaps(db, link, &reason_for(DecisionKind::Skipped))?;
    for pair in &plan.recovered_comment_pairs {
        db.insert_comment_link(&CommentLink {
            link_id: link.id,
            portal_comment_id: Some(pair.portal_id.clone()),
            linear_comment_id: Some(pair.linear_id.clone()),
            origin: pair.origin,
        })?;
    }
    let write_reason = reason_for(DecisionKind::Write);
    for side in [Side::Portal, Side::Linear] {
        let Some(writes) = plan.writes(side) else {
            continue;
        };
        let remote_id = match side {
            Side::Portal => &records.0.remote_id,
            Side::Linear => &records.1.remote_id,
        };
        let payload = JobPayload::Update {
            remote_id: remote_id.clone(),
            update: writes.to_update(),
            base: base_later.clone(),
        };
        enqueue(db, s, link.id, side, &payload, &write_reason, lane)?;
        applied.jobs += 1;
    }
    for m in &plan.comments_to_mirror {
        let remote_id = match m.to {
            Side::Portal => &records.0.remote_id,
            Side::Linear => &records.1.remote_id,
        };
        let payload = JobPayload::Comment {
            remote_id: remote_id.clone(),
            body: m.body.clone(),
            source_comment_id: m.source_id.clone(),
        };
        let reason = format!("comment {} on {} mirrored to {}", m.source_id, m.from, m.to);
        enqueue(db, s, link.id, m.to, &payload, &reason, lane)?;
        applied.jobs += 1;
    }
    Ok(applied)
}

/// A value the mapping cannot express (e.g. a portal status with no Linear
/// state) is left alone by the merge; say so once in the link's timeline and
/// the event log, or the operator never learns why the sides differ. The
/// same gap is not logged again until something else was recorded.
fn note_mapping_gaps(db: Db<'_>, link: &Link, skipped: &str) -> StoreResult<()> {
    if skipped.is_empty() {
        return Ok(());
    }
    let last = db.audit_for_link(link.id, Window::last(1))?;
    if last
        .first()
        .is_some_and(|a| a.action == AuditAction::Skipped && a.reason == skipped)
    {
        return Ok(());
    }
    db.append_audit(&NewAudit {
        link_id: Some(link.id),
        reason: skipped.to_string(),
        ..NewAudit::new(Actor::Engine, AuditAction::Skipped)
    })?;
    db.log_event(
        Level::Warn,
        "mapping",
        &format!(
            "link {} ({}) not fully synced: {skipped} (fix the mapping, e.g. in the console's Mappings view)",
            link.id, link.title
        ),
    )
}

/// Insert one job row for a payload.
pub fn enqueue(
    db: Db<'_>,
    s: &MergeSettings,
    link_id: i64,
    target: Side,
    payload: &JobPayload,
    reason: &str,
    lane: Lane,
) -> StoreResult<i64> {
    db.insert_job(&NewJob {
        link_id: Some(link_id),
        target,
        kind: payload.kind(),
        payload: payload.to_json(),
        reason: reason.to_string(),
        lane,
        max_attempts: s.max_attempts,
    })
}
