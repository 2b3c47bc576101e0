//! The operator CLI against a real store file: `jobs`, `conflicts` and
//! `mapping` run as the binary while the store is seeded (and written to)
//! through the store API, the way an operator uses them next to a running
//! daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use assert_cmd::prelude::*;
use roundtrip::domain::{Actor, AuditAction, ErrorClass, FieldValue, JobStatus, Record, Side};
use roundtrip::store::{
    ConflictStatus, JobFilter, Lane, LinkState, NewAttempt, NewConflict, NewJob, OpenMode,
    Resolution, Store, Window, now_ms,
};
use roundtrip::sync::{Mapping, agreed_snapshot};

fn bin() -> Command {
    let mut c = Command::cargo_bin("roundtrip").unwrap();
    c.env_remove("ROUNDTRIP_DB").env("COLUMNS", "160");
    c
}

/// Run the binary against `db`; (exit code, stdout, stderr).
fn rt(db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).arg("--db").arg(db).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn command_definitions_are_consistent() {
    use clap::CommandFactory;
    roundtrip::cli::Cli::command().debug_assert();
}

fn portal_record(title: &str, status: &str) -> Record {
    Record {
        remote_id: "p-1".into(),
        title: title.into(),
        description: "Please add a dark theme.".into(),
        status: status.into(),
        votes: Some(3),
        ..Record::default()
    }
}

fn linear_record(state: &str, state_type: &str) -> Record {
    Record {
        remote_id: "lin-uuid-1".into(),
        identifier: Some("ENG-1".into()),
        title: "Dark mode".into(),
        description: "Please add a dark theme.".into(),
        status: state.into(),
        status_type: Some(state_type.into()),
        ..Record::default()
    }
}

struct Seeded {
    _dir: tempfile::TempDir,
    db: PathBuf,
    link: i64,
    /// Failed with class server.
    failed_server: i64,
    /// Failed with class validation.
    failed_validation: i64,
    /// Dead with class server.
    dead_server: i64,
    /// Succeeded.
    succeeded: i64,
    /// Queued, never tried.
    queued: i64,
    /// Open conflicts on title and description.
    conflicts: [i64; 2],
}

fn job(link: i64, kind: &str) -> NewJob {
    NewJob {
        link_id: Some(link),
        target: Side::Linear,
        kind: kind.parse().unwrap(),
        payload: r#"{"fields":{"title":{"kind":"text","value":"x"}}}"#.into(),
        reason: "title changed on the portal".into(),
        lane: Lane::Live,
        max_attempts: 3,
    }
}

fn attempt(class: Option<ErrorClass>, status: i64, msg: &str) -> NewAttempt {
    NewAttempt {
        started_at: now_ms(),
        duration_ms: 42,
        http_status: Some(status),
        error_class: class,
        message: (!msg.is_empty()).then(|| msg.to_string()),
        request_id: Some(format!("req-{status}")),
    }
}

