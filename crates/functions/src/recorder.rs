//! Executions on their way to the store: runs hand their record to a
//! bounded queue, and one task writes them in batches (one statement with
//! one JSON parameter per batch), so recording a run costs the run almost
//! nothing. A full queue makes runs wait for room: no run goes unrecorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use basalt_store::{Backend, Db, Param};
use tokio::sync::mpsc;

use crate::store::Execution;

const QUEUE: usize = 4096;
const BATCH: usize = 500;

const INSERT_SQLITE: &str = "INSERT INTO executions (id, function, version, trigger, status, attempts, started_at, \
     duration_us, logs, error, delivery) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
     value ->> 7, value ->> 8, value ->> 9, value ->> 10 FROM json_each($1) WHERE true ON CONFLICT (id) DO NOTHING";
const INSERT_POSTGRES: &str = "INSERT INTO executions (id, function, version, trigger, status, attempts, started_at, \
     duration_us, logs, error, delivery) \
     SELECT r ->> 0, r ->> 1, (r ->> 2)::bigint, r ->> 3, r ->> 4, (r ->> 5)::bigint, (r ->> 6)::bigint, \
     (r ->> 7)::bigint, r ->> 8, r ->> 9, r ->> 10 FROM json_array_elements($1::json) AS r ON CONFLICT (id) DO NOTHING";

pub(crate) struct Recorder {
    queue: mpsc::Sender<Execution>,
    /// Records handed over, and records written (or given up on): a flush
    /// waits for those handed over before it, not for a queue that never
    /// empties under load.
    sent: AtomicU64,
    done: Arc<AtomicU64>,
}

impl Recorder {
    pub fn start(db: Db) -> Recorder {
        let (queue, rx) = mpsc::channel(QUEUE);
        let done = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_loop(db, rx, done.clone()));
        Recorder {
            queue,
            sent: AtomicU64::new(0),
            done,
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
        while self.done.load(Ordering::Relaxed) < target && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Execution>, done: Arc<AtomicU64>) {
    let sql = if db.backend() == Backend::Postgres {
        INSERT_POSTGRES
    } else {
        INSERT_SQLITE
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let n = rx.recv_many(&mut batch, BATCH).await;
        if n == 0 {
            return;
        }
        let rows: Vec<_> = batch
            .iter()
            .map(|e| {
                (
                    &e.id,
                    &e.function,
                    e.version,
                    &e.trigger,
                    &e.status,
                    e.attempts,
                    e.started_at.millis(),
                    (e.duration_ms * 1000.0) as i64,
                    serde_json::to_string(&e.logs).unwrap_or_else(|_| "[]".into()),
                    e.error.as_deref(),
                    e.delivery.as_deref(),
                )
            })
            .collect();
        let json = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into());
        // A failed write is tried again a few times: executions are the
        // record of what ran, not a sample.
        let mut tries = 0;
        while let Err(e) = db.execute(sql, &[Param::Text(&json)]).await {
            tries += 1;
            if tries == 5 {
                tracing::warn!(error = %e, lost = n, "functions: could not record executions");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 * tries)).await;
        }
        done.fetch_add(n as u64, Ordering::Relaxed);
        batch.clear();
    }
}
