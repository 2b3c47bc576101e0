//! What keeps concurrent edits converging instead of being lost or looping:
//! values a side refused (until the merge turns them into a "cannot write"
//! conflict), receipts of landed Linear writes (checked against their own
//! webhook's `updatedFrom`), and the per-link circuit breaker.

use std::collections::BTreeMap;

use super::sql::{OptionalExtension, params};

use super::{Db, Result, json, now_ms, parse_json, parse_name};
use crate::domain::{FieldValue, Side};

/// A value a side refused to store (a validation error on a one-field write).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRefusal {
    /// Row id.
    pub id: i64,
    /// The link.
    pub link_id: i64,
    /// The side that refused.
    pub side: Side,
    /// That side's field name.
    pub field: String,
    /// The value it refused, as sent.
    pub value: FieldValue,
    /// The remote's message.
    pub message: String,
    /// The job whose write was refused.
    pub job_id: Option<i64>,
}

/// What a write expected to replace and wrote, per field (this side's
/// names), recorded before it is sent and kept until the write's own
/// webhook says what it really replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteReceipt {
    /// Row id.
    pub id: i64,
    /// The link.
    pub link_id: Option<i64>,
    /// The side written.
    pub side: Side,
    /// The record written.
    pub remote_id: String,
    /// The values the write expected to replace (read just before it).
    pub expected: BTreeMap<String, FieldValue>,
    /// The values it wrote.
    pub written: BTreeMap<String, FieldValue>,
}

/// A link's circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBreaker {
    /// The link.
    pub link_id: i64,
    /// Failed jobs in the current window.
    pub failures: i64,
    /// Start of the window (ms).
    pub window_start: i64,
    /// How often it tripped in a row (doubles the pause).
    pub trips: i64,
    /// Until when the link is paused (ms), if it tripped.
    pub tripped_until: Option<i64>,
    /// The last failure, for the operator.
    pub reason: String,
}

fn breaker_row(r: &super::sql::Row<'_>) -> Result<LinkBreaker> {
    Ok(LinkBreaker {
        link_id: r.get(0)?,
        failures: r.get(1)?,
        window_start: r.get(2)?,
        trips: r.get(3)?,
        tripped_until: r.get(4)?,
        reason: r.get(5)?,
    })
}

