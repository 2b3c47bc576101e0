//! Command-line interface (clap derive). Each command lives in its own file
//! and returns an exit code; `main.rs` only parses and reports errors.

mod adopt_cmd;
mod auth_cmd;
mod config_cmd;
mod conflicts_cmd;
mod console_cmd;
mod demo_cmd;
mod jobs_cmd;
mod mapping_cmd;
mod out;
mod portal;
mod resume_cmd;
mod run_cmd;
mod sim_cmd;
mod status;
mod store_args;
mod store_cmd;
mod table;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub use store_args::StoreArgs;

/// roundtrip keeps a customer feedback portal (Canny or Fider) and Linear in
/// two-way sync, and gives operators a terminal console to watch and fix it.
#[derive(Debug, Parser)]
#[command(name = "roundtrip", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of DESIGN.md section 2 that exist so far.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Zero-config showcase: simulators, engine and a scripted day, in the console.
    Demo(demo_cmd::DemoArgs),
    /// The daemon: sync engine and webhook server (graceful stop on SIGINT/SIGTERM).
    Run(run_cmd::RunArgs),
    /// One-screen health report for scripts and cron (exit 0 healthy, 1 degraded, 2 down).
    Status(status::StatusArgs),
    /// Attach the terminal operations console to a store (works while the daemon runs).
    Console(console_cmd::ConsoleArgs),
    /// Sign in to a remote system (Linear OAuth) and store the tokens.
    #[command(subcommand)]
    Auth(auth_cmd::AuthCommand),
    /// Check or print the configuration file.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Run the Linear simulator and the portal simulators (Canny, Fider) as a local sandbox.
    Sim(Box<sim_cmd::SimArgs>),
    /// List, inspect, retry or cancel outbound write jobs.
    #[command(subcommand)]
    Jobs(jobs_cmd::JobsCommand),
    /// List, inspect and resolve conflicts waiting for a human.
    #[command(subcommand)]
    Conflicts(conflicts_cmd::ConflictsCommand),
    /// Show, check, preview, apply or roll back the field mapping.
    #[command(subcommand)]
    Mapping(mapping_cmd::MappingCommand),
    /// Lift a pause: deletes held by the mass-delete guard, or a connector paused on auth.
    Resume(resume_cmd::ResumeArgs),
    /// Link pairs that already exist (the portal's own Linear integration, post URLs attached to issues) instead of re-creating them.
    Adopt(adopt_cmd::AdoptArgs),
    /// Work on the store itself: copy a SQLite store into PostgreSQL.
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

/// A failure that maps to exit code 2 (usage or configuration error), as
/// opposed to 1 (something failed while doing the work).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Whether an error is the user's input (exit 2) rather than a failure (exit 1).
pub fn is_usage_error(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<UsageError>()
            || e.is::<crate::config::ConfigError>()
            || matches!(
                e.downcast_ref::<crate::store::StoreError>(),
                Some(
                    crate::store::StoreError::Missing(_)
                        | crate::store::StoreError::MissingDirectory { .. }
                        | crate::store::StoreError::NotADatabase(_)
                        | crate::store::StoreError::TooNew { .. }
                )
            )
    })
}

/// The whole program on a command line: parse it (clap exits on `--help`
/// and usage errors), run the command, report an error as one sentence on
/// stderr and map it to the exit code. The binary is this; the chaos soak
/// example runs it as the daemon it kills.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use std::io::Write;
    match run(Cli::parse_from(args)) {
        Ok(code) => code,
        Err(err) => {
            let sentence: Vec<String> = err.chain().map(ToString::to_string).collect();
            // A closed stderr leaves nowhere to report; never panic over it.
            let _ = writeln!(
                std::io::stderr().lock(),
                "roundtrip: error: {}",
                sentence.join(": ")
            );
            if is_usage_error(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Run the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo_cmd::run(&args),
        Command::Run(args) => run_cmd::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Console(args) => console_cmd::run(&args),
        Command::Auth(cmd) => auth_cmd::run(&cmd),
        Command::Config(cmd) => config_cmd::run(&cmd),
        Command::Sim(args) => sim_cmd::run(&args),
        Command::Jobs(cmd) => jobs_cmd::run(&cmd),
        Command::Conflicts(cmd) => conflicts_cmd::run(&cmd),
        Command::Mapping(cmd) => mapping_cmd::run(&cmd),
        Command::Resume(args) => resume_cmd::run(&args),
        Command::Adopt(args) => adopt_cmd::run(&args),
        Command::Store(cmd) => store_cmd::run(&cmd),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "roundtrip", &mut script);
            out::text(&String::from_utf8_lossy(&script))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
