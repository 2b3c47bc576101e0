//! Rate-limit readings: the latest per connector and limit kind (for the
//! gauge) and a time series (for the burn rate and exhaustion forecast).

use super::sql::params;

use super::{Db, Result, from_ms, parse_name, to_ms};
use crate::domain::{QuotaKind, QuotaSample, Side};

fn sample(r: &super::sql::Row<'_>) -> Result<QuotaSample> {
    Ok(QuotaSample {
        connector: parse_name::<Side>(0, r.get(0)?)?,
        kind: parse_name::<QuotaKind>(1, r.get(1)?)?,
        limit: r.get(2)?,
        remaining: r.get(3)?,
        reset_at: r.get::<Option<i64>>(4)?.map(from_ms),
        sampled_at: from_ms(r.get(5)?),
    })
}

impl Db<'_> {
    /// Record a reading: appended to the series and kept as the latest.
    pub fn record_quota(&self, s: &QuotaSample) -> Result<()> {
        let (connector, kind) = (s.connector.as_str(), s.kind.as_str());
        let (reset_at, sampled_at) = (s.reset_at.map(to_ms), to_ms(s.sampled_at));
        let values = params![connector, kind, s.limit, s.remaining, reset_at, sampled_at];
        self.conn.execute(
            "INSERT INTO quota_samples (connector, kind, lim, remaining, reset_at, sampled_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            values,
        )?;
        self.conn.execute(
            "INSERT INTO quota (connector, kind, lim, remaining, reset_at, sampled_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (connector, kind) DO UPDATE SET lim = excluded.lim,
                remaining = excluded.remaining, reset_at = excluded.reset_at,
                sampled_at = excluded.sampled_at
             WHERE excluded.sampled_at >= quota.sampled_at",
            values,
        )?;
        Ok(())
    }

    /// The latest reading of every connector and kind.
    pub fn latest_quota(&self) -> Result<Vec<QuotaSample>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT connector, kind, lim, remaining, reset_at, sampled_at FROM quota
             ORDER BY connector, kind",
        )?;
        let rows = stmt.query_map((), sample)?.collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Readings of one connector and kind since `since_ms`, oldest first,
    /// at most `limit` (the newest ones when there are more).
    pub fn quota_series(
        &self,
        connector: Side,
        kind: QuotaKind,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<QuotaSample>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM (
                SELECT connector, kind, lim, remaining, reset_at, sampled_at FROM quota_samples
                WHERE connector = ?1 AND kind = ?2 AND sampled_at >= ?3
                ORDER BY sampled_at DESC LIMIT ?4) newest
             ORDER BY sampled_at",
        )?;
        let rows = stmt
            .query_map(
                params![
                    connector.as_str(),
                    kind.as_str(),
                    since_ms,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                sample,
            )?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Drop readings older than `before_ms` so the series stays bounded.
    pub fn prune_quota_samples(&self, before_ms: i64) -> Result<usize> {
        self.conn.execute(
            "DELETE FROM quota_samples WHERE sampled_at < ?1",
            [before_ms],
        )
    }
}
