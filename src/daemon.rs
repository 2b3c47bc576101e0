//! Assembling the long-running service: the store writer, the engine and the
//! webhook server, started together and stopped together. `roundtrip run`
//! and `roundtrip demo` both use this, so the demo exercises exactly what a
//! deployment runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::engine::cluster::Cluster;
use crate::engine::{Connectors, Engine, EngineError, EngineOptions};
use crate::metrics::Metrics;
use crate::store::{OpenMode, StoreError, StoreLocation, Writer, WriterThread};
use crate::upkeep::{StoreWatch, UpkeepOptions};
use crate::webhook::{WebhookOptions, WebhookServer};

/// Everything needed to start the service.
pub struct ServiceSpec {
    /// The store (file or PostgreSQL database).
    pub store: StoreLocation,
    /// Both connectors.
    pub connectors: Connectors,
    /// Engine settings.
    pub options: EngineOptions,
    /// Where the webhook server listens (port 0: any free port).
    pub listen: SocketAddr,
    /// The webhook edge's limits, inbox retention and store checks.
    pub webhooks: WebhookOptions,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The webhook address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running service.
pub struct Service {
    /// The engine (tests and the demo poke it directly).
    pub engine: Engine,
    /// The store writer.
    pub writer: Writer,
    /// The address the webhook server listens on.
    pub addr: SocketAddr,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// What the service knows about its store.
    pub watch: Arc<StoreWatch>,
    writer_thread: WriterThread,
    shutdown: watch::Sender<bool>,
    engine_tasks: JoinSet<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("addr", &self.addr).finish()
    }
}

impl Service {
    /// Open the store (refusing a damaged one), start the engine loops, the
    /// store upkeep and the webhook server.
    pub async fn start(spec: ServiceSpec) -> Result<Service, ServiceError> {
        let location = spec.store.clone();
        let store = tokio::task::spawn_blocking(move || {
            let store = location.open(OpenMode::Create)?;
            let check = store.verify_integrity()?;
            Ok::<_, StoreError>((store, check))
        })
        .await
        .map_err(|_| StoreError::WriterClosed)?;
        let (store, check) = store?;
        let watch = Arc::new(StoreWatch::default());
        watch.record_integrity(check);
        let (writer, writer_thread) = Writer::spawn(store)?;
        let mut webhooks = spec.webhooks.clone();
        let open_files = crate::os::raise_open_files_limit();
        if let Some(fit) = crate::os::connections_that_fit(open_files)
            && fit < webhooks.limits.max_connections
        {
            tracing::warn!(
                configured = webhooks.limits.max_connections,
                fit,
                "the open-files limit allows fewer webhook connections than configured; raise `ulimit -n` to use the configured number"
            );
            webhooks.limits.max_connections = fit;
        }
        let metrics = Arc::new(Metrics::new());
        // On PostgreSQL this process is one replica of possibly several.
        let cluster = match &spec.store {
            StoreLocation::Postgres(target) => {
                let c = Cluster::start(target.clone(), &spec.options.replica)
                    .await
                    .map_err(|e| StoreError::Open(Box::new(e)))?;
                tracing::info!(replica = c.id(), "replica registered");
                Some(Arc::new(c))
            }
            StoreLocation::File(_) => None,
        };
        let engine = Engine::new_replica(
            writer.clone(),
            spec.connectors.clone(),
            spec.options,
            Some(metrics.clone()),
            cluster,
        )
        .await?;
        let listener =
            WebhookServer::bind(spec.listen)
                .await
                .map_err(|source| ServiceError::Bind {
                    addr: spec.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServiceError::Bind {
            addr: spec.listen,
            source,
        })?;
        let (shutdown, rx) = watch::channel(false);
        let mut engine_tasks = engine.spawn(rx.clone());
        engine_tasks.spawn(crate::upkeep::run(
            writer.clone(),
            spec.store.clone(),
            watch.clone(),
            UpkeepOptions {
                inbox_retention: webhooks.inbox_retention,
                integrity_every: webhooks.integrity_every,
            },
            rx.clone(),
        ));
        let server_state = WebhookServer {
            writer: writer.clone(),
            linear: spec.connectors.linear.clone(),
            portal: spec.connectors.portal.clone(),
            options: webhooks,
            metrics: metrics.clone(),
            store: spec.store.clone(),
            on_stored: Some(engine.inbox_notifier()),
            watch: watch.clone(),
        };
        let mut stop = rx;
        let server = tokio::spawn(server_state.serve(listener, async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        }));
        Ok(Service {
            engine,
            writer,
            addr,
            metrics,
            watch,
            writer_thread,
            shutdown,
            engine_tasks,
            server,
        })
    }

    /// Stop accepting webhooks, let in-flight requests and jobs finish
    /// (at most `bound`), flush the store and checkpoint the WAL.
    pub async fn stop(self, bound: Duration) -> Result<(), ServiceError> {
        let Service {
            engine,
            writer,
            writer_thread,
            shutdown,
            mut engine_tasks,
            server,
            ..
        } = self;
        let _ = shutdown.send(true);
        let server_abort = server.abort_handle();
        let drain = async {
            let _ = server.await;
            while engine_tasks.join_next().await.is_some() {}
        };
        if tokio::time::timeout(bound, drain).await.is_err() {
            tracing::warn!("shutdown bound reached; in-flight jobs stay queued for the next start");
            server_abort.abort();
            engine_tasks.shutdown().await;
        }
        drop(engine);
        writer.close();
        drop(writer);
        tokio::task::spawn_blocking(move || writer_thread.join())
            .await
            .map_err(|_| StoreError::WriterClosed)??;
        Ok(())
    }
}
