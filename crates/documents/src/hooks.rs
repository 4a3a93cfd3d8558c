//! Where server-side logic meets a write: before-triggers run while a
//! write is prepared and may change its data, refuse it, or stage more
//! writes that commit in the same transaction; every committed change
//! appends outbox rows for its listeners (after-triggers, webhooks) in
//! that transaction too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use basalt_core::caller::BoxFuture;
use basalt_core::{Caller, Error, Timestamp};
use basalt_store::outbox::{self, Delivery};
use serde_json::{Map, Value};

use crate::document::{self, Document};
use crate::write::{Op, Operation};
use crate::writer::{CommitFailure, Failure, Write};
use crate::{Access, Documents};

/// The before-triggers of the document store, set once at start by the
/// functions slice.
pub trait BeforeHooks: Send + Sync + 'static {
    /// Whether a trigger listens to `event` (`before_create`,
    /// `before_update`, `before_delete`) of `collection`. In memory: a
    /// write nobody listens to costs one lookup.
    fn listens(&self, collection: &str, event: &'static str) -> bool;

    /// Runs the trigger: the data to write (for creates and updates; `None`
    /// keeps it), or the error that refuses the write.
    fn run(&self, call: BeforeCall) -> BoxFuture<'static, Result<Option<Map<String, Value>>, Error>>;
}

/// What a before-trigger sees.
pub struct BeforeCall {
    pub collection: String,
    pub event: &'static str,
    pub id: String,
    /// The data to write (create, update).
    pub data: Option<Map<String, Value>>,
    /// The stored document as the API shows it (update, delete).
    pub document: Option<Value>,
    pub caller: Caller,
    /// Reads and writes in the write's own transaction.
    pub stage: Stage,
}

/// Writes prepared but not yet committed, with what they leave behind:
/// reads through a stage see them, and they commit together or not at all.
#[derive(Clone)]
pub struct Stage {
    documents: Documents,
    state: Arc<Mutex<Staging>>,
}

#[derive(Default)]
pub(crate) struct Staging {
    /// What the staged writes left, by (collection, id).
    pub pending: HashMap<(String, String), Option<Document>>,
    pub writes: Vec<Write>,
    /// The document whose before-trigger is running: it changes through
    /// `data`, not through the stage.
    pub guarded: Option<(String, String)>,
    /// Outbox rows that commit with the staged writes (enqueued jobs).
    pub outbox: Vec<Delivery>,
}

