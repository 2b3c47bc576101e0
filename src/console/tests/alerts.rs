//! The alerts the Overview leads with.

use super::{app, render};
use crate::console::theme::Theme;
use crate::domain::Side;
use crate::store::StoreError;

fn screen(t: &ratatui::Terminal<ratatui::backend::TestBackend>) -> String {
    let buf = t.backend().buffer();
    let area = buf.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
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
        let text = screen(&render(&mut a, w, h));
        let first_lines: String = text.lines().take(3).collect();
        assert!(
            first_lines.contains("API response shape changed (Linear)"),
            "{w}x{h}:\n{text}"
        );
    }
    let wide = screen(&render(&mut a, 160, 48));
    assert!(wide.contains("field `state`"), "{wide}");
    a.store
        .write(|db| db.clear_meta(crate::store::meta_keys::DRIFT_LINEAR))
        .map_err(|e: StoreError| e)
        .unwrap();
    a.reload().unwrap();
    let text = screen(&render(&mut a, 160, 48));
    assert!(!text.contains("API response shape changed"), "{text}");
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
        let text = screen(&render(&mut a, w, h));
        assert!(
            text.contains("no Fider `new_comment` webhook"),
            "{w}x{h}:\n{text}"
        );
    }
    let wide = screen(&render(&mut a, 160, 48));
    assert!(wide.contains("switch Enabled on"), "{wide}");
    a.store
        .write(|db| db.note_webhook_delivery("new_comment", crate::store::now_ms()))
        .unwrap();
    a.reload().unwrap();
    let text = screen(&render(&mut a, 160, 48));
    assert!(!text.contains("webhook delivery for"), "{text}");
}
