//! The one result type of every operator action: per id, what changed and
//! what was refused and why, plus a headline for humans.

use std::fmt;

use serde::Serialize;

use super::resume::Pause;
use crate::domain::AuditAction;

/// What a change or refusal is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Subject {
    /// A job, by id.
    Job(i64),
    /// A conflict, by id.
    Conflict(i64),
    /// A stored mapping version.
    MappingVersion(i64),
    /// A mapping document not stored yet.
    Mapping,
    /// A pause the engine raised.
    Pause(Pause),
    /// A link, by id.
    Link(i64),
    /// A portal post, by its remote id (before it has a link).
    Post(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Job(id) => write!(f, "job {id}"),
            Subject::Conflict(id) => write!(f, "conflict {id}"),
            Subject::MappingVersion(v) => write!(f, "mapping version {v}"),
            Subject::Mapping => f.write_str("the mapping"),
            Subject::Pause(p) => f.write_str(p.label()),
            Subject::Link(id) => write!(f, "link {id}"),
            Subject::Post(id) => write!(f, "post {id}"),
        }
    }
}

/// Why something was refused; decides the CLI's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The id names nothing.
    NotFound,
    /// It exists but its state does not allow the action (already
    /// resolved, succeeded, already active).
    State,
    /// The operator's input does not fit (a value of the wrong type, a
    /// mapping that does not validate).
    Invalid,
}

/// One thing an action changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// What changed.
    pub subject: Subject,
    /// How, after the subject: "requeued (was failed)".
    pub detail: String,
}

impl fmt::Display for Changed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.subject, self.detail)
    }
}

/// One thing an action left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// What was refused.
    pub subject: Subject,
    /// The kind of reason.
    pub why: Why,
    /// The reason, after the subject: "succeeded: nothing to retry".
    pub detail: String,
}

impl Refused {
    /// A refusal of `subject`.
    pub fn new(subject: Subject, why: Why, detail: impl Into<String>) -> Self {
        Refused {
            subject,
            why,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.subject, self.detail)
    }
}

/// What an operator action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Which action.
    pub action: AuditAction,
    /// One line for humans: "requeued 2 jobs", "mapping version 3 is active".
    pub headline: String,
    /// Everything changed, per id.
    pub changed: Vec<Changed>,
    /// Everything refused, per id, with the reason.
    pub refused: Vec<Refused>,
}

impl Report {
    /// A report with nothing in it yet.
    pub(super) fn new(action: AuditAction) -> Self {
        Report {
            action,
            headline: String::new(),
            changed: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// A report of one refusal and nothing changed.
    pub(super) fn refusal(action: AuditAction, refused: Refused) -> Self {
        Report {
            headline: refused.to_string(),
            refused: vec![refused],
            ..Report::new(action)
        }
    }

    /// Exit code for the CLI: 0 when nothing was refused, 2 when the
    /// operator's input did not fit, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.refused.iter().any(|r| r.why == Why::Invalid) {
            2
        } else if self.refused.is_empty() {
            0
        } else {
            1
        }
    }

    /// The whole outcome on one line (the console's status bar): the
    /// headline, then the first refusals.
    pub fn one_line(&self) -> String {
        const SHOWN: usize = 2;
        let mut line = self.headline.clone();
        let refusals = self
            .refused
            .iter()
            .filter(|r| r.to_string() != self.headline);
        for (i, r) in refusals.enumerate() {
            if i == SHOWN {
                line.push_str(&format!(
                    "; and {} more refused",
                    self.refused.len() - SHOWN
                ));
                break;
            }
            line.push_str("; ");
            line.push_str(&r.to_string());
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_one_line() {
        let mut r = Report::new(AuditAction::Retry);
        r.headline = "requeued 1 job".into();
        assert_eq!(r.exit_code(), 0);
        r.refused.push(Refused::new(
            Subject::Job(144),
            Why::State,
            "succeeded: nothing to retry",
        ));
        assert_eq!(r.exit_code(), 1);
        assert_eq!(
            r.one_line(),
            "requeued 1 job; job 144 succeeded: nothing to retry"
        );
        r.refused.push(Refused::new(
            Subject::Job(2),
            Why::NotFound,
            "does not exist",
        ));
        r.refused
            .push(Refused::new(Subject::Job(3), Why::Invalid, "is odd"));
        assert_eq!(r.exit_code(), 2);
        assert!(
            r.one_line().ends_with("; and 1 more refused"),
            "{}",
            r.one_line()
        );
        let one = Report::refusal(
            AuditAction::Rollback,
            Refused::new(Subject::MappingVersion(9), Why::NotFound, "does not exist"),
        );
        assert_eq!(one.one_line(), "mapping version 9 does not exist");
    }
}
