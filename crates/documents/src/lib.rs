//! The document store: collections with rules, a JSON Schema and indexes;
//! JSON documents with versions and optimistic concurrency; one query
//! language compiled to SQLite and PostgreSQL SQL and evaluated in memory;
//! batches; and the change feed that realtime tails.
#![forbid(unsafe_code)]

mod cache;
mod cases;
mod collections;
mod cursor;
mod document;
pub mod filter;
pub mod hooks;
pub mod live;
pub mod order;
pub mod patch;
pub mod query;
mod routes;
pub mod schema;
pub mod sql;
mod write;
mod writer;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use basalt_core::caller::BoxFuture;
use basalt_core::{Caller, Error, Timestamp};
use basalt_rules::{DocumentLookup, Rule, RuleContext, RuleEngine, RuleSource, auth_value, request_value};
use basalt_store::Db;
use rhai::Dynamic;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

pub use cases::api as cases_api;
pub use collections::{Collection, CollectionRules, IndexDef, storage_ddl};
pub use document::{Document, check_collection_name};
pub use filter::Filter;
pub use query::Query;
pub use routes::{api, operation};
pub use write::{Op, Operation, Outcome};
pub use writer::Change;

/// Internals that parse untrusted input, for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::cursor::CursorKey;
    pub use crate::document::{COLLECTION_PATTERN, ID_PATTERN, check_id, encode_data};
}

use collections::{Cache, Loaded, RuleOp};
use sql::Dialect;
use writer::Writer;

/// Settings of the document store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest `data`, in bytes of JSON.
    pub max_document_bytes: usize,
    /// How long the change feed keeps a change.
    pub change_retention: Duration,
}

/// The documents slice's state.
#[derive(Clone)]
pub struct Documents {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    dialect: Dialect,
    engine: Arc<RuleEngine>,
    cache: Cache,
    writer: Writer,
    feed: broadcast::Sender<Arc<Change>>,
    settings: Settings,
    cursor_key: cursor::CursorKey,
    recent: Arc<cache::DocumentCache>,
    /// Per-document turns for writers on this node (striped).
    turns: Vec<tokio::sync::Mutex<()>>,
    /// The before-triggers, once the functions slice is up.
    hooks: std::sync::OnceLock<Arc<dyn hooks::BeforeHooks>>,
}

/// How many locks document writers are spread over.
const TURN_STRIPES: usize = 1024;

/// Who is asking, for rules.
pub struct Access<'a> {
    pub caller: &'a Caller,
    pub ip: IpAddr,
    pub method: &'static str,
}

/// Rule inputs that are the same for every document of one request.
struct Scope {
    auth: Dynamic,
    request: Dynamic,
}

impl Access<'_> {
    fn scope(&self, operation: &str) -> Scope {
        Scope {
            auth: auth_value(self.caller),
            request: request_value(
                self.method,
                Timestamp::now().millis(),
                &self.ip.to_string(),
                operation,
            ),
        }
    }
}

impl Documents {
    pub async fn start(db: Db, engine: Arc<RuleEngine>, settings: Settings) -> Result<Documents, Error> {
        let (feed, _) = broadcast::channel(16_384);
        let cursor_key = cursor::CursorKey::new(cursor_key(&db).await?);
        // Only where every write passes through this process (one SQLite node).
        let recent = Arc::new(cache::DocumentCache::new(
            db.backend() == basalt_store::Backend::Sqlite,
        ));
        let documents = Documents {
            inner: Arc::new(Inner {
                dialect: collections::dialect(db.backend()),
                writer: Writer::start(db.clone(), feed.clone(), recent.clone()),
                recent,
                db,
                engine,
                cache: Cache::default(),
                feed,
                settings,
                cursor_key,
                turns: (0..TURN_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
                hooks: std::sync::OnceLock::new(),
            }),
        };
        spawn_feed_sweeper(Arc::downgrade(&documents.inner));
        Ok(documents)
    }

    /// Sets the before-triggers (once; later calls are ignored).
    pub fn set_hooks(&self, hooks: Arc<dyn hooks::BeforeHooks>) {
        let _ = self.inner.hooks.set(hooks);
    }

    /// A stage: writes that commit together (with an outbox delivery they
    /// complete), seeing each other before they do.
    pub fn stage(&self) -> hooks::Stage {
        hooks::Stage::new(self.clone())
    }

    /// Waits for the writer turns `turns` (from [`hooks::Stage::turns`],
    /// sorted): while they are held, no other writer of those documents on
    /// this node prepares a write. Taken in order and all before any work,
    /// so two holders never wait on each other.
    pub async fn take_turns(&self, turns: &[usize]) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut held = Vec::with_capacity(turns.len());
        for &t in turns {
            held.push(self.inner.turns[t % TURN_STRIPES].lock().await);
        }
        held
    }

