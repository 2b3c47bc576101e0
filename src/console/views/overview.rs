//! Overview: is sync healthy, and if not, where to look. Everything here comes
//! from maintained counters, the latest quota readings and time-indexed
//! aggregates over the last minutes, so it costs the same on any store size.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, LineGauge, Paragraph, Sparkline, Wrap};

use super::common::{DrawCtx, title};
use crate::console::app::Action;
use crate::console::app::Hit;
use crate::console::clock::short_time;
use crate::console::keymap::Cmd;
use crate::domain::{JobStatus, QuotaKind, QuotaSample, Side};
use crate::health::{Health, Verdict, human_ms};
use crate::store::{ActivityStats, Db, StoreError, Summary, to_ms};

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
pub struct OverviewState {
    /// Throughput and error rate.
    pub stats: ActivityStats,
    /// Quota gauges.
    pub quotas: Vec<QuotaView>,
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

impl OverviewState {
    /// Re-read activity and quota.
    pub fn load(&mut self, db: Db<'_>, now: i64) -> Result<(), StoreError> {
        self.stats = db.activity(now, SPARK_MINUTES, RATE_WINDOW_MS)?;
        self.quotas.clear();
        for q in db.latest_quota()? {
            let series = quota_series(db, q.connector, q.kind, now)?;
            let (burn_per_min, exhausts_at) = forecast(&q, &series);
            self.quotas.push(QuotaView {
                sample: q,
                burn_per_min,
                exhausts_at,
            });
        }
        Ok(())
    }

    /// The Overview has no rows; its jumps are handled by the app.
    pub fn on_cmd(&mut self, _cmd: Cmd) -> Option<Action> {
        None
    }

    /// Draw the view.
    pub fn draw(
        &self,
        f: &mut Frame<'_>,
        area: Rect,
        summary: Option<&Summary>,
        health: Option<&Health>,
        cx: &mut DrawCtx<'_>,
    ) {
        let (Some(s), Some(h)) = (summary, health) else {
            return;
        };
        let wide = area.width >= 120;
        let [top, rest] = Layout::vertical([
            Constraint::Length(verdict_height(h, area.width)),
            Constraint::Min(0),
        ])
        .areas(area);
        self.draw_verdict(f, top, h, cx);
        if wide {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(rest);
            let [sync, queues] =
                Layout::vertical([Constraint::Percentage(60), Constraint::Min(7)]).areas(left);
            self.draw_sync(f, sync, s, h, cx);
            draw_queues(f, queues, s, cx);
            self.draw_quota(f, right, cx);
        } else {
            let qh = (self.quotas.len().max(1) as u16) * 2 + 2;
            let [sync, quota, queues] = Layout::vertical([
                Constraint::Length(8),
                Constraint::Length(qh),
                Constraint::Min(0),
            ])
            .areas(rest);
            self.draw_sync(f, sync, s, h, cx);
            self.draw_quota(f, quota, cx);
            draw_queues(f, queues, s, cx);
        }
    }

