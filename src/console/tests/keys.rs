//! Key handling as a state machine: confirmations come before writes,
//! read-only refuses and hides, Esc backs out, filters narrow the table.

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::style::Modifier;

use super::{app, ctrl, press, render, typed};
use crate::console::app::{App, ViewId};
use crate::console::keymap::{self, Cmd};
use crate::console::layers::Layer;
use crate::console::theme::Theme;
use crate::domain::{ErrorClass, JobStatus};
use crate::store::{ConflictFilter, ConflictStatus, JobFilter, Resolution, Window};

fn count(a: &App, status: JobStatus) -> i64 {
    a.store.db().summary().unwrap().jobs_in(status)
}

fn confirm_prompt(a: &App) -> Option<String> {
    match a.layers.last() {
        Some(Layer::Confirm { prompt, .. }) => Some(prompt.clone()),
        _ => None,
    }
}

fn operator_audit(a: &App) -> usize {
    a.store
        .db()
        .audit(Window::last(1000))
        .unwrap()
        .iter()
        .filter(|e| e.actor == crate::domain::Actor::Operator)
        .count()
}

#[test]
fn bulk_retry_asks_with_the_count_and_only_then_writes() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('3'));
    assert_eq!(a.view, ViewId::Jobs);
    press(&mut a, KeyCode::Char('R'));
    let prompt = confirm_prompt(&a).expect("a confirm dialog");
    assert_eq!(prompt, "Retry all 6 failed or dead jobs?");
    assert_eq!(count(&a, JobStatus::Failed), 4);
    assert_eq!(count(&a, JobStatus::Dead), 2);
    press(&mut a, KeyCode::Char('y'));
    assert!(a.layers.is_empty());
    assert_eq!(count(&a, JobStatus::Failed) + count(&a, JobStatus::Dead), 0);
    // One audit entry per requeued job, as for a retry by id.
    assert_eq!(operator_audit(&a), 6);
}

#[test]
fn command_line_retry_counts_the_filter_and_no_changes_nothing() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char(':'));
    typed(&mut a, "retry failed rate_limited");
    press(&mut a, KeyCode::Enter);
    let prompt = confirm_prompt(&a).expect("a confirm dialog");
    assert_eq!(
        prompt,
        "Retry all 3 failed jobs with error class rate_limited?"
    );
    press(&mut a, KeyCode::Char('n'));
    assert!(a.layers.is_empty());
    assert_eq!(count(&a, JobStatus::Failed), 4);
    press(&mut a, KeyCode::Char(':'));
    typed(&mut a, "retry failed rate_limited");
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Enter);
    assert_eq!(count(&a, JobStatus::Failed), 1);
}

#[test]
fn single_retry_needs_no_confirm_but_cancel_does() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('3'));
    press(&mut a, KeyCode::Char('r'));
    assert!(a.layers.is_empty());
    assert_eq!(
        a.store.db().job(1).unwrap().unwrap().status,
        JobStatus::Queued
    );
    press(&mut a, KeyCode::Char('j'));
    press(&mut a, KeyCode::Char('x'));
    assert!(confirm_prompt(&a).unwrap().contains("Cancel 1 job"));
    press(&mut a, KeyCode::Esc);
    assert_eq!(
        a.store.db().job(2).unwrap().unwrap().status,
        JobStatus::Failed
    );
}

#[test]
fn read_only_refuses_and_hides_every_action() {
    let mut a = app(true, Theme::mono());
    press(&mut a, KeyCode::Char('3'));
    press(&mut a, KeyCode::Char('r'));
    press(&mut a, KeyCode::Char('R'));
    assert!(a.layers.is_empty());
    assert!(a.message.as_ref().unwrap().text.contains("read-only"));
    assert_eq!(count(&a, JobStatus::Failed), 4);
    press(&mut a, KeyCode::Char(':'));
    typed(&mut a, "retry failed");
    press(&mut a, KeyCode::Enter);
    assert!(a.layers.is_empty());
    assert_eq!(count(&a, JobStatus::Failed), 4);
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Char('l'));
    assert_eq!(a.store.db().summary().unwrap().open_conflicts, 5);
    assert!(a.message.as_ref().unwrap().text.contains("read-only"));
    a.message = None;
    let screen = format!("{}", render(&mut a, 160, 48).backend());
    assert!(!screen.contains("take Linear"), "{screen}");
    assert!(screen.contains("READ-ONLY"));
    assert!(
        keymap::hints(&a.contexts(), true)
            .iter()
            .all(|b| !b.mutating)
    );
    press(&mut a, KeyCode::Char('?'));
    let help = format!("{}", render(&mut a, 160, 48).backend());
    assert!(!help.contains("retry all matching") && !help.contains("take portal"));
    assert!(help.contains("status filter"));
}

