//! Log: a tail of engine events, newest first, from a minimum level chosen
//! in a list. The store keeps notable events so the console never reads
//! the daemon's log file (which may be elsewhere or rotated). Long messages
//! scroll sideways, and Enter shows one whole.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};

use super::common::{Finder, HSCROLL_STEP, Spec, Text, paged_table, sort_picker, title};
use super::{Load, Paint, View};
use crate::console::clock::short_time;
use crate::console::pager::{Keyed, Pager, moves};
use crate::console::types::{Action, Cmd, Open, PickItem, SortKey, ViewId, ViewMsg};
use crate::store::{Db, EventEntry, Level, StoreError, Window};

impl Keyed for EventEntry {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Log view state.
#[derive(Debug, Clone)]
pub struct LogView {
    /// Minimum level shown.
    pub level: Level,
    /// Loaded window.
    pub pager: Pager<EventEntry>,
    /// `/` text and matches.
    pub finder: Finder,
    /// How far the message column is scrolled sideways.
    pub hscroll: usize,
    /// Rows per page at the last draw.
    pub page: usize,
}

impl Default for LogView {
    fn default() -> Self {
        LogView {
            level: Level::Info,
            pager: Pager::new(true),
            finder: Finder::default(),
            hscroll: 0,
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

fn row_text(e: &EventEntry) -> String {
    format!("{} {} {}", e.level.as_str(), e.target, e.message)
}

const LEVELS: [Level; 4] = [Level::Error, Level::Warn, Level::Info, Level::Debug];

impl View for LogView {
    fn id(&self) -> ViewId {
        ViewId::Log
    }

    fn offers(&self, cmd: Cmd) -> bool {
        cmd != Cmd::Urls
    }

    fn reload(&mut self, cx: &Load<'_>) -> Result<(), StoreError> {
        let mut f = fetch(self.level, cx.db);
        // A tail: while the newest row is selected, new events come in on top.
        if self.pager.sel == 0 && self.pager.desc {
            self.pager.top(&mut f)
        } else {
            self.pager.refresh(&mut f)
        }
    }

    fn on_cmd(&mut self, cmd: Cmd, cx: &Load<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        let mut f = fetch(self.level, cx.db);
        match cmd {
            _ if moves(cmd) => self.pager.step(cmd, page, &mut f)?,
            Cmd::Bottom => self.pager.bottom(&mut f)?,
            Cmd::Left => self.hscroll = self.hscroll.saturating_sub(HSCROLL_STEP),
            Cmd::Right => self.hscroll += HSCROLL_STEP,
            Cmd::Open => {
                return Ok(self.pager.selected().map(|e| {
                    Action::Open(Open::Text {
                        title: format!("{} {} event", e.level.as_str(), e.target),
                        lines: vec![
                            format!("at      {}", short_time(e.at, cx.now)),
                            format!("level   {}", e.level.as_str()),
                            format!("target  {}", e.target),
                            String::new(),
                            e.message.clone(),
                        ],
                    })
                }));
            }
            Cmd::Copy => {
                return Ok(self
                    .pager
                    .selected()
                    .map(|e| Action::Copy(e.message.clone())));
            }
            Cmd::LevelFilter => {
                let items = LEVELS
                    .iter()
                    .map(|l| PickItem {
                        label: format!("{} and worse", l.as_str()),
                        detail: String::new(),
                        action: Action::Tell(ViewId::Log, ViewMsg::Level(*l)),
                    })
                    .collect();
                return Ok(Some(Action::Open(Open::Picker {
                    title: "Show events from level".into(),
                    items,
                    selected: LEVELS.iter().position(|l| *l == self.level).unwrap_or(0),
                })));
            }
            Cmd::Sort => {
                return Ok(Some(sort_picker(
                    ViewId::Log,
                    "events",
                    &[SortKey::Newest, SortKey::Oldest],
                    if self.pager.desc {
                        SortKey::Newest
                    } else {
                        SortKey::Oldest
                    },
                )));
            }
            Cmd::NextMatch | Cmd::PrevMatch => {
                if let Err(e) = self
                    .finder
                    .next(&mut self.pager, cmd == Cmd::NextMatch, row_text)
                {
                    return Ok(Some(Action::Fail(e)));
                }
            }
            Cmd::Back if self.finder.text.is_some() => self.finder.text = None,
            Cmd::Back if self.hscroll > 0 => self.hscroll = 0,
            _ => {}
        }
        Ok(None)
    }

    fn on_msg(&mut self, msg: ViewMsg, cx: &Load<'_>) -> Result<(), StoreError> {
        match msg {
            ViewMsg::Level(l) => self.level = l,
            ViewMsg::Sort(k) => self.pager.desc = k != SortKey::Oldest,
            _ => return Ok(()),
        }
        let mut f = fetch(self.level, cx.db);
        self.pager.top(&mut f)
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>) {
        let now = cx.now;
        let theme = *cx.theme;
        let mut detail = format!(
            "level ≥ {} · {}",
            self.level.as_str(),
            if self.pager.desc {
                "newest first"
            } else {
                "oldest first"
            }
        );
        if let Some(t) = &self.finder.text {
            detail.push_str(&format!(" · find \"{t}\""));
        }
        detail.push(' ');
        let find = self.finder.text.clone();
        self.page = paged_table(
            f,
            area,
            Spec {
                title: title("Log", detail, &theme),
                total: None,
                header: &["time", "level", "target", "message"],
                widths: &[
                    Constraint::Length(12),
                    Constraint::Length(5),
                    Constraint::Length(10),
                    Constraint::Min(10),
                ],
                wide: Some(3),
                hscroll: self.hscroll,
                find: find.as_deref(),
            },
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
                    Text::from(short_time(e.at, now)),
                    Text::styled(e.level.as_str(), style),
                    Text::from(e.target.clone()),
                    Text::from(e.message.clone()),
                ]
            },
            |_| false,
        );
    }

    fn search_prompt(&self) -> Option<&'static str> {
        Some("find in the log (level, target, message)")
    }

    fn search_text(&self) -> String {
        self.finder.text.clone().unwrap_or_default()
    }

    fn search(&mut self, text: &str, _cx: &Load<'_>) -> Result<Option<Action>, String> {
        self.finder.set(text, &mut self.pager, row_text)?;
        Ok(None)
    }

    fn select_row(&mut self, i: usize) {
        self.pager.select_index(i);
    }
}
