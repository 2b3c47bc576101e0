//! P3 `propagation_latency` (DESIGN.md section 12): from the moment a
//! simulator records an edit (and posts its webhook) to the moment the other
//! simulator has received roundtrip's write.
//!
//! Both simulators and the whole service (store writer, engine loops,
//! webhook server) run on 127.0.0.1 with linked pairs already in sync. Each
//! edit retitles one side in-process (the simulator fires its webhook as the
//! real vendor would); a blocking thread then polls the other simulator's
//! state every 100 µs until the new title is there. Edits run one at a time
//! over many links, in both directions. Why: a human editing in one tool
//! expects to see it in the other "at once". The baseline is propagation
//! without webhooks, by the reconcile timer alone (every `P3_RECONCILE_SECS`,
//! default 1), measured on fewer edits.
//!
//! `P3_EDITS` (per direction, default 200), `P3_LINKS` (default 100),
//! `P3_BASELINE_EDITS` (default 10).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use roundtrip::daemon::{Service, ServiceSpec};
use serde_json::json;

use common::world::{World, options};
use common::{emit, env_usize, ms, percentile, r3};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Wait (on a blocking thread, polling every 100 µs) until `done` holds;
/// returns the elapsed time since `t0`, or `None` on timeout.
async fn wait_until(t0: Instant, done: impl Fn() -> bool + Send + 'static) -> Option<Duration> {
    tokio::task::spawn_blocking(move || {
        loop {
            if done() {
                return Some(t0.elapsed());
            }
            if t0.elapsed() > TIMEOUT {
                return None;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    })
    .await
    .expect("poll thread")
}

async fn start_service(world: &World, reconcile: Duration, webhooks: bool) -> Service {
    let mut opts = options();
    opts.reconcile_interval = reconcile;
    let service = Service::start(ServiceSpec {
        store: world.store.location.clone(),
        connectors: world.connectors(),
        options: opts,
        listen: "127.0.0.1:0".parse().expect("addr"),
        webhooks: roundtrip::webhook::WebhookOptions::default(),
    })
    .await
    .expect("service");
    if webhooks {
        world
            .linear
            .set_webhook_url(Some(format!("http://{}/webhooks/linear", service.addr)));
        world
            .canny
            .set_webhook_url(Some(format!("http://{}/webhooks/canny", service.addr)));
    } else {
        world.linear.set_webhook_url(None);
        world.canny.set_webhook_url(None);
    }
    service
}

struct Samples {
    ms: Vec<f64>,
    timeouts: usize,
}

/// `edits` sequential edits on side `from` (true: portal → Linear).
async fn run_edits(
    world: &Arc<World>,
    pairs: &[(String, String)],
    edits: usize,
    portal_to_linear: bool,
    tag: &str,
) -> Samples {
    let mut out = Samples {
        ms: Vec::new(),
        timeouts: 0,
    };
    for i in 0..edits {
        let (post, issue) = pairs[i % pairs.len()].clone();
        let title = format!(
            "{tag} edit {i} of {}",
            if portal_to_linear {
                post.clone()
            } else {
                issue.clone()
            }
        );
        let w = world.clone();
        let want = title.clone();
        let t0 = Instant::now();
        let took = if portal_to_linear {
            world.canny.set_title(&post, &title).expect("canny edit");
            wait_until(t0, move || {
                w.linear.issue(&issue).is_some_and(|x| x.title == want)
            })
            .await
        } else {
            world.linear.set_title(&issue, &title).expect("linear edit");
            wait_until(t0, move || {
                w.canny.post(&post).is_some_and(|x| x.title == want)
            })
            .await
        };
        match took {
            Some(d) => out.ms.push(ms(d)),
            None => out.timeouts += 1,
        }
        // Let the echo of our own write settle before the next edit.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out.ms.sort_by(f64::total_cmp);
    out
}

fn main() {
    let edits = env_usize("P3_EDITS", 200);
    let links = env_usize("P3_LINKS", 100);
    let base_edits = env_usize("P3_BASELINE_EDITS", 10);
    let reconcile = Duration::from_secs(env_usize("P3_RECONCILE_SECS", 1) as u64);
    let rt = common::runtime();
    rt.block_on(async {
        let world = Arc::new(World::start(100, 10_000_000).await);
        let pairs = world.seed_linked(links).await;

        let service = start_service(&world, Duration::from_secs(3600), true).await;
        let p2l = run_edits(&world, &pairs, edits, true, "live").await;
        let l2p = run_edits(&world, &pairs, edits, false, "live").await;
        service.stop(Duration::from_secs(5)).await.expect("stop");

        // Baseline: no webhooks; only the reconcile timer finds the edits.
        let service = start_service(&world, reconcile, false).await;
        let base = run_edits(&world, &pairs, base_edits, true, "reconcile").await;
        service.stop(Duration::from_secs(5)).await.expect("stop");
        let base_p50 = percentile(&base.ms, 0.5);

        for (name, s) in [("portal_to_linear", &p2l), ("linear_to_portal", &l2p)] {
            let p50 = percentile(&s.ms, 0.5);
            let p99 = percentile(&s.ms, 0.99);
            emit(
                "P3",
                &format!("{name}_p50_ms"),
                p50,
                Some(base_p50),
                Some(base_p50 / p50.max(1e-9)),
                "p50 ≤10 ms, p99 ≤50 ms",
                p50 <= 10.0 && p99 <= 50.0 && s.timeouts == 0,
                json!({"p99_ms": r3(p99), "max_ms": r3(s.ms.last().copied().unwrap_or(0.0)),
                       "edits": s.ms.len(), "timeouts": s.timeouts, "links": links,
                       "baseline_kind": format!("webhooks off, reconcile every {}s (portal→Linear, {} edits)", reconcile.as_secs(), base.ms.len()),
                       "baseline_p99_ms": r3(percentile(&base.ms, 0.99)), "baseline_timeouts": base.timeouts}),
            );
        }
    });
}
