//! Sending one job to its connector and recording what happened: the attempt
//! row, the job's next status, and — on success — the link, base snapshot,
//! comment pair and audit entries the write implies, all in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::connector::Connector;
use crate::domain::{
    Actor, AuditAction, Comment, ErrorClass, FieldValue, JobStatus, Record, RemoteError, SetDelta,
    Side, Update,
};
use crate::store::{
    CommentLink, Db, Job, Level, NewAttempt, NewAudit, Result as StoreResult, meta_keys, now_ms,
};
use crate::sync::codec::normalize_text;

use super::backoff::{NextStep, next_step};
use super::payload::{JobPayload, SourceCheck};
use super::records::{store_record_read, store_record_written};

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
    /// Fields were written (or were found already written, or were left
    /// alone because the target changed them meanwhile).
    Updated(Box<UpdateLanded>),
    /// The comment was posted.
    Commented(Comment),
    /// The record was deleted (or was already gone).
    Deleted,
    /// The private note was posted; `None` when the remote has no place
    /// customers cannot read, so it stays in roundtrip's audit log only.
    Noted(Option<Comment>),
    /// This many voters were added to the target (the others were there).
    VotersCopied(usize),
    /// A shipped issue's loop was closed: where it shipped (`None`: the
    /// issue is gone) and the comment posted, if the route has one.
    Shipped {
        /// Where it shipped.
        info: Option<crate::domain::ShipInfo>,
        /// The ship comment.
        comment: Option<Comment>,
    },
    /// The changelog entry is on the portal (or was found there, made by an
    /// earlier attempt whose answer was lost).
    Published(String),
}

/// How an update went, field by field, against the target as re-read just
/// before it was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateLanded {
    /// The target as it is now: the re-read with what was written applied.
    pub after: Record,
    /// When that re-read started (ms).
    pub read_at: i64,
    /// The re-read value of every field written (what the write replaced).
    pub before: BTreeMap<String, FieldValue>,
    /// What was written, per field (a set as the resulting set).
    pub written: BTreeMap<String, FieldValue>,
    /// Fields not written: the target (or, for a notifying write, the
    /// source) changed them after the write was planned. The next merge
    /// decides them from the new values.
    pub skipped: BTreeSet<String>,
    /// The source record, when a notifying write re-read it, with when
    /// that read started.
    pub source: Option<(Side, Record, i64)>,
    /// The remote's update time after the write (Linear).
    pub updated_at: Option<DateTime<Utc>>,
}

/// An update made ready against a fresh read of its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// What to send (empty: nothing to do).
    pub send: Update,
    /// The outcome so far (its `updated_at` is filled in once sent).
    pub landed: UpdateLanded,
}

fn same(a: Option<&FieldValue>, b: Option<&FieldValue>) -> bool {
    match (a, b) {
        (Some(FieldValue::Text(x)), Some(FieldValue::Text(y))) => {
            normalize_text(x) == normalize_text(y)
        }
        (Some(FieldValue::Set(x)), Some(FieldValue::Set(y))) => SetDelta::between(x, y).is_empty(),
        (Some(FieldValue::Null), None) | (None, Some(FieldValue::Null)) => true,
        (x, y) => x == y,
    }
}

