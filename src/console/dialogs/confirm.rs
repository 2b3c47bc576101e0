//! The question before a write: what will be written to which side, for
//! which ids. Yes hands the write back confirmed; no (or Esc) says it was
//! not done. The key line comes from the keymap.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};

use super::{Dialog, DialogCx, DrawCx, centered, panel};
use crate::console::types::{Action, Cmd, Ctx, Outcome, Write};
use crate::console::wrap::wrap;

/// A yes/no question before a write.
#[derive(Debug, Clone)]
pub struct ConfirmDialog {
    /// The question.
    pub title: String,
    /// What will happen, line by line.
    pub lines: Vec<String>,
    /// What yes does.
    pub write: Write,
    /// Said when the answer is no.
    pub declined: String,
}

impl Dialog for ConfirmDialog {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn ctx(&self) -> Ctx {
        Ctx::Confirm
    }

    fn on_key(&mut self, _key: KeyEvent, cmd: Option<Cmd>, _cx: &DialogCx<'_>) -> Outcome {
        match cmd {
            Some(Cmd::Yes) => Outcome::Then(Action::Confirmed(self.write.clone())),
            Some(Cmd::No | Cmd::Back | Cmd::Quit) => {
                Outcome::Then(Action::Note(self.declined.clone()))
            }
            _ => Outcome::Stay,
        }
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &DrawCx<'_>) {
        let longest = self
            .lines
            .iter()
            .map(|l| l.chars().count())
            .chain([self.title.chars().count() + 4, 34])
            .max()
            .unwrap_or(34) as u16;
        let w = (longest + 4).min(area.width.saturating_sub(2)).max(20);
        let lines: Vec<Line<'static>> = self.lines.iter().cloned().map(Line::from).collect();
        let rows = wrap(&lines, w.saturating_sub(2) as usize, 2);
        let h = (rows.len() as u16 + 2).min(area.height);
        let r = centered(area, w, h);
        f.render_widget(Clear, r);
        let block = panel(&self.title, Ctx::Confirm, cx);
        let inner = block.inner(r);
        f.render_widget(block, r);
        f.render_widget(Paragraph::new(rows), inner);
    }
}
