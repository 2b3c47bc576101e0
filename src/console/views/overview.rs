//! Overview: is sync healthy, and if not, where to look. Problems lead: the
//! verdict and its reasons on top, then what needs a human (conflicts,
//! failed and dead jobs — each count jumps to exactly the rows it counts),
//! then sync, then quota. Everything comes from maintained counters, the
//! latest quota readings and time-indexed aggregates, so it costs the same
//! on any store size; ages are recomputed from the clock on every frame.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, LineGauge, Paragraph, Sparkline};

use super::common::title;
use super::{Load, Paint, View};
use crate::console::clock::short_time;
use crate::console::keymap;
use crate::console::theme::Theme;
use crate::console::types::{Action, Cmd, Ctx, Hit, JobStatuses, Open, ViewId, ViewMsg};
use crate::console::wrap::wrap;
use crate::domain::{JobStatus, QuotaKind, QuotaSample, Side};
use crate::health::{Health, Verdict, human_ms};
use crate::store::{ActivityStats, ConflictStatus, Db, StoreError, Summary, WriteMinutes, to_ms};

/// Minutes shown in the throughput sparkline.
pub const SPARK_MINUTES: usize = 30;
/// Window of the error rate and of the quota burn rate.
pub const RATE_WINDOW_MS: i64 = 15 * 60_000;

/// One connector's quota with its forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaView {
    /// The latest reading.
    pub sample: QuotaSample,
    /// Requests used per minute at the current burn, if measurable.
    pub burn_per_min: Option<f64>,
    /// When remaining hits zero at that burn (ms), if it does before reset.
    pub exhausts_at: Option<i64>,
}

/// Overview state: recent activity and quota forecasts.
#[derive(Debug, Clone, Default)]
pub struct OverviewView {
    /// Throughput and error rate.
    pub stats: ActivityStats,
    /// Quota gauges.
    pub quotas: Vec<QuotaView>,
    /// Engine writes of the settled minutes, so a reload counts only the
    /// newest audit rows.
    pub write_minutes: WriteMinutes,
}

/// Burn rate and exhaustion time from a series of readings in the same
/// reset window (readings from an earlier window are ignored).
pub fn forecast(latest: &QuotaSample, series: &[QuotaSample]) -> (Option<f64>, Option<i64>) {
    let same: Vec<&QuotaSample> = series
        .iter()
        .filter(|s| s.reset_at == latest.reset_at)
        .collect();
    let (Some(first), Some(last)) = (same.first(), same.last()) else {
        return (None, None);
    };
    let dt = to_ms(last.sampled_at) - to_ms(first.sampled_at);
    if dt <= 0 {
        return (None, None);
    }
    let used = (first.remaining - last.remaining) as f64;
    let per_ms = used / dt as f64;
    if per_ms <= 0.0 {
        return (Some(0.0), None);
    }
    let eta = to_ms(last.sampled_at) + (last.remaining as f64 / per_ms).round() as i64;
    let before_reset = latest.reset_at.is_none_or(|r| eta < to_ms(r));
    (Some(per_ms * 60_000.0), before_reset.then_some(eta))
}

