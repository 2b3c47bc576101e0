//! Every view, dialog and the help panel at 80×24 and 160×48, from the
//! seeded store with a fixed clock.

use crossterm::event::KeyCode;

use super::{app, ctrl, press, render, typed};
use crate::console::app::App;
use crate::console::theme::Theme;

type Setup = fn(&mut App);

fn key(a: &mut App, c: char) {
    press(a, KeyCode::Char(c));
}

const SCREENS: &[(&str, bool, Setup)] = &[
    ("overview", false, |_| {}),
    ("conflicts", false, |a| {
        key(a, '2');
        key(a, ' ');
    }),
    ("conflicts_detail", false, |a| {
        key(a, '2');
        key(a, 'j');
        press(a, KeyCode::Enter);
    }),
    ("conflicts_resolved", false, |a| {
        a.store
            .write(|db| {
                db.seed_resolution(
                    1,
                    &crate::store::Resolution::Linear,
                    crate::domain::Actor::Operator,
                    super::T0 - 60_000,
                )
            })
            .unwrap();
        key(a, '2');
        key(a, 's');
        key(a, 'j');
        press(a, KeyCode::Enter);
    }),
    ("jobs", false, |a| key(a, '3')),
    ("jobs_any_status", false, |a| {
        key(a, '3');
        key(a, 's');
        key(a, 'G');
        press(a, KeyCode::Enter);
    }),
    ("jobs_rate_limited", false, |a| {
        key(a, '3');
        key(a, 'c');
        key(a, 'j');
        press(a, KeyCode::Enter);
    }),
    ("jobs_scrolled_right", false, |a| {
        key(a, '3');
        key(a, 'l');
        key(a, 'l');
    }),
    ("jobs_read_only", true, |a| key(a, '3')),
    ("links", false, |a| key(a, '4')),
    ("links_search_key", false, |a| {
        key(a, '4');
        key(a, '/');
        typed(a, "ENG-104");
        press(a, KeyCode::Enter);
    }),
    ("links_search_words", false, |a| {
        key(a, '4');
        key(a, '/');
        typed(a, "dark mode");
        press(a, KeyCode::Enter);
    }),
    ("links_by_title", false, |a| {
        key(a, '4');
        key(a, 'S');
        key(a, 'G');
        press(a, KeyCode::Enter);
    }),
    ("mappings", false, |a| key(a, '5')),
    ("log", false, |a| key(a, '6')),
    ("log_find", false, |a| {
        key(a, '6');
        key(a, '/');
        typed(a, "503");
        press(a, KeyCode::Enter);
        key(a, 'n');
    }),
    ("help", false, |a| key(a, '?')),
    ("help_scrolled", false, |a| {
        key(a, '?');
        press(a, KeyCode::PageDown);
    }),
    ("help_read_only", true, |a| key(a, '?')),
    ("dialog_health_detail", false, |a| press(a, KeyCode::Enter)),
    ("dialog_confirm_retry_all", false, |a| {
        key(a, '3');
        key(a, 'R');
    }),
    ("dialog_confirm_resolve", false, |a| {
        key(a, '2');
        key(a, 'L');
    }),
    ("dialog_confirm_resolve_marked", false, |a| {
        key(a, '2');
        key(a, ' ');
        key(a, ' ');
        key(a, 'P');
    }),
    ("dialog_always_picker", false, |a| {
        key(a, '2');
        key(a, 'A');
    }),
    ("dialog_status_picker", false, |a| {
        key(a, '3');
        key(a, 's');
    }),
    ("dialog_sort_picker", false, |a| {
        key(a, '4');
        key(a, 'S');
    }),
    ("dialog_job_detail", false, |a| {
        key(a, '3');
        press(a, KeyCode::Enter);
    }),
    ("dialog_timeline", false, |a| {
        key(a, '4');
        key(a, 'G');
        press(a, KeyCode::Enter);
    }),
    ("dialog_urls", false, |a| {
        key(a, '4');
        key(a, 'o');
    }),
    ("dialog_command_line", false, |a| {
        key(a, ':');
        typed(a, "retry failed rate_limited");
    }),
    ("dialog_command_completion", false, |a| {
        key(a, ':');
        typed(a, "re");
        press(a, KeyCode::Tab);
    }),
    ("dialog_search", false, |a| {
        key(a, '4');
        key(a, '/');
        typed(a, "eng-1");
    }),
    ("dialog_mapping_editor", false, |a| {
        key(a, '5');
        key(a, 'e');
        typed(a, "= ");
        ctrl(a, 'e');
    }),
    ("dialog_mapping_apply_question", false, |a| {
        key(a, '5');
        key(a, 'e');
        press(a, KeyCode::Down);
        typed(a, "# edited");
        ctrl(a, 's');
    }),
    ("dialog_mapping_discard_question", false, |a| {
        key(a, '5');
        key(a, 'e');
        typed(a, "x");
        press(a, KeyCode::Esc);
    }),
    ("dialog_mapping_preview", false, |a| {
        key(a, '5');
        key(a, 'j');
        key(a, 'p');
    }),
    ("dialog_merged_value_editor", false, |a| {
        key(a, '2');
        key(a, 'e');
    }),
    ("dialog_merged_value_question", false, |a| {
        key(a, '2');
        key(a, 'e');
        ctrl(a, 'a');
        typed(a, "Dark mode (merged) ");
        ctrl(a, 's');
    }),
];

