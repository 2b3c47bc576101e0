//! The frame: tab bar, the current view, dialog layers, status line and the
//! hint bar (generated from the keymap). Mouse targets are recorded here
//! while drawing, so hit-testing always matches what is on screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Hit, ViewId};
use super::keymap;
use super::views::common::DrawCtx;
use crate::domain::JobStatus;
use crate::health::Verdict;

/// Draw everything.
pub fn draw(f: &mut Frame<'_>, app: &mut App) {
    app.hits.clear();
    let [tabs, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    draw_tabs(f, tabs, app);
    assert!(
        !app.panic_armed,
        "test panic inside a view (ROUNDTRIP_CONSOLE_TEST_PANIC)"
    );
    let now = app.clock.now_ms();
    let theme = app.theme;
    let mut cx = DrawCtx {
        theme: &theme,
        now,
        hits: &mut app.hits,
    };
    let summary = app.summary.as_ref();
    match app.view {
        ViewId::Overview => app
            .overview
            .draw(f, body, summary, app.health.as_ref(), &mut cx),
        ViewId::Conflicts => app.conflicts.draw(f, body, summary, &mut cx),
        ViewId::Jobs => app.jobs.draw(f, body, summary, &mut cx),
        ViewId::Links => app.links.draw(f, body, summary, &mut cx),
        ViewId::Mappings => app.mappings.draw(f, body, &mut cx),
        ViewId::Log => app.log.draw(f, body, &mut cx),
    }
    for layer in &mut app.layers {
        layer.draw(f, body, &theme, app.read_only, now);
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

fn draw_tabs(f: &mut Frame<'_>, area: Rect, app: &mut App) {
    let theme = app.theme;
    let mut spans = Vec::new();
    let mut x = area.x;
    let narrow = area.width < 100;
    for (i, v) in ViewId::ALL.iter().enumerate() {
        let badge = match (v, app.summary.as_ref()) {
            (ViewId::Conflicts, Some(s)) if s.open_conflicts > 0 => {
                format!(" {}", s.open_conflicts)
            }
            (ViewId::Jobs, Some(s)) => {
                let bad = s.jobs_in(JobStatus::Failed) + s.jobs_in(JobStatus::Dead);
                if bad > 0 {
                    format!(" {bad}!")
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        };
        let name = if narrow {
            &v.title()[..4.min(v.title().len())]
        } else {
            v.title()
        };
        let text = format!(" {}:{name}{badge} ", i + 1);
        let w = text.chars().count() as u16;
        let style = if *v == app.view {
            theme.selected
        } else {
            theme.text
        };
        app.hits.push((Rect::new(x, area.y, w, 1), Hit::Tab(*v)));
        x += w;
        spans.push(Span::styled(text, style));
    }
    let mut right = Vec::new();
    if let Some(b) = &app.banner {
        right.push(Span::styled(format!(" {b} "), theme.dim));
    }
    if app.read_only {
        right.push(Span::styled(" READ-ONLY ", theme.warn));
    }
    if let Some(h) = &app.health {
        let style = match h.verdict {
            Verdict::Healthy => theme.ok,
            Verdict::Degraded => theme.warn,
            Verdict::Down => theme.error,
        };
        right.push(Span::styled(format!(" ● {} ", h.verdict.as_str()), style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    let rw: u16 = right.iter().map(|s| s.content.chars().count() as u16).sum();
    if x + rw < area.right() {
        let r = Rect::new(area.right() - rw, area.y, rw, 1);
        f.render_widget(Paragraph::new(Line::from(right)), r);
    }
}

fn draw_hints(f: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = app.theme;
    let mut spans = vec![Span::raw(" ")];
    for b in keymap::hints(&app.contexts(), app.read_only) {
        spans.push(Span::styled(b.shown, theme.key));
        spans.push(Span::styled(format!(" {}  ", b.label), theme.dim));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
