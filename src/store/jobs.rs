//! Every outbound write is a job row before it is sent; each try is an
//! attempt row. Operators retry or cancel by changing rows; the engine picks
//! the change up.

use super::sql::{OptionalExtension, Value, params};
use serde::Serialize;

use super::{Db, Result, StoreError, Window, now_ms, parse_name};
use crate::domain::{ErrorClass, JobKind, JobStatus, Side};

/// Scheduling lane: live edits keep a quota reserve that backfill and
/// reconcile may not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    /// A change a person just made.
    Live,
    /// Reconcile repairs and initial backfill.
    Backfill,
}

impl Lane {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Live => "live",
            Lane::Backfill => "backfill",
        }
    }
}

impl std::str::FromStr for Lane {
    type Err = crate::domain::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Lane::Live),
            "backfill" => Ok(Lane::Backfill),
            other => Err(crate::domain::UnknownName {
                what: "lane",
                value: other.to_string(),
            }),
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The link the write belongs to (writes per link run in order).
    pub link_id: Option<i64>,
    /// Which system the write goes to.
    pub target: Side,
    /// What kind of write.
    pub kind: JobKind,
    /// The write itself, as JSON the engine understands.
    pub payload: String,
    /// Why the write is happening (from the merge explanation).
    pub reason: String,
    /// Scheduling lane.
    pub lane: Lane,
    /// Attempts before the job is declared dead.
    pub max_attempts: i64,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// The link it belongs to.
    pub link_id: Option<i64>,
    /// Target system.
    pub target: Side,
    /// Kind of write.
    pub kind: JobKind,
    /// The write, as JSON.
    pub payload: String,
    /// Why.
    pub reason: String,
    /// Lifecycle status.
    pub status: JobStatus,
    /// Scheduling lane.
    pub lane: Lane,
    /// Attempts made so far.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Earliest time of the next attempt (ms).
    pub next_run_at: i64,
    /// Class of the last error.
    pub error_class: Option<ErrorClass>,
    /// Message of the last error.
    pub last_error: Option<String>,
    /// HTTP status of the last attempt.
    pub http_status: Option<i64>,
    /// Remote request id of the last attempt.
    pub request_id: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

impl Job {
    /// Whether an earlier attempt may have reached the remote. An operator
    /// retry resets `attempts` (a fresh budget) but keeps the last error, so
    /// a retried job still looks for what its earlier tries wrote.
    pub fn tried_before(&self) -> bool {
        self.attempts > 0 || self.error_class.is_some()
    }
}

/// One try of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// Row id.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// 1-based attempt number.
    pub attempt: i64,
    /// When it started (ms).
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// "ok" or the error class.
    pub outcome: String,
    /// HTTP status, when a response arrived.
    pub http_status: Option<i64>,
    /// Error class, on failure.
    pub error_class: Option<ErrorClass>,
    /// Remote message, on failure.
    pub message: Option<String>,
    /// Remote request id.
    pub request_id: Option<String>,
}

/// An attempt to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttempt {
    /// When it started (ms).
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// HTTP status, when a response arrived.
    pub http_status: Option<i64>,
    /// Error class, on failure (`None` = success).
    pub error_class: Option<ErrorClass>,
    /// Remote message, on failure.
    pub message: Option<String>,
    /// Remote request id.
    pub request_id: Option<String>,
}

/// Which jobs a listing or bulk action covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only this error class.
    pub error_class: Option<ErrorClass>,
}

impl JobFilter {
    fn sql(&self) -> &'static str {
        match (self.status.is_some(), self.error_class.is_some()) {
            (true, true) => "status = :status AND error_class = :class",
            (true, false) => "status = :status",
            (false, true) => "error_class = :class",
            (false, false) => "1 = 1",
        }
    }

    fn status_str(&self) -> &'static str {
        self.status.map_or("", JobStatus::as_str)
    }

    fn class_str(&self) -> &'static str {
        self.error_class.map_or("", ErrorClass::as_str)
    }
}

const COLS: &str =
    "id, link_id, target, kind, payload, reason, status, lane, attempts, max_attempts,
    next_run_at, error_class, last_error, http_status, request_id, created_at, updated_at";

fn opt_name<T: std::str::FromStr>(col: usize, v: Option<String>) -> Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    v.map(|s| parse_name(col, s)).transpose()
}

