//! The transport: every call goes to `<site>/api/v1/<path>` with
//! `Authorization: Bearer <key>` and both `Accept` and `Content-Type` set to
//! `application/json` (Fider refuses writes without them, and answers
//! errors as `{}` instead of an HTML page only when it sees them).
//! Failures are sorted into error classes here, once.

use std::sync::{Mutex, RwLock};
use std::time::Duration;

use chrono::Utc;
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::FiderConfig;
use super::wire::ErrorBody;
use crate::domain::{ErrorClass, QuotaKind, QuotaSample, RemoteError, Side};

/// Keep at most this many unread quota samples.
const MAX_SAMPLES: usize = 1_000;

/// HTTP client bound to one Fider site.
pub(crate) struct Client {
    http: reqwest::Client,
    api: String,
    /// Replaceable: a SIGHUP re-reads it without a restart.
    api_key: RwLock<String>,
    quota: Mutex<Vec<QuotaSample>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Client {
    /// Build the HTTP client with the configured timeout. Redirects are not
    /// followed: an API call redirected elsewhere (a sign-in page) is an
    /// error, not an answer.
    pub fn new(cfg: &FiderConfig) -> Result<Client, RemoteError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                RemoteError::new(
                    ErrorClass::Network,
                    format!("could not build HTTP client: {e}"),
                )
            })?;
        Ok(Client {
            http,
            api: format!("{}/api/v1", cfg.site()),
            api_key: RwLock::new(cfg.api_key.clone()),
            quota: Mutex::new(Vec::new()),
        })
    }

    /// Use a new API key from now on.
    pub fn set_api_key(&self, key: &str) {
        *self.api_key.write().unwrap_or_else(|p| p.into_inner()) = key.to_string();
    }

    fn api_key(&self) -> String {
        self.api_key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `GET <path>?<query>`, decoded.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, RemoteError> {
        let what = format!("GET {path}");
        let body = self.once(Method::GET, path, query, None, &what).await?;
        decode(&what, &body)
    }

    /// A write (`POST`, `PUT`, `DELETE`) with a JSON body, decoded.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Value,
    ) -> Result<T, RemoteError> {
        let what = format!("{method} {path}");
        let bytes = self.once(method, path, &[], Some(&body), &what).await?;
        decode(&what, &bytes)
    }

    async fn once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Vec<u8>, RemoteError> {
        let url = format!("{}{path}", self.api);
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(self.api_key())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| transport(what, &e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport(what, &e).with_status(status))?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let err = classify(status, &bytes, what).with_status(status);
        if status == 429 {
            let wait = crate::connector::retry_after(&headers, Utc::now())
                .unwrap_or(Duration::from_secs(1));
            let now = Utc::now();
            let mut q = lock(&self.quota);
            if q.len() >= MAX_SAMPLES {
                q.remove(0);
            }
            q.push(QuotaSample {
                connector: Side::Portal,
                kind: QuotaKind::RequestsPerSecond,
                limit: 0,
                remaining: 0,
                reset_at: chrono::Duration::from_std(wait).ok().map(|d| now + d),
                sampled_at: now,
            });
            return Err(err.with_retry_after(wait));
        }
        Err(err)
    }

    /// Drain quota samples gathered since the last call.
    pub fn take_quota_samples(&self) -> Vec<QuotaSample> {
        std::mem::take(&mut *lock(&self.quota))
    }
}

fn transport(what: &str, e: &reqwest::Error) -> RemoteError {
    let class = if e.is_timeout() {
        ErrorClass::Timeout
    } else {
        ErrorClass::Network
    };
    // The key travels in a header; reqwest's message names only the URL.
    RemoteError::new(class, format!("Fider {what}: {e}"))
}

/// Decode a 2xx body: one that is not JSON (an HTML page from a proxy, a
/// truncated answer) or JSON of another shape is a change of Fider's shape.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, RemoteError> {
    serde_json::from_slice(body).map_err(|e| {
        let detail = match e.classify() {
            serde_json::error::Category::Data => e.to_string(),
            _ if e.is_eof() => "the body ends early (truncated)".to_string(),
            _ => "the body is not JSON (an HTML error page?)".to_string(),
        };
        RemoteError::new(
            ErrorClass::Schema,
            format!("API response shape changed: Fider {what}: {detail}"),
        )
    })
}

