//! The write path's last step: one task per process commits document writes
//! and their change-feed rows. Requests that arrive while a transaction is
//! being written wait and go together in the next one (group commit), each
//! inside its own savepoint, so one failing request does not fail the others.
//!
//! On PostgreSQL every batch takes a transaction-scoped advisory lock before
//! its first statement: batches from all nodes commit one at a time, so the
//! change feed's `seq` order is commit order and a tailer that reads "after
//! the last seq I saw" can never skip a row that commits late.

use std::sync::Arc;

use basalt_core::{Error, Timestamp};
use basalt_store::outbox::{self, Delivery};
use basalt_store::{Backend, Db, Param, StoreError, Tx};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::cache::DocumentCache;
use crate::collections::Loaded;
use crate::document::Document;

/// Arbitrary but fixed: the advisory lock that orders the change feed.
const FEED_LOCK: i64 = 0x6261_7361_6c74_0005;
/// Most writes one transaction takes.
const MAX_BATCH_WRITES: usize = 1000;

/// What the stored document must be for a write to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No document with this id.
    Absent,
    /// The document at exactly this version.
    Version(i64),
}

/// One document write, prepared (rules, schema and preconditions checked).
pub struct Write {
    pub collection: Arc<Loaded>,
    pub id: String,
    pub expect: Expect,
    /// With `Expect::Absent`: a document that appeared meanwhile is an
    /// `already_exists` error (create) rather than a lost race (set, retried).
    pub exists_is_error: bool,
    /// The new document, or `None` to delete.
    pub after: Option<Document>,
    /// The change-feed entry: the new document, or for a delete the last one, as JSON.
    pub change: Arc<str>,
    /// For an update, the document as it was, as JSON.
    pub previous: Option<Arc<str>>,
    /// Outbox rows for the change's listeners, committed with it.
    pub outbox: Vec<Delivery>,
}

impl Write {
    pub(crate) fn op(&self) -> &'static str {
        match (&self.after, self.expect) {
            (None, _) => "delete",
            (Some(_), Expect::Absent) => "create",
            (Some(_), Expect::Version(_)) => "update",
        }
    }
}

/// A committed change, as the feed holds it and realtime receives it.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: i64,
    pub collection: String,
    pub id: String,
    pub op: &'static str,
    /// The document as API.md shows it (for `delete`, the last one).
    pub document: Arc<str>,
    /// For an update, the document before it.
    pub previous: Option<Arc<str>>,
    pub committed_at: i64,
}

/// Why a request's writes did not commit.
#[derive(Debug)]
pub enum Failure {
    /// The stored document changed since it was read: read again and retry.
    Conflict,
    /// `exists_is_error` and the id is taken.
    AlreadyExists,
    /// A unique index refused the write.
    UniqueIndex,
    /// The collection was deleted meanwhile.
    Gone,
    /// The delivery this commit completes was claimed by someone else
    /// (its lease ran out): nothing is written, the delivery runs again.
    LeaseLost,
    Error(Error),
}

/// Which write of a request failed, and why.
#[derive(Debug)]
pub struct CommitFailure {
    pub index: usize,
    pub failure: Failure,
}

impl From<Error> for CommitFailure {
    fn from(e: Error) -> Self {
        CommitFailure {
            index: 0,
            failure: Failure::Error(e),
        }
    }
}

struct Request {
    writes: Vec<Write>,
    /// An outbox delivery these writes complete, in the same transaction.
    completes: Option<Arc<dyn outbox::Completion>>,
    /// Outbox rows of the request itself (enqueued jobs), committed with it.
    outbox: Vec<Delivery>,
    reply: oneshot::Sender<Result<Vec<Change>, CommitFailure>>,
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Request>,
}

impl Writer {
    pub fn start(db: Db, changes: broadcast::Sender<Arc<Change>>, cache: Arc<DocumentCache>) -> Writer {
        let (queue, rx) = mpsc::channel(4096);
        tokio::spawn(run(db, rx, changes, cache));
        Writer { queue }
    }

