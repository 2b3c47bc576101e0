//! Routing state: the route (and team, project) each link's issue was
//! placed by, so a re-route is noticed and never creates a second issue;
//! and the portal posts no route takes, so `status` and the console show
//! them instead of their being silently ignored.

use super::sql::{OptionalExtension, params};

use super::{Db, Result, now_ms};
use crate::sync::Placed;

/// A portal post no route takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnroutedPost {
    /// The post's portal id.
    pub portal_id: String,
    /// Its title.
    pub title: String,
    /// Why each route passed it by.
    pub reason: String,
    /// When it was last seen unrouted (ms).
    pub seen_at: i64,
}

/// The schema version routing arrived with.
const ROUTES_SINCE: i64 = 8;

impl Db<'_> {
    /// Whether the store has the routing tables (a read-only command may
    /// run against an older daemon's store).
    pub(super) fn has_routes(&self) -> Result<bool> {
        let v: i64 = self.schema_version()?;
        Ok(v >= ROUTES_SINCE)
    }

    /// Remember where a link's issue was placed, and by which route.
    pub fn set_link_route(&self, link_id: i64, placed: &Placed) -> Result<()> {
        self.conn.execute(
            "INSERT INTO link_routes (link_id, route, team, project, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (link_id) DO UPDATE SET route = excluded.route,
                 team = excluded.team, project = excluded.project,
                 updated_at = excluded.updated_at",
            params![link_id, placed.route, placed.team, placed.project, now_ms()],
        )?;
        Ok(())
    }

    /// Where a link's issue was placed; `None` for links made before
    /// routing (or adopted), which count as placed by no route yet.
    pub fn link_route(&self, link_id: i64) -> Result<Option<Placed>> {
        if !self.has_routes()? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT route, team, project FROM link_routes WHERE link_id = ?1",
                params![link_id],
                |r| {
                    Ok(Placed {
                        route: r.get(0)?,
                        team: r.get(1)?,
                        project: r.get(2)?,
                    })
                },
            )
            .optional()
    }

    /// Note a post that no route takes (or refresh why). Returns true when
    /// it was not noted before.
    pub fn mark_unrouted(&self, portal_id: &str, title: &str, reason: &str) -> Result<bool> {
        let before = self.conn.query_row(
            "SELECT COUNT(*) FROM unrouted WHERE portal_id = ?1",
            params![portal_id],
            |r| r.get::<i64>(0),
        )?;
        self.conn.execute(
            "INSERT INTO unrouted (portal_id, title, reason, seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (portal_id) DO UPDATE SET title = excluded.title,
                 reason = excluded.reason, seen_at = excluded.seen_at",
            params![portal_id, title, reason, now_ms()],
        )?;
        Ok(before == 0)
    }

    /// A post is routed now (or gone): no longer unrouted.
    pub fn clear_unrouted(&self, portal_id: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM unrouted WHERE portal_id = ?1",
            params![portal_id],
        )?;
        Ok(())
    }

    /// How many posts no route takes.
    pub fn unrouted_count(&self) -> Result<i64> {
        if !self.has_routes()? {
            return Ok(0);
        }
        self.conn
            .query_row("SELECT COUNT(*) FROM unrouted", (), |r| r.get(0))
    }

    /// The posts no route takes, most recently seen first.
    pub fn unrouted(&self, limit: usize) -> Result<Vec<UnroutedPost>> {
        if !self.has_routes()? {
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare_cached(
            "SELECT portal_id, title, reason, seen_at FROM unrouted
             ORDER BY seen_at DESC, portal_id LIMIT ?1",
        )?;
        let rows = st.query_map(params![limit as i64], |r| {
            Ok(UnroutedPost {
                portal_id: r.get(0)?,
                title: r.get(1)?,
                reason: r.get(2)?,
                seen_at: r.get(3)?,
            })
        })?;
        rows.collect::<Result<_>>()
    }
}
