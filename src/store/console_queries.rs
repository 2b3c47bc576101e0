//! Aggregates the console's Overview needs, each bounded by a time index
//! (migration V2) so they read only recent rows, plus the deliberately naive
//! OFFSET/COUNT(*) paging the console benchmark compares keyset paging with.

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

impl Db<'_> {
    /// Engine writes per minute over the last `minutes` minutes before
    /// `now_ms`, and attempt outcomes over the last `error_window_ms`.
    pub fn activity(
        &self,
        now_ms: i64,
        minutes: usize,
        error_window_ms: i64,
    ) -> Result<ActivityStats> {
        let minute = 60_000;
        let span = i64::try_from(minutes).unwrap_or(60).max(1);
        let start = (now_ms / minute - span + 1) * minute;
        let mut per = vec![0u64; minutes.max(1)];
        let mut stmt = self.conn.prepare_cached(
            "SELECT (at - ?1) / 60000 AS m, count(*) FROM audit
             WHERE at >= ?1 AND at <= ?2 AND actor = 'engine' GROUP BY m",
        )?;
        let rows = stmt.query_map([start, now_ms], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (m, n) = row?;
            if let Some(slot) = usize::try_from(m).ok().and_then(|m| per.get_mut(m)) {
                *slot = u64::try_from(n).unwrap_or(0);
            }
        }
        let (attempts, failed_attempts) = self.conn.query_row(
            "SELECT count(*), COALESCE(sum(outcome <> 'ok'), 0) FROM job_attempts
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
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?;
        let mut stmt = db
            .conn
            .prepare_cached("SELECT id FROM jobs ORDER BY created_at, id LIMIT ?1 OFFSET ?2")?;
        let ids = stmt
            .query_map([limit, offset], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok((total, ids))
    }

    /// Search links the naive way (what the console did before migration
    /// V5): a substring match over the title and equality on each id, which
    /// scans the whole table.
    pub fn search_links_like(db: &Db<'_>, query: &str, limit: i64) -> Result<Vec<i64>> {
        let pattern = format!("%{}%", query.replace('%', "\\%").replace('_', "\\_"));
        let mut stmt = db.conn.prepare_cached(
            "SELECT id FROM links
             WHERE portal_id = ?1 OR linear_id = ?1 OR title LIKE ?2 ESCAPE '\\'
             ORDER BY id DESC LIMIT ?3",
        )?;
        let ids = stmt
            .query_map(rusqlite::params![query, pattern, limit], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(ids)
    }

    /// Count links the naive way.
    pub fn count_links(db: &Db<'_>) -> Result<i64> {
        Ok(db
            .conn
            .query_row("SELECT count(*) FROM links", [], |r| r.get(0))?)
    }
}
