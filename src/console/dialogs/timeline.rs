//! A record's timeline from the audit log, newest first: every change,
//! who made it and why ("why is this value here?"), with the values both
//! sides last agreed on.

use ratatui::text::{Line, Span};

use super::panel::PanelDialog;
use crate::console::clock::short_time;
use crate::console::theme::Theme;
use crate::store::{AuditEntry, Link};

/// The timeline panel.
pub fn dialog(link: &Link, entries: &[AuditEntry], now: i64, theme: &Theme) -> PanelDialog {
    let mut lines = vec![Line::from(vec![
        Span::styled("title  ", theme.dim),
        Span::raw(link.title.clone()),
    ])];
    lines.push(Line::from(Span::styled(
        "agreed values (base)".to_string(),
        theme.header,
    )));
    for (k, v) in &link.base {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<12} "), theme.dim),
            Span::raw(v.display_short(400)),
        ]));
    }
    lines.push(Line::from(Span::styled(
        format!("changes ({}, newest first)", entries.len()),
        theme.header,
    )));
    if entries.is_empty() {
        lines.push(Line::from(Span::styled(
            "no audit entries for this record",
            theme.dim,
        )));
    }
    for e in entries {
        let change = match (&e.before, &e.after) {
            (Some(b), Some(a)) => format!("{b} → {a}"),
            (None, Some(a)) => a.clone(),
            _ => String::new(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", short_time(e.at, now)), theme.dim),
            Span::styled(format!("{:<8} ", e.actor), theme.key),
            Span::raw(format!(
                "{} {}{} {} ",
                e.action,
                e.side.map_or(String::new(), |s| format!("{s} ")),
                e.field.clone().unwrap_or_default(),
                change
            )),
            Span::styled(
                if e.reason.is_empty() {
                    String::new()
                } else {
                    format!("— {}", e.reason)
                },
                theme.dim,
            ),
        ]));
    }
    let mut d = PanelDialog::new(format!("{} — why is this value here?", link.label()), lines);
    d.indent = 9;
    d.copy = Some(link.label());
    d
}
