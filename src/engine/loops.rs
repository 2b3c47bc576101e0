//! The engine's long-running loops: the inbox consumer, the reconcile timer
//! and the one-second tick (heartbeat, operator intents, settled links).

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::watch;

use super::{Engine, lock};
use crate::domain::{ErrorClass, Side};
use crate::store::pg::Singleton;
use crate::store::{InboxItem, Lane, Level, meta_keys, now_ms};

/// Deliveries handled per round.
/// Ticks between checks of open changelog groups (a cycle or project
/// completing is not urgent; each check is one small Linear read per group).
const CHANGELOG_TICKS: u64 = 10;

const INBOX_BATCH: usize = 100;

/// How often a replica that does not lead reconcile checks whether it
/// should (the lease itself is renewed by the cluster's own loop).
const FOLLOWER_WAIT: Duration = Duration::from_secs(1);

async fn sleep_or_stop(d: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}

impl Engine {
    pub(crate) async fn inbox_loop(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.process_inbox_once().await {
                Ok(0) => {
                    backoff = Duration::from_millis(200);
                    tokio::select! {
                        _ = self.inner.inbox_wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Ok(_) => backoff = Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!(error = %e, "inbox round stopped; will retry");
                    sleep_or_stop(backoff, &mut shutdown).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Handle the oldest unprocessed deliveries: re-read each named record
    /// once (webhooks are hints), merge, and mark processed every delivery
    /// about that record that arrived before the read — so a burst of any
    /// size for one record costs one read. Returns how many deliveries were
    /// processed; stops at the first record that cannot be read right now
    /// (its deliveries stay for the next round).
    pub async fn process_inbox_once(&self) -> Result<usize, super::EngineError> {
        let items: Vec<InboxItem> = self
            .inner
            .writer
            .run(|db| db.pending_deliveries(INBOX_BATCH))
            .await?;
        let horizon = items.iter().map(|i| i.id).max().unwrap_or(0);
        let mut done: Vec<InboxItem> = Vec::new();
        let mut seen: HashSet<(Side, String)> = HashSet::new();
        let mut failure = None;
        for item in &items {
            self.check_update_evidence(item).await?;
            let Some(id) = item.record_id.clone() else {
                done.push(item.clone());
                continue;
            };
            if !seen.insert((item.source, id.clone())) {
                continue;
            }
            if self.connector_paused(item.source).await {
                break;
            }
            let conn = self.inner.connectors.side(item.source).clone();
            let started = now_ms();
            let read = self.call(item.source, Lane::Live, || conn.get(&id)).await;
            match read {
                Ok(Some(record)) => {
                    self.apply_read(item.source, record, started, Lane::Live)
                        .await?;
                }
                Ok(None) => {
                    self.apply_deleted(item.source, id).await?;
                }
                Err(e) if e.class == ErrorClass::NotFound => {
                    self.apply_deleted(item.source, id).await?;
                }
                Err(e) if e.class == ErrorClass::Validation => {
                    let msg = format!(
                        "delivery {} ({}) names a record that cannot be read: {e}",
                        item.delivery_id, item.event
                    );
                    let _ = self
                        .inner
                        .writer
                        .run(move |db| db.log_event(Level::Warn, "inbox", &msg))
                        .await;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            done.push(item.clone());
        }
        let mut n = 0;
        if !done.is_empty() {
            // Every stored delivery of a watched webhook proves it is on.
            let delivered: Vec<(String, i64)> = match &self.inner.watch {
                Some(w) => items
                    .iter()
                    .filter(|i| i.source == Side::Portal && w.watches(&i.event))
                    .map(|i| (i.event.clone(), i.received_at))
                    .collect(),
                None => Vec::new(),
            };
            n = self
                .inner
                .writer
                .run(move |db| {
                    for (event, at) in &delivered {
                        db.note_webhook_delivery(event, *at)?;
                    }
                    let mut n = 0;
                    for item in &done {
                        n += db.mark_record_processed(item, horizon)?;
                    }
                    Ok(n)
                })
                .await?;
        }
        match failure {
            Some(e) if n == 0 => Err(e.into()),
            _ => Ok(n),
        }
    }

    /// A webhook reporting an update that our own write made (same record,
    /// same update time as the write's receipt) says what the write really
    /// replaced. A value other than the one the write was made against is
    /// a person's edit that landed between roundtrip's read and its write:
    /// it is recovered into a conflict instead of being lost.
    async fn check_update_evidence(&self, item: &InboxItem) -> Result<(), super::EngineError> {
        if item.removed || item.record_id.is_none() {
            return Ok(());
        }
        let Some(body) = item.evidence.as_deref() else {
            return Ok(());
        };
        let conn = self.inner.connectors.side(item.source).clone();
        let Some(evidence) = conn.update_evidence(body).await else {
            return Ok(());
        };
        let side = item.source;
        let recovered = self
            .in_store(move |db, merge, _, _, _| {
                super::overwrite::recover_overwritten(db, merge, side, &evidence)
            })
            .await?;
        if recovered.conflicts > 0 {
            tracing::warn!(side = %side, "a write replaced an edit made while it was on its way; conflict opened");
        }
        Ok(())
    }

    async fn connector_paused(&self, side: Side) -> bool {
        let key = meta_keys::paused(side);
        self.inner
            .writer
            .run(move |db| db.meta(key))
            .await
            .ok()
            .flatten()
            .is_some()
    }

    pub(crate) async fn reconcile_loop(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            if !self.leads(Singleton::Reconcile) {
                // Another replica reconciles; look again when this one
                // takes a lease, or when the other's could have lapsed.
                let promoted = async {
                    match &self.inner.scheduler.cluster {
                        Some(c) => c.promoted_within(FOLLOWER_WAIT).await,
                        None => tokio::time::sleep(FOLLOWER_WAIT).await,
                    }
                };
                tokio::select! {
                    _ = promoted => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            match self.reconcile_once().await {
                Ok(report) => {
                    tracing::info!(?report, "reconcile finished");
                    let _ = self
                        .inner
                        .writer
                        .run(|db| {
                            db.clear_meta(meta_keys::RECONCILE_FAILURES)?;
                            db.clear_meta(meta_keys::RECONCILE_ERROR)
                        })
                        .await;
                }
                Err(e) => {
                    let why = e.to_string();
                    let msg = format!("reconcile failed: {why}");
                    tracing::warn!("{msg}");
                    // The streak is what health judges: one failure is
                    // degraded, a run of them is down.
                    let _ = self
                        .inner
                        .writer
                        .run(move |db| {
                            db.bump_meta(meta_keys::RECONCILE_FAILURES, 1)?;
                            db.set_meta(meta_keys::RECONCILE_ERROR, &why)?;
                            db.log_event(Level::Warn, "reconcile", &msg)
                        })
                        .await;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.inner.opts.reconcile_interval) => {}
                _ = self.inner.reconcile_wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    pub(crate) async fn tick_loop(self, mut shutdown: watch::Receiver<bool>) {
        let mut ticks: u64 = 0;
        loop {
            if *shutdown.borrow() {
                break;
            }
            self.heartbeat().await;
            let settled: Vec<i64> = std::mem::take(&mut *lock(&self.inner.scheduler.settled_links));
            let mut unique = settled;
            unique.sort_unstable();
            unique.dedup();
            for link in unique {
                if let Err(e) = self.remerge(link).await {
                    tracing::warn!(link, error = %e, "re-merge failed");
                }
            }
            self.reload_mapping().await;
            // Operator intents, probes, changelogs and pruning: once per
            // cluster, by the upkeep leader.
            let upkeep = self.leads(Singleton::Upkeep);
            if upkeep && let Err(e) = self.apply_resolutions().await {
                tracing::warn!(error = %e, "applying conflict resolutions failed");
            }
            if upkeep && ticks.is_multiple_of(30) {
                self.probe_paused().await;
            }
            if upkeep
                && ticks.is_multiple_of(CHANGELOG_TICKS)
                && let Err(e) = self.check_changelogs().await
            {
                tracing::warn!(error = %e, "checking changelog groups failed");
            }
            if upkeep && ticks.is_multiple_of(600) {
                let cutoff = now_ms() - 24 * 3_600_000;
                let _ = self
                    .inner
                    .writer
                    .run(move |db| {
                        db.prune_events(50_000)?;
                        db.prune_write_receipts(cutoff)?;
                        db.prune_quota_samples(cutoff)
                    })
                    .await;
            }
            ticks += 1;
            tokio::select! {
                _ = tokio::time::sleep(self.inner.opts.tick) => {}
                _ = self.inner.scheduler.link_done.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        self.heartbeat().await;
    }

    async fn heartbeat(&self) {
        let written = self
            .inner
            .writer
            .run(|db| {
                db.set_meta(meta_keys::HEARTBEAT, &now_ms().to_string())?;
                match db.oldest_unsent_job()? {
                    Some(t) => db.set_meta(meta_keys::OLDEST_UNSYNCED, &t.to_string()),
                    None => db.clear_meta(meta_keys::OLDEST_UNSYNCED),
                }
            })
            .await;
        if let Err(e) = written {
            tracing::error!(error = %e, "cannot write the engine heartbeat");
        }
    }

    /// Try a cheap read on a paused connector; resume it when it answers.
    async fn probe_paused(&self) {
        for side in [Side::Linear, Side::Portal] {
            if !self.connector_paused(side).await {
                continue;
            }
            let conn = self.inner.connectors.side(side).clone();
            let probe = conn.list_changed(Some(chrono::Utc::now()), None).await;
            if probe.is_ok() {
                self.inner.scheduler.resume(side).await;
            }
        }
    }
}
