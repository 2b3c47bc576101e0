//! Operator intents written to the store by the console or the CLI: resolved
//! conflicts become writes, and a newly activated mapping version applies
//! from the next merge on. (Retried jobs need nothing here: a job set back
//! to queued is simply claimed again.)

use std::sync::Arc;

use super::link_sync::{MergeSettings, apply_plan, link_records};
use super::payload::JobPayload;
use super::records::{DELETED_FIELD, store_record_read};
use super::{Engine, EngineError, lock};
use crate::domain::{Actor, AuditAction, FieldValue, Side};
use crate::store::{
    Conflict, Db, Lane, Level, LinkState, NewAudit, Resolution, Result as StoreResult,
};
use crate::sync::{
    ChangeTimes, ConflictDraft, Mapping, MergeInput, Take, codec, resolve_conflict, stamp_version,
};

impl Engine {
    /// Turn every resolved-but-unapplied conflict into writes. Both sides
    /// are re-read first, so the chosen side's value is applied as it is
    /// now — and when it changed after the operator decided, the conflict
    /// opens again with the current values instead.
    pub async fn apply_resolutions(&self) -> Result<usize, EngineError> {
        let pending = self
            .inner
            .writer
            .run(|db| db.unapplied_resolutions(50))
            .await?;
        let mut n = 0;
        for c in pending {
            let reread = c.field != DELETED_FIELD;
            if reread {
                self.reread_link(c.link_id).await?;
            }
            let link_id = c.link_id;
            let merge = self.merge_settings();
            let rules = self.inner.opts.rules.clone();
            let now = chrono::Utc::now();
            let wrote = self
                .inner
                .writer
                .run(move |db| {
                    if apply_one(db, &merge, &rules, &c, now)? {
                        db.mark_conflict_applied(c.id)?;
                    }
                    Ok(())
                })
                .await;
            wrote?;
            if reread {
                // The re-read stored whatever else changed on either side
                // (a post's new category included): merged and routed now,
                // or the next listing would find it unchanged.
                self.remerge(link_id).await?;
            }
            n += 1;
        }
        if n > 0 {
            self.inner.scheduler.wake.notify_one();
        }
        Ok(n)
    }

