//! Console tests: a seeded store with fixed times and a fixed clock, so every
//! screen renders the same on every run.

mod alerts;
mod keys;
mod layout;
mod search;
mod snapshots;
mod structure;

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::App;
use super::clock::Clock;
use super::theme::Theme;
use super::ui;
use crate::domain::{Actor, ErrorClass, FieldValue, JobKind, JobStatus, QuotaSample, Side};
use crate::store::{
    Level, NewAttempt, NewAudit, SeedConflict, SeedJob, SeedLink, Store, from_ms, meta_keys,
};

/// 2026-03-18 14:00:00 UTC.
pub const T0: i64 = 1_773_842_400_000;
const MIN: i64 = 60_000;

pub const MAPPING_V1: &str = r#"version = 1

[fields.title]
portal = "title"
linear = "title"
direction = "both"
on_conflict = "ask"

[fields.description]
portal = "details"
linear = "description"
direction = "both"
on_conflict = "ask"
"#;

const TITLES: &[&str] = &[
    "Dark mode for the dashboard",
    "Export reports as CSV",
    "SSO with Okta",
    "Bulk edit tags",
    "Slack notifications for status changes",
    "Keyboard shortcuts",
    "Webhooks for new votes",
    "Mobile app offline mode",
];

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.to_string())
}

/// The portal post id of seeded link `i` (1-based): Canny-like ObjectIds
/// that share their leading bytes, as posts made the same day do.
pub fn post_id(i: usize) -> String {
    format!("65f1c2a0{:016x}", 0x1000 + i)
}

/// The Linear issue id (a UUID) of seeded link `i`.
pub fn issue_id(i: usize) -> String {
    format!("7e3b0c4a-19d2-4c8e-9a51-{:012x}", 0xa00 + i)
}

/// The Linear key of seeded link `i`: `ENG-100` for the first.
pub fn issue_key(i: usize) -> String {
    format!("ENG-{}", 99 + i)
}

