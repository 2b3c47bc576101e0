//! The console's side of operator actions: what to call a write, what to
//! refuse before asking, the question to ask (what is written to which
//! side, for which ids), and handing it to [`crate::ops`] — the same
//! functions the CLI calls, so both validate alike and leave the same rows
//! and audit entries. Nothing here writes to the store itself.

use super::types::Write;
use crate::domain::{FieldValue, Side};
use crate::ops::{self, Report, conflicts::Choice};
use crate::store::{Db, Store, StoreError};

/// A few words naming a write (for refusals and "not done" notes).
pub fn describe(w: &Write) -> String {
    match w {
        Write::RetryJobs(ids) => format!("retry {}", ids_words("job", ids)),
        Write::RetryMatching(f) => format!("retry all {}", ops::jobs::matching_words(f)),
        Write::CancelJobs(ids) => format!("cancel {}", ids_words("job", ids)),
        Write::Resolve { ids, choice } => {
            format!("{} for {}", choice.words(), ids_words("conflict", ids))
        }
        Write::AlwaysResolve { field, winner, .. } => {
            format!("always resolve {field} as {}", policy_words(*winner))
        }
        Write::ApplyMapping { .. } => "apply the mapping".into(),
        Write::Rollback(v) => format!("roll back to mapping v{v}"),
        Write::Resume(p) => format!("resume {}", p.label()),
    }
}

/// "job 12", "jobs 12, 13, 14", "5 jobs (12, 13, 14, …)".
pub fn ids_words(noun: &str, ids: &[i64]) -> String {
    const LISTED: usize = 6;
    let list = |ids: &[i64]| {
        ids.iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ids {
        [one] => format!("{noun} #{one}"),
        few if few.len() <= LISTED => format!("{noun}s {}", list(few)),
        many => format!("{} {noun}s ({}, …)", many.len(), list(&many[..LISTED])),
    }
}

fn policy_words(winner: Side) -> &'static str {
    match winner {
        Side::Portal => "portal-wins",
        Side::Linear => "linear-wins",
    }
}

/// A refusal known before asking (a rollback to a version that does not
/// exist, was refused by the engine, or is already active), so no question
/// is asked about a write that cannot happen.
pub fn precheck(db: Db<'_>, w: &Write) -> Result<Option<String>, StoreError> {
    Ok(match w {
        Write::Rollback(v) => match ops::mapping::check_rollback(db, *v)? {
            Some(r) => Some(r.to_string()),
            None if db.refused_mapping()?.is_none()
                && db.active_mapping()?.is_some_and(|a| a.version == *v) =>
            {
                Some(format!(
                    "mapping version {v} is already active; nothing to roll back"
                ))
            }
            None => None,
        },
        _ => None,
    })
}

/// Most conflicts a resolve question lists one by one.
const LISTED_CONFLICTS: usize = 5;

fn value_words(v: &FieldValue) -> String {
    format!("'{}'", v.display_short(60))
}

fn resolve_lines(db: Db<'_>, ids: &[i64], choice: &Choice) -> Result<Vec<String>, StoreError> {
    let mut lines = Vec::new();
    for id in ids.iter().take(LISTED_CONFLICTS) {
        let Some(c) = db.conflict(*id)? else {
            lines.push(format!("#{id}: does not exist (will be refused)"));
            continue;
        };
        let link = db
            .link(c.link_id)?
            .map_or_else(|| format!("link {}", c.link_id), |l| l.label());
        let what = match choice {
            Choice::Portal => format!(
                "the portal's {} is written to Linear",
                value_words(&c.portal)
            ),
            Choice::Linear => format!(
                "Linear's {} is written to the portal",
                value_words(&c.linear)
            ),
            Choice::Base => format!("the base {} is written to both sides", value_words(&c.base)),
            Choice::Merged(t) => format!(
                "'{}' is written to both sides",
                t.chars().take(60).collect::<String>()
            ),
        };
        lines.push(format!("#{id} {} on {link}: {what}", c.field));
    }
    if ids.len() > LISTED_CONFLICTS {
        lines.push(format!(
            "… and {} more, each the same way",
            ids.len() - LISTED_CONFLICTS
        ));
    }
    Ok(lines)
}

