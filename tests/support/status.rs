//! Running `roundtrip status` from tests (needs the binary Cargo builds
//! for integration tests, so it lives apart from the harness the examples
//! share).

/// `roundtrip status --db DB` (a file or a PostgreSQL URL): its exit code
/// and what it printed.
pub fn status_of(db: impl AsRef<std::ffi::OsStr>) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["status", "--db"])
        .arg(db)
        .output()
        .expect("status");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}
