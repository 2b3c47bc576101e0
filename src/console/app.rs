//! Application state and the one place actions are carried out. Keys become
//! [`Cmd`]s through the keymap; the top dialog, or else the view on screen,
//! answers with an [`Action`]; [`App::act`] does it — switching views,
//! opening dialogs, asking before a write and writing through the
//! operator-actions module. Writes are refused in read-only mode.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::clock::Clock;
use super::command::{self, History};
use super::dialogs::confirm::ConfirmDialog;
use super::dialogs::editor::{EditPurpose, EditorDialog};
use super::dialogs::panel::PanelDialog;
use super::dialogs::picker::PickerDialog;
use super::dialogs::prompt::{PromptDialog, PromptKind};
use super::dialogs::{Dialog, DialogCx, help, job, timeline, urls};
use super::effects;
use super::keymap;
use super::mapping_check::{MappingChecker, default_checker};
use super::theme::Theme;
use super::types::{Action, Cmd, Ctx, Hit, Message, Open, Outcome, ViewId, Write};
use super::views::{Load, Views};
use crate::domain::Side;
use crate::health::{Health, assess};
use crate::store::{Store, StoreError, Summary, Window};

/// Most timeline entries loaded for one record.
pub const TIMELINE_LIMIT: usize = 500;

/// Everything the console knows.
pub struct App {
    /// The open store.
    pub store: Store,
    /// `--read-only`: writes hidden and refused.
    pub read_only: bool,
    /// Where "now" comes from.
    pub clock: Clock,
    /// Styles.
    pub theme: Theme,
    /// A line shown in the title bar (the demo says what it is doing).
    pub banner: Option<String>,
    /// The view on screen.
    pub view: ViewId,
    /// Every view's state.
    pub views: Views,
    /// Dialogs over the view, top last.
    pub dialogs: Vec<Box<dyn Dialog>>,
    /// Status-bar message.
    pub message: Option<Message>,
    /// Latest counters.
    pub summary: Option<Summary>,
    /// The verdict, recomputed from the counters and the clock on every
    /// frame (so a dead engine shows DOWN without a keypress).
    pub health: Option<Health>,
    /// Set when the operator quits.
    pub quit: bool,
    /// Mouse targets recorded while drawing.
    pub hits: Vec<(Rect, Hit)>,
    /// Validate and preview mapping documents.
    pub checker: Box<dyn MappingChecker>,
    /// Hidden test hook: the next draw of a view panics (see `run`).
    pub panic_armed: bool,
    /// Whether the hidden panic key is enabled.
    pub panic_key: bool,
    /// `:` lines typed before.
    pub commands: History,
    /// `/` searches typed before.
    pub searches: History,
    /// Text waiting to be put on the clipboard (OSC 52) by the event loop.
    pub clipboard: Vec<String>,
    /// Full reloads from the store so far (the idle test counts them).
    pub reads: u64,
    data_version: i64,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("view", &self.view)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl App {
    /// A console over an open store; loads the first view.
    pub fn new(
        store: Store,
        read_only: bool,
        clock: Clock,
        theme: Theme,
    ) -> Result<App, StoreError> {
        let read_only = read_only || store.is_read_only();
        let mut app = App {
            store,
            read_only,
            clock,
            theme,
            banner: None,
            view: ViewId::Overview,
            views: Views::default(),
            dialogs: Vec::new(),
            message: None,
            summary: None,
            health: None,
            quit: false,
            hits: Vec::new(),
            checker: default_checker(),
            panic_armed: false,
            panic_key: false,
            commands: History::default(),
            searches: History::default(),
            clipboard: Vec::new(),
            reads: 0,
            data_version: 0,
        };
        app.data_version = app.store.data_version()?;
        app.reload()?;
        Ok(app)
    }

    /// Re-read the counters and the view on screen.
    pub fn reload(&mut self) -> Result<(), StoreError> {
        self.reads += 1;
        let now = self.clock.now_ms();
        let db = self.store.db();
        let mut summary = db.summary()?;
        crate::health::observe_store(self.store.file(), &mut summary, now);
        self.health = Some(assess(&summary, now));
        self.summary = Some(summary);
        let cx = Load {
            db,
            now,
            checker: self.checker.as_ref(),
        };
        self.views.get_mut(self.view).reload(&cx)
    }

    /// Recompute the time-based facts (the verdict, ages) from the counters
    /// already read and the clock: no store I/O.
    pub fn refresh_clock(&mut self) {
        let now = self.clock.now_ms();
        self.health = self.summary.as_ref().map(|s| assess(s, now));
    }

    /// The cheap idle check: has another process committed since we last
    /// looked? Reloads (and asks for a redraw) only if so.
    pub fn poll_store(&mut self) -> Result<bool, StoreError> {
        let v = self.store.data_version()?;
        if v == self.data_version {
            return Ok(false);
        }
        self.data_version = v;
        self.reload()?;
        Ok(true)
    }

    /// Key contexts in lookup order for the current state.
    pub fn contexts(&self) -> Vec<Ctx> {
        match self.dialogs.last() {
            Some(d) => vec![d.ctx()],
            None => vec![Ctx::View(self.view), Ctx::Global],
        }
    }

    /// Handle one terminal event; returns whether a redraw is needed.
    pub fn on_event(&mut self, ev: Event) -> bool {
        match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => {
                self.on_key(k);
                true
            }
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(..) | Event::FocusGained => true,
            Event::Paste(text) => {
                if let Some(d) = self.dialogs.last_mut() {
                    d.paste(&text);
                }
                true
            }
            _ => false,
        }
    }

