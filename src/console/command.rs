//! The `:` command line: the same actions as the keys, by name, for when
//! typing is faster than navigating (`:retry failed rate_limited`,
//! `:resolve linear 3 4`, `:rollback 3`, `:resume deletes`, `:q`). A
//! command given ids acts on those ids from any view; without ids it acts
//! only on the selection of the view on screen, so nothing typed on the
//! Overview can touch a row selected in a view the operator cannot see.
//! [`COMMANDS`] feeds parsing, Tab completion, the help panel and the README.

use super::types::{Action, Open, Selection, ViewId, Write};
use crate::domain::{ErrorClass, JobStatus, Side};
use crate::ops::{conflicts::Choice, resume::Pause};
use crate::store::JobFilter;

/// One `:` command.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// The command word.
    pub name: &'static str,
    /// Its arguments, as help shows them.
    pub args: &'static str,
    /// What it does.
    pub does: &'static str,
    /// The view whose selection it acts on when given no ids.
    pub on: Option<ViewId>,
    /// Words its first argument can be (for completion).
    pub words: &'static [&'static str],
}

/// Every `:` command.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "retry",
        args: "[ids… | status [class]]",
        does: "requeue jobs (no ids: every job matching the Jobs filter)",
        on: Some(ViewId::Jobs),
        words: &["failed", "dead", "cancelled"],
    },
    CommandSpec {
        name: "cancel",
        args: "[ids…]",
        does: "cancel jobs (no ids: the selected job)",
        on: Some(ViewId::Jobs),
        words: &[],
    },
    CommandSpec {
        name: "resolve",
        args: "portal|linear|base [ids…]",
        does: "decide conflicts (no ids: the marked or selected ones)",
        on: Some(ViewId::Conflicts),
        words: &["portal", "linear", "base"],
    },
    CommandSpec {
        name: "rollback",
        args: "VERSION",
        does: "make an earlier mapping version active again",
        on: None,
        words: &[],
    },
    CommandSpec {
        name: "resume",
        args: "deletes|linear|portal",
        does: "lift a pause the engine raised",
        on: None,
        words: &["deletes", "linear", "portal"],
    },
    CommandSpec {
        name: "view",
        args: "NAME",
        does: "show a view (overview, conflicts, jobs, links, mappings, log)",
        on: None,
        words: &["overview", "conflicts", "jobs", "links", "mappings", "log"],
    },
    CommandSpec {
        name: "help",
        args: "",
        does: "keys and commands",
        on: None,
        words: &[],
    },
    CommandSpec {
        name: "quit",
        args: "",
        does: "leave the console (also `q`)",
        on: None,
        words: &[],
    },
];

fn ids(words: &[&str]) -> Result<Vec<i64>, String> {
    words
        .iter()
        .map(|w| {
            w.trim_start_matches('#')
                .parse::<i64>()
                .map_err(|_| format!("'{w}' is not an id"))
        })
        .collect()
}

fn is_number(w: &str) -> bool {
    w.trim_start_matches('#').parse::<i64>().is_ok()
}

/// Parse "failed rate_limited", "status=dead", "any" into a filter.
pub fn parse_filter(text: &str) -> Result<JobFilter, String> {
    let mut f = JobFilter::default();
    for word in text.split_whitespace() {
        let w = word
            .trim_start_matches("status=")
            .trim_start_matches("class=");
        if w == "any" || w == "all" {
            continue;
        }
        if let Ok(s) = w.parse::<JobStatus>() {
            f.status = Some(s);
        } else if let Ok(c) = w.parse::<ErrorClass>() {
            f.error_class = Some(c);
        } else {
            return Err(format!(
                "'{w}' is neither a job status (queued, running, succeeded, failed, dead, cancelled) nor an error class"
            ));
        }
    }
    Ok(f)
}

fn needs_view(cmd: &str, view: ViewId, example: &str) -> String {
    format!(
        ":{cmd} without ids acts on the {} view, which is not on screen: open it ({}) or give ids, e.g. :{example}",
        view.title(),
        view.index() + 1
    )
}

