//! How several replicas coordinate through one PostgreSQL database (see
//! `support/pg.rs` for where the server comes from): leased job claims with
//! per-link order, the shared rate-limit budget, heartbeats and singleton
//! leases. Each replica is a thread with its own connection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup step should stop with its message

mod support {
    pub mod pg;
}

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use roundtrip::domain::{ErrorClass, JobStatus, QuotaKind, QuotaRefill, QuotaSample, Side};
use roundtrip::store::pg::PgTarget;
use roundtrip::store::pg::{self, BudgetPolicy, Lead, PgError, Singleton, Take};
use roundtrip::store::{INTERRUPTED, Lane, NewAttempt, OpenMode, Store, StoreError, now_ms};
use support::pg::{PgDb, fresh_db};

const DEADLINE: Duration = Duration::from_secs(60);

/// A fresh database at the latest schema.
fn migrated() -> PgDb {
    let db = fresh_db();
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    pg::migrate_schema(&mut tx, &db.url).unwrap();
    tx.commit().unwrap();
    db
}

/// `links` links and `per_link` jobs on each, all due, the queued counter
/// set as the store would keep it. With `shuffled`, jobs of a link are
/// spread in a fixed random order (neighbouring ids often share a link, so
/// a claim without the per-link guard would take two); without, the jobs'
/// ids go round the links (job n belongs to link n % links). Returns the
/// link ids.
fn fill_queue(db: &PgDb, links: i64, per_link: i64, shuffled: bool) -> Vec<i64> {
    let mut c = db.client();
    let ids: Vec<i64> = (0..links)
        .map(|i| {
            c.query_one(
                "INSERT INTO links (client_id, created_at, updated_at) VALUES ($1, 0, 0) RETURNING id",
                &[&format!("c-{i}")],
            )
            .unwrap()
            .get(0)
        })
        .collect();
    let mut owners: Vec<i64> = (0..links * per_link)
        .map(|n| ids[(n % links) as usize])
        .collect();
    if shuffled {
        fastrand::Rng::with_seed(20).shuffle(&mut owners);
    }
    let mut tx = c.transaction().unwrap();
    for link in owners {
        tx.execute(
            "INSERT INTO jobs (link_id, target, kind, payload, next_run_at, created_at, updated_at)
             VALUES ($1, 'linear', 'update', '{}', 0, 0, 0)",
            &[&link],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    ids
}

/// The store on `db`, as a replica's writer holds it.
fn store(db: &PgDb) -> Store {
    let target = PgTarget::parse(&db.url, Some(db.password.clone())).unwrap();
    Store::open_postgres(&target, OpenMode::Existing).unwrap()
}

/// Record `replica`'s attempt of a claimed job as the engine does: the
/// holder check (a row lock) and the record in one store transaction.
/// False, and nothing recorded, when the replica no longer holds the job.
fn finish(store: &mut Store, replica: &str, job: i64, attempt: &NewAttempt, started: i64) -> bool {
    store
        .write(|db| {
            if !db.job_held_by(job, replica)? {
                return Ok(false);
            }
            db.record_attempt(job, attempt, JobStatus::Succeeded, started)?;
            Ok::<_, StoreError>(true)
        })
        .unwrap()
}

fn ok_attempt(started_at: i64) -> NewAttempt {
    NewAttempt {
        started_at,
        duration_ms: 1,
        http_status: Some(200),
        error_class: None,
        message: None,
        request_id: None,
    }
}

fn counters(db: &PgDb) -> BTreeMap<String, i64> {
    db.client()
        .query("SELECT name, n FROM counters WHERE name LIKE 'jobs.%'", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn replicas_claiming_at_once_share_the_queue_once_each_in_link_order() {
    const REPLICAS: usize = 4;
    let db = migrated();
    let links = fill_queue(&db, 50, 10, true);
    let db = Arc::new(db);
    // Which job of each link is running now, and every claim in order.
    let running: Arc<Mutex<BTreeMap<i64, i64>>> = Arc::default();
    let claims: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
    let start = Arc::new(Barrier::new(REPLICAS));
    let threads: Vec<_> = (0..REPLICAS)
        .map(|r| {
            let (db, running, claims, start) =
                (db.clone(), running.clone(), claims.clone(), start.clone());
            std::thread::spawn(move || {
                let me = format!("replica-{r}");
                let mut c = db.client();
                let mut writer = store(&db);
                let began = Instant::now();
                start.wait();
                let mut done = 0;
                loop {
                    assert!(began.elapsed() < DEADLINE, "{me}: the queue never drained");
                    let now = now_ms();
                    let jobs = pg::claim_due_jobs(&mut c, &me, now, 5, 60_000).unwrap();
                    if jobs.is_empty() {
                        let left: i64 = c
                            .query_one(
                                "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
                                &[],
                            )
                            .unwrap()
                            .get(0);
                        if left == 0 {
                            return done;
                        }
                        std::thread::yield_now();
                        continue;
                    }
                    for j in &jobs {
                        assert_eq!(j.status, JobStatus::Running);
                        let link = j.link_id.unwrap();
                        claims.lock().unwrap().push((link, j.id));
                        if let Some(other) = running.lock().unwrap().insert(link, j.id) {
                            panic!(
                                "{me} claimed job {} while job {other} of link {link} runs",
                                j.id
                            );
                        }
                    }
                    for j in &jobs {
                        // Off the books before the store releases the link.
                        running.lock().unwrap().remove(&j.link_id.unwrap());
                        assert!(finish(&mut writer, &me, j.id, &ok_attempt(now), now));
                        done += 1;
                    }
                }
            })
        })
        .collect();
    let per_replica: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    let claims = claims.lock().unwrap();
    assert_eq!(claims.len(), 500, "{per_replica:?}");
    let ids: BTreeSet<i64> = claims.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), 500, "a job was claimed twice");
    for link in &links {
        let order: Vec<i64> = claims
            .iter()
            .filter(|(l, _)| l == link)
            .map(|(_, id)| *id)
            .collect();
        assert_eq!(order.len(), 10);
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "link {link} ran out of order: {order:?}"
        );
    }
    assert!(
        per_replica.iter().filter(|n| **n > 0).count() > 1,
        "only one replica got work: {per_replica:?}"
    );
    let mut c = db.client();
    let row = c
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'succeeded' AND attempts = 1
                                       AND claimed_by IS NULL AND lease_until IS NULL),
                    (SELECT count(*) FROM job_attempts)
             FROM jobs",
            &[],
        )
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (500, 500));
    let n = counters(&db);
    assert_eq!(
        (n["jobs.queued"], n["jobs.running"], n["jobs.succeeded"]),
        (0, 0, 500)
    );
}

