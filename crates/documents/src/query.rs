//! Queries and counts: the filter and order compiled to SQL, pages cut by
//! opaque keyset cursors, and read rules applied to every row.

use basalt_core::Error;
use basalt_store::{Param, Row};
use serde_json::{Map, Value};

use crate::collections::{Loaded, RuleOp};
use crate::document::Document;
use crate::filter::{DocumentView, Field, Filter, lookup};
use crate::order::{Key, OrderBy};
use crate::sql::{compile, param};
use crate::{Access, Documents};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;
/// With a read rule, rows looked at for one page before a shorter page is
/// returned with a cursor to continue from.
const SCAN_BOUND: usize = 5000;
/// With a read rule, most documents a count may look at.
pub const COUNT_SCAN_BOUND: usize = 10_000;
const MAX_SELECT: usize = 100;

/// A parsed query.
pub struct Query {
    pub filter: Filter,
    pub order: OrderBy,
    pub limit: usize,
    /// The client's (sealed) cursor.
    pub after: Option<String>,
    pub select: Option<Vec<Vec<String>>>,
}

impl Query {
    pub fn parse(
        filter: Option<&Value>,
        order_by: Option<&Value>,
        limit: Option<u64>,
        after: Option<&str>,
        select: Option<&[String]>,
    ) -> Result<Query, Error> {
        let filter = match filter {
            None | Some(Value::Null) => Filter::And(Vec::new()),
            Some(f) => Filter::parse(f)?,
        };
        let order = OrderBy::parse(order_by)?;
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
            Some(n) => {
                return Err(Error::invalid_argument(format!(
                    "`limit` must be 1 to {MAX_LIMIT}, got {n}"
                )));
            }
        };
        let after = after.map(str::to_owned);
        let select = select
            .map(|paths| {
                if paths.len() > MAX_SELECT {
                    return Err(Error::invalid_argument(format!(
                        "`select` takes at most {MAX_SELECT} paths"
                    )));
                }
                paths
                    .iter()
                    .map(|p| match Field::parse(p)? {
                        Field::Data(path) => Ok(path),
                        _ => Err(Error::invalid_argument(format!(
                            "`select` takes data paths; `{p}` is always in the document"
                        ))),
                    })
                    .collect::<Result<Vec<_>, Error>>()
            })
            .transpose()?;
        Ok(Query {
            filter,
            order,
            limit,
            after,
            select,
        })
    }
}

/// One page of a query.
pub struct Page {
    pub documents: Vec<Document>,
    pub next_cursor: Option<String>,
}

fn document(r: &Row) -> Result<Document, Error> {
    Ok(Document {
        id: r.text(0)?,
        version: r.int(1)?,
        created_at: r.int(2)?,
        updated_at: r.int(3)?,
        data: r.text(4)?,
    })
}

impl Documents {
    /// Rows matching `filter` after `after`, in order, at most `limit`.
    async fn fetch(
        &self,
        c: &Loaded,
        filter: &Filter,
        order: &OrderBy,
        after: Option<&(Vec<Key>, String)>,
        limit: usize,
    ) -> Result<Vec<Document>, Error> {
        let dialect = self.inner.dialect;
        let w = compile(filter, dialect, 0);
        let o = order.sql(dialect, filter, after, w.params.len());
        let mut sql = format!(
            "SELECT id, version, created_at, updated_at, {} FROM \"{}\" WHERE {}",
            self.data_column(),
            c.table,
            w.sql
        );
        if let Some(a) = &o.after {
            sql.push_str(" AND ");
            sql.push_str(a);
        }
        sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", o.order_by));
        let params: Vec<Param<'_>> = w.params.iter().chain(&o.params).map(param).collect();
        let rows = self
            .db()
            .fetch_all(&sql, &params)
            .await
            .map_err(|e| crate::gone(e, &c.def.name))?;
        rows.iter().map(document).collect()
    }

    /// The database's plan for a query's first page (for admins and tests:
    /// shows whether an index serves it).
    pub async fn explain(&self, collection: &str, q: &Query) -> Result<String, Error> {
        let c = self.collection(collection).await?;
        let dialect = self.inner.dialect;
        let w = compile(&q.filter, dialect, 0);
        let o = q.order.sql(dialect, &q.filter, None, w.params.len());
        let prefix = match dialect {
            crate::sql::Dialect::Sqlite => "EXPLAIN QUERY PLAN",
            crate::sql::Dialect::Postgres => "EXPLAIN",
        };
        let sql = format!(
            "{prefix} SELECT id FROM \"{}\" WHERE {} ORDER BY {} LIMIT {}",
            c.table,
            w.sql,
            o.order_by,
            q.limit + 1
        );
        let params: Vec<Param<'_>> = w.params.iter().chain(&o.params).map(param).collect();
        let rows = self.db().fetch_all(&sql, &params).await?;
        let column = match dialect {
            crate::sql::Dialect::Sqlite => 3,
            crate::sql::Dialect::Postgres => 0,
        };
        let lines: Vec<String> = rows.iter().map(|r| r.text(column)).collect::<Result<_, _>>()?;
        Ok(lines.join("\n"))
    }

