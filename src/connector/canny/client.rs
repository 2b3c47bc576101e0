//! The transport: every Canny call is a POST of a JSON body carrying
//! `apiKey` to `<api_url>/<resource>/<verb>`. Failures are sorted into error
//! classes here, once, so the rest of the connector only sees `RemoteError`.
//! Short 429s are waited out in place (Canny did not process the request,
//! so repeating it is safe even for writes).

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::config::CannyConfig;
use crate::domain::{ErrorClass, QuotaKind, QuotaSample, RemoteError, Side};

/// HTTP client bound to one Canny company.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    base_v2: String,
    /// Replaceable: a SIGHUP re-reads it without a restart.
    api_key: std::sync::RwLock<String>,
    max_inline_wait: Duration,
    retries: u32,
    plan_limit: Option<i64>,
    quota: Mutex<Vec<QuotaSample>>,
}

/// Keep at most this many unread quota samples.
const MAX_SAMPLES: usize = 1_000;

impl Client {
    /// Build the HTTP client with the configured timeout.
    pub fn new(cfg: &CannyConfig) -> Result<Client, RemoteError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                RemoteError::new(
                    ErrorClass::Network,
                    format!("could not build HTTP client: {e}"),
                )
            })?;
        let base = cfg.api_url.trim_end_matches('/').to_string();
        let base_v2 = match base.strip_suffix("/v1") {
            Some(root) => format!("{root}/v2"),
            None => format!("{base}/v2"),
        };
        Ok(Client {
            http,
            base,
            base_v2,
            api_key: std::sync::RwLock::new(cfg.api_key.clone()),
            max_inline_wait: cfg.max_inline_wait,
            retries: cfg.rate_limit_retries,
            plan_limit: cfg.plan_limit_per_second,
            quota: Mutex::new(Vec::new()),
        })
    }

    /// Call an endpoint and decode the reply.
    ///
    /// The body is decoded straight into `T`, not through a `Value` tree
    /// first: a 1,000-post page is about 1 MB of JSON, and building then
    /// converting the tree doubled the decoding cost of a reconcile.
    pub async fn call<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        args: Value,
    ) -> Result<T, RemoteError> {
        let (status, body) = self.call_body(&self.base, endpoint, args).await?;
        decode(endpoint, status, &body)
    }

    /// Call a v2 (cursor-paged) endpoint and decode the reply.
    pub async fn call_v2<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        args: Value,
    ) -> Result<T, RemoteError> {
        let (status, body) = self.call_body(&self.base_v2, endpoint, args).await?;
        decode(&format!("v2 {endpoint}"), status, &body)
    }

    /// Call an endpoint, waiting out short rate limits; the reply as JSON.
    pub async fn call_value(&self, endpoint: &str, args: Value) -> Result<Value, RemoteError> {
        let (status, body) = self.call_body(&self.base, endpoint, args).await?;
        serde_json::from_slice(&body).map_err(|e| not_json(endpoint, status, &e))
    }

    /// Call an endpoint, waiting out short rate limits; the status and the
    /// raw body of the 2xx reply.
    async fn call_body(
        &self,
        base: &str,
        endpoint: &str,
        args: Value,
    ) -> Result<(u16, Vec<u8>), RemoteError> {
        let mut attempt = 0;
        loop {
            match self.once(base, endpoint, &args).await {
                Err(e)
                    if e.class == ErrorClass::RateLimited
                        && attempt < self.retries
                        && e.retry_after.unwrap_or(Duration::from_secs(1))
                            <= self.max_inline_wait =>
                {
                    attempt += 1;
                    let wait = e.retry_after.unwrap_or(Duration::from_secs(1));
                    tracing::debug!(
                        endpoint,
                        wait_ms = wait.as_millis() as u64,
                        "canny rate limited; waiting"
                    );
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// Drain quota samples gathered since the last call.
    pub fn take_quota_samples(&self) -> Vec<QuotaSample> {
        match self.quota.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    fn record_quota(&self, sample: QuotaSample) {
        let mut q = match self.quota.lock() {
            Ok(q) => q,
            Err(p) => p.into_inner(),
        };
        if q.len() >= MAX_SAMPLES {
            q.remove(0);
        }
        q.push(sample);
    }

    /// The API key in use (also the webhook signing key).
    pub fn api_key(&self) -> String {
        self.api_key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Use a new API key from now on.
    pub fn set_api_key(&self, key: &str) {
        *self.api_key.write().unwrap_or_else(|p| p.into_inner()) = key.to_string();
    }

    /// Remove the key from any text that might echo it (belt and braces:
    /// Canny's messages do not, but a proxy's might).
    fn scrub(&self, text: &str) -> String {
        let key = self.api_key();
        if key.is_empty() {
            text.to_string()
        } else {
            text.replace(&key, "[redacted]")
        }
    }

    async fn once(
        &self,
        base: &str,
        endpoint: &str,
        args: &Value,
    ) -> Result<(u16, Vec<u8>), RemoteError> {
        let mut body = match args {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        body.insert("apiKey".into(), Value::String(self.api_key()));
        let url = format!("{base}/{endpoint}");
        let sent = self.http.post(&url).json(&Value::Object(body)).send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(endpoint, &e)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(self.transport_error(endpoint, &e).with_status(status)),
        };
        self.sample_headers(&headers);
        if (200..300).contains(&status) {
            return Ok((status, bytes.to_vec()));
        }
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .map(|s| self.scrub(s))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let err = classify(status, &message, endpoint).with_status(status);
        if status == 429 {
            let wait = retry_after(&headers, Utc::now()).unwrap_or(Duration::from_secs(1));
            // Canny sends no limit headers: the answer says "wait", not how
            // big the quota is. Only a configured plan limit becomes a
            // reading; an unknown limit is no reading at all (never a quota
            // of zero, which would never refill).
            if let Some(limit) = self.plan_limit.filter(|l| *l > 0) {
                let now = Utc::now();
                self.record_quota(QuotaSample {
                    connector: Side::Portal,
                    kind: QuotaKind::RequestsPerSecond,
                    limit,
                    remaining: 0,
                    reset_at: chrono::Duration::from_std(wait).ok().map(|d| now + d),
                    sampled_at: now,
                });
            }
            return Err(err.with_retry_after(wait));
        }
        Err(err)
    }

    fn transport_error(&self, endpoint: &str, e: &reqwest::Error) -> RemoteError {
        let class = if e.is_timeout() {
            ErrorClass::Timeout
        } else {
            ErrorClass::Network
        };
        // reqwest's message names the URL, which carries no secret (the key
        // travels in the body); scrub anyway.
        RemoteError::new(class, self.scrub(&format!("{endpoint}: {e}")))
    }

    /// Canny documents no quota headers; if the common `X-RateLimit-*` trio
    /// ever appears, record it.
    fn sample_headers(&self, headers: &HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<i64>().ok())
        };
        if let (Some(limit), Some(remaining)) =
            (num("x-ratelimit-limit"), num("x-ratelimit-remaining"))
        {
            let now = Utc::now();
            self.record_quota(QuotaSample {
                connector: Side::Portal,
                kind: QuotaKind::Requests,
                limit,
                remaining,
                reset_at: num("x-ratelimit-reset").and_then(|s| DateTime::from_timestamp(s, 0)),
                sampled_at: now,
            });
        }
    }
}

/// Decode a 2xx body into `T`: a body that is not JSON (an HTML page from a
/// proxy, a truncated answer) or JSON of another shape is a change of the
/// API's shape, named by endpoint and serde's path to the field.
fn decode<T: DeserializeOwned>(endpoint: &str, status: u16, body: &[u8]) -> Result<T, RemoteError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => RemoteError::new(
            ErrorClass::Schema,
            format!("API response shape changed: Canny {endpoint}: {e}"),
        )
        .with_status(status),
        _ => not_json(endpoint, status, &e),
    })
}

