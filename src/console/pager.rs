//! A window of rows over a big table, fetched with keyset pagination: the
//! console holds at most [`MAX_HELD`] rows of any table and asks the store for
//! the next [`CHUNK`] only when the selection reaches an edge. Moving one row
//! inside the window costs no query at all.

use super::types::Cmd;
use crate::store::{StoreError, Window};

/// Rows fetched per query.
pub const CHUNK: usize = 100;
/// Most rows kept in memory per table.
pub const MAX_HELD: usize = 400;

/// A row with a keyset key (its row id).
pub trait Keyed {
    /// The row id the table is ordered by.
    fn key(&self) -> i64;
}

/// A fetch function: rows for a keyset window.
pub type Fetch<'a, T> = &'a mut dyn FnMut(Window) -> Result<Vec<T>, StoreError>;

/// Whether `cmd` is a selection move [`Pager::step`] carries out the same
/// way in every table (`G` is not: each view knows its own total).
pub fn moves(cmd: Cmd) -> bool {
    matches!(
        cmd,
        Cmd::Down | Cmd::Up | Cmd::PageDown | Cmd::PageUp | Cmd::Top
    )
}

/// The loaded window and the selection in it.
#[derive(Debug, Clone)]
pub struct Pager<T> {
    /// Loaded rows, in display order.
    pub rows: Vec<T>,
    /// Selected index into `rows`.
    pub sel: usize,
    /// First displayed index (scroll position).
    pub offset: usize,
    /// Newest first when true.
    pub desc: bool,
    /// Absolute position of `rows[0]` in the whole listing, when known
    /// (the window started at the top, or at the end of a counted table).
    pub base: Option<usize>,
    at_start: bool,
    at_end: bool,
}

impl<T: Keyed> Pager<T> {
    /// An empty pager in the given display order.
    pub fn new(desc: bool) -> Self {
        Pager {
            rows: Vec::new(),
            sel: 0,
            offset: 0,
            desc,
            base: Some(0),
            at_start: true,
            at_end: true,
        }
    }

    /// 1-based position of the selected row in the whole listing, if known.
    pub fn position(&self) -> Option<usize> {
        self.base
            .map(|b| b + self.sel + 1)
            .filter(|_| !self.rows.is_empty())
    }

    /// After [`Pager::bottom`], tell the pager how many rows the listing
    /// has, so positions are known from the end.
    pub fn anchor_end(&mut self, total: usize) {
        self.base = Some(total.saturating_sub(self.rows.len()));
    }

    /// Whether every row of the listing is loaded.
    pub fn complete(&self) -> bool {
        self.at_start && self.at_end
    }

    /// The selected row.
    pub fn selected(&self) -> Option<&T> {
        self.rows.get(self.sel)
    }

    fn window(&self, from: Option<i64>, forward: bool, limit: usize) -> Window {
        Window {
            from,
            limit,
            descending: if forward { self.desc } else { !self.desc },
        }
    }

    /// Load from the first row.
    pub fn top(&mut self, fetch: Fetch<'_, T>) -> Result<(), StoreError> {
        self.rows = fetch(self.window(None, true, CHUNK))?;
        self.at_start = true;
        self.at_end = self.rows.len() < CHUNK;
        self.sel = 0;
        self.offset = 0;
        self.base = Some(0);
        Ok(())
    }

    /// Load the last rows and select the last one.
    pub fn bottom(&mut self, fetch: Fetch<'_, T>) -> Result<(), StoreError> {
        let mut rows = fetch(self.window(None, false, CHUNK))?;
        rows.reverse();
        self.at_start = rows.len() < CHUNK;
        self.at_end = true;
        self.sel = rows.len().saturating_sub(1);
        self.offset = self.sel;
        self.base = self.at_start.then_some(0);
        self.rows = rows;
        Ok(())
    }

    /// Move the selection down `n` rows, fetching ahead as needed.
    pub fn down(&mut self, n: usize, fetch: Fetch<'_, T>) -> Result<(), StoreError> {
        let mut target = self.sel + n;
        while target >= self.rows.len() && !self.at_end {
            let Some(last) = self.rows.last().map(Keyed::key) else {
                break;
            };
            let more = fetch(self.window(Some(last), true, CHUNK))?;
            self.at_end = more.len() < CHUNK;
            self.rows.extend(more);
            if self.rows.len() > MAX_HELD {
                let drop = self.rows.len() - MAX_HELD;
                self.rows.drain(..drop);
                self.at_start = false;
                self.base = self.base.map(|b| b + drop);
                target = target.saturating_sub(drop);
                self.sel = self.sel.saturating_sub(drop);
                self.offset = self.offset.saturating_sub(drop);
            }
        }
        self.sel = target.min(self.rows.len().saturating_sub(1));
        Ok(())
    }

    /// Carry out a selection move (`page` rows for PgUp/PgDn).
    pub fn step(&mut self, cmd: Cmd, page: usize, fetch: Fetch<'_, T>) -> Result<(), StoreError> {
        match cmd {
            Cmd::Down => self.down(1, fetch),
            Cmd::Up => self.up(1, fetch),
            Cmd::PageDown => self.down(page, fetch),
            Cmd::PageUp => self.up(page, fetch),
            Cmd::Top => self.top(fetch),
            _ => Ok(()),
        }
    }