/// A store with one link whose portal side changed since the base (title
/// and status), jobs in several states with attempts, two open conflicts and
/// one stored mapping version (the default).
fn seed() -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    let mut store = Store::open(&db, OpenMode::Create).unwrap();
    let mapping = Mapping::default_canny_linear();
    let agreed_portal = portal_record("Dark mode", "open");
    let linear = linear_record("Triage", "triage");
    let base = agreed_snapshot(&mapping, &agreed_portal, &linear);
    assert!(base.contains_key("title") && base.contains_key("status"));
    store
        .write(|d| -> roundtrip::store::Result<Seeded> {
            let link = d.insert_link(
                Some("p-1"),
                Some("lin-uuid-1"),
                None,
                LinkState::Active,
                "Dark mode",
                &base,
            )?;
            d.upsert_record(Side::Portal, &portal_record("Dark mode v2", "in progress"))?;
            d.upsert_record(Side::Linear, &linear)?;

            let failed_server = d.insert_job(&job(link, "update"))?;
            d.record_attempt(
                failed_server,
                &attempt(Some(ErrorClass::Server), 502, "bad gateway"),
                JobStatus::Failed,
                now_ms(),
            )?;
            let failed_validation = d.insert_job(&job(link, "update"))?;
            d.record_attempt(
                failed_validation,
                &attempt(
                    Some(ErrorClass::Validation),
                    400,
                    "title is too long for Linear; the limit is 255 characters and this one is far longer than that",
                ),
                JobStatus::Failed,
                now_ms(),
            )?;
            let dead_server = d.insert_job(&job(link, "comment"))?;
            for _ in 0..3 {
                d.record_attempt(
                    dead_server,
                    &attempt(Some(ErrorClass::Server), 503, "unavailable"),
                    JobStatus::Dead,
                    now_ms(),
                )?;
            }
            let succeeded = d.insert_job(&job(link, "update"))?;
            d.record_attempt(succeeded, &attempt(None, 200, ""), JobStatus::Succeeded, now_ms())?;
            let queued = d.insert_job(&job(link, "update"))?;

            let conflict = |field: &str, b: &str, p: &str, l: &str| NewConflict {
                link_id: link,
                field: field.into(),
                base: FieldValue::Text(b.into()),
                portal: FieldValue::Text(p.into()),
                linear: FieldValue::Text(l.into()),
                portal_changed_at: Some(now_ms() - 60_000),
                linear_changed_at: Some(now_ms() - 30_000),
            };
            let c1 = d.open_conflict(&conflict("title", "Dark mode", "Dark mode v2", "Dark theme"))?;
            let c2 = d.open_conflict(&conflict(
                "description",
                "line one\nline two",
                "line one\nportal two",
                "line one\nlinear two",
            ))?;
            d.add_mapping_version(&mapping.to_toml(), Actor::BuiltIn, "built-in default")?;
            Ok(Seeded {
                _dir: tempfile::tempdir().unwrap(),
                db: db.clone(),
                link,
                failed_server,
                failed_validation,
                dead_server,
                succeeded,
                queued,
                conflicts: [c1, c2],
            })
        })
        .map(|mut s| {
            s._dir = dir;
            s
        })
        .unwrap()
}