/// The question before a write — a title and what will happen, line by
/// line — or `None` to do it at once (only a single job retry, which the
/// engine simply runs again).
pub fn question(db: Db<'_>, w: &Write) -> Result<Option<(String, Vec<String>)>, StoreError> {
    Ok(match w {
        Write::RetryJobs(ids) if ids.len() <= 1 => None,
        Write::RetryJobs(ids) => Some((
            format!("Retry {} jobs?", ids.len()),
            vec![format!(
                "Requeue {}; the engine sends them again.",
                ids_words("job", ids)
            )],
        )),
        Write::RetryMatching(f) => {
            let n = ops::jobs::count_matching(db, f)?;
            Some((
                format!("Retry all {n} {}?", ops::jobs::matching_words(f)),
                vec![format!(
                    "Requeue every {} ({n}); the engine sends them again.",
                    ops::jobs::matching_words(f)
                )],
            ))
        }
        Write::CancelJobs(ids) => Some((
            format!("Cancel {}?", ids_words("job", ids)),
            vec!["The writes will not be sent (retry brings them back).".into()],
        )),
        Write::Resolve { ids, choice } => Some((
            format!(
                "Resolve {}: {}?",
                ids_words("conflict", ids),
                choice.words()
            ),
            resolve_lines(db, ids, choice)?,
        )),
        Write::AlwaysResolve { ids, field, winner } => Some((
            format!("Always resolve `{field}` as {}?", policy_words(*winner)),
            vec![
                format!(
                    "Saves a new mapping version where {} wins every future `{field}` conflict,",
                    match winner {
                        Side::Portal => "the portal",
                        Side::Linear => "Linear",
                    }
                ),
                format!("and resolves {} that way now.", ids_words("conflict", ids)),
            ],
        )),
        Write::ApplyMapping { .. } => Some((
            "Apply the mapping?".into(),
            vec!["Store it as a new mapping version and make it active.".into()],
        )),
        Write::Rollback(v) => Some((
            format!("Roll back to mapping v{v}?"),
            vec![format!(
                "Make v{v} active again; the engine uses it from its next pass."
            )],
        )),
        Write::Resume(p) => Some((
            format!("Resume {}?", p.label()),
            vec!["The engine starts doing it again on its next pass.".into()],
        )),
    })
}

/// Perform a (confirmed) write through the operator-actions module.
pub fn apply(store: &mut Store, w: &Write) -> Result<Report, StoreError> {
    match w {
        Write::RetryJobs(ids) => store.write(|db| ops::jobs::retry(db, ids)),
        Write::RetryMatching(f) => store.write(|db| ops::jobs::retry_matching(db, f)),
        Write::CancelJobs(ids) => store.write(|db| ops::jobs::cancel(db, ids)),
        Write::Resolve { ids, choice } => {
            store.write(|db| ops::conflicts::resolve(db, ids, choice))
        }
        Write::AlwaysResolve { ids, field, winner } => {
            store.write(|db| ops::mapping::always(db, field, *winner, ids))
        }
        Write::ApplyMapping { document, note } => {
            store.write(|db| ops::mapping::apply(db, document, note))
        }
        Write::Rollback(v) => store.write(|db| ops::mapping::rollback(db, *v)),
        Write::Resume(p) => store.write(|db| ops::resume::resume(db, *p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids() {
        assert_eq!(ids_words("job", &[12]), "job #12");
        assert_eq!(ids_words("conflict", &[1, 2]), "conflicts #1, #2");
        assert_eq!(
            ids_words("job", &[1, 2, 3, 4, 5, 6, 7]),
            "7 jobs (#1, #2, #3, #4, #5, #6, …)"
        );
    }
}
