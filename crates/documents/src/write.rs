//! Writes: collections (with their tables and indexes) and documents
//! (create, set, update, delete, batch). A document write reads the stored
//! document, checks preconditions, rules and the schema, then commits only
//! if the document is still at the version it read; a lost race reads again.

use std::sync::Arc;

use basalt_core::{Code, Error, Timestamp};
use basalt_store::Param;
use basalt_store::audit::{self, Actor};
use serde_json::{Map, Value, json};

use std::borrow::Cow;

use crate::collections::{self, Collection, CollectionRules, IndexDef, Loaded, RuleOp};
use crate::document::{self, Document};
use crate::hooks::{self, BeforeCall, Stage};
use crate::patch::Patch;
use crate::schema::Schema;
use crate::writer::{CommitFailure, Expect, Failure, Write};
use crate::{Access, Documents};

/// `If-Match: *`: any version, as long as the document exists.
pub const ANY_VERSION: i64 = -1;
/// Most operations in one batch.
pub const MAX_BATCH: usize = 500;
/// How often a write that keeps losing races is tried before 409 `aborted`.
const ATTEMPTS: usize = 8;
/// Names the HTTP routes use for themselves.
const RESERVED: [&str; 2] = ["collections", "batch"];

/// One document operation.
#[derive(Debug, Clone)]
pub enum Op {
    Create {
        id: Option<String>,
        data: Map<String, Value>,
    },
    Set {
        id: String,
        data: Map<String, Value>,
    },
    Update {
        id: String,
        patch: Patch,
    },
    Delete {
        id: String,
    },
}

impl Op {
    pub(crate) fn id(&self) -> Option<&str> {
        match self {
            Op::Create { id, .. } => id.as_deref(),
            Op::Set { id, .. } | Op::Update { id, .. } | Op::Delete { id } => Some(id),
        }
    }
}

/// One operation of a batch (or a single request).
#[derive(Debug, Clone)]
pub struct Operation {
    pub collection: String,
    pub op: Op,
    /// `If-Match` / `if_version`: the version the stored document must have.
    pub if_version: Option<i64>,
}

/// What a committed operation left: the document, or `None` after a delete;
/// and whether it was created.
pub struct Outcome {
    pub document: Option<Document>,
    pub created: bool,
}

pub struct NewCollection {
    pub name: String,
    pub rules: CollectionRules,
    pub schema: Option<Value>,
    pub indexes: Vec<IndexDef>,
}

/// A change to a collection; absent fields stay as they are.
pub struct CollectionPatch {
    pub rules: Option<CollectionRules>,
    /// `Some(None)` removes the schema.
    pub schema: Option<Option<Value>>,
    pub indexes: Option<Vec<IndexDef>>,
}

impl Documents {
    /// Compiles each rule; an error names its rule in `details.rule`, so
    /// an editor can put it at its line in the right one.
    fn check_rules(&self, rules: &CollectionRules) -> Result<(), Error> {
        let named = [
            ("read", &rules.read),
            ("create", &rules.create),
            ("update", &rules.update),
            ("delete", &rules.delete),
        ];
        for (name, rule) in named {
            let Some(rule) = rule else { continue };
            self.inner.engine.compile(rule).map_err(|e| {
                let e = Error::from(e);
                let mut details = e.details().cloned().unwrap_or_else(|| json!({}));
                if let Some(map) = details.as_object_mut() {
                    map.insert("rule".into(), name.into());
                }
                Error::new(e.code(), format!("the {name} rule: {}", e.message())).with_details(details)
            })?;
        }
        Ok(())
    }

    pub async fn list_collections(&self) -> Result<Vec<Collection>, Error> {
        let sql = format!("SELECT {} FROM collections ORDER BY name", collections::COLUMNS);
        let rows = self.db().fetch_all(&sql, &[]).await?;
        rows.iter()
            .map(|r| collections::from_row(r, &self.inner.engine).map(|l| l.def))
            .collect()
    }

