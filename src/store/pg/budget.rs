//! One rate-limit budget per connector shared by every replica, so two
//! replicas never spend more than one quota between them.
//!
//! Each limit kind of a connector has a row: the latest vendor reading and
//! an estimate of what is left, in thousandths of a point. [`take`] locks a
//! connector's rows, lets the refill accrue up to now, and either spends
//! the cost from every kind or says when to ask again, in one transaction.
//! [`refill`] replaces the estimate with a reading, the server's count
//! being the truth, as the engine's budget (`engine::budget`) does; the
//! arithmetic follows it too: a fixed window comes back whole at its reset,
//! a leaky bucket (Linear) refills continuously at the rate the reading
//! implies, backfill leaves the reserve to live edits, and a connector told
//! to stop waits until the pause ends.
//!
//! Requests still on the wire when a reading arrives are held against it
//! until their answers come back (every replica's, as the engine holds its
//! own); a replica that dies mid-request leaves a hold that expires. Pacing
//! near the floor of a fixed window counts the last grant of any replica.
//! Not shared yet, and kept by each replica's own engine budget: the single
//! probe request after a pause.

use postgres::GenericClient;

use super::{Result, doing};
use crate::domain::{QuotaKind, QuotaRefill, QuotaSample, Side};
use crate::store::Lane;

/// Thousandths of a point per point.
const MILLI: i64 = 1_000;

/// How a connector's budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// How the remote refills.
    pub refill: QuotaRefill,
    /// Percent of each quota (0–90) kept for live edits.
    pub reserve_pct: i64,
}

/// How long a grant is held against readings unless settled first (ms):
/// longer than any connector's request takes, so only a replica that died
/// mid-request leaves a hold to expire.
pub const HOLD_MS: i64 = 120_000;

/// The answer of [`take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Spent: send now, then [`settle`] this hold when the answer is back.
    Granted {
        /// The hold's id.
        hold: i64,
    },
    /// Not enough left: ask again at this time (ms).
    WaitUntil(i64),
}

/// One limit kind's row, as the arithmetic sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    kind: String,
    refill: QuotaRefill,
    reserve_pct: i64,
    lim: i64,
    reset_at: Option<i64>,
    rate_milli_per_s: i64,
    unit_cost: i64,
    level_milli: i64,
    level_at: i64,
    paused_until: Option<i64>,
    /// The last grant by any replica (ms), for pacing.
    last_grant_at: Option<i64>,
}

impl Row {
    /// The level at `now` and the reset still ahead, after the refill.
    fn accrued(&self, now: i64) -> (i64, Option<i64>) {
        let full = self.lim * MILLI;
        match self.refill {
            QuotaRefill::AtReset => match self.reset_at {
                Some(r) if r <= now => (full, None),
                reset => (self.level_milli, reset),
            },
            QuotaRefill::Continuous => {
                let gained = self.rate_milli_per_s * (now - self.level_at).max(0) / 1_000;
                let reset = self.reset_at.filter(|r| *r > now);
                ((self.level_milli + gained).min(full), reset)
            }
        }
    }
}

/// `a / b` rounded up, for positive `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b > 0)
}

