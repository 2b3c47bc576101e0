//! Sending one job to its connector and recording what happened: the attempt
//! row, the job's next status, and — on success — the link, base snapshot,
//! comment pair and audit entries the write implies, all in one transaction.

use std::sync::Arc;
use std::time::Instant;

use crate::connector::Connector;
use crate::domain::{
    Actor, AuditAction, Comment, ErrorClass, FieldValue, JobStatus, Record, RemoteError, Side,
};
use crate::store::{
    CommentLink, Db, Job, Level, NewAttempt, NewAudit, Result as StoreResult, meta_keys, now_ms,
};

use super::backoff::{NextStep, next_step};
use super::payload::JobPayload;

/// The two connectors, by side.
#[derive(Clone)]
pub struct Connectors {
    /// Linear.
    pub linear: Arc<dyn Connector>,
    /// The feedback portal.
    pub portal: Arc<dyn Connector>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connectors")
    }
}

impl Connectors {
    /// The connector serving one side.
    pub fn side(&self, side: Side) -> &Arc<dyn Connector> {
        match side {
            Side::Linear => &self.linear,
            Side::Portal => &self.portal,
        }
    }
}

/// What a successful write produced.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived value per finished job; boxing the record buys nothing"
)]
pub enum Landed {
    /// The record was created (or found created by an earlier attempt).
    Created(Record),
    /// Fields were written.
    Updated,
    /// The comment was posted.
    Commented(Comment),
    /// The record was deleted (or was already gone).
    Deleted,
    /// The private note was posted; `None` when the remote has no place
    /// customers cannot read, so it stays in roundtrip's audit log only.
    Noted(Option<Comment>),
}

/// Send one job. A create that may have succeeded before (a retry) first
/// looks for the record an earlier attempt made, so retries never duplicate
/// — unless the connector's own `create` is idempotent by client id, in
/// which case re-sending it also finishes what the earlier attempt left
/// undone (Linear: the portal URL attachment after a timed-out create).
pub async fn execute(
    conn: &dyn Connector,
    job: &Job,
    payload: &JobPayload,
) -> Result<Landed, RemoteError> {
    match payload {
        JobPayload::Create { record, .. } => {
            if job.attempts > 0
                && !conn.create_is_idempotent()
                && let Some(found) = conn.find_created(record).await?
            {
                return Ok(Landed::Created(found));
            }
            conn.create(record).await.map(Landed::Created)
        }
        JobPayload::Update {
            remote_id, update, ..
        } => conn
            .update(remote_id, update)
            .await
            .map(|()| Landed::Updated),
        JobPayload::Comment {
            remote_id,
            body,
            source_comment_id,
        } => {
            // An earlier attempt may have posted the copy and lost the
            // answer: its marker names the original, so look before
            // posting again.
            if job.attempts > 0
                && let Some(found) =
                    posted_copy(conn, remote_id, job.target.other(), source_comment_id, body)
                        .await?
            {
                return Ok(Landed::Commented(found));
            }
            conn.add_comment(remote_id, body)
                .await
                .map(Landed::Commented)
        }
        JobPayload::Delete { remote_id } => match conn.delete(remote_id).await {
            Ok(()) => Ok(Landed::Deleted),
            Err(e) if e.class == ErrorClass::NotFound => Ok(Landed::Deleted),
            Err(e) => Err(e),
        },
        JobPayload::Note { remote_id, body } => conn
            .add_private_note(remote_id, body)
            .await
            .map(Landed::Noted),
    }
}

/// The copy of comment `source_id` (from side `from`) already on the
/// target record: recognised by roundtrip's marker line (Linear), or by
/// being exactly the text this job posts (the portal, where copies carry
/// no marker).
async fn posted_copy(
    conn: &dyn Connector,
    remote_id: &str,
    from: Side,
    source_id: &str,
    body: &str,
) -> Result<Option<Comment>, RemoteError> {
    let Some(record) = conn.get(remote_id).await? else {
        return Ok(None);
    };
    Ok(record.comments.into_iter().find(|c| {
        c.body.trim() == body.trim()
            || crate::sync::comments::parse_marker(&c.body)
                .is_some_and(|(side, id)| side == from && id == source_id)
    }))
}

