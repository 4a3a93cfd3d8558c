//! Where entries are kept: `logs.db` beside the SQLite database, or the
//! main PostgreSQL database (tables from its migrations). The SQL is the
//! same on both.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use basalt_core::Timestamp;
use basalt_store::{Backend, Db, Param, StoreError};
use tokio::sync::{Mutex, mpsc};

use crate::series::{Minute, Rollup};
use crate::{BATCH, Counters, Entry, Settings};

/// An entry as the store keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub id: String,
    pub time: i64,
    pub method: &'static str,
    pub route: String,
    pub path: String,
    pub status: u16,
    pub duration_us: u64,
    pub caller_kind: &'static str,
    pub caller_id: Option<String>,
    pub ip: String,
    pub request_id: String,
    pub error: Option<&'static str>,
}

const SQLITE_SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS request_log (
        id TEXT PRIMARY KEY,
        time INTEGER NOT NULL,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        duration_us INTEGER NOT NULL,
        caller_kind TEXT NOT NULL,
        caller_id TEXT,
        ip TEXT NOT NULL,
        request_id TEXT NOT NULL,
        error TEXT
    ) WITHOUT ROWID",
    // Ids sort by time: time filters and the sweep use them, so the
    // table is one b-tree and an insert touches nothing else.
    "DROP INDEX IF EXISTS request_log_time",
    "CREATE TABLE IF NOT EXISTS request_minutes (
        node TEXT NOT NULL,
        minute INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        latency TEXT NOT NULL,
        PRIMARY KEY (minute, node)
    )",
];

const INSERT: &str = "INSERT INTO request_log (id, time, method, route, path, status, duration_us, \
     caller_kind, caller_id, ip, request_id, error)";
// Ids are made by this process and unique; a retry after a lost answer
// must not fail the batch.
const ON_CONFLICT: &str = "ON CONFLICT (id) DO NOTHING";
const COLUMNS: usize = 12;

/// How long the writer lets entries gather between batches.
const GATHER: Duration = Duration::from_millis(20);
/// The longest rest: a write that waited on a lock was not work.
const MAX_REST: Duration = Duration::from_millis(500);
/// A failed store is tried again at most this often.
const REOPEN_EVERY: Duration = Duration::from_secs(5);
/// A failing store is reported in the server log at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub(crate) struct Store {
    /// The main database when it is PostgreSQL; else `None` and `logs.db`.
    main: Option<Db>,
    path: PathBuf,
    sqlite: Arc<Mutex<SqliteState>>,
}

struct SqliteState {
    db: Option<Db>,
    last_attempt: Option<Instant>,
}

impl Store {
    pub(crate) fn new(main: &Db, data_dir: &std::path::Path) -> Store {
        Store {
            main: (main.backend() == Backend::Postgres).then(|| main.clone()),
            path: data_dir.join("logs.db"),
            sqlite: Arc::new(Mutex::new(SqliteState {
                db: None,
                last_attempt: None,
            })),
        }
    }

    /// The same store with connections of its own (for the writer's thread,
    /// whose SQLite connection thread then shares its low priority).
    pub(crate) fn own_connections(&self) -> Store {
        Store {
            main: self.main.clone(),
            path: self.path.clone(),
            sqlite: Arc::new(Mutex::new(SqliteState {
                db: None,
                last_attempt: None,
            })),
        }
    }

    /// The database holding the log, opening `logs.db` on first use.
    pub(crate) async fn db(&self) -> Result<Db, StoreError> {
        if let Some(db) = &self.main {
            return Ok(db.clone());
        }
        let mut state = self.sqlite.lock().await;
        if let Some(db) = &state.db {
            return Ok(db.clone());
        }
        if state.last_attempt.is_some_and(|t| t.elapsed() < REOPEN_EVERY) {
            return Err(StoreError::Decode(
                "the request log store could not be opened".into(),
            ));
        }
        state.last_attempt = Some(Instant::now());
        let url = format!("sqlite:{}", self.path.display());
        let db = Db::connect(Some(&url), std::path::Path::new(""), 2).await?;
        for statement in SQLITE_SCHEMA {
            db.execute(statement, &[]).await?;
        }
        state.db = Some(db.clone());
        Ok(db)
    }

