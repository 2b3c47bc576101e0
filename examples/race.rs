//! The race property test for as long as you like (issue CONVERGENCE):
//! the same harness as `tests/race.rs` — randomized concurrent edits on
//! both sides of several links over loopback against both simulators, then
//! every invariant checked — run again and again with new seeds, runs with
//! and without faults alternating.
//!
//! ```text
//! cargo run --release --example race -- --minutes 30
//! cargo run --release --example race -- --minutes 5 --links 8 --edits 300 --seed 42
//! ```
//!
//! Prints one line per run; stops at the first run that breaks an
//! invariant, prints what broke, and exits 1. Even seeds run with faults
//! (API 5xx and 429 answers, duplicated and reordered webhooks), so
//! `--seed S --minutes 0` replays one run; `RACE_JOURNAL=1` adds the
//! simulators' journal and the audit trail of every link that broke one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

#[path = "../tests/support/harness.rs"]
mod harness;
#[path = "../tests/support/race.rs"]
mod race;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

/// Run the race property harness repeatedly.
#[derive(Debug, Parser)]
#[command(about = "Run roundtrip's race property test for a while (issue CONVERGENCE)")]
struct Args {
    /// How long to keep running, in minutes.
    #[arg(long, default_value_t = 1.0)]
    minutes: f64,
    /// Linked pairs per run.
    #[arg(long, default_value_t = 6)]
    links: usize,
    /// Edits per run.
    #[arg(long, default_value_t = 200)]
    edits: usize,
    /// Longest gap between edits, in milliseconds.
    #[arg(long, default_value_t = 200)]
    max_gap_ms: u64,
    /// Latency of every API answer, in milliseconds.
    #[arg(long, default_value_t = 15)]
    latency_ms: u64,
    /// First seed (each run uses the next one).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only runs without faults.
    #[arg(long)]
    no_faults: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let until = Instant::now() + Duration::from_secs_f64(args.minutes.max(0.0) * 60.0);
    let mut run = 0u64;
    let (mut edits, mut losses) = (0usize, 0usize);
    loop {
        let cfg = race::RaceConfig {
            links: args.links,
            edits: args.edits,
            max_gap: Duration::from_millis(args.max_gap_ms),
            // Even seeds run with faults, so a failing seed replays alone.
            faults: !args.no_faults && (args.seed + run).is_multiple_of(2),
            seed: args.seed + run,
            latency: Duration::from_millis(args.latency_ms),
        };
        match rt.block_on(race::run(&cfg)) {
            Ok(r) => {
                edits += r.edits;
                losses += r.window_losses;
                println!(
                    "run {run}: seed {} faults {} — {} edits, {} requests ({:.1}/edit), {} conflicts, {} portal window losses, {:.1}s",
                    cfg.seed,
                    cfg.faults,
                    r.edits,
                    r.requests,
                    r.requests as f64 / r.edits.max(1) as f64,
                    r.conflicts,
                    r.window_losses,
                    r.elapsed.as_secs_f64()
                );
            }
            Err(violations) => {
                println!(
                    "run {run}: seed {} faults {} broke invariants:\n{violations}",
                    cfg.seed, cfg.faults
                );
                return ExitCode::FAILURE;
            }
        }
        run += 1;
        if Instant::now() >= until {
            break;
        }
    }
    println!(
        "{run} runs, {edits} edits, all invariants held; {losses} portal edits fell in the read-to-write window Canny gives no evidence of"
    );
    ExitCode::SUCCESS
}
