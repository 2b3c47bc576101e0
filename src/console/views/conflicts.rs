//! Conflicts: the queue of fields both sides changed differently, oldest
//! first, with base / portal / Linear side by side. Decide one or a marked
//! selection at once; edit a merged value; or save "always resolve this field
//! this way" into a new mapping version.

use std::collections::{BTreeSet, HashMap};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Wrap};

use super::common::{DrawCtx, cut, paged_table, title};
use crate::console::app::Action;
use crate::console::clock::short_time;
use crate::console::keymap::Cmd;
use crate::console::layers::{EditPurpose, Layer};
use crate::console::pager::{Keyed, Pager};
use crate::domain::{ConflictReason, FieldValue, Side};
use crate::health::human_ms;
use crate::ops::conflicts::Choice;
use crate::store::{Conflict, ConflictFilter, ConflictStatus, Db, StoreError, Summary};

impl Keyed for Conflict {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Conflicts view state.
#[derive(Debug, Clone)]
pub struct ConflictsState {
    /// Current filter (open only, optionally one field).
    pub filter: ConflictFilter,
    /// Loaded window.
    pub pager: Pager<Conflict>,
    /// Conflicts marked for a bulk resolve.
    pub marked: BTreeSet<i64>,
    /// Titles of the links of loaded rows.
    pub titles: HashMap<i64, String>,
    /// Detail shown full-screen.
    pub detail: bool,
    /// Rows per page at the last draw.
    pub page: usize,
}

impl Default for ConflictsState {
    fn default() -> Self {
        ConflictsState {
            filter: ConflictFilter {
                status: Some(ConflictStatus::Open),
                field: None,
            },
            pager: Pager::new(false),
            marked: BTreeSet::new(),
            titles: HashMap::new(),
            detail: false,
            page: 10,
        }
    }
}

impl ConflictsState {
    fn fetch(
        filter: ConflictFilter,
        db: Db<'_>,
    ) -> impl FnMut(crate::store::Window) -> Result<Vec<Conflict>, StoreError> + '_ {
        move |w| db.conflicts(&filter, w)
    }

    fn fill_titles(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        self.titles
            .retain(|k, _| self.pager.rows.iter().any(|c| c.link_id == *k));
        for c in &self.pager.rows {
            if let std::collections::hash_map::Entry::Vacant(e) = self.titles.entry(c.link_id) {
                e.insert(db.link(c.link_id)?.map(|l| l.title).unwrap_or_default());
            }
        }
        Ok(())
    }

    /// Re-read the loaded window; resolved conflicts drop out of the queue.
    pub fn refresh(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        let mut f = Self::fetch(self.filter.clone(), db);
        self.pager.refresh(&mut f)?;
        let open: BTreeSet<i64> = self.pager.rows.iter().map(|c| c.id).collect();
        self.marked.retain(|id| open.contains(id));
        self.fill_titles(db)
    }

    /// Filter by field name ("" for all).
    pub fn set_filter(&mut self, text: &str, db: Db<'_>) -> Result<(), String> {
        let t = text.trim();
        self.filter.field = (!t.is_empty()).then(|| t.to_string());
        self.marked.clear();
        let mut f = Self::fetch(self.filter.clone(), db);
        self.pager.top(&mut f).map_err(|e| e.to_string())?;
        self.fill_titles(db).map_err(|e| e.to_string())
    }

