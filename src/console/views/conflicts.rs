//! Conflicts: fields both sides changed differently, oldest first, with
//! base / portal / Linear side by side — line numbers in a gutter and the
//! part that differs from the base highlighted. Decide one or a marked
//! selection (each decision asks first, saying what is written where),
//! edit a merged value, or save "always resolve this field this way" into
//! a new mapping version. Resolved conflicts stay viewable (`s`).

use std::collections::{BTreeSet, HashMap};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::common::{Finder, Spec, Text, cut, links_to_learn, paged_table, sort_picker, title};
use super::{Load, Paint, View};
use crate::console::clock::short_time;
use crate::console::pager::{Keyed, Pager, moves};
use crate::console::theme::Theme;
use crate::console::types::{
    Action, Cmd, Open, PickItem, Selection, SortKey, ViewId, ViewMsg, Write,
};
use crate::console::wrap::wrap;
use crate::domain::{ConflictReason, FieldValue, Side};
use crate::health::human_ms;
use crate::ops::conflicts::Choice;
use crate::store::{
    Conflict, ConflictFilter, ConflictStatus, Db, Link, Resolution, StoreError, Window,
};

impl Keyed for Conflict {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Conflicts view state.
#[derive(Debug, Clone)]
pub struct ConflictsView {
    /// Current filter (open by default).
    pub filter: ConflictFilter,
    /// Loaded window.
    pub pager: Pager<Conflict>,
    /// Conflicts marked for a bulk resolve.
    pub marked: BTreeSet<i64>,
    /// The links of loaded rows (for their names and titles).
    pub links: HashMap<i64, Link>,
    /// The selected conflict shown full-screen.
    pub detail: bool,
    /// `/` text and matches.
    pub finder: Finder,
    /// Rows per page at the last draw.
    pub page: usize,
}

impl Default for ConflictsView {
    fn default() -> Self {
        ConflictsView {
            filter: ConflictFilter {
                status: Some(ConflictStatus::Open),
                field: None,
            },
            pager: Pager::new(false),
            marked: BTreeSet::new(),
            links: HashMap::new(),
            detail: false,
            finder: Finder::default(),
            page: 10,
        }
    }
}

/// A field value as text: sets one name per line.
fn as_text(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(t) => t.clone(),
        FieldValue::Set(s) => s.iter().cloned().collect::<Vec<_>>().join("\n"),
        FieldValue::Number(n) => n.to_string(),
        FieldValue::Null => "(empty)".into(),
    }
}

/// The lines of one side with a line-number gutter, each line that differs
/// from the base marked `~` (`+` when the base has no such line) and the
/// changed middle of it highlighted.
pub fn side_lines(text: &str, base: Option<&str>, theme: &Theme) -> Vec<Line<'static>> {
    let base_lines: Vec<&str> = base.map(|b| b.lines().collect()).unwrap_or_default();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let old = base_lines.get(i).copied();
            let mark = match (base, old) {
                (None, _) => ' ',
                (Some(_), Some(o)) if o == line => ' ',
                (Some(_), Some(_)) => '~',
                (Some(_), None) => '+',
            };
            let gutter = Span::styled(format!("{:>2}{mark}", i + 1), theme.dim);
            let mut spans = vec![gutter];
            match (mark, old) {
                ('~', Some(o)) => {
                    let (pre, mid, post) = split_change(o, line);
                    spans.push(Span::raw(pre));
                    spans.push(Span::styled(mid, theme.changed));
                    spans.push(Span::raw(post));
                }
                ('+', _) => spans.push(Span::styled(line.to_string(), theme.changed)),
                _ => spans.push(Span::raw(line.to_string())),
            }
            Line::from(spans)
        })
        .collect()
}

