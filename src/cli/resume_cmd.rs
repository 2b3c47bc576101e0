//! `roundtrip resume deletes|linear|portal`: lift a pause the engine raised —
//! the mass-delete guard, or a connector paused after its credentials were
//! refused (fix the secret first). The engine picks the change up from the
//! store; held-back deletes are applied at the next reconcile.

use std::process::ExitCode;

use super::StoreArgs;
use super::out;
use crate::domain::Side;
use crate::ops::{self, resume::Pause};
use crate::store::OpenMode;

/// What to resume.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum What {
    /// Delete propagation, paused by the mass-delete guard.
    Deletes,
    /// The Linear connector, paused after an auth failure.
    Linear,
    /// The portal connector, paused after an auth failure.
    Portal,
}

/// Arguments of `roundtrip resume`.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// What to resume.
    pub what: What,
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Clear the pause and say what it was.
pub fn run(args: &ResumeArgs) -> anyhow::Result<ExitCode> {
    let pause = match args.what {
        What::Deletes => Pause::Deletes,
        What::Linear => Pause::Connector(Side::Linear),
        What::Portal => Pause::Connector(Side::Portal),
    };
    let mut store = args.store.open(OpenMode::Existing)?;
    let report = store.write(|db| ops::resume::resume(db, pause))?;
    out::report(&report, false)
}