/// Parse a command line typed while `view` is on screen with `sel`
/// selected.
pub fn parse(line: &str, view: ViewId, sel: &Selection) -> Result<Action, String> {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Err("empty command (try :help)".into());
    };
    let rest: Vec<&str> = words.collect();
    let cmd = cmd.trim_start_matches(':');
    match cmd {
        "q" | "quit" | "exit" => Ok(Action::Quit),
        "help" | "h" => Ok(Action::Open(Open::Help)),
        "retry" => {
            if !rest.is_empty() && rest.iter().all(|w| is_number(w)) {
                return Ok(Action::Write(Write::RetryJobs(ids(&rest)?)));
            }
            if !rest.is_empty() {
                return Ok(Action::Write(Write::RetryMatching(parse_filter(
                    &rest.join(" "),
                )?)));
            }
            match sel {
                Selection::Jobs { filter, .. } if view == ViewId::Jobs => {
                    Ok(Action::Write(Write::RetryMatching(filter.clone())))
                }
                _ => Err(needs_view("retry", ViewId::Jobs, "retry 12 13")),
            }
        }
        "cancel" => {
            if !rest.is_empty() {
                return Ok(Action::Write(Write::CancelJobs(ids(&rest)?)));
            }
            match sel {
                Selection::Jobs {
                    selected: Some(id), ..
                } if view == ViewId::Jobs => Ok(Action::Write(Write::CancelJobs(vec![*id]))),
                Selection::Jobs { .. } if view == ViewId::Jobs => {
                    Err("no job selected; give ids: :cancel 12 13".into())
                }
                _ => Err(needs_view("cancel", ViewId::Jobs, "cancel 12 13")),
            }
        }
        "resolve" => {
            let choice = match rest.first().copied() {
                Some("portal") => Choice::Portal,
                Some("linear") => Choice::Linear,
                Some("base") => Choice::Base,
                _ => return Err("resolve portal|linear|base [conflict ids…]".into()),
            };
            if rest.len() > 1 {
                return Ok(Action::Write(Write::Resolve {
                    ids: ids(&rest[1..])?,
                    choice,
                }));
            }
            match sel {
                Selection::Conflicts(ids) if view == ViewId::Conflicts && !ids.is_empty() => {
                    Ok(Action::Write(Write::Resolve {
                        ids: ids.clone(),
                        choice,
                    }))
                }
                Selection::Conflicts(_) if view == ViewId::Conflicts => {
                    Err("no conflict selected; give ids: :resolve linear 3 4".into())
                }
                _ => Err(needs_view(
                    "resolve",
                    ViewId::Conflicts,
                    "resolve linear 3 4",
                )),
            }
        }
        "resume" => match rest.first().copied() {
            Some("deletes") => Ok(Action::Write(Write::Resume(Pause::Deletes))),
            Some("linear") => Ok(Action::Write(Write::Resume(Pause::Connector(Side::Linear)))),
            Some("portal") => Ok(Action::Write(Write::Resume(Pause::Connector(Side::Portal)))),
            _ => Err("resume deletes|linear|portal".into()),
        },
        "rollback" => rest
            .first()
            .and_then(|v| v.trim_start_matches('v').parse().ok())
            .map(|v| Action::Write(Write::Rollback(v)))
            .ok_or_else(|| "rollback VERSION (e.g. :rollback 3)".to_string()),
        "view" | "go" => rest
            .first()
            .and_then(|v| ViewId::parse(v))
            .map(Action::Show)
            .ok_or_else(|| "view overview|conflicts|jobs|links|mappings|log".to_string()),
        other => ViewId::parse(other)
            .filter(|_| other.len() >= 2)
            .map(Action::Show)
            .ok_or_else(|| format!("unknown command \"{other}\" (try :help)")),
    }
}

