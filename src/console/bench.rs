//! The hidden `roundtrip console --bench-frames N` measurement (DESIGN.md
//! P4): first frame, keypress-to-frame latency, search by every kind of id
//! and by title words, the idle loop's cost and peak memory, against a store
//! filled by [`fill`] (what `examples/fill_store.rs` and `cargo bench
//! --bench console` run), with the naive OFFSET/COUNT(*) paging and the
//! naive `LIKE '%q%'` search measured in the same run as baselines. Frames
//! are drawn to an off-screen backend, so terminal speed is excluded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

use super::app::App;
use super::clock::Clock;
use super::theme::Theme;
use super::types::ViewId;
use super::{ConsoleError, open_store, ui};
use crate::domain::{ErrorClass, FieldValue, JobStatus, QuotaSample, Record, Side};
use crate::store::sql::statements_sent;
use crate::store::{
    JobFilter, Level, LinkQuery, NaiveBaseline, NewAudit, OpenMode, SeedConflict, SeedJob,
    SeedLink, Store, StoreError, StoreLocation, Window, from_ms, meta_keys, now_ms,
};

/// How big a store [`fill`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Links (each with a portal and a Linear record).
    pub links: i64,
    /// Jobs, 15 % of them failed or dead.
    pub jobs: i64,
    /// Open conflicts (at most one per link).
    pub conflicts: i64,
}

impl Sizes {
    /// The DESIGN.md P4 size.
    pub const DESIGN: Sizes = Sizes {
        links: 1_000_000,
        jobs: 200_000,
        conflicts: 10_000,
    };
}

const WORDS: &[&str] = &[
    "dark", "mode", "export", "csv", "sso", "okta", "bulk", "tags", "slack", "webhooks", "mobile",
    "offline", "search", "filters", "api", "rate", "limits", "billing", "invoices", "roles",
];

/// Title of filled link `i`.
pub fn title(i: i64) -> String {
    let w = |k: i64| WORDS[((i * 7 + k * 13) % WORDS.len() as i64) as usize];
    format!("{} {} {} #{i}", w(0), w(1), w(2))
}

/// Portal post id of filled link `i`: Canny-like ObjectIds sharing their
/// leading (time) bytes, as posts made the same day do.
pub fn post_id(i: i64) -> String {
    format!("65f1c2a0{i:016x}")
}

/// Linear issue id (a UUID) of filled link `i`.
pub fn issue_id(i: i64) -> String {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 52) & 0xfff,
        i
    )
}

/// Linear key of filled link `i`.
pub fn issue_key(i: i64) -> String {
    format!("ENG-{i}")
}

fn slug(i: i64) -> String {
    title(i).replace(' ', "-").replace('#', "")
}

/// Post URL of filled link `i`.
pub fn post_url(i: i64) -> String {
    format!("https://acme.canny.io/feature-requests/p/{}", slug(i))
}

