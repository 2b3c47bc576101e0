//! Append-only log of every change roundtrip made to a remote system and every
//! operator action, with the reason: the answer to "why is this value here?".

use super::sql::params;
use serde::Serialize;

use super::{Db, Result, Window, now_ms, parse_name};
use crate::domain::{Actor, AuditAction, Side};

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// The link concerned, if any.
    pub link_id: Option<i64>,
    /// Who acted.
    pub actor: Actor,
    /// What happened.
    pub action: AuditAction,
    /// Which system was changed, if a remote write.
    pub side: Option<Side>,
    /// Which field, if one.
    pub field: Option<String>,
    /// Value before, rendered for humans.
    pub before: Option<String>,
    /// Value after, rendered for humans.
    pub after: Option<String>,
    /// Why (the merge explanation or the operator's command).
    pub reason: String,
}

impl NewAudit {
    /// An entry with only who and what set; fill the rest with struct
    /// update syntax (`NewAudit { link_id, ..NewAudit::new(actor, action) }`).
    pub fn new(actor: Actor, action: AuditAction) -> Self {
        NewAudit {
            link_id: None,
            actor,
            action,
            side: None,
            field: None,
            before: None,
            after: None,
            reason: String::new(),
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// The link concerned.
    pub link_id: Option<i64>,
    /// Who acted.
    pub actor: Actor,
    /// What happened.
    pub action: AuditAction,
    /// Which system was changed.
    pub side: Option<Side>,
    /// Which field.
    pub field: Option<String>,
    /// Value before.
    pub before: Option<String>,
    /// Value after.
    pub after: Option<String>,
    /// Why.
    pub reason: String,
}

const COLS: &str = "id, at, link_id, actor, action, side, field, before, after, reason";

fn row(r: &super::sql::Row<'_>) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        link_id: r.get(2)?,
        actor: parse_name(3, r.get(3)?)?,
        action: parse_name(4, r.get(4)?)?,
        side: r
            .get::<Option<String>>(5)?
            .map(|s| parse_name(5, s))
            .transpose()?,
        field: r.get(6)?,
        before: r.get(7)?,
        after: r.get(8)?,
        reason: r.get(9)?,
    })
}

impl Db<'_> {
    /// Append an entry.
    pub fn append_audit(&self, e: &NewAudit) -> Result<i64> {
        self.conn.query_row(
            "INSERT INTO audit (at, link_id, actor, action, side, field, before, after, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             RETURNING id",
            params![
                now_ms(),
                e.link_id,
                e.actor.as_str(),
                e.action.as_str(),
                e.side.map(Side::as_str),
                e.field,
                e.before,
                e.after,
                e.reason
            ],
            |r| r.get(0),
        )
    }

    /// A record's timeline: its link's entries in a keyset window.
    pub fn audit_for_link(&self, link_id: i64, window: Window) -> Result<Vec<AuditEntry>> {
        let (cond, order) = window.clauses("id");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM audit WHERE link_id = :link AND {cond} {order}"
        ))?;
        let rows = stmt
            .query_map(
                super::sql::named_params! {":link": link_id, ":from": window.key_bound(), ":limit": window.limit_i64()},
                row,
            )?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The whole log in a keyset window.
    pub fn audit(&self, window: Window) -> Result<Vec<AuditEntry>> {
        let (cond, order) = window.clauses("id");
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM audit WHERE {cond} {order}"))?;
        let rows = stmt
            .query_map(
                super::sql::named_params! {":from": window.key_bound(), ":limit": window.limit_i64()},
                row,
            )?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }
}
