//! P1 `webhook_ingest` (DESIGN.md section 12): verified webhook deliveries
//! durably (fsync'd) stored and acknowledged per second.
//!
//! The real webhook server (`roundtrip::webhook::router`, group-commit
//! `store::Writer`, `synchronous=FULL` commits) listens on 127.0.0.1; a
//! load generator keeps many keep-alive HTTP/1.1 connections busy, each
//! sending Linear-signed deliveries (hex HMAC-SHA256 `Linear-Signature`, a
//! fresh `webhookTimestamp`, a unique `Linear-Delivery`) one after another and
//! timing each acknowledgement. The baseline is the same handler logic with
//! one fsync'd transaction per request (`Store::write_durable` behind a mutex
//! in `spawn_blocking`), measured in the same run against the same client.
//! Why: acknowledging only after fsync is what makes webhooks lossless, and
//! group commit is what makes that affordable.
//!
//! `P1_SECS` (default 5) sets the measured duration of each run,
//! `P1_CONNECTIONS` (default 64) the number of client connections.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use roundtrip::connector::Connector;
use roundtrip::connector::canny::{CannyConfig, CannyConnector};
use roundtrip::connector::linear::{LinearConfig, LinearConnector};
use roundtrip::domain::Side;
use roundtrip::store::{NewDelivery, OpenMode, Store, StoreLocation, Writer};
use roundtrip::webhook::WebhookServer;
use serde_json::json;
use tokio::net::TcpListener;

use common::load::load;
use common::{emit, env_usize, percentile, r3};

const SECRET: &str = "lin_wh_bench_secret";

fn linear_connector() -> Arc<dyn Connector> {
    Arc::new(
        LinearConnector::new(LinearConfig::new("lin_api_bench", "ENG", SECRET))
            .expect("linear connector"),
    )
}

fn portal_connector() -> Arc<dyn Connector> {
    Arc::new(
        CannyConnector::new(CannyConfig::new(
            "http://127.0.0.1:9",
            "canny_bench_key",
            "Feature Requests",
        ))
        .expect("canny connector"),
    )
}

/// Baseline server state: one store, one fsync'd transaction per request.
#[derive(Clone)]
struct Naive {
    store: Arc<Mutex<Store>>,
    linear: Arc<dyn Connector>,
}

async fn naive_hook(State(s): State<Naive>, headers: HeaderMap, body: Body) -> StatusCode {
    let Ok(bytes) = to_bytes(body, 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    // Same request handling as the real server (the verifier is the only
    // JSON parse); only the commit strategy differs.
    let Ok(hint) = s.linear.verify_webhook(&headers, &bytes, Utc::now()) else {
        return StatusCode::UNAUTHORIZED;
    };
    let d = NewDelivery {
        source: Side::Linear,
        delivery_id: hint.delivery_id,
        event: hint.event,
        record_id: hint.record_id,
        removed: hint.removed,
        signed_digest: None,
        evidence: None,
    };
    let store = s.store.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
        guard.write_durable(|db| db.insert_delivery(&d))
    })
    .await;
    match stored {
        Ok(Ok(_)) => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn serve(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (addr, task)
}

fn count_inbox(location: &StoreLocation) -> usize {
    let store = location.open(OpenMode::ReadOnly).expect("open store");
    store
        .db()
        .pending_deliveries(usize::MAX >> 1)
        .expect("count inbox")
        .len()
}

fn main() {
    let secs = Duration::from_secs(env_usize("P1_SECS", 5) as u64);
    let connections = env_usize("P1_CONNECTIONS", 64);
    let warmup = Duration::from_secs(1);
    let dir = tempfile::tempdir_in(std::env::temp_dir()).expect("tempdir");
    let rt = common::runtime();

    // Baseline: one fsync'd transaction per request.
    let naive_store = common::pg::bench_store("naive", dir.path());
    let naive = rt.block_on(async {
        let state = Naive {
            store: Arc::new(Mutex::new(
                naive_store.location.open(OpenMode::Create).expect("store"),
            )),
            linear: linear_connector(),
        };
        let app = Router::new()
            .route("/webhooks/linear", post(naive_hook))
            .with_state(state);
        let (addr, server) = serve(app).await;
        let r = load(SECRET, &addr, connections, warmup, secs).await;
        server.abort();
        r
    });

    // The real server: group commit through the store writer.
    let real_store = common::pg::bench_store("rt", dir.path());
    let (writer, writer_thread) =
        Writer::spawn(real_store.location.open(OpenMode::Create).expect("store")).expect("writer");
    let real = rt.block_on(async {
        let state = WebhookServer::new(
            writer.clone(),
            linear_connector(),
            portal_connector(),
            real_store.location.clone(),
        );
        // The real edge: connection cap, timeouts, body budget, load shed.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let server = tokio::spawn(async move {
            state
                .serve(listener, std::future::pending())
                .await
                .expect("serve");
        });
        let r = load(SECRET, &addr, connections, warmup, secs).await;
        server.abort();
        r
    });
    drop(rt);
    writer.close();
    drop(writer);
    writer_thread.join().expect("writer join");
    let stored = count_inbox(&real_store.location);

    let rate = real.acked as f64 / real.secs;
    let base_rate = naive.acked as f64 / naive.secs;
    let ratio = rate / base_rate.max(1e-9);
    let p50 = percentile(&real.latencies_ms, 0.5);
    let p99 = percentile(&real.latencies_ms, 0.99);
    let base_p99 = percentile(&naive.latencies_ms, 0.99);
    emit(
        "P1",
        "acks_per_sec",
        rate,
        Some(base_rate),
        Some(ratio),
        "≥20000/s and ≥10× baseline",
        rate >= 20_000.0 && ratio >= 10.0 && real.errors == 0,
        json!({"connections": connections, "secs": r3(real.secs), "acked": real.acked,
               "store": real_store.backend,
               "load_avg_1m": common::load_avg(),
               "errors": real.errors, "stored_in_inbox": stored,
               "baseline_errors": naive.errors,
               "baseline_kind": "one fsync'd transaction per request (Store::write_durable)"}),
    );
    emit(
        "P1",
        "ack_latency_p99_ms",
        p99,
        Some(base_p99),
        Some(base_p99 / p99.max(1e-9)),
        "<10 ms",
        p99 < 10.0,
        json!({"p50_ms": r3(p50), "max_ms": r3(real.latencies_ms.last().copied().unwrap_or(0.0)),
               "baseline_p50_ms": r3(percentile(&naive.latencies_ms, 0.5))}),
    );
}
