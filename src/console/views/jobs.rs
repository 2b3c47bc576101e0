//! Jobs: the outbound write queue, filterable by status and error class, with
//! each job's attempt log, retry, retry-all-matching and cancel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::Cell;

use super::common::{DrawCtx, cut, paged_table, title};
use crate::console::app::Action;
use crate::console::clock::short_time;
use crate::console::keymap::Cmd;
use crate::console::layers::Layer;
use crate::console::pager::{Keyed, Pager};
use crate::domain::{ErrorClass, JobStatus};
use crate::store::{Db, Job, JobFilter, StoreError, Summary};

impl Keyed for Job {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Jobs view state.
#[derive(Debug, Clone)]
pub struct JobsState {
    /// Current filter.
    pub filter: JobFilter,
    /// Loaded window.
    pub pager: Pager<Job>,
    /// Rows per page at the last draw.
    pub page: usize,
    /// Matching jobs when the filter has an error class (counted on change).
    pub class_count: Option<i64>,
}

impl Default for JobsState {
    fn default() -> Self {
        JobsState {
            filter: JobFilter::default(),
            pager: Pager::new(false),
            page: 10,
            class_count: None,
        }
    }
}

/// Parse "failed rate_limited", "status=dead", "any" into a filter.
pub fn parse_filter(text: &str) -> Result<JobFilter, String> {
    let mut f = JobFilter::default();
    for word in text.split_whitespace() {
        let w = word
            .trim_start_matches("status=")
            .trim_start_matches("class=");
        if w == "any" || w == "all" {
            continue;
        }
        if let Ok(s) = w.parse::<JobStatus>() {
            f.status = Some(s);
        } else if let Ok(c) = w.parse::<ErrorClass>() {
            f.error_class = Some(c);
        } else {
            return Err(format!(
                "'{w}' is neither a job status (queued, running, succeeded, failed, dead, cancelled) nor an error class"
            ));
        }
    }
    Ok(f)
}

/// The filter as words ("failed rate_limited").
pub fn filter_words(f: &JobFilter) -> String {
    let mut words = Vec::new();
    if let Some(s) = f.status {
        words.push(s.as_str());
    }
    if let Some(c) = f.error_class {
        words.push(c.as_str());
    }
    words.join(" ")
}

fn cycle<T: Copy + PartialEq>(all: &[T], cur: Option<T>) -> Option<T> {
    match cur {
        None => all.first().copied(),
        Some(c) => {
            let i = all.iter().position(|x| *x == c).map_or(0, |i| i + 1);
            all.get(i).copied()
        }
    }
}

impl JobsState {
    fn fetch(
        filter: JobFilter,
        db: Db<'_>,
    ) -> impl FnMut(crate::store::Window) -> Result<Vec<Job>, StoreError> + '_ {
        move |w| db.jobs(&filter, w)
    }

    /// Re-read the loaded window.
    pub fn refresh(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        let mut f = Self::fetch(self.filter.clone(), db);
        self.pager.refresh(&mut f)
    }

    /// Change the filter and reload from the top.
    pub fn apply(&mut self, filter: JobFilter, db: Db<'_>) -> Result<(), StoreError> {
        self.filter = filter;
        self.class_count = match self.filter.error_class {
            Some(_) => Some(db.count_jobs(&self.filter)?),
            None => None,
        };
        let mut f = Self::fetch(self.filter.clone(), db);
        self.pager.top(&mut f)
    }

    /// Apply a filter typed at the prompt.
    pub fn set_filter(&mut self, text: &str, db: Db<'_>) -> Result<(), String> {
        let f = parse_filter(text)?;
        self.apply(f, db).map_err(|e| e.to_string())
    }

    /// The filter as prompt text.
    pub fn filter_text(&self) -> String {
        filter_words(&self.filter)
    }

