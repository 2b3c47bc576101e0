//! Process-wide settings the daemon needs from the operating system: file
//! descriptors for its connections, and private permissions for every file
//! it creates (store, WAL, shared memory, logs).

use rustix::fs::Mode;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit, umask};

/// Descriptors kept for everything but client connections: the store and
/// its WAL and shared-memory files, log files, outgoing API connections.
pub const RESERVED_FDS: u64 = 256;

/// Raise the soft open-files limit to the hard limit (a process may always
/// do that) and return the soft limit now in force; `None` when unlimited
/// or unknown.
pub fn raise_open_files_limit() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return Some(maximum);
        }
        return Some(current);
    }
    limit.current
}

/// How many client connections fit in the open-files limit.
pub fn connections_that_fit(open_files: Option<u64>) -> Option<usize> {
    open_files.map(|n| n.saturating_sub(RESERVED_FDS).max(16) as usize)
}

/// Make every file and directory this process creates from now on private
/// to its user (files 0600, directories 0700).
pub fn private_file_modes() {
    umask(Mode::from_raw_mode(0o077));
}
