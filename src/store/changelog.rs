//! Closing the loop: which links have shipped (so a route's ship comment is
//! posted once), and the changelog groups — one per cycle or project — with
//! the posts shipped in each, until the group completes and its one entry
//! is published (`open` → `queued` → `published`; `dropped` when the cycle
//! or project is gone without completing).

use super::sql::params;

use super::{Db, Result, now_ms, parse_name};
use crate::domain::GroupKind;

/// Where a changelog group is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangelogState {
    /// Collecting shipped posts; its cycle or project is still running.
    Open,
    /// Its entry is being published (a job is queued or running).
    Queued,
    /// Its entry is on the portal.
    Published,
    /// Its cycle or project went away without completing: no entry.
    Dropped,
}

impl ChangelogState {
    fn as_str(self) -> &'static str {
        match self {
            ChangelogState::Open => "open",
            ChangelogState::Queued => "queued",
            ChangelogState::Published => "published",
            ChangelogState::Dropped => "dropped",
        }
    }
}

/// One cycle's or project's changelog entry in the making.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogGroupRow {
    /// Row id.
    pub id: i64,
    /// Cycle or project.
    pub kind: GroupKind,
    /// Its Linear id.
    pub remote_id: String,
    /// Its name.
    pub name: String,
    /// The route whose rule made it.
    pub route: String,
    /// That rule, as JSON (title template, publish, type).
    pub settings: String,
    /// The portal's entry id, once published.
    pub entry_id: Option<String>,
}

/// A post shipped in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogPost {
    /// The post's portal id.
    pub portal_id: String,
    /// Its title.
    pub title: String,
    /// Its URL.
    pub url: Option<String>,
}

type GroupRaw = (i64, String, String, String, String, String, Option<String>);

fn group_row(r: &super::sql::Row<'_>) -> Result<GroupRaw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

impl Db<'_> {
    /// Mark a link shipped; false when it already was (its loop is closed
    /// once, however often the issue completes).
    pub fn mark_link_shipped(&self, link_id: i64) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE link_routes SET shipped_at = ?2 WHERE link_id = ?1 AND shipped_at IS NULL",
            params![link_id, now_ms()],
        )?;
        Ok(n > 0)
    }

    /// Add a shipped post to its cycle's or project's group (made on first
    /// use); returns the group's id. A group already published or dropped
    /// takes no more posts: `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_to_changelog(
        &self,
        kind: GroupKind,
        remote_id: &str,
        name: &str,
        route: &str,
        settings: &str,
        post: &ChangelogPost,
        link_id: Option<i64>,
    ) -> Result<Option<i64>> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO changelog_groups (kind, remote_id, name, route, settings, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, remote_id) DO NOTHING",
            params![kind.as_str(), remote_id, name, route, settings, now],
        )?;
        let (id, state): (i64, String) = self.conn.query_row(
            "SELECT id, state FROM changelog_groups WHERE kind = ?1 AND remote_id = ?2",
            params![kind.as_str(), remote_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if state != ChangelogState::Open.as_str() {
            return Ok(None);
        }
        self.conn.execute(
            "INSERT INTO changelog_posts (group_id, portal_id, link_id, title, url, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (group_id, portal_id) DO NOTHING",
            params![id, post.portal_id, link_id, post.title, post.url, now],
        )?;
        Ok(Some(id))
    }

    /// Groups still collecting posts, oldest first.
    pub fn open_changelog_groups(&self, limit: usize) -> Result<Vec<ChangelogGroupRow>> {
        self.changelog_groups_where("state = 'open'", limit)
    }

    /// Every group, newest first (status, the demo's summary).
    pub fn changelog_groups(&self, limit: usize) -> Result<Vec<ChangelogGroupRow>> {
        self.changelog_groups_where("1 = 1", limit)
    }

    fn changelog_groups_where(&self, cond: &str, limit: usize) -> Result<Vec<ChangelogGroupRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT id, kind, remote_id, name, route, settings, entry_id FROM changelog_groups
             WHERE {cond} ORDER BY id LIMIT ?1"
        ))?;
        let raws = st
            .query_map(params![limit as i64], group_row)?
            .collect::<Result<Vec<_>>>()?;
        raws.into_iter()
            .map(|(id, kind, remote_id, name, route, settings, entry_id)| {
                Ok(ChangelogGroupRow {
                    id,
                    kind: parse_name(1, kind)?,
                    remote_id,
                    name,
                    route,
                    settings,
                    entry_id,
                })
            })
            .collect()
    }

    /// The posts shipped in a group, in the order they shipped.
    pub fn changelog_posts(&self, group_id: i64) -> Result<Vec<ChangelogPost>> {
        let mut st = self.conn.prepare_cached(
            "SELECT portal_id, title, url FROM changelog_posts WHERE group_id = ?1
             ORDER BY added_at, portal_id",
        )?;
        let rows = st.query_map(params![group_id], |r| {
            Ok(ChangelogPost {
                portal_id: r.get(0)?,
                title: r.get(1)?,
                url: r.get(2)?,
            })
        })?;
        rows.collect::<Result<_>>()
    }

    /// Move a group on; `from` guards the step (true when it moved), so
    /// its entry is queued once.
    pub fn set_changelog_state(
        &self,
        id: i64,
        from: ChangelogState,
        to: ChangelogState,
        entry_id: Option<&str>,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE changelog_groups SET state = ?3, entry_id = COALESCE(?4, entry_id),
                 published_at = CASE WHEN ?3 = 'published' THEN ?5 ELSE published_at END
             WHERE id = ?1 AND state = ?2",
            params![id, from.as_str(), to.as_str(), entry_id, now_ms()],
        )?;
        Ok(n > 0)
    }
}
