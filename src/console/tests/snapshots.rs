//! Every view, dialog and the help screen at 80×24 and 160×48, from the
//! seeded store with a fixed clock.

use crossterm::event::KeyCode;

use super::{app, ctrl, press, render, typed};
use crate::console::app::App;
use crate::console::theme::Theme;

type Setup = fn(&mut App);

const SCREENS: &[(&str, bool, Setup)] = &[
    ("overview", false, |_| {}),
    ("conflicts", false, |a| {
        press(a, KeyCode::Char('2'));
        press(a, KeyCode::Char(' '));
    }),
    ("conflicts_detail", false, |a| {
        press(a, KeyCode::Char('2'));
        press(a, KeyCode::Char('j'));
        press(a, KeyCode::Enter);
    }),
    ("jobs", false, |a| press(a, KeyCode::Char('3'))),
    ("jobs_filtered", false, |a| {
        press(a, KeyCode::Char('3'));
        press(a, KeyCode::Char('/'));
        typed(a, "failed rate_limited");
        press(a, KeyCode::Enter);
    }),
    ("links", false, |a| press(a, KeyCode::Char('4'))),
    ("links_search", false, |a| {
        press(a, KeyCode::Char('4'));
        press(a, KeyCode::Char('/'));
        typed(a, "dark");
        press(a, KeyCode::Enter);
    }),
    ("mappings", false, |a| press(a, KeyCode::Char('5'))),
    ("log", false, |a| press(a, KeyCode::Char('6'))),
    ("help", false, |a| press(a, KeyCode::Char('?'))),
    ("help_read_only", true, |a| press(a, KeyCode::Char('?'))),
    ("jobs_read_only", true, |a| press(a, KeyCode::Char('3'))),
    ("dialog_confirm_retry_all", false, |a| {
        press(a, KeyCode::Char('3'));
        press(a, KeyCode::Char('R'));
    }),
    ("dialog_attempts", false, |a| {
        press(a, KeyCode::Char('3'));
        press(a, KeyCode::Enter);
    }),
    ("dialog_timeline", false, |a| {
        press(a, KeyCode::Char('4'));
        press(a, KeyCode::Char('G'));
        press(a, KeyCode::Enter);
    }),
    ("dialog_command_line", false, |a| {
        press(a, KeyCode::Char(':'));
        typed(a, "retry failed rate_limited");
    }),
    ("dialog_filter", false, |a| {
        press(a, KeyCode::Char('3'));
        press(a, KeyCode::Char('/'));
        typed(a, "dead");
    }),
    ("dialog_mapping_editor", false, |a| {
        press(a, KeyCode::Char('5'));
        press(a, KeyCode::Char('e'));
        typed(a, "= ");
        ctrl(a, 'e');
    }),
    ("dialog_mapping_preview", false, |a| {
        press(a, KeyCode::Char('5'));
        press(a, KeyCode::Char('j'));
        press(a, KeyCode::Char('p'));
    }),
    ("dialog_merged_value_editor", false, |a| {
        press(a, KeyCode::Char('2'));
        press(a, KeyCode::Char('e'));
    }),
    ("dialog_always_resolve", false, |a| {
        press(a, KeyCode::Char('2'));
        press(a, KeyCode::Char('L'));
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
