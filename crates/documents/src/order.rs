//! Ordering and keyset cursors, one semantics for memory and SQL.
//!
//! Each ordered field becomes four sort keys: a type rank (missing <
//! null < booleans < numbers < strings < arrays and objects), then the
//! number, the string (byte order) and the boolean, each NULL unless the
//! value has that type. Arrays and objects tie with each other. Ties are
//! broken by `id`, in the direction of the last ordered field. A cursor
//! holds the last document's keys; the next page starts strictly after it.

use std::cmp::Ordering;

use basalt_core::Error;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::filter::{DocumentView, Field, lookup};
use crate::sql::{Bound, Dialect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub fields: Vec<(Field, Direction)>,
}

/// The sort key of one field of one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub rank: i64,
    pub number: Option<f64>,
    pub string: Option<String>,
    pub boolean: Option<bool>,
}

impl OrderBy {
    /// `[["age", "desc"], ["name", "asc"]]`; at most 8 fields; `id` is the default.
    pub fn parse(value: Option<&Value>) -> Result<OrderBy, Error> {
        let Some(value) = value else {
            return Ok(OrderBy {
                fields: vec![(Field::Id, Direction::Asc)],
            });
        };
        let list = value
            .as_array()
            .ok_or_else(|| Error::invalid_argument("`order_by` is a list of [path, direction]"))?;
        if list.is_empty() || list.len() > 8 {
            return Err(Error::invalid_argument("`order_by` holds 1 to 8 fields"));
        }
        let mut fields = Vec::new();
        for item in list {
            let (path, dir) = match item {
                Value::Array(pair) if pair.len() == 2 => (pair[0].as_str(), pair[1].as_str()),
                Value::String(path) => (Some(path.as_str()), Some("asc")),
                _ => (None, None),
            };
            let (Some(path), Some(dir)) = (path, dir) else {
                return Err(Error::invalid_argument(
                    "each `order_by` entry is [path, \"asc\" | \"desc\"]",
                ));
            };
            let dir = match dir {
                "asc" => Direction::Asc,
                "desc" => Direction::Desc,
                other => return Err(Error::invalid_argument(format!("unknown direction `{other}`"))),
            };
            fields.push((Field::parse(path)?, dir));
        }
        Ok(OrderBy { fields })
    }

    fn tie_direction(&self) -> Direction {
        self.fields.last().map_or(Direction::Asc, |f| f.1)
    }

    /// The keys of a document, then its id.
    pub fn keys(&self, doc: &DocumentView<'_>) -> Vec<Key> {
        self.fields.iter().map(|(field, _)| key_of(field, doc)).collect()
    }

    /// The in-memory order.
    pub fn compare(&self, a: &(Vec<Key>, &str), b: &(Vec<Key>, &str)) -> Ordering {
        for ((ka, kb), (_, dir)) in a.0.iter().zip(&b.0).zip(&self.fields) {
            let o = compare_keys(ka, kb);
            if o != Ordering::Equal {
                return if *dir == Direction::Desc { o.reverse() } else { o };
            }
        }
        let o = a.1.as_bytes().cmp(b.1.as_bytes());
        if self.tie_direction() == Direction::Desc {
            o.reverse()
        } else {
            o
        }
    }

    /// The cursor that continues after a document with these keys.
    pub fn cursor(&self, keys: &[Key], id: &str) -> String {
        let keys: Vec<Value> = keys
            .iter()
            .map(|k| json!([k.rank, k.number, k.string, k.boolean]))
            .collect();
        URL_SAFE_NO_PAD.encode(json!({"k": keys, "id": id}).to_string())
    }