/// Decide one take over all of a connector's rows: spend `requests` from
/// each kind (at its unit cost) or say when the poorest kind will have it.
/// On a grant the rows come back re-based at `now`.
fn decide(rows: &[Row], lane: Lane, requests: i64, now: i64) -> (Take, Vec<Row>) {
    if let Some(until) = rows.iter().filter_map(|r| r.paused_until).max()
        && until > now
    {
        return (Take::WaitUntil(until), Vec::new());
    }
    let mut wait = None::<i64>;
    let mut spent = Vec::with_capacity(rows.len());
    for r in rows {
        let need = requests * r.unit_cost * MILLI;
        let reserve = ceil_div(r.lim * r.reserve_pct, 100) * MILLI;
        let floor = match lane {
            Lane::Live => 0,
            Lane::Backfill => reserve,
        };
        let (level, reset) = r.accrued(now);
        let usable = level - floor;
        let short = need - usable;
        let until = match (r.refill, reset) {
            // A leaky bucket: wait just until it holds enough again, never
            // later than the reset, when it is full.
            (QuotaRefill::Continuous, reset) if short > 0 && r.rate_milli_per_s > 0 => {
                let t = now + ceil_div(short * 1_000, r.rate_milli_per_s);
                Some(reset.map_or(t, |at| t.min(at.max(now + 1))))
            }
            (_, Some(at)) if short > 0 => Some(at),
            // No reset known: ask again shortly rather than stall.
            (_, None) if short > 0 => Some(now + 1_000),
            // Close to the floor of a fixed window: spread what is left
            // over the time to reset, counting every replica's grants.
            (QuotaRefill::AtReset, Some(at)) if usable < 2 * reserve.max(need) => {
                let per = (at - now).max(0) / (usable / need).max(1);
                r.last_grant_at.map(|last| last + per).filter(|t| *t > now)
            }
            _ => None,
        };
        if let Some(t) = until {
            wait = Some(wait.map_or(t, |w| w.max(t)));
        }
        spent.push(Row {
            level_milli: level - need,
            level_at: now,
            reset_at: reset,
            paused_until: None,
            last_grant_at: Some(now),
            ..r.clone()
        });
    }
    match wait {
        Some(t) => (Take::WaitUntil(t.max(now + 1)), Vec::new()),
        None => (Take::Granted { hold: 0 }, spent),
    }
}

/// Spend `requests` (each costing its kind's unit cost) from `connector`'s
/// shared budget for `replica`'s request in `lane` at `now`, or learn when
/// to ask again. A connector with no reading yet has no known limit and is
/// granted, as the engine's budget does. A grant is also held against
/// every reading until [`settle`]d (or for [`HOLD_MS`]): a reading taken
/// while the request is on the wire does not count it yet.
pub fn take(
    client: &mut impl GenericClient,
    replica: &str,
    connector: Side,
    lane: Lane,
    requests: i64,
    now: i64,
) -> Result<Take> {
    let mut tx = client
        .transaction()
        .map_err(doing("starting a budget take"))?;
    let found = tx
        .query(
            "SELECT kind, refill, reserve_pct, lim, reset_at, rate_milli_per_s, unit_cost,
                    level_milli, level_at, paused_until, last_grant_at
             FROM rate_budgets WHERE connector = $1 ORDER BY kind FOR UPDATE",
            &[&connector.as_str()],
        )
        .map_err(doing(format!("reading {connector}'s budget")))?;
    let rows: Vec<Row> = found
        .iter()
        .map(|r| Row {
            kind: r.get(0),
            refill: if r.get::<_, String>(1) == QuotaRefill::Continuous.as_str() {
                QuotaRefill::Continuous
            } else {
                QuotaRefill::AtReset
            },
            reserve_pct: r.get(2),
            lim: r.get(3),
            reset_at: r.get(4),
            rate_milli_per_s: r.get(5),
            unit_cost: r.get(6),
            level_milli: r.get(7),
            level_at: r.get(8),
            paused_until: r.get(9),
            last_grant_at: r.get(10),
        })
        .collect();
    let (mut answer, spent) = decide(&rows, lane, requests, now);
    for r in &spent {
        tx.execute(
            "UPDATE rate_budgets SET level_milli = $3, level_at = $4, reset_at = $5,
                                     paused_until = NULL, last_grant_at = $4
             WHERE connector = $1 AND kind = $2",
            &[
                &connector.as_str(),
                &r.kind,
                &r.level_milli,
                &r.level_at,
                &r.reset_at,
            ],
        )
        .map_err(doing(format!("spending {connector}'s budget")))?;
    }
    if let Take::Granted { hold } = &mut answer {
        tx.execute(
            "DELETE FROM rate_holds WHERE connector = $1 AND expires_at <= $2",
            &[&connector.as_str(), &now],
        )
        .map_err(doing(format!("dropping {connector}'s expired holds")))?;
        *hold = tx
            .query_one(
                "INSERT INTO rate_holds (connector, replica, requests, granted_at, expires_at)
                 VALUES ($1, $2, $3, $4, $4::bigint + $5::bigint) RETURNING id",
                &[&connector.as_str(), &replica, &requests, &now, &HOLD_MS],
            )
            .map_err(doing(format!("holding {connector}'s grant")))?
            .get(0);
    }
    tx.commit().map_err(doing("committing a budget take"))?;
    Ok(answer)
}

