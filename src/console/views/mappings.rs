//! Mappings: the version history (newest first) beside the selected
//! document. Edit the active one, validate (errors at their line), dry-run a
//! preview, apply as a new version, or roll back. After an apply or a
//! rollback the selection follows the version now in force, so the next
//! `r` is never a step back to the one just replaced.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use super::common::{cut, title};
use super::{Load, Paint, View};
use crate::console::clock::short_time;
use crate::console::keymap;
use crate::console::types::{Action, Cmd, Ctx, Hit, Open, Selection, ViewId, Write};
use crate::store::{MappingVersion, StoreError};

/// Mappings view state. Versions are few (one per apply), so all are held.
#[derive(Debug, Clone, Default)]
pub struct MappingsView {
    /// Every version, newest first.
    pub versions: Vec<MappingVersion>,
    /// Selected version index.
    pub sel: usize,
    /// The active version at the last reload, to notice a change.
    active_seen: Option<i64>,
}

fn numbered(doc: &str) -> Vec<String> {
    doc.lines()
        .enumerate()
        .map(|(i, l)| format!("{:>3} {l}", i + 1))
        .collect()
}

impl MappingsView {
    fn active(&self) -> Option<&MappingVersion> {
        self.versions.iter().find(|v| v.active)
    }

    fn selected(&self) -> Option<&MappingVersion> {
        self.versions.get(self.sel)
    }
}

impl View for MappingsView {
    fn id(&self) -> ViewId {
        ViewId::Mappings
    }

    fn offers(&self, cmd: Cmd) -> bool {
        !matches!(
            cmd,
            Cmd::Search | Cmd::NextMatch | Cmd::PrevMatch | Cmd::Urls | Cmd::Sort
        )
    }

    fn reload(&mut self, cx: &Load<'_>) -> Result<(), StoreError> {
        let keep = self.selected().map(|v| v.version);
        self.versions = cx.db.mapping_versions()?;
        let active = self.active().map(|v| v.version);
        let follow = if active != self.active_seen {
            active
        } else {
            keep
        };
        self.active_seen = active;
        self.sel = follow
            .and_then(|k| self.versions.iter().position(|v| v.version == k))
            .unwrap_or(0);
        Ok(())
    }

    fn on_cmd(&mut self, cmd: Cmd, cx: &Load<'_>) -> Result<Option<Action>, StoreError> {
        let last = self.versions.len().saturating_sub(1);
        let selected = self.selected().cloned();
        Ok(match cmd {
            Cmd::Down => {
                self.sel = (self.sel + 1).min(last);
                None
            }
            Cmd::Up => {
                self.sel = self.sel.saturating_sub(1);
                None
            }
            Cmd::PageDown | Cmd::Bottom => {
                self.sel = last;
                None
            }
            Cmd::PageUp | Cmd::Top => {
                self.sel = 0;
                None
            }
            Cmd::EditMapping => Some(Action::Open(Open::EditMapping)),
            Cmd::Open => selected.map(|v| {
                Action::Open(Open::Text {
                    title: format!("mapping v{}", v.version),
                    lines: numbered(&v.document),
                })
            }),
            Cmd::Validate => selected.map(|v| {
                let diags = cx.checker.validate(cx.db, &v.document);
                let lines = if diags.is_empty() {
                    vec![format!("mapping v{} is valid", v.version)]
                } else {
                    diags
                        .iter()
                        .map(|d| {
                            format!(
                                "line {}: {}",
                                d.line.map_or("?".into(), |l| l.to_string()),
                                d.message
                            )
                        })
                        .collect()
                };
                Action::Open(Open::Text {
                    title: format!("validate v{}", v.version),
                    lines,
                })
            }),
            Cmd::Preview => selected.map(|v| {
                let active = self.active().map(|a| a.document.as_str());
                Action::Open(Open::Text {
                    title: format!("preview: v{} instead of the active version", v.version),
                    lines: cx.checker.preview(cx.db, active, &v.document),
                })
            }),
            Cmd::Rollback => selected.map(|v| Action::Write(Write::Rollback(v.version))),
            Cmd::Copy => selected.map(|v| Action::Copy(v.document)),
            _ => None,
        })
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>) {
        let theme = cx.theme;
        let list_w = if area.width >= 120 {
            54
        } else {
            (area.width * 2 / 5).clamp(20, 40)
        };
        let [list, doc] =
            Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(area);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.dim)
            .title(title(
                "Versions",
                format!("{} ", self.versions.len()),
                theme,
            ));
        let inner = block.inner(list);
        let wide = list_w > 40;
        let with_by = list_w >= 32;
        let rows: Vec<Row<'static>> = self
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let style = if i == self.sel {
                    theme.selected
                } else {
                    theme.text
                };
                let mark = match (&v.refused_reason, v.active) {
                    (Some(_), _) => "✗",
                    (None, true) => "●",
                    (None, false) => " ",
                };
                let mut cells = vec![
                    Cell::from(format!("{mark}v{}", v.version)),
                    Cell::from(short_time(v.created_at, cx.now)),
                ];
                if with_by {
                    cells.push(Cell::from(cut(v.created_by.as_str(), 8)));
                }
                if wide {
                    cells.push(Cell::from(cut(&v.note, 30)));
                }
                Row::new(cells).style(style)
            })
            .collect();
        for i in 0..rows.len().min(inner.height.saturating_sub(1) as usize) {
            cx.hits.push((
                Rect::new(inner.x, inner.y + 1 + i as u16, inner.width, 1),
                Hit::Row(i),
            ));
        }
        let mut widths = vec![Constraint::Length(5), Constraint::Length(12)];
        let mut header = vec!["ver", "created"];
        if with_by {
            widths.push(Constraint::Length(8));
            header.push("by");
        }
        if wide {
            widths.push(Constraint::Min(8));
            header.push("note");
        }
        f.render_widget(
            Table::new(rows, widths)
                .header(Row::new(header).style(theme.header))
                .block(block),
            list,
        );
        let Some(v) = self.versions.get(self.sel) else {
            f.render_widget(
                Paragraph::new(Span::styled(
                    format!(
                        "no mapping stored yet — press {} to write one",
                        keymap::shown(Ctx::View(ViewId::Mappings), Cmd::EditMapping)
                    ),
                    theme.dim,
                ))
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(theme.dim),
                ),
                doc,
            );
            return;
        };
        let lines: Vec<Line<'static>> = v
            .document
            .lines()
            .enumerate()
            .map(|(i, l)| {
                Line::from(vec![
                    Span::styled(format!("{:>3} ", i + 1), theme.dim),
                    Span::raw(l.to_string()),
                ])
            })
            .collect();
        let state = match (&v.refused_reason, v.active) {
            (Some(why), _) => format!("refused by the engine: {why}"),
            (None, true) => "active".into(),
            (None, false) => "inactive".into(),
        };
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.dim)
                    .title(title(
                        &format!("v{}", v.version),
                        format!("{state} · {} ", cut(&v.note, 50)),
                        theme,
                    )),
            ),
            doc,
        );
    }

    fn select_row(&mut self, i: usize) {
        if i < self.versions.len() {
            self.sel = i;
        }
    }

    fn selection(&self) -> Selection {
        Selection::Mappings(self.selected().map(|v| v.version))
    }
}