    /// Commits `writes` (with the request's own outbox rows `outbox`) and
    /// marks the work `completes` done, all together or not at all.
    pub async fn commit_completing(
        &self,
        writes: Vec<Write>,
        completes: Option<Arc<dyn outbox::Completion>>,
        outbox: Vec<Delivery>,
    ) -> Result<Vec<Change>, CommitFailure> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request {
                writes,
                completes,
                outbox,
                reply,
            })
            .await
            .map_err(|_| Error::unavailable("the server is shutting down"))?;
        answer
            .await
            .map_err(|_| Error::unavailable("the server is shutting down"))?
    }
}

async fn run(
    db: Db,
    mut rx: mpsc::Receiver<Request>,
    changes: broadcast::Sender<Arc<Change>>,
    cache: Arc<DocumentCache>,
) {
    while let Some(first) = rx.recv().await {
        let mut writes = first.writes.len();
        let mut batch = vec![first];
        while writes < MAX_BATCH_WRITES {
            match rx.try_recv() {
                Ok(r) => {
                    writes += r.writes.len();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        commit_batch(&db, batch, &changes, &cache).await;
    }
}

async fn commit_batch(
    db: &Db,
    batch: Vec<Request>,
    feed: &broadcast::Sender<Arc<Change>>,
    cache: &DocumentCache,
) {
    cache.forget(
        batch
            .iter()
            .flat_map(|r| r.writes.iter())
            .map(|w| (w.collection.table.as_str(), w.id.as_str())),
    );
    let outcome = write_batch(db, &batch).await;
    match outcome {
        Ok(results) => {
            let queued = batch.iter().zip(&results).any(|(req, r)| {
                r.is_ok() && (!req.outbox.is_empty() || req.writes.iter().any(|w| !w.outbox.is_empty()))
            });
            if queued {
                db.outbox().ring();
            }
            let written = batch
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_ok())
                .flat_map(|(req, _)| req.writes.iter())
                .map(|w| (w.collection.table.as_str(), w.id.as_str(), w.after.as_ref()));
            cache.committed(written);
            for (req, result) in batch.into_iter().zip(results) {
                if let Ok(changes) = &result {
                    for c in changes {
                        let _ = feed.send(Arc::new(c.clone()));
                    }
                }
                let _ = req.reply.send(result);
            }
        }
        Err(e) => {
            for req in batch {
                let _ = req.reply.send(Err(CommitFailure {
                    index: 0,
                    failure: Failure::Error(e.clone()),
                }));
            }
        }
    }
}

type Results = Vec<Result<Vec<Change>, CommitFailure>>;

/// One transaction for the whole batch; `Err` when the transaction itself
/// failed (every request fails with it). The fast path writes everything
/// with as few statements as it can and no savepoints; when any write in it
/// fails, it is rolled back and the batch is written again, request by
/// request, each in a savepoint, to tell who failed and why.
async fn write_batch(db: &Db, batch: &[Request]) -> Result<Results, Error> {
    if let Some(results) = fast_batch(db, batch).await? {
        return Ok(results);
    }
    let postgres = db.backend() == Backend::Postgres;
    let mut tx = db.begin().await?;
    if postgres {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[FEED_LOCK.into()])
            .await?;
    }
    let now = Timestamp::now().millis();
    let single = batch.len() == 1;
    let mut results: Results = Vec::with_capacity(batch.len());
    for req in batch {
        if !single {
            tx.execute("SAVEPOINT w", &[]).await?;
        }
        match apply(&mut tx, req, postgres, now).await {
            Ok(changes) => {
                if !single {
                    tx.execute("RELEASE SAVEPOINT w", &[]).await?;
                }
                results.push(Ok(changes));
            }
            Err(failure) => {
                if single {
                    return Ok(vec![Err(failure)]);
                }
                tx.execute("ROLLBACK TO SAVEPOINT w", &[]).await?;
                tx.execute("RELEASE SAVEPOINT w", &[]).await?;
                results.push(Err(failure));
            }
        }
    }
    if postgres && results.iter().any(|r| r.as_ref().is_ok_and(|c| !c.is_empty())) {
        // Wakes the change-feed tailers of every node (after commit).
        tx.execute("SELECT pg_notify('basalt_changes', '')", &[]).await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// Most rows in one multi-row `INSERT` (5 parameters each).
const ROWS_PER_INSERT: usize = 500;

/// The batch with multi-row inserts and no savepoints, or `None` when some
/// write failed (nothing is then written).
async fn fast_batch(db: &Db, batch: &[Request]) -> Result<Option<Results>, Error> {
    let postgres = db.backend() == Backend::Postgres;
    let json = if postgres { "::jsonb" } else { "" };
    let writes: Vec<&Write> = batch.iter().flat_map(|r| r.writes.iter()).collect();
    let mut tx = db.begin().await?;
    if postgres {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[FEED_LOCK.into()])
            .await?;
    }
    // A statement that fails sends the batch down the slow path, which says why.
    macro_rules! attempt {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(StoreError::UniqueViolation) => return Ok(None),
                Err(e) if e.is_missing_table() => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        };
    }
    for claim in batch.iter().filter_map(|r| r.completes.as_ref()) {
        if !attempt!(claim.complete(&mut tx).await) {
            return Ok(None);
        }
    }
    let mut i = 0;
    while i < writes.len() {
        let w = writes[i];
        let table = &w.collection.table;
        if let (Some(_), Expect::Absent) = (&w.after, w.expect) {
            // Consecutive creates in one table: one statement.
            let mut group = vec![w];
            while let Some(next) = writes.get(i + group.len())
                && next.expect == Expect::Absent
                && next.after.is_some()
                && next.collection.table == *table
                && group.len() < ROWS_PER_INSERT
            {
                group.push(next);
            }
            let mut values = Vec::with_capacity(group.len());
            let mut params: Vec<Param<'_>> = Vec::with_capacity(group.len() * 5);
            for g in &group {
                let d = g.after.as_ref().expect("creates have a document");
                let n = params.len();
                values.push(format!(
                    "(${}, ${}, ${}, ${}, ${}{json})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5
                ));
                params.extend([
                    Param::Text(&d.id),
                    d.version.into(),
                    d.created_at.into(),
                    d.updated_at.into(),
                    Param::Text(&d.data),
                ]);
            }
            let sql = format!(
                "INSERT INTO \"{table}\" (id, version, created_at, updated_at, data) VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
                values.join(", ")
            );
            let inserted = attempt!(tx.fetch_all(&sql, &params).await);
            if inserted.len() != group.len() {
                return Ok(None);
            }
            i += group.len();
            continue;
        }
        let touched = attempt!(write_row(&mut tx, w, json).await);
        if touched == 0 {
            return Ok(None);
        }
        i += 1;
    }
    // The change feed: one row per write, in order.
    let now = Timestamp::now().millis();
    let logged: Vec<&Write> = writes
        .iter()
        .copied()
        .filter(|w| !(w.after.is_none() && w.expect == Expect::Absent))
        .collect();
    let mut seqs = Vec::with_capacity(logged.len());
    for chunk in logged.chunks(ROWS_PER_INSERT) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * 5);
        for w in chunk {
            let n = params.len();
            values.push(format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            ));
            params.extend([
                Param::Text(&w.collection.def.name),
                Param::Text(&w.id),
                Param::Text(w.op()),
                Param::Text(&w.change),
                w.previous.as_deref().into(),
                now.into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO changes (collection, doc_id, op, document, previous, committed_at) VALUES {} RETURNING seq",
            values.join(", ")
        );
        let rows = attempt!(tx.fetch_all(&sql, &params).await);
        let mut chunk_seqs: Vec<i64> = rows.iter().map(|r| r.int(0)).collect::<Result<_, _>>()?;
        // Rows are numbered in the order of VALUES; RETURNING's order is not promised.
        chunk_seqs.sort_unstable();
        if chunk_seqs.len() != chunk.len() {
            return Err(Error::internal(
                "the change feed returned fewer rows than it was given",
            ));
        }
        seqs.extend(chunk_seqs);
    }
    let rows: Vec<Delivery> = writes
        .iter()
        .flat_map(|w| w.outbox.iter())
        .chain(batch.iter().flat_map(|r| r.outbox.iter()))
        .cloned()
        .collect();
    attempt!(outbox::append(&mut tx, &rows).await);
    if postgres && !logged.is_empty() {
        tx.execute("SELECT pg_notify('basalt_changes', '')", &[]).await?;
    }
    tx.commit().await?;
    let mut seqs = seqs.into_iter();
    let results = batch
        .iter()
        .map(|req| {
            Ok(req
                .writes
                .iter()
                .filter(|w| !(w.after.is_none() && w.expect == Expect::Absent))
                .map(|w| Change {
                    seq: seqs.next().unwrap_or_default(),
                    collection: w.collection.def.name.clone(),
                    id: w.id.clone(),
                    op: w.op(),
                    document: w.change.clone(),
                    previous: w.previous.clone(),
                    committed_at: now,
                })
                .collect())
        })
        .collect();
    Ok(Some(results))
}

