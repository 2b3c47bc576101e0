//! Jobs: the outbound write queue. It opens on what needs a human — failed
//! and dead jobs, newest first — and other statuses and error classes are
//! chosen from a list with their counts. Enter shows a job's whole error
//! and attempt log; retry, retry all matching, cancel.

use std::collections::{BTreeMap, HashMap};

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};

use super::common::{
    Finder, HSCROLL_STEP, Spec, Text, cut, links_to_learn, paged_table, sort_picker, title,
};
use super::{Load, Paint, View};
use crate::console::clock::short_time;
use crate::console::pager::{Keyed, Pager, moves};
use crate::console::types::{
    Action, Cmd, JobStatuses, Open, PickItem, Selection, SortKey, ViewId, ViewMsg, Write,
};
use crate::domain::{ErrorClass, JobStatus};
use crate::store::{Db, Job, JobFilter, StoreError, Window, jobs_in};

impl Keyed for Job {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Jobs view state.
#[derive(Debug, Clone)]
pub struct JobsView {
    /// Which statuses are listed.
    pub statuses: JobStatuses,
    /// Only this error class.
    pub class: Option<ErrorClass>,
    /// Loaded window.
    pub pager: Pager<Job>,
    /// Names of the links of loaded rows (`ENG-42`).
    pub link_names: HashMap<i64, String>,
    /// Matching jobs when the filter has an error class (counted on change).
    pub class_count: Option<i64>,
    /// `/` text and matches.
    pub finder: Finder,
    /// How far the error column is scrolled sideways.
    pub hscroll: usize,
    /// Rows per page at the last draw.
    pub page: usize,
}

impl Default for JobsView {
    fn default() -> Self {
        JobsView {
            statuses: JobStatuses::Attention,
            class: None,
            pager: Pager::new(true),
            link_names: HashMap::new(),
            class_count: None,
            finder: Finder::default(),
            hscroll: 0,
            page: 10,
        }
    }
}

fn fetch(
    statuses: JobStatuses,
    class: Option<ErrorClass>,
    db: Db<'_>,
) -> impl FnMut(Window) -> Result<Vec<Job>, StoreError> + '_ {
    move |w| db.jobs_in_statuses(&statuses.statuses(), class, w)
}

/// How many jobs a status choice covers, from the counters.
fn counted(jobs: &BTreeMap<String, i64>, statuses: JobStatuses) -> i64 {
    match statuses {
        JobStatuses::Any => jobs.values().sum(),
        other => other.statuses().iter().map(|st| jobs_in(jobs, *st)).sum(),
    }
}

fn row_text(j: &Job) -> String {
    format!(
        "#{} {} {} {} {} {}",
        j.id,
        j.status.as_str(),
        j.kind.as_str(),
        j.target.as_str(),
        j.error_class.map_or("", ErrorClass::as_str),
        j.last_error.as_deref().unwrap_or("")
    )
}

impl JobsView {
    /// The filter "retry all matching" and `:retry` use for what is shown.
    pub fn retry_filter(&self) -> JobFilter {
        self.statuses.retry_filter(self.class)
    }

    fn fill_names(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        let shown = self.pager.rows.iter().filter_map(|j| j.link_id).collect();
        let (missing, found) = links_to_learn(db, &mut self.link_names, shown)?;
        for l in found {
            let name = l.linear_name().unwrap_or("…").to_string();
            self.link_names.insert(l.id, name);
        }
        for id in missing {
            self.link_names
                .entry(id)
                .or_insert_with(|| format!("L{id}"));
        }
        Ok(())
    }

    fn reset(&mut self, db: Db<'_>) -> Result<(), StoreError> {
        self.class_count = match self.class {
            Some(c) => {
                let mut n = 0;
                for s in self.statuses.statuses() {
                    n += db.count_jobs(&JobFilter {
                        status: Some(s),
                        error_class: Some(c),
                    })?;
                }
                if self.statuses == JobStatuses::Any {
                    n = db.count_jobs(&JobFilter {
                        status: None,
                        error_class: Some(c),
                    })?;
                }
                Some(n)
            }
            None => None,
        };
        let mut f = fetch(self.statuses, self.class, db);
        self.pager.top(&mut f)?;
        self.fill_names(db)
    }

