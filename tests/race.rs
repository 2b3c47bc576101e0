//! The race property test (issue CONVERGENCE): seeded randomized
//! concurrent edits on both sides of several links, with and without
//! faults, checked against the invariants in `support/race.rs`. Short runs
//! here; `cargo run --release --example race -- --minutes N` runs the same
//! harness for as long as asked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod harness;
    pub mod race;
}

use std::time::Duration;

use support::race::{RaceConfig, run};

async fn race(faults: bool, seed: u64) {
    let cfg = RaceConfig {
        links: 4,
        edits: 100,
        max_gap: Duration::from_millis(200),
        faults,
        seed,
        latency: Duration::from_millis(15),
    };
    match run(&cfg).await {
        Ok(report) => eprintln!("race (faults: {faults}, seed {seed}): {report:?}"),
        Err(violations) => {
            panic!("race (faults: {faults}, seed {seed}) broke invariants:\n{violations}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_on_both_sides_converge_without_loss() {
    race(false, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_converge_under_api_and_webhook_faults() {
    race(true, 2).await;
}