/// `new` split into the prefix and suffix it shares with `old` and the
/// changed middle.
fn split_change(old: &str, new: &str) -> (String, String, String) {
    let o: Vec<char> = old.chars().collect();
    let n: Vec<char> = new.chars().collect();
    let pre = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
    let post = o[pre..]
        .iter()
        .rev()
        .zip(n[pre..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let mid_end = n.len() - post;
    (
        n[..pre].iter().collect(),
        n[pre..mid_end].iter().collect(),
        n[mid_end..].iter().collect(),
    )
}

fn fetch(
    filter: ConflictFilter,
    db: Db<'_>,
) -> impl FnMut(Window) -> Result<Vec<Conflict>, StoreError> + '_ {
    move |w| db.conflicts(&filter, w)
}

impl ConflictsView {
    fn fill_links(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        let shown = self.pager.rows.iter().map(|c| c.link_id).collect();
        let (_, found) = links_to_learn(db, &mut self.links, shown)?;
        self.links.extend(found.into_iter().map(|l| (l.id, l)));
        Ok(())
    }

    /// The conflicts an action applies to: the marked ones, or the selected.
    pub fn targets(&self) -> Vec<i64> {
        if self.marked.is_empty() {
            self.pager
                .selected()
                .map(|c| vec![c.id])
                .unwrap_or_default()
        } else {
            self.marked.iter().copied().collect()
        }
    }

    fn record_name(&self, c: &Conflict) -> String {
        self.links.get(&c.link_id).map_or_else(
            || format!("link {}", c.link_id),
            |l| format!("{} {}", l.linear_name().unwrap_or("…"), l.title),
        )
    }

    fn row_text(&self, c: &Conflict) -> String {
        format!(
            "#{} {} {} {} {}",
            c.id,
            c.field,
            self.record_name(c),
            as_text(&c.portal),
            as_text(&c.linear)
        )
    }

    fn reset(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        self.marked.clear();
        let mut f = fetch(self.filter.clone(), db);
        self.pager.top(&mut f)?;
        self.fill_links(db)
    }

    fn status_words(&self) -> &'static str {
        match self.filter.status {
            Some(ConflictStatus::Open) => "open",
            Some(ConflictStatus::Resolved) => "resolved",
            None => "all",
        }
    }

    fn resolve(&self, choice: Choice) -> Option<Action> {
        let ids = self.targets();
        (!ids.is_empty()).then_some(Action::Write(Write::Resolve { ids, choice }))
    }

    fn draw_sides(&self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>) {
        let theme = cx.theme;
        let Some(c) = self.pager.selected() else {
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme.dim);
            f.render_widget(
                Paragraph::new(Span::styled(
                    format!("no {} conflicts", self.status_words()),
                    theme.dim,
                ))
                .block(block),
                area,
            );
            return;
        };
        let name = self
            .links
            .get(&c.link_id)
            .map_or_else(|| format!("link {}", c.link_id), Link::label);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.dim)
            .title(title(&c.field, format!("#{} · {} ", c.id, name), theme));
        let inner = block.inner(area);
        f.render_widget(block, area);
        // What the columns do not say: why this is a conflict when it is
        // more than both sides changing (a value the other side refused,
        // one overwritten), and how it was decided.
        let mut notes = Vec::new();
        if c.kind != ConflictReason::BothChanged {
            notes.push(Line::from(vec![
                Span::styled(format!("{}: ", c.kind.label()), theme.header),
                Span::raw(c.note.clone().unwrap_or_default()),
            ]));
        }
        if c.status == ConflictStatus::Resolved {
            let how = match &c.resolution {
                Some(Resolution::Value(v)) => format!("merged value {}", v.display_short(40)),
                Some(r) => format!("took {}", r.as_str()),
                None => "?".into(),
            };
            let applied = c.applied_at.map_or("not written yet".to_string(), |t| {
                format!("written {}", short_time(t, cx.now))
            });
            notes.push(Line::from(Span::styled(
                format!(
                    "resolved {} by {}: {how} · {applied}",
                    c.resolved_at.map_or("-".into(), |t| short_time(t, cx.now)),
                    c.resolved_by.map_or("?", |a| a.as_str()),
                ),
                theme.ok,
            )));
        }
        let notes = wrap(&notes, inner.width as usize, 2);
        let [head, body] =
            Layout::vertical([Constraint::Length(notes.len() as u16), Constraint::Min(0)])
                .areas(inner);
        f.render_widget(Paragraph::new(notes), head);
        let cols = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(body);
        let base = as_text(&c.base);
        let sides = [
            ("base", &c.base, None, false),
            ("portal", &c.portal, c.portal_changed_at, true),
            ("Linear", &c.linear, c.linear_changed_at, true),
        ];
        for ((label, value, at, diff), col) in sides.into_iter().zip(cols.iter()) {
            let when = at.map_or("agreed".to_string(), |t| {
                format!("changed {}", short_time(t, cx.now))
            });
            let mut lines = vec![Line::from(vec![
                Span::styled(label.to_string(), theme.header),
                Span::styled(format!(" {when}"), theme.dim),
            ])];
            let text = as_text(value);
            lines.extend(side_lines(&text, diff.then_some(base.as_str()), theme));
            f.render_widget(Paragraph::new(wrap(&lines, col.width as usize, 3)), *col);
        }
    }

    fn picker_status(&self, db: Db<'_>) -> Result<Action, StoreError> {
        let open = db.counts()?.open_conflicts;
        let items = [
            (Some(ConflictStatus::Open), "open", format!("{open}")),
            (Some(ConflictStatus::Resolved), "resolved", String::new()),
            (None, "all", String::new()),
        ]
        .into_iter()
        .map(|(s, label, detail)| PickItem {
            label: label.into(),
            detail,
            action: Action::Tell(ViewId::Conflicts, ViewMsg::ConflictStatus(s)),
        })
        .collect::<Vec<_>>();
        let selected = items
            .iter()
            .position(|i| {
                i.action
                    == Action::Tell(
                        ViewId::Conflicts,
                        ViewMsg::ConflictStatus(self.filter.status),
                    )
            })
            .unwrap_or(0);
        Ok(Action::Open(Open::Picker {
            title: "Show conflicts".into(),
            items,
            selected,
        }))
    }
}

