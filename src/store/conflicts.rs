//! Fields both sides changed differently, waiting for a human (or resolved,
//! waiting for the engine to write the decision). One open conflict per link
//! and field.

use super::sql::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result, StoreError, Window, json, now_ms, parse_json, parse_name};
use crate::domain::{Actor, ConflictReason, FieldValue, Side};

/// Open or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictStatus {
    /// Waiting for an operator.
    Open,
    /// Decided; `applied_at` says whether the engine has written it.
    Resolved,
}

impl std::str::FromStr for ConflictStatus {
    type Err = crate::domain::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(ConflictStatus::Open),
            "resolved" => Ok(ConflictStatus::Resolved),
            other => Err(crate::domain::UnknownName {
                what: "conflict status",
                value: other.to_string(),
            }),
        }
    }
}

/// How an operator decided a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "take", content = "value")]
pub enum Resolution {
    /// Keep the portal's value (write it to Linear).
    Portal,
    /// Keep Linear's value (write it to the portal).
    Linear,
    /// Restore the base value on both sides.
    Base,
    /// A merged value edited by hand, written to both sides.
    Value(FieldValue),
    /// Both sides came to agree on their own; nothing to write.
    Agreed,
    /// A side changed the field again, so the conflict's question (a
    /// refused value, an overwritten edit) no longer stands; the merge
    /// carries on with the new value.
    Superseded,
}

impl Resolution {
    /// Stored name of the choice.
    pub fn as_str(&self) -> &'static str {
        match self {
            Resolution::Portal => "portal",
            Resolution::Linear => "linear",
            Resolution::Base => "base",
            Resolution::Value(_) => "value",
            Resolution::Agreed => "agreed",
            Resolution::Superseded => "superseded",
        }
    }
}

/// A conflict to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConflict {
    /// The link.
    pub link_id: i64,
    /// The mapping field name.
    pub field: String,
    /// The last agreed value.
    pub base: FieldValue,
    /// The portal's current value.
    pub portal: FieldValue,
    /// Linear's current value.
    pub linear: FieldValue,
    /// When the portal's change was observed (ms).
    pub portal_changed_at: Option<i64>,
    /// When Linear's change happened (ms).
    pub linear_changed_at: Option<i64>,
}

/// A conflict as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// Row id.
    pub id: i64,
    /// The link.
    pub link_id: i64,
    /// The mapping field name.
    pub field: String,
    /// The last agreed value.
    pub base: FieldValue,
    /// The portal's value.
    pub portal: FieldValue,
    /// Linear's value.
    pub linear: FieldValue,
    /// When the portal's change was observed (ms).
    pub portal_changed_at: Option<i64>,
    /// When Linear's change happened (ms).
    pub linear_changed_at: Option<i64>,
    /// Open or resolved.
    pub status: ConflictStatus,
    /// The decision, once made.
    pub resolution: Option<Resolution>,
    /// Who decided.
    pub resolved_by: Option<Actor>,
    /// When (ms).
    pub resolved_at: Option<i64>,
    /// When the engine wrote the decision (ms).
    pub applied_at: Option<i64>,
    /// When it was opened (ms).
    pub created_at: i64,
    /// Why it waits for a human.
    pub kind: ConflictReason,
    /// The side a refused or overwritten value concerns.
    pub kind_side: Option<Side>,
    /// The refusal message or what was overwritten, for the operator.
    pub note: Option<String>,
}

/// Which conflicts a listing covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConflictFilter {
    /// Only this status (default: any).
    pub status: Option<ConflictStatus>,
    /// Only this field.
    pub field: Option<String>,
}

const COLS: &str = "id, link_id, field, base_value, portal_value, linear_value, portal_changed_at,
    linear_changed_at, status, resolution, resolved_value, resolved_by, resolved_at, applied_at, created_at,
    kind, kind_side, note";

/// The same columns on a store not yet migrated to V6 (read-only commands
/// against an older daemon's store): every conflict there is "both changed".
const COLS_BEFORE_V6: &str = "id, link_id, field, base_value, portal_value, linear_value,
    portal_changed_at, linear_changed_at, status, resolution, resolved_value, resolved_by,
    resolved_at, applied_at, created_at, 'both_changed', NULL, NULL";

/// The schema version that added conflict kinds (and refusals, receipts and
/// link breakers).
pub(super) const KINDS_SINCE: i64 = 6;

type Raw = (
    i64,
    i64,
    String,
    [String; 3],
    Option<i64>,
    Option<i64>,
    ConflictStatus,
    Option<String>,
    Option<String>,
    Option<Actor>,
    [Option<i64>; 2],
    i64,
    (ConflictReason, Option<Side>, Option<String>),
);