#[test]
fn a_replica_that_stops_renewing_loses_its_jobs_to_another_with_the_attempt_recorded() {
    let db = migrated();
    let links = fill_queue(&db, 3, 2, false);
    let (mut a, mut b) = (db.client(), db.client());
    let t0 = 1_000_000;
    let lease = 1_000;

    // A takes the first job of every link; the links' second jobs wait.
    let held = pg::claim_due_jobs(&mut a, "a", t0, 10, lease).unwrap();
    assert_eq!(held.len(), 3);
    let held_ids: Vec<i64> = held.iter().map(|j| j.id).collect();
    assert_eq!(
        pg::claim_due_jobs(&mut b, "b", t0 + 500, 10, lease).unwrap(),
        vec![]
    );

    // A keeps one lease alive and lets the other two lapse.
    let renewed = pg::renew_leases(&mut a, "a", &held_ids[..1], t0 + 800, lease).unwrap();
    assert_eq!(renewed.renewed, vec![held_ids[0]]);

    // After the expiry B re-runs the lapsed two, not the renewed one, and
    // still not the second jobs of their links.
    let taken = pg::claim_due_jobs(&mut b, "b", t0 + lease, 10, lease).unwrap();
    let taken_ids: Vec<i64> = taken.iter().map(|j| j.id).collect();
    assert_eq!(taken_ids, held_ids[1..].to_vec());
    for j in &taken {
        assert_eq!(j.attempts, 1, "the lapsed run counts as an attempt");
        let attempts = db
            .client()
            .query(
                "SELECT attempt, outcome, message FROM job_attempts WHERE job_id = $1",
                &[&j.id],
            )
            .unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].get::<_, i64>(0), 1);
        assert_eq!(
            attempts[0].get::<_, String>(1),
            ErrorClass::Network.as_str()
        );
        assert_eq!(attempts[0].get::<_, String>(2), INTERRUPTED);
    }

    // A's late answers for them are refused; its renewed job is still its own.
    let mut writer = store(&db);
    assert!(!finish(&mut writer, "a", held_ids[1], &ok_attempt(t0), t0));
    let renewal = pg::renew_leases(&mut a, "a", &held_ids, t0 + 1_100, lease).unwrap();
    assert_eq!(renewal.renewed, vec![held_ids[0]]);
    assert_eq!(renewal.lost, held_ids[1..].to_vec());
    let err = pg::defer(&mut a, "a", held_ids[2], t0 + 5_000, t0 + 1_100).unwrap_err();
    assert!(
        matches!(&err, PgError::LeaseLost { job, holder: Some(h), .. } if *job == held_ids[2] && h == "b"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "job {} is no longer held by replica a (held by b); its result is dropped and the current holder's run counts",
            held_ids[2]
        )
    );
    assert!(finish(&mut writer, "a", held_ids[0], &ok_attempt(t0), t0));

    // B's runs are the ones that count: attempt 2 each.
    for id in &held_ids[1..] {
        assert!(finish(&mut writer, "b", *id, &ok_attempt(t0 + 1_000), t0));
        let n: i64 = db
            .client()
            .query_one(
                "SELECT max(attempt) FROM job_attempts WHERE job_id = $1",
                &[id],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 2);
    }
    // Now the links' second jobs, in order.
    let next = pg::claim_due_jobs(&mut b, "b", t0 + 2_000, 10, lease).unwrap();
    let next_links: Vec<i64> = next.iter().map(|j| j.link_id.unwrap()).collect();
    assert_eq!(next.len(), 3);
    assert_eq!(
        next_links.iter().collect::<BTreeSet<_>>(),
        links.iter().collect()
    );
    let n = counters(&db);
    assert_eq!(
        (n["jobs.queued"], n["jobs.running"], n["jobs.succeeded"]),
        (0, 3, 3)
    );
}