    /// How long committed changes stay in the feed for resuming subscribers.
    pub fn change_retention(&self) -> std::time::Duration {
        self.inner.settings.change_retention
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Every change committed by this process, after commit, in commit order.
    pub fn changes(&self) -> broadcast::Receiver<Arc<Change>> {
        self.inner.feed.subscribe()
    }

    /// Removes changes older than the retention from the feed.
    pub async fn sweep_feed(&self) -> Result<u64, Error> {
        let cutoff = Timestamp::now().millis() - self.inner.settings.change_retention.as_millis() as i64;
        Ok(self
            .db()
            // The newest change stays, so the feed's position survives a quiet
            // spell: a subscriber that saw it (or a checkpoint) can still resume.
            .execute(
                "DELETE FROM changes WHERE committed_at < $1 AND seq < (SELECT MAX(seq) FROM changes)",
                &[cutoff.into()],
            )
            .await?)
    }

    /// A collection, compiled, from the cache or the database.
    async fn collection(&self, name: &str) -> Result<Arc<Loaded>, Error> {
        if let Some(l) = self.inner.cache.get(name) {
            return Ok(l);
        }
        document::check_collection_name(name)?;
        let sql = format!("SELECT {} FROM collections WHERE name = $1", collections::COLUMNS);
        let row = self
            .db()
            .fetch_optional(&sql, &[name.into()])
            .await?
            .ok_or_else(|| Error::not_found(format!("no collection named `{name}`")))?;
        let loaded = Arc::new(collections::from_row(&row, &self.inner.engine)?);
        self.inner.cache.put(loaded.clone());
        Ok(loaded)
    }

    /// One stored document, bypassing rules.
    async fn read(&self, c: &Loaded, id: &str) -> Result<Option<Document>, Error> {
        let epoch = match self.inner.recent.get(&c.table, id) {
            Ok(doc) => return Ok(Some(doc)),
            Err(epoch) => epoch,
        };
        let data = self.data_column();
        let sql = format!(
            "SELECT version, created_at, updated_at, {data} FROM \"{}\" WHERE id = $1",
            c.table
        );
        let row = self
            .db()
            .fetch_optional(&sql, &[id.into()])
            .await
            .map_err(|e| gone(e, &c.def.name))?;
        let doc = row
            .map(|r| {
                Ok::<_, Error>(Document {
                    id: id.to_owned(),
                    version: r.int(0)?,
                    created_at: r.int(1)?,
                    updated_at: r.int(2)?,
                    data: r.text(3)?,
                })
            })
            .transpose()?;
        if let Some(d) = &doc {
            self.inner.recent.fill(&c.table, d, epoch);
        }
        Ok(doc)
    }

    fn data_column(&self) -> &'static str {
        match self.inner.dialect {
            Dialect::Sqlite => "data",
            Dialect::Postgres => "data::text",
        }
    }

    /// Runs `op`'s rule unless the caller bypasses rules; `Ok(false)` when it denies.
    async fn allowed(
        &self,
        c: &Loaded,
        op: RuleOp,
        scope: &Scope,
        doc: Option<&Document>,
        data: Option<&Map<String, Value>>,
    ) -> bool {
        let Some(rule) = c.rule(op) else { return false };
        self.evaluate(c, rule, scope, doc, data).await
    }

    async fn evaluate(
        &self,
        c: &Loaded,
        rule: &Rule,
        scope: &Scope,
        doc: Option<&Document>,
        data: Option<&Map<String, Value>>,
    ) -> bool {
        let mut ctx =
            RuleContext::new(scope.auth.clone(), scope.request.clone()).with_collection(&c.def.name);
        if let Some(d) = doc {
            ctx = ctx.with_doc(d.rule_value());
        }
        if let Some(data) = data {
            ctx = ctx.with_data(basalt_rules::json_value(&Value::Object(data.clone())));
        }
        let decision = self.inner.engine.evaluate(rule, &ctx, self).await;
        if let Some(e) = &decision.error {
            tracing::debug!(collection = %c.def.name, error = %e, "rule denied with an error");
        }
        decision.allowed
    }

    /// Refuses with 403 unless the caller may `op`.
    async fn require(
        &self,
        c: &Loaded,
        op: RuleOp,
        access: &Access<'_>,
        request_op: &str,
        doc: Option<&Document>,
        data: Option<&Map<String, Value>>,
    ) -> Result<(), Error> {
        if access.caller.is_privileged() {
            return Ok(());
        }
        let scope = access.scope(request_op);
        if self.allowed(c, op, &scope, doc, data).await {
            Ok(())
        } else {
            Err(denied(c, op))
        }
    }

