//! The `:` command line: the same actions as the keys, by name, for when
//! typing is faster than navigating (`:retry failed rate_limited`,
//! `:resolve linear`, `:rollback 3`, `:resume deletes`, `:q`).

use super::app::{Action, App, ViewId};
use super::layers::Layer;
use super::views::jobs::parse_filter;
use crate::domain::Side;
use crate::ops::{conflicts::Choice, resume::Pause};

/// Parse a command line into an action.
pub fn parse(line: &str, app: &App) -> Result<Action, String> {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Err("empty command".into());
    };
    let rest: Vec<&str> = words.collect();
    match cmd {
        "q" | "quit" | "exit" => Ok(Action::Quit),
        "help" | "h" => Ok(Action::Open(Box::new(Layer::Help { scroll: 0 }))),
        "retry" => {
            if rest.is_empty() && app.view == ViewId::Jobs {
                return Ok(Action::RetryMatching(app.jobs.filter.clone()));
            }
            if let [one] = rest.as_slice()
                && let Some(id) = one.strip_prefix('#').and_then(|s| s.parse().ok())
            {
                return Ok(Action::RetryJobs(vec![id]));
            }
            Ok(Action::RetryMatching(parse_filter(&rest.join(" "))?))
        }
        "cancel" => {
            let ids: Vec<i64> = rest
                .iter()
                .filter_map(|w| w.trim_start_matches('#').parse().ok())
                .collect();
            if !ids.is_empty() {
                return Ok(Action::CancelJobs(ids));
            }
            match app.jobs.pager.selected() {
                Some(j) if app.view == ViewId::Jobs => Ok(Action::CancelJobs(vec![j.id])),
                _ => Err("cancel which job? select one in Jobs or give ids: cancel 12 13".into()),
            }
        }
        "resolve" => {
            let choice = match rest.first().copied() {
                Some("portal") => Choice::Portal,
                Some("linear") => Choice::Linear,
                Some("base") => Choice::Base,
                _ => return Err("resolve portal|linear|base [conflict ids…]".into()),
            };
            let mut ids: Vec<i64> = rest[1..]
                .iter()
                .filter_map(|w| w.trim_start_matches('#').parse().ok())
                .collect();
            if ids.is_empty() {
                ids = app.conflicts.targets();
            }
            if ids.is_empty() {
                return Err("no conflict selected (open Conflicts, or give ids)".into());
            }
            Ok(Action::Resolve { ids, choice })
        }
        "resume" => match rest.first().copied() {
            Some("deletes") => Ok(Action::Resume(Pause::Deletes)),
            Some("linear") => Ok(Action::Resume(Pause::Connector(Side::Linear))),
            Some("portal") => Ok(Action::Resume(Pause::Connector(Side::Portal))),
            _ => Err("resume deletes|linear|portal".into()),
        },
        "rollback" => rest
            .first()
            .and_then(|v| v.trim_start_matches('v').parse().ok())
            .map(Action::Rollback)
            .ok_or_else(|| "rollback VERSION".to_string()),
        "view" | "go" => rest
            .first()
            .and_then(|v| ViewId::parse(v))
            .map(Action::SwitchView)
            .ok_or_else(|| "view overview|conflicts|jobs|links|mappings|log".to_string()),
        other => ViewId::parse(other)
            .filter(|_| other.len() >= 2)
            .map(Action::SwitchView)
            .ok_or_else(|| format!("unknown command \"{other}\" (try :help)")),
    }
}
