//! Last-seen state of every remote object, in canonical form, with a content
//! hash so reconcile can tell what changed on a portal that has no update time.

use super::sql::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Db, Result, Window, json, now_ms, parse_json, parse_name, to_ms};
use crate::domain::{Record, Side};

/// A record as stored: the canonical fields plus bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Row id (keyset key).
    pub id: i64,
    /// Which system it lives in.
    pub side: Side,
    /// The canonical fields as last seen.
    pub record: Record,
    /// Hash of the canonical fields.
    pub content_hash: String,
    /// When roundtrip last read it (ms).
    pub seen_at: i64,
    /// When roundtrip saw it deleted (ms), if it was.
    pub deleted_at: Option<i64>,
    /// When its content last changed (ms): the remote's own update time when
    /// it has one (Linear), else when roundtrip first saw the current content
    /// (the portals have no update time). Feeds the `newest` conflict policy.
    pub changed_at: Option<i64>,
}

/// What an upsert found, so callers can count real changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// First time this record was seen.
    Inserted,
    /// Seen before and its content changed.
    Changed,
    /// Seen before, same content.
    Unchanged,
}

/// Stable hash of a record's canonical content (ignores bookkeeping fields
/// like `updated_at` that change without the content changing).
pub fn content_hash(record: &Record) -> String {
    let mut content = record.clone();
    content.updated_at = None;
    let mut h = Sha256::new();
    h.update(json(&content).as_bytes());
    hex::encode(&h.finalize()[..16])
}

const COLS: &str = "id, side, fields, content_hash, seen_at, deleted_at, remote_updated_at";

type Raw = (i64, Side, String, String, i64, Option<i64>, Option<i64>);