#[test]
fn esc_backs_out_one_step() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('?'));
    assert_eq!(a.layers.len(), 1);
    press(&mut a, KeyCode::Esc);
    assert!(a.layers.is_empty());
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Enter);
    assert!(a.conflicts.detail);
    press(&mut a, KeyCode::Esc);
    assert!(!a.conflicts.detail);
    press(&mut a, KeyCode::Char('3'));
    press(&mut a, KeyCode::Char('s'));
    assert!(a.jobs.filter.status.is_some());
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.jobs.filter, JobFilter::default());
    press(&mut a, KeyCode::Char('5'));
    press(&mut a, KeyCode::Char('e'));
    assert!(matches!(a.layers.last(), Some(Layer::Editor(_))));
    press(&mut a, KeyCode::Esc);
    assert!(a.layers.is_empty());
}

#[test]
fn filter_narrows_the_table() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('3'));
    let all = a.jobs.pager.rows.len();
    press(&mut a, KeyCode::Char('/'));
    typed(&mut a, "failed rate_limited");
    press(&mut a, KeyCode::Enter);
    let rows = &a.jobs.pager.rows;
    assert_eq!(rows.len(), 3);
    assert!(rows.len() < all);
    assert!(
        rows.iter().all(
            |j| j.status == JobStatus::Failed && j.error_class == Some(ErrorClass::RateLimited)
        )
    );
    press(&mut a, KeyCode::Char('4'));
    press(&mut a, KeyCode::Char('/'));
    typed(&mut a, "okta");
    press(&mut a, KeyCode::Enter);
    assert!(!a.links.pager.rows.is_empty());
    assert!(a.links.pager.rows.iter().all(|l| l.title.contains("Okta")));
}

#[test]
fn resolve_one_then_a_marked_selection_with_confirm() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Char('l'));
    let c1 = a.store.db().conflict(1).unwrap().unwrap();
    assert_eq!(c1.status, ConflictStatus::Resolved);
    assert_eq!(c1.resolution, Some(Resolution::Linear));
    assert_eq!(c1.resolved_by, Some(crate::domain::Actor::Operator));
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Char('p'));
    assert!(confirm_prompt(&a).unwrap().contains("Resolve 2 conflicts"));
    press(&mut a, KeyCode::Char('y'));
    let open = a
        .store
        .db()
        .conflicts(
            &ConflictFilter {
                status: Some(ConflictStatus::Open),
                field: None,
            },
            Window::first(10),
        )
        .unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(operator_audit(&a), 3);
}

