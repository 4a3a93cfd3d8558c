//! Access rules in Rhai: one sandboxed engine per process, rules compiled
//! once when saved, evaluated against a context (`auth`, `doc`, `data`,
//! `request`, `collection`, `object`) with `now()`, `matches()`, `get()` and
//! `exists()`. A rule allows only by returning `true`; anything else denies.
//!
//! Evaluation never blocks an async worker: when a rule calls `get()` for a
//! document not yet fetched, the run stops, the document is fetched
//! asynchronously, and the (pure) rule runs again with it, at most once per
//! look-up.
#![forbid(unsafe_code)]

mod context;
mod engine;
pub mod explain;
pub mod keywords;
mod playground;

pub use context::{RuleContext, auth_value, doc_value, doc_value_from_text, json_value, request_value};
pub use engine::{CompileError, Decision, Limits, Rule, RuleEngine, eval_guarded};
pub use playground::{RequestFields, Rules, api, context as playground_context};

use basalt_core::caller::BoxFuture;
use serde_json::Value;

/// Reads documents for `get()` / `exists()` in rules; the documents slice
/// implements it. Look-ups bypass rules, as rules need to see what they check.
pub trait DocumentLookup: Send + Sync {
    /// The document as `{id, version, created_at, updated_at, data}` (times
    /// in milliseconds since the epoch), or `None` when there is none.
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, basalt_core::Result<Option<Value>>>;
}

/// The operations a collection rule is written for.
pub const OPERATIONS: [&str; 4] = ["read", "create", "update", "delete"];

/// Finds a stored collection's rule for the playground; the documents slice
/// implements it.
pub trait RuleSource: Send + Sync {
    /// `Err(not_found)` when there is no such collection; `Ok(None)` when the
    /// collection has no rule for `operation` (which denies).
    fn rule<'a>(
        &'a self,
        collection: &'a str,
        operation: &'a str,
    ) -> BoxFuture<'a, basalt_core::Result<Option<Rule>>>;
}

/// What a server without a document store has: no collections, no documents.
pub struct NoDocuments;

impl DocumentLookup for NoDocuments {
    fn get<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, basalt_core::Result<Option<Value>>> {
        Box::pin(async { Ok(None) })
    }
}

impl RuleSource for NoDocuments {
    fn rule<'a>(
        &'a self,
        collection: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, basalt_core::Result<Option<Rule>>> {
        Box::pin(async move {
            Err(basalt_core::Error::not_found(format!(
                "no collection named `{collection}`"
            )))
        })
    }
}
