//! The textarea editor for a mapping document or a conflict's merged value.
//! It never loses work: saving validates, then asks (with what will change)
//! and a "no" goes back to the edit; closing with changes asks before
//! discarding them. Problems show under the text with their line, wrapped.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui_textarea::{CursorMove, TextArea};

use super::{Dialog, DialogCx, DrawCx, centered, panel, plain};
use crate::console::keymap;
use crate::console::mapping_check::Diagnostic;
use crate::console::types::{Action, Cmd, Ctx, Open, Outcome, Write};
use crate::console::wrap::wrap;
use crate::ops::{self, conflicts::Choice};

/// What the editor is editing.
#[derive(Debug, Clone, PartialEq)]
pub enum EditPurpose {
    /// The active mapping document.
    Mapping,
    /// A merged value for one conflict.
    Merged {
        /// The conflict.
        conflict_id: i64,
        /// Its field.
        field: String,
    },
}

/// A question the editor is asking.
#[derive(Debug, Clone, PartialEq)]
enum Ask {
    /// Close and throw the changes away?
    Discard,
    /// Do this write?
    Save(Write, Vec<String>),
}

/// The editor.
#[derive(Debug, Clone)]
pub struct EditorDialog {
    /// What is being edited.
    pub purpose: EditPurpose,
    /// The text.
    pub area: TextArea<'static>,
    /// Problems from the last check.
    pub diagnostics: Vec<Diagnostic>,
    /// Output of the last preview, or a note.
    pub notes: Vec<String>,
    original: String,
    ask: Option<Ask>,
}

/// Most check lines shown under the text; a longer preview opens in a
/// panel of its own.
const INFO_ROWS: usize = 8;

impl EditorDialog {
    /// An editor over `text`.
    pub fn new(purpose: EditPurpose, text: &str) -> Self {
        let lines: Vec<String> = if text.is_empty() {
            vec![String::new()]
        } else {
            text.lines().map(String::from).collect()
        };
        let mut area = TextArea::new(lines);
        area.set_line_number_style(
            ratatui::style::Style::new().add_modifier(ratatui::style::Modifier::DIM),
        );
        let mut d = EditorDialog {
            purpose,
            area,
            diagnostics: Vec::new(),
            notes: Vec::new(),
            original: String::new(),
            ask: None,
        };
        d.original = d.text();
        d
    }

    /// The text as it would be saved.
    pub fn text(&self) -> String {
        let mut t = self.area.lines().join("\n");
        if matches!(self.purpose, EditPurpose::Mapping) {
            t.push('\n');
        }
        t
    }

    /// Whether the text differs from what was opened.
    pub fn modified(&self) -> bool {
        self.text() != self.original
    }

    /// Whether the editor is asking a question.
    pub fn asking(&self) -> bool {
        self.ask.is_some()
    }

    fn validate(&mut self, cx: &DialogCx<'_>) -> bool {
        if !matches!(self.purpose, EditPurpose::Mapping) {
            return true;
        }
        self.diagnostics = cx.checker.validate(cx.db, &self.text());
        self.notes.clear();
        if let Some(line) = self.diagnostics.iter().find_map(|d| d.line) {
            let row = u16::try_from(line.saturating_sub(1)).unwrap_or(0);
            self.area.move_cursor(CursorMove::Jump(row, 0));
        } else if self.diagnostics.is_empty() {
            self.notes.push("valid".into());
        }
        self.diagnostics.is_empty()
    }

    fn refuse(&mut self, message: String) {
        self.diagnostics = vec![Diagnostic {
            line: None,
            message,
        }];
    }

    /// The question before saving, or a refusal shown in the check pane.
    fn save_question(&mut self, cx: &DialogCx<'_>) -> Result<Option<Ask>, String> {
        if cx.read_only {
            return Err("read-only console: saving is disabled".into());
        }
        if !self.validate(cx) {
            return Ok(None);
        }
        match &self.purpose {
            EditPurpose::Mapping => {
                let active = cx
                    .db
                    .active_mapping()
                    .map_err(|e| e.to_string())?
                    .map(|m| m.document);
                let mut lines = vec![
                    "Store this document as a new mapping version and make it active?".to_string(),
                    "The engine uses it from its next pass. What changes:".to_string(),
                ];
                lines.extend(
                    cx.checker
                        .preview(cx.db, active.as_deref(), &self.text())
                        .into_iter()
                        .take(INFO_ROWS)
                        .map(|l| format!("  {l}")),
                );
                Ok(Some(Ask::Save(
                    Write::ApplyMapping {
                        document: self.text(),
                        note: "edited in the console".into(),
                    },
                    lines,
                )))
            }
            EditPurpose::Merged { conflict_id, field } => {
                let choice = Choice::Merged(self.text());
                if let Some(refused) = ops::conflicts::check(cx.db, *conflict_id, &choice)
                    .map_err(|e| e.to_string())?
                {
                    self.refuse(refused.to_string());
                    return Ok(None);
                }
                let link = cx
                    .db
                    .conflict(*conflict_id)
                    .ok()
                    .flatten()
                    .and_then(|c| cx.db.link(c.link_id).ok().flatten())
                    .map_or_else(String::new, |l| format!(" on {}", l.label()));
                let shown: String = self.text().chars().take(200).collect();
                Ok(Some(Ask::Save(
                    Write::Resolve {
                        ids: vec![*conflict_id],
                        choice,
                    },
                    vec![
                        format!("Resolve conflict #{conflict_id} ({field}{link}) with this value?"),
                        format!("It is written to both the portal and Linear: '{shown}'"),
                    ],
                )))
            }
        }
    }

