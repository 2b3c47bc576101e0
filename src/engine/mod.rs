//! The sync engine: inbox consumer, reconcile loop, job scheduler with
//! rate-limit-aware pacing, retries and dead letters (DESIGN.md sections 6–7).
//!
//! Webhooks and polls only say *which* records to look at; the engine reads
//! each record's current state, stores it, and merges its link against the
//! base snapshot. Every outbound write becomes a job row before it is sent.
//! All store access goes through the group-commit [`Writer`], so async code
//! never blocks on SQLite.

pub mod adopt;
pub mod backoff;
pub mod budget;
mod changelog;
pub mod cluster;
pub mod executor;
mod intents;
pub mod link_sync;
mod loops;
pub mod merges;
mod overwrite;
pub mod payload;
mod reconcile;
pub mod records;
pub mod routing;
pub mod scheduler;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::domain::{ErrorClass, PortalKind, Record, RemoteError, Side};
use crate::metrics::Metrics;
use crate::store::{Lane, Level, UpsertOutcome, Writer, meta_keys};
use crate::sync::{Mapping, MassDeleteGuard, PingPongGuard, PortalCreateOptions};

pub use executor::Connectors;
pub use reconcile::ReconcileReport;
pub use records::{EngineState, Rules};

use budget::Permit;
use link_sync::{Applied, MergeSettings};
use scheduler::Scheduler;

/// Rate-limit answers a read waits out (each costs its `Retry-After`)
/// before the caller sees the error.
const RATE_LIMITED_READS: usize = 10;

/// How often a read that turned out older than the stored state is read
/// again before giving up (a later webhook or reconcile brings it).
const STALE_REREADS: usize = 3;

/// Engine settings, usually from the `[sync]` section of the config.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Create and delete rules.
    pub rules: Rules,
    /// Full comparison interval.
    pub reconcile_interval: Duration,
    /// Attempts for transient failures before a job is dead.
    pub max_attempts: u32,
    /// Share of quota kept for live edits.
    pub live_reserve: f64,
    /// Which portal product: its default mapping, and how mirrored
    /// comments name it.
    pub portal: PortalKind,
    /// How often the heartbeat and operator intents are checked.
    pub tick: Duration,
    /// This replica's id and lease length (used on a PostgreSQL store).
    pub replica: cluster::ReplicaOptions,
}

impl EngineOptions {
    /// Options from a loaded config file.
    pub fn from_config(c: &Config) -> EngineOptions {
        EngineOptions {
            rules: Rules {
                default_team: c.linear.team.clone(),
                create_in_linear: c.create_in_linear_when(),
                create_in_portal: match &c.sync.create_in_portal_label {
                    Some(label) => PortalCreateOptions {
                        enabled: true,
                        label: label.clone(),
                    },
                    None => PortalCreateOptions::default(),
                },
                delete_policy: c.sync.delete_policy,
                guard: MassDeleteGuard {
                    max_deletes: c.sync.mass_delete_guard as usize,
                    ..MassDeleteGuard::default()
                },
            },
            reconcile_interval: c.reconcile_interval(),
            max_attempts: c.sync.max_attempts,
            live_reserve: c.sync.live_reserve,
            portal: c.portal.kind,
            tick: Duration::from_secs(1),
            replica: cluster::ReplicaOptions {
                id: c.sync.replica_id.clone(),
                lease: c.sync.replica_lease.map_or(cluster::DEFAULT_LEASE, |d| d.0),
            },
        }
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A remote call failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The store syncs another portal product than the one configured.
    #[error(
        "the store at hand syncs {stored}, but the configuration names {configured}; use a new store (a fresh [store] path) for {configured}"
    )]
    PortalChanged {
        /// What the store syncs.
        stored: String,
        /// What the configuration names.
        configured: String,
    },
}