#[test]
fn merged_value_from_the_editor() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Char('e'));
    ctrl(&mut a, 'a');
    typed(&mut a, " (merged)");
    ctrl(&mut a, 's');
    assert!(a.layers.is_empty(), "{:?}", a.message);
    let c = a.store.db().conflict(1).unwrap().unwrap();
    match c.resolution {
        Some(Resolution::Value(crate::domain::FieldValue::Text(t))) => {
            assert!(t.contains("(merged)"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn always_resolve_saves_a_new_mapping_version_after_confirm() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Char('L'));
    assert!(
        confirm_prompt(&a)
            .unwrap()
            .contains("Always resolve `title` as linear-wins")
    );
    assert_eq!(a.store.db().mapping_versions().unwrap().len(), 2);
    press(&mut a, KeyCode::Char('y'));
    let active = a.store.db().active_mapping().unwrap().unwrap();
    assert_eq!(active.version, 3);
    let doc: toml::Table = active.document.parse().unwrap();
    assert_eq!(
        doc["fields"]["title"]["on_conflict"].as_str(),
        Some("linear-wins")
    );
    assert_eq!(
        doc["fields"]["description"]["on_conflict"].as_str(),
        Some("ask")
    );
    assert_eq!(
        a.store.db().conflict(1).unwrap().unwrap().resolution,
        Some(Resolution::Linear)
    );
}

#[test]
fn mapping_editor_validates_applies_and_rolls_back() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('5'));
    press(&mut a, KeyCode::Char('e'));
    // Break line 1, then try to apply: refused with the error at line 1.
    typed(&mut a, "= ");
    ctrl(&mut a, 's');
    match a.layers.last() {
        Some(Layer::Editor(ed)) => assert_eq!(ed.diagnostics[0].line, Some(1)),
        other => panic!("{other:?}"),
    }
    press(&mut a, KeyCode::Esc);
    // The active one unchanged is not stored again.
    press(&mut a, KeyCode::Char('e'));
    ctrl(&mut a, 's');
    press(&mut a, KeyCode::Char('y'));
    assert_eq!(a.store.db().active_mapping().unwrap().unwrap().version, 2);
    assert!(
        a.message
            .as_ref()
            .unwrap()
            .text
            .contains("identical to the active version 2"),
        "{:?}",
        a.message
    );
    // Edited, it is stored as v3 and says so inside.
    press(&mut a, KeyCode::Char('e'));
    press(&mut a, KeyCode::Down);
    typed(&mut a, "# edited");
    ctrl(&mut a, 's');
    press(&mut a, KeyCode::Char('y'));
    let v3 = a.store.db().active_mapping().unwrap().unwrap();
    assert_eq!(v3.version, 3);
    assert!(v3.document.contains("version = 3"), "{}", v3.document);
    // Roll back to v1.
    press(&mut a, KeyCode::Char('G'));
    press(&mut a, KeyCode::Char('r'));
    assert!(confirm_prompt(&a).unwrap().contains("v1"));
    press(&mut a, KeyCode::Char('y'));
    assert_eq!(a.store.db().active_mapping().unwrap().unwrap().version, 1);
}

#[test]
fn mouse_click_switches_tabs_and_selects_rows() {
    let mut a = app(false, Theme::mono());
    render(&mut a, 100, 30);
    let (rect, _) = *a
        .hits
        .iter()
        .find(|(_, h)| *h == crate::console::app::Hit::Tab(ViewId::Jobs))
        .unwrap();
    let click = |x, y| {
        crossterm::event::Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        })
    };
    a.on_event(click(rect.x + 1, rect.y));
    assert_eq!(a.view, ViewId::Jobs);
    render(&mut a, 100, 30);
    let (row, _) = *a
        .hits
        .iter()
        .find(|(_, h)| *h == crate::console::app::Hit::Row(4))
        .unwrap();
    a.on_event(click(row.x + 2, row.y));
    assert_eq!(a.jobs.pager.selected().unwrap().id, 5);
    a.on_event(crossterm::event::Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 0,
        row: 0,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.jobs.pager.selected().unwrap().id, 6);
}

#[test]
fn mono_theme_keeps_selection_visible() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('3'));
    let t = render(&mut a, 80, 24);
    let buf = t.backend().buffer();
    // Row of the selected job: the first data row under the header.
    let y = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol())
                .collect::<String>()
                .contains("#1 ")
        })
        .unwrap();
    assert!(buf[(5, y)].modifier.contains(Modifier::REVERSED));
    assert!((0..80).all(|x| buf[(x, y)].fg == ratatui::style::Color::Reset));
}

#[test]
fn idle_poll_does_not_reload_until_another_connection_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let mut writer = crate::store::Store::open(&path, crate::store::OpenMode::Create).unwrap();
    super::seed(&mut writer);
    let store = crate::console::open_store(&path, false).unwrap();
    let mut a = App::new(
        store,
        false,
        crate::console::clock::Clock::Fixed(super::T0),
        Theme::mono(),
    )
    .unwrap();
    assert!(!a.poll_store().unwrap());
    assert!(!a.poll_store().unwrap());
    writer
        .db()
        .log_event(crate::store::Level::Error, "engine", "boom")
        .unwrap();
    assert!(a.poll_store().unwrap());
    assert!(!a.poll_store().unwrap());
}