fn row(r: &super::sql::Row<'_>) -> Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        link_id: r.get(1)?,
        target: parse_name(2, r.get(2)?)?,
        kind: parse_name(3, r.get(3)?)?,
        payload: r.get(4)?,
        reason: r.get(5)?,
        status: parse_name(6, r.get(6)?)?,
        lane: parse_name(7, r.get(7)?)?,
        attempts: r.get(8)?,
        max_attempts: r.get(9)?,
        next_run_at: r.get(10)?,
        error_class: opt_name(11, r.get(11)?)?,
        last_error: r.get(12)?,
        http_status: r.get(13)?,
        request_id: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

/// The attempt recorded for a job whose process (or replica) died while it
/// ran: the write may have landed, so its outcome is unknown.
pub const INTERRUPTED: &str = "interrupted: roundtrip stopped before this write's answer was recorded; the retry first looks for what it may have written";

impl Db<'_> {
    /// Enqueue a job to run as soon as possible.
    pub fn insert_job(&self, job: &NewJob) -> Result<i64> {
        let now = now_ms();
        self.conn.query_row(
            "INSERT INTO jobs (link_id, target, kind, payload, reason, lane, max_attempts,
                               next_run_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)
             RETURNING id",
            params![
                job.link_id,
                job.target.as_str(),
                job.kind.as_str(),
                job.payload,
                job.reason,
                job.lane.as_str(),
                job.max_attempts,
                now
            ],
            |r| r.get(0),
        )
    }

    /// Replace a job's payload (a failed create keeps the id the remote
    /// gave it, for the retry).
    pub fn set_job_payload(&self, id: i64, payload: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE jobs SET payload = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, payload, now_ms()],
        )?;
        Ok(())
    }

    /// One job by id.
    pub fn job(&self, id: i64) -> Result<Option<Job>> {
        self.conn
            .query_row(&format!("SELECT {COLS} FROM jobs WHERE id = ?1"), [id], row)
            .optional()
    }

    /// A keyset window of jobs matching a filter.
    pub fn jobs(&self, filter: &JobFilter, window: Window) -> Result<Vec<Job>> {
        let (cond, order) = window.clauses("id");
        let sql = format!(
            "SELECT {COLS} FROM jobs WHERE {} AND {cond} {order}",
            filter.sql()
        );
        let status: Vec<(&str, Value<'_>)> = filter
            .status
            .map(|s| (":status", Value::Text(s.as_str())))
            .into_iter()
            .collect();
        self.jobs_window(&sql, status, filter.error_class, window)
    }

    /// A keyset window of jobs in any of `statuses` (all when empty), with
    /// an optional error class: one index range per status, merged, so "what
    /// needs attention" (failed and dead) pages as cheaply as one status.
    pub fn jobs_in_statuses(
        &self,
        statuses: &[JobStatus],
        error_class: Option<ErrorClass>,
        window: Window,
    ) -> Result<Vec<Job>> {
        if statuses.is_empty() {
            return self.jobs(
                &JobFilter {
                    status: None,
                    error_class,
                },
                window,
            );
        }
        // One index range per status, merged by the server: one statement
        // (a round trip on PostgreSQL) whatever the number of statuses.
        let (cond, order) = window.clauses("id");
        let class = if error_class.is_some() {
            " AND error_class = :class"
        } else {
            ""
        };
        let ranges: Vec<String> = (0..statuses.len())
            .map(|i| {
                format!(
                    "SELECT * FROM (SELECT {COLS} FROM jobs
                     WHERE status = :status{i}{class} AND {cond} {order}) AS range{i}"
                )
            })
            .collect();
        let sql = format!("{} {order}", ranges.join(" UNION ALL "));
        let names: Vec<String> = (0..statuses.len()).map(|i| format!(":status{i}")).collect();
        let params = names
            .iter()
            .zip(statuses)
            .map(|(name, s)| (name.as_str(), Value::Text(s.as_str())))
            .collect();
        self.jobs_window(&sql, params, error_class, window)
    }

    /// Run a statement reading a window of jobs: `params`, then `:class`
    /// (when there is one), `:from` and `:limit`.
    fn jobs_window(
        &self,
        sql: &str,
        mut params: Vec<(&str, Value<'_>)>,
        class: Option<ErrorClass>,
        window: Window,
    ) -> Result<Vec<Job>> {
        if let Some(c) = class {
            params.push((":class", Value::Text(c.as_str())));
        }
        params.push((":from", Value::Int(window.key_bound())));
        params.push((":limit", Value::Int(window.limit_i64())));
        self.conn
            .prepare_cached(sql)?
            .query_map(params.as_slice(), row)?
            .collect()
    }

    /// How many jobs match a filter (for "retry all N?" confirmations).
    pub fn count_jobs(&self, filter: &JobFilter) -> Result<i64> {
        let mut params: Vec<(&str, super::sql::Value<'_>)> = Vec::new();
        let (status, class) = (filter.status_str(), filter.class_str());
        if filter.status.is_some() {
            params.push((":status", super::sql::ToValue::to_value(&status)));
        }
        if filter.error_class.is_some() {
            params.push((":class", super::sql::ToValue::to_value(&class)));
        }
        self.conn.query_row(
            &format!("SELECT count(*) FROM jobs WHERE {}", filter.sql()),
            params.as_slice(),
            |r| r.get(0),
        )
    }

    /// Claim up to `limit` runnable jobs (queued and due), oldest first, at
    /// most one per link so writes for a link stay in order; marks them
    /// running.
    pub fn claim_due_jobs(&self, now: i64, limit: usize) -> Result<Vec<Job>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM jobs j
             WHERE status = 'queued' AND next_run_at <= ?1
               AND (link_id IS NULL OR NOT EXISTS (
                    SELECT 1 FROM jobs o WHERE o.link_id = j.link_id AND o.id < j.id
                      AND o.status IN ('queued', 'running')))
             ORDER BY CASE lane WHEN 'live' THEN 0 ELSE 1 END, next_run_at, id
             LIMIT ?2"
        ))?;
        let jobs = stmt
            .query_map(params![now, i64::try_from(limit).unwrap_or(i64::MAX)], row)?
            .collect::<Result<Vec<_>>>()?;
        for job in &jobs {
            self.conn.execute(
                "UPDATE jobs SET status = 'running', updated_at = ?2 WHERE id = ?1",
                params![job.id, now],
            )?;
        }
        Ok(jobs
            .into_iter()
            .map(|mut j| {
                j.status = JobStatus::Running;
                j
            })
            .collect())
    }

    /// Hand a claimed job back to the queue without counting an attempt
    /// (the rate-limit budget said "not yet").
    pub fn defer_job(&self, id: i64, next_run_at: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE jobs SET status = 'queued', next_run_at = ?2, updated_at = ?3
             WHERE id = ?1 AND status = 'running'",
            params![id, next_run_at, now_ms()],
        )?;
        Ok(())
    }

    /// Whether `replica` still holds the job it claimed (running, claimed
    /// by it), locking the job's row on PostgreSQL until the transaction
    /// ends: a result recorded in the same transaction can then never meet
    /// another replica re-queueing the job after its lease expired.
    pub fn job_held_by(&self, id: i64, replica: &str) -> Result<bool> {
        let sql = self.dialect_sql(
            "SELECT status, claimed_by FROM jobs WHERE id = ?1",
            "SELECT status, claimed_by FROM jobs WHERE id = ?1 FOR UPDATE",
        );
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(sql, [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.is_some_and(|(status, holder)| {
            status == JobStatus::Running.as_str() && holder.as_deref() == Some(replica)
        }))
    }

    /// Whether a link has writes queued or in flight (its merge waits for
    /// them, so the same change is never planned twice).
    pub fn link_has_pending_jobs(&self, link_id: i64) -> Result<bool> {
        self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE link_id = ?1 AND status IN ('queued', 'running'))",
            [link_id],
            |r| r.get(0),
        )
    }

    /// Creation time of the oldest write not yet sent (sync lag).
    pub fn oldest_unsent_job(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                // SQLite allows ORDER BY/LIMIT only on the last member of a
                // compound SELECT, so each member is its own subquery.
                "SELECT min(created_at) FROM (
                    SELECT * FROM (SELECT created_at FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1) q
                    UNION ALL
                    SELECT * FROM (SELECT created_at FROM jobs WHERE status = 'running' ORDER BY id LIMIT 1) r) oldest",
                (),
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Put jobs left running by a process that died back in the queue. Each
    /// counts as an attempt whose outcome is unknown — the write may have
    /// landed before the process died — so its retry first looks for what
    /// it may have written instead of writing it again.
    pub fn requeue_running_jobs(&self) -> Result<usize> {
        let now = now_ms();
        let running = self
            .conn
            .prepare_cached("SELECT id, updated_at FROM jobs WHERE status = 'running' ORDER BY id")?
            .query_map((), |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)))?
            .collect::<Result<Vec<_>>>()?;
        for (id, claimed_at) in &running {
            let attempt = NewAttempt {
                started_at: *claimed_at,
                duration_ms: (now - claimed_at).max(0),
                http_status: None,
                error_class: Some(ErrorClass::Network),
                message: Some(INTERRUPTED.into()),
                request_id: None,
            };
            self.record_attempt(*id, &attempt, JobStatus::Queued, now)?;
        }
        Ok(running.len())
    }

    /// Record one attempt and move the job to its next status. Attempt
    /// numbers count every try of the job, across operator retries (which
    /// only reset the budget); a success clears the previous error, so a
    /// succeeded job never shows an earlier attempt's failure as its own.
    pub fn record_attempt(
        &self,
        job_id: i64,
        attempt: &NewAttempt,
        next_status: JobStatus,
        next_run_at: i64,
    ) -> Result<()> {
        let tried: i64 = self
            .conn
            .query_row(
                "SELECT (SELECT COALESCE(max(attempt), 0) FROM job_attempts WHERE job_id = ?1)
                 FROM jobs WHERE id = ?1",
                [job_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "job",
                id: job_id,
            })?;
        let class = attempt.error_class.map(ErrorClass::as_str);
        self.conn.execute(
            "INSERT INTO job_attempts (job_id, attempt, started_at, duration_ms, outcome,
                                       http_status, error_class, message, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                job_id,
                tried + 1,
                attempt.started_at,
                attempt.duration_ms,
                class.unwrap_or("ok"),
                attempt.http_status,
                class,
                attempt.message,
                attempt.request_id
            ],
        )?;
        self.conn.execute(
            "UPDATE jobs SET attempts = attempts + 1, status = ?2, next_run_at = ?3,
                error_class = ?4,
                last_error = CASE WHEN ?4 IS NULL THEN NULL ELSE COALESCE(?5, last_error) END,
                http_status = ?6, request_id = ?7, updated_at = ?8,
                claimed_by = NULL, lease_until = NULL
             WHERE id = ?1",
            params![
                job_id,
                next_status.as_str(),
                next_run_at,
                class,
                attempt.message,
                attempt.http_status,
                attempt.request_id,
                now_ms()
            ],
        )?;
        Ok(())
    }

    /// When the first attempt of a job that may have been applied started
    /// (`None`: every attempt so far was refused before it was applied, or
    /// there was none). A retried write asks the remote what it wrote since
    /// then, so a landed write whose answer was lost is not made again over
    /// a later edit.
    pub fn first_unknown_outcome_at(&self, job_id: i64) -> Result<Option<i64>> {
        let attempts = self.attempts(job_id)?;
        Ok(attempts
            .iter()
            .filter(|a| a.error_class.is_some_and(ErrorClass::outcome_unknown))
            .map(|a| a.started_at)
            .min())
    }

    /// Every attempt of a job, oldest first.
    pub fn attempts(&self, job_id: i64) -> Result<Vec<Attempt>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, job_id, attempt, started_at, duration_ms, outcome, http_status,
                    error_class, message, request_id
             FROM job_attempts WHERE job_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([job_id], |r| {
                Ok(Attempt {
                    id: r.get(0)?,
                    job_id: r.get(1)?,
                    attempt: r.get(2)?,
                    started_at: r.get(3)?,
                    duration_ms: r.get(4)?,
                    outcome: r.get(5)?,
                    http_status: r.get(6)?,
                    error_class: opt_name(7, r.get(7)?)?,
                    message: r.get(8)?,
                    request_id: r.get(9)?,
                })
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Operator intent: put failed/dead/cancelled jobs back in the queue with
    /// a fresh attempt budget. Returns how many were requeued.
    pub fn retry_jobs(&self, ids: &[i64]) -> Result<usize> {
        let mut n = 0;
        let now = now_ms();
        for id in ids {
            n += self.conn.execute(
                "UPDATE jobs SET status = 'queued', next_run_at = ?2, attempts = 0, updated_at = ?2
                 WHERE id = ?1 AND status IN ('failed', 'dead', 'cancelled')",
                params![id, now],
            )?;
        }
        Ok(n)
    }

    /// Operator intent: retry every failed or dead job matching the filter
    /// (the filter's status, when set, must be failed or dead).
    pub fn retry_matching(&self, filter: &JobFilter) -> Result<usize> {
        let now = now_ms();
        let status_cond = match filter.status {
            Some(s) => format!("status = '{}'", s.as_str()),
            None => "status IN ('failed', 'dead')".to_string(),
        };
        let class_cond = if filter.error_class.is_some() {
            "AND error_class = ?2"
        } else {
            "AND ?2 = ?2"
        };
        self.conn.execute(
            &format!(
                "UPDATE jobs SET status = 'queued', next_run_at = ?1, attempts = 0, updated_at = ?1
                 WHERE {status_cond} AND status IN ('failed', 'dead', 'cancelled') {class_cond}"
            ),
            params![now, filter.class_str()],
        )
    }

    /// Operator intent: cancel queued/failed/dead jobs. Running jobs finish.
    pub fn cancel_jobs(&self, ids: &[i64]) -> Result<usize> {
        let mut n = 0;
        let now = now_ms();
        for id in ids {
            n += self.conn.execute(
                "UPDATE jobs SET status = 'cancelled', updated_at = ?2
                 WHERE id = ?1 AND status IN ('queued', 'failed', 'dead')",
                params![id, now],
            )?;
        }
        Ok(n)
    }

    /// Earliest `next_run_at` among queued jobs (for the scheduler's sleep).
    pub fn next_job_due(&self) -> Result<Option<i64>> {
        self.conn.query_row(
            "SELECT min(next_run_at) FROM jobs WHERE status = 'queued'",
            (),
            |r| r.get(0),
        )
    }
}
