//! Prometheus metrics (DESIGN.md section 11). Counters and histograms are
//! updated where things happen (webhook handlers, connectors' requests);
//! gauges that mirror the store (jobs by status, open conflicts, lag, quota)
//! are refreshed from the store summary at scrape time.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::health::assess;
use crate::store::{Summary, now_ms};

/// Labels of webhook delivery counts.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// "linear", "canny" or "fider".
    pub source: String,
    /// "stored", "duplicate", or why it was refused: "bad_signature",
    /// "missing_signature", "stale", "replayed", "too_large", "malformed",
    /// "buffer_full", "broken_body", "store_locked", "store_damaged", …
    pub outcome: String,
}

/// Labels of refusals at the webhook edge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// "too_large", "timeout", "unavailable", "connections_busy",
    /// "connection_evicted", "connection_dropped", "accept_error".
    pub reason: String,
}

/// Labels of API request counts.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// "linear" or "portal".
    pub connector: String,
    /// HTTP status, or the error class when no response arrived.
    pub status: String,
}

/// Labels naming one connector.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    /// "linear" or "portal".
    pub connector: String,
}

/// Labels of quota gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QuotaLabels {
    /// "linear" or "portal".
    pub connector: String,
    /// "requests", "complexity" or "requests_per_second".
    pub kind: String,
}

/// Labels of job gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// Job status.
    pub status: String,
}

/// Every metric roundtrip exports.
pub struct Metrics {
    registry: Registry,
    /// Webhook deliveries by source and outcome.
    pub deliveries: Family<DeliveryLabels, Counter>,
    /// API requests by connector and status.
    pub requests: Family<RequestLabels, Counter>,
    /// API request latency by connector.
    pub latency: Family<ConnectorLabels, Histogram>,
    /// Sync lag in seconds.
    pub lag: Gauge<f64, AtomicU64>,
    /// Jobs by status.
    pub jobs: Family<StatusLabels, Gauge>,
    /// Open conflicts.
    pub conflicts: Gauge,
    /// Quota remaining by connector and kind.
    pub quota: Family<QuotaLabels, Gauge>,
    /// 1 when the engine heartbeat is fresh.
    pub engine_up: Gauge,
    /// Open connections to the webhook server.
    pub edge_connections: Gauge,
    /// Requests and connections the webhook edge refused, by reason.
    pub edge_refusals: Family<RefusalLabels, Counter>,
    /// Body bytes held before verification.
    pub buffered_bytes: Gauge,
    /// 1 while a connector's API answers in a shape roundtrip does not
    /// expect ("API response shape changed"), until a reconcile succeeds.
    pub shape_changed: Family<ConnectorLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Create and register every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("roundtrip");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by source and outcome",
            deliveries.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "api_requests",
            "Requests to remote APIs by connector and status",
            requests.clone(),
        );
        let latency = Family::<ConnectorLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 12))
        });
        registry.register(
            "api_request_duration_seconds",
            "Latency of requests to remote APIs",
            latency.clone(),
        );
        let lag = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "sync_lag_seconds",
            "Age of the oldest change not yet synced",
            lag.clone(),
        );
        let jobs = Family::<StatusLabels, Gauge>::default();
        registry.register("jobs", "Jobs by status", jobs.clone());
        let conflicts = Gauge::default();
        registry.register(
            "open_conflicts",
            "Conflicts waiting for an operator",
            conflicts.clone(),
        );
        let quota = Family::<QuotaLabels, Gauge>::default();
        registry.register(
            "quota_remaining",
            "Remaining rate-limit quota",
            quota.clone(),
        );
        let shape_changed = Family::<ConnectorLabels, Gauge>::default();
        registry.register(
            "api_shape_changed",
            "1 while the connector's API answers in a shape roundtrip does not expect",
            shape_changed.clone(),
        );
        let engine_up = Gauge::default();
        registry.register(
            "engine_up",
            "1 when the engine heartbeat is fresh",
            engine_up.clone(),
        );
        let edge_connections = Gauge::default();
        registry.register(
            "webhook_connections",
            "Open connections to the webhook server",
            edge_connections.clone(),
        );
        let edge_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "webhook_edge_refusals",
            "Requests and connections the webhook edge refused, by reason",
            edge_refusals.clone(),
        );
        let buffered_bytes = Gauge::default();
        registry.register(
            "webhook_buffered_bytes",
            "Webhook body bytes held before their signature is verified",
            buffered_bytes.clone(),
        );
        Metrics {
            registry,
            edge_connections,
            edge_refusals,
            buffered_bytes,
            deliveries,
            requests,
            latency,
            lag,
            jobs,
            conflicts,
            quota,
            engine_up,
            shape_changed,
        }
    }

    /// Count one webhook delivery.
    pub fn delivery(&self, source: &str, outcome: &str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                source: source.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Count one refusal at the webhook edge.
    pub fn edge_refusal(&self, reason: &str) {
        self.edge_refusals
            .get_or_create(&RefusalLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// Count one API request and its latency.
    pub fn request(&self, connector: &str, status: &str, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                connector: connector.into(),
                status: status.into(),
            })
            .inc();
        self.latency
            .get_or_create(&ConnectorLabels {
                connector: connector.into(),
            })
            .observe(seconds);
    }

    /// Mirror the store's numbers into the gauges.
    pub fn refresh(&self, s: &Summary) {
        let health = assess(s, now_ms());
        self.lag.set(health.lag_ms as f64 / 1000.0);
        for (status, n) in &s.jobs {
            self.jobs
                .get_or_create(&StatusLabels {
                    status: status.clone(),
                })
                .set(*n);
        }
        self.conflicts.set(s.open_conflicts);
        for q in &s.quota {
            self.quota
                .get_or_create(&QuotaLabels {
                    connector: q.connector.to_string(),
                    kind: q.kind.to_string(),
                })
                .set(q.remaining);
        }
        for (connector, example) in [
            ("linear", &s.linear_shape_changed),
            ("portal", &s.portal_shape_changed),
        ] {
            self.shape_changed
                .get_or_create(&ConnectorLabels {
                    connector: connector.to_string(),
                })
                .set(i64::from(example.is_some()));
        }
        self.engine_up.set(i64::from(
            health
                .heartbeat_age_ms
                .is_some_and(|a| a <= crate::health::HEARTBEAT_STALE_MS),
        ));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