    fn draw_verdict(&self, f: &mut Frame<'_>, area: Rect, h: &Health, cx: &DrawCtx<'_>) {
        let style = match h.verdict {
            Verdict::Healthy => cx.theme.ok,
            Verdict::Degraded => cx.theme.warn,
            Verdict::Down => cx.theme.error,
        }
        .add_modifier(Modifier::BOLD);
        let why = if h.reasons.is_empty() {
            "all connectors syncing".to_string()
        } else {
            h.reasons.join("; ")
        };
        let line = Line::from(vec![
            Span::styled(format!(" ● {} ", h.verdict.as_str().to_uppercase()), style),
            Span::styled(why, cx.theme.text),
        ]);
        f.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), area);
    }

    fn draw_sync(&self, f: &mut Frame<'_>, area: Rect, s: &Summary, h: &Health, cx: &DrawCtx<'_>) {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(cx.theme.dim)
            .title(title("Sync", String::new(), cx.theme));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let heartbeat = h
            .heartbeat_age_ms
            .map_or("never".to_string(), |a| format!("{} ago", human_ms(a)));
        let total: u64 = self.stats.changes_per_minute.iter().sum();
        let last = self.stats.changes_per_minute.last().copied().unwrap_or(0);
        let rate = self.stats.error_rate() * 100.0;
        let rate_style = if rate >= 10.0 {
            cx.theme.error
        } else if rate > 0.0 {
            cx.theme.warn
        } else {
            cx.theme.ok
        };
        let lines = vec![
            Line::from(vec![
                Span::styled("sync lag   ", cx.theme.dim),
                Span::raw(human_ms(h.lag_ms)),
                Span::styled("   heartbeat ", cx.theme.dim),
                Span::raw(heartbeat),
            ]),
            Line::from(vec![
                Span::styled("error rate ", cx.theme.dim),
                Span::styled(format!("{rate:.1}%"), rate_style),
                Span::styled(
                    format!(" of {} attempts (15m)", self.stats.attempts),
                    cx.theme.dim,
                ),
            ]),
            Line::from(vec![
                Span::styled("changes    ", cx.theme.dim),
                Span::raw(format!("{last}/min")),
                Span::styled(
                    format!("   {total} in {SPARK_MINUTES}m   links {}", s.links),
                    cx.theme.dim,
                ),
            ]),
        ];
        let [text, spark] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(inner);
        f.render_widget(Paragraph::new(lines), text);
        let data: Vec<u64> = self.stats.changes_per_minute.clone();
        let width = spark.width as usize;
        let data = &data[data.len().saturating_sub(width)..];
        f.render_widget(Sparkline::default().data(data).style(cx.theme.ok), spark);
    }

    fn draw_quota(&self, f: &mut Frame<'_>, area: Rect, cx: &DrawCtx<'_>) {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(cx.theme.dim)
            .title(title("Quota", String::new(), cx.theme));
        let inner = block.inner(area);
        f.render_widget(block, area);
        if self.quotas.is_empty() {
            f.render_widget(
                Paragraph::new(Span::styled("no quota readings yet", cx.theme.dim)),
                inner,
            );
            return;
        }
        let rows = Layout::vertical(self.quotas.iter().map(|_| Constraint::Length(2))).split(inner);
        for (q, row) in self.quotas.iter().zip(rows.iter()) {
            let [gauge_area, note_area] =
                Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(*row);
            let s = &q.sample;
            let ratio = if s.limit > 0 {
                (s.remaining as f64 / s.limit as f64).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let style = if ratio < 0.1 {
                cx.theme.error
            } else if ratio < 0.3 {
                cx.theme.warn
            } else {
                cx.theme.gauge
            };
            let label = format!(
                "{:<6} {:<10} {:>6}/{:<6}",
                s.connector.as_str(),
                s.kind,
                s.remaining,
                s.limit
            );
            f.render_widget(
                LineGauge::default()
                    .ratio(ratio)
                    .label(label)
                    .filled_symbol("█")
                    .unfilled_symbol("░")
                    .filled_style(style)
                    .unfilled_style(cx.theme.dim),
                gauge_area,
            );
            let reset = s
                .reset_at
                .map(to_ms)
                .map_or("no reset time".to_string(), |r| {
                    format!(
                        "resets {} (in {})",
                        short_time(r, cx.now),
                        human_ms(r - cx.now)
                    )
                });
            let (fc, fc_style) = match (q.exhausts_at, q.burn_per_min) {
                (Some(t), _) => (
                    format!("exhausts in {} at current burn", human_ms(t - cx.now)),
                    cx.theme.error,
                ),
                (None, Some(b)) if b > 0.0 => {
                    (format!("{b:.0}/min, lasts until reset"), cx.theme.ok)
                }
                _ => ("steady".to_string(), cx.theme.dim),
            };
            f.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(format!("  {reset} · "), cx.theme.dim),
                    Span::styled(fc, fc_style),
                ])),
                note_area,
            );
        }
    }
}

fn quota_series(
    db: Db<'_>,
    side: Side,
    kind: QuotaKind,
    now: i64,
) -> Result<Vec<QuotaSample>, StoreError> {
    db.quota_series(side, kind, now - RATE_WINDOW_MS, 240)
}

fn verdict_height(h: &Health, width: u16) -> u16 {
    let len: usize = h.reasons.iter().map(|r| r.len() + 2).sum::<usize>() + 14;
    let lines = len / (width.max(20) as usize) + 1;
    (lines as u16).min(3)
}

fn draw_queues(f: &mut Frame<'_>, area: Rect, s: &Summary, cx: &mut DrawCtx<'_>) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(cx.theme.dim)
        .title(title("Queues", String::new(), cx.theme));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let conflicts_style = if s.open_conflicts > 0 {
        cx.theme.warn
    } else {
        cx.theme.ok
    };
    let failed = s.jobs_in(JobStatus::Failed);
    let dead = s.jobs_in(JobStatus::Dead);
    let failed_style = if failed + dead > 0 {
        cx.theme.error
    } else {
        cx.theme.ok
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("{:>7} ", s.open_conflicts), conflicts_style),
            Span::raw("open conflicts  "),
            Span::styled("[c]", cx.theme.key),
        ]),
        Line::from(vec![
            Span::styled(format!("{failed:>7} "), failed_style),
            Span::raw(format!("failed, {dead} dead jobs  ")),
            Span::styled("[f]", cx.theme.key),
        ]),
        Line::from(Span::styled(
            format!(
                "{:>7} queued · {} running · {} succeeded · {} cancelled",
                s.jobs_in(JobStatus::Queued),
                s.jobs_in(JobStatus::Running),
                s.jobs_in(JobStatus::Succeeded),
                s.jobs_in(JobStatus::Cancelled)
            ),
            cx.theme.dim,
        )),
    ];
    if inner.height >= 1 {
        cx.hits.push((
            Rect::new(inner.x, inner.y, inner.width, 1),
            Hit::GoConflicts,
        ));
    }
    if inner.height >= 2 {
        cx.hits.push((
            Rect::new(inner.x, inner.y + 1, inner.width, 1),
            Hit::GoFailedJobs,
        ));
    }
    let mut lines = lines;
    if let Some(why) = &s.deletes_paused {
        lines.push(Line::from(Span::styled(
            format!("deletes paused: {why}"),
            cx.theme.error,
        )));
    }
    f.render_widget(Paragraph::new(lines), inner);
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
}