/// Turn a planned update into what to send now, given the target as just
/// re-read (`fresh`): a field already holding its new value is not sent; a
/// field that no longer holds the value the plan saw (`expect`) changed
/// meanwhile and is left alone; a set is sent as the additions and removals
/// the plan made, which keeps members someone else added or removed. What
/// an earlier attempt of the same job is known to have written (`landed`,
/// from the remote's history after a lost answer) is not sent again but
/// counts as written, so a person's later undo of it stands and is merged.
pub fn prepare(
    fresh: &Record,
    read_at: i64,
    planned: &Update,
    expect: &BTreeMap<String, FieldValue>,
    landed_before: &Update,
) -> Prepared {
    // A move (re-route) is sent as planned: moving an issue to the team and
    // project it is already in changes nothing.
    let mut send = Update {
        notify_voters: planned.notify_voters,
        status_comment: planned.status_comment.clone(),
        placement: planned.placement.clone(),
        ..Update::default()
    };
    let mut landed = UpdateLanded {
        after: fresh.clone(),
        read_at,
        before: BTreeMap::new(),
        written: BTreeMap::new(),
        skipped: BTreeSet::new(),
        source: None,
        updated_at: None,
    };
    for (field, value) in &planned.fields {
        let current = fresh.field(field);
        if let FieldValue::Set(target) = value {
            let now = match &current {
                Some(FieldValue::Set(s)) => s.clone(),
                _ => BTreeSet::new(),
            };
            let from = match expect.get(field) {
                Some(FieldValue::Set(s)) => s.clone(),
                _ => now.clone(),
            };
            let done = landed_before.deltas.get(field).cloned().unwrap_or_default();
            let delta = SetDelta::between(&from, target)
                .without(&done)
                .pending_on(&now);
            if delta.is_empty() {
                if !done.is_empty() {
                    landed.before.insert(field.clone(), FieldValue::Set(now));
                    landed.written.insert(field.clone(), value.clone());
                }
                continue;
            }
            let result = FieldValue::Set(delta.apply(&now));
            landed.after.set_field(field, result.clone());
            landed.before.insert(field.clone(), FieldValue::Set(now));
            landed.written.insert(field.clone(), result);
            send.deltas.insert(field.clone(), delta);
            continue;
        }
        if same(current.as_ref(), Some(value)) {
            continue;
        }
        if landed_before.fields.contains_key(field) {
            landed
                .before
                .insert(field.clone(), current.unwrap_or(FieldValue::Null));
            landed.written.insert(field.clone(), value.clone());
            continue;
        }
        if let Some(seen) = expect.get(field)
            && !same(current.as_ref(), Some(seen))
        {
            landed.skipped.insert(field.clone());
            continue;
        }
        landed.after.set_field(field, value.clone());
        if field == "state" {
            landed.after.status_type = None;
        }
        landed
            .before
            .insert(field.clone(), current.unwrap_or(FieldValue::Null));
        landed.written.insert(field.clone(), value.clone());
        send.fields.insert(field.clone(), value.clone());
    }
    Prepared { send, landed }
}

/// Drop the guarded fields of a notifying write whose source changed since
/// it was planned (a Done that was reopened must not tell voters
/// "complete"). A dropped field keeps its re-read value (`fresh`) in what
/// the write is recorded to have left behind, or the store would hold a
/// value the target never had and the next merge would copy it back.
fn apply_source_check(
    prepared: &mut Prepared,
    check: &SourceCheck,
    source: &Record,
    fresh: &Record,
) {
    let changed = check
        .fields
        .iter()
        .any(|(f, v)| !same(source.field(f).as_ref(), Some(v)));
    if !changed {
        return;
    }
    for g in &check.guards {
        if prepared.send.fields.remove(g).is_some() {
            prepared.landed.written.remove(g);
            prepared.landed.before.remove(g);
            prepared.landed.skipped.insert(g.clone());
            if let Some(v) = fresh.field(g) {
                prepared.landed.after.set_field(g, v);
            }
            if g == "state" {
                prepared.landed.after.status_type = fresh.status_type.clone();
            }
        } else if prepared.landed.written.contains_key(g) {
            prepared.landed.skipped.insert(g.clone());
        }
    }
    prepared.send.notify_voters = false;
}

/// What an earlier attempt of a planned update may have sent, for asking
/// the target's history: its scalar fields, and each set as the additions
/// and removals the plan makes from what it saw.
fn history_probe(planned: &Update, expect: &BTreeMap<String, FieldValue>) -> Update {
    let mut probe = Update::default();
    for (field, value) in &planned.fields {
        match (value, expect.get(field)) {
            (FieldValue::Set(target), Some(FieldValue::Set(from))) => {
                probe
                    .deltas
                    .insert(field.clone(), SetDelta::between(from, target));
            }
            (FieldValue::Set(_), _) => {}
            _ => {
                probe.fields.insert(field.clone(), value.clone());
            }
        }
    }
    probe
}

