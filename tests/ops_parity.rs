//! One set of operator actions, two front ends: the same steps taken with
//! the CLI (the binary, through assert_cmd) on one copy of a store and with
//! the console's keys and `:` commands on another leave identical store
//! rows and audit entries — both call the operator-actions module.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup step should stop with its message

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use roundtrip::console::app::App;
use roundtrip::console::clock::Clock;
use roundtrip::console::dialogs::confirm::ConfirmDialog;
use roundtrip::console::dialogs::editor::EditorDialog;
use roundtrip::console::theme::Theme;
use roundtrip::domain::{Actor, ErrorClass, FieldValue, JobKind, JobStatus, Record, Side};
use roundtrip::store::{
    ConflictFilter, JobFilter, Lane, LinkState, NewAttempt, NewConflict, NewJob, OpenMode, Store,
    Window, meta_keys,
};
use roundtrip::sync::Mapping;

fn seed(db: &Path) {
    let mut store = Store::open(db, OpenMode::Create).unwrap();
    store
        .write(|d| -> roundtrip::store::Result<()> {
            let link = d.insert_link(
                Some("p-1"),
                Some("lin-1"),
                None,
                LinkState::Active,
                "Dark mode",
                &Default::default(),
            )?;
            for (side, id) in [(Side::Portal, "p-1"), (Side::Linear, "lin-1")] {
                d.upsert_record(
                    side,
                    &Record {
                        remote_id: id.into(),
                        title: "Dark mode".into(),
                        ..Record::default()
                    },
                )?;
            }
            // 1 failed, 2 succeeded, 3 dead, 4 queued.
            for status in [
                JobStatus::Failed,
                JobStatus::Succeeded,
                JobStatus::Dead,
                JobStatus::Queued,
            ] {
                let id = d.insert_job(&NewJob {
                    link_id: Some(link),
                    target: Side::Linear,
                    kind: JobKind::Update,
                    payload: "{}".into(),
                    reason: "title changed".into(),
                    lane: Lane::Live,
                    max_attempts: 3,
                })?;
                if status != JobStatus::Queued {
                    let failed = status != JobStatus::Succeeded;
                    d.record_attempt(
                        id,
                        &NewAttempt {
                            started_at: 1_000,
                            duration_ms: 5,
                            http_status: Some(if failed { 503 } else { 200 }),
                            error_class: failed.then_some(ErrorClass::Server),
                            message: failed.then(|| "unavailable".to_string()),
                            request_id: None,
                        },
                        status,
                        1_000,
                    )?;
                }
            }
            let text = |s: &str| FieldValue::Text(s.into());
            d.open_conflict(&NewConflict {
                link_id: link,
                field: "title".into(),
                base: text("Dark mode"),
                portal: text("Dark mode v2"),
                linear: text("Dark theme"),
                portal_changed_at: None,
                linear_changed_at: None,
            })?;
            d.open_conflict(&NewConflict {
                link_id: link,
                field: "labels".into(),
                base: FieldValue::Null,
                portal: FieldValue::Null,
                linear: FieldValue::Set(["ui".to_string()].into()),
                portal_changed_at: None,
                linear_changed_at: None,
            })?;
            d.add_mapping_version(
                &Mapping::default_canny_linear().to_toml(),
                Actor::BuiltIn,
                "built-in default",
            )?;
            d.set_meta(meta_keys::DELETES_PAUSED, "25 deletes in 10 minutes")
        })
        .unwrap();
}

/// The edited mapping both front ends apply: the default with a comment
/// added to its first line.
fn edited_mapping() -> String {
    format!("# tuned {}", Mapping::default_canny_linear().to_toml())
}

