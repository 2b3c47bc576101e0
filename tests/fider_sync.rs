//! What only Fider does, end to end against the simulators over loopback:
//! a webhook that turned itself off after one failed delivery is noticed —
//! in `status`, `/healthz` and the summary the console reads, with how to
//! turn it back on — while reconcile keeps both sides in sync; edits, which
//! Fider never announces, are not mistaken for missed deliveries; a post an
//! admin marks a duplicate hands its link to the original; and a title
//! Fider refuses is a failed job that says why, not a retry loop.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop with its message

mod support {
    pub mod harness;
    pub mod status;
}

use std::time::Duration;

use roundtrip::connector::fider::{SecretIn, webhook_templates};
use roundtrip::domain::{ErrorClass, JobKind, JobStatus, Side};
use roundtrip::store::{JobFilter, LinkState, Window};
use support::harness::{FIDER_SECRET, Harness, PortalKind, Setup, eventually};
use support::status::status_of;

fn fider(webhook_silence: Duration) -> Setup {
    Setup {
        portal: PortalKind::Fider,
        webhook_silence,
        ..Setup::default()
    }
}

async fn linked_pair(h: &Harness, title: &str) -> (String, String) {
    let pair = h.linked_pair(title).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    pair
}

fn status(h: &Harness) -> (i32, String) {
    status_of(h.db_arg())
}

