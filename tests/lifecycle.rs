//! Right on a real workspace's lifecycle (issue LIFECYCLE), end to end over
//! loopback against both simulators: Linear's auto-archive is not a delete,
//! nothing roundtrip writes for itself is public, links follow merges and
//! duplicates, existing links are adopted, posts in custom statuses are
//! synced, and an API whose answers change shape raises an alert. What holds
//! for any portal runs once against Canny and once against Fider; what only
//! one of them does has a test of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop with its message

mod support {
    pub mod harness;
}

use std::time::Duration;

use roundtrip::domain::{AuditAction, Side};
use roundtrip::store::{LinkState, Window};
use roundtrip::sync::DeletePolicy;
use support::harness::{Harness, PortalKind, Setup, Stage, eventually};

crate::portal_tests!(
    auto_archived_issue_is_finished_not_deleted,
    without_admin_only_comments_the_notice_stays_in_the_audit_log,
    retried_portal_create_cannot_duplicate,
    duplicate_issue_hands_its_link_to_the_canonical_one,
    duplicate_of_a_linked_issue_closes_its_post,
    shape_drift_fails_loudly_and_alerts_until_a_pass_succeeds,
    mirrored_comments_carry_no_public_reference,
);

fn setup(portal: PortalKind) -> Setup {
    Setup {
        portal,
        ..Setup::default()
    }
}

/// A planned post linked to its new Linear issue; returns (post, issue).
async fn linked_pair(h: &Harness, title: &str) -> (String, String) {
    h.linked_pair(title).await
}

fn link_state(h: &Harness, side: Side, id: &str) -> Option<LinkState> {
    h.store()
        .db()
        .link_by_remote(side, id)
        .unwrap()
        .map(|l| l.state)
}

fn public_comments(h: &Harness, post: &str) -> Vec<String> {
    h.portal
        .comments(post)
        .into_iter()
        .filter(|c| !c.internal)
        .map(|c| c.body)
        .collect()
}

fn internal_comments(h: &Harness, post: &str) -> Vec<String> {
    h.portal
        .comments(post)
        .into_iter()
        .filter(|c| c.internal)
        .map(|c| c.body)
        .collect()
}

/// Notes roundtrip left for the team about a post: admin-only comments on
/// Canny; on Fider, which has no such place, the audit log's note entries
/// (nothing is ever posted publicly instead).
fn notes(h: &Harness, post: &str) -> Vec<String> {
    match h.portal.kind() {
        PortalKind::Canny => internal_comments(h, post),
        PortalKind::Fider => {
            let store = h.store();
            let link = store
                .db()
                .link_by_remote(Side::Portal, post)
                .unwrap()
                .map(|l| l.id);
            store
                .db()
                .audit(Window::last(500))
                .unwrap()
                .into_iter()
                .filter(|a| a.action == AuditAction::Note && a.side == Some(Side::Portal))
                .filter(|a| link.is_some() && a.link_id == link)
                .filter_map(|a| a.after)
                .collect()
        }
    }
}

