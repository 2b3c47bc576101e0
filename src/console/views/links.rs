//! Links: every synced pair, named as everywhere else (Linear's key, the
//! post id — shortened to the tail that tells posts apart). `/` searches by
//! any id an operator has (`ENG-71`, a Linear issue id or its start, the
//! post id or its tail, either record's URL, `L12`) and by title words,
//! through the store's indexes; `n`/`N` step through the hits. Enter opens
//! the record's timeline from the audit log ("why is this value here?").

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};

use super::common::{HSCROLL_STEP, Spec, Text, paged_table, sort_picker, title};
use super::{Load, Paint, View};
use crate::console::clock::short_time;
use crate::console::pager::{Keyed, Pager, moves};
use crate::console::types::{Action, Cmd, Open, Selection, SortKey, ViewId, ViewMsg};
use crate::store::{Db, Link, LinkOrder, LinkQuery, LinkState, StoreError, Window};

impl Keyed for Link {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Links view state.
#[derive(Debug, Clone)]
pub struct LinksView {
    /// The search, if searching.
    pub query: Option<LinkQuery>,
    /// Order when not searching.
    pub sort: SortKey,
    /// Loaded window.
    pub pager: Pager<Link>,
    /// How far the title column is scrolled sideways.
    pub hscroll: usize,
    /// Rows per page at the last draw.
    pub page: usize,
}

impl Default for LinksView {
    fn default() -> Self {
        LinksView {
            query: None,
            sort: SortKey::Newest,
            pager: Pager::new(true),
            hscroll: 0,
            page: 10,
        }
    }
}

fn fetch(
    query: Option<LinkQuery>,
    sort: SortKey,
    db: Db<'_>,
) -> impl FnMut(Window) -> Result<Vec<Link>, StoreError> + '_ {
    move |w| match &query {
        None if sort == SortKey::Title => db.links_ordered(LinkOrder::Title, w),
        None => db.links(w),
        // Hits come newest first only; there is nothing "before" the top.
        Some(q) if w.descending => db.search_links(q, w.from, w.limit),
        Some(_) => Ok(Vec::new()),
    }
}

impl LinksView {
    fn reset(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        self.pager.desc = self.query.is_some() || self.sort == SortKey::Newest;
        let mut f = fetch(self.query.clone(), self.sort, db);
        self.pager.top(&mut f)
    }
}

impl View for LinksView {
    fn id(&self) -> ViewId {
        ViewId::Links
    }

    fn reload(&mut self, cx: &Load<'_>) -> Result<(), StoreError> {
        let mut f = fetch(self.query.clone(), self.sort, cx.db);
        self.pager.refresh(&mut f)
    }

    fn on_cmd(&mut self, cmd: Cmd, cx: &Load<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        let sel = self.pager.selected().cloned();
        let mut f = fetch(self.query.clone(), self.sort, cx.db);
        match cmd {
            _ if moves(cmd) => self.pager.step(cmd, page, &mut f)?,
            Cmd::Bottom if self.query.is_none() => {
                self.pager.bottom(&mut f)?;
                let links = cx.db.counts()?.links;
                self.pager.anchor_end(usize::try_from(links).unwrap_or(0));
            }
            Cmd::Left => self.hscroll = self.hscroll.saturating_sub(HSCROLL_STEP),
            Cmd::Right => self.hscroll += HSCROLL_STEP,
            Cmd::Open => return Ok(sel.map(|l| Action::Open(Open::Timeline(l.id)))),
            Cmd::Urls => return Ok(sel.map(|l| Action::Open(Open::Urls(l.id)))),
            Cmd::Copy => {
                return Ok(sel.map(|l| {
                    Action::Copy(
                        l.linear_key
                            .or(l.portal_id)
                            .unwrap_or_else(|| format!("L{}", l.id)),
                    )
                }));
            }
            Cmd::NextMatch | Cmd::PrevMatch => {
                if self.query.is_none() {
                    return Ok(Some(Action::Fail("nothing searched: press / first".into())));
                }
                let n = self.pager.rows.len();
                if n > 0 {
                    if cmd == Cmd::NextMatch {
                        self.pager.down(1, &mut f)?;
                    } else {
                        self.pager.up(1, &mut f)?;
                    }
                }
            }
            Cmd::Sort => {
                return Ok(Some(sort_picker(
                    ViewId::Links,
                    "links",
                    &[SortKey::Newest, SortKey::Oldest, SortKey::Title],
                    self.sort,
                )));
            }
            Cmd::Back if self.hscroll > 0 => self.hscroll = 0,
            Cmd::Back if self.query.is_some() => {
                self.query = None;
                self.reset(cx.db)?;
            }
            _ => {}
        }
        Ok(None)
    }

