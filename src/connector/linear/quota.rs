//! Linear's rate-limit headers, read from every response (API-NOTES section 3):
//! the engine stores them as a time series, the scheduler keeps a reserve for
//! live edits, and a RATELIMITED answer waits until the exhausted bucket's
//! reset instead of guessing.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use http::HeaderMap;

use crate::domain::{QuotaKind, QuotaSample, Side};

/// Samples kept when the engine does not drain them, so memory stays bounded.
const MAX_PENDING_SAMPLES: usize = 1_000;

/// One leaky bucket as Linear reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaBucket {
    /// Allowed per window.
    pub limit: i64,
    /// Left now.
    pub remaining: i64,
    /// When the bucket is full again (Linear sends epoch milliseconds).
    pub reset_at: Option<DateTime<Utc>>,
}

/// Everything one response said about the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaReading {
    /// `X-RateLimit-Requests-*`.
    pub requests: Option<QuotaBucket>,
    /// `X-RateLimit-Complexity-*`.
    pub complexity: Option<QuotaBucket>,
    /// `X-RateLimit-Endpoint-Requests-*`, sent only for per-endpoint limits.
    pub endpoint_requests: Option<QuotaBucket>,
    /// `X-Complexity`: what the answered query cost.
    pub cost: Option<i64>,
}

/// The latest known state of both buckets, for a scheduler deciding whether a
/// reconcile may spend quota now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSnapshot {
    /// Request bucket, from the latest response that carried it.
    pub requests: Option<QuotaBucket>,
    /// Complexity bucket, from the latest response that carried it.
    pub complexity: Option<QuotaBucket>,
    /// Complexity of the latest query.
    pub last_cost: Option<i64>,
    /// When the latest reading was taken.
    pub sampled_at: DateTime<Utc>,
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<i64> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let f = text.parse::<f64>().ok()?;
    // Saturating float-to-int conversion; NaN becomes 0 and is then dropped.
    f.is_finite().then(|| f.round() as i64)
}

