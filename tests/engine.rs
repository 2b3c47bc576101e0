//! The engine against Linear's simulator and each portal's over loopback
//! (issue ENGINE): creates, status flow, conflicts, comments, deletes,
//! reconcile repairs, retries and the mass-delete guard. Every test runs
//! once against Canny and once against Fider.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod harness;
}

use std::time::Duration;

use roundtrip::domain::{FieldValue, JobStatus, Side};
use roundtrip::store::{ConflictFilter, ConflictStatus, JobFilter, Window};
use support::harness::{Harness, PortalKind, Setup, Stage, eventually};

crate::portal_tests!(
    planned_post_becomes_exactly_one_linear_issue_with_the_portal_link,
    linear_state_flows_back_to_the_portal_status,
    title_edited_on_both_sides_opens_one_conflict_and_overwrites_nothing,
    comments_are_mirrored_once_each_way,
    delete_policies_unlink_and_mirror,
    reconcile_repairs_a_dropped_webhook,
    server_errors_and_timeouts_are_retried_to_success,
    mass_delete_guard_pauses_deletes_until_resumed,
    tag_and_label_names_match_without_regard_to_case,
);

fn setup(portal: PortalKind) -> Setup {
    Setup {
        portal,
        ..Setup::default()
    }
}

async fn planned_post_becomes_exactly_one_linear_issue_with_the_portal_link(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let post = h
        .portal
        .create_post("Dark mode please", "Please add a dark theme.");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link to become active", 20, async || h.linked_issue(&post)).await;
    let rec = eventually("issue to exist", 10, async || h.linear_record(&issue).await).await;
    assert_eq!(rec.title, "Dark mode please");
    assert!(
        rec.description.contains("Please add a dark theme."),
        "{}",
        rec.description
    );
    assert_eq!(rec.status, "Todo");
    let url = h.portal.post(&post).unwrap().url;
    let linked = h.linear_conn.issues_for_url(&url).await.unwrap();
    assert_eq!(
        linked,
        vec![issue.clone()],
        "portal URL attached to the issue"
    );
    // More webhooks about the same post never create a second issue.
    h.portal.set_title(&post, "Dark mode everywhere");
    h.edits_reconciled().await;
    eventually("title to reach Linear", 20, async || {
        let r = h.linear_record(&issue).await?;
        (r.title == "Dark mode everywhere").then_some(())
    })
    .await;
    let issues = h.linear.issues();
    assert_eq!(
        issues
            .iter()
            .filter(|i| i.title.starts_with("Dark mode"))
            .count(),
        1
    );
    h.stop_service().await;
}

async fn linear_state_flows_back_to_the_portal_status(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let post = h.portal.create_post("Export to CSV", "CSV please");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
    h.linear.set_state(&issue, "In Progress").unwrap();
    eventually("portal to show in progress", 20, async || {
        (h.portal.post(&post)?.stage == Some(Stage::Started)).then_some(())
    })
    .await;
    h.linear.set_state(&issue, "Done").unwrap();
    eventually("portal to show complete", 20, async || {
        (h.portal.post(&post)?.stage == Some(Stage::Done)).then_some(())
    })
    .await;
    let audit = h.store().db().audit(Window::last(100)).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.side == Some(Side::Portal)
                && a.after.as_deref() == Some(Stage::Done.name(kind))),
        "the write is in the audit log: {audit:?}"
    );
    h.stop_service().await;
}

async fn title_edited_on_both_sides_opens_one_conflict_and_overwrites_nothing(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let post = h.portal.create_post("Slack alerts", "Notify us");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
    h.wait_settled(&post).await;
    // Stop webhooks so both edits are seen together by the next reconcile.
    h.webhooks(false);
    h.linear.set_title(&issue, "Slack alerts (Linear)").unwrap();
    h.portal.set_title(&post, "Slack alerts (portal)");
    let engine = h.service.as_ref().unwrap().engine.clone();
    engine.reconcile_once().await.unwrap();
    let conflicts = eventually("a conflict", 10, async || {
        let c = h
            .store()
            .db()
            .conflicts(
                &ConflictFilter {
                    status: Some(ConflictStatus::Open),
                    field: None,
                },
                Window::first(10),
            )
            .ok()?;
        (!c.is_empty()).then_some(c)
    })
    .await;
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].field, "title");
    assert_eq!(
        conflicts[0].portal,
        FieldValue::Text("Slack alerts (portal)".into())
    );
    assert_eq!(
        conflicts[0].linear,
        FieldValue::Text("Slack alerts (Linear)".into())
    );
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.portal.post(&post).unwrap().title, "Slack alerts (portal)");
    assert_eq!(
        h.linear_record(&issue).await.unwrap().title,
        "Slack alerts (Linear)"
    );
    // Resolving it writes the chosen value to the other side.
    h.linear.set_webhook_url(Some(format!(
        "http://{}/webhooks/linear",
        h.service.as_ref().unwrap().addr
    )));
    {
        let mut s = h.store_rw();
        s.write(|db| {
            db.resolve_conflict(
                conflicts[0].id,
                &roundtrip::store::Resolution::Portal,
                roundtrip::domain::Actor::Operator,
            )
        })
        .unwrap();
    }
    eventually("Linear to take the portal title", 20, async || {
        (h.linear_record(&issue).await?.title == "Slack alerts (portal)").then_some(())
    })
    .await;
    h.stop_service().await;
}

