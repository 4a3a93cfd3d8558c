//! A query body as `POST /v1/db/{collection}/query` reads it (`where`, `order_by`, `limit`,
//! `after`, `select`), plus documents under `docs`: parsing never panics; the SQL of both
//! dialects numbers its parameters exactly; the in-memory matcher (live queries) and the
//! ordering run on every document; a cursor made for a document decodes to the same position;
//! the order is a total order on the documents given.
#![no_main]

use std::cmp::Ordering;

use basalt_documents::Query;
use basalt_documents::filter::DocumentView;
use basalt_documents::sql::{self, Dialect};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// The `$n` placeholders of `sql`, in order of appearance.
fn placeholders(sql: &str) -> Vec<usize> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > start {
                out.push(sql[start..j].parse().expect("digits"));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let select: Option<Vec<String>> = body.get("select").and_then(|s| serde_json::from_value(s.clone()).ok());
    let Ok(query) = Query::parse(
        body.get("where"),
        body.get("order_by"),
        body.get("limit").and_then(Value::as_u64),
        body.get("after").and_then(Value::as_str),
        select.as_deref(),
    ) else {
        return;
    };
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let first = 3;
        let compiled = sql::compile(&query.filter, dialect, first);
        let mut used = placeholders(&compiled.sql);
        used.sort_unstable();
        used.dedup();
        let expected: Vec<usize> = (first + 1..=first + compiled.params.len()).collect();
        assert_eq!(used, expected, "parameters of {:?}: {}", dialect, compiled.sql);
    }
    let empty = Map::new();
    let docs: Vec<(String, i64, i64, &Map<String, Value>)> = body
        .get("docs")
        .and_then(Value::as_array)
        .map(|docs| {
            docs.iter()
                .enumerate()
                .map(|(i, d)| {
                    let id = d.get("id").and_then(Value::as_str).map_or_else(|| format!("d{i}"), str::to_owned);
                    let created = d.get("created_at").and_then(Value::as_i64).unwrap_or(0);
                    let updated = d.get("updated_at").and_then(Value::as_i64).unwrap_or(created);
                    (id, created, updated, d.get("data").and_then(Value::as_object).unwrap_or(&empty))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut keyed = Vec::new();
    for (id, created_at, updated_at, data) in &docs {
        let view = DocumentView { id, created_at: *created_at, updated_at: *updated_at, data };
        let _ = query.filter.matches(&view);
        let keys = query.order.keys(&view);
        let cursor = query.order.cursor(&keys, id);
        let (back, back_id) = query.order.decode_cursor(&cursor).expect("a cursor the server made decodes");
        assert_eq!(&back_id, id);
        assert_eq!(
            query.order.compare(&(keys.clone(), id), &(back.clone(), &back_id)),
            Ordering::Equal,
            "a cursor keeps its document's position"
        );
        assert!(!query.order.after(&keys, id, &(back, back_id)), "a document is not after its own cursor");
        keyed.push((keys, id.as_str()));
    }
    for a in &keyed {
        for b in &keyed {
            assert_eq!(query.order.compare(a, b), query.order.compare(b, a).reverse(), "order is antisymmetric");
        }
    }
    for a in keyed.iter().take(12) {
        for b in keyed.iter().take(12) {
            for c in keyed.iter().take(12) {
                if query.order.compare(a, b) != Ordering::Greater && query.order.compare(b, c) != Ordering::Greater {
                    assert_ne!(query.order.compare(a, c), Ordering::Greater, "order is transitive");
                }
            }
        }
    }
});
