//! P4 `console` (DESIGN.md section 12): first frame, key-to-frame latency,
//! idle cost and peak memory of the operations console on a big store.
//!
//! The store is filled through the store's bulk API (as
//! `examples/fill_store.rs` does, one transaction of prepared statements),
//! then `roundtrip::console::bench::run` drives the real console against an
//! off-screen terminal and prints its results, including the naive
//! OFFSET/COUNT(*) paging it measures as the baseline in the same run.
//! Why: the console must stay instant at the size of a big installation.
//! The DESIGN size is 1M links, 200k jobs, 10k conflicts; the default here
//! is a tenth of that so the bench runs quickly. Override with
//! `P4_LINKS`, `P4_JOBS`, `P4_CONFLICTS` and `P4_FRAMES` (default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use roundtrip::domain::{ErrorClass, FieldValue, JobStatus, Side};
use roundtrip::store::{
    OpenMode, SeedConflict, SeedJob, SeedLink, Store, StoreError, meta_keys, now_ms,
};
use serde_json::{Value, json};

use common::{env_usize, machine, r3};

fn title(i: i64) -> String {
    const WORDS: &[&str] = &[
        "dark", "mode", "export", "csv", "sso", "okta", "bulk", "tags",
    ];
    let w = |k: i64| WORDS[((i * 7 + k * 13) % WORDS.len() as i64) as usize];
    format!("{} {} {} #{i}", w(0), w(1), w(2))
}

fn fill(path: &std::path::Path, links: i64, jobs: i64, conflicts: i64) {
    let mut store = Store::open(path, OpenMode::Create).expect("create store");
    let now = now_ms();
    store
        .write(|db| -> Result<(), StoreError> {
            db.bulk_links((1..=links).map(|i| {
                let t = title(i);
                let mut base = BTreeMap::new();
                base.insert("title".to_string(), FieldValue::Text(t.clone()));
                SeedLink {
                    portal_id: Some(format!("p{i:07}")),
                    linear_id: Some(format!("ENG-{i}")),
                    title: t,
                    base,
                    at: now - (links - i) * 1_000,
                }
            }))?;
            db.bulk_jobs((1..=jobs).map(|i| {
                let (status, class) = match i % 20 {
                    0 => (JobStatus::Failed, Some(ErrorClass::Validation)),
                    1 => (JobStatus::Dead, Some(ErrorClass::Server)),
                    2..=4 => (JobStatus::Queued, None),
                    _ => (JobStatus::Succeeded, None),
                };
                SeedJob {
                    link_id: Some(i % links.max(1) + 1),
                    target: if i % 2 == 0 {
                        Side::Linear
                    } else {
                        Side::Portal
                    },
                    kind: roundtrip::domain::JobKind::Update,
                    status,
                    attempts: 1,
                    error_class: class,
                    last_error: class.map(|c| format!("{c}: simulated failure")),
                    http_status: class.map(|_| 500),
                    next_run_at: now + i,
                    created_at: now - (jobs - i) * 100,
                }
            }))?;
            db.bulk_conflicts((1..=conflicts.min(links)).map(|i| SeedConflict {
                link_id: i,
                field: "title".into(),
                base: FieldValue::Text(title(i)),
                portal: FieldValue::Text(format!("{} (portal edit)", title(i))),
                linear: FieldValue::Text(format!("{} (Linear edit)", title(i))),
                portal_changed_at: Some(now - 3_600_000),
                linear_changed_at: Some(now - 1_800_000),
                created_at: now - (conflicts - i) * 10,
            }))?;
            db.set_meta(meta_keys::HEARTBEAT, &now.to_string())?;
            Ok(())
        })
        .expect("fill store");
    store.checkpoint().expect("checkpoint");
}

fn main() {
    let links = env_usize("P4_LINKS", 100_000) as i64;
    let jobs = env_usize("P4_JOBS", 20_000) as i64;
    let conflicts = env_usize("P4_CONFLICTS", 1_000) as i64;
    let frames = env_usize("P4_FRAMES", 2000);
    let dir = tempfile::tempdir_in(std::env::temp_dir()).expect("tempdir");
    let path = dir.path().join("console.db");
    let t = Instant::now();
    fill(&path, links, jobs, conflicts);
    let fill_secs = t.elapsed().as_secs_f64();
    let results = roundtrip::console::bench::run(&path, frames).expect("console bench");
    for mut r in results {
        if let Value::Object(o) = &mut r {
            o.insert("bench".into(), json!("P4"));
            o.insert("machine".into(), json!(machine()));
            o.insert("fill_secs".into(), json!(r3(fill_secs)));
            o.insert(
                "design_size".into(),
                json!(links >= 1_000_000 && jobs >= 200_000),
            );
        }
        println!("{r}");
    }
}
