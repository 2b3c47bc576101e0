//! Operator actions: the one place retry, cancel, resolve, apply or roll
//! back a mapping, "always do this for this field", resume and adopt are
//! written (DESIGN.md section 14). The CLI commands, the console's keys and
//! its `:` command line all call these functions, so they validate the same
//! way, write the same rows and leave the same audit entries.
//!
//! Every action takes the [`Db`] of one store transaction (call it inside
//! `Store::write`, or the daemon writer's `run`) and answers with a
//! [`Report`]: per id, what changed and what was refused and why. Nothing
//! is refused silently and nothing half-applies: an id is either changed
//! (with its audit entry) or listed as refused.
//!
//! Audit entries have one shape per action (actor is always
//! [`Actor::Operator`]):
//!
//! | action     | link        | side       | field | before                  | after                  |
//! |------------|-------------|------------|-------|-------------------------|------------------------|
//! | `retry`    | job's link  | job target | –     | `failed (server)`       | `queued`               |
//! | `cancel`   | job's link  | job target | –     | `queued`                | `cancelled`            |
//! | `resolve`  | its link    | –          | field | `portal … / linear …`   | the chosen value       |
//! | `mapping`  | –           | –          | –     | `v1` (or `default`)     | `v2`                   |
//! | `rollback` | –           | –          | –     | `v3`                    | `v1`                   |
//! | `policy`   | –           | –          | field | `on_conflict = ask`     | `on_conflict = …` (v4) |
//! | `resume`   | –           | the side   | –     | `paused: why`           | `resumed`              |
//! | `adopt`    | the new one | –          | –     | –                       | –                      |
//!
//! The reason column says what the operator asked for in words ("retry job
//! 12"), never which front end they used: the same action leaves the same
//! entry from the shell and from the console.

pub mod adopt;
pub mod conflicts;
pub mod jobs;
pub mod mapping;
mod report;
pub mod resume;
pub mod route_preview;

pub use report::{Changed, Refused, Report, Subject, Why};

use crate::domain::{Actor, AuditAction, Side};
use crate::store::{Db, NewAudit, StoreError};

/// Who the audit log says acted, for every operator action.
pub const ACTOR: Actor = Actor::Operator;

/// The fields of one audit entry; [`AuditRow::append`] adds the actor.
#[derive(Debug, Clone, Default)]
struct AuditRow {
    link_id: Option<i64>,
    side: Option<Side>,
    field: Option<String>,
    before: Option<String>,
    after: Option<String>,
    reason: String,
}

impl AuditRow {
    fn append(self, db: Db<'_>, action: AuditAction) -> Result<(), StoreError> {
        db.append_audit(&NewAudit {
            link_id: self.link_id,
            side: self.side,
            field: self.field,
            before: self.before,
            after: self.after,
            reason: self.reason,
            ..NewAudit::new(ACTOR, action)
        })?;
        Ok(())
    }
}

/// "1 job", "2 jobs".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Most ids a headline lists before "and N more".
const LISTED_IDS: usize = 8;

/// The ids of what an action changed, for its headline: "12, 13, 14" —
/// every message that says something was requeued or resolved names it.
fn id_list<'a>(subjects: impl IntoIterator<Item = &'a Subject>) -> String {
    let ids: Vec<String> = subjects
        .into_iter()
        .map(|s| match s {
            Subject::Job(id) | Subject::Conflict(id) | Subject::Link(id) => id.to_string(),
            Subject::MappingVersion(v) => format!("v{v}"),
            other => other.to_string(),
        })
        .collect();
    if ids.len() <= LISTED_IDS {
        ids.join(", ")
    } else {
        format!(
            "{} and {} more",
            ids[..LISTED_IDS].join(", "),
            ids.len() - LISTED_IDS
        )
    }
}
