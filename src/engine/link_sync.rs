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
    ChangeTimes, CommentMap, CommentPair, ConflictDraft, DecisionKind, FieldHistory, Mapping,
    MergeInput, OpenConflict, PingPongGuard, Plan, Refusal, plan_link, record_history,
};

use super::payload::{JobPayload, SourceCheck};

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

impl Applied {
    /// Both steps' work together (a re-route and a merge of one link).
    pub fn and(self, other: Applied) -> Applied {
        Applied {
            jobs: self.jobs + other.jobs,
            conflicts: self.conflicts + other.conflicts,
            deferred: self.deferred || other.deferred,
        }
    }
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

/// Both stored records of a complete link (`None` while one is missing).
pub(crate) fn link_records(
    db: Db<'_>,
    link: &Link,
) -> StoreResult<Option<(crate::store::StoredRecord, crate::store::StoredRecord)>> {
    let (Some(portal_id), Some(linear_id)) = (&link.portal_id, &link.linear_id) else {
        return Ok(None);
    };
    Ok(db
        .record(Side::Portal, portal_id)?
        .zip(db.record(Side::Linear, linear_id)?))
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
    if db.link_has_pending_jobs(link.id)?
        || db
            .link_breaker(link.id)?
            .and_then(|b| b.tripped_until)
            .is_some_and(|until| until > to_ms(now))
    {
        // Writes still on their way, or the link's circuit breaker is open.
        return Ok(Applied {
            deferred: true,
            ..Applied::default()
        });
    }
    let Some((portal, linear)) = link_records(db, link)? else {
        return Ok(Applied::default());
    };
    if portal.deleted_at.is_some() || linear.deleted_at.is_some() {
        // Deletes are handled by the delete policy, never by a field merge.
        return Ok(Applied::default());
    }
    let comments = comment_map(db, link.id)?;
    let pending = db.pending_conflicts_for_link(link.id)?;
    let open: BTreeSet<String> = pending.iter().map(|c| c.field.clone()).collect();
    let details: BTreeMap<String, OpenConflict> = pending
        .iter()
        .filter(|c| c.status == crate::store::ConflictStatus::Open)
        .map(|c| {
            (
                c.field.clone(),
                OpenConflict {
                    reason: c.kind,
                    side: c.kind_side,
                    portal: c.portal.clone(),
                    linear: c.linear.clone(),
                },
            )
        })
        .collect();
    let refusals: Vec<Refusal> = db
        .refusals_for_link(link.id)?
        .into_iter()
        .map(|r| Refusal {
            side: r.side,
            field: r.field,
            value: r.value,
            message: r.message,
        })
        .collect();
    let history = histories.remove(&link.id).unwrap_or_default();
    let mut input = MergeInput::new(&link.base, &portal.record, &linear.record, now);
    input.comments = &comments;
    input.open_conflicts = &open;
    input.conflict_details = &details;
    input.refusals = &refusals;
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
    if !refusals.is_empty() {
        db.clear_refusals(link.id)?;
    }
    if plan.base_changed {
        record_history(
            &mut history,
            &link.base,
            &plan.new_base,
            &plan.base_origin,
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
    for field in &plan.superseded_conflicts {
        if db.supersede_conflict(link.id, field)? {
            db.append_audit(&NewAudit {
                link_id: Some(link.id),
                field: Some(field.clone()),
                reason: format!(
                    "{field}: a side changed it since the conflict opened; conflict closed and the field merged again"
                ),
                ..NewAudit::new(Actor::Engine, AuditAction::Superseded)
            })?;
        }
    }
    refresh_conflicts(db, link, &plan.refreshed_conflicts)?;
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
        open_conflict(db, link.id, c)?;
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
        let (target, source) = match side {
            Side::Portal => (records.0, records.1),
            Side::Linear => (records.1, records.0),
        };
        let update = writes.to_update();
        // What the target held when this was planned, field by field: the
        // write is made against it again just before it is sent.
        let expect = update
            .fields
            .keys()
            .filter_map(|f| target.field(f).map(|v| (f.clone(), v)))
            .collect();
        // A field written to both sides advances its base with the second
        // write (jobs of a link run in order: portal first, then Linear).
        let also_later = |f: &crate::sync::FieldMapping| {
            side == Side::Portal
                && plan
                    .writes(Side::Linear)
                    .is_some_and(|w| w.fields.contains_key(f.side_field(Side::Linear)))
        };
        let carried_by: BTreeMap<String, String> = s
            .mapping
            .fields
            .iter()
            .filter(|f| base_later.contains_key(&f.name) && !also_later(f))
            .filter(|f| update.fields.contains_key(f.side_field(side)))
            .map(|f| (f.name.clone(), f.side_field(side).to_string()))
            .chain(votes_carrier(s, side, &update, &base_later))
            .collect();
        let payload = JobPayload::Update {
            remote_id: target.remote_id.clone(),
            source: source_check(s, side, source, &update),
            update,
            base: base_later
                .iter()
                .filter(|(name, _)| carried_by.contains_key(*name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            expect,
            carried_by,
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
            client_id: Some(uuid::Uuid::new_v4()),
        };
        let reason = format!("comment {} on {} mirrored to {}", m.source_id, m.from, m.to);
        enqueue(db, s, link.id, m.to, &payload, &reason, lane)?;
        applied.jobs += 1;
    }
    Ok(applied)
}

/// The votes line is folded into Linear's description: the description
/// write carries the votes field's base too.
fn votes_carrier(
    s: &MergeSettings,
    side: Side,
    update: &crate::domain::Update,
    base_later: &BTreeMap<String, FieldValue>,
) -> Option<(String, String)> {
    let f = s.mapping.fields.iter().find(|f| {
        matches!(f.transform, crate::sync::Transform::VotesLine { .. })
            && base_later.contains_key(&f.name)
    })?;
    (side == Side::Linear && update.fields.contains_key("description"))
        .then(|| (f.name.clone(), "description".to_string()))
}

/// A write that notifies people (the portal's voters) is checked against
/// its source again before it is sent: the values of the source fields it
/// was planned from.
fn source_check(
    s: &MergeSettings,
    side: Side,
    source: &Record,
    update: &crate::domain::Update,
) -> Option<SourceCheck> {
    if !update.notify_voters {
        return None;
    }
    let mut fields = BTreeMap::new();
    let mut guards = Vec::new();
    for f in &s.mapping.fields {
        if !matches!(f.transform, crate::sync::Transform::Status(_))
            || !update.fields.contains_key(f.side_field(side))
        {
            continue;
        }
        let from = f.side_field(side.other());
        if let Some(v) = source.field(from) {
            fields.insert(from.to_string(), v);
        }
        guards.push(f.side_field(side).to_string());
    }
    (!guards.is_empty()).then(|| SourceCheck {
        side: side.other(),
        remote_id: source.remote_id.clone(),
        fields,
        guards,
    })
}

/// Open a conflict, recording why beyond "both changed".
pub(crate) fn open_conflict(db: Db<'_>, link_id: i64, c: &ConflictDraft) -> StoreResult<i64> {
    let id = db.open_conflict(&NewConflict {
        link_id,
        field: c.field.clone(),
        base: c.base.clone(),
        portal: c.portal.clone(),
        linear: c.linear.clone(),
        portal_changed_at: c.portal_changed_at.map(to_ms),
        linear_changed_at: c.linear_changed_at.map(to_ms),
    })?;
    db.set_conflict_kind(id, c.reason, c.side, c.note.as_deref())?;
    Ok(id)
}

/// Show the sides' current values in the link's open conflicts.
fn refresh_conflicts(db: Db<'_>, link: &Link, drafts: &[ConflictDraft]) -> StoreResult<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    let open = db.open_conflicts_for_link(link.id)?;
    for d in drafts {
        if let Some(c) = open.iter().find(|c| c.field == d.field)
            && db.refresh_conflict_values(c.id, &d.portal, &d.linear)?
        {
            db.append_audit(&NewAudit {
                link_id: Some(link.id),
                field: Some(d.field.clone()),
                before: Some(format!(
                    "portal {}, Linear {}",
                    c.portal.display_short(60),
                    c.linear.display_short(60)
                )),
                after: Some(format!(
                    "portal {}, Linear {}",
                    d.portal.display_short(60),
                    d.linear.display_short(60)
                )),
                reason: format!("{}: a side changed while the conflict is open", d.field),
                ..NewAudit::new(Actor::Engine, AuditAction::ConflictUpdated)
            })?;
        }
    }
    Ok(())
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
