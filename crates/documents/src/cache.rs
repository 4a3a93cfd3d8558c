//! Recently read and written documents, for one-node (SQLite) deployments,
//! where every write goes through this process's writer.
//!
//! Coherence: the writer drops the keys it is about to write before it
//! commits, and puts the new documents after, each time bumping an epoch
//! under the map's lock. A reader that missed fills the cache only if no
//! commit happened since it started reading, so a slow reader can never put
//! back a document older than one already written.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::document::Document;

/// Bytes the cache holds (documents and their keys) before it starts over.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Documents by table, then id (looked up without allocating a key).
#[derive(Default)]
struct Entries {
    docs: HashMap<String, HashMap<String, Document>>,
    bytes: usize,
    epoch: u64,
}

/// What an entry costs, roughly: its data, its id twice, and the map's share.
fn cost(d: &Document) -> usize {
    d.data.len() + 2 * d.id.len() + 96
}

fn remove(entries: &mut Entries, table: &str, id: &str) {
    if let Some(old) = entries.docs.get_mut(table).and_then(|t| t.remove(id)) {
        entries.bytes -= cost(&old);
    }
}

pub struct DocumentCache {
    enabled: bool,
    entries: Mutex<Entries>,
}

impl DocumentCache {
    pub fn new(enabled: bool) -> DocumentCache {
        DocumentCache {
            enabled,
            entries: Mutex::new(Entries::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cached document, or the epoch to pass to [`DocumentCache::fill`].
    pub fn get(&self, table: &str, id: &str) -> Result<Document, Option<u64>> {
        if !self.enabled {
            return Err(None);
        }
        let entries = self.lock();
        match entries.docs.get(table).and_then(|t| t.get(id)) {
            Some(d) => Ok(d.clone()),
            None => Err(Some(entries.epoch)),
        }
    }

    /// Keeps a document read at `epoch`, unless a commit happened since.
    pub fn fill(&self, table: &str, doc: &Document, epoch: Option<u64>) {
        let Some(epoch) = epoch else { return };
        let mut entries = self.lock();
        if entries.epoch == epoch {
            put(&mut entries, table, doc.clone());
        }
    }

    /// Before a commit: forget what is about to change.
    pub fn forget<'a>(&self, keys: impl Iterator<Item = (&'a str, &'a str)>) {
        if !self.enabled {
            return;
        }
        let mut entries = self.lock();
        for (table, id) in keys {
            remove(&mut entries, table, id);
        }
        entries.epoch += 1;
    }

    /// After a commit: the documents as written (`None` for a delete).
    pub fn committed<'a>(&self, docs: impl Iterator<Item = (&'a str, &'a str, Option<&'a Document>)>) {
        if !self.enabled {
            return;
        }
        let mut entries = self.lock();
        for (table, id, doc) in docs {
            match doc {
                Some(d) => put(&mut entries, table, d.clone()),
                None => remove(&mut entries, table, id),
            }
        }
        entries.epoch += 1;
    }
}

fn put(entries: &mut Entries, table: &str, doc: Document) {
    if entries.bytes + cost(&doc) > MAX_BYTES {
        entries.docs.clear();
        entries.bytes = 0;
    }
    entries.bytes += cost(&doc);
    let docs = match entries.docs.get_mut(table) {
        Some(t) => t,
        None => entries.docs.entry(table.to_owned()).or_default(),
    };
    if let Some(old) = docs.insert(doc.id.clone(), doc) {
        entries.bytes -= cost(&old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(version: i64) -> Document {
        Document {
            id: "d".into(),
            version,
            created_at: 0,
            updated_at: 0,
            data: format!("{{\"v\":{version}}}"),
        }
    }

    #[test]
    fn a_slow_reader_never_puts_back_an_older_document() {
        let cache = DocumentCache::new(true);
        let epoch = cache.get("t", "d").unwrap_err();
        // A write commits while the reader is reading version 1 from the database.
        cache.forget([("t", "d")].into_iter());
        let v2 = doc(2);
        cache.committed([("t", "d", Some(&v2))].into_iter());
        cache.fill("t", &doc(1), epoch);
        assert_eq!(cache.get("t", "d").unwrap().version, 2);
        // After a delete the key stays empty until a fresh read fills it.
        cache.forget([("t", "d")].into_iter());
        cache.committed([("t", "d", None)].into_iter());
        let epoch = cache.get("t", "d").unwrap_err();
        cache.fill("t", &doc(5), epoch);
        assert_eq!(cache.get("t", "d").unwrap().version, 5);
        assert!(DocumentCache::new(false).get("t", "d").unwrap_err().is_none());
    }
}
