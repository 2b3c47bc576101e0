//! A read-only text panel: details, validation and preview output, a
//! document, the demo's intro. Lines wrap to the panel's width (nothing is
//! cut) and scroll, with a marker saying how much is above and below.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Dialog, DialogCx, DrawCx, centered, panel};
use crate::console::keymap;
use crate::console::types::{Action, Cmd, Ctx, Outcome};
use crate::console::wrap::wrap;

/// A wrapped, scrollable text panel.
#[derive(Debug, Clone)]
pub struct PanelDialog {
    /// Title.
    pub title: String,
    /// The lines before wrapping.
    pub lines: Vec<Line<'static>>,
    /// First wrapped row shown.
    pub scroll: usize,
    /// Indent of wrapped continuation rows.
    pub indent: usize,
    /// What `y` copies (the whole text unless set).
    pub copy: Option<String>,
    rows_shown: usize,
    rows_total: usize,
}

impl PanelDialog {
    /// A panel of styled lines.
    pub fn new(title: impl Into<String>, lines: Vec<Line<'static>>) -> Self {
        PanelDialog {
            title: title.into(),
            lines,
            scroll: 0,
            indent: 2,
            copy: None,
            rows_shown: 10,
            rows_total: 0,
        }
    }

    /// A panel of plain text lines.
    pub fn text(title: impl Into<String>, lines: Vec<String>) -> Self {
        PanelDialog::new(title, lines.into_iter().map(Line::from).collect())
    }

    fn max_scroll(&self) -> usize {
        self.rows_total.saturating_sub(self.rows_shown)
    }
}

impl Dialog for PanelDialog {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn ctx(&self) -> Ctx {
        Ctx::Panel
    }

    fn on_key(&mut self, _key: KeyEvent, cmd: Option<Cmd>, _cx: &DialogCx<'_>) -> Outcome {
        let page = self.rows_shown.max(1);
        match cmd {
            Some(Cmd::Down) => self.scroll += 1,
            Some(Cmd::Up) => self.scroll = self.scroll.saturating_sub(1),
            Some(Cmd::PageDown) => self.scroll += page,
            Some(Cmd::PageUp) => self.scroll = self.scroll.saturating_sub(page),
            Some(Cmd::Top) => self.scroll = 0,
            Some(Cmd::Bottom) => self.scroll = usize::MAX,
            Some(Cmd::Back) => return Outcome::Close,
            Some(Cmd::Copy) => {
                let text = self.copy.clone().unwrap_or_else(|| {
                    self.lines
                        .iter()
                        .map(|l| {
                            l.spans
                                .iter()
                                .map(|s| s.content.as_ref())
                                .collect::<String>()
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
                return Outcome::Keep(Action::Copy(text));
            }
            _ => {}
        }
        // The real bound is known once drawn (it depends on the width).
        if self.rows_total > 0 {
            self.scroll = self.scroll.min(self.max_scroll());
        }
        Outcome::Stay
    }

    fn scroll(&mut self, down: bool) {
        self.scroll = if down {
            (self.scroll + 1).min(self.max_scroll())
        } else {
            self.scroll.saturating_sub(1)
        };
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &DrawCx<'_>) {
        let r = centered(area, area.width.saturating_sub(2).min(120), area.height);
        f.render_widget(Clear, r);
        let block = panel(&self.title, Ctx::Panel, cx);
        let inner = block.inner(r);
        f.render_widget(block, r);
        let rows = wrap(&self.lines, inner.width as usize, self.indent);
        self.rows_total = rows.len();
        let more = rows.len() > inner.height as usize;
        self.rows_shown = (inner.height as usize).saturating_sub(usize::from(more));
        self.scroll = self.scroll.min(self.max_scroll());
        let shown: Vec<Line<'static>> = rows
            .iter()
            .skip(self.scroll)
            .take(self.rows_shown)
            .cloned()
            .collect();
        let body = Rect::new(inner.x, inner.y, inner.width, self.rows_shown as u16);
        f.render_widget(Paragraph::new(shown), body);
        if more {
            let below = self
                .rows_total
                .saturating_sub(self.scroll + self.rows_shown);
            let key = |cmd| keymap::shown(Ctx::Panel, cmd);
            let marker = match (self.scroll, below) {
                (0, b) => format!(
                    "▼ {b} more lines ({}, {})",
                    key(Cmd::Down),
                    key(Cmd::PageDown)
                ),
                (a, 0) => format!(
                    "▲ {a} lines above ({}, {}) · end",
                    key(Cmd::Up),
                    key(Cmd::PageUp)
                ),
                (a, b) => format!("▲ {a} above · ▼ {b} more"),
            };
            let y = inner.y + self.rows_shown as u16;
            f.render_widget(
                Paragraph::new(Span::styled(marker, cx.theme.dim)),
                Rect::new(inner.x, y, inner.width, 1),
            );
        }
    }
}
