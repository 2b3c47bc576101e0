//! Failover (issue SCALE-OUT): two `roundtrip run` replicas, each a process
//! of its own, on one PostgreSQL store. Linear's webhooks go to replica A
//! and the portal's to replica B (any replica accepts webhooks); people
//! edit both sides; A is SIGKILLed while it holds claimed jobs, and
//! Linear's webhooks are switched to B, as a load balancer would. B must
//! carry on: A's claimed jobs re-run once their lease expires (each with
//! an attempt of unknown outcome recorded), every acknowledged webhook is
//! processed, no issue, post or comment is duplicated, no edit is lost,
//! and B takes over the reconcile lease. And two replicas spend one
//! rate-limit quota between them, not one each.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup step should stop with its message

mod support {
    pub mod harness;
    pub mod race;
    pub mod soak;
}

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use roundtrip::connector::Connector as _;
use roundtrip::domain::{JobStatus, Side};
use roundtrip::engine::budget::Permit;
use roundtrip::engine::cluster::{Cluster, ReplicaOptions};
use roundtrip::engine::scheduler::Scheduler;
use roundtrip::store::{INTERRUPTED, Lane, OpenMode, StoreLocation, Writer, pg};
use support::harness::pg::PgDb;
use support::harness::{Harness, Setup, within};
use support::race::{self, People};
use support::soak::{check_acknowledged, check_jobs, free_port};

/// Short, so the test waits seconds for a dead replica's jobs.
const LEASE: &str = "2s";
const PASSWORD_ENV: &str = "ROUNDTRIP_FAILOVER_PG_PASSWORD";

