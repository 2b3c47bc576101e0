//! The core promise under races and bad answers (issue CONVERGENCE), one
//! test per failure it names, each over loopback against both simulators:
//! a 429 costs only its wait; a refused value is written once, shown, never
//! looped, and a link that keeps failing is paused; an edit landing while
//! the engine writes the other side's edit is kept or shown in a conflict;
//! stale reads never revert an edit; comments are not duplicated by lost
//! answers; a resolution applies the chosen side's current value; voters
//! are not told about a Done that was reopened; markers cannot be forged.
//! The tests of what every portal does run once against Canny and once
//! against Fider; the rest exercise what Canny alone has (per-second 429s,
//! `shouldNotifyVoters`, edit webhooks to race against).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod harness;
}

use std::time::{Duration, Instant};

use roundtrip::domain::{ConflictReason, FieldValue, JobStatus, Side};
use roundtrip::ops::conflicts::Choice;
use roundtrip::sim::faults::ApiFaults;
use roundtrip::sim::journal::{JournalKind, JournalValue};
use roundtrip::store::{JobFilter, Window};
use support::harness::{Harness, PortalKind, Setup, Stage, eventually};

crate::portal_tests!(
    a_link_that_keeps_failing_is_paused_by_its_circuit_breaker,
    comments_are_never_duplicated_when_answers_are_lost,
    a_resolution_applies_the_chosen_sides_current_value_or_asks_again,
    a_comment_ending_like_a_mirror_marker_is_mirrored_and_pairs_nothing,
);

fn setup(portal: PortalKind) -> Setup {
    Setup {
        portal,
        ..Setup::default()
    }
}

/// Approve a post and wait until its link is active and quiet.
async fn linked(h: &Harness, title: &str) -> (String, String) {
    let post = h.portal.create_post(title, "Details");
    h.portal.set_stage(&post, Stage::Planned);
    let issue = eventually("link", 20, async || h.linked_issue(&post)).await;
    h.wait_quiet(Duration::from_millis(300), 20).await;
    (post, issue)
}

