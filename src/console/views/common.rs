//! Drawing helpers shared by the table views: a bordered table that renders
//! only the visible slice of the loaded window and records each row's rect
//! for mouse hit-testing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use crate::console::app::Hit;
use crate::console::pager::{Keyed, Pager};
use crate::console::theme::Theme;

/// What a draw call needs besides its own state.
pub struct DrawCtx<'a> {
    /// Styles.
    pub theme: &'a Theme,
    /// "Now" for ages.
    pub now: i64,
    /// Mouse targets being recorded.
    pub hits: &'a mut Vec<(Rect, Hit)>,
}

/// A table over a pager's visible rows. `cells` turns one row into its
/// cells; `marked` tells which rows are marked for a bulk action.
#[allow(clippy::too_many_arguments)]
pub fn paged_table<T: Keyed>(
    f: &mut Frame<'_>,
    area: Rect,
    title: Line<'_>,
    header: &[&str],
    widths: &[Constraint],
    pager: &mut Pager<T>,
    cx: &mut DrawCtx<'_>,
    mut cells: impl FnMut(&T) -> Vec<Cell<'static>>,
    marked: impl Fn(&T) -> bool,
) -> usize {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(cx.theme.dim)
        .title(title);
    let inner = block.inner(area);
    let height = inner.height.saturating_sub(1) as usize;
    let sel = pager.sel;
    let (offset, rows) = pager.visible(height);
    let table_rows: Vec<Row<'static>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let style = if offset + i == sel {
                cx.theme.selected
            } else if marked(r) {
                cx.theme.marked
            } else {
                cx.theme.text
            };
            Row::new(cells(r)).style(style)
        })
        .collect();
    for i in 0..table_rows.len() {
        let y = inner.y + 1 + i as u16;
        cx.hits
            .push((Rect::new(inner.x, y, inner.width, 1), Hit::Row(offset + i)));
    }
    let empty = table_rows.is_empty();
    let header = Row::new(header.iter().map(|h| Cell::from(h.to_string()))).style(cx.theme.header);
    let table = Table::new(table_rows, widths.to_vec())
        .header(header)
        .block(block)
        .column_spacing(1);
    f.render_widget(table, area);
    if empty && inner.height > 1 {
        let r = Rect::new(inner.x + 1, inner.y + 1, inner.width.saturating_sub(1), 1);
        f.render_widget(Span::styled("nothing here", cx.theme.dim), r);
    }
    height.max(1)
}

/// A bordered panel title: " Name " plus a dim detail.
pub fn title<'a>(name: &'a str, detail: String, theme: &Theme) -> Line<'a> {
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
