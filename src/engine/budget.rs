//! Rate-limit-aware pacing for one connector (DESIGN.md section 7).
//!
//! Fed by the quota headers of every response, the budget decides whether a
//! request may go now. A reserve of each quota is kept for live edits:
//! reconcile and backfill wait when only the reserve is left. As remaining
//! quota approaches the floor, requests are spread evenly over the time left
//! until reset; when exhausted (or told RATELIMITED), everything pauses until
//! the reset. The goal is never to receive a 429 when the server's headers
//! are honest. Pure: the caller passes the clock.

use std::collections::BTreeMap;

use crate::domain::QuotaSample;
use crate::store::Lane;

/// One quota kind's last known state, corrected for requests sent since.
#[derive(Debug, Clone, PartialEq)]
struct Window {
    limit: i64,
    remaining: i64,
    reset_ms: Option<i64>,
    /// Cost of one request in this kind's units (1 for requests; the last
    /// `X-Complexity` for complexity).
    unit_cost: i64,
}

/// The pacing decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Send now.
    Go,
    /// Do not send before this time (ms).
    WaitUntil(i64),
}

/// A connector's budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    reserve: f64,
    windows: BTreeMap<String, Window>,
    paused_until_ms: Option<i64>,
    last_sent_ms: Option<i64>,
}

impl Budget {
    /// A budget keeping `reserve` (0–0.9) of each quota for live edits.
    pub fn new(reserve: f64) -> Budget {
        Budget {
            reserve: reserve.clamp(0.0, 0.9),
            windows: BTreeMap::new(),
            paused_until_ms: None,
            last_sent_ms: None,
        }
    }

    /// Take a reading from response headers. A reading replaces the local
    /// estimate: the server's count is the truth.
    pub fn observe(&mut self, s: &QuotaSample, request_cost: Option<i64>) {
        let reset_ms = s.reset_at.map(|r| r.timestamp_millis());
        let unit_cost = match (s.kind.as_str(), request_cost) {
            ("complexity", Some(c)) => c.max(1),
            ("complexity", None) => self.windows.get(&s.kind).map_or(1, |w| w.unit_cost),
            _ => 1,
        };
        self.windows.insert(
            s.kind.clone(),
            Window {
                limit: s.limit.max(0),
                remaining: s.remaining.max(0),
                reset_ms,
                unit_cost,
            },
        );
    }

    /// The remote said stop (RATELIMITED / 429): pause until `until_ms`.
    pub fn pause_until(&mut self, until_ms: i64) {
        self.paused_until_ms = Some(self.paused_until_ms.map_or(until_ms, |p| p.max(until_ms)));
    }

    /// Account for a request being sent now (before its headers arrive).
    pub fn spend(&mut self, now_ms: i64) {
        self.last_sent_ms = Some(now_ms);
        for w in self.windows.values_mut() {
            w.remaining = (w.remaining - w.unit_cost).max(0);
        }
    }

    /// Remaining requests before the live reserve, per the latest estimate
    /// (used by the console's forecast and tests).
    pub fn remaining(&self, kind: &str) -> Option<i64> {
        self.windows.get(kind).map(|w| w.remaining)
    }

    /// May a request in `lane` go at `now_ms`?
    pub fn permit(&mut self, lane: Lane, now_ms: i64) -> Permit {
        if let Some(until) = self.paused_until_ms {
            if now_ms < until {
                return Permit::WaitUntil(until);
            }
            self.paused_until_ms = None;
        }
        let mut wait = None::<i64>;
        for w in self.windows.values_mut() {
            // A reset in the past means the window refilled.
            if let Some(reset) = w.reset_ms.filter(|r| *r <= now_ms) {
                let _ = reset;
                w.remaining = w.limit;
                w.reset_ms = None;
            }
            let reserve = (w.limit as f64 * self.reserve).ceil() as i64;
            let floor = match lane {
                Lane::Live => 0,
                Lane::Backfill => reserve,
            };
            let usable = w.remaining - floor;
            let until = match w.reset_ms {
                Some(reset) if usable < w.unit_cost => Some(reset),
                // No reset known: probe again shortly rather than stall forever.
                None if usable < w.unit_cost => Some(now_ms + 1_000),
                Some(reset) if usable < 2 * reserve.max(w.unit_cost) => {
                    // Close to the floor: spread what is left over the time
                    // to reset so the window never runs dry early.
                    let per = (reset - now_ms).max(0) / (usable / w.unit_cost).max(1);
                    self.last_sent_ms
                        .map(|last| last + per)
                        .filter(|t| *t > now_ms)
                }
                _ => None,
            };
            if let Some(t) = until {
                wait = Some(wait.map_or(t, |w: i64| w.max(t)));
            }
        }
        match wait {
            Some(t) if t > now_ms => Permit::WaitUntil(t),
            _ => Permit::Go,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Side;
    use chrono::{TimeZone, Utc};

    fn sample(kind: &str, limit: i64, remaining: i64, reset_ms: i64) -> QuotaSample {
        QuotaSample {
            connector: Side::Linear,
            kind: kind.into(),
            limit,
            remaining,
            reset_at: Utc.timestamp_millis_opt(reset_ms).single(),
            sampled_at: Utc.timestamp_millis_opt(0).single().unwrap_or_default(),
        }
    }

    #[test]
    fn plenty_of_quota_goes() {
        let mut b = Budget::new(0.2);
        b.observe(&sample("requests", 1000, 900, 60_000), None);
        assert_eq!(b.permit(Lane::Backfill, 0), Permit::Go);
        assert_eq!(b.permit(Lane::Live, 0), Permit::Go);
    }

    #[test]
    fn backfill_waits_at_the_reserve_live_does_not() {
        let mut b = Budget::new(0.2);
        b.observe(&sample("requests", 100, 20, 60_000), None);
        assert_eq!(b.permit(Lane::Backfill, 0), Permit::WaitUntil(60_000));
        assert_eq!(b.permit(Lane::Live, 0), Permit::Go);
    }

    #[test]
    fn exhausted_waits_for_reset_then_refills() {
        let mut b = Budget::new(0.2);
        b.observe(&sample("requests", 100, 0, 60_000), None);
        assert_eq!(b.permit(Lane::Live, 10), Permit::WaitUntil(60_000));
        assert_eq!(b.permit(Lane::Live, 60_000), Permit::Go);
    }

    #[test]
    fn local_spending_never_overdraws_between_readings() {
        let mut b = Budget::new(0.0);
        b.observe(&sample("requests", 10, 3, 1_000_000), None);
        let mut sent = 0;
        for t in 0..100 {
            if b.permit(Lane::Live, t) == Permit::Go {
                b.spend(t);
                sent += 1;
            }
        }
        assert!(sent <= 3, "sent {sent} with 3 remaining");
    }

    #[test]
    fn paces_near_the_floor() {
        let mut b = Budget::new(0.1);
        b.observe(&sample("requests", 100, 15, 10_000), None);
        assert_eq!(b.permit(Lane::Live, 0), Permit::Go);
        b.spend(0);
        match b.permit(Lane::Live, 1) {
            Permit::WaitUntil(t) => assert!(t > 1 && t <= 10_000, "{t}"),
            Permit::Go => panic!("should pace"),
        }
    }

    #[test]
    fn rate_limited_pause_wins() {
        let mut b = Budget::new(0.2);
        b.pause_until(5_000);
        assert_eq!(b.permit(Lane::Live, 0), Permit::WaitUntil(5_000));
        assert_eq!(b.permit(Lane::Live, 5_000), Permit::Go);
    }
}
