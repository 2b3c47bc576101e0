//! The orchestrated workflow end to end on loopback: routes in the mapping
//! send posts from two boards to three Linear teams (with assignee, labels,
//! project and priority), a post no route takes is shown as unrouted, a
//! moderating board's held post is never synced until approved, and a post
//! that changes product area moves its issue (or asks) — never a second
//! issue.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup step should stop with its message

mod support {
    pub mod harness;
}

use std::time::Duration;

use roundtrip::domain::{PortalKind, Side};
use roundtrip::sync::Mapping;
use support::harness::{Harness, Setup, eventually};

const ROUTES: &str = r#"
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
linear = { team = "APP", assignee = "grace@example.com" }
"#;

const CATCH_ALL: &str = r#"
[[routes]]
name = "everything else"
when = {}
approve = { status = ["planned"] }
linear = { team = "ENG" }
"#;

/// A harness with the routing teams (PLAT and APP besides ENG, a project
/// of PLAT), a Bugs board, and the routes applied before the engine starts.
async fn world(routes: &str) -> (Harness, String) {
    let mut h = Harness::start(Setup {
        start_service: false,
        ..Setup::default()
    })
    .await;
    h.add_routing_teams();
    let bugs = h.canny().create_board("Bugs");
    let doc = format!("{}{routes}", Mapping::default_canny_linear().to_toml());
    h.apply_mapping_first(PortalKind::Canny, &doc);
    h.start_service().await;
    (h, bugs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_boards_and_three_teams_each_post_lands_where_its_route_says() {
    let doc = format!("{ROUTES}{CATCH_ALL}");
    let (mut h, bugs) = world(&doc).await;
    let api = h
        .canny()
        .create_post_on(&bugs, "API times out", "500 after 30 s", Some("API"))
        .unwrap();
    let ui = h
        .canny()
        .create_post_on(&bugs, "Button misaligned", "on mobile", Some("UI"))
        .unwrap();
    let idea = h.canny().create_post("Dark mode", "please").unwrap();
    let waiting = h
        .canny()
        .create_post_on(&bugs, "Slow search", "takes 5 s", Some("Performance"))
        .unwrap();
    for p in [&api, &ui, &idea] {
        h.canny().set_status(p, "planned").unwrap();
    }
    let plat = h.linear.team("PLAT").unwrap();
    let app = h.linear.team("APP").unwrap();
    let eng = h.linear.team("ENG").unwrap();
    let reliability = h.linear_project_id("Reliability");
    let a = h.issue_of(&api).await;
    assert_eq!(a.team_id, plat.id, "API bug goes to Platform");
    assert!(a.identifier.starts_with("PLAT-"), "{}", a.identifier);
    assert_eq!(
        a.assignee_id.as_deref(),
        Some(h.linear_user_id("ada@example.com").as_str())
    );
    assert_eq!(a.project_id.as_deref(), Some(reliability.as_str()));
    assert_eq!(a.priority, 2);
    let rec = h.linear_record(&a.id).await.unwrap();
    assert!(rec.labels.contains("Bug"), "{:?}", rec.labels);
    let b = h.issue_of(&ui).await;
    assert_eq!(b.team_id, app.id, "other bugs go to Apps");
    assert_eq!(
        b.assignee_id.as_deref(),
        Some(h.linear_user_id("grace@example.com").as_str())
    );
    assert_eq!(b.project_id, None);
    let c = h.issue_of(&idea).await;
    assert_eq!(c.team_id, eng.id, "the other board's posts go to ENG");
    assert_eq!(c.assignee_id, None);
    // Not approved by its route's gate: no issue.
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert!(h.linked_issue(&waiting).is_none());
    assert_eq!(h.linear.issues().len(), 3);
    // The timeline records the route.
    let store = h.store();
    let link = store
        .db()
        .link_by_remote(Side::Portal, &api)
        .unwrap()
        .unwrap();
    let placed = store.db().link_route(link.id).unwrap().unwrap();
    assert_eq!(placed.route, "API bugs to Platform");
    let audit = store
        .db()
        .audit_for_link(link.id, roundtrip::store::Window::first(50))
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == roundtrip::domain::AuditAction::Route
                && e.reason
                    .contains("route 'API bugs to Platform' (board Bugs, category API)")),
        "{audit:?}"
    );
    // Approving it later creates it in Platform too.
    h.canny().set_status(&waiting, "in progress").unwrap();
    let d = h.issue_of(&waiting).await;
    assert_eq!(d.team_id, plat.id);
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_no_route_takes_is_unrouted_until_a_route_takes_it() {
    let (mut h, bugs) = world(ROUTES).await;
    let idea = h.canny().create_post("Dark mode", "please").unwrap();
    h.canny().set_status(&idea, "planned").unwrap();
    let why = eventually("the post to be noted unrouted", 20, async || {
        h.store()
            .db()
            .unrouted(10)
            .ok()?
            .into_iter()
            .find(|u| u.portal_id == idea)
    })
    .await;
    assert_eq!(why.title, "Dark mode");
    assert!(
        why.reason
            .contains("'other bugs': board is Feature Requests, not Bugs"),
        "{}",
        why.reason
    );
    assert!(h.linked_issue(&idea).is_none());
    assert_eq!(h.store().db().unrouted_count().unwrap(), 1);
    // A bug on the Bugs board is routed, and not listed as unrouted.
    let bug = h
        .canny()
        .create_post_on(&bugs, "Crash", "on start", Some("UI"))
        .unwrap();
    h.canny().set_status(&bug, "planned").unwrap();
    eventually("the bug's issue", 20, async || h.linked_issue(&bug)).await;
    assert_eq!(h.store().db().unrouted_count().unwrap(), 1);
    // `status` says so (degraded, exit 1), naming the post and why.
    let (code, out) = rt(&h, &["status"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("1 portal post matches no route (add a route that takes it): 'Dark mode'"),
        "{out}"
    );
    assert!(
        out.contains("unrouted   1 portal post no route takes"),
        "{out}"
    );
    // `mapping preview` shows, per post, the route and why.
    let (code, out) = rt(&h, &["mapping", "preview"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "{idea} 'Dark mode' → no route [unrouted]: matches no route:"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{bug} 'Crash' → other bugs [stays]: route 'other bugs' (board Bugs;"
        )),
        "{out}"
    );
    assert!(
        out.contains("routes: 2 posts examined, 1 unrouted"),
        "{out}"
    );
    // A new mapping version with a catch-all route takes it at once.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mapping.toml");
    let doc = format!(
        "{}{ROUTES}{CATCH_ALL}",
        Mapping::default_canny_linear().to_toml()
    );
    std::fs::write(&file, doc).unwrap();
    let (code, out) = rt(&h, &["mapping", "apply", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let issue = eventually("the formerly unrouted post's issue", 20, async || {
        h.linked_issue(&idea)
    })
    .await;
    let eng = h.linear.team("ENG").unwrap();
    eventually("the issue in ENG", 10, async || {
        (h.linear.issue(&issue)?.team_id == eng.id).then_some(())
    })
    .await;
    assert_eq!(h.store().db().unrouted_count().unwrap(), 0);
    h.stop_service().await;
}

/// Run the binary against the harness's store; (exit code, stdout).
fn rt(h: &Harness, args: &[&str]) -> (i32, String) {
    use assert_cmd::prelude::*;
    let out = std::process::Command::cargo_bin("roundtrip")
        .unwrap()
        .env_remove("ROUNDTRIP_DB")
        .env("COLUMNS", "400")
        .args(args)
        .arg("--db")
        .arg(h.db_arg())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_post_is_never_synced_until_the_moderator_approves_it() {
    let doc = format!("{ROUTES}{CATCH_ALL}");
    let (mut h, bugs) = world(&doc).await;
    h.canny().moderate_board(&bugs, true).unwrap();
    let held = h
        .canny()
        .create_post_on(&bugs, "Leaked token", "in logs", Some("API"))
        .unwrap();
    assert!(h.canny().is_awaiting_approval(&held));
    // Even approved by status, reconciled and read by id, it stays out.
    h.canny().set_status(&held, "planned").unwrap();
    h.engine().reconcile_once().await.unwrap();
    let read = h.portal_record(&held).await.unwrap();
    assert!(read.held, "the connector sees the post held back");
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert!(h.linked_issue(&held).is_none());
    assert!(h.linear.issues().is_empty());
    assert_eq!(
        h.store().db().unrouted_count().unwrap(),
        0,
        "held is not unrouted"
    );
    // The moderator approves: it syncs where its route says.
    h.canny().approve_post(&held).unwrap();
    let issue = eventually("the approved post's issue", 20, async || {
        h.linked_issue(&held)
    })
    .await;
    let i = h.linear.issue(&issue).unwrap();
    assert_eq!(i.team_id, h.linear.team("PLAT").unwrap().id);
    h.stop_service().await;
}

/// The routing world with a planned "UI" bug on the Bugs board and the
/// issue its route made (in APP).
async fn ui_bug_with_its_issue() -> (Harness, String, String) {
    let doc = format!("{ROUTES}{CATCH_ALL}");
    let (h, bugs) = world(&doc).await;
    let post = h
        .canny()
        .create_post_on(&bugs, "Export hangs", "big files", Some("UI"))
        .unwrap();
    h.canny().set_status(&post, "planned").unwrap();
    let issue = eventually("the issue", 20, async || h.linked_issue(&post)).await;
    (h, post, issue)
}

/// Wait until `issue` is in the team keyed `key`.
async fn issue_moves_to(h: &Harness, issue: &str, key: &str) {
    let team = h.linear.team(key).unwrap();
    eventually(&format!("the issue to move to {key}"), 20, async || {
        (h.linear.issue(issue)?.team_id == team.id).then_some(())
    })
    .await;
}

/// The operator decides conflict `id` for the portal side.
fn take_portal(h: &Harness, id: i64) {
    let (code, out) = rt(
        h,
        &["conflicts", "resolve", &id.to_string(), "--take", "portal"],
    );
    assert_eq!(code, 0, "{out}");
}

/// The route the post's link is recorded under.
fn route_of(h: &Harness, post: &str) -> String {
    let store = h.store();
    let link = store
        .db()
        .link_by_remote(Side::Portal, post)
        .unwrap()
        .unwrap();
    store.db().link_route(link.id).unwrap().unwrap().route
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_changes_product_area_moves_its_issue_or_asks_never_a_second_issue() {
    let (mut h, post, issue) = ui_bug_with_its_issue().await;
    let app = h.linear.team("APP").unwrap();
    let plat = h.linear.team("PLAT").unwrap();
    assert_eq!(h.linear.issue(&issue).unwrap().team_id, app.id);
    h.wait_settled(&post).await;
    // UI → API: "API bugs to Platform" moves issues it takes.
    h.canny().set_category(&post, Some("API")).unwrap();
    h.engine().reconcile_once().await.unwrap();
    issue_moves_to(&h, &issue, "PLAT").await;
    let i = h.linear.issue(&issue).unwrap();
    assert!(i.identifier.starts_with("PLAT-"), "{}", i.identifier);
    assert_eq!(
        i.assignee_id.as_deref(),
        Some(h.linear_user_id("ada@example.com").as_str())
    );
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issues().len(), 1, "moved, not copied");
    assert_eq!(h.linked_issue(&post).as_deref(), Some(issue.as_str()));
    let store = h.store();
    let link = store
        .db()
        .link_by_remote(Side::Portal, &post)
        .unwrap()
        .unwrap();
    assert_eq!(
        store.db().link_route(link.id).unwrap().unwrap().route,
        "API bugs to Platform"
    );
    let audit = store
        .db()
        .audit_for_link(link.id, roundtrip::store::Window::first(50))
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == roundtrip::domain::AuditAction::Reroute),
        "{audit:?}"
    );
    // API → UI: "other bugs" asks (its default policy): a conflict, no move.
    h.canny().set_category(&post, Some("UI")).unwrap();
    h.engine().reconcile_once().await.unwrap();
    let c = eventually("a re-route conflict", 20, async || {
        h.open_conflicts().into_iter().find(|c| c.field == "route")
    })
    .await;
    assert_eq!(
        c.portal,
        roundtrip::domain::FieldValue::Text("other bugs → APP".into())
    );
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(
        h.linear.issue(&issue).unwrap().team_id,
        plat.id,
        "asked, not moved"
    );
    assert_eq!(h.linear.issues().len(), 1);
    // The operator takes the portal's side: the issue moves to Apps.
    take_portal(&h, c.id);
    issue_moves_to(&h, &issue, "APP").await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issues().len(), 1, "still one issue");
    assert!(h.open_conflicts().is_empty(), "{:?}", h.open_conflicts());
    assert_eq!(route_of(&h, &post), "other bugs");
    h.stop_service().await;
}

/// Canny sends no webhook for a category change, and the new category can
/// reach the store by a read that does not act on the post — here the
/// refresh of the linked post when its issue is read. The post is then
/// unchanged for the next reconcile, yet its issue still moves (or asks):
/// the route is decided from the stored post whenever the link is synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_area_change_stored_by_a_partner_refresh_still_moves_the_issue_or_asks() {
    let (mut h, post, issue) = ui_bug_with_its_issue().await;
    let plat = h.linear.team("PLAT").unwrap();
    h.wait_settled(&post).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    // Store the post's new category through the partner refresh alone.
    let refresh_through_issue = async |h: &Harness, category: &str| {
        h.canny().set_category(&post, Some(category)).unwrap();
        let read = h.linear_record(&issue).await.unwrap();
        h.engine()
            .apply_record(Side::Linear, read, roundtrip::store::Lane::Live)
            .await
            .unwrap();
        // Stored already: the listing below finds the post unchanged.
        let stored = h.store().db().record(Side::Portal, &post).unwrap().unwrap();
        assert_eq!(stored.record.category.as_deref(), Some(category));
        h.engine().reconcile_once().await.unwrap();
    };
    refresh_through_issue(&h, "API").await;
    issue_moves_to(&h, &issue, "PLAT").await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issues().len(), 1, "moved, not copied");
    assert_eq!(route_of(&h, &post), "API bugs to Platform");
    refresh_through_issue(&h, "UI").await;
    let c = eventually("a re-route conflict", 10, async || {
        h.open_conflicts().into_iter().find(|c| c.field == "route")
    })
    .await;
    assert_eq!(
        c.portal,
        roundtrip::domain::FieldValue::Text("other bugs → APP".into())
    );
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issue(&issue).unwrap().team_id, plat.id, "asked");
    assert_eq!(h.linear.issues().len(), 1);
    h.stop_service().await;
}