/// The admin's webhooks as roundtrip's template says, except that the
/// `new_comment` one presents a wrong secret: roundtrip refuses its first
/// delivery (401), and Fider turns it off.
fn misconfigure_new_comment(h: &Harness) {
    let f = h.fider();
    f.remove_webhooks();
    let base = format!("http://{}", h.addr());
    let header = SecretIn::Header(roundtrip::config::DEFAULT_SECRET_HEADER.into());
    for t in webhook_templates(&base, &header, FIDER_SECRET) {
        let secret = if t.kind == "new_comment" {
            "typo"
        } else {
            FIDER_SECRET
        };
        let headers: Vec<(String, String)> = t
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if v == FIDER_SECRET {
                        secret.into()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        f.add_webhook(t.kind, &t.url, &t.content, &headers).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_fider_turned_off_is_reported_with_the_way_back() {
    let mut h = Harness::start(fider(Duration::from_millis(1))).await;
    let (post, issue) = linked_pair(&h, "Webhooks that fall silent").await;
    // Edits arrive only by reconcile: not a missed delivery.
    h.portal.set_title(&post, "Webhooks that fall quiet");
    let report = h.engine().reconcile_once().await.unwrap();
    assert_eq!(report.repaired, 0, "{report:?}");
    let summary = h.store().db().summary().unwrap();
    let watch = summary
        .portal_webhooks
        .clone()
        .expect("the engine watches Fider's webhooks");
    assert_eq!(watch.webhooks.len(), 4);
    assert!(
        watch.webhooks.iter().all(|w| w.missed.is_none()),
        "{watch:?}"
    );
    let seen = watch
        .webhooks
        .iter()
        .find(|w| w.event == "change_status")
        .unwrap();
    assert!(
        seen.last_delivery_ms.is_some(),
        "the status change was delivered"
    );
    let (code, text) = status(&h);
    assert_eq!(code, 0, "healthy: {text}");

    h.wait_quiet(Duration::from_millis(300), 20).await;
    misconfigure_new_comment(&h);
    h.portal.add_comment(&post, "Is this still planned?");
    eventually(
        "Fider to turn the new_comment webhook off",
        20,
        async || {
            h.fider()
                .webhooks()
                .iter()
                .any(|w| w.kind == "new_comment" && w.failed)
                .then_some(())
        },
    )
    .await;
    let report = h.engine().reconcile_once().await.unwrap();
    assert_eq!(
        report.repaired, 1,
        "the comment came by reconcile: {report:?}"
    );
    eventually("the comment to reach Linear anyway", 20, async || {
        h.linear
            .comments(&issue)
            .iter()
            .any(|c| c.body.contains("Is this still planned?"))
            .then_some(())
    })
    .await;
    let (code, text) = status(&h);
    assert_eq!(code, 1, "degraded: {text}");
    assert!(
        text.contains("no Fider `new_comment` webhook delivery"),
        "{text}"
    );
    assert!(text.contains("got a comment"), "{text}");
    assert!(
        text.contains("/admin/webhooks") && text.contains("switch Enabled on"),
        "{text}"
    );
    let healthz = reqwest::get(format!("http://{}/healthz", h.addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        healthz.contains("no Fider `new_comment` webhook delivery"),
        "{healthz}"
    );
    let reasons = roundtrip::health::assess(
        &h.store().db().summary().unwrap(),
        roundtrip::store::now_ms(),
    )
    .reasons;
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("webhook delivery for"))
            .count(),
        1,
        "only the silent webhook: {reasons:?}"
    );

    // The admin fixes the secret and turns it on: the next delivery clears it.
    h.point_webhooks(h.addr());
    h.portal.add_comment(&post, "Thanks for the update!");
    eventually("the warning to clear", 20, async || {
        let s = h.store().db().summary().ok()?;
        let w = s.portal_webhooks?;
        w.webhooks.iter().all(|w| w.missed.is_none()).then_some(())
    })
    .await;
    // The next pass finds nothing webhooks missed.
    assert_eq!(h.engine().reconcile_once().await.unwrap().repaired, 0);
    let (code, text) = status(&h);
    assert_eq!(code, 0, "{text}");
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_marked_duplicate_in_fider_hands_its_link_to_the_original() {
    let mut h = Harness::start(fider(Duration::from_secs(600))).await;
    let (dup, issue) = linked_pair(&h, "Dark theme for the editor").await;
    let original = h.portal.create_post("Dark mode everywhere", "the original");
    let issues_before = h.linear.issues().len();
    h.fider().mark_duplicate(&dup, &original).unwrap();
    eventually("the link to follow the original post", 20, async || {
        (h.linked_issue(&original)? == issue).then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    assert_eq!(h.linear.issues().len(), issues_before, "no new issue");
    assert!(!h.linear_record(&issue).await.unwrap().deleted);
    // Marked duplicate of a post that has its own issue: the old link ends.
    let (dup2, issue2) = linked_pair(&h, "Night mode for the editor").await;
    h.fider().mark_duplicate(&dup2, &original).unwrap();
    eventually("the duplicate's link to end", 20, async || {
        let l = h
            .store()
            .db()
            .link_by_remote(Side::Linear, &issue2)
            .ok()??;
        (l.state == LinkState::Unlinked).then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(h.linked_issue(&original).as_deref(), Some(issue.as_str()));
    assert!(
        h.linear
            .comments(&issue2)
            .iter()
            .any(|c| c.body.contains("merged")),
        "the orphaned issue gets the note"
    );
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_title_fider_refuses_is_a_failed_job_that_says_why() {
    let mut h = Harness::start(Setup {
        create_in_portal_label: Some("Feature".into()),
        ..fider(Duration::from_secs(600))
    })
    .await;
    let issue = h
        .linear
        .create_issue("Dark mode", Some("short"), "Todo")
        .unwrap();
    h.linear.set_labels(&issue.id, &["Feature"]).unwrap();
    let job = eventually("the create to fail", 20, async || {
        h.store()
            .db()
            .jobs(
                &JobFilter {
                    status: Some(JobStatus::Failed),
                    error_class: None,
                },
                Window::first(10),
            )
            .ok()?
            .into_iter()
            .find(|j| j.kind == JobKind::Create && j.target == Side::Portal)
    })
    .await;
    assert_eq!(job.error_class, Some(ErrorClass::Validation));
    assert!(
        job.last_error
            .as_deref()
            .unwrap_or("")
            .contains("Fider takes 10 to 100"),
        "{job:?}"
    );
    h.wait_quiet(Duration::from_millis(300), 20).await;
    assert_eq!(
        h.store().db().job(job.id).unwrap().unwrap().attempts,
        1,
        "not retried"
    );
    assert!(h.portal.posts().is_empty());
    h.stop_service().await;
}