    /// Read both records of an active link again and store them (unless a
    /// fresher state is already stored).
    async fn reread_link(&self, link_id: i64) -> Result<(), EngineError> {
        let link = self.inner.writer.run(move |db| db.link(link_id)).await?;
        let Some(link) = link.filter(|l| l.state == LinkState::Active) else {
            return Ok(());
        };
        for (side, id) in [
            (Side::Portal, link.portal_id),
            (Side::Linear, link.linear_id),
        ] {
            let Some(id) = id else { continue };
            let conn = self.inner.connectors.side(side).clone();
            let started = crate::store::now_ms();
            match self.call(side, Lane::Live, || conn.get_fields(&id)).await {
                Ok(Some(record)) => {
                    self.inner
                        .writer
                        .run(move |db| store_record_read(db, side, &record, started).map(|_| ()))
                        .await?;
                }
                Ok(None) => {}
                Err(e) if e.class == crate::domain::ErrorClass::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Load the active mapping version if it changed. A version that does
    /// not load is refused in the store (see [`load_active_mapping`]), so the
    /// active row stays the version the engine runs.
    pub async fn reload_mapping(&self) {
        let current = *lock(&self.inner.mapping_version);
        let loaded = self
            .inner
            .writer
            .run(move |db| {
                if db.active_mapping()?.map(|a| a.version) == current {
                    return Ok(None);
                }
                load_active_mapping(db, current)
            })
            .await;
        let Ok(Some((v, mapping))) = loaded else {
            return;
        };
        if Some(v) == current {
            return;
        }
        *lock(&self.inner.mapping_version) = Some(v);
        super::apply_scope(&self.inner.connectors, &mapping);
        let old = self.merge_settings();
        let next = MergeSettings {
            mapping,
            ..(*old).clone()
        };
        if let Ok(mut g) = self.inner.merge.write() {
            *g = Arc::new(next);
        }
        if let Err(e) = self.reroute_unrouted().await {
            tracing::warn!(error = %e, "routing the unrouted posts again failed");
        }
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
}

/// The active mapping version, parsed. An active version that does not
/// parse is refused: marked with the reason (an alert until an operator
/// applies or rolls back), logged and audited, and the version the engine
/// keeps running is made active again — `running`, else the newest stored
/// version that loads, else the built-in default stored as a new version.
pub(crate) fn load_active_mapping(
    db: Db<'_>,
    running: Option<i64>,
) -> StoreResult<Option<(i64, Mapping)>> {
    let Some(active) = db.active_mapping()? else {
        return Ok(None);
    };
    let errors = match Mapping::parse(&active.document) {
        Ok(m) => return Ok(Some((active.version, m))),
        Err(errors) => errors,
    };
    let loadable = |v: &crate::store::MappingVersion| {
        v.version != active.version && v.refused_reason.is_none()
    };
    let mut fallback = None;
    let versions = db.mapping_versions()?;
    let ordered = running
        .and_then(|r| versions.iter().find(|v| v.version == r))
        .into_iter()
        .chain(versions.iter());
    for v in ordered.filter(|v| loadable(v)) {
        if let Ok(m) = Mapping::parse(&v.document) {
            fallback = Some((v.version, m));
            break;
        }
    }
    let (in_force, mapping) = match fallback {
        Some(f) => f,
        None => {
            let next = db.next_mapping_version()?;
            let kind = db.portal_kind()?;
            let default = Mapping::default_for(kind).to_toml();
            let doc = stamp_version(&default, next).unwrap_or(default);
            let note = format!("built-in default (version {} was refused)", active.version);
            let v = db.add_mapping_version(&doc, Actor::BuiltIn, &note)?;
            (
                v,
                Mapping::parse(&doc).unwrap_or_else(|_| Mapping::default_for(kind)),
            )
        }
    };
    let reason: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
    let reason = reason.join("; ");
    db.refuse_mapping_version(active.version, &reason, in_force)?;
    let msg = format!(
        "mapping version {} is invalid and was not applied: {reason}; version {in_force} stays in force",
        active.version
    );
    db.append_audit(&NewAudit {
        before: Some(format!("v{}", active.version)),
        after: Some(format!("v{in_force}")),
        reason: msg.clone(),
        ..NewAudit::new(Actor::Engine, AuditAction::RefuseMapping)
    })?;
    db.log_event(Level::Error, "engine", &msg)?;
    Ok(Some((in_force, mapping)))
}

/// Apply one resolution; false when it was not applied because the chosen
/// side's value changed after the operator decided (the conflict is open
/// again, showing the current values).
fn apply_one(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &super::records::Rules,
    c: &Conflict,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<bool> {
    let Some(link) = db.link(c.link_id)? else {
        return Ok(true);
    };
    let by = c.resolved_by.unwrap_or(Actor::Operator);
    let audit = |reason: String| NewAudit {
        link_id: Some(link.id),
        field: Some(c.field.clone()),
        reason,
        ..NewAudit::new(by, AuditAction::Resolve)
    };
    if c.field == DELETED_FIELD {
        apply_delete_resolution(db, merge, c, &link, &audit)?;
        return Ok(true);
    }
    if c.field == super::routing::ROUTE_FIELD {
        let done = super::routing::apply_route_resolution(db, merge, rules, c, &link)?;
        db.append_audit(&audit(done))?;
        return Ok(true);
    }
    let take = match &c.resolution {
        Some(Resolution::Portal) => Take::Portal,
        Some(Resolution::Linear) => Take::Linear,
        Some(Resolution::Base) => Take::Base,
        Some(Resolution::Value(v)) => Take::Value(v.clone()),
        Some(Resolution::Agreed | Resolution::Superseded) | None => return Ok(true),
    };
    let Some((portal, linear)) = link_records(db, &link)? else {
        return Ok(true);
    };
    let Some(f) = merge.mapping.field(&c.field) else {
        db.append_audit(&audit(format!(
            "could not apply: field '{}' is not in the active mapping",
            c.field
        )))?;
        return Ok(true);
    };
    // The sides' values now, as the merge compares them.
    let current = |side: Side, r: &crate::domain::Record, shown: &FieldValue| {
        codec::read(&merge.mapping, f, side, r).unwrap_or_else(|_| shown.clone())
    };
    let portal_now = current(Side::Portal, &portal.record, &c.portal);
    let linear_now = current(Side::Linear, &linear.record, &c.linear);
    let chosen = match take {
        Take::Portal => Some((Side::Portal, &c.portal, &portal_now)),
        Take::Linear => Some((Side::Linear, &c.linear, &linear_now)),
        Take::Base | Take::Value(_) => None,
    };
    if let Some((side, seen, now_value)) = chosen
        && seen != now_value
        && c.kind != crate::domain::ConflictReason::Overwritten
    {
        let note = format!(
            "{} value changed from {} to {} after the decision; decide again",
            if side == Side::Portal {
                "the portal's"
            } else {
                "Linear's"
            },
            seen.display_short(60),
            now_value.display_short(60)
        );
        if db.reopen_conflict(c.id, &portal_now, &linear_now, &note)? {
            db.append_audit(&audit(format!("not applied: {note}")))?;
            db.log_event(
                Level::Warn,
                "engine",
                &format!("conflict {} asks again: {note}", c.id),
            )?;
            return Ok(false);
        }
        db.append_audit(&audit(format!(
            "not applied: {note} (another conflict on the field is open)"
        )))?;
        return Ok(true);
    }
    let draft = ConflictDraft {
        field: c.field.clone(),
        base: c.base.clone(),
        // An overwritten edit is only in the conflict: take it from there.
        portal: if c.kind_side == Some(Side::Portal)
            && c.kind == crate::domain::ConflictReason::Overwritten
        {
            c.portal.clone()
        } else {
            portal_now
        },
        linear: if c.kind_side == Some(Side::Linear)
            && c.kind == crate::domain::ConflictReason::Overwritten
        {
            c.linear.clone()
        } else {
            linear_now
        },
        portal_changed_at: None,
        linear_changed_at: None,
        reason: c.kind,
        side: c.kind_side,
        note: None,
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
            db.clear_refusals(link.id)?;
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
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, Window};

    #[test]
    fn an_invalid_active_mapping_is_refused_and_the_running_one_stays_active() {
        let mut store = Store::open_in_memory().unwrap();
        let default = Mapping::default_canny_linear().to_toml();
        store
            .write(|db| db.add_mapping_version(&default, Actor::BuiltIn, "default"))
            .unwrap();
        let v2 = store
            .write(|db| {
                db.add_mapping_version(
                    "version = 2\n[fields.title]\nportal = ",
                    Actor::Operator,
                    "typo",
                )
            })
            .unwrap();
        let (v, _) = store
            .write(|db| load_active_mapping(db, Some(1)))
            .unwrap()
            .unwrap();
        assert_eq!(v, 1);
        let db = store.db();
        assert_eq!(db.active_mapping().unwrap().unwrap().version, 1);
        let refused = db.mapping_version(v2).unwrap().unwrap();
        assert!(!refused.active);
        assert!(refused.refused_reason.unwrap().contains("line 3"));
        let alert = db.refused_mapping().unwrap().unwrap();
        assert_eq!((alert.version, alert.in_force), (v2, Some(1)));
        let audit = db.audit(Window::first(5)).unwrap();
        assert_eq!(audit[0].action, AuditAction::RefuseMapping);
        assert_eq!(audit[0].actor, Actor::Engine);
    }

    #[test]
    fn with_nothing_loadable_the_default_is_stored_and_runs() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .write(|db| db.add_mapping_version("not toml =", Actor::Operator, "typo"))
            .unwrap();
        let (v, m) = store
            .write(|db| load_active_mapping(db, None))
            .unwrap()
            .unwrap();
        assert_eq!(v, 2);
        assert_eq!(m.version, 2, "the stored default carries its number");
        let active = store.db().active_mapping().unwrap().unwrap();
        assert_eq!((active.version, active.created_by), (2, Actor::BuiltIn));
        assert!(store.db().refused_mapping().unwrap().is_some());
    }
}
