//! Reading the files an operator hands roundtrip (the config, a mapping),
//! bounded in size: a wrong path such as a 50 MB export or `/dev/zero` is
//! refused after `max` bytes instead of being read until memory runs out.
//! And creating roundtrip's own directories private to their user.

use std::io::Read;
use std::path::Path;

/// Largest config file accepted.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Largest mapping document accepted.
pub const MAX_MAPPING_BYTES: u64 = 1024 * 1024;

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{}", describe_io(.0))]
    Io(std::io::Error),
    /// More than the limit.
    #[error("it is larger than {} KiB; this is not a {what}", .max / 1024)]
    TooLarge {
        /// The limit in bytes.
        max: u64,
        /// What the file should have been ("config file", "mapping file").
        what: &'static str,
    },
    /// Not UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotText,
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

/// Read at most `max` bytes of text from `path`; more is an error, whatever
/// the file claims its size is (devices and pipes claim none).
pub fn read_capped(path: &Path, max: u64, what: &'static str) -> Result<String, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(ReadError::Io(std::io::Error::from(
            std::io::ErrorKind::IsADirectory,
        )));
    }
    let mut buf = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > max {
        return Err(ReadError::TooLarge { max, what });
    }
    String::from_utf8(buf).map_err(|_| ReadError::NotText)
}

/// Create `dir` and its missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_and_oversized_inputs_are_refused_after_the_limit() {
        let e = read_capped(Path::new("/dev/zero"), 4096, "config file").unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { max: 4096, .. }), "{e}");
        assert!(e.to_string().contains("larger than 4 KiB"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.toml");
        std::fs::write(&p, vec![b'#'; 5000]).unwrap();
        assert!(matches!(
            read_capped(&p, 4096, "config file"),
            Err(ReadError::TooLarge { .. })
        ));
        std::fs::write(&p, "a = 1\n").unwrap();
        assert_eq!(read_capped(&p, 4096, "config file").unwrap(), "a = 1\n");
        assert!(matches!(
            read_capped(dir.path(), 4096, "config file"),
            Err(ReadError::Io(_))
        ));
    }
}