fn epoch_ms(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

fn bucket(headers: &HeaderMap, prefix: &str) -> Option<QuotaBucket> {
    Some(QuotaBucket {
        limit: header_number(headers, &format!("{prefix}-limit"))?,
        remaining: header_number(headers, &format!("{prefix}-remaining"))?,
        reset_at: header_number(headers, &format!("{prefix}-reset")).and_then(epoch_ms),
    })
}

/// Read every rate-limit header of one response. Absent or unparsable
/// headers leave the bucket `None` rather than inventing numbers.
pub fn parse_quota_headers(headers: &HeaderMap) -> QuotaReading {
    QuotaReading {
        requests: bucket(headers, "x-ratelimit-requests"),
        complexity: bucket(headers, "x-ratelimit-complexity"),
        endpoint_requests: bucket(headers, "x-ratelimit-endpoint-requests"),
        cost: header_number(headers, "x-complexity"),
    }
}

impl QuotaReading {
    /// The reading as store samples ("requests", "complexity").
    pub fn samples(&self, sampled_at: DateTime<Utc>) -> Vec<QuotaSample> {
        [
            (QuotaKind::Requests, self.requests),
            (QuotaKind::Complexity, self.complexity),
        ]
        .into_iter()
        .filter_map(|(kind, b)| {
            b.map(|b| QuotaSample {
                connector: Side::Linear,
                kind,
                limit: b.limit,
                remaining: b.remaining,
                reset_at: b.reset_at,
                sampled_at,
            })
        })
        .collect()
    }

    /// How long a RATELIMITED answer asks us to wait: until the reset of the
    /// bucket that ran out (the latest, if several did); if none shows as
    /// exhausted, `Retry-After` seconds, else the latest reset seen.
    pub fn rate_limit_wait(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
        let cost = self.cost.unwrap_or(0);
        let buckets = [
            (self.requests, 0),
            (self.complexity, cost),
            (self.endpoint_requests, 0),
        ];
        let exhausted = buckets
            .iter()
            .filter_map(|(b, need)| b.filter(|b| b.remaining <= 0 || b.remaining < *need))
            .filter_map(|b| b.reset_at)
            .max();
        let any_reset = || {
            buckets
                .iter()
                .filter_map(|(b, _)| b.and_then(|b| b.reset_at))
                .max()
        };
        let until = |at: DateTime<Utc>| (at - now).to_std().unwrap_or(Duration::ZERO);
        exhausted
            .map(until)
            .or_else(|| retry_after_header(headers))
            .or_else(|| any_reset().map(until))
    }
}

/// `Retry-After` in seconds (undocumented by Linear, but its SDK reads it).
fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get("retry-after")?.to_str().ok()?.trim();
    let secs = text.parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Samples waiting for the engine plus the latest snapshot, shared by all
/// requests of one connector.
#[derive(Debug, Default)]
pub struct QuotaLog {
    inner: Mutex<QuotaLogInner>,
}

#[derive(Debug, Default)]
struct QuotaLogInner {
    /// Samples with the `X-Complexity` of the response they came from.
    pending: Vec<(QuotaSample, Option<i64>)>,
    latest: Option<QuotaSnapshot>,
}

impl QuotaLog {
    /// Record one response's reading.
    pub fn record(&self, reading: &QuotaReading, now: DateTime<Utc>) {
        if reading.requests.is_none() && reading.complexity.is_none() && reading.cost.is_none() {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let samples = reading.samples(now);
        inner
            .pending
            .extend(samples.into_iter().map(|s| (s, reading.cost)));
        let overflow = inner.pending.len().saturating_sub(MAX_PENDING_SAMPLES);
        inner.pending.drain(..overflow);
        let previous = inner.latest;
        inner.latest = Some(QuotaSnapshot {
            requests: reading.requests.or(previous.and_then(|p| p.requests)),
            complexity: reading.complexity.or(previous.and_then(|p| p.complexity)),
            last_cost: reading.cost.or(previous.and_then(|p| p.last_cost)),
            sampled_at: now,
        });
    }

    /// Hand the pending samples to the caller.
    pub fn take(&self) -> Vec<QuotaSample> {
        self.take_with_cost().into_iter().map(|(s, _)| s).collect()
    }

    /// Hand the pending samples over with the `X-Complexity` of the response
    /// each came from (what a rate-limit budget charges per request).
    pub fn take_with_cost(&self) -> Vec<(QuotaSample, Option<i64>)> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut inner.pending)
    }

    /// The latest snapshot, if any response carried quota headers yet.
    pub fn latest(&self) -> Option<QuotaSnapshot> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_both_buckets_and_cost() {
        let h = headers(&[
            ("X-RateLimit-Requests-Limit", "2500"),
            ("X-RateLimit-Requests-Remaining", "2499"),
            ("X-RateLimit-Requests-Reset", "1795168800000"),
            ("X-Complexity", "12"),
            ("X-RateLimit-Complexity-Limit", "3000000"),
            ("X-RateLimit-Complexity-Remaining", "2999988"),
            ("X-RateLimit-Complexity-Reset", "1795168801000"),
        ]);
        let r = parse_quota_headers(&h);
        let req = r.requests.unwrap();
        assert_eq!((req.limit, req.remaining), (2500, 2499));
        assert_eq!(req.reset_at.unwrap().timestamp_millis(), 1_795_168_800_000);
        assert_eq!(r.complexity.unwrap().limit, 3_000_000);
        assert_eq!(r.cost, Some(12));
        let s = r.samples(Utc::now());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].kind, QuotaKind::Requests);
        assert_eq!(s[1].kind, QuotaKind::Complexity);
    }

    #[test]
    fn missing_headers_give_nothing() {
        let r = parse_quota_headers(&headers(&[("X-RateLimit-Requests-Limit", "abc")]));
        assert_eq!(r, QuotaReading::default());
    }

    #[test]
    fn wait_until_exhausted_bucket_resets() {
        let now = Utc.timestamp_millis_opt(1_000_000).unwrap();
        let h = headers(&[
            ("X-RateLimit-Requests-Limit", "100"),
            ("X-RateLimit-Requests-Remaining", "0"),
            ("X-RateLimit-Requests-Reset", "1030000"),
            ("X-RateLimit-Complexity-Limit", "100"),
            ("X-RateLimit-Complexity-Remaining", "50"),
            ("X-RateLimit-Complexity-Reset", "1090000"),
            ("Retry-After", "5"),
        ]);
        let r = parse_quota_headers(&h);
        assert_eq!(r.rate_limit_wait(&h, now), Some(Duration::from_secs(30)));
        let only_retry = headers(&[("Retry-After", "7")]);
        assert_eq!(
            parse_quota_headers(&only_retry).rate_limit_wait(&only_retry, now),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn log_keeps_latest_and_drains() {
        let log = QuotaLog::default();
        let h = headers(&[
            ("X-RateLimit-Requests-Limit", "10"),
            ("X-RateLimit-Requests-Remaining", "9"),
        ]);
        log.record(&parse_quota_headers(&h), Utc::now());
        let h2 = headers(&[("X-Complexity", "3")]);
        log.record(&parse_quota_headers(&h2), Utc::now());
        let snap = log.latest().unwrap();
        assert_eq!(snap.requests.unwrap().remaining, 9);
        assert_eq!(snap.last_cost, Some(3));
        let taken = log.take_with_cost();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].1, None, "the request sample came without a cost");
        assert!(log.take().is_empty());
    }
}