/// One `roundtrip run` process.
struct Replica {
    id: &'static str,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Replica {
    /// Start replica `id` on the harness's simulators and PostgreSQL
    /// database, and wait until it answers `/healthz`.
    async fn start(h: &Harness, db: &PgDb, dir: &Path, id: &'static str) -> Replica {
        let port = free_port().unwrap();
        let config = dir.join(format!("{id}.toml"));
        std::fs::write(
            &config,
            format!(
                "[store]\nurl = \"{url}\"\npassword_env = \"{PASSWORD_ENV}\"\n\
                 [linear]\napi_url = \"{linear}\"\nteam = \"ENG\"\ntimeout = \"2s\"\n\
                 [portal]\napi_url = \"{canny}\"\nboard = \"Feature Requests\"\ntimeout = \"2s\"\n\
                 [webhooks]\nlisten = \"127.0.0.1:{port}\"\n\
                 [sync]\nreconcile_interval = \"10m\"\nmax_attempts = 40\n\
                 replica_id = \"{id}\"\nreplica_lease = \"{LEASE}\"\n",
                url = db.url,
                linear = h.linear.graphql_url(),
                canny = h.canny().base_url(),
            ),
        )
        .unwrap();
        let log = dir.join(format!("{id}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
            .env(PASSWORD_ENV, &db.password)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .current_dir(dir)
            .env("LINEAR_API_KEY", h.linear.api_key())
            .env("LINEAR_WEBHOOK_SECRET", h.linear.webhook_secret())
            .env("CANNY_API_KEY", h.canny().api_key())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut r = Replica {
            id,
            port,
            config,
            log,
            child: Some(child),
        };
        let url = format!("http://127.0.0.1:{port}/healthz");
        let http = reqwest::Client::new();
        let up = within("a replica to answer /healthz", 30, async || {
            if let Some(Ok(Some(_))) = r.child.as_mut().map(Child::try_wait) {
                return Some(false);
            }
            http.get(&url).send().await.ok().map(|_| true)
        })
        .await;
        assert!(
            matches!(up, Ok(true)),
            "replica {id} did not start:\n{}",
            r.log_tail()
        );
        r
    }

    fn webhook(&self, path: &str) -> Option<String> {
        Some(format!("http://127.0.0.1:{}/webhooks/{path}", self.port))
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait for a clean exit.
    async fn stop(&mut self) {
        let child = self.child.as_mut().expect("running");
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let status = within("a replica to stop after SIGTERM", 30, async || {
            self.child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
        })
        .await
        .unwrap();
        self.child = None;
        assert!(
            status.success(),
            "replica {} stopped with {status}",
            self.id
        );
    }

    /// `roundtrip status --json` on this replica's config.
    fn status(&self, db: &PgDb) -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
            .env(PASSWORD_ENV, &db.password)
            .arg("status")
            .arg("--json")
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json is not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Jobs `replica` holds right now.
fn running_jobs_of(db: &PgDb, replica: &str) -> Vec<i64> {
    let url = db.url_with_password();
    let replica = replica.to_string();
    // The driver must not run on a tokio worker.
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query(
            "SELECT id FROM jobs WHERE status = 'running' AND claimed_by = $1 ORDER BY id",
            &[&replica],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    })
    .join()
    .unwrap()
}

fn replica_ids(db: &PgDb) -> Vec<String> {
    let url = db.url_with_password();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        pg::replicas(&mut c, roundtrip::store::now_ms(), i64::MAX)
            .unwrap()
            .into_iter()
            .map(|r| r.info.id)
            .collect()
    })
    .join()
    .unwrap()
}

fn leases(db: &PgDb) -> Vec<pg::LeaseState> {
    let url = db.url_with_password();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        pg::leases(&mut c).unwrap()
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replica_is_replaced_without_losses_or_duplicates() {
    let h = Harness::start(Setup {
        postgres: true,
        start_service: false,
        seed: 20,
        // Writes in flight long enough for a kill to strike one.
        linear_latency: Duration::from_millis(150),
        ..Setup::default()
    })
    .await;
    let db = h
        .pg_db()
        .expect("the harness keeps this store in PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let mut a = Replica::start(&h, db, dir.path(), "replica-a").await;
    let mut b = Replica::start(&h, db, dir.path(), "replica-b").await;
    h.linear.set_webhook_url(a.webhook("linear"));
    h.canny().set_webhook_url(b.webhook("canny"));

    let links = race::make_links(&h, 4).await.unwrap();
    h.quiet_within(Duration::from_millis(300), 60)
        .await
        .unwrap();
    let start = roundtrip::sim::journal::next_seq();
    let mut people = People::new(20);

    // The burst, until A is caught holding claimed jobs.
    let t = Instant::now();
    let mut orphaned = Vec::new();
    while t.elapsed() < Duration::from_secs(30) {
        people
            .step(&h, &links, Duration::from_millis(40), usize::MAX)
            .await
            .unwrap();
        if people.edits >= 8 && !running_jobs_of(db, a.id).is_empty() {
            a.kill();
            orphaned = running_jobs_of(db, a.id);
            if !orphaned.is_empty() {
                break;
            }
            a = Replica::start(&h, db, dir.path(), "replica-a").await;
        }
    }
    assert!(
        !orphaned.is_empty(),
        "replica A never held a job when killed ({} edits)",
        people.edits
    );
    h.linear.set_webhook_url(b.webhook("linear"));

    // The edit stream goes on against B alone.
    for _ in 0..15 {
        people
            .step(&h, &links, Duration::from_millis(60), usize::MAX)
            .await
            .unwrap();
    }
    let settled = h.quiet_within(Duration::from_secs(1), 90).await;
    h.linear.set_webhook_url(None);
    h.canny().set_webhook_url(None);
    let settled = settled.and(h.quiet_within(Duration::from_secs(1), 30).await);
    assert!(settled.is_ok(), "{settled:?}\nB's log:\n{}", b.log_tail());

    let mut errors = Vec::new();
    if let Err(e) = race::check(&h, &links, start).await {
        errors.push(e);
    }
    let store = h.store();
    check_acknowledged(&store, &h, &mut errors).unwrap();
    check_jobs(&store, &mut errors).unwrap();
    for id in &orphaned {
        let job = store.db().job(*id).unwrap().unwrap();
        let attempts = store.db().attempts(*id).unwrap();
        let interrupted = attempts
            .iter()
            .any(|a| a.message.as_deref() == Some(INTERRUPTED));
        if job.status != JobStatus::Succeeded || !interrupted {
            errors.push(format!(
                "job {id}, claimed by the killed replica, is {:?} with attempts {:?}",
                job.status,
                attempts
                    .iter()
                    .map(|a| (a.outcome.clone(), a.message.clone()))
                    .collect::<Vec<_>>()
            ));
        }
    }
    let reconcile = leases(db)
        .into_iter()
        .find(|l| l.role == pg::Singleton::Reconcile.as_str());
    if reconcile.as_ref().map(|l| l.holder.as_str()) != Some(b.id) {
        errors.push(format!(
            "the reconcile lease should have passed to replica B: {reconcile:?}"
        ));
    }
    // `status` knows each replica and which one leads.
    let status = b.status(db);
    let replicas = status["replicas"].as_array().cloned().unwrap_or_default();
    let listed: Vec<&str> = replicas.iter().filter_map(|r| r["id"].as_str()).collect();
    if listed != ["replica-a", "replica-b"] {
        errors.push(format!("status lists replicas {listed:?}: {status}"));
    }
    let b_leads = replicas
        .iter()
        .find(|r| r["id"] == "replica-b")
        .map(|r| r["leads"].clone());
    if b_leads != Some(serde_json::json!(["reconcile", "upkeep"])) {
        errors.push(format!("status says replica B leads {b_leads:?}"));
    }
    b.stop().await;
    // A clean stop leaves the list; the killed replica stays (for a day).
    let left = replica_ids(db);
    if left != ["replica-a"] {
        errors.push(format!("after B's clean stop the replicas are {left:?}"));
    }
    assert!(
        errors.is_empty(),
        "{} violations after killing replica A with jobs {orphaned:?}:\n{}\nB's log:\n{}",
        errors.len(),
        errors.join("\n"),
        b.log_tail()
    );
    eprintln!(
        "{} edits; replica A killed holding jobs {orphaned:?}; B finished them",
        people.edits
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_spend_one_quota_between_them() {
    const PER_HOUR: u64 = 30;
    let h = Harness::start(Setup {
        postgres: true,
        start_service: false,
        linear_requests_per_hour: PER_HOUR,
        ..Setup::default()
    })
    .await;
    let StoreLocation::Postgres(target) = h.store.clone() else {
        panic!("the harness keeps this store in PostgreSQL");
    };
    let location = h.store.clone();
    let store = tokio::task::spawn_blocking(move || location.open(OpenMode::Create))
        .await
        .unwrap()
        .unwrap();
    let (writer, thread) = Writer::spawn(store).unwrap();
    let mut replicas = Vec::new();
    for id in ["quota-a", "quota-b"] {
        let opts = ReplicaOptions {
            id: Some(id.into()),
            lease: Duration::from_secs(30),
        };
        let cluster = Cluster::start(target.clone(), &opts).await.unwrap();
        let mut s = Scheduler::new(writer.clone(), h.connectors(), 0.2, 8, None);
        s.cluster = Some(Arc::new(cluster));
        replicas.push(s);
    }
    // One read through replica A: its answer's quota reading is what both
    // replicas spend from.
    assert_eq!(
        replicas[0].permit(Side::Linear, Lane::Backfill).await,
        Permit::Go
    );
    let _ = h.linear_conn.get("no-such-issue").await;
    replicas[0].settle(Side::Linear, None).await;
    let mut granted = [0usize; 2];
    for _ in 0..(2 * PER_HOUR) {
        for (i, s) in replicas.iter().enumerate() {
            if s.permit(Side::Linear, Lane::Backfill).await == Permit::Go {
                granted[i] += 1;
            }
        }
    }
    let total = granted[0] + granted[1];
    assert!(
        total < PER_HOUR as usize && granted.iter().all(|g| *g > 0),
        "replicas were granted {granted:?} requests of one quota of {PER_HOUR} an hour"
    );
    drop(replicas);
    writer.close();
    drop(writer);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap()
        .unwrap();
}