impl Db<'_> {
    /// Remember that `side` refused `value` for `field` on a link.
    pub fn record_refusal(
        &self,
        link_id: i64,
        side: Side,
        field: &str,
        value: &FieldValue,
        message: &str,
        job_id: Option<i64>,
    ) -> Result<i64> {
        self.conn.query_row(
            "INSERT INTO write_refusals (link_id, side, field, value, message, job_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             RETURNING id",
            params![
                link_id,
                side.as_str(),
                field,
                json(value),
                message,
                job_id,
                now_ms()
            ],
            |r| r.get(0),
        )
    }

    /// Refusals of one link not yet turned into conflicts.
    pub fn refusals_for_link(&self, link_id: i64) -> Result<Vec<WriteRefusal>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, link_id, side, field, value, message, job_id FROM write_refusals
             WHERE link_id = ?1 ORDER BY id",
        )?;
        let raws = stmt
            .query_map([link_id], |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<i64>(1)?,
                    parse_name::<Side>(2, r.get(2)?)?,
                    r.get::<String>(3)?,
                    r.get::<String>(4)?,
                    r.get::<String>(5)?,
                    r.get::<Option<i64>>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter()
            .map(|(id, link_id, side, field, value, message, job_id)| {
                Ok(WriteRefusal {
                    id,
                    link_id,
                    side,
                    field,
                    value: parse_json("refused value", &value)?,
                    message,
                    job_id,
                })
            })
            .collect()
    }

    /// Forget a link's refusals (the merge has dealt with them).
    pub fn clear_refusals(&self, link_id: i64) -> Result<usize> {
        self.conn
            .execute("DELETE FROM write_refusals WHERE link_id = ?1", [link_id])
    }

    /// Keep what a write about to be sent expects to replace and writes.
    pub fn insert_write_receipt(
        &self,
        link_id: Option<i64>,
        side: Side,
        remote_id: &str,
        expected: &BTreeMap<String, FieldValue>,
        written: &BTreeMap<String, FieldValue>,
    ) -> Result<i64> {
        self.conn.query_row(
            "INSERT INTO write_receipts (link_id, side, remote_id, expected, written, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             RETURNING id",
            params![
                link_id,
                side.as_str(),
                remote_id,
                json(expected),
                json(written),
                now_ms()
            ],
            |r| r.get(0),
        )
    }

    /// The receipt (newest first) of our write whose written values `is_ours`
    /// recognises in an update, taken out of the store.
    pub fn take_write_receipt(
        &self,
        side: Side,
        remote_id: &str,
        is_ours: impl Fn(&BTreeMap<String, FieldValue>) -> bool,
    ) -> Result<Option<WriteReceipt>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, link_id, expected, written FROM write_receipts
             WHERE side = ?1 AND remote_id = ?2 ORDER BY id DESC LIMIT 20",
        )?;
        let rows = stmt
            .query_map(params![side.as_str(), remote_id], |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<Option<i64>>(1)?,
                    r.get::<String>(2)?,
                    r.get::<String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>>>()?;
        for (id, link_id, expected, written) in rows {
            let written: BTreeMap<String, FieldValue> =
                parse_json("receipt written values", &written)?;
            if !is_ours(&written) {
                continue;
            }
            self.conn
                .execute("DELETE FROM write_receipts WHERE id = ?1", [id])?;
            return Ok(Some(WriteReceipt {
                id,
                link_id,
                side,
                remote_id: remote_id.to_string(),
                expected: parse_json("receipt expected values", &expected)?,
                written,
            }));
        }
        Ok(None)
    }

    /// Drop receipts older than `before_ms` (their webhook never came).
    pub fn prune_write_receipts(&self, before_ms: i64) -> Result<usize> {
        self.conn.execute(
            "DELETE FROM write_receipts WHERE created_at < ?1",
            [before_ms],
        )
    }

    /// A link's breaker, if it ever failed.
    pub fn link_breaker(&self, link_id: i64) -> Result<Option<LinkBreaker>> {
        self.conn
            .prepare_cached(
                "SELECT link_id, failures, window_start, trips, tripped_until, reason
                 FROM link_breakers WHERE link_id = ?1",
            )?
            .query_row([link_id], breaker_row)
            .optional()
    }

    /// Store a link's breaker state.
    pub fn save_link_breaker(&self, b: &LinkBreaker) -> Result<()> {
        self.conn.execute(
            "INSERT INTO link_breakers (link_id, failures, window_start, trips, tripped_until, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (link_id) DO UPDATE SET failures = excluded.failures,
                window_start = excluded.window_start, trips = excluded.trips,
                tripped_until = excluded.tripped_until, reason = excluded.reason",
            params![
                b.link_id,
                b.failures,
                b.window_start,
                b.trips,
                b.tripped_until,
                b.reason
            ],
        )?;
        Ok(())
    }

    /// A write of the link landed: its breaker closes.
    pub fn clear_link_breaker(&self, link_id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM link_breakers WHERE link_id = ?1", [link_id])?;
        Ok(())
    }

    /// Links whose breaker is open at `now_ms`, newest trip first (none on
    /// a store older than the breakers).
    pub fn tripped_links(&self, now_ms: i64, limit: usize) -> Result<Vec<LinkBreaker>> {
        if !self.has_conflict_kinds()? {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT link_id, failures, window_start, trips, tripped_until, reason
             FROM link_breakers WHERE tripped_until > ?1 ORDER BY tripped_until DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(
                params![now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
                breaker_row,
            )?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }
}
