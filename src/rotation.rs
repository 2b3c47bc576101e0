//! Webhook-secret rotation without downtime. Linear signs with the new
//! secret as soon as it is rotated, but deliveries signed before — retried
//! at +1 min, +1 h and +6 h — still carry the old signature. So while
//! `[linear] previous_webhook_secret_env` names a set variable, the old
//! secret is accepted too, for `rotation_overlap` counted from the moment
//! roundtrip first saw that previous secret.
//!
//! That moment is kept in the store so a restart does not extend the
//! overlap, together with a 32-bit fingerprint of the previous secret (never
//! the secret) so a later rotation starts a new overlap. `roundtrip status`
//! reads the same record to say when the overlap ends.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::connector::linear::WebhookKeys;
use crate::store::{Db, Level, StoreError, meta_keys};

/// The stored record of the rotation in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// Which previous secret this is about: 8 hex characters of a hash.
    pub fingerprint: String,
    /// When roundtrip first accepted the previous secret (ms).
    pub started_ms: i64,
    /// When it stops accepting it (ms).
    pub ends_ms: i64,
}

impl Rotation {
    /// The end as a time.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        Utc.timestamp_millis_opt(self.ends_ms).single()
    }
}

/// A fingerprint that tells rotations apart without revealing the secret:
/// 32 bits of a domain-separated SHA-256.
pub fn fingerprint(secret: &Secret) -> String {
    let mut h = Sha256::new();
    h.update(b"roundtrip webhook rotation\0");
    h.update(secret.expose().as_bytes());
    hex::encode(&h.finalize()[..4])
}

/// Read the stored rotation, if any.
pub fn stored(db: &Db<'_>) -> Result<Option<Rotation>, StoreError> {
    Ok(db
        .meta(meta_keys::LINEAR_WEBHOOK_ROTATION)?
        .and_then(|t| serde_json::from_str(&t).ok()))
}

/// Decide the keys to verify with, recording a new rotation (or clearing a
/// finished one) in the store. `now_ms` and `overlap_ms` come from the
/// caller so tests need no clock.
pub fn settle(
    db: &Db<'_>,
    current: &Secret,
    previous: Option<&Secret>,
    overlap_ms: i64,
    now_ms: i64,
) -> Result<WebhookKeys, StoreError> {
    let Some(previous) = previous.filter(|p| *p != current) else {
        if stored(db)?.is_some() {
            db.clear_meta(meta_keys::LINEAR_WEBHOOK_ROTATION)?;
            db.log_event(
                Level::Info,
                "secrets",
                "Linear webhook-secret rotation finished: only the current secret is accepted",
            )?;
        }
        return Ok(WebhookKeys::single(current.expose()));
    };
    let fp = fingerprint(previous);
    let rotation = match stored(db)? {
        Some(r) if r.fingerprint == fp => r,
        _ => {
            let r = Rotation {
                fingerprint: fp,
                started_ms: now_ms,
                ends_ms: now_ms.saturating_add(overlap_ms),
            };
            db.set_meta(
                meta_keys::LINEAR_WEBHOOK_ROTATION,
                &serde_json::to_string(&r).unwrap_or_default(),
            )?;
            db.log_event(
                Level::Info,
                "secrets",
                &format!(
                    "Linear webhook-secret rotation started: the previous secret is accepted until {}",
                    r.ends_at().map_or_else(|| "?".into(), |t| t.to_rfc3339())
                ),
            )?;
            r
        }
    };
    let previous = rotation
        .ends_at()
        .filter(|_| now_ms < rotation.ends_ms)
        .map(|until| (previous.expose().to_string(), until));
    Ok(WebhookKeys {
        current: current.expose().to_string(),
        previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{OpenMode, Store};

    #[test]
    fn overlap_starts_once_survives_restarts_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("rt.db"), OpenMode::Create).unwrap();
        let new = Secret::new("new-secret");
        let old = Secret::new("old-secret");
        let hour = 3_600_000;
        let keys = store
            .write(|db| settle(&db, &new, Some(&old), 24 * hour, 1_000))
            .unwrap();
        assert_eq!(keys.previous.as_ref().unwrap().0, "old-secret");
        // A restart an hour later keeps the original end.
        let again = store
            .write(|db| settle(&db, &new, Some(&old), 24 * hour, 1_000 + hour))
            .unwrap();
        assert_eq!(again.previous, keys.previous);
        let r = stored(&store.db()).unwrap().unwrap();
        assert_eq!(r.ends_ms, 1_000 + 24 * hour);
        assert!(!serde_json::to_string(&r).unwrap().contains("old-secret"));
        // After the end the old secret is no longer offered.
        let late = store
            .write(|db| settle(&db, &new, Some(&old), 24 * hour, 2_000 + 24 * hour))
            .unwrap();
        assert!(late.previous.is_none());
        // Removing the variable clears the record.
        store
            .write(|db| settle(&db, &new, None, 24 * hour, 3_000 + 24 * hour))
            .unwrap();
        assert!(stored(&store.db()).unwrap().is_none());
    }
}
