//! Key handling as a state machine: problems first, every write asks (and
//! names its ids), read-only refuses and hides, `:` acts only on the view
//! on screen, the editor never loses work, Esc backs out one step.

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::style::Modifier;

use super::{app, confirm_title, ctrl, message, press, render, screen, top, typed};
use crate::console::app::App;
use crate::console::dialogs::editor::EditorDialog;
use crate::console::dialogs::panel::PanelDialog;
use crate::console::dialogs::picker::PickerDialog;
use crate::console::dialogs::prompt::PromptDialog;
use crate::console::keymap;
use crate::console::theme::Theme;
use crate::console::types::{Cmd, Hit, JobStatuses, ViewId};
use crate::domain::JobStatus;
use crate::store::{ConflictFilter, ConflictStatus, Resolution, Window};

fn key(a: &mut App, c: char) {
    press(a, KeyCode::Char(c));
}

fn count(a: &App, status: JobStatus) -> i64 {
    a.store.db().summary().unwrap().jobs_in(status)
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

fn open_conflicts(a: &App) -> usize {
    a.store
        .db()
        .conflicts(
            &ConflictFilter {
                status: Some(ConflictStatus::Open),
                field: None,
            },
            Window::first(100),
        )
        .unwrap()
        .len()
}

#[test]
fn jobs_open_on_failed_and_dead_newest_first_and_f_lands_there() {
    let mut a = app(false, Theme::mono());
    key(&mut a, 'f');
    assert_eq!(a.view, ViewId::Jobs);
    let rows = &a.views.jobs.pager.rows;
    let expected = count(&a, JobStatus::Failed) + count(&a, JobStatus::Dead);
    assert_eq!(rows.len() as i64, expected);
    assert!(
        rows.iter()
            .all(|j| matches!(j.status, JobStatus::Failed | JobStatus::Dead))
    );
    let ids: Vec<i64> = rows.iter().map(|j| j.id).collect();
    assert_eq!(ids, [6, 5, 4, 3, 2, 1], "newest first");
    // The Overview's count is exactly what the jump shows.
    let mut b = app(false, Theme::mono());
    let overview = screen(&mut b, 80, 24);
    assert!(
        overview.contains(&format!("{expected} failed + dead jobs")),
        "{overview}"
    );
    // The default Jobs view is the same list.
    key(&mut b, '3');
    assert_eq!(b.views.jobs.statuses, JobStatuses::Attention);
    assert_eq!(b.views.jobs.pager.rows.len() as i64, expected);
}

#[test]
fn filters_are_chosen_from_a_picker_with_counts() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '3');
    key(&mut a, 's');
    let picker = top::<PickerDialog>(&a).expect("a status picker");
    let queued = picker
        .items
        .iter()
        .position(|i| i.label == "queued")
        .unwrap();
    assert_eq!(picker.items[queued].detail, "10");
    for _ in 0..queued {
        key(&mut a, 'j');
    }
    press(&mut a, KeyCode::Enter);
    assert!(a.dialogs.is_empty());
    assert_eq!(a.views.jobs.pager.rows.len(), 10);
    assert!(
        a.views
            .jobs
            .pager
            .rows
            .iter()
            .all(|j| j.status == JobStatus::Queued)
    );
    key(&mut a, 'c');
    press(&mut a, KeyCode::Esc);
    assert!(a.dialogs.is_empty(), "Esc closes a picker");
    // Esc in the view goes back to what needs attention.
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.views.jobs.statuses, JobStatuses::Attention);
}

#[test]
fn bulk_retry_asks_with_the_count_and_only_then_writes() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '3');
    key(&mut a, 'R');
    assert_eq!(
        confirm_title(&a).as_deref(),
        Some("Retry all 6 failed or dead jobs?")
    );
    assert_eq!(count(&a, JobStatus::Failed), 4);
    key(&mut a, 'y');
    assert!(a.dialogs.is_empty());
    assert_eq!(count(&a, JobStatus::Failed) + count(&a, JobStatus::Dead), 0);
    assert_eq!(operator_audit(&a), 6);
    assert!(
        message(&a) == "requeued 6 jobs (1, 2, 3, 6, 4, 5): failed or dead jobs",
        "{}",
        message(&a)
    );
}

