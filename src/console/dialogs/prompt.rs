//! One line of input at the bottom of the screen: `/` search (for the view
//! on screen) or the `:` command line, each with its own history (↑/↓);
//! the command line completes command words and their arguments (Tab).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Clear;
use ratatui_textarea::{CursorMove, TextArea};

use super::{Dialog, DialogCx, DrawCx, panel};
use crate::console::command;
use crate::console::types::{Action, Cmd, Ctx, Outcome, ViewId};

/// What the line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// `/` in a view.
    Search(ViewId),
    /// `:`.
    Command,
}

/// A one-line prompt.
#[derive(Debug, Clone)]
pub struct PromptDialog {
    /// What it is for.
    pub kind: PromptKind,
    /// Shown in the title.
    pub label: String,
    /// The text.
    pub input: TextArea<'static>,
    /// Earlier entries, oldest first.
    pub history: Vec<String>,
    /// Position while browsing history.
    hist_pos: Option<usize>,
    /// Completions offered by the last Tab.
    pub candidates: Vec<&'static str>,
}

impl PromptDialog {
    /// A prompt with initial text.
    pub fn new(kind: PromptKind, label: &str, text: &str, history: Vec<String>) -> Self {
        let mut d = PromptDialog {
            kind,
            label: label.to_string(),
            input: TextArea::default(),
            history,
            hist_pos: None,
            candidates: Vec::new(),
        };
        d.set(text);
        d
    }

    /// The text typed.
    pub fn text(&self) -> String {
        self.input.lines().join(" ")
    }

    fn set(&mut self, text: &str) {
        self.input = TextArea::new(vec![text.to_string()]);
        self.input.move_cursor(CursorMove::End);
    }

    fn browse(&mut self, older: bool) {
        if self.history.is_empty() {
            return;
        }
        let last = self.history.len() - 1;
        self.hist_pos = match (self.hist_pos, older) {
            (None, true) => Some(last),
            (None, false) => None,
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p >= last => None,
            (Some(p), false) => Some(p + 1),
        };
        let text = self
            .hist_pos
            .and_then(|p| self.history.get(p).cloned())
            .unwrap_or_default();
        self.set(&text);
    }
}

impl Dialog for PromptDialog {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn ctx(&self) -> Ctx {
        match self.kind {
            PromptKind::Search(_) => Ctx::Prompt,
            PromptKind::Command => Ctx::Command,
        }
    }

    fn on_key(&mut self, key: KeyEvent, cmd: Option<Cmd>, _cx: &DialogCx<'_>) -> Outcome {
        match cmd {
            Some(Cmd::Submit) => {
                let text = self.text();
                Outcome::Then(match self.kind {
                    PromptKind::Search(v) => Action::Search(v, text),
                    PromptKind::Command => Action::Command(text),
                })
            }
            Some(Cmd::Back) => Outcome::Close,
            Some(Cmd::HistoryPrev) => {
                self.browse(true);
                Outcome::Stay
            }
            Some(Cmd::HistoryNext) => {
                self.browse(false);
                Outcome::Stay
            }
            Some(Cmd::Complete) => {
                let (line, candidates) = command::complete(&self.text());
                self.set(&line);
                self.candidates = candidates;
                Outcome::Stay
            }
            _ => {
                self.input.input(key);
                self.candidates.clear();
                Outcome::Stay
            }
        }
    }

    fn paste(&mut self, text: &str) {
        self.input.insert_str(text.replace('\n', " "));
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &DrawCx<'_>) {
        let r = Rect::new(area.x, area.bottom().saturating_sub(3), area.width, 3);
        f.render_widget(Clear, r);
        let mut title = self.label.clone();
        if self.candidates.len() > 1 {
            title.push_str(&format!(" — {}", self.candidates.join(" ")));
        }
        self.input.set_block(panel(&title, self.ctx(), cx));
        self.input
            .set_cursor_line_style(ratatui::style::Style::new());
        f.render_widget(&self.input, r);
    }
}
