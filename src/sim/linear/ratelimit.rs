//! Request and complexity budgets per hour, as a leaky bucket with
//! continuous refill (the algorithm Linear documents, API-NOTES section 3).
//!
//! A bucket holds up to `limit` points and refills at `limit` per hour (or
//! per a shorter window, so the demo can compress an hour into seconds).
//! `remaining` is what is left after the current request; `reset` (epoch ms)
//! is when the bucket will be full again. Headers are honest: refill only
//! ever adds, so a client that sends a request only while `remaining` covers
//! it is never refused.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One budget (requests or complexity points).
#[derive(Debug, Clone)]
pub struct Bucket {
    limit: u64,
    level: f64,
    at: Instant,
    window_secs: f64,
}

/// A bucket's state as reported in headers and `rateLimitStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketView {
    /// Capacity per hour.
    pub limit: u64,
    /// Points left now (rounded down).
    pub remaining: u64,
    /// Epoch milliseconds when the bucket is full again.
    pub reset_ms: u64,
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Bucket {
    /// A full bucket of `limit` points per hour.
    pub fn new(limit: u64) -> Bucket {
        Bucket::with_window(limit, Duration::from_secs(3600))
    }

    /// A full bucket of `limit` points that refills over `window` instead of
    /// an hour: time compression for the demo, same headers and semantics.
    pub fn with_window(limit: u64, window: Duration) -> Bucket {
        Bucket {
            limit,
            level: limit as f64,
            at: Instant::now(),
            window_secs: window.as_secs_f64().max(0.001),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let secs = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        self.level =
            (self.level + secs * self.limit as f64 / self.window_secs).min(self.limit as f64);
    }

    /// Whether `cost` points are available now (after refill).
    pub fn can_take(&mut self, cost: u64) -> bool {
        self.refill();
        self.level + 1e-9 >= cost as f64
    }

    /// Deduct `cost` points (call after `can_take`).
    pub fn take(&mut self, cost: u64) {
        self.refill();
        self.level = (self.level - cost as f64).max(0.0);
    }

    /// Empty the bucket, as a burst of traffic would (demo and tests).
    pub fn exhaust(&mut self) {
        self.refill();
        self.level = 0.0;
    }

    /// Set the points left, clamped to the limit.
    pub fn set_remaining(&mut self, remaining: u64) {
        self.refill();
        self.level = remaining.min(self.limit) as f64;
    }

    /// The bucket as clients see it.
    pub fn view(&mut self) -> BucketView {
        self.refill();
        let missing = self.limit as f64 - self.level;
        let secs = if self.limit == 0 {
            0.0
        } else {
            missing * self.window_secs / self.limit as f64
        };
        BucketView {
            limit: self.limit,
            remaining: self.level.floor() as u64,
            reset_ms: epoch_ms() + Duration::from_secs_f64(secs.max(0.0)).as_millis() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_and_exhaust() {
        let mut b = Bucket::new(10);
        assert!(b.can_take(10));
        b.take(4);
        assert_eq!(b.view().remaining, 6);
        assert!(!b.can_take(11));
        b.exhaust();
        assert!(!b.can_take(1));
        let v = b.view();
        assert_eq!(v.remaining, 0);
        // empty bucket of 10/h refills fully in one hour
        assert!(v.reset_ms >= epoch_ms() + 3_590_000);
    }

    #[test]
    fn a_compressed_window_resets_sooner() {
        let mut b = Bucket::with_window(10, Duration::from_secs(5));
        b.exhaust();
        let v = b.view();
        assert!(v.reset_ms <= epoch_ms() + 5_100 && v.reset_ms >= epoch_ms() + 4_900);
    }

    #[test]
    fn refill_is_continuous() {
        let mut b = Bucket::new(3_600_000); // 1000 per second
        b.exhaust();
        std::thread::sleep(Duration::from_millis(20));
        assert!(b.can_take(10));
    }
}
