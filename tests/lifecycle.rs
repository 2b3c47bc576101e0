//! Right on a real workspace's lifecycle (issue LIFECYCLE), end to end over
//! loopback against both simulators: Linear's auto-archive is not a delete,
//! nothing roundtrip writes for itself is public, links follow merges and
//! duplicates, existing links are adopted, posts in custom statuses are
//! synced, and an API whose answers change shape raises an alert.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop with its message

mod support {
    pub mod harness;
}

use std::time::Duration;

use roundtrip::domain::Side;
use roundtrip::store::{LinkState, Window};
use roundtrip::sync::DeletePolicy;
use support::harness::{Harness, Setup, eventually};

/// A planned post linked to its new Linear issue; returns (post, issue).
async fn linked_pair(h: &Harness, title: &str) -> (String, String) {
    let post = h.canny.create_post(title, "Details from a customer.").unwrap();
    h.canny.set_status(&post, "planned").unwrap();
    let issue = eventually("link to become active", 20, async || h.linked_issue(&post)).await;
    h.wait_settled(&post).await;
    (post, issue)
}

fn link_state(h: &Harness, side: Side, id: &str) -> Option<LinkState> {
    h.store()
        .db()
        .link_by_remote(side, id)
        .unwrap()
        .map(|l| l.state)
}

fn public_comments(h: &Harness, post: &str) -> Vec<String> {
    h.canny
        .comments(post)
        .into_iter()
        .filter(|c| !c.internal)
        .map(|c| c.value)
        .collect()
}

fn internal_comments(h: &Harness, post: &str) -> Vec<String> {
    h.canny
        .comments(post)
        .into_iter()
        .filter(|c| c.internal)
        .map(|c| c.value)
        .collect()
}

