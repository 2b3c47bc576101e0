//! Small named values: reconcile cursors, the engine heartbeat, alerts.

use super::sql::{OptionalExtension, params};

use super::{Db, Result};

/// Well-known meta keys, so writers and readers agree on spelling.
pub mod keys {
    /// Engine heartbeat (ms), written every few seconds while it runs.
    pub const HEARTBEAT: &str = "engine.heartbeat";
    /// Oldest unsynced change the engine knows of (ms), for sync lag.
    pub const OLDEST_UNSYNCED: &str = "engine.oldest_unsynced";
    /// Reason a connector is paused (e.g. auth refused), per side.
    pub const PAUSED_LINEAR: &str = "connector.linear.paused";
    /// Reason the portal connector is paused.
    pub const PAUSED_PORTAL: &str = "connector.portal.paused";
    /// Set when the mass-delete guard tripped: deletes are paused.
    pub const DELETES_PAUSED: &str = "sync.deletes_paused";
    /// Reconcile cursor (RFC 3339 updatedAt) for Linear.
    pub const CURSOR_LINEAR: &str = "cursor.linear";
    /// When the last reconcile finished (ms).
    pub const LAST_RECONCILE: &str = "reconcile.last";
    /// Changes reconcile had to repair (webhooks missed them).
    pub const RECONCILE_REPAIRS: &str = "reconcile.repairs";
    /// When the oldest reconcile pass that stored listings but did not
    /// finish acting on them began (ms); the next pass acts on every record
    /// stored since, which its own listing finds unchanged.
    pub const RECONCILE_UNFINISHED: &str = "reconcile.unfinished";
    /// Reconcile passes that failed in a row (cleared by a pass that works).
    pub const RECONCILE_FAILURES: &str = "reconcile.failures";
    /// Why the latest reconcile pass failed.
    pub const RECONCILE_ERROR: &str = "reconcile.error";
    /// The latest store integrity check (JSON), written by the daemon.
    pub const INTEGRITY: &str = "store.integrity";
    /// The Linear webhook-secret rotation in progress: when the overlap
    /// started and ends, and a 32-bit fingerprint of the previous secret
    /// (never the secret), as JSON.
    pub const LINEAR_WEBHOOK_ROTATION: &str = "webhook.linear.rotation";
    /// The configured Linear team's key, written by the engine at start:
    /// what a route naming no team means, for previews.
    pub const LINEAR_TEAM: &str = "config.linear.team";
    /// Changes propagated, total (for the throughput sparkline).
    pub const CHANGES_SYNCED: &str = "stats.changes_synced";

    /// First example of a Linear answer whose shape changed, until a
    /// reconcile pass of Linear succeeds.
    pub const DRIFT_LINEAR: &str = "alert.linear.shape_changed";
    /// The same for the portal.
    pub const DRIFT_PORTAL: &str = "alert.portal.shape_changed";

    /// Which portal product the store syncs ("canny", "fider"), written by
    /// the engine; the CLI and the console read it for the portal's default
    /// mapping and statuses.
    pub const PORTAL_KIND: &str = "portal.kind";

    /// The portal webhooks watched for silence (JSON settings), written by
    /// the engine at start.
    pub const WEBHOOK_WATCH: &str = "webhook.portal.watch";

    /// When the last delivery of a watched portal webhook arrived (ms).
    pub fn webhook_seen(event: &str) -> String {
        format!("webhook.portal.seen.{event}")
    }

    /// What a watched portal webhook missed since its last delivery (JSON).
    pub fn webhook_missed(event: &str) -> String {
        format!("webhook.portal.missed.{event}")
    }

    /// The shape-drift alert key of one side.
    pub fn drift(side: crate::domain::Side) -> &'static str {
        match side {
            crate::domain::Side::Linear => DRIFT_LINEAR,
            crate::domain::Side::Portal => DRIFT_PORTAL,
        }
    }

    /// The pause key of one side's connector.
    pub fn paused(side: crate::domain::Side) -> &'static str {
        match side {
            crate::domain::Side::Linear => PAUSED_LINEAR,
            crate::domain::Side::Portal => PAUSED_PORTAL,
        }
    }
}

impl Db<'_> {
    /// Set a meta value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Remove a meta value.
    pub fn clear_meta(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Read a meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }

    /// Read a meta value as an integer (missing or unparsable → None).
    pub fn meta_i64(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.meta(key)?.and_then(|v| v.parse().ok()))
    }

    /// Raise the "API response shape changed" alert for `side` with its
    /// first example; later examples leave the first in place.
    pub fn note_shape_drift(&self, side: crate::domain::Side, example: &str) -> Result<bool> {
        let key = keys::drift(side);
        if self.meta(key)?.is_some() {
            return Ok(false);
        }
        self.set_meta(key, example)?;
        self.log_event(super::Level::Error, "engine", &format!("{side}: {example}"))?;
        Ok(true)
    }

    /// Record `kind` as the portal this store syncs, unless one is already
    /// recorded or the store already links records (those came from the
    /// default portal); returns the portal the store syncs afterwards. The
    /// engine and `mapping apply --config` both claim, so a mapping applied
    /// before the first start is judged against the configured portal.
    pub fn claim_portal_kind(
        &self,
        kind: crate::domain::PortalKind,
    ) -> Result<crate::domain::PortalKind> {
        let stored = self.meta(keys::PORTAL_KIND)?;
        if stored.is_none()
            && (kind == crate::domain::PortalKind::default() || self.summary()?.links == 0)
        {
            self.set_meta(keys::PORTAL_KIND, kind.as_str())?;
        }
        self.portal_kind()
    }

    /// The portal product this store syncs; Canny when no engine has said.
    pub fn portal_kind(&self) -> Result<crate::domain::PortalKind> {
        Ok(self
            .meta(keys::PORTAL_KIND)?
            .and_then(|k| k.parse().ok())
            .unwrap_or_default())
    }

    /// Add to an integer meta counter.
    pub fn bump_meta(&self, key: &str, by: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, CAST(?2 AS TEXT))
             ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + ?2 AS TEXT)",
            params![key, by],
        )?;
        Ok(())
    }
}
