//! `roundtrip console`: attach the terminal console to a store.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::out::outln;
use super::{StoreArgs, UsageError};
use crate::console::{self, ConsoleError};

/// Arguments of `roundtrip console`.
#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    /// Which store to attach to.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Look, don't touch: every action is hidden and refused, and the store
    /// is opened without write access.
    #[arg(long)]
    pub read_only: bool,
    /// Measure first frame, keypress latency and memory off-screen over N
    /// scripted keys, print JSON lines and exit (performance check P4).
    #[arg(long, value_name = "N", hide = true)]
    pub bench_frames: Option<usize>,
}

fn unwrap_store(e: ConsoleError) -> anyhow::Error {
    match e {
        // Keep the store error itself in the chain so exit codes stay right.
        ConsoleError::Store(s) => anyhow::Error::from(s),
        other => anyhow::Error::from(other),
    }
}

/// Run the console (or its benchmark).
pub fn run(args: &ConsoleArgs) -> anyhow::Result<ExitCode> {
    let location = args.store.location()?;
    if let Some(n) = args.bench_frames {
        for line in console::bench::run(&location, n).map_err(unwrap_store)? {
            outln!("{line}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Say clearly when the store is missing, locked or too new, before
    // touching the terminal.
    drop(console::open_store(&location, args.read_only).map_err(anyhow::Error::from)?);
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "the console needs a terminal; use `roundtrip status` in scripts".into(),
        )
        .into());
    }
    console::run(&location, args.read_only, None).map_err(unwrap_store)?;
    Ok(ExitCode::SUCCESS)
}
