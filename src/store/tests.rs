//! Store invariants: migrations, unique constraints, keyset pagination,
//! counters and operator intents.

use std::collections::BTreeMap;

use super::*;
use crate::domain::{Actor, ErrorClass, FieldValue, JobKind, JobStatus, Record, Side};
use crate::store::test_backends::on_both_backends;

fn job(link: Option<i64>) -> NewJob {
    NewJob {
        link_id: link,
        target: Side::Linear,
        kind: JobKind::Update,
        payload: "{}".into(),
        reason: "test".into(),
        lane: Lane::Live,
        max_attempts: 3,
    }
}

fn failed_attempt(class: ErrorClass) -> NewAttempt {
    NewAttempt {
        started_at: now_ms(),
        duration_ms: 12,
        http_status: Some(500),
        error_class: Some(class),
        message: Some("boom".into()),
        request_id: Some("req-1".into()),
    }
}

#[test]
fn migrates_from_empty_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let store = Store::open(&path, OpenMode::Create).unwrap();
    assert_eq!(store.version().unwrap(), migrations::LATEST);
    drop(store);
    let store = Store::open(&path, OpenMode::Existing).unwrap();
    assert_eq!(store.version().unwrap(), migrations::LATEST);
    let ro = Store::open(&path, OpenMode::ReadOnly).unwrap();
    assert!(ro.db().summary().is_ok());
}

#[test]
fn refuses_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let store = Store::open(&path, OpenMode::Create).unwrap();
    store
        .sqlite()
        .unwrap()
        .pragma_update(None, "user_version", migrations::LATEST + 5)
        .unwrap();
    drop(store);
    let err = Store::open(&path, OpenMode::Existing).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found, .. } if found == migrations::LATEST + 5));
    assert!(err.to_string().contains("newer"));
}

#[test]
fn refuses_non_database_and_missing_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    std::fs::write(
        &path,
        b"this is not sqlite at all, just some text that is long enough",
    )
    .unwrap();
    let err = Store::open(&path, OpenMode::Existing).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase(_)), "{err:?}");
    let err = Store::open(&dir.path().join("nope/rt.db"), OpenMode::Create).unwrap_err();
    assert!(
        matches!(err, StoreError::MissingDirectory { .. }),
        "{err:?}"
    );
    let err = Store::open(&dir.path().join("absent.db"), OpenMode::Existing).unwrap_err();
    assert!(matches!(err, StoreError::Missing(_)), "{err:?}");
}

on_both_backends! {
fn a_remote_id_is_linked_at_most_once(store) {
    let db = store.db();
    let base = BTreeMap::new();
    db.insert_link(Some("p1"), Some("l1"), None, LinkState::Active, "A", &base)
        .unwrap();
    assert!(
        db.insert_link(Some("p1"), Some("l2"), None, LinkState::Active, "B", &base)
            .is_err()
    );
    assert!(
        db.insert_link(Some("p2"), Some("l1"), None, LinkState::Active, "C", &base)
            .is_err()
    );
    // Pending links without one side's id do not collide with each other.
    db.insert_link(Some("p3"), None, Some("c3"), LinkState::Pending, "D", &base)
        .unwrap();
    db.insert_link(Some("p4"), None, Some("c4"), LinkState::Pending, "E", &base)
        .unwrap();
    assert_eq!(db.summary().unwrap().links, 3);
}
}

on_both_backends! {
fn a_delivery_is_stored_once_per_source(store) {
    let db = store.db();
    let d = NewDelivery {
        source: Side::Linear,
        delivery_id: "d-1".into(),
        event: "Issue".into(),
        record_id: Some("i1".into()),
        removed: false,
        signed_digest: None,
        evidence: None,
    };
    assert!(db.insert_delivery(&d).unwrap());
    assert!(!db.insert_delivery(&d).unwrap());
    let other = NewDelivery {
        source: Side::Portal,
        ..d.clone()
    };
    assert!(db.insert_delivery(&other).unwrap());
    assert_eq!(db.pending_deliveries(10).unwrap().len(), 2);
}
}

