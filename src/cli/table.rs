//! Small text helpers shared by the operator commands (`jobs`, `conflicts`,
//! `mapping`): aligned tables that fit a terminal, relative times and
//! one-line truncation, so every command prints the same way.

use chrono::SecondsFormat;

use crate::domain::Side;
use crate::health::human_ms;
use crate::store::{Db, Link, StoreError, from_ms};

/// Width assumed when `COLUMNS` is not set (pipes, cron).
const DEFAULT_WIDTH: usize = 120;

/// The terminal width from `COLUMNS`, or a sensible default; tables shrink
/// their last column to fit it.
pub fn term_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(DEFAULT_WIDTH)
}

/// One line of at most `max` characters: newlines become "⏎", overflow ends
/// in "…".
pub fn truncate(text: &str, max: usize) -> String {
    let flat = text.replace("\r\n", "⏎").replace(['\n', '\r'], "⏎");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
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

/// How operator output names a link: "portal-id ↔ ENG-42" (Linear's
/// identifier when its record was seen, else its id; "…" for a side not
/// created yet).
pub fn link_label(db: Db<'_>, link: &Link) -> Result<String, StoreError> {
    let portal = link.portal_id.as_deref().unwrap_or("…");
    let linear = match link.linear_id.as_deref() {
        Some(id) => db
            .record(Side::Linear, id)?
            .and_then(|r| r.record.identifier)
            .unwrap_or_else(|| id.to_string()),
        None => "…".to_string(),
    };
    Ok(format!("{portal} ↔ {linear}"))
}

/// An aligned text table. Columns are separated by two spaces; the last
/// column is truncated so each line fits `width` characters.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Add a row; missing cells print empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// Render to text, one line per row plus the header line.
    pub fn render(&self, width: usize) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let before_last: usize = widths.iter().take(n.saturating_sub(1)).map(|w| w + 2).sum();
        let last_max = width.saturating_sub(before_last).max(12);
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_string()).collect();
        for cells in std::iter::once(&header).chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == n {
                    line.push_str(&truncate(c, last_max));
                } else {
                    let pad = widths[i] - c.chars().count();
                    line.push_str(c);
                    line.push_str(&" ".repeat(pad + 2));
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
    fn table_aligns_and_fits() {
        let mut t = Table::new(&["id", "message"]);
        t.row(vec!["1".into(), "x".repeat(200)]);
        t.row(vec!["22".into(), "short".into()]);
        let text = t.render(40);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id  message");
        assert!(lines[1].chars().count() <= 40, "{}", lines[1]);
        assert!(lines[1].ends_with('…'));
        assert_eq!(lines[2], "22  short");
    }
}
