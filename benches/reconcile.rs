//! P5 `reconcile` (DESIGN.md section 12): one full reconcile pass over
//! 100k linked records that are already in sync.
//!
//! Both simulators run on 127.0.0.1, seeded in-process with 100k posts and
//! 100k matching issues; one untimed reconcile stores both sides through the
//! real connectors and the pairs are linked with the base both agree on.
//! The timed run is `Engine::reconcile_once`: list every portal post (the
//! portal has no update time), list Linear issues changed since the cursor,
//! compare content hashes in the store, merge nothing (nothing changed) and
//! confirm nothing vanished. Why: reconcile is the safety net that repairs
//! missed webhooks, so it must stay cheap enough to run often at this size.
//! The baseline is naive per-record processing (fetch each record on both
//! sides, store it, merge it), timed on a sample and scaled to the full size.
//!
//! `P5_RECORDS` (default 100000), `P5_CANNY_PAGE` (posts per `posts/list`
//! page, default 1000), `P5_BASELINE_SAMPLE` (default 500).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod common;

use std::time::Instant;

use roundtrip::domain::Side;
use roundtrip::engine::Engine;
use roundtrip::store::{Lane, Writer};
use serde_json::json;

use common::world::{World, options};
use common::{emit, env_usize, r3};

fn main() {
    let n = env_usize("P5_RECORDS", 100_000);
    let page = env_usize("P5_CANNY_PAGE", 1000);
    let sample = env_usize("P5_BASELINE_SAMPLE", 500).min(n).max(1);
    let rt = common::runtime();
    rt.block_on(async {
        let world = World::start(page, 100_000_000).await;
        let t = Instant::now();
        let pairs = world.seed_linked(n).await;
        let seed_secs = t.elapsed().as_secs_f64();

        let (writer, thread) =
            Writer::spawn(world.store.location.open(roundtrip::store::OpenMode::Create).expect("store")).expect("writer");
        let engine = Engine::new(writer.clone(), world.connectors(), options(), None)
            .await
            .expect("engine");
        // Confirm the links really are in sync: merging them plans nothing.
        let mut planned = 0;
        for chunk in pairs.chunks(1000) {
            let ids = chunk.iter().map(|(p, _)| p.clone()).collect();
            planned += engine
                .act_on(Side::Portal, ids, Lane::Backfill)
                .await
                .expect("act_on")
                .jobs;
        }

        let linear_before = world.linear.counters().requests;
        let canny_before = world.canny.stats().requests;
        let t = Instant::now();
        let cpu0 = common::cpu_secs();
        let report = engine.reconcile_once().await.expect("reconcile");
        let secs = t.elapsed().as_secs_f64();
        let cpu = common::cpu_secs() - cpu0;
        let linear_requests = world.linear.counters().requests - linear_before;
        let canny_requests = world.canny.stats().requests - canny_before;

        // Baseline: every record on its own.
        let t = Instant::now();
        for (p, l) in pairs.iter().take(sample) {
            let pr = world.canny_conn_get(p).await;
            let lr = world.linear_conn_get(l).await;
            engine
                .store_records(Side::Portal, vec![pr])
                .await
                .expect("store");
            engine
                .store_records(Side::Linear, vec![lr])
                .await
                .expect("store");
            engine
                .act_on(Side::Portal, vec![p.clone()], Lane::Backfill)
                .await
                .expect("act_on");
        }
        let baseline = t.elapsed().as_secs_f64() * n as f64 / sample as f64;

        drop(engine);
        writer.close();
        drop(writer);
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("join")
            .expect("writer");

        emit(
            "P5",
            "reconcile_in_sync_secs",
            secs,
            Some(baseline),
            Some(baseline / secs.max(1e-9)),
            "≤2 s for 100k",
            secs <= 2.0 && n >= 100_000 && report.jobs == 0 && planned == 0,
            json!({"records": n, "listed": report.listed, "repaired": report.repaired,
                   "jobs": report.jobs, "jobs_when_linking": planned,
                   "linear_requests": linear_requests, "canny_requests": canny_requests,
                   "canny_page_size": page, "seed_secs": r3(seed_secs),
                   "cpu_secs_incl_simulators": r3(cpu), "load_avg_1m": common::load_avg(),
                   "baseline_kind": format!("per-record get+store+merge, {sample} timed, scaled to {n}")}),
        );
    });
}