    /// Stores a batch as one statement with one parameter: the rows as a
    /// JSON array of arrays, unpacked by the database. Binding thousands of
    /// parameters instead costs far more than the insert (SQLite looks each
    /// one up by name), and the statement text never changes, so it stays
    /// prepared.
    async fn insert(&self, entries: &[Entry], ids: &mut basalt_core::id::Sequence) -> Result<(), StoreError> {
        let db = self.db().await?;
        for chunk in entries.chunks(BATCH) {
            let owned: Vec<(String, String)> =
                chunk.iter().map(|e| (ids.at(e.time), e.ip.to_string())).collect();
            let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * COLUMNS);
            for (e, (id, ip)) in chunk.iter().zip(&owned) {
                let (kind, caller_id) = e.caller.as_ref().map_or(("anon", None), |c| c.log_identity());
                params.extend([
                    Param::Text(id),
                    Param::Int(e.time),
                    Param::Text(e.method),
                    Param::Text(&e.route),
                    Param::Text(&e.path),
                    Param::Int(i64::from(e.status)),
                    Param::Int(e.duration_us.min(i64::MAX as u64) as i64),
                    Param::Text(kind),
                    caller_id.into(),
                    Param::Text(ip),
                    Param::Text(&e.request_id),
                    e.error.into(),
                ]);
            }
            db.insert_rows(INSERT, ON_CONFLICT, COLUMNS, &params).await?;
        }
        Ok(())
    }

    async fn write_minutes(&self, node: &str, minutes: &[(i64, Minute)]) -> Result<(), StoreError> {
        if minutes.is_empty() {
            return Ok(());
        }
        let db = self.db().await?;
        for (minute, m) in minutes {
            let latency = m.encode_latency();
            db.execute(
                "INSERT INTO request_minutes (node, minute, requests, errors, latency)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (minute, node) DO UPDATE
                 SET requests = excluded.requests, errors = excluded.errors, latency = excluded.latency",
                &[
                    Param::Text(node),
                    Param::Int(*minute),
                    Param::Int(m.requests as i64),
                    Param::Int(m.errors as i64),
                    Param::Text(&latency),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// Sums every node's minutes in `[from, to)` (minute numbers).
    pub(crate) async fn minutes(&self, from: i64, to: i64) -> Result<Vec<(i64, Minute)>, StoreError> {
        let db = self.db().await?;
        let rows = db
            .fetch_all(
                "SELECT minute, requests, errors, latency FROM request_minutes
                 WHERE minute >= $1 AND minute < $2 ORDER BY minute",
                &[Param::Int(from), Param::Int(to)],
            )
            .await?;
        let mut out: Vec<(i64, Minute)> = Vec::new();
        for row in rows {
            let minute = row.int(0)?;
            let mut m = Minute {
                requests: row.int(1)?.max(0) as u64,
                errors: row.int(2)?.max(0) as u64,
                ..Minute::default()
            };
            m.decode_latency(&row.text(3)?);
            match out.last_mut() {
                Some((k, acc)) if *k == minute => acc.add(&m),
                _ => out.push((minute, m)),
            }
        }
        Ok(out)
    }

    pub(crate) async fn sweep(&self, settings: &Settings) -> Result<(), StoreError> {
        let db = self.db().await?;
        let now = Timestamp::now().millis();
        let cutoff = now - settings.retention.as_millis() as i64;
        let floor = basalt_core::id::floor(cutoff);
        db.execute("DELETE FROM request_log WHERE id < $1", &[Param::Text(&floor)])
            .await?;
        // Whatever the age, no more than `max_entries` rows.
        db.execute(
            "DELETE FROM request_log WHERE id <= (SELECT id FROM request_log ORDER BY id DESC LIMIT 1 OFFSET $1)",
            &[Param::Int(settings.max_entries.min(i64::MAX as u64) as i64)],
        )
        .await?;
        // The longest chart range is 7 days; keep rollups a day beyond it,
        // or as long as the entries when that is longer.
        let keep = settings.retention.max(Duration::from_secs(8 * 24 * 3600));
        let minute_cutoff = (now - keep.as_millis() as i64).div_euclid(60_000);
        db.execute(
            "DELETE FROM request_minutes WHERE minute < $1",
            &[Param::Int(minute_cutoff)],
        )
        .await?;
        Ok(())
    }
}

/// Drains the queue in batches; writes the rollups at least once a second.
pub(crate) async fn write_loop(
    store: Store,
    mut rx: mpsc::Receiver<Entry>,
    counters: Arc<Counters>,
    rollup: Arc<Rollup>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut ids = basalt_core::id::Sequence::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_warning: Option<Instant> = None;
    let mut warn = |what: &str, e: &StoreError| {
        if last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            last_warning = Some(Instant::now());
            tracing::warn!(error = %e, "request log: {what}; requests are answered as usual, entries are dropped");
        }
    };
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                rollup.add(&batch);
                let started = Instant::now();
                match store.insert(&batch, &mut ids).await {
                    Ok(()) => {
                        counters.write_latency.observe(started.elapsed());
                        counters.written.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        counters.write_errors.fetch_add(1, Ordering::Relaxed);
                        counters.dropped.fetch_add(n as u64, Ordering::Relaxed);
                        warn("cannot store entries", &e);
                    }
                }
                counters.queued.fetch_sub(n, Ordering::Relaxed);
                counters.processed.fetch_add(n as u64, Ordering::Release);
                batch.clear();
                // The log must never take the CPU the API needs: after each
                // batch the writer rests three times as long as it worked
                // (at least a moment, so entries gather into full batches).
                // Beyond what it can write at that pace, entries are dropped
                // and counted.
                tokio::time::sleep(started.elapsed().saturating_mul(3).clamp(GATHER, MAX_REST)).await;
            }
            _ = tick.tick() => write_minutes(&store, &rollup, &counters, &mut warn).await,
            () = counters.want_minutes.notified() => write_minutes(&store, &rollup, &counters, &mut warn).await,
        }
    }
}

