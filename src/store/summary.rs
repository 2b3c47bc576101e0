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
        jobs_in(&self.jobs, status)
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

/// The count of `status` in a by-status map of job counts (a status no job
/// has is 0).
pub fn jobs_in(jobs: &BTreeMap<String, i64>, status: JobStatus) -> i64 {
    jobs.get(status.as_str()).copied().unwrap_or(0)
}

/// The maintained row counters: what a view needs to number its rows
/// from the end, without the rest of the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Number of links.
    pub links: i64,
    /// Jobs by status.
    pub jobs: BTreeMap<String, i64>,
    /// Open conflicts.
    pub open_conflicts: i64,
}

impl Db<'_> {
    /// The counters, in one statement (a missing counter is 0).
    pub fn counts(&self) -> Result<Counts> {
        let by_name: BTreeMap<String, i64> = self
            .conn
            .prepare_cached("SELECT name, n FROM counters")?
            .query_map((), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_>>()?;
        let get = |name: &str| by_name.get(name).copied().unwrap_or(0);
        Ok(Counts {
            links: get("links"),
            jobs: JobStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), get(&format!("jobs.{}", s.as_str()))))
                .collect(),
            open_conflicts: get("conflicts.open"),
        })
    }

    /// Every meta value, in one statement (the table holds a few dozen
    /// small values).
    fn meta_all(&self) -> Result<BTreeMap<String, String>> {
        self.conn
            .prepare_cached("SELECT key, value FROM meta")?
            .query_map((), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// The oldest unprocessed delivery, the open refused-value conflicts
    /// and the unrouted posts, in one statement (a count whose table this
    /// store's schema lacks is 0).
    fn backlog_numbers(&self) -> Result<(Option<i64>, i64, i64)> {
        let mut args = Vec::new();
        let refused = if self.has_conflict_kinds()? {
            args.push(super::sql::Value::Text(
                crate::domain::ConflictReason::Refused.as_str(),
            ));
            "(SELECT count(*) FROM conflicts WHERE status = 'open' AND kind = ?1)"
        } else {
            "0"
        };
        let unrouted = if self.has_routes()? {
            "(SELECT count(*) FROM unrouted)"
        } else {
            "0"
        };
        self.conn.query_row(
            &format!(
                "SELECT (SELECT min(received_at) FROM inbox WHERE processed_at IS NULL),
                        {refused}, {unrouted}"
            ),
            args,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// Read the summary: a handful of statements whatever the store's
    /// size, since on PostgreSQL each is a round trip and the console reads
    /// the summary whenever the store changes or a view comes on screen.
    pub fn summary(&self) -> Result<Summary> {
        let schema_version: i64 = self.schema_version()?;
        let Counts {
            links,
            jobs,
            open_conflicts,
        } = self.counts()?;
        let meta = self.meta_all()?;
        let text = |key: &str| meta.get(key).cloned();
        let int = |key: &str| meta.get(key).and_then(|v| v.parse::<i64>().ok());
        let (oldest_pending_ms, refused_values, unrouted) = self.backlog_numbers()?;
        let breakers = self.tripped_links(super::now_ms(), 5)?;
        let ids: Vec<i64> = breakers.iter().map(|b| b.link_id).collect();
        let named: BTreeMap<i64, super::Link> = self
            .links_by_id(&ids)?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        let unrouted_example = if unrouted > 0 {
            self.unrouted(1)?
                .into_iter()
                .next()
                .map(|u| format!("'{}' ({}): {}", u.title, u.portal_id, u.reason))
        } else {
            None
        };
        Ok(Summary {
            schema_version,
            links,
            jobs,
            open_conflicts,
            heartbeat_ms: int(meta_keys::HEARTBEAT),
            oldest_pending_ms,
            oldest_unsynced_ms: int(meta_keys::OLDEST_UNSYNCED),
            linear_paused: text(meta_keys::PAUSED_LINEAR),
            portal_paused: text(meta_keys::PAUSED_PORTAL),
            deletes_paused: text(meta_keys::DELETES_PAUSED),
            reconcile_repairs: int(meta_keys::RECONCILE_REPAIRS).unwrap_or(0),
            quota: self.latest_quota()?,
            refused_values,
            tripped_links: breakers
                .into_iter()
                .map(|b| {
                    // Named as every listing names a link.
                    let name = named.get(&b.link_id).map_or_else(
                        || format!("link {}", b.link_id),
                        |l| format!("{} ({})", l.label(), l.title),
                    );
                    format!("{name}: {}", b.reason)
                })
                .collect(),
            reconcile_failures: int(meta_keys::RECONCILE_FAILURES).unwrap_or(0),
            reconcile_error: text(meta_keys::RECONCILE_ERROR),
            integrity: super::integrity::parse_check(meta.get(meta_keys::INTEGRITY)),
            store_locked: None,
            refused_mapping: self.refused_mapping()?,
            linear_shape_changed: text(meta_keys::DRIFT_LINEAR),
            portal_shape_changed: text(meta_keys::DRIFT_PORTAL),
            unrouted,
            unrouted_example,
            portal_webhooks: super::webhook_watch::silence_in(&meta),
        })
    }
}