fn failed(index: usize, e: StoreError) -> CommitFailure {
    let failure = match e {
        StoreError::UniqueViolation => Failure::UniqueIndex,
        e if e.is_missing_table() => Failure::Gone,
        e => Failure::Error(e.into()),
    };
    CommitFailure { index, failure }
}

/// The one statement that writes a document: insert (skipping an id that is
/// taken), update or delete at the expected version. Returns rows touched.
async fn write_row(tx: &mut Tx, w: &Write, json: &str) -> Result<u64, StoreError> {
    let table = &w.collection.table;
    match (&w.after, w.expect) {
        (Some(d), Expect::Absent) => {
            tx.execute(
                &format!(
                    "INSERT INTO \"{table}\" (id, version, created_at, updated_at, data) VALUES ($1, $2, $3, $4, $5{json}) ON CONFLICT (id) DO NOTHING"
                ),
                &[
                    (&d.id).into(),
                    d.version.into(),
                    d.created_at.into(),
                    d.updated_at.into(),
                    (&d.data).into(),
                ],
            )
            .await
        }
        (Some(d), Expect::Version(v)) => {
            tx.execute(
                &format!(
                    "UPDATE \"{table}\" SET version = $2, updated_at = $3, data = $4{json} WHERE id = $1 AND version = $5"
                ),
                &[
                    (&d.id).into(),
                    d.version.into(),
                    d.updated_at.into(),
                    (&d.data).into(),
                    v.into(),
                ],
            )
            .await
        }
        (None, Expect::Version(v)) => {
            tx.execute(
                &format!("DELETE FROM \"{table}\" WHERE id = $1 AND version = $2"),
                &[(&w.id).into(), v.into()],
            )
            .await
        }
        (None, Expect::Absent) => Ok(1),
    }
}

