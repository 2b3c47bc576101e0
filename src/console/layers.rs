//! Dialog layers drawn over the views (help, confirm, prompt, editor and the
//! read-only detail panels). The top layer takes every key first; closing a
//! layer is popping it, so Esc always backs out one step.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};
use ratatui_textarea::{CursorMove, TextArea};

use super::app::{Action, App, ViewId};
use super::clock::short_time;
use super::keymap::{self, Cmd, Ctx};
use super::mapping_check::Diagnostic;
use super::theme::Theme;
use super::views::common::cut;
use crate::ops::{self, conflicts::Choice};
use crate::store::{Attempt, AuditEntry, Job, Link};

/// What a one-line prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptPurpose {
    /// `/` filter of a view.
    Filter(ViewId),
    /// `:` command line.
    Command,
}

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

/// The textarea editor with its check results.
#[derive(Debug, Clone)]
pub struct Editor {
    /// What is being edited.
    pub purpose: EditPurpose,
    /// The text.
    pub area: TextArea<'static>,
    /// Problems from the last validate.
    pub diagnostics: Vec<Diagnostic>,
    /// Output of the last preview or a note.
    pub notes: Vec<String>,
}

/// A layer over the views.
#[derive(Debug, Clone)]
pub enum Layer {
    /// The key help, generated from the keymap.
    Help {
        /// First line shown.
        scroll: usize,
    },
    /// A yes/no question before an action.
    Confirm {
        /// The question.
        prompt: String,
        /// What happens on yes.
        action: Action,
    },
    /// One line of input.
    Prompt {
        /// What it is for.
        purpose: PromptPurpose,
        /// The text.
        input: Box<TextArea<'static>>,
    },
    /// Multi-line editor.
    Editor(Box<Editor>),
    /// A job's attempt log.
    Attempts {
        /// The job.
        job: Job,
        /// Its attempts, oldest first.
        attempts: Vec<Attempt>,
        /// First row shown.
        scroll: usize,
    },
    /// A record's audit timeline.
    Timeline {
        /// The link.
        link: Link,
        /// Entries, newest first.
        entries: Vec<AuditEntry>,
        /// First row shown.
        scroll: usize,
    },
    /// Lines of text (validation, preview, a document).
    Text {
        /// Title.
        title: String,
        /// The lines.
        lines: Vec<String>,
        /// First line shown.
        scroll: usize,
    },
}

/// What handling a key in a layer led to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Pop the layer.
    pub close: bool,
    /// Ask for an action (through the normal confirm/read-only path).
    pub action: Option<Action>,
}

impl Outcome {
    fn close() -> Self {
        Outcome {
            close: true,
            action: None,
        }
    }
    fn stay() -> Self {
        Outcome::default()
    }
}

impl Layer {
    /// A prompt with initial text.
    pub fn prompt(purpose: PromptPurpose, text: &str) -> Layer {
        let mut input = TextArea::new(vec![text.to_string()]);
        input.move_cursor(CursorMove::End);
        Layer::Prompt {
            purpose,
            input: Box::new(input),
        }
    }

    /// An editor over `text`.
    pub fn editor(purpose: EditPurpose, text: &str) -> Layer {
        let lines: Vec<String> = if text.is_empty() {
            vec![String::new()]
        } else {
            text.lines().map(String::from).collect()
        };
        let mut area = TextArea::new(lines);
        area.set_line_number_style(
            ratatui::style::Style::new().add_modifier(ratatui::style::Modifier::DIM),
        );
        Layer::Editor(Box::new(Editor {
            purpose,
            area,
            diagnostics: Vec::new(),
            notes: Vec::new(),
        }))
    }

    /// A text panel.
    pub fn text(title: String, lines: Vec<String>) -> Layer {
        Layer::Text {
            title,
            lines,
            scroll: 0,
        }
    }

    /// Key contexts of this layer, for lookup and the hint bar.
    pub fn contexts(&self) -> Vec<Ctx> {
        match self {
            Layer::Confirm { .. } => vec![Ctx::Confirm],
            Layer::Prompt { .. } => vec![Ctx::Prompt],
            Layer::Editor(_) => vec![Ctx::Editor],
            Layer::Help { .. }
            | Layer::Attempts { .. }
            | Layer::Timeline { .. }
            | Layer::Text { .. } => {
                vec![Ctx::Global]
            }
        }
    }

    /// Insert pasted text into an input layer.
    pub fn paste(&mut self, text: &str) {
        match self {
            Layer::Prompt { input, .. } => {
                input.insert_str(text.replace('\n', " "));
            }
            Layer::Editor(ed) => {
                ed.area.insert_str(text);
            }
            _ => {}
        }
    }

