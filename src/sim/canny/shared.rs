//! State shared by the simulator's HTTP handlers, its webhook sender and the
//! in-process API. Every lock here is a std Mutex held only for a few
//! statements and never across an `.await`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;

use super::args::Args;
use super::dispatch::{dispatch, dispatch_v2};
use super::model::State;
use super::ops::{ApiError, Call, Event};
use crate::sim::faults::{ApiFaults, Dice, WebhookFaults};
use crate::sim::journal::{Journal, JournalKind, JournalValue};

/// Request and delivery counters, read by tests and the demo.
#[derive(Debug, Default)]
pub struct Counters {
    /// Every HTTP request that reached an API route.
    pub requests: AtomicU64,
    /// Requests answered 429 by the rate limiter or an injected fault.
    pub rate_limited: AtomicU64,
    /// Requests answered with an injected 5xx or timeout.
    pub faults: AtomicU64,
    /// Answers replaced by a changed shape (the `drift` fault).
    pub drifted: AtomicU64,
    /// Webhooks the receiver acknowledged with 2xx.
    pub webhooks_delivered: AtomicU64,
    /// Nonces of the webhooks acknowledged with 2xx.
    pub acknowledged: crate::sim::acks::Acknowledged,
    /// Webhooks that failed to send or got a non-2xx.
    pub webhooks_failed: AtomicU64,
    /// Webhooks dropped by the drop fault.
    pub webhooks_dropped: AtomicU64,
    /// Webhooks sent twice by the duplicate fault.
    pub webhooks_duplicated: AtomicU64,
    /// How far the webhook sender has got.
    pub outbox: crate::sim::outbox::OutboxProgress,
    /// Applied writes whose answer was lost (reset or withheld).
    pub lost: AtomicU64,
    /// Requests per endpoint.
    pub by_endpoint: Mutex<BTreeMap<String, u64>>,
}

/// A fixed one-second window per API key, as Canny's per-second limit.
#[derive(Debug)]
pub struct Limiter {
    /// Allowed requests per second; 0 means unlimited.
    pub per_second: u32,
    window_start: Instant,
    used: u32,
}

impl Limiter {
    /// A limiter allowing `per_second` requests (0 = unlimited).
    pub fn new(per_second: u32) -> Self {
        Limiter {
            per_second,
            window_start: Instant::now(),
            used: 0,
        }
    }

    /// Count a request; `Some(wait)` when it is over the limit.
    pub fn check(&mut self, now: Instant) -> Option<Duration> {
        if self.per_second == 0 {
            return None;
        }
        let window = Duration::from_secs(1);
        if now.duration_since(self.window_start) >= window {
            self.window_start = now;
            self.used = 0;
        }
        if self.used < self.per_second {
            self.used += 1;
            None
        } else {
            Some(window.saturating_sub(now.duration_since(self.window_start)))
        }
    }
}

/// Everything the simulator's tasks share.
pub struct Shared {
    /// The company's secret API key (also the webhook signing key).
    pub api_key: String,
    /// The data.
    pub state: Mutex<State>,
    /// API faults, changeable at runtime.
    pub faults: Mutex<ApiFaults>,
    /// Webhook faults, changeable at runtime.
    pub webhook_faults: Mutex<WebhookFaults>,
    /// Where webhooks go; `None` disables delivery.
    pub webhook_url: Mutex<Option<String>>,
    /// Seeded die for API faults.
    pub dice: Dice,
    /// Seeded die for webhook faults.
    pub webhook_dice: Dice,
    /// Requests-per-second limiter.
    pub limiter: Mutex<Limiter>,
    /// Counters.
    pub counters: Counters,
    /// How long a request hit by the timeout fault hangs.
    pub timeout_hang: Duration,
    /// Queue to the webhook sender.
    pub events: mpsc::UnboundedSender<Event>,
    /// Field changes, comments and API reads, in order (see
    /// [`crate::sim::journal`]).
    pub journal: Journal,
    /// Endpoints whose next answer is lost after the work was done (the
    /// request is executed, then the client waits until it gives up).
    pub lose_next: Mutex<Vec<String>>,
}