fn gone(side: Side, id: &str) -> RemoteError {
    RemoteError::new(
        ErrorClass::NotFound,
        format!("the {side} record {id} no longer exists"),
    )
}

/// Re-read an update's target (and, for a notifying write, its source) and
/// make the update ready to send. `since`: for a retry, when the job's
/// first attempt of unknown outcome started — the target's own history then
/// says which parts an earlier attempt already wrote (an answer lost, or a
/// process killed before it was recorded).
pub async fn prepare_update(
    conns: &Connectors,
    target: Side,
    payload: &JobPayload,
    fresh: Option<(Record, i64)>,
    since: Option<DateTime<Utc>>,
) -> Result<Prepared, RemoteError> {
    let JobPayload::Update {
        remote_id,
        update,
        expect,
        source,
        ..
    } = payload
    else {
        return Err(RemoteError::new(ErrorClass::Validation, "not an update"));
    };
    let (fresh, read_at) = match fresh {
        Some(f) => f,
        None => {
            let started = now_ms();
            let r = conns
                .side(target)
                .get_fields(remote_id)
                .await?
                .ok_or_else(|| gone(target, remote_id))?;
            (r, started)
        }
    };
    let landed_before = match since {
        Some(since) => conns
            .side(target)
            .landed_since(remote_id, since, &history_probe(update, expect))
            .await?
            .unwrap_or_default(),
        None => Update::default(),
    };
    let mut prepared = prepare(&fresh, read_at, update, expect, &landed_before);
    if let Some(check) = source
        && update.notify_voters
        && !prepared.send.fields.is_empty()
    {
        let started = now_ms();
        if let Some(src) = conns.side(check.side).get_fields(&check.remote_id).await? {
            apply_source_check(&mut prepared, check, &src, &fresh);
            prepared.landed.source = Some((check.side, src, started));
        }
    }
    Ok(prepared)
}

/// Send a prepared update (nothing at all when nothing needs writing).
pub async fn send_update(
    conn: &dyn Connector,
    remote_id: &str,
    mut prepared: Prepared,
) -> Result<Landed, RemoteError> {
    if !prepared.send.is_empty() {
        prepared.landed.updated_at = conn.update(remote_id, &prepared.send).await?.updated_at;
    }
    Ok(Landed::Updated(Box::new(prepared.landed)))
}

