//! Which webhook deliveries the receiver acknowledged with a 2xx, by the
//! id the receiver de-duplicates on (Linear's `Linear-Delivery`, Canny's
//! `canny-nonce`). Not vendor behaviour — an instrument of the sandbox, so a
//! test can prove that every delivery roundtrip acknowledged was stored and
//! processed, even across crashes.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Ids kept (the oldest are dropped beyond this).
pub const ACKS_CAP: usize = 200_000;

/// Acknowledged delivery ids, oldest first; an id acknowledged twice (a
/// duplicate or a retry) appears twice.
#[derive(Debug, Default)]
pub struct Acknowledged(Mutex<VecDeque<String>>);

impl Acknowledged {
    /// Record one acknowledged attempt.
    pub fn push(&self, delivery_id: &str) {
        let mut ids = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ids.len() >= ACKS_CAP {
            ids.pop_front();
        }
        ids.push_back(delivery_id.to_string());
    }

    /// Every id kept, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}
