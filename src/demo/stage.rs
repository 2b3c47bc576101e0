//! What the story acts on and remembers: handles on both simulators and the
//! engine, the shared story log the progress lines and the summary read, and
//! small helpers (pick linked records, log a chapter, wait for the queue).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::domain::{JobStatus, Side};
use crate::engine::Engine;
use crate::sim::linear::LinearSim;
use crate::store::{Level, LinkState, Window, Writer, meta_keys};
use crate::sync::Transform;

/// What the story has done so far; read by progress lines and the summary.
#[derive(Debug, Clone, Default)]
pub struct StoryLog {
    /// Chapters played: seconds since start and a one-line description.
    pub chapters: Vec<(f64, String)>,
    /// Links whose titles were edited on both sides (deliberate conflicts).
    pub conflict_links: Vec<i64>,
    /// The mapping version that lacks a status row.
    pub broken_mapping: Option<i64>,
    /// The link the mapping gap holds back.
    pub gap_link: Option<i64>,
    /// The gap link was re-merged under a fixed mapping.
    pub gap_fixed: bool,
    /// The post deleted on the portal.
    pub deleted_post: Option<String>,
    /// Edits the story made on either side.
    pub edits: u64,
    /// The scripted chapters are over (only the trickle is left).
    pub finished: bool,
    /// Bug reports the moderating board held.
    pub held_posts: usize,
    /// The bug reports, once approved (routed by product area).
    pub bug_posts: Vec<String>,
    /// The release's changelog entry, once out.
    pub changelog: Option<String>,
}

/// A linked pair the story can pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Link id.
    pub link: i64,
    /// Portal post id.
    pub post: String,
    /// Linear issue id.
    pub issue: String,
}

/// Handles the story uses; cheap to clone into its task.
#[derive(Clone)]
pub struct Stage {
    /// The Linear simulator.
    pub linear: Arc<LinearSim>,
    /// The portal simulator.
    pub portal: super::portal::DemoPortal,
    /// The engine (for reconcile and re-merge).
    pub engine: Engine,
    /// The store writer (operator intents, story events).
    pub writer: Writer,
    /// The webhook server's address.
    pub webhook_addr: SocketAddr,
    /// Shared story log.
    pub log: Arc<Mutex<StoryLog>>,
    /// Whether the story also plays the operator (retry dead jobs, fix the
    /// mapping): true without a console, where no human will.
    pub plays_operator: bool,
    /// When the demo started.
    pub started: Instant,
    /// Turns true when the story must stop.
    pub stop: watch::Receiver<bool>,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("plays_operator", &self.plays_operator)
            .finish()
    }
}

/// Lock the story log even if a panic poisoned it (it is plain data).
pub fn lock(log: &Mutex<StoryLog>) -> std::sync::MutexGuard<'_, StoryLog> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The portal's default mapping without the row of its closing status
/// (`closed`, Fider's `declined`): the mapping problem of the story (a
/// portal status with no Linear state, while the Linear side still maps to
/// it), which the engine refuses to load.
pub fn mapping_without_closed(portal: &super::portal::DemoPortal) -> String {
    let mut m = super::orchestration::demo_mapping(portal.kind());
    m.version = 2;
    let closed = portal.closed_status();
    for f in &mut m.fields {
        if let Transform::Status(t) = &mut f.transform {
            t.values.retain(|(p, _)| p != closed);
        }
    }
    m.to_toml()
}

