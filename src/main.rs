//! The `roundtrip` binary: parse the command line, run the command, turn
//! errors into one clear sentence and an exit code (0 ok, 1 failure, 2 usage
//! or configuration error).

use std::process::ExitCode;

fn main() -> ExitCode {
    roundtrip::cli::main_with_args(std::env::args_os())
}