    fn on_msg(&mut self, msg: ViewMsg, cx: &Load<'_>) -> Result<(), StoreError> {
        if let ViewMsg::Sort(k) = msg {
            self.sort = k;
            self.query = None;
            self.reset(cx.db)?;
        }
        Ok(())
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>) {
        let (detail, total) = match &self.query {
            Some(q) => (format!("search \"{}\" · newest first ", q.text), None),
            None => (
                format!("{} ", self.sort.words()),
                cx.summary.map(|s| s.links),
            ),
        };
        let now = cx.now;
        let theme = *cx.theme;
        let find = self.query.as_ref().map(|q| q.text.clone());
        self.page = paged_table(
            f,
            area,
            Spec {
                title: title("Links", detail, &theme),
                total,
                header: &["link", "Linear", "post", "state", "title", "updated"],
                widths: &[
                    Constraint::Length(7),
                    Constraint::Length(10),
                    Constraint::Length(12),
                    Constraint::Length(8),
                    Constraint::Min(10),
                    Constraint::Length(12),
                ],
                wide: Some(4),
                hscroll: self.hscroll,
                find: find.as_deref(),
            },
            &mut self.pager,
            cx,
            |l| {
                vec![
                    Text::from(format!("L{}", l.id)),
                    Text::from(l.linear_name().unwrap_or("-").to_string()),
                    Text::from(l.short_portal_id().unwrap_or_else(|| "-".into())),
                    match l.state {
                        LinkState::Active => Text::from("active"),
                        other => Text::styled(other.as_str(), theme.warn),
                    },
                    Text::from(l.title.clone()),
                    Text::from(short_time(l.updated_at, now)),
                ]
            },
            |_| false,
        );
    }

    fn search_prompt(&self) -> Option<&'static str> {
        Some("search: ENG-71, issue or post id (or its start), URL, L12, title words")
    }

    fn search_text(&self) -> String {
        self.query
            .as_ref()
            .map(|q| q.text.clone())
            .unwrap_or_default()
    }

    fn search(&mut self, text: &str, cx: &Load<'_>) -> Result<Option<Action>, String> {
        self.query = LinkQuery::parse(text);
        self.reset(cx.db).map_err(|e| e.to_string())?;
        Ok(match &self.query {
            Some(q) if self.pager.rows.is_empty() => {
                Some(Action::Fail(format!("no link matches \"{}\"", q.text)))
            }
            _ => None,
        })
    }

    fn select_row(&mut self, i: usize) {
        self.pager.select_index(i);
    }

    fn selection(&self) -> Selection {
        Selection::Links(self.pager.selected().map(|l| l.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_named_by_key_and_short_post_id() {
        let l = Link {
            id: 3,
            portal_id: Some("5f3e2a1b0000000000000042".into()),
            linear_id: Some("uuid".into()),
            client_id: None,
            state: LinkState::Active,
            title: "Dark".into(),
            linear_key: Some("ENG-7".into()),
            base: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(l.short_portal_id().as_deref(), Some("…00000042"));
        assert_eq!(l.label(), "5f3e2a1b0000000000000042 ↔ ENG-7");
    }
}
