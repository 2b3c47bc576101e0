//! Routes and handlers of the webhook server.
//!
//! Layers, outermost first: every 503 gets `Retry-After` and every refusal
//! a count; `Content-Length` above the body limit is answered 413 before a
//! byte is read (tower-http `RequestBodyLimit`); webhook handlers beyond
//! `max_in_flight` are shed with 503 (tower `load_shed` + `concurrency_limit`);
//! and each request has `request_timeout` to be read, verified and stored
//! (tower-http `Timeout`, 408). `/healthz` and `/metrics` have a small
//! concurrency limit of their own, so a webhook flood never hides health.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::body::{BodyBudget, BodyError};
use super::limits::{EdgeLimits, WebhookOptions};
use super::rejects::RejectLog;
use crate::connector::{Connector, DeliveryHint, WebhookRejection};
use crate::domain::Side;
use crate::health::{Verdict, assess};
use crate::metrics::Metrics;
use crate::store::{NewDelivery, OpenMode, StoreError, StoreLocation, Writer, now_ms};
use crate::upkeep::StoreWatch;

/// `/healthz` and `/metrics` requests answered at once.
const MAX_PROBES_IN_FLIGHT: usize = 8;
/// Longest delivery id kept as sent; longer ones (the header is not signed)
/// are stored as their digest.
const MAX_DELIVERY_ID: usize = 128;
/// Longest event name kept.
const MAX_EVENT: usize = 64;
/// Longest record id accepted; vendors' ids are UUIDs or 24-hex strings.
const MAX_RECORD_ID: usize = 256;
/// Longest update evidence kept (previous and new title and description):
/// beyond it the overwrite check is skipped for that delivery rather than
/// the inbox growing with document-sized rows.
const MAX_EVIDENCE: usize = 128 * 1024;

/// Everything the handlers share.
#[derive(Clone)]
pub struct WebhookServer {
    /// The group-commit writer the inbox is written through.
    pub writer: Writer,
    /// Verifies Linear deliveries.
    pub linear: Arc<dyn Connector>,
    /// Verifies portal deliveries.
    pub portal: Arc<dyn Connector>,
    /// Limits and timeouts of the edge.
    pub options: WebhookOptions,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Where `/healthz` and `/metrics` read the store from.
    pub store: StoreLocation,
    /// Poked after a delivery is stored, so the engine handles it at once.
    pub on_stored: Option<Arc<tokio::sync::Notify>>,
    /// What this process knows about the store (integrity, write failures).
    pub watch: Arc<StoreWatch>,
}

impl std::fmt::Debug for WebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookServer")
            .field("options", &self.options)
            .field("store", &self.store.to_string())
            .finish()
    }
}

/// The handlers' state: the server plus what all requests share.
#[derive(Clone)]
struct Shared {
    server: WebhookServer,
    budget: BodyBudget,
    rejects: Arc<RejectLog>,
}

/// The router with every route and layer; the [`RejectLog`] it counts into
/// is returned so the caller can summarise it.
pub fn router(state: WebhookServer) -> Router {
    router_with_log(state).0
}

fn router_with_log(state: WebhookServer) -> (Router, Arc<RejectLog>) {
    let limits = state.options.limits.clone();
    let shared = Shared {
        budget: BodyBudget::new(limits.max_buffered_bytes),
        rejects: Arc::new(RejectLog::default()),
        server: state,
    };
    let rejects = shared.rejects.clone();
    let portal = shared.server.portal.webhook_source();
    let hooks = Router::new()
        .route("/webhooks/linear", post(linear_hook))
        .route(&format!("/webhooks/{portal}"), post(portal_hook))
        .route(
            &format!("/webhooks/{portal}/{{secret}}"),
            post(portal_hook_at),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(limits.max_in_flight.max(1))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    limits.request_timeout,
                )),
        )
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes));
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(MAX_PROBES_IN_FLIGHT),
        );
    let router = hooks
        .merge(probes)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), finish))
        .with_state(shared);
    (router, rejects)
}

async fn overloaded(_: tower::BoxError) -> Response {
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many requests in progress; retry later",
    )
}

/// Marks a response whose refusal the handler already counted.
#[derive(Debug, Clone, Copy)]
struct Counted;

