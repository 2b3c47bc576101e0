//! The daemon's single writer (DESIGN.md section 5): a dedicated thread owns
//! the write connection and takes operations over a channel, committing
//! whatever has queued up in one transaction (group commit). Each caller is
//! answered once its transaction is durable. Async code never blocks on
//! SQLite: it awaits the answer.
//!
//! Every operation runs inside its own SAVEPOINT, so one failing operation
//! rolls back only itself, never the batch it shares a commit with.

use std::any::Any;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{Db, OpenMode, Result, Store, StoreError};

/// Most operations folded into one transaction.
pub const MAX_BATCH: usize = 512;

type Output = Box<dyn Any + Send>;
type Op = Box<dyn FnOnce(Db<'_>) -> Result<Output> + Send>;

struct Command {
    op: Op,
    durable: bool,
    reply: oneshot::Sender<Result<Output>>,
}

enum Msg {
    Run(Command),
    /// Drain what is queued, checkpoint and stop, even while handles exist.
    Close,
}

/// Cloneable handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

/// Owns the writer thread; dropping every [`Writer`] and then joining this
/// flushes what is queued and checkpoints the WAL.
pub struct WriterThread {
    handle: JoinHandle<Result<()>>,
}

impl WriterThread {
    /// Wait for the thread to drain its queue, checkpoint and exit: after
    /// every [`Writer`] clone is dropped, or after [`Writer::close`].
    pub fn join(self) -> Result<()> {
        self.handle.join().unwrap_or(Err(StoreError::WriterClosed))
    }
}

fn closed() -> StoreError {
    StoreError::WriterClosed
}

impl Writer {
    /// Open the store at `path` for writing and start the writer thread.
    pub fn start(path: &Path) -> Result<(Writer, WriterThread)> {
        Writer::spawn(Store::open(path, OpenMode::Create)?)
    }

    /// Start the writer thread on an already open store.
    pub fn spawn(store: Store) -> Result<(Writer, WriterThread)> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(store, rx))
            .map_err(|_| StoreError::WriterClosed)?;
        Ok((Writer { tx }, WriterThread { handle }))
    }

    /// Ask the writer thread to finish what is queued and stop; later calls
    /// on any handle fail with [`StoreError::WriterClosed`].
    pub fn close(&self) {
        let _ = self.tx.send(Msg::Close);
    }

    /// Run `f` in the next group commit; resolves once it is committed.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Db<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    /// Like [`Writer::run`], but the commit is fsync'd before the answer
    /// (webhook acknowledgements promise durability).
    pub async fn run_durable<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Db<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(true, f).await
    }

    /// Blocking form of [`Writer::run`] for non-async threads.
    pub fn run_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Db<'_>) -> Result<T> + Send + 'static,
    {
        let rx = self.send(false, f)?;
        let out = rx.blocking_recv().map_err(|_| closed())??;
        out.downcast::<T>().map(|b| *b).map_err(|_| closed())
    }

    fn send<T, F>(&self, durable: bool, f: F) -> Result<oneshot::Receiver<Result<Output>>>
    where
        T: Send + 'static,
        F: FnOnce(Db<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let op: Op = Box::new(move |db| f(db).map(|v| Box::new(v) as Output));
        self.tx
            .send(Msg::Run(Command { op, durable, reply }))
            .map_err(|_| closed())?;
        Ok(rx)
    }

    async fn submit<T, F>(&self, durable: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Db<'_>) -> Result<T> + Send + 'static,
    {
        let rx = self.send(durable, f)?;
        let out = rx.await.map_err(|_| closed())??;
        out.downcast::<T>().map(|b| *b).map_err(|_| closed())
    }
}

fn writer_loop(mut store: Store, rx: mpsc::Receiver<Msg>) -> Result<()> {
    let mut closing = false;
    while !closing {
        let first = match rx.recv() {
            Ok(Msg::Run(cmd)) => cmd,
            Ok(Msg::Close) | Err(_) => break,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Run(cmd)) => batch.push(cmd),
                Ok(Msg::Close) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        commit_batch(&mut store, batch);
    }
    // Anything sent after Close is answered with WriterClosed when `rx`
    // drops here.
    store.checkpoint()
}

fn commit_batch(store: &mut Store, batch: Vec<Command>) {
    let durable = batch.iter().any(|c| c.durable);
    let mut waiting = batch;
    let mut replies = Vec::with_capacity(waiting.len());
    let run = |db: Db<'_>| -> Result<()> {
        // One savepoint name for every op: each is released (or rolled
        // back and released) before the next opens, so they never nest.
        // The statements are prepared once and reused, not parsed per op.
        for cmd in waiting.drain(..) {
            db.conn.prepare_cached("SAVEPOINT op")?.execute(())?;
            let out = (cmd.op)(db);
            if out.is_err() {
                db.conn.prepare_cached("ROLLBACK TO op")?.execute(())?;
            }
            db.conn.prepare_cached("RELEASE op")?.execute(())?;
            replies.push((cmd.reply, out));
        }
        Ok(())
    };
    let committed = if durable {
        store.write_durable(run)
    } else {
        store.write(run)
    };
    match committed {
        Ok(()) => {
            for (reply, out) in replies {
                let _ = reply.send(out);
            }
        }
        Err(e) => {
            // Every caller learns why: those whose op ran inside the failed
            // transaction, and those never reached because it could not
            // begin (another process holding the lock, say).
            let unrun = waiting.into_iter().map(|c| c.reply);
            for reply in replies.into_iter().map(|(r, _)| r).chain(unrun) {
                let _ = reply.send(Err(e.for_batch()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Side;
    use crate::store::NewDelivery;

    fn delivery(id: usize) -> NewDelivery {
        NewDelivery {
            source: Side::Linear,
            delivery_id: format!("d{id}"),
            event: "Issue".into(),
            record_id: None,
            removed: false,
            signed_digest: None,
            evidence: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_commits_and_failures_stay_isolated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rt.db");
        let (writer, thread) = Writer::start(&path).unwrap();
        let mut tasks = Vec::new();
        for i in 0..300 {
            let w = writer.clone();
            tasks.push(tokio::spawn(async move {
                w.run_durable(move |db| db.insert_delivery(&delivery(i % 250)))
                    .await
            }));
        }
        let failing = writer
            .run(|db| {
                db.insert_delivery(&delivery(9999))?;
                Err::<(), _>(StoreError::NotFound { what: "x", id: 1 })
            })
            .await;
        assert!(failing.is_err());
        let mut stored = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() {
                stored += 1;
            }
        }
        assert_eq!(stored, 250, "duplicates are stored once");
        drop(writer);
        thread.join().unwrap();
        let store = Store::open(&path, OpenMode::ReadOnly).unwrap();
        assert_eq!(store.db().pending_deliveries(1000).unwrap().len(), 250);
    }
}
