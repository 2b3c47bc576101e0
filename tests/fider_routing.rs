//! Routing on Fider end to end on loopback: a Fider site has no boards and
//! no categories, so its tags are the product area. Tagged posts go to the
//! team their route names (assignee, labels, project, priority), the rest
//! to a catch-all; an approve gate on Fider's statuses holds an open post
//! until it is planned; and retagging a post after its issue exists moves
//! the issue or opens a route conflict — never a second issue. Fider sends
//! no webhook for tag changes, so reconcile is what notices them. A post
//! waiting in Fider's moderation queue is never synced until approved.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup step should stop with its message

mod support {
    pub mod harness;
}

use std::time::Duration;

use roundtrip::domain::{AuditAction, FieldValue, PortalKind, Side};
use roundtrip::store::Window;
use roundtrip::sync::Mapping;
use support::harness::{Harness, Setup, eventually};

const ROUTES: &str = r#"
[[routes]]
name = "API and performance to Platform"
when = { tags = ["api", "performance"] }
approve = { status = ["planned", "started"] }
linear = { team = "PLAT", labels = ["Bug"], assignee = "ada@example.com", project = "Reliability", priority = 2 }
reroute = "move"

[[routes]]
name = "mobile to Apps"
when = { tags = "mobile" }
approve = { status = "planned" }
linear = { team = "APP", assignee = "grace@example.com" }

[[routes]]
name = "everything else"
when = {}
approve = { status = "planned" }
linear = { team = "ENG" }
"#;

/// A Fider harness with the routing teams and the routes applied before
/// the engine starts; with `moderation`, customers' posts wait for a
/// moderator.
async fn world(moderation: bool) -> Harness {
    let mut h = Harness::start(Setup {
        portal: PortalKind::Fider,
        start_service: false,
        fider_moderation: moderation,
        ..Setup::default()
    })
    .await;
    h.add_routing_teams();
    let doc = format!(
        "{}{ROUTES}",
        Mapping::default_for(PortalKind::Fider).to_toml()
    );
    h.apply_mapping_first(PortalKind::Fider, &doc);
    h.start_service().await;
    h
}