async fn comments_are_mirrored_once_each_way(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let post = h.portal.create_post("Dark mode please", "Please");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
    h.portal.add_comment(&post, "We need this for night shifts");
    h.linear
        .add_comment(&issue, "Scheduled for next sprint")
        .unwrap();
    eventually("both comments on both sides", 30, async || {
        let l = h.linear.comments(&issue);
        let p = h.portal.comments(&post);
        (l.len() == 2 && p.len() == 2).then_some(())
    })
    .await;
    // Echoes come back and are handled; nothing is mirrored again.
    h.wait_quiet(Duration::from_millis(500), 30).await;
    h.service
        .as_ref()
        .unwrap()
        .engine
        .reconcile_once()
        .await
        .unwrap();
    h.wait_quiet(Duration::from_millis(500), 30).await;
    assert_eq!(h.linear.comments(&issue).len(), 2);
    assert_eq!(h.portal.comments(&post).len(), 2);
    h.stop_service().await;
}

async fn delete_policies_unlink_and_mirror(kind: PortalKind) {
    for policy in [
        roundtrip::sync::DeletePolicy::Unlink,
        roundtrip::sync::DeletePolicy::Mirror,
    ] {
        let mut h = Harness::start(Setup {
            delete_policy: policy,
            ..setup(kind)
        })
        .await;
        let post = h.portal.create_post("Old idea nobody needs", "x");
        h.portal.set_stage(&post, Stage::Planned);
        let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
        h.wait_settled(&post).await;
        h.portal.delete_post(&post);
        eventually("link to be unlinked", 20, async || {
            let l = h.store().db().link_by_remote(Side::Portal, &post).ok()??;
            (l.state == roundtrip::store::LinkState::Unlinked).then_some(())
        })
        .await;
        match policy {
            roundtrip::sync::DeletePolicy::Mirror => {
                eventually("issue trashed", 20, async || {
                    h.linear_record(&issue)
                        .await
                        .is_none_or(|r| r.deleted)
                        .then_some(())
                })
                .await;
            }
            _ => {
                eventually("a comment on the surviving issue", 20, async || {
                    (h.linear
                        .comments(&issue)
                        .iter()
                        .any(|c| c.body.contains("deleted")))
                    .then_some(())
                })
                .await;
                assert!(!h.linear_record(&issue).await.unwrap().deleted);
            }
        }
        h.stop_service().await;
    }
}

async fn reconcile_repairs_a_dropped_webhook(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let post = h.portal.create_post("Audit log for admins", "x");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
    h.wait_settled(&post).await;
    // The pass the engine runs when it starts must be over, or it could be
    // the one that repairs the change below.
    h.wait_start_up_reconcile().await;
    // So must every echo of the engine's own writes: handling one re-reads
    // the linked issue, which would carry the change without reconcile.
    h.wait_echoes_handled().await;
    h.linear.set_webhook_url(None); // the webhook is lost
    h.linear.set_state(&issue, "In Progress").unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(
        h.portal.post(&post).unwrap().stage,
        Some(Stage::Planned),
        "nothing but reconcile can carry a change whose webhook was lost"
    );
    let report = h
        .service
        .as_ref()
        .unwrap()
        .engine
        .reconcile_once()
        .await
        .unwrap();
    assert!(report.repaired >= 1, "{report:?}");
    eventually("status repaired", 20, async || {
        (h.portal.post(&post)?.stage == Some(Stage::Started)).then_some(())
    })
    .await;
    let summary = h.store().db().summary().unwrap();
    assert!(summary.reconcile_repairs >= 1, "status reports the repair");
    h.stop_service().await;
}

