use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::StoreError;
use crate::value::{Param, Row, bind_pg, bind_sqlite};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The connection pools of the configured backend.
#[derive(Debug, Clone)]
pub enum Pools {
    /// Readers share `read`; every write goes through the one connection of `write`.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// A cheap-to-clone handle on the database.
#[derive(Debug, Clone)]
pub struct Db {
    pools: Arc<Pools>,
    /// Where the database lives, without credentials, for logs and banners.
    location: Arc<str>,
    /// Set when the database closes: listeners give back their connections.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    /// Who listens to which events, and the dispatcher's doorbell.
    outbox: Arc<crate::outbox::Directory>,
    /// Seals and opens the secrets stored in the database.
    vault: Arc<crate::vault::Vault>,
}

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
// Every pool is built with `idle_timeout(None)` and `max_lifetime(None)`:
// either starts sqlx 0.8's reaper task, whose idle count can wrap below zero
// and then spin a core at 100 % forever, hanging shutdown too (sqlx#3645).
// The pools are small and their connections long-lived by design.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a SQLite database's write-ahead log is copied back into it.
/// The writer never does it itself (`wal_autocheckpoint = 0`): SQLite's
/// automatic checkpoint runs inside the commit that crosses 1,000 pages,
/// and every write queued behind that commit waited for it (creates at one
/// connection had a p99 of 8 to 20 ms against a p50 of 0.4 ms, and at 32
/// connections up to 480 ms). A `PASSIVE` checkpoint on a connection of its
/// own copies what it can without holding up the writer or the readers.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

impl Db {
    /// Opens `database_url` (`postgres://…` or `sqlite:PATH`), or the SQLite
    /// file `basalt.db` in `data_dir` when no URL is given.
    pub async fn connect(
        database_url: Option<&str>,
        data_dir: &Path,
        max_connections: u32,
    ) -> Result<Db, StoreError> {
        match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let options = PgConnectOptions::from_str(url)?
                    .application_name("basalt")
                    .disable_statement_logging();
                let location = format!(
                    "postgres://{}:{}/{}",
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or("")
                );
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections.max(2))
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Ok(Db {
                    pools: Arc::new(Pools::Postgres(pool)),
                    location: location.into(),
                    closing: Arc::new(tokio::sync::watch::channel(false).0),
                    outbox: Arc::default(),
                    vault: Arc::default(),
                })
            }
            Some(url) => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .ok_or_else(|| {
                        StoreError::Other(sqlx::Error::Configuration(
                            "database URL must start with postgres://, postgresql:// or sqlite:".into(),
                        ))
                    })?;
                if path.is_empty() || path.starts_with(':') || path.contains('?') {
                    // The reader pool and the writer must share one file.
                    return Err(StoreError::Other(sqlx::Error::Configuration(
                        "a sqlite: URL must name a database file (no :memory:, no options)".into(),
                    )));
                }
                Self::open_sqlite(Path::new(path), max_connections).await
            }
            None => Self::open_sqlite(&data_dir.join("basalt.db"), max_connections).await,
        }
    }

    async fn open_sqlite(path: &Path, readers: u32) -> Result<Db, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A new data directory is the server's alone: it holds the
            // database with its keys, and the uploaded files.
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(dir)
                .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .disable_statement_logging();
        // The writer first: it creates the file and switches it to WAL. Switching
        // takes a lock that the busy timeout does not cover, so processes opening
        // a new file at the same moment retry for a while.
        let started = std::time::Instant::now();
        let write = loop {
            let attempt = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
                .await;
            match attempt.map_err(StoreError::from) {
                Ok(pool) => break pool,
                Err(StoreError::Unavailable(_)) if started.elapsed() < BUSY_TIMEOUT => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let read = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone().read_only(true))
            .await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let closing = Arc::new(tokio::sync::watch::channel(false).0);
        tokio::spawn(checkpoints(checkpointer, closing.subscribe()));
        Ok(Db {
            pools: Arc::new(Pools::Sqlite { read, write }),
            location: path.display().to_string().into(),
            closing,
            outbox: Arc::default(),
            vault: Arc::default(),
        })
    }

    /// This handle with `vault` sealing and opening stored secrets (set once,
    /// before the handle is shared).
    pub fn with_vault(mut self, vault: crate::vault::Vault) -> Db {
        self.vault = Arc::new(vault);
        self
    }

    /// Seals and opens the secrets stored in the database.
    pub fn vault(&self) -> &crate::vault::Vault {
        &self.vault
    }

    /// The outbox's directory of listeners (shared by every clone).
    pub fn outbox(&self) -> &crate::outbox::Directory {
        &self.outbox
    }

    pub fn backend(&self) -> Backend {
        match *self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// Where the database is (a file path, or host, port and database name).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Reads rows (SQLite: on the read pool).
    pub async fn fetch_all(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { read, .. } => bind_sqlite(sqlx::query(sql), params)
                .fetch_all(read)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Pools::Postgres(pool) => bind_pg(sqlx::query(sql), params)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    /// Reads at most one row (SQLite: on the read pool).
    pub async fn fetch_optional(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { read, .. } => bind_sqlite(sqlx::query(sql), params)
                .fetch_optional(read)
                .await?
                .map(Row::Sqlite),
            Pools::Postgres(pool) => bind_pg(sqlx::query(sql), params)
                .fetch_optional(pool)
                .await?
                .map(Row::Postgres),
        })
    }

    /// Runs a write and returns the number of rows it touched (SQLite: on the writer).
    pub async fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => bind_sqlite(sqlx::query(sql), params)
                .execute(write)
                .await?
                .rows_affected(),
            Pools::Postgres(pool) => bind_pg(sqlx::query(sql), params)
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// Inserts many rows: `insert` is `INSERT INTO t (a, b, c)`, `tail` what
    /// follows the values (`ON CONFLICT … DO NOTHING`, or empty), `params`
    /// the rows' values one row after another, `columns` to a row. Rows go
    /// in statements of bound values (64 rows, then 32, 16, … for the rest,
    /// so a table needs at most seven statements in the connection's cache),
    /// all in one transaction. Binding is far cheaper than having the
    /// database take a JSON document apart column by column.
    pub async fn insert_rows(
        &self,
        insert: &str,
        tail: &str,
        columns: usize,
        params: &[Param<'_>],
    ) -> Result<u64, StoreError> {
        if columns == 0 || !params.len().is_multiple_of(columns) {
            return Err(StoreError::Decode(
                "insert_rows: the values are not whole rows".into(),
            ));
        }
        let rows = params.len() / columns;
        let mut chunks = Vec::new();
        let mut done = 0;
        while done < rows {
            let left = rows - done;
            let n = if left >= INSERT_CHUNK {
                INSERT_CHUNK
            } else {
                1 << (usize::BITS - 1 - left.leading_zeros())
            };
            chunks.push((done, n));
            done += n;
        }
        let sql_for = |n: usize| insert_sql(insert, tail, columns, n);
        if let [(start, n)] = chunks[..] {
            return self
                .execute(&sql_for(n), &params[start * columns..(start + n) * columns])
                .await;
        }
        let mut tx = self.begin().await?;
        let mut affected = 0;
        for (start, n) in chunks {
            affected += tx
                .execute(&sql_for(n), &params[start * columns..(start + n) * columns])
                .await?;
        }
        tx.commit().await?;
        Ok(affected)
    }

    /// Starts a transaction (SQLite: on the writer, `BEGIN IMMEDIATE` so it
    /// holds the write lock from its first statement and never has to upgrade).
    ///
    /// On SQLite the writer is one connection: a task holding a `Tx` must not
    /// call [`Db::execute`] before committing, or it waits for itself.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => match write.begin_with("BEGIN IMMEDIATE").await {
                // A COMMIT that failed (a full disk) leaves the writer's
                // connection counting a transaction that SQLite has already
                // rolled back, and it would refuse every later BEGIN: close
                // it, and begin on a fresh one.
                Err(sqlx::Error::BeginFailed | sqlx::Error::InvalidSavePointStatement) => {
                    tracing::warn!("the database writer was left in a failed transaction; reopening it");
                    if let Ok(stuck) = write.acquire().await {
                        let _ = stuck.close().await;
                    }
                    Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?)
                }
                other => Tx::Sqlite(other?),
            },
            Pools::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// A read-only transaction whose reads all see one snapshot of the
    /// database (SQLite: a reader's WAL snapshot; PostgreSQL: REPEATABLE READ).
    pub async fn snapshot(&self) -> Result<Tx, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { read, .. } => Tx::Sqlite(read.begin().await?),
            Pools::Postgres(pool) => Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// Whether the database answers a trivial query within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let probe = async {
            match &*self.pools {
                Pools::Sqlite { read, write } => {
                    sqlx::query("SELECT 1").execute(read).await?;
                    // A writer busy with a long transaction is working, not down:
                    // probe it only when it is free.
                    if let Some(mut conn) = write.try_acquire() {
                        sqlx::query("SELECT 1").execute(&mut *conn).await?;
                    }
                }
                Pools::Postgres(pool) => {
                    sqlx::query("SELECT 1").execute(pool).await?;
                }
            }
            Ok::<_, StoreError>(())
        };
        match tokio::time::timeout(timeout, probe).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
    }

    /// `(pool name, open connections, idle connections)` for metrics.
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, u32)> {
        match &*self.pools {
            Pools::Sqlite { read, write } => vec![
                ("read", read.size(), read.num_idle() as u32),
                ("write", write.size(), write.num_idle() as u32),
            ],
            Pools::Postgres(pool) => vec![("postgres", pool.size(), pool.num_idle() as u32)],
        }
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        self.closing.send_replace(true);
        match &*self.pools {
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// Copies the write-ahead log back into the database every
/// [`CHECKPOINT_EVERY`] until the database closes (SQLite).
async fn checkpoints(pool: sqlx::SqlitePool, mut closing: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            _ = closing.changed() => break,
        }
        if *closing.borrow() {
            break;
        }
        // A full disk or a busy file: the next one tries again.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "sqlite: a checkpoint failed; trying again");
        }
    }
    pool.close().await;
}

