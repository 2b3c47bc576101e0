//! What the demo prints without a console: a progress line every few
//! seconds and the final summary, plain text for a pipe or a CI log. The
//! lines are stable so scripts (and the demo's own test) can parse them.

use std::fmt::Write as _;

use crate::domain::{JobStatus, Side};
use crate::store::{Summary, Writer};

use super::{DELIBERATE_CONFLICTS, Outcome, StoryLog};

/// The Linear request quota as "remaining/limit", when known.
fn linear_quota(s: &Summary) -> String {
    s.quota_for(Side::Linear, crate::domain::QuotaKind::Requests)
        .map_or_else(
            || "?".to_string(),
            |q| format!("{}/{}", q.remaining, q.limit),
        )
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

/// One progress line: changes synced, queue, conflicts, failures, quota and
/// the story's latest chapter.
pub async fn progress_line(writer: &Writer, elapsed: f64, log: &StoryLog) -> String {
    let Ok(s) = writer.run(|db| db.summary()).await else {
        return format!("[{elapsed:5.1}s] (store busy)");
    };
    let chapter = log.chapters.last().map_or("", |(_, t)| t.as_str());
    format!(
        "[{elapsed:5.1}s] synced {} changes · links {} · queued {} · conflicts {} · failed {} · dead {} · Linear quota {} · {}",
        s.jobs_in(JobStatus::Succeeded),
        s.links,
        s.jobs_in(JobStatus::Queued) + s.jobs_in(JobStatus::Running),
        s.open_conflicts,
        s.jobs_in(JobStatus::Failed),
        s.jobs_in(JobStatus::Dead),
        linear_quota(&s),
        cut(chapter, 70),
    )
}

/// The final summary (several lines, no trailing newline).
pub fn summary(outcome: &Outcome, elapsed: f64, seed: u64) -> String {
    let last = outcome.summary.as_ref();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "roundtrip demo: summary after {elapsed:.1} s (seed {seed})"
    );
    let _ = writeln!(out, "story ({} chapters):", outcome.log.chapters.len());
    for (at, text) in &outcome.log.chapters {
        let _ = writeln!(out, "  {at:5.1}s  {text}");
    }
    let _ = writeln!(out, "edits made by the story: {}", outcome.log.edits);
    if let Some(s) = last {
        let _ = writeln!(
            out,
            "synced: {} writes succeeded; links {}",
            s.jobs_in(JobStatus::Succeeded),
            s.links
        );
        let _ = writeln!(
            out,
            "jobs: queued {} · running {} · failed {} · dead {} · cancelled {}",
            s.jobs_in(JobStatus::Queued),
            s.jobs_in(JobStatus::Running),
            s.jobs_in(JobStatus::Failed),
            s.jobs_in(JobStatus::Dead),
            s.jobs_in(JobStatus::Cancelled)
        );
        let _ = writeln!(out, "Linear quota: {} requests left", linear_quota(s));
        let _ = writeln!(out, "reconcile repairs: {}", s.reconcile_repairs);
    }
    let _ = writeln!(
        out,
        "deliberate conflicts: {} (the story makes {DELIBERATE_CONFLICTS}; they wait for the operator)",
        outcome.deliberate_conflicts
    );
    let _ = writeln!(out, "other conflicts: {}", outcome.other_conflicts);
    if outcome.log.held_posts > 0 {
        let _ = writeln!(
            out,
            "moderation: {} bug reports held on the Bugs board until approved",
            outcome.log.held_posts
        );
        if !outcome.routed.is_empty() {
            let _ = writeln!(out, "routing: {}", outcome.routed.join("; "));
        }
        if let Some(s) = last {
            let _ = writeln!(out, "unrouted posts: {}", s.unrouted);
        }
        let _ = writeln!(
            out,
            "changelog: {}",
            outcome
                .log
                .changelog
                .as_deref()
                .unwrap_or("no entry published yet (the release had not completed)")
        );
    }
    let c = &outcome.convergence;
    let _ = writeln!(
        out,
        "compared: {} linked pairs field by field (title, description, status, labels, votes, comment count); \
         {} differ only in fields with an open conflict; {} unlinked",
        c.compared, c.held_by_conflicts, c.unlinked
    );
    if !outcome.settled {
        let _ = writeln!(
            out,
            "note: the queue had not drained when the sides were compared"
        );
    }
    for d in c.differences.iter().take(20) {
        let _ = writeln!(
            out,
            "  differs: link {} '{}' {}: portal {} / Linear {}",
            d.link,
            cut(&d.title, 40),
            d.field,
            d.portal,
            d.linear
        );
    }
    if c.differences.len() > 20 {
        let _ = writeln!(out, "  … and {} more", c.differences.len() - 20);
    }
    let _ = write!(
        out,
        "result: {}",
        if outcome.success() {
            "converged"
        } else {
            "NOT converged"
        }
    );
    out
}