/// An operator's decision has both records read again before it is
/// applied; that re-read can be what stores a post's new category. When
/// the decision is not applied (the chosen value changed since), nothing
/// is written — the link is still merged and routed again, so the issue
/// moves rather than waiting for an event that never comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_area_change_stored_by_a_decisions_re_read_still_moves_the_issue() {
    let (mut h, post, issue) = ui_bug_with_its_issue().await;
    h.wait_settled(&post).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    // A title conflict, both edits seen together by one reconcile.
    h.webhooks(false);
    h.linear.set_title(&issue, "Export hangs (Linear)").unwrap();
    h.canny().set_title(&post, "Export hangs (portal)").unwrap();
    h.engine().reconcile_once().await.unwrap();
    let c = eventually("a title conflict", 10, async || {
        h.open_conflicts().into_iter().find(|c| c.field == "title")
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    // Unseen by roundtrip: the post's title changes again, and its category.
    h.canny()
        .set_title(&post, "Export hangs on big files")
        .unwrap();
    h.canny().set_category(&post, Some("API")).unwrap();
    take_portal(&h, c.id);
    issue_moves_to(&h, &issue, "PLAT").await;
    let asks = h.open_conflicts();
    assert!(
        asks.iter().any(|c| c.field == "title"
            && c.portal == roundtrip::domain::FieldValue::Text("Export hangs on big files".into())),
        "the decision asks again with the current title: {asks:?}"
    );
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issues().len(), 1, "moved, not copied");
    h.stop_service().await;
}

