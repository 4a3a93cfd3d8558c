//! What realtime needs from the document store: consistent snapshots tied
//! to a change-feed position, replay of retained changes, read checks for
//! one subscriber, and documents parsed back from the feed.

use std::net::IpAddr;
use std::sync::Arc;

use basalt_core::{Caller, Error, Timestamp};
use basalt_store::{Param, Row};
use serde_json::{Map, Value};

use crate::Documents;
use crate::collections::RuleOp;
use crate::document::{self, Document};
use crate::filter::{DocumentView, Filter};
use crate::order::OrderBy;

/// The collection name of a subscription to every collection (admins only).
pub const ALL_COLLECTIONS: &str = "*";
use crate::sql::{compile, param};
use crate::writer::Change;

pub use crate::document::check_id;

/// Most documents one snapshot returns.
pub const MAX_SNAPSHOT: usize = 5000;
/// Most changes one replay (`resume_from`) returns.
pub const MAX_REPLAY: usize = 10_000;

/// A collection's read rule, resolved once per change.
pub struct ReadCheck {
    collection: String,
    rule: Option<basalt_rules::Rule>,
    always: bool,
}

/// A document with its data parsed, for matching filters and rules.
pub struct Parsed {
    pub doc: Document,
    pub data: Map<String, Value>,
}

impl Parsed {
    /// From a document as the API shows it (the feed's `document`).
    pub fn from_api_json(json: &str) -> Option<Parsed> {
        let mut v: Map<String, Value> = serde_json::from_str(json).ok()?;
        let time = |v: &Value| v.as_str().and_then(Timestamp::parse).map(Timestamp::millis);
        let data = match v.remove("data")? {
            Value::Object(m) => m,
            _ => return None,
        };
        let doc = Document {
            id: v.get("id")?.as_str()?.to_owned(),
            version: v.get("version")?.as_i64()?,
            created_at: time(v.get("created_at")?)?,
            updated_at: time(v.get("updated_at")?)?,
            data: serde_json::to_string(&data).ok()?,
        };
        Some(Parsed { doc, data })
    }

    pub fn matches(&self, filter: &Filter) -> bool {
        filter.matches(&DocumentView {
            id: &self.doc.id,
            created_at: self.doc.created_at,
            updated_at: self.doc.updated_at,
            data: &self.data,
        })
    }
}

fn change_of(r: &Row) -> Result<Change, Error> {
    let op = match r.text(3)?.as_str() {
        "create" => "create",
        "update" => "update",
        _ => "delete",
    };
    Ok(Change {
        seq: r.int(0)?,
        collection: r.text(1)?,
        id: r.text(2)?,
        op,
        document: r.text(4)?.into(),
        previous: r.opt_text(5)?.map(Into::into),
        committed_at: r.int(6)?,
    })
}

impl Documents {
    /// Checks a collection exists (and that the caller could ever read it);
    /// every collection ([`ALL_COLLECTIONS`]) only privileged callers may watch.
    pub async fn check_subscribable(&self, collection: &str, caller: &Caller) -> Result<(), Error> {
        if collection == ALL_COLLECTIONS {
            return if caller.is_privileged() {
                Ok(())
            } else {
                Err(Error::permission_denied(
                    "only admins and service keys may watch every collection",
                ))
            };
        }
        let c = self.collection(collection).await?;
        if !caller.is_privileged() && c.rule(RuleOp::Read).is_none() {
            return Err(crate::denied(&c, RuleOp::Read));
        }
        Ok(())
    }

    /// A collection's `read` rule, looked up once for every subscriber of a change.
    pub async fn read_check(&self, collection: &str) -> ReadCheck {
        let rule = self
            .collection(collection)
            .await
            .ok()
            .and_then(|c| c.rule(RuleOp::Read).cloned());
        ReadCheck {
            collection: collection.to_owned(),
            // `true` needs no evaluation.
            always: rule.as_ref().is_some_and(|r| r.source().trim() == "true"),
            rule,
        }
    }

