//! Synced pairs (portal id ↔ Linear id) with the base snapshot both sides
//! last agreed on. Unique on each side's id: a post can never be linked twice.

use std::collections::BTreeMap;

use super::sql::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Db, Result, StoreError, Window, json, now_ms, parse_json, parse_name};
use crate::domain::{FieldValue, Side};

/// Lifecycle of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// A create is in flight; the client id is persisted, the remote id not
    /// yet known.
    Pending,
    /// Both sides exist and are synced.
    Active,
    /// Syncing stopped (delete policy `unlink`, or an operator decision).
    Unlinked,
}

impl LinkState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Pending => "pending",
            LinkState::Active => "active",
            LinkState::Unlinked => "unlinked",
        }
    }
}

impl std::str::FromStr for LinkState {
    type Err = crate::domain::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(LinkState::Pending),
            "active" => Ok(LinkState::Active),
            "unlinked" => Ok(LinkState::Unlinked),
            other => Err(crate::domain::UnknownName {
                what: "link state",
                value: other.to_string(),
            }),
        }
    }
}

/// A synced pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// Row id (keyset key).
    pub id: i64,
    /// Portal post id, once known.
    pub portal_id: Option<String>,
    /// Linear issue id, once known.
    pub linear_id: Option<String>,
    /// Client-generated id used for the idempotent create.
    pub client_id: Option<String>,
    /// Lifecycle state.
    pub state: LinkState,
    /// Title for display and search.
    pub title: String,
    /// Linear's human key for the issue (`ENG-71`), once its record was
    /// seen (kept by the store's triggers).
    pub linear_key: Option<String>,
    /// The field values both sides last agreed on, by mapping field name.
    pub base: BTreeMap<String, FieldValue>,
    /// When the link was made (ms).
    pub created_at: i64,
    /// When the link last changed (ms).
    pub updated_at: i64,
}

/// Most characters of a portal post id shown before it is shortened to its
/// tail: Canny ids are MongoDB ObjectIds whose leading time bytes repeat
/// across every post made the same day, so the end is what tells them
/// apart.
const SHORT_POST_ID: usize = 12;

impl Link {
    /// How every listing names a link: "portal-id ↔ ENG-42" (Linear's key
    /// when its record was seen, else its id; "…" for a side not created
    /// yet) — the same in the console, the CLI and the timeline.
    pub fn label(&self) -> String {
        format!(
            "{} ↔ {}",
            self.portal_id.as_deref().unwrap_or("…"),
            self.linear_name().unwrap_or("…")
        )
    }

    /// Linear's key (`ENG-42`), or its issue id before the record was seen.
    pub fn linear_name(&self) -> Option<&str> {
        self.linear_key.as_deref().or(self.linear_id.as_deref())
    }

    /// The portal id as a table shows it: whole when short, else "…" and
    /// its last eight characters (which search also finds).
    pub fn short_portal_id(&self) -> Option<String> {
        self.portal_id.as_deref().map(short_post_id)
    }
}

/// A portal post id as a narrow column shows it (see [`Link::short_portal_id`]).
pub fn short_post_id(id: &str) -> String {
    let n = id.chars().count();
    if n <= SHORT_POST_ID {
        id.to_string()
    } else {
        let tail: String = id.chars().skip(n - 8).collect();
        format!("…{tail}")
    }
}

/// A mirrored comment pair, so a mirrored comment is never mirrored back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentLink {
    /// The link the comments belong to.
    pub link_id: i64,
    /// Portal comment id.
    pub portal_comment_id: Option<String>,
    /// Linear comment id.
    pub linear_comment_id: Option<String>,
    /// Where the comment was first written.
    pub origin: Side,
}

pub(super) const COLS: &str =
    "id, portal_id, linear_id, client_id, state, title, base, created_at, updated_at, linear_key";

pub(super) type Raw = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    LinkState,
    String,
    String,
    i64,
    i64,
    Option<String>,
);