impl Stage {
    /// Seconds since the demo started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// True once the demo asked the story to stop.
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleep, returning early (false) when the story must stop.
    pub async fn pause(&mut self, d: Duration) -> bool {
        if self.stopping() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.stopping(),
            _ = self.stop.changed() => false,
        }
    }

    /// Record a chapter in the story log and the store's event log (the
    /// console's Log view tells the story).
    pub async fn chapter(&self, text: String) {
        let at = self.elapsed();
        lock(&self.log).chapters.push((at, text.clone()));
        let msg = format!("demo: {text}");
        let _ = self
            .writer
            .run(move |db| db.log_event(Level::Info, "demo", &msg))
            .await;
    }

    /// Count edits made on either side.
    pub fn edited(&self, n: u64) {
        lock(&self.log).edits += n;
    }

    /// Active links with both sides known, oldest first, minus the ones the
    /// story reserved for a scene.
    pub async fn pairs(&self) -> Vec<Pair> {
        let links = self
            .writer
            .run(|db| db.links(Window::first(2_000)))
            .await
            .unwrap_or_default();
        // The deliberate conflicts, the mapping gap and the routed bug
        // reports (whose release is its own chapter) are left to their own
        // scenes: a random move of one of them would change that scene's
        // outcome with the machine's timing.
        let (reserved, bugs): (Vec<i64>, Vec<String>) = {
            let l = lock(&self.log);
            let mut r = l.conflict_links.clone();
            r.extend(l.gap_link);
            (r, l.bug_posts.clone())
        };
        links
            .into_iter()
            .filter(|l| l.state == LinkState::Active && !reserved.contains(&l.id))
            .filter(|l| l.portal_id.as_ref().is_none_or(|p| !bugs.contains(p)))
            .filter_map(|l| {
                Some(Pair {
                    link: l.id,
                    post: l.portal_id?,
                    issue: l.linear_id?,
                })
            })
            .collect()
    }

    /// The active link of a portal post, once its create landed.
    pub async fn link_of(&self, post: &str) -> Option<Pair> {
        let id = post.to_string();
        let link = self
            .writer
            .run(move |db| db.link_by_remote(Side::Portal, &id))
            .await
            .ok()
            .flatten()?;
        (link.state == LinkState::Active).then_some(Pair {
            link: link.id,
            post: link.portal_id?,
            issue: link.linear_id?,
        })
    }

    /// Jobs queued or running right now.
    pub async fn busy_jobs(&self) -> i64 {
        self.writer
            .run(|db| db.summary())
            .await
            .map(|s| s.jobs_in(JobStatus::Queued) + s.jobs_in(JobStatus::Running))
            .unwrap_or(0)
    }

    /// Jobs in one status.
    pub async fn jobs_in(&self, status: JobStatus) -> i64 {
        self.writer
            .run(|db| db.summary())
            .await
            .map(|s| s.jobs_in(status))
            .unwrap_or(0)
    }

    /// The lowest Linear request quota roundtrip itself read (from the
    /// answers' headers) within `bound`: the story reports what the engine
    /// saw, not what the simulator was told. Returns as soon as a reading
    /// at or below `low` arrives.
    pub async fn linear_quota_seen(&self, low: i64, bound: Duration) -> Option<(i64, i64)> {
        let deadline = Instant::now() + bound;
        let mut lowest: Option<(i64, i64)> = None;
        loop {
            let reading = self.writer.run(|db| db.summary()).await.ok().and_then(|s| {
                s.quota_for(
                    crate::domain::Side::Linear,
                    crate::domain::QuotaKind::Requests,
                )
                .map(|q| (q.remaining, q.limit))
            });
            if let Some(r) = reading
                && lowest.is_none_or(|l| r.0 < l.0)
            {
                lowest = Some(r);
            }
            if lowest.is_some_and(|l| l.0 <= low) || Instant::now() > deadline {
                return lowest;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait (at most `bound`) until the first reconcile finished and the
    /// queue drained: the board's planned posts are in Linear.
    pub async fn initial_sync(&mut self, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        loop {
            let reconciled = self
                .writer
                .run(|db| db.meta(meta_keys::LAST_RECONCILE))
                .await
                .ok()
                .flatten()
                .is_some();
            if reconciled && self.busy_jobs().await == 0 {
                return true;
            }
            if Instant::now() > deadline || !self.pause(Duration::from_millis(100)).await {
                return false;
            }
        }
    }
}
