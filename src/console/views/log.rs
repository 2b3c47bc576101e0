//! Log: a tail of engine events, newest first, filtered by minimum level.
//! The store keeps notable events so the console never reads the daemon's log
//! file (which may be elsewhere or rotated).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::Cell;

use super::common::{DrawCtx, paged_table, title};
use crate::console::app::Action;
use crate::console::clock::short_time;
use crate::console::keymap::Cmd;
use crate::console::pager::{Keyed, Pager};
use crate::store::{Db, EventEntry, Level, StoreError, Window};

impl Keyed for EventEntry {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Log view state.
#[derive(Debug, Clone)]
pub struct LogState {
    /// Minimum level shown.
    pub level: Level,
    /// Loaded window.
    pub pager: Pager<EventEntry>,
    /// Rows per page at the last draw.
    pub page: usize,
}

impl Default for LogState {
    fn default() -> Self {
        LogState {
            level: Level::Info,
            pager: Pager::new(true),
            page: 10,
        }
    }
}

fn fetch(
    level: Level,
    db: Db<'_>,
) -> impl FnMut(Window) -> Result<Vec<EventEntry>, StoreError> + '_ {
    move |w| db.events(level, w)
}

impl LogState {
    /// Re-read the loaded window (a tail: new events appear on top).
    pub fn refresh(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        let mut f = fetch(self.level, db);
        if self.pager.sel == 0 {
            self.pager.top(&mut f)
        } else {
            self.pager.refresh(&mut f)
        }
    }

    /// Set the minimum level by name.
    pub fn set_filter(&mut self, text: &str, db: Db<'_>) -> Result<(), String> {
        let t = text.trim();
        self.level = if t.is_empty() {
            Level::Debug
        } else {
            t.parse()
                .map_err(|e: crate::domain::UnknownName| e.to_string())?
        };
        let mut f = fetch(self.level, db);
        self.pager.top(&mut f).map_err(|e| e.to_string())
    }

    /// Answer a command.
    pub fn on_cmd(&mut self, cmd: Cmd, db: Db<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        if cmd == Cmd::CycleLevel {
            self.level = match self.level {
                Level::Debug => Level::Info,
                Level::Info => Level::Warn,
                Level::Warn => Level::Error,
                Level::Error => Level::Debug,
            };
            let mut f = fetch(self.level, db);
            self.pager.top(&mut f)?;
            return Ok(None);
        }
        let mut f = fetch(self.level, db);
        match cmd {
            Cmd::Down => self.pager.down(1, &mut f)?,
            Cmd::Up => self.pager.up(1, &mut f)?,
            Cmd::PageDown => self.pager.down(page, &mut f)?,
            Cmd::PageUp => self.pager.up(page, &mut f)?,
            Cmd::Top => self.pager.top(&mut f)?,
            Cmd::Bottom => self.pager.bottom(&mut f)?,
            _ => {}
        }
        Ok(None)
    }

    /// Draw the tail.
    pub fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut DrawCtx<'_>) {
        let now = cx.now;
        let theme = *cx.theme;
        self.page = paged_table(
            f,
            area,
            title(
                "Log",
                format!("level ≥ {} · newest first", self.level.as_str()),
                cx.theme,
            ),
            &["time", "level", "target", "message"],
            &[
                Constraint::Length(11),
                Constraint::Length(5),
                Constraint::Length(10),
                Constraint::Min(10),
            ],
            &mut self.pager,
            cx,
            |e| {
                let style = match e.level {
                    Level::Error => theme.error,
                    Level::Warn => theme.warn,
                    Level::Info => theme.text,
                    Level::Debug => theme.dim,
                };
                vec![
                    Cell::from(short_time(e.at, now)),
                    Cell::from(e.level.as_str()).style(style),
                    Cell::from(e.target.clone()),
                    Cell::from(e.message.clone()),
                ]
            },
            |_| false,
        );
    }
}
