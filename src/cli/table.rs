//! Small text helpers shared by the operator commands (`jobs`, `conflicts`,
//! `mapping`): aligned tables that fit the terminal, relative times,
//! one-line truncation and value cells that show where values differ, so
//! every command prints the same way.

use chrono::SecondsFormat;

use crate::domain::FieldValue;
use crate::health::human_ms;
use crate::store::from_ms;

/// How wide output may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Fit this many columns.
    Fit(usize),
    /// No limit (`--wide`, or output that is not a terminal).
    Unlimited,
}

impl Width {
    /// The width to print at: unlimited with `--wide`, else `COLUMNS`, else
    /// the terminal's width; output that is not a terminal (a pipe, a file)
    /// gets whole values so scripts can search them.
    pub fn detect(wide: bool) -> Width {
        if wide {
            return Width::Unlimited;
        }
        if let Some(cols) = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w >= 20)
        {
            return Width::Fit(cols);
        }
        if super::out::is_terminal()
            && let Ok((cols, _)) = crossterm::terminal::size()
            && cols >= 20
        {
            return Width::Fit(usize::from(cols));
        }
        Width::Unlimited
    }

    /// The limit in characters (`usize::MAX` when unlimited).
    pub fn chars(self) -> usize {
        match self {
            Width::Fit(w) => w,
            Width::Unlimited => usize::MAX,
        }
    }
}

/// `--wide`: the flag every listing takes.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct WideArg {
    /// Do not shorten columns to the terminal width.
    #[arg(long)]
    pub wide: bool,
}

impl WideArg {
    /// The width to print at.
    pub fn width(self) -> Width {
        Width::detect(self.wide)
    }
}

/// Newlines as "⏎", so a value stays on one line.
fn flatten(text: &str) -> String {
    text.replace("\r\n", "⏎").replace(['\n', '\r'], "⏎")
}

/// One line of at most `max` characters: newlines become "⏎", overflow ends
/// in "…".
pub fn truncate(text: &str, max: usize) -> String {
    let flat = flatten(text);
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Characters of context kept before the first difference.
const DIFF_CONTEXT: usize = 6;

/// Cells of at most `max` characters for values that are compared side by
/// side (base / portal / Linear): when they share a beginning longer than
/// the cell, each cell starts just before the first difference ("…mode.⏎Also
/// for…"), so a cut never hides what differs.
pub fn diff_cells(values: &[&FieldValue], max: usize) -> Vec<String> {
    let texts: Vec<Vec<char>> = values
        .iter()
        .map(|v| flatten(&v.display_short(usize::MAX)).chars().collect())
        .collect();
    let shortest = texts.iter().map(Vec::len).min().unwrap_or(0);
    let first_diff = (0..shortest)
        .find(|&i| texts.iter().any(|t| t[i] != texts[0][i]))
        .unwrap_or(shortest);
    let start = if first_diff + 2 > max {
        first_diff.saturating_sub(DIFF_CONTEXT)
    } else {
        0
    };
    texts
        .iter()
        .map(|t| {
            let tail: String = t.iter().skip(start).collect();
            if start == 0 {
                truncate(&tail, max)
            } else {
                format!("…{}", truncate(&tail, max.saturating_sub(1)))
            }
        })
        .collect()
}

/// "in 3m 10s", "4s ago" or "now": a time relative to `now` (both ms).
pub fn relative(at_ms: i64, now_ms: i64) -> String {
    let d = at_ms - now_ms;
    if d.abs() < 1000 {
        "now".to_string()
    } else if d > 0 {
        format!("in {}", human_ms(d))
    } else {
        format!("{} ago", human_ms(-d))
    }
}

/// An RFC 3339 UTC timestamp for stored milliseconds (JSON output).
pub fn iso(ms: i64) -> String {
    from_ms(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whether a column may be shortened to make a table fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Always printed whole (ids, statuses, counts).
    Keep,
    /// Shortened (ending in "…") when the table is too wide.
    Shrink,
}

/// Columns separated by two spaces.
const GAP: usize = 2;

/// Narrowest a shrinking column gets (its header is cut too).
const MIN_SHRUNK: usize = 5;

/// An aligned text table that fits a [`Width`]: when too wide, the widest
/// shrinkable column gives way first, down to a few characters each.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<(&'static str, Fit)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(headers: &[(&'static str, Fit)]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Add a row; missing cells print empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells.iter().map(|c| flatten(c)).collect();
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    fn widths(&self, width: Width) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .headers
            .iter()
            .map(|(h, _)| h.chars().count())
            .collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let Width::Fit(limit) = width else {
            return widths;
        };
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
        let mut excess = total(&widths).saturating_sub(limit);
        while excess > 0 {
            let widest = (0..widths.len())
                .filter(|&i| self.headers[i].1 == Fit::Shrink && widths[i] > MIN_SHRUNK)
                .max_by_key(|&i| (widths[i], i));
            let Some(i) = widest else { break };
            widths[i] -= 1;
            excess -= 1;
        }
        widths
    }

    /// Render, one line per row plus the header line.
    pub fn render(&self, width: Width) -> String {
        let widths = self.widths(width);
        let n = self.headers.len();
        let header: Vec<String> = self.headers.iter().map(|(h, _)| (*h).to_string()).collect();
        let mut out = String::new();
        for cells in std::iter::once(&header).chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, c) in cells.iter().enumerate() {
                let cell = truncate(c, widths[i]);
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(&cell);
                if i + 1 < n {
                    line.push_str(&" ".repeat(pad + GAP));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_one_line() {
        assert_eq!(truncate("ab\ncd", 10), "ab⏎cd");
        assert_eq!(truncate("abcdefgh", 5), "abcd…");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(10_000, 10_000), "now");
        assert_eq!(relative(70_000, 10_000), "in 1m 0s");
        assert_eq!(relative(5_000, 10_000), "5s ago");
    }

    #[test]
    fn table_fits_by_shrinking_the_widest_columns() {
        let mut t = Table::new(&[
            ("id", Fit::Keep),
            ("link", Fit::Shrink),
            ("message", Fit::Shrink),
        ]);
        t.row(vec!["1".into(), "l".repeat(40), "x".repeat(200)]);
        t.row(vec!["22".into(), "short".into(), "ok".into()]);
        let text = t.render(Width::Fit(60));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() <= 60), "{text}");
        assert!(lines[1].starts_with("1   llll"), "{text}");
        assert!(lines[1].ends_with('…'));
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["22", "short", "ok"]
        );
        // Unlimited keeps every character.
        let wide = t.render(Width::Unlimited);
        assert!(wide.contains(&"x".repeat(200)));
    }

    #[test]
    fn diff_cells_start_where_values_differ() {
        let base = FieldValue::Text("Please add dark mode.".into());
        let portal = FieldValue::Text("Please add dark mode.\nAlso for emails.".into());
        let linear = FieldValue::Text("Please add dark mode.\nScope: web only.".into());
        let cells = diff_cells(&[&base, &portal, &linear], 16);
        assert_eq!(cells, ["… mode.", "… mode.⏎Also fo…", "… mode.⏎Scope: …"]);
        assert!(cells.iter().all(|c| c.chars().count() <= 16));
        // Short values, or an early difference: no shift.
        let a = FieldValue::Text("Dark mode".into());
        let b = FieldValue::Text("Dashboard dark theme".into());
        assert_eq!(diff_cells(&[&a, &b], 16), ["Dark mode", "Dashboard dark …"]);
    }
}
