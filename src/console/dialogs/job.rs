//! A job in full: why it exists, its whole last error (wrapped, never cut)
//! and every attempt with its HTTP status, request id and remote message.

use ratatui::text::{Line, Span};

use super::panel::PanelDialog;
use crate::console::clock::short_time;
use crate::console::theme::Theme;
use crate::domain::JobStatus;
use crate::store::{Attempt, Job, Link};

fn field(name: &str, value: String, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<9}"), theme.dim),
        Span::raw(value),
    ])
}

/// The job detail panel.
pub fn dialog(
    job: &Job,
    attempts: &[Attempt],
    link: Option<&Link>,
    now: i64,
    theme: &Theme,
) -> PanelDialog {
    let mut status = format!(
        "{} · {}/{} attempts",
        job.status, job.attempts, job.max_attempts
    );
    if let Some(c) = job.error_class {
        status.push_str(&format!(" · class {c}"));
    }
    if let Some(h) = job.http_status {
        status.push_str(&format!(" · HTTP {h}"));
    }
    if let Some(r) = &job.request_id {
        status.push_str(&format!(" · request {r}"));
    }
    let mut lines = vec![
        field("status", status, theme),
        field("write", format!("{} to {}", job.kind, job.target), theme),
        field(
            "link",
            match (job.link_id, link) {
                (Some(_), Some(l)) => format!("{} · {}", l.label(), l.title),
                (Some(id), None) => format!("link {id} (deleted)"),
                (None, _) => "-".into(),
            },
            theme,
        ),
        field(
            "why",
            if job.reason.is_empty() {
                "-".into()
            } else {
                job.reason.clone()
            },
            theme,
        ),
        Line::from(vec![
            Span::styled(format!("{:<9}", "error"), theme.dim),
            Span::styled(
                job.last_error.clone().unwrap_or_else(|| "-".into()),
                if job.last_error.is_some() {
                    theme.error
                } else {
                    theme.text
                },
            ),
        ]),
        field(
            if job.status == JobStatus::Queued {
                "next run"
            } else {
                "updated"
            },
            short_time(
                if job.status == JobStatus::Queued {
                    job.next_run_at
                } else {
                    job.updated_at
                },
                now,
            ),
            theme,
        ),
        Line::from(""),
        Line::from(Span::styled(
            format!("Attempts ({}, oldest first)", attempts.len()),
            theme.header,
        )),
    ];
    if attempts.is_empty() {
        lines.push(Line::from(Span::styled("none yet", theme.dim)));
    }
    for a in attempts {
        let style = if a.error_class.is_some() {
            theme.error
        } else {
            theme.ok
        };
        lines.push(Line::from(vec![
            Span::styled(format!("#{} ", a.attempt), theme.key),
            Span::raw(format!(
                "{}  {}ms  HTTP {}  ",
                short_time(a.started_at, now),
                a.duration_ms,
                a.http_status.map_or("-".into(), |s| s.to_string())
            )),
            Span::styled(a.outcome.clone(), style),
            Span::styled(
                format!(
                    "  request {}",
                    a.request_id.clone().unwrap_or_else(|| "-".into())
                ),
                theme.dim,
            ),
        ]));
        if let Some(m) = &a.message {
            lines.push(Line::from(format!("    {m}")));
        }
    }
    let mut d = PanelDialog::new(
        format!("Job #{} · {} → {}", job.id, job.kind, job.target),
        lines,
    );
    d.indent = 9;
    d.copy = Some(job.id.to_string());
    d
}
