//! The in-process handle on a running Fider simulator: start/stop, state
//! snapshots, counters, the admin's webhooks and runtime fault control
//! (scripted site edits live in `script.rs`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::model::{PostStatus, SimWebhook, WebhookStatus, WebhookType};
use super::ops::Event;
use super::shared::{Counters, Shared, lock};
use super::webhooks::DeliveryRecord;
use super::{seed, server, webhooks};
use crate::sim::faults::{ApiFaults, Dice, WebhookFaults};

/// How to start a simulator. `Default` gives the sandbox: a free port, the
/// administrator's key `fider_sim_admin_key` and the collaborator's
/// `fider_sim_collaborator_key`, no webhooks, no faults, no posts, and
/// Fider's own defaults for private webhook targets (refused) and
/// disable-on-failure (on).
#[derive(Debug, Clone)]
pub struct FiderSimConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The administrator's API key.
    pub admin_key: String,
    /// The collaborator's API key.
    pub collaborator_key: String,
    /// Faults on API responses.
    pub faults: ApiFaults,
    /// Faults on webhook deliveries.
    pub webhook_faults: WebhookFaults,
    /// Seed for sample data and every fault decision.
    pub seed: u64,
    /// Number of sample posts.
    pub posts: usize,
    /// How long a request hit by the timeout fault hangs before a 504.
    pub timeout_hang: Duration,
    /// Webhook request timeout (Fider: 30 s).
    pub webhook_timeout: Duration,
    /// `ALLOW_PRIVATE_NETWORK_TARGETS` (Fider: false): webhooks to
    /// 127.0.0.1 need it.
    pub allow_private_targets: bool,
    /// `WEBHOOK_DISABLE_ON_FAILURE` (Fider: true).
    pub disable_on_failure: bool,
    /// Posts by visitors wait for a moderator (Fider Pro).
    pub moderation: bool,
}

impl Default for FiderSimConfig {
    fn default() -> Self {
        FiderSimConfig {
            port: 0,
            admin_key: "fider_sim_admin_key".into(),
            collaborator_key: "fider_sim_collaborator_key".into(),
            faults: ApiFaults::default(),
            webhook_faults: WebhookFaults::default(),
            seed: 0,
            posts: 0,
            timeout_hang: Duration::from_secs(30),
            webhook_timeout: Duration::from_secs(30),
            allow_private_targets: false,
            disable_on_failure: true,
            moderation: false,
        }
    }
}

/// Why the simulator could not start or refused a scripted edit.
#[derive(Debug, thiserror::Error)]
pub enum FiderSimError {
    /// The port could not be bound.
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scripted edit was refused, with Fider's answer.
    #[error("fider simulator refused the edit: {0}")]
    Rejected(String),
}

/// A post as the simulator holds it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostSnapshot {
    /// Per-site number (the API's id of the post).
    pub number: i64,
    /// Title.
    pub title: String,
    /// Slug.
    pub slug: String,
    /// Body.
    pub description: String,
    /// Status name.
    pub status: String,
    /// Staff response text.
    pub response: String,
    /// Tag names.
    pub tags: BTreeSet<String>,
    /// Votes, the author's own included.
    pub votes: usize,
    /// Live comments.
    pub comments: usize,
    /// The original's number, for a duplicate.
    pub original: Option<i64>,
    /// Author's user id.
    pub author: i64,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// The post's stable public URL.
    pub url: String,
}

/// A comment as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentSnapshot {
    /// Comment id.
    pub id: i64,
    /// Author's user id.
    pub author: i64,
    /// Author's name.
    pub author_name: String,
    /// Text.
    pub content: String,
    /// Creation time.
    pub created: DateTime<Utc>,
}

/// One of the admin's webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSnapshot {
    /// Id.
    pub id: i64,
    /// Type name.
    pub kind: &'static str,
    /// Enabled.
    pub enabled: bool,
    /// Turned off by a failed delivery.
    pub failed: bool,
}

/// Counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FiderSimStats {
    /// Requests that reached the site.
    pub requests: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Injected 5xx and timeouts.
    pub faults: u64,
    /// Applied writes whose answer was lost.
    pub lost: u64,
    /// Answers replaced by a changed shape.
    pub drifted: u64,
    /// Webhook deliveries taken by the receiver.
    pub webhooks_delivered: u64,
    /// Deliveries that failed.
    pub webhooks_failed: u64,
    /// Deliveries the drop fault swallowed.
    pub webhooks_dropped: u64,
    /// Status changes that notified subscribers.
    pub notifications: u64,
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct FiderSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    serving: crate::sim::serving::Serving,
    admin_key: String,
    collaborator_key: String,
}

