//! Verified webhook deliveries, stored before they are acknowledged. Unique on
//! (source, delivery id), so replays and duplicates are no-ops.

use rusqlite::params;

use super::{Db, Result, Window, now_ms, parse_name};
use crate::domain::Side;

/// A delivery to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Which system sent it.
    pub source: Side,
    /// The sender's delivery id (Linear-Delivery, Canny nonce).
    pub delivery_id: String,
    /// The event name.
    pub event: String,
    /// The record the event names, if any.
    pub record_id: Option<String>,
    /// Whether the event reports a removal.
    pub removed: bool,
    /// The raw body (signatures and secrets are never part of it).
    pub payload: String,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    /// Row id; deliveries are processed in this order.
    pub id: i64,
    /// Which system sent it.
    pub source: Side,
    /// The sender's delivery id.
    pub delivery_id: String,
    /// The event name.
    pub event: String,
    /// The record the event names, if any.
    pub record_id: Option<String>,
    /// Whether the event reports a removal.
    pub removed: bool,
    /// When it was stored (ms).
    pub received_at: i64,
    /// When the engine finished with it (ms).
    pub processed_at: Option<i64>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InboxItem> {
    Ok(InboxItem {
        id: r.get(0)?,
        source: parse_name(1, r.get(1)?)?,
        delivery_id: r.get(2)?,
        event: r.get(3)?,
        record_id: r.get(4)?,
        removed: r.get(5)?,
        received_at: r.get(6)?,
        processed_at: r.get(7)?,
    })
}

const COLS: &str = "id, source, delivery_id, event, record_id, removed, received_at, processed_at";

impl Db<'_> {
    /// Store a delivery; returns false (and stores nothing) when the same
    /// delivery id from the same source is already there.
    pub fn insert_delivery(&self, d: &NewDelivery) -> Result<bool> {
        let n = self.conn.prepare_cached(
            "INSERT INTO inbox (source, delivery_id, event, record_id, removed, payload, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (source, delivery_id) DO NOTHING",
        )?.execute(params![
                d.source.as_str(),
                d.delivery_id,
                d.event,
                d.record_id,
                d.removed,
                d.payload,
                now_ms()
            ])?;
        Ok(n == 1)
    }

    /// The oldest unprocessed deliveries, in arrival order.
    pub fn pending_deliveries(&self, limit: usize) -> Result<Vec<InboxItem>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM inbox WHERE processed_at IS NULL ORDER BY id LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Mark a delivery handled.
    pub fn mark_delivery_processed(&self, id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE inbox SET processed_at = ?2 WHERE id = ?1 AND processed_at IS NULL",
            params![id, now_ms()],
        )?;
        Ok(())
    }

    /// When the oldest unprocessed delivery arrived (sync lag).
    pub fn oldest_pending_delivery(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT min(received_at) FROM inbox WHERE processed_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// A keyset window over all deliveries.
    pub fn deliveries(&self, window: Window) -> Result<Vec<InboxItem>> {
        let (cond, order) = window.clauses("id");
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM inbox WHERE {cond} {order}"))?;
        let rows = stmt
            .query_map(
                rusqlite::named_params! {":from": window.key_bound(), ":limit": window.limit_i64()},
                row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The raw body of a delivery (the engine parses it when it needs more
    /// than the hint).
    pub fn delivery_payload(&self, id: i64) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT payload FROM inbox WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }
}
