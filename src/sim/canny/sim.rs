//! The in-process handle on a running Canny simulator: start/stop, state
//! snapshots, counters and runtime fault control (scripted portal edits
//! live in `script.rs`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::ops::Event;
use super::shared::{Counters, Limiter, Shared, lock};
use super::{render, seed, server, webhooks};
use crate::sim::faults::{ApiFaults, Dice, WebhookFaults};

/// How to start a simulator. `Default` gives the documented sandbox: a free
/// port, key `canny_sim_key`, no webhooks, no faults, no rate limit, no posts.
#[derive(Debug, Clone)]
pub struct CannySimConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The company's secret API key (also signs webhooks).
    pub api_key: String,
    /// Where to POST webhooks; `None` sends none.
    pub webhook_url: Option<String>,
    /// Faults on API responses.
    pub faults: ApiFaults,
    /// Faults on webhook deliveries.
    pub webhook_faults: WebhookFaults,
    /// Seed for sample data and every fault decision.
    pub seed: u64,
    /// Requests per second before answering 429; 0 means unlimited.
    pub requests_per_second: u32,
    /// Number of sample posts to seed.
    pub posts: usize,
    /// The company's statuses in board order (`--canny-statuses`): the six
    /// built-in ones by default.
    pub statuses: Vec<String>,
    /// Custom statuses added after `statuses`.
    pub custom_statuses: Vec<String>,
    /// Whether the plan has internal (admin-only) comments; Canny's Free
    /// plan answers "plan does not support internal comments".
    pub internal_comments: bool,
    /// Customers that come before the admin in `users/list`.
    pub users_before_admin: usize,
    /// Whether the company has an admin at all.
    pub admin: bool,
    /// How long a request hit by the timeout fault hangs before a 504.
    pub timeout_hang: Duration,
    /// Base of the URLs in objects (the company's Canny site).
    pub site_url: String,
}

impl Default for CannySimConfig {
    fn default() -> Self {
        CannySimConfig {
            port: 0,
            api_key: "canny_sim_key".into(),
            webhook_url: None,
            faults: ApiFaults::default(),
            webhook_faults: WebhookFaults::default(),
            seed: 0,
            requests_per_second: 0,
            posts: 0,
            statuses: super::model::BUILTIN_STATUSES.map(String::from).to_vec(),
            custom_statuses: Vec::new(),
            internal_comments: true,
            users_before_admin: 0,
            admin: true,
            timeout_hang: Duration::from_secs(30),
            site_url: "https://roundtrip-sim.canny.io".into(),
        }
    }
}

/// Why the simulator could not start or refused a scripted edit.
#[derive(Debug, thiserror::Error)]
pub enum CannySimError {
    /// The port could not be bound.
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scripted edit was refused, with Canny's error text.
    #[error("canny simulator refused the edit: {0}")]
    Rejected(String),
}

/// A post as the simulator holds it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostSnapshot {
    /// Post id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Details.
    pub details: String,
    /// Status.
    pub status: String,
    /// Tag names.
    pub tags: BTreeSet<String>,
    /// Vote count.
    pub score: usize,
    /// Number of comments.
    pub comment_count: usize,
    /// Admin URL.
    pub url: String,
    /// Creation time.
    pub created: DateTime<Utc>,
}

/// A comment as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentSnapshot {
    /// Comment id.
    pub id: String,
    /// Post id.
    pub post_id: String,
    /// Author's user id.
    pub author_id: String,
    /// Text.
    pub value: String,
    /// Internal (admin-only) comment.
    pub internal: bool,
    /// Creation time.
    pub created: DateTime<Utc>,
}

/// Counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CannySimStats {
    /// Requests that reached an API route.
    pub requests: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Injected 5xx and timeouts.
    pub faults: u64,
    /// Webhooks acknowledged with 2xx.
    pub webhooks_delivered: u64,
    /// Webhooks that failed to send or were refused.
    pub webhooks_failed: u64,
    /// Webhooks dropped by the drop fault.
    pub webhooks_dropped: u64,
    /// Webhooks sent twice by the duplicate fault.
    pub webhooks_duplicated: u64,
    /// Status changes that emailed voters.
    pub voter_notifications: u64,
    /// Applied writes whose answer was lost.
    pub lost: u64,
    /// Answers replaced by a changed shape (the `drift` fault).
    pub drifted: u64,
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct CannySim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    serving: crate::sim::serving::Serving,
}

