//! A portal simulator's running tasks — its HTTP server and its webhook
//! sender — started and stopped together: stopping lets in-flight requests
//! finish for two seconds, dropping stops at once.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The tasks of one running simulator.
#[derive(Debug)]
pub struct Serving {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<()>>>,
    sender: JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Serving {
    /// Serve `app` on `listener` in a background task (named `what` in the
    /// log should it fail), alongside the webhook `sender` task.
    pub fn start(
        listener: tokio::net::TcpListener,
        app: axum::Router,
        sender: JoinHandle<()>,
        what: &'static str,
    ) -> Serving {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "{what} server stopped");
            }
        });
        Serving {
            stop: Mutex::new(Some(stop_tx)),
            server: Mutex::new(Some(server)),
            sender,
        }
    }

    /// Stop serving: in-flight requests get two seconds to finish.
    pub async fn shutdown(&self) {
        if let Some(tx) = lock(&self.stop).take() {
            let _ = tx.send(());
        }
        let handle = lock(&self.server).take();
        if let Some(h) = handle {
            let abort = h.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), h)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.sender.abort();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(tx) = lock(&self.stop).take() {
            let _ = tx.send(());
        }
        self.sender.abort();
    }
}
