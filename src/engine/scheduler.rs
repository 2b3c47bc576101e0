//! The job scheduler: claims due jobs (one per link at a time, so writes for
//! a link stay in order), asks each connector's rate-limit budget for a
//! permit, batches Linear updates for different links into one request when
//! a backlog exists, and records every attempt.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use chrono::{DateTime, Utc};

use super::backoff::NextStep;
use super::budget::{Budget, Permit, Refill};
use super::cluster::Cluster;
use super::executor::{
    Connectors, Landed, Prepared, Timing, execute, payload_with_created_id, prepare_update,
    record_failure, record_receipt, record_success, send_update,
};
use super::payload::JobPayload;
use crate::domain::Update;
use crate::domain::{ErrorClass, QuotaSample, RemoteError, Side};
use crate::metrics::Metrics;
use crate::store::pg::BudgetPolicy;
use crate::store::{Job, Level, StoreError, Writer, from_ms, meta_keys, now_ms};

/// Most jobs claimed per round.
const CLAIM: usize = 200;
/// Most Linear updates folded into one request (their targets are re-read
/// in one request too).
pub const BATCH: usize = 50;
/// Requests in flight per connector.
const IN_FLIGHT: usize = 8;

/// Shared state of the scheduler.
#[derive(Clone)]
pub struct Scheduler {
    /// The store.
    pub writer: Writer,
    /// Both connectors.
    pub connectors: Connectors,
    /// Rate-limit budget per side.
    pub budgets: Arc<Mutex<BTreeMap<Side, Budget>>>,
    /// Attempts before a job is dead.
    pub max_attempts: u32,
    /// Metrics, when the daemon exports them.
    pub metrics: Option<Arc<Metrics>>,
    /// Poked when new jobs are queued.
    pub wake: Arc<Notify>,
    /// Poked when a link's jobs finish, so its merge can run again.
    pub link_done: Arc<Notify>,
    /// Links whose last write just landed (re-merged by the engine).
    pub settled_links: Arc<Mutex<Vec<i64>>>,
    /// This replica, when several share a PostgreSQL store: jobs are then
    /// claimed under its lease.
    pub cluster: Option<Arc<Cluster>>,
    /// Percent of each quota kept for live edits (the shared budget's
    /// policy).
    reserve_pct: i64,
    limits: Arc<BTreeMap<Side, Arc<Semaphore>>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scheduler")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Scheduler {
    /// A scheduler over the given store and connectors.
    pub fn new(
        writer: Writer,
        connectors: Connectors,
        reserve: f64,
        max_attempts: u32,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        let budgets = [Side::Linear, Side::Portal]
            .into_iter()
            .map(|side| (side, Budget::with_refill(reserve, Refill::of(side))))
            .collect();
        let limits = [Side::Linear, Side::Portal]
            .into_iter()
            .map(|s| (s, Arc::new(Semaphore::new(IN_FLIGHT))))
            .collect();
        Scheduler {
            writer,
            connectors,
            budgets: Arc::new(Mutex::new(budgets)),
            max_attempts,
            metrics,
            wake: Arc::new(Notify::new()),
            link_done: Arc::new(Notify::new()),
            settled_links: Arc::new(Mutex::new(Vec::new())),
            cluster: None,
            reserve_pct: (reserve * 100.0).round() as i64,
            limits: Arc::new(limits),
        }
    }

