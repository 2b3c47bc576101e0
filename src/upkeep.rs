//! What the daemon knows about its own store beyond what the store records,
//! and the periodic work that keeps it honest: a quick integrity check
//! (refusing webhooks once the store is damaged) and pruning processed
//! inbox deliveries after their retention.
//!
//! [`StoreWatch`] is shared by the webhook server (which reports every write
//! failure to it and refuses deliveries a damaged store cannot process) and
//! `/healthz`, which lays it over the stored summary so the daemon's own
//! answer never lags behind what its writer just experienced.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::health::locked_reason;
use crate::store::{IntegrityCheck, OpenMode, StoreError, StoreLocation, Summary, Writer, now_ms};

/// Processed deliveries pruned per transaction.
const PRUNE_BATCH: usize = 5_000;
/// How often pruning runs.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct WatchState {
    integrity: Option<IntegrityCheck>,
    locked: bool,
    failing: Option<String>,
}

/// The daemon's live view of its store.
#[derive(Debug, Default)]
pub struct StoreWatch {
    state: Mutex<WatchState>,
}

impl StoreWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remember the latest integrity check.
    pub fn record_integrity(&self, check: IntegrityCheck) {
        self.lock().integrity = Some(check);
    }

    /// The latest integrity check, when it failed: webhooks are refused.
    pub fn damaged(&self) -> Option<IntegrityCheck> {
        self.lock().integrity.clone().filter(|c| !c.ok)
    }

    /// A write failed; remember why (a lock or damage is reported by
    /// health until a write succeeds again).
    pub fn write_failed(&self, e: &StoreError) {
        let mut s = self.lock();
        match e {
            StoreError::Locked => s.locked = true,
            StoreError::WriterClosed => {}
            other => s.failing = Some(other.to_string()),
        }
    }

    /// A write went through: the store accepts writes again.
    pub fn write_ok(&self) {
        let mut s = self.lock();
        s.locked = false;
        s.failing = None;
    }

    /// Lay the live facts over a summary read from the store.
    pub fn overlay(&self, summary: &mut Summary) {
        let s = self.lock();
        if let Some(c) = &s.integrity
            && summary
                .integrity
                .as_ref()
                .is_none_or(|stored| stored.at_ms < c.at_ms)
        {
            summary.integrity = Some(c.clone());
        }
        if s.locked {
            summary.store_locked = Some(locked_reason());
        } else if let Some(why) = &s.failing {
            summary.store_locked = Some(format!("the store refuses writes: {why}"));
        }
    }
}

/// Settings of the upkeep task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpkeepOptions {
    /// Processed deliveries older than this are deleted.
    pub inbox_retention: Duration,
    /// Time between integrity checks.
    pub integrity_every: Duration,
}

/// Run the periodic check on its own read connection (WAL readers never
/// block the writer).
pub async fn check_integrity(store: StoreLocation) -> IntegrityCheck {
    let at_ms = now_ms();
    tokio::task::spawn_blocking(move || match store.open(OpenMode::ReadOnly) {
        Ok(store) => store.quick_check(),
        Err(e) => IntegrityCheck {
            ok: matches!(e, StoreError::Locked),
            at_ms,
            detail: e.to_string(),
            recover: None,
        },
    })
    .await
    .unwrap_or_else(|e| IntegrityCheck {
        ok: true,
        at_ms,
        detail: format!("check did not run: {e}"),
        recover: None,
    })
}

async fn prune(writer: &Writer, retention: Duration) {
    let cutoff = now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    loop {
        match writer
            .run(move |db| db.prune_deliveries(cutoff, PRUNE_BATCH))
            .await
        {
            Ok(n) if n == PRUNE_BATCH => continue,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "pruning processed webhook deliveries failed");
                break;
            }
        }
    }
}

/// Prune and check until `shutdown` turns true.
pub async fn run(
    writer: Writer,
    store: StoreLocation,
    watch: std::sync::Arc<StoreWatch>,
    opts: UpkeepOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let start = tokio::time::Instant::now();
    let mut next_check = start + opts.integrity_every;
    let mut next_prune = start;
    loop {
        let now = tokio::time::Instant::now();
        if now >= next_prune {
            prune(&writer, opts.inbox_retention).await;
            next_prune = now + PRUNE_EVERY;
        }
        if now >= next_check {
            let check = check_integrity(store.clone()).await;
            if !check.ok {
                tracing::error!(
                    detail = %check.detail,
                    "the store failed its integrity check; webhooks are refused with 503 until it is recovered"
                );
            }
            let record = check.clone();
            let _ = writer.run(move |db| db.record_integrity(&record)).await;
            watch.record_integrity(check);
            next_check = now + opts.integrity_every;
        }
        let wake = next_check.min(next_prune);
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