fn row(r: &super::sql::Row<'_>) -> Result<Raw> {
    Ok((
        r.get(0)?,
        parse_name(1, r.get(1)?)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn finish(raw: Raw) -> Result<StoredRecord> {
    let (id, side, fields, content_hash, seen_at, deleted_at, changed_at) = raw;
    Ok(StoredRecord {
        id,
        side,
        record: parse_json("record fields", &fields)?,
        content_hash,
        seen_at,
        deleted_at,
        changed_at,
    })
}

/// What decides whether a fresh read of a record changes its stored row:
/// the content hash and the remote update time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVersion {
    /// Hash of the stored canonical fields.
    pub content_hash: String,
    /// The stored change time (`StoredRecord::changed_at`).
    pub remote_updated_at: Option<i64>,
}

impl RecordVersion {
    /// Whether storing `record` (whose hash is `hash`) would leave the row
    /// as it is: same content and, when the remote reports one, the same
    /// update time. Such a record needs no write at all — the common case
    /// for a reconcile of records already in sync.
    pub fn unchanged_by(&self, hash: &str, record: &Record) -> bool {
        self.content_hash == hash
            && record
                .updated_at
                .is_none_or(|t| self.remote_updated_at == Some(to_ms(t)))
    }
}

impl Db<'_> {
    /// Store the latest state of a remote record. An unchanged record is
    /// not rewritten (so `seen_at` is when the row last changed).
    pub fn upsert_record(&self, side: Side, record: &Record) -> Result<UpsertOutcome> {
        let hash = content_hash(record);
        let previous = self.record_version(side, &record.remote_id)?;
        if previous
            .as_ref()
            .is_some_and(|p| p.unchanged_by(&hash, record))
        {
            return Ok(UpsertOutcome::Unchanged);
        }
        let now = now_ms();
        let deleted_at = record.deleted.then_some(now);
        self.conn
            .prepare_cached(
                "INSERT INTO records (side, remote_id, identifier, title, fields, content_hash,
                                  remote_updated_at, seen_at, deleted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, ?8), ?8, ?9)
             ON CONFLICT (side, remote_id) DO UPDATE SET
                identifier = excluded.identifier, title = excluded.title,
                fields = excluded.fields, content_hash = excluded.content_hash,
                remote_updated_at = CASE
                    WHEN ?7 IS NOT NULL THEN ?7
                    WHEN records.content_hash = excluded.content_hash THEN records.remote_updated_at
                    ELSE ?8 END,
                seen_at = excluded.seen_at,
                deleted_at = COALESCE(records.deleted_at, excluded.deleted_at)",
            )?
            .execute(params![
                side.as_str(),
                record.remote_id,
                record.identifier,
                record.title,
                json(record),
                hash,
                record.updated_at.map(to_ms),
                now,
                deleted_at
            ])?;
        Ok(match previous {
            None => UpsertOutcome::Inserted,
            Some(p) if p.content_hash == hash => UpsertOutcome::Unchanged,
            Some(_) => UpsertOutcome::Changed,
        })
    }

    /// Hash and update time of a stored record (one indexed lookup, no
    /// JSON), to decide whether a fresh read needs a write.
    pub fn record_version(&self, side: Side, remote_id: &str) -> Result<Option<RecordVersion>> {
        self.conn
            .prepare_cached(
                "SELECT content_hash, remote_updated_at FROM records
                 WHERE side = ?1 AND remote_id = ?2",
            )?
            .query_row(params![side.as_str(), remote_id], |r| {
                Ok(RecordVersion {
                    content_hash: r.get(0)?,
                    remote_updated_at: r.get(1)?,
                })
            })
            .optional()
    }

    /// Mark a record deleted remotely (after the deletion was confirmed).
    pub fn mark_record_deleted(&self, side: Side, remote_id: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE records SET deleted_at = COALESCE(deleted_at, ?3)
                 WHERE side = ?1 AND remote_id = ?2",
            )?
            .execute(params![side.as_str(), remote_id, now_ms()])?;
        Ok(n > 0)
    }

    /// The stored state of one remote record.
    pub fn record(&self, side: Side, remote_id: &str) -> Result<Option<StoredRecord>> {
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM records WHERE side = ?1 AND remote_id = ?2"
            ))?
            .query_row(params![side.as_str(), remote_id], row)
            .optional()?;
        raw.map(finish).transpose()
    }

    /// Content hash of a stored record, cheaper than loading it (reconcile).
    pub fn record_hash(&self, side: Side, remote_id: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT content_hash FROM records WHERE side = ?1 AND remote_id = ?2")?
            .query_row(params![side.as_str(), remote_id], |r| r.get(0))
            .optional()
    }

    /// A keyset window of one side's records.
    pub fn records(&self, side: Side, window: Window) -> Result<Vec<StoredRecord>> {
        let (cond, order) = window.clauses("id");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM records WHERE side = :side AND {cond} {order}"
        ))?;
        let raws = stmt
            .query_map(
                super::sql::named_params! {":side": side.as_str(), ":from": window.key_bound(), ":limit": window.limit_i64()},
                row,
            )?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// Remote ids of one side's records not marked deleted (reconcile looks
    /// for ids that vanished from a listing).
    pub fn live_record_ids(&self, side: Side) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT remote_id FROM records WHERE side = ?1 AND deleted_at IS NULL ORDER BY id",
        )?;
        let ids = stmt
            .query_map([side.as_str()], |r| r.get(0))?
            .collect::<Result<Vec<String>>>()?;
        Ok(ids)
    }

    /// When the stored state of a record was last known to be current (ms):
    /// the start of the read that brought it, or the landing of a write.
    /// A read that started earlier may carry older values and must not
    /// replace it.
    pub fn record_fresh_at(&self, side: Side, remote_id: &str) -> Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT fresh_at FROM records WHERE side = ?1 AND remote_id = ?2")?
            .query_row(params![side.as_str(), remote_id], |r| r.get(0))
            .optional()
    }

    /// Records on `side` stored (read or written) at or after `since_ms`.
    pub fn records_fresh_since(&self, side: Side, since_ms: i64) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT remote_id FROM records WHERE side = ?1 AND fresh_at >= ?2 ORDER BY id",
        )?;
        let ids = stmt
            .query_map(params![side.as_str(), since_ms], |r| r.get(0))?
            .collect::<Result<Vec<String>>>()?;
        Ok(ids)
    }

    /// Move a record's freshness forward to `at_ms` (never back).
    pub fn mark_record_fresh(&self, side: Side, remote_id: &str, at_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE records SET fresh_at = CASE WHEN fresh_at < ?3 THEN ?3 ELSE fresh_at END WHERE side = ?1 AND remote_id = ?2",
            )?
            .execute(params![side.as_str(), remote_id, at_ms])?;
        Ok(())
    }
}