#[test]
fn single_retry_names_the_job_and_cancel_asks() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '3');
    key(&mut a, 'r');
    assert!(a.dialogs.is_empty());
    assert_eq!(message(&a), "requeued 1 job (6)");
    assert_eq!(
        a.store.db().job(6).unwrap().unwrap().status,
        JobStatus::Queued
    );
    key(&mut a, 'x');
    assert_eq!(confirm_title(&a).as_deref(), Some("Cancel job #5?"));
    press(&mut a, KeyCode::Esc);
    assert_eq!(message(&a), "not done: cancel job #5");
    assert_eq!(
        a.store.db().job(5).unwrap().unwrap().status,
        JobStatus::Dead
    );
}

#[test]
fn resolving_asks_saying_what_goes_where_and_names_the_ids() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '2');
    // The old one-letter keys no longer write.
    for k in ['p', 'l', 'b'] {
        key(&mut a, k);
    }
    assert!(a.dialogs.is_empty());
    assert_eq!(open_conflicts(&a), 5);
    key(&mut a, 'L');
    assert_eq!(
        confirm_title(&a).as_deref(),
        Some("Resolve conflict #1: take Linear?")
    );
    let q = screen(&mut a, 160, 48);
    assert!(
        q.contains("#1 title on 65f1c2a00000000000001001 ↔ ENG-100: Linear's 'Dashboard dark theme' is written to the portal"),
        "{q}"
    );
    key(&mut a, 'n');
    assert_eq!(open_conflicts(&a), 5, "no means no write");
    key(&mut a, 'L');
    key(&mut a, 'y');
    let c1 = a.store.db().conflict(1).unwrap().unwrap();
    assert_eq!(c1.resolution, Some(Resolution::Linear));
    assert!(
        message(&a)
            .starts_with("conflict 1 resolved (title on 65f1c2a00000000000001001 ↔ ENG-100)"),
        "{}",
        message(&a)
    );
    // A marked selection: the question and the message list every id.
    key(&mut a, ' ');
    key(&mut a, ' ');
    key(&mut a, 'P');
    assert_eq!(
        confirm_title(&a).as_deref(),
        Some("Resolve conflicts #2, #3: take portal?")
    );
    key(&mut a, 'y');
    assert_eq!(open_conflicts(&a), 2);
    assert_eq!(operator_audit(&a), 3);
    assert_eq!(message(&a), "resolved 2 conflicts (2, 3): take portal");
}

#[test]
fn resolved_conflicts_stay_viewable() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '2');
    key(&mut a, 'L');
    key(&mut a, 'y');
    assert_eq!(a.views.conflicts.pager.rows.len(), 4);
    key(&mut a, 's');
    key(&mut a, 'j');
    press(&mut a, KeyCode::Enter);
    let rows = &a.views.conflicts.pager.rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, ConflictStatus::Resolved);
    let s = screen(&mut a, 160, 48);
    assert!(
        s.contains("by operator: took linear · not written yet"),
        "{s}"
    );
}

#[test]
fn command_line_acts_only_on_the_view_on_screen() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '2');
    key(&mut a, '1');
    // The conflict selected in Conflicts is not on screen: refused.
    a.run_command("resolve linear");
    assert!(a.dialogs.is_empty());
    assert!(
        message(&a).contains("Conflicts view, which is not on screen"),
        "{}",
        message(&a)
    );
    assert_eq!(open_conflicts(&a), 5);
    // With ids it works from anywhere, and asks first.
    a.run_command("resolve linear 2");
    assert_eq!(
        confirm_title(&a).as_deref(),
        Some("Resolve conflict #2: take Linear?")
    );
    key(&mut a, 'y');
    assert_eq!(open_conflicts(&a), 4);
    // In Conflicts, without ids, it takes the selection there.
    key(&mut a, '2');
    a.run_command("resolve base");
    assert_eq!(
        confirm_title(&a).as_deref(),
        Some("Resolve conflict #1: keep base?")
    );
}

