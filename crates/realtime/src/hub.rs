//! Subscriptions, indexed by collection and document id, and the fan-out of
//! committed changes to them, in commit order.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use basalt_core::Caller;
use basalt_documents::live::{ALL_COLLECTIONS, Parsed, ReadCheck};
use basalt_documents::{Change, Documents, Filter};
use rhai::Dynamic;

use crate::socket::Conn;

/// A subscription's delivery state.
pub enum State {
    /// Registered; its starting point is being read. Changes wait here.
    Pending(Vec<Arc<Change>>),
    /// Delivering every change after `after`.
    Live { after: i64 },
}

pub struct Subscription {
    pub conn: Arc<Conn>,
    /// The client's id for it.
    pub id: String,
    pub collection: String,
    pub doc_id: Option<String>,
    pub filter: Filter,
    pub state: Mutex<State>,
}

#[derive(Default)]
struct Index {
    /// Collection subscriptions (with or without a filter), by collection.
    collections: HashMap<String, Vec<Arc<Subscription>>>,
    /// One-document subscriptions, by (collection, id).
    documents: HashMap<(String, String), Vec<Arc<Subscription>>>,
    /// Subscriptions to every collection (admins' inspectors).
    all: Vec<Arc<Subscription>>,
}

#[derive(Default)]
pub struct Hub {
    index: RwLock<Index>,
}

impl Hub {
    pub fn add(&self, sub: Arc<Subscription>) {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        match &sub.doc_id {
            None if sub.collection == ALL_COLLECTIONS => index.all.push(sub),
            Some(id) => index
                .documents
                .entry((sub.collection.clone(), id.clone()))
                .or_default()
                .push(sub),
            None => index
                .collections
                .entry(sub.collection.clone())
                .or_default()
                .push(sub),
        }
    }

    pub fn remove(&self, sub: &Arc<Subscription>) {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        // Only the one list it is in, dropped once empty (not a sweep of every list).
        match &sub.doc_id {
            None if sub.collection == ALL_COLLECTIONS => index.all.retain(|s| !Arc::ptr_eq(s, sub)),
            Some(id) => {
                let key = (sub.collection.clone(), id.clone());
                if let Some(list) = index.documents.get_mut(&key) {
                    list.retain(|s| !Arc::ptr_eq(s, sub));
                    if list.is_empty() {
                        index.documents.remove(&key);
                    }
                }
            }
            None => {
                if let Some(list) = index.collections.get_mut(&sub.collection) {
                    list.retain(|s| !Arc::ptr_eq(s, sub));
                    if list.is_empty() {
                        index.collections.remove(&sub.collection);
                    }
                }
            }
        }
    }

    /// The subscriptions a change to (collection, id) could concern.
    fn candidates(&self, collection: &str, id: &str) -> Vec<Arc<Subscription>> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Arc<Subscription>> = index.collections.get(collection).cloned().unwrap_or_default();
        out.extend(index.all.iter().cloned());
        if let Some(list) = index.documents.get(&(collection.to_owned(), id.to_owned())) {
            out.extend(list.iter().cloned());
        }
        out
    }

    /// Every subscription's (client id, collection, document id), by connection id.
    pub fn by_connection(&self) -> HashMap<String, Vec<(String, String, Option<String>)>> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let mut out: HashMap<String, Vec<_>> = HashMap::new();
        for sub in index
            .collections
            .values()
            .chain(index.documents.values())
            .flatten()
            .chain(index.all.iter())
        {
            out.entry(sub.conn.id.clone()).or_default().push((
                sub.id.clone(),
                sub.collection.clone(),
                sub.doc_id.clone(),
            ));
        }
        out
    }

    pub fn count(&self) -> usize {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        index.collections.values().map(Vec::len).sum::<usize>()
            + index.documents.values().map(Vec::len).sum::<usize>()
            + index.all.len()
    }

    /// Tells every live subscription that the feed has been delivered up to
    /// `seq` (`checkpoint`), so a subscription that saw nothing of late can
    /// still resume after the changes it skipped are swept. Called by the
    /// feed's tailer between publishes, so every change up to `seq` is queued.
    pub fn checkpoint(&self, seq: i64) {
        let subs: Vec<Arc<Subscription>> = {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            index
                .collections
                .values()
                .chain(index.documents.values())
                .flatten()
                .chain(index.all.iter())
                .cloned()
                .collect()
        };
        for sub in subs {
            let at = match &*sub.state.lock().unwrap_or_else(|e| e.into_inner()) {
                State::Live { after } => seq.max(*after),
                State::Pending(_) => continue,
            };
            sub.conn
                .send(serde_json::json!({"type": "checkpoint", "id": sub.id, "seq": at}).to_string());
        }
    }

    /// Delivers one committed change to every subscription it concerns.
    pub async fn publish(&self, documents: &Documents, change: &Arc<Change>) {
        let subs = self.candidates(&change.collection, &change.id);
        if subs.is_empty() {
            return;
        }
        let event = Event::of(documents, change).await;
        for sub in subs {
            let live = {
                let mut state = sub.state.lock().unwrap_or_else(|e| e.into_inner());
                match &mut *state {
                    State::Pending(waiting) => {
                        waiting.push(change.clone());
                        false
                    }
                    State::Live { after } => change.seq > *after,
                }
            };
            if live && let Some(m) = deliver(documents, &sub, change, &event).await {
                sub.conn.send(m);
            }
        }
    }
}