    /// Whether a subscriber may read a document given as its rule value
    /// (`Document::rule_value`, built once per change for all subscribers);
    /// `auth` is the subscriber's `auth` value, built once per connection.
    pub async fn may_read_value(
        &self,
        check: &ReadCheck,
        doc: &rhai::Dynamic,
        caller: &Caller,
        auth: &rhai::Dynamic,
        ip: &str,
    ) -> bool {
        if caller.is_privileged() || check.always {
            return true;
        }
        let Some(rule) = &check.rule else { return false };
        let request = basalt_rules::request_value("GET", Timestamp::now().millis(), ip, "subscribe");
        let ctx = basalt_rules::RuleContext::new(auth.clone(), request)
            .with_collection(&check.collection)
            .with_doc(doc.clone());
        self.inner.engine.evaluate(rule, &ctx, self).await.allowed
    }

    /// The documents matching `filter` (or the one `doc_id`) that the caller
    /// may read, and the feed position they are current at: every change up
    /// to `seq` is in them, none after it.
    pub async fn snapshot(
        &self,
        collection: &str,
        filter: &Filter,
        doc_id: Option<&str>,
        caller: &Caller,
        ip: IpAddr,
    ) -> Result<(Vec<Document>, i64), Error> {
        let c = self.collection(collection).await?;
        let dialect = self.inner.dialect;
        let w = compile(filter, dialect, 0);
        let order = OrderBy::parse(None)?;
        let o = order.sql(dialect, filter, None, w.params.len());
        let mut params: Vec<Param<'_>> = w.params.iter().chain(&o.params).map(param).collect();
        let mut sql = format!(
            "SELECT id, version, created_at, updated_at, {} FROM \"{}\" WHERE {}",
            self.data_column(),
            c.table,
            w.sql
        );
        if let Some(id) = doc_id {
            document::check_id(id)?;
            sql.push_str(&format!(" AND id = ${}", params.len() + 1));
            params.push(Param::Text(id));
        }
        sql.push_str(&format!(" ORDER BY {} LIMIT {}", o.order_by, MAX_SNAPSHOT + 1));
        let mut tx = self.db().snapshot().await?;
        let seq = tx
            .fetch_optional("SELECT COALESCE(MAX(seq), 0) FROM changes", &[])
            .await?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0);
        let rows = tx
            .fetch_all(&sql, &params)
            .await
            .map_err(|e| crate::gone(e, collection))?;
        drop(tx);
        if rows.len() > MAX_SNAPSHOT {
            return Err(Error::invalid_argument(format!(
                "a snapshot holds at most {MAX_SNAPSHOT} documents; narrow the filter or subscribe without one"
            )));
        }
        // One rule check for every document, as for live changes.
        let check = self.read_check(collection).await;
        let auth = basalt_rules::auth_value(caller);
        let ip = ip.to_string();
        let mut docs = Vec::with_capacity(rows.len());
        for r in &rows {
            let d = Document {
                id: r.text(0)?,
                version: r.int(1)?,
                created_at: r.int(2)?,
                updated_at: r.int(3)?,
                data: r.text(4)?,
            };
            if self
                .may_read_value(&check, &d.rule_value(), caller, &auth, &ip)
                .await
            {
                docs.push(d);
            }
        }
        Ok((docs, seq))
    }

    /// The newest change's `seq` (0 with none).
    pub async fn last_seq(&self) -> Result<i64, Error> {
        Ok(self
            .db()
            .fetch_optional("SELECT COALESCE(MAX(seq), 0) FROM changes", &[])
            .await?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0))
    }

    /// Changes after `seq`, oldest first, at most `limit`.
    pub async fn changes_after(&self, seq: i64, limit: usize) -> Result<Vec<Arc<Change>>, Error> {
        let rows = self
            .db()
            .fetch_all(
                &format!(
                    "SELECT seq, collection, doc_id, op, document, previous, committed_at FROM changes WHERE seq > $1 ORDER BY seq LIMIT {limit}"
                ),
                &[seq.into()],
            )
            .await?;
        rows.iter().map(|r| change_of(r).map(Arc::new)).collect()
    }

    /// Whether every change after `seq` is still retained.
    pub async fn retains_after(&self, seq: i64) -> Result<bool, Error> {
        let row = self
            .db()
            .fetch_optional("SELECT MIN(seq), MAX(seq) FROM changes", &[])
            .await?;
        let (min, max) = match row {
            Some(r) => (r.opt_int(0)?, r.opt_int(1)?),
            None => (None, None),
        };
        Ok(match (min, max) {
            // Nothing retained: whether anything happened after `seq` is unknown.
            (None, _) => false,
            (Some(min), Some(max)) => seq >= min - 1 && seq <= max,
            _ => false,
        })
    }
}
