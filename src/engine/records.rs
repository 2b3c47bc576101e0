//! What to do with a record the engine has just read from one side: store
//! it, then create its counterpart (if the creation rules say so), apply the
//! delete policy (if it is gone), or merge its link. Runs inside one store
//! transaction on the writer thread.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::domain::{Actor, AuditAction, Record, Side};
use crate::store::{
    Db, Lane, Level, LinkState, NewAudit, NewConflict, Result as StoreResult, UpsertOutcome,
    content_hash, meta_keys, now_ms,
};
use crate::sync::DeletePolicy;
use crate::sync::{
    CreateRule, DeleteAction, MassDeleteGuard, PortalCreateOptions, plan_create, plan_delete,
    should_create_in_portal,
};

use super::link_sync::{Applied, Histories, MergeSettings, enqueue};
use super::payload::JobPayload;

/// Rules beyond the mapping: what gets created and what deletes do.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The configured Linear team's key: where a route naming no team puts
    /// its issues.
    pub default_team: String,
    /// Which portal posts become Linear issues.
    pub create_in_linear: CreateRule,
    /// Which Linear issues get a portal post.
    pub create_in_portal: PortalCreateOptions,
    /// What a delete on one side does to the other.
    pub delete_policy: DeletePolicy,
    /// The mass-delete guard.
    pub guard: MassDeleteGuard,
}

/// Mutable engine state the record handlers share (behind one mutex).
#[derive(Debug, Default)]
pub struct EngineState {
    /// Ping-pong histories per link.
    pub histories: Histories,
    /// Times of recent deletes, for the mass-delete guard.
    pub deletes: VecDeque<DateTime<Utc>>,
}

/// How a delete conflict shows each side: "deleted" or "exists".
fn existence(deleted: bool) -> crate::domain::FieldValue {
    crate::domain::FieldValue::Text(if deleted { "deleted" } else { "exists" }.into())
}

/// The field name delete conflicts are opened under.
pub const DELETED_FIELD: &str = "deleted";

/// Store a freshly read record (keeping known comments when a listing
/// carried none: comments are append-only). No merge happens here, so a
/// reconcile can store both sides before it decides anything. A record
/// identical to the stored one costs one indexed lookup and no write or
/// JSON parse (reconcile of records already in sync is mostly that).
pub fn store_record(db: Db<'_>, side: Side, record: &Record) -> StoreResult<UpsertOutcome> {
    let previous = db.record_version(side, &record.remote_id)?;
    let Some(previous) = previous else {
        return db.upsert_record(side, record);
    };
    if previous.unchanged_by(&content_hash(record), record) {
        return Ok(UpsertOutcome::Unchanged);
    }
    if record.comments.is_empty()
        && let Some(old) = db.record(side, &record.remote_id)?
        && !old.record.comments.is_empty()
    {
        let mut with = record.clone();
        with.comments = old.record.comments;
        return db.upsert_record(side, &with);
    }
    db.upsert_record(side, record)
}

/// Store a record read from `side` by a request that started at
/// `started_ms`, unless the stored state is fresher (a write of ours landed,
/// or a later read was stored, after this read began): an older read must
/// never replace newer values — that is how a stale snapshot would revert
/// an edit. `None` means the read was stale and nothing was stored.
pub fn store_record_read(
    db: Db<'_>,
    side: Side,
    record: &Record,
    started_ms: i64,
) -> StoreResult<Option<UpsertOutcome>> {
    if db
        .record_fresh_at(side, &record.remote_id)?
        .is_some_and(|fresh| fresh > started_ms)
    {
        return Ok(None);
    }
    let outcome = store_record(db, side, record)?;
    if outcome != UpsertOutcome::Unchanged {
        db.mark_record_fresh(side, &record.remote_id, started_ms)?;
    }
    Ok(Some(outcome))
}

/// Store the state a write of ours just produced: current as of now, so no
/// read that started before it can replace it.
pub fn store_record_written(db: Db<'_>, side: Side, record: &Record) -> StoreResult<UpsertOutcome> {
    let outcome = store_record(db, side, record)?;
    db.mark_record_fresh(side, &record.remote_id, now_ms())?;
    Ok(outcome)
}

/// [`store_record_read`], also saying what kind of change the stored
/// record went through (none when it was unchanged), for remotes whose
/// webhooks announce only some kinds. The stored version is read only when
/// the record changed; `None`: the read was stale and nothing was stored.
pub fn store_record_with_kinds(
    db: Db<'_>,
    side: Side,
    record: &Record,
    started_ms: i64,
) -> StoreResult<Option<(UpsertOutcome, Vec<crate::domain::ChangeKind>)>> {
    let unchanged = db
        .record_version(side, &record.remote_id)?
        .is_some_and(|v| v.unchanged_by(&content_hash(record), record));
    if unchanged {
        return Ok(Some((UpsertOutcome::Unchanged, Vec::new())));
    }
    let before = db.record(side, &record.remote_id)?.map(|r| r.record);
    let Some(outcome) = store_record_read(db, side, record, started_ms)? else {
        return Ok(None);
    };
    let kinds = match outcome {
        UpsertOutcome::Unchanged => Vec::new(),
        _ => crate::sync::change_kinds(before.as_ref(), record),
    };
    Ok(Some((outcome, kinds)))
}