    /// Scroll a read-only panel (mouse wheel).
    pub fn scroll(&mut self, down: bool) {
        if let Layer::Help { scroll }
        | Layer::Attempts { scroll, .. }
        | Layer::Timeline { scroll, .. }
        | Layer::Text { scroll, .. } = self
        {
            *scroll = if down {
                *scroll + 1
            } else {
                scroll.saturating_sub(1)
            };
        }
    }

    /// Handle a key; `cmd` is what the keymap made of it in this layer's
    /// contexts.
    pub fn on_key(&mut self, key: KeyEvent, cmd: Option<Cmd>, app: &mut App) -> Outcome {
        match self {
            Layer::Confirm { action, .. } => match cmd {
                Some(Cmd::Yes) => {
                    let action = action.clone();
                    app.perform(action);
                    Outcome::close()
                }
                Some(Cmd::No | Cmd::Quit | Cmd::Back) => {
                    app.note("cancelled".into());
                    Outcome::close()
                }
                _ => Outcome::stay(),
            },
            Layer::Prompt { purpose, input } => match cmd {
                Some(Cmd::Submit) => {
                    let text = input.lines().join(" ");
                    match *purpose {
                        PromptPurpose::Filter(v) => app.apply_filter(v, &text),
                        PromptPurpose::Command => app.run_command(&text),
                    }
                    Outcome::close()
                }
                Some(Cmd::Back) => Outcome::close(),
                _ => {
                    input.input(key);
                    Outcome::stay()
                }
            },
            Layer::Editor(ed) => ed.on_key(key, cmd, app),
            Layer::Help { scroll }
            | Layer::Attempts { scroll, .. }
            | Layer::Timeline { scroll, .. }
            | Layer::Text { scroll, .. } => {
                match cmd {
                    Some(Cmd::Down) => *scroll += 1,
                    Some(Cmd::Up) => *scroll = scroll.saturating_sub(1),
                    Some(Cmd::PageDown) => *scroll += 10,
                    Some(Cmd::PageUp) => *scroll = scroll.saturating_sub(10),
                    Some(Cmd::Top) => *scroll = 0,
                    Some(Cmd::Back | Cmd::Open | Cmd::Help | Cmd::Quit) => return Outcome::close(),
                    _ => {}
                }
                Outcome::stay()
            }
        }
    }

    /// Draw the layer over `area` (the whole screen minus bars).
    pub fn draw(
        &mut self,
        f: &mut Frame<'_>,
        area: Rect,
        theme: &Theme,
        read_only: bool,
        now: i64,
    ) {
        match self {
            Layer::Help { scroll } => draw_help(f, area, theme, read_only, *scroll),
            Layer::Confirm { prompt, .. } => {
                let w = (prompt.chars().count() as u16 + 6)
                    .clamp(30, area.width.saturating_sub(4).max(10));
                let r = centered(area, w, 6);
                f.render_widget(Clear, r);
                let lines = vec![
                    Line::from(prompt.clone()),
                    Line::from(""),
                    Line::from(vec![
                        Span::styled("y", theme.key),
                        Span::raw(" yes   "),
                        Span::styled("n", theme.key),
                        Span::raw(" no"),
                    ]),
                ];
                f.render_widget(
                    Paragraph::new(lines)
                        .wrap(Wrap { trim: true })
                        .block(panel(" Confirm ", theme)),
                    r,
                );
            }
            Layer::Prompt { purpose, input } => {
                let r = Rect::new(area.x, area.bottom().saturating_sub(3), area.width, 3);
                f.render_widget(Clear, r);
                let label = match purpose {
                    PromptPurpose::Filter(ViewId::Jobs) => {
                        " / filter: status and/or error class (e.g. failed rate_limited) "
                    }
                    PromptPurpose::Filter(ViewId::Links) => " / search title or id ",
                    PromptPurpose::Filter(ViewId::Conflicts) => " / filter by field ",
                    PromptPurpose::Filter(ViewId::Log) => {
                        " / minimum level (error, warn, info, debug) "
                    }
                    PromptPurpose::Filter(_) => " / filter ",
                    PromptPurpose::Command => {
                        " : command (retry [status] [class], cancel, resolve portal|linear|base, rollback N, view NAME, q) "
                    }
                };
                input.set_block(panel(label, theme));
                input.set_cursor_line_style(ratatui::style::Style::new());
                f.render_widget(&**input, r);
            }
            Layer::Editor(ed) => ed.draw(f, area, theme),
            Layer::Attempts {
                job,
                attempts,
                scroll,
            } => draw_attempts(f, area, theme, job, attempts, *scroll, now),
            Layer::Timeline {
                link,
                entries,
                scroll,
            } => draw_timeline(f, area, theme, link, entries, *scroll, now),
            Layer::Text {
                title,
                lines,
                scroll,
            } => {
                let r = centered(
                    area,
                    area.width.saturating_sub(4),
                    area.height.saturating_sub(2),
                );
                f.render_widget(Clear, r);
                let body: Vec<Line<'static>> = lines
                    .iter()
                    .skip(*scroll)
                    .map(|l| Line::from(l.clone()))
                    .collect();
                f.render_widget(
                    Paragraph::new(body)
                        .wrap(Wrap { trim: false })
                        .block(panel(&format!(" {title} "), theme)),
                    r,
                );
            }
        }
    }
}