/// Linear archives a Done issue by itself after the team's period: under the
/// harshest delete policy (mirror) the post survives, nothing is written to
/// it, the link stays, and a later edit still syncs. Only the trash deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_archived_issue_is_finished_not_deleted() {
    let mut h = Harness::start(Setup {
        delete_policy: DeletePolicy::Mirror,
        linear_auto_archive: Duration::from_millis(600),
        ..Setup::default()
    })
    .await;
    let (post, issue) = linked_pair(&h, "Dark mode").await;
    h.linear.set_state(&issue, "Done").unwrap();
    eventually("portal to show complete", 20, async || {
        (h.canny.post(&post)?.status == "complete").then_some(())
    })
    .await;
    let comments_before = h.canny.comments(&post).len();
    eventually("Linear to auto-archive the issue", 20, async || {
        h.linear.issue(&issue)?.archived_at.map(|_| ())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert!(h.canny.post(&post).is_some(), "the post was not deleted");
    assert_eq!(h.canny.comments(&post).len(), comments_before, "nothing written to the post");
    assert_eq!(link_state(&h, Side::Portal, &post), Some(LinkState::Active));
    let rec = h.linear_record(&issue).await.unwrap();
    assert!(rec.archived && !rec.deleted, "{rec:?}");

    // An edit of the archived issue still syncs, and so does a restore.
    h.linear.set_title(&issue, "Dark mode (shipped)").unwrap();
    eventually("edit of the archived issue to reach the post", 20, async || {
        (h.canny.post(&post)?.title == "Dark mode (shipped)").then_some(())
    })
    .await;
    h.linear.unarchive(&issue).unwrap();
    h.linear.set_state(&issue, "In Progress").unwrap();
    eventually("post to follow the restored issue", 20, async || {
        (h.canny.post(&post)?.status == "in progress").then_some(())
    })
    .await;

    // The trash is a delete: under mirror the post goes too.
    h.linear.delete(&issue).unwrap();
    eventually("trashed issue to delete the post", 20, async || {
        h.canny.post(&post).is_none().then_some(())
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
    let listed: Vec<_> = page.records.iter().filter(|r| r.remote_id == kept.id).collect();
    assert_eq!(listed.len(), 1, "archived issues are in reconcile's listing");
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
    assert_eq!(link_state(&h, Side::Portal, &post), Some(LinkState::Unlinked));
    h.stop_service().await;
}

/// On a plan without internal comments the notice is not posted at all:
/// it stays in roundtrip's audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_internal_comments_the_notice_stays_in_the_audit_log() {
    let mut h = Harness::start(Setup {
        canny_internal_comments: false,
        ..Setup::default()
    })
    .await;
    let (post, issue) = linked_pair(&h, "Slack alerts").await;
    let before = h.canny.comments(&post).len();
    h.linear.delete(&issue).unwrap();
    let note = eventually("the note in the audit log", 20, async || {
        let audit = h.store().db().audit(Window::last(200)).ok()?;
        audit.into_iter().find(|a| a.action == "note")
    })
    .await;
    assert!(note.after.unwrap().contains("not posted"));
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.canny.comments(&post).len(), before, "no comment of any kind");
    h.stop_service().await;
}

/// A portal-side create whose answer is lost after Canny made the post is
/// retried without a second post, and nothing of roundtrip's reaches the
/// post's public text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_portal_create_cannot_duplicate() {
    let mut h = Harness::start(Setup {
        create_in_portal_label: Some("Feature".into()),
        ..Setup::default()
    })
    .await;
    h.canny.lose_next_reply("posts/create");
    let issue = h
        .linear
        .create_issue("Offline mode", Some("Works on a plane."), "Todo")
        .unwrap();
    h.linear.set_labels(&issue.id, &["Feature"]).unwrap();
    let post = eventually("the portal post to be linked", 30, async || {
        let l = h.store().db().link_by_remote(Side::Linear, &issue.id).ok()??;
        (l.state == LinkState::Active).then_some(l.portal_id?)
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    let posts: Vec<_> = h
        .canny
        .posts()
        .into_iter()
        .filter(|p| p.title == "Offline mode")
        .collect();
    assert_eq!(posts.len(), 1, "one post despite the lost answer: {posts:?}");
    assert_eq!(posts[0].id, post);
    assert!(
        posts[0].details.contains("Works on a plane.") && !posts[0].details.contains("roundtrip"),
        "public details carry no marker: {:?}",
        posts[0].details
    );
    assert!(public_comments(&h, &post).is_empty());
    assert!(
        internal_comments(&h, &post).iter().any(|c| c.contains("roundtrip-ref")),
        "the claim is an internal comment"
    );
    h.stop_service().await;
}

/// Linear marks the linked issue a duplicate of an unlinked one: the link
/// moves to the canonical issue (no new issue or post), the post follows its
/// state and gets one admin-only note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_issue_hands_its_link_to_the_canonical_one() {
    let mut h = Harness::start(Setup::default()).await;
    let (post, dup) = linked_pair(&h, "Keyboard shortcuts").await;
    let canonical = h
        .linear
        .create_issue("Shortcuts everywhere", None, "In Progress")
        .unwrap();
    let issues_before = h.linear.issues().len();
    let posts_before = h.canny.posts().len();
    h.linear.mark_duplicate(&dup, &canonical.id).unwrap();
    eventually("the link to follow the canonical issue", 20, async || {
        (h.linked_issue(&post)? == canonical.id).then_some(())
    })
    .await;
    eventually("the post to follow the canonical issue's state", 20, async || {
        (h.canny.post(&post)?.status == "in progress").then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(h.linear.issues().len(), issues_before, "no new issue");
    assert_eq!(h.canny.posts().len(), posts_before, "no new post");
    assert_eq!(link_state(&h, Side::Linear, &dup), None, "the duplicate is unlinked");
    let notes = internal_comments(&h, &post);
    assert_eq!(notes.len(), 1, "at most one admin-only note: {notes:?}");
    assert!(notes[0].contains("duplicate"), "{notes:?}");
    assert!(public_comments(&h, &post).is_empty());
    h.stop_service().await;
}

/// When the canonical issue already tracks another post, the duplicate's
/// post closes as a duplicate (the mapping's status for Linear's Duplicate
/// state) with one admin-only note; no record is linked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_of_a_linked_issue_closes_its_post() {
    let mut h = Harness::start(Setup::default()).await;
    let (post_a, dup) = linked_pair(&h, "SSO with Okta").await;
    let (post_b, canonical) = linked_pair(&h, "Okta single sign-on").await;
    h.linear.mark_duplicate(&dup, &canonical).unwrap();
    eventually("the duplicate's post to close", 20, async || {
        (h.canny.post(&post_a)?.status == "closed").then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(link_state(&h, Side::Portal, &post_a), Some(LinkState::Unlinked));
    assert_eq!(h.linked_issue(&post_b).as_deref(), Some(canonical.as_str()));
    assert_eq!(internal_comments(&h, &post_a).len(), 1);
    assert_eq!(h.canny.post(&post_b).unwrap().status, "planned", "the other post is untouched");
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
    h.canny.add_vote(&merged).unwrap();
    h.canny.add_vote(&merged).unwrap();
    let survivor = h.canny.create_post("Export data", "As a spreadsheet").unwrap();
    h.canny.add_vote(&survivor).unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    let issues_before = h.linear.issues().len();
    h.canny.merge_posts(&merged, &survivor).unwrap();
    let report = h.engine().reconcile_once().await.unwrap();
    assert_eq!(report.deleted, 1, "the merged post vanished from the listing");
    eventually("the link to follow the survivor", 20, async || {
        (h.linked_issue(&survivor)? == issue).then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert!(!h.linear_record(&issue).await.unwrap().deleted, "mirror did not delete the issue");
    assert_eq!(h.linear.issues().len(), issues_before, "no new issue");
    // Two voters on the merged post, one of them also on the survivor: one
    // vote per person after the merge.
    assert_eq!(h.canny.post(&survivor).unwrap().score, 2, "the merged post's votes count");
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
    let native = h.linear.create_issue("Dark mode", None, "In Progress").unwrap();
    let attached = h.linear.create_issue("CSV export", None, "Todo").unwrap();
    let p1 = h.canny.create_post("Dark mode please", "x").unwrap();
    h.canny.set_status(&p1, "planned").unwrap();
    h.canny.link_linear(&p1, &native.identifier).unwrap();
    let p2 = h.canny.create_post("Export to CSV", "y").unwrap();
    h.canny.set_status(&p2, "planned").unwrap();
    let url = h.canny.post(&p2).unwrap().url;
    h.linear.attach_url(&attached.id, &url, "Canny post").unwrap();
    h.start_service().await;
    eventually("both pairs to be linked", 20, async || {
        (h.linked_issue(&p1)? == native.id && h.linked_issue(&p2)? == attached.id).then_some(())
    })
    .await;
    eventually("the adopted post to follow Linear's state", 20, async || {
        (h.canny.post(&p1)?.status == "in progress").then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(h.linear.issues().len(), 2, "nothing was re-created");
    let audit = h.store().db().audit(Window::last(500)).unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "adopt").count(), 2);
    h.stop_service().await;
}