/// A customer's post, tagged by an admin (no webhook: reconcile sees it).
async fn tagged_post(h: &Harness, title: &str, tags: &[&str]) -> String {
    let post = h
        .fider()
        .create_post(title, "Details from a customer.")
        .unwrap();
    for t in tags {
        h.fider().add_tag(&post, t).unwrap();
    }
    h.engine().reconcile_once().await.unwrap();
    post
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fider_posts_go_where_their_tags_route_them_once_planned() {
    let mut h = world(false).await;
    let api = tagged_post(&h, "API times out after 30 s", &["api"]).await;
    let perf = tagged_post(&h, "Search is slow on big sites", &["Performance"]).await;
    let idea = tagged_post(&h, "Dark mode for the portal", &[]).await;
    // Open: every route's gate holds it back.
    h.wait_quiet(Duration::from_millis(300), 20).await;
    for p in [&api, &perf, &idea] {
        assert!(h.linked_issue(p).is_none(), "post {p} is still open");
    }
    assert!(h.linear.issues().is_empty());
    assert_eq!(h.store().db().unrouted_count().unwrap(), 0);
    for p in [&api, &perf, &idea] {
        h.fider().set_status(p, "planned").unwrap();
    }
    let plat = h.linear.team("PLAT").unwrap();
    let eng = h.linear.team("ENG").unwrap();
    let reliability = h.linear_project_id("Reliability");
    let ada = h.linear_user_id("ada@example.com");
    for p in [&api, &perf] {
        let i = h.issue_of(p).await;
        assert_eq!(i.team_id, plat.id, "post {p} goes to Platform");
        assert!(i.identifier.starts_with("PLAT-"), "{}", i.identifier);
        assert_eq!(i.assignee_id.as_deref(), Some(ada.as_str()));
        assert_eq!(i.project_id.as_deref(), Some(reliability.as_str()));
        assert_eq!(i.priority, 2);
        let rec = h.linear_record(&i.id).await.unwrap();
        assert!(rec.labels.contains("Bug"), "{:?}", rec.labels);
    }
    // The route's label comes back to the post as a (private) Fider tag.
    eventually("the route's label as a tag on the post", 10, async || {
        h.fider()
            .post(&api)?
            .tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case("bug"))
            .then_some(())
    })
    .await;
    let c = h.issue_of(&idea).await;
    assert_eq!(c.team_id, eng.id, "an untagged post falls through");
    assert_eq!(c.assignee_id, None);
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issues().len(), 3);
    // The timeline names the route and the tag that matched.
    let store = h.store();
    let link = store
        .db()
        .link_by_remote(Side::Portal, &perf)
        .unwrap()
        .unwrap();
    let audit = store
        .db()
        .audit_for_link(link.id, Window::first(50))
        .unwrap();
    assert!(
        audit.iter().any(|e| e.action == AuditAction::Route
            && e.reason.contains(
                "route 'API and performance to Platform' (tag performance); approved: status planned"
            )),
        "{audit:?}"
    );
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retagging_a_fider_post_moves_its_issue_or_asks_never_a_second_issue() {
    let mut h = world(false).await;
    let post = tagged_post(&h, "Export hangs on big files", &["mobile"]).await;
    h.fider().set_status(&post, "planned").unwrap();
    let issue = eventually("the issue", 20, async || h.linked_issue(&post)).await;
    let app = h.linear.team("APP").unwrap();
    let plat = h.linear.team("PLAT").unwrap();
    eventually("the issue in Apps", 10, async || {
        (h.linear.issue(&issue)?.team_id == app.id).then_some(())
    })
    .await;
    h.wait_settled(&post).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    // mobile → api, by tags alone (no webhook): the Platform route moves.
    h.fider().remove_tag(&post, "mobile").unwrap();
    h.fider().add_tag(&post, "api").unwrap();
    h.engine().reconcile_once().await.unwrap();
    eventually("the issue to move to Platform", 20, async || {
        (h.linear.issue(&issue)?.team_id == plat.id).then_some(())
    })
    .await;
    let i = h.linear.issue(&issue).unwrap();
    assert!(i.identifier.starts_with("PLAT-"), "{}", i.identifier);
    assert_eq!(
        i.assignee_id.as_deref(),
        Some(h.linear_user_id("ada@example.com").as_str())
    );
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issues().len(), 1, "moved, not copied");
    assert_eq!(h.linked_issue(&post).as_deref(), Some(issue.as_str()));
    let link = h
        .store()
        .db()
        .link_by_remote(Side::Portal, &post)
        .unwrap()
        .unwrap();
    assert_eq!(
        h.store().db().link_route(link.id).unwrap().unwrap().route,
        "API and performance to Platform"
    );
    let audit = h
        .store()
        .db()
        .audit_for_link(link.id, Window::first(50))
        .unwrap();
    assert!(
        audit.iter().any(|e| e.action == AuditAction::Reroute),
        "{audit:?}"
    );
    // api → mobile: the Apps route asks (the default): a conflict, no move.
    h.fider().remove_tag(&post, "api").unwrap();
    h.fider().add_tag(&post, "mobile").unwrap();
    h.engine().reconcile_once().await.unwrap();
    let c = eventually("a re-route conflict", 20, async || {
        h.open_conflicts().into_iter().find(|c| c.field == "route")
    })
    .await;
    assert_eq!(c.portal, FieldValue::Text("mobile to Apps → APP".into()));
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(
        h.linear.issue(&issue).unwrap().team_id,
        plat.id,
        "asked, not moved"
    );
    assert_eq!(h.linear.issues().len(), 1, "still one issue");
    // The store and `mapping check` know the portal is Fider: a route on a
    // board or category is refused at its line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mapping.toml");
    let base = Mapping::default_for(PortalKind::Fider).to_toml();
    std::fs::write(&file, format!("{base}{BOARD_ROUTE}")).unwrap();
    let (code, text) = rt(&["mapping", "check", file.to_str().unwrap(), "--db"], &h);
    assert_eq!(code, 2, "{text}");
    let when = base.lines().count() + 4;
    assert!(
        text.contains(&format!(
            ":{when}: route 'bugs': when.board: Fider has no boards; match its tags instead"
        )),
        "{text}"
    );
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fider_post_in_moderation_is_never_synced_until_approved() {
    let mut h = world(true).await;
    let post = tagged_post(&h, "Leaked token in the API logs", &["api"]).await;
    assert!(h.fider().is_awaiting_approval(&post));
    // Approved by its route's gate, announced by webhook and read by
    // number (staff see posts in moderation): it still stays out.
    h.fider().set_status(&post, "planned").unwrap();
    h.engine().reconcile_once().await.unwrap();
    let read = h.portal_record(&post).await.unwrap();
    assert!(read.held, "the connector sees the post held back");
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert!(h.linked_issue(&post).is_none());
    assert!(h.linear.issues().is_empty());
    assert_eq!(h.store().db().unrouted_count().unwrap(), 0);
    // The moderator approves it (no webhook): reconcile finds it, and it
    // goes where its tag routes it.
    h.fider().approve_post(&post).unwrap();
    h.engine().reconcile_once().await.unwrap();
    let issue = eventually("the approved post's issue", 20, async || {
        h.linked_issue(&post)
    })
    .await;
    let plat = h.linear.team("PLAT").unwrap();
    eventually("the issue in Platform", 10, async || {
        (h.linear.issue(&issue)?.team_id == plat.id).then_some(())
    })
    .await;
    h.stop_service().await;
}