/// A change, parsed once for all its subscribers.
pub struct Event {
    check: ReadCheck,
    /// The document as it is after the change (`None` after a delete).
    after: Option<(Parsed, Dynamic)>,
    /// The document as it was before (`None` for a create).
    before: Option<(Parsed, Dynamic)>,
}

fn parsed(json: &str) -> Option<(Parsed, Dynamic)> {
    let p = Parsed::from_api_json(json)?;
    let value = p.doc.rule_value();
    Some((p, value))
}

impl Event {
    pub async fn of(documents: &Documents, change: &Change) -> Event {
        let check = documents.read_check(&change.collection).await;
        let (after, before) = match change.op {
            "create" => (parsed(&change.document), None),
            "update" => (
                parsed(&change.document),
                change.previous.as_deref().and_then(parsed),
            ),
            _ => (None, parsed(&change.document)),
        };
        Event { check, after, before }
    }
}

async fn visible(
    documents: &Documents,
    sub: &Subscription,
    check: &ReadCheck,
    p: Option<&(Parsed, Dynamic)>,
    reader: &Reader,
) -> bool {
    match p {
        Some((p, value)) => {
            p.matches(&sub.filter)
                && documents
                    .may_read_value(check, value, &reader.caller, &reader.auth, &reader.ip)
                    .await
        }
        None => false,
    }
}

/// A subscriber's caller and its rule value, as of its last `auth`.
#[derive(Clone)]
pub struct Reader {
    pub caller: Caller,
    pub auth: Dynamic,
    pub ip: String,
}

/// A change as one subscription sees it (a document that enters its view is
/// a `create`, one that leaves it a `delete`), or `None` when it sees nothing.
pub async fn deliver(
    documents: &Documents,
    sub: &Subscription,
    change: &Change,
    event: &Event,
) -> Option<String> {
    let reader = sub.conn.reader();
    let was = visible(documents, sub, &event.check, event.before.as_ref(), &reader).await;
    let is = visible(documents, sub, &event.check, event.after.as_ref(), &reader).await;
    let op = match (was, is) {
        (false, true) => "create",
        (true, true) => "update",
        (true, false) => "delete",
        (false, false) => return None,
    };
    // Written around the stored JSON of the document (for a delete, the last
    // one), which is not parsed again for each subscriber.
    let id = serde_json::to_string(&sub.id).unwrap_or_default();
    let message = format!(
        "{{\"type\":\"change\",\"id\":{id},\"op\":\"{op}\",\"document\":{},\"seq\":{}}}",
        change.document, change.seq
    );
    crate::METRICS.fanout.fetch_add(1, Ordering::Relaxed);
    let since = basalt_core::Timestamp::now().millis() - change.committed_at;
    crate::FANOUT_LATENCY.observe(std::time::Duration::from_millis(since.max(0) as u64));
    Some(message)
}
