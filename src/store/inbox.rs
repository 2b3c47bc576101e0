//! Verified webhook deliveries, stored before they are acknowledged. Unique on
//! (source, delivery id) and on (source, digest of the signed content): the
//! delivery id is not signed, so a captured delivery replayed under fresh ids
//! is still one delivery. Only what the engine needs is kept — which record,
//! which event, whether it was removed — never the body. Pending deliveries
//! are handed out once per record, and processed ones are pruned after a
//! retention window.

use super::sql::params;

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
    /// SHA-256 (hex) of the content the signature covers, so the same
    /// signed delivery is stored once whatever delivery id it arrives with.
    pub signed_digest: Option<String>,
    /// What an update says it replaced (see
    /// [`crate::connector::DeliveryHint::evidence`]).
    pub evidence: Option<String>,
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
    /// What an update says it replaced, if the sender says.
    pub evidence: Option<String>,
}

fn row(r: &super::sql::Row<'_>) -> Result<InboxItem> {
    Ok(InboxItem {
        id: r.get(0)?,
        source: parse_name(1, r.get(1)?)?,
        delivery_id: r.get(2)?,
        event: r.get(3)?,
        record_id: r.get(4)?,
        removed: r.get(5)?,
        received_at: r.get(6)?,
        processed_at: r.get(7)?,
        evidence: r.get(8)?,
    })
}

const COLS: &str =
    "id, source, delivery_id, event, record_id, removed, received_at, processed_at, evidence";

impl Db<'_> {
    /// Store a delivery; returns false (and stores nothing) when the same
    /// delivery id, or the same signed content, from the same source is
    /// already there.
    pub fn insert_delivery(&self, d: &NewDelivery) -> Result<bool> {
        // No conflict target: either uniqueness (delivery id or signed
        // digest) makes the insert a no-op.
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO inbox (source, delivery_id, event, record_id, removed, signed_digest,
                                received_at, evidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                d.source.as_str(),
                d.delivery_id,
                d.event,
                d.record_id,
                d.removed,
                d.signed_digest,
                now_ms(),
                d.evidence
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
            .collect::<Result<Vec<_>>>()?;
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

    /// Mark handled every pending delivery about `item`'s record up to
    /// `horizon` (the newest id the caller had seen before it read the
    /// record): one read of the record answers all of them, however many
    /// arrived. Deliveries naming no record are marked one by one.
    pub fn mark_record_processed(&self, item: &InboxItem, horizon: i64) -> Result<usize> {
        let n = match &item.record_id {
            Some(record) => self
                .conn
                .prepare_cached(
                    "UPDATE inbox SET processed_at = ?4
                     WHERE source = ?1 AND record_id = ?2 AND processed_at IS NULL AND id <= ?3",
                )?
                .execute(params![item.source.as_str(), record, horizon, now_ms()])?,
            None => self
                .conn
                .prepare_cached(
                    "UPDATE inbox SET processed_at = ?2 WHERE id = ?1 AND processed_at IS NULL",
                )?
                .execute(params![item.id, now_ms()])?,
        };
        Ok(n)
    }

    /// Delete processed deliveries received before `cutoff` (ms), at most
    /// `limit` of them; returns how many went. Unprocessed deliveries are
    /// never pruned.
    pub fn prune_deliveries(&self, cutoff: i64, limit: usize) -> Result<usize> {
        self.conn.execute(
            "DELETE FROM inbox WHERE id IN (
                 SELECT id FROM inbox
                 WHERE processed_at IS NOT NULL AND received_at < ?1
                 ORDER BY received_at LIMIT ?2)",
            params![cutoff, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// Number of deliveries not yet processed.
    pub fn count_pending_deliveries(&self) -> Result<i64> {
        self.conn.query_row(
            "SELECT count(*) FROM inbox WHERE processed_at IS NULL",
            (),
            |r| r.get(0),
        )
    }

    /// A keyset window over all deliveries.
    pub fn deliveries(&self, window: Window) -> Result<Vec<InboxItem>> {
        let (cond, order) = window.clauses("id");
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM inbox WHERE {cond} {order}"))?;
        let rows = stmt
            .query_map(
                super::sql::named_params! {":from": window.key_bound(), ":limit": window.limit_i64()},
                row,
            )?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }
}