impl View for ConflictsView {
    fn id(&self) -> ViewId {
        ViewId::Conflicts
    }

    fn reload(&mut self, cx: &Load<'_>) -> Result<(), StoreError> {
        let mut f = fetch(self.filter.clone(), cx.db);
        self.pager.refresh(&mut f)?;
        let shown: BTreeSet<i64> = self
            .pager
            .rows
            .iter()
            .filter(|c| c.status == ConflictStatus::Open)
            .map(|c| c.id)
            .collect();
        self.marked.retain(|id| shown.contains(id));
        self.fill_links(cx.db)
    }

    fn on_cmd(&mut self, cmd: Cmd, cx: &Load<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        let mut f = fetch(self.filter.clone(), cx.db);
        match cmd {
            _ if moves(cmd) => self.pager.step(cmd, page, &mut f)?,
            Cmd::Bottom => {
                self.pager.bottom(&mut f)?;
                if self.filter.status == Some(ConflictStatus::Open) {
                    let open = cx.db.counts()?.open_conflicts;
                    self.pager.anchor_end(usize::try_from(open).unwrap_or(0));
                }
            }
            Cmd::Open => self.detail = !self.detail,
            Cmd::Back if self.detail => self.detail = false,
            Cmd::Back if !self.marked.is_empty() => self.marked.clear(),
            Cmd::Back if self.finder.text.is_some() => self.finder.text = None,
            Cmd::ToggleMark => {
                if let Some(c) = self.pager.selected()
                    && c.status == ConflictStatus::Open
                {
                    let id = c.id;
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.pager.down(1, &mut f)?;
                }
            }
            Cmd::TakePortal => return Ok(self.resolve(Choice::Portal)),
            Cmd::TakeLinear => return Ok(self.resolve(Choice::Linear)),
            Cmd::KeepBase => return Ok(self.resolve(Choice::Base)),
            Cmd::EditMerged => {
                return Ok(self
                    .pager
                    .selected()
                    .map(|c| Action::Open(Open::EditMerged(c.id))));
            }
            Cmd::Always => {
                if let Some(c) = self.pager.selected() {
                    let ids = self.targets();
                    let items = [(Side::Portal, "the portal"), (Side::Linear, "Linear")]
                        .into_iter()
                        .map(|(winner, who)| PickItem {
                            label: format!("always take {who}'s value"),
                            detail: format!("resolves {} now", ids.len()),
                            action: Action::Write(Write::AlwaysResolve {
                                ids: ids.clone(),
                                field: c.field.clone(),
                                winner,
                            }),
                        })
                        .collect();
                    return Ok(Some(Action::Open(Open::Picker {
                        title: format!("From now on, for `{}` (a new mapping version)", c.field),
                        items,
                        selected: 0,
                    })));
                }
            }
            Cmd::ConflictStatus => return Ok(Some(self.picker_status(cx.db)?)),
            Cmd::Sort => {
                return Ok(Some(sort_picker(
                    ViewId::Conflicts,
                    "conflicts",
                    &[SortKey::Oldest, SortKey::Newest],
                    if self.pager.desc {
                        SortKey::Newest
                    } else {
                        SortKey::Oldest
                    },
                )));
            }
            Cmd::Copy => {
                return Ok(self
                    .pager
                    .selected()
                    .map(|c| Action::Copy(c.id.to_string())));
            }
            Cmd::Urls => {
                return Ok(self
                    .pager
                    .selected()
                    .map(|c| Action::Open(Open::Urls(c.link_id))));
            }
            Cmd::NextMatch | Cmd::PrevMatch => {
                let me = self.clone();
                if let Err(e) = self
                    .finder
                    .next(&mut self.pager, cmd == Cmd::NextMatch, |c| me.row_text(c))
                {
                    return Ok(Some(Action::Fail(e)));
                }
            }
            _ => {}
        }
        self.fill_links(cx.db)?;
        Ok(None)
    }