/// Act on a stored record: apply the delete policy if it is gone, merge its
/// link if it has one, or create its counterpart if the rules say so.
#[allow(clippy::too_many_arguments)]
pub fn act_on_record(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    state: &mut EngineState,
    side: Side,
    remote_id: &str,
    lane: Lane,
    now: DateTime<Utc>,
) -> StoreResult<Applied> {
    let Some(stored) = db.record(side, remote_id)? else {
        return Ok(Applied::default());
    };
    if stored.record.deleted || stored.deleted_at.is_some() {
        return on_deleted(db, merge, rules, state, side, remote_id, now);
    }
    // An archived record (Linear archives finished issues by itself) is
    // not deleted: it keeps its link and syncs like any other.
    let mut applied = Applied::default();
    if let Some(canonical) = stored.record.duplicate_of.as_deref() {
        let a = super::merges::follow_canonical(db, merge, side, remote_id, canonical, now)?;
        applied.jobs += a.jobs;
        if db
            .link_by_remote(side, remote_id)?
            .is_none_or(|l| l.state != LinkState::Active)
        {
            return Ok(applied);
        }
    }
    for merged in &stored.record.merged_ids {
        let a = super::merges::follow_canonical(db, merge, side, merged, remote_id, now)?;
        applied.jobs += a.jobs;
    }
    let rest = act_on_live(db, merge, rules, state, side, &stored.record, lane, now)?;
    Ok(applied.and(rest))
}

/// Merge a live record's link, or create its counterpart.
#[allow(clippy::too_many_arguments)]
fn act_on_live(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    state: &mut EngineState,
    side: Side,
    record: &Record,
    lane: Lane,
    now: DateTime<Utc>,
) -> StoreResult<Applied> {
    let remote_id = record.remote_id.as_str();
    // A post a moderating board holds is not public: nothing of it is
    // synced (not even to an existing issue) until the portal shows it.
    if side == Side::Portal && record.held {
        return Ok(Applied::default());
    }
    match db.link_by_remote(side, remote_id)? {
        Some(link) if link.state == LinkState::Active => {
            let shipped = match side {
                Side::Linear => super::routing::maybe_ship(db, merge, &link, record)?,
                Side::Portal => Applied::default(),
            };
            let rest = super::routing::sync_routed_link(
                db,
                merge,
                rules,
                &mut state.histories,
                &link,
                lane,
                now,
            )?;
            Ok(shipped.and(rest))
        }
        Some(_) => Ok(Applied::default()),
        None => {
            if let Some(applied) = super::adopt::adopt_native_link(db, merge, side, record, now)? {
                return Ok(applied);
            }
            maybe_create(db, merge, rules, side, record, lane)
        }
    }
}

fn maybe_create(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    side: Side,
    record: &Record,
    lane: Lane,
) -> StoreResult<Applied> {
    // A record we created ourselves may be seen before its create job
    // completes its link: its id is the link's client id (Linear) or it
    // carries our marker (portal) — either way, not a new record.
    if db.link_by_client_id(&record.remote_id)?.is_some() {
        return Ok(Applied::default());
    }
    // Portal copies carry no marker: a post titled like a portal create
    // still pending may be that create's, its answer lost. The create's
    // retry finds it by content and completes the link; until then it is
    // not a new post to copy to Linear.
    if side == Side::Portal && db.portal_create_pending_titled(&record.title)? {
        return Ok(Applied::default());
    }
    if side == Side::Portal {
        return super::routing::admit_post(db, merge, rules, record, lane);
    }
    if !should_create_in_portal(record, &rules.create_in_portal, false) {
        return Ok(Applied::default());
    }
    let client_id = uuid::Uuid::new_v4();
    let planned = plan_create(&merge.mapping, record, side, client_id);
    let client = client_id.to_string();
    let link_id = db.insert_link(
        None,
        Some(record.remote_id.as_str()),
        Some(&client),
        LinkState::Pending,
        &record.title,
        &std::collections::BTreeMap::new(),
    )?;
    let reason = format!(
        "Linear issue '{}' carries the label '{}': creating the portal post",
        record.title, rules.create_in_portal.label
    );
    let payload = JobPayload::Create {
        record: planned.to_new_record(),
        base: planned.base.clone(),
    };
    enqueue(db, merge, link_id, planned.target, &payload, &reason, lane)?;
    db.append_audit(&NewAudit {
        link_id: Some(link_id),
        side: Some(planned.target),
        reason,
        ..NewAudit::new(Actor::Engine, AuditAction::PlanCreate)
    })?;
    Ok(Applied {
        jobs: 1,
        ..Applied::default()
    })
}

