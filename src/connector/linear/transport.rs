//! The one place that talks HTTP to Linear: POSTs a document, records the
//! quota headers of every answer (success or not), and turns transport
//! failures into network/timeout errors. GraphQL-level verdicts are left to
//! the caller, because a batch reads errors per alias while a single call
//! fails on any error.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::Utc;
use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::classify::{self, GqlBody, ResponseMeta};
use super::config::LinearConfig;
use super::quota::{QuotaLog, parse_quota_headers};
use crate::auth::{TokenError, TokenManager};
use crate::config::Secret;
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

/// Where the `Authorization` header comes from.
enum Credential {
    /// An API key or fixed token; replaceable when secrets are re-read.
    Fixed(RwLock<HeaderValue>),
    /// The current OAuth access token, refreshed when due or refused.
    OAuth(Arc<TokenManager>),
}

/// A header value that is masked in any debug output of the request.
fn sensitive(text: &str) -> Result<HeaderValue, SetupError> {
    let mut v = HeaderValue::from_str(text).map_err(|_| SetupError::BadCredential)?;
    v.set_sensitive(true);
    Ok(v)
}

/// A token problem as the engine sees it: operator action needed → `auth`
/// (the connector pauses and the message, naming the command to run, is the
/// alert); the token endpoint unreachable → `network` (retried).
fn token_error(e: TokenError) -> RemoteError {
    match e {
        TokenError::NeedsOperator(m) => RemoteError::new(ErrorClass::Auth, m),
        TokenError::Unavailable(m) => RemoteError::new(ErrorClass::Network, m),
    }
}

/// HTTP client bound to one endpoint and credential.
pub struct Transport {
    http: reqwest::Client,
    url: String,
    credential: Credential,
    /// Quota readings of every answer.
    pub quota: QuotaLog,
}

impl Transport {
    /// Build the client. No request is made: an OAuth token is fetched (or
    /// refreshed) on the first call.
    pub fn new(config: &LinearConfig) -> Result<Self, SetupError> {
        let credential = match &config.oauth {
            Some(m) => Credential::OAuth(m.clone()),
            None => Credential::Fixed(RwLock::new(sensitive(
                &config.auth.header_value(&config.credential),
            )?)),
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("roundtrip/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError::Client(e.without_url().to_string()))?;
        Ok(Transport {
            http,
            url: config.api_url.clone(),
            credential,
            quota: QuotaLog::default(),
        })
    }

    /// Replace a fixed credential (API key rotation on SIGHUP). OAuth
    /// tokens are not replaced here: they come from the token file.
    pub fn set_credential(
        &self,
        auth: super::LinearAuth,
        credential: &str,
    ) -> Result<(), SetupError> {
        if let Credential::Fixed(h) = &self.credential {
            let v = sensitive(&auth.header_value(credential))?;
            *h.write().unwrap_or_else(|p| p.into_inner()) = v;
        }
        Ok(())
    }

    /// The header to send, and for OAuth the token in it.
    async fn authorization(&self) -> Result<(HeaderValue, Option<Secret>), RemoteError> {
        match &self.credential {
            Credential::Fixed(h) => Ok((h.read().unwrap_or_else(|p| p.into_inner()).clone(), None)),
            Credential::OAuth(m) => {
                let token = m.access_token().await.map_err(token_error)?;
                Ok((bearer(&token)?, Some(token)))
            }
        }
    }

    /// POST one document and return whatever Linear answered. With OAuth, an
    /// answer saying the token is not valid (401 or AUTHENTICATION_ERROR;
    /// Linear sends either) is followed by one refresh and one resend.
    pub async fn post(&self, query: &str, variables: Value) -> Result<Answer, RemoteError> {
        let (header, token) = self.authorization().await?;
        let answer = self.send(query, &variables, header).await?;
        let (Credential::OAuth(m), Some(used)) = (&self.credential, token) else {
            return Ok(answer);
        };
        if !unauthenticated(&answer) {
            return Ok(answer);
        }
        tracing::info!("Linear refused the OAuth access token; refreshing it");
        let fresh = m.rejected(&used).await.map_err(token_error)?;
        let answer = self.send(query, &variables, bearer(&fresh)?).await?;
        if unauthenticated(&answer) {
            return Err(RemoteError::new(
                ErrorClass::Auth,
                format!(
                    "Linear refused a freshly refreshed OAuth token; run `{}`",
                    m.reauth_command()
                ),
            )
            .with_status(answer.meta.status));
        }
        Ok(answer)
    }

    async fn send(
        &self,
        query: &str,
        variables: &Value,
        authorization: HeaderValue,
    ) -> Result<Answer, RemoteError> {
        let started = Instant::now();
        let response = self
            .http
            .post(&self.url)
            .header(http::header::AUTHORIZATION, authorization)
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

fn bearer(token: &Secret) -> Result<HeaderValue, RemoteError> {
    sensitive(&format!("Bearer {}", token.expose())).map_err(|_| {
        RemoteError::new(
            ErrorClass::Auth,
            "the Linear OAuth token file holds a token that is not a valid HTTP header value",
        )
    })
}

/// Whether Linear said the credential is not (or no longer) valid.
fn unauthenticated(a: &Answer) -> bool {
    a.meta.status == 401
        || a.body
            .as_ref()
            .is_some_and(|b| b.errors.iter().any(classify::GqlError::is_unauthenticated))
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
