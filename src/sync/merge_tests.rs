//! Unit tests of the merge: every rule, policy and transform.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{FieldValue, Record, Side};

use super::guard::HistoryEntry;
use super::test_support::*;
use super::*;

fn m() -> Mapping {
    Mapping::default_canny_linear()
}

fn with_policy(field: &str, policy: Policy) -> Mapping {
    let mut m = m();
    for f in &mut m.fields {
        if f.name == field {
            f.on_conflict = policy;
        }
    }
    m
}

fn plan(m: &Mapping, base: &Snapshot, p: &Record, l: &Record) -> Plan {
    plan_link(m, &MergeInput::new(base, p, l, t(30)))
}

fn lw(plan: &Plan, field: &str) -> Option<FieldValue> {
    plan.linear_writes.as_ref()?.fields.get(field).cloned()
}

fn pw(plan: &Plan, field: &str) -> Option<FieldValue> {
    plan.portal_writes.as_ref()?.fields.get(field).cloned()
}

#[test]
fn synced_link_plans_nothing() {
    let m = m();
    let (base, p, l) = synced(&m);
    assert_eq!(base.len(), 5, "{base:?}");
    let plan = plan(&m, &base, &p, &l);
    assert!(plan.is_noop(), "{plan:#?}");
    assert!(plan.decisions.is_empty());
}

#[test]
fn change_on_one_side_is_written_to_the_other() {
    let m = m();
    let (base, mut p, l) = synced(&m);
    p.title = "Dark mode, please".into();
    let out = plan(&m, &base, &p, &l);
    assert_eq!(lw(&out, "title"), Some(text("Dark mode, please")));
    assert!(out.portal_writes.is_none());
    assert_eq!(out.new_base["title"], text("Dark mode, please"));
    assert_eq!(
        out.decisions[0].explanation,
        "title: changed on the portal only ('Dark mode' → 'Dark mode, please'), written to Linear"
    );

    let (base, p, mut l) = synced(&m);
    l.title = "Dark theme".into();
    let out = plan(&m, &base, &p, &l);
    assert_eq!(pw(&out, "title"), Some(text("Dark theme")));
    assert!(out.linear_writes.is_none());
}

#[test]
fn same_change_on_both_sides_advances_base() {
    let m = m();
    let (base, mut p, mut l) = synced(&m);
    p.title = "B".into();
    l.title = "B".into();
    let out = plan(&m, &base, &p, &l);
    assert!(out.portal_writes.is_none() && out.linear_writes.is_none());
    assert!(out.base_changed);
    assert_eq!(out.new_base["title"], text("B"));
    assert_eq!(out.decisions[0].kind, DecisionKind::Agreed);
}

#[test]
fn ask_opens_a_conflict_and_writes_nothing() {
    let m = m();
    let (base, mut p, mut l) = synced(&m);
    p.title = "P".into();
    l.title = "L".into();
    let out = plan_link(
        &m,
        &MergeInput {
            times: ChangeTimes {
                portal: Some(t(1)),
                linear: Some(t(2)),
            },
            ..MergeInput::new(&base, &p, &l, t(30))
        },
    );
    assert!(out.portal_writes.is_none() && out.linear_writes.is_none());
    assert!(!out.base_changed);
    assert_eq!(
        out.conflicts,
        vec![ConflictDraft {
            field: "title".into(),
            base: text("Dark mode"),
            portal: text("P"),
            linear: text("L"),
            portal_changed_at: Some(t(1)),
            linear_changed_at: Some(t(2)),
            reason: ConflictReason::BothChanged,
            side: None,
            note: None,
        }]
    );
}

#[test]
fn linear_wins_and_portal_wins() {
    let m = with_policy("title", Policy::LinearWins);
    let (base, mut p, mut l) = synced(&m);
    p.title = "P".into();
    l.title = "L".into();
    let out = plan(&m, &base, &p, &l);
    assert_eq!(pw(&out, "title"), Some(text("L")));
    assert!(out.linear_writes.is_none());
    assert_eq!(out.new_base["title"], text("L"));

    let m = with_policy("title", Policy::PortalWins);
    let out = plan(&m, &base, &p, &l);
    assert_eq!(lw(&out, "title"), Some(text("P")));
    assert!(out.portal_writes.is_none());
}

