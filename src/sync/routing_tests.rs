//! Routing: the table's first-match rule, its explanations, the mapping
//! check of `[[routes]]` (every error at its line), the TOML round trip,
//! and property tests — a post is taken by at most one route, and the
//! first of the routes that match it; reordering changes only which of
//! several matching routes wins.

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::domain::{FieldValue, Placement, Record, Side};

use super::create::{CreateRule, plan_create};
use super::mapping::Mapping;
use super::routing::{ReroutePolicy, Route, RouteTarget, RouteWhen, Routing, route_post};
use super::routing_plan::{Admission, Placed, Reroute, admit, place_create, reroute};

fn post(board: &str, category: Option<&str>, tags: &[&str], status: &str, votes: i64) -> Record {
    Record {
        remote_id: "p1".into(),
        title: "Export fails".into(),
        status: status.into(),
        labels: tags.iter().map(|t| t.to_string()).collect(),
        votes: Some(votes),
        board: Some(board.into()),
        category: category.map(str::to_string),
        ..Record::default()
    }
}

const DOC_ROUTES: &str = r#"
[[routes]]
name = "API bugs to Platform"
when = { board = "Bugs", category = ["API", "Performance"] }
approve = { status = ["planned", "in progress"] }
linear = { team = "PLAT", labels = ["Bug"], assignee = "ada@example.com", project = "Reliability", priority = 2 }
reroute = "move"

[[routes]]
name = "other bugs"
when = { board = "Bugs" }
approve = { status = ["planned"] }
linear = { team = "APP" }
close = { comment = "Shipped in {cycle}: {url}", changelog = { per = "cycle", publish = true, title = "Fixed in {cycle}", type = "fixed" } }

[[routes]]
name = "everything else"
when = {}
approve = { status = ["planned"] }
linear = { team = "ENG" }
"#;

fn mapping_with(routes: &str) -> Result<Mapping, super::errors::MappingErrors> {
    let doc = format!("{}{routes}", Mapping::default_canny_linear().to_toml());
    Mapping::parse(&doc)
}

fn routes() -> Vec<Route> {
    mapping_with(DOC_ROUTES).unwrap().routes
}

#[test]
fn first_match_wins_and_says_why() {
    let r = routes();
    let api = route_post(&r, &post("Bugs", Some("API"), &[], "planned", 3));
    assert_eq!(api.name(), Some("API bugs to Platform"));
    assert!(api.approved());
    assert_eq!(
        api.explain(),
        "route 'API bugs to Platform' (board Bugs, category API); approved: status planned"
    );
    let ui = route_post(&r, &post("bugs", Some("UI"), &[], "open", 3));
    assert_eq!(ui.name(), Some("other bugs"));
    assert!(!ui.approved());
    assert_eq!(
        ui.explain(),
        "route 'other bugs' (board bugs; not 'API bugs to Platform': category is UI, not one of API, Performance); waits for approval: status open, needs status planned"
    );
    let idea = route_post(&r, &post("Feature Requests", None, &[], "planned", 0));
    assert_eq!(idea.name(), Some("everything else"));
}

#[test]
fn a_post_no_route_takes_is_unrouted_with_every_reason() {
    let mut r = routes();
    r.pop();
    let got = route_post(&r, &post("Ideas", None, &[], "planned", 0));
    assert_eq!(
        got,
        Routing::Unrouted {
            why: "'API bugs to Platform': board is Ideas, not Bugs; 'other bugs': board is Ideas, not Bugs".into()
        }
    );
    assert_eq!(
        admit(&r, &post("Ideas", None, &[], "planned", 0)),
        Admission::Unrouted {
            why: "'API bugs to Platform': board is Ideas, not Bugs; 'other bugs': board is Ideas, not Bugs".into()
        }
    );
}

#[test]
fn held_posts_are_never_admitted_whatever_the_routes_say() {
    let mut p = post("Bugs", Some("API"), &[], "planned", 3);
    p.held = true;
    assert_eq!(admit(&routes(), &p), Admission::Held);
}

#[test]
fn an_approved_post_is_created_where_its_route_says() {
    let r = routes();
    let p = post("Bugs", Some("Performance"), &["slow"], "in progress", 3);
    let Admission::Create {
        route, placement, ..
    } = admit(&r, &p)
    else {
        panic!("not created: {:?}", admit(&r, &p));
    };
    assert_eq!(route, "API bugs to Platform");
    assert_eq!(
        placement,
        Placement {
            team: Some("PLAT".into()),
            project: Some("Reliability".into()),
            assignee: Some("ada@example.com".into()),
        }
    );
    let m = Mapping::default_canny_linear();
    let mut c = plan_create(&m, &p, Side::Portal, uuid::Uuid::nil());
    place_create(&mut c, &r[0]);
    let labels: BTreeSet<String> = ["Bug", "slow"].iter().map(|s| s.to_string()).collect();
    assert_eq!(c.fields.get("labels"), Some(&FieldValue::Set(labels)));
    assert_eq!(c.fields.get("priority"), Some(&FieldValue::Number(2)));
}