#[test]
fn command_line_keeps_history_and_completes() {
    let mut a = app(false, Theme::mono());
    key(&mut a, ':');
    typed(&mut a, "view jobs");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.view, ViewId::Jobs);
    key(&mut a, ':');
    press(&mut a, KeyCode::Up);
    assert_eq!(top::<PromptDialog>(&a).unwrap().text(), "view jobs");
    press(&mut a, KeyCode::Esc);
    key(&mut a, ':');
    typed(&mut a, "rol");
    press(&mut a, KeyCode::Tab);
    assert_eq!(top::<PromptDialog>(&a).unwrap().text(), "rollback ");
    typed(&mut a, "9");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        message(&a),
        "mapping version 9 does not exist (see `roundtrip mapping versions`)"
    );
}

#[test]
fn read_only_refuses_and_hides_every_write() {
    let mut a = app(true, Theme::mono());
    key(&mut a, '3');
    key(&mut a, 'r');
    key(&mut a, 'R');
    assert!(a.dialogs.is_empty());
    assert!(message(&a).contains("read-only"));
    assert_eq!(count(&a, JobStatus::Failed), 4);
    a.run_command("retry failed");
    assert!(a.dialogs.is_empty());
    assert_eq!(count(&a, JobStatus::Failed), 4);
    key(&mut a, '2');
    key(&mut a, 'L');
    assert_eq!(open_conflicts(&a), 5);
    assert!(message(&a).contains("read-only"));
    a.message = None;
    let s = screen(&mut a, 160, 48);
    assert!(!s.contains("take Linear"), "{s}");
    assert!(s.contains("READ-ONLY"));
    assert!(
        keymap::hints(&a.contexts(), true)
            .iter()
            .all(|b| !b.mutating)
    );
    key(&mut a, '?');
    let help = screen(&mut a, 160, 48);
    assert!(!help.contains("retry all matching") && !help.contains("take portal"));
    assert!(help.contains("status…"));
}

#[test]
fn esc_backs_out_one_step() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '?');
    assert_eq!(a.dialogs.len(), 1);
    press(&mut a, KeyCode::Esc);
    assert!(a.dialogs.is_empty());
    key(&mut a, '2');
    press(&mut a, KeyCode::Enter);
    assert!(a.views.conflicts.detail);
    press(&mut a, KeyCode::Esc);
    assert!(!a.views.conflicts.detail);
    key(&mut a, '5');
    key(&mut a, 'e');
    assert!(top::<EditorDialog>(&a).is_some());
    press(&mut a, KeyCode::Esc);
    assert!(a.dialogs.is_empty(), "an unchanged edit closes at once");
}

#[test]
fn the_editor_asks_before_discarding_and_a_no_keeps_the_edit() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '5');
    key(&mut a, 'e');
    typed(&mut a, "# my change");
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Esc);
    let ed = top::<EditorDialog>(&a).expect("still open");
    assert!(ed.asking());
    assert!(screen(&mut a, 80, 24).contains("Discard your changes?"));
    key(&mut a, 'n');
    let ed = top::<EditorDialog>(&a).expect("still open");
    assert!(!ed.asking());
    assert!(ed.text().starts_with("# my change"));
    // Saving asks too, and "no" goes back to the edit, not away from it.
    ctrl(&mut a, 's');
    assert!(top::<EditorDialog>(&a).unwrap().asking());
    key(&mut a, 'n');
    assert!(
        top::<EditorDialog>(&a)
            .unwrap()
            .text()
            .starts_with("# my change")
    );
    assert_eq!(a.store.db().mapping_versions().unwrap().len(), 2);
    press(&mut a, KeyCode::Esc);
    key(&mut a, 'y');
    assert!(a.dialogs.is_empty());
    assert_eq!(message(&a), "changes discarded");
    assert_eq!(a.store.db().mapping_versions().unwrap().len(), 2);
}