    pub async fn get_collection(&self, name: &str) -> Result<Collection, Error> {
        self.inner.cache.forget(name);
        Ok(self.collection(name).await?.def.clone())
    }

    pub async fn create_collection(&self, new: NewCollection, actor: Actor<'_>) -> Result<Collection, Error> {
        document::check_collection_name(&new.name)?;
        if RESERVED.contains(&new.name.as_str()) {
            return Err(Error::invalid_argument(format!(
                "`{}` is reserved by the API's paths",
                new.name
            )));
        }
        self.check_rules(&new.rules)?;
        if let Some(s) = &new.schema {
            Schema::compile(s)?;
        }
        let indexes = collections::check_indexes(&new.indexes)?;
        let dialect = self.inner.dialect;
        let table = format!("docs_{}", basalt_core::secret::random_hex(8));
        let now = Timestamp::now();
        let mut tx = self.db().begin().await?;
        let schema_text = new.schema.as_ref().map(|s| s.to_string());
        let inserted = tx
            .execute(
                "INSERT INTO collections (name, tbl, rules, schema, indexes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO NOTHING",
                &[
                    (&new.name).into(),
                    (&table).into(),
                    Param::Text(&serde_json::to_string(&new.rules).map_err(Error::internal)?),
                    schema_text.as_deref().into(),
                    Param::Text(&serde_json::to_string(&new.indexes).map_err(Error::internal)?),
                    now.millis().into(),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(Error::already_exists(format!(
                "a collection named `{}` exists",
                new.name
            )));
        }
        tx.execute(&collections::table_ddl(dialect, &table), &[]).await?;
        for (i, (fields, def)) in indexes.iter().zip(&new.indexes).enumerate() {
            for ddl in collections::index_ddl(dialect, &table, i, fields, def.unique) {
                tx.execute(&ddl, &[]).await.map_err(collections::ddl_error)?;
            }
        }
        let after =
            json!({"name": new.name, "rules": new.rules, "schema": new.schema, "indexes": new.indexes});
        audit::record(
            &mut tx,
            actor,
            audit::Change {
                action: "collection.create",
                target: &new.name,
                before: None,
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        self.inner.cache.forget(&new.name);
        self.get_collection(&new.name).await
    }

    pub async fn update_collection(
        &self,
        name: &str,
        patch: CollectionPatch,
        actor: Actor<'_>,
    ) -> Result<Collection, Error> {
        self.inner.cache.forget(name);
        let current = self.collection(name).await?;
        let rules = patch.rules.unwrap_or_else(|| current.def.rules.clone());
        self.check_rules(&rules)?;
        let schema = patch.schema.unwrap_or_else(|| current.def.schema.clone());
        if let Some(s) = &schema {
            Schema::compile(s)?;
        }
        let new_indexes = patch.indexes.clone();
        let indexes = new_indexes.clone().unwrap_or_else(|| current.def.indexes.clone());
        let parsed = collections::check_indexes(&indexes)?;
        let dialect = self.inner.dialect;
        let mut tx = self.db().begin().await?;
        let schema_text = schema.as_ref().map(|s| s.to_string());
        let changed = tx
            .execute(
                "UPDATE collections SET rules = $2, schema = $3, indexes = $4, updated_at = $5 WHERE name = $1 AND tbl = $6",
                &[
                    name.into(),
                    Param::Text(&serde_json::to_string(&rules).map_err(Error::internal)?),
                    schema_text.as_deref().into(),
                    Param::Text(&serde_json::to_string(&indexes).map_err(Error::internal)?),
                    Timestamp::now().millis().into(),
                    (&current.table).into(),
                ],
            )
            .await?;
        if changed == 0 {
            return Err(Error::new(
                Code::Aborted,
                "the collection changed meanwhile; try again",
            ));
        }
        if new_indexes.is_some_and(|n| n != current.def.indexes) {
            for ddl in collections::drop_indexes_ddl(&current.table, current.def.indexes.len()) {
                tx.execute(&ddl, &[]).await?;
            }
            for (i, (fields, def)) in parsed.iter().zip(&indexes).enumerate() {
                for ddl in collections::index_ddl(dialect, &current.table, i, fields, def.unique) {
                    tx.execute(&ddl, &[]).await.map_err(collections::ddl_error)?;
                }
            }
        }
        let before = json!({"name": name, "rules": current.def.rules, "schema": current.def.schema, "indexes": current.def.indexes});
        let after = json!({"name": name, "rules": rules, "schema": schema, "indexes": indexes});
        audit::record(
            &mut tx,
            actor,
            audit::Change {
                action: "collection.update",
                target: name,
                before: Some(before.to_string()),
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        self.inner.cache.forget(name);
        self.get_collection(name).await
    }

    /// Deletes a collection and every document in it.
    pub async fn delete_collection(&self, name: &str, actor: Actor<'_>) -> Result<(), Error> {
        self.inner.cache.forget(name);
        let current = self.collection(name).await?;
        let mut tx = self.db().begin().await?;
        tx.execute(
            "DELETE FROM collections WHERE name = $1 AND tbl = $2",
            &[name.into(), (&current.table).into()],
        )
        .await?;
        tx.execute(&format!("DROP TABLE IF EXISTS \"{}\"", current.table), &[])
            .await?;
        let before = json!({"name": name, "rules": current.def.rules, "schema": current.def.schema, "indexes": current.def.indexes});
        audit::record(
            &mut tx,
            actor,
            audit::Change {
                action: "collection.delete",
                target: name,
                before: Some(before.to_string()),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        self.inner.cache.forget(name);
        // Cases are about the rules that just went; a failure leaves them
        // for a collection made again with the name.
        if let Err(e) = self.forget_cases(name).await {
            tracing::warn!(collection = name, error = %e.message(), "could not remove a deleted collection's rule cases");
        }
        Ok(())
    }

    /// Runs one operation (a single HTTP request).
    pub async fn write(&self, operation: Operation, access: &Access<'_>) -> Result<Outcome, Error> {
        let mut outcomes = self.batch(vec![operation], access).await.map_err(|e| {
            // A single operation's error carries no batch index; the rest
            // of its details (schema errors, a reason) stay.
            let mut plain = Error::new(e.code(), e.message().to_owned());
            if let Some(Value::Object(details)) = e.details() {
                let mut details = details.clone();
                details.remove("index");
                if !details.is_empty() {
                    plain = plain.with_details(Value::Object(details));
                }
            }
            plain
        })?;
        Ok(outcomes.remove(0))
    }

    /// Runs operations all together or not at all. An error names the
    /// failing operation in `details.index`.
    pub async fn batch(
        &self,
        operations: Vec<Operation>,
        access: &Access<'_>,
    ) -> Result<Vec<Outcome>, Error> {
        if operations.is_empty() {
            return Err(Error::invalid_argument("a batch needs at least one operation"));
        }
        if operations.len() > MAX_BATCH {
            return Err(Error::invalid_argument(format!(
                "a batch takes at most {MAX_BATCH} operations, got {}",
                operations.len()
            )));
        }
        // Generated ids are fixed once, so a retry creates the same documents.
        let mut fresh = Vec::with_capacity(operations.len());
        let operations: Vec<Operation> = operations
            .into_iter()
            .map(|mut o| {
                let generated = matches!(o.op, Op::Create { id: None, .. });
                if let Op::Create { id: id @ None, .. } = &mut o.op {
                    *id = Some(basalt_core::id::new_id());
                }
                fresh.push(generated);
                o
            })
            .collect();
        // Writers of one document on this node take turns instead of racing
        // (racing writers would mostly retry); other nodes are still caught
        // by the version check at commit.
        let mut stripes: Vec<usize> = operations
            .iter()
            .zip(&fresh)
            .filter(|(_, fresh)| !**fresh)
            .map(|(o, _)| stripe(&o.collection, o.op.id().unwrap_or_default()))
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut _turns = Vec::with_capacity(stripes.len());
        for s in stripes {
            _turns.push(self.inner.turns[s].lock().await);
        }
        for attempt in 0.. {
            let (writes, jobs, outcomes) = self.prepare_all(&operations, &fresh, access).await?;
            match self.inner.writer.commit_completing(writes, None, jobs).await {
                Ok(_) => return Ok(outcomes),
                Err(CommitFailure {
                    failure: Failure::Conflict,
                    ..
                }) if attempt + 1 < ATTEMPTS => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(f) => return Err(commit_error(f, &operations)),
            }
        }
        unreachable!("the loop returns")
    }

    async fn prepare_all(
        &self,
        operations: &[Operation],
        fresh: &[bool],
        access: &Access<'_>,
    ) -> Result<(Vec<Write>, Vec<basalt_store::outbox::Delivery>, Vec<Outcome>), Error> {
        // What earlier operations of this batch (and the writes their
        // before-triggers staged) left, by (collection, id).
        let stage = Stage::new(self.clone());
        let mut outcomes = Vec::with_capacity(operations.len());
        let now = Timestamp::now();
        for (index, o) in operations.iter().enumerate() {
            let at = |e: Error| with_index(e, index);
            let c = self.collection(&o.collection).await.map_err(at)?;
            let id = o.op.id().unwrap_or_default().to_owned();
            document::check_id(&id).map_err(at)?;
            let key = (o.collection.clone(), id.clone());
            let staged = stage.lock().pending.get(&key).cloned();
            let current = match staged {
                Some(state) => state,
                // A fresh generated id has no stored document to read.
                None if fresh[index] => None,
                None => self.read(&c, &id).await.map_err(at)?,
            };
            let (write, outcome) = self
                .prepare(&c, o, &id, current, access, now, Some(&stage))
                .await
                .map_err(at)?;
            let mut state = stage.lock();
            state.pending.insert(key, outcome.document.clone());
            state.writes.push(write);
            outcomes.push(outcome);
        }
        let mut state = stage.lock();
        let writes = std::mem::take(&mut state.writes);
        let jobs = std::mem::take(&mut state.outbox);
        Ok((writes, jobs, outcomes))
    }

    /// Runs the collection's before-trigger for `event`, if it has one:
    /// the data to write instead (`None`: as it is), or the refusal.
    #[allow(clippy::too_many_arguments)]
    async fn before(
        &self,
        c: &Loaded,
        event: &'static str,
        id: &str,
        data: Option<&Map<String, Value>>,
        old: Option<&Document>,
        access: &Access<'_>,
        stage: Option<&Stage>,
    ) -> Result<Option<Map<String, Value>>, Error> {
        let (Some(stage), Some(hooks)) = (stage, self.inner.hooks.get()) else {
            return Ok(None);
        };
        if !hooks.listens(&c.def.name, event) {
            return Ok(None);
        }
        let document = old
            .map(|d| d.to_json(&c.def.name))
            .transpose()?
            .map(|j| serde_json::from_str::<Value>(&j).map_err(Error::internal))
            .transpose()?;
        let key = (c.def.name.clone(), id.to_owned());
        stage.lock().guarded = Some(key);
        let result = hooks
            .run(BeforeCall {
                collection: c.def.name.clone(),
                event,
                id: id.to_owned(),
                data: data.cloned(),
                document,
                caller: access.caller.clone(),
                stage: stage.clone(),
            })
            .await;
        stage.lock().guarded = None;
        result
    }

    /// Checks one operation against the stored document and builds its
    /// write. With a `stage`, the collection's before-trigger runs first
    /// (writes that before-triggers stage run none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn prepare(
        &self,
        c: &Arc<Loaded>,
        o: &Operation,
        id: &str,
        current: Option<Document>,
        access: &Access<'_>,
        now: Timestamp,
        stage: Option<&Stage>,
    ) -> Result<(Write, Outcome), Error> {
        let (mut write, outcome) = self.prepare_write(c, o, id, current, access, now, stage).await?;
        write.outbox = hooks::deliveries(
            self.db(),
            &c.def.name,
            write.op(),
            &write.change,
            write.previous.as_deref(),
        );
        Ok((write, outcome))
    }

    #[allow(clippy::too_many_arguments)]
    async fn prepare_write(
        &self,
        c: &Arc<Loaded>,
        o: &Operation,
        id: &str,
        current: Option<Document>,
        access: &Access<'_>,
        now: Timestamp,
        stage: Option<&Stage>,
    ) -> Result<(Write, Outcome), Error> {
        let max = self.inner.settings.max_document_bytes;
        if let (Some(want), Some(doc)) = (o.if_version, &current)
            && want != doc.version
            && want != ANY_VERSION
        {
            return Err(Error::new(
                Code::FailedPrecondition,
                format!("the document is at version {}, not {want}", doc.version),
            ));
        }
        if let (Some(want), None) = (o.if_version, &current) {
            let message = if want == ANY_VERSION {
                "the document does not exist (`If-Match: *`)".to_owned()
            } else {
                format!("the document does not exist, so it is not at version {want}")
            };
            return Err(Error::new(Code::FailedPrecondition, message));
        }
        let write = |after: Option<Document>, expect: Expect, exists_is_error: bool, change: String| Write {
            collection: c.clone(),
            id: id.to_owned(),
            expect,
            exists_is_error,
            after,
            change: change.into(),
            previous: None,
            outbox: Vec::new(),
        };
        match (&o.op, current) {
            (Op::Create { data, .. }, Some(_)) => {
                // Only a caller allowed to create learns that the id is taken.
                self.require(c, RuleOp::Create, access, "create", None, Some(data))
                    .await?;
                Err(Error::already_exists(format!(
                    "a document with id `{id}` exists in `{}`",
                    c.def.name
                )))
            }
            (Op::Create { data, .. }, None) | (Op::Set { data, .. }, None) => {
                let data = match self
                    .before(c, "before_create", id, Some(data), None, access, stage)
                    .await?
                {
                    Some(changed) => Cow::Owned(changed),
                    None => Cow::Borrowed(data),
                };
                let data = data.as_ref();
                self.require(c, RuleOp::Create, access, "create", None, Some(data))
                    .await?;
                self.check_data(c, data)?;
                let doc = Document {
                    id: id.to_owned(),
                    version: 1,
                    created_at: now.millis(),
                    updated_at: now.millis(),
                    data: document::encode_data(data, max)?,
                };
                let change = doc.to_json(&c.def.name)?;
                let exists_is_error = matches!(o.op, Op::Create { .. });
                Ok((
                    write(Some(doc.clone()), Expect::Absent, exists_is_error, change),
                    Outcome {
                        document: Some(doc),
                        created: true,
                    },
                ))
            }
            (Op::Set { data, .. }, Some(old)) => {
                let data = match self
                    .before(c, "before_update", id, Some(data), Some(&old), access, stage)
                    .await?
                {
                    Some(changed) => Cow::Owned(changed),
                    None => Cow::Borrowed(data),
                };
                let data = data.as_ref();
                self.require(c, RuleOp::Update, access, "update", Some(&old), Some(data))
                    .await?;
                self.check_data(c, data)?;
                self.replace(c, old, data, now, write)
            }
            (Op::Update { patch, .. }, Some(old)) => {
                let old_data = old.parse_data()?;
                let mut data = old_data.clone();
                patch.apply(&mut data, now)?;
                if let Some(changed) = self
                    .before(c, "before_update", id, Some(&data), Some(&old), access, stage)
                    .await?
                {
                    data = changed;
                }
                self.require(c, RuleOp::Update, access, "update", Some(&old), Some(&data))
                    .await?;
                self.check_data(c, &data)?;
                self.replace(c, old, &data, now, write)
            }
            (Op::Delete { .. }, Some(old)) => {
                self.before(c, "before_delete", id, None, Some(&old), access, stage)
                    .await?;
                self.require(c, RuleOp::Delete, access, "delete", Some(&old), None)
                    .await?;
                let change = old.to_json(&c.def.name)?;
                Ok((
                    write(None, Expect::Version(old.version), false, change),
                    Outcome {
                        document: None,
                        created: false,
                    },
                ))
            }
            (Op::Update { .. }, None) => Err(self.missing(c, id, access, RuleOp::Update, "update").await),
            (Op::Delete { .. }, None) => Err(self.missing(c, id, access, RuleOp::Delete, "delete").await),
        }
    }

    fn replace(
        &self,
        c: &Loaded,
        old: Document,
        data: &Map<String, Value>,
        now: Timestamp,
        write: impl FnOnce(Option<Document>, Expect, bool, String) -> Write,
    ) -> Result<(Write, Outcome), Error> {
        let doc = Document {
            id: old.id.clone(),
            version: old.version + 1,
            created_at: old.created_at,
            // Never backwards, even if this node's clock is behind the last writer's.
            updated_at: now.millis().max(old.updated_at),
            data: document::encode_data(data, self.inner.settings.max_document_bytes)?,
        };
        let change = doc.to_json(&c.def.name)?;
        let previous = old.to_json(&c.def.name)?;
        let mut w = write(Some(doc.clone()), Expect::Version(old.version), false, change);
        w.previous = Some(previous.into());
        Ok((
            w,
            Outcome {
                document: Some(doc),
                created: false,
            },
        ))
    }

    /// The collection's JSON Schema: 422 with every failure.
    fn check_data(&self, c: &Loaded, data: &Map<String, Value>) -> Result<(), Error> {
        let Some(schema) = &c.schema else { return Ok(()) };
        let errors = schema.validate(&Value::Object(data.clone()));
        if errors.is_empty() {
            return Ok(());
        }
        Err(Error::new(
            Code::ValidationFailed,
            format!(
                "the document does not match the `{}` collection's schema: {}",
                c.def.name,
                errors
                    .iter()
                    .map(|e| format!(
                        "{} {}",
                        if e.path.is_empty() { "data" } else { &e.path },
                        e.message
                    ))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
        .with_details(json!({ "errors": errors })))
    }
}

/// Which of the [`crate::TURN_STRIPES`] locks a document's writers share.
pub(crate) fn stripe(collection: &str, id: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (collection, id).hash(&mut h);
    (h.finish() % crate::TURN_STRIPES as u64) as usize
}

/// Adds `details.index` (keeping other details).
fn with_index(e: Error, index: usize) -> Error {
    let mut details = e.details().cloned().unwrap_or_else(|| json!({}));
    if let Some(d) = details.as_object_mut() {
        d.insert("index".into(), index.into());
    }
    e.with_details(details)
}

fn commit_error(f: CommitFailure, operations: &[Operation]) -> Error {
    let o = operations.get(f.index);
    let collection = o.map_or("", |o| o.collection.as_str());
    let id = o.and_then(|o| o.op.id()).unwrap_or_default();
    let e = match f.failure {
        Failure::Conflict => Error::new(
            Code::Aborted,
            "the document kept changing while this write was prepared; try again",
        ),
        Failure::AlreadyExists => {
            Error::already_exists(format!("a document with id `{id}` exists in `{collection}`"))
        }
        Failure::UniqueIndex => Error::already_exists(format!(
            "another document in `{collection}` has the same values for a unique index"
        )),
        Failure::Gone => Error::not_found(format!("no collection named `{collection}`")),
        Failure::LeaseLost => Error::new(Code::Aborted, "the work this write completes was taken over"),
        Failure::Error(e) => e,
    };
    with_index(e, f.index)
}