pub(super) fn row(r: &super::sql::Row<'_>) -> Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        parse_name(4, r.get(4)?)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

pub(super) fn finish(raw: Raw) -> Result<Link> {
    let (
        id,
        portal_id,
        linear_id,
        client_id,
        state,
        title,
        base,
        created_at,
        updated_at,
        linear_key,
    ) = raw;
    Ok(Link {
        id,
        portal_id,
        linear_id,
        client_id,
        state,
        title,
        linear_key,
        base: parse_json("link base", &base)?,
        created_at,
        updated_at,
    })
}

impl Db<'_> {
    /// Create a link. Fails with a constraint error when either id is
    /// already linked: that is the invariant doing its job.
    pub fn insert_link(
        &self,
        portal_id: Option<&str>,
        linear_id: Option<&str>,
        client_id: Option<&str>,
        state: LinkState,
        title: &str,
        base: &BTreeMap<String, FieldValue>,
    ) -> Result<i64> {
        let now = now_ms();
        self.conn.query_row(
            "INSERT INTO links (portal_id, linear_id, client_id, state, title, base, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             RETURNING id",
            params![portal_id, linear_id, client_id, state.as_str(), title, json(base), now],
        |r| r.get(0),
        )
    }

    /// One link by id.
    pub fn link(&self, id: i64) -> Result<Option<Link>> {
        // Cached: the console names every row it loads through this.
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM links WHERE id = ?1"))?
            .query_row([id], row)
            .optional()?;
        raw.map(finish).transpose()
    }

    /// The links with these ids, in id order (ids with no link left out),
    /// in one query: the console names each loaded page of jobs or
    /// conflicts by their links, and a query per row was a round trip per
    /// row on PostgreSQL. The ids travel as one parameter, so the statement
    /// is the same for any number of them.
    pub fn links_by_id(&self, ids: &[i64]) -> Result<Vec<Link>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let (cond, ids) = match self.dialect() {
            super::sql::Dialect::Sqlite => (
                "id IN (SELECT value FROM json_each(?1))",
                format!("[{list}]"),
            ),
            super::sql::Dialect::Postgres => {
                ("id = ANY(CAST(?1 AS BIGINT[]))", format!("{{{list}}}"))
            }
        };
        let raws = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM links WHERE {cond} ORDER BY id"
            ))?
            .query_map([ids.as_str()], row)?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// The link holding a remote id on one side.
    pub fn link_by_remote(&self, side: Side, remote_id: &str) -> Result<Option<Link>> {
        let col = match side {
            Side::Portal => "portal_id",
            Side::Linear => "linear_id",
        };
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM links WHERE {col} = ?1"),
                [remote_id],
                row,
            )
            .optional()?;
        raw.map(finish).transpose()
    }

    /// The link created with a client id (idempotent create recovery).
    pub fn link_by_client_id(&self, client_id: &str) -> Result<Option<Link>> {
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM links WHERE client_id = ?1"),
                [client_id],
                row,
            )
            .optional()?;
        raw.map(finish).transpose()
    }

    /// Whether a create on the portal is pending for a post titled `title`
    /// (its link has no portal id yet): a post with that title seen now may
    /// be the one that create made before its answer was lost.
    pub fn portal_create_pending_titled(&self, title: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM links WHERE state = 'pending' AND portal_id IS NULL
                 AND linear_id IS NOT NULL AND title = ?1 LIMIT 1",
                [title],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Record the remote id a pending create produced and activate the link.
    pub fn complete_link(&self, id: i64, side: Side, remote_id: &str) -> Result<()> {
        let col = match side {
            Side::Portal => "portal_id",
            Side::Linear => "linear_id",
        };
        let n = self.conn.execute(
            &format!(
                "UPDATE links SET {col} = ?2, state = 'active', updated_at = ?3 WHERE id = ?1"
            ),
            params![id, remote_id, now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "link", id });
        }
        Ok(())
    }

    /// Replace a link's base snapshot (after a merge was applied).
    pub fn set_link_base(
        &self,
        id: i64,
        title: &str,
        base: &BTreeMap<String, FieldValue>,
    ) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE links SET base = ?2, title = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, json(base), title, now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "link", id });
        }
        Ok(())
    }

    /// Change a link's lifecycle state.
    pub fn set_link_state(&self, id: i64, state: LinkState) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE links SET state = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, state.as_str(), now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "link", id });
        }
        Ok(())
    }

    /// A keyset window of links in id order.
    pub fn links(&self, window: Window) -> Result<Vec<Link>> {
        let (cond, order) = window.clauses("id");
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM links WHERE {cond} {order}"))?;
        let raws = stmt
            .query_map(
                super::sql::named_params! {":from": window.key_bound(), ":limit": window.limit_i64()},
                row,
            )?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// Active links one of whose records is known deleted: deletes that were
    /// held back (mass-delete guard) and still need the delete policy.
    pub fn active_links_with_deleted_record(&self, limit: usize) -> Result<Vec<(Side, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.side, r.remote_id FROM records r
             JOIN links l ON l.state = 'active'
                 AND ((r.side = 'portal' AND l.portal_id = r.remote_id)
                   OR (r.side = 'linear' AND l.linear_id = r.remote_id))
             WHERE r.deleted_at IS NOT NULL
             LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((parse_name(0, r.get(0)?)?, r.get(1)?))
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Remember a mirrored comment pair (a pair already known is kept as
    /// is: a retried mirror may find the copy its first attempt posted).
    pub fn insert_comment_link(&self, link: &CommentLink) -> Result<()> {
        self.conn.execute(
            "INSERT INTO comment_links (link_id, portal_comment_id, linear_comment_id, origin, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            params![
                link.link_id,
                link.portal_comment_id,
                link.linear_comment_id,
                link.origin.as_str(),
                now_ms()
            ],
        )?;
        Ok(())
    }

    /// Every mirrored comment pair of a link.
    pub fn comment_links(&self, link_id: i64) -> Result<Vec<CommentLink>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT link_id, portal_comment_id, linear_comment_id, origin
             FROM comment_links WHERE link_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([link_id], |r| {
                Ok(CommentLink {
                    link_id: r.get(0)?,
                    portal_comment_id: r.get(1)?,
                    linear_comment_id: r.get(2)?,
                    origin: parse_name(3, r.get(3)?)?,
                })
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }
}