fn row(r: &super::sql::Row<'_>) -> Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        [r.get(3)?, r.get(4)?, r.get(5)?],
        r.get(6)?,
        r.get(7)?,
        parse_name(8, r.get(8)?)?,
        r.get(9)?,
        r.get(10)?,
        r.get::<Option<String>>(11)?
            .map(|s| parse_name(11, s))
            .transpose()?,
        [r.get(12)?, r.get(13)?],
        r.get(14)?,
        (
            parse_name(15, r.get(15)?)?,
            r.get::<Option<String>>(16)?
                .map(|s| parse_name(16, s))
                .transpose()?,
            r.get(17)?,
        ),
    ))
}

fn finish(raw: Raw) -> Result<Conflict> {
    let (
        id,
        link_id,
        field,
        [b, p, l],
        pc,
        lc,
        status,
        resolution,
        value,
        by,
        [at, applied],
        created,
        (kind, kind_side, note),
    ) = raw;
    let resolution = match resolution.as_deref() {
        None => None,
        Some("portal") => Some(Resolution::Portal),
        Some("linear") => Some(Resolution::Linear),
        Some("base") => Some(Resolution::Base),
        Some("agreed") => Some(Resolution::Agreed),
        Some("superseded") => Some(Resolution::Superseded),
        Some(_) => Some(Resolution::Value(parse_json(
            "conflict resolved value",
            value.as_deref().unwrap_or("null"),
        )?)),
    };
    Ok(Conflict {
        id,
        link_id,
        field,
        base: parse_json("conflict base", &b)?,
        portal: parse_json("conflict portal value", &p)?,
        linear: parse_json("conflict linear value", &l)?,
        portal_changed_at: pc,
        linear_changed_at: lc,
        status,
        resolution,
        resolved_by: by,
        resolved_at: at,
        applied_at: applied,
        created_at: created,
        kind,
        kind_side,
        note,
    })
}

