//! Sorting Linear's answers into roundtrip's error classes (DESIGN.md section
//! 7, API-NOTES section 2). Linear reports most failures as GraphQL errors
//! with `extensions.code`/`type`/`statusCode`, and the HTTP status is not
//! reliable on its own (RATELIMITED arrives as 400), so the class is decided
//! by code, then type, then status. Pure functions, so the rules are tested
//! without a server.

use std::time::Duration;

use serde_json::Value;

use crate::domain::{ErrorClass, RemoteError};

/// One entry of a GraphQL `errors` array, reduced to what classification and
/// per-alias batching need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GqlError {
    /// Linear's message, kept verbatim for the operator.
    pub message: String,
    /// First element of `path`: the root field or batch alias that failed.
    pub alias: Option<String>,
    /// `extensions.code`, e.g. "RATELIMITED", "INPUT_ERROR".
    pub code: Option<String>,
    /// `extensions.type`, e.g. "ratelimited", "invalid input".
    pub kind: Option<String>,
    /// `extensions.statusCode`, the status Linear meant.
    pub status_code: Option<u16>,
}

/// The `data` and `errors` of a GraphQL response body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GqlBody {
    /// `data`, `None` when absent or null.
    pub data: Option<Value>,
    /// `errors`, empty when absent.
    pub errors: Vec<GqlError>,
}

/// What the HTTP exchange said besides the body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResponseMeta {
    /// HTTP status code.
    pub status: u16,
    /// A request id from the response headers, for support tickets.
    pub request_id: Option<String>,
    /// How long to wait if this turns out to be a rate-limit answer.
    pub rate_limit_wait: Option<Duration>,
}

impl GqlError {
    /// Read one error object; tolerant of missing parts.
    pub fn from_json(v: &Value) -> GqlError {
        let ext = v.get("extensions");
        let text = |x: Option<&Value>| x.and_then(Value::as_str).map(str::to_string);
        GqlError {
            message: text(v.get("message")).unwrap_or_else(|| "unknown GraphQL error".into()),
            alias: v
                .get("path")
                .and_then(|p| p.get(0))
                .and_then(Value::as_str)
                .map(str::to_string),
            code: text(ext.and_then(|e| e.get("code"))),
            kind: text(ext.and_then(|e| e.get("type"))),
            status_code: ext
                .and_then(|e| e.get("statusCode"))
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok()),
        }
    }

    fn code_is(&self, code: &str) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(code))
    }

    fn kind_is(&self, kind: &str) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    }

    /// The class this error alone would put a request in.
    pub fn class(&self) -> ErrorClass {
        if self.code_is("RATELIMITED")
            || self.kind_is("ratelimited")
            || self.status_code == Some(429)
        {
            ErrorClass::RateLimited
        } else if self.code_is("AUTHENTICATION_ERROR")
            || self.code_is("FORBIDDEN")
            || self.kind_is("authentication error")
            || self.kind_is("forbidden")
            || matches!(self.status_code, Some(401 | 403))
        {
            ErrorClass::Auth
        } else if self.code_is("INTERNAL_SERVER_ERROR")
            || self.kind_is("internal error")
            || self.kind_is("lock timeout")
            || self.status_code.is_some_and(|s| s >= 500)
        {
            ErrorClass::Server
        } else if self.is_issue_not_found() {
            ErrorClass::NotFound
        } else {
            ErrorClass::Validation
        }
    }

    /// "Entity not found" about an issue (or about nothing named). A missing
    /// workflow state or label stays a validation error: treating it as
    /// not-found would make the engine think the issue itself was deleted.
    fn is_issue_not_found(&self) -> bool {
        let Some(pos) = self.message.find("Entity not found") else {
            return false;
        };
        let rest = self.message[pos + "Entity not found".len()..]
            .trim_start_matches(':')
            .trim();
        let entity = rest
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("");
        entity.is_empty() || entity.eq_ignore_ascii_case("issue")
    }

    /// Whether Linear said the credential is not (or no longer) valid, as
    /// opposed to forbidden: the answer an expired or revoked OAuth token
    /// gets, after which a refresh may help.
    pub fn is_unauthenticated(&self) -> bool {
        self.code_is("AUTHENTICATION_ERROR")
            || self.kind_is("authentication error")
            || self.status_code == Some(401)
    }

    /// Linear's answer to a second `issueCreate` with the same client id.
    pub fn is_already_exists(&self) -> bool {
        self.message.to_ascii_lowercase().contains("already exists")
    }
}

