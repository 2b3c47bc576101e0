//! Aggregates the console's Overview needs, each bounded by a time index
//! (migration V2) so they read only recent rows, plus the deliberately naive
//! OFFSET/COUNT(*) paging the console benchmark compares keyset paging with.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Db, Result};

/// Recent activity for the Overview: throughput per minute and error rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActivityStats {
    /// Changes roundtrip wrote per minute, oldest minute first.
    pub changes_per_minute: Vec<u64>,
    /// Attempts in the error-rate window.
    pub attempts: i64,
    /// Failed attempts in that window.
    pub failed_attempts: i64,
}

impl ActivityStats {
    /// Share of failed attempts, 0.0 when there were none.
    pub fn error_rate(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.failed_attempts as f64 / self.attempts as f64
        }
    }
}

/// Engine writes per minute, remembered for the minutes that can no longer
/// change. The Overview reloads on every store change and view switch, and
/// counting a whole sparkline of audit rows each time costs a read of every
/// write of the last half hour (milliseconds on a busy store); with the
/// settled minutes kept, a reload reads only the last two minutes' rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteMinutes {
    /// Writes per absolute minute (`at / 60000`) for settled minutes.
    settled: BTreeMap<i64, u64>,
    /// Every minute up to this one is settled and counted in `settled`.
    through: Option<i64>,
}

/// How long after a minute ends its audit rows are taken as final: an
/// entry is stamped inside the short write transaction that commits it, so
/// none can still arrive for a minute that ended this long ago.
const SETTLE_MS: i64 = 60_000;

const MINUTE_MS: i64 = 60_000;

impl WriteMinutes {
    /// Writes in each of the `minutes` minutes up to the one holding
    /// `now_ms`, oldest first, reading only the rows not yet settled.
    pub fn per_minute(&mut self, db: &Db<'_>, now_ms: i64, minutes: usize) -> Result<Vec<u64>> {
        let span = i64::try_from(minutes).unwrap_or(60).max(1);
        let current = now_ms.div_euclid(MINUTE_MS);
        let first = current - span + 1;
        let settled_until = (now_ms - SETTLE_MS).div_euclid(MINUTE_MS) - 1;
        if self.through.is_some_and(|t| t > current) {
            // The clock went back: nothing remembered can be trusted.
            *self = WriteMinutes::default();
        }
        let from = self.through.map_or(first, |t| (t + 1).max(first));
        let fresh = db.engine_writes_by_minute(from * MINUTE_MS, now_ms)?;
        for (m, n) in &fresh {
            if *m <= settled_until {
                self.settled.insert(*m, *n);
            }
        }
        if settled_until >= from - 1 {
            self.through = Some(settled_until.max(self.through.unwrap_or(i64::MIN)));
        }
        self.settled.retain(|m, _| *m >= first);
        let fresh: BTreeMap<i64, u64> = fresh.into_iter().collect();
        Ok((first..=current)
            .map(|m| {
                self.settled
                    .get(&m)
                    .or_else(|| fresh.get(&m))
                    .copied()
                    .unwrap_or(0)
            })
            .collect())
    }
}