#[test]
fn votes_and_tags_match_as_documented() {
    let when = RouteWhen {
        tags: vec!["urgent".into(), "outage".into()],
        votes: Some(super::routing::VoteRange {
            at_least: Some(10),
            below: Some(50),
        }),
        ..RouteWhen::default()
    };
    let route = Route {
        when,
        ..Route::implicit(&CreateRule::default())
    };
    assert!(route.matches(&post("B", None, &["URGENT"], "open", 10)).0);
    assert_eq!(
        route.matches(&post("B", None, &["urgent"], "open", 50)),
        (false, "50 votes, not 10 to 49 votes".to_string())
    );
    assert_eq!(
        route.matches(&post("B", None, &["ux"], "open", 20)),
        (
            false,
            "the post has no tag one of urgent, outage".to_string()
        )
    );
}

#[test]
fn without_routes_the_implicit_route_is_create_in_linear_when() {
    let rule = CreateRule {
        status: vec!["planned".into()],
        tags: vec![],
    };
    let r = super::routing::effective_routes(&[], &rule);
    let got = admit(&r, &post("Feature Requests", None, &[], "planned", 0));
    assert!(
        matches!(&got, Admission::Create { route, placement, .. } if route == "create_in_linear_when" && *placement == Placement::default()),
        "{got:?}"
    );
}

#[test]
fn routes_round_trip_through_the_document() {
    let m = mapping_with(DOC_ROUTES).unwrap();
    assert_eq!(m.routes.len(), 3);
    assert_eq!(m.routes[0].reroute, ReroutePolicy::Move);
    let again = Mapping::parse(&m.to_toml()).unwrap();
    assert_eq!(again, m);
    assert_eq!(again.routes, m.routes);
}

fn errors_of(routes: &str) -> Vec<String> {
    let base_lines = Mapping::default_canny_linear().to_toml().lines().count();
    match mapping_with(routes) {
        Ok(_) => panic!("accepted:\n{routes}"),
        // Report lines relative to the routes text, so tests read plainly.
        Err(e) => {
            e.0.iter()
                .map(|e| {
                    let line = e.line.map_or(0, |l| l - base_lines);
                    format!("{line}: {}", e.message)
                })
                .collect()
        }
    }
}

#[test]
fn mapping_check_names_each_route_error_at_its_line() {
    let errs = errors_of(
        r#"
[[routes]]
name = "catch all"
when = {}
approve = { status = ["planned"] }

[[routes]]
name = "never reached"
when = { board = "Bugs" }
approve = { status = ["planned"] }

[[routes]]
when = { board = "Ideas" }
approve = { status = ["planned"] }
"#,
    );
    assert_eq!(
        errs,
        vec![
            "8: route 'never reached' can never match: route 'catch all' (line 3) above it takes every post, and the first match wins; move it up or narrow the other"
                .replace("(line 3)", &format!("(line {})", 3 + Mapping::default_canny_linear().to_toml().lines().count())),
            "12: routes[3]: every route needs a name (name = \"…\"), shown in previews, the timeline and conflicts".to_string(),
        ]
    );
    let errs = errors_of(
        r#"
[[routes]]
name = "bad"
when = { board = [], colour = "red" }
approve = { status = ["planned"] }
"#,
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("4: "), "{errs:?}");
    assert!(errs[0].contains("colour"), "{errs:?}");
    let errs = errors_of(
        r#"
[[routes]]
name = "gates"
when = { board = "Bugs", votes = { at_least = 10, below = 5 } }
approve = {}
linear = { team = "PLAT", assignee = "ada", priority = 7 }
close = { comment = "Shipped {when}", changelog = { per = "project", title = "Cycle {cycle}" } }
"#,
    );
    assert_eq!(
        errs,
        vec![
            "4: route 'gates': when.votes.below (5) must be above at_least (10)",
            "5: route 'gates': approve names no status and no tag, so none of its posts would ever become a Linear issue",
            "6: route 'gates': linear.assignee 'ada' is not an email; name the Linear user by email",
            "6: route 'gates': linear.priority 7 is not a Linear priority (0 none, 1 urgent … 4 low)",
            "7: route 'gates': close.comment: '{when}' is not a placeholder (available: {identifier}, {title}, {url}, {cycle}, {project}, {team}, {post_title}, {post_url})",
            "7: route 'gates': close.changelog.title (one entry per project): '{cycle}' is not a placeholder (available: {group}, {project})",
        ]
    );
}