/// Count refusals made by the layers (413 from `Content-Length`, 408, load
/// shedding) like the handler's own, and put `Retry-After` on every 503.
async fn finish(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let portal = s.server.portal.webhook_source();
    let source = match req.uri().path().strip_prefix("/webhooks/") {
        Some("linear") => Some("linear"),
        Some(rest) if rest.split('/').next() == Some(portal) => Some(portal),
        _ => None,
    };
    let mut resp = next.run(req).await;
    let reason = match resp.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Some("too_large"),
        StatusCode::REQUEST_TIMEOUT => Some("timeout"),
        StatusCode::SERVICE_UNAVAILABLE => Some("overloaded"),
        _ => None,
    };
    if let Some(reason) = reason
        && resp.extensions().get::<Counted>().is_none()
    {
        s.server.metrics.edge_refusal(reason);
        if let Some(source) = source {
            s.server.metrics.delivery(source, reason);
            s.rejects.note(source, reason);
        }
    }
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE
        && !resp.headers().contains_key(header::RETRY_AFTER)
    {
        let secs = s.server.options.limits.retry_after_secs();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

impl WebhookServer {
    /// A server with the default options, its own metrics and no engine to
    /// wake: what tests, benchmarks and tools start from.
    pub fn new(
        writer: Writer,
        linear: Arc<dyn Connector>,
        portal: Arc<dyn Connector>,
        store: impl Into<StoreLocation>,
    ) -> WebhookServer {
        WebhookServer {
            writer,
            linear,
            portal,
            options: WebhookOptions::default(),
            metrics: Arc::new(Metrics::new()),
            store: store.into(),
            on_stored: None,
            watch: Arc::new(StoreWatch::default()),
        }
    }

    /// Bind `addr` and serve in a background task for the rest of the
    /// runtime's life; returns the bound address.
    pub async fn spawn_on(self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = Self::bind(addr).await?;
        let bound = listener.local_addr()?;
        tokio::spawn(self.serve(listener, std::future::pending()));
        Ok(bound)
    }

    /// Serve until `shutdown` resolves, then let every open connection
    /// finish its request.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let limits: EdgeLimits = self.options.limits.clone();
        let every = self.options.reject_summary_every;
        let metrics = self.metrics.clone();
        let (router, rejects) = router_with_log(self);
        let summary = tokio::spawn(super::rejects::summarize(rejects, every));
        let out = super::edge::serve(listener, router, limits, metrics, shutdown).await;
        summary.abort();
        out
    }

    /// Bind an address (port 0 picks a free one).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
        tokio::net::TcpListener::bind(addr).await
    }
}

async fn linear_hook(State(s): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    receive(&s, Side::Linear, None, headers, body).await
}

async fn portal_hook(State(s): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    receive(&s, Side::Portal, None, headers, body).await
}

/// A portal delivery with a secret in its URL (Fider's webhooks can carry
/// one there instead of in a header).
async fn portal_hook_at(
    State(s): State<Shared>,
    axum::extract::Path(secret): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(&s, Side::Portal, Some(secret), headers, body).await
}

fn reply(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "status": status.as_u16(), "message": message })),
    )
        .into_response()
}

fn rejection_reason(r: &WebhookRejection) -> &'static str {
    match r {
        WebhookRejection::MissingSignature(_) => "missing_signature",
        WebhookRejection::BadSignature => "bad_signature",
        WebhookRejection::Stale => "stale",
        WebhookRejection::Replayed => "replayed",
        WebhookRejection::Malformed(_) => "malformed",
        WebhookRejection::MissingSecret => "missing_secret",
        WebhookRejection::BadSecret => "bad_secret",
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What the signature covers, hashed: Linear signs the body; a portal's
/// delivery id stands for its content (Canny signs its nonce, Fider's id is
/// the digest of its unsigned body). The same content is the same delivery.
fn signed_digest(side: Side, body: &[u8], hint: &DeliveryHint) -> String {
    match side {
        Side::Linear => hex_digest(body),
        Side::Portal => hex_digest(hint.delivery_id.as_bytes()),
    }
}

fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The row to store: bounded in size whatever the unsigned headers said.
fn delivery_row(side: Side, hint: DeliveryHint, digest: String) -> Result<NewDelivery, String> {
    if hint
        .record_id
        .as_ref()
        .is_some_and(|id| id.len() > MAX_RECORD_ID)
    {
        return Err(format!("record id longer than {MAX_RECORD_ID} bytes"));
    }
    let delivery_id = if hint.delivery_id.len() > MAX_DELIVERY_ID {
        format!("sha256:{}", hex_digest(hint.delivery_id.as_bytes()))
    } else {
        hint.delivery_id
    };
    Ok(NewDelivery {
        source: side,
        delivery_id,
        event: clip(&hint.event, MAX_EVENT),
        record_id: hint.record_id,
        removed: hint.removed,
        signed_digest: Some(digest),
        evidence: hint.evidence.filter(|e| e.len() <= MAX_EVIDENCE),
    })
}

fn store_refusal(e: &StoreError) -> &'static str {
    match e {
        StoreError::Locked => "the store is locked by another process; retry later",
        StoreError::WriterClosed => "roundtrip is shutting down; retry later",
        StoreError::Corrupt(_) | StoreError::FailedIntegrity { .. } => {
            "the store is damaged and cannot accept deliveries; retry later"
        }
        _ => "could not store the delivery; retry later",
    }
}

