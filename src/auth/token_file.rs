//! The OAuth token file: the only place roundtrip keeps Linear's access and
//! refresh tokens (never the SQLite store, never a log line). Written
//! atomically — a new file beside the old one, fsync'd, renamed over it,
//! the directory fsync'd — with mode 0600, so a crash mid-write leaves the
//! previous tokens intact and no other user can read them.
//!
//! Refreshing rotates the refresh token, so two processes sharing the file
//! (the daemon and a CLI command) must not refresh at once: the second would
//! send a refresh token the first just spent. [`TokenLock`] is the advisory
//! lock on a sidecar `<file>.lock` that serialises them.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// Who the token acts as (`actor=` on the authorize URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// Changes appear as made by the user who authorized (Linear's default).
    #[default]
    User,
    /// Changes appear as made by the application; comments and attachments
    /// created from portal content name their author with `createAsUser`.
    App,
}

impl Actor {
    /// The value of the authorize URL's `actor` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::User => "user",
            Actor::App => "app",
        }
    }
}

/// Tokens as the file keeps them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    /// Sent as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Exchanged for a new pair when the access token expires; Linear
    /// rotates it on every refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token stops working (from `expires_in`).
    pub expires_at: DateTime<Utc>,
    /// When this pair was obtained, so the refresh margin can be a share of
    /// the token's lifetime.
    pub obtained_at: DateTime<Utc>,
    /// Scopes Linear granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Who the token acts as.
    #[serde(default)]
    pub actor: Actor,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("obtained_at", &self.obtained_at)
            .field("scopes", &self.scopes)
            .field("actor", &self.actor)
            .finish()
    }
}

impl TokenSet {
    /// The access token as a [`Secret`], for the one place that sends it.
    pub fn access(&self) -> Secret {
        Secret::new(self.access_token.clone())
    }

    /// Refresh once less than this much lifetime is left: a quarter of the
    /// token's lifetime, at most five minutes (24-hour Linear tokens are
    /// refreshed five minutes early; a 30-second test token after 22 s).
    pub fn refresh_margin(&self) -> chrono::Duration {
        let lifetime = self.expires_at - self.obtained_at;
        (lifetime / 4).min(chrono::Duration::minutes(5))
    }

    /// Whether the access token should be refreshed before it is used.
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        now + self.refresh_margin() >= self.expires_at
    }
}

/// What can go wrong with the file. Messages name the file, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFileError {
    /// There is no file yet.
    #[error("no Linear OAuth token file at {0}")]
    Missing(PathBuf),
    /// The file exists but cannot be read or parsed.
    #[error("cannot read the Linear OAuth token file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file could not be written.
    #[error("cannot write the Linear OAuth token file {path}: {reason}")]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Read the token file.
pub fn read(path: &Path) -> Result<TokenSet, TokenFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TokenFileError::Missing(path.to_path_buf()));
        }
        Err(e) => {
            return Err(TokenFileError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
    };
    // serde_json's messages quote no values for a type mismatch, but a
    // syntax error message can point into the text: keep only the position.
    serde_json::from_str(&text).map_err(|e| TokenFileError::Unreadable {
        path: path.to_path_buf(),
        reason: format!(
            "not a roundtrip token file (line {}, column {})",
            e.line(),
            e.column()
        ),
    })
}

#[cfg(unix)]
fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

#[cfg(not(unix))]
fn private_options() -> OpenOptions {
    OpenOptions::new()
}

/// Write the token file atomically with mode 0600.
pub fn write(path: &Path, tokens: &TokenSet) -> Result<(), TokenFileError> {
    let fail = |e: std::io::Error| TokenFileError::Unwritable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".into());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let json = serde_json::to_vec_pretty(tokens).map_err(|e| TokenFileError::Unwritable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let result = (|| {
        let mut f = private_options().write(true).create_new(true).open(&tmp)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// An exclusive advisory lock on `<token file>.lock`, held while a process
/// refreshes; dropped, it is released.
#[derive(Debug)]
pub struct TokenLock {
    _file: File,
}

/// The sidecar lock file's path.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

impl TokenLock {
    /// Block until this process holds the lock. Call from a blocking
    /// thread (`spawn_blocking`), never on the async runtime.
    pub fn acquire(path: &Path) -> Result<TokenLock, TokenFileError> {
        let lp = lock_path(path);
        let fail = |e: std::io::Error| TokenFileError::Unwritable {
            path: lp.clone(),
            reason: format!("cannot lock: {e}"),
        };
        if let Some(dir) = lp.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lp)
            .map_err(fail)?;
        file.lock().map_err(fail)?;
        Ok(TokenLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: &str) -> TokenSet {
        let now = Utc::now();
        TokenSet {
            access_token: access.into(),
            refresh_token: Some("r-SECRET".into()),
            expires_at: now + chrono::Duration::hours(24),
            obtained_at: now,
            scopes: vec!["read".into(), "write".into()],
            actor: Actor::App,
        }
    }

    #[test]
    fn written_atomically_with_mode_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("linear-token.json");
        write(&path, &tokens("a1")).unwrap();
        write(&path, &tokens("a2")).unwrap();
        assert_eq!(read(&path).unwrap().access_token, "a2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn missing_and_garbled_files_are_named_without_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        assert_eq!(read(&path), Err(TokenFileError::Missing(path.clone())));
        std::fs::write(&path, "{\"access_token\": \"SECRET-TEXT\"").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("t.json") && !e.contains("SECRET"), "{e}");
    }

    #[test]
    fn debug_redacts_tokens_and_margin_scales_with_lifetime() {
        let t = tokens("ACCESS-SECRET");
        let d = format!("{t:?}");
        assert!(!d.contains("SECRET"), "{d}");
        assert_eq!(t.refresh_margin(), chrono::Duration::minutes(5));
        let mut short = t.clone();
        short.expires_at = short.obtained_at + chrono::Duration::seconds(30);
        assert_eq!(
            short.refresh_margin(),
            chrono::Duration::milliseconds(7_500)
        );
        assert!(!short.needs_refresh(short.obtained_at + chrono::Duration::seconds(20)));
        assert!(short.needs_refresh(short.obtained_at + chrono::Duration::seconds(23)));
    }

    #[test]
    fn the_lock_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let held = TokenLock::acquire(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let t = std::thread::spawn(move || {
            let _second = TokenLock::acquire(&p).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err()
        );
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        t.join().unwrap();
    }
}
