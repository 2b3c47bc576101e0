//! Snapshot tests of plan explanations: the sentences the audit log and the
//! console's "why is this value here?" show. A change in wording shows up as
//! a reviewed snapshot diff.

use crate::domain::{Record, Side};

use super::test_support::*;
use super::*;

/// Run a named scenario and render its decisions, conflicts and writes.
fn render(
    name: &str,
    m: &Mapping,
    base: &Snapshot,
    p: &Record,
    l: &Record,
    times: ChangeTimes,
) -> String {
    let plan = plan_link(
        m,
        &MergeInput {
            times,
            ..MergeInput::new(base, p, l, t(30))
        },
    );
    let mut out = format!("## {name}\n");
    for d in &plan.decisions {
        out.push_str(&format!("- [{:?}] {}\n", d.kind, d.explanation));
    }
    for side in [Side::Portal, Side::Linear] {
        if let Some(w) = plan.writes(side) {
            let fields: Vec<String> = w
                .fields
                .iter()
                .map(|(k, v)| format!("{k} = {}", v.display_short(60)))
                .collect();
            out.push_str(&format!(
                "  write {side}: {}{}\n",
                fields.join("; "),
                if w.notify_voters {
                    " (notify voters)"
                } else {
                    ""
                }
            ));
        }
    }
    for c in &plan.conflicts {
        out.push_str(&format!("  conflict {} ({:?})\n", c.field, c.reason));
    }
    out
}

#[test]
fn explanations() {
    let m = Mapping::default_canny_linear();
    let none = ChangeTimes::default();
    let mut doc = String::new();

    let (base, mut p, mut l) = synced(&m);
    l.title = "Dark theme".into();
    doc += &render("title edited on Linear", &m, &base, &p, &l, none);

    let (base, mut p2, l2) = synced(&m);
    p2.description = "Please add a dark theme.\nAlso for the mobile app.".into();
    p2.votes = Some(64);
    doc += &render("details and votes on the portal", &m, &base, &p2, &l2, none);

    p.title = "Dark mode (portal)".into();
    doc += &render("title edited on both sides (ask)", &m, &base, &p, &l, none);

    let (base, mut p, mut l) = synced(&m);
    p.status = "closed".into();
    l.status = "Done".into();
    l.status_type = Some("completed".into());
    doc += &render(
        "status on both sides (linear-wins)",
        &m,
        &base,
        &p,
        &l,
        none,
    );

    let (base, mut p, mut l) = synced(&m);
    p.labels = set(&["ui", "mobile"]);
    l.labels = set(&["bug"]);
    doc += &render("labels on both sides (merge)", &m, &base, &p, &l, none);

    let (base, mut p, mut l) = synced(&m);
    p.title = "Portal title".into();
    l.title = "Linear title".into();
    let mut newest = m.clone();
    newest.fields[0].on_conflict = Policy::Newest;
    doc += &render(
        "title on both sides (newest)",
        &newest,
        &base,
        &p,
        &l,
        ChangeTimes {
            portal: Some(t(10)),
            linear: Some(t(12)),
        },
    );

    let (base, p, mut l) = synced(&m);
    l.priority = Some(1);
    l.status = "Parked".into();
    l.status_type = Some("paused".into());
    doc += &render("priority by hand, unmapped state", &m, &base, &p, &l, none);

    let (base, p, l) = synced(&m);
    let c = plan_link(&m, &MergeInput::new(&base, &p, &l, t(30)));
    assert!(c.is_noop());
    let (_, mut p, mut l) = synced(&m);
    p.comments.push(comment("pc1", "Ann", "+1"));
    p.comments.push(comment("pc9", "Jane", "Any update?"));
    l.comments.push(comment(
        "lc9",
        "roundtrip",
        "**Ann on Canny:** +1\n\n(roundtrip mirror of portal comment pc1)",
    ));
    doc += &render("comments", &m, &base, &p, &l, none);

    let (base, p, mut l) = synced(&m);
    l.status = "In Progress".into();
    l.status_type = Some("started".into());
    let history: FieldHistory = [(
        "status".to_string(),
        [
            "planned",
            "in progress",
            "planned",
            "in progress",
            "planned",
        ]
        .iter()
        .enumerate()
        .map(|(i, s)| HistoryEntry {
            at: t(20 + i as u32),
            value: text(s),
            from: None,
        })
        .collect(),
    )]
    .into();
    let frozen = plan_link(
        &m,
        &MergeInput {
            history: &history,
            ..MergeInput::new(&base, &p, &l, t(30))
        },
    );
    doc += "## ping-pong\n";
    for d in &frozen.decisions {
        doc += &format!("- [{:?}] {}\n", d.kind, d.explanation);
    }

    let deleted = plan_delete(
        &m,
        DeletePolicy::Close,
        Side::Portal,
        &post(),
        &MassDeleteGuard::default(),
        &[],
        t(30),
    );
    doc += &format!("## delete\n- {}\n", deleted.explanation);

    let mut pm = post();
    pm.status = "in progress".into();
    let created = plan_create(&m, &pm, Side::Portal, uuid::Uuid::nil());
    doc += "## create in Linear\n";
    for d in &created.decisions {
        doc += &format!("- [{:?}] {}\n", d.kind, d.explanation);
    }

    insta::assert_snapshot!(doc);
}
