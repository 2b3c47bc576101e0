//! Reconcile: list both sides, store what changed, merge it, and repair what
//! webhooks missed — including records deleted while roundtrip was down.
//! Reconcile runs in the backfill lane, so it only uses quota above the
//! live-edit reserve. Every change that reached roundtrip only through
//! reconcile is counted: repairs mean webhooks are missing or broken.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Engine, EngineError};
use crate::domain::Side;
use crate::store::{Lane, Level, UpsertOutcome, meta_keys, now_ms};

/// What one reconcile pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Records listed per side (portal, Linear).
    pub listed: [usize; 2],
    /// Records whose stored content changed: changes webhooks did not bring.
    pub repaired: usize,
    /// Records confirmed deleted because they vanished from a listing.
    pub deleted: usize,
    /// Jobs planned.
    pub jobs: usize,
    /// Existing links adopted (first pass only).
    pub adopted: usize,
}

impl Engine {
    /// One full pass: list and store both sides first, then merge every
    /// record that changed — so a merge always sees both sides' latest
    /// state and never writes over a change it has not read yet.
    pub async fn reconcile_once(&self) -> Result<ReconcileReport, EngineError> {
        let mut report = ReconcileReport::default();
        let first_run = self
            .inner
            .writer
            .run(|db| db.meta(meta_keys::LAST_RECONCILE))
            .await?
            .is_none();
        let mut touched: Vec<(Side, Vec<String>)> = Vec::new();
        for side in [Side::Portal, Side::Linear] {
            let ids = self.reconcile_side(side, first_run, &mut report).await?;
            // A full pass read every answer in the expected shape.
            let key = meta_keys::drift(side);
            self.inner.writer.run(move |db| db.clear_meta(key)).await?;
            touched.push((side, ids));
        }
        if first_run {
            // Links made before roundtrip (Canny's own Linear integration,
            // post URLs attached to issues) are adopted before any create
            // rule runs, so they are never re-created.
            let adopted = self.adopt_stored(false).await?;
            report.adopted = adopted.linked;
            report.jobs += adopted.jobs;
        }
        for (side, ids) in touched {
            for chunk in ids.chunks(200) {
                report.jobs += self
                    .act_on(side, chunk.to_vec(), Lane::Backfill)
                    .await?
                    .jobs;
            }
        }
        // Deletes held back by the mass-delete guard, once an operator
        // resumed delete propagation.
        let held = self
            .inner
            .writer
            .run(|db| match db.meta(meta_keys::DELETES_PAUSED)? {
                Some(_) => Ok(Vec::new()),
                None => db.active_links_with_deleted_record(500),
            })
            .await?;
        for (side, id) in held {
            report.jobs += self.apply_held_delete(side, id).await?.jobs;
        }
        let r = report.clone();
        self.inner
            .writer
            .run(move |db| {
                db.set_meta(meta_keys::LAST_RECONCILE, &now_ms().to_string())?;
                db.set_meta(meta_keys::RECONCILE_REPAIRS, &r.repaired.to_string())?;
                if r.repaired > 0 && !first_run {
                    db.log_event(
                        Level::Warn,
                        "reconcile",
                        &format!(
                            "reconcile repaired {} changes that no webhook reported (check webhook URLs and secrets)",
                            r.repaired
                        ),
                    )?;
                }
                Ok(())
            })
            .await?;
        Ok(report)
    }

    /// List one side, store what changed, confirm vanished records; returns
    /// the ids that need a merge or a create decision.
    async fn reconcile_side(
        &self,
        side: Side,
        first_run: bool,
        report: &mut ReconcileReport,
    ) -> Result<Vec<String>, EngineError> {
        let since: Option<DateTime<Utc>> = match side {
            Side::Linear => self
                .inner
                .writer
                .run(|db| db.meta(meta_keys::CURSOR_LINEAR))
                .await?
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
            Side::Portal => None,
        };
        let full = since.is_none();
        let conn = self.inner.connectors.side(side).clone();
        let mut page: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        let mut newest: Option<DateTime<Utc>> = since;
        let mut touched: Vec<String> = Vec::new();
        loop {
            let started = now_ms();
            let listing = self
                .call(side, Lane::Backfill, || {
                    conn.list_changed(since, page.clone())
                })
                .await?;
            let mut fresh = Vec::with_capacity(listing.records.len());
            for record in listing.records {
                if !seen.insert(record.remote_id.clone()) {
                    continue;
                }
                if let Some(t) = record.updated_at {
                    newest = Some(newest.map_or(t, |n| n.max(t)));
                }
                fresh.push(record);
            }
            for (id, outcome) in self.store_reads(side, fresh, started).await? {
                match outcome {
                    // Stale: a write of ours landed after this page was read.
                    None | Some(UpsertOutcome::Unchanged) => {}
                    Some(UpsertOutcome::Changed) => {
                        if !first_run {
                            report.repaired += 1;
                        }
                        touched.push(id);
                    }
                    Some(UpsertOutcome::Inserted) => touched.push(id),
                }
            }
            page = listing.next_page;
            if page.is_none() {
                break;
            }
        }
        report.listed[usize::from(side == Side::Linear)] = seen.len();
        if side == Side::Linear
            && let Some(t) = newest
        {
            // The connector lists with `gte`, so the newest record is seen
            // again next time rather than missed.
            let text = t.to_rfc3339();
            self.inner
                .writer
                .run(move |db| db.set_meta(meta_keys::CURSOR_LINEAR, &text))
                .await?;
        }
        if full {
            // Absence from a listing is only a hint: confirm before deleting.
            let known = self
                .inner
                .writer
                .run(move |db| db.live_record_ids(side))
                .await?;
            for id in known.into_iter().filter(|id| !seen.contains(id)) {
                let started = now_ms();
                match self.call(side, Lane::Backfill, || conn.get(&id)).await {
                    Ok(Some(record)) => {
                        self.store_reads(side, vec![record], started).await?;
                        touched.push(id);
                    }
                    Ok(None) => {
                        report.deleted += 1;
                        report.jobs += self.apply_deleted(side, id).await?.jobs;
                    }
                    Err(e) if e.class == crate::domain::ErrorClass::NotFound => {
                        report.deleted += 1;
                        report.jobs += self.apply_deleted(side, id).await?.jobs;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(touched)
    }
}