/// The share of a quota used, 0.0 to 1.0.
pub fn used_ratio(s: &QuotaSample) -> f64 {
    if s.limit > 0 {
        ((s.limit - s.remaining) as f64 / s.limit as f64).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// Colour of a quota by how much is used: red from 90 %, yellow from 70 %.
fn quota_style(ratio: f64, theme: &Theme) -> Style {
    if ratio >= 0.9 {
        theme.error
    } else if ratio >= 0.7 {
        theme.warn
    } else {
        theme.ok
    }
}

/// The gauge label: "linear requests used 1000/1500 (67%)".
pub fn quota_label(s: &QuotaSample) -> String {
    format!(
        "{} {} used {}/{} ({:.0}%)",
        s.connector.as_str(),
        s.kind,
        (s.limit - s.remaining).max(0),
        s.limit,
        used_ratio(s) * 100.0
    )
}

/// What is known about the reset and the burn: "resets in 20m 0s (14:20:00)
/// · runs out in 1m 40s at the current rate". Says nothing about a reset
/// time it does not know.
pub fn quota_note(q: &QuotaView, now: i64) -> (String, bool) {
    let mut parts = Vec::new();
    let mut alarming = false;
    if let Some(r) = q.sample.reset_at.map(to_ms) {
        if r > now {
            parts.push(format!(
                "resets in {} ({})",
                human_ms(r - now),
                short_time(r, now)
            ));
        } else {
            parts.push(format!(
                "reset due {}; waiting for a new reading",
                short_time(r, now)
            ));
        }
    }
    match (q.exhausts_at, q.burn_per_min) {
        (Some(t), _) if t > now => {
            alarming = true;
            parts.push(format!(
                "runs out in {} at the current rate",
                human_ms(t - now)
            ));
        }
        (None, Some(b)) if b > 0.0 => parts.push(format!("{b:.0}/min, lasts until the reset")),
        _ => {}
    }
    (parts.join(" · "), alarming)
}

impl OverviewView {
    fn quota_series(
        db: Db<'_>,
        side: Side,
        kind: QuotaKind,
        now: i64,
    ) -> Result<Vec<QuotaSample>, StoreError> {
        db.quota_series(side, kind, now - RATE_WINDOW_MS, 240)
    }

    /// The verdict and its reasons, wrapped; when they need more lines
    /// than `area` has, the last line says where the rest is.
    fn draw_verdict(area: Rect, f: &mut Frame<'_>, h: &Health, cx: &Paint<'_>) {
        let style = match h.verdict {
            Verdict::Healthy => cx.theme.ok,
            Verdict::Degraded => cx.theme.warn,
            Verdict::Down => cx.theme.error,
        }
        .add_modifier(Modifier::BOLD);
        let line = Line::from(vec![
            Span::styled(format!(" ● {} ", h.verdict.as_str().to_uppercase()), style),
            Span::styled(verdict_reasons(h), cx.theme.text),
        ]);
        let mut rows = wrap(&[line], area.width as usize, 1);
        let room = area.height as usize;
        if rows.len() > room && room > 0 {
            rows.truncate(room);
            let more = format!(" … {} all reasons", keymap::shown(Ctx::Global, Cmd::Open));
            let keep = (area.width as usize).saturating_sub(more.chars().count());
            if let Some(last) = rows.last_mut() {
                let text: String = last
                    .spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
                    .chars()
                    .take(keep)
                    .collect();
                *last = Line::from(vec![
                    Span::styled(text, cx.theme.text),
                    Span::styled(more, cx.theme.key),
                ]);
            }
        }
        f.render_widget(Paragraph::new(rows), area);
    }

    fn draw_queues(area: Rect, f: &mut Frame<'_>, s: &Summary, cx: &mut Paint<'_>) {
        let theme = cx.theme;
        let block = panel("Needs attention", theme);
        let inner = block.inner(area);
        f.render_widget(block, area);
        let failed = s.jobs_in(JobStatus::Failed);
        let dead = s.jobs_in(JobStatus::Dead);
        let key = |cmd| format!("[{}]", keymap::shown(Ctx::View(ViewId::Overview), cmd));
        let count_style = |n: i64, bad: Style| if n > 0 { bad } else { theme.ok };
        let mut lines = vec![
            Line::from(vec![
                Span::styled(
                    format!("{:>7} ", s.open_conflicts),
                    count_style(s.open_conflicts, theme.warn),
                ),
                Span::raw("open conflicts  "),
                Span::styled(key(Cmd::GoConflicts), theme.key),
            ]),
            Line::from(vec![
                Span::styled(
                    format!("{:>7} ", failed + dead),
                    count_style(failed + dead, theme.error),
                ),
                Span::raw(format!(
                    "failed + dead jobs ({failed} failed, {dead} dead)  "
                )),
                Span::styled(key(Cmd::GoProblems), theme.key),
            ]),
            Line::from(Span::styled(
                format!(
                    "{:>7} queued · {} running · {} succeeded · {} cancelled",
                    s.jobs_in(JobStatus::Queued),
                    s.jobs_in(JobStatus::Running),
                    s.jobs_in(JobStatus::Succeeded),
                    s.jobs_in(JobStatus::Cancelled)
                ),
                theme.dim,
            )),
        ];
        if let Some(why) = &s.deletes_paused {
            lines.push(Line::from(Span::styled(
                format!("deletes paused: {why}"),
                theme.error,
            )));
        }
        for (i, cmd) in [Cmd::GoConflicts, Cmd::GoProblems].into_iter().enumerate() {
            if inner.height > i as u16 {
                cx.hits.push((
                    Rect::new(inner.x, inner.y + i as u16, inner.width, 1),
                    Hit::Key(cmd),
                ));
            }
        }
        f.render_widget(Paragraph::new(lines), inner);
    }

    fn draw_sync(&self, area: Rect, f: &mut Frame<'_>, s: &Summary, h: &Health, cx: &Paint<'_>) {
        let theme = cx.theme;
        let block = panel("Sync", theme);
        let inner = block.inner(area);
        f.render_widget(block, area);
        let heartbeat = h
            .heartbeat_age_ms
            .map_or("never".to_string(), |a| format!("{} ago", human_ms(a)));
        let total: u64 = self.stats.changes_per_minute.iter().sum();
        let last = self.stats.changes_per_minute.last().copied().unwrap_or(0);
        let rate = self.stats.error_rate() * 100.0;
        let rate_style = if rate >= 10.0 {
            theme.error
        } else if rate > 0.0 {
            theme.warn
        } else {
            theme.ok
        };
        let lines = vec![
            Line::from(vec![
                Span::styled("sync lag   ", theme.dim),
                Span::raw(human_ms(h.lag_ms)),
                Span::styled("   engine heartbeat ", theme.dim),
                Span::raw(heartbeat),
            ]),
            Line::from(vec![
                Span::styled("error rate ", theme.dim),
                Span::styled(format!("{rate:.1}%"), rate_style),
                Span::styled(
                    format!(" of {} attempts (15m)", self.stats.attempts),
                    theme.dim,
                ),
            ]),
            Line::from(vec![
                Span::styled("changes    ", theme.dim),
                Span::raw(format!("{last}/min")),
                Span::styled(
                    format!("   {total} in {SPARK_MINUTES}m   links {}", s.links),
                    theme.dim,
                ),
            ]),
        ];
        let [text, spark] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(inner);
        f.render_widget(Paragraph::new(lines), text);
        if spark.height > 0 {
            let data = &self.stats.changes_per_minute;
            let width = spark.width as usize;
            let data = &data[data.len().saturating_sub(width)..];
            f.render_widget(Sparkline::default().data(data).style(theme.ok), spark);
        }
    }

    fn draw_quota(&self, area: Rect, f: &mut Frame<'_>, compact: bool, cx: &Paint<'_>) {
        let theme = cx.theme;
        let block = panel("Quota", theme);
        let inner = block.inner(area);
        f.render_widget(block, area);
        if self.quotas.is_empty() {
            f.render_widget(
                Paragraph::new(Span::styled("no quota readings yet", theme.dim)),
                inner,
            );
            return;
        }
        let per = if compact { 1 } else { 2 };
        let rows =
            Layout::vertical(self.quotas.iter().map(|_| Constraint::Length(per))).split(inner);
        for (q, row) in self.quotas.iter().zip(rows.iter()) {
            let [gauge_area, note_area] =
                Layout::vertical([Constraint::Length(1), Constraint::Length(per - 1)]).areas(*row);
            let ratio = used_ratio(&q.sample);
            let style = quota_style(ratio, theme);
            let label = quota_label(&q.sample);
            let label_w = (label.chars().count() as u16 + 1).min(gauge_area.width / 2);
            let [label_area, bar_area] =
                Layout::horizontal([Constraint::Length(label_w), Constraint::Min(0)])
                    .areas(gauge_area);
            f.render_widget(Paragraph::new(Span::styled(label, style)), label_area);
            f.render_widget(
                LineGauge::default()
                    .ratio(ratio)
                    .label("")
                    .filled_symbol("█")
                    .unfilled_symbol("░")
                    .filled_style(style)
                    .unfilled_style(theme.dim),
                bar_area,
            );
            if note_area.height > 0 {
                let (note, alarming) = quota_note(q, cx.now);
                f.render_widget(
                    Paragraph::new(Span::styled(
                        format!("  {note}"),
                        if alarming { theme.error } else { theme.dim },
                    )),
                    note_area,
                );
            }
        }
    }

    fn facts(&self, s: &Summary, h: &Health, now: i64) -> Vec<String> {
        let mut lines = vec![format!("verdict: {}", h.verdict.as_str())];
        if h.reasons.is_empty() {
            lines.push("  all connectors syncing".into());
        }
        lines.extend(h.reasons.iter().map(|r| format!("  • {r}")));
        lines.push(String::new());
        lines.push(format!(
            "engine heartbeat: {}",
            h.heartbeat_age_ms
                .map_or("never".to_string(), |a| format!("{} ago", human_ms(a)))
        ));
        lines.push(format!("sync lag: {}", human_ms(h.lag_ms)));
        lines.push(format!(
            "links {} · open conflicts {} · jobs failed {}, dead {}, queued {}",
            s.links,
            s.open_conflicts,
            s.jobs_in(JobStatus::Failed),
            s.jobs_in(JobStatus::Dead),
            s.jobs_in(JobStatus::Queued)
        ));
        for q in &self.quotas {
            let (note, _) = quota_note(q, now);
            lines.push(format!("quota: {} · {note}", quota_label(&q.sample)));
        }
        lines
    }
}

fn panel<'a>(name: &str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.dim)
        .title(title(name, String::new(), theme))
}

fn verdict_reasons(h: &Health) -> String {
    if h.reasons.is_empty() {
        "all connectors syncing".to_string()
    } else {
        h.reasons.join("; ")
    }
}

/// Lines the verdict needs at this width (at most `max`).
fn verdict_height(h: &Health, width: u16, max: u16) -> u16 {
    let len = verdict_reasons(h).chars().count() + 14;
    let lines = len / (width.max(20) as usize) + 1;
    (lines as u16).clamp(1, max.max(1))
}

impl View for OverviewView {
    fn id(&self) -> ViewId {
        ViewId::Overview
    }

    fn offers(&self, cmd: Cmd) -> bool {
        !matches!(
            cmd,
            Cmd::Search | Cmd::NextMatch | Cmd::PrevMatch | Cmd::Copy | Cmd::Urls | Cmd::Sort
        )
    }

    fn reload(&mut self, cx: &Load<'_>) -> Result<(), StoreError> {
        self.stats = cx.db.activity(
            cx.now,
            SPARK_MINUTES,
            RATE_WINDOW_MS,
            &mut self.write_minutes,
        )?;
        self.quotas.clear();
        for q in cx.db.latest_quota()? {
            let series = Self::quota_series(cx.db, q.connector, q.kind, cx.now)?;
            let (burn_per_min, exhausts_at) = forecast(&q, &series);
            self.quotas.push(QuotaView {
                sample: q,
                burn_per_min,
                exhausts_at,
            });
        }
        Ok(())
    }

    fn on_cmd(&mut self, cmd: Cmd, cx: &Load<'_>) -> Result<Option<Action>, StoreError> {
        Ok(match cmd {
            Cmd::GoConflicts => Some(Action::Tell(
                ViewId::Conflicts,
                ViewMsg::ConflictStatus(Some(ConflictStatus::Open)),
            )),
            Cmd::GoProblems => Some(Action::Tell(
                ViewId::Jobs,
                ViewMsg::JobStatuses(JobStatuses::Attention),
            )),
            Cmd::Open => {
                let s = cx.db.summary()?;
                let h = crate::health::assess(&s, cx.now);
                Some(Action::Open(Open::Text {
                    title: "Health".into(),
                    lines: self.facts(&s, &h, cx.now),
                }))
            }
            _ => None,
        })
    }

    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>) {
        let (Some(s), Some(h)) = (cx.summary.cloned(), cx.health.cloned()) else {
            return;
        };
        let wide = area.width >= 120 && area.height >= 16;
        let compact = area.height < 20;
        let quota_rows = self.quotas.len().max(1) as u16;
        let max_verdict = if compact { 2 } else { 3 };
        let vh = verdict_height(&h, area.width, max_verdict);
        if wide {
            let [top, rest] =
                Layout::vertical([Constraint::Length(vh), Constraint::Min(0)]).areas(area);
            Self::draw_verdict(top, f, &h, cx);
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(rest);
            let [queues, sync] =
                Layout::vertical([Constraint::Length(6), Constraint::Min(5)]).areas(left);
            Self::draw_queues(queues, f, &s, cx);
            self.draw_sync(sync, f, &s, &h, cx);
            self.draw_quota(right, f, false, cx);
            return;
        }
        let queues_h = if s.deletes_paused.is_some() { 6 } else { 5 };
        let quota_h = quota_rows * if compact { 1 } else { 2 } + 2;
        let [top, queues, sync, quota] = Layout::vertical([
            Constraint::Length(vh),
            Constraint::Length(queues_h),
            Constraint::Min(5),
            Constraint::Length(quota_h),
        ])
        .areas(area);
        Self::draw_verdict(top, f, &h, cx);
        Self::draw_queues(queues, f, &s, cx);
        self.draw_sync(sync, f, &s, &h, cx);
        self.draw_quota(quota, f, compact, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::from_ms;

    fn q(remaining: i64, at: i64, reset: i64) -> QuotaSample {
        QuotaSample {
            connector: Side::Linear,
            kind: QuotaKind::Requests,
            limit: 1500,
            remaining,
            reset_at: Some(from_ms(reset)),
            sampled_at: from_ms(at),
        }
    }

    #[test]
    fn forecasts_exhaustion_before_reset() {
        // 100 used per minute, 200 left, reset in 10 minutes: out in 2.
        let series = vec![q(500, 0, 600_000), q(200, 180_000, 600_000)];
        let (burn, eta) = forecast(&series[1], &series);
        assert_eq!(burn.map(|b| b.round()), Some(100.0));
        assert_eq!(eta, Some(180_000 + 120_000));
        // Slow burn: lasts until reset.
        let series = vec![q(1000, 0, 600_000), q(990, 60_000, 600_000)];
        assert_eq!(forecast(&series[1], &series).1, None);
    }

    #[test]
    fn quota_says_used_of_limit_and_only_known_resets() {
        let s = q(500, 0, 600_000);
        assert_eq!(quota_label(&s), "linear requests used 1000/1500 (67%)");
        let view = QuotaView {
            sample: s.clone(),
            burn_per_min: None,
            exhausts_at: None,
        };
        assert_eq!(quota_note(&view, 0).0, "resets in 10m 0s (00:10:00)");
        let mut unknown = view.clone();
        unknown.sample.reset_at = None;
        assert_eq!(quota_note(&unknown, 0).0, "");
        assert!(quota_note(&view, 700_000).0.starts_with("reset due"));
        let theme = Theme::color();
        assert_eq!(quota_style(0.95, &theme), theme.error);
        assert_eq!(quota_style(0.75, &theme), theme.warn);
        assert_eq!(quota_style(0.2, &theme), theme.ok);
    }
}