#[test]
fn applying_follows_the_new_version_and_a_refused_one_is_not_rolled_back_to() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '5');
    key(&mut a, 'e');
    // Break line 1: refused with the error at line 1, nothing asked.
    typed(&mut a, "= ");
    ctrl(&mut a, 's');
    let ed = top::<EditorDialog>(&a).unwrap();
    assert_eq!(ed.diagnostics[0].line, Some(1));
    assert!(!ed.asking());
    press(&mut a, KeyCode::Esc);
    key(&mut a, 'y');
    key(&mut a, 'e');
    press(&mut a, KeyCode::Down);
    typed(&mut a, "# edited");
    ctrl(&mut a, 's');
    assert!(screen(&mut a, 160, 48).contains("Apply the mapping?"));
    key(&mut a, 'y');
    let v3 = a.store.db().active_mapping().unwrap().unwrap();
    assert_eq!(v3.version, 3);
    let sel = &a.views.mappings.versions[a.views.mappings.sel];
    assert_eq!(sel.version, 3, "the selection follows the new version");
    // A refused version is refused before any question.
    a.store
        .write(|db| db.refuse_mapping_version(3, "line 3: expected a value", 2))
        .unwrap();
    a.reload().unwrap();
    let sel = &a.views.mappings.versions[a.views.mappings.sel];
    assert_eq!(sel.version, 2, "follows the version in force");
    key(&mut a, 'k');
    key(&mut a, 'r');
    assert!(a.dialogs.is_empty());
    assert!(
        message(&a).contains("was refused by the engine"),
        "{}",
        message(&a)
    );
    // Rolling back to an older good one asks, then works.
    key(&mut a, 'G');
    key(&mut a, 'r');
    assert_eq!(
        confirm_title(&a).as_deref(),
        Some("Roll back to mapping v1?")
    );
    key(&mut a, 'y');
    assert_eq!(a.store.db().active_mapping().unwrap().unwrap().version, 1);
}

#[test]
fn merged_value_from_the_editor_asks_then_resolves() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '2');
    key(&mut a, 'e');
    ctrl(&mut a, 'a');
    typed(&mut a, " (merged)");
    ctrl(&mut a, 's');
    assert!(top::<EditorDialog>(&a).unwrap().asking());
    assert!(screen(&mut a, 160, 48).contains(
        "Resolve conflict #1 (title on 65f1c2a00000000000001001 ↔ ENG-100) with this value?"
    ));
    key(&mut a, 'y');
    assert!(a.dialogs.is_empty(), "{:?}", a.message);
    let c = a.store.db().conflict(1).unwrap().unwrap();
    match c.resolution {
        Some(Resolution::Value(crate::domain::FieldValue::Text(t))) => {
            assert!(t.contains("(merged)"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_merged_value_that_does_not_fit_keeps_the_editor_open() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '2');
    // Conflict 3 is on `status`, which the fixture's active mapping does not map.
    key(&mut a, 'j');
    key(&mut a, 'j');
    key(&mut a, 'e');
    ctrl(&mut a, 's');
    let ed = top::<EditorDialog>(&a).unwrap();
    assert!(
        ed.diagnostics[0].message.contains("does not map"),
        "{:?}",
        ed.diagnostics
    );
    assert_eq!(
        a.store.db().conflict(3).unwrap().unwrap().status,
        ConflictStatus::Open
    );
}

#[test]
fn always_resolve_is_chosen_then_asked() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '2');
    key(&mut a, 'A');
    key(&mut a, 'j');
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        confirm_title(&a).as_deref(),
        Some("Always resolve `title` as linear-wins?")
    );
    assert_eq!(a.store.db().mapping_versions().unwrap().len(), 2);
    key(&mut a, 'y');
    let active = a.store.db().active_mapping().unwrap().unwrap();
    assert_eq!(active.version, 3);
    let doc: toml::Table = active.document.parse().unwrap();
    assert_eq!(
        doc["fields"]["title"]["on_conflict"].as_str(),
        Some("linear-wins")
    );
    assert_eq!(
        a.store.db().conflict(1).unwrap().unwrap().resolution,
        Some(Resolution::Linear)
    );
}

