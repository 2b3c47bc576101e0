//! Routes and handlers of the webhook server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;

use crate::connector::{Connector, WebhookRejection};
use crate::domain::Side;
use crate::health::{Verdict, assess};
use crate::metrics::Metrics;
use crate::store::{NewDelivery, OpenMode, Store, Writer, now_ms};

/// Everything the handlers share.
#[derive(Clone)]
pub struct WebhookServer {
    /// The group-commit writer the inbox is written through.
    pub writer: Writer,
    /// Verifies Linear deliveries.
    pub linear: Arc<dyn Connector>,
    /// Verifies portal deliveries.
    pub portal: Arc<dyn Connector>,
    /// Bodies above this are refused with 413.
    pub max_body_bytes: usize,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Where `/healthz` and `/metrics` read the store from.
    pub store_path: PathBuf,
    /// Poked after a delivery is stored, so the engine handles it at once.
    pub on_stored: Option<Arc<tokio::sync::Notify>>,
}

impl std::fmt::Debug for WebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookServer")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("store_path", &self.store_path)
            .finish()
    }
}

/// The router with every route.
pub fn router(state: WebhookServer) -> Router {
    Router::new()
        .route("/webhooks/linear", post(linear_hook))
        .route("/webhooks/canny", post(canny_hook))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

impl WebhookServer {
    /// Bind and serve until `shutdown` resolves, then finish in-flight
    /// requests.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, router(self))
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Bind an address (port 0 picks a free one).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
        tokio::net::TcpListener::bind(addr).await
    }
}

async fn linear_hook(State(s): State<WebhookServer>, headers: HeaderMap, body: Body) -> Response {
    receive(&s, Side::Linear, "linear", headers, body).await
}

async fn canny_hook(State(s): State<WebhookServer>, headers: HeaderMap, body: Body) -> Response {
    receive(&s, Side::Portal, "canny", headers, body).await
}

fn reply(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "status": status.as_u16(), "message": message })),
    )
        .into_response()
}

async fn receive(
    s: &WebhookServer,
    side: Side,
    source: &str,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes: Bytes = match to_bytes(body, s.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            s.metrics.delivery(source, "too_large");
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
    };
    let connector = match side {
        Side::Linear => &s.linear,
        Side::Portal => &s.portal,
    };
    let hint = match connector.verify_webhook(&headers, &bytes, Utc::now()) {
        Ok(h) => h,
        Err(WebhookRejection::Malformed(why)) => {
            s.metrics.delivery(source, "malformed");
            tracing::warn!(source, %why, "rejected malformed webhook");
            return reply(StatusCode::BAD_REQUEST, "malformed payload");
        }
        Err(rejection) => {
            let outcome = match rejection {
                WebhookRejection::Stale => "stale",
                WebhookRejection::Replayed => "replayed",
                _ => "bad_signature",
            };
            s.metrics.delivery(source, outcome);
            tracing::warn!(source, reason = %rejection, "rejected webhook");
            return reply(StatusCode::UNAUTHORIZED, &rejection.to_string());
        }
    };
    // The body is known to be JSON here: `verify_webhook` parses it (for
    // the timestamp and the hint) and refuses anything else as Malformed,
    // so it is not parsed a second time.
    let delivery = NewDelivery {
        source: side,
        delivery_id: hint.delivery_id,
        event: hint.event,
        record_id: hint.record_id,
        removed: hint.removed,
        payload: String::from_utf8_lossy(&bytes).into_owned(),
    };
    match s
        .writer
        .run_durable(move |db| db.insert_delivery(&delivery))
        .await
    {
        Ok(true) => {
            s.metrics.delivery(source, "stored");
            if let Some(n) = &s.on_stored {
                n.notify_one();
            }
            reply(StatusCode::OK, "stored")
        }
        Ok(false) => {
            s.metrics.delivery(source, "duplicate");
            reply(StatusCode::OK, "duplicate")
        }
        Err(e) => {
            s.metrics.delivery(source, "error");
            tracing::error!(source, error = %e, "could not store webhook delivery");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not store the delivery; retry",
            )
        }
    }
}

async fn read_summary(path: PathBuf) -> Result<crate::store::Summary, String> {
    tokio::task::spawn_blocking(move || {
        Store::open(&path, OpenMode::ReadOnly)
            .and_then(|s| s.db().summary())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn healthz(State(s): State<WebhookServer>) -> Response {
    match read_summary(s.store_path.clone()).await {
        Ok(summary) => {
            let h = assess(&summary, now_ms());
            let status = if h.verdict == Verdict::Down {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            (status, axum::Json(json!(h))).into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "verdict": "down", "reasons": [format!("store unreadable: {e}")] })),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<WebhookServer>) -> Response {
    if let Ok(summary) = read_summary(s.store_path.clone()).await {
        s.metrics.refresh(&summary);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}
