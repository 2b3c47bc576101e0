//! `roundtrip config check|show`: validate a config file and the environment
//! variables it names before starting the daemon; print the effective config.

use std::path::PathBuf;
use std::process::ExitCode;

use super::out::{self, outln};
use crate::config::Config;

/// Subcommands of `roundtrip config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate the file and check every secret's environment variable is set.
    Check {
        /// The config file.
        #[arg(
            long,
            short = 'c',
            value_name = "FILE",
            default_value = "roundtrip.toml"
        )]
        config: PathBuf,
    },
    /// Print the effective configuration with defaults filled in (secrets are
    /// never printed, only the variable names).
    Show {
        /// The config file.
        #[arg(
            long,
            short = 'c',
            value_name = "FILE",
            default_value = "roundtrip.toml"
        )]
        config: PathBuf,
    },
    /// Print a commented example configuration to start from.
    Example,
}

/// Run a `config` subcommand.
pub fn run(cmd: &ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { config } => {
            let c = Config::load(config)?;
            c.secrets()?;
            outln!(
                "{}: ok (Linear team {}, portal board \"{}\", webhooks on {})",
                config.display(),
                c.linear.team,
                c.portal.board,
                c.webhooks.listen
            )?;
        }
        ConfigCommand::Show { config } => {
            let c = Config::load(config)?;
            out::text(&toml::to_string_pretty(&c)?)?;
        }
        ConfigCommand::Example => out::text(crate::config::EXAMPLE)?,
    }
    Ok(ExitCode::SUCCESS)
}
