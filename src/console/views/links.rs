//! Links: every synced pair, newest first, searchable by title or by any id;
//! Enter opens the record's timeline from the audit log — every change, who
//! made it and why ("why is this value here?").

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::Cell;

use super::common::{DrawCtx, cut, paged_table, title};
use crate::console::app::Action;
use crate::console::clock::short_time;
use crate::console::keymap::Cmd;
use crate::console::layers::Layer;
use crate::console::pager::{Keyed, Pager};
use crate::store::{Db, Link, StoreError, Summary, Window};

/// Most timeline entries loaded for one record.
pub const TIMELINE_LIMIT: usize = 500;

impl Keyed for Link {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Links view state.
#[derive(Debug, Clone)]
pub struct LinksState {
    /// Search text, if searching.
    pub query: Option<String>,
    /// Loaded window.
    pub pager: Pager<Link>,
    /// Rows per page at the last draw.
    pub page: usize,
}

impl Default for LinksState {
    fn default() -> Self {
        LinksState {
            query: None,
            pager: Pager::new(true),
            page: 10,
        }
    }
}

fn fetch(
    query: Option<String>,
    db: Db<'_>,
) -> impl FnMut(Window) -> Result<Vec<Link>, StoreError> + '_ {
    move |w| match &query {
        None => db.links(w),
        // Search pages newest first only; there is nothing "before" the top.
        Some(q) if w.descending => db.search_links(q, w.from, w.limit),
        Some(_) => Ok(Vec::new()),
    }
}

impl LinksState {
    /// Re-read the loaded window.
    pub fn refresh(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        let mut f = fetch(self.query.clone(), db);
        self.pager.refresh(&mut f)
    }

    /// Search (empty text shows everything).
    pub fn set_query(&mut self, text: &str, db: Db<'_>) -> Result<(), String> {
        let t = text.trim();
        self.query = (!t.is_empty()).then(|| t.to_string());
        let mut f = fetch(self.query.clone(), db);
        self.pager.top(&mut f).map_err(|e| e.to_string())
    }

    /// Answer a command.
    pub fn on_cmd(&mut self, cmd: Cmd, db: Db<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        let mut f = fetch(self.query.clone(), db);
        match cmd {
            Cmd::Down => self.pager.down(1, &mut f)?,
            Cmd::Up => self.pager.up(1, &mut f)?,
            Cmd::PageDown => self.pager.down(page, &mut f)?,
            Cmd::PageUp => self.pager.up(page, &mut f)?,
            Cmd::Top => self.pager.top(&mut f)?,
            Cmd::Bottom if self.query.is_none() => self.pager.bottom(&mut f)?,
            Cmd::Open => {
                if let Some(link) = self.pager.selected().cloned() {
                    let entries = db.audit_for_link(link.id, Window::last(TIMELINE_LIMIT))?;
                    return Ok(Some(Action::Open(Box::new(Layer::Timeline {
                        link,
                        entries,
                        scroll: 0,
                    }))));
                }
            }
            Cmd::Back if self.query.is_some() => {
                self.query = None;
                let mut f = fetch(self.query.clone(), db);
                self.pager.top(&mut f)?;
            }
            _ => {}
        }
        Ok(None)
    }

    /// Draw the table.
    pub fn draw(
        &mut self,
        f: &mut Frame<'_>,
        area: Rect,
        summary: Option<&Summary>,
        cx: &mut DrawCtx<'_>,
    ) {
        let detail = match &self.query {
            Some(q) => format!("search \"{q}\" · newest first"),
            None => format!("{} links · newest first", summary.map_or(0, |s| s.links)),
        };
        let now = cx.now;
        self.page = paged_table(
            f,
            area,
            title("Links", detail, cx.theme),
            &["id", "portal", "linear", "state", "title", "updated"],
            &[
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(12),
                Constraint::Length(8),
                Constraint::Min(10),
                Constraint::Length(11),
            ],
            &mut self.pager,
            cx,
            |l| {
                vec![
                    Cell::from(format!("L{}", l.id)),
                    Cell::from(cut(l.portal_id.as_deref().unwrap_or("-"), 12)),
                    Cell::from(cut(l.linear_id.as_deref().unwrap_or("-"), 12)),
                    Cell::from(l.state.as_str()),
                    Cell::from(cut(&l.title, 80)),
                    Cell::from(short_time(l.updated_at, now)),
                ]
            },
            |_| false,
        );
    }
}
