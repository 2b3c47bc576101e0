//! The `roundtrip` binary: parse the command line, run the command, turn
//! errors into one clear sentence and an exit code (0 ok, 1 failure, 2 usage
//! or configuration error).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use roundtrip::cli::{self, Cli};

fn main() -> ExitCode {
    let args = Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            let sentence: Vec<String> = err.chain().map(ToString::to_string).collect();
            // A closed stderr leaves nowhere to report; never panic over it.
            let _ = writeln!(
                std::io::stderr().lock(),
                "roundtrip: error: {}",
                sentence.join(": ")
            );
            if cli::is_usage_error(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