/// Parse a response body; `None` when it is not a GraphQL JSON object.
pub fn parse_body(bytes: &[u8]) -> Option<GqlBody> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let obj = v.as_object()?;
    if !obj.contains_key("data") && !obj.contains_key("errors") {
        return None;
    }
    let data = obj.get("data").filter(|d| !d.is_null()).cloned();
    let errors = obj
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(GqlError::from_json).collect())
        .unwrap_or_default();
    Some(GqlBody { data, errors })
}

/// The class of a set of errors answered with `status`. Rate limiting and
/// auth win over everything (they stop all traffic); then the status decides
/// for 401/403/429/5xx; a request is not-found only if every error says so.
pub fn class_of(errors: &[GqlError], status: u16) -> ErrorClass {
    let classes: Vec<ErrorClass> = errors.iter().map(GqlError::class).collect();
    if classes.contains(&ErrorClass::RateLimited) {
        ErrorClass::RateLimited
    } else if classes.contains(&ErrorClass::Auth) || matches!(status, 401 | 403) {
        ErrorClass::Auth
    } else if status == 429 {
        ErrorClass::RateLimited
    } else if status >= 500 || classes.contains(&ErrorClass::Server) {
        ErrorClass::Server
    } else if !classes.is_empty() && classes.iter().all(|c| *c == ErrorClass::NotFound) {
        ErrorClass::NotFound
    } else if classes.is_empty() && (200..300).contains(&status) {
        // A 2xx without data or errors (an HTML page from a proxy, a
        // truncated body, `data: null` alone) is not the shape Linear
        // answers in: not our mistake, and not a plain outage either.
        ErrorClass::Schema
    } else {
        ErrorClass::Validation
    }
}

/// Build the [`RemoteError`] for errors answered with `meta`.
pub fn remote_error(errors: &[GqlError], meta: &ResponseMeta, fallback: &str) -> RemoteError {
    remote_error_with_status(errors, meta, meta.status, fallback)
}