impl Editor {
    fn text(&self) -> String {
        let mut t = self.area.lines().join("\n");
        if matches!(self.purpose, EditPurpose::Mapping) {
            t.push('\n');
        }
        t
    }

    fn validate(&mut self, app: &App) -> bool {
        if !matches!(self.purpose, EditPurpose::Mapping) {
            return true;
        }
        self.diagnostics = app.checker.validate(app.store.db(), &self.text());
        self.notes.clear();
        if let Some(line) = self.diagnostics.iter().find_map(|d| d.line) {
            let row = u16::try_from(line.saturating_sub(1)).unwrap_or(0);
            self.area.move_cursor(CursorMove::Jump(row, 0));
        } else if self.diagnostics.is_empty() {
            self.notes.push("valid".into());
        }
        self.diagnostics.is_empty()
    }

    fn on_key(&mut self, key: KeyEvent, cmd: Option<Cmd>, app: &mut App) -> Outcome {
        match cmd {
            Some(Cmd::Back) => Outcome::close(),
            Some(Cmd::Validate) => {
                self.validate(app);
                Outcome::stay()
            }
            Some(Cmd::Preview) => {
                if let EditPurpose::Mapping = self.purpose {
                    let active = app
                        .store
                        .db()
                        .active_mapping()
                        .ok()
                        .flatten()
                        .map(|m| m.document);
                    self.notes =
                        app.checker
                            .preview(app.store.db(), active.as_deref(), &self.text());
                }
                Outcome::stay()
            }
            Some(Cmd::Save) => {
                if app.read_only {
                    app.error("read-only console: saving is disabled".into());
                    return Outcome::stay();
                }
                if !self.validate(app) {
                    return Outcome::stay();
                }
                match &self.purpose {
                    EditPurpose::Mapping => Outcome {
                        close: true,
                        action: Some(Action::ApplyMapping {
                            document: self.text(),
                            note: "edited in the console".into(),
                        }),
                    },
                    EditPurpose::Merged { conflict_id, .. } => {
                        let choice = Choice::Merged(self.text());
                        match ops::conflicts::check(app.store.db(), *conflict_id, &choice) {
                            Ok(None) => Outcome {
                                close: true,
                                action: Some(Action::Resolve {
                                    ids: vec![*conflict_id],
                                    choice,
                                }),
                            },
                            Ok(Some(refused)) => {
                                self.diagnostics = vec![Diagnostic {
                                    line: None,
                                    message: refused.to_string(),
                                }];
                                Outcome::stay()
                            }
                            Err(e) => {
                                app.error(e.to_string());
                                Outcome::stay()
                            }
                        }
                    }
                }
            }
            _ => {
                self.area.input(key);
                Outcome::stay()
            }
        }
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, theme: &Theme) {
        let r = centered(area, area.width.saturating_sub(2), area.height);
        f.render_widget(Clear, r);
        let extra = (self.diagnostics.len() + self.notes.len()).min(8) as u16;
        let [edit, info] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(if extra > 0 { extra + 2 } else { 0 }),
        ])
        .areas(r);
        let title = match &self.purpose {
            EditPurpose::Mapping => {
                " Edit mapping — ^S apply as new version · ^E validate · ^P preview · Esc close "
                    .to_string()
            }
            EditPurpose::Merged {
                conflict_id, field, ..
            } => format!(" Merged value for {field} (#{conflict_id}) — ^S resolve · Esc close "),
        };
        self.area.set_block(panel(&title, theme));
        self.area
            .set_cursor_line_style(ratatui::style::Style::new());
        f.render_widget(&self.area, edit);
        if extra > 0 {
            let mut lines: Vec<Line<'static>> = self
                .diagnostics
                .iter()
                .map(|d| {
                    Line::from(vec![
                        Span::styled(
                            d.line.map_or("     ".into(), |l| format!("{l:>4} ")),
                            theme.error,
                        ),
                        Span::raw(d.message.clone()),
                    ])
                })
                .collect();
            lines.extend(self.notes.iter().map(|n| Line::from(n.clone())));
            f.render_widget(Paragraph::new(lines).block(panel(" Check ", theme)), info);
        }
    }
}

fn panel<'a>(title: &str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.title)
        .title(Span::styled(title.to_string(), theme.title))
}