#[test]
fn a_route_with_the_same_when_below_another_is_dead_and_names_must_differ() {
    let errs = errors_of(
        r#"
[[routes]]
name = "bugs"
when = { board = "Bugs" }
approve = { status = ["planned"] }

[[routes]]
name = "Bugs"
when = { board = "bugs" }
approve = { status = ["planned"] }
"#,
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].starts_with("8: route 'Bugs' can never match"),
        "{errs:?}"
    );
    assert!(
        errs[1].starts_with("8: route 'Bugs': the name is already used"),
        "{errs:?}"
    );
}

#[test]
fn statuses_a_route_names_are_checked_against_the_portal() {
    let m = mapping_with(
        r#"
[[routes]]
name = "typo"
when = { status = "planed" }
approve = { status = ["planned"] }
"#,
    )
    .unwrap();
    let err = m
        .validate_against(&super::catalog::Catalog::canny_linear_default())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("route 'typo': when.status 'planed' is not a portal status"),
        "{text}"
    );
}

#[test]
fn boards_categories_and_changelogs_are_refused_where_the_portal_has_none() {
    let m = mapping_with(
        r#"
[[routes]]
name = "api"
when = { board = "Bugs", category = "API" }
approve = { status = ["planned"] }
close = { changelog = { per = "cycle" } }

[[routes]]
name = "tagged"
when = { tags = "api" }
approve = { status = ["started"] }
"#,
    )
    .unwrap();
    let fider = super::catalog::Catalog::fider_linear_default();
    let text = m.validate_against(&fider).unwrap_err().to_string();
    for want in [
        "route 'api': when.board: Fider has no boards",
        "route 'api': when.category: Fider has no categories",
        "route 'api': close.changelog: Fider has no changelog",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert!(!text.contains("'tagged'"), "{text}");
    // Canny has all three; only `started` is foreign there.
    let canny = super::catalog::Catalog::canny_linear_default();
    let text = m.validate_against(&canny).unwrap_err().to_string();
    assert!(!text.contains("has no"), "{text}");
    assert!(text.contains("'started' is not a portal status"), "{text}");
}

fn placed(route: &str, team: Option<&str>, project: Option<&str>) -> Placed {
    Placed {
        route: route.into(),
        team: team.map(str::to_string),
        project: project.map(str::to_string),
    }
}

#[test]
fn a_post_that_changes_product_area_moves_or_asks_per_route() {
    let r = routes();
    let now_api = post("Bugs", Some("API"), &[], "planned", 0);
    let was = placed("other bugs", Some("APP"), None);
    match reroute(&r, &now_api, &was, "ENG") {
        Reroute::Move {
            from,
            to,
            placement,
            ..
        } => {
            assert_eq!(from, was);
            assert_eq!(
                to,
                placed("API bugs to Platform", Some("PLAT"), Some("Reliability"))
            );
            assert_eq!(placement.team.as_deref(), Some("PLAT"));
        }
        other => panic!("{other:?}"),
    }
    // "other bugs" asks (the default policy).
    let now_ui = post("Bugs", Some("UI"), &[], "planned", 0);
    let was = placed("API bugs to Platform", Some("PLAT"), Some("Reliability"));
    assert!(matches!(
        reroute(&r, &now_ui, &was, "ENG"),
        Reroute::Ask { .. }
    ));
    // Same route: nothing; no route at all: the issue stays.
    assert_eq!(
        reroute(&r, &now_ui, &placed("other bugs", Some("APP"), None), "ENG"),
        Reroute::Stay
    );
    let mut only_bugs = r.clone();
    only_bugs.pop();
    assert_eq!(
        reroute(
            &only_bugs,
            &post("Ideas", None, &[], "planned", 0),
            &was,
            "ENG"
        ),
        Reroute::Stay
    );
    // Another route with the same place (ENG named or implied): relabel.
    assert!(matches!(
        reroute(
            &r,
            &post("Ideas", None, &[], "planned", 0),
            &placed("create_in_linear_when", None, None),
            "ENG"
        ),
        Reroute::Relabel { .. }
    ));
}

// ---- properties ----

const BOARDS: &[&str] = &["Bugs", "Ideas", "Feature Requests"];
const CATEGORIES: &[&str] = &["API", "Performance", "UI"];
const TAGS: &[&str] = &["bug", "urgent", "ux"];
const STATUSES: &[&str] = &["open", "under review", "planned", "in progress"];

fn subset(from: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(from, 0..=2)
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn when_strategy() -> impl Strategy<Value = RouteWhen> {
    (
        subset(BOARDS),
        subset(CATEGORIES),
        subset(TAGS),
        subset(STATUSES),
        proptest::option::of((0i64..30, 1i64..60)),
    )
        .prop_map(|(board, category, tags, status, votes)| RouteWhen {
            board,
            category,
            tags,
            status,
            votes: votes.map(|(a, span)| super::routing::VoteRange {
                at_least: Some(a),
                below: Some(a + span),
            }),
        })
}

fn routes_strategy() -> impl Strategy<Value = Vec<Route>> {
    proptest::collection::vec(when_strategy(), 0..6).prop_map(|whens| {
        whens
            .into_iter()
            .enumerate()
            .map(|(i, when)| Route {
                name: format!("r{i}"),
                when,
                approve: CreateRule {
                    status: vec!["planned".into()],
                    tags: vec![],
                },
                target: RouteTarget {
                    team: Some(format!("T{i}")),
                    ..RouteTarget::default()
                },
                reroute: ReroutePolicy::Ask,
                close: Default::default(),
            })
            .collect()
    })
}

fn post_strategy() -> impl Strategy<Value = Record> {
    (
        proptest::sample::select(BOARDS),
        proptest::option::of(proptest::sample::select(CATEGORIES)),
        proptest::sample::subsequence(TAGS, 0..=TAGS.len()),
        proptest::sample::select(STATUSES),
        0i64..80,
    )
        .prop_map(|(b, c, t, s, v)| post(b, c, &t, s, v))
}

/// Which routes take the post, judged key by key here (not by the
/// routing code), by name.
fn takers(routes: &[Route], p: &Record) -> Vec<String> {
    let has = |list: &[String], v: Option<&str>| {
        list.is_empty() || v.is_some_and(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
    };
    routes
        .iter()
        .filter(|r| {
            let w = &r.when;
            has(&w.board, p.board.as_deref())
                && has(&w.category, p.category.as_deref())
                && has(&w.status, Some(&p.status))
                && (w.tags.is_empty()
                    || w.tags
                        .iter()
                        .any(|t| p.labels.iter().any(|l| l.eq_ignore_ascii_case(t))))
                && w.votes.is_none_or(|v| {
                    let n = p.votes.unwrap_or(0);
                    v.at_least.is_none_or(|a| n >= a) && v.below.is_none_or(|b| n < b)
                })
        })
        .map(|r| r.name.clone())
        .collect()
}

proptest! {
    #[test]
    fn a_post_is_taken_by_at_most_one_route_the_first_that_matches(
        routes in routes_strategy(),
        p in post_strategy(),
    ) {
        let takers = takers(&routes, &p);
        let got = route_post(&routes, &p);
        prop_assert_eq!(got.name().map(str::to_string), takers.first().cloned());
        if let Some(i) = got.index() {
            prop_assert_eq!(&routes[i].name, &takers[0]);
            // No route above it takes the post.
            for r in &routes[..i] {
                prop_assert!(!r.matches(&p).0);
            }
        }
        // Its admission names that same route (or none).
        let admitted = match admit(&routes, &p) {
            Admission::Create { route, .. } | Admission::Waiting { route, .. } => Some(route),
            Admission::Unrouted { .. } => None,
            Admission::Held => unreachable!("no post here is held"),
        };
        prop_assert_eq!(admitted, takers.first().cloned());
    }

    #[test]
    fn reordering_changes_only_which_of_several_matching_routes_wins(
        routes in routes_strategy(),
        p in post_strategy(),
        order in any::<u64>(),
    ) {
        let mut shuffled = routes.clone();
        // A deterministic permutation from the drawn seed.
        let n = shuffled.len();
        let mut seed = order;
        for i in (1..n).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (seed >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        let before = takers(&routes, &p);
        let after = route_post(&shuffled, &p);
        match after.name() {
            None => prop_assert!(before.is_empty(), "unrouted after reordering, taken before"),
            Some(name) => {
                // The winner is one of the routes that take the post ...
                prop_assert!(before.iter().any(|b| b == name));
                // ... the first of them in the new order ...
                prop_assert_eq!(Some(name.to_string()), takers(&shuffled, &p).first().cloned());
                // ... so a post only one route takes keeps its route.
                if before.len() == 1 {
                    prop_assert_eq!(name, before[0].as_str());
                }
            }
        }
        // Approval is the winner's own gate, whatever the order.
        if let Routing::Routed { index, approved, .. } = &after {
            prop_assert_eq!(*approved, shuffled[*index].approves(&p).0);
        }
    }

    #[test]
    fn any_route_table_round_trips_through_the_document(routes in routes_strategy()) {
        let m = Mapping::default_canny_linear().with_routes(routes);
        // Dead routes are refused on parse; the rendering of a live table
        // must parse back to the same table.
        match Mapping::parse(&m.to_toml()) {
            Ok(again) => prop_assert_eq!(again.routes, m.routes),
            Err(e) => prop_assert!(
                e.0.iter().all(|e| e.message.contains("can never match")),
                "refused for another reason: {}", e
            ),
        }
    }
}