/// Fider's validation messages, `field: message` joined by "; ".
fn messages(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let items: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| match e.field.as_deref().filter(|f| !f.is_empty()) {
            Some(f) => format!("{f}: {}", e.message),
            None => e.message.clone(),
        })
        .collect();
    (!items.is_empty()).then(|| items.join("; "))
}

/// Sort a non-2xx answer into an error class. Fider answers a key that is
/// unknown or whose user is neither collaborator nor administrator with 400
/// "API Key is invalid"; a 403 on a write means the key's role may not do
/// it (Fider's CSRF 403 cannot happen: the JSON headers are always sent).
pub(crate) fn classify(status: u16, body: &[u8], what: &str) -> RemoteError {
    let said = messages(body);
    let text = said.clone().unwrap_or_else(|| format!("HTTP {status}"));
    let auth = said
        .as_deref()
        .is_some_and(|m| m.contains("API Key is invalid") || m.contains("allowed to impersonate"));
    let (class, message) = match status {
        429 => (ErrorClass::RateLimited, text),
        400 if auth => (
            ErrorClass::Auth,
            format!(
                "{text} (the key is unknown, or its user is neither a collaborator nor an administrator)"
            ),
        ),
        401 => (
            ErrorClass::Auth,
            "Fider refused the API key's user (blocked, or not signed in)".to_string(),
        ),
        403 => (
            ErrorClass::Validation,
            "the API key's user may not do this (deleting posts and creating tags need an administrator's key)"
                .to_string(),
        ),
        404 => (ErrorClass::NotFound, "not found".to_string()),
        500..=599 => (ErrorClass::Server, text),
        _ => (ErrorClass::Validation, text),
    };
    RemoteError::new(class, format!("Fider {what}: {message}"))
}

/// Whether a validation failure is Fider refusing a title.
pub(crate) fn title_refused(e: &RemoteError) -> bool {
    e.class == ErrorClass::Validation && e.message.contains("title: ")
}

/// Whether Fider refused a title because another post's slug is the same.
pub(crate) fn slug_taken(e: &RemoteError) -> bool {
    title_refused(e) && e.message.contains("already been posted")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn classifies_fider_answers() {
        let invalid_key = body(json!({"errors":[{"message":"API Key is invalid"}]}));
        assert_eq!(
            classify(400, &invalid_key, "GET /posts").class,
            ErrorClass::Auth
        );
        let short = body(
            json!({"errors":[{"field":"title","message":"Title needs to be more descriptive."}]}),
        );
        let e = classify(400, &short, "POST /posts");
        assert_eq!(e.class, ErrorClass::Validation);
        assert!(e.message.contains("title: Title needs"), "{}", e.message);
        assert!(title_refused(&e) && !slug_taken(&e));
        let taken = body(
            json!({"errors":[{"field":"title","message":"This has already been posted before."}]}),
        );
        assert!(slug_taken(&classify(400, &taken, "POST /posts")));
        assert_eq!(classify(401, b"{}", "x").class, ErrorClass::Auth);
        assert_eq!(classify(403, b"{}", "x").class, ErrorClass::Validation);
        assert_eq!(classify(404, b"{}", "x").class, ErrorClass::NotFound);
        assert_eq!(classify(502, b"<html>", "x").class, ErrorClass::Server);
        assert_eq!(classify(429, b"", "x").class, ErrorClass::RateLimited);
    }

    #[test]
    fn non_json_success_is_a_shape_change() {
        let e = decode::<Value>("GET /posts", b"<html>").unwrap_err();
        assert_eq!(e.class, ErrorClass::Schema);
        assert!(e.message.starts_with("API response shape changed: Fider"));
        let e = decode::<Value>("GET /posts", b"[{\"a\":").unwrap_err();
        assert!(e.message.contains("truncated"), "{}", e.message);
    }
}
