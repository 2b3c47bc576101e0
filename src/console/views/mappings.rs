//! Mappings: the version history (newest first) beside the selected
//! document. Edit the active one in a textarea, validate (errors at their
//! line), dry-run a preview, apply as a new version, or roll back.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::common::{DrawCtx, cut, title};
use crate::console::app::{Action, Hit};
use crate::console::clock::short_time;
use crate::console::keymap::Cmd;
use crate::console::layers::{EditPurpose, Layer};
use crate::console::mapping_check::MappingChecker;
use crate::store::{Db, MappingVersion, StoreError};

/// Mappings view state. Versions are few (one per apply), so all are held.
#[derive(Debug, Clone, Default)]
pub struct MappingsState {
    /// Every version, newest first.
    pub versions: Vec<MappingVersion>,
    /// Selected version index.
    pub sel: usize,
}

impl MappingsState {
    /// Re-read the versions.
    pub fn load(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        let keep = self.versions.get(self.sel).map(|v| v.version);
        self.versions = db.mapping_versions()?;
        self.sel = keep
            .and_then(|k| self.versions.iter().position(|v| v.version == k))
            .unwrap_or(0);
        Ok(())
    }

    /// Select a version by index (mouse).
    pub fn select(&mut self, i: usize) {
        if i < self.versions.len() {
            self.sel = i;
        }
    }

    fn active(&self) -> Option<&MappingVersion> {
        self.versions.iter().find(|v| v.active)
    }

    /// Answer a command.
    pub fn on_cmd(
        &mut self,
        cmd: Cmd,
        db: Db<'_>,
        checker: &dyn MappingChecker,
    ) -> Result<Option<Action>, StoreError> {
        let last = self.versions.len().saturating_sub(1);
        let selected = self.versions.get(self.sel);
        match cmd {
            Cmd::Down => self.sel = (self.sel + 1).min(last),
            Cmd::Up => self.sel = self.sel.saturating_sub(1),
            Cmd::PageDown | Cmd::Bottom => self.sel = last,
            Cmd::PageUp | Cmd::Top => self.sel = 0,
            Cmd::EditMapping => {
                let doc = self
                    .active()
                    .map(|v| v.document.clone())
                    .unwrap_or_default();
                return Ok(Some(Action::Open(Box::new(Layer::editor(
                    EditPurpose::Mapping,
                    &doc,
                )))));
            }
            Cmd::Open => {
                if let Some(v) = selected {
                    return Ok(Some(Action::Open(Box::new(Layer::text(
                        format!("mapping v{}", v.version),
                        numbered(&v.document),
                    )))));
                }
            }
            Cmd::Validate => {
                if let Some(v) = selected {
                    let diags = checker.validate(db, &v.document);
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
                    return Ok(Some(Action::Open(Box::new(Layer::text(
                        format!("validate v{}", v.version),
                        lines,
                    )))));
                }
            }
            Cmd::Preview => {
                if let Some(v) = selected {
                    let active = self.active().map(|a| a.document.as_str());
                    let lines = checker.preview(db, active, &v.document);
                    return Ok(Some(Action::Open(Box::new(Layer::text(
                        format!("preview: v{} instead of the active version", v.version),
                        lines,
                    )))));
                }
            }
            Cmd::Rollback => {
                if let Some(v) = selected {
                    return Ok(Some(Action::Rollback(v.version)));
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// Draw the version list and the selected document.
    pub fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut DrawCtx<'_>) {
        let list_w = if area.width >= 120 { 54 } else { 34 };
        let [list, doc] =
            Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(area);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(cx.theme.dim)
            .title(title(
                "Versions",
                format!("{} ", self.versions.len()),
                cx.theme,
            ));
        let inner = block.inner(list);
        let wide = list_w > 40;
        let rows: Vec<Row<'static>> = self
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let style = if i == self.sel {
                    cx.theme.selected
                } else {
                    cx.theme.text
                };
                let mark = match (&v.refused_reason, v.active) {
                    (Some(_), _) => "✗",
                    (None, true) => "●",
                    (None, false) => " ",
                };
                let mut cells = vec![
                    Cell::from(format!("{mark}v{}", v.version)),
                    Cell::from(short_time(v.created_at, cx.now)),
                    Cell::from(cut(v.created_by.as_str(), 8)),
                ];
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
        let mut widths = vec![
            Constraint::Length(5),
            Constraint::Length(11),
            Constraint::Length(8),
        ];
        let mut header = vec!["ver", "created", "by"];
        if wide {
            widths.push(Constraint::Min(8));
            header.push("note");
        }
        f.render_widget(
            Table::new(rows, widths)
                .header(Row::new(header).style(cx.theme.header))
                .block(block),
            list,
        );
        let Some(v) = self.versions.get(self.sel) else {
            f.render_widget(
                Paragraph::new(Span::styled(
                    "no mapping stored yet — press e to write one",
                    cx.theme.dim,
                ))
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(cx.theme.dim),
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
                    Span::styled(format!("{:>3} ", i + 1), cx.theme.dim),
                    Span::raw(l.to_string()),
                ])
            })
            .collect();
        let state = match (&v.refused_reason, v.active) {
            (Some(why), _) => format!("refused by the engine: {}", cut(why, 60)),
            (None, true) => "active".into(),
            (None, false) => "inactive".into(),
        };
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(cx.theme.dim)
                    .title(title(
                        &format!("v{}", v.version),
                        format!("{state} · {}", cut(&v.note, 50)),
                        cx.theme,
                    )),
            ),
            doc,
        );
    }
}

fn numbered(doc: &str) -> Vec<String> {
    doc.lines()
        .enumerate()
        .map(|(i, l)| format!("{:>3} {l}", i + 1))
        .collect()
}