    fn answer(&mut self, cmd: Option<Cmd>) -> Outcome {
        match cmd {
            Some(Cmd::Yes) => match self.ask.take() {
                Some(Ask::Discard) => Outcome::Then(Action::Note("changes discarded".into())),
                Some(Ask::Save(w, _)) => Outcome::Then(Action::Confirmed(w)),
                None => Outcome::Stay,
            },
            Some(Cmd::No | Cmd::Back) => {
                self.ask = None;
                self.notes = vec!["not saved; still editing".into()];
                Outcome::Stay
            }
            _ => Outcome::Stay,
        }
    }

    fn title(&self) -> String {
        match &self.purpose {
            EditPurpose::Mapping => "Edit mapping (saved as a new version)".to_string(),
            EditPurpose::Merged { conflict_id, field } => {
                format!("Merged value for {field} (conflict #{conflict_id})")
            }
        }
    }

    fn question(&self) -> Option<(String, Vec<String>)> {
        match self.ask.as_ref()? {
            Ask::Discard => Some((
                "Discard your changes?".into(),
                vec![
                    "The edit has not been saved.".into(),
                    format!(
                        "{} discards it; {} goes back to editing.",
                        keymap::shown(Ctx::Confirm, Cmd::Yes),
                        keymap::shown(Ctx::Confirm, Cmd::No)
                    ),
                ],
            )),
            Ask::Save(Write::ApplyMapping { .. }, lines) => {
                Some(("Apply the mapping?".into(), lines.clone()))
            }
            Ask::Save(_, lines) => Some(("Resolve the conflict?".into(), lines.clone())),
        }
    }
}

impl Dialog for EditorDialog {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn ctx(&self) -> Ctx {
        if self.ask.is_some() {
            Ctx::Confirm
        } else {
            Ctx::Editor
        }
    }

    fn on_key(&mut self, key: KeyEvent, cmd: Option<Cmd>, cx: &DialogCx<'_>) -> Outcome {
        if self.ask.is_some() {
            return self.answer(cmd);
        }
        match cmd {
            Some(Cmd::Back) if self.modified() => {
                self.ask = Some(Ask::Discard);
                Outcome::Stay
            }
            Some(Cmd::Back) => Outcome::Close,
            Some(Cmd::Validate) => {
                self.validate(cx);
                Outcome::Stay
            }
            Some(Cmd::Preview) => {
                if let EditPurpose::Mapping = self.purpose {
                    let active = cx.db.active_mapping().ok().flatten().map(|m| m.document);
                    self.diagnostics.clear();
                    self.notes = cx.checker.preview(cx.db, active.as_deref(), &self.text());
                    if self.notes.len() > INFO_ROWS {
                        // Too long for the check pane: the whole preview in a
                        // panel over the editor (Esc comes back here).
                        return Outcome::Keep(Action::Open(Open::Text {
                            title: "Preview of the edited mapping".into(),
                            lines: self.notes.clone(),
                        }));
                    }
                }
                Outcome::Stay
            }
            Some(Cmd::Save) => match self.save_question(cx) {
                Ok(ask) => {
                    self.ask = ask;
                    Outcome::Stay
                }
                Err(e) => {
                    self.refuse(e);
                    Outcome::Stay
                }
            },
            _ => {
                self.area.input(key);
                Outcome::Stay
            }
        }
    }

    fn paste(&mut self, text: &str) {
        if self.ask.is_none() {
            self.area.insert_str(text);
        }
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &DrawCx<'_>) {
        let r = centered(area, area.width.saturating_sub(2), area.height);
        f.render_widget(Clear, r);
        let info: Vec<Line<'static>> = self
            .diagnostics
            .iter()
            .map(|d| {
                Line::from(vec![
                    Span::styled(
                        d.line.map_or("     ".into(), |l| format!("{l:>4} ")),
                        cx.theme.error,
                    ),
                    Span::raw(d.message.clone()),
                ])
            })
            .chain(self.notes.iter().map(|n| Line::from(n.clone())))
            .collect();
        let info = wrap(&info, r.width.saturating_sub(2) as usize, 5);
        let extra = info.len().min(INFO_ROWS) as u16;
        let [edit, check] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(if extra > 0 { extra + 2 } else { 0 }),
        ])
        .areas(r);
        self.area.set_block(panel(&self.title(), Ctx::Editor, cx));
        self.area
            .set_cursor_line_style(ratatui::style::Style::new());
        f.render_widget(&self.area, edit);
        if extra > 0 {
            let more = info.len() > INFO_ROWS;
            let title = if more {
                format!("Check ({} of {} lines)", INFO_ROWS, info.len())
            } else {
                "Check".to_string()
            };
            f.render_widget(Paragraph::new(info).block(plain(&title, cx)), check);
        }
        if let Some((title, lines)) = self.question() {
            let lines: Vec<Line<'static>> = lines.into_iter().map(Line::from).collect();
            let w = r.width.saturating_sub(6).min(90);
            let rows = wrap(&lines, w.saturating_sub(2) as usize, 2);
            let q = centered(r, w, (rows.len() as u16 + 2).min(r.height));
            f.render_widget(Clear, q);
            let block = panel(&title, Ctx::Confirm, cx);
            let inner = block.inner(q);
            f.render_widget(block, q);
            f.render_widget(Paragraph::new(rows), inner);
        }
    }
}
