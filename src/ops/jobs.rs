//! Retry and cancel: put jobs back in the queue with a fresh attempt
//! budget, or stop them from being sent. The engine claims a requeued job
//! like any other; a cancelled one is never sent.

use super::{AuditRow, Refused, Report, Subject, Why, count};
use crate::domain::{AuditAction, ErrorClass, JobStatus};
use crate::store::{Db, Job, JobFilter, StoreError, Window};

/// Statuses a job can be retried from.
pub const RETRYABLE: [JobStatus; 3] = [JobStatus::Failed, JobStatus::Dead, JobStatus::Cancelled];

/// Statuses a job can be cancelled from (a running job finishes its try).
pub const CANCELLABLE: [JobStatus; 3] = [JobStatus::Queued, JobStatus::Failed, JobStatus::Dead];

/// Jobs read per query while collecting "retry all matching".
const PAGE: usize = 500;

/// Why a job in `status` cannot be retried.
fn not_retryable(status: JobStatus) -> String {
    match status {
        JobStatus::Succeeded => "succeeded: nothing to retry".into(),
        JobStatus::Queued => "is already queued: nothing to retry".into(),
        JobStatus::Running => "is running: retry it if this attempt fails".into(),
        other => format!("is {other}: only failed, dead or cancelled jobs can be retried"),
    }
}

/// Why a job in `status` cannot be cancelled.
fn not_cancellable(status: JobStatus) -> String {
    match status {
        JobStatus::Succeeded => "succeeded: nothing to cancel".into(),
        JobStatus::Cancelled => "is already cancelled".into(),
        JobStatus::Running => "is running: it finishes its attempt and cannot be cancelled".into(),
        other => format!("is {other}: only queued, failed or dead jobs can be cancelled"),
    }
}

fn before(job: &Job) -> String {
    match job.error_class {
        Some(c) => format!("{} ({c})", job.status),
        None => job.status.as_str().to_string(),
    }
}