#[test]
fn newest_compares_change_times() {
    let m = with_policy("title", Policy::Newest);
    let (base, mut p, mut l) = synced(&m);
    p.title = "P".into();
    l.title = "L".into();
    let run = |tp, tl| {
        plan_link(
            &m,
            &MergeInput {
                times: ChangeTimes {
                    portal: tp,
                    linear: tl,
                },
                ..MergeInput::new(&base, &p, &l, t(30))
            },
        )
    };
    let out = run(Some(t(5)), Some(t(3)));
    assert_eq!(lw(&out, "title"), Some(text("P")));
    let out = run(Some(t(3)), Some(t(5)));
    assert_eq!(pw(&out, "title"), Some(text("L")));
    for (tp, tl) in [
        (None, Some(t(5))),
        (Some(t(5)), None),
        (Some(t(5)), Some(t(5))),
    ] {
        let out = run(tp, tl);
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(out.conflicts[0].reason, ConflictReason::NewestUndecided);
    }
}

#[test]
fn merge_text_line_by_line_or_fall_back_to_ask() {
    let m = with_policy("description", Policy::Merge);
    let (mut base, mut p, mut l) = synced(&m);
    base.insert("description".into(), text("one\ntwo\nthree"));
    p.description = "ONE\ntwo\nthree".into();
    l.description = "one\ntwo\nTHREE".into();
    let out = plan(&m, &base, &p, &l);
    assert_eq!(pw(&out, "details"), Some(text("ONE\ntwo\nTHREE")));
    assert_eq!(lw(&out, "description"), Some(text("ONE\ntwo\nTHREE")));
    assert_eq!(out.new_base["description"], text("ONE\ntwo\nTHREE"));

    l.description = "One!\ntwo\nthree".into();
    let out = plan(&m, &base, &p, &l);
    assert_eq!(out.conflicts[0].reason, ConflictReason::MergeOverlap);
    assert!(out.portal_writes.is_none() && out.linear_writes.is_none());
}

#[test]
fn labels_set_merge() {
    let m = m();
    let (mut base, mut p, mut l) = synced(&m);
    base.insert(
        "labels".into(),
        FieldValue::Set(set(&["ui", "old", "keep"])),
    );
    p.labels = set(&["ui", "keep", "mobile"]); // removed old, added mobile
    l.labels = set(&["old", "keep", "bug"]); // removed ui, added bug
    let out = plan(&m, &base, &p, &l);
    let merged = FieldValue::Set(set(&["keep", "mobile", "bug"]));
    assert_eq!(pw(&out, "tags"), Some(merged.clone()));
    assert_eq!(lw(&out, "labels"), Some(merged.clone()));
    assert_eq!(out.new_base["labels"], merged);
}

#[test]
fn label_names_are_translated_both_ways() {
    let mut m = m();
    for f in &mut m.fields {
        if let Transform::Labels { names } = &mut f.transform {
            names.push(("bug".into(), "Bug".into()));
        }
    }
    let (base, mut p, l) = synced(&m);
    p.labels = set(&["ui", "bug"]);
    let out = plan(&m, &base, &p, &l);
    assert_eq!(
        lw(&out, "labels"),
        Some(FieldValue::Set(set(&["Bug", "ui"])))
    );
    let mut l2 = l.clone();
    l2.labels = set(&["Bug", "ui"]);
    let mut p2 = p.clone();
    apply_writes(&out, &mut p2, &mut l2);
    assert!(plan(&m, &out.new_base, &p2, &l2).is_noop());
}

