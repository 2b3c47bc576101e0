//! Versioned field-mapping documents; exactly one is active. Applying a new
//! version or rolling back only flips which row is active, so every earlier
//! version stays available.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result, StoreError, now_ms};

/// One stored version of the mapping document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingVersion {
    /// Version number, increasing.
    pub version: i64,
    /// The TOML document.
    pub document: String,
    /// Whether this is the one in force.
    pub active: bool,
    /// Why it was made ("applied from mapping.toml", "rollback to 3").
    pub note: String,
    /// Who made it ("operator", "cli", "default").
    pub created_by: String,
    /// When (ms).
    pub created_at: i64,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MappingVersion> {
    Ok(MappingVersion {
        version: r.get(0)?,
        document: r.get(1)?,
        active: r.get(2)?,
        note: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const COLS: &str = "version, document, active, note, created_by, created_at";

impl Db<'_> {
    /// Store a document as a new version and make it the active one.
    /// Call inside [`super::Store::write`] so the flip is atomic.
    pub fn add_mapping_version(&self, document: &str, created_by: &str, note: &str) -> Result<i64> {
        let next: i64 = self.conn.query_row(
            "SELECT COALESCE(max(version), 0) + 1 FROM mappings",
            [],
            |r| r.get(0),
        )?;
        self.conn
            .execute("UPDATE mappings SET active = 0 WHERE active = 1", [])?;
        self.conn.execute(
            "INSERT INTO mappings (version, document, active, note, created_by, created_at)
             VALUES (?1, ?2, 1, ?3, ?4, ?5)",
            params![next, document, note, created_by, now_ms()],
        )?;
        Ok(next)
    }

    /// Make an earlier version active again.
    pub fn activate_mapping_version(&self, version: i64) -> Result<()> {
        let exists: Option<i64> = self
            .conn
            .query_row(
                "SELECT version FROM mappings WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                what: "mapping version",
                id: version,
            });
        }
        self.conn
            .execute("UPDATE mappings SET active = 0 WHERE active = 1", [])?;
        self.conn.execute(
            "UPDATE mappings SET active = 1 WHERE version = ?1",
            [version],
        )?;
        Ok(())
    }

    /// The mapping in force, if any was ever stored.
    pub fn active_mapping(&self) -> Result<Option<MappingVersion>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM mappings WHERE active = 1"),
                [],
                row,
            )
            .optional()?)
    }

    /// One version.
    pub fn mapping_version(&self, version: i64) -> Result<Option<MappingVersion>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM mappings WHERE version = ?1"),
                [version],
                row,
            )
            .optional()?)
    }

    /// Every version, newest first.
    pub fn mapping_versions(&self) -> Result<Vec<MappingVersion>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM mappings ORDER BY version DESC"
        ))?;
        let rows = stmt
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
