//! Word wrapping for styled text: the console's detail panes, dialogs and
//! conflict columns wrap long text instead of cutting it, with continuation
//! rows indented so a gutter or a label column stays clear.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Wrap styled lines to `width` columns, breaking at spaces where it can
/// and inside words longer than a line; a wrapped line's continuation is
/// indented by `indent` spaces.
pub fn wrap(lines: &[Line<'static>], width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(8);
    let mut out = Vec::new();
    for line in lines {
        let mut rows: Vec<Vec<(String, Style)>> = vec![Vec::new()];
        let mut col = 0usize;
        let push = |rows: &mut Vec<Vec<(String, Style)>>, text: &str, style: Style| {
            let row = rows.last_mut();
            if let Some(row) = row {
                match row.last_mut() {
                    Some((t, s)) if *s == style => t.push_str(text),
                    _ => row.push((text.to_string(), style)),
                }
            }
        };
        for span in &line.spans {
            let style = span.style;
            for word in span.content.split_inclusive(' ') {
                let len = word.chars().count();
                let bare = word.trim_end_matches(' ').chars().count();
                if col + bare > width && col > indent {
                    rows.push(Vec::new());
                    col = 0;
                    if indent > 0 {
                        push(&mut rows, &" ".repeat(indent), Style::new());
                        col = indent;
                    }
                }
                if col + len <= width {
                    push(&mut rows, word, style);
                    col += len;
                    continue;
                }
                if col + bare <= width {
                    push(&mut rows, word.trim_end_matches(' '), style);
                    col += bare;
                    continue;
                }
                // Longer than a whole line: cut it.
                let mut rest: Vec<char> = word.chars().collect();
                while !rest.is_empty() {
                    let room = width.saturating_sub(col).max(1);
                    let take: String = rest.iter().take(room).collect();
                    rest.drain(..room.min(rest.len()));
                    push(&mut rows, &take, style);
                    col += take.chars().count();
                    if !rest.is_empty() {
                        rows.push(Vec::new());
                        col = 0;
                        if indent > 0 {
                            push(&mut rows, &" ".repeat(indent), Style::new());
                            col = indent;
                        }
                    }
                }
            }
        }
        for row in rows {
            out.push(Line::from(
                row.into_iter()
                    .map(|(t, s)| Span::styled(t, s))
                    .collect::<Vec<_>>(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        let l = Line::from("creating the Linear issue failed: Argument Validation Error");
        assert_eq!(
            text(&wrap(&[l], 20, 2)),
            [
                "creating the Linear ",
                "  issue failed: ",
                "  Argument ",
                "  Validation Error"
            ]
        );
        let long = Line::from("x".repeat(25));
        assert_eq!(
            text(&wrap(&[long], 10, 0)),
            ["x".repeat(10), "x".repeat(10), "x".repeat(5)]
        );
    }
}