fn cli(db: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("roundtrip")
        .unwrap()
        .env_remove("ROUNDTRIP_DB")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_cli(db: &Path, mapping_file: &Path) {
    let steps: &[(&[&str], i32)] = &[
        (&["jobs", "retry", "1"], 0),
        (&["jobs", "retry", "2"], 1),
        (&["jobs", "cancel", "4"], 0),
        (&["jobs", "retry", "--all-failed"], 0),
        (&["conflicts", "resolve", "1", "--take", "linear"], 0),
        (&["conflicts", "resolve", "2", "--value", "ui, beta"], 0),
        (&["conflicts", "resolve", "1", "--take", "portal"], 1),
        (
            &[
                "mapping",
                "apply",
                mapping_file.to_str().unwrap(),
                "--note",
                "edited in the console",
            ],
            0,
        ),
        (&["mapping", "rollback", "1"], 0),
        (&["resume", "deletes"], 0),
    ];
    for (args, code) in steps {
        let (got, err) = cli(db, args);
        assert_eq!(got, *code, "{args:?}: {err}");
    }
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn command(app: &mut App, line: &str) {
    key(app, KeyCode::Char(':'));
    typed(app, line);
    key(app, KeyCode::Enter);
}

fn confirm(app: &mut App) {
    assert!(
        app.dialogs
            .last()
            .is_some_and(|d| d.as_any().downcast_ref::<ConfirmDialog>().is_some()),
        "expected a confirm dialog, message {:?}",
        app.message
    );
    key(app, KeyCode::Char('y'));
}

/// Answer the editor's own "save?" question.
fn save_in_editor(app: &mut App) {
    app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    assert!(
        app.dialogs.last().is_some_and(|d| d
            .as_any()
            .downcast_ref::<EditorDialog>()
            .is_some_and(EditorDialog::asking)),
        "the editor did not ask: {:?}",
        app.message
    );
    key(app, KeyCode::Char('y'));
}

fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

fn run_console(db: &Path) {
    let store = Store::open(db, OpenMode::Existing).unwrap();
    let mut app = App::new(store, false, Clock::System, Theme::mono()).unwrap();
    // Jobs (failed and dead, newest first): retry the oldest, job 1, then
    // the refusals and the rest.
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('G'));
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(message(&app), "requeued 1 job (1)");
    command(&mut app, "retry #2");
    assert_eq!(
        message(&app),
        "nothing requeued; job 2 succeeded: nothing to retry"
    );
    command(&mut app, "cancel 4");
    confirm(&mut app);
    key(&mut app, KeyCode::Char('R'));
    confirm(&mut app);
    // Conflicts: take Linear on the first, a merged labels value on the next.
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('L'));
    confirm(&mut app);
    key(&mut app, KeyCode::Char('e'));
    typed(&mut app, "ui, beta");
    save_in_editor(&mut app);
    assert!(
        app.dialogs.is_empty(),
        "editor still open: {:?}",
        app.message
    );
    command(&mut app, "resolve portal 1");
    confirm(&mut app);
    assert!(
        message(&app).contains("conflict 1 is already resolved"),
        "{}",
        message(&app)
    );
    // Mappings: edit the active document, apply, then roll back.
    key(&mut app, KeyCode::Char('5'));
    key(&mut app, KeyCode::Char('e'));
    typed(&mut app, "# tuned ");
    save_in_editor(&mut app);
    command(&mut app, "rollback 1");
    confirm(&mut app);
    command(&mut app, "resume deletes");
    confirm(&mut app);
    assert!(
        message(&app).contains("delete propagation resumed"),
        "{}",
        message(&app)
    );
}

/// Every row an operator action touches, without the wall-clock columns.
fn rows(db: &Path) -> Vec<String> {
    let store = Store::open(db, OpenMode::ReadOnly).unwrap();
    let d = store.db();
    let mut out = Vec::new();
    for mut j in d.jobs(&JobFilter::default(), Window::first(100)).unwrap() {
        (j.next_run_at, j.updated_at, j.created_at) = (0, 0, 0);
        out.push(format!("{j:?}"));
    }
    for a in d.attempts(1).unwrap() {
        out.push(format!("{a:?}"));
    }
    for mut c in d
        .conflicts(&ConflictFilter::default(), Window::first(100))
        .unwrap()
    {
        (c.resolved_at, c.created_at) = (None, 0);
        out.push(format!("{c:?}"));
    }
    for mut m in d.mapping_versions().unwrap() {
        (m.created_at, m.activated_at) = (0, None);
        out.push(format!("{m:?}"));
    }
    for mut e in d.audit(Window::first(100)).unwrap() {
        e.at = 0;
        out.push(format!("{e:?}"));
    }
    out.push(format!("{:?}", d.meta(meta_keys::DELETES_PAUSED).unwrap()));
    out
}

#[test]
fn cli_and_console_leave_identical_rows_and_audit_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b): (PathBuf, PathBuf) = (dir.path().join("cli.db"), dir.path().join("console.db"));
    seed(&a);
    seed(&b);
    assert_eq!(rows(&a), rows(&b), "the seeds differ");
    let file = dir.path().join("mapping.toml");
    std::fs::write(&file, edited_mapping()).unwrap();
    run_cli(&a, &file);
    run_console(&b);
    let (cli_rows, console_rows) = (rows(&a), rows(&b));
    for (x, y) in cli_rows.iter().zip(&console_rows) {
        assert_eq!(x, y);
    }
    assert_eq!(cli_rows.len(), console_rows.len());
    // The steps did what they say: 4 retries + 1 cancel, 2 resolutions,
    // apply, rollback and resume, each audited once.
    let store = Store::open(&a, OpenMode::ReadOnly).unwrap();
    let audit = store.db().audit(Window::first(100)).unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "retry", "cancel", "retry", "resolve", "resolve", "mapping", "rollback", "resume"
        ]
    );
    let labels = store.db().conflict(2).unwrap().unwrap();
    assert_eq!(
        labels.resolution,
        Some(roundtrip::store::Resolution::Value(FieldValue::Set(
            ["beta".to_string(), "ui".to_string()].into()
        )))
    );
    let v2 = store.db().mapping_version(2).unwrap().unwrap();
    assert_eq!(
        v2.document,
        edited_mapping().replace("version = 1", "version = 2")
    );
}
