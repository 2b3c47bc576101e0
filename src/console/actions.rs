//! Operator actions against the store: each one is a short transaction of
//! intent rows (requeued jobs, resolved conflicts, mapping versions) that the
//! engine picks up, plus an audit entry with actor "operator".

use super::app::{Action, App};
use super::mapping_check::set_field_policy;
use super::views::jobs::filter_words;
use crate::domain::JobStatus;
use crate::store::{ConflictStatus, Db, JobFilter, NewAudit, Resolution, StoreError};

/// Who the audit log says acted.
pub const ACTOR: &str = "operator";

#[derive(Debug, thiserror::Error)]
enum ActionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Msg(String),
}

/// A few words naming an action (for refusals and audit reasons).
pub fn describe(a: &Action) -> String {
    match a {
        Action::RetryJobs(ids) => format!("retry {} job(s)", ids.len()),
        Action::RetryMatching(f) => format!("retry all matching \"{}\"", filter_words(f)),
        Action::CancelJobs(ids) => format!("cancel {} job(s)", ids.len()),
        Action::Resolve { ids, how } => {
            format!("resolve {} conflict(s): {}", ids.len(), how_words(how))
        }
        Action::AlwaysResolve { field, policy, .. } => {
            format!("always resolve {field} as {policy}")
        }
        Action::ApplyMapping { .. } => "apply mapping".into(),
        Action::Rollback(v) => format!("roll back to mapping v{v}"),
        Action::Quit => "quit".into(),
        Action::SwitchView(v) => format!("show {}", v.title()),
        Action::Message(m) => m.clone(),
        Action::Open(_) => "open".into(),
    }
}

fn how_words(how: &Resolution) -> String {
    match how {
        Resolution::Portal => "take portal".into(),
        Resolution::Linear => "take Linear".into(),
        Resolution::Base => "keep base".into(),
        Resolution::Value(v) => format!("merged value {}", v.display_short(30)),
        Resolution::Agreed => "both sides agreed".into(),
        Resolution::Superseded => "superseded by a newer edit".into(),
    }
}

/// How many jobs "retry all matching" would requeue.
pub fn count_retryable(db: Db<'_>, f: &JobFilter) -> Result<i64, StoreError> {
    match f.status {
        Some(JobStatus::Failed | JobStatus::Dead | JobStatus::Cancelled) => db.count_jobs(f),
        Some(_) => Ok(0),
        None => {
            let mut n = 0;
            for s in [JobStatus::Failed, JobStatus::Dead] {
                n += db.count_jobs(&JobFilter {
                    status: Some(s),
                    error_class: f.error_class,
                })?;
            }
            Ok(n)
        }
    }
}

/// The question to ask before an action, or `None` to act at once. Bulk and
/// irreversible actions always ask, with the count of rows they touch.
pub fn confirm_prompt(app: &App, a: &Action) -> Result<Option<String>, StoreError> {
    Ok(match a {
        Action::RetryJobs(ids) if ids.len() > 1 => Some(format!("Retry {} jobs?", ids.len())),
        Action::RetryMatching(f) => {
            let n = count_retryable(app.store.db(), f)?;
            let what = filter_words(f);
            let what = if what.is_empty() {
                "failed or dead".to_string()
            } else {
                what
            };
            Some(format!("Retry all {n} jobs matching \"{what}\"?"))
        }
        Action::CancelJobs(ids) => Some(format!(
            "Cancel {} job(s)? The writes will not be sent.",
            ids.len()
        )),
        Action::Resolve { ids, how } if ids.len() > 1 => Some(format!(
            "Resolve {} conflicts: {}?",
            ids.len(),
            how_words(how)
        )),
        Action::AlwaysResolve { ids, field, policy } => Some(format!(
            "Always resolve `{field}` as {policy}? Saves a new mapping version and resolves {} conflict(s) now.",
            ids.len()
        )),
        Action::ApplyMapping { .. } => Some("Apply this mapping as a new active version?".into()),
        Action::Rollback(v) => Some(format!("Roll back: make mapping v{v} active again?")),
        _ => None,
    })
}

