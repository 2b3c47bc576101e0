//! One replica among several `roundtrip run` processes sharing a PostgreSQL
//! store (DESIGN.md section 13): its identity and heartbeat, its leased job
//! claims, and the singleton leases it holds. On SQLite there is no cluster
//! and none of this runs.
//!
//! The coordination statements run on a connection of their own, owned by
//! a dedicated thread, never on the store writer's. The writer wraps each
//! group commit in one `BEGIN … COMMIT` of its own, and the [`pg`]
//! coordination functions open their own transaction; run inside a writer
//! operation, their `COMMIT` would commit the writer's batch half-way. A
//! separate connection also keeps a claim or a lease renewal from waiting
//! behind a long batch: a lease must be renewed on time whatever the writer
//! is doing.
//!
//! Recording a job's result is the one step that does go through the
//! writer: the check that the replica still holds the job (a row lock) and
//! the result it records commit together, so a job whose lease another
//! replica took over is never recorded twice.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};

use crate::domain::{QuotaSample, Side};
use crate::store::pg::{self, BudgetPolicy, Lead, PgError, PgTarget, ReplicaInfo, Singleton, Take};
use crate::store::{Job, Lane, now_ms};

/// Default time a claim or a singleton lease lasts without renewal: how
/// long a dead replica's jobs wait before another replica re-runs them.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The once-per-cluster loops a replica may lead.
const ROLES: [Singleton; 2] = [Singleton::Reconcile, Singleton::Upkeep];

/// How a replica identifies itself and how long its leases last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaOptions {
    /// Its id (default: host, process id and a random suffix).
    pub id: Option<String>,
    /// Lease length of claims and singleton roles.
    pub lease: Duration,
}

impl Default for ReplicaOptions {
    fn default() -> Self {
        ReplicaOptions {
            id: None,
            lease: DEFAULT_LEASE,
        }
    }
}

type Call = Box<dyn FnOnce(&mut postgres::Client) -> Box<dyn Any + Send> + Send>;