/// Fill a store with a small, stable installation.
pub fn seed(store: &mut Store) {
    store
        .write(|db| -> Result<(), crate::store::StoreError> {
            db.bulk_links((0..40).map(|i| {
                let title = format!("{} #{}", TITLES[i % TITLES.len()], i + 1);
                let mut base = BTreeMap::new();
                base.insert("title".to_string(), text(&title));
                base.insert("status".to_string(), text("planned"));
                SeedLink {
                    portal_id: Some(post_id(i + 1)),
                    linear_id: Some(issue_id(i + 1)),
                    title,
                    base,
                    at: T0 - (40 - i as i64) * 7 * MIN,
                }
            }))?;
            let job = |i: i64, status: JobStatus, class: Option<ErrorClass>, err: Option<&str>| SeedJob {
                link_id: Some(i % 40 + 1),
                target: if i % 3 == 0 { Side::Portal } else { Side::Linear },
                kind: [JobKind::Update, JobKind::Create, JobKind::Comment][(i % 3) as usize],
                status,
                attempts: if class.is_some() { 3 } else { 1 },
                error_class: class,
                last_error: err.map(String::from),
                http_status: class.map(|c| match c {
                    ErrorClass::RateLimited => 429,
                    ErrorClass::Validation => 400,
                    _ => 503,
                }),
                next_run_at: T0 + i * 10_000,
                created_at: T0 - (30 - i) * MIN,
            };
            let mut jobs = Vec::new();
            for i in 0..30 {
                let (s, c, e) = match i {
                    0..=2 => (JobStatus::Failed, Some(ErrorClass::RateLimited), Some("RATELIMITED: too many requests")),
                    3 | 4 => (JobStatus::Dead, Some(ErrorClass::Server), Some("503 Service Unavailable")),
                    5 => (JobStatus::Failed, Some(ErrorClass::Validation), Some("creating the Linear issue failed: Argument Validation Error: title must be at most 255 characters (got 312); the post's title was edited on the portal after the issue was planned")),
                    6..=15 => (JobStatus::Queued, None, None),
                    16 => (JobStatus::Running, None, None),
                    _ => (JobStatus::Succeeded, None, None),
                };
                jobs.push(job(i, s, c, e));
            }
            db.bulk_jobs(jobs)?;
            let attempt = |k: i64, class: Option<ErrorClass>, status: i64, msg: &str| NewAttempt {
                started_at: T0 - (10 - k) * MIN,
                duration_ms: 120 + k * 7,
                http_status: Some(status),
                error_class: class,
                message: Some(msg.to_string()),
                request_id: Some(format!("req-{:04}", 17 + k)),
            };
            db.bulk_attempts(
                1,
                &[
                    attempt(0, Some(ErrorClass::Server), 502, "Bad Gateway"),
                    attempt(1, Some(ErrorClass::RateLimited), 429, "RATELIMITED"),
                    attempt(2, Some(ErrorClass::RateLimited), 400, "RATELIMITED: too many requests"),
                ],
            )?;
            db.bulk_attempts(20, &[attempt(3, None, 200, "ok")])?;
            db.bulk_attempts(
                6,
                &[
                    attempt(4, Some(ErrorClass::Validation), 400, "Argument Validation Error: title must be at most 255 characters (got 312)"),
                    attempt(5, Some(ErrorClass::Validation), 400, "Argument Validation Error: title must be at most 255 characters (got 312)"),
                ],
            )?;
            db.bulk_conflicts([
                ("title", text("Dark mode"), text("Dark mode for the dashboard"), text("Dashboard dark theme")),
                ("description", text("Please add dark mode."), text("Please add dark mode.\nAlso for emails."), text("Please add dark mode.\nScope: web only.")),
                ("status", text("planned"), text("in progress"), text("Backlog")),
                ("labels", FieldValue::Set(["ui".to_string()].into()), FieldValue::Set(["ui".to_string(), "beta".to_string()].into()), FieldValue::Set(["frontend".to_string()].into())),
                ("title", text("CSV export"), text("Export reports as CSV"), text("CSV/Excel export")),
            ]
            .into_iter()
            .enumerate()
            .map(|(i, (field, base, portal, linear))| SeedConflict {
                link_id: i as i64 + 1,
                field: field.to_string(),
                base,
                portal,
                linear,
                portal_changed_at: Some(T0 - (50 - i as i64) * MIN),
                linear_changed_at: Some(T0 - (45 - i as i64) * MIN),
                created_at: T0 - (40 - i as i64) * MIN,
            }))?;
            let mut audit = Vec::new();
            for k in 0..60 {
                audit.push((
                    T0 - (k * 29_000),
                    NewAudit {
                        link_id: Some(k % 3 + 1),
                        actor: crate::domain::Actor::Engine,
                        action: crate::domain::AuditAction::Write,
                        side: Some(if k % 2 == 0 { Side::Linear } else { Side::Portal }),
                        field: Some("status".into()),
                        before: Some("planned".into()),
                        after: Some("in progress".into()),
                        reason: "portal changed status; Linear unchanged since base".into(),
                    },
                ));
            }
            db.bulk_audit(&audit)?;
            let events: Vec<(i64, Level, &str, &str)> = (0..24)
                .map(|k| {
                    let (level, target, msg) = match k % 6 {
                        0 => (Level::Error, "linear", "RATELIMITED: backing off 30s"),
                        1 => (Level::Warn, "reconcile", "repaired 2 changes webhooks missed"),
                        2 => (Level::Info, "engine", "synced status of ENG-104 to portal"),
                        3 => (Level::Info, "webhook", "accepted 12 deliveries"),
                        4 => (Level::Debug, "engine", "claimed 4 jobs"),
                        _ => (Level::Warn, "portal", "503 from Canny, retrying"),
                    };
                    (T0 - (24 - k) * 2 * MIN, level, target, msg)
                })
                .collect();
            db.bulk_events(&events)?;
            for (k, remaining) in [(0, 1400), (1, 1100), (2, 800), (3, 500)] {
                db.record_quota(&QuotaSample {
                    connector: Side::Linear,
                    kind: crate::domain::QuotaKind::Requests,
                    limit: 1500,
                    remaining,
                    reset_at: Some(from_ms(T0 + 20 * MIN)),
                    sampled_at: from_ms(T0 - (3 - k) * MIN),
                })?;
            }
            db.record_quota(&QuotaSample {
                connector: Side::Portal,
                kind: crate::domain::QuotaKind::Requests,
                limit: 100,
                remaining: 92,
                reset_at: Some(from_ms(T0 + MIN)),
                sampled_at: from_ms(T0 - 30_000),
            })?;
            for i in 1..=40usize {
                let base_title = format!("{} #{i}", TITLES[(i - 1) % TITLES.len()]);
                let slug = base_title.to_lowercase().replace([' ', '#'], "-");
                let portal = crate::domain::Record {
                    remote_id: post_id(i),
                    title: if i <= 3 {
                        format!("{base_title} (edited on the portal)")
                    } else {
                        base_title.clone()
                    },
                    status: "planned".into(),
                    labels: ["ui".to_string()].into(),
                    url: Some(format!("https://feedback.acme.test/feature-requests/p/{slug}")),
                    ..Default::default()
                };
                let linear = crate::domain::Record {
                    remote_id: issue_id(i),
                    identifier: Some(issue_key(i)),
                    title: base_title,
                    status: "Todo".into(),
                    status_type: Some("unstarted".into()),
                    labels: ["frontend".to_string()].into(),
                    url: Some(format!("https://linear.app/acme/issue/{}/{slug}", issue_key(i))),
                    ..Default::default()
                };
                db.upsert_record(Side::Portal, &portal)?;
                db.upsert_record(Side::Linear, &linear)?;
            }
            db.set_meta(meta_keys::HEARTBEAT, &(T0 - 4_000).to_string())?;
            db.set_meta(meta_keys::OLDEST_UNSYNCED, &(T0 - 90_000).to_string())?;
            db.seed_mapping_version(MAPPING_V1, Actor::BuiltIn, "initial mapping", T0 - 3 * 24 * 60 * MIN)?;
            let v2 = format!(
                "{}\n[fields.labels]\nportal = \"tags\"\nlinear = \"labels\"\ndirection = \"both\"\non_conflict = \"merge\"\n",
                MAPPING_V1.replace("version = 1", "version = 2")
            );
            db.seed_mapping_version(&v2, Actor::Operator, "applied from mapping.toml", T0 - 26 * 60 * MIN)?;
            Ok(())
        })
        .expect("seed");
}

/// A seeded console with a fixed clock.
pub fn app(read_only: bool, theme: Theme) -> App {
    let mut store = Store::open_in_memory().expect("store");
    seed(&mut store);
    App::new(store, read_only, Clock::Fixed(T0), theme).expect("app")
}

/// Press one key.
pub fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// Press Ctrl plus a letter.
pub fn ctrl(app: &mut App, c: char) {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

/// Type characters one by one.
pub fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// Render to an off-screen terminal.
pub fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| ui::draw(f, app)).expect("draw");
    t
}

/// The screen as text, one line per row.
pub fn screen(app: &mut App, w: u16, h: u16) -> String {
    let t = render(app, w, h);
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top dialog, if it is a `D`.
pub fn top<D: 'static>(app: &App) -> Option<&D> {
    app.dialogs.last()?.as_any().downcast_ref::<D>()
}

/// The open confirm dialog's title.
pub fn confirm_title(app: &App) -> Option<String> {
    top::<crate::console::dialogs::confirm::ConfirmDialog>(app).map(|c| c.title.clone())
}

/// The status-bar message.
pub fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}
