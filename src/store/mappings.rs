//! Versioned field-mapping documents; exactly one is active: the one the
//! engine runs. Applying a new version or rolling back only flips which row
//! is active, so every earlier version stays available. A version the engine
//! could not load is marked refused (with the reason) and the version it
//! keeps running is active again, so the store never calls a document
//! active that is not in force.

use super::sql::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result, StoreError, now_ms, parse_name};
use crate::domain::Actor;

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
    /// Who made it.
    pub created_by: Actor,
    /// When (ms).
    pub created_at: i64,
    /// When an operator (or the first start) last made it active (ms).
    pub activated_at: Option<i64>,
    /// Why the engine refused to run it, if it did.
    pub refused_reason: Option<String>,
    /// When the engine refused it (ms).
    pub refused_at: Option<i64>,
}

/// A refused version the operator has not acted on since: the alert
/// `status`, `/healthz` and the console raise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedMapping {
    /// The refused version.
    pub version: i64,
    /// Why the engine refused it.
    pub reason: String,
    /// The version in force instead, if any.
    pub in_force: Option<i64>,
}

fn row(r: &super::sql::Row<'_>) -> Result<MappingVersion> {
    Ok(MappingVersion {
        version: r.get(0)?,
        document: r.get(1)?,
        active: r.get(2)?,
        note: r.get(3)?,
        created_by: parse_name(4, r.get(4)?)?,
        created_at: r.get(5)?,
        activated_at: r.get(6)?,
        refused_reason: r.get(7)?,
        refused_at: r.get(8)?,
    })
}

const COLS: &str = "version, document, active, note, created_by, created_at, activated_at,
    refused_reason, refused_at";

/// The same columns on a store not yet migrated to V4 (read-only commands
/// against an older daemon's store): no version was ever refused there.
const COLS_BEFORE_V4: &str = "version, document, active, note, created_by, created_at,
    NULL, NULL, NULL";

/// The schema version that added refusals.
const REFUSALS_SINCE: i64 = 4;

impl Db<'_> {
    fn has_refusals(&self) -> Result<bool> {
        let v: i64 = self.schema_version()?;
        Ok(v >= REFUSALS_SINCE)
    }

    fn mapping_cols(&self) -> Result<&'static str> {
        Ok(if self.has_refusals()? {
            COLS
        } else {
            COLS_BEFORE_V4
        })
    }

    /// The number the next stored version gets (so a document can carry
    /// its own version before it is stored).
    pub fn next_mapping_version(&self) -> Result<i64> {
        self.conn.query_row(
            "SELECT COALESCE(max(version), 0) + 1 FROM mappings",
            (),
            |r| r.get(0),
        )
    }

    /// Now, for an activation: never at or before an earlier refusal, so a
    /// rollback right after a refusal answers it even within one
    /// millisecond.
    fn activation_time(&self) -> Result<i64> {
        let last_refusal: Option<i64> =
            self.conn
                .query_row("SELECT max(refused_at) FROM mappings", (), |r| r.get(0))?;
        Ok(last_refusal.map_or(now_ms(), |r| now_ms().max(r + 1)))
    }

    /// Store a document as a new version and make it the active one.
    /// Call inside [`super::Store::write`] so the flip is atomic.
    pub fn add_mapping_version(
        &self,
        document: &str,
        created_by: Actor,
        note: &str,
    ) -> Result<i64> {
        let next = self.next_mapping_version()?;
        let now = self.activation_time()?;
        self.conn
            .execute("UPDATE mappings SET active = 0 WHERE active = 1", ())?;
        self.conn.execute(
            "INSERT INTO mappings (version, document, active, note, created_by, created_at,
                                   activated_at)
             VALUES (?1, ?2, 1, ?3, ?4, ?5, ?5)",
            params![next, document, note, created_by.as_str(), now],
        )?;
        Ok(next)
    }

    /// Make an earlier version active again.
    pub fn activate_mapping_version(&self, version: i64) -> Result<()> {
        self.require_mapping_version(version)?;
        self.conn
            .execute("UPDATE mappings SET active = 0 WHERE active = 1", ())?;
        self.conn.execute(
            "UPDATE mappings SET active = 1, activated_at = ?2 WHERE version = ?1",
            params![version, self.activation_time()?],
        )?;
        Ok(())
    }

    /// The engine could not load `version`: mark it refused with the reason
    /// and make `in_force` (the version the engine keeps running) active
    /// again, without counting that as an operator's activation.
    pub fn refuse_mapping_version(&self, version: i64, reason: &str, in_force: i64) -> Result<()> {
        self.require_mapping_version(version)?;
        self.require_mapping_version(in_force)?;
        // Never before the activation it answers, so the alert holds.
        let last_activation: Option<i64> =
            self.conn
                .query_row("SELECT max(activated_at) FROM mappings", (), |r| r.get(0))?;
        let at = last_activation.map_or(now_ms(), |a| now_ms().max(a));
        self.conn.execute(
            "UPDATE mappings SET active = 0, refused_reason = ?2, refused_at = ?3
             WHERE version = ?1",
            params![version, reason, at],
        )?;
        self.conn.execute(
            "UPDATE mappings SET active = 0 WHERE active = 1 AND version <> ?1",
            [in_force],
        )?;
        self.conn.execute(
            "UPDATE mappings SET active = 1 WHERE version = ?1",
            [in_force],
        )?;
        Ok(())
    }

    fn require_mapping_version(&self, version: i64) -> Result<()> {
        let exists: Option<i64> = self
            .conn
            .query_row(
                "SELECT version FROM mappings WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        match exists {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound {
                what: "mapping version",
                id: version,
            }),
        }
    }

    /// The mapping in force, if any was ever stored.
    pub fn active_mapping(&self) -> Result<Option<MappingVersion>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {} FROM mappings WHERE active = 1",
                    self.mapping_cols()?
                ),
                (),
                row,
            )
            .optional()
    }

    /// One version.
    pub fn mapping_version(&self, version: i64) -> Result<Option<MappingVersion>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {} FROM mappings WHERE version = ?1",
                    self.mapping_cols()?
                ),
                [version],
                row,
            )
            .optional()
    }

    /// Every version, newest first.
    pub fn mapping_versions(&self) -> Result<Vec<MappingVersion>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM mappings ORDER BY version DESC",
            self.mapping_cols()?
        ))?;
        let rows = stmt.query_map((), row)?.collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The newest version the engine refused after the active version was
    /// last activated: an operator asked for it and has not acted since.
    pub fn refused_mapping(&self) -> Result<Option<RefusedMapping>> {
        if !self.has_refusals()? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT r.version, r.refused_reason, a.version FROM mappings r
                 LEFT JOIN mappings a ON a.active = 1
                 WHERE r.refused_at IS NOT NULL
                   AND r.refused_at >= COALESCE(a.activated_at, 0)
                 ORDER BY r.version DESC LIMIT 1",
                (),
                |r| {
                    Ok(RefusedMapping {
                        version: r.get(0)?,
                        reason: r.get(1)?,
                        in_force: r.get(2)?,
                    })
                },
            )
            .optional()
    }
}