    fn status_picker(&self, db: Db<'_>) -> Result<Action, StoreError> {
        let jobs = db.counts()?.jobs;
        let mut choices = vec![JobStatuses::Attention];
        choices.extend(JobStatus::ALL.iter().map(|st| JobStatuses::One(*st)));
        choices.push(JobStatuses::Any);
        let selected = choices
            .iter()
            .position(|c| *c == self.statuses)
            .unwrap_or(0);
        let items = choices
            .into_iter()
            .map(|c| PickItem {
                label: match c {
                    JobStatuses::Attention => "needs attention (failed + dead)".into(),
                    other => other.words(),
                },
                detail: counted(&jobs, c).to_string(),
                action: Action::Tell(ViewId::Jobs, ViewMsg::JobStatuses(c)),
            })
            .collect();
        Ok(Action::Open(Open::Picker {
            title: "Show jobs with status".into(),
            items,
            selected,
        }))
    }

    fn class_picker(&self) -> Action {
        let mut choices = vec![None];
        choices.extend(ErrorClass::ALL.iter().map(|c| Some(*c)));
        let selected = choices.iter().position(|c| *c == self.class).unwrap_or(0);
        let items = choices
            .into_iter()
            .map(|c| PickItem {
                label: c.map_or("any error class", ErrorClass::as_str).into(),
                detail: String::new(),
                action: Action::Tell(ViewId::Jobs, ViewMsg::JobClass(c)),
            })
            .collect();
        Action::Open(Open::Picker {
            title: "Show jobs with error class".into(),
            items,
            selected,
        })
    }
}

impl View for JobsView {
    fn id(&self) -> ViewId {
        ViewId::Jobs
    }

    fn reload(&mut self, cx: &Load<'_>) -> Result<(), StoreError> {
        let mut f = fetch(self.statuses, self.class, cx.db);
        self.pager.refresh(&mut f)?;
        self.fill_names(cx.db)
    }

    fn on_cmd(&mut self, cmd: Cmd, cx: &Load<'_>) -> Result<Option<Action>, StoreError> {
        let page = self.page;
        let sel = self.pager.selected().map(|j| j.id);
        let mut f = fetch(self.statuses, self.class, cx.db);
        match cmd {
            _ if moves(cmd) => self.pager.step(cmd, page, &mut f)?,
            Cmd::Bottom => {
                self.pager.bottom(&mut f)?;
                let total = match self.class_count {
                    Some(n) => n,
                    None => counted(&cx.db.counts()?.jobs, self.statuses),
                };
                self.pager.anchor_end(usize::try_from(total).unwrap_or(0));
            }
            Cmd::Left => self.hscroll = self.hscroll.saturating_sub(HSCROLL_STEP),
            Cmd::Right => self.hscroll += HSCROLL_STEP,
            Cmd::Open => return Ok(sel.map(|id| Action::Open(Open::Job(id)))),
            Cmd::Retry => return Ok(sel.map(|id| Action::Write(Write::RetryJobs(vec![id])))),
            Cmd::Cancel => return Ok(sel.map(|id| Action::Write(Write::CancelJobs(vec![id])))),
            Cmd::RetryAll => {
                return Ok(Some(Action::Write(Write::RetryMatching(
                    self.retry_filter(),
                ))));
            }
            Cmd::StatusFilter => return Ok(Some(self.status_picker(cx.db)?)),
            Cmd::ClassFilter => return Ok(Some(self.class_picker())),
            Cmd::Sort => {
                return Ok(Some(sort_picker(
                    ViewId::Jobs,
                    "jobs",
                    &[SortKey::Newest, SortKey::Oldest],
                    if self.pager.desc {
                        SortKey::Newest
                    } else {
                        SortKey::Oldest
                    },
                )));
            }
            Cmd::Copy => return Ok(sel.map(|id| Action::Copy(id.to_string()))),
            Cmd::Urls => {
                return Ok(self
                    .pager
                    .selected()
                    .and_then(|j| j.link_id)
                    .map(|l| Action::Open(Open::Urls(l))));
            }
            Cmd::NextMatch | Cmd::PrevMatch => {
                if let Err(e) = self
                    .finder
                    .next(&mut self.pager, cmd == Cmd::NextMatch, row_text)
                {
                    return Ok(Some(Action::Fail(e)));
                }
            }
            Cmd::Back if self.finder.text.is_some() => self.finder.text = None,
            Cmd::Back if self.hscroll > 0 => self.hscroll = 0,
            Cmd::Back if self.statuses != JobStatuses::Attention || self.class.is_some() => {
                self.statuses = JobStatuses::Attention;
                self.class = None;
                self.reset(cx.db)?;
            }
            _ => {}
        }
        self.fill_names(cx.db)?;
        Ok(None)
    }