/// A 2xx reply whose body is not JSON at all (or stops early).
fn not_json(endpoint: &str, status: u16, e: &serde_json::Error) -> RemoteError {
    let what = if e.is_eof() {
        "the body ends early (truncated)"
    } else {
        "the body is not JSON (an HTML error page?)"
    };
    RemoteError::new(
        ErrorClass::Schema,
        format!("API response shape changed: Canny {endpoint}: {what}"),
    )
    .with_status(status)
}

/// Sort a non-2xx reply into an error class. Canny answers 400 for nearly
/// everything, so the message decides between auth, not-found and
/// validation.
pub(crate) fn classify(status: u16, message: &str, endpoint: &str) -> RemoteError {
    let lower = message.to_ascii_lowercase();
    let class = match status {
        429 => ErrorClass::RateLimited,
        401 | 403 => ErrorClass::Auth,
        _ if lower.contains("invalid api key") => ErrorClass::Auth,
        404 => ErrorClass::NotFound,
        400..=499 if lower.contains("invalid post id") => ErrorClass::NotFound,
        400..=499 => ErrorClass::Validation,
        500..=599 => ErrorClass::Server,
        _ => ErrorClass::Server,
    };
    RemoteError::new(class, format!("{endpoint}: {message}"))
}

pub(crate) use crate::connector::retry_after;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_canny_errors() {
        assert_eq!(
            classify(400, "invalid api key", "x").class,
            ErrorClass::Auth
        );
        assert_eq!(
            classify(400, "invalid post id", "x").class,
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(400, "invalid title", "x").class,
            ErrorClass::Validation
        );
        assert_eq!(
            classify(429, "slow down", "x").class,
            ErrorClass::RateLimited
        );
        assert_eq!(classify(503, "oops", "x").class, ErrorClass::Server);
        assert!(
            classify(400, "invalid title", "posts/create")
                .message
                .contains("invalid title")
        );
    }

    #[test]
    fn reads_retry_after_in_both_forms() {
        let now = Utc::now();
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(3)));
        let later = (now + chrono::Duration::seconds(5)).to_rfc2822();
        h.insert(http::header::RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h, now).unwrap();
        assert!(d <= Duration::from_secs(5) && d >= Duration::from_secs(4));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }
}
