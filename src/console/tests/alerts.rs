//! Never stale: the verdict and every age on screen follow the clock
//! without a keypress or a store read, the alerts lead the Overview, and an
//! idle screen with nothing time-based on it is not redrawn.

use crossterm::event::KeyCode;

use super::{T0, app, press, screen};
use crate::console::clock::Clock;
use crate::console::theme::Theme;
use crate::console::ui::Freshness;
use crate::domain::Side;
use crate::health::{HEARTBEAT_STALE_MS, Verdict};
use crate::store::StoreError;

fn shown(a: &mut crate::console::app::App, f: &mut Freshness) {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
    let frame = t.draw(|fr| crate::console::ui::draw(fr, a)).unwrap();
    f.shown(frame.buffer);
}

#[test]
fn a_dead_engine_turns_down_on_the_clock_alone() {
    let mut a = app(false, Theme::mono());
    let mut f = Freshness::new(ratatui::layout::Size::new(100, 30));
    shown(&mut a, &mut f);
    let reads = a.reads;
    assert!(!f.changed(&mut a), "same instant, same screen");
    // The seeded heartbeat is 4 s old; 27 s later it is stale.
    let stale_at = T0 - 4_000 + HEARTBEAT_STALE_MS + 1;
    a.clock = Clock::Fixed(stale_at);
    assert!(f.changed(&mut a));
    assert_eq!(a.health.as_ref().unwrap().verdict, Verdict::Down);
    let s = screen(&mut a, 100, 30);
    assert!(s.lines().next().unwrap().contains("● DOWN"), "{s}");
    assert!(s.contains("engine heartbeat is 30s old"), "{s}");
    assert_eq!(
        a.reads, reads,
        "the clock tick reads nothing from the store"
    );
    // The same verdict `status` computes from the same counters.
    let status = crate::health::assess(&a.store.db().summary().unwrap(), stale_at);
    assert_eq!(status.verdict, Verdict::Down);
}

#[test]
fn an_idle_screen_is_redrawn_only_when_a_shown_age_moves() {
    let mut a = app(false, Theme::mono());
    press(&mut a, KeyCode::Char('4'));
    let mut f = Freshness::new(ratatui::layout::Size::new(100, 30));
    shown(&mut a, &mut f);
    // Links shows times of day only; the title bar's "engine 4s" ages, so
    // step past a minute boundary of the coarse age and check both ways.
    a.clock = Clock::Fixed(T0 + 300);
    assert!(!f.changed(&mut a), "nothing visible changed in 300 ms");
    a.clock = Clock::Fixed(T0 + 1_000);
    assert!(
        f.changed(&mut a),
        "the heartbeat age on screen moved a second"
    );
    shown(&mut a, &mut f);
    let reads = a.reads;
    for ms in (1_100..2_000).step_by(100) {
        a.clock = Clock::Fixed(T0 + ms);
        assert!(!f.changed(&mut a), "{ms}");
    }
    assert_eq!(a.reads, reads);
}

#[test]
fn shape_drift_alert_leads_the_overview_until_cleared() {
    let mut a = app(false, Theme::mono());
    a.store
        .write(|db| {
            db.note_shape_drift(
                Side::Linear,
                "API response shape changed: Linear issue i1 field `state`: null or missing",
            )
            .map(|_| ())
        })
        .unwrap();
    a.reload().unwrap();
    for (w, h) in [(80, 24), (160, 48)] {
        let text = screen(&mut a, w, h);
        let first_lines: String = text.lines().take(3).collect();
        assert!(
            first_lines.contains("API response shape changed (Linear)"),
            "{w}x{h}:\n{text}"
        );
    }
    let wide = screen(&mut a, 160, 48);
    assert!(wide.contains("field `state`"), "{wide}");
    a.store
        .write(|db| db.clear_meta(crate::store::meta_keys::DRIFT_LINEAR))
        .map_err(|e: StoreError| e)
        .unwrap();
    a.reload().unwrap();
    let text = screen(&mut a, 160, 48);
    assert!(!text.contains("API response shape changed"), "{text}");
}

#[test]
fn a_refused_mapping_version_is_shown_refused_and_the_engines_version_active() {
    let mut a = app(false, Theme::mono());
    a.store
        .write(|db| db.refuse_mapping_version(2, "line 3: expected a value", 1))
        .unwrap();
    a.reload().unwrap();
    press(&mut a, KeyCode::Char('5'));
    assert_eq!(
        a.views.mappings.versions[a.views.mappings.sel].version, 1,
        "the selection is on the version in force"
    );
    press(&mut a, KeyCode::Char('k'));
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("✗v2"), "{s}");
    assert!(s.contains("●v1"), "{s}");
    assert!(
        s.contains("refused by the engine: line 3: expected a value"),
        "{s}"
    );
    let health = a.health.clone().unwrap();
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r == "mapping version 2 was refused (line 3: expected a value); version 1 stays in force"),
        "{health:?}"
    );
}

#[test]
fn quota_gauges_say_used_of_limit() {
    let mut a = app(false, Theme::mono());
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("linear requests used 1000/1500 (67%)"), "{s}");
    assert!(s.contains("resets in 20m 0s (14:20:00)"), "{s}");
    assert!(!s.contains("steady"), "{s}");
}

#[test]
fn a_silent_fider_webhook_shows_on_the_overview_with_the_way_back() {
    let mut a = app(false, Theme::mono());
    a.store
        .write(|db| {
            db.set_webhook_watch(Some(&crate::store::WatchSettings {
                vendor: "Fider".into(),
                grace_ms: 60_000,
                advice: "switch Enabled on in Fider's /admin/webhooks".into(),
                events: vec!["new_post".into(), "new_comment".into()],
            }))?;
            db.note_webhook_missed("new_comment", "post #7 'Dark mode' got a comment", 1_000)
        })
        .unwrap();
    a.reload().unwrap();
    for (w, h) in [(80, 24), (160, 48)] {
        let text = screen(&mut a, w, h);
        assert!(
            text.contains("no Fider `new_comment` webhook"),
            "{w}x{h}:\n{text}"
        );
    }
    let wide = screen(&mut a, 160, 48);
    assert!(wide.contains("switch Enabled on"), "{wide}");
    a.store
        .write(|db| db.note_webhook_delivery("new_comment", crate::store::now_ms()))
        .unwrap();
    a.reload().unwrap();
    let text = screen(&mut a, 160, 48);
    assert!(!text.contains("webhook delivery for"), "{text}");
}
