//! The job queue shared by several replicas: each claim takes rows with
//! `FOR UPDATE SKIP LOCKED`, so two replicas claiming at once never get the
//! same job, and stamps them with the claiming replica and a lease expiry.
//! A replica renews the leases of the jobs it is running; one that dies
//! stops renewing, and the next claim after the expiry puts its jobs back
//! with an attempt of unknown outcome (the write may have landed), exactly
//! as the SQLite store's `requeue_running_jobs` does at start.
//!
//! Per-link order is the SQLite claim's: a job is claimable only while no
//! earlier job of its link is queued or running, so a link has at most one
//! job running and its jobs run in id order. A running job whose lease
//! expired still holds its link until it is re-run.
//!
//! The `jobs.*` counters follow every status change here through the
//! `jobs_count_*` triggers, as on SQLite.
//!
//! Times are milliseconds on the callers' clocks, which must agree to well
//! within a lease (NTP does).

use postgres::GenericClient;

use super::{PgError, Result, doing};
use crate::domain::{ErrorClass, JobStatus};
use crate::store::{INTERRUPTED, Job, Lane, NewAttempt};

const COLS: &str =
    "id, link_id, target, kind, payload, reason, status, lane, attempts, max_attempts,
    next_run_at, error_class, last_error, http_status, request_id, created_at, updated_at";

/// The outcome of [`renew_leases`]: which jobs are still the replica's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewal {
    /// Leases extended.
    pub renewed: Vec<i64>,
    /// Jobs no longer held by the replica (re-claimed by another after the
    /// lease expired, or finished): their results must be dropped.
    pub lost: Vec<i64>,
}

/// Claim up to `limit` due jobs for `replica`, holding each until
/// `now + lease_ms` unless renewed. Jobs whose lease expired are first put
/// back in the queue with an interrupted attempt recorded (and may be
/// claimed again by this very call). Live jobs come before backfill, then
/// the earliest due, then the oldest.
pub fn claim_due_jobs(
    client: &mut impl GenericClient,
    replica: &str,
    now: i64,
    limit: usize,
    lease_ms: i64,
) -> Result<Vec<Job>> {
    let mut tx = client
        .transaction()
        .map_err(doing("starting a job claim"))?;
    requeue_expired(&mut tx, now)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = tx
        .query(
            &format!(
                "WITH due AS (
                    SELECT id FROM jobs j
                    WHERE status = 'queued' AND next_run_at <= $1
                      AND (link_id IS NULL OR NOT EXISTS (
                           SELECT 1 FROM jobs o WHERE o.link_id = j.link_id AND o.id < j.id
                             AND o.status IN ('queued', 'running')))
                    ORDER BY CASE lane WHEN 'live' THEN 0 ELSE 1 END, next_run_at, id
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED)
                 UPDATE jobs SET status = 'running', claimed_by = $3, lease_until = $1::bigint + $4::bigint,
                                 updated_at = $1
                 FROM due WHERE jobs.id = due.id
                 RETURNING {}",
                qualified(COLS)
            ),
            &[&now, &limit, &replica, &lease_ms],
        )
        .map_err(doing("claiming due jobs"))?;
    let mut jobs = rows.iter().map(job).collect::<Result<Vec<_>>>()?;
    // RETURNING has no order: give them back in the order they were chosen.
    jobs.sort_by_key(|j| (j.lane != Lane::Live, j.next_run_at, j.id));
    tx.commit().map_err(doing("committing a job claim"))?;
    Ok(jobs)
}

/// Extend the lease of each of `ids` that `replica` still holds to
/// `now + lease_ms`. A job whose lease expired but which no other replica
/// has re-claimed yet is still the replica's and is renewed.
pub fn renew_leases(
    client: &mut impl GenericClient,
    replica: &str,
    ids: &[i64],
    now: i64,
    lease_ms: i64,
) -> Result<Renewal> {
    let rows = client
        .query(
            "UPDATE jobs SET lease_until = $3::bigint + $4::bigint
             WHERE id = ANY($1) AND claimed_by = $2 AND status = 'running'
             RETURNING id",
            &[&ids, &replica, &now, &lease_ms],
        )
        .map_err(doing("renewing job leases"))?;
    let mut renewed: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    renewed.sort_unstable();
    let lost = ids
        .iter()
        .copied()
        .filter(|id| renewed.binary_search(id).is_err())
        .collect();
    Ok(Renewal { renewed, lost })
}

/// Hand a claimed job back to the queue without counting an attempt (the
/// rate-limit budget said "not yet"). Refused with [`PgError::LeaseLost`]
/// when the job is no longer the replica's: its lease expired and another
/// replica re-claimed it, and that replica's run decides.
pub fn defer(
    client: &mut impl GenericClient,
    replica: &str,
    job_id: i64,
    next_run_at: i64,
    now: i64,
) -> Result<()> {
    let mut tx = client
        .transaction()
        .map_err(doing("starting to defer a job"))?;
    hold(&mut tx, replica, job_id)?;
    tx.execute(
        "UPDATE jobs SET status = 'queued', next_run_at = $2, claimed_by = NULL,
                         lease_until = NULL, updated_at = $3
         WHERE id = $1",
        &[&job_id, &next_run_at, &now],
    )
    .map_err(doing(format!("deferring job {job_id}")))?;
    tx.commit().map_err(doing("committing a deferred job"))
}

