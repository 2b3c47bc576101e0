//! What the table views share: a bordered table that renders only the
//! visible slice of the loaded window, with the selection's position
//! ("12/169"), search matches highlighted, one long-text column that
//! scrolls sideways, and each row's rect recorded for mouse hit-testing;
//! plus finding text in the loaded rows (`/`, `n`, `N`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use std::collections::{BTreeSet, HashMap};

use super::Paint;
use crate::console::pager::{Keyed, Pager};
use crate::console::theme::Theme;
use crate::console::types::{Action, Hit, Open, PickItem, SortKey, ViewId, ViewMsg};
use crate::store::{Db, Link, StoreError};

/// Characters one `h`/`l` press scrolls the long-text column.
pub const HSCROLL_STEP: usize = 16;

/// One cell: its text and an optional style of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The text.
    pub text: String,
    /// Style over the row's.
    pub style: Option<Style>,
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text { text, style: None }
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text {
            text: text.to_string(),
            style: None,
        }
    }
}

impl Text {
    /// Text with a style of its own.
    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Text {
            text: text.into(),
            style: Some(style),
        }
    }
}

/// How a table looks besides its rows.
pub struct Spec<'a> {
    /// Panel title.
    pub title: Line<'a>,
    /// Total rows of the listing, when known (for "12/169").
    pub total: Option<i64>,
    /// Column headers.
    pub header: &'a [&'a str],
    /// Column widths.
    pub widths: &'a [Constraint],
    /// The column whose text scrolls sideways, if any.
    pub wide: Option<usize>,
    /// How far it is scrolled.
    pub hscroll: usize,
    /// Text to highlight.
    pub find: Option<&'a str>,
}

/// Split `text` into spans with every case-insensitive match of `needle`
/// highlighted.
pub fn highlighted(text: &str, needle: Option<&str>, theme: &Theme) -> Vec<Span<'static>> {
    let Some(needle) = needle.filter(|n| !n.is_empty()) else {
        return vec![Span::raw(text.to_string())];
    };
    let lower = text.to_lowercase();
    let n = needle.to_lowercase();
    // Lowercasing can change byte lengths outside ASCII; highlight only
    // when it did not, so byte offsets line up.
    if lower.len() != text.len() {
        return vec![Span::raw(text.to_string())];
    }
    let mut spans = Vec::new();
    let mut at = 0;
    for (i, _) in lower.match_indices(&n) {
        if i < at {
            continue;
        }
        if i > at {
            spans.push(Span::raw(text[at..i].to_string()));
        }
        spans.push(Span::styled(
            text[i..i + n.len()].to_string(),
            theme.highlight,
        ));
        at = i + n.len();
    }
    if at < text.len() {
        spans.push(Span::raw(text[at..].to_string()));
    }
    spans
}

/// Whether `text` contains `needle`, ignoring case.
pub fn contains(text: &str, needle: &str) -> bool {
    text.to_lowercase().contains(&needle.to_lowercase())
}

/// The text after scrolling `by` characters (with "…" where it was cut).
pub fn scrolled(text: &str, by: usize) -> String {
    if by == 0 {
        return text.to_string();
    }
    let rest: String = text.chars().skip(by).collect();
    if rest.is_empty() {
        String::new()
    } else {
        format!("…{rest}")
    }
}

/// Draw a table over a pager's visible rows; returns the rows per page.
pub fn paged_table<T: Keyed>(
    f: &mut Frame<'_>,
    area: Rect,
    spec: Spec<'_>,
    pager: &mut Pager<T>,
    cx: &mut Paint<'_>,
    mut cells: impl FnMut(&T) -> Vec<Text>,
    marked: impl Fn(&T) -> bool,
) -> usize {
    let theme = cx.theme;
    let position = match (pager.position(), spec.total) {
        (Some(p), Some(t)) => format!(" {p}/{t} "),
        (Some(p), None) if pager.complete() => format!(" {p}/{} ", pager.rows.len()),
        (Some(p), None) => format!(" {p}/… "),
        (None, _) if pager.rows.is_empty() => " 0/0 ".to_string(),
        (None, Some(t)) => format!(" …/{t} "),
        (None, None) => String::new(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.dim)
        .title(spec.title)
        .title(Line::from(Span::styled(position, theme.dim)).right_aligned());
    let inner = block.inner(area);
    let height = inner.height.saturating_sub(1) as usize;
    // The long-text column's width as the table will lay it out, so its
    // text is cut with a visible "…" (l scrolls, Enter shows it whole).
    let wide_width = spec.wide.and_then(|col| {
        Layout::horizontal(spec.widths.to_vec())
            .flex(Flex::Start)
            .spacing(1)
            .split(Rect::new(inner.x, inner.y, inner.width, 1))
            .get(col)
            .map(|r| r.width as usize)
    });
    let sel = pager.sel;
    let (offset, rows) = pager.visible(height);
    let table_rows: Vec<Row<'static>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let style = if offset + i == sel {
                theme.selected
            } else if marked(r) {
                theme.marked
            } else {
                theme.text
            };
            let cs: Vec<Cell<'static>> = cells(r)
                .into_iter()
                .enumerate()
                .map(|(col, c)| {
                    let text = match wide_width {
                        Some(w) if Some(col) == spec.wide => {
                            cut(&scrolled(&c.text, spec.hscroll), w)
                        }
                        _ => c.text,
                    };
                    let line = Line::from(highlighted(&text, spec.find, theme));
                    match c.style {
                        Some(s) => Cell::from(line).style(s),
                        None => Cell::from(line),
                    }
                })
                .collect();
            Row::new(cs).style(style)
        })
        .collect();
    for i in 0..table_rows.len() {
        let y = inner.y + 1 + i as u16;
        cx.hits
            .push((Rect::new(inner.x, y, inner.width, 1), Hit::Row(offset + i)));
    }
    let empty = table_rows.is_empty();
    let header: Vec<Cell<'static>> = spec
        .header
        .iter()
        .enumerate()
        .map(|(col, h)| {
            if Some(col) == spec.wide && spec.hscroll > 0 {
                Cell::from(format!("{h} ◀+{}", spec.hscroll))
            } else {
                Cell::from(h.to_string())
            }
        })
        .collect();
    let table = Table::new(table_rows, spec.widths.to_vec())
        .header(Row::new(header).style(theme.header))
        .block(block)
        .column_spacing(1);
    f.render_widget(table, area);
    if empty && inner.height > 1 {
        let r = Rect::new(inner.x + 1, inner.y + 1, inner.width.saturating_sub(1), 1);
        f.render_widget(Span::styled("nothing here", theme.dim), r);
    }
    height.max(1)
}