/// The answer to a granted request is back: stop holding it against
/// readings. Call it before [`refill`] with that answer's reading, which
/// counts the request itself. Returns false for a hold already gone.
pub fn settle(client: &mut impl GenericClient, hold: i64) -> Result<bool> {
    let n = client
        .execute("DELETE FROM rate_holds WHERE id = $1", &[&hold])
        .map_err(doing("settling a budget hold"))?;
    Ok(n > 0)
}

/// Replace the estimate of the sample's connector and kind with a vendor
/// reading (`request_cost`: the last request's complexity, for Linear's
/// complexity kind), less the grants still held (requests on the wire the
/// reading cannot count yet). A reading older than the one stored, or
/// without a positive limit (a 429 from a remote that sends no limit
/// headers), says nothing new and is ignored; returns whether it was taken.
pub fn refill(
    client: &mut impl GenericClient,
    sample: &QuotaSample,
    request_cost: Option<i64>,
    policy: BudgetPolicy,
) -> Result<bool> {
    if sample.limit <= 0 {
        return Ok(false);
    }
    let sampled_at = sample.sampled_at.timestamp_millis();
    let reset_at = sample.reset_at.map(|r| r.timestamp_millis());
    let remaining = sample.remaining.clamp(0, sample.limit);
    // What is missing over the time until full: the leak rate.
    let rate = match reset_at {
        Some(r) if remaining < sample.limit && r > sampled_at => {
            Some((sample.limit - remaining) * MILLI * 1_000 / (r - sampled_at))
        }
        _ => None,
    };
    let unit_cost = match sample.kind {
        QuotaKind::Complexity => request_cost.map(|c| c.max(1)),
        _ => Some(1),
    };
    let mut tx = client
        .transaction()
        .map_err(doing("starting to record a reading"))?;
    let doing_it = || {
        doing(format!(
            "recording {}'s {} reading",
            sample.connector, sample.kind
        ))
    };
    let n = tx
        .execute(
            "INSERT INTO rate_budgets (connector, kind, refill, reserve_pct, lim,
                 sample_remaining, sampled_at, reset_at, rate_milli_per_s, unit_cost,
                 level_milli, level_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9::bigint, 0), COALESCE($10::bigint, 1), $6::bigint * 1000, $7)
             ON CONFLICT (connector, kind) DO UPDATE SET
                 refill = excluded.refill, reserve_pct = excluded.reserve_pct,
                 lim = excluded.lim, sample_remaining = excluded.sample_remaining,
                 sampled_at = excluded.sampled_at, reset_at = excluded.reset_at,
                 rate_milli_per_s = COALESCE($9::bigint, rate_budgets.rate_milli_per_s),
                 unit_cost = COALESCE($10::bigint, rate_budgets.unit_cost),
                 level_milli = excluded.level_milli, level_at = excluded.level_at
             WHERE excluded.sampled_at >= rate_budgets.sampled_at",
            &[
                &sample.connector.as_str(),
                &sample.kind.as_str(),
                &policy.refill.as_str(),
                &policy.reserve_pct.clamp(0, 90),
                &sample.limit,
                &remaining,
                &sampled_at,
                &reset_at,
                &rate,
                &unit_cost,
            ],
        )
        .map_err(doing_it())?;
    if n > 0 {
        tx.execute(
            "UPDATE rate_budgets SET level_milli = level_milli - unit_cost * 1000 * (
                 SELECT COALESCE(sum(requests), 0) FROM rate_holds
                 WHERE connector = $1 AND expires_at > $3)
             WHERE connector = $1 AND kind = $2",
            &[
                &sample.connector.as_str(),
                &sample.kind.as_str(),
                &sampled_at,
            ],
        )
        .map_err(doing_it())?;
    }
    tx.commit().map_err(doing_it())?;
    Ok(n > 0)
}

