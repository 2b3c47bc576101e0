//! Bulk inserts with explicit timestamps: the `fill_store` generator (a
//! million links in one transaction through prepared statements) and test
//! fixtures that need stable times. Ordinary code paths use the single-row
//! methods, which stamp rows with the current time.

use std::collections::BTreeMap;

use super::sql::params;

use super::{Db, Result, json};
use crate::domain::{Actor, ErrorClass, FieldValue, JobKind, JobStatus, Side};
use crate::store::{Level, NewAttempt, NewAudit};

/// A link row with its creation time.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedLink {
    /// Portal post id.
    pub portal_id: Option<String>,
    /// Linear issue id.
    pub linear_id: Option<String>,
    /// Title.
    pub title: String,
    /// Base snapshot.
    pub base: BTreeMap<String, FieldValue>,
    /// Created and updated time (ms).
    pub at: i64,
}

/// A job row in any status, with its times.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedJob {
    /// The link.
    pub link_id: Option<i64>,
    /// Target system.
    pub target: Side,
    /// Kind of write.
    pub kind: JobKind,
    /// Status.
    pub status: JobStatus,
    /// Attempts made.
    pub attempts: i64,
    /// Last error class.
    pub error_class: Option<ErrorClass>,
    /// Last error message.
    pub last_error: Option<String>,
    /// Last HTTP status.
    pub http_status: Option<i64>,
    /// Next run (ms).
    pub next_run_at: i64,
    /// Created (ms).
    pub created_at: i64,
}

/// An open conflict with its times.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedConflict {
    /// The link.
    pub link_id: i64,
    /// Field name.
    pub field: String,
    /// Base value.
    pub base: FieldValue,
    /// Portal value.
    pub portal: FieldValue,
    /// Linear value.
    pub linear: FieldValue,
    /// Portal change time (ms).
    pub portal_changed_at: Option<i64>,
    /// Linear change time (ms).
    pub linear_changed_at: Option<i64>,
    /// Opened (ms).
    pub created_at: i64,
}

impl Db<'_> {
    /// Insert many links with one prepared statement. Call inside
    /// [`super::Store::write`] so they commit together.
    pub fn bulk_links(&self, rows: impl IntoIterator<Item = SeedLink>) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO links (portal_id, linear_id, state, title, base, created_at, updated_at)
             VALUES (?1, ?2, 'active', ?3, ?4, ?5, ?5)",
        )?;
        let mut n = 0;
        for r in rows {
            stmt.execute(params![
                r.portal_id,
                r.linear_id,
                r.title,
                json(&r.base),
                r.at
            ])?;
            n += 1;
        }
        Ok(n)
    }

    /// Insert many records of one side seen at `at` (a fill of a big store;
    /// the ordinary path is `upsert_record`).
    pub fn bulk_records(
        &self,
        side: Side,
        rows: impl IntoIterator<Item = crate::domain::Record>,
        at: i64,
    ) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO records (side, remote_id, identifier, title, fields, content_hash,
                                  remote_updated_at, seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?;
        let mut n = 0;
        for r in rows {
            stmt.execute(params![
                side.as_str(),
                r.remote_id,
                r.identifier,
                r.title,
                json(&r),
                super::content_hash(&r),
                at
            ])?;
            n += 1;
        }
        Ok(n)
    }

    /// Insert many jobs with one prepared statement; returns the first id.
    pub fn bulk_jobs(&self, rows: impl IntoIterator<Item = SeedJob>) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO jobs (link_id, target, kind, payload, status, attempts, next_run_at,
                               error_class, last_error, http_status, created_at, updated_at)
             VALUES (?1, ?2, ?3, '{}', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )?;
        let mut n = 0;
        for r in rows {
            stmt.execute(params![
                r.link_id,
                r.target.as_str(),
                r.kind.as_str(),
                r.status.as_str(),
                r.attempts,
                r.next_run_at,
                r.error_class.map(ErrorClass::as_str),
                r.last_error,
                r.http_status,
                r.created_at
            ])?;
            n += 1;
        }
        Ok(n)
    }

    /// Insert attempt rows for a job without touching the job row.
    pub fn bulk_attempts(&self, job_id: i64, rows: &[NewAttempt]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO job_attempts (job_id, attempt, started_at, duration_ms, outcome,
                                       http_status, error_class, message, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (i, a) in rows.iter().enumerate() {
            let class = a.error_class.map(ErrorClass::as_str);
            stmt.execute(params![
                job_id,
                i as i64 + 1,
                a.started_at,
                a.duration_ms,
                class.unwrap_or("ok"),
                a.http_status,
                class,
                a.message,
                a.request_id
            ])?;
        }
        Ok(rows.len())
    }

    /// Insert many open conflicts.
    pub fn bulk_conflicts(&self, rows: impl IntoIterator<Item = SeedConflict>) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO conflicts (link_id, field, base_value, portal_value, linear_value,
                                    portal_changed_at, linear_changed_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut n = 0;
        for r in rows {
            stmt.execute(params![
                r.link_id,
                r.field,
                json(&r.base),
                json(&r.portal),
                json(&r.linear),
                r.portal_changed_at,
                r.linear_changed_at,
                r.created_at
            ])?;
            n += 1;
        }
        Ok(n)
    }

    /// Append audit entries at given times.
    pub fn bulk_audit(&self, rows: &[(i64, NewAudit)]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO audit (at, link_id, actor, action, side, field, before, after, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (at, e) in rows {
            stmt.execute(params![
                at,
                e.link_id,
                e.actor.as_str(),
                e.action.as_str(),
                e.side.map(Side::as_str),
                e.field,
                e.before,
                e.after,
                e.reason
            ])?;
        }
        Ok(rows.len())
    }

    /// Append engine events at given times.
    pub fn bulk_events(&self, rows: &[(i64, Level, &str, &str)]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO events (at, level, target, message) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (at, level, target, message) in rows {
            stmt.execute(params![at, level.as_str(), target, message])?;
        }
        Ok(rows.len())
    }
}

impl Db<'_> {
    /// Store a mapping version (made active) with a given creation time, for
    /// fixtures whose screens must not depend on the wall clock.
    pub fn seed_mapping_version(
        &self,
        document: &str,
        created_by: Actor,
        note: &str,
        at: i64,
    ) -> Result<i64> {
        let v = self.add_mapping_version(document, created_by, note)?;
        self.conn.execute(
            "UPDATE mappings SET created_at = ?2 WHERE version = ?1",
            params![v, at],
        )?;
        Ok(v)
    }
}

impl Db<'_> {
    /// Mark a conflict decided at a given time (fixtures that show a
    /// resolved conflict with a stable time).
    pub fn seed_resolution(
        &self,
        id: i64,
        resolution: &crate::store::Resolution,
        by: Actor,
        at: i64,
    ) -> Result<()> {
        self.resolve_conflict(id, resolution, by)?;
        self.conn.execute(
            "UPDATE conflicts SET resolved_at = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        Ok(())
    }
}