#[test]
fn enter_shows_long_text_whole_and_wrapped() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '3');
    press(&mut a, KeyCode::Enter);
    assert!(top::<PanelDialog>(&a).is_some());
    let s = screen(&mut a, 80, 24);
    let joined: String = s
        .lines()
        .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    let squeezed = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        squeezed.contains("the post's title was edited on the portal after the issue was planned"),
        "{s}"
    );
    press(&mut a, KeyCode::Esc);
    // The log's Enter shows a whole message too.
    key(&mut a, '6');
    press(&mut a, KeyCode::Enter);
    assert!(top::<PanelDialog>(&a).is_some());
    let s = screen(&mut a, 80, 24);
    assert!(
        s.contains("warn portal event") && s.contains("503 from Canny, retrying"),
        "{s}"
    );
}

#[test]
fn find_highlights_and_n_moves_between_matches() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '6');
    key(&mut a, '/');
    typed(&mut a, "503");
    press(&mut a, KeyCode::Enter);
    let first = a.views.log.pager.sel;
    assert!(
        a.views.log.pager.rows[first].message.contains("503"),
        "{:?}",
        a.views.log.pager.rows[first]
    );
    key(&mut a, 'n');
    let second = a.views.log.pager.sel;
    assert_ne!(first, second);
    assert!(a.views.log.pager.rows[second].message.contains("503"));
    key(&mut a, 'N');
    assert_eq!(a.views.log.pager.sel, first);
    let t = render(&mut a, 80, 24);
    let buf = t.backend().buffer();
    let hl = (0..24)
        .flat_map(|y| (0..80).map(move |x| (x, y)))
        .filter(|p| buf[*p].modifier.contains(Modifier::UNDERLINED) && buf[*p].symbol() == "5")
        .count();
    assert!(hl >= 2, "matches are highlighted");
}

#[test]
fn copy_puts_the_id_on_the_clipboard_with_osc52() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '4');
    key(&mut a, 'y');
    assert_eq!(a.clipboard, ["ENG-139"]);
    assert_eq!(message(&a), "copied to the clipboard: ENG-139");
    assert_eq!(
        crate::console::tui::osc52("ENG-139"),
        "\x1b]52;c;RU5HLTEzOQ==\x07"
    );
}

#[test]
fn o_shows_both_sides_urls() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '4');
    key(&mut a, 'G');
    key(&mut a, 'o');
    let s = screen(&mut a, 160, 48);
    assert!(
        s.contains("https://feedback.acme.test/feature-requests/p/dark-mode-for-the-dashboard--1"),
        "{s}"
    );
    assert!(
        s.contains("https://linear.app/acme/issue/ENG-100/dark-mode-for-the-dashboard--1"),
        "{s}"
    );
    key(&mut a, 'y');
    assert_eq!(a.clipboard.len(), 1);
    assert!(a.clipboard[0].contains("linear.app"));
}

#[test]
fn tables_say_where_the_selection_is_and_sort_by_column() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '4');
    key(&mut a, 'j');
    assert!(screen(&mut a, 80, 24).contains(" 2/40 "));
    key(&mut a, 'G');
    assert!(screen(&mut a, 80, 24).contains(" 40/40 "));
    key(&mut a, 'S');
    key(&mut a, 'G');
    press(&mut a, KeyCode::Enter);
    let titles: Vec<String> = a
        .views
        .links
        .pager
        .rows
        .iter()
        .map(|l| l.title.to_lowercase())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(titles, sorted);
    key(&mut a, 'S');
    key(&mut a, 'g');
    key(&mut a, 'j');
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.views.links.pager.rows[0].id, 1, "oldest first");
}

#[test]
fn mouse_click_switches_tabs_and_selects_rows() {
    let mut a = app(false, Theme::mono());
    render(&mut a, 100, 30);
    let (rect, _) = *a
        .hits
        .iter()
        .find(|(_, h)| *h == Hit::Tab(ViewId::Links))
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
    assert_eq!(a.view, ViewId::Links);
    render(&mut a, 100, 30);
    let (row, _) = *a.hits.iter().find(|(_, h)| *h == Hit::Row(4)).unwrap();
    a.on_event(click(row.x + 2, row.y));
    assert_eq!(a.views.links.pager.selected().unwrap().id, 36);
    a.on_event(crossterm::event::Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 0,
        row: 0,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.views.links.pager.selected().unwrap().id, 35);
    // The Overview's counts are hit targets for their jumps.
    let mut b = app(false, Theme::mono());
    render(&mut b, 100, 30);
    let (r, _) = *b
        .hits
        .iter()
        .find(|(_, h)| *h == Hit::Key(Cmd::GoProblems))
        .unwrap();
    b.on_event(click(r.x + 3, r.y));
    assert_eq!(b.view, ViewId::Jobs);
}