/// Send one job. A create that may have succeeded before (a retry) first
/// looks for the record an earlier attempt made, so retries never duplicate
/// — unless the connector's own `create` is idempotent by client id, in
/// which case re-sending it also finishes what the earlier attempt left
/// undone (Linear: the portal URL attachment after a timed-out create). An
/// update re-reads its target first and writes only what still needs it; a
/// retried comment looks for the copy an earlier attempt may have posted.
pub async fn execute(
    conns: &Connectors,
    job: &Job,
    payload: &JobPayload,
    since: Option<DateTime<Utc>>,
) -> Result<Landed, RemoteError> {
    let conn = conns.side(job.target).as_ref();
    match payload {
        JobPayload::Create { record, .. } => {
            if job.tried_before()
                && !conn.create_is_idempotent()
                && let Some(found) = conn.find_created(record).await?
            {
                return Ok(Landed::Created(found));
            }
            conn.create(record).await.map(Landed::Created)
        }
        JobPayload::Update { remote_id, .. } => {
            let prepared = prepare_update(conns, job.target, payload, None, since).await?;
            send_update(conn, remote_id, prepared).await
        }
        JobPayload::Comment {
            remote_id,
            body,
            source_comment_id,
            client_id,
        } => {
            // An earlier attempt may have posted the copy and lost the
            // answer: look for it (by its client id where the remote takes
            // one, else by its marker or exact text) before posting again.
            if job.tried_before() {
                let found = match client_id {
                    Some(id) => conn.find_comment(remote_id, *id, body).await?,
                    None => {
                        posted_copy(conn, remote_id, job.target.other(), source_comment_id, body)
                            .await?
                    }
                };
                if let Some(found) = found {
                    return Ok(Landed::Commented(found));
                }
            }
            match client_id {
                Some(id) => conn.add_comment_with_id(remote_id, body, *id).await,
                None => conn.add_comment(remote_id, body).await,
            }
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
        JobPayload::CopyVoters { from, to } => {
            conn.copy_voters(from, to).await.map(Landed::VotersCopied)
        }
        JobPayload::Ship {
            post_id,
            post_title,
            post_url,
            issue_id,
            comment,
            ..
        } => {
            let info = conns.linear.shipped_in(issue_id).await?;
            let posted = match (comment, &info) {
                (Some(template), Some(info)) => {
                    let body = crate::sync::close_loop::ship_comment(
                        template,
                        info,
                        post_title,
                        post_url.as_deref(),
                    );
                    // An earlier attempt may have posted it and lost the
                    // answer: the exact text on the post is that copy.
                    let found = if job.tried_before() {
                        posted_copy(conn, post_id, Side::Linear, "", &body).await?
                    } else {
                        None
                    };
                    match found {
                        Some(c) => Some(c),
                        None => Some(conn.add_comment(post_id, &body).await?),
                    }
                }
                _ => None,
            };
            Ok(Landed::Shipped {
                info,
                comment: posted,
            })
        }
        JobPayload::Changelog { entry, .. } => {
            conn.publish_changelog(entry).await.map(Landed::Published)
        }
    }
}

/// The payload of a failed create with the id its connector got back before
/// the failure, when the payload does not carry it yet: stored with the job
/// so the retry looks the record up by id (see
/// [`crate::domain::NewRecord::created_id`]).
pub fn payload_with_created_id(conn: &dyn Connector, payload: &JobPayload) -> Option<JobPayload> {
    let JobPayload::Create { record, base } = payload else {
        return None;
    };
    let id = conn.created_id(&record.client_id)?;
    if record.created_id.as_deref() == Some(id.as_str()) {
        return None;
    }
    let mut record = record.clone();
    record.created_id = Some(id);
    Some(JobPayload::Create {
        record,
        base: base.clone(),
    })
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
            store_record_written(db, job.target, record)?;
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
                base, carried_by, ..
            },
            Landed::Updated(done),
        ) => {
            record_update(db, job, link.as_ref(), base, carried_by, done)?;
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
        (
            JobPayload::Ship {
                post_id,
                post_title,
                post_url,
                route,
                changelog,
                ..
            },
            Landed::Shipped { info, comment },
        ) => {
            if let Some(c) = comment {
                db.append_audit(&audit(
                    AuditAction::Comment,
                    None,
                    None,
                    Some(c.body.chars().take(200).collect()),
                ))?;
            }
            let listed = match (changelog, info) {
                (Some(rule), Some(info)) => {
                    let group = match rule.per {
                        crate::domain::GroupKind::Cycle => info.cycle.as_ref(),
                        crate::domain::GroupKind::Project => info.project.as_ref(),
                    };
                    match group {
                        Some(g) => {
                            let settings = serde_json::to_string(rule).unwrap_or_default();
                            let added = db.add_to_changelog(
                                g.kind,
                                &g.id,
                                &g.name,
                                route,
                                &settings,
                                &crate::store::ChangelogPost {
                                    portal_id: post_id.clone(),
                                    title: post_title.clone(),
                                    url: post_url.clone(),
                                },
                                job.link_id,
                            )?;
                            Some(match added {
                                Some(_) => format!(
                                    "listed in the changelog entry of {} {}",
                                    g.kind, g.name
                                ),
                                None => format!(
                                    "not listed: the entry of {} {} is already out",
                                    g.kind, g.name
                                ),
                            })
                        }
                        None => Some(format!(
                            "shipped in no {}: not in a changelog entry",
                            rule.per
                        )),
                    }
                }
                (_, None) => Some("the issue is gone: nothing to close".into()),
                (None, Some(_)) => None,
            };
            db.append_audit(&audit(
                AuditAction::Ship,
                None,
                None,
                Some(listed.unwrap_or_else(|| "loop closed".into())),
            ))?;
        }
        (JobPayload::Changelog { group_id, entry }, Landed::Published(id)) => {
            db.set_changelog_state(
                *group_id,
                crate::store::ChangelogState::Queued,
                crate::store::ChangelogState::Published,
                Some(id),
            )?;
            db.append_audit(&audit(
                AuditAction::Changelog,
                None,
                None,
                Some(format!(
                    "entry {id} '{}' ({} posts, {})",
                    entry.title,
                    entry.post_ids.len(),
                    if entry.publish { "published" } else { "draft" }
                )),
            ))?;
        }
        (JobPayload::CopyVoters { from, to }, Landed::VotersCopied(added)) => {
            db.append_audit(&audit(
                AuditAction::Voters,
                None,
                Some(from.clone()),
                Some(format!("{to}: {added} voters added, the rest were there")),
            ))?;
        }
        _ => {}
    }
    if let Some(link) = &link {
        db.clear_link_breaker(link.id)?;
    }
    db.bump_meta(meta_keys::CHANGES_SYNCED, 1)?;
    Ok(())
}

