//! Which webhook deliveries the receiver acknowledged with a 2xx, by the
//! id the receiver de-duplicates on (Linear's `Linear-Delivery`, Canny's
//! `canny-nonce`). Not vendor behaviour — an instrument of the sandbox, so a
//! test can prove that every delivery roundtrip acknowledged was stored and
//! processed, even across crashes.

use super::bounded::Bounded;

/// Ids kept (the oldest are dropped beyond this).
pub const ACKS_CAP: usize = 200_000;

/// Acknowledged delivery ids, oldest first; an id acknowledged twice (a
/// duplicate or a retry) appears twice.
#[derive(Debug)]
pub struct Acknowledged(Bounded<String>);

impl Default for Acknowledged {
    fn default() -> Self {
        Acknowledged(Bounded::new(ACKS_CAP))
    }
}

impl Acknowledged {
    /// Record one acknowledged attempt.
    pub fn push(&self, delivery_id: &str) {
        self.0.push_with(|| delivery_id.to_string());
    }

    /// Every id kept, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.0.snapshot()
    }
}