#[test]
fn mono_theme_keeps_selection_visible() {
    let mut a = app(false, Theme::mono());
    key(&mut a, '3');
    let t = render(&mut a, 80, 24);
    let buf = t.backend().buffer();
    let y = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol())
                .collect::<String>()
                .contains("#6 ")
        })
        .unwrap();
    assert!(buf[(5, y)].modifier.contains(Modifier::REVERSED));
    assert!((0..80).all(|x| buf[(x, y)].fg == ratatui::style::Color::Reset));
}

#[test]
fn refusals_are_said_per_id() {
    let mut a = app(false, Theme::mono());
    let err = |a: &App| {
        let m = a.message.as_ref().expect("a message");
        assert!(m.error, "not shown as an error: {}", m.text);
        m.text.clone()
    };
    a.run_command("rollback 2");
    assert!(a.dialogs.is_empty());
    assert!(err(&a).contains("already active"));
    // Job 20 succeeded: the retry is refused with the reason.
    a.run_command("retry #20");
    assert_eq!(
        err(&a),
        "nothing requeued; job 20 succeeded: nothing to retry"
    );
    a.run_command("resolve portal 1");
    key(&mut a, 'y');
    a.run_command("resolve portal 1");
    key(&mut a, 'y');
    assert_eq!(
        err(&a),
        "nothing resolved; conflict 1 is already resolved (took portal, by operator)"
    );
    assert_eq!(operator_audit(&a), 1);
}

#[test]
fn keymap_commands_are_all_reachable_and_the_readme_table_is_current() {
    let help = keymap::help(false);
    for b in keymap::BINDINGS {
        assert!(
            help.iter()
                .any(|(_, rows)| rows.iter().any(|r| r.cmd == b.cmd && r.ctx == b.ctx))
        );
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&keymap::markdown()),
        "README's console key table is stale; regenerate it from keymap::markdown():\n{}",
        keymap::markdown()
    );
}

/// The README's console captures: the Overview, and Jobs as `f` opens it,
/// at 100×30 from the test fixture.
fn readme_captures() -> String {
    let mut out = String::new();
    for (what, keys) in [
        ("The Overview", ""),
        ("`f` from the Overview: the jobs that need attention", "f"),
    ] {
        let mut a = app(false, Theme::mono());
        for c in keys.chars() {
            press(&mut a, KeyCode::Char(c));
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "{what} at 100×30 (from the test fixture):\n\n```text\n"
        ));
        for line in screen(&mut a, 100, 30).lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str("```\n");
    }
    out
}

#[test]
fn the_readme_captures_are_current() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&readme_captures()),
        "README's console captures are stale; print them with \
         `cargo test --lib readme_material -- --ignored --nocapture`"
    );
}

#[test]
#[ignore = "prints the README material: cargo test --lib readme_material -- --ignored --nocapture"]
fn readme_material() {
    println!("{}", keymap::markdown());
    print!("{}", readme_captures());
}

#[test]
fn idle_store_checks_reload_only_after_another_connection_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let mut writer = crate::store::Store::open(&path, crate::store::OpenMode::Create).unwrap();
    super::seed(&mut writer);
    let store = crate::console::open_store(&path.clone().into(), false).unwrap();
    let mut a = App::new(
        store,
        false,
        crate::console::clock::Clock::Fixed(super::T0),
        Theme::mono(),
    )
    .unwrap();
    let reads = a.reads;
    assert!(!a.poll_store().unwrap());
    assert!(!a.poll_store().unwrap());
    assert_eq!(a.reads, reads);
    writer
        .db()
        .log_event(crate::store::Level::Error, "engine", "boom")
        .unwrap();
    assert!(a.poll_store().unwrap());
    assert_eq!(a.reads, reads + 1);
    assert!(!a.poll_store().unwrap());
}
