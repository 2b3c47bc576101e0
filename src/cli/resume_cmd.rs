//! `roundtrip resume deletes|linear|portal`: lift a pause the engine raised —
//! the mass-delete guard, or a connector paused after its credentials were
//! refused (fix the secret first). The engine picks the change up from the
//! store; held-back deletes are applied at the next reconcile.

use std::process::ExitCode;

use super::StoreArgs;
use crate::domain::Side;
use crate::store::{Level, NewAudit, OpenMode, StoreError, meta_keys};

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
    let (key, label) = match args.what {
        What::Deletes => (meta_keys::DELETES_PAUSED, "delete propagation"),
        What::Linear => (meta_keys::paused(Side::Linear), "the Linear connector"),
        What::Portal => (meta_keys::paused(Side::Portal), "the portal connector"),
    };
    let mut store = args.store.open(OpenMode::Existing)?;
    let was = store.write(|db| {
        let was = db.meta(key)?;
        if let Some(why) = &was {
            db.clear_meta(key)?;
            db.append_audit(&NewAudit {
                actor: "operator".into(),
                action: "resume".into(),
                reason: format!("resumed {label} (was: {why})"),
                ..NewAudit::default()
            })?;
            db.log_event(
                Level::Info,
                "operator",
                &format!("operator resumed {label}"),
            )?;
        }
        Ok::<_, StoreError>(was)
    })?;
    match was {
        Some(why) => println!("resumed {label} (it was paused: {why})"),
        None => println!("{label} was not paused; nothing to do"),
    }
    Ok(ExitCode::SUCCESS)
}
