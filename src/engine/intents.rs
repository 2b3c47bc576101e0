//! Operator intents written to the store by the console or the CLI: resolved
//! conflicts become writes, and a newly activated mapping version applies
//! from the next merge on. (Retried jobs need nothing here: a job set back
//! to queued is simply claimed again.)

use std::sync::Arc;

use super::link_sync::{MergeSettings, apply_plan};
use super::payload::JobPayload;
use super::records::DELETED_FIELD;
use super::{Engine, EngineError, lock};
use crate::domain::{FieldValue, Side};
use crate::store::{
    Conflict, Db, Lane, Level, LinkState, NewAudit, Resolution, Result as StoreResult,
};
use crate::sync::{
    ChangeTimes, ConflictDraft, ConflictReason, Mapping, MergeInput, Take, resolve_conflict,
};

impl Engine {
    /// Turn every resolved-but-unapplied conflict into writes.
    pub async fn apply_resolutions(&self) -> Result<usize, EngineError> {
        let merge = self.merge_settings();
        let now = chrono::Utc::now();
        let n = self
            .inner
            .writer
            .run(move |db| {
                let pending = db.unapplied_resolutions(50)?;
                for c in &pending {
                    apply_one(db, &merge, c, now)?;
                    db.mark_conflict_applied(c.id)?;
                }
                Ok(pending.len())
            })
            .await?;
        if n > 0 {
            self.inner.scheduler.wake.notify_one();
        }
        Ok(n)
    }

    /// Load the active mapping version if it changed.
    pub async fn reload_mapping(&self) {
        let current = *lock(&self.inner.mapping_version);
        let active = self.inner.writer.run(|db| db.active_mapping()).await;
        let Ok(Some(active)) = active else { return };
        if Some(active.version) == current {
            return;
        }
        *lock(&self.inner.mapping_version) = Some(active.version);
        match Mapping::parse(&active.document) {
            Ok(mapping) => {
                let old = self.merge_settings();
                let next = MergeSettings {
                    mapping,
                    ..(*old).clone()
                };
                if let Ok(mut g) = self.inner.merge.write() {
                    *g = Arc::new(next);
                }
                let v = active.version;
                let _ = self
                    .inner
                    .writer
                    .run(move |db| {
                        db.log_event(
                            Level::Info,
                            "engine",
                            &format!("mapping version {v} is now in force"),
                        )
                    })
                    .await;
            }
            Err(errors) => {
                let v = active.version;
                let msg = format!("mapping version {v} is invalid and was not applied: {errors}");
                let _ = self
                    .inner
                    .writer
                    .run(move |db| db.log_event(Level::Error, "engine", &msg))
                    .await;
            }
        }
    }
}

fn apply_one(
    db: Db<'_>,
    merge: &MergeSettings,
    c: &Conflict,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    let Some(link) = db.link(c.link_id)? else {
        return Ok(());
    };
    let by = c.resolved_by.clone().unwrap_or_else(|| "operator".into());
    let audit = |reason: String| NewAudit {
        link_id: Some(link.id),
        actor: by.clone(),
        action: "resolve".into(),
        field: Some(c.field.clone()),
        reason,
        ..NewAudit::default()
    };
    if c.field == DELETED_FIELD {
        return apply_delete_resolution(db, merge, c, &link, &audit);
    }
    let take = match &c.resolution {
        Some(Resolution::Portal) => Take::Portal,
        Some(Resolution::Linear) => Take::Linear,
        Some(Resolution::Base) => Take::Base,
        Some(Resolution::Value(v)) => Take::Value(v.clone()),
        Some(Resolution::Agreed) | None => return Ok(()),
    };
    let (Some(portal_id), Some(linear_id)) = (&link.portal_id, &link.linear_id) else {
        return Ok(());
    };
    let (Some(portal), Some(linear)) = (
        db.record(Side::Portal, portal_id)?,
        db.record(Side::Linear, linear_id)?,
    ) else {
        return Ok(());
    };
    let draft = ConflictDraft {
        field: c.field.clone(),
        base: c.base.clone(),
        portal: c.portal.clone(),
        linear: c.linear.clone(),
        portal_changed_at: None,
        linear_changed_at: None,
        reason: ConflictReason::BothChanged,
    };
    let mut input = MergeInput::new(&link.base, &portal.record, &linear.record, now);
    input.times = ChangeTimes::default();
    input.portal_name = &merge.portal_name;
    match resolve_conflict(&merge.mapping, &input, &draft, &take) {
        Ok(plan) => {
            apply_plan(
                db,
                merge,
                &link,
                (&portal.record, &linear.record),
                &plan,
                Lane::Live,
            )?;
            db.append_audit(&audit(plan.explain()))?;
        }
        Err(e) => {
            db.log_event(
                Level::Error,
                "engine",
                &format!("conflict {} could not be applied: {e}", c.id),
            )?;
            db.append_audit(&audit(format!("could not apply: {e}")))?;
        }
    }
    Ok(())
}

/// A delete conflict: taking the deleted side deletes the survivor too;
/// taking the surviving side (or base) keeps it and unlinks.
fn apply_delete_resolution(
    db: Db<'_>,
    merge: &MergeSettings,
    c: &Conflict,
    link: &crate::store::Link,
    audit: &dyn Fn(String) -> NewAudit,
) -> StoreResult<()> {
    let deleted = FieldValue::Text("deleted".into());
    let deleted_side = if c.portal == deleted {
        Side::Portal
    } else {
        Side::Linear
    };
    let survivor = deleted_side.other();
    let take_deleted = matches!(
        (&c.resolution, deleted_side),
        (Some(Resolution::Portal), Side::Portal) | (Some(Resolution::Linear), Side::Linear)
    );
    let survivor_id = match survivor {
        Side::Portal => link.portal_id.clone(),
        Side::Linear => link.linear_id.clone(),
    };
    if take_deleted && let Some(target) = survivor_id {
        let payload = JobPayload::Delete { remote_id: target };
        super::link_sync::enqueue(
            db,
            merge,
            link.id,
            survivor,
            &payload,
            "operator chose to delete both sides",
            Lane::Live,
        )?;
    }
    db.set_link_state(link.id, LinkState::Unlinked)?;
    db.append_audit(&audit(if take_deleted {
        format!("operator chose to delete the {survivor} record too")
    } else {
        format!("operator kept the {survivor} record; link removed")
    }))?;
    Ok(())
}