fn store_reason(e: &StoreError) -> &'static str {
    match e {
        StoreError::Locked => "store_locked",
        StoreError::WriterClosed => "shutting_down",
        StoreError::Corrupt(_) | StoreError::FailedIntegrity { .. } => "store_damaged",
        _ => "store_error",
    }
}

async fn receive(
    s: &Shared,
    side: Side,
    path: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let server = &s.server;
    let connector = match side {
        Side::Linear => &server.linear,
        Side::Portal => &server.portal,
    };
    let source = connector.webhook_source();
    let refuse = |outcome: &'static str, status: StatusCode, message: &str| {
        server.metrics.delivery(source, outcome);
        s.rejects.note(source, outcome);
        let mut resp = reply(status, message);
        resp.extensions_mut().insert(Counted);
        resp
    };
    if server.watch.damaged().is_some() {
        return refuse(
            "store_damaged",
            StatusCode::SERVICE_UNAVAILABLE,
            "the store failed its integrity check; retry later",
        );
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limits = &server.options.limits;
    let held = match s.budget.read(body, announced, limits.max_body_bytes).await {
        Ok(h) => h,
        Err(BodyError::TooLarge) => {
            return refuse("too_large", StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        Err(BodyError::Busy) => {
            return refuse(
                "buffer_full",
                StatusCode::SERVICE_UNAVAILABLE,
                "too many bytes waiting for verification; retry later",
            );
        }
        Err(BodyError::Broken(_)) => {
            return refuse(
                "broken_body",
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
    };
    server
        .metrics
        .buffered_bytes
        .set(i64::try_from(s.budget.in_use()).unwrap_or(i64::MAX));
    let verified = match &path {
        None => connector.verify_webhook(&headers, &held.bytes, Utc::now()),
        Some(p) => connector.verify_webhook_path(p, &headers, &held.bytes, Utc::now()),
    };
    let hint = match verified {
        Ok(h) => h,
        Err(rejection) => {
            let status = match rejection {
                WebhookRejection::Malformed(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            let message = match &rejection {
                WebhookRejection::Malformed(_) => "malformed payload".to_string(),
                other => other.to_string(),
            };
            return refuse(rejection_reason(&rejection), status, &message);
        }
    };
    let digest = signed_digest(side, &held.bytes, &hint);
    // The body is no longer needed: only the hint is stored.
    drop(held);
    let delivery = match delivery_row(side, hint.clone(), digest) {
        Ok(d) => d,
        Err(_) => {
            connector.delivery_not_accepted(&hint);
            return refuse("malformed", StatusCode::BAD_REQUEST, "malformed payload");
        }
    };
    match server
        .writer
        .run_durable(move |db| db.insert_delivery(&delivery))
        .await
    {
        Ok(stored) => {
            server.watch.write_ok();
            if stored {
                server.metrics.delivery(source, "stored");
                if let Some(n) = &server.on_stored {
                    n.notify_one();
                }
                reply(StatusCode::OK, "stored")
            } else {
                server.metrics.delivery(source, "duplicate");
                reply(StatusCode::OK, "duplicate")
            }
        }
        Err(e) => {
            server.watch.write_failed(&e);
            connector.delivery_not_accepted(&hint);
            refuse(
                store_reason(&e),
                StatusCode::SERVICE_UNAVAILABLE,
                store_refusal(&e),
            )
        }
    }
}

async fn read_summary(
    store: StoreLocation,
    watch: Arc<StoreWatch>,
) -> Result<crate::store::Summary, String> {
    tokio::task::spawn_blocking(move || {
        let mut summary = store
            .open(OpenMode::ReadOnly)
            .and_then(|s| s.db().summary())
            .map_err(|e| e.to_string())?;
        watch.overlay(&mut summary);
        Ok(summary)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A `/healthz` 503: the verdict, not a refusal.
fn with_retry_after(mut resp: Response, secs: u64) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp.extensions_mut().insert(Counted);
    resp
}

async fn healthz(State(s): State<Shared>) -> Response {
    let secs = s.server.options.limits.retry_after_secs();
    match read_summary(s.server.store.clone(), s.server.watch.clone()).await {
        Ok(summary) => {
            let h = assess(&summary, now_ms());
            if h.verdict == Verdict::Down {
                with_retry_after(
                    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!(h))).into_response(),
                    secs,
                )
            } else {
                (StatusCode::OK, axum::Json(json!(h))).into_response()
            }
        }
        Err(e) => with_retry_after(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    json!({ "verdict": "down", "reasons": [format!("store unreadable: {e}")] }),
                ),
            )
                .into_response(),
            secs,
        ),
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    if let Ok(summary) = read_summary(s.server.store.clone(), s.server.watch.clone()).await {
        s.server.metrics.refresh(&summary);
    }
    s.server
        .metrics
        .buffered_bytes
        .set(i64::try_from(s.budget.in_use()).unwrap_or(i64::MAX));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.server.metrics.render(),
    )
        .into_response()
}