pub(crate) struct Inner {
    pub(crate) writer: Writer,
    pub(crate) connectors: Connectors,
    pub(crate) opts: EngineOptions,
    pub(crate) scheduler: Scheduler,
    pub(crate) merge: RwLock<Arc<MergeSettings>>,
    pub(crate) mapping_version: Mutex<Option<i64>>,
    pub(crate) state: Arc<Mutex<EngineState>>,
    pub(crate) inbox_wake: Arc<Notify>,
    /// Asks the reconcile loop to run before its interval is up.
    pub(crate) reconcile_wake: Arc<Notify>,
    /// The portal's webhooks, when they may fall silent on their own.
    pub(crate) watch: Option<crate::connector::WebhookWatch>,
}

/// A running or ready-to-run engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

/// Tell the connectors which teams and boards the routes name, so
/// reconcile lists them too.
pub(crate) fn apply_scope(connectors: &Connectors, mapping: &Mapping) {
    let mut scope = crate::connector::Scope::default();
    for r in &mapping.routes {
        if let Some(t) = &r.target.team
            && !scope.teams.iter().any(|k| k.eq_ignore_ascii_case(t))
        {
            scope.teams.push(t.clone());
        }
        for b in &r.when.board {
            if !scope.boards.iter().any(|k| k.eq_ignore_ascii_case(b)) {
                scope.boards.push(b.clone());
            }
        }
    }
    connectors.linear.set_scope(&scope);
    connectors.portal.set_scope(&scope);
}