    /// Handle a key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        self.message = None;
        if self.panic_key && key.code == KeyCode::Char('!') && self.dialogs.is_empty() {
            self.panic_armed = true;
            return;
        }
        let ctxs = self.contexts();
        let binding = keymap::lookup(&ctxs, &key);
        if let Some(mut dialog) = self.dialogs.pop() {
            let outcome = {
                let cx = DialogCx {
                    db: self.store.db(),
                    checker: self.checker.as_ref(),
                    read_only: self.read_only,
                    now: self.clock.now_ms(),
                };
                dialog.on_key(key, binding.map(|b| b.cmd), &cx)
            };
            match outcome {
                Outcome::Stay => self.dialogs.push(dialog),
                Outcome::Close => {}
                Outcome::Then(a) => self.act(a),
                Outcome::Keep(a) => {
                    self.dialogs.push(dialog);
                    self.act(a);
                }
            }
            return;
        }
        let Some(binding) = binding else {
            return;
        };
        if binding.mutating && self.read_only {
            self.refuse(binding.label);
            return;
        }
        self.on_cmd(binding.cmd);
    }

    fn refuse(&mut self, what: &str) {
        self.error(format!("read-only console: \"{what}\" is disabled"));
    }

    /// Show an error in the status bar.
    pub fn error(&mut self, text: String) {
        self.message = Some(Message { text, error: true });
    }

    /// Show a note in the status bar.
    pub fn note(&mut self, text: String) {
        self.message = Some(Message { text, error: false });
    }

    /// Run a key command: the few that mean the same everywhere here, the
    /// rest in the view on screen.
    pub fn on_cmd(&mut self, cmd: Cmd) {
        let action = match cmd {
            Cmd::Quit => Some(Action::Quit),
            Cmd::Help => Some(Action::Open(Open::Help)),
            Cmd::NextView => Some(Action::Show(self.view.step(true))),
            Cmd::PrevView => Some(Action::Show(self.view.step(false))),
            Cmd::Go(v) => Some(Action::Show(v)),
            Cmd::CommandLine => {
                self.dialogs.push(Box::new(PromptDialog::new(
                    PromptKind::Command,
                    ": command",
                    "",
                    self.commands.entries().to_vec(),
                )));
                None
            }
            Cmd::Search => {
                let view = self.views.get(self.view);
                match view.search_prompt() {
                    Some(label) => {
                        let text = view.search_text();
                        self.dialogs.push(Box::new(PromptDialog::new(
                            PromptKind::Search(self.view),
                            &format!("/ {label}"),
                            &text,
                            self.searches.entries().to_vec(),
                        )));
                    }
                    None => self.note(format!("nothing to search in {}", self.view.title())),
                }
                None
            }
            other => {
                let cx = Load {
                    db: self.store.db(),
                    now: self.clock.now_ms(),
                    checker: self.checker.as_ref(),
                };
                match self.views.get_mut(self.view).on_cmd(other, &cx) {
                    Ok(a) => a,
                    Err(e) => {
                        self.error(e.to_string());
                        None
                    }
                }
            }
        };
        if let Some(a) = action {
            self.act(a);
        }
    }

    /// Switch views, loading the new one.
    pub fn switch(&mut self, view: ViewId) {
        self.view = view;
        if let Err(e) = self.reload() {
            self.error(e.to_string());
        }
    }

    /// Carry out an action.
    pub fn act(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::Show(v) => self.switch(v),
            Action::Tell(v, msg) => {
                self.switch(v);
                let cx = Load {
                    db: self.store.db(),
                    now: self.clock.now_ms(),
                    checker: self.checker.as_ref(),
                };
                if let Err(e) = self.views.get_mut(v).on_msg(msg, &cx) {
                    self.error(e.to_string());
                }
            }
            Action::Note(m) => self.note(m),
            Action::Fail(m) => self.error(m),
            Action::Open(o) => match self.open(o) {
                Ok(Some(d)) => self.dialogs.push(d),
                Ok(None) => {}
                Err(e) => self.error(e.to_string()),
            },
            Action::Search(v, text) => {
                self.searches.push(&text);
                let cx = Load {
                    db: self.store.db(),
                    now: self.clock.now_ms(),
                    checker: self.checker.as_ref(),
                };
                match self.views.get_mut(v).search(&text, &cx) {
                    Ok(Some(a)) => self.act(a),
                    Ok(None) => {}
                    Err(e) => self.error(e),
                }
            }
            Action::Command(line) => {
                self.commands.push(&line);
                let sel = self.views.get(self.view).selection();
                match command::parse(&line, self.view, &sel) {
                    Ok(a) => self.act(a),
                    Err(e) => self.error(e),
                }
            }
            Action::Copy(text) => {
                let shown: String = text.lines().next().unwrap_or("").chars().take(60).collect();
                self.note(format!("copied to the clipboard: {shown}"));
                self.clipboard.push(text);
            }
            Action::Write(w) => self.ask(w),
            Action::Confirmed(w) => self.write(&w),
        }
    }

    /// Ask before a write (or do it at once when there is nothing to ask).
    fn ask(&mut self, w: Write) {
        if self.read_only {
            self.refuse(&effects::describe(&w));
            return;
        }
        let db = self.store.db();
        match effects::precheck(db, &w) {
            Ok(Some(refusal)) => return self.error(refusal),
            Ok(None) => {}
            Err(e) => return self.error(e.to_string()),
        }
        match effects::question(db, &w) {
            Ok(Some((title, lines))) => self.dialogs.push(Box::new(ConfirmDialog {
                title,
                lines,
                declined: format!("not done: {}", effects::describe(&w)),
                write: w,
            })),
            Ok(None) => self.write(&w),
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Do a write through the operator-actions module and say what it did,
    /// naming every id.
    fn write(&mut self, w: &Write) {
        if self.read_only {
            self.refuse(&effects::describe(w));
            return;
        }
        match effects::apply(&mut self.store, w) {
            Ok(report) => {
                if report.refused.is_empty() {
                    self.note(report.one_line());
                } else {
                    self.error(report.one_line());
                }
                if let Err(e) = self.reload() {
                    self.error(e.to_string());
                }
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Build the dialog a view asked for, loading what it shows.
    fn open(&self, o: Open) -> Result<Option<Box<dyn Dialog>>, StoreError> {
        let db = self.store.db();
        let now = self.clock.now_ms();
        let theme = &self.theme;
        Ok(Some(match o {
            Open::Help => Box::new(help::dialog(self.read_only, theme)),
            Open::Text { title, lines } => Box::new(PanelDialog::text(title, lines)),
            Open::Job(id) => {
                let Some(j) = db.job(id)? else {
                    return Ok(None);
                };
                let attempts = db.attempts(id)?;
                let link = match j.link_id {
                    Some(l) => db.link(l)?,
                    None => None,
                };
                Box::new(job::dialog(&j, &attempts, link.as_ref(), now, theme))
            }
            Open::Timeline(id) => {
                let Some(link) = db.link(id)? else {
                    return Ok(None);
                };
                let entries = db.audit_for_link(id, Window::last(TIMELINE_LIMIT))?;
                Box::new(timeline::dialog(&link, &entries, now, theme))
            }
            Open::Urls(id) => {
                let Some(link) = db.link(id)? else {
                    return Ok(None);
                };
                let portal = match &link.portal_id {
                    Some(p) => db.record(Side::Portal, p)?,
                    None => None,
                };
                let linear = match &link.linear_id {
                    Some(l) => db.record(Side::Linear, l)?,
                    None => None,
                };
                Box::new(urls::dialog(&link, portal.as_ref(), linear.as_ref(), theme))
            }
            Open::EditMapping => {
                let doc = db.active_mapping()?.map(|m| m.document).unwrap_or_default();
                Box::new(EditorDialog::new(EditPurpose::Mapping, &doc))
            }
            Open::EditMerged(id) => {
                let Some(c) = db.conflict(id)? else {
                    return Ok(None);
                };
                let start = match &c.portal {
                    crate::domain::FieldValue::Text(t) => t.clone(),
                    crate::domain::FieldValue::Set(s) => {
                        s.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                    crate::domain::FieldValue::Number(n) => n.to_string(),
                    crate::domain::FieldValue::Null => String::new(),
                };
                Box::new(EditorDialog::new(
                    EditPurpose::Merged {
                        conflict_id: id,
                        field: c.field,
                    },
                    &start,
                ))
            }
            Open::Picker {
                title,
                items,
                selected,
            } => Box::new(PickerDialog {
                title,
                items,
                sel: selected,
            }),
        }))
    }

    fn on_mouse(&mut self, m: MouseEvent) -> bool {
        let pos = Position::new(m.column, m.row);
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let down = m.kind == MouseEventKind::ScrollDown;
                if let Some(d) = self.dialogs.last_mut() {
                    d.scroll(down);
                } else {
                    self.on_cmd(if down { Cmd::Down } else { Cmd::Up });
                }
                true
            }
            MouseEventKind::Down(MouseButton::Left) if self.dialogs.is_empty() => {
                let hit = self
                    .hits
                    .iter()
                    .find(|(r, _)| r.contains(pos))
                    .map(|(_, h)| *h);
                match hit {
                    Some(Hit::Tab(v)) => self.switch(v),
                    Some(Hit::Row(i)) => self.views.get_mut(self.view).select_row(i),
                    Some(Hit::Key(cmd)) => self.on_cmd(cmd),
                    None => return false,
                }
                true
            }
            _ => false,
        }
    }

    /// Run a `:` command line as if typed.
    pub fn run_command(&mut self, line: &str) {
        self.act(Action::Command(line.to_string()));
    }
}