fn open(db: &Path) -> Store {
    Store::open(db, OpenMode::ReadOnly).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn ids(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn jobs_list_filters_paginates_and_prints_json() {
    let s = seed();
    let (code, out, err) = rt(&s.db, &["jobs", "list", "--status", "failed"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("bad gateway") && out.contains("validation"),
        "{out}"
    );
    assert!(
        !out.contains("unavailable"),
        "dead job listed as failed: {out}"
    );
    assert!(out.contains("p-1 ↔ ENG-1"), "{out}");
    for line in out.lines() {
        assert!(line.chars().count() <= 160, "line too wide: {line}");
    }

    let (code, out, _) = rt(
        &s.db,
        &["jobs", "list", "--error-class", "server", "--json"],
    );
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(
        ids(&v),
        vec![s.dead_server, s.failed_server],
        "newest first"
    );
    let first = &v[0];
    for key in [
        "id",
        "status",
        "kind",
        "target",
        "lane",
        "link_id",
        "link",
        "attempts",
        "max_attempts",
        "error_class",
        "last_error",
        "http_status",
        "request_id",
        "next_run_at",
        "created_at",
        "updated_at",
        "reason",
    ] {
        assert!(first.get(key).is_some(), "missing {key}: {first}");
    }
    assert_eq!(first["status"], "dead");
    assert_eq!(first["error_class"], "server");
    assert_eq!(first["attempts"], 3);
    assert_eq!(first["link_id"], s.link);

    let (_, out, _) = rt(
        &s.db,
        &[
            "jobs",
            "list",
            "--status",
            "failed",
            "--error-class",
            "validation",
            "--json",
        ],
    );
    assert_eq!(ids(&json(&out)), vec![s.failed_validation]);

    // Pagination: two pages cover every job exactly once, newest first.
    let (_, out, _) = rt(&s.db, &["jobs", "list", "--limit", "2", "--json"]);
    let page1 = ids(&json(&out));
    assert_eq!(page1, vec![s.queued, s.succeeded]);
    let (_, out, _) = rt(
        &s.db,
        &[
            "jobs",
            "list",
            "--limit",
            "10",
            "--after",
            &page1[1].to_string(),
            "--json",
        ],
    );
    assert_eq!(
        ids(&json(&out)),
        vec![s.dead_server, s.failed_validation, s.failed_server]
    );
    let (_, out, _) = rt(&s.db, &["jobs", "list", "--limit", "2"]);
    assert!(out.contains(&format!("--after {}", s.succeeded)), "{out}");

    let (code, _, err) = rt(&s.db, &["jobs", "list", "--status", "exploded"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn jobs_show_prints_the_attempt_log() {
    let s = seed();
    let (code, out, err) = rt(&s.db, &["jobs", "show", &s.dead_server.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("unavailable") && out.contains("req-503") && out.contains("42ms"));
    let (code, out, _) = rt(
        &s.db,
        &["jobs", "show", &s.dead_server.to_string(), "--json"],
    );
    assert_eq!(code, 0);
    let v = json(&out);
    let log = v["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 3);
    for key in [
        "attempt",
        "started_at",
        "duration_ms",
        "outcome",
        "http_status",
        "error_class",
        "message",
        "request_id",
    ] {
        assert!(log[0].get(key).is_some(), "missing {key}: {}", log[0]);
    }
    assert_eq!(log[2]["http_status"], 503);
    assert_eq!(log[2]["error_class"], "server");
    assert!(v["payload"].is_object());
    let (code, _, err) = rt(&s.db, &["jobs", "show", "9999"]);
    assert_eq!(code, 1);
    assert!(err.contains("job 9999 does not exist"), "{err}");
}

fn status_of(db: &Path, id: i64) -> JobStatus {
    open(db).db().job(id).unwrap().unwrap().status
}

#[test]
fn jobs_retry_by_id_and_by_class_requeue_exactly_those() {
    let s = seed();
    // Each id is answered on its own: the known one is requeued, the
    // unknown one refused with the reason, exit 1.
    let (code, out, err) = rt(
        &s.db,
        &["jobs", "retry", &s.failed_validation.to_string(), "4242"],
    );
    assert_eq!(code, 1);
    assert!(out.contains("requeued 1 job"), "{out}");
    assert!(err.contains("job 4242 does not exist"), "{err}");
    let j = open(&s.db).db().job(s.failed_validation).unwrap().unwrap();
    assert_eq!((j.status, j.attempts), (JobStatus::Queued, 0));
    assert_eq!(status_of(&s.db, s.failed_server), JobStatus::Failed);

    // A succeeded job is not retried: said so per job, exit 1, nothing on stdout.
    let (code, out, err) = rt(&s.db, &["jobs", "retry", &s.succeeded.to_string()]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        format!("roundtrip: job {} succeeded: nothing to retry", s.succeeded)
    );
    assert!(out.is_empty(), "{out}");
    let (code, _, err) = rt(&s.db, &["jobs", "cancel", &s.succeeded.to_string()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("job {} succeeded: nothing to cancel", s.succeeded)),
        "{err}"
    );

    // --all-failed --error-class server: the failed and the dead server job.
    let (code, out, _) = rt(
        &s.db,
        &["jobs", "retry", "--all-failed", "--error-class", "server"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("requeued 2 jobs"), "{out}");
    assert_eq!(status_of(&s.db, s.failed_server), JobStatus::Queued);
    assert_eq!(status_of(&s.db, s.dead_server), JobStatus::Queued);
    assert_eq!(status_of(&s.db, s.succeeded), JobStatus::Succeeded);
    let store = open(&s.db);
    let left = store
        .db()
        .count_jobs(&JobFilter {
            status: Some(JobStatus::Failed),
            error_class: None,
        })
        .unwrap();
    assert_eq!(left, 0);

    // Nothing left to match: says so, exit 0.
    let (code, out, _) = rt(
        &s.db,
        &["jobs", "retry", "--all-failed", "--error-class", "auth"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("nothing to retry"), "{out}");

    // Every requeued job has its audit entry, in one shape.
    let audit = store.db().audit(Window::first(100)).unwrap();
    let retries: Vec<_> = audit
        .iter()
        .filter(|a| a.actor == Actor::Operator && a.action == AuditAction::Retry)
        .collect();
    assert_eq!(retries.len(), 3, "{audit:?}");
    assert!(retries.iter().all(|a| a.after.as_deref() == Some("queued")
        && a.side == Some(Side::Linear)
        && a.link_id == Some(s.link)));

    // --all-failed and ids together is a usage error.
    let (code, _, _) = rt(&s.db, &["jobs", "retry", "--all-failed", "1"]);
    assert_eq!(code, 2);
}

#[test]
fn a_retried_job_keeps_counting_attempts_and_success_clears_its_error() {
    let s = seed();
    let (code, _, err) = rt(&s.db, &["jobs", "retry", &s.dead_server.to_string()]);
    assert_eq!(code, 0, "{err}");
    let mut store = Store::open(&s.db, OpenMode::Existing).unwrap();
    store
        .write(|d| {
            d.record_attempt(
                s.dead_server,
                &attempt(None, 200, ""),
                JobStatus::Succeeded,
                now_ms(),
            )
        })
        .unwrap();
    let (code, out, _) = rt(
        &s.db,
        &["jobs", "show", &s.dead_server.to_string(), "--json"],
    );
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["status"], "succeeded");
    assert!(
        v["last_error"].is_null() && v["error_class"].is_null(),
        "{v}"
    );
    let numbers: Vec<i64> = v["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    let (_, out, _) = rt(&s.db, &["jobs", "show", &s.dead_server.to_string()]);
    assert!(out.contains("last error -"), "{out}");
}

#[test]
fn jobs_cancel_cancels_and_audits() {
    let s = seed();
    let (code, out, err) = rt(&s.db, &["jobs", "cancel", &s.queued.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cancelled 1 job"), "{out}");
    assert_eq!(status_of(&s.db, s.queued), JobStatus::Cancelled);
    let audit = open(&s.db).db().audit(Window::first(100)).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == AuditAction::Cancel && a.actor == Actor::Operator)
    );
    let (code, _, _) = rt(&s.db, &["jobs", "cancel", "777"]);
    assert_eq!(code, 1);
}

#[test]
fn conflicts_list_show_and_resolve() {
    let s = seed();
    let [c1, c2] = s.conflicts;
    let (code, out, err) = rt(&s.db, &["conflicts", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("p-1 ↔ ENG-1") && out.contains("Dark theme"),
        "{out}"
    );
    let (_, out, _) = rt(&s.db, &["conflicts", "list", "--json"]);
    let v = json(&out);
    assert_eq!(ids(&v), vec![c1, c2], "oldest first");
    for key in [
        "id",
        "status",
        "link_id",
        "link",
        "portal_id",
        "linear_id",
        "title",
        "field",
        "base",
        "portal",
        "linear",
        "created_at",
    ] {
        assert!(v[0].get(key).is_some(), "missing {key}: {}", v[0]);
    }
    assert_eq!(v[0]["portal"]["value"], "Dark mode v2");
    assert_eq!(v[0]["linear_id"], "lin-uuid-1");

    let (code, out, _) = rt(&s.db, &["conflicts", "show", &c2.to_string()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("portal two") && out.contains("linear two"),
        "{out}"
    );

    let (code, out, err) = rt(
        &s.db,
        &["conflicts", "resolve", &c1.to_string(), "--take", "linear"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("conflict {c1} resolved (title")),
        "{out}"
    );
    let c = open(&s.db).db().conflict(c1).unwrap().unwrap();
    assert_eq!(c.status, ConflictStatus::Resolved);
    assert_eq!(c.resolution, Some(Resolution::Linear));
    assert_eq!(c.resolved_by, Some(Actor::Operator));

    // A second resolve fails clearly; so does an unknown id.
    let (code, _, err) = rt(
        &s.db,
        &["conflicts", "resolve", &c1.to_string(), "--take", "portal"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("already resolved"), "{err}");
    let (code, _, err) = rt(&s.db, &["conflicts", "resolve", "999", "--take", "base"]);
    assert_eq!(code, 1);
    assert!(err.contains("conflict 999 does not exist"), "{err}");

    // A hand-merged value.
    let (code, _, err) = rt(
        &s.db,
        &[
            "conflicts",
            "resolve",
            &c2.to_string(),
            "--value",
            "line one\nboth twos",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let c = open(&s.db).db().conflict(c2).unwrap().unwrap();
    assert_eq!(
        c.resolution,
        Some(Resolution::Value(FieldValue::Text(
            "line one\nboth twos".into()
        )))
    );

    let (_, out, _) = rt(&s.db, &["conflicts", "list"]);
    assert!(out.contains("no open conflicts"), "{out}");
    let (_, out, _) = rt(&s.db, &["conflicts", "list", "--all", "--json"]);
    assert_eq!(ids(&json(&out)), vec![c1, c2]);
    let audit = open(&s.db).db().audit(Window::first(100)).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == AuditAction::Resolve)
            .count(),
        2
    );
}

#[test]
fn resolve_refuses_a_value_the_mapping_cannot_write() {
    let s = seed();
    let mut store = Store::open(&s.db, OpenMode::Existing).unwrap();
    let id = store
        .write(|d| {
            d.open_conflict(&NewConflict {
                link_id: s.link,
                field: "status".into(),
                base: FieldValue::Text("open".into()),
                portal: FieldValue::Text("planned".into()),
                linear: FieldValue::Text("in progress".into()),
                portal_changed_at: None,
                linear_changed_at: None,
            })
        })
        .unwrap();
    let (code, _, err) = rt(
        &s.db,
        &[
            "conflicts",
            "resolve",
            &id.to_string(),
            "--value",
            "shipped",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("'shipped'") && err.contains(&format!("conflict {id} (status)")),
        "{err}"
    );
    assert_eq!(
        store.db().conflict(id).unwrap().unwrap().status,
        ConflictStatus::Open
    );
    let (code, _, err) = rt(
        &s.db,
        &[
            "conflicts",
            "resolve",
            &id.to_string(),
            "--value",
            "complete",
        ],
    );
    assert_eq!(code, 0, "{err}");
}

const BAD_MAPPING: &str = "version = 2\n\n[fields.title]\nportal = \"title\"\nlinear = \"title\"\ndirection = \"sideways\"\n";

#[test]
fn mapping_check_reports_file_and_line() {
    let s = seed();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, BAD_MAPPING).unwrap();
    let (code, _, err) = rt(&s.db, &["mapping", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{}:6:", bad.display())),
        "no FILE:LINE in {err}"
    );
    let good = dir.path().join("good.toml");
    std::fs::write(&good, Mapping::default_canny_linear().to_toml()).unwrap();
    let (code, out, _) = rt(&s.db, &["mapping", "check", good.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("ok"), "{out}");
    // Without a file: the active mapping.
    let (code, out, _) = rt(&s.db, &["mapping", "check"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = rt(&s.db, &["mapping", "check", "/nonexistent/m.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/m.toml"), "{err}");
}

#[test]
fn mapping_apply_versions_rollback_and_show() {
    let s = seed();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, BAD_MAPPING).unwrap();
    let (code, _, err) = rt(&s.db, &["mapping", "apply", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing was stored"), "{err}");
    assert_eq!(open(&s.db).db().mapping_versions().unwrap().len(), 1);

    let text = Mapping::default_canny_linear().to_toml().replace(
        "\"in progress\" = \"In Progress\"",
        "\"in progress\" = \"In Review\"",
    );
    let good = dir.path().join("m.toml");
    std::fs::write(&good, &text).unwrap();
    let (code, out, err) = rt(
        &s.db,
        &[
            "mapping",
            "apply",
            good.to_str().unwrap(),
            "--note",
            "in progress is review",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 2"), "{out}");
    let active = open(&s.db).db().active_mapping().unwrap().unwrap();
    assert_eq!(active.version, 2);
    assert_eq!(active.document, text.replace("version = 1", "version = 2"));
    assert_eq!(active.note, "in progress is review");

    let (_, out, _) = rt(&s.db, &["mapping", "show"]);
    assert!(out.contains("\"in progress\" = \"In Review\""), "{out}");
    let (_, out, _) = rt(&s.db, &["mapping", "show", "--version", "1"]);
    assert!(out.contains("\"in progress\" = \"In Progress\""), "{out}");
    let (_, out, _) = rt(&s.db, &["mapping", "versions"]);
    assert!(out.contains("in progress is review"), "{out}");

    let (code, out, err) = rt(&s.db, &["mapping", "rollback", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 1 is active again"), "{out}");
    assert_eq!(
        open(&s.db).db().active_mapping().unwrap().unwrap().version,
        1
    );
    let (code, _, err) = rt(&s.db, &["mapping", "rollback", "9"]);
    assert_eq!(code, 1);
    assert!(err.contains("mapping version 9 does not exist"), "{err}");
    let audit = open(&s.db).db().audit(Window::first(100)).unwrap();
    assert!(audit.iter().any(|a| a.action == AuditAction::Rollback));
    assert!(audit.iter().any(|a| a.action == AuditAction::ApplyMapping));
}

#[test]
fn mapping_show_without_stored_mapping_prints_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    drop(Store::open(&db, OpenMode::Create).unwrap());
    let (code, out, err) = rt(&db, &["mapping", "show"]);
    assert_eq!(code, 0);
    assert_eq!(out, Mapping::default_canny_linear().to_toml());
    assert!(err.contains("default"), "{err}");
}

#[test]
fn mapping_preview_shows_what_a_candidate_changes() {
    let s = seed();
    // The active (default) mapping: the portal's title and status changes
    // flow to Linear.
    let (code, out, err) = rt(&s.db, &["mapping", "preview"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("title on linear: 'Dark mode' → 'Dark mode v2'"),
        "{out}"
    );
    assert!(
        out.contains("state on linear: 'Triage' → 'In Progress'"),
        "{out}"
    );

    // Candidate: title not synced, "in progress" means In Review.
    let default = Mapping::default_canny_linear().to_toml();
    let (head, tail) = default.split_at(default.find("[fields.title]").unwrap());
    let candidate = format!(
        "{head}{}",
        tail.replacen("direction = \"both\"", "direction = \"none\"", 1)
    )
    .replace(
        "\"in progress\" = \"In Progress\"",
        "\"in progress\" = \"In Review\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("candidate.toml");
    std::fs::write(&file, candidate).unwrap();
    let (code, out, err) = rt(
        &s.db,
        &["mapping", "preview", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let changes = v["changes"].as_array().unwrap();
    assert!(
        changes.iter().all(|c| c["field"] != "title"),
        "title is no longer synced: {v}"
    );
    let state = changes
        .iter()
        .find(|c| c["field"] == "state")
        .unwrap_or_else(|| panic!("no state change: {v}"));
    assert_eq!(state["action"], "write");
    assert_eq!(state["side"], "linear");
    assert_eq!(state["from"]["value"], "Triage");
    assert_eq!(state["to"]["value"], "In Review");
    assert_eq!(state["link_id"], s.link);
    assert_eq!(v["links_examined"], 1);
    assert_eq!(v["links_changed"], 1);
    let (_, out, _) = rt(&s.db, &["mapping", "preview", file.to_str().unwrap()]);
    assert!(out.contains("change"), "{out}");
    assert!(!out.contains("title on"), "{out}");

    // An invalid candidate: FILE:LINE, exit 2.
    std::fs::write(&file, BAD_MAPPING).unwrap();
    let (code, _, err) = rt(&s.db, &["mapping", "preview", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{}:6:", file.display())), "{err}");
}

#[test]
fn commands_work_while_another_connection_writes() {
    let s = seed();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop, link) = (s.db.clone(), stop.clone(), s.link);
        std::thread::spawn(move || {
            let mut store = Store::open(&db, OpenMode::Existing).unwrap();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                store
                    .write(|d| d.insert_job(&job(link, "update")).map(|_| ()))
                    .unwrap();
                store
                    .write(|d| d.set_link_base(link, "Dark mode", &BTreeMap::new()))
                    .unwrap();
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            n
        })
    };
    // Another reader connection open the whole time, like the console.
    let reader = Store::open(&s.db, OpenMode::ReadOnly).unwrap();
    assert!(
        !reader
            .db()
            .jobs(&JobFilter::default(), Window::first(1))
            .unwrap()
            .is_empty()
    );

    let (code, _, err) = rt(&s.db, &["jobs", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = rt(&s.db, &["jobs", "retry", &s.failed_server.to_string()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = rt(
        &s.db,
        &[
            "conflicts",
            "resolve",
            &s.conflicts[0].to_string(),
            "--take",
            "portal",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = rt(&s.db, &["mapping", "preview"]);
    assert_eq!(code, 0, "{err}");
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    assert_eq!(status_of(&s.db, s.failed_server), JobStatus::Queued);
}

#[test]
fn status_json_is_json_even_when_the_store_is_missing_or_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(&corrupt, "this is not a database, just text ".repeat(200)).unwrap();
    for (db, says) in [
        (&missing, "no store at"),
        (&corrupt, "not a roundtrip store"),
    ] {
        let (code, out, err) = rt(db, &["status", "--json"]);
        assert_eq!(code, 2, "{err}");
        let v = json(&out);
        assert_eq!(v["verdict"], "down");
        let reasons = v["reasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].as_str().unwrap().contains(says), "{v}");
        assert_eq!(v["store"], db.display().to_string());
        let (code, out, _) = rt(db, &["status"]);
        assert_eq!(code, 2);
        assert!(out.starts_with("roundtrip is DOWN"), "{out}");
    }
}

/// Run with stdout a pipe whose reading end is already closed (the state
/// `| head -1` leaves it in), so the first write fails with EPIPE.
fn rt_closed_stdout(db: &Path, args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = bin()
        .args(args)
        .arg("--db")
        .arg(db)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_any_command_quietly() {
    let s = seed();
    for args in [
        &["jobs", "list", "--json"][..],
        &["jobs", "list"],
        &["conflicts", "list", "--json"],
        &["mapping", "show"],
        &["status", "--json"],
    ] {
        let (code, err) = rt_closed_stdout(&s.db, args);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(code, 101, "{args:?}: {err}");
        if args[0] != "status" {
            assert_eq!(code, 0, "{args:?}: {err}");
        }
    }
    // An action still finishes, and still reports its refusals on stderr.
    let (code, err) = rt_closed_stdout(
        &s.db,
        &[
            "jobs",
            "retry",
            &s.failed_server.to_string(),
            &s.succeeded.to_string(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing to retry"), "{err}");
    assert_eq!(status_of(&s.db, s.failed_server), JobStatus::Queued);
}

#[test]
fn tables_fit_columns_and_wide_keeps_everything() {
    let s = seed();
    let long = "title is too long for Linear; the limit is 255 characters and this one is far longer than that";
    let out = bin()
        .env("COLUMNS", "70")
        .args(["jobs", "list", "--db"])
        .arg(&s.db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success());
    for line in text.lines().filter(|l| !l.starts_with('(')) {
        assert!(line.chars().count() <= 70, "line too wide: {line}");
    }
    assert!(!text.contains(long), "{text}");
    let (_, wide, _) = rt(&s.db, &["jobs", "list", "--wide"]);
    assert!(wide.contains(long), "{wide}");
    // Without a terminal and without COLUMNS, values are printed whole.
    let out = bin()
        .env_remove("COLUMNS")
        .args(["jobs", "list", "--db"])
        .arg(&s.db)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(long));
}

#[test]
fn conflict_columns_show_where_the_values_differ() {
    let s = seed();
    let prefix = "Please add a dark theme to every page of the dashboard";
    let mut store = Store::open(&s.db, OpenMode::Existing).unwrap();
    store
        .write(|d| {
            d.open_conflict(&NewConflict {
                link_id: s.link,
                field: "labels_note".into(),
                base: FieldValue::Text(prefix.into()),
                portal: FieldValue::Text(format!("{prefix} and emails")),
                linear: FieldValue::Text(format!("{prefix}, web only")),
                portal_changed_at: None,
                linear_changed_at: None,
            })
        })
        .unwrap();
    let out = bin()
        .env("COLUMNS", "120")
        .args(["conflicts", "list", "--db"])
        .arg(&s.db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = text
        .lines()
        .find(|l| l.contains("labels_note"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("and emails") || row.contains("and ema"),
        "{row}"
    );
    assert!(row.contains(", web"), "{row}");
    assert!(row.chars().count() <= 120, "{row}");
}

#[test]
fn a_refused_mapping_version_is_shown_as_refused_and_raises_an_alert() {
    let s = seed();
    let mut store = Store::open(&s.db, OpenMode::Existing).unwrap();
    store
        .write(|d| -> roundtrip::store::Result<()> {
            let v2 = d.add_mapping_version(
                "version = 2\n[fields.title]\nportal = ",
                Actor::Operator,
                "typo",
            )?;
            // What the engine does when it cannot load a version.
            d.refuse_mapping_version(v2, "line 3: expected a value", 1)?;
            d.set_meta(
                roundtrip::store::meta_keys::HEARTBEAT,
                &now_ms().to_string(),
            )
        })
        .unwrap();
    let (_, out, _) = rt(&s.db, &["mapping", "versions", "--json"]);
    let v = json(&out);
    assert_eq!(v[0]["version"], 2);
    assert_eq!(v[0]["active"], false);
    assert_eq!(v[0]["state"], "refused");
    assert_eq!(v[0]["refused_reason"], "line 3: expected a value");
    assert_eq!(v[1]["state"], "active");
    let (_, out, err) = rt(&s.db, &["mapping", "versions"]);
    assert!(out.contains("refused: line 3: expected a value"), "{out}");
    assert!(err.contains("version 2 was refused"), "{err}");
    let (_, _, err) = rt(&s.db, &["mapping", "show"]);
    assert!(err.starts_with("mapping version 1 (active)"), "{err}");
    let (_, _, err) = rt(&s.db, &["mapping", "show", "--version", "2"]);
    assert!(err.contains("(refused: line 3"), "{err}");
    let (code, out, _) = rt(&s.db, &["status", "--json"]);
    let v = json(&out);
    assert!(
        v["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("mapping version 2 was refused")),
        "{v}"
    );
    assert_ne!(code, 0);
    // Rolling back to it is refused; rolling back answers the alert.
    let (code, _, err) = rt(&s.db, &["mapping", "rollback", "2"]);
    assert_eq!(code, 1);
    assert!(err.contains("was refused by the engine"), "{err}");
}