    fn on_msg(&mut self, msg: ViewMsg, cx: &Load<'_>) -> Result<(), StoreError> {
        match msg {
            ViewMsg::ConflictStatus(s) => {
                self.filter.status = s;
                self.detail = false;
                self.reset(cx.db)
            }
            ViewMsg::Sort(k) => {
                self.pager.desc = k == SortKey::Newest;
                self.reset(cx.db)
            }
            _ => Ok(()),
        }
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>) {
        if self.detail {
            self.draw_sides(f, area, cx);
            return;
        }
        let (list, detail) = if area.width >= 120 {
            let [a, b] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(area);
            (a, b)
        } else {
            let [a, b] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(area);
            (a, b)
        };
        let mut info = format!(
            "{} · {}",
            self.status_words(),
            if self.pager.desc {
                "newest first"
            } else {
                "oldest first"
            }
        );
        if !self.marked.is_empty() {
            info.push_str(&format!(" · {} marked", self.marked.len()));
        }
        if let Some(t) = &self.finder.text {
            info.push_str(&format!(" · find \"{t}\""));
        }
        info.push(' ');
        let total = (self.filter.status == Some(ConflictStatus::Open))
            .then(|| cx.summary.map(|s| s.open_conflicts))
            .flatten();
        let now = cx.now;
        let me = &*self;
        let names: HashMap<i64, String> = me
            .pager
            .rows
            .iter()
            .map(|c| (c.id, me.record_name(c)))
            .collect();
        let marked = self.marked.clone();
        let find = self.finder.text.clone();
        let theme = *cx.theme;
        self.page = paged_table(
            f,
            list,
            Spec {
                title: title("Conflicts", info, &theme),
                total,
                header: &["", "id", "field", "record", "status", "age"],
                widths: &[
                    Constraint::Length(1),
                    Constraint::Length(6),
                    Constraint::Length(11),
                    Constraint::Min(10),
                    Constraint::Length(13),
                    Constraint::Length(7),
                ],
                wide: Some(3),
                hscroll: 0,
                find: find.as_deref(),
            },
            &mut self.pager,
            cx,
            |c| {
                vec![
                    Text::from(if marked.contains(&c.id) { "*" } else { " " }),
                    Text::from(format!("#{}", c.id)),
                    Text::from(cut(&c.field, 11)),
                    Text::from(names.get(&c.id).cloned().unwrap_or_default()),
                    match c.status {
                        ConflictStatus::Open if c.kind != ConflictReason::BothChanged => {
                            Text::styled(c.kind.label(), theme.error)
                        }
                        ConflictStatus::Open => Text::styled("open", theme.warn),
                        ConflictStatus::Resolved => Text::styled("resolved", theme.ok),
                    },
                    Text::from(human_ms(now - c.created_at)),
                ]
            },
            |c| marked.contains(&c.id),
        );
        self.draw_sides(f, detail, cx);
    }

    fn search_prompt(&self) -> Option<&'static str> {
        Some("find in conflicts (field, record, values)")
    }

    fn search_text(&self) -> String {
        self.finder.text.clone().unwrap_or_default()
    }

    fn search(&mut self, text: &str, cx: &Load<'_>) -> Result<Option<Action>, String> {
        let me = self.clone();
        self.finder.set(text, &mut self.pager, |c| me.row_text(c))?;
        self.fill_links(cx.db).map_err(|e| e.to_string())?;
        Ok(None)
    }

    fn select_row(&mut self, i: usize) {
        self.pager.select_index(i);
    }

    fn selection(&self) -> Selection {
        Selection::Conflicts(self.targets())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_what_differs_from_the_base() {
        let theme = Theme::mono();
        let lines = side_lines(
            "Please add dark mode.\nAlso for emails.",
            Some("Please add dark mode."),
            &theme,
        );
        let text = |l: &Line<'_>| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        };
        assert_eq!(text(&lines[0]), " 1 Please add dark mode.");
        assert_eq!(text(&lines[1]), " 2+Also for emails.");
        assert_eq!(
            split_change("Dark mode", "Dark mode for the dashboard"),
            (
                "Dark mode".into(),
                " for the dashboard".into(),
                String::new()
            )
        );
        assert_eq!(
            split_change("Backlog", "Todo"),
            (String::new(), "Todo".into(), String::new())
        );
    }
}
