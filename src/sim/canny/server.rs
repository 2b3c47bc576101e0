//! The simulator's HTTP face: `/api/v1/<resource>/<verb>` and the
//! cursor-paged `/api/v2/<resource>/<verb>` on POST or GET,
//! arguments from JSON, form or query, `apiKey` required in those arguments
//! (a header alone counts as missing), then faults, the per-second limit
//! (429 + `Retry-After` in seconds) and Canny's `{"error"}` replies. A
//! write that was applied may then lose its answer (`lost`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::args::Args;
use super::shared::{Shared, lock};
use crate::sim::drift::{self, DriftKind, Shape};
use crate::sim::faults::{LostAnswer, RequestFault, reset_connection};

/// The router serving Canny's v1 API.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{version}/{resource}/{verb}", any(route))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(shared)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn too_many(seconds: u64) -> Response {
    let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    r
}

async fn route(
    State(shared): State<Arc<Shared>>,
    Path((version, resource, verb)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let version = match version.as_str() {
        "v1" => 1,
        "v2" => 2,
        _ => return error(StatusCode::NOT_FOUND, "not found"),
    };
    let endpoint = format!("{resource}/{verb}");
    handle(shared, version, endpoint, method, uri, headers, body).await
}

/// What Canny's answers carry that clients need; Canny has no enum the
/// client refuses (a status it has not seen is a new custom status), so
/// that kind of drift becomes a field of another type.
const CANNY_SHAPE: Shape = Shape {
    needed: &[
        "posts", "title", "status", "score", "comments", "boards", "users", "items",
    ],
    enum_at: ("", ""),
    unknown_value: "",
};

async fn handle(
    shared: Arc<Shared>,
    version: u8,
    endpoint: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST && method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let counted = if version == 2 {
        format!("v2/{endpoint}")
    } else {
        endpoint.clone()
    };
    shared.count(&counted);
    if let Some(r) = inject_faults(&shared).await {
        return r;
    }
    let over = lock(&shared.limiter).check(Instant::now());
    if let Some(wait) = over {
        shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        return too_many(wait.as_secs_f64().ceil() as u64);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let args = match Args::parse(uri.query(), content_type, &body) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.0),
    };
    if args.str("apiKey").as_deref() != Some(shared.api_key.as_str()) {
        return error(StatusCode::BAD_REQUEST, "invalid api key");
    }
    let outcome = shared.apply_version(version, &endpoint, &args);
    let lose = {
        let mut lost = lock(&shared.lose_next);
        match lost.iter().position(|e| *e == endpoint) {
            Some(i) if version == 1 => {
                lost.remove(i);
                true
            }
            _ => false,
        }
    };
    if lose {
        shared.counters.faults.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(shared.timeout_hang).await;
        return error(StatusCode::GATEWAY_TIMEOUT, "gateway timeout");
    }
    let faults = lock(&shared.faults).clone();
    if matches!(outcome, Some(Ok(_)))
        && is_write(&endpoint)
        && let Some(how) = shared.dice.lost(&faults)
    {
        shared.counters.lost.fetch_add(1, Ordering::Relaxed);
        match how {
            LostAnswer::Reset => return reset_connection(),
            LostAnswer::Withheld => tokio::time::sleep(shared.timeout_hang).await,
        }
    }
    match outcome {
        None => error(StatusCode::NOT_FOUND, "not found"),
        Some(Ok(v)) if shared.dice.chance(faults.drift) => {
            shared.counters.drifted.fetch_add(1, Ordering::Relaxed);
            let d = drift::apply(&v, DriftKind::draw(&shared.dice), &CANNY_SHAPE);
            let mut r = (StatusCode::OK, d.body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(d.content_type),
            );
            r
        }
        Some(Err(e)) => error(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.message,
        ),
        Some(Ok(Value::String(s))) => {
            (StatusCode::OK, axum::Json(Value::String(s))).into_response()
        }
        Some(Ok(v)) => (StatusCode::OK, axum::Json(v)).into_response(),
    }
}

/// Endpoints that change the state (every one but lists and retrieves).
fn is_write(endpoint: &str) -> bool {
    !(endpoint.ends_with("/list") || endpoint.ends_with("/retrieve"))
}

/// Latency, timeouts, 5xx and 429 drawn from the seeded die.
async fn inject_faults(shared: &Shared) -> Option<Response> {
    let faults = lock(&shared.faults).clone();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    match shared.dice.request_fault(&faults)? {
        RequestFault::Timeout => {
            shared.counters.faults.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(shared.timeout_hang).await;
            Some(error(StatusCode::GATEWAY_TIMEOUT, "gateway timeout"))
        }
        RequestFault::ServerError => {
            shared.counters.faults.fetch_add(1, Ordering::Relaxed);
            let status = [
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
            ][shared.dice.below(3)];
            Some(error(status, "internal server error"))
        }
        RequestFault::RateLimited => {
            shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            Some(too_many(1))
        }
    }
}