/// Fill a new store at `path` to `sizes`: records and links with real-shaped
/// ids and URLs, jobs in every status, open conflicts, audit entries,
/// events, quota readings and a mapping, in one transaction of prepared
/// statements.
pub fn fill(path: &Path, sizes: Sizes) -> Result<(), StoreError> {
    let mut store = Store::open(path, OpenMode::Create)?;
    let now = now_ms();
    let Sizes {
        links,
        jobs,
        conflicts,
    } = sizes;
    store.write(|db| -> Result<(), StoreError> {
        db.bulk_records(
            Side::Portal,
            (1..=links).map(|i| Record {
                remote_id: post_id(i),
                title: title(i),
                status: "planned".into(),
                url: Some(post_url(i)),
                ..Record::default()
            }),
            now,
        )?;
        db.bulk_records(
            Side::Linear,
            (1..=links).map(|i| Record {
                remote_id: issue_id(i),
                identifier: Some(issue_key(i)),
                title: title(i),
                status: "Todo".into(),
                url: Some(format!(
                    "https://linear.app/acme/issue/{}/{}",
                    issue_key(i),
                    slug(i)
                )),
                ..Record::default()
            }),
            now,
        )?;
        db.bulk_links((1..=links).map(|i| {
            let t = title(i);
            let mut base = std::collections::BTreeMap::new();
            base.insert("title".to_string(), FieldValue::Text(t.clone()));
            base.insert("status".to_string(), FieldValue::Text("planned".into()));
            SeedLink {
                portal_id: Some(post_id(i)),
                linear_id: Some(issue_id(i)),
                title: t,
                base,
                at: now - (links - i) * 1_000,
            }
        }))?;
        db.bulk_jobs((1..=jobs).map(|i| {
            let (status, class) = match i % 20 {
                0 => (JobStatus::Failed, Some(ErrorClass::Validation)),
                1 => (JobStatus::Failed, Some(ErrorClass::RateLimited)),
                2 => (JobStatus::Dead, Some(ErrorClass::Server)),
                3..=5 => (JobStatus::Queued, None),
                _ => (JobStatus::Succeeded, None),
            };
            SeedJob {
                link_id: Some(i % links.max(1) + 1),
                target: if i % 2 == 0 { Side::Linear } else { Side::Portal },
                kind: crate::domain::JobKind::Update,
                status,
                attempts: if class.is_some() { 3 } else { 1 },
                error_class: class,
                last_error: class.map(|c| format!("{c}: simulated failure")),
                http_status: class.map(|_| 500),
                next_run_at: now + i,
                created_at: now - (jobs - i) * 100,
            }
        }))?;
        db.bulk_conflicts((1..=conflicts.min(links)).map(|i| SeedConflict {
            link_id: i,
            field: "title".into(),
            base: FieldValue::Text(title(i)),
            portal: FieldValue::Text(format!("{} (portal edit)", title(i))),
            linear: FieldValue::Text(format!("{} (Linear edit)", title(i))),
            portal_changed_at: Some(now - 3_600_000),
            linear_changed_at: Some(now - 1_800_000),
            created_at: now - (conflicts - i) * 10,
        }))?;
        let audit: Vec<(i64, NewAudit)> = (0..20_000)
            .map(|k| {
                (
                    now - k * 90,
                    NewAudit {
                        link_id: Some(k % links.max(1) + 1),
                        side: Some(Side::Linear),
                        field: Some("status".into()),
                        before: Some("planned".into()),
                        after: Some("in progress".into()),
                        reason: "portal changed status".into(),
                        ..NewAudit::new(
                            crate::domain::Actor::Engine,
                            crate::domain::AuditAction::Write,
                        )
                    },
                )
            })
            .collect();
        db.bulk_audit(&audit)?;
        let events: Vec<(i64, Level, &str, &str)> = (0..10_000)
            .map(|k| {
                (
                    now - k * 500,
                    [Level::Info, Level::Warn, Level::Error][(k % 3) as usize],
                    "engine",
                    "simulated event",
                )
            })
            .collect();
        db.bulk_events(&events)?;
        for k in 0..60 {
            db.record_quota(&QuotaSample {
                connector: Side::Linear,
                kind: crate::domain::QuotaKind::Requests,
                limit: 1500,
                remaining: 1500 - k * 10,
                reset_at: Some(from_ms(now + 1_800_000)),
                sampled_at: from_ms(now - (60 - k) * 10_000),
            })?;
        }
        db.set_meta(meta_keys::HEARTBEAT, &now.to_string())?;
        db.add_mapping_version(
            "version = 1\n\n[fields.title]\nportal = \"title\"\nlinear = \"title\"\ndirection = \"both\"\non_conflict = \"ask\"\n",
            crate::domain::Actor::Operator,
            "generated",
        )?;
        Ok(())
    })?;
    store.checkpoint()
}

