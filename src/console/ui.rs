//! The frame: tab bar, the view on screen, dialogs, status line and the
//! hint bar (generated from the keymap). Space is handed out by priority —
//! the verdict and `? help` are always visible, tab names shorten before
//! the banner is dropped, hints beyond the width are left out whole — so
//! nothing collides or is cut mid-word at any size down to the minimum.
//! Mouse targets are recorded here while drawing, so hit-testing always
//! matches what is on screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::clock::coarse_age;
use super::dialogs::DrawCx;
use super::keymap;
use super::types::{Cmd, Ctx, Hit, ViewId};
use super::views::Paint;
use crate::domain::JobStatus;
use crate::health::Verdict;

/// The smallest terminal the console lays itself out in.
pub const MIN_SIZE: (u16, u16) = (40, 10);

/// Draw everything.
pub fn draw(f: &mut Frame<'_>, app: &mut App) {
    app.hits.clear();
    app.refresh_clock();
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        f.render_widget(
            Paragraph::new(format!(
                "The terminal is {}×{}; the console needs at least {}×{}.",
                area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
            ))
            .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [tabs, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(f, tabs, app);
    assert!(
        !app.panic_armed,
        "test panic inside a view (ROUNDTRIP_CONSOLE_TEST_PANIC)"
    );
    let now = app.clock.now_ms();
    let theme = app.theme;
    let mut cx = Paint {
        theme: &theme,
        now,
        hits: &mut app.hits,
        summary: app.summary.as_ref(),
        health: app.health.as_ref(),
    };
    app.views.get_mut(app.view).draw(f, body, &mut cx);
    let dcx = DrawCx {
        theme: &theme,
        read_only: app.read_only,
    };
    for d in &mut app.dialogs {
        d.draw(f, body, &dcx);
    }
    let line = match &app.message {
        Some(m) => Line::from(Span::styled(
            format!(" {}", m.text),
            if m.error { theme.error } else { theme.ok },
        )),
        None => Line::from(Span::styled(
            format!(" {}", app.store.path().display()),
            theme.dim,
        )),
    };
    f.render_widget(Paragraph::new(line), status);
    draw_hints(f, hints, app);
}

fn width(s: &str) -> u16 {
    s.chars().count() as u16
}

fn draw_tabs(f: &mut Frame<'_>, area: Rect, app: &mut App) {
    let theme = app.theme;
    let mut right: Vec<Span<'static>> = Vec::new();
    if let Some(h) = &app.health {
        let style = match h.verdict {
            Verdict::Healthy => theme.ok,
            Verdict::Degraded => theme.warn,
            Verdict::Down => theme.error,
        };
        let beat = h.heartbeat_age_ms.map_or("never ran".to_string(), |a| {
            format!("engine {}", coarse_age(a))
        });
        right.push(Span::styled(
            format!(" ● {} · {beat} ", h.verdict.as_str().to_uppercase()),
            style,
        ));
    }
    if app.read_only {
        right.insert(0, Span::styled(" READ-ONLY ", theme.warn));
    }
    let badge = |v: ViewId| match (v, app.summary.as_ref()) {
        (ViewId::Conflicts, Some(s)) if s.open_conflicts > 0 => Some(s.open_conflicts.to_string()),
        (ViewId::Jobs, Some(s)) => {
            let bad = s.jobs_in(JobStatus::Failed) + s.jobs_in(JobStatus::Dead);
            (bad > 0).then(|| format!("{bad}!"))
        }
        _ => None,
    };
    let full: Vec<String> = ViewId::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let b = badge(*v).map_or(String::new(), |b| format!(" {b}"));
            format!(" {}:{}{b} ", i + 1, v.title())
        })
        .collect();
    // Narrow: the view on screen keeps its name, the others their number
    // and count ("2(5)"), never a name cut in the middle.
    let short: Vec<String> = ViewId::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if *v == app.view {
                full[i].clone()
            } else {
                let b = badge(*v).map_or(String::new(), |b| format!("({b})"));
                format!(" {}{b} ", i + 1)
            }
        })
        .collect();
    let right_w: u16 = right.iter().map(|s| width(&s.content)).sum();
    let fits = |tabs: &[String]| tabs.iter().map(|t| width(t)).sum::<u16>() + right_w <= area.width;
    let tabs = if fits(&full) { full } else { short };
    let tabs_w: u16 = tabs.iter().map(|t| width(t)).sum();
    if let Some(b) = &app.banner {
        let room = area.width.saturating_sub(tabs_w + right_w);
        if room > 4 {
            let text: String = format!(" {b} ").chars().take(room as usize).collect();
            right.insert(0, Span::styled(text, theme.dim));
        }
    }
    let mut x = area.x;
    let mut spans = Vec::new();
    for (v, text) in ViewId::ALL.iter().zip(tabs) {
        let w = width(&text);
        let style = if *v == app.view {
            theme.selected
        } else {
            theme.text
        };
        app.hits.push((Rect::new(x, area.y, w, 1), Hit::Tab(*v)));
        x += w;
        spans.push(Span::styled(text, style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    let rw: u16 = right
        .iter()
        .map(|s| width(&s.content))
        .sum::<u16>()
        .min(area.width);
    let r = Rect::new(area.right() - rw, area.y, rw, 1);
    f.render_widget(Paragraph::new(Line::from(right)), r);
}

/// The hint bar: as many whole hints as fit, most important first, with
/// `? help` always at the right end.
fn draw_hints(f: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = app.theme;
    let view = app.views.get(app.view);
    let all: Vec<_> = keymap::hints(&app.contexts(), app.read_only)
        .into_iter()
        .filter(|b| b.ctx != Ctx::Global || view.offers(b.cmd))
        .collect();
    let help = all.iter().find(|b| b.cmd == Cmd::Help).copied();
    let help_text = help.map(|b| format!("{} {} ", b.shown, b.label));
    let reserve = help_text.as_deref().map_or(0, width);
    let mut room = area.width.saturating_sub(reserve + 1);
    let mut chosen = Vec::new();
    for b in all.iter().filter(|b| b.cmd != Cmd::Help) {
        let w = width(b.shown) + width(b.label) + 3;
        if w > room {
            continue;
        }
        room -= w;
        chosen.push(*b);
    }
    // What this view or dialog does first, then what works everywhere.
    chosen.sort_by_key(|b| b.ctx == Ctx::Global);
    let mut spans = vec![Span::raw(" ")];
    for b in chosen {
        spans.push(Span::styled(b.shown, theme.key));
        spans.push(Span::styled(format!(" {}  ", b.label), theme.dim));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    if let (Some(b), Some(t)) = (help, help_text) {
        let w = width(&t);
        let r = Rect::new(area.right().saturating_sub(w), area.y, w.min(area.width), 1);
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(b.shown, theme.key),
                Span::styled(format!(" {} ", b.label), theme.dim),
            ])),
            r,
        );
    }
}