    /// Move the selection up `n` rows, fetching behind as needed.
    pub fn up(&mut self, n: usize, fetch: Fetch<'_, T>) -> Result<(), StoreError> {
        while n > self.sel && !self.at_start {
            let Some(first) = self.rows.first().map(Keyed::key) else {
                break;
            };
            let mut more = fetch(self.window(Some(first), false, CHUNK))?;
            self.at_start = more.len() < CHUNK;
            more.reverse();
            let added = more.len();
            more.append(&mut self.rows);
            self.rows = more;
            self.sel += added;
            self.offset += added;
            self.base = if self.at_start {
                Some(0)
            } else {
                self.base.map(|b| b.saturating_sub(added))
            };
            if self.rows.len() > MAX_HELD {
                self.rows.truncate(MAX_HELD);
                self.at_end = false;
            }
        }
        self.sel = self.sel.saturating_sub(n);
        Ok(())
    }

    /// Re-read the loaded window (the store changed), keeping the selected
    /// row selected when it still exists. Works for any order: the window
    /// restarts after the row just before its first one.
    pub fn refresh(&mut self, fetch: Fetch<'_, T>) -> Result<(), StoreError> {
        if self.at_start || self.rows.is_empty() {
            let keep = self.selected().map(Keyed::key);
            let sel = self.sel;
            let limit = self.rows.len().max(CHUNK);
            self.rows = fetch(self.window(None, true, limit))?;
            self.at_end = self.rows.len() < limit;
            self.at_start = true;
            self.base = Some(0);
            self.reselect(keep, sel);
            return Ok(());
        }
        let Some(first) = self.rows.first().map(Keyed::key) else {
            return self.top(fetch);
        };
        let keep = self.selected().map(Keyed::key);
        let sel = self.sel;
        let before = fetch(self.window(Some(first), false, 1))?;
        let from = before.first().map(Keyed::key);
        let limit = self.rows.len().max(CHUNK);
        let rows = fetch(self.window(from, true, limit))?;
        self.at_start = from.is_none();
        self.at_end = rows.len() < limit;
        self.rows = rows;
        if self.rows.is_empty() {
            return self.top(fetch);
        }
        self.reselect(keep, sel);
        Ok(())
    }

    fn reselect(&mut self, keep: Option<i64>, sel: usize) {
        self.sel = keep
            .and_then(|k| self.rows.iter().position(|r| r.key() == k))
            .unwrap_or(sel)
            .min(self.rows.len().saturating_sub(1));
    }

    /// Adjust the scroll so the selection is visible in `height` rows, and
    /// return the visible slice with its starting index.
    pub fn visible(&mut self, height: usize) -> (usize, &[T]) {
        let h = height.max(1);
        if self.sel < self.offset {
            self.offset = self.sel;
        } else if self.sel >= self.offset + h {
            self.offset = self.sel + 1 - h;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(1));
        let end = (self.offset + h).min(self.rows.len());
        (self.offset, &self.rows[self.offset.min(end)..end])
    }

    /// Select the row at index `i` of the loaded window (a mouse click).
    pub fn select_index(&mut self, i: usize) {
        if i < self.rows.len() {
            self.sel = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct R(i64);
    impl Keyed for R {
        fn key(&self) -> i64 {
            self.0
        }
    }

    fn table(n: i64) -> impl FnMut(Window) -> Result<Vec<R>, StoreError> {
        move |w: Window| {
            let mut v: Vec<R> = (1..=n)
                .filter(|i| match (w.from, w.descending) {
                    (None, _) => true,
                    (Some(k), false) => *i > k,
                    (Some(k), true) => *i < k,
                })
                .map(R)
                .collect();
            if w.descending {
                v.reverse();
            }
            v.truncate(w.limit);
            Ok(v)
        }
    }

    #[test]
    fn walks_a_big_table_holding_a_bounded_window() {
        let mut f = table(10_000);
        let mut p = Pager::new(false);
        p.top(&mut f).unwrap();
        for _ in 0..2_000 {
            p.down(1, &mut f).unwrap();
        }
        assert_eq!(p.selected(), Some(&R(2_001)));
        assert!(p.rows.len() <= MAX_HELD);
        p.up(1_500, &mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(501)));
        p.bottom(&mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(10_000)));
        p.up(150, &mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(9_850)));
        p.top(&mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(1)));
    }

    #[test]
    fn descending_order_and_refresh_keep_selection() {
        let mut f = table(300);
        let mut p = Pager::new(true);
        p.top(&mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(300)));
        p.down(5, &mut f).unwrap();
        p.refresh(&mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(295)));
        assert_eq!(p.position(), Some(6));
        let (off, vis) = p.visible(3);
        assert_eq!((off, vis.len()), (3, 3));
    }

    #[test]
    fn positions_stay_absolute_across_fetches_and_refreshes() {
        let mut f = table(1_000);
        let mut p = Pager::new(false);
        p.top(&mut f).unwrap();
        p.down(650, &mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(651)));
        assert_eq!(p.position(), Some(651));
        p.refresh(&mut f).unwrap();
        assert_eq!(p.selected(), Some(&R(651)));
        assert_eq!(p.position(), Some(651));
        p.up(600, &mut f).unwrap();
        assert_eq!(p.position(), Some(51));
        p.bottom(&mut f).unwrap();
        p.anchor_end(1_000);
        assert_eq!(p.position(), Some(1_000));
    }
}
