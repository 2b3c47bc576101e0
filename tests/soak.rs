//! The chaos soak (issue HARDEN, point 8), short: the real `roundtrip run`
//! binary SIGKILLed at random moments and restarted on the same store while
//! people edit both sides and both simulators inject 5xx answers,
//! timeouts, lost answers, 429 bursts and dropped, duplicated, reordered
//! and delayed webhooks; then everything `support/soak.rs` checks. The
//! whole soak is bounded (a stuck wait fails with what it waited for);
//! `cargo run --release --example soak -- --minutes N` runs it for longer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod harness;
    pub mod race;
    pub mod soak;
}

use std::time::Duration;

use support::soak::{DaemonProgram, SoakConfig, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_daemon_under_faults_loses_nothing_and_duplicates_nothing() {
    // `SOAK_SEED=N` replays the soak a failure names.
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let cfg = SoakConfig {
        links: 4,
        edit_for: Duration::from_secs(35),
        max_gap: Duration::from_millis(300),
        kill_every: (Duration::from_secs(1), Duration::from_secs(4)),
        max_downtime: Duration::from_millis(600),
        min_kills: 8,
        seed,
        latency: Duration::from_millis(15),
        daemon: DaemonProgram {
            program: env!("CARGO_BIN_EXE_roundtrip").into(),
            args: Vec::new(),
        },
        progress: None,
    };
    eprintln!("soak seed {seed}");
    match tokio::time::timeout(Duration::from_secs(900), run(&cfg)).await {
        Ok(Ok(report)) => {
            eprintln!("{report}");
            assert!(report.kills >= cfg.min_kills, "{report}");
        }
        Ok(Err(violations)) => panic!("{violations}"),
        Err(_) => panic!("soak with seed {seed} did not finish within 900 s"),
    }
}
