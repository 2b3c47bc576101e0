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

pub use crate::domain::QuotaRefill as Refill;
use crate::domain::{QuotaKind, QuotaSample};
use crate::store::Lane;

/// Requests one permitted operation may make. A permit covers a whole
/// connector call, and some calls are several HTTP requests (a Linear create
/// is `issueCreate` plus `attachmentLinkURL`; an update may add a status
/// comment; a retried create looks the record up first), so a permit needs
/// room for all of them or the last one would be refused.
pub const REQUESTS_PER_PERMIT: i64 = 3;

/// One quota kind's last reading.
#[derive(Debug, Clone, PartialEq)]
struct Window {
    limit: i64,
    remaining: i64,
    reset_ms: Option<i64>,
    /// When the reading was taken (ms).
    observed_ms: i64,
    /// Points regained per ms (continuous refill only; 0 when unknown).
    rate_per_ms: f64,
    /// Cost of one request in this kind's units (1 for requests; the last
    /// `X-Complexity` for complexity).
    unit_cost: i64,
}

impl Window {
    /// What the remote will have left at `now_ms`, before our own requests
    /// still in flight.
    fn level_at(&self, refill: Refill, now_ms: i64) -> f64 {
        match refill {
            Refill::AtReset if self.reset_ms.is_some_and(|r| r <= now_ms) => self.limit as f64,
            Refill::AtReset => self.remaining as f64,
            Refill::Continuous => {
                let gained = self.rate_per_ms * (now_ms - self.observed_ms).max(0) as f64;
                (self.remaining as f64 + gained).min(self.limit as f64)
            }
        }
    }
}

/// The pacing decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Send now.
    Go,
    /// Do not send before this time (ms).
    WaitUntil(i64),
}

/// After a rate-limit wait, one request decides whether traffic resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Normal pacing.
    Off,
    /// The wait is over; the next permitted request is the probe.
    Due,
    /// The probe is on its way; everything else waits for its answer.
    InFlight,
}

/// How soon a request held back by a probe in flight asks again (ms).
pub const PROBE_POLL_MS: i64 = 100;

/// A connector's budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    reserve: f64,
    refill: Refill,
    windows: BTreeMap<QuotaKind, Window>,
    paused_until_ms: Option<i64>,
    probe: Probe,
    last_sent_ms: Option<i64>,
    /// Operations permitted whose answers have not been absorbed yet. A
    /// reading from one answer cannot include requests still on the wire,
    /// so they are held against every reading until they settle.
    outstanding: i64,
}

impl Budget {
    /// A budget for a fixed-window quota, keeping `reserve` (0–0.9) of each
    /// quota for live edits.
    pub fn new(reserve: f64) -> Budget {
        Budget::with_refill(reserve, Refill::AtReset)
    }

    /// A budget for a quota refilled as `refill` says.
    pub fn with_refill(reserve: f64, refill: Refill) -> Budget {
        Budget {
            reserve: reserve.clamp(0.0, 0.9),
            refill,
            windows: BTreeMap::new(),
            paused_until_ms: None,
            probe: Probe::Off,
            last_sent_ms: None,
            outstanding: 0,
        }
    }

    /// Take a reading from response headers. A reading replaces the local
    /// estimate: the server's count is the truth. A reading without a
    /// positive limit says nothing about the quota's size (e.g. a 429 from a
    /// remote that sends no limit headers) and is ignored: a budget is
    /// never learned as zero, which would never refill.
    pub fn observe(&mut self, s: &QuotaSample, request_cost: Option<i64>) {
        if s.limit <= 0 {
            return;
        }
        let reset_ms = s.reset_at.map(|r| r.timestamp_millis());
        let observed_ms = s.sampled_at.timestamp_millis();
        let previous = self.windows.get(&s.kind);
        let unit_cost = match (s.kind, request_cost) {
            (QuotaKind::Complexity, Some(c)) => c.max(1),
            (QuotaKind::Complexity, None) => previous.map_or(1, |w| w.unit_cost),
            _ => 1,
        };
        let (limit, remaining) = (s.limit.max(0), s.remaining.max(0));
        let rate_per_ms = match reset_ms {
            Some(reset) if remaining < limit && reset > observed_ms => {
                (limit - remaining) as f64 / (reset - observed_ms) as f64
            }
            _ => previous.map_or(0.0, |w| w.rate_per_ms),
        };
        self.windows.insert(
            s.kind,
            Window {
                limit,
                remaining,
                reset_ms,
                observed_ms,
                rate_per_ms,
                unit_cost,
            },
        );
    }