/// Linear archives a Done issue by itself after the team's period: under the
/// harshest delete policy (mirror) the post survives, nothing is written to
/// it, the link stays, and a later edit still syncs. Only the trash deletes.
async fn auto_archived_issue_is_finished_not_deleted(kind: PortalKind) {
    let mut h = Harness::start(Setup {
        delete_policy: DeletePolicy::Mirror,
        linear_auto_archive: Duration::from_millis(600),
        ..setup(kind)
    })
    .await;
    let (post, issue) = linked_pair(&h, "Dark mode please").await;
    h.linear.set_state(&issue, "Done").unwrap();
    eventually("portal to show done", 20, async || {
        (h.portal.post(&post)?.stage == Some(Stage::Done)).then_some(())
    })
    .await;
    let comments_before = h.portal.comments(&post).len();
    eventually("Linear to auto-archive the issue", 20, async || {
        h.linear.issue(&issue)?.archived_at.map(|_| ())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert!(h.portal.post(&post).is_some(), "the post was not deleted");
    assert_eq!(
        h.portal.comments(&post).len(),
        comments_before,
        "nothing written to the post"
    );
    assert_eq!(link_state(&h, Side::Portal, &post), Some(LinkState::Active));
    let rec = h.linear_record(&issue).await.unwrap();
    assert!(rec.archived && !rec.deleted, "{rec:?}");

    // An edit of the archived issue still syncs, and so does a restore.
    h.linear.set_title(&issue, "Dark mode (shipped)").unwrap();
    eventually(
        "edit of the archived issue to reach the post",
        20,
        async || (h.portal.post(&post)?.title == "Dark mode (shipped)").then_some(()),
    )
    .await;
    h.linear.unarchive(&issue).unwrap();
    h.linear.set_state(&issue, "In Progress").unwrap();
    eventually("post to follow the restored issue", 20, async || {
        (h.portal.post(&post)?.stage == Some(Stage::Started)).then_some(())
    })
    .await;

    // The trash is a delete: under mirror the post goes too.
    h.linear.delete(&issue).unwrap();
    eventually("trashed issue to delete the post", 20, async || {
        h.portal.post(&post).is_none().then_some(())
    })
    .await;
    h.stop_service().await;
}

/// Reconcile lists with `includeArchived`, so an archived issue is never
/// "absent"; a default listing hides it (as Linear does), and only an issue
/// deleted for good reads as gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_issues_are_listed_and_read_hard_deleted_ones_are_gone() {
    use roundtrip::connector::Connector;
    let h = Harness::start(Setup {
        start_service: false,
        ..Setup::default()
    })
    .await;
    let kept = h.linear.create_issue("Shipped", None, "Done").unwrap();
    h.linear.archive(&kept.id).unwrap();
    let gone = h.linear.create_issue("Spam", None, "Backlog").unwrap();
    h.linear.delete_permanently(&gone.id).unwrap();
    let page = h.linear_conn.list_changed(None, None).await.unwrap();
    let listed: Vec<_> = page
        .records
        .iter()
        .filter(|r| r.remote_id == kept.id)
        .collect();
    assert_eq!(
        listed.len(),
        1,
        "archived issues are in reconcile's listing"
    );
    assert!(listed[0].archived && !listed[0].deleted);
    let default_listing = reqwest::Client::new()
        .post(h.linear.graphql_url())
        .header("Authorization", h.linear.api_key())
        .json(&serde_json::json!({"query": "{ issues { nodes { id } } }"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(
        !default_listing.to_string().contains(&kept.id),
        "Linear leaves archived issues out unless includeArchived: {default_listing}"
    );
    assert!(h.linear_conn.get(&kept.id).await.unwrap().is_some());
    assert_eq!(h.linear_conn.get(&gone.id).await.unwrap(), None);
}

/// A trashed linked issue under the default policy (unlink) leaves a note on
/// the post that only admins see — never a public comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_notice_is_admin_only() {
    let mut h = Harness::start(Setup::default()).await;
    let (post, issue) = linked_pair(&h, "Export to CSV").await;
    let public_before = public_comments(&h, &post);
    h.linear.delete(&issue).unwrap();
    eventually("an internal note on the post", 20, async || {
        internal_comments(&h, &post)
            .iter()
            .any(|c| c.contains("was deleted"))
            .then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(public_comments(&h, &post), public_before, "nothing public");
    assert_eq!(
        link_state(&h, Side::Portal, &post),
        Some(LinkState::Unlinked)
    );
    h.stop_service().await;
}

/// Where the portal has no admin-only comments (a Canny plan without
/// internal comments; Fider has none at all) the notice is not posted: it
/// stays in roundtrip's audit log.
async fn without_admin_only_comments_the_notice_stays_in_the_audit_log(kind: PortalKind) {
    let mut h = Harness::start(Setup {
        canny_internal_comments: false,
        ..setup(kind)
    })
    .await;
    let (post, issue) = linked_pair(&h, "Slack alerts").await;
    let before = h.portal.comments(&post).len();
    h.linear.delete(&issue).unwrap();
    let note = eventually("the note in the audit log", 20, async || {
        let audit = h.store().db().audit(Window::last(200)).ok()?;
        audit.into_iter().find(|a| a.action == AuditAction::Note)
    })
    .await;
    assert!(note.after.unwrap().contains("not posted"));
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(
        h.portal.comments(&post).len(),
        before,
        "no comment of any kind"
    );
    h.stop_service().await;
}

/// A portal-side create whose answer is lost after the portal made the post
/// is retried without a second post, and nothing of roundtrip's reaches the
/// post's public text.
async fn retried_portal_create_cannot_duplicate(kind: PortalKind) {
    let mut h = Harness::start(Setup {
        create_in_portal_label: Some("Feature".into()),
        ..setup(kind)
    })
    .await;
    h.portal.lose_next_create();
    let issue = h
        .linear
        .create_issue("Offline mode", Some("Works on a plane."), "Todo")
        .unwrap();
    h.linear.set_labels(&issue.id, &["Feature"]).unwrap();
    let post = eventually("the portal post to be linked", 30, async || {
        let l = h
            .store()
            .db()
            .link_by_remote(Side::Linear, &issue.id)
            .ok()??;
        (l.state == LinkState::Active).then_some(l.portal_id?)
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    let posts: Vec<_> = h
        .portal
        .posts()
        .into_iter()
        .filter(|p| p.title == "Offline mode")
        .collect();
    assert_eq!(
        posts.len(),
        1,
        "one post despite the lost answer: {posts:?}"
    );
    assert_eq!(posts[0].id, post);
    assert!(
        posts[0].details.contains("Works on a plane.") && !posts[0].details.contains("roundtrip"),
        "public details carry no marker: {:?}",
        posts[0].details
    );
    assert!(public_comments(&h, &post).is_empty());
    if kind == PortalKind::Canny {
        assert!(
            internal_comments(&h, &post)
                .iter()
                .any(|c| c.contains("roundtrip-ref")),
            "the claim is an internal comment"
        );
    }
    h.stop_service().await;
}

/// Linear marks the linked issue a duplicate of an unlinked one: the link
/// moves to the canonical issue (no new issue or post), the post follows its
/// state and gets one note for the team.
async fn duplicate_issue_hands_its_link_to_the_canonical_one(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, dup) = linked_pair(&h, "Keyboard shortcuts").await;
    let canonical = h
        .linear
        .create_issue("Shortcuts everywhere", None, "In Progress")
        .unwrap();
    let issues_before = h.linear.issues().len();
    let posts_before = h.portal.posts().len();
    h.linear.mark_duplicate(&dup, &canonical.id).unwrap();
    eventually("the link to follow the canonical issue", 20, async || {
        (h.linked_issue(&post)? == canonical.id).then_some(())
    })
    .await;
    eventually(
        "the post to follow the canonical issue's state",
        20,
        async || (h.portal.post(&post)?.stage == Some(Stage::Started)).then_some(()),
    )
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(h.linear.issues().len(), issues_before, "no new issue");
    assert_eq!(h.portal.posts().len(), posts_before, "no new post");
    assert_eq!(
        link_state(&h, Side::Linear, &dup),
        None,
        "the duplicate is unlinked"
    );
    let notes = notes(&h, &post);
    assert_eq!(notes.len(), 1, "one note for the team: {notes:?}");
    assert!(notes[0].contains("duplicate"), "{notes:?}");
    assert!(public_comments(&h, &post).is_empty());
    h.stop_service().await;
}

/// When the canonical issue already tracks another post, the duplicate's
/// post is closed as a duplicate — Canny: the mapping's status for Linear's
/// Duplicate state; Fider: marked a duplicate of that other post, which
/// takes its voters — with one note; no record is linked twice.
async fn duplicate_of_a_linked_issue_closes_its_post(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post_a, dup) = linked_pair(&h, "SSO with Okta").await;
    let (post_b, canonical) = linked_pair(&h, "Okta single sign-on").await;
    h.portal.add_vote(&post_a);
    h.linear.mark_duplicate(&dup, &canonical).unwrap();
    let closed = match kind {
        PortalKind::Canny => "closed",
        PortalKind::Fider => "duplicate",
    };
    eventually("the duplicate's post to close", 20, async || {
        (h.portal.post(&post_a)?.status == closed).then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(
        link_state(&h, Side::Portal, &post_a),
        Some(LinkState::Unlinked)
    );
    assert_eq!(h.linked_issue(&post_b).as_deref(), Some(canonical.as_str()));
    assert_eq!(notes(&h, &post_a).len(), 1);
    assert_eq!(
        h.portal.post(&post_b).unwrap().stage,
        Some(Stage::Planned),
        "the other post's status is untouched"
    );
    if kind == PortalKind::Fider {
        assert_eq!(
            h.fider().post(&post_a).unwrap().original,
            Some(post_b.parse().unwrap())
        );
        assert_eq!(
            h.fider().post(&post_b).unwrap().votes,
            2,
            "the author of both and the voter: one vote per person"
        );
    }
    h.stop_service().await;
}

/// A Canny admin merges a linked post into an unlinked one: Canny moves the
/// votes and sends no webhook; reconcile sees the merge (the survivor's
/// `mergeHistory`), and the link moves to the survivor instead of the merged
/// post being treated as deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_post_hands_its_link_to_the_survivor() {
    let mut h = Harness::start(Setup {
        delete_policy: DeletePolicy::Mirror,
        ..Setup::default()
    })
    .await;
    let (merged, issue) = linked_pair(&h, "CSV export").await;
    h.canny().add_vote(&merged).unwrap();
    h.canny().add_vote(&merged).unwrap();
    let survivor = h
        .canny()
        .create_post("Export data", "As a spreadsheet")
        .unwrap();
    h.canny().add_vote(&survivor).unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    let issues_before = h.linear.issues().len();
    h.canny().merge_posts(&merged, &survivor).unwrap();
    let report = h.engine().reconcile_once().await.unwrap();
    assert_eq!(
        report.deleted, 1,
        "the merged post vanished from the listing"
    );
    eventually("the link to follow the survivor", 20, async || {
        (h.linked_issue(&survivor)? == issue).then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert!(
        !h.linear_record(&issue).await.unwrap().deleted,
        "mirror did not delete the issue"
    );
    assert_eq!(h.linear.issues().len(), issues_before, "no new issue");
    // Two voters on the merged post, one of them also on the survivor: one
    // vote per person after the merge.
    assert_eq!(
        h.canny().post(&survivor).unwrap().score,
        2,
        "the merged post's votes count"
    );
    assert_eq!(internal_comments(&h, &survivor).len(), 1);
    assert!(public_comments(&h, &survivor).is_empty());
    h.stop_service().await;
}

/// Existing links are adopted on the engine's first start: a post Canny's
/// own Linear integration linked and a post whose URL an issue carries as an
/// attachment are linked to those issues; no issue is created for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_links_are_adopted_on_first_start() {
    let mut h = Harness::start(Setup {
        start_service: false,
        ..Setup::default()
    })
    .await;
    let native = h
        .linear
        .create_issue("Dark mode", None, "In Progress")
        .unwrap();
    let attached = h.linear.create_issue("CSV export", None, "Todo").unwrap();
    let p1 = h.canny().create_post("Dark mode please", "x").unwrap();
    h.canny().set_status(&p1, "planned").unwrap();
    h.canny().link_linear(&p1, &native.identifier).unwrap();
    let p2 = h.canny().create_post("Export to CSV", "y").unwrap();
    h.canny().set_status(&p2, "planned").unwrap();
    let url = h.canny().post(&p2).unwrap().url;
    h.linear
        .attach_url(&attached.id, &url, "Canny post")
        .unwrap();
    h.start_service().await;
    eventually("both pairs to be linked", 20, async || {
        (h.linked_issue(&p1)? == native.id && h.linked_issue(&p2)? == attached.id).then_some(())
    })
    .await;
    eventually(
        "the adopted post to follow Linear's state",
        20,
        async || (h.canny().post(&p1)?.status == "in progress").then_some(()),
    )
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(h.linear.issues().len(), 2, "nothing was re-created");
    let audit = h.store().db().audit(Window::last(500)).unwrap();
    // The engine adopted them on its own: its name is on the entries.
    let adopted = |a: &&roundtrip::store::AuditEntry| {
        a.action == AuditAction::Adopt && a.actor == roundtrip::domain::Actor::Engine
    };
    assert_eq!(audit.iter().filter(adopted).count(), 2);
    h.stop_service().await;
}

// ------------------------------------------------------- custom statuses

/// Posts in a custom status are listed (the status is learned from Canny's
/// status changes, not only the six built-in ones), shown as a mapping gap
/// while the mapping has no row for it, and synced once it has one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_in_custom_statuses_are_listed_and_mappable() {
    let mut statuses: Vec<String> = roundtrip::sim::canny::BUILTIN_STATUSES
        .map(String::from)
        .to_vec();
    statuses.push("beta".into());
    let mut h = Harness::start(Setup {
        canny_statuses: Some(statuses),
        ..Setup::default()
    })
    .await;
    let (post, issue) = linked_pair(&h, "Offline sync").await;
    h.canny().set_webhook_url(None);
    h.canny().set_status(&post, "beta").unwrap();
    h.engine().reconcile_once().await.unwrap();
    let stored = h.store().db().record(Side::Portal, &post).unwrap().unwrap();
    assert_eq!(stored.record.status, "beta", "reconcile listed the post");
    let gap = eventually("a mapping gap for 'beta'", 20, async || {
        let events = h
            .store()
            .db()
            .events(roundtrip::store::Level::Warn, Window::last(100))
            .ok()?;
        events.into_iter().find(|e| e.message.contains("beta"))
    })
    .await;
    assert!(gap.message.contains("not fully synced"), "{}", gap.message);

    let doc = roundtrip::sync::Mapping::default_canny_linear()
        .to_toml()
        .replace("version = 1", "version = 2")
        .replace(
            "\"closed\" = \"Canceled\"\n",
            "\"closed\" = \"Canceled\"\n\"beta\" = \"In Review\"\n",
        );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc).unwrap();
    let out = assert_cmd::Command::cargo_bin("roundtrip")
        .unwrap()
        .args(["mapping", "apply"])
        .arg(file.path())
        .arg("--db")
        .arg(h.db_arg())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A fresh edit each round: an edit merged before the engine loaded the
    // new mapping would otherwise leave nothing to merge again.
    let mut round = 0;
    eventually("the new mapping to be loaded", 20, async || {
        round += 1;
        h.canny()
            .set_details(&post, &format!("Details, edited {round}"))
            .ok()?;
        h.engine().reconcile_once().await.ok()?;
        (h.linear.issue(&issue)?.state_id == "5eed0000-0000-4000-8000-000000000204").then_some(())
    })
    .await;
    h.stop_service().await;
}

// ---------------------------------------------------------- the admin

fn canny_config(sim: &roundtrip::sim::canny::CannySim) -> roundtrip::connector::canny::CannyConfig {
    roundtrip::connector::canny::CannyConfig::new(sim.base_url(), sim.api_key(), "Feature Requests")
}

/// The admin lookup pages through users only until the first admin, a
/// configured email costs one lookup, and a company without an admin is a
/// configuration error naming the setting.
#[tokio::test]
async fn admin_lookup_stops_at_the_first_admin() {
    use roundtrip::connector::canny::CannyConnector;
    use roundtrip::sim::canny::{CannySim, CannySimConfig};
    let sim = CannySim::start(CannySimConfig {
        users_before_admin: 250,
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let c = CannyConnector::new(canny_config(&sim)).unwrap();
    assert_eq!(c.admin_id().await.unwrap(), sim.admin_id());
    assert_eq!(
        sim.requests_to("v2/users/list"),
        3,
        "pages 1-3 of 100; stopped there"
    );
    assert_eq!(sim.requests_to("users/list"), 0);

    let mut cfg = canny_config(&sim);
    cfg.admin_email = Some("ada@sim.example".into());
    let by_email = CannyConnector::new(cfg).unwrap();
    assert_eq!(by_email.admin_id().await.unwrap(), sim.admin_id());
    assert_eq!(
        sim.requests_to("v2/users/list"),
        3,
        "no listing for a configured email"
    );

    let mut cfg = canny_config(&sim);
    cfg.admin_email = Some("early1@customer.example".into());
    let not_admin = CannyConnector::new(cfg)
        .unwrap()
        .admin_id()
        .await
        .unwrap_err();
    assert!(
        not_admin.message.contains("not an admin"),
        "{}",
        not_admin.message
    );
    assert!(
        not_admin.message.contains("[portal] admin_email"),
        "{}",
        not_admin.message
    );

    let lonely = CannySim::start(CannySimConfig {
        admin: false,
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let e = CannyConnector::new(canny_config(&lonely))
        .unwrap()
        .resolve()
        .await
        .unwrap_err();
    assert_eq!(e.class, roundtrip::domain::ErrorClass::Validation);
    assert!(e.message.contains("no admin user"), "{}", e.message);
    assert!(e.message.contains("admin_email"), "{}", e.message);
}

// ---------------------------------------------------------- batches

/// A batched mutation with one failing alias is answered as the GraphQL
/// specification says (`data: null`); the connector gives the bad item its
/// error, counts the ones before it as applied, re-sends only the ones after
/// it — nothing twice, nothing dead-lettered.
#[tokio::test]
async fn batched_writes_recover_from_one_failing_alias() {
    use roundtrip::connector::linear::{LinearConfig, LinearConnector};
    use roundtrip::domain::{ErrorClass, FieldValue, NewRecord};
    use roundtrip::sim::linear::{LinearSim, LinearSimConfig};
    use std::collections::BTreeMap;
    let sim = LinearSim::start(LinearSimConfig::default()).await.unwrap();
    let mut cfg = LinearConfig::new(sim.api_key(), "ENG", "s");
    cfg.api_url = sim.graphql_url();
    let conn = LinearConnector::new(cfg).unwrap();
    let a = sim.create_issue("a", None, "Backlog").unwrap();
    let c = sim.create_issue("c", None, "Backlog").unwrap();
    let title = |t: &str| {
        let mut f = BTreeMap::new();
        f.insert("title".to_string(), FieldValue::Text(t.into()));
        roundtrip::domain::Update {
            fields: f,
            ..roundtrip::domain::Update::default()
        }
    };
    conn.catalog().await.unwrap();
    let before = sim.counters().requests;
    let results = conn
        .update_issues(&[
            (a.id.clone(), title("a2")),
            ("00000000-0000-4000-8000-00000000dead".into(), title("x")),
            (c.id.clone(), title("c2")),
        ])
        .await
        .unwrap();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(results[1].as_ref().unwrap_err().class, ErrorClass::NotFound);
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_eq!(
        sim.counters().requests - before,
        2,
        "the batch, then the unanswered item alone"
    );
    assert_eq!(sim.issue(&a.id).unwrap().title, "a2");
    assert_eq!(sim.issue(&c.id).unwrap().title, "c2");

    let new = |t: &str| NewRecord {
        client_id: uuid::Uuid::new_v4(),
        fields: title(t).fields,
        source_url: None,
        source_title: None,
        created_id: None,
        placement: None,
    };
    let batch = [new("first"), new(""), new("third")];
    let issues_before = sim.issues().len();
    let created = conn.create_issues(&batch).await.unwrap();
    assert_eq!(
        created[0].as_ref().unwrap().title,
        "first",
        "ran; fetched by its client id"
    );
    assert_eq!(
        created[1].as_ref().unwrap_err().class,
        ErrorClass::Validation
    );
    assert_eq!(created[2].as_ref().unwrap().title, "third");
    assert_eq!(
        sim.issues().len(),
        issues_before + 2,
        "no duplicate, nothing lost"
    );
    sim.shutdown().await;
}

// ------------------------------------------------------- shape drift

async fn get_text(url: String) -> (u16, String) {
    let r = reqwest::Client::new().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Answers in a changed shape fail the reconcile pass with the `schema`
/// class and raise "API response shape changed" with the first example in
/// status, /healthz and /metrics until a pass succeeds.
async fn shape_drift_fails_loudly_and_alerts_until_a_pass_succeeds(kind: PortalKind) {
    use roundtrip::domain::ErrorClass;
    use roundtrip::sim::faults::ApiFaults;
    let mut h = Harness::start(setup(kind)).await;
    let (_post, _issue) = linked_pair(&h, "Drifting answers").await;
    h.linear.set_faults(ApiFaults {
        drift: 1.0,
        ..ApiFaults::default()
    });
    let err = h.engine().reconcile_once().await.unwrap_err();
    let roundtrip::engine::EngineError::Remote(e) = err else {
        panic!("expected a remote error, got {err:?}");
    };
    assert_eq!(e.class, ErrorClass::Schema, "{e}");
    assert!(
        e.message.starts_with("API response shape changed: Linear"),
        "{}",
        e.message
    );
    let summary = h.store().db().summary().unwrap();
    let example = summary
        .linear_shape_changed
        .clone()
        .expect("the alert is raised");
    let health = roundtrip::health::assess(&summary, roundtrip::store::now_ms());
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.starts_with("API response shape changed (Linear)"))
    );
    let addr = h.service.as_ref().unwrap().addr;
    let (_, healthz) = get_text(format!("http://{addr}/healthz")).await;
    assert!(healthz.contains("API response shape changed"), "{healthz}");
    let (_, metrics) = get_text(format!("http://{addr}/metrics")).await;
    assert!(
        metrics.contains("roundtrip_api_shape_changed{connector=\"linear\"} 1"),
        "{metrics}"
    );
    let status = assert_cmd::Command::cargo_bin("roundtrip")
        .unwrap()
        .args(["status", "--db"])
        .arg(h.db_arg())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("API response shape changed"), "{text}");
    assert_eq!(status.status.code(), Some(1), "degraded");

    // A second bad answer keeps the first example; a good pass clears it.
    let _ = h.engine().reconcile_once().await;
    assert_eq!(
        h.store()
            .db()
            .summary()
            .unwrap()
            .linear_shape_changed
            .as_deref(),
        Some(example.as_str())
    );
    h.linear.set_faults(ApiFaults::default());
    h.engine().reconcile_once().await.unwrap();
    assert_eq!(h.store().db().summary().unwrap().linear_shape_changed, None);
    let (_, metrics) = get_text(format!("http://{addr}/metrics")).await;
    assert!(metrics.contains("roundtrip_api_shape_changed{connector=\"linear\"} 0"));
    h.stop_service().await;
}

/// Every kind of drift the simulators inject — a missing or null field, an
/// unknown enum value, a field of another type, an HTML page, a truncated
/// body — is a `schema` error from the connectors: never a panic, never a
/// silently empty or wrong answer.
#[tokio::test]
async fn every_drifted_answer_is_a_schema_error() {
    use roundtrip::connector::Connector;
    use roundtrip::connector::canny::CannyConnector;
    use roundtrip::connector::linear::{LinearConfig, LinearConnector};
    use roundtrip::domain::ErrorClass;
    use roundtrip::sim::canny::{CannySim, CannySimConfig};
    use roundtrip::sim::faults::ApiFaults;
    use roundtrip::sim::linear::{LinearSim, LinearSimConfig};
    let linear = LinearSim::start(LinearSimConfig::default()).await.unwrap();
    for n in 0..3 {
        linear
            .create_issue(&format!("issue {n}"), None, "Todo")
            .unwrap();
    }
    let mut cfg = LinearConfig::new(linear.api_key(), "ENG", "s");
    cfg.api_url = linear.graphql_url();
    let lc = LinearConnector::new(cfg).unwrap();
    lc.catalog().await.unwrap();
    linear.set_faults(ApiFaults {
        drift: 1.0,
        ..ApiFaults::default()
    });
    for _ in 0..24 {
        let e = lc.list_changed(None, None).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Schema, "{e}");
    }
    assert_eq!(linear.counters().drifted, 24);

    let canny = CannySim::start(CannySimConfig {
        posts: 5,
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let cc = CannyConnector::new(canny_config(&canny)).unwrap();
    cc.resolve().await.unwrap();
    let first = cc.list_changed(None, None).await.unwrap();
    let post = first.records[0].remote_id.clone();
    canny.set_faults(ApiFaults {
        drift: 1.0,
        ..ApiFaults::default()
    });
    for _ in 0..24 {
        let e = cc.get(&post).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Schema, "{e}");
        assert!(
            e.message.contains("API response shape changed: Canny"),
            "{}",
            e.message
        );
    }
    assert!(canny.stats().drifted >= 24);
}

/// A linked post merged into a post that already has its own issue: no
/// record is linked twice, the old link ends, and the Linear issue gets the
/// note (the merged post is gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_into_a_linked_post_ends_the_old_link() {
    let mut h = Harness::start(Setup::default()).await;
    let (merged, issue_a) = linked_pair(&h, "Mobile app").await;
    let (survivor, issue_b) = linked_pair(&h, "Native mobile app").await;
    let comments_before = h.linear.comments(&issue_a).len();
    h.canny().merge_posts(&merged, &survivor).unwrap();
    h.engine().reconcile_once().await.unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(
        link_state(&h, Side::Linear, &issue_a),
        Some(LinkState::Unlinked)
    );
    assert_eq!(h.linked_issue(&survivor).as_deref(), Some(issue_b.as_str()));
    let notes = h.linear.comments(&issue_a);
    assert_eq!(
        notes.len(),
        comments_before + 1,
        "one note on the orphaned issue"
    );
    assert!(notes.last().unwrap().body.contains("merged"), "{notes:?}");
    assert!(!h.linear_record(&issue_a).await.unwrap().deleted);
    h.stop_service().await;
}

// ------------------------------------------------------- roundtrip adopt

/// `roundtrip adopt --dry-run` says what it would link and why and changes
/// nothing; without `--dry-run` it links them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_command_dry_run_then_apply() {
    let h = Harness::start(Setup {
        start_service: false,
        ..Setup::default()
    })
    .await;
    let issue = h.linear.create_issue("Audit log", None, "Todo").unwrap();
    let post = h.canny().create_post("Audit log for admins", "z").unwrap();
    h.canny().link_linear(&post, &issue.identifier).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundtrip.toml");
    let store = dir.path().join("rt.db");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"{}\"\n[linear]\napi_url = \"{}\"\nteam = \"ENG\"\n[portal]\napi_url = \"{}\"\nboard = \"Feature Requests\"\n",
            store.display(),
            h.linear.graphql_url(),
            h.canny().base_url()
        ),
    )
    .unwrap();
    let (lin_key, canny_key) = (
        h.linear.api_key().to_string(),
        h.canny().api_key().to_string(),
    );
    let run = move |dry: bool| {
        let mut cmd = assert_cmd::Command::cargo_bin("roundtrip").unwrap();
        cmd.args(["adopt", "-c"])
            .arg(&config)
            .env("LINEAR_API_KEY", &lin_key)
            .env("LINEAR_WEBHOOK_SECRET", "s")
            .env("CANNY_API_KEY", &canny_key);
        if dry {
            cmd.arg("--dry-run");
        }
        cmd.output().unwrap()
    };
    let out = tokio::task::spawn_blocking(move || (run(true), run(false)))
        .await
        .unwrap();
    let (dry, wet) = out;
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(text.contains("would link"), "{text}");
    assert!(text.contains(&issue.identifier), "{text}");
    assert!(
        text.contains("the portal's own Linear integration links the post"),
        "{text}"
    );
    assert!(text.contains("nothing changed"), "{text}");
    let text = String::from_utf8_lossy(&wet.stdout);
    assert!(
        wet.status.success(),
        "{}",
        String::from_utf8_lossy(&wet.stderr)
    );
    assert!(text.contains("1 of 1 pairs linked"), "{text}");
    let s = roundtrip::store::Store::open(&store, roundtrip::store::OpenMode::ReadOnly).unwrap();
    let link = s.db().link_by_remote(Side::Portal, &post).unwrap().unwrap();
    assert_eq!(link.linear_id.as_deref(), Some(issue.id.as_str()));
    assert!(
        text.contains(&format!("link {} adopted: post {post}", link.id)),
        "{text}"
    );
    // An operator action: one audit entry, by the operator, on the new link.
    let audit = s.db().audit(Window::last(50)).unwrap();
    let adopted: Vec<_> = audit
        .iter()
        .filter(|a| a.action == AuditAction::Adopt)
        .collect();
    assert_eq!(adopted.len(), 1, "{audit:?}");
    assert_eq!(adopted[0].actor, roundtrip::domain::Actor::Operator);
    assert_eq!(adopted[0].link_id, Some(link.id));
    assert_eq!(h.linear.issues().len(), 1, "nothing created");
}

// ------------------------------------------------------- Canny's API

async fn canny_call(
    sim: &roundtrip::sim::canny::CannySim,
    version: u8,
    endpoint: &str,
    mut body: serde_json::Value,
) -> (u16, serde_json::Value) {
    body["apiKey"] = serde_json::json!(sim.api_key());
    let base = sim
        .base_url()
        .replace("/api/v1", &format!("/api/v{version}"));
    let r = reqwest::Client::new()
        .post(format!("{base}/{endpoint}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The v2 cursor endpoints answer with Canny's documented shapes
/// (`{items|users|companies, hasNextPage, cursor}`) and page by cursor;
/// categories are served with theirs.
#[tokio::test]
async fn canny_v2_and_categories_have_the_documented_shapes() {
    use roundtrip::sim::canny::{CannySim, CannySimConfig};
    use serde_json::json;
    let sim = CannySim::start(CannySimConfig {
        posts: 30,
        users_before_admin: 150,
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let (s, page1) = canny_call(&sim, 2, "users/list", json!({"limit": 100})).await;
    assert_eq!(s, 200);
    assert_eq!(page1["users"].as_array().unwrap().len(), 100);
    assert_eq!(page1["hasNextPage"], json!(true));
    let cursor = page1["cursor"].as_str().unwrap().to_string();
    let (_, page2) = canny_call(&sim, 2, "users/list", json!({"cursor": cursor})).await;
    assert_eq!(page2["hasNextPage"], json!(false));
    assert!(page2["cursor"].is_null());
    let total = 100 + page2["users"].as_array().unwrap().len();
    assert_eq!(total, 150 + 1 + 4, "every user once across the pages");
    for key in ["id", "name", "email", "isAdmin", "created", "userID"] {
        assert!(page1["users"][0].get(key).is_some(), "user lacks {key}");
    }
    let (_, companies) = canny_call(&sim, 2, "companies/list", json!({})).await;
    assert_eq!(
        companies,
        json!({"companies": [], "hasNextPage": false, "cursor": null})
    );
    let post = sim.posts()[0].id.clone();
    sim.set_status(&post, "complete").unwrap();
    sim.add_vote(&post).unwrap();
    for endpoint in ["comments/list", "votes/list", "status_changes/list"] {
        let (s, v) = canny_call(&sim, 2, endpoint, json!({"limit": 5})).await;
        assert_eq!(s, 200, "{endpoint}: {v}");
        assert!(v["items"].is_array(), "{endpoint}: {v}");
        assert!(
            v.get("hasNextPage").is_some() && v.get("cursor").is_some(),
            "{endpoint}"
        );
    }
    let (_, changes) = canny_call(&sim, 2, "status_changes/list", json!({"postID": post})).await;
    assert_eq!(changes["items"][0]["status"], "complete");
    assert!(changes["items"][0]["changer"]["isAdmin"].as_bool().unwrap());
    let (s, v1) = canny_call(&sim, 1, "users/list", json!({"limit": 5})).await;
    assert_eq!(s, 200);
    assert!(v1.is_array(), "v1 users/list stays a bare array");

    let (s, created) = canny_call(
        &sim,
        1,
        "categories/create",
        json!({"boardID": sim.board_id(), "name": "Integrations"}),
    )
    .await;
    assert_eq!(s, 200, "{created}");
    let cat = created["id"].as_str().unwrap().to_string();
    let (_, list) = canny_call(
        &sim,
        1,
        "categories/list",
        json!({"boardID": sim.board_id()}),
    )
    .await;
    assert_eq!(list["hasMore"], json!(false));
    let c0 = &list["categories"][0];
    for key in [
        "id",
        "board",
        "created",
        "name",
        "parentID",
        "postCount",
        "url",
    ] {
        assert!(c0.get(key).is_some(), "category lacks {key}");
    }
    let (_, moved) = canny_call(
        &sim,
        1,
        "posts/change_category",
        json!({"postID": post, "categoryID": cat}),
    )
    .await;
    assert_eq!(moved["category"]["name"], "Integrations");
    let (_, one) = canny_call(&sim, 1, "categories/retrieve", json!({"id": cat})).await;
    assert_eq!(one["postCount"], json!(1));
    let (_, gone) = canny_call(&sim, 1, "categories/delete", json!({"categoryID": cat})).await;
    assert_eq!(gone, json!("success"));
    let (s, err) = canny_call(&sim, 1, "categories/retrieve", json!({"id": cat})).await;
    assert_eq!((s, err), (400, json!({"error": "invalid category id"})));
    assert!(sim.post_json(&post).unwrap()["category"].is_null());
}

/// `roundtrip sim --canny-statuses` sets the company's statuses in board
/// order (custom ones included) and refuses a malformed list.
#[test]
fn sim_takes_custom_canny_statuses() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("roundtrip"))
        .args([
            "sim",
            "--canny-statuses",
            "open,under review,planned,in progress,complete,closed,beta",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["canny"]["statuses"][6], "beta", "{line}");
    assert_eq!(v["canny"]["statuses"].as_array().unwrap().len(), 7);
    let bad = assert_cmd::Command::cargo_bin("roundtrip")
        .unwrap()
        .args(["sim", "--canny-statuses", "open,,beta"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--canny-statuses"));
}

/// A Linear comment copied to the post reads as the comment, with no
/// reference of roundtrip's in the public text, and is never copied back.
async fn mirrored_comments_carry_no_public_reference(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked_pair(&h, "Webhooks for everything").await;
    h.linear
        .add_comment(&issue, "Scheduled for next sprint.")
        .unwrap();
    let copy = eventually("the comment on the post", 20, async || {
        public_comments(&h, &post)
            .into_iter()
            .find(|c| c.contains("Scheduled for next sprint."))
    })
    .await;
    assert_eq!(copy, "Ada Lovelace on Linear: Scheduled for next sprint.");
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(h.linear.comments(&issue).len(), 1, "never copied back");
    h.stop_service().await;
}

/// A post Canny's own integration links while roundtrip runs is adopted when
/// it becomes approved, not given a second issue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_linked_natively_later_is_adopted_not_recreated() {
    let mut h = Harness::start(Setup::default()).await;
    let issue = h
        .linear
        .create_issue("Saved filters", None, "Todo")
        .unwrap();
    let post = h.canny().create_post("Saved filters please", "q").unwrap();
    h.canny().link_linear(&post, &issue.identifier).unwrap();
    h.canny().set_status(&post, "planned").unwrap();
    let linked = eventually("the post to be linked", 20, async || h.linked_issue(&post)).await;
    assert_eq!(linked, issue.id);
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linear.issues().len(), 1, "no second issue");
    h.stop_service().await;
}

/// `roundtrip run` against a Canny company without an admin stops with a
/// configuration error (exit 2) that names the setting to fill in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_without_a_canny_admin_is_a_configuration_error() {
    use roundtrip::sim::canny::{CannySim, CannySimConfig};
    let canny = CannySim::start(CannySimConfig {
        admin: false,
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let linear = roundtrip::sim::linear::LinearSim::start(Default::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundtrip.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"{}\"\n[linear]\napi_url = \"{}\"\nteam = \"ENG\"\n[portal]\napi_url = \"{}\"\nboard = \"Feature Requests\"\n[webhooks]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("rt.db").display(),
            linear.graphql_url(),
            canny.base_url()
        ),
    )
    .unwrap();
    let key = canny.api_key().to_string();
    let out = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("roundtrip")
            .unwrap()
            .args(["run", "-c"])
            .arg(&config)
            .env("LINEAR_API_KEY", "lin_api_sim")
            .env("LINEAR_WEBHOOK_SECRET", "s")
            .env("CANNY_API_KEY", key)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no admin user") && err.contains("admin_email"),
        "{err}"
    );
}

/// After a merge (no webhook), a change on the Linear side reads the vanished
/// post before any listing has seen the merge: that is not taken for a
/// deletion; the reconcile it triggers moves the link to the survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_post_seen_from_linear_waits_for_reconcile() {
    let mut h = Harness::start(Setup {
        delete_policy: DeletePolicy::Mirror,
        ..Setup::default()
    })
    .await;
    let (merged, issue) = linked_pair(&h, "Gantt view").await;
    let survivor = h
        .canny()
        .create_post("Timeline view", "as a chart")
        .unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    h.canny().merge_posts(&merged, &survivor).unwrap();
    h.linear.set_title(&issue, "Gantt / timeline view").unwrap();
    eventually("the link to follow the survivor", 20, async || {
        (h.linked_issue(&survivor)? == issue).then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert!(
        !h.linear_record(&issue).await.unwrap().deleted,
        "mirror deleted nothing"
    );
    h.stop_service().await;
}

/// The active link a Linear issue got on the portal side, once it has one.
async fn portal_post_of(h: &Harness, issue: &str) -> String {
    eventually("the portal post to be linked", 30, async || {
        let l = h.store().db().link_by_remote(Side::Linear, issue).ok()??;
        (l.state == LinkState::Active).then_some(l.portal_id?)
    })
    .await
}

fn posts_titled(h: &Harness, title: &str) -> Vec<roundtrip::sim::canny::PostSnapshot> {
    h.canny()
        .posts()
        .into_iter()
        .filter(|p| p.title == title)
        .collect()
}

/// Canny leaves the post out of `posts/list` (as it does with some
/// API-created posts) and the claim's answer is lost: the retry reads the
/// post by the id `posts/create` answered, kept with the job, instead of
/// looking for it in a listing that cannot show it. A customer's post with
/// the same title takes the `urlName`, so only the kept id can find it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_create_reads_an_unlisted_post_by_the_id_it_got() {
    let mut h = Harness::start(Setup {
        create_in_portal_label: Some("Feature".into()),
        ..Setup::default()
    })
    .await;
    h.canny()
        .create_post("Audit trail", "A customer's own idea.")
        .unwrap();
    h.canny().unlist_next_created_posts(1);
    h.canny().lose_next_reply("comments/create");
    let issue = h
        .linear
        .create_issue("Audit trail", Some("Every admin action logged."), "Todo")
        .unwrap();
    h.linear.set_labels(&issue.id, &["Feature"]).unwrap();
    let post = portal_post_of(&h, &issue.id).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert!(
        h.canny().is_unlisted(&post),
        "the post is left out of listings"
    );
    let ours: Vec<_> = posts_titled(&h, "Audit trail")
        .into_iter()
        .filter(|p| p.details == "Every admin action logged.")
        .collect();
    assert_eq!(ours.len(), 1, "one post despite the retry: {ours:?}");
    assert_eq!(ours[0].id, post);
    let job = h
        .store()
        .db()
        .jobs(&roundtrip::store::JobFilter::default(), Window::last(50))
        .unwrap()
        .into_iter()
        .find(|j| j.kind == roundtrip::domain::JobKind::Create && j.target == Side::Portal)
        .unwrap();
    assert!(job.attempts >= 2, "the create was retried: {job:?}");
    assert!(
        job.payload.contains(&format!("\"created_id\":\"{post}\"")),
        "the job kept the id Canny answered: {}",
        job.payload
    );
    h.stop_service().await;
}

/// The answer to `posts/create` itself is lost and Canny leaves the post
/// out of listings: the retry finds it by the `urlName` its title gives
/// (a read that does not depend on the listing) and claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_of_an_unlisted_post_is_found_by_its_url_name() {
    let mut h = Harness::start(Setup {
        create_in_portal_label: Some("Feature".into()),
        ..Setup::default()
    })
    .await;
    h.canny().unlist_next_created_posts(1);
    h.canny().lose_next_reply("posts/create");
    let issue = h
        .linear
        .create_issue("Usage reports", Some("Monthly, per seat."), "Todo")
        .unwrap();
    h.linear.set_labels(&issue.id, &["Feature"]).unwrap();
    let post = portal_post_of(&h, &issue.id).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert!(h.canny().is_unlisted(&post));
    let posts = posts_titled(&h, "Usage reports");
    assert_eq!(
        posts.len(),
        1,
        "one post despite the lost answer: {posts:?}"
    );
    assert!(
        internal_comments(&h, &post)
            .iter()
            .any(|c| c.contains("roundtrip-ref")),
        "claimed"
    );
    h.stop_service().await;
}

/// The duplicate's post closes and its voters count on the canonical
/// issue's post exactly once: a voter on both is not counted twice, and the
/// copy survives a `votes/create` whose answer is lost after Canny counted
/// the vote (the retry adds only the voters still missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_voters_count_once_on_the_canonical_post() {
    let mut h = Harness::start(Setup::default()).await;
    let (post_a, dup) = linked_pair(&h, "Bulk export").await;
    let (post_b, canonical) = linked_pair(&h, "Export everything at once").await;
    for _ in 0..3 {
        h.canny().add_vote(&post_a).unwrap();
    }
    h.canny().add_vote(&post_b).unwrap(); // the same customer as post_a's first voter
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.canny().post(&post_b).unwrap().score, 1);
    h.canny().lose_next_reply("votes/create");
    h.linear.mark_duplicate(&dup, &canonical).unwrap();
    let job = eventually("the voters to be copied", 30, async || {
        let jobs = h
            .store()
            .db()
            .jobs(&roundtrip::store::JobFilter::default(), Window::last(100))
            .ok()?;
        jobs.into_iter().find(|j| {
            j.kind == roundtrip::domain::JobKind::Voters
                && j.status == roundtrip::domain::JobStatus::Succeeded
        })
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert!(job.attempts >= 2, "the lost answer was retried: {job:?}");
    assert_eq!(
        h.canny().post(&post_b).unwrap().score,
        3,
        "post_a's three voters, one of whom had voted on post_b already"
    );
    assert_eq!(h.canny().post(&post_a).unwrap().status, "closed");
    let notes = internal_comments(&h, &post_a);
    assert_eq!(notes.len(), 1, "one admin-only note: {notes:?}");
    assert!(notes[0].contains("voters now count"), "{notes:?}");
    assert!(public_comments(&h, &post_b).is_empty());
    h.stop_service().await;
}

/// Issues archived with their project or cycle are finished issues, not
/// deleted ones: under the harshest delete policy (mirror) each linked
/// post survives untouched and keeps its link — whether Linear archived
/// the issue a window after its project completed, after its cycle ended,
/// or because the project itself was archived — and the `Project`/`Cycle`
/// webhooks Linear sends on the way are accepted and write nothing. A
/// restored project's issue still syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_archived_with_their_project_or_cycle_keep_their_links() {
    let mut h = Harness::start(Setup {
        delete_policy: DeletePolicy::Mirror,
        linear_auto_archive: Duration::from_millis(600),
        linear_project_archive: Duration::from_millis(400),
        ..Setup::default()
    })
    .await;
    let (post_p, in_project) = linked_pair(&h, "Scheduled reports").await;
    let (post_c, in_cycle) = linked_pair(&h, "Faster search").await;
    let (post_x, in_archived) = linked_pair(&h, "Invoices as PDF").await;
    let reports = h.linear.create_project("Reporting").unwrap();
    let billing = h.linear.create_project("Billing").unwrap();
    let now = chrono::Utc::now();
    let cycle = h
        .linear
        .create_cycle(
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(13),
        )
        .unwrap();
    h.linear
        .set_project(&in_project, Some(&reports.id))
        .unwrap();
    h.linear.set_cycle(&in_cycle, Some(&cycle.id)).unwrap();
    h.linear
        .set_project(&in_archived, Some(&billing.id))
        .unwrap();
    h.linear.set_state(&in_project, "Done").unwrap();
    h.linear.set_state(&in_cycle, "Done").unwrap();
    for post in [&post_p, &post_c] {
        eventually("the post to show complete", 20, async || {
            (h.canny().post(post)?.status == "complete").then_some(())
        })
        .await;
    }
    h.wait_quiet(Duration::from_millis(300), 20).await;
    let before: Vec<_> = [&post_p, &post_c, &post_x]
        .iter()
        .map(|p| (h.canny().post(p).unwrap(), h.canny().comments(p).len()))
        .collect();

    h.linear
        .set_project_status(&reports.id, "Completed")
        .unwrap();
    h.linear.archive_project(&billing.id).unwrap();
    h.linear
        .set_cycle_end(&cycle.id, chrono::Utc::now())
        .unwrap();
    for issue in [&in_project, &in_cycle, &in_archived] {
        eventually("Linear to archive the issue", 20, async || {
            h.linear.issue(issue)?.archived_at.map(|_| ())
        })
        .await;
    }
    eventually("the completed project to archive itself", 20, async || {
        h.linear.project(&reports.id)?.archived_at.map(|_| ())
    })
    .await;
    eventually("the ended cycle to archive itself", 20, async || {
        h.linear.cycle(&cycle.id)?.archived_at.map(|_| ())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;

    for ((post, issue), (snapshot, comments)) in [
        (&post_p, &in_project),
        (&post_c, &in_cycle),
        (&post_x, &in_archived),
    ]
    .into_iter()
    .zip(&before)
    {
        let now = h.canny().post(post).expect("the post was not deleted");
        assert_eq!(
            (&now.status, &now.title),
            (&snapshot.status, &snapshot.title)
        );
        assert_eq!(h.canny().comments(post).len(), *comments, "nothing written");
        assert_eq!(link_state(&h, Side::Portal, post), Some(LinkState::Active));
        let rec = h.linear_record(issue).await.unwrap();
        assert!(rec.archived && !rec.deleted, "{rec:?}");
    }
    let c = h.linear.counters();
    assert_eq!(
        (c.webhooks_failed, c.webhooks_abandoned),
        (0, 0),
        "Project and Cycle webhooks are accepted"
    );

    // The archived project comes back with its issue, which syncs again.
    h.linear.unarchive_project(&billing.id).unwrap();
    h.linear.set_state(&in_archived, "Done").unwrap();
    eventually(
        "the restored issue's state to reach its post",
        20,
        async || (h.canny().post(&post_x)?.status == "complete").then_some(()),
    )
    .await;
    h.stop_service().await;
}