const BOARD_ROUTE: &str = r#"
[[routes]]
name = "bugs"
when = { board = "Bugs" }
approve = { status = ["planned"] }
linear = { team = "PLAT" }
"#;

/// Run the binary with `args` followed by the harness's store path.
fn rt(args: &[&str], h: &Harness) -> (i32, String) {
    use assert_cmd::prelude::*;
    let out = std::process::Command::cargo_bin("roundtrip")
        .unwrap()
        .env_remove("ROUNDTRIP_DB")
        .args(args)
        .arg(h.db_arg())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn mapping_check_refuses_boards_categories_and_changelogs_for_fider_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundtrip.toml");
    std::fs::write(
        &config,
        "[store]\npath = \"rt.db\"\n[linear]\nteam = \"ENG\"\n[portal]\nkind = \"fider\"\napi_url = \"https://feedback.example.com\"\n",
    )
    .unwrap();
    let file = dir.path().join("mapping.toml");
    let base = Mapping::default_for(PortalKind::Fider).to_toml();
    let first = base.lines().count() + 3;
    std::fs::write(
        &file,
        format!(
            "{base}\n[[routes]]\nname = \"api\"\nwhen = {{ category = [\"API\"] }}\napprove = {{ status = [\"planned\"] }}\nclose = {{ changelog = {{ per = \"cycle\" }} }}\n\n[[routes]]\nname = \"by tag\"\nwhen = {{ tags = \"api\" }}\napprove = {{ status = [\"started\"] }}\n"
        ),
    )
    .unwrap();
    use assert_cmd::prelude::*;
    let run = |extra: &[&std::path::Path]| {
        let out = std::process::Command::cargo_bin("roundtrip")
            .unwrap()
            .env_remove("ROUNDTRIP_DB")
            .args(["mapping", "check"])
            .args(extra)
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, text) = run(&[std::path::Path::new("-c"), &config]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(&format!(
            ":{}: route 'api': when.category: Fider has no categories; match its tags instead",
            first + 1
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            ":{}: route 'api': close.changelog: Fider has no changelog",
            first + 3
        )),
        "{text}"
    );
    assert!(!text.contains("'by tag'"), "the tag route is fine: {text}");
    // Fider's statuses are checked as Fider's: `started` is one.
    assert!(!text.contains("is not a portal status"), "{text}");
    // Without the config (and no store) the check is Canny's, where
    // categories exist but `started` is not a status.
    let (code, text) = run(&[std::path::Path::new("--db"), &dir.path().join("none.db")]);
    assert_eq!(code, Some(2), "{text}");
    assert!(!text.contains("Fider has no"), "{text}");
    assert!(text.contains("'started' is not a portal status"), "{text}");
}

/// `mapping apply --config` on a store no engine has started on yet judges
/// the document against the configured portal (Fider statuses accepted) and
/// records that portal; a store that syncs another portal is refused.
#[test]
fn mapping_apply_with_a_fider_config_before_the_first_start_takes_fider_statuses() {
    use assert_cmd::prelude::*;
    use roundtrip::store::{OpenMode, Store};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    drop(Store::open(&db, OpenMode::Create).unwrap());
    let config_for = |db: &std::path::Path| {
        let config = db.with_extension("toml");
        std::fs::write(
            &config,
            format!(
                "[store]\npath = \"{}\"\n[linear]\nteam = \"ENG\"\n[portal]\nkind = \"fider\"\napi_url = \"https://feedback.example.com\"\n",
                db.display()
            ),
        )
        .unwrap();
        config
    };
    let file = dir.path().join("mapping.toml");
    std::fs::write(&file, Mapping::default_for(PortalKind::Fider).to_toml()).unwrap();
    let apply = |db: &std::path::Path| {
        let out = std::process::Command::cargo_bin("roundtrip")
            .unwrap()
            .env_remove("ROUNDTRIP_DB")
            .args(["mapping", "apply", "-c"])
            .arg(config_for(db))
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, text) = apply(&db);
    assert_eq!(code, Some(0), "{text}");
    let store = Store::open(&db, OpenMode::ReadOnly).unwrap();
    assert_eq!(store.db().portal_kind().unwrap(), PortalKind::Fider);
    assert!(store.db().active_mapping().unwrap().is_some());
    // A store that already syncs Canny keeps it and is not given a Fider mapping.
    let canny = dir.path().join("canny.db");
    {
        let mut s = Store::open(&canny, OpenMode::Create).unwrap();
        s.write(|db| db.claim_portal_kind(PortalKind::Canny))
            .unwrap();
    }
    let (code, text) = apply(&canny);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("syncs Canny but the config names Fider; not applied"),
        "{text}"
    );
    let s = Store::open(&canny, OpenMode::ReadOnly).unwrap();
    assert!(s.db().active_mapping().unwrap().is_none());
}