fn jobs(h: &Harness, status: JobStatus) -> Vec<roundtrip::store::Job> {
    h.store()
        .db()
        .jobs(
            &JobFilter {
                status: Some(status),
                error_class: None,
            },
            Window::first(1000),
        )
        .expect("jobs")
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_429_costs_only_its_wait_and_every_edit_still_arrives() {
    let mut h = Harness::start(Setup::default()).await;
    let (post, issue) = linked(&h, "Rate limited").await;
    // Every portal request is answered 429 + Retry-After: 1 for a while.
    h.canny().set_faults(ApiFaults {
        rate_limited: 1.0,
        ..ApiFaults::default()
    });
    let before = h.canny().stats();
    h.canny().set_title(&post, "Edited during 429s").unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let during = h.canny().stats();
    // One probe per Retry-After, not a storm (and not silence either).
    let sent = during.requests - before.requests;
    assert!(
        (1..=6).contains(&sent),
        "{sent} portal requests in 2.5 s of 429s"
    );
    assert!(during.rate_limited > before.rate_limited);
    h.canny().set_faults(ApiFaults::default());
    let healed = Instant::now();
    eventually(
        "the edit made during the 429s reaches Linear",
        10,
        async || {
            let r = h.linear_record(&issue).await?;
            (r.title == "Edited during 429s").then_some(())
        },
    )
    .await;
    assert!(
        healed.elapsed() < Duration::from_secs(3),
        "caught up {:?} after the 429s stopped (Retry-After is 1 s)",
        healed.elapsed()
    );
    // Traffic keeps flowing: later edits arrive promptly too.
    for i in 0..3 {
        let title = format!("After the 429s {i}");
        h.canny().set_title(&post, &title).unwrap();
        eventually("a later edit reaches Linear", 5, async || {
            let r = h.linear_record(&issue).await?;
            (r.title == title).then_some(())
        })
        .await;
    }
    // A 429 without limit headers was never stored as a quota of zero.
    let quota = h.store().db().latest_quota().unwrap();
    assert!(
        quota
            .iter()
            .all(|q| q.connector != Side::Portal || q.limit > 0),
        "{quota:?}"
    );
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_value_is_sent_once_shown_as_cannot_write_and_retried_only_after_a_change() {
    let mut h = Harness::start(Setup::default()).await;
    let (post, issue) = linked(&h, "Refused title").await;
    // Both edits reach the engine in one merge, so one write carries both
    // fields; Linear refuses it for the blank title.
    h.canny().set_webhook_url(None);
    h.canny().set_title(&post, "   ").unwrap();
    h.canny().set_details(&post, "New details").unwrap();
    h.engine().reconcile_once().await.unwrap();
    let conflict = eventually("a cannot-write conflict", 10, async || {
        h.open_conflicts()
            .into_iter()
            .find(|c| c.kind == ConflictReason::Refused)
    })
    .await;
    assert_eq!(conflict.field, "title");
    assert_eq!(conflict.kind_side, Some(Side::Linear));
    assert!(
        conflict
            .note
            .as_deref()
            .is_some_and(|n| n.contains("title must not be empty")),
        "{conflict:?}"
    );
    // The field Linear accepts still landed.
    eventually("the description reaches Linear", 10, async || {
        let r = h.linear_record(&issue).await?;
        r.description.contains("New details").then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 10).await;
    let updates = h.linear.requests_to("RoundtripIssueUpdate");
    let requests = h.linear.counters().requests;
    // Nothing is planned again while nobody changes the field.
    h.engine().reconcile_once().await.unwrap();
    h.wait_quiet(Duration::from_millis(800), 10).await;
    assert_eq!(h.linear.requests_to("RoundtripIssueUpdate"), updates);
    assert!(
        h.linear.counters().requests - requests <= 3,
        "only the reconcile listing"
    );
    let failed = jobs(&h, JobStatus::Failed);
    assert!(failed.len() <= 2, "{failed:?}");
    // Visible to the operator: status and the CLI say "cannot write".
    let health = roundtrip::health::assess(
        &h.store().db().summary().unwrap(),
        roundtrip::store::now_ms(),
    );
    assert!(
        health.reasons.iter().any(|r| r.contains("refused")),
        "{health:?}"
    );
    let out = assert_cmd::Command::cargo_bin("roundtrip")
        .unwrap()
        .args(["conflicts", "list", "--db"])
        .arg(h.db_arg())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("cannot write"), "{listing}");
    // The portal fixes the title: the refusal is superseded and it syncs.
    h.canny().set_webhook_url(Some(format!(
        "http://{}/webhooks/canny",
        h.service.as_ref().unwrap().addr
    )));
    h.canny().set_title(&post, "A proper title").unwrap();
    eventually("the fixed title reaches Linear", 10, async || {
        let r = h.linear_record(&issue).await?;
        (r.title == "A proper title").then_some(())
    })
    .await;
    eventually("the cannot-write conflict closes", 10, async || {
        h.open_conflicts().is_empty().then_some(())
    })
    .await;
    h.stop_service().await;
}

async fn a_link_that_keeps_failing_is_paused_by_its_circuit_breaker(portal: PortalKind) {
    // One attempt per job, so every write whose answer is lost fails for good.
    let mut h = Harness::start(Setup {
        portal,
        max_attempts: 1,
        ..Setup::default()
    })
    .await;
    let (post, issue) = linked(&h, "Keeps failing").await;
    h.linear.lose_next_answers("RoundtripIssueUpdate", 3);
    for i in 0..3 {
        h.portal.set_title(&post, &format!("Attempt number {i}"));
        h.edits_reconciled().await;
        eventually("the write to fail", 15, async || {
            (jobs(&h, JobStatus::Dead).len() > i).then_some(())
        })
        .await;
    }
    let tripped = eventually("the breaker trips", 10, async || {
        let s = h.store().db().summary().ok()?;
        (!s.tripped_links.is_empty()).then_some(s.tripped_links)
    })
    .await;
    let link = h
        .store()
        .db()
        .link_by_remote(Side::Portal, &post)
        .unwrap()
        .unwrap();
    assert!(
        tripped[0].starts_with(&format!("{} (", link.label())),
        "{tripped:?}"
    );
    assert!(tripped[0].contains("3 failed writes"), "{tripped:?}");
    // While it is open, nothing more is planned for the link.
    let planned = h
        .store()
        .db()
        .jobs(&JobFilter::default(), Window::first(1000))
        .unwrap()
        .len();
    h.portal.set_title(&post, "Edited while paused");
    h.edits_reconciled().await;
    h.wait_quiet(Duration::from_millis(800), 10).await;
    let after = h
        .store()
        .db()
        .jobs(&JobFilter::default(), Window::first(1000))
        .unwrap()
        .len();
    assert_eq!(after, planned, "a paused link plans no writes");
    let health = roundtrip::health::assess(
        &h.store().db().summary().unwrap(),
        roundtrip::store::now_ms(),
    );
    assert!(
        health.reasons.iter().any(|r| r.contains("circuit breaker")),
        "{health:?}"
    );
    // An operator retries the last write; it lands, the breaker closes and
    // the edit made while paused follows.
    let last = jobs(&h, JobStatus::Dead)
        .into_iter()
        .map(|j| j.id)
        .max()
        .unwrap();
    {
        let mut s = h.store_rw();
        s.write(|db| roundtrip::ops::jobs::retry(db, &[last]))
            .unwrap();
    }
    eventually("the breaker closes", 15, async || {
        let s = h.store().db().summary().ok()?;
        s.tripped_links.is_empty().then_some(())
    })
    .await;
    h.engine().reconcile_once().await.unwrap();
    eventually(
        "the edit made while paused reaches Linear",
        15,
        async || {
            let r = h.linear_record(&issue).await?;
            (r.title == "Edited while paused").then_some(())
        },
    )
    .await;
    h.stop_service().await;
}

/// Wait until the engine's next request of `operation` has arrived at the
/// Linear simulator (where the injected latency holds it before it runs),
/// then edit: the edit lands just before that request executes.
async fn edit_inside(h: &Harness, operation: &str, before: u64, edit: impl FnOnce()) {
    eventually("the engine's write to arrive", 10, async || {
        (h.linear.requests_to(operation) > before).then_some(())
    })
    .await;
    edit();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_landing_while_the_other_sides_edit_is_written_is_never_lost() {
    let mut h = Harness::start(Setup::default()).await;
    // Titles, both directions, the second edit 50 ms after the first.
    let mut pairs = Vec::new();
    for i in 0..4 {
        pairs.push(linked(&h, &format!("Race {i}")).await);
    }
    for (i, (post, issue)) in pairs.iter().enumerate() {
        let (p, l) = (format!("portal {i}"), format!("linear {i}"));
        if i % 2 == 0 {
            h.canny().set_title(post, &p).unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            h.linear.set_title(issue, &l).unwrap();
        } else {
            h.linear.set_title(issue, &l).unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            h.canny().set_title(post, &p).unwrap();
        }
    }
    h.wait_quiet(Duration::from_millis(500), 20).await;
    let conflicts = h.open_conflicts();
    for (i, (post, issue)) in pairs.iter().enumerate() {
        let (p, l) = (format!("portal {i}"), format!("linear {i}"));
        let later = if i % 2 == 0 { &l } else { &p };
        let portal = h.canny().post(post).unwrap().title;
        let linear = h.linear.issue(issue).unwrap().title;
        let link = h
            .store()
            .db()
            .link_by_remote(Side::Portal, post)
            .unwrap()
            .unwrap();
        let shown = conflicts
            .iter()
            .find(|c| c.link_id == link.id && c.field == "title");
        match shown {
            Some(c) => assert!(
                c.portal == text(&p) && c.linear == text(&l),
                "pair {i}: the conflict shows both edits: {c:?}"
            ),
            None => assert!(
                portal == *later && linear == *later,
                "pair {i}: the later edit won on both sides (portal '{portal}', Linear '{linear}')"
            ),
        }
    }

    // Labels: portal +ux, Linear +Feature 50 ms later; and a removal on
    // one side while the other adds.
    let (post, issue) = &pairs[0];
    h.linear_conn.create_label("Feature").await.unwrap();
    h.linear_conn.create_label("Backend").await.unwrap();
    h.canny().add_tag(post, "ux").unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.linear.add_label(issue, "Feature").unwrap();
    h.wait_quiet(Duration::from_millis(400), 20).await;
    let tags = |h: &Harness| {
        let mut t: Vec<String> = h
            .canny()
            .post(post)
            .unwrap()
            .tags
            .iter()
            .map(|t| t.to_lowercase())
            .collect();
        t.sort();
        t
    };
    let labels = |h: &Harness| {
        let mut l: Vec<String> = h.linear.read(|s| {
            let i = s.issue(issue).unwrap().clone();
            i.label_ids
                .iter()
                .filter_map(|id| s.label(id).map(|l| l.name.to_lowercase()))
                .collect()
        });
        l.sort();
        l
    };
    assert_eq!(tags(&h), ["feature", "ux"]);
    assert_eq!(labels(&h), ["feature", "ux"]);
    h.canny().remove_tag(post, "ux").unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    h.linear.add_label(issue, "Backend").unwrap();
    h.wait_quiet(Duration::from_millis(400), 20).await;
    assert_eq!(tags(&h), ["backend", "feature"]);
    assert_eq!(labels(&h), ["backend", "feature"]);
    // Every label write was a delta, never a replacement of the set.
    let replaced = h.linear.journal().into_iter().any(|e| {
        e.by_api
            && matches!(&e.kind, JournalKind::Field { field: "labels", before: JournalValue::Set(b), after: JournalValue::Set(a) }
                if b.iter().any(|x| !a.contains(x)) && a.iter().any(|x| !b.contains(x)))
    });
    assert!(!replaced, "a label write replaced the set");
    h.stop_service().await;

    // The read-to-write window on Linear: a Linear edit that lands after
    // the engine re-read the issue but before its write executes is
    // replaced — and recovered from the write's own `updatedFrom`.
    let mut h = Harness::start(Setup {
        linear_latency: Duration::from_millis(300),
        ..Setup::default()
    })
    .await;
    let (post, issue) = linked(&h, "Window").await;
    h.linear_conn.create_label("Feature").await.unwrap();
    h.linear_conn.create_label("Backend").await.unwrap();
    let before = h.linear.requests_to("RoundtripIssueUpdate");
    h.canny().set_title(&post, "Portal edit").unwrap();
    edit_inside(&h, "RoundtripIssueUpdate", before, || {
        h.linear
            .set_title(&issue, "Linear edit in the window")
            .unwrap();
    })
    .await;
    let c = eventually("the overwritten edit in a conflict", 15, async || {
        h.open_conflicts().into_iter().find(|c| c.field == "title")
    })
    .await;
    assert_eq!(c.kind, ConflictReason::Overwritten, "{c:?}");
    assert_eq!(c.linear, text("Linear edit in the window"));
    assert_eq!(c.portal, text("Portal edit"));
    assert_eq!(c.kind_side, Some(Side::Linear));
    // Just before the engine re-reads the issue for its write: the re-read
    // sees the edit, nothing is written over it, and the merge asks.
    let (post2, issue2) = linked(&h, "Window 2").await;
    let reads = h.linear.requests_to("RoundtripIssuesByIds");
    h.canny().set_title(&post2, "Portal edit 2").unwrap();
    edit_inside(&h, "RoundtripIssuesByIds", reads, || {
        h.linear
            .set_title(&issue2, "Linear edit before the re-read")
            .unwrap();
    })
    .await;
    let link2 = h
        .store()
        .db()
        .link_by_remote(Side::Portal, &post2)
        .unwrap()
        .unwrap();
    let c = eventually("both edits in a conflict", 15, async || {
        h.open_conflicts()
            .into_iter()
            .find(|c| c.link_id == link2.id && c.field == "title")
    })
    .await;
    assert_eq!(c.kind, ConflictReason::BothChanged, "{c:?}");
    assert_eq!(c.linear, text("Linear edit before the re-read"));
    assert_eq!(c.portal, text("Portal edit 2"));
    assert_eq!(
        h.linear.issue(&issue2).unwrap().title,
        "Linear edit before the re-read"
    );
    // Labels added on Linear while the engine writes the portal's tag: one
    // just before the engine re-reads the issue, one inside its write.
    // Neither is lost, because a set is written as a delta against what
    // the plan saw, never as a replacement.
    let reads = h.linear.requests_to("RoundtripIssuesByIds");
    h.canny().add_tag(&post, "ux").unwrap();
    edit_inside(&h, "RoundtripIssuesByIds", reads, || {
        h.linear.add_label(&issue, "Feature").unwrap();
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    let writes = h.linear.requests_to("RoundtripIssueUpdate");
    h.canny().add_tag(&post, "docs").unwrap();
    edit_inside(&h, "RoundtripIssueUpdate", writes, || {
        h.linear.add_label(&issue, "Backend").unwrap();
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    let mut tags: Vec<String> = h
        .canny()
        .post(&post)
        .unwrap()
        .tags
        .iter()
        .map(|t| t.to_lowercase())
        .collect();
    tags.sort();
    assert_eq!(tags, ["backend", "docs", "feature", "ux"]);
    let mut labels: Vec<String> = h.linear.read(|s| {
        let i = s.issue(&issue).unwrap().clone();
        i.label_ids
            .iter()
            .filter_map(|id| s.label(id).map(|l| l.name.to_lowercase()))
            .collect()
    });
    labels.sort();
    assert_eq!(labels, ["backend", "docs", "feature", "ux"]);
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_reads_never_revert_an_edit_or_freeze_a_link() {
    let mut h = Harness::start(Setup::default()).await;
    let mut pairs = Vec::new();
    for i in 0..5 {
        pairs.push(linked(&h, &format!("Stale {i}")).await);
    }
    let start = roundtrip::sim::journal::next_seq();
    for round in 0..2 {
        for (i, (post, issue)) in pairs.iter().enumerate() {
            h.canny()
                .set_title(post, &format!("portal title {round}.{i}"))
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            h.linear
                .set_description(issue, Some(&format!("linear description {round}.{i}")))
                .unwrap();
        }
        h.wait_quiet(Duration::from_millis(400), 20).await;
    }
    assert!(h.open_conflicts().is_empty(), "{:?}", h.open_conflicts());
    for (i, (post, issue)) in pairs.iter().enumerate() {
        let p = h.canny().post(post).unwrap();
        let l = h.linear.issue(issue).unwrap();
        assert_eq!(p.title, format!("portal title 1.{i}"));
        assert_eq!(l.title, format!("portal title 1.{i}"));
        assert_eq!(p.details, format!("linear description 1.{i}"));
        assert!(
            l.description
                .as_deref()
                .is_some_and(|d| d.starts_with(&format!("linear description 1.{i}"))),
            "{:?}",
            l.description
        );
    }
    // No write carried a field its source did not change: the engine wrote
    // only titles to Linear and only descriptions to the portal.
    for e in h
        .linear
        .journal()
        .into_iter()
        .filter(|e| e.seq > start && e.by_api)
    {
        if let JournalKind::Field { field, .. } = &e.kind {
            assert_eq!(*field, "title", "engine wrote {e:?} to Linear");
        }
    }
    for e in h
        .canny()
        .journal()
        .into_iter()
        .filter(|e| e.seq > start && e.by_api)
    {
        if let JournalKind::Field { field, .. } = &e.kind {
            assert_eq!(*field, "details", "engine wrote {e:?} to the portal");
        }
    }
    h.stop_service().await;
}

async fn comments_are_never_duplicated_when_answers_are_lost(portal: PortalKind) {
    let mut h = Harness::start(setup(portal)).await;
    let (post, issue) = linked(&h, "Lost answers").await;
    // The next two commentCreate answers never arrive (the comments are
    // made), so the engine retries both.
    h.linear.lose_next_answers("RoundtripCommentCreate", 2);
    for i in 0..4 {
        h.portal.add_comment(&post, &format!("Portal comment {i}"));
    }
    eventually("four mirrored comments", 30, async || {
        (h.linear.comments(&issue).len() >= 4).then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 30).await;
    let comments = h.linear.comments(&issue);
    assert_eq!(comments.len(), 4, "{comments:?}");
    for i in 0..4 {
        let body = format!("Portal comment {i}");
        assert_eq!(
            comments.iter().filter(|c| c.body.contains(&body)).count(),
            1,
            "{body}"
        );
    }
    // Both lost answers were retried: looked up by client id, not re-posted.
    assert!(h.linear.counters().timeouts >= 2);
    assert!(
        h.linear.requests_to("RoundtripComment") >= 2,
        "retries looked the copy up"
    );
    assert!(h.portal.comments(&post).len() == 4, "nothing mirrored back");
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_comment_whose_answer_was_lost_is_found_not_posted_again() {
    let mut h = Harness::start(Setup::default()).await;
    let (post, issue) = linked(&h, "Lost portal answer").await;
    // Canny's comments/create takes no client id: the retry looks for the
    // copy by its exact text before posting.
    h.canny().lose_next_reply("comments/create");
    h.linear.add_comment(&issue, "Shipping on Friday").unwrap();
    eventually("the comment reaches the portal", 20, async || {
        h.canny()
            .comments(&post)
            .iter()
            .any(|c| c.value.contains("Shipping on Friday"))
            .then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(500), 20).await;
    let copies = h
        .canny()
        .comments(&post)
        .into_iter()
        .filter(|c| c.value.contains("Shipping on Friday"))
        .count();
    assert_eq!(copies, 1);
    assert_eq!(h.linear.comments(&issue).len(), 1, "nothing mirrored back");
    let retried = jobs(&h, JobStatus::Succeeded)
        .into_iter()
        .any(|j| j.kind == roundtrip::domain::JobKind::Comment && j.attempts >= 2);
    assert!(retried, "the lost answer was retried");
    h.stop_service().await;
}

async fn a_resolution_applies_the_chosen_sides_current_value_or_asks_again(portal: PortalKind) {
    let mut h = Harness::start(setup(portal)).await;
    let (post, issue) = linked(&h, "Resolve this one").await;
    h.webhooks(false);
    // Titles of 10 bytes and more: Fider refuses shorter ones.
    h.portal.set_title(&post, "Portal edit 1");
    h.linear.set_title(&issue, "Linear edit 1").unwrap();
    h.engine().reconcile_once().await.unwrap();
    let c = eventually("a conflict", 10, async || h.open_conflicts().pop()).await;
    assert_eq!(
        (c.portal.clone(), c.linear.clone()),
        (text("Portal edit 1"), text("Linear edit 1"))
    );
    // The portal edits again; the conflict shows its current value.
    h.portal.set_title(&post, "Portal edit 2");
    h.engine().reconcile_once().await.unwrap();
    eventually("the conflict shows the second edit", 10, async || {
        let c = h.open_conflicts().pop()?;
        (c.portal == text("Portal edit 2")).then_some(())
    })
    .await;
    // The portal changes once more after the operator looked (webhooks off,
    // so the engine has not seen it): the decision is not applied with a
    // value the operator never saw; the conflict asks again.
    h.portal.set_title(&post, "Portal edit 3");
    let resolve = |id: i64| {
        let mut s = h.store_rw();
        let report = s
            .write(|db| roundtrip::ops::conflicts::resolve(db, &[id], &Choice::Portal))
            .unwrap();
        assert!(report.refused.is_empty(), "{}", report.one_line());
    };
    resolve(c.id);
    let again = eventually("the conflict asks again", 10, async || {
        let c = h.open_conflicts().pop()?;
        (c.portal == text("Portal edit 3")).then_some(c)
    })
    .await;
    assert_eq!(again.id, c.id);
    assert!(
        again
            .note
            .as_deref()
            .is_some_and(|n| n.contains("decide again")),
        "{again:?}"
    );
    assert_eq!(
        h.linear.issue(&issue).unwrap().title,
        "Linear edit 1",
        "nothing written"
    );
    // Decided on what it shows now: the third edit goes to both sides.
    resolve(again.id);
    eventually("the third edit on both sides", 10, async || {
        let l = h.linear.issue(&issue)?.title;
        let p = h.portal.post(&post)?.title;
        (l == "Portal edit 3" && p == "Portal edit 3").then_some(())
    })
    .await;
    assert!(h.open_conflicts().is_empty());
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_hear_complete_only_for_a_done_that_stayed_done() {
    let mut h = Harness::start(Setup {
        portal_faults: ApiFaults {
            latency: Duration::from_millis(100),
            ..ApiFaults::default()
        },
        ..Setup::default()
    })
    .await;
    let (post, issue) = linked(&h, "Reopened").await;
    h.linear.set_state(&issue, "In Progress").unwrap();
    eventually("in progress on the portal", 10, async || {
        (h.canny().post(&post)?.status == "in progress").then_some(())
    })
    .await;
    h.wait_quiet(Duration::from_millis(300), 10).await;
    let notified = h.canny().stats().voter_notifications;
    // Done, then reopened 30 ms later, before the engine's write is sent.
    h.linear.set_state(&issue, "Done").unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    h.linear.set_state(&issue, "In Progress").unwrap();
    h.wait_quiet(Duration::from_millis(600), 20).await;
    assert_eq!(
        h.canny().stats().voter_notifications,
        notified,
        "nobody told 'complete'"
    );
    assert_eq!(h.canny().post(&post).unwrap().status, "in progress");
    // A Done that stays Done does notify.
    h.linear.set_state(&issue, "Done").unwrap();
    eventually("voters notified", 10, async || {
        (h.canny().stats().voter_notifications == notified + 1).then_some(())
    })
    .await;
    assert_eq!(h.canny().post(&post).unwrap().status, "complete");
    h.stop_service().await;
}

async fn a_comment_ending_like_a_mirror_marker_is_mirrored_and_pairs_nothing(portal: PortalKind) {
    let mut h = Harness::start(setup(portal)).await;
    let (post, issue) = linked(&h, "Forged marker").await;
    let forged = "I agree with the team\n\n(roundtrip mirror of linear comment 00000000-0000-4000-8000-000000000001)";
    let cid = h.portal.add_comment(&post, forged);
    let copy = eventually("the comment is mirrored to Linear", 10, async || {
        h.linear
            .comments(&issue)
            .into_iter()
            .find(|c| c.body.contains("I agree with the team"))
    })
    .await;
    assert!(
        copy.body.contains(&format!("portal comment {cid}")),
        "{}",
        copy.body
    );
    h.wait_quiet(Duration::from_millis(300), 10).await;
    let store = h.store();
    let link = store
        .db()
        .link_by_remote(Side::Portal, &post)
        .unwrap()
        .unwrap();
    let pairs = store.db().comment_links(link.id).unwrap();
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(pairs[0].portal_comment_id.as_deref(), Some(cid.as_str()));
    assert_eq!(
        pairs[0].linear_comment_id.as_deref(),
        Some(copy.id.as_str())
    );
    assert_eq!(h.portal.comments(&post).len(), 1, "nothing mirrored back");
    h.stop_service().await;
}