#[test]
fn status_through_the_table() {
    let m = m();
    // Portal → Linear by table.
    let (base, mut p, l) = synced(&m);
    p.status = "in progress".into();
    let out = plan(&m, &base, &p, &l);
    assert_eq!(lw(&out, "state"), Some(text("In Progress")));
    assert!(
        out.decisions[0]
            .explanation
            .ends_with("written to Linear as 'In Progress'")
    );
    // Linear state not in the table → by type.
    let (base, p, mut l) = synced(&m);
    l.status = "In Review".into();
    l.status_type = Some("started".into());
    let out = plan(&m, &base, &p, &l);
    assert_eq!(pw(&out, "status"), Some(text("in progress")));
    assert!(!out.portal_writes.as_ref().unwrap().notify_voters);
    // Completed notifies voters.
    l.status = "Done".into();
    l.status_type = Some("completed".into());
    let out = plan(&m, &base, &p, &l);
    assert_eq!(pw(&out, "status"), Some(text("complete")));
    assert!(out.portal_writes.as_ref().unwrap().notify_voters);
    assert!(
        out.portal_writes
            .as_ref()
            .unwrap()
            .to_update()
            .notify_voters
    );
    // A Linear state that reads as the same portal status is no change.
    let (base, p, mut l) = synced(&m);
    l.status = "Ready".into();
    l.status_type = Some("unstarted".into());
    assert!(plan(&m, &base, &p, &l).is_noop());
}

#[test]
fn status_both_changed_linear_wins_by_default() {
    let m = m();
    let (base, mut p, mut l) = synced(&m);
    p.status = "closed".into();
    l.status = "In Progress".into();
    l.status_type = Some("started".into());
    let out = plan(&m, &base, &p, &l);
    assert_eq!(pw(&out, "status"), Some(text("in progress")));
    assert!(out.linear_writes.is_none());
}

#[test]
fn unmapped_values_are_left_alone() {
    let m = m();
    let (base, p, mut l) = synced(&m);
    l.status = "Parked".into();
    l.status_type = Some("paused".into());
    let out = plan(&m, &base, &p, &l);
    assert!(out.portal_writes.is_none() && !out.base_changed);
    assert_eq!(out.decisions[0].kind, DecisionKind::Skipped);
    assert!(
        out.decisions[0]
            .explanation
            .contains("'Parked' (paused) has no portal status")
    );

    let (base, mut p, l) = synced(&m);
    p.status = "wontfix".into();
    let out = plan(&m, &base, &p, &l);
    assert!(out.linear_writes.is_none() && !out.base_changed);
    assert_eq!(out.decisions[0].kind, DecisionKind::Skipped);
    assert!(
        out.decisions[0]
            .explanation
            .contains("'wontfix' has no Linear state")
    );
}

#[test]
fn votes_to_priority_is_one_way() {
    let m = m();
    let (base, mut p, mut l) = synced(&m);
    assert_eq!(base["votes"], FieldValue::Number(3));
    p.votes = Some(60);
    let out = plan(&m, &base, &p, &l);
    assert_eq!(lw(&out, "priority"), Some(FieldValue::Number(2)));
    assert!(out.portal_writes.is_none());
    // More votes within the same band change nothing.
    p.votes = Some(13);
    assert!(plan(&m, &base, &p, &l).is_noop());
    // A priority set by hand on Linear is left alone...
    p.votes = Some(12);
    l.priority = Some(1);
    let out = plan(&m, &base, &p, &l);
    assert!(out.portal_writes.is_none() && !out.base_changed);
    assert_eq!(out.decisions[0].kind, DecisionKind::Ignored);
    // ...and kept when votes cross a threshold (policy linear-wins).
    p.votes = Some(60);
    let out = plan(&m, &base, &p, &l);
    assert!(out.linear_writes.is_none());
    assert_eq!(out.new_base["votes"], FieldValue::Number(2));
    assert!(plan(&m, &out.new_base, &p, &l).is_noop());
}

fn votes_line_mapping() -> Mapping {
    Mapping::parse(
        "version = 1\n[fields.description]\nportal = \"details\"\nlinear = \"description\"\n\
         [fields.votes]\nportal = \"score\"\nlinear = \"description\"\ndirection = \"portal-to-linear\"\n",
    )
    .unwrap()
}