/// Unrouted posts routed again per mapping change.
const UNROUTED_PER_PASS: usize = 10_000;

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Engine {
    /// Prepare an engine: make sure the store has an active mapping (the
    /// built-in default on first start) and load it.
    pub async fn new(
        writer: Writer,
        connectors: Connectors,
        opts: EngineOptions,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Engine, EngineError> {
        Engine::new_replica(writer, connectors, opts, metrics, None).await
    }

    /// [`Engine::new`] for one replica of several sharing a PostgreSQL
    /// store (`cluster`): jobs are claimed under its lease, and the
    /// once-per-cluster loops run only while it leads them.
    pub async fn new_replica(
        writer: Writer,
        connectors: Connectors,
        opts: EngineOptions,
        metrics: Option<Arc<Metrics>>,
        cluster: Option<Arc<cluster::Cluster>>,
    ) -> Result<Engine, EngineError> {
        let kind = opts.portal;
        let default_doc = Mapping::default_for(kind).to_toml();
        let watch = connectors.portal.webhook_watch();
        let settings = watch.as_ref().map(|w| crate::store::WatchSettings {
            vendor: w.vendor.clone(),
            grace_ms: i64::try_from(w.grace.as_millis()).unwrap_or(i64::MAX),
            advice: w.advice.clone(),
            events: w.events.iter().map(|(_, e)| (*e).to_string()).collect(),
        });
        let stored = writer.run(move |db| db.claim_portal_kind(kind)).await?;
        if stored != kind {
            return Err(EngineError::PortalChanged {
                stored: stored.display_name().into(),
                configured: kind.display_name().into(),
            });
        }
        let team = opts.rules.default_team.clone();
        let active = writer
            .run(move |db| {
                db.set_webhook_watch(settings.as_ref())?;
                db.set_meta(crate::store::meta_keys::LINEAR_TEAM, &team)?;
                if db.active_mapping()?.is_none() {
                    let doc = crate::sync::stamp_version(&default_doc, db.next_mapping_version()?)
                        .unwrap_or(default_doc);
                    db.add_mapping_version(
                        &doc,
                        crate::domain::Actor::BuiltIn,
                        "built-in default mapping",
                    )?;
                }
                intents::load_active_mapping(db, None)
            })
            .await?;
        let (mapping, version) = match active {
            Some((v, m)) => (m, Some(v)),
            None => (Mapping::default_for(kind), None),
        };
        let mut scheduler = Scheduler::new(
            writer.clone(),
            connectors.clone(),
            opts.live_reserve,
            opts.max_attempts,
            metrics,
        );
        scheduler.cluster = cluster;
        let merge = MergeSettings {
            mapping,
            portal_name: opts.portal.display_name().to_string(),
            guard: PingPongGuard::default(),
            max_attempts: i64::from(opts.max_attempts),
        };
        apply_scope(&connectors, &merge.mapping);
        Ok(Engine {
            inner: Arc::new(Inner {
                writer,
                connectors,
                opts,
                scheduler,
                merge: RwLock::new(Arc::new(merge)),
                mapping_version: Mutex::new(version),
                state: Arc::new(Mutex::new(EngineState::default())),
                inbox_wake: Arc::new(Notify::new()),
                reconcile_wake: Arc::new(Notify::new()),
                watch,
            }),
        })
    }

    /// Whether this process runs the once-per-cluster loop `role` now:
    /// always without a cluster, else while it holds the role's lease.
    pub(crate) fn leads(&self, role: crate::store::pg::Singleton) -> bool {
        self.inner
            .scheduler
            .cluster
            .as_ref()
            .is_none_or(|c| c.leads(role))
    }

    /// Poke this when a delivery was stored, so it is handled at once.
    pub fn inbox_notifier(&self) -> Arc<Notify> {
        self.inner.inbox_wake.clone()
    }

    /// The job scheduler (tests and the demo drive it directly).
    pub fn scheduler(&self) -> &Scheduler {
        &self.inner.scheduler
    }

    pub(crate) fn merge_settings(&self) -> Arc<MergeSettings> {
        self.inner
            .merge
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Start every loop; they stop when `shutdown` turns true. In-flight
    /// jobs finish before the returned set completes.
    pub fn spawn(&self, shutdown: watch::Receiver<bool>) -> JoinSet<()> {
        let mut set = JoinSet::new();
        if let Some(c) = &self.inner.scheduler.cluster {
            set.spawn(c.clone().run(shutdown.clone()));
        }
        set.spawn(self.inner.scheduler.clone().run(shutdown.clone()));
        set.spawn(self.clone().inbox_loop(shutdown.clone()));
        set.spawn(self.clone().reconcile_loop(shutdown.clone()));
        set.spawn(self.clone().tick_loop(shutdown));
        set
    }

    /// Make one remote call through the rate-limit budget, counting it in
    /// the metrics and feeding the quota it reports back to the budget.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        side: Side,
        lane: Lane,
        f: F,
    ) -> Result<T, RemoteError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, RemoteError>>,
    {
        let mut limited = 0;
        loop {
            loop {
                match self.inner.scheduler.permit(side, lane).await {
                    Permit::Go => break,
                    Permit::WaitUntil(t) => {
                        let wait = (t - crate::store::now_ms()).clamp(1, 60_000);
                        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                    }
                }
            }
            let started = std::time::Instant::now();
            let result = f().await;
            self.inner.scheduler.count(
                side,
                result.as_ref().map(|_| ()),
                started.elapsed().as_secs_f64(),
            );
            self.inner
                .scheduler
                .settle(side, result.as_ref().err())
                .await;
            match &result {
                // A rate-limit answer costs its wait, not the read: the
                // budget holds the next attempt until then and lets it
                // through as the one probe.
                Err(e) if e.class == ErrorClass::RateLimited && limited < RATE_LIMITED_READS => {
                    limited += 1;
                    continue;
                }
                Err(e) if e.class == ErrorClass::Auth => self.pause(side, &e.message).await,
                Err(e) if e.class == ErrorClass::Schema => {
                    self.note_shape_drift(side, &e.message).await;
                }
                _ => {}
            }
            return result;
        }
    }

    /// Raise the "API response shape changed" alert (first example kept).
    async fn note_shape_drift(&self, side: Side, example: &str) {
        let example = example.to_string();
        let _ = self
            .inner
            .writer
            .run(move |db| db.note_shape_drift(side, &example))
            .await;
    }

    async fn pause(&self, side: Side, why: &str) {
        let key = meta_keys::paused(side);
        let msg = format!("credentials refused ({why})");
        let _ = self
            .inner
            .writer
            .run(move |db| {
                if db.meta(key)?.is_none() {
                    db.set_meta(key, &msg)?;
                    db.log_event(
                        Level::Error,
                        "engine",
                        &format!("{side} connector paused: {msg}"),
                    )?;
                }
                Ok(())
            })
            .await;
    }

    /// Store records read from `side` without merging (one transaction).
    pub async fn store_records(
        &self,
        side: Side,
        records: Vec<Record>,
    ) -> Result<Vec<(String, UpsertOutcome)>, EngineError> {
        Ok(self
            .inner
            .writer
            .run(move |db| {
                records
                    .iter()
                    .map(|r| records::store_record(db, side, r).map(|o| (r.remote_id.clone(), o)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?)
    }

    /// Act on stored records of `side` (merge, create, delete) in one
    /// transaction.
    pub async fn act_on(
        &self,
        side: Side,
        ids: Vec<String>,
        lane: Lane,
    ) -> Result<Applied, EngineError> {
        self.in_store(move |db, merge, rules, st, now| {
            let mut total = Applied::default();
            for id in &ids {
                let a = records::act_on_record(db, merge, rules, st, side, id, lane, now)?;
                total.jobs += a.jobs;
                total.conflicts += a.conflicts;
                total.deferred |= a.deferred;
            }
            Ok(total)
        })
        .await
    }

    /// Store records read from `side` by a request that started at
    /// `started_ms`; a record whose stored state is fresher than that read
    /// is left as it is (`None` in the result).
    pub async fn store_reads(
        &self,
        side: Side,
        records: Vec<Record>,
        started_ms: i64,
    ) -> Result<Vec<(String, Option<UpsertOutcome>)>, EngineError> {
        Ok(self
            .inner
            .writer
            .run(move |db| {
                records
                    .iter()
                    .map(|r| {
                        records::store_record_read(db, side, r, started_ms)
                            .map(|o| (r.remote_id.clone(), o))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?)
    }

    /// [`Engine::apply_read`] for a record read at an unknown time (taken
    /// as now).
    pub async fn apply_record(
        &self,
        side: Side,
        record: Record,
        lane: Lane,
    ) -> Result<(UpsertOutcome, Applied), EngineError> {
        self.apply_read(side, record, crate::store::now_ms(), lane)
            .await
    }

    /// Store a record read from `side` by a request that started at
    /// `started_ms`, refresh the linked record on the other side (so a merge
    /// never writes over a change it has not seen yet), then act on it. A
    /// read older than the stored state (a write of ours landed while it
    /// was on its way) is read again rather than stored or dropped.
    pub async fn apply_read(
        &self,
        side: Side,
        record: Record,
        started_ms: i64,
        lane: Lane,
    ) -> Result<(UpsertOutcome, Applied), EngineError> {
        let id = record.remote_id.clone();
        let conn = self.inner.connectors.side(side).clone();
        let (mut record, mut started) = (record, started_ms);
        let mut outcome = UpsertOutcome::Unchanged;
        for _ in 0..STALE_REREADS {
            match self.store_reads(side, vec![record], started).await?.pop() {
                Some((_, Some(o))) => {
                    outcome = o;
                    break;
                }
                _ => {
                    started = crate::store::now_ms();
                    match self.call(side, lane, || conn.get(&id)).await {
                        Ok(Some(r)) => record = r,
                        Ok(None) => return Ok((outcome, self.apply_deleted(side, id).await?)),
                        Err(e) if e.class == ErrorClass::NotFound => {
                            return Ok((outcome, self.apply_deleted(side, id).await?));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        let rid = id.clone();
        let other_id = self
            .inner
            .writer
            .run(move |db| {
                Ok(db.link_by_remote(side, &rid)?.and_then(|l| {
                    if l.state != crate::store::LinkState::Active {
                        return None;
                    }
                    match side {
                        Side::Portal => l.linear_id,
                        Side::Linear => l.portal_id,
                    }
                }))
            })
            .await?;
        if let Some(other_id) = other_id {
            let other = side.other();
            let conn = self.inner.connectors.side(other).clone();
            let started = crate::store::now_ms();
            match self.call(other, lane, || conn.get(&other_id)).await {
                Ok(Some(r)) => {
                    self.store_reads(other, vec![r], started).await?;
                }
                Ok(None) => self.linked_record_gone(other, other_id).await?,
                Err(e) if e.class == ErrorClass::NotFound => {
                    self.linked_record_gone(other, other_id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let applied = self.act_on(side, vec![id], lane).await?;
        Ok((outcome, applied))
    }

    /// The linked record on `side` was found gone while its partner was
    /// read. A Linear issue gone is a deletion. A Canny post can also vanish
    /// because it was merged into another, which Canny sends no webhook for:
    /// only a listing (the survivor's `mergeHistory`) tells the two apart,
    /// so the next reconcile decides, and it is asked to run now.
    async fn linked_record_gone(&self, side: Side, remote_id: String) -> Result<(), EngineError> {
        if side == Side::Linear {
            self.apply_deleted(side, remote_id).await?;
            return Ok(());
        }
        let msg =
            format!("post {remote_id} is gone; the next reconcile tells a deletion from a merge");
        self.inner
            .writer
            .run(move |db| db.log_event(Level::Info, "sync", &msg))
            .await?;
        self.inner.reconcile_wake.notify_one();
        Ok(())
    }

    /// A record was confirmed gone on `side`.
    pub async fn apply_deleted(
        &self,
        side: Side,
        remote_id: String,
    ) -> Result<Applied, EngineError> {
        self.in_store(move |db, merge, rules, st, now| {
            records::on_deleted(db, merge, rules, st, side, &remote_id, now)
        })
        .await
    }

    /// Apply a delete the mass-delete guard held back, after an operator
    /// resumed delete propagation: the operator has approved it, so the
    /// guard does not count it again.
    pub async fn apply_held_delete(
        &self,
        side: Side,
        remote_id: String,
    ) -> Result<Applied, EngineError> {
        self.in_store(move |db, merge, rules, st, now| {
            let approved = Rules {
                guard: crate::sync::MassDeleteGuard {
                    max_deletes: usize::MAX,
                    ..rules.guard
                },
                ..rules.clone()
            };
            records::on_deleted(db, merge, &approved, st, side, &remote_id, now)
        })
        .await
    }

    /// Re-route and re-merge one link from the stored records (after its
    /// writes landed, or a re-read stored them).
    pub async fn remerge(&self, link_id: i64) -> Result<Applied, EngineError> {
        self.in_store(move |db, merge, rules, st, now| match db.link(link_id)? {
            Some(link) => routing::sync_routed_link(
                db,
                merge,
                rules,
                &mut st.histories,
                &link,
                Lane::Live,
                now,
            ),
            None => Ok(Applied::default()),
        })
        .await
    }

    /// Run merge/create/delete logic in one store transaction with the
    /// current settings and engine state; wakes the scheduler when jobs were
    /// planned.
    /// Route again every post noted as unrouted (a new mapping version may
    /// have a route that takes them): each is admitted as on its next
    /// change, and no longer listed if a route takes it now.
    pub async fn reroute_unrouted(&self) -> Result<Applied, EngineError> {
        self.in_store(|db, merge, rules, st, now| {
            let mut total = Applied::default();
            for u in db.unrouted(UNROUTED_PER_PASS)? {
                let a = records::act_on_record(
                    db,
                    merge,
                    rules,
                    st,
                    Side::Portal,
                    &u.portal_id,
                    Lane::Backfill,
                    now,
                )?;
                total.jobs += a.jobs;
                total.conflicts += a.conflicts;
            }
            Ok(total)
        })
        .await
    }

    async fn in_store<F>(&self, f: F) -> Result<Applied, EngineError>
    where
        F: FnOnce(
                crate::store::Db<'_>,
                &MergeSettings,
                &Rules,
                &mut EngineState,
                chrono::DateTime<chrono::Utc>,
            ) -> crate::store::Result<Applied>
            + Send
            + 'static,
    {
        let merge = self.merge_settings();
        let rules = self.inner.opts.rules.clone();
        let state = self.inner.state.clone();
        let now = chrono::Utc::now();
        let applied = self
            .inner
            .writer
            .run(move |db| f(db, &merge, &rules, &mut lock(&state), now))
            .await?;
        if applied.jobs > 0 {
            self.inner.scheduler.wake.notify_one();
        }
        Ok(applied)
    }
}