impl Db<'_> {
    /// Whether the store has the V6 convergence tables and columns (a
    /// read-only command may run against an older daemon's store).
    pub(super) fn has_conflict_kinds(&self) -> Result<bool> {
        let v: i64 = self.schema_version()?;
        Ok(v >= KINDS_SINCE)
    }

    fn conflict_cols(&self) -> Result<&'static str> {
        Ok(if self.has_conflict_kinds()? {
            COLS
        } else {
            COLS_BEFORE_V6
        })
    }

    /// Open a conflict, or refresh the open one for the same link and field
    /// with the latest values. Returns the conflict id.
    pub fn open_conflict(&self, c: &NewConflict) -> Result<i64> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO conflicts (link_id, field, base_value, portal_value, linear_value,
                                    portal_changed_at, linear_changed_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (link_id, field) WHERE status = 'open' DO UPDATE SET
                base_value = excluded.base_value, portal_value = excluded.portal_value,
                linear_value = excluded.linear_value,
                portal_changed_at = excluded.portal_changed_at,
                linear_changed_at = excluded.linear_changed_at",
            params![
                c.link_id,
                c.field,
                json(&c.base),
                json(&c.portal),
                json(&c.linear),
                c.portal_changed_at,
                c.linear_changed_at,
                now
            ],
        )?;
        self.conn.query_row(
            "SELECT id FROM conflicts WHERE link_id = ?1 AND field = ?2 AND status = 'open'",
            params![c.link_id, c.field],
            |r| r.get(0),
        )
    }

    /// One conflict by id.
    pub fn conflict(&self, id: i64) -> Result<Option<Conflict>> {
        let raw = self
            .conn
            .query_row(
                &format!(
                    "SELECT {cols} FROM conflicts WHERE id = ?1",
                    cols = self.conflict_cols()?
                ),
                [id],
                row,
            )
            .optional()?;
        raw.map(finish).transpose()
    }

    /// A keyset window of conflicts, oldest first by default.
    pub fn conflicts(&self, filter: &ConflictFilter, window: Window) -> Result<Vec<Conflict>> {
        let (cond, order) = window.clauses("id");
        let status = match filter.status {
            Some(ConflictStatus::Open) => "status = 'open'",
            Some(ConflictStatus::Resolved) => "status = 'resolved'",
            None => "1 = 1",
        };
        let field = if filter.field.is_some() {
            "field = :field"
        } else {
            ":field = :field"
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {cols} FROM conflicts WHERE {status} AND {field} AND {cond} {order}",
            cols = self.conflict_cols()?
        ))?;
        let raws = stmt
            .query_map(
                super::sql::named_params! {
                    ":field": filter.field.as_deref().unwrap_or(""),
                    ":from": window.key_bound(), ":limit": window.limit_i64()
                },
                row,
            )?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// Open conflicts of one link.
    pub fn open_conflicts_for_link(&self, link_id: i64) -> Result<Vec<Conflict>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {cols} FROM conflicts WHERE link_id = ?1 AND status = 'open' ORDER BY id",
            cols = self.conflict_cols()?
        ))?;
        let raws = stmt
            .query_map([link_id], row)?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// Operator intent: decide an open conflict. The engine writes the
    /// decision to both sides and marks it applied.
    pub fn resolve_conflict(&self, id: i64, resolution: &Resolution, by: Actor) -> Result<()> {
        let value = match resolution {
            Resolution::Value(v) => Some(json(v)),
            _ => None,
        };
        let n = self.conn.execute(
            "UPDATE conflicts SET status = 'resolved', resolution = ?2, resolved_value = ?3,
                resolved_by = ?4, resolved_at = ?5
             WHERE id = ?1 AND status = 'open'",
            params![id, resolution.as_str(), value, by.as_str(), now_ms()],
        )?;
        if n == 0 {
            return match self.conflict(id)? {
                None => Err(StoreError::NotFound {
                    what: "conflict",
                    id,
                }),
                Some(_) => Err(StoreError::NotFound {
                    what: "open conflict",
                    id,
                }),
            };
        }
        Ok(())
    }

    /// Resolved conflicts whose decision the engine has not written yet.
    pub fn unapplied_resolutions(&self, limit: usize) -> Result<Vec<Conflict>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM conflicts WHERE status = 'resolved' AND applied_at IS NULL
             ORDER BY id LIMIT ?1"
        ))?;
        let raws = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], row)?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// Close the open conflict of a field that both sides have since
    /// settled on their own (nothing left to write).
    pub fn settle_conflict(&self, link_id: i64, field: &str) -> Result<bool> {
        let now = now_ms();
        let n = self.conn.execute(
            "UPDATE conflicts SET status = 'resolved', resolution = 'agreed', resolved_by = 'engine',
                resolved_at = ?3, applied_at = ?3
             WHERE link_id = ?1 AND field = ?2 AND status = 'open'",
            params![link_id, field, now],
        )?;
        Ok(n > 0)
    }

    /// The engine has turned a resolution into jobs.
    pub fn mark_conflict_applied(&self, id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE conflicts SET applied_at = ?2 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        Ok(())
    }

    /// Say why an open conflict exists beyond "both changed" (a refused or
    /// overwritten value), with the side it concerns and a note.
    pub fn set_conflict_kind(
        &self,
        id: i64,
        kind: ConflictReason,
        side: Option<Side>,
        note: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE conflicts SET kind = ?2, kind_side = ?3, note = ?4 WHERE id = ?1",
            params![id, kind.as_str(), side.map(Side::as_str), note],
        )?;
        Ok(())
    }

    /// Show the sides' current values in an open conflict (they changed
    /// since it opened). Returns whether anything changed.
    pub fn refresh_conflict_values(
        &self,
        id: i64,
        portal: &FieldValue,
        linear: &FieldValue,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE conflicts SET portal_value = ?2, linear_value = ?3
             WHERE id = ?1 AND status = 'open' AND (portal_value <> ?2 OR linear_value <> ?3)",
            params![id, json(portal), json(linear)],
        )?;
        Ok(n > 0)
    }

    /// Ask again: a resolution could not be applied because the chosen
    /// side's value changed after the operator decided. The conflict opens
    /// again with the current values and a note saying why. Returns false
    /// (and changes nothing) when another open conflict for the same link
    /// and field exists meanwhile.
    pub fn reopen_conflict(
        &self,
        id: i64,
        portal: &FieldValue,
        linear: &FieldValue,
        note: &str,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE conflicts SET status = 'open', resolution = NULL, resolved_value = NULL,
                resolved_by = NULL, resolved_at = NULL, applied_at = NULL,
                portal_value = ?2, linear_value = ?3, note = ?4
             WHERE id = ?1 AND status = 'resolved' AND NOT EXISTS (
                SELECT 1 FROM conflicts o WHERE o.status = 'open'
                  AND o.link_id = conflicts.link_id AND o.field = conflicts.field)",
            params![id, json(portal), json(linear), note],
        )?;
        Ok(n > 0)
    }

    /// Close an open conflict whose question no longer stands (a side
    /// changed the refused or overwritten field again).
    pub fn supersede_conflict(&self, link_id: i64, field: &str) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE conflicts SET status = 'resolved', resolution = 'superseded',
                resolved_by = 'engine', resolved_at = ?3, applied_at = ?3
             WHERE link_id = ?1 AND field = ?2 AND status = 'open'",
            params![link_id, field, now_ms()],
        )?;
        Ok(n > 0)
    }

    /// Conflicts of one link the merge must leave alone: the open ones and
    /// those resolved but not yet written (a merge in between would
    /// otherwise open the same question again).
    pub fn pending_conflicts_for_link(&self, link_id: i64) -> Result<Vec<Conflict>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM conflicts WHERE link_id = ?1
               AND (status = 'open' OR applied_at IS NULL) ORDER BY id"
        ))?;
        let raws = stmt
            .query_map([link_id], row)?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter().map(finish).collect()
    }
}