#[test]
fn votes_line_lives_in_the_linear_description() {
    let m = votes_line_mapping();
    let p = post();
    let mut l = issue();
    l.description = "Please add a dark theme.\n\nVotes: 12".into();
    let base = agreed_snapshot(&m, &p, &l);
    assert_eq!(base["description"], text("Please add a dark theme."));
    assert_eq!(base["votes"], FieldValue::Number(12));
    assert!(plan(&m, &base, &p, &l).is_noop());

    // A vote rewrites the line only.
    let mut p2 = p.clone();
    p2.votes = Some(13);
    let out = plan(&m, &base, &p2, &l);
    assert_eq!(
        lw(&out, "description"),
        Some(text("Please add a dark theme.\n\nVotes: 13"))
    );
    // A description edit keeps the line.
    let mut p3 = p.clone();
    p3.description = "Dark theme for the app.".into();
    let out = plan(&m, &base, &p3, &l);
    assert_eq!(
        lw(&out, "description"),
        Some(text("Dark theme for the app.\n\nVotes: 12"))
    );
    // A Linear description edit goes to the portal without the line.
    let mut l2 = l.clone();
    l2.description = "Dark theme, system-aware.\n\nVotes: 12".into();
    let out = plan(&m, &base, &p, &l2);
    assert_eq!(pw(&out, "details"), Some(text("Dark theme, system-aware.")));
    assert!(out.linear_writes.is_none());
}

#[test]
fn direction_none_and_one_way_text() {
    let mut m = m();
    for f in &mut m.fields {
        match f.name.as_str() {
            "title" => f.direction = Direction::None,
            "description" => f.direction = Direction::LinearToPortal,
            _ => {}
        }
    }
    let (base, mut p, mut l) = synced(&m);
    p.title = "P".into();
    assert!(plan(&m, &base, &p, &l).is_noop());
    p.description = "portal edit".into();
    let out = plan(&m, &base, &p, &l);
    assert!(out.linear_writes.is_none() && !out.base_changed);
    assert_eq!(
        out.decisions[0].explanation,
        "description: changed on the portal only ('Please add a dark theme.' → 'portal edit'), but the field syncs linear-to-portal; left alone"
    );
    l.description = "linear edit".into();
    let out = plan(&m, &base, &p, &l);
    // Both changed, policy ask.
    assert_eq!(out.conflicts.len(), 1);
}

#[test]
fn open_conflict_waits_then_settles() {
    let m = m();
    let (base, mut p, mut l) = synced(&m);
    p.title = "P".into();
    l.title = "L".into();
    let open: BTreeSet<String> = ["title".to_string()].into();
    let input = MergeInput {
        open_conflicts: &open,
        ..MergeInput::new(&base, &p, &l, t(30))
    };
    let out = plan_link(&m, &input);
    assert!(out.is_noop(), "{out:#?}");
    assert_eq!(out.decisions[0].kind, DecisionKind::Waiting);
    l.title = "P".into();
    let input = MergeInput {
        open_conflicts: &open,
        ..MergeInput::new(&base, &p, &l, t(30))
    };
    let out = plan_link(&m, &input);
    assert_eq!(out.resolved_conflicts, vec!["title".to_string()]);
    assert_eq!(out.new_base["title"], text("P"));
}

#[test]
fn ping_pong_is_frozen() {
    let m = m();
    let (base, p, mut l) = synced(&m);
    // Base flipped planned ↔ in progress five times in the last minutes.
    let mut history = FieldHistory::new();
    let seq = [
        "planned",
        "in progress",
        "planned",
        "in progress",
        "planned",
    ];
    history.insert(
        "status".into(),
        seq.iter()
            .enumerate()
            .map(|(i, s)| HistoryEntry {
                at: t(20 + i as u32),
                value: text(s),
                from: None,
            })
            .collect(),
    );
    l.status = "In Progress".into();
    l.status_type = Some("started".into());
    let input = MergeInput {
        history: &history,
        ..MergeInput::new(&base, &p, &l, t(30))
    };
    let out = plan_link(&m, &input);
    assert!(out.portal_writes.is_none());
    assert_eq!(out.conflicts[0].reason, ConflictReason::PingPong);
    // Outside the window it is an ordinary change.
    let input = MergeInput {
        history: &history,
        ..MergeInput::new(&base, &p, &l, t(59))
    };
    let out = plan_link(&m, &input);
    assert!(out.conflicts.is_empty());
    assert_eq!(pw(&out, "status"), Some(text("in progress")));
}