#[test]
fn every_screen_at_two_sizes() {
    for (name, read_only, setup) in SCREENS {
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let mut a = app(*read_only, Theme::mono());
            setup(&mut a);
            let t = render(&mut a, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
        }
    }
}

/// A value Linear refused ("cannot write") and a tripped circuit breaker:
/// the conflict's detail says why, and the Overview's verdict names both.
#[test]
fn refused_values_and_tripped_links_are_shown() {
    use super::{T0, seed};
    use crate::console::clock::Clock;
    use crate::domain::{ConflictReason, Side};
    use crate::store::{LinkBreaker, Store};
    for (name, keys) in [
        ("overview_refused", &[][..]),
        (
            "conflicts_refused_detail",
            &[KeyCode::Char('2'), KeyCode::Char('G'), KeyCode::Enter][..],
        ),
    ] {
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let mut store = Store::open_in_memory().expect("store");
            seed(&mut store);
            store
                .write(|db| -> Result<(), crate::store::StoreError> {
                    db.set_conflict_kind(
                        5,
                        ConflictReason::Refused,
                        Some(Side::Linear),
                        Some("Linear refused 'CSV/Excel export': title must not be empty"),
                    )?;
                    db.save_link_breaker(&LinkBreaker {
                        link_id: 3,
                        failures: 3,
                        window_start: T0 - 60_000,
                        trips: 1,
                        tripped_until: Some(i64::MAX / 2),
                        reason: "3 failed writes in 1m 0s; last: update portal: validation: invalid status".into(),
                    })
                })
                .expect("refusal");
            let mut a = App::new(store, false, Clock::Fixed(T0), Theme::mono()).expect("app");
            for k in keys {
                press(&mut a, *k);
            }
            let t = render(&mut a, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
        }
    }
}

/// A mapping with routes: the Mappings preview lists, per portal post, the
/// route that takes it and why (created, waiting, held, unrouted), and the
/// Overview's verdict names the post no route takes.
#[test]
fn routing_preview_and_unrouted_posts_are_shown() {
    use super::{MAPPING_V1, T0};
    use crate::console::clock::Clock;
    use crate::domain::{Actor, Record, Side};
    use crate::store::Store;
    const ROUTES: &str = r#"
[[routes]]
name = "API bugs"
when = { board = "Bugs", category = "API" }
approve = { status = "planned" }
linear = { team = "PLAT", assignee = "ada@example.com" }

[[routes]]
name = "feature requests"
when = { board = "Feature Requests" }
approve = { status = "planned" }
"#;
    let post = |id: &str, title: &str, board: &str, category: Option<&str>, status: &str| Record {
        remote_id: id.into(),
        title: title.into(),
        status: status.into(),
        board: Some(board.into()),
        category: category.map(str::to_string),
        ..Record::default()
    };
    for (name, keys) in [
        ("overview_unrouted", &[][..]),
        (
            "dialog_routing_preview",
            &[KeyCode::Char('5'), KeyCode::Char('p')][..],
        ),
    ] {
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let mut store = Store::open_in_memory().expect("store");
            store
                .write(|db| -> Result<(), crate::store::StoreError> {
                    db.seed_mapping_version(MAPPING_V1, Actor::BuiltIn, "initial", T0 - 60_000)?;
                    let v2 = format!("{}{ROUTES}", MAPPING_V1.replace("version = 1", "version = 2"));
                    db.seed_mapping_version(&v2, Actor::Operator, "routes", T0 - 30_000)?;
                    db.activate_mapping_version(1)?;
                    db.set_meta(crate::store::meta_keys::HEARTBEAT, &(T0 - 2_000).to_string())?;
                    db.set_meta(crate::store::meta_keys::LINEAR_TEAM, "ENG")?;
                    db.upsert_record(Side::Portal, &post("p-1", "API times out", "Bugs", Some("API"), "planned"))?;
                    db.upsert_record(Side::Portal, &post("p-2", "Slow export", "Bugs", Some("API"), "open"))?;
                    db.upsert_record(Side::Portal, &post("p-3", "Dark mode", "Ideas", None, "planned"))?;
                    let mut held = post("p-4", "Leaked token", "Bugs", Some("API"), "planned");
                    held.held = true;
                    db.upsert_record(Side::Portal, &held)?;
                    db.mark_unrouted("p-3", "Dark mode", "'API bugs': board is Ideas, not Bugs; 'feature requests': board is Ideas, not Feature Requests")?;
                    Ok(())
                })
                .expect("seed");
            let mut a = App::new(store, false, Clock::Fixed(T0), Theme::mono()).expect("app");
            for k in keys {
                press(&mut a, *k);
            }
            let t = render(&mut a, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
        }
    }
}