/// Lock the job's row and check `replica` still holds it.
fn hold(tx: &mut postgres::Transaction<'_>, replica: &str, job_id: i64) -> Result<()> {
    let row = tx
        .query_opt(
            "SELECT status, claimed_by FROM jobs WHERE id = $1 FOR UPDATE",
            &[&job_id],
        )
        .map_err(doing(format!("reading job {job_id}")))?
        .ok_or_else(|| PgError::Statement {
            doing: format!("reading job {job_id}"),
            reason: "no such job".into(),
        })?;
    let status: String = row.get(0);
    let holder: Option<String> = row.get(1);
    if status == JobStatus::Running.as_str() && holder.as_deref() == Some(replica) {
        return Ok(());
    }
    Err(PgError::LeaseLost {
        job: job_id,
        replica: replica.to_string(),
        holder,
    })
}

/// Put every running job whose lease expired (or that has none: a job
/// copied from a SQLite store while running) back in the queue, each with
/// an attempt of unknown outcome. Rows another claim is handling are
/// skipped; that claim requeues them.
fn requeue_expired(tx: &mut postgres::Transaction<'_>, now: i64) -> Result<()> {
    let expired = tx
        .query(
            "SELECT id, updated_at FROM jobs
             WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY id
             FOR UPDATE SKIP LOCKED",
            &[&now],
        )
        .map_err(doing("finding jobs whose lease expired"))?;
    for r in &expired {
        let (id, claimed_at): (i64, i64) = (r.get(0), r.get(1));
        let attempt = NewAttempt {
            started_at: claimed_at,
            duration_ms: (now - claimed_at).max(0),
            http_status: None,
            error_class: Some(ErrorClass::Network),
            message: Some(INTERRUPTED.into()),
            request_id: None,
        };
        record_attempt(tx, id, &attempt, JobStatus::Queued, now)?;
    }
    Ok(())
}

/// The SQLite store's `record_attempt`: attempt numbers count every try,
/// a success clears the previous error; the job is released.
fn record_attempt(
    tx: &mut postgres::Transaction<'_>,
    job_id: i64,
    attempt: &NewAttempt,
    next_status: JobStatus,
    next_run_at: i64,
) -> Result<()> {
    let class = attempt.error_class.map(ErrorClass::as_str);
    let doing_it = || doing(format!("recording an attempt of job {job_id}"));
    tx.execute(
        "INSERT INTO job_attempts (job_id, attempt, started_at, duration_ms, outcome,
                                   http_status, error_class, message, request_id)
         SELECT $1, COALESCE(max(attempt), 0) + 1, $2, $3, $4, $5, $6, $7, $8
         FROM job_attempts WHERE job_id = $1",
        &[
            &job_id,
            &attempt.started_at,
            &attempt.duration_ms,
            &class.unwrap_or("ok"),
            &attempt.http_status,
            &class,
            &attempt.message,
            &attempt.request_id,
        ],
    )
    .map_err(doing_it())?;
    tx.execute(
        "UPDATE jobs SET attempts = attempts + 1, status = $2, next_run_at = $3,
            error_class = $4,
            last_error = CASE WHEN $4::text IS NULL THEN NULL ELSE COALESCE($5, last_error) END,
            http_status = $6, request_id = $7, updated_at = $8,
            claimed_by = NULL, lease_until = NULL
         WHERE id = $1",
        &[
            &job_id,
            &next_status.as_str(),
            &next_run_at,
            &class,
            &attempt.message,
            &attempt.http_status,
            &attempt.request_id,
            &crate::store::now_ms(),
        ],
    )
    .map_err(doing_it())?;
    Ok(())
}

/// `cols` with each name prefixed by `jobs.` (an UPDATE … FROM names two
/// tables).
fn qualified(cols: &str) -> String {
    cols.split(',')
        .map(|c| format!("jobs.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn name<T: std::str::FromStr>(row: &postgres::Row, i: usize) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    parse(&row.get::<_, String>(i))
}

fn parse<T: std::str::FromStr>(raw: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    raw.parse().map_err(|e: T::Err| PgError::Statement {
        doing: "reading a job".into(),
        reason: e.to_string(),
    })
}

fn job(r: &postgres::Row) -> Result<Job> {
    let class: Option<String> = r.get(11);
    Ok(Job {
        id: r.get(0),
        link_id: r.get(1),
        target: name(r, 2)?,
        kind: name(r, 3)?,
        payload: r.get(4),
        reason: r.get(5),
        status: name(r, 6)?,
        lane: name(r, 7)?,
        attempts: r.get(8),
        max_attempts: r.get(9),
        next_run_at: r.get(10),
        error_class: class.as_deref().map(parse).transpose()?,
        last_error: r.get(12),
        http_status: r.get(13),
        request_id: r.get(14),
        created_at: r.get(15),
        updated_at: r.get(16),
    })
}
