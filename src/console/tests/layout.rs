//! Nothing collides or is cut: tab names are whole or shortened on purpose,
//! `? help` and the verdict are always visible, help is one column with a
//! "more" marker, and small terminals degrade gracefully.

use crossterm::event::KeyCode;

use super::{app, press, screen};
use crate::console::app::App;
use crate::console::dialogs::panel::PanelDialog;
use crate::console::theme::Theme;
use crate::console::types::ViewId;

const SIZES: &[(u16, u16)] = &[(60, 18), (80, 24), (100, 30), (160, 48)];

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

#[test]
fn help_key_and_verdict_are_visible_at_every_size_in_every_view() {
    for &(w, h) in SIZES {
        for v in ViewId::ALL {
            let mut a = app(false, Theme::mono());
            a.switch(v);
            let s = screen(&mut a, w, h);
            assert!(
                last_line(&s).trim_end().ends_with("? help"),
                "{w}x{h} {v:?}:\n{s}"
            );
            let top = s.lines().next().unwrap();
            assert!(top.contains("● DEGRADED"), "{w}x{h} {v:?}: {top}");
            assert!(top.contains(v.title()), "current tab named: {top}");
        }
    }
}

#[test]
fn tab_names_are_whole_or_numbers_never_cut() {
    for &(w, h) in SIZES {
        let mut a = app(false, Theme::mono());
        let s = screen(&mut a, w, h);
        let top = s.lines().next().unwrap();
        for cut in ["Over ", "Conf ", "Link ", "Mapp "] {
            assert!(!top.contains(cut), "{w}x{h}: {top}");
        }
    }
}

#[test]
fn hint_bar_drops_whole_hints_never_half_words() {
    let mut a = app(false, Theme::mono());
    a.switch(ViewId::Conflicts);
    for &(w, h) in SIZES {
        let s = screen(&mut a, w, h);
        let bar = last_line(&s);
        let words: Vec<&str> = bar.split_whitespace().collect();
        assert!(
            words.iter().all(|wd| crate::console::keymap::BINDINGS
                .iter()
                .any(|b| b.shown == *wd || b.label.split_whitespace().any(|l| l == *wd))),
            "{w}x{h}: {bar}"
        );
    }
}

#[test]
fn help_is_one_column_with_a_more_marker_and_scrolls_to_the_end() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('?'));
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("more lines"), "{s}");
    // One column: no line holds two headings or two key columns.
    assert!(
        !s.lines()
            .any(|l| l.contains("Everywhere") && l.contains("Overview"))
    );
    for _ in 0..40 {
        press(&mut a, KeyCode::PageDown);
    }
    let end = screen(&mut a, 80, 24);
    assert!(end.contains("· end"), "{end}");
    assert!(end.contains(":quit"), "the command list ends help: {end}");
}

#[test]
fn an_intro_panel_that_does_not_fit_says_so() {
    let mut a = app(false, Theme::mono());
    let lines: Vec<String> = (1..=30).map(|i| format!("intro line {i}")).collect();
    a.dialogs
        .push(Box::new(PanelDialog::text("what is happening", lines)));
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("intro line 1"), "{s}");
    assert!(s.contains("more lines"), "{s}");
    for _ in 0..3 {
        press(&mut a, KeyCode::PageDown);
    }
    assert!(screen(&mut a, 80, 24).contains("intro line 30"));
}

#[test]
fn below_the_minimum_the_console_says_what_it_needs() {
    let mut a: App = app(false, Theme::mono());
    let s = screen(&mut a, 30, 8);
    assert!(s.contains("needs at least 40×10"), "{s}");
}