async fn apply(tx: &mut Tx, req: &Request, postgres: bool, now: i64) -> Result<Vec<Change>, CommitFailure> {
    let writes = &req.writes;
    let json = if postgres { "::jsonb" } else { "" };
    if let Some(claim) = &req.completes
        && !claim.complete(tx).await.map_err(|e| failed(0, e))?
    {
        return Err(CommitFailure {
            index: 0,
            failure: Failure::LeaseLost,
        });
    }
    let mut changes = Vec::with_capacity(writes.len());
    for (index, w) in writes.iter().enumerate() {
        let touched = write_row(tx, w, json).await.map_err(|e| failed(index, e))?;
        if touched == 0 {
            let failure = if w.expect == Expect::Absent && w.exists_is_error {
                Failure::AlreadyExists
            } else {
                Failure::Conflict
            };
            return Err(CommitFailure { index, failure });
        }
        if w.after.is_none() && w.expect == Expect::Absent {
            continue;
        }
        let row = tx
            .fetch_optional(
                "INSERT INTO changes (collection, doc_id, op, document, previous, committed_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                &[
                    (&w.collection.def.name).into(),
                    (&w.id).into(),
                    w.op().into(),
                    Param::Text(&w.change),
                    w.previous.as_deref().into(),
                    now.into(),
                ],
            )
            .await
            .map_err(|e| failed(index, e))?;
        let seq = row
            .ok_or_else(|| CommitFailure::from(Error::internal("no seq returned")))?
            .int(0)
            .map_err(|e| failed(index, e))?;
        outbox::append(tx, &w.outbox)
            .await
            .map_err(|e| failed(index, e))?;
        changes.push(Change {
            seq,
            collection: w.collection.def.name.clone(),
            id: w.id.clone(),
            op: w.op(),
            document: w.change.clone(),
            previous: w.previous.clone(),
            committed_at: now,
        });
    }
    outbox::append(tx, &req.outbox).await.map_err(|e| failed(0, e))?;
    Ok(changes)
}