async fn server_errors_and_timeouts_are_retried_to_success(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let post = h.portal.create_post("Retry me please", "x");
    h.linear.set_faults(roundtrip::sim::faults::ApiFaults {
        server_error: 1.0,
        ..Default::default()
    });
    h.portal.set_stage(&post, Stage::Planned);
    // The create fails while Linear answers 5xx…
    eventually("a failed attempt", 20, async || {
        let s = h.store();
        let jobs = s.db().jobs(&JobFilter::default(), Window::first(10)).ok()?;
        let j = jobs.first()?;
        (!s.db().attempts(j.id).ok()?.is_empty()).then_some(())
    })
    .await;
    // …then Linear recovers and the retry succeeds, once.
    h.linear
        .set_faults(roundtrip::sim::faults::ApiFaults::default());
    let issue = eventually("link after retries", 40, async || h.linked_issue(&post)).await;
    assert!(h.linear_record(&issue).await.is_some());
    let s = h.store();
    let jobs = s
        .db()
        .jobs(
            &JobFilter {
                status: Some(JobStatus::Succeeded),
                error_class: None,
            },
            Window::first(10),
        )
        .unwrap();
    let create = jobs
        .iter()
        .find(|j| j.kind == roundtrip::domain::JobKind::Create)
        .expect("create job");
    let attempts = s.db().attempts(create.id).unwrap();
    assert!(attempts.len() >= 2, "retried: {attempts:?}");
    assert!(
        attempts
            .iter()
            .any(|a| a.error_class == Some(roundtrip::domain::ErrorClass::Server))
    );
    assert_eq!(
        h.linear
            .issues()
            .iter()
            .filter(|i| i.title == "Retry me please")
            .count(),
        1
    );
    h.stop_service().await;
}

async fn mass_delete_guard_pauses_deletes_until_resumed(kind: PortalKind) {
    let mut h = Harness::start(Setup {
        delete_policy: roundtrip::sync::DeletePolicy::Mirror,
        mass_delete_guard: 2,
        ..setup(kind)
    })
    .await;
    let mut pairs = Vec::new();
    for i in 0..4 {
        let post = h.portal.create_post(&format!("Big idea number {i}"), "x");
        h.portal.set_stage(&post, Stage::Planned);
        let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
        pairs.push((post, issue));
    }
    eventually("all settled", 20, async || {
        let s = h.store();
        let busy = pairs.iter().any(|(p, _)| {
            s.db()
                .link_by_remote(Side::Portal, p)
                .ok()
                .flatten()
                .is_none_or(|l| s.db().link_has_pending_jobs(l.id).unwrap_or(true))
        });
        (!busy).then_some(())
    })
    .await;
    for (post, _) in &pairs {
        h.portal.delete_post(post);
    }
    let paused = eventually("deletes to pause", 20, async || {
        h.store().db().summary().ok()?.deletes_paused
    })
    .await;
    assert!(paused.contains("paused"), "{paused}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let live = |h: &Harness| {
        let linear = h.linear.issues();
        pairs
            .iter()
            .filter(|(_, i)| {
                linear
                    .iter()
                    .any(|x| &x.id == i && !x.trashed && x.archived_at.is_none())
            })
            .count()
    };
    assert_eq!(live(&h), 2, "only the deletes within the guard propagated");
    // The operator checks the portal, then resumes; reconcile applies the rest.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["resume", "deletes", "--db"])
        .arg(h.db_arg())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    h.service
        .as_ref()
        .unwrap()
        .engine
        .reconcile_once()
        .await
        .unwrap();
    eventually("held deletes applied", 20, async || {
        (live(&h) == 0).then_some(())
    })
    .await;
    h.stop_service().await;
}

async fn tag_and_label_names_match_without_regard_to_case(kind: PortalKind) {
    let mut h = Harness::start(setup(kind)).await;
    let post = h.portal.create_post("Crash on save", "x");
    h.portal.add_tag(&post, "bug");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
    eventually("Linear to carry its Bug label", 20, async || {
        let r = h.linear_record(&issue).await?;
        r.labels.contains("Bug").then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    h.service
        .as_ref()
        .unwrap()
        .engine
        .reconcile_once()
        .await
        .unwrap();
    h.wait_quiet(Duration::from_millis(300), 20).await;
    let tags = h.portal.post(&post).unwrap().tags;
    assert_eq!(
        tags.into_iter().collect::<Vec<_>>(),
        vec!["bug".to_string()]
    );
    let jobs = h
        .store()
        .db()
        .jobs(&JobFilter::default(), Window::first(50))
        .unwrap();
    assert!(
        !jobs
            .iter()
            .any(|j| j.target == Side::Portal && j.kind == roundtrip::domain::JobKind::Update),
        "no write back for a difference in case: {jobs:?}"
    );
    h.stop_service().await;
}
