//! Queries for records whose identity changes over their life: a link that
//! follows a merge or a duplicate mark to the canonical record, the post a
//! merged post went into, and a record named by its human key.

use super::sql::{OptionalExtension, params};

use super::{Db, Result, StoreError, json, now_ms};
use crate::domain::{FieldValue, Side};

impl Db<'_> {
    /// Point a link's `side` at another record (the canonical one a merge
    /// or duplicate mark names), with a new base. Fails with a constraint
    /// error when that record is already linked: a record is never linked
    /// twice.
    pub fn move_link(
        &self,
        id: i64,
        side: Side,
        remote_id: &str,
        base: &std::collections::BTreeMap<String, FieldValue>,
    ) -> Result<()> {
        let col = match side {
            Side::Portal => "portal_id",
            Side::Linear => "linear_id",
        };
        let n = self.conn.execute(
            &format!("UPDATE links SET {col} = ?2, base = ?3, updated_at = ?4 WHERE id = ?1"),
            params![id, remote_id, json(base), now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "link", id });
        }
        Ok(())
    }

    /// The stored, live record of `side` that lists `merged_id` among the
    /// records merged into it (Canny's `mergeHistory`), if any. Only called
    /// when a record vanished, so a scan filtered by a text match is cheap
    /// enough.
    pub fn record_merging(&self, side: Side, merged_id: &str) -> Result<Option<String>> {
        let needle = format!("%{}%", serde_json::to_string(merged_id).unwrap_or_default());
        self
            .conn
            .prepare_cached(self.dialect_sql(
                "SELECT remote_id FROM records
                 WHERE side = ?1 AND deleted_at IS NULL AND fields LIKE ?3
                   AND EXISTS (SELECT 1 FROM json_each(records.fields, '$.merged_ids') WHERE value = ?2)
                 ORDER BY id LIMIT 1",
                "SELECT remote_id FROM records
                 WHERE side = ?1 AND deleted_at IS NULL AND fields LIKE ?3
                   AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(
                                   CASE jsonb_typeof(records.fields::jsonb -> 'merged_ids')
                                   WHEN 'array' THEN records.fields::jsonb -> 'merged_ids' END) AS m (value)
                               WHERE m.value = ?2)
                 ORDER BY id LIMIT 1",
            ))?
            .query_row(params![side.as_str(), merged_id, needle], |r| r.get(0))
            .optional()
    }

    /// The remote id of the record of `side` whose id or human key
    /// (`ENG-42`, compared without case) is `key`.
    pub fn record_id_by_key(&self, side: Side, key: &str) -> Result<Option<String>> {
        self
            .conn
            .prepare_cached(
                "SELECT remote_id FROM records
                 WHERE side = ?1 AND (remote_id = ?2 OR (identifier IS NOT NULL AND identifier = ?3))
                 ORDER BY id LIMIT 1",
            )?
            .query_row(params![side.as_str(), key, key.to_uppercase()], |r| r.get(0))
            .optional()
    }

    /// Every status seen on a live portal post, in first-seen order: what
    /// custom statuses the company uses.
    pub fn portal_statuses_seen(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(self.dialect_sql(
            "SELECT json_extract(fields, '$.status') AS s FROM records
             WHERE side = 'portal' AND deleted_at IS NULL
             GROUP BY s ORDER BY MIN(id)",
            "SELECT fields::jsonb ->> 'status' AS s FROM records
             WHERE side = 'portal' AND deleted_at IS NULL
             GROUP BY s ORDER BY MIN(id)",
        ))?;
        let rows = stmt
            .query_map((), |r| r.get::<Option<String>>(0))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows.into_iter().flatten().collect())
    }
}