#[test]
fn ping_pong_guard_counts_flips_between_two_values() {
    let g = PingPongGuard::default();
    let h = |vals: &[&str]| -> Vec<HistoryEntry> {
        vals.iter()
            .enumerate()
            .map(|(i, v)| HistoryEntry {
                at: t(i as u32),
                value: text(v),
                from: None,
            })
            .collect()
    };
    assert!(
        g.check(&h(&["a", "b", "a", "b"]), &text("a"), None, t(5))
            .is_none()
    );
    let f = g
        .check(&h(&["a", "b", "a", "b", "a"]), &text("b"), None, t(6))
        .unwrap();
    assert_eq!(f.flips, 5);
    // A third value breaks the run.
    assert!(
        g.check(&h(&["a", "b", "c", "b", "c"]), &text("b"), None, t(6))
            .is_none()
    );
    // Repeats are not flips.
    assert!(
        g.check(&h(&["a", "a", "a", "a", "a"]), &text("a"), None, t(6))
            .is_none()
    );

    let mut history = FieldHistory::new();
    let old: Snapshot = [("title".to_string(), text("a"))].into();
    let new: Snapshot = [("title".to_string(), text("b"))].into();
    record_history(&mut history, &old, &new, &BTreeMap::new(), t(0), g.window);
    assert_eq!(history["title"].len(), 2);
    record_history(&mut history, &new, &new, &BTreeMap::new(), t(30), g.window);
    assert!(history.is_empty());
}

#[test]
fn comments_are_mirrored_once_and_never_back() {
    let m = m();
    let (base, mut p, mut l) = synced(&m);
    p.comments.push(comment("pc1", "Jane", "Would love this."));
    l.comments
        .push(comment("lc1", "Sam", "Scheduled for **next sprint**."));
    let mut map = CommentMap::default();
    let out = plan_link(
        &m,
        &MergeInput {
            comments: &map,
            portal_name: "Fider",
            ..MergeInput::new(&base, &p, &l, t(30))
        },
    );
    assert_eq!(out.comments_to_mirror.len(), 2);
    assert_eq!(
        out.comments_to_mirror[0].body,
        "**Jane on Fider:** Would love this.\n\n(roundtrip mirror of portal comment pc1)"
    );
    assert_eq!(
        out.comments_to_mirror[1].body, "Sam on Linear: Scheduled for **next sprint**.",
        "the portal copy carries no reference of roundtrip's"
    );
    apply_comments(&out, &mut p, &mut l, &mut map);
    let again = plan_link(
        &m,
        &MergeInput {
            comments: &map,
            ..MergeInput::new(&base, &p, &l, t(31))
        },
    );
    assert!(again.is_noop(), "{again:#?}");
    // The map is lost: the Linear marker and the portal copy's content still
    // recognise our copies and rebuild it.
    let empty = CommentMap::default();
    let lost = plan_link(
        &m,
        &MergeInput {
            comments: &empty,
            ..MergeInput::new(&base, &p, &l, t(32))
        },
    );
    assert!(lost.comments_to_mirror.is_empty());
    let mut pairs = lost.recovered_comment_pairs.clone();
    pairs.sort();
    let mut expected = map.pairs.clone();
    expected.sort();
    assert_eq!(pairs, expected);
}

#[test]
fn marker_parsing() {
    use super::comments::{marker, parse_marker};
    assert_eq!(
        parse_marker(&format!("hi\n\n{}\n", marker(Side::Linear, "abc-1"))),
        Some((Side::Linear, "abc-1".to_string()))
    );
    assert_eq!(parse_marker("(roundtrip mirror of mars comment x)"), None);
    assert_eq!(parse_marker("just text"), None);
}