/// Decides, on the clock tick, whether anything visible changed: it draws
/// the frame off-screen and compares it with the last frame shown. Ages,
/// "resets in" and the verdict therefore refresh without a keypress, and an
/// idle console whose screen shows no clock writes nothing to the terminal.
/// The off-screen draw reads no store (views draw from memory).
pub struct Freshness {
    scratch: ratatui::Terminal<ratatui::backend::TestBackend>,
    last: ratatui::buffer::Buffer,
}

impl Freshness {
    /// A checker for a terminal of `size`.
    pub fn new(size: ratatui::layout::Size) -> Self {
        let backend = ratatui::backend::TestBackend::new(size.width, size.height);
        let Ok(scratch) = ratatui::Terminal::new(backend);
        Freshness {
            scratch,
            last: ratatui::buffer::Buffer::empty(Rect::new(0, 0, size.width, size.height)),
        }
    }

    /// Remember the frame just shown on the real terminal.
    pub fn shown(&mut self, frame: &ratatui::buffer::Buffer) {
        self.last = frame.clone();
    }

    /// Whether drawing now would show something different.
    pub fn changed(&mut self, app: &mut App) -> bool {
        let area = self.last.area;
        if self.scratch.backend().buffer().area != area {
            self.scratch.backend_mut().resize(area.width, area.height);
            let _ = self.scratch.resize(area);
        }
        let Ok(frame) = self.scratch.draw(|f| draw(f, app));
        frame.buffer.content != self.last.content
    }
}