    /// A document as the caller may see it (404 when it is missing, 403 when the read rule denies).
    pub async fn get(&self, collection: &str, id: &str, access: &Access<'_>) -> Result<Document, Error> {
        document::check_id(id)?;
        let c = self.collection(collection).await?;
        let doc = self.read(&c, id).await?;
        if access.caller.is_privileged() {
            return doc.ok_or_else(|| not_found(collection, id));
        }
        let Some(doc) = doc else {
            return Err(self.missing(&c, id, access, RuleOp::Read, "get").await);
        };
        self.require(&c, RuleOp::Read, access, "get", Some(&doc), None)
            .await?;
        Ok(doc)
    }

    /// What a caller hears of a document that does not exist, when they
    /// asked to `op` it: `404` if the read rule lets them read a document
    /// that is not there (evaluated with `doc` unset, so a rule on the
    /// document's fields does not), else the refusal they would get for a
    /// document that exists. A caller the rules deny cannot tell an id in
    /// use from a free one.
    pub(crate) async fn missing(
        &self,
        c: &Loaded,
        id: &str,
        access: &Access<'_>,
        op: RuleOp,
        request_op: &str,
    ) -> Error {
        if access.caller.is_privileged()
            || self
                .allowed(c, RuleOp::Read, &access.scope(request_op), None, None)
                .await
        {
            not_found(&c.def.name, id)
        } else {
            denied(c, op)
        }
    }

    /// Document counts per collection, by name.
    pub async fn stats(&self) -> Result<Vec<(String, i64)>, Error> {
        let rows = self
            .db()
            .fetch_all("SELECT name, tbl FROM collections ORDER BY name", &[])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (name, table) = (r.text(0)?, r.text(1)?);
            let count = self
                .db()
                .fetch_optional(&format!("SELECT count(*) FROM \"{table}\""), &[])
                .await?
                .map(|r| r.int(0))
                .transpose()?
                .unwrap_or(0);
            out.push((name, count));
        }
        Ok(out)
    }
}

/// A collection deleted on another node is still in this node's cache for a
/// moment; its table is gone, and so is the collection.
fn gone(e: basalt_store::StoreError, collection: &str) -> Error {
    if e.is_missing_table() {
        Error::not_found(format!("no collection named `{collection}`"))
    } else {
        e.into()
    }
}

fn denied(c: &Loaded, op: RuleOp) -> Error {
    if c.rule(op).is_none() {
        Error::permission_denied(format!(
            "collection `{}` has no {} rule, so only admins and service keys may do this",
            c.def.name,
            op.name()
        ))
    } else {
        Error::permission_denied(format!(
            "the `{}` collection's {} rule does not allow this",
            c.def.name,
            op.name()
        ))
    }
}

fn not_found(collection: &str, id: &str) -> Error {
    Error::not_found(format!("no document `{id}` in `{collection}`"))
}

impl DocumentLookup for Documents {
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, basalt_core::Result<Option<Value>>> {
        Box::pin(async move {
            if document::check_id(id).is_err() {
                return Ok(None);
            }
            let c = match self.collection(collection).await {
                Ok(c) => c,
                Err(e)
                    if e.code() == basalt_core::Code::NotFound
                        || e.code() == basalt_core::Code::InvalidArgument =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let Some(doc) = self.read(&c, id).await? else {
                return Ok(None);
            };
            Ok(Some(json!({
                "id": doc.id,
                "version": doc.version,
                "created_at": doc.created_at,
                "updated_at": doc.updated_at,
                "data": Value::Object(doc.parse_data()?),
            })))
        })
    }
}

impl RuleSource for Documents {
    fn rule<'a>(
        &'a self,
        collection: &'a str,
        operation: &'a str,
    ) -> BoxFuture<'a, basalt_core::Result<Option<Rule>>> {
        Box::pin(async move {
            let c = self.collection(collection).await?;
            let op = match operation {
                "read" => RuleOp::Read,
                "create" => RuleOp::Create,
                "update" => RuleOp::Update,
                _ => RuleOp::Delete,
            };
            Ok(c.rule(op).cloned())
        })
    }
}

/// The key that seals query cursors, the same on every node.
async fn cursor_key(db: &Db) -> Result<Vec<u8>, Error> {
    Ok(basalt_store::vault::server_key(db, "cursor_key").await?)
}

/// Drops expired changes from the feed every 30 seconds while the slice lives.
fn spawn_feed_sweeper(inner: std::sync::Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            let documents = Documents { inner };
            if let Err(e) = documents.sweep_feed().await {
                tracing::warn!(error = %e.message(), "change feed sweep failed");
            }
        }
    });
}