fn sample(limit: i64, remaining: i64, sampled_ms: i64, reset_ms: i64) -> QuotaSample {
    QuotaSample {
        connector: Side::Linear,
        kind: QuotaKind::Requests,
        limit,
        remaining,
        reset_at: Utc.timestamp_millis_opt(reset_ms).single(),
        sampled_at: Utc.timestamp_millis_opt(sampled_ms).single().unwrap(),
    }
}

#[test]
fn two_replicas_taking_from_one_budget_never_grant_more_than_the_quota() {
    let db = Arc::new(migrated());
    // A leaky bucket (Linear's), 700 of 1,000 missing and full in 700 s:
    // one point a second comes back, none while the clock stands still.
    let policy = BudgetPolicy {
        refill: QuotaRefill::Continuous,
        reserve_pct: 20,
    };
    let now = 10_000;
    let reading = sample(1_000, 300, now, now + 700_000);
    assert!(pg::refill(&mut db.client(), &reading, None, policy).unwrap());
    let start = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|r| {
            let (db, start) = (db.clone(), start.clone());
            std::thread::spawn(move || {
                let me = format!("replica-{r}");
                let mut c = db.client();
                start.wait();
                let mut holds = Vec::new();
                loop {
                    match pg::take(&mut c, &me, Side::Linear, Lane::Live, 1, now).unwrap() {
                        Take::Granted { hold } => holds.push(hold),
                        Take::WaitUntil(t) => {
                            assert_eq!(t, now + 1_000, "an empty bucket waits for one point");
                            return holds;
                        }
                    }
                }
            })
        })
        .collect();
    let holds: Vec<Vec<i64>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let granted: Vec<usize> = holds.iter().map(Vec::len).collect();
    assert_eq!(granted.iter().sum::<usize>(), 300, "{granted:?}");
    assert!(
        granted.iter().all(|g| *g > 0),
        "one replica never got through: {granted:?}"
    );
    let distinct: BTreeSet<i64> = holds.iter().flatten().copied().collect();
    assert_eq!(distinct.len(), 300);

    let mut c = db.client();
    // The answers come back: settled, then the reading counts them.
    for hold in &distinct {
        assert!(pg::settle(&mut c, *hold).unwrap());
    }
    assert!(!pg::settle(&mut c, holds[0][0]).unwrap());
    // Backfill leaves the reserve: read at 250 of 1,000, it may spend 50.
    let reading = sample(1_000, 250, now + 2, now + 750_000);
    assert!(pg::refill(&mut c, &reading, None, policy).unwrap());
    let mut backfill = 0;
    while matches!(
        pg::take(&mut c, "a", Side::Linear, Lane::Backfill, 1, now + 2).unwrap(),
        Take::Granted { .. }
    ) {
        backfill += 1;
        assert!(backfill <= 50, "backfill spent the reserve");
    }
    assert_eq!(backfill, 50);
    let live = pg::take(&mut c, "a", Side::Linear, Lane::Live, 1, now + 2).unwrap();
    assert!(matches!(live, Take::Granted { .. }));
    // A reading older than the stored one changes nothing; a pause holds everyone.
    let stale = sample(1_000, 900, now, now + 100_000);
    assert!(!pg::refill(&mut c, &stale, None, policy).unwrap());
    assert!(pg::pause(&mut c, Side::Linear, now + 5_000).unwrap());
    let paused = pg::take(&mut db.client(), "b", Side::Linear, Lane::Live, 1, now + 3).unwrap();
    assert_eq!(paused, Take::WaitUntil(now + 5_000));
    // By the reset the bucket is full again.
    let full = pg::take(
        &mut c,
        "a",
        Side::Linear,
        Lane::Backfill,
        700,
        now + 750_000,
    )
    .unwrap();
    assert!(matches!(full, Take::Granted { .. }));
    // A connector never read has no known limit.
    let unread = pg::take(&mut c, "a", Side::Portal, Lane::Live, 1, now).unwrap();
    assert!(matches!(unread, Take::Granted { .. }));
}