fn audit(
    db: Db<'_>,
    link_id: Option<i64>,
    action: &str,
    field: Option<String>,
    after: Option<String>,
    reason: String,
) -> Result<(), StoreError> {
    db.append_audit(&NewAudit {
        link_id,
        actor: ACTOR.into(),
        action: action.into(),
        side: None,
        field,
        before: None,
        after,
        reason,
    })?;
    Ok(())
}

fn resolve(db: Db<'_>, ids: &[i64], how: &Resolution, why: &str) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in ids {
        let Some(c) = db.conflict(*id)? else { continue };
        if c.status != ConflictStatus::Open {
            continue;
        }
        db.resolve_conflict(*id, how, ACTOR)?;
        audit(
            db,
            Some(c.link_id),
            "resolve",
            Some(c.field.clone()),
            Some(how_words(how)),
            format!("console: {why} (conflict #{id})"),
        )?;
        n += 1;
    }
    Ok(n)
}

/// Perform a (confirmed) mutating action; the message says what happened.
pub fn apply(app: &mut App, a: Action) -> Result<String, String> {
    let result: Result<String, ActionError> = app.store.write(|db| match &a {
        Action::RetryJobs(ids) => {
            let n = db.retry_jobs(ids)?;
            for id in ids {
                let link = db.job(*id)?.and_then(|j| j.link_id);
                audit(
                    db,
                    link,
                    "retry",
                    None,
                    None,
                    format!("console: retry job #{id}"),
                )?;
            }
            Ok(format!("requeued {n} job(s)"))
        }
        Action::RetryMatching(f) => {
            let n = db.retry_matching(f)?;
            audit(
                db,
                None,
                "retry",
                None,
                None,
                format!(
                    "console: retry all matching \"{}\": {n} jobs",
                    filter_words(f)
                ),
            )?;
            Ok(format!("requeued {n} job(s)"))
        }
        Action::CancelJobs(ids) => {
            let n = db.cancel_jobs(ids)?;
            for id in ids {
                let link = db.job(*id)?.and_then(|j| j.link_id);
                audit(
                    db,
                    link,
                    "cancel",
                    None,
                    None,
                    format!("console: cancel job #{id}"),
                )?;
            }
            Ok(format!("cancelled {n} job(s)"))
        }
        Action::Resolve { ids, how } => {
            let n = resolve(db, ids, how, &how_words(how))?;
            Ok(format!("resolved {n} conflict(s): {}", how_words(how)))
        }
        Action::AlwaysResolve { ids, field, policy } => {
            let active = db.active_mapping()?.ok_or_else(|| {
                ActionError::Msg("no active mapping to change; apply one in Mappings first".into())
            })?;
            let next = db.mapping_versions()?.first().map_or(1, |v| v.version + 1);
            let doc = set_field_policy(&active.document, field, policy, next)
                .map_err(ActionError::Msg)?;
            let note = format!("always resolve {field} as {policy} (console)");
            let v = db.add_mapping_version(&doc, ACTOR, &note)?;
            audit(
                db,
                None,
                "mapping",
                Some(field.clone()),
                Some(format!("on_conflict = {policy}")),
                format!("console: {note}, v{v}"),
            )?;
            let how = if *policy == "portal-wins" {
                Resolution::Portal
            } else {
                Resolution::Linear
            };
            let n = resolve(db, ids, &how, &note)?;
            Ok(format!("saved mapping v{v}; resolved {n} conflict(s)"))
        }
        Action::ApplyMapping { document, note } => {
            let v = db.add_mapping_version(document, ACTOR, note)?;
            audit(
                db,
                None,
                "mapping",
                None,
                Some(format!("v{v}")),
                format!("console: {note}"),
            )?;
            Ok(format!("mapping v{v} is now active"))
        }
        Action::Rollback(v) => {
            db.activate_mapping_version(*v)?;
            audit(
                db,
                None,
                "mapping",
                None,
                Some(format!("v{v}")),
                format!("console: roll back to v{v}"),
            )?;
            Ok(format!("mapping v{v} is active again"))
        }
        other => Ok(describe(other)),
    });
    result.map_err(|e| e.to_string())
}