    /// The filter as prompt text.
    pub fn filter_text(&self) -> String {
        self.filter.field.clone().unwrap_or_default()
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

    /// Answer a command.
    pub fn on_cmd(&mut self, cmd: Cmd, db: Db<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        let mut f = Self::fetch(self.filter.clone(), db);
        let resolve = |choice: Choice, ids: Vec<i64>| {
            (!ids.is_empty()).then_some(Action::Resolve { ids, choice })
        };
        match cmd {
            Cmd::Down => self.pager.down(1, &mut f)?,
            Cmd::Up => self.pager.up(1, &mut f)?,
            Cmd::PageDown => self.pager.down(page, &mut f)?,
            Cmd::PageUp => self.pager.up(page, &mut f)?,
            Cmd::Top => self.pager.top(&mut f)?,
            Cmd::Bottom => self.pager.bottom(&mut f)?,
            Cmd::Open => self.detail = true,
            Cmd::Back if self.detail => self.detail = false,
            Cmd::Back if !self.marked.is_empty() => self.marked.clear(),
            Cmd::Back if self.filter.field.is_some() => {
                self.filter.field = None;
                let mut f = Self::fetch(self.filter.clone(), db);
                self.pager.top(&mut f)?;
            }
            Cmd::ToggleSelect => {
                if let Some(id) = self.pager.selected().map(|c| c.id) {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.pager.down(1, &mut f)?;
                }
            }
            Cmd::TakePortal => return Ok(resolve(Choice::Portal, self.targets())),
            Cmd::TakeLinear => return Ok(resolve(Choice::Linear, self.targets())),
            Cmd::KeepBase => return Ok(resolve(Choice::Base, self.targets())),
            Cmd::EditMerged => {
                if let Some(c) = self.pager.selected() {
                    let start = match &c.portal {
                        FieldValue::Text(t) => t.clone(),
                        FieldValue::Set(s) => s.iter().cloned().collect::<Vec<_>>().join(", "),
                        FieldValue::Number(n) => n.to_string(),
                        FieldValue::Null => String::new(),
                    };
                    return Ok(Some(Action::Open(Box::new(Layer::editor(
                        EditPurpose::Merged {
                            conflict_id: c.id,
                            field: c.field.clone(),
                        },
                        &start,
                    )))));
                }
            }
            Cmd::AlwaysPortal | Cmd::AlwaysLinear => {
                if let Some(c) = self.pager.selected() {
                    let winner = if cmd == Cmd::AlwaysPortal {
                        Side::Portal
                    } else {
                        Side::Linear
                    };
                    return Ok(Some(Action::AlwaysResolve {
                        ids: self.targets(),
                        field: c.field.clone(),
                        winner,
                    }));
                }
            }
            _ => {}
        }
        self.fill_titles(db)?;
        Ok(None)
    }

    /// Draw the queue and the selected conflict's sides.
    pub fn draw(
        &mut self,
        f: &mut Frame<'_>,
        area: Rect,
        summary: Option<&Summary>,
        cx: &mut DrawCtx<'_>,
    ) {
        if self.detail {
            self.draw_detail(f, area, cx);
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
        let open = summary.map_or(0, |s| s.open_conflicts);
        let mut info = format!("{open} open, oldest first");
        if let Some(field) = &self.filter.field {
            info.push_str(&format!(" · field={field}"));
        }
        if !self.marked.is_empty() {
            info.push_str(&format!(" · {} marked", self.marked.len()));
        }
        info.push(' ');
        let now = cx.now;
        let titles = &self.titles;
        let marked = &self.marked;
        self.page = paged_table(
            f,
            list,
            title("Conflicts", info, cx.theme),
            &["", "id", "field", "record", "age"],
            &[
                Constraint::Length(1),
                Constraint::Length(7),
                Constraint::Length(11),
                Constraint::Min(10),
                Constraint::Length(7),
            ],
            &mut self.pager,
            cx,
            |c| {
                vec![
                    Cell::from(if marked.contains(&c.id) { "*" } else { " " }),
                    Cell::from(format!("#{}", c.id)),
                    Cell::from(cut(&c.field, 11)),
                    Cell::from(cut(titles.get(&c.link_id).map_or("", String::as_str), 40)),
                    Cell::from(human_ms(now - c.created_at)),
                ]
            },
            |c| marked.contains(&c.id),
        );
        self.draw_detail(f, detail, cx);
    }

    fn draw_detail(&self, f: &mut Frame<'_>, area: Rect, cx: &mut DrawCtx<'_>) {
        let Some(c) = self.pager.selected() else {
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(cx.theme.dim);
            f.render_widget(
                Paragraph::new(Span::styled("no open conflicts", cx.theme.dim)).block(block),
                area,
            );
            return;
        };
        let name = self.titles.get(&c.link_id).cloned().unwrap_or_default();
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(cx.theme.dim)
            .title(title(
                &c.field,
                format!("#{} · L{} {}", c.id, c.link_id, cut(&name, 40)),
                cx.theme,
            ));
        let mut inner = block.inner(area);
        f.render_widget(block, area);
        if c.kind != ConflictReason::BothChanged {
            // A refused ("cannot write") or overwritten value: say why first.
            let [why, rest] =
                Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);
            let line = Line::from(vec![
                Span::styled(format!("{}: ", c.kind.label()), cx.theme.header),
                Span::raw(c.note.clone().unwrap_or_default()),
            ]);
            f.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), why);
            inner = rest;
        }
        let cols = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(inner);
        let sides = [
            ("base", &c.base, None),
            ("portal", &c.portal, c.portal_changed_at),
            ("Linear", &c.linear, c.linear_changed_at),
        ];
        for ((label, value, at), col) in sides.into_iter().zip(cols.iter()) {
            let when = at.map_or("agreed".to_string(), |t| {
                format!("changed {}", short_time(t, cx.now))
            });
            let text = match value {
                FieldValue::Text(t) => t.clone(),
                other => other.display_short(200),
            };
            let mut lines = vec![Line::from(vec![
                Span::styled(label.to_string(), cx.theme.header),
                Span::styled(format!(" {when}"), cx.theme.dim),
            ])];
            lines.extend(text.lines().map(|l| Line::from(l.to_string())));
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), *col);
        }
    }
}
