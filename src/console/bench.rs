//! The hidden `roundtrip console --bench-frames N` measurement (DESIGN.md
//! P4): first frame, keypress-to-frame latency, the idle check's cost and
//! peak memory, against a store filled by `examples/fill_store.rs`, with the
//! naive OFFSET/COUNT(*) paging measured in the same run as the baseline.
//! Frames are drawn to an off-screen backend, so terminal speed is excluded.

use std::path::Path;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

use super::app::App;
use super::clock::Clock;
use super::theme::Theme;
use super::{ConsoleError, open_store, ui};
use crate::store::{JobFilter, NaiveBaseline, Window};

const SCRIPT: &[KeyCode] = &[
    KeyCode::Char('3'),
    KeyCode::Char('j'),
    KeyCode::Char('j'),
    KeyCode::PageDown,
    KeyCode::PageDown,
    KeyCode::Char('G'),
    KeyCode::PageUp,
    KeyCode::Char('g'),
    KeyCode::Char('s'),
    KeyCode::Char('j'),
    KeyCode::Char('2'),
    KeyCode::Char('j'),
    KeyCode::PageDown,
    KeyCode::Char('4'),
    KeyCode::PageDown,
    KeyCode::Char('j'),
    KeyCode::Char('6'),
    KeyCode::Char('1'),
];

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Peak resident memory of this process in MB (Linux), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Run the measurement; one JSON object per result.
pub fn run(path: &Path, frames: usize) -> Result<Vec<Value>, ConsoleError> {
    let t0 = Instant::now();
    let store = open_store(path, true)?;
    let mut app = App::new(store, true, Clock::System, Theme::color())?;
    let Ok(mut term) = Terminal::new(TestBackend::new(200, 60));
    let Ok(_) = term.draw(|f| ui::draw(f, &mut app));
    let first = ms(t0.elapsed());

    let mut lat = Vec::with_capacity(frames);
    for i in 0..frames {
        let key = KeyEvent::new(SCRIPT[i % SCRIPT.len()], KeyModifiers::NONE);
        let t = Instant::now();
        app.on_key(key);
        let Ok(_) = term.draw(|f| ui::draw(f, &mut app));
        lat.push(ms(t.elapsed()));
    }
    lat.sort_by(f64::total_cmp);

    let t = Instant::now();
    let idle_n = 1000;
    for _ in 0..idle_n {
        app.poll_store()?;
    }
    let idle_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(idle_n);

    let db = app.store.db();
    let summary = db.summary()?;
    let total_jobs: i64 = summary.jobs.values().sum();
    let mid = total_jobs / 2;
    let t = Instant::now();
    let _ = db.summary()?;
    let _ = db.jobs(&JobFilter::default(), Window::first(60).after(mid))?;
    let keyset = ms(t.elapsed());
    let t = Instant::now();
    let _ = NaiveBaseline::count_links(&db)?;
    let _ = NaiveBaseline::jobs_page(&db, mid, 60)?;
    let naive = ms(t.elapsed());

    Ok(vec![
        json!({"id": "P4", "metric": "first_frame_ms", "value": first, "target": 150.0,
               "links": summary.links, "jobs": total_jobs, "open_conflicts": summary.open_conflicts}),
        json!({"id": "P4", "metric": "key_to_frame_ms", "p50": percentile(&lat, 0.5),
               "p99": percentile(&lat, 0.99), "max": lat.last().copied().unwrap_or(0.0),
               "frames": frames, "target_p99": 8.0}),
        json!({"id": "P4", "metric": "idle_check_us", "value": idle_us,
               "note": "PRAGMA data_version only; no redraw while idle"}),
        json!({"id": "P4", "metric": "page_mid_table_ms", "keyset_and_counters": keyset,
               "naive_offset_and_count": naive, "speedup": if keyset > 0.0 { naive / keyset } else { 0.0 }}),
        json!({"id": "P4", "metric": "peak_rss_mb", "value": peak_rss_mb(), "target": 50.0}),
    ])
}
