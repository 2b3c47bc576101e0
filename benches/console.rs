//! P4 `console` (DESIGN.md section 12): first frame, key-to-frame latency,
//! idle cost and peak memory of the operations console on a big store.
//!
//! The store is filled by `roundtrip::console::bench::fill` (the same filler
//! `examples/fill_store.rs` runs: one transaction of prepared statements),
//! then `roundtrip::console::bench::run` drives the real console against an
//! off-screen terminal and prints its results, including the naive
//! OFFSET/COUNT(*) paging and `LIKE '%q%'` search it measures as baselines
//! in the same run.
//! Why: the console must stay instant at the size of a big installation.
//! The DESIGN size is 1M links, 200k jobs, 10k conflicts; the default here
//! is a tenth of that so the bench runs quickly. Override with
//! `P4_LINKS`, `P4_JOBS`, `P4_CONFLICTS` and `P4_FRAMES` (default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod common;

use std::time::Instant;

use roundtrip::console::bench::{Sizes, fill};
use serde_json::{Value, json};

use common::{env_usize, load_avg, machine, r3};

fn main() {
    let sizes = Sizes {
        links: env_usize("P4_LINKS", 100_000) as i64,
        jobs: env_usize("P4_JOBS", 20_000) as i64,
        conflicts: env_usize("P4_CONFLICTS", 1_000) as i64,
    };
    let frames = env_usize("P4_FRAMES", 2000);
    let dir = tempfile::tempdir_in(std::env::temp_dir()).expect("tempdir");
    let path = dir.path().join("console.db");
    let t = Instant::now();
    fill(&path, sizes).expect("fill store");
    let fill_secs = t.elapsed().as_secs_f64();
    let results =
        roundtrip::console::bench::run(&path.clone().into(), frames).expect("console bench");
    for mut r in results {
        if let Value::Object(o) = &mut r {
            o.insert("bench".into(), json!("P4"));
            o.insert("machine".into(), json!(machine()));
            o.insert("load_avg_1m".into(), json!(load_avg()));
            o.insert("fill_secs".into(), json!(r3(fill_secs)));
            o.insert(
                "design_size".into(),
                json!(sizes.links >= Sizes::DESIGN.links && sizes.jobs >= Sizes::DESIGN.jobs),
            );
        }
        println!("{r}");
    }
}