/// Stores the per-minute counts that changed since the last time.
async fn write_minutes(
    store: &Store,
    rollup: &Rollup,
    counters: &Counters,
    warn: &mut impl FnMut(&str, &StoreError),
) {
    // Every entry processed so far is in the rollup already.
    let processed = counters.processed.load(Ordering::Acquire);
    let now_minute = Timestamp::now().millis().div_euclid(60_000);
    let dirty = rollup.take_dirty(now_minute);
    if let Err(e) = store.write_minutes(&rollup.node, &dirty).await {
        rollup.mark_dirty(&dirty);
        warn("cannot store per-minute counts", &e);
    } else {
        counters.rolled.fetch_max(processed, Ordering::Release);
    }
}

pub(crate) async fn sweep_loop(store: Store, settings: Settings) {
    let mut tick = tokio::time::interval(settings.sweep_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = store.sweep(&settings).await {
            tracing::debug!(error = %e, "request log: sweep failed; trying again later");
        }
    }
}

/// What `GET /v1/admin/logs` filters on.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Inclusive status range.
    pub status: Option<(i64, i64)>,
    pub route: Option<String>,
    pub method: Option<String>,
    pub caller_kind: Option<String>,
    pub caller_id: Option<String>,
    pub q: Option<String>,
    pub after: Option<String>,
    pub limit: usize,
}

impl Store {
    /// Newest first; one more row than `limit` tells whether a page follows.
    pub(crate) async fn list(&self, f: &Filter) -> Result<Vec<Stored>, StoreError> {
        let db = self.db().await?;
        let mut sql = String::from(
            "SELECT id, time, method, route, path, status, duration_us, caller_kind, caller_id, ip, \
             request_id, error FROM request_log WHERE 1 = 1",
        );
        let like = f.q.as_ref().map(|q| {
            format!(
                "%{}%",
                q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
            )
        });
        let mut params: Vec<Param<'_>> = Vec::new();
        // Appends `clause` followed by the placeholder of `p`.
        fn cond<'a>(sql: &mut String, params: &mut Vec<Param<'a>>, clause: &str, p: Param<'a>) {
            params.push(p);
            sql.push_str(clause);
            sql.push('$');
            sql.push_str(&params.len().to_string());
        }
        let since = f.since.map(basalt_core::id::floor);
        let until = f.until.map(basalt_core::id::floor);
        if let Some(v) = &since {
            cond(&mut sql, &mut params, " AND id >= ", Param::Text(v));
        }
        if let Some(v) = &until {
            cond(&mut sql, &mut params, " AND id < ", Param::Text(v));
        }
        if let Some((lo, hi)) = f.status {
            cond(&mut sql, &mut params, " AND status >= ", Param::Int(lo));
            cond(&mut sql, &mut params, " AND status <= ", Param::Int(hi));
        }
        if let Some(v) = &f.route {
            cond(&mut sql, &mut params, " AND route = ", Param::Text(v));
        }
        if let Some(v) = &f.method {
            cond(&mut sql, &mut params, " AND method = ", Param::Text(v));
        }
        if let Some(v) = &f.caller_kind {
            cond(&mut sql, &mut params, " AND caller_kind = ", Param::Text(v));
        }
        if let Some(v) = &f.caller_id {
            cond(&mut sql, &mut params, " AND caller_id = ", Param::Text(v));
        }
        if let Some(v) = &f.after {
            cond(&mut sql, &mut params, " AND id < ", Param::Text(v));
        }
        if let (Some(q), Some(like)) = (&f.q, &like) {
            cond(&mut sql, &mut params, " AND (path LIKE ", Param::Text(like));
            cond(
                &mut sql,
                &mut params,
                " ESCAPE '\\' OR request_id = ",
                Param::Text(q),
            );
            cond(&mut sql, &mut params, " OR error = ", Param::Text(q));
            sql.push(')');
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", f.limit + 1));
        let rows = db.fetch_all(&sql, &params).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Stored {
                    id: r.text(0)?,
                    time: r.int(1)?,
                    method: crate::routes::static_method(&r.text(2)?),
                    route: r.text(3)?,
                    path: r.text(4)?,
                    status: u16::try_from(r.int(5)?).unwrap_or(0),
                    duration_us: r.int(6)?.max(0) as u64,
                    caller_kind: crate::routes::static_kind(&r.text(7)?),
                    caller_id: r.opt_text(8)?,
                    ip: r.text(9)?,
                    request_id: r.text(10)?,
                    error: r.opt_text(11)?.map(|c| crate::routes::static_code(&c)),
                })
            })
            .collect()
    }
}