/// A record was confirmed deleted on `side`: apply the delete policy to its
/// link, unless the mass-delete guard pauses propagation.
pub fn on_deleted(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    state: &mut EngineState,
    side: Side,
    remote_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Applied> {
    // A post merged into another vanishes from the portal: its link
    // follows the post it went into, it is not a deletion.
    if let Some(canonical) = db.record_merging(side, remote_id)? {
        db.mark_record_deleted(side, remote_id)?;
        return super::merges::follow_canonical(db, merge, side, remote_id, &canonical, now);
    }
    db.mark_record_deleted(side, remote_id)?;
    if side == Side::Portal {
        db.clear_unrouted(remote_id)?;
    }
    let Some(link) = db.link_by_remote(side, remote_id)? else {
        return Ok(Applied::default());
    };
    if link.state != LinkState::Active {
        return Ok(Applied::default());
    }
    if db.meta(meta_keys::DELETES_PAUSED)?.is_some() {
        return Ok(Applied::default());
    }
    let deleted = db
        .record(side, remote_id)?
        .map(|r| r.record)
        .unwrap_or_else(|| Record {
            remote_id: remote_id.to_string(),
            ..Record::default()
        });
    let window =
        chrono::Duration::from_std(rules.guard.window).unwrap_or(chrono::Duration::minutes(10));
    while state.deletes.front().is_some_and(|t| *t < now - window) {
        state.deletes.pop_front();
    }
    let earlier: Vec<DateTime<Utc>> = state.deletes.iter().copied().collect();
    let plan = plan_delete(
        &merge.mapping,
        rules.delete_policy,
        side,
        &deleted,
        &rules.guard,
        &earlier,
        now,
    );
    state.deletes.push_back(now);
    let survivor = side.other();
    let survivor_id = match survivor {
        Side::Portal => link.portal_id.clone(),
        Side::Linear => link.linear_id.clone(),
    };
    let mut applied = Applied::default();
    let audit = |action: AuditAction| NewAudit {
        link_id: Some(link.id),
        side: Some(survivor),
        reason: plan.explanation.clone(),
        ..NewAudit::new(Actor::Engine, action)
    };
    match (&plan.action, survivor_id) {
        (DeleteAction::Paused { .. }, _) => {
            let alert = plan
                .alert
                .clone()
                .unwrap_or_else(|| plan.explanation.clone());
            db.set_meta(meta_keys::DELETES_PAUSED, &alert)?;
            db.log_event(Level::Error, "sync", &alert)?;
            return Ok(applied);
        }
        (DeleteAction::Ask, _) => {
            db.open_conflict(&NewConflict {
                link_id: link.id,
                field: DELETED_FIELD.into(),
                base: crate::domain::FieldValue::Text("exists".into()),
                portal: existence(side == Side::Portal),
                linear: existence(side == Side::Linear),
                portal_changed_at: None,
                linear_changed_at: None,
            })?;
            db.append_audit(&audit(AuditAction::Conflict))?;
            applied.conflicts = 1;
            return Ok(applied);
        }
        (_, None) => {}
        (action, Some(target)) => {
            let payload = match action {
                // Admin-only: an internal comment on the portal, never a
                // public one.
                DeleteAction::Unlink { comment, .. } => Some(JobPayload::Note {
                    remote_id: target,
                    body: comment.clone(),
                }),
                DeleteAction::Close { writes, .. } => Some(JobPayload::Update {
                    remote_id: target,
                    update: writes.to_update(),
                    base: std::collections::BTreeMap::new(),
                    expect: std::collections::BTreeMap::new(),
                    carried_by: std::collections::BTreeMap::new(),
                    source: None,
                }),
                DeleteAction::Delete { .. } => Some(JobPayload::Delete { remote_id: target }),
                DeleteAction::Ask | DeleteAction::Paused { .. } => None,
            };
            if let Some(payload) = payload {
                enqueue(
                    db,
                    merge,
                    link.id,
                    survivor,
                    &payload,
                    &plan.explanation,
                    Lane::Live,
                )?;
                applied.jobs = 1;
            }
        }
    }
    db.set_link_state(link.id, LinkState::Unlinked)?;
    db.append_audit(&audit(AuditAction::Unlink))?;
    db.log_event(Level::Info, "sync", &plan.explanation)?;
    Ok(applied)
}