/// Store what an update did: the target's new state (fresher than any read
/// still on its way), the source's re-read, the base of every field that
/// was written or already agreed, an audit entry per field — and, for a
/// Linear write, a receipt its own webhook is checked against.
fn record_update(
    db: Db<'_>,
    job: &Job,
    link: Option<&crate::store::Link>,
    base: &BTreeMap<String, FieldValue>,
    carried_by: &BTreeMap<String, String>,
    done: &UpdateLanded,
) -> StoreResult<()> {
    store_record_written(db, job.target, &done.after)?;
    if let Some((side, record, started)) = &done.source {
        store_record_read(db, *side, record, *started)?;
    }
    if let Some(link) = link {
        // A field left unwritten keeps its old base: the next merge sees it
        // changed on both sides. Without a carrier map (older jobs), any
        // skipped field holds back the whole base.
        let mut merged = link.base.clone();
        if carried_by.is_empty() {
            if done.skipped.is_empty() {
                merged.extend(base.clone());
            }
        } else {
            merged.extend(base.iter().filter_map(|(name, v)| {
                let carrier = carried_by.get(name)?;
                (!done.skipped.contains(carrier)).then(|| (name.clone(), v.clone()))
            }));
        }
        let title = match merged.get("title") {
            Some(FieldValue::Text(t)) => t.clone(),
            _ => link.title.clone(),
        };
        db.set_link_base(link.id, &title, &merged)?;
        db.clear_link_breaker(link.id)?;
    }
    let audit = |action: AuditAction,
                 field: &str,
                 before: Option<String>,
                 after: Option<String>,
                 reason: String| NewAudit {
        link_id: job.link_id,
        actor: Actor::Engine,
        action,
        side: Some(job.target),
        field: Some(field.to_string()),
        before,
        after,
        reason,
    };
    for (field, value) in &done.written {
        let old = done.before.get(field).map(render);
        db.append_audit(&audit(
            AuditAction::Write,
            field,
            old,
            Some(render(value)),
            job.reason.clone(),
        ))?;
    }
    for field in &done.skipped {
        db.append_audit(&audit(
            AuditAction::Superseded,
            field,
            None,
            done.after.field(field).map(|v| render(&v)),
            format!(
                "{field}: changed on {} while roundtrip's write was on its way; not overwritten, merged again",
                job.target
            ),
        ))?;
    }
    Ok(())
}

