//! Health that never lies (issue 13): a failing reconcile streak, a damaged
//! store, a store locked by another process — each a degraded or down
//! verdict with its reason, in `/healthz`, `roundtrip status` and the
//! stored summary the console reads. And the files the daemon creates are
//! private to its user.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod harness;
    pub mod status;
}

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use roundtrip::daemon::Service;
use roundtrip::health::{RECONCILE_DOWN_STREAK, Verdict, assess};
use roundtrip::sim::canny::{CannySim, CannySimConfig};
use roundtrip::sim::faults::ApiFaults;
use roundtrip::sim::linear::{LinearSim, LinearSimConfig};
use roundtrip::store::{OpenMode, Store, now_ms};
use support::harness::{Harness, Setup, eventually};

fn status(db: &Path) -> (i32, String) {
    support::status::status_of(db)
}

/// Fill `records` with enough rows to span many pages, then overwrite its
/// root page, as a disk or a stray writer would.
fn damage_records(path: &Path) {
    {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("BEGIN").unwrap();
        for i in 0..3000 {
            c.execute(
                "INSERT INTO records (side, remote_id, title, fields, content_hash, seen_at)
                 VALUES ('portal', ?1, ?2, '{}', 'h', 0)",
                rusqlite::params![format!("p{i}"), "x".repeat(200)],
            )
            .unwrap();
        }
        c.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let root: i64 = rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'records'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let at = (root as usize - 1) * 4096;
    bytes[at + 100..at + 4096].fill(0xA5);
    std::fs::write(path, &bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failing_reconcile_pass_degrades_then_takes_health_down() {
    let h = Harness::start(Setup {
        linear_faults: ApiFaults {
            server_error: 1.0,
            ..ApiFaults::default()
        },
        reconcile_interval: Duration::from_millis(200),
        ..Setup::default()
    })
    .await;
    let summary = || h.store().db().summary().unwrap();
    let first = eventually("a failed reconcile pass", 10, async || {
        let s = summary();
        (s.reconcile_failures >= 1).then_some(s)
    })
    .await;
    if first.reconcile_failures < RECONCILE_DOWN_STREAK {
        let verdict = assess(&first, now_ms());
        assert!(verdict.verdict >= Verdict::Degraded, "{verdict:?}");
    }
    let s = eventually("a streak of failed passes", 15, async || {
        let s = summary();
        (s.reconcile_failures >= RECONCILE_DOWN_STREAK).then_some(s)
    })
    .await;
    let verdict = assess(&s, now_ms());
    assert_eq!(verdict.verdict, Verdict::Down, "{verdict:?}");
    assert!(
        verdict
            .reasons
            .iter()
            .any(|r| r.contains("reconcile passes failed")),
        "{verdict:?}"
    );
    let addr = h.service.as_ref().unwrap().addr;
    let resp = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("reconcile passes failed")
    );
    // Once Linear answers again, the streak ends.
    h.linear.set_faults(ApiFaults::default());
    eventually("a pass that works", 15, async || {
        (summary().reconcile_failures == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_is_refused_at_start_with_the_command_that_recovers_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    drop(Store::open(&path, OpenMode::Create).unwrap());
    damage_records(&path);
    let h = Harness::start(Setup {
        store_path: Some(path.clone()),
        start_service: false,
        ..Setup::default()
    })
    .await;
    let err = Service::start(h.spec()).await.unwrap_err().to_string();
    assert!(err.contains("failed its integrity check"), "{err}");
    assert!(err.contains(".recover"), "{err}");
    // `status` says so too, with the same way out.
    let (code, out) = status(&path);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("integrity check failed"), "{out}");
    assert!(out.contains(".recover"), "{out}");
}

#[test]
fn status_names_a_lock_held_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    drop(Store::open(&path, OpenMode::Create).unwrap());
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (code, out) = status(&path);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("locked by another process"), "{out}");
    other.execute_batch("ROLLBACK").unwrap();
    let (_, out) = status(&path);
    assert!(!out.contains("locked"), "{out}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_its_wal_and_shm_and_the_logs_are_private() {
    let linear = LinearSim::start(LinearSimConfig::default()).await.unwrap();
    let canny = CannySim::start(CannySimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "[store]\npath = \"data/rt.db\"\n[linear]\napi_url = \"{}\"\nteam = \"ENG\"\n[portal]\napi_url = \"{}\"\nboard = \"Feature Requests\"\n[webhooks]\nlisten = \"127.0.0.1:{port}\"\n[log]\ndir = \"logs\"\n",
        linear.graphql_url(),
        canny.base_url()
    );
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("roundtrip.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["run", "--config"])
        .arg(dir.path().join("roundtrip.toml"))
        .env("LINEAR_API_KEY", linear.api_key())
        .env("LINEAR_WEBHOOK_SECRET", linear.webhook_secret())
        .env("CANNY_API_KEY", canny.api_key())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    eventually("the daemon to listen", 20, async || {
        reqwest::get(&url).await.ok()
    })
    .await;
    let db = dir.path().join("data/rt.db");
    let logs = dir.path().join("logs");
    eventually("the log file", 10, async || {
        std::fs::read_dir(&logs).ok()?.next()?.ok()
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&dir.path().join("data/rt.db-wal")), 0o600);
    assert_eq!(mode(&dir.path().join("data/rt.db-shm")), 0o600);
    assert_eq!(mode(&logs), 0o700);
    for f in std::fs::read_dir(&logs).unwrap() {
        assert_eq!(mode(&f.unwrap().path()), 0o600);
    }
}
