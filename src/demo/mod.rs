//! `roundtrip demo`: the whole product on one machine with no accounts and
//! no network. Both simulators run in-process on loopback, the service
//! (engine + webhook server) syncs them exactly as a deployment would, and a
//! scripted "day in the life" makes the edits and faults an operator meets:
//! approvals, state changes, comments, a conflict, a 5xx streak, an
//! exhausted quota, a deleted post and a mapping version the engine refuses.

pub mod converge;
pub mod orchestration;
pub mod portal;
pub mod report;
pub mod stage;
pub mod story;
pub mod world;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use converge::{Convergence, Difference};
pub use stage::StoryLog;
pub use story::DELIBERATE_CONFLICTS;
pub use world::World;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A simulator or connector could not start.
    #[error("{0}")]
    Sim(String),
    /// The service could not start or stop cleanly.
    #[error(transparent)]
    Service(#[from] crate::daemon::ServiceError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A connector call failed while comparing the sides.
    #[error("reading a record for the comparison: {0}")]
    Remote(#[from] crate::domain::RemoteError),
    /// A file-system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running demo: the world and the story playing in it.
#[derive(Debug)]
pub struct Demo {
    /// Simulators and service.
    pub world: World,
    /// What the story did so far.
    pub log: Arc<Mutex<StoryLog>>,
    /// When it started.
    pub started: Instant,
    /// The seed (same seed, same story).
    pub seed: u64,
    stop: watch::Sender<bool>,
    story: JoinHandle<()>,
}

/// The end of a non-interactive run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The comparison of both sides.
    pub convergence: Convergence,
    /// Whether the queue drained before the comparison.
    pub settled: bool,
    /// Open conflicts on the links the story edited on both sides.
    pub deliberate_conflicts: usize,
    /// Open conflicts anywhere else (none expected).
    pub other_conflicts: usize,
    /// The story log at the end.
    pub log: StoryLog,
    /// The store's health numbers at the end.
    pub summary: Option<crate::store::Summary>,
    /// Where each bug report went: "'title' → PLAT-1 (route)".
    pub routed: Vec<String>,
}

impl Outcome {
    /// Exit 0: every pair agrees except in the deliberate conflicts, and no
    /// other conflict appeared.
    pub fn success(&self) -> bool {
        self.convergence.converged() && self.other_conflicts == 0
    }
}

impl Demo {
    /// Start the world and the story. `plays_operator`: the story also
    /// retries dead jobs and fixes the mapping (no human is watching).
    pub async fn start(
        seed: u64,
        db: Option<&Path>,
        plays_operator: bool,
        portal: crate::domain::PortalKind,
    ) -> Result<Demo, DemoError> {
        let started = Instant::now();
        let world = World::start(seed, db, portal).await?;
        let log = Arc::new(Mutex::new(StoryLog::default()));
        let (stop, stop_rx) = watch::channel(false);
        let stage = stage::Stage {
            linear: world.linear.clone(),
            portal: world.portal.clone(),
            engine: world.service.engine.clone(),
            writer: world.service.writer.clone(),
            webhook_addr: world.service.addr,
            log: log.clone(),
            plays_operator,
            started,
            stop: stop_rx,
        };
        let story = tokio::spawn(story::run(stage, seed));
        Ok(Demo {
            world,
            log,
            started,
            seed,
            stop,
            story,
        })
    }

    /// The store file (the console attaches to it).
    pub fn store_path(&self) -> PathBuf {
        self.world.store_path.clone()
    }

    async fn stop_story(&mut self) {
        let _ = self.stop.send(true);
        let handle = &mut self.story;
        if tokio::time::timeout(Duration::from_secs(10), &mut *handle)
            .await
            .is_err()
        {
            handle.abort();
        }
    }

    /// Stop the story, let the queue drain, compare both sides, then stop
    /// everything.
    pub async fn finish(mut self) -> Result<Outcome, DemoError> {
        self.stop_story().await;
        let writer = self.world.service.writer.clone();
        let mut settled = converge::settle(&writer, Duration::from_secs(15)).await;
        if self.world.connectors.portal.webhook_watch().is_some() {
            // The portal announces only some changes by webhook (Fider: no
            // edits, tags or votes): let one more reconcile pass bring the
            // rest, as the next interval of a deployment would.
            let _ = self.world.service.engine.reconcile_once().await;
            settled = converge::settle(&writer, Duration::from_secs(15)).await && settled;
        }
        let checked = converge::check(&writer, &self.world.connectors).await;
        let log = stage::lock(&self.log).clone();
        let summary = writer.run(|db| db.summary()).await.ok();
        let open = writer
            .run(|db| {
                db.conflicts(
                    &crate::store::ConflictFilter {
                        status: Some(crate::store::ConflictStatus::Open),
                        field: None,
                    },
                    crate::store::Window::first(100_000),
                )
            })
            .await;
        let bugs = log.bug_posts.clone();
        let routed = writer
            .run(move |db| {
                let mut out = Vec::new();
                for post in &bugs {
                    let Some(link) = db.link_by_remote(crate::domain::Side::Portal, post)? else {
                        continue;
                    };
                    let title = link.title.clone();
                    let route = db.link_route(link.id)?.map(|p| p.route).unwrap_or_default();
                    let issue = match &link.linear_id {
                        Some(id) => db
                            .record(crate::domain::Side::Linear, id)?
                            .and_then(|r| r.record.identifier)
                            .unwrap_or_else(|| id.clone()),
                        None => "(creating)".into(),
                    };
                    out.push(format!("'{title}' → {issue} ({route})"));
                }
                Ok(out)
            })
            .await
            .unwrap_or_default();
        let stopped = self.world.stop().await;
        let convergence = checked?;
        let open = open?;
        stopped?;
        let deliberate = open
            .iter()
            .filter(|c| log.conflict_links.contains(&c.link_id))
            .count();
        Ok(Outcome {
            convergence,
            settled,
            deliberate_conflicts: deliberate,
            other_conflicts: open.len() - deliberate,
            log,
            summary,
            routed,
        })
    }

    /// Stop the story and everything else (after the console closed).
    pub async fn stop(mut self) -> Result<(), DemoError> {
        self.stop_story().await;
        self.world.stop().await
    }
}