/// A rect of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help_lines(theme: &Theme, read_only: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (ctx, rows) in keymap::help(read_only) {
        lines.push(Line::from(Span::styled(
            ctx.title().to_string(),
            theme.header,
        )));
        for b in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8}", b.shown), theme.key),
                Span::raw(b.label.to_string()),
            ]));
        }
    }
    lines
}

fn draw_help(f: &mut Frame<'_>, area: Rect, theme: &Theme, read_only: bool, scroll: usize) {
    let r = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    f.render_widget(Clear, r);
    let title = if read_only {
        " Help (read-only: actions hidden) — Esc closes "
    } else {
        " Help — Esc closes "
    };
    let block = panel(title, theme);
    let inner = block.inner(r);
    f.render_widget(block, r);
    let lines = help_lines(theme, read_only);
    let cols = if inner.width >= 90 {
        3
    } else if inner.width >= 60 {
        2
    } else {
        1
    };
    let per = lines.len().div_ceil(cols);
    let areas = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(inner);
    for (i, col) in areas.iter().enumerate() {
        let chunk: Vec<Line<'static>> = lines
            .iter()
            .skip(i * per)
            .take(per)
            .skip(scroll)
            .cloned()
            .collect();
        f.render_widget(Paragraph::new(chunk), *col);
    }
}

fn draw_attempts(
    f: &mut Frame<'_>,
    area: Rect,
    theme: &Theme,
    job: &Job,
    attempts: &[Attempt],
    scroll: usize,
    now: i64,
) {
    let r = centered(
        area,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    f.render_widget(Clear, r);
    let title = format!(
        " Job #{} · {} {} → {} · {} · {}/{} attempts ",
        job.id,
        job.kind,
        job.link_id.map_or("-".into(), |l| format!("L{l}")),
        job.target,
        job.status,
        job.attempts,
        job.max_attempts
    );
    let block = panel(&title, theme);
    let inner = block.inner(r);
    f.render_widget(block, r);
    let [head, table] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);
    let reason = if job.reason.is_empty() {
        "-".to_string()
    } else {
        job.reason.clone()
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(vec![Span::styled("why   ", theme.dim), Span::raw(reason)]),
            Line::from(vec![
                Span::styled("error ", theme.dim),
                Span::raw(job.last_error.clone().unwrap_or_else(|| "-".into())),
            ]),
        ]),
        head,
    );
    let rows: Vec<Row<'static>> = attempts
        .iter()
        .skip(scroll)
        .map(|a| {
            let style = if a.error_class.is_some() {
                theme.error
            } else {
                theme.ok
            };
            Row::new(vec![
                Cell::from(format!("{}", a.attempt)),
                Cell::from(short_time(a.started_at, now)),
                Cell::from(format!("{}ms", a.duration_ms)),
                Cell::from(a.http_status.map_or("-".into(), |s| s.to_string())),
                Cell::from(a.outcome.clone()).style(style),
                Cell::from(a.request_id.clone().unwrap_or_else(|| "-".into())),
                Cell::from(a.message.clone().unwrap_or_default()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(3),
        Constraint::Length(11),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(12),
        Constraint::Length(14),
        Constraint::Min(10),
    ];
    f.render_widget(
        Table::new(rows, widths).header(
            Row::new(vec![
                "#",
                "started",
                "took",
                "http",
                "outcome",
                "request id",
                "remote message",
            ])
            .style(theme.header),
        ),
        table,
    );
}

fn draw_timeline(
    f: &mut Frame<'_>,
    area: Rect,
    theme: &Theme,
    link: &Link,
    entries: &[AuditEntry],
    scroll: usize,
    now: i64,
) {
    let r = centered(
        area,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    f.render_widget(Clear, r);
    let title = format!(
        " L{} · {} · portal {} ↔ linear {} — why is this value here? ",
        link.id,
        cut(&link.title, 30),
        link.portal_id.as_deref().unwrap_or("-"),
        link.linear_id.as_deref().unwrap_or("-")
    );
    let block = panel(&title, theme);
    let inner = block.inner(r);
    f.render_widget(block, r);
    let base: Vec<String> = link
        .base
        .iter()
        .map(|(k, v)| format!("{k}={}", v.display_short(24)))
        .collect();
    let mut lines = vec![Line::from(vec![
        Span::styled("base  ", theme.dim),
        Span::raw(base.join("  ")),
    ])];
    if entries.is_empty() {
        lines.push(Line::from(Span::styled(
            "no audit entries for this record",
            theme.dim,
        )));
    }
    for e in entries.iter().skip(scroll) {
        let change = match (&e.before, &e.after) {
            (Some(b), Some(a)) => format!("{} → {}", cut(b, 24), cut(a, 24)),
            (None, Some(a)) => cut(a, 40),
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
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