    pub fn decode_cursor(&self, cursor: &str) -> Result<(Vec<Key>, String), Error> {
        let bad = || Error::invalid_argument("`after` is not a cursor of this query");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let id = v.get("id").and_then(Value::as_str).ok_or_else(bad)?.to_owned();
        let keys = v.get("k").and_then(Value::as_array).ok_or_else(bad)?;
        if keys.len() != self.fields.len() {
            return Err(bad());
        }
        let keys = keys
            .iter()
            .map(|k| {
                let k = k.as_array().filter(|k| k.len() == 4).ok_or_else(bad)?;
                Ok(Key {
                    rank: k[0].as_i64().filter(|r| (0..=5).contains(r)).ok_or_else(bad)?,
                    number: if k[1].is_null() {
                        None
                    } else {
                        Some(k[1].as_f64().ok_or_else(bad)?)
                    },
                    string: if k[2].is_null() {
                        None
                    } else {
                        Some(k[2].as_str().ok_or_else(bad)?.to_owned())
                    },
                    boolean: if k[3].is_null() {
                        None
                    } else {
                        Some(k[3].as_bool().ok_or_else(bad)?)
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok((keys, id))
    }

    /// Whether a document comes strictly after the cursor.
    pub fn after(&self, keys: &[Key], id: &str, cursor: &(Vec<Key>, String)) -> bool {
        self.compare(&(keys.to_vec(), id), &(cursor.0.clone(), cursor.1.as_str())) == Ordering::Greater
    }
}

fn key_of(field: &Field, doc: &DocumentView<'_>) -> Key {
    let none = |rank| Key {
        rank,
        number: None,
        string: None,
        boolean: None,
    };
    let value = match field {
        Field::Id => {
            return Key {
                rank: 4,
                number: None,
                string: Some(doc.id.to_owned()),
                boolean: None,
            };
        }
        Field::CreatedAt => {
            return Key {
                rank: 3,
                number: Some(doc.created_at as f64),
                string: None,
                boolean: None,
            };
        }
        Field::UpdatedAt => {
            return Key {
                rank: 3,
                number: Some(doc.updated_at as f64),
                string: None,
                boolean: None,
            };
        }
        Field::Data(path) => lookup(doc.data, path),
    };
    match value {
        None => none(0),
        Some(Value::Null) => none(1),
        Some(Value::Bool(b)) => Key {
            boolean: Some(*b),
            ..none(2)
        },
        Some(Value::Number(n)) => Key {
            number: n.as_f64(),
            ..none(3)
        },
        Some(Value::String(s)) => Key {
            string: Some(s.clone()),
            ..none(4)
        },
        Some(_) => none(5),
    }
}

fn compare_keys(a: &Key, b: &Key) -> Ordering {
    a.rank
        .cmp(&b.rank)
        .then_with(|| a.number.partial_cmp(&b.number).unwrap_or(Ordering::Equal))
        .then_with(|| {
            a.string
                .as_deref()
                .map(str::as_bytes)
                .cmp(&b.string.as_deref().map(str::as_bytes))
        })
        .then_with(|| a.boolean.cmp(&b.boolean))
}

/// SQL for the order and for "after the cursor".
pub struct OrderSql {
    /// `ORDER BY` items (without the keyword).
    pub order_by: String,
    /// A condition that keeps rows strictly after the cursor, if any.
    pub after: Option<String>,
    pub params: Vec<Bound>,
}

/// The four key expressions of a field: type rank, number, string, boolean.
/// A key of another type than the value's is a constant (0, '', false), so
/// within one rank only the value's own key varies, and a filter can pin
/// every key with `=` (which both planners use to order by an index's next
/// columns; `IS NULL` would not do for PostgreSQL). Filters, `ORDER BY` and
/// collection indexes use these very expressions, so the database can match
/// an index to a query. Paths are validated (letters, digits, `_`, `-`), so
/// they are written into the SQL as literals, which index matching needs.
pub fn key_exprs(field: &Field, dialect: Dialect) -> [String; 4] {
    match field {
        Field::Id => ["4".into(), "NULL".into(), "id".into(), "NULL".into()],
        // The bare columns (milliseconds), so an index on them serves both
        // ordering and time filters; cursors bind their keys as integers.
        Field::CreatedAt => ["3".into(), "created_at".into(), "NULL".into(), "NULL".into()],
        Field::UpdatedAt => ["3".into(), "updated_at".into(), "NULL".into(), "NULL".into()],
        Field::Data(path) => match dialect {
            Dialect::Sqlite => {
                let p = path_literal(path, dialect);
                let t = format!("json_type(data, {p})");
                let v = format!("json_extract(data, {p})");
                [
                    format!(
                        "(CASE WHEN {t} IS NULL THEN 0 WHEN {t} = 'null' THEN 1 WHEN {t} IN ('true', 'false') THEN 2 WHEN {t} IN ('integer', 'real') THEN 3 WHEN {t} = 'text' THEN 4 ELSE 5 END)"
                    ),
                    format!("(CASE WHEN {t} IN ('integer', 'real') THEN CAST({v} AS REAL) ELSE 0 END)"),
                    format!("(CASE WHEN {t} = 'text' THEN {v} ELSE '' END)"),
                    format!("(CASE WHEN {t} IN ('true', 'false') THEN {t} = 'true' ELSE 0 END)"),
                ]
            }
            Dialect::Postgres => {
                let args = path_literal(path, dialect);
                let t = format!("jsonb_typeof(jsonb_extract_path(data, {args}))");
                let v = format!("jsonb_extract_path_text(data, {args})");
                [
                    format!(
                        "(CASE WHEN {t} IS NULL THEN 0 WHEN {t} = 'null' THEN 1 WHEN {t} = 'boolean' THEN 2 WHEN {t} = 'number' THEN 3 WHEN {t} = 'string' THEN 4 ELSE 5 END)"
                    ),
                    format!("(CASE WHEN {t} = 'number' THEN ({v})::float8 ELSE 0 END)"),
                    format!("(CASE WHEN {t} = 'string' THEN {v} ELSE '' END) COLLATE \"C\""),
                    format!("(CASE WHEN {t} = 'boolean' THEN {v} = 'true' ELSE false END)"),
                ]
            }
        },
    }
}

impl OrderBy {
    /// `filter` is the query's: where it fixes a field's type, the rank key,
    /// then constant, is left out of `ORDER BY` (SQLite does not see that an
    /// expression pinned by `=` is constant, and would sort instead of
    /// reading the index in order).
    pub fn sql(
        &self,
        dialect: Dialect,
        filter: &crate::filter::Filter,
        cursor: Option<&(Vec<Key>, String)>,
        first: usize,
    ) -> OrderSql {
        let mut params = Vec::new();
        let mut items = Vec::new();
        let mut keys: Vec<(String, Direction)> = Vec::new();
        let mut constant: Vec<bool> = Vec::new();
        for (field, dir) in &self.fields {
            let pinned = match field {
                Field::Data(_) => filter.pinned_rank(field),
                _ => None,
            };
            // Only the rank is left out: the keys after it follow the index's
            // columns, which is what lets the planner read the index in order.
            for (i, e) in key_exprs(field, dialect).into_iter().enumerate() {
                keys.push((e, *dir));
                constant.push(pinned.is_some() && i == 0);
            }
        }
        constant.push(false);
        let id_expr = match dialect {
            Dialect::Sqlite => "id".to_owned(),
            Dialect::Postgres => "id COLLATE \"C\"".to_owned(),
        };
        keys.push((id_expr, self.tie_direction()));
        for ((e, dir), fixed) in keys.iter().zip(&constant) {
            // Constant keys (a field's fixed type rank) add nothing to the order, and
            // a bare number in ORDER BY would name a column.
            if *fixed || e == "NULL" || e.parse::<i64>().is_ok() {
                continue;
            }
            // NULL is the smallest key in both dialects' order here.
            let d = match (dir, dialect) {
                (Direction::Asc, Dialect::Sqlite) => "ASC",
                (Direction::Desc, Dialect::Sqlite) => "DESC",
                (Direction::Asc, Dialect::Postgres) => "ASC NULLS FIRST",
                (Direction::Desc, Dialect::Postgres) => "DESC NULLS LAST",
            };
            // A key already ordered by (`id` then the `id` tie-break) would
            // only make the planner sort.
            if !items.iter().any(|i: &String| i.starts_with(&format!("{e} "))) {
                items.push(format!("{e} {d}"));
            }
        }
        // The cursor's comparison leaves out what cannot decide it: literal
        // keys (an id's or a time's fixed rank, NULL), ranks the filter pins,
        // and a key repeated (the `id` tie-break after ordering by `id`). The
        // cursor came from a row of this same query (it is sealed to it), so
        // those keys are equal on both sides; left in, the disjunction hides
        // the index range from the planner, and a page deep in a collection
        // scans every row before it.
        let plain = |e: &str| e.trim_end_matches(" COLLATE \"C\"").to_owned();
        let keep: Vec<bool> = keys
            .iter()
            .zip(&constant)
            .enumerate()
            .map(|(i, ((e, _), fixed))| {
                let literal = e == "NULL" || e.parse::<i64>().is_ok();
                let repeated = keys[..i].iter().any(|(p, _)| plain(p) == plain(e));
                !(*fixed || literal || repeated)
            })
            .collect();
        let after = cursor.map(|(ckeys, cid)| {
            let mut values: Vec<Option<String>> = Vec::new();
            let mut slot = 0;
            let mut bind = |b: Option<Bound>| {
                let kept = keep[slot];
                slot += 1;
                b.filter(|_| kept).map(|b| {
                    params.push(b);
                    format!("${}", first + params.len())
                })
            };
            for (k, (field, _)) in ckeys.iter().zip(&self.fields) {
                values.push(bind(Some(Bound::Int(k.rank))));
                if let Field::Data(_) = field {
                    // A data field's keys are never NULL: a key of another type is its constant.
                    values.push(bind(Some(Bound::Float(k.number.unwrap_or(0.0)))));
                    values.push(bind(Some(Bound::Text(k.string.clone().unwrap_or_default()))));
                    values.push(bind(Some(Bound::Bool(k.boolean.unwrap_or(false)))));
                } else {
                    values.push(bind(k.number.map(|n| Bound::Int(n as i64))));
                    values.push(bind(k.string.clone().map(Bound::Text)));
                    values.push(bind(k.boolean.map(Bound::Bool)));
                }
            }
            values.push(bind(Some(Bound::Text(cid.clone()))));
            // (k1 > c1) OR (k1 = c1 AND k2 > c2) OR …, with NULL-aware comparisons.
            let kept: Vec<usize> = (0..keys.len()).filter(|&i| keep[i]).collect();
            let mut ors = Vec::new();
            for (n, &i) in kept.iter().enumerate() {
                let mut ands = Vec::new();
                for &j in &kept[..n] {
                    ands.push(same(&keys[j].0, values[j].as_deref()));
                }
                ands.push(beyond(&keys[i].0, values[i].as_deref(), keys[i].1));
                ors.push(format!("({})", ands.join(" AND ")));
            }
            format!("({})", ors.join(" OR "))
        });
        OrderSql {
            order_by: items.join(", "),
            after,
            params,
        }
    }
}

/// A validated data path as SQL: `'$."a"."b"'` for SQLite's JSON functions,
/// `'a', 'b'` for PostgreSQL's `jsonb_extract_path`.
pub fn path_literal(path: &[String], dialect: Dialect) -> String {
    debug_assert!(path.iter().all(|s| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }));
    match dialect {
        Dialect::Sqlite => {
            let quoted: String = path.iter().map(|s| format!(".\"{s}\"")).collect();
            format!("'${quoted}'")
        }
        Dialect::Postgres => path
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// `expr` equals the cursor's value (NULL equals NULL).
fn same(expr: &str, value: Option<&str>) -> String {
    match value {
        None => format!("{expr} IS NULL"),
        Some(v) => format!("{expr} = {v}"),
    }
}

/// `expr` sorts strictly after the cursor's value in `dir` (NULL first when ascending).
fn beyond(expr: &str, value: Option<&str>, dir: Direction) -> String {
    match (value, dir) {
        (None, Direction::Asc) => format!("{expr} IS NOT NULL"),
        (None, Direction::Desc) => "1=0".to_owned(),
        (Some(v), Direction::Asc) => format!("({expr} > {v})"),
        (Some(v), Direction::Desc) => format!("({expr} < {v} OR {expr} IS NULL)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;

    fn after(order: Option<Value>, filter: Value, cursor: Vec<Key>, dialect: Dialect) -> (String, usize) {
        let order = OrderBy::parse(order.as_ref()).unwrap();
        let filter = Filter::parse(&filter).unwrap();
        let sql = order.sql(dialect, &filter, Some(&(cursor, "d42".to_owned())), 0);
        (sql.after.unwrap(), sql.params.len())
    }

    fn id_key() -> Key {
        Key {
            rank: 4,
            number: None,
            string: Some("d42".into()),
            boolean: None,
        }
    }

    #[test]
    fn a_cursor_compares_only_what_decides_the_order() {
        // By id (the default): one range an index seeks, not a disjunction of
        // literal ranks that made a deep page scan every row before it.
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let (sql, params) = after(None, serde_json::json!([]), vec![id_key()], dialect);
            assert!(!sql.contains(" OR "), "{sql}");
            assert!(sql.contains("id") && sql.contains("> $1"), "{sql}");
            assert_eq!(params, 1, "{sql}");
        }
        // By a time: the time, then the id.
        let time = Key {
            rank: 3,
            number: Some(1_700_000_000_000.0),
            string: None,
            boolean: None,
        };
        let (sql, params) = after(
            Some(serde_json::json!([["created_at", "desc"]])),
            serde_json::json!([]),
            vec![time],
            Dialect::Sqlite,
        );
        assert_eq!(
            sql,
            "(((created_at < $1 OR created_at IS NULL)) OR (created_at = $1 AND (id < $2 OR id IS NULL)))"
        );
        assert_eq!(params, 2);
        // Parameters stay numbered from `first` with nothing skipped.
        let order = OrderBy::parse(None).unwrap();
        let sql = order.sql(
            Dialect::Postgres,
            &Filter::parse(&serde_json::json!([])).unwrap(),
            Some(&(vec![id_key()], "d42".to_owned())),
            5,
        );
        assert!(sql.after.unwrap().contains("$6"));
    }
}