impl FiderSim {
    /// Seed the site, bind 127.0.0.1:`port` and serve.
    pub async fn start(cfg: FiderSimConfig) -> Result<FiderSim, FiderSimError> {
        let bind_err = |source| FiderSimError::Bind {
            port: cfg.port,
            source,
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port))
            .await
            .map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut state =
            seed::initial_state(cfg.seed, cfg.posts, &cfg.admin_key, &cfg.collaborator_key);
        state.site_url = format!("http://{addr}");
        state.moderation = cfg.moderation;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: Mutex::new(cfg.faults),
            webhook_faults: Mutex::new(cfg.webhook_faults),
            dice: Dice::new(cfg.seed),
            webhook_dice: Dice::new(cfg.seed.wrapping_add(0x9e37_79b9)),
            counters: Counters::default(),
            timeout_hang: cfg.timeout_hang,
            webhook_timeout: cfg.webhook_timeout,
            allow_private_targets: cfg.allow_private_targets,
            disable_on_failure: cfg.disable_on_failure,
            events: tx,
            lose_next: Mutex::new(Vec::new()),
            deliveries: Mutex::new(Vec::new()),
        });
        let sender = tokio::spawn(webhooks::run(shared.clone(), rx));
        let serving = crate::sim::serving::Serving::start(
            listener,
            server::router(shared.clone()),
            sender,
            "fider simulator",
        );
        Ok(FiderSim {
            shared,
            addr,
            serving,
            admin_key: cfg.admin_key,
            collaborator_key: cfg.collaborator_key,
        })
    }

    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The site's URL, `http://127.0.0.1:P` (the API is under `/api/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The administrator's API key.
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// The collaborator's API key.
    pub fn collaborator_key(&self) -> &str {
        &self.collaborator_key
    }

    /// One JSON object describing how to reach the simulator, for the
    /// `roundtrip sim` start-up line.
    pub fn connection_info(&self) -> Value {
        json!({
            "site_url": self.base_url(),
            "api_url": format!("{}/api/v1", self.base_url()),
            "admin_api_key": self.admin_key,
            "collaborator_api_key": self.collaborator_key,
            "visitor_api_key": seed::VISITOR_KEY,
            "webhooks": self.webhooks().iter().map(|w| json!({"type": w.kind, "enabled": w.enabled})).collect::<Vec<_>>(),
        })
    }

    /// Stop serving: in-flight requests get two seconds to finish.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }

    /// Every live post (deleted ones are gone), by number.
    pub fn posts(&self) -> Vec<PostSnapshot> {
        let s = lock(&self.shared.state);
        let mut out: Vec<PostSnapshot> = s
            .posts
            .values()
            .filter(|p| p.status != PostStatus::Deleted)
            .map(|p| PostSnapshot {
                number: p.number,
                title: p.title.clone(),
                slug: p.slug.clone(),
                description: p.description.clone(),
                status: p.status.name().into(),
                response: p
                    .response
                    .as_ref()
                    .map(|r| r.text.clone())
                    .unwrap_or_default(),
                tags: s
                    .post_tags
                    .iter()
                    .filter(|(pid, _)| *pid == p.id)
                    .filter_map(|(_, t)| s.tags.get(t))
                    .map(|t| t.name.clone())
                    .collect(),
                votes: s.votes_of(p.id),
                comments: s.comment_count(p.id),
                original: p
                    .original_id
                    .and_then(|o| s.posts.get(&o))
                    .map(|o| o.number),
                author: p.user_id,
                created: p.created,
                url: format!("{}/posts/{}", s.site_url, p.number),
            })
            .collect();
        out.sort_by_key(|p| p.number);
        out
    }

    /// One live post by number (as a string, like the remote id).
    pub fn post(&self, number: &str) -> Option<PostSnapshot> {
        let n: i64 = number.parse().ok()?;
        self.posts().into_iter().find(|p| p.number == n)
    }

    /// Live comments on a post, oldest first.
    pub fn comments(&self, number: &str) -> Vec<CommentSnapshot> {
        let s = lock(&self.shared.state);
        let Some(post) = number.parse().ok().and_then(|n| s.post_by_number(n)) else {
            return Vec::new();
        };
        let mut out: Vec<CommentSnapshot> = s
            .comments
            .values()
            .filter(|c| c.post_id == post.id && c.deleted_at.is_none())
            .map(|c| CommentSnapshot {
                id: c.id,
                author: c.user_id,
                author_name: s
                    .users
                    .get(&c.user_id)
                    .map(|u| u.name.clone())
                    .unwrap_or_default(),
                content: c.content.clone(),
                created: c.created,
            })
            .collect();
        out.sort_by_key(|c| (c.created, c.id));
        out
    }

    /// Counters now.
    pub fn stats(&self) -> FiderSimStats {
        let c = &self.shared.counters;
        FiderSimStats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            faults: c.faults.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            drifted: c.drifted.load(Ordering::Relaxed),
            webhooks_delivered: c.webhooks_delivered.load(Ordering::Relaxed),
            webhooks_failed: c.webhooks_failed.load(Ordering::Relaxed),
            webhooks_dropped: c.webhooks_dropped.load(Ordering::Relaxed),
            notifications: lock(&self.shared.state).notifications,
        }
    }

    /// Events whose webhooks are not yet sent (or dropped): zero means
    /// every change so far has had all its deliveries tried.
    pub fn webhooks_pending(&self) -> u64 {
        self.shared.counters.outbox.pending()
    }

    /// Requests received for one route, e.g. `"GET /posts"` or
    /// `"PUT /posts/:number/status"`.
    pub fn requests_to(&self, route: &str) -> u64 {
        lock(&self.shared.counters.by_route)
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// Replace the API faults.
    pub fn set_faults(&self, faults: ApiFaults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Replace the webhook faults.
    pub fn set_webhook_faults(&self, faults: WebhookFaults) {
        *lock(&self.shared.webhook_faults) = faults;
    }

    /// Lose the next answer of `route` (e.g. "POST /posts") after doing the
    /// work: the client times out although Fider made the change.
    pub fn lose_next_reply(&self, route: &str) {
        lock(&self.shared.lose_next).push(route.to_string());
    }

    /// Create a webhook as the admin does (Administration → Webhooks),
    /// enabled; returns its id. `kind` is Fider's type name.
    pub fn add_webhook(
        &self,
        kind: &str,
        url: &str,
        content: &str,
        headers: &[(String, String)],
    ) -> Result<i64, FiderSimError> {
        let kind = WebhookType::parse(kind)
            .ok_or_else(|| FiderSimError::Rejected(format!("Type must be valid: {kind}")))?;
        let mut s = lock(&self.shared.state);
        let id = s.new_id();
        s.webhooks.insert(
            id,
            SimWebhook {
                id,
                name: format!("{} webhook", kind.name()),
                kind,
                status: WebhookStatus::Enabled,
                url: url.into(),
                content: content.into(),
                method: "POST".into(),
                headers: headers.to_vec(),
            },
        );
        Ok(id)
    }

    /// The admin's webhooks.
    pub fn webhooks(&self) -> Vec<WebhookSnapshot> {
        lock(&self.shared.state)
            .webhooks
            .values()
            .map(|w| WebhookSnapshot {
                id: w.id,
                kind: w.kind.name(),
                enabled: w.status == WebhookStatus::Enabled,
                failed: w.status == WebhookStatus::Failed,
            })
            .collect()
    }

    /// The admin switches a webhook on or off (re-enabling a failed one).
    pub fn set_webhook_enabled(&self, id: i64, on: bool) {
        if let Some(w) = lock(&self.shared.state).webhooks.get_mut(&id) {
            w.status = if on {
                WebhookStatus::Enabled
            } else {
                WebhookStatus::Disabled
            };
        }
    }

    /// Switch every webhook on or off.
    pub fn set_all_webhooks_enabled(&self, on: bool) {
        let ids: Vec<i64> = self.webhooks().iter().map(|w| w.id).collect();
        for id in ids {
            self.set_webhook_enabled(id, on);
        }
    }

    /// Delete every webhook (the admin starts over).
    pub fn remove_webhooks(&self) {
        lock(&self.shared.state).webhooks.clear();
    }

    /// Every delivery attempt so far.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.shared.deliveries).clone()
    }
}