/// The text and number fields of a write (sets are written as deltas and
/// cannot replace anyone's edit).
fn scalars(m: &BTreeMap<String, FieldValue>) -> BTreeMap<String, FieldValue> {
    m.iter()
        .filter(|(_, v)| !matches!(v, FieldValue::Set(_)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Before a Linear update is sent: keep what it expects to replace and
/// what it writes, so its own webhook (whose `updatedFrom` says what it
/// really replaced) can be recognised whenever it arrives — even before the
/// answer, or for a write whose answer was lost.
pub fn record_receipt(db: Db<'_>, job: &Job, prepared: &Prepared) -> StoreResult<()> {
    let written = scalars(&prepared.send.fields);
    if job.target != Side::Linear || written.is_empty() {
        return Ok(());
    }
    db.insert_write_receipt(
        job.link_id,
        job.target,
        &prepared.landed.after.remote_id,
        &scalars(&prepared.landed.before)
            .into_iter()
            .filter(|(f, _)| written.contains_key(f))
            .collect(),
        &written,
    )?;
    Ok(())
}

/// Record a failed attempt; returns the step taken so the scheduler can
/// pause a connector on auth errors.
pub fn record_failure(
    db: Db<'_>,
    job: &Job,
    payload: Option<&JobPayload>,
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
    if matches!(step, NextStep::Fail | NextStep::Dead | NextStep::NotFound)
        && let Some(link_id) = job.link_id
    {
        let split = err.class == ErrorClass::Validation
            && payload.is_some_and(|p| refused(db, job, link_id, p, err).unwrap_or(false));
        if !split {
            trip_breaker(db, link_id, job, err)?;
        }
    }
    Ok(step)
}

/// Failed jobs within [`BREAKER_WINDOW_MS`] that pause a link.
pub const BREAKER_FAILURES: i64 = 3;
/// How far back failures count towards the breaker (ms).
pub const BREAKER_WINDOW_MS: i64 = 10 * 60_000;
/// The first pause of a tripped link (ms); it doubles with each trip in a
/// row, up to [`BREAKER_MAX_PAUSE_MS`].
pub const BREAKER_PAUSE_MS: i64 = 5 * 60_000;
/// The longest pause.
pub const BREAKER_MAX_PAUSE_MS: i64 = 60 * 60_000;

/// A side refused a write (validation). A write of several fields is split
/// into one job per field, so the refused field is found and the others
/// still land (returns true: the split jobs carry on). A write of one field
/// becomes a refusal the next merge turns into a "cannot write" conflict,
/// so the same value is never planned again until a side changes it.
fn refused(
    db: Db<'_>,
    job: &Job,
    link_id: i64,
    payload: &JobPayload,
    err: &RemoteError,
) -> StoreResult<bool> {
    let JobPayload::Update {
        remote_id,
        update,
        base,
        expect,
        carried_by,
        source,
    } = payload
    else {
        return Ok(false);
    };
    if update.fields.len() > 1 {
        for (field, value) in &update.fields {
            let single = JobPayload::Update {
                remote_id: remote_id.clone(),
                update: Update {
                    fields: [(field.clone(), value.clone())].into(),
                    notify_voters: update.notify_voters,
                    status_comment: None,
                    // The original a duplicate is marked with rides with
                    // the status (the portal's only status field name).
                    duplicate_of: update.duplicate_of.clone().filter(|_| field == "status"),
                    deltas: BTreeMap::new(),
                    placement: None,
                },
                base: base
                    .iter()
                    .filter(|(name, _)| carried_by.get(*name) == Some(field))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                expect: expect
                    .get(field)
                    .map(|v| (field.clone(), v.clone()))
                    .into_iter()
                    .collect(),
                carried_by: carried_by
                    .iter()
                    .filter(|(_, f)| *f == field)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                source: source.clone().filter(|s| s.guards.contains(field)),
            };
            db.insert_job(&crate::store::NewJob {
                link_id: Some(link_id),
                target: job.target,
                kind: single.kind(),
                payload: single.to_json(),
                reason: format!(
                    "{} (one field at a time: {} refused the write of several)",
                    job.reason, job.target
                ),
                lane: job.lane,
                max_attempts: job.max_attempts,
            })?;
        }
        db.log_event(
            Level::Warn,
            "engine",
            &format!(
                "{} refused job {} ({}); writing each field on its own to find the one it refuses",
                job.target, job.id, err.message
            ),
        )?;
        return Ok(true);
    }
    for (field, value) in &update.fields {
        db.record_refusal(
            link_id,
            job.target,
            field,
            value,
            &err.message,
            Some(job.id),
        )?;
    }
    Ok(false)
}

/// Count a failed job against its link; pause the link when it keeps
/// failing.
fn trip_breaker(db: Db<'_>, link_id: i64, job: &Job, err: &RemoteError) -> StoreResult<()> {
    let now = now_ms();
    let mut b = db
        .link_breaker(link_id)?
        .unwrap_or(crate::store::LinkBreaker {
            link_id,
            failures: 0,
            window_start: now,
            trips: 0,
            tripped_until: None,
            reason: String::new(),
        });
    if now - b.window_start > BREAKER_WINDOW_MS {
        b.failures = 0;
        b.window_start = now;
    }
    b.failures += 1;
    b.reason = format!(
        "{} failed writes in {}; last: {} {}: {}",
        b.failures,
        crate::health::human_ms(now - b.window_start),
        job.kind,
        job.target,
        err
    );
    if b.failures >= BREAKER_FAILURES {
        let pause = BREAKER_PAUSE_MS
            .saturating_mul(1 << b.trips.clamp(0, 10))
            .min(BREAKER_MAX_PAUSE_MS);
        b.tripped_until = Some(now + pause);
        b.trips += 1;
        db.log_event(
            Level::Error,
            "engine",
            &format!(
                "link {link_id} paused by its circuit breaker for {}: {} (a write that lands, e.g. a retried job, closes it)",
                crate::health::human_ms(pause),
                b.reason
            ),
        )?;
    }
    db.save_link_breaker(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> FieldValue {
        FieldValue::Set(names.iter().map(|s| s.to_string()).collect())
    }

    fn record(title: &str, labels: &[&str]) -> Record {
        Record {
            remote_id: "r1".into(),
            title: title.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            ..Record::default()
        }
    }

    fn planned(fields: &[(&str, FieldValue)]) -> Update {
        Update {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Update::default()
        }
    }

    #[test]
    fn a_field_the_target_changed_since_the_plan_is_left_alone() {
        let expect = [("title".to_string(), FieldValue::Text("Old".into()))].into();
        let plan = planned(&[("title", FieldValue::Text("Portal".into()))]);
        let p = prepare(
            &record("Edited on Linear", &[]),
            1,
            &plan,
            &expect,
            &Update::default(),
        );
        assert!(p.send.is_empty());
        assert!(p.landed.skipped.contains("title"));
        // Unchanged since the plan: written.
        let p = prepare(&record("Old", &[]), 1, &plan, &expect, &Update::default());
        assert_eq!(p.send.fields["title"], FieldValue::Text("Portal".into()));
        assert_eq!(p.landed.before["title"], FieldValue::Text("Old".into()));
        // Already there (a retry after a lost answer): nothing to send.
        let p = prepare(
            &record("Portal", &[]),
            1,
            &plan,
            &expect,
            &Update::default(),
        );
        assert!(p.send.is_empty() && p.landed.skipped.is_empty());
    }

    #[test]
    fn a_status_dropped_because_its_source_changed_is_recorded_as_it_is_on_the_target() {
        // Planned when Linear said Done: the post goes from 'in progress' to
        // 'complete', telling voters. Before the write, Linear went back to
        // Todo, so the status is dropped; the post still says 'in progress'
        // and that is what the write must be recorded as leaving there.
        let mut post = record("T", &[]);
        post.status = "in progress".into();
        let expect = [("status".to_string(), FieldValue::Text("in progress".into()))].into();
        let mut plan = planned(&[
            ("status", FieldValue::Text("complete".into())),
            ("title", FieldValue::Text("New".into())),
        ]);
        plan.notify_voters = true;
        let check = SourceCheck {
            side: Side::Linear,
            remote_id: "i1".into(),
            fields: [("state".to_string(), FieldValue::Text("Done".into()))].into(),
            guards: vec!["status".into()],
        };
        let mut issue = record("T", &[]);
        issue.status = "Todo".into();
        let mut p = prepare(&post, 1, &plan, &expect, &Update::default());
        assert_eq!(p.landed.after.status, "complete", "planned to be written");
        apply_source_check(&mut p, &check, &issue, &post);
        assert!(!p.send.fields.contains_key("status"));
        assert!(!p.send.notify_voters);
        assert!(p.landed.skipped.contains("status"));
        assert_eq!(p.landed.after.status, "in progress", "never written");
        assert_eq!(p.landed.after.title, "New", "the rest is still written");
        // The source unchanged: the status is written, voters told.
        issue.status = "Done".into();
        let mut p = prepare(&post, 1, &plan, &expect, &Update::default());
        apply_source_check(&mut p, &check, &issue, &post);
        assert_eq!(p.landed.after.status, "complete");
        assert!(p.send.notify_voters && p.landed.skipped.is_empty());
    }

    #[test]
    fn a_set_is_written_as_the_plans_delta_keeping_concurrent_members() {
        // Planned from {} to {ux}; meanwhile someone added Feature.
        let expect = [("labels".to_string(), set(&[]))].into();
        let plan = planned(&[("labels", set(&["ux"]))]);
        let p = prepare(
            &record("T", &["Feature"]),
            1,
            &plan,
            &expect,
            &Update::default(),
        );
        assert!(p.send.fields.is_empty(), "never a replacement");
        let d = &p.send.deltas["labels"];
        assert_eq!(d.added, ["ux".to_string()].into());
        assert!(d.removed.is_empty());
        assert_eq!(
            p.landed.after.labels,
            ["Feature".to_string(), "ux".to_string()].into()
        );
        // A removal the target already made is not sent again.
        let expect = [("labels".to_string(), set(&["ux", "Bug"]))].into();
        let plan = planned(&[("labels", set(&["Bug"]))]);
        let p = prepare(
            &record("T", &["bug"]),
            1,
            &plan,
            &expect,
            &Update::default(),
        );
        assert!(p.send.is_empty(), "{:?}", p.send);
    }

    #[test]
    fn what_an_earlier_attempt_wrote_is_not_sent_again_over_a_later_undo() {
        // Planned: add "ux", retitle. The first attempt landed both and
        // lost its answer; a person then removed "ux" and put the title back.
        let expect = [
            ("labels".to_string(), set(&[])),
            ("title".to_string(), FieldValue::Text("Old".into())),
        ]
        .into();
        let plan = planned(&[
            ("labels", set(&["ux"])),
            ("title", FieldValue::Text("New".into())),
        ]);
        let mut landed_before = Update::default();
        landed_before
            .fields
            .insert("title".into(), FieldValue::Text("New".into()));
        landed_before.deltas.insert(
            "labels".into(),
            SetDelta {
                added: ["UX".to_string()].into(),
                removed: BTreeSet::new(),
            },
        );
        let undone = record("Old", &[]);
        let p = prepare(&undone, 1, &plan, &expect, &landed_before);
        assert!(p.send.is_empty(), "nothing written twice: {:?}", p.send);
        assert!(p.landed.skipped.is_empty(), "the write counts as made");
        assert_eq!(p.landed.written["title"], FieldValue::Text("New".into()));
        assert_eq!(p.landed.written["labels"], set(&["ux"]));
        assert_eq!(p.landed.after, undone, "the target as the person left it");
        // Without that knowledge the same retry writes both again.
        let p = prepare(&undone, 1, &plan, &expect, &Update::default());
        assert_eq!(p.send.fields["title"], FieldValue::Text("New".into()));
        assert_eq!(p.send.deltas["labels"].added, ["ux".to_string()].into());
        // A part the history does not show is still sent.
        let mut only_title = landed_before.clone();
        only_title.deltas.clear();
        let p = prepare(&undone, 1, &plan, &expect, &only_title);
        assert!(!p.send.fields.contains_key("title"));
        assert_eq!(p.send.deltas["labels"].added, ["ux".to_string()].into());
    }

    #[test]
    fn the_history_probe_asks_for_scalars_and_the_plans_set_changes() {
        let expect = [("labels".to_string(), set(&["a", "b"]))].into();
        let plan = planned(&[
            ("labels", set(&["b", "c"])),
            ("title", FieldValue::Text("T".into())),
        ]);
        let probe = history_probe(&plan, &expect);
        assert_eq!(probe.fields.len(), 1);
        assert_eq!(probe.fields["title"], FieldValue::Text("T".into()));
        let d = &probe.deltas["labels"];
        assert_eq!(d.added, ["c".to_string()].into());
        assert_eq!(d.removed, ["a".to_string()].into());
    }
}