/// Timing of one attempt, captured around the call.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// When it started (ms).
    pub started_at: i64,
    /// How long it took (ms).
    pub duration_ms: i64,
}

impl Timing {
    /// Start timing now.
    pub fn start() -> (i64, Instant) {
        (now_ms(), Instant::now())
    }

    /// Finish timing.
    pub fn finish(started: (i64, Instant)) -> Timing {
        Timing {
            started_at: started.0,
            duration_ms: i64::try_from(started.1.elapsed().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

fn render(v: &FieldValue) -> String {
    v.display_short(200)
}

/// Record a successful attempt and everything the write implies.
pub fn record_success(
    db: Db<'_>,
    job: &Job,
    payload: &JobPayload,
    landed: &Landed,
    t: Timing,
) -> StoreResult<()> {
    let attempt = NewAttempt {
        started_at: t.started_at,
        duration_ms: t.duration_ms,
        http_status: None,
        error_class: None,
        message: None,
        request_id: None,
    };
    db.record_attempt(job.id, &attempt, JobStatus::Succeeded, now_ms())?;
    let link = match job.link_id {
        Some(id) => db.link(id)?,
        None => None,
    };
    let audit = |action: AuditAction,
                 field: Option<&str>,
                 before: Option<String>,
                 after: Option<String>| NewAudit {
        link_id: job.link_id,
        actor: Actor::Engine,
        action,
        side: Some(job.target),
        field: field.map(str::to_string),
        before,
        after,
        reason: job.reason.clone(),
    };
    match (payload, landed) {
        (JobPayload::Create { base, .. }, Landed::Created(record)) => {
            db.upsert_record(job.target, record)?;
            if let Some(link) = &link {
                if link.state == crate::store::LinkState::Pending {
                    db.complete_link(link.id, job.target, &record.remote_id)?;
                }
                let mut merged = link.base.clone();
                merged.extend(base.clone());
                db.set_link_base(link.id, &record.title, &merged)?;
            }
            db.append_audit(&audit(
                AuditAction::Create,
                None,
                None,
                Some(
                    record
                        .identifier
                        .clone()
                        .unwrap_or_else(|| record.remote_id.clone()),
                ),
            ))?;
        }
        (
            JobPayload::Update {
                remote_id,
                base,
                update,
            },
            Landed::Updated,
        ) => {
            let before = db.record(job.target, remote_id)?;
            if let Some(stored) = &before {
                // The store now reflects what we wrote, so a merge before the
                // echo arrives does not mistake the old value for a change.
                let mut rec = stored.record.clone();
                for (field, value) in &update.fields {
                    rec.set_field(field, value.clone());
                    if field == "state" {
                        rec.status_type = None;
                    }
                }
                db.upsert_record(job.target, &rec)?;
            }
            if let Some(link) = &link {
                let mut merged = link.base.clone();
                merged.extend(base.clone());
                let title = match merged.get("title") {
                    Some(FieldValue::Text(t)) => t.clone(),
                    _ => link.title.clone(),
                };
                db.set_link_base(link.id, &title, &merged)?;
            }
            for (field, value) in &update.fields {
                let old = before
                    .as_ref()
                    .and_then(|r| r.record.field(field))
                    .map(|v| render(&v));
                db.append_audit(&audit(
                    AuditAction::Write,
                    Some(field),
                    old,
                    Some(render(value)),
                ))?;
            }
        }
        (
            JobPayload::Comment {
                source_comment_id, ..
            },
            Landed::Commented(comment),
        ) => {
            if let Some(link) = &link {
                let (portal, linear) = match job.target {
                    Side::Linear => (source_comment_id.clone(), comment.remote_id.clone()),
                    Side::Portal => (comment.remote_id.clone(), source_comment_id.clone()),
                };
                db.insert_comment_link(&CommentLink {
                    link_id: link.id,
                    portal_comment_id: Some(portal),
                    linear_comment_id: Some(linear),
                    origin: job.target.other(),
                })?;
            }
            db.append_audit(&audit(
                AuditAction::Comment,
                None,
                None,
                Some(comment.body.chars().take(200).collect()),
            ))?;
        }
        (JobPayload::Delete { remote_id }, Landed::Deleted) => {
            db.mark_record_deleted(job.target, remote_id)?;
            db.append_audit(&audit(
                AuditAction::Delete,
                None,
                Some(remote_id.clone()),
                None,
            ))?;
        }
        (JobPayload::Note { body, .. }, Landed::Noted(posted)) => {
            let after = match posted {
                Some(_) => body.chars().take(200).collect(),
                None => format!(
                    "not posted: {} has no place only the team reads; kept here only: {}",
                    job.target,
                    body.chars().take(200).collect::<String>()
                ),
            };
            db.append_audit(&audit(AuditAction::Note, None, None, Some(after)))?;
        }
        _ => {}
    }
    db.bump_meta(meta_keys::CHANGES_SYNCED, 1)?;
    Ok(())
}

/// Record a failed attempt; returns the step taken so the scheduler can
/// pause a connector on auth errors.
pub fn record_failure(
    db: Db<'_>,
    job: &Job,
    err: &RemoteError,
    t: Timing,
    max_attempts: u32,
) -> StoreResult<NextStep> {
    let attempt_no = u32::try_from(job.attempts + 1).unwrap_or(u32::MAX);
    let step = next_step(
        err,
        attempt_no,
        max_attempts.min(u32::try_from(job.max_attempts).unwrap_or(u32::MAX)),
        fastrand::f64(),
    );
    let attempt = NewAttempt {
        started_at: t.started_at,
        duration_ms: t.duration_ms,
        http_status: err.http_status.map(i64::from),
        error_class: Some(err.class),
        message: Some(err.message.clone()),
        request_id: err.request_id.clone(),
    };
    let now = now_ms();
    let (status, next_run) = match &step {
        NextStep::Retry(wait) => (
            JobStatus::Queued,
            now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2),
        ),
        // Auth: keep the job queued; the connector pause holds it back.
        NextStep::PauseConnector => (JobStatus::Queued, now + 60_000),
        NextStep::Fail | NextStep::NotFound => (JobStatus::Failed, now),
        NextStep::Dead => (JobStatus::Dead, now),
    };
    db.record_attempt(job.id, &attempt, status, next_run)?;
    if err.class == ErrorClass::Schema {
        db.note_shape_drift(job.target, &err.message)?;
    }
    match &step {
        NextStep::PauseConnector => {
            let key = meta_keys::paused(job.target);
            db.set_meta(key, &format!("credentials refused ({})", err.message))?;
            db.log_event(
                Level::Error,
                "engine",
                &format!(
                    "{} refused our credentials; connector paused: {}",
                    job.target, err.message
                ),
            )?;
        }
        NextStep::Dead => db.log_event(
            Level::Error,
            "engine",
            &format!(
                "job {} ({} {}) is dead after {} attempts: {}",
                job.id, job.kind, job.target, attempt_no, err
            ),
        )?,
        NextStep::Fail | NextStep::NotFound => db.log_event(
            Level::Warn,
            "engine",
            &format!(
                "job {} ({} {}) failed: {}",
                job.id, job.kind, job.target, err
            ),
        )?,
        NextStep::Retry(wait) => db.log_event(
            Level::Debug,
            "engine",
            &format!("job {} retry in {:?}: {}", job.id, wait, err),
        )?,
    }
    Ok(step)
}