impl Stage {
    pub(crate) fn new(documents: Documents) -> Stage {
        Stage {
            documents,
            state: Arc::default(),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Staging> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A document as the stage leaves it (staged writes first, then the
    /// store), with a service key's rights.
    pub async fn get(&self, collection: &str, id: &str) -> Result<Option<Document>, Error> {
        document::check_id(id)?;
        let key = (collection.to_owned(), id.to_owned());
        if let Some(state) = self.lock().pending.get(&key) {
            return Ok(state.clone());
        }
        let c = self.documents.collection(collection).await?;
        self.documents.read(&c, id).await
    }

    /// Stages one operation with a service key's rights (rules do not
    /// apply; the schema does; before-triggers do not run again). Returns
    /// the document it leaves (`None` after a delete).
    pub async fn write(&self, mut operation: Operation) -> Result<Option<Document>, Error> {
        if let Op::Create { id: id @ None, .. } = &mut operation.op {
            *id = Some(basalt_core::id::new_id());
        }
        let id = operation.op.id().unwrap_or_default().to_owned();
        document::check_id(&id)?;
        let key = (operation.collection.clone(), id.clone());
        let staged = {
            let state = self.lock();
            if state.guarded.as_ref() == Some(&key) {
                return Err(Error::invalid_argument(
                    "a before-trigger changes the document being written through `data`, not through db",
                ));
            }
            state.pending.get(&key).cloned()
        };
        let c = self.documents.collection(&operation.collection).await?;
        let current = match staged {
            Some(state) => state,
            None => self.documents.read(&c, &id).await?,
        };
        let caller = Caller::Service(Arc::new(basalt_core::caller::ServiceIdentity {
            key_id: "trigger".into(),
            name: "trigger".into(),
        }));
        let access = Access {
            caller: &caller,
            ip: std::net::IpAddr::from([127, 0, 0, 1]),
            method: "POST",
        };
        let (write, outcome) = self
            .documents
            .prepare(&c, &operation, &id, current, &access, Timestamp::now(), None)
            .await?;
        let mut state = self.lock();
        state.pending.insert(key, outcome.document.clone());
        state.writes.push(write);
        Ok(outcome.document)
    }

    /// Adds outbox rows that commit with the staged writes.
    pub fn enqueue(&self, rows: Vec<Delivery>) {
        self.lock().outbox.extend(rows);
    }

    /// The turns (see [`Documents::take_turns`]) of the documents staged
    /// so far, sorted.
    pub fn turns(&self) -> Vec<usize> {
        let mut turns: Vec<usize> = self
            .lock()
            .pending
            .keys()
            .map(|(collection, id)| crate::write::stripe(collection, id))
            .collect();
        turns.sort_unstable();
        turns.dedup();
        turns
    }

    /// Writes staged so far.
    pub fn len(&self) -> usize {
        self.lock().writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Commits the staged writes and marks `claim` done, together: either
    /// both happen or neither. `Ok(false)` when the claim was lost.
    pub async fn commit(self, claim: Option<Arc<dyn outbox::Completion>>) -> Result<bool, Error> {
        let (writes, rows) = {
            let mut state = self.lock();
            (
                std::mem::take(&mut state.writes),
                std::mem::take(&mut state.outbox),
            )
        };
        if writes.is_empty() && rows.is_empty() && claim.is_none() {
            return Ok(true);
        }
        match self
            .documents
            .inner
            .writer
            .commit_completing(writes, claim, rows)
            .await
        {
            Ok(_) => Ok(true),
            Err(CommitFailure {
                failure: Failure::LeaseLost,
                ..
            }) => Ok(false),
            Err(f) => Err(match f.failure {
                Failure::Conflict => Error::new(
                    basalt_core::Code::Aborted,
                    "a document the function wrote changed meanwhile; it runs again",
                ),
                Failure::AlreadyExists | Failure::UniqueIndex => {
                    Error::already_exists("a document the function created exists already")
                }
                Failure::Gone => Error::not_found("a collection the function wrote to was deleted"),
                Failure::Error(e) => e,
                Failure::LeaseLost => unreachable!("matched above"),
            }),
        }
    }
}

/// The event types of document changes: `posts.create`, …
pub(crate) fn event_type(collection: &str, op: &str) -> String {
    format!("{collection}.{op}")
}

/// The outbox rows of one change (none when nobody listens).
pub(crate) fn deliveries(
    db: &basalt_store::Db,
    collection: &str,
    op: &str,
    document: &str,
    previous: Option<&str>,
) -> Vec<Delivery> {
    let directory = db.outbox();
    if directory.is_empty() {
        return Vec::new();
    }
    let event_type = event_type(collection, op);
    let targets = directory.targets(&event_type);
    if targets.is_empty() {
        return Vec::new();
    }
    let id = basalt_core::id::new_id();
    let now = Timestamp::now();
    let mut payload = String::with_capacity(document.len() + previous.map_or(0, str::len) + 128);
    payload.push_str("{\"id\":");
    payload.push_str(&Value::from(id.as_str()).to_string());
    payload.push_str(",\"type\":");
    payload.push_str(&Value::from(event_type.as_str()).to_string());
    payload.push_str(",\"timestamp\":");
    payload.push_str(&Value::from(now.to_string()).to_string());
    payload.push_str(",\"collection\":");
    payload.push_str(&Value::from(collection).to_string());
    payload.push_str(",\"document\":");
    payload.push_str(document);
    payload.push_str(",\"previous\":");
    payload.push_str(previous.unwrap_or("null"));
    payload.push('}');
    Delivery::for_event(&targets, &id, &event_type, payload.into(), now.millis())
}
