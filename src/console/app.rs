//! Application state and key handling. Keys become [`Cmd`]s through the one
//! keymap; views answer a command by changing their own state or by returning
//! an [`Action`], the only way anything asks for a side effect. Actions that
//! change the store are refused in read-only mode and, when they touch more
//! than one row (or are irreversible), go through a confirm layer first.

use crossterm::event::{Event, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::clock::Clock;
use super::keymap::{self, Cmd, Ctx};
use super::layers::{Layer, PromptPurpose};
use super::mapping_check::{MappingChecker, default_checker};
use super::theme::Theme;
use super::views::{
    conflicts::ConflictsState, jobs::JobsState, links::LinksState, log::LogState,
    mappings::MappingsState, overview::OverviewState,
};
use crate::domain::Side;
use crate::health::{Health, assess};
use crate::ops::{conflicts::Choice, resume::Pause};
use crate::store::{JobFilter, Store, StoreError, Summary};

/// The six views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewId {
    /// Health at a glance.
    Overview,
    /// Conflicts waiting for a human.
    Conflicts,
    /// The job queue.
    Jobs,
    /// Linked records and their timelines.
    Links,
    /// Field mappings.
    Mappings,
    /// Engine events.
    Log,
}

impl ViewId {
    /// Tab order.
    pub const ALL: [ViewId; 6] = [
        ViewId::Overview,
        ViewId::Conflicts,
        ViewId::Jobs,
        ViewId::Links,
        ViewId::Mappings,
        ViewId::Log,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            ViewId::Overview => "Overview",
            ViewId::Conflicts => "Conflicts",
            ViewId::Jobs => "Jobs",
            ViewId::Links => "Links",
            ViewId::Mappings => "Mappings",
            ViewId::Log => "Log",
        }
    }

    fn index(self) -> usize {
        ViewId::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// Parse a view name or number from the command line.
    pub fn parse(s: &str) -> Option<ViewId> {
        let s = s.to_ascii_lowercase();
        ViewId::ALL.into_iter().enumerate().find_map(|(i, v)| {
            (s == (i + 1).to_string() || v.title().to_ascii_lowercase().starts_with(&s))
                .then_some(v)
        })
    }
}

/// A side effect a view or the command line asks for.
#[derive(Debug, Clone)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Show a view.
    SwitchView(ViewId),
    /// Tell the operator something.
    Message(String),
    /// Open a layer.
    Open(Box<Layer>),
    /// Requeue these jobs.
    RetryJobs(Vec<i64>),
    /// Requeue every failed/dead job matching the filter.
    RetryMatching(JobFilter),
    /// Cancel these jobs.
    CancelJobs(Vec<i64>),
    /// Decide these conflicts the same way.
    Resolve {
        /// Conflict ids.
        ids: Vec<i64>,
        /// The decision.
        choice: Choice,
    },
    /// Save "always resolve this field this way" as a new mapping version,
    /// and resolve these conflicts that way now.
    AlwaysResolve {
        /// Conflicts to resolve now.
        ids: Vec<i64>,
        /// The mapping field.
        field: String,
        /// The side that wins from now on.
        winner: Side,
    },
    /// Store a mapping document as a new active version.
    ApplyMapping {
        /// The TOML document.
        document: String,
        /// Why.
        note: String,
    },
    /// Make an earlier mapping version active.
    Rollback(i64),
    /// Lift a pause the engine raised.
    Resume(Pause),
}

impl Action {
    /// Whether this action writes to the store.
    pub fn is_mutating(&self) -> bool {
        matches!(
            self,
            Action::RetryJobs(_)
                | Action::RetryMatching(_)
                | Action::CancelJobs(_)
                | Action::Resolve { .. }
                | Action::AlwaysResolve { .. }
                | Action::ApplyMapping { .. }
                | Action::Rollback(_)
                | Action::Resume(_)
        )
    }
}

/// Something drawn that the mouse can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// A tab in the title bar.
    Tab(ViewId),
    /// A row of the current view's table (index into its loaded window).
    Row(usize),
    /// The Overview's open-conflicts count.
    GoConflicts,
    /// The Overview's failed-jobs count.
    GoFailedJobs,
}

/// A one-line message in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
}

