//! A list to choose from — a filter with its counts, a sort order, a
//! policy — so nobody cycles through values with a key to find the one
//! they want. Choosing hands back the item's action.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Dialog, DialogCx, DrawCx, centered, panel};
use crate::console::types::{Cmd, Ctx, Outcome, PickItem};

/// A list of choices.
#[derive(Debug, Clone)]
pub struct PickerDialog {
    /// Title.
    pub title: String,
    /// The choices.
    pub items: Vec<PickItem>,
    /// The highlighted one.
    pub sel: usize,
}

impl Dialog for PickerDialog {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn ctx(&self) -> Ctx {
        Ctx::Picker
    }

    fn on_key(&mut self, _key: KeyEvent, cmd: Option<Cmd>, _cx: &DialogCx<'_>) -> Outcome {
        let last = self.items.len().saturating_sub(1);
        match cmd {
            Some(Cmd::Down) => self.sel = (self.sel + 1).min(last),
            Some(Cmd::Up) => self.sel = self.sel.saturating_sub(1),
            Some(Cmd::Top) => self.sel = 0,
            Some(Cmd::Bottom) => self.sel = last,
            Some(Cmd::Submit) => {
                return self
                    .items
                    .get(self.sel)
                    .map_or(Outcome::Close, |i| Outcome::Then(i.action.clone()));
            }
            Some(Cmd::Back | Cmd::Quit) => return Outcome::Close,
            _ => {}
        }
        Outcome::Stay
    }

    fn scroll(&mut self, down: bool) {
        let last = self.items.len().saturating_sub(1);
        self.sel = if down {
            (self.sel + 1).min(last)
        } else {
            self.sel.saturating_sub(1)
        };
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &DrawCx<'_>) {
        let label_w = self
            .items
            .iter()
            .map(|i| i.label.chars().count())
            .max()
            .unwrap_or(10);
        let detail_w = self
            .items
            .iter()
            .map(|i| i.detail.chars().count())
            .max()
            .unwrap_or(0);
        let w = (label_w + detail_w + 8)
            .max(self.title.chars().count() + 6)
            .max(40) as u16;
        let h = self.items.len() as u16 + 2;
        let r = centered(area, w.min(area.width), h.min(area.height));
        f.render_widget(Clear, r);
        let block = panel(&self.title, Ctx::Picker, cx);
        let inner = block.inner(r);
        f.render_widget(block, r);
        let skip = self
            .sel
            .saturating_sub(inner.height.saturating_sub(1) as usize);
        let lines: Vec<Line<'static>> = self
            .items
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, item)| {
                let style = if i == self.sel {
                    cx.theme.selected
                } else {
                    cx.theme.text
                };
                Line::from(vec![
                    Span::styled(format!(" {:<label_w$}  ", item.label), style),
                    Span::styled(format!("{:>detail_w$} ", item.detail), style),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }
}
