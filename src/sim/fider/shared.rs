//! State shared by the simulator's HTTP handlers, its webhook sender and the
//! in-process API. Every lock is a std Mutex held only for a few statements
//! and never across an `.await`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use super::model::State;
use super::ops::Event;
use super::webhooks::DeliveryRecord;
use crate::sim::faults::{ApiFaults, Dice, WebhookFaults};

/// Request and delivery counters, read by tests and the demo.
#[derive(Debug, Default)]
pub struct Counters {
    /// Every HTTP request.
    pub requests: AtomicU64,
    /// Requests answered 429 (an injected proxy limit).
    pub rate_limited: AtomicU64,
    /// Injected 5xx and timeouts.
    pub faults: AtomicU64,
    /// Answers replaced by a changed shape.
    pub drifted: AtomicU64,
    /// Applied writes whose answer was lost.
    pub lost: AtomicU64,
    /// Webhook deliveries the receiver took (status below 400).
    pub webhooks_delivered: AtomicU64,
    /// Deliveries that failed (and turned their webhook off).
    pub webhooks_failed: AtomicU64,
    /// Deliveries the drop fault swallowed.
    pub webhooks_dropped: AtomicU64,
    /// How far the webhook sender has got.
    pub outbox: crate::sim::outbox::OutboxProgress,
    /// Requests per route ("GET /posts", "PUT /posts/:number/status").
    pub by_route: Mutex<BTreeMap<String, u64>>,
}

/// Everything the simulator's tasks share.
pub struct Shared {
    /// The data.
    pub state: Mutex<State>,
    /// API faults, changeable at runtime.
    pub faults: Mutex<ApiFaults>,
    /// Webhook faults, changeable at runtime.
    pub webhook_faults: Mutex<WebhookFaults>,
    /// Seeded die for API faults.
    pub dice: Dice,
    /// Seeded die for webhook faults.
    pub webhook_dice: Dice,
    /// Counters.
    pub counters: Counters,
    /// How long a request hit by the timeout fault (or a withheld answer)
    /// hangs.
    pub timeout_hang: Duration,
    /// Webhook request timeout (Fider: 30 s).
    pub webhook_timeout: Duration,
    /// `ALLOW_PRIVATE_NETWORK_TARGETS`.
    pub allow_private_targets: bool,
    /// `WEBHOOK_DISABLE_ON_FAILURE`.
    pub disable_on_failure: bool,
    /// Queue to the webhook sender.
    pub events: mpsc::UnboundedSender<Event>,
    /// Routes whose next answer is lost after the work was done.
    pub lose_next: Mutex<Vec<String>>,
    /// Every webhook delivery attempt.
    pub deliveries: Mutex<Vec<DeliveryRecord>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("timeout_hang", &self.timeout_hang)
            .finish_non_exhaustive()
    }
}

/// Lock a mutex, recovering the data if a panicking holder poisoned it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Queue webhooks for delivery.
    pub fn emit(&self, events: Vec<Event>) {
        for e in events {
            self.counters.outbox.queued();
            // A closed channel means the simulator is shutting down.
            let _ = self.events.send(e);
        }
    }

    /// Count a request against its route.
    pub fn count(&self, route: &str) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        *lock(&self.counters.by_route)
            .entry(route.to_string())
            .or_insert(0) += 1;
    }
}