/// Notifications on a PostgreSQL channel (`LISTEN`); reconnects by itself.
pub struct Listener {
    inner: Option<sqlx::postgres::PgListener>,
    closing: tokio::sync::watch::Receiver<bool>,
}

impl Listener {
    /// The next notification's payload; `Ok(None)` once the database closes
    /// (the listener's connection is then given back to the pool).
    pub async fn recv(&mut self) -> Result<Option<String>, StoreError> {
        let Some(l) = &mut self.inner else { return Ok(None) };
        if *self.closing.borrow() {
            self.inner = None;
            return Ok(None);
        }
        tokio::select! {
            n = l.recv() => Ok(Some(n?.payload().to_owned())),
            _ = self.closing.changed() => {
                self.inner = None;
                Ok(None)
            }
        }
    }
}

impl Db {
    /// Listens on a notification channel: `None` on SQLite, which has none
    /// (one node, whose writes are known in process).
    /// Wakes every node's [`Db::listen`]er of `channel` (PostgreSQL; on
    /// SQLite there is one node and nothing to wake).
    pub async fn notify(&self, channel: &str) -> Result<(), StoreError> {
        if let Pools::Postgres(_) = &*self.pools {
            self.execute("SELECT pg_notify($1, '')", &[channel.into()])
                .await?;
        }
        Ok(())
    }

