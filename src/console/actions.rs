//! The console's side of operator actions: what to call an action, what to
//! ask before it, and handing it to [`crate::ops`] — the same functions the
//! CLI calls, so both validate alike and leave the same rows and audit
//! entries. Nothing here writes to the store itself.

use super::app::{Action, App};
use super::views::jobs::filter_words;
use crate::domain::Side;
use crate::ops::{self, Report, conflicts::Choice};
use crate::store::StoreError;

/// A few words naming an action (for refusals and messages).
pub fn describe(a: &Action) -> String {
    match a {
        Action::RetryJobs(ids) => format!("retry {} job(s)", ids.len()),
        Action::RetryMatching(f) => format!("retry all matching \"{}\"", filter_words(f)),
        Action::CancelJobs(ids) => format!("cancel {} job(s)", ids.len()),
        Action::Resolve { ids, choice } => {
            format!("resolve {} conflict(s): {}", ids.len(), choice.words())
        }
        Action::AlwaysResolve { field, winner, .. } => {
            format!("always resolve {field} as {}", policy_words(*winner))
        }
        Action::ApplyMapping { .. } => "apply mapping".into(),
        Action::Rollback(v) => format!("roll back to mapping v{v}"),
        Action::Resume(p) => format!("resume {}", p.label()),
        Action::Quit => "quit".into(),
        Action::SwitchView(v) => format!("show {}", v.title()),
        Action::Message(m) => m.clone(),
        Action::Open(_) => "open".into(),
    }
}

fn policy_words(winner: Side) -> &'static str {
    match winner {
        Side::Portal => "portal-wins",
        Side::Linear => "linear-wins",
    }
}

/// A refusal known before asking (a rollback to a version that does not
/// exist, or that the engine refused), so no confirm dialog is shown for
/// an action that cannot happen.
pub fn precheck(app: &App, a: &Action) -> Result<Option<String>, StoreError> {
    Ok(match a {
        Action::Rollback(v) => {
            let db = app.store.db();
            match ops::mapping::check_rollback(db, *v)? {
                Some(r) => Some(r.to_string()),
                None if db.refused_mapping()?.is_none()
                    && db.active_mapping()?.is_some_and(|a| a.version == *v) =>
                {
                    Some(format!(
                        "mapping version {v} is already active; nothing to roll back"
                    ))
                }
                None => None,
            }
        }
        _ => None,
    })
}

/// The question to ask before an action, or `None` to act at once. Bulk and
/// irreversible actions always ask, with the count of rows they touch.
pub fn confirm_prompt(app: &App, a: &Action) -> Result<Option<String>, StoreError> {
    Ok(match a {
        Action::RetryJobs(ids) if ids.len() > 1 => Some(format!("Retry {} jobs?", ids.len())),
        Action::RetryMatching(f) => {
            let n = ops::jobs::count_matching(app.store.db(), f)?;
            Some(format!("Retry all {n} {}?", ops::jobs::matching_words(f)))
        }
        Action::CancelJobs(ids) => Some(format!(
            "Cancel {} job(s)? The writes will not be sent.",
            ids.len()
        )),
        Action::Resolve { ids, choice } if ids.len() > 1 => Some(format!(
            "Resolve {} conflicts: {}?",
            ids.len(),
            choice.words()
        )),
        Action::AlwaysResolve { ids, field, winner } => Some(format!(
            "Always resolve `{field}` as {}? Saves a new mapping version and resolves {} conflict(s) now.",
            policy_words(*winner),
            ids.len()
        )),
        Action::ApplyMapping { .. } => Some("Apply this mapping as a new active version?".into()),
        Action::Rollback(v) => Some(format!("Roll back: make mapping v{v} active again?")),
        Action::Resume(p) => Some(format!("Resume {}?", p.label())),
        _ => None,
    })
}

/// Perform a (confirmed) store action through the operator-actions module.
/// `None` for actions that are not store actions.
pub fn apply(app: &mut App, a: &Action) -> Option<Result<Report, StoreError>> {
    let store = &mut app.store;
    Some(match a {
        Action::RetryJobs(ids) => store.write(|db| ops::jobs::retry(db, ids)),
        Action::RetryMatching(f) => store.write(|db| ops::jobs::retry_matching(db, f)),
        Action::CancelJobs(ids) => store.write(|db| ops::jobs::cancel(db, ids)),
        Action::Resolve { ids, choice } => {
            store.write(|db| ops::conflicts::resolve(db, ids, choice))
        }
        Action::AlwaysResolve { ids, field, winner } => {
            store.write(|db| ops::mapping::always(db, field, *winner, ids))
        }
        Action::ApplyMapping { document, note } => {
            store.write(|db| ops::mapping::apply(db, document, note))
        }
        Action::Rollback(v) => store.write(|db| ops::mapping::rollback(db, *v)),
        Action::Resume(p) => store.write(|db| ops::resume::resume(db, *p)),
        Action::Quit | Action::SwitchView(_) | Action::Message(_) | Action::Open(_) => {
            return None;
        }
    })
}

/// The choice a take key stands for.
pub fn take(side: Option<Side>) -> Choice {
    match side {
        Some(Side::Portal) => Choice::Portal,
        Some(Side::Linear) => Choice::Linear,
        None => Choice::Base,
    }
}