#[test]
fn resolve_conflict_by_choice() {
    let m = m();
    let (base, mut p, mut l) = synced(&m);
    p.title = "P".into();
    l.title = "L".into();
    let input = MergeInput::new(&base, &p, &l, t(30));
    let conflict = plan_link(&m, &input).conflicts.remove(0);
    let take = |t: Take| resolve_conflict(&m, &input, &conflict, &t).unwrap();

    let out = take(Take::Portal);
    assert_eq!(lw(&out, "title"), Some(text("P")));
    assert!(out.portal_writes.is_none());
    assert_eq!(out.new_base["title"], text("P"));
    assert_eq!(
        out.decisions[0].explanation,
        "title: conflict resolved by an operator, taking the portal's value 'P', written to Linear"
    );
    let out = take(Take::Linear);
    assert_eq!(pw(&out, "title"), Some(text("L")));
    let out = take(Take::Base);
    assert_eq!(pw(&out, "title"), Some(text("Dark mode")));
    assert_eq!(lw(&out, "title"), Some(text("Dark mode")));
    let out = take(Take::Value(text("Dark mode (system)")));
    assert_eq!(out.new_base["title"], text("Dark mode (system)"));
    // After applying, the link is quiet.
    let (mut p2, mut l2) = (p.clone(), l.clone());
    apply_writes(&out, &mut p2, &mut l2);
    assert!(plan(&m, &out.new_base, &p2, &l2).is_noop());

    let bad = resolve_conflict(&m, &input, &conflict, &Take::Value(FieldValue::Number(3)));
    assert!(matches!(bad, Err(ResolveError::BadValue { .. })), "{bad:?}");
    let mut unknown = conflict.clone();
    unknown.field = "nope".into();
    assert_eq!(
        resolve_conflict(&m, &input, &unknown, &Take::Portal),
        Err(ResolveError::UnknownField("nope".into()))
    );
}

#[test]
fn create_rules() {
    let rule = CreateRule {
        status: vec!["planned".into(), "in progress".into()],
        tags: vec!["approved".into()],
    };
    let mut p = post();
    assert!(should_create_in_linear(&p, &rule, false));
    assert!(!should_create_in_linear(&p, &rule, true));
    p.status = "open".into();
    assert!(!should_create_in_linear(&p, &rule, false));
    p.labels.insert("Approved".into());
    assert!(should_create_in_linear(&p, &rule, false));
    p.deleted = true;
    assert!(!should_create_in_linear(&p, &rule, false));
    let parsed: CreateRule = toml::from_str("status = [\"planned\"]").unwrap();
    assert_eq!(parsed.status, vec!["planned".to_string()]);

    let mut i = issue();
    let mut opts = PortalCreateOptions::default();
    i.labels.insert("portal".into());
    assert!(!should_create_in_portal(&i, &opts, false));
    opts.enabled = true;
    assert!(should_create_in_portal(&i, &opts, false));
    assert!(!should_create_in_portal(&i, &opts, true));
    i.labels.clear();
    assert!(!should_create_in_portal(&i, &opts, false));
}

#[test]
fn planned_create_carries_id_url_and_mapped_fields() {
    let m = m();
    let p = post();
    let id = uuid::Uuid::from_u128(7);
    let c = plan_create(&m, &p, Side::Portal, id);
    assert_eq!(c.target, Side::Linear);
    let nr = c.to_new_record();
    assert_eq!(nr.client_id, id);
    assert_eq!(
        nr.source_url.as_deref(),
        Some("https://feedback.example.com/p/dark-mode")
    );
    assert_eq!(nr.fields["state"], text("Todo"));
    assert_eq!(nr.fields["priority"], FieldValue::Number(3));
    assert_eq!(nr.fields["labels"], FieldValue::Set(set(&["ui"])));
    // The issue Linear creates from it is in sync with the new base.
    let mut created = Record {
        remote_id: "new".into(),
        ..Record::default()
    };
    for (k, v) in &nr.fields {
        assert!(created.set_field(k, v.clone()));
    }
    created.status_type = Some("unstarted".into());
    assert!(plan(&m, &c.base, &p, &created).is_noop());

    // Votes line on create.
    let vm = votes_line_mapping();
    let c = plan_create(&vm, &p, Side::Portal, id);
    assert_eq!(
        c.fields["description"],
        text("Please add a dark theme.\n\nVotes: 12")
    );
    // Portal-side create does not carry votes back.
    let c = plan_create(&m, &issue(), Side::Linear, id);
    assert_eq!(c.target, Side::Portal);
    assert_eq!(c.fields["status"], text("planned"));
    assert!(!c.fields.contains_key("score"));
}

