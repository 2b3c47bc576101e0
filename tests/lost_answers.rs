//! Lost answers (issue 13, point 7): a write the remote applied, whose
//! answer never arrived — the connection reset, or the answer held past the
//! client's timeout (`lost` fault). For every write kind roundtrip makes,
//! the retry after a lost answer must not repeat the effect: one issue or
//! post per create, one comment per mirrored comment, one voter
//! notification per status change, the tags and labels as set, one delete.
//! Changelog entries are not written by roundtrip yet, so they have no case.
//! Every test runs once against Canny and once against Fider.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod harness;
}

use std::time::Duration;

use roundtrip::domain::{ErrorClass, JobKind, JobStatus, Side};
use roundtrip::sim::faults::ApiFaults;
use roundtrip::store::{Job, JobFilter, LinkState, Window};
use roundtrip::sync::DeletePolicy;
use support::harness::{Harness, PortalKind, Setup, Stage, eventually};

crate::portal_tests!(
    a_linear_create_whose_answer_is_lost_makes_one_issue,
    a_linear_update_whose_answer_is_lost_lands_once,
    a_linear_state_change_whose_answer_is_lost_lands_once,
    a_comment_mirrored_to_linear_whose_answer_is_lost_appears_once,
    labels_written_to_linear_under_a_lost_answer_are_as_set,
    a_linear_delete_whose_answer_is_lost_deletes_once_and_settles,
    a_portal_update_whose_answer_is_lost_lands_once,
    a_status_change_whose_answer_is_lost_notifies_voters_once,
    a_comment_mirrored_to_the_portal_whose_answer_is_lost_appears_once,
    tags_written_to_the_portal_under_a_lost_answer_are_as_set,
    a_portal_delete_whose_answer_is_lost_deletes_once_and_settles,
    a_portal_create_whose_answer_is_lost_makes_one_post,
    a_label_a_person_removes_after_a_lost_answer_is_not_added_back,
    a_title_a_person_changes_after_a_lost_answer_is_not_overwritten,
);

fn setup(portal: PortalKind) -> Setup {
    Setup {
        portal,
        ..Setup::default()
    }
}

fn lost() -> ApiFaults {
    ApiFaults {
        lost: 1.0,
        ..ApiFaults::default()
    }
}

fn set_faults(h: &Harness, target: Side, faults: ApiFaults) {
    match target {
        Side::Linear => h.linear.set_faults(faults),
        Side::Portal => h.portal.set_faults(faults),
    }
}

fn lost_count(h: &Harness, target: Side) -> u64 {
    match target {
        Side::Linear => h.linear.counters().lost,
        Side::Portal => h.portal.lost(),
    }
}

fn jobs(h: &Harness, kind: JobKind, target: Side) -> Vec<Job> {
    h.store()
        .db()
        .jobs(&JobFilter::default(), Window::first(10_000))
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == kind && j.target == target)
        .collect()
}

