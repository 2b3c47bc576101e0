//! The numbers `status`, `/healthz` and the console's Overview show, read from
//! maintained counters and meta values: constant cost at any store size.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Db, IntegrityCheck, RefusedMapping, Result, WebhookSilence, meta_keys};
use crate::domain::{JobStatus, QuotaSample};

/// A snapshot of the store's health numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Schema version of the store.
    pub schema_version: i64,
    /// Number of links.
    pub links: i64,
    /// Jobs by status.
    pub jobs: BTreeMap<String, i64>,
    /// Open conflicts.
    pub open_conflicts: i64,
    /// Last engine heartbeat (ms), if the engine ever ran.
    pub heartbeat_ms: Option<i64>,
    /// Oldest unprocessed inbox delivery (ms).
    pub oldest_pending_ms: Option<i64>,
    /// Oldest unsynced change the engine reported (ms).
    pub oldest_unsynced_ms: Option<i64>,
    /// Why the Linear connector is paused, if it is.
    pub linear_paused: Option<String>,
    /// Why the portal connector is paused, if it is.
    pub portal_paused: Option<String>,
    /// Why deletes are paused, if they are.
    pub deletes_paused: Option<String>,
    /// Changes reconcile had to repair.
    pub reconcile_repairs: i64,
    /// Latest quota readings.
    pub quota: Vec<QuotaSample>,
    /// Open "cannot write" conflicts: values a side refused.
    #[serde(default)]
    pub refused_values: i64,
    /// Links paused by their circuit breaker, newest trip first (at most a
    /// few, each as "link N (title): why").
    #[serde(default)]
    pub tripped_links: Vec<String>,
    /// Reconcile passes that failed in a row.
    pub reconcile_failures: i64,
    /// Why the latest reconcile pass failed, while the streak lasts.
    pub reconcile_error: Option<String>,
    /// The latest store integrity check, if the daemon ran one.
    pub integrity: Option<IntegrityCheck>,
    /// Set by the reader when another process holds the store's write lock
    /// (a probe, not a stored value: [`Db::summary`] leaves it empty).
    pub store_locked: Option<String>,
    /// A mapping version the engine refused, not yet answered by an apply
    /// or rollback.
    pub refused_mapping: Option<RefusedMapping>,
    /// First example of a Linear answer whose shape changed, until a
    /// reconcile pass succeeds.
    pub linear_shape_changed: Option<String>,
    /// The same for the portal.
    pub portal_shape_changed: Option<String>,
    /// Portal posts no route takes (never silently ignored).
    #[serde(default)]
    pub unrouted: i64,
    /// The most recently seen of them, as "'title': why".
    #[serde(default)]
    pub unrouted_example: Option<String>,
    /// Portal webhooks that may fall silent on their own (Fider), when
    /// the engine watches them.
    pub portal_webhooks: Option<WebhookSilence>,
}

impl Summary {
    /// Jobs in one status.
    pub fn jobs_in(&self, status: JobStatus) -> i64 {
        self.jobs.get(status.as_str()).copied().unwrap_or(0)
    }

    /// The latest reading of one connector's limit, if it has sent one.
    pub fn quota_for(
        &self,
        side: crate::domain::Side,
        kind: crate::domain::QuotaKind,
    ) -> Option<&QuotaSample> {
        self.quota
            .iter()
            .find(|q| q.connector == side && q.kind == kind)
    }
}

impl Db<'_> {
    fn counter(&self, name: &str) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT n FROM counters WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .unwrap_or(0))
    }

    /// Read the summary.
    pub fn summary(&self) -> Result<Summary> {
        let schema_version: i64 = self.schema_version()?;
        let mut jobs = BTreeMap::new();
        for s in JobStatus::ALL {
            jobs.insert(
                s.as_str().to_string(),
                self.counter(&format!("jobs.{}", s.as_str()))?,
            );
        }
        Ok(Summary {
            schema_version,
            links: self.counter("links")?,
            jobs,
            open_conflicts: self.counter("conflicts.open")?,
            heartbeat_ms: self.meta_i64(meta_keys::HEARTBEAT)?,
            oldest_pending_ms: self.oldest_pending_delivery()?,
            oldest_unsynced_ms: self.meta_i64(meta_keys::OLDEST_UNSYNCED)?,
            linear_paused: self.meta(meta_keys::PAUSED_LINEAR)?,
            portal_paused: self.meta(meta_keys::PAUSED_PORTAL)?,
            deletes_paused: self.meta(meta_keys::DELETES_PAUSED)?,
            reconcile_repairs: self.meta_i64(meta_keys::RECONCILE_REPAIRS)?.unwrap_or(0),
            quota: self.latest_quota()?,
            refused_values: self
                .count_open_conflicts_of_kind(crate::domain::ConflictReason::Refused)?,
            tripped_links: self
                .tripped_links(super::now_ms(), 5)?
                .into_iter()
                .map(|b| {
                    // Named as every listing names a link.
                    let name = self.link(b.link_id).ok().flatten().map_or_else(
                        || format!("link {}", b.link_id),
                        |l| format!("{} ({})", l.label(), l.title),
                    );
                    format!("{name}: {}", b.reason)
                })
                .collect(),
            reconcile_failures: self.meta_i64(meta_keys::RECONCILE_FAILURES)?.unwrap_or(0),
            reconcile_error: self.meta(meta_keys::RECONCILE_ERROR)?,
            integrity: self.integrity()?,
            store_locked: None,
            refused_mapping: self.refused_mapping()?,
            linear_shape_changed: self.meta(meta_keys::DRIFT_LINEAR)?,
            portal_shape_changed: self.meta(meta_keys::DRIFT_PORTAL)?,
            unrouted: self.unrouted_count()?,
            unrouted_example: self
                .unrouted(1)?
                .into_iter()
                .next()
                .map(|u| format!("'{}' ({}): {}", u.title, u.portal_id, u.reason)),
            portal_webhooks: self.webhook_silence()?,
        })
    }
}