/// The journaled fields of one post.
fn post_fields(state: &State, id: &str) -> Option<[(&'static str, JournalValue); 4]> {
    let p = state.posts.get(id)?;
    let tags = p
        .tag_ids
        .iter()
        .filter_map(|t| state.tags.get(t))
        .map(|t| t.name.to_lowercase())
        .collect();
    Some([
        ("title", JournalValue::Text(p.title.clone())),
        ("details", JournalValue::Text(p.details.clone())),
        ("status", JournalValue::Text(p.status.clone())),
        ("tags", JournalValue::Set(tags)),
    ])
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret even in the sandbox: never print it.
        f.debug_struct("Shared")
            .field("api_key", &"[redacted]")
            .field("webhook_url", &self.webhook_url())
            .field("timeout_hang", &self.timeout_hang)
            .finish_non_exhaustive()
    }
}

/// Lock a mutex, recovering the data if a panicking holder poisoned it (the
/// simulator's state stays usable for the rest of a test run).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Current webhook faults.
    pub fn webhook_faults(&self) -> WebhookFaults {
        lock(&self.webhook_faults).clone()
    }

    /// Current webhook URL.
    pub fn webhook_url(&self) -> Option<String> {
        lock(&self.webhook_url).clone()
    }

    /// Run an endpoint against the state and queue the webhooks it fires,
    /// as a scripted person would. `None` when the endpoint does not exist.
    pub fn apply(&self, endpoint: &str, args: &Args) -> Option<Result<Value, ApiError>> {
        self.apply_as(1, endpoint, args, false)
    }

    /// [`Shared::apply`] for API version 1 or 2, as a request through the
    /// HTTP API (journaled as roundtrip's).
    pub fn apply_version(
        &self,
        version: u8,
        endpoint: &str,
        args: &Args,
    ) -> Option<Result<Value, ApiError>> {
        self.apply_as(version, endpoint, args, true)
    }

    fn apply_as(
        &self,
        version: u8,
        endpoint: &str,
        args: &Args,
        by_api: bool,
    ) -> Option<Result<Value, ApiError>> {
        let call = Call {
            args,
            now: Utc::now(),
        };
        let post_id = args.str("postID").or_else(|| {
            (endpoint == "posts/retrieve")
                .then(|| args.str("id"))
                .flatten()
        });
        let result = {
            let mut state = lock(&self.state);
            let before = post_id.as_deref().and_then(|id| post_fields(&state, id));
            let result = if version == 2 {
                dispatch_v2(&mut state, endpoint, &call)?
            } else {
                dispatch(&mut state, endpoint, &call)?
            };
            if let Some(id) = post_id.as_deref() {
                self.journal_post(&state, id, endpoint, before, &result, by_api);
            }
            result
        };
        Some(result.map(|outcome| {
            self.emit(outcome.events);
            outcome.reply
        }))
    }

    fn journal_post(
        &self,
        state: &State,
        id: &str,
        endpoint: &str,
        before: Option<[(&'static str, JournalValue); 4]>,
        result: &Result<super::ops::Outcome, ApiError>,
        by_api: bool,
    ) {
        let Ok(outcome) = result else { return };
        if endpoint == "posts/retrieve" {
            self.journal.push(id, JournalKind::Read, by_api);
            return;
        }
        if endpoint == "comments/create"
            && let Some(cid) = outcome.reply.get("id").and_then(Value::as_str)
            && let Some(c) = state.comments.get(cid)
        {
            let kind = JournalKind::Comment {
                id: cid.to_string(),
                body: c.value.clone(),
            };
            self.journal.push(id, kind, by_api);
        }
        let (Some(before), Some(after)) = (before, post_fields(state, id)) else {
            return;
        };
        for ((field, b), (_, a)) in before.into_iter().zip(after) {
            if b != a {
                let kind = JournalKind::Field {
                    field,
                    before: b,
                    after: a,
                };
                self.journal.push(id, kind, by_api);
            }
        }
    }

    /// Queue webhooks for delivery.
    pub fn emit(&self, events: Vec<Event>) {
        for e in events {
            self.counters.outbox.queued();
            // A closed channel means the simulator is shutting down.
            let _ = self.events.send(e);
        }
    }

    /// Count a request against its endpoint.
    pub fn count(&self, endpoint: &str) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        *lock(&self.counters.by_endpoint)
            .entry(endpoint.to_string())
            .or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_then_refuses_then_resets() {
        let mut l = Limiter::new(2);
        let t = Instant::now();
        assert!(l.check(t).is_none());
        assert!(l.check(t).is_none());
        let wait = l.check(t).unwrap();
        assert!(wait <= Duration::from_secs(1));
        assert!(l.check(t + Duration::from_secs(1)).is_none());
        assert!(Limiter::new(0).check(t).is_none());
    }
}