/// Tab completion: the line with its last word completed as far as the
/// candidates agree, and the candidates (empty when nothing fits).
pub fn complete(line: &str) -> (String, Vec<&'static str>) {
    let ends_with_space = line.ends_with(' ');
    let words: Vec<&str> = line.split_whitespace().collect();
    let (done, partial): (&[&str], &str) = match words.split_last() {
        Some((last, init)) if !ends_with_space => (init, last),
        _ => (&words[..], ""),
    };
    let candidates: Vec<&'static str> = match done {
        [] => COMMANDS.iter().map(|c| c.name).collect(),
        [cmd] => COMMANDS
            .iter()
            .find(|c| c.name == *cmd)
            .map(|c| c.words.to_vec())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let fits: Vec<&'static str> = candidates
        .into_iter()
        .filter(|c| c.starts_with(partial))
        .collect();
    let Some(first) = fits.first() else {
        return (line.to_string(), fits);
    };
    let common: String = first
        .chars()
        .enumerate()
        .take_while(|(i, ch)| fits.iter().all(|f| f.chars().nth(*i) == Some(*ch)))
        .map(|(_, ch)| ch)
        .collect();
    let mut out = done.join(" ");
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(&common);
    if fits.len() == 1 {
        out.push(' ');
    }
    (out, fits)
}

/// Commands typed before, newest last, for ↑/↓ in the prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    entries: Vec<String>,
}

/// Most commands remembered.
pub const HISTORY_MAX: usize = 100;

impl History {
    /// Remember a command (not twice in a row, not blank).
    pub fn push(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() || self.entries.last().is_some_and(|l| l == line) {
            return;
        }
        self.entries.push(line.to_string());
        if self.entries.len() > HISTORY_MAX {
            self.entries.remove(0);
        }
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs_sel() -> Selection {
        Selection::Jobs {
            selected: Some(7),
            filter: JobFilter::default(),
        }
    }

    #[test]
    fn commands_without_ids_act_only_on_the_view_on_screen() {
        let conflicts = Selection::Conflicts(vec![3]);
        assert_eq!(
            parse("resolve linear", ViewId::Conflicts, &conflicts),
            Ok(Action::Write(Write::Resolve {
                ids: vec![3],
                choice: Choice::Linear
            }))
        );
        let err = parse("resolve linear", ViewId::Overview, &Selection::None).unwrap_err();
        assert!(
            err.contains("Conflicts view, which is not on screen"),
            "{err}"
        );
        assert!(parse("cancel", ViewId::Overview, &Selection::None).is_err());
        assert_eq!(
            parse("cancel", ViewId::Jobs, &jobs_sel()),
            Ok(Action::Write(Write::CancelJobs(vec![7])))
        );
        assert_eq!(
            parse("resolve portal 4 #5", ViewId::Overview, &Selection::None),
            Ok(Action::Write(Write::Resolve {
                ids: vec![4, 5],
                choice: Choice::Portal
            }))
        );
        assert!(matches!(
            parse("retry failed rate_limited", ViewId::Log, &Selection::None),
            Ok(Action::Write(Write::RetryMatching(_)))
        ));
        assert_eq!(
            parse("retry #12 13", ViewId::Log, &Selection::None),
            Ok(Action::Write(Write::RetryJobs(vec![12, 13])))
        );
        assert!(parse("retry", ViewId::Overview, &Selection::None).is_err());
    }

    #[test]
    fn completes_commands_and_their_words() {
        assert_eq!(complete("re").0, "re");
        assert_eq!(complete("re").1, ["retry", "resolve", "resume"]);
        assert_eq!(complete("rol").0, "rollback ");
        assert_eq!(complete("resolve l").0, "resolve linear ");
        assert_eq!(complete("view m").0, "view mappings ");
        assert!(complete("zz").1.is_empty());
    }

    #[test]
    fn history_skips_repeats_and_blanks() {
        let mut h = History::default();
        h.push("retry 1");
        h.push("retry 1");
        h.push("  ");
        h.push("q");
        assert_eq!(h.entries(), ["retry 1", "q"]);
    }

    #[test]
    fn filter_words() {
        let f = parse_filter("failed rate_limited").unwrap();
        assert_eq!(f.status, Some(JobStatus::Failed));
        assert_eq!(f.error_class, Some(ErrorClass::RateLimited));
        assert!(parse_filter("bogus").is_err());
        assert_eq!(parse_filter("any").unwrap(), JobFilter::default());
    }
}
