//! Executions on their way to the store: runs hand their record to a
//! bounded queue, and one task writes them in batches (statements of bound
//! rows, one transaction per batch), so recording a run costs the run
//! almost nothing. A full queue makes runs wait for room: no run goes unrecorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use basalt_store::{Db, Param};
use tokio::sync::{Notify, mpsc};

use crate::store::Execution;

const QUEUE: usize = 4096;
const BATCH: usize = 500;
/// How long records gather before a batch is written: one commit on the
/// shared writer for every run of the window, not one per run.
const GATHER: Duration = Duration::from_millis(20);

const INSERT: &str = "INSERT INTO executions (id, function, version, trigger, status, attempts, started_at, \
     duration_us, logs, error, delivery)";
const COLUMNS: usize = 11;

pub(crate) struct Recorder {
    queue: mpsc::Sender<Execution>,
    /// Records handed over, and records written (or given up on): a flush
    /// waits for those handed over before it, not for a queue that never
    /// empties under load.
    sent: AtomicU64,
    done: Arc<AtomicU64>,
    /// Wakes the writer out of its gathering when someone waits to read.
    hurry: Arc<Notify>,
}

impl Recorder {
    pub fn start(db: Db) -> Recorder {
        let (queue, rx) = mpsc::channel(QUEUE);
        let done = Arc::new(AtomicU64::new(0));
        let hurry = Arc::new(Notify::new());
        tokio::spawn(write_loop(db, rx, done.clone(), hurry.clone()));
        Recorder {
            queue,
            sent: AtomicU64::new(0),
            done,
            hurry,
        }
    }

    /// Hands a record to the writer, waiting for room when the queue is full.
    pub async fn record(&self, execution: Execution) {
        if self.queue.send(execution).await.is_ok() {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until every record handed over so far is written, at most `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let target = self.sent.load(Ordering::Relaxed);
        if self.done.load(Ordering::Relaxed) < target {
            self.hurry.notify_one();
        }
        while self.done.load(Ordering::Relaxed) < target && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Execution>, done: Arc<AtomicU64>, hurry: Arc<Notify>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            return;
        }
        if batch.len() < BATCH {
            tokio::select! {
                () = tokio::time::sleep(GATHER) => {}
                () = hurry.notified() => {}
            }
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
        }
        let n = batch.len();
        let logs: Vec<String> = batch
            .iter()
            .map(|e| serde_json::to_string(&e.logs).unwrap_or_else(|_| "[]".into()))
            .collect();
        let mut params: Vec<Param<'_>> = Vec::with_capacity(n * COLUMNS);
        for (e, logs) in batch.iter().zip(&logs) {
            params.extend([
                Param::Text(&e.id),
                Param::Text(&e.function),
                Param::Int(e.version),
                Param::Text(&e.trigger),
                Param::Text(&e.status),
                Param::Int(e.attempts),
                Param::Int(e.started_at.millis()),
                Param::Int((e.duration_ms * 1000.0) as i64),
                Param::Text(logs),
                e.error.as_deref().into(),
                e.delivery.as_deref().into(),
            ]);
        }
        // A failed write is tried again a few times: executions are the
        // record of what ran, not a sample. Ids are made here and unique, so
        // a retry after a lost answer must not fail the batch.
        let mut tries = 0;
        while let Err(e) = db
            .insert_rows(INSERT, "ON CONFLICT (id) DO NOTHING", COLUMNS, &params)
            .await
        {
            tries += 1;
            if tries == 5 {
                tracing::warn!(error = %e, lost = n, "functions: could not record executions");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 * tries)).await;
        }
        drop(params);
        done.fetch_add(n as u64, Ordering::Relaxed);
        batch.clear();
    }
}