/// Like [`remote_error`], but classifying as if answered with `status` (used
/// per alias inside an otherwise successful batch answer).
pub fn remote_error_with_status(
    errors: &[GqlError],
    meta: &ResponseMeta,
    status: u16,
    fallback: &str,
) -> RemoteError {
    let class = class_of(errors, status);
    let message = if errors.is_empty() && class == ErrorClass::Schema {
        format!(
            "API response shape changed: Linear answered HTTP {status} without a GraphQL body (an HTML page or a truncated answer?)"
        )
    } else if errors.is_empty() {
        fallback.to_string()
    } else {
        errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut err = RemoteError::new(class, message).with_status(meta.status);
    err.request_id = meta.request_id.clone();
    if class == ErrorClass::RateLimited {
        err.retry_after = meta.rate_limit_wait;
    }
    err
}

/// The whole-response verdict for a single operation: its `data`, or the
/// classified error if anything at all went wrong.
pub fn strict(meta: &ResponseMeta, body: Option<GqlBody>) -> Result<Value, RemoteError> {
    let fallback = format!("HTTP {} from Linear without a GraphQL answer", meta.status);
    match body {
        Some(GqlBody {
            data: Some(data),
            errors,
        }) if errors.is_empty() && (200..300).contains(&meta.status) => Ok(data),
        Some(body) => Err(remote_error(&body.errors, meta, &fallback)),
        None => Err(remote_error(&[], meta, &fallback)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(status: u16) -> ResponseMeta {
        ResponseMeta {
            status,
            request_id: Some("req-1".into()),
            rate_limit_wait: Some(Duration::from_secs(30)),
        }
    }

    fn body(v: Value) -> Option<GqlBody> {
        parse_body(v.to_string().as_bytes())
    }

    #[test]
    fn ratelimited_with_400_is_rate_limited() {
        let b = body(
            json!({"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED","type":"ratelimited","statusCode":429}}]}),
        );
        let e = strict(&meta(400), b).unwrap_err();
        assert_eq!(e.class, ErrorClass::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(e.http_status, Some(400));
        assert_eq!(e.request_id.as_deref(), Some("req-1"));
        // type alone and 200 also count
        let b = body(
            json!({"data":null,"errors":[{"message":"slow down","extensions":{"type":"ratelimited"}}]}),
        );
        assert_eq!(
            strict(&meta(200), b).unwrap_err().class,
            ErrorClass::RateLimited
        );
        assert_eq!(
            strict(&meta(429), None).unwrap_err().class,
            ErrorClass::RateLimited
        );
    }

    #[test]
    fn auth_by_code_or_status() {
        let b = body(
            json!({"errors":[{"message":"Authentication required, not authenticated","extensions":{"code":"AUTHENTICATION_ERROR","type":"authentication error","statusCode":401}}]}),
        );
        let e = strict(&meta(400), b).unwrap_err();
        assert_eq!(e.class, ErrorClass::Auth);
        assert_eq!(e.retry_after, None);
        assert_eq!(
            strict(&meta(401), None).unwrap_err().class,
            ErrorClass::Auth
        );
        assert_eq!(
            strict(&meta(403), None).unwrap_err().class,
            ErrorClass::Auth
        );
    }

    #[test]
    fn server_and_validation_and_not_found() {
        assert_eq!(
            strict(&meta(502), None).unwrap_err().class,
            ErrorClass::Server
        );
        let b = body(
            json!({"errors":[{"message":"Argument Validation Error","extensions":{"code":"INPUT_ERROR","type":"invalid input"}}]}),
        );
        let e = strict(&meta(200), b).unwrap_err();
        assert_eq!(e.class, ErrorClass::Validation);
        assert_eq!(e.message, "Argument Validation Error");
        let b = body(
            json!({"data":null,"errors":[{"message":"Entity not found: Issue","path":["issue"],"extensions":{"code":"INPUT_ERROR"}}]}),
        );
        assert_eq!(
            strict(&meta(200), b).unwrap_err().class,
            ErrorClass::NotFound
        );
        let b = body(
            json!({"errors":[{"message":"Entity not found: WorkflowState","extensions":{"code":"INPUT_ERROR"}}]}),
        );
        assert_eq!(
            strict(&meta(400), b).unwrap_err().class,
            ErrorClass::Validation
        );
    }

    #[test]
    fn not_json_or_empty_is_not_success() {
        assert!(parse_body(b"<html>").is_none());
        assert!(parse_body(b"{}").is_none());
        let e = strict(&meta(200), body(json!({"data":null}))).unwrap_err();
        assert_eq!(e.class, ErrorClass::Schema);
        assert!(e.message.contains("shape changed"), "{}", e.message);
        let html = strict(&meta(200), parse_body(b"<html>proxy</html>")).unwrap_err();
        assert_eq!(html.class, ErrorClass::Schema);
        assert_eq!(
            strict(&meta(502), parse_body(b"<html>bad gateway</html>"))
                .unwrap_err()
                .class,
            ErrorClass::Server
        );
        assert_eq!(
            strict(&meta(200), body(json!({"data":{"a":1}}))).unwrap(),
            json!({"a":1})
        );
    }

    #[test]
    fn alias_and_already_exists_are_read() {
        let e = GqlError::from_json(
            &json!({"message":"Entity Issue with id 1 already exists.","path":["c3","issue"]}),
        );
        assert_eq!(e.alias.as_deref(), Some("c3"));
        assert!(e.is_already_exists());
    }
}