impl Db<'_> {
    /// Engine writes per absolute minute (`at / 60000`) with `at` in
    /// `from_ms..=to_ms`, for the minutes that have any, oldest first.
    pub fn engine_writes_by_minute(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at / 60000 AS m, count(*) FROM audit
             WHERE at >= ?1 AND at <= ?2 AND actor = 'engine' GROUP BY m ORDER BY m",
        )?;
        let rows = stmt.query_map([from_ms, to_ms], |r| {
            Ok((r.get::<i64>(0)?, r.get::<i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (m, n) = row?;
            out.push((m, u64::try_from(n).unwrap_or(0)));
        }
        Ok(out)
    }

    /// Engine writes per minute over the last `minutes` minutes before
    /// `now_ms` (counted through `memo`, which keeps the settled minutes
    /// between calls), and attempt outcomes over the last `error_window_ms`.
    pub fn activity(
        &self,
        now_ms: i64,
        minutes: usize,
        error_window_ms: i64,
        memo: &mut WriteMinutes,
    ) -> Result<ActivityStats> {
        let per = memo.per_minute(self, now_ms, minutes)?;
        let (attempts, failed_attempts) = self.conn.query_row(
            "SELECT count(*), COALESCE(sum(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), 0) FROM job_attempts
             WHERE started_at >= ?1",
            [now_ms - error_window_ms],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(ActivityStats {
            changes_per_minute: per,
            attempts,
            failed_attempts,
        })
    }
}

/// The naive way to page a table (COUNT(*) plus OFFSET), kept only so the
/// console benchmark can show what keyset paging and counters save.
#[derive(Debug, Clone, Copy)]
pub struct NaiveBaseline;

impl NaiveBaseline {
    /// Count every job, then read a page at an offset.
    pub fn jobs_page(db: &Db<'_>, offset: i64, limit: i64) -> Result<(i64, Vec<i64>)> {
        let total: i64 = db
            .conn
            .query_row("SELECT count(*) FROM jobs", (), |r| r.get(0))?;
        let mut stmt = db
            .conn
            .prepare_cached("SELECT id FROM jobs ORDER BY created_at, id LIMIT ?1 OFFSET ?2")?;
        let ids = stmt
            .query_map([limit, offset], |r| r.get(0))?
            .collect::<Result<Vec<i64>>>()?;
        Ok((total, ids))
    }

    /// Search links the naive way (what the console did before migration
    /// V5): a substring match over the title and equality on each id, which
    /// scans the whole table.
    pub fn search_links_like(db: &Db<'_>, query: &str, limit: i64) -> Result<Vec<i64>> {
        let pattern = format!("%{}%", query.replace('%', "\\%").replace('_', "\\_"));
        let mut stmt = db.conn.prepare_cached(db.dialect_sql(
            "SELECT id FROM links
             WHERE portal_id = ?1 OR linear_id = ?1 OR title LIKE ?2 ESCAPE '\\'
             ORDER BY id DESC LIMIT ?3",
            "SELECT id FROM links
             WHERE portal_id = ?1 OR linear_id = ?1 OR title ILIKE ?2 ESCAPE '\\'
             ORDER BY id DESC LIMIT ?3",
        ))?;
        let ids = stmt
            .query_map(super::sql::params![query, pattern, limit], |r| r.get(0))?
            .collect::<Result<Vec<i64>>>()?;
        Ok(ids)
    }

    /// Count links the naive way.
    pub fn count_links(db: &Db<'_>) -> Result<i64> {
        db.conn
            .query_row("SELECT count(*) FROM links", (), |r| r.get(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, AuditAction};
    use crate::store::test_backends::on_both_backends;
    use crate::store::{NewAudit, Store};

    fn add(store: &mut Store, at: &[i64]) {
        let rows: Vec<(i64, NewAudit)> = at
            .iter()
            .map(|t| (*t, NewAudit::new(Actor::Engine, AuditAction::Write)))
            .collect();
        store.write(|db| db.bulk_audit(&rows)).unwrap();
    }

    on_both_backends! {
    fn write_minutes_match_a_full_count_and_read_settled_minutes_once(store) {
        let t = 1_000 * MINUTE_MS;
        add(
            &mut store,
            &[t - 9 * MINUTE_MS, t - 3 * MINUTE_MS + 5, t - 1, t + 10],
        );
        let mut memo = WriteMinutes::default();
        let now = t + 30_000;
        let first = memo.per_minute(&store.db(), now, 10).unwrap();
        assert_eq!(first, vec![1, 0, 0, 0, 0, 0, 1, 0, 1, 1]);

        // New writes in the current minute are counted on the next reload,
        // and the minute after that moves the window on.
        add(&mut store, &[t + 20_000, t + MINUTE_MS + 1]);
        let later = t + MINUTE_MS + 40_000;
        let again = memo.per_minute(&store.db(), later, 10).unwrap();
        let full = WriteMinutes::default()
            .per_minute(&store.db(), later, 10)
            .unwrap();
        assert_eq!(again, full);
        assert_eq!(again, vec![0, 0, 0, 0, 0, 1, 0, 1, 2, 1]);

        // A settled minute is not read again: a row stamped into it
        // afterwards (which the engine never does) goes unseen by the memo
        // while a fresh count sees it.
        add(&mut store, &[t - 3 * MINUTE_MS + 7]);
        let memo_view = memo.per_minute(&store.db(), later, 10).unwrap();
        let fresh = WriteMinutes::default()
            .per_minute(&store.db(), later, 10)
            .unwrap();
        assert_eq!(memo_view, again);
        assert_eq!(fresh[5], 2);
    }
    }
}