    /// The remote said stop (RATELIMITED / 429): pause until `until_ms`,
    /// then let one probe request through before anything else.
    pub fn pause_until(&mut self, until_ms: i64) {
        self.paused_until_ms = Some(self.paused_until_ms.map_or(until_ms, |p| p.max(until_ms)));
        self.probe = Probe::Due;
    }

    /// Account for an operation being sent now (before its headers arrive).
    pub fn spend(&mut self, now_ms: i64) {
        self.last_sent_ms = Some(now_ms);
        self.outstanding += 1;
        if self.probe == Probe::Due {
            self.probe = Probe::InFlight;
        }
    }

    /// An operation permitted earlier has finished and its readings (if
    /// any) were observed: stop holding it against the quota. A probe that
    /// was not rate limited again reopens normal traffic.
    pub fn settle(&mut self, rate_limited: bool) {
        self.outstanding = (self.outstanding - 1).max(0);
        if self.probe == Probe::InFlight {
            self.probe = if rate_limited { Probe::Due } else { Probe::Off };
        }
    }

    /// Remaining quota of one kind per the latest reading, less what
    /// operations in flight may still take (used by the console's forecast
    /// and tests).
    pub fn remaining(&self, kind: QuotaKind) -> Option<i64> {
        self.windows
            .get(&kind)
            .map(|w| w.remaining - self.outstanding * REQUESTS_PER_PERMIT * w.unit_cost)
    }