/// The remote said stop (429 / RATELIMITED): every replica holds back
/// `connector` until `until`. Returns false when there is no reading to
/// attach the pause to yet (the replica's own budget still pauses).
pub fn pause(client: &mut impl GenericClient, connector: Side, until: i64) -> Result<bool> {
    let n = client
        .execute(
            "UPDATE rate_budgets SET paused_until = GREATEST(COALESCE(paused_until, $2), $2)
             WHERE connector = $1",
            &[&connector.as_str(), &until],
        )
        .map_err(doing(format!("pausing {connector}'s budget")))?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRANTED: Take = Take::Granted { hold: 0 };

    fn row(refill: QuotaRefill, lim: i64, left: i64, reset_at: Option<i64>, rate: i64) -> Row {
        Row {
            kind: "requests".into(),
            refill,
            reserve_pct: 20,
            lim,
            reset_at,
            rate_milli_per_s: rate,
            unit_cost: 1,
            level_milli: left * MILLI,
            level_at: 0,
            paused_until: None,
            last_grant_at: None,
        }
    }

    #[test]
    fn a_fixed_window_is_spent_down_then_waits_for_its_reset() {
        // One point left, a permit needs two: wait for the reset.
        let rows = vec![row(QuotaRefill::AtReset, 100, 1, Some(60_000), 0)];
        assert_eq!(decide(&rows, Lane::Live, 2, 0).0, Take::WaitUntil(60_000));
        assert_eq!(
            decide(&rows, Lane::Live, 2, 59_999).0,
            Take::WaitUntil(60_000)
        );
        let (answer, next) = decide(&rows, Lane::Live, 1, 60_000);
        assert_eq!(answer, GRANTED);
        assert_eq!(next[0].level_milli, 99 * MILLI);
        assert_eq!(next[0].reset_at, None);
    }

    #[test]
    fn backfill_leaves_the_reserve_to_live_edits() {
        let rows = vec![row(QuotaRefill::AtReset, 100, 20, Some(60_000), 0)];
        assert_eq!(
            decide(&rows, Lane::Backfill, 1, 0).0,
            Take::WaitUntil(60_000)
        );
        assert_eq!(decide(&rows, Lane::Live, 1, 0).0, GRANTED);
    }

    #[test]
    fn a_leaky_bucket_waits_only_for_the_points_it_needs() {
        // 3,600 an hour, empty: one point a second (1,000 milli per second).
        let rows = vec![row(
            QuotaRefill::Continuous,
            3_600,
            0,
            Some(3_600_000),
            1_000,
        )];
        assert_eq!(decide(&rows, Lane::Live, 3, 0).0, Take::WaitUntil(3_000));
        let (answer, next) = decide(&rows, Lane::Live, 3, 3_000);
        assert_eq!(answer, GRANTED);
        assert_eq!(next[0].level_milli, 0);
        // Fractions of a point carry over between takes.
        let (answer, _) = decide(&next, Lane::Live, 1, 3_999);
        assert!(matches!(answer, Take::WaitUntil(4_000)), "{answer:?}");
    }

    #[test]
    fn the_last_of_a_fixed_window_is_spread_over_the_time_to_reset() {
        let rows = vec![Row {
            reserve_pct: 10,
            ..row(QuotaRefill::AtReset, 100, 15, Some(10_000), 0)
        }];
        let (answer, next) = decide(&rows, Lane::Live, 1, 0);
        assert_eq!(answer, GRANTED);
        // 14 left for 10 s: one about every 714 ms, whichever replica asks.
        assert_eq!(decide(&next, Lane::Live, 1, 1).0, Take::WaitUntil(714));
        assert_eq!(decide(&next, Lane::Live, 1, 714).0, GRANTED);
    }

    #[test]
    fn a_pause_wins_and_the_poorest_kind_decides() {
        let mut rows = vec![
            row(QuotaRefill::AtReset, 100, 50, Some(10_000), 0),
            Row {
                kind: "complexity".into(),
                unit_cost: 40,
                ..row(QuotaRefill::AtReset, 1_000, 100, Some(20_000), 0)
            },
        ];
        assert_eq!(decide(&rows, Lane::Live, 3, 0).0, Take::WaitUntil(20_000));
        rows[0].paused_until = Some(30_000);
        assert_eq!(decide(&rows, Lane::Live, 1, 0).0, Take::WaitUntil(30_000));
    }
}
