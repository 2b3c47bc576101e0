//! How far a simulator's webhook sender has got: events queued against
//! events it has finished with (sent, failed or dropped). Tests wait for the
//! two to meet instead of sleeping to show that nothing more is coming.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts kept beside a simulator's webhook channel.
#[derive(Debug, Default)]
pub struct OutboxProgress {
    queued: AtomicU64,
    done: AtomicU64,
}

impl OutboxProgress {
    /// An event went into the sender's channel.
    pub fn queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// The sender finished with one event, whatever became of it.
    pub fn done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Events whose webhooks are not yet tried: zero means every change so
    /// far has had its deliveries tried.
    pub fn pending(&self) -> u64 {
        self.queued
            .load(Ordering::Relaxed)
            .saturating_sub(self.done.load(Ordering::Relaxed))
    }
}
