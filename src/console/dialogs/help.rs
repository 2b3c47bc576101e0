//! The `?` help: every key of the keymap that is available in this mode,
//! grouped by where it applies, then every `:` command — one column that
//! scrolls, with a "more" marker, so nothing is cut at any width.

use ratatui::text::{Line, Span};

use super::panel::PanelDialog;
use crate::console::command::COMMANDS;
use crate::console::keymap;
use crate::console::theme::Theme;
use crate::console::types::{Cmd, Ctx};

/// The help panel.
pub fn dialog(read_only: bool, theme: &Theme) -> PanelDialog {
    let mut lines = Vec::new();
    for (ctx, rows) in keymap::help(read_only) {
        lines.push(Line::from(Span::styled(
            ctx.title().to_string(),
            theme.header,
        )));
        for b in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8} ", b.shown), theme.key),
                Span::raw(b.label.to_string()),
                Span::styled(
                    if b.mutating { "  (asks first)" } else { "" }.to_string(),
                    theme.dim,
                ),
            ]));
        }
    }
    let key = |ctx, cmd| keymap::shown(ctx, cmd);
    lines.push(Line::from(Span::styled(
        format!(
            "Commands ({} opens the line; {} completes, {}/{} history)",
            key(Ctx::Global, Cmd::CommandLine),
            key(Ctx::Command, Cmd::Complete),
            key(Ctx::Command, Cmd::HistoryPrev),
            key(Ctx::Command, Cmd::HistoryNext)
        ),
        theme.header,
    )));
    for c in COMMANDS {
        let usage = format!(":{} {}", c.name, c.args);
        let on = c.on.map_or(String::new(), |v| {
            format!(" — without ids, only while {} is on screen", v.title())
        });
        lines.push(Line::from(vec![
            Span::styled(format!("  {usage:<34} "), theme.key),
            Span::raw(c.does.to_string()),
            Span::styled(on, theme.dim),
        ]));
    }
    let title = if read_only {
        "Help (read-only: actions hidden)"
    } else {
        "Help"
    };
    let mut d = PanelDialog::new(title, lines);
    d.indent = 11;
    d
}
