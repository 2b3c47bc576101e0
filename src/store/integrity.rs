//! Is the store sound, and is anyone else holding it? SQLite's
//! `quick_check` (b-tree structure and page formats, without the index
//! cross-check of `integrity_check`) when the daemon opens the store and
//! periodically after; and a probe for another process holding the write
//! lock, which would otherwise show only as slow failures.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::{Db, Result, Store, StoreError, meta_keys, now_ms};

/// Messages kept from a failing check.
const MAX_REPORTED: usize = 5;

/// The outcome of one integrity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityCheck {
    /// True when SQLite reported "ok".
    pub ok: bool,
    /// When it ran (ms).
    pub at_ms: i64,
    /// SQLite's first complaints, joined; empty when ok.
    pub detail: String,
    /// The command that recovers the store, when the check failed.
    #[serde(default)]
    pub recover: Option<String>,
}

/// How to rebuild a damaged store from what is still readable: SQLite's
/// `.recover` into a new file, keeping the damaged one.
pub fn recovery_command(path: &Path) -> String {
    let p = path.display();
    format!(
        "stop roundtrip, then run: sqlite3 '{p}' .recover | sqlite3 '{p}.recovered' && mv '{p}' '{p}.damaged' && mv '{p}.recovered' '{p}'"
    )
}

/// Whether another process holds the store's write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockProbe {
    /// The write lock could be taken (and was released at once).
    Free,
    /// Another connection held it for longer than the probe waited.
    Held,
    /// The probe could not tell (no write access, no such file).
    Unknown,
}

impl Db<'_> {
    /// Run `PRAGMA quick_check`; a store too damaged to run it at all is
    /// reported as failing with SQLite's error.
    pub fn quick_check(&self) -> IntegrityCheck {
        let at_ms = now_ms();
        // PostgreSQL checks its own pages (and reports damage on the
        // statement that meets it); there is no store-wide check to run.
        let super::sql::Conn::Sqlite(conn) = self.conn else {
            return IntegrityCheck {
                ok: true,
                at_ms,
                detail: String::new(),
                recover: None,
            };
        };
        let rows: rusqlite::Result<Vec<String>> = conn
            .prepare(&format!("PRAGMA quick_check({MAX_REPORTED})"))
            .and_then(|mut stmt| {
                stmt.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            });
        match rows {
            Ok(rows) if rows.len() == 1 && rows[0] == "ok" => IntegrityCheck {
                ok: true,
                at_ms,
                detail: String::new(),
                recover: None,
            },
            Ok(rows) => IntegrityCheck {
                ok: false,
                at_ms,
                detail: rows.join("; "),
                recover: None,
            },
            Err(e) => IntegrityCheck {
                ok: false,
                at_ms,
                detail: e.to_string(),
                recover: None,
            },
        }
    }

    /// Remember a check's outcome for `status` and the console.
    pub fn record_integrity(&self, check: &IntegrityCheck) -> Result<()> {
        self.set_meta(meta_keys::INTEGRITY, &super::json(check))
    }

    /// The latest recorded check, if any.
    pub fn integrity(&self) -> Result<Option<IntegrityCheck>> {
        Ok(parse_check(self.meta(meta_keys::INTEGRITY)?.as_ref()))
    }
}

/// The check recorded in a meta value (one that no longer parses counts as
/// none).
pub(super) fn parse_check(value: Option<&String>) -> Option<IntegrityCheck> {
    value.and_then(|t| serde_json::from_str(t).ok())
}

impl Store {
    /// Run the quick check on this store, with the recovery command filled
    /// in when it fails.
    pub fn quick_check(&self) -> IntegrityCheck {
        let mut check = self.db().quick_check();
        if !check.ok {
            check.recover = Some(recovery_command(&self.path));
        }
        check
    }

    /// Check the open store and refuse it when damaged, naming the command
    /// that recovers it. The check's outcome is recorded when it passes.
    pub fn verify_integrity(&self) -> Result<IntegrityCheck> {
        let check = self.quick_check();
        if !check.ok {
            // Recorded if the damage allows, so `status` and the console
            // say why the daemon is not running.
            if !self.read_only {
                let _ = self.db().record_integrity(&check);
            }
            return Err(StoreError::FailedIntegrity {
                path: self.path.clone(),
                detail: check.detail,
            });
        }
        if !self.read_only {
            self.db().record_integrity(&check)?;
        }
        Ok(check)
    }
}

/// Try to take the write lock of the store at `path` for up to `wait`, on a
/// connection of its own, and release it at once. Nothing is written.
pub fn probe_write_lock(path: &Path, wait: Duration) -> LockProbe {
    if !path.is_file() {
        return LockProbe::Unknown;
    }
    let Ok(conn) = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return LockProbe::Unknown;
    };
    if conn.busy_timeout(wait).is_err() {
        return LockProbe::Unknown;
    }
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {
            let _ = conn.execute_batch("ROLLBACK");
            LockProbe::Free
        }
        Err(e) => match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                LockProbe::Held
            }
            _ => LockProbe::Unknown,
        },
    }
}
