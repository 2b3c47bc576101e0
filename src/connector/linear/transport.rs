//! The one place that talks HTTP to Linear: POSTs a document, records the
//! quota headers of every answer (success or not), and turns transport
//! failures into network/timeout errors. GraphQL-level verdicts are left to
//! the caller, because a batch reads errors per alias while a single call
//! fails on any error.

use std::time::Instant;

use chrono::Utc;
use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::classify::{self, GqlBody, ResponseMeta};
use super::config::LinearConfig;
use super::quota::{QuotaLog, parse_quota_headers};
use crate::domain::{ErrorClass, RemoteError};

/// Headers that may carry a request id, most specific first.
const REQUEST_ID_HEADERS: &[&str] = &[
    "x-linear-request-id",
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "cf-ray",
];

/// Why the connector could not be built. Never contains the credential.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The credential has characters an HTTP header cannot carry.
    #[error("the Linear credential is not a valid HTTP header value")]
    BadCredential,
    /// The HTTP client could not be initialised (TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A raw answer: status, request id, rate-limit wait, parsed body if any.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status, request id and rate-limit wait.
    pub meta: ResponseMeta,
    /// The GraphQL body, `None` when it was not GraphQL JSON.
    pub body: Option<GqlBody>,
}

impl Answer {
    /// `data` if the call fully succeeded, otherwise the classified error.
    pub fn strict(self) -> Result<Value, RemoteError> {
        classify::strict(&self.meta, self.body)
    }
}

/// HTTP client bound to one endpoint and credential.
pub struct Transport {
    http: reqwest::Client,
    url: String,
    authorization: HeaderValue,
    /// Quota readings of every answer.
    pub quota: QuotaLog,
}

impl Transport {
    /// Build the client; the credential goes into a sensitive header value
    /// so it is masked in any debug output of the request.
    pub fn new(config: &LinearConfig) -> Result<Self, SetupError> {
        let mut authorization =
            HeaderValue::from_str(&config.auth.header_value(&config.credential))
                .map_err(|_| SetupError::BadCredential)?;
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("roundtrip/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError::Client(e.without_url().to_string()))?;
        Ok(Transport {
            http,
            url: config.api_url.clone(),
            authorization,
            quota: QuotaLog::default(),
        })
    }

    /// POST one document and return whatever Linear answered.
    pub async fn post(&self, query: &str, variables: Value) -> Result<Answer, RemoteError> {
        let started = Instant::now();
        let response = self
            .http
            .post(&self.url)
            .header(http::header::AUTHORIZATION, self.authorization.clone())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let now = Utc::now();
        let reading = parse_quota_headers(&headers);
        self.quota.record(&reading, now);
        let meta = ResponseMeta {
            status,
            request_id: request_id(&headers),
            rate_limit_wait: reading.rate_limit_wait(&headers, now),
        };
        let bytes = response.bytes().await.map_err(|e| {
            let mut err = transport_error(e).with_status(status);
            err.request_id = meta.request_id.clone();
            err
        })?;
        tracing::debug!(
            operation = operation_name(query),
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "linear request"
        );
        Ok(Answer {
            body: classify::parse_body(&bytes),
            meta,
        })
    }

    /// POST and demand full success: `data`, or the classified error.
    pub async fn request(&self, query: &str, variables: Value) -> Result<Value, RemoteError> {
        self.post(query, variables).await?.strict()
    }
}

/// Network and timeout failures. The URL is dropped from the message (it may
/// carry userinfo); reqwest never includes header values.
fn transport_error(e: reqwest::Error) -> RemoteError {
    let class = if e.is_timeout() {
        ErrorClass::Timeout
    } else {
        ErrorClass::Network
    };
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    RemoteError::new(class, format!("Linear request failed: {text}"))
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok())
        .map(str::to_string)
}

/// The operation name of a document, for logs (never variables: they hold
/// customer text).
fn operation_name(query: &str) -> &str {
    query
        .split(['(', '{'])
        .next()
        .and_then(|head| head.split_whitespace().nth(1))
        .unwrap_or("anonymous")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_for_logs() {
        assert_eq!(
            operation_name("query RoundtripViewer { viewer { id } }"),
            "RoundtripViewer"
        );
        assert_eq!(
            operation_name("mutation RoundtripIssueUpdate($id: String!) { x }"),
            "RoundtripIssueUpdate"
        );
        assert_eq!(operation_name("{ viewer { id } }"), "anonymous");
    }

    #[test]
    fn bad_credential_is_reported_without_its_text() {
        let c = LinearConfig::new("bad\nkey-SECRET", "ENG", "s");
        let err = Transport::new(&c).err().unwrap();
        assert!(!err.to_string().contains("SECRET"));
    }
}