    /// May a request in `lane` go at `now_ms`?
    pub fn permit(&mut self, lane: Lane, now_ms: i64) -> Permit {
        if let Some(until) = self.paused_until_ms {
            if now_ms < until {
                return Permit::WaitUntil(until);
            }
            self.paused_until_ms = None;
        }
        if self.probe == Probe::InFlight {
            return Permit::WaitUntil(now_ms + PROBE_POLL_MS);
        }
        let mut wait = None::<i64>;
        for w in self.windows.values() {
            let need = REQUESTS_PER_PERMIT * w.unit_cost;
            let reserve = (w.limit as f64 * self.reserve).ceil() as i64;
            let floor = match lane {
                Lane::Live => 0,
                Lane::Backfill => reserve,
            };
            let in_flight = (self.outstanding * need) as f64;
            let usable = w.level_at(self.refill, now_ms) - in_flight - floor as f64;
            let short = need as f64 - usable;
            let until = match (self.refill, w.reset_ms) {
                // Continuous refill: wait just until the bucket holds enough
                // again — never later than the reset, when it is full.
                (Refill::Continuous, reset) if short > 0.0 && w.rate_per_ms > 0.0 => {
                    let t = now_ms + (short / w.rate_per_ms).ceil() as i64;
                    Some(reset.map_or(t, |r| t.min(r.max(now_ms + 1))))
                }
                (_, Some(reset)) if short > 0.0 && reset > now_ms => Some(reset),
                // No reset known (or it passed without a fresh reading):
                // probe again shortly rather than stall forever.
                (_, _) if short > 0.0 => Some(now_ms + 1_000),
                (Refill::AtReset, Some(reset)) if usable < (2 * reserve.max(need)) as f64 => {
                    // Close to the floor of a fixed window: spread what is
                    // left over the time to reset so it never runs dry early.
                    let per = (reset - now_ms).max(0) / ((usable as i64) / need).max(1);
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
            kind: kind.parse().unwrap(),
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
    fn continuous_refill_waits_only_for_the_points_it_needs() {
        // 3,600 an hour, empty: one point a second; "reset" (full) is an
        // hour away, but a permit's worth is back in three seconds.
        let mut b = Budget::with_refill(0.2, Refill::Continuous);
        b.observe(&sample("requests", 3_600, 0, 3_600_000), None);
        let t = REQUESTS_PER_PERMIT * 1_000;
        assert_eq!(b.permit(Lane::Live, 0), Permit::WaitUntil(t));
        assert_eq!(b.permit(Lane::Live, t), Permit::Go);
        // Backfill also keeps the reserve (720 points) untouched.
        assert_eq!(
            b.permit(Lane::Backfill, 0),
            Permit::WaitUntil((720 + REQUESTS_PER_PERMIT) * 1_000)
        );
    }

    #[test]
    fn operations_in_flight_are_held_until_settled() {
        let mut b = Budget::with_refill(0.0, Refill::Continuous);
        b.observe(&sample("requests", 3_600, 7, 3_593_000), None);
        assert_eq!(b.permit(Lane::Live, 0), Permit::Go);
        b.spend(0);
        assert_eq!(b.permit(Lane::Live, 0), Permit::Go);
        b.spend(0);
        // 7 left, two operations of up to three requests each in flight.
        assert!(matches!(b.permit(Lane::Live, 0), Permit::WaitUntil(_)));
        // The first answer reports what the server counted so far; the
        // second operation is still held against it.
        b.observe(&sample("requests", 3_600, 5, 3_595_000), None);
        b.settle(false);
        assert!(matches!(b.permit(Lane::Live, 0), Permit::WaitUntil(_)));
        b.settle(false);
        assert_eq!(b.permit(Lane::Live, 0), Permit::Go);
    }

    #[test]
    fn complexity_is_charged_at_the_last_request_cost() {
        let mut b = Budget::with_refill(0.0, Refill::Continuous);
        b.observe(&sample("complexity", 360_000, 250, 3_597_500), Some(100));
        // A permit needs 3 × 100 points; 250 are left at 100 a second.
        assert_eq!(b.permit(Lane::Live, 0), Permit::WaitUntil(500));
    }

    #[test]
    fn rate_limited_pause_wins() {
        let mut b = Budget::new(0.2);
        b.pause_until(5_000);
        assert_eq!(b.permit(Lane::Live, 0), Permit::WaitUntil(5_000));
        assert_eq!(b.permit(Lane::Live, 5_000), Permit::Go);
    }

    #[test]
    fn a_429_without_limit_headers_never_becomes_a_zero_budget() {
        let mut b = Budget::new(0.2);
        // What a 429 from a remote without limit headers looks like.
        let mut s = sample("requests_per_second", 0, 0, 1_000);
        s.connector = Side::Portal;
        b.observe(&s, None);
        b.pause_until(1_000);
        assert_eq!(b.permit(Lane::Live, 500), Permit::WaitUntil(1_000));
        // The wait is over: the next request goes, long after "reset".
        assert_eq!(b.permit(Lane::Live, 1_000), Permit::Go);
        assert_eq!(b.remaining(QuotaKind::RequestsPerSecond), None);
    }

    #[test]
    fn after_the_wait_one_probe_decides() {
        let mut b = Budget::new(0.0);
        b.pause_until(1_000);
        assert_eq!(b.permit(Lane::Live, 1_000), Permit::Go);
        b.spend(1_000);
        // Everything else waits for the probe's answer.
        assert_eq!(
            b.permit(Lane::Live, 1_001),
            Permit::WaitUntil(1_001 + PROBE_POLL_MS)
        );
        // Rate limited again: another wait, then another single probe.
        b.pause_until(2_000);
        b.settle(true);
        assert_eq!(b.permit(Lane::Live, 1_500), Permit::WaitUntil(2_000));
        assert_eq!(b.permit(Lane::Live, 2_000), Permit::Go);
        b.spend(2_000);
        assert!(matches!(b.permit(Lane::Live, 2_001), Permit::WaitUntil(_)));
        // The probe got through: traffic flows again.
        b.settle(false);
        assert_eq!(b.permit(Lane::Live, 2_002), Permit::Go);
        b.spend(2_002);
        assert_eq!(b.permit(Lane::Live, 2_003), Permit::Go);
    }
}