/// Take one request at a time at `now` until refused: the holds granted.
fn drain(c: &mut postgres::Client, replica: &str, now: i64) -> Vec<i64> {
    let mut holds = Vec::new();
    while let Take::Granted { hold } =
        pg::take(c, replica, Side::Linear, Lane::Live, 1, now).unwrap()
    {
        holds.push(hold);
        assert!(holds.len() <= 1_000, "the budget never ran out");
    }
    holds
}

#[test]
fn a_reading_taken_while_requests_are_on_the_wire_still_counts_them() {
    let db = migrated();
    let (mut a, mut b) = (db.client(), db.client());
    let policy = BudgetPolicy {
        refill: QuotaRefill::Continuous,
        reserve_pct: 0,
    };
    let now = 50_000;
    let at = |ms: i64, remaining: i64| sample(1_000, remaining, now + ms, now + 3_600_000);
    assert!(pg::refill(&mut a, &at(0, 5), None, policy).unwrap());
    // A sends two requests; B's answer brings a reading from before they arrived.
    let on_the_wire = drain_n(&mut a, "a", now, 2);
    assert!(pg::refill(&mut b, &at(1, 5), None, policy).unwrap());
    // Only three more fit, not five: the server has five left, two are A's.
    assert_eq!(drain(&mut b, "b", now + 1).len(), 3);
    // A's answers come back: settled, and their reading counts them (3 left),
    // while B's three are still on the wire.
    for hold in on_the_wire {
        assert!(pg::settle(&mut a, hold).unwrap());
    }
    assert!(pg::refill(&mut a, &at(2, 3), None, policy).unwrap());
    assert_eq!(drain(&mut a, "a", now + 2), Vec::<i64>::new());
    // B died mid-request: after the hold expires a reading is taken whole.
    let later = pg::HOLD_MS + 10;
    assert!(pg::refill(&mut a, &at(later, 3), None, policy).unwrap());
    assert_eq!(drain(&mut a, "a", now + later).len(), 3);
}

/// Take `n` requests at `now`, each of which must be granted.
fn drain_n(c: &mut postgres::Client, replica: &str, now: i64, n: usize) -> Vec<i64> {
    (0..n)
        .map(
            |_| match pg::take(c, replica, Side::Linear, Lane::Live, 1, now).unwrap() {
                Take::Granted { hold } => hold,
                other => panic!("not granted: {other:?}"),
            },
        )
        .collect()
}