const SHIPPING: &str = r#"
[[routes]]
name = "app bugs"
when = { board = "Bugs" }
approve = { status = ["planned"] }
linear = { team = "APP" }
close = { comment = "Shipped in {cycle}: {url}", changelog = { per = "cycle", publish = true, title = "Fixed in {cycle}", type = "fixed" } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_ships_one_changelog_entry_for_all_its_posts_even_when_the_answer_is_lost() {
    let (mut h, bugs) = world(SHIPPING).await;
    let now = chrono::Utc::now();
    let cycle = h
        .linear
        .create_cycle_for(
            "APP",
            "Cycle 12",
            now - chrono::Duration::days(3),
            now + chrono::Duration::days(3),
        )
        .unwrap();
    let mut posts = Vec::new();
    let mut issues = Vec::new();
    for title in ["Export hangs", "Search is slow"] {
        let p = h
            .canny()
            .create_post_on(&bugs, title, "details", None)
            .unwrap();
        h.canny().set_status(&p, "planned").unwrap();
        let i = eventually("the issue", 20, async || h.linked_issue(&p)).await;
        h.wait_settled(&p).await;
        h.linear.set_cycle(&i, Some(&cycle.id)).unwrap();
        posts.push(p);
        issues.push(i);
    }
    for i in &issues {
        h.linear.set_state(i, "Done").unwrap();
    }
    // Each post gets its comment once, and the portal status moves.
    for (p, i) in posts.iter().zip(&issues) {
        let url = h.linear_record(i).await.unwrap().url.unwrap();
        let want = format!("Shipped in Cycle 12: {url}");
        eventually("the ship comment", 20, async || {
            h.canny()
                .comments(p)
                .iter()
                .any(|c| c.value == want)
                .then_some(())
        })
        .await;
    }
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert!(
        h.canny().entries().is_empty(),
        "no entry before the cycle completes"
    );
    // Reopening and finishing again closes nothing twice.
    h.linear.set_state(&issues[0], "In Progress").unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    h.linear.set_state(&issues[0], "Done").unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    for p in &posts {
        let ships = h
            .canny()
            .comments(p)
            .into_iter()
            .filter(|c| c.value.starts_with("Shipped in Cycle 12"))
            .count();
        assert_eq!(ships, 1, "one ship comment on {p}");
    }
    assert_eq!(
        h.engine().check_changelogs().await.unwrap(),
        0,
        "the cycle still runs"
    );
    // The cycle completes; the entry's answer is lost on the first try.
    h.canny().lose_next_reply("entries/create");
    h.linear
        .set_cycle_end(&cycle.id, chrono::Utc::now() - chrono::Duration::seconds(1))
        .unwrap();
    h.linear.run_auto_archive();
    assert!(h.linear.cycle(&cycle.id).unwrap().completed_at.is_some());
    // The engine's own check (every second) may be the one that queues it.
    let queued = h.engine().check_changelogs().await.unwrap();
    assert!(queued <= 1, "{queued}");
    let open = h.store().db().open_changelog_groups(10).unwrap();
    assert!(open.is_empty(), "queued: {open:?}");
    assert_eq!(
        h.engine().check_changelogs().await.unwrap(),
        0,
        "queued once"
    );
    eventually("the entry to be recorded as published", 30, async || {
        let s = h.store();
        let g = s.db().changelog_groups(10).ok()?;
        g.first()?.entry_id.clone()
    })
    .await;
    let entries = h.canny().entries();
    assert_eq!(entries.len(), 1, "published once: {entries:?}");
    let e = &entries[0];
    assert_eq!(e.title, "Fixed in Cycle 12");
    assert_eq!(e.status, "published");
    assert_eq!(e.types, vec!["fixed".to_string()]);
    let mut linked = e.post_ids.clone();
    linked.sort();
    let mut want = posts.clone();
    want.sort();
    assert_eq!(linked, want, "one entry links every post shipped together");
    assert!(e.details.contains("Export hangs") && e.details.contains("Search is slow"));
    let g = h.store().db().changelog_groups(10).unwrap();
    assert_eq!(g[0].entry_id.as_deref(), Some(e.id.as_str()));
    // The retry found the entry its lost attempt made instead of making
    // another: one create, and a look before each attempt.
    assert_eq!(h.canny().requests_to("entries/create"), 1);
    assert!(h.canny().requests_to("entries/list") >= 2);
    h.stop_service().await;
}

#[test]
fn mapping_check_reports_route_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mapping.toml");
    let base = Mapping::default_canny_linear().to_toml();
    // The first route's `name` line.
    let first = base.lines().count() + 3;
    std::fs::write(
        &file,
        format!(
            "{base}\n[[routes]]\nname = \"all\"\nwhen = {{}}\napprove = {{ status = [\"planned\"] }}\n\n[[routes]]\nname = \"bugs\"\nwhen = {{ board = \"Bugs\" }}\napprove = {{ status = [\"planned\"] }}\nlinear = {{ assignee = \"ada\" }}\n"
        ),
    )
    .unwrap();
    use assert_cmd::prelude::*;
    let out = std::process::Command::cargo_bin("roundtrip")
        .unwrap()
        .args(["mapping", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    let bugs = first + 5;
    assert!(
        text.contains(&format!(
            ":{bugs}: route 'bugs' can never match: route 'all' (line {first}) above it takes every post"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            ":{}: route 'bugs': linear.assignee 'ada' is not an email",
            bugs + 3
        )),
        "{text}"
    );
}