    pub async fn listen(&self, channel: &str) -> Result<Option<Listener>, StoreError> {
        match &*self.pools {
            Pools::Sqlite { .. } => Ok(None),
            Pools::Postgres(pool) => {
                let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
                l.listen(channel).await?;
                Ok(Some(Listener {
                    inner: Some(l),
                    closing: self.closing.subscribe(),
                }))
            }
        }
    }
}

/// A transaction on either backend, with the same portable query API.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Most rows in one statement of [`Db::insert_rows`].
const INSERT_CHUNK: usize = 64;

/// `insert VALUES ($1, …, $c), …` for `rows` rows of `columns`, then `tail`.
fn insert_sql(insert: &str, tail: &str, columns: usize, rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(insert.len() + tail.len() + rows * columns * 6 + 8);
    sql.push_str(insert);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", r * columns + c + 1);
        }
        sql.push(')');
    }
    if !tail.is_empty() {
        sql.push(' ');
        sql.push_str(tail);
    }
    sql
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), params)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Tx::Postgres(tx) => bind_pg(sqlx::query(sql), params)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub async fn fetch_all(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), params)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Tx::Postgres(tx) => bind_pg(sqlx::query(sql), params)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Writes a consistent copy of the SQLite database at `source` to `dest`
/// (`VACUUM INTO`, on a connection of its own): a snapshot as of one
/// transaction, while writers go on. `dest` must not exist.
pub async fn sqlite_snapshot(source: &Path, dest: &Path) -> Result<(), StoreError> {
    use sqlx::Connection;
    let options = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        .busy_timeout(BUSY_TIMEOUT)
        .disable_statement_logging();
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    let dest = dest
        .to_str()
        .ok_or_else(|| StoreError::Decode("the snapshot path is not UTF-8".into()))?;
    sqlx::query("VACUUM INTO ?").bind(dest).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// `PRAGMA integrity_check` of the SQLite file at `path`: `ok`, or what is wrong.
pub async fn sqlite_integrity(path: &Path) -> Result<String, StoreError> {
    use sqlx::{Connection, Row};
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .disable_statement_logging();
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    let rows = sqlx::query("PRAGMA integrity_check").fetch_all(&mut conn).await?;
    conn.close().await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect::<Vec<_>>()
        .join("; "))
}

#[cfg(test)]
mod tests {
    use super::insert_sql;

    #[test]
    fn insert_statements_number_their_values() {
        assert_eq!(
            insert_sql("INSERT INTO t (a, b)", "", 2, 1),
            "INSERT INTO t (a, b) VALUES ($1, $2)"
        );
        assert_eq!(
            insert_sql("INSERT INTO t (a, b)", "ON CONFLICT DO NOTHING", 2, 3),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6) ON CONFLICT DO NOTHING"
        );
    }
}
