//! `roundtrip store migrate --from FILE --to postgres://…`: copy a SQLite
//! store into an empty PostgreSQL database (DESIGN.md section 13), all of it
//! or nothing, and print what each table received.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{StoreArgs, UsageError, out};
use crate::store::OpenMode;
use crate::store::pg::{PgTarget, copy_store};

/// Subcommands of `roundtrip store`.
#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy a SQLite store into an empty PostgreSQL database, in one transaction.
    ///
    /// Every row of every table (links, records, jobs and their attempts,
    /// conflicts, mapping versions, audit, inbox, events, meta …) is copied,
    /// each table's count is checked in both databases, and nothing is
    /// committed unless all of it matches. A database that already holds
    /// roundtrip data is refused. Stop the daemon first so the copy is the
    /// store's last state.
    Migrate(MigrateArgs),
}

/// Arguments of `roundtrip store migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The SQLite store to copy.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The PostgreSQL database to fill, as postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Name of the environment variable holding the password (default: a
    /// password in the URL, else PGPASSWORD).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

/// Run a `store` subcommand.
pub fn run(cmd: &StoreCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StoreCommand::Migrate(args) => migrate(args),
    }
}

fn migrate(args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let password = match &args.password_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(pw) if !pw.is_empty() => Some(pw),
            _ => {
                return Err(UsageError(format!(
                    "--password-env names {var}, which is not set in the environment"
                ))
                .into());
            }
        },
    };
    let target = PgTarget::parse(&args.to, password).map_err(|e| UsageError(e.to_string()))?;
    let source = StoreArgs {
        db: Some(args.from.clone()),
        config: None,
    }
    .open(OpenMode::Existing)?;
    let started = Instant::now();
    let report = copy_store(&source, &target)?;
    let width = report
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut text = format!(
        "Copied {} into {} (schema version {}):\n",
        args.from.display(),
        target.url(),
        report.schema_version
    );
    for t in &report.tables {
        text.push_str(&format!("  {:<width$}  {:>9}\n", t.table, t.rows));
    }
    text.push_str(&format!(
        "  {:<width$}  {:>9}  rows in {} tables, verified in both, {:.1} s\n",
        "total",
        report.total(),
        report.tables.len(),
        started.elapsed().as_secs_f64()
    ));
    out::text(&text)?;
    Ok(ExitCode::SUCCESS)
}