/// With every write answer on `target` lost, run `act`, wait until a job
/// of `kind` has failed an attempt for want of an answer (the write itself
/// was applied), then let answers through and wait for that job to succeed
/// and the engine to go quiet. Returns the job.
async fn through_a_lost_answer(
    h: &Harness,
    target: Side,
    kind: JobKind,
    act: impl AsyncFnOnce(),
) -> Job {
    let before: Vec<i64> = jobs(h, kind, target).iter().map(|j| j.id).collect();
    set_faults(h, target, lost());
    act().await;
    let job = eventually("an attempt whose answer was lost", 30, async || {
        jobs(h, kind, target).into_iter().find(|j| {
            !before.contains(&j.id)
                && h.store().db().attempts(j.id).unwrap().iter().any(|a| {
                    matches!(
                        a.error_class,
                        Some(ErrorClass::Network | ErrorClass::Timeout)
                    )
                })
        })
    })
    .await;
    assert!(lost_count(h, target) >= 1, "the simulator lost an answer");
    set_faults(h, target, ApiFaults::default());
    let done = eventually("the retried job to succeed", 30, async || {
        let j = h.store().db().job(job.id).ok()??;
        (j.status == JobStatus::Succeeded).then_some(j)
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 30).await;
    assert!(done.attempts >= 2, "{done:?}");
    done
}

/// With every write answer on Linear lost, run `act` (a change on the
/// portal), wait until its update job lost an answer (the write landed),
/// then run `undo` (a person on Linear reverting it) while answers are still
/// lost, let answers through and wait for the job to succeed and the engine
/// to go quiet.
async fn undone_after_a_lost_answer(h: &Harness, act: impl AsyncFnOnce(), undo: impl FnOnce()) {
    let before: Vec<i64> = jobs(h, JobKind::Update, Side::Linear)
        .iter()
        .map(|j| j.id)
        .collect();
    set_faults(h, Side::Linear, lost());
    act().await;
    let job = eventually("an attempt whose answer was lost", 30, async || {
        jobs(h, JobKind::Update, Side::Linear)
            .into_iter()
            .find(|j| !before.contains(&j.id) && j.attempts >= 1)
    })
    .await;
    assert!(
        lost_count(h, Side::Linear) >= 1,
        "the simulator lost an answer"
    );
    undo();
    set_faults(h, Side::Linear, ApiFaults::default());
    eventually("the retried job to succeed", 30, async || {
        let j = h.store().db().job(job.id).ok()??;
        (j.status == JobStatus::Succeeded).then_some(j)
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 30).await;
}

/// A post approved and linked, with its first sync finished.
async fn linked(h: &Harness, title: &str) -> (String, String) {
    let post = h.portal.create_post(title, "details");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
    h.wait_settled(&post).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    (post, issue)
}

fn issues_titled(h: &Harness, title: &str) -> usize {
    h.linear
        .issues()
        .iter()
        .filter(|i| i.title == title)
        .count()
}

async fn a_linear_create_whose_answer_is_lost_makes_one_issue(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    linked(&h, "Warm-up post").await;
    let mut post = String::new();
    through_a_lost_answer(&h, Side::Linear, JobKind::Create, async || {
        post = h.portal.create_post("Lost create", "x");
        h.portal.set_stage(&post, Stage::Planned);
    })
    .await;
    assert_eq!(issues_titled(&h, "Lost create"), 1);
    let issue = h.linked_issue(&post).expect("linked");
    let url = h.portal.post(&post).unwrap().url;
    assert_eq!(
        h.linear_conn.issues_for_url(&url).await.unwrap(),
        vec![issue]
    );
    h.stop_service().await;
}

async fn a_linear_update_whose_answer_is_lost_lands_once(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost update").await;
    through_a_lost_answer(&h, Side::Linear, JobKind::Update, async || {
        h.portal.set_title(&post, "Lost update, renamed");
        h.portal.set_details(&post, "new details");
        h.edits_reconciled().await;
    })
    .await;
    let r = h.linear_record(&issue).await.unwrap();
    assert_eq!(r.title, "Lost update, renamed");
    assert!(r.description.contains("new details"), "{}", r.description);
    assert_eq!(issues_titled(&h, "Lost update, renamed"), 1);
    h.stop_service().await;
}

async fn a_linear_state_change_whose_answer_is_lost_lands_once(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost state").await;
    through_a_lost_answer(&h, Side::Linear, JobKind::Update, async || {
        h.portal.set_stage(&post, Stage::Started);
    })
    .await;
    assert_eq!(h.linear_record(&issue).await.unwrap().status, "In Progress");
    // The portal keeps what the human set: nothing bounced back.
    assert_eq!(h.portal.post(&post).unwrap().stage, Some(Stage::Started));
    h.stop_service().await;
}

async fn a_comment_mirrored_to_linear_whose_answer_is_lost_appears_once(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost comment to Linear").await;
    through_a_lost_answer(&h, Side::Linear, JobKind::Comment, async || {
        h.portal.add_comment(&post, "From a customer");
    })
    .await;
    let mirrored: Vec<_> = h
        .linear
        .comments(&issue)
        .into_iter()
        .filter(|c| c.body.contains("From a customer"))
        .collect();
    assert_eq!(mirrored.len(), 1, "{mirrored:?}");
    assert_eq!(h.portal.comments(&post).len(), 1, "nothing mirrored back");
    h.stop_service().await;
}

async fn labels_written_to_linear_under_a_lost_answer_are_as_set(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost labels").await;
    through_a_lost_answer(&h, Side::Linear, JobKind::Update, async || {
        h.portal.add_tag(&post, "bug");
        h.edits_reconciled().await;
    })
    .await;
    let labels = h.linear_record(&issue).await.unwrap().labels;
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        vec!["Bug".to_string()]
    );
    h.stop_service().await;
}

async fn a_linear_delete_whose_answer_is_lost_deletes_once_and_settles(kind: PortalKind) {
    let mut h = Harness::start(Setup {
        delete_policy: DeletePolicy::Mirror,
        ..setup(kind)
    })
    .await;
    let (post, issue) = linked(&h, "Lost delete").await;
    through_a_lost_answer(&h, Side::Linear, JobKind::Delete, async || {
        h.portal.delete_post(&post);
    })
    .await;
    assert!(h.linear_record(&issue).await.is_none_or(|r| r.deleted));
    let link = h
        .store()
        .db()
        .link_by_remote(Side::Portal, &post)
        .unwrap()
        .unwrap();
    assert_eq!(link.state, LinkState::Unlinked);
    assert!(
        jobs(&h, JobKind::Delete, Side::Linear)
            .iter()
            .all(|j| j.status == JobStatus::Succeeded),
        "no delete left failing"
    );
    h.stop_service().await;
}

async fn a_portal_update_whose_answer_is_lost_lands_once(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost portal update").await;
    through_a_lost_answer(&h, Side::Portal, JobKind::Update, async || {
        h.linear.set_title(&issue, "Renamed in Linear").unwrap();
    })
    .await;
    assert_eq!(h.portal.post(&post).unwrap().title, "Renamed in Linear");
    assert_eq!(
        h.portal
            .posts()
            .iter()
            .filter(|p| p.title == "Renamed in Linear")
            .count(),
        1
    );
    h.stop_service().await;
}

async fn a_status_change_whose_answer_is_lost_notifies_voters_once(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost status").await;
    h.portal.add_vote(&post);
    let before = h.portal.notifications();
    through_a_lost_answer(&h, Side::Portal, JobKind::Update, async || {
        h.linear.set_state(&issue, "Done").unwrap();
    })
    .await;
    assert_eq!(h.portal.post(&post).unwrap().stage, Some(Stage::Done));
    assert_eq!(
        h.portal.notifications() - before,
        1,
        "voters were told once"
    );
    h.stop_service().await;
}

async fn a_comment_mirrored_to_the_portal_whose_answer_is_lost_appears_once(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost comment to portal").await;
    through_a_lost_answer(&h, Side::Portal, JobKind::Comment, async || {
        h.linear.add_comment(&issue, "From engineering").unwrap();
    })
    .await;
    let mirrored: Vec<_> = h
        .portal
        .comments(&post)
        .into_iter()
        .filter(|c| c.body.contains("From engineering"))
        .collect();
    assert_eq!(mirrored.len(), 1, "{mirrored:?}");
    assert_eq!(h.linear.comments(&issue).len(), 1, "nothing mirrored back");
    h.stop_service().await;
}

async fn tags_written_to_the_portal_under_a_lost_answer_are_as_set(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Lost tags here").await;
    through_a_lost_answer(&h, Side::Portal, JobKind::Update, async || {
        h.linear.set_labels(&issue, &["Bug"]).unwrap();
    })
    .await;
    let tags = h.portal.post(&post).unwrap().tags;
    assert_eq!(
        tags.into_iter().collect::<Vec<_>>(),
        vec!["bug".to_string()]
    );
    h.stop_service().await;
}

async fn a_portal_delete_whose_answer_is_lost_deletes_once_and_settles(kind: PortalKind) {
    let mut h = Harness::start(Setup {
        delete_policy: DeletePolicy::Mirror,
        ..setup(kind)
    })
    .await;
    let (post, issue) = linked(&h, "Lost portal delete").await;
    through_a_lost_answer(&h, Side::Portal, JobKind::Delete, async || {
        h.linear.delete(&issue).unwrap();
    })
    .await;
    assert!(h.portal.post(&post).is_none(), "the post is gone");
    assert!(
        jobs(&h, JobKind::Delete, Side::Portal)
            .iter()
            .all(|j| j.status == JobStatus::Succeeded),
        "no delete left failing"
    );
    h.stop_service().await;
}

async fn a_portal_create_whose_answer_is_lost_makes_one_post(kind: PortalKind) {
    let mut h = Harness::start(Setup {
        create_in_portal_label: Some("Feature".into()),
        ..setup(kind)
    })
    .await;
    linked(&h, "Warm-up post").await;
    through_a_lost_answer(&h, Side::Portal, JobKind::Create, async || {
        let i = h
            .linear
            .create_issue("Lost portal create", Some("from Linear"), "Todo")
            .unwrap();
        h.linear.set_labels(&i.id, &["Feature"]).unwrap();
    })
    .await;
    assert_eq!(
        h.portal
            .posts()
            .iter()
            .filter(|p| p.title == "Lost portal create")
            .count(),
        1
    );
    h.stop_service().await;
}

async fn a_label_a_person_removes_after_a_lost_answer_is_not_added_back(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Undone label").await;
    undone_after_a_lost_answer(
        &h,
        async || {
            h.portal.add_tag(&post, "bug");
            h.edits_reconciled().await;
        },
        || {
            let labels = h.linear.issue(&issue).unwrap().label_ids;
            assert!(!labels.is_empty(), "the lost write landed");
            h.linear.remove_label(&issue, "Bug").unwrap();
        },
    )
    .await;
    let labels = h.linear_record(&issue).await.unwrap().labels;
    assert!(labels.is_empty(), "the person's removal stands: {labels:?}");
    eventually("the removal to reach the portal", 30, async || {
        h.portal.post(&post).filter(|p| p.tags.is_empty())
    })
    .await;
    h.stop_service().await;
}

async fn a_title_a_person_changes_after_a_lost_answer_is_not_overwritten(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let (post, issue) = linked(&h, "Undone title").await;
    undone_after_a_lost_answer(
        &h,
        async || {
            h.portal.set_title(&post, "Undone title, from the portal");
            h.edits_reconciled().await;
        },
        || {
            let now = h.linear.issue(&issue).unwrap().title;
            assert_eq!(
                now, "Undone title, from the portal",
                "the lost write landed"
            );
            h.linear.set_title(&issue, "Undone title").unwrap();
        },
    )
    .await;
    assert_eq!(h.linear_record(&issue).await.unwrap().title, "Undone title");
    eventually("the person's title to reach the portal", 30, async || {
        h.portal.post(&post).filter(|p| p.title == "Undone title")
    })
    .await;
    h.stop_service().await;
}