on_both_backends! {
fn keyset_pages_cover_every_row_once(store) {
    store
        .write(|db| {
            for i in 0..1000 {
                db.insert_job(&job(None))?;
                if i % 3 == 0 {
                    db.log_event(Level::Info, "test", &format!("event {i}"))?;
                }
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    for descending in [false, true] {
        let mut seen = Vec::new();
        let mut window = Window {
            from: None,
            limit: 64,
            descending,
        };
        loop {
            let page = store.db().jobs(&JobFilter::default(), window).unwrap();
            let Some(last) = page.last() else { break };
            window = window.after(last.id);
            seen.extend(page.iter().map(|j| j.id));
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
        assert_eq!(seen.len(), 1000);
    }
}
}

on_both_backends! {
fn a_console_page_and_the_names_of_its_links_cost_one_statement_each(store) {
    let statuses = [JobStatus::Failed, JobStatus::Dead, JobStatus::Queued];
    store
        .write(|db| {
            db.bulk_links((1..=300).map(|i| SeedLink {
                portal_id: Some(format!("p{i}")),
                linear_id: Some(format!("l{i}")),
                title: format!("link {i}"),
                base: BTreeMap::new(),
                at: i,
            }))?;
            db.bulk_jobs((1..=600).map(|i| SeedJob {
                link_id: Some(i % 300 + 1),
                target: Side::Linear,
                kind: JobKind::Update,
                status: statuses[(i % 3) as usize],
                attempts: 1,
                error_class: (i % 4 == 0).then_some(ErrorClass::Server),
                last_error: None,
                http_status: None,
                next_run_at: i,
                created_at: i,
            }))
        })
        .unwrap();
    let db = store.db();
    let attention = [JobStatus::Failed, JobStatus::Dead];
    for class in [None, Some(ErrorClass::Server)] {
        for window in [
            Window::first(100),
            Window::last(100),
            Window::first(50).after(200),
            Window::last(50).after(400),
        ] {
            // What one query per status, merged here, answers.
            let mut want: Vec<Job> = attention
                .iter()
                .flat_map(|s| {
                    let filter = JobFilter {
                        status: Some(*s),
                        error_class: class,
                    };
                    db.jobs(&filter, window).unwrap()
                })
                .collect();
            want.sort_by_key(|j| if window.descending { -j.id } else { j.id });
            want.truncate(window.limit);
            db.jobs_in_statuses(&attention, class, window).unwrap();
            let before = sql::statements_sent();
            let got = db.jobs_in_statuses(&attention, class, window).unwrap();
            assert_eq!(sql::statements_sent() - before, 1);
            assert_eq!(got, want, "{class:?} {window:?}");
        }
    }
    let ids: Vec<i64> = vec![250, 7, 9_999, 7, 120];
    db.links_by_id(&ids).unwrap();
    let before = sql::statements_sent();
    let named: Vec<i64> = db.links_by_id(&ids).unwrap().iter().map(|l| l.id).collect();
    assert_eq!(sql::statements_sent() - before, 1);
    assert_eq!(named, vec![7, 120, 250]);
    assert!(db.links_by_id(&[]).unwrap().is_empty());
    db.summary().unwrap();
    let before = sql::statements_sent();
    let s = db.summary().unwrap();
    let sent = sql::statements_sent() - before;
    assert!(sent <= 6, "the summary took {sent} statements");
    assert_eq!((s.links, s.jobs_in(JobStatus::Dead)), (300, 200));
    assert_eq!(db.counts().unwrap().jobs, s.jobs);
}
}

// SQLite's query plans; PostgreSQL's are checked by the P4 bench.
#[test]
fn console_queries_use_indexes() {
    let store = Store::open_in_memory().unwrap();
    let plan = |sql: &str| -> String {
        let mut stmt = store
            .sqlite()
            .unwrap()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows: Vec<String> = stmt
            .query_map((), |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.join("; ")
    };
    let p = plan("SELECT id FROM jobs WHERE status = 'failed' AND id > 5 ORDER BY id LIMIT 50");
    assert!(p.contains("jobs_status"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "{p}");
    let p = plan(
        "SELECT id FROM jobs WHERE status = 'failed' AND error_class = 'server' AND id > 5 ORDER BY id LIMIT 50",
    );
    assert!(p.contains("jobs_status_class"), "{p}");
    let p = plan("SELECT id FROM conflicts WHERE status = 'open' AND id > 5 ORDER BY id LIMIT 50");
    assert!(p.contains("conflicts_status"), "{p}");
    let p = plan(
        "SELECT id FROM events WHERE level IN ('error','warn') AND id < 99 ORDER BY id DESC LIMIT 50",
    );
    assert!(!p.contains("SCAN events"), "{p}");
}

on_both_backends! {
fn counters_follow_job_and_conflict_changes(store) {
    let link = store
        .db()
        .insert_link(
            Some("p"),
            Some("l"),
            None,
            LinkState::Active,
            "T",
            &BTreeMap::new(),
        )
        .unwrap();
    let j = store.db().insert_job(&job(Some(link))).unwrap();
    let claimed = store.db().claim_due_jobs(now_ms(), 10).unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .write(|db| {
            db.record_attempt(
                j,
                &failed_attempt(ErrorClass::Validation),
                JobStatus::Failed,
                now_ms(),
            )
        })
        .unwrap();
    let s = store.db().summary().unwrap();
    assert_eq!(s.jobs_in(JobStatus::Failed), 1);
    assert_eq!(s.jobs_in(JobStatus::Queued), 0);
    assert_eq!(s.jobs_in(JobStatus::Running), 0);
    let attempts = store.db().attempts(j).unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].error_class, Some(ErrorClass::Validation));
    assert_eq!(store.db().retry_jobs(&[j]).unwrap(), 1);
    assert_eq!(store.db().summary().unwrap().jobs_in(JobStatus::Queued), 1);

    let c = NewConflict {
        link_id: link,
        field: "title".into(),
        base: FieldValue::Text("a".into()),
        portal: FieldValue::Text("b".into()),
        linear: FieldValue::Text("c".into()),
        portal_changed_at: Some(1),
        linear_changed_at: Some(2),
    };
    let id = store.db().open_conflict(&c).unwrap();
    // Re-opening the same field refreshes, never duplicates.
    assert_eq!(store.db().open_conflict(&c).unwrap(), id);
    assert_eq!(store.db().summary().unwrap().open_conflicts, 1);
    store
        .db()
        .resolve_conflict(id, &Resolution::Linear, Actor::Operator)
        .unwrap();
    assert_eq!(store.db().summary().unwrap().open_conflicts, 0);
    assert!(
        store
            .db()
            .resolve_conflict(id, &Resolution::Portal, Actor::Operator)
            .is_err()
    );
    let pending = store.db().unapplied_resolutions(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].resolution, Some(Resolution::Linear));
}
}

on_both_backends! {
fn claim_keeps_writes_for_a_link_in_order(store) {
    let link = store
        .db()
        .insert_link(
            Some("p"),
            Some("l"),
            None,
            LinkState::Active,
            "T",
            &BTreeMap::new(),
        )
        .unwrap();
    let first = store.db().insert_job(&job(Some(link))).unwrap();
    let _second = store.db().insert_job(&job(Some(link))).unwrap();
    let other = store.db().insert_job(&job(None)).unwrap();
    let claimed: Vec<i64> = store
        .db()
        .claim_due_jobs(now_ms() + 1, 10)
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(claimed, vec![first, other]);
}
}

on_both_backends! {
fn mappings_keep_one_active_version(store) {
    let v1 = store
        .write(|db| db.add_mapping_version("a = 1", Actor::BuiltIn, "initial"))
        .unwrap();
    let v2 = store
        .write(|db| db.add_mapping_version("a = 2", Actor::Operator, "edit"))
        .unwrap();
    assert_eq!(store.db().active_mapping().unwrap().unwrap().version, v2);
    store.write(|db| db.activate_mapping_version(v1)).unwrap();
    let active = store.db().active_mapping().unwrap().unwrap();
    assert_eq!((active.version, active.document.as_str()), (v1, "a = 1"));
    assert_eq!(store.db().mapping_versions().unwrap().len(), 2);
    assert!(store.write(|db| db.activate_mapping_version(99)).is_err());
}
}

on_both_backends! {
fn a_refused_mapping_is_never_active_and_alerts_until_answered(store) {
    let v1 = store
        .write(|db| db.add_mapping_version("a = 1", Actor::BuiltIn, "initial"))
        .unwrap();
    let v2 = store
        .write(|db| db.add_mapping_version("a = ", Actor::Operator, "broken"))
        .unwrap();
    assert!(store.db().refused_mapping().unwrap().is_none());
    store
        .write(|db| db.refuse_mapping_version(v2, "line 1: expected a value", v1))
        .unwrap();
    let active = store.db().active_mapping().unwrap().unwrap();
    assert_eq!(active.version, v1);
    let refused = store.db().mapping_version(v2).unwrap().unwrap();
    assert!(!refused.active);
    assert_eq!(
        refused.refused_reason.as_deref(),
        Some("line 1: expected a value")
    );
    let alert = store.db().summary().unwrap().refused_mapping.unwrap();
    assert_eq!((alert.version, alert.in_force), (v2, Some(v1)));
    // An operator's rollback (or a new version) answers the alert.
    store.write(|db| db.activate_mapping_version(v1)).unwrap();
    assert!(store.db().refused_mapping().unwrap().is_none());
}
}

on_both_backends! {
fn attempts_keep_counting_across_retries_and_success_clears_the_error(store) {
    let j = store.db().insert_job(&job(None)).unwrap();
    for _ in 0..2 {
        store
            .db()
            .record_attempt(
                j,
                &failed_attempt(ErrorClass::Server),
                JobStatus::Dead,
                now_ms(),
            )
            .unwrap();
    }
    assert_eq!(store.db().retry_jobs(&[j]).unwrap(), 1);
    let ok = NewAttempt {
        error_class: None,
        message: None,
        http_status: Some(200),
        ..failed_attempt(ErrorClass::Server)
    };
    store
        .db()
        .record_attempt(j, &ok, JobStatus::Succeeded, now_ms())
        .unwrap();
    let numbers: Vec<i64> = store
        .db()
        .attempts(j)
        .unwrap()
        .iter()
        .map(|a| a.attempt)
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    let job = store.db().job(j).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!((job.error_class, job.last_error), (None, None));
    assert_eq!(job.attempts, 1, "the budget starts again after a retry");
}
}

on_both_backends! {
fn an_operator_retry_keeps_a_job_known_as_tried_before(store) {
    let db = store.db();
    let j = db.insert_job(&job(None)).unwrap();
    assert!(!db.job(j).unwrap().unwrap().tried_before(), "never tried");
    db.record_attempt(j, &failed_attempt(ErrorClass::Timeout), JobStatus::Dead, 0)
        .unwrap();
    assert_eq!(db.retry_jobs(&[j]).unwrap(), 1);
    let retried = db.job(j).unwrap().unwrap();
    assert_eq!(retried.attempts, 0, "a fresh budget");
    assert!(retried.tried_before(), "its earlier try may have landed");
}
}

on_both_backends! {
fn only_attempts_that_may_have_been_applied_start_the_unknown_outcome_window(store) {
    let j = store.db().insert_job(&job(None)).unwrap();
    assert_eq!(store.db().first_unknown_outcome_at(j).unwrap(), None);
    let at = |class, started_at| NewAttempt {
        started_at,
        ..failed_attempt(class)
    };
    let db = store.db();
    db.record_attempt(j, &at(ErrorClass::RateLimited, 100), JobStatus::Queued, 0)
        .unwrap();
    assert_eq!(
        db.first_unknown_outcome_at(j).unwrap(),
        None,
        "refused, never applied"
    );
    db.record_attempt(j, &at(ErrorClass::Timeout, 200), JobStatus::Queued, 0)
        .unwrap();
    db.record_attempt(j, &at(ErrorClass::Server, 300), JobStatus::Queued, 0)
        .unwrap();
    assert_eq!(db.first_unknown_outcome_at(j).unwrap(), Some(200));
}
}

on_both_backends! {
fn records_report_changes_by_content_hash(store) {
    let mut r = Record {
        remote_id: "p1".into(),
        title: "Dark mode".into(),
        ..Record::default()
    };
    assert_eq!(
        store.db().upsert_record(Side::Portal, &r).unwrap(),
        UpsertOutcome::Inserted
    );
    assert_eq!(
        store.db().upsert_record(Side::Portal, &r).unwrap(),
        UpsertOutcome::Unchanged
    );
    r.title = "Dark mode, please".into();
    assert_eq!(
        store.db().upsert_record(Side::Portal, &r).unwrap(),
        UpsertOutcome::Changed
    );
    let stored = store.db().record(Side::Portal, "p1").unwrap().unwrap();
    assert_eq!(stored.record.title, "Dark mode, please");
}
}

#[test]
fn two_processes_one_writing_one_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let mut writer = Store::open(&path, OpenMode::Create).unwrap();
    let reader = Store::open(&path, OpenMode::ReadOnly).unwrap();
    let before = reader.data_version().unwrap();
    let handle = {
        let path = path.clone();
        std::thread::spawn(move || {
            let r = Store::open(&path, OpenMode::ReadOnly).unwrap();
            let mut max = 0;
            for _ in 0..200 {
                max = max.max(r.db().summary().unwrap().jobs_in(JobStatus::Queued));
            }
            max
        })
    };
    for _ in 0..50 {
        writer
            .write(|db| {
                for _ in 0..10 {
                    db.insert_job(&job(None))?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    assert!(handle.join().unwrap() <= 500);
    assert_eq!(
        reader.db().summary().unwrap().jobs_in(JobStatus::Queued),
        500
    );
    assert_ne!(reader.data_version().unwrap(), before);
}

on_both_backends! {
fn portal_change_time_moves_only_when_content_changes(store) {
    let mut r = Record {
        remote_id: "p1".into(),
        title: "A".into(),
        ..Record::default()
    };
    store.db().upsert_record(Side::Portal, &r).unwrap();
    let first = store
        .db()
        .record(Side::Portal, "p1")
        .unwrap()
        .unwrap()
        .changed_at;
    assert!(first.is_some());
    std::thread::sleep(std::time::Duration::from_millis(5));
    store.db().upsert_record(Side::Portal, &r).unwrap();
    assert_eq!(
        store
            .db()
            .record(Side::Portal, "p1")
            .unwrap()
            .unwrap()
            .changed_at,
        first
    );
    r.title = "B".into();
    store.db().upsert_record(Side::Portal, &r).unwrap();
    assert!(
        store
            .db()
            .record(Side::Portal, "p1")
            .unwrap()
            .unwrap()
            .changed_at
            > first
    );
    // Linear records carry their own update time.
    let t = chrono::Utc::now() - chrono::Duration::hours(1);
    let l = Record {
        remote_id: "l1".into(),
        updated_at: Some(t),
        ..Record::default()
    };
    store.db().upsert_record(Side::Linear, &l).unwrap();
    assert_eq!(
        store
            .db()
            .record(Side::Linear, "l1")
            .unwrap()
            .unwrap()
            .changed_at,
        Some(to_ms(t))
    );
}
}

on_both_backends! {
fn oldest_unsent_job_spans_queued_and_running(store) {
    assert_eq!(store.db().oldest_unsent_job().unwrap(), None);
    let a = store.db().insert_job(&job(None)).unwrap();
    let first = store.db().job(a).unwrap().unwrap().created_at;
    std::thread::sleep(std::time::Duration::from_millis(3));
    store.db().insert_job(&job(None)).unwrap();
    // Only queued jobs: the queued one counts (no NULL from the empty side).
    assert_eq!(store.db().oldest_unsent_job().unwrap(), Some(first));
    store.db().claim_due_jobs(now_ms(), 1).unwrap();
    assert_eq!(store.db().oldest_unsent_job().unwrap(), Some(first));
}
}

on_both_backends! {
fn a_job_left_running_by_a_dead_process_is_requeued_as_attempted(store) {
    let running = store.db().insert_job(&job(None)).unwrap();
    let waiting = store.db().insert_job(&job(None)).unwrap();
    store.db().claim_due_jobs(now_ms(), 1).unwrap();
    assert_eq!(store.db().requeue_running_jobs().unwrap(), 1);
    let j = store.db().job(running).unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Queued);
    // The write may have landed: its retry must look before writing.
    assert_eq!(j.attempts, 1);
    let attempts = store.db().attempts(running).unwrap();
    assert_eq!(attempts.len(), 1);
    assert!(
        attempts[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("interrupted"),
        "{attempts:?}"
    );
    assert_eq!(store.db().job(waiting).unwrap().unwrap().attempts, 0);
    assert_eq!(store.db().requeue_running_jobs().unwrap(), 0);
}
}

/// A store written by an older roundtrip: the first `version` migrations
/// applied, one active mapping stored.
fn store_at(path: &Path, version: usize) {
    let conn = rusqlite::Connection::open(path).unwrap();
    for sql in &migrations::MIGRATIONS[..version] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64)
        .unwrap();
    conn.execute(
        "INSERT INTO mappings (version, document, active, note, created_by, created_at)
         VALUES (1, 'version = 1', 1, 'old', 'default', 0)",
        (),
    )
    .unwrap();
}

#[test]
fn a_store_before_refusals_reads_in_read_only_mode() {
    // V2, and V3 (the records index): refusals arrived with V4.
    for version in [2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("v{version}.db"));
        store_at(&path, version);
        let store = Store::open(&path, OpenMode::ReadOnly).unwrap();
        let s = store.db().summary().unwrap();
        assert_eq!(
            (s.schema_version, s.refused_mapping),
            (version as i64, None)
        );
        let versions = store.db().mapping_versions().unwrap();
        assert_eq!(versions.len(), 1);
        assert!(versions[0].active && versions[0].refused_reason.is_none());
        drop(store);
        // Opened for writing, it migrates and keeps the active version.
        let store = Store::open(&path, OpenMode::Existing).unwrap();
        assert_eq!(store.version().unwrap(), migrations::LATEST);
        let active = store.db().active_mapping().unwrap().unwrap();
        assert_eq!((active.version, active.activated_at), (1, Some(0)));
        let index: i64 = store
            .sqlite()
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'records_identifier'",
                (),
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            index, 1,
            "the V3 index exists after migrating from v{version}"
        );
    }
}

/// A development build once numbered the refusal columns V3 (never
/// released). Such a store has the columns but not the records index; it
/// is refused when opened for writing and left as it was, never marked
/// migrated without the index.
#[test]
fn a_store_with_refusals_numbered_v3_is_not_migrated_past_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            migrations::MIGRATIONS[0],
            migrations::MIGRATIONS[1],
            migrations::MIGRATIONS[3],
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    assert!(Store::open(&path, OpenMode::Existing).is_err());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
}

/// A store written before conflict kinds (V6) reads in read-only mode:
/// every conflict is "both changed", no value refused, no link paused.
#[test]
fn a_store_before_conflict_kinds_reads_in_read_only_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    store_at(&path, 5);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO links (id, portal_id, linear_id, state, title, base, created_at, updated_at)
             VALUES (1, 'p', 'l', 'active', 'T', '{}', 0, 0)",
            (),
        )
        .unwrap();
        conn.execute(
            "INSERT INTO conflicts (link_id, field, base_value, portal_value, linear_value, created_at)
             VALUES (1, 'title', '{\"kind\":\"null\"}', '{\"kind\":\"null\"}', '{\"kind\":\"null\"}', 0)",
            (),
        )
        .unwrap();
    }
    let store = Store::open(&path, OpenMode::ReadOnly).unwrap();
    let s = store.db().summary().unwrap();
    assert_eq!((s.refused_values, s.tripped_links.len()), (0, 0));
    let open = store
        .db()
        .conflicts(&ConflictFilter::default(), Window::first(10))
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, crate::domain::ConflictReason::BothChanged);
    drop(store);
    let store = Store::open(&path, OpenMode::Existing).unwrap();
    assert_eq!(store.version().unwrap(), migrations::LATEST);
    assert_eq!(
        store.db().conflict(open[0].id).unwrap().unwrap().kind,
        crate::domain::ConflictReason::BothChanged
    );
}

on_both_backends! {
    // The first write of a statement may bind NULL where nothing else
    // says the parameter's type (PostgreSQL must still prepare it).
    fn a_first_attempt_that_succeeds_records_no_error(store) {
        let j = store.db().insert_job(&job(None)).unwrap();
        let ok = NewAttempt {
            error_class: None,
            message: None,
            http_status: None,
            request_id: None,
            ..failed_attempt(ErrorClass::Server)
        };
        // Inside a transaction, which a failed prepare would abort.
        store
            .write(|db| {
                db.record_attempt(j, &ok, JobStatus::Succeeded, now_ms())?;
                db.log_event(Level::Info, "test", "the transaction goes on")
            })
            .unwrap();
        let job = store.db().job(j).unwrap().unwrap();
        assert_eq!((job.status, job.error_class, job.last_error), (JobStatus::Succeeded, None, None));
    }
}
