//! Standard output for commands. A reader that stops early (`roundtrip jobs
//! list --json | head -1`) closes the pipe; the rest of the output is then
//! dropped quietly and the command still finishes with its own exit code,
//! instead of panicking the way `println!` does on a closed stdout.

use std::io::{ErrorKind, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Write text to stdout as is; a closed pipe is not an error.
pub fn text(s: &str) -> anyhow::Result<()> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
        Ok(()) => Ok(()),
    }
}

/// Write one line to stdout.
pub fn line(s: &str) -> anyhow::Result<()> {
    text(&format!("{s}\n"))
}

/// Write one line to stderr; a closed stderr is ignored (there is nowhere
/// left to report it).
pub fn err_line(s: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{s}");
}

/// Whether stdout is a terminal (tables fit it; pipes get whole values).
pub fn is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// `outln!("…{}", x)?`: a formatted line on stdout through [`line`].
macro_rules! outln {
    () => {
        $crate::cli::out::line("")
    };
    ($($arg:tt)*) => {
        $crate::cli::out::line(&format!($($arg)*))
    };
}
pub(crate) use outln;

/// Print what an operator action did: the headline on stdout (or, when
/// nothing changed because of a refusal, on stderr), each changed item when
/// asked for, every refusal on stderr; the exit code is the report's.
pub fn report(r: &crate::ops::Report, items: bool) -> anyhow::Result<std::process::ExitCode> {
    let refused_only = r.changed.is_empty() && !r.refused.is_empty();
    if !refused_only {
        line(&r.headline)?;
        if items && r.changed.len() > 1 {
            for c in &r.changed {
                line(&format!("  {c}"))?;
            }
        }
    }
    for refusal in &r.refused {
        err_line(&format!("roundtrip: {refusal}"));
    }
    Ok(std::process::ExitCode::from(r.exit_code()))
}