impl CannySim {
    /// Seed the state, bind 127.0.0.1:`port` and start serving and sending
    /// webhooks in background tasks.
    pub async fn start(cfg: CannySimConfig) -> Result<CannySim, CannySimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port))
            .await
            .map_err(|source| CannySimError::Bind {
                port: cfg.port,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| CannySimError::Bind {
                port: cfg.port,
                source,
            })?;
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut statuses = cfg.statuses.clone();
        for c in &cfg.custom_statuses {
            if !statuses.contains(c) {
                statuses.push(c.clone());
            }
        }
        let people = seed::People {
            users_before_admin: cfg.users_before_admin,
            admin: cfg.admin,
        };
        let mut state = seed::initial_state(cfg.seed, cfg.posts, statuses, cfg.site_url, &people);
        state.internal_comments = cfg.internal_comments;
        let shared = Arc::new(Shared {
            api_key: cfg.api_key,
            state: Mutex::new(state),
            faults: Mutex::new(cfg.faults),
            webhook_faults: Mutex::new(cfg.webhook_faults),
            webhook_url: Mutex::new(cfg.webhook_url),
            dice: Dice::new(cfg.seed),
            webhook_dice: Dice::new(cfg.seed.wrapping_add(0x9e37_79b9)),
            limiter: Mutex::new(Limiter::new(cfg.requests_per_second)),
            counters: Counters::default(),
            timeout_hang: cfg.timeout_hang,
            events: tx,
            journal: crate::sim::journal::Journal::default(),
            lose_next: Mutex::new(Vec::new()),
        });
        let sender = tokio::spawn(webhooks::run(shared.clone(), rx));
        let serving = crate::sim::serving::Serving::start(
            listener,
            server::router(shared.clone()),
            sender,
            "canny simulator",
        );
        Ok(CannySim {
            shared,
            addr,
            serving,
        })
    }

    /// The shared state, for the scripted edits in `script.rs`.
    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Canny's API base, `http://127.0.0.1:Q/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// The API key the simulator accepts (and signs webhooks with).
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// One JSON object describing how to reach the simulator, for the
    /// `roundtrip sim` start-up line.
    pub fn connection_info(&self) -> Value {
        json!({
            "base_url": self.base_url(),
            "api_key": self.shared.api_key,
            "board": seed::BOARD_NAME,
            "board_id": self.board_id(),
            "admin_id": self.admin_id(),
            "statuses": self.statuses(),
        })
    }

    /// Stop serving: in-flight requests get two seconds to finish.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }

    /// The seeded board's id.
    pub fn board_id(&self) -> String {
        let state = lock(&self.shared.state);
        state
            .boards
            .values()
            .find(|b| b.name == seed::BOARD_NAME)
            .map(|b| b.id.clone())
            .unwrap_or_default()
    }

    /// The seeded admin's id (a valid `changerID`).
    pub fn admin_id(&self) -> String {
        let state = lock(&self.shared.state);
        state
            .users
            .values()
            .find(|u| u.is_admin)
            .map(|u| u.id.clone())
            .unwrap_or_default()
    }

    /// The company's statuses in board order.
    pub fn statuses(&self) -> Vec<String> {
        lock(&self.shared.state).statuses.clone()
    }

    /// Ids of the non-admin users.
    pub fn customer_ids(&self) -> Vec<String> {
        let state = lock(&self.shared.state);
        state
            .users
            .values()
            .filter(|u| !u.is_admin)
            .map(|u| u.id.clone())
            .collect()
    }

    /// Every post, newest first.
    pub fn posts(&self) -> Vec<PostSnapshot> {
        let state = lock(&self.shared.state);
        let mut out: Vec<PostSnapshot> = state
            .posts
            .values()
            .map(|p| PostSnapshot {
                id: p.id.clone(),
                title: p.title.clone(),
                details: p.details.clone(),
                status: p.status.clone(),
                tags: p
                    .tag_ids
                    .iter()
                    .filter_map(|t| state.tags.get(t))
                    .map(|t| t.name.clone())
                    .collect(),
                score: p.voter_ids.len(),
                comment_count: state.comment_count(&p.id),
                url: state.post_url(p),
                created: p.created,
            })
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        out
    }

    /// One post, if it exists.
    pub fn post(&self, id: &str) -> Option<PostSnapshot> {
        self.posts().into_iter().find(|p| p.id == id)
    }

    /// One post exactly as the API renders it.
    pub fn post_json(&self, id: &str) -> Option<Value> {
        let state = lock(&self.shared.state);
        state.posts.get(id).map(|p| render::post(&state, p))
    }

    /// Comments on a post, oldest first.
    pub fn comments(&self, post_id: &str) -> Vec<CommentSnapshot> {
        let state = lock(&self.shared.state);
        state
            .comments_of(post_id)
            .into_iter()
            .map(|c| CommentSnapshot {
                id: c.id.clone(),
                post_id: c.post_id.clone(),
                author_id: c.author_id.clone(),
                value: c.value.clone(),
                internal: c.internal,
                created: c.created,
            })
            .collect()
    }

    /// Every field change, comment and API read so far, in the order shared
    /// with the Linear simulator (see [`crate::sim::journal`]).
    pub fn journal(&self) -> Vec<crate::sim::journal::JournalEntry> {
        self.shared.journal.entries()
    }

    /// Events whose webhooks are not yet sent (or dropped): zero means
    /// every change so far has had its delivery tried.
    pub fn webhooks_pending(&self) -> u64 {
        self.shared.counters.outbox.pending()
    }

    /// Counters now.
    pub fn stats(&self) -> CannySimStats {
        let c = &self.shared.counters;
        let notified = lock(&self.shared.state)
            .status_changes
            .iter()
            .filter(|s| s.notified)
            .count() as u64;
        CannySimStats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            faults: c.faults.load(Ordering::Relaxed),
            webhooks_delivered: c.webhooks_delivered.load(Ordering::Relaxed),
            webhooks_failed: c.webhooks_failed.load(Ordering::Relaxed),
            webhooks_dropped: c.webhooks_dropped.load(Ordering::Relaxed),
            webhooks_duplicated: c.webhooks_duplicated.load(Ordering::Relaxed),
            voter_notifications: notified,
            lost: c.lost.load(Ordering::Relaxed),
            drifted: c.drifted.load(Ordering::Relaxed),
        }
    }

    /// The nonces of the webhooks the receiver acknowledged with 2xx, in
    /// order (see [`crate::sim::acks`]).
    pub fn acknowledged_deliveries(&self) -> Vec<String> {
        self.shared.counters.acknowledged.ids()
    }

    /// Requests received for one endpoint, e.g. `"posts/list"`.
    pub fn requests_to(&self, endpoint: &str) -> u64 {
        lock(&self.shared.counters.by_endpoint)
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Replace the API faults (e.g. start a 5xx streak in the demo).
    pub fn set_faults(&self, faults: ApiFaults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Replace the webhook faults.
    pub fn set_webhook_faults(&self, faults: WebhookFaults) {
        *lock(&self.shared.webhook_faults) = faults;
    }

    /// Point webhooks somewhere else (or nowhere).
    pub fn set_webhook_url(&self, url: Option<String>) {
        *lock(&self.shared.webhook_url) = url;
    }

    /// Lose the next answer of `endpoint` (e.g. "posts/create") after doing
    /// the work: the client times out although Canny made the change, the
    /// case a retried create must survive without a duplicate.
    pub fn lose_next_reply(&self, endpoint: &str) {
        lock(&self.shared.lose_next).push(endpoint.to_string());
    }

    /// Leave the next `n` posts made with `posts/create` out of listings
    /// and board counts (they still answer `posts/retrieve`), as Canny does
    /// with some API-created posts (API-NOTES.md section 7).
    pub fn unlist_next_created_posts(&self, n: usize) {
        let mut state = lock(&self.shared.state);
        state.unlist_next_created = n;
        state.touch();
    }

    /// Whether a post is left out of listings.
    pub fn is_unlisted(&self, post_id: &str) -> bool {
        lock(&self.shared.state)
            .posts
            .get(post_id)
            .is_some_and(|p| p.unlisted)
    }

    /// Change the per-second request limit (0 = unlimited).
    pub fn set_requests_per_second(&self, per_second: u32) {
        *lock(&self.shared.limiter) = Limiter::new(per_second);
    }
}
