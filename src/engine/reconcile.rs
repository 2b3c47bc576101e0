//! Reconcile: list both sides, store what changed, merge it, and repair what
//! webhooks missed — including records deleted while roundtrip was down.
//! Reconcile runs in the backfill lane, so it only uses quota above the
//! live-edit reserve. Every change that reached roundtrip only through
//! reconcile is counted: repairs mean webhooks are missing or broken.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Engine, EngineError, records};
use crate::connector::WebhookWatch;
use crate::domain::{ChangeKind, Record, Side};
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
        // Listings are stored before they are acted on: a pass that fails
        // or dies in between leaves changes the next listing finds
        // unchanged. The mark stays until a pass finishes.
        let begun = now_ms();
        let unfinished = self
            .inner
            .writer
            .run(move |db| {
                let prev = db.meta_i64(meta_keys::RECONCILE_UNFINISHED)?;
                if prev.is_none() {
                    db.set_meta(meta_keys::RECONCILE_UNFINISHED, &begun.to_string())?;
                }
                Ok(prev)
            })
            .await?;
        let mut touched: Vec<(Side, Vec<String>)> = Vec::new();
        for side in [Side::Portal, Side::Linear] {
            let mut ids = self.reconcile_side(side, first_run, &mut report).await?;
            if let Some(since) = unfinished {
                let stored = self
                    .inner
                    .writer
                    .run(move |db| db.records_fresh_since(side, since))
                    .await?;
                let listed: HashSet<String> = ids.iter().cloned().collect();
                ids.extend(stored.into_iter().filter(|id| !listed.contains(id)));
            }
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
                db.clear_meta(meta_keys::RECONCILE_UNFINISHED)?;
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
            match self.watch_of(side) {
                None => {
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
                }
                Some(watch) => {
                    // Only changes a webhook announces are repairs: the
                    // others reach roundtrip by reconcile alone.
                    for (id, outcome, missed) in self
                        .store_watched(side, fresh, watch, first_run, started)
                        .await?
                    {
                        if matches!(
                            outcome,
                            Some(UpsertOutcome::Changed | UpsertOutcome::Inserted)
                        ) {
                            touched.push(id);
                        }
                        report.repaired += usize::from(missed);
                    }
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
                        report.repaired += usize::from(self.deletion_missed(side, &id).await?);
                        report.jobs += self.apply_deleted(side, id).await?.jobs;
                    }
                    Err(e) if e.class == crate::domain::ErrorClass::NotFound => {
                        report.deleted += 1;
                        report.repaired += usize::from(self.deletion_missed(side, &id).await?);
                        report.jobs += self.apply_deleted(side, id).await?.jobs;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(touched)
    }
}

/// A change in words, for the silent-webhook warning ("post #12 'Dark
/// mode' got a comment").
fn describe(kind: ChangeKind, r: &Record) -> String {
    let name = match &r.identifier {
        Some(i) => format!("post {i} '{}'", r.title),
        None => format!("post '{}'", r.title),
    };
    match kind {
        ChangeKind::Created => format!("{name} was created"),
        ChangeKind::StatusChanged => format!("{name} became {}", r.status),
        ChangeKind::Commented => format!("{name} got a comment"),
        ChangeKind::Edited => format!("{name} was edited"),
        ChangeKind::Deleted => format!("{name} was deleted"),
    }
}

impl Engine {
    /// The watch over `side`'s webhooks, if its connector has one.
    fn watch_of(&self, side: Side) -> Option<&WebhookWatch> {
        self.inner.watch.as_ref().filter(|_| side == Side::Portal)
    }

    /// Store listed records of a watched side in one transaction, noting
    /// each change one of its webhooks should have announced (not on the
    /// first pass, where everything is new). Per record: its id, the
    /// upsert's outcome and whether a webhook missed it.
    async fn store_watched(
        &self,
        side: Side,
        records: Vec<Record>,
        watch: &WebhookWatch,
        first_run: bool,
        started_ms: i64,
    ) -> Result<Vec<(String, Option<UpsertOutcome>, bool)>, EngineError> {
        let watch = watch.clone();
        Ok(self
            .inner
            .writer
            .run(move |db| {
                let now = now_ms();
                let mut out = Vec::with_capacity(records.len());
                for r in &records {
                    let stored = records::store_record_with_kinds(db, side, r, started_ms)?;
                    let (outcome, kinds) = match stored {
                        Some((o, k)) => (Some(o), k),
                        None => (None, Vec::new()),
                    };
                    let mut missed = false;
                    for kind in kinds.into_iter().filter(|_| !first_run) {
                        if let Some(event) = watch.event_for(kind) {
                            db.note_webhook_missed(event, &describe(kind, r), now)?;
                            missed = true;
                        }
                    }
                    out.push((r.remote_id.clone(), outcome, missed));
                }
                Ok(out)
            })
            .await?)
    }

    /// A record reconcile confirmed deleted: note it when a watched webhook
    /// announces deletions. Returns whether one missed it.
    async fn deletion_missed(&self, side: Side, id: &str) -> Result<bool, EngineError> {
        let Some(event) = self
            .watch_of(side)
            .and_then(|w| w.event_for(ChangeKind::Deleted))
        else {
            return Ok(false);
        };
        let id = id.to_string();
        Ok(self
            .inner
            .writer
            .run(move |db| {
                let Some(stored) = db.record(side, &id)? else {
                    return Ok(false);
                };
                db.note_webhook_missed(
                    event,
                    &describe(ChangeKind::Deleted, &stored.record),
                    now_ms(),
                )?;
                Ok(true)
            })
            .await?)
    }
}
