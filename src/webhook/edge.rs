//! The accept loop: hyper's HTTP/1 connection driver behind a connection
//! semaphore, so open connections are capped and each one is bounded in time
//! (hyper's header read timeout, which also ends idle kept-alive
//! connections) and in memory (hyper's header buffer limit).
//!
//! A connection beyond the cap is not simply dropped: it closes the
//! connection that has been without a request in progress the longest (an
//! idle or half-sent one), so a flood of idle clients cannot lock out a
//! sender with a real request.
//! When every connection is busy, the newcomer is answered 503 with
//! `Retry-After`; when even the answering is saturated, it is closed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use super::limits::EdgeLimits;
use crate::metrics::Metrics;

/// Connections being answered 503 (or waiting for an evicted slot) at once;
/// beyond this a new connection is closed without an answer.
const MAX_REFUSING: usize = 256;
/// How long a connection over the cap waits for an evicted one to free its
/// slot before it is answered 503.
const EVICTION_WAIT: Duration = Duration::from_millis(250);
/// Time a refused client has to send its request head.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// One open connection, as the eviction policy sees it.
#[derive(Debug, Default)]
struct ConnState {
    in_flight: AtomicUsize,
    /// Its key in the registry's idle order while it has no request.
    idle_key: AtomicU64,
    evict: Notify,
}

/// Connections without a request in progress, least recently active first
/// (keys only grow), so eviction takes the one idle longest — a
/// kept-alive sender between requests outlasts a connection that never
/// sent anything.
#[derive(Debug, Default)]
struct Registry {
    idle: Mutex<BTreeMap<u64, Arc<ConnState>>>,
    open: AtomicUsize,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a connection from the registry when its task ends.
struct Registration {
    registry: Arc<Registry>,
    state: Arc<ConnState>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let key = self.state.idle_key.load(Ordering::Acquire);
        let mut idle = lock(&self.registry.idle);
        if idle.get(&key).is_some_and(|s| Arc::ptr_eq(s, &self.state)) {
            idle.remove(&key);
        }
        self.registry.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Registry {
    fn register(self: &Arc<Self>) -> (Arc<ConnState>, Registration) {
        let state = Arc::new(ConnState::default());
        self.open.fetch_add(1, Ordering::AcqRel);
        self.mark_idle(&state);
        (
            state.clone(),
            Registration {
                registry: self.clone(),
                state,
            },
        )
    }

    fn mark_idle(&self, state: &Arc<ConnState>) {
        let mut idle = lock(&self.idle);
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        state.idle_key.store(key, Ordering::Release);
        idle.insert(key, state.clone());
    }

    fn mark_busy(&self, state: &ConnState) {
        lock(&self.idle).remove(&state.idle_key.load(Ordering::Acquire));
    }

    /// Ask the connection idle longest to close.
    fn evict_longest_idle(&self) -> bool {
        match lock(&self.idle).pop_first() {
            Some((_, state)) => {
                state.evict.notify_one();
                true
            }
            None => false,
        }
    }

    fn len(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// Marks a connection busy while one of its requests is being answered.
struct InFlight {
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

impl InFlight {
    fn new(state: Arc<ConnState>, registry: Arc<Registry>) -> Self {
        if state.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            registry.mark_busy(&state);
        }
        InFlight { state, registry }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.registry.mark_idle(&self.state);
        }
    }
}

/// The router as a hyper service that keeps its connection's busy mark.
#[derive(Clone)]
struct Tracked {
    router: Router,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = InFlight::new(self.state.clone(), self.registry.clone());
        let router = self.router.clone();
        Box::pin(async move {
            let out = router.oneshot(req.map(Body::new)).await;
            drop(busy);
            out
        })
    }
}

/// What the accept loop shares with its connection tasks.
struct Edge {
    router: Router,
    limits: EdgeLimits,
    metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    registry: Arc<Registry>,
    stop: watch::Receiver<bool>,
}

/// Serve `router` on `listener` until `shutdown` resolves; then stop
/// accepting, let every connection finish its request and return once all
/// are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: EdgeLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let (stop_tx, stop) = watch::channel(false);
    let edge = Arc::new(Edge {
        router,
        limits,
        metrics,
        slots: Arc::new(Semaphore::new(max)),
        refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
        registry: Arc::new(Registry::default()),
        stop,
    });
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before
                    // accept: count it and keep serving the others.
                    edge.metrics.edge_refusal("accept_error");
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        admit(&edge, stream);
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it is closed.
    let _all = edge.slots.acquire_many(max as u32).await;
    let _refusals = edge.refusing.acquire_many(MAX_REFUSING as u32).await;
    Ok(())
}

fn admit(edge: &Arc<Edge>, stream: TcpStream) {
    if let Ok(slot) = edge.slots.clone().try_acquire_owned() {
        tokio::spawn(serve_connection(edge.clone(), stream, slot));
        return;
    }
    let Ok(refusal) = edge.refusing.clone().try_acquire_owned() else {
        edge.metrics.edge_refusal("connection_dropped");
        return;
    };
    let evicted = edge.registry.evict_longest_idle();
    let edge = edge.clone();
    tokio::spawn(async move {
        if evicted
            && let Ok(Ok(slot)) =
                tokio::time::timeout(EVICTION_WAIT, edge.slots.clone().acquire_owned()).await
        {
            drop(refusal);
            serve_connection(edge, stream, slot).await;
            return;
        }
        edge.metrics.edge_refusal("connections_busy");
        refuse(&edge, stream).await;
        drop(refusal);
    });
}

async fn serve_connection(edge: Arc<Edge>, stream: TcpStream, slot: OwnedSemaphorePermit) {
    let (state, registration) = edge.registry.register();
    edge.metrics
        .edge_connections
        .set(edge.registry.len() as i64);
    let service = Tracked {
        router: edge.router.clone(),
        state: state.clone(),
        registry: edge.registry.clone(),
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(edge.limits.header_timeout)
        .max_buf_size(edge.limits.max_header_bytes)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stop = edge.stop.clone();
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            () = state.evict.notified() => {
                if state.in_flight.load(Ordering::Acquire) == 0 {
                    edge.metrics.edge_refusal("connection_evicted");
                    break;
                }
                // A request started since it was chosen: keep it (it is
                // back in the idle order when the request ends).
            }
            () = stopped(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.as_mut().await;
                break;
            }
        }
    }
    drop(registration);
    edge.metrics
        .edge_connections
        .set(edge.registry.len() as i64);
    drop(slot);
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Answer one request on a connection over the cap with 503 and close it.
async fn refuse(edge: &Edge, stream: TcpStream) {
    let retry_after = edge.limits.retry_after_secs();
    let service = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
        let mut resp = Response::new(Body::from(
            r#"{"status":503,"message":"too many connections; retry later"}"#,
        ));
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let h = resp.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok::<_, Infallible>(resp)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_HEADER_TIMEOUT)
        .max_buf_size(edge.limits.max_header_bytes)
        .keep_alive(false);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REFUSAL_HEADER_TIMEOUT * 2, conn).await;
}