/// Everything the console knows.
pub struct App {
    /// The open store.
    pub store: Store,
    /// `--read-only`: actions hidden and refused.
    pub read_only: bool,
    /// Where "now" comes from.
    pub clock: Clock,
    /// Styles.
    pub theme: Theme,
    /// A line shown in the title bar (the demo says what it is doing).
    pub banner: Option<String>,
    /// The current view.
    pub view: ViewId,
    /// Overview state.
    pub overview: OverviewState,
    /// Conflicts state.
    pub conflicts: ConflictsState,
    /// Jobs state.
    pub jobs: JobsState,
    /// Links state.
    pub links: LinksState,
    /// Mappings state.
    pub mappings: MappingsState,
    /// Log state.
    pub log: LogState,
    /// Dialog layers, top last.
    pub layers: Vec<Layer>,
    /// Status-bar message.
    pub message: Option<Message>,
    /// Latest counters.
    pub summary: Option<Summary>,
    /// Latest verdict.
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
            overview: OverviewState::default(),
            conflicts: ConflictsState::default(),
            jobs: JobsState::default(),
            links: LinksState::default(),
            mappings: MappingsState::default(),
            log: LogState::default(),
            layers: Vec::new(),
            message: None,
            summary: None,
            health: None,
            quit: false,
            hits: Vec::new(),
            checker: default_checker(),
            panic_armed: false,
            panic_key: false,
            data_version: 0,
        };
        app.data_version = app.store.data_version()?;
        app.reload()?;
        Ok(app)
    }

    /// Re-read the counters and the current view.
    pub fn reload(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let db = self.store.db();
        let mut summary = db.summary()?;
        crate::health::observe_store(self.store.path(), &mut summary, now);
        self.health = Some(assess(&summary, now));
        self.summary = Some(summary);
        match self.view {
            ViewId::Overview => self.overview.load(db, now)?,
            ViewId::Conflicts => self.conflicts.refresh(db)?,
            ViewId::Jobs => self.jobs.refresh(db)?,
            ViewId::Links => self.links.refresh(db)?,
            ViewId::Mappings => self.mappings.load(db)?,
            ViewId::Log => self.log.refresh(db)?,
        }
        Ok(())
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
        match self.layers.last() {
            Some(l) => l.contexts(),
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
                if let Some(layer) = self.layers.last_mut() {
                    layer.paste(&text);
                }
                true
            }
            _ => false,
        }
    }

    /// Handle a key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        self.message = None;
        if self.panic_key
            && key.code == crossterm::event::KeyCode::Char('!')
            && self.layers.is_empty()
        {
            self.panic_armed = true;
            return;
        }
        if let Some(mut layer) = self.layers.pop() {
            let ctxs = layer.contexts();
            let binding = keymap::lookup(&ctxs, &key);
            let outcome = layer.on_key(key, binding.map(|b| b.cmd), self);
            if !outcome.close {
                self.layers.push(layer);
            }
            if let Some(action) = outcome.action {
                self.submit(action);
            }
            return;
        }
        let ctxs = self.contexts();
        let Some(binding) = keymap::lookup(&ctxs, &key) else {
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

    /// Run a command in the current view.
    pub fn on_cmd(&mut self, cmd: Cmd) {
        let result = self.dispatch(cmd);
        match result {
            Ok(Some(action)) => self.submit(action),
            Ok(None) => {}
            Err(e) => self.error(e.to_string()),
        }
    }

    fn dispatch(&mut self, cmd: Cmd) -> Result<Option<Action>, StoreError> {
        match cmd {
            Cmd::Quit => return Ok(Some(Action::Quit)),
            Cmd::Help => return Ok(Some(Action::Open(Box::new(Layer::Help { scroll: 0 })))),
            Cmd::NextView => {
                let i = (self.view.index() + 1) % ViewId::ALL.len();
                return Ok(Some(Action::SwitchView(ViewId::ALL[i])));
            }
            Cmd::PrevView => {
                let i = (self.view.index() + ViewId::ALL.len() - 1) % ViewId::ALL.len();
                return Ok(Some(Action::SwitchView(ViewId::ALL[i])));
            }
            Cmd::Go(v) => return Ok(Some(Action::SwitchView(v))),
            Cmd::CommandLine => {
                return Ok(Some(Action::Open(Box::new(Layer::prompt(
                    PromptPurpose::Command,
                    "",
                )))));
            }
            Cmd::Filter if self.view != ViewId::Overview && self.view != ViewId::Mappings => {
                let current = self.filter_text();
                return Ok(Some(Action::Open(Box::new(Layer::prompt(
                    PromptPurpose::Filter(self.view),
                    &current,
                )))));
            }
            Cmd::GoConflicts if self.view == ViewId::Overview => {
                return Ok(Some(Action::SwitchView(ViewId::Conflicts)));
            }
            Cmd::GoFailedJobs if self.view == ViewId::Overview => {
                let filter = JobFilter {
                    status: Some(crate::domain::JobStatus::Failed),
                    error_class: None,
                };
                self.jobs.apply(filter, self.store.db())?;
                return Ok(Some(Action::SwitchView(ViewId::Jobs)));
            }
            _ => {}
        }
        let db = self.store.db();
        match self.view {
            ViewId::Overview => Ok(self.overview.on_cmd(cmd)),
            ViewId::Conflicts => self.conflicts.on_cmd(cmd, db),
            ViewId::Jobs => self.jobs.on_cmd(cmd, db),
            ViewId::Links => self.links.on_cmd(cmd, db),
            ViewId::Mappings => self.mappings.on_cmd(cmd, db, self.checker.as_ref()),
            ViewId::Log => self.log.on_cmd(cmd, db),
        }
    }

    fn filter_text(&self) -> String {
        match self.view {
            ViewId::Conflicts => self.conflicts.filter_text(),
            ViewId::Jobs => self.jobs.filter_text(),
            ViewId::Links => self.links.query.clone().unwrap_or_default(),
            ViewId::Log => self.log.level.as_str().to_string(),
            ViewId::Overview | ViewId::Mappings => String::new(),
        }
    }

    /// Apply a filter typed at the `/` prompt to a view.
    pub fn apply_filter(&mut self, view: ViewId, text: &str) {
        let db = self.store.db();
        let r = match view {
            ViewId::Conflicts => self.conflicts.set_filter(text, db),
            ViewId::Jobs => self.jobs.set_filter(text, db),
            ViewId::Links => self.links.set_query(text, db),
            ViewId::Log => self.log.set_filter(text, db),
            ViewId::Overview | ViewId::Mappings => Ok(()),
        };
        if let Err(e) = r {
            self.error(e.to_string());
        }
    }

    /// Switch views, loading the new one.
    pub fn switch(&mut self, view: ViewId) {
        self.view = view;
        if let Err(e) = self.reload() {
            self.error(e.to_string());
        }
    }

    /// Ask for an action: refused in read-only mode, confirmed first when it
    /// is bulk or irreversible, otherwise performed now.
    pub fn submit(&mut self, action: Action) {
        if action.is_mutating() && self.read_only {
            self.refuse(super::actions::describe(&action).as_str());
            return;
        }
        match super::actions::precheck(self, &action) {
            Ok(Some(refusal)) => {
                self.error(refusal);
                return;
            }
            Ok(None) => {}
            Err(e) => {
                self.error(e.to_string());
                return;
            }
        }
        match super::actions::confirm_prompt(self, &action) {
            Ok(Some(prompt)) => self.layers.push(Layer::Confirm { prompt, action }),
            Ok(None) => self.perform(action),
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Do an action now (after any confirmation).
    pub fn perform(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::SwitchView(v) => self.switch(v),
            Action::Message(m) => self.note(m),
            Action::Open(layer) => self.layers.push(*layer),
            other => match super::actions::apply(self, &other) {
                Some(Ok(report)) => {
                    if report.refused.is_empty() {
                        self.note(report.one_line());
                    } else {
                        self.error(report.one_line());
                    }
                    if let Err(e) = self.reload() {
                        self.error(e.to_string());
                    }
                }
                Some(Err(e)) => self.error(e.to_string()),
                None => {}
            },
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> bool {
        let pos = Position::new(m.column, m.row);
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let cmd = if m.kind == MouseEventKind::ScrollDown {
                    Cmd::Down
                } else {
                    Cmd::Up
                };
                if let Some(layer) = self.layers.last_mut() {
                    layer.scroll(cmd == Cmd::Down);
                } else {
                    self.on_cmd(cmd);
                }
                true
            }
            MouseEventKind::Down(MouseButton::Left) if self.layers.is_empty() => {
                let hit = self
                    .hits
                    .iter()
                    .find(|(r, _)| r.contains(pos))
                    .map(|(_, h)| *h);
                match hit {
                    Some(Hit::Tab(v)) => self.switch(v),
                    Some(Hit::Row(i)) => self.select_row(i),
                    Some(Hit::GoConflicts) => self.on_cmd(Cmd::GoConflicts),
                    Some(Hit::GoFailedJobs) => self.on_cmd(Cmd::GoFailedJobs),
                    None => return false,
                }
                true
            }
            _ => false,
        }
    }

    fn select_row(&mut self, i: usize) {
        match self.view {
            ViewId::Conflicts => self.conflicts.pager.select_index(i),
            ViewId::Jobs => self.jobs.pager.select_index(i),
            ViewId::Links => self.links.pager.select_index(i),
            ViewId::Log => self.log.pager.select_index(i),
            ViewId::Mappings => self.mappings.select(i),
            ViewId::Overview => {}
        }
    }

    /// Parse and run a `:` command line.
    pub fn run_command(&mut self, line: &str) {
        match super::command::parse(line, self) {
            Ok(action) => self.submit(action),
            Err(msg) => self.error(msg),
        }
    }
}