/// The "sort by" picker of a view: its orders, the current one highlighted.
pub fn sort_picker(view: ViewId, what: &str, orders: &[SortKey], current: SortKey) -> Action {
    let items = orders
        .iter()
        .map(|k| PickItem {
            label: k.words().into(),
            detail: String::new(),
            action: Action::Tell(view, ViewMsg::Sort(*k)),
        })
        .collect();
    Action::Open(Open::Picker {
        title: format!("Sort {what}"),
        items,
        selected: orders.iter().position(|k| *k == current).unwrap_or(0),
    })
}

/// A bordered panel title: " Name " plus a dim detail.
pub fn title<'a>(name: &str, detail: String, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!(" {name} "), theme.title),
        Span::styled(detail, theme.dim),
    ])
}

/// Cut a string to `max` characters with an ellipsis.
pub fn cut(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The next (or previous) row after `from` whose text matches, wrapping
/// around the loaded rows; `None` when none does.
pub fn find_row<T>(
    rows: &[T],
    from: usize,
    forward: bool,
    matches: impl Fn(&T) -> bool,
) -> Option<usize> {
    let n = rows.len();
    (1..=n)
        .map(|k| {
            if forward {
                (from + k) % n
            } else {
                (from + n - k % n) % n
            }
        })
        .find(|i| matches(&rows[*i]))
}

/// What `/`, `n` and `N` do in a table view without an index: find text
/// in the loaded rows and move the selection to the matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finder {
    /// The text being found.
    pub text: Option<String>,
}

impl Finder {
    /// Set the text (empty clears) and move to the first match at or after
    /// the selection. `Err` says nothing matched.
    pub fn set<T: Keyed>(
        &mut self,
        text: &str,
        pager: &mut Pager<T>,
        row_text: impl Fn(&T) -> String,
    ) -> Result<(), String> {
        let t = text.trim();
        if t.is_empty() {
            self.text = None;
            return Ok(());
        }
        self.text = Some(t.to_string());
        let start = pager.sel + pager.rows.len().saturating_sub(1);
        self.step(pager, start, true, row_text)
    }

    /// Move to the next (`forward`) or previous match.
    pub fn next<T: Keyed>(
        &self,
        pager: &mut Pager<T>,
        forward: bool,
        row_text: impl Fn(&T) -> String,
    ) -> Result<(), String> {
        self.step(pager, pager.sel, forward, row_text)
    }

    fn step<T: Keyed>(
        &self,
        pager: &mut Pager<T>,
        from: usize,
        forward: bool,
        row_text: impl Fn(&T) -> String,
    ) -> Result<(), String> {
        let Some(t) = &self.text else {
            return Err("nothing to find: press / first".into());
        };
        if pager.rows.is_empty() {
            return Err(format!("\"{t}\" not found"));
        }
        let from = from % pager.rows.len();
        match find_row(&pager.rows, from, forward, |r| contains(&row_text(r), t)) {
            Some(i) => {
                pager.select_index(i);
                Ok(())
            }
            None => Err(format!(
                "\"{t}\" not found in the {} rows loaded around the selection",
                pager.rows.len()
            )),
        }
    }
}

/// Keep what `held` knows about the links of the rows on hand (`shown`)
/// and drop the rest; returns the ids it did not know, with those of them
/// that exist read in one query (a page names its rows by their links).
pub fn links_to_learn<T>(
    db: Db<'_>,
    held: &mut HashMap<i64, T>,
    shown: BTreeSet<i64>,
) -> Result<(Vec<i64>, Vec<Link>), StoreError> {
    held.retain(|k, _| shown.contains(k));
    let missing: Vec<i64> = shown
        .into_iter()
        .filter(|id| !held.contains_key(id))
        .collect();
    let found = db.links_by_id(&missing)?;
    Ok((missing, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_every_match_ignoring_case() {
        let theme = Theme::mono();
        let spans = highlighted("Dark mode, DARK theme", Some("dark"), &theme);
        let marked: Vec<&str> = spans
            .iter()
            .filter(|s| s.style == theme.highlight)
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(marked, ["Dark", "DARK"]);
        assert_eq!(scrolled("abcdef", 2), "…cdef");
    }

    #[test]
    fn find_wraps_both_ways() {
        let rows = [1, 2, 3, 4, 5];
        assert_eq!(find_row(&rows, 4, true, |r| *r == 2), Some(1));
        assert_eq!(find_row(&rows, 0, false, |r| *r == 4), Some(3));
        assert_eq!(find_row(&rows, 0, true, |r| *r == 9), None);
    }
}
