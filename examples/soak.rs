//! The chaos soak for as long as you like (issue HARDEN, point 8): the same
//! harness as `tests/soak.rs` — the daemon SIGKILLed at random moments and
//! restarted on the same store while people edit both sides and both
//! simulators inject faults — then every check of `tests/support/soak.rs`.
//!
//! ```text
//! cargo run --release --example soak -- --minutes 10
//! cargo run --release --example soak -- --minutes 2 --links 4 --seed 42
//! ```
//!
//! The daemon is this program run again as `roundtrip` (`soak roundtrip
//! run --config FILE` is exactly `roundtrip run --config FILE`), so the
//! daemon killed is the code of the current checkout. Prints the seed and,
//! at the end, what was injected and what survived; on a violation, every
//! violation, the daemon's last log lines and where the store was kept,
//! and exits 1. `RACE_JOURNAL=1` adds the simulators' journal and the audit
//! trail of every link that broke an invariant.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

#[path = "../tests/support/harness.rs"]
mod harness;
#[path = "../tests/support/race.rs"]
mod race;
#[path = "../tests/support/soak.rs"]
mod soak;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Run the chaos soak.
#[derive(Debug, Parser)]
#[command(about = "Run roundtrip's chaos soak for a while (issue HARDEN, point 8)")]
struct Args {
    /// How long people edit and the daemon is killed, in minutes.
    #[arg(long, default_value_t = 1.0)]
    minutes: f64,
    /// Linked pairs edited.
    #[arg(long, default_value_t = 8)]
    links: usize,
    /// Longest gap between edits, in milliseconds.
    #[arg(long, default_value_t = 300)]
    max_gap_ms: u64,
    /// Shortest time between two kills, in seconds.
    #[arg(long, default_value_t = 2.0)]
    kill_min_s: f64,
    /// Longest time between two kills, in seconds.
    #[arg(long, default_value_t = 10.0)]
    kill_max_s: f64,
    /// Longest time the daemon stays dead after a kill, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    max_downtime_ms: u64,
    /// Keep the chaos going past `--minutes` until the daemon was killed
    /// this often.
    #[arg(long, default_value_t = 3)]
    min_kills: usize,
    /// Latency of every API answer, in milliseconds.
    #[arg(long, default_value_t = 15)]
    latency_ms: u64,
    /// Seed of the edits, the weather, the kills and the simulators.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    let _ = argv.next();
    let first = argv.next();
    if first.as_deref() == Some(std::ffi::OsStr::new("roundtrip")) {
        return as_roundtrip(argv);
    }
    let args = Args::parse();
    let cfg = soak::SoakConfig {
        links: args.links,
        edit_for: Duration::from_secs_f64(args.minutes.max(0.0) * 60.0),
        max_gap: Duration::from_millis(args.max_gap_ms),
        kill_every: (
            Duration::from_secs_f64(args.kill_min_s.max(0.0)),
            Duration::from_secs_f64(args.kill_max_s.max(args.kill_min_s).max(0.0)),
        ),
        max_downtime: Duration::from_millis(args.max_downtime_ms),
        min_kills: args.min_kills,
        seed: args.seed,
        latency: Duration::from_millis(args.latency_ms),
        daemon: soak::DaemonProgram {
            program: std::env::current_exe().expect("own path"),
            args: vec!["roundtrip".into()],
        },
        progress: Some(Duration::from_secs(30)),
    };
    println!(
        "soak seed {}: {} minutes of edits on {} links",
        cfg.seed, args.minutes, cfg.links
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(soak::run(&cfg)) {
        Ok(report) => {
            println!("{report}\nall checks held");
            ExitCode::SUCCESS
        }
        Err(violations) => {
            println!("{violations}");
            ExitCode::FAILURE
        }
    }
}

/// Be the `roundtrip` binary: the same command line, the same exit codes.
fn as_roundtrip(args: std::env::ArgsOs) -> ExitCode {
    roundtrip::cli::main_with_args(std::iter::once("roundtrip".into()).chain(args))
}