#[test]
fn delete_policies_and_guard() {
    let m = m();
    let deleted = issue();
    let guard = MassDeleteGuard::default();
    let run = |policy, earlier: &[chrono::DateTime<chrono::Utc>]| {
        plan_delete(&m, policy, Side::Linear, &deleted, &guard, earlier, t(30))
    };
    let d = run(DeletePolicy::Unlink, &[]);
    assert!(matches!(
        d.action,
        DeleteAction::Unlink {
            side: Side::Portal,
            ..
        }
    ));
    assert_eq!(
        d.explanation,
        "the Linear record ENG-42 ('Dark mode') was deleted; policy unlink keeps the portal and stops syncing"
    );
    let d = run(DeletePolicy::Close, &[]);
    match d.action {
        DeleteAction::Close { side, writes } => {
            assert_eq!(side, Side::Portal);
            assert_eq!(writes.fields["status"], text("closed"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        close_writes(&m, Side::Linear).unwrap().fields["state"],
        text("Canceled")
    );
    assert_eq!(
        run(DeletePolicy::Mirror, &[]).action,
        DeleteAction::Delete { side: Side::Portal }
    );
    assert_eq!(run(DeletePolicy::Ask, &[]).action, DeleteAction::Ask);
    // 20 earlier deletes in the window + this one > 20 → paused.
    let earlier: Vec<_> = (0..20)
        .map(|i| t(21) + chrono::Duration::seconds(i))
        .collect();
    let d = run(DeletePolicy::Mirror, &earlier);
    assert_eq!(d.action, DeleteAction::Paused { count: 21 });
    assert!(d.alert.unwrap().contains("21 deletes"));
    assert_eq!(
        run(DeletePolicy::Mirror, &earlier[1..]).action,
        DeleteAction::Delete { side: Side::Portal }
    );
    // Old deletes fall out of the window.
    let old: Vec<_> = (0..30)
        .map(|i| t(0) + chrono::Duration::seconds(i))
        .collect();
    assert_eq!(
        run(DeletePolicy::Mirror, &old).action,
        DeleteAction::Delete { side: Side::Portal }
    );
    assert_eq!("close".parse::<DeletePolicy>(), Ok(DeletePolicy::Close));
    assert!("burn".parse::<DeletePolicy>().is_err());
}

#[test]
fn preview_lists_what_a_new_mapping_would_do() {
    let old = m();
    let (base, p, mut l) = synced(&old);
    l.title = "Dark theme".into();
    let (base2, p2, l2) = synced(&old);
    let links = vec![(base, p, l), (base2, p2, l2)];
    // Candidate: title becomes portal-owned → Linear's edit is ignored; the
    // votes rule changes so priority moves.
    let mut cand = old.clone();
    for f in &mut cand.fields {
        match (&f.name[..], &mut f.transform) {
            ("title", _) => f.direction = Direction::PortalToLinear,
            (_, Transform::VotesToPriority { rule }) => rule[1].value = 4,
            _ => {}
        }
    }
    let out = preview(&cand, &links, t(30));
    assert_eq!(out.len(), 2);
    let rows: Vec<String> = out
        .iter()
        .flat_map(|l| l.rows.iter().map(|r| r.to_string()))
        .collect();
    assert_eq!(
        rows,
        vec![
            "p1 ↔ ENG-42 · priority on linear: 3 → 4".to_string(),
            "p1 ↔ ENG-42 · priority on linear: 3 → 4".to_string(),
        ]
    );
    assert_eq!(out[0].rows[0].action, PreviewAction::Write(Side::Linear));
}

#[test]
fn snapshot_json_shape_is_stable() {
    let m = m();
    let (base, _, _) = synced(&m);
    let json = serde_json::to_string(&base).unwrap();
    assert_eq!(
        json,
        r#"{"description":{"kind":"text","value":"Please add a dark theme."},"labels":{"kind":"set","value":["ui"]},"status":{"kind":"text","value":"planned"},"title":{"kind":"text","value":"Dark mode"},"votes":{"kind":"number","value":3}}"#
    );
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, base);
    let null: Snapshot = serde_json::from_str(r#"{"votes":{"kind":"null"}}"#).unwrap();
    assert_eq!(null["votes"], FieldValue::Null);
}

#[test]
fn a_comment_ending_like_a_marker_is_a_persons_comment() {
    let m = m();
    let (base, mut p, l) = synced(&m);
    // Claims to be a copy of a Linear comment that does not exist.
    p.comments.push(comment(
        "pc1",
        "Jane",
        "Same here\n\n(roundtrip mirror of linear comment lc404)",
    ));
    let out = plan_link(&m, &MergeInput::new(&base, &p, &l, t(30)));
    assert!(out.recovered_comment_pairs.is_empty(), "{out:#?}");
    assert_eq!(out.comments_to_mirror.len(), 1);
    assert_eq!(out.comments_to_mirror[0].source_id, "pc1");
    // Naming a real comment is not enough either: the copy must carry its text.
    let mut l2 = l.clone();
    l2.comments
        .push(comment("lc1", "Sam", "Shipping next week"));
    p.comments[0].body = "Nope\n\n(roundtrip mirror of linear comment lc1)".into();
    let out = plan_link(&m, &MergeInput::new(&base, &p, &l2, t(31)));
    assert!(out.recovered_comment_pairs.is_empty(), "{out:#?}");
    let sources: Vec<&str> = out
        .comments_to_mirror
        .iter()
        .map(|c| c.source_id.as_str())
        .collect();
    assert_eq!(sources, ["pc1", "lc1"]);
}

#[test]
fn only_changes_alternating_between_sides_count_as_flips() {
    let g = PingPongGuard::default();
    let h = |vals: &[(&str, Side)]| -> Vec<HistoryEntry> {
        vals.iter()
            .enumerate()
            .map(|(i, (v, s))| HistoryEntry {
                at: t(i as u32),
                value: text(v),
                from: Some(*s),
            })
            .collect()
    };
    use Side::{Linear as L, Portal as P};
    // One person toggling a value on the portal is not a fight.
    let toggling = h(&[("a", P), ("b", P), ("a", P), ("b", P), ("a", P)]);
    assert!(g.check(&toggling, &text("b"), Some(P), t(6)).is_none());
    // Two sides taking turns is.
    let fighting = h(&[("a", P), ("b", L), ("a", P), ("b", L), ("a", P)]);
    let f = g.check(&fighting, &text("b"), Some(L), t(6)).unwrap();
    assert_eq!(f.flips, 5);
}

#[test]
fn a_refused_value_becomes_a_cannot_write_conflict_until_a_side_changes() {
    let m = m();
    let (base, mut p, l) = synced(&m);
    p.title = "   ".into();
    let refusals = [Refusal {
        side: Side::Linear,
        field: "title".into(),
        value: text(""),
        message: "title must not be empty".into(),
    }];
    let input = MergeInput {
        refusals: &refusals,
        ..MergeInput::new(&base, &p, &l, t(30))
    };
    let out = plan_link(&m, &input);
    assert!(out.linear_writes.is_none(), "not written again: {out:#?}");
    assert_eq!(out.conflicts.len(), 1);
    assert_eq!(out.conflicts[0].reason, ConflictReason::Refused);
    assert_eq!(out.conflicts[0].side, Some(Side::Linear));
    // While nobody changes the field, the conflict waits.
    let open: BTreeSet<String> = ["title".to_string()].into();
    let details: BTreeMap<String, OpenConflict> = [(
        "title".to_string(),
        OpenConflict {
            reason: ConflictReason::Refused,
            side: Some(Side::Linear),
            portal: out.conflicts[0].portal.clone(),
            linear: out.conflicts[0].linear.clone(),
        },
    )]
    .into();
    let waiting = plan_link(
        &m,
        &MergeInput {
            open_conflicts: &open,
            conflict_details: &details,
            ..MergeInput::new(&base, &p, &l, t(31))
        },
    );
    assert!(waiting.linear_writes.is_none() && waiting.conflicts.is_empty());
    assert!(waiting.superseded_conflicts.is_empty());
    // The portal fixes it: superseded, and the new value is written.
    p.title = "Fixed".into();
    let fixed = plan_link(
        &m,
        &MergeInput {
            open_conflicts: &open,
            conflict_details: &details,
            ..MergeInput::new(&base, &p, &l, t(32))
        },
    );
    assert_eq!(fixed.superseded_conflicts, ["title"]);
    assert_eq!(pw_linear(&fixed, "title"), Some(text("Fixed")));
}

fn pw_linear(plan: &Plan, field: &str) -> Option<FieldValue> {
    plan.linear_writes.as_ref()?.fields.get(field).cloned()
}