    pub async fn query(&self, collection: &str, q: &Query, access: &Access<'_>) -> Result<Page, Error> {
        let c = self.collection(collection).await?;
        let key = &self.inner.cursor_key;
        let after = match &q.after {
            Some(sealed) => Some(q.order.decode_cursor(&key.open(sealed, &q.order)?)?),
            None => None,
        };
        let rule = if access.caller.is_privileged() {
            None
        } else {
            Some(
                c.rule(RuleOp::Read)
                    .ok_or_else(|| crate::denied(&c, RuleOp::Read))?,
            )
        };
        let cursor_of = |d: &Document, data: &Map<String, Value>| {
            let view = DocumentView {
                id: &d.id,
                created_at: d.created_at,
                updated_at: d.updated_at,
                data,
            };
            key.seal(&q.order.cursor(&q.order.keys(&view), &d.id), &q.order)
        };
        let Some(rule) = rule else {
            let mut rows = self
                .fetch(&c, &q.filter, &q.order, after.as_ref(), q.limit + 1)
                .await?;
            let more = rows.len() > q.limit;
            rows.truncate(q.limit);
            let next_cursor = match rows.last() {
                Some(last) if more => Some(cursor_of(last, &last.parse_data()?)),
                _ => None,
            };
            return Ok(Page {
                documents: self.project(rows, q)?,
                next_cursor,
            });
        };
        let scope = access.scope("list");
        let mut after = after;
        let mut documents = Vec::new();
        let mut scanned = 0;
        let chunk = (q.limit + 1).clamp(50, 1000);
        // The plain cursor (unsealed) of a document, for the next fetch.
        let plain = |d: &Document| -> Result<(Vec<Key>, String), Error> {
            let data = d.parse_data()?;
            let view = DocumentView {
                id: &d.id,
                created_at: d.created_at,
                updated_at: d.updated_at,
                data: &data,
            };
            Ok((q.order.keys(&view), d.id.clone()))
        };
        loop {
            let rows = self.fetch(&c, &q.filter, &q.order, after.as_ref(), chunk).await?;
            let exhausted = rows.len() < chunk;
            let n = rows.len();
            let mut last_scanned = None;
            for (i, d) in rows.into_iter().enumerate() {
                scanned += 1;
                if self.evaluate(&c, rule, &scope, Some(&d), None).await {
                    documents.push(d);
                    if documents.len() == q.limit {
                        // More rows may follow (the next page may turn out empty if the rule denies them).
                        let more = !exhausted || i + 1 < n;
                        let next_cursor = match documents.last() {
                            Some(last) if more => Some(cursor_of(last, &last.parse_data()?)),
                            _ => None,
                        };
                        return Ok(Page {
                            documents: self.project(documents, q)?,
                            next_cursor,
                        });
                    }
                } else {
                    last_scanned = Some(d);
                    continue;
                }
                last_scanned = None;
            }
            // The last row looked at: the last allowed document, or a denied one after it.
            let last = last_scanned.as_ref().or(documents.last());
            if exhausted || last.is_none() {
                return Ok(Page {
                    documents: self.project(documents, q)?,
                    next_cursor: None,
                });
            }
            let last = last.expect("checked above");
            if scanned >= SCAN_BOUND {
                let next_cursor = Some(cursor_of(last, &last.parse_data()?));
                return Ok(Page {
                    documents: self.project(documents, q)?,
                    next_cursor,
                });
            }
            after = Some(plain(last)?);
        }
    }

    /// Keeps only the `select`ed paths of each document's data.
    fn project(&self, docs: Vec<Document>, q: &Query) -> Result<Vec<Document>, Error> {
        let Some(paths) = &q.select else { return Ok(docs) };
        docs.into_iter()
            .map(|mut d| {
                let data = d.parse_data()?;
                let mut out = Map::new();
                for path in paths {
                    if let Some(v) = lookup(&data, path) {
                        insert(&mut out, path, v.clone());
                    }
                }
                d.data = serde_json::to_string(&out).map_err(Error::internal)?;
                Ok(d)
            })
            .collect()
    }

    pub async fn count(&self, collection: &str, filter: &Filter, access: &Access<'_>) -> Result<u64, Error> {
        let c = self.collection(collection).await?;
        if access.caller.is_privileged() {
            let dialect = self.inner.dialect;
            let w = compile(filter, dialect, 0);
            let sql = format!("SELECT count(*) FROM \"{}\" WHERE {}", c.table, w.sql);
            let params: Vec<Param<'_>> = w.params.iter().map(param).collect();
            let row = self
                .db()
                .fetch_optional(&sql, &params)
                .await
                .map_err(|e| crate::gone(e, &c.def.name))?;
            return Ok(row.map(|r| r.int(0)).transpose()?.unwrap_or(0).max(0) as u64);
        }
        let rule = c
            .rule(RuleOp::Read)
            .ok_or_else(|| crate::denied(&c, RuleOp::Read))?;
        let scope = access.scope("list");
        // By id alone: the cheapest order to walk.
        let order = OrderBy { fields: Vec::new() };
        let mut after: Option<(Vec<Key>, String)> = None;
        let mut count = 0;
        let mut scanned = 0;
        loop {
            let rows = self.fetch(&c, filter, &order, after.as_ref(), 1000).await?;
            let exhausted = rows.len() < 1000;
            for d in &rows {
                scanned += 1;
                if self.evaluate(&c, rule, &scope, Some(d), None).await {
                    count += 1;
                }
            }
            if exhausted {
                return Ok(count);
            }
            if scanned >= COUNT_SCAN_BOUND {
                return Err(Error::invalid_argument(format!(
                    "counting under a read rule looks at most {COUNT_SCAN_BOUND} documents; narrow the filter"
                )));
            }
            let last = rows.last().map(|d| d.id.clone()).unwrap_or_default();
            after = Some((Vec::new(), last));
        }
    }
}

fn insert(out: &mut Map<String, Value>, path: &[String], value: Value) {
    let (last, parents) = path.split_last().expect("paths are never empty");
    let mut at = out;
    for seg in parents {
        let slot = at.entry(seg.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        at = slot.as_object_mut().expect("just made an object");
    }
    at.insert(last.clone(), value);
}
