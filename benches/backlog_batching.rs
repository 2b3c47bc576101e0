//! P2 `backlog_batching` (DESIGN.md section 12): Linear API requests per
//! propagated change while the engine works off a 10k-change backlog.
//!
//! Both simulators and the whole service run on 127.0.0.1 with 10k linked
//! pairs already in sync. With webhooks off (roundtrip was down, or a
//! webhook was lost), 10k portal titles change in-process; one reconcile
//! pass finds them and the scheduler propagates them to Linear, several
//! `issueUpdate`s per GraphQL document. Every request the Linear simulator
//! answers from the reconcile until the last change has landed is counted
//! (listing included), as are its 429/RATELIMITED answers; the simulator
//! sends honest rate-limit headers. Why: Linear's hourly request budget is
//! small, so a backlog must not cost one request per change. The baseline is
//! the same run with batching disabled (a connector whose `update_many`
//! sends one `update` per item), on `P2_BASELINE_CHANGES` (default 2000).
//!
//! `P2_CHANGES` (default 10000).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use roundtrip::connector::{ChangedPage, Connector, DeliveryHint, WebhookRejection, Written};
use roundtrip::daemon::{Service, ServiceSpec};
use roundtrip::domain::{Comment, NewRecord, QuotaSample, Record, RemoteError, Side, Update};
use roundtrip::engine::Connectors;
use roundtrip::store::OpenMode;
use serde_json::json;

use common::world::{World, options};
use common::{emit, env_usize, r3};

/// Batching disabled: the trait's default `update_many` (one request per
/// item); everything else goes to the real connector.
struct OneByOne(Arc<dyn Connector>);

#[async_trait]
impl Connector for OneByOne {
    fn side(&self) -> Side {
        self.0.side()
    }
    fn webhook_source(&self) -> &'static str {
        self.0.webhook_source()
    }
    async fn list_changed(
        &self,
        since: Option<DateTime<Utc>>,
        page: Option<String>,
    ) -> Result<ChangedPage, RemoteError> {
        self.0.list_changed(since, page).await
    }
    async fn get(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        self.0.get(remote_id).await
    }
    async fn create(&self, new: &NewRecord) -> Result<Record, RemoteError> {
        self.0.create(new).await
    }
    async fn find_created(&self, new: &NewRecord) -> Result<Option<Record>, RemoteError> {
        self.0.find_created(new).await
    }
    async fn get_fields(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        self.0.get_fields(remote_id).await
    }
    async fn update(&self, remote_id: &str, update: &Update) -> Result<Written, RemoteError> {
        self.0.update(remote_id, update).await
    }
    async fn delete(&self, remote_id: &str) -> Result<(), RemoteError> {
        self.0.delete(remote_id).await
    }
    async fn add_comment(&self, remote_id: &str, body: &str) -> Result<Comment, RemoteError> {
        self.0.add_comment(remote_id, body).await
    }
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection> {
        self.0.verify_webhook(headers, body, now)
    }
    fn take_quota_samples(&self) -> Vec<QuotaSample> {
        self.0.take_quota_samples()
    }
}

struct Outcome {
    changes: usize,
    requests: u64,
    rate_limited: u64,
    secs: f64,
    succeeded: i64,
    unfinished: i64,
}

async fn backlog(changes: usize, batching: bool) -> Outcome {
    let world = World::start(1000, 100_000).await;
    let pairs = world.seed_linked(changes).await;
    let linear: Arc<dyn Connector> = if batching {
        world.linear_conn.clone()
    } else {
        Arc::new(OneByOne(world.linear_conn.clone()))
    };
    let service = Service::start(ServiceSpec {
        store: world.store.location.clone(),
        connectors: Connectors {
            linear,
            portal: world.canny_conn.clone(),
        },
        options: options(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        webhooks: roundtrip::webhook::WebhookOptions::default(),
    })
    .await
    .expect("service");
    // Let the service's start-up work settle before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (i, (post, _)) in pairs.iter().enumerate() {
        world
            .canny
            .set_title(post, &format!("Backlog change {i}"))
            .expect("canny edit");
    }
    let before = world.linear.counters();
    let t = Instant::now();
    service.engine.reconcile_once().await.expect("reconcile");
    let path = world.store.location.clone();
    let (succeeded, unfinished) = loop {
        let p = path.clone();
        let (succeeded, unfinished) = tokio::task::spawn_blocking(move || {
            let s = p.open(OpenMode::ReadOnly).expect("store");
            let sum = s.db().summary().expect("summary");
            let get = |st: &str| sum.jobs.get(st).copied().unwrap_or(0);
            (get("succeeded"), get("queued") + get("running"))
        })
        .await
        .expect("summary");
        if (unfinished == 0 && succeeded >= changes as i64)
            || t.elapsed() > Duration::from_secs(600)
        {
            break (succeeded, unfinished);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let secs = t.elapsed().as_secs_f64();
    let after = world.linear.counters();
    service.stop(Duration::from_secs(5)).await.expect("stop");
    let landed = pairs
        .iter()
        .enumerate()
        .filter(|(i, (_, issue))| {
            world
                .linear
                .issue(issue)
                .is_some_and(|x| x.title == format!("Backlog change {i}"))
        })
        .count();
    Outcome {
        changes: landed,
        requests: after.requests - before.requests,
        rate_limited: after.rate_limited - before.rate_limited,
        secs,
        succeeded,
        unfinished,
    }
}

fn main() {
    let changes = env_usize("P2_CHANGES", 10_000);
    let base_changes = env_usize("P2_BASELINE_CHANGES", 2000);
    let rt = common::runtime();
    let (real, base) = rt.block_on(async {
        let real = backlog(changes, true).await;
        let base = backlog(base_changes, false).await;
        (real, base)
    });
    let per = real.requests as f64 / real.changes.max(1) as f64;
    let base_per = base.requests as f64 / base.changes.max(1) as f64;
    emit(
        "P2",
        "requests_per_change",
        per,
        Some(base_per),
        Some(base_per / per.max(1e-9)),
        "≤0.2, zero 429s",
        per <= 0.2 && real.rate_limited == 0 && real.changes == changes,
        json!({"changes_propagated": real.changes, "changes": changes, "linear_requests": real.requests,
               "rate_limited": real.rate_limited, "secs": r3(real.secs),
               "jobs_succeeded": real.succeeded, "jobs_unfinished": real.unfinished,
               "baseline_kind": format!("update_many one request per item, {} changes", base.changes),
               "baseline_requests": base.requests, "baseline_rate_limited": base.rate_limited,
               "baseline_secs": r3(base.secs)}),
    );
}
