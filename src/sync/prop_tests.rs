//! Property tests of the merge: idempotence, echo safety, one-sided changes,
//! no lost fields, status round-trips, and mapping documents round-tripping
//! through TOML.

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::domain::{Record, Side};

use super::catalog::Catalog;
use super::codec;
use super::test_support::*;
use super::*;

const TEXTS: &[&str] = &[
    "A",
    "B",
    "a\nb\nc",
    "a\nB\nc",
    "A\nb\nc",
    "",
    "x  ",
    "line one\r\nline two",
];
const TAGS: &[&str] = &["ui", "bug", "mobile", "api"];

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(TEXTS).prop_map(str::to_string),
        1 => "[a-c \n]{0,8}",
    ]
}

fn tags_strategy() -> impl Strategy<Value = BTreeSet<String>> {
    proptest::sample::subsequence(TAGS, 0..=TAGS.len())
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn portal_strategy() -> impl Strategy<Value = Record> {
    let statuses = Catalog::canny_linear_default().portal_statuses;
    (
        text_strategy(),
        text_strategy(),
        proptest::sample::select(statuses),
        tags_strategy(),
        proptest::option::of(0i64..80),
    )
        .prop_map(|(title, description, status, labels, votes)| Record {
            remote_id: "p1".into(),
            title,
            description,
            status,
            labels,
            votes,
            ..Record::default()
        })
}

fn linear_strategy(votes_line: bool) -> impl Strategy<Value = Record> {
    let states = Catalog::canny_linear_default().linear_states;
    (
        text_strategy(),
        text_strategy(),
        proptest::sample::select(states),
        tags_strategy(),
        proptest::option::of(0i64..5),
        proptest::option::of(0i64..80),
    )
        .prop_map(
            move |(title, description, state, labels, priority, votes)| {
                let description = if votes_line {
                    codec::compose_votes_line(
                        &codec::normalize_text(&description),
                        votes,
                        DEFAULT_VOTES_PREFIX,
                    )
                } else {
                    description
                };
                Record {
                    remote_id: "l1".into(),
                    identifier: Some("ENG-1".into()),
                    title,
                    description,
                    status: state.name,
                    status_type: Some(state.state_type),
                    labels,
                    priority,
                    ..Record::default()
                }
            },
        )
}

fn direction_strategy() -> impl Strategy<Value = Direction> {
    proptest::sample::select(Direction::ALL.to_vec())
}

/// The default mapping with random directions and policies (only valid
/// combinations), optionally with the votes line instead of the rule.
fn mapping_strategy() -> impl Strategy<Value = Mapping> {
    let text_policy = proptest::sample::select(Policy::ALL.to_vec());
    let plain_policy = proptest::sample::select(vec![
        Policy::Ask,
        Policy::LinearWins,
        Policy::PortalWins,
        Policy::Newest,
    ]);
    (
        (direction_strategy(), text_policy.clone()),
        (direction_strategy(), text_policy.clone()),
        (direction_strategy(), plain_policy.clone()),
        (direction_strategy(), text_policy),
        plain_policy,
        any::<bool>(),
    )
        .prop_map(|(title, desc, status, labels, votes_policy, votes_line)| {
            let mut m = Mapping::default_canny_linear();
            for f in &mut m.fields {
                let (d, p) = match f.name.as_str() {
                    "title" => title,
                    "description" => desc,
                    "status" => status,
                    "labels" => labels,
                    _ => (f.direction, votes_policy),
                };
                f.direction = d;
                f.on_conflict = p;
                if votes_line && f.name == "votes" {
                    f.linear = "description".into();
                    f.transform = Transform::VotesLine {
                        prefix: DEFAULT_VOTES_PREFIX.into(),
                    };
                }
            }
            m
        })
}

fn uses_votes_line(m: &Mapping) -> bool {
    m.votes_line_prefix().is_some()
}

fn times_strategy() -> impl Strategy<Value = ChangeTimes> {
    (proptest::option::of(0u32..5), proptest::option::of(0u32..5)).prop_map(|(p, l)| ChangeTimes {
        portal: p.map(t),
        linear: l.map(t),
    })
}

/// A whole scenario: mapping, base (from some earlier state, with fields
/// randomly missing), both records and change times.
fn scenario() -> impl Strategy<Value = (Mapping, Snapshot, Record, Record, ChangeTimes)> {
    mapping_strategy().prop_flat_map(|m| {
        let vl = uses_votes_line(&m);
        (
            Just(m),
            portal_strategy(),
            proptest::collection::vec(any::<bool>(), 5),
            portal_strategy(),
            linear_strategy(vl),
            times_strategy(),
        )
            .prop_map(|(m, base_rec, keep, p, l, times)| {
                let mut base = Snapshot::new();
                for (f, keep) in m.fields.iter().zip(keep) {
                    if let (true, Ok(v)) = (keep, codec::read(&m, f, Side::Portal, &base_rec)) {
                        base.insert(f.name.clone(), v);
                    }
                }
                (m, base, p, l, times)
            })
    })
}

fn conflict_fields(plan: &Plan) -> BTreeSet<String> {
    plan.conflicts.iter().map(|c| c.field.clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Applying a plan and merging again plans nothing (the second merge
    /// sees our writes as echoes), even with different change times.
    #[test]
    fn merge_is_idempotent_and_echoes_plan_nothing(
        (m, base, mut p, mut l, times) in scenario(),
        later in times_strategy(),
    ) {
        let first = plan_link(&m, &MergeInput { times, ..MergeInput::new(&base, &p, &l, t(30)) });
        apply_writes(&first, &mut p, &mut l);
        let open = conflict_fields(&first);
        for times in [times, later] {
            let again = plan_link(&m, &MergeInput {
                open_conflicts: &open,
                times,
                ..MergeInput::new(&first.new_base, &p, &l, t(31))
            });
            prop_assert!(again.is_noop(), "first: {:#?}\nagain: {:#?}", first, again);
        }
    }

    /// Every changed field is written (both sides then hold the new base),
    /// agreed, or in a conflict; one-way fields at least get a decision.
    #[test]
    fn no_field_is_lost((m, base, p, l, times) in scenario()) {
        let plan = plan_link(&m, &MergeInput { times, ..MergeInput::new(&base, &p, &l, t(30)) });
        let (mut p2, mut l2) = (p.clone(), l.clone());
        apply_writes(&plan, &mut p2, &mut l2);
        let conflicts = conflict_fields(&plan);
        for f in m.fields.iter().filter(|f| f.direction != Direction::None) {
            let b = base.get(&f.name).cloned().unwrap_or(crate::domain::FieldValue::Null);
            let (Ok(pv), Ok(lv)) = (codec::read(&m, f, Side::Portal, &p), codec::read(&m, f, Side::Linear, &l)) else {
                continue;
            };
            if pv == b && lv == b {
                continue;
            }
            if conflicts.contains(&f.name) {
                continue;
            }
            if f.direction == Direction::Both {
                let nb = plan.new_base.get(&f.name);
                let p_now = codec::read(&m, f, Side::Portal, &p2).ok();
                let l_now = codec::read(&m, f, Side::Linear, &l2).ok();
                prop_assert_eq!(nb, p_now.as_ref(), "field {} portal; plan {:#?}", f.name, plan);
                prop_assert_eq!(nb, l_now.as_ref(), "field {} linear; plan {:#?}", f.name, plan);
            } else {
                prop_assert!(plan.decisions.iter().any(|d| d.field == f.name), "field {}: {:#?}", f.name, plan);
            }
        }
    }

    /// Starting from a created link, a change on only one side never opens
    /// a conflict (and the fresh link itself has nothing to resolve).
    #[test]
    fn one_sided_change_never_conflicts(
        m in mapping_strategy(),
        p in portal_strategy(),
        change in portal_strategy(),
        linear_change in linear_strategy(false),
        portal_side in any::<bool>(),
    ) {
        let created = plan_create(&m, &p, Side::Portal, uuid::Uuid::nil());
        // Linear puts a new issue in the team's default state unless told otherwise.
        let mut l = Record {
            remote_id: "l1".into(),
            status: "Triage".into(),
            status_type: Some("triage".into()),
            ..Record::default()
        };
        let catalog = Catalog::canny_linear_default();
        for (k, v) in &created.fields {
            prop_assert!(l.set_field(k, v.clone()));
            if let ("state", crate::domain::FieldValue::Text(s)) = (k.as_str(), v) {
                l.status_type = catalog.resolve_linear_state(s).map(|st| st.state_type.clone());
            }
        }
        let fresh = plan_link(&m, &MergeInput::new(&created.base, &p, &l, t(30)));
        prop_assert!(fresh.conflicts.is_empty(), "{:#?}", fresh);
        if m.fields.iter().all(|f| f.direction != Direction::LinearToPortal) {
            prop_assert!(fresh.is_noop(), "{:#?}", fresh);
        }
        // Settle the fresh link, then change one side only.
        let (mut p1, mut l1) = (p.clone(), l.clone());
        apply_writes(&fresh, &mut p1, &mut l1);
        let base = fresh.new_base.clone();
        if portal_side {
            p1 = change;
        } else {
            let mut nl = linear_change;
            if uses_votes_line(&m) {
                let prefix = DEFAULT_VOTES_PREFIX;
                let votes = codec::split_votes_line(&l1.description, prefix).1;
                nl.description = codec::compose_votes_line(&codec::normalize_text(&nl.description), votes, prefix);
            }
            l1 = nl;
        }
        let plan = plan_link(&m, &MergeInput::new(&base, &p1, &l1, t(31)));
        prop_assert!(plan.conflicts.is_empty(), "{:#?}", plan);
    }

    /// Every mapped portal status survives portal → Linear → portal, for
    /// any injective table over the catalog's states.
    #[test]
    fn status_transforms_round_trip(perm in Just(Catalog::canny_linear_default().linear_states).prop_shuffle(), by_type in any::<bool>()) {
        let catalog = Catalog::canny_linear_default();
        let mut values = Vec::new();
        let mut used_types = BTreeSet::new();
        for (p, s) in catalog.portal_statuses.iter().zip(&perm) {
            if by_type {
                if !used_types.insert(s.state_type.clone()) { continue; }
                values.push((p.clone(), s.state_type.clone()));
            } else {
                values.push((p.clone(), s.name.clone()));
            }
        }
        let table = StatusTable { values: values.clone(), from_linear: vec![], notify_voters: vec![] };
        for (p, _) in &values {
            let target = table.to_linear(p).unwrap();
            let state = catalog.resolve_linear_state(target).unwrap();
            prop_assert_eq!(table.to_portal(&state.name, Some(&state.state_type)), Some(p.as_str()));
        }
        // ... and the default mapping does it for every status and state.
        let m = Mapping::default_canny_linear();
        let (_, dt) = m.status_field().unwrap();
        for p in &catalog.portal_statuses {
            let state = catalog.resolve_linear_state(dt.to_linear(p).unwrap()).unwrap();
            prop_assert_eq!(dt.to_portal(&state.name, Some(&state.state_type)), Some(p.as_str()));
        }
        for s in &catalog.linear_states {
            let p = dt.to_portal(&s.name, Some(&s.state_type)).unwrap();
            let back = catalog.resolve_linear_state(dt.to_linear(p).unwrap()).unwrap();
            prop_assert_eq!(dt.to_portal(&back.name, Some(&back.state_type)), Some(p));
        }
    }

    /// Rendering a mapping and parsing it back gives the same mapping.
    #[test]
    fn mapping_round_trips_through_toml(m in mapping_strategy()) {
        let m = Mapping { version: 7, ..m };
        let text = m.to_toml();
        match Mapping::parse(&text) {
            Ok(back) => prop_assert_eq!(back, m),
            Err(e) => prop_assert!(false, "{}\n{}", e, text),
        }
    }
}