#[test]
fn keymap_commands_are_all_reachable() {
    // Every view-specific binding shows up in help when not read-only.
    let help = keymap::help(false);
    for b in keymap::BINDINGS {
        assert!(
            help.iter()
                .any(|(_, rows)| rows.iter().any(|r| r.cmd == b.cmd && r.ctx == b.ctx))
        );
    }
    assert!(keymap::BINDINGS.iter().any(|b| b.cmd == Cmd::RetryAll));
}

#[test]
fn readme_key_table_matches_the_keymap() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&keymap::markdown()),
        "README's console key table is stale; regenerate it from keymap::markdown():\n{}",
        keymap::markdown()
    );
}

#[test]
#[ignore = "prints the README material: cargo test --lib readme_material -- --ignored --nocapture"]
fn readme_material() {
    println!("{}", keymap::markdown());
    let mut a = app(false, Theme::mono());
    let t = render(&mut a, 100, 30);
    let buf = t.backend().buffer();
    for y in 0..30 {
        let line: String = (0..100).map(|x| buf[(x, y)].symbol()).collect();
        println!("{}", line.trim_end());
    }
}

#[test]
fn refusals_are_said_per_id_and_a_missing_rollback_is_refused_before_asking() {
    let mut a = app(false, Theme::mono());
    let err = |a: &App| {
        let m = a.message.as_ref().expect("a message");
        assert!(m.error, "not shown as an error: {}", m.text);
        m.text.clone()
    };
    press(&mut a, KeyCode::Char(':'));
    typed(&mut a, "rollback 9");
    press(&mut a, KeyCode::Enter);
    assert!(
        a.layers.is_empty(),
        "no confirm for a rollback that cannot happen"
    );
    assert_eq!(
        err(&a),
        "mapping version 9 does not exist (see `roundtrip mapping versions`)"
    );
    press(&mut a, KeyCode::Char(':'));
    typed(&mut a, "rollback 2");
    press(&mut a, KeyCode::Enter);
    assert!(a.layers.is_empty());
    assert!(err(&a).contains("already active"));
    // Job 20 succeeded: the retry is refused with the reason.
    press(&mut a, KeyCode::Char(':'));
    typed(&mut a, "retry #20");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        err(&a),
        "nothing requeued; job 20 succeeded: nothing to retry"
    );
    // A second decision on a conflict is refused, not silently skipped.
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Char('l'));
    press(&mut a, KeyCode::Char(':'));
    typed(&mut a, "resolve portal 1");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        err(&a),
        "nothing resolved; conflict 1 is already resolved (took linear, by operator)"
    );
    assert_eq!(operator_audit(&a), 1);
}

#[test]
fn a_merged_value_that_does_not_fit_keeps_the_editor_open() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('2'));
    // Conflict 3 is on `status`, which the fixture's active mapping does not map.
    press(&mut a, KeyCode::Char('j'));
    press(&mut a, KeyCode::Char('j'));
    press(&mut a, KeyCode::Char('e'));
    ctrl(&mut a, 's');
    match a.layers.last() {
        Some(Layer::Editor(ed)) => {
            assert!(
                ed.diagnostics[0].message.contains("does not map"),
                "{:?}",
                ed.diagnostics
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a.store.db().conflict(3).unwrap().unwrap().status,
        ConflictStatus::Open
    );
}

#[test]
fn a_refused_mapping_version_is_shown_refused_and_the_engines_version_active() {
    let mut a = app(false, Theme::mono());
    a.store
        .write(|db| db.refuse_mapping_version(2, "line 3: expected a value", 1))
        .unwrap();
    a.reload().unwrap();
    press(&mut a, KeyCode::Char('5'));
    let screen = format!("{}", render(&mut a, 160, 48).backend());
    assert!(screen.contains("✗v2"), "{screen}");
    assert!(screen.contains("●v1"), "{screen}");
    assert!(
        screen.contains("refused by the engine: line 3: expected a value"),
        "{screen}"
    );
    let health = a.health.clone().unwrap();
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r == "mapping version 2 was refused (line 3: expected a value); version 1 stays in force"),
        "{health:?}"
    );
    // Rolling back to the version in force answers the alert.
    press(&mut a, KeyCode::Char('G'));
    press(&mut a, KeyCode::Char('r'));
    press(&mut a, KeyCode::Char('y'));
    assert!(
        a.health
            .clone()
            .unwrap()
            .reasons
            .iter()
            .all(|r| !r.contains("refused"))
    );
}