    /// Answer a command.
    pub fn on_cmd(&mut self, cmd: Cmd, db: Db<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        let sel = self.pager.selected().map(|j| j.id);
        let mut f = Self::fetch(self.filter.clone(), db);
        match cmd {
            Cmd::Down => self.pager.down(1, &mut f)?,
            Cmd::Up => self.pager.up(1, &mut f)?,
            Cmd::PageDown => self.pager.down(page, &mut f)?,
            Cmd::PageUp => self.pager.up(page, &mut f)?,
            Cmd::Top => self.pager.top(&mut f)?,
            Cmd::Bottom => self.pager.bottom(&mut f)?,
            Cmd::Open => {
                if let Some(job) = self.pager.selected().cloned() {
                    let attempts = db.attempts(job.id)?;
                    return Ok(Some(Action::Open(Box::new(Layer::Attempts {
                        job,
                        attempts,
                        scroll: 0,
                    }))));
                }
            }
            Cmd::Retry => return Ok(sel.map(|id| Action::RetryJobs(vec![id]))),
            Cmd::Cancel => return Ok(sel.map(|id| Action::CancelJobs(vec![id]))),
            Cmd::RetryAll => return Ok(Some(Action::RetryMatching(self.filter.clone()))),
            Cmd::CycleStatus => {
                let mut nf = self.filter.clone();
                nf.status = cycle(&JobStatus::ALL, nf.status);
                self.apply(nf, db)?;
            }
            Cmd::CycleClass => {
                let mut nf = self.filter.clone();
                nf.error_class = cycle(&ErrorClass::ALL, nf.error_class);
                self.apply(nf, db)?;
            }
            Cmd::Back if self.filter != JobFilter::default() => {
                self.apply(JobFilter::default(), db)?;
            }
            _ => {}
        }
        Ok(None)
    }

    /// Draw the table.
    pub fn draw(
        &mut self,
        f: &mut Frame<'_>,
        area: Rect,
        summary: Option<&Summary>,
        cx: &mut DrawCtx<'_>,
    ) {
        let count = match (self.filter.status, self.class_count, summary) {
            (_, Some(n), _) => n.to_string(),
            (Some(s), None, Some(sum)) => sum.jobs_in(s).to_string(),
            (None, None, Some(sum)) => sum.jobs.values().sum::<i64>().to_string(),
            _ => "?".to_string(),
        };
        let filt = filter_words(&self.filter);
        let detail = format!(
            "{count} {}· filter: {} ",
            "jobs ",
            if filt.is_empty() { "none" } else { &filt }
        );
        let now = cx.now;
        let wide = area.width >= 120;
        let mut header = vec![
            "id", "status", "kind", "to", "link", "att", "class", "next run",
        ];
        let mut widths = vec![
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(5),
            Constraint::Length(12),
            Constraint::Length(11),
        ];
        if wide {
            header.push("last error");
            widths.push(Constraint::Min(10));
        }
        self.page = paged_table(
            f,
            area,
            title("Jobs", detail, cx.theme),
            &header,
            &widths,
            &mut self.pager,
            cx,
            |j| {
                let mut cells = vec![
                    Cell::from(format!("#{}", j.id)),
                    Cell::from(j.status.as_str()),
                    Cell::from(cut(j.kind.as_str(), 8)),
                    Cell::from(j.target.as_str()),
                    Cell::from(j.link_id.map_or("-".into(), |l| format!("L{l}"))),
                    Cell::from(format!("{}/{}", j.attempts, j.max_attempts)),
                    Cell::from(j.error_class.map_or("", ErrorClass::as_str)),
                    Cell::from(if j.status == JobStatus::Queued {
                        short_time(j.next_run_at, now)
                    } else {
                        "-".to_string()
                    }),
                ];
                if wide {
                    cells.push(Cell::from(cut(j.last_error.as_deref().unwrap_or(""), 60)));
                }
                cells
            },
            |_| false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_words_round_trip() {
        let f = parse_filter("failed rate_limited").unwrap();
        assert_eq!(f.status, Some(JobStatus::Failed));
        assert_eq!(f.error_class, Some(ErrorClass::RateLimited));
        assert_eq!(filter_words(&f), "failed rate_limited");
        assert!(parse_filter("bogus").is_err());
        assert_eq!(parse_filter("any").unwrap(), JobFilter::default());
    }
}