#[test]
fn one_leader_at_a_time_and_a_dead_leader_is_replaced_after_its_lease() {
    const REPLICAS: usize = 6;
    let db = Arc::new(migrated());
    let t0 = 5_000_000;
    let ttl = 10_000;
    let start = Arc::new(Barrier::new(REPLICAS));
    let threads: Vec<_> = (0..REPLICAS)
        .map(|r| {
            let (db, start) = (db.clone(), start.clone());
            std::thread::spawn(move || {
                let mut c = db.client();
                start.wait();
                let me = format!("replica-{r}");
                (
                    me.clone(),
                    pg::try_lead(&mut c, Singleton::Reconcile, &me, t0, ttl).unwrap(),
                )
            })
        })
        .collect();
    let answers: Vec<(String, Lead)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let leaders: Vec<&String> = answers
        .iter()
        .filter(|(_, l)| matches!(l, Lead::Leader { .. }))
        .map(|(me, _)| me)
        .collect();
    assert_eq!(leaders.len(), 1, "{answers:?}");
    let leader = leaders[0].clone();
    for (me, lead) in &answers {
        if *me != leader {
            assert_eq!(
                lead,
                &Lead::Follower {
                    holder: leader.clone(),
                    until: t0 + ttl
                }
            );
        }
    }
    let other = if leader == "replica-0" {
        "replica-1"
    } else {
        "replica-0"
    };
    let mut c = db.client();
    // The leader renews within its term; another role is independent.
    assert_eq!(
        pg::try_lead(&mut c, Singleton::Reconcile, &leader, t0 + 5_000, ttl).unwrap(),
        Lead::Leader {
            term: 1,
            until: t0 + 15_000
        }
    );
    assert!(matches!(
        pg::try_lead(&mut c, Singleton::Upkeep, other, t0, ttl).unwrap(),
        Lead::Leader { term: 1, .. }
    ));
    // The leader stops renewing: still its lease until the expiry, then the other's.
    assert!(matches!(
        pg::try_lead(&mut c, Singleton::Reconcile, other, t0 + 14_999, ttl).unwrap(),
        Lead::Follower { .. }
    ));
    assert_eq!(
        pg::try_lead(&mut c, Singleton::Reconcile, other, t0 + 15_000, ttl).unwrap(),
        Lead::Leader {
            term: 2,
            until: t0 + 25_000
        }
    );
    // The old leader, waking up, learns it was replaced.
    assert_eq!(
        pg::try_lead(&mut c, Singleton::Reconcile, &leader, t0 + 15_001, ttl).unwrap(),
        Lead::Follower {
            holder: other.to_string(),
            until: t0 + 25_000
        }
    );
    // A clean stop hands over at once.
    assert!(pg::resign(&mut c, Singleton::Reconcile, other).unwrap());
    assert_eq!(
        pg::try_lead(&mut c, Singleton::Reconcile, &leader, t0 + 15_002, ttl).unwrap(),
        Lead::Leader {
            term: 3,
            until: t0 + 25_002
        }
    );
}

#[test]
fn heartbeats_tell_alive_replicas_from_dead_ones() {
    let db = migrated();
    let (mut a, mut b) = (db.client(), db.client());
    let info = |id: &str, pid: i64| pg::ReplicaInfo {
        id: id.into(),
        host: "host-1".into(),
        pid,
        started_at: 1_000,
    };
    pg::beat(&mut a, &info("a", 10), 1_000).unwrap();
    pg::beat(&mut b, &info("b", 11), 1_000).unwrap();
    pg::beat(&mut a, &info("a", 10), 4_000).unwrap();
    // A beat arriving late never moves the clock back.
    pg::beat(&mut b, &info("b", 11), 1_500).unwrap();
    pg::beat(&mut b, &info("b", 11), 900).unwrap();
    let seen = pg::replicas(&mut a, 6_000, 3_000).unwrap();
    let states: Vec<(&str, i64, bool)> = seen
        .iter()
        .map(|s| (s.info.id.as_str(), s.last_beat, s.alive))
        .collect();
    assert_eq!(states, vec![("a", 4_000, true), ("b", 1_500, false)]);
    assert_eq!(seen[1].info.pid, 11);
}

#[test]
fn a_job_left_running_without_a_lease_is_re_run_with_the_unknown_outcome_recorded() {
    // What `store migrate` copies when the SQLite daemon died mid-write.
    let db = migrated();
    fill_queue(&db, 1, 2, false);
    let mut c = db.client();
    c.execute(
        "UPDATE jobs SET status = 'running', updated_at = 700 WHERE id = 1",
        &[],
    )
    .unwrap();
    assert!(!finish(&mut store(&db), "a", 1, &ok_attempt(0), 0));
    let jobs = pg::claim_due_jobs(&mut c, "a", 1_000, 10, 5_000).unwrap();
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![1]);
    let (started, took, message): (i64, i64, String) = {
        let r = c
            .query_one(
                "SELECT started_at, duration_ms, message FROM job_attempts WHERE job_id = 1",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((started, took, message.as_str()), (700, 300, INTERRUPTED));
    let n = counters(&db);
    assert_eq!((n["jobs.queued"], n["jobs.running"]), (1, 1));
}