const SCRIPT: &[KeyCode] = &[
    KeyCode::Char('3'),
    KeyCode::Char('j'),
    KeyCode::Char('j'),
    KeyCode::PageDown,
    KeyCode::PageDown,
    KeyCode::Char('G'),
    KeyCode::PageUp,
    KeyCode::Char('g'),
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

/// How the per-key timings name a key.
fn key_name(code: KeyCode) -> String {
    match code {
        KeyCode::Char(c) => c.to_string(),
        other => format!("{other:?}"),
    }
}

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

/// What one kind of key (a key pressed in one view) cost over a run.
#[derive(Debug, Clone, Default)]
pub struct KeyCost {
    /// Keypress to drawn frame, each time (ms).
    pub frames_ms: Vec<f64>,
    /// The most statements one press sent to the store (see
    /// [`statements_sent`]).
    pub most_statements: u64,
}

/// Press the benchmark's keys `frames` times (the script walks every
/// table view: switching to it, moving, paging, both ends), drawing a
/// frame after each; returns every keypress-to-frame time and the cost by
/// key kind ("Jobs G").
pub fn drive(
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    frames: usize,
) -> (Vec<f64>, BTreeMap<String, KeyCost>) {
    let mut lat = Vec::with_capacity(frames);
    let mut by_key: BTreeMap<String, KeyCost> = BTreeMap::new();
    for i in 0..frames {
        let code = SCRIPT[i % SCRIPT.len()];
        let kind = format!("{} {}", app.view.title(), key_name(code));
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        let sent = statements_sent();
        let t = Instant::now();
        app.on_key(key);
        let Ok(_) = term.draw(|f| ui::draw(f, app));
        let took = ms(t.elapsed());
        let cost = by_key.entry(kind).or_default();
        cost.most_statements = cost.most_statements.max(statements_sent() - sent);
        cost.frames_ms.push(took);
        lat.push(took);
    }
    (lat, by_key)
}

/// The number of keys in the benchmark's script: driving this many frames
/// presses each once.
pub const SCRIPT_LEN: usize = SCRIPT.len();

/// The searches the benchmark times, for the link at `i`: every kind of id
/// an operator has, and title words.
fn searches(i: i64) -> Vec<(&'static str, String)> {
    let post = post_id(i);
    let t = title(i);
    let words: Vec<&str> = t.split(' ').collect();
    let first_words = words[..2].join(" ");
    vec![
        ("linear_key", issue_key(i)),
        ("linear_uuid", issue_id(i)),
        ("linear_uuid_prefix", issue_id(i)[..8].to_string()),
        ("post_id", post.clone()),
        ("post_id_tail", post[post.len() - 8..].to_string()),
        ("post_url", post_url(i)),
        ("link_number", format!("L{i}")),
        ("title_words", first_words),
        ("title_word_and_number", format!("{} {i}", words[2])),
    ]
}

/// Run the measurement; one JSON object per result.
pub fn run(location: &StoreLocation, frames: usize) -> Result<Vec<Value>, ConsoleError> {
    let t0 = Instant::now();
    let store = open_store(location, true)?;
    let mut app = App::new(store, true, Clock::System, Theme::color())?;
    let Ok(mut term) = Terminal::new(TestBackend::new(200, 60));
    let Ok(_) = term.draw(|f| ui::draw(f, &mut app));
    let first = ms(t0.elapsed());

    let (mut lat, by_key) = drive(&mut app, &mut term, frames);
    lat.sort_by(f64::total_cmp);
    let per_key: Vec<Value> = by_key
        .into_iter()
        .map(|(kind, cost)| {
            let mut v = cost.frames_ms;
            v.sort_by(f64::total_cmp);
            json!({"id": "P4", "metric": "key_to_frame_by_key_ms", "key": kind,
                   "frames": v.len(), "p50": percentile(&v, 0.5), "p99": percentile(&v, 0.99),
                   "max": v.last().copied().unwrap_or(0.0),
                   "most_statements": cost.most_statements})
        })
        .collect();

    let t = Instant::now();
    let idle_n = 1000;
    for _ in 0..idle_n {
        app.poll_store()?;
    }
    let idle_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(idle_n);

    // The idle loop as the console runs it: the store check every 250 ms
    // and the clock check every 500 ms, over 10 simulated minutes with the
    // Links view on screen (whose only clock is the heartbeat age).
    app.switch(ViewId::Links);
    let start = now_ms();
    app.clock = Clock::Fixed(start);
    let mut fresh = ui::Freshness::new(ratatui::layout::Size::new(200, 60));
    let Ok(frame) = term.draw(|f| ui::draw(f, &mut app));
    fresh.shown(frame.buffer);
    let reads_before = app.reads;
    let ticks = 1_200;
    let mut redraws = 0;
    let t = Instant::now();
    for k in 1..=ticks {
        app.clock = Clock::Fixed(start + k * 500);
        app.poll_store()?;
        app.poll_store()?;
        if fresh.changed(&mut app) {
            redraws += 1;
            let Ok(frame) = term.draw(|f| ui::draw(f, &mut app));
            fresh.shown(frame.buffer);
        }
    }
    let tick_us = t.elapsed().as_secs_f64() * 1e6 / ticks as f64;
    let idle_reads = app.reads - reads_before;
    app.clock = Clock::System;

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

    // Search: the store query alone (best of 5, a warm cache as in use)
    // and the whole console path (/ text ⏎, then a frame), against the old
    // LIKE '%q%' scan.
    let target_link = (summary.links * 2 / 3).max(1);
    let mut search_rows = Vec::new();
    let mut worst_console: f64 = 0.0;
    for (kind, text) in searches(target_link) {
        let Some(q) = LinkQuery::parse(&text) else {
            continue;
        };
        let db = app.store.db();
        let mut best = f64::MAX;
        let mut hits = 0;
        for _ in 0..5 {
            let t = Instant::now();
            hits = db.search_links(&q, None, super::pager::CHUNK)?.len();
            best = best.min(ms(t.elapsed()));
        }
        let found = db
            .search_links(&q, None, super::pager::CHUNK)?
            .iter()
            .any(|l| l.id == target_link);
        let t = Instant::now();
        let _ = NaiveBaseline::search_links_like(&db, &text, super::pager::CHUNK as i64)?;
        let like = ms(t.elapsed());
        let t = Instant::now();
        app.act(super::types::Action::Search(ViewId::Links, text.clone()));
        let Ok(_) = term.draw(|f| ui::draw(f, &mut app));
        let console = ms(t.elapsed());
        worst_console = worst_console.max(console);
        search_rows.push(
            json!({"id": "P4", "metric": "search_ms", "kind": kind, "query": text,
            "store_ms": best, "console_ms": console, "hits_first_page": hits,
            "target_link_found": found, "naive_like_ms": like, "target": 50.0}),
        );
    }

    let mut out = vec![
        json!({"id": "P4", "metric": "first_frame_ms", "value": first, "target": 150.0,
               "links": summary.links, "jobs": total_jobs, "open_conflicts": summary.open_conflicts}),
        json!({"id": "P4", "metric": "key_to_frame_ms", "p50": percentile(&lat, 0.5),
               "p99": percentile(&lat, 0.99), "max": lat.last().copied().unwrap_or(0.0),
               "frames": frames, "target_p99": 8.0}),
        json!({"id": "P4", "metric": "idle_check_us", "value": idle_us,
               "note": "the change check only: PRAGMA data_version on SQLite, the change counter on PostgreSQL"}),
        json!({"id": "P4", "metric": "idle_loop", "simulated_minutes": ticks as f64 * 0.5 / 60.0,
               "store_reloads": idle_reads, "redraws": redraws, "tick_us": tick_us,
               "note": "Links view; the heartbeat age on screen changes each second for a minute, then each minute"}),
        json!({"id": "P4", "metric": "page_mid_table_ms", "keyset_and_counters": keyset,
               "naive_offset_and_count": naive, "speedup": if keyset > 0.0 { naive / keyset } else { 0.0 }}),
    ];
    out.extend(per_key);
    out.extend(search_rows);
    out.push(json!({"id": "P4", "metric": "search_worst_console_ms", "value": worst_console, "target": 50.0}));
    out.push(json!({"id": "P4", "metric": "peak_rss_mb", "value": peak_rss_mb(), "target": 50.0}));
    Ok(out)
}