    /// Record a claimed job's result with `f`, in the writer's next
    /// commit. On a cluster the record is made only while this replica
    /// still holds the job, checked under a row lock in the same
    /// transaction: a job whose lease expired and that another replica
    /// re-claimed gets `Ok(None)` (logged), its result dropped.
    async fn record<T: Send + 'static>(
        &self,
        job: i64,
        f: impl FnOnce(crate::store::Db<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<Option<T>, StoreError> {
        let Some(cluster) = self.cluster.clone() else {
            return self.writer.run(move |db| f(db).map(Some)).await;
        };
        let replica = cluster.id().to_string();
        let out = self
            .writer
            .run(move |db| {
                if !db.job_held_by(job, &replica)? {
                    return Ok(None);
                }
                f(db).map(Some)
            })
            .await;
        cluster.release(job);
        if let Ok(None) = out {
            tracing::warn!(
                job,
                replica = cluster.id(),
                "job no longer held by this replica (its lease expired and another replica re-queued it, or an operator changed it); result dropped"
            );
        }
        out
    }

    /// Feed a connector's latest quota readings into its budget and the store.
    async fn absorb_quota(&self, side: Side, samples: Vec<(QuotaSample, Option<i64>)>) {
        if samples.is_empty() {
            return;
        }
        {
            let mut budgets = lock(&self.budgets);
            if let Some(b) = budgets.get_mut(&side) {
                for (s, cost) in &samples {
                    b.observe(s, *cost);
                }
            }
        }
        let samples: Vec<_> = samples.into_iter().map(|(s, _)| s).collect();
        let _ = self
            .writer
            .run(move |db| {
                for s in &samples {
                    db.record_quota(s)?;
                }
                Ok(())
            })
            .await;
    }

    /// An operation that was given [`Permit::Go`] has finished (with
    /// `error`, if it failed): absorb the readings its answers carried and
    /// any wait a rate-limit answer asked for, then stop holding it against
    /// the quota (in this order, so it is never counted as neither sent nor
    /// seen, and a probe after a wait is judged by its own answer). Call
    /// exactly once per `Go`.
    pub async fn settle(&self, side: Side, error: Option<&RemoteError>) {
        let samples = self.connectors.side(side).take_quota_samples_with_cost();
        if let Some(c) = &self.cluster {
            c.settle(side, samples.clone(), self.shared_policy(side))
                .await;
        }
        self.absorb_quota(side, samples).await;
        let limited = error.is_some_and(|e| e.class == ErrorClass::RateLimited);
        if let Some(e) = error
            && let Some(until) = self.note_rate_limit(side, e)
            && let Some(c) = &self.cluster
        {
            c.pause(side, until).await;
        }
        if let Some(b) = lock(&self.budgets).get_mut(&side) {
            b.settle(limited);
        }
    }

    /// How the shared budget spends `side`'s quota: as the local one does.
    fn shared_policy(&self, side: Side) -> BudgetPolicy {
        BudgetPolicy {
            refill: Refill::of(side),
            reserve_pct: self.reserve_pct,
        }
    }

    /// Ask the budget of `side` for a permit now; spends on Go (pair every
    /// `Go` with one [`Scheduler::settle`]). On a cluster the quota shared
    /// by every replica must grant it too, so two replicas never spend
    /// more than one quota; the local budget still paces this replica's
    /// probe after a pause, and alone decides when the shared one cannot
    /// be reached.
    pub async fn permit(&self, side: Side, lane: crate::store::Lane) -> Permit {
        let local = self.local_permit(side, lane);
        let (Permit::Go, Some(c)) = (local, &self.cluster) else {
            return local;
        };
        match c.take(side, lane).await {
            Ok(None) => Permit::Go,
            Ok(Some(t)) => {
                if let Some(b) = lock(&self.budgets).get_mut(&side) {
                    b.settle(false);
                }
                Permit::WaitUntil(t)
            }
            Err(e) => {
                tracing::warn!(error = %e, "shared rate-limit budget unavailable; pacing by this replica's own");
                Permit::Go
            }
        }
    }

    fn local_permit(&self, side: Side, lane: crate::store::Lane) -> Permit {
        let mut budgets = lock(&self.budgets);
        let now = now_ms();
        match budgets.get_mut(&side) {
            Some(b) => {
                let p = b.permit(lane, now);
                if p == Permit::Go {
                    b.spend(now);
                }
                p
            }
            None => Permit::Go,
        }
    }

    /// A RATELIMITED answer pauses the side's budget until the wait the
    /// remote asked for; returns that time.
    pub(crate) fn note_rate_limit(&self, side: Side, err: &RemoteError) -> Option<i64> {
        if err.class != ErrorClass::RateLimited {
            return None;
        }
        let wait = err.retry_after.unwrap_or(Duration::from_secs(1));
        let until = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(60_000);
        if let Some(b) = lock(&self.budgets).get_mut(&side) {
            b.pause_until(until);
        }
        Some(until)
    }

    /// Count one remote call in the metrics (status: HTTP code, or the
    /// error class when no response arrived).
    pub(crate) fn count(&self, side: Side, result: Result<(), &RemoteError>, seconds: f64) {
        if let Some(m) = &self.metrics {
            let status = match result {
                Ok(()) => "ok".to_string(),
                Err(e) => e
                    .http_status
                    .map_or_else(|| e.class.as_str().to_string(), |s| s.to_string()),
            };
            m.request(side.as_str(), &status, seconds);
        }
    }

    async fn paused(&self, side: Side) -> bool {
        let key = meta_keys::paused(side);
        self.writer
            .run(move |db| db.meta(key))
            .await
            .ok()
            .flatten()
            .is_some()
    }

    /// Run until `shutdown` turns true, then let in-flight jobs finish.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        // A cluster re-queues a dead replica's jobs when their leases
        // expire; the jobs running now may be another live replica's.
        if self.cluster.is_none() {
            let _ = self.writer.run(|db| db.requeue_running_jobs()).await;
        }
        let mut tasks = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            let claimed = match &self.cluster {
                Some(c) => c.claim(CLAIM).await.map_err(|e| e.to_string()),
                None => self
                    .writer
                    .run(|db| db.claim_due_jobs(now_ms(), CLAIM))
                    .await
                    .map_err(|e| e.to_string()),
            };
            let jobs = match claimed {
                Ok(j) => j,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim jobs");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                let due = self.writer.run(|db| db.next_job_due()).await.ok().flatten();
                let wait = due.map(|t| (t - now_ms()).clamp(5, 1_000)).unwrap_or(1_000);
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            self.dispatch(jobs, &mut tasks).await;
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn dispatch(&self, jobs: Vec<Job>, tasks: &mut JoinSet<()>) {
        let mut linear_updates: Vec<(Job, JobPayload)> = Vec::new();
        let mut deferred: Vec<(i64, i64)> = Vec::new();
        let mut paused = BTreeMap::new();
        for side in [Side::Linear, Side::Portal] {
            paused.insert(side, self.paused(side).await);
        }
        for job in jobs {
            let payload = match JobPayload::from_json(&job.payload) {
                Ok(p) => p,
                Err(e) => {
                    let err = RemoteError::new(
                        ErrorClass::Validation,
                        format!("unreadable job payload: {e}"),
                    );
                    let j = job.clone();
                    let max = self.max_attempts;
                    let _ = self
                        .record(job.id, move |db| {
                            record_failure(
                                db,
                                &j,
                                None,
                                &err,
                                Timing {
                                    started_at: now_ms(),
                                    duration_ms: 0,
                                },
                                max,
                            )
                        })
                        .await;
                    continue;
                }
            };
            if paused.get(&job.target).copied().unwrap_or(false) {
                deferred.push((job.id, now_ms() + 5_000));
                continue;
            }
            if job.target == Side::Linear && matches!(payload, JobPayload::Update { .. }) {
                linear_updates.push((job, payload));
                continue;
            }
            match self.permit(job.target, job.lane).await {
                Permit::WaitUntil(t) => deferred.push((job.id, t)),
                Permit::Go => self.spawn_single(job, payload, tasks).await,
            }
        }
        for chunk in linear_updates.chunks(BATCH) {
            let lane = if chunk
                .iter()
                .any(|(j, _)| j.lane == crate::store::Lane::Live)
            {
                crate::store::Lane::Live
            } else {
                crate::store::Lane::Backfill
            };
            match self.permit(Side::Linear, lane).await {
                Permit::WaitUntil(t) => deferred.extend(chunk.iter().map(|(j, _)| (j.id, t))),
                Permit::Go if chunk.len() == 1 => {
                    let (job, payload) = chunk[0].clone();
                    self.spawn_single(job, payload, tasks).await;
                }
                Permit::Go => self.spawn_batch(chunk.to_vec(), tasks).await,
            }
        }
        if let Some(cluster) = &self.cluster {
            for (id, t) in deferred {
                cluster.defer(id, t).await;
            }
        } else if !deferred.is_empty() {
            let _ = self
                .writer
                .run(move |db| {
                    for (id, t) in &deferred {
                        db.defer_job(*id, *t)?;
                    }
                    Ok::<_, StoreError>(())
                })
                .await;
        }
    }

    async fn spawn_single(&self, job: Job, payload: JobPayload, tasks: &mut JoinSet<()>) {
        let me = self.clone();
        let permit = self.limits.get(&job.target).cloned();
        tasks.spawn(async move {
            let _slot = match &permit {
                Some(p) => p.clone().acquire_owned().await.ok(),
                None => None,
            };
            let started = Timing::start();
            let result = match &payload {
                JobPayload::Update { remote_id, .. } => match me.first_attempt(&job).await {
                    Ok(since) => me.run_update(&job, &payload, remote_id, since).await,
                    Err(e) => Err(e),
                },
                _ => execute(&me.connectors, &job, &payload, None).await,
            };
            let t = Timing::finish(started);
            me.count(
                job.target,
                result.as_ref().map(|_| ()),
                t.duration_ms as f64 / 1000.0,
            );
            me.settle(job.target, result.as_ref().err()).await;
            me.finish(job, payload, result, t).await;
        });
    }

    /// When a retried job's first attempt of unknown outcome started (`None`
    /// for a first try, or when every earlier attempt was refused before it
    /// was applied): a retry asks the target what it wrote since then.
    async fn first_attempt(&self, job: &Job) -> Result<Option<DateTime<Utc>>, RemoteError> {
        if !job.tried_before() {
            return Ok(None);
        }
        let id = job.id;
        self.writer
            .run(move |db| db.first_unknown_outcome_at(id))
            .await
            .map(|at| at.map(from_ms))
            .map_err(|e| RemoteError::new(ErrorClass::Server, format!("store: {e}")))
    }

    /// Re-read an update's target, keep its receipt, send what still needs
    /// writing.
    async fn run_update(
        &self,
        job: &Job,
        payload: &JobPayload,
        remote_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Landed, RemoteError> {
        let prepared = prepare_update(&self.connectors, job.target, payload, None, since).await?;
        self.keep_receipts(vec![(job.clone(), prepared.clone())])
            .await?;
        send_update(
            self.connectors.side(job.target).as_ref(),
            remote_id,
            prepared,
        )
        .await
    }

    /// Record the receipts of writes about to be sent; a store that cannot
    /// take them stops the writes (they are retried).
    async fn keep_receipts(&self, items: Vec<(Job, Prepared)>) -> Result<(), RemoteError> {
        if items
            .iter()
            .all(|(j, p)| j.target != Side::Linear || p.send.is_empty())
        {
            return Ok(());
        }
        self.writer
            .run(move |db| {
                for (job, p) in &items {
                    if !p.send.is_empty() {
                        record_receipt(db, job, p)?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(|e| RemoteError::new(ErrorClass::Server, format!("store: {e}")))
    }

    /// Several Linear updates in two requests: one read of every target
    /// (so each write is made against the issue as it is now) and one
    /// aliased mutation document for what still needs writing.
    async fn spawn_batch(&self, chunk: Vec<(Job, JobPayload)>, tasks: &mut JoinSet<()>) {
        let me = self.clone();
        let permit = self.limits.get(&Side::Linear).cloned();
        tasks.spawn(async move {
            let _slot = match &permit {
                Some(p) => p.clone().acquire_owned().await.ok(),
                None => None,
            };
            let started = Timing::start();
            let (outcome, error) = me.run_batch(&chunk).await;
            let t = Timing::finish(started);
            me.count(
                Side::Linear,
                error.as_ref().map_or(Ok(()), Err),
                t.duration_ms as f64 / 1000.0,
            );
            me.settle(Side::Linear, error.as_ref()).await;
            for ((job, payload), result) in chunk.into_iter().zip(outcome) {
                me.finish(job, payload, result, t).await;
            }
        });
    }

    /// Re-read, prepare and send a chunk of Linear updates; one result per
    /// item, and the request-level error if a request failed as a whole.
    async fn run_batch(
        &self,
        chunk: &[(Job, JobPayload)],
    ) -> (Vec<Result<Landed, RemoteError>>, Option<RemoteError>) {
        let conn = &self.connectors.linear;
        let ids: Vec<String> = chunk
            .iter()
            .filter_map(|(_, p)| match p {
                JobPayload::Update { remote_id, .. } => Some(remote_id.clone()),
                _ => None,
            })
            .collect();
        let read_at = now_ms();
        let fresh = match conn.get_fields_many(&ids).await {
            Ok(f) => f,
            Err(e) => return (vec![Err(e.clone()); chunk.len()], Some(e)),
        };
        let mut results: Vec<Option<Result<Landed, RemoteError>>> = vec![None; chunk.len()];
        let mut prepared: Vec<(usize, String, Prepared)> = Vec::new();
        for (i, (job, payload)) in chunk.iter().enumerate() {
            let JobPayload::Update { remote_id, .. } = payload else {
                continue;
            };
            let current = fresh
                .iter()
                .find(|r| &r.remote_id == remote_id)
                .map(|r| (r.clone(), read_at));
            let Some(current) = current else {
                results[i] = Some(Err(RemoteError::new(
                    ErrorClass::NotFound,
                    format!("the linear record {remote_id} no longer exists"),
                )));
                continue;
            };
            let since = match self.first_attempt(job).await {
                Ok(since) => since,
                Err(e) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            match prepare_update(&self.connectors, job.target, payload, Some(current), since).await
            {
                Ok(p) if p.send.is_empty() => {
                    results[i] = Some(Ok(Landed::Updated(Box::new(p.landed))));
                }
                Ok(p) => prepared.push((i, remote_id.clone(), p)),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let mut error = None;
        let receipts = prepared
            .iter()
            .map(|(i, _, p)| (chunk[*i].0.clone(), p.clone()))
            .collect();
        if let Err(e) = self.keep_receipts(receipts).await {
            for (i, _, _) in &prepared {
                results[*i] = Some(Err(e.clone()));
            }
            prepared.clear();
        }
        if !prepared.is_empty() {
            let items: Vec<(String, Update)> = prepared
                .iter()
                .map(|(_, id, p)| (id.clone(), p.send.clone()))
                .collect();
            match conn.update_many(&items).await {
                Ok(answers) => {
                    for ((i, _, p), answer) in prepared.into_iter().zip(answers) {
                        results[i] = Some(answer.map(|w| {
                            let mut landed = p.landed;
                            landed.updated_at = w.updated_at;
                            Landed::Updated(Box::new(landed))
                        }));
                    }
                }
                Err(e) => {
                    for (i, _, _) in &prepared {
                        results[*i] = Some(Err(e.clone()));
                    }
                    error = Some(e);
                }
            }
        }
        let results = results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(RemoteError::new(ErrorClass::Validation, "not an update")))
            })
            .collect();
        (results, error)
    }

    async fn finish(
        &self,
        job: Job,
        payload: JobPayload,
        result: Result<Landed, RemoteError>,
        t: Timing,
    ) {
        let link = job.link_id;
        let target = job.target;
        match result {
            Ok(landed) => {
                let r = self
                    .record(job.id, move |db| {
                        record_success(db, &job, &payload, &landed, t)
                    })
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "cannot record a successful write");
                }
            }
            Err(err) => {
                let max = self.max_attempts;
                let keep = payload_with_created_id(self.connectors.side(target).as_ref(), &payload);
                let r = self
                    .record(job.id, move |db| {
                        if let Some(p) = &keep {
                            db.set_job_payload(job.id, &p.to_json())?;
                        }
                        record_failure(db, &job, Some(&payload), &err, t, max)
                    })
                    .await;
                match r {
                    Ok(Some(NextStep::PauseConnector)) => {
                        tracing::error!(connector = %target, "credentials refused; connector paused");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "cannot record a failed write"),
                }
            }
        }
        if let Some(link) = link {
            lock(&self.settled_links).push(link);
            self.link_done.notify_one();
        }
        self.wake.notify_one();
    }

    /// Clear a connector pause after a successful probe.
    pub async fn resume(&self, side: Side) {
        let key = meta_keys::paused(side);
        let _ = self
            .writer
            .run(move |db| {
                db.clear_meta(key)?;
                db.log_event(Level::Info, "engine", &format!("{side} connector resumed"))
            })
            .await;
    }
}