fn dedup(ids: &[i64]) -> Vec<i64> {
    let mut seen = std::collections::BTreeSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// Requeue one job (already checked to be retryable) and audit it.
fn retry_one(db: Db<'_>, job: &Job, reason: String, report: &mut Report) -> Result<(), StoreError> {
    db.retry_jobs(&[job.id])?;
    AuditRow {
        link_id: job.link_id,
        side: Some(job.target),
        before: Some(before(job)),
        after: Some(JobStatus::Queued.as_str().into()),
        reason,
        ..AuditRow::default()
    }
    .append(db, AuditAction::Retry)?;
    report.changed.push(super::Changed {
        subject: Subject::Job(job.id),
        detail: format!("requeued (was {})", before(job)),
    });
    Ok(())
}

/// Apply `act` to each named job whose status is in `allowed`; refuse the
/// others, each with its reason.
fn per_id(
    db: Db<'_>,
    ids: &[i64],
    action: AuditAction,
    allowed: &[JobStatus],
    refusal: fn(JobStatus) -> String,
    act: impl Fn(Db<'_>, &Job, &mut Report) -> Result<(), StoreError>,
) -> Result<Report, StoreError> {
    let mut report = Report::new(action);
    for id in dedup(ids) {
        match db.job(id)? {
            None => report.refused.push(Refused::new(
                Subject::Job(id),
                Why::NotFound,
                "does not exist",
            )),
            Some(job) if !allowed.contains(&job.status) => report.refused.push(Refused::new(
                Subject::Job(id),
                Why::State,
                refusal(job.status),
            )),
            Some(job) => act(db, &job, &mut report)?,
        }
    }
    Ok(report)
}

/// Retry these jobs (failed, dead or cancelled); others are refused.
pub fn retry(db: Db<'_>, ids: &[i64]) -> Result<Report, StoreError> {
    let mut report = per_id(
        db,
        ids,
        AuditAction::Retry,
        &RETRYABLE,
        not_retryable,
        |db, job, report| retry_one(db, job, format!("retry job {}", job.id), report),
    )?;
    report.headline = match report.changed.len() {
        0 => "nothing requeued".into(),
        n => format!(
            "requeued {} ({})",
            count(n, "job"),
            super::id_list(report.changed.iter().map(|c| &c.subject))
        ),
    };
    Ok(report)
}

/// Cancel these jobs (queued, failed or dead); others are refused.
pub fn cancel(db: Db<'_>, ids: &[i64]) -> Result<Report, StoreError> {
    let mut report = per_id(
        db,
        ids,
        AuditAction::Cancel,
        &CANCELLABLE,
        not_cancellable,
        |db, job, report| {
            db.cancel_jobs(&[job.id])?;
            AuditRow {
                link_id: job.link_id,
                side: Some(job.target),
                before: Some(before(job)),
                after: Some(JobStatus::Cancelled.as_str().into()),
                reason: format!("cancel job {}", job.id),
                ..AuditRow::default()
            }
            .append(db, AuditAction::Cancel)?;
            report.changed.push(super::Changed {
                subject: Subject::Job(job.id),
                detail: format!(
                    "cancelled (was {}); its write will not be sent",
                    before(job)
                ),
            });
            Ok(())
        },
    )?;
    report.headline = match report.changed.len() {
        0 => "nothing cancelled".into(),
        n => format!(
            "cancelled {} ({})",
            count(n, "job"),
            super::id_list(report.changed.iter().map(|c| &c.subject))
        ),
    };
    Ok(report)
}

/// The statuses "retry all matching" covers for a filter: its status when
/// that one is retryable (none otherwise), else failed and dead (cancelled
/// jobs were stopped on purpose and are retried only when asked for).
fn matching_statuses(filter: &JobFilter) -> Vec<JobStatus> {
    match filter.status {
        Some(s) if RETRYABLE.contains(&s) => vec![s],
        Some(_) => Vec::new(),
        None => vec![JobStatus::Failed, JobStatus::Dead],
    }
}

/// Words for what "retry all matching" covers: "failed or dead jobs with
/// error class server".
pub fn matching_words(filter: &JobFilter) -> String {
    let statuses = match filter.status {
        Some(s) => s.as_str().to_string(),
        None => "failed or dead".to_string(),
    };
    match filter.error_class {
        Some(c) => format!("{statuses} jobs with error class {c}"),
        None => format!("{statuses} jobs"),
    }
}

/// How many jobs "retry all matching" would requeue (for the confirm).
pub fn count_matching(db: Db<'_>, filter: &JobFilter) -> Result<i64, StoreError> {
    let mut n = 0;
    for s in matching_statuses(filter) {
        n += db.count_jobs(&JobFilter {
            status: Some(s),
            error_class: filter.error_class,
        })?;
    }
    Ok(n)
}

fn matching_jobs(
    db: Db<'_>,
    status: JobStatus,
    class: Option<ErrorClass>,
) -> Result<Vec<Job>, StoreError> {
    let filter = JobFilter {
        status: Some(status),
        error_class: class,
    };
    let mut out = Vec::new();
    let mut window = Window::first(PAGE);
    loop {
        let page = db.jobs(&filter, window)?;
        let Some(last) = page.last() else { break };
        window = window.after(last.id);
        out.extend(page);
    }
    Ok(out)
}

/// Retry every job matching the filter (failed or dead unless the filter
/// names a status), each audited like a retry by id.
pub fn retry_matching(db: Db<'_>, filter: &JobFilter) -> Result<Report, StoreError> {
    let words = matching_words(filter);
    let mut report = Report::new(AuditAction::Retry);
    for status in matching_statuses(filter) {
        for job in matching_jobs(db, status, filter.error_class)? {
            let reason = format!("retry job {} (retry all {words})", job.id);
            retry_one(db, &job, reason, &mut report)?;
        }
    }
    report.headline = match report.changed.len() {
        0 => format!("no {words}; nothing to retry"),
        n => format!(
            "requeued {} ({}): {words}",
            count(n, "job"),
            super::id_list(report.changed.iter().map(|c| &c.subject))
        ),
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobKind, Side};
    use crate::store::{Lane, NewAttempt, NewJob, Store, Window, now_ms};

    fn store_with(statuses: &[JobStatus]) -> (Store, Vec<i64>) {
        let mut store = Store::open_in_memory().unwrap();
        let ids = store
            .write(|db| -> Result<Vec<i64>, StoreError> {
                let mut ids = Vec::new();
                for s in statuses {
                    let id = db.insert_job(&NewJob {
                        link_id: None,
                        target: Side::Linear,
                        kind: JobKind::Update,
                        payload: "{}".into(),
                        reason: String::new(),
                        lane: Lane::Live,
                        max_attempts: 3,
                    })?;
                    if *s != JobStatus::Queued {
                        db.record_attempt(
                            id,
                            &NewAttempt {
                                started_at: now_ms(),
                                duration_ms: 1,
                                http_status: Some(503),
                                error_class: (*s != JobStatus::Succeeded)
                                    .then_some(ErrorClass::Server),
                                message: Some("unavailable".into()),
                                request_id: None,
                            },
                            *s,
                            now_ms(),
                        )?;
                    }
                    ids.push(id);
                }
                Ok(ids)
            })
            .unwrap();
        (store, ids)
    }

    #[test]
    fn retry_refuses_per_job_with_the_reason() {
        let (mut store, ids) = store_with(&[JobStatus::Failed, JobStatus::Succeeded]);
        let r = store.write(|db| retry(db, &[ids[0], ids[1], 99])).unwrap();
        assert_eq!(r.headline, format!("requeued 1 job ({})", ids[0]));
        assert_eq!(r.changed.len(), 1);
        let refused: Vec<String> = r.refused.iter().map(ToString::to_string).collect();
        assert_eq!(
            refused,
            [
                format!("job {} succeeded: nothing to retry", ids[1]),
                "job 99 does not exist".to_string()
            ]
        );
        assert_eq!(r.exit_code(), 1);
        let audit = store.db().audit(Window::first(10)).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].before.as_deref(), Some("failed (server)"));
        assert_eq!(audit[0].after.as_deref(), Some("queued"));
        assert_eq!(audit[0].reason, format!("retry job {}", ids[0]));
    }

    #[test]
    fn cancel_refuses_running_and_succeeded() {
        let (mut store, ids) = store_with(&[JobStatus::Queued, JobStatus::Succeeded]);
        let r = store.write(|db| cancel(db, &ids)).unwrap();
        assert_eq!(r.headline, format!("cancelled 1 job ({})", ids[0]));
        assert_eq!(
            r.refused[0].to_string(),
            format!("job {} succeeded: nothing to cancel", ids[1])
        );
    }

    #[test]
    fn retry_matching_audits_each_job_and_counts_first() {
        let (mut store, ids) = store_with(&[
            JobStatus::Failed,
            JobStatus::Dead,
            JobStatus::Cancelled,
            JobStatus::Succeeded,
        ]);
        let all = JobFilter::default();
        assert_eq!(count_matching(store.db(), &all).unwrap(), 2);
        let r = store.write(|db| retry_matching(db, &all)).unwrap();
        assert_eq!(
            r.headline,
            format!(
                "requeued 2 jobs ({}, {}): failed or dead jobs",
                ids[0], ids[1]
            )
        );
        assert_eq!(store.db().audit(Window::first(10)).unwrap().len(), 2);
        let r = store.write(|db| retry_matching(db, &all)).unwrap();
        assert_eq!(r.headline, "no failed or dead jobs; nothing to retry");
        assert_eq!(r.exit_code(), 0);
    }
}