    fn on_msg(&mut self, msg: ViewMsg, cx: &Load<'_>) -> Result<(), StoreError> {
        match msg {
            ViewMsg::JobStatuses(s) => {
                self.statuses = s;
                self.reset(cx.db)
            }
            ViewMsg::JobClass(c) => {
                self.class = c;
                self.reset(cx.db)
            }
            ViewMsg::Sort(k) => {
                self.pager.desc = k != SortKey::Oldest;
                self.reset(cx.db)
            }
            _ => Ok(()),
        }
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>) {
        let total = match (self.class_count, cx.summary) {
            (Some(n), _) => Some(n),
            (None, Some(s)) => Some(counted(&s.jobs, self.statuses)),
            _ => None,
        };
        let mut detail = self.statuses.words();
        if let Some(c) = self.class {
            detail.push_str(&format!(" · class {c}"));
        }
        detail.push_str(if self.pager.desc {
            " · newest first"
        } else {
            " · oldest first"
        });
        if let Some(t) = &self.finder.text {
            detail.push_str(&format!(" · find \"{t}\""));
        }
        detail.push(' ');
        let now = cx.now;
        let theme = *cx.theme;
        let wide = area.width >= 110;
        let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
            (
                vec![
                    "id",
                    "status",
                    "kind",
                    "to",
                    "link",
                    "att",
                    "class",
                    "when",
                    "last error",
                ],
                vec![
                    Constraint::Length(7),
                    Constraint::Length(9),
                    Constraint::Length(8),
                    Constraint::Length(6),
                    Constraint::Length(9),
                    Constraint::Length(5),
                    Constraint::Length(12),
                    Constraint::Length(12),
                    Constraint::Min(10),
                ],
            )
        } else {
            (
                vec!["id", "status", "link", "class", "last error"],
                vec![
                    Constraint::Length(6),
                    Constraint::Length(9),
                    Constraint::Length(9),
                    Constraint::Length(12),
                    Constraint::Min(10),
                ],
            )
        };
        let names = self.link_names.clone();
        let find = self.finder.text.clone();
        self.page = paged_table(
            f,
            area,
            Spec {
                title: title("Jobs", detail, &theme),
                total,
                header: &header,
                widths: &widths,
                wide: Some(header.len() - 1),
                hscroll: self.hscroll,
                find: find.as_deref(),
            },
            &mut self.pager,
            cx,
            |j| {
                let status_style = match j.status {
                    JobStatus::Failed | JobStatus::Dead => Some(theme.error),
                    JobStatus::Succeeded => Some(theme.ok),
                    _ => None,
                };
                let id = Text::from(format!("#{}", j.id));
                let status = Text {
                    text: j.status.as_str().into(),
                    style: status_style,
                };
                let link = Text::from(j.link_id.map_or("-".to_string(), |l| {
                    names.get(&l).cloned().unwrap_or_else(|| format!("L{l}"))
                }));
                let class = Text::from(j.error_class.map_or("", ErrorClass::as_str));
                let error = Text::from(j.last_error.clone().unwrap_or_default());
                if !wide {
                    return vec![id, status, link, class, error];
                }
                vec![
                    id,
                    status,
                    Text::from(cut(j.kind.as_str(), 8)),
                    Text::from(j.target.as_str()),
                    link,
                    Text::from(format!("{}/{}", j.attempts, j.max_attempts)),
                    class,
                    Text::from(if j.status == JobStatus::Queued {
                        format!("run {}", short_time(j.next_run_at, now))
                    } else {
                        short_time(j.updated_at, now)
                    }),
                    error,
                ]
            },
            |_| false,
        );
    }

    fn search_prompt(&self) -> Option<&'static str> {
        Some("find in jobs (id, status, class, error text)")
    }

    fn search_text(&self) -> String {
        self.finder.text.clone().unwrap_or_default()
    }

    fn search(&mut self, text: &str, cx: &Load<'_>) -> Result<Option<Action>, String> {
        self.finder.set(text, &mut self.pager, row_text)?;
        self.fill_names(cx.db).map_err(|e| e.to_string())?;
        Ok(None)
    }

    fn select_row(&mut self, i: usize) {
        self.pager.select_index(i);
    }

    fn selection(&self) -> Selection {
        Selection::Jobs {
            selected: self.pager.selected().map(|j| j.id),
            filter: self.retry_filter(),
        }
    }
}