/// This process as one replica of a PostgreSQL-backed cluster; cheap to
/// share.
pub struct Cluster {
    info: ReplicaInfo,
    lease_ms: i64,
    calls: mpsc::Sender<Call>,
    running: Mutex<BTreeSet<i64>>,
    /// Grants of the shared budget whose answers are not back yet, per
    /// connector. Any one of a connector's holds may be settled for any of
    /// its answers: each stands for one request on the wire.
    holds: Mutex<BTreeMap<Side, Vec<i64>>>,
    leads: [AtomicBool; ROLES.len()],
    /// Woken when this replica takes a singleton lease, so the loop that
    /// waits for it starts at once instead of at its next look.
    promoted: Notify,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("replica", &self.info.id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The default replica id: readable (host and pid, for the operator) and
/// unique (a random suffix, since pids repeat across hosts and restarts).
fn default_id() -> String {
    let host = host_name();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Cluster {
    /// Connect this replica's coordination session to `target` and
    /// register it with a first heartbeat.
    pub async fn start(target: Arc<PgTarget>, opts: &ReplicaOptions) -> Result<Cluster, PgError> {
        let info = ReplicaInfo {
            id: opts.id.clone().unwrap_or_else(default_id),
            host: host_name(),
            pid: i64::from(std::process::id()),
            started_at: now_ms(),
        };
        let (tx, rx) = mpsc::channel::<Call>();
        let (ready_tx, ready_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("replica-coordination".into())
            .spawn(move || session_loop(&target, rx, ready_tx))
            .map_err(|e| PgError::Statement {
                doing: "starting the replica coordination thread".into(),
                reason: e.to_string(),
            })?;
        ready_rx.await.map_err(|_| closed())??;
        let cluster = Cluster {
            info,
            lease_ms: i64::try_from(opts.lease.as_millis()).unwrap_or(i64::MAX),
            calls: tx,
            running: Mutex::new(BTreeSet::new()),
            holds: Mutex::new(BTreeMap::new()),
            leads: Default::default(),
            promoted: Notify::new(),
        };
        cluster.beat().await?;
        // A replica that finds a singleton free leads from its first
        // moment: the first reconcile of a lone replica is not held back
        // until the first renewal.
        cluster.contend().await;
        Ok(cluster)
    }

    /// This replica's id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// Run `f` on the coordination session.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, PgError> + Send + 'static,
    ) -> Result<T, PgError> {
        let (tx, rx) = oneshot::channel();
        let call: Call = Box::new(move |client| {
            let out: Box<dyn Any + Send> = Box::new(f(client));
            let _ = tx.send(out);
            Box::new(())
        });
        self.calls.send(call).map_err(|_| closed())?;
        let out = rx.await.map_err(|_| closed())?;
        out.downcast::<Result<T, PgError>>()
            .map(|b| *b)
            .map_err(|_| closed())?
    }

    async fn beat(&self) -> Result<(), PgError> {
        let info = self.info.clone();
        self.call(move |c| pg::beat(c, &info, now_ms())).await
    }

    /// Claim up to `limit` due jobs under this replica's lease; each stays
    /// held (and renewed) until [`Cluster::release`].
    pub async fn claim(&self, limit: usize) -> Result<Vec<Job>, PgError> {
        let id = self.info.id.clone();
        let lease = self.lease_ms;
        let jobs = self
            .call(move |c| pg::claim_due_jobs(c, &id, now_ms(), limit, lease))
            .await?;
        lock(&self.running).extend(jobs.iter().map(|j| j.id));
        Ok(jobs)
    }

    /// Hand a claimed job back to the queue until `next_run_at`, without an
    /// attempt.
    pub async fn defer(&self, job: i64, next_run_at: i64) {
        let id = self.info.id.clone();
        let out = self
            .call(move |c| pg::defer(c, &id, job, next_run_at, now_ms()))
            .await;
        self.release(job);
        if let Err(e) = out {
            tracing::warn!(job, error = %e, "cannot defer a claimed job");
        }
    }

    /// Spend one request of `side`'s quota shared by every replica:
    /// `None` when granted (pair it with one [`Cluster::settle`]), else
    /// when to ask again.
    pub async fn take(&self, side: Side, lane: Lane) -> Result<Option<i64>, PgError> {
        let id = self.info.id.clone();
        let answer = self
            .call(move |c| pg::take(c, &id, side, lane, 1, now_ms()))
            .await?;
        Ok(match answer {
            Take::Granted { hold } => {
                lock(&self.holds).entry(side).or_default().push(hold);
                None
            }
            Take::WaitUntil(t) => Some(t),
        })
    }

    /// A granted request's answer is back: it no longer counts as on the
    /// wire, and the readings that came with it (each with the cost of its
    /// request) refill the shared budget — in that order, in one call, so
    /// a reading never counts the request both as on the wire and spent.
    pub async fn settle(
        &self,
        side: Side,
        samples: Vec<(QuotaSample, Option<i64>)>,
        policy: BudgetPolicy,
    ) {
        let hold = lock(&self.holds).get_mut(&side).and_then(Vec::pop);
        if hold.is_none() && samples.is_empty() {
            return;
        }
        let out = self
            .call(move |c| {
                if let Some(hold) = hold {
                    pg::settle(c, hold)?;
                }
                for (s, cost) in &samples {
                    pg::refill(c, s, *cost, policy)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = out {
            tracing::warn!(error = %e, "cannot settle a grant or record a quota reading in the shared budget");
        }
    }

    /// A rate-limit answer: every replica waits until `until` (ms).
    pub async fn pause(&self, side: Side, until: i64) {
        if let Err(e) = self.call(move |c| pg::pause(c, side, until)).await {
            tracing::warn!(error = %e, "cannot pause the shared budget");
        }
    }

    /// The job's result was recorded (or dropped): stop renewing its lease.
    pub fn release(&self, job: i64) {
        lock(&self.running).remove(&job);
    }

    /// Whether this replica holds the lease of `role` now.
    pub fn leads(&self, role: Singleton) -> bool {
        ROLES
            .iter()
            .position(|r| *r == role)
            .is_some_and(|i| self.leads[i].load(Ordering::Relaxed))
    }

    /// How often the heartbeat, the claim leases and the singleton leases
    /// are renewed: three times per lease, so one late renewal loses
    /// nothing.
    pub fn renew_every(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.lease_ms / 3).unwrap_or(1_000).max(50))
    }

    /// Heartbeat, renew the leases of running jobs and take or renew the
    /// singleton leases, until `shutdown`; then give the singletons up so
    /// another replica need not wait for them to expire, and leave the
    /// list of replicas.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            self.renew().await;
            tokio::select! {
                _ = tokio::time::sleep(self.renew_every()) => {}
                _ = shutdown.changed() => {}
            }
        }
        for (i, role) in ROLES.iter().enumerate() {
            self.leads[i].store(false, Ordering::Relaxed);
            let id = self.info.id.clone();
            let role = *role;
            let _ = self.call(move |c| pg::resign(c, role, &id)).await;
        }
        let id = self.info.id.clone();
        if let Err(e) = self.call(move |c| pg::leave(c, &id, now_ms())).await {
            tracing::warn!(error = %e, "cannot remove this replica from the list");
        }
    }

    async fn renew(&self) {
        if let Err(e) = self.beat().await {
            tracing::warn!(error = %e, "cannot record this replica's heartbeat");
        }
        let ids: Vec<i64> = lock(&self.running).iter().copied().collect();
        if !ids.is_empty() {
            let id = self.info.id.clone();
            let lease = self.lease_ms;
            match self
                .call(move |c| pg::renew_leases(c, &id, &ids, now_ms(), lease))
                .await
            {
                Ok(r) if !r.lost.is_empty() => tracing::warn!(
                    jobs = ?r.lost,
                    "job leases lost to another replica; their results will be dropped"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot renew job leases"),
            }
        }
        self.contend().await;
    }

    /// Take or renew each singleton lease this replica can hold.
    async fn contend(&self) {
        for (i, role) in ROLES.iter().enumerate() {
            let id = self.info.id.clone();
            let lease = self.lease_ms;
            let role = *role;
            let lead = self
                .call(move |c| pg::try_lead(c, role, &id, now_ms(), lease))
                .await;
            let leads = matches!(lead, Ok(Lead::Leader { .. }));
            let was = self.leads[i].swap(leads, Ordering::Relaxed);
            if was != leads {
                tracing::info!(role = role.as_str(), leads, "singleton lease changed hands");
                if leads {
                    self.promoted.notify_waiters();
                }
            }
            if let Err(e) = lead {
                tracing::warn!(role = role.as_str(), error = %e, "cannot take or renew a singleton lease");
            }
        }
    }

    /// Wait until this replica takes some singleton lease, or `limit`.
    pub async fn promoted_within(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.promoted.notified()).await;
    }
}

fn closed() -> PgError {
    PgError::Statement {
        doing: "coordinating with the other replicas".into(),
        reason: "the coordination session stopped".into(),
    }
}

/// Own the coordination connection and run calls on it, reconnecting when
/// the server dropped it. Runs on a plain thread: the driver keeps its own
/// runtime and must not be called from inside tokio's.
fn session_loop(
    target: &PgTarget,
    calls: mpsc::Receiver<Call>,
    ready: oneshot::Sender<Result<(), PgError>>,
) {
    let mut client = match target.connect() {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    while let Ok(call) = calls.recv() {
        if client.is_closed() {
            match target.connect() {
                Ok(c) => client = c,
                Err(e) => tracing::warn!(error = %e, "cannot reconnect the coordination session"),
            }
        }
        call(&mut client);
    }
}
